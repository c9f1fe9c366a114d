/*
 * outpost transport-selftest -c FILE: push synthetic batches to the hub
 * in FILE's [server] through the real transport and spool, and exit when
 * every one is acknowledged. For the fault-injection tests, and for an
 * engineer checking a new hub, proxy or certificate before `run`.
 */
#include "agent/agent_int.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int
cmd_transport_selftest(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "batches", required_argument, NULL, 'b' },
		{ "interval", required_argument, NULL, 'i' },
		{ "items", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char cmd[] = "transport-selftest";
	const char *path = NULL;
	unsigned batches = 3, interval = 200, items = 10, timeout = 60000;
	struct transport_opts to;
	struct config *cfg;
	struct loop *loop;
	struct platform_lock *lock;
	char token[TRANSPORT_TOKEN_MAX + 1], spool[512];
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		unsigned *v = opt == 'b' ? &batches : opt == 'i' ? &interval :
		    opt == 'n' ? &items : opt == 't' ? &timeout : NULL;
		const char *name = opt == 'b' ? "--batches" : opt == 'i' ? "--interval" :
		    opt == 'n' ? "--items" : "--timeout";
		if (opt == 'c') {
			path = optarg;
		} else if (opt == 'h') {
			printf("usage: outpost %s -c FILE [--batches N] [--interval MS] "
			    "[--items N] [--timeout MS]\n"
			    "Send N synthetic batches to FILE's hub through the spool; "
			    "exit 0 when all are acknowledged.\n", cmd);
			return 0;
		} else if (v != NULL) {
			if (cli_parse_uint(cmd, name, optarg, opt == 't', 86400000, v) == -1)
				return EXIT_USAGE;
		} else {
			return cli_getopt_error(cmd, opt, argv[optind - 1], opts, NULL);
		}
	}
	if (path == NULL || optind < argc)
		return cli_usage_error(cmd, "usage: outpost %s -c FILE", cmd);
	if ((rc = agent_load(path, &cfg, token, sizeof(token), spool, sizeof(spool),
	    &lock)) != 0)
		return rc;
	log_set_level((enum log_level)cfg->agent.log_level);
	agent_transport_opts(cfg, token, spool, &to);
	loop = loop_new();
	rc = transport_selftest(loop, &to, batches, interval, items, timeout);
	platform_memzero(token, sizeof(token));
	loop_free(loop);
	config_free(cfg);
	platform_unlock(lock);
	return rc;
}
