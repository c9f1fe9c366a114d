/*
 * The PostgreSQL store's batches (store_pg_int.h): a batch's row and its
 * results, inventory and events pipelined in one transaction, its samples
 * by COPY.
 */
#include "hub/store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
pg_row_result(void *ctx, int64_t agent_id, const char *id, const char *status,
    char *json, uint64_t now_ms)
{
	char a[24], t[24];
	const char *p[] = { id, pg_i64(a, agent_id), status, json,
	    pg_i64(t, (int64_t)now_ms) };

	/* Every node's operators waiting on this command hear of it. Whether
	 * it changed the command is known at the sync (0 here). */
	return pg_pipe_send(ctx, "WITH u AS (UPDATE commands SET status = $3, "
	    "result = $4, updated_ms = $5 WHERE id = $1 AND agent_id = $2 AND "
	    "status NOT IN ('done', 'failed') RETURNING id) SELECT pg_notify('"
	    PG_CHANNEL "', 'c:' || id) FROM u", 5, p, id, json);
}

static int
pg_row_inventory(void *ctx, int64_t agent_id, const char *address,
    int64_t port, char *json, uint64_t now_ms)
{
	char a[24], po[24], t[24];
	const char *p[] = { pg_i64(a, agent_id), address, pg_i64(po, port), json,
	    pg_i64(t, (int64_t)now_ms) };

	return pg_pipe_send(ctx, "INSERT INTO inventory(agent_id, address, port, "
	    "entry, updated_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
	    "(agent_id, address, port) DO UPDATE SET entry = excluded.entry, "
	    "updated_ms = excluded.updated_ms", 5, p, NULL, json);
}

/* Samples, the bulk of most batches, go in by COPY after the pipeline
 * (COPY cannot be pipelined): one round trip for all of them. */
static int
pg_copy_field(struct hub_buf *b, const char *v)
{
	const char *run = v;

	/* COPY's text format: backslash, newline, CR and tab escaped (JSON
	 * we printed holds none of the last three, a device neither). */
	for (; *v != '\0'; v++) {
		const char *esc = *v == '\\' ? "\\\\" : *v == '\n' ? "\\n" :
		    *v == '\r' ? "\\r" : *v == '\t' ? "\\t" : NULL;

		if (esc == NULL)
			continue;
		if (hub_buf_add(b, run, (size_t)(v - run)) == -1 ||
		    hub_buf_add(b, esc, 2) == -1)
			return -1;
		run = v + 1;
	}
	return hub_buf_add(b, run, (size_t)(v - run));
}

static int
pg_row_sample(void *ctx, int64_t agent_id, const char *device, int64_t ts,
    char *json, uint64_t now_ms)
{
	struct pg_pipe *pp = ctx;
	char head[80], tail[64];
	int rc;

	snprintf(head, sizeof(head), "%lld\t", (long long)agent_id);
	snprintf(tail, sizeof(tail), "\t%lld\t%llu\t", (long long)ts,
	    (unsigned long long)now_ms);
	rc = hub_buf_str(&pp->copy, head) == -1 ||
	    pg_copy_field(&pp->copy, device) == -1 ||
	    hub_buf_str(&pp->copy, tail) == -1 ||
	    pg_copy_field(&pp->copy, json) == -1 ||
	    hub_buf_add(&pp->copy, "\n", 1) == -1 ? -1 : 0;
	cJSON_free(json);
	if (rc == -1)
		pg_seterr(pp->s, "storing a batch", "out of memory");
	return rc;
}

