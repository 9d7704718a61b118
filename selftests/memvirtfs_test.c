// SPDX-License-Identifier: GPL-2.0
/*
 * memvirtfs_test: the filesystem half of the memvirt user contract.
 *
 * Covers mounting (options, defaults, bad options), directories, the
 * no-symlink/no-device rule, file size (ftruncate, any size, shrink frees,
 * regrow reads zero), mmap rules (MAP_SHARED only, PROT_WRITE needs O_RDWR,
 * SIGBUS past EOF, truncate while mapped), pread/pwrite semantics (EOF,
 * clamping, ENOSPC), data visibility across mappings and processes,
 * fallocate (populate, grow, KEEP_SIZE, PUNCH_HOLE alignment and effects,
 * every other mode), unlink while open/mapped, and admission control.
 *
 * The "geom" fixture runs the size-sensitive tests for a one-page file, a
 * file whose last page is partial, and an 8 MiB file. The "fs" fixture gives
 * each test a fresh directory and restores budget_mb/overcommit_ratio.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "contract.h"

#define PUNCH	(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)

/*
 * First offset in [from, to) where @buf (holding file offset 0 at index 0)
 * differs from the pattern for @salt, or from zero if @salt < 0; -1 if none.
 */
static long mismatch(const unsigned char *buf, size_t from, size_t to,
		     int salt)
{
	size_t i;

	for (i = from; i < to; i++) {
		unsigned char want = salt < 0 ? 0 : mv_pattern(i, salt);

		if (buf[i] != want)
			return (long)i;
	}
	return -1;
}

static void fill(unsigned char *buf, size_t from, size_t to, int salt)
{
	size_t i;

	for (i = from; i < to; i++)
		buf[i] = mv_pattern(i, salt);
}

/* ------------------------------------------------------------------ */
/* Size-sensitive tests: one file per test, mapped one page past EOF. */

FIXTURE(geom) {
	char dir[256];
	char path[PATH_MAX];
	int fd;
	size_t size;
	size_t npages;
	size_t maplen;
	unsigned char *map;
};

typedef FIXTURE_DATA(geom) geom_t;

FIXTURE_VARIANT(geom) {
	size_t size;
};

FIXTURE_VARIANT_ADD(geom, one_page) {
	.size = MV_PAGE,
};

FIXTURE_VARIANT_ADD(geom, partial_tail) {
	.size = 5 * MV_PAGE + 123,
};

FIXTURE_VARIANT_ADD(geom, eight_mib) {
	.size = 8 * MV_MIB,
};

static void geom_cleanup(geom_t *self)
{
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->maplen);
	self->map = NULL;
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	if (self->dir[0])
		mv_rm_rf(self->dir);
	self->dir[0] = 0;
}

FIXTURE_SETUP(geom)
{
	int ret;

	MV_SETUP_MOUNTED();
	self->fd = -1;
	self->size = variant->size;
	self->npages = mv_pages(self->size);
	self->maplen = (self->npages + 1) * MV_PAGE;
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "geom"));
	snprintf(self->path, sizeof(self->path), "%s/ram", self->dir);
	self->fd = mv_create(self->path, self->size);
	if (self->fd < 0) {
		ret = self->fd;
		geom_cleanup(self);
		ASSERT_EQ(0, ret) TH_LOG("create %zu byte file: %s",
					 variant->size, strerror(-ret));
	}
	self->map = mmap(NULL, self->maplen, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	if (self->map == MAP_FAILED) {
		ret = -errno;
		geom_cleanup(self);
		ASSERT_EQ(0, ret) TH_LOG("mmap MAP_SHARED: %s", strerror(-ret));
	}
}

FIXTURE_TEARDOWN(geom)
{
	geom_cleanup(self);
}

static void geom_stats(struct __test_metadata *_metadata,
		       geom_t *self, struct memvirt_stats *st)
{
	ASSERT_EQ(0, mv_get_stats(self->fd, st));
}

/* Fill the whole file through the mapping with @salt's pattern. */
static void geom_fill(geom_t *self, int salt)
{
	fill(self->map, 0, self->size, salt);
}

/* Read the whole file with pread into a new buffer of maplen bytes. */
static unsigned char *geom_pread_all(struct __test_metadata *_metadata,
				     geom_t *self)
{
	unsigned char *buf = calloc(1, self->maplen);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ((ssize_t)self->size,
		  pread(self->fd, buf, self->maplen, 0));
	return buf;
}

/* Punch range of the punch tests, in pages: [punch_lo, punch_hi). */
static size_t punch_lo(geom_t *self)
{
	return self->npages / 4;
}

static size_t punch_hi(geom_t *self)
{
	size_t hi = self->npages / 2;

	return hi > punch_lo(self) ? hi : punch_lo(self) + 1;
}

/* Check @buf: punched pages zero, the rest of the file holds @salt. */
static void check_punched(struct __test_metadata *_metadata,
			  geom_t *self, const unsigned char *buf,
			  int salt, const char *via)
{
	size_t lo = punch_lo(self) * MV_PAGE, hi = punch_hi(self) * MV_PAGE;

	if (hi > self->size)
		hi = self->size;
	EXPECT_EQ(-1, mismatch(buf, 0, lo, salt))
		TH_LOG("%s: data below the hole changed", via);
	EXPECT_EQ(-1, mismatch(buf, lo, hi, -1))
		TH_LOG("%s: punched range does not read zero", via);
	EXPECT_EQ(-1, mismatch(buf, hi, self->size, salt))
		TH_LOG("%s: data above the hole changed", via);
}

static int punch_range(geom_t *self)
{
	return fallocate(self->fd, PUNCH, punch_lo(self) * MV_PAGE,
			 (punch_hi(self) - punch_lo(self)) * MV_PAGE) ? -errno : 0;
}

TEST_F(geom, new_pages_read_zero)
{
	unsigned char *buf;

	/* Up to the end of the last (possibly partial) page. */
	EXPECT_EQ(-1, mismatch(self->map, 0, self->npages * MV_PAGE, -1));
	buf = geom_pread_all(_metadata, self);
	EXPECT_EQ(-1, mismatch(buf, 0, self->size, -1));
	free(buf);
}

