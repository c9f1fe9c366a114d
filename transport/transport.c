/*
 * The transport object and the public API (transport/transport.h): the
 * open batch, its timer, closing it into the spool, counters and stats.
 * The poll lives in poll.c, uploads in upload.c, libcurl glue in http.c.
 */
#include "transport/transport_int.h"

#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Room for the batch's fields around its arrays, and each counter. */
#define BATCH_HEAD_BYTES    512u
#define BATCH_COUNTER_BYTES (TP_MAX_COUNTER_NAME + 32u)


/* ---- shared helpers ---- */

uint64_t
tp_backoff_next(struct transport *t, unsigned *fails)
{
	uint64_t d = backoff_full_jitter(t->o.backoff_base_ms,
	    t->o.backoff_cap_ms, *fails, tp_rand64());

	if (*fails < 1000000)
		(*fails)++;
	return d;
}

uint64_t
tp_poll_retry(struct transport *t)
{
	unsigned before = t->poll_fails;

	if (t->poll_fails < 1000000)
		t->poll_fails++;
	return backoff_poll_retry(t->o.poll_wait_ms, t->o.backoff_cap_ms,
	    before, tp_rand64());
}

uint64_t
tp_failure_delay(struct transport *t, struct tp_req *r, long status,
    unsigned *fails)
{
	uint64_t d;

	if (status == 401 || status == 403) {
		if (*fails < 1000000)
			(*fails)++;
		return t->o.backoff_cap_ms;
	}
	if ((status == 429 || status == 503) && r->retry_after[0] != '\0' &&
	    backoff_retry_after(r->retry_after, time(NULL), t->o.backoff_cap_ms,
	    &d) == 0) {
		if (*fails < 1000000)
			(*fails)++;
		return backoff_retry_after_spread(d, t->o.backoff_cap_ms,
		    tp_rand64());
	}
	/* A poll has its own rule (backoff_poll_retry), uploads back off. */
	if (fails == &t->poll_fails)
		return tp_poll_retry(t);
	return tp_backoff_next(t, fails);
}

void
tp_contact(struct transport *t)
{
	t->st.last_contact_ms = tp_wall_ms();
}

/* ---- URL and options ---- */

