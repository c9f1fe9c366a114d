/*
 * protocol/: the limits against docs/protocol.md, every command type
 * (valid, and each way to be invalid), OID syntax, gzip with a maximum
 * (a bomb stops at the maximum), JSON depth, the batch schema, tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "protocol/protocol.h"
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tests/unit/unit_util.h"

/* gzip (RFC 1952) of len bytes of data, malloc'd. */
static unsigned char *
gz(const void *data, size_t len, size_t *outlen)
{
	z_stream zs;
	size_t cap = compressBound((uLong)len) + 64;
	unsigned char *out = malloc(cap);

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)(uintptr_t)data;
	zs.avail_in = (unsigned)len;
	zs.next_out = out;
	zs.avail_out = (unsigned)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static void
gzip_bodies_inflate_exactly(void **st)
{
	const char *doc = "{\"batch_id\": 1}";
	size_t n, outlen;
	unsigned char *z = gz(doc, strlen(doc), &n);
	char err[128], *out;

	assert_int_equal(proto_gunzip(z, n, 1024, &out, &outlen, err, sizeof(err)),
	    PROTO_OK);
	assert_int_equal(outlen, strlen(doc));
	assert_string_equal(out, doc);
	free(out);
	/* Two members concatenated are one body (RFC 1952 2.2). */
	unsigned char *two = malloc(2 * n);
	memcpy(two, z, n);
	memcpy(two + n, z, n);
	assert_int_equal(proto_gunzip(two, 2 * n, 1024, &out, &outlen, err,
	    sizeof(err)), PROTO_OK);
	assert_int_equal(outlen, 2 * strlen(doc));
	free(out);
	free(two);
	free(z);
}

static void
zip_bomb_stops_at_the_cap(void **st)
{
	size_t big = 4u << 20, n, outlen;
	char *zeros = calloc(1, big), err[128], *out = (char *)1;
	unsigned char *z = gz(zeros, big, &n);

	assert_true(n < 16384);
	assert_int_equal(proto_gunzip(z, n, (1u << 20), &out, &outlen, err,
	    sizeof(err)), PROTO_TOO_BIG);
	assert_null(out);
	assert_non_null(strstr(err, "inflates to more than"));
	/* Exactly at the cap is fine. */
	assert_int_equal(proto_gunzip(z, n, big, &out, &outlen, err, sizeof(err)),
	    PROTO_OK);
	assert_int_equal(outlen, big);
	free(out);
	free(z);
	free(zeros);
}

static void
corrupt_or_truncated_gzip_is_bad_request(void **st)
{
	const char *doc = "{\"batch_id\": 1, \"results\": []}";
	size_t n, outlen;
	unsigned char *z = gz(doc, strlen(doc), &n);
	char err[128], *out;

	assert_int_equal(proto_gunzip("not gzip at all", 15, 1024, &out, &outlen, err,
	    sizeof(err)), PROTO_BAD);
	assert_int_equal(proto_gunzip(z, n - 5, 1024, &out, &outlen, err, sizeof(err)),
	    PROTO_BAD);
	assert_int_equal(proto_gunzip(z, 3, 1024, &out, &outlen, err, sizeof(err)),
	    PROTO_BAD);
	z[n - 2] ^= 0xff;   /* length in the trailer */
	assert_int_equal(proto_gunzip(z, n, 1024, &out, &outlen, err, sizeof(err)),
	    PROTO_BAD);
	free(z);
}

static void
json_depth_counts_only_structure(void **st)
{
	char deep[80];

	memset(deep, '[', 32);
	memset(deep + 32, ']', 32);
	assert_int_equal(proto_json_depth(deep, 64, 32), 32);
	assert_true(proto_json_depth(deep, 64, 31) > 31);
	assert_int_equal(proto_json_depth("{\"a\": \"[[[[[[\"}", 15, 1), 1);
	assert_int_equal(proto_json_depth("[\"\\\"[[[[\"]", 10, 1), 1);
	snprintf(deep, sizeof(deep), "%s", "[[[[");
	assert_true(proto_json_depth(deep, 4, 3) > 3);
}


