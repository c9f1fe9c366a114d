/*
 * Scan targets: duplicates and overlaps merged, so every address (and
 * port) is probed once however the targets were written.
 */
#include "snmp/snmp.h"

#include <stdlib.h>
#include <string.h>

struct target {
	struct net_range r;
	unsigned         port;
};

static int
target_cmp(const void *a, const void *b)
{
	const struct target *x = a, *y = b;
	int c;

	if (x->r.family != y->r.family)
		return x->r.family == AF_INET ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->r.family == AF_INET6)
		return (c = memcmp(&x->r.addr6, &y->r.addr6, 16)) != 0 ? c : 0;
	if (x->r.first != y->r.first)
		return x->r.first < y->r.first ? -1 : 1;
	return x->r.last < y->r.last ? -1 : x->r.last > y->r.last;
}

size_t
osnmp_scan_merge(struct net_range *ranges, unsigned *ports, size_t n)
{
	struct target *t;
	size_t out = 0;

	if (n < 2)
		return n;
	if ((t = calloc(n, sizeof(*t))) == NULL)
		return n;   /* unmerged is still correct, only slower */
	for (size_t i = 0; i < n; i++) {
		t[i].r = ranges[i];
		t[i].port = ports ? ports[i] : 0;
	}
	qsort(t, n, sizeof(*t), target_cmp);
	for (size_t i = 0; i < n; i++) {
		struct target *last = out ? &t[out - 1] : NULL;

		if (last != NULL && last->r.family == t[i].r.family &&
		    last->port == t[i].port) {
			if (t[i].r.family == AF_INET6) {
				if (memcmp(&last->r.addr6, &t[i].r.addr6, 16) == 0)
					continue;
			} else if ((uint64_t)t[i].r.first <= (uint64_t)last->r.last + 1) {
				/* Overlapping or adjacent: one range. */
				if (t[i].r.last > last->r.last)
					last->r.last = t[i].r.last;
				continue;
			}
		}
		t[out++] = t[i];
	}
	for (size_t i = 0; i < out; i++) {
		ranges[i] = t[i].r;
		if (ports)
			ports[i] = t[i].port;
	}
	free(t);
	return out;
}
