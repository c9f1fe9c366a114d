/*
 * The notification decoder (snmp/trap_ber.c): real messages as net-snmp's
 * snmptrap encodes them, the RFC 3584 translation of v1 traps, the
 * Response to an inform, and hostile input (every truncation, lengths
 * that lie, too many varbinds) refused without reading past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "snmp/trap_int.h"

#include <stdlib.h>
#include <string.h>

/* snmptrap -v 2c -c public 127.0.0.1 4343 1.3.6.1.6.3.1.1.5.3
 *     1.3.6.1.2.1.2.2.1.1.2 i 2 */
static const uint8_t v2c_trap[] = {
	0x30, 0x55, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c',
	0xa7, 0x48, 0x02, 0x04, 0x12, 0x34, 0x56, 0x78, 0x02, 0x01, 0x00,
	0x02, 0x01, 0x00, 0x30, 0x3a,
	0x30, 0x0e, 0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 3, 0, 0x43, 0x02, 0x10, 0xf7,
	0x30, 0x17, 0x06, 0x0a, 0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0,
	0x06, 0x09, 0x2b, 6, 1, 6, 3, 1, 1, 5, 3,
	0x30, 0x0f, 0x06, 0x0a, 0x2b, 6, 1, 2, 1, 2, 2, 1, 1, 2, 0x02, 0x01, 0x02,
};

/* v1: enterprise 1.3.6.1.4.1.8072.3.2.10, agent 127.0.0.9, 6/17, 4242 */
static const uint8_t v1_trap[] = {
	0x30, 0x2b, 0x02, 0x01, 0x00, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c',
	0xa4, 0x1e, 0x06, 0x0a, 0x2b, 6, 1, 4, 1, 0xbf, 0x08, 3, 2, 10,
	0x40, 0x04, 127, 0, 0, 9, 0x02, 0x01, 0x06, 0x02, 0x01, 0x11,
	0x43, 0x02, 0x10, 0x92, 0x30, 0x00,
};

struct fx {
	struct trap_decoded d;
	struct trap_msg m;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->d.vbs = calloc(OSNMP_TRAP_MAX_VARBINDS, sizeof(*f->d.vbs));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	free(f->d.vbs);
	free(f);
	return 0;
}

static enum trap_verdict
decode(struct fx *f, const uint8_t *p, size_t n)
{
	enum trap_verdict v;

	memset(&f->d.n, 0, sizeof(f->d.n));
	if ((v = trap_parse_msg(p, n, &f->m)) != TRAP_OK)
		return v;
	return trap_parse_pdu(&f->m, &f->d);
}

static void
test_v2c_trap(void **state)
{
	struct fx *f = *state;
	static const oid linkdown[] = { 1, 3, 6, 1, 6, 3, 1, 1, 5, 3 };

	assert_int_equal(decode(f, v2c_trap, sizeof(v2c_trap)), TRAP_OK);
	assert_int_equal(f->d.n.version, CFG_SNMP_V2C);
	assert_false(f->d.n.inform);
	assert_int_equal(f->d.n.uptime, 4343);
	assert_int_equal(f->d.n.trap_oid_len, 10);
	assert_memory_equal(f->d.n.trap_oid, linkdown, sizeof(linkdown));
	assert_int_equal(f->d.n.nvbs, 1);   /* sysUpTime and snmpTrapOID apart */
	assert_int_equal(f->d.n.vbs->type, ASN_INTEGER);
	assert_int_equal(*f->d.n.vbs->val.integer, 2);
	assert_int_equal(f->m.community.end - f->m.community.p, 6);
}

static void
test_v1_translated(void **state)
{
	struct fx *f = *state;
	static const oid want[] = { 1, 3, 6, 1, 4, 1, 8072, 3, 2, 10, 0, 17 };

	assert_int_equal(decode(f, v1_trap, sizeof(v1_trap)), TRAP_OK);
	assert_int_equal(f->d.n.version, CFG_SNMP_V1);
	assert_string_equal(f->d.n.agent_addr, "127.0.0.9");
	assert_int_equal(f->d.n.generic, 6);
	assert_int_equal(f->d.n.specific, 17);
	assert_int_equal(f->d.n.uptime, 4242);
	assert_int_equal(f->d.n.trap_oid_len, countof(want));
	assert_memory_equal(f->d.n.trap_oid, want, sizeof(want));
	assert_int_equal(f->d.n.nvbs, 0);
}

