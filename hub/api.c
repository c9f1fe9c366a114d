/*
 * The endpoints of docs/protocol.md: routing, bearer auth, the agent's
 * long poll and uploads, the operator API, and the once-a-second
 * housekeeping (expiry, lease redelivery, last_seen, retention).
 */
#include "hub/hub_int.h"

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_POLLING_RECENT_MS 30000   /* "polling": a poll ended this recently */
#define API_FLUSH_EVERY_MS    10000   /* last_seen to the store */
#define API_CLEANUP_EVERY_MS  600000
#define API_CLEANUP_ROWS      5000    /* per table and turn: short pauses */
#define API_SAMPLES_LIMIT_MAX 1000    /* GET samples?limit= */
#define API_SHED_HINT_MIN     10000   /* ... and when too many are held */
#define API_SHED_HINT_MAX     30000

/* ---- routing ---- */

/* "/v1/agents/NAME/rest": the name into arg, rest returned. */
static const char *
api_path_arg(const char *p, char *arg, size_t arglen, size_t max)
{
	const char *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);

	if (n == 0 || n > max || n >= arglen)
		return NULL;
	memcpy(arg, p, n);
	arg[n] = '\0';
	if (!hub_id_valid(arg, max))
		return NULL;
	return p + n;
}

enum hub_route
hub_api_route(const char *method, const char *url, char *arg, size_t arglen,
    const char **allow)
{
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	enum hub_route r = HUB_R_NONE;
	const char *rest;
	bool want_get = true;

	*allow = NULL;
	arg[0] = '\0';
	if (strcmp(url, "/healthz") == 0) {
		r = HUB_R_HEALTHZ;
	} else if (strcmp(url, "/v1/agent/commands") == 0) {
		r = HUB_R_POLL;
	} else if (strcmp(url, "/v1/agent/results") == 0) {
		r = HUB_R_RESULTS;
		want_get = false;
	} else if (strcmp(url, "/v1/agents") == 0) {
		r = HUB_R_AGENTS;
	} else if (strncmp(url, "/v1/agents/", 11) == 0) {
		rest = api_path_arg(url + 11, arg, arglen, HUB_NAME_MAX);
		if (rest == NULL)
			return HUB_R_NONE;
		if (strcmp(rest, "/commands") == 0) {
			r = HUB_R_CMD_POST;
			want_get = false;
		} else if (strcmp(rest, "/devices") == 0) {
			r = HUB_R_DEVICES;
		} else if (strcmp(rest, "/samples") == 0) {
			r = HUB_R_SAMPLES;
		}
	} else if (strncmp(url, "/v1/commands/", 13) == 0) {
		rest = api_path_arg(url + 13, arg, arglen, HUB_ID_MAX);
		if (rest != NULL && *rest == '\0')
			r = HUB_R_CMD_GET;
	}
	if (r == HUB_R_NONE)
		return HUB_R_NONE;
	if (want_get ? get : post)
		return r;
	*allow = want_get ? "GET" : "POST";
	return HUB_R_NONE;
}

size_t
hub_api_body_max(enum hub_route r)
{
	switch (r) {
	case HUB_R_RESULTS:
		return PROTO_UPLOAD_MAX_WIRE;
	case HUB_R_CMD_POST:
		return PROTO_COMMAND_MAX_BYTES;
	default:
		return 0;
	}
}

/* ---- auth ---- */

static bool
api_agent_route(enum hub_route r)
{
	return r == HUB_R_POLL || r == HUB_R_RESULTS;
}

static void
api_unauthorized(struct hub_req *r, const char *why)
{
	char peer[64];

	hub_req_peer(r, peer, sizeof(peer));
	log_complain(&r->hub->auth_complain, loop_now_ms(r->hub->loop),
	    LOG_LVL_WARN, "401 for %s: %s", peer[0] ? peer : "?", why);
	hub_respond_error(r, MHD_HTTP_UNAUTHORIZED, "%s", why);
}

/* "outpost/0.1.0 ..." -> "0.1.0" */
static void
api_user_agent_version(const char *ua, char *out, size_t outlen)
{
	size_t n = 0;

	if (ua == NULL || strncmp(ua, "outpost/", 8) != 0)
		return;
	ua += 8;
	while (n + 1 < outlen && ua[n] != '\0' && ua[n] != ' ' &&
	    (strchr(".-+~_", ua[n]) != NULL ||
	    (ua[n] >= '0' && ua[n] <= '9') || (ua[n] >= 'a' && ua[n] <= 'z') ||
	    (ua[n] >= 'A' && ua[n] <= 'Z')))
		n++;
	if (n > 0 && (ua[n] == '\0' || ua[n] == ' ')) {
		memcpy(out, ua, n);
		out[n] = '\0';
	}
}

