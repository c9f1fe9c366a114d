/*
 * One value of one key: parse the text into the section struct, apply
 * defaults, free. Messages never quote the value of a secret key.
 */
#include "config/config_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_SEP ", \t"

static void *
cfg_field(const struct cfg_key *k, void *obj)
{
	return (char *)obj + k->off;
}

/* Case-insensitive, and '-' does not count: "sha256" is "SHA-256". */
static bool
cfg_enum_match(const char *a, const char *b)
{
	for (;;) {
		while (*a == '-')
			a++;
		while (*b == '-')
			b++;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		if (*a == '\0')
			return true;
		a++, b++;
	}
}

int
cfg_enum_parse(const struct cfg_enum *e, const char *s)
{
	for (; e->name; e++)
		if (cfg_enum_match(e->name, s))
			return e->value;
	return -1;
}

const char *
cfg_enum_name(const struct cfg_enum *e, int value)
{
	for (; e->name; e++)
		if (e->value == value && !e->alias)
			return e->name;
	return "?";
}

static void
cfg_enum_list(const struct cfg_enum *e, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (; e->name && n < len; e++)
		if (!e->alias)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			    n ? ", " : "", e->name);
}

const char *
cfg_type_name(enum cfg_type t)
{
	switch (t) {
	case CFG_T_STRING:   return "string";
	case CFG_T_INT:      return "integer";
	case CFG_T_BOOL:     return "boolean";
	case CFG_T_DURATION: return "duration";
	case CFG_T_SIZE:     return "size";
	case CFG_T_ENUM:     return "enum";
	case CFG_T_ADDRS:    return "address list";
	case CFG_T_STRINGS:  return "string list";
	}
	return "?";
}

void
cfg_fmt_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct { const char *unit; uint64_t ms; } u[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
	};

	for (size_t i = 0; i < countof(u); i++)
		if (ms != 0 && ms % u[i].ms == 0) {
			snprintf(buf, len, "%llu%s",
			    (unsigned long long)(ms / u[i].ms), u[i].unit);
			return;
		}
	snprintf(buf, len, "%llums", (unsigned long long)ms);
}

void
cfg_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "GB", "MB", "KB" };
	uint64_t mul = 1024ull * 1024 * 1024;

	for (size_t i = 0; i < countof(unit); i++, mul /= 1024)
		if (bytes != 0 && bytes % mul == 0) {
			snprintf(buf, len, "%llu%s",
			    (unsigned long long)(bytes / mul), unit[i]);
			return;
		}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

static void
cfg_fmt_one(const struct cfg_key *k, int64_t v, char *buf, size_t len)
{
	if (k->type == CFG_T_DURATION)
		cfg_fmt_duration((uint64_t)v, buf, len);
	else if (k->type == CFG_T_SIZE)
		cfg_fmt_size((uint64_t)v, buf, len);
	else
		snprintf(buf, len, "%lld", (long long)v);
}

void
cfg_fmt_limits(const struct cfg_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	buf[0] = '\0';
	if (k->type == CFG_T_ENUM) {
		cfg_enum_list(k->enums, buf, len);
		return;
	}
	if (k->min == 0 && k->max == 0)
		return;
	cfg_fmt_one(k, k->min, lo, sizeof(lo));
	cfg_fmt_one(k, k->max, hi, sizeof(hi));
	snprintf(buf, len, "%s..%s", lo, hi);
}

static bool
cfg_in_limits(const struct cfg_key *k, uint64_t v)
{
	if (k->min == 0 && k->max == 0)
		return true;
	return v >= (uint64_t)k->min && v <= (uint64_t)k->max;
}