static int
pg_copy_samples(struct pg_store *s, const struct hub_buf *b)
{
	PGresult *res;
	bool ok, said = false;

	if (b->len == 0)
		return 0;
	res = PQexec(s->conn, "COPY samples(agent_id, device, ts, received_ms, "
	    "entry) FROM STDIN");
	ok = PQresultStatus(res) == PGRES_COPY_IN;
	PQclear(res);
	if (ok) {
		/* In pieces: libpq buffers each whole piece it is given. */
		for (size_t off = 0; ok && off < b->len; off += 1u << 20)
			ok = PQputCopyData(s->conn, b->data + off,
			    (int)(b->len - off < (1u << 20) ? b->len - off :
			    (1u << 20))) == 1;
		ok = PQputCopyEnd(s->conn, ok ? NULL : "sending failed") == 1 && ok;
	}
	while ((res = PQgetResult(s->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !said) {
			pg_seterr(s, "storing samples", PQresultErrorMessage(res));
			said = true;
		}
		ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
	}
	pg_later(s);
	if (!ok) {
		if (!said)
			pg_seterr(s, "storing samples", PQerrorMessage(s->conn));
		log_error("store: %s", s->err);
	}
	return ok ? 0 : -1;
}

static int
pg_row_event(void *ctx, int64_t agent_id, const char *id, const char *device,
    int64_t ts, char *json, uint64_t now_ms)
{
	char a[24], t[24], r[24];
	const char *p[] = { pg_i64(a, agent_id), id, device, pg_i64(t, ts),
	    pg_i64(r, (int64_t)now_ms), json };

	/* A second node inserting the same event waits for the first one's
	 * commit, then inserts nothing. Every node's waiters for this
	 * agent's events hear of a new one (one NOTIFY per transaction:
	 * PostgreSQL folds equal payloads). */
	return pg_pipe_send(ctx, "WITH i AS (INSERT INTO events(agent_id, "
	    "event_id, device, ts, received_ms, entry) VALUES ($1, $2, $3, $4, "
	    "$5, $6) ON CONFLICT DO NOTHING RETURNING agent_id) SELECT pg_notify('"
	    PG_CHANNEL "', 'e:' || agent_id) FROM i", 6, p, NULL, json);
}

static const struct hub_store_rows pg_rows = {
	pg_row_result, pg_row_inventory, pg_row_sample, pg_row_event,
};

/* The rows of a batch: results and inventory pipelined, then samples by
 * COPY; 0 or -1 (the transaction must then be rolled back). */
static int
pg_batch_rows(struct pg_store *s, const struct hub_batch *batch, int64_t agent_id,
    uint64_t now_ms, struct hub_buf *done)
{
	struct pg_pipe pp = { .s = s, .done = done };
	int rc;

	/* Bounded by the batch itself (PROTO_UPLOAD_MAX_JSON), escapes and
	 * the row's other columns. */
	hub_buf_init(&pp.copy, (size_t)PROTO_UPLOAD_MAX_JSON * 2);
	if (PQenterPipelineMode(s->conn) != 1) {
		pg_seterr(s, "pipeline mode", PQerrorMessage(s->conn));
		return -1;
	}
	rc = hub_store_batch_rows(batch, agent_id, now_ms, &pg_rows, &pp, done);
	/* The answers of what was sent are read also after a failure. */
	if (!pp.broken && pg_pipe_sync(&pp) == -1)
		rc = -1;
	if (pp.broken || PQexitPipelineMode(s->conn) != 1) {
		pg_drop(s);
		rc = -1;
	} else if (rc == 0) {
		pg_prep_todo(s);
	}
	if (rc == 0 && pg_copy_samples(s, &pp.copy) == -1)
		rc = -1;
	hub_buf_free(&pp.copy);
	return rc;
}

int
pg_batch(struct hub_store *hs, int64_t agent_id, const struct hub_batch *batch,
    int64_t batch_id, uint64_t now_ms, bool *stored, hub_store_id_cb cb,
    void *arg)
{
	struct pg_store *s = (struct pg_store *)hs;
	char a[24], b[24], t[24], c[24], d[24];
	struct hub_batch_head hd;
	struct hub_buf done;
	long n = 0;

	*stored = false;
	hub_buf_init(&done, (size_t)64 << 20);
	if (hub_store_batch_head(batch->head, &hd) == -1)
		return -1;
	if (pg_begin(hs) == -1)
		goto fail_nobegin;
	{
		const char *p[] = {
			pg_i64(a, agent_id), pg_i64(b, batch_id),
			pg_i64(t, (int64_t)now_ms), hd.version,
			hd.has_created ? pg_i64(c, hd.created_ms) : NULL,
			hd.has_dropped ? pg_i64(d, hd.dropped) : NULL, hd.counters,
		};

		/* A second node inserting the same batch waits here for
		 * the first one's commit, then inserts nothing. Every
		 * node's samples ?wait= for this agent hears of a stored
		 * one at the commit (NOTIFY 's:NAME'). */
		if (pg_x(s, "WITH i AS (INSERT INTO batches(agent_id, batch_id, "
		    "received_ms, agent_version, created_ms, dropped_samples, "
		    "counters) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO "
		    "NOTHING RETURNING agent_id) SELECT pg_notify('" PG_CHANNEL
		    "', 's:' || a.name) FROM i JOIN agents a ON a.id = i.agent_id",
		    7, p, "storing a batch", &n) == -1)
			goto fail;
	}
	if (n == 0) {
		pg_rollback(s);
		hub_store_batch_head_free(&hd);
		return 0;
	}
	if (pg_batch_rows(s, batch, agent_id, now_ms, &done) == -1)
		goto fail;
	if (hd.agent_version) {
		const char *p[] = { a, hd.version };

		if (pg_x(s, "UPDATE agents SET version = $2 WHERE id = $1", 2, p,
		    "updating an agent", NULL) == -1)
			goto fail;
	}
	hub_store_batch_head_free(&hd);
	if (pg_commit(hs) == -1) {
		hub_buf_free(&done);
		return -1;
	}
	*stored = true;
	hub_store_each_id(&done, cb, arg);
	hub_buf_free(&done);
	return 0;
fail:
	pg_rollback(s);
fail_nobegin:
	hub_store_batch_head_free(&hd);
	hub_buf_free(&done);
	return -1;
}
