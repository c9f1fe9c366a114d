/*
 * The event loop's generic part: the table of registered sockets, a
 * binary min-heap of caller-owned timers, signal callbacks, and the pass
 * that runs them. Waiting for I/O is the backend's (loop_int.h): epoll
 * and signalfd on Linux, WSAPoll on Windows. The socket table is keyed by
 * the socket, so one removed by an earlier callback in the same batch is
 * simply not found and skipped (as in Redis' ae.c, which indexes by fd).
 */
#include "core/loop_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t
mono_ms(void)
{
	return mono_us() / 1000u;
}

struct loop *
loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	if (loop_backend_new(l) == -1) {
		free(l);
		return NULL;
	}
	l->now_ms = mono_ms();
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->heap_len; i++)
		l->heap[i]->heap_idx = SIZE_MAX;
	loop_backend_free(l);
	free(l->io);
	free(l->heap);
	free(l);
}

uint64_t
loop_now_ms(struct loop *l)
{
	return l->now_ms;
}

void
loop_stop(struct loop *l)
{
	l->stop = true;
}

/* ---- the socket table ---- */

/* Fibonacci hashing: fds are small and dense, SOCKET handles multiples
 * of 4; both spread over the table. */
static size_t
io_hash(const struct loop *l, os_socket fd)
{
	return (size_t)(((uint64_t)fd * 0x9E3779B97F4A7C15ull) >> 32) &
	    (l->iocap - 1);
}

struct loop_io *
loop_io_find(struct loop *l, os_socket fd)
{
	if (l->iocap == 0)
		return NULL;
	for (size_t i = io_hash(l, fd);; i = (i + 1) & (l->iocap - 1)) {
		if (l->io[i].events == 0)
			return NULL;
		if (l->io[i].fd == fd)
			return &l->io[i];
	}
}

/* The free slot where fd goes (the table is at most half full). */
static struct loop_io *
io_slot(struct loop *l, os_socket fd)
{
	size_t i = io_hash(l, fd);

	while (l->io[i].events != 0)
		i = (i + 1) & (l->iocap - 1);
	return &l->io[i];
}

static int
io_grow(struct loop *l)
{
	size_t oldcap = l->iocap, n = oldcap ? oldcap * 2 : 64;
	struct loop_io *old = l->io, *p = calloc(n, sizeof(*p));

	if (p == NULL)
		return -1;
	l->io = p;
	l->iocap = n;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].events != 0)
			*io_slot(l, old[i].fd) = old[i];
	free(old);
	return 0;
}

/* Backward-shift deletion: no tombstones, lookups stay short. */
static void
io_remove(struct loop *l, struct loop_io *e)
{
	size_t mask = l->iocap - 1, i = (size_t)(e - l->io), j = i;

	l->io[i].events = 0;
	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (l->io[j].events == 0)
			break;
		k = io_hash(l, l->io[j].fd);
		/* j's entry may fill the hole at i unless its home k lies
		 * cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		l->io[i] = l->io[j];
		l->io[j].events = 0;
		i = j;
	}
	l->nio--;
}

int
loop_io_set(struct loop *l, os_socket fd, int events, loop_io_cb cb, void *arg)
{
	struct loop_io *e;
	int old;

	if (fd == OS_SOCKET_NONE)
		return -1;
	if (events == 0) {
		loop_io_del(l, fd);
		return 0;
	}
	if ((e = loop_io_find(l, fd)) == NULL) {
		if (l->nio >= LOOP_MAX_IO) {
			errno = EMFILE;
			return -1;
		}
		if ((l->nio + 1) * 2 > l->iocap && io_grow(l) == -1)
			return -1;
		e = io_slot(l, fd);
		e->fd = fd;
		e->bslot = SIZE_MAX;
	}
	old = e->events;
	/* A new entry holds its slot while the backend runs. */
	e->events = old ? old : events;
	if (loop_backend_set(l, e, old, events) == -1) {
		e->events = old;
		return -1;
	}
	e->events = events;
	e->cb = cb;
	e->arg = arg;
	if (old == 0) {
		l->nio++;
		l->nactive++;
	}
	return 0;
}

void
loop_io_del(struct loop *l, os_socket fd)
{
	struct loop_io *e = loop_io_find(l, fd);

	if (e == NULL)
		return;
	/* Fails harmlessly if the caller closed fd first. */
	(void)loop_backend_set(l, e, e->events, 0);
	io_remove(l, e);
	l->nactive--;
}

