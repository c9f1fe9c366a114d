/*
 * GET /v1/agents/{agent}/events (docs/protocol.md): the SNMP
 * notifications an agent forwarded, a page at a time like samples, and
 * with wait= a long poll that is answered when a new event of that agent
 * is stored or the wait ends.
 *
 * A held request looks again each time events are stored for its agent:
 * by a batch on this node, or on another node of a PostgreSQL group
 * (NOTIFY 'e:AGENT_ID', delivered through hub_store_watch). Events that
 * do not match it (another device, older than since) put it back to
 * wait for the rest of its time. At most HUB_EVENT_WAITERS_MAX are held
 * on a node; past that the answer is 503 with Retry-After.
 */
#include "hub/hub_int.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#define EVENTS_RETRY_S 5   /* Retry-After when too many are held */

void
hub_events_wake(struct hub *h, int64_t agent_id)
{
	struct hub_req *r = h->event_waiters, *next;

	for (; r != NULL; r = next) {
		next = r->cw_next;
		if (r->ev_agent == agent_id)
			hub_req_wake(r, HUB_WAKE_EVENT);
	}
}

void
hub_events_batch_stored(struct hub *h, int64_t agent_id, const cJSON *batch)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(batch, "events");

	/* Some may have been stored before (or skipped): the waiters look. */
	if (cJSON_GetArraySize(ev) > 0 && h->event_waiters != NULL)
		hub_events_wake(h, agent_id);
}

/* wait= on the first pass: the deadline; -1 when answered (400). */
static int
events_wait(struct hub_req *r, uint64_t now)
{
	const char *w = hub_req_query(r, "wait");
	int64_t wait = 0;

	if (w != NULL && *w != '\0' &&
	    parse_int(w, 0, HUB_EVENTS_WAIT_MAX, &wait) == -1) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST,
		    "wait must be 0-%d seconds", HUB_EVENTS_WAIT_MAX);
		return -1;
	}
	r->deadline_ms = now + (uint64_t)wait * 1000;
	return 0;
}

void
hub_events_get(struct hub_req *r)
{
	struct hub *h = r->hub;
	uint64_t now = loop_now_ms(h->loop);
	const char *d = hub_req_query(r, "device");
	struct hub_samples_page pg;
	char device[300];
	struct hub_buf b;
	size_t len;
	int64_t id;

	if (!r->held && events_wait(r, now) == -1)
		return;
	if (d != NULL && hub_device_normalize(d, device, sizeof(device)) == -1) {
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST,
		    "device must be ADDRESS[:PORT]");
		return;
	}
	if (hub_api_page(r, &pg) == -1 || (id = hub_api_agent_id(r)) <= 0)
		return;
	if (hub_store_events(h->store, id, d != NULL ? device : NULL, &pg,
	    &b) == -1) {
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "store error");
		return;
	}
	if (pg.more)
		snprintf(r->next_cursor, sizeof(r->next_cursor), "%lld.%lld",
		    (long long)pg.last_ts, (long long)pg.last_id);
	/* "[]" is an empty page: hold it while there is time. */
	if (b.len > 2 || h->draining || now >= r->deadline_ms ||
	    r->wake == HUB_WAKE_TIMEOUT) {
		len = b.len;
		hub_respond(r, MHD_HTTP_OK, "application/json", hub_buf_take(&b),
		    len);
		return;
	}
	hub_buf_free(&b);
	/* One already held (woken by an event that was not for it) goes back. */
	if (!r->held && h->nevent_waiters >= HUB_EVENT_WAITERS_MAX) {
		log_complain(&h->limit_complain, now, LOG_LVL_WARN, "%zu event "
		    "waits held: answering 503 to new ones", h->nevent_waiters);
		r->retry_after = EVENTS_RETRY_S;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "too many held event requests (%d)", HUB_EVENT_WAITERS_MAX);
		return;
	}
	r->ev_agent = id;
	hub_req_suspend(r, r->deadline_ms - now);
}
