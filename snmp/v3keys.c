/*
 * SNMPv3 keys, derived once (RFC 3414 A.2): a password's Ku costs a
 * megabyte of hashing, so it is cached per (hash, password); the key
 * localised to an engine (Kul) is cached per (engine ID, credential).
 * Both live in a bounded LRU owned by the engine; every secret in it
 * (passwords in the keys, Ku, Kul) is wiped when an entry goes. A second
 * LRU of the same kind holds the engine ID discovered per peer.
 *
 * A session carries its own localised keys. net-snmp looks keys up in
 * its global USM user table by (engine ID, user name) only, so two
 * credentials with one user name but different passwords for one engine
 * would share whichever keys came first. v3_keys_bind() writes the
 * session's keys into that table entry before each call into net-snmp
 * for the session (we are single-threaded, and each call encodes or
 * decodes that session's messages only).
 */
#include "snmp/snmp_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Entries per cache: 10,000 v3 devices keep their engine IDs and keys. */
#define V3KEY_MAX     16384
#define V3KEY_BUCKETS 1024   /* 8 KiB per cache; chains of 16 when full */

enum { KIND_KU = 1, KIND_KUL = 2, KIND_ENGINE = 3 };

struct v3key {
	uint32_t     hash;
	size_t       klen;
	u_char      *key;          /* kind, fields; holds passwords: wiped */
	struct v3_keys val;        /* KU: auth = Ku; KUL: both localised;
	                              ENGINE: auth = the engine ID */
	struct v3key *hnext;
	TQ_ENTRY(v3key) lru;
};
TQ_HEAD(v3key_list, v3key);

struct v3key_cache {
	struct v3key    *hash[V3KEY_BUCKETS];
	struct v3key_list lru;          /* head: least recently used */
	size_t           n;
};

/* A lookup key: the fields, each length-prefixed so that no two
 * different field lists give the same bytes. */
struct keybuf {
	u_char b[1024];
	size_t len;
	bool   overflow;
};

static void
kb_add(struct keybuf *k, const void *p, size_t n)
{
	uint32_t n32 = (uint32_t)n;

	if (k->overflow || k->len + sizeof(n32) + n > sizeof(k->b)) {
		k->overflow = true;
		return;
	}
	memcpy(k->b + k->len, &n32, sizeof(n32));
	memcpy(k->b + k->len + sizeof(n32), p, n);
	k->len += sizeof(n32) + n;
}

static void
kb_int(struct keybuf *k, int v)
{
	kb_add(k, &v, sizeof(v));
}

static void
kb_str(struct keybuf *k, const char *s)
{
	kb_add(k, s ? s : "", s ? strlen(s) : 0);
}

static uint32_t
kb_hash(const struct keybuf *k)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < k->len; i++)
		h = (h ^ k->b[i]) * 16777619u;
	return h;
}

static void
entry_free(struct v3key *k)
{
	platform_memzero(k->key, k->klen);
	free(k->key);
	platform_memzero(&k->val, sizeof(k->val));
	free(k);
}

static void
entry_unlink(struct v3key_cache *c, struct v3key *k)
{
	struct v3key **pp = &c->hash[k->hash % V3KEY_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == k) {
			*pp = k->hnext;
			break;
		}
	TQ_REMOVE(&c->lru, k, lru);
	c->n--;
}

static struct v3key *
cache_get(struct v3key_cache *c, const struct keybuf *kb, uint32_t h)
{
	struct v3key *k;

	for (k = c->hash[h % V3KEY_BUCKETS]; k != NULL; k = k->hnext)
		if (k->hash == h && k->klen == kb->len &&
		    memcmp(k->key, kb->b, kb->len) == 0) {
			TQ_REMOVE(&c->lru, k, lru);
			TQ_INSERT_TAIL(&c->lru, k, lru);
			return k;
		}
	return NULL;
}

static void
cache_put(struct v3key_cache *c, const struct keybuf *kb, uint32_t h,
    const struct v3_keys *val)
{
	struct v3key *k;

	if (c->n >= V3KEY_MAX) {
		k = TQ_FIRST(&c->lru);
		entry_unlink(c, k);
		entry_free(k);
	}
	k = xcalloc(1, sizeof(*k));
	k->hash = h;
	k->klen = kb->len;
	k->key = xcalloc(1, kb->len);
	memcpy(k->key, kb->b, kb->len);
	k->val = *val;
	k->hnext = c->hash[h % V3KEY_BUCKETS];
	c->hash[h % V3KEY_BUCKETS] = k;
	TQ_INSERT_TAIL(&c->lru, k, lru);
	c->n++;
}

static struct v3key_cache *
cache_new(struct v3key_cache **cp)
{
	if (*cp == NULL) {
		*cp = xcalloc(1, sizeof(**cp));
		TQ_INIT(&(*cp)->lru);
	}
	return *cp;
}

