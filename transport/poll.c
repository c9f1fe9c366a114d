/*
 * The long poll (docs/protocol.md, GET /v1/agent/commands). A response is
 * checked as a whole before any command in it runs: one over a limit, or
 * not valid JSON, is an error and its cursor is not acked, so the hub
 * delivers the commands again. Delivery is at least once; commands are
 * de-duplicated by id over the last TP_DEDUPE_IDS ids.
 */
#include "transport/transport_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 2xx without commands that came back faster than this (a hub that
 * ignores `wait`) is followed by a pause, so the agent never spins. */
#define POLL_MIN_EMPTY_GAP_MS 1000u

/* ---- de-duplication: a ring of ids and a chained hash over it ---- */

static uint32_t
tp_dedupe_hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

void
tp_dedupe_init(struct dedupe *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < TP_DEDUPE_BUCKETS; i++)
		d->head[i] = -1;
	for (size_t i = 0; i < TP_DEDUPE_IDS; i++)
		d->next[i] = -1;
}

static void
tp_dedupe_unlink(struct dedupe *d, int16_t slot)
{
	int16_t *pp = &d->head[d->hash[slot] & (TP_DEDUPE_BUCKETS - 1)];

	while (*pp != -1) {
		if (*pp == slot) {
			*pp = d->next[slot];
			d->next[slot] = -1;
			return;
		}
		pp = &d->next[*pp];
	}
}

bool
tp_dedupe_add(struct dedupe *d, const char *id)
{
	uint32_t h = tp_dedupe_hash(id);
	size_t b = h & (TP_DEDUPE_BUCKETS - 1);
	int16_t slot;

	for (int16_t i = d->head[b]; i != -1; i = d->next[i])
		if (d->hash[i] == h && strcmp(d->ids[i], id) == 0)
			return false;
	slot = (int16_t)d->pos;
	if (d->count == TP_DEDUPE_IDS)
		tp_dedupe_unlink(d, slot);   /* forget the oldest */
	else
		d->count++;
	snprintf(d->ids[slot], sizeof(d->ids[slot]), "%s", id);
	d->hash[slot] = h;
	d->next[slot] = d->head[b];
	d->head[b] = slot;
	d->pos = (d->pos + 1) % TP_DEDUPE_IDS;
	return true;
}

/* ---- checks ---- */

int
tp_poll_parse(const char *body, size_t len, cJSON **rootp,
    const cJSON **commands, const char **cursor, int64_t *next_poll_ms,
    char *scratch, char *err, size_t errlen)
{
	const cJSON *cur, *cmds, *c, *np;
	const char *end = NULL;
	cJSON *root;

	*rootp = NULL;
	if (body == NULL || len == 0) {
		snprintf(err, errlen, "empty body");
		return -1;
	}
	if (proto_json_depth(body, len, TP_MAX_JSON_DEPTH) > TP_MAX_JSON_DEPTH) {
		snprintf(err, errlen, "JSON nested deeper than %d", TP_MAX_JSON_DEPTH);
		return -1;
	}
	root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (root == NULL) {
		snprintf(err, errlen, "not valid JSON");
		return -1;
	}
	while (end != NULL && end < body + len && isspace((unsigned char)*end))
		end++;
	if (end != body + len) {
		snprintf(err, errlen, "not valid JSON (data after the document)");
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto fail;
	}
	cur = cJSON_GetObjectItemCaseSensitive(root, "cursor");
	if (!cJSON_IsString(cur) || (cur->valuestring[0] != '\0' &&
	    !proto_id_valid(cur->valuestring, TP_MAX_CURSOR))) {
		snprintf(err, errlen, "missing or invalid \"cursor\"");
		goto fail;
	}
	cmds = cJSON_GetObjectItemCaseSensitive(root, "commands");
	if (!cJSON_IsArray(cmds)) {
		snprintf(err, errlen, "missing \"commands\" array");
		goto fail;
	}
	if (cJSON_GetArraySize(cmds) > TP_MAX_COMMANDS) {
		snprintf(err, errlen, "more than %d commands", TP_MAX_COMMANDS);
		goto fail;
	}
	cJSON_ArrayForEach(c, cmds) {
		if (!cJSON_IsObject(c)) {
			snprintf(err, errlen, "a command that is not an object");
			goto fail;
		}
		/* cJSON wants a few bytes of slack in a preallocated buffer */
		if (!cJSON_PrintPreallocated((cJSON *)c, scratch,
		    TP_MAX_COMMAND_BYTES + 8, false) ||
		    strlen(scratch) > TP_MAX_COMMAND_BYTES) {
			snprintf(err, errlen, "a command over %u KiB",
			    TP_MAX_COMMAND_BYTES >> 10);
			goto fail;
		}
	}
	*next_poll_ms = -1;
	np = cJSON_GetObjectItemCaseSensitive(root, "next_poll_ms");
	if (cJSON_IsNumber(np) && np->valuedouble >= 0)
		*next_poll_ms = np->valuedouble >= 9e15 ? INT64_C(9000000000000000) :
		    (int64_t)np->valuedouble;
	*rootp = root;
	*commands = cmds;
	*cursor = cur->valuestring;
	return 0;
fail:
	cJSON_Delete(root);
	return -1;
}

