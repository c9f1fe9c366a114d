/*
 * The request engine: sessions, caps, queues, loop integration.
 *
 * Each session owns one UDP socket registered with the loop and one loop
 * timer armed from snmp_sess_select_info2() for net-snmp's own retry and
 * timeout handling. Requests over a cap wait in the session's queue; a
 * session with queued work and a free per-target slot waits in the
 * engine's ready list for a global slot. A new session opens its net-snmp
 * session and socket only when it gets that slot: ten thousand requests
 * queued behind max_inflight hold no descriptors, only memory.
 *
 * An idle session lingers until it is reused, idle_ms passes, or the
 * idle or socket caps evict it, oldest first. Its socket leaves the loop
 * (so a CLI command still ends when its work does) on the next loop turn,
 * not at once: a walk's next GETBULK, sent from the reply's callback,
 * finds it still registered and costs no epoll_ctl. Expiry is checked
 * when the engine is next used: a lingering session costs one descriptor
 * and no timer, and the caps bound how many there are.
 */
#include "snmp/snmp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void sess_io_cb(struct loop *, os_socket, int, void *);
static void sess_timer_cb(struct loop *, struct loop_timer *, void *);
static void engine_pump(struct osnmp_engine *);
static void sess_idle(struct osnmp_sess *);
static void engine_unwatch_cb(struct loop *, struct loop_timer *, void *);

/* net-snmp's USM table is process-wide: the last engine wipes it. */
static unsigned engines_live;

struct osnmp_engine *
osnmp_engine_new(struct loop *loop, const struct osnmp_engine_opts *o)
{
	struct osnmp_engine *e = xcalloc(1, sizeof(*e));

	e->loop = loop;
	e->opts = *o;
	if (e->opts.max_inflight == 0)
		e->opts.max_inflight = 1000;
	if (e->opts.max_per_target == 0)
		e->opts.max_per_target = 4;
	if (e->opts.max_queued == 0)
		e->opts.max_queued = 100000;
	if (e->opts.max_idle == 0)
		e->opts.max_idle = 256;
	if (e->opts.max_sessions == 0)
		e->opts.max_sessions = 1024;
	if (e->opts.idle_ms == 0)
		e->opts.idle_ms = 5000;
	TQ_INIT(&e->ready);
	TQ_INIT(&e->sessions);
	TQ_INIT(&e->idle);
	TQ_INIT(&e->done);
	loop_timer_init(&e->done_timer, engine_done_cb, e);
	loop_timer_init(&e->unwatch_timer, engine_unwatch_cb, e);
	netsnmp_large_fd_set_init(&e->fdset, FD_SETSIZE);
	engines_live++;
	return e;
}

void
osnmp_engine_free(struct osnmp_engine *e)
{
	struct osnmp_sess *s;

	if (e == NULL)
		return;
	/* Callbacks of the requests failed below must not start new ones. */
	e->closing = true;
	while ((s = TQ_FIRST(&e->sessions)) != NULL) {
		sess_fail_all(s, OSNMP_ST_ERROR, "engine shut down");
		sess_close(s);
	}
	engine_run_done(e);
	loop_timer_disarm(e->loop, &e->done_timer);
	loop_timer_disarm(e->loop, &e->unwatch_timer);
	netsnmp_large_fd_set_cleanup(&e->fdset);
	engine_v3_cache_free(e);
	free(e);
	if (--engines_live == 0)
		v3_keys_unbind_all();
}

void
osnmp_engine_stats(const struct osnmp_engine *e, struct osnmp_engine_stats *st)
{
	*st = e->stats;
	st->sessions = e->nsessions;
	st->idle = e->nidle;
}

unsigned
osnmp_engine_inflight(const struct osnmp_engine *e)
{
	return e->inflight;
}

bool
osnmp_engine_closing(const struct osnmp_engine *e)
{
	return e->closing;
}

/* ---- completion: callbacks always run from the loop ---- */

void
engine_done_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	engine_run_done(arg);
}

