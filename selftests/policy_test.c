// SPDX-License-Identifier: GPL-2.0
/*
 * policy_test: the ESX allocation policy (issue 10) seen from host
 * processes that map memvirtfs files and touch their pages, against
 * /work/spec/policy-interface.md. No KVM: kvm_policy_test has the guests.
 *
 * Every test mounts its own memvirtfs with swapdir= on a fresh directory
 * of the swap disk (swap_contract.h), saves every policy knob, budget_mb
 * and overcommit_ratio and restores them at the end (policy_contract.h),
 * and starts with no other VM, so that free memory is exactly the budget
 * minus the pages its own VMs hold. Most tests use a budget of 100 MiB
 * (25600 pages): 1% is exactly 256 pages, so every threshold and avail
 * (the budget less 7%) is an exact page count, and the states and targets
 * below are exact numbers.
 *
 *   knobs	every knob's default, range and -EINVAL, the ordering rule of
 *		the free_*_pct, read-only counters, -EPERM through a root fd
 *		for a process without CAP_SYS_ADMIN; overcommit_ratio 150;
 *   targets	recomputed at once (period_ms 60000) on create, resize,
 *		SET_POLICY and knob changes; exact values for one VM, the
 *		shares ratio for two;
 *   balloon	MEMVIRT_IOC_BALLOON arguments, no-wait, WAIT with a timeout,
 *		WAIT woken by a change, -EINTR; balloon targets when the
 *		budget is cut below what a VM holds (SOFT): exact target,
 *		poll() on vms/<id>/balloon_target, punches while pending make
 *		BALLOONED gfns, writes to them deflate; a VM that ignores its
 *		balloon target is reclaimed after balloon_timeout_ms;
 *   states	high -> soft -> hard -> low and back with hysteresis as a VM
 *		whose reservation is its size grows and shrinks (nothing is
 *		reclaimed, so free memory is exactly what the test makes it);
 *		time in each state, transitions, the memvirt:state tracepoint;
 *		a jump straight down, one state per tick back up;
 *   limit	a VM writing far beyond its limit never holds more (at every
 *		check);
 *   reservation a VM's reservation is never reclaimed under pressure;
 *   low	in the LOW state a VM above its target reclaims its own pages
 *		in its faults (low_waits), a VM below its reservation never
 *		waits;
 *   sampler	an idle VM's estimate falls to 0, a busy one's stays at 100,
 *		a new VM starts at 100, sample_size 0 freezes the estimates,
 *		the sampling counters add up.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/statvfs.h>

#include "kselftest_harness.h"
#include "contract.h"
#include "swap_contract.h"
#include "policy_contract.h"

#define BUDGET_MB	100ULL
#define BUDGET_PAGES	(BUDGET_MB * 256)
#define PCT(p)		(BUDGET_PAGES * (p) / 100)	/* exact for 100 MiB */
/*
 * avail: the budget less a headroom of free_high_pct plus half the gap to
 * free_soft_pct (7% by default, Documentation/design.rst "avail"; the
 * spec's first version said free_high_pct alone), less shared frames.
 * Tests other than targets_recomputed_at_once_on_every_event read it from
 * policy/avail_pages, so only that one depends on the rule.
 */
#define DOC_AVAIL(budget_pages) \
	((budget_pages) - (budget_pages) * (3 * 6 - 4) / 200)
#define NVMS		4
#define SETTLE_MS	5000	/* longest a state change may take */
#define HOLD_MS		300	/* a state must hold that long */

/*
 * Write gfns [@from, @to) of @v through the mapping: random bytes (@rnd:
 * nothing compresses them) or text that compresses well; never zero.
 */
static void vmf_write(struct vmf *v, u64 from, u64 to, bool rnd, u32 salt)
{
	u64 g, i, x;

	for (g = from; g < to; g++) {
		u64 *p = (u64 *)(v->map + g * MV_PAGE);

		x = ((g + 1) * 0x9e3779b97f4a7c15ULL) ^ (salt * 0xbf58476d1ce4e5b9ULL);
		x |= 1;
		for (i = 0; i < MV_PAGE / 8; i++)
			p[i] = rnd ? xorshift(&x) :
			       0x6d656d7669727400ULL + (g << 8) + (i % 4);
	}
}

static int vmf_punch(struct vmf *v, u64 gfn, u64 nr)
{
	if (fallocate(v->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      gfn * MV_PAGE, nr * MV_PAGE))
		return -errno;
	return 0;
}

static void vm_stats(struct __test_metadata *_metadata, struct vmf *v,
		     struct memvirt_stats *st)
{
	mv_stats_get(_metadata, v->fd, st);
}

/* Gfns [@gfn, +@nr) all in state @want (QUERY_RANGE); logs the first miss. */
static void expect_states(struct __test_metadata *_metadata, struct vmf *v,
			  u64 gfn, u64 nr, unsigned char want)
{
	unsigned char *st = malloc(nr);
	u64 i, bad = 0;

	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, mv_query(v->fd, gfn, nr, st));
	for (i = 0; i < nr; i++)
		if ((st[i] & MEMVIRT_GFN_STATE_MASK) != want && !bad++)
			TH_LOG("vm %llu gfn %llu: state 0x%x, want %u",
			       (unsigned long long)v->id,
			       (unsigned long long)(gfn + i), st[i], want);
	free(st);
	EXPECT_EQ(0ULL, bad) TH_LOG("%llu of %llu gfns from %llu not in state %u",
				    (unsigned long long)bad,
				    (unsigned long long)nr,
				    (unsigned long long)gfn, want);
}

/* ------------------------------------------------------------------ */
/* The fixture */

FIXTURE(pol) {
	struct sw_mount m;
	struct vmf v[NVMS];
	struct pl_knobs k;
	bool knobs_saved;
	struct sw_knobs swk;
};

typedef FIXTURE_DATA(pol) pol_t;

static void pol_fini(struct __test_metadata *_metadata, pol_t *self)
{
	unsigned int i;
	int ret;

	for (i = 0; i < NVMS; i++)
		vmf_close(&self->v[i]);
	ret = sw_mount_close(&self->m);
	EXPECT_EQ(0, ret) TH_LOG("umount: %s", strerror(-ret));
	if (self->knobs_saved) {
		ret = pl_knobs_restore(&self->k);
		EXPECT_EQ(0, ret) TH_LOG("restoring the policy knobs, budget_mb, overcommit_ratio");
		EXPECT_EQ(0, sw_knobs_restore(&self->swk));
		self->knobs_saved = false;
	}
}

/* Every fixture's setup: the skips, the knobs saved, the mount. */
static void pol_init(struct __test_metadata *_metadata, pol_t *self)
{
	const char *skip = sw_disk_missing();
	char why[PATH_MAX + 128] = "";
	unsigned int i;
	u64 nr = 0;
	int ret;

	for (i = 0; i < NVMS; i++)
		self->v[i].fd = -1;
	if (skip)
		MV_SETUP_SKIP("%s", skip);
	if (!mv_fs_registered(MV_FSTYPE))
		MV_SETUP_SKIP("memvirtfs is not registered (memvirt.ko not loaded)");
	pl_knobs_save(&self->k);
	sw_knobs_save(&self->swk);
	self->knobs_saved = true;
	/* the previous test's VMs may take a moment to go */
	for (i = 0; i < 100; i++) {
		ret = mv_global_u64("nr_vms", &nr);
		if (ret || !nr)
			break;
		pl_sleep_ms(20);
	}
	if (ret)
		snprintf(why, sizeof(why), "%s/nr_vms: %s", MV_SYSFS, strerror(-ret));
	else if (nr)
		snprintf(why, sizeof(why), "%llu VMs exist before the test",
			 (unsigned long long)nr);
	else
		ret = sw_mount_open(&self->m, true, why, sizeof(why));
	if (ret || nr)
		pol_fini(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	ASSERT_EQ(0ULL, nr) TH_LOG("%s", why);
	/* what the tests' VM sizes assume */
	PL_SET_GLOBAL("overcommit_ratio", 150);
}

FIXTURE_SETUP(pol)
{
	pol_init(_metadata, self);
}

FIXTURE_TEARDOWN(pol)
{
	pol_fini(_metadata, self);
}

/* VM @i of the fixture: @npages pages, mapped. */
static struct vmf *new_vm(struct __test_metadata *_metadata, pol_t *self,
			  unsigned int i, u64 npages)
{
	char why[PATH_MAX + 128] = "", name[16];
	int ret;

	snprintf(name, sizeof(name), "vm%u", i);
	ret = vmf_open(&self->v[i], self->m.mnt, name, npages, why, sizeof(why));
	if (ret)
		vmf_close(&self->v[i]);
	EXPECT_EQ(0, ret) TH_LOG("%s", why);
	return ret ? NULL : &self->v[i];
}

#define NEW_VM(i, npages) ({						\
	struct vmf *__v = new_vm(_metadata, self, i, npages);		\
									\
	ASSERT_NE(NULL, __v);						\
	__v;								\
})