TEST_F(geom, mapping_writes_read_back_via_pread)
{
	unsigned char *buf;

	geom_fill(self, 1);
	buf = geom_pread_all(_metadata, self);
	EXPECT_EQ(-1, mismatch(buf, 0, self->size, 1));
	free(buf);
}

TEST_F(geom, pwrite_reads_back_via_mapping)
{
	unsigned char *buf = malloc(self->size);

	ASSERT_NE(NULL, buf);
	fill(buf, 0, self->size, 2);
	ASSERT_EQ((ssize_t)self->size, pwrite(self->fd, buf, self->size, 0));
	EXPECT_EQ(-1, mismatch(self->map, 0, self->size, 2));
	free(buf);
}

TEST_F(geom, unaligned_pread_pwrite)
{
	size_t offs[] = { 1, MV_PAGE - 3, self->size / 2 + 1, self->size - 7 };
	unsigned char in[7], out[7];
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		size_t off = offs[i];

		if (off + sizeof(in) > self->size)
			continue;
		for (j = 0; j < sizeof(in); j++)
			in[j] = mv_pattern(off + j, 3 + i);
		ASSERT_EQ(7, pwrite(self->fd, in, sizeof(in), off))
			TH_LOG("pwrite 7 bytes at %zu", off);
		memset(out, 0, sizeof(out));
		ASSERT_EQ(7, pread(self->fd, out, sizeof(out), off))
			TH_LOG("pread 7 bytes at %zu", off);
		EXPECT_EQ(0, memcmp(in, out, sizeof(in)))
			TH_LOG("pread at %zu", off);
		EXPECT_EQ(0, memcmp(in, self->map + off, sizeof(in)))
			TH_LOG("mapping at %zu", off);
	}
}

TEST_F(geom, pread_at_or_after_eof_returns_zero)
{
	size_t offs[] = { self->size, self->size + 1,
			  self->npages * MV_PAGE + MV_PAGE,
			  self->size + MV_MIB };
	unsigned char buf[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		size_t off = offs[i];

		EXPECT_EQ(0, pread(self->fd, buf, sizeof(buf), off))
			TH_LOG("pread at %zu (size %zu)", off, self->size);
	}
}

TEST_F(geom, pread_across_eof_is_short)
{
	unsigned char buf[100];
	unsigned int i;

	geom_fill(self, 4);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(10, pread(self->fd, buf, sizeof(buf), self->size - 10));
	for (i = 0; i < 10; i++)
		EXPECT_EQ(mv_pattern(self->size - 10 + i, 4), buf[i]);
}

TEST_F(geom, pwrite_across_eof_is_clamped)
{
	unsigned char buf[100], back[10];
	struct stat st;
	unsigned int i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = 0x5a ^ i;
	ASSERT_EQ(10, pwrite(self->fd, buf, sizeof(buf), self->size - 10));
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ((off_t)self->size, st.st_size);
	ASSERT_EQ(10, pread(self->fd, back, sizeof(back), self->size - 10));
	EXPECT_EQ(0, memcmp(buf, back, sizeof(back)));
	EXPECT_EQ(0, memcmp(buf, self->map + self->size - 10, 10));
}

TEST_F(geom, pwrite_at_or_after_eof_enospc)
{
	size_t offs[] = { self->size, self->size + 1,
			  self->npages * MV_PAGE + MV_PAGE };
	unsigned char c = 0x77;
	struct stat st;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		errno = 0;
		EXPECT_EQ(-1, pwrite(self->fd, &c, 1, offs[i]))
			TH_LOG("pwrite at %zu (size %zu)", offs[i], self->size);
		EXPECT_EQ(ENOSPC, errno);
	}
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ((off_t)self->size, st.st_size);
}

TEST_F(geom, access_past_eof_sigbus)
{
	unsigned char *past = self->map + self->npages * MV_PAGE;
	unsigned char v = 0xff;

	/* Last byte of the last page, past EOF if the page is partial. */
	EXPECT_EQ(0, mv_access(past - 1, false, 0, &v));
	EXPECT_EQ(0ULL, v);
	EXPECT_EQ(0, mv_write_sigbus(self->map + self->size - 1, 0x11));
	EXPECT_EQ(1, mv_read_sigbus(past));
	EXPECT_EQ(1, mv_write_sigbus(past, 0x11));
	EXPECT_EQ(1, mv_read_sigbus(past + MV_PAGE - 1));
}

TEST_F(geom, truncate_while_mapped)
{
	size_t keep = self->npages / 2, p;
	struct stat st;

	geom_fill(self, 5);
	ASSERT_EQ(0, ftruncate(self->fd, keep * MV_PAGE));
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ((off_t)(keep * MV_PAGE), st.st_size);
	EXPECT_EQ(-1, mismatch(self->map, 0, keep * MV_PAGE, 5))
		TH_LOG("data below the new EOF changed");
	for (p = keep; p < self->npages; p += (p + 64 < self->npages ? 61 : 1)) {
		EXPECT_EQ(1, mv_read_sigbus(self->map + p * MV_PAGE))
			TH_LOG("read of page %zu past the new EOF", p);
		EXPECT_EQ(1, mv_write_sigbus(self->map + p * MV_PAGE + 7, 1))
			TH_LOG("write of page %zu past the new EOF", p);
	}
}

