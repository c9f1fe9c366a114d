/*
 * hub internals shared by the files of hub/ and its unit tests:
 *
 *   util.c    bounded buffers, token hashes, random ids, files, times
 *   ingest.c  JSON with memory budgets, strict parse (gzip, depth and
 *             command checks: protocol/)
 *   store*.c  the store interface (store.h): SQLite or PostgreSQL
 *   server.c  libmicrohttpd on the core loop, held requests, drain
 *   api.c     the endpoints of docs/protocol.md
 *   tick.c    the once-a-second housekeeping
 *   work.c    store calls on worker threads; calls.c the calls
 *   batch.c   batches split by a scanner, stored entry by entry
 *   events.c  GET .../events and its long poll (store_events.c: storing)
 *   cli.c     add-agent, check-config and friends
 */
#ifndef OUTPOST_HUB_INT_H
#define OUTPOST_HUB_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/core.h"
#include "hub/hub.h"
#include "hub/store.h"
#include "protocol/protocol.h"

/* ---- limits: the protocol's own are in protocol/protocol.h; these
 * are the hub's choices within them ---- */
#define HUB_POLL_MAX_COMMANDS PROTO_POLL_MAX_COMMANDS
/* The agent refuses poll responses over PROTO_POLL_MAX_WIRE; we send
 * them uncompressed, so stay well below. */
#define HUB_POLL_MAX_BYTES    (3u << 20)
/* cJSON spends ~64 bytes per value, so a 64 MiB batch of tiny values
 * could take gigabytes; allocation during one parse is capped at this
 * and the batch refused with 413 (the agent then splits it). */
#define HUB_JSON_PARSE_BUDGET (768u << 20)
/* All request bodies being received at once (compressed bytes). */
#define HUB_UPLOAD_BUDGET     (256u << 20)
/* Body bytes read and thrown away after a limit was crossed on a body
 * without Content-Length, before the connection is simply closed. */
#define HUB_DISCARD_MAX       (1u << 20)
#define HUB_NAME_MAX          PROTO_NAME_MAX
#define HUB_ID_MAX            PROTO_ID_MAX
#define HUB_COMMAND_WAIT_MAX  300           /* s, GET /v1/commands/{id} */
#define HUB_POLL_WAIT_MAX     3600          /* s, protocol bound of wait */
#define HUB_SAMPLES_MAX       100
#define HUB_EVENT_ID_MAX      128           /* an agent's event id, bytes */
#define HUB_EVENTS_WAIT_MAX   300           /* s, GET events?wait= */
#define HUB_EVENT_WAITERS_MAX 1024          /* held GET events, this node */
#define HUB_DEVICES_MAX       100000
#define HUB_LIST_MAX_BYTES    (64u << 20)   /* one operator response */
#define HUB_SECRET_FILE_MAX   4096
#define HUB_TLS_FILE_MAX      (1u << 20)

/* ---- util.c ---- */

/* A growable byte buffer with a maximum (curl's dynbuf idea). Always
 * NUL-terminated when len > 0. */
struct hub_buf {
	char   *data;
	size_t  len, cap, max;
};
void hub_buf_init(struct hub_buf *, size_t max);
/* 0, or -1 when it would exceed max (or memory ran out); nothing added. */
int  hub_buf_add(struct hub_buf *, const void *, size_t);
int  hub_buf_str(struct hub_buf *, const char *);
/* Hands the data to the caller (may be NULL when empty); resets b. */
char *hub_buf_take(struct hub_buf *);
void hub_buf_free(struct hub_buf *);

/* SHA-256 of a token (OpenSSL EVP). */
void hub_token_hash(const char *token, size_t len, unsigned char out[HUB_HASH_LEN]);
/* 32 random bytes (getrandom) as unpadded base64url: 43 characters. */
int  hub_token_generate(char *out, size_t outlen);
/* agent names: 1-63 of A-Za-z0-9_.-; ids, cursors: 1-max of those */
#define hub_name_valid proto_name_valid
#define hub_id_valid   proto_id_valid
/* The admin token file: protocol/'s token reader, as the agent's. */
#define hub_secret_read proto_token_read
#define HUB_TOKEN_MAX   PROTO_TOKEN_MAX
/* 16 random bytes as 32 hex digits. */
int  hub_random_id(char out[33]);
/* A whole small file into a NUL-terminated malloc'd buffer. */
int  hub_file_read(const char *path, size_t max, char **out, size_t *outlen,
                   char *err, size_t errlen);
