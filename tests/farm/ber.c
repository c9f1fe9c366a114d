/* BER (X.690) as SNMP uses it: definite lengths, one-byte tags. Every read
 * is bounds-checked against the enclosing TLV; nothing trusts a length. */
#include <stdlib.h>
#include <string.h>

#include "farm.h"

int
ber_next(struct ber *b, uint8_t *tag, const uint8_t **val, size_t *len)
{
	const uint8_t	*p = b->p;
	size_t		 n, avail;

	if (b->end - p < 2)
		return -1;
	*tag = *p++;
	if ((*tag & 0x1f) == 0x1f)
		return -1;		/* multi-byte tags: not SNMP */
	n = *p++;
	if (n & 0x80) {
		size_t k = n & 0x7f;

		if (k == 0 || k > 4 || (size_t)(b->end - p) < k)
			return -1;	/* indefinite or absurd */
		n = 0;
		while (k--)
			n = (n << 8) | *p++;
	}
	avail = (size_t)(b->end - p);
	if (n > avail)
		return -1;
	*val = p;
	*len = n;
	b->p = p + n;
	return 0;
}

int
ber_expect(struct ber *b, uint8_t tag, const uint8_t **val, size_t *len)
{
	uint8_t	t;

	if (ber_next(b, &t, val, len) == -1 || t != tag)
		return -1;
	return 0;
}

int
ber_decode_int(const uint8_t *v, size_t len, int64_t *out)
{
	int64_t	x;
	size_t	i;

	if (len == 0 || len > 8)
		return -1;
	x = (v[0] & 0x80) ? -1 : 0;
	for (i = 0; i < len; i++)
		x = (int64_t)(((uint64_t)x << 8) | v[i]);
	*out = x;
	return 0;
}

int
ber_decode_uint(const uint8_t *v, size_t len, uint64_t *out)
{
	uint64_t x = 0;
	size_t	 i;

	if (len == 0 || len > 9 || (len == 9 && v[0] != 0))
		return -1;
	for (i = 0; i < len; i++)
		x = (x << 8) | v[i];
	*out = x;
	return 0;
}

int
ber_int(struct ber *b, int64_t *out)
{
	const uint8_t	*v;
	size_t		 len;

	if (ber_expect(b, T_INT, &v, &len) == -1)
		return -1;
	return ber_decode_int(v, len, out);
}

int
ber_octets(struct ber *b, const uint8_t **val, size_t *len)
{
	return ber_expect(b, T_OCTETS, val, len);
}

/* Next sub-identifier of a BER OID; a truncated one ends the OID. */
static int
oid_sub(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t x = 0;

	while (*p < end) {
		uint8_t c = *(*p)++;

		x = (x << 7) | (c & 0x7f);
		if (x > 0xffffffffffULL)
			x = 0xffffffffffULL;	/* saturate junk */
		if (!(c & 0x80)) {
			*out = x;
			return 1;
		}
	}
	return 0;
}

/* Numeric order of two BER OIDs. Byte order is not numeric order once
 * sub-identifiers take several bytes, hence the decoding; but equal leading
 * bytes are equal sub-identifiers, so only the tail from the first
 * differing sub-identifier is decoded. This is the hot path of every
 * lookup. */
int
ber_oid_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	const uint8_t	*ae = a + alen, *be = b + blen;
	size_t		 n = alen < blen ? alen : blen, i = 0;
	uint64_t	 x, y;

	while (i + 8 <= n) {		/* 8 bytes at a time */
		uint64_t wa, wb;

		memcpy(&wa, a + i, 8);
		memcpy(&wb, b + i, 8);
		if (wa != wb)
			break;
		i += 8;
	}
	while (i < n && a[i] == b[i])
		i++;
	if (i == n && alen == blen)
		return 0;
	while (i > 0 && (a[i - 1] & 0x80))
		i--;		/* back to the start of that sub-identifier */
	if (i < n && !(a[i] & 0x80) && !(b[i] & 0x80))
		return a[i] < b[i] ? -1 : 1;	/* two one-byte ones */
	a += i;
	b += i;
	for (;;) {
		int ha = oid_sub(&a, ae, &x), hb = oid_sub(&b, be, &y);

		if (!ha || !hb)
			return ha - hb;
		if (x != y)
			return x < y ? -1 : 1;
	}
}

int
ber_oid_is_prefix(const uint8_t *pre, size_t plen, const uint8_t *o, size_t olen)
{
	return plen <= olen && memcmp(pre, o, plen) == 0 &&
	    (plen == 0 || !(pre[plen - 1] & 0x80));
}

int
ber_oid_from_arcs(const uint32_t *arcs, size_t n, uint8_t *out, size_t cap)
{
	size_t	 i, len = 0;

	if (n < 2 || n > FARM_MAX_OID || arcs[0] > 2 ||
	    (arcs[0] < 2 && arcs[1] >= 40))
		return -1;
	for (i = 1; i < n; i++) {
		uint64_t v = i == 1 ? (uint64_t)arcs[0] * 40 + arcs[1] : arcs[i];
		uint8_t	 tmp[10];
		int	 k = 0;

		do {
			tmp[k++] = v & 0x7f;
			v >>= 7;
		} while (v);
		if (len + (size_t)k > cap)
			return -1;
		while (k--)
			out[len++] = tmp[k] | (k ? 0x80 : 0);
	}
	return (int)len;
}

