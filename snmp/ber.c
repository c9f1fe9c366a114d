/*
 * A small, bounded BER reader for hostile input (scan replies, received
 * notifications): every length is checked against what is left of its
 * enclosing element, only single-octet tags and definite lengths of at
 * most 4 octets are accepted, and nothing is copied or allocated.
 * And the writer the probes and the answers to informs are built with.
 */
#include "snmp/snmp_int.h"

#include <string.h>

/* A claimed length must fit in what is left, so a huge one is refused
 * before anything is read. */
int
ber_next(struct ber *b, uint8_t *tag, struct ber *content)
{
	size_t left = (size_t)(b->end - b->p), len, n, i = 2;

	if (left < 2 || (b->p[0] & 0x1f) == 0x1f)
		return -1;
	*tag = b->p[0];
	len = b->p[1];
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 4 || n > left - 2)
			return -1;   /* indefinite or absurd */
		len = 0;
		for (size_t k = 0; k < n; k++)
			len = len << 8 | b->p[2 + k];
		i += n;
	}
	if (len > left - i)
		return -1;
	content->p = b->p + i;
	content->end = content->p + len;
	b->p = content->end;
	return 0;
}

int
ber_expect(struct ber *b, uint8_t want, struct ber *content)
{
	uint8_t tag;

	return ber_next(b, &tag, content) == 0 && tag == want ? 0 : -1;
}

int
ber_int_content(const struct ber *c, int64_t *out)
{
	size_t n = (size_t)(c->end - c->p);
	uint64_t v;

	if (n == 0 || n > 8)
		return -1;
	v = (c->p[0] & 0x80) ? UINT64_MAX : 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | c->p[i];
	*out = (int64_t)v;
	return 0;
}

int
ber_int(struct ber *b, int64_t *out)
{
	struct ber c;

	if (ber_expect(b, 0x02, &c) == -1)
		return -1;
	return ber_int_content(&c, out);
}

/* ---- writing ---------------------------------------------------------- */

void
ber_w_bytes(struct wbuf *w, const void *b, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

size_t
ber_hdr_len(size_t len)
{
	return len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : 5;
}

void
ber_w_hdr(struct wbuf *w, uint8_t tag, size_t len)
{
	uint8_t h[5] = { tag };
	size_t n = ber_hdr_len(len);

	if (len >= 0x1000000) {
		w->over = true;
		return;
	}
	if (n == 2) {
		h[1] = (uint8_t)len;
	} else {
		h[1] = (uint8_t)(0x80 | (n - 2));
		for (size_t i = 0; i < n - 2; i++)
			h[n - 1 - i] = (uint8_t)(len >> (8 * i));
	}
	ber_w_bytes(w, h, n);
}

void
ber_w_tlv(struct wbuf *w, uint8_t tag, const void *p, size_t n)
{
	ber_w_hdr(w, tag, n);
	ber_w_bytes(w, p, n);
}

/* Minimal two's complement, as DER wants. */
void
ber_w_int(struct wbuf *w, uint8_t tag, int64_t v)
{
	uint8_t b[8];
	size_t n = 8, i = 0;

	for (int k = 0; k < 8; k++)
		b[k] = (uint8_t)((uint64_t)v >> (56 - 8 * k));
	while (n - i > 1 && ((b[i] == 0 && !(b[i + 1] & 0x80)) ||
	    (b[i] == 0xff && (b[i + 1] & 0x80))))
		i++;
	ber_w_tlv(w, tag, b + i, n - i);
}
