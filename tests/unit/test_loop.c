/* The event loop and complaint throttling (core/loop.c, core/log.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* Two connected sockets (the loop takes sockets on every platform; WSAPoll
 * takes nothing else). Call after loop_new(): it starts Winsock. */
#ifdef _WIN32
static int
sock_pair(os_socket p[2])
{
	struct sockaddr_in a[2];
	int len = (int)sizeof(a[0]);
	u_long nb = 1;

	for (int i = 0; i < 2; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].sin_family = AF_INET;
		a[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		p[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (p[i] == OS_SOCKET_NONE ||
		    bind(p[i], (struct sockaddr *)&a[i], sizeof(a[i])) != 0 ||
		    getsockname(p[i], (struct sockaddr *)&a[i], &len) != 0 ||
		    ioctlsocket(p[i], FIONBIO, &nb) != 0)
			return -1;
	}
	if (connect(p[0], (struct sockaddr *)&a[1], sizeof(a[1])) != 0 ||
	    connect(p[1], (struct sockaddr *)&a[0], sizeof(a[0])) != 0)
		return -1;
	return 0;
}
#define sock_close closesocket
#else
static int
sock_pair(os_socket p[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM, 0, p);
}
#define sock_close close
#endif


static struct loop_timer timers[5];
static struct { int seen[8]; int n; } order;

static void
record_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	order.seen[order.n++] = (int)(intptr_t)arg;
}

static void
timers_fire_in_deadline_order_and_disarmed_ones_never(void **st)
{
	struct loop *l = loop_new();
	static const int delays[5] = { 30, 10, 20, 5, 15 };

	memset(&order, 0, sizeof(order));
	for (int i = 0; i < 5; i++) {
		loop_timer_init(&timers[i], record_cb, (void *)(intptr_t)delays[i]);
		loop_timer_arm(l, &timers[i], (uint64_t)delays[i]);
	}
	loop_timer_disarm(l, &timers[2]);   /* the 20 ms one */
	assert_false(loop_timer_armed(&timers[2]));
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(order.n, 4);
	assert_int_equal(order.seen[0], 5);
	assert_int_equal(order.seen[1], 10);
	assert_int_equal(order.seen[2], 15);
	assert_int_equal(order.seen[3], 30);
	loop_free(l);
}

static int zero_runs;

static void
zero_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	int *fd_reads = arg;

	zero_runs++;
	if (zero_runs < 1000 && *fd_reads == 0)
		loop_timer_arm(l, t, 0);   /* rearm at once: must not starve fds */
}

static void
zero_pipe_cb(struct loop *l, os_socket fd, int ev, void *arg)
{
	int *fd_reads = arg;
	char c;

	assert_int_equal(recv(fd, &c, 1, 0), 1);
	(*fd_reads)++;
	loop_io_del(l, fd);
}

static void
a_timer_rearmed_for_zero_ms_lets_fds_run(void **st)
{
	struct loop *l = loop_new();
	struct loop_timer t;
	os_socket p[2];
	int fd_reads = 0;

	assert_int_equal(sock_pair(p), 0);
	assert_int_equal(send(p[1], "x", 1, 0), 1);
	assert_int_equal(loop_io_set(l, p[0], LOOP_READ, zero_pipe_cb, &fd_reads), 0);
	loop_timer_init(&t, zero_cb, &fd_reads);
	loop_timer_arm(l, &t, 0);
	zero_runs = 0;
	loop_run(l);
	assert_int_equal(fd_reads, 1);
	assert_true(zero_runs < 10);   /* one pass, not a thousand */
	sock_close(p[0]);
	sock_close(p[1]);
	loop_free(l);
}

static int pipe_reads;

static void
pipe_cb(struct loop *l, os_socket fd, int ev, void *arg)
{
	char c;
	assert_true(ev & LOOP_READ);
	assert_int_equal(recv(fd, &c, 1, 0), 1);
	pipe_reads++;
	loop_io_del(l, fd);
}

static void
readable_fd_runs_its_callback_then_loop_ends_when_idle(void **st)
{
	struct loop *l = loop_new();
	os_socket p[2];

	assert_int_equal(sock_pair(p), 0);
	assert_int_equal(loop_io_set(l, p[0], LOOP_READ, pipe_cb, NULL), 0);
	assert_int_equal(send(p[1], "x", 1, 0), 1);
	pipe_reads = 0;
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(pipe_reads, 1);
	sock_close(p[0]);
	sock_close(p[1]);
	loop_free(l);
}

static int got_signal;

static void
sig_cb(struct loop *l, int signo, void *arg)
{
	got_signal = signo;
	loop_stop(l);
}

#ifndef _WIN32
static void
kill_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	kill(getpid(), SIGHUP);
	loop_timer_arm(l, t, 1000);   /* keeps the loop alive until the signal */
}