TEST_F(geom, shrink_frees_and_regrow_reads_zero)
{
	size_t keep = self->npages / 2;
	u64 g0, g1;
	struct memvirt_stats st;
	unsigned char *buf;

	ASSERT_EQ(0, mv_global_u64("resident_pages", &g0));
	geom_fill(self, 6);
	geom_stats(_metadata, self, &st);
	ASSERT_EQ(self->npages, st.resident);
	ASSERT_EQ(0, mv_global_u64("resident_pages", &g1));
	EXPECT_EQ(g0 + self->npages, g1);

	ASSERT_EQ(0, ftruncate(self->fd, keep * MV_PAGE));
	geom_stats(_metadata, self, &st);
	EXPECT_EQ(keep, st.resident);
	ASSERT_EQ(0, mv_global_u64("resident_pages", &g1));
	EXPECT_EQ(g0 + keep, g1);

	ASSERT_EQ(0, ftruncate(self->fd, self->size));
	geom_stats(_metadata, self, &st);
	EXPECT_EQ(keep, st.resident);
	EXPECT_EQ(self->npages - keep, st.zero);
	EXPECT_EQ(self->size, st.size_bytes);

	buf = geom_pread_all(_metadata, self);
	EXPECT_EQ(-1, mismatch(buf, 0, keep * MV_PAGE, 6));
	EXPECT_EQ(-1, mismatch(buf, keep * MV_PAGE, self->size, -1))
		TH_LOG("regrown part does not read zero via pread");
	free(buf);
	EXPECT_EQ(-1, mismatch(self->map, keep * MV_PAGE, self->size, -1))
		TH_LOG("regrown part does not read zero via the old mapping");
}

TEST_F(geom, two_mappings_share_data)
{
	unsigned char *map2;
	size_t p;
	int fd2;

	fd2 = open(self->path, O_RDWR);
	ASSERT_LE(0, fd2);
	map2 = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd2, 0);
	ASSERT_NE(MAP_FAILED, map2);
	/* Fault both in first, so the check sees live PTEs, not new faults. */
	EXPECT_EQ(-1, mismatch(self->map, 0, self->size, -1));
	EXPECT_EQ(-1, mismatch(map2, 0, self->size, -1));
	geom_fill(self, 7);
	EXPECT_EQ(-1, mismatch(map2, 0, self->size, 7))
		TH_LOG("write through mapping 1 not seen through mapping 2");
	for (p = 0; p < self->size; p += MV_PAGE / 2)
		map2[p] = 0xa5;
	for (p = 0; p < self->size; p += MV_PAGE / 2)
		if (self->map[p] != 0xa5)
			break;
	/* The loop steps 2 KiB, so it ends at the first step past the size. */
	EXPECT_GE(p, self->size)
		TH_LOG("write through mapping 2 not seen through mapping 1 at %zu",
		       p);
	munmap(map2, self->size);
	close(fd2);
}

/* Child side: map the file itself, fault it in, report, wait, verify. */
static int child_reader(const char *path, size_t size, int ready, int go,
			int salt)
{
	unsigned char *map, c = 'r';
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return 10;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 11;
	if (mismatch(map, 0, size, -1) != -1)
		return 12;
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		return 13;
	if (mismatch(map, 0, size, salt) != -1)
		return 14;
	return 0;
}

TEST_F(geom, parent_writes_child_sees)
{
	int ready[2], go[2], status;
	unsigned char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_reader(self->path, self->size, ready[1], go[0], 8));
	ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("child did not map the file");
	geom_fill(self, 8);
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 10 open, 11 mmap, 12 not zero, 13 pipe, 14 stale");
}

