/*
 * The PostgreSQL store's connections (store_pg_int.h): the loop's, which
 * LISTENs and leads, and each store worker's; reconnection in the
 * background with a backoff; NOTIFY delivery; transactions and the
 * pipelines that send many statements per round trip.
 */
#include "hub/store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The hub's store workers (work.c) each have a connection of their own
 * and no loop. The loop's connection (the one that LISTENs) leads: while
 * it is down (reconnecting in the background) the workers fail at once
 * instead of each waiting for a server that does not answer; once it is
 * up, a worker whose connection broke connects again (the server is
 * there: quick). -1: no leader in this process (the CLI, unit tests).
 */
static _Atomic int pg_leader_up = -1;

static bool
pg_follower(const struct pg_store *s)
{
	return s->loop == NULL && pg_leader_up != -1;
}

void
pg_seterr(struct pg_store *s, const char *what, const char *msg)
{
	size_t n;

	snprintf(s->err, sizeof(s->err), "%s: %s", what, msg ? msg : "?");
	n = strlen(s->err);
	while (n > 0 && (s->err[n - 1] == '\n' || s->err[n - 1] == ' '))
		s->err[--n] = '\0';
}

static void
pg_quiet(void *arg, const char *msg)
{
	size_t n = strlen(msg);

	(void)arg;
	while (n > 0 && msg[n - 1] == '\n')
		n--;
	log_debug("store: postgresql: %.*s", (int)n, msg);
}

static void
pg_unwatch(struct pg_store *s)
{
	if (s->fd != -1 && s->loop != NULL)
		loop_io_del(s->loop, s->fd);
	s->fd = -1;
}

static void pg_io_cb(struct loop *, int fd, int events, void *arg);

/* The connection is in a state we cannot use: drop it (the next call
 * connects again). */
void
pg_drop(struct pg_store *s)
{
	if (s->loop != NULL)
		pg_leader_up = 0;
	pg_unwatch(s);
	PQfinish(s->conn);
	s->conn = NULL;
	s->retry_ms = 0;
}

/* LISTEN on a fresh connection and watch its socket. */
static int
pg_listen(struct pg_store *s)
{
	PGresult *res;
	int ok;

	if (s->ev_cb == NULL || s->conn == NULL)
		return 0;
	res = PQexec(s->conn, "LISTEN " PG_CHANNEL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		pg_seterr(s, "LISTEN", PQerrorMessage(s->conn));
	PQclear(res);
	if (!ok)
		return -1;
	s->fd = PQsocket(s->conn);
	if (loop_io_set(s->loop, s->fd, LOOP_READ, pg_io_cb, s) == -1) {
		s->fd = -1;
		pg_seterr(s, "LISTEN", "cannot watch the socket");
		return -1;
	}
	return 0;
}

/* Our bounds first: the URI's own settings override them. */
static const char *const pg_keys[] = {
	"connect_timeout", "tcp_user_timeout", "application_name", "options",
	"dbname", NULL,
};
#define PG_CONNECT_TIMEOUT_MS 5000

static void
pg_params(struct pg_store *s, const char *vals[countof(pg_keys)])
{
	vals[0] = "5";
	vals[1] = "10000";   /* ms unacknowledged: a silent network */
	vals[2] = "outpost-hub";
	vals[3] = "-c statement_timeout=10000 -c client_min_messages=warning";
	vals[4] = s->uri;
	vals[5] = NULL;
}

/* A new connection has come up: LISTEN on it; 0 or -1 (dropped). */
static int
pg_connected(struct pg_store *s)
{
	PQsetNoticeProcessor(s->conn, pg_quiet, NULL);
	pg_prep_forget(s);
	if (pg_listen(s) == -1) {
		PQfinish(s->conn);
		s->conn = NULL;
		return -1;
	}
	return 0;
}

/* Blocking: at start-up and in the CLI, where no loop runs yet. */
int
pg_connect(struct pg_store *s)
{
	const char *vals[countof(pg_keys)];

	pg_params(s, vals);
	s->conn = PQconnectdbParams(pg_keys, vals, 1);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		pg_seterr(s, "connecting to PostgreSQL",
		    s->conn ? PQerrorMessage(s->conn) : "out of memory");
		PQfinish(s->conn);
		s->conn = NULL;
		return -1;
	}
	return pg_connected(s);
}

