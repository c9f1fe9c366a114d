/* PDU semantics (RFC 3416, and RFC 1157 for v1) and v1/v2c messages.
 * Read-only: SET is refused. Replies are built into a bw writer: the
 * varbinds first, then the headers prepended around them. */
#include <string.h>

#include "farm.h"

struct farm_stats farm_stats;

#define PDU_HDR_MAX	24	/* vbl SEQ + reqid + err + erridx + PDU tag */
#define SYNTH		(SIZE_MAX - 1)	/* bulk column in bad=endless rows */

struct reqvb {
	const uint8_t	*oid;
	size_t		 len;
};

int
agent_parse_pdu(const uint8_t *p, size_t len, struct farm_pdu *pdu)
{
	struct ber	 b = { p, p + len }, in;
	const uint8_t	*v;
	size_t		 l;
	int64_t		 err, idx;

	if (ber_next(&b, &pdu->type, &v, &l) == -1)
		return -1;
	if (pdu->type != PDU_GET && pdu->type != PDU_GETNEXT &&
	    pdu->type != PDU_SET && pdu->type != PDU_GETBULK)
		return -1;
	in.p = v;
	in.end = v + l;
	if (ber_int(&in, &pdu->reqid) == -1 || ber_int(&in, &err) == -1 ||
	    ber_int(&in, &idx) == -1 ||
	    ber_expect(&in, T_SEQ, &pdu->vbl, &pdu->vbllen) == -1)
		return -1;
	if (pdu->reqid < INT32_MIN || pdu->reqid > INT32_MAX)
		return -1;
	pdu->nonrep = err;
	pdu->maxrep = idx;
	return 0;
}

static int
parse_vbl(const struct farm_pdu *pdu, struct reqvb *vb, size_t *n)
{
	struct ber	 b = { pdu->vbl, pdu->vbl + pdu->vbllen };
	const uint8_t	*v;
	size_t		 l;

	*n = 0;
	while (b.p < b.end) {
		struct ber	 s;

		if (*n == FARM_MAX_REQ_VB || ber_expect(&b, T_SEQ, &v, &l) == -1)
			return -1;
		s.p = v;
		s.end = v + l;
		if (ber_expect(&s, T_OID, &vb[*n].oid, &vb[*n].len) == -1 ||
		    vb[*n].len > 4 * FARM_MAX_OID)
			return -1;
		(*n)++;
	}
	return 0;
}

static size_t
vb_size(size_t olen, size_t vlen)
{
	size_t	inner = 1 + ber_len_size(olen) + olen + vlen;

	return 1 + ber_len_size(inner) + inner;
}

static void
put_vb(struct bw *w, const uint8_t *oid, size_t olen, const uint8_t *val,
    size_t vlen)
{
	bw_append_hdr(w, T_SEQ, 1 + ber_len_size(olen) + olen + vlen);
	bw_append_hdr(w, T_OID, olen);
	bw_append(w, oid, olen);
	bw_append(w, val, vlen);
}

/* v1 has no Counter64: such entries do not exist for it (RFC 3584 4.2.2). */
static int
visible(const struct farm_tmpl *m, size_t i, int version)
{
	const struct farm_ent *e = &m->ents[i];
	uint8_t	tag;

	if (version != 0)
		return 1;
	tag = e->dyn ? m->dyn[e->dyn].tag : m->pool[e->off + e->oid_len];
	return tag != T_COUNTER64;
}

static size_t
next_index(const struct farm_spec *s, const struct farm_tmpl *m, size_t i,
    int version)
{
	while (i < m->n && !visible(m, i, version))
		i++;
	/* bad=nonincreasing: past row 20 the walk jumps back 10 rows */
	if (s->bad == BAD_NONINCREASING && i < m->n && i >= 20)
		i -= 10;
	return i;
}

/* bad=endless: the ifIndex column never ends. Past the data's last row,
 * the successor of ifIndex.k is ifIndex.(k+1) = k+1, up to 2^31-1. Writes
 * the OID (>= 24 bytes) and value (>= 12) and returns 1 when it applies. */
