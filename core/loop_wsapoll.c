/*
 * The loop's Windows backend: WSAPoll over an array of the registered
 * sockets (the agent's socket counts are in the thousands at most; IOCP
 * would only pay beyond that). Windows has no signals to read as data:
 * stop and reload come from a console or service control handler on
 * another thread, which loop_raise() turns into one datagram on a
 * loopback UDP socket the loop watches like any other.
 */
#include "core/loop_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct loop_backend {
	WSAPOLLFD          *pfd;       /* registered sockets, dense */
	size_t              npfd, cap;
	size_t              start;     /* where the next report starts */
	os_socket           wake;      /* loopback UDP, OS_SOCKET_NONE until used */
	struct sockaddr_in  wake_addr;
};

int
loop_backend_new(struct loop *l)
{
	struct loop_backend *b = calloc(1, sizeof(*b));
	WSADATA wsa;

	if (b == NULL)
		return -1;
	/* Counted by Winsock: one WSACleanup per loop_backend_free. */
	if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
		free(b);
		errno = EIO;
		return -1;
	}
	b->wake = OS_SOCKET_NONE;
	l->be = b;
	return 0;
}

void
loop_backend_free(struct loop *l)
{
	struct loop_backend *b = l->be;

	if (b->wake != OS_SOCKET_NONE)
		closesocket(b->wake);
	free(b->pfd);
	free(b);
	WSACleanup();
}

static short
poll_events(int events)
{
	/* Only POLLRDNORM, POLLRDBAND and POLLWRNORM are valid requests. */
	return (short)(((events & LOOP_READ) ? POLLRDNORM : 0) |
	    ((events & LOOP_WRITE) ? POLLWRNORM : 0));
}

int
loop_backend_set(struct loop *l, struct loop_io *io, int old, int events)
{
	struct loop_backend *b = l->be;

	if (events == 0) {
		size_t i = io->bslot, last;

		if (i >= b->npfd)
			return -1;
		last = --b->npfd;
		if (i != last) {
			/* The last entry fills the hole; its slot number moves. */
			struct loop_io *moved = loop_io_find(l, b->pfd[last].fd);

			b->pfd[i] = b->pfd[last];
			if (moved != NULL)
				moved->bslot = i;
		}
		io->bslot = SIZE_MAX;
		return 0;
	}
	if (old != 0) {
		b->pfd[io->bslot].events = poll_events(events);
		return 0;
	}
	if (b->npfd == b->cap) {
		size_t n = b->cap ? b->cap * 2 : 64;
		WSAPOLLFD *p = realloc(b->pfd, n * sizeof(*p));

		if (p == NULL)
			return -1;
		b->pfd = p;
		b->cap = n;
	}
	b->pfd[b->npfd].fd = io->fd;
	b->pfd[b->npfd].events = poll_events(events);
	b->pfd[b->npfd].revents = 0;
	io->bslot = b->npfd++;
	return 0;
}

int
loop_backend_wait(struct loop *l, struct loop_ready *rd, int max,
    int timeout_ms)
{
	struct loop_backend *b = l->be;
	size_t n = b->npfd;
	int got, k = 0;

	if (n == 0) {
		/* WSAPoll refuses an empty set; only timers are left. */
		Sleep(timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
		return 0;
	}
	got = WSAPoll(b->pfd, (ULONG)n, timeout_ms);
	if (got == SOCKET_ERROR) {
		errno = EIO;
		return -1;
	}
	/* Report from a moving start, so with more ready sockets than fit in
	 * one batch none waits forever behind the others. */
	for (size_t j = 0; j < n && got > 0 && k < max; j++) {
		size_t i = (b->start + j) % n;
		short re = b->pfd[i].revents;
		int ready;

		if (re == 0)
			continue;
		got--;
		ready = ((re & (POLLRDNORM | POLLRDBAND | POLLERR | POLLHUP)) ?
		    LOOP_READ : 0) |
		    ((re & (POLLWRNORM | POLLERR | POLLHUP)) ? LOOP_WRITE : 0) |
		    ((re & (POLLERR | POLLNVAL)) ? LOOP_ERROR : 0);
		if (re & POLLNVAL)
			ready |= LOOP_READ | LOOP_WRITE;   /* let the owner see it */
		rd[k].fd = b->pfd[i].fd;
		rd[k].ready = ready;
		k++;
	}
	b->start = (b->start + 1) % n;
	return k;
}

static void
loop_wake_cb(struct loop *l, os_socket fd, int events, void *arg)
{
	struct loop_backend *b = l->be;
	unsigned char buf[16];
	struct sockaddr_in from;
	int n, flen;

	for (;;) {
		flen = (int)sizeof(from);
		n = recvfrom(fd, (char *)buf, (int)sizeof(buf), 0,
		    (struct sockaddr *)&from, &flen);
		if (n == SOCKET_ERROR) {
			if (WSAGetLastError() == WSAEWOULDBLOCK)
				return;
			continue;   /* WSAECONNRESET and the like: next datagram */
		}
		/* Only our own socket sends here: anything else on loopback
		 * that guessed the port is ignored. */
		if (n != 1 || flen != (int)sizeof(from) ||
		    from.sin_port != b->wake_addr.sin_port ||
		    from.sin_addr.s_addr != b->wake_addr.sin_addr.s_addr)
			continue;
		loop_deliver_signal(l, buf[0]);
	}
}

static int
loop_wake_open(struct loop *l)
{
	struct loop_backend *b = l->be;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int len = (int)sizeof(b->wake_addr);
	u_long nb = 1;
	os_socket s;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
	if (s == OS_SOCKET_NONE)
		return -1;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) == SOCKET_ERROR ||
	    getsockname(s, (struct sockaddr *)&b->wake_addr, &len) == SOCKET_ERROR ||
	    ioctlsocket(s, FIONBIO, &nb) == SOCKET_ERROR ||
	    loop_io_set(l, s, LOOP_READ, loop_wake_cb, NULL) == -1) {
		closesocket(s);
		errno = EIO;
		return -1;
	}
	loop_io_unref(l);   /* a stop handler alone does not keep the loop alive */
	b->wake = s;
	return 0;
}

int
loop_backend_signal(struct loop *l, int signo)
{
	if (signo > 255)
		return -1;
	return l->be->wake == OS_SOCKET_NONE ? loop_wake_open(l) : 0;
}

int
loop_backend_raise(struct loop *l, int signo)
{
	struct loop_backend *b = l->be;
	unsigned char c = (unsigned char)signo;

	/* From the handler's thread: one sendto on a socket the loop thread
	 * only reads is safe in Winsock. */
	if (b->wake == OS_SOCKET_NONE || signo > 255)
		return -1;
	return sendto(b->wake, (const char *)&c, 1, 0,
	    (const struct sockaddr *)&b->wake_addr,
	    (int)sizeof(b->wake_addr)) == 1 ? 0 : -1;
}
