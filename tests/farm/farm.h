/*
 * outpost-farm: one process serving many virtual SNMP devices (v1, v2c,
 * v3/USM) from .snmprec recordings and generated kinds. Test peer only:
 * it never links net-snmp, so it is an independent implementation.
 *
 * Layout: ber.c (BER reader/writer), tmpl.c (immutable OID tables shared
 * by every device of a kind), snmprec.c and gen.c (fill tables), agent.c
 * (PDU semantics, v1/v2c messages), usm.c (v3 keys, crypto, message
 * wrapping), usm_agent.c (v3 requests and reports), farm.c (CLI, socket
 * loop, delays, stats), selftest.c (--selftest), load.c (load generator).
 */
#ifndef OUTPOST_FARM_H
#define OUTPOST_FARM_H

#include <stddef.h>
#include <stdint.h>

#define FARM_MAX_MSG	65507		/* largest UDP/IPv4 payload */
#define FARM_HEADROOM	2048		/* room to prepend message headers */
#define FARM_MAX_NAME	255		/* community, user, context names */
#define FARM_MAX_OID	128		/* sub-identifiers in one OID */
#define FARM_MAX_VARBINDS 4096		/* per reply, whatever the request says */
#define FARM_MAX_REQ_VB	512		/* varbinds accepted in one request */

/* BER tags */
#define T_INT		0x02
#define T_OCTETS	0x04
#define T_NULL		0x05
#define T_OID		0x06
#define T_SEQ		0x30
#define T_IPADDR	0x40
#define T_COUNTER32	0x41
#define T_GAUGE32	0x42
#define T_TIMETICKS	0x43
#define T_OPAQUE	0x44
#define T_COUNTER64	0x46
#define T_NOSUCHOBJ	0x80
#define T_NOSUCHINST	0x81
#define T_ENDOFMIB	0x82
#define PDU_GET		0xa0
#define PDU_GETNEXT	0xa1
#define PDU_RESPONSE	0xa2
#define PDU_SET		0xa3
#define PDU_GETBULK	0xa5
#define PDU_REPORT	0xa8

#define ERR_TOOBIG	1
#define ERR_NOSUCHNAME	2
#define ERR_READONLY	4
#define ERR_GENERR	5
#define ERR_NOTWRITABLE	17

/* ---- ber.c ---------------------------------------------------------- */
struct ber {
	const uint8_t	*p, *end;
};
/* Reads one TLV; 0 on success, -1 on truncation or a bad length. */
int	ber_next(struct ber *, uint8_t *tag, const uint8_t **val, size_t *len);
int	ber_expect(struct ber *, uint8_t tag, const uint8_t **val, size_t *len);
int	ber_int(struct ber *, int64_t *);
int	ber_octets(struct ber *, const uint8_t **val, size_t *len);
int	ber_decode_int(const uint8_t *, size_t, int64_t *);
int	ber_decode_uint(const uint8_t *, size_t, uint64_t *);
int	ber_oid_cmp(const uint8_t *, size_t, const uint8_t *, size_t);
int	ber_oid_is_prefix(const uint8_t *pre, size_t, const uint8_t *, size_t);
int	ber_oid_from_arcs(const uint32_t *, size_t, uint8_t *, size_t);
int	ber_oid_parse(const char *, uint8_t *, size_t);	/* dotted */
int	ber_oid_arcs(const uint8_t *, size_t, uint32_t *, size_t);
size_t	ber_len_size(size_t);

/* Writer: data lives in buf[lo, hi); append at hi, prepend at lo. */
struct bw {
	uint8_t	*buf;
	size_t	 cap, lo, hi;
	int	 err;
};
void	bw_init(struct bw *, uint8_t *, size_t cap, size_t headroom);
void	bw_append(struct bw *, const void *, size_t);
void	bw_prepend(struct bw *, const void *, size_t);
void	bw_append_hdr(struct bw *, uint8_t tag, size_t len);
void	bw_append_tlv(struct bw *, uint8_t tag, const void *, size_t);
void	bw_prepend_tlv(struct bw *, uint8_t tag, const void *, size_t);
void	bw_wrap(struct bw *, uint8_t tag);		/* whole content */
void	bw_prepend_int(struct bw *, int64_t);
size_t	bw_len(const struct bw *);
size_t	ber_int_tlv(uint8_t *, uint8_t tag, int64_t);	/* >= 10 bytes */
size_t	ber_uint_tlv(uint8_t *, uint8_t tag, uint64_t);	/* >= 11 bytes */

