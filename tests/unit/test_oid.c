/* OID parsing, naming and value formatting (snmp/oid.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "snmp/snmp.h"

static void
numeric_oids_parse_with_or_without_leading_dot(void **st)
{
	oid o[MAX_OID_LEN];
	size_t len;
	char err[256];

	assert_int_equal(osnmp_oid_parse("1.3.6.1.2.1.1.5.0", o, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 9);
	assert_int_equal(o[7], 5);
	assert_int_equal(osnmp_oid_parse(".1.3.6.1.2.1.1.5.0", o, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 9);
	assert_int_equal(osnmp_oid_parse("1.3.6.1.4.1.4294967295", o, &len, err, sizeof(err)), 0);
	assert_int_equal(o[6], 4294967295u);
}

static void
malformed_oids_are_refused_with_a_message(void **st)
{
	static const char *bad[] = {
		"", ".", "1", "1..3", "1.3.", "1.3.x", "1.3.6.1.4.1.4294967296",
		"-1.3", "1.3 .6", "sysNme.0", "sysName.x", "1.3.6.1+2",
		"1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1"
		".1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1"
		".1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1"
		".1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1",
	};
	oid o[MAX_OID_LEN];
	size_t len;
	char err[256];

	for (size_t i = 0; i < countof(bad); i++) {
		err[0] = '\0';
		assert_int_equal(osnmp_oid_parse(bad[i], o, &len, err, sizeof(err)), -1);
		assert_true(strlen(err) > 10);
	}
}

static void
builtin_names_resolve_to_numeric_oids(void **st)
{
	oid o[MAX_OID_LEN], want[] = { 1, 3, 6, 1, 2, 1, 1, 5, 0 };
	oid hc[] = { 1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 3 };
	size_t len;
	char err[256];

	assert_int_equal(osnmp_oid_parse("sysName.0", o, &len, err, sizeof(err)), 0);
	assert_int_equal(snmp_oid_compare(o, len, want, countof(want)), 0);
	assert_int_equal(osnmp_oid_parse("ifHCInOctets.3", o, &len, err, sizeof(err)), 0);
	assert_int_equal(snmp_oid_compare(o, len, hc, countof(hc)), 0);
}

static void
oids_display_with_the_longest_known_name(void **st)
{
	oid a[] = { 1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 7 };
	oid b[] = { 1, 3, 6, 1, 4, 1, 9 };
	char buf[256];

	assert_string_equal(osnmp_oid_name(a, countof(a), buf, sizeof(buf)), "ifInOctets.7");
	assert_null(osnmp_oid_name(b, countof(b), buf, sizeof(buf)));
	osnmp_oid_str(b, countof(b), buf, sizeof(buf));
	assert_string_equal(buf, ".1.3.6.1.4.1.9");
}

static void
values_format_like_net_snmp_tools(void **st)
{
	oid name[] = { 1, 3, 6, 1, 2, 1, 1, 5, 0 };
	netsnmp_variable_list *vl = NULL;
	char buf[256];

	snmp_varlist_add_variable(&vl, name, countof(name), ASN_OCTET_STR, "dev-2", 5);
	assert_string_equal(osnmp_vb_line(vl), ".1.3.6.1.2.1.1.5.0 = STRING: \"dev-2\"");
	assert_int_equal(osnmp_vb_value(vl, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "dev-2");
	assert_string_equal(osnmp_vb_type(vl), "STRING");
	snmp_free_varbind(vl);
	vl = NULL;
	{
		u_char bin[] = { 0x00, 0x1b, 0xff };
		snmp_varlist_add_variable(&vl, name, countof(name), ASN_OCTET_STR, bin, 3);
		osnmp_vb_value(vl, buf, sizeof(buf));
		assert_string_equal(buf, "00 1B FF");
		snmp_free_varbind(vl);
		vl = NULL;
	}
	{
		/* A MAC address of bytes above 0x7f only: Hex-STRING whatever
		 * the C runtime's isprint() says of them (Windows' did not). */
		u_char mac[] = { 0x52, 0xb2, 0xe9, 0x41, 0xc7, 0xa0 };
		snmp_varlist_add_variable(&vl, name, countof(name), ASN_OCTET_STR, mac, 6);
		assert_string_equal(osnmp_vb_line(vl),
		    ".1.3.6.1.2.1.1.5.0 = Hex-STRING: 52 B2 E9 41 C7 A0 ");
		snmp_free_varbind(vl);
		vl = NULL;
		snmp_varlist_add_variable(&vl, name, countof(name), ASN_OCTET_STR,
		    "a\tb \"c\"", 7);
		assert_string_equal(osnmp_vb_line(vl),
		    ".1.3.6.1.2.1.1.5.0 = STRING: \"a\tb \\\"c\\\"\"");
		snmp_free_varbind(vl);
		vl = NULL;
	}
	{
		struct counter64 c = { .high = 1, .low = 5 };
		snmp_varlist_add_variable(&vl, name, countof(name), ASN_COUNTER64, &c, sizeof(c));
		osnmp_vb_value(vl, buf, sizeof(buf));
		assert_string_equal(buf, "4294967301");
		assert_string_equal(osnmp_vb_type(vl), "Counter64");
		snmp_free_varbind(vl);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numeric_oids_parse_with_or_without_leading_dot),
		cmocka_unit_test(malformed_oids_are_refused_with_a_message),
		cmocka_unit_test(builtin_names_resolve_to_numeric_oids),
		cmocka_unit_test(oids_display_with_the_longest_known_name),
		cmocka_unit_test(values_format_like_net_snmp_tools),
	};

	setenv("SNMP_PERSISTENT_DIR", "/tmp", 0);
	osnmp_lib_init("outpost-test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
