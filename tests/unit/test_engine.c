/* The SNMP engine's bookkeeping (snmp/engine.c), without any device:
 * 127.0.0.1:9 has no listener, so loopback answers port-unreachable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#ifndef _WIN32
#include <dirent.h>
#include <unistd.h>
#endif

#include "snmp/snmp_int.h"

struct tally {
	int calls, ok, refused, error, other;
	unsigned max_inflight_seen;
	struct osnmp_engine *eng;
};

static void
count_cb(const struct osnmp_reply *rep, void *arg)
{
	struct tally *t = arg;

	t->calls++;
	if (osnmp_engine_inflight(t->eng) > t->max_inflight_seen)
		t->max_inflight_seen = osnmp_engine_inflight(t->eng);
	switch (rep->status) {
	case OSNMP_ST_OK: t->ok++; break;
	case OSNMP_ST_REFUSED: t->refused++; break;
	case OSNMP_ST_ERROR: t->error++; assert_non_null(rep->errmsg); break;
	default: t->other++; break;
	}
}

static struct config_credential cred = {
	.name = "t", .version = CFG_SNMP_V2C, .community = "public",
};

static struct osnmp_target
target(const char *host)
{
	struct osnmp_target t = { .port = 9, .cred = &cred, .timeout_ms = 2000, .retries = 0 };

	snprintf(t.host, sizeof(t.host), "%s", host);
	return t;
}

static void
a_pdu_net_snmp_cannot_encode_is_reported_once(void **st)
{
	struct loop *l = loop_new();
	struct osnmp_engine_opts eo = { 0 };
	struct tally t = { 0 };
	struct osnmp_target tg = target("127.0.0.1");
	oid bad[] = { 3, 1 };   /* X.690: first arc must be 0-2 */
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	char err[256];

	t.eng = osnmp_engine_new(l, &eo);
	snmp_add_null_var(pdu, bad, 2);
	assert_int_equal(osnmp_send(t.eng, &tg, pdu, count_cb, &t, err, sizeof(err)), 0);
	assert_int_equal(t.calls, 0);          /* never from inside send */
	loop_run(l);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.error, 1);
	assert_int_equal(osnmp_engine_inflight(t.eng), 0);
	osnmp_engine_free(t.eng);
	loop_free(l);
}

static void
requests_beyond_the_global_cap_wait_and_all_complete(void **st)
{
	struct loop *l = loop_new();
	struct osnmp_engine_opts eo = { .max_inflight = 3, .max_per_target = 1 };
	struct tally t = { 0 };
	oid name[] = { 1, 3, 6, 1, 2, 1, 1, 5, 0 };
	char err[256], host[32];

	t.eng = osnmp_engine_new(l, &eo);
	for (int i = 0; i < 20; i++) {
		/* 4 targets, 5 requests each: both caps are exercised */
		snprintf(host, sizeof(host), "127.0.0.%d", 1 + i % 4);
		struct osnmp_target tg = target(host);
		netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
		snmp_add_null_var(pdu, name, countof(name));
		assert_int_equal(osnmp_send(t.eng, &tg, pdu, count_cb, &t, err, sizeof(err)), 0);
		assert_true(osnmp_engine_inflight(t.eng) <= 3);
	}
	loop_run(l);
	assert_int_equal(t.calls, 20);
	assert_int_equal(t.refused, 20);       /* ICMP, not a 2 s timeout */
	assert_true(t.max_inflight_seen <= 3);
	osnmp_engine_free(t.eng);
	loop_free(l);
}

static void
a_full_queue_is_refused_at_once(void **st)
{
	struct loop *l = loop_new();
	struct osnmp_engine_opts eo = { .max_inflight = 1, .max_per_target = 1, .max_queued = 2 };
	struct tally t = { 0 };
	struct osnmp_target tg = target("127.0.0.1");
	oid name[] = { 1, 3, 6, 1, 2, 1, 1, 5, 0 };
	char err[256];
	int refused = 0;

	t.eng = osnmp_engine_new(l, &eo);
	for (int i = 0; i < 5; i++) {
		netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
		snmp_add_null_var(pdu, name, countof(name));
		if (osnmp_send(t.eng, &tg, pdu, count_cb, &t, err, sizeof(err)) == -1) {
			refused++;
			assert_non_null(strstr(err, "queue full"));
		}
	}
	assert_true(refused >= 2);
	loop_run(l);
	assert_int_equal(t.calls, 5 - refused);
	osnmp_engine_free(t.eng);
	loop_free(l);
}

#ifndef _WIN32
/* Descriptors this process has open (/proc: Linux only; the engine's
 * session handling is the same code on Windows). */
static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;   /* opendir's own */
}

struct fd_watch {
	struct tally t;
	int base, peak;
};

