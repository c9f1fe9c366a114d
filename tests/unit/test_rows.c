/*
 * Unit tests for agent/rows.c: the rows of a polled table, keyed by
 * instance. Big tables (100,000 rows) must come out complete, in
 * instance order, with every value where it was put; the row cap and
 * the memory limit must stop a table and say so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG 100000

static void
put_long(struct rows *rs, size_t col, const oid *inst, size_t len, long v,
    int want)
{
	assert_int_equal(rows_put(rs, col, inst, len, ASN_INTEGER, &v, sizeof(v)),
	    want);
}

static long
get_long(const struct rows *rs, size_t i, size_t col)
{
	unsigned char type;
	const void *val;
	size_t len;

	if (!rows_value(rs, i, col, &type, &val, &len))
		fail_msg("row %zu has no value in column %zu", i, col);
	assert_int_equal(type, ASN_INTEGER);
	assert_int_equal(len, sizeof(long));
	return *(const long *)val;
}

/* Columns arrive interleaved, each in instance order, as a GETBULK walk
 * brings them; a sparse column skips rows. */
static void
a_hundred_thousand_rows_come_out_whole_and_in_order(void **state)
{
	struct rows *rs = rows_new(3, BIG, ROWS_MAX_BYTES, NULL);

	(void)state;
	for (size_t i = 1; i <= BIG; i++) {
		/* Two-part instances: ifIndex-like first arc, then a sub-index. */
		oid inst[2] = { (oid)(i / 7 + 1), (oid)(i % 7) };
		put_long(rs, 0, inst, 2, (long)i, ROWS_OK);
		put_long(rs, 1, inst, 2, -(long)i, ROWS_OK);
		if (i % 3 == 0)
			put_long(rs, 2, inst, 2, (long)(i * 10), ROWS_OK);
	}
	assert_int_equal(rows_count(rs), BIG);
	assert_false(rows_truncated(rs));
	rows_sort(rs);
	for (size_t r = 0; r < BIG; r++) {
		const uint32_t *arcs;
		size_t len = rows_inst(rs, r, &arcs);
		/* Rows come back in instance order, which is i's order here. */
		size_t i = r + 1;
		unsigned char type;
		const void *val;
		size_t vlen;

		assert_int_equal(len, 2);
		assert_int_equal(arcs[0], i / 7 + 1);
		assert_int_equal(arcs[1], i % 7);
		assert_int_equal(get_long(rs, r, 0), (long)i);
		assert_int_equal(get_long(rs, r, 1), -(long)i);
		if (i % 3 == 0)
			assert_int_equal(get_long(rs, r, 2), (long)(i * 10));
		else
			assert_false(rows_value(rs, r, 2, &type, &val, &vlen));
	}
	rows_free(rs);
}

/* A column with rows the first one lacks: they land in order too. */
static void
rows_first_seen_late_are_sorted_in(void **state)
{
	struct rows *rs = rows_new(2, 2 * BIG, ROWS_MAX_BYTES, NULL);
	const uint32_t *arcs;

	(void)state;
	for (oid i = 2; i <= 2 * BIG; i += 2)
		put_long(rs, 0, &i, 1, (long)i, ROWS_OK);
	for (oid i = 1; i <= 2 * BIG; i += 2)
		put_long(rs, 1, &i, 1, (long)i, ROWS_OK);
	assert_int_equal(rows_count(rs), 2 * BIG);
	rows_sort(rs);
	for (size_t r = 0; r < 2 * BIG; r++) {
		assert_int_equal(rows_inst(rs, r, &arcs), 1);
		assert_int_equal(arcs[0], r + 1);
		assert_int_equal(get_long(rs, r, (r + 1) % 2 ? 1 : 0), (long)(r + 1));
	}
	rows_free(rs);
}

static void
the_row_cap_stops_new_rows_and_says_so(void **state)
{
	struct rows *rs = rows_new(2, 100, ROWS_MAX_BYTES, NULL);

	(void)state;
	for (oid i = 1; i <= 100; i++)
		put_long(rs, 0, &i, 1, 1, ROWS_OK);
	assert_false(rows_truncated(rs));
	oid more = 101;
	put_long(rs, 0, &more, 1, 1, ROWS_FULL);
	assert_true(rows_truncated(rs));
	/* Rows already there still take their other columns. */
	for (oid i = 1; i <= 100; i++)
		put_long(rs, 1, &i, 1, (long)i, ROWS_OK);
	put_long(rs, 1, &more, 1, 1, ROWS_FULL);
	assert_int_equal(rows_count(rs), 100);
	rows_sort(rs);
	assert_int_equal(get_long(rs, 99, 1), 100);
	rows_free(rs);
}

/* Strings up to 64 KiB each: memory, not the row count, ends the table. */
static void
the_memory_limit_stops_a_table_of_huge_values(void **state)
{
	static unsigned char big[65535];
	struct rows *rs = rows_new(1, BIG, (size_t)1 << 20, NULL);
	size_t ok = 0;

	(void)state;
	memset(big, 'x', sizeof(big));
	for (oid i = 1; i <= 1000; i++) {
		if (rows_put(rs, 0, &i, 1, ASN_OCTET_STR, big, sizeof(big)) != ROWS_OK)
			break;
		ok++;
	}
	assert_true(rows_truncated(rs));
	assert_true(ok >= 8 && ok < 16);   /* 1 MiB of 64 KiB values */
	assert_int_equal(rows_count(rs), ok);
	rows_free(rs);
}

