/*
 * Internal to the notification receiver (trap.c, trap_ber.c,
 * trap_usm.c) and its unit tests: the decoded message, pointers into
 * the datagram, and the steps between.
 */
#ifndef OUTPOST_TRAP_INT_H
#define OUTPOST_TRAP_INT_H

#include <openssl/evp.h>

#include "snmp/snmp_int.h"

#define TRAP_DGRAM_MAX   65536   /* a UDP datagram */
#define TRAP_ENGID_MAX   32      /* RFC 3411 SnmpEngineID */
#define TRAP_TIME_WINDOW 150     /* s, RFC 3414 3.2.7 */

/* PDU tags */
#define TRAP_PDU_RESPONSE 0xa2
#define TRAP_PDU_V1TRAP   0xa4
#define TRAP_PDU_INFORM   0xa6
#define TRAP_PDU_V2TRAP   0xa7
#define TRAP_PDU_REPORT   0xa8

/* USM msgFlags */
#define TRAP_FLAG_AUTH       0x01
#define TRAP_FLAG_PRIV       0x02
#define TRAP_FLAG_REPORTABLE 0x04

struct trap_vb {
	netsnmp_variable_list v;
	oid objid[MAX_OID_LEN];   /* an OBJECT IDENTIFIER value */
};

/* Where a decode stopped, for the counters. */
enum trap_verdict {
	TRAP_OK,
	TRAP_MALFORMED,
	TRAP_BAD_COMMUNITY,
	TRAP_BAD_AUTH,
	TRAP_TIME_WINDOW_BAD,
	TRAP_NOT_NOTIFICATION,   /* a well-formed PDU of another type */
	TRAP_REPORTED,           /* v3 discovery answered with a Report */
};

struct trap_msg {
	int      version;            /* CFG_SNMP_* */
	struct ber community;        /* v1/v2c */
	/* v3 header and USM parameters */
	int64_t  msgid, msgmax, model;
	uint8_t  flags;
	struct ber engid, user, auth_params, priv_params;
	int64_t  boots, time;
	struct ber data;             /* msgData: a ScopedPDU or its ciphertext */
	uint8_t  data_tag;
	struct ber ctx_engid, ctx_name;
	/* the PDU */
	uint8_t  pdu_type;
	struct ber pdu;              /* its content */
	int64_t  reqid;
	struct ber vbl_elem;         /* the varbind list element, header too */
};

/* A decoded notification: the public view plus its storage. */
struct trap_decoded {
	struct osnmp_notification n;
	oid      trap_oid[MAX_OID_LEN + 2];
	oid      enterprise[MAX_OID_LEN];
	struct trap_vb *vbs;         /* OSNMP_TRAP_MAX_VARBINDS of them */
};

/* trap_ber.c. Every function is safe on any input. */
enum trap_verdict trap_parse_msg(const uint8_t *buf, size_t len, struct trap_msg *);
/* The ScopedPDU (plaintext) into m's context and PDU fields. */
enum trap_verdict trap_parse_scoped(struct ber scoped, struct trap_msg *m);
/* m's PDU into d (d->vbs must hold OSNMP_TRAP_MAX_VARBINDS). */
enum trap_verdict trap_parse_pdu(struct trap_msg *m, struct trap_decoded *d);
/* An OBJECT IDENTIFIER's content into out; the count, or -1. */
int trap_oid_decode(const uint8_t *p, size_t len, oid *out, size_t max);
/* The Response to a v1/v2c inform: the request's id and varbinds. */
size_t trap_response_v2c(const struct trap_msg *m, uint8_t *out, size_t cap);
/* The Response PDU alone (for v3 to wrap). */
void trap_w_response_pdu(struct wbuf *w, const struct trap_msg *m);

/* trap_usm.c: this agent as an SNMPv3 engine */
struct trap_usm;
struct trap_usm *trap_usm_new(struct osnmp_engine *keys,
                              const struct config_credential *const *users,
                              size_t nusers, const char *state_dir,
                              char *err, size_t errlen);
