/*
 * The hub's SQLite store (store.h): one database in WAL mode, every
 * statement prepared once at open. Only the event loop's thread touches it.
 *
 * Durability: synchronous=FULL. In WAL mode NORMAL survives a crash of
 * the hub but may lose the last commits on power loss or a kernel
 * crash, and an agent deletes a spooled batch as soon as it sees our
 * 2xx, so a commit we acknowledged must be on disk first. FULL costs one
 * fsync of the WAL per commit: about 0.3 ms on the development VM's
 * disk, small next to parsing a batch (see docs/hub.md).
 */
#include "hub/hub_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Migration 1 is the schema of the first release (whose databases have
 * no schema_version table: IF NOT EXISTS lets it apply to them too). */
static const char sq_step1[] =
"CREATE TABLE IF NOT EXISTS agents ("
"  id INTEGER PRIMARY KEY,"
"  name TEXT NOT NULL UNIQUE,"
"  token_hash BLOB NOT NULL UNIQUE,"
"  created_ms INTEGER NOT NULL,"
"  last_seen_ms INTEGER,"
"  version TEXT,"
"  address TEXT);"
"CREATE TABLE IF NOT EXISTS commands ("
"  id TEXT PRIMARY KEY,"
"  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
"  type TEXT NOT NULL,"
"  body TEXT NOT NULL,"
"  status TEXT NOT NULL,"           /* queued delivered done failed expired */
"  created_ms INTEGER NOT NULL,"
"  updated_ms INTEGER NOT NULL,"
"  expires_ms INTEGER NOT NULL,"
"  delivered_ms INTEGER,"
"  lease_until_ms INTEGER,"
"  cursor INTEGER,"                 /* of the poll response that carried it */
"  acked INTEGER NOT NULL DEFAULT 0,"
"  deliveries INTEGER NOT NULL DEFAULT 0,"
"  result TEXT);"
"CREATE INDEX IF NOT EXISTS commands_agent ON commands(agent_id, status);"
"CREATE INDEX IF NOT EXISTS commands_open ON commands(status, expires_ms);"
"CREATE INDEX IF NOT EXISTS commands_updated ON commands(updated_ms);"
"CREATE TABLE IF NOT EXISTS batches ("
"  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
"  batch_id INTEGER NOT NULL,"
"  received_ms INTEGER NOT NULL,"
"  agent_version TEXT,"
"  created_ms INTEGER,"
"  dropped_samples INTEGER,"
"  counters TEXT,"
"  PRIMARY KEY (agent_id, batch_id)) WITHOUT ROWID;"
"CREATE INDEX IF NOT EXISTS batches_received ON batches(received_ms);"
"CREATE TABLE IF NOT EXISTS inventory ("
"  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
"  address TEXT NOT NULL,"
"  port INTEGER NOT NULL,"
"  entry TEXT NOT NULL,"
"  updated_ms INTEGER NOT NULL,"
"  PRIMARY KEY (agent_id, address, port));"
"CREATE INDEX IF NOT EXISTS inventory_updated ON inventory(updated_ms);"
"CREATE TABLE IF NOT EXISTS samples ("
"  id INTEGER PRIMARY KEY,"
"  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
"  device TEXT NOT NULL,"
"  ts INTEGER NOT NULL,"
"  received_ms INTEGER NOT NULL,"
"  entry TEXT NOT NULL);"
"CREATE INDEX IF NOT EXISTS samples_device ON samples(agent_id, device, ts);"
"CREATE INDEX IF NOT EXISTS samples_received ON samples(received_ms);";

/* Migration 2: SNMP notifications (store_events.c), one row per
 * (agent, event id). IF NOT EXISTS as in step 1: a database adopted into
 * versioning may hold any step's tables. */
static const char sq_step2[] =
"CREATE TABLE IF NOT EXISTS events ("
"  id INTEGER PRIMARY KEY,"
"  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
"  event_id TEXT NOT NULL,"
"  device TEXT NOT NULL,"           /* '' when mapped to none */
"  ts INTEGER NOT NULL,"            /* the agent's received time */
"  received_ms INTEGER NOT NULL,"   /* ours: retention */
"  entry TEXT NOT NULL,"
"  UNIQUE (agent_id, event_id));"
"CREATE INDEX IF NOT EXISTS events_agent ON events(agent_id, ts);"
"CREATE INDEX IF NOT EXISTS events_device ON events(agent_id, device, ts);"
"CREATE INDEX IF NOT EXISTS events_received ON events(received_ms);";

/* Migration 3: operator tokens with roles; who queued each command (the
 * console). */
static const char sq_step3[] =
"CREATE TABLE tokens ("
"  name TEXT PRIMARY KEY,"
"  role TEXT NOT NULL,"
"  token_hash BLOB NOT NULL UNIQUE,"
"  created_ms INTEGER NOT NULL);"
"ALTER TABLE commands ADD COLUMN sender TEXT;"
"CREATE INDEX commands_history ON commands(agent_id, created_ms);";

