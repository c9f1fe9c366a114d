/*
 * The command types as one table (docs/protocol.md, "Commands"). The hub
 * checks a command with proto_command_check() when an operator queues
 * it (400 with the reason); the agent runs the same check before it
 * dispatches on the row, then adds what only it can know: its [policy],
 * its credentials, whether an OID name is one it knows.
 */
#include "protocol/protocol.h"

#include <stdio.h>
#include <string.h>

#include "core/core.h"

const struct proto_command proto_commands[PROTO_CMD_COUNT] = {
	[PROTO_CMD_SNMP_GET] = { "snmp.get", true, {
		{ "oids", PROTO_K_OIDS, true, 1, PROTO_GET_MAX_OIDS },
	}, "allow_networks" },
	[PROTO_CMD_SNMP_WALK] = { "snmp.walk", true, {
		{ "oid", PROTO_K_OID, true, 0, 0 },
		{ "max_varbinds", PROTO_K_INT, false, 1, PROTO_WALK_MAX_VARBINDS },
	}, "allow_networks" },
	[PROTO_CMD_SNMP_SET] = { "snmp.set", true, {
		{ "varbinds", PROTO_K_SET_VARBINDS, true, 1, PROTO_SET_MAX_VARBINDS },
	}, "allow_set, set_oids, allow_networks" },
	[PROTO_CMD_SCAN] = { "scan", false, {
		{ "networks", PROTO_K_NETWORKS, true, 1, PROTO_SCAN_MAX_NETWORKS },
		{ "credentials", PROTO_K_NAMES, false, 0, PROTO_SCAN_MAX_CREDENTIALS },
		{ "port", PROTO_K_INT, false, 1, 65535 },
	}, "allow_networks (every address of every network)" },
	[PROTO_CMD_POLL_NOW] = { "poll.now", false, {
		{ "device", PROTO_K_TARGET, false, 0, PROTO_TARGET_MAX },
		{ "profile", PROTO_K_STRING, false, 1, PROTO_NAME_MAX },
	}, "allow_networks (devices outside are skipped)" },
	[PROTO_CMD_AGENT_INFO] = { "agent.info", false, { { NULL } }, "" },
};

/* Secrets stay on the customer's network: only inside an inline
 * "credential" object, which the agent refuses unless its [policy]
 * allow_inline_credentials is set. */
static const char *const proto_top_secrets[] = {
	"community", "auth_password", "priv_password",
};
static const char *const proto_cred_keys[] = {
	"version", "community", "user", "level", "auth_protocol",
	"auth_password", "priv_protocol", "priv_password", "context",
};

static bool
proto_char_id(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool
proto_id_valid(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (n >= max || !proto_char_id((unsigned char)s[n]))
			return false;
	return n > 0;
}

bool
proto_name_valid(const char *s)
{
	return proto_id_valid(s, PROTO_NAME_MAX);
}

int
proto_command_find(const char *type)
{
	for (int i = 0; i < PROTO_CMD_COUNT; i++)
		if (strcmp(type, proto_commands[i].name) == 0)
			return i;
	return -1;
}

/* Dotted decimal arcs from s: count, or -1 (empty arc, non-digit,
 * an arc >= 2^32, more than PROTO_OID_MAX_ARCS). first/second get the
 * first two arcs. */
static int
proto_arcs(const char *s, uint64_t *first, uint64_t *second)
{
	int n = 0;

	for (;;) {
		uint64_t v = 0;
		const char *start = s;

		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (uint64_t)(*s++ - '0');
			if (v > 0xffffffffu)
				return -1;
		}
		if (s == start || n >= PROTO_OID_MAX_ARCS)
			return -1;
		if (n == 0)
			*first = v;
		else if (n == 1)
			*second = v;
		n++;
		if (*s == '\0')
			return n;
		if (*s++ != '.')
			return -1;
	}
}

