/*
 * The spool: closed batches on disk until the hub answers 2xx. Every file
 * is written to a temp name, fsync'd, renamed and the directory fsync'd,
 * so after a crash a batch is either whole or absent; a file that fails
 * its checks anyway (disk trouble, a kill in the wrong place on a
 * filesystem that lies) is quarantined and counted, never fatal.
 *
 * The state file holds the batch-id reservation and the count of samples
 * dropped but not yet reported. A spool without one (a new agent, or lost
 * state) starts its ids at the wall clock in milliseconds, so an agent
 * reinstalled under the same token never reuses an id the hub has stored
 * (the hub would answer 200 and silently drop the batch).
 */
#include "transport/transport_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define STATE_MAGIC  "OPSTATE"
#define STATE_SIZE   36u
#define SPOOL_NAME_LEN 20          /* %020llu */
/* Largest file we read: a batch of tp_batch_max_bytes (8 MiB) that did not
 * compress, with room to spare. */
#define SPOOL_MAX_FILE (SPOOL_HDR_SIZE + (16u << 20))

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t
crc(const void *p, size_t len)
{
	return (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), p, len);
}

void
tp_spool_encode_hdr(unsigned char out[SPOOL_HDR_SIZE], const struct spool_hdr *h)
{
	memset(out, 0, SPOOL_HDR_SIZE);
	memcpy(out, SPOOL_MAGIC, 8);
	put32(out + 8, SPOOL_VERSION);
	put32(out + 12, SPOOL_HDR_SIZE);
	put64(out + 16, h->batch_id);
	put64(out + 24, h->created_ms);
	put64(out + 32, h->payload_len);
	put32(out + 40, h->nsamples);
	put32(out + 44, h->nevents);
	put32(out + 48, h->payload_crc);
	put32(out + 52, crc(out, 52));
}

int
tp_spool_check(const unsigned char *buf, size_t len, struct spool_hdr *h,
    const char **why)
{
	uint32_t version, size, crc_at;

	if (len < SPOOL_HDR_SIZE_V1) {
		*why = "truncated header";
		return -1;
	}
	if (memcmp(buf, SPOOL_MAGIC, 8) != 0) {
		*why = "not a spool file (bad magic)";
		return -1;
	}
	version = get32(buf + 8);
	size = get32(buf + 12);
	if (!(version == 1 && size == SPOOL_HDR_SIZE_V1) &&
	    !(version == SPOOL_VERSION && size == SPOOL_HDR_SIZE)) {
		*why = "unsupported spool file version";
		return -1;
	}
	if (len < size) {
		*why = "truncated header";
		return -1;
	}
	crc_at = size - 4;
	if (crc(buf, crc_at) != get32(buf + crc_at)) {
		*why = "header checksum mismatch";
		return -1;
	}
	h->hdr_size = size;
	h->nevents = version == 1 ? 0 : get32(buf + 44);
	h->payload_crc = get32(buf + crc_at - 4);
h->batch_id = get64(buf + 16);
	h->created_ms = get64(buf + 24);
	h->payload_len = get64(buf + 32);
	h->nsamples = get32(buf + 40);
	if (h->batch_id == 0 || h->batch_id > SPOOL_MAX_ID) {
		*why = "batch id out of range";
		return -1;
	}
	if (h->payload_len != len - h->hdr_size) {
		*why = h->payload_len > len - h->hdr_size ?
		    "truncated payload" : "trailing bytes after the payload";
		return -1;
	}
	if (crc(buf + h->hdr_size, len - h->hdr_size) != h->payload_crc) {
		*why = "payload checksum mismatch";
		return -1;
	}
	return 0;
}

static void
tp_spool_name(char *buf, size_t len, uint64_t id)
{
	snprintf(buf, len, "%020" PRIu64 SPOOL_SUFFIX, id);
}

