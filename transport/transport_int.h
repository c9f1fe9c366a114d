/*
 * transport internals, shared by the files of transport/ and their unit
 * tests (tests/unit/test_backoff.c, test_spool.c, test_transport.c).
 * Not for other modules.
 *
 *   backoff.c   full-jitter delays, Retry-After, the random source
 *   spool.c     the durable on-disk queue of closed batches
 *   batch.c     the open batch, gzip, 413 splits
 *   http.c      libcurl's multi interface on the agent's event loop
 *   poll.c      the long poll: response checks, de-duplication
 *   upload.c    sending the spool in batch_id order
 *   transport.c the public API
 *   selftest.c  synthetic batches for fault-injection tests
 *
 * Everything here that links is prefixed tp_ (or backoff_): the agent
 * links every module into one binary, and it has its own poll_ and
 * friends.
 */
#ifndef OUTPOST_TRANSPORT_INT_H
#define OUTPOST_TRANSPORT_INT_H

#include <curl/curl.h>
#include <time.h>

#include "transport/curl_dl.h"

#include "protocol/protocol.h"
#include "transport/transport.h"

/* Limits the agent enforces on the hub, and what the hub accepts from
 * us (larger batches are answered 413): protocol/protocol.h's. */
#define TP_MAX_BODY_WIRE     PROTO_POLL_MAX_WIRE
#define TP_MAX_BODY_DECODED  PROTO_POLL_MAX_DECODED
#define TP_MAX_COMMANDS      PROTO_POLL_MAX_COMMANDS
#define TP_MAX_COMMAND_BYTES PROTO_COMMAND_MAX_BYTES
#define TP_MAX_JSON_DEPTH    PROTO_JSON_MAX_DEPTH
#define TP_MAX_HEADER_LINE   PROTO_HEADER_LINE_MAX
#define TP_MAX_HEADERS       PROTO_HEADERS_MAX
#define TP_MAX_CURSOR        PROTO_CURSOR_MAX
#define TP_MAX_CMD_ID        PROTO_ID_MAX
#define TP_MAX_TOKEN         PROTO_TOKEN_MAX
#define TP_UPLOAD_MAX_WIRE   PROTO_UPLOAD_MAX_WIRE
#define TP_UPLOAD_MAX_JSON   PROTO_UPLOAD_MAX_JSON
#define TP_MAX_COUNTERS      64
#define TP_MAX_COUNTER_NAME  63
#define TP_DEDUPE_IDS        4096
#define TP_DEDUPE_BUCKETS    8192          /* power of two */
#define TP_CONNECT_TIMEOUT_MS 15000
#define TP_POLL_SLACK_MS     15000         /* client timeout = wait + this */

/* ---- backoff.c -------------------------------------------------------- */

/* min(cap, base * 2^n) without overflow. */
uint64_t backoff_envelope(uint64_t base, uint64_t cap, unsigned n);
/* Full jitter: uniform in [0, backoff_envelope(base, cap, n)], drawn from
 * rand64 (any 64-bit value). Pure, for unit tests. */
uint64_t backoff_full_jitter(uint64_t base, uint64_t cap, unsigned n,
                             uint64_t rand64);
/*
 * A failed poll (connection broken or refused, 5xx, invalid answer) is
 * retried after a delay uniform in [0, R], R = min(poll_wait, cap), and
 * in [R/2, R] when the poll before it failed too (fails: the failures
 * in a row before this one), however many (docs/protocol.md, "Rules for
 * agents"): the polls a dead node held come back spread over one poll
 * wait (at most 1x the steady rate on top of it); while the hub stays
 * away an agent asks every 3R/4 on average, 4/3 of a healthy one's
 * rate, and so does the fleet just after the hub's return; after an
 * outage of any length every agent's next try comes within R of the
 * return.
 */
