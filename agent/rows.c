/*
 * The rows of one table while a poll walks it. A walk delivers each
 * column in instance order, the columns interleaved; a row is found by
 * its instance in a hash table, so each value costs O(1) whatever the
 * size of the table (a scan of the rows made a 16,000-row table take
 * 39 s). Values are kept as their raw bytes in one arena and turned into
 * JSON once, when the sample is built; everything is freed after that.
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

/* Arena entries are 8-byte aligned, so a value's bytes can be read as
 * the long or struct counter64 net-snmp stored them as. */
#define ROWS_ALIGN(n) (((n) + 7u) & ~(size_t)7u)

struct value_head {
	uint32_t len;
	uint8_t  type;
};
#define VALUE_HEAD ((size_t)8)   /* the head, padded: values stay aligned */
_Static_assert(sizeof(struct value_head) <= VALUE_HEAD, "value head fits");

struct row {
	uint32_t inst_off;   /* into the arena: inst_len arcs as uint32_t */
	uint32_t inst_len;
};

struct rows_order {
	const uint32_t *arcs;
	uint32_t        len, row;
};

struct rows {
	size_t         ncols, max_rows, max_bytes;
	size_t         charged;    /* bytes allocated, against max_bytes */
	struct rows_budget *shared;   /* every table of the agent; may be NULL */
	struct row    *row;
	uint32_t      *val;        /* nrows x ncols: arena offset + 1; 0 absent */
	size_t         nrows, cap;
	uint32_t      *hash;       /* row index + 1; 0 empty */
	size_t         hcap;       /* a power of two, at least 2 x nrows */
	unsigned char *arena;
	size_t         alen, acap;
	uint32_t      *order;      /* after rows_sort: rows by instance */
	bool           truncated;
};

struct rows *
rows_new(size_t ncols, size_t max_rows, size_t max_bytes, struct rows_budget *shared)
{
	struct rows *rs = xcalloc(1, sizeof(*rs));

	rs->ncols = ncols ? ncols : 1;
	rs->max_rows = max_rows;
	/* Offsets are 32-bit. */
	rs->max_bytes = max_bytes < UINT32_MAX / 2 ? max_bytes : UINT32_MAX / 2;
	rs->shared = shared;
	return rs;
}

void
rows_free(struct rows *rs)
{
	if (rs == NULL)
		return;
	if (rs->shared != NULL)
		rs->shared->used -= rs->charged;
	free(rs->row);
	free(rs->val);
	free(rs->hash);
	free(rs->arena);
	free(rs->order);
	free(rs);
}

/* n more bytes, within this table's limit and the agent's. */
static bool
rows_charge(struct rows *rs, size_t n)
{
	if (n > rs->max_bytes - rs->charged ||
	    (rs->shared != NULL && n > rs->shared->max - rs->shared->used))
		return false;
	rs->charged += n;
	if (rs->shared != NULL)
		rs->shared->used += n;
	return true;
}

static void
rows_uncharge(struct rows *rs, size_t n)
{
	rs->charged -= n;
	if (rs->shared != NULL)
		rs->shared->used -= n;
}

/* *p grown from old to at least need bytes (doubling while it may): the
 * new size, or 0 (nothing changed) when it does not fit. */
static size_t
rows_grow(struct rows *rs, void **p, size_t old, size_t need)
{
	size_t cap = old ? old : 1024;
	void *q;

	while (cap < need)
		cap *= 2;
	if (!rows_charge(rs, cap - old)) {
		cap = need;   /* the last bytes below a limit */
		if (!rows_charge(rs, cap - old))
			return 0;
	}
	if ((q = realloc(*p, cap)) == NULL) {
		rows_uncharge(rs, cap - old);
		return 0;
	}
	*p = q;
	return cap;
}

