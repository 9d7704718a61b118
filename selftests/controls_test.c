// SPDX-License-Identifier: GPL-2.0
/*
 * controls_test: the control half of the memvirt user contract.
 *
 * Covers /sys/kernel/memvirt/ (every global knob and counter: modes,
 * defaults, store round trips, each invalid value, EBUSY below the
 * reservations), /sys/kernel/memvirt/vms/<id>/ (name, size, counters equal
 * to MEMVIRT_IOC_GET_STATS, shares/reservation_mb/limit_mb rules, ENOSPC
 * over the budget), privilege checks (non-root open, stores through an fd
 * opened by root, SET_POLICY without CAP_SYS_ADMIN), the ioctl ABI (flags
 * bit by bit, reserved[] element by element, struct sizes, E2BIG, ENOTTY,
 * EFAULT, QUERY_RANGE limits and states, commands matched on type and
 * number with the size taken from the struct), GET_STATS counters, read
 * faults served by the zero frame (nothing allocated, even for a whole
 * 1 GiB VM) and their copy-on-write break, the max_vms limit, the debugfs
 * P2M dump and the memvirt:fault / memvirt:discard tracepoints.
 *
 * Each test gets a fresh directory holding one 64-page VM file, and the
 * global knobs are restored in the teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "contract.h"

#define NPAGES		64UL
#define PUNCH		(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)

FIXTURE(ctl) {
	char dir[256];
	char path[PATH_MAX];
	int fd;
	int rofd;
	u64 id;
	unsigned char *map;
	struct mv_knobs knobs;
	char trace_event[32];
};

typedef FIXTURE_DATA(ctl) ctl_t;

static void ctl_cleanup(ctl_t *self)
{
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, NPAGES * MV_PAGE);
	self->map = NULL;
	if (self->fd >= 0)
		close(self->fd);
	if (self->rofd >= 0)
		close(self->rofd);
	self->fd = -1;
	self->rofd = -1;
	if (self->dir[0])
		mv_rm_rf(self->dir);
	self->dir[0] = 0;
}

FIXTURE_SETUP(ctl)
{
	int ret;

	self->fd = -1;
	self->rofd = -1;
	MV_SETUP_MOUNTED();
	mv_knobs_save(&self->knobs);
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "ctl"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, NPAGES * MV_PAGE);
	self->rofd = open(self->path, O_RDONLY);
	if (self->fd >= 0)
		self->map = mmap(NULL, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE,
				 MAP_SHARED, self->fd, 0);
	ret = self->fd < 0 ? self->fd : self->rofd < 0 ? -errno :
	      self->map == MAP_FAILED ? -errno :
	      mv_vm_by_name(mv_fs_name(self->path), &self->id);
	if (ret) {
		ctl_cleanup(self);
		ASSERT_EQ(0, ret) TH_LOG("setting up a %lu-page VM: %s",
					 NPAGES, strerror(-ret));
	}
}

static void trace_stop(ctl_t *self);

FIXTURE_TEARDOWN(ctl)
{
	trace_stop(self);
	ctl_cleanup(self);
	EXPECT_EQ(0, mv_knobs_restore(&self->knobs))
		TH_LOG("could not restore budget_mb/overcommit_ratio");
}

/* ------------------------------------------------------------------ */
/* Helpers */

static const char *vm_attr(ctl_t *self, const char *attr)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	mv_vm_path(buf[i], sizeof(buf[i]), self->id, attr);
	return buf[i];
}

static const char *global_attr(const char *attr)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	mv_global_path(buf[i], sizeof(buf[i]), attr);
	return buf[i];
}

static u64 read_u64(struct __test_metadata *_metadata, const char *path)
{
	u64 v = 0;
	int ret = mv_read_u64(path, &v);

	ASSERT_EQ(0, ret) TH_LOG("read %s: %s", path, strerror(-ret));
	return v;
}

static void read_str(struct __test_metadata *_metadata, const char *path,
		     char *buf, size_t len)
{
	int ret = mv_read_str(path, buf, len);

	ASSERT_EQ(0, ret) TH_LOG("read %s: %s", path, strerror(-ret));
}

/* Printable copy of a store value for the log. */
static const char *shown(const char *s)
{
	static char buf[128];
	size_t o = 0;

	for (; *s && o < sizeof(buf) - 3; s++) {
		if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = 0;
	return buf;
}

/* Store @val into @path; expect @err (0 or a negative errno). */
static void store(struct __test_metadata *_metadata, const char *path,
		  const char *val, int err)
{
	int ret = mv_write_str(path, val);

	EXPECT_EQ(err, ret) TH_LOG("'%s' > %s: got %s, want %s", shown(val),
				   path, strerror(-ret), strerror(-err));
}

/* Each of @vals must be refused with EINVAL and leave @path unchanged. */
static void store_all_einval(struct __test_metadata *_metadata,
			     const char *path, const char *const *vals,
			     unsigned int n)
{
	char before[64], after[64];
	unsigned int i;

	read_str(_metadata, path, before, sizeof(before));
	for (i = 0; i < n; i++)
		store(_metadata, path, vals[i], -EINVAL);
	read_str(_metadata, path, after, sizeof(after));
	EXPECT_STREQ(before, after);
}

/* Store @val and read back @want. */
static void round_trip(struct __test_metadata *_metadata, const char *path,
		       const char *val, const char *want)
{
	char buf[64];

	store(_metadata, path, val, 0);
	read_str(_metadata, path, buf, sizeof(buf));
	EXPECT_STREQ(want, buf) TH_LOG("after '%s' > %s", shown(val), path);
}

static void policy(struct __test_metadata *_metadata, int fd,
		   struct memvirt_policy *p)
{
	int ret = mv_get_policy(fd, p);

	ASSERT_EQ(0, ret) TH_LOG("MEMVIRT_IOC_GET_POLICY: %s", strerror(-ret));
}

static unsigned char touch_read(ctl_t *self, size_t gfn)
{
	return MV_READ_ONCE(self->map[gfn * MV_PAGE]);
}

static void touch_write(ctl_t *self, size_t gfn, unsigned char v)
{
	MV_WRITE_ONCE(self->map[gfn * MV_PAGE + 1], v);
}

static int punch(int fd, size_t gfn, size_t nr)
{
	return fallocate(fd, PUNCH, gfn * MV_PAGE, nr * MV_PAGE) ? -errno : 0;
}

static const char *const bad_numbers[] = {
	"abc", "12abc", "-1", "1.5", " ", "\n", "99999999999999999999999",
};

/* ------------------------------------------------------------------ */
/* Global sysfs */

TEST_F(ctl, sysfs_files_exist_with_modes)
{
	static const struct {
		const char *name;
		mode_t mode;
		bool vm;
	} files[] = {
		{ "budget_mb", 0644, false },
		{ "overcommit_ratio", 0644, false },
		{ "committed_mb", 0444, false },
		{ "resident_pages", 0444, false },
		{ "nr_vms", 0444, false },
		{ "p2m_bytes", 0444, false },
		{ "max_vms", 0644, false },
		{ "pinned_skips", 0444, false },
		{ "name", 0444, true },
		{ "size", 0444, true },
		{ "resident", 0444, true },
		{ "zero", 0444, true },
		{ "faults", 0444, true },
		{ "punched", 0444, true },
		{ "mkwrite", 0444, true },
		{ "zero_maps", 0444, true },
		{ "cow_breaks", 0444, true },
		{ "pinned_skips", 0444, true },
		{ "reclaimed", 0444, true },
		{ "p2m_bytes", 0444, true },
		{ "shares", 0644, true },
		{ "reservation_mb", 0644, true },
		{ "limit_mb", 0644, true },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		const char *path = files[i].vm ? vm_attr(self, files[i].name) :
				   global_attr(files[i].name);
		mode_t want = files[i].mode;
		struct stat st;

		if (stat(path, &st)) {
			EXPECT_EQ(0, errno) TH_LOG("stat %s", path);
			continue;
		}
		EXPECT_EQ(want, st.st_mode & 07777) TH_LOG("mode of %s", path);
		EXPECT_EQ(0U, st.st_uid) TH_LOG("owner of %s", path);
	}
}

TEST_F(ctl, read_only_files_refuse_open_for_write)
{
	static const char *const ro[] = {
		"committed_mb", "resident_pages", "nr_vms", "p2m_bytes",
		"pinned_skips",
	};
	static const char *const vm_ro[] = {
		"name", "size", "resident", "zero", "faults", "punched",
		"mkwrite", "p2m_bytes", "zero_maps", "cow_breaks",
		"pinned_skips", "reclaimed",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ro); i++)
		store(_metadata, global_attr(ro[i]), "1\n", -EACCES);
	for (i = 0; i < ARRAY_SIZE(vm_ro); i++)
		store(_metadata, vm_attr(self, vm_ro[i]), "1\n", -EACCES);
}

TEST_F(ctl, budget_mb_default_is_total_ram)
{
	EXPECT_EQ(mv_memtotal_mb(), read_u64(_metadata,
					     global_attr("budget_mb")));
}

TEST_F(ctl, budget_mb_store_round_trip)
{
	const char *path = global_attr("budget_mb");
	u64 total = mv_memtotal_mb();
	char val[32], want[32];

	round_trip(_metadata, path, "1\n", "1");
	round_trip(_metadata, path, "1234\n", "1234");
	round_trip(_metadata, path, "77", "77");
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)total);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)total);
	round_trip(_metadata, path, val, want);
}

TEST_F(ctl, budget_mb_rejects_invalid)
{
	char over[32];
	const char *const vals[] = { "0", "0\n", over };

	snprintf(over, sizeof(over), "%llu\n",
		 (unsigned long long)mv_memtotal_mb() + 1);
	store_all_einval(_metadata, global_attr("budget_mb"), vals,
			 ARRAY_SIZE(vals));
	store_all_einval(_metadata, global_attr("budget_mb"), bad_numbers,
			 ARRAY_SIZE(bad_numbers));
}

TEST_F(ctl, budget_mb_below_reservations_ebusy)
{
	const char *budget = global_attr("budget_mb");

	store(_metadata, vm_attr(self, "reservation_mb"), "64\n", 0);
	store(_metadata, budget, "63\n", -EBUSY);
	round_trip(_metadata, budget, "64\n", "64");
	store(_metadata, vm_attr(self, "reservation_mb"), "0\n", 0);
	round_trip(_metadata, budget, "63\n", "63");
}

