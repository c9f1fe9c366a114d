/*
 * core: what every other module stands on. One event loop that owns all
 * I/O, timers and signals; logging with per-target complaint throttling;
 * address/range parsing; a token-bucket rate limiter; small helpers.
 */
#ifndef OUTPOST_CORE_H
#define OUTPOST_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
/* The socket API's headers, for every module: they differ by platform. */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
/* A socket as the OS names it: a SOCKET handle on Windows (not a small
 * int, and not an index), a file descriptor elsewhere. */
typedef SOCKET os_socket;
#define OS_SOCKET_NONE INVALID_SOCKET
/* POSIX names the Windows C runtime lacks: open(2) flags with no meaning
 * there (no terminals, no blocking regular files, no symlinks in our
 * paths), strndup and getline (platform_win.c). */
#define O_CLOEXEC  _O_NOINHERIT
#define O_NOCTTY   0
#define O_NONBLOCK 0
#define O_NOFOLLOW 0
#define lstat(path, st) stat(path, st)   /* no symlinks in our paths */
char *strndup(const char *, size_t);
ssize_t getline(char **, size_t *, FILE *);
#else
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
typedef int os_socket;
#define OS_SOCKET_NONE (-1)
#define O_BINARY 0   /* Windows' open(2) flag: no text-mode translation */
#endif

#define OUTPOST_VERSION "0.1.0"

#define countof(a) (sizeof(a) / sizeof((a)[0]))

/* printf-style checking: mingw's gcc checks plain "printf" against the
 * old Microsoft runtime (no %zu); we print through the C99 one. */
#if defined(_WIN32) && defined(__GNUC__) && !defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#endif

/* ---- event loop (loop.c; I/O backend loop_epoll.c or loop_wsapoll.c) --
 * The generic part (timers, callbacks, which sockets are registered) is
 * loop.c; the backend that waits for I/O is chosen at build time. */

#define LOOP_READ  1
#define LOOP_WRITE 2
/* Only in what a callback is given, with READ or WRITE: the socket has a
 * pending error (EPOLLERR, POLLERR), e.g. a UDP socket's ICMP refusal. */
#define LOOP_ERROR 4

struct loop;
typedef void (*loop_io_cb)(struct loop *, os_socket fd, int events, void *arg);
typedef void (*loop_signal_cb)(struct loop *, int signo, void *arg);

/* Timers are owned by the caller (intrusive), so arming never allocates
 * per event; the loop keeps them in a binary heap. */
struct loop_timer;
typedef void (*loop_timer_cb)(struct loop *, struct loop_timer *, void *arg);
struct loop_timer {
	uint64_t      when_ms;  /* absolute, loop_now_ms() clock */
	uint64_t      seq;      /* arm order: a pass runs only earlier ones */
	size_t        heap_idx; /* SIZE_MAX when not armed */
	loop_timer_cb cb;
	void         *arg;
};

struct loop *loop_new(void);
void loop_free(struct loop *);
/* Register, change or remove interest in a socket (on POSIX any fd).
 * events: LOOP_READ|LOOP_WRITE. A socket removed by a callback is not
 * reported to later callbacks of the same pass. At most LOOP_MAX_IO. */
#define LOOP_MAX_IO (1u << 20)
int  loop_io_set(struct loop *, os_socket fd, int events, loop_io_cb, void *arg);
void loop_io_del(struct loop *, os_socket fd);
void loop_timer_init(struct loop_timer *, loop_timer_cb, void *arg);
void loop_timer_arm(struct loop *, struct loop_timer *, uint64_t delay_ms);
void loop_timer_disarm(struct loop *, struct loop_timer *);
bool loop_timer_armed(const struct loop_timer *);
/* Deliver signo through the loop, never in a handler: POSIX signals by
 * signalfd; on Windows only what loop_raise() sends (the platform layer
 * raises console and service control events this way). */
int  loop_signal(struct loop *, int signo, loop_signal_cb, void *arg);
/* Ask the loop to deliver signo; safe from any thread. 0 or -1. */
int  loop_raise(struct loop *, int signo);
/* Runs until loop_stop() or until nothing (fd, timer) is left. */
int  loop_run(struct loop *);
void loop_stop(struct loop *);
uint64_t loop_now_ms(struct loop *);   /* cached monotonic ms, per iteration */
uint64_t mono_ms(void);                /* monotonic clock, uncached */
uint64_t wall_ms(void);                /* Unix time in milliseconds */
uint64_t mono_us(void);

/* ---- platform (platform_posix.c, platform_win.c) ---------------------
 * What differs between operating systems, and nothing else: the rest of
 * the code calls these and never an OS interface of its own (the loop's
 * I/O backends are the other platform files). docs/windows.md. */

