// SPDX-License-Identifier: GPL-2.0
/*
 * failinject_test: memvirt under allocation failure (debug kernel only).
 *
 * fail_page_alloc and failslab, filtered to this task (task-filter=Y and
 * /proc/self/make-it-fail), fail the next allocation once: a write fault on
 * an untouched page is SIGBUS with the "no memory for gfn" log line, a
 * write() into a hole and fallocate() are ENOMEM, the first touch of a gfn
 * whose P2M table does not exist yet is SIGBUS, and creating a file (a new
 * VM) failed at each of its allocations in turn (fail-nth) is ENOMEM and
 * leaves nothing behind, or completes. A failure taken by another
 * allocation first is retried on a fresh target. With injection off again
 * everything works and the data written before is intact. Every knob is
 * saved and restored; verbose is 0 so injected failures print no stack.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "contract.h"

#define FPA		"/sys/kernel/debug/fail_page_alloc"
#define FSLAB		"/sys/kernel/debug/failslab"
#define NPAGES		1024UL
#define FAR_GFN		(1UL << 20)	/* its P2M table does not exist */
#define MAX_KNOBS	16

struct knob {
	char path[PATH_MAX];
	char val[64];
};

FIXTURE(fi) {
	char dir[256];
	char path[PATH_MAX];
	int fd;
	struct knob saved[MAX_KNOBS];
	unsigned int nr_saved;
	struct mv_knobs knobs;
	void *reserve;
	size_t reserve_len;
};

typedef FIXTURE_DATA(fi) fi_t;

FIXTURE_SETUP(fi)
{
	struct stat st;

	self->fd = -1;
	if (stat(FPA, &st) || stat(FSLAB, &st))
		MV_SETUP_SKIP("needs fail_page_alloc and failslab in debugfs (the debug kernel has them)");
	MV_SETUP_MOUNTED();
	mv_knobs_save(&self->knobs);
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "fi"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, NPAGES * MV_PAGE);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(fi)
{
	unsigned int i;

	mv_write_str("/proc/self/make-it-fail", "0\n");
	for (i = 0; i < self->nr_saved && i < MAX_KNOBS; i++) {
		struct knob *k = &self->saved[self->nr_saved - 1 - i];

		EXPECT_EQ(0, mv_write_str(k->path, k->val))
			TH_LOG("restore %s", k->path);
	}
	if (self->reserve)
		munmap(self->reserve, self->reserve_len);
	if (self->fd >= 0)
		close(self->fd);
	if (self->dir[0])
		mv_rm_rf(self->dir);
	EXPECT_EQ(0, mv_knobs_restore(&self->knobs));
}

/* Save @dir/@name, then set it to @val. */
static void knob_set(struct __test_metadata *_metadata, fi_t *self,
		     const char *dir, const char *name, const char *val)
{
	struct knob *k = &self->saved[self->nr_saved];
	int ret;

	ASSERT_GT((unsigned int)MAX_KNOBS, self->nr_saved);
	snprintf(k->path, sizeof(k->path), "%s/%s", dir, name);
	ASSERT_EQ(0, mv_read_str(k->path, k->val, sizeof(k->val)))
		TH_LOG("read %s", k->path);
	self->nr_saved++;
	ret = mv_write_str(k->path, val);
	ASSERT_EQ(0, ret) TH_LOG("%s = %s: %s", k->path, val, strerror(-ret));
}

/* Arm fail_page_alloc (@slab false) or failslab for this task, once. */
static void arm(struct __test_metadata *_metadata, fi_t *self, bool slab)
{
	const char *dir = slab ? FSLAB : FPA;

	knob_set(_metadata, self, dir, "verbose", "0\n");
	knob_set(_metadata, self, dir, "task-filter", "Y\n");
	knob_set(_metadata, self, dir, "ignore-gfp-wait", "N\n");
	knob_set(_metadata, self, dir, "space", "0\n");
	knob_set(_metadata, self, dir, "interval", "1\n");
	if (!slab) {
		knob_set(_metadata, self, dir, "ignore-gfp-highmem", "N\n");
		knob_set(_metadata, self, dir, "min-order", "0\n");
	}
	knob_set(_metadata, self, dir, "probability", "100\n");
	knob_set(_metadata, self, dir, "times", "1\n");
}

static int make_it_fail(bool on)
{
	return mv_write_str("/proc/self/make-it-fail", on ? "1\n" : "0\n");
}

/*
 * Map [@off, +@len) of the file at a 2 MiB-aligned address, so that pages
 * touched before and during injection share one page-table page and the
 * core MM allocates nothing of its own in the injected fault.
 */
static unsigned char *map_aligned(struct __test_metadata *_metadata,
				  fi_t *self, off_t off, size_t len)
{
	const size_t align = 2 * MV_MIB;
	uintptr_t a;
	void *p;

	self->reserve_len = len + align;
	self->reserve = mmap(NULL, self->reserve_len, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->reserve);
	a = ((uintptr_t)self->reserve + align - 1) & ~(align - 1);
	p = mmap((void *)a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, off);
	ASSERT_EQ((void *)a, p);
	return p;
}

