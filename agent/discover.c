/*
 * Scheduled discovery: every [scan] interval (the first after a random
 * delay, so agents restarted together do not scan together), scan the
 * networks with the credentials in order, the one that worked last time
 * first. The inventory is saved and sent to the hub when it changes
 * (run.c also sends it at every start).
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

#define DISCOVER_FIRST_DELAY_MS 5000
#define DISCOVER_PROGRESS_MS    60000   /* a progress line while a scan runs */

struct discover_scan {
	struct agent             *agent;
	struct config_credential  creds[OSNMP_SCAN_MAX_CREDS];
	const struct config_credential *ptrs[OSNMP_SCAN_MAX_CREDS];
	size_t                    ncreds;
	size_t                    found;
	bool                      changed;
	/* the scan command's own: results collected for its answer */
	void                    (*done)(struct discover_scan *, uint64_t probed, void *);
	void                     *arg;
	cJSON                    *devices;
	struct osnmp_scan        *scan;       /* to cancel at stop, and progress */
	struct loop_timer         progress;
	uint64_t                  started_ms;
	struct discover_scan     *next;
};

static void
ds_free(struct discover_scan *ds)
{
	if (ds->agent != NULL)
		loop_timer_disarm(ds->agent->loop, &ds->progress);
	for (size_t i = 0; i < ds->ncreds; i++)
		config_credential_clear(&ds->creds[i]);
	cJSON_Delete(ds->devices);
	free(ds);
}

static uint64_t
rand_below(uint64_t n)
{
	uint64_t r = 0;

	if (n == 0 || platform_random(&r, sizeof(r)) == -1)
		return 0;
	return r % n;
}

bool
discover_record(struct agent *a, const struct osnmp_scan_device *sd,
    const struct config_credential *c)
{
	struct inv_dev *d = inv_find(a, sd->address, sd->port);
	bool changed = false;
	uint64_t now = wall_ms();

	if (d == NULL) {
		if ((d = inv_add(a, sd->address, sd->port)) == NULL) {
			log_complain(&a->inv_full, mono_ms(), LOG_LVL_WARN, "inventory "
			    "full (%d devices); %s not added", INV_MAX_DEVICES, sd->address);
			return false;
		}
		d->first_seen_ms = now;
		changed = true;
		log_info("discovery: new device %s:%u %s (%s)", sd->address, sd->port,
		    sd->sys_name, c->name);
	}
	/* Device text goes into JSON: made valid UTF-8 (U+FFFD) first. */
#define SET_STR(field, val) do { char t_[sizeof(d->field)]; \
	snprintf(t_, sizeof(t_), "%s", (val)); utf8_repair(t_, sizeof(t_)); \
	if (strcmp(d->field, t_) != 0) { \
	memcpy(d->field, t_, sizeof(t_)); changed = true; } } while (0)
	SET_STR(cred, c->name);
	SET_STR(sys_name, sd->sys_name);
	SET_STR(sys_descr, sd->sys_descr);
	SET_STR(sys_object_id, sd->sys_object_id);
#undef SET_STR
	if (d->version != c->version) {
		d->version = c->version;
		changed = true;
	}
	if (c->version == CFG_SNMP_V3) {
		char eid[sizeof(d->engine_id)];
		if (osnmp_engine_id_hex(a->eng, d->address, d->port, eid, sizeof(eid)) == 0 &&
		    strcmp(eid, d->engine_id) != 0) {
			snprintf(d->engine_id, sizeof(d->engine_id), "%s", eid);
			changed = true;
		}
	}
	d->sys_uptime = sd->sys_uptime;
	d->last_seen_ms = now;
	return changed;
}

void
discover_publish(struct agent *a)
{
	inv_send(a);
	inv_save(a);
}

static int
first_cred(const char *address, void *arg)
{
	struct discover_scan *ds = arg;
	const struct inv_dev *d = inv_find(ds->agent, address,
	    (unsigned)ds->agent->cfg->scan.port);

	for (size_t i = 0; d && i < ds->ncreds; i++)
		if (strcmp(ds->creds[i].name, d->cred) == 0)
			return (int)i;
	return -1;
}