/* Overcommit is on by default (issue 10): sizes may add up to 150% of the budget. */
TEST_F(ctl, overcommit_ratio_default_is_150)
{
	EXPECT_EQ(150ULL, read_u64(_metadata, global_attr("overcommit_ratio")));
}

TEST_F(ctl, overcommit_ratio_store_round_trip)
{
	const char *path = global_attr("overcommit_ratio");

	round_trip(_metadata, path, "10\n", "10");
	round_trip(_metadata, path, "1000\n", "1000");
	round_trip(_metadata, path, "250", "250");
}

TEST_F(ctl, overcommit_ratio_rejects_invalid)
{
	static const char *const vals[] = { "0", "9\n", "1001\n", "100000" };

	store_all_einval(_metadata, global_attr("overcommit_ratio"), vals,
			 ARRAY_SIZE(vals));
	store_all_einval(_metadata, global_attr("overcommit_ratio"),
			 bad_numbers, ARRAY_SIZE(bad_numbers));
}

TEST_F(ctl, committed_mb_rounds_up)
{
	const char *path = global_attr("committed_mb");

	if (read_u64(_metadata, global_attr("nr_vms")) != 1)
		SKIP(return, "other VMs exist; rounding needs this VM alone");
	EXPECT_EQ(1ULL, read_u64(_metadata, path)) TH_LOG("one 256 KiB VM");
	ASSERT_EQ(0, ftruncate(self->fd, 3 * MV_MIB));
	EXPECT_EQ(3ULL, read_u64(_metadata, path));
	ASSERT_EQ(0, ftruncate(self->fd, 3 * MV_MIB + 1));
	EXPECT_EQ(4ULL, read_u64(_metadata, path));
}

TEST_F(ctl, resident_pages_counts_touched_pages)
{
	const char *path = global_attr("resident_pages");
	u64 g0 = read_u64(_metadata, path);
	struct memvirt_stats st;
	int i;

	for (i = 0; i < 5; i++)
		touch_write(self, i * 8, 1);
	EXPECT_EQ(g0 + 5, read_u64(_metadata, path));
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(5ULL, st.resident);
	ASSERT_EQ(0, punch(self->fd, 0, 1));
	EXPECT_EQ(g0 + 4, read_u64(_metadata, path));
}

TEST_F(ctl, nr_vms_counts_files)
{
	const char *path = global_attr("nr_vms");
	u64 n0 = read_u64(_metadata, path);
	char a[PATH_MAX], b[PATH_MAX];
	int fa, fb;

	EXPECT_LE(1ULL, n0);
	snprintf(a, sizeof(a), "%s/a", self->dir);
	snprintf(b, sizeof(b), "%s/b", self->dir);
	fa = mv_create(a, MV_PAGE);
	fb = mv_create(b, 0);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	EXPECT_EQ(n0 + 2, read_u64(_metadata, path));
	close(fa);
	ASSERT_EQ(0, unlink(a));
	EXPECT_EQ(n0 + 1, read_u64(_metadata, path));
	close(fb);
	ASSERT_EQ(0, unlink(b));
	EXPECT_EQ(n0, read_u64(_metadata, path));
}

TEST_F(ctl, p2m_bytes_follow_vms)
{
	const char *global = global_attr("p2m_bytes");
	u64 g0, g1, vm;
	char big[PATH_MAX];
	unsigned char c = 1;
	int fd;

	touch_write(self, 3, 1);
	vm = read_u64(_metadata, vm_attr(self, "p2m_bytes"));
	EXPECT_LT(0ULL, vm) TH_LOG("a VM with a touched page has no P2M");
	g0 = read_u64(_metadata, global);
	EXPECT_LE(vm, g0);
	snprintf(big, sizeof(big), "%s/big", self->dir);
	fd = mv_create(big, 256 * MV_MIB);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, &c, 1, 256 * MV_MIB - 1));
	g1 = read_u64(_metadata, global);
	EXPECT_LT(g0, g1) TH_LOG("a second VM added no P2M bytes");
	close(fd);
	ASSERT_EQ(0, unlink(big));
	EXPECT_EQ(g0, read_u64(_metadata, global))
		TH_LOG("P2M bytes not given back when the VM went away");
}

/* ------------------------------------------------------------------ */
/* Per-VM sysfs */

TEST_F(ctl, vm_name_and_size)
{
	char name[PATH_MAX];

	read_str(_metadata, vm_attr(self, "name"), name, sizeof(name));
	EXPECT_STREQ(mv_fs_name(self->path), name);
	EXPECT_EQ(NPAGES * MV_PAGE, read_u64(_metadata, vm_attr(self, "size")));
	ASSERT_EQ(0, ftruncate(self->fd, 12345));
	EXPECT_EQ(12345UL, read_u64(_metadata, vm_attr(self, "size")));
}

TEST_F(ctl, vm_counters_match_get_stats)
{
	struct memvirt_stats st;
	int i;

	/* Four read faults (zero frame), three write faults, one punched. */
	for (i = 0; i < 4; i++)
		touch_read(self, i * 4);
	touch_write(self, 5, 1);
	touch_write(self, 20, 1);
	touch_write(self, 40, 1);
	ASSERT_EQ(0, punch(self->fd, 40, 2));
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(self->id, st.vm_id);
	EXPECT_EQ(st.size_bytes, read_u64(_metadata, vm_attr(self, "size")));
	EXPECT_EQ(st.resident, read_u64(_metadata, vm_attr(self, "resident")));
	EXPECT_EQ(st.zero, read_u64(_metadata, vm_attr(self, "zero")));
	EXPECT_EQ(st.faults, read_u64(_metadata, vm_attr(self, "faults")));
	EXPECT_EQ(st.punched, read_u64(_metadata, vm_attr(self, "punched")));
	EXPECT_EQ(st.mkwrite, read_u64(_metadata, vm_attr(self, "mkwrite")));
	EXPECT_EQ(st.zero_maps, read_u64(_metadata, vm_attr(self, "zero_maps")));
	EXPECT_EQ(st.cow_breaks, read_u64(_metadata,
					  vm_attr(self, "cow_breaks")));
	EXPECT_EQ(st.pinned_skips, read_u64(_metadata,
					    vm_attr(self, "pinned_skips")));
	EXPECT_EQ(st.reclaimed, read_u64(_metadata,
					 vm_attr(self, "reclaimed")));
	/* And the values are the ones the steps imply: */
	EXPECT_EQ(2ULL, st.resident);
	EXPECT_EQ(NPAGES - 2, st.zero);
	EXPECT_EQ(1ULL, st.punched);
	EXPECT_EQ(7ULL, st.faults);
	EXPECT_EQ(3ULL, st.mkwrite);	/* each write fault notifies once */
	EXPECT_EQ(4ULL, st.zero_maps);
	EXPECT_EQ(0ULL, st.cow_breaks);
}

TEST_F(ctl, shares_default_and_round_trip)
{
	const char *path = vm_attr(self, "shares");

	EXPECT_EQ(1000ULL, read_u64(_metadata, path));
	round_trip(_metadata, path, "1\n", "1");
	round_trip(_metadata, path, "1000000\n", "1000000");
	round_trip(_metadata, path, "5555", "5555");
}

TEST_F(ctl, shares_reject_invalid)
{
	static const char *const vals[] = { "0", "1000001\n", "0\n" };

	store_all_einval(_metadata, vm_attr(self, "shares"), vals,
			 ARRAY_SIZE(vals));
	store_all_einval(_metadata, vm_attr(self, "shares"), bad_numbers,
			 ARRAY_SIZE(bad_numbers));
}

TEST_F(ctl, reservation_mb_default_and_round_trip)
{
	const char *path = vm_attr(self, "reservation_mb");

	EXPECT_EQ(0ULL, read_u64(_metadata, path));
	round_trip(_metadata, path, "16\n", "16");
	round_trip(_metadata, path, "3", "3");
	round_trip(_metadata, path, "0\n", "0");
	store_all_einval(_metadata, path, bad_numbers,
			 ARRAY_SIZE(bad_numbers));
}

TEST_F(ctl, reservation_mb_above_limit_einval)
{
	const char *path = vm_attr(self, "reservation_mb");

	round_trip(_metadata, vm_attr(self, "limit_mb"), "32\n", "32");
	store(_metadata, path, "33\n", -EINVAL);
	EXPECT_EQ(0ULL, read_u64(_metadata, path));
	round_trip(_metadata, path, "32\n", "32");
}

TEST_F(ctl, reservation_mb_sum_over_budget_enospc)
{
	const char *path = vm_attr(self, "reservation_mb");
	u64 budget = read_u64(_metadata, global_attr("budget_mb"));
	char p2[PATH_MAX], val[32], vpath[PATH_MAX];
	int fd2;

	ASSERT_LT(16ULL, budget);
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)budget + 1);
	store(_metadata, path, val, -ENOSPC);
	EXPECT_EQ(0ULL, read_u64(_metadata, path));

	snprintf(p2, sizeof(p2), "%s/vm2", self->dir);
	fd2 = mv_create(p2, MV_PAGE);
	ASSERT_LE(0, fd2);
	mv_vm_path(vpath, sizeof(vpath), mv_vm_id(_metadata, p2),
		   "reservation_mb");
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)budget - 8);
	store(_metadata, path, val, 0);
	store(_metadata, vpath, "16\n", -ENOSPC);
	EXPECT_EQ(0ULL, read_u64(_metadata, vpath));
	store(_metadata, vpath, "8\n", 0);	/* exactly the budget */
	store(_metadata, vpath, "0\n", 0);
	store(_metadata, path, "0\n", 0);
	close(fd2);
}

TEST_F(ctl, limit_mb_default_max_and_round_trip)
{
	const char *path = vm_attr(self, "limit_mb");
	char buf[32];

	read_str(_metadata, path, buf, sizeof(buf));
	EXPECT_STREQ("max", buf);
	round_trip(_metadata, path, "256\n", "256");
	round_trip(_metadata, path, "1", "1");
	round_trip(_metadata, path, "max\n", "max");
	round_trip(_metadata, path, "12", "12");
	round_trip(_metadata, path, "max", "max");
}

