/*
 * outpost scan: the command line over snmp/scan.c. A table sorted by
 * address when done, or JSON lines as devices answer.
 */
#include "agent/agent.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_MAX_TARGETS 256
#define SCAN_PROGRESS_MS 250       /* redraw on a terminal */
#define SCAN_PROGRESS_LOG_MS 1000  /* whole lines elsewhere */
#define SCAN_DEFAULT_RATE 1000     /* a /16 with one retry in about 2 min */
#define OPT_PROGRESS 2000          /* scan's own long option */

struct scan {
	struct cli_snmp           cli;
	struct net_range          ranges[SCAN_MAX_TARGETS];
	unsigned                  ports[SCAN_MAX_TARGETS];   /* 0: --port */
	size_t                    nranges;
	uint64_t                  total;
	unsigned                  port, rate, concurrency;
	struct loop              *loop;
	struct osnmp_engine      *eng;
	struct osnmp_scan        *scan;
	struct loop_timer         progress;
	bool                      tty, show_progress;
	uint64_t                  start_ms;
	struct osnmp_scan_device *found;
	size_t                    nfound, capfound;
	uint64_t                  probed;
	struct osnmp_scan_stats   stats;
};

static const char scan_usage[] =
"usage: outpost scan [options] TARGET...\n"
"Find SNMP devices. TARGET is an address (10.0.0.1, ::1), a CIDR block\n"
"(10.0.0.0/24, every address in it is probed) or a range (10.0.0.1-20,\n"
"10.0.0.1-10.0.1.255), optionally with a port (10.0.0.1:1161,\n"
"10.0.0.0/24:1161, [::1]:1161). Targets that overlap are probed once.\n"
"-c may be given several times: credentials are tried in order until\n"
"one answers.\n\n"
"  --port N          UDP port of targets without one (default 161)\n"
"  --rate N          probes per second (default 1000; 0 = unlimited)\n"
"  --concurrency N   probes in flight at most (default: rate x timeout)\n"
"  --progress        a progress line on stderr (the default on a terminal)\n"
"Defaults here: -t 1s -r 1. Retries go only to addresses that did not\n"
"answer. Probes are also held back while replies could overflow the\n"
"receive buffer, so raising --rate past what the host sustains slows\n"
"the scan instead of losing devices.\n\n";

static cJSON *
found_json(const struct scan *s, const struct osnmp_scan_device *dev)
{
	const struct config_credential *c = &s->cli.creds[dev->cred_index];
	struct osnmp_scan_device t = *dev, *f = &t;
	cJSON *o = cJSON_CreateObject();

	/* Device text is display text: valid UTF-8 (U+FFFD) in JSON. */
	utf8_repair(t.sys_name, sizeof(t.sys_name));
	utf8_repair(t.sys_descr, sizeof(t.sys_descr));
	utf8_repair(t.sys_object_id, sizeof(t.sys_object_id));

	cJSON_AddStringToObject(o, "address", f->address);
	cJSON_AddNumberToObject(o, "port", f->port);
	cJSON_AddStringToObject(o, "version", config_version_name(c->version));
	cJSON_AddStringToObject(o, "credential", s->cli.names[f->cred_index]);
	cJSON_AddStringToObject(o, "sys_name", f->sys_name);
	cJSON_AddStringToObject(o, "sys_descr", f->sys_descr);
	cJSON_AddStringToObject(o, "sys_object_id", f->sys_object_id);
	cJSON_AddNumberToObject(o, "sys_uptime", (double)f->sys_uptime);
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
scan_found(const struct osnmp_scan_device *d, void *arg)
{
	struct scan *s = arg;

	if (s->cli.json) {
		cJSON *o = found_json(s, d);
		progress_clear(s);
		cli_json_print(o);
		fflush(stdout);
		cJSON_Delete(o);
		s->nfound++;
		return;
	}
	if (s->nfound == s->capfound) {
		size_t n = s->capfound ? s->capfound * 2 : 64;
		struct osnmp_scan_device *nf = realloc(s->found, n * sizeof(*nf));
		if (nf == NULL) {
			fprintf(stderr, "outpost scan: out of memory recording results\n");
			return;
		}
		s->found = nf;
		s->capfound = n;
	}
	s->found[s->nfound++] = *d;
}

static void
scan_done(uint64_t probed, size_t found, void *arg)
{
	struct scan *s = arg;

	s->probed = probed;
	osnmp_scan_stats(s->scan, &s->stats);   /* still valid in this call */
	s->scan = NULL;
	loop_timer_disarm(s->loop, &s->progress);
}

static void
scan_progress_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct scan *s = arg;
	struct osnmp_scan_stats st;
	uint64_t done, total, secs, ms;
	size_t found;
	char eta[48] = "";

	if (s->scan == NULL)
		return;
	osnmp_scan_progress(s->scan, &done, &total, &found);
	osnmp_scan_stats(s->scan, &st);
	ms = mono_ms() - s->start_ms;
	secs = ms / 1000;
	if (done > 0 && done < total && secs >= 2)   /* at the pace so far */
		snprintf(eta, sizeof(eta), ", about %llus left",
		    (unsigned long long)(((total - done) * ms / done + 999) / 1000));
	fprintf(stderr, "%sscanned %llu/%llu addresses (%llu%%), %zu found, "
	    "%llu probes sent, %llus%s%s", s->tty ? "\r\033[K" : "",
	    (unsigned long long)done, (unsigned long long)total,
	    (unsigned long long)(total ? done * 100 / total : 100), found,
	    (unsigned long long)st.sent, (unsigned long long)secs, eta,
	    s->tty ? "" : "\n");
	loop_timer_arm(l, t, s->tty ? SCAN_PROGRESS_MS : SCAN_PROGRESS_LOG_MS);
}

