/*
 * Walks: GETBULK for v2c/v3, GETNEXT for v1. A walk ends on
 * endOfMibView (or noSuchName, v1's end of the MIB), on leaving the
 * subtree, on a non-increasing OID (a broken agent would loop us
 * forever), on an agent error, or at the varbind limit. max-repetitions
 * halves on tooBig and on timeouts: a big response can be dropped on the
 * way, a smaller one may get through. Like net-snmp's walk tools, a walk
 * that finds nothing GETs the root.
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
	bool                v1, get_root, netsnmp;
	bool                answered;   /* the device has replied at least once */
	long                errstat, errindex;   /* an agent error, for the end */
	oid                 failed[MAX_OID_LEN];
	size_t              failedlen;
	char                errmsg[160];
	void              (*end_of_mib)(void *);
	osnmp_walk_vb_cb     vb_cb;
	osnmp_walk_done_cb   done_cb;
	void               *arg;
};

static void walk_reply(const struct osnmp_reply *, void *);

static void
walk_end(struct walk *w, enum osnmp_status st, const char *msg)
{
	struct osnmp_walk_end e = {
		.status = st, .errmsg = msg, .count = w->count,
		.errstat = w->errstat, .errindex = w->errindex,
		.failed = w->failedlen ? w->failed : NULL, .failedlen = w->failedlen,
	};

	w->done_cb(&e, w->arg);
	free(w);
}

/* The normal end, or the end after an agent error and the root GET. */
static void
walk_finish(struct walk *w)
{
	walk_end(w, w->errstat ? OSNMP_ST_ERROR : OSNMP_ST_OK,
	    w->errstat ? w->errmsg : NULL);
}

static bool
walk_deliver(struct walk *w, const netsnmp_variable_list *vb)
{
	w->count++;
	return w->vb_cb(vb, w->arg);
}

/* Keep an agent error and the varbind it names (errindex counts from 1)
 * for the done callback, which may print it as net-snmp does. */
static void
walk_agent_error(struct walk *w, const netsnmp_pdu *pdu)
{
	const netsnmp_variable_list *vb = pdu->variables;

	w->errstat = pdu->errstat;
	w->errindex = pdu->errindex;
	for (long i = 1; vb && i < pdu->errindex; i++)
		vb = vb->next_variable;
	if (pdu->errindex > 0 && vb && vb->name_length <= MAX_OID_LEN) {
		memcpy(w->failed, vb->name, vb->name_length * sizeof(oid));
		w->failedlen = vb->name_length;
	}
	snprintf(w->errmsg, sizeof(w->errmsg), "agent error: %s",
	    snmp_errstring((int)pdu->errstat));
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
	    (w->netsnmp || !osnmp_vb_is_exception(vb)))
		walk_deliver(w, vb);
	walk_finish(w);
}

static bool
walk_inside(const struct walk *w, const netsnmp_variable_list *vb)
{
	return vb->name_length >= w->rootlen &&
	    snmp_oid_compare(w->root, w->rootlen, vb->name, w->rootlen) == 0;
}

static void
walk_reply(const struct osnmp_reply *rep, void *arg)
{
	struct walk *w = arg;
	const netsnmp_pdu *pdu = rep->pdu;
	const netsnmp_variable_list *vb;
	char msg[MAX_OID_LEN * 24 + 64];
	bool stop = false;

	if (rep->status == OSNMP_ST_TIMEOUT && walk_shrink(w))
		return;
	if (rep->status != OSNMP_ST_OK) {
		walk_end(w, rep->status, rep->errmsg);
		return;
	}
	w->answered = true;
	if (w->get_root) {
		walk_root_reply(w, pdu);
		return;
	}
	if (pdu->errstat == SNMP_ERR_TOOBIG && walk_shrink(w))
		return;
	if (pdu->errstat == SNMP_ERR_NOSUCHNAME) {
		/* v1's end of the MIB (RFC 1157 4.1.3); net-snmp's tools take
		 * it so from any agent. */
		if (w->end_of_mib)
			w->end_of_mib(w->arg);
		goto end;
	}
	if (pdu->errstat != SNMP_ERR_NOERROR) {
		walk_agent_error(w, pdu);
		goto end;
	}
	if (pdu->variables == NULL) {
		walk_end(w, OSNMP_ST_ERROR, "agent returned an empty response");
		return;
	}
	for (vb = pdu->variables; vb != NULL; vb = vb->next_variable) {
		bool inside = walk_inside(w, vb);

		if (stop || !inside) {
			/* net-snmp prints the rest of the last response: each
			 * endOfMibView a GETBULK repeats, for one. */
			stop = true;
			if (!w->netsnmp)
				break;
			if (inside)
				walk_deliver(w, vb);
			continue;
		}
		if (osnmp_vb_is_exception(vb)) {
			stop = true;
			if (w->netsnmp)
				walk_deliver(w, vb);
			continue;
		}
		if (snmp_oid_compare(vb->name, vb->name_length, w->last,
		    w->lastlen) <= 0) {
			char a[MAX_OID_LEN * 11], b[MAX_OID_LEN * 11];
			if (w->netsnmp)
				walk_deliver(w, vb);   /* printed before the error */
			osnmp_oid_str(w->last, w->lastlen, a, sizeof(a));
			osnmp_oid_str(vb->name, vb->name_length, b, sizeof(b));
			snprintf(msg, sizeof(msg), "OID not increasing: %s >= %s", a, b);
			walk_end(w, OSNMP_ST_ERROR, msg);
			return;
		}
		memcpy(w->last, vb->name, vb->name_length * sizeof(oid));
		w->lastlen = vb->name_length;
		if (!walk_deliver(w, vb))
			goto end;
		if (w->count >= w->max) {
			snprintf(msg, sizeof(msg), "stopped at the varbind limit (%zu)",
			    w->max);
			walk_end(w, OSNMP_ST_OK, msg);
			return;
		}
	}
	if (!stop) {
		walk_continue(w);
		return;
	}
end:
	if (w->count == 0) {
		w->get_root = true;
		walk_continue(w);
		return;
	}
	walk_finish(w);
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
	w->netsnmp = o->netsnmp_output;
	w->end_of_mib = o->end_of_mib;
	w->vb_cb = vb_cb;
	w->done_cb = done_cb;
	w->arg = arg;
	if (walk_next(w, err, errlen) == -1) {
		free(w);
		return -1;
	}
	return 0;
}

netsnmp_pdu *
osnmp_get_without(const netsnmp_pdu *req, long index)
{
	const netsnmp_variable_list *vb;
	netsnmp_pdu *pdu;
	long i = 1;

	if (index < 1)
		return NULL;
	pdu = snmp_pdu_create(SNMP_MSG_GET);
	for (vb = req->variables; vb; vb = vb->next_variable, i++)
		if (i != index)
			snmp_add_null_var(pdu, vb->name, vb->name_length);
	if (index >= i || pdu->variables == NULL) {
		snmp_free_pdu(pdu);
		return NULL;
	}
	return pdu;
}
