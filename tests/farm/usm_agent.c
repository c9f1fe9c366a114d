/* The agent side of SNMPv3: one request in, one reply or report out
 * (RFC 3412 7.2, RFC 3414 3.2). Keys and ciphers are in usm.c. */
#include <openssl/crypto.h>
#include <string.h>

#include "farm.h"

struct v3req {
	int64_t		 msgid, maxsize, boots, time;
	int		 flags;
	const uint8_t	*eid, *user, *authp, *privp, *data;
	size_t		 eidlen, userlen, authlen, privlen, datalen;
	uint8_t		 datatag;
};

static int
v3_parse(const uint8_t *m, size_t len, struct v3req *r)
{
	struct ber	 b = { m, m + len }, msg, g, sp, u;
	const uint8_t	*v, *fl;
	size_t		 l, fllen;
	int64_t		 ver, model;

	if (ber_expect(&b, T_SEQ, &v, &l) == -1)
		return -1;
	msg.p = v, msg.end = v + l;
	if (ber_int(&msg, &ver) == -1 || ver != 3 ||
	    ber_expect(&msg, T_SEQ, &v, &l) == -1)
		return -1;
	g.p = v, g.end = v + l;
	if (ber_int(&g, &r->msgid) == -1 || ber_int(&g, &r->maxsize) == -1 ||
	    ber_octets(&g, &fl, &fllen) == -1 || fllen != 1 ||
	    ber_int(&g, &model) == -1 || model != 3 ||
	    r->msgid < 0 || r->msgid > INT32_MAX || r->maxsize < 484)
		return -1;
	r->flags = fl[0];
	if (ber_octets(&msg, &v, &l) == -1)
		return -1;
	sp.p = v, sp.end = v + l;
	if (ber_expect(&sp, T_SEQ, &v, &l) == -1)
		return -1;
	u.p = v, u.end = v + l;
	if (ber_octets(&u, &r->eid, &r->eidlen) == -1 ||
	    ber_int(&u, &r->boots) == -1 || ber_int(&u, &r->time) == -1 ||
	    ber_octets(&u, &r->user, &r->userlen) == -1 ||
	    ber_octets(&u, &r->authp, &r->authlen) == -1 ||
	    ber_octets(&u, &r->privp, &r->privlen) == -1 ||
	    r->eidlen > 32 || r->userlen > 32 || r->boots < 0 || r->time < 0 ||
	    r->boots > INT32_MAX || r->time > INT32_MAX)
		return -1;
	if (ber_next(&msg, &r->datatag, &r->data, &r->datalen) == -1 ||
	    (r->datatag != T_SEQ && r->datatag != T_OCTETS))
		return -1;
	return 0;
}

/* ScopedPDU content: contextEngineID, contextName, PDU. */
static int
scoped_parse(const uint8_t *p, size_t len, const uint8_t **ctx, size_t *ctxlen,
    struct farm_pdu *pdu)
{
	struct ber	 b = { p, p + len };
	const uint8_t	*ceid;
	size_t		 ceidlen;

	if (ber_octets(&b, &ceid, &ceidlen) == -1 ||
	    ber_octets(&b, ctx, ctxlen) == -1 || *ctxlen > FARM_MAX_NAME)
		return -1;
	return agent_parse_pdu(b.p, (size_t)(b.end - b.p), pdu);
}

static void
v3_send(struct bw *w, const struct v3req *r, int level,
    const struct usm_keys *k, const uint8_t *eid, const uint8_t *ctx,
    size_t ctxlen, uint8_t *out, struct farm_out *o)
{
	uint8_t	privp[8] = { 0 };
	uint32_t t = usm_time();

	bw_prepend_tlv(w, T_OCTETS, ctx, ctxlen);
	bw_prepend_tlv(w, T_OCTETS, eid, 9);
	bw_wrap(w, T_SEQ);
	if ((level & 2) && usm_encrypt(k, usm_boots(), t, usm_salt(), w, privp) == -1)
		return;
	if (usm_wrap(w, r->msgid, level, eid, 9, usm_boots(), t, (const char *)r->user,
	    r->userlen, k, privp) == -1)
		return;
	memmove(out, out + w->lo, bw_len(w));
	o->len = bw_len(w);
}

