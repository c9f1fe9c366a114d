/*
 * agent: the outpost command line and (later) the service. Each command
 * is a function taking argc/argv and returning the process exit status:
 * 0 success, 1 runtime or configuration error, 2 usage error.
 */
#ifndef OUTPOST_AGENT_H
#define OUTPOST_AGENT_H

#include "config/config.h"
#include "snmp/snmp.h"

#include <getopt.h>

#define EXIT_USAGE 2

int cmd_scan(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_walk(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_config_docs(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_poll(int argc, char **argv);
int cmd_transport_selftest(int argc, char **argv);
int cmd_traps(int argc, char **argv);

/* ---- cli.c: what the SNMP commands share ---- */

#define CLI_MAX_CREDS 32

/* Credentials from net-snmp-style flags or from --config FILE. */
struct cli_snmp {
	struct config_credential creds[CLI_MAX_CREDS];
	char                     names[CLI_MAX_CREDS][72];
	size_t                   ncreds;
	struct config           *cfg;          /* --config FILE, if given */
	const char              *cred_name;    /* --credential NAME */
	unsigned                 timeout_ms, retries;
	bool                     json;
	/* raw flags, resolved by cli_snmp_finish() */
	const char *version, *user, *level, *auth, *auth_pass, *priv, *priv_pass;
	const char *context;
	const char *communities[CLI_MAX_CREDS];
	size_t      ncommunities;
	const char *config_path;
};

/* Long-option ids shared by every SNMP command. */
enum {
	OPT_CONFIG = 1000, OPT_CREDENTIAL, OPT_JSON, OPT_PORT, OPT_RATE,
	OPT_CONCURRENCY, OPT_MAX_REP, OPT_MAX_VB, OPT_HELP, OPT_PROFILE, OPT_QUIET,
};
#define CLI_SNMP_SHORTOPTS "v:c:u:l:a:A:x:X:n:t:r:h"
#define CLI_SNMP_LONGOPTS \
	{ "config", required_argument, NULL, OPT_CONFIG }, \
	{ "credential", required_argument, NULL, OPT_CREDENTIAL }, \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "help", no_argument, NULL, 'h' }

void cli_snmp_init(struct cli_snmp *, unsigned timeout_ms, unsigned retries);
/* Handle one getopt result: 1 if it was ours, 0 if not, -1 with a
 * message in err. */
int  cli_snmp_opt(struct cli_snmp *, int opt, const char *arg,
                  char *err, size_t errlen);
/* Report getopt's '?' and ':' and a bad value as one usage line. */
int  cli_getopt_error(const char *cmd, int opt, const char *arg,
                      const struct option *longopts, const char *why);
/* Build the credential list: 0, 1 (config error) or 2 (usage error). */
int  cli_snmp_finish(struct cli_snmp *, bool many);
void cli_snmp_free(struct cli_snmp *);
extern const char cli_snmp_help[];

/* Print "outpost CMD: msg" and a hint; returns EXIT_USAGE. */
int  cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int  cli_parse_uint(const char *cmd, const char *what, const char *s,
                    int64_t min, int64_t max, unsigned *out);
/* Commands that take only -c FILE (--config FILE) and --help: 0 with
 * *path set, -2 after printing usage, or EXIT_USAGE after one line. */
int  cli_config_only(const char *cmd, const char *usage, int argc, char **argv,
                     const char **path);
/* The command being run (main.c sets it), for cli_errorf's prefix. */
void cli_set_command(const char *name);
/* Print "outpost CMD: msg" on stderr (a runtime or config error). */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* config_load that prints every error: 0, or 1. */
int  cli_config_load(const char *path, struct config **cfg);
void cli_raise_nofile(void);
/* stdout line helpers for JSON output */
void cli_json_print(void *cjson_obj);

#endif
