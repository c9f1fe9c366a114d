/*
 * GET /metrics: the Prometheus text exposition format (version 0.0.4).
 *
 *   outpost_hub_*     this hub process: held polls, commands by status,
 *                     ingest counters, store latency histogram, agents
 *   outpost_agent_*   each agent's own counters from its newest batch
 *   outpost_if_*, outpost_device_*, outpost_hr_*
 *                     the newest sample of each (agent, device, profile)
 *                     received in the last METRICS_WINDOW_MS, as
 *                     counters (_total, so rate() works) and gauges
 *
 * A device sample is exported with its own time (the poll's ts) as the
 * sample timestamp: a rate then divides by the time between two device
 * polls, not between two scrapes, so a 1 s scrape of a 60 s poll gives
 * the right rate. docs/metrics.md names every metric.
 *
 * The text format wants the lines of one family together, so each family
 * collects its lines in its own buffer while the samples are read once,
 * and the families are written out at the end. The answer is bounded
 * (METRICS_MAX_BYTES); past it device series are left out and
 * outpost_hub_metrics_truncated says so.
 */
#include "hub/metrics_int.h"

#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- families ---- */

/* A column of a sample table exported as a metric. scale_col: multiply
 * by that column of the same row (hrStorage allocation units). */
struct mcol {
	const char *table, *oid, *name, *help;
	enum mtype  type;
	const char *scale_col;
	double      scale;
};

static const struct mcol metrics_cols[] = {
	{ "interfaces", "1.3.6.1.2.1.31.1.1.1.6", "outpost_if_hc_in_octets_total",
	  "ifHCInOctets: octets received (64-bit)", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.31.1.1.1.10", "outpost_if_hc_out_octets_total",
	  "ifHCOutOctets: octets sent (64-bit)", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.10", "outpost_if_in_octets_total",
	  "ifInOctets: octets received (32-bit; only where the device has no "
	  "ifHCInOctets)", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.16", "outpost_if_out_octets_total",
	  "ifOutOctets: octets sent (32-bit; only where the device has no "
	  "ifHCOutOctets)", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.31.1.1.1.7", "outpost_if_hc_in_ucast_pkts_total",
	  "ifHCInUcastPkts: unicast packets received (64-bit)", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.31.1.1.1.11",
	  "outpost_if_hc_out_ucast_pkts_total",
	  "ifHCOutUcastPkts: unicast packets sent (64-bit)", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.11", "outpost_if_in_ucast_pkts_total",
	  "ifInUcastPkts: unicast packets received (32-bit)", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.17", "outpost_if_out_ucast_pkts_total",
	  "ifOutUcastPkts: unicast packets sent (32-bit)", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.13", "outpost_if_in_discards_total",
	  "ifInDiscards: inbound packets discarded", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.14", "outpost_if_in_errors_total",
	  "ifInErrors: inbound packets with errors", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.19", "outpost_if_out_discards_total",
	  "ifOutDiscards: outbound packets discarded", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.20", "outpost_if_out_errors_total",
	  "ifOutErrors: outbound packets with errors", M_COUNTER, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.8", "outpost_if_oper_status",
	  "ifOperStatus: 1 up, 2 down, 3 testing, 5 dormant, 7 lowerLayerDown",
	  M_GAUGE, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.7", "outpost_if_admin_status",
	  "ifAdminStatus: 1 up, 2 down, 3 testing", M_GAUGE, NULL, 1 },
	{ "interfaces", "1.3.6.1.2.1.31.1.1.1.15", "outpost_if_high_speed_bytes_per_second",
	  "ifHighSpeed in bytes/s (the device reports Mb/s)", M_GAUGE, NULL, 125000 },
	{ "interfaces", "1.3.6.1.2.1.2.2.1.5", "outpost_if_speed_bytes_per_second",
	  "ifSpeed in bytes/s (32-bit bits/s: caps at 4.29 Gb/s)", M_GAUGE, NULL,
	  0.125 },
	{ "hrProcessor", "1.3.6.1.2.1.25.3.3.1.2", "outpost_hr_processor_load_percent",
	  "hrProcessorLoad: percent of the last minute the processor was busy",
	  M_GAUGE, NULL, 1 },
	{ "hrStorage", "1.3.6.1.2.1.25.2.3.1.5", "outpost_hr_storage_size_bytes",
	  "hrStorageSize times hrStorageAllocationUnits", M_GAUGE,
	  "1.3.6.1.2.1.25.2.3.1.4", 1 },
	{ "hrStorage", "1.3.6.1.2.1.25.2.3.1.6", "outpost_hr_storage_used_bytes",
	  "hrStorageUsed times hrStorageAllocationUnits", M_GAUGE,
	  "1.3.6.1.2.1.25.2.3.1.4", 1 },
};
#define METRICS_NCOLS ((int)countof(metrics_cols))

