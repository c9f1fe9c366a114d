/*
 * outpost scan: find SNMP devices. Each address gets one GET of
 * sysDescr, sysObjectID, sysUpTime and sysName per credential, in order,
 * until one answers. Probes are paced by a token bucket (--rate) and
 * capped in flight (--concurrency); addresses are generated lazily, so a
 * /12 costs no memory up front.
 */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_MAX_TARGETS 256

static const oid scan_oids[4][9] = {
	{ 1, 3, 6, 1, 2, 1, 1, 1, 0 },   /* sysDescr.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 2, 0 },   /* sysObjectID.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 3, 0 },   /* sysUpTime.0 */
	{ 1, 3, 6, 1, 2, 1, 1, 5, 0 },   /* sysName.0 */
};

struct scan_found {
	char     address[INET6_ADDRSTRLEN];
	uint32_t sort_key;
	unsigned cred;
	char    *descr, *object_id, *name;
	uint64_t uptime;
	double   rtt_ms;
};

struct scan {
	struct cli_snmp      cli;
	struct net_range     ranges[SCAN_MAX_TARGETS];
	size_t               nranges, range_idx;
	uint64_t             range_off;         /* next address in ranges[range_idx] */
	uint64_t             total, started, done;
	unsigned             port, rate, concurrency, active;
	struct ratelimit     rl;
	struct loop         *loop;
	struct osnmp_engine *eng;
	struct loop_timer    pace, progress;
	bool                 tty;
	struct scan_found   *found;
	size_t               nfound, capfound;
	struct probe        *retry_head, *retry_tail;   /* next credential */
};

struct probe {
	struct scan        *scan;
	struct osnmp_target target;
	unsigned            cred;
	uint32_t            sort_key;
	struct probe       *next;     /* in the retry queue */
};

static const char scan_usage[] =
"usage: outpost scan [options] TARGET...\n"
"Find SNMP devices. TARGET is an address (10.0.0.1, ::1), a CIDR block\n"
"(10.0.0.0/24, every address in it is probed) or a range (10.0.0.1-20,\n"
"10.0.0.1-10.0.1.255). -c may be given several times: credentials are\n"
"tried in order until one answers.\n\n"
"  --port N          UDP port (default 161)\n"
"  --rate N          probes per second (default 500; 0 = unlimited)\n"
"  --concurrency N   probes in flight at most (default 1000)\n"
"Defaults here: -t 1s -r 1.\n\n";

static void scan_pump(struct scan *);
static void probe_send(struct probe *);

