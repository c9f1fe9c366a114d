/*
 * outpost run: the agent service. One process, one event loop owning the
 * SNMP engine, the transport, timers and signals. SIGHUP reloads the
 * configuration (a bad one is reported and the running one kept);
 * SIGTERM/SIGINT stop taking commands, let running ones finish briefly,
 * close the open batch into the spool and exit within a few seconds.
 * outpost status reads the status file this writes.
 */
#include "agent/agent_int.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STOP_COMMANDS_MS  3000   /* running commands may finish this long */
#define STOP_UPLOAD_MS    2000   /* then the spool may drain this long */
#define STATUS_EVERY_MS   5000
#define STATUS_SCHEDULE_MAX 64   /* devices whose next poll status.json lists */

static const char run_usage[] =
"usage: outpost run -c FILE\n"
"Run the agent: take commands from the hub ([server]), run them within\n"
"[policy], and upload results through the durable spool in state_dir.\n"
"Signals: HUP reloads FILE, TERM/INT stop (twice: at once).\n";

/*
 * When discovery and the first STATUS_SCHEDULE_MAX devices' polls are due,
 * on the agent's monotonic clock (clock_ms: now on it): what a reload
 * must not move, and what `outpost status` shows as "next".
 */
static cJSON *
agent_schedule_json(const struct agent *a)
{
	cJSON *o = cJSON_CreateObject(), *polls = cJSON_CreateObject();
	char key[80];
	size_t n = 0;

	cJSON_AddNumberToObject(o, "clock_ms", (double)loop_now_ms(a->loop));
	if (loop_timer_armed(&a->scan_timer))
		cJSON_AddNumberToObject(o, "scan_ms", (double)a->scan_timer.when_ms);
	else
		cJSON_AddNullToObject(o, "scan_ms");
	cJSON_AddBoolToObject(o, "scan_running", a->scan != NULL);
	for (const struct inv_dev *d = a->devs; d && n < STATUS_SCHEDULE_MAX; d = d->next) {
		if (!loop_timer_armed(&d->timer))
			continue;
		snprintf(key, sizeof(key), "%s:%u", d->address, d->port);
		cJSON_AddNumberToObject(polls, key, (double)d->timer.when_ms);
		n++;
	}
	cJSON_AddItemToObject(o, "polls", polls);
	return o;
}

static void
agent_write_status(struct agent *a)
{
	struct transport_stats st;
	char tmp[600];
	cJSON *o = cJSON_CreateObject();
	char *text;
	int fd;

	transport_get_stats(a->tp, &st);
	cJSON_AddNumberToObject(o, "pid", getpid());
	cJSON_AddNumberToObject(o, "written_ms", (double)wall_ms());
	cJSON_AddStringToObject(o, "version", OUTPOST_VERSION);
	cJSON_AddStringToObject(o, "hub", a->cfg->server.url);
	cJSON_AddNumberToObject(o, "last_contact_ms", (double)st.last_contact_ms);
	cJSON_AddNumberToObject(o, "spool_bytes", (double)st.spool_bytes);
	cJSON_AddNumberToObject(o, "spool_files", (double)st.spool_files);
	cJSON_AddNumberToObject(o, "dropped_samples", (double)st.dropped_samples);
	cJSON_AddNumberToObject(o, "consecutive_failures", st.consecutive_failures);
	cJSON_AddNumberToObject(o, "devices", (double)a->ndevs);
	cJSON_AddNumberToObject(o, "polls", (double)a->polls);
	cJSON_AddNumberToObject(o, "poll_errors", (double)a->poll_errors);
	cJSON_AddNumberToObject(o, "samples", (double)a->samples);
	cJSON_AddNumberToObject(o, "commands_ok", (double)a->commands_ok);
	cJSON_AddNumberToObject(o, "commands_failed", (double)a->commands_failed);
	cJSON_AddNumberToObject(o, "commands_refused", (double)a->commands_refused);
	cJSON_AddNumberToObject(o, "reloads", (double)a->reloads);
	cJSON_AddNumberToObject(o, "events", (double)a->events);
	cJSON_AddNumberToObject(o, "dropped_events", (double)st.dropped_events);
	agent_traps_counters(a, o);
	cJSON_AddItemToObject(o, "schedule", agent_schedule_json(a));
	text = cJSON_Print(o);
	cJSON_Delete(o);
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->status_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || text == NULL || write(fd, text, strlen(text)) < 0 ||
	    close(fd) == -1 || platform_rename(tmp, a->status_path) == -1)
		log_warn("cannot write %s: %s", a->status_path, strerror(errno));
	free(text);
}

