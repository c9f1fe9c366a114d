/*
 * Strict UTF-8 (RFC 3629): the one definition the agent's value encoder
 * and the hub's ingest checks share. Overlong forms, UTF-16 surrogates
 * (U+D800-U+DFFF) and anything above U+10FFFF are invalid, so a string
 * that passes is valid in JSON text as RFC 8259 requires.
 */
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		if (cp != NULL)
			*cp = s[0];
		return 1;
	}
	/* RFC 3629 section 4: the second byte's range excludes overlongs
	 * (E0, F0), surrogates (ED) and code points past U+10FFFF (F4). */
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;   /* 80-C1 (continuation, overlong lead), F5-FF */
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	c = c << 6 | (s[1] & 0x3f);
	for (size_t i = 2; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (cp != NULL)
		*cp = c;
	return len;
}

bool
utf8_valid(const void *p, size_t n, size_t *bad)
{
	const unsigned char *s = p;
	size_t i = 0, k;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(s + i, n - i, NULL)) == 0) {
			if (bad != NULL)
				*bad = i;
			return false;
		}
		i += k;
	}
	return true;
}

char *
utf8_fixed_copy(const void *p, size_t n, size_t *outlen, size_t *fixed)
{
	const unsigned char *s = p;
	size_t o = 0, k;
	char *out;

	*fixed = 0;
	/* Every invalid byte becomes U+FFFD (3 bytes): at most 3n. */
	if ((out = malloc(3 * n + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += k) {
		if ((k = utf8_seq(s + i, n - i, NULL)) == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
			(*fixed)++;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

size_t
utf8_repair(char *s, size_t size)
{
	size_t n = strlen(s), o, fixed;
	char *out;

	if (size == 0 || utf8_valid(s, n, NULL))
		return 0;
	if ((out = utf8_fixed_copy(s, n, &o, &fixed)) == NULL) {
		s[0] = '\0';
		return 1;
	}
	/* Cut to size at a character boundary. */
	n = o < size - 1 ? o : size - 1;
	while (n > 0 && n < o && ((unsigned char)out[n] & 0xc0) == 0x80)
		n--;
	memcpy(s, out, n);
	s[n] = '\0';
	free(out);
	return fixed;
}
