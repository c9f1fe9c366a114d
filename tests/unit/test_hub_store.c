/*
 * The hub's SQLite store (hub/store_sqlite.c) on a temporary database: agents
 * and tokens, delivery with cursors, acks and leases, idempotent
 * batches, expiry and retention.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub/hub_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1764324000000ull
#define LEASE 60000ull

struct fx {
	char dir[64], path[96];
	struct hub_store *s;
	int64_t agent;
};

static int
setup(void **st)
{
	struct fx *f = calloc(1, sizeof(*f));
	unsigned char h[HUB_HASH_LEN];
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_hub_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	if (hub_store_open(f->path, &f->s, err, sizeof(err)) == -1)
		fail_msg("open: %s", err);
	hub_token_hash("tok-1", 5, h);
	assert_int_equal(hub_store_agent_add(f->s, "site-1", h, T0), 0);
	f->agent = hub_store_agent_by_name(f->s, "site-1");
	assert_true(f->agent > 0);
	*st = f;
	return 0;
}

static int
teardown(void **st)
{
	struct fx *f = *st;
	char p[128];

	hub_store_close(f->s);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
queue(struct fx *f, const char *id, uint64_t now, uint64_t ttl)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"type\":\"agent.info\"}", id);
	assert_int_equal(hub_store_command_add(f->s, f->agent, id, "agent.info",
	    body, now, now + ttl, "tester"), 0);
}

/* Poll at now with ack; returns the number of commands, cursor in *cur. */
static size_t
poll(struct fx *f, uint64_t now, const char *ack, int64_t *cur, char *out,
    size_t outlen)
{
	struct hub_poll p = { .ack = ack, .now_ms = now, .lease_ms = LEASE,
	    .max_commands = HUB_POLL_MAX_COMMANDS, .max_bytes = HUB_POLL_MAX_BYTES };
	size_t n;

	assert_int_equal(hub_store_poll(f->s, f->agent, &p), 0);
	if (cur)
		*cur = p.cursor;
	if (out)
		snprintf(out, outlen, "%s", p.commands.data ? p.commands.data : "");
	n = p.ncommands;
	hub_buf_free(&p.commands);
	return n;
}

static void
store_is_wal_and_private(void **st)
{
	struct fx *f = *st;
	char p[128];
	struct stat sb;

	snprintf(p, sizeof(p), "%s-wal", f->path);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
}

static void
agents_are_found_by_token_hash_and_name(void **st)
{
	struct fx *f = *st;
	unsigned char h[HUB_HASH_LEN], h2[HUB_HASH_LEN];
	char name[64];

	hub_token_hash("tok-1", 5, h);
	assert_int_equal(hub_store_agent_by_token(f->s, h, name, sizeof(name)),
	    f->agent);
	assert_string_equal(name, "site-1");
	assert_int_equal(hub_store_agent_add(f->s, "site-1", h, T0), 1);
	hub_token_hash("tok-2", 5, h2);
	assert_int_equal(hub_store_agent_set_token(f->s, "site-1", h2), 0);
	assert_int_equal(hub_store_agent_by_token(f->s, h, name, sizeof(name)), 0);
	assert_int_equal(hub_store_agent_by_token(f->s, h2, name, sizeof(name)),
	    f->agent);
	assert_int_equal(hub_store_agent_set_token(f->s, "nobody", h2), 1);
	assert_int_equal(hub_store_agent_by_name(f->s, "nobody"), 0);
	assert_int_equal(hub_store_agent_remove(f->s, "nobody"), 1);
	assert_int_equal(hub_store_agent_touch(f->s, f->agent, T0 + 5, "127.0.0.1",
	    "0.1.0"), 0);
	cJSON *arr;
	assert_int_equal(hub_store_agents(f->s, &arr), 0);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0),
	    "version")->valuestring, "0.1.0");
	cJSON_Delete(arr);
}

