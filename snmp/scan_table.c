/*
 * The scanner's table of probes in flight (see scan_int.h): one array
 * allocated at the start of a scan, sized to its concurrency; no
 * allocation per probe.
 */
#include "snmp/scan_int.h"

#include <stdlib.h>

#define SCAN_TABLE_MAX (1u << 20)

/* Memory is one slot per probe in flight: keep it small. */
_Static_assert(sizeof(struct scan_slot) <= 40, "scan_slot grew");

int
scan_table_init(struct scan_table *t, uint32_t nslots, uint32_t salt)
{
	unsigned bits = 1;

	if (nslots == 0 || nslots > SCAN_TABLE_MAX)
		return -1;
	while ((1u << bits) < nslots)
		bits++;
	t->slot = calloc(nslots, sizeof(*t->slot));
	if (t->slot == NULL)
		return -1;
	t->nslots = nslots;
	t->slot_bits = bits;
	t->salt = salt & ((1u << SCAN_REQID_BITS) - 1);
	t->gen = 0;
	for (int l = 0; l < 4; l++)
		t->lists[l] = (struct scan_list_head){ -1, -1, 0 };
	for (uint32_t i = 0; i < nslots; i++) {
		t->slot[i].list = SCAN_L_NONE;
		scan_list_push(t, SCAN_L_FREE, (int32_t)i);
	}
	return 0;
}

void
scan_table_free(struct scan_table *t)
{
	free(t->slot);
	t->slot = NULL;
	t->nslots = 0;
}

static uint32_t
reqid_make(struct scan_table *t, int32_t i)
{
	uint32_t mask = (1u << SCAN_REQID_BITS) - 1;

	/* The generation counts probes, so an id comes back only after
	 * 2^(30 - slot_bits) reuses of its slot. */
	t->gen++;
	return SCAN_REQID_BASE |
	    ((((t->gen << t->slot_bits) | (uint32_t)i) ^ t->salt) & mask);
}

int32_t
scan_table_get(struct scan_table *t)
{
	int32_t i = scan_list_first(t, SCAN_L_FREE);

	if (i < 0)
		return -1;
	scan_list_remove(t, i);
	t->slot[i].reqid = reqid_make(t, i);
	return i;
}

void
scan_table_renew(struct scan_table *t, int32_t i)
{
	t->slot[i].reqid = reqid_make(t, i);
}

void
scan_table_put(struct scan_table *t, int32_t i)
{
	scan_list_remove(t, i);
	t->slot[i].reqid = 0;
	scan_list_push(t, SCAN_L_FREE, i);
}

int32_t
scan_table_find(const struct scan_table *t, int64_t reqid)
{
	uint32_t mask = (1u << SCAN_REQID_BITS) - 1, x, i;

	if (reqid < SCAN_REQID_BASE || reqid > INT32_MAX)
		return -1;
	x = ((uint32_t)reqid & mask) ^ t->salt;
	i = x & ((1u << t->slot_bits) - 1);
	if (i >= t->nslots || t->slot[i].reqid != (uint32_t)reqid)
		return -1;
	return (int32_t)i;
}

void
scan_list_push(struct scan_table *t, enum scan_list l, int32_t i)
{
	struct scan_list_head *h = &t->lists[l];
	struct scan_slot *s = &t->slot[i];

	s->list = (uint8_t)l;
	s->next = -1;
	s->prev = h->tail;
	if (h->tail >= 0)
		t->slot[h->tail].next = i;
	else
		h->head = i;
	h->tail = i;
	h->count++;
}

void
scan_list_push_front(struct scan_table *t, enum scan_list l, int32_t i)
{
	struct scan_list_head *h = &t->lists[l];
	struct scan_slot *s = &t->slot[i];

	s->list = (uint8_t)l;
	s->prev = -1;
	s->next = h->head;
	if (h->head >= 0)
		t->slot[h->head].prev = i;
	else
		h->tail = i;
	h->head = i;
	h->count++;
}

void
scan_list_remove(struct scan_table *t, int32_t i)
{
	struct scan_slot *s = &t->slot[i];
	struct scan_list_head *h;

	if (s->list == SCAN_L_NONE)
		return;
	h = &t->lists[s->list];
	if (s->prev >= 0)
		t->slot[s->prev].next = s->next;
	else
		h->head = s->next;
	if (s->next >= 0)
		t->slot[s->next].prev = s->prev;
	else
		h->tail = s->prev;
	h->count--;
	s->list = SCAN_L_NONE;
	s->prev = s->next = -1;
}