/* The row label of each table, and the text columns that become labels
 * of its _info family. */
static const struct mtable {
	const char *table, *index_label, *info_name, *info_help;
	const char *label_oids[3], *label_names[3];
} metrics_tables[] = {
	{ "interfaces", "if_index", "outpost_if_info",
	  "Names of an interface (from the newest sample that read them)",
	  { "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.2",
	    "1.3.6.1.2.1.31.1.1.1.18" }, { "if_name", "if_descr", "if_alias" } },
	{ "hrProcessor", "hr_device_index", NULL, NULL, { NULL }, { NULL } },
	{ "hrStorage", "hr_storage_index", "outpost_hr_storage_info",
	  "Description of a storage area",
	  { "1.3.6.1.2.1.25.2.3.1.3" }, { "hr_storage_descr" } },
};

/* Scalars of a sample. */
static const struct mscalar {
	const char *oid, *name, *help;
	double      scale;
} metrics_scalars[] = {
	{ "1.3.6.1.2.1.1.3.0", "outpost_device_uptime_seconds",
	  "sysUpTime: time since the device's SNMP agent (re)started", 0.01 },
	{ "1.3.6.1.2.1.25.1.1.0", "outpost_hr_system_uptime_seconds",
	  "hrSystemUptime: time since the host booted", 0.01 },
};

/* Fixed device families after the columns. */
enum {
	F_SAMPLE_TS = METRICS_NCOLS,
	F_SCALAR0,
	F_INFO0 = F_SCALAR0 + (int)countof(metrics_scalars),
	F_NFAM = F_INFO0 + (int)countof(metrics_tables),
};


/* ---- formatting ---- */

