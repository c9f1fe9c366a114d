/*
 * Notifications on the wire: the SNMPv1 Trap-PDU (RFC 1157 4.1.6),
 * SNMPv2-Trap and InformRequest (RFC 3416 4.2.6, 4.2.7) in a community
 * message (RFC 1901) or an SNMPv3 message (RFC 3412 6, RFC 3414 2.4),
 * decoded with the bounded reader of ber.c into pointers and a fixed
 * array of varbinds; the Response to an inform echoes its varbinds.
 */
#include "snmp/trap_int.h"
#include "snmp/scan_int.h"

#include <stdio.h>
#include <string.h>

/* sysUpTime.0 and snmpTrapOID.0 (RFC 3416 4.2.6) */
static const oid sysuptime0[] = { 1, 3, 6, 1, 2, 1, 1, 3, 0 };
static const oid snmptrapoid0[] = { 1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0 };
/* snmpTraps, RFC 3584 3.1: generic trap N is snmpTraps.(N + 1) */
static const oid snmptraps[] = { 1, 3, 6, 1, 6, 3, 1, 1, 5 };

int
trap_oid_decode(const uint8_t *p, size_t len, oid *out, size_t max)
{
	uint32_t tmp[MAX_OID_LEN];
	int n;

	if (max > MAX_OID_LEN)
		max = MAX_OID_LEN;
	if ((n = scan_oid_decode(p, len, tmp, max)) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		out[i] = tmp[i];
	return n;
}

enum trap_verdict
trap_parse_scoped(struct ber scoped, struct trap_msg *m)
{
	struct ber s;

	if (ber_expect(&scoped, 0x30, &s) == -1 ||
	    ber_expect(&s, 0x04, &m->ctx_engid) == -1 ||
	    ber_expect(&s, 0x04, &m->ctx_name) == -1 ||
	    ber_next(&s, &m->pdu_type, &m->pdu) == -1)
		return TRAP_MALFORMED;
	return TRAP_OK;
}

static enum trap_verdict
parse_v3(struct ber *msg, struct trap_msg *m)
{
	struct ber global, flags, secp, usm;

	if (ber_expect(msg, 0x30, &global) == -1 ||
	    ber_int(&global, &m->msgid) == -1 ||
	    ber_int(&global, &m->msgmax) == -1 ||
	    ber_expect(&global, 0x04, &flags) == -1 || flags.end - flags.p != 1 ||
	    ber_int(&global, &m->model) == -1 || m->model != 3 ||
	    ber_expect(msg, 0x04, &secp) == -1 ||
	    ber_expect(&secp, 0x30, &usm) == -1 ||
	    ber_expect(&usm, 0x04, &m->engid) == -1 ||
	    ber_int(&usm, &m->boots) == -1 || ber_int(&usm, &m->time) == -1 ||
	    ber_expect(&usm, 0x04, &m->user) == -1 ||
	    ber_expect(&usm, 0x04, &m->auth_params) == -1 ||
	    ber_expect(&usm, 0x04, &m->priv_params) == -1 ||
	    ber_next(msg, &m->data_tag, &m->data) == -1)
		return TRAP_MALFORMED;
	m->flags = flags.p[0];
	/* priv without auth is not a security level (RFC 3412 7.2 d) */
	if ((m->flags & (TRAP_FLAG_AUTH | TRAP_FLAG_PRIV)) == TRAP_FLAG_PRIV ||
	    m->engid.end - m->engid.p > TRAP_ENGID_MAX ||
	    m->user.end - m->user.p > 32 ||
	    m->boots < 0 || m->boots > INT32_MAX ||
	    m->time < 0 || m->time > INT32_MAX)
		return TRAP_MALFORMED;
	if (m->flags & TRAP_FLAG_PRIV)
		return m->data_tag == 0x04 ? TRAP_OK : TRAP_MALFORMED;
	if (m->data_tag != 0x30)
		return TRAP_MALFORMED;
	/* plaintext: the ScopedPDU element is what data spans, header too */
	m->data.p -= ber_hdr_len((size_t)(m->data.end - m->data.p));
	return TRAP_OK;
}

enum trap_verdict
trap_parse_msg(const uint8_t *buf, size_t len, struct trap_msg *m)
{
	struct ber all = { buf, buf + len }, msg;
	int64_t version;

	memset(m, 0, sizeof(*m));
	if (ber_expect(&all, 0x30, &msg) == -1 || ber_int(&msg, &version) == -1)
		return TRAP_MALFORMED;
	switch (version) {
	case 0:
	case 1:
		m->version = version == 0 ? CFG_SNMP_V1 : CFG_SNMP_V2C;
		if (ber_expect(&msg, 0x04, &m->community) == -1 ||
		    ber_next(&msg, &m->pdu_type, &m->pdu) == -1)
			return TRAP_MALFORMED;
		return TRAP_OK;
	case 3:
		m->version = CFG_SNMP_V3;
		return parse_v3(&msg, m);
	default:
		return TRAP_MALFORMED;
	}
}

static bool
oid_is(const oid *a, size_t alen, const oid *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen * sizeof(oid)) == 0;
}