static void
delivery_ack_and_lease(void **st)
{
	struct fx *f = *st;
	int64_t c1, c2, c3;
	char out[512];

	queue(f, "a", T0, 600000);
	queue(f, "b", T0 + 1, 600000);
	assert_int_equal(poll(f, T0 + 10, NULL, &c1, out, sizeof(out)), 2);
	assert_true(c1 > 0);
	assert_non_null(strstr(out, "\"a\""));
	assert_true(strstr(out, "\"a\"") < strstr(out, "\"b\""));
	/* Within the lease: nothing again. */
	assert_int_equal(poll(f, T0 + 20, NULL, &c2, NULL, 0), 0);
	assert_int_equal(c2, 0);
	/* Lease over and not acked: both again, under a new cursor. */
	assert_int_equal(poll(f, T0 + 10 + LEASE, NULL, &c2, NULL, 0), 2);
	assert_true(c2 != c1);
	/* The old cursor acks nothing; the new one acks both. */
	char ack[32];
	snprintf(ack, sizeof(ack), "%lld", (long long)c1);
	assert_int_equal(poll(f, T0 + 20 + 2 * LEASE, ack, &c3, NULL, 0), 2);
	snprintf(ack, sizeof(ack), "%lld", (long long)c3);
	assert_int_equal(poll(f, T0 + 30 + 2 * LEASE, ack, NULL, NULL, 0), 0);
	assert_int_equal(poll(f, T0 + 40 + 5 * LEASE, "not-a-cursor", NULL, NULL, 0), 0);

	cJSON *o;
	bool final;
	assert_int_equal(hub_store_command_get(f->s, "a", &o, &final), 0);
	assert_false(final);
	assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "delivered");
	assert_string_equal(cJSON_GetObjectItem(o, "agent")->valuestring, "site-1");
	cJSON_Delete(o);
	assert_int_equal(hub_store_command_get(f->s, "zz", &o, &final), 1);
}

static void
poll_respects_count_and_size_limits(void **st)
{
	struct fx *f = *st;
	struct hub_poll p = { .now_ms = T0 + 1, .lease_ms = LEASE,
	    .max_commands = 2, .max_bytes = 1 << 20 };
	char id[16];

	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		queue(f, id, T0, 600000);
	}
	assert_int_equal(hub_store_poll(f->s, f->agent, &p), 0);
	assert_int_equal(p.ncommands, 2);
	hub_buf_free(&p.commands);
	p.max_commands = 100;
	p.max_bytes = 40;   /* one body is ~35 bytes: one per response */
	assert_int_equal(hub_store_poll(f->s, f->agent, &p), 0);
	assert_int_equal(p.ncommands, 1);
	hub_buf_free(&p.commands);
}

static int ncb;
static char last_id[65];

static void
count_cb(const char *id, void *arg)
{
	ncb++;
	snprintf(last_id, sizeof(last_id), "%s", id);
}

/* The newest 100, as GET samples without parameters. */
static int
samples(struct fx *f, const char *device, struct hub_buf *out)
{
	struct hub_samples_page pg = { .until = INT64_MAX, .limit = 100 };

	return hub_store_samples(f->s, f->agent, device, &pg, out);
}