/* A gzip bomb: n zero bytes deflated as a stream (never n in memory). */
static unsigned char *
gz_zeros(size_t n, size_t *outlen)
{
	static unsigned char zeros[1 << 16];
	size_t cap = n / 512 + 4096, left = n;
	unsigned char *out = malloc(cap);
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9,
	    Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_out = out;
	zs.avail_out = (unsigned)cap;
	do {
		size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
		zs.next_in = zeros;
		zs.avail_in = (unsigned)k;
		left -= k;
		rc = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
		assert_true(rc == Z_OK || rc == Z_STREAM_END);
		assert_true(zs.avail_out > 0);
	} while (left > 0 || rc != Z_STREAM_END);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static void
a_gzip_bomb_stops_at_the_maximum(void **st)
{
	size_t n, outlen = 7;
	unsigned char *z = gz_zeros(60u << 20, &n);   /* 60 MiB of zeros */
	char err[128], *out = (char *)1;

	/* The upload: about 61 KB on the wire. */
	assert_true(n < 80 * 1024);
	assert_int_equal(proto_gunzip(z, n, 1u << 20, &out, &outlen, err,
	    sizeof(err)), PROTO_TOO_BIG);
	assert_null(out);
	assert_int_equal(outlen, 0);
	assert_non_null(strstr(err, "more than 1048576 bytes"));
	free(z);
	/* And at the protocol's own maximum, one byte over. */
	z = gz_zeros(PROTO_UPLOAD_MAX_JSON + 1, &n);
	assert_int_equal(proto_gunzip(z, n, PROTO_UPLOAD_MAX_JSON, &out, &outlen,
	    err, sizeof(err)), PROTO_TOO_BIG);
	assert_null(out);
	free(z);
}

static void
gzip_round_trips(void **st)
{
	const char *doc = "{\"batch_id\": 3, \"samples\": []}";
	unsigned char *z;
	size_t n, outlen;
	char err[64], *out;

	assert_int_equal(proto_gzip(doc, strlen(doc), &z, &n), PROTO_OK);
	assert_true(z[0] == 0x1f && z[1] == 0x8b);
	assert_int_equal(proto_gunzip(z, n, strlen(doc), &out, &outlen, err,
	    sizeof(err)), PROTO_OK);
	assert_string_equal(out, doc);
	free(out);
	free(z);
	/* Empty input is an empty, NUL-terminated body. */
	assert_int_equal(proto_gzip("", 0, &z, &n), PROTO_OK);
	assert_int_equal(proto_gunzip(z, n, 10, &out, &outlen, err, sizeof(err)),
	    PROTO_OK);
	assert_int_equal(outlen, 0);
	assert_string_equal(out, "");
	free(out);
	free(z);
}

/* ---- limits: docs/protocol.md's table says the same numbers ---- */

static char *
read_doc(void)
{
	FILE *f = fopen("docs/protocol.md", "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
doc_row(const char *doc, const char *fmt, ...)
{
	char row[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(row, sizeof(row), fmt, ap);
	va_end(ap);
	if (strstr(doc, row) == NULL)
		fail_msg("docs/protocol.md has no row \"%s\"", row);
}

static void
the_doc_states_the_limits_of_protocol_h(void **st)
{
	char *doc = read_doc();

	doc_row(doc, "| batch upload, gzip body | %u MiB |", PROTO_UPLOAD_MAX_WIRE >> 20);
	doc_row(doc, "| batch upload, inflated | %u MiB |", PROTO_UPLOAD_MAX_JSON >> 20);
	doc_row(doc, "| poll response body, compressed | %u MiB |", PROTO_POLL_MAX_WIRE >> 20);
	doc_row(doc, "| poll response body, decompressed | %u MiB |",
	    PROTO_POLL_MAX_DECODED >> 20);
	doc_row(doc, "| commands per poll response | %d |", PROTO_POLL_MAX_COMMANDS);
	doc_row(doc, "| one command object | %u KiB |", PROTO_COMMAND_MAX_BYTES >> 10);
	doc_row(doc, "| JSON nesting depth | %d |", PROTO_JSON_MAX_DEPTH);
	doc_row(doc, "| token | 1-%d characters of `A-Za-z0-9._~-` |", PROTO_TOKEN_MAX);
	doc_row(doc, "| `context` | 0-%d characters |", PROTO_CONTEXT_MAX);
	doc_row(doc, "| `timeout_ms` | 1-%d |", PROTO_TIMEOUT_MAX_MS);
	doc_row(doc, "| `snmp.get` `oids` | 1-%d |", PROTO_GET_MAX_OIDS);
	doc_row(doc, "| `snmp.set` `varbinds` | 1-%d |", PROTO_SET_MAX_VARBINDS);
	doc_row(doc, "| `snmp.walk` `max_varbinds` | 1-%d (default %d) |",
	    PROTO_WALK_MAX_VARBINDS, PROTO_WALK_DEFAULT_VARBINDS);
	doc_row(doc, "| `scan` `networks` | 1-%d |", PROTO_SCAN_MAX_NETWORKS);
	doc_row(doc, "| `scan` `credentials` | 0-%d |", PROTO_SCAN_MAX_CREDENTIALS);
	doc_row(doc, "| OID | 2-%d parts, at most %d bytes |", PROTO_OID_MAX_ARCS,
	    PROTO_OID_MAX_LEN);
	/* The set type letters, as the table's row says them. */
	doc_row(doc, "type one of `i u c s x d n o t a`");
	assert_string_equal(PROTO_SET_TYPES, "iucsxdnota");
	/* Every command type is in the doc's command table. */
	for (int i = 0; i < PROTO_CMD_COUNT; i++)
		doc_row(doc, "| `%s` |", proto_commands[i].name);
	free(doc);
}

/* ---- commands ---- */

static void
check(const char *json, bool ok, const char *needle)
{
	char err[256] = "";
	cJSON *c = cJSON_Parse(json);
	int rc;

	if (c == NULL)
		fail_msg("test JSON does not parse: %s", json);
	rc = proto_command_check(c, err, sizeof(err));
	if ((rc >= 0) != ok)
		fail_msg("%s: expected %s, got %s", json, ok ? "valid" : "invalid",
		    rc >= 0 ? "valid" : err);
	if (!ok && needle != NULL && strstr(err, needle) == NULL)
		fail_msg("%s: reason \"%s\" does not say \"%s\"", json, err, needle);
	cJSON_Delete(c);
}

#define GET(args) "{\"type\":\"snmp.get\",\"target\":\"10.0.0.1\"," \
	"\"credential\":\"lab\",\"args\":" args "}"
#define SET(vb) "{\"type\":\"snmp.set\",\"target\":\"10.0.0.1\"," \
	"\"credential\":\"lab\",\"args\":{\"varbinds\":[" vb "]}}"

static void
envelope_rules_hold_for_every_type(void **st)
{
	check("{\"type\":\"shell\"}", false, "\"type\" must be one of");
	check("{\"type\":7}", false, "\"type\"");
	check("[]", false, "JSON object");
	check("{\"type\":\"agent.info\",\"id\":\"a b\"}", false, "\"id\"");
	check("{\"type\":\"agent.info\",\"id\":\"c1-x.y_z\"}", true, NULL);
	check("{\"type\":\"agent.info\",\"timeout_ms\":0}", false, "timeout_ms");
	check("{\"type\":\"agent.info\",\"timeout_ms\":1.5}", false, "timeout_ms");
	check("{\"type\":\"agent.info\",\"timeout_ms\":86400001}", false, "timeout_ms");
	check("{\"type\":\"agent.info\",\"timeout_ms\":86400000}", true, NULL);
	check("{\"type\":\"agent.info\",\"args\":[]}", false, "\"args\"");
	/* SNMP: target and credential required; context bounded. */
	check("{\"type\":\"snmp.get\",\"credential\":\"lab\",\"args\":{\"oids\":"
	    "[\"1.3\"]}}", false, "\"target\" is missing");
	check("{\"type\":\"snmp.get\",\"target\":\"h:99999\",\"credential\":\"lab\","
	    "\"args\":{\"oids\":[\"1.3\"]}}", false, "\"target\"");
	check("{\"type\":\"snmp.get\",\"target\":\"10.0.0.1\",\"args\":{\"oids\":"
	    "[\"1.3\"]}}", false, "missing credential");
	check("{\"type\":\"snmp.get\",\"target\":\"10.0.0.1\",\"credential\":"
	    "\"bad name\",\"args\":{\"oids\":[\"1.3\"]}}", false, "\"credential\"");
	check("{\"type\":\"snmp.get\",\"target\":\"10.0.0.1\",\"credential\":"
	    "{\"version\":\"2c\",\"community\":\"public\"},\"args\":{\"oids\":[\"1.3\"]}}",
	    true, NULL);
	check("{\"type\":\"snmp.get\",\"target\":\"10.0.0.1\",\"credential\":"
	    "{\"community\":7},\"args\":{\"oids\":[\"1.3\"]}}", false, "community");
	/* A secret at the top level: refused, whatever else is right. */
	check("{\"type\":\"snmp.get\",\"target\":\"10.0.0.1\",\"credential\":\"lab\","
	    "\"community\":\"x\",\"args\":{\"oids\":[\"1.3\"]}}", false,
	    "inline credentials");
	check("{\"type\":\"agent.info\",\"priv_password\":\"x\"}", false,
	    "\"priv_password\" at the top level");
	check(GET("{\"oids\":[\"1.3\"]}") , true, NULL);
	check("{\"type\":\"snmp.get\",\"target\":\"10.0.0.1\",\"credential\":\"lab\","
	    "\"context\":\"ctx\",\"args\":{\"oids\":[\"1.3\"]}}", true, NULL);
	check("{\"type\":\"snmp.get\",\"target\":\"10.0.0.1\",\"credential\":\"lab\","
	    "\"context\":\"123456789012345678901234567890123\",\"args\":{\"oids\":"
	    "[\"1.3\"]}}", false, "\"context\"");
	check("{\"type\":\"agent.info\",\"context\":\"c\"}", false, "snmp.*");
}

static void
snmp_get_needs_1_to_128_oids(void **st)
{
	char big[8192];
	size_t o;

	check(GET("{\"oids\":[\"1.3.6.1.2.1.1.5.0\",\".1.3.6.1\",\"sysName.0\","
	    "\"ifDescr\"]}"), true, NULL);
	check(GET("{\"oids\":[]}"), false, "1-128 OIDs");
	check(GET("{}"), false, "needs args.oids");
	check(GET("{\"oids\":\"1.3\"}"), false, "array");
	check(GET("{\"oids\":[\"not an oid\"]}"), false, "oid 0: bad OID 'not an oid'");
	check(GET("{\"oids\":[\"1.3\",\"1..3\"]}"), false, "oid 1: bad OID");
	check(GET("{\"oids\":[7]}"), false, "not a string");
	o = (size_t)snprintf(big, sizeof(big), "%s", GET("{\"oids\":["));
	big[--o] = '\0';   /* the macro's closing "}" */
	for (int i = 0; i <= PROTO_GET_MAX_OIDS; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s\"1.3.%d\"",
		    i ? "," : "", i);
	snprintf(big + o, sizeof(big) - o, "]}}");
	check(big, false, "1-128 OIDs");
}

static void
snmp_walk_needs_an_oid_and_bounded_max_varbinds(void **st)
{
	check("{\"type\":\"snmp.walk\",\"target\":\"[::1]:161\",\"credential\":\"lab\","
	    "\"args\":{\"oid\":\"1.3.6.1.2.1.2\",\"max_varbinds\":100000}}", true, NULL);
	check("{\"type\":\"snmp.walk\",\"target\":\"h\",\"credential\":\"lab\","
	    "\"args\":{}}", false, "needs args.oid");
	check("{\"type\":\"snmp.walk\",\"target\":\"h\",\"credential\":\"lab\","
	    "\"args\":{\"oid\":\"1.3\",\"max_varbinds\":100001}}", false,
	    "max_varbinds must be an integer, 1-100000");
	check("{\"type\":\"snmp.walk\",\"target\":\"h\",\"credential\":\"lab\","
	    "\"args\":{\"oid\":\"1.3\",\"max_varbinds\":0}}", false, "max_varbinds");
	check("{\"type\":\"snmp.walk\",\"target\":\"h\",\"credential\":\"lab\","
	    "\"args\":{\"oid\":\"3.1\"}}", false, "first part");
}

static void
snmp_set_needs_typed_varbinds(void **st)
{
	check(SET("{\"oid\":\"1.3.6.1.2.1.1.6.0\",\"type\":\"s\",\"value\":\"x\"}"),
	    true, NULL);
	for (const char *t = PROTO_SET_TYPES; *t; t++) {
		char j[200];
		snprintf(j, sizeof(j), SET("{\"oid\":\"1.3\",\"type\":\"%c\","
		    "\"value\":\"1\"}"), *t);
		check(j, true, NULL);
	}
	/* `b` (BITS) is not in docs/protocol.md: the hub and agent agree. */
	check(SET("{\"oid\":\"1.3\",\"type\":\"b\",\"value\":\"1\"}"), false,
	    "type (one of");
	check(SET("{\"oid\":\"1.3\",\"type\":\"Q\",\"value\":\"x\"}"), false, "type");
	check(SET("{\"oid\":\"1.3\",\"type\":\"s\",\"value\":1}"), false, "value");
	check(SET("{\"oid\":\"1.3\",\"type\":\"s\"}"), false, "value");
	check(SET("{\"oid\":\"x y\",\"type\":\"s\",\"value\":\"v\"}"), false, "bad OID");
	check(SET(""), false, "1-128");
}

static void
scan_poll_now_and_agent_info_have_their_schemas(void **st)
{
	char big[4096];
	size_t o;

	check("{\"type\":\"scan\",\"args\":{\"networks\":[\"10.0.0.0/24\"],"
	    "\"credentials\":[\"lab\",\"lab-v3\"],\"port\":1161}}", true, NULL);
	check("{\"type\":\"scan\",\"args\":{}}", false, "needs args.networks");
	check("{\"type\":\"scan\",\"args\":{\"networks\":[\"\"]}}", false, "network");
	check("{\"type\":\"scan\",\"args\":{\"networks\":[\"10.0.0.1\"],"
	    "\"port\":0}}", false, "args.port");
	check("{\"type\":\"scan\",\"args\":{\"networks\":[\"10.0.0.1\"],"
	    "\"credentials\":[\"a b\"]}}", false, "credential name");
	o = (size_t)snprintf(big, sizeof(big), "{\"type\":\"scan\",\"args\":{"
	    "\"networks\":[");
	for (int i = 0; i <= PROTO_SCAN_MAX_NETWORKS; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s\"10.0.%d.0/24\"",
		    i ? "," : "", i);
	snprintf(big + o, sizeof(big) - o, "]}}");
	check(big, false, "1-64 networks");
	check("{\"type\":\"poll.now\"}", true, NULL);
	check("{\"type\":\"poll.now\",\"args\":{\"device\":\"10.0.0.1:161\","
	    "\"profile\":\"interfaces\"}}", true, NULL);
	check("{\"type\":\"poll.now\",\"args\":{\"device\":7}}", false, "args.device");
	check("{\"type\":\"poll.now\",\"args\":{\"profile\":3}}", false, "args.profile");
	check("{\"type\":\"agent.info\"}", true, NULL);
	/* Every row can be found by its name, and names are unique. */
	for (int i = 0; i < PROTO_CMD_COUNT; i++)
		assert_int_equal(proto_command_find(proto_commands[i].name), i);
	assert_int_equal(proto_command_find("snmp.bulk"), -1);
}

static void
oids_are_checked_without_net_snmp(void **st)
{
	static const char *const good[] = {
		"1.3", ".1.3.6.1.2.1.1.5.0", "0.39", "2.999.1", "1.3.4294967295",
		"sysName", "sysName.0", "mib-2.1", "ifHCInOctets.3",
	};
	static const char *const bad[] = {
		"", "1", "1..3", "1.3.", ".", "3.1", "1.40", "1.3.4294967296",
		"not an oid", "1.3.a", "sysName.", "sysName.x", "sys Name",
		"-1.3", "1.3 ", "é.1",
	};
	char err[160], many[2048];
	size_t o = 0;

	for (size_t i = 0; i < countof(good); i++)
		if (!proto_oid_check(good[i], err, sizeof(err)))
			fail_msg("'%s' refused: %s", good[i], err);
	for (size_t i = 0; i < countof(bad); i++)
		if (proto_oid_check(bad[i], err, sizeof(err)))
			fail_msg("'%s' accepted", bad[i]);
	for (int i = 0; i < PROTO_OID_MAX_ARCS; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%s1", i ? "." : "");
	assert_true(proto_oid_check(many, err, sizeof(err)));
	snprintf(many + o, sizeof(many) - o, ".1");
	assert_false(proto_oid_check(many, err, sizeof(err)));
	/* A walk root may be one arc, as in `snmpbulkwalk HOST 1`. */
	assert_true(proto_oid_root_check("1", err, sizeof(err)));
	assert_true(proto_oid_root_check(".2", err, sizeof(err)));
	assert_true(proto_oid_root_check("1.3.6", err, sizeof(err)));
	assert_false(proto_oid_root_check("3", err, sizeof(err)));
	assert_false(proto_oid_root_check("1.40", err, sizeof(err)));
	assert_false(proto_oid_root_check("", err, sizeof(err)));
	assert_false(proto_oid_root_check("1.", err, sizeof(err)));
}

/* ---- batches and tokens ---- */

static void
batches_have_an_id_and_arrays(void **st)
{
	static const struct { const char *json; bool ok; } cases[] = {
		{ "{\"batch_id\":1,\"results\":[],\"samples\":null}", true },
		{ "{\"batch_id\":999999999999999}", true },
		{ "{\"batch_id\":0}", false },
		{ "{\"batch_id\":1.5}", false },
		{ "{\"batch_id\":\"1\"}", false },
		{ "{\"batch_id\":1,\"inventory\":{}}", false },
		{ "[1]", false },
	};
	char err[128];
	int64_t id;

	for (size_t i = 0; i < countof(cases); i++) {
		cJSON *j = cJSON_Parse(cases[i].json);
		int rc = proto_batch_check(j, &id, err, sizeof(err));
		if ((rc == PROTO_OK) != cases[i].ok)
			fail_msg("%s: %s", cases[i].json, rc == PROTO_OK ? "accepted" : err);
		cJSON_Delete(j);
	}
}

static void
tokens_are_checked_and_read_from_private_files(void **st)
{
	char tok[PROTO_TOKEN_MAX + 2], dir[256], path[300];
	char buf[PROTO_TOKEN_MAX + 1], err[1024];
	FILE *f;

	memset(tok, 'a', PROTO_TOKEN_MAX + 1);
	assert_true(proto_token_valid(tok, PROTO_TOKEN_MAX));
	assert_false(proto_token_valid(tok, PROTO_TOKEN_MAX + 1));
	assert_true(proto_token_valid("A-z._~9", 7));
	assert_false(proto_token_valid("a/b", 3));
	assert_false(proto_token_valid("caf\xc3\xa9", 5));
	assert_int_equal(unit_tmpdir(dir, sizeof(dir), "token"), 0);
	snprintf(path, sizeof(path), "%s/token", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fputs("s3cret-Token\n", f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(unit_file_mode(path, 0600), 0);
	assert_int_equal(proto_token_read(path, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_string_equal(buf, "s3cret-Token");
	assert_int_equal(unit_file_mode(path, 0640), 0);
	assert_int_equal(proto_token_read(path, buf, sizeof(buf), err, sizeof(err)), -1);
	assert_non_null(strstr(err, UNIT_SECRET_FIX));
	assert_null(strstr(err, "s3cret"));
	assert_int_equal(unit_rmtree(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_doc_states_the_limits_of_protocol_h),
		cmocka_unit_test(envelope_rules_hold_for_every_type),
		cmocka_unit_test(snmp_get_needs_1_to_128_oids),
		cmocka_unit_test(snmp_walk_needs_an_oid_and_bounded_max_varbinds),
		cmocka_unit_test(snmp_set_needs_typed_varbinds),
		cmocka_unit_test(scan_poll_now_and_agent_info_have_their_schemas),
		cmocka_unit_test(oids_are_checked_without_net_snmp),
		cmocka_unit_test(gzip_bodies_inflate_exactly),
		cmocka_unit_test(zip_bomb_stops_at_the_cap),
		cmocka_unit_test(corrupt_or_truncated_gzip_is_bad_request),
		cmocka_unit_test(a_gzip_bomb_stops_at_the_maximum),
		cmocka_unit_test(gzip_round_trips),
		cmocka_unit_test(json_depth_counts_only_structure),
		cmocka_unit_test(batches_have_an_id_and_arrays),
		cmocka_unit_test(tokens_are_checked_and_read_from_private_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
