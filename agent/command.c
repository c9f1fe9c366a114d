/*
 * Commands from the hub (docs/protocol.md, "Commands"). Every command is
 * checked against the local [policy] before any packet is sent: the
 * cloud never reaches further into the customer's network than the
 * configuration allows. One audit line per command.
 */
#include "agent/agent_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#define CMD_DEFAULT_TIMEOUT_MS 30000
#define CMD_WALK_DEFAULT_MAX   10000
#define CMD_WALK_MAX           100000
#define CMD_GET_MAX_OIDS       128

struct cmd {
	struct agent            *agent;
	char                     id[65];
	char                     type[24];
	char                     target_str[300];
	struct osnmp_target      target;
	struct config_credential cred;       /* deep copy: survives a reload */
	uint64_t                 started_ms, started_mono;
	struct loop_timer        timer;
	cJSON                   *varbinds;
	cJSON                   *errors;     /* snmp.get: OIDs the agent refused */
	netsnmp_pdu             *req;        /* snmp.get: a copy of the request */
	bool                     reported, snmp_busy;
	struct cmd              *prev, *next;   /* agent's running commands */
};

void
agent_cred_copy(struct config_credential *dst, const struct config_credential *src)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->community = src->community ? xstrdup(src->community) : NULL;
	dst->user = src->user ? xstrdup(src->user) : NULL;
	dst->auth_password = src->auth_password ? xstrdup(src->auth_password) : NULL;
	dst->priv_password = src->priv_password ? xstrdup(src->priv_password) : NULL;
	dst->context = src->context ? xstrdup(src->context) : NULL;
}

static bool
cmd_id_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static void
cmd_free(struct cmd *c)
{
	if (c->reported && !c->snmp_busy) {
		struct agent *a = c->agent;
		if (c->prev)
			c->prev->next = c->next;
		else if (a->cmds == c)
			a->cmds = c->next;
		if (c->next)
			c->next->prev = c->prev;
		loop_timer_disarm(c->agent->loop, &c->timer);
		cJSON_Delete(c->varbinds);
		cJSON_Delete(c->errors);
		snmp_free_pdu(c->req);
		config_credential_clear(&c->cred);
		c->agent->commands_running--;
		free(c);
	}
}

/* Send the result (once) and write the audit line. */
static void
cmd_report(struct cmd *c, const char *status, const char *error, cJSON *data)
{
	struct agent *a = c->agent;
	cJSON *r;

	if (c->reported) {
		cJSON_Delete(data);
		return;
	}
	c->reported = true;
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "command_id", c->id);
	cJSON_AddStringToObject(r, "status", status);
	if (error) {
		/* It may quote the command's text cut mid-character (%.64s);
		 * the hub refuses a batch that is not UTF-8. */
		size_t n, fixed;
		char *e = utf8_fixed_copy(error, strlen(error), &n, &fixed);

		cJSON_AddStringToObject(r, "error", e ? e : "(out of memory)");
		free(e);
	} else
		cJSON_AddNullToObject(r, "error");
	cJSON_AddNumberToObject(r, "started_ms", (double)c->started_ms);
	cJSON_AddNumberToObject(r, "duration_ms",
	    (double)(mono_ms() - c->started_mono));
	cJSON_AddItemToObject(r, "data", data ? data : cJSON_CreateObject());
	log_info("audit: command %s type %s target %s: %s%s%s", c->id, c->type,
	    c->target_str[0] ? c->target_str : "-", status, error ? ": " : "",
	    error ? error : "");
	if (strcmp(status, "ok") == 0)
		a->commands_ok++;
	else if (strcmp(status, "refused") == 0)
		a->commands_refused++;
	else
		a->commands_failed++;
	if (a->transport_closed) {
		log_warn("command %s finished after shutdown; its result is lost", c->id);
		cJSON_Delete(r);
	} else if (transport_add(a->tp, "results", r) == -1) {
		log_error("command %s: result too large for a batch; dropped", c->id);
	} else if (!loop_timer_armed(&a->flush_timer)) {
		/* Someone waits for this: close the batch after this loop pass
		 * (results of one pass share it) instead of at batch_max_age. */
		loop_timer_arm(a->loop, &a->flush_timer, 0);
	}
}

