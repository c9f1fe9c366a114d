/* SNMPv3 with the User-based Security Model: RFC 3412 (messages), RFC 3414
 * (USM, HMAC-MD5/SHA-96, DES), RFC 3826 (AES-CFB), RFC 7860 (HMAC-SHA-2).
 * AES-192/256 keys longer than the hash are extended as net-snmp does:
 * "AES-192"/"AES-256" by Blumenthal (Kul || H(Kul)), the "-C" variants by
 * Reeder (Kul || localize(P2K(Kul))).
 *
 * Key localisation is cached twice: Ku (1 MB of hashing) once per
 * protocol and password at start-up, Kul per user and engine on first use,
 * in a direct-mapped cache (a collision only costs a recomputation). */
#define OPENSSL_SUPPRESS_DEPRECATED	/* DES_*: no legacy provider needed */
#include <openssl/des.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "farm.h"

#define KU_MAX		256
#define KUL_CACHE	(1 << 14)
#define P2K_BYTES	1048576

static const struct {
	const char	*name;
	int		 maclen;
} auths[] = {
	[AUTH_NONE] = { "none", 0 }, [AUTH_MD5] = { "MD5", 12 },
	[AUTH_SHA1] = { "SHA", 12 }, [AUTH_SHA224] = { "SHA-224", 16 },
	[AUTH_SHA256] = { "SHA-256", 24 }, [AUTH_SHA384] = { "SHA-384", 32 },
	[AUTH_SHA512] = { "SHA-512", 48 },
};
static const struct {
	const char	*name;
	int		 keylen;
} privs[] = {
	[PRIV_NONE] = { "none", 0 }, [PRIV_DES] = { "DES", 16 },
	[PRIV_AES128] = { "AES", 16 }, [PRIV_AES192] = { "AES-192", 24 },
	[PRIV_AES256] = { "AES-256", 32 }, [PRIV_AES192C] = { "AES-192-C", 24 },
	[PRIV_AES256C] = { "AES-256-C", 32 },
};

static struct {
	int	 auth;
	char	 pass[FARM_MAX_NAME + 1];
	uint8_t	 ku[64];
} kus[KU_MAX];
static int	nku;

struct kul_ent {
	int		 uid;		/* user id + 1; 0 = empty */
	uint32_t	 addr;
	struct usm_keys	 k;
};
static struct kul_ent	*kul_cache;
static uint32_t		 boots;
static double		 t0;
static uint64_t		 salt_ctr;

/* Digests and ciphers are fetched once: an implicit fetch per call (what
 * EVP_sha1() and HMAC() do in OpenSSL 3) costs more than the hashing. */
static EVP_MD		*mds[AUTH_SHA512 + 1];
static EVP_CIPHER	*ciphers[3];

static const EVP_MD *
md_of(int auth)
{
	static const char *const names[] = { NULL, "MD5", "SHA1", "SHA224",
	    "SHA256", "SHA384", "SHA512" };

	if (auth <= AUTH_NONE || auth > AUTH_SHA512)
		return NULL;
	if (mds[auth] == NULL && (mds[auth] = EVP_MD_fetch(NULL, names[auth],
	    NULL)) == NULL)
		abort();
	return mds[auth];
}

size_t
usm_maclen(int auth)
{
	return auth > 0 && auth <= AUTH_SHA512 ? (size_t)auths[auth].maclen : 0;
}

static int
lookup(const char *s, int n, int which)
{
	int	i;

	for (i = 0; i < n; i++)
		if (strcasecmp(s, which ? privs[i].name : auths[i].name) == 0)
			return i;
	if (!which && strcasecmp(s, "SHA1") == 0)
		return AUTH_SHA1;
	if (which && strcasecmp(s, "AES128") == 0)
		return PRIV_AES128;
	return -1;
}

int
usm_auth_parse(const char *s)
{
	return lookup(s, AUTH_SHA512 + 1, 0);
}

int
usm_priv_parse(const char *s)
{
	return lookup(s, PRIV_AES256C + 1, 1);
}

static void
hash(int auth, const void *a, size_t alen, uint8_t *out)
{
	unsigned int	n;

	EVP_Digest(a, alen, out, &n, md_of(auth), NULL);
}

/* RFC 3414 A.2: the password repeated over 1 MB, hashed. */
static void
p2k(int auth, const uint8_t *pass, size_t plen, uint8_t *ku)
{
	static uint8_t	*buf;
	size_t		 i;

	if (buf == NULL && (buf = malloc(P2K_BYTES)) == NULL)
		abort();
	for (i = 0; i < P2K_BYTES; i++)
		buf[i] = pass[i % plen];
	hash(auth, buf, P2K_BYTES, ku);
}