/* A label value escaped (\\, \", \n) into out; a long one is cut. */
void
metrics_escape(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"') {
			out[n++] = '\\';
			out[n++] = *s;
		} else if (*s == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

/* One line into a family's buffer, within the answer's bound. */
static void
metrics_line(struct mscrape *m, int f, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (m->truncated)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;   /* a label past 2 KiB: that series is left out */
	if (m->total + (size_t)n > METRICS_MAX_BYTES - (1u << 16) ||
	    hub_buf_add(&m->fam[f], line, (size_t)n) == -1) {
		m->truncated = true;
		return;
	}
	m->total += (size_t)n;
}

/* Whole lines (already formatted) into a family, within the bound. */
static void
metrics_block(struct mscrape *m, int f, const char *text, size_t len)
{
	if (m->truncated || len == 0)
		return;
	if (m->total + len > METRICS_MAX_BYTES - (1u << 16) ||
	    hub_buf_add(&m->fam[f], text, len) == -1) {
		m->truncated = true;
		return;
	}
	m->total += len;
}

/* The digits of an integer cell as sent (exact past 2^53), or a number
 * printed with 17 significant digits; false when not a number. */
bool
metrics_value(const cJSON *v, double scale, char *out, size_t outlen)
{
	if (v == NULL)
		return false;
	if (scale == 1 && v->type == cJSON_Raw && v->valuestring != NULL &&
	    strspn(v->valuestring, "-0123456789") == strlen(v->valuestring)) {
		snprintf(out, outlen, "%s", v->valuestring);
		return true;
	}
	if (cJSON_IsNumber(v)) {
		snprintf(out, outlen, "%.17g", v->valuedouble * scale);
		return true;
	}
	if (v->type == cJSON_Raw && v->valuestring != NULL) {
		snprintf(out, outlen, "%.17g", strtod(v->valuestring, NULL) * scale);
		return true;
	}
	return false;
}

static int
metrics_col_index(const cJSON *columns, const char *oid)
{
	int i = 0;
	const cJSON *c;

	cJSON_ArrayForEach(c, columns) {
		const char *s = cJSON_IsString(c) ? c->valuestring : "";

		if (*s == '.')
			s++;
		if (strcmp(s, oid) == 0)
			return i;
		i++;
	}
	return -1;
}

/* ---- the names of rows (ifName, ...) between label reads ----
 *
 * The agent reads label columns every label_interval (1 h by default),
 * so most samples have none. The _info lines of the last sample that had
 * them are kept here per (agent, device, table), and read back from the
 * stored samples after a restart (a few devices per scrape). They are
 * exported without a timestamp: they stay true until the next read. */

#define LC_BUCKETS      4096
#define LC_MAX_ENTRIES  100000
#define LC_MAX_BYTES    (64u << 20)
#define LC_FORGET_MS    (2 * 3600 * 1000)   /* device gone from the window */
#define LC_RETRY_MS     600000              /* looked back, found none */
#define LC_LOOKBACKS    20                  /* per scrape */
#define LC_LOOKBACK_ROWS 300

struct lc_entry {
	char            *key;      /* agent \t device \t table (lines: hash) */
	char            *text;     /* lines, NULL: none known */
	size_t           len;
	uint64_t         seen_ms, retry_ms;
	/* lines: the sample's lines of family f are text[off[f], off[f + 1]),
	 * tables: the bit of each metrics_tables row it had */
	uint32_t         off[F_INFO0 + 1];
	unsigned         tables;
	uint64_t         gen;
	struct lc_entry *next;
};

struct lc_table {
	struct lc_entry *b[LC_BUCKETS];
	size_t           n, bytes;
};

/* lc: names per (agent, device, table); lines: the rendered lines of each
 * stored sample (by a hash of its text), so a sample that several
 * scrapes see is parsed and formatted once. Used by the store workers
 * (scrapes may run on two at once): under lc_lock. */
static pthread_mutex_t lc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lc_table lc, lines;
static uint64_t lines_gen;

static struct lc_entry *
lc_find(struct lc_table *tab, const char *key, bool create)
{
	uint32_t h = 2166136261u;
	struct lc_entry *e;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (e = tab->b[h % LC_BUCKETS]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create || tab->n >= LC_MAX_ENTRIES ||
	    (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	if ((e->key = strdup(key)) == NULL) {
		free(e);
		return NULL;
	}
	e->next = tab->b[h % LC_BUCKETS];
	tab->b[h % LC_BUCKETS] = e;
	tab->n++;
	return e;
}

static void
lc_set(struct lc_table *tab, struct lc_entry *e, const char *text, size_t len,
    uint64_t now)
{
	char *t = NULL;

	if (len > 0 && tab->bytes - e->len + len <= LC_MAX_BYTES &&
	    (t = malloc(len + 1)) != NULL) {
		memcpy(t, text, len);
		t[len] = '\0';
	}
	tab->bytes -= e->len;
	free(e->text);
	e->text = t;
	e->len = t ? len : 0;
	tab->bytes += e->len;
	e->retry_ms = t ? 0 : now + LC_RETRY_MS;
}

/* lc: forget devices not seen for LC_FORGET_MS; lines: samples this scrape
 * did not read (a newer one replaced them). */
static void
lc_prune(struct lc_table *tab, uint64_t now)
{
	for (size_t i = 0; i < LC_BUCKETS; i++)
		for (struct lc_entry **pp = &tab->b[i], *e; (e = *pp) != NULL;) {
			/* seen_ms may be later than now (the scrape's start) */
			if (tab == &lines ? e->gen == lines_gen :
			    e->seen_ms + LC_FORGET_MS > now) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			tab->bytes -= e->len;
			tab->n--;
			free(e->text);
			free(e->key);
			free(e);
		}
}

/* A device whose names must be looked up in the stored samples. */
struct lc_miss {
	char key[700];
	char agent[HUB_NAME_MAX + 1], device[300], lab[1100];
	int  table;
};

/* The _info lines of a table's rows that carry label columns, into out
 * (no timestamp); false when the table has none. */
static bool
metrics_info_render(int ti, const char *lab, const cJSON *tab,
    struct hub_buf *out)
{
	const struct mtable *t = &metrics_tables[ti];
	const cJSON *columns = cJSON_GetObjectItemCaseSensitive(tab, "columns");
	const cJSON *row;
	int labpos[3];
	bool any = false;

	if (t->info_name == NULL)
		return false;
	for (int l = 0; l < 3; l++) {
		labpos[l] = t->label_oids[l] ?
		    metrics_col_index(columns, t->label_oids[l]) : -1;
		any |= labpos[l] >= 0;
	}
	if (!any)
		return false;
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(tab, "rows")) {
		char idx[64], infolab[1024], line[2300];
		size_t n = 0;
		int w;

		if (!cJSON_IsArray(row) || row->string == NULL)
			continue;
		metrics_escape(row->string, idx, sizeof(idx));
		for (int l = 0; l < 3 && t->label_names[l] != NULL; l++) {
			const cJSON *cell = labpos[l] >= 0 ?
			    cJSON_GetArrayItem(row, labpos[l]) : NULL;
			char esc[300];

			/* Hex-STRING cells ({"type", "value"}) show their hex. */
			if (cJSON_IsObject(cell))
				cell = cJSON_GetObjectItemCaseSensitive(cell, "value");
			metrics_escape(cJSON_IsString(cell) ? cell->valuestring : "",
			    esc, sizeof(esc));
			n += (size_t)snprintf(infolab + n, sizeof(infolab) - n,
			    ",%s=\"%s\"", t->label_names[l], esc);
			if (n >= sizeof(infolab))
				break;
		}
		if (n >= sizeof(infolab))
			continue;
		w = snprintf(line, sizeof(line), "%s{%s,%s=\"%s\"%s} 1\n",
		    t->info_name, lab, t->index_label, idx, infolab);
		if (w > 0 && (size_t)w < sizeof(line))
			(void)hub_buf_add(out, line, (size_t)w);
	}
	return true;
}

static void metrics_block(struct mscrape *, int f, const char *, size_t);

/* A table without label columns in this sample: the names known from an
 * earlier one, or a look back in the stored samples (queued). */
static void
metrics_info_known(struct mscrape *m, const char *agent, const char *device,
    const char *lab, int ti)
{
	uint64_t now = wall_ms();
	struct lc_entry *e;
	char key[700];

	if (metrics_tables[ti].info_name == NULL)
		return;
	snprintf(key, sizeof(key), "%s\t%s\t%s", agent, device,
	    metrics_tables[ti].table);
	if ((e = lc_find(&lc, key, true)) == NULL)
		return;
	e->seen_ms = now;
	if (e->text != NULL) {
		metrics_block(m, F_INFO0 + ti, e->text, e->len);
	} else if (now >= e->retry_ms && m->nmiss < LC_LOOKBACKS) {
		struct lc_miss *x = &m->miss[m->nmiss++];

		snprintf(x->key, sizeof(x->key), "%s", key);
		snprintf(x->agent, sizeof(x->agent), "%s", agent);
		snprintf(x->device, sizeof(x->device), "%s", device);
		snprintf(x->lab, sizeof(x->lab), "%s", lab);
		x->table = ti;
		e->retry_ms = now + LC_RETRY_MS;   /* once per scrape at most */
	}
}

/* One table of one sample: its metric columns, and its names (fresh, or
 * kept from an earlier sample, or to be looked up: *miss). */
static void
metrics_table(struct mscrape *m, const char *agent, const char *device,
    const char *lab, int64_t ts, int ti, const cJSON *tab)
{
	const struct mtable *t = &metrics_tables[ti];
	const cJSON *columns = cJSON_GetObjectItemCaseSensitive(tab, "columns");
	int colpos[METRICS_NCOLS], scalepos[METRICS_NCOLS];
	uint64_t now = wall_ms();
	struct hub_buf info;
	struct lc_entry *e;
	char key[700];
	const cJSON *row;

	for (int c = 0; c < METRICS_NCOLS; c++) {
		const struct mcol *mc = &metrics_cols[c];

		colpos[c] = strcmp(mc->table, t->table) == 0 ?
		    metrics_col_index(columns, mc->oid) : -1;
		scalepos[c] = mc->scale_col ?
		    metrics_col_index(columns, mc->scale_col) : -1;
	}
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(tab, "rows")) {
		char idx[64], v[64];

		if (!cJSON_IsArray(row) || row->string == NULL)
			continue;
		metrics_escape(row->string, idx, sizeof(idx));
		for (int c = 0; c < METRICS_NCOLS; c++) {
			double scale = metrics_cols[c].scale;

			if (colpos[c] < 0)
				continue;
			if (scalepos[c] >= 0) {
				if (!metrics_value(cJSON_GetArrayItem(row, scalepos[c]),
				    1, v, sizeof(v)))
					continue;
				scale *= strtod(v, NULL);
			}
			if (metrics_value(cJSON_GetArrayItem(row, colpos[c]), scale,
			    v, sizeof(v)))
				metrics_line(m, c, "%s{%s,%s=\"%s\"} %s %lld\n",
				    metrics_cols[c].name, lab, t->index_label, idx, v,
				    (long long)ts);
		}
	}
	if (t->info_name == NULL)
		return;
	hub_buf_init(&info, 1u << 20);
	if (metrics_info_render(ti, lab, tab, &info)) {
		snprintf(key, sizeof(key), "%s\t%s\t%s", agent, device, t->table);
		if ((e = lc_find(&lc, key, true)) != NULL) {
			lc_set(&lc, e, info.data, info.len, now);
			e->seen_ms = now;
		}
		metrics_block(m, F_INFO0 + ti, info.data, info.len);
	} else {
		metrics_info_known(m, agent, device, lab, ti);
	}
	hub_buf_free(&info);
}

/* The names of a device not seen with labels since the hub started:
 * from its newest stored sample that has them. */
static void
metrics_lookback(struct mscrape *m, struct hub_store *st,
    const struct lc_miss *x)
{
	struct hub_samples_page pg = { .until = INT64_MAX,
	    .limit = LC_LOOKBACK_ROWS };
	struct lc_entry *e = lc_find(&lc, x->key, false);
	struct hub_buf rows, info;
	cJSON *arr = NULL, *s;
	int64_t id;

	if (e == NULL ||
	    (id = hub_store_agent_by_name(st, x->agent)) <= 0 ||
	    hub_store_samples(st, id, x->device, &pg, &rows) == -1)
		return;
	if (hub_json_parse(rows.data, rows.len, &arr, m->err,
	    sizeof(m->err)) != HUB_IN_OK)
		arr = NULL;
	hub_buf_free(&rows);
	hub_buf_init(&info, 1u << 20);
	cJSON_ArrayForEach(s, arr) {
		const cJSON *tab = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(s, "tables"),
		    metrics_tables[x->table].table);

		if (cJSON_IsObject(tab) &&
		    metrics_info_render(x->table, x->lab, tab, &info))
			break;
	}
	lc_set(&lc, e, info.data, info.len, wall_ms());
	if (info.len > 0)
		metrics_block(m, F_INFO0 + x->table, info.data, info.len);
	hub_buf_free(&info);
	cJSON_Delete(arr);
}