TEST_F(geom, child_writes_parent_sees)
{
	int status;
	unsigned char *buf;
	pid_t pid;

	/* Fault the parent's mapping in before the child writes. */
	EXPECT_EQ(-1, mismatch(self->map, 0, self->size, -1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = open(self->path, O_RDWR);
		unsigned char *map;

		if (fd < 0)
			_exit(10);
		map = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
			   MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			_exit(11);
		fill(map, 0, self->size, 9);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(-1, mismatch(self->map, 0, self->size, 9))
		TH_LOG("child's writes not seen through the parent's mapping");
	buf = geom_pread_all(_metadata, self);
	EXPECT_EQ(-1, mismatch(buf, 0, self->size, 9))
		TH_LOG("child's writes not seen via pread");
	free(buf);
}

TEST_F(geom, punch_zeroes_existing_mapping)
{
	geom_fill(self, 10);
	ASSERT_EQ(0, punch_range(self));
	check_punched(_metadata, self, self->map, 10, "existing mapping");
}

TEST_F(geom, punch_zeroes_second_mapping)
{
	unsigned char *map2, *map3;
	int fd2;

	fd2 = open(self->path, O_RDWR);
	ASSERT_LE(0, fd2);
	map2 = mmap(NULL, self->size, PROT_READ, MAP_SHARED, fd2, 0);
	ASSERT_NE(MAP_FAILED, map2);
	geom_fill(self, 11);
	/* Fault map2 in so it holds PTEs to the pages being punched. */
	ASSERT_EQ(-1, mismatch(map2, 0, self->size, 11));
	ASSERT_EQ(0, punch_range(self));
	check_punched(_metadata, self, map2, 11, "second mapping");
	map3 = mmap(NULL, self->size, PROT_READ, MAP_SHARED, fd2, 0);
	ASSERT_NE(MAP_FAILED, map3);
	check_punched(_metadata, self, map3, 11, "mapping made after the punch");
	munmap(map3, self->size);
	munmap(map2, self->size);
	close(fd2);
}

TEST_F(geom, punch_zeroes_pread)
{
	unsigned char *buf;

	geom_fill(self, 12);
	ASSERT_EQ(0, punch_range(self));
	buf = geom_pread_all(_metadata, self);
	check_punched(_metadata, self, buf, 12, "pread");
	free(buf);
}

TEST_F(geom, punch_frees_pages_and_counts_them)
{
	size_t n = punch_hi(self) - punch_lo(self);
	struct memvirt_stats before, after;
	u64 g0, g1;

	geom_fill(self, 13);
	geom_stats(_metadata, self, &before);
	ASSERT_EQ(self->npages, before.resident);
	ASSERT_EQ(0, mv_global_u64("resident_pages", &g0));
	ASSERT_EQ(0, punch_range(self));
	geom_stats(_metadata, self, &after);
	EXPECT_EQ(before.resident - n, after.resident);
	EXPECT_EQ(before.punched + n, after.punched);
	EXPECT_EQ(before.zero + n, after.zero);
	ASSERT_EQ(0, mv_global_u64("resident_pages", &g1));
	EXPECT_EQ(g0 - n, g1);
}

TEST_F(geom, punch_unaligned_offset_einval)
{
	off_t offs[] = { 1, MV_PAGE / 2, MV_PAGE - 1 };
	unsigned int i;

	geom_fill(self, 14);
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		errno = 0;
		EXPECT_EQ(-1, fallocate(self->fd, PUNCH, offs[i], MV_PAGE))
			TH_LOG("punch at offset %ld", (long)offs[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(-1, mismatch(self->map, 0, self->size, 14))
		TH_LOG("a refused punch changed data");
}

TEST_F(geom, punch_unaligned_length_einval)
{
	off_t lens[] = { 1, MV_PAGE - 1, MV_PAGE + 1 };
	unsigned int i;

	geom_fill(self, 15);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		errno = 0;
		EXPECT_EQ(-1, fallocate(self->fd, PUNCH, 0, lens[i]))
			TH_LOG("punch of length %ld", (long)lens[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(-1, mismatch(self->map, 0, self->size, 15))
		TH_LOG("a refused punch changed data");
}

TEST_F(geom, punch_beyond_eof_is_noop)
{
	struct memvirt_stats before, after;
	struct stat st;
	off_t end = self->npages * MV_PAGE;

	geom_fill(self, 16);
	geom_stats(_metadata, self, &before);
	EXPECT_EQ(0, fallocate(self->fd, PUNCH, end, MV_PAGE));
	EXPECT_EQ(0, fallocate(self->fd, PUNCH, end + 16 * MV_PAGE,
			       4 * MV_PAGE));
	geom_stats(_metadata, self, &after);
	EXPECT_EQ(before.resident, after.resident);
	EXPECT_EQ(before.punched, after.punched);
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ((off_t)self->size, st.st_size);
	EXPECT_EQ(-1, mismatch(self->map, 0, self->size, 16));
}

TEST_F(geom, fallocate_populates_private_zero_pages)
{
	struct memvirt_stats st;
	unsigned char *states, *buf;
	struct stat sb;
	size_t i;

	geom_stats(_metadata, self, &st);
	ASSERT_EQ(0ULL, st.resident);
	ASSERT_EQ(0, fallocate(self->fd, 0, 0, self->size));
	geom_stats(_metadata, self, &st);
	EXPECT_EQ(self->npages, st.resident);
	EXPECT_EQ(0ULL, st.zero);
	states = malloc(self->npages);
	ASSERT_NE(NULL, states);
	ASSERT_EQ(0, mv_query(self->fd, 0, self->npages, states));
	for (i = 0; i < self->npages; i++)
		if ((states[i] & MEMVIRT_GFN_STATE_MASK) != MEMVIRT_GFN_PRIVATE)
			break;
	EXPECT_EQ(self->npages, i) TH_LOG("gfn %zu state 0x%x", i,
					  i < self->npages ? states[i] : 0);
	free(states);
	ASSERT_EQ(0, fstat(self->fd, &sb));
	EXPECT_EQ((off_t)self->size, sb.st_size);
	buf = geom_pread_all(_metadata, self);
	EXPECT_EQ(-1, mismatch(buf, 0, self->size, -1));
	free(buf);
}

TEST_F(geom, fallocate_past_eof_grows_file)
{
	struct stat sb;
	size_t newsize = self->size + 2 * MV_PAGE;

	ASSERT_EQ(0, fallocate(self->fd, 0, self->size, 2 * MV_PAGE));
	ASSERT_EQ(0, fstat(self->fd, &sb));
	EXPECT_EQ((off_t)newsize, sb.st_size);
	EXPECT_EQ(MEMVIRT_GFN_PRIVATE,
		  mv_query1(self->fd, mv_pages(newsize) - 1) &
		  MEMVIRT_GFN_STATE_MASK);
	/* The old past-EOF page is inside the file now. */
	EXPECT_EQ(0, mv_write_sigbus(self->map + self->npages * MV_PAGE, 1));
}

TEST_F(geom, fallocate_keep_size_populates_inside_only)
{
	struct memvirt_stats st;
	struct stat sb;

	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_KEEP_SIZE, 0,
			       self->size + 4 * MV_PAGE));
	ASSERT_EQ(0, fstat(self->fd, &sb));
	EXPECT_EQ((off_t)self->size, sb.st_size);
	geom_stats(_metadata, self, &st);
	EXPECT_EQ(self->npages, st.resident);
	EXPECT_EQ(self->size, st.size_bytes);
}

/* ------------------------------------------------------------------ */
/* Everything else: a fresh directory, global knobs saved and restored. */

FIXTURE(fs) {
	char dir[256];
	char rootfile[256];
	char mnt[PATH_MAX];
	struct mv_knobs knobs;
};

typedef FIXTURE_DATA(fs) fs_t;

FIXTURE_SETUP(fs)
{
	MV_SETUP_MOUNTED();
	mv_knobs_save(&self->knobs);
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "fs"));
}

FIXTURE_TEARDOWN(fs)
{
	if (self->mnt[0]) {
		umount2(self->mnt, MNT_DETACH);
		rmdir(self->mnt);
	}
	if (self->dir[0])
		mv_rm_rf(self->dir);
	if (self->rootfile[0])
		unlink(self->rootfile);
	EXPECT_EQ(0, mv_knobs_restore(&self->knobs))
		TH_LOG("could not restore budget_mb/overcommit_ratio");
}

/* Path of @name inside the test directory. */
static const char *fs_path(fs_t *self, const char *name)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", self->dir, name);
	return buf[i];
}

static u64 global(struct __test_metadata *_metadata, const char *attr)
{
	u64 v = 0;

	ASSERT_EQ(0, mv_global_u64(attr, &v)) TH_LOG("read %s", attr);
	return v;
}

static void set_knob(struct __test_metadata *_metadata, const char *attr,
		     u64 v)
{
	ASSERT_EQ(0, mv_global_set_u64(attr, v))
		TH_LOG("%s = %llu", attr, (unsigned long long)v);
}

static int fs_new_mount(fs_t *self, const char *opts)
{
	if (!self->mnt[0]) {
		snprintf(self->mnt, sizeof(self->mnt), "/tmp/mvmnt.XXXXXX");
		if (!mkdtemp(self->mnt))
			return -errno;
	}
	return mv_mount(self->mnt, opts);
}

TEST_F(fs, filesystem_type_is_registered)
{
	EXPECT_TRUE(mv_fs_registered(MV_FSTYPE));
	EXPECT_TRUE(mv_mounted_at(MV_MNT, MV_FSTYPE));
}

TEST_F(fs, mount_defaults_root_0_0_0755)
{
	struct stat st;

	ASSERT_EQ(0, fs_new_mount(self, NULL));
	ASSERT_EQ(0, stat(self->mnt, &st));
	EXPECT_EQ(0U, st.st_uid);
	EXPECT_EQ(0U, st.st_gid);
	EXPECT_EQ((mode_t)(S_IFDIR | 0755), st.st_mode);
	EXPECT_EQ(0, umount(self->mnt));
}

TEST_F(fs, mount_options_set_root_owner_and_mode)
{
	struct stat st;

	ASSERT_EQ(0, fs_new_mount(self, "uid=1234,gid=5678,mode=0710"));
	ASSERT_EQ(0, stat(self->mnt, &st));
	EXPECT_EQ(1234U, st.st_uid);
	EXPECT_EQ(5678U, st.st_gid);
	EXPECT_EQ((mode_t)(S_IFDIR | 0710), st.st_mode);
	EXPECT_EQ(0, umount(self->mnt));
}

TEST_F(fs, mount_rejects_bad_options)
{
	static const char * const bad[] = { "bogus", "bogus=1", "uid=abc", "gid=x1",
			      "mode=abc", "mode=0999", "uid=1,nosuchopt=2" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, fs_new_mount(self, bad[i]))
			TH_LOG("mount -o %s", bad[i]);
		if (mv_mounted_at(self->mnt, NULL))
			umount(self->mnt);
	}
}