/* An unsigned 32-bit application value (Counter32, Gauge32, TimeTicks):
 * up to 5 octets, a leading zero allowed. Lenient on sign, as devices
 * send 0xFFFFFFFF in 4 octets. */
static int
uint32_content(const struct ber *c, uint32_t *out)
{
	size_t n = (size_t)(c->end - c->p);
	uint64_t v = 0;

	if (n == 0 || n > 5 || (n == 5 && c->p[0] != 0))
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | c->p[i];
	*out = (uint32_t)v;
	return 0;
}

/* One value into vb: pointers into the datagram, numbers into vb->buf
 * (as net-snmp's own variables keep them). */
static int
decode_value(uint8_t tag, const struct ber *c, struct trap_vb *t)
{
	netsnmp_variable_list *vb = &t->v;
	size_t n = (size_t)(c->end - c->p);
	int64_t i64;
	uint32_t u32;

	vb->type = tag;
	vb->val.string = vb->buf;
	vb->val_len = 0;
	switch (tag) {
	case ASN_INTEGER:
		if (ber_int_content(c, &i64) == -1 || i64 < INT32_MIN ||
		    i64 > INT32_MAX)
			return -1;
		*vb->val.integer = (long)i64;
		vb->val_len = sizeof(long);
		return 0;
	case ASN_COUNTER:
	case ASN_GAUGE:
	case ASN_TIMETICKS:
	case ASN_UINTEGER:
		if (uint32_content(c, &u32) == -1)
			return -1;
		*vb->val.integer = (long)u32;
		vb->val_len = sizeof(long);
		return 0;
	case ASN_COUNTER64: {
		uint64_t v = 0;
		if (n == 0 || n > 9 || (n == 9 && c->p[0] != 0))
			return -1;
		for (size_t i = 0; i < n; i++)
			v = v << 8 | c->p[i];
		vb->val.counter64->high = (u_long)(v >> 32);
		vb->val.counter64->low = (u_long)(v & 0xffffffffu);
		vb->val_len = sizeof(struct counter64);
		return 0;
	}
	case ASN_OCTET_STR:
	case ASN_OPAQUE:
	case ASN_IPADDRESS:
		vb->val.string = (u_char *)c->p;
		vb->val_len = n;
		return 0;
	case ASN_OBJECT_ID: {
		int k = trap_oid_decode(c->p, n, t->objid, MAX_OID_LEN);
		if (k < 0)
			return -1;
		vb->val.objid = t->objid;
		vb->val_len = (size_t)k * sizeof(oid);
		return 0;
	}
	case ASN_NULL:
	case SNMP_NOSUCHOBJECT:
	case SNMP_NOSUCHINSTANCE:
	case SNMP_ENDOFMIBVIEW:
		return n == 0 ? 0 : -1;
	default:
		return -1;   /* no other type may be in a varbind (RFC 3416 3) */
	}
}

