/*
 * Uploads (POST /v1/agent/results): the spool is sent oldest batch_id
 * first, one batch in flight, and a file is deleted only after a 2xx.
 * The hub's answer decides the rest (docs/protocol.md, "How the agent
 * treats hub responses"): 413 splits, other 4xx quarantine, the rest
 * waits and retries.
 */
#include "transport/transport_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Time for one upload: a minute, plus a second per 32 KiB. */
#define UPLOAD_TIMEOUT_BASE_MS 60000u
#define UPLOAD_BYTES_PER_S     32768u

static void
tp_upload_retry_later(struct transport *t, uint64_t delay)
{
	loop_timer_arm(t->loop, &t->upload_timer, delay);
}

void
tp_upload_kick(struct transport *t)
{
	struct spool_entry *e;
	struct spool_hdr h;
	unsigned char *payload = NULL;
	uint64_t id;
	char url[2048];

	if (!t->started || t->upload.active ||
	    loop_timer_armed(&t->upload_timer))
		return;
	for (;;) {
		int rc;

		if ((e = tp_spool_first_idle(&t->spool)) == NULL) {
			/* All sent, but the spool bound dropped samples since
			 * the last batch: tell the hub now, not with the next
			 * data, which may be a while. */
			if (t->spool.n == 0 && t->spool.dropped_pending > 0 &&
			    tp_batch_empty(&t->batch))
				(void)transport_report_dropped(t);
			return;
		}
		id = e->id;
		rc = tp_spool_read(&t->spool, id, &h, &payload);
		if (rc == 0)
			break;
		if (rc == -2) {
			t->spool.corrupt++;
			tp_spool_quarantine(&t->spool, id, "corrupt spool file");
			continue;
		}
		if (errno == ENOENT) {
			log_warn("transport: batch %" PRIu64 " vanished from the "
			    "spool", id);
			tp_spool_remove(&t->spool, id);
			continue;
		}
		log_complain(&t->upload_complain, loop_now_ms(t->loop),
		    LOG_LVL_ERROR, "transport: cannot read batch %" PRIu64
		    " from the spool %s: %s", id, t->spool.dir, strerror(errno));
		tp_upload_retry_later(t, tp_backoff_next(t, &t->upload_fails));
		return;
	}
	snprintf(url, sizeof(url), "%s/v1/agent/results", t->base_url);
	if (curl_easy_setopt(t->upload.easy, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(t->upload.easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)h.payload_len) != CURLE_OK ||
	    curl_easy_setopt(t->upload.easy, CURLOPT_POSTFIELDS,
	    (char *)payload) != CURLE_OK ||
	    curl_easy_setopt(t->upload.easy, CURLOPT_TIMEOUT_MS,
	    (long)(UPLOAD_TIMEOUT_BASE_MS + h.payload_len * 1000 /
	    UPLOAD_BYTES_PER_S)) != CURLE_OK ||
	    tp_http_req_start(t, &t->upload) == -1) {
		free(payload);
		tp_upload_retry_later(t, tp_backoff_next(t, &t->upload_fails));
		return;
	}
	e->busy = true;
	t->upload_id = id;
	t->upload_body = payload;
	t->upload_len = (size_t)h.payload_len;
	t->upload_created_ms = h.created_ms;
	log_debug("transport: sending batch %" PRIu64 " (%zu bytes)", id,
	    t->upload_len);
}

static void
tp_upload_timer_fire(struct loop *l, struct loop_timer *tm, void *arg)
{
	tp_upload_kick(arg);
}

void
tp_upload_init(struct transport *t)
{
	loop_timer_init(&t->upload_timer, tp_upload_timer_fire, t);
}

/* Write one half of a split batch: 0 or -1. */
static int
tp_upload_write_half(struct transport *t, uint64_t id, const char *json,
    size_t len, uint32_t nsamples, uint32_t nevents, uint64_t created_ms)
{
	struct spool_hdr h = { .batch_id = id, .created_ms = created_ms,
	    .nsamples = nsamples, .nevents = nevents };
	unsigned char *gz;
	size_t gzlen;
	int rc;

	if (proto_gzip(json, len, &gz, &gzlen) != PROTO_OK)
		return -1;
	h.payload_len = gzlen;
	h.payload_crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), gz, gzlen);
	rc = tp_spool_write(&t->spool, &h, gz);
	free(gz);
	return rc;
}

/*
 * 413: the hub finds the batch too large. Split it into two new batches
 * (new ids: an id once sent is never reused for other content), written
 * durably before the original is deleted, so a crash in between sends
 * items twice at worst, never loses them.
 */