static void
batches_are_idempotent_and_finish_commands(void **st)
{
	struct fx *f = *st;
	const char *doc = "{\"batch_id\":5,\"agent_version\":\"0.2.0\","
	    "\"results\":[{\"command_id\":\"a\",\"status\":\"ok\",\"error\":null,"
	    "\"data\":{}},{\"command_id\":\"b\",\"status\":\"refused\","
	    "\"error\":\"policy\"},{\"command_id\":\"zz\",\"status\":\"ok\"}],"
	    "\"inventory\":[{\"address\":\"10.0.0.1\",\"port\":161}],"
	    "\"samples\":[{\"device\":\"10.0.0.1\",\"ts\":1,\"rows\":{}}]}";
	struct hub_batch bb, *b = &bb;
	char err[128];
	cJSON *o;
	struct hub_buf out;
	bool stored, final;

	hub_json_init();
	assert_int_equal(hub_batch_scan(doc, strlen(doc), b, err, sizeof(err)),
	    HUB_IN_OK);
	assert_int_equal(b->batch_id, 5);
	queue(f, "a", T0, 600000);
	queue(f, "b", T0, 600000);
	ncb = 0;
	assert_int_equal(hub_store_batch(f->s, f->agent, b, 5, T0, &stored,
	    count_cb, NULL), 0);
	assert_true(stored);
	assert_int_equal(ncb, 2);
	assert_int_equal(hub_store_batch(f->s, f->agent, b, 5, T0, &stored,
	    count_cb, NULL), 0);
	assert_false(stored);
	assert_int_equal(ncb, 2);
	assert_int_equal(hub_store_command_get(f->s, "a", &o, &final), 0);
	assert_true(final);
	assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "done");
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "result"),
	    "command_id"));
	cJSON_Delete(o);
	assert_int_equal(hub_store_command_get(f->s, "b", &o, &final), 0);
	assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "failed");
	cJSON_Delete(o);
	assert_int_equal(hub_store_devices(f->s, f->agent, &out), 0);
	assert_string_equal(out.data, "[{\"address\":\"10.0.0.1\",\"port\":161}]");
	hub_buf_free(&out);
	assert_int_equal(samples(f, "10.0.0.1:161", &out), 0);
	assert_non_null(strstr(out.data, "\"ts\":1"));
	hub_buf_free(&out);
	/* Retention: everything received before the cutoff goes. */
	assert_true(hub_store_cleanup(f->s, T0 + 1, 1000) >= 3);
	assert_int_equal(samples(f, "10.0.0.1:161", &out), 0);
	assert_string_equal(out.data, "[]");
	hub_buf_free(&out);
	/* The batch id is forgotten with it. */
	assert_int_equal(hub_store_batch(f->s, f->agent, b, 5, T0 + 2, &stored,
	    count_cb, NULL), 0);
	assert_true(stored);
	hub_batch_free(b);
}

/* Stored as received and served so: Counter64 values and the rest of a
 * batch's integers survive the store digit for digit. */
static void
batch_integers_are_served_exactly(void **st)
{
	struct fx *f = *st;
	const char *doc = "{\"batch_id\":9007199254740991,"
	    "\"results\":[{\"command_id\":\"big\",\"status\":\"ok\","
	    "\"error\":null,\"data\":{\"varbinds\":[{\"oid\":\".1.3.6.1\","
	    "\"type\":\"Counter64\",\"value\":18446744073709551615}]}}],"
	    "\"samples\":[{\"device\":\"10.0.0.9\",\"ts\":1764324000000,"
	    "\"rows\":{\"1\":[0,4294967295,9007199254740993,9223372036854775808,"
	    "18446744073709551615]}}]}";
	char err[128], *txt;
	struct hub_buf out;
	struct hub_batch bb, *b = &bb;
	cJSON *o;
	bool stored, final;

	hub_json_init();
	assert_int_equal(hub_batch_scan(doc, strlen(doc), b, err, sizeof(err)),
	    HUB_IN_OK);
	queue(f, "big", T0, 600000);
	assert_int_equal(hub_store_batch(f->s, f->agent, b, (INT64_C(1) << 53) - 1,
	    T0, &stored, count_cb, NULL), 0);
	assert_true(stored);
	hub_batch_free(b);
	assert_int_equal(samples(f, "10.0.0.9:161", &out), 0);
	assert_non_null(strstr(out.data, "\"rows\":{\"1\":[0,4294967295,"
	    "9007199254740993,9223372036854775808,18446744073709551615]}"));
	hub_buf_free(&out);
	assert_int_equal(hub_store_command_get(f->s, "big", &o, &final), 0);
	txt = cJSON_PrintUnformatted(o);
	assert_non_null(strstr(txt, "\"value\":18446744073709551615}"));
	cJSON_free(txt);
	cJSON_Delete(o);
}

static void
queued_commands_expire(void **st)
{
	struct fx *f = *st;
	cJSON *o;
	bool final;

	queue(f, "x", T0, 1000);
	queue(f, "y", T0, 100000);
	ncb = 0;
	assert_int_equal(hub_store_expire(f->s, T0 + 999, count_cb, NULL), 0);
	assert_int_equal(hub_store_expire(f->s, T0 + 1000, count_cb, NULL), 1);
	assert_int_equal(ncb, 1);
	assert_string_equal(last_id, "x");
	assert_int_equal(hub_store_command_get(f->s, "x", &o, &final), 0);
	assert_true(final);
	assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "expired");
	cJSON_Delete(o);
	/* An expired command is not delivered. */
	assert_int_equal(poll(f, T0 + 2000, NULL, NULL, NULL, 0), 1);
}