static void
pg_retry_later(struct pg_store *s)
{
	uint64_t now = mono_ms();

	s->backoff_ms = s->backoff_ms == 0 || pg_follower(s) ? PG_BACKOFF_MIN_MS :
	    s->backoff_ms * 2;
	if (s->backoff_ms > PG_BACKOFF_MAX_MS)
		s->backoff_ms = PG_BACKOFF_MAX_MS;
	s->retry_ms = now + s->backoff_ms;
	log_complain(&s->down, now, LOG_LVL_ERROR, "store: %s", s->err);
}

static void
pg_pending_end(struct pg_store *s)
{
	if (s->pending_fd != -1)
		loop_io_del(s->loop, s->pending_fd);
	s->pending_fd = -1;
	loop_timer_disarm(s->loop, &s->connect_timer);
	PQfinish(s->pending);
	s->pending = NULL;
}

static void pg_connect_io_cb(struct loop *, int fd, int events, void *arg);

/* One step of a non-blocking connect, then wait for what libpq needs. */
static void
pg_connect_step(struct pg_store *s, PostgresPollingStatusType st)
{
	int fd = PQsocket(s->pending);

	if (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
		/* The socket may change (a host with several addresses). */
		if (s->pending_fd != -1 && s->pending_fd != fd)
			loop_io_del(s->loop, s->pending_fd);
		s->pending_fd = fd;
		if (fd >= 0 && loop_io_set(s->loop, fd, st == PGRES_POLLING_READING ?
		    LOOP_READ : LOOP_WRITE, pg_connect_io_cb, s) == 0)
			return;
		s->pending_fd = -1;
		st = PGRES_POLLING_FAILED;
	}
	if (st == PGRES_POLLING_OK) {
		if (s->pending_fd != -1)
			loop_io_del(s->loop, s->pending_fd);
		s->pending_fd = -1;
		loop_timer_disarm(s->loop, &s->connect_timer);
		s->conn = s->pending;
		s->pending = NULL;
		if (pg_connected(s) == 0) {
			s->backoff_ms = 0;
			log_release(&s->down, "store: connected to PostgreSQL again");
			pg_leader_up = 1;
			return;
		}
	} else {
		pg_seterr(s, "connecting to PostgreSQL", PQerrorMessage(s->pending));
		pg_pending_end(s);
	}
	pg_retry_later(s);
}

static void
pg_connect_io_cb(struct loop *loop, int fd, int events, void *arg)
{
	struct pg_store *s = arg;

	(void)loop, (void)fd, (void)events;
	pg_connect_step(s, PQconnectPoll(s->pending));
}

static void
pg_connect_timeout_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct pg_store *s = arg;

	(void)loop, (void)t;
	snprintf(s->err, sizeof(s->err), "connecting to PostgreSQL: no answer "
	    "within %d ms", PG_CONNECT_TIMEOUT_MS);
	pg_pending_end(s);
	pg_retry_later(s);
}

static void
pg_connect_start(struct pg_store *s)
{
	const char *vals[countof(pg_keys)];

	pg_params(s, vals);
	s->pending = PQconnectStartParams(pg_keys, vals, 1);
	if (s->pending == NULL || PQstatus(s->pending) == CONNECTION_BAD) {
		pg_seterr(s, "connecting to PostgreSQL",
		    s->pending ? PQerrorMessage(s->pending) : "out of memory");
		PQfinish(s->pending);
		s->pending = NULL;
		pg_retry_later(s);
		return;
	}
	loop_timer_arm(s->loop, &s->connect_timer, PG_CONNECT_TIMEOUT_MS);
	pg_connect_step(s, PGRES_POLLING_WRITING);
}

/* A usable connection, or -1 at once while there is none: on the loop
 * a new one is being made in the background (after the backoff). */
