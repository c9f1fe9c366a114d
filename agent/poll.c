/*
 * Polling. A profile is a set of scalars and table columns. Each device
 * is polled once per [poll] interval at its own offset in the interval
 * (a hash of its address), so no burst lines up; label columns are read
 * every label_interval only. Counters come as 64-bit columns where the
 * device has them, else from their 32-bit fallback. One sample per device,
 * profile and poll goes into the transport's open batch.
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

struct builtin_item {
	const char *oid;
	int         kind;
	const char *fallback_for;   /* this column stands in for that one */
};

static const struct builtin_item prof_system[] = {
	{ "1.3.6.1.2.1.1.1.0", PI_SCALAR, NULL },   /* sysDescr */
	{ "1.3.6.1.2.1.1.2.0", PI_SCALAR, NULL },   /* sysObjectID */
	{ "1.3.6.1.2.1.1.3.0", PI_SCALAR, NULL },   /* sysUpTime */
	{ "1.3.6.1.2.1.1.4.0", PI_SCALAR, NULL },   /* sysContact */
	{ "1.3.6.1.2.1.1.5.0", PI_SCALAR, NULL },   /* sysName */
	{ "1.3.6.1.2.1.1.6.0", PI_SCALAR, NULL },   /* sysLocation */
	{ NULL, 0, NULL },
};

static const struct builtin_item prof_interfaces[] = {
	{ "1.3.6.1.2.1.2.2.1.2", PI_LABEL, NULL },        /* ifDescr */
	{ "1.3.6.1.2.1.31.1.1.1.1", PI_LABEL, NULL },     /* ifName */
	{ "1.3.6.1.2.1.31.1.1.1.18", PI_LABEL, NULL },    /* ifAlias */
	{ "1.3.6.1.2.1.2.2.1.3", PI_COLUMN, NULL },       /* ifType */
	{ "1.3.6.1.2.1.2.2.1.5", PI_COLUMN, NULL },       /* ifSpeed */
	{ "1.3.6.1.2.1.31.1.1.1.15", PI_COLUMN, NULL },   /* ifHighSpeed */
	{ "1.3.6.1.2.1.2.2.1.7", PI_COLUMN, NULL },       /* ifAdminStatus */
	{ "1.3.6.1.2.1.2.2.1.8", PI_COLUMN, NULL },       /* ifOperStatus */
	{ "1.3.6.1.2.1.31.1.1.1.6", PI_COLUMN, NULL },    /* ifHCInOctets */
	{ "1.3.6.1.2.1.2.2.1.10", PI_COLUMN, "1.3.6.1.2.1.31.1.1.1.6" },
	{ "1.3.6.1.2.1.31.1.1.1.10", PI_COLUMN, NULL },   /* ifHCOutOctets */
	{ "1.3.6.1.2.1.2.2.1.16", PI_COLUMN, "1.3.6.1.2.1.31.1.1.1.10" },
	{ "1.3.6.1.2.1.31.1.1.1.7", PI_COLUMN, NULL },    /* ifHCInUcastPkts */
	{ "1.3.6.1.2.1.2.2.1.11", PI_COLUMN, "1.3.6.1.2.1.31.1.1.1.7" },
	{ "1.3.6.1.2.1.31.1.1.1.11", PI_COLUMN, NULL },   /* ifHCOutUcastPkts */
	{ "1.3.6.1.2.1.2.2.1.17", PI_COLUMN, "1.3.6.1.2.1.31.1.1.1.11" },
	{ "1.3.6.1.2.1.2.2.1.13", PI_COLUMN, NULL },      /* ifInDiscards */
	{ "1.3.6.1.2.1.2.2.1.14", PI_COLUMN, NULL },      /* ifInErrors */
	{ "1.3.6.1.2.1.2.2.1.19", PI_COLUMN, NULL },      /* ifOutDiscards */
	{ "1.3.6.1.2.1.2.2.1.20", PI_COLUMN, NULL },      /* ifOutErrors */
	{ NULL, 0, NULL },
};

