/*
 * The PostgreSQL store's parts (store_pg.c: schema, open and the
 * operations; store_pg_conn.c: connections, LISTEN/NOTIFY, transactions
 * and pipelines; store_pg_batch.c: a batch's rows). Only these files
 * include this header; the hub knows the store through store.h.
 */
#ifndef OUTPOST_HUB_STORE_PG_INT_H
#define OUTPOST_HUB_STORE_PG_INT_H

#include "hub/hub_int.h"

#include <libpq-fe.h>

#define PG_CHANNEL       "outpost"
#define PG_MIGRATE_LOCK  "7011001"   /* advisory lock keys */
#define PG_RETENTION_LOCK "7011002"
#define PG_BACKOFF_MIN_MS 1000
#define PG_BACKOFF_MAX_MS 30000
#define PG_PREP_MAX      64          /* prepared statements per connection */
#define PG_PREP_TODO     16          /* new ones met in one pipeline */

struct pg_prep {
	uint64_t hash;
	char    *sql;
};

struct pg_store {
	struct hub_store   base;
	PGconn            *conn;
	char              *uri;
	char               err[256];
	char               sqlstate[6];
	uint64_t           retry_ms, backoff_ms;   /* mono clock */
	struct loop       *loop;
	hub_store_event_cb ev_cb;
	void              *ev_arg;
	int                fd;                     /* watched socket, or -1 */
	struct loop_timer  notify_timer;
	/* The loop's connection only LISTENs (calls run on the workers'
	 * own, work.c): this checks it each second and connects again. */
	struct loop_timer  listen_timer;
	struct complain    down;
	/* Reconnecting on the loop (PQconnectStart/PQconnectPoll): the
	 * loop never waits for an unreachable server. */
	PGconn            *pending;
	int                pending_fd;
	struct loop_timer  connect_timer;
	struct pg_pipe    *group;       /* between the hub's begin and commit */
	struct pg_prep     prep[PG_PREP_MAX];   /* on this connection */
	int                nprep;
	char              *todo[PG_PREP_TODO];  /* to prepare after a pipeline */
	int                ntodo;
};

#define PG_PIPE_CHUNK 256

struct pg_pipe {
	struct pg_store *s;
	struct hub_buf  *done;
	int              n;                   /* sent since the last sync */
	char            *ids[PG_PIPE_CHUNK];  /* a result's command id */
	PGresult       **keep;                /* or NULL: answers kept */
	struct hub_buf   copy;                /* samples, COPY text format */
	bool             failed, broken;
};

/* store_pg_conn.c */
void pg_seterr(struct pg_store *s, const char *what, const char *msg);
void pg_drop(struct pg_store *s);
int pg_connect(struct pg_store *s);
void pg_later(struct pg_store *s);
PGresult *pg_q(struct pg_store *s, const char *sql, int n, const char *const *params,
    const char *what);
int pg_x(struct pg_store *s, const char *sql, int n, const char *const *params,
    const char *what, long *changed);
const char *pg_i64(char buf[24], int64_t v);
void pg_hex(char out[2 * HUB_HASH_LEN + 1], const unsigned char hash[HUB_HASH_LEN]);
void pg_rollback(struct pg_store *s);
int pg_watch(struct hub_store *hs, struct loop *loop, hub_store_event_cb cb,
    void *arg);
void pg_close(struct hub_store *hs);
const char *pg_errmsg(const struct hub_store *hs);
int pg_begin(struct hub_store *hs);
int pg_commit(struct hub_store *hs);
int pg_pipe_sync(struct pg_pipe *pp);
int pg_pipe_send(struct pg_pipe *pp, const char *sql, int n,
    const char *const *params, const char *id, char *json);
int pg_pipeline(struct pg_store *s, int n, const char *const *sql,
    const int *nparams, const char *const *const *params, PGresult **res);
int pg_group_begin(struct hub_store *hs);
int pg_group_commit(struct hub_store *hs);

/* store_pg_prep.c */
void pg_prep_forget(struct pg_store *s);
PGresult *pg_exec(struct pg_store *s, const char *sql, int n,
    const char *const *params);
int pg_send(struct pg_store *s, const char *sql, int n, const char *const *params);
void pg_prep_todo(struct pg_store *s);

/* store_pg_batch.c */
int pg_batch(struct hub_store *hs, int64_t agent_id, const struct hub_batch *batch,
    int64_t batch_id, uint64_t now_ms, bool *stored, hub_store_id_cb cb,
    void *arg);

#endif
