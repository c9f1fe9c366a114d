/*
 * The scanner's wire format: probe messages encoded once per credential
 * (RFC 3416 GetRequest in an RFC 1157/1901 message, or the RFC 3414
 * discovery message), and the parse of replies with the bounded BER
 * reader of ber.c.
 */
#include "snmp/scan_int.h"

#include <string.h>

/* sysDescr.0, sysObjectID.0, sysUpTime.0, sysName.0: 1.3.6.1.2.1.1.X.0 */
static const uint8_t sys_oid_prefix[] = { 0x2b, 6, 1, 2, 1, 1 };
static const uint8_t sys_oid_arc[SCAN_NVB] = { 1, 2, 3, 5 };

/* ---- encoding ---------------------------------------------------------- */

/* A placeholder request id: 4 octets, patched per probe. */
static size_t
w_reqid(struct wbuf *w)
{
	static const uint8_t id[] = { 0x02, 4, 0x40, 0, 0, 0 };
	size_t off = w->len + 2;

	ber_w_bytes(w, id, sizeof(id));
	return off;
}

int
scan_tpl_community(struct scan_tpl *t, int version, const char *community,
    size_t clen)
{
	static const uint8_t zero_int[] = { 0x02, 1, 0 };
	static const uint8_t null[] = { 0x05, 0 };
	struct wbuf w = { t->buf, 0, sizeof(t->buf), false };
	size_t vb_len = 2 + sizeof(sys_oid_prefix) + 2 + sizeof(null);
	size_t vbl_len = SCAN_NVB * (2 + vb_len);
	size_t pdu_len = 6 + 2 * sizeof(zero_int) + ber_hdr_len(vbl_len) + vbl_len;
	size_t msg_len = 3 + ber_hdr_len(clen) + clen + ber_hdr_len(pdu_len) + pdu_len;
	uint8_t ver[] = { 0x02, 1, (uint8_t)version };

	memset(t, 0, sizeof(*t));
	if (clen > SCAN_COMMUNITY_MAX || (version != 0 && version != 1))
		return -1;
	ber_w_hdr(&w, 0x30, msg_len);
	ber_w_bytes(&w, ver, sizeof(ver));
	ber_w_hdr(&w, 0x04, clen);
	ber_w_bytes(&w, community, clen);
	ber_w_hdr(&w, 0xa0, pdu_len);
	t->reqid_off = w_reqid(&w);
	ber_w_bytes(&w, zero_int, sizeof(zero_int));
	ber_w_bytes(&w, zero_int, sizeof(zero_int));
	ber_w_hdr(&w, 0x30, vbl_len);
	for (size_t i = 0; i < SCAN_NVB; i++) {
		ber_w_hdr(&w, 0x30, vb_len);
		ber_w_hdr(&w, 0x06, sizeof(sys_oid_prefix) + 2);
		ber_w_bytes(&w, sys_oid_prefix, sizeof(sys_oid_prefix));
		ber_w_bytes(&w, (uint8_t[]){ sys_oid_arc[i], 0 }, 2);
		ber_w_bytes(&w, null, sizeof(null));
	}
	if (w.over)
		return -1;
	t->len = w.len;
	return 0;
}