#define SET_POLICY(v, flags, shares, res_pages, lim_pages) do {		\
	int __ret = mv_set_policy((v)->fd, flags, shares,		\
				  (u64)(res_pages) * MV_PAGE,		\
				  (lim_pages) == MEMVIRT_LIMIT_NONE ?	\
				  MEMVIRT_LIMIT_NONE :			\
				  (u64)(lim_pages) * MV_PAGE);		\
									\
	ASSERT_EQ(0, __ret) TH_LOG("SET_POLICY vm %llu: %s",		\
				   (unsigned long long)(v)->id,		\
				   strerror(-__ret));			\
} while (0)

/*
 * The fixture's deterministic policy: a tick every 10 ms, no sampling
 * (the estimates stay at a new VM's 100%), balloon targets never time out.
 */
static void quiet_policy(struct __test_metadata *_metadata)
{
	PL_SET(PL_SAMPLE_SIZE, 0);
	PL_SET(PL_BALLOON_TIMEOUT_MS, 3600000);
	PL_SET(PL_PERIOD_MS, 10);
}

/* Wait up to @ms for vms/<id>/@attr to read @want; returns the last value. */
static u64 wait_vm_attr(struct __test_metadata *_metadata, u64 id,
			const char *attr, u64 want, u64 ms)
{
	u64 end = pl_now_ms() + ms, v;

	for (;;) {
		v = pl_vm(_metadata, id, attr);
		if (v == want || pl_now_ms() > end)
			return v;
		pl_sleep_ms(5);
	}
}

#define EXPECT_STATE(want) do {						\
	int __s = pl_wait_state(want, SETTLE_MS, HOLD_MS);		\
									\
	EXPECT_EQ(want, __s) TH_LOG("state %s, want %s; free_pages %llu", \
				    pl_state_name(__s), pl_state_name(want), \
				    (unsigned long long)pl_u64(_metadata, "free_pages")); \
} while (0)

/* ------------------------------------------------------------------ */
/* Knobs */

/* Child: stores through root's fds must fail with EPERM. */
static int nobody_stores(const int *fds)
{
	unsigned int i;

	if (mv_become_nobody())
		return 100;
	for (i = 0; i < PL_NR_KNOBS; i++) {
		char val[32];

		snprintf(val, sizeof(val), "%llu\n",
			 (unsigned long long)pl_knobs_def[i].dflt);
		if (write(fds[i], val, strlen(val)) >= 0 || errno != EPERM)
			return 1 + i;
	}
	return 0;
}

TEST_F(pol, knobs_defaults_ranges_and_privileges)
{
	static const char *const junk[] = { "abc", "-1", "1.5", "", "12abc",
					    "99999999999999999999999" };
	char path[PATH_MAX], val[64];
	int fds[PL_NR_KNOBS], ret, status;
	u64 ms[PL_NR_STATES];
	unsigned int i, j;
	struct stat sb;
	struct vmf *v;
	u64 x;
	pid_t pid;

	for (i = 0; i < PL_NR_KNOBS; i++) {
		pl_knob_path(path, sizeof(path), i);
		ASSERT_EQ(0, stat(path, &sb)) TH_LOG("%s: %s", path, strerror(errno));
		EXPECT_EQ(0644U, sb.st_mode & 07777) TH_LOG("%s", path);
		EXPECT_TRUE(self->k.saved[i]) TH_LOG("%s unreadable", path);
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)pl_knobs_def[i].dflt);
		EXPECT_STREQ(val, self->k.val[i]) TH_LOG("default of %s", path);
		for (j = 0; j < ARRAY_SIZE(junk); j++) {
			snprintf(val, sizeof(val), "%s\n", junk[j]);
			EXPECT_EQ(-EINVAL, mv_write_str(path, val))
				TH_LOG("%s = '%s'", path, junk[j]);
		}
		if (i >= PL_FREE_HIGH && i <= PL_FREE_LOW)
			continue;
		/* both ends of the range work, one past each is refused */
		PL_SET(i, pl_knobs_def[i].min);
		ASSERT_EQ(0, pl_knob_get(i, &x));
		EXPECT_EQ(pl_knobs_def[i].min, x) TH_LOG("%s", path);
		PL_SET(i, pl_knobs_def[i].max);
		ASSERT_EQ(0, pl_knob_get(i, &x));
		EXPECT_EQ(pl_knobs_def[i].max, x) TH_LOG("%s", path);
		if (pl_knobs_def[i].min)
			EXPECT_EQ(-EINVAL, pl_knob_set(i, pl_knobs_def[i].min - 1))
				TH_LOG("%s = min - 1", path);
		EXPECT_EQ(-EINVAL, pl_knob_set(i, pl_knobs_def[i].max + 1))
			TH_LOG("%s = max + 1", path);
		ASSERT_EQ(0, pl_knob_get(i, &x));
		EXPECT_EQ(pl_knobs_def[i].max, x) TH_LOG("%s changed by a refused store", path);
		PL_SET(i, pl_knobs_def[i].dflt);
	}
	/* idle_tax 100 is refused (k = 1 / (1 - tax) would divide by zero) */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_IDLE_TAX, 100));

	/* free_*_pct: high > soft > hard > low >= 0, high <= 50 */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_SOFT, 6));	/* == high */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_SOFT, 7));	/* > high */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_SOFT, 2));	/* == hard */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_HARD, 4));	/* == soft */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_HARD, 1));	/* == low */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_LOW, 2));	/* == hard */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_HIGH, 4));	/* == soft */
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_HIGH, 51));
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_HIGH, 3));
	PL_SET(PL_FREE_HIGH, 50);
	PL_SET(PL_FREE_SOFT, 49);
	PL_SET(PL_FREE_SOFT, 5);
	PL_SET(PL_FREE_LOW, 0);
	PL_SET(PL_FREE_HARD, 1);
	EXPECT_EQ(-EINVAL, pl_knob_set(PL_FREE_LOW, 1));	/* == hard */
	PL_SET(PL_FREE_HARD, 3);
	PL_SET(PL_FREE_LOW, 2);
	for (i = PL_FREE_HIGH; i <= PL_FREE_LOW; i++) {
		static const u64 want[] = { 50, 5, 3, 2 };

		ASSERT_EQ(0, pl_knob_get(i, &x));
		EXPECT_EQ(want[i - PL_FREE_HIGH], x) TH_LOG("%s", pl_knobs_def[i].name);
	}
	ASSERT_EQ(0, pl_free_set((const u64[]){ 6, 4, 2, 1 }));

	/* read-only counters: 0444, a write refused, values parse */
	for (i = 0; i < ARRAY_SIZE(pl_ro_names); i++) {
		snprintf(path, sizeof(path), PL_DIR "/%s", pl_ro_names[i]);
		ret = stat(path, &sb);
		EXPECT_EQ(0, ret) TH_LOG("%s: %s", path, strerror(errno));
		if (ret)
			continue;
		EXPECT_EQ(0444U, sb.st_mode & 07777) TH_LOG("%s", path);
		EXPECT_EQ(-EACCES, mv_write_str(path, "1\n")) TH_LOG("%s", path);
		if (!strcmp(pl_ro_names[i], "state") ||
		    !strcmp(pl_ro_names[i], "state_ms"))
			continue;
		EXPECT_EQ(0, mv_read_u64(path, &x)) TH_LOG("%s is not a number", path);
	}
	EXPECT_NE(PL_BAD, pl_state());
	EXPECT_EQ(0, pl_state_ms(ms));

	/* the per-VM files */
	v = NEW_VM(0, 64);
	for (i = 0; i < ARRAY_SIZE(pl_vm_names); i++) {
		mv_vm_path(path, sizeof(path), v->id, pl_vm_names[i]);
		ret = stat(path, &sb);
		EXPECT_EQ(0, ret) TH_LOG("%s: %s", path, strerror(errno));
		if (ret)
			continue;
		EXPECT_EQ(0444U, sb.st_mode & 07777) TH_LOG("%s", path);
		EXPECT_EQ(0, mv_read_u64(path, &x)) TH_LOG("%s is not a number", path);
	}

	/* without CAP_SYS_ADMIN, a store through root's fd: EPERM */
	for (i = 0; i < PL_NR_KNOBS; i++) {
		pl_knob_path(path, sizeof(path), i);
		fds[i] = open(path, O_WRONLY);
		ASSERT_LE(0, fds[i]) TH_LOG("open %s: %s", path, strerror(errno));
	}
	/* every knob away from its default, so that a store would show */
	PL_SET(PL_IDLE_TAX, 10);
	PL_SET(PL_PERIOD_MS, 20);
	PL_SET(PL_SAMPLE_PERIOD_MS, 200);
	PL_SET(PL_SAMPLE_SIZE, 7);
	ASSERT_EQ(0, pl_free_set((const u64[]){ 9, 7, 5, 3 }));
	PL_SET(PL_BALLOON_TIMEOUT_MS, 5);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(nobody_stores(fds));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("knob %d (1-based, pl_knobs_def order) stored without CAP_SYS_ADMIN; 100: setuid",
		       WEXITSTATUS(status));
	for (i = 0; i < PL_NR_KNOBS; i++)
		close(fds[i]);
	{
		static const u64 want[PL_NR_KNOBS] = { 10, 20, 200, 7, 9, 7, 5, 3, 5 };

		for (i = 0; i < PL_NR_KNOBS; i++) {
			ASSERT_EQ(0, pl_knob_get(i, &x));
			EXPECT_EQ(want[i], x) TH_LOG("%s changed by nobody",
						     pl_knobs_def[i].name);
		}
	}
}

