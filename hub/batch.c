/*
 * A batch without one tree of the whole of it (hub_int.h, "batch.c").
 *
 * cJSON spends ~64 bytes per value: a 60 MiB batch of [0,0,...] took
 * gigabytes as one tree. Here the inflated text is checked once as text
 * (depth, grammar, strict UTF-8: the 400 names the batch and the JSON
 * path), then a scanner splits it into its top-level members and its
 * arrays into entries; the store parses and stores one entry at a time
 * (store.c, hub_store_batch_rows) and skips, unparsed, entries that are
 * not objects. A batch's memory is its inflated text (at most
 * PROTO_UPLOAD_MAX_JSON) plus the tree of its largest entry.
 *
 * It all runs on a store worker (work.c), never on the loop.
 */
#include "hub/hub_int.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inflated batches larger than this give their memory back to the
 * system when done (glibc keeps freed heap otherwise). */
#define HUB_BATCH_TRIM_AT (1u << 20)

static const char *
scan_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The end of the value at p, in text already checked (json_exact). */
static const char *
scan_value(const char *p, const char *end)
{
	int depth = 0;

	do {
		if (p >= end)
			return end;
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			p++;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			depth--;
			p++;
		} else if (depth == 0) {
			/* a number, true, false or null */
			while (p < end && strchr(",]} \t\r\n", *p) == NULL)
				p++;
		} else {
			p++;
		}
	} while (depth > 0);
	return p;
}

static const bool scan_stop[256] = {
	['{'] = true, ['"'] = true, ['['] = true, [']'] = true,
};

bool
hub_batch_next_object(struct hub_span *it, struct hub_span *entry)
{
	const char *p = it->p, *end = it->p + it->n;

	if (p < end && p == it->p && *p == '[')
		p++;   /* the array's own bracket */
	for (;;) {
		/* Numbers, true, false, null, commas and blanks hold none of
		 * these four: 60 MiB of [0,0,...] is one tight loop. */
		while (p < end && !scan_stop[(unsigned char)*p])
			p++;
		if (p >= end || *p == ']') {
			it->p = end;
			it->n = 0;
			return false;
		}
		if (*p == '{')
			break;
		p = scan_value(p, end);   /* a string or an array: skipped */
	}
	entry->p = p;
	p = scan_value(p, end);
	entry->n = (size_t)(p - entry->p);
	it->n -= (size_t)(p - it->p);
	it->p = p;
	return true;
}

/* A member's key, unescaped when it has escapes (rare). */
static bool
scan_key_is(const char *k, size_t n, const char *want)
{
	cJSON *j;
	bool eq;

	if (memchr(k, '\\', n) == NULL)
		return strlen(want) == n - 2 && memcmp(k + 1, want, n - 2) == 0;
	if ((j = cJSON_ParseWithLength(k, n)) == NULL)
		return false;
	eq = cJSON_IsString(j) && strcmp(j->valuestring, want) == 0;
	cJSON_Delete(j);
	return eq;
}

/* The members the hub reads besides the arrays, parsed one by one. */
static const char *const batch_head_keys[] = {
	"batch_id", "agent_version", "created_ms", "dropped_samples", "counters",
	"dropped_events",
};
static const char *const batch_arrays[] = {
	"results", "inventory", "samples", "events",
};

static int
scan_member(struct hub_batch *b, const char *k, size_t kn, const char *v,
    size_t vn, char *err, size_t errlen)
{
	for (size_t i = 0; i < countof(batch_arrays); i++) {
		if (!scan_key_is(k, kn, batch_arrays[i]))
			continue;
		/* The first of duplicate keys counts, as cJSON reads them. */
		if (cJSON_GetObjectItemCaseSensitive(b->head, batch_arrays[i]))
			return 0;
		if (*v == '[') {
			b->arr[i].p = v;
			b->arr[i].n = vn;
			cJSON_AddItemToObject(b->head, batch_arrays[i],
			    cJSON_CreateArray());
		} else if (*v == 'n') {
			cJSON_AddNullToObject(b->head, batch_arrays[i]);
		} else {
			/* the schema check below refuses it */
			cJSON_AddFalseToObject(b->head, batch_arrays[i]);
		}
		return 0;
	}
	for (size_t i = 0; i < countof(batch_head_keys); i++) {
		cJSON *j;

		if (!scan_key_is(k, kn, batch_head_keys[i]) ||
		    cJSON_GetObjectItemCaseSensitive(b->head, batch_head_keys[i]))
			continue;
		if (hub_json_parse(v, vn, &j, err, errlen) != HUB_IN_OK)
			return -1;
		cJSON_AddItemToObject(b->head, batch_head_keys[i], j);
		return 0;
	}
	return 0;   /* not read by the hub */
}

