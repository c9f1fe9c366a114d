/*
 * The inventory: devices found by discovery, keyed by address:port, kept
 * in state_dir/inventory.json (platform_replace_file: durably) so a restart
 * knows its devices, and the credential that worked, before the next scan.
 */
#include "agent/agent_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INV_FILE_MAX (64u << 20)

static uint32_t
inv_hash(const char *address, unsigned port)
{
	uint32_t h = 2166136261u;

	for (const char *p = address; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return (h ^ port) * 16777619u;
}

struct inv_dev *
inv_find(struct agent *a, const char *address, unsigned port)
{
	uint32_t h = inv_hash(address, port);

	for (struct inv_dev *d = a->inv_hash[h % INV_HASH_SIZE]; d; d = d->hnext)
		if (d->port == port && strcmp(d->address, address) == 0)
			return d;
	return NULL;
}

struct inv_dev *
inv_add(struct agent *a, const char *address, unsigned port)
{
	struct inv_dev *d;
	uint32_t h;

	if ((d = inv_find(a, address, port)) != NULL)
		return d;
	if (a->ndevs >= INV_MAX_DEVICES)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->agent = a;
	snprintf(d->address, sizeof(d->address), "%s", address);
	d->port = port;
	h = inv_hash(address, port);
	d->hnext = a->inv_hash[h % INV_HASH_SIZE];
	a->inv_hash[h % INV_HASH_SIZE] = d;
	d->next = a->devs;
	a->devs = d;
	a->ndevs++;
	poll_device_added(d);
	return d;
}

void
inv_free_all(struct agent *a)
{
	struct inv_dev *d, *n;

	poll_sweep_free(a);
	for (d = a->devs; d; d = n) {
		n = d->next;
		poll_device_removed(d);
		free(d);
	}
	a->devs = NULL;
	a->ndevs = 0;
	memset(a->inv_hash, 0, sizeof(a->inv_hash));
}

cJSON *
inv_json(const struct inv_dev *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "address", d->address);
	cJSON_AddNumberToObject(o, "port", d->port);
	cJSON_AddStringToObject(o, "version", config_version_name(d->version));
	cJSON_AddStringToObject(o, "credential", d->cred);
	cJSON_AddStringToObject(o, "sys_name", d->sys_name);
	cJSON_AddStringToObject(o, "sys_descr", d->sys_descr);
	cJSON_AddStringToObject(o, "sys_object_id", d->sys_object_id);
	cJSON_AddNumberToObject(o, "sys_uptime", (double)d->sys_uptime);
	cJSON_AddNumberToObject(o, "first_seen_ms", (double)d->first_seen_ms);
	cJSON_AddNumberToObject(o, "last_seen_ms", (double)d->last_seen_ms);
	if (d->engine_id[0])
		cJSON_AddStringToObject(o, "engine_id", d->engine_id);
	return o;
}

static void
copy_str(const cJSON *o, const char *key, char *dst, size_t len)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	snprintf(dst, len, "%s", v ? v : "");
	/* A state file written before device text was checked. */
	utf8_repair(dst, len);
}

static double
get_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : 0;
}

/* Read state_dir/inventory.json; a bad file is set aside, not fatal. */
void
inv_load(struct agent *a)
{
	char path[600], bad[640], *buf;
	const cJSON *item;
	cJSON *arr;
	struct stat st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/inventory.json", a->cfg->agent.state_dir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fstat(fileno(f), &st) == -1 || (uint64_t)st.st_size > INV_FILE_MAX) {
		fclose(f);
		log_error("%s: too large; ignored", path);
		return;
	}
	buf = xcalloc((size_t)st.st_size + 1, 1);
	n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	buf[n] = '\0';
	arr = cJSON_Parse(buf);
	free(buf);
	if (!cJSON_IsArray(arr)) {
		snprintf(bad, sizeof(bad), "%s.corrupt", path);
		log_error("%s: not a JSON array; moved to %s, starting with an empty "
		    "inventory", path, bad);
		(void)rename(path, bad);
		cJSON_Delete(arr);
		return;
	}
	cJSON_ArrayForEach(item, arr) {
		const char *addr = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(item, "address"));
		double port = get_num(item, "port");
		struct inv_dev *d;
		const char *vs;
		int v;

		if (addr == NULL || port < 1 || port > 65535 ||
		    (d = inv_add(a, addr, (unsigned)port)) == NULL)
			continue;
		copy_str(item, "credential", d->cred, sizeof(d->cred));
		copy_str(item, "sys_name", d->sys_name, sizeof(d->sys_name));
		copy_str(item, "sys_descr", d->sys_descr, sizeof(d->sys_descr));
		copy_str(item, "sys_object_id", d->sys_object_id, sizeof(d->sys_object_id));
		copy_str(item, "engine_id", d->engine_id, sizeof(d->engine_id));
		vs = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "version"));
		v = config_parse_version(vs ? vs : "2c");
		d->version = v < 0 ? CFG_SNMP_V2C : v;
		d->sys_uptime = (uint64_t)get_num(item, "sys_uptime");
		d->first_seen_ms = (uint64_t)get_num(item, "first_seen_ms");
		d->last_seen_ms = (uint64_t)get_num(item, "last_seen_ms");
	}
	cJSON_Delete(arr);
	log_info("inventory: %zu devices from %s", a->ndevs, path);
}

void
inv_send(struct agent *a)
{
	if (!a->transport_closed)
		for (const struct inv_dev *d = a->devs; d; d = d->next)
			transport_add(a->tp, "inventory", inv_json(d));
}

int
inv_save(struct agent *a)
{
	const char *dir = a->cfg->agent.state_dir;
	cJSON *arr = cJSON_CreateArray();
	struct platform_buf part;
	char *text;
	int rc = -1;

	for (const struct inv_dev *d = a->devs; d; d = d->next)
		cJSON_AddItemToArray(arr, inv_json(d));
	text = cJSON_Print(arr);
	cJSON_Delete(arr);
	if (text == NULL)
		errno = ENOMEM;
	else {
		part.p = text;
		part.len = strlen(text);
		rc = platform_replace_file(dir, "inventory.json", &part, 1);
	}
	if (rc == -1)
		log_error("cannot write %s/inventory.json: %s", dir, strerror(errno));
	free(text);
	return rc;
}
