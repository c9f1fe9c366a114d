/*
 * The hub's store interface: one table of operations, two backends.
 *
 *   store_sqlite.c  the embedded default: one SQLite file (WAL)
 *   store_pg.c      PostgreSQL through libpq; several hub nodes may
 *                   share one database (a group behind a balancer)
 *   store.c         selection by [hub] db, the migration runner
 *
 * The ops themselves are synchronous and keep one store handle to one
 * thread: the hub runs them on its store workers (work.c: PostgreSQL, 4
 * threads with a connection each; SQLite, 1 thread owning the
 * connection), never on the event loop; the CLI and start-up call them
 * directly. PostgreSQL answers in about one round trip per call (a poll
 * is one: pipelined), bounds every wait (statement_timeout,
 * tcp_user_timeout) and fails at once while the server is away
 * (docs/hub.md, "Store").
 *
 * Adding an operation (mechanical):
 *   1. here: a member of struct hub_store_ops and its hub_store_X()
 *      wrapper (store.c, hub_int.h); a schema change is a migration step
 *      appended at the END of each backend's step list;
 *   2. both backends: store_sqlite.c and store_pg.c (one statement, or a
 *      pipeline; statements only, no loop, no hub state: it runs on a
 *      worker thread);
 *   3. hub_int.h struct hub_call: its inputs and outputs (or reuse some);
 *      calls.c: hub_call_X(job, store) calling hub_store_X(store, ...)
 *      with them and setting job->rc;
 *   4. api.c (or your route's file): the handler gets (r, c). c == NULL:
 *      check the request, c = hub_call_new(hub_call_X), fill it,
 *      api_call(r, c), return (the request is suspended). c != NULL: the
 *      call is done: answer from c, hub_call_free(c). Without a request
 *      (a timer), set job.done and hub_work_submit() it.
 *
 * Events that other nodes must see (a command queued for an agent, a
 * command finished) reach every node through hub_store_watch(): the
 * PostgreSQL backend LISTENs and delivers NOTIFY payloads on the loop.
 */
#ifndef OUTPOST_HUB_STORE_H
#define OUTPOST_HUB_STORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define HUB_HASH_LEN 32

struct hub_store;
struct hub_buf;
struct hub_poll;
struct hub_batch;

/* Called with the id of every command a batch finished. */
typedef void (*hub_store_id_cb)(const char *id, void *arg);
/* Agents with a delivered, unacked command whose lease ran out. */
typedef void (*hub_store_agent_cb)(int64_t agent_id, void *arg);
/* An event from any node: kind 'a' (commands queued for agent id, in
 * decimal), 'c' (command id changed: finished or expired), 'e' (SNMP
 * notifications stored for agent id, in decimal: store_events.c) or 's'
 * (a batch stored for the agent named id: samples ?wait=). */
typedef void (*hub_store_event_cb)(int kind, const char *id, void *arg);

/* hub_store_command_counts(): one status and its number of commands. */
typedef void (*hub_store_count_cb)(const char *status, int64_t n, void *arg);
/* hub_store_latest_samples(): one stored sample (JSON text, len bytes). */
typedef void (*hub_store_sample_cb)(const char *agent, const char *device,
                                    int64_t ts, const char *entry, size_t len,
                                    void *arg);

enum hub_store_kind { HUB_STORE_SQLITE, HUB_STORE_PG };

/* [hub] db: "sqlite:PATH", "postgresql://..." or "postgres://...", or a
 * bare path (SQLite). *where is the path (SQLite) or the whole URI. 0, or
 * -1 with a reason. */
int  hub_store_parse_db(const char *db, enum hub_store_kind *kind,
                        const char **where, char *err, size_t errlen);

/*
 * Versioned migrations, shared by both backends: a schema_version table
 * holds the versions applied; step N (steps[N-1]) runs once, in its own
 * transaction, after begin_sql (which also takes the backend's lock, so
 * two nodes starting at once apply it once). A database newer than the
 * steps this hub knows is refused.
 */
