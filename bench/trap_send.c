/*
 * trap_send: the notification benchmark's sender (bench/trap_bench.py).
 * Sends N copies of one pre-encoded SNMPv2c trap (linkDown, community
 * "public", three varbinds) to HOST:PORT at RATE per second, in sendmmsg
 * batches paced by a clock, so outpost and snmptrapd get the very same
 * datagrams at the very same rate. Loopback only (the caller's address).
 *
 *   trap_send HOST PORT COUNT RATE
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const unsigned char trap[] = {
	0x30, 0x7b, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c',
	0xa7, 0x6e, 0x02, 0x04, 0x12, 0x34, 0x56, 0x78, 0x02, 0x01, 0x00,
	0x02, 0x01, 0x00, 0x30, 0x60,
	0x30, 0x0f, 0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 3, 0, 0x43, 0x03, 0x01, 0x10, 0xf7,
	0x30, 0x17, 0x06, 0x0a, 0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0,
	0x06, 0x09, 0x2b, 6, 1, 6, 3, 1, 1, 5, 3,
	0x30, 0x0f, 0x06, 0x0a, 0x2b, 6, 1, 2, 1, 2, 2, 1, 1, 2, 0x02, 0x01, 0x02,
	0x30, 0x0f, 0x06, 0x0a, 0x2b, 6, 1, 2, 1, 2, 2, 1, 7, 2, 0x02, 0x01, 0x02,
	0x30, 0x12, 0x06, 0x0a, 0x2b, 6, 1, 2, 1, 2, 2, 1, 2, 2, 0x04, 0x04,
	'e', 't', 'h', '1',
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct mmsghdr m[64];
	struct iovec iov = { (void *)trap, sizeof(trap) };
	long count, rate, sent = 0;
	double start;
	int fd;

	if (argc != 5 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
		fprintf(stderr, "usage: trap_send HOST PORT COUNT RATE\n");
		return 2;
	}
	to.sin_port = htons((unsigned short)atoi(argv[2]));
	count = atol(argv[3]);
	rate = atol(argv[4]);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	for (int i = 0; i < 64; i++)
		m[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = sizeof(to),
		    .msg_iov = &iov, .msg_iovlen = 1 };
	start = now();
	while (sent < count) {
		long due = (long)((now() - start) * rate) + 1, n = due - sent;
		if (n <= 0) {
			usleep(200);
			continue;
		}
		if (n > 64)
			n = 64;
		if (n > count - sent)
			n = count - sent;
		int r = sendmmsg(fd, m, (unsigned)n, 0);
		if (r > 0)
			sent += r;
	}
	printf("%ld %.3f\n", sent, now() - start);
	return 0;
}