/* min_arcs: 2 for an OID a PDU names, 1 for a walk root (net-snmp walks
 * "1" too: the whole tree under iso). */
static bool
proto_oid_check_n(const char *s, int min_arcs, char *err, size_t errlen)
{
	uint64_t a = 0, b = 0;
	size_t len = strlen(s);
	int n;

	if (len == 0 || len > PROTO_OID_MAX_LEN) {
		snprintf(err, errlen, "bad OID: %s", len ? "too long" : "empty");
		return false;
	}
	if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
		/* A name (sysName.0): letters, digits, '-'; the agent knows
		 * which names exist. */
		size_t nl = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-");
		if (nl <= 64 && (s[nl] == '\0' ||
		    (s[nl] == '.' && proto_arcs(s + nl + 1, &a, &b) > 0)))
			return true;
		snprintf(err, errlen, "bad OID '%.64s': use numeric OIDs or a "
		    "built-in name such as sysName.0", s);
		return false;
	}
	n = proto_arcs(s + (*s == '.'), &a, &b);
	if (n < min_arcs) {
		snprintf(err, errlen, "bad OID '%.64s': expected dotted numbers "
		    "such as 1.3.6.1.2.1.1.5.0 (%d-%d parts, each < 2^32)", s,
		    min_arcs, PROTO_OID_MAX_ARCS);
		return false;
	}
	/* X.690 8.19.4: the first two arcs share one subidentifier. */
	if (a > 2 || (a < 2 && b > 39) || (a == 2 && b > 0xffffffffu - 80)) {
		snprintf(err, errlen, "bad OID '%.64s': the first part must be 0, "
		    "1 or 2 (and the second below 40 after 0 or 1)", s);
		return false;
	}
	return true;
}

bool
proto_oid_check(const char *s, char *err, size_t errlen)
{
	return proto_oid_check_n(s, 2, err, errlen);
}

bool
proto_oid_root_check(const char *s, char *err, size_t errlen)
{
	return proto_oid_check_n(s, 1, err, errlen);
}

static bool
proto_target_ok(const cJSON *j, char *err, size_t errlen)
{
	char host[256], why[160];
	unsigned port = 0;

	if (!cJSON_IsString(j) || strlen(j->valuestring) > PROTO_TARGET_MAX) {
		snprintf(err, errlen, "must be HOST[:PORT] (a string of at most "
		    "%d bytes)", PROTO_TARGET_MAX);
		return false;
	}
	if (net_hostport_parse(j->valuestring, host, sizeof(host), &port, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return false;
	}
	return true;
}

/* An array of min..max elements. */
static bool
proto_array(const cJSON *j, const struct proto_field *f, char *err,
    size_t errlen, const char *what)
{
	int n = cJSON_IsArray(j) ? cJSON_GetArraySize(j) : -1;

	if (n < f->min || n > f->max) {
		snprintf(err, errlen, "must be an array of %lld-%lld %s",
		    (long long)f->min, (long long)f->max, what);
		return false;
	}
	return true;
}

static bool
proto_set_varbind(const cJSON *vb, char *err, size_t errlen)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(vb, "oid");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(vb, "type");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(vb, "value");

	if (!cJSON_IsString(o) || !cJSON_IsString(t) || !cJSON_IsString(v) ||
	    strlen(t->valuestring) != 1 ||
	    strchr(PROTO_SET_TYPES, t->valuestring[0]) == NULL) {
		snprintf(err, errlen, "needs oid, type (one of i u c s x d n o t a) "
		    "and value, all strings");
		return false;
	}
	return proto_oid_check(o->valuestring, err, errlen);
}