static struct v3key_cache *
cache_of(struct osnmp_engine *e)
{
	return cache_new(&e->v3_keys);
}

static void
cache_free(struct v3key_cache **cp)
{
	struct v3key *k;

	if (*cp == NULL)
		return;
	while ((k = TQ_FIRST(&(*cp)->lru)) != NULL) {
		entry_unlink(*cp, k);
		entry_free(k);
	}
	free(*cp);
	*cp = NULL;
}

void
v3_keys_cache_free(struct osnmp_engine *e)
{
	cache_free(&e->v3_keys);
	cache_free(&e->v3_engids);
}

/* ---- engine IDs by peer ("udp:ADDR:PORT") ---- */

static uint32_t
engid_key(struct keybuf *kb, const char *peer)
{
	kb->len = 0;
	kb->overflow = false;
	kb_int(kb, KIND_ENGINE);
	kb_str(kb, peer);
	return kb_hash(kb);
}

/* The cached engine ID of peer into id (SNMP_MAX_ENG_SIZE); 0 or -1. */
int
v3_engid_get(struct osnmp_engine *e, const char *peer, u_char *id, size_t *len)
{
	struct keybuf kb;
	uint32_t h = engid_key(&kb, peer);
	struct v3key *k;

	if (e->v3_engids == NULL || kb.overflow ||
	    (k = cache_get(e->v3_engids, &kb, h)) == NULL)
		return -1;
	memcpy(id, k->val.auth, k->val.auth_len);
	*len = k->val.auth_len;
	return 0;
}

void
v3_engid_put(struct osnmp_engine *e, const char *peer, const u_char *id, size_t len)
{
	struct v3key_cache *c = cache_new(&e->v3_engids);
	struct v3_keys v = { .auth_len = len };
	struct keybuf kb;
	uint32_t h = engid_key(&kb, peer);
	struct v3key *k;

	if (len == 0 || len > SNMP_MAX_ENG_SIZE || kb.overflow)
		return;
	memcpy(v.auth, id, len);
	if ((k = cache_get(c, &kb, h)) != NULL)
		k->val = v;
	else
		cache_put(c, &kb, h, &v);
}

void
v3_engid_forget(struct osnmp_engine *e, const char *peer)
{
	struct keybuf kb;
	uint32_t h = engid_key(&kb, peer);
	struct v3key *k;

	if (e->v3_engids != NULL && !kb.overflow &&
	    (k = cache_get(e->v3_engids, &kb, h)) != NULL) {
		entry_unlink(e->v3_engids, k);
		entry_free(k);
	}
}

/* RFC 3414 A.2.1: Ku is the hash of the password repeated to 2^20
 * octets. net-snmp's generate_Ku() builds that stream one byte at a time
 * and hashes it 64 octets per call: a quarter of its cost. The stream
 * repeats with the password's length, so one chunk of whole repetitions,
 * hashed again and again, gives the same digest. */
#define KU_STREAM_LEN 1048576
#define KU_CHUNK_MAX  8192

static const EVP_MD *
ku_md(int proto)
{
	switch (proto) {
	case CFG_AUTH_MD5:    return EVP_md5();
	case CFG_AUTH_SHA224: return EVP_sha224();
	case CFG_AUTH_SHA256: return EVP_sha256();
	case CFG_AUTH_SHA384: return EVP_sha384();
	case CFG_AUTH_SHA512: return EVP_sha512();
	default:              return EVP_sha1();
	}
}

int
v3_ku_derive(int proto, const char *password, u_char *ku, size_t *kulen)
{
	const EVP_MD *md = ku_md(proto);
	size_t n = strlen(password), chunk, left, step;
	u_char buf[KU_CHUNK_MAX];
	unsigned int outlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	if (n < USM_LENGTH_P_MIN || md == NULL || *kulen < (size_t)EVP_MD_size(md))
		return -1;
	if (n > KU_CHUNK_MAX) {   /* no chunk of whole repetitions fits */
		size_t hlen;
		const oid *h = v3_auth_oid(proto, &hlen);
		return generate_Ku((oid *)h, (u_int)hlen, (const u_char *)password, n,
		    ku, kulen) == SNMPERR_SUCCESS ? 0 : -1;
	}
	chunk = (KU_CHUNK_MAX / n) * n;
	for (size_t i = 0; i < chunk; i += n)
		memcpy(buf + i, password, n);
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;
	for (left = KU_STREAM_LEN; ok && left > 0; left -= step) {
		step = left < chunk ? left : chunk;
		ok = EVP_DigestUpdate(ctx, buf, step) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, ku, &outlen) == 1;
	EVP_MD_CTX_free(ctx);
	platform_memzero(buf, chunk);
	if (!ok)
		return -1;
	*kulen = outlen;
	return 0;
}

