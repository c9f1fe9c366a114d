/*
 * JSON text checked strictly and read exactly, for the hub's ingest and
 * the agent's re-reading of its own batches.
 *
 * cJSON is lenient (it takes "01", raw control characters and any bytes
 * in strings) and keeps numbers as doubles, which are exact only below
 * 2^53 and which it prints with 15 significant digits when those read
 * back "close enough": 9007199254740993 comes out as
 * 9.00719925474099e+15. So after cJSON has built its tree, this walks
 * the text and the tree together: the text must be RFC 8259 JSON in
 * strict UTF-8 (RFC 3629), and every integer literal of more than 15
 * digits becomes a cJSON_Raw node holding its digits, which cJSON
 * prints verbatim. Integers of up to 15 digits print exactly as they
 * are (cJSON's "%1.15g").
 */
#include "core/core.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define JSON_EXACT_DIGITS 15
#define JSON_WALK_DEPTH   CJSON_NESTING_LIMIT

#define JSON_PATH_SEGS    24   /* deeper levels are left out of messages */

/* One level of where the walk is: a member name (its raw text) or an
 * array index. Kept as pointers so the path costs nothing until an
 * error message needs it. */
struct jseg {
	const unsigned char *key;    /* NULL: array element */
	size_t               len;    /* key bytes, or the index */
};

struct jwalk {
	const unsigned char *start, *p, *end;
	struct jseg seg[JSON_PATH_SEGS];
	int    depth;
	char  *err;
	size_t errlen;
};

/* The path as text: samples[3].rows.1[2]. Names show printable ASCII,
 * anything else as '?'. */
static void
jw_path(const struct jwalk *w, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < w->depth && i < JSON_PATH_SEGS && o + 1 < len; i++) {
		const struct jseg *g = &w->seg[i];
		int n;

		if (g->key == NULL) {
			n = snprintf(buf + o, len - o, "[%zu]", g->len);
			o = n < 0 || (size_t)n >= len - o ? len - 1 : o + (size_t)n;
			continue;
		}
		if (o > 0)
			buf[o++] = '.';
		for (size_t k = 0; k < g->len && k < 32 && o + 1 < len; k++) {
			unsigned char c = g->key[k];
			buf[o++] = c >= 0x20 && c < 0x7f && c != '\\' ? (char)c : '?';
		}
		buf[o] = '\0';
	}
}

static int
jw_fail(struct jwalk *w, const char *what)
{
	char path[160];

	jw_path(w, path, sizeof(path));
	snprintf(w->err, w->errlen, "%s at byte %zu%s%s%s", what,
	    (size_t)(w->p - w->start), path[0] ? " (in " : "", path,
	    path[0] ? ")" : "");
	return -1;
}

static int
jw_fail_at(struct jwalk *w, const unsigned char *at, const char *what)
{
	w->p = at;
	return jw_fail(w, what);
}

static void
jw_ws(struct jwalk *w)
{
	while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' ||
	    *w->p == '\n' || *w->p == '\r'))
		w->p++;
}