int
hub_batch_scan(const char *s, size_t len, struct hub_batch *b, char *err,
    size_t errlen)
{
	const char *p, *end = s + len;
	int rc;

	memset(b, 0, sizeof(*b));
	b->text = s;
	b->len = len;
	if ((rc = hub_json_check(s, len, err, errlen)) != HUB_IN_OK)
		return rc;
	if ((b->head = cJSON_CreateObject()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return HUB_IN_TOO_BIG;
	}
	p = scan_ws(s, end);
	if (p < end && *p == '{') {
		p = scan_ws(p + 1, end);
		while (p < end && *p == '"') {
			const char *k = p, *v;

			p = scan_value(p, end);
			v = scan_ws(scan_ws(p, end) + 1, end);   /* past ':' */
			p = scan_value(v, end);
			if (scan_member(b, k, (size_t)(scan_value(k, end) - k), v,
			    (size_t)(p - v), err, errlen) == -1) {
				hub_batch_free(b);
				return HUB_IN_BAD;
			}
			p = scan_ws(p, end);
			if (p < end && *p == ',')
				p = scan_ws(p + 1, end);
		}
	} else {
		cJSON_Delete(b->head);
		b->head = cJSON_CreateNull();   /* not an object: refused below */
	}
	if (proto_batch_check(b->head, &b->batch_id, err, errlen) != PROTO_OK) {
		hub_batch_free(b);
		return HUB_IN_BAD;
	}
	return HUB_IN_OK;
}

void
hub_batch_free(struct hub_batch *b)
{
	cJSON_Delete(b->head);
	b->head = NULL;
}

/* ---- the job: inflate, check, split (prep), then store (run) ---- */

void
hub_batch_prep(struct hub_job *j)
{
	struct hub_call *c = (struct hub_call *)j;
	struct hub_batch *b = xcalloc(1, sizeof(*b));
	int rc;

	rc = proto_gunzip(c->upload.data, c->upload.len, PROTO_UPLOAD_MAX_JSON,
	    &c->text_in, &c->jlen, c->err, sizeof(c->err));
	hub_buf_free(&c->upload);
	if (rc == HUB_IN_OK)
		rc = hub_batch_scan(c->text_in, c->jlen, b, c->err, sizeof(c->err));
	if (rc != HUB_IN_OK) {
		c->http = rc == HUB_IN_TOO_BIG ? 413 : 400;
		free(b);
		hub_batch_end(c);
		return;
	}
	c->batch = b;
}

void
hub_batch_run(struct hub_job *j, struct hub_store *s)
{
	struct hub_call *c = (struct hub_call *)j;
	struct hub_span it, e;

	if (c->batch == NULL)
		return;   /* refused by prep: c->http says why */
	c->batch_id = c->batch->batch_id;
	/* an events entry: the event waiters look (events.c) */
	it = c->batch->arr[3];
	c->had_events = hub_batch_next_object(&it, &e);
	c->json_bytes = c->jlen;
	hub_buf_init(&c->ids, (size_t)64 << 20);
	if (hub_store_batch(s, c->agent_id, c->batch, c->batch_id, wall_ms(),
	    &c->stored, hub_call_add_id, c) == -1) {
		snprintf(c->err, sizeof(c->err), "%s", hub_store_errmsg(s));
		c->http = 503;
	} else {
		c->http = 200;
	}
	hub_batch_end(c);
}

void
hub_batch_end(struct hub_call *c)
{
	size_t jlen = c->jlen;

	if (c->batch != NULL) {
		hub_batch_free(c->batch);
		free(c->batch);
		c->batch = NULL;
	}
	free(c->text_in);
	c->text_in = NULL;
	c->jlen = 0;
	/* glibc keeps freed heap for later; a big batch gives it back. */
	if (jlen >= HUB_BATCH_TRIM_AT)
		malloc_trim(0);
}
