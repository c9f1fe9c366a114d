/*
 * packaging/windows/ini/oini.c, the Windows build's stand-in for libinih
 * (oini.h says why), against the libinih Linux links: both parse the
 * same documents through the same reader and handler, and every reader
 * call's size, every handler call (section, name, value) and the result
 * must be the same. A corpus of the cases inih's rules distinguish, then
 * generated documents of the bytes those rules look at.
 * Linux only: on Windows libinih is oini itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <ini.h>

#include "packaging/windows/ini/oini.h"

#define TRACE_MAX 65536   /* one parse's record */
#define DOC_MAX   4096    /* one generated document */

struct trace {
	const char *doc;      /* what the reader hands out, fgets-style */
	size_t      pos;
	size_t      len;      /* of the record */
	bool        full;
	char        text[TRACE_MAX];
};

static void
trace_add(struct trace *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->text + t->len, sizeof(t->text) - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(t->text) - t->len)
		t->full = true;
	else
		t->len += (size_t)n;
}

/* fgets over the document: up to num - 1 bytes, through the next '\n'. */
static char *
doc_reader(char *str, int num, void *arg)
{
	struct trace *t = arg;
	size_t n = 0;

	trace_add(t, "read %d\n", num);
	if (t->doc[t->pos] == '\0' || num < 2)
		return NULL;
	while ((int)n < num - 1 && t->doc[t->pos] != '\0') {
		str[n++] = t->doc[t->pos++];
		if (str[n - 1] == '\n')
			break;
	}
	str[n] = '\0';
	return str;
}

/* Records the call; a value starting with '!' is refused (a handler
 * error, which inih counts as the line's error). */
static int
record(void *arg, const char *section, const char *name, const char *value)
{
	struct trace *t = arg;

	trace_add(t, "[%s] <%s> = <%s>\n", section, name, value);
	return value[0] != '!';
}

struct stats {
	size_t docs, calls, errors;
};

static void
compare(const char *doc, struct stats *st)
{
	static struct trace want, got;   /* static: 128 KiB */
	int rc_want, rc_got;

	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	want.doc = got.doc = doc;
	rc_want = ini_parse_stream(doc_reader, &want, record, &want);
	rc_got = oini_parse_stream(doc_reader, &got, record, &got);
	trace_add(&want, "result %d\n", rc_want);
	trace_add(&got, "result %d\n", rc_got);
	assert_false(want.full || got.full);
	if (strcmp(want.text, got.text) != 0) {
		print_error("document:\n%s\n---\nlibinih:\n%s---\noini:\n%s",
		    doc, want.text, got.text);
		fail_msg("oini parses differently from libinih");
	}
	st->docs++;
	st->calls += (size_t)(strstr(want.text, "] <") != NULL);
	st->errors += rc_want != 0;
}

/* Each case alone, after a section and a name (so an indented line
 * continues a value), and after a line that fails (only the first error
 * counts). */
static const char *const corpus[] = {
	"", "\n", "   \n", "\t\r\n", "\r\n", "\v\f\n",
	"; comment\n", "# comment\n", "   ; indented comment\n", "  # indented\n",
	"a=b\n", "a = b\n", "a:b\n", "a : b\n", "a = b = c\n", "a : b = c\n",
	"a = b : c\n", "=b\n", ":b\n", " = b\n", "a=\n", "a =   \n", "a:\n",
	"a = b ; comment\n", "a = b; not a comment\n", "a = b\t; tab comment\n",
	"a = ;x\n", "a =;x\n", "a= ;x\n", "a = b #hash\n", "a = b ;; c\n",
	"a ;b = c\n", "a;b = c\n", "a # b = c\n", "a = \"quoted ; x\"\n",
	"  leading = space\n", "\tkey = tabbed\n", "key = value   \r\n",
	"key=value", "key = value\r", "no separator\n", "no separator ; c\n",
	"[section]\n", "[ spaced ]\n", "[]\n", "[a]junk\n", "[a] = b\n",
	"[open\n", "[a ;b]\n", "[a;b]\n", "[a]b]\n", "[a=b]\n", "[[a]]\n",
	"  [indented]\n", "[sec] ; comment\n",
	"\xEF\xBB\xBFkey = bom\n", "\xEF\xBB\xBF[bom]\n", "\xEF\xBB\xBF;c\n",
	"\xEF\xBB\xBF\n", "\xEF\xBBkey = half bom\n", "\xEF\xBB\xBF  x = y\n",
	"key = \xEF\xBB\xBF\n", "k\xC3\xA9y = v\xC3\xA9\n", "k = \xA0v\xA0\n",
	"k = !refused\n", "!k = v\n", "k = v\n  !refused continuation\n",
	"k = v\n  more\n", "k = v\n\tmore ; comment\n  ;not more\n",
	"k = v\n  more;x\n", "k = v\n\n  after blank\n", "[s]\n  indented\n",
	"k = v\n[s]\n  indented\n", "= v\n  indented\n", "k = v\nbad\n  more\n",
	"k = v\n  a = b\n", "k = v\n  [x]\n", "k: v\n   :\n",
	"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn = long name\n"
	    "  continued\n",
	"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn4 = 49\n  c\n",
	"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn5 = 50\n  c\n",
	"[ssssssssssssssssssssssssssssssssssssssssssssssssssssssss long]\n"
	    "k = v\n",
	"[sssssssssssssssssssssssssssssssssssssssssssssss49]\nk = v\n",
	"[ssssssssssssssssssssssssssssssssssssssssssssssss50]\nk = v\n",
};

