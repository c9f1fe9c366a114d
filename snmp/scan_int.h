/*
 * Internal to the scanner (scan*.c) and its unit tests: the probe
 * messages, a bounded BER reader for the replies, the table of probes in
 * flight, and the scan itself.
 */
#ifndef OUTPOST_SCAN_INT_H
#define OUTPOST_SCAN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snmp/snmp_int.h"

/* ---- probes (scan_ber.c) ---------------------------------------------- */

#define SCAN_TPL_MAX 400           /* a community of 255 bytes fits */
#define SCAN_COMMUNITY_MAX 255

/*
 * A probe message encoded once per credential; each probe is a copy with
 * its request id written at reqid_off (and, for the v3 discovery probe,
 * the msgID at msgid_off). Request ids are always 4-byte INTEGERs in
 * [0x40000000, 0x7fffffff], so the encoding is minimal BER and never
 * changes length.
 */
struct scan_tpl {
	uint8_t buf[SCAN_TPL_MAX];
	size_t  len;
	size_t  reqid_off;
	size_t  msgid_off;         /* 0 for v1/v2c */
};
#define SCAN_REQID_BASE 0x40000000u
#define SCAN_REQID_BITS 30

/* version: 0 (v1) or 1 (v2c). GET of sysDescr.0, sysObjectID.0,
 * sysUpTime.0, sysName.0. -1 if the community is too long. */
int  scan_tpl_community(struct scan_tpl *, int version, const char *community,
                        size_t len);
/* SNMPv3 engine discovery (RFC 3414 4): an empty noAuthNoPriv GET,
 * reportable, empty user and engine ID. */
void scan_tpl_v3_discovery(struct scan_tpl *);
void scan_tpl_write(const struct scan_tpl *, uint32_t reqid, uint8_t *out);

/* The four variables a probe asks for, in this order. */
enum { SCAN_VB_DESCR, SCAN_VB_OBJECT_ID, SCAN_VB_UPTIME, SCAN_VB_NAME, SCAN_NVB };

struct scan_value {
	uint8_t        tag;        /* BER tag; 0 if the variable was absent */
	const uint8_t *val;        /* content octets, inside the message */
	size_t         len;
};

/*
 * What a reply says. Pointers point into the message; nothing is copied.
 * A v1/v2c reply has version 0/1, community, pdu_type and reqid; a v3
 * one has version 3 and msgid (and pdu_type/reqid only if the scoped PDU
 * is in clear).
 */
struct scan_reply {
	long           version;
	const uint8_t *community;
	size_t         community_len;
	uint8_t        pdu_type;
	int64_t        reqid, msgid;
	int64_t        error_status;
	struct scan_value vb[SCAN_NVB];
};

/* Parse a reply, defensively: every length is checked against what is
 * left, nesting is fixed, integers are bounded. 0 or -1 (not one of
 * ours, or malformed). */
int  scan_reply_parse(const uint8_t *msg, size_t len, struct scan_reply *);
/* The request id a probe of ours carries (for ICMP errors, which quote
 * the probe); -1 if it is not a probe. */
int64_t scan_probe_reqid(const uint8_t *msg, size_t len);
/* An OBJECT IDENTIFIER's content octets into sub-identifiers; the number
 * of them, or -1 (malformed, a sub-identifier above 2^32-1, or more
 * than max). */
int  scan_oid_decode(const uint8_t *val, size_t len, uint32_t *out, size_t max);
/* An unsigned INTEGER-like value (TimeTicks, ...) of at most 32 bits. */
int  scan_uint32_decode(const uint8_t *val, size_t len, uint32_t *out);

/* ---- probes in flight (scan_table.c) ----------------------------------- */

/*
 * A fixed array of slots, one per probe in flight, allocated once: the
 * request id names its slot (low bits) and a generation (high bits,
 * mixed with a per-scan random salt), so a reply finds its probe in O(1)
 * with no hashing, and a stale or forged id fails the check of the full
 * id and of the source address. Slots are threaded on three intrusive
 * lists by index: free, waiting to be sent, and on the wire in the order
 * they were sent (which is also the order of their deadlines).
 */
enum scan_list { SCAN_L_NONE, SCAN_L_FREE, SCAN_L_QUEUE, SCAN_L_WIRE };

struct scan_slot {          /* 40 bytes */
	uint64_t sent_us;        /* last send, scan clock */
	uint32_t reqid;          /* 0 while free */
	uint32_t range, off;     /* which address: ranges[range].first + off */
	int32_t  prev, next;
	uint8_t  list;           /* enum scan_list */
	uint8_t  step;           /* index into the credential order */
	uint8_t  tries;          /* sends with the current credential */
	uint8_t  first;          /* credential tried first; 0xff = none */
	uint8_t  flags;          /* SCAN_F_* in scan.c */
};

