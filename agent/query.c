/*
 * outpost get / outpost walk: print what snmpget -On / snmpbulkwalk -On
 * print for the same device, line for line, so the two can be diffed.
 */
#include "agent/agent.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_MAX_OIDS 128

struct query {
	const char              *cmd;
	netsnmp_pdu             *req;      /* get: a copy of the request in flight */
	struct cli_snmp          cli;
	struct osnmp_target      target;
	struct loop             *loop;
	struct osnmp_engine     *eng;
	int                      status;   /* exit status */
	size_t                   count;
};

static const char get_usage[] =
"usage: outpost get [options] HOST[:PORT] OID...\n"
"Read OIDs with one GET and print them as snmpget -On does: when a v1\n"
"agent refuses one OID, print its error, GET the others again, exit 2.\n"
"OIDs are numeric (1.3.6.1.2.1.1.5.0) or a built-in name (sysName.0).\n\n";

static const char walk_usage[] =
"usage: outpost walk [options] HOST[:PORT] [OID]\n"
"Walk a subtree (default 1.3.6.1.2.1) with GETBULK (GETNEXT for v1) and\n"
"print it as snmpbulkwalk -On (snmpwalk -On for v1) does.\n\n"
"  --max-repetitions N  GETBULK repetitions to start with (default 25)\n"
"  --max-varbinds N     stop after N varbinds (default 1000000)\n\n";

static void
print_vb(struct query *q, const netsnmp_variable_list *vb)
{
	if (q->cli.json) {
		cJSON *o = osnmp_vb_json(vb, true);

		cli_json_print(o);
		cJSON_Delete(o);
	} else {
		const char *line = osnmp_vb_line(vb);
		if (line != NULL)
			puts(line);
	}
	q->count++;
}

/* Shared option parsing; extra handles command-specific long options. */
static int
query_args(struct query *q, int argc, char **argv, const char *usage,
    const struct option *extra_opts, int (*extra)(struct query *, int, const char *),
    int *first_pos)
{
	struct option opts[16] = { CLI_SNMP_LONGOPTS };
	size_t n = 4;
	int opt, rc;

	for (const struct option *e = extra_opts; e && e->name; e++)
		opts[n++] = *e;
	cli_snmp_init(&q->cli, 1000, 5);
	q->target.port = 161;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":" CLI_SNMP_SHORTOPTS, opts, NULL)) != -1) {
		char err[160];
		if (opt == 'h') {
			printf("%s%s", usage, cli_snmp_help);
			return -2;
		}
		if (opt == '?' || opt == ':')
			return cli_getopt_error(q->cmd, opt, argv[optind - 1], opts, NULL);
		if ((rc = cli_snmp_opt(&q->cli, opt, optarg, err, sizeof(err))) == 1)
			continue;
		if (rc == 0 && extra && (rc = extra(q, opt, optarg)) == 1)
			continue;
		if (rc == 0)
			snprintf(err, sizeof(err), "expected a whole number in range");
		return cli_getopt_error(q->cmd, opt, NULL, opts, err);
	}
	if (optind >= argc)
		return cli_usage_error(q->cmd, "missing HOST[:PORT]");
	{
		char err[256];
		if (net_hostport_parse(argv[optind], q->target.host,
		    sizeof(q->target.host), &q->target.port, err, sizeof(err)) == -1)
			return cli_usage_error(q->cmd, "%s", err);
	}
	*first_pos = optind + 1;
	return 0;
}

static int
query_start(struct query *q)
{
	struct osnmp_engine_opts eo = { .max_inflight = 16, .max_per_target = 1 };
	int rc;

	if ((rc = cli_snmp_finish(&q->cli, false)) != 0)
		return rc;
	q->target.cred = &q->cli.creds[0];
	q->target.timeout_ms = q->cli.timeout_ms;
	q->target.retries = q->cli.retries;
	osnmp_lib_init("outpost");
	q->loop = loop_new();
	q->eng = q->loop ? osnmp_engine_new(q->loop, &eo) : NULL;
	if (q->eng == NULL) {
		fprintf(stderr, "outpost %s: cannot set up the event loop\n", q->cmd);
		return 1;
	}
	return 0;
}