/* "2026-11-28T10:00:00.123Z" */
void hub_rfc3339(uint64_t ms, char *buf, size_t len);

/* ---- ingest.c ---- */

enum hub_ingest_rc {
	HUB_IN_OK = PROTO_OK,
	HUB_IN_BAD = PROTO_BAD,         /* 400: corrupt gzip, invalid JSON, ... */
	HUB_IN_TOO_BIG = PROTO_TOO_BIG, /* 413 */
};
/* Parse with PROTO_JSON_MAX_DEPTH and HUB_JSON_PARSE_BUDGET, then strictly
 * (json_exact: UTF-8, grammar; long integers kept as raw digits, read
 * them with json_int_exact). Invalid UTF-8 is HUB_IN_BAD (400). */
int  hub_json_parse(const char *s, size_t len, cJSON **out, char *err,
                    size_t errlen);
/* The text checks of hub_json_parse() without a tree: depth, grammar,
 * strict UTF-8 (the message names the batch and the JSON path). */
int  hub_json_check(const char *s, size_t len, char *err, size_t errlen);
/* Installs cJSON's allocation hooks (once, at start-up). */
void hub_json_init(void);
/* "HOST[:PORT]" as "HOST:PORT" ("[v6]:PORT"), port 161 by default. */
int  hub_device_normalize(const char *in, char *out, size_t outlen);

/* cli.c: the store a command works on; NULL after printing why. */
struct hub_config;
struct hub_store *hub_cli_store(const struct hub_config *);

/* ---- operator.c: operator tokens and their roles ---- */

/* Ordered: each role may do what the ones before it may. */
enum hub_role {
	HUB_ROLE_NONE, HUB_ROLE_VIEWER, HUB_ROLE_OPERATOR, HUB_ROLE_ADMIN,
};
/* "viewer" ... ; NULL for NONE */
const char *hub_role_name(enum hub_role);
/* HUB_ROLE_NONE when name is not a role */
enum hub_role hub_role_parse(const char *name);
/* The admin token file's token is this operator name (reserved). */
#define HUB_ADMIN_FILE_NAME "admin"

/* ---- metrics.c ---- */

/* Store calls timed for the latency histogram. */
enum hub_store_op {
	HUB_SOP_POLL, HUB_SOP_BATCH, HUB_SOP_COMMAND_ADD, HUB_SOP_COMMAND_GET,
	HUB_SOP_AUTH, HUB_SOP_HISTORY, HUB_SOP_METRICS, HUB_SOP_COUNT,
};
void hub_metrics_store_time(enum hub_store_op, uint64_t us);

/* ---- store.c: the calls below go to the backend [hub] db names ---- */

int  hub_store_open(const char *path, struct hub_store **, char *err, size_t errlen);
void hub_store_close(struct hub_store *);
const char *hub_store_errmsg(const struct hub_store *);
/* Deliver other nodes' events (and this one's) on the loop; a backend
 * without them (SQLite: one node) does nothing. */
int  hub_store_watch(struct hub_store *, struct loop *, hub_store_event_cb,
                     void *arg);
/* Group several writes in one transaction (one fsync). */
int  hub_store_begin(struct hub_store *);
int  hub_store_commit(struct hub_store *);

/* Agents. _add: 0, 1 if the name exists, -1 on error. */
int  hub_store_agent_add(struct hub_store *, const char *name,
                         const unsigned char hash[HUB_HASH_LEN], uint64_t now_ms);
/* _set_token, _remove: 0, 1 if there is no such agent, -1 on error. */
int  hub_store_agent_set_token(struct hub_store *, const char *name,
                               const unsigned char hash[HUB_HASH_LEN]);
int  hub_store_agent_remove(struct hub_store *, const char *name);
/* The agent id (> 0) with name copied, 0 if none, -1 on error. */
int64_t hub_store_agent_by_token(struct hub_store *,
                                 const unsigned char hash[HUB_HASH_LEN],
                                 char *name, size_t namelen);
int64_t hub_store_agent_by_name(struct hub_store *, const char *name);
int  hub_store_agent_touch(struct hub_store *, int64_t id, uint64_t last_seen_ms,
                           const char *address, const char *version);
/* [{"id", "name", "last_seen_ms", "version", "address"}, plus from the
 * agent's newest batch "batch_ms", "dropped_samples" and "counters"
 * (raw JSON) when there is one] */
