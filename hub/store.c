/*
 * The store interface (store.h): the backend is chosen by [hub] db, the
 * calls go through its table, and both backends share the migration
 * runner.
 */
#include "hub/hub_int.h"

#include <stdio.h>
#include <string.h>

int
hub_store_parse_db(const char *db, enum hub_store_kind *kind,
    const char **where, char *err, size_t errlen)
{
	if (db == NULL || *db == '\0') {
		snprintf(err, errlen, "db is empty");
		return -1;
	}
	if (strncmp(db, "postgresql://", 13) == 0 ||
	    strncmp(db, "postgres://", 11) == 0) {
		*kind = HUB_STORE_PG;
		*where = db;
		return 0;
	}
	if (strncmp(db, "sqlite:", 7) == 0)
		db += 7;
	else if (strstr(db, "://") != NULL) {
		snprintf(err, errlen, "db '%.100s': unknown scheme (sqlite:PATH, "
		    "postgresql://... or a file path)", db);
		return -1;
	}
	if (*db == '\0') {
		snprintf(err, errlen, "db 'sqlite:' names no file");
		return -1;
	}
	*kind = HUB_STORE_SQLITE;
	*where = db;
	return 0;
}

int
hub_store_open(const char *db, struct hub_store **out, char *err,
    size_t errlen)
{
	enum hub_store_kind kind;
	const char *where;

	*out = NULL;
	if (hub_store_parse_db(db, &kind, &where, err, errlen) == -1)
		return -1;
	if (kind == HUB_STORE_PG)
		return hub_store_pg_open(where, out, err, errlen);
	return hub_store_sqlite_open(where, out, err, errlen);
}

int
hub_store_migrate(const struct hub_store_migrator *m, const char *const *steps,
    int nsteps, char *err, size_t errlen)
{
	char e[256], sql[96];
	int64_t have;

	if (m->exec(m->db, "CREATE TABLE IF NOT EXISTS schema_version ("
	    "version INTEGER NOT NULL PRIMARY KEY, applied_ms BIGINT)",
	    e, sizeof(e)) == -1) {
		snprintf(err, errlen, "creating schema_version: %s", e);
		return -1;
	}
	for (;;) {
		/* Read under the lock begin_sql takes: another node may
		 * have applied the step while we waited. */
		if (m->exec(m->db, m->begin_sql, e, sizeof(e)) == -1) {
			snprintf(err, errlen, "migration: %s", e);
			return -1;
		}
		if (m->query_int(m->db, "SELECT coalesce(max(version), 0) FROM "
		    "schema_version", &have, e, sizeof(e)) == -1)
			goto fail;
		if (have > nsteps) {
			(void)m->exec(m->db, "ROLLBACK", e, sizeof(e));
			snprintf(err, errlen, "the database schema is version %lld, "
			    "newer than this outpost-hub knows (%d): upgrade "
			    "outpost-hub, or point it at another database",
			    (long long)have, nsteps);
			return -1;
		}
		if (have == nsteps)
			break;
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES "
		    "(%lld, %llu)", (long long)have + 1,
		    (unsigned long long)wall_ms());
		if (m->exec(m->db, steps[have], e, sizeof(e)) == -1 ||
		    m->exec(m->db, sql, e, sizeof(e)) == -1 ||
		    m->exec(m->db, "COMMIT", e, sizeof(e)) == -1)
			goto fail;
		log_info("store: schema migration %lld applied", (long long)have + 1);
	}
	return m->exec(m->db, "COMMIT", err, errlen);
fail:
	snprintf(err, errlen, "schema migration %lld: %s", (long long)have + 1, e);
	(void)m->exec(m->db, "ROLLBACK", e, sizeof(e));
	return -1;
}

/* ---- shared by the backends ---- */

