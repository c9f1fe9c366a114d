/*
 * The notification receiver: UDP sockets on the loop, each datagram
 * rate-limited by its source address, decoded (trap_ber.c), checked
 * (community, or USM in trap_usm.c) and handed to the caller; informs
 * answered at once. The sockets are the OS's (trap_linux.c: recvmmsg
 * batches; trap_win.c: Winsock recvfrom): at most TRAP_PASS_MAX datagrams
 * per socket per loop pass, so a flood waits in the receive buffer while
 * timers and other sockets get their turn.
 */
#include "snmp/trap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rate limit per source ------------------------------------------- */

static uint32_t
source_hash(const uint8_t *a, size_t n)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

/* Take a token for the sender's address; false: over its rate. The
 * table is fixed: a new source takes a free bucket or the one least
 * recently used among its probes, so spoofed sources cost no memory. */
static bool
source_allow(struct osnmp_trap *t, const struct sockaddr_storage *ss, uint64_t now_us)
{
	uint8_t key[16] = { 0 };
	size_t n;
	uint32_t h;
	struct trap_source *victim = NULL;

	if (t->rate == 0)
		return true;
	if (ss->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		n = 16;
	} else {
		memcpy(key, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		n = 4;
	}
	h = source_hash(key, n);
	for (int i = 0; i < TRAP_PROBE; i++) {
		struct trap_source *s = &t->sources[(h + (uint32_t)i) & (TRAP_SOURCES - 1)];
		if (s->family == ss->ss_family && memcmp(s->addr, key, 16) == 0) {
			s->last_us = now_us;
			return ratelimit_take(&s->rl, now_us) == 0;
		}
		if (victim == NULL || s->family == 0 ||
		    (victim->family != 0 && s->last_us < victim->last_us))
			victim = s;
	}
	memcpy(victim->addr, key, 16);
	victim->family = (uint8_t)ss->ss_family;
	victim->last_us = now_us;
	ratelimit_init(&victim->rl, t->rate, t->rate, now_us);
	return ratelimit_take(&victim->rl, now_us) == 0;
}

/* ---- one datagram ------------------------------------------------------ */

static const char *
community_match(const struct osnmp_trap *t, const struct ber *c)
{
	size_t n = (size_t)(c->end - c->p);

	for (size_t i = 0; i < t->ncommunities; i++)
		if (t->community_len[i] == n && memcmp(t->communities[i], c->p, n) == 0)
			return t->communities[i];
	return NULL;
}

static void
count(struct osnmp_trap *t, enum trap_verdict v)
{
	switch (v) {
	case TRAP_BAD_COMMUNITY:   t->stats.dropped_community++; break;
	case TRAP_BAD_AUTH:        t->stats.dropped_auth++; break;
	case TRAP_TIME_WINDOW_BAD: t->stats.dropped_time_window++; break;
	case TRAP_REPORTED:        t->stats.reports_sent++; break;
	case TRAP_OK:              break;
	default:                   t->stats.malformed++; break;
	}
}

static void
trap_datagram(struct osnmp_trap *t, os_socket fd, uint8_t *buf, size_t len,
    const struct sockaddr_storage *from, uint64_t wall)
{
	struct osnmp_notification *n = &t->dec.n;
	struct trap_msg m;
	enum trap_verdict v;
	size_t outlen = 0;

	memset(n, 0, sizeof(*n));
	if ((v = trap_parse_msg(buf, len, &m)) != TRAP_OK)
		goto done;
	if (m.version == CFG_SNMP_V3) {
		if (t->usm == NULL) {
			v = TRAP_BAD_AUTH;
			goto done;
		}
		v = trap_usm_in(t->usm, buf, len, &m, &n->cred, t->out, &outlen);
		if (outlen > 0)
			trap_os_send(fd, t->out, outlen, from);
		if (v != TRAP_OK)
			goto done;
		n->context = m.ctx_name.p;
		n->context_len = (size_t)(m.ctx_name.end - m.ctx_name.p);
	} else if ((n->community = community_match(t, &m.community)) == NULL) {
		v = TRAP_BAD_COMMUNITY;
		goto done;
	}
	if ((v = trap_parse_pdu(&m, &t->dec)) != TRAP_OK)
		goto done;
	n->received_ms = wall;
	n->from = (const struct sockaddr *)from;
	if (from->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)from;
		inet_ntop(AF_INET6, &a->sin6_addr, n->source, sizeof(n->source));
		n->port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)from;
		inet_ntop(AF_INET, &a->sin_addr, n->source, sizeof(n->source));
		n->port = ntohs(a->sin_port);
	}
	t->stats.received++;
	t->cb(n, t->arg);
	if (n->inform) {
		outlen = m.version == CFG_SNMP_V3 ?
		    trap_usm_response(t->usm, &m, n->cred, t->out, sizeof(t->out)) :
		    trap_response_v2c(&m, t->out, sizeof(t->out));
		if (outlen > 0) {
			trap_os_send(fd, t->out, outlen, from);
			t->stats.informs_acked++;
		}
	}
