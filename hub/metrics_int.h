/*
 * GET /metrics's parts (metrics.c: device series from the newest
 * samples, the scrape and the answer; metrics_hub.c: the hub's own
 * families and the store latency histogram). Only they include this.
 */
#ifndef OUTPOST_HUB_METRICS_INT_H
#define OUTPOST_HUB_METRICS_INT_H

#include "hub/hub_int.h"

#define METRICS_MAX_BYTES   (64u << 20)
#define METRICS_WINDOW_MS   300000     /* Prometheus' default lookback */
#define METRICS_MAX_SAMPLES 50000      /* newest samples read per scrape */
#define METRICS_ONLINE_MS   30000      /* as "polling" in GET /v1/agents */

enum mtype { M_GAUGE, M_COUNTER };

struct lc_miss;

/* A scrape: the store is read and the device families rendered on a
 * store worker (hub_metrics_run), the hub's own families and the answer
 * made on the loop. */
struct mscrape {
	struct hub          *hub;        /* the loop's only */
	struct hub_buf      *fam;        /* F_NFAM of them (metrics.c) */
	struct hub_buf       out;
	struct hub_buf       cmds;       /* outpost_hub_commands lines */
	cJSON               *rows;       /* hub_store_agents(), or NULL */
	uint64_t             wall;
	int                  rc;         /* of the samples' read */
	size_t               total;      /* bytes in every fam[] */
	bool                 truncated;
	int                  samples;
	char                 err[64];
	struct lc_miss      *miss;       /* LC_LOOKBACKS of them */
	int                  nmiss;
};

/* metrics.c */
void metrics_escape(const char *s, char *out, size_t outlen);
bool metrics_value(const cJSON *v, double scale, char *out, size_t outlen);

/* metrics_hub.c */
void metrics_out(struct mscrape *m, const char *fmt, ...);
void metrics_head(struct mscrape *m, const char *name, const char *type,
    const char *help);
void metrics_count_cb(const char *status, int64_t n, void *arg);
void metrics_hub(struct mscrape *m);

#endif
