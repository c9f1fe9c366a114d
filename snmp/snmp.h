/*
 * snmp: a non-blocking SNMP client engine on net-snmp's single-session
 * API, driven by the core event loop. One net-snmp session per
 * (address, port, credential); its UDP socket is connect()ed, so the
 * kernel drops replies from any other source and reports ICMP
 * port-unreachable; net-snmp matches the request id. An idle session
 * lingers a few seconds (bounded in number) so that a walk's GETBULKs
 * and a poll's requests share it; SNMPv3 keys are derived once per
 * password and localised once per engine.
 */
#ifndef OUTPOST_SNMP_H
#define OUTPOST_SNMP_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>
#include <cjson/cJSON.h>

#include "core/core.h"
#include "config/config.h"

/* Call once before any other snmp_ function (sets library defaults so
 * no host snmp.conf, MIB file or persistent state is read or written). */
void osnmp_lib_init(const char *appname);

struct osnmp_target {
	char     host[256];   /* numeric address or name */
	unsigned port;
	const struct config_credential *cred;   /* borrowed; must outlive use */
	unsigned timeout_ms;
	unsigned retries;
};

struct osnmp_engine_opts {
	unsigned max_inflight;     /* requests on the wire, all targets */
	unsigned max_per_target;   /* requests on the wire, one session */
	size_t   max_queued;       /* requests waiting for a slot */
	unsigned max_idle;         /* idle sessions kept (0 = 256) */
	unsigned max_sessions;     /* sockets before idle ones are evicted (0 = 1024) */
	unsigned idle_ms;          /* an idle session closes after (0 = 5000) */
};

/* Counters, for tests and diagnostics. */
struct osnmp_engine_stats {
	uint64_t sessions_opened;
	uint64_t ku_derived;       /* password -> Ku (the expensive step) */
	uint64_t kul_derived;      /* credential localised to an engine ID */
	size_t   sessions, idle;   /* now */
};

enum osnmp_status {
	OSNMP_ST_OK,          /* a response PDU (check its errstat) */
	OSNMP_ST_TIMEOUT,     /* no answer after retries */
	OSNMP_ST_REFUSED,     /* ICMP port unreachable */
	OSNMP_ST_AUTH,        /* v3: unknown user, wrong digest, ... */
	OSNMP_ST_ERROR,       /* anything else; see errmsg */
};

struct osnmp_reply {
	enum osnmp_status status;
	netsnmp_pdu     *pdu;       /* OSNMP_ST_OK: the response, owned by engine */
	const char      *errmsg;    /* not OK: a human-readable reason */
	uint64_t         rtt_us;    /* first send to answer */
};

typedef void (*osnmp_reply_cb)(const struct osnmp_reply *, void *arg);

struct osnmp_engine;
struct osnmp_engine *osnmp_engine_new(struct loop *, const struct osnmp_engine_opts *);
void osnmp_engine_free(struct osnmp_engine *);
unsigned osnmp_engine_inflight(const struct osnmp_engine *);
bool     osnmp_engine_closing(const struct osnmp_engine *);
void     osnmp_engine_stats(const struct osnmp_engine *, struct osnmp_engine_stats *);
/* The SNMPv3 engine ID discovered for a numeric address, as hex; 0 or -1. */
int osnmp_engine_id_hex(struct osnmp_engine *, const char *addr, unsigned port,
                        char *buf, size_t len);

/* Send pdu (ownership taken, also on error). cb runs exactly once, from
 * the loop, never from inside this call. -1 only when the queue is full
 * or the target is invalid (message in err). */
int osnmp_send(struct osnmp_engine *, const struct osnmp_target *, netsnmp_pdu *,
              osnmp_reply_cb, void *arg, char *err, size_t errlen);

/* ---- walks (walk.c) ---- */