static int
endless_next(const struct farm_spec *s, const struct farm_tmpl *m, size_t i,
    const uint8_t *prev, size_t plen, uint8_t *oid, size_t *olen,
    uint8_t *val, size_t *vlen)
{
	static const uint8_t	col[] = { 0x2b, 6, 1, 2, 1, 2, 2, 1, 1 };
	uint32_t		arcs[FARM_MAX_OID];
	int			n, l;

	if (s->bad != BAD_ENDLESS || !ber_oid_is_prefix(col, sizeof(col), prev, plen))
		return 0;
	if (i < m->n && ber_oid_is_prefix(col, sizeof(col), m->pool +
	    m->ents[i].off, m->ents[i].oid_len))
		return 0;	/* the data still has rows */
	if ((n = ber_oid_arcs(prev, plen, arcs, FARM_MAX_OID)) < 10)
		return 0;
	if (n == 10)
		arcs[10] = 0;
	if (arcs[10] >= INT32_MAX)
		return 0;
	arcs[10]++;
	if ((l = ber_oid_from_arcs(arcs, 11, oid, 24)) < 0)
		return 0;
	*olen = (size_t)l;
	*vlen = ber_int_tlv(val, T_INT, arcs[10]);
	return 1;
}

/* Value for GET of an OID that is absent (RFC 3416 4.2.1): noSuchInstance
 * when its parent object has instances, else noSuchObject (also for an
 * interior node such as sysName without its .0, as net-snmp's agent). */
static uint8_t
absent_tag(const struct farm_tmpl *m, const uint8_t *oid, size_t len)
{
	size_t	plen, i;

	if (len == 0)
		return T_NOSUCHOBJ;
	i = tmpl_next(m, oid, len);
	if (i < m->n && ber_oid_is_prefix(oid, len, m->pool + m->ents[i].off,
	    m->ents[i].oid_len))
		return T_NOSUCHOBJ;
	/* plen: the OID without its last sub-identifier */
	plen = len - 1;
	while (plen > 0 && (oid[plen - 1] & 0x80))
		plen--;
	if (plen == 0)
		return T_NOSUCHOBJ;
	i = tmpl_next(m, oid, plen);
	if (i < m->n && ber_oid_is_prefix(oid, plen, m->pool + m->ents[i].off,
	    m->ents[i].oid_len))
		return T_NOSUCHINST;
	return T_NOSUCHOBJ;
}

/* Appends the varbind for entry i (i == n: endOfMibView for oid). */
static int
emit(struct bw *w, const struct farm_tmpl *m, const struct farm_dev *d,
    size_t i, const uint8_t *oid, size_t olen, size_t room)
{
	uint8_t	val[320];
	size_t	vlen;

	if (i >= m->n) {
		val[0] = T_ENDOFMIB;
		val[1] = 0;
		vlen = 2;
	} else {
		const struct farm_ent *e = &m->ents[i];

		oid = m->pool + e->off;
		olen = e->oid_len;
		if (e->dyn == 0) {	/* static: straight from the pool */
			if (bw_len(w) + vb_size(olen, e->val_len) > room)
				return -1;
			put_vb(w, oid, olen, oid + olen, e->val_len);
			return 0;
		}
		vlen = tmpl_value(m, i, d, val);
	}
	if (bw_len(w) + vb_size(olen, vlen) > room)
		return -1;
	put_vb(w, oid, olen, val, vlen);
	return 0;
}

static void
finish_pdu(struct bw *w, int64_t reqid, int err, int idx)
{
	bw_wrap(w, T_SEQ);
	bw_prepend_int(w, idx);
	bw_prepend_int(w, err);
	bw_prepend_int(w, reqid);
	bw_wrap(w, PDU_RESPONSE);
}

/* An error reply: v1 echoes the request's varbinds, v2 (tooBig) none. */
static void
error_pdu(struct bw *w, const struct farm_pdu *pdu, int err, int idx,
    int echo, size_t room)
{
	w->hi = w->lo;
	if (echo && pdu->vbllen + PDU_HDR_MAX <= room)
		bw_append(w, pdu->vbl, pdu->vbllen);
	finish_pdu(w, pdu->reqid, err, idx);
}