#ifdef _WIN32
/* Both expanded where they are used (platform_path_expand): the config
 * path by service_win.c, state_dir (default or not) by config_load, so
 * a ProgramData elsewhere than C: is found. */
#define PLATFORM_DEFAULT_CONFIG    "%ProgramData%\\Outpost\\outpost.ini"
#define PLATFORM_DEFAULT_STATE_DIR "%ProgramData%\\Outpost\\state"
#else
#define PLATFORM_DEFAULT_CONFIG    "/etc/outpost/outpost.ini"
#define PLATFORM_DEFAULT_STATE_DIR "/var/lib/outpost"
#endif
/* First thing in main(): on Windows the arguments as UTF-8 (from the
 * UTF-16 command line, not the ANSI code page), stdout and stderr in
 * binary mode (output byte-equal to Linux's: \n, not \r\n), a UTF-8
 * console, Winsock started. Nothing elsewhere. */
void platform_init(int *argc, char ***argv);
/* "Stop" (SIGTERM, SIGINT; a service stop or shutdown, Ctrl+C) and
 * "reload" (SIGHUP; a service PARAMCHANGE control) arrive through the
 * loop; signo is what platform_signal_name() names. */
int  platform_on_stop(struct loop *, loop_signal_cb, void *arg);
int  platform_on_reload(struct loop *, loop_signal_cb, void *arg);
/* What stop or reload event signo is, for a log line ("Terminated",
 * "service stop"); never NULL. */
const char *platform_signal_name(int signo);
/* Tell the service manager: "READY=1", "RELOADING=1", "STOPPING=1"
 * (systemd's sd_notify protocol when NOTIFY_SOCKET is set; the Service
 * Control Manager's states on Windows; else nothing). */
void platform_notify(const char *state);
/* A secret file must be readable by its owner only (mode 0600 here; on
 * Windows a DACL granting read to nobody but Administrators, SYSTEM and
 * the owner). 0 if so; 1 with what is wrong ("readable by group/others
 * (mode 0644)") and the fix ("chmod 600 PATH") for the caller's message;
 * -1 if fd cannot be examined. */
int  platform_secret_exposed(int fd, const char *path, char *what, size_t wlen,
                             char *fix, size_t flen);
/* len bytes from the OS's random generator (getrandom, BCryptGenRandom),
 * never blocking after boot. 0, or -1 (errno). */
int  platform_random(void *buf, size_t len);
/* Wipes n bytes in a way the compiler keeps (explicit_bzero,
 * SecureZeroMemory). */
void platform_memzero(void *p, size_t n);
/* Raises the soft open-file limit towards the hard one, to at most cap;
 * the limit then in force, UINT64_MAX if none, 0 if unknown. Sockets on
 * Windows have no such limit. */
uint64_t platform_fd_limit(uint64_t cap);
/* Replaces dir/name with the concatenation of n buffers, durably: a temp
 * file (name.tmp) written and flushed to disk, renamed over name, and the
 * rename made durable (fsync of dir; MOVEFILE_WRITE_THROUGH). A crash
 * leaves the old or the new content, never a mix. 0 or -1 (errno). */
struct platform_buf { const void *p; size_t len; };
int  platform_replace_file(const char *dir, const char *name,
                           const struct platform_buf *, size_t n);
/* rename(2) over an existing file, durable on Windows (MoveFileExW
 * REPLACE_EXISTING | WRITE_THROUGH); 0 or -1 (errno). */
int  platform_rename(const char *from, const char *to);
/* Makes renames and deletions in dir durable (fsync of the directory;
 * nothing to do on Windows, where MoveFileExW wrote through). */
int  platform_dir_sync(const char *dir);
/* The socket's pending error, cleared by reading it (SO_ERROR): 0 if
 * none, an errno value (ICMP port unreachable is ECONNREFUSED on every
 * platform), -1 if it cannot be read. */
int  platform_sock_error(os_socket fd);
/* Whether this user may create files in dir (access W_OK|X_OK). */
bool platform_dir_writable(const char *dir);
/* Whether process pid exists (kill(pid, 0); OpenProcess). */
bool platform_process_alive(long pid);
/* An exclusive lock on the file path (created mode 0600 if missing),
 * held until platform_unlock() or the process's end: an OS lock (flock;
 * LockFileEx), so a process killed with SIGKILL leaves nothing stale.
 * The holder writes its PID into the file (which stays readable to
 * others) for the next one's message. The lock, or NULL with errno
 * (EWOULDBLOCK: another process holds it). */
struct platform_lock;
struct platform_lock *platform_lock(const char *path);
void platform_unlock(struct platform_lock *);
/* mkdir(2): 0, or -1 with errno (EEXIST when it exists). On Windows mode
 * is not used: the directory inherits its parent's ACL. */
