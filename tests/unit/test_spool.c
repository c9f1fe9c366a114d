/* The durable spool (transport/spool.c): files, recovery, bounds, ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "transport/transport_int.h"
#include "tests/unit/unit_util.h"

#define MAXB (UINT64_C(1) << 30)
#define DAY  UINT64_C(86400000)

static char dir[256];

static int
setup(void **st)
{
	if (unit_tmpdir(dir, sizeof(dir) - 8, "spool") != 0)
		return -1;
	/* the spool itself one level down: spool_open creates it */
	strcat(dir, "/spool");
	return 0;
}

static int
teardown(void **st)
{
	char *slash = strrchr(dir, '/');

	*slash = '\0';
	return unit_rmtree(dir);
}

static void
open_ok(struct spool *s, uint64_t max_bytes, uint64_t max_age)
{
	char err[256] = "";

	if (tp_spool_open(s, dir, max_bytes, max_age, err, sizeof(err)) != 0)
		fail_msg("spool_open: %s", err);
}

/* Write one batch with a payload of len bytes of pattern; its id. */
static uint64_t
put(struct spool *s, size_t len, uint32_t nsamples, uint64_t created_ms)
{
	unsigned char *p = malloc(len ? len : 1);
	struct spool_hdr h = { 0 };

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + len);
	h.batch_id = tp_spool_alloc_id(s);
	assert_true(h.batch_id != 0);
	h.created_ms = created_ms ? created_ms : tp_wall_ms();
	h.payload_len = len;
	h.nsamples = nsamples;
	h.payload_crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), p, len);
	assert_int_equal(tp_spool_write(s, &h, p), 0);
	free(p);
	return h.batch_id;
}

static void
path_of(char *buf, size_t len, uint64_t id)
{
	snprintf(buf, len, "%s/%020" PRIu64 ".batch", dir, id);
}

static void
write_raw(const char *name, const void *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	fclose(f);
}

static bool
exists(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int
count_dir(const char *sub)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
a_batch_reads_back_exactly_as_written(void **st)
{
	struct spool s;
	struct spool_hdr h;
	unsigned char *p = NULL;
	struct stat sb;
	uint64_t id;

	open_ok(&s, MAXB, DAY);
	assert_int_equal(stat(dir, &sb), 0);
#ifndef _WIN32
	/* Windows has no mode: the directory inherits the state directory's
	 * ACL (ProgramData\Outpost, set by the MSI). */
	assert_int_equal(sb.st_mode & 0777, 0700);
#endif
	id = put(&s, 5000, 42, 1234567);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.bytes, SPOOL_HDR_SIZE + 5000);
	assert_int_equal(tp_spool_read(&s, id, &h, &p), 0);
	assert_int_equal(h.batch_id, id);
	assert_int_equal(h.created_ms, 1234567);
	assert_int_equal(h.nsamples, 42);
	assert_int_equal(h.payload_len, 5000);
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(p[i], (unsigned char)(i * 7 + 5000));
	free(p);
	assert_non_null(tp_spool_first_idle(&s));
	assert_int_equal(tp_spool_first_idle(&s)->id, id);
	assert_int_equal(tp_spool_remove(&s, id), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.bytes, 0);
	assert_null(tp_spool_first_idle(&s));
	tp_spool_close(&s);
	assert_int_equal(count_dir(""), 1);   /* only the state file */
}

static void
batches_come_back_in_id_order_after_a_restart(void **st)
{
	struct spool s;
	uint64_t ids[5];

	open_ok(&s, MAXB, DAY);
	for (int i = 0; i < 5; i++)
		ids[i] = put(&s, 100 + (size_t)i, 1, 0);
	tp_spool_close(&s);
	open_ok(&s, MAXB, DAY);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.corrupt, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(s.ents[i].id, ids[i]);
		assert_int_equal(s.ents[i].bytes, SPOOL_HDR_SIZE + 100 + (size_t)i);
	}
	tp_spool_close(&s);
}

static void
batch_ids_continue_above_every_earlier_id_after_reopen(void **st)
{
	struct spool s;
	uint64_t last = 0, first;

	open_ok(&s, MAXB, DAY);
	/* No state file: a new spool starts from the clock, so even a
	 * reinstalled agent stays above ids the hub has seen. */
	first = tp_spool_alloc_id(&s);
	assert_true(first >= tp_wall_ms() - 60000);
	for (int i = 0; i < 3000; i++) {   /* crosses reservation blocks */
		uint64_t id = tp_spool_alloc_id(&s);
		assert_true(id > first && id > last);
		last = id;
	}
	tp_spool_close(&s);
	for (int round = 0; round < 3; round++) {
		uint64_t id;
		open_ok(&s, MAXB, DAY);
		id = tp_spool_alloc_id(&s);
		assert_true(id > last);
		assert_true(id <= last + 1 + SPOOL_ID_BLOCK);
		last = id;
		tp_spool_close(&s);
	}
}