int64_t
hub_store_new_cursor(void)
{
	char hex[33];
	uint64_t v = 0;

	/* Random, so a stale ack from before a restart or a restored
	 * database acks nothing; 53 bits, exact in any JSON reader. */
	if (hub_random_id(hex) == -1)
		return (int64_t)(mono_us() & ((1ull << 53) - 1)) | 1;
	for (int i = 0; i < 14; i++)
		v = v << 4 | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	v &= (1ull << 53) - 1;
	return v == 0 ? 1 : (int64_t)v;
}

static void
store_add_time(cJSON *o, const char *key, int64_t ms)
{
	char buf[40];

	hub_rfc3339((uint64_t)ms, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

cJSON *
hub_store_command_json(const char *id, const char *agent, const char *type,
    const char *status, int64_t created_ms, int64_t updated_ms,
    const char *result, bool *final)
{
	cJSON *o = cJSON_CreateObject();

	*final = false;
	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "agent", agent);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "status", status);
	store_add_time(o, "created", created_ms);
	store_add_time(o, "updated", updated_ms);
	if (result != NULL) {
		/* Served as stored (JSON we printed at ingest): a re-parse
		 * would round long integers through a double. */
		cJSON_AddRawToObject(o, "result", result);
	} else {
		cJSON_AddNullToObject(o, "result");
	}
	*final = status != NULL && (strcmp(status, "done") == 0 ||
	    strcmp(status, "failed") == 0 || strcmp(status, "expired") == 0);
	return o;
}

void
hub_store_poll_start(struct hub_poll *p, struct hub_buf *ids, int64_t *ack)
{
	p->ncommands = 0;
	p->cursor = 0;
	hub_buf_init(&p->commands, p->max_bytes);
	hub_buf_init(ids, (size_t)p->max_commands * (HUB_ID_MAX + 1) + 2);
	*ack = 0;
	if (p->ack != NULL && parse_int(p->ack, 1, INT64_MAX, ack) == -1)
		*ack = 0;   /* not one of ours: acks nothing */
}

bool
hub_store_poll_take(struct hub_poll *p, struct hub_buf *ids, const char *id,
    const char *body, size_t blen, char sep)
{
	if (p->commands.len + blen + 1 > p->max_bytes && p->ncommands > 0)
		return false;
	if ((p->ncommands > 0 && hub_buf_add(&p->commands, ",", 1) == -1) ||
	    hub_buf_add(&p->commands, body, blen) == -1 ||
	    hub_buf_add(ids, id, strlen(id)) == -1 ||
	    hub_buf_add(ids, &sep, 1) == -1)
		return false;
	p->ncommands++;
	return true;
}

void
hub_store_poll_fail(struct hub_poll *p, struct hub_buf *ids)
{
	hub_buf_free(ids);
	hub_buf_free(&p->commands);
	p->ncommands = 0;
	p->cursor = 0;
}

void
hub_store_each_id(const struct hub_buf *ids, hub_store_id_cb cb, void *arg)
{
	for (size_t off = 0; off < ids->len; off += strlen(ids->data + off) + 1)
		cb(ids->data + off, arg);
}

int
hub_store_batch_head(const cJSON *batch, struct hub_batch_head *hd)
{
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(batch, "agent_version");
	const cJSON *j;

	memset(hd, 0, sizeof(*hd));
	if (cJSON_IsString(ver) && strlen(ver->valuestring) < 64) {
		hd->version = ver->valuestring;
		hd->agent_version = strlen(ver->valuestring) < 32;
	}
	j = cJSON_GetObjectItemCaseSensitive(batch, "created_ms");
	hd->has_created = json_int_exact(j, 0, INT64_C(1) << 53, &hd->created_ms);
	j = cJSON_GetObjectItemCaseSensitive(batch, "dropped_samples");
	hd->has_dropped = json_int_exact(j, 0, INT64_C(1) << 53, &hd->dropped);
	return hub_store_batch_counters(batch, &hd->counters);
}

void
hub_store_batch_head_free(struct hub_batch_head *hd)
{
	cJSON_free(hd->counters);
	hd->counters = NULL;
}

/* One object entry of an array, parsed alone (exact integers, under the
 * parse budget); NULL on error. */
