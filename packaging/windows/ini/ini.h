/*
 * ini.h as the Windows build installs it when libinih is built from
 * Outpost's own parser (oini.h says why): inih's names for the subset
 * config/ uses, mapped onto oini's.
 */
#ifndef INI_H
#define INI_H

#include <stdio.h>

#include "oini.h"

#define INI_MAX_LINE OINI_MAX_LINE

typedef oini_handler ini_handler;
typedef oini_reader ini_reader;

static inline int
ini_parse_stream(ini_reader reader, void *stream, ini_handler handler,
    void *user)
{
	return oini_parse_stream(reader, stream, handler, user);
}

#endif
