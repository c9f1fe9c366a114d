/*
 * Table walks: several columns in one GETBULK (GETNEXT for v1), each
 * varbind carrying one column's last OID, so a table of R rows costs
 * about R / max-repetitions requests rather than that for every column.
 * A column ends when its varbind leaves the column, on an exception, on a
 * non-increasing OID or when the callback says so; the walk ends when
 * all have. Each varbind costs O(1) here: the walk keeps only the last
 * OID of each column, never the rows.
 */
#include "snmp/snmp_int.h"

#include <stdlib.h>
#include <string.h>

/* Per column, whatever the caller does: a runaway agent stops here. A
 * poll's own cap ([poll] max_rows, at most this) ends columns first. */
#define TABLE_MAX_ROWS 100000

struct table {
	struct osnmp_engine *eng;
	struct osnmp_target  target;
	size_t               ncols;
	/* Sized to the columns asked for: a poll keeps one per device. */
	struct table_col {
		const oid *root;          /* the caller's, alive until done */
		oid       *last;          /* grows to the longest instance seen */
		size_t     rootlen, lastlen, lastcap, rows;
		bool       done;
	} *col;
	int                  active[OSNMP_TABLE_MAX_COLS];   /* columns in the request */
	size_t               nactive;
	unsigned             maxrep;
	bool                 v1;
	osnmp_table_cb       cb;
	osnmp_table_done_cb  done_cb;
	void                *arg;
};

static void table_reply(const struct osnmp_reply *, void *);

static void
table_end(struct table *t, enum osnmp_status st, const char *msg)
{
	t->done_cb(st, msg, t->arg);
	for (size_t c = 0; c < t->ncols; c++)
		free(t->col[c].last);
	free(t->col);
	free(t);
}

static bool
col_set_last(struct table_col *col, const oid *o, size_t len)
{
	if (len > col->lastcap) {
		oid *p = realloc(col->last, len * sizeof(oid));
		if (p == NULL)
			return false;
		col->last = p;
		col->lastcap = len;
	}
	memcpy(col->last, o, len * sizeof(oid));
	col->lastlen = len;
	return true;
}

static void
table_next(struct table *t)
{
	netsnmp_pdu *pdu;
	char err[256];

	t->nactive = 0;
	for (size_t c = 0; c < t->ncols; c++)
		if (!t->col[c].done)
			t->active[t->nactive++] = (int)c;
	if (t->nactive == 0) {
		table_end(t, OSNMP_ST_OK, NULL);
		return;
	}
	if (t->v1) {
		pdu = snmp_pdu_create(SNMP_MSG_GETNEXT);
	} else {
		pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
		pdu->non_repeaters = 0;
		/* Enough repetitions for the rows, not the whole response. */
		pdu->max_repetitions = (long)t->maxrep;
	}
	for (size_t i = 0; i < t->nactive; i++)
		snmp_add_null_var(pdu, t->col[t->active[i]].last,
		    t->col[t->active[i]].lastlen);
	if (osnmp_send(t->eng, &t->target, pdu, table_reply, t, err, sizeof(err)) == -1)
		table_end(t, OSNMP_ST_ERROR, err);
}

/* One varbind for column c: false when the column has ended. */
static bool
table_vb(struct table *t, int c, const netsnmp_variable_list *vb)
{
	struct table_col *col = &t->col[c];

	if (col->done)
		return false;
	if (osnmp_vb_is_exception(vb) || vb->name_length <= col->rootlen ||
	    snmp_oid_compare(col->root, col->rootlen, vb->name, col->rootlen) != 0 ||
	    snmp_oid_compare(vb->name, vb->name_length, col->last, col->lastlen) <= 0 ||
	    col->rows >= TABLE_MAX_ROWS) {
		col->done = true;
		return false;
	}
	if (!col_set_last(col, vb->name, vb->name_length)) {
		col->done = true;
		return false;
	}
	col->rows++;
	if (!t->cb(c, vb, t->arg))
		col->done = true;
	return !col->done;
}

static void
table_reply(const struct osnmp_reply *rep, void *arg)
{
	struct table *t = arg;
	const netsnmp_variable_list *vb;
	size_t i = 0;

	if (rep->status != OSNMP_ST_OK) {
		table_end(t, rep->status, rep->errmsg);
		return;
	}
	if (rep->pdu->errstat == SNMP_ERR_TOOBIG && t->maxrep > 1) {
		t->maxrep /= 2;
		table_next(t);
		return;
	}
	if (rep->pdu->errstat == SNMP_ERR_NOSUCHNAME && t->v1) {
		/* v1 end of MIB for the varbind at errindex (1-based). */
		long ix = rep->pdu->errindex - 1;
		if (ix < 0 || (size_t)ix >= t->nactive) {
			table_end(t, OSNMP_ST_ERROR, "noSuchName without a valid index");
			return;
		}
		t->col[t->active[ix]].done = true;
		table_next(t);
		return;
	}
	if (rep->pdu->errstat != SNMP_ERR_NOERROR) {
		char msg[128];
		snprintf(msg, sizeof(msg), "agent error: %s",
		    snmp_errstring((int)rep->pdu->errstat));
		table_end(t, OSNMP_ST_ERROR, msg);
		return;
	}
	/* Repetitions come row by row: varbind i belongs to active[i % n]. */
	for (vb = rep->pdu->variables; vb != NULL; vb = vb->next_variable, i++)
		table_vb(t, t->active[i % t->nactive], vb);
	if (i == 0) {
		table_end(t, OSNMP_ST_ERROR, "agent returned an empty response");
		return;
	}
	table_next(t);
}

int
osnmp_table_walk(struct osnmp_engine *e, const struct osnmp_target *target,
    const struct osnmp_table_col *cols, size_t ncols, unsigned maxrep,
    osnmp_table_cb cb, osnmp_table_done_cb done_cb, void *arg,
    char *err, size_t errlen)
{
	struct table *t;

	if (ncols == 0 || ncols > OSNMP_TABLE_MAX_COLS) {
		snprintf(err, errlen, "a table walk takes 1-%d columns",
		    OSNMP_TABLE_MAX_COLS);
		return -1;
	}
	for (size_t c = 0; c < ncols; c++)
		if (cols[c].len == 0 || cols[c].len > MAX_OID_LEN) {
			snprintf(err, errlen, "bad column OID length");
			return -1;
		}
	t = xcalloc(1, sizeof(*t));
	t->eng = e;
	t->target = *target;
	t->ncols = ncols;
	t->col = xcalloc(ncols, sizeof(*t->col));
	for (size_t c = 0; c < ncols; c++) {
		t->col[c].root = cols[c].oid;
		t->col[c].rootlen = cols[c].len;
		if (!col_set_last(&t->col[c], cols[c].oid, cols[c].len)) {
			t->ncols = c;
			table_end(t, OSNMP_ST_ERROR, "out of memory");
			return 0;
		}
	}
	t->maxrep = maxrep ? maxrep : 25;
	t->v1 = target->cred->version == CFG_SNMP_V1;
	t->cb = cb;
	t->done_cb = done_cb;
	t->arg = arg;
	table_next(t);
	return 0;
}
