/*
 * GET /metrics (metrics_int.h): the hub's own families, outpost_hub_*
 * and each agent's outpost_agent_* from its newest batch, written
 * straight into the answer on the loop; the store latency histogram the
 * store workers update.
 */
#include "hub/metrics_int.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- the store latency histogram ---- */

static const double metrics_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
	5, 10,
};
#define METRICS_NBOUNDS ((int)countof(metrics_bounds))

static const char *const metrics_op_names[HUB_SOP_COUNT] = {
	[HUB_SOP_POLL] = "poll", [HUB_SOP_BATCH] = "batch",
	[HUB_SOP_COMMAND_ADD] = "command_add",
	[HUB_SOP_COMMAND_GET] = "command_get", [HUB_SOP_AUTH] = "token_lookup",
	[HUB_SOP_HISTORY] = "history", [HUB_SOP_METRICS] = "metrics",
};

/* Updated by the store workers (store.c times their calls), read by
 * the loop: under metrics_hist_lock. */
static pthread_mutex_t metrics_hist_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t buckets[HUB_SOP_COUNT][METRICS_NBOUNDS];  /* not cumulative */
	uint64_t count[HUB_SOP_COUNT];
	double   sum[HUB_SOP_COUNT];
} metrics_store;

void
hub_metrics_store_time(enum hub_store_op op, uint64_t us)
{
	double s = (double)us / 1e6;

	if ((int)op < 0 || op >= HUB_SOP_COUNT)
		return;
	pthread_mutex_lock(&metrics_hist_lock);
	for (int i = 0; i < METRICS_NBOUNDS; i++)
		if (s <= metrics_bounds[i]) {
			metrics_store.buckets[op][i]++;
			break;
		}
	metrics_store.count[op]++;
	metrics_store.sum[op] += s;
	pthread_mutex_unlock(&metrics_hist_lock);
}

/* ---- the hub's own families, straight into the answer ---- */

void
metrics_out(struct mscrape *m, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)hub_buf_add(&m->out, line, (size_t)n);
}

void
metrics_head(struct mscrape *m, const char *name, const char *type,
    const char *help)
{
	metrics_out(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample: its HELP, TYPE and value. */
static void
metrics_one(struct mscrape *m, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	metrics_head(m, name, type, help);
	metrics_out(m, "%s %llu\n", name, v);
}

/* hub_store_command_counts()' callback (on the worker). */
void
metrics_count_cb(const char *status, int64_t n, void *arg)
{
	struct mscrape *m = arg;
	char esc[64], line[160];
	int w;

	metrics_escape(status, esc, sizeof(esc));
	w = snprintf(line, sizeof(line), "outpost_hub_commands{status=\"%s\"} "
	    "%lld\n", esc, (long long)n);
	if (w > 0 && (size_t)w < sizeof(line))
		(void)hub_buf_add(&m->cmds, line, (size_t)w);
}

static void
metrics_histogram(struct mscrape *m)
{
	metrics_head(m, "outpost_hub_store_duration_seconds", "histogram",
	    "Time of the store calls agents and operators wait on");
	pthread_mutex_lock(&metrics_hist_lock);
	for (int op = 0; op < HUB_SOP_COUNT; op++) {
		uint64_t cum = 0;

		for (int i = 0; i < METRICS_NBOUNDS; i++) {
			cum += metrics_store.buckets[op][i];
			metrics_out(m, "outpost_hub_store_duration_seconds_bucket{op=\"%s\","
			    "le=\"%g\"} %llu\n", metrics_op_names[op], metrics_bounds[i],
			    (unsigned long long)cum);
		}
		metrics_out(m, "outpost_hub_store_duration_seconds_bucket{op=\"%s\","
		    "le=\"+Inf\"} %llu\n", metrics_op_names[op],
		    (unsigned long long)metrics_store.count[op]);
		metrics_out(m, "outpost_hub_store_duration_seconds_sum{op=\"%s\"} "
		    "%.9f\n", metrics_op_names[op], metrics_store.sum[op]);
		metrics_out(m, "outpost_hub_store_duration_seconds_count{op=\"%s\"} "
		    "%llu\n", metrics_op_names[op],
		    (unsigned long long)metrics_store.count[op]);
	}
	pthread_mutex_unlock(&metrics_hist_lock);
}

/* The agents' own counters from their newest batch (transport/ and
 * agent/run.c name them): cumulative ones as counters. */
static const struct magent {
	const char *key, *name, *help;
	enum mtype  type;
} metrics_agent[] = {
	{ "spool_bytes", "outpost_agent_spool_bytes",
	  "Bytes of batches waiting in the agent's spool (its backlog)", M_GAUGE },
	{ "spool_files", "outpost_agent_spool_files",
	  "Batches waiting in the agent's spool", M_GAUGE },
	{ "devices", "outpost_agent_devices", "Devices the agent polls", M_GAUGE },
	{ "polls", "outpost_agent_polls_total", "Device polls run", M_COUNTER },
	{ "poll_errors", "outpost_agent_poll_errors_total",
	  "Device polls that failed", M_COUNTER },
	{ "samples", "outpost_agent_samples_total", "Samples made", M_COUNTER },
	{ "hub_polls", "outpost_agent_hub_polls_total",
	  "Long polls the agent made to the hub", M_COUNTER },
	{ "hub_poll_errors", "outpost_agent_hub_poll_errors_total",
	  "Long polls that failed", M_COUNTER },
	{ "commands_ok", "outpost_agent_commands_ok_total",
	  "Commands that ran with status ok", M_COUNTER },
	{ "commands_failed", "outpost_agent_commands_failed_total",
	  "Commands that ran and failed", M_COUNTER },
	{ "commands_refused", "outpost_agent_commands_refused_total",
	  "Commands the agent's policy refused", M_COUNTER },
	{ "spool_corrupt", "outpost_agent_spool_corrupt_total",
	  "Spool files found corrupt", M_COUNTER },
	{ "batches_quarantined", "outpost_agent_batches_quarantined_total",
	  "Batches the hub refused, kept aside", M_COUNTER },
};

/* A gauge of one number of each agent's row (hub_store_agents()). */
static void
metrics_agent_field(struct mscrape *m, cJSON *rows, const char *key,
    double scale, const char *name, const char *help)
{
	const cJSON *e;
	char ea[200];

	metrics_head(m, name, "gauge", help);
	cJSON_ArrayForEach(e, rows) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);

		metrics_escape(cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring,
		    ea, sizeof(ea));
		if (cJSON_IsNumber(v))
			metrics_out(m, "%s{agent=\"%s\"} %.17g\n", name, ea,
			    v->valuedouble * scale);
	}
}