static void
test_v1_generic(void **state)
{
	struct fx *f = *state;
	uint8_t m[sizeof(v1_trap)];
	static const oid linkup[] = { 1, 3, 6, 1, 6, 3, 1, 1, 5, 4 };

	memcpy(m, v1_trap, sizeof(m));
	m[35] = 3;   /* generic linkUp: snmpTraps.4 (RFC 3584 3.1) */
	assert_int_equal(decode(f, m, sizeof(m)), TRAP_OK);
	assert_int_equal(f->d.n.trap_oid_len, countof(linkup));
	assert_memory_equal(f->d.n.trap_oid, linkup, sizeof(linkup));
}

static void
test_inform_response(void **state)
{
	struct fx *f = *state;
	uint8_t m[sizeof(v2c_trap)], out[512];
	struct trap_msg r;
	size_t n;

	memcpy(m, v2c_trap, sizeof(m));
	m[13] = TRAP_PDU_INFORM;
	assert_int_equal(decode(f, m, sizeof(m)), TRAP_OK);
	assert_true(f->d.n.inform);
	n = trap_response_v2c(&f->m, out, sizeof(out));
	/* the same message but a Response with the request's id */
	assert_int_equal(n, sizeof(m));
	assert_int_equal(trap_parse_msg(out, n, &r), TRAP_OK);
	assert_int_equal(r.pdu_type, TRAP_PDU_RESPONSE);
	assert_memory_equal(out + 14, m + 14, sizeof(m) - 14);
}

/* Every prefix and every corrupted length octet: refused or decoded,
 * never a read past the buffer (ASan watches the heap copy). */
static void
test_hostile(void **state)
{
	struct fx *f = *state;

	for (size_t n = 0; n < sizeof(v2c_trap); n++) {
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, v2c_trap, n);
		assert_int_not_equal(decode(f, p, n), TRAP_OK);
		free(p);
	}
	for (size_t i = 0; i < sizeof(v2c_trap); i++) {
		for (int delta = -2; delta <= 2; delta += 4) {
			uint8_t *p = malloc(sizeof(v2c_trap));
			memcpy(p, v2c_trap, sizeof(v2c_trap));
			p[i] = (uint8_t)(p[i] + delta);
			(void)decode(f, p, sizeof(v2c_trap));
			free(p);
		}
	}
	/* a length that claims 4 GiB */
	static const uint8_t huge[] = { 0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01 };
	assert_int_equal(decode(f, huge, sizeof(huge)), TRAP_MALFORMED);
	/* v2 PDUs are not v1 (RFC 3584 4.1.2) */
	uint8_t v1v2[sizeof(v2c_trap)];
	memcpy(v1v2, v2c_trap, sizeof(v1v2));
	v1v2[4] = 0;
	assert_int_equal(decode(f, v1v2, sizeof(v1v2)), TRAP_MALFORMED);
}

/* More varbinds than OSNMP_TRAP_MAX_VARBINDS: refused, not truncated. */
static void
test_too_many_varbinds(void **state)
{
	struct fx *f = *state;
	size_t nvb = OSNMP_TRAP_MAX_VARBINDS + 1, vbl = 16 + 25 + nvb * 7;
	size_t cap = vbl + 64, n = 0;
	uint8_t *p = malloc(cap);
	static const uint8_t head_vbs[] = {
		0x30, 0x0e, 0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 3, 0, 0x43, 0x02, 0x10, 0xf7,
		0x30, 0x17, 0x06, 0x0a, 0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0,
		0x06, 0x09, 0x2b, 6, 1, 6, 3, 1, 1, 5, 3,
	};
	size_t pdu = 9 + 4 + vbl, msg = 3 + 8 + 4 + pdu;

	p[n++] = 0x30; p[n++] = 0x82; p[n++] = (uint8_t)(msg >> 8); p[n++] = (uint8_t)msg;
	memcpy(p + n, (uint8_t[]){ 2, 1, 1, 4, 6, 'p', 'u', 'b', 'l', 'i', 'c' }, 11);
	n += 11;
	p[n++] = 0xa7; p[n++] = 0x82; p[n++] = (uint8_t)(pdu >> 8); p[n++] = (uint8_t)pdu;
	memcpy(p + n, (uint8_t[]){ 2, 1, 1, 2, 1, 0, 2, 1, 0 }, 9);
	n += 9;
	p[n++] = 0x30; p[n++] = 0x82; p[n++] = (uint8_t)(vbl >> 8); p[n++] = (uint8_t)vbl;
	memcpy(p + n, head_vbs, sizeof(head_vbs));
	n += sizeof(head_vbs);
	for (size_t i = 0; i < nvb; i++) {
		memcpy(p + n, (uint8_t[]){ 0x30, 5, 6, 1, 0x2b, 5, 0 }, 7);
		n += 7;
	}
	assert_int_equal(decode(f, p, n), TRAP_MALFORMED);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v2c_trap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_translated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_generic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inform_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_varbinds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