/* A sample seen before: its cached lines, and its tables' names. */
static bool
metrics_cached(struct mscrape *m, struct lc_entry *e, const char *agent,
    const char *device, const char *lab)
{
	if (e == NULL || e->text == NULL)
		return false;
	for (int f = 0; f < F_INFO0; f++)
		metrics_block(m, f, e->text + e->off[f], e->off[f + 1] - e->off[f]);
	for (int ti = 0; ti < (int)countof(metrics_tables); ti++)
		if (e->tables & (1u << ti))
			metrics_info_known(m, agent, device, lab, ti);
	e->gen = lines_gen;
	m->samples++;
	return true;
}

/* After a sample was rendered: its lines (those of the families from
 * start[] on) into the cache. */
static void
metrics_cache(struct mscrape *m, struct lc_entry *e, const size_t *start,
    unsigned tables)
{
	struct hub_buf b;
	uint32_t off[F_INFO0 + 1];

	if (e == NULL || m->truncated)
		return;
	hub_buf_init(&b, LC_MAX_BYTES);
	for (int f = 0; f < F_INFO0; f++) {
		off[f] = (uint32_t)b.len;
		if (hub_buf_add(&b, m->fam[f].data + start[f],
		    m->fam[f].len - start[f]) == -1) {
			hub_buf_free(&b);
			return;
		}
	}
	off[F_INFO0] = (uint32_t)b.len;
	lc_set(&lines, e, b.data, b.len, 0);
	hub_buf_free(&b);
	memcpy(e->off, off, sizeof(off));
	e->tables = tables;
	e->gen = lines_gen;
}