static void
api_touch(struct hub_req *r)
{
	struct hub_agent *a = r->agent;

	a->last_seen_ms = wall_ms();
	hub_req_peer(r, a->address, sizeof(a->address));
	api_user_agent_version(hub_req_header(r, MHD_HTTP_HEADER_USER_AGENT),
	    a->version, sizeof(a->version));
	a->dirty = true;
}

int
hub_api_auth(struct hub_req *r)
{
	struct hub *h = r->hub;
	unsigned char hash[HUB_HASH_LEN];
	char name[HUB_NAME_MAX + 1];
	const char *a, *tok;
	int64_t id;

	if (r->route == HUB_R_HEALTHZ)
		return 0;
	a = hub_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (a == NULL) {
		api_unauthorized(r, "missing Authorization: Bearer token");
		return -1;
	}
	if (strncasecmp(a, "Bearer ", 7) != 0) {
		api_unauthorized(r, "Authorization is not a Bearer token");
		return -1;
	}
	for (tok = a + 7; *tok == ' '; tok++)
		;
	if (!proto_token_valid(tok, strlen(tok))) {
		api_unauthorized(r, "malformed token");
		return -1;
	}
	hub_token_hash(tok, strlen(tok), hash);
	if (!api_agent_route(r->route)) {
		if (CRYPTO_memcmp(hash, h->admin_hash, HUB_HASH_LEN) != 0) {
			api_unauthorized(r, "not the admin token");
			return -1;
		}
		return 0;
	}
	id = hub_store_agent_by_token(h->store, hash, name, sizeof(name));
	if (id < 0) {
		/* The store is away (a database across the network): the
		 * agent retries later. */
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store error");
		return -1;
	}
	if (id == 0) {
		api_unauthorized(r, "unknown agent token");
		return -1;
	}
	if ((r->agent = hub_agent_get(h, id, name)) == NULL) {
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
		return -1;
	}
	api_touch(r);
	return 0;
}

/* ---- agent API ---- */

static uint32_t
api_jitter(uint32_t lo, uint32_t hi)
{
	uint32_t v;

	if (platform_random(&v, sizeof(v)) == -1)
		v = (uint32_t)mono_us();
	return lo + v % (hi - lo + 1);
}

/* The poll wait an agent asked for (wait=, capped at max_poll_wait);
 * the longest one when it asked for an answer at once. */
static uint32_t
api_poll_wait_ms(struct hub_req *r)
{
	uint64_t max = r->hub->cfg->max_poll_wait, ms = max;
	const char *w = hub_req_query(r, "wait");
	int64_t wait = 0;

	if (w != NULL && parse_int(w, 0, HUB_POLL_WAIT_MAX, &wait) == 0 &&
	    wait > 0 && (uint64_t)wait * 1000 < max)
		ms = (uint64_t)wait * 1000;
	return ms > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)ms;
}