/* Tables polled at once share the agent's budget, and give it back. */
static void
tables_share_one_budget_and_return_it(void **state)
{
	static unsigned char big[60000];
	struct rows_budget b = { 0, (size_t)1 << 20 };
	struct rows *one = rows_new(1, BIG, ROWS_MAX_BYTES, &b);
	struct rows *two = rows_new(1, BIG, ROWS_MAX_BYTES, &b);
	oid i;

	(void)state;
	for (i = 1; rows_put(one, 0, &i, 1, ASN_OCTET_STR, big, sizeof(big)) == ROWS_OK; i++)
		;
	assert_true(rows_truncated(one) && b.used <= b.max);
	assert_true(rows_count(one) >= 8);
	i = 1;
	assert_int_equal(rows_put(two, 0, &i, 1, ASN_OCTET_STR, big, sizeof(big)), ROWS_FULL);
	rows_free(one);
	assert_int_equal(rows_put(two, 0, &i, 1, ASN_OCTET_STR, big, sizeof(big)), ROWS_FULL);
	/* two is truncated for good; a new table gets the memory back. */
	rows_free(two);
	assert_int_equal(b.used, 0);
	two = rows_new(1, BIG, ROWS_MAX_BYTES, &b);
	assert_int_equal(rows_put(two, 0, &i, 1, ASN_OCTET_STR, big, sizeof(big)), ROWS_OK);
	assert_true(b.used > 0);
	rows_free(two);
	assert_int_equal(b.used, 0);
}

/* Values keep their type and bytes exactly (Counter64, strings, empty). */
static void
values_keep_type_and_bytes(void **state)
{
	struct rows *rs = rows_new(3, 10, ROWS_MAX_BYTES, NULL);
	struct counter64 c = { .high = 0xffffffffu, .low = 0xfffffffeu };
	static const char text[] = "eth0\xb5";
	oid inst[3] = { 10, 1, 4294967295u };
	unsigned char type;
	const void *val;
	size_t len;
	const uint32_t *arcs;

	(void)state;
	assert_int_equal(rows_put(rs, 0, inst, 3, ASN_COUNTER64, &c, sizeof(c)), ROWS_OK);
	assert_int_equal(rows_put(rs, 1, inst, 3, ASN_OCTET_STR, text, 5), ROWS_OK);
	assert_int_equal(rows_put(rs, 2, inst, 3, ASN_OCTET_STR, "", 0), ROWS_OK);
	rows_sort(rs);
	assert_int_equal(rows_inst(rs, 0, &arcs), 3);
	assert_int_equal(arcs[2], 4294967295u);
	assert_true(rows_value(rs, 0, 0, &type, &val, &len));
	assert_int_equal(type, ASN_COUNTER64);
	assert_memory_equal(val, &c, sizeof(c));
	assert_true(rows_value(rs, 0, 1, &type, &val, &len));
	assert_int_equal(len, 5);
	assert_memory_equal(val, text, 5);
	assert_true(rows_value(rs, 0, 2, &type, &val, &len));
	assert_int_equal(len, 0);
	/* Out of range columns and puts after the sort are refused. */
	assert_int_equal(rows_put(rs, 3, inst, 3, ASN_INTEGER, "", 0), ROWS_FULL);
	assert_int_equal(rows_put(rs, 0, inst, 3, ASN_INTEGER, "", 0), ROWS_FULL);
	rows_free(rs);
}

/* Every built-in profile has a name, a description and well-formed items. */
static void
builtin_profiles_are_well_formed(void **state)
{
	size_t n = 0;

	(void)state;
	for (const struct config_builtin_profile *p = config_builtin_profiles;
	    p->name; p++, n++) {
		assert_non_null(p->description);
		assert_ptr_equal(config_builtin_profile_find(p->name), p);
		for (const struct config_builtin_item *it = p->items; it->oid; it++) {
			oid o[MAX_OID_LEN];
			size_t len;
			char err[128];
			assert_int_equal(osnmp_oid_parse(it->oid, o, &len, err,
			    sizeof(err)), 0);
			assert_non_null(it->name);
			assert_true((it->kind == CFG_ITEM_SCALAR) == (it->table == NULL));
		}
	}
	assert_true(n >= 3);
	assert_null(config_builtin_profile_find("no-such-profile"));
	/* The default [poll] profiles are built-in ones. */
	struct config *cfg = config_new_defaults();
	assert_true(cfg->poll.profiles.count > 0);
	for (size_t i = 0; i < cfg->poll.profiles.count; i++)
		assert_non_null(config_builtin_profile_find(cfg->poll.profiles.items[i]));
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_hundred_thousand_rows_come_out_whole_and_in_order),
		cmocka_unit_test(rows_first_seen_late_are_sorted_in),
		cmocka_unit_test(the_row_cap_stops_new_rows_and_says_so),
		cmocka_unit_test(the_memory_limit_stops_a_table_of_huge_values),
		cmocka_unit_test(tables_share_one_budget_and_return_it),
		cmocka_unit_test(values_keep_type_and_bytes),
		cmocka_unit_test(builtin_profiles_are_well_formed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
