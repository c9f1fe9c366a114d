/*
 * Operators: tokens with a role, what each role may do, and the
 * endpoints the console needs beyond docs/protocol.md's (who am I, an
 * agent's command history, token and agent management). The admin
 * token file keeps working as a token named "admin" with role admin.
 *
 * Roles are ordered (viewer < operator < admin) and checked here, by the
 * API, for every request: a page that hides a button is not a control.
 * Tokens are stored as their SHA-256 only, like agents'; a token is
 * printed once, when made, and never logged.
 */
#include "hub/hub_int.h"

#include <errno.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_HISTORY_DEFAULT 50
#define OP_HISTORY_MAX     500
#define OP_ROLE_MAX        16
#define OP_POLLING_RECENT_MS 30000  /* "polling": a poll ended this recently */
#define OP_ONLINE_STORED_MS 40000   /* "polling"'s 30 s + the 10 s flush */

static const char *const op_roles[] = {
	[HUB_ROLE_VIEWER] = "viewer",
	[HUB_ROLE_OPERATOR] = "operator",
	[HUB_ROLE_ADMIN] = "admin",
};

const char *
hub_role_name(enum hub_role r)
{
	return r > HUB_ROLE_NONE && r <= HUB_ROLE_ADMIN ? op_roles[r] : NULL;
}

enum hub_role
hub_role_parse(const char *name)
{
	for (int r = HUB_ROLE_VIEWER; r <= HUB_ROLE_ADMIN; r++)
		if (name != NULL && strcmp(name, op_roles[r]) == 0)
			return (enum hub_role)r;
	return HUB_ROLE_NONE;
}

/* ---- routes ---- */

/* The role a route needs. A route this table does not name needs admin:
 * a new endpoint is closed until someone decides who may use it. */
static enum hub_role
op_required(enum hub_route r)
{
	switch (r) {
	case HUB_R_CMD_GET:
	case HUB_R_AGENTS:
	case HUB_R_DEVICES:
	case HUB_R_SAMPLES:
	case HUB_R_EVENTS:
	case HUB_R_WHOAMI:
	case HUB_R_HISTORY:
	case HUB_R_METRICS:
		return HUB_ROLE_VIEWER;
	case HUB_R_CMD_POST:
		return HUB_ROLE_OPERATOR;
	default:
		return HUB_ROLE_ADMIN;
	}
}

/* What a role is refused, for the 403's reason. */
static const char *
op_action(enum hub_route r)
{
	switch (r) {
	case HUB_R_CMD_POST:
		return "queue commands";
	case HUB_R_TOKENS:
	case HUB_R_TOKEN_ADD:
	case HUB_R_TOKEN_DEL:
		return "manage tokens";
	case HUB_R_AGENT_ADD:
	case HUB_R_AGENT_DEL:
		return "manage agents";
	default:
		return "use this endpoint";
	}
}

/* "NAME" of "/prefix/NAME" (no further slash) into arg. */
static bool
op_name_arg(const char *p, char *arg, size_t arglen)
{
	size_t n = strlen(p);

	if (n == 0 || n >= arglen || strchr(p, '/') != NULL)
		return false;
	memcpy(arg, p, n + 1);
	return hub_name_valid(arg);
}

enum hub_route
hub_op_route(const char *method, const char *url, char *arg, size_t arglen,
    const char **allow)
{
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	bool del = strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;
	const char *slash;
	size_t n;

	if (strcmp(url, "/metrics") == 0) {
		*allow = get ? NULL : "GET";
		return get ? HUB_R_METRICS : HUB_R_NONE;
	}
	if (strcmp(url, "/v1/whoami") == 0) {
		*allow = get ? NULL : "GET";
		return get ? HUB_R_WHOAMI : HUB_R_NONE;
	}
	if (strcmp(url, "/v1/tokens") == 0) {
		*allow = get || post ? NULL : "GET, POST";
		return get ? HUB_R_TOKENS : post ? HUB_R_TOKEN_ADD : HUB_R_NONE;
	}
	if (strncmp(url, "/v1/tokens/", 11) == 0) {
		if (!op_name_arg(url + 11, arg, arglen))
			return HUB_R_NONE;
		*allow = del ? NULL : "DELETE";
		return del ? HUB_R_TOKEN_DEL : HUB_R_NONE;
	}
	if (strcmp(url, "/v1/agents") == 0 && post)
		return HUB_R_AGENT_ADD;
	if (strncmp(url, "/v1/agents/", 11) != 0)
		return HUB_R_NONE;
	url += 11;
	if ((slash = strchr(url, '/')) == NULL) {
		if (!op_name_arg(url, arg, arglen))
			return HUB_R_NONE;
		*allow = del ? NULL : "DELETE";
		return del ? HUB_R_AGENT_DEL : HUB_R_NONE;
	}
	n = (size_t)(slash - url);
	if (!get || strcmp(slash, "/commands") != 0 || n == 0 || n >= arglen)
		return HUB_R_NONE;   /* POST .../commands: api.c queues */
	memcpy(arg, url, n);
	arg[n] = '\0';
	return hub_name_valid(arg) ? HUB_R_HISTORY : HUB_R_NONE;
}