void
scan_tpl_v3_discovery(struct scan_tpl *t)
{
	/* msgMaxSize 65507, msgFlags reportable, msgSecurityModel USM */
	static const uint8_t global_tail[] = { 0x02, 3, 0x00, 0xff, 0xe3,
	    0x04, 1, 0x04, 0x02, 1, 3 };
	/* msgSecurityParameters: OCTET STRING holding an empty USM
	 * SEQUENCE: engine ID, boots 0, time 0, user, auth and priv. */
	static const uint8_t usm[] = { 0x04, 16, 0x30, 14, 0x04, 0, 0x02, 1, 0,
	    0x02, 1, 0, 0x04, 0, 0x04, 0, 0x04, 0 };
	static const uint8_t pdu_tail[] = { 0x02, 1, 0, 0x02, 1, 0, 0x30, 0 };
	static const uint8_t ctx[] = { 0x04, 0, 0x04, 0 };
	struct wbuf w = { t->buf, 0, sizeof(t->buf), false };
	size_t global_len = 6 + sizeof(global_tail);
	size_t pdu_len = 6 + sizeof(pdu_tail);
	size_t scoped_len = sizeof(ctx) + 2 + pdu_len;
	size_t msg_len = 3 + 2 + global_len + sizeof(usm) + 2 + scoped_len;

	memset(t, 0, sizeof(*t));
	ber_w_hdr(&w, 0x30, msg_len);
	ber_w_bytes(&w, (uint8_t[]){ 0x02, 1, 3 }, 3);
	ber_w_hdr(&w, 0x30, global_len);
	t->msgid_off = w_reqid(&w);
	ber_w_bytes(&w, global_tail, sizeof(global_tail));
	ber_w_bytes(&w, usm, sizeof(usm));
	ber_w_hdr(&w, 0x30, scoped_len);
	ber_w_bytes(&w, ctx, sizeof(ctx));
	ber_w_hdr(&w, 0xa0, pdu_len);
	t->reqid_off = w_reqid(&w);
	ber_w_bytes(&w, pdu_tail, sizeof(pdu_tail));
	t->len = w.len;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
scan_tpl_write(const struct scan_tpl *t, uint32_t reqid, uint8_t *out)
{
	memcpy(out, t->buf, t->len);
	put32(out + t->reqid_off, reqid);
	if (t->msgid_off != 0)
		put32(out + t->msgid_off, reqid);
}

/* ---- decoding ---------------------------------------------------------- */

static int
vb_index(const struct ber *oid)
{
	size_t n = (size_t)(oid->end - oid->p);

	if (n != sizeof(sys_oid_prefix) + 2 || oid->p[n - 1] != 0 ||
	    memcmp(oid->p, sys_oid_prefix, sizeof(sys_oid_prefix)) != 0)
		return -1;
	for (int i = 0; i < SCAN_NVB; i++)
		if (oid->p[n - 2] == sys_oid_arc[i])
			return i;
	return -1;
}

static int
parse_pdu(struct ber *msg, struct scan_reply *r)
{
	struct ber pdu, vbl, vb, name, val;
	int64_t index;
	uint8_t tag;

	if (ber_next(msg, &r->pdu_type, &pdu) == -1 ||
	    (r->pdu_type & 0xe0) != 0xa0 ||
	    ber_int(&pdu, &r->reqid) == -1 ||
	    ber_int(&pdu, &r->error_status) == -1 ||
	    ber_int(&pdu, &index) == -1 ||
	    ber_expect(&pdu, 0x30, &vbl) == -1)
		return -1;
	while (vbl.p < vbl.end) {
		int i;
		if (ber_expect(&vbl, 0x30, &vb) == -1 ||
		    ber_expect(&vb, 0x06, &name) == -1 ||
		    ber_next(&vb, &tag, &val) == -1)
			return -1;
		/* Only the variables asked for, the first of each; others
		 * are ignored. */
		if ((i = vb_index(&name)) >= 0 && r->vb[i].tag == 0) {
			r->vb[i].tag = tag;
			r->vb[i].val = val.p;
			r->vb[i].len = (size_t)(val.end - val.p);
		}
	}
	return 0;
}

int
scan_reply_parse(const uint8_t *buf, size_t len, struct scan_reply *r)
{
	struct ber all = { buf, buf + len }, msg, s;
	int64_t version;

	memset(r, 0, sizeof(*r));
	if (ber_expect(&all, 0x30, &msg) == -1 || ber_int(&msg, &version) == -1)
		return -1;
	r->version = (long)version;
	if (version == 0 || version == 1) {
		if (ber_expect(&msg, 0x04, &s) == -1)
			return -1;
		r->community = s.p;
		r->community_len = (size_t)(s.end - s.p);
		return parse_pdu(&msg, r);
	}
	if (version == 3) {
		struct ber global;
		if (ber_expect(&msg, 0x30, &global) == -1 ||
		    ber_int(&global, &r->msgid) == -1)
			return -1;
		return 0;
	}
	return -1;
}

int64_t
scan_probe_reqid(const uint8_t *buf, size_t len)
{
	struct scan_reply r;

	if (scan_reply_parse(buf, len, &r) == -1)
		return -1;
	return r.version == 3 ? r.msgid : r.reqid;
}

int
scan_oid_decode(const uint8_t *p, size_t len, uint32_t *out, size_t max)
{
	size_t n = 0;
	uint64_t v = 0;

	if (len == 0 || max < 2)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v == 0 && p[i] == 0x80)
			return -1;   /* non-minimal sub-identifier */
		v = v << 7 | (p[i] & 0x7f);
		if (v > UINT32_MAX + (uint64_t)80)
			return -1;
		if (p[i] & 0x80) {
			if (i + 1 == len)
				return -1;   /* cut in the middle */
			continue;
		}
		if (n == 0) {
			/* The first octets hold two arcs: X*40 + Y. */
			uint64_t first = v < 80 ? v / 40 : 2;
			out[n++] = (uint32_t)first;
			v -= first * 40;
		}
		if (v > UINT32_MAX || n == max)
			return -1;
		out[n++] = (uint32_t)v;
		v = 0;
	}
	return (int)n;
}

int
scan_uint32_decode(const uint8_t *p, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	/* A leading 0 octet keeps values >= 2^31 positive: 5 octets. */
	if (len == 0 || len > 5 || (len == 5 && p[0] != 0) || (p[0] & 0x80))
		return -1;
	for (size_t i = 0; i < len; i++)
		v = v << 8 | p[i];
	*out = (uint32_t)v;
	return 0;
}
