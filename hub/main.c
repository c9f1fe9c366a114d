/*
 * outpost-hub: the command dispatcher. Without a command it serves.
 */
#include "hub/hub.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HUB_EXIT_USAGE 2
#define HUB_DEFAULT_CONFIG "/etc/outpost/hub.ini"

static const char hub_usage[] =
"usage: outpost-hub [-c FILE] [COMMAND]\n\n"
"Commands:\n"
"  serve                 serve agents and operators (the default)\n"
"  add-agent NAME        create an agent; prints its token once\n"
"  rotate-token NAME     give an agent a new token (the old one stops working)\n"
"  remove-agent NAME     delete an agent with its commands and data\n"
"  list-agents           name, last seen, version, address\n"
"  add-token NAME --role viewer|operator|admin\n"
"                        an operator token; prints it once\n"
"  remove-token NAME     delete an operator token (it stops working at once)\n"
"  list-tokens           operator token names, roles, creation times\n"
"  check-config          validate the configuration and its files\n"
"  version               print the version\n\n"
"Options:\n"
"  -c, --config FILE     configuration file (default " HUB_DEFAULT_CONFIG ")\n"
"  -h, --help            this help\n\n"
"SIGTERM or SIGINT drains: held polls are answered at once, uploads in\n"
"flight are stored, and the hub exits within drain_grace (docs/hub.md).\n";

static int
hub_version(void)
{
	printf("outpost-hub %s (libmicrohttpd %s, SQLite %s, cJSON %s, zlib %s, "
	    "%s)\n", OUTPOST_VERSION, MHD_get_version(), sqlite3_libversion(),
	    cJSON_Version(), zlibVersion(), OpenSSL_version(OPENSSL_VERSION));
	return 0;
}

static int
hub_usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "outpost-hub: %s%s%.80s%s (see 'outpost-hub --help')\n",
	    msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	return HUB_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = HUB_DEFAULT_CONFIG, *cmd = "serve", *arg = NULL;
	const char *role = NULL;
	struct config_errors errs;
	struct hub_config *hc;
	int opt, rc, nargs;

	log_init("outpost-hub", LOG_LVL_WARN, false);
	opterr = 0;
	/* '+': options before the command only, like git. */
	while ((opt = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
		if (opt == 'c')
			path = optarg;
		else if (opt == 'h') {
			fputs(hub_usage, stdout);
			return 0;
		} else if (opt == 'V')
			return hub_version();
		else if (opt == ':')
			return hub_usage_error("option needs a value:", argv[optind - 1]);
		else
			return hub_usage_error("unknown option", argv[optind - 1]);
	}
	if (optind < argc)
		cmd = argv[optind++];
	nargs = argc - optind;
	if (strcmp(cmd, "help") == 0) {
		fputs(hub_usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0)
		return hub_version();
	if (strcmp(cmd, "add-token") == 0) {
		/* NAME --role ROLE, or --role ROLE NAME */
		for (int i = optind; i < argc; i++) {
			if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
				role = argv[++i];
			else if (strncmp(argv[i], "--role=", 7) == 0)
				role = argv[i] + 7;
			else if (arg == NULL && argv[i][0] != '-')
				arg = argv[i];
			else
				return hub_usage_error("unexpected argument", argv[i]);
		}
		if (arg == NULL || role == NULL)
			return hub_usage_error("expected NAME --role viewer|operator|"
			    "admin after", cmd);
	} else if (strcmp(cmd, "add-agent") == 0 || strcmp(cmd, "rotate-token") == 0 ||
	    strcmp(cmd, "remove-agent") == 0 || strcmp(cmd, "remove-token") == 0) {
		if (nargs != 1)
			return hub_usage_error("expected one agent NAME after", cmd);
		arg = argv[optind];
	} else if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "check-config") == 0 ||
	    strcmp(cmd, "list-agents") == 0 || strcmp(cmd, "list-tokens") == 0) {
		if (nargs != 0)
			return hub_usage_error("unexpected argument", argv[optind]);
	} else {
		return hub_usage_error("unknown command", cmd);
	}

	if (config_hub_load(path, &hc, &errs) == -1) {
		for (size_t i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		config_errors_free(&errs);
		return 1;
	}
	config_errors_free(&errs);
	if (strcmp(cmd, "serve") == 0) {
		log_init("outpost-hub", (enum log_level)hc->hub.log_level, true);
		rc = hub_serve(hc);
	} else if (strcmp(cmd, "check-config") == 0)
		rc = hub_cmd_check(hc);
	else if (strcmp(cmd, "list-agents") == 0)
		rc = hub_cmd_list_agents(hc);
	else if (strcmp(cmd, "add-agent") == 0)
		rc = hub_cmd_add_agent(hc, arg);
	else if (strcmp(cmd, "rotate-token") == 0)
		rc = hub_cmd_rotate_token(hc, arg);
	else if (strcmp(cmd, "add-token") == 0)
		rc = hub_cmd_add_token(hc, arg, role);
	else if (strcmp(cmd, "remove-token") == 0)
		rc = hub_cmd_remove_token(hc, arg);
	else if (strcmp(cmd, "list-tokens") == 0)
		rc = hub_cmd_list_tokens(hc);
	else
		rc = hub_cmd_remove_agent(hc, arg);
	config_hub_free(hc);
	return rc;
}
