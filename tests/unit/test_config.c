/*
 * config: what a user relies on when writing outpost.ini. Every test
 * writes its file into a fresh temporary directory (unit_tmpdir).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_int.h"
#include "tests/unit/unit_util.h"

static char tmpdir[200];
static char path[256];
static int file_seq;

/* Write text to a new file with mode; path holds its name. */
static const char *
write_file(const char *text, unsigned mode)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/t%d.ini", tmpdir, ++file_seq);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(unit_file_mode(path, mode), 0);
	return path;
}

static int
load(const char *text, unsigned mode, struct config **cfg, struct config_errors *errs)
{
	return config_load(write_file(text, mode), cfg, errs);
}

/* Some message is exactly "PATH:LINE: ..." and contains want. */
static void
expect_error(const struct config_errors *errs, int line, const char *want)
{
	char prefix[300];

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	for (size_t i = 0; i < errs->count; i++)
		if (strncmp(errs->msgs[i], prefix, strlen(prefix)) == 0 &&
		    strstr(errs->msgs[i], want))
			return;
	for (size_t i = 0; i < errs->count; i++)
		print_message("  got: %s\n", errs->msgs[i]);
	fail_msg("no error '%s%s'", prefix, want);
}

/* The file is rejected with exactly one error, at line, containing want. */
static void
expect_only_error(const char *text, int line, const char *want)
{
	struct config_errors errs;
	struct config *cfg;

	assert_int_equal(load(text, 0600, &cfg, &errs), -1);
	assert_null(cfg);
	expect_error(&errs, line, want);
	if (errs.count != 1) {
		for (size_t i = 0; i < errs.count; i++)
			print_message("  got: %s\n", errs.msgs[i]);
		fail_msg("expected 1 error, got %zu", errs.count);
	}
	config_errors_free(&errs);
}

static struct config *
expect_ok(const char *text, unsigned mode)
{
	struct config_errors errs;
	struct config *cfg;

	if (load(text, mode, &cfg, &errs) != 0) {
		for (size_t i = 0; i < errs.count; i++)
			print_message("  got: %s\n", errs.msgs[i]);
		fail_msg("config rejected");
	}
	assert_int_equal(errs.count, 0);
	config_errors_free(&errs);
	return cfg;
}

/* ---- a test-only section with a key of every type ------------------ */

struct tsec {
	char                 *name;
	char                 *label;
	int                   count;
	bool                  flag;
	uint64_t              timeout;
	uint64_t              buffer;
	int                   mode;
	struct config_addrs   allow;
	struct config_strings tags;
	char                 *token;
};
struct troot {
	struct tsec  one;
	struct tsec *many;
	size_t       nmany;
};

static const struct cfg_enum tmodes[] = {
	{ "fast", 1, false }, { "slow", 2, false }, { NULL, 0, false },
};

#define T struct tsec
static const struct cfg_key tkeys[] = {
	{ CFG_STRING(T, label), .flags = CFG_F_REQUIRED, .doc = "required" },
	{ CFG_INT(T, count), .def = "5", .min = 1, .max = 100, .doc = "int" },
	{ CFG_BOOL(T, flag), .def = "no", .doc = "bool" },
	{ CFG_DURATION(T, timeout), .def = "30s", .min = 1000, .max = 3600000,
	  .doc = "duration" },
	{ CFG_SIZE(T, buffer), .def = "64KB", .min = 1024, .max = 1 << 30,
	  .doc = "size" },
	{ CFG_ENUM(T, mode, tmodes), .def = "fast", .doc = "enum" },
	{ CFG_ADDRS(T, allow), .def = "127.0.0.1", .doc = "addresses" },
	{ CFG_STRINGS(T, tags), .doc = "strings" },
	{ CFG_STRING(T, token), .flags = CFG_F_SECRET, .doc = "secret" },
};
#undef T

static const struct cfg_section tsections[] = {
	{ CFG_SECTION(struct troot, "one", struct tsec, one, tkeys), .doc = "one" },
	{ CFG_NAMED_SECTION(struct troot, "many", struct tsec, many, nmany, tkeys),
	  .doc = "many" },
};
static const struct cfg_schema tschema = { tsections, countof(tsections) };

static int
tload(const char *text, struct troot *root, struct config_errors *errs)
{
	memset(root, 0, sizeof(*root));
	memset(errs, 0, sizeof(*errs));
	cfg_root_defaults(&tschema, root);
	return cfg_load_schema(write_file(text, 0600), &tschema, root, errs);
}

static void
tfree(struct troot *root, struct config_errors *errs)
{
	cfg_root_free(&tschema, root);
	config_errors_free(errs);
}

/* The test section's file with one key line added at line 3. */
static void
texpect_bad(const char *line, const char *want)
{
	struct config_errors errs;
	struct troot root;
	char text[512];

	snprintf(text, sizeof(text), "[one]\nlabel = x\n%s\n", line);
	assert_int_equal(tload(text, &root, &errs), -1);
	expect_error(&errs, 3, want);
	assert_int_equal(errs.count, 1);
	tfree(&root, &errs);
}