const char *const hub_store_sqlite_steps[] = { sq_step1, sq_step2, sq_step3 };
const int hub_store_sqlite_nsteps = (int)countof(hub_store_sqlite_steps);

enum {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_AGENT_ADD, S_AGENT_TOKEN, S_AGENT_REMOVE, S_AGENT_BY_TOKEN,
	S_AGENT_BY_NAME, S_AGENT_TOUCH, S_AGENTS, S_AGENT_VERSION,
	S_CMD_ADD, S_CMD_GET, S_POLL_ACK, S_POLL_DUE, S_POLL_MARK,
	S_BATCH_ADD, S_RESULT, S_INVENTORY, S_SAMPLE,
	S_EXPIRE_DUE, S_EXPIRE_MARK, S_LEASES_DUE,
	S_CLEAN_SAMPLES, S_CLEAN_INVENTORY, S_CLEAN_BATCHES, S_CLEAN_COMMANDS,
	S_DEVICES, S_SAMPLES,
	S_EVENT, S_EVENTS, S_EVENTS_DEV, S_CLEAN_EVENTS,
	S_TOKEN_ADD, S_TOKEN_REMOVE, S_TOKEN_BY_HASH, S_TOKENS, S_HISTORY,
	S_CMD_COUNTS, S_LATEST,
	S_COUNT
};