/* hub_store_latest_samples()' callback: one sample, all its series. */
static void
metrics_sample_cb(const char *agent, const char *device, int64_t ts,
    const char *entry, size_t len, void *arg)
{
	struct mscrape *m = arg;
	char ea[200], ed[600], ep[200], lab[1100], v[64], key[900];
	const cJSON *prof, *scalars, *tables;
	size_t start[F_INFO0];
	unsigned seen = 0;
	uint64_t hash = 14695981039346656037ull;
	struct lc_entry *e;
	cJSON *s = NULL;

	if (m->truncated)
		return;
	metrics_escape(agent, ea, sizeof(ea));
	metrics_escape(device, ed, sizeof(ed));
	snprintf(lab, sizeof(lab), "agent=\"%s\",device=\"%s\"", ea, ed);
	for (size_t i = 0; i < len; i++)
		hash = (hash ^ (unsigned char)entry[i]) * 1099511628211ull;
	snprintf(key, sizeof(key), "%s\t%s\t%016llx.%zu", agent, device,
	    (unsigned long long)hash, len);
	e = lc_find(&lines, key, true);
	if (metrics_cached(m, e, agent, device, lab) ||
	    hub_json_parse(entry, len, &s, m->err, sizeof(m->err)) != HUB_IN_OK)
		return;
	m->samples++;
	for (int f = 0; f < F_INFO0; f++)
		start[f] = m->fam[f].len;
	prof = cJSON_GetObjectItemCaseSensitive(s, "profile");
	metrics_escape(cJSON_IsString(prof) ? prof->valuestring : "", ep,
	    sizeof(ep));
	metrics_line(m, F_SAMPLE_TS, "outpost_device_sample_timestamp_seconds"
	    "{%s,profile=\"%s\"} %.3f %lld\n", lab, ep, (double)ts / 1000,
	    (long long)ts);
	scalars = cJSON_GetObjectItemCaseSensitive(s, "scalars");
	for (size_t i = 0; i < countof(metrics_scalars); i++) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(scalars,
		    metrics_scalars[i].oid);
		char dotted[64];

		if (c == NULL) {   /* keys may carry the leading dot */
			snprintf(dotted, sizeof(dotted), ".%s", metrics_scalars[i].oid);
			c = cJSON_GetObjectItemCaseSensitive(scalars, dotted);
		}
		if (metrics_value(c, metrics_scalars[i].scale, v, sizeof(v)))
			metrics_line(m, F_SCALAR0 + (int)i, "%s{%s} %s %lld\n",
			    metrics_scalars[i].name, lab, v, (long long)ts);
	}
	tables = cJSON_GetObjectItemCaseSensitive(s, "tables");
	for (size_t ti = 0; ti < countof(metrics_tables); ti++) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(tables,
		    metrics_tables[ti].table);

		if (cJSON_IsObject(t)) {
			metrics_table(m, agent, device, lab, ts, (int)ti, t);
			seen |= 1u << ti;
		}
	}
	cJSON_Delete(s);
	metrics_cache(m, e, start, seen);
}