int
usm_ku(int auth, const char *pass)
{
	int	i;

	for (i = 0; i < nku; i++)
		if (kus[i].auth == auth && strcmp(kus[i].pass, pass) == 0)
			return i;
	if (nku == KU_MAX || strlen(pass) > FARM_MAX_NAME || *pass == '\0')
		return -1;
	kus[nku].auth = auth;
	snprintf(kus[nku].pass, sizeof(kus[nku].pass), "%s", pass);
	p2k(auth, (const uint8_t *)pass, strlen(pass), kus[nku].ku);
	return nku++;
}

static size_t
localize(int auth, const uint8_t *ku, const uint8_t *eid, size_t eidlen,
    uint8_t *out)
{
	uint8_t	buf[64 + 64 + 32];
	size_t	h = (size_t)EVP_MD_get_size(md_of(auth));

	memcpy(buf, ku, h);
	memcpy(buf + h, eid, eidlen);
	memcpy(buf + h + eidlen, ku, h);
	hash(auth, buf, 2 * h + eidlen, out);
	return h;
}

void
usm_kul(int auth, int priv, const uint8_t *ku_auth, const uint8_t *ku_priv,
    const uint8_t *eid, size_t eidlen, struct usm_keys *k)
{
	size_t	h, need;

	memset(k, 0, sizeof(*k));
	k->auth = auth;
	k->priv = priv;
	if (auth == AUTH_NONE || eidlen > 32)
		return;
	k->kauth_len = localize(auth, ku_auth, eid, eidlen, k->kauth);
	if (priv == PRIV_NONE)
		return;
	h = localize(auth, ku_priv, eid, eidlen, k->kpriv);
	need = (size_t)privs[priv].keylen;
	if (h >= need)
		return;
	if (priv == PRIV_AES192C || priv == PRIV_AES256C) {
		uint8_t	ku2[64];

		p2k(auth, k->kpriv, h, ku2);
		localize(auth, ku2, eid, eidlen, k->kpriv + h);
	} else
		hash(auth, k->kpriv, h, k->kpriv + h);
}

void
usm_client_keys(struct usm_keys *k, int auth, const char *authpass, int priv,
    const char *privpass, const uint8_t *eid, size_t eidlen)
{
	int	a = -1, p = -1;

	if (auth != AUTH_NONE)
		a = usm_ku(auth, authpass);
	if (priv != PRIV_NONE && auth != AUTH_NONE)
		p = usm_ku(auth, privpass);
	usm_kul(auth, priv, a >= 0 ? kus[a].ku : NULL, p >= 0 ? kus[p].ku : NULL,
	    eid, eidlen, k);
}

int
usm_user_parse(struct farm_user *u, const char *s, char *err, size_t errlen)
{
	char	 buf[5 * (FARM_MAX_NAME + 1)], *f[5], *save = NULL, *tok;
	int	 n = 0;
	static int next_id;

	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "v3=%.40s...: too long", s);
		return -1;
	}
	memcpy(buf, s, strlen(s) + 1);
	for (tok = strtok_r(buf, ":", &save); tok && n < 5;
	    tok = strtok_r(NULL, ":", &save))
		f[n++] = tok;
	if (n != 5 || tok != NULL) {
		snprintf(err, errlen, "v3=%s: want USER:AUTHPROTO:AUTHPASS:"
		    "PRIVPROTO:PRIVPASS (\"none\" for no protocol)", s);
		return -1;
	}
	memset(u, 0, sizeof(*u));
	if (strlen(f[0]) > FARM_MAX_NAME || (u->auth = usm_auth_parse(f[1])) < 0 ||
	    (u->priv = usm_priv_parse(f[3])) < 0) {
		snprintf(err, errlen, "v3=%s: unknown user or protocol (auth MD5 SHA "
		    "SHA-224 SHA-256 SHA-384 SHA-512 none; priv DES AES AES-192 "
		    "AES-256 AES-192-C AES-256-C none)", s);
		return -1;
	}
	if (u->auth == AUTH_NONE && u->priv != PRIV_NONE) {
		snprintf(err, errlen, "v3=%s: privacy needs authentication", s);
		return -1;
	}
	snprintf(u->name, sizeof(u->name), "%s", f[0]);
	u->ku_auth = u->ku_priv = -1;
	if ((u->auth != AUTH_NONE && (u->ku_auth = usm_ku(u->auth, f[2])) < 0) ||
	    (u->priv != PRIV_NONE && (u->ku_priv = usm_ku(u->auth, f[4])) < 0)) {
		snprintf(err, errlen, "v3=%s: empty password or too many passwords", s);
		return -1;
	}
	u->id = next_id++;
	return 0;
}