/* "%020llu.batch" -> id, else 0. */
static uint64_t
tp_spool_name_id(const char *name)
{
	uint64_t id = 0;

	for (int i = 0; i < SPOOL_NAME_LEN; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		id = id * 10 + (uint64_t)(name[i] - '0');
		if (id > SPOOL_MAX_ID)
			return 0;
	}
	return strcmp(name + SPOOL_NAME_LEN, SPOOL_SUFFIX) == 0 ? id : 0;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t w = write(fd, c, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

/* name <- a then b, durably: temp file, fsync, rename, fsync dir. */
static int
tp_spool_write_file(struct spool *s, const char *name, const void *a, size_t alen,
    const void *b, size_t blen)
{
	char tmp[128];
	int fd, e;

	snprintf(tmp, sizeof(tmp), "%s%s", name, SPOOL_TMP_SUFFIX);
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		goto fail;
	if (write_all(fd, a, alen) == -1 || write_all(fd, b, blen) == -1 ||
	    fsync(fd) == -1) {
		e = errno;
		close(fd);
		errno = e;
		goto fail_tmp;
	}
	if (close(fd) == -1)
		goto fail_tmp;
	if (renameat(s->dirfd, tmp, s->dirfd, name) == -1)
		goto fail_tmp;
	if (fsync(s->dirfd) == -1)
		goto fail;
	log_release(&s->disk_complain, "spool: writing to %s works again", s->dir);
	return 0;
fail_tmp:
	e = errno;
	(void)unlinkat(s->dirfd, tmp, 0);
	errno = e;
fail:
	log_complain(&s->disk_complain, mono_ms(), LOG_LVL_ERROR,
	    "spool: cannot write %s/%s: %s", s->dir, name, strerror(errno));
	return -1;
}

/* Read a whole file of at most max bytes. 0, -1 (errno), -2 too large. */
static int
read_file(int dirfd, const char *name, size_t max, unsigned char **out,
    size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t off = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -2;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = off;   /* shorter than st_size if it shrank: the check fails */
	return 0;
}

/* ---- state file ---- */

int
tp_spool_save_state(struct spool *s, uint64_t reserved_id)
{
	unsigned char b[STATE_SIZE] = { 0 };

	memcpy(b, STATE_MAGIC, 8);
	put32(b + 8, 1);
	put64(b + 16, reserved_id);
	put64(b + 24, s->dropped_pending);
	put32(b + 32, crc(b, 32));
	return tp_spool_write_file(s, SPOOL_STATE, b, sizeof(b), NULL, 0);
}

/* 0 read, 1 absent, -1 corrupt */
static int
tp_spool_load_state(struct spool *s, uint64_t *reserved, uint64_t *dropped)
{
	unsigned char *b;
	size_t len;
	int rc = read_file(s->dirfd, SPOOL_STATE, 4096, &b, &len);

	if (rc == -1 && errno == ENOENT)
		return 1;
	if (rc != 0)
		return -1;
	rc = -1;
	if (len == STATE_SIZE && memcmp(b, STATE_MAGIC, 8) == 0 &&
	    get32(b + 8) == 1 && crc(b, 32) == get32(b + 32)) {
		*reserved = get64(b + 16);
		*dropped = get64(b + 24);
		rc = *reserved <= SPOOL_MAX_ID + 1 ? 0 : -1;
	}
	free(b);
	return rc;
}

/* ---- the index ---- */

static size_t
tp_spool_lower_bound(const struct spool *s, uint64_t id)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->ents[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct spool_entry *
tp_spool_find(struct spool *s, uint64_t id)
{
	size_t i = tp_spool_lower_bound(s, id);

	return i < s->n && s->ents[i].id == id ? &s->ents[i] : NULL;
}

static int
tp_spool_index_add(struct spool *s, const struct spool_entry *e)
{
	size_t i;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct spool_entry *p = realloc(s->ents, ncap * sizeof(*p));
		if (p == NULL)
			return -1;
		s->ents = p;
		s->cap = ncap;
	}
	i = tp_spool_lower_bound(s, e->id);
	memmove(&s->ents[i + 1], &s->ents[i], (s->n - i) * sizeof(*e));
	s->ents[i] = *e;
	s->n++;
	s->bytes += e->bytes;
	return 0;
}

static void
tp_spool_index_del(struct spool *s, size_t i)
{
	s->bytes -= s->ents[i].bytes;
	memmove(&s->ents[i], &s->ents[i + 1], (s->n - i - 1) * sizeof(s->ents[0]));
	s->n--;
}

struct spool_entry *
tp_spool_first_idle(struct spool *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->ents[i].busy)
			return &s->ents[i];
	return NULL;
}

/* ---- quarantine ---- */

struct qfile {
	char     name[256];
	time_t   mtime;
	uint64_t size;
};

static int
qfile_cmp(const void *a, const void *b)
{
	const struct qfile *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Keep quarantine/ to SPOOL_QUARANTINE_MAX_FILES files and a quarter of
 * the spool's bytes: it is for a person to look at, not an archive. */
static void
tp_spool_quarantine_trim(struct spool *s, int qfd)
{
	struct qfile *q = NULL;
	size_t n = 0, cap = 0, i;
	uint64_t total = 0;
	struct dirent *de;
	DIR *d;
	int fd = dup(qfd);

	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL && n < 4 * SPOOL_QUARANTINE_MAX_FILES) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(qfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || strlen(de->d_name) >= sizeof(q->name))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct qfile *p = realloc(q, ncap * sizeof(*p));
			if (p == NULL)
				break;
			q = p;
			cap = ncap;
		}
		snprintf(q[n].name, sizeof(q[n].name), "%s", de->d_name);
		q[n].mtime = st.st_mtime;
		q[n].size = (uint64_t)st.st_size;
		total += q[n].size;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(q, n, sizeof(*q), qfile_cmp);
	for (i = 0; i < n && (n - i > SPOOL_QUARANTINE_MAX_FILES ||
	    total > s->max_bytes / 4); i++) {
		if (unlinkat(qfd, q[i].name, 0) == 0)
			log_warn("spool: deleted old quarantined file %s/%s/%s",
			    s->dir, SPOOL_QUARANTINE, q[i].name);
		total -= q[i].size;
	}
	free(q);
}

