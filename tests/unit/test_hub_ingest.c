/*
 * The hub's defences against untrusted input (hub/ingest.c) and its
 * small helpers (hub/util.c): JSON trailing data and budgets, tokens,
 * names, times, bounded buffers. (Gzip caps, JSON depth and command
 * checks are protocol/'s: tests/unit/test_protocol.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub/hub_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void
json_parse_refuses_trailing_data_and_depth(void **st)
{
	char err[128], deep[200];
	cJSON *j;

	hub_json_init();
	assert_int_equal(hub_json_parse("{\"a\":1}  \n", 10, &j, err, sizeof(err)),
	    HUB_IN_OK);
	cJSON_Delete(j);
	assert_int_equal(hub_json_parse("{\"a\":1} x", 9, &j, err, sizeof(err)),
	    HUB_IN_BAD);
	assert_null(j);
	assert_int_equal(hub_json_parse("{\"a\":", 5, &j, err, sizeof(err)),
	    HUB_IN_BAD);
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	assert_int_equal(hub_json_parse(deep, 80, &j, err, sizeof(err)), HUB_IN_BAD);
	assert_non_null(strstr(err, "deeper"));
}

/* What the hub stores it serves: no batch with invalid UTF-8 gets in,
 * and the refusal says which batch and where. */
static void
json_parse_refuses_invalid_utf8_naming_batch_and_place(void **st)
{
	static const struct { const char *doc, *where; } bad[] = {
		{ "{\"batch_id\":42,\"samples\":[{\"rows\":{\"1\":[5,\"\xb5Torrent\"]}}]}",
		  "batch 42: invalid UTF-8 at byte 43 (in samples[0].rows.1[1])" },
		{ "{\"batch_id\":43,\"inventory\":[{\"sys_descr\":\"H[9:\xbbh\"}]}",
		  "batch 43: invalid UTF-8 at byte 46 (in inventory[0].sys_descr)" },
		{ "{\"batch_id\":44,\"results\":[{\"error\":\"\xed\xa0\x80\"}]}",
		  "batch 44: invalid UTF-8" },
		{ "{\"batch_id\":45,\"results\":[{\"error\":\"\xc0\xaf\"}]}",
		  "batch 45: invalid UTF-8" },
		{ "{\"batch_id\":46,\"results\":[{\"error\":\"\\ud800\"}]}",
		  "batch 46: invalid UTF-16 escape (unpaired high surrogate) at byte 36 "
		  "(in results[0].error)" },
		{ "{\"batch_id\":47,\"results\":[{\"error\":\"\\udfff\"}]}",
		  "batch 47: invalid UTF-16 escape (unpaired low surrogate)" },
		{ "{\"batch_id\":48,\"x\":\"a\x01\"}", "batch 48: control character" },
	};
	const char *doc;
	char err[256];
	cJSON *j = (cJSON *)1;
	struct hub_batch b;

	hub_json_init();
	for (size_t i = 0; i < countof(bad); i++) {
		assert_int_equal(hub_json_parse(bad[i].doc, strlen(bad[i].doc), &j,
		    err, sizeof(err)), HUB_IN_BAD);
		assert_null(j);
		if (strstr(err, bad[i].where) == NULL)
			fail_msg("%s: got '%s'", bad[i].where, err);
		/* The batch path (no tree of the whole) says the same. */
		assert_int_equal(hub_batch_scan(bad[i].doc, strlen(bad[i].doc), &b,
		    err, sizeof(err)), HUB_IN_BAD);
		if (strstr(err, bad[i].where) == NULL)
			fail_msg("scan: %s: got '%s'", bad[i].where, err);
	}
	/* Operators' commands too: the hub hands them to agents. */
	doc = "{\"type\":\"scan\",\"x\":\"\xff\"}";
	assert_int_equal(hub_json_parse(doc, strlen(doc), &j, err, sizeof(err)),
	    HUB_IN_BAD);
	assert_non_null(strstr(err, "invalid UTF-8"));
	/* Valid UTF-8 in any plane is fine. */
	doc = "[\"caf\xc3\xa9 \xf0\x9f\x98\x80\\ud83d\\ude00\"]";
	assert_int_equal(hub_json_parse(doc, strlen(doc), &j, err, sizeof(err)),
	    HUB_IN_OK);
	cJSON_Delete(j);
}

