/*
 * outpost-swarm: many agents' transports in one process, for the hub
 * group benchmark (bench/fleet_bench.py). Each instance is the real
 * transport/ code (long poll, batches, spool, retry rules) with its own
 * token and spool directory, all on one event loop. A command is answered
 * at once with a fake result (no SNMP), flushed as its own batch.
 *
 *   outpost-swarm --url URL --tokens FILE --spool DIR --stats FILE
 *                 [--poll-wait SECONDS] [--start-spread SECONDS]
 *                 [--persistent] [--log-level LEVEL]
 *
 * FILE holds one token per line; instance i (from 0) uses line i+1 and
 * spool DIR/i. Every second the stats file is rewritten (atomically) with
 * one line per instance:
 *
 *   i polls poll_errors commands duplicates results batches_sent
 *     spool_files connects closes last_contact_ms held_from_ms
 *     fail_code fail_ms
 *
 * held_from_ms: the wall clock since which a hub held the instance's
 * first poll answered 2xx after failed ones (when it came back after an
 * outage, once that poll is answered; a later poll does not move it);
 * fail_code and fail_ms: its last failed poll (HTTP status, or -curl
 * code; 0 = none) and when.
 *
 * connects/closes count the TCP connections the instance opened/closed
 * (curl's open and close socket callbacks). --persistent is the
 * baseline the group's design is measured against: every instance keeps
 * one connection for all its polls (like a WebSocket tunnel, or the
 * agent's old keep-alive), instead of one connection per poll.
 *
 * A benchmark tool, not shipped: `make swarm` builds it, `make all`
 * does not. Only the URL given is contacted (the bench uses loopback).
 */
#include "transport/transport_int.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SWARM_MAX          100000u
#define SWARM_STATS_MS     1000u

struct swarm;

struct inst {
	struct swarm     *s;
	struct transport *t;
	unsigned          idx;
	uint64_t          results, connects, closes;
};

struct swarm {
	struct loop      *loop;
	struct inst      *in;
	unsigned          n;
	const char       *stats_path;
	struct loop_timer stats_timer;
};

static void
swarm_command(const cJSON *cmd, void *arg)
{
	struct inst *in = arg;
	cJSON *r = tp_selftest_result(cmd, "swarm", in->idx);

	if (r == NULL)
		return;
	if (transport_add(in->t, "results", r) == 0) {
		in->results++;
		/* sent now, as the agent does for a result someone waits for */
		transport_flush(in->t);
	}
}

static curl_socket_t
swarm_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct inst *in = arg;
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	if (fd == -1)
		return CURL_SOCKET_BAD;
	in->connects++;
	return fd;
}

static int
swarm_close_socket(void *arg, curl_socket_t fd)
{
	struct inst *in = arg;

	in->closes++;
	return close(fd);
}

/* Count connections; in the baseline, keep one for every poll. */
static int
swarm_tune(struct inst *in, CURL *e, bool persistent)
{
	int bad = 0;

	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, swarm_open_socket);
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, in);
	bad |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, swarm_close_socket);
	bad |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, in);
	if (persistent) {
		bad |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 0L);
		bad |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 0L);
		bad |= curl_easy_setopt(e, CURLOPT_MAXLIFETIME_CONN, 0L);
		bad |= curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 86400L);
	}
	return bad ? -1 : 0;
}

static void
swarm_stats(struct loop *l, struct loop_timer *tm, void *arg)
{
	struct swarm *s = arg;
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->stats_path);
	f = fopen(tmp, "w");
	if (f != NULL) {
		for (unsigned i = 0; i < s->n; i++) {
			struct inst *in = &s->in[i];
			struct transport_stats st;

			transport_get_stats(in->t, &st);
			fprintf(f, "%u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			    " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %"
			    PRIu64 " %" PRIu64 " %" PRIu64 " %ld %" PRIu64 "\n",
			    i, st.polls, st.poll_errors,
			    st.commands_received, st.duplicate_commands,
			    in->results, st.batches_sent, st.spool_files,
			    in->connects, in->closes, st.last_contact_ms,
			    in->t->poll_held_from_ms, in->t->poll_fail_code,
			    in->t->poll_fail_ms);
		}
		if (fclose(f) == 0)
			rename(tmp, s->stats_path);
	}
	loop_timer_arm(l, tm, SWARM_STATS_MS);
}

static void
swarm_stop(struct loop *l, int signo, void *arg)
{
	loop_stop(l);
}

/* Enough descriptors for every instance's poll, upload and spool. */
static void
swarm_raise_nofile(unsigned n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n * 4 + 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		rl.rlim_max = want;   /* needs CAP_SYS_RESOURCE */
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < want)
		fprintf(stderr, "outpost-swarm: open file limit %llu is below the "
		    "%llu wanted for %u instances\n",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)want, n);
}

