/* outpost-farm: the CLI, the device table and the socket loop. One UDP
 * socket receives for every address (IP_PKTINFO says which was asked) and
 * answers from that address. Replies that must wait (latency_ms=, bad=slow)
 * sit in a bounded min-heap. See tests/farm/README.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "farm.h"

#define MAX_SPECS	4096
#define MAX_TMPLS	256
#define MAX_ADDRS	(1UL << 24)	/* per --device */
#define BATCH		64
#define DELAY_MAX	100000		/* replies waiting at once */
#define DELAY_BYTES	((size_t)256 << 20)

struct range {
	uint32_t		 lo, hi;
	struct farm_spec	*spec;
};

struct delayed {
	double			 due;
	struct sockaddr_in	 peer;
	uint32_t		 src;
	uint8_t			*data;
	size_t			 len;
	int			 copies;
};

static struct farm_tmpl	*tmpls[MAX_TMPLS];
static int		 ntmpls;
static struct range	 ranges[MAX_SPECS];
static int		 nranges;
static struct delayed	*heap;
static size_t		 nheap, heap_bytes;
static volatile sig_atomic_t want_stats, want_exit;
static double		 t_start, t_stats;
static uint64_t		 req_at_stats;
static uint64_t		 rng = 0x2545f4914f6cdd1dULL;

static void
usage(void)
{
	fprintf(stderr, "usage: outpost-farm [--listen ADDR:PORT] --device "
	    "TARGETS=KIND[,key=value...] ... [--ready-file PATH] [--cpu N]\n"
	    "  TARGETS: ADDR, ADDR-ADDR or CIDR; KIND: FILE.snmprec[.gz], switchN, "
	    "router, host, table:ROWS, edge\n  keys: community=A+B v3=USER:AUTH:"
	    "PASS:PRIV:PASS context=NAME:KIND latency_ms=N loss=PCT max_size=N every=N\n"
	    "        bad=nonincreasing|toobig|slow|dup|silent|endless\n");
	exit(2);
}

static struct farm_tmpl *
tmpl_get(const char *kind, char *err, size_t errlen)
{
	struct farm_tmpl	*m;
	int			 i;
	size_t			 kl = strlen(kind);

	for (i = 0; i < ntmpls; i++)
		if (strcmp(tmpls[i]->name, kind) == 0)
			return tmpls[i];
	if (ntmpls == MAX_TMPLS) {
		snprintf(err, errlen, "too many kinds (max %d)", MAX_TMPLS);
		return NULL;
	}
	if ((kl > 8 && strcmp(kind + kl - 8, ".snmprec") == 0) ||
	    (kl > 11 && strcmp(kind + kl - 11, ".snmprec.gz") == 0) ||
	    strchr(kind, '/') != NULL)
		m = snmprec_load(kind, err, errlen);
	else
		m = gen_kind(kind, err, errlen);
	if (m == NULL)
		return NULL;
	fprintf(stderr, "outpost-farm: %s: %zu OIDs", kind, m->n);
	if (m->skipped)
		fprintf(stderr, ", %zu lines skipped (unreadable or duplicate)",
		    m->skipped);
	fprintf(stderr, "\n");
	return tmpls[ntmpls++] = m;
}