static int
found_cmp(const void *a, const void *b)
{
	const struct osnmp_scan_device *x = a, *y = b;

	if (x->sort_key != y->sort_key)
		return x->sort_key < y->sort_key ? -1 : 1;
	return strcmp(x->address, y->address);
}

static void
scan_print_table(struct scan *s)
{
	if (s->nfound > 1)
		qsort(s->found, s->nfound, sizeof(*s->found), found_cmp);
	printf("%-15s %5s %-3s %-14s %-20s %8s %-24s %s\n", "ADDRESS", "PORT", "VER",
	    "CREDENTIAL", "SYS_NAME", "RTT_MS", "SYS_OBJECT_ID", "SYS_DESCR");
	for (size_t i = 0; i < s->nfound; i++) {
		const struct osnmp_scan_device *f = &s->found[i];
		char descr[61];
		/* One line per device: cut long descriptions and newlines. */
		snprintf(descr, sizeof(descr), "%.60s", f->sys_descr);
		for (char *c = descr; *c; c++)
			if (*c == '\n' || *c == '\r' || *c == '\t')
				*c = ' ';
		printf("%-15s %5u %-3s %-14s %-20s %8.2f %-24s %s\n", f->address,
		    f->port, config_version_name(s->cli.creds[f->cred_index].version),
		    s->cli.names[f->cred_index], f->sys_name, f->rtt_ms,
		    f->sys_object_id, descr);
	}
}

/* TARGET[:PORT]: an address, CIDR block or range, IPv6 as [ADDR]:PORT
 * or bare (a bare IPv6 address takes no port: "::1:161" is ambiguous). */
static int
scan_target_parse(const char *arg, struct net_range *r, unsigned *port,
    char *err, size_t errlen)
{
	const char *colon = strchr(arg, ':');
	char host[128];
	int64_t v;

	*port = 0;
	if (arg[0] == '[') {
		if (net_hostport_parse(arg, host, sizeof(host), port, err, errlen) == -1)
			return -1;
		return net_range_parse(host, r, err, errlen);
	}
	if (colon == NULL || strchr(colon + 1, ':') != NULL)
		return net_range_parse(arg, r, err, errlen);
	if ((size_t)(colon - arg) >= sizeof(host)) {
		snprintf(err, errlen, "bad target '%.64s...': longer than any "
		    "address or range", arg);
		return -1;
	}
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = '\0';
	if (net_range_parse(host, r, err, errlen) == -1)
		return -1;
	if (parse_int(colon + 1, 1, 65535, &v) == -1) {
		snprintf(err, errlen, "bad target '%.64s': port must be a number "
		    "1-65535", arg);
		return -1;
	}
	*port = (unsigned)v;
	return 0;
}