static void
db_uri_selects_the_backend(void **st)
{
	enum hub_store_kind k;
	const char *w;
	char err[200];

	(void)st;
	assert_int_equal(hub_store_parse_db("/var/lib/h.db", &k, &w, err,
	    sizeof(err)), 0);
	assert_int_equal(k, HUB_STORE_SQLITE);
	assert_string_equal(w, "/var/lib/h.db");
	assert_int_equal(hub_store_parse_db("sqlite:rel/h.db", &k, &w, err,
	    sizeof(err)), 0);
	assert_int_equal(k, HUB_STORE_SQLITE);
	assert_string_equal(w, "rel/h.db");
	assert_int_equal(hub_store_parse_db("postgresql://u@db1/hub", &k, &w, err,
	    sizeof(err)), 0);
	assert_int_equal(k, HUB_STORE_PG);
	assert_string_equal(w, "postgresql://u@db1/hub");
	assert_int_equal(hub_store_parse_db("postgres://db1/hub?sslmode=verify-full",
	    &k, &w, err, sizeof(err)), 0);
	assert_int_equal(k, HUB_STORE_PG);
	assert_int_equal(hub_store_parse_db("sqlite:", &k, &w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "names no file"));
	assert_int_equal(hub_store_parse_db("mysql://db1/hub", &k, &w, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown scheme"));
	assert_int_equal(hub_store_parse_db("", &k, &w, err, sizeof(err)), -1);
}

static int64_t
version_of(const char *path)
{
	struct hub_store *s;
	char err[256];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (hub_store_open(path, &s, err, sizeof(err)) == -1)
		fail_msg("open: %s", err);
	hub_store_close(s);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), max(version) "
	    "FROM schema_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	/* One row per step: each applied once. */
	assert_int_equal(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
	v = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
migrations_apply_once_and_refuse_a_newer_schema(void **st)
{
	struct fx *f = *st;
	struct hub_store *s;
	char err[256];
	sqlite3 *db;

	assert_int_equal(version_of(f->path), hub_store_sqlite_nsteps);
	/* Opening again applies nothing and keeps the data. */
	assert_int_equal(version_of(f->path), hub_store_sqlite_nsteps);
	assert_int_equal(hub_store_open(f->path, &s, err, sizeof(err)), 0);
	assert_true(hub_store_agent_by_name(s, "site-1") > 0);
	hub_store_close(s);
	/* A database a newer hub migrated further is refused, unchanged. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES "
	    "(99, 0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(hub_store_open(f->path, &s, err, sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "schema is version 99"));
	assert_non_null(strstr(err, "upgrade outpost-hub"));
}

/* The runner on a database from before versioning (tables, no
 * schema_version): step 1 applies over it and keeps the rows. */
static void
migrations_adopt_a_database_from_before_versioning(void **st)
{
	struct fx *f = *st;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	/* back to the first release's schema: no versions, no step 2 */
	assert_int_equal(sqlite3_exec(db, "DROP TABLE schema_version; "
	    "DROP TABLE tokens; DROP INDEX commands_history; "
	    "ALTER TABLE commands DROP COLUMN sender", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(version_of(f->path), hub_store_sqlite_nsteps);
	f->agent = hub_store_agent_by_name(f->s, "site-1");
	assert_true(f->agent > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(store_is_wal_and_private, setup, teardown),
		cmocka_unit_test_setup_teardown(agents_are_found_by_token_hash_and_name,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(delivery_ack_and_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(poll_respects_count_and_size_limits,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(batches_are_idempotent_and_finish_commands,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(queued_commands_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_integers_are_served_exactly,
		    setup, teardown),
		cmocka_unit_test(db_uri_selects_the_backend),
		cmocka_unit_test_setup_teardown(
		    migrations_apply_once_and_refuse_a_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    migrations_adopt_a_database_from_before_versioning, setup, teardown),
	};

	log_init("test_hub_store", LOG_LVL_ERROR, false);
	hub_json_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
