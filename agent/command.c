/*
 * Commands from the hub (docs/protocol.md, "Commands"). Every command is
 * checked first with protocol/'s proto_command_check() (the check the
 * hub ran when it was queued), then against the local [policy] before
 * any packet is sent: the cloud never reaches further into the
 * customer's network than the configuration allows. Dispatch is by the
 * row of protocol/'s command table. One audit line per command.
 */
#include "agent/command_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

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

void
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

void
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

void
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
		if (!cJSON_IsString(v) || strlen(v->valuestring) > PROTO_SECRET_MAX) {
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
	free(c->cred.context);
	c->cred.context = xstrdup(ctx->valuestring);
	if (config_credential_check(&c->cred, err, sizeof(err)) == -1) {
		cmd_refuse(c, "credential '%s' with context: %s", c->cred.name, err);
		return false;
	}
	return true;
}

bool
cmd_setup_snmp(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cmd, "target");
	const cJSON *cr = cJSON_GetObjectItemCaseSensitive(cmd, "credential");
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res;
	struct sockaddr_storage ss;
	const struct config_credential *found;
	char err[256];

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
	/* Secrets at the top level never get here: protocol/ refuses them. */
	if (cJSON_IsObject(cr)) {
		if (!cfg->policy.allow_inline_credentials) {
			cmd_refuse(c, "inline credentials are refused: name a [credential] "
			    "section (or set [policy] allow_inline_credentials)");
			return false;
		}
		if (!cmd_inline_cred(c, cr))
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
cmd_async_reply(void *ctx, cJSON *data, const char *err)
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

_Static_assert(PROTO_SCAN_MAX_CREDENTIALS <= OSNMP_SCAN_MAX_CREDS,
    "scan credentials: the protocol allows more than the scanner takes");

static void
rcmd_scan(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *nets = cJSON_GetObjectItemCaseSensitive(args, "networks");
	const cJSON *creds = cJSON_GetObjectItemCaseSensitive(args, "credentials");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(args, "port"), *n;
	struct net_range ranges[PROTO_SCAN_MAX_NETWORKS];
	struct config_strings names = { 0 };
	char *items[OSNMP_SCAN_MAX_CREDS];
	size_t nranges = 0;
	uint64_t total = 0;
	char err[256];

	/* Shapes and counts: proto_command_check(). */
	cJSON_ArrayForEach(n, nets) {
		if (nranges == countof(ranges) ||
		    net_range_parse(n->valuestring, &ranges[nranges], err, sizeof(err)) == -1) {
			cmd_refuse(c, "%s", nranges == countof(ranges) ? "too many networks" : err);
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
	if (creds != NULL) {
		cJSON_ArrayForEach(n, creds) {
			if (names.count == countof(items)) {
				cmd_refuse(c, "args.credentials: too many names");
				return;
			}
			items[names.count++] = n->valuestring;
		}
		names.items = items;
	}
	if (discover_command(c->agent, ranges, nranges,
	    port ? (unsigned)port->valuedouble : (unsigned)cfg->scan.port, &names,
	    cmd_async_reply, c, err, sizeof(err)) == -1) {
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
cmd_poll_done(struct inv_dev *d, cJSON *samples, const char *err, void *arg)
{
	cJSON *data = cJSON_CreateObject();

	cJSON_AddItemToObject(data, "samples", samples);
	cmd_async_reply(arg, data, err);
}

static void
rcmd_poll_now(struct cmd *c, const cJSON *cmd, const struct config *cfg)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(args, "device");
	const cJSON *prof = cJSON_GetObjectItemCaseSensitive(args, "profile");
	const char *pname = cJSON_IsString(prof) ? prof->valuestring : NULL;
	char host[256], err[256];
	unsigned port = (unsigned)cfg->scan.port;
	struct inv_dev *d;

	if (dev == NULL) {
		/* Every device, a window at a time (poll.c); samples go out
		 * with the normal stream. */
		size_t skipped, queued;
		queued = poll_now_all(c->agent, pname, policy_allows_device, &skipped);
		cJSON *data = cJSON_CreateObject();
		cJSON_AddNumberToObject(data, "devices_polled", (double)queued);
		cJSON_AddNumberToObject(data, "devices_outside_policy", (double)skipped);
		cmd_report(c, "ok", NULL, data);
		return;
	}
	if (net_hostport_parse(dev->valuestring, host, sizeof(host), &port, err,
	    sizeof(err)) == -1) {
		cmd_refuse(c, "args.device: %s", err);
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
	if (poll_now(d, pname, cmd_poll_done, c) == -1) {
		cmd_refuse(c, "cannot poll %s:%u now (a poll is running, its credential "
		    "is gone, or profile '%s' is not in [poll] profiles)", host, port,
		    pname ? pname : "-");
		return;
	}
	c->snmp_busy = true;
}

static void
rcmd_agent_info(struct cmd *c, const cJSON *cmd, const struct config *cfg)
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

/* protocol/'s command table, row by row: adding a type is a row there,
 * its handler here (or in command_snmp.c), and its tests. */
static rcmd_handler *const rcmd_handlers[PROTO_CMD_COUNT] = {
	[PROTO_CMD_SNMP_GET]   = rcmd_snmp_get,
	[PROTO_CMD_SNMP_WALK]  = rcmd_snmp_walk,
	[PROTO_CMD_SNMP_SET]   = rcmd_snmp_set,
	[PROTO_CMD_SCAN]       = rcmd_scan,
	[PROTO_CMD_POLL_NOW]   = rcmd_poll_now,
	[PROTO_CMD_AGENT_INFO] = rcmd_agent_info,
};

void
agent_command(struct agent *a, const cJSON *cmd)
{
	const struct config *cfg = a->cfg;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(cmd, "id");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(cmd, "type");
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(cmd, "timeout_ms");
	struct cmd *c;
	uint64_t timeout = CMD_DEFAULT_TIMEOUT_MS;
	char *text, err[512];
	int64_t ms;
	int t;

	if (!cJSON_IsString(id) || !proto_id_valid(id->valuestring, PROTO_ID_MAX)) {
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
	} else if ((t = proto_command_check(cmd, err, sizeof(err))) < 0) {
		cmd_refuse(c, "%s", err);
	} else if (rcmd_handlers[t] == NULL) {
		/* A row added to protocol/ before its handler here. */
		cmd_refuse(c, "command type '%s' is not supported by this agent", c->type);
	} else {
		if (json_int_exact(to, 1, PROTO_TIMEOUT_MAX_MS, &ms))
			timeout = (uint64_t)ms;
		if (timeout > cfg->policy.max_command_time)
			timeout = cfg->policy.max_command_time;
		loop_timer_arm(a->loop, &c->timer, timeout);
		rcmd_handlers[t](c, cmd, cfg);
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
