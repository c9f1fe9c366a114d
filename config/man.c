/*
 * outpost.ini(5) and outpost-hub.ini(5), written in roff from the same
 * tables the loader uses (make docs writes packaging/man/), so the man
 * pages cannot drift from the code any more than docs/config.md can.
 */
#include "config/config_int.h"

#include <ini.h>
#include <stdlib.h>
#include <string.h>

struct cfg_man_page {
	const char *name;      /* outpost.ini */
	const char *title;     /* OUTPOST.INI */
	const char *what;      /* NAME line */
	const char *path;      /* the installed file */
	const char *program;   /* who reads it */
	const char *source;
	const char *files;     /* roff: the FILES section body */
	const char *see_also;  /* roff */
	const struct cfg_schema *schema;
};

/*
 * Text as roff: '\' and '-' escaped (so AES-256-C and --config stay
 * minus signs a reader can copy), `code` in bold, and a line that would
 * start with a control character guarded.
 */
static void
cfg_man_text(FILE *f, const char *s, size_t n)
{
	bool bold = false;

	if (n > 0 && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", f);
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '\\':
			fputs("\\e", f);
			break;
		case '-':
			fputs("\\-", f);
			break;
		case '`':
			fputs(bold ? "\\fR" : "\\fB", f);
			bold = !bold;
			break;
		default:
			fputc(s[i], f);
		}
	}
	if (bold)
		fputs("\\fR", f);
}

static void
cfg_man_line(FILE *f, const char *s)
{
	cfg_man_text(f, s, strlen(s));
	fputc('\n', f);
}

/* doc.c and this file disagree: a bug; never write half a page. */
static void __attribute__((noreturn))
cfg_man_abort(const char *why)
{
	log_error("config_write_man: %s", why);
	abort();
}

static bool
cfg_man_uses(const struct cfg_schema *schema, enum cfg_type t)
{
	for (size_t i = 0; i < schema->nsections; i++)
		for (size_t j = 0; j < schema->sections[i].nkeys; j++)
			if (schema->sections[i].keys[j].type == t)
				return true;
	return false;
}

/*
 * The value syntax of each type is written once, in doc.c, for
 * docs/config.md ("- TYPE: text." under "## Values"); take it from there
 * (cfg_type_syntax) rather than keep a second copy that could disagree.
 * Only the types the file uses are listed.
 */
static void
cfg_man_values(FILE *f, const struct cfg_man_page *pg)
{
	fputs(".SS Values\n", f);
	for (int t = CFG_T_STRING; t <= CFG_T_STRINGS; t++) {
		const char *text = cfg_type_syntax(t);

		if (!cfg_man_uses(pg->schema, t))
			continue;
		if (text == NULL)
			cfg_man_abort("a type without syntax in doc.c");
		fputs(".TP\n.I ", f);
		cfg_man_line(f, cfg_type_name(t));
		cfg_man_text(f, text, strlen(text));
		fputs(".\n", f);
	}
}

static void
cfg_man_key(FILE *f, const struct cfg_key *k)
{
	char lim[256];

	cfg_fmt_limits(k, lim, sizeof(lim));
	fputs(".TP\n\\fB", f);
	cfg_man_text(f, k->name, strlen(k->name));
	fputs("\\fR = \\fI", f);
	cfg_man_text(f, cfg_type_name(k->type), strlen(cfg_type_name(k->type)));
	fputs("\\fR\n", f);
	cfg_man_line(f, k->doc);
	if (k->flags & CFG_F_REQUIRED) {
		fputs("Required.\n", f);
	} else if (k->def) {
		fputs("Default: \\fB", f);
		cfg_man_text(f, k->def, strlen(k->def));
		fputs("\\fR.\n", f);
	}
	if (*lim) {
		fputs(k->type == CFG_T_ENUM ? "One of: " : "Range: ", f);
		cfg_man_text(f, lim, strlen(lim));
		fputs(".\n", f);
	}
	if (k->flags & CFG_F_SECRET)
		fputs("A secret: the file must be \\fBchmod 600\\fR.\n", f);
	if (k->flags & CFG_F_RESTART)
		fputs("Needs a restart: a reload (SIGHUP) keeps the running "
		    "value.\n", f);
}

static void
cfg_man_example(FILE *f, const char *text)
{
	fputs(".PP\nExamples:\n.PP\n.RS 4\n.nf\n", f);
	while (*text) {
		size_t n = strcspn(text, "\n");

		cfg_man_text(f, text, n);
		fputc('\n', f);
		text += n + (text[n] == '\n');
	}
	fputs(".fi\n.RE\n", f);
}

/* From the table the agent polls with (config/profiles.c). */
static void
cfg_man_builtin_profiles(FILE *f)
{
	fputs(".SS Built-in profiles\n"
	    "Names \\fB[poll] profiles\\fR takes without a section:\n", f);
	for (const struct config_builtin_profile *p = config_builtin_profiles;
	    p->name; p++) {
		fputs(".TP\n\\fB", f);
		cfg_man_text(f, p->name, strlen(p->name));
		fputs("\\fR\n", f);
		cfg_man_line(f, p->description);
		fputs(".br\nObjects: ", f);
		for (const struct config_builtin_item *it = p->items; it->oid; it++) {
			cfg_man_text(f, it->name, strlen(it->name));
			fputs(it[1].oid ? ", " : ".\n", f);
		}
	}
}