size_t
hub_op_body_max(enum hub_route r)
{
	return r == HUB_R_TOKEN_ADD || r == HUB_R_AGENT_ADD ? 4096 : 0;
}

/* ---- auth ---- */

/* r->role and r->who set: whether the role may use the route; -1 with a
 * 403 queued. */
static int
op_role_check(struct hub_req *r)
{
	enum hub_role need = op_required(r->route);

	if (r->role >= need && r->role != HUB_ROLE_NONE)
		return 0;
	r->hub->stats.forbidden++;
	log_info("403: token '%s' (%s) may not %s", r->who,
	    hub_role_name(r->role) ? hub_role_name(r->role) : "no role",
	    op_action(r->route));
	hub_respond_error(r, MHD_HTTP_FORBIDDEN, "role %s may not %s (%s or "
	    "better needed)", hub_role_name(r->role) ? hub_role_name(r->role) :
	    "(none)", op_action(r->route), hub_role_name(need));
	return -1;
}

int
hub_op_auth(struct hub_req *r, const unsigned char hash[HUB_HASH_LEN],
    const char **why)
{
	*why = NULL;
	if (CRYPTO_memcmp(hash, r->hub->admin_hash, HUB_HASH_LEN) != 0) {
		/* a stored token: looked up off the loop (api.c) */
		memcpy(r->tok_hash, hash, HUB_HASH_LEN);
		r->op_lookup = true;
		return 0;
	}
	r->role = HUB_ROLE_ADMIN;
	snprintf(r->who, sizeof(r->who), "%s", HUB_ADMIN_FILE_NAME);
	return op_role_check(r);
}

void
hub_call_token(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	j->rc = hub_store_token_by_hash(s, c->hash, c->name, sizeof(c->name),
	    c->role, sizeof(c->role));
}

int
hub_op_auth_done(struct hub_req *r, struct hub_call *c, const char **why)
{
	*why = NULL;
	if (c->job.rc == -1) {
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store error");
		return -1;
	}
	if (c->job.rc == 0) {
		*why = "unknown token";
		return -1;
	}
	snprintf(r->who, sizeof(r->who), "%s", c->name);
	r->role = hub_role_parse(c->role);
	return op_role_check(r);
}

/* ---- handlers ---- */

static cJSON *
op_body(struct hub_req *r)
{
	char err[256];
	cJSON *o = NULL;
	int rc;

	if (r->body.len == 0) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "empty body");
		return NULL;
	}
	rc = hub_json_parse(r->body.data, r->body.len, &o, err, sizeof(err));
	if (rc != HUB_IN_OK || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		hub_respond_error(r, rc == HUB_IN_TOO_BIG ?
		    MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_REQUEST, "%s",
		    rc != HUB_IN_OK ? err : "the body must be a JSON object");
		return NULL;
	}
	return o;
}

/* A new random token and its hash; -1 with a 500 queued (r may be NULL). */
static int
op_new_token(struct hub_req *r, char token[64], unsigned char hash[HUB_HASH_LEN])
{
	if (hub_token_generate(token, 64) == -1) {
		if (r != NULL)
			hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
			    "no randomness");
		return -1;
	}
	hub_token_hash(token, strlen(token), hash);
	return 0;
}