static const struct builtin_item prof_host[] = {
	{ "1.3.6.1.2.1.25.1.1.0", PI_SCALAR, NULL },      /* hrSystemUptime */
	{ "1.3.6.1.2.1.25.3.3.1.2", PI_COLUMN, NULL },    /* hrProcessorLoad */
	{ "1.3.6.1.2.1.25.2.3.1.3", PI_LABEL, NULL },     /* hrStorageDescr */
	{ "1.3.6.1.2.1.25.2.3.1.4", PI_COLUMN, NULL },    /* hrStorageAllocationUnits */
	{ "1.3.6.1.2.1.25.2.3.1.5", PI_COLUMN, NULL },    /* hrStorageSize */
	{ "1.3.6.1.2.1.25.2.3.1.6", PI_COLUMN, NULL },    /* hrStorageUsed */
	{ NULL, 0, NULL },
};

static const struct {
	const char                *name;
	const struct builtin_item *items;
} builtins[] = {
	{ "system", prof_system },
	{ "interfaces", prof_interfaces },
	{ "host", prof_host },
};

static int
prof_add(struct profile *p, const char *oidstr, int kind, char *err, size_t errlen)
{
	struct prof_item *it;
	char e[256];

	if (p->n == PROFILE_MAX_ITEMS) {
		snprintf(err, errlen, "profile %s: more than %d OIDs", p->name,
		    PROFILE_MAX_ITEMS);
		return -1;
	}
	oid o[MAX_OID_LEN];
	size_t len;

	it = &p->items[p->n];
	memset(it, 0, sizeof(*it));
	if (osnmp_oid_parse(oidstr, o, &len, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "profile %s: %s", p->name, e);
		return -1;
	}
	if (len > PROF_OID_MAX) {
		snprintf(err, errlen, "profile %s: %.64s: at most %d parts", p->name,
		    oidstr, PROF_OID_MAX);
		return -1;
	}
	memcpy(it->o, o, len * sizeof(oid));
	it->len = len;
	osnmp_oid_str(it->o, it->len, it->dotted, sizeof(it->dotted));
	it->kind = kind;
	it->fallback_for = -1;
	p->n++;
	return 0;
}

/* [poll] profiles into compiled profiles; -1 with a message. */
void
poll_release(struct profset *ps)
{
	if (ps != NULL && --ps->refs == 0)
		free(ps);
}

int
poll_compile(struct agent *a, const struct config *cfg, char *err, size_t errlen)
{
	struct profset *set = xcalloc(1, sizeof(*set) +
	    (cfg->poll.profiles.count ? cfg->poll.profiles.count : 1) * sizeof(struct profile));
	struct profile *ps = set->p;
	size_t n = 0;

	for (size_t i = 0; i < cfg->poll.profiles.count; i++) {
		const char *name = cfg->poll.profiles.items[i];
		const struct config_profile *up = config_profile_find(cfg, name);
		struct profile *p = &ps[n];

		if (n == PROFILE_MAX) {
			snprintf(err, errlen, "more than %d profiles", PROFILE_MAX);
			goto fail;
		}
		snprintf(p->name, sizeof(p->name), "%s", name);
		for (size_t b = 0; b < countof(builtins) && up == NULL; b++) {
			if (strcmp(builtins[b].name, name) != 0)
				continue;
			for (const struct builtin_item *it = builtins[b].items; it->oid; it++) {
				if (prof_add(p, it->oid, it->kind, err, errlen) == -1)
					goto fail;
				if (it->fallback_for == NULL)
					continue;
				for (size_t k = 0; k + 1 < p->n; k++)
					if (strcmp(p->items[k].dotted + 1, it->fallback_for) == 0)
						p->items[p->n - 1].fallback_for = (int)k;
			}
		}
		if (up != NULL) {
			for (size_t k = 0; k < up->scalars.count; k++)
				if (prof_add(p, up->scalars.items[k], PI_SCALAR, err, errlen) == -1)
					goto fail;
			for (size_t k = 0; k < up->columns.count; k++)
				if (prof_add(p, up->columns.items[k], PI_COLUMN, err, errlen) == -1)
					goto fail;
			for (size_t k = 0; k < up->labels.count; k++)
				if (prof_add(p, up->labels.items[k], PI_LABEL, err, errlen) == -1)
					goto fail;
		}
		n++;
	}
	set->n = n;
	set->refs = 1;
	poll_release(a->ps);
	a->ps = set;
	return 0;
fail:
	free(set);
	return -1;
}

/* ---- one poll of one device ---- */

