/*
 * Polling. A profile is a set of scalars and table columns (the built-in
 * ones are rows of config/profiles.c). Each device is polled once per
 * [poll] interval at its own offset in the interval (a hash of its
 * address), so no burst lines up; label columns are read every
 * label_interval only. Counters come as 64-bit columns where the device
 * has them, else from their 32-bit fallback. Each profile polled gives
 * exactly one sample (docs/protocol.md): its scalars, its tables (rows
 * kept in rows.c until then, at most [poll] max_rows each), or
 * "no_data": true; the samples go into the transport's open batch.
 */
#include "agent/agent_int.h"
#include "protocol/protocol.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The table named name in p, added if new; -1 if p has too many. */
static int
prof_table(struct profile *p, const char *name, char *err, size_t errlen)
{
	for (size_t t = 0; t < p->ntables; t++)
		if (strcmp(p->tables[t], name) == 0)
			return (int)t;
	if (p->ntables == PROF_MAX_TABLES) {
		snprintf(err, errlen, "profile %s: more than %d tables", p->name,
		    PROF_MAX_TABLES);
		return -1;
	}
	snprintf(p->tables[p->ntables], sizeof(p->tables[0]), "%s", name);
	return (int)p->ntables++;
}

static int
prof_add(struct profile *p, const char *oidstr, enum config_item_kind kind,
    const char *table, char *err, size_t errlen)
{
	struct prof_item *it;
	oid o[MAX_OID_LEN];
	size_t len;
	char e[256];

	if (p->n == PROFILE_MAX_ITEMS) {
		snprintf(err, errlen, "profile %s: more than %d OIDs", p->name,
		    PROFILE_MAX_ITEMS);
		return -1;
	}
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
	it->table = -1;
	if (kind != CFG_ITEM_SCALAR &&
	    (it->table = prof_table(p, table, err, errlen)) == -1)
		return -1;
	it->fallback_for = -1;
	p->n++;
	return 0;
}

static int
prof_add_builtin(struct profile *p, const struct config_builtin_profile *bp,
    char *err, size_t errlen)
{
	for (const struct config_builtin_item *it = bp->items; it->oid; it++) {
		if (prof_add(p, it->oid, it->kind, it->table, err, errlen) == -1)
			return -1;
		for (size_t k = 0; it->fallback_for && k + 1 < p->n; k++)
			if (strcmp(p->items[k].dotted + 1, it->fallback_for) == 0)
				p->items[p->n - 1].fallback_for = (int)k;
	}
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
		const struct config_builtin_profile *bp;
		struct profile *p = &ps[n];

		if (n == PROFILE_MAX) {
			snprintf(err, errlen, "more than %d profiles", PROFILE_MAX);
			goto fail;
		}
		snprintf(p->name, sizeof(p->name), "%s", name);
		if (up != NULL) {
			for (size_t k = 0; k < up->scalars.count; k++)
				if (prof_add(p, up->scalars.items[k], CFG_ITEM_SCALAR, NULL,
				    err, errlen) == -1)
					goto fail;
			for (size_t k = 0; k < up->columns.count; k++)
				if (prof_add(p, up->columns.items[k], CFG_ITEM_COLUMN, name,
				    err, errlen) == -1)
					goto fail;
			for (size_t k = 0; k < up->labels.count; k++)
				if (prof_add(p, up->labels.items[k], CFG_ITEM_LABEL, name,
				    err, errlen) == -1)
					goto fail;
		} else if ((bp = config_builtin_profile_find(name)) != NULL) {
			if (prof_add_builtin(p, bp, err, errlen) == -1)
				goto fail;
		} else {
			snprintf(err, errlen, "unknown profile '%s'", name);
			goto fail;
		}
		n++;
	}
	set->n = n;
	set->refs = 1;
	a->rows_budget.max = ROWS_BUDGET_BYTES;
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
	bool                     capped;     /* a table of this poll hit max_rows */
	size_t                   values;     /* in the samples so far */
	/* the current profile */
	cJSON                   *scalars;    /* OID -> value */
	bool                     scalar_gone[PROFILE_MAX_ITEMS];   /* v1 noSuchName */
	int                      cols[PROFILE_MAX_ITEMS];   /* item index per walk column */
	int                      col_pos[PROFILE_MAX_ITEMS];   /* its column in its rows */
	bool                     col_seen[PROFILE_MAX_ITEMS];
	size_t                   ncols;
	struct rows             *rows[PROF_MAX_TABLES];
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

/* A stored value back into the varbind it came in (column OID, instance,
 * type, bytes), so that it is encoded by the same code as any other. */
