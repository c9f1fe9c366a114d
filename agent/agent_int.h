/* Internal to agent/: the running service (run.c, command.c). */
#ifndef OUTPOST_AGENT_INT_H
#define OUTPOST_AGENT_INT_H

#include "agent/agent.h"
#include "transport/transport.h"

#define INV_HASH_SIZE    4096
#define INV_MAX_DEVICES  100000
#define PROFILE_MAX      32
#define PROFILE_MAX_ITEMS OSNMP_TABLE_MAX_COLS

/* A compiled profile: what one poll of one device reads. Scalar and
 * column OIDs are short; 32 parts keeps a profile small. Its columns
 * belong to tables (a built-in profile names them; a [profile NAME]'s
 * columns are one table named after it). */
#define PROF_OID_MAX    32
#define PROF_MAX_TABLES 8
struct prof_item {
	oid      o[PROF_OID_MAX];
	size_t   len;
	char     dotted[PROF_OID_MAX * 11];
	enum config_item_kind kind;
	int      table;          /* columns and labels: index into tables */
	int      fallback_for;   /* a 32-bit column used only if that HC one is empty */
};
struct profile {
	char             name[64];
	struct prof_item items[PROFILE_MAX_ITEMS];
	size_t           n;
	char             tables[PROF_MAX_TABLES][64];
	size_t           ntables;
};

/* The compiled [poll] profiles. Polls in flight hold a reference (their
 * table walks borrow its OIDs), so a reload never frees one under them. */
struct profset {
	unsigned       refs;
	size_t         n;
	struct profile p[];
};

/* Memory of every table being polled at once (rows.c; shared by the
 * row stores of all polls in flight). */
struct rows_budget {
	size_t used, max;
};

/* A discovered device (inventory.c) and its polling state (poll.c). */
struct inv_dev {
	struct agent     *agent;
	char              address[48];
	unsigned          port;
	char              cred[64];          /* [credential] name that answered */
	int               version;
	char              sys_name[256], sys_descr[1024], sys_object_id[256];
	char              engine_id[72];     /* v3, hex */
	uint64_t          sys_uptime, first_seen_ms, last_seen_ms;
	/* polling */
	struct loop_timer timer;
	bool              polling;
	uint64_t          poll_started, polling_mono, last_labels_ms, duration_ms;
	uint64_t          polls, poll_errors;
	size_t            last_values;       /* values in the last poll's samples */
	struct complain   complain, slow, capped;   /* capped: [poll] max_rows */
	bool              hc_ok;             /* 64-bit columns answer: skip fallbacks */
	struct poll_run  *run;               /* the poll in progress */
	struct inv_dev   *next, *hnext;
};

struct agent {
	struct loop         *loop;
	struct config       *cfg;        /* current; replaced on SIGHUP */
	struct osnmp_engine *eng;
	struct transport    *tp;
	uint64_t             started_mono;
	bool                 stopping, transport_closed;
	unsigned             commands_running;
	uint64_t             commands_ok, commands_failed, commands_refused;
	struct loop_timer    stop_timer, status_timer, scan_timer;
	struct loop_timer    flush_timer;      /* results go out at once */
	struct cmd          *cmds;             /* running (command.c) */
	struct inv_dev      *devs, *inv_hash[INV_HASH_SIZE];
	size_t               ndevs;
	struct osnmp_scan   *scan;            /* the scheduled scan in progress */
	struct discover_scan *scan_ds;
	struct discover_scan *cmd_scans;       /* scans run for commands */
	struct complain      inv_full;
	struct profset      *ps;              /* current profiles */
	struct poll_sweep   *sweep;           /* poll.now for every device */
	struct rows_budget   rows_budget;     /* tables of the polls in flight */
	uint64_t             polls, poll_errors, samples;
	uint64_t             reloads;          /* SIGHUPs applied (status.json) */
	/* notifications (traps.c) */
	struct osnmp_trap   *traps;
	struct config_credential *trap_creds;  /* copies the receiver borrows */
	size_t               ntrap_creds;
	uint64_t             event_id, events, traps_queue_reported;
	bool                 oneshot;          /* outpost poll: no schedule */
	const struct config_credential *cli_cred;   /* outpost poll's flags */
	enum { STOP_NONE, STOP_COMMANDS, STOP_UPLOADS } stop_phase;
	uint64_t             stop_deadline;   /* end of the current phase */
	char                 status_path[512];
};

/* run.c: load FILE for run-like commands: 0, or an exit status after
 * printing why. Fills the token and creates state_dir/spool. */
int  agent_load(const char *path, struct config **, char *token, size_t toklen,
                char *spool, size_t spoollen);

/* What run refuses beyond the file's own errors (run and check-config):
 * each printed, the count; token (toklen > 0) gets the token. */