int  hub_store_agents(struct hub_store *, cJSON **out);

/* Operator tokens (hash only, like agents'). _add: 0, 1 if the name
 * exists, -1; _remove: 0, 1 if none, -1; _by_hash: 1 found (name and
 * role copied), 0 none, -1. _list: [{"name", "role", "created_ms"}]. */
int  hub_store_token_add(struct hub_store *, const char *name, const char *role,
                         const unsigned char hash[HUB_HASH_LEN], uint64_t now_ms);
int  hub_store_token_remove(struct hub_store *, const char *name);
int  hub_store_token_by_hash(struct hub_store *,
                             const unsigned char hash[HUB_HASH_LEN], char *name,
                             size_t namelen, char *role, size_t rolelen);
int  hub_store_tokens(struct hub_store *, cJSON **out);

/* Commands. body is the full command object as delivered; sender the
 * name of the operator token that queued it. */
int  hub_store_command_add(struct hub_store *, int64_t agent_id, const char *id,
                           const char *type, const char *body,
                           uint64_t now_ms, uint64_t expires_ms,
                           const char *sender);
/* The operator view ({"id", "agent", "type", "target", "args", "sender",
 * "status", "created", "updated", "duration_ms", "result"}): 0, 1 if
 * unknown, -1 on error. final is set when the status is done, failed or
 * expired. */
int  hub_store_command_get(struct hub_store *, const char *id, cJSON **out,
                           bool *final);
/* An agent's commands created in [since, until), newest first, at most
 * limit, each the operator view without "result". */
int  hub_store_commands(struct hub_store *, int64_t agent_id, int64_t since,
                        int64_t until, int limit, cJSON **out);
/* Commands by status, all agents: cb(status, count). */
int  hub_store_command_counts(struct hub_store *, hub_store_count_cb, void *arg);
/* The newest sample of each (agent, device, profile) received since
 * since_ms, at most max_rows, ordered by agent name and device. */
int  hub_store_latest_samples(struct hub_store *, uint64_t since_ms, int max_rows,
                              hub_store_sample_cb, void *arg);

struct hub_poll {
	const char *ack;        /* NULL: none */
	uint64_t    now_ms, lease_ms;
	size_t      max_commands, max_bytes;
	/* out */
	struct hub_buf commands; /* "c1,c2,..." (JSON objects, comma-joined) */
	size_t      ncommands;
	int64_t     cursor;      /* 0 when no command was delivered */
};
/* Ack, then deliver what is due (queued, or delivered and unacked past
 * its lease), in one transaction. */
int  hub_store_poll(struct hub_store *, int64_t agent_id, struct hub_poll *);

/* Stores a parsed, validated batch in one transaction; *stored is false
 * for a batch_id this agent sent before. */
int  hub_store_batch(struct hub_store *, int64_t agent_id,
                     const struct hub_batch *batch,
                     int64_t batch_id, uint64_t now_ms, bool *stored,
                     hub_store_id_cb, void *arg);
/* Queued (or delivered and unacked, lease over) commands past their TTL
 * become expired; cb gets each id. Returns how many, or -1. */
int  hub_store_expire(struct hub_store *, uint64_t now_ms, hub_store_id_cb, void *arg);
/* Agents with a delivered, unacked command whose lease ran out. */
int  hub_store_leases_due(struct hub_store *, uint64_t now_ms,
                          hub_store_agent_cb, void *arg);
/* Deletes up to max_rows rows older than cutoff from each table;
 * returns rows deleted or -1. */
int  hub_store_cleanup(struct hub_store *, uint64_t cutoff_ms, int max_rows);
/* JSON arrays (text) of the stored entries, newest first for samples. */
int  hub_store_devices(struct hub_store *, int64_t agent_id, struct hub_buf *out);
/* A page of samples: ts in [since, until), older than the cursor
 * (before_ts, before_id) when before_id > 0, at most limit rows. */
struct hub_samples_page {
	int64_t since, until;
	int64_t before_ts, before_id;
	int     limit;
	/* out: the last row returned; more: rows may follow it */
	int64_t last_ts, last_id;
	bool    more;
};
int  hub_store_samples(struct hub_store *, int64_t agent_id, const char *device,
                       struct hub_samples_page *, struct hub_buf *out);
/* A page of events (store_events.c), by the agent's received time;
 * device NULL: every event of the agent. */
