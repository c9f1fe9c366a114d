/*
 * The config object: load, free, errors, and the small helpers the
 * section checks use.
 */
#include "config/config_int.h"

#include <stdio.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Messages quote the file; a terminal must not interpret what it holds. */
static char *
cfg_escape(const char *msg)
{
	size_t n = strlen(msg);
	char *out = xcalloc(n * 4 + 1, 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else
			*o++ = (char)*p;
	}
	*o = '\0';
	return out;
}

void
cfg_errors_add(struct config_errors *e, const char *msg)
{
	char **m = realloc(e->msgs, (e->count + 1) * sizeof(*m));

	if (m == NULL)
		abort();
	e->msgs = m;
	e->msgs[e->count++] = cfg_escape(msg);
}

void
config_errors_free(struct config_errors *e)
{
	for (size_t i = 0; i < e->count; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->count = 0;
}

bool
cfg_name_valid(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-");

	return n >= 1 && n <= CFG_NAME_MAX && s[n] == '\0';
}

void
cfg_reportf(struct cfg_report *r, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->count++;
	r->emit(r, key, msg);
}

bool
cfg_was_set(const struct cfg_report *r, const char *key)
{
	if (r->set_line == NULL)
		return false;
	for (size_t i = 0; i < r->sec->nkeys; i++)
		if (strcmp(r->sec->keys[i].name, key) == 0)
			return r->set_line[i] != 0;
	return false;
}

void
cfg_root_defaults(const struct cfg_schema *schema, void *root)
{
	for (size_t i = 0; i < schema->nsections; i++) {
		const struct cfg_section *sec = &schema->sections[i];

		if (!sec->named)
			cfg_obj_defaults(sec, (char *)root + sec->obj_off);
	}
}

void
cfg_root_free(const struct cfg_schema *schema, void *root)
{
	for (size_t i = 0; i < schema->nsections; i++) {
		const struct cfg_section *sec = &schema->sections[i];
		char **arr;
		size_t *n;

		if (!sec->named) {
			cfg_obj_free(sec, (char *)root + sec->obj_off);
			continue;
		}
		arr = (char **)((char *)root + sec->arr_off);
		n = (size_t *)((char *)root + sec->count_off);
		for (size_t j = 0; j < *n; j++)
			cfg_obj_free(sec, *arr + j * sec->size);
		free(*arr);
		*arr = NULL;
		*n = 0;
	}
}

/* References between sections: names must exist. The sections may
 * come in any order, so this runs after the whole file. */
static void
cfg_check_refs(const char *path, const struct config *cfg, struct config_errors *errs)
{
	char msg[512], names[128];

	for (size_t i = 0; i < cfg->scan.credentials.count; i++) {
		const char *n = cfg->scan.credentials.items[i];
		if (config_credential_find(cfg, n) == NULL) {
			snprintf(msg, sizeof(msg), "%s:%d: [scan] credentials names "
			    "'%.64s', but there is no [credential %.64s] section", path,
			    cfg->scan.credentials.line, n, n);
			cfg_errors_add(errs, msg);
		}
	}
	for (size_t i = 0; i < cfg->traps.credentials.count; i++) {
		const char *n = cfg->traps.credentials.items[i];
		const struct config_credential *c = config_credential_find(cfg, n);
		if (c == NULL)
			snprintf(msg, sizeof(msg), "%s:%d: [traps] credentials names "
			    "'%.64s', but there is no [credential %.64s] section", path,
			    cfg->traps.credentials.line, n, n);
		else if (c->version != CFG_SNMP_V3)
			snprintf(msg, sizeof(msg), "%s:%d: [traps] credentials names "
			    "'%.64s', a version %s credential: list version 3 ones "
			    "here and v1/v2c communities in [traps] communities", path,
			    cfg->traps.credentials.line, n,
			    config_version_name(c->version));
		else
			continue;
		cfg_errors_add(errs, msg);
	}
	config_builtin_profile_names(names, sizeof(names));
	for (size_t i = 0; i < cfg->poll.profiles.count; i++) {
		const char *n = cfg->poll.profiles.items[i];
		if (config_builtin_profile_find(n) == NULL &&
		    config_profile_find(cfg, n) == NULL) {
			snprintf(msg, sizeof(msg), "%s:%d: [poll] profiles names "
			    "'%.64s', which is neither built in (%s) nor a [profile] "
			    "section", path, cfg->poll.profiles.line, n, names);
			cfg_errors_add(errs, msg);
		}
	}
}

static const struct cfg_section *
cfg_section_find(const char *name)
{
	for (size_t i = 0; i < cfg_schema.nsections; i++)
		if (strcmp(cfg_schema.sections[i].name, name) == 0)
			return &cfg_schema.sections[i];
	return NULL;
}

uint64_t
config_key_number(const char *section, const char *key, uint64_t v)
{
	const struct cfg_section *sec = cfg_section_find(section);
	char obj[1024], err[256];

	/* A name or type that is not in the tables is a bug in the caller. */
	if (sec == NULL || sec->named || sec->size > sizeof(obj))
		abort();
	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *k = &sec->keys[i];

		if (strcmp(k->name, key) != 0)
			continue;
		if ((k->type != CFG_T_DURATION && k->type != CFG_T_SIZE) ||
		    k->def == NULL)
			abort();
		if (v == 0) {
			memset(obj, 0, sizeof(obj));
			if (cfg_value_set(k, obj, k->def, err, sizeof(err)) != 0)
				abort();
			memcpy(&v, obj + k->off, sizeof(v));
		}
		if (k->min != 0 || k->max != 0) {
			if (v < (uint64_t)k->min)
				v = (uint64_t)k->min;
			if (v > (uint64_t)k->max)
				v = (uint64_t)k->max;
		}
		return v;
	}
	abort();
}

