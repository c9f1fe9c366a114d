/*
 * Discovery scans (snmp.h). Each address gets, per credential in order
 * until one answers, one probe encoded once per credential (scan_ber.c)
 * with its own request id, sent in batches from one unconnected socket
 * per address family (sendmmsg on Linux, scan_linux.c; sendto on Windows,
 * scan_win.c); replies are read in batches and matched to their probe by
 * request id, source address and port (scan_io.c, scan_table.c). No
 * session, socket or allocation per probe.
 *
 * Pacing. A token bucket holds probes to the rate; the table holds them
 * to the concurrency. A reply window holds them to what the receive
 * buffer can keep: probes sent less than a "grace" time ago (a smoothed
 * RTT plus four deviations, as TCP's RTO) and not yet answered could all
 * answer at once, so there are never more of them than the buffer holds
 * replies. The receive queue is drained before every send batch. If the
 * kernel still drops replies (SO_RXQ_OVFL) or refuses sends (ENOBUFS),
 * the scan halves its rate, and every probe that was in flight then gets
 * another try at its timeout: one of them lost its reply, and retries
 * must not be the only thing that keeps recall at 100%.
 *
 * v3 credentials: the probe is an engine-discovery message (as v3.c
 * sends); an address that answers it gets the authenticated GET through
 * the engine (osnmp_send), which also caches its engine ID.
 */
#include "snmp/snmp_int.h"
#include "snmp/scan_int.h"

#include <stdlib.h>
#include <string.h>

static const oid scan_oids[SCAN_NVB][9] = {
	{ 1, 3, 6, 1, 2, 1, 1, 1, 0 },   /* sysDescr.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 2, 0 },   /* sysObjectID.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 3, 0 },   /* sysUpTime.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 5, 0 },   /* sysName.0 */
};

static void scan_pump(struct osnmp_scan *);
static void scan_arm_ms(struct osnmp_scan *, uint64_t when_us);

/* ---- addresses --------------------------------------------------------- */

const struct scan_range *
scan_slot_range(const struct osnmp_scan *s, const struct scan_slot *sl)
{
	return &s->ranges[sl->range];
}

static void
slot_addr_str(const struct osnmp_scan *s, const struct scan_slot *sl,
    char *buf, size_t len)
{
	const struct scan_range *r = scan_slot_range(s, sl);

	if (r->r.family == AF_INET6)
		inet_ntop(AF_INET6, &r->r.addr6, buf, (socklen_t)len);
	else
		net_ipv4_str(r->r.first + sl->off, buf, len);
}

static socklen_t
slot_sockaddr(const struct osnmp_scan *s, const struct scan_slot *sl,
    struct sockaddr_storage *ss)
{
	const struct scan_range *r = scan_slot_range(s, sl);

	memset(ss, 0, sizeof(struct sockaddr_in6));
	if (r->r.family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)r->port);
		a->sin6_addr = r->r.addr6;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)r->port);
	a->sin_addr.s_addr = htonl(r->r.first + sl->off);
	return sizeof(*a);
}

/* Is ss (a reply's source, or an ICMP error's original destination) the
 * slot's address and port? */
bool
scan_slot_is_peer(const struct osnmp_scan *s, const struct scan_slot *sl,
    const struct sockaddr_storage *ss)
{
	const struct scan_range *r = scan_slot_range(s, sl);

	if (r->r.family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		return ss->ss_family == AF_INET6 && ntohs(a->sin6_port) == r->port &&
		    memcmp(&a->sin6_addr, &r->r.addr6, 16) == 0;
	}
	const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
	return ss->ss_family == AF_INET && ntohs(a->sin_port) == r->port &&
	    ntohl(a->sin_addr.s_addr) == r->r.first + sl->off;
}

unsigned
scan_slot_cred(const struct osnmp_scan *s, const struct scan_slot *sl)
{
	/* The credential that worked last time first, then the rest in order. */
	if (sl->first == 0xff)
		return sl->step;
	if (sl->step == 0)
		return sl->first;
	return sl->step - 1u < sl->first ? sl->step - 1u : sl->step;
}