struct hub_store_migrator {
	const char *begin_sql;
	int  (*exec)(void *db, const char *sql, char *err, size_t errlen);
	int  (*query_int)(void *db, const char *sql, int64_t *out, char *err,
	                  size_t errlen);
	void *db;
};
int  hub_store_migrate(const struct hub_store_migrator *,
                       const char *const *steps, int nsteps, char *err,
                       size_t errlen);

struct hub_samples_page;

/* One stored JSON entry into a list answer (store.c): after the opening
 * bracket, at most the buffer's cap, at most a page's limit (pg may be
 * NULL) with ts and id kept as the page's cursor. false: stop reading. */
bool hub_store_list_row(struct hub_buf *out, int *rows, const char *e, size_t n,
                        struct hub_samples_page *pg, int64_t ts, int64_t id);

struct hub_store_ops {
	const char *name;
	void (*close)(struct hub_store *);
	const char *(*errmsg)(const struct hub_store *);
	int  (*watch)(struct hub_store *, struct loop *, hub_store_event_cb,
	              void *arg);
	int  (*begin)(struct hub_store *);
	int  (*commit)(struct hub_store *);
	int  (*agent_add)(struct hub_store *, const char *name,
	                  const unsigned char hash[HUB_HASH_LEN], uint64_t now_ms);
	int  (*agent_set_token)(struct hub_store *, const char *name,
	                        const unsigned char hash[HUB_HASH_LEN]);
	int  (*agent_remove)(struct hub_store *, const char *name);
	int64_t (*agent_by_token)(struct hub_store *,
	                          const unsigned char hash[HUB_HASH_LEN],
	                          char *name, size_t namelen);
	int64_t (*agent_by_name)(struct hub_store *, const char *name);
	int  (*agent_touch)(struct hub_store *, int64_t id, uint64_t last_seen_ms,
	                    const char *address, const char *version);
	int  (*agents)(struct hub_store *, cJSON **out);
	int  (*command_add)(struct hub_store *, int64_t agent_id, const char *id,
	                    const char *type, const char *body, uint64_t now_ms,
	                    uint64_t expires_ms, const char *sender);
	int  (*command_get)(struct hub_store *, const char *id, cJSON **out,
	                    bool *final);
	int  (*poll)(struct hub_store *, int64_t agent_id, struct hub_poll *);
	int  (*batch)(struct hub_store *, int64_t agent_id,
	              const struct hub_batch *batch,
	              int64_t batch_id, uint64_t now_ms, bool *stored,
	              hub_store_id_cb, void *arg);
	int  (*expire)(struct hub_store *, uint64_t now_ms, hub_store_id_cb,
	               void *arg);
	int  (*leases_due)(struct hub_store *, uint64_t now_ms,
	                   hub_store_agent_cb, void *arg);
	int  (*cleanup)(struct hub_store *, uint64_t cutoff_ms, int max_rows);
	int  (*devices)(struct hub_store *, int64_t agent_id, struct hub_buf *out);
	/* A page (hub_int.h): pg->limit rows at most, pg->more and the
	 * last row's (ts, id) set for the next page's cursor. */
	int  (*samples)(struct hub_store *, int64_t agent_id, const char *device,
	                struct hub_samples_page *pg, struct hub_buf *out);
	/* The same for events (by their received time); device NULL: all. */
	int  (*events)(struct hub_store *, int64_t agent_id, const char *device,
	               struct hub_samples_page *pg, struct hub_buf *out);
	/* operator tokens, command history, metrics (hub_int.h) */
	int  (*token_add)(struct hub_store *, const char *name, const char *role,
	                  const unsigned char hash[HUB_HASH_LEN], uint64_t now_ms);
	int  (*token_remove)(struct hub_store *, const char *name);
	int  (*token_by_hash)(struct hub_store *,
	                      const unsigned char hash[HUB_HASH_LEN], char *name,
	                      size_t namelen, char *role, size_t rolelen);
	int  (*tokens)(struct hub_store *, cJSON **out);
	int  (*commands)(struct hub_store *, int64_t agent_id, int64_t since,
	                 int64_t until, int limit, cJSON **out);
	int  (*command_counts)(struct hub_store *, hub_store_count_cb, void *arg);
	int  (*latest_samples)(struct hub_store *, uint64_t since_ms, int max_rows,
	                       hub_store_sample_cb, void *arg);
};