done:
	count(t, v);
}

void
trap_receive(struct osnmp_trap *t, struct trap_sock *k, uint8_t *buf,
    size_t len, bool truncated, const struct sockaddr_storage *from,
    uint64_t wall, uint64_t now_us)
{
	if (!source_allow(t, from, now_us)) {
		t->stats.dropped_rate++;
		return;
	}
	if (truncated) {
		t->stats.malformed++;
		return;
	}
	trap_datagram(t, k->fd, buf, len, from, wall);
}

struct trap_sock *
trap_sock_find(struct osnmp_trap *t, os_socket fd)
{
	for (size_t i = 0; i < t->nsocks; i++)
		if (t->socks[i].fd == fd)
			return &t->socks[i];
	return NULL;
}

/* ---- setup ------------------------------------------------------------- */

static int
trap_bind(struct osnmp_trap *t, const char *spec, unsigned queue_max,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned sl;
	os_socket fd;

	if (config_udp_endpoint(spec, &ss, &sl, err, errlen) == -1 ||
	    trap_os_bind(t, spec, &ss, sl, queue_max, &fd, err, errlen) == -1)
		return -1;
	if (loop_io_set(t->loop, fd, LOOP_READ, trap_os_readable, t) == -1) {
		snprintf(err, errlen, "%s: cannot watch the socket", spec);
		trap_os_close(fd);
		return -1;
	}
	t->socks[t->nsocks++] = (struct trap_sock){ .fd = fd };
	return 0;
}

struct osnmp_trap *
osnmp_trap_open(struct loop *l, struct osnmp_engine *eng,
    const struct osnmp_trap_opts *o, osnmp_trap_cb cb, void *arg,
    char *err, size_t errlen)
{
	struct osnmp_trap *t;

	if (o->nlisten == 0 || o->nlisten > OSNMP_TRAP_MAX_LISTEN) {
		snprintf(err, errlen, "traps: 1-%d listen addresses",
		    OSNMP_TRAP_MAX_LISTEN);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	t->rate = o->rate;
	t->in = xcalloc(TRAP_RECV_BATCH, TRAP_SLOT);
	if (trap_os_new(t) == -1) {
		snprintf(err, errlen, "traps: out of memory");
		osnmp_trap_close(t);
		return NULL;
	}
	t->sources = xcalloc(TRAP_SOURCES, sizeof(*t->sources));
	t->dec.vbs = xcalloc(OSNMP_TRAP_MAX_VARBINDS, sizeof(*t->dec.vbs));
	t->ncommunities = o->ncommunities;
	t->communities = xcalloc(o->ncommunities + 1, sizeof(char *));
	t->community_len = xcalloc(o->ncommunities + 1, sizeof(size_t));
	for (size_t i = 0; i < o->ncommunities; i++) {
		t->communities[i] = strdup(o->communities[i]);
		t->community_len[i] = strlen(o->communities[i]);
	}
	if (o->nusers > 0 && (t->usm = trap_usm_new(eng, o->users, o->nusers,
	    o->state_dir, err, errlen)) == NULL) {
		osnmp_trap_close(t);
		return NULL;
	}
	for (size_t i = 0; i < o->nlisten; i++)
		if (trap_bind(t, o->listen[i], o->queue_max ? o->queue_max : 4096,
		    err, errlen) == -1) {
			osnmp_trap_close(t);
			return NULL;
		}
	return t;
}

void
osnmp_trap_close(struct osnmp_trap *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nsocks; i++) {
		loop_io_del(t->loop, t->socks[i].fd);
		trap_os_close(t->socks[i].fd);
	}
	for (size_t i = 0; i < t->ncommunities; i++) {
		platform_memzero(t->communities[i], t->community_len[i]);
		free(t->communities[i]);
	}
	free(t->communities);
	free(t->community_len);
	trap_usm_free(t->usm);
	free(t->dec.vbs);
	free(t->sources);
	free(t->in);
	trap_os_free(t);
	free(t);
}

void
osnmp_trap_stats(const struct osnmp_trap *t, struct osnmp_trap_stats *st)
{
	*st = t->stats;
}

void
osnmp_trap_engine(const struct osnmp_trap *t, char *hex, size_t len,
    uint32_t *boots)
{
	if (t->usm == NULL) {
		if (len)
			hex[0] = '\0';
		*boots = 0;
		return;
	}
	trap_usm_engine(t->usm, hex, len, boots);
}