/* The objects of section in a config: one, or every named one. */
static size_t
cfg_objects(const struct cfg_section *sec, const struct config *cfg,
    const char **first)
{
	if (!sec->named) {
		*first = (const char *)cfg + sec->obj_off;
		return 1;
	}
	*first = *(char *const *)((const char *)cfg + sec->arr_off);
	return *(const size_t *)((const char *)cfg + sec->count_off);
}

/* Whether the objects of sec differ, counting only keys with all of
 * flags (0: every key); named sections also by name, count and order. */
static bool
cfg_section_differs(const struct cfg_section *sec, const struct config *a,
    const struct config *b, unsigned flags, const char **key)
{
	const char *oa, *ob;
	size_t na = cfg_objects(sec, a, &oa), nb = cfg_objects(sec, b, &ob);

	*key = NULL;
	if (na != nb)
		return true;
	for (size_t i = 0; i < na; i++) {
		const char *x = oa + i * sec->size, *y = ob + i * sec->size;

		if (sec->named && strcmp(*(char *const *)(x + sec->name_off),
		    *(char *const *)(y + sec->name_off)) != 0)
			return true;
		for (size_t j = 0; j < sec->nkeys; j++) {
			if ((sec->keys[j].flags & flags) != flags)
				continue;
			if (!cfg_value_equal(&sec->keys[j], x, y)) {
				*key = sec->keys[j].name;
				return true;
			}
		}
	}
	return false;
}

bool
config_section_changed(const struct config *a, const struct config *b,
    const char *section)
{
	const struct cfg_section *sec = cfg_section_find(section);
	const char *key;

	if (sec == NULL)
		abort();
	return cfg_section_differs(sec, a, b, 0, &key);
}

size_t
config_restart_changes(const struct config *old, const struct config *new,
    char *buf, size_t len)
{
	size_t n = 0, used = 0;

	if (len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < cfg_schema.nsections; i++) {
		const struct cfg_section *sec = &cfg_schema.sections[i];
		bool any = false;

		if (sec->named)
			continue;
		for (size_t j = 0; j < sec->nkeys; j++) {
			const struct cfg_key *k = &sec->keys[j];
			int w;

			if (!(k->flags & CFG_F_RESTART) ||
			    cfg_value_equal(k, (const char *)old + sec->obj_off,
			    (const char *)new + sec->obj_off))
				continue;
			w = snprintf(buf + used, len > used ? len - used : 0,
			    "%s%s%s%s%s", n ? ", " : "", any ? "" : "[",
			    any ? "" : sec->name, any ? "" : "] ", k->name);
			if (w > 0 && used + (size_t)w < len)
				used += (size_t)w;
			any = true;
			n++;
		}
	}
	return n;
}