/* Move name into quarantine/ as qname. */
static int
tp_spool_quarantine_name(struct spool *s, const char *name, const char *qname,
    const char *why)
{
	char dst[512];
	int qfd;

	if (mkdirat(s->dirfd, SPOOL_QUARANTINE, 0700) == -1 && errno != EEXIST)
		goto fail;
	snprintf(dst, sizeof(dst), "%s/%s", SPOOL_QUARANTINE, qname);
	if (renameat(s->dirfd, name, s->dirfd, dst) == -1)
		goto fail;
	(void)fsync(s->dirfd);
	log_warn("spool: %s/%s: %s; moved to %s/%s", s->dir, name, why, s->dir, dst);
	qfd = openat(s->dirfd, SPOOL_QUARANTINE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qfd != -1) {
		tp_spool_quarantine_trim(s, qfd);
		close(qfd);
	}
	return 0;
fail:
	log_error("spool: %s/%s: %s; cannot quarantine it (%s), deleting it",
	    s->dir, name, why, strerror(errno));
	(void)unlinkat(s->dirfd, name, 0);
	return -1;
}

int
tp_spool_quarantine(struct spool *s, uint64_t id, const char *why)
{
	char name[64];
	size_t i = tp_spool_lower_bound(s, id);

	tp_spool_name(name, sizeof(name), id);
	if (i < s->n && s->ents[i].id == id)
		tp_spool_index_del(s, i);
	return tp_spool_quarantine_name(s, name, name, why);
}

/* ---- open, recover ---- */

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Check one "NNN.batch" file found at start-up and index it. */
static void
tp_spool_recover_file(struct spool *s, const char *name, uint64_t id)
{
	struct spool_entry e = { 0 };
	struct spool_hdr h;
	const char *why = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc = read_file(s->dirfd, name, SPOOL_MAX_FILE, &buf, &len);

	if (rc == -2)
		why = "larger than any batch";
	else if (rc == -1)
		why = strerror(errno);
	else if (tp_spool_check(buf, len, &h, &why) == 0 && h.batch_id != id)
		why = "batch id does not match the file name";
	free(buf);
	if (why == NULL) {
		e.id = id;
		e.bytes = len;
		e.created_ms = h.created_ms;
		e.nsamples = h.nsamples;
		e.nevents = h.nevents;
		if (tp_spool_index_add(s, &e) == 0)
			return;
		why = "out of memory";
	}
	s->corrupt++;
	tp_spool_quarantine_name(s, name, name, why);
}