static int
pg_ready(struct pg_store *s)
{
	uint64_t now = mono_ms();

	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	if (s->conn != NULL) {
		pg_unwatch(s);
		PQfinish(s->conn);
		s->conn = NULL;
		s->retry_ms = now;
		if (s->loop != NULL)
			pg_leader_up = 0;
		log_complain(&s->down, now, LOG_LVL_ERROR, "store: lost the "
		    "connection to PostgreSQL: requests fail until it is back");
	}
	if (pg_follower(s) && pg_leader_up == 0) {
		snprintf(s->err, sizeof(s->err), "PostgreSQL unavailable "
		    "(reconnecting)");
		return -1;
	}
	if (s->pending == NULL && now >= s->retry_ms) {
		if (s->loop != NULL)
			pg_connect_start(s);
		else if (pg_connect(s) == -1)
			pg_retry_later(s);
		else
			return 0;
	}
	if (s->conn != NULL)
		return 0;
	snprintf(s->err, sizeof(s->err), "PostgreSQL unavailable (%s)",
	    s->pending != NULL ? "connecting" : "waiting to retry");
	return -1;
}

/* Notifications read along with query answers wait in libpq's queue:
 * hand them to the hub on the next pass, outside the store call. */
void
pg_later(struct pg_store *s)
{
	if (s->ev_cb != NULL && !loop_timer_armed(&s->notify_timer))
		loop_timer_arm(s->loop, &s->notify_timer, 0);
}

/* One statement with text parameters (NULL: SQL NULL). The result, or
 * NULL with s->err and s->sqlstate set. */
PGresult *
pg_q(struct pg_store *s, const char *sql, int n, const char *const *params,
    const char *what)
{
	PGresult *res;
	ExecStatusType st;
	const char *code;

	s->sqlstate[0] = '\0';
	if (pg_ready(s) == -1)
		return NULL;
	res = pg_exec(s, sql, n, params);
	pg_later(s);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", code ? code : "");
	pg_seterr(s, what, res ? PQresultErrorMessage(res) :
	    PQerrorMessage(s->conn));
	if (strcmp(s->sqlstate, "23505") != 0)
		log_error("store: %s", s->err);
	PQclear(res);
	return NULL;
}

/* A statement whose rows are not needed: 0 or -1; *changed (may be
 * NULL) gets the rows it touched. */
