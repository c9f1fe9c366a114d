/*
 * The transport without a network (transport/): response checks,
 * de-duplication, batches, 413 splits, the token file, refused options.
 * Faults on the wire are in tests/integration/test_transport.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/transport_int.h"
#include "tests/unit/unit_util.h"

static char tmpdir[256];

static int
setup(void **st)
{
	return unit_tmpdir(tmpdir, sizeof(tmpdir), "transport");
}

static int
teardown(void **st)
{
	return unit_rmtree(tmpdir);
}

/* ---- de-duplication ---- */

static void
a_command_id_is_run_once_within_the_last_4096(void **st)
{
	struct dedupe *d = malloc(sizeof(*d));
	char id[32];

	tp_dedupe_init(d);
	assert_true(tp_dedupe_add(d, "c1"));
	assert_false(tp_dedupe_add(d, "c1"));
	assert_true(tp_dedupe_add(d, "c2"));
	for (int i = 0; i < TP_DEDUPE_IDS - 2; i++) {
		snprintf(id, sizeof(id), "x%d", i);
		assert_true(tp_dedupe_add(d, id));
	}
	/* 4096 remembered: c1 is still the oldest of them */
	assert_false(tp_dedupe_add(d, "c1"));
	assert_true(tp_dedupe_add(d, "new"));   /* forgets c1 */
	assert_true(tp_dedupe_add(d, "c1"));    /* forgets c2 */
	assert_true(tp_dedupe_add(d, "c2"));
	assert_false(tp_dedupe_add(d, "new"));
	/* many rounds through the ring keep lookups right */
	for (int i = 0; i < 5 * TP_DEDUPE_IDS; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		assert_true(tp_dedupe_add(d, id));
		if (i >= 100) {
			snprintf(id, sizeof(id), "r%d", i - 100);
			assert_false(tp_dedupe_add(d, id));
		}
	}
	free(d);
}

/* ---- poll responses ---- */

static int
parse(const char *body, char *err, size_t errlen, int *ncmds, int64_t *next)
{
	static char scratch[TP_MAX_COMMAND_BYTES + 8];
	const cJSON *cmds;
	const char *cursor;
	cJSON *root;
	int rc = tp_poll_parse(body, strlen(body), &root, &cmds, &cursor, next,
	    scratch, err, errlen);

	if (rc == 0) {
		*ncmds = cJSON_GetArraySize(cmds);
		cJSON_Delete(root);
	}
	return rc;
}

static char *
nested(int depth)
{
	size_t n = strlen("{\"cursor\":\"1\",\"commands\":[],\"x\":") + 2 *
	    (size_t)depth + 8;
	char *s = malloc(n), *p = s;

	p += sprintf(p, "{\"cursor\":\"1\",\"commands\":[],\"x\":");
	for (int i = 0; i < depth - 1; i++)
		*p++ = '[';
	for (int i = 0; i < depth - 1; i++)
		*p++ = ']';
	strcpy(p, "}");
	return s;
}

static void
valid_poll_responses_are_accepted(void **st)
{
	char err[128];
	int64_t next;
	int n;
	char *deep;

	assert_int_equal(parse("{\"cursor\":\"17\",\"commands\":[{\"id\":\"c1\","
	    "\"type\":\"agent.info\"}],\"next_poll_ms\":250}", err, sizeof(err),
	    &n, &next), 0);
	assert_int_equal(n, 1);
	assert_int_equal(next, 250);
	assert_int_equal(parse(" {\"cursor\":\"\",\"commands\":[],\"future\":"
	    "{\"a\":[1]}}\n", err, sizeof(err), &n, &next), 0);
	assert_int_equal(n, 0);
	assert_int_equal(next, -1);
	deep = nested(TP_MAX_JSON_DEPTH);
	assert_int_equal(parse(deep, err, sizeof(err), &n, &next), 0);
	free(deep);
	/* brackets inside strings are not nesting */
	assert_int_equal(parse("{\"cursor\":\"1\",\"commands\":[],\"s\":"
	    "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}", err,
	    sizeof(err), &n, &next), 0);
}

