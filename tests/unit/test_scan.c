/*
 * The scanner's pieces without a network (snmp/scan_ber.c, scan_table.c,
 * scan_addr.c): probe encoding byte for byte, the reply reader on good,
 * cut and hostile input, the in-flight table's request ids, and the
 * merging of targets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "snmp/scan_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- a tiny BER writer for building replies in tests ------------------ */

struct w {
	uint8_t b[2048];
	size_t  n;
};

static void
put(struct w *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

/* tag + length + content, content given as another writer */
static void
tlv(struct w *w, uint8_t tag, const struct w *c)
{
	uint8_t h[4] = { tag };
	size_t hn = 2;

	if (c->n < 0x80) {
		h[1] = (uint8_t)c->n;
	} else if (c->n < 0x100) {
		h[1] = 0x81;
		h[2] = (uint8_t)c->n;
		hn = 3;
	} else {
		h[1] = 0x82;
		h[2] = (uint8_t)(c->n >> 8);
		h[3] = (uint8_t)c->n;
		hn = 4;
	}
	put(w, h, hn);
	put(w, c->b, c->n);
}

static void
raw(struct w *w, uint8_t tag, const void *p, size_t n)
{
	struct w c = { .n = 0 };

	put(&c, p, n);
	tlv(w, tag, &c);
}

static void
integer(struct w *w, int64_t v)
{
	uint8_t b[8];
	int n = 8;

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	/* minimal: drop leading octets that only repeat the sign */
	int k = 0;
	while (k < 7 && ((b[k] == 0 && !(b[k + 1] & 0x80)) ||
	    (b[k] == 0xff && (b[k + 1] & 0x80))))
		k++;
	n -= k;
	raw(w, 0x02, b + k, (size_t)n);
}

static const uint8_t SYS[] = { 0x2b, 6, 1, 2, 1, 1 };

static void
varbind(struct w *vbl, uint8_t arc, uint8_t tag, const void *val, size_t len)
{
	struct w vb = { .n = 0 }, name = { .n = 0 };

	put(&name, SYS, sizeof(SYS));
	put(&name, (uint8_t[]){ arc, 0 }, 2);
	tlv(&vb, 0x06, &name);
	raw(&vb, tag, val, len);
	tlv(vbl, 0x30, &vb);
}

/* A GetResponse as snmpd would send it. */
static size_t
response(uint8_t *out, int version, const char *community, int64_t reqid,
    uint8_t pdu_tag)
{
	struct w msg = { .n = 0 }, all = { .n = 0 }, pdu = { .n = 0 }, vbl = { .n = 0 };
	static const uint8_t objid[] = { 0x2b, 6, 1, 4, 1, 0xbf, 0x08, 3, 2, 10 };

	varbind(&vbl, 1, 0x04, "Linux box", 9);
	varbind(&vbl, 2, 0x06, objid, sizeof(objid));
	varbind(&vbl, 3, 0x43, (uint8_t[]){ 0x00, 0xff, 0x00, 0x00, 0x01 }, 5);
	varbind(&vbl, 5, 0x04, "sw-1", 4);
	integer(&pdu, reqid);
	integer(&pdu, 0);
	integer(&pdu, 0);
	tlv(&pdu, 0x30, &vbl);
	integer(&msg, version);
	raw(&msg, 0x04, community, strlen(community));
	tlv(&msg, pdu_tag, &pdu);
	tlv(&all, 0x30, &msg);
	memcpy(out, all.b, all.n);
	return all.n;
}

/* ---- probes ----------------------------------------------------------- */

static void
test_tpl_v2c_bytes(void **state)
{
	struct scan_tpl t;
	uint8_t out[SCAN_TPL_MAX];
	static const uint8_t want_head[] = { 0x30, 0x53, 0x02, 1, 1, 0x04, 6,
	    'p', 'u', 'b', 'l', 'i', 'c', 0xa0, 0x46, 0x02, 4, 0x4a, 0x0b, 0x0c,
	    0x0d, 0x02, 1, 0, 0x02, 1, 0, 0x30, 0x38 };
	static const uint8_t arcs[] = { 1, 2, 3, 5 };

	assert_int_equal(scan_tpl_community(&t, 1, "public", 6), 0);
	assert_int_equal(t.len, 0x55);
	scan_tpl_write(&t, 0x4a0b0c0d, out);
	assert_memory_equal(out, want_head, sizeof(want_head));
	for (int i = 0; i < 4; i++) {
		const uint8_t vb[] = { 0x30, 12, 0x06, 8, 0x2b, 6, 1, 2, 1, 1,
		    arcs[i], 0, 0x05, 0 };
		assert_memory_equal(out + sizeof(want_head) + 14 * i, vb, sizeof(vb));
	}
	/* The probe's own id is what an ICMP error quoting it gives back. */
	assert_int_equal(scan_probe_reqid(out, t.len), 0x4a0b0c0d);
}

static void
test_tpl_long_community(void **state)
{
	struct scan_tpl t;
	char comm[SCAN_COMMUNITY_MAX + 1];
	uint8_t out[SCAN_TPL_MAX];
	struct scan_reply r;

	memset(comm, 'k', sizeof(comm));
	assert_int_equal(scan_tpl_community(&t, 0, comm, SCAN_COMMUNITY_MAX), 0);
	scan_tpl_write(&t, 0x7fffffff, out);
	/* 0x30 0x82 LEN LEN: a two-octet length */
	assert_int_equal(out[0], 0x30);
	assert_int_equal(out[1], 0x82);
	assert_int_equal(((size_t)out[2] << 8 | out[3]) + 4, t.len);
	assert_int_equal(scan_reply_parse(out, t.len, &r), 0);
	assert_int_equal(r.version, 0);
	assert_int_equal(r.community_len, SCAN_COMMUNITY_MAX);
	assert_int_equal(r.pdu_type, 0xa0);
	assert_int_equal(r.reqid, 0x7fffffff);
	/* too long, or a version that is not v1/v2c */
	assert_int_equal(scan_tpl_community(&t, 0, comm, SCAN_COMMUNITY_MAX + 1), -1);
	assert_int_equal(scan_tpl_community(&t, 3, "public", 6), -1);
}

static void
test_tpl_v3_discovery(void **state)
{
	struct scan_tpl t;
	uint8_t out[SCAN_TPL_MAX];
	struct scan_reply r;
	/* RFC 3412 msgGlobalData: msgID, msgMaxSize, msgFlags (reportable),
	 * msgSecurityModel (USM) */
	static const uint8_t global[] = { 0x30, 17, 0x02, 4, 0x41, 0x42, 0x43, 0x44,
	    0x02, 3, 0x00, 0xff, 0xe3, 0x04, 1, 0x04, 0x02, 1, 3 };

	scan_tpl_v3_discovery(&t);
	scan_tpl_write(&t, 0x41424344, out);
	assert_int_equal(out[0], 0x30);
	assert_int_equal(out[1] + 2, t.len);
	assert_memory_equal(out + 2, ((uint8_t[]){ 0x02, 1, 3 }), 3);
	assert_memory_equal(out + 5, global, sizeof(global));
	assert_int_equal(scan_reply_parse(out, t.len, &r), 0);
	assert_int_equal(r.version, 3);
	assert_int_equal(r.msgid, 0x41424344);
	assert_int_equal(scan_probe_reqid(out, t.len), 0x41424344);
	/* the request id inside the scoped PDU is the same */
	assert_memory_equal(out + t.reqid_off, ((uint8_t[]){ 0x41, 0x42, 0x43, 0x44 }), 4);
}

/* ---- replies ---------------------------------------------------------- */

static void
test_reply_parse(void **state)
{
	uint8_t buf[512];
	size_t n = response(buf, 1, "public", 0x40000123, 0xa2);
	struct scan_reply r;
	uint32_t sub[32], ticks;

	assert_int_equal(scan_reply_parse(buf, n, &r), 0);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.community_len, 6);
	assert_memory_equal(r.community, "public", 6);
	assert_int_equal(r.pdu_type, 0xa2);
	assert_int_equal(r.reqid, 0x40000123);
	assert_int_equal(r.error_status, 0);
	assert_int_equal(r.vb[SCAN_VB_DESCR].tag, 0x04);
	assert_int_equal(r.vb[SCAN_VB_DESCR].len, 9);
	assert_memory_equal(r.vb[SCAN_VB_DESCR].val, "Linux box", 9);
	assert_int_equal(r.vb[SCAN_VB_NAME].tag, 0x04);
	assert_memory_equal(r.vb[SCAN_VB_NAME].val, "sw-1", 4);
	assert_int_equal(r.vb[SCAN_VB_OBJECT_ID].tag, 0x06);
	assert_int_equal(scan_oid_decode(r.vb[SCAN_VB_OBJECT_ID].val,
	    r.vb[SCAN_VB_OBJECT_ID].len, sub, 32), 10);
	assert_int_equal(sub[0], 1);
	assert_int_equal(sub[6], 8072);
	assert_int_equal(sub[9], 10);
	assert_int_equal(r.vb[SCAN_VB_UPTIME].tag, 0x43);
	assert_int_equal(scan_uint32_decode(r.vb[SCAN_VB_UPTIME].val,
	    r.vb[SCAN_VB_UPTIME].len, &ticks), 0);
	assert_int_equal(ticks, 0xff000001u);
}

