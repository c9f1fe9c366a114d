/*
 * oini: Outpost's own INI line parser, a stand-in for libinih r55 in the
 * Windows build only (Linux links Debian's libinih).
 *
 * Why it exists: packaging/windows/deps.sh cross-builds every library from
 * Debian's source packages, but an archive (or its proxy) may not serve
 * libinih's source files, and CI must not depend on a hand-supplied
 * tarball. When neither is there, deps.sh builds libinih.a from this file
 * instead, with ini.h (beside it) mapping inih's names onto these.
 *
 * It parses exactly as libinih 55 does with Debian's (default) options:
 * a 200-byte line buffer on the stack, multi-line values (an indented
 * line after a name, taken whole), a UTF-8 BOM allowed on line 1, ';' and
 * '#' comments at the start of a line, ';' inline comments after
 * whitespace in a value, '=' or ':' between name and value,
 * section and continued names cut to 49 bytes, no value-less names, and
 * the first error's line number as the result (parsing goes on after it).
 * tests/unit/test_ini_compat.c runs both parsers on the same input and
 * compares every handler call and result.
 */
#ifndef OUTPOST_OINI_H
#define OUTPOST_OINI_H

/* The reader's buffer size; a longer line reaches the parser in pieces. */
#define OINI_MAX_LINE 200

/* Called for each name/value (section and name as read, value trimmed);
 * returns nonzero on success, 0 to mark that line as an error. */
typedef int (*oini_handler)(void *user, const char *section,
    const char *name, const char *value);

/* fgets-like: fills str with at most num - 1 bytes (a line or its first
 * part) plus a NUL; NULL at the end. */
typedef char *(*oini_reader)(char *str, int num, void *stream);

/* 0, or the number of the first line with an error: no separator, no ']'
 * closing a section, or a handler that returned 0. Never negative (the
 * buffer is on the stack; inih's -1 and -2 are for files and malloc). */
int oini_parse_stream(oini_reader reader, void *stream, oini_handler handler,
    void *user);

#endif