static void
poll_responses_over_a_limit_or_broken_are_refused_whole(void **st)
{
	static const char *const bad[] = {
		"",
		"{",
		"{\"cursor\":\"1\",\"commands\":[]} trailing",
		"[1,2]",
		"{\"commands\":[]}",
		"{\"cursor\":17,\"commands\":[]}",
		"{\"cursor\":\"bad cursor\",\"commands\":[]}",
		"{\"cursor\":\"1\"}",
		"{\"cursor\":\"1\",\"commands\":{}}",
		"{\"cursor\":\"1\",\"commands\":[1]}",
	};
	char err[128];
	int64_t next;
	int n;

	for (size_t i = 0; i < countof(bad); i++) {
		err[0] = '\0';
		if (parse(bad[i], err, sizeof(err), &n, &next) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
	}
}

static void
deep_nesting_many_commands_and_huge_commands_are_refused(void **st)
{
	char err[128], *s, *p;
	int64_t next;
	int n;

	s = nested(TP_MAX_JSON_DEPTH + 1);
	assert_int_equal(parse(s, err, sizeof(err), &n, &next), -1);
	assert_non_null(strstr(err, "deeper"));
	free(s);
	s = nested(100000);   /* would exhaust a recursive parser's stack */
	assert_int_equal(parse(s, err, sizeof(err), &n, &next), -1);
	free(s);

	s = malloc(40 * (TP_MAX_COMMANDS + 1) + 64);
	p = s + sprintf(s, "{\"cursor\":\"1\",\"commands\":[");
	for (int i = 0; i <= TP_MAX_COMMANDS; i++)
		p += sprintf(p, "%s{\"id\":\"c%d\"}", i ? "," : "", i);
	strcpy(p, "]}");
	assert_int_equal(parse(s, err, sizeof(err), &n, &next), -1);
	assert_non_null(strstr(err, "1000"));
	/* exactly 1000 is fine */
	p = strrchr(s, ',');
	strcpy(p, "]}");
	assert_int_equal(parse(s, err, sizeof(err), &n, &next), 0);
	assert_int_equal(n, TP_MAX_COMMANDS);
	free(s);

	s = malloc(TP_MAX_COMMAND_BYTES + 200);
	p = s + sprintf(s, "{\"cursor\":\"1\",\"commands\":[{\"id\":\"big\","
	    "\"pad\":\"");
	memset(p, 'a', TP_MAX_COMMAND_BYTES);
	strcpy(p + TP_MAX_COMMAND_BYTES, "\"}]}");
	assert_int_equal(parse(s, err, sizeof(err), &n, &next), -1);
	assert_non_null(strstr(err, "64 KiB"));
	free(s);
}

static void
ids_cursors_and_tokens_have_their_charsets(void **st)
{
	char id[80];

	assert_true(proto_id_valid("c1f0a9-x_y.z", TP_MAX_CMD_ID));
	assert_false(proto_id_valid("", TP_MAX_CMD_ID));
	assert_false(proto_id_valid("a b", TP_MAX_CMD_ID));
	assert_false(proto_id_valid("a/b", TP_MAX_CMD_ID));
	assert_false(proto_id_valid("caf\xc3\xa9", TP_MAX_CMD_ID));
	memset(id, 'a', 64);
	id[64] = '\0';
	assert_true(proto_id_valid(id, TP_MAX_CMD_ID));
	id[64] = 'a';
	id[65] = '\0';
	assert_false(proto_id_valid(id, TP_MAX_CMD_ID));
	assert_true(proto_token_valid("Abc.123_~-", 10));
	assert_false(proto_token_valid("", 0));
	assert_false(proto_token_valid("a b", 3));
	assert_false(proto_token_valid("a\nb", 3));
	assert_false(proto_token_valid("a+b", 3));
}

/* ---- batches ---- */

static void
a_batch_serializes_gzips_and_splits_back(void **st)
{
	struct batch b = { 0 };
	cJSON *counters = cJSON_CreateObject(), *doc, *arr;
	char *json, *plain, *a, *bb, why[128];
	unsigned char *gz;
	size_t len, gzlen, plen, alen, blen;
	uint32_t as, bs;

	assert_int_equal(tp_batch_append(&b, BATCH_RESULTS, "{\"command_id\":\"c1\"}",
	    19), 0);
	for (int i = 0; i < 5; i++) {
		char s[64];
		int n = snprintf(s, sizeof(s), "{\"seq\":%d}", i);
		assert_int_equal(tp_batch_append(&b, BATCH_SAMPLES, s, (size_t)n), 0);
	}
	cJSON_AddNumberToObject(counters, "polls", 3);
	json = tp_batch_serialize(&b, 42, "0.1.0", 1764324000123, 7, counters, &len);
	assert_non_null(json);
	assert_int_equal(strlen(json), len);
	assert_int_equal(proto_gzip(json, len, &gz, &gzlen), PROTO_OK);
	assert_true(gz[0] == 0x1f && gz[1] == 0x8b);   /* RFC 1952 */
	assert_int_equal(proto_gunzip(gz, gzlen, 1 << 20, &plain, &plen, why,
	    sizeof(why)), PROTO_OK);
	assert_int_equal(plen, len);
	assert_memory_equal(plain, json, len);
	/* bounded: a body that inflates past max is refused */
	assert_int_equal(proto_gunzip(gz, gzlen, len - 1, &a, &alen, why,
	    sizeof(why)), PROTO_TOO_BIG);
	assert_int_equal(proto_gunzip(gz, gzlen / 2, 1 << 20, &a, &alen, why,
	    sizeof(why)), PROTO_BAD);
	free(plain);
	free(gz);

	doc = cJSON_Parse(json);
	assert_non_null(doc);
	assert_int_equal(cJSON_GetObjectItem(doc, "batch_id")->valuedouble, 42);
	assert_int_equal(cJSON_GetObjectItem(doc, "created_ms")->valuedouble,
	    1764324000123.0);
	assert_int_equal(cJSON_GetObjectItem(doc, "dropped_samples")->valuedouble, 7);
	assert_string_equal(cJSON_GetObjectItem(doc, "agent_version")->valuestring,
	    "0.1.0");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "results")), 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "inventory")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "samples")), 5);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "counters"),
	    "polls")->valuedouble, 3);
	cJSON_Delete(doc);

	/* 6 items: 3 and 3, new ids, dropped_samples with the first half */
	assert_int_equal(tp_batch_split(json, len, 100, 101, &a, &alen, &as, &bb,
	    &blen, &bs), 0);
	assert_int_equal(as, 2);
	assert_int_equal(bs, 3);
	doc = cJSON_Parse(a);
	assert_int_equal(cJSON_GetObjectItem(doc, "batch_id")->valuedouble, 100);
	assert_int_equal(cJSON_GetObjectItem(doc, "dropped_samples")->valuedouble, 7);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "results")), 1);
	arr = cJSON_GetObjectItem(doc, "samples");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0),
	    "seq")->valuedouble, 0);
	cJSON_Delete(doc);
	doc = cJSON_Parse(bb);
	assert_int_equal(cJSON_GetObjectItem(doc, "batch_id")->valuedouble, 101);
	assert_int_equal(cJSON_GetObjectItem(doc, "dropped_samples")->valuedouble, 0);
	assert_string_equal(cJSON_GetObjectItem(doc, "agent_version")->valuestring,
	    "0.1.0");
	arr = cJSON_GetObjectItem(doc, "samples");
	assert_int_equal(cJSON_GetArraySize(arr), 3);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 2),
	    "seq")->valuedouble, 4);
	cJSON_Delete(doc);
	cJSON_free(bb);

	/* halves split again down to single items, which cannot */
	assert_int_equal(tp_batch_split(a, alen, 1, 2, &plain, &plen, &as, &bb,
	    &blen, &bs), 0);
	cJSON_free(a);
	free(json);
	assert_int_equal(tp_batch_split(plain, plen, 3, 4, &a, &alen, &as, &json,
	    &len, &bs), 1);
	cJSON_free(plain);
	cJSON_free(bb);
	assert_int_equal(tp_batch_split("not json", 8, 1, 2, &a, &alen, &as, &bb,
	    &blen, &bs), -1);

	tp_batch_reset(&b);
	assert_true(tp_batch_empty(&b));
	cJSON_Delete(counters);
}