int
pg_x(struct pg_store *s, const char *sql, int n, const char *const *params,
    const char *what, long *changed)
{
	PGresult *res = pg_q(s, sql, n, params, what);

	if (res == NULL)
		return -1;
	if (changed != NULL)
		*changed = PQntuples(res) > 0 ? PQntuples(res) :
		    strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

const char *
pg_i64(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

void
pg_hex(char out[2 * HUB_HASH_LEN + 1], const unsigned char hash[HUB_HASH_LEN])
{
	for (int i = 0; i < HUB_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", hash[i]);
}

void
pg_rollback(struct pg_store *s)
{
	if (s->conn != NULL && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		(void)pg_x(s, "ROLLBACK", 0, NULL, "rollback", NULL);
}

/* ---- notifications ---- */

static void
pg_drain(struct pg_store *s)
{
	PGnotify *n;

	while (s->conn != NULL && (n = PQnotifies(s->conn)) != NULL) {
		const char *p = n->extra;

		if (p != NULL && p[0] != '\0' && strchr("aces", p[0]) != NULL &&
		    p[1] == ':' &&
		    hub_id_valid(p + 2, HUB_ID_MAX) && s->ev_cb != NULL)
			s->ev_cb(p[0], p + 2, s->ev_arg);
		PQfreemem(n);
	}
}

static void
pg_io_cb(struct loop *loop, int fd, int events, void *arg)
{
	struct pg_store *s = arg;

	(void)loop, (void)fd, (void)events;
	if (s->conn == NULL)
		return;
	/* libpq's socket is non-blocking: this reads what is there. */
	if (!PQconsumeInput(s->conn)) {
		/* The server went away: the next call (at the latest the
		 * hub's tick, each second) connects and LISTENs again. */
		pg_seterr(s, "lost the connection to PostgreSQL",
		    PQerrorMessage(s->conn));
		log_complain(&s->down, mono_ms(), LOG_LVL_ERROR, "store: %s", s->err);
		pg_drop(s);
		return;
	}
	pg_drain(s);
}

static void
pg_notify_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	(void)loop, (void)t;
	pg_drain(arg);
}

static void
pg_listen_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct pg_store *s = arg;

	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK)
		(void)pg_ready(s);   /* connects (in the background) and LISTENs */
	loop_timer_arm(loop, t, 1000);
}

int
pg_watch(struct hub_store *hs, struct loop *loop, hub_store_event_cb cb,
    void *arg)
{
	struct pg_store *s = (struct pg_store *)hs;

	s->loop = loop;
	s->ev_cb = cb;
	s->ev_arg = arg;
	loop_timer_init(&s->notify_timer, pg_notify_cb, s);
	loop_timer_init(&s->connect_timer, pg_connect_timeout_cb, s);
	loop_timer_init(&s->listen_timer, pg_listen_cb, s);
	if (pg_ready(s) == -1)
		return -1;
	loop_timer_arm(loop, &s->listen_timer, 1000);
	if (pg_listen(s) == -1)
		return -1;
	pg_leader_up = 1;
	return 0;
}

void
pg_close(struct hub_store *hs)
{
	struct pg_store *s = (struct pg_store *)hs;

	if (s == NULL)
		return;
	pg_unwatch(s);
	if (s->loop != NULL) {
		loop_timer_disarm(s->loop, &s->notify_timer);
		loop_timer_disarm(s->loop, &s->listen_timer);
	}
	if (s->pending != NULL)
		pg_pending_end(s);
	PQfinish(s->conn);
	pg_prep_forget(s);
	free(s->uri);
	free(s);
}



const char *
pg_errmsg(const struct hub_store *hs)
{
	return ((const struct pg_store *)hs)->err;
}

int
pg_begin(struct hub_store *hs)
{
	return pg_x((struct pg_store *)hs, "BEGIN", 0, NULL, "begin", NULL);
}

int
pg_commit(struct hub_store *hs)
{
	struct pg_store *s = (struct pg_store *)hs;

	if (pg_x(s, "COMMIT", 0, NULL, "commit", NULL) == -1) {
		pg_rollback(s);
		return -1;
	}
	return 0;
}

/* ---- pipelines ----
 *
 * Statements sent together, one sync, then their answers: a batch's rows
 * cost about N / PG_PIPE_CHUNK round trips instead of N, a poll one. The
 * chunk bounds the answers waiting on the server (a few dozen bytes
 * each), so neither side fills its socket buffer while the other is
 * still writing.
 */


/* Sync and read the answers of the statements sent (all of them, also
 * after an error: the ones after it answer "aborted"); 0 or -1. */
int
pg_pipe_sync(struct pg_pipe *pp)
{
	PGconn *c = pp->s->conn;
	bool broken = false;
	int q = 0;

	if (pp->n > 0 && PQpipelineSync(c) != 1)
		broken = true;
	while (pp->n > 0 && !broken) {
		PGresult *res = PQgetResult(c);
		ExecStatusType st;

		if (res == NULL) {
			/* One statement's answers end here. */
			broken = ++q > pp->n || PQstatus(c) == CONNECTION_BAD;
			continue;
		}
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			if (!pp->failed) {
				pg_seterr(pp->s, "storing a batch",
				    PQresultErrorMessage(res));
				log_error("store: %s", pp->s->err);
			}
			pp->failed = true;
		} else if (pp->keep != NULL && q < pp->n && pp->keep[q] == NULL) {
			pp->keep[q] = res;
			continue;
		} else if (q < pp->n && pp->ids[q] != NULL && PQntuples(res) > 0 &&
		    hub_buf_add(pp->done, pp->ids[q], strlen(pp->ids[q]) + 1) == -1) {
			pp->failed = true;
		}
		PQclear(res);
	}
	if (broken) {
		pg_seterr(pp->s, "storing a batch", PQerrorMessage(c));
		log_error("store: %s", pp->s->err);
		pp->failed = true;
		pp->broken = true;
	}
	for (int i = 0; i < pp->n; i++) {
		free(pp->ids[i]);
		pp->ids[i] = NULL;
	}
	pp->n = 0;
	return pp->failed ? -1 : 0;
}

