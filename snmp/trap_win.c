/*
 * The notification receiver's sockets on Windows (trap_int.h, trap.c):
 * Winsock has no recvmmsg, so a readable socket is read with recvfrom
 * until it would block or TRAP_PASS_MAX datagrams are done, the bound
 * Linux keeps per pass; decoding, USM, the rate limit and the answers to
 * informs are trap.c's, as on Linux.
 *
 * Winsock counts no receive-buffer drops (Linux's SO_RXQ_OVFL): the
 * queue_full counter stays 0 here. An ICMP port unreachable for an
 * answer sent to a sender that has gone would fail a later recvfrom
 * with WSAECONNRESET; SIO_UDP_CONNRESET switches that off.
 */
#include "snmp/trap_int.h"

#include <mswsock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
trap_os_new(struct osnmp_trap *t)
{
	t->io = NULL;   /* nothing beyond trap.c's buffers */
	return 0;
}

void
trap_os_free(struct osnmp_trap *t)
{
}

void
trap_os_readable(struct loop *l, os_socket fd, int events, void *arg)
{
	struct osnmp_trap *t = arg;
	struct trap_sock *k = trap_sock_find(t, fd);

	if (k == NULL)
		return;
	for (size_t done = 0; done < TRAP_PASS_MAX; done++) {
		int flen = (int)sizeof(t->from[0]);
		int got = recvfrom(fd, (char *)t->in, TRAP_SLOT, 0,
		    (struct sockaddr *)&t->from[0], &flen);
		bool truncated = false;

		if (got == SOCKET_ERROR) {
			int e = WSAGetLastError();
			if (e == WSAECONNRESET || e == WSAENETRESET)
				continue;
			if (e != WSAEMSGSIZE)
				return;           /* WSAEWOULDBLOCK: all read */
			/* Longer than TRAP_SLOT: the sender is known, the rest
			 * of the datagram is gone, as with MSG_TRUNC. */
			truncated = true;
			got = TRAP_SLOT;
		}
		trap_receive(t, k, t->in, (size_t)got, truncated, &t->from[0],
		    wall_ms(), mono_ms() * 1000);
	}
}

void
trap_os_send(os_socket fd, const uint8_t *p, size_t len,
    const struct sockaddr_storage *to)
{
	int tl = to->ss_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6) :
	    (int)sizeof(struct sockaddr_in);

	/* The socket is non-blocking: a full send buffer fails at once. */
	(void)sendto(fd, (const char *)p, (int)len, 0,
	    (const struct sockaddr *)to, tl);
}

static const char *
bind_error(int e)
{
	switch (e) {
	case WSAEADDRINUSE:
		return "the address is in use (another program receives "
		    "traps there: SNMP Trap service, snmptrapd?)";
	case WSAEACCES:
		return "access denied (the port is reserved or held exclusively "
		    "by another program)";
	case WSAEADDRNOTAVAIL:
		return "no such address on this machine";
	case WSAEAFNOSUPPORT:
		return "this address family is not available";
	default:
		return NULL;
	}
}

int
trap_os_bind(struct osnmp_trap *t, const char *spec,
    const struct sockaddr_storage *ss, unsigned sl, unsigned queue_max,
    os_socket *out, char *err, size_t errlen)
{
	DWORD one = 1, bytes = 0;
	BOOL off = FALSE;
	u_long nb = 1;
	int want, e;
	const char *why;
	/* Not inherited by child processes, as SOCK_CLOEXEC on Linux. */
	os_socket fd = WSASocketW(ss->ss_family, SOCK_DGRAM, IPPROTO_UDP, NULL, 0,
	    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);

	if (fd == INVALID_SOCKET) {
		e = WSAGetLastError();
		why = bind_error(e);
		snprintf(err, errlen, "%s: socket: %s%s%d%s", spec, why ? why : "",
		    why ? " (Winsock error " : "Winsock error ", e, why ? ")" : "");
		return -1;
	}
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&one,
		    (int)sizeof(one));
	/* No other program may take the port from under us (Windows lets a
	 * second socket bind an address with SO_REUSEADDR otherwise). */
	(void)setsockopt(fd, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one,
	    (int)sizeof(one));
	if (ioctlsocket(fd, FIONBIO, &nb) == SOCKET_ERROR ||
	    bind(fd, (const struct sockaddr *)ss, (int)sl) == SOCKET_ERROR) {
		e = WSAGetLastError();
		why = bind_error(e);
		snprintf(err, errlen, "%s: %s%s%d%s", spec, why ? why : "",
		    why ? " (Winsock error " : "Winsock error ", e, why ? ")" : "");
		closesocket(fd);
		return -1;
	}
	(void)WSAIoctl(fd, SIO_UDP_CONNRESET, &off, sizeof(off), NULL, 0, &bytes,
	    NULL, NULL);
	want = queue_max > INT32_MAX / TRAP_DGRAM_COST ? INT32_MAX :
	    (int)(queue_max * TRAP_DGRAM_COST);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, (const char *)&want,
	    (int)sizeof(want));
	*out = fd;
	return 0;
}

void
trap_os_close(os_socket fd)
{
	closesocket(fd);
}