void
loop_io_unref(struct loop *l)
{
	l->nactive--;
}

/* ---- timers: binary min-heap on when_ms ---- */

static void
heap_swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void
heap_up(struct loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->when_ms <= l->heap[i]->when_ms)
			break;
		heap_swap(l, i, p);
		i = p;
	}
}

static void
heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;
		if (c < l->heap_len && l->heap[c]->when_ms < l->heap[m]->when_ms)
			m = c;
		if (c + 1 < l->heap_len &&
		    l->heap[c + 1]->when_ms < l->heap[m]->when_ms)
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void
loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *arg)
{
	t->when_ms = 0;
	t->heap_idx = SIZE_MAX;
	t->cb = cb;
	t->arg = arg;
}

bool
loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_idx != SIZE_MAX;
}

void
loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	size_t i = t->heap_idx;

	if (i == SIZE_MAX)
		return;
	t->heap_idx = SIZE_MAX;
	l->heap_len--;
	if (i == l->heap_len)
		return;
	l->heap[i] = l->heap[l->heap_len];
	l->heap[i]->heap_idx = i;
	heap_down(l, i);
	heap_up(l, i);
}

void
loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	loop_timer_disarm(l, t);
	if (l->heap_len == l->heap_cap) {
		size_t n = l->heap_cap ? l->heap_cap * 2 : 64;
		struct loop_timer **p = realloc(l->heap, n * sizeof(*p));
		if (p == NULL) {
			log_error("loop: out of memory arming a timer");
			abort();
		}
		l->heap = p;
		l->heap_cap = n;
	}
	t->when_ms = l->now_ms + delay_ms;
	t->seq = l->timer_seq++;
	t->heap_idx = l->heap_len;
	l->heap[l->heap_len++] = t;
	heap_up(l, t->heap_idx);
}

static void
loop_run_timers(struct loop *l)
{
	/* Only timers due and armed before this pass run: one re-armed for
	 * 0 ms waits for the next turn, after the loop has polled its fds. */
	uint64_t now = l->now_ms, pass = l->timer_seq;

	while (l->heap_len > 0 && l->heap[0]->when_ms <= now &&
	    l->heap[0]->seq < pass && !l->stop) {
		struct loop_timer *t = l->heap[0];
		loop_timer_disarm(l, t);
		t->cb(l, t, t->arg);
	}
}

/* ---- signals ---- */

int
loop_signal(struct loop *l, int signo, loop_signal_cb cb, void *arg)
{
	if (signo <= 0 || signo >= LOOP_NSIG)
		return -1;
	if (loop_backend_signal(l, signo) == -1)
		return -1;
	l->sigs[signo].cb = cb;
	l->sigs[signo].arg = arg;
	return 0;
}

int
loop_raise(struct loop *l, int signo)
{
	if (signo <= 0 || signo >= LOOP_NSIG)
		return -1;
	return loop_backend_raise(l, signo);
}

void
loop_deliver_signal(struct loop *l, int signo)
{
	if (signo > 0 && signo < LOOP_NSIG && l->sigs[signo].cb != NULL)
		l->sigs[signo].cb(l, signo, l->sigs[signo].arg);
}

/* ---- the loop ---- */

int
loop_run(struct loop *l)
{
	struct loop_ready rd[LOOP_BATCH];

	l->stop = false;
	while (!l->stop && (l->nactive > 0 || l->heap_len > 0)) {
		int timeout = -1, n;

		if (l->heap_len > 0) {
			uint64_t when = l->heap[0]->when_ms;
			l->now_ms = mono_ms();
			timeout = when <= l->now_ms ? 0 :
			    (when - l->now_ms > 60000 ? 60000 :
			    (int)(when - l->now_ms));
		}
		n = loop_backend_wait(l, rd, LOOP_BATCH, timeout);
		if (n == -1)
			return -1;
		l->now_ms = mono_ms();
		for (int i = 0; i < n && !l->stop; i++) {
			struct loop_io *e = loop_io_find(l, rd[i].fd);
			int ready;

			if (e == NULL)
				continue;   /* removed by an earlier callback */
			ready = rd[i].ready & e->events;
			if (ready == 0)
				continue;
			ready |= rd[i].ready & LOOP_ERROR;
			e->cb(l, rd[i].fd, ready, e->arg);
		}
		loop_run_timers(l);
	}
	return 0;
}