static cJSON *
store_entry(const struct hub_span *e)
{
	char err[256];
	cJSON *j;

	if (hub_json_parse(e->p, e->n, &j, err, sizeof(err)) != HUB_IN_OK) {
		log_error("store: a batch entry: %s", err);
		return NULL;
	}
	return j;
}

static int
store_result(const cJSON *r, int64_t agent_id, uint64_t now_ms,
    const struct hub_store_rows *rows, void *ctx, struct hub_buf *done)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "command_id");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(r, "status");
	cJSON *copy;
	char *txt;
	int rc;

	if (!cJSON_IsString(id) || !hub_id_valid(id->valuestring, HUB_ID_MAX) ||
	    !cJSON_IsString(status)) {
		log_debug("agent %lld: result without a valid command_id "
		    "or status: ignored", (long long)agent_id);
		return 0;
	}
	/* The stored result is the entry without its command_id. */
	if ((copy = cJSON_Duplicate(r, true)) == NULL)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "command_id");
	txt = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	if (txt == NULL)
		return -1;
	rc = rows->result(ctx, agent_id, id->valuestring,
	    strcmp(status->valuestring, "ok") == 0 ? "done" : "failed", txt,
	    now_ms);
	if (rc == -1)
		return -1;
	if (rc == 1 &&
	    hub_buf_add(done, id->valuestring, strlen(id->valuestring) + 1) == -1)
		return -1;
	return 0;
}

static int
store_inventory(const cJSON *e, int64_t agent_id, uint64_t now_ms,
    const struct hub_store_rows *rows, void *ctx)
{
	const cJSON *addr = cJSON_GetObjectItemCaseSensitive(e, "address");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(e, "port");
	int64_t p = 161;
	char *txt;

	if (!cJSON_IsString(addr) || addr->valuestring[0] == '\0' ||
	    strlen(addr->valuestring) > 255 ||
	    (port != NULL && !json_int_exact(port, 1, 65535, &p)))
		return 0;
	if ((txt = cJSON_PrintUnformatted(e)) == NULL ||
	    rows->inventory(ctx, agent_id, addr->valuestring, p, txt,
	    now_ms) == -1)
		return -1;
	return 0;
}

static int
store_sample(const cJSON *e, int64_t agent_id, uint64_t now_ms,
    const struct hub_store_rows *rows, void *ctx)
{
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(e, "device");
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(e, "ts");
	char device[300], *txt;
	int64_t t = (int64_t)now_ms;

	if (!cJSON_IsString(dev) ||
	    hub_device_normalize(dev->valuestring, device, sizeof(device)) == -1 ||
	    (ts != NULL && !json_int_exact(ts, 0, INT64_C(1) << 53, &t)))
		return 0;
	if ((txt = cJSON_PrintUnformatted(e)) == NULL ||
	    rows->sample(ctx, agent_id, device, t, txt, now_ms) == -1)
		return -1;
	return 0;
}

int
hub_store_batch_rows(const struct hub_batch *b, int64_t agent_id,
    uint64_t now_ms, const struct hub_store_rows *rows, void *ctx,
    struct hub_buf *done)
{
	/* One entry's tree at a time: a batch never becomes one tree. */
	for (int a = 0; a < 4; a++) {
		struct hub_span it = b->arr[a], e;

		/* Entries that are not objects are skipped unparsed. */
		while (hub_batch_next_object(&it, &e)) {
			cJSON *j = store_entry(&e);
			int rc;

			if (j == NULL)
				return -1;
			if (a == 0)
				rc = store_result(j, agent_id, now_ms, rows, ctx, done);
			else if (a == 1)
				rc = store_inventory(j, agent_id, now_ms, rows, ctx);
			else if (a == 2)
				rc = store_sample(j, agent_id, now_ms, rows, ctx);
			else
				rc = hub_store_batch_event(j, agent_id, now_ms, rows, ctx);
			cJSON_Delete(j);
			if (rc == -1)
				return -1;
		}
	}
	return 0;
}

/* ---- the calls, through the backend's table ---- */