static void
metrics_free(void *arg)
{
	struct mscrape *m = arg;

	if (m == NULL)
		return;
	for (int f = 0; m->fam != NULL && f < F_NFAM; f++)
		hub_buf_free(&m->fam[f]);
	free(m->fam);
	hub_buf_free(&m->out);
	hub_buf_free(&m->cmds);
	cJSON_Delete(m->rows);
	free(m->miss);
	free(m);
}

/* The store's part of a scrape, on a store worker: the command counts,
 * the agents' rows, and the newest samples rendered into m->fam. */
void
hub_metrics_run(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;
	struct mscrape *m = c->more;
	uint64_t wall = m->wall;

	(void)hub_store_command_counts(s, metrics_count_cb, m);
	if (hub_store_agents(s, &m->rows) == -1) {
		cJSON_Delete(m->rows);
		m->rows = NULL;
	}
	pthread_mutex_lock(&lc_lock);
	lines_gen++;
	m->rc = hub_store_latest_samples(s, wall > METRICS_WINDOW_MS ?
	    wall - METRICS_WINDOW_MS : 0, METRICS_MAX_SAMPLES, metrics_sample_cb, m);
	/* after the read: the store answers one call at a time */
	for (int i = 0; i < m->nmiss; i++)
		metrics_lookback(m, s, &m->miss[i]);
	lc_prune(&lc, wall);
	lc_prune(&lines, wall);
	pthread_mutex_unlock(&lc_lock);
	j->rc = 1;
}