/* A 413 split re-reads the batch: integers past 2^53 keep every digit. */
static void
batch_split_keeps_integers_exact(void **st)
{
	const char *json = "{\"batch_id\":5,\"samples\":["
	    "{\"rows\":{\"1\":[18446744073709551615]}},"
	    "{\"rows\":{\"1\":[9007199254740993]}}]}";
	char *a, *b;
	size_t alen, blen;
	uint32_t as, bs;

	assert_int_equal(tp_batch_split(json, strlen(json), 9007199254740990u,
	    9007199254740991u, &a, &alen, &as, &b, &blen, &bs), 0);
	assert_non_null(strstr(a, "\"batch_id\":9007199254740990"));
	assert_non_null(strstr(a, "[18446744073709551615]"));
	assert_non_null(strstr(b, "\"batch_id\":9007199254740991"));
	assert_non_null(strstr(b, "[9007199254740993]"));
	cJSON_free(a);
	cJSON_free(b);
}

/* An item with bytes that are not UTF-8 goes out repaired, so the hub
 * does not refuse the whole batch. */
static void
batch_items_go_out_as_valid_utf8(void **st)
{
	struct batch b = { 0 };
	const char *item = "{\"sys_descr\":\"\xb5Torrent\"}";
	char *json;
	size_t len;

	assert_int_equal(tp_batch_append(&b, BATCH_INVENTORY, item, strlen(item)), 0);
	json = tp_batch_serialize(&b, 1, "0.1.0", 1, 0, NULL, &len);
	assert_non_null(json);
	assert_true(utf8_valid(json, len, NULL));
	assert_non_null(strstr(json, "{\"sys_descr\":\"\xef\xbf\xbdTorrent\"}"));
	free(json);
	tp_batch_reset(&b);
}