TEST_F(fs, new_file_is_size_zero_and_a_vm)
{
	const char *path = fs_path(self, "ram");
	u64 n0 = global(_metadata, "nr_vms"), id, v;
	struct memvirt_stats st;
	struct stat sb;
	int fd;

	fd = mv_create(path, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(0, sb.st_size);
	EXPECT_EQ(n0 + 1, global(_metadata, "nr_vms"));
	id = mv_vm_id(_metadata, path);
	EXPECT_LE(1ULL, id);
	ASSERT_EQ(0, mv_vm_u64(id, "size", &v));
	EXPECT_EQ(0ULL, v);
	ASSERT_EQ(0, mv_get_stats(fd, &st));
	EXPECT_EQ(id, st.vm_id);
	EXPECT_EQ(0ULL, st.size_bytes);
	close(fd);
}

TEST_F(fs, ftruncate_sets_any_size)
{
	off_t sizes[] = { 1, MV_PAGE, 3 * MV_PAGE + 5, 64 * MV_MIB, 4095,
			  MV_MIB + 1 };
	const char *path = fs_path(self, "ram");
	struct memvirt_stats st;
	struct stat sb;
	u64 id, v;
	unsigned int i;
	int fd;

	fd = mv_create(path, 0);
	ASSERT_LE(0, fd);
	id = mv_vm_id(_metadata, path);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ASSERT_EQ(0, ftruncate(fd, sizes[i]))
			TH_LOG("ftruncate to %ld: %s", (long)sizes[i],
			       strerror(errno));
		ASSERT_EQ(0, fstat(fd, &sb));
		EXPECT_EQ(sizes[i], sb.st_size);
		ASSERT_EQ(0, mv_get_stats(fd, &st));
		EXPECT_EQ((u64)sizes[i], st.size_bytes);
		ASSERT_EQ(0, mv_vm_u64(id, "size", &v));
		EXPECT_EQ((u64)sizes[i], v);
	}
	close(fd);
}

TEST_F(fs, committed_mb_follows_sizes)
{
	const char *path = fs_path(self, "ram");
	u64 c0 = global(_metadata, "committed_mb");
	int fd;

	fd = mv_create(path, 16 * MV_MIB);
	ASSERT_LE(0, fd);
	EXPECT_EQ(c0 + 16, global(_metadata, "committed_mb"));
	ASSERT_EQ(0, ftruncate(fd, 48 * MV_MIB));
	EXPECT_EQ(c0 + 48, global(_metadata, "committed_mb"));
	ASSERT_EQ(0, ftruncate(fd, 8 * MV_MIB));
	EXPECT_EQ(c0 + 8, global(_metadata, "committed_mb"));
	close(fd);
	ASSERT_EQ(0, unlink(path));
	EXPECT_EQ(c0, global(_metadata, "committed_mb"));
}

TEST_F(fs, vm_name_is_path_in_fs)
{
	char want[PATH_MAX], name[PATH_MAX];
	const char *path = fs_path(self, "domain-1/sub/pc.ram");
	u64 id;
	int fd;

	ASSERT_EQ(0, mkdir(fs_path(self, "domain-1"), 0755));
	ASSERT_EQ(0, mkdir(fs_path(self, "domain-1/sub"), 0755));
	fd = mv_create(path, MV_PAGE);
	ASSERT_LE(0, fd);
	snprintf(want, sizeof(want), "%s", mv_fs_name(path));
	id = mv_vm_id(_metadata, path);
	ASSERT_EQ(0, mv_vm_str(id, "name", name, sizeof(name)));
	EXPECT_STREQ(want, name);
	EXPECT_EQ('/', name[0]);
	close(fd);
}

TEST_F(fs, vm_name_at_fs_root)
{
	char name[PATH_MAX];
	u64 id;
	int fd;

	snprintf(self->rootfile, sizeof(self->rootfile), MV_MNT "/vm%d",
		 (int)getpid());
	fd = mv_create(self->rootfile, MV_PAGE);
	ASSERT_LE(0, fd);
	id = mv_vm_id(_metadata, self->rootfile);
	ASSERT_EQ(0, mv_vm_str(id, "name", name, sizeof(name)));
	EXPECT_STREQ(mv_fs_name(self->rootfile), name);
	close(fd);
}