/* ---- the poll ---- */

void
tp_poll_send(struct loop *l, struct loop_timer *tm, void *arg)
{
	struct transport *t = arg;
	uint64_t w = t->o.poll_wait_ms, wait_s, delay;
	char url[2048];

	if (t->stopping || t->poll.active)
		return;
	/* wait = poll_wait less 0-20 %, whole seconds, as the protocol has
	 * it: jittered, and never longer than poll_wait, so a connection
	 * (one per poll) lives at most one poll wait and a drained node is
	 * empty within it. */
	w = w - tp_rand_upto(w / 5);
	wait_s = (w + 500) / 1000;
	/* No contact yet: ask for an answer at once, so contact is known
	 * now, not after a whole held poll. Not after a failed poll: that
	 * would make every retry two arrivals, and a fleet whose polls all
	 * broke at once would come back at twice the rate
	 * (docs/protocol.md, "Rules for agents"). */
	if (t->st.last_contact_ms == 0)
		wait_s = 0;
	if (wait_s > 3600)
		wait_s = 3600;
	snprintf(url, sizeof(url), "%s/v1/agent/commands?wait=%" PRIu64 "%s%s",
	    t->base_url, wait_s, t->cursor[0] ? "&ack=" : "", t->cursor);
	if (curl_easy_setopt(t->poll.easy, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(t->poll.easy, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
	    curl_easy_setopt(t->poll.easy, CURLOPT_TIMEOUT_MS,
	    (long)(wait_s * 1000 + TP_POLL_SLACK_MS)) != CURLE_OK ||
	    tp_http_req_start(t, &t->poll) == -1) {
		t->st.poll_errors++;
		delay = tp_poll_retry(t);
		loop_timer_arm(t->loop, &t->poll_timer, delay);
		return;
	}
	t->st.polls++;
	t->poll_wait_asked_ms = wait_s * 1000;
	log_debug("transport: poll wait=%" PRIu64 " ack=%s", wait_s,
	    t->cursor[0] ? t->cursor : "-");
}

void
tp_poll_start(struct transport *t, uint64_t delay_ms)
{
	loop_timer_arm(t->loop, &t->poll_timer, delay_ms);
}

void
tp_poll_stop(struct transport *t)
{
	loop_timer_disarm(t->loop, &t->poll_timer);
	tp_http_req_cancel(t, &t->poll);
}

static void
tp_poll_dispatch(struct transport *t, const cJSON *commands)
{
	const cJSON *c;
	unsigned bad = 0;

	cJSON_ArrayForEach(c, commands) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");

		if (!cJSON_IsString(id) || !proto_id_valid(id->valuestring,
		    TP_MAX_CMD_ID)) {
			/* Cannot be answered by id, so cannot be run: skipped,
			 * and acked with the rest so it is not sent again. */
			bad++;
			continue;
		}
		if (!tp_dedupe_add(t->dedupe, id->valuestring)) {
			t->st.duplicate_commands++;
			log_debug("transport: command %s again: skipped",
			    id->valuestring);
			continue;
		}
		t->st.commands_received++;
		if (t->cb != NULL)
			t->cb(c, t->cb_arg);
	}
	if (bad > 0)
		log_warn("transport: skipped %u command%s without a valid \"id\" "
		    "(1-64 characters of A-Za-z0-9_.-)", bad, bad == 1 ? "" : "s");
}

void
tp_poll_done(struct transport *t, struct tp_req *r, CURLcode rc, long status)
{
	uint64_t now = loop_now_ms(t->loop), delay, elapsed;
	const cJSON *commands;
	const char *cursor;
	int64_t next = -1;
	cJSON *root;
	char why[CURL_ERROR_SIZE + 64];
	int ncmds;

	elapsed = now - r->started_ms;
	if (rc != CURLE_OK || status < 200 || status > 299) {
		t->poll_fail_code = rc != CURLE_OK ? -(long)rc : status;
		t->poll_fail_ms = tp_wall_ms();
	}
	if (rc != CURLE_OK) {
		t->st.poll_errors++;
		delay = tp_poll_retry(t);
		log_complain(&t->poll_complain, now, LOG_LVL_WARN,
		    "transport: poll of %s failed: %s; retrying in %" PRIu64 " ms",
		    t->base_url, tp_http_req_error(r, rc, why, sizeof(why)), delay);
		goto again;
	}
	if (status < 200 || status > 299) {
		t->st.poll_errors++;
		delay = tp_failure_delay(t, r, status, &t->poll_fails);
		if (status == 401 || status == 403)
			tp_complain_auth(t, now, status, delay);
		else
			log_complain(&t->poll_complain, now, LOG_LVL_WARN,
			    "transport: poll of %s: HTTP %ld; retrying in %" PRIu64
			    " ms", t->base_url, status, delay);
		goto again;
	}
	if (tp_poll_parse(r->body.data, r->body.len, &root, &commands, &cursor,
	    &next, t->cmd_scratch, why, sizeof(why)) == -1) {
		t->st.poll_errors++;
		delay = tp_poll_retry(t);
		log_complain(&t->poll_complain, now, LOG_LVL_WARN,
		    "transport: poll of %s: invalid response (%s): no command "
		    "from it runs; retrying in %" PRIu64 " ms", t->base_url, why,
		    delay);
		goto again;
	}
	tp_contact(t);
	/* Held since it was sent, or since it left a queue: a poll answered
	 * later than its wait waited that much before the hub held it. Only
	 * the first poll answered after failures (the agent's return): a
	 * later, quicker one must not hide when that was. */
	if (t->poll_fails > 0 || t->poll_held_from_ms == 0)
		t->poll_held_from_ms = t->st.last_contact_ms - elapsed +
		    (elapsed > t->poll_wait_asked_ms ?
		    elapsed - t->poll_wait_asked_ms : 0);
	t->poll_fails = 0;
	log_release(&t->poll_complain, "transport: polling %s works again",
	    t->base_url);
	if (t->upload_fails == 0)
		log_release(&t->auth_complain, "transport: the hub %s accepts "
		    "this agent's token again", t->base_url);
	snprintf(t->cursor, sizeof(t->cursor), "%s", cursor);
	ncmds = cJSON_GetArraySize(commands);
	tp_poll_dispatch(t, commands);
	cJSON_Delete(root);

	delay = 0;
	if (next >= 0) {
		delay = (uint64_t)next < t->o.backoff_cap_ms ? (uint64_t)next :
		    t->o.backoff_cap_ms;
		delay += tp_rand_upto(delay / 10);
	}
	if (ncmds == 0 && elapsed + delay < POLL_MIN_EMPTY_GAP_MS)
		delay = POLL_MIN_EMPTY_GAP_MS - elapsed;
again:
	if (r->body.cap > (64u << 10))
		tp_buf_free(&r->body);   /* a rare big response: give it back */
	if (!t->stopping)
		loop_timer_arm(t->loop, &t->poll_timer, delay);
}