static bool
host_is_loopback(const char *host)
{
	char buf[64];
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		if (strchr(buf, '%') != NULL)
			*strchr(buf, '%') = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

static int
transport_check_url(const char *url, bool allow_insecure, char *err,
    size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *part = NULL;
	int rc = -1;

	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "hub url '%.200s' is not a valid URL", url);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		snprintf(err, errlen, "hub url '%.200s' must start with https://",
		    url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK) {
		snprintf(err, errlen, "hub url must not hold a user name or "
		    "password: the agent authenticates with its token");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		snprintf(err, errlen, "hub url '%.200s' must not have a query or "
		    "fragment", url);
		goto out;
	}
	if (strcmp(scheme, "http") == 0 && !allow_insecure &&
	    !host_is_loopback(host)) {
		snprintf(err, errlen, "plain http:// to %s would send the token in "
		    "clear text: use https://, or set [server] "
		    "allow_insecure_http = true", host);
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(part);
	curl_url_cleanup(u);
	return rc;
}

static char *
opt_dup(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

static void
wipe_slist(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		platform_memzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static struct curl_slist *
slist_add(struct curl_slist *l, const char *s, bool *ok)
{
	struct curl_slist *n = curl_slist_append(l, s);

	if (n == NULL) {
		*ok = false;
		return l;
	}
	return n;
}

/* ---- timers ---- */

static void
tp_batch_timer_fire(struct loop *l, struct loop_timer *tm, void *arg)
{
	(void)transport_close_batch(arg);
}

static uint64_t
tp_spool_check_interval(const struct transport *t)
{
	uint64_t iv = t->o.spool_max_age_ms / 4;

	return iv < 1000 ? 1000 : iv > 60000 ? 60000 : iv;
}

static void
tp_spool_timer_fire(struct loop *l, struct loop_timer *tm, void *arg)
{
	struct transport *t = arg;

	tp_spool_enforce(&t->spool, tp_wall_ms());
	loop_timer_arm(l, tm, tp_spool_check_interval(t));
}

/* ---- public API ---- */

struct transport *
transport_new(struct loop *loop, const struct transport_opts *opts,
    transport_command_cb cb, void *arg, char *err, size_t errlen)
{
	struct transport *t;
	struct transport_opts *o;
	char auth[TP_MAX_TOKEN + 32];
	bool ok = true;
	size_t n;

	if (opts->url == NULL || opts->url[0] == '\0') {
		snprintf(err, errlen, "no hub url ([server] url)");
		return NULL;
	}
	if (opts->token == NULL || !proto_token_valid(opts->token, strlen(opts->token))) {
		snprintf(err, errlen, "the token must be 1-%d characters of "
		    "A-Za-z0-9._~-", TP_MAX_TOKEN);
		return NULL;
	}
	if (opts->spool_dir == NULL || opts->spool_dir[0] == '\0') {
		snprintf(err, errlen, "no spool directory");
		return NULL;
	}
	if (transport_check_url(opts->url, opts->allow_insecure_http, err,
	    errlen) == -1)
		return NULL;
	if (opts->proxy != NULL && opts->proxy[0] != '\0' &&
	    strncasecmp(opts->url, "http://", 7) == 0) {
		snprintf(err, errlen, "a proxy with a plain http:// hub url would "
		    "see the token in clear text: use an https:// url, or no "
		    "proxy");
		return NULL;
	}

	t = xcalloc(1, sizeof(*t));
	t->loop = loop;
	t->cb = cb;
	t->cb_arg = arg;
	o = &t->o;
	*o = *opts;
	o->url = xstrdup(opts->url);
	o->token = NULL;
	o->ca_file = opt_dup(opts->ca_file);
	o->client_cert = opt_dup(opts->client_cert);
	o->client_key = opt_dup(opts->client_key);
	o->pinned_pubkey = opt_dup(opts->pinned_pubkey);
	o->proxy = opt_dup(opts->proxy);
	o->spool_dir = xstrdup(opts->spool_dir);
	o->agent_version = xstrdup(opts->agent_version ? opts->agent_version :
	    OUTPOST_VERSION);
	/* Defaults and limits are the config tables' (docs/config.md): a
	 * 0 is the key's default, anything else is kept within its range. */
	o->poll_wait_ms = config_key_number("server", "poll_wait", o->poll_wait_ms);
	o->backoff_base_ms = config_key_number("server", "backoff_base",
	    o->backoff_base_ms);
	o->backoff_cap_ms = config_key_number("server", "backoff_cap",
	    o->backoff_cap_ms);
	if (o->backoff_cap_ms < o->backoff_base_ms)
		o->backoff_cap_ms = o->backoff_base_ms;
	o->batch_max_bytes = config_key_number("upload", "batch_max_bytes",
	    o->batch_max_bytes);
	o->batch_max_age_ms = config_key_number("upload", "batch_max_age",
	    o->batch_max_age_ms);
	o->spool_max_bytes = config_key_number("upload", "spool_max_bytes",
	    o->spool_max_bytes);
	o->spool_max_age_ms = config_key_number("upload", "spool_max_age",
	    o->spool_max_age_ms);
	/* What the protocol and a batch's own layout need, whatever the
	 * tables allow. */
	if (o->batch_max_bytes > TP_UPLOAD_MAX_WIRE)
		o->batch_max_bytes = TP_UPLOAD_MAX_WIRE;
	if (o->batch_max_bytes < 2 * BATCH_HEAD_BYTES)
		o->batch_max_bytes = 2 * BATCH_HEAD_BYTES;
	t->token = xstrdup(opts->token);
	t->base_url = xstrdup(opts->url);
	n = strlen(t->base_url);
	while (n > 0 && t->base_url[n - 1] == '/')
		t->base_url[--n] = '\0';

	loop_timer_init(&t->poll_timer, tp_poll_send, t);
	loop_timer_init(&t->batch_timer, tp_batch_timer_fire, t);
	loop_timer_init(&t->spool_timer, tp_spool_timer_fire, t);
	loop_timer_init(&t->curl_timer, NULL, t);
	tp_upload_init(t);
	t->dedupe = xcalloc(1, sizeof(*t->dedupe));
	tp_dedupe_init(t->dedupe);
	t->cmd_scratch = xcalloc(1, TP_MAX_COMMAND_BYTES + 8);

	if (tp_spool_open(&t->spool, o->spool_dir, o->spool_max_bytes,
	    o->spool_max_age_ms, err, errlen) == -1)
		goto fail;
	if (tp_http_init(t, err, errlen) == -1)
		goto fail;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t->token);
	t->hdr_poll = slist_add(NULL, auth, &ok);
	t->hdr_poll = slist_add(t->hdr_poll, "Accept: application/json", &ok);
	t->hdr_upload = slist_add(NULL, auth, &ok);
	t->hdr_upload = slist_add(t->hdr_upload, "Accept: application/json", &ok);
	t->hdr_upload = slist_add(t->hdr_upload,
	    "Content-Type: application/json", &ok);
	t->hdr_upload = slist_add(t->hdr_upload, "Content-Encoding: gzip", &ok);
	/* No 100-continue round trip before a batch. */
	t->hdr_upload = slist_add(t->hdr_upload, "Expect:", &ok);
	platform_memzero(auth, sizeof(auth));
	if (!ok) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (tp_http_req_init(t, &t->poll, "poll", TP_MAX_BODY_DECODED, tp_poll_done,
	    err, errlen) == -1 ||
	    tp_http_req_init(t, &t->upload, "upload", 4096, tp_upload_done, err,
	    errlen) == -1 || tp_http_conn_once(&t->poll, err, errlen) == -1)
		goto fail;
	if (curl_easy_setopt(t->poll.easy, CURLOPT_HTTPHEADER, t->hdr_poll) !=
	    CURLE_OK || curl_easy_setopt(t->upload.easy, CURLOPT_HTTPHEADER,
	    t->hdr_upload) != CURLE_OK) {
		snprintf(err, errlen, "libcurl refuses the request headers");
		goto fail;
	}
	return t;
fail:
	transport_free(t);
	return NULL;
}

int
transport_start(struct transport *t)
{
	if (t->started)
		return 0;
	t->started = true;
	if (t->cb != NULL)
		tp_poll_start(t, tp_rand_upto(t->o.start_delay_max_ms));
	loop_timer_arm(t->loop, &t->spool_timer, tp_spool_check_interval(t));
	tp_upload_kick(t);
	return 0;
}

static cJSON *
transport_counters(struct transport *t)
{
	cJSON *c = cJSON_CreateObject();
	const struct {
		const char *name;
		uint64_t    v;
	} own[] = {
		/* "polls" is the agent's: SNMP polls of devices */
		{ "hub_polls", t->st.polls },
		{ "hub_poll_errors", t->st.poll_errors },
		{ "commands_received", t->st.commands_received },
		{ "duplicate_commands", t->st.duplicate_commands },
		{ "spool_bytes", t->spool.bytes },
		{ "spool_files", t->spool.n },
		{ "spool_corrupt", t->spool.corrupt },
		{ "batches_quarantined", t->spool.quarantined },
	};

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < t->ncounters; i++)
		cJSON_AddNumberToObject(c, t->counters[i].name, t->counters[i].value);
	for (size_t i = 0; i < countof(own); i++)
		if (!cJSON_HasObjectItem(c, own[i].name))
			cJSON_AddNumberToObject(c, own[i].name, (double)own[i].v);
	return c;
}

void
transport_drop_events(struct transport *t, uint64_t n)
{
	t->spool.events_dropped_pending += n;
	t->spool.events_dropped_total += n;
}

/* The batch could not be spooled: its samples count as dropped. */
static void
transport_lose_batch(struct transport *t)
{
	uint64_t n = t->batch.nitems[BATCH_SAMPLES];

	t->spool.dropped_pending += n;
	t->spool.dropped_total += n;
	transport_drop_events(t, t->batch.nitems[BATCH_EVENTS]);
	tp_batch_reset(&t->batch);
}

static int
transport_close(struct transport *t, bool even_empty)
{
	struct spool_hdr h = { 0 };
	unsigned char *gz = NULL;
	uint64_t dropped = t->spool.dropped_pending;
	cJSON *counters;
	char *json;
	size_t len, gzlen;

	loop_timer_disarm(t->loop, &t->batch_timer);
	if (tp_batch_empty(&t->batch) && !even_empty)
		return 0;
	h.batch_id = tp_spool_alloc_id(&t->spool);
	h.created_ms = tp_wall_ms();
	if (h.batch_id == 0) {
		transport_lose_batch(t);
		return -1;
	}
	counters = transport_counters(t);
	t->batch.dropped_events = t->spool.events_dropped_pending;
	json = tp_batch_serialize(&t->batch, h.batch_id, t->o.agent_version,
	    h.created_ms, dropped, counters, &len);
	cJSON_Delete(counters);
	if (json == NULL || proto_gzip(json, len, &gz, &gzlen) != PROTO_OK) {
		log_error("transport: out of memory closing batch %" PRIu64,
		    h.batch_id);
		free(json);
		transport_lose_batch(t);
		return -1;
	}
	free(json);
	h.payload_len = gzlen;
	h.payload_crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), gz, gzlen);
	h.nsamples = (uint32_t)(t->batch.nitems[BATCH_SAMPLES] +
	    (dropped > UINT32_MAX / 2 ? UINT32_MAX / 2 : dropped));
	/* Like samples: its own events and the drops it reports. */
	h.nevents = (uint32_t)(t->batch.nitems[BATCH_EVENTS] +
	    (t->batch.dropped_events > UINT32_MAX / 2 ? UINT32_MAX / 2 :
	    t->batch.dropped_events));
	if (tp_spool_write(&t->spool, &h, gz) == -1) {
		free(gz);
		transport_lose_batch(t);
		return -1;
	}
	free(gz);
	tp_spool_dropped_reported(&t->spool, dropped);
	t->spool.events_dropped_pending -= t->batch.dropped_events;
	t->batches_closed++;
	log_debug("transport: batch %" PRIu64 " closed: %zu results, %zu "
	    "inventory, %zu samples, %zu bytes gzip'd", h.batch_id,
	    t->batch.nitems[BATCH_RESULTS], t->batch.nitems[BATCH_INVENTORY],
	    t->batch.nitems[BATCH_SAMPLES], gzlen);
	tp_batch_reset(&t->batch);
	tp_spool_enforce(&t->spool, h.created_ms);
	tp_upload_kick(t);
	return 0;
}