TEST_F(fs, vm_ids_are_not_reused)
{
	const char *a = fs_path(self, "a"), *b = fs_path(self, "b");
	u64 ida, idb;
	int fd;

	fd = mv_create(a, MV_PAGE);
	ASSERT_LE(0, fd);
	ida = mv_vm_id(_metadata, a);
	close(fd);
	ASSERT_EQ(0, unlink(a));
	EXPECT_FALSE(mv_vm_exists(ida));
	fd = mv_create(b, MV_PAGE);
	ASSERT_LE(0, fd);
	idb = mv_vm_id(_metadata, b);
	EXPECT_NE(ida, idb);
	close(fd);
}

TEST_F(fs, rename_file_keeps_data_and_creation_name)
{
	const char *a = fs_path(self, "a"), *b = fs_path(self, "b");
	char want[PATH_MAX], name[PATH_MAX];
	unsigned char buf[64], in[64];
	u64 id;
	int fd;

	fd = mv_create(a, MV_PAGE);
	ASSERT_LE(0, fd);
	fill(in, 0, sizeof(in), 17);
	ASSERT_EQ((ssize_t)sizeof(in), pwrite(fd, in, sizeof(in), 0));
	close(fd);
	id = mv_vm_id(_metadata, a);
	snprintf(want, sizeof(want), "%s", mv_fs_name(a));
	ASSERT_EQ(0, rename(a, b));
	fd = open(b, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)sizeof(buf), pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(in, buf, sizeof(buf)));
	close(fd);
	ASSERT_EQ(0, mv_vm_str(id, "name", name, sizeof(name)));
	EXPECT_STREQ(want, name);
}

