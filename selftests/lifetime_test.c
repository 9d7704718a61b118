// SPDX-License-Identifier: GPL-2.0
/*
 * lifetime_test: background work on a VM (MEMVIRT_RECLAIM_ASYNC, which
 * holds a reference on the VM but not on its file) against everything that
 * ends a VM: truncate, unlink, umount. The pass must finish its job when
 * left alone, stop at the new size or at teardown, and never touch a page
 * that is gone; the harness checks the kernel log for KASAN and lockdep.
 */
#include <poll.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "contract.h"

#define LT_MIB		64
#define LT_PAGES	((u64)LT_MIB * MV_MIB / MV_PAGE)
#define LT_WAIT_S	60
/* Filling 64 MiB and waiting for a pass, under TCG and KASAN. */
#define LT_TIMEOUT_S	150

/* Allocate every page of @fd with zeroes (pwrite), so all are candidates. */
static int lt_fill_zero(int fd, size_t bytes)
{
	static char zero[1 << 20];
	size_t off;

	for (off = 0; off < bytes; off += sizeof(zero))
		if (pwrite(fd, zero, sizeof(zero), off) != sizeof(zero))
			return -errno;
	return 0;
}

static int lt_async(int fd, u64 start, u64 nr, struct memvirt_reclaim *r)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->flags = MEMVIRT_RECLAIM_ASYNC;
	r->mode = MEMVIRT_RECLAIM_ZERO;
	r->start_gfn = start;
	r->nr_gfns = nr;
	return mv_ioctl(fd, MEMVIRT_IOC_RECLAIM, r);
}

static u64 lt_counter(u64 id, const char *attr)
{
	u64 val = ~0ULL;

	mv_vm_u64(id, attr, &val);
	return val;
}

/* Waits until the VM's counter @attr reads @want; returns the last value. */
static u64 lt_wait_counter(u64 id, const char *attr, u64 want)
{
	u64 val = ~0ULL;
	int i;

	for (i = 0; i < LT_WAIT_S * 10; i++) {
		if (mv_vm_u64(id, attr, &val) || val == want)
			break;
		poll(NULL, 0, 100);
	}
	return val;
}

static bool lt_wait_gone(u64 id)
{
	int i;

	for (i = 0; i < LT_WAIT_S * 10; i++) {
		if (!mv_vm_exists(id))
			return true;
		poll(NULL, 0, 100);
	}
	return false;
}

FIXTURE(lt) {
	char dir[PATH_MAX - 16];
	char path[PATH_MAX];
	int fd;
	u64 id;
};

FIXTURE_SETUP(lt)
{
	MV_SETUP_MOUNTED();
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "lifetime"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, LT_MIB * MV_MIB);
	ASSERT_LE(0, self->fd) TH_LOG("create %s: %s", self->path, strerror(-self->fd));
	self->id = mv_vm_id(_metadata, self->path);
	ASSERT_EQ(0, lt_fill_zero(self->fd, LT_MIB * MV_MIB));
}

FIXTURE_TEARDOWN(lt)
{
	if (self->fd >= 0)
		close(self->fd);
	mv_rm_rf(self->dir);
}

/* Left alone, the background pass frees every zero page, and says so only in counters. */
TEST_F_TIMEOUT(lt, async_reclaim_frees_all_zero_pages, LT_TIMEOUT_S)
{
	struct memvirt_reclaim r;
	u64 resident;

	ASSERT_EQ(0, lt_async(self->fd, 0, LT_PAGES, &r));
	EXPECT_EQ(0ULL, r.scanned);
	EXPECT_EQ(0ULL, r.reclaimed);
	EXPECT_EQ(0ULL, r.pinned_skips);
	EXPECT_EQ(LT_PAGES, lt_wait_counter(self->id, "reclaimed", LT_PAGES));
	ASSERT_EQ(0, mv_vm_u64(self->id, "resident", &resident));
	EXPECT_EQ(0ULL, resident) TH_LOG("pinned_skips %llu",
					 (unsigned long long)lt_counter(self->id, "pinned_skips"));
	EXPECT_EQ(MEMVIRT_GFN_ZERO, mv_query1(self->fd, LT_PAGES - 1) & MEMVIRT_GFN_STATE_MASK);
}

/* Bad mode and unknown flags are refused before anything is queued. */
TEST_F_TIMEOUT(lt, async_reclaim_rejects_bad_input, LT_TIMEOUT_S)
{
	struct memvirt_reclaim r;
	u64 reclaimed;

	lt_async(self->fd, 0, LT_PAGES, &r);
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.flags = MEMVIRT_RECLAIM_ASYNC;
	r.mode = 99;
	r.nr_gfns = 1;
	EXPECT_EQ(-EINVAL, mv_ioctl(self->fd, MEMVIRT_IOC_RECLAIM, &r));
	r.mode = MEMVIRT_RECLAIM_ZERO;
	r.flags = MEMVIRT_RECLAIM_ASYNC | 2;
	EXPECT_EQ(-EINVAL, mv_ioctl(self->fd, MEMVIRT_IOC_RECLAIM, &r));
	r.flags = MEMVIRT_RECLAIM_ASYNC;
	r.start_gfn = LT_PAGES;
	EXPECT_EQ(-EINVAL, mv_ioctl(self->fd, MEMVIRT_IOC_RECLAIM, &r));
	/* The one valid pass above still completes exactly once. */
	EXPECT_EQ(LT_PAGES, lt_wait_counter(self->id, "reclaimed", LT_PAGES));
	poll(NULL, 0, 500);
	ASSERT_EQ(0, mv_vm_u64(self->id, "reclaimed", &reclaimed));
	EXPECT_EQ(LT_PAGES, reclaimed);
}

