/*
 * The SNMP command types (docs/protocol.md, "Commands"): snmp.get,
 * snmp.walk, snmp.set. Their arguments passed proto_command_check()
 * before they get here; these resolve OID names, check [policy] and the
 * credential (cmd_setup_snmp) and talk to the device.
 */
#include "agent/command_int.h"

#include <string.h>

static cJSON *
vb_json(const netsnmp_variable_list *vb)
{
	return osnmp_vb_json(vb, false);
}

static void
cmd_snmp_reply(const struct osnmp_reply *rep, void *arg)
{
	struct cmd *c = arg;
	cJSON *data;

	c->snmp_busy = false;
	if (rep->status != OSNMP_ST_OK) {
		cmd_report(c, "error", rep->errmsg ? rep->errmsg : "failed", NULL);
	} else if (rep->pdu->errstat != SNMP_ERR_NOERROR) {
		char msg[160];
		snprintf(msg, sizeof(msg), "agent error: %s (index %ld)",
		    snmp_errstring((int)rep->pdu->errstat), rep->pdu->errindex);
		cmd_report(c, "error", msg, NULL);
	} else {
		data = cJSON_CreateObject();
		cJSON *arr = cJSON_AddArrayToObject(data, "varbinds");
		for (const netsnmp_variable_list *vb = rep->pdu->variables; vb;
		    vb = vb->next_variable)
			cJSON_AddItemToArray(arr, vb_json(vb));
		cmd_report(c, "ok", NULL, data);
	}
	cmd_free(c);
}

static bool
cmd_walk_vb(const netsnmp_variable_list *vb, void *arg)
{
	struct cmd *c = arg;

	if (c->reported)
		return false;   /* timed out: stop asking the device */
	cJSON_AddItemToArray(c->varbinds, vb_json(vb));
	return true;
}

static void
cmd_walk_done(const struct osnmp_walk_end *e, void *arg)
{
	struct cmd *c = arg;
	cJSON *data;

	c->snmp_busy = false;
	if (e->status != OSNMP_ST_OK && e->count == 0) {
		cmd_report(c, "error", e->errmsg ? e->errmsg : "walk failed", NULL);
	} else {
		data = cJSON_CreateObject();
		cJSON_AddItemToObject(data, "varbinds", c->varbinds);
		c->varbinds = NULL;
		if (e->errmsg)
			cJSON_AddStringToObject(data, "note", e->errmsg);
		cmd_report(c, e->status == OSNMP_ST_OK ? "ok" : "error",
		    e->status == OSNMP_ST_OK ? NULL : e->errmsg, data);
	}
	cmd_free(c);
}

static void
cmd_send(struct cmd *c, netsnmp_pdu *pdu, osnmp_reply_cb cb)
{
	char err[256];

	if (osnmp_send(c->agent->eng, &c->target, pdu, cb, c, err, sizeof(err)) == -1) {
		cmd_report(c, "error", err, NULL);
		return;
	}
	c->snmp_busy = true;
}

static void cmd_get_reply(const struct osnmp_reply *, void *);

static void
cmd_get_send(struct cmd *c, netsnmp_pdu *pdu)
{
	snmp_free_pdu(c->req);
	if ((c->req = snmp_clone_pdu(pdu)) == NULL) {
		snmp_free_pdu(pdu);
		cmd_report(c, "error", "out of memory", NULL);
		return;
	}
	cmd_send(c, pdu, cmd_get_reply);
}

/* An agent error that names one varbind (a v1 agent refuses a whole GET
 * for one unknown OID): note it against that OID and GET the others
 * again, as snmpget does. False if there is nothing left to retry. */
static bool
cmd_get_retry(struct cmd *c, const netsnmp_pdu *resp)
{
	const netsnmp_variable_list *vb = c->req->variables;
	netsnmp_pdu *pdu;
	char oidbuf[MAX_OID_LEN * 11];
	cJSON *e;

	for (long i = 1; vb && i < resp->errindex; i++)
		vb = vb->next_variable;
	if (resp->errindex < 1 || vb == NULL)
		return false;
	osnmp_oid_str(vb->name, vb->name_length, oidbuf, sizeof(oidbuf));
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "oid", oidbuf);
	cJSON_AddStringToObject(e, "error", snmp_errstring((int)resp->errstat));
	if (c->errors == NULL)
		c->errors = cJSON_CreateArray();
	cJSON_AddItemToArray(c->errors, e);
	if ((pdu = osnmp_get_without(c->req, resp->errindex)) == NULL)
		return false;
	cmd_get_send(c, pdu);
	return true;
}