TEST_F(ctl, limit_mb_rejects_invalid)
{
	static const char *const vals[] = { "0", "0\n", "maxx", "MAXIMUM" };

	store_all_einval(_metadata, vm_attr(self, "limit_mb"), vals,
			 ARRAY_SIZE(vals));
	store_all_einval(_metadata, vm_attr(self, "limit_mb"), bad_numbers,
			 ARRAY_SIZE(bad_numbers));
}

TEST_F(ctl, limit_mb_below_reservation_einval)
{
	const char *path = vm_attr(self, "limit_mb");
	char buf[32];

	store(_metadata, vm_attr(self, "reservation_mb"), "64\n", 0);
	store(_metadata, path, "63\n", -EINVAL);
	read_str(_metadata, path, buf, sizeof(buf));
	EXPECT_STREQ("max", buf);
	round_trip(_metadata, path, "64\n", "64");
}

/* ------------------------------------------------------------------ */
/* Privileges */

/* Run @fn in a child that dropped to nobody; returns its exit status. */
static int as_nobody(int (*fn)(ctl_t *, void *),
		     ctl_t *self, void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (mv_become_nobody())
			_exit(100);
		_exit(fn(self, arg));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static const char *const rw_global[] = { "budget_mb", "overcommit_ratio" };
static const char *const rw_vm[] = { "shares", "reservation_mb", "limit_mb" };

/* Child: every rw file must refuse O_WRONLY (EACCES/EPERM), allow reads. */
static int nobody_opens(ctl_t *self, void *arg)
{
	char path[PATH_MAX];
	unsigned int i;
	int fd;

	(void)arg;
	for (i = 0; i < ARRAY_SIZE(rw_global) + ARRAY_SIZE(rw_vm); i++) {
		if (i < ARRAY_SIZE(rw_global))
			mv_global_path(path, sizeof(path), rw_global[i]);
		else
			mv_vm_path(path, sizeof(path), self->id,
				   rw_vm[i - ARRAY_SIZE(rw_global)]);
		fd = open(path, O_WRONLY);
		if (fd >= 0 || (errno != EACCES && errno != EPERM))
			return 1 + i;
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return 20 + i;
		close(fd);
	}
	return 0;
}

TEST_F(ctl, nonroot_cannot_open_knobs_for_write)
{
	int ret = as_nobody(nobody_opens, self, NULL);

	/* 1..5: rw_global[], then rw_vm[] opened for write; 20+: unreadable */
	EXPECT_EQ(0, ret) TH_LOG("child failed at step %d", ret);
}

struct inherited {
	int fds[5];
};

/* Child: stores through fds root opened must fail with EPERM. */
static int nobody_stores(ctl_t *self, void *arg)
{
	static const char *const vals[] = { "100\n", "200\n", "7\n", "1\n",
					    "100\n" };
	struct inherited *in = arg;
	unsigned int i;

	(void)self;
	for (i = 0; i < 5; i++) {
		ssize_t n = write(in->fds[i], vals[i], strlen(vals[i]));

		if (n >= 0 || errno != EPERM)
			return 1 + i;
	}
	return 0;
}

TEST_F(ctl, nonroot_store_through_root_fd_eperm)
{
	const char *paths[5] = {
		global_attr("budget_mb"), global_attr("overcommit_ratio"),
		vm_attr(self, "shares"), vm_attr(self, "reservation_mb"),
		vm_attr(self, "limit_mb"),
	};
	char before[5][64], after[64];
	struct inherited in;
	unsigned int i;
	int ret;

	for (i = 0; i < 5; i++) {
		read_str(_metadata, paths[i], before[i], sizeof(before[i]));
		in.fds[i] = open(paths[i], O_WRONLY);
		ASSERT_LE(0, in.fds[i]) TH_LOG("open %s", paths[i]);
	}
	ret = as_nobody(nobody_stores, self, &in);
	EXPECT_EQ(0, ret) TH_LOG("child: store to %s did not fail with EPERM",
				 ret >= 1 && ret <= 5 ? paths[ret - 1] : "?");
	for (i = 0; i < 5; i++) {
		close(in.fds[i]);
		read_str(_metadata, paths[i], after, sizeof(after));
		EXPECT_STREQ(before[i], after) TH_LOG("%s changed", paths[i]);
	}
}

/* Child: SET_POLICY -> EPERM; the read-only ioctls work. */
static int nobody_ioctls(ctl_t *self, void *arg)
{
	struct memvirt_stats st;
	struct memvirt_policy p;
	unsigned char s;

	(void)arg;
	if (mv_set_policy(self->rofd, MEMVIRT_POLICY_SHARES, 5, 0, 0) != -EPERM)
		return 1;
	if (mv_set_policy(self->fd, MEMVIRT_POLICY_SHARES, 5, 0, 0) != -EPERM)
		return 2;
	if (mv_get_policy(self->rofd, &p) || p.shares != 1000)
		return 3;
	if (mv_get_stats(self->rofd, &st) || st.vm_id != self->id)
		return 4;
	if (mv_query(self->rofd, 0, 1, &s))
		return 5;
	return 0;
}

TEST_F(ctl, nonroot_set_policy_eperm)
{
	struct memvirt_policy p;
	int ret = as_nobody(nobody_ioctls, self, NULL);

	/* 1, 2: SET_POLICY not EPERM; 3..5: GET_POLICY/GET_STATS/QUERY fail */
	EXPECT_EQ(0, ret) TH_LOG("child failed at step %d", ret);
	policy(_metadata, self->fd, &p);
	EXPECT_EQ(1000ULL, p.shares);
}

/* ------------------------------------------------------------------ */
/* Policy */

TEST_F(ctl, get_policy_defaults)
{
	struct memvirt_policy p;
	unsigned int i;

	policy(_metadata, self->rofd, &p);
	EXPECT_EQ((u64)MEMVIRT_SHARES_DEFAULT, p.shares);
	EXPECT_EQ(0ULL, p.reservation_bytes);
	EXPECT_EQ(MEMVIRT_LIMIT_NONE, p.limit_bytes);
	for (i = 0; i < ARRAY_SIZE(p.reserved); i++)
		EXPECT_EQ(0ULL, p.reserved[i]);
}

TEST_F(ctl, set_policy_shows_in_sysfs)
{
	char buf[32];

	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_ALL, 4321,
				   16 * MV_MIB, 64 * MV_MIB));
	EXPECT_EQ(4321ULL, read_u64(_metadata, vm_attr(self, "shares")));
	EXPECT_EQ(16ULL, read_u64(_metadata, vm_attr(self, "reservation_mb")));
	EXPECT_EQ(64ULL, read_u64(_metadata, vm_attr(self, "limit_mb")));
	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_LIMIT, 0, 0,
				   MEMVIRT_LIMIT_NONE));
	read_str(_metadata, vm_attr(self, "limit_mb"), buf, sizeof(buf));
	EXPECT_STREQ("max", buf);
}

TEST_F(ctl, sysfs_policy_shows_in_get_policy)
{
	struct memvirt_policy p;

	store(_metadata, vm_attr(self, "shares"), "77\n", 0);
	store(_metadata, vm_attr(self, "limit_mb"), "100\n", 0);
	store(_metadata, vm_attr(self, "reservation_mb"), "8\n", 0);
	policy(_metadata, self->rofd, &p);
	EXPECT_EQ(77ULL, p.shares);
	EXPECT_EQ(8 * MV_MIB, p.reservation_bytes);
	EXPECT_EQ(100 * MV_MIB, p.limit_bytes);
	store(_metadata, vm_attr(self, "limit_mb"), "max\n", 0);
	policy(_metadata, self->rofd, &p);
	EXPECT_EQ(MEMVIRT_LIMIT_NONE, p.limit_bytes);
}

TEST_F(ctl, set_policy_changes_only_flagged_fields)
{
	struct memvirt_policy p;

	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_ALL, 2000,
				   8 * MV_MIB, 128 * MV_MIB));
	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_SHARES, 3000,
				   16 * MV_MIB, 256 * MV_MIB));
	policy(_metadata, self->fd, &p);
	EXPECT_EQ(3000ULL, p.shares);
	EXPECT_EQ(8 * MV_MIB, p.reservation_bytes);
	EXPECT_EQ(128 * MV_MIB, p.limit_bytes);
	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_RESERVATION, 9,
				   4 * MV_MIB, 512 * MV_MIB));
	policy(_metadata, self->fd, &p);
	EXPECT_EQ(3000ULL, p.shares);
	EXPECT_EQ(4 * MV_MIB, p.reservation_bytes);
	EXPECT_EQ(128 * MV_MIB, p.limit_bytes);
	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_LIMIT, 9,
				   2 * MV_MIB, 512 * MV_MIB));
	policy(_metadata, self->fd, &p);
	EXPECT_EQ(3000ULL, p.shares);
	EXPECT_EQ(4 * MV_MIB, p.reservation_bytes);
	EXPECT_EQ(512 * MV_MIB, p.limit_bytes);
}

TEST_F(ctl, set_policy_rejects_bad_values)
{
	static const struct {
		const char *what;
		u32 flags;
		u64 shares, res, limit;
	} bad[] = {
		{ "shares 0", MEMVIRT_POLICY_SHARES, 0, 0, 0 },
		{ "shares max+1", MEMVIRT_POLICY_SHARES,
		  MEMVIRT_SHARES_MAX + 1, 0, 0 },
		{ "reservation 1 byte", MEMVIRT_POLICY_RESERVATION, 0, 1, 0 },
		{ "reservation 4095", MEMVIRT_POLICY_RESERVATION, 0, 4095, 0 },
		{ "reservation 8M+2048", MEMVIRT_POLICY_RESERVATION, 0,
		  8 * MV_MIB + 2048, 0 },
		{ "limit 4097", MEMVIRT_POLICY_LIMIT, 0, 0, 4097 },
		{ "limit 64M-1", MEMVIRT_POLICY_LIMIT, 0, 0, 64 * MV_MIB - 1 },
		{ "limit below reservation", MEMVIRT_POLICY_LIMIT, 0, 0,
		  8 * MV_MIB },
		{ "reservation above limit", MEMVIRT_POLICY_RESERVATION, 0,
		  256 * MV_MIB, 0 },
		{ "both, reservation > limit",
		  MEMVIRT_POLICY_RESERVATION | MEMVIRT_POLICY_LIMIT, 0,
		  64 * MV_MIB, 32 * MV_MIB },
	};
	struct memvirt_policy p;
	unsigned int i;

	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_ALL, 2000,
				   16 * MV_MIB, 128 * MV_MIB));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *what = bad[i].what;
		int ret = mv_set_policy(self->fd, bad[i].flags, bad[i].shares,
					bad[i].res, bad[i].limit);

		EXPECT_EQ(-EINVAL, ret) TH_LOG("SET_POLICY %s: %s", what,
					       strerror(-ret));
	}
	policy(_metadata, self->fd, &p);
	EXPECT_EQ(2000ULL, p.shares);
	EXPECT_EQ(16 * MV_MIB, p.reservation_bytes);
	EXPECT_EQ(128 * MV_MIB, p.limit_bytes);
}

