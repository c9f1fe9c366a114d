/*
 * outpost poll: poll devices once with the agent's profiles and print the
 * samples as JSON lines: what `outpost run` would send, for trying a
 * profile on a device by hand.
 */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MAX_TARGETS 100000

static const char poll_usage[] =
"usage: outpost poll [options] HOST[:PORT]...\n"
"Poll devices once and print one JSON sample per device and profile.\n\n"
"  --profile NAME     a profile to poll (repeatable; default: [poll] profiles\n"
"                     of --config, or its default): a built-in one (below)\n"
"                     or a [profile NAME] of --config\n"
"  --max-rows N       rows per table at most (default: [poll] max_rows)\n"
"  --concurrency N    requests in flight at most (default 256)\n"
"  --quiet            print only the summary line\n"
"Defaults here: -t and -r of [poll] timeout and retries.\n\n";

/* Past the shared OPT_ ids of agent.h. */
enum { OPT_MAX_ROWS = 1100 };

static void
poll_usage_profiles(void)
{
	printf("Built-in profiles:\n");
	for (const struct config_builtin_profile *bp = config_builtin_profiles;
	    bp->name; bp++)
		printf("  %-18s %s\n", bp->name, bp->description);
	printf("\n");
}

struct pollcmd {
	struct agent a;
	struct cli_snmp cli;
	size_t   left, failed, values;
	struct inv_dev *next;     /* the next device to start */
	size_t   window;          /* device polls running at most */
	bool     quiet;
};

/* The row cap is reported, never silently applied. */
static void
warn_truncated(const struct inv_dev *d, const cJSON *samples)
{
	const cJSON *s, *t, *max;

	cJSON_ArrayForEach(s, samples)
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(s, "tables")) {
			if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "truncated")))
				continue;
			max = cJSON_GetObjectItemCaseSensitive(t, "rows_max");
			fprintf(stderr, "outpost poll: warning: %s:%u: profile %s: table %s ",
			    d->address, d->port, cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(s, "profile")), t->string);
			if (cJSON_IsNumber(max))
				fprintf(stderr, "has more than %d rows; printed the first "
				    "ones (--max-rows)\n", max->valueint);
			else
				fprintf(stderr, "was cut short: out of memory for tables\n");
		}
}

static void poll_done(struct inv_dev *, cJSON *, const char *, void *);

/* Device polls start in a window, not all at once: each running poll
 * holds its session and its tables, so 10,000 devices started together
 * would hold 10,000 of each while the engine's cap lets 256 requests out. */
static void
poll_start_more(struct pollcmd *p)
{
	while (p->left < p->window && p->next != NULL) {
		struct inv_dev *d = p->next;

		p->next = d->next;
		if (poll_now(d, NULL, poll_done, p) == 0)
			p->left++;
	}
}

static void
poll_done(struct inv_dev *d, cJSON *samples, const char *err, void *arg)
{
	struct pollcmd *p = arg;
	const cJSON *s;

	if (err != NULL) {
		fprintf(stderr, "outpost poll: %s:%u: %s\n", d->address, d->port, err);
		p->failed++;
	}
	p->values += d->last_values;
	warn_truncated(d, samples);
	if (!p->quiet)
		cJSON_ArrayForEach(s, samples)
			cli_json_print((void *)s);
	cJSON_Delete(samples);
	p->left--;
	poll_start_more(p);
}

