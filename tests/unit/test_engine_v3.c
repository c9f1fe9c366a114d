/* The SNMP engine's v3 sessions (snmp/engine.c, v3.c, v3keys.c) against
 * real snmpd instances this test starts on loopback (skipped when snmpd
 * is not installed): keys derived once, one session for a whole walk,
 * per-credential keys for one user name, wrong passwords, time resync.
 *
 * Two snmpd share one engine ID and one user name with different
 * passwords, as two devices configured from one template can: net-snmp's
 * USM table would give both credentials the first one's keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snmp/snmp.h"

#define PORT 1161
#define ENGINE_TEXT "outpost-unit-v3"

struct snmpd {
	pid_t pid;
	char  addr[32];
	char  dir[128];
};

static struct snmpd devs[2];
static char basedir[] = "/tmp/outpost-unit-v3-XXXXXX";
static bool have_snmpd;

static struct config_credential walker = {
	.name = "walker", .version = CFG_SNMP_V3, .user = "walker",
	.level = CFG_AUTH_PRIV, .auth_protocol = CFG_AUTH_SHA256,
	.auth_password = "walkauth-1", .priv_protocol = CFG_PRIV_AES,
	.priv_password = "walkpriv-1",
};
/* The same user name on both devices; each device knows one password. */
static struct config_credential shared[2] = {
	{ .name = "a", .version = CFG_SNMP_V3, .user = "shared",
	  .level = CFG_AUTH_PRIV, .auth_protocol = CFG_AUTH_SHA256,
	  .auth_password = "device-a-auth", .priv_protocol = CFG_PRIV_AES,
	  .priv_password = "device-a-priv" },
	{ .name = "b", .version = CFG_SNMP_V3, .user = "shared",
	  .level = CFG_AUTH_PRIV, .auth_protocol = CFG_AUTH_SHA256,
	  .auth_password = "device-b-auth", .priv_protocol = CFG_PRIV_AES,
	  .priv_password = "device-b-priv" },
};
static struct config_credential v2c = {
	.name = "v2c", .version = CFG_SNMP_V2C, .community = "public",
};

static const oid sysname[] = { 1, 3, 6, 1, 2, 1, 1, 5, 0 };

static struct osnmp_target
target(int dev, const struct config_credential *c)
{
	struct osnmp_target t = { .port = PORT, .cred = c, .timeout_ms = 1000,
	    .retries = 1 };

	snprintf(t.host, sizeof(t.host), "%s", devs[dev].addr);
	return t;
}

/* ---- one request at a time, run to completion ---- */

struct result {
	enum osnmp_status status;
	char errmsg[160];
	char value[64];
};

static void
result_cb(const struct osnmp_reply *rep, void *arg)
{
	struct result *r = arg;

	r->status = rep->status;
	snprintf(r->errmsg, sizeof(r->errmsg), "%s", rep->errmsg ? rep->errmsg : "");
	if (rep->status == OSNMP_ST_OK && rep->pdu->variables &&
	    rep->pdu->variables->type == ASN_OCTET_STR) {
		size_t n = rep->pdu->variables->val_len;
		if (n >= sizeof(r->value))
			n = sizeof(r->value) - 1;
		memcpy(r->value, rep->pdu->variables->val.string, n);
		r->value[n] = '\0';
	}
}

static void
send_get(struct osnmp_engine *e, const struct osnmp_target *t, struct result *r)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	char err[256];

	memset(r, 0, sizeof(*r));
	r->status = -1;
	snmp_add_null_var(pdu, sysname, countof(sysname));
	assert_int_equal(osnmp_send(e, t, pdu, result_cb, r, err, sizeof(err)), 0);
}

static struct result
get_now(struct loop *l, struct osnmp_engine *e, const struct osnmp_target *t)
{
	struct result r;

	send_get(e, t, &r);
	loop_run(l);   /* returns when nothing is left: idle sessions leave the loop */
	return r;
}

/* ---- snmpd instances ---- */

static bool
write_conf(const struct snmpd *d, const char *users, const char *engine)
{
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/snmpd.conf", d->dir);
	if ((f = fopen(path, "w")) == NULL)
		return false;
	fprintf(f, "[snmp] persistentDir %s/state\n[snmp] mibs :\n"
	    "agentaddress udp:%s:%d\nsysName %s\nrocommunity public 127.0.0.0/8\n"
	    "engineID %s\ndontLogTCPWrappersConnects yes\n%s",
	    d->dir, d->addr, PORT, d->addr, engine, users);
	return fclose(f) == 0;
}