static void
a_lost_state_file_never_reuses_ids(void **st)
{
	struct spool s;
	char path[512];
	uint64_t id;

	open_ok(&s, MAXB, DAY);
	id = put(&s, 10, 0, 0);
	assert_int_equal(tp_spool_remove(&s, id), 0);
	tp_spool_close(&s);
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(unlink(path), 0);
	open_ok(&s, MAXB, DAY);
	assert_true(tp_spool_alloc_id(&s) > id);
	tp_spool_close(&s);

	/* a corrupt state file is quarantined, ids still go up */
	write_raw("state", "garbage", 7);
	open_ok(&s, MAXB, DAY);
	assert_int_equal(s.corrupt, 1);
	assert_true(tp_spool_alloc_id(&s) > id);
	assert_int_equal(count_dir("quarantine"), 1);
	tp_spool_close(&s);
}

static void
damaged_and_leftover_files_are_set_aside_at_startup(void **st)
{
	struct spool s;
	char path[512];
	unsigned char junk[300];
	uint64_t ids[4];
	FILE *f;

	open_ok(&s, MAXB, DAY);
	for (int i = 0; i < 4; i++)
		ids[i] = put(&s, 2000, 3, 0);
	tp_spool_close(&s);

	/* 0: truncated mid-payload (a crash on a filesystem that lied) */
	path_of(path, sizeof(path), ids[0]);
	assert_int_equal(truncate(path, SPOOL_HDR_SIZE + 1000), 0);
	/* 1: one bit flipped in the payload */
	path_of(path, sizeof(path), ids[1]);
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, SPOOL_HDR_SIZE + 777, SEEK_SET), 0);
	assert_int_equal(fread(junk, 1, 1, f), 1);
	junk[0] ^= 0x10;
	assert_int_equal(fseek(f, SPOOL_HDR_SIZE + 777, SEEK_SET), 0);
	assert_int_equal(fwrite(junk, 1, 1, f), 1);
	assert_int_equal(fclose(f), 0);
	/* 2: a header cut short */
	path_of(path, sizeof(path), ids[2]);
	assert_int_equal(truncate(path, 20), 0);
	/* ids[3] stays good. More: not a spool file at all, a batch under
	 * another batch's name, a temp file, a temp state, an unrelated file. */
	memset(junk, 'x', sizeof(junk));
	write_raw("00000000000000000099.batch", junk, sizeof(junk));
	{
		char src[512], dst[512];
		path_of(src, sizeof(src), ids[3]);
		path_of(dst, sizeof(dst), ids[3] + 100);
		assert_int_equal(unit_copy_file(src, dst), 0);
	}
	write_raw("00000000000000000098.batch.tmp", junk, 10);
	write_raw("state.tmp", junk, 3);
	write_raw("README", "hello", 5);
	snprintf(path, sizeof(path), "%s/notes", dir);
	assert_int_equal(platform_mkdir(path, 0700), 0);

	open_ok(&s, MAXB, DAY);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ents[0].id, ids[3]);
	assert_int_equal(s.corrupt, 7);   /* 5 files + 2 temp files */
	assert_int_equal(count_dir("quarantine"), 5);
	assert_false(exists("00000000000000000098.batch.tmp"));
	assert_false(exists("state.tmp"));
	assert_true(exists("README"));     /* not ours: left alone */
	assert_true(exists("notes"));
	assert_true(tp_spool_alloc_id(&s) > ids[3] + 100);
	tp_spool_close(&s);

	/* The next start finds nothing new to complain about. */
	open_ok(&s, MAXB, DAY);
	assert_int_equal(s.corrupt, 0);
	assert_int_equal(s.n, 1);
	tp_spool_close(&s);
}