void
hub_store_close(struct hub_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

const char *
hub_store_errmsg(const struct hub_store *s)
{
	return s->ops->errmsg(s);
}

int
hub_store_watch(struct hub_store *s, struct loop *loop, hub_store_event_cb cb,
    void *arg)
{
	return s->ops->watch(s, loop, cb, arg);
}

int
hub_store_begin(struct hub_store *s)
{
	return s->ops->begin(s);
}

int
hub_store_commit(struct hub_store *s)
{
	return s->ops->commit(s);
}

int
hub_store_agent_add(struct hub_store *s, const char *name,
    const unsigned char hash[HUB_HASH_LEN], uint64_t now_ms)
{
	return s->ops->agent_add(s, name, hash, now_ms);
}

int
hub_store_agent_set_token(struct hub_store *s, const char *name,
    const unsigned char hash[HUB_HASH_LEN])
{
	return s->ops->agent_set_token(s, name, hash);
}

int
hub_store_agent_remove(struct hub_store *s, const char *name)
{
	return s->ops->agent_remove(s, name);
}

int64_t
hub_store_agent_by_token(struct hub_store *s,
    const unsigned char hash[HUB_HASH_LEN], char *name, size_t namelen)
{
	return s->ops->agent_by_token(s, hash, name, namelen);
}

int64_t
hub_store_agent_by_name(struct hub_store *s, const char *name)
{
	return s->ops->agent_by_name(s, name);
}

int
hub_store_agent_touch(struct hub_store *s, int64_t id, uint64_t last_seen_ms,
    const char *address, const char *version)
{
	return s->ops->agent_touch(s, id, last_seen_ms, address, version);
}

int
hub_store_agents(struct hub_store *s, cJSON **out)
{
	return s->ops->agents(s, out);
}

/* The calls an agent or operator waits on are timed for /metrics. */
#define STORE_TIMED(op, call) do { \
	uint64_t t0_ = mono_us(); \
	int rc_ = (call); \
	hub_metrics_store_time((op), mono_us() - t0_); \
	return rc_; \
} while (0)

int
hub_store_command_add(struct hub_store *s, int64_t agent_id, const char *id,
    const char *type, const char *body, uint64_t now_ms, uint64_t expires_ms,
    const char *sender)
{
	STORE_TIMED(HUB_SOP_COMMAND_ADD, s->ops->command_add(s, agent_id, id,
	    type, body, now_ms, expires_ms, sender));
}

int
hub_store_command_get(struct hub_store *s, const char *id, cJSON **out,
    bool *final)
{
	STORE_TIMED(HUB_SOP_COMMAND_GET, s->ops->command_get(s, id, out, final));
}

int
hub_store_poll(struct hub_store *s, int64_t agent_id, struct hub_poll *p)
{
	STORE_TIMED(HUB_SOP_POLL, s->ops->poll(s, agent_id, p));
}

int
hub_store_batch(struct hub_store *s, int64_t agent_id,
    const struct hub_batch *batch,
    int64_t batch_id, uint64_t now_ms, bool *stored, hub_store_id_cb cb,
    void *arg)
{
	STORE_TIMED(HUB_SOP_BATCH, s->ops->batch(s, agent_id, batch, batch_id,
	    now_ms, stored, cb, arg));
}

int
hub_store_expire(struct hub_store *s, uint64_t now_ms, hub_store_id_cb cb,
    void *arg)
{
	return s->ops->expire(s, now_ms, cb, arg);
}

int
hub_store_leases_due(struct hub_store *s, uint64_t now_ms,
    hub_store_agent_cb cb, void *arg)
{
	return s->ops->leases_due(s, now_ms, cb, arg);
}

int
hub_store_cleanup(struct hub_store *s, uint64_t cutoff_ms, int max_rows)
{
	return s->ops->cleanup(s, cutoff_ms, max_rows);
}

int
hub_store_devices(struct hub_store *s, int64_t agent_id, struct hub_buf *out)
{
	return s->ops->devices(s, agent_id, out);
}