int
cmd_poll(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SNMP_LONGOPTS,
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "max-rows", required_argument, NULL, OPT_MAX_ROWS },
		{ NULL, 0, NULL, 0 },
	};
	struct pollcmd *p = xcalloc(1, sizeof(*p));
	struct agent *a = &p->a;
	struct osnmp_engine_opts eo = { .max_inflight = 256, .max_per_target = 2 };
	const char *profiles[PROFILE_MAX];
	size_t nprofiles = 0;
	const char *max_rows = NULL;
	char err[256], names[128];
	uint64_t t0;
	int opt, rc = 0;

	/* -t and -r default to [poll] timeout and retries: the table's
	 * defaults, so `outpost poll` does what `outpost run` would. */
	{
		struct config *d = config_new_defaults();

		cli_snmp_init(&p->cli, (unsigned)d->poll.timeout, (unsigned)d->poll.retries);
		config_free(d);
	}
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":" CLI_SNMP_SHORTOPTS, opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s", poll_usage);
			poll_usage_profiles();
			printf("%s", cli_snmp_help);
			goto out;
		}
		if (opt == '?' || opt == ':') {
			rc = cli_getopt_error("poll", opt, argv[optind - 1], opts, NULL);
			goto out;
		}
		if ((rc = cli_snmp_opt(&p->cli, opt, optarg, err, sizeof(err))) == 1) {
			rc = 0;
			continue;
		}
		if (rc == -1) {
			rc = cli_getopt_error("poll", opt, NULL, opts, err);
			goto out;
		}
		if (opt == OPT_PROFILE && nprofiles < PROFILE_MAX) {
			profiles[nprofiles++] = optarg;
		} else if (opt == OPT_QUIET) {
			p->quiet = true;
		} else if (opt == OPT_MAX_ROWS) {
			max_rows = optarg;   /* checked by [poll] max_rows's rules */
		} else if (opt == OPT_CONCURRENCY) {
			if (cli_parse_uint("poll", "--concurrency", optarg, 1, 50000,
			    &eo.max_inflight) == -1) {
				rc = EXIT_USAGE;
				goto out;
			}
		} else {
			rc = cli_usage_error("poll", "at most %d profiles", PROFILE_MAX);
			goto out;
		}
	}
	if (optind >= argc) {
		rc = cli_usage_error("poll", "missing HOST[:PORT]");
		goto out;
	}
	if (argc - optind > POLL_MAX_TARGETS) {
		rc = cli_usage_error("poll", "at most %d devices", POLL_MAX_TARGETS);
		goto out;
	}
	if ((rc = cli_snmp_finish(&p->cli, false)) != 0)
		goto out;
	a->cfg = p->cli.cfg ? p->cli.cfg : config_new_defaults();
	if (nprofiles > 0) {
		/* --profile replaces [poll] profiles */
		for (size_t i = 0; i < a->cfg->poll.profiles.count; i++)
			free(a->cfg->poll.profiles.items[i]);
		free(a->cfg->poll.profiles.items);
		a->cfg->poll.profiles.items = xcalloc(nprofiles, sizeof(char *));
		for (size_t i = 0; i < nprofiles; i++) {
			if (config_profile_find(a->cfg, profiles[i]) == NULL &&
			    config_builtin_profile_find(profiles[i]) == NULL) {
				a->cfg->poll.profiles.count = i;
				config_builtin_profile_names(names, sizeof(names));
				rc = cli_usage_error("poll", "unknown profile '%s' (built in: "
				    "%s; others need a [profile NAME] in --config)",
				    profiles[i], names);
				goto out;
			}
			a->cfg->poll.profiles.items[i] = xstrdup(profiles[i]);
			a->cfg->poll.profiles.count = i + 1;
		}
	}
	if (max_rows != NULL && config_set(a->cfg, "poll", "max_rows", max_rows,
	    err, sizeof(err)) == -1) {
		rc = cli_usage_error("poll", "--max-rows: %s", err);
		goto out;
	}
	a->cfg->poll.timeout = p->cli.timeout_ms;
	a->cfg->poll.retries = (int)p->cli.retries;
	if (poll_compile(a, a->cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "outpost poll: %s\n", err);
		rc = 1;
		goto out;
	}
	a->cli_cred = &p->cli.creds[0];
	a->oneshot = true;
	cli_raise_nofile();
	osnmp_lib_init("outpost");
	a->loop = loop_new();
	a->eng = osnmp_engine_new(a->loop, &eo);
	for (int i = optind; i < argc; i++) {
		char host[256];
		unsigned port = 161;
		struct inv_dev *d;
		if (net_hostport_parse(argv[i], host, sizeof(host), &port, err,
		    sizeof(err)) == -1) {
			rc = cli_usage_error("poll", "%s", err);
			goto out;
		}
		if ((d = inv_add(a, host, port)) == NULL)
			continue;
		snprintf(d->cred, sizeof(d->cred), "%s", p->cli.creds[0].name);
	}
	/* poll_done prints each device's error; poll.c's service log line
	 * (a warning) would say it a second time. */
	log_set_level(LOG_LVL_ERROR);
	t0 = mono_ms();
	p->next = a->devs;
	p->window = eo.max_inflight;
	poll_start_more(p);
	loop_run(a->loop);
	fflush(stdout);
	fprintf(stderr, "outpost poll: %zu devices, %zu failed, %zu values in %.3f s\n",
	    a->ndevs, p->failed, p->values, (double)(mono_ms() - t0) / 1000.0);
	rc = p->failed ? 1 : 0;
out:
	if (a->eng)
		osnmp_engine_free(a->eng);
	inv_free_all(a);
	poll_release(a->ps);
	if (a->loop)
		loop_free(a->loop);
	if (a->cfg != p->cli.cfg)
		config_free(a->cfg);
	cli_snmp_free(&p->cli);
	free(p);
	return rc == -2 ? 0 : rc;
}