int  hub_store_events(struct hub_store *, int64_t agent_id, const char *device,
                      struct hub_samples_page *, struct hub_buf *out);

/* ---- server.c / api.c ---- */

struct MHD_Connection;
struct MHD_Daemon;

enum hub_route {
	HUB_R_NONE, HUB_R_HEALTHZ, HUB_R_POLL, HUB_R_RESULTS, HUB_R_CMD_POST,
	HUB_R_CMD_GET, HUB_R_AGENTS, HUB_R_DEVICES, HUB_R_SAMPLES,
	HUB_R_EVENTS,
	/* operator.c: roles, history, token and agent management */
	HUB_R_WHOAMI, HUB_R_HISTORY, HUB_R_TOKENS, HUB_R_TOKEN_ADD,
	HUB_R_TOKEN_DEL, HUB_R_AGENT_ADD, HUB_R_AGENT_DEL,
	HUB_R_METRICS,  /* metrics.c */
};

enum hub_wake {
	HUB_WAKE_NONE,
	HUB_WAKE_EVENT,       /* a command was queued / finished */
	HUB_WAKE_TIMEOUT,
	HUB_WAKE_SUPERSEDED,  /* the same agent polled again */
	HUB_WAKE_DRAIN,
};

/* Runtime state of an agent that has talked to this hub. */
struct hub_agent {
	int64_t           id;
	char              name[HUB_NAME_MAX + 1];
	struct hub_req   *poll;          /* its held poll */
	uint64_t          last_seen_ms;  /* wall clock */
	bool              dirty;         /* last_seen etc. not yet stored */
	char              address[64];
	char              version[32];
	struct hub_agent *next;          /* hash chain */
};

struct hub_req {
	struct hub            *hub;
	struct MHD_Connection *conn;
	enum hub_route         route;
	bool                   processing;   /* headers done, body (if any) read */
	bool                   answered;
	bool                   failed;       /* MHD refused: close it */
	bool                   close;        /* answer with Connection: close */
	const char            *allow;        /* 405: the Allow header */
	unsigned               retry_after;  /* s; 0 = no header */
	bool                   suspended;
	bool                   held;         /* was suspended at least once */
	enum hub_wake          wake;
	struct hub_buf         body;
	bool                   body_over;
	size_t                 discarded;
	size_t                 budget;       /* bytes counted in hub->upload_bytes */
	struct hub_agent      *agent;        /* agent routes, after auth */
	enum hub_role          role;         /* operator routes, after auth */
	char                   who[HUB_NAME_MAX + 1];  /* the token's name */
	char                   arg[HUB_NAME_MAX + HUB_ID_MAX + 2];  /* path part */
	char                   next_cursor[48];  /* Next-Cursor header; "" = none */
	uint64_t               deadline_ms;  /* loop clock */
	struct loop_timer      timer;
	struct hub_req        *prev, *next;  /* hub->held list */
	struct hub_req        *cw_prev, *cw_next;  /* hub->cmd_waiters or
	                                              hub->event_waiters */
	int64_t                ev_agent;     /* held GET events: its agent */
	size_t                 wait_seen;    /* samples ?wait=: rows at the start */
	struct hub_job        *job;          /* its store call (work.c) */
	bool                   parked;       /* suspended until job is done */
	bool                   job_done;
	bool                   op_lookup;    /* operator token: look it up */
	unsigned char          tok_hash[HUB_HASH_LEN];  /* auth's hash */
};

#define HUB_AGENT_BUCKETS 1024

/* Counters of this process for /metrics (metrics.c). */
struct hub_stats {
	uint64_t batches, batches_dup, batch_bytes, batch_json_bytes;
	uint64_t commands_queued;
	uint64_t forbidden;
};