TEST_F(pol, overcommit_ratio_default_150)
{
	EXPECT_TRUE(self->k.g.saved);
	EXPECT_STREQ("150", self->k.g.overcommit_ratio);
}

/* ------------------------------------------------------------------ */
/* Targets */

/*
 * With period_ms 60000 no tick comes during the test: every change below
 * must recompute the targets at once. One VM, budget 200 MiB: avail is
 * far above it, so its target is its max = min(limit, size, demand),
 * demand = min(size, charge + max(size / 16, 4096)).
 */
TEST_F(pol, targets_recomputed_at_once_on_every_event)
{
	struct vmf *a, *b;
	u64 ta, tb, avail;
	int i;

	PL_SET_GLOBAL("budget_mb", 2 * BUDGET_MB);
	PL_SET(PL_SAMPLE_SIZE, 0);
	PL_SET(PL_PERIOD_MS, 60000);
	pl_sleep_ms(100);
	a = NEW_VM(0, 8192);
	/* create: demand = min(8192, 0 + 4096) */
	EXPECT_EQ(4096ULL, wait_vm_attr(_metadata, a->id, "target", 4096, 1000));
	EXPECT_EQ(4096ULL, pl_vm(_metadata, a->id, "demand"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, a->id, "charge"));
	EXPECT_EQ(100ULL, pl_vm(_metadata, a->id, "active_estimate"));
	/* SET_POLICY limit: 1000 pages */
	SET_POLICY(a, MEMVIRT_POLICY_LIMIT, 0, 0, 1000);
	EXPECT_EQ(1000ULL, wait_vm_attr(_metadata, a->id, "target", 1000, 1000));
	/* sysfs limit_mb: 2 MiB */
	ASSERT_EQ(0, mv_vm_set(a->id, "limit_mb", "2\n"));
	EXPECT_EQ(512ULL, wait_vm_attr(_metadata, a->id, "target", 512, 1000));
	SET_POLICY(a, MEMVIRT_POLICY_LIMIT, 0, 0, MEMVIRT_LIMIT_NONE);
	EXPECT_EQ(4096ULL, wait_vm_attr(_metadata, a->id, "target", 4096, 1000));
	/*
	 * resize: size 2048 is below the demand; back to 8192. A few times:
	 * the recomputation must see the new size however fast it runs.
	 */
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, ftruncate(a->fd, 2048 * MV_PAGE));
		EXPECT_EQ(2048ULL, wait_vm_attr(_metadata, a->id, "target", 2048, 1000))
			TH_LOG("shrink %d", i);
		ASSERT_EQ(0, ftruncate(a->fd, 8192 * MV_PAGE));
		EXPECT_EQ(4096ULL, wait_vm_attr(_metadata, a->id, "target", 4096, 1000))
			TH_LOG("grow %d", i);
	}
	/* the charge counts: 1000 pages written, demand 1000 + 4096 */
	vmf_write(a, 0, 1000, false, 1);
	EXPECT_EQ(1000ULL, pl_vm(_metadata, a->id, "charge"));
	/* a knob change recomputes: the charge shows in demand and target */
	PL_SET(PL_IDLE_TAX, 50);
	EXPECT_EQ(5096ULL, wait_vm_attr(_metadata, a->id, "target", 5096, 1000));
	EXPECT_EQ(5096ULL, pl_vm(_metadata, a->id, "demand"));
	vmf_close(a);

	/*
	 * Two VMs of 4096 pages, shares 2000 : 1000, both active (new, no
	 * sampling): budget 25 MiB, avail 6400 - 7% = 5952 < 8192 wanted,
	 * so targets 2 : 1 adding up to avail (rounding down only).
	 */
	PL_SET_GLOBAL("budget_mb", 25);
	a = NEW_VM(0, 4096);
	b = NEW_VM(1, 4096);
	SET_POLICY(a, MEMVIRT_POLICY_SHARES, 2000, 0, 0);
	SET_POLICY(b, MEMVIRT_POLICY_SHARES, 1000, 0, 0);
	pl_sleep_ms(200);
	avail = pl_u64(_metadata, "avail_pages");
	EXPECT_EQ(DOC_AVAIL(6400ULL), avail) TH_LOG("avail_pages of a 25 MiB budget");
	ta = pl_vm(_metadata, a->id, "target");
	tb = pl_vm(_metadata, b->id, "target");
	TH_LOG("shares 2000:1000, avail %llu: targets %llu, %llu", avail, ta, tb);
	EXPECT_GE(avail, ta + tb);
	EXPECT_LE(avail - 2, ta + tb);
	EXPECT_GE(1ULL, ta > 2 * tb ? ta - 2 * tb : 2 * tb - ta);
	/* equal shares through sysfs: half of avail each */
	ASSERT_EQ(0, mv_vm_set(a->id, "shares", "1000\n"));
	EXPECT_EQ(avail / 2, wait_vm_attr(_metadata, a->id, "target", avail / 2, 1000));
	EXPECT_EQ(avail / 2, pl_vm(_metadata, b->id, "target"));
	/* a reservation binds: 4000 for a, the rest for b */
	SET_POLICY(a, MEMVIRT_POLICY_RESERVATION, 0, 4000, 0);
	EXPECT_EQ(4000ULL, wait_vm_attr(_metadata, a->id, "target", 4000, 1000));
	EXPECT_EQ(avail - 4000, pl_vm(_metadata, b->id, "target"));
	/* budget_mb 50: avail 12800 - 768 holds both maxima: targets = max */
	PL_SET_GLOBAL("budget_mb", 50);
	EXPECT_EQ(4096ULL, wait_vm_attr(_metadata, b->id, "target", 4096, 1000));
	EXPECT_EQ(4096ULL, pl_vm(_metadata, a->id, "target"));
	EXPECT_EQ(DOC_AVAIL(12800ULL), pl_u64(_metadata, "avail_pages"));
}

/* ------------------------------------------------------------------ */
/* MEMVIRT_IOC_BALLOON */

/* Child: BALLOON needs no capability. */
static int nobody_balloons(int fd)
{
	struct memvirt_balloon b;

	if (mv_become_nobody())
		return 100;
	if (pl_balloon(fd, 0, 0, 0, &b))
		return 1;
	if (pl_balloon(fd, MEMVIRT_BALLOON_WAIT, 12345, 100, &b))
		return 2;
	return 0;
}

