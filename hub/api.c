/*
 * The endpoints of docs/protocol.md: routing, bearer auth, the agent's
 * long poll and uploads, the operator API (the once-a-second
 * housekeeping is in tick.c).
 */
#include "hub/hub_int.h"

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	/* operator.c's routes and /metrics first (GET .../commands is the
	 * history, POST queues) */
	if ((r = hub_op_route(method, url, arg, arglen, allow)) != HUB_R_NONE ||
	    *allow != NULL)
		return r;
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
		} else if (strcmp(rest, "/events") == 0) {
			r = HUB_R_EVENTS;
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
		return hub_op_body_max(r);
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
	unsigned char hash[HUB_HASH_LEN];
	const char *a, *tok;

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
		const char *why = NULL;
		int rc = hub_op_auth(r, hash, &why);

		if (rc == -1 && why != NULL)
			api_unauthorized(r, why);
		return rc;
	}
	/* The agent is looked up by the route's store call (calls.c),
	 * off the loop: api_agent_done(). */
	memcpy(r->tok_hash, hash, HUB_HASH_LEN);
	return 0;
}

/* ---- store calls (work.c, calls.c) ---- */

/* The finished call of r (the caller frees it), or NULL: none yet. */
static struct hub_call *
api_taken(struct hub_req *r)
{
	struct hub_call *c;

	if (r->job == NULL || !r->job_done)
		return NULL;
	c = (struct hub_call *)r->job;
	r->job = NULL;
	r->job_done = false;
	return c;
}

bool
hub_api_call(struct hub_req *r, struct hub_call *c)
{
	if (c == NULL) {
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
		return false;
	}
	c->events = r->hub->events;
	if (hub_req_call(r, &c->job) == -1) {
		hub_call_free(c);
		return false;
	}
	return true;
}

static struct hub_call *
api_agent_call(struct hub_req *r, void (*run)(struct hub_job *,
    struct hub_store *))
{
	struct hub_call *c = hub_call_new(run);

	if (c != NULL) {
		memcpy(c->hash, r->tok_hash, HUB_HASH_LEN);
		c->agent_id = r->agent != NULL ? r->agent->id : 0;
	}
	return c;
}