static void
metrics_agents(struct mscrape *m, cJSON *rows)
{
	struct hub *h = m->hub;
	uint64_t wall = wall_ms();
	const cJSON *e;
	int online = 0, held = 0;
	char ea[200];

	for (size_t b = 0; b < HUB_AGENT_BUCKETS; b++)
		for (struct hub_agent *a = h->agents[b]; a != NULL; a = a->next) {
			held += a->poll != NULL;
			online += a->poll != NULL || (a->last_seen_ms > 0 &&
			    wall - a->last_seen_ms < METRICS_ONLINE_MS);
		}
	metrics_head(m, "outpost_hub_held_polls", "gauge",
	    "Agents' long polls held open by this hub now");
	metrics_out(m, "outpost_hub_held_polls %d\n", held);
	metrics_head(m, "outpost_hub_agents", "gauge", "Agents in the store");
	metrics_out(m, "outpost_hub_agents %d\n", cJSON_GetArraySize(rows));
	metrics_head(m, "outpost_hub_agents_online", "gauge", "Agents with a poll "
	    "held by this hub or seen by it in the last 30 s");
	metrics_out(m, "outpost_hub_agents_online %d\n", online);
	metrics_agent_field(m, rows, "batch_ms", 0.001,
	    "outpost_agent_last_batch_timestamp_seconds",
	    "When the hub received the agent's newest batch");
	metrics_agent_field(m, rows, "dropped_samples", 1,
	    "outpost_agent_last_batch_dropped_samples",
	    "Samples the agent dropped (spool full) as reported in its newest batch");
	for (size_t k = 0; k < countof(metrics_agent); k++) {
		metrics_head(m, metrics_agent[k].name, metrics_agent[k].type ==
		    M_COUNTER ? "counter" : "gauge", metrics_agent[k].help);
		cJSON_ArrayForEach(e, rows) {
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "counters");
			cJSON *cj = NULL;
			char err[64], v[64];

			if (c == NULL || c->type != cJSON_Raw ||
			    hub_json_parse(c->valuestring, strlen(c->valuestring), &cj,
			    err, sizeof(err)) != HUB_IN_OK)
				continue;
			metrics_escape(cJSON_GetObjectItemCaseSensitive(e,
			    "name")->valuestring, ea, sizeof(ea));
			if (metrics_value(cJSON_GetObjectItemCaseSensitive(cj,
			    metrics_agent[k].key), 1, v, sizeof(v)))
				metrics_out(m, "%s{agent=\"%s\"} %s\n",
				    metrics_agent[k].name, ea, v);
			cJSON_Delete(cj);
		}
	}
}

void
metrics_hub(struct mscrape *m)
{
	struct hub *h = m->hub;
	const struct hub_stats *st = &h->stats;

	metrics_head(m, "outpost_hub_build_info", "gauge",
	    "The hub's version (always 1)");
	metrics_out(m, "outpost_hub_build_info{version=\"%s\"} 1\n",
	    OUTPOST_VERSION);
	metrics_one(m, "outpost_hub_held_requests", "gauge",
	    "Requests held open now (agents' long polls and operators' waits)",
	    h->nheld);
	metrics_one(m, "outpost_hub_draining", "gauge",
	    "1 while the hub drains for shutdown", h->draining ? 1 : 0);
	metrics_head(m, "outpost_hub_commands", "gauge",
	    "Commands in the store by status (all agents, all hub nodes)");
	if (m->cmds.len > 0)
		(void)hub_buf_add(&m->out, m->cmds.data, m->cmds.len);
	metrics_one(m, "outpost_hub_commands_queued_total", "counter",
	    "Commands operators queued on this hub", st->commands_queued);
	metrics_one(m, "outpost_hub_ingest_batches_total", "counter",
	    "Batches stored (a batch sent again is counted in "
	    "outpost_hub_ingest_duplicate_batches_total)", st->batches);
	metrics_one(m, "outpost_hub_ingest_duplicate_batches_total", "counter",
	    "Batches received again and not stored again", st->batches_dup);
	metrics_head(m, "outpost_hub_ingest_bytes_total", "counter",
	    "Batch bytes received: gzip on the wire, json once inflated");
	metrics_out(m, "outpost_hub_ingest_bytes_total{encoding=\"gzip\"} %llu\n",
	    (unsigned long long)st->batch_bytes);
	metrics_out(m, "outpost_hub_ingest_bytes_total{encoding=\"json\"} %llu\n",
	    (unsigned long long)st->batch_json_bytes);
	metrics_one(m, "outpost_hub_forbidden_requests_total", "counter",
	    "Operator requests refused 403 because of their token's role",
	    st->forbidden);
	metrics_histogram(m);
	if (m->rows != NULL)
		metrics_agents(m, m->rows);
}