TEST_F(pol, balloon_ioctl_arguments)
{
	unsigned char big[128];
	struct memvirt_balloon b;
	struct vmf *v = NEW_VM(0, 1024);
	int status;
	u64 t0, i;
	pid_t pid;

	/* no wait: at once, the outputs filled */
	t0 = pl_now_ms();
	ASSERT_EQ(0, pl_balloon(v->fd, 0, 0, 0, &b));
	EXPECT_GT(100ULL, pl_now_ms() - t0);
	EXPECT_EQ((u32)MEMVIRT_BALLOON_SIZE_VER0, b.size);
	EXPECT_EQ(0ULL, b.target_pages);
	EXPECT_EQ(0ULL, b.ballooned);
	EXPECT_EQ(1024 * MV_PAGE, b.size_bytes);
	/* WAIT with known != target: at once */
	t0 = pl_now_ms();
	ASSERT_EQ(0, pl_balloon(v->fd, MEMVIRT_BALLOON_WAIT, 7, 0, &b));
	EXPECT_GT(100ULL, pl_now_ms() - t0);
	EXPECT_EQ(0ULL, b.target_pages);
	/* the longest timeout is accepted */
	ASSERT_EQ(0, pl_balloon(v->fd, MEMVIRT_BALLOON_WAIT, 7,
				MEMVIRT_BALLOON_TIMEOUT_MAX, &b));

	/* bad sizes, flags, reserved fields, timeout */
	for (i = 0; i < 2; i++) {
		memset(&b, 0, sizeof(b));
		b.size = i ? MEMVIRT_BALLOON_SIZE_VER0 - 8 : 0;
		EXPECT_EQ(-EINVAL, mv_ioctl(v->fd, MEMVIRT_IOC_BALLOON, &b))
			TH_LOG("size %u", b.size);
	}
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.flags = 2;
	EXPECT_EQ(-EINVAL, mv_ioctl(v->fd, MEMVIRT_IOC_BALLOON, &b));
	b.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, mv_ioctl(v->fd, MEMVIRT_IOC_BALLOON, &b));
	for (i = 0; i < 3; i++) {
		memset(&b, 0, sizeof(b));
		b.size = sizeof(b);
		b.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, mv_ioctl(v->fd, MEMVIRT_IOC_BALLOON, &b))
			TH_LOG("reserved[%llu]", (unsigned long long)i);
	}
	EXPECT_EQ(-EINVAL, pl_balloon(v->fd, MEMVIRT_BALLOON_WAIT, 7,
				      MEMVIRT_BALLOON_TIMEOUT_MAX + 1, &b));
	/* a bigger struct with zeroes past ours: accepted, size says ours */
	memset(big, 0, sizeof(big));
	((struct memvirt_balloon *)big)->size = sizeof(big);
	ASSERT_EQ(0, mv_ioctl(v->fd, MEMVIRT_IOC_BALLOON, big));
	EXPECT_EQ((u32)MEMVIRT_BALLOON_SIZE_VER0, ((struct memvirt_balloon *)big)->size);
	big[sizeof(b) + 4] = 1;
	((struct memvirt_balloon *)big)->size = sizeof(big);
	EXPECT_EQ(-E2BIG, mv_ioctl(v->fd, MEMVIRT_IOC_BALLOON, big));

	/* no capability needed */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(nobody_balloons(v->fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("1: no wait, 2: WAIT; 100: setuid");
}

struct waiter {
	pthread_t thread;
	int fd;
	u64 known, timeout_ms;
	struct memvirt_balloon b;
	int ret;
	u64 ms;		/* how long the ioctl took */
	int started;
};

static void *waiter_run(void *arg)
{
	struct waiter *w = arg;
	u64 t0;

	memset(&w->b, 0, sizeof(w->b));
	w->b.size = sizeof(w->b);
	w->b.flags = MEMVIRT_BALLOON_WAIT;
	w->b.known_pages = w->known;
	w->b.timeout_ms = w->timeout_ms;
	w->b.target_pages = 0xdeadbeef;	/* must stay on -EINTR */
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	t0 = pl_now_ms();
	w->ret = mv_ioctl(w->fd, MEMVIRT_IOC_BALLOON, &w->b);
	w->ms = pl_now_ms() - t0;
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

TEST_F(pol, balloon_wait_timeout_and_signal)
{
	struct vmf *v = NEW_VM(0, 1024);
	struct waiter w = { .fd = v->fd };
	struct sigaction sa;

	quiet_policy(_metadata);
	/* the target stays 0: WAIT returns after its timeout, target 0 */
	w.known = 0;
	w.timeout_ms = 500;
	waiter_run(&w);
	EXPECT_EQ(0, w.ret) TH_LOG("%s", strerror(-w.ret));
	EXPECT_LE(490ULL, w.ms);
	EXPECT_GT(2500ULL, w.ms);
	EXPECT_EQ(0ULL, w.b.target_pages);
	EXPECT_EQ(1024 * MV_PAGE, w.b.size_bytes);

	/* a signal ends a wait without a timeout: -EINTR, outputs untouched */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	w.timeout_ms = 0;
	w.started = 0;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, waiter_run, &w));
	while (!__atomic_load_n(&w.started, __ATOMIC_ACQUIRE))
		pl_sleep_ms(1);
	pl_sleep_ms(300);
	ASSERT_EQ(0, pthread_kill(w.thread, SIGUSR1));
	pthread_join(w.thread, NULL);
	signal(SIGUSR1, SIG_DFL);
	EXPECT_EQ(-EINTR, w.ret) TH_LOG("%s", strerror(-w.ret));
	EXPECT_LE(290ULL, w.ms);
	EXPECT_GT(3000ULL, w.ms) TH_LOG("the signal did not end the wait");
	EXPECT_EQ(0xdeadbeefULL, w.b.target_pages);
}

/* ------------------------------------------------------------------ */
/* Balloon targets */

/*
 * Budget 200 MiB; one VM of 25600 pages writes 24832 of them (97% of 100
 * MiB). Cutting the budget to 100 MiB leaves 768 pages free (3%: SOFT).
 * avail = 24064 and the VM's demand is its size, so its target is 24064
 * and its balloon target 24832 - 24064 = 768.
 */
#define BT_WRITE	24832ULL
#define BT_SIZE		BUDGET_PAGES

