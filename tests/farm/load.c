/* outpost-farm-load: a load generator for outpost-farm (or any agent).
 * Keeps WINDOW requests in flight over COUNT consecutive addresses (closed
 * loop: it measures what the agent sustains) or paces them at --rate,
 * and prints one line: requests, replies, lost, req/s, varbinds/s.
 * v2c by default; --v3 USER:AUTH:PASS:PRIV:PASS discovers each address's
 * engine first and then sends authPriv requests built with usm.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "farm.h"

#define LOAD_MAX_WINDOW	4096
#define LOAD_MAX_ADDRS	65536
#define LOAD_TIMEOUT	1.0

struct target {
	struct sockaddr_in	 sa;
	uint8_t			 eid[32];
	size_t			 eidlen;
	uint32_t		 boots, etime;
	double			 synced;	/* local time of etime */
	struct usm_keys		 keys;
};

struct slot {
	uint32_t	gen;
	double		sent;
	int		busy;
};

static struct target	*targets;
static int		 ntargets, window = 256, varbinds = 10, bulk, v3;
static double		 rate, duration = 5;
static const char	*community = "public";
static struct farm_user	 user;
static char		 authpass[256], privpass[256];
static struct slot	 slots[LOAD_MAX_WINDOW];
static uint64_t		 sent, replies, lost, vbs, bad;

static void
usage(void)
{
	fprintf(stderr, "usage: outpost-farm-load --target ADDR:PORT [--count N] "
	    "[--window W] [--rate R] [--duration S] [--get K | --bulk K] "
	    "[--community C | --v3 USER:AUTH:PASS:PRIV:PASS]\n");
	exit(2);
}

/* The varbind list: GET of sysUpTime, sysName and K-2 HC counters, or a
 * GETBULK of two HC counter columns with max-repetitions K. */
static void
build_vbl(struct bw *w)
{
	static uint8_t	 cache[16384];
	static size_t	 cached;
	uint8_t		 oid[64];
	char		 s[64];
	int		 i, n, k = bulk ? 2 : varbinds;
	size_t		 start = w->hi;

	if (cached) {		/* the same list every time: build it once */
		bw_append(w, cache, cached);
		return;
	}
	for (i = 0; i < k; i++) {
		if (bulk)
			snprintf(s, sizeof(s), "1.3.6.1.2.1.31.1.1.1.%d", i ? 10 : 6);
		else if (i < 2)
			snprintf(s, sizeof(s), "1.3.6.1.2.1.1.%d.0", i ? 5 : 3);
		else
			snprintf(s, sizeof(s), "1.3.6.1.2.1.31.1.1.1.%d.%d",
			    i % 2 ? 10 : 6, i / 2);
		n = ber_oid_parse(s, oid, sizeof(oid));
		bw_append_hdr(w, T_SEQ, (size_t)n + 4);
		bw_append_tlv(w, T_OID, oid, (size_t)n);
		bw_append_tlv(w, T_NULL, NULL, 0);
	}
	if (!w->err && w->hi - start <= sizeof(cache)) {
		memcpy(cache, w->buf + start, w->hi - start);
		cached = w->hi - start;
	}
}

static void
build_pdu(struct bw *w, int64_t reqid, int type)
{
	build_vbl(w);
	bw_wrap(w, T_SEQ);
	bw_prepend_int(w, type == PDU_GETBULK ? varbinds : 0);
	bw_prepend_int(w, 0);
	bw_prepend_int(w, reqid);
	bw_wrap(w, (uint8_t)type);
}

static size_t
build(uint8_t *buf, size_t cap, struct target *t, int64_t id)
{
	struct bw	w;
	uint8_t		privp[8];
	uint32_t	et;

	bw_init(&w, buf, cap, FARM_HEADROOM);
	build_pdu(&w, id, bulk ? PDU_GETBULK : PDU_GET);
	if (!v3) {
		bw_prepend_tlv(&w, T_OCTETS, community, strlen(community));
		bw_prepend_int(&w, 1);
		bw_wrap(&w, T_SEQ);
	} else {
		et = t->etime + (uint32_t)(farm_now() - t->synced);
		bw_prepend_tlv(&w, T_OCTETS, user.name, strlen(user.name));
		bw_prepend_tlv(&w, T_OCTETS, t->eid, t->eidlen);
		bw_wrap(&w, T_SEQ);
		if (t->keys.priv != PRIV_NONE &&
		    usm_encrypt(&t->keys, t->boots, et, (uint64_t)id, &w, privp) == -1)
			return 0;
		if (usm_wrap(&w, id, 4 | (t->keys.auth ? 1 : 0) |
		    (t->keys.priv ? 2 : 0), t->eid, t->eidlen, t->boots, et,
		    user.name, strlen(user.name), &t->keys, privp) == -1)
			return 0;
	}
	if (w.err)
		return 0;
	memmove(buf, buf + w.lo, bw_len(&w));
	return bw_len(&w);
}

