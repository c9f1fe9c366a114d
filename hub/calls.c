/*
 * The API's store calls as jobs (hub_int.h, "calls.c"): each runs on a
 * store worker (work.c) with that worker's store, reads its inputs from
 * the hub_call and leaves its answer there for the loop.
 */
#include "hub/hub_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hub_call *
hub_call_new(void (*run)(struct hub_job *, struct hub_store *))
{
	struct hub_call *c = calloc(1, sizeof(*c));

	if (c != NULL)
		c->job.run = run;
	return c;
}

void
hub_call_free(struct hub_call *c)
{
	if (c == NULL)
		return;
	free(c->type);
	free(c->text);
	free(c->touch);
	hub_buf_free(&c->poll.commands);
	hub_buf_free(&c->upload);
	hub_batch_end(c);
	hub_buf_free(&c->out);
	hub_buf_free(&c->ids);
	hub_buf_free(&c->agents);
	cJSON_Delete(c->json);
	if (c->more_free != NULL)
		c->more_free(c->more);
	explicit_bzero(c->token, sizeof(c->token));
	free(c);
}

void
hub_call_add_id(const char *id, void *arg)
{
	struct hub_call *c = arg;

	(void)hub_buf_add(&c->ids, id, strlen(id) + 1);
}

void
hub_call_auth(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;
	int64_t id;

	if (c->agent_id > 0) {
		j->rc = 1;
		return;
	}
	id = hub_store_agent_by_token(s, c->hash, c->name, sizeof(c->name));
	c->agent_id = id > 0 ? id : 0;
	j->rc = id > 0 ? 1 : (int)id;
}

/* Operator routes naming an agent: its id (job.rc 1, 0 none, -1). */
static void
call_by_name(struct hub_call *c, struct hub_store *s)
{
	int64_t id = hub_store_agent_by_name(s, c->name);

	c->agent_id = id > 0 ? id : 0;
	c->job.rc = id > 0 ? 1 : (int)id;
}

void
hub_call_poll(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	hub_call_auth(j, s);
	if (j->rc <= 0)
		return;
	c->poll.ack = c->ack[0] != '\0' ? c->ack : NULL;
	j->rc = hub_store_poll(s, c->agent_id, &c->poll) == 0 ? 1 : -1;
	if (j->rc < 0)
		snprintf(c->err, sizeof(c->err), "%s", hub_store_errmsg(s));
}

void
hub_call_command_add(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	call_by_name(c, s);
	if (j->rc <= 0)
		return;
	j->rc = hub_store_command_add(s, c->agent_id, c->id, c->type, c->text,
	    c->now_ms, c->expires_ms, c->who[0] ? c->who : NULL) == 0 ? 1 : -1;
	if (j->rc < 0)
		snprintf(c->err, sizeof(c->err), "%s", hub_store_errmsg(s));
}

void
hub_call_command_get(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	j->rc = hub_store_command_get(s, c->id, &c->json, &c->final);
}

void
hub_call_agents(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	j->rc = hub_store_agents(s, &c->json) == 0 ? 1 : -1;
}

void
hub_call_devices(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	call_by_name(c, s);
	if (j->rc > 0)
		j->rc = hub_store_devices(s, c->agent_id, &c->out) == 0 ? 1 : -1;
}

void
hub_call_samples(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	call_by_name(c, s);
	if (j->rc > 0)
		j->rc = hub_store_samples(s, c->agent_id, c->device, &c->page,
		    &c->out) == 0 ? 1 : -1;
}

static void
call_lease_cb(int64_t agent_id, void *arg)
{
	struct hub_call *c = arg;

	(void)hub_buf_add(&c->agents, &agent_id, sizeof(agent_id));
}

/* Once a second: expiry, leases due, last_seen, a slice of retention. */
void
hub_call_tick(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;

	hub_buf_init(&c->ids, (size_t)1 << 20);
	hub_buf_init(&c->agents, (size_t)1 << 20);
	if (hub_store_expire(s, c->now_ms, hub_call_add_id, c) > 0)
		log_debug("commands expired");
	if (c->leases)
		(void)hub_store_leases_due(s, c->now_ms, call_lease_cb, c);
	if (c->ntouch > 0 && hub_store_begin(s) == 0) {
		for (size_t i = 0; i < c->ntouch; i++) {
			const struct hub_touch *t = &c->touch[i];

			if (hub_store_agent_touch(s, t->id, t->last_seen_ms,
			    t->address, t->version) == -1)
				break;
		}
		(void)hub_store_commit(s);
	}
	c->cleaned = -1;
	if (c->cleanup)
		c->cleaned = hub_store_cleanup(s, c->cutoff_ms, c->max_rows);
}
