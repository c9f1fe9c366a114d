/*
 * hub: outpost-hub, the reference server of docs/protocol.md. Agents
 * long-poll for commands and upload gzip batches; operators queue
 * commands and read results. One thread: libmicrohttpd runs in external
 * epoll mode on core's event loop, held polls are suspended connections
 * (no thread, a few hundred bytes each), and the SQLite store is only
 * touched from that loop.
 */
#ifndef OUTPOST_HUB_H
#define OUTPOST_HUB_H

#include <stddef.h>

#include "config/config.h"

/* Serve until SIGTERM/SIGINT, then drain (docs/hub.md). Returns an exit
 * status: 0 after a clean drain, 1 on a start-up error. */
int  hub_serve(const struct hub_config *);

/* Operator commands on the store; every one prints its own result and
 * returns an exit status. */
int  hub_cmd_add_agent(const struct hub_config *, const char *name);
int  hub_cmd_rotate_token(const struct hub_config *, const char *name);
int  hub_cmd_remove_agent(const struct hub_config *, const char *name);
int  hub_cmd_list_agents(const struct hub_config *);
/* Operator tokens (hub/operator.c): role viewer, operator or admin. */
int  hub_cmd_add_token(const struct hub_config *, const char *name,
                       const char *role);
int  hub_cmd_remove_token(const struct hub_config *, const char *name);
int  hub_cmd_list_tokens(const struct hub_config *);
/* Loads everything serving needs (admin token, TLS files, the store)
 * without listening; prints "configuration OK" or the problems. */
int  hub_cmd_check(const struct hub_config *);

#endif