const struct config_profile *
config_profile_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nprofiles; i++)
		if (strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}

const struct config_addrs *
config_allowed_networks(const struct config *cfg)
{
	return cfg->policy.allow_networks.count ? &cfg->policy.allow_networks :
	    &cfg->scan.networks;
}

/*
 * state_dir as the rest of the code uses it: on Windows its default is
 * %ProgramData%\Outpost\state (ProgramData need not be on C:) and a
 * configuration may name variables too, so they are expanded once, here
 * (platform_path_expand; elsewhere the path is taken as written).
 */
static int
cfg_expand_state_dir(struct config *cfg)
{
	char buf[4096];

	if (platform_path_expand(cfg->agent.state_dir, buf, sizeof(buf)) != 0)
		return -1;
	if (strcmp(buf, cfg->agent.state_dir) != 0) {
		free(cfg->agent.state_dir);
		cfg->agent.state_dir = xstrdup(buf);
	}
	return 0;
}

int
config_load(const char *path, struct config **out, struct config_errors *errs)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	*out = NULL;
	errs->msgs = NULL;
	errs->count = 0;
	cfg_root_defaults(&cfg_schema, cfg);
	if (cfg_load_schema(path, &cfg_schema, cfg, errs) == 0)
		cfg_check_refs(path, cfg, errs);
	if (errs->count == 0 && cfg_expand_state_dir(cfg) != 0) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s: [agent] state_dir '%.256s': cannot "
		    "expand its environment variables (too long?)", path,
		    cfg->agent.state_dir);
		cfg_errors_add(errs, msg);
	}
	if (errs->count != 0) {
		config_free(cfg);
		return -1;
	}
	cfg->path = xstrdup(path);
	*out = cfg;
	return 0;
}

struct config *
config_new_defaults(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	cfg_root_defaults(&cfg_schema, cfg);
	/* Left as written if it cannot be: then the path a later error
	 * names says why. */
	(void)cfg_expand_state_dir(cfg);
	cfg->path = xstrdup("(defaults)");
	return cfg;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	cfg_root_free(&cfg_schema, cfg);
	free(cfg->path);
	free(cfg);
}

int
config_udp_endpoint(const char *s, struct sockaddr_storage *out,
    unsigned *outlen, char *err, size_t errlen)
{
	char host[64];
	const char *p, *colon;
	char *end;
	unsigned long port;
	bool v6 = strncmp(s, "udp6:", 5) == 0;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!v6 && strncmp(s, "udp:", 4) != 0) {
		snprintf(err, errlen, "'%.64s' must be udp:ADDR:PORT or "
		    "udp6:[ADDR]:PORT", s);
		return -1;
	}
	p = s + (v6 ? 5 : 4);
	if (v6) {
		const char *close = strchr(p, ']');
		if (*p != '[' || close == NULL || close[1] != ':') {
			snprintf(err, errlen, "'%.64s': an IPv6 address goes in "
			    "brackets, udp6:[ADDR]:PORT", s);
			return -1;
		}
		n = (size_t)(close - p - 1);
		p++;
		colon = close + 1;
	} else {
		if ((colon = strrchr(p, ':')) == NULL) {
			snprintf(err, errlen, "'%.64s' has no :PORT", s);
			return -1;
		}
		n = (size_t)(colon - p);
	}
	if (n == 0 || n >= sizeof(host)) {
		snprintf(err, errlen, "'%.64s' has no address", s);
		return -1;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    port < 1 || port > 65535) {
		snprintf(err, errlen, "'%.64s': the port must be 1-65535", s);
		return -1;
	}
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			snprintf(err, errlen, "'%.64s': '%s' is not a numeric IPv6 "
			    "address", s, host);
			return -1;
		}
		*outlen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)out;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			snprintf(err, errlen, "'%.64s': '%s' is not a numeric IPv4 "
			    "address (IPv6: udp6:[ADDR]:PORT)", s, host);
			return -1;
		}
		*outlen = sizeof(*a);
	}
	return 0;
}