static void
op_whoami(struct hub_req *r)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL) {
		cJSON_AddStringToObject(o, "name", r->who);
		cJSON_AddStringToObject(o, "role", hub_role_name(r->role));
	}
	hub_respond_json(r, MHD_HTTP_OK, o);
}

static int
op_query_int(struct hub_req *r, const char *key, int64_t min, int64_t max,
    int64_t *out)
{
	const char *v = hub_req_query(r, key);

	if (v == NULL || *v == '\0' || parse_int(v, min, max, out) == 0)
		return 0;
	hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "%s must be %lld-%lld", key,
	    (long long)min, (long long)max);
	return -1;
}

/* The store calls of the routes below, on a store worker (store.h). */

void
hub_call_history(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;
	int64_t id = hub_store_agent_by_name(s, c->name);

	c->agent_id = id > 0 ? id : 0;
	j->rc = id > 0 ? 1 : (int)id;
	if (id > 0)
		j->rc = hub_store_commands(s, id, c->page.since, c->page.until,
		    c->page.limit, &c->json) == 0 ? 1 : -1;
}

void
hub_call_tokens(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	j->rc = hub_store_tokens(s, &c->json);
}

void
hub_call_token_add(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	j->rc = hub_store_token_add(s, c->name, c->role, c->hash, c->now_ms);
}

void
hub_call_agent_add(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	j->rc = hub_store_agent_add(s, c->name, c->hash, c->now_ms);
}

void
hub_call_token_remove(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	j->rc = hub_store_token_remove(s, c->name);
}

void
hub_call_agent_remove(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	j->rc = hub_store_agent_remove(s, c->name);
}

static void
op_history(struct hub_req *r, struct hub_call *c)
{
	int64_t limit = OP_HISTORY_DEFAULT, since = 0, until = INT64_MAX;
	cJSON *out;

	if (c == NULL) {
		if (op_query_int(r, "limit", 1, OP_HISTORY_MAX, &limit) == -1 ||
		    op_query_int(r, "since", 0, INT64_MAX, &since) == -1 ||
		    op_query_int(r, "until", 0, INT64_MAX, &until) == -1)
			return;
		if ((c = hub_call_new(hub_call_history)) != NULL) {
			snprintf(c->name, sizeof(c->name), "%.63s", r->arg);
			c->page.since = since;
			c->page.until = until;
			c->page.limit = (int)limit;
		}
		(void)hub_api_call(r, c);
		return;
	}
	if (hub_api_named_done(r, c) == 0) {
		if (c->job.rc < 0) {
			hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
			    "store error");
		} else {
			out = c->json;
			c->json = NULL;
			hub_respond_json(r, MHD_HTTP_OK, out);
		}
	}
	hub_call_free(c);
}

static void
op_tokens(struct hub_req *r, struct hub_call *c)
{
	cJSON *out, *e;

	if (c == NULL) {
		(void)hub_api_call(r, hub_call_new(hub_call_tokens));
		return;
	}
	out = c->json;
	c->json = NULL;
	if (c->job.rc == -1 || out == NULL) {
		hub_call_free(c);
		cJSON_Delete(out);
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		return;
	}
	hub_call_free(c);
	cJSON_ArrayForEach(e, out) {
		cJSON *cr = cJSON_GetObjectItemCaseSensitive(e, "created_ms");
		char ts[40];

		hub_rfc3339(cJSON_IsNumber(cr) ? (uint64_t)cr->valuedouble : 0, ts,
		    sizeof(ts));
		cJSON_DeleteItemFromObjectCaseSensitive(e, "created_ms");
		cJSON_AddStringToObject(e, "created", ts);
	}
	hub_respond_json(r, MHD_HTTP_OK, out);
}

/* The name field of a management body, checked; NULL with a 400 queued. */
static const char *
op_body_name(struct hub_req *r, cJSON *body)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "name");

	if (!cJSON_IsString(n) || !hub_name_valid(n->valuestring)) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "name must be 1-63 "
		    "characters of A-Za-z0-9_.-");
		return NULL;
	}
	return n->valuestring;
}

/* POST /v1/tokens {"name", "role"} and POST /v1/agents {"name"}: 201
 * with the new token, which is shown this once. */