static void
found_cb(const struct osnmp_scan_device *sd, void *arg)
{
	struct discover_scan *ds = arg;
	struct agent *a = ds->agent;

	ds->found++;
	if (discover_record(a, sd, &ds->creds[sd->cred_index]))
		ds->changed = true;
	if (ds->devices != NULL && cJSON_GetArraySize(ds->devices) < 4096) {
		const struct inv_dev *d = inv_find(a, sd->address, sd->port);
		if (d != NULL)
			cJSON_AddItemToArray(ds->devices, inv_json(d));
	}
}

static void
done_cb(uint64_t probed, size_t found, void *arg)
{
	struct discover_scan *ds = arg;
	struct agent *a = ds->agent;

	ds->scan = NULL;
	if (ds->changed)
		discover_publish(a);
	if (ds->done != NULL) {
		for (struct discover_scan **pp = &a->cmd_scans; *pp; pp = &(*pp)->next)
			if (*pp == ds) {
				*pp = ds->next;
				break;
			}
		ds->done(ds, probed, ds->arg);
	} else {
		a->scan = NULL;
		a->scan_ds = NULL;
		log_info("discovery: %llu address%s probed, %zu device%s answered, "
		    "%zu in the inventory (%llu s)", (unsigned long long)probed,
		    probed == 1 ? "" : "es", found, found == 1 ? "" : "s", a->ndevs,
		    (unsigned long long)((mono_ms() - ds->started_ms) / 1000));
	}
	ds_free(ds);
}

/* A long scan says how far it got, so a /16 is not a silent hour. */
static void
progress_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct discover_scan *ds = arg;
	uint64_t done, total;
	size_t found;

	if (ds->scan == NULL)
		return;
	osnmp_scan_progress(ds->scan, &done, &total, &found);
	log_info("discovery: %llu of %llu addresses probed (%llu%%), %zu device%s "
	    "answered so far", (unsigned long long)done, (unsigned long long)total,
	    (unsigned long long)(total ? done * 100 / total : 100), found,
	    found == 1 ? "" : "s");
	loop_timer_arm(l, t, DISCOVER_PROGRESS_MS);
}

/* Start a scan of ranges; creds: names, or NULL for [scan] credentials. */
static struct osnmp_scan *
discover_scan(struct agent *a, const struct net_range *ranges, size_t nranges,
    unsigned port, const struct config_strings *names, struct discover_scan *ds,
    char *err, size_t errlen)
{
	const struct config *cfg = a->cfg;
	struct osnmp_scan_opts so;

	ds->agent = a;
	loop_timer_init(&ds->progress, progress_cb, ds);
	if (names == NULL || names->count == 0)
		names = &cfg->scan.credentials;
	if (names->count == 0) {
		for (size_t i = 0; i < cfg->ncreds && ds->ncreds < OSNMP_SCAN_MAX_CREDS; i++)
			agent_cred_copy(&ds->creds[ds->ncreds++], &cfg->creds[i]);
	} else {
		for (size_t i = 0; i < names->count && ds->ncreds < OSNMP_SCAN_MAX_CREDS; i++) {
			const struct config_credential *c =
			    config_credential_find(cfg, names->items[i]);
			if (c == NULL) {
				snprintf(err, errlen, "unknown credential '%.64s'", names->items[i]);
				return NULL;
			}
			agent_cred_copy(&ds->creds[ds->ncreds++], c);
		}
	}
	for (size_t i = 0; i < ds->ncreds; i++)
		ds->ptrs[i] = &ds->creds[i];
	so = (struct osnmp_scan_opts){
		.ranges = ranges, .nranges = nranges, .port = port,
		.creds = ds->ptrs, .ncreds = ds->ncreds,
		.rate = (unsigned)cfg->scan.rate,
		.concurrency = 0,   /* enough for rate x timeout */
		.timeout_ms = (unsigned)cfg->scan.timeout,
		.retries = (unsigned)cfg->scan.retries, .first_cred = first_cred,
	};
	ds->started_ms = mono_ms();
	ds->scan = osnmp_scan_start(a->eng, a->loop, &so, found_cb, done_cb, ds, err,
	    errlen);
	if (ds->scan != NULL)
		loop_timer_arm(a->loop, &ds->progress, DISCOVER_PROGRESS_MS);
	return ds->scan;
}