int  platform_mkdir(const char *path, unsigned mode);
/* A directory for this program's scratch files that only this user can
 * use ($TMPDIR/NAME-UID, checked to be ours and mode 0700; the user's
 * %TEMP%\NAME), created if missing. 0, or -1: use none. */
int  platform_private_tmpdir(const char *name, char *out, size_t outlen);
/* Shared libraries loaded at run time (dlopen; LoadLibraryExW searching
 * the program's directory and System32 only, never the current one).
 * NULL with the reason in err. */
#ifdef _WIN32
#define PLATFORM_LIBCURL "libcurl-4.dll"
#else
#define PLATFORM_LIBCURL "libcurl.so.4"
#endif
void *platform_dl_open(const char *name, char *err, size_t errlen);
void *platform_dl_sym(void *lib, const char *sym);
void  platform_dl_close(void *lib);
/* Copies path to out with %VAR% environment references expanded (Windows;
 * elsewhere a plain copy). 0, or -1 if it does not fit. */
int  platform_path_expand(const char *path, char *out, size_t outlen);

/* `outpost service install|uninstall|start|stop|run` (service_win.c: the
 * Service Control Manager; run is what the SCM starts and calls run, the
 * agent's `run` command, on the service thread). Elsewhere a message
 * naming systemd. An exit status. */
int  platform_service(int argc, char **argv, int (*run)(int, char **));

/* ---- intrusive tail queues (the shape of BSD sys/queue.h's TAILQ, which
 * mingw lacks; our own names so they never meet a system header's)
 * A head has first and a pointer to the last element's next; an entry
 * has next and a pointer to the previous element's next. */
#define TQ_HEAD(name, type) \
	struct name { struct type *tqh_first; struct type **tqh_last; }
#define TQ_ENTRY(type) \
	struct { struct type *tqe_next; struct type **tqe_prev; }
#define TQ_INIT(h) do { \
	(h)->tqh_first = NULL; (h)->tqh_last = &(h)->tqh_first; } while (0)
#define TQ_FIRST(h)         ((h)->tqh_first)
#define TQ_EMPTY(h)         ((h)->tqh_first == NULL)
#define TQ_NEXT(e, f)       ((e)->f.tqe_next)
/* The element before e: its next field is what tqe_prev points to, and
 * that next field sits at the start of its entry, like the head's. */
#define TQ_PREV(e, hn, f)   (*(((struct hn *)((e)->f.tqe_prev))->tqh_last))
#define TQ_LAST(h, hn)      (*(((struct hn *)((h)->tqh_last))->tqh_last))
#define TQ_FOREACH(v, h, f) \
	for ((v) = TQ_FIRST(h); (v) != NULL; (v) = TQ_NEXT(v, f))
#define TQ_FOREACH_REVERSE(v, h, hn, f) \
	for ((v) = TQ_LAST(h, hn); (v) != NULL; (v) = TQ_PREV(v, hn, f))
#define TQ_INSERT_TAIL(h, e, f) do { \
	(e)->f.tqe_next = NULL; (e)->f.tqe_prev = (h)->tqh_last; \
	*(h)->tqh_last = (e); (h)->tqh_last = &(e)->f.tqe_next; } while (0)
#define TQ_REMOVE(h, e, f) do { \
	if ((e)->f.tqe_next != NULL) \
		(e)->f.tqe_next->f.tqe_prev = (e)->f.tqe_prev; \
	else \
		(h)->tqh_last = (e)->f.tqe_prev; \
	*(e)->f.tqe_prev = (e)->f.tqe_next; } while (0)

/* ---- logging (log.c) ------------------------------------------------- */

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *ident, enum log_level, bool daemon_style);
void log_set_level(enum log_level);
/* Send each line (the message alone, no prefix) to sink instead of
 * stderr: the Windows Event Log. NULL: back to stderr. */