/* Next address to probe, or false when all ranges are done. */
static bool
scan_next_addr(struct scan *s, char *buf, size_t len, uint32_t *key)
{
	while (s->range_idx < s->nranges) {
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

static char *
vb_text(const netsnmp_variable_list *vb)
{
	char buf[2048];

	if (vb == NULL || osnmp_vb_is_exception(vb) ||
	    osnmp_vb_value(vb, buf, sizeof(buf)) < 0)
		return xstrdup("");
	return xstrdup(buf);
}

static void
scan_record(struct probe *p, const struct osnmp_reply *rep)
{
	struct scan *s = p->scan;
	struct scan_found *f;
	const netsnmp_variable_list *vb = rep->pdu->variables;
	const netsnmp_variable_list *v[4] = { NULL, NULL, NULL, NULL };

	for (int i = 0; i < 4 && vb; i++, vb = vb->next_variable)
		v[i] = vb;
	if (s->nfound == s->capfound) {
		size_t n = s->capfound ? s->capfound * 2 : 64;
		struct scan_found *nf = realloc(s->found, n * sizeof(*nf));
		if (nf == NULL) {
			log_error("scan: out of memory recording results");
			return;
		}
		s->found = nf;
		s->capfound = n;
	}
	f = &s->found[s->nfound++];
	memset(f, 0, sizeof(*f));
	snprintf(f->address, sizeof(f->address), "%.45s", p->target.host);
	f->sort_key = p->sort_key;
	f->cred = p->cred;
	f->descr = vb_text(v[0]);
	f->object_id = vb_text(v[1]);
	f->name = vb_text(v[3]);
	if (v[2] && v[2]->type == ASN_TIMETICKS)
		f->uptime = (uint64_t)(*v[2]->val.integer & 0xffffffffu);
	f->rtt_ms = (double)rep->rtt_us / 1000.0;
}

static cJSON *
found_json(const struct scan *s, const struct scan_found *f)
{
	const struct config_credential *c = &s->cli.creds[f->cred];
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "address", f->address);
	cJSON_AddNumberToObject(o, "port", s->port);
	cJSON_AddStringToObject(o, "version", config_version_name(c->version));
	cJSON_AddStringToObject(o, "credential", s->cli.names[f->cred]);
	cJSON_AddStringToObject(o, "sys_name", f->name);
	cJSON_AddStringToObject(o, "sys_descr", f->descr);
	cJSON_AddStringToObject(o, "sys_object_id", f->object_id);
	cJSON_AddNumberToObject(o, "sys_uptime", (double)f->uptime);
	cJSON_AddNumberToObject(o, "rtt_ms", (double)(int64_t)(f->rtt_ms * 100) / 100.0);
	return o;
}

static void
progress_clear(struct scan *s)
{
	if (s->tty)
		fputs("\r\033[K", stderr);
}

static void
probe_reply(const struct osnmp_reply *rep, void *arg)
{
	struct probe *p = arg;
	struct scan *s = p->scan;

	if (rep->status == OSNMP_ST_OK) {
		scan_record(p, rep);
		if (s->cli.json && s->nfound > 0) {
			cJSON *o = found_json(s, &s->found[s->nfound - 1]);
			progress_clear(s);
			cli_json_print(o);
			fflush(stdout);
			cJSON_Delete(o);
		}
	} else if (rep->status != OSNMP_ST_REFUSED &&
	    p->cred + 1 < s->cli.ncreds) {
		/* Timeout or v3 authentication failure: next credential, paced
		 * like any probe. A refusal means nothing listens: stop there. */
		p->cred++;
		p->next = NULL;
		if (s->retry_tail)
			s->retry_tail->next = p;
		else
			s->retry_head = p;
		s->retry_tail = p;
		scan_pump(s);
		return;
	}
	s->done++;
	s->active--;
	free(p);
	scan_pump(s);
}

static void
probe_send(struct probe *p)
{
	struct scan *s = p->scan;
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	char err[256];

	for (size_t i = 0; i < countof(scan_oids); i++)
		snmp_add_null_var(pdu, scan_oids[i], countof(scan_oids[i]));
	p->target.cred = &s->cli.creds[p->cred];
	if (osnmp_send(s->eng, &p->target, pdu, probe_reply, p, err, sizeof(err)) == -1) {
		log_debug("scan: %s: %s", p->target.host, err);
		s->done++;
		s->active--;
		free(p);
	}
}

static void
scan_pace_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	scan_pump(arg);
}

static void
scan_pump(struct scan *s)
{
	char addr[INET6_ADDRSTRLEN];
	uint32_t key;

	while (s->retry_head != NULL ||
	    (s->active < s->concurrency && s->range_idx < s->nranges)) {
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
		struct probe *p = xcalloc(1, sizeof(*p));
		p->scan = s;
		p->sort_key = key;
		snprintf(p->target.host, sizeof(p->target.host), "%s", addr);
		p->target.port = s->port;
		p->target.timeout_ms = s->cli.timeout_ms;
		p->target.retries = s->cli.retries;
		s->active++;
		s->started++;
		probe_send(p);
	}
	if (s->active == 0 && s->retry_head == NULL && s->range_idx >= s->nranges) {
		loop_timer_disarm(s->loop, &s->progress);
		loop_timer_disarm(s->loop, &s->pace);
	}
}

static void
scan_progress_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct scan *s = arg;

	fprintf(stderr, "\r\033[Kscanned %llu/%llu, %zu found",
	    (unsigned long long)s->done, (unsigned long long)s->total, s->nfound);
	loop_timer_arm(l, t, 250);
}

static int
found_cmp(const void *a, const void *b)
{
	const struct scan_found *x = a, *y = b;

	if (x->sort_key != y->sort_key)
		return x->sort_key < y->sort_key ? -1 : 1;
	return strcmp(x->address, y->address);
}

static void
scan_print_table(struct scan *s)
{
	qsort(s->found, s->nfound, sizeof(*s->found), found_cmp);
	printf("%-15s %5s %-3s %-14s %-20s %8s %-24s %s\n", "ADDRESS", "PORT", "VER",
	    "CREDENTIAL", "SYS_NAME", "RTT_MS", "SYS_OBJECT_ID", "SYS_DESCR");
	for (size_t i = 0; i < s->nfound; i++) {
		const struct scan_found *f = &s->found[i];
		char descr[61];
		/* One line per device: cut long descriptions and newlines. */
		snprintf(descr, sizeof(descr), "%s", f->descr);
		for (char *c = descr; *c; c++)
			if (*c == '\n' || *c == '\r' || *c == '\t')
				*c = ' ';
		printf("%-15s %5u %-3s %-14s %-20s %8.2f %-24s %s\n", f->address,
		    s->port, config_version_name(s->cli.creds[f->cred].version),
		    s->cli.names[f->cred], f->name, f->rtt_ms, f->object_id, descr);
	}
}

