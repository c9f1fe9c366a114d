/*
 * Notifications on Windows: not yet. trap.c reads its sockets with
 * Linux's recvmmsg and counts kernel drops with SO_RXQ_OVFL; a Winsock
 * receive loop (recvfrom until WSAEWOULDBLOCK, no drop count) is the
 * missing piece (docs/windows.md). Until then a [traps] listen is refused
 * with this message; the decoder and USM (trap_ber.c, trap_usm.c) are
 * portable and built on both.
 */
#include "snmp/snmp.h"

#include <stdio.h>

struct osnmp_trap *
osnmp_trap_open(struct loop *l, struct osnmp_engine *eng,
    const struct osnmp_trap_opts *opts, osnmp_trap_cb cb, void *arg,
    char *err, size_t errlen)
{
	snprintf(err, errlen, "receiving notifications ([traps] listen) is not "
	    "available on Windows in this version (docs/windows.md)");
	return NULL;
}

void
osnmp_trap_close(struct osnmp_trap *t)
{
}

void
osnmp_trap_stats(const struct osnmp_trap *t, struct osnmp_trap_stats *st)
{
	*st = (struct osnmp_trap_stats){ 0 };
}

void
osnmp_trap_engine(const struct osnmp_trap *t, char *hex, size_t len,
    uint32_t *boots)
{
	if (len)
		hex[0] = '\0';
	*boots = 0;
}