static const char *const store_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_AGENT_ADD] = "INSERT INTO agents(name, token_hash, created_ms) "
	    "VALUES (?1, ?2, ?3)",
	[S_AGENT_TOKEN] = "UPDATE agents SET token_hash = ?2 WHERE name = ?1",
	[S_AGENT_REMOVE] = "DELETE FROM agents WHERE name = ?1",
	[S_AGENT_BY_TOKEN] = "SELECT id, name FROM agents WHERE token_hash = ?1",
	[S_AGENT_BY_NAME] = "SELECT id FROM agents WHERE name = ?1",
	[S_AGENT_TOUCH] = "UPDATE agents SET last_seen_ms = ?2, "
	    "address = coalesce(?3, address), version = coalesce(?4, version) "
	    "WHERE id = ?1",
	/* with the newest batch's header (the primary key finds it) */
	[S_AGENTS] = "SELECT a.id, a.name, a.last_seen_ms, a.version, a.address, "
	    "b.received_ms, b.dropped_samples, b.counters FROM agents a "
	    "LEFT JOIN batches b ON b.agent_id = a.id AND b.batch_id = "
	    "(SELECT max(batch_id) FROM batches WHERE agent_id = a.id) "
	    "ORDER BY a.name",
	[S_AGENT_VERSION] = "UPDATE agents SET version = ?2 WHERE id = ?1",
	[S_CMD_ADD] = "INSERT INTO commands(id, agent_id, type, body, status, "
	    "created_ms, updated_ms, expires_ms, sender) "
	    "VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5, ?6, ?7)",
	[S_CMD_GET] = "SELECT c.id, a.name, c.type, c.status, c.created_ms, "
	    "c.updated_ms, c.result, c.sender, c.body FROM commands c JOIN agents a "
	    "ON a.id = c.agent_id WHERE c.id = ?1",
	[S_POLL_ACK] = "UPDATE commands SET acked = 1, updated_ms = ?3 "
	    "WHERE agent_id = ?1 AND cursor = ?2 AND status = 'delivered' "
	    "AND acked = 0",
	[S_POLL_DUE] = "SELECT id, body FROM commands WHERE agent_id = ?1 "
	    "AND status IN ('queued', 'delivered') AND expires_ms > ?2 "
	    "AND (status = 'queued' OR (acked = 0 AND lease_until_ms <= ?2)) "
	    "ORDER BY created_ms, rowid LIMIT ?3",
	[S_POLL_MARK] = "UPDATE commands SET status = 'delivered', "
	    "delivered_ms = ?2, lease_until_ms = ?3, cursor = ?4, "
	    "deliveries = deliveries + 1, updated_ms = ?2 WHERE id = ?1",
	[S_BATCH_ADD] = "INSERT INTO batches(agent_id, batch_id, received_ms, "
	    "agent_version, created_ms, dropped_samples, counters) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
	[S_RESULT] = "UPDATE commands SET status = ?3, result = ?4, "
	    "updated_ms = ?5 WHERE id = ?1 AND agent_id = ?2 "
	    "AND status NOT IN ('done', 'failed')",
	[S_INVENTORY] = "INSERT INTO inventory(agent_id, address, port, entry, "
	    "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT(agent_id, address, port) DO UPDATE SET "
	    "entry = excluded.entry, updated_ms = excluded.updated_ms",
	[S_SAMPLE] = "INSERT INTO samples(agent_id, device, ts, received_ms, entry) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_EXPIRE_DUE] = "SELECT id FROM commands WHERE status IN "
	    "('queued', 'delivered') AND expires_ms <= ?1 AND (status = 'queued' "
	    "OR (acked = 0 AND lease_until_ms <= ?1)) LIMIT 1000",
	[S_EXPIRE_MARK] = "UPDATE commands SET status = 'expired', "
	    "updated_ms = ?2 WHERE id = ?1",
	[S_LEASES_DUE] = "SELECT DISTINCT agent_id FROM commands WHERE "
	    "status = 'delivered' AND acked = 0 AND lease_until_ms <= ?1 "
	    "AND expires_ms > ?1",
	[S_CLEAN_SAMPLES] = "DELETE FROM samples WHERE id IN (SELECT id FROM "
	    "samples WHERE received_ms < ?1 LIMIT ?2)",
	[S_CLEAN_INVENTORY] = "DELETE FROM inventory WHERE rowid IN (SELECT rowid "
	    "FROM inventory WHERE updated_ms < ?1 LIMIT ?2)",
	[S_CLEAN_BATCHES] = "DELETE FROM batches WHERE (agent_id, batch_id) IN "
	    "(SELECT agent_id, batch_id FROM batches WHERE received_ms < ?1 "
	    "LIMIT ?2)",
	/* Also acked commands whose result never came (the agent was
	 * lost): nothing will change them any more. */
	[S_CLEAN_COMMANDS] = "DELETE FROM commands WHERE rowid IN (SELECT rowid "
	    "FROM commands WHERE updated_ms < ?1 AND (status IN "
	    "('done', 'failed', 'expired') OR (status = 'delivered' AND acked = 1)) "
	    "LIMIT ?2)",
	[S_DEVICES] = "SELECT entry FROM inventory WHERE agent_id = ?1 "
	    "ORDER BY address, port LIMIT ?2",
	[S_SAMPLES] = "SELECT entry, ts, id FROM samples WHERE agent_id = ?1 "
	    "AND device = ?2 AND ts >= ?3 AND ts < ?4 AND (?6 = 0 OR ts < ?5 OR "
	    "(ts = ?5 AND id < ?6)) ORDER BY ts DESC, id DESC LIMIT ?7",
	[S_EVENT] = "INSERT INTO events(agent_id, event_id, device, ts, "
	    "received_ms, entry) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT DO NOTHING",
	[S_EVENTS] = "SELECT entry, ts, id FROM events WHERE agent_id = ?1 "
	    "AND ts >= ?3 AND ts < ?4 AND (?6 = 0 OR ts < ?5 OR "
	    "(ts = ?5 AND id < ?6)) ORDER BY ts DESC, id DESC LIMIT ?7",
	[S_EVENTS_DEV] = "SELECT entry, ts, id FROM events WHERE agent_id = ?1 "
	    "AND device = ?2 AND ts >= ?3 AND ts < ?4 AND (?6 = 0 OR ts < ?5 OR "
	    "(ts = ?5 AND id < ?6)) ORDER BY ts DESC, id DESC LIMIT ?7",
	[S_CLEAN_EVENTS] = "DELETE FROM events WHERE id IN (SELECT id FROM "
	    "events WHERE received_ms < ?1 LIMIT ?2)",
	[S_TOKEN_ADD] = "INSERT INTO tokens(name, role, token_hash, created_ms) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[S_TOKEN_REMOVE] = "DELETE FROM tokens WHERE name = ?1",
	[S_TOKEN_BY_HASH] = "SELECT name, role FROM tokens WHERE token_hash = ?1",
	[S_TOKENS] = "SELECT name, role, created_ms FROM tokens ORDER BY name",
	[S_HISTORY] = "SELECT c.id, a.name, c.type, c.status, c.created_ms, "
	    "c.updated_ms, c.sender, c.body FROM commands c JOIN agents a "
	    "ON a.id = c.agent_id WHERE c.agent_id = ?1 AND c.created_ms >= ?2 "
	    "AND c.created_ms < ?3 ORDER BY c.created_ms DESC, c.rowid DESC "
	    "LIMIT ?4",
	[S_CMD_COUNTS] = "SELECT status, count(*) FROM commands GROUP BY status",
	[S_LATEST] = "SELECT a.name, s.device, s.ts, s.entry FROM (SELECT "
	    "agent_id, device, ts, entry, row_number() OVER (PARTITION BY "
	    "agent_id, device, json_extract(entry, '$.profile') ORDER BY ts DESC, "
	    "id DESC) AS rn FROM samples WHERE received_ms >= ?1) s "
	    "JOIN agents a ON a.id = s.agent_id WHERE s.rn = 1 "
	    "ORDER BY a.name, s.device LIMIT ?2",
};

struct sq_store {
	struct hub_store base;
	sqlite3      *db;
	sqlite3_stmt *st[S_COUNT];
};

static const struct hub_store_ops sq_ops;
static void sq_close(struct hub_store *);

static const char *
sq_errmsg(const struct hub_store *hs)
{
	const struct sq_store *s = (const struct sq_store *)hs;

	return sqlite3_errmsg(s->db);
}

static void
store_fail(struct sq_store *s, const char *what)
{
	log_error("store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Prepared statement i, reset and with no bindings. */
static sqlite3_stmt *
store_stmt(struct sq_store *s, int i)
{
	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	return s->st[i];
}

/* Run a statement that returns no rows; 0 or -1. */
static int
store_exec(struct sq_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, what);
		return -1;
	}
	return 0;
}

