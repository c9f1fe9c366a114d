/*
 * The once-a-second housekeeping (hub_int.h, api.c's): expiry, lease
 * wake-ups, agents' last_seen and a slice of retention, as one store
 * call on a worker (calls.c, hub_call_tick); the loop handles what it
 * found.
 */
#include "hub/hub_int.h"

#include <stdlib.h>
#include <string.h>

#define TICK_FLUSH_EVERY_MS    10000   /* last_seen to the store */
#define TICK_CLEANUP_EVERY_MS  600000
#define TICK_CLEANUP_ROWS      5000    /* per table and turn: short pauses */

static void
tick_command_done_cb(const char *id, void *arg)
{
	hub_api_command_changed(arg, id);
}


void
hub_api_tick_flush(struct hub *h)
{
	bool begun = false;

	/* At shutdown, the workers stopped: on the loop's store. */
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

/* The agents whose last_seen is to be stored, into the tick's call. */
static void
tick_touch(struct hub *h, struct hub_call *c)
{
	size_t n = 0, i = 0;

	for (size_t b = 0; b < HUB_AGENT_BUCKETS; b++)
		for (struct hub_agent *a = h->agents[b]; a != NULL; a = a->next)
			n += a->dirty;
	if (n == 0 || (c->touch = calloc(n, sizeof(*c->touch))) == NULL)
		return;
	for (size_t b = 0; b < HUB_AGENT_BUCKETS; b++) {
		for (struct hub_agent *a = h->agents[b]; a != NULL; a = a->next) {
			if (!a->dirty || i == n)
				continue;
			c->touch[i].id = a->id;
			c->touch[i].last_seen_ms = a->last_seen_ms;
			memcpy(c->touch[i].address, a->address, sizeof(a->address));
			memcpy(c->touch[i].version, a->version, sizeof(a->version));
			a->dirty = false;
			i++;
		}
	}
	c->ntouch = i;
}

static void
tick_done(struct hub_job *j)
{
	struct hub_call *c = (struct hub_call *)j;
	struct hub *h = c->job.req == NULL ? (struct hub *)c->text : NULL;
	uint64_t now = loop_now_ms(h->loop);

	h->tick_job = NULL;
	hub_store_each_id(&c->ids, tick_command_done_cb, h);
	for (size_t off = 0; off + sizeof(int64_t) <= c->agents.len;
	    off += sizeof(int64_t)) {
		int64_t id;
		struct hub_agent *a;

		memcpy(&id, c->agents.data + off, sizeof(id));
		h->events++;
		if ((a = hub_agent_find(h, id)) != NULL && a->poll != NULL)
			hub_req_wake(a->poll, HUB_WAKE_EVENT);
	}
	if (c->cleaned > 0)
		log_info("retention: %d old rows deleted", c->cleaned);
	/* More left: go on next second, a slice at a time. */
	if (c->cleaned >= TICK_CLEANUP_ROWS)
		h->next_cleanup_ms = now + 1000;
	c->text = NULL;
	hub_call_free(c);
}

void
hub_api_tick(struct hub *h)
{
	uint64_t wall = wall_ms(), now = loop_now_ms(h->loop);
	struct hub_call *c;

	if (h->tick_job != NULL)
		return;   /* the last one is still at the store */
	if ((c = hub_call_new(hub_call_tick)) == NULL)
		return;
	c->job.done = tick_done;
	c->text = (char *)h;   /* the hub, for tick_done */
	c->now_ms = wall;
	c->leases = h->nheld > 0;
	if (now >= h->next_flush_ms) {
		tick_touch(h, c);
		h->next_flush_ms = now + TICK_FLUSH_EVERY_MS;
	}
	if (now >= h->next_cleanup_ms && wall > h->cfg->retention) {
		c->cleanup = true;
		c->cutoff_ms = wall - h->cfg->retention;
		c->max_rows = TICK_CLEANUP_ROWS;
		h->next_cleanup_ms = now + TICK_CLEANUP_EVERY_MS;
	}
	if (hub_work_submit(h, &c->job) == -1) {
		/* Busy: the last_seen of these go next time. */
		for (size_t i = 0; i < c->ntouch; i++) {
			struct hub_agent *a = hub_agent_find(h, c->touch[i].id);

			if (a != NULL)
				a->dirty = true;
		}
		c->text = NULL;
		hub_call_free(c);
		return;
	}
	h->tick_job = &c->job;
}
