/*
 * Untrusted input: gzip bodies inflated under a cap (a zip bomb stops at
 * the cap, not at the end of memory), JSON checked for depth before
 * cJSON recurses into it and parsed under an allocation budget, and
 * operators' command objects validated before they are queued.
 */
#include "hub/hub_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int
hub_gunzip(const void *in, size_t inlen, size_t max, char **out,
    size_t *outlen, char *err, size_t errlen)
{
	struct hub_buf b;
	unsigned char chunk[65536];
	z_stream zs;
	int zrc, rc = HUB_IN_OK;

	*out = NULL;
	*outlen = 0;
	if (inlen > UINT_MAX) {
		snprintf(err, errlen, "compressed body too large");
		return HUB_IN_TOO_BIG;
	}
	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: gzip wrapper only (RFC 1952). */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		snprintf(err, errlen, "out of memory");
		return HUB_IN_BAD;
	}
	hub_buf_init(&b, max);
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (unsigned)inlen;
	for (;;) {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zrc = inflate(&zs, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
			snprintf(err, errlen, "invalid gzip data%s%s",
			    zs.msg ? ": " : "", zs.msg ? zs.msg : "");
			rc = HUB_IN_BAD;
			break;
		}
		if (hub_buf_add(&b, chunk, sizeof(chunk) - zs.avail_out) == -1) {
			snprintf(err, errlen, "body inflates to more than %zu bytes",
			    max);
			rc = HUB_IN_TOO_BIG;
			break;
		}
		if (zrc == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* Another gzip member follows (RFC 1952 2.2). */
			if (inflateReset(&zs) != Z_OK) {
				snprintf(err, errlen, "invalid gzip data");
				rc = HUB_IN_BAD;
				break;
			}
			continue;
		}
		if (zrc == Z_BUF_ERROR || (zs.avail_in == 0 && zs.avail_out != 0)) {
			/* No progress possible: the input ended mid-stream. */
			snprintf(err, errlen, "truncated gzip data");
			rc = HUB_IN_BAD;
			break;
		}
	}
	inflateEnd(&zs);
	if (rc != HUB_IN_OK) {
		hub_buf_free(&b);
		return rc;
	}
	if (b.len == 0 && hub_buf_add(&b, "", 0) == -1) {
		hub_buf_free(&b);
		return HUB_IN_TOO_BIG;
	}
	*outlen = b.len;
	*out = hub_buf_take(&b);
	return HUB_IN_OK;
}

bool
hub_json_depth_ok(const char *s, size_t len, int maxdepth)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > maxdepth)
				return false;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return true;
}

/* cJSON allocates through these: during hub_json_parse() the bytes it
 * asks for are counted and refused past the budget. Frees are not
 * subtracted (a parse barely frees), which keeps this a plain counter. */
static bool   json_budget_on, json_budget_hit;
static size_t json_budget_used;

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
hub_json_parse(const char *s, size_t len, cJSON **out, char *err, size_t errlen)
{
	const char *end = NULL;
	char msg[240];
	bool over;

	*out = NULL;
	if (!hub_json_depth_ok(s, len, HUB_JSON_MAX_DEPTH)) {
		snprintf(err, errlen, "JSON nested deeper than %d", HUB_JSON_MAX_DEPTH);
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

static const char *const hub_command_types[] = {
	"snmp.get", "snmp.walk", "snmp.set", "scan", "poll.now", "agent.info",
};

static bool
hub_strings_ok(const cJSON *arr, int min, int max, size_t maxlen)
{
	const cJSON *e;
	int n = 0;

	if (!cJSON_IsArray(arr))
		return false;
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsString(e) || e->valuestring[0] == '\0' ||
		    strlen(e->valuestring) > maxlen)
			return false;
		n++;
	}
	return n >= min && n <= max;
}

static bool
hub_target_ok(const cJSON *t)
{
	char host[256], err[128];
	unsigned port;

	return cJSON_IsString(t) && strlen(t->valuestring) <= 300 &&
	    net_hostport_parse(t->valuestring, host, sizeof(host), &port, err,
	    sizeof(err)) == 0;
}