struct poll_run {
	struct inv_dev          *d;
	struct profset          *ps;         /* a reference, see poll_release */
	struct config_credential cred;
	struct osnmp_target      target;
	size_t                   prof, prof_end;     /* profiles to go */
	bool                     labels;
	/* the table of the current profile */
	int                      cols[PROFILE_MAX_ITEMS];   /* item index per walk column */
	size_t                   ncols;
	cJSON                   *rows;       /* instance -> [values per item] */
	bool                     col_seen[PROFILE_MAX_ITEMS];
	cJSON                   *samples;
	char                     error[200];
	poll_done_cb             done;
	void                    *arg;
};

static void poll_profile(struct poll_run *);

static cJSON *
vb_value_json(const netsnmp_variable_list *vb)
{
	return osnmp_vb_json_cell(vb);
}

static cJSON *
sample_new(struct poll_run *r, const struct profile *p)
{
	struct inv_dev *d = r->d;
	char dev[80];
	cJSON *s = cJSON_CreateObject();

	snprintf(dev, sizeof(dev), "%s:%u", d->address, d->port);
	cJSON_AddStringToObject(s, "device", dev);
	cJSON_AddNumberToObject(s, "ts", (double)d->poll_started);
	cJSON_AddStringToObject(s, "profile", p->name);
	return s;
}

static void
poll_finish(struct poll_run *r)
{
	struct inv_dev *d = r->d;
	struct agent *a = d->agent;
	uint64_t now = mono_ms();
	cJSON *s;

	d->run = NULL;
	d->duration_ms = now - d->polling_mono;
	d->polls++;
	a->polls++;
	if (r->error[0]) {
		d->poll_errors++;
		a->poll_errors++;
		log_complain(&d->complain, now, LOG_LVL_WARN, "poll %s:%u: %s",
		    d->address, d->port, r->error);
	} else {
		log_release(&d->complain, "poll %s:%u: answers again", d->address, d->port);
	}
	if (d->duration_ms > a->cfg->poll.interval)
		log_complain(&d->slow, now, LOG_LVL_WARN, "poll %s:%u (%s) took %llu ms, "
		    "longer than its interval", d->address, d->port, d->sys_name,
		    (unsigned long long)d->duration_ms);
	if (r->done != NULL) {
		r->done(d, r->samples, r->error[0] ? r->error : NULL, r->arg);
	} else if (a->transport_closed) {
		cJSON_Delete(r->samples);   /* cut short at exit: never accepted */
	} else {
		while ((s = cJSON_DetachItemFromArray(r->samples, 0)) != NULL) {
			a->samples++;
			transport_add(a->tp, "samples", s);
		}
		cJSON_Delete(r->samples);
	}
	cJSON_Delete(r->rows);
	config_credential_clear(&r->cred);
	poll_release(r->ps);
	free(r);
}

static void
table_row_cb(int col, const netsnmp_variable_list *vb, void *arg)
{
	struct poll_run *r = arg;
	const struct prof_item *it = &r->ps->p[r->prof].items[r->cols[col]];
	char inst[MAX_OID_LEN * 11];
	cJSON *row;

	osnmp_oid_str(vb->name + it->len, vb->name_length - it->len, inst, sizeof(inst));
	if ((row = cJSON_GetObjectItemCaseSensitive(r->rows, inst + 1)) == NULL) {
		row = cJSON_CreateArray();
		for (size_t i = 0; i < r->ncols; i++)
			cJSON_AddItemToArray(row, cJSON_CreateNull());
		cJSON_AddItemToObject(r->rows, inst + 1, row);
	}
	cJSON_ReplaceItemInArray(row, col, vb_value_json(vb));
	r->col_seen[col] = true;
}