struct hub {
	const struct config_hub *cfg;
	struct loop             *loop;
	struct hub_store        *store;
	struct MHD_Daemon       *mhd;
	int                      listen_fd;
	unsigned short           port;        /* as bound (listen may say :0) */
	bool                     ipv6;
	size_t                   shed_at;      /* held polls; 0 = never shed */
	unsigned char            admin_hash[HUB_HASH_LEN];
	char                    *tls_cert, *tls_key;
	char                    *client_ca;    /* PEM; NULL: no client certs */
	struct complain          tls_complain; /* failed handshakes */
	struct loop_timer        mhd_timer, tick_timer, drain_timer, grace_timer;
	bool                     in_run, kick;
	bool                     draining;
	uint64_t                 drain_started_ms;
	size_t                   active;       /* requests not yet completed */
	size_t                   nheld;
	struct hub_req          *held;         /* suspended requests */
	struct hub_req          *event_waiters; /* the held GET .../events */
	size_t                   nevent_waiters;
	struct hub_req          *cmd_waiters;  /* held operator requests (?wait=):
	                                          commands/{id}, samples */
	uint64_t                 next_flush_ms;
	size_t                   upload_bytes; /* bodies being received */
	struct hub_agent        *agents[HUB_AGENT_BUCKETS];
	uint64_t                 next_cleanup_ms;
	struct complain          auth_complain, store_complain, limit_complain;
	struct complain          shed_complain, utf8_complain;
	struct hub_work         *work;         /* store calls off the loop */
	struct hub_job          *tick_job;     /* the tick's, while it runs */
	/* Bumped by every wake-up event: a poll or command read whose call
	 * was under way when one came reads again instead of holding. */
	uint64_t                 events;
	struct hub_stats         stats;        /* metrics.c */
};

/* work.c: store calls on worker threads (store.h tells how to add one).
 * run gets the worker's own store; done (NULL: none) runs on the loop;
 * with req set, the request is resumed instead and its route handler
 * finds the finished job in r->job. */
#define HUB_PG_WORKERS     4      /* connections to PostgreSQL */
#define HUB_WORK_QUEUE_MAX 4096   /* jobs submitted and not yet done */
struct hub_job {
	void           (*prep)(struct hub_job *);   /* NULL, or CPU work first */
	void           (*run)(struct hub_job *, struct hub_store *);
	void           (*done)(struct hub_job *);
	struct hub_req  *req;
	int              rc;
	struct hub_job  *next;
};
int  hub_work_start(struct hub *, char *err, size_t errlen);
void hub_work_stop(struct hub *);
/* 0, or -1 when the queue is full (answer 503). */
int  hub_work_submit(struct hub *, struct hub_job *);

/* calls.c: the API's store calls as jobs. One struct for all of them:
 * a call fills its inputs, its run function (on a worker) the outputs;
 * hub_call_free() frees whatever was set. */
struct hub_touch {
	int64_t  id;
	uint64_t last_seen_ms;
	char     address[64], version[32];
};
struct hub_call {
	struct hub_job   job;
	/* in */
	int64_t          agent_id;     /* 0: looked up (hash or name) first */
	unsigned char    hash[HUB_HASH_LEN];
	char             name[HUB_NAME_MAX + 1];
	char             id[HUB_ID_MAX + 1];
	char            *type, *text;  /* a command */
	uint64_t         now_ms, expires_ms;
	char             ack[PROTO_CURSOR_MAX + 1];
	struct hub_poll  poll;
	struct hub_samples_page page;
	char             device[300];
	struct hub_buf   upload;       /* a batch as received (gzip) */
	char            *text_in;      /* ... inflated (jlen bytes) */
	size_t           jlen;
	struct hub_batch *batch;       /* ... split */
	struct hub_touch *touch;       /* the tick's */
	size_t           ntouch;
	bool             leases, cleanup;
	uint64_t         cutoff_ms;
	int              max_rows;
	uint64_t         events;       /* hub->events when submitted */
	char             who[HUB_NAME_MAX + 1];  /* operator: the sender */
	char             role[16];     /* a token's */
	char             token[64];    /* a new token (wiped when freed) */
	size_t           wire;         /* a batch's gzip bytes */
	void            *more;         /* a route's own state ... */
	void           (*more_free)(void *);   /* ... and how to free it */
	/* out: job.rc is the store call's (or the look-up's when <= 0) */
	int              http;         /* batch: 200, 400, 413, 503 */
	char             err[256];
	struct hub_buf   out;          /* a list answer */
	struct hub_buf   ids;          /* command ids finished, NUL-separated */
	struct hub_buf   agents;       /* int64_t agent ids (leases due) */
	cJSON           *json;
	bool             final, stored;
	int64_t          batch_id;
	bool             had_events;   /* the batch had an events entry */
	size_t           json_bytes;   /* ... inflated */
	int              cleaned;
};
struct hub_call *hub_call_new(void (*run)(struct hub_job *, struct hub_store *));
void hub_call_free(struct hub_call *);
/* Agent routes: the agent of c->hash (job.rc 1, 0 unknown, -1 error). */
void hub_call_auth(struct hub_job *, struct hub_store *);
/* A hub_store_id_cb adding to c->ids. */
void hub_call_add_id(const char *id, void *c);
void hub_call_poll(struct hub_job *, struct hub_store *);
void hub_call_command_add(struct hub_job *, struct hub_store *);
void hub_call_command_get(struct hub_job *, struct hub_store *);
void hub_call_agents(struct hub_job *, struct hub_store *);
void hub_call_devices(struct hub_job *, struct hub_store *);
void hub_call_samples(struct hub_job *, struct hub_store *);
void hub_call_tick(struct hub_job *, struct hub_store *);
void hub_call_events(struct hub_job *, struct hub_store *);
/* operator.c's and metrics.c's */
void hub_call_token(struct hub_job *, struct hub_store *);
void hub_call_history(struct hub_job *, struct hub_store *);
void hub_call_tokens(struct hub_job *, struct hub_store *);
void hub_call_token_add(struct hub_job *, struct hub_store *);
void hub_call_agent_add(struct hub_job *, struct hub_store *);
void hub_call_token_remove(struct hub_job *, struct hub_store *);
void hub_call_agent_remove(struct hub_job *, struct hub_store *);
void hub_metrics_run(struct hub_job *, struct hub_store *);

