/*
 * Small things the hub's files share: bounded buffers, token hashes and
 * new tokens, random ids, small files, wall-clock times. (Token syntax
 * and the token file reader are protocol/'s.)
 */
#include "hub/hub_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
hub_buf_init(struct hub_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

int
hub_buf_add(struct hub_buf *b, const void *p, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		if ((d = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
hub_buf_str(struct hub_buf *b, const char *s)
{
	return hub_buf_add(b, s, strlen(s));
}

char *
hub_buf_take(struct hub_buf *b)
{
	char *d = b->data;

	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void
hub_buf_free(struct hub_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
hub_token_hash(const char *token, size_t len, unsigned char out[HUB_HASH_LEN])
{
	unsigned int n = HUB_HASH_LEN;

	if (EVP_Digest(token, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != HUB_HASH_LEN) {
		/* Only without memory or a working libcrypto: never let an
		 * unhashed token match anything. */
		log_error("SHA-256 failed");
		abort();
	}
}

int
hub_token_generate(char *out, size_t outlen)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];   /* 32 random bytes, one zero pad */
	size_t o = 0;

	if (outlen < 44 || platform_random(raw, 32) == -1)
		return -1;
	raw[32] = 0;
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    raw[i + 2];

		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (o < 43)
			out[o++] = b64[(v >> 6) & 63];
		if (o < 43)
			out[o++] = b64[v & 63];
	}
	out[43] = '\0';
	platform_memzero(raw, sizeof(raw));
	return 0;
}

int
hub_random_id(char out[33])
{
	unsigned char raw[16];

	if (platform_random(raw, sizeof(raw)) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int
hub_file_read(const char *path, size_t max, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct hub_buf b;
	char chunk[4096];
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	hub_buf_init(&b, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (hub_buf_add(&b, chunk, (size_t)n) == -1) {
			snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
			goto fail;
		}
	}
	close(fd);
	platform_memzero(chunk, sizeof(chunk));
	if (b.len == 0) {
		snprintf(err, errlen, "%s: empty file", path);
		hub_buf_free(&b);
		return -1;
	}
	*outlen = b.len;
	*out = hub_buf_take(&b);
	return 0;
fail:
	close(fd);
	platform_memzero(chunk, sizeof(chunk));
	if (b.data != NULL)
		platform_memzero(b.data, b.len);
	hub_buf_free(&b);
	return -1;
}

void
hub_rfc3339(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ms % 1000));
}
