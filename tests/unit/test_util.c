/*
 * Unit tests for core/util.c: durations, sizes, integers, allocation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/core.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifdef UNDER_ASAN
/* Let calloc() fail as it would in production, so that xcalloc()'s own
 * out-of-memory path is what test_oom_aborts sees (ASan's documented
 * hook for default options). */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

#define SENTINEL 0x5a5a5a5a5a5a5a5aull

/* For messages: some cases pass NULL on purpose. */
static const char *
show(const char *s)
{
	return s != NULL ? s : "(null)";
}

static void
assert_duration(const char *s, uint64_t ms)
{
	uint64_t v = SENTINEL;

	if (parse_duration_ms(s, &v) != 0)
		fail_msg("duration '%s' refused", s);
	if (v != ms)
		fail_msg("duration '%s': expected %llu ms, got %llu", s,
		    (unsigned long long)ms, (unsigned long long)v);
}

static void
assert_duration_bad(const char *s)
{
	uint64_t v = SENTINEL;

	if (parse_duration_ms(s, &v) != -1)
		fail_msg("duration '%s' accepted as %llu ms", show(s),
		    (unsigned long long)v);
	if (v != SENTINEL)
		fail_msg("duration '%s': output written on failure",
		    show(s));
}

static void
test_duration(void **state)
{
	(void)state;
	assert_duration("500ms", 500);
	assert_duration("30s", 30000);
	assert_duration("5m", 300000);
	assert_duration("1h", 3600000);
	assert_duration("2d", 172800000);
	/* A bare number is seconds. */
	assert_duration("45", 45000);
	assert_duration("0", 0);
	assert_duration("0ms", 0);
	assert_duration("1ms", 1);
	assert_duration("007s", 7000);
	/* Up to 100 years (of 365 days). */
	assert_duration("36500d", 36500ull * 86400000);
	assert_duration("3153600000000ms", 3153600000000ull);
	assert_duration("3153600000", 3153600000000ull);
}

static void
test_duration_bad(void **state)
{
	(void)state;
	assert_duration_bad(NULL);
	assert_duration_bad("");
	assert_duration_bad("-5s");
	assert_duration_bad("+5s");
	assert_duration_bad("1.5s");
	assert_duration_bad(".5s");
	assert_duration_bad("5 s");
	assert_duration_bad(" 5s");
	assert_duration_bad("5s ");
	assert_duration_bad("5s\n");
	assert_duration_bad("5sec");
	assert_duration_bad("5S");
	assert_duration_bad("5M");
	assert_duration_bad("5H");
	assert_duration_bad("5w");
	assert_duration_bad("5us");
	assert_duration_bad("s");
	assert_duration_bad("ms");
	assert_duration_bad("5m5s");
	assert_duration_bad("5ms5");
	assert_duration_bad("0x10");
	assert_duration_bad("1e3");
	/* Overflow and beyond 100 years. */
	assert_duration_bad("36501d");
	assert_duration_bad("3153600000001ms");
	assert_duration_bad("3153600001");
	assert_duration_bad("18446744073709551615ms");
	assert_duration_bad("18446744073709551616ms");
	assert_duration_bad("99999999999999999999999999999999d");
	assert_duration_bad("213503982334601d");
}

static void
assert_size(const char *s, uint64_t bytes)
{
	uint64_t v = SENTINEL;

	if (parse_size(s, &v) != 0)
		fail_msg("size '%s' refused", s);
	if (v != bytes)
		fail_msg("size '%s': expected %llu, got %llu", s,
		    (unsigned long long)bytes, (unsigned long long)v);
}

static void
assert_size_bad(const char *s)
{
	uint64_t v = SENTINEL;

	if (parse_size(s, &v) != -1)
		fail_msg("size '%s' accepted as %llu", show(s),
		    (unsigned long long)v);
	if (v != SENTINEL)
		fail_msg("size '%s': output written on failure", show(s));
}

static void
test_size(void **state)
{
	(void)state;
	assert_size("512", 512);
	assert_size("0", 0);
	assert_size("512B", 512);
	assert_size("512b", 512);
	assert_size("64K", 64 * 1024);
	assert_size("64k", 64 * 1024);
	assert_size("64KB", 64 * 1024);
	assert_size("64kb", 64 * 1024);
	assert_size("64KiB", 64 * 1024);
	assert_size("64kib", 64 * 1024);
	assert_size("256M", 256ull << 20);
	assert_size("256MB", 256ull << 20);
	assert_size("256MiB", 256ull << 20);
	assert_size("256mb", 256ull << 20);
	assert_size("1G", 1ull << 30);
	assert_size("1GB", 1ull << 30);
	assert_size("1GiB", 1ull << 30);
	assert_size("1gib", 1ull << 30);
	assert_size("18446744073709551615", UINT64_MAX);
	assert_size("17179869183GB", UINT64_MAX - (1ull << 30) + 1);
}

static void
test_size_bad(void **state)
{
	(void)state;
	assert_size_bad(NULL);
	assert_size_bad("");
	assert_size_bad("-1");
	assert_size_bad("+1");
	assert_size_bad("1.5MB");
	assert_size_bad("1 MB");
	assert_size_bad(" 1MB");
	assert_size_bad("1MB ");
	assert_size_bad("MB");
	assert_size_bad("B");
	assert_size_bad("1TB");
	assert_size_bad("1KBB");
	assert_size_bad("1iB");
	assert_size_bad("1KI");
	assert_size_bad("1MBs");
	assert_size_bad("0x100");
	assert_size_bad("1e6");
	assert_size_bad("18446744073709551616");
	assert_size_bad("17179869184GB");
	assert_size_bad("18014398509481984K");
	assert_size_bad("99999999999999999999999999GB");
}