/* batch.c: a batch split into its parts, not one tree (store.h) */
struct hub_span {
	const char *p;
	size_t      n;
};
struct hub_batch {
	const char     *text;
	size_t          len;
	int64_t         batch_id;
	cJSON          *head;     /* batch_id, agent_version, created_ms, ... */
	struct hub_span arr[4];   /* results, inventory, samples, events (n 0:
	                             none) */
};
/* Checks the text (depth, grammar, UTF-8), splits it, checks the schema
 * (protocol/); HUB_IN_OK, or HUB_IN_BAD / HUB_IN_TOO_BIG with err. */
int  hub_batch_scan(const char *s, size_t len, struct hub_batch *, char *err,
                    size_t errlen);
void hub_batch_free(struct hub_batch *);
/* The next entry of an array span that is an object (it advances; the
 * others are skipped unparsed); false at the array's end. */
bool hub_batch_next_object(struct hub_span *it, struct hub_span *entry);
/* The job of POST /v1/agent/results (after its agent's look-up): prep
 * inflates, checks and splits (no store), run stores. */
void hub_batch_prep(struct hub_job *);
void hub_batch_run(struct hub_job *, struct hub_store *);
/* Frees a batch's text and parts (also hub_call_free's). */
void hub_batch_end(struct hub_call *);

/* tls.c */

/* Milliseconds since the request's connection was accepted. */
uint64_t hub_conn_age_ms(struct hub_req *);

/* Holds of HUB_HOLD_SLOTTED_MS or more (agents' long polls) end on a
 * multiple of HUB_HOLD_SLOT_MS (monotonic clock), rounded down,
 * so the ones ending close together resume in one MHD_run: MHD walks its
 * whole list of suspended connections once per run that resumes any
 * (libmicrohttpd 0.9.x), which with thousands held and one walk per
 * ended poll was most of a node's CPU (docs/group.md, "CPU per poll").
 * Such polls end HUB_HOLD_MARGIN_MS or more before the wait (api.c), so
 * a connection ends within it; one that lived the wait less
 * HUB_HOLD_EARLY_MS has lived it, and is closed after its answer. */
#define HUB_HOLD_SLOTTED_MS 4000
#define HUB_HOLD_SLOT_MS   100
#define HUB_HOLD_MARGIN_MS 200
#define HUB_HOLD_EARLY_MS  (HUB_HOLD_SLOT_MS + HUB_HOLD_MARGIN_MS)
/* [hub] client_ca: the connection's client certificate verifies against
 * it; false with the reason. */
bool     hub_tls_client_ok(struct hub_req *, char *why, size_t len);

/* server.c */
/* Admin token, TLS files and the store, without listening (check-config
 * uses it too); hub_release() undoes it. */
int  hub_prepare(struct hub *, const struct config_hub *, bool open_store,
                 char *err, size_t errlen);
void hub_release(struct hub *);
void hub_req_suspend(struct hub_req *, uint64_t wait_ms);
void hub_req_wake(struct hub_req *, enum hub_wake);
/* Submit j for r and suspend r until it is done (then the route's
 * handler runs again with r->job set); -1: queue full, 503 answered. */
