/*
 * oini: an INI parser that behaves as libinih r55 built with its default
 * options (oini.h says why it exists and which options those are).
 * Written for Outpost from inih's documented behaviour; checked against
 * the real library by tests/unit/test_ini_compat.c.
 */
#include "oini.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* inih's MAX_SECTION and MAX_NAME: with the NUL, so 49 bytes are kept. */
#define OINI_MAX_SECTION 50
#define OINI_MAX_NAME    50

/* A line whose first non-blank byte is one of these is a comment; one of
 * OINI_INLINE ends the text when the byte before it is whitespace. */
#define OINI_START_COMMENT ";#"
#define OINI_INLINE        ";"

/* The C runtime's isspace, as inih's: the same bytes count as blanks. */
static bool
oini_blank(char c)
{
	return isspace((unsigned char)c) != 0;
}

static void
oini_trim_end(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && oini_blank(s[n - 1]))
		s[--n] = '\0';
}

static char *
oini_skip_blank(char *s)
{
	while (*s != '\0' && oini_blank(*s))
		s++;
	return s;
}

/* The first byte of s that is in stop (when not NULL) or starts an
 * inline comment, else the terminating NUL. */
static char *
oini_scan(char *s, const char *stop)
{
	bool after_blank = false;

	for (; *s != '\0'; s++) {
		if (stop != NULL && strchr(stop, *s) != NULL)
			break;
		if (after_blank && strchr(OINI_INLINE, *s) != NULL)
			break;
		after_blank = oini_blank(*s);
	}
	return s;
}

/* Copy at most size - 1 bytes of src and a NUL. */
static void
oini_copy(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	while (n + 1 < size && src[n] != '\0') {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
}

static bool
oini_bom(const char *s)
{
	return (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
	    (unsigned char)s[2] == 0xBF;
}

/* "name = value" or "name: value"; false when there is no separator
 * before the end or an inline comment. prev gets the name (cut). */
static bool
oini_pair(char *s, const char *section, char *prev, oini_handler handler,
    void *user)
{
	char *sep = oini_scan(s, "=:"), *value;

	if (*sep != '=' && *sep != ':')
		return false;
	*sep = '\0';
	oini_trim_end(s);
	value = sep + 1;
	*oini_scan(value, NULL) = '\0';
	value = oini_skip_blank(value);
	oini_trim_end(value);
	oini_copy(prev, OINI_MAX_NAME, s);
	return handler(user, section, s, value) != 0;
}

int
oini_parse_stream(oini_reader reader, void *stream, oini_handler handler,
    void *user)
{
	char line[OINI_MAX_LINE];
	char section[OINI_MAX_SECTION] = "";
	char prev[OINI_MAX_NAME] = "";   /* the last name, for continuations */
	int lineno = 0, first_error = 0;

	while (reader(line, (int)sizeof(line), stream) != NULL) {
		char *s = line, *end;
		bool ok = true;

		lineno++;
		if (lineno == 1 && oini_bom(s))
			s += 3;
		oini_trim_end(s);
		s = oini_skip_blank(s);
		if (*s == '\0' || strchr(OINI_START_COMMENT, *s) != NULL)
			continue;
		if (prev[0] != '\0' && s > line) {
			/* Indented under a name: one more line of its value,
			 * as it is (r55 cuts no inline comment here). */
			ok = handler(user, section, prev, s) != 0;
		} else if (*s == '[') {
			end = oini_scan(s + 1, "]");
			if (*end == ']') {
				*end = '\0';
				oini_copy(section, sizeof(section), s + 1);
				prev[0] = '\0';
			} else {
				ok = false;
			}
		} else {
			ok = oini_pair(s, section, prev, handler, user);
		}
		if (!ok && first_error == 0)
			first_error = lineno;
	}
	return first_error;
}