static int
query_end(struct query *q)
{
	fflush(stdout);
	osnmp_engine_free(q->eng);
	snmp_free_pdu(q->req);   /* engine gone: no callback can run now */
	loop_free(q->loop);
	cli_snmp_free(&q->cli);
	return q->status;
}

static const char *
target_str(const struct query *q, char *buf, size_t len)
{
	snprintf(buf, len, strchr(q->target.host, ':') ? "[%s]:%u" : "%s:%u",
	    q->target.host, q->target.port);
	return buf;
}

/* The block net-snmp's tools print for a response with an error status
 * (fprint_objid ends the OID with its own newline, hence the blank line). */
static void
print_agent_error(const char *head, long errstat, long errindex,
    const oid *failed, size_t failedlen)
{
	char oidbuf[MAX_OID_LEN * 11];

	fflush(stdout);
	fprintf(stderr, "%s\nReason: %s\n", head, snmp_errstring((int)errstat));
	if (errindex == 0)
		return;
	if (failed != NULL) {
		osnmp_oid_str(failed, failedlen, oidbuf, sizeof(oidbuf));
		fprintf(stderr, "Failed object: %s\n\n", oidbuf);
	} else {
		fprintf(stderr, "Failed object: \n");
	}
}

/* ---- get ---- */

static void get_reply(const struct osnmp_reply *, void *);

static void
get_send(struct query *q, netsnmp_pdu *pdu)
{
	char err[512];

	q->req = snmp_clone_pdu(pdu);
	if (q->req == NULL) {
		snmp_free_pdu(pdu);
		fprintf(stderr, "outpost get: out of memory\n");
		q->status = 1;
		return;
	}
	if (osnmp_send(q->eng, &q->target, pdu, get_reply, q, err, sizeof(err)) == -1) {
		fprintf(stderr, "outpost get: %s\n", err);
		q->status = 1;
	}
}

static void
get_reply(const struct osnmp_reply *rep, void *arg)
{
	struct query *q = arg;
	netsnmp_pdu *req = q->req, *pdu;
	char t[300];

	q->req = NULL;
	if (rep->status != OSNMP_ST_OK) {
		fprintf(stderr, "outpost get: %s: %s\n", target_str(q, t, sizeof(t)),
		    rep->errmsg ? rep->errmsg : "failed");
		q->status = 1;
	} else if (rep->pdu->errstat != SNMP_ERR_NOERROR) {
		const netsnmp_variable_list *vb = rep->pdu->variables;
		long errindex = rep->pdu->errindex;
		for (long i = 1; vb && i < errindex; i++)
			vb = vb->next_variable;
		print_agent_error("Error in packet", rep->pdu->errstat, errindex,
		    errindex > 0 && vb ? vb->name : NULL, vb ? vb->name_length : 0);
		q->status = 2;
		/* As snmpget: GET again without the refused varbind (a v1
		 * agent fails the whole request for one unknown OID). */
		if ((pdu = osnmp_get_without(req, errindex)) != NULL)
			get_send(q, pdu);
	} else {
		for (const netsnmp_variable_list *vb = rep->pdu->variables; vb;
		    vb = vb->next_variable)
			print_vb(q, vb);
	}
	snmp_free_pdu(req);
}

int
cmd_get(int argc, char **argv)
{
	struct query q = { .cmd = "get" };
	netsnmp_pdu *pdu;
	char err[512];
	int pos, rc;

	if ((rc = query_args(&q, argc, argv, get_usage, NULL, NULL, &pos)) != 0)
		return rc == -2 ? 0 : rc;
	if (pos >= argc)
		return cli_usage_error("get", "missing OID");
	if (argc - pos > GET_MAX_OIDS)
		return cli_usage_error("get", "at most %d OIDs in one get", GET_MAX_OIDS);
	pdu = snmp_pdu_create(SNMP_MSG_GET);
	for (int i = pos; i < argc; i++) {
		oid o[MAX_OID_LEN];
		size_t len;
		if (osnmp_oid_parse(argv[i], o, &len, err, sizeof(err)) == -1) {
			snmp_free_pdu(pdu);
			return cli_usage_error("get", "%s", err);
		}
		snmp_add_null_var(pdu, o, len);
	}
	if ((rc = query_start(&q)) != 0) {
		snmp_free_pdu(pdu);
		cli_snmp_free(&q.cli);
		return rc;
	}
	get_send(&q, pdu);
	loop_run(q.loop);
	return query_end(&q);
}