static void
agent_status_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct agent *a = arg;

	agent_write_status(a);
	transport_set_counter(a->tp, "commands_ok", (double)a->commands_ok);
	transport_set_counter(a->tp, "commands_failed", (double)a->commands_failed);
	transport_set_counter(a->tp, "commands_refused", (double)a->commands_refused);
	transport_set_counter(a->tp, "devices", (double)a->ndevs);
	transport_set_counter(a->tp, "polls", (double)a->polls);
	transport_set_counter(a->tp, "poll_errors", (double)a->poll_errors);
	transport_set_counter(a->tp, "samples", (double)a->samples);
	transport_set_counter(a->tp, "events", (double)a->events);
	loop_timer_arm(l, t, STATUS_EVERY_MS);
}

static void
agent_stop_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct agent *a = arg;
	struct transport_stats st;
	uint64_t now = mono_ms();

	if (a->stop_phase == STOP_COMMANDS) {
		if (a->commands_running > 0 && now < a->stop_deadline) {
			loop_timer_arm(l, t, 100);
			return;
		}
		/* Commands done (or out of time): close the batch into the
		 * spool, then let uploads in flight finish for a moment. */
		agent_commands_abort(a, "the agent stopped before the command finished");
		transport_shutdown(a->tp);
		a->transport_closed = true;
		a->stop_phase = STOP_UPLOADS;
		a->stop_deadline = now + STOP_UPLOAD_MS;
	}
	transport_get_stats(a->tp, &st);
	if (st.spool_files > 0 && now < a->stop_deadline) {
		loop_timer_arm(l, t, 100);
		return;
	}
	loop_stop(l);
}

static void
agent_flush_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct agent *a = arg;

	if (!a->transport_closed)
		transport_flush(a->tp);
}

static void
agent_signal_stop(struct loop *l, int signo, void *arg)
{
	struct agent *a = arg;

	if (a->stopping) {
		log_warn("second %s: stopping now", platform_signal_name(signo));
		if (!a->transport_closed) {
			agent_commands_abort(a, "the agent stopped before the command finished");
			transport_shutdown(a->tp);
		}
		a->transport_closed = true;
		loop_stop(l);
		return;
	}
	log_info("%s: stopping (running commands: %u)", platform_signal_name(signo),
	    a->commands_running);
	platform_notify("STOPPING=1");
	a->stopping = true;
	discover_stop(a, false);
	a->stop_phase = STOP_COMMANDS;
	a->stop_deadline = mono_ms() + STOP_COMMANDS_MS;
	loop_timer_arm(l, &a->stop_timer, 0);
}

static void
agent_signal_reload(struct loop *l, int signo, void *arg)
{
	struct agent *a = arg;
	struct config_errors errs;
	struct config *cfg, *old;
	char err[256], restart[512];
	bool had_polls = a->ps != NULL && a->ps->n > 0, reschedule, rescan;

	platform_notify("RELOADING=1");
	if (config_load(a->cfg->path, &cfg, &errs) == -1) {
		for (size_t i = 0; i < errs.count; i++)
			log_error("%s", errs.msgs[i]);
		log_error("reload: %s has errors; keeping the running configuration",
		    a->cfg->path);
		config_errors_free(&errs);
		return;
	}
	config_errors_free(&errs);
	if (poll_compile(a, cfg, err, sizeof(err)) == -1) {
		log_error("reload: %s: %s; keeping the running configuration",
		    cfg->path, err);
		config_free(cfg);
		return;
	}
	/* The tables say which keys a reload cannot apply (CFG_F_RESTART):
	 * the transport and the spool keep what they were started with. */
	if (config_restart_changes(a->cfg, cfg, restart, sizeof(restart)) > 0)
		log_warn("reload: %s changed: takes effect on restart", restart);
	/* Only what changed is redone: a reload that rescheduled every poll
	 * would shift each device's phase, and one that rescanned would
	 * probe every network again for nothing. */
	reschedule = cfg->poll.interval != a->cfg->poll.interval ||
	    had_polls != (a->ps != NULL && a->ps->n > 0);
	rescan = config_section_changed(a->cfg, cfg, "scan") ||
	    config_section_changed(a->cfg, cfg, "credential");
	/* A scan in flight holds copies of what it uses; one that goes on
	 * reads the new config, which has the same [scan]. */
	if (rescan)
		discover_stop(a, false);
	old = a->cfg;
	a->cfg = cfg;
	if (!a->stopping)
		agent_traps_reload(a, old);
	config_free(old);
	log_set_level((enum log_level)cfg->agent.log_level);
	if (reschedule)
		poll_reschedule_all(a);
	if (rescan)
		discover_start(a);
	a->reloads++;
	log_info("reload: %s loaded (%zu credentials, %zu allowed networks); "
	    "device polls %s; discovery %s", cfg->path, cfg->ncreds,
	    config_allowed_networks(cfg)->count,
	    reschedule ? "rescheduled" : "keep their schedule",
	    rescan ? "restarts" : "keeps its schedule");
	agent_write_status(a);
	platform_notify("READY=1");
}