static void
api_poll_answer(struct hub_req *r, int64_t cursor, const struct hub_buf *cmds,
    uint32_t next_poll_ms)
{
	struct hub_buf b;
	char head[96], tail[64];

	snprintf(head, sizeof(head), "{\"cursor\":\"%lld\",\"commands\":[",
	    (long long)cursor);
	snprintf(tail, sizeof(tail), "],\"next_poll_ms\":%u}", next_poll_ms);
	/* A connection that has lived this poll's wait ends here: every
	 * agent reconnects (through the balancer) about once a poll wait. */
	if (hub_conn_age_ms(r) >= api_poll_wait_ms(r))
		r->close = true;
	hub_buf_init(&b, HUB_POLL_MAX_BYTES + 256);
	if (hub_buf_str(&b, head) == -1 ||
	    (cmds != NULL && cmds->len > 0 &&
	    hub_buf_add(&b, cmds->data, cmds->len) == -1) ||
	    hub_buf_str(&b, tail) == -1) {
		hub_buf_free(&b);
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	hub_respond(r, MHD_HTTP_OK, "application/json", b.data, b.len);
}

static void
api_poll(struct hub_req *r)
{
	struct hub *h = r->hub;
	struct hub_agent *a = r->agent;
	uint64_t now = loop_now_ms(h->loop);
	struct hub_poll p = { 0 };

	if (!r->held) {
		const char *w = hub_req_query(r, "wait");
		const char *ack = hub_req_query(r, "ack");
		int64_t wait = 0;
		uint64_t wait_ms;

		if (w != NULL && *w != '\0' &&
		    parse_int(w, 0, HUB_POLL_WAIT_MAX, &wait) == -1) {
			hub_respond_error(r, MHD_HTTP_BAD_REQUEST,
			    "wait must be 0-%d seconds", HUB_POLL_WAIT_MAX);
			return;
		}
		if (ack != NULL && *ack == '\0')
			ack = NULL;
		if (ack != NULL && !hub_id_valid(ack, PROTO_CURSOR_MAX)) {
			hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "ack must be at "
			    "most %d characters of A-Za-z0-9_.-", PROTO_CURSOR_MAX);
			return;
		}
		wait_ms = (uint64_t)wait * 1000;
		if (wait_ms > h->cfg->max_poll_wait)
			wait_ms = h->cfg->max_poll_wait;
		r->deadline_ms = now + wait_ms;
		/* One held poll per agent: an older one is a connection the
		 * agent gave up on (restart, timeout) and must not take
		 * commands. */
		if (a->poll != NULL && a->poll != r)
			hub_req_wake(a->poll, HUB_WAKE_SUPERSEDED);
		p.ack = ack;
	}
	if (h->draining) {
		if (p.ack != NULL) {
			/* Still record the ack: the agent did get those. */
			p.now_ms = wall_ms();
			p.max_bytes = 1;
			if (hub_store_poll(h->store, a->id, &p) == 0)
				hub_buf_free(&p.commands);
		}
		/* Spread over the agent's poll wait, not a fixed few seconds:
		 * the drained node's agents reach the others at the steady
		 * rate, not in one bunch that stays in phase. */
		r->close = true;
		api_poll_answer(r, 0, NULL, api_jitter(0, api_poll_wait_ms(r)));
		return;
	}
	if (r->wake == HUB_WAKE_SUPERSEDED) {
		api_poll_answer(r, 0, NULL, 0);
		return;
	}
	p.now_ms = wall_ms();
	p.lease_ms = h->cfg->command_lease;
	p.max_commands = HUB_POLL_MAX_COMMANDS;
	p.max_bytes = HUB_POLL_MAX_BYTES;
	if (hub_store_poll(h->store, a->id, &p) == -1) {
		log_complain(&h->store_complain, now, LOG_LVL_ERROR,
		    "store: cannot read commands: %s", hub_store_errmsg(h->store));
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store error");
		return;
	}
	if (p.ncommands > 0) {
		log_debug("agent %s: %zu commands delivered (cursor %lld)", a->name,
		    p.ncommands, (long long)p.cursor);
		api_poll_answer(r, p.cursor, &p.commands, 0);
		hub_buf_free(&p.commands);
		return;
	}
	hub_buf_free(&p.commands);
	if (now >= r->deadline_ms || r->wake == HUB_WAKE_TIMEOUT) {
		api_poll_answer(r, 0, NULL, 0);
		return;
	}
	if (h->shed_at > 0 && h->nheld >= h->shed_at) {
		/* Near max_connections: hold no more, ask to come back later
		 * (jittered, so they do not all return at once). */
		log_complain(&h->shed_complain, now, LOG_LVL_WARN, "%zu polls held: "
		    "answering new ones at once (max_connections)", h->nheld);
		api_poll_answer(r, 0, NULL, api_jitter(API_SHED_HINT_MIN,
		    API_SHED_HINT_MAX));
		return;
	}
	a->poll = r;
	hub_req_suspend(r, r->deadline_ms - now);
}

static void
api_command_done_cb(const char *id, void *arg)
{
	hub_api_command_changed(arg, id);
}

static int
api_ingest_status(int rc)
{
	return rc == HUB_IN_TOO_BIG ? MHD_HTTP_CONTENT_TOO_LARGE :
	    MHD_HTTP_BAD_REQUEST;
}

