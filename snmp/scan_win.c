/*
 * The scanner's sockets on Windows (scan_int.h, scan_io.c): Winsock has
 * no sendmmsg or recvmmsg, so a batch is a run of non-blocking sendto
 * calls and a drain a run of recvfrom calls, as many datagrams per drain
 * as Linux reads (SCAN_DRAIN_MAX batches of SCAN_RECV_BATCH). The loop
 * (WSAPoll) says when a socket is readable; pacing, the reply window,
 * retries and matching are scan_io.c's and scan.c's, as on Linux.
 *
 * What Winsock does not give: a count of datagrams the receive buffer
 * dropped (Linux's SO_RXQ_OVFL), so a loss is only seen as a timeout and
 * retried like one; and an ICMP port unreachable that names the probe:
 * on an unconnected socket Windows reports it as WSAECONNRESET on some
 * later recvfrom, without the probe, so it is switched off
 * (SIO_UDP_CONNRESET) and an address where nothing listens ends at its
 * timeout, as on a network that drops ICMP (Wine never reports it).
 */
#include "snmp/scan_int.h"

#include <mswsock.h>
#include <stdlib.h>
#include <string.h>

int
scan_os_new(struct osnmp_scan *s)
{
	s->io = NULL;   /* nothing beyond scan.c's buffers */
	return 0;
}

void
scan_os_free(struct osnmp_scan *s)
{
}

void
scan_os_drain(struct osnmp_scan *s, struct scan_sock *k)
{
	for (int n = 0; n < SCAN_DRAIN_MAX * SCAN_RECV_BATCH; n++) {
		int alen = (int)sizeof(s->in_addr[0]);
		int got = recvfrom(k->fd, (char *)s->in[0], SCAN_RECV_MAX, 0,
		    (struct sockaddr *)&s->in_addr[0], &alen);

		if (got == SOCKET_ERROR) {
			int e = WSAGetLastError();
			if (e == WSAEMSGSIZE) {   /* longer than any reply of ours */
				s->stats.ignored++;
				continue;
			}
			if (e == WSAECONNRESET || e == WSAENETRESET)
				continue;         /* an ICMP error of an earlier send */
			return;                   /* WSAEWOULDBLOCK: all read */
		}
		scan_match(s, s->in[0], (size_t)got, &s->in_addr[0]);
	}
}

int
scan_os_send(struct osnmp_scan *s, struct scan_sock *k, int from, int n,
    enum scan_send_err *e)
{
	int j;

	for (j = from; j < n; j++)
		if (sendto(k->fd, (const char *)s->out[j], (int)s->out_len[j], 0,
		    (const struct sockaddr *)&s->out_addr[j], (int)s->out_alen[j]) ==
		    SOCKET_ERROR)
			break;
	if (j > from)
		return j - from;
	switch (WSAGetLastError()) {
	case WSAENOBUFS:
		*e = SCAN_SEND_NOBUFS;
		break;
	case WSAEWOULDBLOCK:
	case WSAEINTR:
		*e = SCAN_SEND_AGAIN;
		break;
	default:
		*e = SCAN_SEND_FAILED;
		log_debug("scan: send: Winsock error %d", WSAGetLastError());
		break;
	}
	return -1;
}

int
scan_os_open(struct osnmp_scan *s, struct scan_sock *k, int family,
    int *granted, char *err, size_t errlen)
{
	struct sockaddr_storage any;
	int want = SCAN_RCVBUF, snd = SCAN_SNDBUF, got = 0, gl = (int)sizeof(got);
	u_long nb = 1;
	BOOL off = FALSE;
	DWORD bytes = 0;

	memset(&any, 0, sizeof(any));
	any.ss_family = (ADDRESS_FAMILY)family;
	/* Not inherited by child processes, as SOCK_CLOEXEC on Linux. */
	k->fd = WSASocketW(family, SOCK_DGRAM, IPPROTO_UDP, NULL, 0,
	    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
	if (k->fd == INVALID_SOCKET ||
	    ioctlsocket(k->fd, FIONBIO, &nb) == SOCKET_ERROR ||
	    bind(k->fd, (struct sockaddr *)&any, family == AF_INET6 ?
	    (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in)) ==
	    SOCKET_ERROR) {
		snprintf(err, errlen, "cannot open a UDP socket (%s): Winsock error %d",
		    family == AF_INET6 ? "IPv6" : "IPv4", WSAGetLastError());
		return -1;
	}
	(void)WSAIoctl(k->fd, SIO_UDP_CONNRESET, &off, sizeof(off), NULL, 0,
	    &bytes, NULL, NULL);
	(void)setsockopt(k->fd, SOL_SOCKET, SO_RCVBUF, (const char *)&want,
	    (int)sizeof(want));
	(void)setsockopt(k->fd, SOL_SOCKET, SO_SNDBUF, (const char *)&snd,
	    (int)sizeof(snd));
	if (getsockopt(k->fd, SOL_SOCKET, SO_RCVBUF, (char *)&got, &gl) ==
	    SOCKET_ERROR)
		got = 0;
	*granted = got;
	return 0;
}

void
scan_os_close(struct osnmp_scan *s, struct scan_sock *k)
{
	loop_io_del(s->loop, k->fd);
	closesocket(k->fd);
	k->fd = INVALID_SOCKET;
}
