/*
 * config: the INI configuration file. One declarative table per section
 * (config/schema.c) drives parsing, defaults, validation and the
 * generated docs (docs/config.md, packaging/outpost.ini). Every error in
 * a file is collected as "FILE:LINE: message" and the whole file is
 * rejected if there is any.
 */
#ifndef OUTPOST_CONFIG_H
#define OUTPOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

enum cfg_snmp_version { CFG_SNMP_V1 = 1, CFG_SNMP_V2C = 2, CFG_SNMP_V3 = 3 };
enum cfg_sec_level { CFG_NOAUTH_NOPRIV, CFG_AUTH_NOPRIV, CFG_AUTH_PRIV };
enum cfg_auth {
	CFG_AUTH_MD5, CFG_AUTH_SHA, CFG_AUTH_SHA224, CFG_AUTH_SHA256,
	CFG_AUTH_SHA384, CFG_AUTH_SHA512
};
/* AES-192/256 as in draft-blumenthal-aes-usm; the -C variants are the
 * key extension Cisco devices use (net-snmp's AES-192-C/AES-256-C). */
enum cfg_priv {
	CFG_PRIV_DES, CFG_PRIV_AES, CFG_PRIV_AES192, CFG_PRIV_AES256,
	CFG_PRIV_AES192C, CFG_PRIV_AES256C
};

/* Value types for keys of later sections (address lists, string lists). */
struct config_addrs {
	struct net_range *ranges;
	size_t            count;
};
struct config_strings {
	char  **items;
	size_t  count;
	int     line;     /* the file's line that set it; 0: a default */
};

/* [credential NAME] */
struct config_credential {
	char *name;
	int   version;         /* enum cfg_snmp_version */
	char *community;       /* v1/v2c; secret */
	char *user;            /* v3 */
	int   level;           /* enum cfg_sec_level */
	int   auth_protocol;   /* enum cfg_auth */
	char *auth_password;   /* secret */
	int   priv_protocol;   /* enum cfg_priv */
	char *priv_password;   /* secret */
	char *context;         /* v3 context name; NULL: the default "" */
};

/* [agent] */
struct config_agent {
	char *state_dir;
	int   log_level;       /* enum log_level */
};

/* [server]: the hub this agent talks to (docs/protocol.md) */
struct config_server {
	char     *url;              /* https://hub.example.com:8443 */
	char     *token_file;       /* the agent's bearer token; secret */
	uint64_t  poll_wait;        /* ms */
	char     *ca_file, *client_cert, *client_key, *pinned_pubkey, *proxy;
	uint64_t  backoff_base, backoff_cap;   /* ms */
	bool      allow_insecure_http;
};

/* [upload]: result batches and the on-disk spool */
struct config_upload {
	uint64_t batch_max_bytes, batch_max_age;   /* bytes, ms */
	uint64_t spool_max_bytes, spool_max_age;   /* bytes, ms */
};

/* [policy]: what the hub may make this agent do */
struct config_policy {
	struct config_addrs   allow_networks;
	bool                  allow_set;
	struct config_strings set_oids;
	bool                  allow_inline_credentials;
	uint64_t              max_command_bytes;
	uint64_t              max_command_time;   /* ms */
};

/* [scan]: scheduled discovery */
struct config_scan {
	struct config_addrs   networks;
	int                   port;
	struct config_strings credentials;   /* names; empty: all, in file order */
	uint64_t              interval;      /* ms */
	int                   rate;          /* probes per second */
	uint64_t              timeout;       /* ms, per try */
	int                   retries;
};

/* [poll]: scheduled polling of discovered devices */
struct config_poll {
	uint64_t              interval, label_interval, timeout;   /* ms */
	struct config_strings profiles;
	int                   retries;
	int                   repetitions;
	int                   max_rows;      /* per table of a profile */
};

/* [traps]: SNMP notifications received and forwarded as events */
struct config_traps {
	struct config_strings listen;        /* udp:ADDR:PORT, udp6:[ADDR]:PORT */
	struct config_strings communities;   /* v1/v2c; secret */
	struct config_strings credentials;   /* [credential] names, v3 users */
	int                   rate;          /* notifications/s per source */
	int                   queue_max;     /* waiting in the receive buffer */
};

/* [profile NAME]: a user profile: scalars and table columns to poll */
struct config_profile {
	char                 *name;
	struct config_strings scalars, columns, labels;
};

struct config {
	char                     *path;
	struct config_agent       agent;
	struct config_server      server;
	struct config_upload      upload;
	struct config_policy      policy;
	struct config_scan        scan;
	struct config_poll        poll;
	struct config_traps       traps;
	struct config_profile    *profiles;
	size_t                    nprofiles;
	struct config_credential *creds;
	size_t                    ncreds;
};

/* Messages, each "FILE:LINE: text" (or "FILE: text" for the whole file). */
struct config_errors {
	char   **msgs;
	size_t   count;
};
#define CONFIG_MAX_ERRORS 100   /* then one "too many errors" line */

/*
 * Read and validate path. 0 with *out set, or -1 with *out NULL and the
 * reasons in errs (which must not be NULL; it is reset first). Free errs
 * with config_errors_free() in both cases.
 */