void
engine_run_done(struct osnmp_engine *e)
{
	struct osnmp_req *r;

	while ((r = TQ_FIRST(&e->done)) != NULL) {
		struct osnmp_reply rep = {
			.status = r->status,
			.pdu = r->response,
			.errmsg = r->errmsg[0] ? r->errmsg : NULL,
			.rtt_us = r->rtt_us,
		};
		TQ_REMOVE(&e->done, r, link);
		r->cb(&rep, r->arg);
		if (r->response)
			snmp_free_pdu(r->response);
		if (r->pdu)
			snmp_free_pdu(r->pdu);
		free(r);
	}
}

/* Move r to the done list; it is reported on the next loop turn. */
void
req_finish(struct osnmp_req *r, enum osnmp_status st, netsnmp_pdu *resp,
    const char *msg)
{
	struct osnmp_engine *e = r->eng;

	r->status = st;
	r->response = resp;
	if (msg)
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", msg);
	r->rtt_us = r->sent_us ? mono_us() - r->sent_us : 0;
	TQ_INSERT_TAIL(&e->done, r, link);
	if (!loop_timer_armed(&e->done_timer))
		loop_timer_arm(e->loop, &e->done_timer, 0);
}

/* ---- sessions ---- */

static uint64_t
fnv64_str(uint64_t h, const char *p)
{
	for (; p != NULL && *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211u;
	return (h ^ 0xff) * 1099511628211u;   /* ends the field */
}

static uint64_t
fnv64_int(uint64_t h, int v)
{
	return (h ^ (uint32_t)v) * 1099511628211u;
}

/* What a session's keys and community depend on. Sessions are looked up
 * by credential pointer too; this tells a credential from a different
 * one later allocated at the same address (a lingering session outlives
 * the poll that borrowed its credential). */
static uint64_t
cred_digest(const struct config_credential *c)
{
	uint64_t h = 14695981039346656037u;

	h = fnv64_int(h, c->version);
	h = fnv64_str(h, c->community);
	h = fnv64_str(h, c->user);
	h = fnv64_int(h, c->level);
	h = fnv64_int(h, c->auth_protocol);
	h = fnv64_str(h, c->auth_password);
	h = fnv64_int(h, c->priv_protocol);
	return fnv64_str(h, c->priv_password);
}

/* FNV-1a over what makes a session: a scan opens thousands at once. */
static uint32_t
sess_hash(const struct osnmp_target *t, uint64_t fp)
{
	uint32_t h = 2166136261u;
	const uintptr_t cred = (uintptr_t)t->cred;

	for (const char *p = t->host; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ t->port) * 16777619u;
	h = (h ^ (uint32_t)(cred >> 4)) * 16777619u;
	h = (h ^ (uint32_t)fp) * 16777619u;
	return h;
}

static struct osnmp_sess *
sess_find(struct osnmp_engine *e, const struct osnmp_target *t, uint64_t fp)
{
	uint32_t h = sess_hash(t, fp);
	struct osnmp_sess *s;

	for (s = e->hash[h % SESS_HASH_SIZE]; s != NULL; s = s->hnext)
		if (s->hash == h && s->cred == t->cred && s->cred_fp == fp &&
		    s->port == t->port && s->timeout_ms == t->timeout_ms &&
		    s->retries == t->retries && strcmp(s->host, t->host) == 0 &&
		    !s->dead && !s->stale)
			return s;
	return NULL;
}

/* Close idle sessions past idle_ms, oldest first. */
static void
engine_expire_idle(struct osnmp_engine *e)
{
	struct osnmp_sess *s;
	uint64_t now = mono_ms();

	while ((s = TQ_FIRST(&e->idle)) != NULL &&
	    now - s->idle_since_ms >= e->opts.idle_ms)
		sess_close(s);
}

static void
sess_unidle(struct osnmp_sess *s)
{
	struct osnmp_engine *e = s->eng;

	TQ_REMOVE(&e->idle, s, ilink);
	e->nidle--;
	s->idle = false;
	if (s->watched && --e->idle_watched == 0)
		loop_timer_disarm(e->loop, &e->unwatch_timer);
}

/* Idle sessions leave the loop: the newest ones, at the tail, are the
 * only ones still watched. */
static void
engine_unwatch_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct osnmp_engine *e = arg;
	struct osnmp_sess *s;

	TQ_FOREACH_REVERSE(s, &e->idle, osnmp_sess_list, ilink) {
		if (!s->watched)
			break;
		loop_io_del(e->loop, s->fd);
		s->watched = false;
	}
	e->idle_watched = 0;
}

