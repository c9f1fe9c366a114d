/*
 * Notifications as events: the receiver (snmp/trap.c) on the service's
 * loop, each notification one "events" item of the batches
 * (docs/protocol.md), and `outpost traps`, the same receiver printing
 * what arrives, for troubleshooting on site.
 */
#include "agent/agent_int.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the event object -------------------------------------------------- */

static void
add_oid(cJSON *o, const char *key, const oid *v, size_t len)
{
	char buf[MAX_OID_LEN * 11 + 24];

	osnmp_oid_str(v, len, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

static void
add_raw_uint(cJSON *o, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	cJSON_AddRawToObject(o, key, buf);
}

cJSON *
agent_event_json(const struct osnmp_notification *n, const char *device,
    uint64_t id)
{
	static const char *const versions[] = { "?", "1", "2c", "3" };
	cJSON *o = cJSON_CreateObject(), *vbs;
	char idtxt[17], ctx[64];

	snprintf(idtxt, sizeof(idtxt), "%016" PRIx64, id);
	cJSON_AddStringToObject(o, "id", idtxt);
	add_raw_uint(o, "received", n->received_ms);
	cJSON_AddStringToObject(o, "source", n->source);
	cJSON_AddNumberToObject(o, "port", n->port);
	if (device != NULL)
		cJSON_AddStringToObject(o, "device", device);
	cJSON_AddStringToObject(o, "version",
	    versions[n->version >= 1 && n->version <= 3 ? n->version : 0]);
	cJSON_AddStringToObject(o, "pdu", n->inform ? "inform" : "trap");
	if (n->version == CFG_SNMP_V3) {
		size_t cl = n->context_len < sizeof(ctx) - 1 ? n->context_len :
		    sizeof(ctx) - 1;
		memcpy(ctx, n->context, cl);
		ctx[cl] = '\0';
		cJSON_AddStringToObject(o, "user", n->cred->user);
		cJSON_AddStringToObject(o, "context", ctx);
	} else {
		cJSON_AddStringToObject(o, "community", n->community);
	}
	add_oid(o, "trap_oid", n->trap_oid, n->trap_oid_len);
	if (n->version == CFG_SNMP_V1) {
		add_oid(o, "enterprise", n->enterprise, n->enterprise_len);
		cJSON_AddStringToObject(o, "agent_addr", n->agent_addr);
		cJSON_AddNumberToObject(o, "generic", (double)n->generic);
		cJSON_AddNumberToObject(o, "specific", (double)n->specific);
	}
	add_raw_uint(o, "uptime", n->uptime);
	vbs = cJSON_AddArrayToObject(o, "varbinds");
	for (const netsnmp_variable_list *v = n->vbs; v != NULL; v = v->next_variable)
		cJSON_AddItemToArray(vbs, osnmp_vb_json(v, false));
	return o;
}

/* A 64-bit random start, then one up per event: unique per agent. */
static uint64_t
event_id_base(void)
{
	uint64_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = wall_ms() << 20 ^ (uint64_t)getpid();
	return v;
}

/* ---- the receiver's options from [traps] ------------------------------- */

struct trap_setup {
	const char *listen[OSNMP_TRAP_MAX_LISTEN];
	const char *communities[64];
	const struct config_credential *users[64];
	struct osnmp_trap_opts o;
};

/* users point into creds (copies that outlive a reload), n of them. */
static int
trap_setup(struct trap_setup *s, const struct config_traps *t,
    const struct config_credential *creds, size_t ncreds, const char *state_dir,
    char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (t->listen.count > countof(s->listen) ||
	    t->communities.count > countof(s->communities) ||
	    ncreds > countof(s->users)) {
		snprintf(err, errlen, "[traps]: at most %zu listen addresses, %zu "
		    "communities and %zu credentials", countof(s->listen),
		    countof(s->communities), countof(s->users));
		return -1;
	}
	for (size_t i = 0; i < t->listen.count; i++)
		s->listen[i] = t->listen.items[i];
	for (size_t i = 0; i < t->communities.count; i++)
		s->communities[i] = t->communities.items[i];
	for (size_t i = 0; i < ncreds; i++)
		s->users[i] = &creds[i];
	s->o = (struct osnmp_trap_opts){
		.listen = s->listen, .nlisten = t->listen.count,
		.communities = s->communities, .ncommunities = t->communities.count,
		.users = s->users, .nusers = ncreds,
		.rate = (unsigned)t->rate, .queue_max = (unsigned)t->queue_max,
		.state_dir = state_dir,
	};
	return 0;
}

/* Deep copies of the [traps] credentials: the receiver borrows them
 * across reloads of the configuration. */
static struct config_credential *
trap_creds_copy(const struct config *cfg, size_t *n)
{
	struct config_credential *c;

	*n = 0;
	c = xcalloc(cfg->traps.credentials.count + 1, sizeof(*c));
	for (size_t i = 0; i < cfg->traps.credentials.count; i++) {
		const struct config_credential *f =
		    config_credential_find(cfg, cfg->traps.credentials.items[i]);
		if (f != NULL)
			agent_cred_copy(&c[(*n)++], f);
	}
	return c;
}

static void
trap_creds_free(struct config_credential *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		config_credential_clear(&c[i]);
	free(c);
}

/* ---- in the service ---------------------------------------------------- */

static void
agent_on_trap(const struct osnmp_notification *n, void *arg)
{
	struct agent *a = arg;
	const struct inv_dev *d;
	char dev[80];

	if (a->transport_closed)
		return;
	/* The inventory knows a device by address and SNMP port; a
	 * notification comes from an ephemeral port. */
	d = inv_find(a, n->source, (unsigned)a->cfg->scan.port);
	if (d == NULL && a->cfg->scan.port != 161)
		d = inv_find(a, n->source, 161);
	if (d != NULL)
		snprintf(dev, sizeof(dev), "%s:%u", d->address, d->port);
	a->events++;
	transport_add(a->tp, "events", agent_event_json(n, d ? dev : NULL,
	    a->event_id++));
}

int
agent_traps_start(struct agent *a)
{
	struct trap_setup s;
	char err[600];

	if (a->cfg->traps.listen.count == 0)
		return 0;
	if (a->event_id == 0)
		a->event_id = event_id_base();
	a->trap_creds = trap_creds_copy(a->cfg, &a->ntrap_creds);
	if (trap_setup(&s, &a->cfg->traps, a->trap_creds, a->ntrap_creds,
	    a->cfg->agent.state_dir, err, sizeof(err)) == -1 ||
	    (a->traps = osnmp_trap_open(a->loop, a->eng, &s.o, agent_on_trap, a,
	    err, sizeof(err))) == NULL) {
		log_error("traps: %s", err);
		trap_creds_free(a->trap_creds, a->ntrap_creds);
		a->trap_creds = NULL;
		a->ntrap_creds = 0;
		return -1;
	}
	log_info("traps: listening on %zu address%s (%zu communities, %zu v3 users)",
	    s.o.nlisten, s.o.nlisten == 1 ? "" : "es", s.o.ncommunities, s.o.nusers);
	return 0;
}

void
agent_traps_stop(struct agent *a)
{
	osnmp_trap_close(a->traps);
	a->traps = NULL;
	trap_creds_free(a->trap_creds, a->ntrap_creds);
	a->trap_creds = NULL;
	a->ntrap_creds = 0;
}

void
agent_traps_reload(struct agent *a, const struct config *old)
{
	if (!config_section_changed(old, a->cfg, "traps") &&
	    !(a->traps != NULL && config_section_changed(old, a->cfg, "credential")))
		return;
	log_info("reload: [traps] changed: the receiver restarts");
	agent_traps_stop(a);
	(void)agent_traps_start(a);
}

/* The counters, in status.json and in every batch's counters. */
void
agent_traps_counters(struct agent *a, cJSON *status)
{
	struct osnmp_trap_stats st = { 0 };
	cJSON *o;
	char hex[80];
	uint32_t boots = 0;

	if (a->traps == NULL)
		return;
	osnmp_trap_stats(a->traps, &st);
	/* The kernel's drops are events lost in the queue. */
	if (st.queue_full > a->traps_queue_reported) {
		transport_drop_events(a->tp, st.queue_full - a->traps_queue_reported);
		a->traps_queue_reported = st.queue_full;
	}
	const struct { const char *name; uint64_t v; } c[] = {
		{ "traps_received", st.received },
		{ "traps_dropped_community", st.dropped_community },
		{ "traps_dropped_auth", st.dropped_auth },
		{ "traps_dropped_time_window", st.dropped_time_window },
		{ "traps_dropped_rate", st.dropped_rate },
		{ "traps_malformed", st.malformed },
		{ "traps_queue_full", st.queue_full },
		{ "informs_acked", st.informs_acked },
		{ "traps_reports_sent", st.reports_sent },
	};
	o = status ? cJSON_AddObjectToObject(status, "traps") : NULL;
	for (size_t i = 0; i < countof(c); i++) {
		transport_set_counter(a->tp, c[i].name, (double)c[i].v);
		if (o != NULL)
			cJSON_AddNumberToObject(o, c[i].name + (strncmp(c[i].name,
			    "traps_", 6) == 0 ? 6 : 0), (double)c[i].v);
	}
	if (o != NULL) {
		osnmp_trap_engine(a->traps, hex, sizeof(hex), &boots);
		if (hex[0] != '\0') {
			cJSON_AddStringToObject(o, "engine_id", hex);
			cJSON_AddNumberToObject(o, "engine_boots", boots);
		}
	}
}

/* ---- outpost traps ----------------------------------------------------- */

static const char traps_usage[] =
"usage: outpost traps [--listen ADDR]... [--community C]... [-c FILE]\n"
"                     [--count N] [--json]\n"
"Receive SNMP notifications in the foreground and print each as it\n"
"arrives (like snmptrapd -f -Lo), until interrupted or N arrived.\n"
"  --listen ADDR    udp:ADDR:PORT or udp6:[ADDR]:PORT (default: [traps]\n"
"                   listen of FILE, else udp:0.0.0.0:162)\n"
"  --community C    accept v1/v2c community C (default: [traps]\n"
"                   communities of FILE, else public)\n"
"  -c FILE          take [traps] (and its v3 credentials) from FILE; v3\n"
"                   informs use the engine ID in its state_dir when writable\n"
"  --count N        exit after N notifications\n"
"  --json           one event object per line, as sent to the hub\n";

struct traps_cli {
	struct loop *loop;
	bool         json;
	unsigned     count, seen;
	uint64_t     id;
	struct loop_timer flush;   /* once per loop pass, not per line */
};

static void
traps_flush(struct loop *l, struct loop_timer *t, void *arg)
{
	fflush(stdout);
}

static void
traps_print(const struct osnmp_notification *n, void *arg)
{
	struct traps_cli *c = arg;
	char when[32], oidbuf[MAX_OID_LEN * 11 + 24];
	time_t secs = (time_t)(n->received_ms / 1000);
	struct tm tm;

	if (c->json) {
		cJSON *o = agent_event_json(n, NULL, c->id++);
		cli_json_print(o);
		cJSON_Delete(o);
	} else {
		localtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		osnmp_oid_str(n->trap_oid, n->trap_oid_len, oidbuf, sizeof(oidbuf));
		printf("%s %s:%u v%s %s %s%s%s uptime %u trap %s\n", when,
		    n->source, n->port, config_version_name(n->version),
		    n->inform ? "inform" : "trap",
		    n->version == CFG_SNMP_V3 ? "user " : "community ",
		    n->version == CFG_SNMP_V3 ? n->cred->user : n->community,
		    "", n->uptime, oidbuf);
		if (n->version == CFG_SNMP_V1) {
			osnmp_oid_str(n->enterprise, n->enterprise_len, oidbuf,
			    sizeof(oidbuf));
			printf("  enterprise %s agent %s generic %ld specific %ld\n",
			    oidbuf, n->agent_addr, n->generic, n->specific);
		}
		for (const netsnmp_variable_list *v = n->vbs; v; v = v->next_variable) {
			const char *line = osnmp_vb_line(v);
			printf("  %s\n", line ? line : "(too long)");
		}
	}
	if (!loop_timer_armed(&c->flush))
		loop_timer_arm(c->loop, &c->flush, 0);
	if (c->count > 0 && ++c->seen >= c->count) {
		fflush(stdout);
		loop_stop(c->loop);
	}
}

static void
traps_stop(struct loop *l, int signo, void *arg)
{
	loop_stop(l);
}

int
cmd_traps(int argc, char **argv)
{
	enum { O_LISTEN = 2000, O_COMMUNITY, O_COUNT };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "community", required_argument, NULL, O_COMMUNITY },
		{ "count", required_argument, NULL, O_COUNT },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct osnmp_engine_opts eo = { .max_inflight = 1, .max_per_target = 1 };
	struct traps_cli c = { .id = event_id_base() };
	struct config *cfg = NULL;
	struct config_traps t = { 0 };
	struct config_credential *creds = NULL;
	const char *listen[OSNMP_TRAP_MAX_LISTEN], *comm[64], *path = NULL;
	const char *state = NULL;
	size_t nlisten = 0, ncomm = 0, ncreds = 0;
	struct trap_setup s;
	struct osnmp_engine *eng;
	struct osnmp_trap *tr;
	char err[600];
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_LISTEN:
			if (nlisten == countof(listen))
				return cli_usage_error("traps", "at most %zu --listen",
				    countof(listen));
			if (config_udp_endpoint(optarg, &(struct sockaddr_storage){ 0 },
			    &(unsigned){ 0 }, err, sizeof(err)) == -1)
				return cli_usage_error("traps", "--listen %s", err);
			listen[nlisten++] = optarg;
			break;
		case O_COMMUNITY:
			if (ncomm == countof(comm))
				return cli_usage_error("traps", "at most %zu --community",
				    countof(comm));
			comm[ncomm++] = optarg;
			break;
		case O_COUNT:
			if (cli_parse_uint("traps", "--count", optarg, 1, 1000000000,
			    &c.count) != 0)
				return EXIT_USAGE;
			break;
		case 'c':
			path = optarg;
			break;
		case OPT_JSON:
			c.json = true;
			break;
		case 'h':
			fputs(traps_usage, stdout);
			return 0;
		default:
			return cli_getopt_error("traps", opt, argv[optind - 1],
			    longopts, NULL);
		}
	}
	if (optind < argc)
		return cli_usage_error("traps", "unexpected argument '%s'", argv[optind]);
	if (path != NULL && cli_config_load(path, &cfg) != 0)
		return 1;
	if (cfg != NULL) {
		t = cfg->traps;
		creds = trap_creds_copy(cfg, &ncreds);
		if (access(cfg->agent.state_dir, W_OK) == 0)
			state = cfg->agent.state_dir;
	}
	if (nlisten > 0) {
		t.listen.items = (char **)listen;
		t.listen.count = nlisten;
	} else if (t.listen.count == 0) {
		static const char *def = "udp:0.0.0.0:162";
		t.listen.items = (char **)&def;
		t.listen.count = 1;
	}
	if (ncomm > 0) {
		t.communities.items = (char **)comm;
		t.communities.count = ncomm;
	} else if (t.communities.count == 0 && ncreds == 0) {
		static const char *pub = "public";
		t.communities.items = (char **)&pub;
		t.communities.count = 1;
	}
	/* Without FILE, rate is 0: on site, everything is shown. */
	log_init("outpost", LOG_LVL_WARN, false);
	osnmp_lib_init("outpost");
	c.loop = loop_new();
	loop_timer_init(&c.flush, traps_flush, &c);
	eng = osnmp_engine_new(c.loop, &eo);
	if (trap_setup(&s, &t, creds, ncreds, state, err, sizeof(err)) == -1 ||
	    (tr = osnmp_trap_open(c.loop, eng, &s.o, traps_print, &c, err,
	    sizeof(err))) == NULL) {
		cli_errorf("%s", err);
	} else {
		platform_on_stop(c.loop, traps_stop, &c);
		if (!c.json)
			fprintf(stderr, "outpost traps: listening on %s%s\n",
			    t.listen.items[0], t.listen.count > 1 ? " and more" : "");
		loop_run(c.loop);
		loop_timer_disarm(c.loop, &c.flush);
		fflush(stdout);
		osnmp_trap_close(tr);
		rc = 0;
	}
	osnmp_engine_free(eng);
	loop_free(c.loop);
	trap_creds_free(creds, ncreds);
	config_free(cfg);
	return rc;
}
