/*
 * Walks: GETBULK for v2c/v3, GETNEXT for v1. A walk ends on
 * endOfMibView (or noSuchName in v1), on leaving the subtree, on a
 * non-increasing OID (a broken agent would loop us forever), or at the
 * varbind limit. max-repetitions halves on tooBig and on timeouts: a big
 * response can be dropped on the way, a smaller one may get through.
 * Like net-snmp's walk tools, a walk that finds nothing GETs the root.
 */
#include "snmp/snmp_int.h"

#include <stdlib.h>
#include <string.h>

#define WALK_MAX_SHRINKS 4

struct walk {
	struct osnmp_engine *eng;
	struct osnmp_target  target;
	oid                 root[MAX_OID_LEN], last[MAX_OID_LEN];
	size_t              rootlen, lastlen;
	unsigned            maxrep;
	unsigned            shrinks;
	size_t              max, count;
	bool                v1, get_root, report_exceptions;
	bool                answered;   /* the device has replied at least once */
	osnmp_walk_vb_cb     vb_cb;
	osnmp_walk_done_cb   done_cb;
	void               *arg;
};

static void walk_reply(const struct osnmp_reply *, void *);

static void
walk_end(struct walk *w, enum osnmp_status st, const char *msg)
{
	w->done_cb(st, msg, w->count, w->arg);
	free(w);
}

static int
walk_next(struct walk *w, char *err, size_t errlen)
{
	netsnmp_pdu *pdu;

	if (w->get_root) {
		pdu = snmp_pdu_create(SNMP_MSG_GET);
		snmp_add_null_var(pdu, w->root, w->rootlen);
	} else if (w->v1) {
		pdu = snmp_pdu_create(SNMP_MSG_GETNEXT);
		snmp_add_null_var(pdu, w->last, w->lastlen);
	} else {
		pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
		pdu->non_repeaters = 0;
		pdu->max_repetitions = (long)w->maxrep;
		snmp_add_null_var(pdu, w->last, w->lastlen);
	}
	return osnmp_send(w->eng, &w->target, pdu, walk_reply, w, err, errlen);
}

static void
walk_continue(struct walk *w)
{
	char err[256];

	if (walk_next(w, err, sizeof(err)) == -1)
		walk_end(w, OSNMP_ST_ERROR, err);
}

/* Retry the same step with fewer repetitions; false if we cannot. */
static bool
walk_shrink(struct walk *w)
{
	/* A device that never answered is down, not choking on big replies. */
	if (w->v1 || w->get_root || !w->answered || w->maxrep <= 1 ||
	    w->shrinks >= WALK_MAX_SHRINKS)
		return false;
	w->maxrep = w->maxrep / 2 ? w->maxrep / 2 : 1;
	w->shrinks++;
	walk_continue(w);
	return true;
}

static void
walk_root_reply(struct walk *w, const netsnmp_pdu *pdu)
{
	const netsnmp_variable_list *vb = pdu->variables;

	if (pdu->errstat == SNMP_ERR_NOERROR && vb != NULL &&
	    (w->report_exceptions || !osnmp_vb_is_exception(vb))) {
		w->count++;
		w->vb_cb(vb, w->arg);
	}
	walk_end(w, OSNMP_ST_OK, NULL);
}

static void
walk_reply(const struct osnmp_reply *rep, void *arg)
{
	struct walk *w = arg;
	const netsnmp_variable_list *vb;
	char msg[MAX_OID_LEN * 24 + 64];

	if (rep->status == OSNMP_ST_TIMEOUT && walk_shrink(w))
		return;
	if (rep->status != OSNMP_ST_OK) {
		walk_end(w, rep->status, rep->errmsg);
		return;
	}
	w->answered = true;
	if (w->get_root) {
		walk_root_reply(w, rep->pdu);
		return;
	}
	if (rep->pdu->errstat == SNMP_ERR_TOOBIG && walk_shrink(w))
		return;
	if (rep->pdu->errstat == SNMP_ERR_NOSUCHNAME && w->v1)
		goto end;
	if (rep->pdu->errstat != SNMP_ERR_NOERROR) {
		snprintf(msg, sizeof(msg), "agent error: %s",
		    snmp_errstring((int)rep->pdu->errstat));
		walk_end(w, OSNMP_ST_ERROR, msg);
		return;
	}
	if (rep->pdu->variables == NULL) {
		walk_end(w, OSNMP_ST_ERROR, "agent returned an empty response");
		return;
	}
	for (vb = rep->pdu->variables; vb != NULL; vb = vb->next_variable) {
		if (vb->name_length < w->rootlen ||
		    snmp_oid_compare(w->root, w->rootlen, vb->name, w->rootlen) != 0)
			goto end;
		if (osnmp_vb_is_exception(vb)) {
			if (w->report_exceptions) {
				w->count++;
				w->vb_cb(vb, w->arg);
			}
			goto end;
		}
		if (snmp_oid_compare(vb->name, vb->name_length, w->last,
		    w->lastlen) <= 0) {
			char a[MAX_OID_LEN * 11], b[MAX_OID_LEN * 11];
			osnmp_oid_str(w->last, w->lastlen, a, sizeof(a));
			osnmp_oid_str(vb->name, vb->name_length, b, sizeof(b));
			snprintf(msg, sizeof(msg), "OID not increasing: %s >= %s", a, b);
			walk_end(w, OSNMP_ST_ERROR, msg);
			return;
		}
		memcpy(w->last, vb->name, vb->name_length * sizeof(oid));
		w->lastlen = vb->name_length;
		w->count++;
		if (!w->vb_cb(vb, w->arg))
			goto end;
		if (w->count >= w->max) {
			snprintf(msg, sizeof(msg), "stopped at the varbind limit (%zu)",
			    w->max);
			walk_end(w, OSNMP_ST_OK, msg);
			return;
		}
	}
	walk_continue(w);
	return;
end:
	if (w->count == 0) {
		w->get_root = true;
		walk_continue(w);
		return;
	}
	walk_end(w, OSNMP_ST_OK, NULL);
}

int
osnmp_walk(struct osnmp_engine *e, const struct osnmp_target *t, const oid *root,
    size_t rootlen, const struct osnmp_walk_opts *o, osnmp_walk_vb_cb vb_cb,
    osnmp_walk_done_cb done_cb, void *arg, char *err, size_t errlen)
{
	struct walk *w;

	if (rootlen == 0 || rootlen > MAX_OID_LEN) {
		snprintf(err, errlen, "bad root OID length %zu", rootlen);
		return -1;
	}
	w = xcalloc(1, sizeof(*w));
	w->eng = e;
	w->target = *t;
	memcpy(w->root, root, rootlen * sizeof(oid));
	memcpy(w->last, root, rootlen * sizeof(oid));
	w->rootlen = w->lastlen = rootlen;
	w->maxrep = o->max_repetitions ? o->max_repetitions : 25;
	w->max = o->max_varbinds ? o->max_varbinds : OSNMP_WALK_MAX;
	w->v1 = t->cred->version == CFG_SNMP_V1;
	w->report_exceptions = o->report_exceptions;
	w->vb_cb = vb_cb;
	w->done_cb = done_cb;
	w->arg = arg;
	if (walk_next(w, err, errlen) == -1) {
		free(w);
		return -1;
	}
	return 0;
}