static int
sq_begin(struct hub_store *hs)
{
	struct sq_store *s = (struct sq_store *)hs;

	return store_exec(s, store_stmt(s, S_BEGIN), "begin");
}

static int
sq_commit(struct hub_store *hs)
{
	struct sq_store *s = (struct sq_store *)hs;

	if (store_exec(s, store_stmt(s, S_COMMIT), "commit") == -1) {
		if (!sqlite3_get_autocommit(s->db))
			(void)store_exec(s, store_stmt(s, S_ROLLBACK), "rollback");
		return -1;
	}
	return 0;
}

static void
store_rollback(struct sq_store *s)
{
	/* Reset every statement first: an open read blocks a rollback. */
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_reset(s->st[i]);
	if (!sqlite3_get_autocommit(s->db))
		(void)store_exec(s, store_stmt(s, S_ROLLBACK), "rollback");
}

static int
store_pragma(struct sq_store *s, const char *sql, const char *expect,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(s->db));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		return -1;
	}
	if (expect != NULL && (rc != SQLITE_ROW ||
	    sqlite3_column_text(st, 0) == NULL ||
	    strcmp((const char *)sqlite3_column_text(st, 0), expect) != 0)) {
		snprintf(err, errlen, "%s: did not take effect", sql);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

static int
sq_mig_exec(void *db, const char *sql, char *err, size_t errlen)
{
	char *emsg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &emsg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", emsg ? emsg : sqlite3_errmsg(db));
		sqlite3_free(emsg);
		return -1;
	}
	return 0;
}

static int
sq_mig_int(void *db, const char *sql, int64_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
hub_store_sqlite_open(const char *path, struct hub_store **out, char *err,
    size_t errlen)
{
	struct sq_store *s = xcalloc(1, sizeof(*s));
	struct hub_store_migrator mig = {
		.begin_sql = "BEGIN IMMEDIATE", .exec = sq_mig_exec,
		.query_int = sq_mig_int,
	};
	char merr[384];
	mode_t old;
	int rc;

	*out = NULL;
	s->base.ops = &sq_ops;
	/* The database holds results from customers' networks. */
	old = umask(077);
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* A CLI command (add-agent) may hold the write lock briefly. */
	sqlite3_busy_timeout(s->db, 5000);
	if (store_pragma(s, "PRAGMA journal_mode=WAL", "wal", err, errlen) == -1 ||
	    store_pragma(s, "PRAGMA synchronous=FULL", NULL, err, errlen) == -1 ||
	    store_pragma(s, "PRAGMA foreign_keys=ON", NULL, err, errlen) == -1)
		goto fail;
	mig.db = s->db;
	if (hub_store_migrate(&mig, hub_store_sqlite_steps,
	    hub_store_sqlite_nsteps, merr, sizeof(merr)) == -1) {
		snprintf(err, errlen, "%s: %s", path, merr);
		goto fail;
	}
	for (int i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: preparing statement %d: %s", path,
			    i, sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	*out = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return -1;
}

static void
sq_close(struct hub_store *hs)
{
	struct sq_store *s = (struct sq_store *)hs;

	if (s == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	/* The last connection to close checkpoints the WAL. */
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warn("store: close: %s", sqlite3_errmsg(s->db));
	free(s);
}

/* ---- agents ---- */

static int
sq_agent_add(struct hub_store *hs, const char *name,
    const unsigned char hash[HUB_HASH_LEN], uint64_t now_ms)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_AGENT_ADD);
	int rc;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hash, HUB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return 1;
	if (rc != SQLITE_DONE) {
		store_fail(s, "adding an agent");
		return -1;
	}
	return 0;
}

static int
sq_agent_set_token(struct hub_store *hs, const char *name,
    const unsigned char hash[HUB_HASH_LEN])
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_AGENT_TOKEN);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hash, HUB_HASH_LEN, SQLITE_STATIC);
	if (store_exec(s, st, "setting a token") == -1)
		return -1;
	return sqlite3_changes(s->db) == 0 ? 1 : 0;
}

static int
sq_agent_remove(struct hub_store *hs, const char *name)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_AGENT_REMOVE);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (store_exec(s, st, "removing an agent") == -1)
		return -1;
	return sqlite3_changes(s->db) == 0 ? 1 : 0;
}

/*
 * Looked up by the token's SHA-256 through the unique index: timing can
 * tell an attacker about hashes of tokens they chose, which says nothing
 * about any real token.
 */
static int64_t
sq_agent_by_token(struct hub_store *hs,
    const unsigned char hash[HUB_HASH_LEN], char *name, size_t namelen)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_AGENT_BY_TOKEN);
	int64_t id = 0;
	int rc;

	sqlite3_bind_blob(st, 1, hash, HUB_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 1);

		id = sqlite3_column_int64(st, 0);
		snprintf(name, namelen, "%s", n ? n : "");
	} else if (rc != SQLITE_DONE) {
		store_fail(s, "looking up a token");
		id = -1;
	}
	sqlite3_reset(st);
	return id;
}