/* The request id of a reply (v2c) or its msgID (v3), and a varbind count. */
static int
parse_reply(const uint8_t *p, size_t len, int64_t *id, size_t *nvb)
{
	struct ber	 b = { p, p + len }, m, pdu;
	const uint8_t	*v;
	size_t		 l;
	uint8_t		 tag;
	int64_t		 ver, err;

	*nvb = 0;
	if (ber_expect(&b, T_SEQ, &v, &l) == -1)
		return -1;
	m.p = v, m.end = v + l;
	if (ber_int(&m, &ver) == -1)
		return -1;
	if (ver == 3) {
		struct ber	 g;
		int64_t		 maxsize;
		int		 level = (user.auth ? 1 : 0) | (user.priv ? 2 : 0);

		if (ber_expect(&m, T_SEQ, &v, &l) == -1)
			return -1;
		g.p = v, g.end = v + l;
		*nvb = 1;
		/* a report (wrong password, unknown user) comes back at
		 * noAuthNoPriv: only a reply at our level counts */
		if (ber_int(&g, id) == -1 || ber_int(&g, &maxsize) == -1 ||
		    ber_octets(&g, &v, &l) == -1 || l != 1 || (v[0] & 3) != level)
			return -1;
		return 0;
	}
	if (ber_octets(&m, &v, &l) == -1 || ber_next(&m, &tag, &v, &l) == -1 ||
	    tag != PDU_RESPONSE)
		return -1;
	pdu.p = v, pdu.end = v + l;
	if (ber_int(&pdu, id) == -1 || ber_int(&pdu, &err) == -1 || err != 0 ||
	    ber_int(&pdu, &err) == -1 || ber_expect(&pdu, T_SEQ, &v, &l) == -1)
		return -1;
	pdu.p = v, pdu.end = v + l;
	while (pdu.p < pdu.end && ber_next(&pdu, &tag, &v, &l) == 0)
		(*nvb)++;
	return 0;
}

/* RFC 3414 4: a noAuthNoPriv GET with an empty engine ID; the report
 * carries the engine ID, boots and time. */
static int
discover(int fd, struct target *t)
{
	uint8_t		 buf[FARM_MAX_MSG + FARM_HEADROOM], zero[8] = { 0 };
	struct bw	 w;
	int		 tries;

	for (tries = 0; tries < 3; tries++) {
		struct pollfd	 pfd = { fd, POLLIN, 0 };
		struct ber	 b, m, s;
		const uint8_t	*v;
		size_t		 l;
		int64_t		 x, bo, ti;
		ssize_t		 n;

		bw_init(&w, buf, sizeof(buf), FARM_HEADROOM);
		bw_wrap(&w, T_SEQ);
		bw_prepend_int(&w, 0), bw_prepend_int(&w, 0);
		bw_prepend_int(&w, 1);
		bw_wrap(&w, PDU_GET);
		bw_prepend_tlv(&w, T_OCTETS, "", 0);
		bw_prepend_tlv(&w, T_OCTETS, "", 0);
		bw_wrap(&w, T_SEQ);
		usm_wrap(&w, 1, 4, NULL, 0, 0, 0, "", 0, &t->keys, zero);
		sendto(fd, buf + w.lo, bw_len(&w), 0, (struct sockaddr *)&t->sa,
		    sizeof(t->sa));
		if (poll(&pfd, 1, 1000) <= 0 || (n = recv(fd, buf, sizeof(buf), 0)) <= 0)
			continue;
		b.p = buf, b.end = buf + n;
		if (ber_expect(&b, T_SEQ, &v, &l) == -1)
			continue;
		m.p = v, m.end = v + l;
		if (ber_int(&m, &x) == -1 || ber_expect(&m, T_SEQ, &v, &l) == -1 ||
		    ber_octets(&m, &v, &l) == -1)
			continue;
		s.p = v, s.end = v + l;
		if (ber_expect(&s, T_SEQ, &v, &l) == -1)
			continue;
		s.p = v, s.end = v + l;
		if (ber_octets(&s, &v, &l) == -1 || l > sizeof(t->eid) ||
		    ber_int(&s, &bo) == -1 || ber_int(&s, &ti) == -1)
			continue;
		memcpy(t->eid, v, l);
		t->eidlen = l;
		t->boots = (uint32_t)bo;
		t->etime = (uint32_t)ti;
		t->synced = farm_now();
		usm_client_keys(&t->keys, user.auth, authpass, user.priv, privpass,
		    t->eid, t->eidlen);
		return 0;
	}
	return -1;
}