static void
cfg_man_section(FILE *f, const struct cfg_section *sec)
{
	fprintf(f, ".SS [%s%s]\n", sec->name, sec->named ? " NAME" : "");
	cfg_man_line(f, sec->doc);
	if (sec->named) {
		fprintf(f, ".PP\nNAME: 1 to %d characters of A\\-Z a\\-z 0\\-9 _ . \\-, "
		    "unique among the [%s] sections.\n", CFG_NAME_MAX, sec->name);
	}
	for (size_t i = 0; i < sec->nkeys; i++)
		cfg_man_key(f, &sec->keys[i]);
	if (sec->example)
		cfg_man_example(f, sec->example);
	if (sec->builtin_profiles)
		cfg_man_builtin_profiles(f);
}

/* The keys marked secret, named in one sentence. */
static void
cfg_man_secrets(FILE *f, const struct cfg_schema *schema)
{
	size_t total = 0, n = 0;

	for (size_t i = 0; i < schema->nsections; i++)
		for (size_t j = 0; j < schema->sections[i].nkeys; j++)
			total += (schema->sections[i].keys[j].flags & CFG_F_SECRET) != 0;
	if (total == 0)
		return;
	fputs(".PP\nA file that sets ", f);
	for (size_t i = 0; i < schema->nsections; i++) {
		const struct cfg_section *sec = &schema->sections[i];

		for (size_t j = 0; j < sec->nkeys; j++) {
			if (!(sec->keys[j].flags & CFG_F_SECRET))
				continue;
			n++;
			fputs(n == 1 ? "" : n == total ? " or " : ", ", f);
			fputs("\\fB", f);
			cfg_man_text(f, sec->keys[j].name, strlen(sec->keys[j].name));
			fputs("\\fR", f);
		}
	}
	fputs(" holds a secret and must not be accessible by group or others "
	    "(\\fBchmod 600\\fR); it is refused otherwise.\n", f);
}

static void
cfg_write_man(FILE *f, const struct cfg_man_page *pg)
{
	fprintf(f, ".\\\" Generated by `make docs` from %s; do not edit.\n",
	    pg->source);
	fprintf(f, ".TH %s 5 \"\" \"Outpost %s\" \"File Formats Manual\"\n",
	    pg->title, OUTPOST_VERSION);
	fputs(".nh\n.SH NAME\n", f);
	cfg_man_text(f, pg->name, strlen(pg->name));
	fputs(" \\- ", f);
	cfg_man_line(f, pg->what);
	fputs(".SH SYNOPSIS\n.I ", f);
	cfg_man_line(f, pg->path);
	fputs(".SH DESCRIPTION\n.B ", f);
	cfg_man_line(f, pg->program);
	fprintf(f, "reads an INI file: \\fB[section]\\fR headers and "
	    "\\fIkey\\fR = \\fIvalue\\fR lines.\n"
	    "Lines starting with \\fB;\\fR or \\fB#\\fR are comments.\n"
	    "Lines must not be indented and are at most %d characters.\n",
	    INI_MAX_LINE - 1);
	fputs(".PP\n"
	    "Every problem is reported as \\fIFILE\\fR:\\fILINE\\fR: "
	    "\\fImessage\\fR, and a file with any problem is rejected as a "
	    "whole: an unknown section or key, a bad value, a key given twice, "
	    "a missing required key.\n"
	    "Keys that are not set take the default shown below.\n", f);
	cfg_man_secrets(f, pg->schema);
	cfg_man_values(f, pg);
	fputs(".SH SECTIONS\n", f);
	for (size_t i = 0; i < pg->schema->nsections; i++)
		cfg_man_section(f, &pg->schema->sections[i]);
	fprintf(f, ".SH FILES\n%s", pg->files);
	fprintf(f, ".SH SEE ALSO\n%s", pg->see_also);
}

void
config_write_man(FILE *f)
{
	static const struct cfg_man_page pg = {
		.name = "outpost.ini",
		.title = "OUTPOST.INI",
		.what = "configuration file of the Outpost SNMP agent",
		.path = "/etc/outpost/outpost.ini",
		.program = "outpost",
		.source = "config/schema.c",
		.files =
		    ".TP\n.I /etc/outpost/outpost.ini\n"
		    "The configuration of the agent service "
		    "(\\fBoutpost run \\-c\\fR).\n"
		    ".TP\n.I /var/lib/outpost\n"
		    "The default \\fBstate_dir\\fR: the spool and the agent's "
		    "state.\n",
		.see_also =
		    ".BR outpost (8),\n.BR outpost\\-hub.ini (5),\n"
		    ".BR systemd.exec (5)\n",
		.schema = &cfg_schema,
	};

	cfg_write_man(f, &pg);
}

void
config_hub_write_man(FILE *f)
{
	static const struct cfg_man_page pg = {
		.name = "outpost-hub.ini",
		.title = "OUTPOST\\-HUB.INI",
		.what = "configuration file of the Outpost reference hub",
		.path = "/etc/outpost/hub.ini",
		.program = "outpost-hub",
		.source = "config/hub.c",
		.files =
		    ".TP\n.I /etc/outpost/hub.ini\n"
		    "The configuration of the hub service "
		    "(\\fBoutpost\\-hub \\-c\\fR).\n"
		    ".TP\n.I /var/lib/outpost\\-hub/hub.db\n"
		    "The default \\fBdb\\fR.\n",
		.see_also =
		    ".BR outpost\\-hub (8),\n.BR outpost.ini (5)\n",
		.schema = &cfg_hub_schema,
	};

	cfg_write_man(f, &pg);
}