struct scan_list_head { int32_t head, tail; uint32_t count; };

struct scan_table {
	struct scan_slot     *slot;
	uint32_t              nslots;
	unsigned              slot_bits;
	uint32_t              salt, gen;
	struct scan_list_head lists[4];
};

int  scan_table_init(struct scan_table *, uint32_t nslots, uint32_t salt);
void scan_table_free(struct scan_table *);
/* A free slot with a fresh request id, on no list; -1 if none. */
int32_t scan_table_get(struct scan_table *);
/* Give the slot a fresh request id (a new credential). */
void scan_table_renew(struct scan_table *, int32_t);
void scan_table_put(struct scan_table *, int32_t);
/* The slot a request id names, or -1 (out of range, stale, free). */
int32_t scan_table_find(const struct scan_table *, int64_t reqid);
void scan_list_push(struct scan_table *, enum scan_list, int32_t);
void scan_list_push_front(struct scan_table *, enum scan_list, int32_t);
void scan_list_remove(struct scan_table *, int32_t);
static inline int32_t scan_list_first(const struct scan_table *t, enum scan_list l)
{
	return t->lists[l].head;
}
static inline uint32_t scan_list_count(const struct scan_table *t, enum scan_list l)
{
	return t->lists[l].count;
}

/* ---- the scan (scan.c, scan_io.c; the OS's UDP in scan_linux.c or
 * scan_win.c) ----------------------------------------------------------- */

#define SCAN_BATCH        64        /* probes per send batch (sendmmsg) */
#define SCAN_RECV_BATCH   32        /* datagrams per receive batch (recvmmsg) */
#define SCAN_RECV_MAX     4096      /* a longer reply is not ours to parse */
#define SCAN_TURN_MAX     4096      /* probes per loop turn: others get a go */
#define SCAN_DRAIN_MAX    64        /* receive batches per drain */
#ifndef SCAN_RCVBUF                 /* -DSCAN_RCVBUF=32768 to see losses */
#define SCAN_RCVBUF       (8 << 20)
#endif
#define SCAN_SNDBUF       (1 << 20)
/* Kernel memory a queued reply is charged (skb truesize): on loopback
 * 832 bytes for a 100-byte datagram, 2304 for 1400 bytes; NIC drivers
 * often charge a 2-4 KB buffer whatever the size. */
#define SCAN_REPLY_COST   2048
#define SCAN_WINDOW_MIN   64
#define SCAN_GRACE_MIN_US 20000
#define SCAN_RATE_MIN     100       /* the floor of backing off */
#define SCAN_BACKOFF_MAX_MS 50
#define SCAN_TICK_US      10000     /* the shortest wait for tokens or timeouts */
#define SCAN_LOSS_TRIES   2         /* extra tries for replies the kernel dropped */

enum {
	SCAN_F_V3_OK  = 1,   /* answered a v3 discovery probe */
	SCAN_F_ENGINE = 4,   /* an authenticated GET is with the engine */
	SCAN_F_INWIN  = 8,   /* counted in the reply window */
};


struct scan_range {
	struct net_range r;
	unsigned         port;
	uint64_t         count;
};

struct scan_sock {
	os_socket fd;          /* OS_SOCKET_NONE: not open */
	uint32_t  drops;       /* SO_RXQ_OVFL counter last seen (Linux) */
};

struct scan_eng_req {
	struct osnmp_scan *scan;
	int32_t            slot;
};

/* The OS's own batch structures (mmsghdr and iovec arrays on Linux). */
struct scan_os;