static int
parse_targets(const char *s, uint32_t *lo, uint32_t *hi)
{
	char		 buf[64], *p;
	struct in_addr	 a, b;
	long		 bits;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((p = strchr(buf, '/')) != NULL) {
		*p++ = '\0';
		bits = strtol(p, &p, 10);
		if (*p || bits < 8 || bits > 32 || inet_pton(AF_INET, buf, &a) != 1)
			return -1;
		*lo = ntohl(a.s_addr) & (bits == 32 ? 0xffffffffU :
		    ~(0xffffffffU >> bits));
		*hi = *lo | (bits == 32 ? 0 : 0xffffffffU >> bits);
		return 0;
	}
	if ((p = strchr(buf, '-')) != NULL) {
		*p++ = '\0';
		if (inet_pton(AF_INET, buf, &a) != 1 || inet_pton(AF_INET, p, &b) != 1)
			return -1;
		*lo = ntohl(a.s_addr);
		*hi = ntohl(b.s_addr);
		return *lo <= *hi && *hi - *lo < MAX_ADDRS ? 0 : -1;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	*lo = *hi = ntohl(a.s_addr);
	return 0;
}

static long
num(const char *v, long min, long max, const char *key)
{
	char	*end;
	long	 n = strtol(v, &end, 10);

	if (end == v || *end || n < min || n > max) {
		fprintf(stderr, "outpost-farm: %s=%s: want %ld..%ld\n", key, v, min, max);
		exit(2);
	}
	return n;
}

/* One key=value of a --device; '+' separates repeated values. */
static void
spec_key(struct farm_spec *s, char *key, char *val)
{
	char	 err[512], *save = NULL, *tok;

	if (strcmp(key, "latency_ms") == 0)
		s->latency_ms = (int)num(val, 0, 60000, key);
	else if (strcmp(key, "loss") == 0)
		s->loss = (int)num(val, 0, 100, key);
	else if (strcmp(key, "every") == 0)
		s->every = (uint32_t)num(val, 1, 1 << 24, key);
	else if (strcmp(key, "max_size") == 0)
		s->max_size = (int)num(val, 484, FARM_MAX_MSG, key);
	else if (strcmp(key, "bad") == 0) {
		static const char *const names[] = { "", "nonincreasing", "toobig",
		    "slow", "dup", "silent", "endless" };
		int i;

		for (i = 1; i < 7 && strcmp(val, names[i]); i++)
			;
		if (i == 7) {
			fprintf(stderr, "outpost-farm: bad=%s: want nonincreasing, "
			    "toobig, slow, dup, silent or endless\n", val);
			exit(2);
		}
		s->bad = (enum bad_mode)i;
	} else if (strcmp(key, "community") == 0) {
		s->ncomm = 0;
		for (tok = strtok_r(val, "+", &save); tok;
		    tok = strtok_r(NULL, "+", &save)) {
			if (s->ncomm == FARM_MAX_COMM || strlen(tok) > FARM_MAX_NAME) {
				fprintf(stderr, "outpost-farm: community: at most %d "
				    "names of %d bytes\n", FARM_MAX_COMM, FARM_MAX_NAME);
				exit(2);
			}
			strcpy(s->comm[s->ncomm++], tok);
		}
	} else if (strcmp(key, "v3") == 0) {
		for (tok = strtok_r(val, "+", &save); tok;
		    tok = strtok_r(NULL, "+", &save)) {
			if (s->nusers == FARM_MAX_USERS) {
				fprintf(stderr, "outpost-farm: at most %d v3 users\n",
				    FARM_MAX_USERS);
				exit(2);
			}
			if (usm_user_parse(&s->users[s->nusers++], tok, err,
			    sizeof(err)) == -1) {
				fprintf(stderr, "outpost-farm: %s\n", err);
				exit(2);
			}
		}
	} else if (strcmp(key, "context") == 0) {
		for (tok = strtok_r(val, "+", &save); tok;
		    tok = strtok_r(NULL, "+", &save)) {
			char *c = strchr(tok, ':');

			if (c == NULL || c == tok || c - tok > FARM_MAX_NAME ||
			    s->nctx == FARM_MAX_CTX) {
				fprintf(stderr, "outpost-farm: context=%s: want "
				    "NAME:KIND (at most %d)\n", tok, FARM_MAX_CTX);
				exit(2);
			}
			*c++ = '\0';
			strcpy(s->ctx[s->nctx].name, tok);
			if ((s->ctx[s->nctx++].tmpl = tmpl_get(c, err,
			    sizeof(err))) == NULL) {
				fprintf(stderr, "outpost-farm: %s\n", err);
				exit(2);
			}
		}
	} else {
		fprintf(stderr, "outpost-farm: unknown key %s= (community, v3, "
		    "context, latency_ms, loss, max_size, bad, every)\n", key);
		exit(2);
	}
}

static void
add_device(const char *arg)
{
	char			 buf[8192], err[512], *eq, *kind, *opts, *save = NULL;
	char			*kv;
	struct farm_spec	*s;
	struct range		*r;

	if (strlen(arg) >= sizeof(buf) || nranges == MAX_SPECS) {
		fprintf(stderr, "outpost-farm: --device too long or too many "
		    "(max %d)\n", MAX_SPECS);
		exit(2);
	}
	strcpy(buf, arg);
	if ((eq = strchr(buf, '=')) == NULL)
		usage();
	*eq = '\0';
	kind = eq + 1;
	if ((opts = strchr(kind, ',')) != NULL)
		*opts++ = '\0';
	if ((s = calloc(1, sizeof(*s))) == NULL)
		abort();
	r = &ranges[nranges];
	if (parse_targets(buf, &r->lo, &r->hi) == -1) {
		fprintf(stderr, "outpost-farm: %s: targets must be ADDR, ADDR-ADDR "
		    "or CIDR (/8../32)\n", buf);
		exit(2);
	}
	if ((s->tmpl = tmpl_get(kind, err, sizeof(err))) == NULL) {
		fprintf(stderr, "outpost-farm: %s\n", err);
		exit(2);
	}
	strcpy(s->comm[0], "public");
	s->ncomm = 1;
	for (kv = opts ? strtok_r(opts, ",", &save) : NULL; kv;
	    kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');

		if (v == NULL) {
			fprintf(stderr, "outpost-farm: %s: want key=value\n", kv);
			exit(2);
		}
		*v++ = '\0';
		spec_key(s, kv, v);
	}
	r->spec = s;
	nranges++;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static const struct farm_spec *
find_spec(uint32_t addr)
{
	int	lo = 0, hi = nranges;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (addr < ranges[mid].lo)
			hi = mid;
		else if (addr > ranges[mid].hi)
			lo = mid + 1;
		else if (ranges[mid].spec->every > 1 &&
		    (addr - ranges[mid].lo) % ranges[mid].spec->every != 0)
			return NULL;	/* a sparse block: this one is silent */
		else
			return ranges[mid].spec;
	}
	return NULL;
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		want_exit = 1;
}

static void
print_stats(void)
{
	double	now = farm_now(), dt = now - t_stats;

	fprintf(stderr, "outpost-farm: requests %llu replies %llu drops %llu "
	    "req/s %.0f (bad packets %llu, unknown engine %llu, wrong digest "
	    "%llu, up %.0f s)\n",
	    (unsigned long long)farm_stats.requests,
	    (unsigned long long)farm_stats.replies,
	    (unsigned long long)farm_stats.drops,
	    dt > 0 ? (double)(farm_stats.requests - req_at_stats) / dt : 0.0,
	    (unsigned long long)farm_stats.bad_packets,
	    (unsigned long long)farm_stats.unknown_engine,
	    (unsigned long long)farm_stats.wrong_digest, now - t_start);
	t_stats = now;
	req_at_stats = farm_stats.requests;
}

static void
send_one(int fd, const struct sockaddr_in *peer, uint32_t src,
    const uint8_t *data, size_t len, int copies)
{
	char		 cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct iovec	 iov = { (void *)data, len };
	struct msghdr	 mh = { 0 };
	struct cmsghdr	*c;
	struct in_pktinfo pi = { 0 };

	mh.msg_name = (void *)peer;
	mh.msg_namelen = sizeof(*peer);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	pi.ipi_spec_dst.s_addr = htonl(src);
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	while (copies-- > 0) {
		if (sendmsg(fd, &mh, 0) == -1)
			farm_stats.drops++;
		else
			farm_stats.replies++;
	}
}

static void
heap_swap(size_t a, size_t b)
{
	struct delayed t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
}

static void
delay_push(const struct sockaddr_in *peer, uint32_t src, const uint8_t *data,
    size_t len, int copies, double due)
{
	size_t		 i;
	uint8_t		*copy;

	if (nheap == DELAY_MAX || heap_bytes + len > DELAY_BYTES ||
	    (copy = malloc(len)) == NULL) {
		farm_stats.drops++;
		return;
	}
	memcpy(copy, data, len);
	heap_bytes += len;
	i = nheap++;
	heap[i] = (struct delayed){ due, *peer, src, copy, len, copies };
	while (i > 0 && heap[(i - 1) / 2].due > heap[i].due) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
delay_run(int fd, double now)
{
	while (nheap > 0 && heap[0].due <= now) {
		size_t	i = 0;

		send_one(fd, &heap[0].peer, heap[0].src, heap[0].data, heap[0].len,
		    heap[0].copies);
		heap_bytes -= heap[0].len;
		free(heap[0].data);
		heap[0] = heap[--nheap];
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, m = i;

			if (l < nheap && heap[l].due < heap[m].due)
				m = l;
			if (r < nheap && heap[r].due < heap[m].due)
				m = r;
			if (m == i)
				break;
			heap_swap(i, m);
			i = m;
		}
	}
}

static uint64_t
rand64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint8_t	 rxbuf[BATCH][FARM_MAX_MSG + 1];
static uint8_t	*txbuf[BATCH];

/* One request for address dst: o->len > 0 is a reply to send now; a
 * delayed one has gone to the heap. */
static void
handle(uint32_t dst, const struct sockaddr_in *peer, const uint8_t *req,
    size_t len, uint8_t *out, double now, struct farm_out *o)
{
	const struct farm_spec	*s = find_spec(dst);
	struct farm_dev		 d;
	int			 delay;

	farm_stats.requests++;
	o->len = 0;
	if (s == NULL || s->bad == BAD_SILENT ||
	    (s->loss > 0 && (int)(rand64() % 100) < s->loss)) {
		farm_stats.drops++;
		return;
	}
	d.addr = dst;
	d.elapsed = now - t_start;
	d.phase = farm_hash(dst) % 1000000;
	agent_handle(s, &d, req, len, out, FARM_MAX_MSG + FARM_HEADROOM, o);
	if (o->len == 0) {
		farm_stats.drops++;
		return;
	}
	o->copies = s->bad == BAD_DUP ? 2 : 1;
	delay = s->latency_ms + (s->bad == BAD_SLOW ? 2000 : 0);
	if (delay > 0) {
		delay_push(peer, dst, out, o->len, o->copies, now + delay / 1000.0);
		o->len = 0;
	}
}

static void
serve(int fd)
{
	struct mmsghdr		 rx[BATCH], tx[BATCH * 2];
	struct iovec		 riov[BATCH], tiov[BATCH * 2];
	struct sockaddr_in	 peers[BATCH];
	char			 rcm[BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];
	char			 tcm[BATCH * 2][CMSG_SPACE(sizeof(struct in_pktinfo))];
	int			 i, n, nt, timeout;

	for (i = 0; i < BATCH; i++) {
		if ((txbuf[i] = malloc(FARM_MAX_MSG + FARM_HEADROOM)) == NULL)
			abort();
		riov[i].iov_base = rxbuf[i];
		riov[i].iov_len = sizeof(rxbuf[i]);
	}
	while (!want_exit) {
		struct pollfd	pfd = { fd, POLLIN, 0 };
		double		now = farm_now();

		if (want_stats) {
			want_stats = 0;
			print_stats();
		}
		delay_run(fd, now);
		timeout = nheap ? (int)((heap[0].due - now) * 1000) + 1 : 1000;
		if (timeout > 1000)
			timeout = 1000;
		if (poll(&pfd, 1, timeout) <= 0)
			continue;
		memset(rx, 0, sizeof(rx));
		for (i = 0; i < BATCH; i++) {
			rx[i].msg_hdr.msg_name = &peers[i];
			rx[i].msg_hdr.msg_namelen = sizeof(peers[i]);
			rx[i].msg_hdr.msg_iov = &riov[i];
			rx[i].msg_hdr.msg_iovlen = 1;
			rx[i].msg_hdr.msg_control = rcm[i];
			rx[i].msg_hdr.msg_controllen = sizeof(rcm[i]);
		}
		n = recvmmsg(fd, rx, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		now = farm_now();
		nt = 0;
		for (i = 0; i < n; i++) {
			struct cmsghdr	*c;
			uint32_t	 dst = 0;
			struct farm_out	 o;
			int		 k;

			for (c = CMSG_FIRSTHDR(&rx[i].msg_hdr); c;
			    c = CMSG_NXTHDR(&rx[i].msg_hdr, c))
				if (c->cmsg_level == IPPROTO_IP &&
				    c->cmsg_type == IP_PKTINFO) {
					struct in_pktinfo pi;

					memcpy(&pi, CMSG_DATA(c), sizeof(pi));
					dst = ntohl(pi.ipi_addr.s_addr);
				}
			if (peers[i].sin_family != AF_INET ||
			    (rx[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    rx[i].msg_len > FARM_MAX_MSG) {
				farm_stats.requests++;
				farm_stats.drops++;
				continue;
			}
			handle(dst, &peers[i], rxbuf[i], rx[i].msg_len, txbuf[i],
			    now, &o);
			for (k = 0; k < (o.len ? o.copies : 0); k++, nt++) {
				struct msghdr	  *mh = &tx[nt].msg_hdr;
				struct cmsghdr	  *c2;
				struct in_pktinfo  pi = { 0 };

				memset(&tx[nt], 0, sizeof(tx[nt]));
				tiov[nt].iov_base = txbuf[i];
				tiov[nt].iov_len = o.len;
				mh->msg_name = &peers[i];
				mh->msg_namelen = sizeof(peers[i]);
				mh->msg_iov = &tiov[nt];
				mh->msg_iovlen = 1;
				memset(tcm[nt], 0, sizeof(tcm[nt]));
				mh->msg_control = tcm[nt];
				mh->msg_controllen = sizeof(tcm[nt]);
				c2 = CMSG_FIRSTHDR(mh);
				c2->cmsg_level = IPPROTO_IP;
				c2->cmsg_type = IP_PKTINFO;
				c2->cmsg_len = CMSG_LEN(sizeof(pi));
				pi.ipi_spec_dst.s_addr = htonl(dst);
				memcpy(CMSG_DATA(c2), &pi, sizeof(pi));
			}
		}
		for (i = 0; i < nt; ) {
			int sent = sendmmsg(fd, tx + i, (unsigned)(nt - i), 0);

			if (sent <= 0) {	/* skip the one that failed */
				farm_stats.drops++;
				i++;
				continue;
			}
			farm_stats.replies += (uint64_t)sent;
			i += sent;
		}
	}
}

static int
open_socket(const char *listen_at, char *bound, size_t blen)
{
	char			 host[64], *colon;
	struct sockaddr_in	 sa = { 0 };
	socklen_t		 sl = sizeof(sa);
	int			 fd, one = 1, rcv = 8 << 20;
	long			 port;

	if (strlen(listen_at) >= sizeof(host) ||
	    (colon = strrchr(strcpy(host, listen_at), ':')) == NULL) {
		fprintf(stderr, "outpost-farm: --listen %s: want ADDR:PORT\n", listen_at);
		exit(2);
	}
	*colon = '\0';
	port = num(colon + 1, 0, 65535, "--listen port");
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "outpost-farm: --listen %s: not an IPv4 address\n", host);
		exit(2);
	}
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) == -1) {
		perror("outpost-farm: socket");
		exit(1);
	}
	/* big buffers: a benchmark fires bursts (FORCE works as root) */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcv, sizeof(rcv)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcv, sizeof(rcv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		fprintf(stderr, "outpost-farm: bind %s: %s\n", listen_at, strerror(errno));
		exit(1);
	}
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	snprintf(bound, blen, "%s:%u", host, ntohs(sa.sin_port));
	return fd;
}