uint64_t backoff_poll_window(uint64_t poll_wait_ms, uint64_t cap_ms);
uint64_t backoff_poll_retry(uint64_t poll_wait_ms, uint64_t cap_ms,
                            unsigned fails, uint64_t rand64);
/*
 * A Retry-After value: delta-seconds or an HTTP date (RFC 9110 10.2.3),
 * relative to now (wall clock, seconds). 0 with *delay_ms clamped to
 * [1 s, cap_ms]; -1 if the value is neither (the caller backs off).
 */
int      backoff_retry_after(const char *value, time_t now, uint64_t cap_ms,
                             uint64_t *delay_ms);
/*
 * The wait after a Retry-After of delay_ms (already clamped to [1 s,
 * cap]): uniform in [d, min(1.5 d, cap)], d = min(delay_ms, cap_ms):
 * never before the hub asked, never past the cap.
 * A hub that sheds load answers every agent the same Retry-After; the
 * spread keeps the agents it answered in the same second from all
 * coming back in the same second (docs/protocol.md, "Rules for agents").
 */
uint64_t backoff_retry_after_spread(uint64_t delay_ms, uint64_t cap_ms,
                                    uint64_t rand64);
uint64_t tp_rand64(void);
/* Uniform in [0, n]. */
uint64_t tp_rand_upto(uint64_t n);
uint64_t tp_wall_ms(void);

/* ---- spool.c ---------------------------------------------------------- */

/*
 * Spool file: a 56-byte header then the gzip payload (the batch's JSON).
 * Integers little-endian:
 *   0  magic "OPSPOOL\0"     8  u32 version (2)    12 u32 header size (56)
 *   16 u64 batch_id         24 u64 created_ms (wall clock)
 *   32 u64 payload length   40 u32 samples in the batch
 *   44 u32 events in the batch
 *   48 u32 CRC-32 of the payload                   52 u32 CRC-32 of bytes 0-51
 * Version 1 (written before events existed) is read too: 52 bytes, no
 * events field, the payload CRC at 44 and the header's at 48.
 * Named %020llu.batch so that name order is batch_id order; written as
 * NAME.tmp, flushed to disk, renamed, and the rename made durable
 * (platform_replace_file).
 */
#define SPOOL_MAGIC       "OPSPOOL"
#define SPOOL_VERSION     2u
#define SPOOL_HDR_SIZE    56u
#define SPOOL_HDR_SIZE_V1 52u
#define SPOOL_SUFFIX      ".batch"
#define SPOOL_TMP_SUFFIX  ".tmp"
#define SPOOL_PATH_MAX    4096     /* dir/name of any spool file */
#define SPOOL_STATE       "state"
#define SPOOL_QUARANTINE  "quarantine"
#define SPOOL_MAX_FILES   100000u     /* entries in the index */
#define SPOOL_ID_BLOCK    1024u       /* batch ids reserved per state write */
#define SPOOL_MAX_ID      ((UINT64_C(1) << 53) - 1)
#define SPOOL_QUARANTINE_MAX_FILES 100u

struct spool_hdr {
	uint64_t batch_id, created_ms, payload_len;
	/* Samples lost if this batch is dropped: its own, plus the
	 * dropped_samples it reports. */
	uint32_t nsamples, payload_crc;
	uint32_t nevents;        /* lost with it, counted in dropped_events */
	uint32_t hdr_size;       /* as read: SPOOL_HDR_SIZE or _V1 */
};

struct spool_entry {
	uint64_t id;
	uint64_t bytes;        /* file size */
	uint64_t created_ms;   /* wall clock */
	uint32_t nsamples;     /* as in spool_hdr */
	uint32_t nevents;
	bool     busy;         /* read for an upload: not dropped meanwhile */
};