static int64_t
sq_agent_by_name(struct hub_store *hs, const char *name)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_AGENT_BY_NAME);
	int64_t id = 0;
	int rc;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE) {
		store_fail(s, "looking up an agent");
		id = -1;
	}
	sqlite3_reset(st);
	return id;
}

static int
sq_agent_touch(struct hub_store *hs, int64_t id, uint64_t last_seen_ms,
    const char *address, const char *version)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_AGENT_TOUCH);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)last_seen_ms);
	if (address != NULL && *address != '\0')
		sqlite3_bind_text(st, 3, address, -1, SQLITE_STATIC);
	if (version != NULL && *version != '\0')
		sqlite3_bind_text(st, 4, version, -1, SQLITE_STATIC);
	return store_exec(s, st, "updating an agent");
}

static int
sq_agents(struct hub_store *hs, cJSON **out)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_AGENTS);
	cJSON *arr = cJSON_CreateArray();
	int rc;

	*out = NULL;
	if (arr == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		const char *v;

		if (o == NULL)
			break;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "name",
		    (const char *)sqlite3_column_text(st, 1));
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			cJSON_AddNumberToObject(o, "last_seen_ms",
			    (double)sqlite3_column_int64(st, 2));
		if ((v = (const char *)sqlite3_column_text(st, 3)) != NULL)
			cJSON_AddStringToObject(o, "version", v);
		if ((v = (const char *)sqlite3_column_text(st, 4)) != NULL)
			cJSON_AddStringToObject(o, "address", v);
		if (sqlite3_column_type(st, 5) != SQLITE_NULL)
			cJSON_AddNumberToObject(o, "batch_ms",
			    (double)sqlite3_column_int64(st, 5));
		if (sqlite3_column_type(st, 6) != SQLITE_NULL)
			cJSON_AddNumberToObject(o, "dropped_samples",
			    (double)sqlite3_column_int64(st, 6));
		if ((v = (const char *)sqlite3_column_text(st, 7)) != NULL)
			cJSON_AddRawToObject(o, "counters", v);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, "listing agents");
		cJSON_Delete(arr);
		return -1;
	}
	*out = arr;
	return 0;
}

/* ---- commands ---- */

static int
sq_command_add(struct hub_store *hs, int64_t agent_id, const char *id,
    const char *type, const char *body, uint64_t now_ms, uint64_t expires_ms,
    const char *sender)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_CMD_ADD);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, agent_id);
	sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now_ms);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)expires_ms);
	if (sender != NULL)
		sqlite3_bind_text(st, 7, sender, -1, SQLITE_STATIC);
	return store_exec(s, st, "queueing a command");
}

static int
sq_command_get(struct hub_store *hs, const char *id, cJSON **out,
    bool *final)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_CMD_GET);
	cJSON *o;
	int rc;

	*out = NULL;
	*final = false;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 1;
	}
	if (rc != SQLITE_ROW) {
		store_fail(s, "reading a command");
		sqlite3_reset(st);
		return -1;
	}
	o = hub_store_command_json((const char *)sqlite3_column_text(st, 0),
	    (const char *)sqlite3_column_text(st, 1),
	    (const char *)sqlite3_column_text(st, 2),
	    (const char *)sqlite3_column_text(st, 3), sqlite3_column_int64(st, 4),
	    sqlite3_column_int64(st, 5), (const char *)sqlite3_column_text(st, 6),
	    final);
	if (o != NULL)
		hub_store_command_more(o, (const char *)sqlite3_column_text(st, 7),
		    (const char *)sqlite3_column_text(st, 8),
		    sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5), *final);
	sqlite3_reset(st);
	*out = o;
	return o != NULL ? 0 : -1;
}

static int
sq_poll(struct hub_store *hs, int64_t agent_id, struct hub_poll *p)
{
	struct sq_store *s = (struct sq_store *)hs;
	struct hub_buf ids;
	int64_t ack = 0;
	sqlite3_stmt *st;
	int rc;

	hub_store_poll_start(p, &ids, &ack);
	if (sq_begin(&s->base) == -1)
		goto fail_nocommit;
	if (ack > 0) {
		st = store_stmt(s, S_POLL_ACK);
		sqlite3_bind_int64(st, 1, agent_id);
		sqlite3_bind_int64(st, 2, ack);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)p->now_ms);
		if (store_exec(s, st, "acking commands") == -1)
			goto fail;
	}
	st = store_stmt(s, S_POLL_DUE);
	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)p->now_ms);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)p->max_commands);
	/* Collect first, mark after: no write while the read is open. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *body = (const char *)sqlite3_column_text(st, 1);
		size_t blen = (size_t)sqlite3_column_bytes(st, 1);

		if (id == NULL || body == NULL)
			continue;
		if (!hub_store_poll_take(p, &ids, id, body, blen, '\0'))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_fail(s, "reading due commands");
		goto fail;
	}
	sqlite3_reset(st);
	if (p->ncommands > 0) {
		p->cursor = hub_store_new_cursor();
		for (size_t off = 0; off < ids.len; off += strlen(ids.data + off) + 1) {
			st = store_stmt(s, S_POLL_MARK);
			sqlite3_bind_text(st, 1, ids.data + off, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)p->now_ms);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)(p->now_ms + p->lease_ms));
			sqlite3_bind_int64(st, 4, p->cursor);
			if (store_exec(s, st, "marking commands delivered") == -1)
				goto fail;
		}
	}
	if (sq_commit(&s->base) == -1)
		goto fail_nocommit;
	hub_buf_free(&ids);
	return 0;
fail:
	store_rollback(s);
fail_nocommit:
	hub_store_poll_fail(p, &ids);
	return -1;
}

/* ---- batches ---- */

