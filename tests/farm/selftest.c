/* outpost-farm --selftest: checks of the pieces a wrong answer would hide
 * behind (net-snmp interop is tested from tests/integration/test_farm.py):
 * RFC 3414 A.3 key localisation vectors, numeric OID order against a
 * brute-force reference, and BER integer round trips at the limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm.h"

static int	failed;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "selftest: FAILED: %s\n", what);
		failed = 1;
	}
}

static void
unhex(const char *s, uint8_t *out)
{
	while (s[0] && s[1]) {
		unsigned v;

		sscanf(s, "%2x", &v);
		*out++ = (uint8_t)v;
		s += 2;
	}
}

static void
keys(void)
{
	static const struct {
		int		 auth;
		const char	*kul;
	} v[] = {	/* RFC 3414 A.3.1 and A.3.2: "maplesyrup" */
		{ AUTH_MD5, "526f5eed9fcce26f8964c2930787d82b" },
		{ AUTH_SHA1, "6695febc9288e36282235fc7151f128497b38f3f" },
	};
	uint8_t		eid[12] = { [11] = 2 }, want[32];
	struct usm_keys	k;
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		usm_client_keys(&k, v[i].auth, "maplesyrup", PRIV_NONE, "", eid, 12);
		unhex(v[i].kul, want);
		check(k.kauth_len == strlen(v[i].kul) / 2 &&
		    memcmp(k.kauth, want, k.kauth_len) == 0, "RFC 3414 A.3 Kul");
	}
}

static void
oid_order(void)
{
	static const uint32_t pool[] = { 0, 1, 2, 5, 39, 127, 128, 129, 255,
	    16383, 16384, 2097151, 2097152, 4294967295U };
	int	 it;

	srand(1);
	for (it = 0; it < 200000; it++) {
		uint32_t a[8], b[8];
		uint8_t	 ea[64], eb[64];
		size_t	 na = 2 + (size_t)rand() % 6, nb = 2 + (size_t)rand() % 6, i, m;
		int	 want = 0, got, la, lb;

		for (i = 0; i < 8; i++) {
			a[i] = pool[rand() % 14];
			b[i] = rand() % 3 ? a[i] : pool[rand() % 14];
		}
		a[0] = b[0] = 1, a[1] = b[1] = 3;
		la = ber_oid_from_arcs(a, na, ea, sizeof(ea));
		lb = ber_oid_from_arcs(b, nb, eb, sizeof(eb));
		m = na < nb ? na : nb;
		for (i = 0; i < m && !want; i++)
			if (a[i] != b[i])
				want = a[i] < b[i] ? -1 : 1;
		if (!want)
			want = na < nb ? -1 : na > nb;
		got = ber_oid_cmp(ea, (size_t)la, eb, (size_t)lb);
		if ((got > 0) - (got < 0) != want) {
			check(0, "numeric OID order");
			return;
		}
	}
}

static void
integers(void)
{
	static const int64_t s[] = { 0, 127, 128, -128, -129, INT32_MIN,
	    INT32_MAX, INT64_MIN, INT64_MAX };
	static const uint64_t u[] = { 0, 255, 4294967295ULL,
	    9007199254740993ULL, 9223372036854775808ULL, UINT64_MAX };
	uint8_t	 tlv[16];
	size_t	 i, n;
	int64_t	 x;
	uint64_t y;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		n = ber_int_tlv(tlv, T_INT, s[i]);
		check(ber_decode_int(tlv + 2, n - 2, &x) == 0 && x == s[i],
		    "INTEGER round trip");
	}
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		n = ber_uint_tlv(tlv, T_COUNTER64, u[i]);
		check(ber_decode_uint(tlv + 2, n - 2, &y) == 0 && y == u[i],
		    "Counter64 round trip");
	}
}

/* A random request PDU: mostly OIDs near the device's data, odd counts. */
static void
random_pdu(struct bw *w, const struct farm_tmpl *m)
{
	static const uint8_t types[] = { PDU_GET, PDU_GETNEXT, PDU_GETBULK,
	    PDU_SET, PDU_RESPONSE };
	int	n = rand() % 6, i;

	for (i = 0; i < n; i++) {
		const struct farm_ent *e = &m->ents[(size_t)rand() % m->n];
		uint8_t	oid[300];
		size_t	len = e->oid_len;

		memcpy(oid, m->pool + e->off, len);
		if (rand() % 4 == 0)
			len = (size_t)rand() % (len + 1);	/* a prefix */
		if (rand() % 8 == 0)
			oid[rand() % (len + 1)] = (uint8_t)rand();
		bw_append_hdr(w, T_SEQ, 2 + ber_len_size(len) + len);
		bw_append_tlv(w, T_OID, oid, len);
		bw_append_tlv(w, T_NULL, NULL, 0);
	}
	bw_wrap(w, T_SEQ);
	bw_prepend_int(w, rand() % 3 ? rand() % 30 : (int64_t)rand() - RAND_MAX / 2);
	bw_prepend_int(w, rand() % 3 ? rand() % 4 : (int64_t)rand() - RAND_MAX / 2);
	bw_prepend_int(w, rand());
	bw_wrap(w, types[rand() % 5]);
}