static void check_byte(struct __test_metadata *_metadata, int fd, off_t off,
		       unsigned char want)
{
	unsigned char c = 0;

	ASSERT_EQ(1, pread(fd, &c, 1, off));
	EXPECT_EQ(want, c) TH_LOG("offset %lld", (long long)off);
}

/*
 * One failure is armed, but another allocation of this task may take it
 * first and survive it (a KASAN stack depot refill, seen on 6.12's debug
 * kernel): then the operation simply works. So each test tries on a fresh
 * target, up to FI_ATTEMPTS times, and checks every attempt: failed as
 * memvirt must fail, or done completely.
 */
#define FI_ATTEMPTS	8U

/* Arm fail_page_alloc for one more failure (arm() set the rest). */
static void rearm(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, mv_write_str(FPA "/times", "1\n"));
	ASSERT_EQ(0, make_it_fail(true));
}

TEST_F(fi, write_fault_on_untouched_page_sigbus)
{
	unsigned char *map = map_aligned(_metadata, self, 0, 16 * MV_PAGE);
	unsigned int k;
	int kfd, bus;

	MV_WRITE_ONCE(map[0], 0x11);	/* P2M table and page table exist */
	kfd = mv_kmsg_open();
	ASSERT_LE(0, kfd);
	arm(_metadata, self, false);
	for (k = 1; k <= FI_ATTEMPTS; k++) {
		rearm(_metadata);
		bus = mv_write_sigbus(map + k * MV_PAGE, 0x22);
		make_it_fail(false);
		if (bus)
			break;
		check_byte(_metadata, self->fd, k * MV_PAGE, 0x22);
	}
	ASSERT_GE(FI_ATTEMPTS, k) TH_LOG("the failed allocation never raised SIGBUS");
	EXPECT_EQ(1, mv_kmsg_count(kfd, "no memory for gfn"));
	close(kfd);
	/* Injection is spent: the same store works now. */
	EXPECT_EQ(0, mv_write_sigbus(map + k * MV_PAGE, 0x22));
	check_byte(_metadata, self->fd, k * MV_PAGE, 0x22);
	check_byte(_metadata, self->fd, 0, 0x11);
}

TEST_F(fi, write_into_hole_enomem)
{
	unsigned char page[MV_PAGE];
	unsigned int k;
	ssize_t n;
	int err;

	memset(page, 0x33, sizeof(page));
	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(self->fd, page, MV_PAGE, 0));
	arm(_metadata, self, false);
	for (k = 1; k <= FI_ATTEMPTS; k++) {
		rearm(_metadata);
		n = pwrite(self->fd, page, MV_PAGE, k * MV_PAGE);
		err = errno;
		make_it_fail(false);
		if (n < 0)
			break;
		ASSERT_EQ((ssize_t)MV_PAGE, n);
	}
	ASSERT_GE(FI_ATTEMPTS, k) TH_LOG("the failed allocation never failed pwrite()");
	EXPECT_EQ(ENOMEM, err) TH_LOG("%s", strerror(err));
	EXPECT_EQ((ssize_t)MV_PAGE, pwrite(self->fd, page, MV_PAGE, k * MV_PAGE));
	check_byte(_metadata, self->fd, 0, 0x33);
	check_byte(_metadata, self->fd, k * MV_PAGE + 100, 0x33);
}

TEST_F(fi, fallocate_enomem)
{
	struct memvirt_stats st;
	unsigned int k;
	int ret, err;

	ASSERT_EQ(1, pwrite(self->fd, "x", 1, 0));
	arm(_metadata, self, false);
	for (k = 1; k <= FI_ATTEMPTS; k++) {
		rearm(_metadata);
		ret = fallocate(self->fd, 0, k * MV_PAGE, MV_PAGE);
		err = errno;
		make_it_fail(false);
		if (ret)
			break;
	}
	ASSERT_GE(FI_ATTEMPTS, k) TH_LOG("the failed allocation never failed fallocate()");
	EXPECT_EQ(ENOMEM, err) TH_LOG("%s", strerror(err));
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ((u64)k, st.resident) TH_LOG("gfn 0 and %u attempts that worked", k - 1);
	EXPECT_EQ(0, fallocate(self->fd, 0, k * MV_PAGE, MV_PAGE));
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ((u64)k + 1, st.resident);
	check_byte(_metadata, self->fd, 0, 'x');
}

/*
 * Attempt k touches the first gfn of the P2M leaf table FAR_GFN + 512 k,
 * which does not exist yet; the gfn before it, touched first, makes the
 * host page table (the mapping is 2 MiB-aligned at FAR_GFN - 256).
 */
