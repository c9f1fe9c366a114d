/*
 * Forced ahead of every unit test in the Windows build (-include, in
 * packaging/windows/windows.mk), never in the product's code.
 *
 * cmocka.h declares print_error(), print_message() and the rest with
 * format(__printf__): mingw-w64's gcc checks that archetype against the
 * old Microsoft C runtime's printf, which has no %zu or %lld, so every
 * fail_msg("... %zu", n) fails under -Werror. cmocka's library prints
 * through mingw's C99 printf (__mingw_vfprintf, as the tests do with
 * __USE_MINGW_ANSI_STDIO), so check against that one, gnu_printf, as
 * core.h's PRINTF_LIKE does for our own code. The warnings stay on.
 */
#ifndef OUTPOST_CMOCKA_MINGW_H
#define OUTPOST_CMOCKA_MINGW_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define __printf__ __gnu_printf__
#include <cmocka.h>
#undef __printf__

#endif