static void
mutate(uint8_t *p, size_t *len)
{
	int	k = rand() % 4;

	if (k == 0 && *len > 0)
		*len = (size_t)rand() % *len;
	else if (k == 1)
		for (int i = rand() % 4; i >= 0 && *len; i--)
			p[(size_t)rand() % *len] = (uint8_t)rand();
}

/* Requests built right and then damaged, handled in-process: under
 * `make asan` this is a fuzz test of parsing, USM and PDU code paths that
 * random packets alone do not reach (valid MAC, then garbage inside). */
static void
fuzz(int iterations)
{
	static uint8_t	 buf[FARM_MAX_MSG + FARM_HEADROOM], out[FARM_MAX_MSG + FARM_HEADROOM];
	static struct farm_spec s;
	struct farm_dev	 d = { 0x7f580001, 100.5, 7 };
	struct usm_keys	 k[2];
	uint8_t		 eid[9], privp[8];
	char		 err[256];
	int		 it, replies = 0;

	if ((s.tmpl = gen_kind("edge", err, sizeof(err))) == NULL ||
	    usm_user_parse(&s.users[0], "fa:SHA:authpass1:AES:privpass1", err,
	    sizeof(err)) == -1 ||
	    usm_user_parse(&s.users[1], "fb:MD5:authpass1:DES:privpass1", err,
	    sizeof(err)) == -1) {
		check(0, err);
		return;
	}
	s.nusers = 2;
	strcpy(s.comm[0], "public");
	s.ncomm = 1;
	strcpy(s.ctx[0].name, "c1");
	s.ctx[0].tmpl = s.tmpl;
	s.nctx = 1;
	usm_engine_id(d.addr, eid);
	usm_client_keys(&k[0], AUTH_SHA1, "authpass1", PRIV_AES128, "privpass1", eid, 9);
	usm_client_keys(&k[1], AUTH_MD5, "authpass1", PRIV_DES, "privpass1", eid, 9);
	for (it = 0; it < iterations; it++) {
		struct bw	 w;
		struct farm_out	 o;
		size_t		 len;
		int		 u = rand() % 2, v3 = rand() % 3;

		s.max_size = rand() % 2 ? 0 : 484 + rand() % 2000;
		s.bad = rand() % 4 ? BAD_NONE : rand() % 3 == 0 ? BAD_ENDLESS :
		    (enum bad_mode)(1 + rand() % 2);
		bw_init(&w, buf, sizeof(buf), FARM_HEADROOM);
		random_pdu(&w, s.tmpl);
		if (v3) {
			bw_prepend_tlv(&w, T_OCTETS, "c1", (size_t)(rand() % 3));
			bw_prepend_tlv(&w, T_OCTETS, eid, 9);
			bw_wrap(&w, T_SEQ);
			if (rand() % 3 == 0) {
				len = bw_len(&w);
				mutate(w.buf + w.lo, &len);
				w.hi = w.lo + len;
			}
			if (usm_encrypt(&k[u], usm_boots(), usm_time(), (uint64_t)it,
			    &w, privp) == -1 || usm_wrap(&w, rand(), 7, eid, 9,
			    usm_boots(), usm_time(), u ? "fb" : "fa", 2, &k[u], privp) == -1)
				continue;
		} else {
			bw_prepend_tlv(&w, T_OCTETS, "public", 6);
			bw_prepend_int(&w, rand() % 2);
			bw_wrap(&w, T_SEQ);
		}
		if (w.err)
			continue;
		len = bw_len(&w);
		if (rand() % 3 == 0)
			mutate(w.buf + w.lo, &len);
		agent_handle(&s, &d, w.buf + w.lo, len, out, sizeof(out), &o);
		if (o.len > 0) {
			struct ber	 b = { out, out + o.len };
			const uint8_t	*val;
			size_t		 vl;

			replies++;
			check(ber_expect(&b, T_SEQ, &val, &vl) == 0 && b.p == b.end,
			    "reply is one well-formed SEQUENCE");
			check(s.max_size == 0 || o.len <= (size_t)s.max_size,
			    "reply fits max_size");
		}
		if (failed)
			return;
	}
	fprintf(stderr, "selftest: fuzz: %d requests, %d replies, %llu bad "
	    "packets, %llu wrong digests, %llu decryption errors\n", iterations,
	    replies, (unsigned long long)farm_stats.bad_packets,
	    (unsigned long long)farm_stats.wrong_digest,
	    (unsigned long long)farm_stats.decrypt_err);
}

int
farm_selftest(void)
{
	keys();
	oid_order();
	integers();
	fuzz(200000);
	fprintf(stderr, "selftest: %s\n", failed ? "FAILED" : "ok");
	return failed;
}