static void
cmd_refuse(struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
cmd_refuse(struct cmd *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cmd_report(c, "refused", msg, NULL);
}

static void
cmd_timeout_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct cmd *c = arg;
	char msg[96];

	snprintf(msg, sizeof(msg), "command timed out after %llu ms",
	    (unsigned long long)(mono_ms() - c->started_mono));
	cmd_report(c, "error", msg, NULL);
	cmd_free(c);
}

/* Is every address of the target inside [policy] allow_networks? */
static bool
policy_allows(const struct config *cfg, const struct sockaddr_storage *ss)
{
	const struct config_addrs *allow = config_allowed_networks(cfg);

	for (size_t i = 0; i < allow->count; i++)
		if (net_range_contains(&allow->ranges[i], ss))
			return true;
	return false;
}

/* With [policy] allow_inline_credentials: {"version", "community" |
 * "user", "level", "auth_protocol", ..., "context"} checked like a config
 * section. */
static bool
cmd_inline_cred(struct cmd *c, const cJSON *o)
{
	static const char *const strs[] = {
		"community", "user", "auth_password", "priv_password", "context",
	};
	char **dst[] = { &c->cred.community, &c->cred.user,
	    &c->cred.auth_password, &c->cred.priv_password, &c->cred.context };
	const struct { const char *key; int (*parse)(const char *); int *out; } enums[] = {
		{ "version", config_parse_version, &c->cred.version },
		{ "level", config_parse_level, &c->cred.level },
		{ "auth_protocol", config_parse_auth, &c->cred.auth_protocol },
		{ "priv_protocol", config_parse_priv, &c->cred.priv_protocol },
	};
	char err[512];

	config_credential_defaults(&c->cred);
	c->cred.name = xstrdup("inline");
	for (size_t i = 0; i < countof(enums); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, enums[i].key);
		int x;
		if (v == NULL)
			continue;
		if (!cJSON_IsString(v) || (x = enums[i].parse(v->valuestring)) < 0) {
			cmd_refuse(c, "inline credential: bad %s", enums[i].key);
			return false;
		}
		*enums[i].out = x;
	}
	for (size_t i = 0; i < countof(strs); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, strs[i]);
		if (v == NULL)
			continue;
		if (!cJSON_IsString(v) || strlen(v->valuestring) > 255) {
			cmd_refuse(c, "inline credential: bad %s", strs[i]);
			return false;
		}
		*dst[i] = xstrdup(v->valuestring);
	}
	if (c->cred.version == CFG_SNMP_V3 &&
	    cJSON_GetObjectItemCaseSensitive(o, "level") == NULL)
		c->cred.level = c->cred.priv_password ? CFG_AUTH_PRIV :
		    c->cred.auth_password ? CFG_AUTH_NOPRIV : CFG_NOAUTH_NOPRIV;
	if (config_credential_check(&c->cred, err, sizeof(err)) == -1) {
		cmd_refuse(c, "inline credential: %s", err);
		return false;
	}
	return true;
}

/* "context": a v3 context name for this command, over the credential's. */
static bool
cmd_context(struct cmd *c, const cJSON *cmd)
{
	const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(cmd, "context");
	char err[512];

	if (ctx == NULL)
		return true;
	if (!cJSON_IsString(ctx)) {
		cmd_refuse(c, "context must be a string");
		return false;
	}
	free(c->cred.context);
	c->cred.context = xstrdup(ctx->valuestring);
	if (config_credential_check(&c->cred, err, sizeof(err)) == -1) {
		cmd_refuse(c, "credential '%s' with context: %s", c->cred.name, err);
		return false;
	}
	return true;
}

