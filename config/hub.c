/*
 * outpost-hub's configuration file: one [hub] section, declared with the
 * same tables as the agent's file, so parsing, validation and the docs
 * (docs/hub-config.md, packaging/outpost-hub.ini) work alike.
 */
#include "config/config_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct cfg_enum hub_log_levels[] = {
	{ "error", LOG_LVL_ERROR, false },
	{ "warn", LOG_LVL_WARN, false },
	{ "info", LOG_LVL_INFO, false },
	{ "debug", LOG_LVL_DEBUG, false },
	{ NULL, 0, false },
};

#define H struct config_hub
static const struct cfg_key hub_keys[] = {
	{ CFG_STRING(H, listen), .def = "127.0.0.1:8443",
	  .doc = "ADDRESS:PORT to listen on ([::1]:8443 for IPv6, 0.0.0.0:8443 for all)." },
	{ CFG_STRING(H, db), .def = "/var/lib/outpost-hub/hub.db",
	  .doc = "The store: a SQLite file (a path, or sqlite:PATH; one hub "
	         "node) or a PostgreSQL URI (postgresql://USER@HOST/DB; several "
	         "hub nodes may share it, docs/operations.md)." },
	{ CFG_STRING(H, admin_token_file), .flags = CFG_F_REQUIRED,
	  .doc = "File holding the operator API's bearer token (chmod 600)." },
	{ CFG_STRING(H, tls_cert),
	  .doc = "PEM certificate chain; without it the hub speaks plain HTTP "
	         "(loopback and tests only)." },
	{ CFG_STRING(H, tls_key), .doc = "PEM private key of tls_cert." },
	{ CFG_STRING(H, client_ca),
	  .doc = "PEM CA certificates: every client must present a certificate "
	         "they sign (mutual TLS; agents set [server] client_cert and "
	         "client_key), or is answered 403. Needs tls_cert." },
	{ CFG_DURATION(H, max_poll_wait), .def = "60s", .min = 1000, .max = 3600000,
	  .doc = "Longest time a command poll is held." },
	{ CFG_DURATION(H, drain_grace), .def = "10s", .min = 0, .max = 600000,
	  .doc = "On SIGTERM, time allowed for uploads in flight before exit." },
	{ CFG_DURATION(H, command_lease), .def = "60s", .min = 1000, .max = 86400000,
	  .doc = "A delivered command not acked within this is delivered again." },
	{ CFG_DURATION(H, command_ttl), .def = "10m", .min = 1000,
	  .max = INT64_C(30) * 86400000,
	  .doc = "A queued command no agent took within this expires." },
	{ CFG_DURATION(H, retention), .def = "7d", .min = 60000,
	  .max = INT64_C(3650) * 86400000,
	  .doc = "Results, inventory and samples older than this are deleted." },
	{ CFG_SIZE(H, max_connections), .def = "0", .min = 0, .max = 1000000,
	  .doc = "Connections served at once (each held poll is one); 0: as many "
	         "as the open file limit allows, less 64 for the hub's own files." },
	{ CFG_ENUM(H, log_level, hub_log_levels), .def = "info",
	  .doc = "Least severe level that is logged." },
};
#undef H

static void
hub_check(const void *obj, struct cfg_report *r)
{
	const struct config_hub *h = obj;

	if ((h->tls_cert == NULL) != (h->tls_key == NULL))
		cfg_reportf(r, h->tls_cert ? "tls_cert" : "tls_key",
		    "tls_cert and tls_key go together");
	if (h->client_ca != NULL && h->tls_cert == NULL)
		cfg_reportf(r, "client_ca", "client_ca needs tls_cert and tls_key "
		    "(client certificates are a TLS feature)");
	if (h->max_connections != 0 && h->max_connections < 16)
		cfg_reportf(r, "max_connections", "max_connections must be 0 "
		    "(automatic) or at least 16");
}

#define R struct hub_config
static const struct cfg_section hub_sections[] = {
	{ CFG_SECTION(R, "hub", struct config_hub, hub, hub_keys),
	  .check = hub_check,
	  .doc = "The reference hub: agents' long polls and uploads, the "
	         "operator API (docs/protocol.md)." },
};
#undef R

const struct cfg_schema cfg_hub_schema = { hub_sections, countof(hub_sections) };

int
config_hub_load(const char *path, struct hub_config **out, struct config_errors *errs)
{
	struct hub_config *cfg = xcalloc(1, sizeof(*cfg));

	*out = NULL;
	errs->msgs = NULL;
	errs->count = 0;
	cfg_root_defaults(&cfg_hub_schema, cfg);
	if (cfg_load_schema(path, &cfg_hub_schema, cfg, errs) != 0) {
		config_hub_free(cfg);
		return -1;
	}
	cfg->path = xstrdup(path);
	*out = cfg;
	return 0;
}

void
config_hub_free(struct hub_config *cfg)
{
	if (cfg == NULL)
		return;
	cfg_root_free(&cfg_hub_schema, cfg);
	free(cfg->path);
	free(cfg);
}

bool
config_url_is_loopback(const char *url)
{
	char host[256];
	const char *p = strstr(url, "://"), *end;
	struct in_addr a4;
	size_t n;

	if (p == NULL)
		return false;
	p += 3;
	if (*p == '[') {
		end = strchr(++p, ']');
	} else {
		end = p + strcspn(p, ":/?#");
	}
	if (end == NULL || (n = (size_t)(end - p)) == 0 || n >= sizeof(host))
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}
