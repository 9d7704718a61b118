// SPDX-License-Identifier: GPL-2.0
/*
 * reclaim_test: MEMVIRT_IOC_RECLAIM, mode MEMVIRT_RECLAIM_ZERO.
 *
 * Every private page of the range whose 4 KiB are all zero is freed and its
 * gfn left ZERO; pages holding data are untouched; a page something else
 * holds a reference on (a pipe buffer from splice(), a vmsplice() of a
 * mapping) is skipped and counted in pinned_skips until the reference goes.
 * A mapping of a reclaimed page reads zero and faults back in; a writer
 * racing reclaim never loses data. Needs CAP_SYS_ADMIN; bad arguments are
 * EINVAL.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>

#include "kselftest_harness.h"
#include "contract.h"

#define NPAGES		64UL

FIXTURE(rc) {
	char dir[256];
	char path[PATH_MAX];
	int fd;
	u64 id;
	unsigned char *map;
	int pipe[2];
};

typedef FIXTURE_DATA(rc) rc_t;

static void rc_init(struct __test_metadata *_metadata, rc_t *self)
{
	self->fd = -1;
	self->pipe[0] = self->pipe[1] = -1;
	MV_SETUP_MOUNTED();
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "rc"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, NPAGES * MV_PAGE);
	ASSERT_LE(0, self->fd);
	self->id = mv_vm_id(_metadata, self->path);
	self->map = mmap(NULL, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
}

static void rc_fini(rc_t *self)
{
	if (self->pipe[0] >= 0)
		close(self->pipe[0]);
	if (self->pipe[1] >= 0)
		close(self->pipe[1]);
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, NPAGES * MV_PAGE);
	if (self->fd >= 0)
		close(self->fd);
	if (self->dir[0])
		mv_rm_rf(self->dir);
}

FIXTURE_SETUP(rc)
{
	rc_init(_metadata, self);
}

FIXTURE_TEARDOWN(rc)
{
	rc_fini(self);
}

/* pwrite a page of zeroes (a private page that holds only zeroes). */
static void write_zero_page(struct __test_metadata *_metadata, int fd,
			    size_t gfn)
{
	static const unsigned char zero[MV_PAGE];

	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(fd, zero, MV_PAGE, gfn * MV_PAGE));
}

static void write_data_page(struct __test_metadata *_metadata, int fd,
			    size_t gfn)
{
	unsigned char buf[MV_PAGE];
	size_t i;

	for (i = 0; i < MV_PAGE; i++)
		buf[i] = mv_pattern(gfn * MV_PAGE + i, 7);
	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(fd, buf, MV_PAGE, gfn * MV_PAGE));
}

static bool data_page_intact(int fd, size_t gfn)
{
	unsigned char buf[MV_PAGE];
	size_t i;

	if (pread(fd, buf, MV_PAGE, gfn * MV_PAGE) != (ssize_t)MV_PAGE)
		return false;
	for (i = 0; i < MV_PAGE; i++)
		if (buf[i] != mv_pattern(gfn * MV_PAGE + i, 7))
			return false;
	return true;
}

static void reclaim_ok(struct __test_metadata *_metadata, int fd, u64 start,
		       u64 nr, struct memvirt_reclaim *r)
{
	int ret = mv_reclaim(fd, MEMVIRT_RECLAIM_ZERO, start, nr, r);

	ASSERT_EQ(0, ret) TH_LOG("RECLAIM [%llu, +%llu): %s",
				 (unsigned long long)start,
				 (unsigned long long)nr, strerror(-ret));
}

TEST_F(rc, frees_zero_pages_keeps_data)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	size_t g;

	for (g = 0; g < 4; g++)
		write_zero_page(_metadata, self->fd, g);
	for (g = 4; g < 8; g++)
		write_data_page(_metadata, self->fd, g);
	/* Two pages zeroed through the mapping. */
	MV_WRITE_ONCE(self->map[8 * MV_PAGE], 0);
	MV_WRITE_ONCE(self->map[9 * MV_PAGE], 0);
	reclaim_ok(_metadata, self->fd, 0, 16, &r);
	EXPECT_EQ((u32)sizeof(r), r.size);
	EXPECT_EQ(10ULL, r.scanned);
	EXPECT_EQ(6ULL, r.reclaimed);
	EXPECT_EQ(0ULL, r.pinned_skips);
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(4ULL, st.resident);
	EXPECT_EQ(6ULL, st.reclaimed);
	EXPECT_EQ(0ULL, st.pinned_skips);
	EXPECT_EQ(NPAGES - 4, st.zero);
	for (g = 0; g < 10; g++) {
		unsigned char want = g >= 4 && g < 8 ? MEMVIRT_GFN_PRIVATE :
				     MEMVIRT_GFN_ZERO;

		EXPECT_EQ(want, mv_query1(self->fd, g) & MEMVIRT_GFN_STATE_MASK)
			TH_LOG("gfn %zu", g);
	}
	for (g = 4; g < 8; g++)
		EXPECT_TRUE(data_page_intact(self->fd, g)) TH_LOG("gfn %zu", g);
}

