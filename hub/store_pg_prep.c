/*
 * Prepared statements for the PostgreSQL store. A statement sent as text
 * is parsed, analysed and planned by the server every time: measured
 * with 4,000 agents polling, that was two thirds of PostgreSQL's CPU
 * (docs/group.md, "CPU per poll"). Each connection prepares a statement
 * the first time it runs it (bounded: PG_PREP_MAX per connection; past
 * that, text as before) and runs it by name afterwards.
 *
 * Statements are found by their text, not their address, so a statement
 * built at run time can never run as another one. In pipeline mode a new
 * statement goes as text and is prepared after the pipeline (PQprepare
 * needs a connection outside it).
 */
#include "hub/store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_STATE_NO_STATEMENT "26000"   /* invalid_sql_statement_name */

static uint64_t
pg_prep_hash(const char *sql)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (; *sql != '\0'; sql++)
		h = (h ^ (unsigned char)*sql) * 1099511628211ull;
	return h;
}

/* The statement's slot on this connection, or -1. */
static int
pg_prep_find(const struct pg_store *s, const char *sql, uint64_t h)
{
	for (int i = 0; i < s->nprep; i++)
		if (s->prep[i].hash == h && strcmp(s->prep[i].sql, sql) == 0)
			return i;
	return -1;
}

static void
pg_prep_name(char name[16], int i)
{
	snprintf(name, 16, "o%d", i);
}

/* A new connection has none of the old one's statements. */
void
pg_prep_forget(struct pg_store *s)
{
	for (int i = 0; i < s->nprep; i++)
		free(s->prep[i].sql);
	for (int k = 0; k < s->ntodo; k++)
		free(s->todo[k]);
	s->nprep = 0;
	s->ntodo = 0;
}

/* Prepare sql on the connection (outside pipeline mode): its slot, or
 * -1 (full, or the server refused: the caller sends the text, whose
 * error, if any, is the one to report). */
static int
pg_prep_add(struct pg_store *s, const char *sql, uint64_t h)
{
	char name[16];
	PGresult *res;
	int ok;

	if (s->nprep == PG_PREP_MAX)
		return -1;
	pg_prep_name(name, s->nprep);
	/* no types given: the server infers them, as for text */
	res = PQprepare(s->conn, name, sql, 0, NULL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		return -1;
	s->prep[s->nprep].hash = h;
	s->prep[s->nprep].sql = xstrdup(sql);
	return s->nprep++;
}

/* PQexecParams, by name once prepared. */
PGresult *
pg_exec(struct pg_store *s, const char *sql, int n, const char *const *params)
{
	uint64_t h = pg_prep_hash(sql);
	int i = pg_prep_find(s, sql, h);
	char name[16];
	PGresult *res;
	const char *code;

	/* BEGIN, COMMIT and other statements without parameters cost
	 * little to parse: only those with parameters are kept */
	if (i == -1 && n > 0)
		i = pg_prep_add(s, sql, h);
	if (i == -1)
		return PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
	pg_prep_name(name, i);
	res = PQexecPrepared(s->conn, name, n, params, NULL, NULL, 0);
	code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (code != NULL && strcmp(code, PG_STATE_NO_STATEMENT) == 0) {
		/* the server forgot it (DISCARD, a pooler): start over */
		PQclear(res);
		pg_prep_forget(s);
		res = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
	}
	return res;
}

/* PQsendQueryParams in pipeline mode, by name once prepared; 1 or 0. */
int
pg_send(struct pg_store *s, const char *sql, int n, const char *const *params)
{
	uint64_t h = pg_prep_hash(sql);
	int i = pg_prep_find(s, sql, h);
	char name[16];

	if (i >= 0) {
		pg_prep_name(name, i);
		return PQsendQueryPrepared(s->conn, name, n, params, NULL, NULL, 0);
	}
	if (n > 0 && s->ntodo < PG_PREP_TODO) {
		int k = 0;

		while (k < s->ntodo && strcmp(s->todo[k], sql) != 0)
			k++;
		if (k == s->ntodo)
			s->todo[s->ntodo++] = xstrdup(sql);
	}
	return PQsendQueryParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
}

/* After a pipeline: prepare the new statements it sent as text. */
void
pg_prep_todo(struct pg_store *s)
{
	for (int k = 0; k < s->ntodo; k++) {
		uint64_t h = pg_prep_hash(s->todo[k]);

		if (pg_prep_find(s, s->todo[k], h) == -1)
			(void)pg_prep_add(s, s->todo[k], h);
		free(s->todo[k]);
	}
	s->ntodo = 0;
}