static void
cmd_get_reply(const struct osnmp_reply *rep, void *arg)
{
	struct cmd *c = arg;
	cJSON *data, *arr;
	char msg[160];

	c->snmp_busy = false;
	if (c->reported) {
		cmd_free(c);   /* timed out meanwhile */
		return;
	}
	if (rep->status == OSNMP_ST_OK && rep->pdu->errstat != SNMP_ERR_NOERROR &&
	    cmd_get_retry(c, rep->pdu)) {
		cmd_free(c);   /* no-op while the retry runs */
		return;
	}
	data = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(data, "varbinds");
	if (c->errors) {
		cJSON_AddItemToObject(data, "errors", c->errors);
		c->errors = NULL;
	}
	if (rep->status != OSNMP_ST_OK) {
		cmd_report(c, "error", rep->errmsg ? rep->errmsg : "failed", data);
	} else if (rep->pdu->errstat != SNMP_ERR_NOERROR) {
		snprintf(msg, sizeof(msg), "agent error: %s (index %ld)",
		    snmp_errstring((int)rep->pdu->errstat), rep->pdu->errindex);
		cmd_report(c, "error", msg, data);
	} else {
		for (const netsnmp_variable_list *vb = rep->pdu->variables; vb;
		    vb = vb->next_variable)
			cJSON_AddItemToArray(arr, vb_json(vb));
		cmd_report(c, "ok", NULL, data);
	}
	cmd_free(c);
}

void
rcmd_snmp_get(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *oids = cJSON_GetObjectItemCaseSensitive(args, "oids"), *o;
	netsnmp_pdu *pdu;
	char err[256];
	int n = 0;

	if (!cmd_setup_snmp(c, cmd, cfg))
		return;
	pdu = snmp_pdu_create(SNMP_MSG_GET);
	cJSON_ArrayForEach(o, oids) {
		oid name[MAX_OID_LEN];
		size_t len;
		/* The syntax passed protocol/; names resolve here. */
		if (osnmp_oid_parse(o->valuestring, name, &len, err, sizeof(err)) == -1) {
			snmp_free_pdu(pdu);
			cmd_refuse(c, "oid %d: %s", n, err);
			return;
		}
		snmp_add_null_var(pdu, name, len);
		n++;
	}
	cmd_get_send(c, pdu);
}

void
rcmd_snmp_walk(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(args, "oid");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(args, "max_varbinds");
	struct osnmp_walk_opts wo = { .max_varbinds = PROTO_WALK_DEFAULT_VARBINDS };
	oid root[MAX_OID_LEN];
	size_t len;
	char err[256];
	int64_t v;

	if (osnmp_oid_parse_root(o->valuestring, root, &len, err, sizeof(err)) == -1) {
		cmd_refuse(c, "args.oid: %s", err);
		return;
	}
	if (json_int_exact(m, 1, PROTO_WALK_MAX_VARBINDS, &v))
		wo.max_varbinds = (size_t)v;
	if (!cmd_setup_snmp(c, cmd, cfg))
		return;
	c->varbinds = cJSON_CreateArray();
	if (osnmp_walk(c->agent->eng, &c->target, root, len, &wo, cmd_walk_vb,
	    cmd_walk_done, c, err, sizeof(err)) == -1) {
		cmd_report(c, "error", err, NULL);
		return;
	}
	c->snmp_busy = true;
}

/* snmp.set: off unless [policy] allow_set, and only under set_oids. */
void
rcmd_snmp_set(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *vbs = cJSON_GetObjectItemCaseSensitive(args, "varbinds"), *vb;
	netsnmp_pdu *pdu;
	char err[256];

	if (!cfg->policy.allow_set) {
		cmd_refuse(c, "snmp.set is disabled ([policy] allow_set = false)");
		return;
	}
	pdu = snmp_pdu_create(SNMP_MSG_SET);
	cJSON_ArrayForEach(vb, vbs) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(vb, "oid");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(vb, "type");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(vb, "value");
		oid name[MAX_OID_LEN];
		size_t len;
		char dotted[MAX_OID_LEN * 11];
		bool allowed = false;

		/* Shape and type letter (PROTO_SET_TYPES): protocol/. */
		if (osnmp_oid_parse(o->valuestring, name, &len, err, sizeof(err)) == -1) {
			snmp_free_pdu(pdu);
			cmd_refuse(c, "args.varbinds: %s", err);
			return;
		}
		osnmp_oid_str(name, len, dotted, sizeof(dotted));
		for (size_t i = 0; i < cfg->policy.set_oids.count && !allowed; i++) {
			const char *p = cfg->policy.set_oids.items[i];
			size_t pl;
			p += (*p == '.');
			pl = strlen(p);
			allowed = strncmp(dotted + 1, p, pl) == 0 &&
			    (dotted[1 + pl] == '\0' || dotted[1 + pl] == '.');
		}
		if (!allowed) {
			snmp_free_pdu(pdu);
			cmd_refuse(c, "set of %s is outside [policy] set_oids", dotted);
			return;
		}
		if (snmp_add_var(pdu, name, len, t->valuestring[0], v->valuestring) != 0) {
			snmp_free_pdu(pdu);
			cmd_refuse(c, "bad value for %s: %s", dotted, snmp_api_errstring(snmp_errno));
			return;
		}
	}
	if (!cmd_setup_snmp(c, cmd, cfg)) {
		snmp_free_pdu(pdu);
		return;
	}
	cmd_send(c, pdu, cmd_snmp_reply);
}