/* Every prefix of a good reply, in a buffer of exactly that size (so
 * ASan sees any read past it), is refused. */
static void
test_reply_truncated(void **state)
{
	uint8_t buf[512];
	size_t n = response(buf, 1, "public", 0x40000001, 0xa2);
	struct scan_reply r;

	for (size_t k = 0; k < n; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		memcpy(cut, buf, k);
		assert_int_equal(scan_reply_parse(cut, k, &r), -1);
		free(cut);
	}
}

static void
test_reply_hostile(void **state)
{
	uint8_t buf[512], *m;
	size_t n = response(buf, 1, "public", 0x40000001, 0xa2);
	struct scan_reply r;
	static const uint8_t huge[] = { 0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 1, 1 };
	static const uint8_t indefinite[] = { 0x30, 0x80, 0x02, 1, 1, 0, 0 };
	static const uint8_t five_octets[] = { 0x30, 0x85, 0, 0, 0, 0, 3, 2, 1, 1 };
	static const uint8_t long_tag[] = { 0x30, 5, 0x1f, 0x81, 0x01, 1, 1 };
	static const uint8_t big_int[] = { 0x30, 11, 0x02, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const uint8_t empty_int[] = { 0x30, 2, 0x02, 0 };
	static const uint8_t version9[] = { 0x30, 3, 0x02, 1, 9 };

	assert_int_equal(scan_reply_parse(huge, sizeof(huge), &r), -1);
	assert_int_equal(scan_reply_parse(indefinite, sizeof(indefinite), &r), -1);
	assert_int_equal(scan_reply_parse(five_octets, sizeof(five_octets), &r), -1);
	assert_int_equal(scan_reply_parse(long_tag, sizeof(long_tag), &r), -1);
	assert_int_equal(scan_reply_parse(big_int, sizeof(big_int), &r), -1);
	assert_int_equal(scan_reply_parse(empty_int, sizeof(empty_int), &r), -1);
	assert_int_equal(scan_reply_parse(version9, sizeof(version9), &r), -1);
	assert_int_equal(scan_reply_parse(buf, 0, &r), -1);

	/* An inner length that runs past its parent (the PDU claims one
	 * octet more than the message holds). */
	m = malloc(n);
	memcpy(m, buf, n);
	m[14]++;   /* the PDU's length octet: 0x30 L 02 01 01 04 06 public a2 L */
	assert_int_equal(m[13], 0xa2);
	assert_int_equal(scan_reply_parse(m, n, &r), -1);
	free(m);

	/* Flip every bit of a good reply in turn: never a crash; and with
	 * ASan, never a read outside the message. */
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 8; b++) {
			m = malloc(n);
			memcpy(m, buf, n);
			m[i] ^= (uint8_t)(1u << b);
			(void)scan_reply_parse(m, n, &r);
			free(m);
		}
	/* Random bytes after a plausible start. */
	srand(1);
	for (int k = 0; k < 20000; k++) {
		size_t len = 2 + (size_t)rand() % 200;
		m = malloc(len);
		for (size_t i = 0; i < len; i++)
			m[i] = (uint8_t)rand();
		m[0] = 0x30;
		(void)scan_reply_parse(m, len, &r);
		(void)scan_probe_reqid(m, len);
		free(m);
	}
}