/* Queue one statement (json, when given, is freed). */
int
pg_pipe_send(struct pg_pipe *pp, const char *sql, int n,
    const char *const *params, const char *id, char *json)
{
	int ok;

	if (pp->n == PG_PIPE_CHUNK && pg_pipe_sync(pp) == -1) {
		cJSON_free(json);
		return -1;
	}
	ok = pg_send(pp->s, sql, n, params);
	cJSON_free(json);
	if (!ok) {
		pg_seterr(pp->s, "storing a batch", PQerrorMessage(pp->s->conn));
		pp->failed = true;
		return -1;
	}
	pp->ids[pp->n++] = id != NULL ? xstrdup(id) : NULL;
	return 0;
}

/* Statements in one pipeline and one sync: one round trip, and one
 * implicit transaction (all of them or none). res[i] gets statement i's
 * answer (the caller PQclears them); 0, or -1 with none kept. */
int
pg_pipeline(struct pg_store *s, int n, const char *const *sql,
    const int *nparams, const char *const *const *params, PGresult **res)
{
	struct pg_pipe pp = { .s = s, .keep = res };
	int rc = 0;

	for (int i = 0; i < n; i++)
		res[i] = NULL;
	if (pg_ready(s) == -1)
		return -1;
	if (PQenterPipelineMode(s->conn) != 1) {
		pg_seterr(s, "pipeline mode", PQerrorMessage(s->conn));
		return -1;
	}
	for (int i = 0; i < n && rc == 0; i++)
		rc = pg_pipe_send(&pp, sql[i], nparams[i], params[i], NULL, NULL);
	if (!pp.broken && pg_pipe_sync(&pp) == -1)
		rc = -1;
	if (pp.broken || PQexitPipelineMode(s->conn) != 1) {
		pg_drop(s);
		rc = -1;
	} else {
		pg_prep_todo(s);
	}
	pg_later(s);
	if (rc == -1) {
		for (int i = 0; i < n; i++) {
			PQclear(res[i]);
			res[i] = NULL;
		}
	}
	return rc;
}

/*
 * The hub's own begin/commit group many small writes (every agent's
 * last_seen, each flush): here they go out pipelined between BEGIN and
 * COMMIT, a round trip per PG_PIPE_CHUNK statements instead of one each.
 * Only agent_touch joins the group; every other call runs on its own.
 */
int
pg_group_begin(struct hub_store *hs)
{
	struct pg_store *s = (struct pg_store *)hs;

	if (s->group != NULL || pg_ready(s) == -1)
		return -1;
	if ((s->group = calloc(1, sizeof(*s->group))) == NULL) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return -1;
	}
	s->group->s = s;
	if (PQenterPipelineMode(s->conn) != 1) {
		pg_seterr(s, "pipeline mode", PQerrorMessage(s->conn));
		free(s->group);
		s->group = NULL;
		return -1;
	}
	return pg_pipe_send(s->group, "BEGIN", 0, NULL, NULL, NULL) == 0 ? 0 : -1;
}

int
pg_group_commit(struct hub_store *hs)
{
	struct pg_store *s = (struct pg_store *)hs;
	struct pg_pipe *pp = s->group;
	int rc;

	if (pp == NULL)
		return pg_commit(hs);
	s->group = NULL;
	rc = pp->failed ? -1 : pg_pipe_send(pp, "COMMIT", 0, NULL, NULL, NULL);
	if (!pp->broken && pg_pipe_sync(pp) == -1)
		rc = -1;
	if (pp->broken || PQexitPipelineMode(s->conn) != 1)
		pg_drop(s);
	else if (rc == -1)
		pg_rollback(s);
	else
		pg_prep_todo(s);
	pg_later(s);
	free(pp);
	return rc;
}
