/*
 * transport: the agent's side of the cloud channel (docs/protocol.md).
 *
 * Commands arrive by long poll; results, inventory and samples leave as
 * gzip-compressed JSON batches. A batch is closed at a size or an age and
 * written durably to the spool *before* its first send; a spool file is
 * deleted only after a 2xx. Retry policy lives here, not in callers: full
 * jitter backoff, Retry-After, 413 splits, quarantine. libcurl's multi
 * interface is driven by the agent's one event loop: no threads.
 */
#ifndef OUTPOST_TRANSPORT_H
#define OUTPOST_TRANSPORT_H

#include <cjson/cJSON.h>

#include "core/core.h"

struct transport_opts {
	const char *url;                 /* hub base URL, e.g. https://hub:8443 */
	const char *token;               /* the agent's bearer token (copied) */
	uint64_t    poll_wait_ms;        /* requested hold; jittered +-10% */
	const char *ca_file, *client_cert, *client_key, *pinned_pubkey, *proxy;
	bool        allow_insecure_http; /* http:// to a non-loopback host */
	uint64_t    backoff_base_ms, backoff_cap_ms;
	uint64_t    batch_max_bytes, batch_max_age_ms;
	uint64_t    spool_max_bytes, spool_max_age_ms;
	const char *spool_dir;           /* created 0700 if missing */
	uint64_t    start_delay_max_ms;  /* random delay before the first poll */
	const char *agent_version;
};
/* transport_new: a 0 number means the default of config/schema.c
 * (docs/config.md) and any other is kept within that key's range there,
 * except start_delay_max_ms (0: poll at once); agent_version NULL means
 * OUTPOST_VERSION. */

/* One new command (already de-duplicated by id), borrowed for the call.
 * The agent answers it later with transport_add(t, "results", ...). */
typedef void (*transport_command_cb)(const cJSON *cmd, void *arg);

struct transport_stats {
	uint64_t last_contact_ms;     /* wall clock of the last 2xx, 0 = never */
	uint64_t spool_bytes, spool_files;
	uint64_t batches_sent, batches_quarantined, spool_corrupt;
	uint64_t dropped_samples;     /* spool full or too old */
	uint64_t dropped_events;      /* queue full, too large, not spooled */
	uint64_t polls, poll_errors, commands_received, duplicate_commands;
	unsigned consecutive_failures;
};

struct transport;

/* cb NULL: no polling (uploads only). Not to be freed from within cb. */
struct transport *transport_new(struct loop *, const struct transport_opts *,
                                transport_command_cb, void *arg,
                                char *err, size_t errlen);
/* Start polling and replaying the spool. */
int  transport_start(struct transport *);
/* Append item (ownership taken) to the open batch under kind: "results",
 * "inventory" or "samples". -1 (item freed) if kind is unknown or the item
 * alone is larger than batch_max_bytes (a sample or event so dropped is
 * counted). "events" too: notifications received (docs/protocol.md). */
int  transport_add(struct transport *, const char *kind, cJSON *item);
/* n events were lost before reaching a batch (the receiver's queue was
 * full): reported in the next batch's dropped_events. */
void transport_drop_events(struct transport *, uint64_t n);
/* A counter sent in every batch's "counters" object. */
void transport_set_counter(struct transport *, const char *name, double value);
/* Stop polling, close the open batch into the spool (durably). The spool
 * goes on draining while the loop runs (a caller may wait, with its own
 * deadline, for spool_files to reach 0); transport_free stops that and
 * anything unsent waits in the spool for the next start. Nothing
 * accepted is lost. */
void transport_shutdown(struct transport *);
/* Close the open batch now, e.g. after a command result someone waits
 * for, rather than at batch_max_bytes or batch_max_age. 0 or -1 (the
 * spool could not take it; logged, its samples counted as dropped). */
int  transport_flush(struct transport *);
void transport_free(struct transport *);
void transport_get_stats(const struct transport *, struct transport_stats *);

/* Read a secret token file: refuses group/world-accessible files, trims
 * the trailing newline, at most len-1 bytes. 0 or -1 with a message. */
#define TRANSPORT_TOKEN_MAX 256
int  transport_read_token(const char *path, char *buf, size_t len,
                          char *err, size_t errlen);

/*
 * `outpost transport-selftest`: run a transport from opts that adds
 * items_per_batch synthetic samples and closes a batch every interval_ms,
 * batches times, while polling (each command gets a result); then waits
 * until the spool is empty. Prints the stats as one JSON line on stdout.
 * 0 when everything was acknowledged (batches the spool bound dropped
 * are counted, not waited for), 1 after timeout_ms or on an error.
 */
int  transport_selftest(struct loop *, const struct transport_opts *,
                        unsigned batches, unsigned interval_ms,
                        unsigned items_per_batch, uint64_t timeout_ms);

#endif
