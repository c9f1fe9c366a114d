/*
 * Events in the hub's SQLite store (hub/store_events.c, store_sqlite.c):
 * which entries of a batch are stored, once per agent and event id;
 * pages by received time, with or without a device; retention.
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
#include <unistd.h>

#define NOW 1764640000000ull

struct efx {
	char dir[64], path[96];
	struct hub_store *s;
	int64_t a1, a2;
};

static int64_t
efx_agent(struct efx *f, const char *name)
{
	unsigned char h[HUB_HASH_LEN];

	hub_token_hash(name, strlen(name), h);
	assert_int_equal(hub_store_agent_add(f->s, name, h, NOW), 0);
	return hub_store_agent_by_name(f->s, name);
}

static int
efx_setup(void **st)
{
	struct efx *f = calloc(1, sizeof(*f));
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_hub_events.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	if (hub_store_open(f->path, &f->s, err, sizeof(err)) == -1)
		fail_msg("open: %s", err);
	f->a1 = efx_agent(f, "site-1");
	f->a2 = efx_agent(f, "site-2");
	assert_true(f->a1 > 0 && f->a2 > 0 && f->a1 != f->a2);
	*st = f;
	return 0;
}

static int
efx_teardown(void **st)
{
	struct efx *f = *st;
	const char *suffix[] = { "", "-wal", "-shm" };
	char p[128];

	hub_store_close(f->s);
	for (size_t i = 0; i < countof(suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A batch's text stored as the hub stores it: split (batch.c), one
 * entry at a time. */
static int
store_doc(struct efx *f, int64_t agent, const char *doc, int64_t batch_id,
    uint64_t now, bool *stored)
{
	struct hub_batch b;
	char err[128];
	int rc;

	hub_json_init();
	assert_int_equal(hub_batch_scan(doc, strlen(doc), &b, err, sizeof(err)),
	    HUB_IN_OK);
	rc = hub_store_batch(f->s, agent, &b, batch_id, now, stored, NULL, NULL);
	hub_batch_free(&b);
	return rc;
}

static void
post(struct efx *f, int64_t agent, int64_t batch_id, const char *events,
    uint64_t now)
{
	char doc[4096];
	bool stored;

	snprintf(doc, sizeof(doc), "{\"batch_id\":%lld,\"events\":%s}",
	    (long long)batch_id, events);
	assert_int_equal(store_doc(f, agent, doc, batch_id, now, &stored), 0);
	assert_true(stored);
}

/* The page's entries' ids, comma-joined, into ids. */
static int
page_ids(struct efx *f, int64_t agent, const char *device,
    struct hub_samples_page *pg, char *ids, size_t len)
{
	struct hub_buf out;
	cJSON *arr, *e;
	size_t n = 0;

	if (hub_store_events(f->s, agent, device, pg, &out) == -1)
		return -1;
	assert_non_null(arr = cJSON_Parse(out.data));
	hub_buf_free(&out);
	ids[0] = '\0';
	cJSON_ArrayForEach(e, arr) {
		n += (size_t)snprintf(ids + n, len - n, "%s%s", n ? "," : "",
		    cJSON_GetObjectItem(e, "id")->valuestring);
		assert_true(n < len);
	}
	cJSON_Delete(arr);
	return 0;
}

static const char *
all(struct efx *f, int64_t agent, const char *device)
{
	static char ids[1024];
	struct hub_samples_page pg = { .until = INT64_MAX, .limit = 100 };

	assert_int_equal(page_ids(f, agent, device, &pg, ids, sizeof(ids)), 0);
	return ids;
}

static void
events_are_stored_once_per_agent_and_id(void **st)
{
	struct efx *f = *st;

	/* Entries without a valid id, received or device are skipped. */
	post(f, f->a1, 1, "[{\"id\":\"e1\",\"received\":100,\"device\":"
	    "\"10.0.0.1\"},{\"id\":\"e2\",\"received\":200},"
	    "{\"received\":150},{\"id\":\"\",\"received\":1},"
	    "{\"id\":\"has space\"},{\"id\":7},{\"id\":\"e3\",\"received\":-1},"
	    "{\"id\":\"e4\",\"device\":\"10.0.0.1:70000\"},\"e5\",null]", NOW);
	assert_string_equal(all(f, f->a1, NULL), "e2,e1");
	/* Again in another batch, with a new one: stored once. */
	post(f, f->a1, 2, "[{\"id\":\"e2\",\"received\":200},"
	    "{\"id\":\"e6\",\"received\":300}]", NOW);
	assert_string_equal(all(f, f->a1, NULL), "e6,e2,e1");
	/* The same id from another agent is another event. */
	post(f, f->a2, 1, "[{\"id\":\"e1\"}]", NOW);
	assert_string_equal(all(f, f->a2, NULL), "e1");
	assert_string_equal(all(f, f->a1, NULL), "e6,e2,e1");
	/* A missing received is the hub's time of receipt. */
	{
		struct hub_samples_page pg = { .since = (int64_t)NOW,
		    .until = (int64_t)NOW + 1, .limit = 10 };
		char ids[64];

		assert_int_equal(page_ids(f, f->a2, NULL, &pg, ids, sizeof(ids)), 0);
		assert_string_equal(ids, "e1");
	}
}