static bool
cred_is_v3(const struct osnmp_scan *s, unsigned c)
{
	return s->opts.creds[c]->version == CFG_SNMP_V3;
}

/* ---- finishing addresses ---------------------------------------------- */

void
scan_slot_done(struct osnmp_scan *s, int32_t i)
{
	scan_table_put(&s->tab, i);
	s->done++;
}

static void
vb_text(const netsnmp_variable_list *vb, char *buf, size_t len)
{
	buf[0] = '\0';
	if (vb != NULL && !osnmp_vb_is_exception(vb) &&
	    osnmp_vb_value(vb, buf, len) < 0)
		buf[0] = '\0';
}

static void
device_init(struct osnmp_scan *s, int32_t i, struct osnmp_scan_device *d)
{
	struct scan_slot *sl = &s->tab.slot[i];
	const struct scan_range *r = scan_slot_range(s, sl);

	memset(d, 0, sizeof(*d));
	slot_addr_str(s, sl, d->address, sizeof(d->address));
	d->port = r->port;
	d->sort_key = r->r.family == AF_INET6 ? UINT32_MAX : r->r.first + sl->off;
	d->cred_index = scan_slot_cred(s, sl);
	d->rtt_ms = (double)(scan_now(s) - sl->sent_us) / 1000.0;
}

static void
device_report(struct osnmp_scan *s, int32_t i, struct osnmp_scan_device *d)
{
	s->found++;
	scan_slot_done(s, i);
	if (!s->cancelled)
		s->found_cb(d, s->arg);
}

/* A v1/v2c answer, from our own parser. */
void
scan_found_direct(struct osnmp_scan *s, int32_t i, const struct scan_reply *rep)
{
	struct osnmp_scan_device d;
	netsnmp_variable_list vb;
	const struct scan_value *v;
	uint32_t sub[MAX_OID_LEN], ticks;
	oid objid[MAX_OID_LEN];
	int n;

	device_init(s, i, &d);
	memset(&vb, 0, sizeof(vb));
	/* Text as osnmp_vb_value prints it, like every other command. */
	v = &rep->vb[SCAN_VB_DESCR];
	if (v->tag == ASN_OCTET_STR) {
		vb.type = ASN_OCTET_STR;
		vb.val.string = (u_char *)v->val;
		vb.val_len = v->len;
		vb_text(&vb, d.sys_descr, sizeof(d.sys_descr));
	}
	v = &rep->vb[SCAN_VB_NAME];
	if (v->tag == ASN_OCTET_STR) {
		vb.type = ASN_OCTET_STR;
		vb.val.string = (u_char *)v->val;
		vb.val_len = v->len;
		vb_text(&vb, d.sys_name, sizeof(d.sys_name));
	}
	v = &rep->vb[SCAN_VB_OBJECT_ID];
	if (v->tag == ASN_OBJECT_ID &&
	    (n = scan_oid_decode(v->val, v->len, sub, MAX_OID_LEN)) > 0) {
		for (int k = 0; k < n; k++)
			objid[k] = sub[k];
		vb.type = ASN_OBJECT_ID;
		vb.val.objid = objid;
		vb.val_len = (size_t)n * sizeof(oid);
		vb_text(&vb, d.sys_object_id, sizeof(d.sys_object_id));
	}
	v = &rep->vb[SCAN_VB_UPTIME];
	if (v->tag == ASN_TIMETICKS && scan_uint32_decode(v->val, v->len, &ticks) == 0)
		d.sys_uptime = ticks;
	device_report(s, i, &d);
}

/* Next credential, or the address is done. */
static void
slot_next_cred(struct osnmp_scan *s, int32_t i);