int  config_load(const char *path, struct config **out, struct config_errors *errs);
void config_free(struct config *);             /* wipes secrets */
/* Every default, no file: for commands run without --config. */
struct config *config_new_defaults(void);
void config_errors_free(struct config_errors *);

const struct config_credential *
     config_credential_find(const struct config *, const char *name);
const struct config_profile *
     config_profile_find(const struct config *, const char *name);
/*
 * The tables as the one source of defaults and limits for modules that
 * take plain numbers (transport/): a DURATION or SIZE key of an unnamed
 * section; v 0 gives its default, any other v is clamped to its limits.
 * Aborts on a name that is not in the tables (a bug, found by any run).
 */
uint64_t config_key_number(const char *section, const char *key, uint64_t v);
/* Reload: whether section ("scan", or "credential": every one) differs. */
bool config_section_changed(const struct config *, const struct config *,
                            const char *section);
/* Reload: keys a reload cannot apply (CFG_F_RESTART in the tables) that
 * differ, as "[server] url, poll_wait, [upload] batch_max_age" in buf;
 * the count. */
size_t config_restart_changes(const struct config *old, const struct config *new,
                              char *buf, size_t len);

/*
 * Built-in profiles (config/profiles.c), one row each: polling, the
 * check of [poll] profiles and [profile NAME], `outpost poll --profile`
 * and the docs all read these rows.
 */
enum config_item_kind {
	CFG_ITEM_SCALAR,   /* one GET per poll */
	CFG_ITEM_COLUMN,   /* a table column, walked every poll */
	CFG_ITEM_LABEL,    /* a table column, walked every label_interval */
};
struct config_builtin_item {
	const char *oid;            /* numeric, no leading dot */
	const char *name;           /* for the docs: "ifDescr" */
	enum config_item_kind kind;
	const char *table;          /* columns and labels: its table in a sample */
	const char *fallback_for;   /* a 32-bit column read only where this
	                               64-bit one is empty */
};
struct config_builtin_profile {
	const char *name;
	const char *description;    /* one sentence */
	const struct config_builtin_item *items;   /* ends with a NULL oid */
};
extern const struct config_builtin_profile config_builtin_profiles[];   /* NULL name ends */
const struct config_builtin_profile *config_builtin_profile_find(const char *name);
/* "system, interfaces, host" for messages. */
void config_builtin_profile_names(char *buf, size_t len);
/* One key of an unnamed section from a command-line flag: the same
 * parsing and limits as in the file. 0, or -1 with a message. */
int  config_set(struct config *, const char *section, const char *key,
                const char *value, char *err, size_t errlen);
/* A [traps] listen item, "udp:ADDR:PORT" or "udp6:[ADDR]:PORT" (numeric
 * addresses only), into out (a struct sockaddr_in or sockaddr_in6,
 * *outlen set). 0 or -1 with a message naming the problem. */
struct sockaddr_storage;
int  config_udp_endpoint(const char *s, struct sockaddr_storage *out,
                         unsigned *outlen, char *err, size_t errlen);
/* [policy] allow_networks, or the [scan] networks when it is empty. */
const struct config_addrs *config_allowed_networks(const struct config *);

/*
 * Credentials built elsewhere (the CLI's -v -c -u -l -a -A -x -X flags):
 * defaults from the same table, the same validation and messages as the
 * file. check returns 0, or -1 with every problem in err ("; "-joined).
 */
void config_credential_defaults(struct config_credential *);
int  config_credential_check(const struct config_credential *, char *err, size_t errlen);
void config_credential_clear(struct config_credential *);   /* frees, wipes secrets */

/*
 * Names as written in the file or on the command line ("2c", "authPriv",
 * "SHA-256", "AES-192"); case and '-' do not matter. -1 if unknown.
 */
int  config_parse_version(const char *);
int  config_parse_level(const char *);
int  config_parse_auth(const char *);
int  config_parse_priv(const char *);
const char *config_version_name(int);          /* "?" if out of range */
const char *config_level_name(int);
const char *config_auth_name(int);
const char *config_priv_name(int);

/* Reference docs and the sample file, from the same tables. */
void config_write_markdown(FILE *);
void config_write_sample_ini(FILE *);
/* outpost.ini(5) and outpost-hub.ini(5) in roff (config/man.c). */
void config_write_man(FILE *);
void config_hub_write_man(FILE *);

/* ---- outpost-hub's file (config/hub.c) ---- */

struct config_hub {
	char     *listen;            /* ADDRESS:PORT */
	char     *db;                /* SQLite file */
	char     *admin_token_file;  /* secret */
	char     *tls_cert, *tls_key;
	char     *client_ca;         /* PEM CAs that sign agents' certificates */
	uint64_t  max_poll_wait, drain_grace, command_lease, command_ttl;  /* ms */
	uint64_t  retention;         /* ms */
	uint64_t  max_connections;
	int       log_level;
};

struct hub_config {
	char              *path;
	struct config_hub  hub;
};

int  config_hub_load(const char *path, struct hub_config **out, struct config_errors *errs);
void config_hub_free(struct hub_config *);
void config_hub_write_markdown(FILE *);
void config_hub_write_sample_ini(FILE *);

/* True for a URL whose host is a loopback address or "localhost". */
bool config_url_is_loopback(const char *url);

#endif
