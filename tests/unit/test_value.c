/*
 * SNMP values as JSON (snmp/value.c) and the strict UTF-8 and exact JSON
 * helpers under it (core/utf8.c, core/json.c): text vs Hex-STRING,
 * integers exact at their edges, and JSON that a strict reader accepts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "snmp/snmp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const oid name[] = { 1, 3, 6, 1, 2, 1, 2, 2, 1, 6, 3 };   /* ifPhysAddress.3 */

static netsnmp_variable_list *
vb_new(u_char type, const void *val, size_t len)
{
	netsnmp_variable_list *vl = NULL;

	assert_non_null(snmp_varlist_add_variable(&vl, name, countof(name), type,
	    val, len));
	return vl;
}

/* {"type","value"} of a varbind as compact JSON text, in buf. */
static const char *
encode(u_char type, const void *val, size_t len, char *buf, size_t buflen)
{
	netsnmp_variable_list *vl = vb_new(type, val, len);
	const char *t;
	cJSON *v = osnmp_vb_json_value(vl, &t), *o = cJSON_CreateObject();
	char *s;

	assert_non_null(v);
	cJSON_AddStringToObject(o, "type", t);
	cJSON_AddItemToObject(o, "value", v);
	s = cJSON_PrintUnformatted(o);
	snprintf(buf, buflen, "%s", s);
	/* Whatever went in, the JSON is valid UTF-8. */
	assert_true(utf8_valid(s, strlen(s), NULL));
	cJSON_free(s);
	cJSON_Delete(o);
	snmp_free_varbind(vl);
	return buf;
}

#define STR(lit) ASN_OCTET_STR, (lit), sizeof(lit) - 1