TEST_F(rc, sysfs_counter_matches_stats)
{
	struct memvirt_reclaim r;
	u64 v = ~0ULL;

	write_zero_page(_metadata, self->fd, 3);
	write_zero_page(_metadata, self->fd, 40);
	reclaim_ok(_metadata, self->fd, 0, NPAGES, &r);
	EXPECT_EQ(2ULL, r.reclaimed);
	ASSERT_EQ(0, mv_vm_u64(self->id, "reclaimed", &v));
	EXPECT_EQ(2ULL, v);
}

TEST_F(rc, reclaimed_mapped_page_reads_zero_and_faults_back)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	unsigned char c = 0;

	MV_WRITE_ONCE(self->map[12 * MV_PAGE + 5], 0x77);
	MV_WRITE_ONCE(self->map[12 * MV_PAGE + 5], 0);
	reclaim_ok(_metadata, self->fd, 12, 1, &r);
	EXPECT_EQ(1ULL, r.reclaimed);
	EXPECT_EQ(0, MV_READ_ONCE(self->map[12 * MV_PAGE + 5]));
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(0ULL, st.resident);
	MV_WRITE_ONCE(self->map[12 * MV_PAGE + 6], 0x55);
	ASSERT_EQ(1, pread(self->fd, &c, 1, 12 * MV_PAGE + 6));
	EXPECT_EQ(0x55, c);
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(1ULL, st.resident);
	EXPECT_EQ(MEMVIRT_GFN_PRIVATE, mv_query1(self->fd, 12) &
		  MEMVIRT_GFN_STATE_MASK);
}

TEST_F(rc, empty_range_scans_nothing)
{
	struct memvirt_reclaim r;

	reclaim_ok(_metadata, self->fd, 0, NPAGES, &r);
	EXPECT_EQ(0ULL, r.scanned);
	EXPECT_EQ(0ULL, r.reclaimed);
	EXPECT_EQ(0ULL, r.pinned_skips);
}

/* Child: RECLAIM through root's fd must fail with EPERM. */
static int nobody_reclaims(int fd)
{
	struct memvirt_reclaim r;

	if (mv_become_nobody())
		return 100;
	return mv_reclaim(fd, MEMVIRT_RECLAIM_ZERO, 0, 1, &r) == -EPERM ? 0 : 1;
}