static void
json_integers_are_exact_to_2_64(void **st)
{
	const char *doc = "{\"batch_id\":9007199254740991,\"rows\":[0,4294967295,"
	    "9007199254740993,9223372036854775808,18446744073709551615]}";
	char err[128], *txt;
	int64_t id;
	cJSON *j;

	hub_json_init();
	assert_int_equal(hub_json_parse(doc, strlen(doc), &j, err, sizeof(err)),
	    HUB_IN_OK);
	assert_true(json_int_exact(cJSON_GetObjectItem(j, "batch_id"), 1,
	    (INT64_C(1) << 53) - 1, &id));
	assert_true(id == (INT64_C(1) << 53) - 1);
	txt = cJSON_PrintUnformatted(j);
	assert_string_equal(txt, doc);
	cJSON_free(txt);
	cJSON_Delete(j);
	/* Past the protocol's 2^53-1: refused, not rounded into range. */
	assert_int_equal(hub_json_parse("{\"batch_id\":9007199254740993}", 29, &j,
	    err, sizeof(err)), HUB_IN_OK);
	assert_false(json_int_exact(cJSON_GetObjectItem(j, "batch_id"), 1,
	    (INT64_C(1) << 53) - 1, &id));
	cJSON_Delete(j);
}

/* A batch is split, not parsed whole: its head members parsed (exact,
 * the first of duplicates), its arrays walked entry by entry; what is
 * not an object, or not a batch, is told apart as before. */
static void
batch_scan_splits_members_and_entries(void **st)
{
	const char *doc = " {\"x\":[1,{\"a\":\"]}\\\"\"}],\"sa\\u006dples\":"
	    "[0, {\"ts\":18446744073709551615} ,\"{]\",[{}],null,-1.5e3,"
	    "{\"a\":[\"}\",{}]},true]\n,"
	    "\"batch_id\":9007199254740991,\"batch_id\":2,\"results\":[],"
	    "\"counters\":{\"n\":1}} ";
	/* only the objects: the rest is skipped unparsed */
	static const char *const want[] = { "{\"ts\":18446744073709551615}",
	    "{\"a\":[\"}\",{}]}" };
	struct hub_span it, e;
	struct hub_batch b;
	char err[256];
	size_t n = 0;
	int64_t id;

	hub_json_init();
	assert_int_equal(hub_batch_scan(doc, strlen(doc), &b, err, sizeof(err)),
	    HUB_IN_OK);
	assert_true(b.batch_id == (INT64_C(1) << 53) - 1);
	assert_true(json_int_exact(cJSON_GetObjectItem(b.head, "batch_id"), 1,
	    INT64_MAX, &id));
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(b.head,
	    "counters"), "n")->valueint, 1);
	assert_int_equal(b.arr[0].n, 2);     /* results: [] */
	assert_int_equal(b.arr[1].n, 0);     /* no inventory */
	it = b.arr[2];
	while (hub_batch_next_object(&it, &e)) {
		assert_true(n < countof(want));
		assert_int_equal(e.n, strlen(want[n]));
		assert_memory_equal(e.p, want[n], e.n);
		n++;
	}
	assert_int_equal(n, countof(want));
	it = b.arr[0];
	assert_false(hub_batch_next_object(&it, &e));
	hub_batch_free(&b);
	/* Not a batch: the schema's own messages. */
	assert_int_equal(hub_batch_scan("[1]", 3, &b, err, sizeof(err)), HUB_IN_BAD);
	assert_non_null(strstr(err, "batch_id"));
	doc = "{\"batch_id\":3,\"samples\":{\"a\":1}}";
	assert_int_equal(hub_batch_scan(doc, strlen(doc), &b, err, sizeof(err)),
	    HUB_IN_BAD);
	assert_non_null(strstr(err, "must be arrays"));
	doc = "{\"batch_id\":3,\"samples\":[1] x";
	assert_int_equal(hub_batch_scan(doc, strlen(doc), &b, err, sizeof(err)),
	    HUB_IN_BAD);
	assert_non_null(strstr(err, "batch 3:"));
}

