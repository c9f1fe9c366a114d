/*
 * The notification receiver's sockets on Linux (trap_int.h, trap.c):
 * read in batches with recvmmsg, receive-buffer overflows counted through
 * SO_RXQ_OVFL, the buffer forced past rmem_max where we may.
 */
#include "snmp/trap_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct trap_os {
	struct mmsghdr msgs[TRAP_RECV_BATCH];
	struct iovec   iov[TRAP_RECV_BATCH];
	char           ctl[TRAP_RECV_BATCH][CMSG_SPACE(sizeof(uint32_t))];
};

int
trap_os_new(struct osnmp_trap *t)
{
	return (t->io = calloc(1, sizeof(*t->io))) == NULL ? -1 : 0;
}

void
trap_os_free(struct osnmp_trap *t)
{
	free(t->io);
	t->io = NULL;
}

static void
sock_drops(struct osnmp_trap *t, struct trap_sock *k, struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		uint32_t d;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
		    c->cmsg_len < CMSG_LEN(sizeof(d)))
			continue;
		memcpy(&d, CMSG_DATA(c), sizeof(d));
		t->stats.queue_full += (uint32_t)(d - k->drops);
		k->drops = d;
	}
}

void
trap_os_readable(struct loop *l, int fd, int events, void *arg)
{
	struct osnmp_trap *t = arg;
	struct trap_os *io = t->io;
	struct trap_sock *k = trap_sock_find(t, fd);
	size_t done = 0;

	if (k == NULL)
		return;
	while (done < TRAP_PASS_MAX) {
		uint64_t wall, now_us;
		int got;

		for (int j = 0; j < TRAP_RECV_BATCH; j++) {
			io->iov[j] = (struct iovec){ t->in + (size_t)j * TRAP_SLOT, TRAP_SLOT };
			io->msgs[j].msg_hdr = (struct msghdr){
				.msg_name = &t->from[j], .msg_namelen = sizeof(t->from[j]),
				.msg_iov = &io->iov[j], .msg_iovlen = 1,
				.msg_control = io->ctl[j], .msg_controllen = sizeof(io->ctl[j]) };
		}
		got = recvmmsg(fd, io->msgs, TRAP_RECV_BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			return;
		wall = wall_ms();
		now_us = mono_ms() * 1000;
		for (int j = 0; j < got; j++) {
			struct msghdr *m = &io->msgs[j].msg_hdr;
			sock_drops(t, k, m);
			trap_receive(t, k, t->in + (size_t)j * TRAP_SLOT, io->msgs[j].msg_len,
			    (m->msg_flags & MSG_TRUNC) != 0, &t->from[j], wall, now_us);
		}
		done += (size_t)got;
		if (got < TRAP_RECV_BATCH)
			return;
	}
}

void
trap_os_send(int fd, const uint8_t *p, size_t len, const struct sockaddr_storage *to)
{
	socklen_t tl = to->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);

	(void)sendto(fd, p, len, MSG_DONTWAIT, (const struct sockaddr *)to, tl);
}

int
trap_os_bind(struct osnmp_trap *t, const char *spec,
    const struct sockaddr_storage *ss, unsigned sl, unsigned queue_max,
    int *out, char *err, size_t errlen)
{
	int fd, one = 1, want;

	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "%s: socket: %s", spec, strerror(errno));
		return -1;
	}
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sl) == -1) {
		int e = errno;
		snprintf(err, errlen, "%s: %s%s", spec, strerror(e), e == EACCES ?
		    " (ports below 1024 need CAP_NET_BIND_SERVICE, which the "
		    "systemd unit grants)" : "");
		close(fd);
		return -1;
	}
	want = queue_max > INT32_MAX / TRAP_DGRAM_COST ? INT32_MAX :
	    (int)(queue_max * TRAP_DGRAM_COST);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	(void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	*out = fd;
	return 0;
}

void
trap_os_close(int fd)
{
	close(fd);
}