static void
table_done_cb(enum osnmp_status st, const char *msg, void *arg)
{
	struct poll_run *r = arg;
	const struct profile *p = &r->ps->p[r->prof];
	bool keep[PROFILE_MAX_ITEMS];
	cJSON *s, *cols, *row;

	if (st != OSNMP_ST_OK) {
		snprintf(r->error, sizeof(r->error), "%s: %s", p->name, msg ? msg : "failed");
		poll_finish(r);
		return;
	}
	/* A 32-bit fallback column stays only where its 64-bit one is empty;
	 * columns the device does not have are left out. Next time, skip the
	 * fallbacks if every 64-bit column they stand in for answered. */
	bool hc_all = true, any_fallback = false;
	for (size_t c = 0; c < r->ncols; c++) {
		const struct prof_item *it = &p->items[r->cols[c]];
		keep[c] = r->col_seen[c];
		for (size_t k = 0; it->fallback_for >= 0 && k < r->ncols; k++)
			if (r->cols[k] == it->fallback_for && r->col_seen[k])
				keep[c] = false;
		for (size_t k = 0; k < p->n; k++)
			if (p->items[k].fallback_for == r->cols[c]) {
				any_fallback = true;
				hc_all &= r->col_seen[c];
			}
	}
	if (any_fallback)
		r->d->hc_ok = hc_all;
	s = sample_new(r, p);
	cols = cJSON_AddArrayToObject(s, "columns");
	for (size_t c = 0; c < r->ncols; c++)
		if (keep[c])
			cJSON_AddItemToArray(cols, cJSON_CreateString(p->items[r->cols[c]].dotted));
	cJSON_ArrayForEach(row, r->rows)
		for (size_t c = r->ncols; c-- > 0;)
			if (!keep[c])
				cJSON_DeleteItemFromArray(row, (int)c);
	cJSON_AddItemToObject(s, "rows", r->rows);
	r->rows = NULL;
	if (cJSON_GetArraySize(cols) > 0)
		cJSON_AddItemToArray(r->samples, s);
	else
		cJSON_Delete(s);
	r->prof++;
	poll_profile(r);
}

static void
poll_columns(struct poll_run *r)
{
	const struct profile *p = &r->ps->p[r->prof];
	struct osnmp_table_col cols[PROFILE_MAX_ITEMS];
	char err[256];

	r->ncols = 0;
	memset(r->col_seen, 0, sizeof(r->col_seen));
	for (size_t i = 0; i < p->n; i++) {
		if (p->items[i].kind == PI_SCALAR ||
		    (p->items[i].kind == PI_LABEL && !r->labels) ||
		    (p->items[i].fallback_for >= 0 && r->d->hc_ok))
			continue;
		cols[r->ncols] = (struct osnmp_table_col){ p->items[i].o, p->items[i].len };
		r->cols[r->ncols++] = (int)i;
	}
	if (r->ncols == 0) {
		r->prof++;
		poll_profile(r);
		return;
	}
	r->rows = cJSON_CreateObject();
	if (osnmp_table_walk(r->d->agent->eng, &r->target, cols, r->ncols,
	    (unsigned)r->d->agent->cfg->poll.repetitions, table_row_cb,
	    table_done_cb, r, err, sizeof(err)) == -1) {
		snprintf(r->error, sizeof(r->error), "%s: %.120s", p->name, err);
		poll_finish(r);
	}
}

static void
scalars_reply(const struct osnmp_reply *rep, void *arg)
{
	struct poll_run *r = arg;
	const struct profile *p = &r->ps->p[r->prof];
	cJSON *s, *cols, *rows, *vals;

	if (rep->status != OSNMP_ST_OK || rep->pdu->errstat != SNMP_ERR_NOERROR) {
		snprintf(r->error, sizeof(r->error), "%s: %s", p->name,
		    rep->status != OSNMP_ST_OK ? (rep->errmsg ? rep->errmsg : "failed") :
		    snmp_errstring((int)rep->pdu->errstat));
		poll_finish(r);
		return;
	}
	s = sample_new(r, p);
	cols = cJSON_AddArrayToObject(s, "columns");
	rows = cJSON_AddObjectToObject(s, "rows");
	vals = cJSON_AddArrayToObject(rows, "0");
	for (const netsnmp_variable_list *vb = rep->pdu->variables; vb;
	    vb = vb->next_variable) {
		char dotted[MAX_OID_LEN * 11];
		osnmp_oid_str(vb->name, vb->name_length, dotted, sizeof(dotted));
		cJSON_AddItemToArray(cols, cJSON_CreateString(dotted));
		cJSON_AddItemToArray(vals, vb_value_json(vb));
	}
	cJSON_AddItemToArray(r->samples, s);
	poll_columns(r);
}