static void
op_add(struct hub_req *r, struct hub_call *c)
{
	bool token = r->route == HUB_R_TOKEN_ADD;
	const char *name;
	enum hub_role role = HUB_ROLE_NONE;
	cJSON *body, *o;

	if (c != NULL)
		goto done;
	if ((body = op_body(r)) == NULL)
		return;
	if ((name = op_body_name(r, body)) == NULL)
		goto out;
	if (token) {
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, "role");

		role = hub_role_parse(cJSON_IsString(j) ? j->valuestring : NULL);
		if (role == HUB_ROLE_NONE) {
			hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "role must be "
			    "viewer, operator or admin");
			goto out;
		}
		if (strcmp(name, HUB_ADMIN_FILE_NAME) == 0) {
			hub_respond_error(r, MHD_HTTP_CONFLICT, "'%s' is the admin "
			    "token file's name", name);
			goto out;
		}
	}
	if ((c = hub_call_new(token ? hub_call_token_add :
	    hub_call_agent_add)) != NULL) {
		if (op_new_token(r, c->token, c->hash) == -1) {
			hub_call_free(c);
			goto out;
		}
		snprintf(c->name, sizeof(c->name), "%s", name);
		snprintf(c->role, sizeof(c->role), "%s",
		    token ? hub_role_name(role) : "");
		c->now_ms = wall_ms();
	}
	(void)hub_api_call(r, c);
out:
	cJSON_Delete(body);
	return;
done:
	if (c->job.rc != 0) {
		if (c->job.rc == 1)
			hub_respond_error(r, MHD_HTTP_CONFLICT, "'%s' exists", c->name);
		else
			hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
			    "store error");
		hub_call_free(c);
		return;
	}
	log_info("%s '%s' added by '%s'", token ? "token" : "agent", c->name,
	    r->who);
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(o, "name", c->name);
		if (token)
			cJSON_AddStringToObject(o, "role", c->role);
		cJSON_AddStringToObject(o, "token", c->token);
	}
	hub_call_free(c);   /* wipes the token */
	hub_respond_json(r, MHD_HTTP_CREATED, o);
}

static void
op_remove(struct hub_req *r, struct hub_call *c)
{
	bool token = r->route == HUB_R_TOKEN_DEL;
	int rc;
	cJSON *o;

	if (c == NULL) {
		if ((c = hub_call_new(token ? hub_call_token_remove :
		    hub_call_agent_remove)) != NULL)
			snprintf(c->name, sizeof(c->name), "%.63s", r->arg);
		(void)hub_api_call(r, c);
		return;
	}
	rc = c->job.rc;
	hub_call_free(c);
	if (rc == 1) {
		hub_respond_error(r, MHD_HTTP_NOT_FOUND, "no %s '%s'",
		    token ? "token" : "agent", r->arg);
		return;
	}
	if (rc == -1) {
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		return;
	}
	log_info("%s '%s' removed by '%s'", token ? "token" : "agent", r->arg,
	    r->who);
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddStringToObject(o, "removed", r->arg);
	hub_respond_json(r, MHD_HTTP_OK, o);
}

/* ---- GET samples ?wait=: the console's live charts long-poll ---- */

int
hub_op_samples_wait(struct hub_req *r)
{
	return hub_api_wait(r, HUB_COMMAND_WAIT_MAX);
}

bool
hub_op_samples_hold(struct hub_req *r, size_t rows_len)
{
	struct hub *h = r->hub;
	uint64_t now = loop_now_ms(h->loop);

	/* "[]": nothing matches yet */
	if (rows_len > 2 || h->draining || now >= r->deadline_ms ||
	    r->wake == HUB_WAKE_TIMEOUT)
		return false;
	hub_req_suspend(r, r->deadline_ms - now);
	return true;
}

/* A batch of this agent was stored: on this node, or on another node of
 * a PostgreSQL group (NOTIFY 's:NAME', through hub_store_watch). */
void
hub_op_samples_wake(struct hub *h, const char *agent)
{
	struct hub_req *r, *next;

	for (r = h->cmd_waiters; r != NULL; r = next) {
		next = r->cw_next;
		if (r->route == HUB_R_SAMPLES && strcmp(r->arg, agent) == 0)
			hub_req_wake(r, HUB_WAKE_EVENT);
	}
}

