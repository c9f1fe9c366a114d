/*
 * The scanner on Windows: not yet. scan.c and scan_io.c are built on
 * Linux's batched UDP (sendmmsg/recvmmsg, SO_RXQ_OVFL for receive-buffer
 * drops, IP_RECVERR for ICMP port unreachable), which Winsock has no
 * counterpart of; a Windows scan I/O (a sendto/recvfrom loop, WSAECONNRESET
 * for port unreachable) is the missing piece (docs/windows.md). Until
 * then `outpost scan` and [scan] discovery say so; get, walk, poll and
 * run on configured devices work.
 */
#include "snmp/snmp.h"

#include <stdio.h>

struct osnmp_scan *
osnmp_scan_start(struct osnmp_engine *e, struct loop *loop,
    const struct osnmp_scan_opts *opts, osnmp_scan_found_cb found,
    osnmp_scan_done_cb done, void *arg, char *err, size_t errlen)
{
	snprintf(err, errlen, "scanning is not available on Windows in this "
	    "version (docs/windows.md)");
	return NULL;
}

void
osnmp_scan_cancel(struct osnmp_scan *s)
{
}

void
osnmp_scan_progress(const struct osnmp_scan *s, uint64_t *done,
    uint64_t *total, size_t *found)
{
	*done = *total = 0;
	*found = 0;
}

void
osnmp_scan_stats(const struct osnmp_scan *s, struct osnmp_scan_stats *st)
{
	*st = (struct osnmp_scan_stats){ 0 };
}