TEST_F(fs, directories_mkdir_rename_rmdir)
{
	struct stat st;

	ASSERT_EQ(0, mkdir(fs_path(self, "d"), 0750));
	ASSERT_EQ(0, stat(fs_path(self, "d"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(0750U, st.st_mode & 07777);
	ASSERT_EQ(0, mkdir(fs_path(self, "d/e"), 0755));
	ASSERT_EQ(0, rename(fs_path(self, "d"), fs_path(self, "f")));
	ASSERT_EQ(0, stat(fs_path(self, "f/e"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(-1, stat(fs_path(self, "d"), &st));
	EXPECT_EQ(0, rmdir(fs_path(self, "f/e")));
	EXPECT_EQ(0, rmdir(fs_path(self, "f")));
	EXPECT_EQ(-1, stat(fs_path(self, "f"), &st));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(fs, rmdir_nonempty_enotempty)
{
	int fd;

	ASSERT_EQ(0, mkdir(fs_path(self, "g"), 0755));
	fd = mv_create(fs_path(self, "g/ram"), MV_PAGE);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-1, rmdir(fs_path(self, "g")));
	EXPECT_EQ(ENOTEMPTY, errno);
}

TEST_F(fs, no_symlinks_or_device_nodes)
{
	struct {
		const char *what;
		int ret;
	} r[3];
	struct stat st;
	unsigned int i;

	r[0].what = "symlink";
	r[0].ret = symlink("ram", fs_path(self, "l")) ? errno : 0;
	r[1].what = "mkfifo";
	r[1].ret = mknod(fs_path(self, "p"), S_IFIFO | 0600, 0) ? errno : 0;
	r[2].what = "mknod char";
	r[2].ret = mknod(fs_path(self, "c"), S_IFCHR | 0600,
			 makedev(1, 3)) ? errno : 0;
	for (i = 0; i < 3; i++) {
		const char *what = r[i].what;
		int ret = r[i].ret;

		EXPECT_TRUE(ret == EPERM || ret == EOPNOTSUPP)
			TH_LOG("%s: %s", what, strerror(ret));
	}
	EXPECT_EQ(-1, lstat(fs_path(self, "l"), &st));
	EXPECT_EQ(-1, lstat(fs_path(self, "p"), &st));
	EXPECT_EQ(-1, lstat(fs_path(self, "c"), &st));
}

TEST_F(fs, map_private_einval_and_logs_share_on)
{
	int fd = mv_create(fs_path(self, "ram"), 4 * MV_PAGE);
	int kmsg = mv_kmsg_open();
	void *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 4 * MV_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (kmsg >= 0) {
		EXPECT_EQ(1, mv_kmsg_count(kmsg, "share=on"))
			TH_LOG("not exactly one kernel log line naming share=on");
		close(kmsg);
	} else {
		TH_LOG("no /dev/kmsg: log line not checked");
	}
	if (p != MAP_FAILED)
		munmap(p, 4 * MV_PAGE);
	close(fd);
}

TEST_F(fs, map_private_readonly_einval)
{
	int fd = mv_create(fs_path(self, "ram"), 4 * MV_PAGE);
	int rofd;
	void *p;

	ASSERT_LE(0, fd);
	rofd = open(fs_path(self, "ram"), O_RDONLY);
	ASSERT_LE(0, rofd);
	p = mmap(NULL, 4 * MV_PAGE, PROT_READ, MAP_PRIVATE, rofd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, 4 * MV_PAGE);
	close(rofd);
	close(fd);
}

TEST_F(fs, prot_write_needs_rdwr_fd)
{
	int fd = mv_create(fs_path(self, "ram"), 4 * MV_PAGE);
	unsigned char in = 0x3c;
	unsigned char *p;
	int rofd;

	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, &in, 1, MV_PAGE));
	rofd = open(fs_path(self, "ram"), O_RDONLY);
	ASSERT_LE(0, rofd);
	p = mmap(NULL, 4 * MV_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 rofd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	p = mmap(NULL, 4 * MV_PAGE, PROT_READ, MAP_SHARED, rofd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("PROT_READ on an O_RDONLY fd: %s",
					strerror(errno));
	EXPECT_EQ(in, p[MV_PAGE]);
	EXPECT_EQ(-1, mprotect(p, 4 * MV_PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, 4 * MV_PAGE);
	close(rofd);
	close(fd);
}

TEST_F(fs, fallocate_other_modes_eopnotsupp)
{
	static const struct {
		const char *name;
		int mode;
	} modes[] = {
		{ "ZERO_RANGE", FALLOC_FL_ZERO_RANGE },
		{ "ZERO_RANGE|KEEP_SIZE",
		  FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE },
		{ "COLLAPSE_RANGE", FALLOC_FL_COLLAPSE_RANGE },
		{ "INSERT_RANGE", FALLOC_FL_INSERT_RANGE },
		{ "PUNCH_HOLE without KEEP_SIZE", FALLOC_FL_PUNCH_HOLE },
		{ "UNSHARE_RANGE", FALLOC_FL_UNSHARE_RANGE },
		{ "UNSHARE_RANGE|KEEP_SIZE",
		  FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE },
	};
	const size_t size = 16 * MV_PAGE;
	unsigned char *buf = malloc(size);
	struct stat st;
	unsigned int i;
	int fd;

	ASSERT_NE(NULL, buf);
	fd = mv_create(fs_path(self, "ram"), size);
	ASSERT_LE(0, fd);
	fill(buf, 0, size, 18);
	ASSERT_EQ((ssize_t)size, pwrite(fd, buf, size, 0));
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		errno = 0;
		EXPECT_EQ(-1, fallocate(fd, modes[i].mode, 4 * MV_PAGE,
					4 * MV_PAGE))
			TH_LOG("fallocate %s", modes[i].name);
		EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("fallocate %s: %s",
						    modes[i].name,
						    strerror(errno));
	}
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)size, st.st_size);
	memset(buf, 0, size);
	ASSERT_EQ((ssize_t)size, pread(fd, buf, size, 0));
	EXPECT_EQ(-1, mismatch(buf, 0, size, 18));
	free(buf);
	close(fd);
}

/* Common part of the two unlink tests. */
struct unlink_ctx {
	u64 nr_vms, committed, resident, id;
};

static void unlink_begin(struct __test_metadata *_metadata,
			 fs_t *self, struct unlink_ctx *c,
			 int *fd, unsigned char **map)
{
	const char *path = fs_path(self, "ram");
	unsigned char in[MV_PAGE];
	int p;

	c->nr_vms = global(_metadata, "nr_vms");
	c->committed = global(_metadata, "committed_mb");
	c->resident = global(_metadata, "resident_pages");
	*fd = mv_create(path, 8 * MV_MIB);
	ASSERT_LE(0, *fd);
	c->id = mv_vm_id(_metadata, path);
	for (p = 0; p < 4; p++) {
		fill(in, 0, sizeof(in), 19 + p);
		ASSERT_EQ((ssize_t)sizeof(in),
			  pwrite(*fd, in, sizeof(in), p * 64 * MV_PAGE));
	}
	if (map) {
		*map = mmap(NULL, 8 * MV_MIB, PROT_READ | PROT_WRITE,
			    MAP_SHARED, *fd, 0);
		ASSERT_NE(MAP_FAILED, *map);
	}
	ASSERT_EQ(c->nr_vms + 1, global(_metadata, "nr_vms"));
	ASSERT_EQ(c->committed + 8, global(_metadata, "committed_mb"));
	ASSERT_EQ(0, unlink(path));
	EXPECT_EQ(-1, access(path, F_OK));
	EXPECT_TRUE(mv_vm_exists(c->id)) TH_LOG("vm gone while still open");
	EXPECT_EQ(c->nr_vms + 1, global(_metadata, "nr_vms"));
}

static void check_data(struct __test_metadata *_metadata, int fd,
		       const unsigned char *map, const char *when)
{
	unsigned char buf[MV_PAGE];
	int p;

	for (p = 0; p < 4; p++) {
		if (map) {
			const unsigned char *pg = map + p * 64 * MV_PAGE;
			size_t i;

			for (i = 0; i < MV_PAGE; i++)
				if (pg[i] != mv_pattern(i, 19 + p))
					break;
			EXPECT_EQ(MV_PAGE, i)
				TH_LOG("%s: page %d via mapping", when, p);
		}
		if (fd >= 0) {
			ASSERT_EQ((ssize_t)sizeof(buf),
				  pread(fd, buf, sizeof(buf),
					p * 64 * MV_PAGE));
			EXPECT_EQ(-1, mismatch(buf, 0, sizeof(buf), 19 + p))
				TH_LOG("%s: page %d via pread", when, p);
		}
	}
}

static void check_freed(struct __test_metadata *_metadata,
			struct unlink_ctx *c)
{
	EXPECT_FALSE(mv_vm_exists(c->id))
		TH_LOG("vms/%llu still there after the last close/munmap",
		       (unsigned long long)c->id);
	EXPECT_EQ(c->nr_vms, global(_metadata, "nr_vms"));
	EXPECT_EQ(c->committed, global(_metadata, "committed_mb"));
	EXPECT_EQ(c->resident, global(_metadata, "resident_pages"));
}

TEST_F(fs, unlink_while_mapped_keeps_data_then_frees)
{
	struct unlink_ctx c;
	unsigned char *map;
	int fd;

	unlink_begin(_metadata, self, &c, &fd, &map);
	check_data(_metadata, fd, map, "after unlink");
	close(fd);
	check_data(_metadata, -1, map, "after unlink and close");
	EXPECT_TRUE(mv_vm_exists(c.id)) TH_LOG("vm gone while still mapped");
	EXPECT_EQ(c.nr_vms + 1, global(_metadata, "nr_vms"));
	ASSERT_EQ(0, munmap(map, 8 * MV_MIB));
	check_freed(_metadata, &c);
}

TEST_F(fs, unlink_while_open_keeps_data_then_frees)
{
	struct unlink_ctx c;
	int fd;

	unlink_begin(_metadata, self, &c, &fd, NULL);
	check_data(_metadata, fd, NULL, "after unlink");
	ASSERT_EQ(0, close(fd));
	check_freed(_metadata, &c);
}

/*
 * Admission: shrink the limit to 64 MiB above what is committed now.
 * Other VMs' sizes S0 satisfy committed_mb - 1 < S0 <= committed_mb (MiB).
 */
static u64 admission_tighten(struct __test_metadata *_metadata)
{
	u64 c0 = global(_metadata, "committed_mb");

	if (c0 + 64 > mv_memtotal_mb())
		SKIP(return c0, "too much committed already (%llu MiB)",
		     (unsigned long long)c0);
	set_knob(_metadata, "overcommit_ratio", 100);
	set_knob(_metadata, "budget_mb", c0 + 64);
	return c0;
}

TEST_F(fs, admission_big_ftruncate_enomem_until_restored)
{
	const char *path = fs_path(self, "ram");
	struct stat st;
	int fd;

	fd = mv_create(path, 0);
	ASSERT_LE(0, fd);
	admission_tighten(_metadata);
	if (_metadata->skip)
		return;
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, 128 * MV_MIB));
	EXPECT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(0, ftruncate(fd, 32 * MV_MIB));
	ASSERT_EQ(0, mv_knobs_restore(&self->knobs));
	EXPECT_EQ(0, ftruncate(fd, 128 * MV_MIB)) TH_LOG("after restore: %s",
							 strerror(errno));
	close(fd);
}

TEST_F(fs, admission_counts_sum_of_all_vms)
{
	int fd1, fd2;

	fd1 = mv_create(fs_path(self, "a"), 0);
	fd2 = mv_create(fs_path(self, "b"), 0);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	admission_tighten(_metadata);
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, ftruncate(fd1, 48 * MV_MIB));
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd2, 48 * MV_MIB))
		TH_LOG("two 48 MiB VMs fit under a 64 MiB margin");
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, ftruncate(fd2, 16 * MV_MIB));
	/* Shrinking one VM makes room for the other. */
	ASSERT_EQ(0, ftruncate(fd1, 0));
	EXPECT_EQ(0, ftruncate(fd2, 48 * MV_MIB));
	close(fd1);
	close(fd2);
}