static void
agent_on_command(const cJSON *cmd, void *arg)
{
	agent_command(arg, cmd);
}

/* [server]/[upload] into the transport's options. */
void
agent_transport_opts(const struct config *cfg, const char *token,
    const char *spool, struct transport_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->url = cfg->server.url;
	o->token = token;
	o->poll_wait_ms = cfg->server.poll_wait;
	o->ca_file = cfg->server.ca_file;
	o->client_cert = cfg->server.client_cert;
	o->client_key = cfg->server.client_key;
	o->pinned_pubkey = cfg->server.pinned_pubkey;
	o->proxy = cfg->server.proxy;
	o->allow_insecure_http = cfg->server.allow_insecure_http;
	o->backoff_base_ms = cfg->server.backoff_base;
	o->backoff_cap_ms = cfg->server.backoff_cap;
	o->batch_max_bytes = cfg->upload.batch_max_bytes;
	o->batch_max_age_ms = cfg->upload.batch_max_age;
	o->spool_max_bytes = cfg->upload.spool_max_bytes;
	o->spool_max_age_ms = cfg->upload.spool_max_age;
	o->spool_dir = spool;
	o->start_delay_max_ms = 5000;
	o->agent_version = OUTPOST_VERSION;
}

/* dir can be used as state: an existing writable directory, or one
 * mkdir_p could make (its nearest existing parent is writable). */