static int
parse_args(int argc, char **argv)
{
	char		 host[64], *c, err[256], up[1024];
	uint32_t	 a;
	int		 i, count = 1, port = 1161;

	host[0] = '\0';
	for (i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (strcmp(o, "--target") == 0 && strlen(v) < sizeof(host))
			strcpy(host, v);
		else if (strcmp(o, "--count") == 0)
			count = atoi(v);
		else if (strcmp(o, "--window") == 0)
			window = atoi(v);
		else if (strcmp(o, "--rate") == 0)
			rate = atof(v);
		else if (strcmp(o, "--duration") == 0)
			duration = atof(v);
		else if (strcmp(o, "--get") == 0)
			varbinds = atoi(v), bulk = 0;
		else if (strcmp(o, "--bulk") == 0)
			varbinds = atoi(v), bulk = 1;
		else if (strcmp(o, "--community") == 0)
			community = v;
		else if (strcmp(o, "--v3") == 0 && strlen(v) < sizeof(up)) {
			char *f[5], *save = NULL;
			int   k = 0;

			strcpy(up, v);
			for (c = strtok_r(up, ":", &save); c && k < 5;
			    c = strtok_r(NULL, ":", &save))
				f[k++] = c;
			if (k != 5 || usm_user_parse(&user, v, err, sizeof(err)) == -1)
				usage();
			snprintf(authpass, sizeof(authpass), "%s", f[2]);
			snprintf(privpass, sizeof(privpass), "%s", f[4]);
			v3 = 1;
		} else
			usage();
	}
	if (i != argc || (c = strrchr(host, ':')) == NULL || count < 1 ||
	    count > LOAD_MAX_ADDRS || window < 1 || window > LOAD_MAX_WINDOW ||
	    varbinds < 1 || varbinds > 200 || duration <= 0)
		usage();
	*c = '\0';
	port = atoi(c + 1);
	if (inet_pton(AF_INET, host, &a) != 1)
		usage();
	if ((targets = calloc((size_t)count, sizeof(*targets))) == NULL)
		abort();
	for (i = 0; i < count; i++) {
		targets[i].sa.sin_family = AF_INET;
		targets[i].sa.sin_port = htons((uint16_t)port);
		targets[i].sa.sin_addr.s_addr = htonl(ntohl(a) + (uint32_t)i);
	}
	ntargets = count;
	return 0;
}

static void
fire(int fd, int s, uint8_t *buf, size_t cap, double now)
{
	static uint64_t	 next;
	struct target	*t = &targets[next++ % (uint64_t)ntargets];
	size_t		 len;

	slots[s].gen++;
	len = build(buf, cap, t, (int64_t)((slots[s].gen & 0x7ffff) *
	    LOAD_MAX_WINDOW + (uint32_t)s));
	slots[s].busy = 1;
	slots[s].sent = now;
	if (len && sendto(fd, buf, len, 0, (struct sockaddr *)&t->sa,
	    sizeof(t->sa)) > 0)
		sent++;
}

int
main(int argc, char **argv)
{
	static uint8_t	 buf[FARM_MAX_MSG + FARM_HEADROOM];
	double		 t0, now, end, next_send;
	int		 fd, i, s;

	usm_init();
	parse_args(argc, argv);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("socket");
		return 1;
	}
	i = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &i, sizeof(i));
	for (i = 0; v3 && i < ntargets; i++)
		if (discover(fd, &targets[i]) == -1) {
			fprintf(stderr, "outpost-farm-load: no engine discovery "
			    "answer from target %d\n", i);
			return 1;
		}
	t0 = now = farm_now();
	end = t0 + duration;
	next_send = t0;
	while ((now = farm_now()) < end) {
		struct pollfd	pfd = { fd, POLLIN, 0 };
		ssize_t		n;

		for (s = 0; s < window; s++) {
			if (slots[s].busy && now - slots[s].sent > LOAD_TIMEOUT) {
				lost++;
				slots[s].busy = 0;
			}
			if (!slots[s].busy && (rate <= 0 || next_send <= now)) {
				fire(fd, s, buf, sizeof(buf), now);
				next_send += rate > 0 ? 1.0 / rate : 0;
			}
		}
		if (poll(&pfd, 1, 1) <= 0)
			continue;
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			int64_t	id;
			size_t	nvb;

			if (parse_reply(buf, (size_t)n, &id, &nvb) == -1 || id < 0) {
				bad++;
				continue;
			}
			s = (int)(id % LOAD_MAX_WINDOW);
			if (s >= window || !slots[s].busy ||
			    (slots[s].gen & 0x7ffff) != (uint64_t)id / LOAD_MAX_WINDOW)
				continue;	/* late or duplicate */
			slots[s].busy = 0;
			replies++;
			vbs += nvb;
			if (rate <= 0)
				fire(fd, s, buf, sizeof(buf), farm_now());
		}
	}
	now = farm_now() - t0;
	printf("outpost-farm-load: %s %s %d addresses window %d: requests %llu "
	    "replies %llu lost %llu bad %llu req/s %.0f varbinds/s %.0f "
	    "(%.1f s)\n", v3 ? "v3" : "v2c", bulk ? "GETBULK" : "GET", ntargets,
	    window, (unsigned long long)sent, (unsigned long long)replies,
	    (unsigned long long)lost, (unsigned long long)bad,
	    (double)replies / now, (double)vbs / now, now);
	return replies ? 0 : 1;
}