TEST_F(ctl, set_policy_reservation_over_budget_enospc)
{
	u64 budget = read_u64(_metadata, global_attr("budget_mb"));
	struct memvirt_policy p;

	EXPECT_EQ(-ENOSPC, mv_set_policy(self->fd, MEMVIRT_POLICY_RESERVATION,
					 0, (budget + 1) * MV_MIB, 0));
	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_RESERVATION, 0,
				   budget * MV_MIB, 0));
	policy(_metadata, self->fd, &p);
	EXPECT_EQ(budget * MV_MIB, p.reservation_bytes);
	ASSERT_EQ(0, mv_set_policy(self->fd, MEMVIRT_POLICY_RESERVATION, 0,
				   0, 0));
}

/* ------------------------------------------------------------------ */
/* ioctl ABI */

struct ioc {
	const char *name;
	unsigned long cmd;
	size_t size;
	size_t reserved_off;
	unsigned int nr_reserved;
	size_t ver0;		/* first published size */
};

static const struct ioc iocs[] = {
	{ "GET_STATS", MEMVIRT_IOC_GET_STATS, sizeof(struct memvirt_stats),
	  offsetof(struct memvirt_stats, reserved), 8,
	  MEMVIRT_STATS_SIZE_VER0 },
	{ "QUERY_RANGE", MEMVIRT_IOC_QUERY_RANGE,
	  sizeof(struct memvirt_range_query),
	  offsetof(struct memvirt_range_query, reserved), 4,
	  MEMVIRT_RANGE_QUERY_SIZE_VER0 },
	{ "GET_POLICY", MEMVIRT_IOC_GET_POLICY, sizeof(struct memvirt_policy),
	  offsetof(struct memvirt_policy, reserved), 5,
	  MEMVIRT_POLICY_SIZE_VER0 },
	{ "SET_POLICY", MEMVIRT_IOC_SET_POLICY, sizeof(struct memvirt_policy),
	  offsetof(struct memvirt_policy, reserved), 5,
	  MEMVIRT_POLICY_SIZE_VER0 },
};

/* A zeroed 512-byte argument buffer, 8-byte aligned. */
union iobuf {
	u64 align;
	unsigned char raw[512];
	struct memvirt_stats st;
	struct memvirt_range_query q;
	struct memvirt_policy p;
};

static unsigned char query_states[NPAGES];

/* A valid argument for @c with @size in the size field. */
static void ioc_prep(const struct ioc *c, union iobuf *b, u32 size)
{
	memset(b, 0, sizeof(*b));
	b->st.size = size;
	if (c->cmd == MEMVIRT_IOC_QUERY_RANGE) {
		b->q.start_gfn = 0;
		b->q.nr_gfns = 1;
		b->q.states = (uintptr_t)query_states;
	} else if (c->cmd == MEMVIRT_IOC_SET_POLICY) {
		b->p.flags = MEMVIRT_POLICY_SHARES;
		b->p.shares = MEMVIRT_SHARES_DEFAULT;
	}
}

static int ioc_call(int fd, const struct ioc *c, union iobuf *b)
{
	return mv_ioctl(fd, c->cmd, b);
}

TEST_F(ctl, ioctl_valid_calls_succeed)
{
	union iobuf b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(iocs); i++) {
		const char *name = iocs[i].name;
		int ret;

		ioc_prep(&iocs[i], &b, iocs[i].size);
		ret = ioc_call(self->fd, &iocs[i], &b);
		EXPECT_EQ(0, ret) TH_LOG("%s: %s", name, strerror(-ret));
	}
}

TEST_F(ctl, ioctl_each_unknown_flag_bit_einval)
{
	union iobuf b;
	unsigned int i, bit;

	for (i = 0; i < 3; i++) {	/* GET_STATS, QUERY_RANGE, GET_POLICY */
		const char *name = iocs[i].name;

		for (bit = 0; bit < 32; bit++) {
			int ret;

			ioc_prep(&iocs[i], &b, iocs[i].size);
			b.st.flags = 1U << bit;
			ret = ioc_call(self->fd, &iocs[i], &b);
			EXPECT_EQ(-EINVAL, ret)
				TH_LOG("%s flags bit %u: %s", name, bit,
				       strerror(-ret));
		}
	}
}

TEST_F(ctl, set_policy_flag_bits_outside_all_einval)
{
	struct memvirt_policy p;
	unsigned int bit;
	int ret;

	ret = mv_set_policy(self->fd, 0, 5, 0, 0);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("SET_POLICY with flags 0: %s",
				       strerror(-ret));
	for (bit = 0; bit < 32; bit++) {
		u32 f = 1U << bit;

		if (f & MEMVIRT_POLICY_ALL)
			continue;
		ret = mv_set_policy(self->fd, f, 5, 0, 0);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags bit %u alone: %s", bit,
					       strerror(-ret));
		ret = mv_set_policy(self->fd, f | MEMVIRT_POLICY_SHARES, 5, 0,
				    0);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags SHARES|bit %u: %s", bit,
					       strerror(-ret));
	}
	policy(_metadata, self->fd, &p);
	EXPECT_EQ(1000ULL, p.shares) TH_LOG("a refused SET_POLICY changed shares");
}

TEST_F(ctl, ioctl_each_reserved_nonzero_einval)
{
	union iobuf b;
	unsigned int i, r;
	struct memvirt_policy p;

	for (i = 0; i < ARRAY_SIZE(iocs); i++) {
		const char *name = iocs[i].name;

		for (r = 0; r < iocs[i].nr_reserved; r++) {
			u64 *res;
			int ret;

			ioc_prep(&iocs[i], &b, iocs[i].size);
			if (iocs[i].cmd == MEMVIRT_IOC_SET_POLICY)
				b.p.shares = 5;
			res = (u64 *)(b.raw + iocs[i].reserved_off);
			res[r] = r & 1 ? 1ULL << 63 : 1;
			ret = ioc_call(self->fd, &iocs[i], &b);
			EXPECT_EQ(-EINVAL, ret)
				TH_LOG("%s reserved[%u]: %s", name, r,
				       strerror(-ret));
		}
	}
	policy(_metadata, self->fd, &p);
	EXPECT_EQ(1000ULL, p.shares);
}

TEST_F(ctl, ioctl_size_too_small_einval)
{
	union iobuf b;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(iocs); i++) {
		u32 sizes[] = { 0, 4, 8, 16, iocs[i].ver0 - 8,
				iocs[i].ver0 - 1 };
		const char *name = iocs[i].name;

		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			u32 sz = sizes[j];
			int ret;

			ioc_prep(&iocs[i], &b, sz);
			ret = ioc_call(self->fd, &iocs[i], &b);
			EXPECT_EQ(-EINVAL, ret) TH_LOG("%s size %u: %s", name,
						       sz, strerror(-ret));
		}
	}
}

TEST_F(ctl, ioctl_larger_size_nonzero_tail_e2big)
{
	union iobuf b;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(iocs); i++) {
		size_t sz = iocs[i].size;
		size_t where[] = { sz, sz + 31, sz + 63 };
		const char *name = iocs[i].name;

		for (j = 0; j < ARRAY_SIZE(where); j++) {
			size_t at = where[j];
			int ret;

			ioc_prep(&iocs[i], &b, sz + 64);
			b.raw[at] = 0x01;
			ret = ioc_call(self->fd, &iocs[i], &b);
			EXPECT_EQ(-E2BIG, ret)
				TH_LOG("%s size %zu, byte %zu non-zero: %s",
				       name, sz + 64, at, strerror(-ret));
		}
	}
}

/* Bytes [from, to) of @b are all @v. */
static bool all_bytes(const union iobuf *b, size_t from, size_t to,
		      unsigned char v)
{
	for (; from < to; from++)
		if (b->raw[from] != v)
			return false;
	return true;
}

TEST_F(ctl, ioctl_larger_size_zero_tail_ok)
{
	union iobuf b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(iocs); i++) {
		size_t sz = iocs[i].size;
		const char *name = iocs[i].name;
		int ret;

		ioc_prep(&iocs[i], &b, sz + 64);
		memset(b.raw + sz + 64, 0xa5, sizeof(b.raw) - sz - 64);
		ret = ioc_call(self->fd, &iocs[i], &b);
		EXPECT_EQ(0, ret) TH_LOG("%s size %zu, zero tail: %s", name,
					 sz + 64, strerror(-ret));
		EXPECT_TRUE(all_bytes(&b, sz + 64, sizeof(b.raw), 0xa5))
			TH_LOG("%s wrote past the size it was given", name);
		if (iocs[i].cmd == MEMVIRT_IOC_GET_STATS) {
			EXPECT_EQ(self->id, b.st.vm_id);
			EXPECT_EQ(NPAGES * MV_PAGE, b.st.size_bytes);
		} else if (iocs[i].cmd == MEMVIRT_IOC_GET_POLICY) {
			EXPECT_EQ(1000ULL, b.p.shares);
			EXPECT_EQ(MEMVIRT_LIMIT_NONE, b.p.limit_bytes);
		}
	}
}