static void
api_results(struct hub_req *r)
{
	struct hub *h = r->hub;
	const char *ce = hub_req_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING);
	char err[256], *json = NULL;
	size_t jlen = 0;
	cJSON *batch = NULL, *o;
	int64_t batch_id;
	bool stored;
	int rc;

	if (ce == NULL || strcasecmp(ce, "gzip") != 0) {
		hub_respond_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "Content-Encoding: gzip is required");
		return;
	}
	if (r->body.len == 0) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "empty body");
		return;
	}
	rc = proto_gunzip(r->body.data, r->body.len, PROTO_UPLOAD_MAX_JSON, &json,
	    &jlen, err, sizeof(err));
	/* The compressed body is not needed any more. */
	h->upload_bytes -= r->budget;
	r->budget = 0;
	hub_buf_free(&r->body);
	if (rc == HUB_IN_OK) {
		rc = hub_json_parse(json, jlen, &batch, err, sizeof(err));
		free(json);
	}
	if (rc != HUB_IN_OK) {
		log_info("agent %s: batch refused: %s", r->agent->name, err);
		hub_respond_error(r, (unsigned)api_ingest_status(rc), "%s", err);
		return;
	}
	if (proto_batch_check(batch, &batch_id, err, sizeof(err)) != PROTO_OK) {
		cJSON_Delete(batch);
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
		return;
	}
	if (hub_store_batch(h->store, r->agent->id, batch, batch_id, wall_ms(),
	    &stored, api_command_done_cb, h) == -1) {
		cJSON_Delete(batch);
		log_complain(&h->store_complain, loop_now_ms(h->loop), LOG_LVL_ERROR,
		    "store: cannot store a batch: %s", hub_store_errmsg(h->store));
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store error");
		return;
	}
	log_debug("agent %s: batch %lld %s", r->agent->name, (long long)batch_id,
	    stored ? "stored" : "was stored before");
	cJSON_Delete(batch);
	if ((o = cJSON_CreateObject()) != NULL) {
		char idtxt[24];

		/* As an integer: a double would print 2^53-1 rounded. */
		snprintf(idtxt, sizeof(idtxt), "%lld", (long long)batch_id);
		cJSON_AddRawToObject(o, "batch_id", idtxt);
		cJSON_AddBoolToObject(o, "stored", stored);
	}
	hub_respond_json(r, MHD_HTTP_OK, o);
}

/* ---- operator API ---- */

static int64_t
api_agent_by_name(struct hub_req *r)
{
	int64_t id = hub_store_agent_by_name(r->hub->store, r->arg);

	if (id < 0)
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
	else if (id == 0)
		hub_respond_error(r, MHD_HTTP_NOT_FOUND, "no agent '%s'", r->arg);
	return id;
}

static void
api_command_post(struct hub_req *r)
{
	struct hub *h = r->hub;
	char err[256], id[33], created[40], *txt;
	cJSON *cmd = NULL, *o;
	uint64_t now;
	int64_t agent_id;
	struct hub_agent *a;
	int rc;

	if (h->draining) {
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "draining");
		return;
	}
	if (r->body.len == 0) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "empty body");
		return;
	}
	rc = hub_json_parse(r->body.data, r->body.len, &cmd, err, sizeof(err));
	if (rc != HUB_IN_OK) {
		hub_respond_error(r, (unsigned)api_ingest_status(rc), "%s", err);
		return;
	}
	/* The agent's own check (protocol/): what is queued, it will run. */
	if (proto_command_check(cmd, err, sizeof(err)) == -1) {
		cJSON_Delete(cmd);
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
		return;
	}
	if ((agent_id = api_agent_by_name(r)) <= 0) {
		cJSON_Delete(cmd);
		return;
	}
	if (hub_random_id(id) == -1) {
		cJSON_Delete(cmd);
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no randomness");
		return;
	}
	now = wall_ms();
	hub_rfc3339(now, created, sizeof(created));
	/* The hub names the command; an id or created given is replaced. */
	cJSON_DeleteItemFromObjectCaseSensitive(cmd, "id");
	cJSON_DeleteItemFromObjectCaseSensitive(cmd, "created");
	cJSON_AddStringToObject(cmd, "id", id);
	cJSON_AddStringToObject(cmd, "created", created);
	txt = cJSON_PrintUnformatted(cmd);
	if (txt == NULL || strlen(txt) > PROTO_COMMAND_MAX_BYTES) {
		cJSON_free(txt);
		cJSON_Delete(cmd);
		hub_respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		    "command larger than %u bytes", PROTO_COMMAND_MAX_BYTES);
		return;
	}
	rc = hub_store_command_add(h->store, agent_id, id,
	    cJSON_GetObjectItemCaseSensitive(cmd, "type")->valuestring, txt, now,
	    now + h->cfg->command_ttl);
	cJSON_free(txt);
	cJSON_Delete(cmd);
	if (rc == -1) {
		log_complain(&h->store_complain, loop_now_ms(h->loop), LOG_LVL_ERROR,
		    "store: cannot queue a command: %s", hub_store_errmsg(h->store));
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		return;
	}
	log_debug("command %s queued for %s", id, r->arg);
	if ((a = hub_agent_find(h, agent_id)) != NULL && a->poll != NULL)
		hub_req_wake(a->poll, HUB_WAKE_EVENT);
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddStringToObject(o, "id", id);
	hub_respond_json(r, MHD_HTTP_CREATED, o);
}