static int
scan_args(struct scan *s, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SNMP_LONGOPTS,
		{ "port", required_argument, NULL, OPT_PORT },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":" CLI_SNMP_SHORTOPTS, opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s%s", scan_usage, cli_snmp_help);
			return -2;
		}
		if (opt == '?')
			return cli_usage_error("scan", "unknown option '%s'", argv[optind - 1]);
		if (opt == ':')
			return cli_usage_error("scan", "option '%s' needs a value", argv[optind - 1]);
		if ((rc = cli_snmp_opt(&s->cli, opt, optarg)) == 1)
			continue;
		if (rc == -1)
			return cli_usage_error("scan", "bad value '%s' for option '%s'",
			    optarg, argv[optind - 1]);
		if ((opt == OPT_PORT &&
		    cli_parse_uint("scan", "--port", optarg, 1, 65535, &s->port) == -1) ||
		    (opt == OPT_RATE &&
		    cli_parse_uint("scan", "--rate", optarg, 0, 1000000, &s->rate) == -1) ||
		    (opt == OPT_CONCURRENCY &&
		    cli_parse_uint("scan", "--concurrency", optarg, 1, 50000, &s->concurrency) == -1))
			return EXIT_USAGE;
	}
	if (optind >= argc)
		return cli_usage_error("scan", "missing TARGET (address, CIDR or range)");
	for (int i = optind; i < argc; i++) {
		char err[256];
		if (s->nranges == SCAN_MAX_TARGETS)
			return cli_usage_error("scan", "at most %d targets", SCAN_MAX_TARGETS);
		if (net_range_parse(argv[i], &s->ranges[s->nranges], err, sizeof(err)) == -1)
			return cli_usage_error("scan", "%s", err);
		s->total += net_range_count(&s->ranges[s->nranges++]);
	}
	if (s->total > NET_RANGE_MAX_ADDRS)
		return cli_usage_error("scan", "%llu addresses in all; the limit is %u",
		    (unsigned long long)s->total, NET_RANGE_MAX_ADDRS);
	return 0;
}

int
cmd_scan(int argc, char **argv)
{
	struct scan *s = xcalloc(1, sizeof(*s));
	struct osnmp_engine_opts eo;
	int rc;

	cli_snmp_init(&s->cli, 1000, 1);
	s->port = 161;
	s->rate = 500;
	s->concurrency = 1000;
	if ((rc = scan_args(s, argc, argv)) != 0 ||
	    (rc = cli_snmp_finish(&s->cli, true)) != 0) {
		cli_snmp_free(&s->cli);
		free(s);
		return rc == -2 ? 0 : rc;
	}
	cli_raise_nofile();
	osnmp_lib_init("outpost");
	s->loop = loop_new();
	eo = (struct osnmp_engine_opts){ .max_inflight = s->concurrency,
	    .max_per_target = 1, .max_queued = (size_t)s->concurrency * 2 };
	s->eng = osnmp_engine_new(s->loop, &eo);
	/* A burst of a tenth of a second's worth keeps pacing smooth. */
	ratelimit_init(&s->rl, s->rate, s->rate / 10.0 > 1 ? s->rate / 10.0 : 1,
	    mono_us());
	loop_timer_init(&s->pace, scan_pace_cb, s);
	loop_timer_init(&s->progress, scan_progress_cb, s);
	s->tty = isatty(STDERR_FILENO);
	if (s->tty)
		loop_timer_arm(s->loop, &s->progress, 250);
	scan_pump(s);
	loop_run(s->loop);
	progress_clear(s);
	if (!s->cli.json)
		scan_print_table(s);
	fflush(stdout);
	fprintf(stderr, "outpost scan: %llu addresses probed, %zu devices found\n",
	    (unsigned long long)s->done, s->nfound);
	for (size_t i = 0; i < s->nfound; i++) {
		free(s->found[i].descr);
		free(s->found[i].object_id);
		free(s->found[i].name);
	}
	free(s->found);
	osnmp_engine_free(s->eng);
	loop_free(s->loop);
	cli_snmp_free(&s->cli);
	free(s);
	return 0;
}
