/*
 * The scanner's sockets on Linux (scan_int.h, scan_io.c): probes sent in
 * batches with sendmmsg, replies read with recvmmsg, receive-buffer drops
 * counted by SO_RXQ_OVFL and ICMP port unreachable read from the error
 * queue (IP_RECVERR), which quotes the probe and so names its slot.
 */
#include "snmp/scan_int.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct scan_os {
	struct mmsghdr out_msg[SCAN_BATCH];
	struct iovec   out_iov[SCAN_BATCH];
	struct mmsghdr in_msg[SCAN_RECV_BATCH];
	struct iovec   in_iov[SCAN_RECV_BATCH];
	uint8_t        in_ctl[SCAN_RECV_BATCH][64];
};

int
scan_os_new(struct osnmp_scan *s)
{
	return (s->io = calloc(1, sizeof(*s->io))) == NULL ? -1 : 0;
}

void
scan_os_free(struct osnmp_scan *s)
{
	free(s->io);
	s->io = NULL;
}

static void
sock_drops(struct osnmp_scan *s, struct scan_sock *k, const struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		uint32_t n;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
		    c->cmsg_len < CMSG_LEN(sizeof(n)))
			continue;
		memcpy(&n, CMSG_DATA(c), sizeof(n));
		if (n != k->drops) {
			s->stats.kernel_drops += (uint32_t)(n - k->drops);
			k->drops = n;
			s->lost = true;
		}
	}
}

/* ICMP errors: port unreachable ends an address (nothing listens). */
static void
scan_errqueue(struct osnmp_scan *s, struct scan_sock *k)
{
	for (int n = 0; n < SCAN_DRAIN_MAX; n++) {
		struct sockaddr_storage to;
		uint8_t buf[SCAN_TPL_MAX], ctl[512];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &to, .msg_namelen = sizeof(to),
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
		    .msg_controllen = sizeof(ctl) };
		ssize_t len = recvmsg(k->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);

		if (len < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			struct sock_extended_err ee;

			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			    (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) ||
			    c->cmsg_len < CMSG_LEN(sizeof(ee)))
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if ((ee.ee_origin == SO_EE_ORIGIN_ICMP && ee.ee_type == 3 &&
			    ee.ee_code == 3) || (ee.ee_origin == SO_EE_ORIGIN_ICMP6 &&
			    ee.ee_type == 1 && ee.ee_code == 4))
				scan_refused(s, buf, (size_t)len, &to);
		}
	}
}

void
scan_os_drain(struct osnmp_scan *s, struct scan_sock *k)
{
	struct scan_os *io = s->io;

	scan_errqueue(s, k);
	for (int n = 0; n < SCAN_DRAIN_MAX; n++) {
		int got;

		for (int j = 0; j < SCAN_RECV_BATCH; j++) {
			io->in_iov[j] = (struct iovec){ s->in[j], SCAN_RECV_MAX };
			io->in_msg[j].msg_hdr = (struct msghdr){ .msg_name = &s->in_addr[j],
			    .msg_namelen = sizeof(s->in_addr[j]), .msg_iov = &io->in_iov[j],
			    .msg_iovlen = 1, .msg_control = io->in_ctl[j],
			    .msg_controllen = sizeof(io->in_ctl[j]) };
		}
		got = recvmmsg(k->fd, io->in_msg, SCAN_RECV_BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			return;
		for (int j = 0; j < got; j++) {
			struct msghdr *m = &io->in_msg[j].msg_hdr;
			sock_drops(s, k, m);
			if (m->msg_flags & MSG_TRUNC) {
				s->stats.ignored++;
				continue;
			}
			scan_match(s, s->in[j], io->in_msg[j].msg_len, &s->in_addr[j]);
		}
		if (got < SCAN_RECV_BATCH)
			return;
	}
}

int
scan_os_send(struct osnmp_scan *s, struct scan_sock *k, int from, int n,
    enum scan_send_err *e)
{
	struct scan_os *io = s->io;
	int r;

	for (int j = from; j < n; j++) {
		io->out_iov[j] = (struct iovec){ s->out[j], s->out_len[j] };
		io->out_msg[j].msg_hdr = (struct msghdr){ .msg_name = &s->out_addr[j],
		    .msg_namelen = s->out_alen[j], .msg_iov = &io->out_iov[j],
		    .msg_iovlen = 1 };
	}
	r = sendmmsg(k->fd, io->out_msg + from, (unsigned)(n - from), 0);
	if (r > 0)
		return r;
	if (errno == ENOBUFS || errno == ENOMEM) {
		*e = SCAN_SEND_NOBUFS;
	} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		*e = SCAN_SEND_AGAIN;
	} else {
		*e = SCAN_SEND_FAILED;
		log_debug("scan: send: %s", strerror(errno));
	}
	return -1;
}

int
scan_os_open(struct osnmp_scan *s, struct scan_sock *k, int family,
    int *granted, char *err, size_t errlen)
{
	struct sockaddr_storage any;
	int one = 1, want = SCAN_RCVBUF, snd = SCAN_SNDBUF, got = 0;
	socklen_t gl = sizeof(got);

	memset(&any, 0, sizeof(any));
	any.ss_family = (sa_family_t)family;
	k->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd == -1 || bind(k->fd, (struct sockaddr *)&any, family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) == -1) {
		snprintf(err, errlen, "cannot open a UDP socket (%s): %s",
		    family == AF_INET6 ? "IPv6" : "IPv4", strerror(errno));
		return -1;
	}
	/* As much as we may (root may go past net.core.rmem_max). */
	if (setsockopt(k->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) == -1)
		(void)setsockopt(k->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	(void)setsockopt(k->fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	(void)setsockopt(k->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	if (family == AF_INET6)
		(void)setsockopt(k->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
	else
		(void)setsockopt(k->fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
	if (getsockopt(k->fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == -1)
		got = 0;
	*granted = got;
	return 0;
}

void
scan_os_close(struct osnmp_scan *s, struct scan_sock *k)
{
	loop_io_del(s->loop, k->fd);
	close(k->fd);
	k->fd = -1;
}
