/*
 * The scanner's I/O, the part every OS shares (snmp.h, scan.c): the reply
 * window that paces probes against what the receive buffer can hold,
 * matching replies and ICMP errors to their probes, and sending batches
 * with what to do when the OS pushes back. The OS's own sockets are
 * scan_linux.c (sendmmsg, recvmmsg) or scan_win.c (Winsock).
 */
#include "snmp/scan_int.h"

#include <stdlib.h>
#include <string.h>

uint64_t
scan_grace(const struct osnmp_scan *s)
{
	double g = s->srtt_us + 4 * s->rttvar_us;
	uint64_t t = (uint64_t)s->opts.timeout_ms * 1000;

	if (g < SCAN_GRACE_MIN_US)
		g = SCAN_GRACE_MIN_US;
	return g > (double)t ? t : (uint64_t)g;
}

static void
win_leave(struct osnmp_scan *s, int32_t i)
{
	struct scan_slot *sl = &s->tab.slot[i];

	if (!(sl->flags & SCAN_F_INWIN))
		return;
	sl->flags &= (uint8_t)~SCAN_F_INWIN;
	s->win_used--;
	if (s->win_oldest == i) {
		/* The next slot on the wire is the next oldest; it may have
		 * left already (answered slots are off the wire). */
		int32_t n = sl->next;
		while (n >= 0 && !(s->tab.slot[n].flags & SCAN_F_INWIN))
			n = s->tab.slot[n].next;
		s->win_oldest = n;
	}
}

/* Probes sent more than the grace time ago leave the window. */
void
scan_win_expire(struct osnmp_scan *s, uint64_t now)
{
	uint64_t grace = scan_grace(s);

	while (s->win_oldest >= 0 &&
	    s->tab.slot[s->win_oldest].sent_us + grace <= now)
		win_leave(s, s->win_oldest);
}

void
scan_wire_remove(struct osnmp_scan *s, int32_t i)
{
	win_leave(s, i);
	scan_list_remove(&s->tab, i);
}

static void
rtt_sample(struct osnmp_scan *s, uint64_t rtt)
{
	double r = (double)rtt;

	if (s->srtt_us == 0) {
		s->srtt_us = r;
		s->rttvar_us = r / 2;
		return;
	}
	s->rttvar_us = 0.75 * s->rttvar_us + 0.25 * (r > s->srtt_us ?
	    r - s->srtt_us : s->srtt_us - r);
	s->srtt_us = 0.875 * s->srtt_us + 0.125 * r;
}

void
scan_set_rate(struct osnmp_scan *s, double rate)
{
	/* Two ticks' worth of tokens: what accumulates between two wake-ups,
	 * and room for a late one, so oversleeping does not lose tokens. */
	double burst = 2 * rate * SCAN_TICK_US / 1e6;

	s->rate = rate;
	ratelimit_init(&s->rl, rate, burst > 1 ? burst : 1, mono_us());
}

/* The kernel dropped replies or refused sends: halve the rate (once per
 * grace time, so one burst of drops counts once). */
void
scan_slow_down(struct osnmp_scan *s, const char *why)
{
	uint64_t now = scan_now(s);
	double r = s->rate;

	if (s->last_slowdown != 0 && now - s->last_slowdown < scan_grace(s))
		return;
	s->last_slowdown = now;
	if (r == 0)   /* unlimited so far: start from what the window allows */
		r = (double)s->win_cap * 1e6 / (double)scan_grace(s);
	r /= 2;
	if (r < SCAN_RATE_MIN)
		r = SCAN_RATE_MIN;
	scan_set_rate(s, r);
	log_debug("scan: %s; slowing to %.0f probes/s", why, r);
}

/* Replies were dropped: some probe in flight now lost its answer, so
 * each gets another try at its timeout (scan_expire), whatever the
 * retries. */
static void
scan_lost_replies(struct osnmp_scan *s)
{
	s->lost = false;
	s->last_loss = scan_now(s);
	scan_slow_down(s, "the receive buffer dropped replies");
}