static void
engine_reply(const struct osnmp_reply *rep, void *arg)
{
	struct scan_eng_req *er = arg;
	struct osnmp_scan *s = er->scan;
	int32_t i = er->slot;
	struct scan_slot *sl = &s->tab.slot[i];

	s->engine_reqs--;
	sl->flags &= (uint8_t)~SCAN_F_ENGINE;
	s->busy = true;
	if (s->cancelled || osnmp_engine_closing(s->eng)) {
		scan_slot_done(s, i);
	} else if (rep->status == OSNMP_ST_OK) {
		struct osnmp_scan_device d;
		const netsnmp_variable_list *vb = rep->pdu->variables;
		const netsnmp_variable_list *v[SCAN_NVB] = { NULL };

		for (int k = 0; k < SCAN_NVB && vb; k++, vb = vb->next_variable)
			v[k] = vb;
		device_init(s, i, &d);
		d.rtt_ms = (double)rep->rtt_us / 1000.0;
		vb_text(v[SCAN_VB_DESCR], d.sys_descr, sizeof(d.sys_descr));
		vb_text(v[SCAN_VB_OBJECT_ID], d.sys_object_id, sizeof(d.sys_object_id));
		vb_text(v[SCAN_VB_NAME], d.sys_name, sizeof(d.sys_name));
		if (v[SCAN_VB_UPTIME] && v[SCAN_VB_UPTIME]->type == ASN_TIMETICKS)
			d.sys_uptime = (uint64_t)(*v[SCAN_VB_UPTIME]->val.integer & 0xffffffffu);
		device_report(s, i, &d);
	} else if (rep->status == OSNMP_ST_REFUSED) {
		scan_slot_done(s, i);
	} else {
		/* A wrong user or password, or no answer: the next one. */
		slot_next_cred(s, i);
	}
	s->busy = false;
	/* The pump finishes the scan (or a cancelled one) when all is done. */
	scan_arm_ms(s, scan_now(s));
}

/* The authenticated GET for an address that answered v3 discovery. */
void
scan_engine_get(struct osnmp_scan *s, int32_t i)
{
	struct scan_slot *sl = &s->tab.slot[i];
	struct scan_eng_req *er = &s->eng_req[i];
	struct osnmp_target t;
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	char err[256];

	memset(&t, 0, sizeof(t));
	slot_addr_str(s, sl, t.host, sizeof(t.host));
	t.port = scan_slot_range(s, sl)->port;
	t.cred = s->opts.creds[scan_slot_cred(s, sl)];
	t.timeout_ms = s->opts.timeout_ms;
	t.retries = s->opts.retries;
	for (size_t k = 0; k < SCAN_NVB; k++)
		snmp_add_null_var(pdu, scan_oids[k], countof(scan_oids[k]));
	er->scan = s;
	er->slot = i;
	sl->flags |= SCAN_F_ENGINE;
	s->engine_reqs++;
	if (osnmp_send(s->eng, &t, pdu, engine_reply, er, err, sizeof(err)) == -1) {
		log_debug("scan: %s: %s", t.host, err);
		s->engine_reqs--;
		sl->flags &= (uint8_t)~SCAN_F_ENGINE;
		slot_next_cred(s, i);
	}
}

static void
slot_next_cred(struct osnmp_scan *s, int32_t i)
{
	struct scan_slot *sl = &s->tab.slot[i];

	for (;;) {
		if ((size_t)sl->step + 1 >= s->opts.ncreds || s->cancelled) {
			scan_slot_done(s, i);
			return;
		}
		sl->step++;
		sl->tries = 0;
		scan_table_renew(&s->tab, i);
		if (!cred_is_v3(s, scan_slot_cred(s, sl)) || !(sl->flags & SCAN_F_V3_OK))
			break;
		/* Known to speak v3: straight to the authenticated GET. */
		scan_engine_get(s, i);
		return;
	}
	scan_list_push(&s->tab, SCAN_L_QUEUE, i);
}

/* ---- timeouts --------------------------------------------------------- */