static void
test_reply_unknown_and_repeated_vars(void **state)
{
	struct w msg = { .n = 0 }, all = { .n = 0 }, pdu = { .n = 0 }, vbl = { .n = 0 };
	struct scan_reply r;

	varbind(&vbl, 9, 0x04, "other", 5);            /* 1.3.6.1.2.1.1.9.0: ignored */
	varbind(&vbl, 5, 0x04, "first", 5);
	varbind(&vbl, 5, 0x04, "second", 6);           /* only the first counts */
	varbind(&vbl, 1, 0x80, "", 0);                 /* noSuchObject */
	integer(&pdu, 0x40000002);
	integer(&pdu, 0);
	integer(&pdu, 0);
	tlv(&pdu, 0x30, &vbl);
	integer(&msg, 0);
	raw(&msg, 0x04, "c", 1);
	tlv(&msg, 0xa2, &pdu);
	tlv(&all, 0x30, &msg);
	assert_int_equal(scan_reply_parse(all.b, all.n, &r), 0);
	assert_int_equal(r.vb[SCAN_VB_NAME].len, 5);
	assert_memory_equal(r.vb[SCAN_VB_NAME].val, "first", 5);
	assert_int_equal(r.vb[SCAN_VB_DESCR].tag, 0x80);
	assert_int_equal(r.vb[SCAN_VB_OBJECT_ID].tag, 0);
	assert_int_equal(r.vb[SCAN_VB_UPTIME].tag, 0);
}

