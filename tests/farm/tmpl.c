/* Templates: one immutable, sorted OID table per recording or generated
 * kind, shared by every device that serves it. Per-device values (sysName,
 * counters, uptime) are computed at read time from the device's address
 * and the clock, so a device costs no memory of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "farm.h"

#define TB_MAX_BYTES	((size_t)1 << 31)	/* one template's pool */

struct tb {
	uint8_t		*raw;		/* records: hdr, oid, value */
	size_t		 len, cap;
	size_t		*recs;		/* offsets of records in raw */
	size_t		 n, ncap;
	struct farm_dyn	*dyn;
	size_t		 ndyn, dyncap;
	int		 err;
};

struct rec_hdr {
	uint16_t oid_len, val_len;
	uint32_t dyn;
};

struct tb *
tb_new(void)
{
	struct tb *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ndyn = 1;			/* index 0 means "static" */
	t->dyncap = 64;
	t->dyn = calloc(t->dyncap, sizeof(*t->dyn));
	if (t->dyn == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
tb_free(struct tb *t)
{
	if (t == NULL)
		return;
	free(t->raw);
	free(t->recs);
	free(t->dyn);
	free(t);
}

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t	 nc = *cap ? *cap : 256;
	void	*np;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	if (nc * elem > TB_MAX_BYTES * 2)
		return -1;
	if ((np = realloc(*p, nc * elem)) == NULL)
		return -1;
	*p = np;
	*cap = nc;
	return 0;
}

static int
tb_rec(struct tb *t, const uint8_t *oid, size_t oidlen, const void *val,
    size_t vlen, uint32_t dyn)
{
	struct rec_hdr	h;
	size_t		need = sizeof(h) + oidlen + vlen;

	if (t->err || oidlen == 0 || oidlen > 0xffff || vlen > 0xffff ||
	    t->len + need > TB_MAX_BYTES ||
	    grow((void **)&t->raw, &t->cap, t->len + need, 1) == -1 ||
	    grow((void **)&t->recs, &t->ncap, t->n + 1, sizeof(size_t)) == -1) {
		t->err = 1;
		return -1;
	}
	h.oid_len = (uint16_t)oidlen;
	h.val_len = (uint16_t)vlen;
	h.dyn = dyn;
	t->recs[t->n++] = t->len;
	memcpy(t->raw + t->len, &h, sizeof(h));
	memcpy(t->raw + t->len + sizeof(h), oid, oidlen);
	if (vlen)
		memcpy(t->raw + t->len + sizeof(h) + oidlen, val, vlen);
	t->len += need;
	return 0;
}

int
tb_add(struct tb *t, const uint8_t *oid, size_t oidlen, uint8_t tag,
    const void *val, size_t vlen)
{
	uint8_t	tlv[6 + 0xffff];
	size_t	h;

	if (vlen > 60000)
		return -1;
	tlv[0] = tag;
	if (vlen < 0x80) {
		tlv[1] = (uint8_t)vlen;
		h = 2;
	} else if (vlen < 0x100) {
		tlv[1] = 0x81;
		tlv[2] = (uint8_t)vlen;
		h = 3;
	} else {
		tlv[1] = 0x82;
		tlv[2] = (uint8_t)(vlen >> 8);
		tlv[3] = (uint8_t)vlen;
		h = 4;
	}
	if (vlen)
		memcpy(tlv + h, val, vlen);
	return tb_rec(t, oid, oidlen, tlv, h + vlen, 0);
}

int
tb_add_dyn(struct tb *t, const uint8_t *oid, size_t oidlen,
    const struct farm_dyn *d)
{
	if (grow((void **)&t->dyn, &t->dyncap, t->ndyn + 1, sizeof(*d)) == -1) {
		t->err = 1;
		return -1;
	}
	t->dyn[t->ndyn] = *d;
	return tb_rec(t, oid, oidlen, NULL, 0, (uint32_t)t->ndyn++);
}

static const uint8_t *sort_raw;

static int
rec_cmp(const void *a, const void *b)
{
	const uint8_t	*ra = sort_raw + *(const size_t *)a;
	const uint8_t	*rb = sort_raw + *(const size_t *)b;
	struct rec_hdr	 ha, hb;
	int		 c;

	memcpy(&ha, ra, sizeof(ha));
	memcpy(&hb, rb, sizeof(hb));
	c = ber_oid_cmp(ra + sizeof(ha), ha.oid_len, rb + sizeof(hb), hb.oid_len);
	if (c == 0)	/* keep the first of duplicates: stable by offset */
		c = *(const size_t *)a < *(const size_t *)b ? -1 : 1;
	return c;
}

struct farm_tmpl *
tb_finish(struct tb *t, const char *name, const char *prefix)
{
	struct farm_tmpl	*m;
	size_t			 i, pos = 0, total = 0;

	if (t->err || (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	sort_raw = t->raw;
	for (i = 1; i < t->n; i++)	/* generators emit in order: skip the sort */
		if (rec_cmp(&t->recs[i - 1], &t->recs[i]) > 0)
			break;
	if (i < t->n)
		qsort(t->recs, t->n, sizeof(size_t), rec_cmp);
	m->ents = calloc(t->n ? t->n : 1, sizeof(*m->ents));
	m->pool = malloc(t->len ? t->len : 1);
	m->name = strdup(name);
	if (m->ents == NULL || m->pool == NULL || m->name == NULL)
		goto fail;
	for (i = 0; i < t->n; i++) {
		const uint8_t	*r = t->raw + t->recs[i];
		struct rec_hdr	 h;
		struct farm_ent	*e;

		memcpy(&h, r, sizeof(h));
		if (m->n > 0) {
			e = &m->ents[m->n - 1];
			if (ber_oid_cmp(m->pool + e->off, e->oid_len,
			    r + sizeof(h), h.oid_len) == 0) {
				m->skipped++;	/* duplicate OID */
				continue;
			}
		}
		e = &m->ents[m->n++];
		e->off = (uint32_t)pos;
		e->oid_len = h.oid_len;
		e->val_len = h.val_len;
		e->dyn = h.dyn;
		memcpy(m->pool + pos, r + sizeof(h), h.oid_len + (size_t)h.val_len);
		pos += h.oid_len + (size_t)h.val_len;
		total++;
	}
	m->dyn = t->dyn;
	m->ndyn = t->ndyn;
	t->dyn = NULL;
	m->prefix = prefix;
	tb_free(t);
	return m;
fail:
	free(m->ents);
	free(m->pool);
	free(m->name);
	free(m);
	return NULL;
}

static int
put_oid(uint8_t *out, const char *oid, long i1, long i2)
{
	char	buf[512];

	if (i2 > 0)
		snprintf(buf, sizeof(buf), "%s.%ld.%ld", oid, i1, i2);
	else if (i1 >= 0)
		snprintf(buf, sizeof(buf), "%s.%ld", oid, i1);
	else
		snprintf(buf, sizeof(buf), "%s", oid);
	return ber_oid_parse(buf, out, 256);
}

int
tb_put(struct tb *t, const char *oid, long i1, long i2, uint8_t tag,
    const void *val, size_t vlen)
{
	uint8_t	o[256];
	int	n = put_oid(o, oid, i1, i2);

	if (n < 0)
		return t->err = 1, -1;
	return tb_add(t, o, (size_t)n, tag, val, vlen);
}

int
tb_put_int(struct tb *t, const char *oid, long i1, long i2, uint8_t tag,
    int64_t v)
{
	uint8_t	tlv[12];
	size_t	n = ber_int_tlv(tlv, tag, v);

	return tb_put(t, oid, i1, i2, tag, tlv + 2, n - 2);
}

int
tb_put_uint(struct tb *t, const char *oid, long i1, long i2, uint8_t tag,
    uint64_t v)
{
	uint8_t	tlv[12];
	size_t	n = ber_uint_tlv(tlv, tag, v);

	return tb_put(t, oid, i1, i2, tag, tlv + 2, n - 2);
}

int
tb_put_str(struct tb *t, const char *oid, long i1, long i2, const char *s)
{
	return tb_put(t, oid, i1, i2, T_OCTETS, s, strlen(s));
}

int
tb_put_oid(struct tb *t, const char *oid, long i1, long i2, const char *val)
{
	uint8_t	v[256];
	int	n = ber_oid_parse(val, v, sizeof(v));

	if (n < 0)
		return t->err = 1, -1;
	return tb_put(t, oid, i1, i2, T_OID, v, (size_t)n);
}

int
tb_put_dyn(struct tb *t, const char *oid, long i1, long i2, uint8_t kind,
    uint8_t tag, uint64_t base, double rate)
{
	struct farm_dyn	d = { kind, tag, base, rate };
	uint8_t		o[256];
	int		n = put_oid(o, oid, i1, i2);

	if (n < 0)
		return t->err = 1, -1;
	return tb_add_dyn(t, o, (size_t)n, &d);
}

/* First entry above oid (after: 1) or at-or-above it (after: 0). */
static size_t
bound(const struct farm_tmpl *m, const uint8_t *oid, size_t len, int after)
{
	size_t	lo = 0, hi = m->n;

	while (lo < hi) {
		size_t			 mid = lo + (hi - lo) / 2;
		const struct farm_ent	*e = &m->ents[mid];

		if (ber_oid_cmp(m->pool + e->off, e->oid_len, oid, len) < after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long
tmpl_find(const struct farm_tmpl *m, const uint8_t *oid, size_t len)
{
	size_t	i = bound(m, oid, len, 0);

	if (i < m->n && ber_oid_cmp(m->pool + m->ents[i].off,
	    m->ents[i].oid_len, oid, len) == 0)
		return (long)i;
	return -1;
}

size_t
tmpl_next(const struct farm_tmpl *m, const uint8_t *oid, size_t len)
{
	return bound(m, oid, len, 1);
}

size_t
tmpl_value(const struct farm_tmpl *m, size_t i, const struct farm_dev *d,
    uint8_t *out)
{
	const struct farm_ent	*e = &m->ents[i];
	const struct farm_dyn	*y;
	uint64_t		 v;
	char			 name[96];
	int			 n;

	if (e->dyn == 0) {
		memcpy(out, m->pool + e->off + e->oid_len, e->val_len);
		return e->val_len;
	}
	y = &m->dyn[e->dyn];
	switch (y->kind) {
	case DYN_UPTIME:
		v = y->base + (uint64_t)(d->elapsed * 100) + d->phase % 100000;
		return ber_uint_tlv(out, y->tag, v & 0xffffffffULL);
	case DYN_COUNTER:
		v = y->base + (uint64_t)(y->rate * (d->elapsed + (double)d->phase));
		if (y->tag != T_COUNTER64)
			v &= 0xffffffffULL;
		return ber_uint_tlv(out, y->tag, v);
	case DYN_NUMERIC:	/* snmpsim's numeric: initial + rate * t */
		v = y->base + (uint64_t)(y->rate * d->elapsed);
		if (y->tag == T_INT)
			return ber_int_tlv(out, y->tag, (int32_t)v);
		if (y->tag != T_COUNTER64)
			v &= 0xffffffffULL;
		return ber_uint_tlv(out, y->tag, v);
	case DYN_SYSNAME:
		n = snprintf(name, sizeof(name), "%s-%u-%u-%u-%u",
		    m->prefix ? m->prefix : "dev", d->addr >> 24,
		    (d->addr >> 16) & 0xff, (d->addr >> 8) & 0xff, d->addr & 0xff);
		out[0] = T_OCTETS;
		out[1] = (uint8_t)n;
		memcpy(out + 2, name, (size_t)n);
		return (size_t)n + 2;
	}
	out[0] = T_NULL;
	out[1] = 0;
	return 2;
}

uint64_t
farm_hash(uint64_t x)
{
	/* splitmix64: cheap and well mixed, for per-device phases and caches */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

double
farm_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
