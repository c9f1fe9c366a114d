/*
 * The Windows side of core/core.h's platform interface: clocks, console
 * and service stop/reload through the loop, BCryptGenRandom, durable file
 * replacement (FlushFileBuffers, MoveFileExW with WRITE_THROUGH), the
 * secret-file check as a DACL walk. Paths are UTF-8 in the program and
 * UTF-16 at every Windows call made here. The Service Control Manager
 * side is service_win.c.
 */
#include "core/win_int.h"

#include <aclapi.h>
#include <bcrypt.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <sddl.h>
#include <shellapi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- clocks ---- */

uint64_t
mono_us(void)
{
	static LARGE_INTEGER freq;
	LARGE_INTEGER now;

	if (freq.QuadPart == 0)
		QueryPerformanceFrequency(&freq);   /* fixed at boot */
	QueryPerformanceCounter(&now);
	return (uint64_t)(now.QuadPart / freq.QuadPart) * 1000000u +
	    (uint64_t)(now.QuadPart % freq.QuadPart) * 1000000u /
	    (uint64_t)freq.QuadPart;
}

uint64_t
wall_ms(void)
{
	FILETIME ft;
	ULARGE_INTEGER t;

	GetSystemTimePreciseAsFileTime(&ft);
	t.LowPart = ft.dwLowDateTime;
	t.HighPart = ft.dwHighDateTime;
	/* 100 ns ticks since 1601 -> ms since 1970 */
	return (t.QuadPart - 116444736000000000ull) / 10000u;
}

/* ---- UTF-8 <-> UTF-16 ---- */

wchar_t *
win_wide(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
	wchar_t *w;

	if (n <= 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((w = malloc((size_t)n * sizeof(*w))) == NULL)
		return NULL;
	MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
	return w;
}

int
win_utf8(const wchar_t *w, char *out, size_t outlen)
{
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, out,
	    outlen > INT32_MAX ? INT32_MAX : (int)outlen, NULL, NULL);

	return n > 0 ? 0 : -1;
}

int
win_errno(DWORD e)
{
	switch (e) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:     return ENOENT;
	case ERROR_ACCESS_DENIED:
	case ERROR_SHARING_VIOLATION:  return EACCES;
	case ERROR_DISK_FULL:
	case ERROR_HANDLE_DISK_FULL:   return ENOSPC;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:        return ENOMEM;
	case ERROR_FILENAME_EXCED_RANGE: return ENAMETOOLONG;
	default:                       return EIO;
	}
}

/* ---- stop and reload ---- */

/* Written once by platform_on_stop before any handler can use it; the
 * handlers run on other threads and only call loop_raise(). */
static struct loop *volatile win_loop;
static volatile LONG win_pending_stop;

void
win_raise(int signo)
{
	struct loop *l = win_loop;

	if (l != NULL && loop_raise(l, signo) == 0)
		return;
	/* A service stop before the loop exists: delivered on registration. */
	if (signo != WIN_SIG_RELOAD)
		InterlockedExchange(&win_pending_stop, signo);
}

static BOOL WINAPI
win_console_handler(DWORD type)
{
	switch (type) {
	case CTRL_C_EVENT:
		win_raise(SIGINT);
		return TRUE;
	case CTRL_BREAK_EVENT:
	case CTRL_CLOSE_EVENT:
	case CTRL_LOGOFF_EVENT:
	case CTRL_SHUTDOWN_EVENT:
		win_raise(SIGTERM);
		return TRUE;
	default:
		return FALSE;
	}
}

int
platform_on_stop(struct loop *l, loop_signal_cb cb, void *arg)
{
	LONG pending;

	if (loop_signal(l, SIGTERM, cb, arg) == -1 ||
	    loop_signal(l, SIGINT, cb, arg) == -1)
		return -1;
	win_loop = l;
	SetConsoleCtrlHandler(win_console_handler, TRUE);
	if ((pending = InterlockedExchange(&win_pending_stop, 0)) != 0)
		(void)loop_raise(l, (int)pending);
	return 0;
}