/* Back from the idle list: the socket rejoins the loop if it had left. */
static int
sess_wake(struct osnmp_sess *s, const struct osnmp_target *t)
{
	struct osnmp_engine *e = s->eng;

	sess_unidle(s);
	s->cred = t->cred;
	if (s->watched)
		return 0;
	/* Reading SO_ERROR clears an ICMP error that a late datagram of the
	 * last request drew: it says nothing about the next one. */
	(void)platform_sock_error(s->fd);
	if (loop_io_set(e->loop, s->fd, LOOP_READ, sess_io_cb, s) == -1) {
		sess_close(s);
		return -1;
	}
	s->watched = true;
	return 0;
}

static void
sess_unhash(struct osnmp_sess *s)
{
	struct osnmp_sess **pp = &s->eng->hash[s->hash % SESS_HASH_SIZE];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			return;
		}
}

/* IPv4 first, as net-snmp's tools do for a name like "localhost". */
static int
resolve(const char *host, unsigned port, struct sockaddr_storage *ss,
    socklen_t *sslen, char *err, size_t errlen)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	char portstr[8];
	int rc = EAI_NONAME;

	snprintf(portstr, sizeof(portstr), "%u", port);
	for (size_t i = 0; i < countof(families); i++) {
		hints.ai_family = families[i];
		if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0)
			continue;
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*sslen = res->ai_addrlen;
		freeaddrinfo(res);
		return 0;
	}
	snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
	return -1;
}

void
sess_arm(struct osnmp_sess *s)
{
	struct timeval tv = { 0, 0 };
	int numfds = 0, block = 1;
	uint64_t ms;

	if (s->sessp == NULL)
		return;
	NETSNMP_LARGE_FD_ZERO(&s->eng->fdset);
	snmp_sess_select_info2(s->sessp, &numfds, &s->eng->fdset, &tv, &block);
	if (block) {
		loop_timer_disarm(s->eng->loop, &s->timer);
		return;
	}
	ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)(tv.tv_usec + 999) / 1000u;
	loop_timer_arm(s->eng->loop, &s->timer, ms);
}

/* Whether a session given the next global slot could use it now. */
static bool
engine_slot_free(const struct osnmp_engine *e)
{
	/* A v3 engine discovery on the wire counts as a request. */
	return e->inflight + e->discovering < e->opts.max_inflight;
}

/* s's net-snmp session and connected socket, on the loop. 0, or -1 with
 * err (s stays without a socket). */
static int
sess_sock_open(struct osnmp_sess *s, char *err, size_t errlen)
{
	struct osnmp_engine *e = s->eng;
	netsnmp_transport *tr;

	/* The socket cap: make room from the idle sessions, oldest first. */
	while (e->nsockets >= e->opts.max_sessions && !TQ_EMPTY(&e->idle))
		sess_close(TQ_FIRST(&e->idle));
	if (sess_netsnmp_open(s, err, errlen) == -1) {
		/* Out of descriptors, perhaps: lingering sessions give way. */
		if (TQ_EMPTY(&e->idle))
			return -1;
		while (!TQ_EMPTY(&e->idle))
			sess_close(TQ_FIRST(&e->idle));
		if (sess_netsnmp_open(s, err, errlen) == -1)
			return -1;
	}
	tr = snmp_sess_transport(s->sessp);
	s->fd = tr && tr->sock >= 0 ? (os_socket)tr->sock : OS_SOCKET_NONE;
	/* A connected UDP socket: the kernel accepts replies only from the
	 * peer and reports ICMP port-unreachable as ECONNREFUSED. */
	if (s->fd == OS_SOCKET_NONE || connect(s->fd, (struct sockaddr *)&s->peer, s->peerlen) == -1 ||
	    loop_io_set(e->loop, s->fd, LOOP_READ, sess_io_cb, s) == -1) {
		snprintf(err, errlen, "%s: cannot set up socket: %s", s->host,
		    strerror(errno));
		snmp_sess_close(s->sessp);
		s->sessp = NULL;
		s->fd = OS_SOCKET_NONE;
		return -1;
	}
	s->watched = true;
	e->nsockets++;
	return 0;
}