/* RFC 3414 3.2: a Report carrying the counter of what went wrong. */
static void
v3_report(const struct v3req *r, const char *oid, uint64_t count,
    int64_t reqid, int level, const struct usm_keys *k, const uint8_t *eid,
    const uint8_t *ctx, size_t ctxlen, uint8_t *out, size_t outcap,
    struct farm_out *o)
{
	struct bw	w;
	uint8_t		o_ber[64], val[12];
	int		ol = ber_oid_parse(oid, o_ber, sizeof(o_ber));
	size_t		vl = ber_uint_tlv(val, T_COUNTER32, count & 0xffffffffULL);

	if (!(r->flags & 4))
		return;		/* not reportable */
	bw_init(&w, out, outcap, FARM_HEADROOM);
	bw_append_hdr(&w, T_SEQ, 2 + (size_t)ol + vl);
	bw_append_tlv(&w, T_OID, o_ber, (size_t)ol);
	bw_append(&w, val, vl);
	bw_wrap(&w, T_SEQ);
	bw_prepend_int(&w, 0);
	bw_prepend_int(&w, 0);
	bw_prepend_int(&w, reqid);
	bw_wrap(&w, PDU_REPORT);
	v3_send(&w, r, level, k, eid, ctx, ctxlen, out, o);
}

#define USMSTATS	"1.3.6.1.6.3.15.1.1."

void
usm_handle(const struct farm_spec *s, const struct farm_dev *d,
    const uint8_t *req, size_t len, uint8_t *out, size_t outcap,
    struct farm_out *o)
{
	static uint8_t		 scratch[FARM_MAX_MSG], plain[FARM_MAX_MSG + 16];
	static const struct usm_keys none;
	const struct farm_user	*u = NULL;
	const struct usm_keys	*k = &none;
	const struct farm_tmpl	*m = NULL;
	const uint8_t		*sp, *ctx = NULL;
	struct v3req		 r;
	struct farm_pdu		 pdu;
	uint8_t			 eid[9];
	size_t			 splen, ctxlen = 0, limit, over;
	int			 i, level, ulevel, have_pdu = 0;
	struct bw		 w;