/* ---- values --------------------------------------------------------- */

static void
test_every_value_type_parses(void **state)
{
	struct config_errors errs;
	struct troot root;

	assert_int_equal(tload("[one]\n"
	    "label = hello world\n"
	    "count = 100\n"
	    "flag = On\n"
	    "timeout = 5m\n"
	    "buffer = 256MB\n"
	    "mode = SLOW\n"
	    "allow = 10.0.0.0/24, 192.168.1.1-192.168.1.20 ::1\n"
	    "tags = a,b  c\n"
	    "token = s3cret\n", &root, &errs), 0);
	assert_string_equal(root.one.label, "hello world");
	assert_int_equal(root.one.count, 100);
	assert_true(root.one.flag);
	assert_int_equal(root.one.timeout, 300000);
	assert_int_equal(root.one.buffer, 256u << 20);
	assert_int_equal(root.one.mode, 2);
	assert_int_equal(root.one.allow.count, 3);
	assert_int_equal(root.one.allow.ranges[0].first, 0x0a000000);
	assert_int_equal(root.one.allow.ranges[0].last, 0x0a0000ff);
	assert_int_equal(root.one.allow.ranges[2].family, AF_INET6);
	assert_int_equal(root.one.tags.count, 3);
	assert_string_equal(root.one.tags.items[2], "c");
	assert_string_equal(root.one.token, "s3cret");
	tfree(&root, &errs);
}

static void
test_every_boolean_spelling_is_accepted(void **state)
{
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE" };
	static const char *const no[] = { "false", "no", "off", "0", "Off" };
	struct config_errors errs;
	struct troot root;
	char text[128];

	for (size_t i = 0; i < countof(yes); i++) {
		snprintf(text, sizeof(text), "[one]\nlabel=x\nflag = %s\n", yes[i]);
		assert_int_equal(tload(text, &root, &errs), 0);
		assert_true(root.one.flag);
		tfree(&root, &errs);
		snprintf(text, sizeof(text), "[one]\nlabel=x\nflag = %s\n", no[i]);
		assert_int_equal(tload(text, &root, &errs), 0);
		assert_false(root.one.flag);
		tfree(&root, &errs);
	}
}

static void
test_defaults_of_every_type_apply(void **state)
{
	struct config_errors errs;
	struct troot root;

	assert_int_equal(tload("[one]\nlabel = x\n", &root, &errs), 0);
	assert_int_equal(root.one.count, 5);
	assert_false(root.one.flag);
	assert_int_equal(root.one.timeout, 30000);
	assert_int_equal(root.one.buffer, 65536);
	assert_int_equal(root.one.mode, 1);
	assert_int_equal(root.one.allow.count, 1);
	assert_int_equal(root.one.tags.count, 0);
	assert_null(root.one.token);
	tfree(&root, &errs);
}

static void
test_bad_values_are_reported_with_their_line(void **state)
{
	texpect_bad("timeout = 5x", "timeout: '5x' is not a duration");
	texpect_bad("timeout = 2h", "timeout: 2h is out of range (1s..1h)");
	texpect_bad("buffer = 12QB", "buffer: '12QB' is not a size");
	texpect_bad("buffer = 2GB", "buffer: 2GB is out of range (1KB..1GB)");
	texpect_bad("count = 101", "count: '101' is not an integer in 1..100");
	texpect_bad("count = 0", "count: '0' is not an integer in 1..100");
	texpect_bad("count = 12abc", "count: '12abc' is not an integer");
	texpect_bad("flag = maybe", "flag: 'maybe' is not a boolean");
	texpect_bad("mode = medium", "mode: 'medium' is not one of: fast, slow");
	texpect_bad("allow = 10.0.0.1, 10.0.0.0/33", "allow: bad address '10.0.0.0/33'");
	texpect_bad("label2 = x", "unknown key 'label2' in [one]");
}

static void
test_a_bad_list_item_keeps_the_default(void **state)
{
	struct config_errors errs;
	struct troot root;

	assert_int_equal(tload("[one]\nlabel = x\nallow = 10.0.0.1 nope\n",
	    &root, &errs), -1);
	expect_error(&errs, 3, "bad address 'nope'");
	assert_int_equal(root.one.allow.count, 1);   /* 127.0.0.1 */
	tfree(&root, &errs);
}

static void
test_missing_required_key_points_at_the_section_header(void **state)
{
	struct config_errors errs;
	struct troot root;

	assert_int_equal(tload("[one]\nlabel = x\n\n[many a]\ncount = 3\n"
	    "[many b]\n", &root, &errs), -1);
	expect_error(&errs, 4, "[many a] missing required key 'label'");
	expect_error(&errs, 6, "[many b] missing required key 'label'");
	assert_int_equal(errs.count, 2);
	tfree(&root, &errs);
}

static void
test_named_sections_are_kept_in_file_order(void **state)
{
	struct config_errors errs;
	struct troot root;

	assert_int_equal(tload("[many b]\nlabel = 1\n[one]\nlabel = x\n"
	    "[many a]\nlabel = 2\ncount = 7\n", &root, &errs), 0);
	assert_int_equal(root.nmany, 2);
	assert_string_equal(root.many[0].name, "b");
	assert_string_equal(root.many[1].name, "a");
	assert_int_equal(root.many[0].count, 5);
	assert_int_equal(root.many[1].count, 7);
	tfree(&root, &errs);
}

