/*
 * GET /v1/agents/{agent}/events (docs/protocol.md): the SNMP
 * notifications an agent forwarded, a page at a time like samples, and
 * with wait= a long poll that is answered when a new event of that agent
 * is stored or the wait ends.
 *
 * A held request looks again (a store call, off the loop) each time
 * events are stored for its agent:
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
hub_events_batch_stored(struct hub *h, int64_t agent_id, bool events)
{
	/* Some may have been stored before (or skipped): the waiters look. */
	if (events && h->event_waiters != NULL)
		hub_events_wake(h, agent_id);
}

void
hub_call_events(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;
	int64_t id = hub_store_agent_by_name(s, c->name);

	c->agent_id = id > 0 ? id : 0;
	j->rc = id > 0 ? 1 : (int)id;
	if (id > 0)
		j->rc = hub_store_events(s, id, c->device[0] ? c->device : NULL,
		    &c->page, &c->out) == 0 ? 1 : -1;
}

void
hub_events_get(struct hub_req *r, struct hub_call *c)
{
	struct hub *h = r->hub;
	uint64_t now = loop_now_ms(h->loop);
	const char *d = hub_req_query(r, "device");
	size_t len;

	if (c != NULL)
		goto done;
	/* the deadline once: a read again keeps it */
	if (hub_api_wait(r, HUB_EVENTS_WAIT_MAX) == -1)
		return;
	if ((c = hub_call_new(hub_call_events)) == NULL) {
		(void)hub_api_call(r, NULL);   /* 503 */
		return;
	}
	if (d != NULL && hub_device_normalize(d, c->device,
	    sizeof(c->device)) == -1) {
		hub_call_free(c);
		hub_respond_error(r, MHD_HTTP_BAD_REQUEST,
		    "device must be ADDRESS[:PORT]");
		return;
	}
	if (hub_api_page(r, &c->page) == -1) {
		hub_call_free(c);
		return;
	}
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
	if (c->page.more)
		snprintf(r->next_cursor, sizeof(r->next_cursor), "%lld.%lld",
		    (long long)c->page.last_ts, (long long)c->page.last_id);
	/* "[]" is an empty page: hold it while there is time. */
	if (c->out.len > 2 || h->draining || now >= r->deadline_ms ||
	    r->wake == HUB_WAKE_TIMEOUT) {
		len = c->out.len;
		hub_respond(r, MHD_HTTP_OK, "application/json",
		    hub_buf_take(&c->out), len);
		goto out;
	}
	if (h->events != c->events) {
		/* Events may have been stored while the store was read. */
		hub_call_free(c);
		hub_events_get(r, NULL);
		return;
	}
	/* One already held (woken by an event that was not for it) goes back. */
	if (!r->held && h->nevent_waiters >= HUB_EVENT_WAITERS_MAX) {
		log_complain(&h->limit_complain, now, LOG_LVL_WARN, "%zu event "
		    "waits held: answering 503 to new ones", h->nevent_waiters);
		r->retry_after = EVENTS_RETRY_S;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "too many held event requests (%d)", HUB_EVENT_WAITERS_MAX);
		goto out;
	}
	r->ev_agent = c->agent_id;
	hub_req_suspend(r, r->deadline_ms - now);
out:
	hub_call_free(c);
}