TEST_F(ctl, ioctl_exact_size_writes_nothing_beyond)
{
	union iobuf b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(iocs); i++) {
		size_t sz = iocs[i].size;
		const char *name = iocs[i].name;

		ioc_prep(&iocs[i], &b, sz);
		memset(b.raw + sz, 0xa5, sizeof(b.raw) - sz);
		EXPECT_EQ(0, ioc_call(self->fd, &iocs[i], &b)) TH_LOG("%s", name);
		EXPECT_TRUE(all_bytes(&b, sz, sizeof(b.raw), 0xa5))
			TH_LOG("%s wrote past its struct", name);
		EXPECT_TRUE(all_bytes(&b, iocs[i].reserved_off, sz, 0))
			TH_LOG("%s: reserved not zero on output", name);
	}
}

TEST_F(ctl, ioctl_unknown_cmd_enotty)
{
	const unsigned long cmds[] = {
		_IOWR(MEMVIRT_IOCTL_BASE, 0x07, struct memvirt_stats),	/* 0x05: BALLOON */
		_IOWR(MEMVIRT_IOCTL_BASE, 0x3f, struct memvirt_stats),
		_IOW(MEMVIRT_IOCTL_BASE, 0xff, struct memvirt_policy),
		_IO(MEMVIRT_IOCTL_BASE, 0x08),
		_IOWR('X', 0x00, struct memvirt_stats),
	};
	union iobuf b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		unsigned long cmd = cmds[i];
		int ret;

		ioc_prep(&iocs[0], &b, sizeof(b.st));
		ret = mv_ioctl(self->fd, cmd, &b);
		EXPECT_EQ(-ENOTTY, ret) TH_LOG("cmd 0x%lx: %s", cmd,
					       strerror(-ret));
	}
}

TEST_F(ctl, ioctl_on_directory_enotty)
{
	const char *const dirs[] = { self->dir, MV_MNT };
	union iobuf b;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		const char *d = dirs[i];
		int fd = open(d, O_RDONLY | O_DIRECTORY);

		ASSERT_LE(0, fd);
		for (j = 0; j < ARRAY_SIZE(iocs); j++) {
			const char *name = iocs[j].name;
			int ret;

			ioc_prep(&iocs[j], &b, iocs[j].size);
			ret = ioc_call(fd, &iocs[j], &b);
			EXPECT_EQ(-ENOTTY, ret) TH_LOG("%s on %s: %s", name, d,
						       strerror(-ret));
		}
		close(fd);
	}
}

TEST_F(ctl, read_ioctls_work_on_rdonly_fd)
{
	struct memvirt_stats st;
	struct memvirt_policy p;
	unsigned char s[NPAGES];

	EXPECT_EQ(0, mv_get_stats(self->rofd, &st));
	EXPECT_EQ(self->id, st.vm_id);
	EXPECT_EQ(0, mv_query(self->rofd, 0, NPAGES, s));
	EXPECT_EQ(0, mv_get_policy(self->rofd, &p));
}

TEST_F(ctl, query_range_outside_file_einval)
{
	static const struct {
		u64 start, nr;
	} bad[] = {
		{ NPAGES, 1 }, { 0, NPAGES + 1 }, { NPAGES - 1, 2 },
		{ 0, 0 }, { 5, 0 }, { ~0ULL, 1 }, { 1, ~0ULL },
		{ ~0ULL - 2, 4 }, { 1ULL << 52, 1 },
		{ 0, MEMVIRT_QUERY_MAX + 1ULL },
	};
	static unsigned char s[NPAGES + 8];
	unsigned int i;

	EXPECT_EQ(0, mv_query(self->fd, 0, NPAGES, s));
	EXPECT_EQ(0, mv_query(self->fd, NPAGES - 1, 1, s));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		u64 start = bad[i].start, nr = bad[i].nr;
		int ret = mv_query(self->fd, start, nr, s);

		EXPECT_EQ(-EINVAL, ret) TH_LOG("start %llu nr %llu: %s",
					       (unsigned long long)start,
					       (unsigned long long)nr,
					       strerror(-ret));
	}
}

TEST_F(ctl, query_range_max_gfns)
{
	const u64 max = MEMVIRT_QUERY_MAX;
	unsigned char *s = malloc(max + 1);
	char big[PATH_MAX];
	u64 i;
	int fd;

	ASSERT_NE(NULL, s);
	snprintf(big, sizeof(big), "%s/big", self->dir);
	ASSERT_EQ(0, mv_global_set("overcommit_ratio", "1000\n"));
	fd = mv_create(big, (max + 1) * MV_PAGE);
	if (fd == -ENOMEM)
		SKIP(return, "a %llu MiB VM does not fit even at 1000%%",
		     (unsigned long long)((max + 1) * MV_PAGE / MV_MIB));
	ASSERT_LE(0, fd);
	memset(s, 0xee, max + 1);
	EXPECT_EQ(0, mv_query(fd, 0, max, s));
	for (i = 0; i < max; i++)
		if (s[i] != MEMVIRT_GFN_ABSENT)
			break;
	EXPECT_EQ(max, i) TH_LOG("gfn %llu state 0x%x",
				 (unsigned long long)i, s[i]);
	EXPECT_EQ(0xee, s[max]) TH_LOG("QUERY wrote past nr_gfns");
	EXPECT_EQ(0, mv_query(fd, 1, max, s));
	EXPECT_EQ(-EINVAL, mv_query(fd, 0, max + 1, s));
	close(fd);
	free(s);
}

TEST_F(ctl, bad_pointers_efault)
{
	struct memvirt_range_query q;
	unsigned char *ro, *edge;
	union iobuf *rob;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(iocs); i++) {
		const char *name = iocs[i].name;

		ret = mv_ioctl(self->fd, iocs[i].cmd, NULL);
		EXPECT_EQ(-EFAULT, ret) TH_LOG("%s with a NULL argument: %s",
					       name, strerror(-ret));
	}
	EXPECT_EQ(-EFAULT, mv_query(self->fd, 0, 1, NULL));
	EXPECT_EQ(-EFAULT, mv_query(self->fd, 0, 1,
				    (unsigned char *)0xffff888000000000UL));

	/* A read-only states buffer, and one running into a hole. */
	ro = mmap(NULL, 2 * MV_PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, mprotect(ro, MV_PAGE, PROT_READ));
	ASSERT_EQ(0, mprotect(ro + MV_PAGE, MV_PAGE, PROT_NONE));
	EXPECT_EQ(-EFAULT, mv_query(self->fd, 0, 1, ro));
	edge = ro + MV_PAGE - 1;
	EXPECT_EQ(-EFAULT, mv_query(self->fd, 0, 2, edge));

	/* Output structs in read-only memory. */
	rob = (union iobuf *)ro;
	ASSERT_EQ(0, mprotect(ro, MV_PAGE, PROT_READ | PROT_WRITE));
	ioc_prep(&iocs[0], rob, sizeof(struct memvirt_stats));
	ASSERT_EQ(0, mprotect(ro, MV_PAGE, PROT_READ));
	EXPECT_EQ(-EFAULT, mv_ioctl(self->fd, MEMVIRT_IOC_GET_STATS, rob));
	ASSERT_EQ(0, mprotect(ro, MV_PAGE, PROT_READ | PROT_WRITE));
	ioc_prep(&iocs[2], rob, sizeof(struct memvirt_policy));
	ASSERT_EQ(0, mprotect(ro, MV_PAGE, PROT_READ));
	EXPECT_EQ(-EFAULT, mv_ioctl(self->fd, MEMVIRT_IOC_GET_POLICY, rob));

	/* A struct that starts fine and runs into the hole. */
	ASSERT_EQ(0, mprotect(ro, MV_PAGE, PROT_READ | PROT_WRITE));
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.nr_gfns = 1;
	q.states = (uintptr_t)query_states;
	memcpy(ro + MV_PAGE - 8, &q, 8);
	EXPECT_EQ(-EFAULT, mv_ioctl(self->fd, MEMVIRT_IOC_QUERY_RANGE,
				    ro + MV_PAGE - 8));
	munmap(ro, 2 * MV_PAGE);
}

/* ------------------------------------------------------------------ */
/* QUERY_RANGE states and GET_STATS counters */

TEST_F(ctl, query_states_absent_private_zero)
{
	unsigned char s[NPAGES], c = 7;
	unsigned int i;

	touch_read(self, 1);
	touch_write(self, 2, 1);
	touch_read(self, 3);
	touch_write(self, 3, 1);
	ASSERT_EQ(1, pwrite(self->fd, &c, 1, 4 * MV_PAGE));
	touch_write(self, 5, 1);
	ASSERT_EQ(0, punch(self->fd, 5, 1));
	memset(s, 0xee, sizeof(s));
	ASSERT_EQ(0, mv_query(self->fd, 0, NPAGES, s));
	EXPECT_EQ(MEMVIRT_GFN_ABSENT, s[0]) TH_LOG("untouched gfn 0");
	EXPECT_EQ(MEMVIRT_GFN_ZERO, s[1] & (MEMVIRT_GFN_STATE_MASK |
					    MEMVIRT_GFN_DIRTY))
		TH_LOG("gfn 1 read (zero frame): 0x%x", s[1]);
	EXPECT_EQ(MEMVIRT_GFN_PRIVATE | MEMVIRT_GFN_ACCESSED |
		  MEMVIRT_GFN_DIRTY, s[2]) TH_LOG("gfn 2 written: 0x%x", s[2]);
	EXPECT_EQ(MEMVIRT_GFN_PRIVATE | MEMVIRT_GFN_DIRTY,
		  s[3] & (MEMVIRT_GFN_STATE_MASK | MEMVIRT_GFN_DIRTY))
		TH_LOG("gfn 3 read then written: 0x%x", s[3]);
	EXPECT_EQ(MEMVIRT_GFN_PRIVATE | MEMVIRT_GFN_DIRTY,
		  s[4] & (MEMVIRT_GFN_STATE_MASK | MEMVIRT_GFN_DIRTY))
		TH_LOG("gfn 4 pwritten: 0x%x", s[4]);
	EXPECT_EQ(MEMVIRT_GFN_ZERO, s[5] & (MEMVIRT_GFN_STATE_MASK |
					    MEMVIRT_GFN_DIRTY))
		TH_LOG("gfn 5 punched: 0x%x", s[5]);
	for (i = 6; i < NPAGES; i++)
		if (s[i] != MEMVIRT_GFN_ABSENT)
			break;
	EXPECT_EQ(NPAGES, i) TH_LOG("untouched gfn %u: 0x%x", i,
				    i < NPAGES ? s[i] : 0);
}