static int
scan_args(struct scan *s, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SNMP_LONGOPTS,
		{ "port", required_argument, NULL, OPT_PORT },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ NULL, 0, NULL, 0 },
	};
	char err[256];
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":" CLI_SNMP_SHORTOPTS, opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s%s", scan_usage, cli_snmp_help);
			return -2;
		}
		if (opt == '?' || opt == ':')
			return cli_getopt_error("scan", opt, argv[optind - 1], opts, NULL);
		if (opt == OPT_PROGRESS) {
			s->show_progress = true;
			continue;
		}
		if ((rc = cli_snmp_opt(&s->cli, opt, optarg, err, sizeof(err))) == 1)
			continue;
		if (rc == -1)
			return cli_getopt_error("scan", opt, NULL, opts, err);
		if ((opt == OPT_PORT &&
		    cli_parse_uint("scan", "--port", optarg, 1, 65535, &s->port) == -1) ||
		    (opt == OPT_RATE &&
		    cli_parse_uint("scan", "--rate", optarg, 0, 1000000, &s->rate) == -1) ||
		    (opt == OPT_CONCURRENCY &&
		    cli_parse_uint("scan", "--concurrency", optarg, 1,
		    OSNMP_SCAN_MAX_CONCURRENCY, &s->concurrency) == -1))
			return EXIT_USAGE;
	}
	if (optind >= argc)
		return cli_usage_error("scan", "missing TARGET (address, CIDR or range)");
	for (int i = optind; i < argc; i++) {
		if (s->nranges == SCAN_MAX_TARGETS)
			return cli_usage_error("scan", "at most %d targets", SCAN_MAX_TARGETS);
		if (scan_target_parse(argv[i], &s->ranges[s->nranges],
		    &s->ports[s->nranges], err, sizeof(err)) == -1)
			return cli_usage_error("scan", "%s", err);
		if (s->ports[s->nranges] == 0)
			s->ports[s->nranges] = s->port;
		s->nranges++;
	}
	/* The same address:port twice, or ranges that overlap: once. */
	s->nranges = osnmp_scan_merge(s->ranges, s->ports, s->nranges);
	for (size_t i = 0; i < s->nranges; i++)
		s->total += net_range_count(&s->ranges[i]);
	if (s->total > NET_RANGE_MAX_ADDRS)
		return cli_usage_error("scan", "%llu addresses in all; the limit is %u",
		    (unsigned long long)s->total, NET_RANGE_MAX_ADDRS);
	return 0;
}

int
cmd_scan(int argc, char **argv)
{
	struct scan *s = xcalloc(1, sizeof(*s));
	const struct config_credential *creds[CLI_MAX_CREDS];
	struct osnmp_engine_opts eo;
	struct osnmp_scan_opts so;
	char err[256];
	int rc;

	cli_snmp_init(&s->cli, 1000, 1);
	s->port = 161;
	s->rate = SCAN_DEFAULT_RATE;
	s->concurrency = 0;   /* from rate and timeout, in snmp/scan.c */
	if ((rc = scan_args(s, argc, argv)) != 0 ||
	    (rc = cli_snmp_finish(&s->cli, true)) != 0) {
		cli_snmp_free(&s->cli);
		free(s);
		return rc == -2 ? 0 : rc;
	}
	cli_raise_nofile();   /* v3 devices that answer get engine sessions */
	osnmp_lib_init("outpost");
	s->loop = loop_new();
	/* The engine only carries the authenticated GETs of v3 devices. */
	eo = (struct osnmp_engine_opts){ .max_inflight = 256, .max_per_target = 1,
	    .max_queued = OSNMP_SCAN_MAX_CONCURRENCY };
	s->eng = osnmp_engine_new(s->loop, &eo);
	for (size_t i = 0; i < s->cli.ncreds; i++)
		creds[i] = &s->cli.creds[i];
	so = (struct osnmp_scan_opts){ .ranges = s->ranges, .nranges = s->nranges,
	    .port = s->port, .range_ports = s->ports, .creds = creds,
	    .ncreds = s->cli.ncreds, .rate = s->rate, .concurrency = s->concurrency,
	    .timeout_ms = s->cli.timeout_ms, .retries = s->cli.retries };
	s->start_ms = mono_ms();
	s->scan = osnmp_scan_start(s->eng, s->loop, &so, scan_found, scan_done, s,
	    err, sizeof(err));
	if (s->scan == NULL) {
		fprintf(stderr, "outpost scan: %s\n", err);
		rc = 1;
	} else {
		loop_timer_init(&s->progress, scan_progress_cb, s);
		s->tty = isatty(STDERR_FILENO);
		if (s->tty || s->show_progress)
			loop_timer_arm(s->loop, &s->progress, s->tty ? SCAN_PROGRESS_MS :
			    SCAN_PROGRESS_LOG_MS);
		loop_run(s->loop);
		progress_clear(s);
		if (!s->cli.json)
			scan_print_table(s);
		fflush(stdout);
		fprintf(stderr, "outpost scan: %llu address%s probed, %zu device%s found\n",
		    (unsigned long long)s->probed, s->probed == 1 ? "" : "es",
		    s->nfound, s->nfound == 1 ? "" : "s");
		if (s->stats.kernel_drops > 0)
			fprintf(stderr, "outpost scan: the receive buffer overflowed (%llu "
			    "replies dropped): slowed to %.0f probes/s and probed again "
			    "what was in flight\n",
			    (unsigned long long)s->stats.kernel_drops, s->stats.rate);
	}
	free(s->found);
	osnmp_engine_free(s->eng);
	loop_free(s->loop);
	cli_snmp_free(&s->cli);
	free(s);
	return rc;
}
