/*
 * `outpost transport-selftest`: the transport alone, fed synthetic
 * samples, against a real or fake hub. The fault-injection tests
 * (tests/integration/test_transport*.py) drive it: each sample carries a
 * global sequence number, so the fake hub can check that every item it
 * stored arrived exactly once, and commands from the poll are answered
 * with results, so de-duplication can be checked end to end.
 */
#include "transport/transport_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELFTEST_CHECK_MS 20u
#define SELFTEST_NOISE    64u   /* random bytes per sample, hex: bulk that
                                 * compresses poorly, to fill a spool */

struct selftest {
	struct loop      *loop;
	struct transport *t;
	struct loop_timer tick, check, deadline;
	unsigned          batches, made, interval_ms, items;
	uint64_t          seq, results;
	bool              finished, timed_out;
};

cJSON *
tp_selftest_result(const cJSON *cmd, const char *mark, double value)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(cmd, "id");
	cJSON *r = cJSON_CreateObject(), *data;

	if (r == NULL)
		return NULL;
	cJSON_AddStringToObject(r, "command_id", id->valuestring);
	cJSON_AddStringToObject(r, "status", "ok");
	cJSON_AddNullToObject(r, "error");
	cJSON_AddNumberToObject(r, "started_ms", (double)tp_wall_ms());
	cJSON_AddNumberToObject(r, "duration_ms", 0);
	data = cJSON_AddObjectToObject(r, "data");
	cJSON_AddNumberToObject(data, mark, value);
	return r;
}

static void
selftest_command(const cJSON *cmd, void *arg)
{
	struct selftest *s = arg;
	cJSON *r = tp_selftest_result(cmd, "selftest", 1);

	if (r != NULL && transport_add(s->t, "results", r) == 0)
		s->results++;
}

static cJSON *
selftest_sample(struct selftest *s)
{
	static const char hex[] = "0123456789abcdef";
	char noise[2 * SELFTEST_NOISE + 1];
	cJSON *o = cJSON_CreateObject(), *rows, *row;
	uint64_t seq = ++s->seq, r = 0;

	if (o == NULL)
		return NULL;
	for (unsigned i = 0; i < 2 * SELFTEST_NOISE; i++) {
		if (i % 16 == 0)
			r = tp_rand64();
		noise[i] = hex[r & 15];
		r >>= 4;
	}
	noise[2 * SELFTEST_NOISE] = '\0';
	cJSON_AddStringToObject(o, "device", "selftest:161");
	cJSON_AddNumberToObject(o, "ts", (double)tp_wall_ms());
	cJSON_AddStringToObject(o, "profile", "selftest");
	cJSON_AddItemToObject(o, "columns", cJSON_CreateStringArray(
	    (const char *const[]){ ".1.3.6.1.2.1.1.3.0" }, 1));
	rows = cJSON_AddObjectToObject(o, "rows");
	row = cJSON_AddArrayToObject(rows, "0");
	cJSON_AddItemToArray(row, cJSON_CreateNumber((double)seq));
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddStringToObject(o, "noise", noise);
	return o;
}

static void
selftest_check(struct loop *l, struct loop_timer *tm, void *arg)
{
	struct selftest *s = arg;

	if (!tp_batch_empty(&s->t->batch))
		(void)transport_flush(s->t);   /* results added meanwhile */
	if (transport_idle(s->t)) {
		s->finished = true;
		loop_stop(l);
		return;
	}
	loop_timer_arm(l, tm, SELFTEST_CHECK_MS);
}

static void
selftest_tick(struct loop *l, struct loop_timer *tm, void *arg)
{
	struct selftest *s = arg;

	for (unsigned i = 0; i < s->items; i++) {
		cJSON *o = selftest_sample(s);
		if (o != NULL)
			(void)transport_add(s->t, "samples", o);
	}
	(void)transport_flush(s->t);
	if (++s->made < s->batches)
		loop_timer_arm(l, tm, s->interval_ms);
	else
		loop_timer_arm(l, &s->check, SELFTEST_CHECK_MS);
}

