/*
 * Small things the hub's files share: bounded buffers, tokens, names,
 * the admin token file, wall-clock times.
 */
#include "hub/hub_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

static bool
hub_char_token(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' ||
	    c == '-';
}

static bool
hub_char_name(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool
hub_token_valid(const char *s, size_t len)
{
	if (len == 0 || len > HUB_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!hub_char_token((unsigned char)s[i]))
			return false;
	return true;
}

bool
hub_id_valid(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (n >= max || !hub_char_name((unsigned char)s[n]))
			return false;
	return n > 0;
}

bool
hub_name_valid(const char *s)
{
	return hub_id_valid(s, HUB_NAME_MAX);
}

static int
hub_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
hub_token_generate(char *out, size_t outlen)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];   /* 32 random bytes, one zero pad */
	size_t o = 0;

	if (outlen < 44 || hub_random(raw, 32) == -1)
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
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int
hub_random_id(char out[33])
{
	unsigned char raw[16];

	if (hub_random(raw, sizeof(raw)) == -1)
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
	explicit_bzero(chunk, sizeof(chunk));
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
	explicit_bzero(chunk, sizeof(chunk));
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	hub_buf_free(&b);
	return -1;
}

int
hub_secret_read(const char *path, char *buf, size_t len, char *err,
    size_t errlen)
{
	struct stat st;
	char *data;
	size_t n;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "%s: holds a secret but is accessible by "
		    "group/others (mode %04o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (hub_file_read(path, HUB_SECRET_FILE_MAX, &data, &n, err, errlen) == -1)
		return -1;
	if (n > 0 && data[n - 1] == '\n')
		n--;
	if (n > 0 && data[n - 1] == '\r')
		n--;
	if (!hub_token_valid(data, n) || n >= len) {
		snprintf(err, errlen, "%s: the token must be 1-%d characters of "
		    "A-Za-z0-9._~- on one line", path, HUB_TOKEN_MAX);
		explicit_bzero(data, n);
		free(data);
		return -1;
	}
	memcpy(buf, data, n);
	buf[n] = '\0';
	explicit_bzero(data, n);
	free(data);
	return 0;
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
