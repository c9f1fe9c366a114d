/*
 * This agent as an SNMPv3 engine for notifications (RFC 3414).
 *
 * A trap's authoritative engine is its sender (RFC 3412 6.4): its keys
 * are localised to the engine ID in the message, and the time window
 * is not checked (this agent keeps no clock per sender). An inform's is
 * the receiver, this agent: it has its own engine ID, kept in
 * state_dir/snmp_engine with engineBoots, which grows by one at each
 * start, so a sender that cached the old boots is told notInTimeWindow
 * and learns the new ones. A sender that does not know the engine ID
 * yet asks with an empty one and gets a usmStatsUnknownEngineIDs Report
 * (RFC 3414 4). Keys come from v3keys.c's caches (Ku once per password,
 * Kul once per engine ID); HMAC and ciphers from libcrypto.
 */
#include "snmp/trap_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENGINE_FILE "snmp_engine"
#define BOOTS_MAX   2147483647

/* usmStats: unknownEngineIDs, notInTimeWindows (RFC 3414 5) */
static const uint8_t stat_unknown_engid[] = { 0x2b, 6, 1, 6, 3, 15, 1, 1, 4, 0 };
static const uint8_t stat_time_window[] = { 0x2b, 6, 1, 6, 3, 15, 1, 1, 2, 0 };

struct trap_usm {
	struct osnmp_engine *keys;
	const struct config_credential **users;   /* the array is ours */
	size_t   nusers;
	uint8_t  engid[TRAP_ENGID_MAX];
	size_t   engid_len;
	uint32_t boots;
	uint64_t start_ms;
	uint64_t salt;                 /* the next privacy salt */
	uint64_t reports_unknown, reports_time;   /* usmStats counters */
	uint8_t  plain[TRAP_DGRAM_MAX];
	uint8_t  tmp[TRAP_DGRAM_MAX];
};

/* ---- the engine ID and boots ------------------------------------------ */

static int
hex_decode(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > max || n < 10)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static void
hex_encode(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 3 <= cap; i++, o += 2)
		snprintf(out + o, cap - o, "%02x", p[i]);
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
}