int
transport_close_batch(struct transport *t)
{
	return transport_close(t, false);
}

int
transport_report_dropped(struct transport *t)
{
	return t->spool.dropped_pending > 0 || t->spool.events_dropped_pending > 0 ?
	    transport_close(t, true) : 0;
}

int
transport_flush(struct transport *t)
{
	return transport_close_batch(t);
}

static size_t
transport_batch_limit(const struct transport *t)
{
	size_t over = BATCH_HEAD_BYTES + (t->ncounters + 8) * BATCH_COUNTER_BYTES;

	return t->o.batch_max_bytes > over ? t->o.batch_max_bytes - over : 0;
}

int
transport_add(struct transport *t, const char *kind, cJSON *item)
{
	int k = tp_batch_kind(kind);
	size_t len, limit = transport_batch_limit(t);
	char *s;

	if (k < 0 || item == NULL) {
		log_error("transport: unknown batch array '%s'", kind ? kind : "");
		cJSON_Delete(item);
		return -1;
	}
	s = cJSON_PrintUnformatted(item);
	cJSON_Delete(item);
	if (s == NULL) {
		log_error("transport: out of memory adding to %s", kind);
		return -1;
	}
	len = strlen(s);
	if (len + 1 > limit) {
		log_warn("transport: an item of %zu bytes for %s is larger than "
		    "a batch (batch_max_bytes): dropped", len, kind);
		cJSON_free(s);
		if (k == BATCH_SAMPLES) {
			t->spool.dropped_pending++;
			t->spool.dropped_total++;
		}
		if (k == BATCH_EVENTS)
			transport_drop_events(t, 1);
		return -1;
	}
	if (tp_batch_bytes(&t->batch) + len + 1 > limit)
		(void)transport_close_batch(t);
	if (tp_batch_append(&t->batch, k, s, len) == -1) {
		cJSON_free(s);
		log_error("transport: out of memory adding to %s", kind);
		return -1;
	}
	cJSON_free(s);
	/* The batch's age counts from its first item. */
	if (!loop_timer_armed(&t->batch_timer) && !t->stopping)
		loop_timer_arm(t->loop, &t->batch_timer, t->o.batch_max_age_ms);
	if (tp_batch_bytes(&t->batch) >= limit)
		(void)transport_close_batch(t);
	return 0;
}