static void
a_file_damaged_after_startup_fails_its_read(void **st)
{
	struct spool s;
	struct spool_hdr h;
	unsigned char *p = NULL;
	char path[512];
	uint64_t id;

	open_ok(&s, MAXB, DAY);
	id = put(&s, 100, 1, 0);
	path_of(path, sizeof(path), id);
	assert_int_equal(truncate(path, SPOOL_HDR_SIZE + 50), 0);
	assert_int_equal(tp_spool_read(&s, id, &h, &p), -2);
	assert_int_equal(tp_spool_quarantine(&s, id, "test"), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(count_dir("quarantine"), 1);
	tp_spool_close(&s);
}

/* A batch's events are counted when the spool drops it; a version 1
 * file (before events) is still read, with no events. */
static void
dropped_batches_count_their_events_and_v1_files_read(void **st)
{
	unsigned char buf[SPOOL_HDR_SIZE_V1 + 8] = "OPSPOOL", *payload;
	struct spool_hdr h = { .batch_id = 1, .created_ms = 5, .payload_len = 2000,
	    .nsamples = 1, .nevents = 7 };
	struct spool s;
	unsigned char *p = calloc(1, 2000);
	const char *why;
	uint32_t crc;

	open_ok(&s, 1 << 20, DAY);
	h.batch_id = tp_spool_alloc_id(&s);
	h.created_ms = tp_wall_ms();
	h.payload_crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), p, 2000);
	assert_int_equal(tp_spool_write(&s, &h, p), 0);
	s.max_bytes = 100;
	tp_spool_enforce(&s, tp_wall_ms());
	assert_int_equal(s.n, 0);
	assert_int_equal(s.events_dropped_pending, 7);
	assert_int_equal(s.dropped_pending, 1);
	tp_spool_close(&s);
	free(p);
	/* version 1: 52 bytes, payload CRC at 44, header CRC at 48 */
	buf[8] = 1;
	buf[12] = SPOOL_HDR_SIZE_V1;
	buf[16] = 9;
	buf[32] = 8;
	buf[40] = 3;
	for (int i = 0; i < 8; i++)   /* created now: not too old to keep */
		buf[24 + i] = (unsigned char)(tp_wall_ms() >> (8 * i));
	crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), buf + SPOOL_HDR_SIZE_V1, 8);
	for (int i = 0; i < 4; i++)
		buf[44 + i] = (unsigned char)(crc >> (8 * i));
	crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), buf, 48);
	for (int i = 0; i < 4; i++)
		buf[48 + i] = (unsigned char)(crc >> (8 * i));
	if (tp_spool_check(buf, sizeof(buf), &h, &why) != 0)
		fail_msg("v1 header refused: %s", why);
	assert_int_equal(h.batch_id, 9);
	assert_int_equal(h.nsamples, 3);
	assert_int_equal(h.nevents, 0);
	assert_int_equal(h.hdr_size, SPOOL_HDR_SIZE_V1);
	write_raw("00000000000000000009.batch", buf, sizeof(buf));
	open_ok(&s, 1 << 20, DAY);
	assert_int_equal(tp_spool_read(&s, 9, &h, &payload), 0);
	assert_memory_equal(payload, buf + SPOOL_HDR_SIZE_V1, 8);
	free(payload);
	tp_spool_close(&s);
}

static void
every_single_bit_flip_is_detected(void **st)
{
	unsigned char buf[SPOOL_HDR_SIZE + 64];
	struct spool_hdr h = { .batch_id = 77, .created_ms = 5,
	    .payload_len = 64, .nsamples = 3 };
	const char *why;

	for (int i = 0; i < 64; i++)
		buf[SPOOL_HDR_SIZE + i] = (unsigned char)(i * 31);
	h.payload_crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0),
	    buf + SPOOL_HDR_SIZE, 64);
	tp_spool_encode_hdr(buf, &h);
	assert_int_equal(tp_spool_check(buf, sizeof(buf), &h, &why), 0);
	for (size_t byte = 0; byte < sizeof(buf); byte++)
		for (int bit = 0; bit < 8; bit++) {
			buf[byte] ^= (unsigned char)(1u << bit);
			if (tp_spool_check(buf, sizeof(buf), &h, &why) != -1)
				fail_msg("flip at byte %zu bit %d undetected", byte, bit);
			buf[byte] ^= (unsigned char)(1u << bit);
		}
	for (size_t len = 0; len < sizeof(buf); len++)
		assert_int_equal(tp_spool_check(buf, len, &h, &why), -1);
}