/* Rows of a batch (hub_store_batch_rows): one statement each. */
static int
sq_row_result(void *ctx, int64_t agent_id, const char *id, const char *status,
    char *json, uint64_t now_ms)
{
	struct sq_store *s = ctx;
	sqlite3_stmt *st = store_stmt(s, S_RESULT);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, agent_id);
	sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, json, -1, cJSON_free);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now_ms);
	if (store_exec(s, st, "storing a result") == -1)
		return -1;
	return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

static int
sq_row_inventory(void *ctx, int64_t agent_id, const char *address,
    int64_t port, char *json, uint64_t now_ms)
{
	struct sq_store *s = ctx;
	sqlite3_stmt *st = store_stmt(s, S_INVENTORY);

	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, port);
	sqlite3_bind_text(st, 4, json, -1, cJSON_free);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now_ms);
	return store_exec(s, st, "storing inventory");
}

static int
sq_row_sample(void *ctx, int64_t agent_id, const char *device, int64_t ts,
    char *json, uint64_t now_ms)
{
	struct sq_store *s = ctx;
	sqlite3_stmt *st = store_stmt(s, S_SAMPLE);

	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_text(st, 2, device, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, ts);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now_ms);
	sqlite3_bind_text(st, 5, json, -1, cJSON_free);
	return store_exec(s, st, "storing a sample");
}

static int
sq_row_event(void *ctx, int64_t agent_id, const char *id, const char *device,
    int64_t ts, char *json, uint64_t now_ms)
{
	struct sq_store *s = ctx;
	sqlite3_stmt *st = store_stmt(s, S_EVENT);

	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, device, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, ts);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now_ms);
	sqlite3_bind_text(st, 6, json, -1, cJSON_free);
	return store_exec(s, st, "storing an event");
}

static const struct hub_store_rows sq_rows = {
	sq_row_result, sq_row_inventory, sq_row_sample, sq_row_event,
};

static int
sq_batch(struct hub_store *hs, int64_t agent_id, const struct hub_batch *batch,
    int64_t batch_id, uint64_t now_ms, bool *stored, hub_store_id_cb cb,
    void *arg)
{
	struct sq_store *s = (struct sq_store *)hs;
	struct hub_batch_head hd;
	struct hub_buf done;
	sqlite3_stmt *st;

	*stored = false;
	hub_buf_init(&done, (size_t)64 << 20);
	if (hub_store_batch_head(batch->head, &hd) == -1)
		return -1;
	if (sq_begin(&s->base) == -1) {
		hub_store_batch_head_free(&hd);
		return -1;
	}
	st = store_stmt(s, S_BATCH_ADD);
	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, batch_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now_ms);
	if (hd.version != NULL)
		sqlite3_bind_text(st, 4, hd.version, -1, SQLITE_STATIC);
	if (hd.has_created)
		sqlite3_bind_int64(st, 5, hd.created_ms);
	if (hd.has_dropped)
		sqlite3_bind_int64(st, 6, hd.dropped);
	if (hd.counters != NULL)
		sqlite3_bind_text(st, 7, hd.counters, -1, SQLITE_STATIC);
	if (store_exec(s, st, "storing a batch") == -1)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		/* Seen before: nothing else of it is stored again. */
		store_rollback(s);
		hub_store_batch_head_free(&hd);
		return 0;
	}
	if (hub_store_batch_rows(batch, agent_id, now_ms, &sq_rows, s,
	    &done) == -1)
		goto fail;
	if (hd.agent_version) {
		st = store_stmt(s, S_AGENT_VERSION);
		sqlite3_bind_int64(st, 1, agent_id);
		sqlite3_bind_text(st, 2, hd.version, -1, SQLITE_STATIC);
		if (store_exec(s, st, "updating an agent") == -1)
			goto fail;
	}
	hub_store_batch_head_free(&hd);
	if (sq_commit(&s->base) == -1) {
		hub_buf_free(&done);
		return -1;
	}
	*stored = true;
	hub_store_each_id(&done, cb, arg);
	hub_buf_free(&done);
	return 0;
fail:
	store_rollback(s);
	hub_store_batch_head_free(&hd);
	hub_buf_free(&done);
	return -1;
}

/* ---- housekeeping ---- */