static bool
start_snmpd(struct snmpd *d)
{
	char conf[192], log[192];

	snprintf(conf, sizeof(conf), "%s/snmpd.conf", d->dir);
	snprintf(log, sizeof(log), "%s/snmpd.log", d->dir);
	if ((d->pid = fork()) == -1)
		return false;
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen("/dev/null", "w", stdout) == NULL ||
		    freopen("/dev/null", "w", stderr) == NULL)
			_exit(127);
		execlp("snmpd", "snmpd", "-f", "-Lf", log, "-C", "-c", conf,
		    "-I", "-smux", (char *)NULL);
		_exit(127);
	}
	return true;
}

static bool
wait_ready(int dev)
{
	struct loop *l = loop_new();
	struct osnmp_engine_opts eo = { 0 };
	struct osnmp_engine *e = osnmp_engine_new(l, &eo);
	struct osnmp_target t = target(dev, &v2c);
	bool ok = false;

	t.timeout_ms = 200;
	t.retries = 0;
	for (int i = 0; i < 50 && !ok; i++) {
		struct result r = get_now(l, e, &t);
		ok = r.status == OSNMP_ST_OK;
		if (!ok)
			usleep(100 * 1000);
	}
	osnmp_engine_free(e);
	loop_free(l);
	return ok;
}

static const char *users[2] = {
		"createUser walker SHA-256 \"walkauth-1\" AES \"walkpriv-1\"\n"
		"rouser walker authpriv\n"
		"createUser shared SHA-256 \"device-a-auth\" AES \"device-a-priv\"\n"
		"rouser shared authpriv\n",
		"createUser shared SHA-256 \"device-b-auth\" AES \"device-b-priv\"\n"
		"rouser shared authpriv\n",
};

static int
setup(void **st)
{
	char state[160];

	if (system("command -v snmpd >/dev/null 2>&1") != 0)
		return 0;   /* every test skips */
	assert_non_null(mkdtemp(basedir));
	/* A /24 of loopback per process: parallel runs do not meet. */
	for (int i = 0; i < 2; i++) {
		struct snmpd *d = &devs[i];
		snprintf(d->addr, sizeof(d->addr), "127.79.%d.%d",
		    1 + (int)(getpid() % 250), 1 + i);
		snprintf(d->dir, sizeof(d->dir), "%s/d%d", basedir, i);
		snprintf(state, sizeof(state), "%s/state", d->dir);
		if (mkdir(d->dir, 0700) == -1 || mkdir(state, 0700) == -1 ||
		    !write_conf(d, users[i], ENGINE_TEXT) || !start_snmpd(d))
			return -1;
	}
	for (int i = 0; i < 2; i++)
		if (!wait_ready(i))
			return -1;
	have_snmpd = true;
	return 0;
}