void
transport_set_counter(struct transport *t, const char *name, double value)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || strlen(name) > TP_MAX_COUNTER_NAME)
		return;
	for (i = 0; i < t->ncounters; i++)
		if (strcmp(t->counters[i].name, name) == 0)
			break;
	if (i == t->ncounters) {
		if (t->ncounters == TP_MAX_COUNTERS) {
			if (!t->counters_full_logged)
				log_warn("transport: more than %d counters: '%s' "
				    "and later ones are not sent", TP_MAX_COUNTERS,
				    name);
			t->counters_full_logged = true;
			return;
		}
		snprintf(t->counters[i].name, sizeof(t->counters[i].name), "%s",
		    name);
		t->ncounters++;
	}
	t->counters[i].value = value;
}

void
transport_shutdown(struct transport *t)
{
	if (t->stopping)
		return;
	t->stopping = true;
	tp_poll_stop(t);
	loop_timer_disarm(t->loop, &t->spool_timer);
	(void)transport_close_batch(t);
}

bool
transport_idle(const struct transport *t)
{
	return tp_batch_empty(&t->batch) && t->spool.n == 0 && !t->upload.active;
}

void
transport_free(struct transport *t)
{
	if (t == NULL)
		return;
	if (t->spool.dir != NULL) {
		transport_shutdown(t);
		(void)transport_close_batch(t);   /* items added since */
	}
	loop_timer_disarm(t->loop, &t->poll_timer);
	loop_timer_disarm(t->loop, &t->batch_timer);
	loop_timer_disarm(t->loop, &t->upload_timer);
	loop_timer_disarm(t->loop, &t->spool_timer);
	if (t->upload.active) {
		struct spool_entry *e = tp_spool_find(&t->spool, t->upload_id);
		if (e != NULL)
			e->busy = false;
	}
	tp_http_req_free(t, &t->poll);
	tp_http_req_free(t, &t->upload);
	tp_http_free(t);
	free(t->upload_body);
	wipe_slist(t->hdr_poll);
	wipe_slist(t->hdr_upload);
	tp_batch_reset(&t->batch);
	tp_spool_close(&t->spool);
	free(t->dedupe);
	free(t->cmd_scratch);
	secret_free(t->token);
	free(t->base_url);
	free((char *)t->o.url);
	free((char *)t->o.ca_file);
	free((char *)t->o.client_cert);
	free((char *)t->o.client_key);
	free((char *)t->o.pinned_pubkey);
	free((char *)t->o.proxy);
	free((char *)t->o.spool_dir);
	free((char *)t->o.agent_version);
	free(t);
}

void
transport_get_stats(const struct transport *t, struct transport_stats *st)
{
	*st = t->st;
	st->spool_bytes = t->spool.bytes;
	st->spool_files = t->spool.n;
	st->spool_corrupt = t->spool.corrupt;
	st->batches_quarantined = t->spool.quarantined;
	st->dropped_samples = t->spool.dropped_total;
	st->dropped_events = t->spool.events_dropped_total;
	st->consecutive_failures = t->poll_fails > t->upload_fails ?
	    t->poll_fails : t->upload_fails;
}

/* ---- the token file ---- */

/* transport.h's public bound is the protocol's. */
_Static_assert(TRANSPORT_TOKEN_MAX == PROTO_TOKEN_MAX, "token bound");

int
transport_read_token(const char *path, char *buf, size_t len, char *err,
    size_t errlen)
{
	return proto_token_read(path, buf, len, err, errlen);
}

void
tp_complain_auth(struct transport *t, uint64_t now, long status, uint64_t delay)
{
	log_complain(&t->auth_complain, now, LOG_LVL_ERROR,
	    "transport: the hub %s refuses this agent's token (HTTP %ld): check "
	    "[server] token_file; retrying in %" PRIu64 " ms", t->base_url,
	    status, delay);
}