static int
dir_usable(const char *dir, char *err, size_t errlen)
{
	char buf[512];
	struct stat st;
	char *slash;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			snprintf(err, errlen, "%s is not a directory", dir);
		else if (!platform_dir_writable(dir))
			snprintf(err, errlen, "%s is not writable by this user", dir);
		else
			return 0;
		return -1;
	}
	if (errno != ENOENT || snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	/* The nearest existing ancestor is where mkdir_p starts. */
	for (;;) {
		if ((slash = strrchr(buf, '/')) == NULL) {
			snprintf(buf, sizeof(buf), ".");
			break;
		}
		slash[slash == buf ? 1 : 0] = '\0';
		if (slash == buf || stat(buf, &st) == 0)
			break;
	}
	if (stat(buf, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    !platform_dir_writable(buf)) {
		snprintf(err, errlen, "%s cannot be created: %s is not a "
		    "writable directory for this user", dir, buf);
		return -1;
	}
	return 0;
}

/* A file the transport will open (ca_file, client_cert, ...). */
static int
run_file_problem(const char *path, const char *key, const char *file)
{
	if (file == NULL || strncmp(file, "sha256//", 8) == 0 ||
	    access(file, R_OK) == 0)
		return 0;
	cli_errorf("%s: [server] %s %s: %s", path, key, file, strerror(errno));
	return 1;
}

/*
 * What outpost run refuses beyond the file's own errors, found the same
 * way for run and check-config: each printed; the count. token gets the
 * token (toklen > 0). Nothing is created.
 */
int
agent_run_problems(const struct config *cfg, char *token, size_t toklen)
{
	const char *path = cfg->path;
	struct agent a = { 0 };
	char err[600], spool[512], tok[TRANSPORT_TOKEN_MAX + 1];
	int n = 0;

	if (cfg->server.url == NULL || cfg->server.token_file == NULL) {
		cli_errorf("%s: [server] url and token_file are required to run "
		    "the agent", path);
		n++;
	}
	if (cfg->server.token_file != NULL) {
		if (toklen == 0) {
			token = tok;
			toklen = sizeof(tok);
		}
		if (transport_read_token(cfg->server.token_file, token, toklen,
		    err, sizeof(err)) == -1) {
			cli_errorf("%s: %s", path, err);
			n++;
		}
		platform_memzero(tok, sizeof(tok));
	}
	n += run_file_problem(path, "ca_file", cfg->server.ca_file);
	n += run_file_problem(path, "client_cert", cfg->server.client_cert);
	n += run_file_problem(path, "client_key", cfg->server.client_key);
	n += run_file_problem(path, "pinned_pubkey", cfg->server.pinned_pubkey);
	snprintf(spool, sizeof(spool), "%s/spool", cfg->agent.state_dir);
	if (dir_usable(cfg->agent.state_dir, err, sizeof(err)) == -1 ||
	    dir_usable(spool, err, sizeof(err)) == -1) {
		cli_errorf("%s: [agent] state_dir: %s", path, err);
		n++;
	}
	if (poll_compile(&a, cfg, err, sizeof(err)) == -1) {
		cli_errorf("%s: [poll] profiles: %s", path, err);
		n++;
	}
	poll_release(a.ps);
	return n;
}

/* Load and check FILE for run-like commands; exit status or 0. */
int
agent_load(const char *path, struct config **out, char *token, size_t toklen,
    char *spool, size_t spoollen)
{
	struct config *cfg;

	if (cli_config_load(path, &cfg) != 0)
		return 1;
	if (agent_run_problems(cfg, token, toklen) > 0) {
		platform_memzero(token, toklen);
		config_free(cfg);
		return 1;
	}
	snprintf(spool, spoollen, "%s/spool", cfg->agent.state_dir);
	if (mkdir_p(cfg->agent.state_dir, 0700) == -1 || mkdir_p(spool, 0700) == -1) {
		cli_errorf("%s: cannot create %s: %s", path, spool, strerror(errno));
		platform_memzero(token, toklen);
		config_free(cfg);
		return 1;
	}
	*out = cfg;
	return 0;
}

int
cmd_run(int argc, char **argv)
{
	struct osnmp_engine_opts eo = { .max_inflight = 512, .max_per_target = 2 };
	struct agent a = { 0 };
	struct transport_opts to;
	const char *path;
	char token[300], spool[512], err[512];
	int rc;

	if ((rc = cli_config_only("run", run_usage, argc, argv, &path)) != 0)
		return rc == -2 ? 0 : rc;
	if ((rc = agent_load(path, &a.cfg, token, sizeof(token), spool,
	    sizeof(spool))) != 0)
		return rc;
	log_init("outpost", (enum log_level)a.cfg->agent.log_level, true);
	cli_raise_nofile();
	osnmp_lib_init("outpost");
	a.loop = loop_new();
	a.eng = osnmp_engine_new(a.loop, &eo);
	a.started_mono = mono_ms();
	snprintf(a.status_path, sizeof(a.status_path), "%s/status.json",
	    a.cfg->agent.state_dir);
	agent_transport_opts(a.cfg, token, spool, &to);
	a.tp = transport_new(a.loop, &to, agent_on_command, &a, err, sizeof(err));
	platform_memzero(token, sizeof(token));
	if (a.tp == NULL) {
		log_error("%s", err);
		osnmp_engine_free(a.eng);
		loop_free(a.loop);
		config_free(a.cfg);
		return 1;
	}
	loop_timer_init(&a.stop_timer, agent_stop_cb, &a);
	loop_timer_init(&a.status_timer, agent_status_cb, &a);
	loop_timer_init(&a.flush_timer, agent_flush_cb, &a);
	platform_on_stop(a.loop, agent_signal_stop, &a);
	platform_on_reload(a.loop, agent_signal_reload, &a);
	if (poll_compile(&a, a.cfg, err, sizeof(err)) == -1) {
		log_error("%s: %s", path, err);
		transport_free(a.tp);
		osnmp_engine_free(a.eng);
		loop_free(a.loop);
		config_free(a.cfg);
		return 1;
	}
	inv_load(&a);
	/* The hub hears of the devices at every start, not only when a scan
	 * changes one: a hub whose store was replaced, or an agent moved to
	 * another hub, or devices given as state_dir/inventory.json without
	 * [scan] networks, would otherwise never get them. */
	inv_send(&a);
	if (agent_traps_start(&a) == -1) {
		transport_free(a.tp);
		osnmp_engine_free(a.eng);
		inv_free_all(&a);
		poll_release(a.ps);
		loop_free(a.loop);
		config_free(a.cfg);
		return 1;
	}
	discover_start(&a);
	loop_timer_arm(a.loop, &a.status_timer, 0);
	log_info("outpost %s: hub %s, state %s, %zu credentials, %zu allowed networks",
	    OUTPOST_VERSION, a.cfg->server.url, a.cfg->agent.state_dir,
	    a.cfg->ncreds, config_allowed_networks(a.cfg)->count);
	transport_start(a.tp);
	platform_notify("READY=1");
	loop_run(a.loop);
	agent_write_status(&a);
	discover_stop(&a, true);
	agent_traps_stop(&a);
	loop_timer_disarm(a.loop, &a.flush_timer);
	if (!a.transport_closed)
		transport_shutdown(a.tp);
	a.transport_closed = true;
	/* The engine first: its last callbacks still see the devices. */
	osnmp_engine_free(a.eng);
	transport_free(a.tp);
	inv_free_all(&a);
	poll_release(a.ps);
	loop_free(a.loop);
	config_free(a.cfg);
	log_info("stopped");
	return 0;
}