TEST_F(ctl, query_state_after_fallocate_is_plain_private)
{
	unsigned char s[4];

	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_KEEP_SIZE, 8 * MV_PAGE,
			       4 * MV_PAGE));
	ASSERT_EQ(0, mv_query(self->fd, 8, 4, s));
	EXPECT_EQ(MEMVIRT_GFN_PRIVATE, s[0])
		TH_LOG("0x%x: populated, never faulted or written", s[0]);
	EXPECT_EQ(MEMVIRT_GFN_PRIVATE, s[3]);
}

TEST_F(ctl, stats_fresh_vm)
{
	struct memvirt_stats st;
	unsigned int i;

	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(self->id, st.vm_id);
	EXPECT_EQ(NPAGES * MV_PAGE, st.size_bytes);
	EXPECT_EQ(0ULL, st.resident);
	EXPECT_EQ(NPAGES, st.zero);
	EXPECT_EQ(0ULL, st.faults);
	EXPECT_EQ(0ULL, st.punched);
	EXPECT_EQ(0ULL, st.mkwrite);
	for (i = 0; i < ARRAY_SIZE(st.reserved); i++)
		EXPECT_EQ(0ULL, st.reserved[i]);
	EXPECT_EQ((u32)sizeof(st), st.size);
	EXPECT_EQ(0ULL, st.zero_maps);
	EXPECT_EQ(0ULL, st.cow_breaks);
	EXPECT_EQ(0ULL, st.pinned_skips);
	EXPECT_EQ(0ULL, st.reclaimed);
}

TEST_F(ctl, stats_read_faults)
{
	struct memvirt_stats st;
	int i;

	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, touch_read(self, i * 16));
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(4ULL, st.faults);
	EXPECT_EQ(4ULL, st.zero_maps);
	EXPECT_EQ(0ULL, st.resident) TH_LOG("a read fault allocated");
	EXPECT_EQ(NPAGES, st.zero);
	EXPECT_EQ(0ULL, st.mkwrite);
	EXPECT_EQ(0ULL, st.cow_breaks);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(MEMVIRT_GFN_ZERO, mv_query1(self->fd, i * 16) &
			  MEMVIRT_GFN_STATE_MASK) TH_LOG("gfn %d", i * 16);
	/* Reading again faults no more. */
	for (i = 0; i < 4; i++)
		touch_read(self, i * 16);
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(4ULL, st.faults);
	EXPECT_EQ(4ULL, st.zero_maps);
}

TEST_F(ctl, stats_read_only_mapping_maps_zero_frame)
{
	struct memvirt_stats st;
	unsigned char *ro;
	int i;

	ro = mmap(NULL, NPAGES * MV_PAGE, PROT_READ, MAP_SHARED, self->rofd, 0);
	ASSERT_NE(MAP_FAILED, ro);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, MV_READ_ONCE(ro[(10 + i) * MV_PAGE + 99]));
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(3ULL, st.faults);
	EXPECT_EQ(3ULL, st.zero_maps);
	EXPECT_EQ(0ULL, st.resident);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(MEMVIRT_GFN_ZERO, mv_query1(self->fd, 10 + i) &
			  MEMVIRT_GFN_STATE_MASK) TH_LOG("gfn %d", 10 + i);
	munmap(ro, NPAGES * MV_PAGE);
}

TEST_F(ctl, stats_pread_of_holes_allocates_nothing)
{
	unsigned char buf[8 * MV_PAGE];
	struct memvirt_stats st;
	unsigned int i;

	memset(buf, 0xee, sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(buf), pread(self->fd, buf, sizeof(buf),
					      4 * MV_PAGE));
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i])
			break;
	EXPECT_EQ(sizeof(buf), i) TH_LOG("byte %u of a hole is 0x%x", i,
					 i < sizeof(buf) ? buf[i] : 0);
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(0ULL, st.resident);
	EXPECT_EQ(0ULL, st.zero_maps);
	EXPECT_EQ(0ULL, st.faults);
	EXPECT_EQ(MEMVIRT_GFN_ABSENT, mv_query1(self->fd, 4));
}

TEST_F(ctl, stats_write_after_read_breaks_cow)
{
	struct memvirt_stats st;
	unsigned char buf[MV_PAGE];
	int i;

	for (i = 0; i < 3; i++)
		touch_read(self, 30 + i);
	for (i = 0; i < 3; i++)
		touch_write(self, 30 + i, 0x60 + i);
	mv_stats_get(_metadata, self->fd, &st);
	EXPECT_EQ(3ULL, st.zero_maps);
	EXPECT_EQ(3ULL, st.cow_breaks);
	EXPECT_EQ(3ULL, st.resident);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ((ssize_t)MV_PAGE, pread(self->fd, buf, MV_PAGE,
						  (30 + i) * MV_PAGE));
		EXPECT_EQ(0, buf[0]);
		EXPECT_EQ(0x60 + i, buf[1]) TH_LOG("gfn %d", 30 + i);
		EXPECT_EQ(0, buf[2]);
		EXPECT_EQ(0x60 + i, self->map[(30 + i) * MV_PAGE + 1]);
		EXPECT_EQ(MEMVIRT_GFN_PRIVATE | MEMVIRT_GFN_DIRTY,
			  mv_query1(self->fd, 30 + i) &
			  (MEMVIRT_GFN_STATE_MASK | MEMVIRT_GFN_DIRTY));
	}
}

TEST_F(ctl, stats_mkwrite_after_read)
{
	struct memvirt_stats before, after;
	unsigned char c = 9;

	/* A private page, mapped read-only by a read: the store is a mkwrite. */
	ASSERT_EQ(1, pwrite(self->fd, &c, 1, 8 * MV_PAGE));
	EXPECT_EQ(9, touch_read(self, 8));
	mv_stats_get(_metadata, self->fd, &before);
	EXPECT_EQ(0ULL, before.mkwrite);
	EXPECT_EQ(1ULL, before.faults);
	EXPECT_EQ(0ULL, before.zero_maps);
	touch_write(self, 8, 1);
	mv_stats_get(_metadata, self->fd, &after);
	EXPECT_EQ(1ULL, after.mkwrite);
	EXPECT_EQ(1ULL, after.resident);
	EXPECT_EQ(before.faults, after.faults);
	EXPECT_EQ(0ULL, after.cow_breaks);
	/* Writing again: the PTE is writable now. */
	touch_write(self, 8, 2);
	mv_stats_get(_metadata, self->fd, &before);
	EXPECT_EQ(after.mkwrite, before.mkwrite);
}

TEST_F(ctl, stats_punch_counts_freed_pages)
{
	struct memvirt_stats before, after;
	int i;

	for (i = 0; i < 4; i++)
		touch_write(self, i, 1);
	mv_stats_get(_metadata, self->fd, &before);
	/* Six pages, four of them populated. */
	ASSERT_EQ(0, punch(self->fd, 0, 6));
	mv_stats_get(_metadata, self->fd, &after);
	EXPECT_EQ(before.punched + 4, after.punched);
	EXPECT_EQ(before.resident - 4, after.resident);
	EXPECT_EQ(before.zero + 4, after.zero);
}

TEST_F(ctl, stats_shrink_frees_without_punch)
{
	struct memvirt_stats before, after;

	touch_write(self, 2, 1);
	touch_write(self, 40, 1);
	touch_write(self, 50, 1);
	touch_write(self, 63, 1);
	mv_stats_get(_metadata, self->fd, &before);
	ASSERT_EQ(0, ftruncate(self->fd, 32 * MV_PAGE));
	mv_stats_get(_metadata, self->fd, &after);
	EXPECT_EQ(before.resident - 3, after.resident);
	EXPECT_EQ(before.punched, after.punched);
	EXPECT_EQ(32 * MV_PAGE, after.size_bytes);
	EXPECT_EQ(31ULL, after.zero);
}

/* ------------------------------------------------------------------ */
/* ioctl ABI: commands matched on type and number, size from the struct */

TEST_F(ctl, ioctl_size_ver0_writes_back_ver0_bytes)
{
	union iobuf b;

	ioc_prep(&iocs[0], &b, MEMVIRT_STATS_SIZE_VER0);
	memset(b.raw + MEMVIRT_STATS_SIZE_VER0, 0xa5,
	       sizeof(b.raw) - MEMVIRT_STATS_SIZE_VER0);
	ASSERT_EQ(0, ioc_call(self->fd, &iocs[0], &b));
	EXPECT_EQ((u32)MEMVIRT_STATS_SIZE_VER0, b.st.size);
	EXPECT_EQ(self->id, b.st.vm_id);
	EXPECT_EQ(NPAGES * MV_PAGE, b.st.size_bytes);
	EXPECT_TRUE(all_bytes(&b, MEMVIRT_STATS_SIZE_VER0, sizeof(b.raw), 0xa5))
		TH_LOG("GET_STATS wrote past the %d bytes it was given",
		       MEMVIRT_STATS_SIZE_VER0);
}

TEST_F(ctl, ioctl_larger_size_writes_back_kernel_size)
{
	union iobuf b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(iocs); i++) {
		const char *name = iocs[i].name;

		if (iocs[i].cmd == MEMVIRT_IOC_QUERY_RANGE ||
		    iocs[i].cmd == MEMVIRT_IOC_SET_POLICY)
			continue;	/* input only: nothing written back */
		ioc_prep(&iocs[i], &b, iocs[i].size + 64);
		ASSERT_EQ(0, ioc_call(self->fd, &iocs[i], &b)) TH_LOG("%s", name);
		EXPECT_EQ((u32)iocs[i].size, b.st.size) TH_LOG("%s", name);
		EXPECT_TRUE(all_bytes(&b, iocs[i].size, iocs[i].size + 64, 0))
			TH_LOG("%s wrote into the caller's tail", name);
	}
}

/* A caller whose struct grew: the command encodes its bigger size. */
struct grown_stats {
	struct memvirt_stats st;
	u64 extra[5];
};