/* The current profile: scalars first (one GET), then its columns. */
static void
poll_profile(struct poll_run *r)
{
	const struct profile *p;
	netsnmp_pdu *pdu = NULL;
	char err[256];

	if (r->prof >= r->prof_end) {
		poll_finish(r);
		return;
	}
	p = &r->ps->p[r->prof];
	for (size_t i = 0; i < p->n; i++) {
		if (p->items[i].kind != PI_SCALAR)
			continue;
		if (pdu == NULL)
			pdu = snmp_pdu_create(SNMP_MSG_GET);
		snmp_add_null_var(pdu, p->items[i].o, p->items[i].len);
	}
	if (pdu == NULL) {
		poll_columns(r);
		return;
	}
	if (osnmp_send(r->d->agent->eng, &r->target, pdu, scalars_reply, r, err,
	    sizeof(err)) == -1) {
		snprintf(r->error, sizeof(r->error), "%s: %.120s", p->name, err);
		poll_finish(r);
	}
}

int
poll_now(struct inv_dev *d, const char *profile, poll_done_cb done, void *arg)
{
	struct agent *a = d->agent;
	const struct config_credential *c = a->cli_cred ? a->cli_cred :
	    config_credential_find(a->cfg, d->cred);
	struct poll_run *r;

	if (d->run != NULL || c == NULL || a->ps == NULL || a->ps->n == 0)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->d = d;
	r->ps = a->ps;
	r->ps->refs++;
	agent_cred_copy(&r->cred, c);
	snprintf(r->target.host, sizeof(r->target.host), "%s", d->address);
	r->target.port = d->port;
	r->target.cred = &r->cred;
	r->target.timeout_ms = (unsigned)a->cfg->poll.timeout;
	r->target.retries = (unsigned)a->cfg->poll.retries;
	r->prof_end = r->ps->n;
	if (profile != NULL) {
		r->prof_end = 0;
		for (size_t i = 0; i < r->ps->n; i++)
			if (strcmp(r->ps->p[i].name, profile) == 0) {
				r->prof = i;
				r->prof_end = i + 1;
			}
		if (r->prof_end == 0) {
			config_credential_clear(&r->cred);
			poll_release(r->ps);
			free(r);
			return -1;
		}
	}
	r->samples = cJSON_CreateArray();
	r->done = done;
	r->arg = arg;
	d->poll_started = wall_ms();
	d->polling_mono = mono_ms();
	/* Labels on the first poll, then every label_interval. */
	r->labels = d->last_labels_ms == 0 ||
	    d->polling_mono - d->last_labels_ms >= a->cfg->poll.label_interval;
	if (r->labels)
		d->last_labels_ms = d->polling_mono;
	d->run = r;
	poll_profile(r);
	return 0;
}

static void
poll_timer_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct inv_dev *d = arg;
	struct agent *a = d->agent;

	loop_timer_arm(l, t, a->cfg->poll.interval);
	if (a->stopping)
		return;
	if (d->run != NULL) {
		log_complain(&d->slow, mono_ms(), LOG_LVL_WARN, "poll %s:%u (%s): the "
		    "previous poll is still running; skipped", d->address, d->port,
		    d->sys_name);
		return;
	}
	if (config_credential_find(a->cfg, d->cred) == NULL) {
		log_complain(&d->complain, mono_ms(), LOG_LVL_WARN, "poll %s:%u: "
		    "credential '%s' is no longer configured; skipped until the "
		    "next discovery", d->address, d->port, d->cred);
		return;
	}
	poll_now(d, NULL, NULL, NULL);
}

/* Each device at its own offset in the interval: no burst lines up. */
static uint64_t
poll_offset(const struct inv_dev *d, uint64_t interval)
{
	uint32_t h = 2166136261u;

	for (const char *p = d->address; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ d->port) * 16777619u;
	return interval ? h % interval : 0;
}

void
poll_device_added(struct inv_dev *d)
{
	struct agent *a = d->agent;

	loop_timer_init(&d->timer, poll_timer_cb, d);
	if (a->ps != NULL && a->ps->n > 0 && !a->oneshot)
		loop_timer_arm(a->loop, &d->timer, poll_offset(d, a->cfg->poll.interval));
}

/* Only at exit, after the engine (and so every poll in flight) is gone. */
void
poll_device_removed(struct inv_dev *d)
{
	loop_timer_disarm(d->agent->loop, &d->timer);
}

void
poll_reschedule_all(struct agent *a)
{
	for (struct inv_dev *d = a->devs; d; d = d->next) {
		loop_timer_disarm(a->loop, &d->timer);
		if (a->ps != NULL && a->ps->n > 0)
			loop_timer_arm(a->loop, &d->timer, poll_offset(d, a->cfg->poll.interval));
	}
}
