/*
 * Internal to the agent's command files: command.c (dispatch from
 * protocol/'s table, [policy], results, scan, poll.now, agent.info) and
 * command_snmp.c (snmp.get, snmp.walk, snmp.set).
 */
#ifndef OUTPOST_AGENT_COMMAND_INT_H
#define OUTPOST_AGENT_COMMAND_INT_H

#include "agent/agent_int.h"
#include "protocol/protocol.h"

#define CMD_DEFAULT_TIMEOUT_MS 30000

struct cmd {
	struct agent            *agent;
	char                     id[PROTO_ID_MAX + 1];
	char                     type[24];
	char                     target_str[300];
	struct osnmp_target      target;
	struct config_credential cred;       /* deep copy: survives a reload */
	uint64_t                 started_ms, started_mono;
	struct loop_timer        timer;
	cJSON                   *varbinds;
	cJSON                   *errors;     /* snmp.get: OIDs the agent refused */
	netsnmp_pdu             *req;        /* snmp.get: a copy of the request */
	bool                     reported, snmp_busy;
	struct cmd              *prev, *next;   /* agent's running commands */
};

/* A command type's handler: runs after proto_command_check() passed,
 * so the arguments have their schema's shape; it checks [policy] and
 * whatever only the agent knows, then reports (now or later). */
typedef void rcmd_handler(struct cmd *, const cJSON *cmd, const struct config *);

rcmd_handler rcmd_snmp_get, rcmd_snmp_walk, rcmd_snmp_set;

/* Free c once it is reported and no SNMP request holds it. */
void cmd_free(struct cmd *);
/* Send the result (once) and write the audit line; takes data. */
void cmd_report(struct cmd *, const char *status, const char *error, cJSON *data);
void cmd_refuse(struct cmd *, const char *fmt, ...)
    PRINTF_LIKE(2, 3);
/* target + credential + policy; false after refusing. */
bool cmd_setup_snmp(struct cmd *, const cJSON *cmd, const struct config *);

#endif
