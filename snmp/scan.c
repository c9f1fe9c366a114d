/*
 * Discovery scans. Each address gets one GET of sysDescr, sysObjectID,
 * sysUpTime and sysName per credential, in order, until one answers.
 * Probes (credential retries included) are paced by a token bucket and
 * capped in flight; addresses are generated lazily, so a /12 costs no
 * memory up front. A port-unreachable stops the credential loop: nothing
 * listens there.
 */
#include "snmp/snmp_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const oid scan_oids[4][9] = {
	{ 1, 3, 6, 1, 2, 1, 1, 1, 0 },   /* sysDescr.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 2, 0 },   /* sysObjectID.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 3, 0 },   /* sysUpTime.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 5, 0 },   /* sysName.0 */
};

struct probe {
	struct osnmp_scan  *scan;
	struct osnmp_target target;
	unsigned            attempt;        /* index into order[] */
	unsigned            order[OSNMP_SCAN_MAX_CREDS];
	uint32_t            sort_key;
	struct probe       *next;           /* retry queue */
};

struct osnmp_scan {
	struct osnmp_engine   *eng;
	struct loop           *loop;
	struct osnmp_scan_opts opts;
	struct net_range      *ranges;
	size_t                 range_idx;
	uint64_t               range_off, total, started, done;
	size_t                 found;
	unsigned               active;
	struct ratelimit       rl;
	struct loop_timer      pace;
	struct probe          *retry_head, *retry_tail;
	bool                   cancelled, finished;
	osnmp_scan_found_cb    found_cb;
	osnmp_scan_done_cb     done_cb;
	void                  *arg;
};

static void scan_pump(struct osnmp_scan *);
static void probe_send(struct probe *);

static bool
scan_next_addr(struct osnmp_scan *s, char *buf, size_t len, uint32_t *key)
{
	while (s->range_idx < s->opts.nranges) {
		const struct net_range *r = &s->ranges[s->range_idx];
		if (s->range_off < net_range_count(r)) {
			if (r->family == AF_INET6) {
				inet_ntop(AF_INET6, &r->addr6, buf, (socklen_t)len);
				*key = UINT32_MAX;
			} else {
				*key = r->first + (uint32_t)s->range_off;
				net_ipv4_str(*key, buf, len);
			}
			s->range_off++;
			return true;
		}
		s->range_idx++;
		s->range_off = 0;
	}
	return false;
}

static void
vb_copy(const netsnmp_variable_list *vb, char *buf, size_t len)
{
	buf[0] = '\0';
	if (vb != NULL && !osnmp_vb_is_exception(vb) &&
	    osnmp_vb_value(vb, buf, len) < 0)
		buf[0] = '\0';
}

static void
probe_found(struct probe *p, const struct osnmp_reply *rep)
{
	struct osnmp_scan *s = p->scan;
	struct osnmp_scan_device d;
	const netsnmp_variable_list *vb = rep->pdu->variables;
	const netsnmp_variable_list *v[4] = { NULL, NULL, NULL, NULL };

	for (int i = 0; i < 4 && vb; i++, vb = vb->next_variable)
		v[i] = vb;
	memset(&d, 0, sizeof(d));
	snprintf(d.address, sizeof(d.address), "%.45s", p->target.host);
	d.port = s->opts.port;
	d.sort_key = p->sort_key;
	d.cred_index = p->order[p->attempt];
	vb_copy(v[0], d.sys_descr, sizeof(d.sys_descr));
	vb_copy(v[1], d.sys_object_id, sizeof(d.sys_object_id));
	vb_copy(v[3], d.sys_name, sizeof(d.sys_name));
	if (v[2] && v[2]->type == ASN_TIMETICKS)
		d.sys_uptime = (uint64_t)(*v[2]->val.integer & 0xffffffffu);
	d.rtt_ms = (double)rep->rtt_us / 1000.0;
	s->found++;
	s->found_cb(&d, s->arg);
}

static void
probe_end(struct probe *p)
{
	struct osnmp_scan *s = p->scan;

	s->done++;
	s->active--;
	free(p);
	scan_pump(s);
}

static void
probe_reply(const struct osnmp_reply *rep, void *arg)
{
	struct probe *p = arg;
	struct osnmp_scan *s = p->scan;

	if (s->cancelled) {
		probe_end(p);
		return;
	}
	if (rep->status == OSNMP_ST_OK) {
		probe_found(p, rep);
	} else if (rep->status != OSNMP_ST_REFUSED &&
	    p->attempt + 1 < s->opts.ncreds) {
		/* Timeout or v3 authentication failure: the next credential,
		 * paced like any probe. */
		p->attempt++;
		p->next = NULL;
		if (s->retry_tail)
			s->retry_tail->next = p;
		else
			s->retry_head = p;
		s->retry_tail = p;
		scan_pump(s);
		return;
	}
	probe_end(p);
}