struct osnmp_walk_opts {
	unsigned max_repetitions;   /* GETBULK start value; shrinks on tooBig/timeouts */
	size_t   max_varbinds;      /* stop after this many (0 = OSNMP_WALK_MAX) */
	/* Pass what net-snmp's walk tools print: every varbind of a response
	 * inside the subtree, exceptions (endOfMibView, ...) included; after
	 * an agent error, as after an empty walk, GET the root. */
	bool     netsnmp_output;
	/* Optional: the agent said noSuchName (v1's end of the MIB);
	 * snmpwalk prints "End of MIB" at this point of its output. */
	void   (*end_of_mib)(void *arg);
};
#define OSNMP_WALK_MAX 1000000

/* How a walk ended, for the done callback (borrowed for the call). */
struct osnmp_walk_end {
	enum osnmp_status status;   /* OK at the normal end */
	const char *errmsg;         /* why it stopped, or a note with OK */
	size_t      count;          /* varbinds passed to the callback */
	long        errstat;        /* an agent error that ended it, else 0 */
	long        errindex;       /* its index, as the agent sent it */
	const oid  *failed;         /* the varbind errindex names, or NULL */
	size_t      failedlen;
};

/* Return false to stop the walk early. */
typedef bool (*osnmp_walk_vb_cb)(const netsnmp_variable_list *, void *arg);
typedef void (*osnmp_walk_done_cb)(const struct osnmp_walk_end *, void *arg);

int osnmp_walk(struct osnmp_engine *, const struct osnmp_target *,
              const oid *root, size_t rootlen, const struct osnmp_walk_opts *,
              osnmp_walk_vb_cb, osnmp_walk_done_cb, void *arg,
              char *err, size_t errlen);

/* A GET of req's varbinds without the one at index (from 1, as an
 * errindex): what snmpget sends after an agent refused that one. NULL if
 * index is out of range or nothing would be left. */
netsnmp_pdu *osnmp_get_without(const netsnmp_pdu *req, long index);

/* ---- table walks (table.c): several columns per request ---- */

#define OSNMP_TABLE_MAX_COLS 48

struct osnmp_table_col {
	const oid *oid;     /* borrowed until the done callback */
	size_t     len;
};
/* col: index into the columns given; vb is borrowed for the call.
 * Return false to end that column (the caller's row cap): the walk goes
 * on with the others and ends when every column has. */
typedef bool (*osnmp_table_cb)(int col, const netsnmp_variable_list *vb, void *arg);
typedef void (*osnmp_table_done_cb)(enum osnmp_status, const char *errmsg, void *arg);

int osnmp_table_walk(struct osnmp_engine *, const struct osnmp_target *,
                     const struct osnmp_table_col *cols, size_t ncols,
                     unsigned max_repetitions, osnmp_table_cb, osnmp_table_done_cb,
                     void *arg, char *err, size_t errlen);

/* ---- discovery scans (scan.c) ----
 *
 * A scan probes every address of its ranges from a few unconnected UDP
 * sockets: v1/v2c credentials with one GET each (sysDescr, sysObjectID,
 * sysUpTime, sysName), v3 ones with an engine-discovery probe first;
 * only addresses that answer a v3 probe cost an authenticated GET
 * through the engine. Probes are paced by a token bucket (rate) and by
 * what the receive buffer can hold, so replies are not lost to a burst;
 * addresses are generated lazily, and memory is one slot per probe in
 * flight (concurrency) plus one result per device found. */

#define OSNMP_SCAN_MAX_CREDS 32
#define OSNMP_SCAN_MAX_CONCURRENCY 131072

struct osnmp_scan_device {
	char     address[48];
	unsigned port;
	uint32_t sort_key;        /* IPv4 as a number; UINT32_MAX for IPv6 */
	unsigned cred_index;      /* into osnmp_scan_opts.creds */
	char     sys_name[256], sys_descr[1024], sys_object_id[256];
	uint64_t sys_uptime;      /* hundredths of a second */
	double   rtt_ms;
};

