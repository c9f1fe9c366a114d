/*
 * The config object: load, free, errors, and the small helpers the
 * section checks use.
 */
#include "config/config_int.h"

#include <stdio.h>

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