static void
probe_send(struct probe *p)
{
	struct osnmp_scan *s = p->scan;
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	char err[256];

	for (size_t i = 0; i < countof(scan_oids); i++)
		snmp_add_null_var(pdu, scan_oids[i], countof(scan_oids[i]));
	p->target.cred = s->opts.creds[p->order[p->attempt]];
	if (osnmp_send(s->eng, &p->target, pdu, probe_reply, p, err, sizeof(err)) == -1) {
		log_debug("scan: %s: %s", p->target.host, err);
		s->done++;
		s->active--;
		free(p);
	}
}

static struct probe *
probe_new(struct osnmp_scan *s, const char *addr, uint32_t key)
{
	struct probe *p = xcalloc(1, sizeof(*p));
	unsigned n = 0;
	int first = s->opts.first_cred ? s->opts.first_cred(addr, s->arg) : -1;

	p->scan = s;
	p->sort_key = key;
	snprintf(p->target.host, sizeof(p->target.host), "%s", addr);
	p->target.port = s->opts.port;
	p->target.timeout_ms = s->opts.timeout_ms;
	p->target.retries = s->opts.retries;
	/* The credential that worked last time first, then the rest in order. */
	if (first >= 0 && (size_t)first < s->opts.ncreds)
		p->order[n++] = (unsigned)first;
	for (unsigned i = 0; i < s->opts.ncreds; i++)
		if ((int)i != first)
			p->order[n++] = i;
	return p;
}

static void
scan_finish(struct osnmp_scan *s)
{
	if (s->finished)
		return;
	s->finished = true;
	loop_timer_disarm(s->loop, &s->pace);
	if (!s->cancelled)
		s->done_cb(s->done, s->found, s->arg);
	free(s->ranges);
	free(s);
}

static void
scan_pace_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	scan_pump(arg);
}

static void
scan_pump(struct osnmp_scan *s)
{
	char addr[INET6_ADDRSTRLEN];
	uint32_t key;

	if (osnmp_engine_closing(s->eng)) {
		/* No new probes; finish with what answered. */
		struct probe *p;
		while ((p = s->retry_head) != NULL) {
			s->retry_head = p->next;
			s->active--;
			s->done++;
			free(p);
		}
		s->retry_tail = NULL;
		s->range_idx = s->opts.nranges;
	}
	while (!s->cancelled && (s->retry_head != NULL ||
	    (s->active < s->opts.concurrency && s->range_idx < s->opts.nranges))) {
		uint64_t wait = ratelimit_take(&s->rl, mono_us());
		if (wait > 0) {
			if (!loop_timer_armed(&s->pace))
				loop_timer_arm(s->loop, &s->pace, (wait + 999) / 1000);
			return;
		}
		if (s->retry_head != NULL) {
			struct probe *p = s->retry_head;
			if ((s->retry_head = p->next) == NULL)
				s->retry_tail = NULL;
			probe_send(p);
			continue;
		}
		if (!scan_next_addr(s, addr, sizeof(addr), &key))
			break;
		s->active++;
		s->started++;
		probe_send(probe_new(s, addr, key));
	}
	if (s->active == 0 && (s->cancelled || (s->retry_head == NULL &&
	    s->range_idx >= s->opts.nranges)))
		scan_finish(s);
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
	s = xcalloc(1, sizeof(*s));
	s->eng = e;
	s->loop = loop;
	s->opts = *o;
	if (s->opts.concurrency == 0)
		s->opts.concurrency = 1000;
	s->ranges = xcalloc(o->nranges, sizeof(*s->ranges));
	memcpy(s->ranges, o->ranges, o->nranges * sizeof(*s->ranges));
	for (size_t i = 0; i < o->nranges; i++)
		s->total += net_range_count(&o->ranges[i]);
	s->found_cb = found_cb;
	s->done_cb = done_cb;
	s->arg = arg;
	/* A burst of a tenth of a second's worth keeps pacing smooth. */
	ratelimit_init(&s->rl, o->rate, o->rate / 10.0 > 1 ? o->rate / 10.0 : 1,
	    mono_us());
	loop_timer_init(&s->pace, scan_pace_cb, s);
	/* Start from the loop, so callbacks never run inside this call. */
	loop_timer_arm(loop, &s->pace, 0);
	return s;
}

void
osnmp_scan_cancel(struct osnmp_scan *s)
{
	struct probe *p;

	s->cancelled = true;
	while ((p = s->retry_head) != NULL) {
		s->retry_head = p->next;
		s->active--;
		free(p);
	}
	s->retry_tail = NULL;
	if (s->active == 0)
		scan_finish(s);
}

void
osnmp_scan_progress(const struct osnmp_scan *s, uint64_t *done, uint64_t *total,
    size_t *found)
{
	*done = s->done;
	*total = s->total;
	*found = s->found;
}