static void
api_command_get(struct hub_req *r)
{
	struct hub *h = r->hub;
	uint64_t now = loop_now_ms(h->loop);
	cJSON *o;
	bool final;
	int rc;

	if (!r->held) {
		const char *w = hub_req_query(r, "wait");
		int64_t wait = 0;

		if (w != NULL && *w != '\0' &&
		    parse_int(w, 0, HUB_COMMAND_WAIT_MAX, &wait) == -1) {
			hub_respond_error(r, MHD_HTTP_BAD_REQUEST,
			    "wait must be 0-%d seconds", HUB_COMMAND_WAIT_MAX);
			return;
		}
		r->deadline_ms = now + (uint64_t)wait * 1000;
	}
	rc = hub_store_command_get(h->store, r->arg, &o, &final);
	if (rc == 1) {
		hub_respond_error(r, MHD_HTTP_NOT_FOUND, "no command '%s'", r->arg);
		return;
	}
	if (rc == -1) {
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		return;
	}
	if (final || h->draining || now >= r->deadline_ms ||
	    r->wake == HUB_WAKE_TIMEOUT) {
		hub_respond_json(r, MHD_HTTP_OK, o);
		return;
	}
	cJSON_Delete(o);
	hub_req_suspend(r, r->deadline_ms - now);
}

void
hub_api_command_changed(struct hub *h, const char *id)
{
	struct hub_req *r = h->cmd_waiters, *next;

	for (; r != NULL; r = next) {
		next = r->cw_next;
		if (strcmp(r->arg, id) == 0)
			hub_req_wake(r, HUB_WAKE_EVENT);
	}
}

/* An event from the store, from this node or another one sharing the
 * database: wake the poll or the operators waiting for it here. */
void
hub_api_store_event(int kind, const char *id, void *arg)
{
	struct hub *h = arg;
	struct hub_agent *a;
	int64_t agent;

	if (kind == 'c')
		hub_api_command_changed(h, id);
	else if (parse_int(id, 1, INT64_MAX, &agent) == 0 &&
	    (a = hub_agent_find(h, agent)) != NULL && a->poll != NULL)
		hub_req_wake(a->poll, HUB_WAKE_EVENT);
}

static void
api_agents(struct hub_req *r)
{
	struct hub *h = r->hub;
	uint64_t wall = wall_ms();
	cJSON *rows, *out, *e;

	if (hub_store_agents(h->store, &rows) == -1 ||
	    (out = cJSON_CreateArray()) == NULL) {
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
		    API_POLLING_RECENT_MS)));
	}
	cJSON_Delete(rows);
	hub_respond_json(r, MHD_HTTP_OK, out);
}

/* since, until, limit and cursor of GET samples (docs/protocol.md). */
static int
api_samples_page(struct hub_req *r, struct hub_samples_page *pg)
{
	const char *since = hub_req_query(r, "since");
	const char *until = hub_req_query(r, "until");
	const char *limit = hub_req_query(r, "limit");
	const char *cursor = hub_req_query(r, "cursor");
	int64_t n = HUB_SAMPLES_MAX;
	char *dot;

	memset(pg, 0, sizeof(*pg));
	pg->until = INT64_MAX;
	if ((since != NULL && parse_int(since, 0, INT64_MAX, &pg->since) == -1) ||
	    (until != NULL && parse_int(until, 0, INT64_MAX, &pg->until) == -1)) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "since and until must be "
		    "times in ms since 1970 (the samples' ts)");
		return -1;
	}
	if (limit != NULL && parse_int(limit, 1, API_SAMPLES_LIMIT_MAX, &n) == -1) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "limit must be 1-%d",
		    API_SAMPLES_LIMIT_MAX);
		return -1;
	}
	pg->limit = (int)n;
	if (cursor != NULL) {
		char buf[48];

		snprintf(buf, sizeof(buf), "%s", cursor);
		dot = strchr(buf, '.');
		if (strlen(cursor) >= sizeof(buf) || dot == NULL ||
		    (*dot = '\0', parse_int(buf, 0, INT64_MAX, &pg->before_ts)) == -1 ||
		    parse_int(dot + 1, 1, INT64_MAX, &pg->before_id) == -1) {
			hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "cursor must be a "
			    "Next-Cursor value of an earlier answer");
			return -1;
		}
	}
	return 0;
}

