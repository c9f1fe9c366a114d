/*
 * The Outpost protocol (docs/protocol.md), written once for both sides:
 * the agent (transport/, agent/) and the reference hub (hub/) link this
 * module, so a limit, a command type or an argument rule cannot differ
 * between what the hub queues and what the agent runs.
 *
 *   protocol.h  the protocol's numbers (limits)
 *   command.c   the command table, argument schemas, OID syntax
 *   codec.c     gzip with a maximum, JSON depth, batch schema, tokens
 *
 * No net-snmp here: the hub does not link it. Names of OIDs (sysName.0)
 * are checked for syntax only; the agent resolves them.
 */
#ifndef OUTPOST_PROTOCOL_H
#define OUTPOST_PROTOCOL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits (docs/protocol.md, "Limits"; tests/unit/test_protocol.c
 * checks the doc's table against these) ---- */

/* Agent -> hub: one batch upload (413 above). */
#define PROTO_UPLOAD_MAX_WIRE     (8u << 20)    /* gzip body */
#define PROTO_UPLOAD_MAX_JSON     (64u << 20)   /* inflated */
/* Hub -> agent: one long-poll response. */
#define PROTO_POLL_MAX_WIRE       (4u << 20)
#define PROTO_POLL_MAX_DECODED    (16u << 20)
#define PROTO_POLL_MAX_COMMANDS   1000
#define PROTO_COMMAND_MAX_BYTES   (64u << 10)   /* one command object */
#define PROTO_JSON_MAX_DEPTH      32
#define PROTO_HEADER_LINE_MAX     (16u << 10)
#define PROTO_HEADERS_MAX         (64u << 10)
/* Strings. */
#define PROTO_TOKEN_MAX           256   /* A-Za-z0-9._~- */
#define PROTO_ID_MAX              64    /* command ids: A-Za-z0-9_.- */
#define PROTO_CURSOR_MAX          128
#define PROTO_NAME_MAX            63    /* credential and agent names */
#define PROTO_CONTEXT_MAX         32    /* SnmpAdminString (SIZE(0..32)), RFC 3411 */
#define PROTO_TARGET_MAX          300   /* HOST[:PORT] */
#define PROTO_SECRET_MAX          255   /* inline credential strings */
#define PROTO_OID_MAX_ARCS        128   /* net-snmp's MAX_OID_LEN */
#define PROTO_OID_MAX_LEN         1024  /* an OID as text */
#define PROTO_NETWORK_MAX_LEN     128   /* one scan network as text */
/* Commands. */
#define PROTO_TIMEOUT_MAX_MS      86400000
#define PROTO_GET_MAX_OIDS        128
#define PROTO_SET_MAX_VARBINDS    128
#define PROTO_WALK_DEFAULT_VARBINDS 10000
#define PROTO_WALK_MAX_VARBINDS   100000
#define PROTO_SCAN_MAX_NETWORKS   64
#define PROTO_SCAN_MAX_CREDENTIALS 32
/* snmp.set value types, as snmpset takes them. */
#define PROTO_SET_TYPES           "iucsxdnota"

/* ---- commands (command.c) ---- */

/* One row per command type; the agent dispatches on the index. */
enum proto_cmd {
	PROTO_CMD_SNMP_GET,
	PROTO_CMD_SNMP_WALK,
	PROTO_CMD_SNMP_SET,
	PROTO_CMD_SCAN,
	PROTO_CMD_POLL_NOW,
	PROTO_CMD_AGENT_INFO,
	PROTO_CMD_COUNT
};

/* What an argument holds; each kind has one checker in command.c. */
enum proto_kind {
	PROTO_K_OID,          /* string: a walk root, numeric or NAME[.N...] */
	PROTO_K_OIDS,         /* array of OID strings */
	PROTO_K_SET_VARBINDS, /* array of {oid, type (PROTO_SET_TYPES), value} */
	PROTO_K_NETWORKS,     /* array of non-empty strings (agent parses) */
	PROTO_K_NAMES,        /* array of credential names */
	PROTO_K_INT,          /* JSON integer in [min, max] */
	PROTO_K_TARGET,       /* string HOST[:PORT] */
	PROTO_K_STRING,       /* string of at most max bytes */
};

struct proto_field {
	const char     *name;
	enum proto_kind kind;
	bool            required;
	int64_t         min, max;   /* INT: value; arrays: count; STRING: length */
};

#define PROTO_MAX_ARGS 4

struct proto_command {
	const char        *name;
	/* snmp.*: target required, credential and context apply. */
	bool               snmp;
	struct proto_field args[PROTO_MAX_ARGS];   /* ends at name == NULL */
	/* What the agent's [policy] checks before running it (docs). */
	const char        *policy;
};

extern const struct proto_command proto_commands[PROTO_CMD_COUNT];

/* The row for a type name, or -1. */
int  proto_command_find(const char *type);
/*
 * A command object as an operator queues it (id optional: the hub adds
 * it) and as the agent receives it: type, target, credential, context,
 * timeout_ms, args, no secrets at the top level. Returns the enum
 * proto_cmd, or -1 with a reason in err.
 */
int  proto_command_check(const cJSON *cmd, char *err, size_t errlen);
/* OID syntax without net-snmp: dotted numbers (optional leading dot,
 * 2-128 arcs each < 2^32, X.690 first arcs), or a name NAME[.N...]. */
bool proto_oid_check(const char *s, char *err, size_t errlen);
/* A walk root: one arc (0, 1 or 2) is enough. */
bool proto_oid_root_check(const char *s, char *err, size_t errlen);
/* 1-PROTO_NAME_MAX of A-Za-z0-9_.- */
bool proto_name_valid(const char *);
/* ids and cursors: 1-max of A-Za-z0-9_.- */
bool proto_id_valid(const char *, size_t max);

/* ---- codec.c ---- */

enum proto_rc {
	PROTO_OK = 0,
	PROTO_BAD = -1,       /* corrupt input (400) */
	PROTO_TOO_BIG = -2,   /* over a maximum (413) */
};

/* gzip (RFC 1952) in one go: PROTO_OK with *out (malloc'd). */
int  proto_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen);
/*
 * Inflate gzip (members may be concatenated, RFC 1952 2.2) into a
 * NUL-terminated malloc'd buffer of at most max bytes. Memory grows
 * with the output, so a bomb stops at max, not at its end.
 */
int  proto_gunzip(const void *in, size_t inlen, size_t max, char **out,
                  size_t *outlen, char *err, size_t errlen);
/* Nesting depth of a JSON text, strings skipped; stops counting past max. */
int  proto_json_depth(const char *s, size_t len, int max);
/* A batch's top level (docs/protocol.md, POST /v1/agent/results):
 * an object, batch_id an integer 1..2^53-1, results/inventory/samples
 * arrays (or absent/null). PROTO_OK with *batch_id, or PROTO_BAD. */
int  proto_batch_check(const cJSON *batch, int64_t *batch_id, char *err,
                       size_t errlen);
/* 1-PROTO_TOKEN_MAX of A-Za-z0-9._~- (len bytes, no NUL needed). */
bool proto_token_valid(const char *s, size_t len);
/*
 * A token file: a regular file that group/others cannot read, one line
 * (trailing blanks and newline trimmed), a valid token. buf gets it
 * NUL-terminated; 0 or -1 with a reason naming the file. Wiped after use.
 */
int  proto_token_read(const char *path, char *buf, size_t len, char *err,
                      size_t errlen);

#endif