int
platform_on_reload(struct loop *l, loop_signal_cb cb, void *arg)
{
	/* Sent by the service control handler (PARAMCHANGE). */
	return loop_signal(l, WIN_SIG_RELOAD, cb, arg);
}

const char *
platform_signal_name(int signo)
{
	switch (signo) {
	case SIGINT:         return "interrupt (Ctrl+C)";
	case SIGTERM:        return "stop request";
	case WIN_SIG_RELOAD: return "reload request";
	default:             return "event";
	}
}

/* ---- secrets ---- */

static bool
sid_is_well_known(PSID sid, WELL_KNOWN_SID_TYPE type)
{
	return IsWellKnownSid(sid, type) != FALSE;
}

/* The user this process runs as (for a service, its account). */
static PSID
win_process_sid(void)
{
	static union { TOKEN_USER tu; unsigned char buf[256]; } u;
	static bool done;
	HANDLE tok;
	DWORD len;

	if (done)
		return u.tu.User.Sid;
	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		return NULL;
	if (!GetTokenInformation(tok, TokenUser, &u, sizeof(u), &len)) {
		CloseHandle(tok);
		return NULL;
	}
	CloseHandle(tok);
	done = true;
	return u.tu.User.Sid;
}

static void
sid_name(PSID sid, char *out, size_t outlen)
{
	wchar_t name[128], dom[128];
	DWORD nl = countof(name), dl = countof(dom);
	SID_NAME_USE use;
	char n8[256], d8[256];
	LPSTR str = NULL;

	if (LookupAccountSidW(NULL, sid, name, &nl, dom, &dl, &use) &&
	    win_utf8(name, n8, sizeof(n8)) == 0 &&
	    win_utf8(dom, d8, sizeof(d8)) == 0) {
		snprintf(out, outlen, "%s%s%s", d8, d8[0] ? "\\" : "", n8);
		return;
	}
	if (ConvertSidToStringSidA(sid, &str)) {
		snprintf(out, outlen, "%s", str);
		LocalFree(str);
		return;
	}
	snprintf(out, outlen, "an unknown account");
}

/* Whether sid may read a secret: Administrators, SYSTEM, this process's
 * account, or the file's owner (mode 0600's "owner" on POSIX). */
static bool
sid_allowed(PSID sid, PSID owner)
{
	PSID me = win_process_sid();

	return sid_is_well_known(sid, WinBuiltinAdministratorsSid) ||
	    sid_is_well_known(sid, WinLocalSystemSid) ||
	    (me != NULL && EqualSid(sid, me)) ||
	    (owner != NULL && EqualSid(sid, owner));
}

#define WIN_READ_RIGHTS (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | \
                         MAXIMUM_ALLOWED)