static void
a_full_spool_drops_the_oldest_and_counts_their_samples(void **st)
{
	struct spool s;
	uint64_t ids[10];

	/* each file is 1000 bytes, header included; room for 4 */
	open_ok(&s, 4000, DAY);
	for (int i = 0; i < 10; i++) {
		ids[i] = put(&s, 1000 - SPOOL_HDR_SIZE, 5, 0);
		tp_spool_enforce(&s, tp_wall_ms());
		assert_true(s.bytes <= 4000);
	}
	assert_int_equal(s.n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(s.ents[i].id, ids[6 + i]);
	assert_int_equal(s.dropped_pending, 30);
	assert_int_equal(s.dropped_total, 30);
	tp_spool_close(&s);
	/* the unreported count survives a restart */
	open_ok(&s, 4000, DAY);
	assert_int_equal(s.dropped_pending, 30);
	tp_spool_dropped_reported(&s, 20);
	assert_int_equal(s.dropped_pending, 10);
	tp_spool_close(&s);
	open_ok(&s, 4000, DAY);
	assert_int_equal(s.dropped_pending, 10);
	tp_spool_dropped_reported(&s, 99);
	assert_int_equal(s.dropped_pending, 0);
	tp_spool_close(&s);
	/* a smaller bound at start-up applies at once */
	open_ok(&s, 2500, DAY);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ents[0].id, ids[8]);
	assert_int_equal(s.dropped_pending, 10);
	tp_spool_close(&s);
}

static void
batches_older_than_the_age_bound_are_dropped(void **st)
{
	struct spool s;
	uint64_t now = tp_wall_ms(), young;

	open_ok(&s, MAXB, 3600000);
	(void)put(&s, 10, 4, now - 7200000);
	young = put(&s, 10, 6, now - 60000);
	(void)put(&s, 10, 1, now - 3600001);
	tp_spool_enforce(&s, now);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ents[0].id, young);
	assert_int_equal(s.dropped_pending, 5);
	tp_spool_close(&s);
}

static void
a_batch_being_sent_is_not_dropped(void **st)
{
	struct spool s;
	uint64_t a, b;

	open_ok(&s, 1500, DAY);
	a = put(&s, 948, 1, 0);
	tp_spool_find(&s, a)->busy = true;
	b = put(&s, 948, 2, 0);
	tp_spool_enforce(&s, tp_wall_ms());
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ents[0].id, a);
	assert_int_equal(s.dropped_pending, 2);
	assert_null(tp_spool_first_idle(&s));
	assert_null(tp_spool_find(&s, b));
	tp_spool_close(&s);
}

static void
quarantine_keeps_only_the_newest_files(void **st)
{
	struct spool s;

	open_ok(&s, MAXB, DAY);
	for (unsigned i = 0; i < SPOOL_QUARANTINE_MAX_FILES + 20; i++) {
		uint64_t id = put(&s, 10, 0, 0);
		assert_int_equal(tp_spool_quarantine(&s, id, "test"), 0);
	}
	assert_int_equal(count_dir("quarantine"), SPOOL_QUARANTINE_MAX_FILES);
	assert_int_equal(s.n, 0);
	tp_spool_close(&s);
}

static void
an_unusable_directory_is_a_clear_error(void **st)
{
	struct spool s;
	char err[600] = "", bad[300];

	char *slash = strrchr(dir, '/');

	/* Under a regular file (next to the spool, which does not exist
	 * yet): no directory can be made there. */
	*slash = '\0';
	write_raw("plain", "x", 1);
	snprintf(bad, sizeof(bad), "%s/plain/spool", dir);
	*slash = '/';
	assert_int_equal(tp_spool_open(&s, bad, MAXB, DAY, err, sizeof(err)), -1);
	assert_non_null(strstr(err, bad));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_batch_reads_back_exactly_as_written, setup, teardown),
		cmocka_unit_test_setup_teardown(batches_come_back_in_id_order_after_a_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_ids_continue_above_every_earlier_id_after_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(a_lost_state_file_never_reuses_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_and_leftover_files_are_set_aside_at_startup, setup, teardown),
		cmocka_unit_test_setup_teardown(a_file_damaged_after_startup_fails_its_read, setup, teardown),
		cmocka_unit_test(every_single_bit_flip_is_detected),
		cmocka_unit_test_setup_teardown(a_full_spool_drops_the_oldest_and_counts_their_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(dropped_batches_count_their_events_and_v1_files_read, setup, teardown),
		cmocka_unit_test_setup_teardown(batches_older_than_the_age_bound_are_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(a_batch_being_sent_is_not_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(quarantine_keeps_only_the_newest_files, setup, teardown),
		cmocka_unit_test_setup_teardown(an_unusable_directory_is_a_clear_error, setup, teardown),
	};
	log_init("test_spool", LOG_LVL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