/* A session for t, without its socket yet (sess_sock_open). */
static struct osnmp_sess *
sess_open(struct osnmp_engine *e, const struct osnmp_target *t, uint64_t fp,
    char *err, size_t errlen)
{
	struct osnmp_sess *s;
	char addr[INET6_ADDRSTRLEN];

	s = xcalloc(1, sizeof(*s));
	s->eng = e;
	s->fd = OS_SOCKET_NONE;
	s->cred_fp = fp;
	snprintf(s->host, sizeof(s->host), "%s", t->host);
	s->port = t->port;
	s->cred = t->cred;
	s->timeout_ms = t->timeout_ms;
	s->retries = t->retries;
	TQ_INIT(&s->pending);
	loop_timer_init(&s->timer, sess_timer_cb, s);
	if (resolve(t->host, t->port, &s->peer, &s->peerlen, err, errlen) == -1)
		goto fail;
	if (s->peer.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s->peer;
		inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
		snprintf(s->peername, sizeof(s->peername), "udp6:[%s]:%u", addr, t->port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&s->peer;
		inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
		snprintf(s->peername, sizeof(s->peername), "udp:%s:%u", addr, t->port);
	}
	TQ_INSERT_TAIL(&e->sessions, s, elink);
	e->nsessions++;
	s->hash = sess_hash(t, fp);
	s->hnext = e->hash[s->hash % SESS_HASH_SIZE];
	e->hash[s->hash % SESS_HASH_SIZE] = s;
	return s;
fail:
	platform_memzero(&s->keys, sizeof(s->keys));
	free(s);
	return NULL;
}

void
sess_close(struct osnmp_sess *s)
{
	struct osnmp_engine *e = s->eng;

	s->closing = true;
	if (s->in_ready)
		TQ_REMOVE(&e->ready, s, rlink);
	if (s->idle)
		sess_unidle(s);
	loop_timer_disarm(e->loop, &s->timer);
	sess_discovery_end(s);
	if (s->fd != OS_SOCKET_NONE) {
		loop_io_del(e->loop, s->fd);
		e->nsockets--;
	}
	if (s->sessp)
		snmp_sess_close(s->sessp);   /* closes the socket too */
	TQ_REMOVE(&e->sessions, s, elink);
	sess_unhash(s);
	e->nsessions--;
	platform_memzero(&s->keys, sizeof(s->keys));
	free(s);
}

/* Nothing queued or on the wire: linger for reuse, or close. */
static void
sess_idle(struct osnmp_sess *s)
{
	struct osnmp_engine *e = s->eng;

	if (s->dead || s->stale || e->closing || s->fd == OS_SOCKET_NONE) {
		sess_close(s);
		return;
	}
	if (s->idle)
		return;
	loop_timer_disarm(e->loop, &s->timer);
	s->idle = true;
	s->idle_since_ms = mono_ms();
	TQ_INSERT_TAIL(&e->idle, s, ilink);
	e->nidle++;
	if (s->watched && e->idle_watched++ == 0)
		loop_timer_arm(e->loop, &e->unwatch_timer, 0);
	while (e->nidle > e->opts.max_idle)
		sess_close(TQ_FIRST(&e->idle));
}

/* Fail everything queued or on the wire (socket error, shutdown). */
void
sess_fail_all(struct osnmp_sess *s, enum osnmp_status st, const char *msg)
{
	struct osnmp_req *r;

	while ((r = TQ_FIRST(&s->pending)) != NULL) {
		TQ_REMOVE(&s->pending, r, link);
		s->eng->queued--;
		req_finish(r, st, NULL, msg);
	}
	s->dead = true;
	for (size_t i = 0; i < countof(s->wire); i++) {
		if ((r = s->wire[i]) == NULL)
			continue;
		s->wire[i] = NULL;
		s->inflight--;
		s->eng->inflight--;
		req_finish(r, st, NULL, msg);
	}
}

/* v3: forget the cached engine ID; the next request for the target
 * opens a new session that discovers it again (this one finishes what it
 * has and closes). A live device costs one more round trip. */
static void
sess_rediscover(struct osnmp_sess *s)
{
	if (snmp_sess_session(s->sessp)->version != SNMP_VERSION_3)
		return;
	v3_engid_forget(s->eng, s->peername);
	s->stale = true;
}

/* net-snmp's per-request callback (from snmp_sess_read2/_timeout). */
int
sess_pdu_cb(int op, netsnmp_session *ns, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct osnmp_req *r = magic;
	struct osnmp_sess *s = ns->callback_magic;

	/* A failed first send is reported by sess_send_one(), with the
	 * library's reason; net-snmp also calls us with SEND_FAILED then. */
	if (op == NETSNMP_CALLBACK_OP_RESEND || s == NULL || s->closing ||
	    r == NULL || r->slot < 0 ||
	    (op == NETSNMP_CALLBACK_OP_SEND_FAILED && s->sending))
		return 1;
	/* notInTimeWindow (the device rebooted, or our cached boots/time are
	 * stale): net-snmp learnt the device's time from this authenticated
	 * REPORT and resends at once, or reports SEC_ERROR when out of
	 * retries. Wait for either, once per request (RFC 3414 4). */
	if (op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE && pdu != NULL &&
	    pdu->command == SNMP_MSG_REPORT && !r->resynced &&
	    snmpv3_get_report_type(pdu) == SNMPERR_NOT_IN_TIME_WINDOW) {
		r->resynced = true;
		return 1;
	}
	s->wire[r->slot] = NULL;
	r->slot = -1;
	s->inflight--;
	s->eng->inflight--;
	/* Debian's net-snmp delivers a REPORT as SEC_ERROR, then again as
	 * RECEIVED_MESSAGE; slot == -1 makes the second call a no-op. */
	if ((op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE ||
	    op == NETSNMP_CALLBACK_OP_SEC_ERROR) && pdu != NULL &&
	    pdu->command == SNMP_MSG_REPORT) {
		if (snmpv3_get_report_type(pdu) == SNMPERR_UNKNOWN_ENG_ID)
			sess_rediscover(s);
		req_finish(r, OSNMP_ST_AUTH, NULL, sess_report_reason(pdu));
	} else if (op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE && pdu != NULL) {
		req_finish(r, OSNMP_ST_OK, snmp_clone_pdu(pdu), NULL);
	} else if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
		/* A device whose engine ID changed answers with a REPORT net-snmp
		 * drops (wrong engine ID): it only looks silent. */
		sess_rediscover(s);
		req_finish(r, OSNMP_ST_TIMEOUT, NULL, "timeout: no response");
	} else {
		req_finish(r, OSNMP_ST_ERROR, NULL,
		    op == NETSNMP_CALLBACK_OP_SEC_ERROR ? "security error" :
		    "send failed");
	}
	return 1;
}

