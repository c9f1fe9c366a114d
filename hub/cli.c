/*
 * outpost-hub's operator commands on the store: agents are added,
 * re-keyed and removed here, with the hub running or not (SQLite's WAL
 * lets both open the database, PostgreSQL serves every node and these
 * commands alike; a running hub sees a new agent at once).
 */
#include "hub/hub_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct hub_store *
cli_store(const struct hub_config *hc)
{
	struct hub_store *s;
	char err[512];

	if (hub_store_open(hc->hub.db, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "outpost-hub: %s\n", err);
		return NULL;
	}
	return s;
}

struct hub_store *
hub_cli_store(const struct hub_config *hc)
{
	return cli_store(hc);
}

static bool
cli_name_ok(const char *name)
{
	if (hub_name_valid(name))
		return true;
	fprintf(stderr, "outpost-hub: agent name '%.80s' is invalid: 1-63 "
	    "characters of A-Za-z0-9_.-\n", name);
	return false;
}

/* The token goes to stdout alone, so `outpost-hub add-agent x > file`
 * writes exactly the agent's token file. */
static int
cli_new_token(struct hub_store *s, const char *name, bool add)
{
	unsigned char hash[HUB_HASH_LEN];
	char token[64];
	int rc;

	if (hub_token_generate(token, sizeof(token)) == -1) {
		fprintf(stderr, "outpost-hub: getrandom: %s\n", strerror(errno));
		return 1;
	}
	hub_token_hash(token, strlen(token), hash);
	rc = add ? hub_store_agent_add(s, name, hash, wall_ms()) :
	    hub_store_agent_set_token(s, name, hash);
	if (rc != 0) {
		explicit_bzero(token, sizeof(token));
		if (rc == 1 && add)
			fprintf(stderr, "outpost-hub: agent '%s' exists (use "
			    "rotate-token for a new token)\n", name);
		else if (rc == 1)
			fprintf(stderr, "outpost-hub: no agent '%s'\n", name);
		else
			fprintf(stderr, "outpost-hub: %s\n", hub_store_errmsg(s));
		return 1;
	}
	printf("%s\n", token);
	fflush(stdout);
	explicit_bzero(token, sizeof(token));
	fprintf(stderr, "agent '%s' %s. Its token (printed once, stored only as "
	    "a hash) goes in the agent's [server] token_file, chmod 600.\n", name,
	    add ? "added" : "has a new token; the old one no longer works");
	return 0;
}

int
hub_cmd_add_agent(const struct hub_config *hc, const char *name)
{
	struct hub_store *s;
	int rc;

	if (!cli_name_ok(name) || (s = cli_store(hc)) == NULL)
		return 1;
	rc = cli_new_token(s, name, true);
	hub_store_close(s);
	return rc;
}

int
hub_cmd_rotate_token(const struct hub_config *hc, const char *name)
{
	struct hub_store *s;
	int rc;

	if (!cli_name_ok(name) || (s = cli_store(hc)) == NULL)
		return 1;
	rc = cli_new_token(s, name, false);
	hub_store_close(s);
	return rc;
}

int
hub_cmd_remove_agent(const struct hub_config *hc, const char *name)
{
	struct hub_store *s;
	int rc;

	if (!cli_name_ok(name) || (s = cli_store(hc)) == NULL)
		return 1;
	rc = hub_store_agent_remove(s, name);
	hub_store_close(s);
	if (rc == 1)
		fprintf(stderr, "outpost-hub: no agent '%s'\n", name);
	else if (rc == 0)
		fprintf(stderr, "agent '%s' removed with its commands, inventory "
		    "and samples\n", name);
	return rc == 0 ? 0 : 1;
}

int
hub_cmd_list_agents(const struct hub_config *hc)
{
	struct hub_store *s;
	cJSON *arr, *e;

	if ((s = cli_store(hc)) == NULL)
		return 1;
	if (hub_store_agents(s, &arr) == -1) {
		hub_store_close(s);
		return 1;
	}
	cJSON_ArrayForEach(e, arr) {
		const cJSON *ls = cJSON_GetObjectItemCaseSensitive(e, "last_seen_ms");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "version");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "address");
		char ts[40] = "never";

		if (cJSON_IsNumber(ls))
			hub_rfc3339((uint64_t)ls->valuedouble, ts, sizeof(ts));
		printf("%-24s %-26s %-12s %s\n",
		    cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring, ts,
		    cJSON_IsString(v) ? v->valuestring : "-",
		    cJSON_IsString(a) ? a->valuestring : "-");
	}
	cJSON_Delete(arr);
	hub_store_close(s);
	return 0;
}

int
hub_cmd_check(const struct hub_config *hc)
{
	char err[512], dir[4096], *slash;
	enum hub_store_kind kind;
	struct hub_store *s = NULL;
	const char *where;
	struct hub h;
	int rc = 0;

	if (hub_prepare(&h, &hc->hub, false, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", hc->path, err);
		rc = 1;
	}
	hub_release(&h);
	if (hub_store_parse_db(hc->hub.db, &kind, &where, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", hc->path, err);
		return 1;
	}
	if (kind == HUB_STORE_PG) {
		/* Reach the database and check its schema version. */
		if (hub_store_open(hc->hub.db, &s, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: db: %s\n", hc->path, err);
			rc = 1;
		}
		hub_store_close(s);
	} else {
		/* The database may not exist yet, but its directory must. */
		snprintf(dir, sizeof(dir), "%s", where);
		slash = strrchr(dir, '/');
		if (slash == dir)
			dir[1] = '\0';
		else if (slash != NULL)
			*slash = '\0';
		else
			snprintf(dir, sizeof(dir), ".");
		if (access(dir, W_OK | X_OK) == -1) {
			fprintf(stderr, "%s: db: directory %s: %s\n", hc->path, dir,
			    strerror(errno));
			rc = 1;
		}
	}
	if (rc == 0)
		printf("configuration OK\n");
	return rc;
}