static void
bulk(struct bw *w, const struct farm_spec *s, const struct farm_tmpl *m,
    const struct farm_dev *d, const struct farm_pdu *pdu,
    const struct reqvb *vb, size_t n, size_t room)
{
	static uint8_t synth[FARM_MAX_REQ_VB][24];	/* bad=endless names */
	size_t	cur[FARM_MAX_REQ_VB], nr, r, j, count = 0;
	struct reqvb last[FARM_MAX_REQ_VB];
	int64_t	nonrep = pdu->nonrep, maxrep = pdu->maxrep;

	if (nonrep < 0)
		nonrep = 0;
	if ((size_t)nonrep > n)
		nonrep = (int64_t)n;
	if (maxrep < 0)
		maxrep = 0;
	for (j = 0; j < (size_t)nonrep; j++, count++) {
		size_t i = next_index(s, m, tmpl_next(m, vb[j].oid, vb[j].len), 3);

		if (emit(w, m, d, i, vb[j].oid, vb[j].len, room) == -1) {
			error_pdu(w, pdu, ERR_TOOBIG, 0, 0, room + PDU_HDR_MAX);
			return;
		}
	}
	nr = n - (size_t)nonrep;
	for (j = 0; j < nr; j++) {
		cur[j] = SIZE_MAX;
		last[j] = vb[(size_t)nonrep + j];
	}
	/* Like snmpsim, every repetition is filled: past the end a column
	 * repeats endOfMibView under the last name it returned. */
	for (r = 0; r < (uint64_t)maxrep && nr > 0; r++) {
		for (j = 0; j < nr; j++) {
			const struct reqvb *q = &vb[(size_t)nonrep + j];
			uint8_t	so[24], sv[12];
			size_t	i, sol, svl;

			if (cur[j] == SIZE_MAX)
				i = tmpl_next(m, q->oid, q->len);
			else if (cur[j] == SYNTH)
				i = tmpl_next(m, last[j].oid, last[j].len);
			else
				i = cur[j] >= m->n ? m->n : cur[j] + 1;
			i = next_index(s, m, i, 3);
			if (endless_next(s, m, i, last[j].oid, last[j].len, so,
			    &sol, sv, &svl)) {
				if (count >= FARM_MAX_VARBINDS ||
				    bw_len(w) + vb_size(sol, svl) > room)
					goto full;
				put_vb(w, so, sol, sv, svl);
				count++;
				memcpy(synth[j], so, sol);
				last[j].oid = synth[j];
				last[j].len = sol;
				cur[j] = SYNTH;
				continue;
			}
			if (count >= FARM_MAX_VARBINDS || emit(w, m, d, i,
			    last[j].oid, last[j].len, room) == -1)
				goto full;
			count++;
			cur[j] = i;
			if (i < m->n) {
				last[j].oid = m->pool + m->ents[i].off;
				last[j].len = m->ents[i].oid_len;
			}
		}
	}
	finish_pdu(w, pdu->reqid, 0, 0);
	return;
full:
	if (count == 0)		/* not even one fits */
		error_pdu(w, pdu, ERR_TOOBIG, 0, 0, room + PDU_HDR_MAX);
	else
		finish_pdu(w, pdu->reqid, 0, 0);
}