static void
test_oid_and_uint_decode(void **state)
{
	uint32_t sub[4], v;
	static const uint8_t two_999[] = { 0x88, 0x37 };          /* 2.999 */
	static const uint8_t max32[] = { 0x2b, 0x8f, 0xff, 0xff, 0xff, 0x7f };
	static const uint8_t over32[] = { 0x2b, 0x90, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t cut[] = { 0x2b, 0x86 };
	static const uint8_t padded[] = { 0x2b, 0x80, 0x01 };

	assert_int_equal(scan_oid_decode(two_999, 2, sub, 4), 2);
	assert_int_equal(sub[0], 2);
	assert_int_equal(sub[1], 999);
	assert_int_equal(scan_oid_decode(max32, sizeof(max32), sub, 4), 3);
	assert_int_equal(sub[2], UINT32_MAX);
	assert_int_equal(scan_oid_decode(over32, sizeof(over32), sub, 4), -1);
	assert_int_equal(scan_oid_decode(cut, sizeof(cut), sub, 4), -1);
	assert_int_equal(scan_oid_decode(padded, sizeof(padded), sub, 4), -1);
	assert_int_equal(scan_oid_decode(max32, 0, sub, 4), -1);
	/* more arcs than room */
	assert_int_equal(scan_oid_decode((uint8_t[]){ 0x2b, 1, 2, 3 }, 4, sub, 4), -1);

	assert_int_equal(scan_uint32_decode((uint8_t[]){ 0 }, 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(scan_uint32_decode((uint8_t[]){ 0, 0xff, 0xff, 0xff, 0xff }, 5, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(scan_uint32_decode((uint8_t[]){ 0x80 }, 1, &v), -1);   /* negative */
	assert_int_equal(scan_uint32_decode((uint8_t[]){ 1, 0, 0, 0, 0 }, 5, &v), -1);
	assert_int_equal(scan_uint32_decode((uint8_t[]){ 0 }, 0, &v), -1);
}

/* ---- the in-flight table --------------------------------------------- */

static void
test_table_ids(void **state)
{
	struct scan_table t;
	enum { N = 1000 };   /* not a power of two: ids naming slots >= N exist */
	uint32_t ids[N];

	assert_int_equal(scan_table_init(&t, N, 0x2badf00d), 0);
	for (int i = 0; i < N; i++) {
		int32_t s = scan_table_get(&t);
		assert_true(s >= 0 && s < N);
		ids[s] = t.slot[s].reqid;
		/* minimal 4-octet INTEGERs, positive */
		assert_true(ids[s] >= SCAN_REQID_BASE && ids[s] <= INT32_MAX);
		assert_int_equal(scan_table_find(&t, ids[s]), s);
	}
	assert_int_equal(scan_table_get(&t), -1);   /* full */
	for (int i = 0; i < N; i++)
		assert_int_equal(scan_table_find(&t, ids[i]), i);
	/* Ids that are not ours: below the base, above 31 bits, one off. */
	assert_int_equal(scan_table_find(&t, 0), -1);
	assert_int_equal(scan_table_find(&t, -5), -1);
	assert_int_equal(scan_table_find(&t, (int64_t)INT32_MAX + 1), -1);
	assert_int_equal(scan_table_find(&t, ids[7] ^ 0x100000), -1);
	/* A slot given back: its id is stale. Renewed: the old id is. */
	scan_table_put(&t, 7);
	assert_int_equal(scan_table_find(&t, ids[7]), -1);
	assert_int_equal(scan_table_get(&t), 7);
	assert_int_not_equal(t.slot[7].reqid, ids[7]);
	uint32_t before = t.slot[8].reqid;
	scan_table_renew(&t, 8);
	assert_int_equal(scan_table_find(&t, before), -1);
	assert_int_equal(scan_table_find(&t, t.slot[8].reqid), 8);
	/* Random ids almost never match (2^30 ids, 1000 live). */
	srand(2);
	int hits = 0;
	for (int k = 0; k < 100000; k++)
		if (scan_table_find(&t, SCAN_REQID_BASE | ((uint32_t)rand() & 0x3fffffff)) >= 0)
			hits++;
	assert_true(hits < 10);
	scan_table_free(&t);
	assert_int_equal(scan_table_init(&t, 0, 1), -1);
}

static void
test_table_lists(void **state)
{
	struct scan_table t;
	int32_t a, b, c;

	assert_int_equal(scan_table_init(&t, 3, 0), 0);
	assert_int_equal(scan_list_count(&t, SCAN_L_FREE), 3);
	a = scan_table_get(&t);
	b = scan_table_get(&t);
	c = scan_table_get(&t);
	scan_list_push(&t, SCAN_L_WIRE, a);
	scan_list_push(&t, SCAN_L_WIRE, b);
	scan_list_push_front(&t, SCAN_L_WIRE, c);
	assert_int_equal(scan_list_count(&t, SCAN_L_WIRE), 3);
	assert_int_equal(scan_list_first(&t, SCAN_L_WIRE), c);
	scan_list_remove(&t, c);
	assert_int_equal(scan_list_first(&t, SCAN_L_WIRE), a);
	scan_list_remove(&t, a);
	scan_list_remove(&t, a);   /* twice: harmless */
	assert_int_equal(scan_list_first(&t, SCAN_L_WIRE), b);
	assert_int_equal(scan_list_count(&t, SCAN_L_WIRE), 1);
	scan_table_put(&t, b);
	scan_table_put(&t, a);
	scan_table_put(&t, c);
	assert_int_equal(scan_list_count(&t, SCAN_L_WIRE), 0);
	assert_int_equal(scan_list_count(&t, SCAN_L_FREE), 3);
	scan_table_free(&t);
}

/* ---- targets ---------------------------------------------------------- */

static struct net_range
rng(const char *s)
{
	struct net_range r;
	char err[128];

	assert_int_equal(net_range_parse(s, &r, err, sizeof(err)), 0);
	return r;
}

static void
test_merge(void **state)
{
	struct net_range r[8];
	unsigned p[8];
	size_t n;
	uint64_t total = 0;

	r[0] = rng("10.0.0.0/24");  p[0] = 161;
	r[1] = rng("10.0.0.5");     p[1] = 161;   /* inside */
	r[2] = rng("10.0.1.0/24");  p[2] = 161;   /* adjacent */
	r[3] = rng("10.0.0.5");     p[3] = 1161;  /* another port */
	r[4] = rng("::1");          p[4] = 161;
	r[5] = rng("::1");          p[5] = 161;   /* the same */
	r[6] = rng("10.0.0.200-10.0.2.3"); p[6] = 161;   /* overlaps both */
	r[7] = rng("10.0.0.5");     p[7] = 1161;
	n = osnmp_scan_merge(r, p, 8);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		total += net_range_count(&r[i]);
	assert_int_equal(total, 516 + 1 + 1);
	assert_int_equal(r[0].family, AF_INET);
	assert_int_equal(p[0], 161);
	assert_int_equal(r[0].first, 0x0a000000);
	assert_int_equal(r[0].last, 0x0a000203);
	assert_int_equal(p[1], 1161);
	assert_int_equal(r[2].family, AF_INET6);
	/* Without ports: all one port. */
	r[0] = rng("10.0.0.1");
	r[1] = rng("10.0.0.1");
	assert_int_equal(osnmp_scan_merge(r, NULL, 2), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tpl_v2c_bytes),
		cmocka_unit_test(test_tpl_long_community),
		cmocka_unit_test(test_tpl_v3_discovery),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_reply_truncated),
		cmocka_unit_test(test_reply_hostile),
		cmocka_unit_test(test_reply_unknown_and_repeated_vars),
		cmocka_unit_test(test_oid_and_uint_decode),
		cmocka_unit_test(test_table_ids),
		cmocka_unit_test(test_table_lists),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