TEST_F(ctl, ioctl_grown_struct_command_works)
{
	const unsigned long cmd = _IOWR(MEMVIRT_IOCTL_BASE, 0,
					struct grown_stats);
	struct grown_stats g;
	unsigned int i;
	int ret;

	touch_read(self, 1);
	memset(&g, 0, sizeof(g));
	g.st.size = sizeof(g);
	ret = mv_ioctl(self->fd, cmd, &g);
	ASSERT_EQ(0, ret) TH_LOG("GET_STATS as _IOWR(.., 0, %zu bytes): %s",
				 sizeof(g), strerror(-ret));
	EXPECT_EQ((u32)sizeof(struct memvirt_stats), g.st.size);
	EXPECT_EQ(self->id, g.st.vm_id);
	EXPECT_EQ(1ULL, g.st.faults);
	EXPECT_EQ(1ULL, g.st.zero_maps);
	for (i = 0; i < ARRAY_SIZE(g.extra); i++)
		EXPECT_EQ(0ULL, g.extra[i]);
}

TEST_F(ctl, ioctl_size_bits_of_command_ignored)
{
	const unsigned long cmds[] = {
		_IOC(_IOC_READ | _IOC_WRITE, MEMVIRT_IOCTL_BASE, 0, 8),
		_IOC(_IOC_READ | _IOC_WRITE, MEMVIRT_IOCTL_BASE, 0,
		     MEMVIRT_STATS_SIZE_VER0),
		_IOC(_IOC_READ | _IOC_WRITE, MEMVIRT_IOCTL_BASE, 0, 4096),
	};
	union iobuf b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		int ret;

		ioc_prep(&iocs[0], &b, sizeof(b.st));
		ret = mv_ioctl(self->fd, cmds[i], &b);
		EXPECT_EQ(0, ret) TH_LOG("cmd 0x%lx: %s", cmds[i], strerror(-ret));
		EXPECT_EQ(self->id, b.st.vm_id) TH_LOG("cmd 0x%lx", cmds[i]);
	}
}

TEST_F(ctl, ioctl_size_page_limit)
{
	unsigned char *big = calloc(1, 2 * MV_PAGE);
	struct memvirt_stats *st = (struct memvirt_stats *)big;
	int ret;

	ASSERT_NE(NULL, big);
	st->size = MV_PAGE;
	ret = mv_ioctl(self->fd, MEMVIRT_IOC_GET_STATS, st);
	EXPECT_EQ(0, ret) TH_LOG("size 4096, zero tail: %s", strerror(-ret));
	EXPECT_EQ((u32)sizeof(*st), st->size);
	memset(big, 0, 2 * MV_PAGE);
	st->size = MV_PAGE + 1;
	EXPECT_EQ(-E2BIG, mv_ioctl(self->fd, MEMVIRT_IOC_GET_STATS, st));
	st->size = ~0U;
	EXPECT_EQ(-E2BIG, mv_ioctl(self->fd, MEMVIRT_IOC_GET_STATS, st));
	memset(big, 0, 2 * MV_PAGE);
	st->size = MV_PAGE;
	big[MV_PAGE - 1] = 1;
	EXPECT_EQ(-E2BIG, mv_ioctl(self->fd, MEMVIRT_IOC_GET_STATS, st));
	free(big);
}

/* ------------------------------------------------------------------ */
/* A whole untouched 1 GiB VM read allocates nothing */

#define GIB		(1024UL * MV_MIB)

static int gib_vm(struct __test_metadata *_metadata, ctl_t *self)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/gib", self->dir);
	fd = mv_create(path, GIB);
	ASSERT_LE(0, fd) TH_LOG("a 1 GiB VM: %s", strerror(-fd));
	return fd;
}

TEST_F_TIMEOUT(ctl, gib_pread_allocates_nothing, 300)
{
	unsigned char *buf = malloc(MV_MIB);
	struct memvirt_stats st;
	size_t off, i;
	int fd = gib_vm(_metadata, self);

	ASSERT_NE(NULL, buf);
	for (off = 0; off < GIB; off += MV_MIB) {
		ASSERT_EQ((ssize_t)MV_MIB, pread(fd, buf, MV_MIB, off));
		for (i = 0; i < MV_MIB; i += 512)
			if (buf[i])
				break;
		ASSERT_EQ(MV_MIB, i) TH_LOG("non-zero at %zu", off + i);
	}
	mv_stats_get(_metadata, fd, &st);
	EXPECT_EQ(0ULL, st.resident);
	EXPECT_EQ(0ULL, st.zero_maps);
	EXPECT_EQ(GIB / MV_PAGE, st.zero);
	free(buf);
	close(fd);
}

TEST_F_TIMEOUT(ctl, gib_read_mapping_allocates_nothing, 600)
{
	struct memvirt_stats st;
	unsigned char *map;
	unsigned int sum = 0;
	size_t off;
	int fd = gib_vm(_metadata, self);

	map = mmap(NULL, GIB, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	/*
	 * Faulted in as KVM faults guest memory in (GUP, one ->fault per
	 * page), 262144 user-mode traps fewer under TCG; then read.
	 */
	ASSERT_EQ(0, madvise(map, GIB, MADV_POPULATE_READ)) TH_LOG("%s", strerror(errno));
	for (off = 0; off < GIB; off += MV_PAGE)
		sum += MV_READ_ONCE(map[off]);
	EXPECT_EQ(0U, sum);
	mv_stats_get(_metadata, fd, &st);
	EXPECT_EQ(0ULL, st.resident) TH_LOG("reading the whole VM allocated");
	EXPECT_EQ(GIB / MV_PAGE, st.zero_maps);
	EXPECT_EQ(GIB / MV_PAGE, st.faults);
	munmap(map, GIB);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* max_vms */

TEST_F(ctl, max_vms_default_1024)
{
	EXPECT_EQ(1024ULL, read_u64(_metadata, global_attr("max_vms")));
}

TEST_F(ctl, max_vms_store_round_trip)
{
	const char *path = global_attr("max_vms");

	round_trip(_metadata, path, "1048576\n", "1048576");
	round_trip(_metadata, path, "5000", "5000");
	round_trip(_metadata, path, "1\n", "1");
	round_trip(_metadata, path, "1024\n", "1024");
}

TEST_F(ctl, max_vms_rejects_invalid)
{
	static const char *const vals[] = { "0", "0\n", "1048577\n",
					    "4294967296\n" };

	store_all_einval(_metadata, global_attr("max_vms"), vals,
			 ARRAY_SIZE(vals));
	store_all_einval(_metadata, global_attr("max_vms"), bad_numbers,
			 ARRAY_SIZE(bad_numbers));
}

/* Child: a store through an fd root opened must fail with EPERM. */
static int nobody_stores_max_vms(ctl_t *self, void *arg)
{
	ssize_t n = write(*(int *)arg, "7\n", 2);

	(void)self;
	return n >= 0 ? 1 : errno == EPERM ? 0 : 2;
}

TEST_F(ctl, max_vms_store_needs_cap_sys_admin)
{
	int fd = open(global_attr("max_vms"), O_WRONLY);

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, as_nobody(nobody_stores_max_vms, self, &fd))
		TH_LOG("1: the store worked; 2: it failed, but not with EPERM");
	close(fd);
	EXPECT_EQ(1024ULL, read_u64(_metadata, global_attr("max_vms")));
}

TEST_F(ctl, max_vms_reached_enospc_and_logs)
{
	u64 nr = read_u64(_metadata, global_attr("nr_vms"));
	char path[PATH_MAX], dir[PATH_MAX];
	int kfd, fd;

	ASSERT_EQ(0, mv_global_set_u64("max_vms", nr));
	kfd = mv_kmsg_open();
	ASSERT_LE(0, kfd);
	snprintf(path, sizeof(path), "%s/one-too-many", self->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(-1, access(path, F_OK)) TH_LOG("the refused file exists");
	EXPECT_EQ(1, mv_kmsg_count(kfd, "max_vms"));
	EXPECT_EQ(nr, read_u64(_metadata, global_attr("nr_vms")));
	/* Directories are not VMs. */
	snprintf(dir, sizeof(dir), "%s/d", self->dir);
	EXPECT_EQ(0, mkdir(dir, 0755));
	ASSERT_EQ(0, mv_global_set_u64("max_vms", nr + 1));
	fd = mv_create(path, MV_PAGE);
	EXPECT_LE(0, fd);
	EXPECT_EQ(nr + 1, read_u64(_metadata, global_attr("nr_vms")));
	if (fd >= 0)
		close(fd);
	close(kfd);
}

TEST_F(ctl, max_vms_below_nr_vms_affects_only_new_files)
{
	u64 nr = read_u64(_metadata, global_attr("nr_vms"));
	char path[PATH_MAX];
	unsigned char c = 0;

	ASSERT_LE(1ULL, nr);
	ASSERT_EQ(0, mv_global_set("max_vms", "1\n"));
	EXPECT_EQ(1ULL, read_u64(_metadata, global_attr("max_vms")));
	/* The existing VM keeps working: it grows, is written and read. */
	ASSERT_EQ(0, ftruncate(self->fd, 2 * NPAGES * MV_PAGE));
	touch_write(self, 3, 0x33);
	ASSERT_EQ(1, pread(self->fd, &c, 1, 3 * MV_PAGE + 1));
	EXPECT_EQ(0x33, c);
	snprintf(path, sizeof(path), "%s/new", self->dir);
	EXPECT_EQ(-ENOSPC, mv_create(path, 0));
	EXPECT_EQ(nr, read_u64(_metadata, global_attr("nr_vms")));
}

TEST_F(ctl, debugfs_p2m_of_empty_vm_is_header_only)
{
	char path[PATH_MAX], buf[256];
	ssize_t n;
	int fd;

	if (!mv_mounted_at("/sys/kernel/debug", "debugfs"))
		SKIP(return, "debugfs is not mounted");
	snprintf(path, sizeof(path), MV_DEBUGFS "/vms/%llu/p2m",
		 (unsigned long long)self->id);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LE(0, n);
	buf[n] = 0;
	EXPECT_STREQ("# gfn pte state flags\n", buf);
}

/* ------------------------------------------------------------------ */
/* debugfs */

struct p2m_line {
	u64 gfn;
	char state[16];
	bool a, d;
};

/* Parse one P2M line; false if it does not match the documented format. */
static bool parse_p2m(const char *line, struct p2m_line *l)
{
	static const char *const states[] = {
		"absent", "private", "zero", "shared", "ballooned",
		"compressed", "swapped",
	};
	unsigned long long gfn;
	char pte[40], rest[64];
	int n = 0, k = 0;
	unsigned int i;
	bool known = false;
	char *tok, *save;

	if (sscanf(line, "gfn 0x%llx pte 0x%39[0-9a-fA-F] %15s%n", &gfn, pte,
		   l->state, &n) != 3)
		return false;
	if (strlen(pte) != 16)
		return false;
	for (i = 0; i < ARRAY_SIZE(states); i++)
		known |= !strcmp(states[i], l->state);
	if (!known)
		return false;
	l->gfn = gfn;
	l->a = false;
	l->d = false;
	snprintf(rest, sizeof(rest), "%s", line + n);
	for (tok = strtok_r(rest, "\n ", &save); tok;
	     tok = strtok_r(NULL, "\n ", &save)) {
		if (!strcmp(tok, "A") && !l->a && !l->d)
			l->a = true;
		else if (!strcmp(tok, "D") && !l->d)
			l->d = true;
		else
			return false;
		k++;
	}
	return k <= 2;
}

TEST_F(ctl, debugfs_p2m_lists_touched_gfns)
{
	char path[PATH_MAX], line[256];
	struct p2m_line l, got[NPAGES];
	bool seen[NPAGES] = { false };
	int nlines = 0;
	FILE *f;

	if (!mv_mounted_at("/sys/kernel/debug", "debugfs"))
		SKIP(return, "debugfs is not mounted");
	touch_read(self, 1);
	touch_write(self, 3, 1);
	touch_write(self, 6, 1);
	ASSERT_EQ(0, punch(self->fd, 6, 1));
	snprintf(path, sizeof(path), MV_DEBUGFS "/vms/%llu/p2m",
		 (unsigned long long)self->id);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f) TH_LOG("open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!nlines++) {
			EXPECT_EQ('#', line[0]) TH_LOG("no header line: %s",
						       line);
			if (line[0] == '#')
				continue;
		}
		if (line[0] == '#')
			continue;
		if (!parse_p2m(line, &l)) {
			EXPECT_TRUE(false) TH_LOG("bad P2M line: %s", line);
			continue;
		}
		EXPECT_LT(l.gfn, NPAGES) TH_LOG("gfn beyond the file: %s", line);
		if (l.gfn < NPAGES) {
			EXPECT_FALSE(seen[l.gfn]) TH_LOG("gfn listed twice");
			seen[l.gfn] = true;
			got[l.gfn] = l;
		}
	}
	fclose(f);
	ASSERT_TRUE(seen[1]) TH_LOG("read gfn 1 not listed");
	EXPECT_STREQ("zero", got[1].state) TH_LOG("read: the zero frame");
	EXPECT_FALSE(got[1].d);
	ASSERT_TRUE(seen[3]) TH_LOG("written gfn 3 not listed");
	EXPECT_STREQ("private", got[3].state);
	EXPECT_TRUE(got[3].a);
	EXPECT_TRUE(got[3].d);
	ASSERT_TRUE(seen[6]) TH_LOG("punched gfn 6 not listed");
	EXPECT_STREQ("zero", got[6].state);
	if (seen[2])
		EXPECT_STREQ("absent", got[2].state);
	if (seen[0])
		EXPECT_STREQ("absent", got[0].state);
}