static void
tokens_are_random_base64url_and_hashed_with_sha256(void **st)
{
	static const unsigned char abc[HUB_HASH_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	unsigned char h[HUB_HASH_LEN];
	char a[64], b[64], id[33];

	hub_token_hash("abc", 3, h);
	assert_memory_equal(h, abc, HUB_HASH_LEN);
	assert_int_equal(hub_token_generate(a, sizeof(a)), 0);
	assert_int_equal(hub_token_generate(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), 43);
	assert_true(proto_token_valid(a, strlen(a)));
	assert_string_not_equal(a, b);
	assert_int_equal(hub_token_generate(a, 43), -1);
	assert_int_equal(hub_random_id(id), 0);
	assert_int_equal(strlen(id), 32);
	assert_true(hub_id_valid(id, HUB_ID_MAX));
	assert_false(proto_token_valid("", 0));
	assert_false(proto_token_valid("a b", 3));
	assert_true(proto_token_valid("A-z._~9", 7));
}

static void
names_and_ids_follow_the_protocol(void **st)
{
	char n63[64], n64[65];

	memset(n63, 'a', 63);
	n63[63] = '\0';
	memset(n64, 'a', 64);
	n64[64] = '\0';
	assert_true(hub_name_valid(n63));
	assert_false(hub_name_valid(n64));
	assert_true(hub_name_valid("site-1_a.b"));
	assert_false(hub_name_valid(""));
	assert_false(hub_name_valid("a/b"));
	assert_false(hub_name_valid("a~b"));
	assert_true(hub_id_valid(n64, HUB_ID_MAX));
}

static void
times_are_rfc3339_utc_with_milliseconds(void **st)
{
	char buf[40];

	hub_rfc3339(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	hub_rfc3339(1764324000123ull, buf, sizeof(buf));
	assert_string_equal(buf, "2025-11-28T10:00:00.123Z");
}

static void
devices_are_normalized_with_default_port(void **st)
{
	char out[300];

	assert_int_equal(hub_device_normalize("10.1.0.5", out, sizeof(out)), 0);
	assert_string_equal(out, "10.1.0.5:161");
	assert_int_equal(hub_device_normalize("10.1.0.5:1161", out, sizeof(out)), 0);
	assert_string_equal(out, "10.1.0.5:1161");
	assert_int_equal(hub_device_normalize("[::1]:162", out, sizeof(out)), 0);
	assert_string_equal(out, "[::1]:162");
	assert_int_equal(hub_device_normalize("::1", out, sizeof(out)), 0);
	assert_string_equal(out, "[::1]:161");
	assert_int_equal(hub_device_normalize("a b", out, sizeof(out)), -1);
	assert_int_equal(hub_device_normalize("h:0", out, sizeof(out)), -1);
}

static void
buffers_never_grow_past_their_maximum(void **st)
{
	struct hub_buf b;
	char *p;

	hub_buf_init(&b, 5);
	assert_int_equal(hub_buf_str(&b, "abc"), 0);
	assert_int_equal(hub_buf_str(&b, "def"), -1);
	assert_int_equal(b.len, 3);
	assert_int_equal(hub_buf_str(&b, "de"), 0);
	assert_string_equal(b.data, "abcde");
	assert_int_equal(hub_buf_add(&b, "", 0), 0);
	p = hub_buf_take(&b);
	assert_string_equal(p, "abcde");
	assert_null(b.data);
	free(p);
	hub_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_parse_refuses_trailing_data_and_depth),
		cmocka_unit_test(json_parse_refuses_invalid_utf8_naming_batch_and_place),
		cmocka_unit_test(json_integers_are_exact_to_2_64),
		cmocka_unit_test(batch_scan_splits_members_and_entries),
		cmocka_unit_test(tokens_are_random_base64url_and_hashed_with_sha256),
		cmocka_unit_test(names_and_ids_follow_the_protocol),
		cmocka_unit_test(times_are_rfc3339_utc_with_milliseconds),
		cmocka_unit_test(devices_are_normalized_with_default_port),
		cmocka_unit_test(buffers_never_grow_past_their_maximum),
	};

	log_init("test_hub_ingest", LOG_LVL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