void
scan_match(struct osnmp_scan *s, const uint8_t *buf, size_t len,
    const struct sockaddr_storage *from)
{
	struct scan_reply rep;
	struct scan_slot *sl;
	const struct config_credential *c;
	int32_t i;

	if (scan_reply_parse(buf, len, &rep) == -1 ||
	    (i = scan_table_find(&s->tab, rep.version == 3 ? rep.msgid :
	    rep.reqid)) < 0) {
		s->stats.ignored++;
		return;
	}
	sl = &s->tab.slot[i];
	c = s->opts.creds[scan_slot_cred(s, sl)];
	/* A late answer to a probe queued for its retry still counts. */
	if ((sl->list != SCAN_L_WIRE && sl->list != SCAN_L_QUEUE) ||
	    !scan_slot_is_peer(s, sl, from)) {
		s->stats.ignored++;
		return;
	}
	if (c->version == CFG_SNMP_V3) {
		/* Any answer to discovery (a REPORT carrying the engine ID). */
		if (rep.version != 3) {
			s->stats.ignored++;
			return;
		}
	} else if (rep.version != (c->version == CFG_SNMP_V1 ? 0 : 1) ||
	    rep.pdu_type != 0xa2 || rep.community_len != strlen(c->community) ||
	    memcmp(rep.community, c->community, rep.community_len) != 0) {
		s->stats.ignored++;
		return;
	}
	s->stats.replies++;
	if (sl->list == SCAN_L_WIRE)
		rtt_sample(s, scan_now(s) - sl->sent_us);
	scan_wire_remove(s, i);
	if (c->version == CFG_SNMP_V3) {
		sl->flags |= SCAN_F_V3_OK;
		scan_engine_get(s, i);
	} else {
		scan_found_direct(s, i, &rep);
	}
}

void
scan_refused(struct osnmp_scan *s, const uint8_t *probe, size_t len,
    const struct sockaddr_storage *to)
{
	int32_t i = scan_table_find(&s->tab, scan_probe_reqid(probe, len));

	if (i >= 0 && s->tab.slot[i].list == SCAN_L_WIRE &&
	    scan_slot_is_peer(s, &s->tab.slot[i], to)) {
		scan_wire_remove(s, i);
		scan_slot_done(s, i);
	}
}

void
scan_drain(struct osnmp_scan *s)
{
	if (s->sock4.fd != OS_SOCKET_NONE)
		scan_os_drain(s, &s->sock4);
	if (s->sock6.fd != OS_SOCKET_NONE)
		scan_os_drain(s, &s->sock6);
	if (s->lost)
		scan_lost_replies(s);
}

/* Send n prepared probes of one family; the ones not sent go back to the
 * front of the queue. false if the kernel pushed back. */
bool
scan_flush(struct osnmp_scan *s, int family, int n)
{
	struct scan_sock *k = family == AF_INET6 ? &s->sock6 : &s->sock4;
	enum scan_send_err e = SCAN_SEND_FAILED;
	int sent = 0;
	bool ok = true;

	while (sent < n) {
		int r = scan_os_send(s, k, sent, n, &e);
		if (r > 0) {
			uint64_t now = scan_now(s);
			for (int j = sent; j < sent + r; j++) {
				int32_t i = s->out_slot[j];
				struct scan_slot *sl = &s->tab.slot[i];
				sl->tries++;
				sl->sent_us = now;
				sl->flags |= SCAN_F_INWIN;
				scan_list_push(&s->tab, SCAN_L_WIRE, i);
				if (s->win_oldest < 0)
					s->win_oldest = i;
				s->win_used++;
			}
			s->stats.sent += (uint64_t)r;
			sent += r;
			continue;
		}
		if (e != SCAN_SEND_FAILED) {
			ok = false;
			break;
		}
		/* This address cannot be sent to (no route, a broadcast
		 * address, ...): it is done, the rest go on. */
		scan_slot_done(s, s->out_slot[sent]);
		sent++;
	}
	for (int j = n - 1; j >= sent; j--)
		scan_list_push_front(&s->tab, SCAN_L_QUEUE, s->out_slot[j]);
	if (!ok) {
		s->backoff_us = s->backoff_us ? s->backoff_us * 2 : 1000;
		if (s->backoff_us > SCAN_BACKOFF_MAX_MS * 1000)
			s->backoff_us = SCAN_BACKOFF_MAX_MS * 1000;
		s->backoff_until = scan_now(s) + s->backoff_us;
		if (e == SCAN_SEND_NOBUFS)
			scan_slow_down(s, "the kernel is out of send buffers");
	} else {
		s->backoff_us = 0;
	}
	return ok;
}

int
scan_sock_open(struct osnmp_scan *s, int family, char *err, size_t errlen)
{
	struct scan_sock *k = family == AF_INET6 ? &s->sock6 : &s->sock4;
	int got = 0;

	if (scan_os_open(s, k, family, &got, err, errlen) == -1)
		return -1;
	/* The window is what the kernel granted, not what we asked for:
	 * half of it, for ICMP errors and late replies. */
	uint32_t cap = got > 0 ? (uint32_t)got / SCAN_REPLY_COST / 2 : 0;
	if (cap < SCAN_WINDOW_MIN)
		cap = SCAN_WINDOW_MIN;
	if (s->win_cap == 0 || cap < s->win_cap)
		s->win_cap = cap;
	log_debug("scan: %s socket: receive buffer %d bytes, %u replies in flight",
	    family == AF_INET6 ? "IPv6" : "IPv4", got, s->win_cap);
	return 0;
}