/* ---- the real sections ---------------------------------------------- */

static const char full_ini[] =
	"; Outpost\n"
	"# full file\n"
	"[agent]\n"
	"state_dir = /srv/outpost\n"
	"log_level = debug\n"
	"\n"
	"[credential v1]\n"
	"version = 1\n"
	"community = old-public\n"
	"\n"
	"[credential lab]\n"
	"version = 2c\n"
	"community = pub;lic#1\n"
	"\n"
	"[credential core_v3.a-1]\n"
	"version = 3\n"
	"user = outpost\n"
	"level = authPriv\n"
	"auth_protocol = SHA-512\n"
	"auth_password = auth-pass-1\n"
	"priv_protocol = AES-256\n"
	"priv_password = priv-pass-1\n"
	"\n"
	"[credential auth]\n"
	"version = 3\n"
	"user = mon\n"
	"level = authNoPriv\n"
	"auth_protocol = md5\n"
	"auth_password = 12345678\n"
	"\n"
	"[credential none]\n"
	"version = 3\n"
	"user = guest\n"
	"level = noAuthNoPriv\n";

static void
test_full_file_round_trips(void **state)
{
	struct config *cfg = expect_ok(full_ini, 0600);
	const struct config_credential *c;

	assert_string_equal(cfg->path, path);
	assert_string_equal(cfg->agent.state_dir, "/srv/outpost");
	assert_int_equal(cfg->agent.log_level, LOG_LVL_DEBUG);
	assert_int_equal(cfg->ncreds, 5);

	c = config_credential_find(cfg, "v1");
	assert_non_null(c);
	assert_int_equal(c->version, CFG_SNMP_V1);
	assert_string_equal(c->community, "old-public");

	c = config_credential_find(cfg, "lab");
	assert_non_null(c);
	assert_int_equal(c->version, CFG_SNMP_V2C);
	assert_string_equal(c->community, "pub;lic#1");
	assert_null(c->user);

	c = config_credential_find(cfg, "core_v3.a-1");
	assert_non_null(c);
	assert_string_equal(c->name, "core_v3.a-1");
	assert_int_equal(c->version, CFG_SNMP_V3);
	assert_string_equal(c->user, "outpost");
	assert_int_equal(c->level, CFG_AUTH_PRIV);
	assert_int_equal(c->auth_protocol, CFG_AUTH_SHA512);
	assert_string_equal(c->auth_password, "auth-pass-1");
	assert_int_equal(c->priv_protocol, CFG_PRIV_AES256);
	assert_string_equal(c->priv_password, "priv-pass-1");
	assert_null(c->community);

	c = config_credential_find(cfg, "auth");
	assert_int_equal(c->level, CFG_AUTH_NOPRIV);
	assert_int_equal(c->auth_protocol, CFG_AUTH_MD5);

	c = config_credential_find(cfg, "none");
	assert_int_equal(c->level, CFG_NOAUTH_NOPRIV);
	assert_null(config_credential_find(cfg, "nope"));
	config_free(cfg);
}

/* The default state_dir as the agent uses it: on Windows under
 * %ProgramData% as the environment says, wherever that is. */
static const char *
default_state_dir(void)
{
#ifdef _WIN32
	static char want[MAX_PATH + 32];
	char pd[MAX_PATH];
	DWORD n = GetEnvironmentVariableA("ProgramData", pd, sizeof(pd));

	assert_true(n > 0 && n < sizeof(pd));
	snprintf(want, sizeof(want), "%s\\Outpost\\state", pd);
	return want;
#else
	return "/var/lib/outpost";
#endif
}

static void
test_missing_keys_take_documented_defaults(void **state)
{
	struct config *cfg = expect_ok("[credential v2]\ncommunity = public\n"
	    "[credential v3]\nversion = 3\nuser = u\nauth_password = 12345678\n"
	    "priv_password = 87654321\n", 0600);
	const struct config_credential *c;

	assert_string_equal(cfg->agent.state_dir, default_state_dir());
	assert_int_equal(cfg->agent.log_level, LOG_LVL_INFO);
	c = config_credential_find(cfg, "v2");
	assert_int_equal(c->version, CFG_SNMP_V2C);
	c = config_credential_find(cfg, "v3");
	assert_int_equal(c->level, CFG_AUTH_PRIV);
	assert_int_equal(c->auth_protocol, CFG_AUTH_SHA);
	assert_int_equal(c->priv_protocol, CFG_PRIV_AES);
	config_free(cfg);
}

static void
test_an_empty_file_is_valid(void **state)
{
	struct config *cfg = expect_ok("", 0644);

	assert_int_equal(cfg->ncreds, 0);
	assert_string_equal(cfg->agent.state_dir, default_state_dir());
	config_free(cfg);
}

