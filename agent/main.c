/*
 * outpost: the command dispatcher.
 */
#include "agent/agent_int.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include "transport/curl_dl.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

static const char main_usage[] =
"usage: outpost COMMAND [options]\n\n"
"Commands:\n"
"  scan TARGET...             find SNMP devices in addresses, CIDRs, ranges\n"
"  get HOST[:PORT] OID...     read OIDs (prints like snmpget -On)\n"
"  walk HOST[:PORT] [OID]     walk a subtree (prints like snmpbulkwalk -On)\n"
"  poll HOST[:PORT]...        poll devices once with profiles (JSON samples)\n"
"  run -c FILE                run the agent service (hub commands, uploads)\n"
"  status -c FILE             show a running agent's state\n"
"  traps [--listen ADDR]      print SNMP notifications as they arrive\n"
"  check-config -c FILE       validate a configuration file\n"
"  version                    print the version\n\n"
"'outpost COMMAND --help' describes each command.\n";

static const struct {
	const char *name;
	int (*fn)(int, char **);
} commands[] = {
	{ "scan", cmd_scan },
	{ "get", cmd_get },
	{ "walk", cmd_walk },
	{ "check-config", cmd_check_config },
	{ "config-docs", cmd_config_docs },
	{ "version", cmd_version },
	{ "poll", cmd_poll },
	{ "run", cmd_run },
	{ "transport-selftest", cmd_transport_selftest },
	{ "status", cmd_status },
	{ "traps", cmd_traps },
};

int
cmd_version(int argc, char **argv)
{
	char err[256];

	if (curl_dl_load(err, sizeof(err)) == -1) {
		fprintf(stderr, "outpost version: %s\n", err);
		return 1;
	}
	printf("outpost %s (net-snmp %s, %s, cJSON %s, zlib %s)\n",
	    OUTPOST_VERSION, netsnmp_get_version(), curl_version(),
	    cJSON_Version(), zlibVersion());
	return 0;
}

static const char check_usage[] =
"usage: outpost check-config [--run] -c FILE\n"
"Validate FILE; print 'configuration OK' or every error. A file with a\n"
"[server] section (or --run) is checked for everything 'outpost run'\n"
"needs: the token file, state_dir, the TLS files and the profiles, as\n"
"this user sees them (check as the service's user).\n"
"  --run    insist on the checks of 'outpost run'\n";

int
cmd_check_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "run", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config *cfg;
	const char *path = NULL;
	bool run = false;
	int opt, problems;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		if (opt == 'c') {
			path = optarg;
		} else if (opt == 'R') {
			run = true;
		} else if (opt == 'h') {
			fputs(check_usage, stdout);
			return 0;
		} else {
			return cli_getopt_error("check-config", opt, argv[optind - 1],
			    opts, NULL);
		}
	}
	if (path == NULL || optind < argc)
		return cli_usage_error("check-config", "usage: outpost check-config "
		    "[--run] -c FILE");
	if (cli_config_load(path, &cfg) != 0)
		return 1;
	/* A file meant for the service is held to what the service needs:
	 * "OK" here and a refusal from run would be a lie. */
	run |= cfg->server.url != NULL || cfg->server.token_file != NULL;
	problems = run ? agent_run_problems(cfg, NULL, 0) : 0;
	config_free(cfg);
	if (problems > 0)
		return 1;
	printf("configuration OK\n");
	if (!run)
		cli_errorf("checked for get, walk, scan and poll; 'outpost run' "
		    "also needs [server] url and token_file (--run checks "
		    "everything run needs)");
	return 0;
}

/* Regenerates docs/config.md, packaging/outpost.ini and the man pages
 * of the configuration files (make docs). */
int
cmd_config_docs(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "markdown") == 0)
		config_write_markdown(stdout);
	else if (argc == 2 && strcmp(argv[1], "ini") == 0)
		config_write_sample_ini(stdout);
	else if (argc == 2 && strcmp(argv[1], "hub-markdown") == 0)
		config_hub_write_markdown(stdout);
	else if (argc == 2 && strcmp(argv[1], "hub-ini") == 0)
		config_hub_write_sample_ini(stdout);
	else if (argc == 2 && strcmp(argv[1], "man") == 0)
		config_write_man(stdout);
	else if (argc == 2 && strcmp(argv[1], "hub-man") == 0)
		config_hub_write_man(stdout);
	else
		return cli_usage_error("config-docs", "expected markdown, ini, "
		    "man, hub-markdown, hub-ini or hub-man");
	return 0;
}

int
main(int argc, char **argv)
{
	log_init("outpost", LOG_LVL_WARN, false);
	if (argc < 2) {
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(main_usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < countof(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			cli_set_command(commands[i].name);
			return commands[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "outpost: unknown command '%.64s' (see 'outpost --help')\n",
	    argv[1]);
	return EXIT_USAGE;
}