static int
tp_spool_scan(struct spool *s, uint64_t *max_id)
{
	struct dirent *de;
	DIR *d;
	int fd = dup(s->dirfd);
	unsigned unrelated = 0;

	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		uint64_t id;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    strcmp(name, SPOOL_STATE) == 0 ||
		    strcmp(name, SPOOL_QUARANTINE) == 0)
			continue;
		if (has_suffix(name, SPOOL_TMP_SUFFIX)) {
			/* A write that never reached its rename: the batch was
			 * never acknowledged as spooled, nothing else to do. */
			if (unlinkat(s->dirfd, name, 0) == 0) {
				s->corrupt++;
				log_warn("spool: removed unfinished file %s/%s",
				    s->dir, name);
			}
			continue;
		}
		if ((id = tp_spool_name_id(name)) != 0) {
			if (id > *max_id)
				*max_id = id;
			tp_spool_recover_file(s, name, id);
			continue;
		}
		if (unrelated++ == 0)
			log_warn("spool: ignoring %s/%s, which is not a spool file",
			    s->dir, name);
	}
	closedir(d);
	return 0;
}

int
tp_spool_open(struct spool *s, const char *dir, uint64_t max_bytes,
    uint64_t max_age_ms, char *err, size_t errlen)
{
	uint64_t reserved = 0, dropped = 0, max_id = 0, wall = tp_wall_ms();
	int st;

	memset(s, 0, sizeof(*s));
	s->dirfd = -1;
	s->max_bytes = max_bytes;
	s->max_age_ms = max_age_ms;
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		return -1;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd == -1) {
		snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		return -1;
	}
	s->dir = xstrdup(dir);
	if (faccessat(s->dirfd, ".", W_OK, AT_EACCESS) == -1) {
		snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		tp_spool_close(s);
		return -1;
	}
	st = tp_spool_load_state(s, &reserved, &dropped);
	if (st == -1) {
		char qname[64];
		s->corrupt++;
		snprintf(qname, sizeof(qname), "%s.%" PRIu64, SPOOL_STATE, wall);
		tp_spool_quarantine_name(s, SPOOL_STATE, qname, "corrupt state file; "
		    "batch ids continue from the clock, the count of dropped "
		    "samples not yet reported is lost");
	}
	if (tp_spool_scan(s, &max_id) == -1) {
		snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		tp_spool_close(s);
		return -1;
	}
	s->dropped_pending = dropped;
	s->next_id = reserved > max_id ? reserved : max_id + 1;
	if (st != 0 && s->next_id < wall)
		s->next_id = wall;
	if (s->next_id == 0)
		s->next_id = 1;
	/* Ids from next_id on are not promised to disk yet. */
	s->reserved_id = s->next_id;
	tp_spool_enforce(s, wall);
	log_debug("spool: %s: %zu batches, %" PRIu64 " bytes, next batch id %"
	    PRIu64, dir, s->n, s->bytes, s->next_id);
	return 0;
}

void
tp_spool_close(struct spool *s)
{
	if (s->dirfd != -1)
		close(s->dirfd);
	s->dirfd = -1;
	free(s->ents);
	s->ents = NULL;
	s->n = s->cap = 0;
	free(s->dir);
	s->dir = NULL;
}

uint64_t
tp_spool_alloc_id(struct spool *s)
{
	if (s->next_id > SPOOL_MAX_ID) {
		log_complain(&s->disk_complain, mono_ms(), LOG_LVL_ERROR,
		    "spool: batch ids exhausted (2^53)");
		return 0;
	}
	if (s->next_id >= s->reserved_id) {
		uint64_t res = s->next_id + SPOOL_ID_BLOCK;
		if (tp_spool_save_state(s, res) == -1)
			return 0;
		s->reserved_id = res;
	}
	return s->next_id++;
}

int
tp_spool_write(struct spool *s, const struct spool_hdr *h, const void *payload)
{
	unsigned char hdr[SPOOL_HDR_SIZE];
	struct spool_entry e = { 0 };
	char name[64];

	tp_spool_encode_hdr(hdr, h);
	tp_spool_name(name, sizeof(name), h->batch_id);
	if (tp_spool_write_file(s, name, hdr, sizeof(hdr), payload,
	    (size_t)h->payload_len) == -1)
		return -1;
	e.id = h->batch_id;
	e.bytes = SPOOL_HDR_SIZE + h->payload_len;
	e.created_ms = h->created_ms;
	e.nsamples = h->nsamples;
	e.nevents = h->nevents;
	if (tp_spool_index_add(s, &e) == -1) {
		(void)unlinkat(s->dirfd, name, 0);
		log_error("spool: out of memory");
		return -1;
	}
	return 0;
}