static cJSON *
stored_value_json(const struct prof_item *it, const uint32_t *arcs, size_t ninst,
    unsigned char type, const void *val, size_t len)
{
	netsnmp_variable_list vb;
	oid name[MAX_OID_LEN];

	memset(&vb, 0, sizeof(vb));
	memcpy(name, it->o, it->len * sizeof(oid));
	for (size_t i = 0; i < ninst && it->len + i < MAX_OID_LEN; i++)
		name[it->len + i] = arcs[i];
	vb.name = name;
	vb.name_length = it->len + ninst < MAX_OID_LEN ? it->len + ninst : MAX_OID_LEN;
	vb.type = type;
	vb.val.string = (u_char *)(uintptr_t)val;   /* read only */
	vb.val_len = len;
	return vb_value_json(&vb);
}

static void
rows_clear(struct poll_run *r)
{
	for (size_t t = 0; t < PROF_MAX_TABLES; t++) {
		rows_free(r->rows[t]);
		r->rows[t] = NULL;
	}
	cJSON_Delete(r->scalars);
	r->scalars = NULL;
}

/* A poll's samples into the normal stream (ownership taken). */
static void
poll_emit(struct agent *a, cJSON *samples)
{
	cJSON *s;

	if (a->transport_closed) {
		cJSON_Delete(samples);   /* cut short at exit: never accepted */
		return;
	}
	while ((s = cJSON_DetachItemFromArray(samples, 0)) != NULL) {
		a->samples++;
		transport_add(a->tp, "samples", s);
	}
	cJSON_Delete(samples);
}

static void
poll_finish(struct poll_run *r)
{
	struct inv_dev *d = r->d;
	struct agent *a = d->agent;
	uint64_t now = mono_ms();

	d->run = NULL;
	d->last_values = r->values;
	d->duration_ms = now - d->polling_mono;
	d->polls++;
	a->polls++;
	if (r->error[0]) {
		d->poll_errors++;
		a->poll_errors++;
		if (!a->oneshot)   /* outpost poll prints it, once */
			log_complain(&d->complain, now, LOG_LVL_WARN, "poll %s:%u: %s",
			    d->address, d->port, r->error);
	} else {
		log_release(&d->complain, "poll %s:%u: answers again", d->address, d->port);
		if (!r->capped)
			log_release(&d->capped, "poll %s:%u: every table fits [poll] "
			    "max_rows again", d->address, d->port);
	}
	if (d->duration_ms > a->cfg->poll.interval)
		log_complain(&d->slow, now, LOG_LVL_WARN, "poll %s:%u (%s) took %llu ms, "
		    "longer than its interval", d->address, d->port, d->sys_name,
		    (unsigned long long)d->duration_ms);
	if (r->done != NULL)
		r->done(d, r->samples, r->error[0] ? r->error : NULL, r->arg);
	else
		poll_emit(a, r->samples);
	rows_clear(r);
	config_credential_clear(&r->cred);
	poll_release(r->ps);
	free(r);
}

static void
poll_fail(struct poll_run *r, const char *what)
{
	snprintf(r->error, sizeof(r->error), "%s: %.160s", r->ps->p[r->prof].name,
	    what ? what : "failed");
	poll_finish(r);
}

static bool
table_row_cb(int col, const netsnmp_variable_list *vb, void *arg)
{
	struct poll_run *r = arg;
	const struct prof_item *it = &r->ps->p[r->prof].items[r->cols[col]];

	/* Full: this column ends; the walk goes on with the others, which
	 * still fill the rows already there. */
	if (rows_put(r->rows[it->table], (size_t)r->col_pos[col], vb->name + it->len,
	    vb->name_length - it->len, vb->type, vb->val.string, vb->val_len) != ROWS_OK)
		return false;
	r->col_seen[col] = true;
	return true;
}

/* JSON text of a table's rows, built once: a cJSON node per value would
 * take several times the memory of the text (a 10,000-row table). */
#define ROWS_TEXT_MAX ((size_t)256 << 20)
struct rows_text {
	char  *s;
	size_t len, cap;
	bool   full;
};

