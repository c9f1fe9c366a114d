/*
 * transport_opts from the configuration file, shared by `outpost run` and
 * `outpost transport-selftest` so that both talk to the hub the same way.
 */
#include "transport/transport_int.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"

/* docs/protocol.md: "After start-up it waits a random 0-5 s before its
 * first poll" (a hub restart must not see every agent at once). */
#define START_DELAY_MAX_MS 5000u

int
transport_config_load(struct transport_config *tc, const struct config *cfg,
    char *err, size_t errlen)
{
	const struct config_server *sv = &cfg->server;
	const struct config_upload *up = &cfg->upload;
	struct transport_opts *o = &tc->opts;
	int n;

	memset(tc, 0, sizeof(*tc));
	if (sv->url == NULL) {
		snprintf(err, errlen, "%s: [server] url is required", cfg->path);
		return -1;
	}
	if (sv->token_file == NULL) {
		snprintf(err, errlen, "%s: [server] token_file is required",
		    cfg->path);
		return -1;
	}
	if (cfg->agent.state_dir == NULL) {
		snprintf(err, errlen, "%s: [agent] state_dir is required", cfg->path);
		return -1;
	}
	n = snprintf(tc->spool_dir, sizeof(tc->spool_dir), "%s/spool",
	    cfg->agent.state_dir);
	if (n < 0 || (size_t)n >= sizeof(tc->spool_dir)) {
		snprintf(err, errlen, "%s: [agent] state_dir is too long", cfg->path);
		return -1;
	}
	if (transport_read_token(sv->token_file, tc->token, sizeof(tc->token),
	    err, errlen) == -1)
		return -1;
	o->url = sv->url;
	o->token = tc->token;
	o->poll_wait_ms = sv->poll_wait;
	o->ca_file = sv->ca_file;
	o->client_cert = sv->client_cert;
	o->client_key = sv->client_key;
	o->pinned_pubkey = sv->pinned_pubkey;
	o->proxy = sv->proxy;
	o->allow_insecure_http = sv->allow_insecure_http;
	o->backoff_base_ms = sv->backoff_base;
	o->backoff_cap_ms = sv->backoff_cap;
	o->batch_max_bytes = up->batch_max_bytes;
	o->batch_max_age_ms = up->batch_max_age;
	o->spool_max_bytes = up->spool_max_bytes;
	o->spool_max_age_ms = up->spool_max_age;
	o->spool_dir = tc->spool_dir;
	o->start_delay_max_ms = START_DELAY_MAX_MS;
	o->agent_version = OUTPOST_VERSION;
	return 0;
}

void
transport_config_clear(struct transport_config *tc)
{
	explicit_bzero(tc->token, sizeof(tc->token));
	memset(&tc->opts, 0, sizeof(tc->opts));
}