/* target + credential + policy; false after refusing. */
static bool
cmd_setup_snmp(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cmd, "target");
	const cJSON *cr = cJSON_GetObjectItemCaseSensitive(cmd, "credential");
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res;
	struct sockaddr_storage ss;
	const struct config_credential *found;
	char err[256];

	if (!cJSON_IsString(t)) {
		cmd_refuse(c, "missing target");
		return false;
	}
	snprintf(c->target_str, sizeof(c->target_str), "%.255s", t->valuestring);
	c->target.port = 161;
	if (net_hostport_parse(t->valuestring, c->target.host, sizeof(c->target.host),
	    &c->target.port, err, sizeof(err)) == -1) {
		cmd_refuse(c, "%s", err);
		return false;
	}
	/* Numeric only: a name would need a blocking lookup, and policy is
	 * about addresses. */
	if (getaddrinfo(c->target.host, NULL, &hints, &res) != 0) {
		cmd_refuse(c, "target must be an IP address, not '%s'", c->target.host);
		return false;
	}
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (!policy_allows(cfg, &ss)) {
		cmd_refuse(c, "target %s is outside [policy] allow_networks", c->target.host);
		return false;
	}
	if (cJSON_GetObjectItemCaseSensitive(cmd, "community") ||
	    cJSON_GetObjectItemCaseSensitive(cmd, "auth_password") ||
	    cJSON_GetObjectItemCaseSensitive(cmd, "priv_password") ||
	    cJSON_IsObject(cr)) {
		if (!cfg->policy.allow_inline_credentials) {
			cmd_refuse(c, "inline credentials are refused: name a [credential] "
			    "section (or set [policy] allow_inline_credentials)");
			return false;
		}
		if (!cJSON_IsObject(cr)) {
			cmd_refuse(c, "an inline credential is an object in \"credential\"");
			return false;
		}
		if (!cmd_inline_cred(c, cr))
			return false;
	} else if (!cJSON_IsString(cr)) {
		cmd_refuse(c, "missing credential (the name of a [credential] section)");
		return false;
	} else if ((found = config_credential_find(cfg, cr->valuestring)) == NULL) {
		cmd_refuse(c, "unknown credential '%.64s'", cr->valuestring);
		return false;
	} else {
		agent_cred_copy(&c->cred, found);
	}
	if (!cmd_context(c, cmd))
		return false;
	c->target.cred = &c->cred;
	c->target.timeout_ms = 1000;
	c->target.retries = 2;
	return true;
}

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

static void
rcmd_get(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *oids = cJSON_GetObjectItemCaseSensitive(args, "oids"), *o;
	netsnmp_pdu *pdu;
	char err[256];
	int n = 0;

	if (!cJSON_IsArray(oids) || cJSON_GetArraySize(oids) == 0 ||
	    cJSON_GetArraySize(oids) > CMD_GET_MAX_OIDS) {
		cmd_refuse(c, "args.oids must be an array of 1-%d OIDs", CMD_GET_MAX_OIDS);
		return;
	}
	if (!cmd_setup_snmp(c, cmd, cfg))
		return;
	pdu = snmp_pdu_create(SNMP_MSG_GET);
	cJSON_ArrayForEach(o, oids) {
		oid name[MAX_OID_LEN];
		size_t len;
		if (!cJSON_IsString(o) ||
		    osnmp_oid_parse(o->valuestring, name, &len, err, sizeof(err)) == -1) {
			snmp_free_pdu(pdu);
			cmd_refuse(c, "oid %d: %s", n, cJSON_IsString(o) ? err : "not a string");
			return;
		}
		snmp_add_null_var(pdu, name, len);
		n++;
	}
	cmd_get_send(c, pdu);
}