static enum trap_verdict
parse_vbl(struct ber vbl, struct trap_decoded *d, size_t *count)
{
	size_t n = 0;

	while (vbl.p < vbl.end) {
		struct ber vb, name, val;
		struct trap_vb *t;
		uint8_t tag;
		int k;

		if (n == OSNMP_TRAP_MAX_VARBINDS)
			return TRAP_MALFORMED;
		t = &d->vbs[n];
		memset(&t->v, 0, sizeof(t->v));
		if (ber_expect(&vbl, 0x30, &vb) == -1 ||
		    ber_expect(&vb, 0x06, &name) == -1 ||
		    ber_next(&vb, &tag, &val) == -1 || vb.p != vb.end ||
		    (k = trap_oid_decode(name.p, (size_t)(name.end - name.p),
		    t->v.name_loc, MAX_OID_LEN)) < 0 ||
		    decode_value(tag, &val, t) == -1)
			return TRAP_MALFORMED;
		t->v.name = t->v.name_loc;
		t->v.name_length = (size_t)k;
		if (n > 0)
			d->vbs[n - 1].v.next_variable = &t->v;
		n++;
	}
	*count = n;
	return TRAP_OK;
}

static void
link_from(struct trap_decoded *d, size_t first, size_t count)
{
	d->n.vbs = first < count ? &d->vbs[first].v : NULL;
	d->n.nvbs = first < count ? count - first : 0;
}

static enum trap_verdict
parse_v1(const struct trap_msg *m, struct trap_decoded *d)
{
	struct ber pdu = m->pdu, ent, addr, ts, vbl;
	int64_t generic, specific;
	size_t count;
	uint32_t up;
	int k;

	if (ber_expect(&pdu, 0x06, &ent) == -1 ||
	    (k = trap_oid_decode(ent.p, (size_t)(ent.end - ent.p), d->enterprise,
	    MAX_OID_LEN - 2)) < 0 ||
	    ber_expect(&pdu, ASN_IPADDRESS, &addr) == -1 || addr.end - addr.p != 4 ||
	    ber_int(&pdu, &generic) == -1 || generic < 0 || generic > 6 ||
	    ber_int(&pdu, &specific) == -1 || specific < 0 ||
	    specific > INT32_MAX ||
	    ber_expect(&pdu, ASN_TIMETICKS, &ts) == -1 ||
	    uint32_content(&ts, &up) == -1 ||
	    ber_expect(&pdu, 0x30, &vbl) == -1 ||
	    parse_vbl(vbl, d, &count) != TRAP_OK)
		return TRAP_MALFORMED;
	d->n.enterprise = d->enterprise;
	d->n.enterprise_len = (size_t)k;
	snprintf(d->n.agent_addr, sizeof(d->n.agent_addr), "%u.%u.%u.%u",
	    addr.p[0], addr.p[1], addr.p[2], addr.p[3]);
	d->n.generic = (long)generic;
	d->n.specific = (long)specific;
	d->n.uptime = up;
	/* RFC 3584 3.1 (2): enterpriseSpecific is enterprise.0.specific,
	 * the others snmpTraps.(generic + 1). */
	if (generic == 6) {
		memcpy(d->trap_oid, d->enterprise, (size_t)k * sizeof(oid));
		d->trap_oid[k] = 0;
		d->trap_oid[k + 1] = (oid)specific;
		d->n.trap_oid_len = (size_t)k + 2;
	} else {
		memcpy(d->trap_oid, snmptraps, sizeof(snmptraps));
		d->trap_oid[countof(snmptraps)] = (oid)generic + 1;
		d->n.trap_oid_len = countof(snmptraps) + 1;
	}
	d->n.trap_oid = d->trap_oid;
	link_from(d, 0, count);
	return TRAP_OK;
}