/* ------------------------------------------------------------------ */
/* Tracepoints */

static const char *tracefs(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/events", &st))
		return "/sys/kernel/tracing";
	if (!stat("/sys/kernel/debug/tracing/events", &st))
		return "/sys/kernel/debug/tracing";
	return NULL;
}

static int trace_write(const char *rel, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tracefs(), rel);
	return mv_write_str(path, val);
}

static void trace_stop(ctl_t *self)
{
	char rel[128];

	if (!self->trace_event[0])
		return;
	snprintf(rel, sizeof(rel), "events/memvirt/%s/enable",
		 self->trace_event);
	trace_write(rel, "0\n");
	snprintf(rel, sizeof(rel), "events/memvirt/%s/filter",
		 self->trace_event);
	trace_write(rel, "0\n");
	self->trace_event[0] = 0;
}

/* Enable memvirt:@event with @filter on an empty buffer. */
static void trace_start(struct __test_metadata *_metadata,
			ctl_t *self, const char *event,
			const char *filter)
{
	char rel[128], path[PATH_MAX];
	int fd, ret;

	if (!tracefs())
		SKIP(return, "tracefs is not mounted");
	snprintf(rel, sizeof(rel), "events/memvirt/%s/enable", event);
	snprintf(path, sizeof(path), "%s/%s", tracefs(), rel);
	ASSERT_EQ(0, access(path, F_OK)) TH_LOG("no %s", path);
	snprintf(self->trace_event, sizeof(self->trace_event), "%s", event);
	snprintf(rel, sizeof(rel), "events/memvirt/%s/filter", event);
	ret = trace_write(rel, filter);
	ASSERT_EQ(0, ret) TH_LOG("filter '%s' on memvirt:%s: %s", filter,
				 event, strerror(-ret));
	ASSERT_EQ(0, trace_write("tracing_on", "1\n"));
	snprintf(path, sizeof(path), "%s/trace", tracefs());
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	close(fd);
	snprintf(rel, sizeof(rel), "events/memvirt/%s/enable", event);
	ASSERT_EQ(0, trace_write(rel, "1\n"));
}

/* Disable the event and count the events left in the buffer. */
static int trace_finish(struct __test_metadata *_metadata,
			ctl_t *self)
{
	char path[PATH_MAX], line[512];
	int n = 0;
	FILE *f;

	trace_stop(self);
	snprintf(path, sizeof(path), "%s/trace", tracefs());
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		TH_LOG("event: %s", line);
		n++;
	}
	fclose(f);
	return n;
}

TEST_F(ctl, trace_fault_event_has_documented_fields)
{
	static const char *const fields[] = {
		" vm_id;", " gfn;", " write;", " state;", " ret;", " ns;",
	};
	char path[PATH_MAX], buf[4096];
	unsigned int i;

	if (!tracefs())
		SKIP(return, "tracefs is not mounted");
	snprintf(path, sizeof(path), "%s/events/memvirt/fault/format",
		 tracefs());
	ASSERT_EQ(0, mv_read_str(path, buf, sizeof(buf))) TH_LOG("%s", path);
	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *field = fields[i];

		EXPECT_NE(NULL, strstr(buf, field))
			TH_LOG("memvirt:fault has no field%s", field);
	}
	snprintf(path, sizeof(path), "%s/events/memvirt/discard/format",
		 tracefs());
	ASSERT_EQ(0, mv_read_str(path, buf, sizeof(buf))) TH_LOG("%s", path);
	EXPECT_NE(NULL, strstr(buf, " vm_id;"));
	EXPECT_NE(NULL, strstr(buf, " start_gfn;"));
	EXPECT_NE(NULL, strstr(buf, " nr_gfns;"));
	EXPECT_NE(NULL, strstr(buf, " freed;"));
}

TEST_F(ctl, trace_fault_on_first_read)
{
	char filter[128];

	snprintf(filter, sizeof(filter),
		 "vm_id == %llu && gfn == 2 && write == 0 && state == %d\n",
		 (unsigned long long)self->id, MEMVIRT_GFN_ABSENT);
	trace_start(_metadata, self, "fault", filter);
	if (_metadata->skip)
		return;
	touch_read(self, 2);
	EXPECT_EQ(1, trace_finish(_metadata, self));
}

TEST_F(ctl, trace_fault_on_write_fault_and_mkwrite)
{
	char filter[128];

	ASSERT_EQ(1, pwrite(self->fd, "x", 1, 3 * MV_PAGE));
	touch_read(self, 3);
	snprintf(filter, sizeof(filter),
		 "vm_id == %llu && gfn == 3 && write == 1\n",
		 (unsigned long long)self->id);
	trace_start(_metadata, self, "fault", filter);
	if (_metadata->skip)
		return;
	touch_write(self, 3, 1);	/* ->page_mkwrite only */
	EXPECT_EQ(1, trace_finish(_metadata, self));

	snprintf(filter, sizeof(filter),
		 "vm_id == %llu && gfn == 5 && write == 1\n",
		 (unsigned long long)self->id);
	trace_start(_metadata, self, "fault", filter);
	touch_write(self, 5, 1);	/* ->fault, then ->page_mkwrite */
	EXPECT_EQ(2, trace_finish(_metadata, self));
}

TEST_F(ctl, trace_fault_not_emitted_for_other_gfns)
{
	char filter[128];

	snprintf(filter, sizeof(filter), "vm_id == %llu && gfn == 7\n",
		 (unsigned long long)self->id);
	trace_start(_metadata, self, "fault", filter);
	if (_metadata->skip)
		return;
	touch_read(self, 6);
	touch_write(self, 8, 1);
	EXPECT_EQ(0, trace_finish(_metadata, self));
}

TEST_F(ctl, trace_discard_on_punch)
{
	char filter[160];

	touch_write(self, 8, 1);
	touch_write(self, 9, 1);
	snprintf(filter, sizeof(filter),
		 "vm_id == %llu && start_gfn == 8 && nr_gfns == 4 && freed == 2\n",
		 (unsigned long long)self->id);
	trace_start(_metadata, self, "discard", filter);
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, punch(self->fd, 8, 4));
	EXPECT_EQ(1, trace_finish(_metadata, self));
}

TEST_F(ctl, trace_discard_on_truncate)
{
	char filter[160];

	touch_write(self, 60, 1);
	touch_write(self, 62, 1);
	snprintf(filter, sizeof(filter),
		 "vm_id == %llu && start_gfn == 48 && nr_gfns == 16 && freed == 2\n",
		 (unsigned long long)self->id);
	trace_start(_metadata, self, "discard", filter);
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, ftruncate(self->fd, 48 * MV_PAGE));
	EXPECT_EQ(1, trace_finish(_metadata, self));
}

MV_HARNESS_MAIN(mv_need_memvirtfs)
