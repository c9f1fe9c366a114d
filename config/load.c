/*
 * Reading a file with libinih. inih splits "key = value" and strips
 * comments; we feed it line by line through our own reader, which counts
 * lines (the packaged library has no INI_HANDLER_LINENO) and handles
 * what inih reports poorly or not at all:
 *  - section headers: inih calls no handler for them (so an empty
 *    section would go unseen) and truncates long ones;
 *  - syntax errors: inih returns only the first one;
 *  - indented lines: inih (INI_ALLOW_MULTILINE) would take them as the
 *    continuation of the previous value; we refuse them;
 *  - lines longer than inih's buffer, which it would split in two.
 * Every problem is collected; any problem rejects the file.
 */
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_FILE (1024 * 1024)

struct cfg_seen {
	const struct cfg_section *sec;
	char *name;
	int   line;
};

struct cfg_loader {
	const struct cfg_schema *schema;
	void        *root;
	const char  *path;
	struct config_errors *errs;
	size_t       nerr;
	bool         stop;         /* too many errors */
	bool         has_secret;
	FILE        *fp;
	char        *line;
	size_t       linecap;
	int          lineno;
	/* The section being read, in a scratch struct until it ends. */
	const struct cfg_section *sec;
	bool         skip;         /* unknown section: ignore its keys */
	bool         keep;         /* false: report its problems, then drop it */
	void        *obj;
	int         *set_line;     /* per key: line it was set on */
	char        *label;        /* "[credential NAME]" as written */
	int          header_line;
	struct cfg_seen *seen;
	size_t       nseen;
};

struct cfg_file_report {
	struct cfg_report  r;
	struct cfg_loader *ld;
};