/* Truncated under it: the pass stops at the new size; regrown pages read zero. */
TEST_F_TIMEOUT(lt, async_reclaim_stops_at_truncate, LT_TIMEOUT_S)
{
	static unsigned char buf[MV_PAGE];
	struct memvirt_reclaim r;
	u64 resident, before;

	ASSERT_EQ(0, lt_async(self->fd, 0, LT_PAGES, &r));
	ASSERT_EQ(0, ftruncate(self->fd, 0));
	ASSERT_EQ(0, mv_vm_u64(self->id, "resident", &resident));
	EXPECT_EQ(0ULL, resident);
	/* Whatever it freed before the truncate, nothing after: wait it out. */
	poll(NULL, 0, 1000);
	ASSERT_EQ(0, mv_vm_u64(self->id, "reclaimed", &before));
	poll(NULL, 0, 500);
	ASSERT_EQ(0, mv_vm_u64(self->id, "reclaimed", &resident));
	EXPECT_EQ(before, resident);
	EXPECT_GE(LT_PAGES, before);
	/* Regrow: new pages are written and stay, the pass is over. */
	ASSERT_EQ(0, ftruncate(self->fd, LT_MIB * MV_MIB));
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(self->fd, buf, MV_PAGE, 0));
	poll(NULL, 0, 200);
	ASSERT_EQ(0, mv_vm_u64(self->id, "resident", &resident));
	EXPECT_EQ(1ULL, resident);
	ASSERT_EQ((ssize_t)MV_PAGE, pread(self->fd, buf, MV_PAGE, MV_PAGE));
	EXPECT_EQ(0, buf[0]);
}

/* Unlinked and closed under it: the VM is torn down, and the pass ends. */
TEST_F_TIMEOUT(lt, async_reclaim_survives_unlink_and_close, LT_TIMEOUT_S)
{
	struct memvirt_reclaim r;
	u64 nr_before, nr_after;

	ASSERT_EQ(0, mv_global_u64("nr_vms", &nr_before));
	ASSERT_EQ(0, lt_async(self->fd, 0, LT_PAGES, &r));
	ASSERT_EQ(0, unlink(self->path));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_TRUE(lt_wait_gone(self->id));
	ASSERT_EQ(0, mv_global_u64("nr_vms", &nr_after));
	EXPECT_EQ(nr_before - 1, nr_after);
}

/* Several passes at once on one VM, and the file mapped and written meanwhile. */
TEST_F_TIMEOUT(lt, concurrent_async_passes_keep_data, LT_TIMEOUT_S)
{
	struct memvirt_reclaim r;
	unsigned char *map;
	size_t i;

	map = mmap(NULL, LT_MIB * MV_MIB, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, lt_async(self->fd, 0, LT_PAGES, &r));
	/* Every 8th page gets data while the passes run: those must survive. */
	for (i = 0; i < LT_PAGES; i += 8)
		map[i * MV_PAGE + 7] = mv_pattern(i, 3);
	poll(NULL, 0, 2000);
	for (i = 0; i < LT_PAGES; i++)
		ASSERT_EQ(i % 8 ? 0 : mv_pattern(i, 3), map[i * MV_PAGE + 7])
			TH_LOG("page %zu", i);
	munmap(map, LT_MIB * MV_MIB);
}

/* A private mount is unmounted under a pass: umount completes, nothing leaks. */
TEST_F_TIMEOUT(lt, async_reclaim_survives_umount, LT_TIMEOUT_S)
{
	const char *mnt = "/run/memvirt-lifetime";
	char path[PATH_MAX];
	struct memvirt_reclaim r;
	u64 nr_before, nr_after;
	int fd, i;

	ASSERT_EQ(0, mv_global_u64("nr_vms", &nr_before));
	ASSERT_EQ(0, mv_mount(mnt, NULL));
	snprintf(path, sizeof(path), "%s/vm", mnt);
	fd = mv_create(path, LT_MIB * MV_MIB);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, lt_fill_zero(fd, LT_MIB * MV_MIB));
	ASSERT_EQ(0, lt_async(fd, 0, LT_PAGES, &r));
	close(fd);
	ASSERT_EQ(0, umount(mnt)) TH_LOG("umount: %s", strerror(errno));
	for (i = 0; i < LT_WAIT_S * 10; i++) {
		ASSERT_EQ(0, mv_global_u64("nr_vms", &nr_after));
		if (nr_after == nr_before)
			break;
		poll(NULL, 0, 100);
	}
	EXPECT_EQ(nr_before, nr_after);
	rmdir(mnt);
}

MV_HARNESS_MAIN(mv_need_memvirtfs)