/* An agent route's look-up, done: r->agent set, or answered (-1). */
static int
api_agent_done(struct hub_req *r, struct hub_call *c)
{
	struct hub *h = r->hub;

	if (r->agent != NULL)
		return 0;
	if (c->agent_id == 0 && c->job.rc < 0) {
		/* The store is away (a database across the network): the
		 * agent retries later. */
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store error");
		return -1;
	}
	if (c->agent_id == 0) {
		api_unauthorized(r, "unknown agent token");
		return -1;
	}
	if ((r->agent = hub_agent_get(h, c->agent_id, c->name)) == NULL) {
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
	if (hub_conn_age_ms(r) + HUB_HOLD_EARLY_MS >= api_poll_wait_ms(r))
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

/* The draining answer: come back, spread over the poll wait. */
static void
api_poll_drained(struct hub_req *r)
{
	/* Spread over the agent's poll wait, not a fixed few seconds: the
	 * drained node's agents reach the others at the steady rate, not
	 * in one bunch that stays in phase. */
	r->close = true;
	api_poll_answer(r, 0, NULL, api_jitter(0, api_poll_wait_ms(r)));
}

/* Submit the poll's store call: ack (first time), then what is due. */
static void
api_poll_submit(struct hub_req *r, const char *ack)
{
	struct hub *h = r->hub;
	struct hub_call *c = api_agent_call(r, hub_call_poll);

	if (c == NULL) {
		(void)hub_api_call(r, c);
		return;
	}
	if (ack != NULL)
		snprintf(c->ack, sizeof(c->ack), "%s", ack);
	c->poll.now_ms = wall_ms();
	if (h->draining) {
		/* Only record the ack: the agent did get those. */
		c->poll.max_bytes = 1;
	} else {
		c->poll.lease_ms = h->cfg->command_lease;
		c->poll.max_commands = HUB_POLL_MAX_COMMANDS;
		c->poll.max_bytes = HUB_POLL_MAX_BYTES;
	}
	(void)hub_api_call(r, c);
}

static void
api_poll(struct hub_req *r, struct hub_call *c)
{
	struct hub *h = r->hub;
	struct hub_agent *a;
	uint64_t now = loop_now_ms(h->loop);
	bool drained;

	if (c == NULL && !r->held) {
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
		/* A margin before the wait's end: the connection (its connect,
		 * store call, answer and close included) lasts less than the
		 * wait it asked for, so a drain is over within one. */
		if (wait_ms >= HUB_HOLD_SLOTTED_MS)
			wait_ms -= HUB_HOLD_MARGIN_MS;
		r->deadline_ms = now + wait_ms;
		api_poll_submit(r, ack);
		return;
	}
	if (c == NULL) {
		/* Woken while held. At the end of its wait a poll is answered
		 * empty without reading the store again: whatever became due
		 * meanwhile woke it (an event), or is read by the agent's next
		 * poll, which follows at once. */
		if (r->wake == HUB_WAKE_SUPERSEDED)
			api_poll_answer(r, 0, NULL, 0);
		else if (h->draining)
			api_poll_drained(r);
		else if (r->wake == HUB_WAKE_TIMEOUT)
			api_poll_answer(r, 0, NULL, 0);
		else
			api_poll_submit(r, NULL);
		return;
	}
	drained = c->poll.max_commands == 0;
	if (api_agent_done(r, c) == -1)
		goto out;
	a = r->agent;
	/* One held poll per agent: an older one is a connection the agent
	 * gave up on (restart, timeout) and must not take commands. */
	if (a->poll != NULL && a->poll != r)
		hub_req_wake(a->poll, HUB_WAKE_SUPERSEDED);
	if (drained) {
		api_poll_drained(r);
		goto out;
	}
	if (c->job.rc < 0) {
		log_complain(&h->store_complain, now, LOG_LVL_ERROR,
		    "store: cannot read commands: %s", c->err);
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store error");
		goto out;
	}
	if (c->poll.ncommands > 0) {
		log_debug("agent %s: %zu commands delivered (cursor %lld)", a->name,
		    c->poll.ncommands, (long long)c->poll.cursor);
		api_poll_answer(r, c->poll.cursor, &c->poll.commands, 0);
		goto out;
	}
	if (now >= r->deadline_ms) {
		api_poll_answer(r, 0, NULL, 0);
		goto out;
	}
	if (h->events != c->events) {
		/* Something was queued while the store was read: read again
		 * rather than hold past it. */
		hub_call_free(c);
		api_poll_submit(r, NULL);
		return;
	}
	if (h->shed_at > 0 && h->nheld >= h->shed_at) {
		/* Near max_connections: hold no more, ask to come back later
		 * (jittered, so they do not all return at once). */
		log_complain(&h->shed_complain, now, LOG_LVL_WARN, "%zu polls held: "
		    "answering new ones at once (max_connections)", h->nheld);
		api_poll_answer(r, 0, NULL, api_jitter(API_SHED_HINT_MIN,
		    API_SHED_HINT_MAX));
		goto out;
	}
	a->poll = r;
	hub_req_suspend(r, r->deadline_ms - now);
out:
	hub_call_free(c);
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
api_results(struct hub_req *r, struct hub_call *c)
{
	struct hub *h = r->hub;
	const char *ce = hub_req_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING);
	cJSON *o;

	if (c == NULL) {
		if (ce == NULL || strcasecmp(ce, "gzip") != 0) {
			hub_respond_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			    "Content-Encoding: gzip is required");
			return;
		}
		if (r->body.len == 0) {
			hub_respond_error(r, MHD_HTTP_BAD_REQUEST, "empty body");
			return;
		}
		/* The agent first: a stranger's body is never inflated. */
		(void)hub_api_call(r, api_agent_call(r, hub_call_auth));
		return;
	}
	if (c->job.run == hub_call_auth) {
		if (api_agent_done(r, c) == 0) {
			struct hub_call *b = api_agent_call(r, hub_batch_run);

			/* Inflated, checked and split on the prep thread,
			 * stored on a worker (batch.c, work.c); the body stays
			 * counted in upload_bytes until then. */
			if (b != NULL) {
				b->job.prep = hub_batch_prep;
				b->upload = r->body;
				b->wire = r->body.len;
				hub_buf_init(&r->body, 0);
			}
			(void)hub_api_call(r, b);
		}
		goto out;
	}
	h->upload_bytes -= r->budget;
	r->budget = 0;
	if (c->http == 400 || c->http == 413) {
		log_info("agent %s: batch refused: %s", r->agent->name, c->err);
		hub_respond_error(r, (unsigned)c->http, "%s", c->err);
		goto out;
	}
	if (c->http != 200) {
		log_complain(&h->store_complain, loop_now_ms(h->loop), LOG_LVL_ERROR,
		    "store: cannot store a batch: %s", c->err);
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store error");
		goto out;
	}
	log_debug("agent %s: batch %lld %s", r->agent->name,
	    (long long)c->batch_id, c->stored ? "stored" : "was stored before");
	hub_store_each_id(&c->ids, api_command_done_cb, h);
	if (c->stored) {
		h->events++;
		hub_events_batch_stored(h, r->agent->id, c->had_events);
		hub_op_samples_wake(h, r->agent->name);
	}
	h->stats.batches += c->stored;
	h->stats.batches_dup += !c->stored;
	h->stats.batch_bytes += c->wire;
	h->stats.batch_json_bytes += c->json_bytes;
	if ((o = cJSON_CreateObject()) != NULL) {
		char idtxt[24];

		/* As an integer: a double would print 2^53-1 rounded. */
		snprintf(idtxt, sizeof(idtxt), "%lld", (long long)c->batch_id);
		cJSON_AddRawToObject(o, "batch_id", idtxt);
		cJSON_AddBoolToObject(o, "stored", c->stored);
	}
	hub_respond_json(r, MHD_HTTP_OK, o);
out:
	hub_call_free(c);
}

/* ---- operator API ---- */

int
hub_api_named_done(struct hub_req *r, struct hub_call *c)
{
	if (c->agent_id == 0 && c->job.rc < 0) {
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		return -1;
	}
	if (c->agent_id == 0) {
		hub_respond_error(r, MHD_HTTP_NOT_FOUND, "no agent '%s'", r->arg);
		return -1;
	}
	return 0;
}

static void
api_command_post(struct hub_req *r, struct hub_call *c)
{
	struct hub *h = r->hub;
	char err[256], id[33], created[40], *txt;
	cJSON *cmd = NULL, *o;
	struct hub_agent *a;
	uint64_t now;
	int rc;

	if (c != NULL)
		goto done;
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
	if ((c = hub_call_new(hub_call_command_add)) != NULL) {
		snprintf(c->name, sizeof(c->name), "%.63s", r->arg);
		snprintf(c->id, sizeof(c->id), "%s", id);
		c->type = xstrdup(cJSON_GetObjectItemCaseSensitive(cmd,
		    "type")->valuestring);
		c->text = xstrdup(txt);
		c->now_ms = now;
		c->expires_ms = now + h->cfg->command_ttl;
		snprintf(c->who, sizeof(c->who), "%s", r->who);
	}
	cJSON_free(txt);
	cJSON_Delete(cmd);
	(void)hub_api_call(r, c);
	return;
done:
	if (hub_api_named_done(r, c) == -1)
		goto out;
	if (c->job.rc < 0) {
		log_complain(&h->store_complain, loop_now_ms(h->loop), LOG_LVL_ERROR,
		    "store: cannot queue a command: %s", c->err);
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		goto out;
	}
	log_debug("command %s queued for %s by %s", c->id, r->arg, r->who);
	h->events++;
	h->stats.commands_queued++;
	if ((a = hub_agent_find(h, c->agent_id)) != NULL && a->poll != NULL)
		hub_req_wake(a->poll, HUB_WAKE_EVENT);
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddStringToObject(o, "id", c->id);
	hub_respond_json(r, MHD_HTTP_CREATED, o);
out:
	hub_call_free(c);
}

int
hub_api_wait(struct hub_req *r, int max_s)
{
	const char *w;
	int64_t wait = 0;

	if (r->deadline_ms != 0)
		return 0;   /* read again (held, or an event meanwhile) */
	w = hub_req_query(r, "wait");
	if (w != NULL && *w != '\0' && parse_int(w, 0, max_s, &wait) == -1) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST,
		    "wait must be 0-%d seconds", max_s);
		return -1;
	}
	r->deadline_ms = loop_now_ms(r->hub->loop) + (uint64_t)wait * 1000;
	return 0;
}