/* Put one pending request of s on the wire. */
static void
sess_send_one(struct osnmp_sess *s)
{
	struct osnmp_engine *e = s->eng;
	struct osnmp_req *r = TQ_FIRST(&s->pending);
	int slot = -1;

	TQ_REMOVE(&s->pending, r, link);
	for (size_t i = 0; i < countof(s->wire); i++)
		if (s->wire[i] == NULL) {
			slot = (int)i;
			break;
		}
	r->slot = slot;
	s->wire[slot] = r;
	s->inflight++;
	e->inflight++;
	e->queued--;
	if (r->sent_us == 0)
		r->sent_us = mono_us();
	netsnmp_pdu *pdu = r->pdu;
	r->pdu = NULL;
	s->sending = true;
	int reqid = v3_keys_bind(s) == -1 ? 0 :
	    snmp_sess_async_send(s->sessp, pdu, sess_pdu_cb, r);
	s->sending = false;
	if (reqid == 0) {
		int err = 0, serr = 0;
		char *msg = NULL;
		snmp_sess_error(s->sessp, &err, &serr, &msg);
		snmp_free_pdu(pdu);
		s->wire[slot] = NULL;
		r->slot = -1;
		s->inflight--;
		e->inflight--;
		req_finish(r, OSNMP_ST_ERROR, NULL, msg ? msg : "send failed");
		free(msg);
	}
	sess_arm(s);
}