static void
text_strings_stay_text(void **st)
{
	char b[512];

	assert_string_equal(encode(STR("sw-01"), b, sizeof(b)),
	    "{\"type\":\"STRING\",\"value\":\"sw-01\"}");
	assert_string_equal(encode(STR(""), b, sizeof(b)),
	    "{\"type\":\"STRING\",\"value\":\"\"}");
	/* UTF-8 of 2, 3 and 4 bytes; TAB, LF, CR and quotes are text. */
	assert_string_equal(encode(STR("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	    b, sizeof(b)),
	    "{\"type\":\"STRING\",\"value\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");
	assert_string_equal(encode(STR("a\tb\r\nc\"d"), b, sizeof(b)),
	    "{\"type\":\"STRING\",\"value\":\"a\\tb\\r\\nc\\\"d\"}");
	/* The largest code point. */
	assert_string_equal(encode(STR("\xf4\x8f\xbf\xbf"), b, sizeof(b)),
	    "{\"type\":\"STRING\",\"value\":\"\xf4\x8f\xbf\xbf\"}");
}

static void
bytes_become_hex_string(void **st)
{
	static const struct { const char *in; size_t len; const char *hex; } cases[] = {
		/* A MAC address that happens to be printable Latin-1 bytes. */
		{ "\x48\x5b\x39\x3a\xbb\x68", 6, "48 5B 39 3A BB 68" },
		{ "\xb5Torrent", 8, "B5 54 6F 72 72 65 6E 74" },   /* Latin-1 */
		{ "eth0\0", 5, "65 74 68 30 00" },                  /* trailing NUL */
		{ "a\0b", 3, "61 00 62" },
		{ "\xff\xfe", 2, "FF FE" },
		{ "\xc0\xaf", 2, "C0 AF" },                         /* overlong '/' */
		{ "\xe0\x80\xaf", 3, "E0 80 AF" },                  /* overlong, 3 bytes */
		{ "\xf0\x80\x80\xaf", 4, "F0 80 80 AF" },           /* overlong, 4 bytes */
		{ "\xed\xa0\x80", 3, "ED A0 80" },                  /* surrogate U+D800 */
		{ "\xed\xbf\xbf", 3, "ED BF BF" },                  /* surrogate U+DFFF */
		{ "\xf4\x90\x80\x80", 4, "F4 90 80 80" },           /* U+110000 */
		{ "\xe2\x82", 2, "E2 82" },                         /* truncated */
		{ "\x1b[0m", 4, "1B 5B 30 6D" },                    /* C0 control */
		{ "del\x7f", 4, "64 65 6C 7F" },                    /* DEL */
		{ "\xc2\x85", 2, "C2 85" },                         /* C1 control NEL */
	};
	char b[512], want[512];

	for (size_t i = 0; i < countof(cases); i++) {
		snprintf(want, sizeof(want), "{\"type\":\"Hex-STRING\",\"value\":\"%s\"}",
		    cases[i].hex);
		assert_string_equal(encode(ASN_OCTET_STR, cases[i].in, cases[i].len,
		    b, sizeof(b)), want);
	}
}

static void
long_strings_are_whole(void **st)
{
	u_char big[65535];
	netsnmp_variable_list *vl;
	const char *t;
	cJSON *v;

	memset(big, 0xab, sizeof(big));
	vl = vb_new(ASN_OCTET_STR, big, sizeof(big));
	v = osnmp_vb_json_value(vl, &t);
	assert_string_equal(t, "Hex-STRING");
	assert_int_equal(strlen(v->valuestring), 3 * sizeof(big) - 1);
	assert_string_equal(v->valuestring + 3 * sizeof(big) - 4, " AB");
	cJSON_Delete(v);
	snmp_free_varbind(vl);
	memset(big, 'x', sizeof(big));
	vl = vb_new(ASN_OCTET_STR, big, sizeof(big));
	v = osnmp_vb_json_value(vl, &t);
	assert_string_equal(t, "STRING");
	assert_int_equal(strlen(v->valuestring), sizeof(big));
	cJSON_Delete(v);
	snmp_free_varbind(vl);
}

static void
integers_are_exact_numbers(void **st)
{
	static const struct { uint32_t high, low; const char *out; } c64[] = {
		{ 0, 0, "0" },
		{ 0, 0xffffffffu, "4294967295" },                 /* 2^32-1 */
		{ 0x200000, 1, "9007199254740993" },              /* 2^53+1 */
		{ 0x80000000u, 0, "9223372036854775808" },        /* 2^63 */
		{ 0xffffffffu, 0xffffffffu, "18446744073709551615" },   /* 2^64-1 */
	};
	char b[256], want[256];

	for (size_t i = 0; i < countof(c64); i++) {
		struct counter64 c = { .high = c64[i].high, .low = c64[i].low };

		snprintf(want, sizeof(want), "{\"type\":\"Counter64\",\"value\":%s}",
		    c64[i].out);
		assert_string_equal(encode(ASN_COUNTER64, &c, sizeof(c), b, sizeof(b)),
		    want);
	}
	{
		long v = 4294967295;
		assert_string_equal(encode(ASN_COUNTER, &v, sizeof(v), b, sizeof(b)),
		    "{\"type\":\"Counter32\",\"value\":4294967295}");
		assert_string_equal(encode(ASN_GAUGE, &v, sizeof(v), b, sizeof(b)),
		    "{\"type\":\"Gauge32\",\"value\":4294967295}");
		assert_string_equal(encode(ASN_TIMETICKS, &v, sizeof(v), b, sizeof(b)),
		    "{\"type\":\"Timeticks\",\"value\":4294967295}");
		v = -2147483647 - 1;
		assert_string_equal(encode(ASN_INTEGER, &v, sizeof(v), b, sizeof(b)),
		    "{\"type\":\"INTEGER\",\"value\":-2147483648}");
		v = 0;
		assert_string_equal(encode(ASN_INTEGER, &v, sizeof(v), b, sizeof(b)),
		    "{\"type\":\"INTEGER\",\"value\":0}");
	}
}

static void
other_types_say_what_they_are(void **st)
{
	oid o[] = { 1, 3, 6, 1, 4, 1, 8072, 3, 2, 10 };
	u_char ip[] = { 10, 1, 0, 5 };
	u_char opq[] = { 0x9f, 0x78, 0x04, 0x3f, 0xc0, 0x00, 0x00 };
	char b[256];

	assert_string_equal(encode(ASN_OBJECT_ID, o, sizeof(o), b, sizeof(b)),
	    "{\"type\":\"OID\",\"value\":\".1.3.6.1.4.1.8072.3.2.10\"}");
	assert_string_equal(encode(ASN_IPADDRESS, ip, sizeof(ip), b, sizeof(b)),
	    "{\"type\":\"IpAddress\",\"value\":\"10.1.0.5\"}");
	assert_string_equal(encode(ASN_OPAQUE, opq, sizeof(opq), b, sizeof(b)),
	    "{\"type\":\"Opaque\",\"value\":\"9F 78 04 3F C0 00 00\"}");
#ifdef NETSNMP_WITH_OPAQUE_SPECIAL_TYPES
	{
		float f = 1.5f;
		double d = -0.25;
		struct counter64 big = { .high = 0xffffffffu, .low = 0xffffffffu };

		assert_string_equal(encode(ASN_OPAQUE_FLOAT, &f, sizeof(f), b, sizeof(b)),
		    "{\"type\":\"Float\",\"value\":1.5}");
		assert_string_equal(encode(ASN_OPAQUE_DOUBLE, &d, sizeof(d), b, sizeof(b)),
		    "{\"type\":\"Double\",\"value\":-0.25}");
		assert_string_equal(encode(ASN_OPAQUE_U64, &big, sizeof(big), b, sizeof(b)),
		    "{\"type\":\"Unsigned64\",\"value\":18446744073709551615}");
		assert_string_equal(encode(ASN_OPAQUE_I64, &big, sizeof(big), b, sizeof(b)),
		    "{\"type\":\"Integer64\",\"value\":-1}");
	}
#endif
	assert_string_equal(encode(ASN_NULL, NULL, 0, b, sizeof(b)),
	    "{\"type\":\"NULL\",\"value\":null}");
	assert_string_equal(encode(SNMP_NOSUCHINSTANCE, NULL, 0, b, sizeof(b)),
	    "{\"type\":\"noSuchInstance\",\"value\":null}");
	assert_string_equal(encode(SNMP_ENDOFMIBVIEW, NULL, 0, b, sizeof(b)),
	    "{\"type\":\"endOfMibView\",\"value\":null}");
}

/* Any bytes at all: the JSON is valid UTF-8 and gives the bytes back.
 * Inputs are runs of text and of bad pieces; a fixed seed, so a failure
 * repeats. */
static void
any_octets_round_trip(void **st)
{
	static const char *const pieces[] = {
		"A", "z", "\t", "\xc3\xa9", "\xf0\x9f\x98\x80", "\xed\x9f\xbf",
		"\xc2\xa0", "\xf4\x8f\xbf\xbf",
		"\x00", "\x1b", "\x7f", "\x80", "\xc0\xaf", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xff", "\xc2\x85", "\xe2\x82",
	};
	unsigned seed = 7, text = 0, hex = 0;

	for (int it = 0; it < 20000; it++) {
		u_char in[32], back[32];
		size_t n = 0, m = 0, k;
		netsnmp_variable_list *vl;
		const char *t, *p;
		cJSON *v;
		char *txt;

		seed = seed * 1103515245 + 12345;
		for (k = (seed >> 16) % 5; k > 0; k--) {
			seed = seed * 1103515245 + 12345;
			p = pieces[(seed >> 16) % countof(pieces)];
			memcpy(in + n, p, p[0] ? strlen(p) : 1);   /* "\x00" is one NUL */
			n += p[0] ? strlen(p) : 1;
		}
		vl = vb_new(ASN_OCTET_STR, in, n);
		v = osnmp_vb_json_value(vl, &t);
		txt = cJSON_PrintUnformatted(v);
		assert_true(utf8_valid(txt, strlen(txt), NULL));
		if (strcmp(t, "STRING") == 0) {
			text++;
			assert_int_equal(strlen(v->valuestring), n);
			assert_memory_equal(v->valuestring, in, n);
		} else {
			hex++;
			assert_string_equal(t, "Hex-STRING");
			for (p = v->valuestring; *p; p += p[2] ? 3 : 2)
				back[m++] = (u_char)strtoul((char[3]){ p[0], p[1], 0 }, NULL, 16);
			assert_int_equal(m, n);
			assert_memory_equal(back, in, n);
		}
		cJSON_free(txt);
		cJSON_Delete(v);
		snmp_free_varbind(vl);
	}
	assert_true(text > 1000 && hex > 1000);   /* both kinds were met */
}

static char *
cell(u_char type, const void *val, size_t len)
{
	netsnmp_variable_list *vl = vb_new(type, val, len);
	cJSON *c = osnmp_vb_json_cell(vl);
	char *s = cJSON_PrintUnformatted(c);

	cJSON_Delete(c);
	snmp_free_varbind(vl);
	return s;
}

static void
sample_cells_type_only_bytes(void **st)
{
	struct counter64 c = { .high = 0xffffffffu, .low = 0xffffffffu };
	char *s;

	s = cell(ASN_COUNTER64, &c, sizeof(c));
	assert_string_equal(s, "18446744073709551615");
	cJSON_free(s);
	s = cell(STR("Gi0/1"));
	assert_string_equal(s, "\"Gi0/1\"");
	cJSON_free(s);
	s = cell(ASN_OCTET_STR, "\x00\x1b\x21", 3);
	assert_string_equal(s, "{\"type\":\"Hex-STRING\",\"value\":\"00 1B 21\"}");
	cJSON_free(s);
	s = cell(SNMP_NOSUCHOBJECT, NULL, 0);
	assert_string_equal(s, "null");
	cJSON_free(s);
}

static void
varbind_objects_carry_oid_and_name(void **st)
{
	netsnmp_variable_list *vl = vb_new(ASN_OCTET_STR, "\x48\x5b\x39\x3a\xbb\x68", 6);
	cJSON *o = osnmp_vb_json(vl, true);
	char *s = cJSON_PrintUnformatted(o);

	assert_string_equal(s, "{\"oid\":\".1.3.6.1.2.1.2.2.1.6.3\","
	    "\"name\":\"ifPhysAddress.3\",\"type\":\"Hex-STRING\","
	    "\"value\":\"48 5B 39 3A BB 68\"}");
	cJSON_free(s);
	cJSON_Delete(o);
	o = osnmp_vb_json(vl, false);
	assert_null(cJSON_GetObjectItem(o, "name"));
	cJSON_Delete(o);
	snmp_free_varbind(vl);
}

static void
display_text_is_valid_utf8(void **st)
{
	char s[8];
	char buf[16];
	netsnmp_variable_list *vl;

	/* Latin-1 display text: each bad byte one U+FFFD. */
	snprintf(s, sizeof(s), "\xb5Tor");
	assert_int_equal(utf8_repair(s, sizeof(s)), 1);
	assert_string_equal(s, "\xef\xbf\xbdTor");
	/* Cut to the buffer at a character boundary, never mid-sequence. */
	snprintf(s, sizeof(s), "ab\xff\xff");
	assert_int_equal(utf8_repair(s, sizeof(s)), 2);
	assert_string_equal(s, "ab\xef\xbf\xbd");
	snprintf(s, sizeof(s), "ok");
	assert_int_equal(utf8_repair(s, sizeof(s)), 0);
	/* osnmp_vb_value (scan's sysDescr) cuts text on a boundary. */
	vl = vb_new(STR("abcdefghijklm\xc3\xa9xyz"));
	osnmp_vb_value(vl, buf, 15);
	assert_string_equal(buf, "abcdefghijklm");
	snmp_free_varbind(vl);
}

static void
utf8_is_strict(void **st)
{
	size_t bad = 99;

	assert_true(utf8_valid("", 0, NULL));
	assert_true(utf8_valid("\xed\x9f\xbf", 3, NULL));      /* U+D7FF */
	assert_true(utf8_valid("\xee\x80\x80", 3, NULL));      /* U+E000 */
	assert_false(utf8_valid("ab\xed\xa0\x80", 5, &bad));
	assert_int_equal(bad, 2);
	assert_false(utf8_valid("\xc1\xbf", 2, NULL));         /* overlong */
	assert_false(utf8_valid("\x80", 1, NULL));
	assert_false(utf8_valid("\xf5\x80\x80\x80", 4, NULL));
}

/* json_exact: refuse what a strict reader refuses, keep long integers. */
static int
exact(const char *txt, char **printed, char *err, size_t errlen)
{
	cJSON *j = json_parse_exact(txt, strlen(txt), err, errlen);

	if (j == NULL)
		return -1;
	*printed = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return 0;
}

static void
json_reads_integers_exactly(void **st)
{
	char err[256], *p = NULL;
	const char *doc = "{\"a\":[0,4294967295,9007199254740993,"
	    "9223372036854775808,18446744073709551615,-9223372036854775808,"
	    "123456789012345,1.5,-2e3]}";
	cJSON *j;
	int64_t v;

	assert_int_equal(exact(doc, &p, err, sizeof(err)), 0);
	assert_string_equal(p, "{\"a\":[0,4294967295,9007199254740993,"
	    "9223372036854775808,18446744073709551615,-9223372036854775808,"
	    "123456789012345,1.5,-2000]}");
	cJSON_free(p);
	doc = "[9007199254740991, 18446744073709551615, 7, 1.5]";
	j = json_parse_exact(doc, strlen(doc), err, sizeof(err));
	assert_non_null(j);
	assert_true(json_int_exact(cJSON_GetArrayItem(j, 0), 1,
	    (INT64_C(1) << 53) - 1, &v));
	assert_true(v == (INT64_C(1) << 53) - 1);
	assert_false(json_int_exact(cJSON_GetArrayItem(j, 1), 0, INT64_MAX, &v));
	assert_true(json_int_exact(cJSON_GetArrayItem(j, 2), 0, 10, &v));
	assert_int_equal(v, 7);
	assert_false(json_int_exact(cJSON_GetArrayItem(j, 3), 0, 10, &v));
	cJSON_Delete(j);
}

static void
json_refuses_invalid_text(void **st)
{
	static const struct { const char *doc, *msg; } bad[] = {
		{ "{\"s\":[\"ok\",\"\xb5Torrent\"]}", "invalid UTF-8 at byte 12 (in s[1])" },
		{ "[\"\xed\xa0\x80\"]", "invalid UTF-8" },
		{ "[\"\xc0\xaf\"]", "invalid UTF-8" },
		{ "{\"k\":\"\\ud800\"}", "unpaired high surrogate" },
		{ "{\"k\":\"\\udc00\"}", "unpaired low surrogate" },
		{ "[\"a\\u0000b\"]", "\\u0000" },
		{ "[\"a\x01\"]", "control character" },
		{ "[01]", "byte 2" },
		{ "[1.e5]", "invalid number" },
	};
	char err[256], *p = NULL;

	for (size_t i = 0; i < countof(bad); i++) {
		if (exact(bad[i].doc, &p, err, sizeof(err)) == 0) {
			cJSON_free(p);
			fail_msg("accepted: %s", bad[i].doc);
		}
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("%s: got '%s', want '%s'", bad[i].doc, err, bad[i].msg);
	}
	/* Escaped pairs are fine. */
	assert_int_equal(exact("[\"\\ud83d\\ude00\"]", &p, err, sizeof(err)), 0);
	cJSON_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_strings_stay_text),
		cmocka_unit_test(bytes_become_hex_string),
		cmocka_unit_test(long_strings_are_whole),
		cmocka_unit_test(any_octets_round_trip),
		cmocka_unit_test(integers_are_exact_numbers),
		cmocka_unit_test(other_types_say_what_they_are),
		cmocka_unit_test(sample_cells_type_only_bytes),
		cmocka_unit_test(varbind_objects_carry_oid_and_name),
		cmocka_unit_test(display_text_is_valid_utf8),
		cmocka_unit_test(utf8_is_strict),
		cmocka_unit_test(json_reads_integers_exactly),
		cmocka_unit_test(json_refuses_invalid_text),
	};

	setenv("SNMP_PERSISTENT_DIR", "/tmp", 0);
	osnmp_lib_init("outpost-test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