static void
api_command_get(struct hub_req *r, struct hub_call *c)
{
	struct hub *h = r->hub;
	uint64_t now = loop_now_ms(h->loop);

	if (c == NULL) {
		if (hub_api_wait(r, HUB_COMMAND_WAIT_MAX) == -1)
			return;
		if ((c = hub_call_new(hub_call_command_get)) != NULL)
			snprintf(c->id, sizeof(c->id), "%.*s", HUB_ID_MAX, r->arg);
		(void)hub_api_call(r, c);
		return;
	}
	if (c->job.rc == 1) {
		hub_respond_error(r, MHD_HTTP_NOT_FOUND, "no command '%s'", r->arg);
	} else if (c->job.rc == -1) {
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
	} else if (c->final || h->draining || now >= r->deadline_ms ||
	    r->wake == HUB_WAKE_TIMEOUT) {
		hub_respond_json(r, MHD_HTTP_OK, c->json);
		c->json = NULL;
	} else if (h->events != c->events) {
		/* It may have finished while the store was read. */
		hub_call_free(c);
		api_command_get(r, NULL);
		return;
	} else {
		hub_req_suspend(r, r->deadline_ms - now);
	}
	hub_call_free(c);
}

void
hub_api_command_changed(struct hub *h, const char *id)
{
	struct hub_req *r = h->cmd_waiters, *next;

	h->events++;
	for (; r != NULL; r = next) {
		next = r->cw_next;
		if (r->route == HUB_R_CMD_GET && strcmp(r->arg, id) == 0)
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

	h->events++;
	if (kind == 'c')
		hub_api_command_changed(h, id);
	else if (kind == 'e') {
		if (parse_int(id, 1, INT64_MAX, &agent) == 0)
			hub_events_wake(h, agent);
	} else if (kind == 's')
		hub_op_samples_wake(h, id);   /* id: the agent's name */
	else if (parse_int(id, 1, INT64_MAX, &agent) == 0 &&
	    (a = hub_agent_find(h, agent)) != NULL && a->poll != NULL)
		hub_req_wake(a->poll, HUB_WAKE_EVENT);
}

/* since, until, limit and cursor of GET samples and events
 * (docs/protocol.md). */
int
hub_api_page(struct hub_req *r, struct hub_samples_page *pg)
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
		    "times in ms since 1970 (the samples' ts, the events' "
		    "received)");
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
api_list(struct hub_req *r, struct hub_call *c)
{
	struct hub *h = r->hub;
	size_t len;

	if (c != NULL)
		goto done;
	c = hub_call_new(r->route == HUB_R_SAMPLES ? hub_call_samples :
	    hub_call_devices);
	if (c != NULL && r->route == HUB_R_SAMPLES) {
		const char *d = hub_req_query(r, "device");

		if (d == NULL ||
		    hub_device_normalize(d, c->device, sizeof(c->device)) == -1) {
			hub_call_free(c);
			hub_respond_error(r, MHD_HTTP_BAD_REQUEST,
			    "device=ADDRESS[:PORT] is required");
			return;
		}
		if (hub_api_page(r, &c->page) == -1 ||
		    hub_op_samples_wait(r) == -1) {
			hub_call_free(c);
			return;
		}
	}
	if (c != NULL)
		snprintf(c->name, sizeof(c->name), "%.63s", r->arg);
	(void)hub_api_call(r, c);
	return;
done:
	if (hub_api_named_done(r, c) == -1)
		goto out;
	if (c->job.rc < 0) {
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		goto out;
	}
	if (r->route == HUB_R_SAMPLES && c->out.len <= 2 &&
	    h->events != c->events && !h->draining &&
	    loop_now_ms(h->loop) < r->deadline_ms) {
		/* A batch may have come while the store was read. */
		hub_call_free(c);
		api_list(r, NULL);
		return;
	}
	if (r->route == HUB_R_SAMPLES && hub_op_samples_hold(r, c->out.len))
		goto out;   /* nothing new yet: held (operator.c) */
	if (r->route == HUB_R_SAMPLES && c->page.more)
		snprintf(r->next_cursor, sizeof(r->next_cursor), "%lld.%lld",
		    (long long)c->page.last_ts, (long long)c->page.last_id);
	len = c->out.len;
	hub_respond(r, MHD_HTTP_OK, "application/json", hub_buf_take(&c->out), len);
out:
	hub_call_free(c);
}