/* ---- the transport object, no network ---- */

static void
opts_for(struct transport_opts *o, const char *url)
{
	static char spool[300];

	memset(o, 0, sizeof(*o));
	snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
	o->url = url;
	o->token = "tok-1";
	o->spool_dir = spool;
	o->backoff_base_ms = 100;
	o->backoff_cap_ms = 1000;
	o->batch_max_bytes = 4096;
	o->batch_max_age_ms = 50;
}

static void
plain_http_is_refused_unless_loopback_or_allowed(void **st)
{
	struct loop *l = loop_new();
	struct transport_opts o;
	struct transport *t;
	char err[256];
	static const char *const ok[] = {
		"http://127.0.0.1:8080", "http://localhost", "http://[::1]:9/",
		"http://127.2.3.4", "https://hub.example.com:8443",
		"https://hub.example.com/prefix/",
	};
	static const char *const refused[] = {
		"http://hub.example.com", "http://10.0.0.1:8080",
		"http://[::2]:80", "ftp://127.0.0.1", "hub.example.com:443",
		"https://user:pw@hub.example.com", "https://hub/?x=1", "",
	};

	for (size_t i = 0; i < countof(ok); i++) {
		opts_for(&o, ok[i]);
		t = transport_new(l, &o, NULL, NULL, err, sizeof(err));
		if (t == NULL)
			fail_msg("%s refused: %s", ok[i], err);
		transport_free(t);
	}
	for (size_t i = 0; i < countof(refused); i++) {
		opts_for(&o, refused[i]);
		err[0] = '\0';
		t = transport_new(l, &o, NULL, NULL, err, sizeof(err));
		if (t != NULL)
			fail_msg("%s accepted", refused[i]);
		assert_true(err[0] != '\0');
	}
	opts_for(&o, "http://hub.example.com");
	t = transport_new(l, &o, NULL, NULL, err, sizeof(err));
	assert_null(t);
	assert_non_null(strstr(err, "allow_insecure_http"));
	o.allow_insecure_http = true;
	t = transport_new(l, &o, NULL, NULL, err, sizeof(err));
	assert_non_null(t);
	transport_free(t);

	opts_for(&o, "https://hub.example.com");
	o.token = "has space";
	assert_null(transport_new(l, &o, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "token"));
	loop_free(l);
}

static int
count_batches(void)
{
	char path[300];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/spool", tmpdir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".batch") != NULL;
	closedir(d);
	return n;
}

static cJSON *
sample(int seq, size_t pad)
{
	cJSON *o = cJSON_CreateObject();
	char *p = malloc(pad + 1);

	memset(p, 'p', pad);
	p[pad] = '\0';
	cJSON_AddNumberToObject(o, "seq", seq);
	cJSON_AddStringToObject(o, "pad", p);
	free(p);
	return o;
}

static void
stop_loop(struct loop *l, struct loop_timer *tm, void *arg)
{
	loop_stop(l);
}