/* GET /v1/agents: adds "online" (= "polling") and, from the store row of
 * hub_store_agents(), the newest batch's "last_batch", "dropped_samples"
 * and "counters" (null without a batch). */
static void
op_agent_more(cJSON *o, const cJSON *row)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "polling");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(row, "batch_ms");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(row, "dropped_samples");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(row, "counters");
	const cJSON *ls = cJSON_GetObjectItemCaseSensitive(row, "last_seen_ms");
	uint64_t now = wall_ms();
	char ts[40];

	/* Polling here, or seen by any node of a group lately: each node
	 * stores last_seen every 10 s, so the store lags by that much. */
	cJSON_AddBoolToObject(o, "online", cJSON_IsTrue(p) || (cJSON_IsNumber(ls) &&
	    (double)now - ls->valuedouble < OP_ONLINE_STORED_MS));
	if (cJSON_IsNumber(b)) {
		hub_rfc3339((uint64_t)b->valuedouble, ts, sizeof(ts));
		cJSON_AddStringToObject(o, "last_batch", ts);
	} else {
		cJSON_AddNullToObject(o, "last_batch");
	}
	cJSON_AddItemToObject(o, "dropped_samples", cJSON_IsNumber(d) ?
	    cJSON_CreateNumber(d->valuedouble) : cJSON_CreateNull());
	/* raw JSON text as the agent sent it (kept exact) */
	if (c != NULL && c->type == cJSON_Raw)
		cJSON_AddRawToObject(o, "counters", c->valuestring);
	else
		cJSON_AddNullToObject(o, "counters");
}

/* GET /v1/agents: the store's rows and this node's view of each agent. */
void
hub_op_agents(struct hub_req *r, struct hub_call *c)
{
	struct hub *h = r->hub;
	uint64_t wall = wall_ms();
	cJSON *rows, *out, *e;

	if (c == NULL) {
		(void)hub_api_call(r, hub_call_new(hub_call_agents));
		return;
	}
	rows = c->json;
	c->json = NULL;
	hub_call_free(c);
	if (rows == NULL || (out = cJSON_CreateArray()) == NULL) {
		cJSON_Delete(rows);
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		return;
	}
	cJSON_ArrayForEach(e, rows) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
		const cJSON *ls = cJSON_GetObjectItemCaseSensitive(e, "last_seen_ms");
		const cJSON *ver = cJSON_GetObjectItemCaseSensitive(e, "version");
		const cJSON *addr = cJSON_GetObjectItemCaseSensitive(e, "address");
		struct hub_agent *a = hub_agent_find(h, (int64_t)id->valuedouble);
		uint64_t seen = cJSON_IsNumber(ls) ? (uint64_t)ls->valuedouble : 0;
		const char *v = cJSON_IsString(ver) ? ver->valuestring : NULL;
		const char *ad = cJSON_IsString(addr) ? addr->valuestring : NULL;
		cJSON *o = cJSON_CreateObject();
		char ts[40];

		if (o == NULL)
			break;
		cJSON_AddItemToArray(out, o);
		if (a != NULL) {
			if (a->last_seen_ms > seen)
				seen = a->last_seen_ms;
			if (a->version[0] != '\0')
				v = a->version;
			if (a->address[0] != '\0')
				ad = a->address;
		}
		cJSON_AddStringToObject(o, "name",
		    cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring);
		if (seen > 0) {
			hub_rfc3339(seen, ts, sizeof(ts));
			cJSON_AddStringToObject(o, "last_seen", ts);
		} else {
			cJSON_AddNullToObject(o, "last_seen");
		}
		if (v != NULL)
			cJSON_AddStringToObject(o, "version", v);
		else
			cJSON_AddNullToObject(o, "version");
		if (ad != NULL)
			cJSON_AddStringToObject(o, "address", ad);
		else
			cJSON_AddNullToObject(o, "address");
		cJSON_AddBoolToObject(o, "polling", a != NULL && (a->poll != NULL ||
		    (a->last_seen_ms > 0 && wall - a->last_seen_ms <
		    OP_POLLING_RECENT_MS)));
		op_agent_more(o, e);   /* online, last batch's counters */
	}
	cJSON_Delete(rows);
	hub_respond_json(r, MHD_HTTP_OK, out);
}