static void
fd_watch_cb(const struct osnmp_reply *rep, void *arg)
{
	struct fd_watch *w = arg;
	int n = open_fds() - w->base;

	if (n > w->peak)
		w->peak = n;
	count_cb(rep, &w->t);
}

/* A queue of requests to devices that never answer holds sockets only
 * for the ones on the wire: a socket bound to the wildcard address takes
 * every 127.x.y.z at its port and never reads, so nothing answers and no
 * ICMP says so (a silent network). */
static void
queued_requests_hold_no_socket_until_they_start(void **st)
{
	enum { WINDOW = 4, IDLE = 2, QUEUED = 48 };
	struct loop *l = loop_new();
	struct osnmp_engine_opts eo = { .max_inflight = WINDOW, .max_per_target = 1,
	    .max_idle = IDLE };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	oid name[] = { 1, 3, 6, 1, 2, 1, 1, 5, 0 };
	struct fd_watch w = { 0 };
	char err[256], host[32];
	int silent, now;

	silent = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(silent >= 0);
	assert_int_equal(bind(silent, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(silent, (struct sockaddr *)&sa, &salen), 0);
	w.t.eng = osnmp_engine_new(l, &eo);
	w.base = open_fds();
	for (int i = 0; i < QUEUED; i++) {
		snprintf(host, sizeof(host), "127.0.9.%d", 1 + i);
		struct osnmp_target tg = target(host);
		tg.port = ntohs(sa.sin_port);
		tg.timeout_ms = 50;
		netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
		snmp_add_null_var(pdu, name, countof(name));
		assert_int_equal(osnmp_send(w.t.eng, &tg, pdu, fd_watch_cb, &w, err,
		    sizeof(err)), 0);
	}
	now = open_fds() - w.base;
	/* WINDOW on the wire; QUEUED - WINDOW waiting with no socket. */
	assert_in_range(now, 1, WINDOW);
	loop_run(l);
	assert_int_equal(w.t.calls, QUEUED);
	assert_int_equal(w.t.other, QUEUED);   /* all timed out */
	/* While the queue drained: the window, plus the idle sessions that
	 * linger for reuse (max_idle), never the queue. */
	assert_in_range(w.peak, 1, WINDOW + IDLE);
	osnmp_engine_free(w.t.eng);
	assert_int_equal(open_fds(), w.base);
	loop_free(l);
	close(silent);
}
#endif

/* Our Ku derivation (snmp/v3keys.c) must give net-snmp's bytes for every
 * hash and for passwords whose length does or does not divide 64. */
static void
ku_derivation_matches_net_snmp_for_every_hash(void **st)
{
	static const int protos[] = { CFG_AUTH_MD5, CFG_AUTH_SHA, CFG_AUTH_SHA224,
	    CFG_AUTH_SHA256, CFG_AUTH_SHA384, CFG_AUTH_SHA512 };
	static const char *pws[] = { "8chars!!", "thirteen-char", "a password of "
	    "exactly sixty-four characters, to fill one block of hashing!!",
	    "\xc3\xa9t\xc3\xa9 2026 \xe2\x82\xac" };
	u_char ours[USM_AUTH_KU_LEN], theirs[USM_AUTH_KU_LEN];
	size_t olen, tlen, hlen;

	for (size_t i = 0; i < countof(protos); i++) {
		const oid *h = v3_auth_oid(protos[i], &hlen);
		for (size_t j = 0; j < countof(pws); j++) {
			olen = tlen = USM_AUTH_KU_LEN;
			assert_int_equal(v3_ku_derive(protos[i], pws[j], ours, &olen), 0);
			assert_int_equal(generate_Ku((oid *)h, (u_int)hlen,
			    (const u_char *)pws[j], strlen(pws[j]), theirs, &tlen),
			    SNMPERR_SUCCESS);
			assert_int_equal(olen, tlen);
			assert_memory_equal(ours, theirs, tlen);
		}
	}
	olen = USM_AUTH_KU_LEN;
	assert_int_equal(v3_ku_derive(CFG_AUTH_SHA, "short", ours, &olen), -1);
	/* RFC 3414 11.2: 8 characters at least */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_pdu_net_snmp_cannot_encode_is_reported_once),
		cmocka_unit_test(requests_beyond_the_global_cap_wait_and_all_complete),
		cmocka_unit_test(a_full_queue_is_refused_at_once),
#ifndef _WIN32
		cmocka_unit_test(queued_requests_hold_no_socket_until_they_start),
#endif
		cmocka_unit_test(ku_derivation_matches_net_snmp_for_every_hash),
	};

	setenv("SNMP_PERSISTENT_DIR", "/tmp", 0);
	osnmp_lib_init("outpost-test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