/* Hand free global slots to sessions that have work and a free slot. */
static void
engine_pump(struct osnmp_engine *e)
{
	struct osnmp_sess *s;

	char err[256];

	while (engine_slot_free(e) && (s = TQ_FIRST(&e->ready)) != NULL) {
		TQ_REMOVE(&e->ready, s, rlink);
		s->in_ready = false;
		if (TQ_EMPTY(&s->pending) || s->dead)
			continue;
		if (s->sessp == NULL) {
			/* Its turn: now it needs a socket. */
			if (sess_sock_open(s, err, sizeof(err)) == -1) {
				sess_fail_all(s, OSNMP_ST_ERROR, err);
				if (!s->busy)   /* else its caller closes it */
					sess_close(s);
				continue;
			}
			sess_start(s);
		}
		if (!sess_usable(s))
			continue;   /* v3 discovery first: sess_after() reschedules */
		sess_send_one(s);
		if (!TQ_EMPTY(&s->pending) && s->inflight < sess_cap(s)) {
			TQ_INSERT_TAIL(&e->ready, s, rlink);
			s->in_ready = true;
		}
	}
}

void
sess_schedule(struct osnmp_sess *s)
{
	struct osnmp_engine *e = s->eng;

	if (!s->in_ready && !s->dead && !TQ_EMPTY(&s->pending) &&
	    s->inflight < sess_cap(s) && (s->sessp == NULL || sess_usable(s))) {
		TQ_INSERT_TAIL(&e->ready, s, rlink);
		s->in_ready = true;
	}
	engine_pump(e);
}

unsigned
sess_cap(const struct osnmp_sess *s)
{
	unsigned cap = s->eng->opts.max_per_target;

	return cap > countof(s->wire) ? (unsigned)countof(s->wire) : cap;
}

/* After net-snmp ran callbacks for s: refill, re-arm, maybe close. */
void
sess_after(struct osnmp_sess *s)
{
	struct osnmp_engine *e = s->eng;

	s->busy = true;
	sess_start(s);
	sess_schedule(s);
	s->busy = false;
	if (s->inflight == 0 && TQ_EMPTY(&s->pending))
		sess_idle(s);
	else
		sess_arm(s);
	engine_pump(e);
}

/* Nobody listens (an ICMP error on the connected socket): every
 * request of the session ends now with what the error says. */
static void
sess_fail_soerr(struct osnmp_sess *s, int soerr)
{
	struct osnmp_engine *e = s->eng;
	char msg[128];

	snprintf(msg, sizeof(msg), "%s", soerr == ECONNREFUSED ?
	    "port unreachable (no SNMP agent)" : strerror(soerr));
	sess_fail_all(s, soerr == ECONNREFUSED ? OSNMP_ST_REFUSED :
	    OSNMP_ST_ERROR, msg);
	sess_close(s);
	engine_pump(e);
	engine_run_done(e);
}