static void
selftest_deadline(struct loop *l, struct loop_timer *tm, void *arg)
{
	struct selftest *s = arg;

	s->timed_out = true;
	loop_stop(l);
}

static void
selftest_print(const struct selftest *s)
{
	struct transport_stats st;
	cJSON *o = cJSON_CreateObject();
	char *line;

	transport_get_stats(s->t, &st);
	cJSON_AddNumberToObject(o, "last_contact_ms", (double)st.last_contact_ms);
	cJSON_AddNumberToObject(o, "spool_bytes", (double)st.spool_bytes);
	cJSON_AddNumberToObject(o, "spool_files", (double)st.spool_files);
	cJSON_AddNumberToObject(o, "batches_sent", (double)st.batches_sent);
	cJSON_AddNumberToObject(o, "batches_quarantined",
	    (double)st.batches_quarantined);
	cJSON_AddNumberToObject(o, "spool_corrupt", (double)st.spool_corrupt);
	cJSON_AddNumberToObject(o, "dropped_samples", (double)st.dropped_samples);
	cJSON_AddNumberToObject(o, "polls", (double)st.polls);
	cJSON_AddNumberToObject(o, "poll_errors", (double)st.poll_errors);
	cJSON_AddNumberToObject(o, "commands_received",
	    (double)st.commands_received);
	cJSON_AddNumberToObject(o, "duplicate_commands",
	    (double)st.duplicate_commands);
	cJSON_AddNumberToObject(o, "consecutive_failures",
	    (double)st.consecutive_failures);
	cJSON_AddNumberToObject(o, "batches_closed", (double)s->t->batches_closed);
	cJSON_AddNumberToObject(o, "items_added", (double)s->seq);
	cJSON_AddNumberToObject(o, "results_added", (double)s->results);
	cJSON_AddBoolToObject(o, "acknowledged", s->finished);
	line = cJSON_PrintUnformatted(o);
	if (line != NULL)
		printf("%s\n", line);
	fflush(stdout);
	cJSON_free(line);
	cJSON_Delete(o);
}

int
transport_selftest(struct loop *loop, const struct transport_opts *opts,
    unsigned batches, unsigned interval_ms, unsigned items_per_batch,
    uint64_t timeout_ms)
{
	struct transport_opts o = *opts;
	struct selftest s = { 0 };
	char err[512];

	/* The start-up delay spreads a fleet's first polls; one selftest
	 * has no fleet. */
	o.start_delay_max_ms = 0;
	s.loop = loop;
	s.batches = batches;
	s.interval_ms = interval_ms;
	s.items = items_per_batch;
	s.t = transport_new(loop, &o, selftest_command, &s, err, sizeof(err));
	if (s.t == NULL) {
		log_error("transport-selftest: %s", err);
		return 1;
	}
	loop_timer_init(&s.tick, selftest_tick, &s);
	loop_timer_init(&s.check, selftest_check, &s);
	loop_timer_init(&s.deadline, selftest_deadline, &s);
	transport_start(s.t);
	if (batches > 0)
		loop_timer_arm(loop, &s.tick, 0);
	else
		loop_timer_arm(loop, &s.check, SELFTEST_CHECK_MS);
	loop_timer_arm(loop, &s.deadline, timeout_ms);
	if (loop_run(loop) == -1)
		log_error("transport-selftest: event loop failed");
	loop_timer_disarm(loop, &s.tick);
	loop_timer_disarm(loop, &s.check);
	loop_timer_disarm(loop, &s.deadline);
	if (s.timed_out)
		log_error("transport-selftest: not everything was acknowledged "
		    "within %llu ms", (unsigned long long)timeout_ms);
	transport_shutdown(s.t);
	selftest_print(&s);
	transport_free(s.t);
	return s.finished ? 0 : 1;
}
