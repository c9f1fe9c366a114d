/*
 * What the unit tests need from the OS, written once for Linux and
 * Windows (the tests run under Wine too): a fresh temporary directory,
 * removing it, the text a writer puts in a FILE, a file copy, and a
 * file's permissions (the mode on Linux, the same access as an ACL on
 * Windows). Include after <cmocka.h>; static inline so that a test uses
 * what it needs without an extra object file.
 */
#ifndef OUTPOST_UNIT_UTIL_H
#define OUTPOST_UNIT_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _WIN32
#include <windows.h>
#include <sddl.h>
#endif

/* The command a refused secret file's message names. */
#ifdef _WIN32
#define UNIT_SECRET_FIX "icacls"
#else
#define UNIT_SECRET_FIX "chmod 600"
#endif

/* A captured text larger than this is a runaway writer: fail. */
#define UNIT_CAPTURE_MAX (16L << 20)

/*
 * A new directory of our own: TMPDIR (or /tmp) on Linux, %TEMP% on
 * Windows, named outpost-test-NAME-... with '/' as the separator on
 * both (the Windows C runtime takes it), so tests build paths alike.
 */
static inline int
unit_tmpdir(char *out, size_t outlen, const char *name)
{
#ifdef _WIN32
	char tmp[MAX_PATH + 1];
	DWORD n = GetTempPathA(sizeof(tmp), tmp);

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	for (unsigned i = 0; i < 1000; i++) {
		if ((size_t)snprintf(out, outlen, "%soutpost-test-%s-%lu-%u", tmp,
		    name, (unsigned long)GetCurrentProcessId(), i) >= outlen)
			return -1;
		for (char *p = out; *p; p++)
			if (*p == '\\')
				*p = '/';
		if (CreateDirectoryA(out, NULL))
			return 0;
		if (GetLastError() != ERROR_ALREADY_EXISTS)
			return -1;
	}
	return -1;
#else
	const char *tmp = getenv("TMPDIR");

	if ((size_t)snprintf(out, outlen, "%s/outpost-test-%s-XXXXXX",
	    tmp && *tmp ? tmp : "/tmp", name) >= outlen)
		return -1;
	return mkdtemp(out) ? 0 : -1;
#endif
}

/* dir and everything under it (no symlinks are followed: lstat). */
static inline int
unit_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[1024];
	struct stat st;
	int rc = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >=
		    sizeof(p)) {
			rc = -1;
			continue;
		}
#ifdef _WIN32
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
#else
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
#endif
			rc |= unit_rmtree(p);
		else
			rc |= remove(p);
	}
	closedir(d);
	return rmdir(dir) | rc;
}

/* What writer puts in a FILE, as a NUL-terminated string to free(). */
static inline char *
unit_capture(void (*writer)(FILE *))
{
	char path[1024] = "", *buf;
	FILE *f;
	long n;

#ifdef _WIN32
	static unsigned seq;
	char tmp[MAX_PATH + 1];
	DWORD k = GetTempPathA(sizeof(tmp), tmp);

	assert_true(k > 0 && k < sizeof(tmp));
	snprintf(path, sizeof(path), "%soutpost-capture-%lu-%u", tmp,
	    (unsigned long)GetCurrentProcessId(), ++seq);
	f = fopen(path, "w+b");
#else
	f = tmpfile();
#endif
	assert_non_null(f);
	writer(f);
	assert_int_equal(fflush(f), 0);
	n = ftell(f);
	assert_true(n >= 0 && n < UNIT_CAPTURE_MAX);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	assert_int_equal(fclose(f), 0);
	if (*path)
		remove(path);
	return buf;
}

static inline int
unit_copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char buf[8192];
	size_t n;
	int rc = 0;

	if (out == NULL) {
		if (in)
			fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (ferror(in))
		rc = -1;
	fclose(in);
	return fclose(out) != 0 ? -1 : rc;
}

/*
 * A file's permissions as a Unix mode. On Windows the same access as a
 * protected DACL: the owner (this process's user) and SYSTEM get full
 * control (what 0600 means there, and what Wine shows for a 0600 file),
 * and a mode that lets group or others read adds Everyone read
 * (0x1200a9, what Wine shows for 0644). Only
 * the read bits of group/others matter there: the secret-file check
 * looks for read access.
 */
static inline int
unit_file_mode(const char *path, unsigned mode)
{
#ifdef _WIN32
	union { TOKEN_USER tu; BYTE b[SECURITY_MAX_SID_SIZE + 64]; } user;
	PSECURITY_DESCRIPTOR sd = NULL;
	char sddl[400];
	LPSTR me = NULL;
	HANDLE tok;
	DWORD len;
	BOOL ok;

	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		return -1;
	ok = GetTokenInformation(tok, TokenUser, &user, sizeof(user), &len);
	CloseHandle(tok);
	if (!ok || !ConvertSidToStringSidA(user.tu.User.Sid, &me))
		return -1;
	/* SetFileSecurity: Wine ignores SetNamedSecurityInfo's DACL. */
	snprintf(sddl, sizeof(sddl), "D:P(A;;FA;;;SY)(A;;FA;;;%s)%s", me,
	    (mode & 044) ? "(A;;0x1200a9;;;WD)" : "");
	LocalFree(me);
	ok = ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl,
	    SDDL_REVISION_1, &sd, NULL) &&
	    SetFileSecurityA(path, DACL_SECURITY_INFORMATION, sd);
	LocalFree(sd);
	return ok ? 0 : -1;
#else
	return chmod(path, (mode_t)mode);
#endif
}

#endif