bool
hub_store_list_row(struct hub_buf *out, int *rows, const char *e, size_t n,
    struct hub_samples_page *pg, int64_t ts, int64_t id)
{
	if (pg != NULL && *rows == pg->limit) {
		pg->more = true;   /* the row past the page */
		return false;
	}
	/* At the size cap the answer holds what fits; one byte stays free
	 * for the closing bracket. */
	if (out->len + n + 2 > out->max ||
	    (*rows > 0 && hub_buf_add(out, ",", 1) == -1) ||
	    hub_buf_add(out, e, n) == -1) {
		if (pg != NULL)
			pg->more = *rows > 0;   /* the rest on the next page */
		return false;
	}
	(*rows)++;
	if (pg != NULL) {
		pg->last_ts = ts;
		pg->last_id = id;
	}
	return true;
}

int
hub_store_samples(struct hub_store *s, int64_t agent_id, const char *device,
    struct hub_samples_page *pg, struct hub_buf *out)
{
	pg->more = false;
	pg->last_ts = pg->last_id = 0;
	return s->ops->samples(s, agent_id, device, pg, out);
}

/* ---- operator tokens, command history, metrics ---- */

int
hub_store_token_add(struct hub_store *s, const char *name, const char *role,
    const unsigned char hash[HUB_HASH_LEN], uint64_t now_ms)
{
	return s->ops->token_add(s, name, role, hash, now_ms);
}

int
hub_store_token_remove(struct hub_store *s, const char *name)
{
	return s->ops->token_remove(s, name);
}

int
hub_store_token_by_hash(struct hub_store *s,
    const unsigned char hash[HUB_HASH_LEN], char *name, size_t namelen,
    char *role, size_t rolelen)
{
	STORE_TIMED(HUB_SOP_AUTH, s->ops->token_by_hash(s, hash, name, namelen,
	    role, rolelen));
}

int
hub_store_tokens(struct hub_store *s, cJSON **out)
{
	return s->ops->tokens(s, out);
}

int
hub_store_commands(struct hub_store *s, int64_t agent_id, int64_t since,
    int64_t until, int limit, cJSON **out)
{
	STORE_TIMED(HUB_SOP_HISTORY, s->ops->commands(s, agent_id, since, until,
	    limit, out));
}

int
hub_store_command_counts(struct hub_store *s, hub_store_count_cb cb, void *arg)
{
	return s->ops->command_counts(s, cb, arg);
}

int
hub_store_latest_samples(struct hub_store *s, uint64_t since_ms, int max_rows,
    hub_store_sample_cb cb, void *arg)
{
	STORE_TIMED(HUB_SOP_METRICS, s->ops->latest_samples(s, since_ms, max_rows,
	    cb, arg));
}

void
hub_store_command_more(cJSON *o, const char *sender, const char *body,
    int64_t created_ms, int64_t updated_ms, bool final)
{
	char err[128];
	cJSON *b = NULL, *t, *a;

	/* The exact parser: a long integer in args keeps its digits. */
	if (body != NULL && hub_json_parse(body, strlen(body), &b, err,
	    sizeof(err)) != HUB_IN_OK)
		b = NULL;
	t = cJSON_GetObjectItemCaseSensitive(b, "target");
	a = cJSON_DetachItemFromObjectCaseSensitive(b, "args");

	if (sender != NULL)
		cJSON_AddStringToObject(o, "sender", sender);
	else
		cJSON_AddNullToObject(o, "sender");
	if (cJSON_IsString(t))
		cJSON_AddStringToObject(o, "target", t->valuestring);
	else
		cJSON_AddNullToObject(o, "target");
	cJSON_AddItemToObject(o, "args", a != NULL ? a : cJSON_CreateNull());
	if (final && updated_ms >= created_ms)
		cJSON_AddNumberToObject(o, "duration_ms",
		    (double)(updated_ms - created_ms));
	else
		cJSON_AddNullToObject(o, "duration_ms");
	cJSON_Delete(b);
}