TEST_F(fs, admission_scales_with_overcommit_ratio)
{
	u64 c0;
	int fd;

	fd = mv_create(fs_path(self, "ram"), 0);
	ASSERT_LE(0, fd);
	c0 = admission_tighten(_metadata);
	if (_metadata->skip)
		return;
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, 100 * MV_MIB));
	EXPECT_EQ(ENOMEM, errno);
	/* 200%: the limit is 2 * (c0 + 64) MiB. */
	set_knob(_metadata, "overcommit_ratio", 200);
	EXPECT_EQ(0, ftruncate(fd, 100 * MV_MIB));
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, (c0 + 130) * MV_MIB));
	EXPECT_EQ(ENOMEM, errno);
	close(fd);
}

TEST_F(fs, admission_limit_is_inclusive)
{
	int fd;

	if (global(_metadata, "nr_vms") != 0)
		SKIP(return, "other VMs exist; exact limit needs an empty host");
	fd = mv_create(fs_path(self, "ram"), 0);
	ASSERT_LE(0, fd);
	set_knob(_metadata, "overcommit_ratio", 100);
	set_knob(_metadata, "budget_mb", 64);
	EXPECT_EQ(0, ftruncate(fd, 64 * MV_MIB));
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, 64 * MV_MIB + 1));
	EXPECT_EQ(ENOMEM, errno);
	/* 10% of 64 MiB is 6.4 MiB: shrinking works, growing does not. */
	set_knob(_metadata, "overcommit_ratio", 10);
	EXPECT_EQ(0, ftruncate(fd, 32 * MV_MIB));
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, 32 * MV_MIB + MV_PAGE));
	EXPECT_EQ(ENOMEM, errno);
	close(fd);
}

TEST_F(fs, admission_applies_to_fallocate_growth)
{
	struct memvirt_stats st;
	struct stat sb;
	int fd;

	fd = mv_create(fs_path(self, "ram"), 0);
	ASSERT_LE(0, fd);
	admission_tighten(_metadata);
	if (_metadata->skip)
		return;
	errno = 0;
	EXPECT_EQ(-1, fallocate(fd, 0, 0, 128 * MV_MIB));
	EXPECT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(0, sb.st_size);
	ASSERT_EQ(0, mv_get_stats(fd, &st));
	EXPECT_EQ(0ULL, st.resident);
	EXPECT_EQ(0, fallocate(fd, 0, 0, MV_MIB));
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ((off_t)MV_MIB, sb.st_size);
	close(fd);
}

TEST_F(fs, admission_never_refuses_shrink)
{
	int fd;

	fd = mv_create(fs_path(self, "ram"), 48 * MV_MIB);
	ASSERT_LE(0, fd);
	set_knob(_metadata, "overcommit_ratio", 100);
	set_knob(_metadata, "budget_mb", 1);
	EXPECT_EQ(0, ftruncate(fd, 16 * MV_MIB)) TH_LOG("shrink refused: %s",
							strerror(errno));
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, 17 * MV_MIB));
	EXPECT_EQ(ENOMEM, errno);
	close(fd);
}

TEST_F(fs, admission_refusal_logs_a_line)
{
	int fd, kmsg;

	fd = mv_create(fs_path(self, "ram"), 0);
	ASSERT_LE(0, fd);
	admission_tighten(_metadata);
	if (_metadata->skip)
		return;
	kmsg = mv_kmsg_open();
	if (kmsg < 0)
		SKIP(return, "no /dev/kmsg");
	/*
	 * The line may be rate limited (printk_ratelimited: 10 per 5 s) and
	 * the tests before this one were refused many times: start afresh.
	 */
	sleep(6);
	EXPECT_EQ(-1, ftruncate(fd, 128 * MV_MIB));
	EXPECT_EQ(1, mv_kmsg_count(kmsg, "memvirt"))
		TH_LOG("expected one memvirt log line for the refusal");
	close(kmsg);
	close(fd);
}

MV_HARNESS_MAIN(mv_need_memvirtfs)
