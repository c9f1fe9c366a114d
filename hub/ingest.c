/*
 * Untrusted JSON: checked for depth (protocol/) before cJSON recurses
 * into it, parsed under an allocation budget, then strictly (UTF-8,
 * exact integers). Gzip and the command and batch schemas are
 * protocol/'s, shared with the agent.
 */
#include "hub/hub_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cJSON allocates through these: during hub_json_parse() the bytes it
 * asks for are counted and refused past the budget. Frees are not
 * subtracted (a parse barely frees), which keeps this a plain counter. */
static _Thread_local bool   json_budget_on, json_budget_hit;
static _Thread_local size_t json_budget_used;   /* per thread: workers */

static void *
hub_json_malloc(size_t n)
{
	if (json_budget_on) {
		if (n > HUB_JSON_PARSE_BUDGET - json_budget_used) {
			json_budget_hit = true;
			return NULL;
		}
		json_budget_used += n;
	}
	return malloc(n);
}

static void
hub_json_free(void *p)
{
	free(p);
}

void
hub_json_init(void)
{
	cJSON_Hooks hooks = { hub_json_malloc, hub_json_free };

	cJSON_InitHooks(&hooks);
}

/* An agent's batch is named by its id, so the log line says which. */
static void
hub_json_error(const char *s, size_t len, const char *msg, char *err,
    size_t errlen)
{
	int64_t id;

	if (json_top_int(s, len, "batch_id", &id))
		snprintf(err, errlen, "batch %lld: %s", (long long)id, msg);
	else
		snprintf(err, errlen, "%s", msg);
}

int
hub_json_check(const char *s, size_t len, char *err, size_t errlen)
{
	char msg[240];

	if (proto_json_depth(s, len, PROTO_JSON_MAX_DEPTH) > PROTO_JSON_MAX_DEPTH) {
		snprintf(err, errlen, "JSON nested deeper than %d", PROTO_JSON_MAX_DEPTH);
		return HUB_IN_BAD;
	}
	if (json_exact(s, len, NULL, msg, sizeof(msg)) == -1) {
		hub_json_error(s, len, msg, err, errlen);
		return HUB_IN_BAD;
	}
	return HUB_IN_OK;
}

int
hub_json_parse(const char *s, size_t len, cJSON **out, char *err, size_t errlen)
{
	const char *end = NULL;
	char msg[240];
	bool over;

	*out = NULL;
	if (proto_json_depth(s, len, PROTO_JSON_MAX_DEPTH) > PROTO_JSON_MAX_DEPTH) {
		snprintf(err, errlen, "JSON nested deeper than %d", PROTO_JSON_MAX_DEPTH);
		return HUB_IN_BAD;
	}
	json_budget_on = true;
	json_budget_hit = false;
	json_budget_used = 0;
	*out = cJSON_ParseWithLengthOpts(s, len, &end, false);
	over = json_budget_hit;
	json_budget_on = false;
	if (*out == NULL) {
		if (over) {
			snprintf(err, errlen, "JSON too large to parse (over %u MiB "
			    "of values)", HUB_JSON_PARSE_BUDGET >> 20);
			return HUB_IN_TOO_BIG;
		}
		/* The strict walk names the problem better, when it sees one. */
		if (json_exact(s, len, NULL, msg, sizeof(msg)) == 0)
			snprintf(msg, sizeof(msg), "invalid JSON at byte %zu",
			    end != NULL && end >= s ? (size_t)(end - s) : (size_t)0);
		hub_json_error(s, len, msg, err, errlen);
		return HUB_IN_BAD;
	}
	/* Only blanks may follow the value. */
	for (const char *p = end; p != NULL && (size_t)(p - s) < len; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			snprintf(err, errlen, "invalid JSON: data after the value "
			    "at byte %zu", (size_t)(p - s));
			cJSON_Delete(*out);
			*out = NULL;
			return HUB_IN_BAD;
		}
	}
	/* Strict UTF-8 and grammar (what we store we serve, and it must be
	 * valid JSON), and long integers kept exact. */
	if (json_exact(s, len, *out, msg, sizeof(msg)) == -1) {
		hub_json_error(s, len, msg, err, errlen);
		cJSON_Delete(*out);
		*out = NULL;
		return HUB_IN_BAD;
	}
	return HUB_IN_OK;
}

int
hub_device_normalize(const char *in, char *out, size_t outlen)
{
	char host[256], err[128];
	unsigned port = 161;
	int n;

	if (strlen(in) > 300 ||
	    net_hostport_parse(in, host, sizeof(host), &port, err, sizeof(err)) == -1)
		return -1;
	if (port == 0)
		port = 161;
	if (strchr(host, ':') != NULL)
		n = snprintf(out, outlen, "[%s]:%u", host, port);
	else
		n = snprintf(out, outlen, "%s:%u", host, port);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
