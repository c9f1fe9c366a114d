/* Internal to snmp/: shared by engine.c, v3.c, v3keys.c and walk.c. */
#ifndef OUTPOST_SNMP_INT_H
#define OUTPOST_SNMP_INT_H


#include "snmp/snmp.h"

#define SESS_MAX_WIRE 16   /* hard upper bound of the per-target cap */

struct osnmp_req {
	struct osnmp_engine     *eng;
	netsnmp_pdu            *pdu;        /* until sent */
	netsnmp_pdu            *response;   /* when done, OK */
	osnmp_reply_cb           cb;
	void                   *arg;
	int                     slot;       /* index in sess->wire, -1 if not */
	uint64_t                sent_us;
	uint64_t                rtt_us;
	enum osnmp_status        status;
	char                    errmsg[160];
	bool                    resynced;   /* v3: one notInTimeWindow retry taken */
	TQ_ENTRY(osnmp_req)   link;       /* pending or done list */
};
TQ_HEAD(osnmp_req_list, osnmp_req);

/* A v3 session's keys, localised to its engine (v3keys.c). */
struct v3_keys {
	u_char auth[USM_AUTH_KU_LEN];
	size_t auth_len;
	u_char priv[USM_PRIV_KU_LEN];
	size_t priv_len;
};

struct osnmp_sess {
	struct osnmp_engine     *eng;
	char                    host[256];
	char                    peername[80];
	unsigned                port;
	/* Borrowed from the target that last woke the session: valid while
	 * it has requests (the caller's credential outlives its requests). */
	const struct config_credential *cred;
	uint64_t                cred_fp;    /* content digest: a new credential
	                                       at a freed one's address differs */
	unsigned                timeout_ms, retries;
	struct sockaddr_storage peer;
	socklen_t               peerlen;
	void                   *sessp;      /* net-snmp single session */
	os_socket               fd;
	struct loop_timer       timer;
	struct osnmp_req_list    pending;
	struct osnmp_req        *wire[SESS_MAX_WIRE];
	unsigned                inflight;
	bool                    in_ready, busy, closing, dead;
	bool                    idle;       /* lingering in the engine's idle list */
	bool                    watched;    /* fd registered with the loop */
	bool                    stale;      /* v3 engine ID in doubt: no new work */
	uint64_t                idle_since_ms;
	struct v3_keys          keys;       /* v3: this credential's, wiped at close */
	bool                    sending;    /* inside snmp_sess_async_send */
	int                     v3_state;   /* V3_* in v3.c */
	uint32_t                hash;
	struct osnmp_sess       *hnext;     /* engine hash chain */
	TQ_ENTRY(osnmp_sess)  rlink;      /* engine ready list */
	TQ_ENTRY(osnmp_sess)  elink;      /* engine session list */
	TQ_ENTRY(osnmp_sess)  ilink;      /* engine idle list, oldest first */
};
TQ_HEAD(osnmp_sess_list, osnmp_sess);

struct v3key_cache;

#define SESS_HASH_SIZE 4096   /* chains stay short at any sane concurrency */

struct osnmp_engine {
	struct loop            *loop;
	struct osnmp_engine_opts opts;
	unsigned                inflight;
	size_t                  queued;
	bool                    closing;    /* in osnmp_engine_free */
	size_t                  nsessions, nidle;
	size_t                  nsockets;   /* sessions with their socket open */
	unsigned                discovering; /* v3 engine discoveries on the wire */
	size_t                  idle_watched;   /* idle, fd still in the loop */
	struct loop_timer       unwatch_timer;  /* takes them out, next turn */
	struct osnmp_sess_list   ready, sessions, idle;
	struct osnmp_sess       *hash[SESS_HASH_SIZE];
	struct osnmp_req_list    done;
	struct loop_timer       done_timer;
	netsnmp_large_fd_set    fdset;
	struct v3key_cache     *v3_keys;     /* Ku, Kul (v3keys.c) */
	struct v3key_cache     *v3_engids;   /* engine ID per peer */
	struct osnmp_engine_stats stats;
};

/* ber.c: the bounded BER reader (scan replies, notifications). */
struct ber {
	const uint8_t *p, *end;
};
/* The next element of b: tag and content; b moves past it. 0 or -1. */
int ber_next(struct ber *b, uint8_t *tag, struct ber *content);
int ber_expect(struct ber *b, uint8_t want, struct ber *content);
/* A signed INTEGER of 1-8 octets (the element, or its content). */
int ber_int(struct ber *b, int64_t *out);
int ber_int_content(const struct ber *c, int64_t *out);
/* A bounded output buffer: over is set, and nothing more written, when
 * something does not fit. */
struct wbuf {
	uint8_t *p;
	size_t   len, cap;
	bool     over;
};
void   ber_w_bytes(struct wbuf *, const void *, size_t);
void   ber_w_hdr(struct wbuf *, uint8_t tag, size_t len);
size_t ber_hdr_len(size_t len);
void   ber_w_tlv(struct wbuf *, uint8_t tag, const void *, size_t);
void   ber_w_int(struct wbuf *, uint8_t tag, int64_t);

/* engine.c */
void engine_done_cb(struct loop *, struct loop_timer *, void *);
void engine_run_done(struct osnmp_engine *);
void req_finish(struct osnmp_req *, enum osnmp_status, netsnmp_pdu *, const char *);
void sess_close(struct osnmp_sess *);
void sess_fail_all(struct osnmp_sess *, enum osnmp_status, const char *);
void sess_arm(struct osnmp_sess *);
void sess_schedule(struct osnmp_sess *);
void sess_after(struct osnmp_sess *);
unsigned sess_cap(const struct osnmp_sess *);
int  sess_pdu_cb(int, netsnmp_session *, int, netsnmp_pdu *, void *);

/* v3.c: credentials into net-snmp sessions, engine-ID discovery */
int  sess_netsnmp_open(struct osnmp_sess *, char *err, size_t errlen);
void sess_start(struct osnmp_sess *);        /* begins v3 discovery if needed */
bool sess_usable(const struct osnmp_sess *); /* false while discovering */
void sess_discovery_end(struct osnmp_sess *); /* closing: off the count */
const char *sess_report_reason(const netsnmp_pdu *);
void engine_v3_cache_free(struct osnmp_engine *);
const oid *v3_auth_oid(int proto, size_t *len);
const oid *v3_priv_oid(int proto, size_t *len);

/* v3keys.c: Ku/Kul cache, per-session keys into net-snmp's USM table */
int  v3_keys_get(struct osnmp_engine *, const struct config_credential *,
                 const u_char *engid, size_t engid_len, struct v3_keys *out,
                 char *err, size_t errlen);
int  v3_keys_bind(struct osnmp_sess *);   /* before each net-snmp call */
int  v3_ku_derive(int auth_proto, const char *password, u_char *ku,
                  size_t *kulen);   /* as generate_Ku() */
void v3_keys_cache_free(struct osnmp_engine *);
int  v3_engid_get(struct osnmp_engine *, const char *peer, u_char *id, size_t *len);
void v3_engid_put(struct osnmp_engine *, const char *peer, const u_char *id, size_t len);
void v3_engid_forget(struct osnmp_engine *, const char *peer);
void v3_keys_unbind_all(void);

#endif