void
hub_api_handle(struct hub_req *r)
{
	struct hub *h = r->hub;
	struct hub_call *c = api_taken(r);

	if (r->op_lookup) {
		/* An operator's token other than the admin file's: looked up
		 * first (operator.c), then the route runs as if called anew. */
		const char *why = NULL;
		int rc;

		if (c == NULL) {
			if ((c = hub_call_new(hub_call_token)) != NULL)
				memcpy(c->hash, r->tok_hash, HUB_HASH_LEN);
			(void)hub_api_call(r, c);
			return;
		}
		r->op_lookup = false;
		rc = hub_op_auth_done(r, c, &why);
		hub_call_free(c);
		c = NULL;
		if (rc == -1) {
			if (why != NULL)
				api_unauthorized(r, why);
			return;
		}
	}
	switch (r->route) {
	case HUB_R_HEALTHZ:
		if (h->draining)
			hub_respond(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			    strdup("draining\n"), 9);
		else
			hub_respond(r, MHD_HTTP_OK, "text/plain", strdup("ok\n"), 3);
		break;
	case HUB_R_POLL:
		if (r->agent != NULL)
			api_touch(r);
		api_poll(r, c);
		break;
	case HUB_R_RESULTS:
		api_results(r, c);
		break;
	case HUB_R_CMD_POST:
		api_command_post(r, c);
		break;
	case HUB_R_CMD_GET:
		api_command_get(r, c);
		break;
	case HUB_R_AGENTS:
		hub_op_agents(r, c);
		break;
	case HUB_R_DEVICES:
	case HUB_R_SAMPLES:
		api_list(r, c);
		break;
	case HUB_R_EVENTS:
		hub_events_get(r, c);
		break;
	case HUB_R_NONE:
		hub_respond_error(r, MHD_HTTP_NOT_FOUND, "not found");
		break;
	default:
		hub_op_handle(r, c);   /* operator.c, metrics.c */
		break;
	}
}