static uint32_t
rows_hash(const uint32_t *arcs, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;

	for (size_t i = 0; i < len; i++) {
		h ^= arcs[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

static bool
rows_inst_eq(const struct rows *rs, const struct row *r, const uint32_t *arcs,
    size_t len)
{
	return r->inst_len == len && memcmp(rs->arena + r->inst_off, arcs,
	    len * sizeof(*arcs)) == 0;
}

/* Room for n more arena bytes; false past a limit. */
static bool
rows_arena_room(struct rows *rs, size_t n)
{
	size_t cap;

	if (rs->alen + n <= rs->acap)
		return true;
	if ((cap = rows_grow(rs, (void **)&rs->arena, rs->acap, rs->alen + n)) == 0)
		return false;
	rs->acap = cap;
	return true;
}

static bool
rows_rehash(struct rows *rs, size_t hcap)
{
	uint32_t *h;

	if (!rows_charge(rs, hcap * sizeof(*h)))
		return false;
	if ((h = calloc(hcap, sizeof(*h))) == NULL) {
		rows_uncharge(rs, hcap * sizeof(*h));
		return false;
	}
	for (size_t i = 0; i < rs->nrows; i++) {
		const struct row *r = &rs->row[i];
		size_t k = rows_hash((const uint32_t *)(rs->arena + r->inst_off),
		    r->inst_len) & (hcap - 1);

		while (h[k] != 0)
			k = (k + 1) & (hcap - 1);
		h[k] = (uint32_t)i + 1;
	}
	free(rs->hash);
	rows_uncharge(rs, rs->hcap * sizeof(*h));
	rs->hash = h;
	rs->hcap = hcap;
	return true;
}

/* A new row at the end; -1 when it does not fit. */
static long
rows_add(struct rows *rs, const uint32_t *arcs, size_t len, size_t slot)
{
	size_t isz = ROWS_ALIGN(len * sizeof(uint32_t));

	if (rs->nrows == rs->cap) {
		/* Rows and their value slots grow together, by whole rows. */
		size_t per = sizeof(struct row) + rs->ncols * sizeof(uint32_t);
		size_t cap = rs->cap ? rs->cap * 2 : 16;

		if (cap > rs->max_rows)
			cap = rs->max_rows;
		if (!rows_charge(rs, (cap - rs->cap) * per))
			return -1;
		void *r = realloc(rs->row, cap * sizeof(struct row));
		if (r != NULL)
			rs->row = r;
		void *v = r ? realloc(rs->val, cap * rs->ncols * sizeof(uint32_t)) : NULL;
		if (v == NULL) {
			rows_uncharge(rs, (cap - rs->cap) * per);
			return -1;
		}
		rs->val = v;
		rs->cap = cap;
	}
	if (!rows_arena_room(rs, isz))
		return -1;
	if (len)
		memcpy(rs->arena + rs->alen, arcs, len * sizeof(*arcs));
	rs->row[rs->nrows] = (struct row){ (uint32_t)rs->alen, (uint32_t)len };
	memset(&rs->val[rs->nrows * rs->ncols], 0, rs->ncols * sizeof(uint32_t));
	rs->alen += isz;
	rs->hash[slot] = (uint32_t)rs->nrows + 1;
	return (long)rs->nrows++;
}

/* The row of an instance, or -1 with *slot the free hash slot for it. */
static long
rows_find(const struct rows *rs, const uint32_t *arcs, size_t len, size_t *slot)
{
	size_t k;

	*slot = 0;
	if (rs->hcap == 0)
		return -1;
	for (k = rows_hash(arcs, len) & (rs->hcap - 1); rs->hash[k] != 0;
	    k = (k + 1) & (rs->hcap - 1))
		if (rows_inst_eq(rs, &rs->row[rs->hash[k] - 1], arcs, len))
			return (long)rs->hash[k] - 1;
	*slot = k;
	return -1;
}

/* A new row for an instance; -1 when it does not fit. */
static long
rows_new_row(struct rows *rs, const uint32_t *arcs, size_t len, size_t slot,
    size_t vneed)
{
	/* Once a table is cut, its set of rows stays as it is: no holes. */
	if (rs->truncated || rs->nrows >= rs->max_rows)
		return -1;
	/* At most half full: probes stay short. */
	if ((rs->nrows + 1) * 2 > rs->hcap) {
		if (!rows_rehash(rs, rs->hcap ? rs->hcap * 2 : 64))
			return -1;
		(void)rows_find(rs, arcs, len, &slot);
	}
	if (!rows_arena_room(rs, ROWS_ALIGN(len * sizeof(uint32_t)) + vneed))
		return -1;
	return rows_add(rs, arcs, len, slot);
}

int
rows_put(struct rows *rs, size_t col, const oid *inst, size_t len,
    unsigned char type, const void *val, size_t vlen)
{
	uint32_t arcs[MAX_OID_LEN];   /* SNMP arcs are 32-bit (X.690 8.19) */
	size_t slot, need = VALUE_HEAD + ROWS_ALIGN(vlen);
	struct value_head *h;
	long r;

	if (col >= rs->ncols || len > MAX_OID_LEN || vlen > UINT32_MAX ||
	    rs->order != NULL)
		return ROWS_FULL;
	for (size_t i = 0; i < len; i++)
		arcs[i] = (uint32_t)inst[i];
	if ((r = rows_find(rs, arcs, len, &slot)) < 0)
		r = rows_new_row(rs, arcs, len, slot, need);
	if (r < 0 || !rows_arena_room(rs, need)) {
		rs->truncated = true;
		return ROWS_FULL;
	}
	h = (struct value_head *)(rs->arena + rs->alen);
	h->len = (uint32_t)vlen;
	h->type = type;
	if (vlen)
		memcpy(rs->arena + rs->alen + VALUE_HEAD, val, vlen);
	rs->val[(size_t)r * rs->ncols + col] = (uint32_t)rs->alen + 1;
	rs->alen += need;
	return ROWS_OK;
}

size_t
rows_count(const struct rows *rs)
{
	return rs->nrows;
}

bool
rows_truncated(const struct rows *rs)
{
	return rs->truncated;
}

static int
rows_cmp(const void *a, const void *b)
{
	const struct rows_order *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;

	for (size_t i = 0; i < n; i++)
		if (x->arcs[i] != y->arcs[i])
			return x->arcs[i] < y->arcs[i] ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

void
rows_sort(struct rows *rs)
{
	struct rows_order *o;
	bool sorted = true;

	if (rs->order != NULL || rs->nrows == 0)
		return;
	rs->order = xcalloc(rs->nrows, sizeof(*rs->order));
	o = xcalloc(rs->nrows, sizeof(*o));
	for (size_t i = 0; i < rs->nrows; i++) {
		o[i] = (struct rows_order){
			(const uint32_t *)(rs->arena + rs->row[i].inst_off),
			rs->row[i].inst_len, (uint32_t)i };
		if (i > 0 && sorted && rows_cmp(&o[i - 1], &o[i]) > 0)
			sorted = false;
	}
	/* The first column usually brings every row in order already. */
	if (!sorted)
		qsort(o, rs->nrows, sizeof(*o), rows_cmp);
	for (size_t i = 0; i < rs->nrows; i++)
		rs->order[i] = o[i].row;
	free(o);
}

static size_t
rows_index(const struct rows *rs, size_t i)
{
	return rs->order != NULL ? rs->order[i] : i;
}

size_t
rows_inst(const struct rows *rs, size_t i, const uint32_t **arcs)
{
	const struct row *r = &rs->row[rows_index(rs, i)];

	*arcs = (const uint32_t *)(rs->arena + r->inst_off);
	return r->inst_len;
}

bool
rows_value(const struct rows *rs, size_t i, size_t col, unsigned char *type,
    const void **val, size_t *len)
{
	uint32_t off = rs->val[rows_index(rs, i) * rs->ncols + col];
	const struct value_head *h;

	if (off == 0)
		return false;
	h = (const struct value_head *)(rs->arena + off - 1);
	*type = h->type;
	*len = h->len;
	*val = rs->arena + off - 1 + VALUE_HEAD;
	return true;
}