struct osnmp_scan {
	struct osnmp_engine   *eng;
	struct loop           *loop;
	struct osnmp_scan_opts opts;
	struct scan_range     *ranges;
	size_t                 nranges, range_idx;
	uint64_t               range_off, total, done;
	size_t                 found;
	struct scan_table      tab;
	struct scan_tpl        tpl[OSNMP_SCAN_MAX_CREDS];
	struct scan_sock       sock4, sock6;
	struct ratelimit       rl;
	double                 rate;            /* current; 0 = unlimited */
	struct loop_timer      timer;
	uint64_t               t0_us;
	/* the reply window */
	uint32_t               win_cap, win_used;
	int32_t                win_oldest;      /* oldest slot in it, or -1 */
	double                 srtt_us, rttvar_us;
	uint64_t               backoff_us, backoff_until;
	struct osnmp_scan_stats stats;
	unsigned               engine_reqs;
	struct scan_eng_req   *eng_req;         /* one per slot; v3 scans only */
	bool                   cancelled, finished;
	bool                   busy;            /* inside pump or a callback */
	bool                   lost;            /* replies dropped: act after the drain */
	uint64_t               last_slowdown;
	uint64_t               last_loss;       /* when drops were last seen */
	osnmp_scan_found_cb    found_cb;
	osnmp_scan_done_cb     done_cb;
	void                  *arg;
	/* I/O buffers, allocated once: the batch being sent (probe bytes,
	 * length, destination, slot) and the replies being read. */
	uint8_t              (*out)[SCAN_TPL_MAX];
	size_t                *out_len;
	struct sockaddr_storage *out_addr;
	socklen_t             *out_alen;
	int32_t               *out_slot;
	uint8_t              (*in)[SCAN_RECV_MAX];
	struct sockaddr_storage *in_addr;
	struct scan_os        *io;
};

static inline uint64_t
scan_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline uint64_t
scan_now(const struct osnmp_scan *s)
{
	return mono_us() - s->t0_us;
}

/* scan.c */
const struct scan_range *scan_slot_range(const struct osnmp_scan *,
                                         const struct scan_slot *);
bool     scan_slot_is_peer(const struct osnmp_scan *, const struct scan_slot *,
                           const struct sockaddr_storage *);
unsigned scan_slot_cred(const struct osnmp_scan *, const struct scan_slot *);
void     scan_slot_done(struct osnmp_scan *, int32_t);
void     scan_found_direct(struct osnmp_scan *, int32_t, const struct scan_reply *);
void     scan_engine_get(struct osnmp_scan *, int32_t);

/* scan_io.c: pacing and matching, the same on every OS */
int      scan_sock_open(struct osnmp_scan *, int family, char *err, size_t errlen);
uint64_t scan_grace(const struct osnmp_scan *);
void     scan_win_expire(struct osnmp_scan *, uint64_t now);
void     scan_wire_remove(struct osnmp_scan *, int32_t);
void     scan_set_rate(struct osnmp_scan *, double rate);   /* 0 = unlimited */
void     scan_slow_down(struct osnmp_scan *, const char *why);
void     scan_match(struct osnmp_scan *, const uint8_t *, size_t,
                    const struct sockaddr_storage *from);
/* An ICMP port unreachable quoting probe (the bytes we sent) to "to":
 * the address is done. */
void     scan_refused(struct osnmp_scan *, const uint8_t *probe, size_t len,
                      const struct sockaddr_storage *to);
/* Read every reply and ICMP error waiting. */
void     scan_drain(struct osnmp_scan *);
/* Send n prepared probes (out[0..n)) of one family; false if the kernel
 * pushed back. */
bool     scan_flush(struct osnmp_scan *, int family, int n);

/* scan_linux.c or scan_win.c: the OS's UDP. */
enum scan_send_err {
	SCAN_SEND_AGAIN,    /* the send buffer is full: later */
	SCAN_SEND_NOBUFS,   /* the OS is out of buffers: later, and slower */
	SCAN_SEND_FAILED,   /* this destination cannot be sent to */
};
/* The OS's batch structures, for SCAN_BATCH probes out and
 * SCAN_RECV_BATCH replies in; 0 or -1 (no memory). */
int      scan_os_new(struct osnmp_scan *);
void     scan_os_free(struct osnmp_scan *);
/* A non-blocking UDP socket bound to the family's any address into k,
 * with receive (SCAN_RCVBUF) and send buffers as large as the OS grants,
 * drop counting and ICMP errors where it has them; *granted is the
 * receive buffer it got. 0, or -1 with the reason in err. */
int      scan_os_open(struct osnmp_scan *, struct scan_sock *k, int family,
                      int *granted, char *err, size_t errlen);
void     scan_os_close(struct osnmp_scan *, struct scan_sock *k);
/* Sends out[from..n) on k: how many went (> 0) before anything failed,
 * or -1 with why the first one did not in *e. */
int      scan_os_send(struct osnmp_scan *, struct scan_sock *k, int from, int n,
                      enum scan_send_err *e);
/* Reads what is waiting on k, at most SCAN_DRAIN_MAX * SCAN_RECV_BATCH
 * datagrams: each reply to scan_match, each ICMP port unreachable to
 * scan_refused; drops the OS counted set s->lost. */
void     scan_os_drain(struct osnmp_scan *, struct scan_sock *k);

#endif