int
tp_spool_read(struct spool *s, uint64_t id, struct spool_hdr *h,
    unsigned char **payload)
{
	char name[64];
	unsigned char *buf;
	const char *why;
	size_t len;
	int rc;

	tp_spool_name(name, sizeof(name), id);
	rc = read_file(s->dirfd, name, SPOOL_MAX_FILE, &buf, &len);
	if (rc == -2)
		return -2;
	if (rc == -1)
		return -1;
	if (tp_spool_check(buf, len, h, &why) == -1 || h->batch_id != id) {
		log_warn("spool: %s/%s: %s", s->dir, name,
		    h->batch_id != id ? "batch id mismatch" : why);
		free(buf);
		return -2;
	}
	memmove(buf, buf + h->hdr_size, len - h->hdr_size);
	*payload = buf;
	return 0;
}

int
tp_spool_remove(struct spool *s, uint64_t id)
{
	char name[64];
	size_t i = tp_spool_lower_bound(s, id);

	tp_spool_name(name, sizeof(name), id);
	if (i < s->n && s->ents[i].id == id)
		tp_spool_index_del(s, i);
	if (unlinkat(s->dirfd, name, 0) == -1 && errno != ENOENT) {
		log_error("spool: cannot delete %s/%s: %s", s->dir, name,
		    strerror(errno));
		return -1;
	}
	/* A batch that came back after a crash would be sent again: the
	 * hub drops it by id, but a split original would double its items. */
	(void)fsync(s->dirfd);
	if (s->n == 0)
		log_release(&s->drop_complain, "spool: %s: all sent (%" PRIu64
		    " samples dropped unsent since start)", s->dir,
		    s->dropped_total);
	return 0;
}

void
tp_spool_enforce(struct spool *s, uint64_t now_wall_ms)
{
	uint64_t nb = 0, ns = 0, ne = 0, full = 0, old = 0;
	size_t i = 0;

	while (s->bytes > s->max_bytes || s->n > SPOOL_MAX_FILES) {
		char name[64];
		while (i < s->n && s->ents[i].busy)
			i++;
		if (i == s->n)
			break;
		tp_spool_name(name, sizeof(name), s->ents[i].id);
		(void)unlinkat(s->dirfd, name, 0);
		ns += s->ents[i].nsamples;
		ne += s->ents[i].nevents;
		nb++;
		full++;
		tp_spool_index_del(s, i);
	}
	for (i = 0; i < s->n; ) {
		struct spool_entry *e = &s->ents[i];
		char name[64];
		if (e->busy || e->created_ms > now_wall_ms ||
		    now_wall_ms - e->created_ms <= s->max_age_ms) {
			i++;
			continue;
		}
		tp_spool_name(name, sizeof(name), e->id);
		(void)unlinkat(s->dirfd, name, 0);
		ns += e->nsamples;
		ne += e->nevents;
		nb++;
		old++;
		tp_spool_index_del(s, i);
	}
	if (nb == 0)
		return;
	s->dropped_pending += ns;
	s->dropped_total += ns;
	s->events_dropped_pending += ne;
	s->events_dropped_total += ne;
	/* Once per outage, then less and less often: a full spool drops a
	 * batch every time one closes. */
	log_complain(&s->drop_complain, mono_ms(), LOG_LVL_WARN, "spool: %s: "
	    "dropped %" PRIu64 " unsent batches (%" PRIu64 " samples, %" PRIu64
	    " in all): %s", s->dir, nb, ns, s->dropped_total, full && old ?
	    "spool full and batches too old" : full ? "spool_max_bytes reached" :
	    "older than spool_max_age");
	(void)tp_spool_save_state(s, s->reserved_id);
}

void
tp_spool_dropped_reported(struct spool *s, uint64_t n)
{
	if (n == 0)
		return;
	s->dropped_pending -= n < s->dropped_pending ? n : s->dropped_pending;
	(void)tp_spool_save_state(s, s->reserved_id);
}