static void
api_list(struct hub_req *r)
{
	struct hub *h = r->hub;
	struct hub_samples_page pg;
	char device[300];
	struct hub_buf b;
	int64_t id;
	int rc;

	if (r->route == HUB_R_SAMPLES) {
		const char *d = hub_req_query(r, "device");

		if (d == NULL || hub_device_normalize(d, device, sizeof(device)) == -1) {
			hub_respond_error(r, MHD_HTTP_BAD_REQUEST,
			    "device=ADDRESS[:PORT] is required");
			return;
		}
	}
	if (r->route == HUB_R_SAMPLES && api_samples_page(r, &pg) == -1)
		return;
	if ((id = api_agent_by_name(r)) <= 0)
		return;
	if (r->route == HUB_R_SAMPLES) {
		rc = hub_store_samples(h->store, id, device, &pg, &b);
		if (rc == 0 && pg.more)
			snprintf(r->next_cursor, sizeof(r->next_cursor), "%lld.%lld",
			    (long long)pg.last_ts, (long long)pg.last_id);
	} else {
		rc = hub_store_devices(h->store, id, &b);
	}
	if (rc == -1) {
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		return;
	}
	hub_respond(r, MHD_HTTP_OK, "application/json", b.data, b.len);
}

void
hub_api_handle(struct hub_req *r)
{
	struct hub *h = r->hub;

	switch (r->route) {
	case HUB_R_HEALTHZ:
		if (h->draining)
			hub_respond(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			    strdup("draining\n"), 9);
		else
			hub_respond(r, MHD_HTTP_OK, "text/plain", strdup("ok\n"), 3);
		break;
	case HUB_R_POLL:
		api_touch(r);
		api_poll(r);
		break;
	case HUB_R_RESULTS:
		api_results(r);
		break;
	case HUB_R_CMD_POST:
		api_command_post(r);
		break;
	case HUB_R_CMD_GET:
		api_command_get(r);
		break;
	case HUB_R_AGENTS:
		api_agents(r);
		break;
	case HUB_R_DEVICES:
	case HUB_R_SAMPLES:
		api_list(r);
		break;
	case HUB_R_NONE:
		hub_respond_error(r, MHD_HTTP_NOT_FOUND, "not found");
		break;
	}
}

/* ---- housekeeping ---- */

static void
api_lease_cb(int64_t agent_id, void *arg)
{
	struct hub_agent *a = hub_agent_find(arg, agent_id);

	if (a != NULL && a->poll != NULL)
		hub_req_wake(a->poll, HUB_WAKE_EVENT);
}

void
hub_api_tick_flush(struct hub *h)
{
	bool begun = false;

	for (size_t b = 0; b < HUB_AGENT_BUCKETS; b++) {
		for (struct hub_agent *a = h->agents[b]; a != NULL; a = a->next) {
			if (!a->dirty)
				continue;
			if (!begun && hub_store_begin(h->store) == -1)
				return;
			begun = true;
			if (hub_store_agent_touch(h->store, a->id, a->last_seen_ms,
			    a->address, a->version) == -1)
				break;
			a->dirty = false;
		}
	}
	if (begun)
		(void)hub_store_commit(h->store);
}

void
hub_api_tick(struct hub *h)
{
	uint64_t wall = wall_ms(), now = loop_now_ms(h->loop);
	int n;

	if (hub_store_expire(h->store, wall, api_command_done_cb, h) > 0)
		log_debug("commands expired");
	if (h->nheld > 0)
		(void)hub_store_leases_due(h->store, wall, api_lease_cb, h);
	if (now >= h->next_flush_ms) {
		hub_api_tick_flush(h);
		h->next_flush_ms = now + API_FLUSH_EVERY_MS;
	}
	if (now >= h->next_cleanup_ms && wall > h->cfg->retention) {
		n = hub_store_cleanup(h->store, wall - h->cfg->retention,
		    API_CLEANUP_ROWS);
		if (n > 0)
			log_info("retention: %d old rows deleted", n);
		/* More left: go on next second, a slice at a time. */
		h->next_cleanup_ms = now + (n >= API_CLEANUP_ROWS ? 1000 :
		    API_CLEANUP_EVERY_MS);
	}
}