static void
rows_text_add(struct rows_text *b, const char *s, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->full)
		return;
	while (cap < b->len + n + 1)
		cap *= 2;
	if (cap > b->cap) {
		if (cap > ROWS_TEXT_MAX || (p = realloc(b->s, cap)) == NULL) {
			b->full = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* One value as JSON text, through the same encoder as any varbind. */
static void
rows_text_value(struct rows_text *b, char *scratch, size_t scratchlen, cJSON *v)
{
	char *heap = NULL;

	if (v != NULL && cJSON_PrintPreallocated(v, scratch, (int)scratchlen, false))
		rows_text_add(b, scratch, strlen(scratch));
	else if (v != NULL && (heap = cJSON_PrintUnformatted(v)) != NULL)
		rows_text_add(b, heap, strlen(heap));
	else
		rows_text_add(b, "null", 4);
	cJSON_free(heap);
	cJSON_Delete(v);
}

/* Row i of table t as "INSTANCE":[values] (after a comma unless first):
 * how many values; nothing is added if none is in the columns kept. */
static size_t
rows_text_row(struct poll_run *r, size_t t, const bool *keep, size_t i,
    struct rows_text *b, bool first, char *scratch, size_t scratchlen)
{
	const struct profile *p = &r->ps->p[r->prof];
	const struct rows *rs = r->rows[t];
	char inst[MAX_OID_LEN * 11 + 8], *o = inst;
	const uint32_t *arcs;
	size_t len = rows_inst(rs, i, &arcs), start = b->len, values = 0;
	bool sep = false;

	o += sprintf(o, "%s\"", first ? "" : ",");
	for (size_t k = 0; k < len; k++)
		o += sprintf(o, k ? ".%" PRIu32 : "%" PRIu32, arcs[k]);
	o += sprintf(o, "\":[");
	rows_text_add(b, inst, (size_t)(o - inst));
	for (size_t c = 0; c < r->ncols; c++) {
		const struct prof_item *it = &p->items[r->cols[c]];
		unsigned char type;
		const void *val;
		size_t vlen;

		if (!keep[c] || it->table != (int)t)
			continue;
		if (sep)
			rows_text_add(b, ",", 1);
		sep = true;
		if (rows_value(rs, i, (size_t)r->col_pos[c], &type, &val, &vlen)) {
			rows_text_value(b, scratch, scratchlen,
			    stored_value_json(it, arcs, len, type, val, vlen));
			values++;
		} else {
			rows_text_add(b, "null", 4);
		}
	}
	rows_text_add(b, "]", 1);
	if (values == 0 && !b->full) {   /* only in a column left out */
		b->len = start;
		b->s[b->len] = '\0';
	}
	return values;
}

/* One table of the sample: {"columns", "rows", "truncated"[, "rows_max"]},
 * or NULL if no row has a value in the columns kept. */
static cJSON *
table_json(struct poll_run *r, size_t t, const bool *keep)
{
	const struct profile *p = &r->ps->p[r->prof];
	struct rows *rs = r->rows[t];
	struct rows_text b = { 0 };
	size_t n = 0, scratchlen = 65536 * 8;
	char *scratch;
	bool capped;
	cJSON *tj, *cols;

	if (rs == NULL)
		return NULL;
	tj = cJSON_CreateObject();
	cols = cJSON_AddArrayToObject(tj, "columns");
	for (size_t c = 0; c < r->ncols; c++)
		if (keep[c] && p->items[r->cols[c]].table == (int)t)
			cJSON_AddItemToArray(cols,
			    cJSON_CreateString(p->items[r->cols[c]].dotted));
	rows_sort(rs);
	scratch = xcalloc(1, scratchlen);
	rows_text_add(&b, "{", 1);
	for (size_t i = 0; i < rows_count(rs) && !b.full; i++) {
		size_t v = rows_text_row(r, t, keep, i, &b, n == 0, scratch, scratchlen);
		n += v > 0;
		r->values += v;
	}
	rows_text_add(&b, "}", 1);
	free(scratch);
	if (b.full) {   /* no room for the text: an empty, cut table */
		n = 0;
		cJSON_AddItemToObject(tj, "rows", cJSON_CreateObject());
	} else {
		cJSON_AddItemToObject(tj, "rows", cJSON_CreateRaw(b.s));
	}
	free(b.s);
	capped = rows_truncated(rs) &&
	    rows_count(rs) >= (size_t)r->d->agent->cfg->poll.max_rows;
	cJSON_AddBoolToObject(tj, "truncated", rows_truncated(rs) || b.full);
	if (capped)   /* else memory cut it: no rows_max */
		cJSON_AddNumberToObject(tj, "rows_max",
		    (double)r->d->agent->cfg->poll.max_rows);
	if (n == 0 && !rows_truncated(rs) && !b.full) {
		cJSON_Delete(tj);
		return NULL;
	}
	return tj;
}

/* The profile's one sample: scalars and tables, or "no_data": true. */
static void
profile_done(struct poll_run *r, const bool *keep)
{
	const struct profile *p = &r->ps->p[r->prof];
	struct inv_dev *d = r->d;
	cJSON *s = cJSON_CreateObject(), *tables = cJSON_CreateObject(), *tj;
	char dev[80];

	for (size_t t = 0; t < p->ntables; t++) {
		if ((tj = table_json(r, t, keep)) == NULL)
			continue;
		cJSON_AddItemToObject(tables, p->tables[t], tj);
		if (!rows_truncated(r->rows[t]))
			continue;
		r->capped = true;
		if (d->agent->oneshot)   /* outpost poll says it itself */
			continue;
		if (rows_count(r->rows[t]) >= (size_t)d->agent->cfg->poll.max_rows)
			log_complain(&d->capped, mono_ms(), LOG_LVL_WARN, "poll %s:%u: "
			    "profile %s: table %s has more than %d rows; the sample "
			    "holds the first ones ([poll] max_rows)", d->address, d->port,
			    p->name, p->tables[t], d->agent->cfg->poll.max_rows);
		else
			log_complain(&d->capped, mono_ms(), LOG_LVL_WARN, "poll %s:%u: "
			    "profile %s: table %s cut at %zu rows: out of memory for "
			    "tables (values too large, or too many big tables at once)",
			    d->address, d->port, p->name, p->tables[t],
			    rows_count(r->rows[t]));
	}
	snprintf(dev, sizeof(dev), "%s:%u", d->address, d->port);
	cJSON_AddStringToObject(s, "device", dev);
	cJSON_AddNumberToObject(s, "ts", (double)d->poll_started);
	cJSON_AddStringToObject(s, "profile", p->name);
	cJSON_AddBoolToObject(s, "no_data", cJSON_GetArraySize(r->scalars) == 0 &&
	    cJSON_GetArraySize(tables) == 0);
	r->values += (size_t)cJSON_GetArraySize(r->scalars);
	cJSON_AddItemToObject(s, "scalars", r->scalars);
	r->scalars = NULL;
	cJSON_AddItemToObject(s, "tables", tables);
	cJSON_AddItemToArray(r->samples, s);
	rows_clear(r);
	r->prof++;
	poll_profile(r);
}

static void
table_done_cb(enum osnmp_status st, const char *msg, void *arg)
{
	struct poll_run *r = arg;
	const struct profile *p = &r->ps->p[r->prof];
	bool keep[PROFILE_MAX_ITEMS];

	if (st != OSNMP_ST_OK) {
		poll_fail(r, msg);
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
	profile_done(r, keep);
}

static void
poll_columns(struct poll_run *r)
{
	const struct profile *p = &r->ps->p[r->prof];
	struct osnmp_table_col cols[PROFILE_MAX_ITEMS];
	size_t per_table[PROF_MAX_TABLES] = { 0 };
	const struct config_poll *cp = &r->d->agent->cfg->poll;
	char err[256];

	r->ncols = 0;
	memset(r->col_seen, 0, sizeof(r->col_seen));
	for (size_t i = 0; i < p->n; i++) {
		const struct prof_item *it = &p->items[i];
		if (it->kind == CFG_ITEM_SCALAR ||
		    (it->kind == CFG_ITEM_LABEL && !r->labels) ||
		    (it->fallback_for >= 0 && r->d->hc_ok))
			continue;
		cols[r->ncols] = (struct osnmp_table_col){ it->o, it->len };
		r->col_pos[r->ncols] = (int)per_table[it->table]++;
		r->cols[r->ncols++] = (int)i;
	}
	if (r->ncols == 0) {
		profile_done(r, NULL);
		return;
	}
	for (size_t t = 0; t < p->ntables; t++)
		if (per_table[t] > 0)
			r->rows[t] = rows_new(per_table[t], (size_t)cp->max_rows,
			    ROWS_MAX_BYTES, &r->d->agent->rows_budget);
	if (osnmp_table_walk(r->d->agent->eng, &r->target, cols, r->ncols,
	    (unsigned)cp->repetitions, table_row_cb, table_done_cb, r, err,
	    sizeof(err)) == -1)
		poll_fail(r, err);
}

static void poll_scalars(struct poll_run *);

static void
scalars_reply(const struct osnmp_reply *rep, void *arg)
{
	struct poll_run *r = arg;
	const struct profile *p = &r->ps->p[r->prof];
	long ix;

	if (rep->status != OSNMP_ST_OK) {
		poll_fail(r, rep->errmsg);
		return;
	}
	/* v1 has no noSuchObject: the whole GET fails on the first missing
	 * OID (RFC 1157 4.1.2). Ask again without it, as snmpget -v1 does. */
	ix = rep->pdu->errindex;
	if (rep->pdu->errstat == SNMP_ERR_NOSUCHNAME && ix >= 1) {
		for (size_t i = 0; i < p->n; i++) {
			if (p->items[i].kind != CFG_ITEM_SCALAR || r->scalar_gone[i])
				continue;
			if (--ix == 0) {
				r->scalar_gone[i] = true;
				poll_scalars(r);
				return;
			}
		}
	}
	if (rep->pdu->errstat != SNMP_ERR_NOERROR) {
		poll_fail(r, snmp_errstring((int)rep->pdu->errstat));
		return;
	}
	for (const netsnmp_variable_list *vb = rep->pdu->variables; vb;
	    vb = vb->next_variable) {
		char dotted[MAX_OID_LEN * 11];
		if (osnmp_vb_is_exception(vb))   /* absent: left out */
			continue;
		osnmp_oid_str(vb->name, vb->name_length, dotted, sizeof(dotted));
		cJSON_AddItemToObject(r->scalars, dotted, vb_value_json(vb));
	}
	poll_columns(r);
}

/* One GET of the profile's scalars (those a v1 device has not refused). */
static void
poll_scalars(struct poll_run *r)
{
	const struct profile *p = &r->ps->p[r->prof];
	netsnmp_pdu *pdu = NULL;
	char err[256];

	for (size_t i = 0; i < p->n; i++) {
		if (p->items[i].kind != CFG_ITEM_SCALAR || r->scalar_gone[i])
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
	    sizeof(err)) == -1)
		poll_fail(r, err);
}

/* The current profile: scalars first (one GET), then its columns (one
 * table walk of all of them), then its sample. */
static void
poll_profile(struct poll_run *r)
{
	if (r->prof >= r->prof_end) {
		poll_finish(r);
		return;
	}
	r->scalars = cJSON_CreateObject();
	memset(r->scalar_gone, 0, sizeof(r->scalar_gone));
	poll_scalars(r);
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

/*
 * poll.now for every device. A sweep starts at most POLL_NOW_WINDOW polls
 * at a time, in inventory order, and the next as each one ends: 10,000
 * devices must not open 10,000 sockets and send 10,000 requests in one
 * pass. A new sweep replaces the devices the current one has not started.
 */
#define POLL_NOW_WINDOW 256

struct poll_sweep {
	struct inv_dev **devs;
	size_t           n, next;
	unsigned         inflight;
	bool             pumping, has_profile;
	char             profile[PROTO_NAME_MAX + 1];
};

static void sweep_pump(struct agent *);

static void
sweep_done(struct inv_dev *d, cJSON *samples, const char *err, void *arg)
{
	struct agent *a = arg;

	poll_emit(a, samples);
	if (a->sweep != NULL) {
		a->sweep->inflight--;
		sweep_pump(a);
	}
}

static void
sweep_pump(struct agent *a)
{
	struct poll_sweep *s = a->sweep;

	/* A poll that fails at once ends inside poll_now(): its callback
	 * comes back here, and the outer pass carries on. */
	if (s == NULL || s->pumping)
		return;
	s->pumping = true;
	while (!a->stopping && s->inflight < POLL_NOW_WINDOW && s->next < s->n) {
		struct inv_dev *d = s->devs[s->next++];

		s->inflight++;
		if (poll_now(d, s->has_profile ? s->profile : NULL, sweep_done,
		    a) == -1)
			s->inflight--;   /* already polling, or no credential */
	}
	s->pumping = false;
	if (s->inflight == 0 && (s->next >= s->n || a->stopping))
		poll_sweep_free(a);
}

size_t
poll_now_all(struct agent *a, const char *profile,
    bool (*allow)(const struct config *, const struct inv_dev *),
    size_t *skipped)
{
	struct poll_sweep *s = a->sweep;
	size_t n = 0;

	*skipped = 0;
	if (s == NULL) {
		s = a->sweep = xcalloc(1, sizeof(*s));
	} else {
		free(s->devs);   /* not started yet: replaced */
		s->devs = NULL;
	}
	s->devs = xcalloc(a->ndevs ? a->ndevs : 1, sizeof(*s->devs));
	for (struct inv_dev *d = a->devs; d && n < a->ndevs; d = d->next) {
		if (allow(a->cfg, d))
			s->devs[n++] = d;
		else
			(*skipped)++;
	}
	s->n = n;
	s->next = 0;
	s->has_profile = profile != NULL;
	snprintf(s->profile, sizeof(s->profile), "%s", profile ? profile : "");
	sweep_pump(a);
	return n;
}

void
poll_sweep_free(struct agent *a)
{
	if (a->sweep == NULL)
		return;
	free(a->sweep->devs);
	free(a->sweep);
	a->sweep = NULL;
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