int
ber_oid_parse(const char *s, uint8_t *out, size_t cap)
{
	uint32_t	 arcs[FARM_MAX_OID];
	size_t		 n = 0;
	char		*end;

	if (*s == '.')
		s++;
	for (;;) {
		unsigned long v;

		if (*s < '0' || *s > '9' || n == FARM_MAX_OID)
			return -1;
		v = strtoul(s, &end, 10);
		if (v > 0xffffffffUL)
			return -1;
		arcs[n++] = (uint32_t)v;
		if (*end == '\0')
			break;
		if (*end != '.')
			return -1;
		s = end + 1;
	}
	return ber_oid_from_arcs(arcs, n, out, cap);
}

int
ber_oid_arcs(const uint8_t *o, size_t len, uint32_t *arcs, size_t cap)
{
	const uint8_t	*end = o + len;
	uint64_t	 x;
	size_t		 n = 0;

	while (oid_sub(&o, end, &x)) {
		if (n + 2 > cap || x > 0xffffffffULL)
			return -1;
		if (n == 0) {
			arcs[n++] = x < 40 ? 0 : x < 80 ? 1 : 2;
			arcs[n++] = (uint32_t)(x - arcs[0] * 40);
		} else
			arcs[n++] = (uint32_t)x;
	}
	return o == end ? (int)n : -1;
}

size_t
ber_len_size(size_t n)
{
	return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4;
}

static size_t
len_encode(uint8_t *out, size_t n)
{
	size_t	k = ber_len_size(n), i;

	if (k == 1) {
		out[0] = (uint8_t)n;
		return 1;
	}
	out[0] = 0x80 | (uint8_t)(k - 1);
	for (i = 1; i < k; i++)
		out[i] = (uint8_t)(n >> (8 * (k - 1 - i)));
	return k;
}

size_t
ber_int_tlv(uint8_t *out, uint8_t tag, int64_t v)
{
	uint8_t	tmp[8];
	int	n = 8, i;

	for (i = 0; i < 8; i++)
		tmp[i] = (uint8_t)((uint64_t)v >> (8 * (7 - i)));
	i = 0;
	/* drop redundant sign bytes */
	while (i < 7 && ((tmp[i] == 0 && !(tmp[i + 1] & 0x80)) ||
	    (tmp[i] == 0xff && (tmp[i + 1] & 0x80))))
		i++;
	n = 8 - i;
	out[0] = tag;
	out[1] = (uint8_t)n;
	memcpy(out + 2, tmp + i, (size_t)n);
	return (size_t)n + 2;
}

size_t
ber_uint_tlv(uint8_t *out, uint8_t tag, uint64_t v)
{
	uint8_t	tmp[9];
	int	i = 0, n;

	tmp[0] = 0;
	for (n = 1; n < 9; n++)
		tmp[n] = (uint8_t)(v >> (8 * (8 - n)));
	while (i < 8 && tmp[i] == 0 && !(tmp[i + 1] & 0x80))
		i++;
	n = 9 - i;
	out[0] = tag;
	out[1] = (uint8_t)n;
	memcpy(out + 2, tmp + i, (size_t)n);
	return (size_t)n + 2;
}

void
bw_init(struct bw *w, uint8_t *buf, size_t cap, size_t headroom)
{
	w->buf = buf;
	w->cap = cap;
	w->lo = w->hi = headroom < cap ? headroom : cap;
	w->err = 0;
}

void
bw_append(struct bw *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->err || n > w->cap - w->hi) {
		w->err = 1;
		return;
	}
	memcpy(w->buf + w->hi, p, n);
	w->hi += n;
}

void
bw_prepend(struct bw *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->err || n > w->lo) {
		w->err = 1;
		return;
	}
	w->lo -= n;
	memmove(w->buf + w->lo, p, n);
}

void
bw_append_hdr(struct bw *w, uint8_t tag, size_t len)
{
	uint8_t	h[6];

	h[0] = tag;
	bw_append(w, h, 1 + len_encode(h + 1, len));
}

void
bw_append_tlv(struct bw *w, uint8_t tag, const void *p, size_t n)
{
	bw_append_hdr(w, tag, n);
	bw_append(w, p, n);
}

void
bw_prepend_tlv(struct bw *w, uint8_t tag, const void *p, size_t n)
{
	uint8_t	h[6];

	bw_prepend(w, p, n);
	h[0] = tag;
	bw_prepend(w, h, 1 + len_encode(h + 1, n));
}

void
bw_wrap(struct bw *w, uint8_t tag)
{
	uint8_t	h[6];

	h[0] = tag;
	bw_prepend(w, h, 1 + len_encode(h + 1, w->hi - w->lo));
}

void
bw_prepend_int(struct bw *w, int64_t v)
{
	uint8_t	t[12];

	bw_prepend(w, t, ber_int_tlv(t, T_INT, v));
}

size_t
bw_len(const struct bw *w)
{
	return w->hi - w->lo;
}