/* The fields of a batch's header row. */
struct hub_batch_head {
	const char *version;        /* agent_version under 64 bytes, or NULL */
	bool        agent_version;  /* under 32: also the agent's version */
	bool        has_created, has_dropped;
	int64_t     created_ms, dropped;
	char       *counters;       /* JSON text, or NULL */
};
int  hub_store_batch_head(const cJSON *batch, struct hub_batch_head *);
void hub_store_batch_head_free(struct hub_batch_head *);

/* One backend statement per row of a batch; json (cJSON_PrintUnformatted
 * text) is handed over: the callee frees it with cJSON_free. result
 * returns 1 when it changed the command, 0 when not, -1 on error. */
struct hub_store_rows {
	int (*result)(void *ctx, int64_t agent_id, const char *id,
	              const char *status, char *json, uint64_t now_ms);
	int (*inventory)(void *ctx, int64_t agent_id, const char *address,
	                 int64_t port, char *json, uint64_t now_ms);
	int (*sample)(void *ctx, int64_t agent_id, const char *device,
	              int64_t ts, char *json, uint64_t now_ms);
	/* An event (SNMP notification): stored once per (agent, id); device
	 * is "" when the agent did not map it to one. */
	int (*event)(void *ctx, int64_t agent_id, const char *id,
	             const char *device, int64_t ts, char *json, uint64_t now_ms);
};
/* Validates and walks results, inventory, samples and events (entries that are
 * not well-formed are skipped, as documented); the ids of the commands a
 * result changed are added to done (NUL-separated). 0 or -1. */
int  hub_store_batch_rows(const struct hub_batch *batch, int64_t agent_id,
                          uint64_t now_ms, const struct hub_store_rows *,
                          void *ctx, struct hub_buf *done);
/* store_events.c: a batch's counters object as JSON text (*out NULL
 * when it has none), with the head's dropped_events in it; 0 or -1. */
int  hub_store_batch_counters(const cJSON *batch, char **out);
/* store_events.c: one entry of a batch's events, for
 * hub_store_batch_rows (one not well-formed is skipped). 0 or -1. */
int  hub_store_batch_event(const cJSON *e, int64_t agent_id, uint64_t now_ms,
                           const struct hub_store_rows *, void *ctx);
/* cb for each NUL-separated id in ids. */
void hub_store_each_id(const struct hub_buf *ids, hub_store_id_cb, void *arg);
/* A poll's common steps: _start sets up p's response and ids (its
 * capacity for max_commands ids) and reads the ack (0: none or not one of
 * ours); _take adds one due command unless it does not fit (false: the
 * rest waits for the next poll), its id then sep to ids; _fail drops the
 * response. */
void hub_store_poll_start(struct hub_poll *, struct hub_buf *ids, int64_t *ack);
bool hub_store_poll_take(struct hub_poll *, struct hub_buf *ids, const char *id,
                         const char *body, size_t blen, char sep);
void hub_store_poll_fail(struct hub_poll *, struct hub_buf *ids);
/* A cursor names one poll response that carried commands. */
int64_t hub_store_new_cursor(void);
/* The operator view of a command from its columns (time columns in ms;
 * result is stored JSON text or NULL); *final when no longer open. */
cJSON *hub_store_command_json(const char *id, const char *agent,
                              const char *type, const char *status,
                              int64_t created_ms, int64_t updated_ms,
                              const char *result, bool *final);
/* Adds what the console shows of a command to its view o: "sender"
 * (NULL: null), "target" and "args" from the stored body, and
 * "duration_ms" (created to the result; null while open). */
void   hub_store_command_more(cJSON *o, const char *sender, const char *body,
                              int64_t created_ms, int64_t updated_ms,
                              bool final);

/* Each backend's state starts with this. */
struct hub_store {
	const struct hub_store_ops *ops;
};

int  hub_store_sqlite_open(const char *path, struct hub_store **, char *err,
                           size_t errlen);
int  hub_store_pg_open(const char *uri, struct hub_store **, char *err,
                       size_t errlen);

/* The schema steps, for the unit tests. */
extern const char *const hub_store_sqlite_steps[];
extern const int hub_store_sqlite_nsteps;

#endif
