/*
 * The open batch. Items are serialized when they are added (the caller's
 * cJSON tree is freed at once), so the batch's size is known exactly and
 * closing it is a concatenation, not a second walk of every tree.
 */
#include "transport/transport_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const char *const tp_batch_kind_names[BATCH_KINDS] = {
	"results", "inventory", "samples", "events",
};

int
tp_buf_add(struct tp_buf *b, const void *p, size_t len)
{
	if (len > b->max || b->len > b->max - len)
		return -1;
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		char *np;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		if (ncap > b->max + 1)
			ncap = b->max + 1;
		np = realloc(b->data, ncap);
		if (np == NULL)
			return -1;
		b->data = np;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void
tp_buf_free(struct tp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
tp_batch_kind(const char *name)
{
	for (int i = 0; i < BATCH_KINDS; i++)
		if (name != NULL && strcmp(name, tp_batch_kind_names[i]) == 0)
			return i;
	return -1;
}

size_t
tp_batch_bytes(const struct batch *b)
{
	size_t n = 0;

	for (int i = 0; i < BATCH_KINDS; i++)
		n += b->parts[i].len;
	return n;
}

bool
tp_batch_empty(const struct batch *b)
{
	for (int i = 0; i < BATCH_KINDS; i++)
		if (b->nitems[i] > 0)
			return false;
	return true;
}

int
tp_batch_append(struct batch *b, int kind, const char *json, size_t len)
{
	struct tp_buf *p = &b->parts[kind];
	size_t old = p->len, fixed = 0;
	char *repaired = NULL;
	int rc = 0;

	/* Last line of defence: the hub refuses a batch that is not UTF-8
	 * (and the agent then quarantines all of it). Outside strings JSON
	 * is ASCII, so U+FFFD for bad bytes keeps the item valid JSON. */
	if (!utf8_valid(json, len, NULL)) {
		if ((repaired = utf8_fixed_copy(json, len, &len, &fixed)) == NULL)
			return -1;
		json = repaired;
		log_warn("batch: a %s item held %zu bytes of invalid UTF-8: "
		    "sent as U+FFFD", tp_batch_kind_names[kind], fixed);
	}
	if (p->max == 0)
		p->max = TP_UPLOAD_MAX_JSON;
	if ((b->nitems[kind] > 0 && tp_buf_add(p, ",", 1) == -1) ||
	    tp_buf_add(p, json, len) == -1) {
		p->len = old;
		rc = -1;
	} else {
		b->nitems[kind]++;
	}
	free(repaired);
	return rc;
}

void
tp_batch_reset(struct batch *b)
{
	for (int i = 0; i < BATCH_KINDS; i++) {
		tp_buf_free(&b->parts[i]);
		b->nitems[i] = 0;
	}
}

char *
tp_batch_serialize(const struct batch *b, uint64_t batch_id,
    const char *agent_version, uint64_t created_ms, uint64_t dropped_samples,
    const cJSON *counters, size_t *len)
{
	cJSON *head = cJSON_CreateObject();
	struct tp_buf out = { .max = TP_UPLOAD_MAX_JSON };
	char *h = NULL, idtxt[24];
	size_t hlen;
	int ok = 1;

	if (head == NULL)
		return NULL;
	/* Raw digits: cJSON prints 16-digit doubles rounded. */
	snprintf(idtxt, sizeof(idtxt), "%" PRIu64, batch_id);
	cJSON_AddRawToObject(head, "batch_id", idtxt);
	cJSON_AddStringToObject(head, "agent_version", agent_version);
	cJSON_AddNumberToObject(head, "created_ms", (double)created_ms);
	cJSON_AddNumberToObject(head, "dropped_samples", (double)dropped_samples);
	cJSON_AddNumberToObject(head, "dropped_events", (double)b->dropped_events);
	cJSON_AddItemToObject(head, "counters", counters ?
	    cJSON_Duplicate(counters, true) : cJSON_CreateObject());
	h = cJSON_PrintUnformatted(head);
	cJSON_Delete(head);
	if (h == NULL || (hlen = strlen(h)) < 2)
		goto fail;
	/* head is {...}: drop its '}', append the arrays, close it. */
	ok &= tp_buf_add(&out, h, hlen - 1) == 0;
	for (int i = 0; i < BATCH_KINDS; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), ",\"%s\":[", tp_batch_kind_names[i]);
		ok &= tp_buf_add(&out, key, (size_t)n) == 0;
		ok &= tp_buf_add(&out, b->parts[i].data ? b->parts[i].data : "",
		    b->parts[i].len) == 0;
		ok &= tp_buf_add(&out, "]", 1) == 0;
	}
	ok &= tp_buf_add(&out, "}", 1) == 0;
	if (!ok)
		goto fail;
	cJSON_free(h);
	*len = out.len;
	return out.data;
fail:
	cJSON_free(h);
	tp_buf_free(&out);
	return NULL;
}