void trap_usm_free(struct trap_usm *);
/* Authenticate and decrypt m (buf is the datagram, writable: the digest
 * is checked in place); on TRAP_OK *cred is the user's credential and
 * m's scoped PDU is parsed (plain points into buf or the usm's buffer).
 * TRAP_REPORTED: a Report to send is in out, outlen long (also with TRAP_TIME_WINDOW_BAD). */
enum trap_verdict trap_usm_in(struct trap_usm *, uint8_t *buf, size_t len,
                              struct trap_msg *m,
                              const struct config_credential **cred,
                              uint8_t *out, size_t *outlen);
/* The Response to an authenticated v3 inform; its length or 0. */
size_t trap_usm_response(struct trap_usm *, const struct trap_msg *m,
                         const struct config_credential *cred,
                         uint8_t *out, size_t cap);
void trap_usm_engine(const struct trap_usm *, char *hex, size_t len,
                     uint32_t *boots);

/* ---- the receiver (trap.c; the OS's sockets in trap_linux.c or
 * trap_win.c) ------------------------------------------------------------ */

#define TRAP_RECV_BATCH 32
#define TRAP_PASS_MAX   256          /* datagrams per socket per pass */
#define TRAP_SLOT       16384        /* larger datagrams: counted malformed */
#define TRAP_SOURCES    4096         /* rate-limit buckets (power of two) */
#define TRAP_PROBE      8            /* buckets looked at per source */
#define TRAP_DGRAM_COST 1024         /* receive buffer per queued notification */

struct trap_source {
	uint8_t  addr[16];
	uint8_t  family;                  /* 0: free */
	uint64_t last_us;
	struct ratelimit rl;
};

struct trap_sock {
	os_socket fd;
	uint32_t  drops;                  /* SO_RXQ_OVFL as last seen (Linux) */
};

/* The OS's own receive batch (mmsghdr and iovec arrays on Linux). */
struct trap_os;

struct osnmp_trap {
	struct loop         *loop;
	osnmp_trap_cb        cb;
	void                *arg;
	struct trap_sock     socks[OSNMP_TRAP_MAX_LISTEN];
	size_t               nsocks;
	char               **communities;
	size_t              *community_len;
	size_t               ncommunities;
	unsigned             rate;
	struct trap_usm     *usm;
	struct trap_source  *sources;
	struct osnmp_trap_stats stats;
	/* receive batch: TRAP_RECV_BATCH slots of TRAP_SLOT bytes */
	uint8_t             *in;
	struct sockaddr_storage from[TRAP_RECV_BATCH];
	struct trap_os      *io;
	struct trap_decoded  dec;
	uint8_t              out[TRAP_DGRAM_MAX];
};

/* trap.c: one datagram read from k, len bytes at buf (truncated: it was
 * longer than TRAP_SLOT), from a sender: rate limit, decode, check, hand
 * to the callback, answer. */
void trap_receive(struct osnmp_trap *, struct trap_sock *k, uint8_t *buf,
                  size_t len, bool truncated,
                  const struct sockaddr_storage *from, uint64_t wall_ms,
                  uint64_t now_us);
/* The socket the loop reported, or NULL. */
struct trap_sock *trap_sock_find(struct osnmp_trap *, os_socket fd);

/* trap_linux.c or trap_win.c */
int  trap_os_new(struct osnmp_trap *);        /* 0 or -1 (no memory) */
void trap_os_free(struct osnmp_trap *);
/* A non-blocking UDP socket bound to ss (spec names it in messages),
 * its receive buffer sized for queue_max notifications; 0, or -1 with
 * the reason in err. */
int  trap_os_bind(struct osnmp_trap *, const char *spec,
                  const struct sockaddr_storage *ss, unsigned sl,
                  unsigned queue_max, os_socket *fd, char *err, size_t errlen);
void trap_os_close(os_socket);
/* The loop's callback for a readable socket: at most TRAP_PASS_MAX
 * datagrams, each to trap_receive. */
void trap_os_readable(struct loop *, os_socket fd, int events, void *arg);
/* Never blocks: a full send buffer loses the answer, and the sender
 * retries its inform. */
void trap_os_send(os_socket, const uint8_t *p, size_t len,
                  const struct sockaddr_storage *to);

#endif