static int
jw_hex4(const unsigned char *p, const unsigned char *end, uint32_t *out)
{
	uint32_t v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* One escape after the backslash at w->p. */
static int
jw_escape(struct jwalk *w)
{
	const unsigned char *bs = w->p;   /* errors point at the backslash */
	uint32_t cp, lo;

	w->p++;
	if (w->p >= w->end)
		return jw_fail(w, "unterminated string");
	if (strchr("\"\\/bfnrt", *w->p) != NULL && *w->p != '\0') {
		w->p++;
		return 0;
	}
	if (*w->p != 'u' || jw_hex4(w->p + 1, w->end, &cp) == -1)
		return jw_fail_at(w, bs, "invalid escape in a string");
	if (cp == 0)   /* C strings end there: the rest would be lost */
		return jw_fail_at(w, bs, "\\u0000 in a string");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return jw_fail_at(w, bs, "invalid UTF-16 escape (unpaired low "
		    "surrogate)");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (w->end - w->p < 11 || w->p[5] != '\\' || w->p[6] != 'u' ||
		    jw_hex4(w->p + 7, w->end, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
			return jw_fail_at(w, bs, "invalid UTF-16 escape (unpaired "
			    "high surrogate)");
		w->p += 6;
	}
	w->p += 5;
	return 0;
}

/* A string at w->p (on its quote). */
static int
jw_string(struct jwalk *w)
{
	size_t k;

	w->p++;
	for (;;) {
		unsigned char c;

		if (w->p >= w->end)
			return jw_fail(w, "unterminated string");
		c = *w->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return jw_fail(w, "control character in a string");
		if (c == '\\') {
			if (jw_escape(w) == -1)
				return -1;
		} else if (c >= 0x80) {
			if ((k = utf8_seq(w->p, (size_t)(w->end - w->p), NULL)) == 0)
				return jw_fail(w, "invalid UTF-8");
			w->p += k;
		} else {
			w->p++;
		}
	}
	w->p++;
	return 0;
}

static bool
jw_digit(const struct jwalk *w)
{
	return w->p < w->end && *w->p >= '0' && *w->p <= '9';
}

static int
jw_number(struct jwalk *w, cJSON *node)
{
	const unsigned char *b = w->p;
	bool integer = true;
	size_t digits;
	char *txt;

	if (*w->p == '-')
		w->p++;
	if (!jw_digit(w))
		return jw_fail(w, "invalid number");
	if (*w->p++ != '0')
		while (jw_digit(w))
			w->p++;
	if (w->p < w->end && *w->p == '.') {
		integer = false;
		w->p++;
		if (!jw_digit(w))
			return jw_fail(w, "invalid number");
		while (jw_digit(w))
			w->p++;
	}
	if (w->p < w->end && (*w->p == 'e' || *w->p == 'E')) {
		integer = false;
		w->p++;
		if (w->p < w->end && (*w->p == '+' || *w->p == '-'))
			w->p++;
		if (!jw_digit(w))
			return jw_fail(w, "invalid number");
		while (jw_digit(w))
			w->p++;
	}
	digits = (size_t)(w->p - b) - (*b == '-');
	if (!integer || digits <= JSON_EXACT_DIGITS || node == NULL)
		return 0;
	/* Keep the digits: cJSON prints a raw node as it is. */
	if ((txt = cJSON_malloc((size_t)(w->p - b) + 1)) == NULL)
		return jw_fail(w, "out of memory");
	memcpy(txt, b, (size_t)(w->p - b));
	txt[w->p - b] = '\0';
	node->type = cJSON_Raw;
	node->valuestring = txt;
	return 0;
}

static int jw_value(struct jwalk *, cJSON *);

static int
jw_container(struct jwalk *w, cJSON *node, bool object)
{
	unsigned char close = object ? '}' : ']';
	cJSON *child = node != NULL ? node->child : NULL;
	struct jseg *g = w->depth < JSON_PATH_SEGS ? &w->seg[w->depth] : NULL;

	if (w->depth >= JSON_WALK_DEPTH)
		return jw_fail(w, "JSON nested too deep");
	w->p++;
	jw_ws(w);
	if (w->p < w->end && *w->p == close) {
		w->p++;
		return 0;
	}
	for (size_t i = 0;; i++) {
		if (child == NULL && node != NULL)
			return jw_fail(w, "JSON text and tree differ");
		jw_ws(w);
		if (object) {
			const unsigned char *k = w->p + 1;

			if (w->p >= w->end || *w->p != '"')
				return jw_fail(w, "expected a member name");
			if (jw_string(w) == -1)
				return -1;
			if (g != NULL)
				*g = (struct jseg){ k, (size_t)(w->p - 1 - k) };
			jw_ws(w);
			if (w->p >= w->end || *w->p != ':')
				return jw_fail(w, "expected ':'");
			w->p++;
		} else if (g != NULL) {
			*g = (struct jseg){ NULL, i };
		}
		w->depth++;
		if (jw_value(w, child) == -1)
			return -1;
		w->depth--;
		child = child != NULL ? child->next : NULL;
		jw_ws(w);
		if (w->p < w->end && *w->p == ',') {
			w->p++;
			continue;
		}
		if (w->p < w->end && *w->p == close)
			break;
		return jw_fail(w, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	w->p++;
	return child == NULL ? 0 : jw_fail(w, "JSON text and tree differ");
}

static int
jw_literal(struct jwalk *w, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(w->end - w->p) < n || memcmp(w->p, lit, n) != 0)
		return jw_fail(w, "invalid JSON value");
	w->p += n;
	return 0;
}

static int
jw_value(struct jwalk *w, cJSON *node)
{
	jw_ws(w);
	if (w->p >= w->end)
		return jw_fail(w, "unexpected end of JSON");
	switch (*w->p) {
	/* node NULL: only check the text. */
	case '{':
		if (node != NULL && !cJSON_IsObject(node))
			break;
		return jw_container(w, node, true);
	case '[':
		if (node != NULL && !cJSON_IsArray(node))
			break;
		return jw_container(w, node, false);
	case '"':
		if (node != NULL && !cJSON_IsString(node))
			break;
		return jw_string(w);
	case 't':
		return jw_literal(w, "true");
	case 'f':
		return jw_literal(w, "false");
	case 'n':
		return jw_literal(w, "null");
	default:
		if (node != NULL && !cJSON_IsNumber(node))
			break;
		return jw_number(w, node);
	}
	return jw_fail(w, "JSON text and tree differ");
}

int
json_exact(const char *s, size_t len, struct cJSON *tree, char *err,
    size_t errlen)
{
	struct jwalk w = {
		.start = (const unsigned char *)s, .p = (const unsigned char *)s,
		.end = (const unsigned char *)s + len, .err = err, .errlen = errlen,
	};

	if (jw_value(&w, tree) == -1)
		return -1;
	jw_ws(&w);
	if (w.p != w.end)
		return jw_fail(&w, "data after the JSON value");
	return 0;
}

struct cJSON *
json_parse_exact(const char *s, size_t len, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, false);

	if (j == NULL) {
		/* The strict walk names the problem better, when it sees one. */
		if (json_exact(s, len, NULL, err, errlen) == 0)
			snprintf(err, errlen, "invalid JSON at byte %zu",
			    end != NULL && end >= s ? (size_t)(end - s) : (size_t)0);
		return NULL;
	}
	if (json_exact(s, len, j, err, errlen) == -1) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

bool
json_int_exact(const struct cJSON *j, int64_t min, int64_t max, int64_t *out)
{
	int64_t v;

	if (cJSON_IsRaw(j) && j->valuestring != NULL) {
		if (parse_int(j->valuestring, min, max, &v) == -1)
			return false;
		*out = v;
		return true;
	}
	if (!cJSON_IsNumber(j))
		return false;
	/* Up to 15 digits (the rest are raw): every one is exact. */
	if (!(j->valuedouble >= -1e15 && j->valuedouble <= 1e15) ||
	    j->valuedouble != (double)(int64_t)j->valuedouble)
		return false;
	v = (int64_t)j->valuedouble;
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool
json_top_int(const char *s, size_t len, const char *key, int64_t *out)
{
	char err[8];
	struct jwalk w = {
		.start = (const unsigned char *)s, .p = (const unsigned char *)s,
		.end = (const unsigned char *)s + len, .err = err, .errlen = sizeof(err),
	};
	size_t klen = strlen(key);

	jw_ws(&w);
	if (w.p >= w.end || *w.p != '{')
		return false;
	w.p++;
	for (;;) {
		const unsigned char *k, *v;
		bool match;

		jw_ws(&w);
		k = w.p + 1;
		if (w.p >= w.end || *w.p != '"' || jw_string(&w) == -1)
			return false;
		match = (size_t)(w.p - 1 - k) == klen && memcmp(k, key, klen) == 0;
		jw_ws(&w);
		if (w.p >= w.end || *w.p++ != ':')
			return false;
		jw_ws(&w);
		v = w.p;
		if (jw_value(&w, NULL) == -1)
			return false;
		if (match) {
			char digits[24];
			size_t n = (size_t)(w.p - v);

			if (n >= sizeof(digits))
				return false;
			memcpy(digits, v, n);
			digits[n] = '\0';
			return parse_int(digits, INT64_MIN, INT64_MAX, out) == 0;
		}
		jw_ws(&w);
		if (w.p >= w.end || *w.p++ != ',')
			return false;
	}
}