static int
cfg_parse_bool(const char *s)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < countof(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static void
cfg_strings_free(struct config_strings *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

static void
cfg_addrs_free(struct config_addrs *l)
{
	free(l->ranges);
	l->ranges = NULL;
	l->count = 0;
}

/* Items separated by commas and/or blanks; an empty list is allowed. */
static size_t
cfg_list_count(const char *s)
{
	size_t n = 0;

	for (;;) {
		s += strspn(s, LIST_SEP);
		if (*s == '\0')
			return n;
		n++;
		s += strcspn(s, LIST_SEP);
	}
}

static int
cfg_set_addrs(struct config_addrs *out, const char *value, char *err, size_t errlen)
{
	struct config_addrs l = { 0 };
	char *copy = xstrdup(value), *save = NULL, why[128];
	size_t n = cfg_list_count(value);
	int rc = 0;

	if (n)
		l.ranges = xcalloc(n, sizeof(*l.ranges));
	for (char *it = strtok_r(copy, LIST_SEP, &save); it;
	    it = strtok_r(NULL, LIST_SEP, &save)) {
		if (net_range_parse(it, &l.ranges[l.count], why, sizeof(why)) != 0) {
			snprintf(err, errlen, "bad address '%s': %s", it, why);
			rc = -1;
			break;
		}
		l.count++;
	}
	free(copy);
	if (rc != 0) {
		cfg_addrs_free(&l);
		return -1;
	}
	cfg_addrs_free(out);
	*out = l;
	return 0;
}

static void
cfg_set_strings(struct config_strings *out, const char *value)
{
	struct config_strings l = { 0 };
	char *copy = xstrdup(value), *save = NULL;
	size_t n = cfg_list_count(value);

	if (n)
		l.items = xcalloc(n, sizeof(*l.items));
	for (char *it = strtok_r(copy, LIST_SEP, &save); it;
	    it = strtok_r(NULL, LIST_SEP, &save))
		l.items[l.count++] = xstrdup(it);
	free(copy);
	cfg_strings_free(out);
	*out = l;
}

static int
cfg_set_string(const struct cfg_key *k, char **out, const char *value,
    char *err, size_t errlen)
{
	if (*value == '\0') {
		snprintf(err, errlen, "%s: empty value (remove the line to use "
		    "the default)", k->name);
		return -1;
	}
	if (k->flags & CFG_F_SECRET)
		secret_free(*out);
	else
		free(*out);
	*out = xstrdup(value);
	return 0;
}

static int
cfg_set_number(const struct cfg_key *k, void *f, const char *value,
    char *err, size_t errlen)
{
	char lim[64];
	uint64_t v;
	int64_t i;

	cfg_fmt_limits(k, lim, sizeof(lim));
	switch (k->type) {
	case CFG_T_INT:
		if (parse_int(value, k->min || k->max ? k->min : INT_MIN,
		    k->min || k->max ? k->max : INT_MAX, &i) != 0) {
			snprintf(err, errlen, "%s: '%s' is not an integer%s%s",
			    k->name, value, *lim ? " in " : "", lim);
			return -1;
		}
		*(int *)f = (int)i;
		return 0;
	case CFG_T_DURATION:
		if (parse_duration_ms(value, &v) != 0) {
			snprintf(err, errlen, "%s: '%s' is not a duration "
			    "(e.g. 500ms, 30s, 5m, 1h)", k->name, value);
			return -1;
		}
		break;
	case CFG_T_SIZE:
		if (parse_size(value, &v) != 0) {
			snprintf(err, errlen, "%s: '%s' is not a size "
			    "(e.g. 512, 64KB, 256MB, 1GB)", k->name, value);
			return -1;
		}
		break;
	default:
		abort();
	}
	if (!cfg_in_limits(k, v)) {
		snprintf(err, errlen, "%s: %s is out of range (%s)", k->name,
		    value, lim);
		return -1;
	}
	*(uint64_t *)f = v;
	return 0;
}

int
cfg_value_set(const struct cfg_key *k, void *obj, const char *value,
    char *err, size_t errlen)
{
	void *f = cfg_field(k, obj);
	char lim[256];
	int v;

	switch (k->type) {
	case CFG_T_STRING:
		return cfg_set_string(k, f, value, err, errlen);
	case CFG_T_INT:
	case CFG_T_DURATION:
	case CFG_T_SIZE:
		return cfg_set_number(k, f, value, err, errlen);
	case CFG_T_BOOL:
		if ((v = cfg_parse_bool(value)) < 0) {
			snprintf(err, errlen, "%s: '%s' is not a boolean "
			    "(true/false, yes/no, on/off, 1/0)", k->name, value);
			return -1;
		}
		*(bool *)f = v;
		return 0;
	case CFG_T_ENUM:
		if ((v = cfg_enum_parse(k->enums, value)) < 0) {
			cfg_enum_list(k->enums, lim, sizeof(lim));
			snprintf(err, errlen, "%s: '%s' is not one of: %s",
			    k->name, value, lim);
			return -1;
		}
		*(int *)f = v;
		return 0;
	case CFG_T_ADDRS:
		if (cfg_set_addrs(f, value, lim, sizeof(lim)) != 0) {
			snprintf(err, errlen, "%s: %s", k->name, lim);
			return -1;
		}
		return 0;
	case CFG_T_STRINGS:
		cfg_set_strings(f, value);
		return 0;
	}
	abort();
}

void
cfg_obj_defaults(const struct cfg_section *sec, void *obj)
{
	char err[256];

	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *k = &sec->keys[i];

		/* A default that does not parse is a bug in the table; the
		 * unit test loads every default. */
		if (k->def && cfg_value_set(k, obj, k->def, err, sizeof(err)) != 0)
			abort();
	}
}

void
cfg_obj_free(const struct cfg_section *sec, void *obj)
{
	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *k = &sec->keys[i];
		void *f = cfg_field(k, obj);

		switch (k->type) {
		case CFG_T_STRING:
			if (k->flags & CFG_F_SECRET)
				secret_free(*(char **)f);
			else
				free(*(char **)f);
			*(char **)f = NULL;
			break;
		case CFG_T_ADDRS:
			cfg_addrs_free(f);
			break;
		case CFG_T_STRINGS:
			cfg_strings_free(f);
			break;
		default:
			break;
		}
	}
	if (sec->named) {
		char **name = (char **)((char *)obj + sec->name_off);

		free(*name);
		*name = NULL;
	}
}

/* Whether key holds the same value in objects a and b (reload diffs). */
bool
cfg_value_equal(const struct cfg_key *k, const void *a, const void *b)
{
	const void *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;

	switch (k->type) {
	case CFG_T_STRING: {
		const char *x = *(char *const *)fa, *y = *(char *const *)fb;
		return x == y || (x && y && strcmp(x, y) == 0);
	}
	case CFG_T_INT:
	case CFG_T_ENUM:
		return *(const int *)fa == *(const int *)fb;
	case CFG_T_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CFG_T_DURATION:
	case CFG_T_SIZE:
		return *(const uint64_t *)fa == *(const uint64_t *)fb;
	case CFG_T_ADDRS: {
		const struct config_addrs *x = fa, *y = fb;
		if (x->count != y->count)
			return false;
		for (size_t i = 0; i < x->count; i++) {
			const struct net_range *r = &x->ranges[i], *q = &y->ranges[i];
			if (r->family != q->family || r->first != q->first ||
			    r->last != q->last ||
			    memcmp(&r->addr6, &q->addr6, sizeof(r->addr6)) != 0)
				return false;
		}
		return true;
	}
	case CFG_T_STRINGS: {
		const struct config_strings *x = fa, *y = fb;
		if (x->count != y->count)
			return false;
		for (size_t i = 0; i < x->count; i++)
			if (strcmp(x->items[i], y->items[i]) != 0)
				return false;
		return true;
	}
	}
	abort();
}