void log_set_sink(void (*sink)(enum log_level, const char *msg));
enum log_level log_get_level(void);
int  log_level_parse(const char *s);   /* -1 if unknown */
const char *log_level_name(enum log_level);
void log_msg(enum log_level, const char *fmt, ...)
	PRINTF_LIKE(2, 3);
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * Complaint throttling for repeated failures of one target (after
 * collectd's c_complain): the first failure is logged, then the gap
 * between lines doubles up to a cap; one line on recovery.
 */
struct complain {
	uint64_t next_ms;      /* earliest time the next line may be logged */
	uint64_t gap_ms;       /* current gap; 0 = not failing */
	unsigned suppressed;   /* lines held back since the last one logged */
};
#define COMPLAIN_FIRST_GAP_MS 60000ull
#define COMPLAIN_MAX_GAP_MS   86400000ull
/* Returns true if the line was logged. */
bool log_complain(struct complain *, uint64_t now_ms, enum log_level,
                  const char *fmt, ...) PRINTF_LIKE(4, 5);
/* Logs once (at INFO) if the target was failing; resets the state. */
bool log_release(struct complain *, const char *fmt, ...)
	PRINTF_LIKE(2, 3);

/* ---- addresses and ranges (net.c) ------------------------------------ */

/* An inclusive IPv4 range (CIDR, a.b.c.d-e, a.b.c.d-w.x.y.z or single),
 * or one IPv6 address (family AF_INET6, first == last == 0). */
struct net_range {
	int             family;
	uint32_t        first, last;   /* host byte order, IPv4 only */
	struct in6_addr addr6;
};
#define NET_RANGE_MAX_ADDRS (1u << 20)   /* a /12: refuse larger scans */

/* Parse one target. 0 on success; -1 with a message in err. */
int  net_range_parse(const char *s, struct net_range *, char *err, size_t errlen);
uint64_t net_range_count(const struct net_range *);
bool net_range_contains(const struct net_range *, const struct sockaddr_storage *);
/* Parse "HOST[:PORT]", "[v6]:PORT"; host is copied to host (no brackets). */
int  net_hostport_parse(const char *s, char *host, size_t hostlen,
                        unsigned *port, char *err, size_t errlen);
void net_ipv4_str(uint32_t host_order, char *buf, size_t len);

/* ---- rate limiting (ratelimit.c) ------------------------------------- */

struct ratelimit {
	double   rate;      /* tokens per second; 0 = unlimited */
	double   burst;     /* bucket size */
	double   tokens;
	uint64_t last_us;
};
void ratelimit_init(struct ratelimit *, double rate, double burst, uint64_t now_us);
/* 0 if a token was taken, else microseconds until one is available. */
uint64_t ratelimit_take(struct ratelimit *, uint64_t now_us);

/* ---- parsing helpers (util.c) ---------------------------------------- */

/* "500ms", "30s", "5m", "1h", "2d"; a bare number is seconds. */
int parse_duration_ms(const char *s, uint64_t *out_ms);
/* "512", "64KB", "256MB", "1GB" (powers of 1024; KiB/MiB accepted). */
int parse_size(const char *s, uint64_t *out);
/* Strict base-10 integer in [min, max]. */
int parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* mkdir -p; every missing directory gets mode. 0 or -1 (errno). */
int   mkdir_p(const char *path, unsigned mode);
void *xcalloc(size_t n, size_t size);   /* aborts on OOM: start-up only */
char *xstrdup(const char *);
/* Wipe then free a secret string. */
void secret_free(char *);

/* ---- strict UTF-8, RFC 3629 (utf8.c) ------------------------------ */

/* Length (1-4) of the valid sequence at s, its code point in *cp (may be
 * NULL); 0 if s starts an invalid one (overlong, surrogate, > U+10FFFF,
 * truncated) or n is 0. */
size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);
/* Whether n bytes are valid UTF-8; else the offset of the first bad byte. */
bool   utf8_valid(const void *s, size_t n, size_t *bad);
/* A malloc'd NUL-terminated copy of n bytes, each invalid byte replaced
 * by U+FFFD; length in *outlen, replacements in *fixed; NULL: no memory. */
char  *utf8_fixed_copy(const void *s, size_t n, size_t *outlen, size_t *fixed);
/* Makes the C string in s (a buffer of size bytes) valid UTF-8: each
 * invalid byte becomes U+FFFD, cut at a character boundary to fit.
 * Returns how many bytes were replaced (0: s was valid, unchanged). */
size_t utf8_repair(char *s, size_t size);

/* ---- JSON read exactly (json.c) ------------------------------------ */

struct cJSON;
/* Checks JSON text that cJSON parsed into tree (NULL: check the text
 * only, to say why cJSON refused it): RFC 8259 grammar, strict
 * UTF-8, no unpaired surrogate escapes, no \u0000. Integer literals of
 * more than 15 digits become cJSON_Raw nodes holding their digits, so the
 * tree prints them back exactly (a double does not hold 2^64-1). 0, or
 * -1 with a message naming the byte offset and the path (rows.1[2]). */
int  json_exact(const char *s, size_t len, struct cJSON *tree, char *err,
                size_t errlen);
/* cJSON parse then json_exact(); NULL with a message. */
struct cJSON *json_parse_exact(const char *s, size_t len, char *err,
                               size_t errlen);
/* The integer value of a top-level member of a JSON object, read from
 * the text up to it (so also from a document that is invalid after it). */
bool json_top_int(const char *s, size_t len, const char *key, int64_t *out);
/* An integer in [min, max] held exactly by a number or a raw node. */
bool json_int_exact(const struct cJSON *, int64_t min, int64_t max,
                    int64_t *out);

#endif