struct osnmp_scan_opts {
	const struct net_range *ranges;    /* copied */
	size_t   nranges;
	unsigned port;
	const struct config_credential *const *creds;   /* borrowed */
	size_t   ncreds;
	unsigned rate;            /* probes per second, 0 = unlimited */
	unsigned concurrency;     /* probes in flight; 0 = from rate and timeout */
	unsigned timeout_ms, retries;
	/* Optional: the credential index to try first for an address. */
	int    (*first_cred)(const char *address, void *arg);
	/* Optional, one per range: that range's port (0: port above). */
	const unsigned *range_ports;
};

typedef void (*osnmp_scan_found_cb)(const struct osnmp_scan_device *, void *arg);
/* The last call; the scan is freed after it returns. probed counts
 * distinct addresses (and ports): overlapping ranges are probed once. */
typedef void (*osnmp_scan_done_cb)(uint64_t probed, size_t found, void *arg);

struct osnmp_scan;
struct osnmp_scan *osnmp_scan_start(struct osnmp_engine *, struct loop *,
                                    const struct osnmp_scan_opts *,
                                    osnmp_scan_found_cb, osnmp_scan_done_cb,
                                    void *arg, char *err, size_t errlen);
/* Stop early; done_cb is not called; the scan frees itself. */
void osnmp_scan_cancel(struct osnmp_scan *);
void osnmp_scan_progress(const struct osnmp_scan *, uint64_t *done,
                         uint64_t *total, size_t *found);

struct osnmp_scan_stats {
	uint64_t sent;            /* probes sent, retries included */
	uint64_t replies;         /* replies that matched a probe */
	uint64_t ignored;         /* datagrams that matched nothing */
	uint64_t kernel_drops;    /* replies the receive buffer dropped */
	double   rate;            /* probes per second now (0: unlimited) */
};
void osnmp_scan_stats(const struct osnmp_scan *, struct osnmp_scan_stats *);

/* Sort targets and merge duplicates and overlaps, per port (ports may be
 * NULL: all the same). Returns the new count; ranges (and ports) are
 * rewritten in place. */
size_t osnmp_scan_merge(struct net_range *, unsigned *ports, size_t n);

/* ---- notifications received (trap.c, trap_ber.c, trap_usm.c) ----
 *
 * A receiver on the loop: UDP sockets read in batches (recvmmsg), each
 * datagram decoded by the bounded BER reader (never trusted, nothing
 * allocated per datagram), checked (community, or USM digest, key and
 * time window), rate-limited per source address, and handed to the
 * callback. Informs are answered with a Response; for SNMPv3 the agent
 * is the authoritative engine of an inform, with its own engine ID and
 * engineBoots kept in state_dir (boots + 1 at each start). Work per loop
 * pass is bounded, so a flood never starves the rest of the loop. */

#define OSNMP_TRAP_MAX_LISTEN   16
#define OSNMP_TRAP_MAX_VARBINDS 256   /* more: dropped, counted malformed */

struct osnmp_notification {
	int         version;        /* CFG_SNMP_V1, _V2C or _V3 */
	bool        inform;         /* InformRequest (acknowledged) */
	uint64_t    received_ms;    /* wall clock */
	const struct sockaddr *from;
	char        source[48];     /* numeric address */
	unsigned    port;
	const char *community;      /* v1/v2c: the configured string it matched */
	const struct config_credential *cred;   /* v3: the user it matched */
	const u_char *context;      /* v3 contextName, not NUL-terminated */
	size_t      context_len;
	const oid  *trap_oid;       /* snmpTrapOID.0 (v1: RFC 3584 3.1) */
	size_t      trap_oid_len;
	uint32_t    uptime;         /* sysUpTime.0 or the v1 time-stamp */
	/* v1 only */
	const oid  *enterprise;
	size_t      enterprise_len;
	char        agent_addr[16];
	long        generic, specific;
	/* The varbinds after sysUpTime.0 and snmpTrapOID.0 (v1: all),
	 * linked; valid during the callback only. */
	const netsnmp_variable_list *vbs;
	size_t      nvbs;
};

struct osnmp_trap_opts {
	const char *const *listen;      /* config_udp_endpoint() syntax */
	size_t      nlisten;
	const char *const *communities;
	size_t      ncommunities;
	const struct config_credential *const *users;   /* v3; each borrowed */
	size_t      nusers;
	unsigned    rate;               /* per source per second; 0: unlimited */
	unsigned    queue_max;          /* receive buffer, in notifications */
	const char *state_dir;          /* engine ID and boots; NULL: memory */
};

