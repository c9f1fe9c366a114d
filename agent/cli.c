/*
 * What outpost's SNMP commands share: net-snmp-style credential flags
 * (-v -c -u -l -a -A -x -X -n -t -r), or the [credential] sections of a
 * config file (--config FILE, long option only: -c is the community, as
 * in net-snmp's tools), and usage-error reporting.
 */
#include "agent/agent.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_snmp_help[] =
"Credentials (as in net-snmp's tools):\n"
"  -v 1|2c|3          SNMP version (default 2c; 3 when -u is given)\n"
"  -c COMMUNITY       community for v1/v2c\n"
"  -u USER            v3 user name\n"
"  -l LEVEL           noAuthNoPriv, authNoPriv or authPriv\n"
"  -a PROTO           MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512\n"
"  -A PASSWORD        v3 authentication pass phrase (8+ characters)\n"
"  -x PROTO           DES, AES, AES-192, AES-256, AES-192-C, AES-256-C\n"
"  -X PASSWORD        v3 privacy pass phrase (8+ characters)\n"
"  -n CONTEXT         v3 context name (default: the empty context)\n"
"  --config FILE      use the [credential] sections of an outpost.ini\n"
"  --credential NAME  use only this [credential] section of --config\n"
"  -t TIMEOUT         per-try timeout: seconds (1, 0.5) or 500ms, 2s\n"
"  -r RETRIES         retries after the first try\n"
"  --json             JSON output, one object per line\n"
"  -h, --help         this help\n";

/* Every error names the command it came from: "outpost get: ...". */
static const char *cli_command = NULL;

void
cli_set_command(const char *name)
{
	cli_command = name;
}

void
cli_errorf(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "outpost%s%s: %s\n", cli_command ? " " : "",
	    cli_command ? cli_command : "", msg);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "outpost %s: %s (see 'outpost %s --help')\n", cmd, msg, cmd);
	return EXIT_USAGE;
}

int
cli_parse_uint(const char *cmd, const char *what, const char *s, int64_t min,
    int64_t max, unsigned *out)
{
	int64_t v;

	if (parse_int(s, min, max, &v) == -1) {
		cli_usage_error(cmd, "bad %s '%s': expected a whole number from "
		    "%lld to %lld", what, s, (long long)min, (long long)max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* "1", "0.5" (seconds, as net-snmp's -t) or a duration ("500ms", "2s"). */
static int
parse_timeout(const char *s, unsigned *out_ms)
{
	uint64_t ms;
	const char *p = s;
	unsigned long ip = 0, frac = 0, scale = 1000;

	if (*p == '\0')
		return -1;
	while (isdigit((unsigned char)*p) && ip < 100000)
		ip = ip * 10 + (unsigned long)(*p++ - '0');
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (scale > 1) {
				scale /= 10;
				frac += (unsigned long)(*p - '0') * scale;
			}
			p++;
		}
		if (*p != '\0')
			return -1;
		ms = ip * 1000 + frac;
	} else if (*p == '\0') {
		ms = (uint64_t)ip * 1000;
	} else if (parse_duration_ms(s, &ms) == -1) {
		return -1;
	}
	if (ms < 10 || ms > 60000)
		return -1;
	*out_ms = (unsigned)ms;
	return 0;
}

void
cli_snmp_init(struct cli_snmp *c, unsigned timeout_ms, unsigned retries)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = timeout_ms;
	c->retries = retries;
}

/* "-t" or "--max-repetitions" for an option id. */
static const char *
cli_opt_name(int opt, const struct option *longopts, char *buf, size_t len)
{
	if (opt > 0 && opt < 128) {
		snprintf(buf, len, "-%c", opt);
		return buf;
	}
	for (const struct option *o = longopts; o && o->name; o++)
		if (o->val == opt) {
			snprintf(buf, len, "--%s", o->name);
			return buf;
		}
	return "?";
}

int
cli_getopt_error(const char *cmd, int opt, const char *arg,
    const struct option *longopts, const char *why)
{
	char name[64];

	if (opt == '?') {
		/* optopt is the short option; 0 for an unknown long one. */
		if (optopt > 0 && optopt < 128)
			return cli_usage_error(cmd, "unknown option '-%c'", optopt);
		return cli_usage_error(cmd, "unknown option '%.64s'", arg);
	}
	if (opt == ':')
		return cli_usage_error(cmd, "option '%s' needs a value",
		    optopt ? cli_opt_name(optopt, longopts, name, sizeof(name)) :
		    arg);
	return cli_usage_error(cmd, "bad value '%.64s' for option '%s'%s%s",
	    optarg ? optarg : "", cli_opt_name(opt, longopts, name, sizeof(name)),
	    why && *why ? ": " : "", why ? why : "");
}

int
cli_snmp_opt(struct cli_snmp *c, int opt, const char *arg, char *err,
    size_t errlen)
{
	err[0] = '\0';
	switch (opt) {
	case 'v': c->version = arg; return 1;
	case 'u': c->user = arg; return 1;
	case 'l': c->level = arg; return 1;
	case 'a': c->auth = arg; return 1;
	case 'A': c->auth_pass = arg; return 1;
	case 'x': c->priv = arg; return 1;
	case 'X': c->priv_pass = arg; return 1;
	case 'n': c->context = arg; return 1;
	case OPT_CONFIG: c->config_path = arg; return 1;
	case OPT_CREDENTIAL: c->cred_name = arg; return 1;
	case OPT_JSON: c->json = true; return 1;
	case 'c':
		if (c->ncommunities == CLI_MAX_CREDS) {
			snprintf(err, errlen, "at most %d communities (-c)", CLI_MAX_CREDS);
			return -1;
		}
		c->communities[c->ncommunities++] = arg;
		return 1;
	case 't':
		if (parse_timeout(arg, &c->timeout_ms) == 0)
			return 1;
		snprintf(err, errlen, "expected seconds (1, 0.5) or a duration "
		    "(500ms, 2s) from 10ms to 60s");
		return -1;
	case 'r': {
		int64_t v;
		if (parse_int(arg, 0, 20, &v) == 0) {
			c->retries = (unsigned)v;
			return 1;
		}
		snprintf(err, errlen, "expected a whole number from 0 to 20");
		return -1;
	}
	default:
		return 0;
	}
}

int
cli_config_load(const char *path, struct config **cfg)
{
	struct config_errors errs;
	int rc = config_load(path, cfg, &errs);

	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	config_errors_free(&errs);
	return rc == 0 ? 0 : 1;
}

int
cli_config_only(const char *cmd, const char *usage, int argc, char **argv,
    const char **path)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*path = NULL;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		if (opt == 'c') {
			*path = optarg;
		} else if (opt == 'h') {
			fputs(usage, stdout);
			return -2;
		} else {
			return cli_getopt_error(cmd, opt, argv[optind - 1], opts, NULL);
		}
	}
	if (*path == NULL || optind < argc)
		return cli_usage_error(cmd, "usage: outpost %s -c FILE", cmd);
	return 0;
}