/* Each element of an array argument, by kind. */
static bool
proto_element(const struct proto_field *f, const cJSON *e, char *err,
    size_t errlen)
{
	switch (f->kind) {
	case PROTO_K_OIDS:
		if (!cJSON_IsString(e)) {
			snprintf(err, errlen, "not a string");
			return false;
		}
		return proto_oid_check(e->valuestring, err, errlen);
	case PROTO_K_SET_VARBINDS:
		return proto_set_varbind(e, err, errlen);
	case PROTO_K_NETWORKS:
		if (cJSON_IsString(e) && e->valuestring[0] != '\0' &&
		    strlen(e->valuestring) <= PROTO_NETWORK_MAX_LEN)
			return true;
		snprintf(err, errlen, "must be a network (a string of 1-%d bytes)",
		    PROTO_NETWORK_MAX_LEN);
		return false;
	case PROTO_K_NAMES:
		if (cJSON_IsString(e) && proto_name_valid(e->valuestring))
			return true;
		snprintf(err, errlen, "must be a credential name (1-%d of "
		    "A-Za-z0-9_.-)", PROTO_NAME_MAX);
		return false;
	default:
		return true;
	}
}

static bool
proto_arg(const struct proto_field *f, const cJSON *j, char *err, size_t errlen)
{
	char why[240];
	const cJSON *e;
	int64_t v;
	int i = 0;

	switch (f->kind) {
	case PROTO_K_OID:
		if (!cJSON_IsString(j)) {
			snprintf(err, errlen, "args.%s must be an OID string", f->name);
			return false;
		}
		if (!proto_oid_root_check(j->valuestring, why, sizeof(why))) {
			snprintf(err, errlen, "args.%s: %s", f->name, why);
			return false;
		}
		return true;
	case PROTO_K_INT:
		if (json_int_exact(j, f->min, f->max, &v))
			return true;
		snprintf(err, errlen, "args.%s must be an integer, %lld-%lld",
		    f->name, (long long)f->min, (long long)f->max);
		return false;
	case PROTO_K_TARGET:
		if (proto_target_ok(j, why, sizeof(why)))
			return true;
		snprintf(err, errlen, "args.%s: %s", f->name, why);
		return false;
	case PROTO_K_STRING:
		if (cJSON_IsString(j) && strlen(j->valuestring) >= (size_t)f->min &&
		    strlen(j->valuestring) <= (size_t)f->max)
			return true;
		snprintf(err, errlen, "args.%s must be a string of %lld-%lld bytes",
		    f->name, (long long)f->min, (long long)f->max);
		return false;
	default:
		break;
	}
	/* Arrays. */
	if (!proto_array(j, f, why, sizeof(why), f->kind == PROTO_K_SET_VARBINDS ?
	    "{oid, type, value}" : f->kind == PROTO_K_OIDS ? "OIDs" :
	    f->kind == PROTO_K_NAMES ? "names" : "networks")) {
		snprintf(err, errlen, "args.%s %s", f->name, why);
		return false;
	}
	cJSON_ArrayForEach(e, j) {
		if (!proto_element(f, e, why, sizeof(why))) {
			/* "oid 0" (and friends) as the agent always said. */
			snprintf(err, errlen, "args.%s: %s %d: %s", f->name,
			    f->kind == PROTO_K_OIDS ? "oid" : "item", i, why);
			return false;
		}
		i++;
	}
	return true;
}

/* "credential": a name, or an inline object of the [credential] keys. */
static bool
proto_credential(const cJSON *j, char *err, size_t errlen)
{
	if (cJSON_IsString(j) && proto_name_valid(j->valuestring))
		return true;
	if (cJSON_IsObject(j)) {
		for (size_t i = 0; i < countof(proto_cred_keys); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(j,
			    proto_cred_keys[i]);
			if (v != NULL && (!cJSON_IsString(v) ||
			    strlen(v->valuestring) > PROTO_SECRET_MAX)) {
				snprintf(err, errlen, "inline credential: %s must "
				    "be a string of at most %d bytes",
				    proto_cred_keys[i], PROTO_SECRET_MAX);
				return false;
			}
		}
		return true;
	}
	snprintf(err, errlen, "\"credential\" must be a credential name (1-%d "
	    "of A-Za-z0-9_.-) or an inline credential object", PROTO_NAME_MAX);
	return false;
}