static void
scan_timer_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct agent *a = arg;
	const struct config *cfg = a->cfg;
	struct discover_scan *ds;
	char err[256];

	loop_timer_arm(l, t, cfg->scan.interval);
	if (a->scan != NULL || a->stopping || cfg->scan.networks.count == 0)
		return;
	ds = xcalloc(1, sizeof(*ds));
	a->scan = discover_scan(a, cfg->scan.networks.ranges, cfg->scan.networks.count,
	    (unsigned)cfg->scan.port, NULL, ds, err, sizeof(err));
	if (a->scan == NULL) {
		log_error("discovery: %s", err);
		ds_free(ds);
		return;
	}
	a->scan_ds = ds;
}

void
discover_start(struct agent *a)
{
	loop_timer_init(&a->scan_timer, scan_timer_cb, a);
	if (a->cfg->scan.networks.count == 0)
		return;
	loop_timer_arm(a->loop, &a->scan_timer, rand_below(DISCOVER_FIRST_DELAY_MS));
}

static void scan_cmd_abort(struct discover_scan *, const char *);

void
discover_stop(struct agent *a, bool commands_too)
{
	struct discover_scan *ds;

	/* At exit, command scans too: one paced by its rate may have nothing
	 * in flight, so nothing else would ever finish it. */
	while (commands_too && (ds = a->cmd_scans) != NULL) {
		a->cmd_scans = ds->next;
		osnmp_scan_cancel(ds->scan);
		scan_cmd_abort(ds, "the agent stopped before the scan finished");
		ds_free(ds);
	}
	loop_timer_disarm(a->loop, &a->scan_timer);
	if (a->scan != NULL) {
		/* After cancel no callback of the scan runs: ds can go now. */
		osnmp_scan_cancel(a->scan);
		ds_free(a->scan_ds);
		a->scan = NULL;
		a->scan_ds = NULL;
	}
}

/* ---- the scan command ---- */

struct scan_cmd {
	void (*reply)(void *ctx, cJSON *data, const char *err);
	void *ctx;
};

static void
scan_cmd_done(struct discover_scan *ds, uint64_t probed, void *arg)
{
	struct scan_cmd *sc = arg;
	cJSON *data = cJSON_CreateObject();

	cJSON_AddNumberToObject(data, "probed", (double)probed);
	cJSON_AddItemToObject(data, "devices", ds->devices);
	ds->devices = NULL;
	sc->reply(sc->ctx, data, NULL);
	free(sc);
}

static void
scan_cmd_abort(struct discover_scan *ds, const char *why)
{
	struct scan_cmd *sc = ds->arg;

	sc->reply(sc->ctx, NULL, why);
	free(sc);
}

int
discover_command(struct agent *a, const struct net_range *ranges, size_t nranges,
    unsigned port, const struct config_strings *names,
    void (*reply)(void *ctx, cJSON *data, const char *err), void *ctx,
    char *err, size_t errlen)
{
	struct discover_scan *ds = xcalloc(1, sizeof(*ds));
	struct scan_cmd *sc = xcalloc(1, sizeof(*sc));

	sc->reply = reply;
	sc->ctx = ctx;
	ds->done = scan_cmd_done;
	ds->arg = sc;
	ds->devices = cJSON_CreateArray();
	if (discover_scan(a, ranges, nranges, port, names, ds, err, errlen) == NULL) {
		ds_free(ds);
		free(sc);
		return -1;
	}
	ds->next = a->cmd_scans;
	a->cmd_scans = ds;
	return 0;
}