	o->len = 0;
	if (v3_parse(req, len, &r) == -1 || ((r.flags & 3) == 2)) {
		farm_stats.bad_packets++;
		return;
	}
	level = r.flags & 3;
	usm_engine_id(d->addr, eid);
	if (r.datatag == T_SEQ) {
		sp = r.data, splen = r.datalen;
		have_pdu = scoped_parse(sp, splen, &ctx, &ctxlen, &pdu) == 0;
	} else if (!(level & 2)) {
		farm_stats.bad_packets++;
		return;
	}
	if (r.eidlen != 9 || memcmp(r.eid, eid, 9) != 0) {
		farm_stats.unknown_engine++;
		v3_report(&r, USMSTATS "4.0", farm_stats.unknown_engine,
		    have_pdu ? pdu.reqid : 0, 0, k, eid, ctx, ctxlen, out, outcap, o);
		return;
	}
	for (i = 0; i < s->nusers; i++)
		if (strlen(s->users[i].name) == r.userlen &&
		    memcmp(s->users[i].name, r.user, r.userlen) == 0)
			u = &s->users[i];
	if (u == NULL) {
		farm_stats.unknown_user++;
		v3_report(&r, USMSTATS "3.0", farm_stats.unknown_user,
		    have_pdu ? pdu.reqid : 0, 0, k, eid, ctx, ctxlen, out, outcap, o);
		return;
	}
	ulevel = u->auth == AUTH_NONE ? 0 : u->priv == PRIV_NONE ? 1 : 3;
	if ((level & ~ulevel) != 0) {
		farm_stats.unsupported_level++;
		v3_report(&r, USMSTATS "1.0", farm_stats.unsupported_level,
		    have_pdu ? pdu.reqid : 0, 0, k, eid, ctx, ctxlen, out, outcap, o);
		return;
	}
	if (level & 1) {
		uint8_t	 want[64];
		size_t	 ml = usm_maclen(u->auth);
		uint32_t now = usm_time();

		k = usm_keys_for(u, d->addr);
		if (r.authlen != ml) {
			farm_stats.wrong_digest++;
			return;
		}
		/* RFC 3414 6.3.2: the MAC over the message, its own field zeroed */
		memcpy(scratch, req, len);
		memset(scratch + (r.authp - req), 0, ml);
		usm_mac(k, scratch, len, want);
		if (CRYPTO_memcmp(want, r.authp, ml) != 0) {
			farm_stats.wrong_digest++;
			v3_report(&r, USMSTATS "5.0", farm_stats.wrong_digest,
			    have_pdu ? pdu.reqid : 0, 0, &none, eid, ctx, ctxlen,
			    out, outcap, o);
			return;
		}
		if ((uint32_t)r.boots != usm_boots() || r.time > (int64_t)now + 150 ||
		    r.time + 150 < (int64_t)now) {
			farm_stats.not_in_window++;
			v3_report(&r, USMSTATS "2.0", farm_stats.not_in_window,
			    have_pdu ? pdu.reqid : 0, 1, k, eid, ctx, ctxlen, out,
			    outcap, o);
			return;
		}
	}
	if (level & 2) {
		size_t	plen;

		if (r.datatag != T_OCTETS || r.privlen != 8 ||
		    usm_decrypt(k, (uint32_t)r.boots, (uint32_t)r.time, r.privp,
		    r.data, r.datalen, plain, &plen) == -1) {
			farm_stats.decrypt_err++;
			v3_report(&r, USMSTATS "6.0", farm_stats.decrypt_err, 0, 0,
			    &none, eid, NULL, 0, out, outcap, o);
			return;
		}
		{
			struct ber	 b = { plain, plain + plen };
			const uint8_t	*v;
			size_t		 l;

			have_pdu = ber_expect(&b, T_SEQ, &v, &l) == 0 &&
			    scoped_parse(v, l, &ctx, &ctxlen, &pdu) == 0;
		}
		if (!have_pdu) {
			farm_stats.decrypt_err++;
			v3_report(&r, USMSTATS "6.0", farm_stats.decrypt_err, 0, 0,
			    &none, eid, NULL, 0, out, outcap, o);
			return;
		}
	}
	if (!have_pdu) {
		farm_stats.bad_packets++;
		return;
	}
	if (ctxlen == 0)
		m = s->tmpl;
	for (i = 0; m == NULL && i < s->nctx; i++)
		if (strlen(s->ctx[i].name) == ctxlen &&
		    memcmp(s->ctx[i].name, ctx, ctxlen) == 0)
			m = s->ctx[i].tmpl;
	if (m == NULL) {
		farm_stats.unknown_ctx++;	/* snmpUnknownContexts.0 */
		v3_report(&r, "1.3.6.1.6.3.12.1.5.0", farm_stats.unknown_ctx,
		    pdu.reqid, level, k, eid, ctx, ctxlen, out, outcap, o);
		return;
	}
	limit = (size_t)r.maxsize;
	if (s->max_size > 0 && (size_t)s->max_size < limit)
		limit = (size_t)s->max_size;
	if (limit > FARM_MAX_MSG)
		limit = FARM_MAX_MSG;
	/* everything around the PDU: headers, names, MAC, DES padding */
	over = 96 + 9 + 9 + r.userlen + ctxlen + 48 + 8 + 8;
	bw_init(&w, out, outcap, FARM_HEADROOM);
	if (agent_reply_pdu(&w, s, m, d, &pdu, 3,
	    limit > over ? limit - over : 0) == -1) {
		farm_stats.bad_packets++;
		return;
	}
	v3_send(&w, &r, level, k, eid, ctx, ctxlen, out, o);
}