static int
teardown(void **st)
{
	char cmd[160];

	for (int i = 0; i < 2; i++)
		if (devs[i].pid > 0) {
			kill(devs[i].pid, SIGTERM);
			waitpid(devs[i].pid, NULL, 0);
		}
	if (strcmp(basedir + strlen(basedir) - 6, "XXXXXX") != 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", basedir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

/* ---- tests ---- */

struct walk_tally {
	size_t vbs;
	enum osnmp_status status;
	bool done;
};

static bool
walk_vb(const netsnmp_variable_list *vb, void *arg)
{
	((struct walk_tally *)arg)->vbs++;
	return true;
}

static void
walk_done(const struct osnmp_walk_end *end, void *arg)
{
	struct walk_tally *w = arg;

	w->status = end->status;
	w->done = true;
}

static void
a_walk_of_many_getbulks_uses_one_session_and_derives_keys_once(void **st)
{
	struct loop *l;
	struct osnmp_engine_opts eo = { 0 };
	struct osnmp_engine *e;
	struct osnmp_engine_stats s;
	struct osnmp_target t = target(0, &walker);
	struct osnmp_walk_opts wo = { .max_repetitions = 2 };
	static const oid system_group[] = { 1, 3, 6, 1, 2, 1, 1 };
	char err[256];

	if (!have_snmpd)
		skip();
	l = loop_new();
	e = osnmp_engine_new(l, &eo);
	for (int round = 0; round < 2; round++) {
		struct walk_tally w = { 0 };
		assert_int_equal(osnmp_walk(e, &t, system_group, countof(system_group),
		    &wo, walk_vb, walk_done, &w, err, sizeof(err)), 0);
		loop_run(l);
		assert_true(w.done);
		assert_int_equal(w.status, OSNMP_ST_OK);
		/* the system group plus sysORTable: well over 10 GETBULKs of 2 */
		assert_true(w.vbs > 20);
	}
	osnmp_engine_stats(e, &s);
	assert_int_equal(s.sessions_opened, 1);   /* both walks, every GETBULK */
	assert_int_equal(s.ku_derived, 2);        /* auth and privacy password */
	assert_int_equal(s.kul_derived, 1);
	assert_int_equal(s.sessions, 1);
	assert_int_equal(s.idle, 1);
	osnmp_engine_free(e);
	loop_free(l);
}

static void
an_idle_session_past_its_time_is_closed_and_keys_stay_cached(void **st)
{
	struct loop *l;
	struct osnmp_engine_opts eo = { .idle_ms = 1 };
	struct osnmp_engine *e;
	struct osnmp_engine_stats s;
	struct osnmp_target t = target(0, &walker);
	struct result r;

	if (!have_snmpd)
		skip();
	l = loop_new();
	e = osnmp_engine_new(l, &eo);
	for (int i = 0; i < 2; i++) {
		r = get_now(l, e, &t);
		assert_int_equal(r.status, OSNMP_ST_OK);
		usleep(5 * 1000);   /* well past idle_ms */
	}
	osnmp_engine_stats(e, &s);
	assert_int_equal(s.sessions_opened, 2);
	assert_int_equal(s.sessions, 1);
	assert_int_equal(s.ku_derived, 2);
	osnmp_engine_free(e);
	loop_free(l);
}

static void
one_user_name_with_two_passwords_each_credential_keeps_its_keys(void **st)
{
	struct loop *l;
	struct osnmp_engine_opts eo = { 0 };
	struct osnmp_engine *e;

	if (!have_snmpd)
		skip();
	l = loop_new();
	e = osnmp_engine_new(l, &eo);
	/* Every order of first use, then all four at once. */
	for (int round = 0; round < 3; round++) {
		struct result r[2][2];
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++) {
				int dev = round == 1 ? 1 - i : i;
				struct osnmp_target t = target(dev, &shared[j]);
				if (round < 2)
					r[dev][j] = get_now(l, e, &t);
				else
					send_get(e, &t, &r[dev][j]);
			}
		if (round == 2)
			loop_run(l);
		for (int dev = 0; dev < 2; dev++)
			for (int j = 0; j < 2; j++) {
				if (dev == j) {
					assert_int_equal(r[dev][j].status, OSNMP_ST_OK);
					assert_string_equal(r[dev][j].value, devs[dev].addr);
				} else {
					assert_int_equal(r[dev][j].status, OSNMP_ST_AUTH);
					assert_non_null(strstr(r[dev][j].errmsg, "authentication failed"));
				}
			}
	}
	osnmp_engine_free(e);
	loop_free(l);
}

/* Like snmpget: with a wrong privacy key the device decrypts garbage,
 * cannot parse it and stays silent. The USM entry our wrong keys went
 * through must then serve the right credential again. */
static void
a_wrong_privacy_password_times_out_and_spoils_nothing(void **st)
{
	struct loop *l;
	struct osnmp_engine_opts eo = { 0 };
	struct osnmp_engine *e;
	struct config_credential c = shared[0];
	struct osnmp_target t = target(0, &c);
	struct result r;

	if (!have_snmpd)
		skip();
	c.priv_password = "not-the-priv";
	t.timeout_ms = 300;
	t.retries = 0;
	l = loop_new();
	e = osnmp_engine_new(l, &eo);
	r = get_now(l, e, &t);
	assert_int_equal(r.status, OSNMP_ST_TIMEOUT);
	t = target(0, &shared[0]);
	r = get_now(l, e, &t);
	assert_int_equal(r.status, OSNMP_ST_OK);
	osnmp_engine_free(e);
	loop_free(l);
}

struct count {
	enum osnmp_status st;
	unsigned long n;
};

static void
counter_cb(const struct osnmp_reply *rep, void *arg)
{
	struct count *c = arg;

	c->st = rep->status;
	if (rep->status == OSNMP_ST_OK && rep->pdu->variables &&
	    rep->pdu->variables->type == ASN_COUNTER)
		c->n = *rep->pdu->variables->val.integer;
	else
		c->st = OSNMP_ST_ERROR;
}

static size_t
hex_to_bin(const char *hex, u_char *out, size_t max)
{
	size_t n = 0;
	unsigned v;

	while (n < max && sscanf(hex + 2 * n, "%2x", &v) == 1)
		out[n++] = (u_char)v;
	return n;
}

/* usmStatsNotInTimeWindows of a device, read over v2c. */
static unsigned long
not_in_time_window(struct loop *l, int dev)
{
	static const oid stat[] = { 1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0 };
	struct osnmp_engine_opts eo = { 0 };
	struct osnmp_engine *e = osnmp_engine_new(l, &eo);
	struct osnmp_target t = target(dev, &v2c);
	struct count c = { -1, 0 };
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	char err[256];

	snmp_add_null_var(pdu, stat, countof(stat));
	assert_int_equal(osnmp_send(e, &t, pdu, counter_cb, &c, err, sizeof(err)), 0);
	loop_run(l);
	assert_int_equal(c.st, OSNMP_ST_OK);
	osnmp_engine_free(e);
	return c.n;
}

/* The device rebooted (or our idea of its clock went stale): its
 * authenticated notInTimeWindow REPORT resyncs the clock and the request
 * is sent again, on the same session. */
static void
a_device_that_rebooted_is_resynced(void **st)
{
	struct loop *l;
	struct osnmp_engine_opts eo = { 0 };
	struct osnmp_engine *e;
	struct osnmp_engine_stats s;
	struct osnmp_target t = target(1, &shared[1]);
	struct result r;
	char hex[2 * SNMP_MAX_ENG_SIZE + 1];
	u_char id[SNMP_MAX_ENG_SIZE];
	u_int boots, etime;
	size_t idlen;
	unsigned long reports;

	if (!have_snmpd)
		skip();
	l = loop_new();
	e = osnmp_engine_new(l, &eo);
	r = get_now(l, e, &t);
	assert_int_equal(r.status, OSNMP_ST_OK);
	assert_int_equal(osnmp_engine_id_hex(e, devs[1].addr, PORT, hex, sizeof(hex)), 0);
	idlen = hex_to_bin(hex, id, sizeof(id));
	/* What we know of the device's clock now predates a reboot. */
	assert_int_equal(get_enginetime(id, (u_int)idlen, &boots, &etime, TRUE),
	    SNMPERR_SUCCESS);
	assert_true(boots >= 1);
	assert_int_equal(set_enginetime(id, (u_int)idlen, boots - 1, etime, TRUE),
	    SNMPERR_SUCCESS);
	reports = not_in_time_window(l, 1);
	r = get_now(l, e, &t);
	assert_int_equal(r.status, OSNMP_ST_OK);
	assert_string_equal(r.value, devs[1].addr);
	osnmp_engine_stats(e, &s);
	assert_true(not_in_time_window(l, 1) > reports);   /* it did say so */
	assert_int_equal(s.sessions_opened, 1);
	osnmp_engine_free(e);
	loop_free(l);
}

/* The device at an address was replaced (or reset) and has a new engine
 * ID: the cached one is dropped and the next request rediscovers it. */
static void
a_device_with_a_new_engine_id_is_rediscovered(void **st)
{
	struct loop *l;
	struct osnmp_engine_opts eo = { 0 };
	struct osnmp_engine *e;
	struct osnmp_target t = target(1, &shared[1]);
	struct result r;
	char before[2 * SNMP_MAX_ENG_SIZE + 1], after[sizeof(before)];
	int failed = 0;

	if (!have_snmpd)
		skip();
	l = loop_new();
	e = osnmp_engine_new(l, &eo);
	r = get_now(l, e, &t);
	assert_int_equal(r.status, OSNMP_ST_OK);
	assert_int_equal(osnmp_engine_id_hex(e, devs[1].addr, PORT, before,
	    sizeof(before)), 0);
	kill(devs[1].pid, SIGTERM);
	waitpid(devs[1].pid, NULL, 0);
	devs[1].pid = 0;
	assert_true(write_conf(&devs[1], users[1], ENGINE_TEXT "-replaced"));
	assert_true(start_snmpd(&devs[1]));
	assert_true(wait_ready(1));
	/* The first request may meet the old engine ID: the device's REPORT
	 * names another engine, which net-snmp drops, so it times out. */
	t.timeout_ms = 300;
	t.retries = 0;
	for (int i = 0; i < 2; i++) {
		r = get_now(l, e, &t);
		if (r.status == OSNMP_ST_OK)
			break;
		assert_true(r.status == OSNMP_ST_TIMEOUT || r.status == OSNMP_ST_AUTH);
		failed++;
	}
	assert_int_equal(r.status, OSNMP_ST_OK);
	assert_string_equal(r.value, devs[1].addr);
	assert_true(failed <= 1);
	assert_int_equal(osnmp_engine_id_hex(e, devs[1].addr, PORT, after,
	    sizeof(after)), 0);
	assert_string_not_equal(before, after);
	osnmp_engine_free(e);
	loop_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_walk_of_many_getbulks_uses_one_session_and_derives_keys_once),
		cmocka_unit_test(an_idle_session_past_its_time_is_closed_and_keys_stay_cached),
		cmocka_unit_test(one_user_name_with_two_passwords_each_credential_keeps_its_keys),
		cmocka_unit_test(a_wrong_privacy_password_times_out_and_spoils_nothing),
		cmocka_unit_test(a_device_that_rebooted_is_resynced),
		cmocka_unit_test(a_device_with_a_new_engine_id_is_rediscovered),
	};

	setenv("SNMP_PERSISTENT_DIR", "/tmp", 0);
	osnmp_lib_init("outpost-test");
	return cmocka_run_group_tests(tests, setup, teardown);
}