static void
scan_expire(struct osnmp_scan *s, uint64_t now)
{
	uint64_t timeout = (uint64_t)s->opts.timeout_ms * 1000;
	int32_t i;

	scan_win_expire(s, now);
	while ((i = scan_list_first(&s->tab, SCAN_L_WIRE)) >= 0 &&
	    s->tab.slot[i].sent_us + timeout <= now) {
		struct scan_slot *sl = &s->tab.slot[i];

		scan_wire_remove(s, i);
		/* A probe in flight when the kernel last dropped replies may
		 * have lost its own: it gets another try, retries or not. */
		if (sl->tries <= s->opts.retries || (sl->sent_us <= s->last_loss &&
		    s->last_loss != 0 && sl->tries <= s->opts.retries + SCAN_LOSS_TRIES)) {
			/* Same request id: a late answer still counts. */
			scan_list_push(&s->tab, SCAN_L_QUEUE, i);
		} else {
			slot_next_cred(s, i);
		}
	}
}

/* ---- sending ---------------------------------------------------------- */

static bool
scan_next_addr(struct osnmp_scan *s, uint32_t *range, uint32_t *off)
{
	while (s->range_idx < s->nranges) {
		if (s->range_off < s->ranges[s->range_idx].count) {
			*range = (uint32_t)s->range_idx;
			*off = (uint32_t)s->range_off++;
			return true;
		}
		s->range_idx++;
		s->range_off = 0;
		if (s->range_idx == s->nranges)
			log_debug("scan: every address sent once after %llu ms",
			    (unsigned long long)scan_now(s) / 1000);
	}
	return false;
}

/* The next probe to send: a retry or queued credential first, else a new
 * address. -1 if none now. */
static int32_t
scan_take(struct osnmp_scan *s)
{
	int32_t i = scan_list_first(&s->tab, SCAN_L_QUEUE);
	uint32_t range, off;

	if (s->cancelled)   /* from a found callback, inside the pump */
		return -1;
	if (i >= 0) {
		scan_list_remove(&s->tab, i);
		return i;
	}
	if (s->range_idx >= s->nranges || osnmp_engine_closing(s->eng) ||
	    scan_list_first(&s->tab, SCAN_L_FREE) < 0 ||
	    !scan_next_addr(s, &range, &off))
		return -1;
	i = scan_table_get(&s->tab);
	struct scan_slot *sl = &s->tab.slot[i];
	sl->range = range;
	sl->off = off;
	sl->step = 0;
	sl->tries = 0;
	sl->flags = 0;
	sl->first = 0xff;
	if (s->opts.first_cred != NULL) {
		char a[INET6_ADDRSTRLEN];
		int f;
		slot_addr_str(s, sl, a, sizeof(a));
		f = s->opts.first_cred(a, s->arg);
		if (f >= 0 && (size_t)f < s->opts.ncreds)
			sl->first = (uint8_t)f;
	}
	return i;
}

static bool
scan_done_all(const struct osnmp_scan *s)
{
	return s->range_idx >= s->nranges &&
	    scan_list_count(&s->tab, SCAN_L_FREE) == s->tab.nslots;
}

static void
scan_free(struct osnmp_scan *s)
{
	if (s->sock4.fd != OS_SOCKET_NONE)
		scan_os_close(s, &s->sock4);
	if (s->sock6.fd != OS_SOCKET_NONE)
		scan_os_close(s, &s->sock6);
	loop_timer_disarm(s->loop, &s->timer);
	scan_table_free(&s->tab);
	free(s->eng_req);
	free(s->ranges);
	free(s->out);
	free(s->out_len);
	free(s->out_addr);
	free(s->out_alen);
	free(s->out_slot);
	free(s->in);
	free(s->in_addr);
	scan_os_free(s);
	platform_memzero(s->tpl, sizeof(s->tpl));
	free(s);
}

static void
scan_finish(struct osnmp_scan *s)
{
	if (s->finished)
		return;
	s->finished = true;
	log_debug("scan: %llu probes, %llu replies, %llu ignored, %llu dropped; "
	    "srtt %.0f us, rttvar %.0f us, window %u, rate %.0f",
	    (unsigned long long)s->stats.sent, (unsigned long long)s->stats.replies,
	    (unsigned long long)s->stats.ignored,
	    (unsigned long long)s->stats.kernel_drops, s->srtt_us, s->rttvar_us,
	    s->win_cap, s->rate);
	if (!s->cancelled)
		s->done_cb(s->done, s->found, s->arg);
	scan_free(s);
}

