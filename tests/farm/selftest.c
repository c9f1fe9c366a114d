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

int
farm_selftest(void)
{
	keys();
	oid_order();
	integers();
	fprintf(stderr, "selftest: %s\n", failed ? "FAILED" : "ok");
	return failed;
}