/*
 * Windows: state_dir's default follows %ProgramData% (not always C:),
 * and a configured state_dir may name variables. Elsewhere a '%' is
 * just a character of the path.
 */
static void
test_state_dir_expands_program_data_on_windows(void **state)
{
	struct config *cfg;

#ifdef _WIN32
	char old[MAX_PATH];
	DWORD n = GetEnvironmentVariableA("ProgramData", old, sizeof(old));

	assert_true(n > 0 && n < sizeof(old));
	assert_true(SetEnvironmentVariableA("ProgramData", "D:\\Data"));
	cfg = expect_ok("", 0600);
	assert_string_equal(cfg->agent.state_dir, "D:\\Data\\Outpost\\state");
	config_free(cfg);
	cfg = config_new_defaults();
	assert_string_equal(cfg->agent.state_dir, "D:\\Data\\Outpost\\state");
	config_free(cfg);
	cfg = expect_ok("[agent]\nstate_dir = %ProgramData%\\O2\n", 0600);
	assert_string_equal(cfg->agent.state_dir, "D:\\Data\\O2");
	config_free(cfg);
	assert_true(SetEnvironmentVariableA("ProgramData", old));
#else
	cfg = expect_ok("[agent]\nstate_dir = /srv/%ProgramData%\n", 0600);
	assert_string_equal(cfg->agent.state_dir, "/srv/%ProgramData%");
	config_free(cfg);
#endif
}

static void
test_comments_separators_and_line_endings(void **state)
{
	struct config *cfg = expect_ok("\xEF\xBB\xBF[agent] ; the agent\r\n"
	    "state_dir: /a b ; where it lives\r\n"
	    "log_level=warn\r\n", 0644);

	assert_string_equal(cfg->agent.state_dir, "/a b");
	assert_int_equal(cfg->agent.log_level, LOG_LVL_WARN);
	config_free(cfg);
}

static void
test_bad_enum_lists_the_allowed_values(void **state)
{
	expect_only_error("[agent]\nlog_level = loud\n", 2,
	    "log_level: 'loud' is not one of: error, warn, info, debug");
	expect_only_error("[credential x]\nversion = 2\ncommunity = c\n", 2,
	    "version: '2' is not one of: 1, 2c, 3");
}

static void
test_empty_string_value_is_an_error(void **state)
{
	expect_only_error("[agent]\nstate_dir =\n", 2, "state_dir: empty value");
}

static void
test_unknown_section_is_one_error_and_its_keys_are_skipped(void **state)
{
	expect_only_error("[agent]\n[servre]\nurl = x\nport = 1\n", 2,
	    "unknown section [servre]");
}

static void
test_unknown_key(void **state)
{
	expect_only_error("[agent]\nstate_dri = /x\n", 2,
	    "unknown key 'state_dri' in [agent]");
}

static void
test_duplicate_key_names_the_first_line(void **state)
{
	expect_only_error("[agent]\nlog_level = info\n\nlog_level = debug\n", 4,
	    "duplicate key 'log_level' (first on line 2)");
}

static void
test_duplicate_section(void **state)
{
	expect_only_error("[agent]\n[agent]\n", 2,
	    "duplicate section [agent] (first on line 1)");
	expect_only_error("[agent x]\n", 1, "[agent] takes no name");
}

static void
test_duplicate_credential_name(void **state)
{
	expect_only_error("[credential a]\ncommunity = x\n"
	    "[credential a]\ncommunity = y\n", 3,
	    "duplicate credential 'a' (first on line 1)");
}

static void
test_credential_needs_a_valid_name(void **state)
{
	char text[200];

	expect_only_error("[credential]\ncommunity = x\n", 1,
	    "[credential] needs a name: [credential NAME]");
	expect_only_error("[credential a/b]\ncommunity = x\n", 1,
	    "credential name 'a/b' is invalid");
	expect_only_error("[credential a b]\ncommunity = x\n", 1,
	    "credential name 'a b' is invalid");
	snprintf(text, sizeof(text), "[credential %064d]\ncommunity = x\n", 1);
	expect_only_error(text, 1, "is invalid: use 1-63 characters");
	snprintf(text, sizeof(text), "[credential %063d]\ncommunity = x\n", 1);
	config_free(expect_ok(text, 0600));
}

static void
test_syntax_errors_are_each_reported(void **state)
{
	char text[400];

	expect_only_error("[agent]\nstate_dir /x\n", 2, "expected 'key = value'");
	expect_only_error("[agent]\n= /x\n", 2, "missing key name");
	expect_only_error("[agent\nstate_dir = /x\n", 1, "section header without ']'");
	expect_only_error("[agent] x\n", 1, "unexpected text after ']'");
	expect_only_error("state_dir = /x\n", 1, "'state_dir' is not in a section");
	expect_only_error("[agent]\nlog_level = info\n  state_dir = /x\n", 3,
	    "indented line");
	snprintf(text, sizeof(text), "[agent]\nstate_dir = /%0300d\n", 0);
	expect_only_error(text, 2, "line is longer than");
}

/* ---- credentials: rules across keys ---------------------------------- */