TEST_F(pol, balloon_target_when_budget_cut)
{
	u64 bt, want, g0_balloon, held, ballooned, deflated, t0, avail;
	struct vmf *v = NEW_VM(0, BT_SIZE);
	struct waiter w = { .fd = v->fd };
	struct memvirt_balloon b;
	struct memvirt_stats st0, st;
	struct pollfd pfd;
	char path[PATH_MAX], buf[32];
	int fd, ret;
	ssize_t n;

	quiet_policy(_metadata);
	PL_SET_GLOBAL("budget_mb", 2 * BUDGET_MB);
	vmf_write(v, 0, BT_WRITE, true, 3);
	EXPECT_STATE(PL_HIGH);
	EXPECT_EQ(BT_SIZE, wait_vm_attr(_metadata, v->id, "target", BT_SIZE, 1000));
	EXPECT_EQ(BT_SIZE, pl_vm(_metadata, v->id, "demand"));
	EXPECT_EQ(BT_WRITE, pl_vm(_metadata, v->id, "charge"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, v->id, "balloon_target"));
	g0_balloon = pl_u64(_metadata, "ballooned");

	/* poll() on balloon_target: read it, then wait for POLLPRI */
	mv_vm_path(path, sizeof(path), v->id, "balloon_target");
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	ASSERT_LT(0, n);
	buf[n] = 0;
	EXPECT_EQ(0ULL, strtoull(buf, NULL, 10));
	/* and an ioctl waiter */
	w.known = 0;
	w.timeout_ms = 20000;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, waiter_run, &w));
	while (!__atomic_load_n(&w.started, __ATOMIC_ACQUIRE))
		pl_sleep_ms(1);
	pl_sleep_ms(200);

	t0 = pl_now_ms();
	PL_SET_GLOBAL("budget_mb", BUDGET_MB);
	pl_sleep_ms(50);
	avail = pl_u64(_metadata, "avail_pages");
	pfd.fd = fd;
	pfd.events = POLLPRI | POLLERR;
	pfd.revents = 0;
	ret = poll(&pfd, 1, 10000);
	EXPECT_EQ(1, ret) TH_LOG("poll() on %s: no notification in 10 s", path);
	EXPECT_TRUE(pfd.revents & (POLLPRI | POLLERR)) TH_LOG("revents 0x%x", pfd.revents);
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	n = read(fd, buf, sizeof(buf) - 1);
	ASSERT_LT(0, n);
	buf[n] = 0;
	close(fd);
	TH_LOG("balloon_target %s after %llu ms", strtok(buf, "\n"),
	       (unsigned long long)(pl_now_ms() - t0));
	pthread_join(w.thread, NULL);
	EXPECT_EQ(0, w.ret) TH_LOG("%s", strerror(-w.ret));
	EXPECT_GT(5000ULL, w.ms) TH_LOG("the waiter was not woken by the change");
	EXPECT_EQ(BT_WRITE - avail, w.b.target_pages);
	EXPECT_EQ(BT_WRITE - avail, strtoull(buf, NULL, 10));

	EXPECT_STATE(PL_SOFT);
	EXPECT_EQ(BUDGET_PAGES - BT_WRITE, pl_u64(_metadata, "free_pages"));
	EXPECT_EQ(avail, pl_u64(_metadata, "avail_pages"));
	EXPECT_EQ(avail, pl_vm(_metadata, v->id, "target"));
	EXPECT_EQ(BT_WRITE - avail, pl_vm(_metadata, v->id, "balloon_target"));
	/* SOFT with balloon_timeout_ms 3600000: nothing is taken meanwhile */
	pl_sleep_ms(500);
	vm_stats(_metadata, v, &st0);
	EXPECT_EQ(BT_WRITE, st0.resident);
	EXPECT_EQ(0ULL, st0.compressed + st0.swapped);

	/* 100 resident gfns punched while pending: BALLOONED */
	ASSERT_EQ(0, vmf_punch(v, 0, 100));
	expect_states(_metadata, v, 0, 100, MEMVIRT_GFN_BALLOONED);
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(BT_WRITE - 100, st.resident);
	EXPECT_EQ(st0.punched + 100, st.punched);
	EXPECT_EQ(100ULL, pl_vm(_metadata, v->id, "ballooned"));
	EXPECT_EQ(g0_balloon + 100, pl_u64(_metadata, "ballooned"));
	/* ballooned + charge - target: the VM followed, the target holds */
	held = BT_WRITE - 100;
	ballooned = 100;
	want = ballooned + held - avail;
	pl_sleep_ms(100);
	EXPECT_EQ(want, pl_vm(_metadata, v->id, "balloon_target"));
	ASSERT_EQ(0, pl_balloon(v->fd, 0, 0, 0, &b));
	EXPECT_EQ(want, b.target_pages);
	EXPECT_EQ(ballooned, b.ballooned);
	EXPECT_EQ(BT_SIZE * MV_PAGE, b.size_bytes);

	/*
	 * absent gfns punched while pending: BALLOONED too (the spec: "including
	 * gfns that were ABSENT or ZERO"); then go on from what the kernel counts
	 */
	ASSERT_EQ(0, vmf_punch(v, BT_SIZE - 100, 100));
	expect_states(_metadata, v, BT_SIZE - 100, 100, MEMVIRT_GFN_BALLOONED);
	EXPECT_EQ(ballooned + 100, pl_vm(_metadata, v->id, "ballooned"));
	ballooned = pl_vm(_metadata, v->id, "ballooned");
	want = ballooned + held - avail;
	EXPECT_EQ(want, wait_vm_attr(_metadata, v->id, "balloon_target", want, 1000));

	/* a read maps zero and leaves it BALLOONED; a write deflates */
	EXPECT_EQ(0, v->map[5 * MV_PAGE + 17]);
	expect_states(_metadata, v, 5, 1, MEMVIRT_GFN_BALLOONED);
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(held, st.resident);
	deflated = pl_vm(_metadata, v->id, "deflated");
	EXPECT_EQ(0ULL, deflated);
	v->map[0] = 0x5a;
	EXPECT_EQ(0, v->map[1]);
	EXPECT_EQ(0, v->map[MV_PAGE - 1]);
	ASSERT_EQ(1, pwrite(v->fd, "x", 1, MV_PAGE + 9));
	expect_states(_metadata, v, 0, 2, MEMVIRT_GFN_PRIVATE);
	held += 2;
	ballooned -= 2;
	EXPECT_EQ(2ULL, pl_vm(_metadata, v->id, "deflated"));
	EXPECT_EQ(ballooned, pl_vm(_metadata, v->id, "ballooned"));
	EXPECT_EQ(g0_balloon + ballooned, pl_u64(_metadata, "ballooned"));
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(held, st.resident);
	want = ballooned + held - avail;
	EXPECT_EQ(want, wait_vm_attr(_metadata, v->id, "balloon_target", want, 1000));

	/* follow it all the way: the charge reaches the target */
	bt = held - avail;
	ASSERT_EQ(0, vmf_punch(v, 100, bt));
	expect_states(_metadata, v, 100, bt, MEMVIRT_GFN_BALLOONED);
	ballooned += bt;
	held -= bt;
	EXPECT_EQ(avail, held);
	EXPECT_EQ(ballooned, pl_vm(_metadata, v->id, "ballooned"));
	EXPECT_EQ(avail, pl_vm(_metadata, v->id, "charge"));
	/* free = budget - avail >= 6%: HIGH again; the balloon target stays */
	EXPECT_STATE(PL_HIGH);
	EXPECT_EQ(BUDGET_PAGES - avail, pl_u64(_metadata, "free_pages"));
	EXPECT_EQ(ballooned, pl_vm(_metadata, v->id, "balloon_target"));
	/* nothing pending: a punch makes ZERO gfns */
	ASSERT_EQ(0, vmf_punch(v, 2000, 10));
	expect_states(_metadata, v, 2000, 10, MEMVIRT_GFN_ZERO);
	EXPECT_EQ(ballooned, pl_vm(_metadata, v->id, "ballooned"));
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(0ULL, st.compressed + st.swapped) TH_LOG("pages reclaimed although the VM followed its balloon target");
	/* the VM goes: its ballooned gfns leave the host-wide count */
	vmf_close(v);
	EXPECT_EQ(g0_balloon, pl_u64(_metadata, "ballooned"));
}

/*
 * The same cut, but the VM ignores its balloon target: once
 * balloon_timeout_ms passed since it went pending, its cold pages are
 * compressed or swapped down to its target, not before.
 */
TEST_F_TIMEOUT(pol, ignored_balloon_target_reclaimed_after_timeout, 90)
{
	struct vmf *v = NEW_VM(0, BT_SIZE);
	struct memvirt_stats st;
	u64 t0, c, ms, avail;

	quiet_policy(_metadata);
	PL_SET(PL_BALLOON_TIMEOUT_MS, 2000);
	PL_SET_GLOBAL("budget_mb", 2 * BUDGET_MB);
	vmf_write(v, 0, BT_WRITE, true, 4);
	EXPECT_STATE(PL_HIGH);
	t0 = pl_now_ms();
	PL_SET_GLOBAL("budget_mb", BUDGET_MB);
	pl_sleep_ms(50);
	avail = pl_u64(_metadata, "avail_pages");
	EXPECT_EQ(BT_WRITE - avail,
		  wait_vm_attr(_metadata, v->id, "balloon_target",
			       BT_WRITE - avail, 1000));
	pl_sleep_ms(1000);
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(0ULL, st.compressed + st.swapped)
		TH_LOG("reclaimed %llu ms after the balloon target went pending",
		       (unsigned long long)(pl_now_ms() - t0));
	do {
		pl_sleep_ms(50);
		vm_stats(_metadata, v, &st);
		c = pl_charge(&st);
		ms = pl_now_ms() - t0;
	} while (c > avail && ms < 30000);
	TH_LOG("charge %llu (target %llu) after %llu ms: compressed %llu swapped %llu",
	       (unsigned long long)c, avail, (unsigned long long)ms,
	       st.compressed, st.swapped);
	EXPECT_GE(avail, c);
	EXPECT_LE(2000ULL, ms);
	EXPECT_LE(BT_WRITE - avail, st.compressed + st.swapped);
	/* followed by reclaim: nothing left for the balloon */
	EXPECT_EQ(0ULL, wait_vm_attr(_metadata, v->id, "balloon_target", 0, 2000));
	EXPECT_EQ(0ULL, pl_vm(_metadata, v->id, "ballooned"));
}

/* ------------------------------------------------------------------ */
/* Free-memory states */

/* The VM's resident pages become @pages: write more or punch the top. */
static void hold_pages(struct __test_metadata *_metadata, struct vmf *v,
		       u64 *cur, u64 pages)
{
	if (pages > *cur)
		vmf_write(v, *cur, pages, false, 7);
	else if (pages < *cur)
		ASSERT_EQ(0, vmf_punch(v, pages, *cur - pages));
	*cur = pages;
}

/* free_pages is exactly the budget minus what VMs hold. */
static void expect_free(struct __test_metadata *_metadata, u64 free_pages)
{
	u64 res = 0, pool = 0, sharing = 0;

	ASSERT_EQ(0, mv_global_u64("resident_pages", &res));
	ASSERT_EQ(0, mv_global_u64("swap/pool_bytes", &pool));
	ASSERT_EQ(0, mv_global_u64("dedup/sharing", &sharing));
	EXPECT_EQ(0ULL, pool + sharing);
	EXPECT_EQ(BUDGET_PAGES - free_pages, res);
	EXPECT_EQ(free_pages, pl_u64(_metadata, "free_pages"));
}