struct spool {
	char               *dir;           /* NULL: not open */
	struct spool_entry *ents;          /* sorted by id */
	size_t              n, cap;
	uint64_t            bytes;         /* sum of ents[].bytes */
	uint64_t            max_bytes, max_age_ms;
	uint64_t            next_id;       /* the next batch id to hand out */
	uint64_t            reserved_id;   /* ids below this are on disk */
	uint64_t            dropped_pending;  /* not yet in a batch */
	uint64_t            dropped_total;
	/* Events lost (dropped batches, and what transport_drop_events
	 * reports): not yet in a batch's dropped_events, and ever. Kept in
	 * memory only. */
	uint64_t            events_dropped_pending, events_dropped_total;
	uint64_t            corrupt, quarantined;
	struct complain     disk_complain, drop_complain;
};

/* Open (creating 0700) and recover dir: leftover temp files are deleted,
 * corrupt batch files quarantined, both counted; never fatal for a bad
 * file. Then the bounds are enforced. -1 only if dir is unusable. */
int  tp_spool_open(struct spool *, const char *dir, uint64_t max_bytes,
                   uint64_t max_age_ms, char *err, size_t errlen);
void tp_spool_close(struct spool *);
/* A new batch id (durably reserved first); 0 if that failed. */
uint64_t tp_spool_alloc_id(struct spool *);
/* Write one batch durably. 0, or -1 (logged; nothing left behind). */
int  tp_spool_write(struct spool *, const struct spool_hdr *, const void *payload);
/* Read and verify the batch id: 0 with *payload (malloc'd) and *h;
 * -1 on an I/O error, -2 if the file is corrupt. */
int  tp_spool_read(struct spool *, uint64_t id, struct spool_hdr *,
                   unsigned char **payload);
/* Check one file image (header and payload): 0 or -1 with a reason. */
int  tp_spool_check(const unsigned char *buf, size_t len, struct spool_hdr *,
                    const char **why);
void tp_spool_encode_hdr(unsigned char out[SPOOL_HDR_SIZE], const struct spool_hdr *);
int  tp_spool_remove(struct spool *, uint64_t id);
/* Move the file to quarantine/ (bounded: oldest deleted beyond
 * SPOOL_QUARANTINE_MAX_FILES) and forget it. The caller counts it. */
int  tp_spool_quarantine(struct spool *, uint64_t id, const char *why);
/* Drop the oldest batches (not busy) while over max_bytes, and any older
 * than max_age_ms; their samples are added to dropped_pending. */
void tp_spool_enforce(struct spool *, uint64_t now_wall_ms);
/* The oldest batch not busy, or NULL. */
struct spool_entry *tp_spool_first_idle(struct spool *);
struct spool_entry *tp_spool_find(struct spool *, uint64_t id);
/* n dropped samples were reported in a batch now on disk. */
void tp_spool_dropped_reported(struct spool *, uint64_t n);
/* Persist next id reservation and dropped_pending. */
int  tp_spool_save_state(struct spool *, uint64_t reserved_id);

/* ---- batch.c ---------------------------------------------------------- */

enum { BATCH_RESULTS, BATCH_INVENTORY, BATCH_SAMPLES, BATCH_EVENTS, BATCH_KINDS };
extern const char *const tp_batch_kind_names[BATCH_KINDS];

/* A growable byte buffer with a hard maximum (curl's dynbuf idea). */
struct tp_buf {
	char   *data;
	size_t  len, cap, max;
};
int  tp_buf_add(struct tp_buf *, const void *, size_t);
void tp_buf_free(struct tp_buf *);

/* The open batch: each kind's items, already serialized, comma-joined. */
struct batch {
	struct tp_buf parts[BATCH_KINDS];
	size_t        nitems[BATCH_KINDS];
	uint64_t      dropped_events;   /* reported in the head when closed */
};

struct tp_counter {
	char   name[TP_MAX_COUNTER_NAME + 1];
	double value;
};