static void
events_are_served_exactly(void **st)
{
	struct efx *f = *st;
	const char *e = "{\"id\":\"9f3a51c2e07b4d18\",\"received\":1764640000123,"
	    "\"source\":\"10.1.0.5\",\"version\":\"2c\",\"trap_oid\":"
	    "\".1.3.6.1.6.3.1.1.5.3\",\"varbinds\":[{\"oid\":\".1.3.6.1.2.1.31.1.1.1.6.1\","
	    "\"type\":\"Counter64\",\"value\":18446744073709551615},{\"oid\":"
	    "\".1.3.6.1.2.1.1.5.0\",\"type\":\"STRING\",\"value\":\"Z\xc3\xbcrich\"}]}";
	char doc[1024], want[1024];
	struct hub_samples_page pg = { .until = INT64_MAX, .limit = 10 };
	struct hub_buf out;
	bool stored;

	/* Parsed as the hub parses (json_exact: long integers kept). */
	snprintf(doc, sizeof(doc), "{\"batch_id\":1,\"events\":[%s]}", e);
	assert_int_equal(store_doc(f, f->a1, doc, 1, NOW, &stored), 0);
	assert_int_equal(hub_store_events(f->s, f->a1, NULL, &pg, &out), 0);
	snprintf(want, sizeof(want), "[%s]", e);
	assert_string_equal(out.data, want);
	hub_buf_free(&out);
}

static void
events_page_by_received_and_device(void **st)
{
	struct efx *f = *st;
	struct hub_samples_page pg = { .until = INT64_MAX, .limit = 2 };
	char ids[256], got[256] = "";

	post(f, f->a1, 1, "[{\"id\":\"a\",\"received\":10,\"device\":\"10.0.0.1\"},"
	    "{\"id\":\"b\",\"received\":20,\"device\":\"10.0.0.2:1161\"},"
	    "{\"id\":\"c\",\"received\":20,\"device\":\"10.0.0.1:161\"},"
	    "{\"id\":\"d\",\"received\":30},"
	    "{\"id\":\"e\",\"received\":40,\"device\":\"10.0.0.1\"}]", NOW);
	assert_string_equal(all(f, f->a1, "10.0.0.1:161"), "e,c,a");
	assert_string_equal(all(f, f->a1, "10.0.0.2:1161"), "b");
	assert_string_equal(all(f, f->a1, "10.0.0.2:161"), "");
	/* Pages of two with the cursor of the last row: each once, newest
	 * first, the two of received 20 split across pages. */
	for (int pages = 0; pages < 5; pages++) {
		assert_int_equal(page_ids(f, f->a1, NULL, &pg, ids, sizeof(ids)), 0);
		strcat(got, ids);
		if (!pg.more)
			break;
		strcat(got, "|");
		pg.before_ts = pg.last_ts;
		pg.before_id = pg.last_id;
	}
	assert_string_equal(got, "e,d|c,b|a");
	/* since inclusive, until exclusive */
	memset(&pg, 0, sizeof(pg));
	pg.since = 20;
	pg.until = 40;
	pg.limit = 10;
	assert_int_equal(page_ids(f, f->a1, NULL, &pg, ids, sizeof(ids)), 0);
	assert_string_equal(ids, "d,c,b");
	assert_false(pg.more);
}

static void
retention_removes_old_events(void **st)
{
	struct efx *f = *st;

	post(f, f->a1, 1, "[{\"id\":\"old\",\"received\":1}]", NOW);
	post(f, f->a1, 2, "[{\"id\":\"new\",\"received\":2}]", NOW + 5000);
	/* by the hub's time of receipt, not the agent's received */
	assert_true(hub_store_cleanup(f->s, NOW + 1, 1000) >= 1);
	assert_string_equal(all(f, f->a1, NULL), "new");
	/* the id is forgotten with it: the next copy is stored again */
	post(f, f->a1, 3, "[{\"id\":\"old\",\"received\":1}]", NOW + 6000);
	assert_string_equal(all(f, f->a1, NULL), "new,old");
}

/* The batch's stored counters (JSON text) into out. */
static void
stored_counters(struct efx *f, int64_t batch_id, char *out, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT counters FROM batches "
	    "WHERE batch_id = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, batch_id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, len, "%s", sqlite3_column_type(st, 0) == SQLITE_NULL ?
	    "NULL" : (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
trap_counters_and_dropped_events_are_kept_with_the_batch(void **st)
{
	struct efx *f = *st;
	const char *docs[] = {
		"{\"batch_id\":1,\"dropped_events\":3,\"counters\":{\"polls\":1,"
		"\"traps_received\":9007199254740993,\"traps_dropped_auth\":2}}",
		"{\"batch_id\":2,\"dropped_events\":4}",
		"{\"batch_id\":3,\"counters\":{\"traps_received\":1}}",
		"{\"batch_id\":4}",
	};
	const char *want[] = {
		"{\"polls\":1,\"traps_received\":9007199254740993,"
		"\"traps_dropped_auth\":2,\"dropped_events\":3}",
		"{\"dropped_events\":4}",
		"{\"traps_received\":1}",
		"NULL",
	};
	char got[256];

	for (size_t i = 0; i < countof(docs); i++) {
		bool stored;

		assert_int_equal(store_doc(f, f->a1, docs[i], (int64_t)i + 1, NOW,
		    &stored), 0);
		stored_counters(f, (int64_t)i + 1, got, sizeof(got));
		assert_string_equal(got, want[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(events_are_stored_once_per_agent_and_id,
		    efx_setup, efx_teardown),
		cmocka_unit_test_setup_teardown(events_are_served_exactly,
		    efx_setup, efx_teardown),
		cmocka_unit_test_setup_teardown(events_page_by_received_and_device,
		    efx_setup, efx_teardown),
		cmocka_unit_test_setup_teardown(retention_removes_old_events,
		    efx_setup, efx_teardown),
		cmocka_unit_test_setup_teardown(
		    trap_counters_and_dropped_events_are_kept_with_the_batch,
		    efx_setup, efx_teardown),
	};

	log_init("test_hub_events", LOG_LVL_ERROR, false);
	hub_json_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