static int
sq_expire(struct hub_store *hs, uint64_t now_ms, hub_store_id_cb cb,
    void *arg)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_EXPIRE_DUE);
	struct hub_buf ids;
	int rc, n = 0;

	hub_buf_init(&ids, 1000 * (HUB_ID_MAX + 1));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);

		if (id != NULL && hub_buf_add(&ids, id, strlen(id) + 1) == -1)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_fail(s, "finding expired commands");
		hub_buf_free(&ids);
		return -1;
	}
	if (ids.len == 0)
		return 0;
	if (sq_begin(&s->base) == -1) {
		hub_buf_free(&ids);
		return -1;
	}
	for (size_t off = 0; off < ids.len; off += strlen(ids.data + off) + 1) {
		st = store_stmt(s, S_EXPIRE_MARK);
		sqlite3_bind_text(st, 1, ids.data + off, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)now_ms);
		if (store_exec(s, st, "expiring a command") == -1) {
			store_rollback(s);
			hub_buf_free(&ids);
			return -1;
		}
		n++;
	}
	if (sq_commit(&s->base) == -1) {
		hub_buf_free(&ids);
		return -1;
	}
	hub_store_each_id(&ids, cb, arg);
	hub_buf_free(&ids);
	return n;
}

static int
sq_leases_due(struct hub_store *hs, uint64_t now_ms,
    hub_store_agent_cb cb, void *arg)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_LEASES_DUE);
	int rc, n = 0;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cb(sqlite3_column_int64(st, 0), arg);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, "finding leases");
		return -1;
	}
	return n;
}

static int
sq_cleanup(struct hub_store *hs, uint64_t cutoff_ms, int max_rows)
{
	struct sq_store *s = (struct sq_store *)hs;

	static const int which[] = {
		S_CLEAN_SAMPLES, S_CLEAN_INVENTORY, S_CLEAN_BATCHES, S_CLEAN_COMMANDS,
		S_CLEAN_EVENTS,
	};
	int total = 0;

	for (size_t i = 0; i < countof(which); i++) {
		sqlite3_stmt *st = store_stmt(s, which[i]);

		sqlite3_bind_int64(st, 1, (sqlite3_int64)cutoff_ms);
		sqlite3_bind_int(st, 2, max_rows);
		if (store_exec(s, st, "deleting old rows") == -1)
			return -1;
		total += sqlite3_changes(s->db);
	}
	return total;
}

/* Rows of one TEXT column as a JSON array, each already JSON. */
static int
store_json_rows(struct sq_store *s, sqlite3_stmt *st, struct hub_buf *out,
    const char *what, struct hub_samples_page *pg)
{
	int rc, rows = 0;

	hub_buf_init(out, HUB_LIST_MAX_BYTES);
	if (hub_buf_add(out, "[", 1) == -1)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *e = (const char *)sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		/* columns 1, 2 of a page's query: its key (ts, id) */
		if (e != NULL && !hub_store_list_row(out, &rows, e, n, pg,
		    pg ? sqlite3_column_int64(st, 1) : 0,
		    pg ? sqlite3_column_int64(st, 2) : 0))
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_fail(s, what);
		goto fail;
	}
	if (hub_buf_add(out, "]", 1) == -1)
		goto fail;
	return 0;
fail:
	sqlite3_reset(st);
	hub_buf_free(out);
	return -1;
}

static int
sq_watch(struct hub_store *s, struct loop *loop, hub_store_event_cb cb,
    void *arg)
{
	/* One node: the hub wakes its own polls as it queues. */
	(void)s, (void)loop, (void)cb, (void)arg;
	return 0;
}

static int
sq_devices(struct hub_store *hs, int64_t agent_id, struct hub_buf *out)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_DEVICES);

	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_int(st, 2, HUB_DEVICES_MAX);
	return store_json_rows(s, st, out, "reading inventory", NULL);
}

/* A page of statement i (samples or events; device NULL: not bound). */
static int
sq_page(struct sq_store *s, int i, int64_t agent_id, const char *device,
    struct hub_samples_page *pg, struct hub_buf *out, const char *what)
{
	sqlite3_stmt *st = store_stmt(s, i);

	sqlite3_bind_int64(st, 1, agent_id);
	if (device != NULL)
		sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, pg->since);
	sqlite3_bind_int64(st, 4, pg->until);
	sqlite3_bind_int64(st, 5, pg->before_ts);
	sqlite3_bind_int64(st, 6, pg->before_id);
	/* one more than the page: a full page says whether more follow */
	sqlite3_bind_int(st, 7, pg->limit + 1);
	return store_json_rows(s, st, out, what, pg);
}

static int
sq_samples(struct hub_store *hs, int64_t agent_id, const char *device,
    struct hub_samples_page *pg, struct hub_buf *out)
{
	return sq_page((struct sq_store *)hs, S_SAMPLES, agent_id, device, pg,
	    out, "reading samples");
}