/* ---- walk ---- */

static struct osnmp_walk_opts walk_opts;

static int
walk_extra(struct query *q, int opt, const char *arg)
{
	int64_t v;

	if (opt == OPT_MAX_REP) {
		if (parse_int(arg, 1, 1000, &v) == -1)
			return -1;
		walk_opts.max_repetitions = (unsigned)v;
		return 1;
	}
	if (opt == OPT_MAX_VB) {
		if (parse_int(arg, 1, OSNMP_WALK_MAX, &v) == -1)
			return -1;
		walk_opts.max_varbinds = (size_t)v;
		return 1;
	}
	return 0;
}

static bool
walk_vb(const netsnmp_variable_list *vb, void *arg)
{
	print_vb(arg, vb);
	return true;
}

/* v1's noSuchName: snmpwalk prints this line to stdout, where it happens
 * (a root GET may still follow it). Not a JSON object: left out there. */
static void
walk_end_of_mib(void *arg)
{
	struct query *q = arg;

	if (!q->cli.json)
		puts("End of MIB");
}

static void
walk_done(const struct osnmp_walk_end *e, void *arg)
{
	struct query *q = arg;
	char t[300];

	if (e->errstat != 0) {
		print_agent_error("Error in packet.", e->errstat, e->errindex,
		    e->failed, e->failedlen);
		q->status = 2;
		if (e->status == OSNMP_ST_ERROR)
			return;   /* errmsg says the same in fewer words */
	}
	if (e->status != OSNMP_ST_OK) {
		fflush(stdout);
		fprintf(stderr, "outpost walk: %s: %s\n", target_str(q, t, sizeof(t)),
		    e->errmsg ? e->errmsg : "failed");
		q->status = q->status ? q->status : 1;
	} else if (e->errmsg != NULL) {
		fflush(stdout);
		fprintf(stderr, "outpost walk: %s: %s\n", target_str(q, t,
		    sizeof(t)), e->errmsg);
	}
}

int
cmd_walk(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "max-repetitions", required_argument, NULL, OPT_MAX_REP },
		{ "max-varbinds", required_argument, NULL, OPT_MAX_VB },
		{ NULL, 0, NULL, 0 },
	};
	struct query q = { .cmd = "walk" };
	oid root[MAX_OID_LEN] = { 1, 3, 6, 1, 2, 1 };
	size_t rootlen = 6;
	char err[512];
	int pos, rc;

	memset(&walk_opts, 0, sizeof(walk_opts));
	walk_opts.netsnmp_output = true;
	walk_opts.end_of_mib = walk_end_of_mib;
	if ((rc = query_args(&q, argc, argv, walk_usage, extra, walk_extra, &pos)) != 0)
		return rc == -2 ? 0 : rc;
	if (argc - pos > 1)
		return cli_usage_error("walk", "one OID at most (got %d)", argc - pos);
	if (pos < argc && osnmp_oid_parse_root(argv[pos], root, &rootlen, err, sizeof(err)) == -1)
		return cli_usage_error("walk", "%s", err);
	if ((rc = query_start(&q)) != 0) {
		cli_snmp_free(&q.cli);
		return rc;
	}
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (osnmp_walk(q.eng, &q.target, root, rootlen, &walk_opts, walk_vb,
	    walk_done, &q, err, sizeof(err)) == -1) {
		fprintf(stderr, "outpost walk: %s\n", err);
		q.status = 1;
	}
	loop_run(q.loop);
	return query_end(&q);
}