/* Move items [from, to) of the concatenation of the three arrays of src
 * into dst's arrays. */
static int
tp_batch_split_copy(const cJSON *src, cJSON *dst, size_t from, size_t to,
    uint32_t *nsamples)
{
	size_t idx = 0;

	*nsamples = 0;
	for (int k = 0; k < BATCH_KINDS; k++) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(src,
		    tp_batch_kind_names[k]), *it;
		cJSON *out = cJSON_AddArrayToObject(dst, tp_batch_kind_names[k]);

		if (out == NULL)
			return -1;
		cJSON_ArrayForEach(it, arr) {
			if (idx >= from && idx < to) {
				cJSON *c = cJSON_Duplicate(it, true);
				if (c == NULL)
					return -1;
				cJSON_AddItemToArray(out, c);
				if (k == BATCH_SAMPLES)
					(*nsamples)++;
			}
			idx++;
		}
	}
	return 0;
}

static char *
tp_batch_split_half(const cJSON *src, uint64_t id, bool first, size_t from,
    size_t to, size_t *len, uint32_t *nsamples)
{
	cJSON *dst = cJSON_CreateObject(), *it;
	char *s = NULL, idtxt[24];

	if (dst == NULL)
		return NULL;
	/* Unknown fields travel with the first half (forward compatible). */
	cJSON_ArrayForEach(it, src) {
		if (it->string == NULL || tp_batch_kind(it->string) >= 0 ||
		    strcmp(it->string, "batch_id") == 0 ||
		    strcmp(it->string, "dropped_samples") == 0)
			continue;
		if (!first && strcmp(it->string, "agent_version") != 0 &&
		    strcmp(it->string, "created_ms") != 0 &&
		    strcmp(it->string, "counters") != 0)
			continue;
		cJSON_AddItemToObject(dst, it->string, cJSON_Duplicate(it, true));
	}
	snprintf(idtxt, sizeof(idtxt), "%" PRIu64, id);
	cJSON_AddRawToObject(dst, "batch_id", idtxt);
	it = cJSON_GetObjectItemCaseSensitive(src, "dropped_samples");
	cJSON_AddNumberToObject(dst, "dropped_samples",
	    first && cJSON_IsNumber(it) ? it->valuedouble : 0);
	if (tp_batch_split_copy(src, dst, from, to, nsamples) == 0)
		s = cJSON_PrintUnformatted(dst);
	cJSON_Delete(dst);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

int
tp_batch_split(const char *json, size_t len, uint64_t id_a, uint64_t id_b,
    char **a, size_t *alen, uint32_t *a_samples,
    char **b, size_t *blen, uint32_t *b_samples)
{
	char err[200];
	/* Exact: a sample's Counter64 must not pass through a double. */
	cJSON *root = json_parse_exact(json, len, err, sizeof(err));
	size_t total = 0;
	int rc = -1;

	*a = *b = NULL;
	if (!cJSON_IsObject(root))
		goto out;
	for (int k = 0; k < BATCH_KINDS; k++) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root,
		    tp_batch_kind_names[k]);
		if (arr != NULL && !cJSON_IsArray(arr))
			goto out;
		total += (size_t)cJSON_GetArraySize(arr);
	}
	if (total <= 1) {
		rc = 1;
		goto out;
	}
	*a = tp_batch_split_half(root, id_a, true, 0, total / 2, alen, a_samples);
	*b = tp_batch_split_half(root, id_b, false, total / 2, total, blen, b_samples);
	if (*a == NULL || *b == NULL) {
		cJSON_free(*a);
		cJSON_free(*b);
		*a = *b = NULL;
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}