void
hub_metrics_handle(struct hub_req *r, struct hub_call *c)
{
	struct mscrape *m;
	size_t len;

	if (c == NULL) {
		if ((m = calloc(1, sizeof(*m))) == NULL ||
		    (m->miss = calloc(LC_LOOKBACKS, sizeof(*m->miss))) == NULL ||
		    (m->fam = calloc(F_NFAM, sizeof(*m->fam))) == NULL ||
		    (c = hub_call_new(hub_metrics_run)) == NULL) {
			if (m != NULL) {
				free(m->miss);
				free(m->fam);
			}
			free(m);
			hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "out of memory");
			return;
		}
		m->wall = wall_ms();
		hub_buf_init(&m->out, METRICS_MAX_BYTES);
		hub_buf_init(&m->cmds, 1u << 20);
		for (int f = 0; f < F_NFAM; f++)
			hub_buf_init(&m->fam[f], METRICS_MAX_BYTES);
		c->more = m;
		c->more_free = metrics_free;
		(void)hub_api_call(r, c);
		return;
	}
	m = c->more;
	m->hub = r->hub;
	metrics_hub(m);
	for (int f = 0; f < F_NFAM; f++) {
		const char *name, *help, *type = "gauge";

		if (f < METRICS_NCOLS) {
			name = metrics_cols[f].name;
			help = metrics_cols[f].help;
			type = metrics_cols[f].type == M_COUNTER ? "counter" : "gauge";
		} else if (f == F_SAMPLE_TS) {
			name = "outpost_device_sample_timestamp_seconds";
			help = "Poll time of the newest sample of a device and profile";
		} else if (f < F_INFO0) {
			name = metrics_scalars[f - F_SCALAR0].name;
			help = metrics_scalars[f - F_SCALAR0].help;
		} else if ((name = metrics_tables[f - F_INFO0].info_name) != NULL) {
			help = metrics_tables[f - F_INFO0].info_help;
		} else {
			continue;
		}
		metrics_head(m, name, type, help);
		if (m->fam[f].len > 0)
			(void)hub_buf_add(&m->out, m->fam[f].data, m->fam[f].len);
		hub_buf_free(&m->fam[f]);
	}
	metrics_head(m, "outpost_hub_metrics_device_samples", "gauge",
	    "Device samples this answer was made from");
	metrics_out(m, "outpost_hub_metrics_device_samples %d\n", m->samples);
	metrics_head(m, "outpost_hub_metrics_truncated", "gauge",
	    "1 when device series were left out of this answer (size bound) or "
	    "the samples could not be read");
	metrics_out(m, "outpost_hub_metrics_truncated %d\n",
	    m->truncated || m->rc == -1 ? 1 : 0);
	len = m->out.len;
	hub_respond(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
	    hub_buf_take(&m->out), len);
	hub_call_free(c);   /* and m */
}
