/*
 * The sections of outpost.ini. Adding a section: a key table and a
 * section struct here, a member in struct config, a line in cfg_sections.
 */
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct cfg_enum cfg_versions[] = {
	{ "1", CFG_SNMP_V1, false },
	{ "2c", CFG_SNMP_V2C, false },
	{ "3", CFG_SNMP_V3, false },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_levels[] = {
	{ "noAuthNoPriv", CFG_NOAUTH_NOPRIV, false },
	{ "authNoPriv", CFG_AUTH_NOPRIV, false },
	{ "authPriv", CFG_AUTH_PRIV, false },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_auths[] = {
	{ "MD5", CFG_AUTH_MD5, false },
	{ "SHA", CFG_AUTH_SHA, false },
	{ "SHA-1", CFG_AUTH_SHA, true },
	{ "SHA-224", CFG_AUTH_SHA224, false },
	{ "SHA-256", CFG_AUTH_SHA256, false },
	{ "SHA-384", CFG_AUTH_SHA384, false },
	{ "SHA-512", CFG_AUTH_SHA512, false },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_privs[] = {
	{ "DES", CFG_PRIV_DES, false },
	{ "AES", CFG_PRIV_AES, false },
	{ "AES-128", CFG_PRIV_AES, true },
	{ "AES-192", CFG_PRIV_AES192, false },
	{ "AES-256", CFG_PRIV_AES256, false },
	{ "AES-192-C", CFG_PRIV_AES192C, false },
	{ "AES-256-C", CFG_PRIV_AES256C, false },
	{ NULL, 0, false },
};

static const struct cfg_enum cfg_log_levels[] = {
	{ "error", LOG_LVL_ERROR, false },
	{ "warn", LOG_LVL_WARN, false },
	{ "warning", LOG_LVL_WARN, true },
	{ "info", LOG_LVL_INFO, false },
	{ "debug", LOG_LVL_DEBUG, false },
	{ NULL, 0, false },
};

/* ---- [agent] ------------------------------------------------------- */

#define A struct config_agent
static const struct cfg_key agent_keys[] = {
	{ CFG_STRING(A, state_dir), .def = PLATFORM_DEFAULT_STATE_DIR, .flags = CFG_F_RESTART,
	  .doc = "Directory for the agent's state and spool files." },
	{ CFG_ENUM(A, log_level, cfg_log_levels), .def = "info",
	  .doc = "Least severe level that is logged." },
};
#undef A

/* ---- [server] ------------------------------------------------------ */

#define S struct config_server
static const struct cfg_key server_keys[] = {
	{ CFG_STRING(S, url), .flags = CFG_F_RESTART,
	  .doc = "The hub's base URL, https://HOST[:PORT]; required by outpost run." },
	{ CFG_STRING(S, token_file), .flags = CFG_F_RESTART,
	  .doc = "File holding this agent's bearer token (chmod 600); required "
	         "by outpost run." },
	{ CFG_DURATION(S, poll_wait), .def = "60s", .min = 1000, .max = 3600000,
	  .flags = CFG_F_RESTART,
	  .doc = "How long the hub may hold a command poll (jittered by 10%)." },
	{ CFG_STRING(S, ca_file), .flags = CFG_F_RESTART,
	  .doc = "PEM file of CA certificates that verify the hub (default: the "
	         "system's)." },
	{ CFG_STRING(S, client_cert), .flags = CFG_F_RESTART,
	  .doc = "PEM client certificate for mutual TLS." },
	{ CFG_STRING(S, client_key), .flags = CFG_F_RESTART,
	  .doc = "PEM private key of client_cert." },
	{ CFG_STRING(S, pinned_pubkey), .flags = CFG_F_RESTART,
	  .doc = "Pin the hub's public key: sha256//BASE64[;sha256//...] or a "
	         "PEM/DER file." },
	{ CFG_STRING(S, proxy), .flags = CFG_F_RESTART,
	  .doc = "HTTP(S) proxy URL (default: the https_proxy/no_proxy environment)." },
	{ CFG_DURATION(S, backoff_base), .def = "1s", .min = 100, .max = 3600000,
	  .flags = CFG_F_RESTART,
	  .doc = "First upload retry delay bound; doubles per failure (full "
	         "jitter). A failed poll is retried within min(poll_wait, "
	         "backoff_cap) instead (docs/protocol.md)." },
	{ CFG_DURATION(S, backoff_cap), .def = "5m", .min = 1000, .max = 86400000,
	  .flags = CFG_F_RESTART,
	  .doc = "Largest retry delay; also the clamp for Retry-After." },
	{ CFG_BOOL(S, allow_insecure_http), .def = "false",
	  .flags = CFG_F_RESTART,
	  .doc = "Allow a plain http:// url to a host that is not loopback." },
};
#undef S

/* A file the transport reads at start (ca_file, client_cert, ...): it
 * must be there now, not fail at the first connection. A secret one
 * (client_key) must be its owner's only, like the token file. */
static void
cfg_server_file(struct cfg_report *r, const char *key, const char *file,
    bool secret)
{
	char what[128], fix[600];
	struct stat st;
	int fd;

	if (file == NULL)
		return;
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		cfg_reportf(r, key, "%s %s: %s", key, file, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		cfg_reportf(r, key, "%s %s: not a regular file", key, file);
	else if (secret && platform_secret_exposed(fd, file, what, sizeof(what),
	    fix, sizeof(fix)) == 1)
		cfg_reportf(r, key, "%s %s is a private key but is %s; fix: %s",
		    key, file, what, fix);
	close(fd);
}

/* sha256//BASE64 (the 32-byte digest: 43 characters and one '=') joined
 * by ';', as libcurl takes them; anything else is a file. */
static bool
cfg_pin_valid(const char *pin)
{
	for (;;) {
		size_t n = 0;

		if (strncmp(pin, "sha256//", 8) != 0)
			return false;
		pin += 8;
		while ((pin[n] >= 'A' && pin[n] <= 'Z') || (pin[n] >= 'a' &&
		    pin[n] <= 'z') || (pin[n] >= '0' && pin[n] <= '9') ||
		    pin[n] == '+' || pin[n] == '/')
			n++;
		if (n != 43 || pin[n] != '=')
			return false;
		pin += n + 1;
		if (*pin == '\0')
			return true;
		if (*pin++ != ';')
			return false;
	}
}

static void
cfg_server_check(const void *obj, struct cfg_report *r)
{
	const struct config_server *sv = obj;

	cfg_server_file(r, "ca_file", sv->ca_file, false);
	cfg_server_file(r, "client_cert", sv->client_cert, false);
	cfg_server_file(r, "client_key", sv->client_key, true);
	if (sv->pinned_pubkey != NULL) {
		if (strncmp(sv->pinned_pubkey, "sha256//", 8) != 0)
			cfg_server_file(r, "pinned_pubkey", sv->pinned_pubkey, false);
		else if (!cfg_pin_valid(sv->pinned_pubkey))
			cfg_reportf(r, "pinned_pubkey", "pinned_pubkey must be "
			    "sha256//BASE64 (44 characters of base64 ending in "
			    "'=') or several joined by ';', or a PEM/DER file");
	}
	/* Through a proxy, plain http:// hands the proxy the token. */
	if (sv->url != NULL && sv->proxy != NULL &&
	    strncmp(sv->url, "http://", 7) == 0)
		cfg_reportf(r, "proxy", "a proxy with a plain http:// url would "
		    "see the token in clear text: use an https:// url (the proxy "
		    "then only tunnels TLS), or no proxy");

	if (sv->url != NULL) {
		if (strncmp(sv->url, "https://", 8) != 0 &&
		    strncmp(sv->url, "http://", 7) != 0)
			cfg_reportf(r, "url", "url must start with https:// (or "
			    "http:// for a loopback hub)");
		else if (strncmp(sv->url, "http://", 7) == 0 &&
		    !sv->allow_insecure_http && !config_url_is_loopback(sv->url))
			cfg_reportf(r, "url", "plain http:// sends the token in clear "
			    "text: use https://, or set allow_insecure_http = true");
	}
	if ((sv->client_cert == NULL) != (sv->client_key == NULL))
		cfg_reportf(r, sv->client_cert ? "client_cert" : "client_key",
		    "client_cert and client_key go together");
	if (sv->backoff_base > sv->backoff_cap)
		cfg_reportf(r, "backoff_base", "backoff_base must not exceed backoff_cap");
}

/* ---- [upload] ------------------------------------------------------ */

#define U struct config_upload
static const struct cfg_key upload_keys[] = {
	{ CFG_SIZE(U, batch_max_bytes), .def = "1MB", .min = 4096, .max = 8 << 20,
	  .flags = CFG_F_RESTART,
	  .doc = "A batch closes at this size (uncompressed JSON)." },
	{ CFG_DURATION(U, batch_max_age), .def = "10s", .min = 100, .max = 3600000,
	  .flags = CFG_F_RESTART,
	  .doc = "A batch closes at this age." },
	{ CFG_SIZE(U, spool_max_bytes), .def = "256MB", .min = 1 << 20,
	  .max = INT64_C(1) << 40,
	  .flags = CFG_F_RESTART,
	  .doc = "Disk the spool may use; when full the oldest batches go." },
	{ CFG_DURATION(U, spool_max_age), .def = "7d", .min = 60000,
	  .max = INT64_C(365) * 86400000,
	  .flags = CFG_F_RESTART,
	  .doc = "Batches older than this are dropped unsent (and counted)." },
};
#undef U

/* ---- [policy] ------------------------------------------------------ */

#define P struct config_policy
static const struct cfg_key policy_keys[] = {
	{ CFG_ADDRS(P, allow_networks),
	  .doc = "Targets the hub's commands may reach; anything else is refused "
	         "before a packet is sent. Empty: the [scan] networks." },
	{ CFG_BOOL(P, allow_set), .def = "false",
	  .doc = "Allow snmp.set commands at all." },
	{ CFG_STRINGS(P, set_oids),
	  .doc = "With allow_set: OID prefixes a set may write (empty: none)." },
	{ CFG_BOOL(P, allow_inline_credentials), .def = "false",
	  .doc = "Accept SNMP secrets inside a command instead of a credential name." },
	{ CFG_SIZE(P, max_command_bytes), .def = "64KB", .min = 1024, .max = 1 << 20,
	  .doc = "Largest command object accepted from the hub." },
	{ CFG_DURATION(P, max_command_time), .def = "5m", .min = 1000,
	  .max = 86400000,
	  .doc = "Longest a command may run; its timeout_ms is capped to this." },
};
#undef P

static void
cfg_policy_check(const void *obj, struct cfg_report *r)
{
	const struct config_policy *p = obj;
	char err[256];

	for (size_t i = 0; i < p->set_oids.count; i++) {
		const char *o = p->set_oids.items[i];
		size_t n = strspn(o, "0123456789.");
		if (o[n] != '\0' || n < 3 || strstr(o, "..") != NULL) {
			snprintf(err, sizeof(err), "set_oids: '%.64s' is not a numeric OID", o);
			cfg_reportf(r, "set_oids", "%s", err);
		}
	}
}

/* ---- [scan] -------------------------------------------------------- */

#define SC struct config_scan
static const struct cfg_key scan_keys[] = {
	{ CFG_ADDRS(SC, networks),
	  .doc = "What to discover: addresses, CIDRs, ranges. Empty: no scheduled scans." },
	{ CFG_INT(SC, port), .def = "161", .min = 1, .max = 65535,
	  .doc = "UDP port of the SNMP agents." },
	{ CFG_STRINGS(SC, credentials),
	  .doc = "[credential] names tried in order (the one that worked last "
	         "time first). Empty: every credential, in file order." },
	{ CFG_DURATION(SC, interval), .def = "1h", .min = 60000,
	  .max = INT64_C(7) * 86400000,
	  .doc = "Time between discovery scans; the first starts 0-5 s after start." },
	{ CFG_INT(SC, rate), .def = "200", .min = 1, .max = 100000,
	  .doc = "Probes per second, credential retries included." },
	{ CFG_DURATION(SC, timeout), .def = "1s", .min = 50, .max = 60000,
	  .doc = "Per-try timeout of a probe." },
	{ CFG_INT(SC, retries), .def = "1", .min = 0, .max = 10,
	  .doc = "Retries of a probe before the next credential." },
};
#undef SC

/* ---- [poll] -------------------------------------------------------- */

#define PO struct config_poll
static const struct cfg_key poll_keys[] = {
	{ CFG_DURATION(PO, interval), .def = "5m", .min = 10000,
	  .max = 86400000,
	  .doc = "Time between polls of a device; devices are spread across it." },
	{ CFG_STRINGS(PO, profiles), .def = "system interfaces",
	  .doc = "Profiles polled on every device: built-in ones (listed "
	         "below) or [profile NAME] sections." },
	{ CFG_DURATION(PO, label_interval), .def = "1h", .min = 10000,
	  .max = INT64_C(7) * 86400000,
	  .doc = "Label columns (ifDescr, ifName, ifAlias, ...) are read this often." },
	{ CFG_DURATION(PO, timeout), .def = "2s", .min = 50, .max = 60000,
	  .doc = "Per-try timeout of a poll request." },
	{ CFG_INT(PO, retries), .def = "1", .min = 0, .max = 10,
	  .doc = "Retries of a poll request." },
	{ CFG_INT(PO, repetitions), .def = "25", .min = 1, .max = 200,
	  .doc = "GETBULK max-repetitions for table columns." },
	{ CFG_INT(PO, max_rows), .def = "10000", .min = 1, .max = 100000,
	  .doc = "Rows read per table of a profile and device; the walk stops "
	         "there and the sample says \"truncated\": true." },
};
#undef PO

/* ---- [traps] ------------------------------------------------------- */

#define T struct config_traps
static const struct cfg_key traps_keys[] = {
	{ CFG_STRINGS(T, listen),
	  .doc = "Where notifications are received: udp:ADDR:PORT or "
	         "udp6:[ADDR]:PORT, numeric (udp:0.0.0.0:162 is usual; port 162 "
	         "needs CAP_NET_BIND_SERVICE, which the systemd unit grants). "
	         "Empty: no receiver." },
	{ CFG_STRINGS(T, communities), .flags = CFG_F_SECRET,
	  .doc = "Communities accepted from SNMPv1/v2c notifications; others are "
	         "dropped and counted. Empty: v1/v2c notifications are dropped." },
	{ CFG_STRINGS(T, credentials),
	  .doc = "[credential] names of version 3 whose USM users may send "
	         "traps and informs (informs are answered with this agent's own "
	         "engine ID, kept in state_dir)." },
	{ CFG_INT(T, rate), .def = "1000", .min = 1, .max = 1000000,
	  .doc = "Notifications per second accepted from one source address "
	         "(a token bucket with a burst of one second); the rest are "
	         "dropped and counted." },
	{ CFG_INT(T, queue_max), .def = "4096", .min = 16, .max = 1000000,
	  .doc = "Notifications that may wait to be read: sizes the socket's "
	         "receive buffer (1 KiB each, within the kernel's limit); what "
	         "overflows it is counted in dropped_events." },
};
#undef T

static void
cfg_traps_check(const void *obj, struct cfg_report *r)
{
	const struct config_traps *t = obj;
	struct sockaddr_storage ss;
	unsigned sl;
	char err[256];

	if (t->listen.count > 16)
		cfg_reportf(r, "listen", "listen takes at most 16 addresses");
	for (size_t i = 0; i < t->listen.count; i++)
		if (config_udp_endpoint(t->listen.items[i], &ss, &sl, err,
		    sizeof(err)) == -1)
			cfg_reportf(r, "listen", "listen: %s", err);
	for (size_t i = 0; i < t->communities.count; i++)
		if (strlen(t->communities.items[i]) > 255)
			cfg_reportf(r, "communities", "communities: one is longer "
			    "than 255 characters");
	if (t->listen.count > 0 && t->communities.count == 0 &&
	    t->credentials.count == 0)
		cfg_reportf(r, "listen", "listen is set but neither communities nor "
		    "credentials: every notification would be dropped");
}

/* ---- [profile NAME] ------------------------------------------------ */

#define PR struct config_profile
static const struct cfg_key profile_keys[] = {
	{ CFG_STRINGS(PR, scalars),
	  .doc = "Scalar OIDs to GET (numeric, or built-in names like sysUpTime.0)." },
	{ CFG_STRINGS(PR, columns),
	  .doc = "Table column OIDs to walk; rows are keyed by instance." },
	{ CFG_STRINGS(PR, labels),
	  .doc = "Label columns, walked every label_interval only." },
};
#undef PR

static void
cfg_profile_check(const void *obj, struct cfg_report *r)
{
	const struct config_profile *p = obj;

	if (p->scalars.count + p->columns.count + p->labels.count == 0)
		cfg_reportf(r, NULL, "a profile needs scalars, columns or labels");
	if (p->name && config_builtin_profile_find(p->name) != NULL)
		cfg_reportf(r, NULL, "'%s' is a built-in profile; pick another name",
		    p->name);
}

static void
cfg_upload_check(const void *obj, struct cfg_report *r)
{
	const struct config_upload *u = obj;

	/* Otherwise a new batch could push out the one before it at once. */
	if (u->batch_max_bytes > u->spool_max_bytes / 2)
		cfg_reportf(r, "batch_max_bytes", "batch_max_bytes must be at most "
		    "half of spool_max_bytes");
}

/* ---- [credential NAME] --------------------------------------------- */

#define C struct config_credential
static const struct cfg_key cred_keys[] = {
	{ CFG_ENUM(C, version, cfg_versions), .def = "2c",
	  .doc = "SNMP version." },
	{ CFG_STRING(C, community), .flags = CFG_F_SECRET,
	  .doc = "Community string; versions 1 and 2c only, and required there." },
	{ CFG_STRING(C, user),
	  .doc = "USM user name (1-32 characters); version 3 only, and required there." },
	{ CFG_ENUM(C, level, cfg_levels), .def = "authPriv",
	  .doc = "Version 3 security level; the default is the safe one." },
	{ CFG_ENUM(C, auth_protocol, cfg_auths), .def = "SHA",
	  .doc = "Version 3 authentication protocol (SHA is SHA-1)." },
	{ CFG_STRING(C, auth_password), .flags = CFG_F_SECRET,
	  .doc = "Version 3 authentication passphrase, at least 8 characters; "
	         "needed for authNoPriv and authPriv." },
	{ CFG_ENUM(C, priv_protocol, cfg_privs), .def = "AES",
	  .doc = "Version 3 privacy protocol (AES is AES-128; -C: Cisco key extension)." },
	{ CFG_STRING(C, priv_password), .flags = CFG_F_SECRET,
	  .doc = "Version 3 privacy passphrase, at least 8 characters; "
	         "needed for authPriv." },
	{ CFG_STRING(C, context),
	  .doc = "Version 3 context name (0-32 characters), for devices that "
	         "serve several MIB instances (net-snmp's -n). Empty: the "
	         "default context." },
};
#undef C

/* RFC 3414 2.6: a passphrase shorter than 8 octets is refused. */
#define USM_MIN_PASSWORD 8
/* RFC 3414 usmUserName: SnmpAdminString (SIZE(1..32)). */
#define USM_MAX_USER     32
/* RFC 3411 contextName: SnmpAdminString (SIZE(0..32)). */
#define SNMP_MAX_CONTEXT 32

static void
cfg_cred_password(struct cfg_report *r, const char *key, const char *pw,
    const char *level)
{
	if (pw == NULL)
		cfg_reportf(r, key, "level %s needs %s", level, key);
	else if (strlen(pw) < USM_MIN_PASSWORD)
		cfg_reportf(r, key, "%s must be at least %d characters (RFC 3414)",
		    key, USM_MIN_PASSWORD);
}

static void
cfg_cred_check(const void *obj, struct cfg_report *r)
{
	static const char *const v3_only[] = {
		"user", "level", "auth_protocol", "auth_password",
		"priv_protocol", "priv_password", "context",
	};
	const struct config_credential *c = obj;
	const char *vname = config_version_name(c->version);

	if (c->version != CFG_SNMP_V3) {
		if (c->community == NULL)
			cfg_reportf(r, NULL, "version %s needs community", vname);
		/* Explicit settings only: the enums always hold a default. */
		for (size_t i = 0; i < countof(v3_only); i++)
			if (cfg_was_set(r, v3_only[i]))
				cfg_reportf(r, v3_only[i], "%s is for version 3 only, "
				    "not version %s", v3_only[i], vname);
		if (r->set_line == NULL && (c->user || c->auth_password ||
		    c->priv_password))
			cfg_reportf(r, NULL, "user and passwords are for version 3 "
			    "only, not version %s", vname);
		if (r->set_line == NULL && c->context)
			cfg_reportf(r, NULL, "context is for version 3 only, not "
			    "version %s", vname);
		return;
	}
	if (c->community)
		cfg_reportf(r, "community", "community is for versions 1 and 2c, "
		    "not version 3 (use user and passwords)");
	if (c->user == NULL)
		cfg_reportf(r, NULL, "version 3 needs user");
	else if (strlen(c->user) > USM_MAX_USER)
		cfg_reportf(r, "user", "user must be at most %d characters "
		    "(RFC 3414)", USM_MAX_USER);
	if (c->context && strlen(c->context) > SNMP_MAX_CONTEXT)
		cfg_reportf(r, "context", "context must be at most %d characters "
		    "(RFC 3411)", SNMP_MAX_CONTEXT);
	if (c->level == CFG_AUTH_NOPRIV || c->level == CFG_AUTH_PRIV)
		cfg_cred_password(r, "auth_password", c->auth_password,
		    config_level_name(c->level));
	if (c->level == CFG_AUTH_PRIV)
		cfg_cred_password(r, "priv_password", c->priv_password,
		    config_level_name(c->level));
}

/* ---- the file ------------------------------------------------------- */

#define R struct config
static const struct cfg_section cfg_sections[] = {
	{ CFG_SECTION(R, "agent", struct config_agent, agent, agent_keys),
	  .doc = "How the agent itself runs." },
	{ CFG_SECTION(R, "server", struct config_server, server, server_keys),
	  .check = cfg_server_check,
	  .doc = "The hub: commands arrive by long poll, results leave as "
	         "compressed batches (docs/protocol.md)." },
	{ CFG_SECTION(R, "upload", struct config_upload, upload, upload_keys),
	  .check = cfg_upload_check,
	  .doc = "Result batches and the durable on-disk spool in state_dir." },
	{ CFG_SECTION(R, "policy", struct config_policy, policy, policy_keys),
	  .check = cfg_policy_check,
	  .doc = "Local limits on what the hub's commands may do: the cloud never "
	         "reaches further into this network than this section allows." },
	{ CFG_SECTION(R, "scan", struct config_scan, scan, scan_keys),
	  .doc = "Scheduled discovery; the inventory is kept in state_dir and "
	         "sent to the hub at start and when it changes." },
	{ CFG_SECTION(R, "poll", struct config_poll, poll, poll_keys),
	  .doc = "Scheduled polling of every discovered device." },
	{ CFG_SECTION(R, "traps", struct config_traps, traps, traps_keys),
	  .check = cfg_traps_check,
	  .doc = "SNMP notifications (v1 and v2c traps, v3 traps and informs) "
	         "received on the agent's loop and sent to the hub as events "
	         "(docs/protocol.md). A file with communities must be chmod 600." },
	{ CFG_NAMED_SECTION(R, "profile", struct config_profile, profiles,
	      nprofiles, profile_keys),
	  .check = cfg_profile_check, .builtin_profiles = true,
	  .doc = "A user profile for [poll] profiles: scalars and table columns. "
	         "Its columns form one table in a sample, named after the profile; "
	         "the name must not be a built-in profile's.",
	  .example =
	    "[profile ups]\n"
	    "scalars = 1.3.6.1.2.1.33.1.2.4.0 1.3.6.1.2.1.33.1.2.3.0\n"
	    "columns = 1.3.6.1.2.1.33.1.4.4.1.4\n"
	    "\n"
	    "[profile ip-stats]\n"
	    "scalars = 1.3.6.1.2.1.4.3.0 1.3.6.1.2.1.4.10.0\n" },
	{ CFG_NAMED_SECTION(R, "credential", struct config_credential, creds,
	      ncreds, cred_keys),
	  .check = cfg_cred_check,
	  .doc = "SNMP credentials, referred to by NAME elsewhere. A file that "
	         "holds a community or password must be chmod 600.",
	  .example =
	    "[credential public-v2c]\n"
	    "version = 2c\n"
	    "community = public\n"
	    "\n"
	    "[credential legacy-v1]\n"
	    "version = 1\n"
	    "community = public\n"
	    "\n"
	    "[credential ops-v3]\n"
	    "version = 3\n"
	    "user = outpost\n"
	    "level = authPriv\n"
	    "auth_protocol = SHA-256\n"
	    "auth_password = change-me-auth\n"
	    "priv_protocol = AES\n"
	    "priv_password = change-me-priv\n"
	    "\n"
	    "[credential auth-only-v3]\n"
	    "version = 3\n"
	    "user = monitor\n"
	    "level = authNoPriv\n"
	    "auth_protocol = SHA-512\n"
	    "auth_password = change-me-auth\n"
	    "\n"
	    "[credential noauth-v3]\n"
	    "version = 3\n"
	    "user = public\n"
	    "level = noAuthNoPriv\n" },
};
#undef R

const struct cfg_schema cfg_schema = { cfg_sections, countof(cfg_sections) };

static const struct cfg_section *
cfg_cred_section(void)
{
	for (size_t i = 0; i < countof(cfg_sections); i++)
		if (cfg_sections[i].keys == cred_keys)
			return &cfg_sections[i];
	return NULL;
}

/* ---- the credential API for the CLI --------------------------------- */

struct cfg_joined {
	struct cfg_report r;
	char  *buf;
	size_t len, used;
};

static void
cfg_join(struct cfg_report *r, const char *key, const char *msg)
{
	struct cfg_joined *j = (struct cfg_joined *)r;
	int n;

	if (j->len == 0 || j->used >= j->len)
		return;
	n = snprintf(j->buf + j->used, j->len - j->used, "%s%s",
	    j->used ? "; " : "", msg);
	if (n > 0)
		j->used += (size_t)n;
}

int
config_credential_check(const struct config_credential *c, char *err,
    size_t errlen)
{
	struct cfg_joined j = {
		.r = { .emit = cfg_join, .sec = cfg_cred_section() },
		.buf = err, .len = errlen,
	};

	if (errlen)
		err[0] = '\0';
	cfg_cred_check(c, &j.r);
	return j.r.count ? -1 : 0;
}

void
config_credential_defaults(struct config_credential *c)
{
	memset(c, 0, sizeof(*c));
	cfg_obj_defaults(cfg_cred_section(), c);
}

void
config_credential_clear(struct config_credential *c)
{
	cfg_obj_free(cfg_cred_section(), c);
}

const struct config_credential *
config_credential_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ncreds; i++)
		if (strcmp(cfg->creds[i].name, name) == 0)
			return &cfg->creds[i];
	return NULL;
}

int config_parse_version(const char *s) { return cfg_enum_parse(cfg_versions, s); }
int config_parse_level(const char *s)   { return cfg_enum_parse(cfg_levels, s); }
int config_parse_auth(const char *s)    { return cfg_enum_parse(cfg_auths, s); }
int config_parse_priv(const char *s)    { return cfg_enum_parse(cfg_privs, s); }
const char *config_version_name(int v)  { return cfg_enum_name(cfg_versions, v); }
const char *config_level_name(int v)    { return cfg_enum_name(cfg_levels, v); }
const char *config_auth_name(int v)     { return cfg_enum_name(cfg_auths, v); }
const char *config_priv_name(int v)     { return cfg_enum_name(cfg_privs, v); }

int
config_set(struct config *cfg, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < countof(cfg_sections); i++) {
		const struct cfg_section *sec = &cfg_sections[i];

		if (sec->named || strcmp(sec->name, section) != 0)
			continue;
		for (size_t k = 0; k < sec->nkeys; k++)
			if (strcmp(sec->keys[k].name, key) == 0)
				return cfg_value_set(&sec->keys[k],
				    (char *)cfg + sec->obj_off, value, err, errlen);
	}
	snprintf(err, errlen, "no key '%s' in [%s]", key, section);
	return -1;
}