TEST_F(rc, needs_cap_sys_admin)
{
	struct memvirt_stats st;
	int status;
	pid_t pid;

	write_zero_page(_metadata, self->fd, 0);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(nobody_reclaims(self->fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("1: not EPERM; 100: setuid");
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(1ULL, st.resident);
	EXPECT_EQ(0ULL, st.reclaimed);
}

TEST_F(rc, bad_arguments_einval)
{
	static const struct {
		const char *what;
		u64 mode, start, nr;
	} bad[] = {
		{ "mode 0", 0, 0, 1 },
		{ "first unknown mode", MEMVIRT_RECLAIM_SWAP + 1, 0, 1 },
		{ "mode ~0", ~0ULL, 0, 1 },
		{ "nr 0", MEMVIRT_RECLAIM_ZERO, 0, 0 },
		{ "start at EOF", MEMVIRT_RECLAIM_ZERO, NPAGES, 1 },
		{ "past EOF", MEMVIRT_RECLAIM_ZERO, NPAGES - 1, 2 },
		{ "wraps", MEMVIRT_RECLAIM_ZERO, ~0ULL, 2 },
		{ "over the max", MEMVIRT_RECLAIM_ZERO, 0,
		  MEMVIRT_RECLAIM_MAX + 1 },
	};
	struct memvirt_reclaim r;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = mv_reclaim(self->fd, bad[i].mode, bad[i].start, bad[i].nr,
				 &r);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("%s: %s", bad[i].what,
					       strerror(-ret));
	}
	/* Bit 0 is MEMVIRT_RECLAIM_ASYNC (lifetime_test covers it). */
	for (i = 1; i < 32; i++) {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.flags = 1U << i;
		r.mode = MEMVIRT_RECLAIM_ZERO;
		r.nr_gfns = 1;
		ret = mv_ioctl(self->fd, MEMVIRT_IOC_RECLAIM, &r);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags bit %u: %s", i,
					       strerror(-ret));
	}
	for (i = 0; i < ARRAY_SIZE(r.reserved); i++) {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.mode = MEMVIRT_RECLAIM_ZERO;
		r.nr_gfns = 1;
		r.reserved[i] = 1;
		ret = mv_ioctl(self->fd, MEMVIRT_IOC_RECLAIM, &r);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("reserved[%u]: %s", i,
					       strerror(-ret));
	}
	memset(&r, 0, sizeof(r));
	r.size = MEMVIRT_RECLAIM_SIZE_VER0 - 8;
	r.mode = MEMVIRT_RECLAIM_ZERO;
	r.nr_gfns = 1;
	EXPECT_EQ(-EINVAL, mv_ioctl(self->fd, MEMVIRT_IOC_RECLAIM, &r));
}

/* ------------------------------------------------------------------ */
/* Pages held by someone else: the rc fixture, once per kind of holder */

FIXTURE(pin) {
	rc_t rc;
};

FIXTURE_VARIANT(pin) {
	bool vmsplice;
};

FIXTURE_SETUP(pin)
{
	rc_init(_metadata, &self->rc);
}

FIXTURE_TEARDOWN(pin)
{
	rc_fini(&self->rc);
}

/* Hold a reference on gfn @g (a private zero page) through a pipe. */
static void pin_page(struct __test_metadata *_metadata, rc_t *self,
		     size_t g, bool by_vmsplice)
{
	ssize_t n;

	ASSERT_EQ(0, pipe(self->pipe));
	if (by_vmsplice) {
		struct iovec iov = {
			.iov_base = self->map + g * MV_PAGE,
			.iov_len = MV_PAGE,
		};

		MV_WRITE_ONCE(self->map[g * MV_PAGE], 1);
		MV_WRITE_ONCE(self->map[g * MV_PAGE], 0);
		n = vmsplice(self->pipe[1], &iov, 1, 0);
	} else {
		loff_t off = g * MV_PAGE;

		write_zero_page(_metadata, self->fd, g);
		n = splice(self->fd, &off, self->pipe[1], NULL, MV_PAGE,
			   SPLICE_F_NONBLOCK);
	}
	ASSERT_EQ((ssize_t)MV_PAGE, n) TH_LOG("%s: %s", by_vmsplice ?
					      "vmsplice" : "splice",
					      strerror(errno));
}

static void drain(struct __test_metadata *_metadata, rc_t *self)
{
	unsigned char buf[MV_PAGE];
	size_t i;

	ASSERT_EQ((ssize_t)MV_PAGE, read(self->pipe[0], buf, MV_PAGE));
	for (i = 0; i < MV_PAGE; i++)
		if (buf[i])
			break;
	EXPECT_EQ(MV_PAGE, i) TH_LOG("the pinned page changed under the pipe");
}

FIXTURE_VARIANT_ADD(pin, pipe_splice) {
	.vmsplice = false,
};

FIXTURE_VARIANT_ADD(pin, vmsplice_mapping) {
	.vmsplice = true,
};

/*
 * Until 6.5, splice() from a file whose ->read_iter() does not use the page
 * cache handed the file's own page to the pipe (ITER_PIPE took a reference);
 * since then copy_splice_read() copies the bytes into the pipe's pages, and
 * nothing of memvirt's stays pinned.
 */
static bool splice_pins_file_pages(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return true;
	return major < 6 || (major == 6 && minor < 5);
}