TEST_F(fi, first_touch_without_p2m_table_sigbus)
{
	const off_t off = (FAR_GFN - 256) * MV_PAGE;
	const size_t pages = 512 * (FI_ATTEMPTS + 1);
	unsigned char *map;
	unsigned int k;
	size_t at = 0;
	int bus = 0;

	/* 4 GiB and a bit: needs the overcommit the ratio allows. */
	ASSERT_EQ(0, mv_global_set("overcommit_ratio", "1000\n"));
	ASSERT_EQ(0, ftruncate(self->fd, off + pages * MV_PAGE));
	map = map_aligned(_metadata, self, off, pages * MV_PAGE);
	arm(_metadata, self, false);
	for (k = 0; k < FI_ATTEMPTS; k++) {
		at = 256 + 512 * k;
		/* gfn FAR_GFN + 512 k - 1: same page table, another P2M table. */
		MV_WRITE_ONCE(map[(at - 1) * MV_PAGE], 0x44);
		rearm(_metadata);
		bus = mv_write_sigbus(map + at * MV_PAGE, 0x55);
		make_it_fail(false);
		if (bus)
			break;
		check_byte(_metadata, self->fd, off + at * MV_PAGE, 0x55);
	}
	ASSERT_GT(FI_ATTEMPTS, k) TH_LOG("the failed allocation never raised SIGBUS");
	EXPECT_EQ(1, bus);
	EXPECT_EQ(0, mv_write_sigbus(map + at * MV_PAGE, 0x55));
	check_byte(_metadata, self->fd, off + at * MV_PAGE, 0x55);
	check_byte(_metadata, self->fd, off + (at - 1) * MV_PAGE, 0x44);
}

/*
 * Arm the @n-th fault-injection point of this thread's next calls (0
 * disarms), through @fd, /proc/thread-self/fail-nth opened beforehand:
 * opening it allocates, which would spend the armed point.
 */
static int fail_nth(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

/* Whether the point armed by fail_nth() was reached (the count ran out). */
static bool fail_nth_hit(struct __test_metadata *_metadata, int fd)
{
	char buf[16] = "";

	EXPECT_LT(0, pread(fd, buf, sizeof(buf) - 1, 0));
	return atoi(buf) == 0;
}

/*
 * Creating a file is a new VM: a dozen slab allocations, the VFS's and
 * memvirt's (VM, name, sysfs and debugfs entries). Fail each in turn
 * (fail-nth, the kernel's systematic fault injection): the create is then
 * either ENOMEM and leaves no file and no VM, or it survives the failure
 * (a debugfs entry is best effort) and the file and its VM are complete.
 * Until the create runs without reaching the armed point: all were tried.
 * Each point creates and removes a VM's sysfs directory (about 50 files
 * since compression and swap) under KASAN: 20 to 40 s on a debug kernel
 * with four VMs sharing two cores, over the harness's default 30 s.
 */
#define MAX_CREATE_POINTS	400U

TEST_F_TIMEOUT(fi, create_file_enomem_leaves_nothing, 120)
{
	unsigned int n, enomem = 0, survived = 0;
	char path[PATH_MAX];
	u64 nr0 = 0, nr1 = 0;
	int fd, err, nth;

	snprintf(path, sizeof(path), "%s/new", self->dir);
	ASSERT_EQ(0, mv_global_u64("nr_vms", &nr0));
	/* Sleeping allocations too; probability 0: only fail-nth fails. */
	knob_set(_metadata, self, FSLAB, "verbose", "0\n");
	knob_set(_metadata, self, FSLAB, "ignore-gfp-wait", "N\n");
	knob_set(_metadata, self, FSLAB, "probability", "0\n");
	nth = open("/proc/thread-self/fail-nth", O_RDWR);
	ASSERT_LE(0, nth) TH_LOG("fail-nth: %s", strerror(errno));
	for (n = 1; n <= MAX_CREATE_POINTS; n++) {
		ASSERT_EQ(0, fail_nth(nth, n));
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		err = errno;
		if (!fail_nth_hit(_metadata, nth)) {
			/* Fewer than n points: the create ran clean. */
			ASSERT_EQ(0, fail_nth(nth, 0));
			ASSERT_LE(0, fd) TH_LOG("clean create: %s", strerror(err));
			close(fd);
			ASSERT_EQ(0, unlink(path));
			break;
		}
		ASSERT_EQ(0, mv_global_u64("nr_vms", &nr1));
		if (fd < 0) {
			enomem++;
			ASSERT_EQ(ENOMEM, err) TH_LOG("point %u: %s", n, strerror(err));
			ASSERT_EQ(-1, access(path, F_OK))
				TH_LOG("point %u: a half-created file is left", n);
			ASSERT_EQ(nr0, nr1) TH_LOG("point %u: a VM is left", n);
			continue;
		}
		survived++;
		ASSERT_EQ(nr0 + 1, nr1) TH_LOG("point %u: a file without its VM", n);
		close(fd);
		ASSERT_EQ(0, unlink(path));
		ASSERT_EQ(0, mv_global_u64("nr_vms", &nr1));
		ASSERT_EQ(nr0, nr1);
	}
	close(nth);
	TH_LOG("%u allocation points: %u ENOMEM, %u survived", n - 1, enomem, survived);
	ASSERT_GT(MAX_CREATE_POINTS, n);
	/* memvirt's own allocations fail the create: at least the VM's. */
	ASSERT_LT(0U, enomem);
	fd = mv_create(path, MV_PAGE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mv_global_u64("nr_vms", &nr1));
	EXPECT_EQ(nr0 + 1, nr1);
	close(fd);
}

MV_HARNESS_MAIN(mv_need_memvirtfs)
