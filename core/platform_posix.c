/*
 * The POSIX side of core/core.h's platform interface: clocks, signals for
 * stop and reload, systemd's notification socket, file modes for secrets,
 * getrandom, durable file replacement, the open-file limit, file locks.
 */
#include "core/core.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
platform_on_stop(struct loop *l, loop_signal_cb cb, void *arg)
{
	/* A dead hub connection must be an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (loop_signal(l, SIGTERM, cb, arg) == -1)
		return -1;
	return loop_signal(l, SIGINT, cb, arg);
}

int
platform_on_reload(struct loop *l, loop_signal_cb cb, void *arg)
{
	return loop_signal(l, SIGHUP, cb, arg);
}

void
platform_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (n = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
}

int
platform_secret_exposed(int fd, const char *path, char *what, size_t wlen,
    char *fix, size_t flen)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0)
		return 0;
	snprintf(what, wlen, "%s by group/others (mode %04o)",
	    st.st_mode & (S_IRGRP | S_IROTH) ? "readable" : "accessible",
	    (unsigned)(st.st_mode & 07777));
	snprintf(fix, flen, "chmod 600 %s", path);
	return 1;
}

const char *
platform_signal_name(int signo)
{
	const char *s = strsignal(signo);

	return s != NULL ? s : "signal";
}

int
platform_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		/* GRND_NONBLOCK: a daemon started at early boot gets an error
		 * (callers fall back or refuse), never a hang. */
		ssize_t n = getrandom(p, len, GRND_NONBLOCK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
platform_memzero(void *p, size_t n)
{
	explicit_bzero(p, n);
}

uint64_t
platform_fd_limit(uint64_t cap)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < cap) {
		rlim_t want = rl.rlim_max < cap ? rl.rlim_max : (rlim_t)cap;
		struct rlimit nl = { .rlim_cur = want, .rlim_max = rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &nl) == -1)
			log_warn("raising the open file limit: %s", strerror(errno));
		else
			rl.rlim_cur = want;
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t w = write(fd, c, len);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

int
platform_replace_file(const char *dir, const char *name,
    const struct platform_buf *bufs, size_t n)
{
	char tmp[4096], dst[4096];
	int fd = -1, e;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (write_all(fd, bufs[i].p, bufs[i].len) == -1)
			goto fail_tmp;
	if (fsync(fd) == -1)
		goto fail_tmp;
	if (close(fd) == -1) {
		fd = -1;
		goto fail_tmp;
	}
	fd = -1;
	if (rename(tmp, dst) == -1)
		goto fail_tmp;
	/* The rename itself is durable once the directory is. */
	return platform_dir_sync(dir);
fail_tmp:
	e = errno;
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	errno = e;
	return -1;
}

int
platform_path_expand(const char *path, char *out, size_t outlen)
{
	return (size_t)snprintf(out, outlen, "%s", path) < outlen ? 0 : -1;
}

int
platform_service(int argc, char **argv, int (*run)(int, char **))
{
	fprintf(stderr, "outpost service: Windows' service manager only; here "
	    "outpost runs under systemd (packaging/outpost.service, "
	    "docs/operations.md)\n");
	return 2;
}

int
platform_mkdir(const char *path, unsigned mode)
{
	return mkdir(path, (mode_t)mode);
}

int
platform_private_tmpdir(const char *name, char *out, size_t outlen)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if ((size_t)snprintf(out, outlen, "%s/%s-%u", tmp ? tmp : "/tmp", name,
	    (unsigned)getuid()) >= outlen)
		return -1;
	if (mkdir(out, 0700) == -1 && errno != EEXIST)
		return -1;
	/* Someone else's, or open to others: not ours to use. */
	if (lstat(out, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != getuid() || (st.st_mode & 077) != 0)
		return -1;
	return 0;
}

void *
platform_dl_open(const char *name, char *err, size_t errlen)
{
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL)
		snprintf(err, errlen, "%s", dlerror());
	return h;
}

void *
platform_dl_sym(void *lib, const char *sym)
{
	return dlsym(lib, sym);
}

void
platform_dl_close(void *lib)
{
	dlclose(lib);
}

int
platform_rename(const char *from, const char *to)
{
	return rename(from, to);
}

int
platform_dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

	if (fd == -1)
		return -1;
	if (fsync(fd) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

bool
platform_dir_writable(const char *dir)
{
	return access(dir, W_OK | X_OK) == 0;
}

bool
platform_process_alive(long pid)
{
	return pid > 0 && kill((pid_t)pid, 0) == 0;
}

struct platform_lock {
	int fd;
};

struct platform_lock *
platform_lock(const char *path)
{
	struct platform_lock *l;
	char pid[32];
	int fd, e, n;

	/* flock, not fcntl: an fcntl lock would be dropped when any other
	 * descriptor of the file in this process is closed. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		return NULL;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n ||
	    (l = malloc(sizeof(*l))) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	l->fd = fd;
	return l;
}

void
platform_unlock(struct platform_lock *l)
{
	if (l == NULL)
		return;
	close(l->fd);   /* the lock goes with the descriptor */
	free(l);
}

int
platform_sock_error(os_socket fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 ? err : -1;
}

void
platform_init(int *argc, char ***argv)
{
}