void
usm_init(void)
{
	struct timespec	ts;

	kul_cache = calloc(KUL_CACHE, sizeof(*kul_cache));
	if (kul_cache == NULL)
		abort();
	/* engineBoots grows across restarts, so a client that cached the
	 * previous farm's time resynchronises instead of failing. */
	boots = (uint32_t)(time(NULL) - 1700000000L) & 0x3fffffff;
	if (boots == 0)
		boots = 1;
	t0 = farm_now();
	clock_gettime(CLOCK_REALTIME, &ts);
	salt_ctr = (uint64_t)ts.tv_nsec << 20;
}

uint32_t
usm_boots(void)
{
	return boots;
}

uint32_t
usm_time(void)
{
	return (uint32_t)(farm_now() - t0);
}

void
usm_engine_id(uint32_t addr, uint8_t out[9])
{
	/* RFC 3411 SnmpEngineID: enterprise 8072 (net-snmp), format 1 (IPv4) */
	out[0] = 0x80, out[1] = 0x00, out[2] = 0x1f, out[3] = 0x88, out[4] = 1;
	out[5] = (uint8_t)(addr >> 24), out[6] = (uint8_t)(addr >> 16);
	out[7] = (uint8_t)(addr >> 8), out[8] = (uint8_t)addr;
}

const struct usm_keys *
usm_keys_for(const struct farm_user *u, uint32_t addr)
{
	uint64_t	 h = farm_hash(((uint64_t)(unsigned)u->id << 32) | addr);
	struct kul_ent	*e = &kul_cache[h & (KUL_CACHE - 1)];
	uint8_t		 eid[9];

	if (e->uid != u->id + 1 || e->addr != addr) {
		usm_engine_id(addr, eid);
		usm_kul(u->auth, u->priv, u->ku_auth >= 0 ? kus[u->ku_auth].ku : NULL,
		    u->ku_priv >= 0 ? kus[u->ku_priv].ku : NULL, eid, 9, &e->k);
		e->uid = u->id + 1;
		e->addr = addr;
	}
	return &e->k;
}

/* One half of HMAC: H((K ^ pad) || data). */
static unsigned int
hmac_half(EVP_MD_CTX *c, const EVP_MD *md, const struct usm_keys *k,
    uint8_t padbyte, const uint8_t *data, size_t len, uint8_t *out)
{
	uint8_t		pad[128];
	unsigned int	n;
	size_t		bs = (size_t)EVP_MD_get_block_size(md), i;

	memset(pad, padbyte, bs);
	for (i = 0; i < k->kauth_len; i++)
		pad[i] ^= k->kauth[i];
	EVP_DigestInit_ex(c, md, NULL);
	EVP_DigestUpdate(c, pad, bs);
	EVP_DigestUpdate(c, data, len);
	EVP_DigestFinal_ex(c, out, &n);
	return n;
}

/* HMAC (RFC 2104) over a reused digest context, truncated (RFC 3414, 7860). */
void
usm_mac(const struct usm_keys *k, const uint8_t *msg, size_t len, uint8_t *out)
{
	static EVP_MD_CTX	*c;
	const EVP_MD		*md = md_of(k->auth);
	uint8_t			 inner[EVP_MAX_MD_SIZE];
	unsigned int		 n;

	if (c == NULL && (c = EVP_MD_CTX_new()) == NULL)
		abort();
	n = hmac_half(c, md, k, 0x36, msg, len, inner);
	hmac_half(c, md, k, 0x5c, inner, n, inner);
	memcpy(out, inner, usm_maclen(k->auth));
}