/* Why sending stopped, for scan_pump to know when to wake up. */
enum { BLOCK_NONE, BLOCK_TOKENS, BLOCK_WINDOW, BLOCK_TURN, BLOCK_BACKOFF };

static int
scan_send(struct osnmp_scan *s, uint64_t *token_wait)
{
	int n = 0, fam = 0, sent_turn = 0;

	for (;;) {
		int32_t i;
		uint64_t now = scan_now(s);

		if (now < s->backoff_until) {
			if (n > 0)
				scan_flush(s, fam, n);
			return BLOCK_BACKOFF;
		}
		if (sent_turn >= SCAN_TURN_MAX || s->win_used + (uint32_t)n >= s->win_cap ||
		    (i = scan_take(s)) < 0) {
			if (n > 0)
				scan_flush(s, fam, n);
			if (sent_turn >= SCAN_TURN_MAX)
				return BLOCK_TURN;
			return s->win_used >= s->win_cap ? BLOCK_WINDOW : BLOCK_NONE;
		}
		if ((*token_wait = ratelimit_take(&s->rl, mono_us())) > 0) {
			scan_list_push_front(&s->tab, SCAN_L_QUEUE, i);
			if (n > 0)
				scan_flush(s, fam, n);
			return BLOCK_TOKENS;
		}
		struct scan_slot *sl = &s->tab.slot[i];
		int f = scan_slot_range(s, sl)->r.family;
		if (n > 0 && (f != fam || n == SCAN_BATCH)) {
			bool ok = scan_flush(s, fam, n);
			n = 0;
			/* Read what came back before sending more. */
			scan_drain(s);
			scan_expire(s, scan_now(s));
			if (!ok) {
				scan_list_push_front(&s->tab, SCAN_L_QUEUE, i);
				continue;
			}
		}
		fam = f;
		const struct scan_tpl *t = &s->tpl[scan_slot_cred(s, sl)];
		scan_tpl_write(t, sl->reqid, s->out[n]);
		s->out_len[n] = t->len;
		s->out_alen[n] = slot_sockaddr(s, sl, &s->out_addr[n]);
		s->out_slot[n++] = i;
		sent_turn++;
	}
}

static void
scan_timer_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	scan_pump(arg);
}

static void
scan_io_cb(struct loop *l, os_socket fd, int events, void *arg)
{
	scan_pump(arg);
}

static void
scan_arm_ms(struct osnmp_scan *s, uint64_t when_us)
{
	uint64_t now = scan_now(s), ms = 0;

	if (when_us > now)
		ms = (when_us - now + 999) / 1000;
	if (!loop_timer_armed(&s->timer) || s->timer.when_ms > loop_now_ms(s->loop) + ms) {
		loop_timer_disarm(s->loop, &s->timer);
		loop_timer_arm(s->loop, &s->timer, ms);
	}
}

static void
scan_pump(struct osnmp_scan *s)
{
	uint64_t wait = 0, now;
	int why;

	if (s->busy)
		return;
	if (s->cancelled && s->engine_reqs == 0) {
		scan_finish(s);
		return;
	}
	s->busy = true;
	scan_drain(s);
	scan_expire(s, scan_now(s));
	why = s->cancelled ? BLOCK_NONE : scan_send(s, &wait);
	s->busy = false;
	if (s->cancelled ? s->engine_reqs == 0 : scan_done_all(s)) {
		scan_finish(s);
		return;
	}
	/* Timeouts and tokens wait at least a tick: a paced scan wakes up
	 * 100 times a second and sends a burst, not once per probe. */
	now = scan_now(s);
	loop_timer_disarm(s->loop, &s->timer);
	{
		int32_t head = scan_list_first(&s->tab, SCAN_L_WIRE);
		if (head >= 0)
			scan_arm_ms(s, scan_max(s->tab.slot[head].sent_us +
			    (uint64_t)s->opts.timeout_ms * 1000, now + SCAN_TICK_US));
	}
	switch (why) {
	case BLOCK_TURN:
		scan_arm_ms(s, now);
		break;
	case BLOCK_TOKENS:
		scan_arm_ms(s, now + scan_max(wait, SCAN_TICK_US));
		break;
	case BLOCK_BACKOFF:
		scan_arm_ms(s, s->backoff_until);
		break;
	case BLOCK_WINDOW:
		if (s->win_oldest >= 0)
			scan_arm_ms(s, s->tab.slot[s->win_oldest].sent_us + scan_grace(s));
		break;
	default:
		break;
	}
}