int  hub_req_call(struct hub_req *, struct hub_job *j);
void hub_req_unpark(struct hub_req *);
/* Queue a response; body (malloc'd, may be NULL) is taken. */
void hub_respond(struct hub_req *, unsigned status, const char *ctype,
                 char *body, size_t len);
void hub_respond_json(struct hub_req *, unsigned status, cJSON *);   /* frees it */
void hub_respond_error(struct hub_req *, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *hub_req_header(struct hub_req *, const char *name);
const char *hub_req_query(struct hub_req *, const char *name);
void hub_req_peer(struct hub_req *, char *buf, size_t len);
struct hub_agent *hub_agent_get(struct hub *, int64_t id, const char *name);
struct hub_agent *hub_agent_find(struct hub *, int64_t id);

/* api.c */
enum hub_route hub_api_route(const char *method, const char *url,
                             char *arg, size_t arglen, const char **allow);
/* Largest body a route accepts. */
size_t hub_api_body_max(enum hub_route);
/* Auth for the route; -1 when a response (401) was queued. */
int  hub_api_auth(struct hub_req *);
/* Handle a complete request (again after each wake-up). */
void hub_api_handle(struct hub_req *);
/* A command finished or expired: answer the operators waiting for it. */
void hub_api_command_changed(struct hub *, const char *id);
/* hub_store_watch()'s callback (arg: the hub). */
void hub_api_store_event(int kind, const char *id, void *arg);
/* GET samples' and events' since, until, limit and cursor; -1 when a
 * response (400) was queued. */
int  hub_api_page(struct hub_req *, struct hub_samples_page *);
/* An operator long poll's wait= (0-max_s seconds) into r->deadline_ms on
 * the first pass; a read again (held, or an event during the read) keeps
 * the first deadline. -1 when a 400 was queued. */
int  hub_api_wait(struct hub_req *, int max_s);
/* A call naming the path's agent (c->name), done: 0, or -1 with a
 * response (404, 500) queued. */
int  hub_api_named_done(struct hub_req *, struct hub_call *);
/* r waits for c (a store call, store.h); false when it was answered
 * instead (503). */
bool hub_api_call(struct hub_req *, struct hub_call *);
/* operator.c: its routes (HUB_R_NONE: not one of them), their body
 * limits, operator auth and their handlers. Auth: the admin token's
 * hash is checked at once; another token is looked up by a store call
 * (r->op_lookup set) and auth_done checks its answer. Both: 0, or -1
 * with *why for a 401, or -1 with a 403 (503) queued. */
enum hub_route hub_op_route(const char *method, const char *url, char *arg,
                            size_t arglen, const char **allow);
size_t hub_op_body_max(enum hub_route);
int  hub_op_auth(struct hub_req *, const unsigned char hash[HUB_HASH_LEN],
                 const char **why);
int  hub_op_auth_done(struct hub_req *, struct hub_call *, const char **why);
void hub_op_handle(struct hub_req *, struct hub_call *);
/* GET /v1/agents (a store call, then each agent's row with this node's
 * view of it: polling, online, the newest batch's counters). */
void hub_op_agents(struct hub_req *, struct hub_call *);
/* GET samples ?wait=: the first pass reads wait (-1 and a 400 queued
 * when bad); hold: whether to hold an answer of this many rows; wake:
 * a batch of agent was stored here. */
int  hub_op_samples_wait(struct hub_req *);
bool hub_op_samples_hold(struct hub_req *, size_t rows_len);
void hub_op_samples_wake(struct hub *, const char *agent);
/* metrics.c: GET /metrics */
void hub_metrics_handle(struct hub_req *, struct hub_call *);
/* tick.c: once a second, expiry, lease wake-ups, last_seen, retention. */
void hub_api_tick(struct hub *);
/* Store agents' last_seen, address and version. */
void hub_api_tick_flush(struct hub *);

/* events.c: GET /v1/agents/{agent}/events, its long poll */
void hub_events_get(struct hub_req *, struct hub_call *);
/* Events were stored for agent_id (here or, through the store's
 * notifications, on another node): its held GET events look again. */
void hub_events_wake(struct hub *, int64_t agent_id);
/* After a batch was stored: wake when it held events. */
void hub_events_batch_stored(struct hub *, int64_t agent_id, bool events);

#endif