static void
sess_io_cb(struct loop *l, os_socket fd, int events, void *arg)
{
	struct osnmp_sess *s = arg;
	struct osnmp_engine *e = s->eng;
	int soerr;

	/* A pending ICMP error on the connected socket: nobody listens. The
	 * loop says when there is one, so a plain reply costs no syscall. */
	if ((events & LOOP_ERROR) &&
	    (soerr = platform_sock_error(fd)) > 0) {
		sess_fail_soerr(s, soerr);
		return;
	}
	/* Sized by descriptor on POSIX, by socket count on Windows: a
	 * handle's value + 1 is more than enough for both. */
	if ((size_t)fd >= (size_t)e->fdset.lfs_setsize)
		netsnmp_large_fd_set_resize(&e->fdset, (int)fd + 1);
	NETSNMP_LARGE_FD_ZERO(&e->fdset);
	NETSNMP_LARGE_FD_SET(fd, &e->fdset);
	s->busy = true;
	(void)v3_keys_bind(s);
	snmp_sess_read2(s->sessp, &e->fdset);
	s->busy = false;
	sess_after(s);
	/* Outside net-snmp and outside osnmp_send(): answer now, so a burst
	 * of replies does not pile up copied responses until a timer. */
	engine_run_done(e);
}

static void
sess_timer_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct osnmp_sess *s = arg;
	struct osnmp_engine *e = s->eng;
	int soerr;

	/* An ICMP error the loop never reported: Wine's WSAPoll does not
	 * flag one that came before it was called (a refusal on loopback
	 * does), only SO_ERROR has it. A refusal, not a timeout or a retry;
	 * on Linux epoll flagged it already and this finds nothing. */
	if (s->fd != OS_SOCKET_NONE && (soerr = platform_sock_error(s->fd)) > 0) {
		sess_fail_soerr(s, soerr);
		return;
	}
	s->busy = true;
	(void)v3_keys_bind(s);
	snmp_sess_timeout(s->sessp);
	s->busy = false;
	sess_after(s);
	engine_run_done(e);
}

int
osnmp_send(struct osnmp_engine *e, const struct osnmp_target *t, netsnmp_pdu *pdu,
    osnmp_reply_cb cb, void *arg, char *err, size_t errlen)
{
	struct osnmp_sess *s;
	struct osnmp_req *r;
	uint64_t fp;
	bool busy;

	if (e->closing) {
		snprintf(err, errlen, "SNMP engine shutting down");
		snmp_free_pdu(pdu);
		return -1;
	}
	if (e->queued >= e->opts.max_queued) {
		snprintf(err, errlen, "request queue full (%zu)", e->opts.max_queued);
		snmp_free_pdu(pdu);
		return -1;
	}
	engine_expire_idle(e);
	fp = cred_digest(t->cred);
	if ((s = sess_find(e, t, fp)) != NULL && s->idle && sess_wake(s, t) == -1)
		s = NULL;
	if (s == NULL && (s = sess_open(e, t, fp, err, errlen)) == NULL) {
		snmp_free_pdu(pdu);
		return -1;
	}
	/* Sent at once (no session waits for a slot): a socket that cannot
	 * be opened is this call's error, as a bad host name is. Queued, it
	 * is opened when its turn comes (engine_pump). */
	if (s->sessp == NULL && TQ_EMPTY(&s->pending) && TQ_EMPTY(&e->ready) &&
	    engine_slot_free(e) && sess_sock_open(s, err, errlen) == -1) {
		sess_close(s);
		snmp_free_pdu(pdu);
		return -1;
	}
	/* The v3 context travels in the PDU (net-snmp prefers it to the
	 * session's), so one session serves every context of a device. */
	if (t->cred->context && pdu->contextName == NULL) {
		pdu->contextName = xstrdup(t->cred->context);
		pdu->contextNameLen = strlen(pdu->contextName);
	}
	r = xcalloc(1, sizeof(*r));
	r->eng = e;
	r->pdu = pdu;
	r->cb = cb;
	r->arg = arg;
	r->slot = -1;
	TQ_INSERT_TAIL(&s->pending, r, link);
	e->queued++;
	/* busy: engine_pump() must not free s under us. */
	busy = s->busy;
	s->busy = true;
	if (s->sessp != NULL)
		sess_start(s);
	sess_schedule(s);
	s->busy = busy;
	if (s->inflight == 0 && TQ_EMPTY(&s->pending) && !s->busy)
		sess_idle(s);
	return 0;
}