static void
scan_set_io(struct osnmp_scan *s)
{
	if (s->sock4.fd != OS_SOCKET_NONE)
		loop_io_set(s->loop, s->sock4.fd, LOOP_READ, scan_io_cb, s);
	if (s->sock6.fd != OS_SOCKET_NONE)
		loop_io_set(s->loop, s->sock6.fd, LOOP_READ, scan_io_cb, s);
}

/* Enough slots for rate x timeout probes in flight, and some. */
static unsigned
scan_auto_concurrency(const struct osnmp_scan_opts *o, uint64_t total)
{
	uint64_t n = o->rate == 0 ? OSNMP_SCAN_MAX_CONCURRENCY / 2 :
	    (uint64_t)o->rate * o->timeout_ms / 1000 * 5 / 4 + 64;

	if (n < 256)
		n = 256;
	if (n > OSNMP_SCAN_MAX_CONCURRENCY)
		n = OSNMP_SCAN_MAX_CONCURRENCY;
	return (unsigned)n;
}

static int
scan_setup(struct osnmp_scan *s, const struct osnmp_scan_opts *o, char *err,
    size_t errlen)
{
	uint32_t salt = 0;
	bool v4 = false, v6 = false, has_v3 = false;
	uint64_t nslots;

	s->nranges = o->nranges;
	s->ranges = calloc(o->nranges, sizeof(*s->ranges));
	struct net_range *nr = calloc(o->nranges, sizeof(*nr));
	unsigned *np = calloc(o->nranges, sizeof(*np));
	if (s->ranges == NULL || nr == NULL || np == NULL) {
		free(nr);
		free(np);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < o->nranges; i++) {
		nr[i] = o->ranges[i];
		np[i] = o->range_ports && o->range_ports[i] ? o->range_ports[i] : o->port;
		if (np[i] == 0 || np[i] > 65535) {
			snprintf(err, errlen, "port %u is not 1-65535", np[i]);
			free(nr);
			free(np);
			return -1;
		}
	}
	s->nranges = osnmp_scan_merge(nr, np, o->nranges);
	for (size_t i = 0; i < s->nranges; i++) {
		s->ranges[i].r = nr[i];
		s->ranges[i].port = np[i];
		s->ranges[i].count = net_range_count(&nr[i]);
		s->total += s->ranges[i].count;
		if (nr[i].family == AF_INET6)
			v6 = true;
		else
			v4 = true;
	}
	free(nr);
	free(np);
	if (s->total > NET_RANGE_MAX_ADDRS) {
		snprintf(err, errlen, "%llu addresses in all; the limit is %u",
		    (unsigned long long)s->total, NET_RANGE_MAX_ADDRS);
		return -1;
	}
	for (size_t c = 0; c < o->ncreds; c++) {
		const struct config_credential *cr = o->creds[c];
		if (cr->version == CFG_SNMP_V3) {
			has_v3 = true;
			scan_tpl_v3_discovery(&s->tpl[c]);
		} else if (scan_tpl_community(&s->tpl[c], cr->version == CFG_SNMP_V1 ? 0 : 1,
		    cr->community ? cr->community : "",
		    cr->community ? strlen(cr->community) : 0) == -1) {
			snprintf(err, errlen, "credential %zu: a community longer than %d "
			    "bytes", c + 1, SCAN_COMMUNITY_MAX);
			return -1;
		}
	}
	nslots = s->opts.concurrency ? s->opts.concurrency :
	    scan_auto_concurrency(o, s->total);
	if (nslots > OSNMP_SCAN_MAX_CONCURRENCY)
		nslots = OSNMP_SCAN_MAX_CONCURRENCY;
	/* No more slots than addresses: memory follows the scan's size. */
	if (nslots > s->total)
		nslots = s->total > 0 ? s->total : 1;
	s->opts.concurrency = (unsigned)nslots;
	if (platform_random(&salt, sizeof(salt)) == -1)
		salt = (uint32_t)mono_us();   /* ids stay correct, only guessable */
	if (scan_table_init(&s->tab, (uint32_t)nslots, salt) == -1 ||
	    (has_v3 && (s->eng_req = calloc(nslots, sizeof(*s->eng_req))) == NULL) ||
	    (s->out = calloc(SCAN_BATCH, sizeof(*s->out))) == NULL ||
	    (s->out_len = calloc(SCAN_BATCH, sizeof(*s->out_len))) == NULL ||
	    (s->out_addr = calloc(SCAN_BATCH, sizeof(*s->out_addr))) == NULL ||
	    (s->out_alen = calloc(SCAN_BATCH, sizeof(*s->out_alen))) == NULL ||
	    (s->out_slot = calloc(SCAN_BATCH, sizeof(*s->out_slot))) == NULL ||
	    (s->in = calloc(SCAN_RECV_BATCH, sizeof(*s->in))) == NULL ||
	    (s->in_addr = calloc(SCAN_RECV_BATCH, sizeof(*s->in_addr))) == NULL ||
	    scan_os_new(s) == -1) {
		snprintf(err, errlen, "out of memory for %llu probes in flight",
		    (unsigned long long)nslots);
		return -1;
	}
	if ((v4 && scan_sock_open(s, AF_INET, err, errlen) == -1) ||
	    (v6 && scan_sock_open(s, AF_INET6, err, errlen) == -1))
		return -1;
	return 0;
}