/* Lines of 195 to 205 bytes, newline included: the reader's 200-byte
 * buffer splits the longer ones, and the rest is a line of its own. */
static void
long_lines(struct stats *st)
{
	static const char *const heads[] = { "k = ", "[", "  ", "k = v ;" };
	char doc[DOC_MAX];

	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
		for (size_t len = 195; len <= 205; len++)
			for (int tail = 0; tail < 3; tail++) {
				size_t n = strlen(heads[h]);

				memcpy(doc, "k = v\n", 6);
				memcpy(doc + 6, heads[h], n);
				memset(doc + 6 + n, 'x', len - n - 1);
				doc[6 + len - 3] = " ]="[tail];
				doc[6 + len - 1] = '\n';
				strcpy(doc + 6 + len, "  next\n");
				compare(doc, st);
			}
}

static void
the_corpus_parses_the_same(void **state)
{
	struct stats st = { 0 };
	char doc[DOC_MAX];

	assert_int_equal(INI_MAX_LINE, OINI_MAX_LINE);
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		compare(corpus[i], &st);
		snprintf(doc, sizeof(doc), "[s]\nk = v\n%s", corpus[i]);
		compare(doc, &st);
		snprintf(doc, sizeof(doc), "bad line\n%s\nk = v\n", corpus[i]);
		compare(doc, &st);
	}
	long_lines(&st);
	/* Not vacuous: the parsers were called with keys and errors. */
	assert_true(st.calls > st.docs / 2);
	assert_true(st.errors > st.docs / 4);
}

/* xorshift64: the same documents on every run. */
static uint64_t
next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* What inih's rules look at, as pieces a generated line is made of. */
static const char *const pieces[] = {
	"a", "key", "value", " ", "  ", "\t", "\r", "\v", "=", ":", ";", "#",
	"[", "]", "!", "\xEF\xBB\xBF", "\xEF", "\xA0", "\xFF", " ;", "; ",
	"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
};

static void
generated_documents_parse_the_same(void **state)
{
	struct stats st = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	char doc[DOC_MAX];

	for (int d = 0; d < 20000; d++) {
		size_t len = 0;
		int lines = 1 + (int)(next_random(&seed) % 6);

		for (int l = 0; l < lines; l++) {
			int n = (int)(next_random(&seed) % 12);

			for (int p = 0; p < n; p++) {
				const char *s = pieces[next_random(&seed) %
				    (sizeof(pieces) / sizeof(pieces[0]))];
				size_t k = strlen(s);

				if (len + k + 2 >= sizeof(doc))
					break;
				memcpy(doc + len, s, k);
				len += k;
			}
			if (next_random(&seed) % 8 != 0)   /* some without */
				doc[len++] = '\n';
		}
		doc[len] = '\0';
		compare(doc, &st);
	}
	assert_true(st.calls > st.docs / 4);
	assert_true(st.errors > st.docs / 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_corpus_parses_the_same),
		cmocka_unit_test(generated_documents_parse_the_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