static void
tp_upload_split(struct transport *t, uint64_t id, uint64_t created_ms,
    uint32_t nsamples, uint32_t nevents, const unsigned char *gz, size_t gzlen)
{
	char *json = NULL, *a = NULL, *b = NULL, why[128];
	size_t jlen, alen, blen;
	uint32_t as = 0, bs = 0;
	uint64_t ida, idb;
	int rc;

	if (proto_gunzip(gz, gzlen, TP_UPLOAD_MAX_JSON, &json, &jlen, why,
	    sizeof(why)) != PROTO_OK) {
		t->spool.quarantined++;
		tp_spool_quarantine(&t->spool, id, "HTTP 413 and the batch does not "
		    "decompress");
		return;
	}
	if ((ida = tp_spool_alloc_id(&t->spool)) == 0 ||
	    (idb = tp_spool_alloc_id(&t->spool)) == 0) {
		free(json);
		tp_upload_retry_later(t, tp_backoff_next(t, &t->upload_fails));
		return;
	}
	rc = tp_batch_split(json, jlen, ida, idb, &a, &alen, &as, &b, &blen, &bs);
	free(json);
	if (rc != 0) {
		t->spool.quarantined++;
		tp_spool_quarantine(&t->spool, id, rc == 1 ? "HTTP 413 for a "
		    "single item: larger than the hub accepts" :
		    "HTTP 413 and the batch cannot be split");
		return;
	}
	/* The first half carries the original's dropped_samples: it is the
	 * difference between the original's count and its samples. */
	if (nsamples > as + bs)
		as += nsamples - (as + bs);
	/* Its events (and dropped_events) count with the first half: a
	 * split is rare, and counting them there never loses them. */
	if (tp_upload_write_half(t, ida, a, alen, as, nevents, created_ms) == -1) {
		cJSON_free(a);
		cJSON_free(b);
		tp_upload_retry_later(t, tp_backoff_next(t, &t->upload_fails));
		return;
	}
	if (tp_upload_write_half(t, idb, b, blen, bs, 0, created_ms) == -1) {
		tp_spool_remove(&t->spool, ida);
		cJSON_free(a);
		cJSON_free(b);
		tp_upload_retry_later(t, tp_backoff_next(t, &t->upload_fails));
		return;
	}
	cJSON_free(a);
	cJSON_free(b);
	tp_spool_remove(&t->spool, id);
	log_info("transport: the hub found batch %" PRIu64 " too large (HTTP "
	    "413): split into batches %" PRIu64 " and %" PRIu64, id, ida, idb);
}

void
tp_upload_done(struct transport *t, struct tp_req *r, CURLcode rc, long status)
{
	uint64_t now = loop_now_ms(t->loop), id = t->upload_id, delay;
	unsigned char *body = t->upload_body;
	struct spool_entry *e = tp_spool_find(&t->spool, id);
	uint32_t nsamples = e != NULL ? e->nsamples : 0;
	uint32_t nevents = e != NULL ? e->nevents : 0;
	char why[CURL_ERROR_SIZE + 64];

	if (e != NULL)
		e->busy = false;
	t->upload_id = 0;
	t->upload_body = NULL;
	/* The body buffer must outlive the transfer (CURLOPT_POSTFIELDS). */
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, NULL);

	if (rc != CURLE_OK) {
		delay = tp_backoff_next(t, &t->upload_fails);
		log_complain(&t->upload_complain, now, LOG_LVL_WARN,
		    "transport: upload of batch %" PRIu64 " to %s failed: %s; "
		    "retrying in %" PRIu64 " ms", id, t->base_url,
		    tp_http_req_error(r, rc, why, sizeof(why)), delay);
		tp_upload_retry_later(t, delay);
	} else if (status >= 200 && status <= 299) {
		tp_spool_remove(&t->spool, id);
		t->st.batches_sent++;
		t->upload_fails = 0;
		tp_contact(t);
		log_release(&t->upload_complain, "transport: uploads to %s work "
		    "again", t->base_url);
		if (t->poll_fails == 0)
			log_release(&t->auth_complain, "transport: the hub %s "
			    "accepts this agent's token again", t->base_url);
		log_debug("transport: batch %" PRIu64 " delivered (HTTP %ld)",
		    id, status);
		tp_upload_kick(t);
	} else if (status == 413) {
		/* The hub is there and answering: go on at once (unless the
		 * split itself failed and set a retry timer). */
		tp_upload_split(t, id, t->upload_created_ms, nsamples, nevents,
		    body, t->upload_len);
		tp_upload_kick(t);
	} else if (status >= 400 && status <= 499 && status != 401 &&
	    status != 403 && status != 408 && status != 429) {
		/* The hub will never take this batch: set it aside for a
		 * person, and keep the rest moving (after a pause, in case the
		 * hub rejects everything). */
		char reason[64];
		snprintf(reason, sizeof(reason), "rejected by the hub with HTTP %ld",
		    status);
		t->spool.quarantined++;
		tp_spool_quarantine(&t->spool, id, reason);
		tp_upload_retry_later(t, tp_backoff_next(t, &t->upload_fails));
	} else {
		delay = tp_failure_delay(t, r, status, &t->upload_fails);
		if (status == 401 || status == 403)
			tp_complain_auth(t, now, status, delay);
		else
			log_complain(&t->upload_complain, now, LOG_LVL_WARN,
			    "transport: upload of batch %" PRIu64 " to %s: HTTP "
			    "%ld; retrying in %" PRIu64 " ms", id, t->base_url,
			    status, delay);
		tp_upload_retry_later(t, delay);
	}
	free(body);
}