struct step {
	u64 free;	/* pages free */
	int state;	/* the state it must lead to */
};

/*
 * One VM whose reservation is its size: its target never is below what it
 * holds, so no mechanism takes anything and free memory is exactly what
 * the test makes it. Thresholds 6/4/2/1% = 1536/1024/512/256 pages.
 */
TEST_F_TIMEOUT(pol, states_step_down_and_back_with_hysteresis, 120)
{
	static const struct step steps[] = {
		{ PCT(7), PL_HIGH },
		{ PCT(5), PL_HIGH },		/* >= soft: stays */
		{ PCT(3), PL_SOFT },
		{ PCT(3) / 2, PL_HARD },	/* 1.5% */
		{ PCT(1) / 2, PL_LOW },		/* 0.5% */
		{ PCT(3) / 2, PL_LOW },		/* < hard: stays LOW */
		{ PCT(3), PL_HARD },		/* >= hard, < soft: LOW -> HARD */
		{ PCT(5), PL_SOFT },		/* >= soft, < high */
		{ PCT(7), PL_HIGH },
	};
	u64 ms0[PL_NR_STATES], ms1[PL_NR_STATES], held_ms[PL_NR_STATES] = { 0 };
	int from[16], to[16], nr_tr, trace_ret, i, prev = PL_HIGH;
	u64 tr0, tr1, cur = 0, t0, spent;
	struct vmf *v;

	quiet_policy(_metadata);
	PL_SET_GLOBAL("budget_mb", BUDGET_MB);
	v = NEW_VM(0, BUDGET_PAGES);
	SET_POLICY(v, MEMVIRT_POLICY_RESERVATION, 0, BUDGET_PAGES, 0);
	EXPECT_STATE(PL_HIGH);
	EXPECT_EQ(BUDGET_PAGES, wait_vm_attr(_metadata, v->id, "target",
					     BUDGET_PAGES, 1000));
	trace_ret = pl_trace_start();
	EXPECT_EQ(0, trace_ret) TH_LOG("memvirt:state tracepoint: %s", strerror(-trace_ret));
	tr0 = pl_u64(_metadata, "transitions");
	ASSERT_EQ(0, pl_state_ms(ms0));

	for (i = 0; i < (int)ARRAY_SIZE(steps); i++) {
		hold_pages(_metadata, v, &cur, BUDGET_PAGES - steps[i].free);
		t0 = pl_now_ms();
		EXPECT_STATE(steps[i].state);
		spent = pl_now_ms() - t0;
		TH_LOG("free %llu pages (%llu.%02llu%%): %s after %llu ms",
		       (unsigned long long)steps[i].free,
		       (unsigned long long)(steps[i].free * 100 / BUDGET_PAGES),
		       (unsigned long long)(steps[i].free * 10000 / BUDGET_PAGES % 100),
		       pl_state_name(pl_state()), (unsigned long long)spent);
		expect_free(_metadata, steps[i].free);
		/* the reservation holds everything: nothing to balloon or wait for */
		EXPECT_EQ(BUDGET_PAGES, pl_vm(_metadata, v->id, "target"));
		EXPECT_EQ(0ULL, pl_vm(_metadata, v->id, "balloon_target"));
		EXPECT_EQ(0ULL, pl_vm(_metadata, v->id, "low_waits"));
		EXPECT_EQ(cur, pl_vm(_metadata, v->id, "charge"));
		if (steps[i].state == prev)
			held_ms[prev] += spent;
		else
			held_ms[steps[i].state] += HOLD_MS;
		prev = steps[i].state;
	}
	tr1 = pl_u64(_metadata, "transitions");
	ASSERT_EQ(0, pl_state_ms(ms1));
	EXPECT_EQ(6ULL, tr1 - tr0);
	for (i = 0; i < PL_NR_STATES; i++) {
		TH_LOG("%s: %llu ms (at least %llu)", pl_state_names[i],
		       (unsigned long long)(ms1[i] - ms0[i]),
		       (unsigned long long)held_ms[i]);
		EXPECT_LE(held_ms[i] * 9 / 10, ms1[i] - ms0[i]) TH_LOG("state_ms of %s", pl_state_names[i]);
	}
	{
		static const int want_from[] = { PL_HIGH, PL_SOFT, PL_HARD, PL_LOW, PL_HARD, PL_SOFT };
		static const int want_to[] = { PL_SOFT, PL_HARD, PL_LOW, PL_HARD, PL_SOFT, PL_HIGH };

		nr_tr = pl_trace_finish(from, to, 16);
		EXPECT_EQ(6, nr_tr) TH_LOG("memvirt:state events");
		for (i = 0; i < nr_tr && i < 6; i++) {
			EXPECT_EQ(want_from[i], from[i]) TH_LOG("event %d", i);
			EXPECT_EQ(want_to[i], to[i]) TH_LOG("event %d", i);
		}
	}
	/* the state_ms counter of the current state keeps counting */
	pl_sleep_ms(500);
	ASSERT_EQ(0, pl_state_ms(ms0));
	EXPECT_LE(ms1[PL_HIGH] + 400, ms0[PL_HIGH]);
	EXPECT_EQ(ms1[PL_LOW], ms0[PL_LOW]);
}

/*
 * With period_ms 60000 no tick runs while the VM fills up; a knob store
 * recomputes at once: one transition straight from HIGH to LOW. Back up,
 * the state climbs one step per tick: LOW -> HARD -> SOFT -> HIGH.
 */
TEST_F(pol, states_jump_down_climb_one_per_tick)
{
	int from[16], to[16], n, i;
	u64 cur = 0, tr0;
	struct vmf *v;

	quiet_policy(_metadata);
	PL_SET_GLOBAL("budget_mb", BUDGET_MB);
	v = NEW_VM(0, BUDGET_PAGES);
	SET_POLICY(v, MEMVIRT_POLICY_RESERVATION, 0, BUDGET_PAGES, 0);
	EXPECT_STATE(PL_HIGH);
	PL_SET(PL_PERIOD_MS, 60000);
	pl_sleep_ms(50);
	ASSERT_EQ(0, pl_trace_start());
	tr0 = pl_u64(_metadata, "transitions");
	hold_pages(_metadata, v, &cur, BUDGET_PAGES - PCT(1) / 2);
	pl_sleep_ms(200);
	EXPECT_EQ(PL_HIGH, pl_state()) TH_LOG("a state change without a tick");
	PL_SET(PL_PERIOD_MS, 59999);
	EXPECT_STATE(PL_LOW);
	EXPECT_EQ(tr0 + 1, pl_u64(_metadata, "transitions"));
	/* back up, ticks every 10 ms */
	hold_pages(_metadata, v, &cur, 0);
	PL_SET(PL_PERIOD_MS, 10);
	EXPECT_STATE(PL_HIGH);
	EXPECT_EQ(tr0 + 4, pl_u64(_metadata, "transitions"));
	n = pl_trace_finish(from, to, 16);
	ASSERT_EQ(4, n);
	EXPECT_EQ(PL_HIGH, from[0]);
	EXPECT_EQ(PL_LOW, to[0]);
	for (i = 1; i < 4; i++) {
		EXPECT_EQ(PL_LOW - i + 1, from[i]) TH_LOG("event %d", i);
		EXPECT_EQ(PL_LOW - i, to[i]) TH_LOG("event %d", i);
	}
}

/* ------------------------------------------------------------------ */
/* Limit and reservation */

#define LIM_PAGES	512ULL
#define LIM_WRITE	(8 * LIM_PAGES)

FIXTURE(limit) {
	pol_t p;
};

FIXTURE_VARIANT(limit) {
	bool rnd;
};

FIXTURE_VARIANT_ADD(limit, compressible) { .rnd = false };
FIXTURE_VARIANT_ADD(limit, incompressible) { .rnd = true };

FIXTURE_SETUP(limit)
{
	pol_init(_metadata, &self->p);
}

FIXTURE_TEARDOWN(limit)
{
	pol_fini(_metadata, &self->p);
}

/*
 * The VM writes 8 times its limit, the sampler taking samples and the
 * policy ticking meanwhile: its charge never passes the limit. Pages that
 * compress are taken synchronously in the fault, so the charge is within
 * the limit at every check; pages that go to swap stay resident while
 * their write is in flight (at most one batch, swap-interface.md), and
 * the charge is within the limit once the writes completed. Every byte
 * reads back.
 */