int  agent_run_problems(const struct config *, char *token, size_t toklen);

void agent_transport_opts(const struct config *, const char *token,
                          const char *spool, struct transport_opts *);

/* command.c */
void agent_command(struct agent *, const cJSON *cmd);
void agent_commands_abort(struct agent *, const char *why);
/* A deep copy that outlives a reload of the configuration. */
void agent_cred_copy(struct config_credential *dst, const struct config_credential *src);

/* traps.c: the notification receiver of the service */
int    agent_traps_start(struct agent *);
void   agent_traps_stop(struct agent *);
/* After a reload (a->cfg is the new one): restart if [traps] changed. */
void   agent_traps_reload(struct agent *, const struct config *old);
/* Counters into the batches, and status (if not NULL) gets "traps". */
void   agent_traps_counters(struct agent *, cJSON *status);
cJSON *agent_event_json(const struct osnmp_notification *, const char *device,
                        uint64_t id);

/* inventory.c */
struct inv_dev *inv_find(struct agent *, const char *address, unsigned port);
struct inv_dev *inv_add(struct agent *, const char *address, unsigned port);
void   inv_free_all(struct agent *);
cJSON *inv_json(const struct inv_dev *);
void   inv_load(struct agent *);
int    inv_save(struct agent *);
/* Every device as an "inventory" item of the open batch. */
void   inv_send(struct agent *);

/* discover.c: scheduled scans into the inventory */
void discover_start(struct agent *);
/* The scheduled scan; with commands_too, scans run for commands as well. */
void discover_stop(struct agent *, bool commands_too);
/* Merge one scan answer; true if the inventory changed. */
bool discover_record(struct agent *, const struct osnmp_scan_device *,
                     const struct config_credential *);
/* Send the whole inventory as "inventory" items and save it. */
void discover_publish(struct agent *);
/* The scan command: reply gets {"probed", "devices"} (ownership). */
int  discover_command(struct agent *, const struct net_range *, size_t nranges,
                      unsigned port, const struct config_strings *names,
                      void (*reply)(void *ctx, cJSON *data, const char *err),
                      void *ctx, char *err, size_t errlen);

/* poll.c: profiles and scheduled polling */
int  poll_compile(struct agent *, const struct config *, char *err, size_t errlen);
void poll_device_added(struct inv_dev *);
void poll_device_removed(struct inv_dev *);
void poll_reschedule_all(struct agent *);
void poll_release(struct profset *);
/* Poll d now; done (if not NULL) gets the samples array (ownership):
 * one sample per profile polled without error, docs/protocol.md. */
typedef void (*poll_done_cb)(struct inv_dev *, cJSON *samples, const char *err, void *arg);
int  poll_now(struct inv_dev *, const char *profile, poll_done_cb, void *arg);
/* Every device allow() lets through, a window at a time; their samples go
 * out with the normal stream. The count queued; *skipped the others. */
size_t poll_now_all(struct agent *, const char *profile,
                    bool (*allow)(const struct config *, const struct inv_dev *),
                    size_t *skipped);
void poll_sweep_free(struct agent *);

/* rows.c: the rows of one table while a poll walks it, keyed by
 * instance (O(1) per value), values kept as raw bytes until the sample
 * is built. At most max_rows rows and about max_bytes of memory. */
struct rows;
enum { ROWS_OK, ROWS_FULL };
struct rows *rows_new(size_t ncols, size_t max_rows, size_t max_bytes,
                      struct rows_budget *shared);
void   rows_free(struct rows *);
/* col's value (a varbind's type and val bytes) for instance inst.
 * ROWS_FULL: a new row past max_rows or the memory limit; nothing is
 * stored and the table counts as truncated from then on. */
int    rows_put(struct rows *, size_t col, const oid *inst, size_t inst_len,
                unsigned char type, const void *val, size_t len);
size_t rows_count(const struct rows *);
bool   rows_truncated(const struct rows *);
/* Order rows by instance; after it, no more puts. */
void   rows_sort(struct rows *);
/* Row i: its instance arcs (return value: how many)... */
size_t rows_inst(const struct rows *, size_t i, const uint32_t **arcs);
/* ...and col's value, false if the row has none. val is 8-byte aligned. */
bool   rows_value(const struct rows *, size_t i, size_t col, unsigned char *type,
                  const void **val, size_t *len);
/* Memory for one table's rows, and for all tables polled at once: a
 * runaway device (values of up to 64 KiB each) or many big tables at a
 * time stop here even under the row cap, as a truncated table. A
 * 10,000-row interfaces table takes about 4 MiB. */
#define ROWS_MAX_BYTES    ((size_t)32 << 20)
#define ROWS_BUDGET_BYTES ((size_t)64 << 20)

#endif