int
platform_secret_exposed(int fd, const char *path, char *what, size_t wlen,
    char *fix, size_t flen)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);
	PSECURITY_DESCRIPTOR sd = NULL;
	PSID owner = NULL, me = win_process_sid();
	PACL dacl = NULL;
	LPSTR mestr = NULL;
	char who[300] = "";
	int rc = 0;

	if (h == INVALID_HANDLE_VALUE ||
	    GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION |
	    DACL_SECURITY_INFORMATION, &owner, NULL, &dacl, NULL, &sd) !=
	    ERROR_SUCCESS) {
		errno = EACCES;
		return -1;
	}
	if (dacl == NULL) {
		snprintf(who, sizeof(who), "everyone (no DACL)");
		rc = 1;
	}
	for (DWORD i = 0; rc == 0 && i < dacl->AceCount; i++) {
		ACE_HEADER *ace;
		ACCESS_ALLOWED_ACE *a;

		if (!GetAce(dacl, i, (void **)&ace))
			continue;
		/* Inherit-only entries apply to children, not to this file;
		 * deny entries only take rights away. */
		if (ace->AceType != ACCESS_ALLOWED_ACE_TYPE ||
		    (ace->AceFlags & INHERIT_ONLY_ACE))
			continue;
		a = (ACCESS_ALLOWED_ACE *)ace;
		if ((a->Mask & WIN_READ_RIGHTS) == 0 ||
		    sid_allowed((PSID)&a->SidStart, owner))
			continue;
		sid_name((PSID)&a->SidStart, who, sizeof(who));
		rc = 1;
	}
	LocalFree(sd);
	if (rc == 0)
		return 0;
	snprintf(what, wlen, "readable by %s (its ACL must grant read to "
	    "Administrators, SYSTEM and the service's account only)", who);
	if (me != NULL && ConvertSidToStringSidA(me, &mestr)) {
		snprintf(fix, flen, "icacls \"%s\" /inheritance:r /grant:r "
		    "*S-1-5-32-544:F *S-1-5-18:F *%s:R", path, mestr);
		LocalFree(mestr);
	} else {
		snprintf(fix, flen, "icacls \"%s\" /inheritance:r /grant:r "
		    "*S-1-5-32-544:F *S-1-5-18:F", path);
	}
	return 1;
}

/* ---- random, wiping, limits ---- */

int
platform_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ULONG n = len > 0x40000000u ? 0x40000000u : (ULONG)len;

		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, n,
		    BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

void
platform_memzero(void *p, size_t n)
{
	SecureZeroMemory(p, n);
}

uint64_t
platform_fd_limit(uint64_t cap)
{
	/* Sockets are kernel handles, not CRT descriptors: no limit to raise. */
	return UINT64_MAX;
}

/* ---- files ---- */

static int
win_move(const wchar_t *from, const wchar_t *to, DWORD *err)
{
	if (MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING |
	    MOVEFILE_WRITE_THROUGH))
		return 0;
	*err = GetLastError();
	return -1;
}

int
platform_rename(const char *from, const char *to)
{
	wchar_t *wf = win_wide(from), *wt = win_wide(to);
	DWORD err = ERROR_SUCCESS;
	int rc = -1;

	if (wf != NULL && wt != NULL && (rc = win_move(wf, wt, &err)) == -1)
		errno = win_errno(err);
	free(wf);
	free(wt);
	return rc;
}

int
platform_dir_sync(const char *dir)
{
	return 0;
}