static char **
swarm_read_tokens(const char *path, unsigned *n)
{
	FILE *f = fopen(path, "r");
	char line[TRANSPORT_TOKEN_MAX + 2], **tok = NULL;
	unsigned cap = 0;

	*n = 0;
	if (f == NULL) {
		fprintf(stderr, "outpost-swarm: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (*n == SWARM_MAX) {
			fprintf(stderr, "outpost-swarm: more than %u tokens\n",
			    SWARM_MAX);
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			tok = realloc(tok, cap * sizeof(*tok));
			if (tok == NULL)
				abort();
		}
		tok[(*n)++] = xstrdup(line);
	}
	fclose(f);
	return tok;
}

static void
usage(void)
{
	fprintf(stderr, "usage: outpost-swarm --url URL --tokens FILE --spool DIR "
	    "--stats FILE [--poll-wait S] [--start-spread S] [--persistent] "
	    "[--log-level LEVEL]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *tokens = NULL, *spool = NULL, *level = "error";
	unsigned long poll_wait = 20, spread = 20;
	bool persistent = false;
	struct swarm s = { 0 };
	char err[512], dir[4096], **tok;
	int lvl;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--persistent") == 0) {
			persistent = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--url") == 0)
			url = v;
		else if (strcmp(a, "--tokens") == 0)
			tokens = v;
		else if (strcmp(a, "--spool") == 0)
			spool = v;
		else if (strcmp(a, "--stats") == 0)
			s.stats_path = v;
		else if (strcmp(a, "--poll-wait") == 0)
			poll_wait = strtoul(v, NULL, 10);
		else if (strcmp(a, "--start-spread") == 0)
			spread = strtoul(v, NULL, 10);
		else if (strcmp(a, "--log-level") == 0)
			level = v;
		else
			usage();
	}
	lvl = log_level_parse(level);
	if (url == NULL || tokens == NULL || spool == NULL ||
	    s.stats_path == NULL || poll_wait < 1 || poll_wait > 3600 ||
	    spread > 3600 || lvl < 0)
		usage();
	log_init("outpost-swarm", (enum log_level)lvl, false);
	tok = swarm_read_tokens(tokens, &s.n);
	if (s.n == 0) {
		fprintf(stderr, "outpost-swarm: no tokens in %s\n", tokens);
		return 1;
	}
	swarm_raise_nofile(s.n);
	signal(SIGPIPE, SIG_IGN);
	if (mkdir(spool, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "outpost-swarm: %s: %s\n", spool, strerror(errno));
		return 1;
	}
	s.loop = loop_new();
	if (s.loop == NULL || loop_signal(s.loop, SIGTERM, swarm_stop, &s) == -1 ||
	    loop_signal(s.loop, SIGINT, swarm_stop, &s) == -1) {
		fprintf(stderr, "outpost-swarm: cannot make the event loop\n");
		return 1;
	}
	s.in = xcalloc(s.n, sizeof(*s.in));
	for (unsigned i = 0; i < s.n; i++) {
		struct inst *in = &s.in[i];
		struct transport_opts o = {
			.url = url, .token = tok[i], .spool_dir = dir,
			.poll_wait_ms = poll_wait * 1000,
			/* R = min(poll_wait, cap) = poll_wait */
			.backoff_cap_ms = 300000,
			.batch_max_age_ms = 1000,
			.start_delay_max_ms = spread * 1000,
			.allow_insecure_http = true,
		};

		snprintf(dir, sizeof(dir), "%s/%u", spool, i);
		in->s = &s;
		in->idx = i;
		in->t = transport_new(s.loop, &o, swarm_command, in, err, sizeof(err));
		if (in->t == NULL) {
			fprintf(stderr, "outpost-swarm: instance %u: %s\n", i, err);
			return 1;
		}
		if (swarm_tune(in, in->t->poll.easy, persistent) == -1 ||
		    swarm_tune(in, in->t->upload.easy, persistent) == -1) {
			fprintf(stderr, "outpost-swarm: libcurl refuses an option\n");
			return 1;
		}
		explicit_bzero(tok[i], strlen(tok[i]));
		free(tok[i]);
		if (transport_start(in->t) == -1) {
			fprintf(stderr, "outpost-swarm: instance %u does not start\n", i);
			return 1;
		}
	}
	free(tok);
	loop_timer_init(&s.stats_timer, swarm_stats, &s);
	swarm_stats(s.loop, &s.stats_timer, &s);
	fprintf(stderr, "outpost-swarm: %u instances of the transport, %s%s\n",
	    s.n, url, persistent ? " (persistent connections)" : "");
	loop_run(s.loop);
	/* Stopped: a last count, then everything closed into the spools. */
	swarm_stats(s.loop, &s.stats_timer, &s);
	for (unsigned i = 0; i < s.n; i++)
		transport_free(s.in[i].t);
	loop_timer_disarm(s.loop, &s.stats_timer);
	loop_free(s.loop);
	free(s.in);
	return 0;
}