void
usm_sign(const struct usm_keys *k, uint8_t *msg, size_t len, uint8_t *macpos)
{
	memset(macpos, 0, usm_maclen(k->auth));
	usm_mac(k, msg, len, macpos);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static const EVP_CIPHER *
aes_of(int priv)
{
	static const char *const names[] = { "AES-128-CFB", "AES-192-CFB",
	    "AES-256-CFB" };
	int	i = priv == PRIV_AES128 ? 0 :
	    priv == PRIV_AES192 || priv == PRIV_AES192C ? 1 : 2;

	if (ciphers[i] == NULL && (ciphers[i] = EVP_CIPHER_fetch(NULL, names[i],
	    NULL)) == NULL)
		abort();
	return ciphers[i];
}

static int
cipher(const struct usm_keys *k, int enc, uint32_t b, uint32_t t,
    const uint8_t *privp, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t	iv[16];
	size_t	i;

	if (k->priv == PRIV_DES) {
		DES_key_schedule ks;
		DES_cblock	 key, ivb;

		if (len % 8)
			return -1;
		memcpy(key, k->kpriv, 8);
		for (i = 0; i < 8; i++)
			ivb[i] = k->kpriv[8 + i] ^ privp[i];
		DES_set_key_unchecked(&key, &ks);
		DES_ncbc_encrypt(in, out, (long)len, &ks, &ivb, enc);
		return 0;
	} else {
		static EVP_CIPHER_CTX	*c;
		int			 n, f;

		if (c == NULL && (c = EVP_CIPHER_CTX_new()) == NULL)
			return -1;
		put32(iv, b);
		put32(iv + 4, t);
		memcpy(iv + 8, privp, 8);
		if (EVP_CipherInit_ex(c, aes_of(k->priv), NULL, k->kpriv, iv, enc) != 1 ||
		    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1 ||
		    EVP_CipherFinal_ex(c, out + n, &f) != 1)
			return -1;
		return 0;
	}
}

int
usm_encrypt(const struct usm_keys *k, uint32_t b, uint32_t t, uint64_t salt,
    struct bw *w, uint8_t privp[8])
{
	static uint8_t	tmp[FARM_MAX_MSG + 16];
	size_t		len;
	static const uint8_t zero[8];

	if (k->priv == PRIV_DES) {
		put32(privp, b);
		put32(privp + 4, (uint32_t)salt);
		if (bw_len(w) % 8)
			bw_append(w, zero, 8 - bw_len(w) % 8);
	} else {
		put32(privp, (uint32_t)(salt >> 32));
		put32(privp + 4, (uint32_t)salt);
	}
	len = bw_len(w);
	if (w->err || len > FARM_MAX_MSG ||
	    cipher(k, 1, b, t, privp, w->buf + w->lo, len, tmp) == -1)
		return -1;
	memcpy(w->buf + w->lo, tmp, len);
	bw_wrap(w, T_OCTETS);
	return w->err ? -1 : 0;
}

int
usm_decrypt(const struct usm_keys *k, uint32_t b, uint32_t t,
    const uint8_t *privp, const uint8_t *in, size_t len, uint8_t *out,
    size_t *outlen)
{
	if (cipher(k, 0, b, t, privp, in, len, out) == -1)
		return -1;
	*outlen = len;
	return 0;
}

int
usm_wrap(struct bw *w, int64_t msgid, int flags, const uint8_t *eid,
    size_t eidlen, uint32_t b, uint32_t t, const char *user, size_t userlen,
    const struct usm_keys *k, const uint8_t privp[8])
{
	uint8_t		 spbuf[1024], zeros[48] = { 0 }, f = (uint8_t)flags;
	struct bw	 sp;
	size_t		 maclen = (flags & 1) ? usm_maclen(k->auth) : 0, macoff;
	uint8_t		 t3[12];

	bw_init(&sp, spbuf, sizeof(spbuf), sizeof(spbuf));
	bw_prepend_tlv(&sp, T_OCTETS, privp, (flags & 2) ? 8 : 0);
	bw_prepend_tlv(&sp, T_OCTETS, zeros, maclen);
	macoff = sp.lo + 2;		/* maclen < 128: 2-byte header */
	bw_prepend_tlv(&sp, T_OCTETS, user, userlen);
	bw_prepend(&sp, t3, ber_uint_tlv(t3, T_INT, t));
	bw_prepend(&sp, t3, ber_uint_tlv(t3, T_INT, b));
	bw_prepend_tlv(&sp, T_OCTETS, eid, eidlen);
	bw_wrap(&sp, T_SEQ);
	bw_wrap(&sp, T_OCTETS);
	if (sp.err)
		return -1;
	macoff -= sp.lo;
	bw_prepend(w, sp.buf + sp.lo, bw_len(&sp));
	macoff += w->lo;
	{
		uint8_t	 gbuf[64];
		struct bw g;

		bw_init(&g, gbuf, sizeof(gbuf), sizeof(gbuf));
		bw_prepend_int(&g, 3);
		bw_prepend_tlv(&g, T_OCTETS, &f, 1);
		bw_prepend_int(&g, FARM_MAX_MSG);
		bw_prepend_int(&g, msgid);
		bw_wrap(&g, T_SEQ);
		bw_prepend(w, g.buf + g.lo, bw_len(&g));
	}
	bw_prepend_int(w, 3);
	bw_wrap(w, T_SEQ);
	if (w->err)
		return -1;
	if (maclen)
		usm_sign(k, w->buf + w->lo, bw_len(w), w->buf + macoff);
	return 0;
}

uint64_t
usm_salt(void)
{
	return salt_ctr++;
}