/* What every type shares: type, target, credential, context, timeout. */
static int
proto_envelope(const cJSON *cmd, char *err, size_t errlen)
{
	const cJSON *type, *j;
	char why[200];
	int64_t v;
	int t;

	if (!cJSON_IsObject(cmd)) {
		snprintf(err, errlen, "the command must be a JSON object");
		return -1;
	}
	type = cJSON_GetObjectItemCaseSensitive(cmd, "type");
	if (!cJSON_IsString(type) || (t = proto_command_find(type->valuestring)) < 0) {
		snprintf(err, errlen, "\"type\" must be one of snmp.get, snmp.walk, "
		    "snmp.set, scan, poll.now, agent.info");
		return -1;
	}
	j = cJSON_GetObjectItemCaseSensitive(cmd, "id");
	if (j != NULL && (!cJSON_IsString(j) ||
	    !proto_id_valid(j->valuestring, PROTO_ID_MAX))) {
		snprintf(err, errlen, "\"id\" must be 1-%d of A-Za-z0-9_.-",
		    PROTO_ID_MAX);
		return -1;
	}
	for (size_t i = 0; i < countof(proto_top_secrets); i++) {
		if (cJSON_GetObjectItemCaseSensitive(cmd, proto_top_secrets[i])) {
			snprintf(err, errlen, "\"%s\" at the top level: inline "
			    "credentials go in a \"credential\" object (and only an "
			    "agent with [policy] allow_inline_credentials uses them)",
			    proto_top_secrets[i]);
			return -1;
		}
	}
	j = cJSON_GetObjectItemCaseSensitive(cmd, "target");
	if ((j != NULL || proto_commands[t].snmp) &&
	    !proto_target_ok(j, why, sizeof(why))) {
		snprintf(err, errlen, "\"target\" %s", j ? why : "is missing (HOST[:PORT])");
		return -1;
	}
	j = cJSON_GetObjectItemCaseSensitive(cmd, "credential");
	if (proto_commands[t].snmp && j == NULL) {
		snprintf(err, errlen, "missing credential (the name of a "
		    "[credential] section)");
		return -1;
	}
	if (j != NULL && !proto_credential(j, err, errlen))
		return -1;
	j = cJSON_GetObjectItemCaseSensitive(cmd, "context");
	if (j != NULL && (!proto_commands[t].snmp || !cJSON_IsString(j) ||
	    strlen(j->valuestring) > PROTO_CONTEXT_MAX)) {
		snprintf(err, errlen, "\"context\" must be a string of at most %d "
		    "characters, for snmp.* commands", PROTO_CONTEXT_MAX);
		return -1;
	}
	j = cJSON_GetObjectItemCaseSensitive(cmd, "timeout_ms");
	if (j != NULL && !json_int_exact(j, 1, PROTO_TIMEOUT_MAX_MS, &v)) {
		snprintf(err, errlen, "\"timeout_ms\" must be an integer, 1-%d",
		    PROTO_TIMEOUT_MAX_MS);
		return -1;
	}
	j = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	if (j != NULL && !cJSON_IsObject(j)) {
		snprintf(err, errlen, "\"args\" must be an object");
		return -1;
	}
	return t;
}

int
proto_command_check(const cJSON *cmd, char *err, size_t errlen)
{
	const cJSON *args;
	int t = proto_envelope(cmd, err, errlen);

	if (t < 0)
		return -1;
	args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	for (const struct proto_field *f = proto_commands[t].args;
	    f < proto_commands[t].args + PROTO_MAX_ARGS && f->name; f++) {
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(args, f->name);

		if (j == NULL && !f->required)
			continue;
		if (j == NULL) {
			snprintf(err, errlen, "%s needs args.%s", proto_commands[t].name,
			    f->name);
			return -1;
		}
		if (!proto_arg(f, j, err, errlen))
			return -1;
	}
	return t;
}