/* ---- tmpl.c --------------------------------------------------------- */
enum dyn_kind { DYN_NONE, DYN_UPTIME, DYN_COUNTER, DYN_SYSNAME, DYN_NUMERIC };

struct farm_dyn {
	uint8_t	 kind, tag;
	uint64_t base;
	double	 rate;		/* units per second */
};

/* One OID: its BER content at pool+off, then its value TLV (static) or
 * val_len 0 and dyn > 0 (computed at each read from time and device). */
struct farm_ent {
	uint32_t off;
	uint16_t oid_len, val_len;
	uint32_t dyn;
};

struct farm_tmpl {
	char		*name;
	uint8_t		*pool;
	struct farm_ent	*ents;
	size_t		 n;
	struct farm_dyn	*dyn;
	size_t		 ndyn;
	const char	*prefix;	/* sysName prefix, or NULL (recording) */
	size_t		 skipped;	/* snmprec lines not understood */
};

struct tb;		/* template builder */
struct tb	*tb_new(void);
void	tb_free(struct tb *);
int	tb_add(struct tb *, const uint8_t *oid, size_t oidlen, uint8_t tag,
	    const void *val, size_t vlen);
int	tb_add_dyn(struct tb *, const uint8_t *oid, size_t, const struct farm_dyn *);
struct farm_tmpl *tb_finish(struct tb *, const char *name, const char *prefix);
/* Convenience for generators: dotted prefix + up to two index arcs (0 = none). */
int	tb_put(struct tb *, const char *oid, long i1, long i2, uint8_t tag,
	    const void *val, size_t vlen);
int	tb_put_int(struct tb *, const char *oid, long i1, long i2, uint8_t tag, int64_t);
int	tb_put_uint(struct tb *, const char *oid, long i1, long i2, uint8_t tag, uint64_t);
int	tb_put_str(struct tb *, const char *oid, long i1, long i2, const char *);
int	tb_put_oid(struct tb *, const char *oid, long i1, long i2, const char *val);
int	tb_put_dyn(struct tb *, const char *oid, long i1, long i2, uint8_t kind,
	    uint8_t tag, uint64_t base, double rate);

/* Index of the entry equal to oid, or -1. */
long	tmpl_find(const struct farm_tmpl *, const uint8_t *, size_t);
/* Index of the first entry greater than oid (n if none). */
size_t	tmpl_next(const struct farm_tmpl *, const uint8_t *, size_t);

struct farm_dev {
	uint32_t	 addr;		/* host order */
	double		 elapsed;	/* seconds since the farm started */
	uint64_t	 phase;		/* per-device counter phase, seconds */
};
/* Encodes entry i's value TLV into out (>= 300 bytes); returns its size. */
size_t	tmpl_value(const struct farm_tmpl *, size_t i, const struct farm_dev *,
	    uint8_t *out);

/* ---- snmprec.c / gen.c ---------------------------------------------- */
struct farm_tmpl *snmprec_load(const char *path, char *err, size_t errlen);
struct farm_tmpl *gen_kind(const char *kind, char *err, size_t errlen);

/* ---- spec (farm.c) and agent.c --------------------------------------- */
enum bad_mode { BAD_NONE, BAD_NONINCREASING, BAD_TOOBIG, BAD_SLOW, BAD_DUP,
	BAD_SILENT, BAD_ENDLESS };

#define FARM_MAX_COMM	8
#define FARM_MAX_USERS	8
#define FARM_MAX_CTX	8

struct farm_user {
	char	 name[FARM_MAX_NAME + 1];
	int	 auth;		/* enum usm_auth */
	int	 priv;		/* enum usm_priv */
	int	 ku_auth, ku_priv;	/* indexes into the Ku cache */
	int	 id;		/* farm-wide user number, for the Kul cache */
};

struct farm_ctx {
	char			 name[FARM_MAX_NAME + 1];
	const struct farm_tmpl	*tmpl;
};

struct farm_spec {
	const struct farm_tmpl	*tmpl;
	char			 comm[FARM_MAX_COMM][FARM_MAX_NAME + 1];
	int			 ncomm;
	struct farm_user	 users[FARM_MAX_USERS];
	int			 nusers;
	struct farm_ctx		 ctx[FARM_MAX_CTX];
	int			 nctx;
	int			 latency_ms, loss, max_size;
	uint32_t		 every;		/* only every Nth address answers */
	enum bad_mode		 bad;
};