static void
signals_arrive_through_the_loop(void **st)
{
	struct loop *l = loop_new();
	struct loop_timer t;

	assert_int_equal(loop_signal(l, SIGHUP, sig_cb, NULL), 0);
	loop_timer_init(&t, kill_cb, NULL);
	loop_timer_arm(l, &t, 1);
	got_signal = 0;
	loop_run(l);
	assert_int_equal(got_signal, SIGHUP);
	loop_timer_disarm(l, &t);
	loop_free(l);
}
#endif

static void
raise_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	assert_int_equal(loop_raise(l, SIGTERM), 0);
	loop_timer_arm(l, t, 1000);
}

static void
loop_raise_delivers_through_the_loop(void **st)
{
	struct loop *l = loop_new();
	struct loop_timer t;

	assert_int_equal(loop_signal(l, SIGTERM, sig_cb, NULL), 0);
	loop_timer_init(&t, raise_cb, NULL);
	loop_timer_arm(l, &t, 1);
	got_signal = 0;
	loop_run(l);
	assert_int_equal(got_signal, SIGTERM);
	loop_timer_disarm(l, &t);
	loop_free(l);
}

/* Two readable sockets whose callbacks each remove both: only the first
 * to run is called, though the backend reported both in one batch. */
static os_socket pair_fds[2];
static int pair_calls;

static void
pair_cb(struct loop *l, os_socket fd, int ev, void *arg)
{
	pair_calls++;
	loop_io_del(l, pair_fds[0]);
	loop_io_del(l, pair_fds[1]);
}

static void
a_socket_removed_by_an_earlier_callback_is_skipped(void **st)
{
	struct loop *l = loop_new();
	os_socket a[2], b[2];

	assert_int_equal(sock_pair(a), 0);
	assert_int_equal(sock_pair(b), 0);
	assert_int_equal(send(a[1], "x", 1, 0), 1);
	assert_int_equal(send(b[1], "x", 1, 0), 1);
	pair_fds[0] = a[0];
	pair_fds[1] = b[0];
	pair_calls = 0;
	assert_int_equal(loop_io_set(l, a[0], LOOP_READ, pair_cb, NULL), 0);
	assert_int_equal(loop_io_set(l, b[0], LOOP_READ, pair_cb, NULL), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(pair_calls, 1);
	sock_close(a[0]); sock_close(a[1]); sock_close(b[0]); sock_close(b[1]);
	loop_free(l);
}

/* The socket table is a hash: growing it and removing entries (which
 * moves their neighbours) must keep every socket with its own callback. */
#define MANY 150
static os_socket many[MANY][2];
static int many_calls[MANY];

static void
many_cb(struct loop *l, os_socket fd, int ev, void *arg)
{
	int i = (int)(intptr_t)arg;
	char c;

	assert_int_equal(fd, many[i][0]);
	assert_int_equal(recv(fd, &c, 1, 0), 1);
	many_calls[i]++;
	loop_io_del(l, fd);
}

static void
many_sockets_each_reach_their_own_callback(void **st)
{
	struct loop *l = loop_new();

	for (int i = 0; i < MANY; i++) {
		assert_int_equal(sock_pair(many[i]), 0);
		assert_int_equal(send(many[i][1], "x", 1, 0), 1);
		many_calls[i] = 0;
		assert_int_equal(loop_io_set(l, many[i][0], LOOP_READ, many_cb,
		    (void *)(intptr_t)i), 0);
	}
	for (int i = 0; i < MANY; i += 3)
		loop_io_del(l, many[i][0]);
	assert_int_equal(loop_run(l), 0);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(many_calls[i], i % 3 == 0 ? 0 : 1);
		sock_close(many[i][0]);
		sock_close(many[i][1]);
	}
	loop_free(l);
}

static void
repeated_failures_are_logged_less_and_less_often(void **st)
{
	struct complain c = { 0 };
	uint64_t now = 1000000;
	int logged = 0;

	log_init("test", LOG_LVL_ERROR, false);
	/* One failure a second for a day. */
	for (int i = 0; i < 86400; i++, now += 1000)
		logged += log_complain(&c, now, LOG_LVL_INFO, "device x timed out");
	/* first at 0, then after 1, 2, 4, 8, ... minutes: about a dozen lines */
	assert_true(logged >= 5 && logged <= 16);
	assert_true(log_release(&c, "device x answers again"));
	assert_false(log_release(&c, "device x answers again"));
	assert_true(log_complain(&c, now, LOG_LVL_INFO, "fails again"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timers_fire_in_deadline_order_and_disarmed_ones_never),
		cmocka_unit_test(readable_fd_runs_its_callback_then_loop_ends_when_idle),
#ifndef _WIN32
		cmocka_unit_test(signals_arrive_through_the_loop),
#endif
		cmocka_unit_test(a_timer_rearmed_for_zero_ms_lets_fds_run),
		cmocka_unit_test(loop_raise_delivers_through_the_loop),
		cmocka_unit_test(a_socket_removed_by_an_earlier_callback_is_skipped),
		cmocka_unit_test(many_sockets_each_reach_their_own_callback),
		cmocka_unit_test(repeated_failures_are_logged_less_and_less_often),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