static void cfg_err(struct cfg_loader *, int line, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

static void
cfg_err(struct cfg_loader *ld, int line, const char *fmt, ...)
{
	char msg[512], full[1024 + 32];
	va_list ap;

	if (ld->stop)
		return;
	if (ld->nerr >= CONFIG_MAX_ERRORS) {
		snprintf(full, sizeof(full), "%s: too many errors, stopped after %d",
		    ld->path, CONFIG_MAX_ERRORS);
		cfg_errors_add(ld->errs, full);
		ld->stop = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", ld->path, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", ld->path, msg);
	cfg_errors_add(ld->errs, full);
	ld->nerr++;
}

static const struct cfg_seen *
cfg_seen_find(const struct cfg_loader *ld, const struct cfg_section *sec,
    const char *name)
{
	for (size_t i = 0; i < ld->nseen; i++)
		if (ld->seen[i].sec == sec && strcmp(ld->seen[i].name, name) == 0)
			return &ld->seen[i];
	return NULL;
}

static void
cfg_seen_add(struct cfg_loader *ld, const struct cfg_section *sec,
    const char *name)
{
	struct cfg_seen *s = realloc(ld->seen, (ld->nseen + 1) * sizeof(*s));

	if (s == NULL)
		abort();
	ld->seen = s;
	s[ld->nseen++] = (struct cfg_seen){ sec, xstrdup(name), ld->lineno };
}

static int
cfg_key_index(const struct cfg_section *sec, const char *name)
{
	for (size_t i = 0; i < sec->nkeys; i++)
		if (strcmp(sec->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
cfg_file_emit(struct cfg_report *r, const char *key, const char *msg)
{
	struct cfg_loader *ld = ((struct cfg_file_report *)r)->ld;
	int i = key ? cfg_key_index(ld->sec, key) : -1;
	int line = i >= 0 && ld->set_line[i] ? ld->set_line[i] : ld->header_line;

	cfg_err(ld, line, "%s %s", ld->label, msg);
}

static void
cfg_commit(struct cfg_loader *ld)
{
	const struct cfg_section *sec = ld->sec;
	char *root = ld->root;

	if (sec->named) {
		void **arr = (void **)(root + sec->arr_off);
		size_t *n = (size_t *)(root + sec->count_off);
		char *grown = realloc(*arr, (*n + 1) * sec->size);

		if (grown == NULL)
			abort();
		memcpy(grown + *n * sec->size, ld->obj, sec->size);
		*arr = grown;
		(*n)++;
	} else {
		cfg_obj_free(sec, root + sec->obj_off);
		memcpy(root + sec->obj_off, ld->obj, sec->size);
	}
	free(ld->obj);
}

static void
cfg_section_end(struct cfg_loader *ld)
{
	const struct cfg_section *sec = ld->sec;

	ld->skip = false;
	if (sec == NULL)
		return;
	for (size_t i = 0; i < sec->nkeys; i++)
		if ((sec->keys[i].flags & CFG_F_REQUIRED) && !ld->set_line[i])
			cfg_err(ld, ld->header_line, "%s missing required key '%s'",
			    ld->label, sec->keys[i].name);
	if (sec->check) {
		struct cfg_file_report fr = {
			.r = { .emit = cfg_file_emit, .set_line = ld->set_line,
			       .sec = sec },
			.ld = ld,
		};
		sec->check(ld->obj, &fr.r);
	}
	if (ld->keep) {
		cfg_commit(ld);
	} else {
		cfg_obj_free(sec, ld->obj);
		free(ld->obj);
	}
	ld->obj = NULL;
	free(ld->set_line);
	ld->set_line = NULL;
	free(ld->label);
	ld->label = NULL;
	ld->sec = NULL;
}

/* Whether the name of a named section is acceptable; says why not. */
static bool
cfg_section_name_ok(struct cfg_loader *ld, const struct cfg_section *sec,
    const char *name)
{
	const struct cfg_seen *dup = NULL;

	if (!sec->named) {
		if (*name)
			cfg_err(ld, ld->lineno, "[%s] takes no name", sec->name);
		else if ((dup = cfg_seen_find(ld, sec, "")))
			cfg_err(ld, ld->lineno, "duplicate section [%s] (first on "
			    "line %d)", sec->name, dup->line);
		return *name == '\0' && dup == NULL;
	}
	if (*name == '\0') {
		cfg_err(ld, ld->lineno, "[%s] needs a name: [%s NAME]",
		    sec->name, sec->name);
		return false;
	}
	if (!cfg_name_valid(name)) {
		cfg_err(ld, ld->lineno, "%s name '%s' is invalid: use 1-%d "
		    "characters of A-Z a-z 0-9 _ . -", sec->name, name,
		    CFG_NAME_MAX);
		return false;
	}
	if ((dup = cfg_seen_find(ld, sec, name))) {
		cfg_err(ld, ld->lineno, "duplicate %s '%s' (first on line %d)",
		    sec->name, name, dup->line);
		return false;
	}
	return true;
}

static void
cfg_section_begin(struct cfg_loader *ld, const char *type, const char *name)
{
	const struct cfg_section *sec = NULL;
	char label[256];

	cfg_section_end(ld);
	for (size_t i = 0; i < ld->schema->nsections; i++)
		if (strcmp(ld->schema->sections[i].name, type) == 0)
			sec = &ld->schema->sections[i];
	if (sec == NULL) {
		cfg_err(ld, ld->lineno, "unknown section [%s]", type);
		ld->skip = true;
		return;
	}
	ld->sec = sec;
	ld->header_line = ld->lineno;
	ld->obj = xcalloc(1, sec->size);
	ld->set_line = xcalloc(sec->nkeys ? sec->nkeys : 1, sizeof(int));
	snprintf(label, sizeof(label), *name ? "[%s %s]" : "[%s]", type, name);
	ld->label = xstrdup(label);
	cfg_obj_defaults(sec, ld->obj);
	ld->keep = cfg_section_name_ok(ld, sec, name);
	if (ld->keep)
		cfg_seen_add(ld, sec, sec->named ? name : "");
	if (ld->keep && sec->named)
		*(char **)((char *)ld->obj + sec->name_off) = xstrdup(name);
}

/* Like inih: stop at one of chars, or at a ';' comment after a blank. */
static char *
cfg_find(char *s, const char *chars)
{
	bool was_space = false;

	for (; *s && !strchr(chars, *s); s++) {
		if (was_space && *s == ';')
			break;
		was_space = *s == ' ' || *s == '\t';
	}
	return s;
}

static char *
cfg_trim(char *s)
{
	char *e;

	s += strspn(s, " \t");
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* "[type name]": 0, or -1 if the line is not a usable header. */
static int
cfg_header_line(struct cfg_loader *ld, char *p)
{
	char *end = cfg_find(p + 1, "]"), *inner, *type, *name;
	const char *rest;

	if (*end != ']') {
		cfg_err(ld, ld->lineno, "section header without ']'");
		cfg_section_end(ld);
		ld->skip = true;
		return -1;
	}
	rest = end + 1 + strspn(end + 1, " \t");
	if (*rest && *rest != ';' && *rest != '#')
		cfg_err(ld, ld->lineno, "unexpected text after ']'");
	/* A copy: inih still has to see the line as it is. */
	inner = strndup(p + 1, (size_t)(end - p - 1));
	if (inner == NULL)
		abort();
	type = cfg_trim(inner);
	name = type + strcspn(type, " \t");
	if (*name)
		*name++ = '\0';
	cfg_section_begin(ld, type, cfg_trim(name));
	free(inner);
	return 0;
}

/*
 * Check one raw line; return the text inih should see ("" to make it
 * skip a line we already reported).
 */
static const char *
cfg_check_line(struct cfg_loader *ld, char *line, size_t len, size_t max)
{
	char *p, *sep;

	if (memchr(line, '\0', len)) {
		cfg_err(ld, ld->lineno, "line contains a NUL byte");
		return "";
	}
	if (ld->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;   /* UTF-8 byte order mark */
	line[strcspn(line, "\r\n")] = '\0';
	if (strlen(line) + 1 > max) {
		cfg_err(ld, ld->lineno, "line is longer than %zu characters",
		    max - 1);
		return "";
	}
	p = line + strspn(line, " \t");
	if (*p == '\0' || *p == ';' || *p == '#')
		return line;
	if (p != line) {
		cfg_err(ld, ld->lineno, "indented line: continuation lines are "
		    "not supported; remove the leading blanks");
		return "";
	}
	if (*p == '[')
		return cfg_header_line(ld, p) == 0 ? line : "";
	sep = cfg_find(p, "=:");
	if (*sep != '=' && *sep != ':') {
		cfg_err(ld, ld->lineno, "expected 'key = value', '[section]' "
		    "or a comment");
		return "";
	}
	if (sep == p) {
		cfg_err(ld, ld->lineno, "missing key name before '%c'", *sep);
		return "";
	}
	return line;
}

static char *
cfg_reader(char *str, int num, void *arg)
{
	struct cfg_loader *ld = arg;
	const char *use;
	ssize_t n;

	if (ld->stop || num < 2)
		return NULL;
	errno = 0;
	n = getline(&ld->line, &ld->linecap, ld->fp);
	if (n < 0) {
		if (ferror(ld->fp))
			cfg_err(ld, 0, "read error: %s", strerror(errno));
		return NULL;
	}
	ld->lineno++;
	use = cfg_check_line(ld, ld->line, (size_t)n, (size_t)num);
	memcpy(str, use, strlen(use) + 1);
	return str;
}

/* inih's handler; always "success", we keep our own error list. */
static int
cfg_on_key(void *arg, const char *section, const char *key, const char *value)
{
	struct cfg_loader *ld = arg;
	const struct cfg_key *k;
	char err[512];
	int i;

	if (ld->stop || ld->skip)
		return 1;
	if (ld->sec == NULL) {
		cfg_err(ld, ld->lineno, "'%s' is not in a section; put it "
		    "under a [section] header", key);
		return 1;
	}
	if ((i = cfg_key_index(ld->sec, key)) < 0) {
		cfg_err(ld, ld->lineno, "unknown key '%s' in [%s]", key,
		    ld->sec->name);
		return 1;
	}
	k = &ld->sec->keys[i];
	if (ld->set_line[i]) {
		cfg_err(ld, ld->lineno, "duplicate key '%s' (first on line %d)",
		    key, ld->set_line[i]);
		return 1;
	}
	ld->set_line[i] = ld->lineno;
	if ((k->flags & CFG_F_SECRET) && *value)
		ld->has_secret = true;
	if (cfg_value_set(k, ld->obj, value, err, sizeof(err)) != 0)
		cfg_err(ld, ld->lineno, "%s", err);
	else if (k->type == CFG_T_STRINGS)   /* names checked after the file */
		((struct config_strings *)((char *)ld->obj + k->off))->line = ld->lineno;
	return 1;
}

/* Open without following the file's later renames; fstat that fd. */
static FILE *
cfg_open(struct cfg_loader *ld, struct stat *st)
{
	int fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	FILE *fp;

	if (fd < 0) {
		int e = errno;

		/* Windows' C runtime does not open a directory at all (EACCES):
		 * say what it is, as the fstat below does on Linux. */
		if (stat(ld->path, st) == 0 && !S_ISREG(st->st_mode))
			cfg_err(ld, 0, "not a regular file");
		else
			cfg_err(ld, 0, "cannot open: %s", strerror(e));
		return NULL;
	}
	if (fstat(fd, st) != 0) {
		cfg_err(ld, 0, "cannot stat: %s", strerror(errno));
	} else if (!S_ISREG(st->st_mode)) {
		cfg_err(ld, 0, "not a regular file");
	} else if (st->st_size > CFG_MAX_FILE) {
		cfg_err(ld, 0, "too large (%lld bytes, the limit is %d)",
		    (long long)st->st_size, CFG_MAX_FILE);
	} else if ((fp = fdopen(fd, "r")) == NULL) {
		cfg_err(ld, 0, "cannot open: %s", strerror(errno));
	} else {
		return fp;
	}
	close(fd);
	return NULL;
}

static void
cfg_check_secrecy(struct cfg_loader *ld)
{
	char what[512], fix[1200];

	if (ld->has_secret && platform_secret_exposed(fileno(ld->fp), ld->path,
	    what, sizeof(what), fix, sizeof(fix)) == 1)
		cfg_err(ld, 0, "holds SNMP secrets but is %s; fix: %s", what, fix);
}

int
cfg_load_schema(const char *path, const struct cfg_schema *schema, void *root,
    struct config_errors *errs)
{
	struct cfg_loader ld = {
		.schema = schema, .root = root, .path = path, .errs = errs,
	};
	char iobuf[4096];   /* stdio's buffer, ours so we can wipe it */
	struct stat st;
	int rc;

	if ((ld.fp = cfg_open(&ld, &st)) == NULL)
		return -1;
	setvbuf(ld.fp, iobuf, _IOFBF, sizeof(iobuf));
	rc = ini_parse_stream(cfg_reader, &ld, cfg_on_key, &ld);
	if (rc < 0)
		cfg_err(&ld, 0, "cannot parse (inih error %d)", rc);
	else if (rc > 0 && ld.nerr == 0)
		cfg_err(&ld, rc, "syntax error");
	cfg_section_end(&ld);
	cfg_check_secrecy(&ld);

	fclose(ld.fp);
	platform_memzero(iobuf, sizeof(iobuf));
	if (ld.line)
		platform_memzero(ld.line, ld.linecap);
	free(ld.line);
	for (size_t i = 0; i < ld.nseen; i++)
		free(ld.seen[i].name);
	free(ld.seen);
	return ld.nerr || ld.stop ? -1 : 0;
}
