/*
 * The loop's Linux backend: epoll for sockets and fds, signalfd for
 * signals (blocked, then read as data, so no handler ever runs).
 */
#include "core/loop_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct loop_backend {
	int      epfd;
	int      sigfd;
	sigset_t sigmask;
};

int
loop_backend_new(struct loop *l)
{
	struct loop_backend *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -1;
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd == -1) {
		free(b);
		return -1;
	}
	b->sigfd = -1;
	sigemptyset(&b->sigmask);
	l->be = b;
	return 0;
}

void
loop_backend_free(struct loop *l)
{
	struct loop_backend *b = l->be;

	if (b->sigfd != -1) {
		sigprocmask(SIG_UNBLOCK, &b->sigmask, NULL);
		close(b->sigfd);
	}
	close(b->epfd);
	free(b);
}

int
loop_backend_set(struct loop *l, struct loop_io *io, int old, int events)
{
	struct epoll_event ev = { 0 };

	if (events == 0)
		return epoll_ctl(l->be->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	ev.events = ((events & LOOP_READ) ? EPOLLIN : 0u) |
	    ((events & LOOP_WRITE) ? EPOLLOUT : 0u);
	ev.data.fd = io->fd;
	return epoll_ctl(l->be->epfd, old ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    io->fd, &ev);
}

int
loop_backend_wait(struct loop *l, struct loop_ready *rd, int max,
    int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n;

	n = epoll_wait(l->be->epfd, evs, max < LOOP_BATCH ? max : LOOP_BATCH,
	    timeout_ms);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		uint32_t e = evs[i].events;

		rd[i].fd = evs[i].data.fd;
		rd[i].ready = ((e & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? LOOP_READ : 0) |
		    ((e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ? LOOP_WRITE : 0) |
		    ((e & EPOLLERR) ? LOOP_ERROR : 0);
	}
	return n;
}

static void
loop_sigfd_cb(struct loop *l, int fd, int events, void *arg)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		loop_deliver_signal(l, (int)si.ssi_signo);
}

int
loop_backend_signal(struct loop *l, int signo)
{
	struct loop_backend *b = l->be;
	int fd;

	sigaddset(&b->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &b->sigmask, NULL) == -1)
		return -1;
	fd = signalfd(b->sigfd, &b->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		return -1;
	if (b->sigfd == -1) {
		b->sigfd = fd;
		if (loop_io_set(l, fd, LOOP_READ, loop_sigfd_cb, NULL) == -1)
			return -1;
		loop_io_unref(l);   /* a signal alone does not keep the loop alive */
	}
	return 0;
}

int
loop_backend_raise(struct loop *l, int signo)
{
	/* Blocked and read by signalfd: pending until the loop reads it. */
	return kill(getpid(), signo);
}