struct osnmp_trap_stats {
	uint64_t received;              /* accepted, handed to the callback */
	uint64_t informs_acked;
	uint64_t dropped_community;
	uint64_t dropped_auth;          /* unknown user, digest, decryption */
	uint64_t dropped_time_window;
	uint64_t dropped_rate;
	uint64_t malformed;             /* BER, PDU type, too many varbinds */
	uint64_t queue_full;            /* the kernel dropped (receive buffer) */
	uint64_t reports_sent;          /* v3 discovery / time window */
};

typedef void (*osnmp_trap_cb)(const struct osnmp_notification *, void *arg);

struct osnmp_trap;
/* eng supplies the v3 key caches. NULL and a message when a socket
 * cannot be bound or the state cannot be kept. */
struct osnmp_trap *osnmp_trap_open(struct loop *, struct osnmp_engine *eng,
                                   const struct osnmp_trap_opts *,
                                   osnmp_trap_cb, void *arg,
                                   char *err, size_t errlen);
void osnmp_trap_close(struct osnmp_trap *);
void osnmp_trap_stats(const struct osnmp_trap *, struct osnmp_trap_stats *);
/* This agent's engine ID as hex, and its boots (for informs). */
void osnmp_trap_engine(const struct osnmp_trap *, char *hex, size_t len,
                       uint32_t *boots);

/* ---- OIDs and values (oid.c) ---- */

/* Numeric OID (".1.3.6", "1.3.6") or a built-in name ("sysName.0",
 * "ifDescr"). 0 or -1 with a message. */
int  osnmp_oid_parse(const char *s, oid *out, size_t *outlen, char *err, size_t errlen);
/* The same for a walk root, which may be a single arc (0, 1 or 2). */
int  osnmp_oid_parse_root(const char *s, oid *out, size_t *outlen, char *err,
                          size_t errlen);
void osnmp_oid_str(const oid *o, size_t len, char *buf, size_t buflen);   /* ".1.3.6..." */
/* Display name for the common system/interface objects, or NULL. */
const char *osnmp_oid_name(const oid *o, size_t len, char *buf, size_t buflen);
/* "OID = TYPE: value" exactly as net-snmp's tools print with -On. The
 * text lives in a buffer reused by the next call; NULL if too long. */
const char *osnmp_vb_line(const netsnmp_variable_list *);
/* The value alone, as net-snmp prints it, without the "TYPE: " prefix. */
int  osnmp_vb_value(const netsnmp_variable_list *, char *buf, size_t buflen);
/* A short type name ("STRING", "Counter64", ...) for JSON output. */
const char *osnmp_vb_type(const netsnmp_variable_list *);
bool osnmp_vb_is_exception(const netsnmp_variable_list *);

/* ---- values as JSON (value.c; docs/protocol.md "Values") ---- */

/* Strict UTF-8 with no control characters but TAB, LF and CR: an OCTET
 * STRING that is "STRING" text in JSON (else "Hex-STRING"). */
bool osnmp_octets_are_text(const u_char *, size_t);
/* The value for JSON and its type name in *type ("INTEGER", "STRING",
 * "Hex-STRING", "Counter64", ...): integers as exact JSON numbers, text
 * as a string, other octets as upper-case hex "48 5B 39", NULL and the
 * exceptions as null. NULL only when out of memory. */
cJSON *osnmp_vb_json_value(const netsnmp_variable_list *, const char **type);
/* {"oid", ["name",] "type", "value"}: get/walk --json, command results. */
cJSON *osnmp_vb_json(const netsnmp_variable_list *, bool with_name);
/* One cell of a poll sample: the bare value, or {"type", "value"} for
 * Hex-STRING and Opaque so bytes are never mistaken for text. */
cJSON *osnmp_vb_json_cell(const netsnmp_variable_list *);

#endif