int
agent_reply_pdu(struct bw *w, const struct farm_spec *s,
    const struct farm_tmpl *m, const struct farm_dev *d,
    const struct farm_pdu *pdu, int version, size_t room)
{
	struct reqvb	vb[FARM_MAX_REQ_VB];
	size_t		n, j, vroom;

	if (room < PDU_HDR_MAX + 8)
		room = PDU_HDR_MAX + 8;
	vroom = room - PDU_HDR_MAX;
	if (parse_vbl(pdu, vb, &n) == -1)
		return -1;
	if (s->bad == BAD_TOOBIG) {
		error_pdu(w, pdu, ERR_TOOBIG, 0, version == 0, room);
		return 0;
	}
	if (pdu->type == PDU_SET) {
		error_pdu(w, pdu, version == 0 ? ERR_READONLY : ERR_NOTWRITABLE,
		    n ? 1 : 0, 1, room);
		return 0;
	}
	if (pdu->type == PDU_GETBULK) {
		if (version == 0)
			return -1;	/* no GETBULK in v1 */
		bulk(w, s, m, d, pdu, vb, n, vroom);
		return 0;
	}
	for (j = 0; j < n; j++) {
		long	i;

		if (pdu->type == PDU_GET) {
			i = tmpl_find(m, vb[j].oid, vb[j].len);
			if (i >= 0 && !visible(m, (size_t)i, version))
				i = -1;
			if (i < 0 && version == 0) {
				error_pdu(w, pdu, ERR_NOSUCHNAME, (int)j + 1, 1, room);
				return 0;
			}
			if (i < 0) {
				uint8_t	val[2] = { absent_tag(m, vb[j].oid,
					    vb[j].len), 0 };

				if (bw_len(w) + vb_size(vb[j].len, 2) > vroom)
					goto toobig;
				put_vb(w, vb[j].oid, vb[j].len, val, 2);
				continue;
			}
		} else {
			uint8_t	so[24], sv[12];
			size_t	sol, svl;

			i = (long)next_index(s, m,
			    tmpl_next(m, vb[j].oid, vb[j].len), version);
			if (endless_next(s, m, (size_t)i, vb[j].oid, vb[j].len,
			    so, &sol, sv, &svl)) {
				if (bw_len(w) + vb_size(sol, svl) > vroom)
					goto toobig;
				put_vb(w, so, sol, sv, svl);
				continue;
			}
			if ((size_t)i >= m->n && version == 0) {
				error_pdu(w, pdu, ERR_NOSUCHNAME, (int)j + 1, 1, room);
				return 0;
			}
		}
		if (emit(w, m, d, (size_t)i, vb[j].oid, vb[j].len, vroom) == -1)
			goto toobig;
	}
	finish_pdu(w, pdu->reqid, 0, 0);
	return 0;
toobig:
	error_pdu(w, pdu, ERR_TOOBIG, 0, version == 0, room);
	return 0;
}

static int
community_ok(const struct farm_spec *s, const uint8_t *c, size_t len)
{
	int	i;

	for (i = 0; i < s->ncomm; i++)
		if (strlen(s->comm[i]) == len && memcmp(s->comm[i], c, len) == 0)
			return 1;
	return 0;
}

void
agent_handle(const struct farm_spec *s, const struct farm_dev *d,
    const uint8_t *req, size_t len, uint8_t *out, size_t outcap,
    struct farm_out *o)
{
	struct ber	 b = { req, req + len }, msg;
	const uint8_t	*v, *comm;
	size_t		 l, clen, limit;
	int64_t		 ver;
	struct farm_pdu	 pdu;
	struct bw	 w;

	o->len = 0;
	if (ber_expect(&b, T_SEQ, &v, &l) == -1) {
		farm_stats.bad_packets++;
		return;
	}
	msg.p = v;
	msg.end = v + l;
	if (ber_int(&msg, &ver) == -1) {
		farm_stats.bad_packets++;
		return;
	}
	if (ver == 3) {
		usm_handle(s, d, req, len, out, outcap, o);
		return;
	}
	if ((ver != 0 && ver != 1) || ber_octets(&msg, &comm, &clen) == -1 ||
	    clen > FARM_MAX_NAME ||
	    agent_parse_pdu(msg.p, (size_t)(msg.end - msg.p), &pdu) == -1) {
		farm_stats.bad_packets++;
		return;
	}
	if (!community_ok(s, comm, clen)) {
		farm_stats.bad_community++;	/* silently, as agents do */
		return;
	}
	limit = s->max_size > 0 && s->max_size < FARM_MAX_MSG ?
	    (size_t)s->max_size : FARM_MAX_MSG;
	bw_init(&w, out, outcap, FARM_HEADROOM);
	if (agent_reply_pdu(&w, s, s->tmpl, d, &pdu, (int)ver,
	    limit > 16 + clen ? limit - 16 - clen : 0) == -1) {
		farm_stats.bad_packets++;
		return;
	}
	bw_prepend_tlv(&w, T_OCTETS, comm, clen);
	bw_prepend_int(&w, ver);
	bw_wrap(&w, T_SEQ);
	if (w.err)
		return;
	memmove(out, out + w.lo, bw_len(&w));
	o->len = bw_len(&w);
}