/* Ku of a password for the auth hash (the privacy Ku uses it too). */
static int
ku_get(struct osnmp_engine *e, int proto, const char *password, u_char *out,
    size_t *outlen)
{
	struct v3key_cache *c = cache_of(e);
	struct keybuf kb = { .len = 0 };
	struct v3_keys v = { .auth_len = 0 };
	struct v3key *k;
	uint32_t h;
	int rc;

	kb_int(&kb, KIND_KU);
	kb_int(&kb, proto);
	kb_str(&kb, password);
	h = kb_hash(&kb);
	if (!kb.overflow && (k = cache_get(c, &kb, h)) != NULL) {
		memcpy(out, k->val.auth, k->val.auth_len);
		*outlen = k->val.auth_len;
		platform_memzero(&kb, sizeof(kb));
		return 0;
	}
	v.auth_len = sizeof(v.auth);
	rc = v3_ku_derive(proto, password, v.auth, &v.auth_len);
	e->stats.ku_derived++;
	if (rc == 0) {
		memcpy(out, v.auth, v.auth_len);
		*outlen = v.auth_len;
		if (!kb.overflow)
			cache_put(c, &kb, h, &v);
	}
	platform_memzero(&kb, sizeof(kb));
	platform_memzero(&v, sizeof(v));
	return rc;
}

/* The privacy key localised as net-snmp does it, extended for the
 * AES-192/256 variants that need more key than the hash gives. */
static int
localise_priv(const struct config_credential *cr, const u_char *engid,
    size_t engid_len, const u_char *ku, size_t kulen, struct v3_keys *out)
{
	struct usmUser u = { .engineIDLen = engid_len };
	size_t len;
	int rc;

	u.engineID = (u_char *)engid;
	u.authProtocol = (oid *)v3_auth_oid(cr->auth_protocol, &len);
	u.authProtocolLen = len;
	u.privProtocol = (oid *)v3_priv_oid(cr->priv_protocol, &len);
	u.privProtocolLen = len;
	u.privKey = xcalloc(1, USM_PRIV_KU_LEN);
	u.privKeyLen = USM_PRIV_KU_LEN;
	rc = generate_kul(u.authProtocol, (u_int)u.authProtocolLen, u.engineID,
	    engid_len, (u_char *)ku, kulen, u.privKey, &u.privKeyLen);
	if (rc == SNMPERR_SUCCESS)
		rc = usm_extend_user_kul(&u, USM_PRIV_KU_LEN);
	if (rc == SNMPERR_SUCCESS && u.privKeyLen <= sizeof(out->priv)) {
		memcpy(out->priv, u.privKey, u.privKeyLen);
		out->priv_len = u.privKeyLen;
	} else {
		rc = SNMPERR_GENERR;
	}
	platform_memzero(u.privKey, u.privKeyLen);
	free(u.privKey);
	return rc == SNMPERR_SUCCESS ? 0 : -1;
}

static int
localise(struct osnmp_engine *e, const struct config_credential *cr,
    const u_char *engid, size_t engid_len, struct v3_keys *out,
    char *err, size_t errlen)
{
	u_char ku[USM_AUTH_KU_LEN];
	size_t kulen = sizeof(ku), hlen;
	const oid *hash = v3_auth_oid(cr->auth_protocol, &hlen);
	int rc = 0;

	if (ku_get(e, cr->auth_protocol, cr->auth_password, ku, &kulen) == -1) {
		snprintf(err, errlen, "cannot derive the auth key");
		return -1;
	}
	out->auth_len = sizeof(out->auth);
	if (generate_kul((oid *)hash, (u_int)hlen, (u_char *)engid, engid_len,
	    ku, kulen, out->auth, &out->auth_len) != SNMPERR_SUCCESS) {
		snprintf(err, errlen, "cannot localise the auth key");
		rc = -1;
	} else if (cr->level == CFG_AUTH_PRIV) {
		kulen = sizeof(ku);
		if (ku_get(e, cr->auth_protocol, cr->priv_password, ku, &kulen) == -1 ||
		    localise_priv(cr, engid, engid_len, ku, kulen, out) == -1) {
			snprintf(err, errlen, "cannot derive the privacy key");
			rc = -1;
		}
	}
	platform_memzero(ku, sizeof(ku));
	return rc;
}

