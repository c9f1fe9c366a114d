/*
 * The event loop: epoll for file descriptors, a binary min-heap of
 * caller-owned timers, signalfd for signals. One loop owns all I/O.
 * File events live in a table indexed by fd (as in Redis' ae.c), so an
 * fd removed by an earlier callback in the same batch is simply skipped.
 */
#include "core/core.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH 256

struct loop_fd {
	int        events;   /* 0 = unused */
	loop_io_cb cb;
	void      *arg;
};

struct loop_sig {
	loop_signal_cb cb;
	void          *arg;
};

struct loop {
	int                 epfd;
	struct loop_fd     *fds;
	size_t              nfds;      /* size of fds[] */
	size_t              nactive;   /* fds registered */
	struct loop_timer **heap;
	size_t              heap_len, heap_cap;
	uint64_t            now_ms;
	uint64_t            timer_seq;
	bool                stop;
	int                 sigfd;
	sigset_t            sigmask;
	struct loop_sig     sigs[65];
};

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
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd == -1) {
		free(l);
		return NULL;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
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
	if (l->sigfd != -1) {
		sigprocmask(SIG_UNBLOCK, &l->sigmask, NULL);
		close(l->sigfd);
	}
	close(l->epfd);
	free(l->fds);
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

/* ---- file descriptors ---- */

static int
loop_fd_grow(struct loop *l, int fd)
{
	size_t n = l->nfds ? l->nfds : 64;
	struct loop_fd *p;

	while (n <= (size_t)fd)
		n *= 2;
	p = realloc(l->fds, n * sizeof(*p));
	if (p == NULL)
		return -1;
	memset(p + l->nfds, 0, (n - l->nfds) * sizeof(*p));
	l->fds = p;
	l->nfds = n;
	return 0;
}

int
loop_io_set(struct loop *l, int fd, int events, loop_io_cb cb, void *arg)
{
	struct epoll_event ev = { 0 };
	int op;

	if (fd < 0)
		return -1;
	if (events == 0) {
		loop_io_del(l, fd);
		return 0;
	}
	if ((size_t)fd >= l->nfds && loop_fd_grow(l, fd) == -1)
		return -1;
	op = l->fds[fd].events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	ev.events = ((events & LOOP_READ) ? EPOLLIN : 0u) |
	    ((events & LOOP_WRITE) ? EPOLLOUT : 0u);
	ev.data.fd = fd;
	if (epoll_ctl(l->epfd, op, fd, &ev) == -1)
		return -1;
	if (op == EPOLL_CTL_ADD)
		l->nactive++;
	l->fds[fd].events = events;
	l->fds[fd].cb = cb;
	l->fds[fd].arg = arg;
	return 0;
}

void
loop_io_del(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nfds || l->fds[fd].events == 0)
		return;
	/* Fails harmlessly if the caller closed fd first. */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].events = 0;
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

static void
loop_sigfd_cb(struct loop *l, int fd, int events, void *arg)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo < countof(l->sigs) && l->sigs[si.ssi_signo].cb)
			l->sigs[si.ssi_signo].cb(l, (int)si.ssi_signo,
			    l->sigs[si.ssi_signo].arg);
	}
}

int
loop_signal(struct loop *l, int signo, loop_signal_cb cb, void *arg)
{
	int fd;

	if (signo <= 0 || (size_t)signo >= countof(l->sigs))
		return -1;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) == -1)
		return -1;
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		return -1;
	l->sigs[signo].cb = cb;
	l->sigs[signo].arg = arg;
	if (l->sigfd == -1) {
		l->sigfd = fd;
		if (loop_io_set(l, fd, LOOP_READ, loop_sigfd_cb, NULL) == -1)
			return -1;
		l->nactive--;   /* a signal alone does not keep the loop alive */
	}
	return 0;
}

/* ---- the loop ---- */

int
loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_BATCH];

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
		n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout);
		if (n == -1 && errno != EINTR)
			return -1;
		l->now_ms = mono_ms();
		for (int i = 0; i < n && !l->stop; i++) {
			int fd = evs[i].data.fd, ready = 0;
			struct loop_fd *f;

			if ((size_t)fd >= l->nfds || l->fds[fd].events == 0)
				continue;
			f = &l->fds[fd];
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				ready |= LOOP_READ;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				ready |= LOOP_WRITE;
			ready &= f->events;
			if (ready && (evs[i].events & EPOLLERR))
				ready |= LOOP_ERROR;
			if (ready)
				f->cb(l, fd, ready, f->arg);
		}
		loop_run_timers(l);
	}
	return 0;
}
