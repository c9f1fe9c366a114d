/*
 * Bytes on the wire, both directions: gzip with a maximum (a zip bomb
 * stops at the maximum, not at the end of memory), JSON depth checked
 * before cJSON recurses, a batch's top-level schema, bearer tokens and
 * the token file.
 */
#include "protocol/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core.h"

int
proto_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream z = { 0 };
	unsigned char *buf;
	size_t cap;
	int rc;

	if (len > UINT_MAX)
		return PROTO_TOO_BIG;
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952), as the hub requires */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return PROTO_BAD;
	cap = deflateBound(&z, (uLong)len) + 32;
	if ((buf = malloc(cap)) == NULL) {
		deflateEnd(&z);
		return PROTO_BAD;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return PROTO_BAD;
	}
	*out = buf;
	return PROTO_OK;
}

/* Append n bytes, growing by doubling up to max (+1 for the NUL). */
static int
proto_out_add(char **buf, size_t *len, size_t *cap, size_t max,
    const unsigned char *p, size_t n)
{
	if (n > max - *len)
		return -1;
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 16384;
		char *nb;

		while (c < *len + n + 1)
			c *= 2;
		if (c > max + 1)
			c = max + 1;
		if ((nb = realloc(*buf, c)) == NULL)
			return -1;
		*buf = nb;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int
proto_gunzip(const void *in, size_t inlen, size_t max, char **out,
    size_t *outlen, char *err, size_t errlen)
{
	unsigned char chunk[65536];
	char *buf = NULL;
	size_t len = 0, cap = 0;
	z_stream zs;
	int zrc, rc = PROTO_OK;

	*out = NULL;
	*outlen = 0;
	if (inlen > UINT_MAX) {
		snprintf(err, errlen, "compressed body too large");
		return PROTO_TOO_BIG;
	}
	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: gzip wrapper only (RFC 1952). */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		snprintf(err, errlen, "out of memory");
		return PROTO_BAD;
	}
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (unsigned)inlen;
	for (;;) {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zrc = inflate(&zs, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
			snprintf(err, errlen, "invalid gzip data%s%s",
			    zs.msg ? ": " : "", zs.msg ? zs.msg : "");
			rc = PROTO_BAD;
			break;
		}
		if (proto_out_add(&buf, &len, &cap, max, chunk,
		    sizeof(chunk) - zs.avail_out) == -1) {
			snprintf(err, errlen, "body inflates to more than %zu bytes",
			    max);
			rc = PROTO_TOO_BIG;
			break;
		}
		if (zrc == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* Another gzip member follows (RFC 1952 2.2). */
			if (inflateReset(&zs) != Z_OK) {
				snprintf(err, errlen, "invalid gzip data");
				rc = PROTO_BAD;
				break;
			}
			continue;
		}
		if (zrc == Z_BUF_ERROR || (zs.avail_in == 0 && zs.avail_out != 0)) {
			/* No progress possible: the input ended mid-stream. */
			snprintf(err, errlen, "truncated gzip data");
			rc = PROTO_BAD;
			break;
		}
	}
	inflateEnd(&zs);
	if (rc == PROTO_OK && buf == NULL &&
	    proto_out_add(&buf, &len, &cap, max, chunk, 0) == -1) {
		snprintf(err, errlen, "out of memory");
		rc = PROTO_BAD;
	}
	if (rc != PROTO_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return PROTO_OK;
}

int
proto_json_depth(const char *s, size_t len, int max)
{
	int depth = 0, deepest = 0;
	bool in_str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > deepest && (deepest = depth) > max)
				return deepest;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return deepest;
}

int
proto_batch_check(const cJSON *batch, int64_t *batch_id, char *err,
    size_t errlen)
{
	static const char *const arrays[] = { "results", "inventory", "samples",
	    "events" };

	if (!cJSON_IsObject(batch) ||
	    !json_int_exact(cJSON_GetObjectItemCaseSensitive(batch, "batch_id"), 1,
	    (INT64_C(1) << 53) - 1, batch_id)) {
		snprintf(err, errlen, "batch_id must be an integer, 1 to 2^53-1");
		return PROTO_BAD;
	}
	for (size_t i = 0; i < countof(arrays); i++) {
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(batch, arrays[i]);

		if (j != NULL && !cJSON_IsNull(j) && !cJSON_IsArray(j)) {
			snprintf(err, errlen, "results, inventory, samples and "
			    "events must be arrays");
			return PROTO_BAD;
		}
	}
	return PROTO_OK;
}

bool
proto_token_valid(const char *s, size_t len)
{
	if (len == 0 || len > PROTO_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' ||
		    c == '-'))
			return false;
	}
	return true;
}

/* Read at most max bytes of fd into tmp (tmp has max + 1). */
static ssize_t
proto_read_all(int fd, char *tmp, size_t max)
{
	size_t n = 0;

	while (n < max) {
		ssize_t r = read(fd, tmp + n, max - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	tmp[n] = '\0';
	return (ssize_t)n;
}

int
proto_token_read(const char *path, char *buf, size_t len, char *err,
    size_t errlen)
{
	char tmp[PROTO_TOKEN_MAX + 64], what[512], fix[1200];
	struct stat st;
	ssize_t r;
	size_t n;
	int fd, rc = -1;

	if (len == 0) {
		snprintf(err, errlen, "%s: no room for the token", path);
		return -1;
	}
	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "token file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (platform_secret_exposed(fd, path, what, sizeof(what), fix,
	    sizeof(fix)) != 0) {
		snprintf(err, errlen, "token file %s is a secret but is %s: run %s",
		    path, what, fix);
		close(fd);
		return -1;
	}
	r = proto_read_all(fd, tmp, sizeof(tmp) - 1);
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		goto out;
	}
	n = (size_t)r;
	while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r' ||
	    tmp[n - 1] == ' ' || tmp[n - 1] == '\t'))
		tmp[--n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "token file %s is empty", path);
	} else if (n > PROTO_TOKEN_MAX || n >= len) {
		snprintf(err, errlen, "token file %s: the token is longer than %d "
		    "characters", path, n >= len && len <= PROTO_TOKEN_MAX ?
		    (int)len - 1 : PROTO_TOKEN_MAX);
	} else if (!proto_token_valid(tmp, n)) {
		snprintf(err, errlen, "token file %s: the token may only hold "
		    "A-Za-z0-9._~- (one line)", path);
	} else {
		memcpy(buf, tmp, n + 1);
		rc = 0;
	}
out:
	platform_memzero(tmp, sizeof(tmp));
	return rc;
}