static int
cli_creds_from_config(struct cli_snmp *c)
{
	if (cli_config_load(c->config_path, &c->cfg) != 0)
		return 1;
	for (size_t i = 0; i < c->cfg->ncreds && c->ncreds < CLI_MAX_CREDS; i++) {
		const struct config_credential *cr = &c->cfg->creds[i];
		if (c->cred_name && strcmp(c->cred_name, cr->name) != 0)
			continue;
		c->creds[c->ncreds] = *cr;   /* borrowed strings: owned by cfg */
		snprintf(c->names[c->ncreds], sizeof(c->names[0]), "%s", cr->name);
		c->ncreds++;
	}
	if (c->cred_name && c->ncreds == 0) {
		cli_errorf("%s: no [credential %s] section", c->config_path,
		    c->cred_name);
		return 1;
	}
	if (c->ncreds == 0) {
		cli_errorf("%s: no [credential NAME] sections", c->config_path);
		return 1;
	}
	return 0;
}

static int
cli_enum(const char *what, const char *val, int (*parse)(const char *), int *out)
{
	int v;

	if (val == NULL)
		return 0;
	if ((v = parse(val)) < 0) {
		cli_errorf("bad %s '%s'", what, val);
		return -1;
	}
	*out = v;
	return 0;
}

int
cli_snmp_finish(struct cli_snmp *c, bool many)
{
	struct config_credential base;
	char err[512];
	int version;
	bool flags = c->version || c->user || c->level || c->auth ||
	    c->auth_pass || c->priv || c->priv_pass || c->context ||
	    c->ncommunities;

	if (c->config_path) {
		if (flags) {
			cli_errorf("--config cannot be combined with "
			    "-v -c -u -l -a -A -x -X -n");
			return EXIT_USAGE;
		}
		return cli_creds_from_config(c);
	}
	if (c->cred_name) {
		cli_errorf("--credential needs --config FILE");
		return EXIT_USAGE;
	}
	if (!flags) {
		cli_errorf("no credentials: give -c COMMUNITY, "
		    "-v 3 -u USER ..., or --config FILE");
		return EXIT_USAGE;
	}
	config_credential_defaults(&base);
	version = c->user ? CFG_SNMP_V3 : CFG_SNMP_V2C;
	if (cli_enum("version (-v)", c->version, config_parse_version, &version) ||
	    cli_enum("security level (-l)", c->level, config_parse_level, &base.level) ||
	    cli_enum("auth protocol (-a)", c->auth, config_parse_auth, &base.auth_protocol) ||
	    cli_enum("privacy protocol (-x)", c->priv, config_parse_priv, &base.priv_protocol))
		return EXIT_USAGE;
	base.version = version;
	if (version == CFG_SNMP_V3 && c->level == NULL)
		base.level = c->priv_pass ? CFG_AUTH_PRIV :
		    c->auth_pass ? CFG_AUTH_NOPRIV : CFG_NOAUTH_NOPRIV;
	if (c->ncommunities > 1 && !many) {
		cli_errorf("-c may be given once here (several are "
		    "for scan)");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < (c->ncommunities ? c->ncommunities : 1); i++) {
		struct config_credential *cr = &c->creds[c->ncreds];
		*cr = base;
		cr->community = (char *)(c->ncommunities ? c->communities[i] : NULL);
		cr->user = (char *)c->user;
		cr->auth_password = (char *)c->auth_pass;
		cr->priv_password = (char *)c->priv_pass;
		cr->context = (char *)c->context;
		if (config_credential_check(cr, err, sizeof(err)) == -1) {
			cli_errorf("%s", err);
			return EXIT_USAGE;
		}
		if (version == CFG_SNMP_V3)
			snprintf(c->names[c->ncreds], sizeof(c->names[0]), "usm:%.60s",
			    c->user);
		else
			snprintf(c->names[c->ncreds], sizeof(c->names[0]),
			    "community#%zu", i + 1);
		cr->name = c->names[c->ncreds];
		c->ncreds++;
	}
	return 0;
}

void
cli_snmp_free(struct cli_snmp *c)
{
	config_free(c->cfg);
	c->cfg = NULL;
}

void
cli_raise_nofile(void)
{
	/* One socket per target in flight: take what the hard limit allows. */
	(void)platform_fd_limit(65536);
}

void
cli_json_print(void *obj)
{
	char *s = cJSON_PrintUnformatted(obj);

	if (s != NULL) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
}