static void
assert_int(const char *s, int64_t min, int64_t max, int64_t want)
{
	int64_t v = (int64_t)SENTINEL;

	if (parse_int(s, min, max, &v) != 0)
		fail_msg("int '%s' refused", s);
	if (v != want)
		fail_msg("int '%s': expected %lld, got %lld", s,
		    (long long)want, (long long)v);
}

static void
assert_int_bad(const char *s, int64_t min, int64_t max)
{
	int64_t v = (int64_t)SENTINEL;

	if (parse_int(s, min, max, &v) != -1)
		fail_msg("int '%s' accepted as %lld", show(s),
		    (long long)v);
	if (v != (int64_t)SENTINEL)
		fail_msg("int '%s': output written on failure", show(s));
}

static void
test_int(void **state)
{
	(void)state;
	assert_int("0", 0, 10, 0);
	assert_int("42", 0, 100, 42);
	assert_int("-42", -100, 100, -42);
	assert_int("-0", 0, 0, 0);
	assert_int("007", 0, 10, 7);
	/* Range edges are inclusive. */
	assert_int("1", 1, 9, 1);
	assert_int("9", 1, 9, 9);
	assert_int("9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX);
	assert_int("-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN);

	assert_int_bad("0", 1, 9);
	assert_int_bad("10", 1, 9);
	assert_int_bad("-1", 0, 65535);
	assert_int_bad("65536", 0, 65535);
	assert_int_bad("5", 9, 1);   /* empty range */
	assert_int_bad("9223372036854775808", INT64_MIN, INT64_MAX);
	assert_int_bad("-9223372036854775809", INT64_MIN, INT64_MAX);
	assert_int_bad("99999999999999999999999", INT64_MIN, INT64_MAX);
	assert_int_bad("-99999999999999999999999", INT64_MIN, INT64_MAX);
	assert_int_bad(NULL, INT64_MIN, INT64_MAX);
	assert_int_bad("", INT64_MIN, INT64_MAX);
	assert_int_bad("-", INT64_MIN, INT64_MAX);
	assert_int_bad("+1", INT64_MIN, INT64_MAX);
	assert_int_bad("--1", INT64_MIN, INT64_MAX);
	assert_int_bad("- 1", INT64_MIN, INT64_MAX);
	assert_int_bad(" 1", INT64_MIN, INT64_MAX);
	assert_int_bad("1 ", INT64_MIN, INT64_MAX);
	assert_int_bad("1\n", INT64_MIN, INT64_MAX);
	assert_int_bad("1a", INT64_MIN, INT64_MAX);
	assert_int_bad("0x10", INT64_MIN, INT64_MAX);
	assert_int_bad("1.0", INT64_MIN, INT64_MAX);
	assert_int_bad("1e3", INT64_MIN, INT64_MAX);
	assert_int_bad("1,000", INT64_MIN, INT64_MAX);
}

static void
test_alloc(void **state)
{
	unsigned char *p;
	char *s;

	(void)state;
	p = xcalloc(100, 3);
	for (size_t i = 0; i < 300; i++)
		assert_int_equal(p[i], 0);
	free(p);
	/* Zero-sized requests still give a pointer that can be freed. */
	p = xcalloc(0, 0);
	assert_non_null(p);
	free(p);

	s = xstrdup("community");
	assert_string_equal(s, "community");
	free(s);

	s = xstrdup("s3cret-auth-pass");
	secret_free(s);
	secret_free(xstrdup(""));
	secret_free(NULL);
}

/* Out of memory at start-up is fatal with a message, never NULL. */
#ifdef _WIN32
/* No fork(): the test runs this program again with --oom (see main) and
 * reads what it says; abort() exits with 3 there. */
static void
test_oom_aborts(void **state)
{
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
	STARTUPINFOA si = { .cb = sizeof(si) };
	PROCESS_INFORMATION pi;
	char self[MAX_PATH], cmd[MAX_PATH + 16], msg[256] = "";
	DWORD len = 0, n, code;
	HANDLE rd, wr;

	(void)state;
	n = GetModuleFileNameA(NULL, self, sizeof(self));
	assert_true(n > 0 && n < sizeof(self));
	snprintf(cmd, sizeof(cmd), "\"%s\" --oom", self);
	assert_true(CreatePipe(&rd, &wr, &sa, 0));
	assert_true(SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0));
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
	si.hStdOutput = si.hStdError = wr;
	assert_true(CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL,
	    &si, &pi));
	CloseHandle(wr);
	while (len < sizeof(msg) - 1 &&
	    ReadFile(rd, msg + len, sizeof(msg) - 1 - len, &n, NULL) && n > 0)
		len += n;
	CloseHandle(rd);
	assert_int_equal(WaitForSingleObject(pi.hProcess, 60000), WAIT_OBJECT_0);
	assert_true(GetExitCodeProcess(pi.hProcess, &code));
	CloseHandle(pi.hProcess);
	CloseHandle(pi.hThread);
	assert_int_equal(code, 3);
	msg[len] = '\0';
	assert_non_null(strstr(msg, "out of memory"));
}
#else
static void
test_oom_aborts(void **state)
{
	int fds[2], status;
	char msg[128] = "";
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };

		dup2(fds[1], STDERR_FILENO);
		setrlimit(RLIMIT_CORE, &nocore);   /* an expected abort */
		signal(SIGABRT, SIG_DFL);
		(void)xcalloc(SIZE_MAX / 2, 4);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_true(n > 0);
	msg[n] = '\0';
	assert_non_null(strstr(msg, "out of memory"));
}
#endif

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_oom_aborts),
	};

	if (argc == 2 && strcmp(argv[1], "--oom") == 0) {   /* Windows' child */
		(void)xcalloc(SIZE_MAX / 2, 4);
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