static void
batches_close_at_their_size_and_age_and_reach_the_spool_first(void **st)
{
	struct loop *l = loop_new();
	struct transport_opts o;
	struct transport_stats s;
	struct transport *t;
	struct loop_timer stop;
	char err[256];

	/* Not started: nothing is sent, the spool keeps everything. */
	opts_for(&o, "http://127.0.0.1:9");
	t = transport_new(l, &o, NULL, NULL, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(transport_add(t, "bogus", sample(0, 1)), -1);
	/* larger than a batch: refused, counted as dropped */
	assert_int_equal(transport_add(t, "samples", sample(0, 5000)), -1);
	/* 10 items of ~1 KiB in 4 KiB batches: closed by size */
	for (int i = 0; i < 10; i++)
		assert_int_equal(transport_add(t, "samples", sample(i, 1000)), 0);
	assert_true(count_batches() >= 3);
	/* the rest closes by age (batch_max_age 50 ms) */
	loop_timer_init(&stop, stop_loop, NULL);
	loop_timer_arm(l, &stop, 200);
	loop_run(l);
	assert_true(tp_batch_empty(&t->batch));
	transport_get_stats(t, &s);
	assert_int_equal(s.spool_files, (uint64_t)count_batches());
	assert_int_equal(s.dropped_samples, 1);
	assert_int_equal(s.batches_sent, 0);
	assert_int_equal(transport_add(t, "results", sample(99, 1)), 0);
	transport_set_counter(t, "devices", 12);
	assert_int_equal(transport_flush(t), 0);
	assert_int_equal(transport_flush(t), 0);   /* empty: nothing to do */
	transport_free(t);
	loop_free(l);
	assert_int_equal(count_batches(), (int)s.spool_files + 1);
}

static void
nothing_added_is_lost_at_shutdown(void **st)
{
	struct loop *l = loop_new();
	struct transport_opts o;
	struct transport *t;
	char err[256];
	int before;

	opts_for(&o, "http://127.0.0.1:9");
	o.batch_max_age_ms = 3600000;
	t = transport_new(l, &o, NULL, NULL, err, sizeof(err));
	assert_non_null(t);
	before = count_batches();
	assert_int_equal(transport_add(t, "inventory", sample(1, 10)), 0);
	transport_shutdown(t);
	assert_int_equal(count_batches(), before + 1);
	/* added after shutdown: closed by transport_free */
	assert_int_equal(transport_add(t, "samples", sample(2, 10)), 0);
	transport_free(t);
	assert_int_equal(count_batches(), before + 2);
	loop_free(l);
}

/* ---- the token file ---- */

static const char *
token_file(const char *content, unsigned mode)
{
	static char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", tmpdir);
	unlink(path);
	f = fopen(path, "w");
	fputs(content, f);
	fclose(f);
	assert_int_equal(unit_file_mode(path, mode), 0);
	return path;
}

static void
the_token_file_must_be_private_and_one_clean_line(void **st)
{
	char buf[TRANSPORT_TOKEN_MAX + 1], err[512];
	const char *p;

	p = token_file("s3cret-Token_1.x~\n", 0600);
	assert_int_equal(transport_read_token(p, buf, sizeof(buf), err,
	    sizeof(err)), 0);
	assert_string_equal(buf, "s3cret-Token_1.x~");
	p = token_file("tok\r\n\n  \t", 0400);
	assert_int_equal(transport_read_token(p, buf, sizeof(buf), err,
	    sizeof(err)), 0);
	assert_string_equal(buf, "tok");

	p = token_file("s3cret\n", 0644);
	assert_int_equal(transport_read_token(p, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, UNIT_SECRET_FIX));
	assert_null(strstr(err, "s3cret"));   /* never echoed */
	p = token_file("s3cret\n", 0640);
	assert_int_equal(transport_read_token(p, buf, sizeof(buf), err,
	    sizeof(err)), -1);

	p = token_file("two words\n", 0600);
	assert_int_equal(transport_read_token(p, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_null(strstr(err, "two words"));
	p = token_file("line1\nline2\n", 0600);
	assert_int_equal(transport_read_token(p, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	p = token_file("\n", 0600);
	assert_int_equal(transport_read_token(p, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	{
		char big[400];
		memset(big, 'a', 300);
		big[300] = '\0';
		p = token_file(big, 0600);
		assert_int_equal(transport_read_token(p, buf, sizeof(buf), err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "longer"));
	}
	assert_int_equal(transport_read_token("/nonexistent/token", buf,
	    sizeof(buf), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/token"));
	assert_int_equal(transport_read_token(tmpdir, buf, sizeof(buf), err,
	    sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_command_id_is_run_once_within_the_last_4096),
		cmocka_unit_test(valid_poll_responses_are_accepted),
		cmocka_unit_test(poll_responses_over_a_limit_or_broken_are_refused_whole),
		cmocka_unit_test(deep_nesting_many_commands_and_huge_commands_are_refused),
		cmocka_unit_test(ids_cursors_and_tokens_have_their_charsets),
		cmocka_unit_test(a_batch_serializes_gzips_and_splits_back),
		cmocka_unit_test(batch_split_keeps_integers_exact),
		cmocka_unit_test(batch_items_go_out_as_valid_utf8),
		cmocka_unit_test_setup_teardown(plain_http_is_refused_unless_loopback_or_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(batches_close_at_their_size_and_age_and_reach_the_spool_first, setup, teardown),
		cmocka_unit_test_setup_teardown(nothing_added_is_lost_at_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(the_token_file_must_be_private_and_one_clean_line, setup, teardown),
	};
	log_init("test_transport", LOG_LVL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