int  tp_batch_kind(const char *name);   /* -1 if unknown */
size_t tp_batch_bytes(const struct batch *);
bool tp_batch_empty(const struct batch *);
int  tp_batch_append(struct batch *, int kind, const char *json, size_t len);
void tp_batch_reset(struct batch *);
/* The batch's JSON document (malloc'd, NUL-terminated). */
char *tp_batch_serialize(const struct batch *, uint64_t batch_id,
                         const char *agent_version, uint64_t created_ms,
                         uint64_t dropped_samples, const cJSON *counters,
                         size_t *len);
/*
 * Split a batch document in two halves of its items (results, then
 * inventory, then samples), with batch ids id_a and id_b; dropped_samples
 * stays with the first half. 0 with both documents (cJSON_free) and their
 * sample counts; 1 if it holds a single item (cannot be split); -1 if it
 * is not a batch document.
 */
int  tp_batch_split(const char *json, size_t len, uint64_t id_a, uint64_t id_b,
                    char **a, size_t *alen, uint32_t *a_samples,
                    char **b, size_t *blen, uint32_t *b_samples);

/* ---- poll.c ----------------------------------------------------------- */

struct dedupe {
	char     ids[TP_DEDUPE_IDS][TP_MAX_CMD_ID + 1];
	uint32_t hash[TP_DEDUPE_IDS];
	int16_t  next[TP_DEDUPE_IDS];
	int16_t  head[TP_DEDUPE_BUCKETS];
	unsigned pos, count;
};
void tp_dedupe_init(struct dedupe *);
/* true if id is new (and now remembered, forgetting the oldest of
 * TP_DEDUPE_IDS); false if seen among the last TP_DEDUPE_IDS. */
bool tp_dedupe_add(struct dedupe *, const char *id);


/*
 * A poll response, checked as a whole against the protocol's limits:
 * 0 with *root (the document; the caller frees), *commands (borrowed),
 * *cursor and *next_poll_ms (-1 if absent); -1 with a reason in err.
 */
int  tp_poll_parse(const char *body, size_t len, cJSON **root,
                   const cJSON **commands, const char **cursor,
                   int64_t *next_poll_ms, char *scratch, char *err, size_t errlen);

/* ---- http.c ----------------------------------------------------------- */

struct transport;
struct tp_req;
typedef void (*tp_req_done)(struct transport *, struct tp_req *, CURLcode,
                            long status);

/* One kind of request (the poll, the upload) on its own easy handle,
 * reused so connections are kept alive (and shared through the multi). */
struct tp_req {
	struct transport *t;
	CURL          *easy;
	bool           active;
	tp_req_done    done;
	const char    *what;            /* "poll", "upload" for messages */
	char           errbuf[CURL_ERROR_SIZE];
	struct tp_buf  body;            /* kept response bytes */
	size_t         body_keep;       /* keep at most this; more is counted */
	uint64_t       wire_bytes, decoded_bytes, header_bytes;
	bool           encoded;         /* the response has Content-Encoding */
	const char    *limit;           /* which limit stopped it, or NULL */
	char           retry_after[64]; /* "" if absent */
	uint64_t       started_ms;
};

int  tp_http_init(struct transport *, char *err, size_t errlen);
void tp_http_free(struct transport *);
int  tp_http_req_init(struct transport *, struct tp_req *, const char *what,
                      size_t body_keep, tp_req_done, char *err, size_t errlen);
void tp_http_req_free(struct transport *, struct tp_req *);
/* Seconds a connection may be reused or idle: half a poll wait, 1 s at
 * least. */
long tp_http_conn_life_s(uint64_t poll_wait_ms);
/* This request always opens its own connection and closes it after. */
int  tp_http_conn_once(struct tp_req *, char *err, size_t errlen);
/* Reset the response state and add the handle to the multi. */
int  tp_http_req_start(struct transport *, struct tp_req *);
void tp_http_req_cancel(struct transport *, struct tp_req *);
/* One line for a failed transfer: the limit hit, curl's message, or
 * "HTTP status". */
