/*
 * outpost status -c FILE: what the running agent last wrote to
 * state_dir/status.json, in words.
 */
#include "agent/agent_int.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MAX_BYTES 65536
#define STATUS_STALE_MS  30000

static double
num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A span in seconds as "12 s", "5 min", "1.5 h". */
static void
span(char *buf, size_t len, const char *pre, double s, const char *post)
{
	if (s < 120)
		snprintf(buf, len, "%s%.0f s%s", pre, s, post);
	else if (s < 7200)
		snprintf(buf, len, "%s%.0f min%s", pre, s / 60, post);
	else
		snprintf(buf, len, "%s%.1f h%s", pre, s / 3600, post);
}

static void
ago(char *buf, size_t len, double then_ms)
{
	if (then_ms <= 0)
		snprintf(buf, len, "never");
	else
		span(buf, len, "", ((double)wall_ms() - then_ms) / 1000.0, " ago");
}

/* "in 12 s" for a time on the agent's clock (schedule.clock_ms). */
static void
due(char *buf, size_t len, double when_ms, double clock_ms)
{
	span(buf, len, "in ", when_ms > clock_ms ? (when_ms - clock_ms) / 1000.0 : 0, "");
}

/* The next discovery and the next device poll, from status.json's
 * schedule (all on the agent's clock, so no clock is compared). */
static void
print_schedule(const cJSON *sched)
{
	const cJSON *polls = cJSON_GetObjectItemCaseSensitive(sched, "polls"), *p;
	const cJSON *next = NULL;
	double clock = num(sched, "clock_ms");
	char when[64];

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sched, "scan_running"))) {
		printf("next discovery:   running now\n");
	} else if (num(sched, "scan_ms") > 0) {
		due(when, sizeof(when), num(sched, "scan_ms"), clock);
		printf("next discovery:   %s\n", when);
	}
	cJSON_ArrayForEach(p, polls)
		if (cJSON_IsNumber(p) && (next == NULL || p->valuedouble < next->valuedouble))
			next = p;
	if (next != NULL) {
		due(when, sizeof(when), next->valuedouble, clock);
		printf("next device poll: %s (%s)\n", when, next->string);
	}
}

/* [traps]: what arrived and what was dropped, and why. */
static void
print_traps(const cJSON *o)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "traps");
	const char *engid;

	if (!cJSON_IsObject(t))
		return;
	printf("notifications:    %.0f received (%.0f informs acked), %.0f events "
	    "dropped\n", num(t, "received"), num(t, "informs_acked"),
	    num(o, "dropped_events"));
	printf("  refused:        %.0f community, %.0f auth, %.0f time window, "
	    "%.0f rate, %.0f malformed, %.0f queue full\n",
	    num(t, "dropped_community"), num(t, "dropped_auth"),
	    num(t, "dropped_time_window"), num(t, "dropped_rate"),
	    num(t, "malformed"), num(t, "queue_full"));
	engid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "engine_id"));
	if (engid != NULL)
		printf("  v3 engine:      %s (boots %.0f)\n", engid, num(t, "engine_boots"));
}

int
cmd_status(int argc, char **argv)
{
	struct config *cfg;
	const char *path;
	char file[600], buf[STATUS_MAX_BYTES + 1], when[64], contact[64];
	size_t n;
	FILE *f;
	cJSON *o;
	int rc;
	bool alive;

	rc = cli_config_only("status", "usage: outpost status -c FILE\n"
	    "Show the running agent's last contact, spool, devices and errors.\n",
	    argc, argv, &path);
	if (rc != 0)
		return rc == -2 ? 0 : rc;
	if (cli_config_load(path, &cfg) != 0)
		return 1;
	snprintf(file, sizeof(file), "%s/status.json", cfg->agent.state_dir);
	config_free(cfg);
	if ((f = fopen(file, "r")) == NULL) {
		fprintf(stderr, "outpost status: %s: %s (is the agent running?)\n",
		    file, strerror(errno));
		return 1;
	}
	n = fread(buf, 1, STATUS_MAX_BYTES, f);
	fclose(f);
	buf[n] = '\0';
	if ((o = cJSON_Parse(buf)) == NULL) {
		fprintf(stderr, "outpost status: %s: not valid JSON\n", file);
		return 1;
	}
	alive = num(o, "pid") > 0 && kill((pid_t)num(o, "pid"), 0) == 0 &&
	    (double)wall_ms() - num(o, "written_ms") < STATUS_STALE_MS;
	ago(when, sizeof(when), num(o, "written_ms"));
	ago(contact, sizeof(contact), num(o, "last_contact_ms"));
	printf("agent:            %s (pid %.0f, status written %s)\n",
	    alive ? "running" : "NOT RUNNING", num(o, "pid"), when);
	const char *hub = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "hub"));
	printf("hub:              %s\n", hub ? hub : "?");
	printf("last contact:     %s\n", contact);
	printf("failures in a row: %.0f\n", num(o, "consecutive_failures"));
	printf("spool:            %.0f batches, %.0f bytes, %.0f samples dropped\n",
	    num(o, "spool_files"), num(o, "spool_bytes"), num(o, "dropped_samples"));
	printf("devices:          %.0f\n", num(o, "devices"));
	printf("poll errors:      %.0f\n", num(o, "poll_errors"));
	if (alive)   /* a stopped agent's schedule means nothing */
		print_schedule(cJSON_GetObjectItemCaseSensitive(o, "schedule"));
	printf("commands:         %.0f ok, %.0f failed, %.0f refused\n",
	    num(o, "commands_ok"), num(o, "commands_failed"), num(o, "commands_refused"));
	print_traps(o);
	cJSON_Delete(o);
	return alive ? 0 : 1;
}