/* Reclaim gfns [16, 24): the one page there, gfn 20, is pinned or goes. */
static void reclaim_expect(struct __test_metadata *_metadata, rc_t *rc,
			   bool pinned, struct memvirt_stats *st)
{
	struct memvirt_reclaim r;

	reclaim_ok(_metadata, rc->fd, 16, 8, &r);
	EXPECT_EQ(1ULL, r.scanned);
	EXPECT_EQ(pinned ? 0ULL : 1ULL, r.reclaimed);
	EXPECT_EQ(pinned ? 1ULL : 0ULL, r.pinned_skips);
	mv_stats_get(_metadata, rc->fd, st);
	EXPECT_EQ(pinned ? 1ULL : 0ULL, st->resident);
}

TEST_F(pin, pinned_page_skipped_then_reclaimed)
{
	bool pinned = variant->vmsplice || splice_pins_file_pages();
	rc_t *rc = &self->rc;
	struct memvirt_stats st;
	u64 g0 = 0, g1 = 0, v = 0;

	ASSERT_EQ(0, mv_global_u64("pinned_skips", &g0));
	pin_page(_metadata, rc, 20, variant->vmsplice);
	reclaim_expect(_metadata, rc, pinned, &st);
	EXPECT_EQ(pinned ? 1ULL : 0ULL, st.pinned_skips);
	ASSERT_EQ(0, mv_global_u64("pinned_skips", &g1));
	EXPECT_EQ(g0 + pinned, g1);
	if (!pinned) {
		/* The pipe holds a copy: the page went, the copy stays. */
		drain(_metadata, rc);
		return;
	}
	EXPECT_EQ(MEMVIRT_GFN_PRIVATE, mv_query1(rc->fd, 20) &
		  MEMVIRT_GFN_STATE_MASK);
	ASSERT_EQ(0, mv_vm_u64(rc->id, "pinned_skips", &v));
	EXPECT_EQ(1ULL, v);

	drain(_metadata, rc);
	reclaim_expect(_metadata, rc, false, &st);
	EXPECT_EQ(1ULL, st.reclaimed);
	EXPECT_EQ(1ULL, st.pinned_skips);
}

/* ------------------------------------------------------------------ */
/* A writer racing reclaim */

#define RACE_SECS	5

/*
 * Child: for RACE_SECS, zero each page (so reclaim may take it) and then
 * store a new value in it, checking every store reads back. Exit 0, or
 * 1 + page of the first lost store.
 */
static int race_writer(const char *path)
{
	int fd = open(path, O_RDWR);
	unsigned char *map;
	time_t end = time(NULL) + RACE_SECS;
	u32 round = 1;
	size_t g;

	if (fd < 0)
		return 200;
	map = mmap(NULL, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED)
		return 201;
	for (; time(NULL) < end; round++) {
		for (g = 0; g < NPAGES; g++) {
			u32 *w = (u32 *)(map + g * MV_PAGE + 64);

			MV_WRITE_ONCE(*w, 0);
			MV_WRITE_ONCE(*w, round);
			if (MV_READ_ONCE(*w) != round)
				return 1 + g;
		}
	}
	/* The last round's values, for the parent to check. */
	return pwrite(fd, &round, sizeof(round), 0) == sizeof(round) ? 0 : 202;
}

TEST_F_TIMEOUT(rc, writer_racing_reclaim_loses_nothing, 120)
{
	struct memvirt_reclaim r;
	unsigned int reclaims = 0;
	u32 last = 0, v;
	int status, ret;
	size_t g;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(race_writer(self->path));
	while (waitpid(pid, &status, WNOHANG) == 0) {
		ret = mv_reclaim(self->fd, MEMVIRT_RECLAIM_ZERO, 1, NPAGES - 1,
				 &r);
		ASSERT_EQ(0, ret) TH_LOG("RECLAIM: %s", strerror(-ret));
		reclaims++;
	}
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status))
		TH_LOG("1..64: a store to page %d was lost; 200+: set-up",
		       WEXITSTATUS(status) - 1);
	TH_LOG("%u reclaims raced the writer", reclaims);
	ASSERT_EQ((ssize_t)sizeof(last), pread(self->fd, &last, sizeof(last), 0));
	ASSERT_LT(1U, last);
	for (g = 1; g < NPAGES; g++) {
		ASSERT_EQ((ssize_t)sizeof(v), pread(self->fd, &v, sizeof(v),
						    g * MV_PAGE + 64));
		EXPECT_EQ(last - 1, v) TH_LOG("page %zu", g);
	}
}

MV_HARNESS_MAIN(mv_need_memvirtfs)