TEST_F_TIMEOUT(limit, charge_never_exceeds_limit, 120)
{
	pol_t *p = &self->p;
	u64 g, c, max = 0, over = 0, i, x, tgt;
	struct memvirt_stats st;
	struct vmf *v;
	bool bad = false;

	v = new_vm(_metadata, p, 0, LIM_WRITE);
	ASSERT_NE(NULL, v);
	PL_SET(PL_PERIOD_MS, 10);
	PL_SET(PL_SAMPLE_PERIOD_MS, 100);
	PL_SET(PL_SAMPLE_SIZE, 100);
	SET_POLICY(v, MEMVIRT_POLICY_LIMIT, 0, 0, LIM_PAGES);
	/* recomputed at once, by the policy thread: the limit caps the target */
	EXPECT_EQ(LIM_PAGES, wait_vm_attr(_metadata, v->id, "target", LIM_PAGES, 1000));
	for (g = 0; g < LIM_WRITE; g++) {
		vmf_write(v, g, g + 1, variant->rnd, 11);
		vm_stats(_metadata, v, &st);
		c = pl_charge(&st);
		if (c > max)
			max = c;
		if (c > LIM_PAGES)
			over++;
		if (!(g % 256)) {
			tgt = pl_vm(_metadata, v->id, "target");
			EXPECT_GE(LIM_PAGES, tgt) TH_LOG("target above the limit");
		}
	}
	for (i = 0; i < 200; i++) {
		vm_stats(_metadata, v, &st);
		if (pl_charge(&st) <= LIM_PAGES)
			break;
		pl_sleep_ms(50);
	}
	TH_LOG("%s: limit %llu, wrote %llu pages; highest charge %llu, %llu checks over the limit; now resident %llu compressed %llu swapped %llu",
	       variant->rnd ? "incompressible" : "compressible", LIM_PAGES,
	       LIM_WRITE, (unsigned long long)max, (unsigned long long)over,
	       st.resident, st.compressed, st.swapped);
	EXPECT_GE(LIM_PAGES + (variant->rnd ? SW_LIMIT_BATCH : 0), max);
	EXPECT_GE(LIM_PAGES, pl_charge(&st));
	EXPECT_EQ(pl_charge(&st), pl_vm(_metadata, v->id, "charge"));
	EXPECT_EQ(LIM_WRITE, st.resident + st.compressed + st.swapped);
	for (g = 0; g < LIM_WRITE && !bad; g++) {
		u64 *pg = (u64 *)(v->map + g * MV_PAGE);

		x = ((g + 1) * 0x9e3779b97f4a7c15ULL) ^ (11 * 0xbf58476d1ce4e5b9ULL);
		x |= 1;
		for (i = 0; i < MV_PAGE / 8 && !bad; i++) {
			u64 want = variant->rnd ? xorshift(&x) :
				   0x6d656d7669727400ULL + (g << 8) + (i % 4);

			if (pg[i] != want) {
				bad = true;
				TH_LOG("gfn %llu word %llu: 0x%llx, want 0x%llx",
				       (unsigned long long)g, (unsigned long long)i,
				       (unsigned long long)pg[i], (unsigned long long)want);
			}
		}
	}
	EXPECT_FALSE(bad);
}

struct watcher {
	pthread_t thread;
	int stop;
	int fd;
	u64 min_resident, min_charge, checks;
};

static void *watcher_run(void *arg)
{
	struct watcher *w = arg;
	struct memvirt_stats st;

	w->min_resident = w->min_charge = ~0ULL;
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		if (mv_get_stats(w->fd, &st))
			break;
		if (st.resident < w->min_resident)
			w->min_resident = st.resident;
		if (pl_charge(&st) < w->min_charge)
			w->min_charge = pl_charge(&st);
		w->checks++;
		pl_sleep_ms(2);
	}
	return NULL;
}

/*
 * Budget 100 MiB. VM a (shares 1, reservation 8192 pages) holds 10240
 * pages; VM b (shares 1000000, no reservation) then writes 24576 pages of
 * random bytes: the host goes HARD and LOW, every VM above its target is
 * swapped down to it. a's target is its reservation (its shares are next
 * to nothing): a loses what it holds above 8192 pages, never more (a
 * thread checks its resident pages every 2 ms).
 */
TEST_F_TIMEOUT(pol, reservation_never_reclaimed, 120)
{
	struct watcher w = { 0 };
	struct memvirt_stats sa, sb;
	struct vmf *a, *b;
	int seen_hard = 0, s;
	u64 g;

	quiet_policy(_metadata);
	PL_SET_GLOBAL("budget_mb", BUDGET_MB);
	a = NEW_VM(0, 12288);
	b = NEW_VM(1, 24576);
	SET_POLICY(a, MEMVIRT_POLICY_SHARES | MEMVIRT_POLICY_RESERVATION, 1, 8192, 0);
	SET_POLICY(b, MEMVIRT_POLICY_SHARES, 1000000, 0, 0);
	vmf_write(a, 0, 10240, true, 21);
	w.fd = a->fd;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, watcher_run, &w));
	for (g = 0; g < 24576; g += 256) {
		vmf_write(b, g, g + 256, true, 22);
		s = pl_state();
		if (s >= PL_HARD)
			seen_hard++;
		EXPECT_LE(8192ULL, pl_vm(_metadata, a->id, "target"));
	}
	/* steady state: nothing more to take */
	pl_sleep_ms(3000);
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	pthread_join(w.thread, NULL);
	vm_stats(_metadata, a, &sa);
	vm_stats(_metadata, b, &sb);
	TH_LOG("a: %llu checks, lowest resident %llu (reservation 8192), now resident %llu swapped %llu compressed %llu target %llu; b: resident %llu swapped %llu target %llu; %d of 96 checks HARD or LOW, now %s",
	       (unsigned long long)w.checks, (unsigned long long)w.min_resident,
	       sa.resident, sa.swapped, sa.compressed,
	       (unsigned long long)pl_vm(_metadata, a->id, "target"),
	       sb.resident, sb.swapped,
	       (unsigned long long)pl_vm(_metadata, b->id, "target"),
	       seen_hard, pl_state_name(pl_state()));
	EXPECT_LT(100ULL, w.checks);
	EXPECT_LE(8192ULL, w.min_resident);
	EXPECT_LE(8192ULL, sa.resident);
	EXPECT_EQ(8192ULL, pl_vm(_metadata, a->id, "target"));
	EXPECT_LT(0, seen_hard) TH_LOG("never under pressure: the test proves nothing");
	/* a was above its target: it gave back what it held above it */
	EXPECT_LT(0ULL, sa.swapped + sa.compressed);
	EXPECT_LT(0ULL, sb.swapped + sb.compressed);
	EXPECT_EQ(10240ULL, sa.resident + sa.swapped + sa.compressed);
	EXPECT_EQ(24576ULL, sb.resident + sb.swapped + sb.compressed);
}

/*
 * LOW that lasts: a's reservation (25472 pages, its size) is above avail,
 * so every target is its minimum: a's is 25472, b's (no reservation) 0.
 * a writes 25400 pages: 200 pages free (0.78%), LOW, and nothing can
 * raise it while a holds its reservation. b, above its target, then
 * reclaims its own pages in its faults (low_waits, low_wait_ns) and never
 * hangs; a writes the rest of its reservation and never waits.
 */
#define LW_A	25472ULL
#define LW_B	1024ULL

