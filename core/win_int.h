/*
 * Shared by core/'s Windows files (platform_win.c, service_win.c): the
 * loop that stop and reload requests go to, and UTF-8/UTF-16 paths.
 */
#ifndef OUTPOST_WIN_INT_H
#define OUTPOST_WIN_INT_H

#include "core/core.h"

#include <windows.h>

/* signo of a reload request: Windows has no SIGHUP; 1 is SIGHUP's
 * number elsewhere and no Windows signal's. */
#define WIN_SIG_RELOAD 1

/* Hands signo to the loop registered by platform_on_stop/on_reload, from
 * any thread; remembered until then if no loop is registered yet. */
void win_raise(int signo);
/* A malloc'd UTF-16 copy of a UTF-8 string; NULL (errno) on failure. */
wchar_t *win_wide(const char *utf8);
/* The UTF-8 form of a UTF-16 string into out; 0, or -1 if it does not fit. */
int win_utf8(const wchar_t *w, char *out, size_t outlen);
/* errno for GetLastError()'s value e. */
int win_errno(DWORD e);

#endif