int
v3_keys_get(struct osnmp_engine *e, const struct config_credential *cr,
    const u_char *engid, size_t engid_len, struct v3_keys *out,
    char *err, size_t errlen)
{
	struct v3key_cache *c = cache_of(e);
	struct keybuf kb = { .len = 0 };
	struct v3key *k;
	uint32_t h;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (cr->level == CFG_NOAUTH_NOPRIV)
		return 0;
	kb_int(&kb, KIND_KUL);
	kb_add(&kb, engid, engid_len);
	kb_int(&kb, cr->level);
	kb_int(&kb, cr->auth_protocol);
	kb_str(&kb, cr->auth_password);
	if (cr->level == CFG_AUTH_PRIV) {
		kb_int(&kb, cr->priv_protocol);
		kb_str(&kb, cr->priv_password);
	}
	h = kb_hash(&kb);
	if (!kb.overflow && (k = cache_get(c, &kb, h)) != NULL) {
		*out = k->val;
	} else if ((rc = localise(e, cr, engid, engid_len, out, err, errlen)) == 0) {
		e->stats.kul_derived++;
		if (!kb.overflow)
			cache_put(c, &kb, h, out);
	}
	platform_memzero(&kb, sizeof(kb));
	return rc;
}

static bool
oid_eq(const oid *a, size_t alen, const oid *b, size_t blen)
{
	return a != NULL && alen == blen && memcmp(a, b, alen * sizeof(oid)) == 0;
}

static bool
bytes_eq(const u_char *a, size_t alen, const u_char *b, size_t blen)
{
	return alen == blen && (alen == 0 || (a != NULL && memcmp(a, b, alen) == 0));
}

static void
set_oid(oid **dst, size_t *dstlen, const oid *src, size_t len)
{
	free(*dst);
	*dst = snmp_duplicate_objid(src, len);
	*dstlen = len;
}

static void
set_key(u_char **dst, size_t *dstlen, const u_char *src, size_t len)
{
	if (*dst != NULL) {
		platform_memzero(*dst, *dstlen);
		free(*dst);
	}
	*dst = len ? netsnmp_memdup(src, len) : NULL;
	*dstlen = len;
}

/* Make net-snmp's USM entry for (engine ID, user) hold s's keys; the
 * names and protocols come from net-snmp's own copy in the session. */
int
v3_keys_bind(struct osnmp_sess *s)
{
	netsnmp_session *ns = snmp_sess_session(s->sessp);
	struct usmUser *u;
	const oid *ap = usmNoAuthProtocol, *pp = usmNoPrivProtocol;
	size_t aplen = OID_LENGTH(usmNoAuthProtocol), pplen = OID_LENGTH(usmNoPrivProtocol);

	if (ns == NULL || ns->version != SNMP_VERSION_3 ||
	    ns->securityEngineIDLen == 0 || ns->securityName == NULL ||
	    ns->securityName[0] == '\0')
		return 0;
	u = usm_get_user(ns->securityEngineID, ns->securityEngineIDLen,
	    ns->securityName);
	if (u == NULL) {
		if ((u = usm_create_user()) == NULL)
			return -1;
		u->name = strdup(ns->securityName);
		u->secName = strdup(ns->securityName);
		u->engineID = netsnmp_memdup(ns->securityEngineID, ns->securityEngineIDLen);
		u->engineIDLen = ns->securityEngineIDLen;
		u->userStorageType = ST_READONLY;
		u->userStatus = RS_ACTIVE;
		usm_add_user(u);
	}
	if (ns->securityLevel != SNMP_SEC_LEVEL_NOAUTH) {
		ap = ns->securityAuthProto;
		aplen = ns->securityAuthProtoLen;
	}
	if (ns->securityLevel == SNMP_SEC_LEVEL_AUTHPRIV) {
		pp = ns->securityPrivProto;
		pplen = ns->securityPrivProtoLen;
	}
	if (!oid_eq(u->authProtocol, u->authProtocolLen, ap, aplen))
		set_oid(&u->authProtocol, &u->authProtocolLen, ap, aplen);
	if (!oid_eq(u->privProtocol, u->privProtocolLen, pp, pplen))
		set_oid(&u->privProtocol, &u->privProtocolLen, pp, pplen);
	if (!bytes_eq(u->authKey, u->authKeyLen, s->keys.auth, s->keys.auth_len))
		set_key(&u->authKey, &u->authKeyLen, s->keys.auth, s->keys.auth_len);
	if (!bytes_eq(u->privKey, u->privKeyLen, s->keys.priv, s->keys.priv_len))
		set_key(&u->privKey, &u->privKeyLen, s->keys.priv, s->keys.priv_len);
	return u->name && u->engineID && u->authProtocol && u->privProtocol ? 0 : -1;
}

/* The last engine gone: wipe and drop the keys we put in net-snmp's
 * USM table (the probe's nameless user holds none). */
void
v3_keys_unbind_all(void)
{
	struct usmUser *u, *next;

	for (u = usm_get_userList(); u != NULL; u = next) {
		next = u->next;
		if (u->name == NULL || u->name[0] == '\0')
			continue;
		usm_remove_user(u);
		usm_free_user(u);   /* zeroes the keys */
	}
}