static void
test_v3_needs_a_user(void **state)
{
	expect_only_error("[agent]\n\n[credential c]\nversion = 3\n"
	    "level = noAuthNoPriv\n", 3, "[credential c] version 3 needs user");
}

static void
test_authpriv_needs_priv_password(void **state)
{
	expect_only_error("[credential c]\nversion = 3\nuser = u\n"
	    "auth_password = 12345678\n", 1,
	    "[credential c] level authPriv needs priv_password");
	expect_only_error("[credential c]\nversion = 3\nuser = u\n"
	    "level = authNoPriv\n", 1,
	    "[credential c] level authNoPriv needs auth_password");
}

static void
test_passwords_shorter_than_8_are_refused(void **state)
{
	expect_only_error("[credential c]\nversion = 3\nuser = u\n"
	    "auth_password = 1234567\npriv_password = 12345678\n", 4,
	    "auth_password must be at least 8 characters");
	expect_only_error("[credential c]\nversion = 3\nuser = u\n"
	    "auth_password = 12345678\npriv_password = short\n", 5,
	    "priv_password must be at least 8 characters");
}

static void
test_community_is_refused_on_v3(void **state)
{
	expect_only_error("[credential c]\nversion = 3\nuser = u\nlevel = "
	    "noAuthNoPriv\ncommunity = public\n", 5,
	    "community is for versions 1 and 2c, not version 3");
}

static void
test_v2c_needs_community_and_no_v3_keys(void **state)
{
	expect_only_error("[credential c]\nversion = 2c\n", 1,
	    "version 2c needs community");
	expect_only_error("[credential c]\ncommunity = x\nlevel = authPriv\n", 3,
	    "level is for version 3 only, not version 2c");
	expect_only_error("[credential c]\nversion = 1\ncommunity = x\nuser = u\n",
	    4, "user is for version 3 only, not version 1");
}

static void
test_user_longer_than_32_is_refused(void **state)
{
	expect_only_error("[credential c]\nversion = 3\nlevel = noAuthNoPriv\n"
	    "user = 123456789012345678901234567890123\n", 4,
	    "user must be at most 32 characters");
}

static void
test_error_messages_never_quote_secrets(void **state)
{
	struct config_errors errs;
	struct config *cfg;

	assert_int_equal(load("[credential c]\nversion = 3\nuser = u\n"
	    "community = topsecret-c\nauth_password = tiny\n"
	    "priv_password = wee\n", 0644, &cfg, &errs), -1);
	assert_int_equal(errs.count, 4);
	for (size_t i = 0; i < errs.count; i++) {
		assert_null(strstr(errs.msgs[i], "topsecret-c"));
		assert_null(strstr(errs.msgs[i], "tiny"));
		assert_null(strstr(errs.msgs[i], "wee"));
	}
	config_errors_free(&errs);
}

/* ---- collecting errors ------------------------------------------------ */

static void
test_every_error_is_collected_with_file_and_line(void **state)
{
	struct config_errors errs;
	struct config *cfg;

	assert_int_equal(load("[agent]\n"
	    "log_level = loud\n"
	    "colour = blue\n"
	    "[credential c]\n"
	    "version = 2c\n"
	    "version = 3\n"
	    "community = x\n", 0600, &cfg, &errs), -1);
	assert_null(cfg);
	assert_int_equal(errs.count, 3);
	expect_error(&errs, 2, "log_level");
	expect_error(&errs, 3, "unknown key 'colour'");
	expect_error(&errs, 6, "duplicate key 'version'");
	config_errors_free(&errs);
}

static void
test_errors_stop_at_the_cap(void **state)
{
	struct config_errors errs;
	struct config *cfg;
	char *text = xcalloc(200, 16);

	strcpy(text, "[agent]\n");
	for (int i = 0; i < 150; i++)
		sprintf(text + strlen(text), "k%d = 1\n", i);
	assert_int_equal(load(text, 0600, &cfg, &errs), -1);
	assert_int_equal(errs.count, CONFIG_MAX_ERRORS + 1);
	expect_error(&errs, 0, "too many errors");
	config_errors_free(&errs);
	free(text);
}

static void
test_missing_file_is_one_clear_error(void **state)
{
	struct config_errors errs;
	struct config *cfg;

	snprintf(path, sizeof(path), "%s/does-not-exist.ini", tmpdir);
	assert_int_equal(config_load(path, &cfg, &errs), -1);
	assert_null(cfg);
	assert_int_equal(errs.count, 1);
	expect_error(&errs, 0, "cannot open: No such file or directory");
	config_errors_free(&errs);

	snprintf(path, sizeof(path), "%s", tmpdir);
	assert_int_equal(config_load(path, &cfg, &errs), -1);
	expect_error(&errs, 0, "not a regular file");
	config_errors_free(&errs);
}

/* ---- secrets and file modes ------------------------------------------ */

static const char secret_ini[] = "[credential c]\ncommunity = s3cret\n";