void
hub_op_handle(struct hub_req *r, struct hub_call *c)
{
	switch (r->route) {
	case HUB_R_WHOAMI:
		op_whoami(r);
		break;
	case HUB_R_HISTORY:
		op_history(r, c);
		break;
	case HUB_R_TOKENS:
		op_tokens(r, c);
		break;
	case HUB_R_TOKEN_ADD:
	case HUB_R_AGENT_ADD:
		op_add(r, c);
		break;
	case HUB_R_TOKEN_DEL:
	case HUB_R_AGENT_DEL:
		op_remove(r, c);
		break;
	case HUB_R_METRICS:
		hub_metrics_handle(r, c);
		break;
	default:
		hub_respond_error(r, MHD_HTTP_NOT_FOUND, "not found");
		break;
	}
}

/* ---- outpost-hub add-token, remove-token, list-tokens ---- */

int
hub_cmd_add_token(const struct hub_config *hc, const char *name,
    const char *role)
{
	unsigned char hash[HUB_HASH_LEN];
	struct hub_store *s;
	char token[64];
	int rc;

	if (!hub_name_valid(name)) {
		fprintf(stderr, "outpost-hub: token name '%.80s' is invalid: 1-63 "
		    "characters of A-Za-z0-9_.-\n", name);
		return 1;
	}
	if (strcmp(name, HUB_ADMIN_FILE_NAME) == 0) {
		fprintf(stderr, "outpost-hub: '%s' is the admin token file's name; "
		    "pick another\n", name);
		return 1;
	}
	if (hub_role_parse(role) == HUB_ROLE_NONE) {
		fprintf(stderr, "outpost-hub: role '%.40s' is not viewer, operator "
		    "or admin\n", role);
		return 1;
	}
	if ((s = hub_cli_store(hc)) == NULL)
		return 1;
	if (op_new_token(NULL, token, hash) == -1) {
		fprintf(stderr, "outpost-hub: getrandom: %s\n", strerror(errno));
		hub_store_close(s);
		return 1;
	}
	rc = hub_store_token_add(s, name, role, hash, wall_ms());
	if (rc == 0) {
		/* stdout holds the token alone: `add-token x > file` */
		printf("%s\n", token);
		fflush(stdout);
		fprintf(stderr, "token '%s' (%s) added. It is printed once and "
		    "stored only as a hash.\n", name, role);
	} else if (rc == 1) {
		fprintf(stderr, "outpost-hub: token '%s' exists (remove-token "
		    "first)\n", name);
	} else {
		fprintf(stderr, "outpost-hub: %s\n", hub_store_errmsg(s));
	}
	explicit_bzero(token, sizeof(token));
	hub_store_close(s);
	return rc == 0 ? 0 : 1;
}

int
hub_cmd_remove_token(const struct hub_config *hc, const char *name)
{
	struct hub_store *s;
	int rc;

	if ((s = hub_cli_store(hc)) == NULL)
		return 1;
	rc = hub_store_token_remove(s, name);
	hub_store_close(s);
	if (rc == 1)
		fprintf(stderr, "outpost-hub: no token '%s'\n", name);
	else if (rc == 0)
		fprintf(stderr, "token '%s' removed; it no longer works\n", name);
	return rc == 0 ? 0 : 1;
}

int
hub_cmd_list_tokens(const struct hub_config *hc)
{
	struct hub_store *s;
	cJSON *arr, *e;

	if ((s = hub_cli_store(hc)) == NULL)
		return 1;
	if (hub_store_tokens(s, &arr) == -1) {
		fprintf(stderr, "outpost-hub: %s\n", hub_store_errmsg(s));
		hub_store_close(s);
		return 1;
	}
	cJSON_ArrayForEach(e, arr) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "created_ms");
		char ts[40];

		hub_rfc3339(cJSON_IsNumber(c) ? (uint64_t)c->valuedouble : 0, ts,
		    sizeof(ts));
		printf("%-24s %-9s %s\n",
		    cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring,
		    cJSON_GetObjectItemCaseSensitive(e, "role")->valuestring, ts);
	}
	cJSON_Delete(arr);
	hub_store_close(s);
	return 0;
}