const char *tp_http_req_error(const struct tp_req *, CURLcode, char *buf,
                              size_t len);

/* ---- transport.c: the object the files share -------------------------- */

struct transport {
	struct loop          *loop;
	struct transport_opts o;            /* strings owned */
	char                 *base_url;     /* without trailing '/' */
	char                 *token;
	transport_command_cb  cb;
	void                 *cb_arg;
	bool                  started, stopping;

	/* http.c */
	CURLM                *multi;
	CURLSH               *share;        /* TLS sessions: poll and upload */
	struct loop_timer     curl_timer;
	struct curl_slist    *hdr_poll, *hdr_upload;

	/* poll.c */
	struct tp_req         poll;
	struct loop_timer     poll_timer;
	char                  cursor[TP_MAX_CURSOR + 1];
	unsigned              poll_fails;
	/* Where the last poll left the agent, for a fleet benchmark's view
	 * of an outage (bench/swarm.c): the wait the poll in flight asked,
	 * the wall clock since which the hub held the first poll answered
	 * 2xx after failures (its send time, plus any time it queued before
	 * its wait began),
	 * and the last failure (HTTP status, or -curl code) with its time. */
	uint64_t              poll_wait_asked_ms, poll_held_from_ms;
	long                  poll_fail_code;
	uint64_t              poll_fail_ms;
	struct complain       poll_complain, auth_complain;
	struct dedupe        *dedupe;
	char                 *cmd_scratch;  /* TP_MAX_COMMAND_BYTES + 8 */

	/* upload.c */
	struct tp_req         upload;
	struct loop_timer     upload_timer;
	unsigned              upload_fails;
	uint64_t              upload_id;    /* 0: none in flight */
	unsigned char        *upload_body;
	size_t                upload_len;
	uint64_t              upload_created_ms;
	struct complain       upload_complain;

	/* batch.c, spool.c */
	struct batch          batch;
	struct loop_timer     batch_timer;
	struct spool          spool;
	struct loop_timer     spool_timer;
	struct tp_counter     counters[TP_MAX_COUNTERS];
	size_t                ncounters;
	bool                  counters_full_logged;
	uint64_t              batches_closed;

	struct transport_stats st;
};

uint64_t tp_backoff_next(struct transport *, unsigned *fails);
/* The delay before retrying a failed poll (backoff_poll_retry); counts
 * the failure in poll_fails. */
uint64_t tp_poll_retry(struct transport *);
void     tp_contact(struct transport *);
/* A hub status that means "wait": the delay for 401/403 (cap), 429/503
 * (Retry-After) or anything else (backoff); counts the failure. */
uint64_t tp_failure_delay(struct transport *, struct tp_req *, long status,
                          unsigned *fails);

void tp_poll_send(struct loop *, struct loop_timer *, void *);   /* timer cb */
void tp_poll_start(struct transport *, uint64_t delay_ms);
void tp_poll_stop(struct transport *);
void tp_poll_done(struct transport *, struct tp_req *, CURLcode, long status);

void tp_upload_init(struct transport *);
void tp_upload_kick(struct transport *);
void tp_upload_done(struct transport *, struct tp_req *, CURLcode, long status);

/* Close the open batch into the spool (durably); 0 if it was empty. */
int  transport_close_batch(struct transport *);
/* A batch without items, to report samples the spool dropped. */
int  transport_report_dropped(struct transport *);
/* Nothing open, nothing spooled, nothing in flight (selftest.c). */
bool transport_idle(const struct transport *);

/* selftest.c: an "ok" result for cmd (whose "id" the poll checked) with
 * data {mark: value}; NULL if out of memory. The swarm (bench/swarm.c)
 * answers with it too. */
cJSON *tp_selftest_result(const cJSON *cmd, const char *mark, double value);

/* 401/403: loud (an operator must fix the token), but throttled. */
void tp_complain_auth(struct transport *, uint64_t now, long status, uint64_t delay);

#endif