enum trap_verdict
trap_parse_pdu(struct trap_msg *m, struct trap_decoded *d)
{
	struct ber pdu = m->pdu, vbl, start;
	int64_t reqid, es, ei;
	size_t count, first = 0;

	d->n.version = m->version;
	if (m->pdu_type == TRAP_PDU_V1TRAP)
		return m->version == CFG_SNMP_V1 ? parse_v1(m, d) : TRAP_MALFORMED;
	if (m->pdu_type != TRAP_PDU_V2TRAP && m->pdu_type != TRAP_PDU_INFORM)
		return (m->pdu_type & 0xe0) == 0xa0 ? TRAP_NOT_NOTIFICATION :
		    TRAP_MALFORMED;
	if (m->version == CFG_SNMP_V1)
		return TRAP_MALFORMED;   /* no v2 PDUs in v1 (RFC 3584 4.1.2) */
	start = pdu;
	if (ber_int(&pdu, &reqid) == -1 || ber_int(&pdu, &es) == -1 ||
	    ber_int(&pdu, &ei) == -1)
		return TRAP_MALFORMED;
	start.p = pdu.p;
	if (ber_expect(&pdu, 0x30, &vbl) == -1 ||
	    parse_vbl(vbl, d, &count) != TRAP_OK)
		return TRAP_MALFORMED;
	m->reqid = reqid;
	m->vbl_elem.p = start.p;
	m->vbl_elem.end = vbl.end;
	d->n.inform = m->pdu_type == TRAP_PDU_INFORM;
	/* sysUpTime.0 then snmpTrapOID.0 (RFC 3416 4.2.6): what the event
	 * carries as uptime and trap_oid, not again among the varbinds. */
	if (count > first && d->vbs[first].v.type == ASN_TIMETICKS &&
	    oid_is(d->vbs[first].v.name, d->vbs[first].v.name_length,
	    sysuptime0, countof(sysuptime0))) {
		d->n.uptime = (uint32_t)*d->vbs[first].v.val.integer;
		first++;
	}
	if (count <= first || d->vbs[first].v.type != ASN_OBJECT_ID ||
	    !oid_is(d->vbs[first].v.name, d->vbs[first].v.name_length,
	    snmptrapoid0, countof(snmptrapoid0)))
		return TRAP_MALFORMED;
	d->n.trap_oid = d->vbs[first].v.val.objid;
	d->n.trap_oid_len = d->vbs[first].v.val_len / sizeof(oid);
	first++;
	link_from(d, first, count);
	return TRAP_OK;
}

/* RFC 3416 4.2.7: a Response with the inform's request-id and
 * variable-bindings, error-status and error-index 0. */
void
trap_w_response_pdu(struct wbuf *w, const struct trap_msg *m)
{
	size_t vlen = (size_t)(m->vbl_elem.end - m->vbl_elem.p);
	uint8_t zero[] = { 0x02, 1, 0 };

	/* the request id's own length first, to size the PDU header */
	uint8_t idb[12];
	struct wbuf idw = { idb, 0, sizeof(idb), false };
	ber_w_int(&idw, 0x02, m->reqid);
	ber_w_hdr(w, TRAP_PDU_RESPONSE, idw.len + 2 * sizeof(zero) + vlen);
	ber_w_bytes(w, idb, idw.len);
	ber_w_bytes(w, zero, sizeof(zero));
	ber_w_bytes(w, zero, sizeof(zero));
	ber_w_bytes(w, m->vbl_elem.p, vlen);
}

size_t
trap_response_v2c(const struct trap_msg *m, uint8_t *out, size_t cap)
{
	uint8_t pdu[TRAP_DGRAM_MAX];
	struct wbuf p = { pdu, 0, sizeof(pdu), false };
	struct wbuf w = { out, 0, cap, false };
	size_t clen = (size_t)(m->community.end - m->community.p);
	uint8_t ver[] = { 0x02, 1, 1 };

	trap_w_response_pdu(&p, m);
	ber_w_hdr(&w, 0x30, sizeof(ver) + ber_hdr_len(clen) + clen + p.len);
	ber_w_bytes(&w, ver, sizeof(ver));
	ber_w_tlv(&w, 0x04, m->community.p, clen);
	ber_w_bytes(&w, pdu, p.len);
	return p.over || w.over ? 0 : w.len;
}