static void
test_secrets_in_a_readable_file_are_refused_with_the_fix(void **state)
{
	struct config_errors errs;
	struct config *cfg;
	char want[700];

	assert_int_equal(load(secret_ini, 0644, &cfg, &errs), -1);
	assert_int_equal(errs.count, 1);
#ifdef _WIN32
	/* The ACL check (platform_win.c): who can read it, and the icacls
	 * command that makes it private, on the file's own name. */
	snprintf(want, sizeof(want), "%s: holds SNMP secrets but is readable by ",
	    path);
	assert_memory_equal(errs.msgs[0], want, strlen(want));
	assert_non_null(strstr(errs.msgs[0], "Everyone"));
	snprintf(want, sizeof(want), "; fix: icacls \"%s\" /inheritance:r "
	    "/grant:r *S-1-5-32-544:F *S-1-5-18:F", path);
	assert_non_null(strstr(errs.msgs[0], want));
	config_errors_free(&errs);
	assert_int_equal(load(secret_ini, 0640, &cfg, &errs), -1);
	expect_error(&errs, 0, "; fix: icacls");
	config_errors_free(&errs);
#else
	snprintf(want, sizeof(want), "%s: holds SNMP secrets but is readable by "
	    "group/others (mode 0644); fix: chmod 600 %s", path, path);
	assert_string_equal(errs.msgs[0], want);
	config_errors_free(&errs);

	assert_int_equal(load(secret_ini, 0640, &cfg, &errs), -1);
	expect_error(&errs, 0, "(mode 0640); fix: chmod 600");
	config_errors_free(&errs);
	assert_int_equal(load(secret_ini, 0602, &cfg, &errs), -1);
	expect_error(&errs, 0, "accessible by group/others (mode 0602)");
	config_errors_free(&errs);
#endif
}

static void
test_secrets_in_a_private_file_are_accepted(void **state)
{
	config_free(expect_ok(secret_ini, 0600));
	config_free(expect_ok(secret_ini, 0400));
}

static void
test_a_file_without_secrets_may_be_world_readable(void **state)
{
	config_free(expect_ok("[agent]\nlog_level = warn\n"
	    "[credential v3]\nversion = 3\nuser = u\nlevel = noAuthNoPriv\n", 0644));
}

/* ---- credentials built by the CLI ------------------------------------ */