struct osnmp_scan *
osnmp_scan_start(struct osnmp_engine *e, struct loop *loop,
    const struct osnmp_scan_opts *o, osnmp_scan_found_cb found_cb,
    osnmp_scan_done_cb done_cb, void *arg, char *err, size_t errlen)
{
	struct osnmp_scan *s;

	if (o->ncreds == 0 || o->ncreds > OSNMP_SCAN_MAX_CREDS || o->nranges == 0) {
		snprintf(err, errlen, "a scan needs 1-%d credentials and a target",
		    OSNMP_SCAN_MAX_CREDS);
		return NULL;
	}
	if (o->timeout_ms == 0) {
		snprintf(err, errlen, "a scan needs a timeout");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->eng = e;
	s->loop = loop;
	s->opts = *o;
	s->opts.ranges = NULL;
	s->opts.range_ports = NULL;
	if (s->opts.retries > 250)
		s->opts.retries = 250;
	s->sock4.fd = s->sock6.fd = OS_SOCKET_NONE;
	s->win_oldest = -1;
	s->found_cb = found_cb;
	s->done_cb = done_cb;
	s->arg = arg;
	s->t0_us = mono_us();
	loop_timer_init(&s->timer, scan_timer_cb, s);
	if (scan_setup(s, o, err, errlen) == -1) {
		scan_free(s);
		return NULL;
	}
	scan_set_io(s);
	scan_set_rate(s, o->rate);
	/* Start from the loop, so callbacks never run inside this call. */
	loop_timer_arm(loop, &s->timer, 0);
	return s;
}

void
osnmp_scan_cancel(struct osnmp_scan *s)
{
	s->cancelled = true;
	/* Probes on the wire are simply forgotten; engine requests end
	 * through their callbacks, then the scan frees itself (from the
	 * loop if this is called from one of the scan's own callbacks). */
	if (s->engine_reqs == 0 && !s->busy)
		scan_finish(s);
	else
		scan_arm_ms(s, scan_now(s));
}

void
osnmp_scan_progress(const struct osnmp_scan *s, uint64_t *done, uint64_t *total,
    size_t *found)
{
	*done = s->done;
	*total = s->total;
	*found = s->found;
}

void
osnmp_scan_stats(const struct osnmp_scan *s, struct osnmp_scan_stats *st)
{
	*st = s->stats;
	st->rate = s->rate;
}