static void
rcmd_walk(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(args, "oid");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(args, "max_varbinds");
	struct osnmp_walk_opts wo = { .max_varbinds = CMD_WALK_DEFAULT_MAX };
	oid root[MAX_OID_LEN];
	size_t len;
	char err[256];

	if (!cJSON_IsString(o) ||
	    osnmp_oid_parse(o->valuestring, root, &len, err, sizeof(err)) == -1) {
		cmd_refuse(c, "args.oid: %s", cJSON_IsString(o) ? err : "missing");
		return;
	}
	if (m != NULL) {
		if (!cJSON_IsNumber(m) || m->valuedouble < 1 || m->valuedouble > CMD_WALK_MAX) {
			cmd_refuse(c, "args.max_varbinds must be 1-%d", CMD_WALK_MAX);
			return;
		}
		wo.max_varbinds = (size_t)m->valuedouble;
	}
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
static void
rcmd_set(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *vbs = cJSON_GetObjectItemCaseSensitive(args, "varbinds"), *vb;
	netsnmp_pdu *pdu;
	char err[256];

	if (!cfg->policy.allow_set) {
		cmd_refuse(c, "snmp.set is disabled ([policy] allow_set = false)");
		return;
	}
	if (!cJSON_IsArray(vbs) || cJSON_GetArraySize(vbs) == 0 ||
	    cJSON_GetArraySize(vbs) > CMD_GET_MAX_OIDS) {
		cmd_refuse(c, "args.varbinds must be an array of 1-%d {oid, type, value}",
		    CMD_GET_MAX_OIDS);
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

		if (!cJSON_IsString(o) || !cJSON_IsString(t) || !cJSON_IsString(v) ||
		    strlen(t->valuestring) != 1 ||
		    strchr("iucsxdnotab", t->valuestring[0]) == NULL ||
		    osnmp_oid_parse(o->valuestring, name, &len, err, sizeof(err)) == -1) {
			snmp_free_pdu(pdu);
			cmd_refuse(c, "each varbind needs oid, type (one of i u c s x d n o t a b) "
			    "and value as strings");
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

/* Every address of r inside one allowed range (IPv4), or r allowed (v6). */
static bool
policy_allows_range(const struct config *cfg, const struct net_range *r)
{
	const struct config_addrs *allow = config_allowed_networks(cfg);

	for (size_t i = 0; i < allow->count; i++) {
		const struct net_range *p = &allow->ranges[i];
		if (r->family == AF_INET && p->family == AF_INET &&
		    r->first >= p->first && r->last <= p->last)
			return true;
		if (r->family == AF_INET6 && p->family == AF_INET6 &&
		    memcmp(&r->addr6, &p->addr6, sizeof(r->addr6)) == 0)
			return true;
	}
	return false;
}

static void
rcmd_async_reply(void *ctx, cJSON *data, const char *err)
{
	struct cmd *c = ctx;

	c->snmp_busy = false;
	if (err != NULL) {
		cJSON_Delete(data);
		cmd_report(c, "error", err, NULL);
	} else {
		cmd_report(c, "ok", NULL, data);
	}
	cmd_free(c);
}

#define CMD_SCAN_MAX_RANGES 64

static void
rcmd_scan(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *nets = cJSON_GetObjectItemCaseSensitive(args, "networks");
	const cJSON *creds = cJSON_GetObjectItemCaseSensitive(args, "credentials");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(args, "port"), *n;
	struct net_range ranges[CMD_SCAN_MAX_RANGES];
	struct config_strings names = { 0 };
	char *items[OSNMP_SCAN_MAX_CREDS];
	size_t nranges = 0;
	uint64_t total = 0;
	char err[256];

	if (!cJSON_IsArray(nets) || cJSON_GetArraySize(nets) < 1 ||
	    cJSON_GetArraySize(nets) > CMD_SCAN_MAX_RANGES) {
		cmd_refuse(c, "args.networks must be an array of 1-%d targets",
		    CMD_SCAN_MAX_RANGES);
		return;
	}
	cJSON_ArrayForEach(n, nets) {
		if (!cJSON_IsString(n) ||
		    net_range_parse(n->valuestring, &ranges[nranges], err, sizeof(err)) == -1) {
			cmd_refuse(c, "%s", cJSON_IsString(n) ? err : "networks: not a string");
			return;
		}
		if (!policy_allows_range(cfg, &ranges[nranges])) {
			cmd_refuse(c, "%s is outside [policy] allow_networks", n->valuestring);
			return;
		}
		total += net_range_count(&ranges[nranges++]);
	}
	snprintf(c->target_str, sizeof(c->target_str), "%zu ranges, %llu addresses",
	    nranges, (unsigned long long)total);
	if (port != NULL && (!cJSON_IsNumber(port) || port->valuedouble < 1 ||
	    port->valuedouble > 65535)) {
		cmd_refuse(c, "args.port must be 1-65535");
		return;
	}
	if (creds != NULL) {
		if (!cJSON_IsArray(creds) || cJSON_GetArraySize(creds) > OSNMP_SCAN_MAX_CREDS) {
			cmd_refuse(c, "args.credentials must be an array of names");
			return;
		}
		cJSON_ArrayForEach(n, creds) {
			if (!cJSON_IsString(n)) {
				cmd_refuse(c, "args.credentials must be an array of names");
				return;
			}
			items[names.count++] = n->valuestring;
		}
		names.items = items;
	}
	if (discover_command(c->agent, ranges, nranges,
	    port ? (unsigned)port->valuedouble : (unsigned)cfg->scan.port, &names,
	    rcmd_async_reply, c, err, sizeof(err)) == -1) {
		cmd_refuse(c, "%s", err);
		return;
	}
	c->snmp_busy = true;
}

/* An inventory device, numeric by construction, against [policy]. */
static bool
policy_allows_device(const struct config *cfg, const struct inv_dev *d)
{
	struct net_range r;
	char err[128];

	return net_range_parse(d->address, &r, err, sizeof(err)) == 0 &&
	    policy_allows_range(cfg, &r);
}

static void
rcmd_poll_done(struct inv_dev *d, cJSON *samples, const char *err, void *arg)
{
	cJSON *data = cJSON_CreateObject();

	cJSON_AddItemToObject(data, "samples", samples);
	rcmd_async_reply(arg, data, err);
}

static void
rcmd_poll(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(args, "device");
	const cJSON *prof = cJSON_GetObjectItemCaseSensitive(args, "profile");
	const char *pname = cJSON_IsString(prof) ? prof->valuestring : NULL;
	char host[256], err[256];
	unsigned port = (unsigned)cfg->scan.port, n = 0;
	struct inv_dev *d;

	if (prof != NULL && pname == NULL) {
		cmd_refuse(c, "args.profile must be a string");
		return;
	}
	if (dev == NULL) {
		/* Every device, now; samples go out with the normal stream. */
		unsigned skipped = 0;
		for (d = c->agent->devs; d; d = d->next) {
			if (!policy_allows_device(cfg, d))
				skipped++;
			else
				n += poll_now(d, pname, NULL, NULL) == 0;
		}
		cJSON *data = cJSON_CreateObject();
		cJSON_AddNumberToObject(data, "devices_polled", n);
		cJSON_AddNumberToObject(data, "devices_outside_policy", skipped);
		cmd_report(c, "ok", NULL, data);
		return;
	}
	if (!cJSON_IsString(dev) || net_hostport_parse(dev->valuestring, host,
	    sizeof(host), &port, err, sizeof(err)) == -1) {
		cmd_refuse(c, "args.device: %s", cJSON_IsString(dev) ? err : "not a string");
		return;
	}
	snprintf(c->target_str, sizeof(c->target_str), "%s:%u", host, port);
	if ((d = inv_find(c->agent, host, port)) == NULL) {
		cmd_refuse(c, "%s:%u is not in the inventory (scan it first)", host, port);
		return;
	}
	if (!policy_allows_device(cfg, d)) {
		cmd_refuse(c, "target %s is outside [policy] allow_networks", host);
		return;
	}
	if (poll_now(d, pname, rcmd_poll_done, c) == -1) {
		cmd_refuse(c, "cannot poll %s:%u now (a poll is running, its credential "
		    "is gone, or profile '%s' is not in [poll] profiles)", host, port,
		    pname ? pname : "-");
		return;
	}
	c->snmp_busy = true;
}

static void
rcmd_info(struct cmd *c)
{
	struct agent *a = c->agent;
	struct transport_stats st;
	cJSON *d = cJSON_CreateObject(), *cnt;

	transport_get_stats(a->tp, &st);
	cJSON_AddStringToObject(d, "version", OUTPOST_VERSION);
	cJSON_AddNumberToObject(d, "uptime_s", (double)((mono_ms() - a->started_mono) / 1000));
	cJSON_AddNumberToObject(d, "devices", (double)a->ndevs);
	cJSON_AddNumberToObject(d, "spool_bytes", (double)st.spool_bytes);
	cnt = cJSON_AddObjectToObject(d, "counters");
	cJSON_AddNumberToObject(cnt, "commands_ok", (double)a->commands_ok);
	cJSON_AddNumberToObject(cnt, "commands_failed", (double)a->commands_failed);
	cJSON_AddNumberToObject(cnt, "commands_refused", (double)a->commands_refused);
	cJSON_AddNumberToObject(cnt, "batches_sent", (double)st.batches_sent);
	cJSON_AddNumberToObject(cnt, "polls", (double)st.polls);
	cJSON_AddNumberToObject(cnt, "hub_poll_errors", (double)st.poll_errors);
	cJSON_AddNumberToObject(cnt, "device_polls", (double)a->polls);
	cJSON_AddNumberToObject(cnt, "device_poll_errors", (double)a->poll_errors);
	cJSON_AddNumberToObject(cnt, "samples", (double)a->samples);
	cmd_report(c, "ok", NULL, d);
}

void
agent_command(struct agent *a, const cJSON *cmd)
{
	const struct config *cfg = a->cfg;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(cmd, "id");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(cmd, "type");
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(cmd, "timeout_ms");
	struct cmd *c;
	uint64_t timeout = CMD_DEFAULT_TIMEOUT_MS;
	char *text;

	if (!cJSON_IsString(id) || !cmd_id_valid(id->valuestring)) {
		log_warn("hub sent a command without a valid id; ignored");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->agent = a;
	snprintf(c->id, sizeof(c->id), "%s", id->valuestring);
	snprintf(c->type, sizeof(c->type), "%.23s",
	    cJSON_IsString(type) ? type->valuestring : "?");
	c->started_ms = wall_ms();
	c->started_mono = mono_ms();
	loop_timer_init(&c->timer, cmd_timeout_cb, c);
	a->commands_running++;
	c->next = a->cmds;
	if (a->cmds)
		a->cmds->prev = c;
	a->cmds = c;
	text = cJSON_PrintUnformatted(cmd);
	if (text == NULL || strlen(text) > cfg->policy.max_command_bytes) {
		cmd_refuse(c, "command larger than [policy] max_command_bytes");
	} else if (a->stopping) {
		cmd_refuse(c, "the agent is shutting down");
	} else if (to != NULL && (!cJSON_IsNumber(to) || to->valuedouble < 1)) {
		cmd_refuse(c, "timeout_ms must be a positive number");
	} else {
		if (to != NULL)
			timeout = to->valuedouble > 1e12 ? UINT64_MAX : (uint64_t)to->valuedouble;
		if (timeout > cfg->policy.max_command_time)
			timeout = cfg->policy.max_command_time;
		loop_timer_arm(a->loop, &c->timer, timeout);
		if (strcmp(c->type, "snmp.get") == 0)
			rcmd_get(c, cmd, cfg);
		else if (strcmp(c->type, "snmp.walk") == 0)
			rcmd_walk(c, cmd, cfg);
		else if (strcmp(c->type, "snmp.set") == 0)
			rcmd_set(c, cmd, cfg);
		else if (strcmp(c->type, "agent.info") == 0)
			rcmd_info(c);
		else if (strcmp(c->type, "scan") == 0)
			rcmd_scan(c, cmd, cfg);
		else if (strcmp(c->type, "poll.now") == 0)
			rcmd_poll(c, cmd, cfg);
		else
			cmd_refuse(c, "unknown command type '%s'", c->type);
	}
	free(text);
	cmd_free(c);
}

/* At exit: every command still running gets its result now, so the hub
 * (which will not deliver an acked command again) learns what became of
 * it. Their SNMP requests end with the engine. */
void
agent_commands_abort(struct agent *a, const char *why)
{
	for (struct cmd *c = a->cmds; c; c = c->next)
		if (!c->reported)
			cmd_report(c, "error", why, NULL);
}