static int
sq_events(struct hub_store *hs, int64_t agent_id, const char *device,
    struct hub_samples_page *pg, struct hub_buf *out)
{
	return sq_page((struct sq_store *)hs, device ? S_EVENTS_DEV : S_EVENTS,
	    agent_id, device, pg, out, "reading events");
}

/* ---- operator tokens, command history, metrics ---- */

static int
sq_token_add(struct hub_store *hs, const char *name, const char *role,
    const unsigned char hash[HUB_HASH_LEN], uint64_t now_ms)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_TOKEN_ADD);
	int rc;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, hash, HUB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		return 1;
	if (rc != SQLITE_DONE) {
		store_fail(s, "adding a token");
		return -1;
	}
	return 0;
}

static int
sq_token_remove(struct hub_store *hs, const char *name)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_TOKEN_REMOVE);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (store_exec(s, st, "removing a token") == -1)
		return -1;
	return sqlite3_changes(s->db) == 0 ? 1 : 0;
}

static int
sq_token_by_hash(struct hub_store *hs, const unsigned char hash[HUB_HASH_LEN],
    char *name, size_t namelen, char *role, size_t rolelen)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_TOKEN_BY_HASH);
	int rc, found = 0;

	sqlite3_bind_blob(st, 1, hash, HUB_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		const char *r = (const char *)sqlite3_column_text(st, 1);

		snprintf(name, namelen, "%s", n ? n : "");
		snprintf(role, rolelen, "%s", r ? r : "");
		found = 1;
	} else if (rc != SQLITE_DONE) {
		store_fail(s, "looking up an operator token");
		found = -1;
	}
	sqlite3_reset(st);
	return found;
}

static int
sq_tokens(struct hub_store *hs, cJSON **out)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_TOKENS);
	cJSON *arr = cJSON_CreateArray(), *o;
	int rc;

	*out = NULL;
	if (arr == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    (o = cJSON_CreateObject()) != NULL) {
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name",
		    (const char *)sqlite3_column_text(st, 0));
		cJSON_AddStringToObject(o, "role",
		    (const char *)sqlite3_column_text(st, 1));
		cJSON_AddNumberToObject(o, "created_ms",
		    (double)sqlite3_column_int64(st, 2));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, "listing tokens");
		cJSON_Delete(arr);
		return -1;
	}
	*out = arr;
	return 0;
}

static int
sq_commands(struct hub_store *hs, int64_t agent_id, int64_t since,
    int64_t until, int limit, cJSON **out)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_HISTORY);
	cJSON *arr = cJSON_CreateArray(), *o;
	bool final;
	int rc;

	*out = NULL;
	if (arr == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, until);
	sqlite3_bind_int(st, 4, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		o = hub_store_command_json((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3),
		    sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5), NULL,
		    &final);
		if (o == NULL)
			break;
		cJSON_DeleteItemFromObjectCaseSensitive(o, "result");
		hub_store_command_more(o, (const char *)sqlite3_column_text(st, 6),
		    (const char *)sqlite3_column_text(st, 7),
		    sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5), final);
		cJSON_AddItemToArray(arr, o);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, "reading command history");
		cJSON_Delete(arr);
		return -1;
	}
	*out = arr;
	return 0;
}

static int
sq_command_counts(struct hub_store *hs, hub_store_count_cb cb, void *arg)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_CMD_COUNTS);
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1), arg);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, "counting commands");
		return -1;
	}
	return 0;
}

static int
sq_latest_samples(struct hub_store *hs, uint64_t since_ms, int max_rows,
    hub_store_sample_cb cb, void *arg)
{
	struct sq_store *s = (struct sq_store *)hs;
	sqlite3_stmt *st = store_stmt(s, S_LATEST);
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)since_ms);
	sqlite3_bind_int(st, 2, max_rows);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *e = (const char *)sqlite3_column_text(st, 3);

		if (e != NULL)
			cb((const char *)sqlite3_column_text(st, 0),
			    (const char *)sqlite3_column_text(st, 1),
			    sqlite3_column_int64(st, 2), e,
			    (size_t)sqlite3_column_bytes(st, 3), arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, "reading the latest samples");
		return -1;
	}
	return 0;
}

static const struct hub_store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close, .errmsg = sq_errmsg, .watch = sq_watch,
	.begin = sq_begin, .commit = sq_commit,
	.agent_add = sq_agent_add, .agent_set_token = sq_agent_set_token,
	.agent_remove = sq_agent_remove, .agent_by_token = sq_agent_by_token,
	.agent_by_name = sq_agent_by_name, .agent_touch = sq_agent_touch,
	.agents = sq_agents, .command_add = sq_command_add,
	.command_get = sq_command_get, .poll = sq_poll, .batch = sq_batch,
	.expire = sq_expire, .leases_due = sq_leases_due, .cleanup = sq_cleanup,
	.devices = sq_devices, .samples = sq_samples, .events = sq_events,
	.token_add = sq_token_add, .token_remove = sq_token_remove,
	.token_by_hash = sq_token_by_hash, .tokens = sq_tokens,
	.commands = sq_commands, .command_counts = sq_command_counts,
	.latest_samples = sq_latest_samples,
};
