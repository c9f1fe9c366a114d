/*
 * config internals: the table types every section is declared with, and
 * the functions the files of config/ share. Not for other modules; the
 * unit test includes it to drive the loader with a table of its own.
 */
#ifndef OUTPOST_CONFIG_INT_H
#define OUTPOST_CONFIG_INT_H

#include "config/config.h"

enum cfg_type {
	CFG_T_STRING,     /* char * */
	CFG_T_INT,        /* int */
	CFG_T_BOOL,       /* bool */
	CFG_T_DURATION,   /* uint64_t, milliseconds */
	CFG_T_SIZE,       /* uint64_t, bytes */
	CFG_T_ENUM,       /* int: the value of the matching cfg_enum */
	CFG_T_ADDRS,      /* struct config_addrs */
	CFG_T_STRINGS,    /* struct config_strings */
};

struct cfg_enum {
	const char *name;
	int         value;
	bool        alias;   /* accepted, not shown in docs or by _name() */
};

#define CFG_F_REQUIRED 0x1
#define CFG_F_SECRET   0x2   /* file must be private; never echoed */
#define CFG_F_RESTART  0x4   /* a reload (SIGHUP) keeps the running value */

struct cfg_key {
	const char            *name;
	enum cfg_type          type;
	size_t                 off;     /* into the section's struct */
	const char            *def;     /* as written in the file; NULL: none */
	int64_t                min, max; /* INT, DURATION (ms), SIZE (bytes); 0, 0: none */
	const struct cfg_enum *enums;   /* ENUM: ends with a NULL name */
	unsigned               flags;
	const char            *doc;     /* one line */
};

/*
 * Key declarations: the key is named after its struct member, and a
 * member of the wrong C type is a warning, so an error under -Werror
 * (pointer comparison of distinct types, as in the kernel's typecheck()).
 */
#define CFG_CHECK(T, f, ctype) (0 * sizeof((ctype *)0 == &((T *)0)->f))
#define CFG_MEMBER(T, f, ctype) .name = #f, .off = offsetof(T, f) + CFG_CHECK(T, f, ctype)
#define CFG_STRING(T, f)   CFG_MEMBER(T, f, char *), .type = CFG_T_STRING
#define CFG_INT(T, f)      CFG_MEMBER(T, f, int), .type = CFG_T_INT
#define CFG_BOOL(T, f)     CFG_MEMBER(T, f, bool), .type = CFG_T_BOOL
#define CFG_DURATION(T, f) CFG_MEMBER(T, f, uint64_t), .type = CFG_T_DURATION
#define CFG_SIZE(T, f)     CFG_MEMBER(T, f, uint64_t), .type = CFG_T_SIZE
#define CFG_ENUM(T, f, e)  CFG_MEMBER(T, f, int), .type = CFG_T_ENUM, .enums = (e)
#define CFG_ADDRS(T, f)    CFG_MEMBER(T, f, struct config_addrs), .type = CFG_T_ADDRS
#define CFG_STRINGS(T, f)  CFG_MEMBER(T, f, struct config_strings), .type = CFG_T_STRINGS

/*
 * Cross-field checks report through this, so the file loader can say
 * FILE:LINE and the CLI can collect plain messages. key names the key
 * the problem is about (its line is used), NULL for the section header.
 */
struct cfg_report {
	void (*emit)(struct cfg_report *, const char *key, const char *msg);
	const int *set_line;   /* per key: line it was set on, 0 unset; NULL: unknown */
	const struct cfg_section *sec;
	int count;
};
void cfg_reportf(struct cfg_report *, const char *key, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
/* Whether key was written in the file (false when not known). */
bool cfg_was_set(const struct cfg_report *, const char *key);

/*
 * A section. Unnamed ones ([agent]) are one struct inside the root;
 * named ones ([credential NAME]) an array of structs plus a count, the
 * name in a char * member of each.
 */
struct cfg_section {
	const char           *name;
	const struct cfg_key *keys;
	size_t                nkeys;
	size_t                size;       /* of one section struct */
	size_t                obj_off;    /* unnamed: the struct in the root */
	bool                  named;
	size_t                arr_off, count_off, name_off;  /* named only */
	void                (*check)(const void *obj, struct cfg_report *);
	const char           *doc;
	const char           *example;    /* named: sample sections, as INI */
	bool                  builtin_profiles;  /* docs list them after it */
};

#define CFG_SECTION(R, sname, T, member, k) \
	.name = sname, .keys = k, .nkeys = countof(k), .size = sizeof(T), \
	.obj_off = offsetof(R, member) + CFG_CHECK(R, member, T)
#define CFG_NAMED_SECTION(R, sname, T, arr, cnt, k) \
	.name = sname, .keys = k, .nkeys = countof(k), .size = sizeof(T), \
	.named = true, .arr_off = offsetof(R, arr) + CFG_CHECK(R, arr, T *), \
	.count_off = offsetof(R, cnt) + CFG_CHECK(R, cnt, size_t), \
	.name_off = offsetof(T, name) + CFG_CHECK(T, name, char *)

struct cfg_schema {
	const struct cfg_section *sections;
	size_t                    nsections;
};

#define CFG_NAME_MAX 63   /* [section NAME]: 1-63 of A-Z a-z 0-9 _ . - */

/* schema.c: the real sections */
extern const struct cfg_schema cfg_schema;
extern const struct cfg_schema cfg_hub_schema;   /* hub.c */
extern const struct cfg_enum cfg_versions[], cfg_levels[], cfg_auths[], cfg_privs[];

/* load.c: read path into root (already zeroed); 0 or -1, errs appended */
int  cfg_load_schema(const char *path, const struct cfg_schema *, void *root,
                     struct config_errors *errs);
/* Apply every section's defaults to root; free everything in root. */
void cfg_root_defaults(const struct cfg_schema *, void *root);
void cfg_root_free(const struct cfg_schema *, void *root);
void cfg_errors_add(struct config_errors *, const char *msg);
bool cfg_name_valid(const char *);

/* value.c: one value of one key */
int  cfg_value_set(const struct cfg_key *, void *obj, const char *value,
                   char *err, size_t errlen);
void cfg_obj_defaults(const struct cfg_section *, void *obj);
void cfg_obj_free(const struct cfg_section *, void *obj);
bool cfg_value_equal(const struct cfg_key *, const void *a, const void *b);
int  cfg_enum_parse(const struct cfg_enum *, const char *);
const char *cfg_enum_name(const struct cfg_enum *, int value);
const char *cfg_type_name(enum cfg_type);
/* How a value of the type is written, as docs/config.md's "Values"
 * says it (doc.c, also the man page's); NULL for a type without one. */
const char *cfg_type_syntax(enum cfg_type);
/* "500ms", "5m", "64KB": the largest unit that divides evenly. */
void cfg_fmt_duration(uint64_t ms, char *buf, size_t len);
void cfg_fmt_size(uint64_t bytes, char *buf, size_t len);
/* Limits as "1..65535", "1s..1h" or "" if the key has none. */
void cfg_fmt_limits(const struct cfg_key *, char *buf, size_t len);

#endif