/* "engine_id HEX\nboots N\n", written whole (temp, fsync, rename). */
static int
state_save(const struct trap_usm *u, const char *dir, char *err, size_t errlen)
{
	char path[512], tmp[520], hex[2 * TRAP_ENGID_MAX + 1], text[128];
	int fd, n;

	hex_encode(u->engid, u->engid_len, hex, sizeof(hex));
	n = snprintf(text, sizeof(text), "engine_id %s\nboots %u\n", hex, u->boots);
	snprintf(path, sizeof(path), "%s/%s", dir, ENGINE_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, text, (size_t)n) != n || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		if (fd != -1)
			(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* A new engine ID: RFC 3411 format 5 (octets), enterprise 0, then 12
 * random octets: unique without any configuration. */
static int
state_load(struct trap_usm *u, const char *dir, char *err, size_t errlen)
{
	char path[512], line[200], hex[100];
	unsigned long boots = 0;
	bool have_id = false;
	FILE *f;

	u->boots = 1;
	u->engid_len = 17;
	memcpy(u->engid, (uint8_t[]){ 0x80, 0, 0, 0, 5 }, 5);
	if (RAND_bytes(u->engid + 5, 12) != 1) {
		snprintf(err, errlen, "no random source for the engine ID");
		return -1;
	}
	if (dir == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, ENGINE_FILE);
	if ((f = fopen(path, "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "engine_id %99s", hex) == 1)
				have_id = hex_decode(hex, u->engid, sizeof(u->engid),
				    &u->engid_len) == 0;
			else
				(void)sscanf(line, "boots %lu", &boots);
		}
		fclose(f);
		if (!have_id) {
			snprintf(err, errlen, "%s: no valid engine_id line (delete "
			    "the file to make a new engine ID)", path);
			return -1;
		}
		u->boots = boots >= BOOTS_MAX ? BOOTS_MAX : (uint32_t)boots + 1;
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	return state_save(u, dir, err, errlen);
}

struct trap_usm *
trap_usm_new(struct osnmp_engine *keys, const struct config_credential *const *users,
    size_t nusers, const char *state_dir, char *err, size_t errlen)
{
	struct trap_usm *u = xcalloc(1, sizeof(*u));

	u->keys = keys;
	u->users = xcalloc(nusers + 1, sizeof(*u->users));
	memcpy(u->users, users, nusers * sizeof(*users));
	u->nusers = nusers;
	u->start_ms = mono_ms();
	if (state_load(u, state_dir, err, errlen) == -1 ||
	    RAND_bytes((uint8_t *)&u->salt, sizeof(u->salt)) != 1) {
		free(u->users);
		free(u);
		return NULL;
	}
	return u;
}

void
trap_usm_free(struct trap_usm *u)
{
	if (u == NULL)
		return;
	explicit_bzero(u->plain, sizeof(u->plain));
	explicit_bzero(u->tmp, sizeof(u->tmp));
	free(u->users);
	free(u);
}

void
trap_usm_engine(const struct trap_usm *u, char *hex, size_t len, uint32_t *boots)
{
	hex_encode(u->engid, u->engid_len, hex, len);
	*boots = u->boots;
}

static uint32_t
usm_time(const struct trap_usm *u)
{
	return (uint32_t)((mono_ms() - u->start_ms) / 1000);
}

/* ---- crypto ----------------------------------------------------------- */

static const EVP_MD *
auth_md(int proto, size_t *maclen)
{
	switch (proto) {
	case CFG_AUTH_MD5:    *maclen = 12; return EVP_md5();
	case CFG_AUTH_SHA224: *maclen = 16; return EVP_sha224();
	case CFG_AUTH_SHA256: *maclen = 24; return EVP_sha256();
	case CFG_AUTH_SHA384: *maclen = 32; return EVP_sha384();
	case CFG_AUTH_SHA512: *maclen = 48; return EVP_sha512();
	default:              *maclen = 12; return EVP_sha1();   /* RFC 3414 7 */
	}
}

/* The truncated HMAC of msg (auth params zeroed by the caller). */
static int
usm_mac(const struct config_credential *c, const struct v3_keys *k,
    const uint8_t *msg, size_t len, uint8_t *mac, size_t *maclen)
{
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int flen = 0;
	const EVP_MD *md = auth_md(c->auth_protocol, maclen);

	if (HMAC(md, k->auth, (int)k->auth_len, msg, len, full, &flen) == NULL ||
	    flen < *maclen)
		return -1;
	memcpy(mac, full, *maclen);
	return 0;
}

static const EVP_CIPHER *
aes_cfb(int proto)
{
	switch (proto) {
	case CFG_PRIV_AES192:
	case CFG_PRIV_AES192C: return EVP_aes_192_cfb128();
	case CFG_PRIV_AES256:
	case CFG_PRIV_AES256C: return EVP_aes_256_cfb128();
	default:               return EVP_aes_128_cfb128();
	}
}

/*
 * Decrypt (enc 0) or encrypt (enc 1) n octets of in into out. AES (RFC
 * 3826 3.1.2.1): IV = boots, time (of the authoritative engine, as in
 * the message) and the 8-octet salt. DES (RFC 3414 8.1.1.1): the key's
 * second half XOR the salt; n a multiple of 8.
 */
static int
usm_crypt(const struct config_credential *c, const struct v3_keys *k,
    uint32_t boots, uint32_t etime, const uint8_t salt[8], const uint8_t *in,
    size_t n, uint8_t *out, int enc)
{
	uint8_t iv[16];
	int ok, outl = 0;

	if (c->priv_protocol == CFG_PRIV_DES) {
		size_t len = n;
		const oid *des;
		size_t deslen;
		if (n % 8 || k->priv_len < 16)
			return -1;
		for (int i = 0; i < 8; i++)
			iv[i] = salt[i] ^ k->priv[8 + i];
		des = v3_priv_oid(CFG_PRIV_DES, &deslen);
		return (enc ? sc_encrypt(des, deslen, (u_char *)k->priv, 8, iv, 8,
		    in, (u_int)n, out, &len) : sc_decrypt(des, deslen,
		    (u_char *)k->priv, 8, iv, 8, (u_char *)in, (u_int)n, out,
		    &len)) == SNMPERR_SUCCESS && len == n ? 0 : -1;
	}
	const EVP_CIPHER *ciph = aes_cfb(c->priv_protocol);
	EVP_CIPHER_CTX *ctx;

	if (k->priv_len < (size_t)EVP_CIPHER_key_length(ciph))
		return -1;
	for (int i = 0; i < 4; i++) {
		iv[i] = (uint8_t)(boots >> (24 - 8 * i));
		iv[4 + i] = (uint8_t)(etime >> (24 - 8 * i));
	}
	memcpy(iv + 8, salt, 8);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_CipherInit_ex(ctx, ciph, NULL, k->priv, iv, enc) == 1 &&
	    EVP_CipherUpdate(ctx, out, &outl, in, (int)n) == 1 &&
	    (size_t)outl == n;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* ---- messages out ----------------------------------------------------- */

struct v3_out {
	uint8_t     flags;
	const uint8_t *engid;
	size_t      engid_len;
	uint32_t    boots, time;
	const struct ber *user;
	size_t      maclen;      /* 0: no auth */
	const uint8_t *salt;     /* NULL: no priv */
	const uint8_t *data;     /* the ScopedPDU element, or ciphertext */
	size_t      data_len;
	bool        encrypted;
};

/* The whole message; *auth_off: where the MAC goes. */
static size_t
v3_message(const struct trap_msg *m, const struct v3_out *o, uint8_t *out,
    size_t cap, size_t *auth_off)
{
	uint8_t g[64], us[256], zero[48] = { 0 };
	struct wbuf gw = { g, 0, sizeof(g), false };
	struct wbuf uw = { us, 0, sizeof(us), false };
	struct wbuf w = { out, 0, cap, false };
	size_t ulen = (size_t)(o->user->end - o->user->p), body, uauth, dlen;
	uint8_t gbody[40];
	struct wbuf gb = { gbody, 0, sizeof(gbody), false };
	uint8_t ubody[200];
	struct wbuf ub = { ubody, 0, sizeof(ubody), false };

	ber_w_int(&gb, 0x02, m->msgid);
	ber_w_int(&gb, 0x02, 65507);
	ber_w_tlv(&gb, 0x04, &o->flags, 1);
	ber_w_int(&gb, 0x02, 3);
	ber_w_tlv(&gw, 0x30, gbody, gb.len);

	ber_w_tlv(&ub, 0x04, o->engid, o->engid_len);
	ber_w_int(&ub, 0x02, o->boots);
	ber_w_int(&ub, 0x02, o->time);
	ber_w_tlv(&ub, 0x04, o->user->p, ulen);
	ber_w_hdr(&ub, 0x04, o->maclen);
	uauth = ub.len;
	ber_w_bytes(&ub, zero, o->maclen);
	ber_w_tlv(&ub, 0x04, o->salt, o->salt ? 8 : 0);
	ber_w_hdr(&uw, 0x30, ub.len);
	uauth += uw.len;
	ber_w_bytes(&uw, ubody, ub.len);

	dlen = o->encrypted ? ber_hdr_len(o->data_len) + o->data_len : o->data_len;
	body = 3 + gw.len + ber_hdr_len(uw.len) + uw.len + dlen;
	ber_w_hdr(&w, 0x30, body);
	ber_w_bytes(&w, (uint8_t[]){ 0x02, 1, 3 }, 3);
	ber_w_bytes(&w, g, gw.len);
	ber_w_hdr(&w, 0x04, uw.len);
	*auth_off = w.len + uauth;
	ber_w_bytes(&w, us, uw.len);
	if (o->encrypted)
		ber_w_hdr(&w, 0x04, o->data_len);
	ber_w_bytes(&w, o->data, o->data_len);
	return gw.over || ub.over || uw.over || gb.over || w.over ? 0 : w.len;
}

static size_t
v3_finish(const struct config_credential *c, const struct v3_keys *k,
    uint8_t *out, size_t len, size_t auth_off, size_t maclen)
{
	uint8_t mac[48];
	size_t ml;

	if (len == 0 || maclen == 0)
		return len;
	if (usm_mac(c, k, out, len, mac, &ml) == -1 || ml != maclen)
		return 0;
	memcpy(out + auth_off, mac, ml);
	return len;
}

/* A Report (RFC 3412 7.1 3b) of one usmStats counter. */
static size_t
v3_report(struct trap_usm *u, const struct trap_msg *m, const uint8_t *stat,
    size_t statlen, uint64_t count, const struct config_credential *c,
    const struct v3_keys *k, uint8_t *out, size_t cap)
{
	uint8_t vb[64], pdu[128], scoped[256];
	struct wbuf vw = { vb, 0, sizeof(vb), false };
	struct wbuf pw = { pdu, 0, sizeof(pdu), false };
	struct wbuf sw = { scoped, 0, sizeof(scoped), false };
	uint8_t inner[100], pbody[120];
	struct wbuf iw = { inner, 0, sizeof(inner), false };
	struct wbuf pb = { pbody, 0, sizeof(pbody), false };
	struct ber none = { NULL, NULL };
	size_t maclen = 0, auth_off, len;

	ber_w_tlv(&iw, 0x06, stat, statlen);
	ber_w_int(&iw, ASN_COUNTER, (int64_t)(count & 0xffffffffu));
	ber_w_tlv(&vw, 0x30, inner, iw.len);
	ber_w_int(&pb, 0x02, m->reqid);
	ber_w_int(&pb, 0x02, 0);
	ber_w_int(&pb, 0x02, 0);
	ber_w_tlv(&pb, 0x30, vb, vw.len);
	ber_w_tlv(&pw, TRAP_PDU_REPORT, pbody, pb.len);
	ber_w_hdr(&sw, 0x30, ber_hdr_len(u->engid_len) + u->engid_len + 2 + pw.len);
	ber_w_tlv(&sw, 0x04, u->engid, u->engid_len);
	ber_w_tlv(&sw, 0x04, NULL, 0);
	ber_w_bytes(&sw, pdu, pw.len);
	if (c != NULL)
		auth_md(c->auth_protocol, &maclen);
	struct v3_out o = {
		.flags = c != NULL ? TRAP_FLAG_AUTH : 0,
		.engid = u->engid, .engid_len = u->engid_len,
		.boots = u->boots, .time = usm_time(u),
		.user = c != NULL ? &m->user : &none, .maclen = maclen,
		.data = scoped, .data_len = sw.len,
	};
	if (iw.over || vw.over || pb.over || pw.over || sw.over)
		return 0;
	len = v3_message(m, &o, out, cap, &auth_off);
	return v3_finish(c, k, out, len, auth_off, maclen);
}

size_t
trap_usm_response(struct trap_usm *u, const struct trap_msg *m,
    const struct config_credential *c, uint8_t *out, size_t cap)
{
	struct wbuf pw = { u->tmp, 0, sizeof(u->tmp), false };
	size_t elen = (size_t)(m->engid.end - m->engid.p), auth_off, len, maclen = 0;
	size_t ce = (size_t)(m->ctx_engid.end - m->ctx_engid.p);
	size_t cn = (size_t)(m->ctx_name.end - m->ctx_name.p);
	bool ours = elen == u->engid_len && memcmp(m->engid.p, u->engid, elen) == 0;
	uint8_t salt[8], pdu[TRAP_DGRAM_MAX];
	struct wbuf p = { pdu, 0, sizeof(pdu), false };
	struct v3_keys k;
	char err[128];
	struct v3_out o = {
		.flags = m->flags & (TRAP_FLAG_AUTH | TRAP_FLAG_PRIV),
		.engid = m->engid.p, .engid_len = elen,
		.boots = ours ? u->boots : (uint32_t)m->boots,
		.time = ours ? usm_time(u) : (uint32_t)m->time,
		.user = &m->user,
	};

	if (v3_keys_get(u->keys, c, m->engid.p, elen, &k, err, sizeof(err)) == -1)
		return 0;
	trap_w_response_pdu(&p, m);
	ber_w_hdr(&pw, 0x30, ber_hdr_len(ce) + ce + ber_hdr_len(cn) + cn + p.len);
	ber_w_tlv(&pw, 0x04, m->ctx_engid.p, ce);
	ber_w_tlv(&pw, 0x04, m->ctx_name.p, cn);
	ber_w_bytes(&pw, pdu, p.len);
	if (p.over || pw.over)
		goto fail;
	if (o.flags & TRAP_FLAG_AUTH)
		auth_md(c->auth_protocol, &maclen);
	o.maclen = maclen;
	o.data = u->tmp;
	o.data_len = pw.len;
	if (o.flags & TRAP_FLAG_PRIV) {
		size_t n = pw.len;
		uint64_t s = u->salt++;
		/* DES: the salt is boots and a counter (RFC 3414 8.1.1.1);
		 * padding to its block is allowed after the ScopedPDU. */
		if (c->priv_protocol == CFG_PRIV_DES) {
			s = (uint64_t)o.boots << 32 | (s & 0xffffffffu);
			while (n % 8)
				u->tmp[n++] = 0;
		}
		for (int i = 0; i < 8; i++)
			salt[i] = (uint8_t)(s >> (56 - 8 * i));
		if (usm_crypt(c, &k, o.boots, o.time, salt, u->tmp, n, u->plain, 1) == -1)
			goto fail;
		o.salt = salt;
		o.data = u->plain;
		o.data_len = n;
		o.encrypted = true;
	}
	len = v3_message(m, &o, out, cap, &auth_off);
	len = v3_finish(c, &k, out, len, auth_off, maclen);
	explicit_bzero(&k, sizeof(k));
	return len;
fail:
	explicit_bzero(&k, sizeof(k));
	return 0;
}

/* ---- messages in ------------------------------------------------------ */

static int
level_of(uint8_t flags)
{
	return (flags & TRAP_FLAG_PRIV) ? CFG_AUTH_PRIV :
	    (flags & TRAP_FLAG_AUTH) ? CFG_AUTH_NOPRIV : CFG_NOAUTH_NOPRIV;
}

/* The credential whose keys authenticate m, or NULL. */
static const struct config_credential *
usm_user(struct trap_usm *u, uint8_t *buf, size_t len,
    const struct trap_msg *m, struct v3_keys *k)
{
	size_t ulen = (size_t)(m->user.end - m->user.p);
	size_t elen = (size_t)(m->engid.end - m->engid.p);
	size_t alen = (size_t)(m->auth_params.end - m->auth_params.p);
	uint8_t got[48], mac[48];
	bool zeroed = false;
	char err[128];

	for (size_t i = 0; i < u->nusers; i++) {
		const struct config_credential *c = u->users[i];
		size_t maclen;

		if (c->user == NULL || strlen(c->user) != ulen ||
		    memcmp(c->user, m->user.p, ulen) != 0)
			continue;
		/* Never less protection than the credential says: a user
		 * name alone must not let anyone in. */
		if (level_of(m->flags) != c->level)
			continue;
		if (c->level == CFG_NOAUTH_NOPRIV) {
			memset(k, 0, sizeof(*k));
			return c;
		}
		auth_md(c->auth_protocol, &maclen);
		if (alen != maclen)
			continue;
		if (!zeroed) {
			/* RFC 3414 6.3.2: the digest over the message with
			 * the auth params zeroed; buf is ours to change. */
			memcpy(got, m->auth_params.p, alen);
			memset(buf + (m->auth_params.p - buf), 0, alen);
			zeroed = true;
		}
		if (v3_keys_get(u->keys, c, m->engid.p, elen, k, err, sizeof(err)) == 0 &&
		    usm_mac(c, k, buf, len, mac, &maclen) == 0 && CRYPTO_memcmp(mac, got, maclen) == 0)
			return c;
	}
	explicit_bzero(k, sizeof(*k));
	return NULL;
}

enum trap_verdict
trap_usm_in(struct trap_usm *u, uint8_t *buf, size_t len, struct trap_msg *m,
    const struct config_credential **cred, uint8_t *out, size_t *outlen)
{
	size_t elen = (size_t)(m->engid.end - m->engid.p);
	bool ours = elen == u->engid_len && memcmp(m->engid.p, u->engid, elen) == 0;
	const struct config_credential *c;
	struct v3_keys k;
	enum trap_verdict v = TRAP_OK;

	*outlen = 0;
	/* Discovery (RFC 3414 4): the sender asks for our engine ID. */
	if (elen == 0) {
		if (!(m->flags & TRAP_FLAG_REPORTABLE))
			return TRAP_BAD_AUTH;
		if (!(m->flags & TRAP_FLAG_PRIV) &&
		    trap_parse_scoped(m->data, m) == TRAP_OK) {
			struct ber pdu = m->pdu;
			(void)ber_int(&pdu, &m->reqid);
		}
		u->reports_unknown++;
		*outlen = v3_report(u, m, stat_unknown_engid,
		    sizeof(stat_unknown_engid), u->reports_unknown, NULL, NULL,
		    out, TRAP_DGRAM_MAX);
		return TRAP_REPORTED;
	}
	if ((c = usm_user(u, buf, len, m, &k)) == NULL)
		return TRAP_BAD_AUTH;
	/* RFC 3414 3.2.7 a: as the authoritative engine, a message outside
	 * the window is refused, and an authenticated Report tells the
	 * sender our boots and time. */
	if (ours && c->level != CFG_NOAUTH_NOPRIV) {
		int64_t now = usm_time(u);
		if (m->boots != u->boots || m->time > now + TRAP_TIME_WINDOW ||
		    m->time < now - TRAP_TIME_WINDOW) {
			if (m->flags & TRAP_FLAG_REPORTABLE) {
				u->reports_time++;
				*outlen = v3_report(u, m, stat_time_window,
				    sizeof(stat_time_window), u->reports_time, c, &k,
				    out, TRAP_DGRAM_MAX);
			}
			v = TRAP_TIME_WINDOW_BAD;
			goto out;
		}
	}
	if (m->flags & TRAP_FLAG_PRIV) {
		size_t n = (size_t)(m->data.end - m->data.p);
		if (m->priv_params.end - m->priv_params.p != 8 || n == 0 ||
		    n > sizeof(u->plain) ||
		    usm_crypt(c, &k, (uint32_t)m->boots, (uint32_t)m->time,
		    m->priv_params.p, m->data.p, n, u->plain, 0) == -1) {
			v = TRAP_BAD_AUTH;
			goto out;
		}
		/* A wrong key decrypts to noise, which fails to parse. */
		if (trap_parse_scoped((struct ber){ u->plain, u->plain + n }, m) != TRAP_OK) {
			v = TRAP_BAD_AUTH;
			goto out;
		}
	} else if (trap_parse_scoped(m->data, m) != TRAP_OK) {
		v = TRAP_MALFORMED;
		goto out;
	}
	*cred = c;
out:
	explicit_bzero(&k, sizeof(k));
	return v;
}