/* What the loop must do with a reply. */
struct farm_out {
	size_t	 len;		/* 0: send nothing */
	int	 delay_ms;
	int	 copies;	/* 1, or 2 for bad=dup */
};

/* A decoded PDU and the limits its reply must respect. */
struct farm_pdu {
	uint8_t		 type;
	int64_t		 reqid, nonrep, maxrep;	/* err fields for GETBULK */
	const uint8_t	*vbl;		/* varbind list content */
	size_t		 vbllen;
};

extern struct farm_stats {
	uint64_t requests, replies, drops, bad_packets;
	uint64_t unknown_engine, unknown_user, wrong_digest, not_in_window,
	    decrypt_err, unsupported_level, unknown_ctx, bad_community;
} farm_stats;

int	agent_parse_pdu(const uint8_t *, size_t, struct farm_pdu *);
/* Appends the reply PDU (tag through varbinds) to w; room is the space
 * the PDU may take. -1 drops the request. */
int	agent_reply_pdu(struct bw *, const struct farm_spec *,
	    const struct farm_tmpl *, const struct farm_dev *,
	    const struct farm_pdu *, int version, size_t room);
void	agent_handle(const struct farm_spec *, const struct farm_dev *,
	    const uint8_t *req, size_t len, uint8_t *out, size_t outcap,
	    struct farm_out *);

/* ---- usm.c ----------------------------------------------------------- */
enum usm_auth { AUTH_NONE, AUTH_MD5, AUTH_SHA1, AUTH_SHA224, AUTH_SHA256,
	AUTH_SHA384, AUTH_SHA512 };
enum usm_priv { PRIV_NONE, PRIV_DES, PRIV_AES128, PRIV_AES192, PRIV_AES256,
	PRIV_AES192C, PRIV_AES256C };

int	usm_auth_parse(const char *);
int	usm_priv_parse(const char *);
int	usm_user_parse(struct farm_user *, const char *, char *err, size_t);
void	usm_init(void);
void	usm_engine_id(uint32_t addr, uint8_t out[9]);
uint32_t usm_boots(void);
/* v3 message in, reply (or report) out. */
void	usm_handle(const struct farm_spec *, const struct farm_dev *,
	    const uint8_t *, size_t, uint8_t *out, size_t outcap,
	    struct farm_out *);

/* Client side, for load.c: keys, wrapping and unwrapping of messages. */
struct usm_keys {
	int	 auth, priv;
	uint8_t	 kauth[64], kpriv[64];
	size_t	 kauth_len;
};
void	usm_client_keys(struct usm_keys *, int auth, const char *authpass,
	    int priv, const char *privpass, const uint8_t *eid, size_t eidlen);
size_t	usm_maclen(int auth);
/* Replaces w's content (a scoped PDU) by its encryptedPDU OCTET STRING. */
int	usm_encrypt(const struct usm_keys *, uint32_t boots, uint32_t etime,
	    uint64_t salt, struct bw *, uint8_t privparams[8]);
void	usm_kul(int auth, int priv, const uint8_t *ku_auth, const uint8_t *ku_priv,
	    const uint8_t *eid, size_t eidlen, struct usm_keys *);
int	usm_ku(int auth, const char *pass);	/* Ku cache index, -1: full */
uint32_t usm_time(void);
uint64_t usm_salt(void);		/* a fresh privacy salt */
/* The user's localised keys for the engine of addr (cached). */
const struct usm_keys *usm_keys_for(const struct farm_user *, uint32_t addr);
void	usm_mac(const struct usm_keys *, const uint8_t *, size_t, uint8_t *out);
/* The whole v3 message around w's scoped PDU (or encrypted one). */
int	usm_wrap(struct bw *, int64_t msgid, int flags, const uint8_t *eid,
	    size_t eidlen, uint32_t boots, uint32_t etime, const char *user,
	    size_t userlen, const struct usm_keys *, const uint8_t privp[8]);
int	usm_decrypt(const struct usm_keys *, uint32_t boots, uint32_t etime,
	    const uint8_t *privparams, const uint8_t *in, size_t len,
	    uint8_t *out, size_t *outlen);
void	usm_sign(const struct usm_keys *, uint8_t *msg, size_t len,
	    uint8_t *macpos);

/* ---- misc ------------------------------------------------------------ */
int	farm_selftest(void);		/* selftest.c: 0 when all pass */
uint64_t farm_hash(uint64_t);
double	farm_now(void);		/* monotonic seconds */

#endif