int
hub_command_validate(const cJSON *cmd, char *err, size_t errlen)
{
	const cJSON *type, *args, *j;
	const char *t = NULL;
	int64_t v;
	bool snmp;

	if (!cJSON_IsObject(cmd)) {
		snprintf(err, errlen, "the command must be a JSON object");
		return -1;
	}
	type = cJSON_GetObjectItemCaseSensitive(cmd, "type");
	if (cJSON_IsString(type))
		for (size_t i = 0; i < countof(hub_command_types); i++)
			if (strcmp(type->valuestring, hub_command_types[i]) == 0)
				t = hub_command_types[i];
	if (t == NULL) {
		snprintf(err, errlen, "\"type\" must be one of snmp.get, snmp.walk, "
		    "snmp.set, scan, poll.now, agent.info");
		return -1;
	}
	snmp = strncmp(t, "snmp.", 5) == 0;
	j = cJSON_GetObjectItemCaseSensitive(cmd, "target");
	if ((j != NULL || snmp) && !hub_target_ok(j)) {
		snprintf(err, errlen, "\"target\" must be HOST[:PORT]");
		return -1;
	}
	/* A name, or an inline object that only an agent whose [policy]
	 * allow_inline_credentials is set will use. */
	j = cJSON_GetObjectItemCaseSensitive(cmd, "credential");
	if (j != NULL && !cJSON_IsObject(j) &&
	    (!cJSON_IsString(j) || !hub_name_valid(j->valuestring))) {
		snprintf(err, errlen, "\"credential\" must be a credential name "
		    "(1-63 of A-Za-z0-9_.-) or an inline credential object");
		return -1;
	}
	/* SNMPv3 contextName: SnmpAdminString (SIZE(0..32)), RFC 3411. */
	j = cJSON_GetObjectItemCaseSensitive(cmd, "context");
	if (j != NULL && (!snmp || !cJSON_IsString(j) ||
	    strlen(j->valuestring) > 32)) {
		snprintf(err, errlen, "\"context\" must be a string of at most 32 "
		    "characters, for snmp.* commands");
		return -1;
	}
	j = cJSON_GetObjectItemCaseSensitive(cmd, "timeout_ms");
	if (j != NULL && !json_int_exact(j, 1, 86400000, &v)) {
		snprintf(err, errlen, "\"timeout_ms\" must be an integer, 1-86400000");
		return -1;
	}
	args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	if (args != NULL && !cJSON_IsObject(args)) {
		snprintf(err, errlen, "\"args\" must be an object");
		return -1;
	}
	if (strcmp(t, "snmp.get") == 0) {
		if (!hub_strings_ok(cJSON_GetObjectItemCaseSensitive(args, "oids"),
		    1, 128, 1024)) {
			snprintf(err, errlen, "snmp.get needs \"args\": {\"oids\": "
			    "[1-128 OIDs]}");
			return -1;
		}
	} else if (strcmp(t, "snmp.walk") == 0) {
		j = cJSON_GetObjectItemCaseSensitive(args, "oid");
		if (!cJSON_IsString(j) || j->valuestring[0] == '\0') {
			snprintf(err, errlen, "snmp.walk needs \"args\": {\"oid\": OID}");
			return -1;
		}
		j = cJSON_GetObjectItemCaseSensitive(args, "max_varbinds");
		if (j != NULL && !json_int_exact(j, 1, 10000000, &v)) {
			snprintf(err, errlen, "\"max_varbinds\" must be a positive integer");
			return -1;
		}
	} else if (strcmp(t, "snmp.set") == 0) {
		const cJSON *vb;
		int n = 0;

		j = cJSON_GetObjectItemCaseSensitive(args, "varbinds");
		if (!cJSON_IsArray(j)) {
			snprintf(err, errlen, "snmp.set needs \"args\": {\"varbinds\": "
			    "[{oid, type, value}]}");
			return -1;
		}
		cJSON_ArrayForEach(vb, j) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(vb, "oid");
			const cJSON *ty = cJSON_GetObjectItemCaseSensitive(vb, "type");

			if (!cJSON_IsString(o) || !cJSON_IsString(ty) ||
			    strlen(ty->valuestring) != 1 ||
			    strchr("iucsxdnota", ty->valuestring[0]) == NULL ||
			    cJSON_GetObjectItemCaseSensitive(vb, "value") == NULL) {
				snprintf(err, errlen, "snmp.set varbind %d: needs oid, "
				    "type (one of i u c s x d n o t a) and value", n);
				return -1;
			}
			n++;
		}
		if (n == 0 || n > 128) {
			snprintf(err, errlen, "snmp.set needs 1-128 varbinds");
			return -1;
		}
	} else if (strcmp(t, "scan") == 0) {
		if (!hub_strings_ok(cJSON_GetObjectItemCaseSensitive(args,
		    "networks"), 1, 1024, 128)) {
			snprintf(err, errlen, "scan needs \"args\": {\"networks\": "
			    "[targets]}");
			return -1;
		}
		j = cJSON_GetObjectItemCaseSensitive(args, "credentials");
		if (j != NULL && !hub_strings_ok(j, 0, 64, HUB_NAME_MAX)) {
			snprintf(err, errlen, "\"credentials\" must be a list of names");
			return -1;
		}
		j = cJSON_GetObjectItemCaseSensitive(args, "port");
		if (j != NULL && !json_int_exact(j, 1, 65535, &v)) {
			snprintf(err, errlen, "\"port\" must be 1-65535");
			return -1;
		}
	} else if (strcmp(t, "poll.now") == 0) {
		j = cJSON_GetObjectItemCaseSensitive(args, "device");
		if (j != NULL && !hub_target_ok(j)) {
			snprintf(err, errlen, "\"device\" must be HOST[:PORT]");
			return -1;
		}
		j = cJSON_GetObjectItemCaseSensitive(args, "profile");
		if (j != NULL && !cJSON_IsString(j)) {
			snprintf(err, errlen, "\"profile\" must be a string");
			return -1;
		}
	}
	return 0;
}