int
main(int argc, char **argv)
{
	const char		*listen_at = "0.0.0.0:1161", *ready = NULL;
	char			 bound[96];
	struct sigaction	 sa = { 0 };
	int			 i, fd, cpu = -1;

	usm_init();
	t_start = t_stats = farm_now();
	if (argc == 2 && strcmp(argv[1], "--selftest") == 0)
		return farm_selftest();
	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--listen") == 0)
			listen_at = argv[++i];
		else if (strcmp(argv[i], "--device") == 0)
			add_device(argv[++i]);
		else if (strcmp(argv[i], "--ready-file") == 0)
			ready = argv[++i];
		else if (strcmp(argv[i], "--cpu") == 0)
			cpu = (int)num(argv[++i], 0, 1023, "--cpu");
		else
			usage();
	}
	if (nranges == 0)
		usage();
	qsort(ranges, (size_t)nranges, sizeof(ranges[0]), range_cmp);
	for (i = 1; i < nranges; i++)
		if (ranges[i].lo <= ranges[i - 1].hi) {
			fprintf(stderr, "outpost-farm: two --device blocks overlap\n");
			exit(2);
		}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == -1)
			perror("outpost-farm: --cpu");
	}
	if ((heap = calloc(DELAY_MAX, sizeof(*heap))) == NULL)
		abort();
	fd = open_socket(listen_at, bound, sizeof(bound));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ready != NULL) {
		char	 tmp[4096];
		FILE	*f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
		if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%s\n", bound) < 0 ||
		    fclose(f) != 0 || rename(tmp, ready) == -1) {
			perror("outpost-farm: --ready-file");
			exit(1);
		}
	}
	fprintf(stderr, "outpost-farm: listening on %s, %d device blocks\n",
	    bound, nranges);
	serve(fd);
	print_stats();
	return 0;
}