int
platform_replace_file(const char *dir, const char *name,
    const struct platform_buf *bufs, size_t n)
{
	char dst[4096], tmp[4096];
	wchar_t *wdst = NULL, *wtmp = NULL;
	HANDLE h = INVALID_HANDLE_VALUE;
	DWORD err = ERROR_SUCCESS;
	int rc = -1;

	if ((size_t)snprintf(dst, sizeof(dst), "%s\\%s", dir, name) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((wdst = win_wide(dst)) == NULL || (wtmp = win_wide(tmp)) == NULL)
		goto out;
	h = CreateFileW(wtmp, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
	    FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		err = GetLastError();
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = bufs[i].p;
		size_t left = bufs[i].len;

		while (left > 0) {
			DWORD chunk = left > 0x10000000u ? 0x10000000u : (DWORD)left, w;

			if (!WriteFile(h, p, chunk, &w, NULL)) {
				err = GetLastError();
				goto out_tmp;
			}
			p += w;
			left -= w;
		}
	}
	if (!FlushFileBuffers(h)) {
		err = GetLastError();
		goto out_tmp;
	}
	CloseHandle(h);
	h = INVALID_HANDLE_VALUE;
	/* WRITE_THROUGH: returns once the rename is on disk; directories
	 * need no flush of their own here. */
	if (win_move(wtmp, wdst, &err) == -1)
		goto out_tmp;
	rc = 0;
	goto out;
out_tmp:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	h = INVALID_HANDLE_VALUE;
	DeleteFileW(wtmp);
out:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	free(wdst);
	free(wtmp);
	if (rc == -1 && err != ERROR_SUCCESS)
		errno = win_errno(err);
	return rc;
}

int
platform_path_expand(const char *path, char *out, size_t outlen)
{
	wchar_t *w = win_wide(path), buf[4096];
	DWORD n;

	if (w == NULL)
		return -1;
	n = ExpandEnvironmentStringsW(w, buf, countof(buf));
	free(w);
	if (n == 0 || n > countof(buf))
		return -1;
	return win_utf8(buf, out, outlen);
}

int
platform_mkdir(const char *path, unsigned mode)
{
	wchar_t *w = win_wide(path);
	DWORD e;

	if (w == NULL)
		return -1;
	if (CreateDirectoryW(w, NULL)) {
		free(w);
		return 0;
	}
	e = GetLastError();
	free(w);
	errno = e == ERROR_ALREADY_EXISTS ? EEXIST : win_errno(e);
	return -1;
}

int
platform_private_tmpdir(const char *name, char *out, size_t outlen)
{
	wchar_t tmp[MAX_PATH + 1];
	char t8[MAX_PATH * 3];
	DWORD n = GetTempPathW(countof(tmp), tmp);

	/* %TEMP% is the user's own (the profile's ACL); SYSTEM's for a
	 * service. */
	if (n == 0 || n > countof(tmp) || win_utf8(tmp, t8, sizeof(t8)) == -1 ||
	    (size_t)snprintf(out, outlen, "%s%s", t8, name) >= outlen)
		return -1;
	return platform_mkdir(out, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

char *
strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = malloc(len + 1);

	if (d != NULL) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

ssize_t
getline(char **line, size_t *cap, FILE *f)
{
	size_t n = 0;
	int c;

	if (*line == NULL || *cap == 0) {
		free(*line);
		*cap = 128;
		if ((*line = malloc(*cap)) == NULL)
			return -1;
	}
	while ((c = getc(f)) != EOF) {
		if (n + 2 > *cap) {
			char *p = *cap > SIZE_MAX / 2 ? NULL : realloc(*line, *cap * 2);

			if (p == NULL) {
				errno = ENOMEM;
				return -1;
			}
			*line = p;
			*cap *= 2;
		}
		(*line)[n++] = (char)c;
		if (c == '\n')
			break;
	}
	(*line)[n] = '\0';
	return n == 0 ? -1 : (ssize_t)n;
}

void *
platform_dl_open(const char *name, char *err, size_t errlen)
{
	wchar_t *w = win_wide(name);
	HMODULE h;

	if (w == NULL) {
		snprintf(err, errlen, "bad library name");
		return NULL;
	}
	/* Next to outpost.exe (the MSI puts it there), never the current
	 * directory: a planted DLL there must not load. */
	h = LoadLibraryExW(w, NULL, LOAD_LIBRARY_SEARCH_APPLICATION_DIR |
	    LOAD_LIBRARY_SEARCH_SYSTEM32);
	free(w);
	if (h == NULL)
		snprintf(err, errlen, "not found next to outpost.exe (error %lu)",
		    (unsigned long)GetLastError());
	return (void *)h;
}

void *
platform_dl_sym(void *lib, const char *sym)
{
	return (void *)GetProcAddress((HMODULE)lib, sym);
}

void
platform_dl_close(void *lib)
{
	FreeLibrary((HMODULE)lib);
}

bool
platform_dir_writable(const char *dir)
{
	/* The CRT's access() knows only the read-only attribute (and X_OK
	 * is an invalid argument there); the ACL decides at CreateFile. */
	return access(dir, W_OK) == 0;
}

bool
platform_process_alive(long pid)
{
	HANDLE h = pid > 0 ? OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION,
	    FALSE, (DWORD)pid) : NULL;
	DWORD code = 0;
	bool alive;

	if (h == NULL)
		return false;
	alive = GetExitCodeProcess(h, &code) && code == STILL_ACTIVE;
	CloseHandle(h);
	return alive;
}

struct platform_lock {
	HANDLE h;
};

/* Windows locks are mandatory: a locked range cannot be read by anyone
 * else. The lock is on one byte far past the PID, so the next process
 * can still read who holds it. */
#define WIN_LOCK_OFFSET_HIGH 1u   /* 4 GiB: locking past the end is allowed */

struct platform_lock *
platform_lock(const char *path)
{
	OVERLAPPED at = { .OffsetHigh = WIN_LOCK_OFFSET_HIGH };
	OVERLAPPED start = { 0 };
	struct platform_lock *l;
	wchar_t *w;
	HANDLE h;
	DWORD err, done;
	char pid[32];
	int n;

	if ((w = win_wide(path)) == NULL)
		return NULL;
	h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE,
	    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
	    OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE) {
		errno = win_errno(GetLastError());
		return NULL;
	}
	if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
	    0, 1, 0, &at)) {
		err = GetLastError();
		CloseHandle(h);
		errno = err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING ?
		    EWOULDBLOCK : win_errno(err);
		return NULL;
	}
	n = snprintf(pid, sizeof(pid), "%lu\n", (unsigned long)GetCurrentProcessId());
	if (!WriteFile(h, pid, (DWORD)n, &done, &start) || done != (DWORD)n ||
	    SetFilePointer(h, n, NULL, FILE_BEGIN) == INVALID_SET_FILE_POINTER ||
	    !SetEndOfFile(h) || (l = malloc(sizeof(*l))) == NULL) {
		err = GetLastError();
		CloseHandle(h);
		errno = err != ERROR_SUCCESS ? win_errno(err) : ENOMEM;
		return NULL;
	}
	l->h = h;
	return l;
}