static void
test_cli_credentials_get_the_same_defaults_and_checks(void **state)
{
	struct config_credential c;
	char err[512];

	config_credential_defaults(&c);
	assert_int_equal(c.version, CFG_SNMP_V2C);
	assert_int_equal(c.level, CFG_AUTH_PRIV);
	assert_int_equal(config_credential_check(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "version 2c needs community");

	c.version = CFG_SNMP_V3;
	c.user = xstrdup("u");
	c.auth_password = xstrdup("short");
	assert_int_equal(config_credential_check(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "auth_password must be at least 8 characters "
	    "(RFC 3414); level authPriv needs priv_password");

	c.priv_password = xstrdup("long enough");
	secret_free(c.auth_password);
	c.auth_password = xstrdup("long enough");
	assert_int_equal(config_credential_check(&c, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	c.version = CFG_SNMP_V2C;
	c.community = xstrdup("public");
	assert_int_equal(config_credential_check(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "user and passwords are for version 3 only, "
	    "not version 2c");
	config_credential_clear(&c);
	assert_null(c.user);
	assert_null(c.community);
}

static void
test_cli_protocol_names_match_net_snmp_spellings(void **state)
{
	assert_int_equal(config_parse_version("2c"), CFG_SNMP_V2C);
	assert_int_equal(config_parse_version("2C"), CFG_SNMP_V2C);
	assert_int_equal(config_parse_version("3"), CFG_SNMP_V3);
	assert_int_equal(config_parse_version("2"), -1);
	assert_int_equal(config_parse_level("authpriv"), CFG_AUTH_PRIV);
	assert_int_equal(config_parse_level("noAuthNoPriv"), CFG_NOAUTH_NOPRIV);
	assert_int_equal(config_parse_auth("SHA"), CFG_AUTH_SHA);
	assert_int_equal(config_parse_auth("SHA-1"), CFG_AUTH_SHA);
	assert_int_equal(config_parse_auth("sha256"), CFG_AUTH_SHA256);
	assert_int_equal(config_parse_auth("SHA-384"), CFG_AUTH_SHA384);
	assert_int_equal(config_parse_auth("SHA3"), -1);
	assert_int_equal(config_parse_priv("AES"), CFG_PRIV_AES);
	assert_int_equal(config_parse_priv("AES128"), CFG_PRIV_AES);
	assert_int_equal(config_parse_priv("aes-192"), CFG_PRIV_AES192);
	assert_int_equal(config_parse_priv("3DES"), -1);
	assert_string_equal(config_version_name(CFG_SNMP_V2C), "2c");
	assert_string_equal(config_level_name(CFG_AUTH_NOPRIV), "authNoPriv");
	assert_string_equal(config_auth_name(CFG_AUTH_SHA), "SHA");
	assert_string_equal(config_auth_name(CFG_AUTH_SHA224), "SHA-224");
	assert_string_equal(config_priv_name(CFG_PRIV_AES), "AES");
	assert_string_equal(config_priv_name(CFG_PRIV_AES256), "AES-256");
	assert_string_equal(config_priv_name(42), "?");
}

/* ---- generated docs ---------------------------------------------------- */

static void
test_docs_describe_every_section_and_key(void **state)
{
	char *md = unit_capture(config_write_markdown);
	char *ini = unit_capture(config_write_sample_ini);
	char want[128];

	for (size_t i = 0; i < cfg_schema.nsections; i++) {
		const struct cfg_section *sec = &cfg_schema.sections[i];

		snprintf(want, sizeof(want), sec->named ? "[%s NAME]" : "[%s]",
		    sec->name);
		assert_non_null(strstr(md, want));
		assert_non_null(strstr(ini, want));
		for (size_t j = 0; j < sec->nkeys; j++) {
			const struct cfg_key *k = &sec->keys[j];

			snprintf(want, sizeof(want), "| `%s` |", k->name);
			assert_non_null(strstr(md, want));
			assert_non_null(strstr(md, k->doc));
			snprintf(want, sizeof(want), "\n#%s =%s%s\n", k->name,
			    k->def ? " " : "", k->def ? k->def : "");
			assert_non_null(strstr(ini, want));
		}
	}
	assert_non_null(strstr(md, "| `log_level` | enum | `info` | error, warn, "
	    "info, debug |"));
	assert_non_null(strstr(md, "| `community` | string, secret | none |"));
	assert_non_null(strstr(ini, "#[credential ops-v3]\n"));
	free(md);
	free(ini);
}

static void
test_sample_ini_loads_cleanly(void **state)
{
	char *ini = unit_capture(config_write_sample_ini);
	struct config *cfg = expect_ok(ini, 0600);

	assert_string_equal(cfg->agent.state_dir, default_state_dir());
	config_free(cfg);
	free(ini);
}

static void
test_documented_examples_load_cleanly(void **state)
{
	for (size_t i = 0; i < cfg_schema.nsections; i++) {
		const struct cfg_section *sec = &cfg_schema.sections[i];
		struct config *cfg;

		if (sec->example == NULL)
			continue;
		cfg = expect_ok(sec->example, 0600);
		if (sec->named)
			assert_true(*(size_t *)((char *)cfg + sec->count_off) > 1);
		config_free(cfg);
	}
}

/* ---- one source of truth for other modules ----------------------------- */

/* transport/ takes its defaults and limits from here: 0 is the documented
 * default, anything else is kept within the documented range. */
static void
test_key_number_gives_table_defaults_and_limits(void **state)
{
	struct config *d = config_new_defaults();

	assert_int_equal(config_key_number("server", "poll_wait", 0), d->server.poll_wait);
	assert_int_equal(config_key_number("server", "poll_wait", 0), 60000);
	assert_int_equal(config_key_number("upload", "batch_max_bytes", 0),
	    d->upload.batch_max_bytes);
	assert_int_equal(config_key_number("upload", "batch_max_bytes", 0), 1 << 20);
	assert_int_equal(config_key_number("upload", "spool_max_age", 0),
	    d->upload.spool_max_age);
	assert_int_equal(config_key_number("server", "poll_wait", 5000), 5000);
	assert_int_equal(config_key_number("server", "poll_wait", 1), 1000);
	assert_int_equal(config_key_number("server", "poll_wait", UINT64_MAX), 3600000);
	assert_int_equal(config_key_number("upload", "batch_max_bytes", 100), 4096);
	assert_int_equal(config_key_number("upload", "batch_max_bytes", 1u << 30),
	    8u << 20);
	config_free(d);
}

static const char reload_base[] =
    "[agent]\nstate_dir = /tmp/a\nlog_level = info\n"
    "[server]\nurl = https://hub.example:8443\npoll_wait = 30s\n"
    "[upload]\nbatch_max_age = 5s\n"
    "[scan]\nnetworks = 10.0.0.0/24\n"
    "[credential c]\ncommunity = public\n";

/* A reload applies everything but the keys the tables mark "needs a
 * restart": those, and only those, are named. */
static void
test_restart_changes_name_only_flagged_keys(void **state)
{
	struct config *a = expect_ok(reload_base, 0600), *b;
	char buf[256];
	char text[1024];

	b = expect_ok(reload_base, 0600);
	assert_int_equal(config_restart_changes(a, b, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	config_free(b);

	snprintf(text, sizeof(text), "%s", reload_base);
	*strstr(text, "30s") = '4';                       /* poll_wait 40s */
	memcpy(strstr(text, "/tmp/a"), "/tmp/b", 6);      /* state_dir */
	memcpy(strstr(text, "info"), "warn", 4);          /* applied at once */
	memcpy(strstr(text, "= 5s"), "= 6s", 4);          /* batch_max_age */
	b = expect_ok(text, 0600);
	assert_int_equal(config_restart_changes(a, b, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "[agent] state_dir, [server] poll_wait, "
	    "[upload] batch_max_age");
	/* a short buffer is cut, never overrun; the count stays right */
	assert_int_equal(config_restart_changes(a, b, buf, 10), 3);
	assert_true(strlen(buf) < 10);
	config_free(b);
	config_free(a);
}

/* reload_base with one substitution (or an addition): (scan, credential)
 * as config_section_changed sees them against reload_base. */
static void
expect_changed(const char *from, const char *to, const char *append,
    bool scan, bool cred)
{
	struct config *a = expect_ok(reload_base, 0600), *b;
	char text[1024];

	snprintf(text, sizeof(text), "%s%s", reload_base, append);
	if (from != NULL)
		memcpy(strstr(text, from), to, strlen(to));
	b = expect_ok(text, 0600);
	assert_int_equal(config_section_changed(a, b, "scan"), scan);
	assert_int_equal(config_section_changed(a, b, "credential"), cred);
	config_free(b);
	config_free(a);
}

static void
test_section_changed_sees_scan_and_credentials(void **state)
{
	expect_changed(NULL, NULL, "", false, false);
	expect_changed("10.0.0.0/24", "10.0.1.0/24", "", true, false);
	expect_changed("public", "privat", "", false, true);
	expect_changed(NULL, NULL, "[credential d]\ncommunity = x\n", false, true);
}

/* The generated reference says which keys need a restart, from the flag. */
static void
test_docs_say_needs_restart_from_the_flag(void **state)
{
	char *buf = unit_capture(config_write_markdown);
	size_t flagged = 0, said = 0;

	for (size_t i = 0; i < cfg_schema.nsections; i++)
		for (size_t j = 0; j < cfg_schema.sections[i].nkeys; j++)
			flagged += (cfg_schema.sections[i].keys[j].flags &
			    CFG_F_RESTART) != 0;
	for (const char *p = buf; (p = strstr(p, "Needs a restart")) != NULL; p++)
		said++;
	assert_true(flagged >= 16);   /* [server], [upload], state_dir */
	assert_int_equal(said, flagged);
	free(buf);
}

/* ---- set-up ----------------------------------------------------------- */

static int
setup_dir(void **state)
{
	return unit_tmpdir(tmpdir, sizeof(tmpdir), "config");
}

static int
remove_dir(void **state)
{
	return unit_rmtree(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_value_type_parses),
		cmocka_unit_test(test_every_boolean_spelling_is_accepted),
		cmocka_unit_test(test_defaults_of_every_type_apply),
		cmocka_unit_test(test_bad_values_are_reported_with_their_line),
		cmocka_unit_test(test_a_bad_list_item_keeps_the_default),
		cmocka_unit_test(test_missing_required_key_points_at_the_section_header),
		cmocka_unit_test(test_named_sections_are_kept_in_file_order),
		cmocka_unit_test(test_full_file_round_trips),
		cmocka_unit_test(test_missing_keys_take_documented_defaults),
		cmocka_unit_test(test_an_empty_file_is_valid),
		cmocka_unit_test(test_state_dir_expands_program_data_on_windows),
		cmocka_unit_test(test_comments_separators_and_line_endings),
		cmocka_unit_test(test_bad_enum_lists_the_allowed_values),
		cmocka_unit_test(test_empty_string_value_is_an_error),
		cmocka_unit_test(test_unknown_section_is_one_error_and_its_keys_are_skipped),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_duplicate_key_names_the_first_line),
		cmocka_unit_test(test_duplicate_section),
		cmocka_unit_test(test_duplicate_credential_name),
		cmocka_unit_test(test_credential_needs_a_valid_name),
		cmocka_unit_test(test_syntax_errors_are_each_reported),
		cmocka_unit_test(test_v3_needs_a_user),
		cmocka_unit_test(test_authpriv_needs_priv_password),
		cmocka_unit_test(test_passwords_shorter_than_8_are_refused),
		cmocka_unit_test(test_community_is_refused_on_v3),
		cmocka_unit_test(test_v2c_needs_community_and_no_v3_keys),
		cmocka_unit_test(test_user_longer_than_32_is_refused),
		cmocka_unit_test(test_error_messages_never_quote_secrets),
		cmocka_unit_test(test_every_error_is_collected_with_file_and_line),
		cmocka_unit_test(test_errors_stop_at_the_cap),
		cmocka_unit_test(test_missing_file_is_one_clear_error),
		cmocka_unit_test(test_secrets_in_a_readable_file_are_refused_with_the_fix),
		cmocka_unit_test(test_secrets_in_a_private_file_are_accepted),
		cmocka_unit_test(test_a_file_without_secrets_may_be_world_readable),
		cmocka_unit_test(test_cli_credentials_get_the_same_defaults_and_checks),
		cmocka_unit_test(test_cli_protocol_names_match_net_snmp_spellings),
		cmocka_unit_test(test_docs_describe_every_section_and_key),
		cmocka_unit_test(test_sample_ini_loads_cleanly),
		cmocka_unit_test(test_documented_examples_load_cleanly),
		cmocka_unit_test(test_key_number_gives_table_defaults_and_limits),
		cmocka_unit_test(test_restart_changes_name_only_flagged_keys),
		cmocka_unit_test(test_section_changed_sees_scan_and_credentials),
		cmocka_unit_test(test_docs_say_needs_restart_from_the_flag),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