TEST_F_TIMEOUT(pol, low_state_vm_above_target_waits_below_reservation_never, 120)
{
	u64 g0_waits, g0_ns, a_w, b_w, g1_waits, g1_ns, i, x;
	struct memvirt_stats sb;
	struct vmf *a, *b;
	bool bad = false;

	quiet_policy(_metadata);
	PL_SET_GLOBAL("budget_mb", BUDGET_MB);
	a = NEW_VM(0, LW_A);
	b = NEW_VM(1, LW_B);
	SET_POLICY(a, MEMVIRT_POLICY_RESERVATION, 0, LW_A, 0);
	EXPECT_EQ(LW_A, wait_vm_attr(_metadata, a->id, "target", LW_A, 1000));
	EXPECT_EQ(0ULL, wait_vm_attr(_metadata, b->id, "target", 0, 1000));
	g0_waits = pl_u64(_metadata, "low_waits");
	g0_ns = pl_u64(_metadata, "low_wait_ns");
	vmf_write(a, 0, 25400, true, 31);
	EXPECT_STATE(PL_LOW);
	TH_LOG("LOW: free %llu; a target %llu charge %llu; b target %llu charge %llu",
	       (unsigned long long)pl_u64(_metadata, "free_pages"),
	       (unsigned long long)pl_vm(_metadata, a->id, "target"),
	       (unsigned long long)pl_vm(_metadata, a->id, "charge"),
	       (unsigned long long)pl_vm(_metadata, b->id, "target"),
	       (unsigned long long)pl_vm(_metadata, b->id, "charge"));
	EXPECT_EQ(LW_A, pl_vm(_metadata, a->id, "target"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, b->id, "target"));

	/* b writes its pages in LOW: its faults reclaim its own */
	vmf_write(b, 0, LW_B, true, 32);
	b_w = pl_vm(_metadata, b->id, "low_waits");
	vm_stats(_metadata, b, &sb);
	TH_LOG("b: low_waits %llu, resident %llu swapped %llu compressed %llu; %s",
	       (unsigned long long)b_w, sb.resident, sb.swapped, sb.compressed,
	       pl_state_name(pl_state()));
	EXPECT_LT(0ULL, b_w);
	EXPECT_LT(0ULL, sb.swapped + sb.compressed);
	EXPECT_EQ(LW_B, sb.resident + sb.swapped + sb.compressed);
	/* a writes the rest of its reservation: never waits */
	vmf_write(a, 25400, LW_A, true, 31);
	EXPECT_STATE(PL_LOW);
	a_w = pl_vm(_metadata, a->id, "low_waits");
	EXPECT_EQ(0ULL, a_w);
	b_w = pl_vm(_metadata, b->id, "low_waits");
	g1_waits = pl_u64(_metadata, "low_waits");
	g1_ns = pl_u64(_metadata, "low_wait_ns");
	EXPECT_EQ(a_w + b_w, g1_waits - g0_waits);
	EXPECT_LT(g0_ns, g1_ns);
	TH_LOG("host-wide: %llu low waits, %llu us waiting",
	       (unsigned long long)(g1_waits - g0_waits),
	       (unsigned long long)((g1_ns - g0_ns) / 1000));
	/* b's data all came back intact */
	for (i = 0; i < LW_B && !bad; i++) {
		u64 *pg = (u64 *)(b->map + i * MV_PAGE), j;

		x = ((i + 1) * 0x9e3779b97f4a7c15ULL) ^ (32 * 0xbf58476d1ce4e5b9ULL);
		x |= 1;
		for (j = 0; j < MV_PAGE / 8 && !bad; j++)
			bad = pg[j] != xorshift(&x);
	}
	EXPECT_FALSE(bad) TH_LOG("b's gfn %llu lost its bytes", (unsigned long long)i - 1);
}

/* ------------------------------------------------------------------ */
/* The sampler */

struct toucher {
	pthread_t thread;
	int stop;
	struct vmf *v;
	u64 npages, loops;
};

static void *toucher_run(void *arg)
{
	struct toucher *t = arg;
	u64 g;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		for (g = 0; g < t->npages; g++)
			MV_WRITE_ONCE(t->v->map[g * MV_PAGE + 8], (unsigned char)t->loops);
		t->loops++;
	}
	return NULL;
}

/*
 * sample_period_ms 200, sample_size 100: a VM whose 1024 pages a thread
 * keeps writing is 100% active; a VM that wrote its pages once and left
 * them falls to 0 (the slow average keeps 3/8 per period: 1000 * (3/8)^10
 * < 1 permille); a new VM starts at 100%; sample_size 0 freezes both.
 */
TEST_F_TIMEOUT(pol, sampler_idle_zero_busy_hundred, 90)
{
	u64 s0, p0, s1, p1, ns0, ns1, pns0, pns1, t0;
	struct toucher t = { 0 };
	struct vmf *idle, *busy, *fresh;
	unsigned int i;

	PL_SET(PL_PERIOD_MS, 10);
	PL_SET(PL_SAMPLE_SIZE, 0);
	PL_SET(PL_SAMPLE_PERIOD_MS, 200);
	idle = NEW_VM(0, 1024);
	busy = NEW_VM(1, 1024);
	vmf_write(idle, 0, 1024, false, 41);
	vmf_write(busy, 0, 1024, false, 42);
	/* a new VM: 100% until its first period ends */
	EXPECT_EQ(100ULL, pl_vm(_metadata, idle->id, "active_estimate"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, idle->id, "sample_periods"));
	t.v = busy;
	t.npages = 1024;
	ASSERT_EQ(0, pthread_create(&t.thread, NULL, toucher_run, &t));
	s0 = pl_u64(_metadata, "samples");
	p0 = pl_u64(_metadata, "sample_periods");
	ns0 = pl_u64(_metadata, "sample_ns");
	pns0 = pl_u64(_metadata, "policy_ns");
	t0 = pl_now_ms();
	PL_SET(PL_SAMPLE_SIZE, 100);
	/* 14 periods of 200 ms, each VM (the sampler takes them in turn) */
	for (i = 0; i < 60 && (pl_vm(_metadata, idle->id, "sample_periods") < 14 ||
			       pl_vm(_metadata, busy->id, "sample_periods") < 14); i++)
		pl_sleep_ms(200);
	PL_SET(PL_SAMPLE_SIZE, 0);
	/*
	 * the running periods end: a period runs from its last gfn sampled,
	 * so wait until no period closed over two periods
	 */
	p1 = pl_u64(_metadata, "sample_periods");
	for (i = 0; i < 40; i++) {
		pl_sleep_ms(400);
		s1 = pl_u64(_metadata, "sample_periods");
		if (s1 == p1)
			break;
		p1 = s1;
	}
	s1 = pl_u64(_metadata, "samples");
	p1 = pl_u64(_metadata, "sample_periods");
	ns1 = pl_u64(_metadata, "sample_ns");
	pns1 = pl_u64(_metadata, "policy_ns");
	TH_LOG("%llu ms: %llu periods, %llu samples, sample_ns %llu, policy_ns %llu; idle %llu%% (slow %llu fast %llu period %llu), busy %llu%% (%llu loops)",
	       (unsigned long long)(pl_now_ms() - t0),
	       (unsigned long long)(p1 - p0), (unsigned long long)(s1 - s0),
	       (unsigned long long)(ns1 - ns0), (unsigned long long)(pns1 - pns0),
	       (unsigned long long)pl_vm(_metadata, idle->id, "active_estimate"),
	       (unsigned long long)pl_vm(_metadata, idle->id, "active_slow"),
	       (unsigned long long)pl_vm(_metadata, idle->id, "active_fast"),
	       (unsigned long long)pl_vm(_metadata, idle->id, "active_period"),
	       (unsigned long long)pl_vm(_metadata, busy->id, "active_estimate"),
	       (unsigned long long)t.loops);
	EXPECT_LE(14ULL, pl_vm(_metadata, idle->id, "sample_periods"));
	EXPECT_LE(14ULL, pl_vm(_metadata, busy->id, "sample_periods"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, idle->id, "active_estimate"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, idle->id, "active_slow"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, idle->id, "active_fast"));
	EXPECT_EQ(100ULL, pl_vm(_metadata, busy->id, "active_estimate"));
	EXPECT_EQ(100ULL, pl_vm(_metadata, busy->id, "active_fast"));
	/*
	 * every closed period sampled 100 gfns of its VM; a period running
	 * when sampling stopped may have sampled without closing
	 */
	EXPECT_LE(100 * (p1 - p0), s1 - s0);
	EXPECT_GE(100 * (p1 - p0) + 200, s1 - s0);
	EXPECT_LT(0ULL, ns1 - ns0);
	EXPECT_LE(ns1 - ns0, pns1 - pns0);
	/* sample_size 0: the estimates stay, even when the busy VM stops */
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t.thread, NULL);
	fresh = NEW_VM(2, 1024);
	vmf_write(fresh, 0, 512, false, 43);
	pl_sleep_ms(1000);
	EXPECT_EQ(p1, pl_u64(_metadata, "sample_periods"));
	EXPECT_EQ(s1, pl_u64(_metadata, "samples"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, idle->id, "active_estimate"));
	EXPECT_EQ(100ULL, pl_vm(_metadata, busy->id, "active_estimate"));
	EXPECT_EQ(100ULL, pl_vm(_metadata, fresh->id, "active_estimate"));
	EXPECT_EQ(0ULL, pl_vm(_metadata, fresh->id, "sample_periods"));
}

TEST_HARNESS_MAIN