void
platform_unlock(struct platform_lock *l)
{
	if (l == NULL)
		return;
	CloseHandle(l->h);   /* Windows releases the lock with the handle */
	free(l);
}

int
platform_sock_error(os_socket fd)
{
	int err = 0, len = (int)sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, (char *)&err, &len) != 0)
		return -1;
	/* Winsock names an ICMP port unreachable on a connected UDP socket
	 * WSAECONNRESET. */
	switch (err) {
	case 0:               return 0;
	case WSAECONNRESET:
	case WSAECONNREFUSED: return ECONNREFUSED;
	case WSAENETUNREACH:  return ENETUNREACH;
	case WSAEHOSTUNREACH: return EHOSTUNREACH;
	default:              return EIO;
	}
}

void
platform_init(int *argc, char ***argv)
{
	int n = 0;
	wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
	char **av;
	WSADATA wsa;

	/* A service has no standard streams (_fileno says -2): leave them. */
	if (_fileno(stdout) >= 0)
		(void)_setmode(_fileno(stdout), _O_BINARY);
	if (_fileno(stderr) >= 0)
		(void)_setmode(_fileno(stderr), _O_BINARY);
	SetConsoleOutputCP(CP_UTF8);
	/* For net-snmp, which opens sockets before any loop exists. */
	(void)WSAStartup(MAKEWORD(2, 2), &wsa);
	if (w == NULL || n < 1 || (av = calloc((size_t)n + 1, sizeof(*av))) == NULL)
		return;   /* keep the CRT's ANSI arguments */
	for (int i = 0; i < n; i++) {
		char buf[32768];

		if (win_utf8(w[i], buf, sizeof(buf)) == -1 ||
		    (av[i] = strdup(buf)) == NULL) {
			free(av);   /* what was copied stays: argv lives as long */
			LocalFree(w);
			return;
		}
	}
	LocalFree(w);
	*argc = n;
	*argv = av;
}
