// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_policy_test.c - the ESX allocation policy (issue 10) with KVM guests
 * on memvirtfs, against /work/spec/policy-interface.md.
 *
 * Every guest's RAM is a file of a memvirtfs mounted with swapdir= on a
 * fresh directory of the swap disk (swap_contract.h), so the policy can
 * swap what it takes. Guests fill their RAM with VMM_PROG_FILL (the
 * pattern: nothing compresses, nothing is zero, nothing shares); an
 * "active" guest then runs VMM_PROG_TOUCH over its working set again and
 * again from a host thread (one byte written per page: every page of the
 * working set is touched in every pass), an "idle" guest does not run at
 * all. The budget is then cut below what the guests hold, and the policy
 * decides who keeps what. Every test saves and restores the policy knobs,
 * budget_mb and overcommit_ratio (policy_contract.h).
 *
 *   idle_vs_active	two guests of equal shares; the active one ends
 *			holding more, with the higher active_estimate, and
 *			the targets the idle memory tax implies;
 *   estimate_tracks	one guest's working set goes 10% -> 80% -> 10%;
 *			after three sample periods each the estimate is
 *			within 10 points of the truth; the policy's cost is
 *			measured and printed;
 *   limit		a guest writing 8 times its limit never holds more
 *			(a host thread checks every millisecond) and reads
 *			all its data back;
 *   reservation	a guest with a reservation and next to no shares,
 *			under pressure from an active one, never goes below
 *			its reservation;
 *   overcommit_4	four guests at 2x overcommit, two idle, two active:
 *			the active ones keep at least 90% of their working
 *			set resident at steady state (measured and printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "contract.h"
#include "swap_contract.h"
#include "policy_contract.h"
#include "vmm.h"

#define MIB			(1ULL << 20)
#define PAGES(bytes)		((bytes) / VMM_PAGE_SIZE)
#define NR_GUESTS		4
#define RUN_TIMEOUT_S		120
#define SEED			0x90a1ULL

/* ------------------------------------------------------------------ */
/* Guests */

struct guest {
	char path[PATH_MAX];
	int fd;
	u64 id;
	u64 size;
	struct vm *vm;
};

static void guest_close(struct guest *g)
{
	if (g->vm)
		vm_destroy(g->vm);
	g->vm = NULL;
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	if (g->path[0])
		unlink(g->path);
	g->path[0] = 0;
}

FIXTURE(kp) {
	struct sw_mount m;
	struct guest g[NR_GUESTS];
	struct pl_knobs k;
	bool knobs_saved;
};

typedef FIXTURE_DATA(kp) kp_t;

static void kp_fini(struct __test_metadata *_metadata, kp_t *self)
{
	int i, ret;

	for (i = 0; i < NR_GUESTS; i++)
		guest_close(&self->g[i]);
	ret = sw_mount_close(&self->m);
	EXPECT_EQ(0, ret) TH_LOG("umount: %s", strerror(-ret));
	if (self->knobs_saved) {
		EXPECT_EQ(0, pl_knobs_restore(&self->k))
			TH_LOG("restoring the policy knobs, budget_mb, overcommit_ratio");
		self->knobs_saved = false;
	}
}

FIXTURE_SETUP(kp)
{
	const char *skip = sw_disk_missing();
	char why[PATH_MAX + 128] = "";
	u64 nr = 0;
	int i, ret = 0;

	for (i = 0; i < NR_GUESTS; i++)
		self->g[i].fd = -1;
	if (skip)
		MV_SETUP_SKIP("%s", skip);
	if (!mv_fs_registered(MV_FSTYPE))
		MV_SETUP_SKIP("memvirtfs is not registered (memvirt.ko not loaded)");
	pl_knobs_save(&self->k);
	self->knobs_saved = true;
	for (i = 0; i < 100; i++) {
		ret = mv_global_u64("nr_vms", &nr);
		if (ret || !nr)
			break;
		pl_sleep_ms(20);
	}
	if (!ret && nr) {
		snprintf(why, sizeof(why), "%llu VMs exist before the test",
			 (unsigned long long)nr);
		ret = -EBUSY;
	}
	if (!ret)
		ret = sw_mount_open(&self->m, true, why, sizeof(why));
	if (ret)
		kp_fini(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	PL_SET_GLOBAL("overcommit_ratio", 200);
	/* ticks every 50 ms; balloon targets are not followed by these VMMs */
	PL_SET(PL_PERIOD_MS, 50);
	PL_SET(PL_BALLOON_TIMEOUT_MS, 1000);
}

FIXTURE_TEARDOWN(kp)
{
	kp_fini(_metadata, self);
}

/* Guest @i of @size bytes with one vCPU; filled with the pattern if @fill. */
static struct guest *guest_new(struct __test_metadata *_metadata, kp_t *self,
			       int i, u64 size, bool fill)
{
	struct guest *g = &self->g[i];
	struct memvirt_stats st;
	int ret;

	snprintf(g->path, sizeof(g->path), "%s/guest%d", self->m.mnt, i);
	g->size = size;
	g->fd = mv_create(g->path, size);
	if (g->fd < 0)
		g->path[0] = 0;
	ASSERT_LE(0, g->fd) TH_LOG("create %s: %s", g->path, strerror(-g->fd));
	ASSERT_EQ(0, mv_get_stats(g->fd, &st));
	g->id = st.vm_id;
	g->vm = vm_create(g->fd, size, 1);
	ASSERT_NE(NULL, g->vm) TH_LOG("vm_create failed (see the vmm: line)");
	if (!fill)
		return g;
	ret = vm_run_one(g->vm, 0, VMM_PROG_FILL, VMM_FREE_GPA, size, SEED + i,
			 RUN_TIMEOUT_S);
	ASSERT_EQ(0, ret) TH_LOG("FILL of guest %d", i);
	EXPECT_EQ(0ULL, vcpu_report(g->vm, 0, VMM_REPORT_MISMATCHES, 1));
	return g;
}

#define GUEST(i, size, fill) guest_new(_metadata, self, i, size, fill)

/* Gfns of [@gpa, +@len) of @g in state PRIVATE. */
static u64 private_in(struct guest *g, u64 gpa, u64 len)
{
	u64 n = PAGES(len), i, cnt = 0;
	u8 *st = malloc(n);

	if (!st)
		return 0;
	if (!mv_query(g->fd, gpa >> VMM_PAGE_SHIFT, n, st))
		for (i = 0; i < n; i++)
			cnt += (st[i] & MEMVIRT_GFN_STATE_MASK) == MEMVIRT_GFN_PRIVATE;
	free(st);
	return cnt;
}

static void stats(struct __test_metadata *_metadata, struct guest *g,
		  struct memvirt_stats *st)
{
	ASSERT_EQ(0, mv_get_stats(g->fd, st));
}

/* ------------------------------------------------------------------ */
/* A host thread running a guest's working set pass after pass */

struct driver {
	pthread_t thread;
	struct guest *g;
	u64 start, end;		/* the working set; may change between passes */
	int stop;
	int err;
	u64 passes;
	bool running;
};

static void *driver_run(void *arg)
{
	struct driver *d = arg;
	u64 s, e;
	int ret;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		s = __atomic_load_n(&d->start, __ATOMIC_ACQUIRE);
		e = __atomic_load_n(&d->end, __ATOMIC_ACQUIRE);
		ret = vm_run_one(d->g->vm, 0, VMM_PROG_TOUCH, s, e, 0, RUN_TIMEOUT_S);
		if (ret) {
			d->err = ret;
			break;
		}
		__atomic_add_fetch(&d->passes, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int driver_start(struct driver *d, struct guest *g, u64 start, u64 end)
{
	memset(d, 0, sizeof(*d));
	d->g = g;
	d->start = start;
	d->end = end;
	if (pthread_create(&d->thread, NULL, driver_run, d))
		return -errno;
	d->running = true;
	return 0;
}

static void driver_set(struct driver *d, u64 start, u64 end)
{
	__atomic_store_n(&d->start, start, __ATOMIC_RELEASE);
	__atomic_store_n(&d->end, end, __ATOMIC_RELEASE);
}

static int driver_stop(struct driver *d)
{
	if (!d->running)
		return 0;
	__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
	pthread_join(d->thread, NULL);
	d->running = false;
	return d->err;
}

/* Wait until VM @id closed @n more sample periods (or @ms passed). */
static u64 wait_periods(struct __test_metadata *_metadata, u64 id, u64 n,
			u64 ms)
{
	u64 p0 = pl_vm(_metadata, id, "sample_periods"), p = p0;
	u64 end = pl_now_ms() + ms;

	while (p < p0 + n && pl_now_ms() < end) {
		pl_sleep_ms(10);
		p = pl_vm(_metadata, id, "sample_periods");
	}
	return p - p0;
}

/* ------------------------------------------------------------------ */
/* (a) An idle and an active guest of equal shares under pressure */

#define IA_SIZE		(32 * MIB)
#define IA_BUDGET_MB	48ULL

TEST_F_TIMEOUT(kp, idle_vs_active_equal_shares, 180)
{
	u64 avail, ti, ta, ei, ea, t0, ms;
	struct memvirt_stats si, sa;
	struct guest *idle, *act;
	struct driver d;
	int ret;

	PL_SET(PL_SAMPLE_PERIOD_MS, 500);
	PL_SET(PL_SAMPLE_SIZE, 200);
	idle = GUEST(0, IA_SIZE, true);
	act = GUEST(1, IA_SIZE, true);
	ASSERT_EQ(0, driver_start(&d, act, VMM_FREE_GPA, IA_SIZE));
	/* the sampler learns who is idle before the pressure */
	EXPECT_LE(4ULL, wait_periods(_metadata, idle->id, 4, 20000));
	ei = pl_vm(_metadata, idle->id, "active_estimate");
	ea = pl_vm(_metadata, act->id, "active_estimate");
	TH_LOG("before the cut: idle %llu%%, active %llu%% (%llu passes)",
	       (unsigned long long)ei, (unsigned long long)ea,
	       (unsigned long long)d.passes);

	t0 = pl_now_ms();
	PL_SET_GLOBAL("budget_mb", IA_BUDGET_MB);
	/*
	 * steady: the idle guest's target recomputed for the new budget
	 * (below its size) and reached, or 60 s
	 */
	do {
		pl_sleep_ms(200);
		stats(_metadata, idle, &si);
		ti = pl_vm(_metadata, idle->id, "target");
		ms = pl_now_ms() - t0;
	} while ((ti >= PAGES(IA_SIZE) || pl_charge(&si) > ti) && ms < 60000);
	pl_sleep_ms(2000);
	ret = driver_stop(&d);
	ASSERT_EQ(0, ret) TH_LOG("the active guest's run failed");
	stats(_metadata, idle, &si);
	stats(_metadata, act, &sa);
	avail = pl_u64(_metadata, "avail_pages");
	ti = pl_vm(_metadata, idle->id, "target");
	ta = pl_vm(_metadata, act->id, "target");
	ei = pl_vm(_metadata, idle->id, "active_estimate");
	ea = pl_vm(_metadata, act->id, "active_estimate");
	TH_LOG("after %llu ms under pressure (%s): idle resident %llu swapped %llu target %llu est %llu%%; active resident %llu swapped %llu target %llu est %llu%%; avail %llu",
	       (unsigned long long)ms, pl_state_name(pl_state()),
	       si.resident, si.swapped, (unsigned long long)ti,
	       (unsigned long long)ei, sa.resident, sa.swapped,
	       (unsigned long long)ta, (unsigned long long)ea,
	       (unsigned long long)avail);
	EXPECT_LT(ei, ea);
	EXPECT_LT(si.resident, sa.resident);
	EXPECT_LT(pl_charge(&si), pl_charge(&sa));
	/*
	 * The active guest's weight is about a quarter of the idle one's
	 * (tax 75%): its unbounded target would be about 4 times the idle
	 * one's, above its size, so it gets its max (its size) and the idle
	 * one the rest of avail.
	 */
	EXPECT_EQ(PAGES(IA_SIZE), ta);
	EXPECT_GE(avail - ta, ti);
	EXPECT_LE(avail - ta - 2, ti);
	EXPECT_GE(ti, pl_charge(&si));
	EXPECT_LT(0ULL, si.swapped);
}

/* ------------------------------------------------------------------ */
/* (b) The sampled estimate tracks a changing working set; the cost */

#define ET_SIZE		(64 * MIB)
#define ET_PERIOD_MS	1000
#define ET_SAMPLES	400

TEST_F_TIMEOUT(kp, estimate_tracks_working_set_and_cost, 180)
{
	static const unsigned int pct[] = { 10, 80, 10 };
	u64 priv, ws, p, est, truth, err, worst = 0;
	u64 pns0, sns0, s0, sp0, t0, pns, sns, s, sp, wall;
	double turn, start, vm;
	struct guest *g;
	int ret;
	struct driver d;
	unsigned int i;

	PL_SET(PL_SAMPLE_SIZE, 0);
	PL_SET(PL_SAMPLE_PERIOD_MS, ET_PERIOD_MS);
	g = GUEST(0, ET_SIZE, true);
	priv = private_in(g, 0, ET_SIZE);
	TH_LOG("%llu private gfns", (unsigned long long)priv);
	ws = PAGES(ET_SIZE - VMM_FREE_GPA) * pct[0] / 100;
	ASSERT_EQ(0, driver_start(&d, g, VMM_FREE_GPA, VMM_FREE_GPA + ws * VMM_PAGE_SIZE));
	pns0 = pl_u64(_metadata, "policy_ns");
	sns0 = pl_u64(_metadata, "sample_ns");
	s0 = pl_u64(_metadata, "samples");
	sp0 = pl_u64(_metadata, "sample_periods");
	t0 = vmm_now_ns();
	PL_SET(PL_SAMPLE_SIZE, ET_SAMPLES);
	for (i = 0; i < ARRAY_SIZE(pct); i++) {
		ws = PAGES(ET_SIZE - VMM_FREE_GPA) * pct[i] / 100;
		/*
		 * The change comes in the middle of a period (the pass under
		 * way still touches the old working set); three full periods
		 * after the one it came in.
		 */
		driver_set(&d, VMM_FREE_GPA, VMM_FREE_GPA + ws * VMM_PAGE_SIZE);
		wait_periods(_metadata, g->id, 1, 5 * ET_PERIOD_MS);
		p = wait_periods(_metadata, g->id, 3, 10 * ET_PERIOD_MS);
		EXPECT_EQ(3ULL, p);
		est = pl_vm(_metadata, g->id, "active_estimate");
		truth = ws * 100 / priv;
		err = est > truth ? est - truth : truth - est;
		worst = err > worst ? err : worst;
		TH_LOG("working set %u%% (%llu of %llu private gfns = %llu%%): estimate %llu%% (slow %llu fast %llu period %llu), error %llu points, %llu passes",
		       pct[i], (unsigned long long)ws, (unsigned long long)priv,
		       (unsigned long long)truth, (unsigned long long)est,
		       (unsigned long long)pl_vm(_metadata, g->id, "active_slow"),
		       (unsigned long long)pl_vm(_metadata, g->id, "active_fast"),
		       (unsigned long long)pl_vm(_metadata, g->id, "active_period"),
		       (unsigned long long)err, (unsigned long long)d.passes);
		EXPECT_GE(10ULL, err) TH_LOG("phase %u: estimate %llu%%, truth %llu%%",
					     i, (unsigned long long)est,
					     (unsigned long long)truth);
	}
	wall = vmm_now_ns() - t0;
	pns = pl_u64(_metadata, "policy_ns") - pns0;
	sns = pl_u64(_metadata, "sample_ns") - sns0;
	s = pl_u64(_metadata, "samples") - s0;
	sp = pl_u64(_metadata, "sample_periods") - sp0;
	ASSERT_EQ(0, driver_stop(&d));
	TH_LOG("worst tracking error %llu points", (unsigned long long)worst);
	/*
	 * Cost: policy_ns (sampling included) per second of wall time, per
	 * GiB of guest RAM, as a fraction of one CPU; scaled to 100 GiB at
	 * these (aggressive) sampling settings, linearly in the VM size.
	 */
	TH_LOG("cost over %llu ms, one %llu MiB guest, period %u ms, %u samples: policy_ns %llu, sample_ns %llu (%llu samples, %llu periods, %llu ns per sampled gfn)",
	       (unsigned long long)(wall / 1000000),
	       (unsigned long long)(ET_SIZE / MIB), ET_PERIOD_MS, ET_SAMPLES,
	       (unsigned long long)pns, (unsigned long long)sns,
	       (unsigned long long)s, (unsigned long long)sp,
	       (unsigned long long)(s ? sns / s : 0));
	TH_LOG("policy cost: %.4f%% of a CPU for %llu MiB = %.4f%% per GiB = %.2f%% of a CPU per 100 GiB (at %u gfns per %u ms per VM; sampling alone %.4f%% per GiB)",
	       100.0 * pns / wall, (unsigned long long)(ET_SIZE / MIB),
	       100.0 * pns / wall * (1024.0 * MIB / ET_SIZE),
	       100.0 * pns / wall * (1024.0 * MIB / ET_SIZE) * 100,
	       ET_SAMPLES, ET_PERIOD_MS,
	       100.0 * sns / wall * (1024.0 * MIB / ET_SIZE));
	EXPECT_LT(0ULL, sns);
	EXPECT_LE(sns, pns);
	EXPECT_LE(ET_SAMPLES * sp, s);

	/*
	 * At the defaults (a turn a second, 100 gfns every 30 s): what a
	 * turn costs, measured over 5 s after the first sample started,
	 * plus a sample's start at the per-gfn cost measured above. Both
	 * are per VM, whatever its size: 100 GiB as 25 VMs of 4 GiB costs
	 * 25 times that.
	 */
	ASSERT_EQ(0, driver_start(&d, g, VMM_FREE_GPA,
				  VMM_FREE_GPA + ws * VMM_PAGE_SIZE));
	PL_SET(PL_PERIOD_MS, 1000);
	PL_SET(PL_SAMPLE_SIZE, 100);
	PL_SET(PL_SAMPLE_PERIOD_MS, 30000);
	pl_sleep_ms(1500);
	pns0 = pl_u64(_metadata, "policy_ns");
	t0 = vmm_now_ns();
	pl_sleep_ms(5000);
	wall = vmm_now_ns() - t0;
	pns = pl_u64(_metadata, "policy_ns") - pns0;
	ret = driver_stop(&d);
	ASSERT_EQ(0, ret);
	turn = (double)pns / wall;		/* a fraction of one CPU */
	start = s ? 100.0 * sns / s / 30e9 : 0;
	vm = turn + start;
	TH_LOG("at the defaults: turns %.5f%% of a CPU, sample starts %.5f%%: %.5f%% per VM; 100 GiB as 25 VMs of 4 GiB: %.3f%% of a CPU; scaled linearly from this %llu MiB guest: %.3f%% per 100 GiB",
	       100 * turn, 100 * start, 100 * vm, 25 * 100 * vm,
	       (unsigned long long)(ET_SIZE / MIB),
	       100 * vm * (100.0 * 1024 * MIB / ET_SIZE));
}

/* ------------------------------------------------------------------ */
/* (c) A limit is never exceeded */

#define LM_SIZE		(32 * MIB)
#define LM_LIMIT	1024ULL		/* pages: 4 MiB */

struct watcher {
	pthread_t thread;
	int fd;
	int stop;
	u64 checks, max_charge, min_resident, min_charge;
};

static void *watcher_run(void *arg)
{
	struct watcher *w = arg;
	struct memvirt_stats st;
	u64 c;

	w->min_resident = w->min_charge = ~0ULL;
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		if (mv_get_stats(w->fd, &st))
			break;
		c = pl_charge(&st);
		if (c > w->max_charge)
			w->max_charge = c;
		if (st.resident < w->min_resident)
			w->min_resident = st.resident;
		if (c < w->min_charge)
			w->min_charge = c;
		w->checks++;
		usleep(1000);
	}
	return NULL;
}

static void watcher_stop(struct watcher *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
}

TEST_F_TIMEOUT(kp, limit_never_exceeded_by_guest, 180)
{
	struct watcher w = { 0 };
	struct memvirt_stats st;
	struct guest *g;
	int ret, i;

	PL_SET(PL_SAMPLE_PERIOD_MS, 500);
	PL_SET(PL_SAMPLE_SIZE, 100);
	g = GUEST(0, LM_SIZE, false);
	ASSERT_EQ(0, mv_set_policy(g->fd, MEMVIRT_POLICY_LIMIT, 0, 0,
				   LM_LIMIT * VMM_PAGE_SIZE));
	w.fd = g->fd;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, watcher_run, &w));
	ret = vm_run_one(g->vm, 0, VMM_PROG_FILL, VMM_FREE_GPA, LM_SIZE, SEED,
			 RUN_TIMEOUT_S);
	watcher_stop(&w);
	ASSERT_EQ(0, ret) TH_LOG("FILL");
	EXPECT_EQ(0ULL, vcpu_report(g->vm, 0, VMM_REPORT_MISMATCHES, 1));
	for (i = 0; i < 200; i++) {
		stats(_metadata, g, &st);
		if (pl_charge(&st) <= LM_LIMIT)
			break;
		pl_sleep_ms(50);
	}
	TH_LOG("limit %llu pages, guest wrote %llu: %llu checks, highest charge %llu; now resident %llu swapped %llu compressed %llu",
	       LM_LIMIT, (unsigned long long)PAGES(LM_SIZE - VMM_FREE_GPA),
	       (unsigned long long)w.checks, (unsigned long long)w.max_charge,
	       st.resident, st.swapped, st.compressed);
	EXPECT_LT(100ULL, w.checks);
	/* pages whose swap write is in flight stay resident: one batch */
	EXPECT_GE(LM_LIMIT + SW_LIMIT_BATCH, w.max_charge);
	EXPECT_GE(LM_LIMIT, pl_charge(&st));
	EXPECT_GE(LM_LIMIT, pl_vm(_metadata, g->id, "target"));
	EXPECT_LE(PAGES(LM_SIZE - VMM_FREE_GPA) - LM_LIMIT, st.swapped + st.compressed);
	/* every word comes back, the charge still within the limit */
	w.stop = 0;
	w.checks = w.max_charge = 0;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, watcher_run, &w));
	ret = vm_run_one(g->vm, 0, VMM_PROG_VERIFY, VMM_FREE_GPA, LM_SIZE, SEED,
			 RUN_TIMEOUT_S);
	watcher_stop(&w);
	ASSERT_EQ(0, ret) TH_LOG("VERIFY");
	EXPECT_EQ(0ULL, vcpu_report(g->vm, 0, VMM_REPORT_MISMATCHES, 1))
		TH_LOG("first bad gfn 0x%llx",
		       vcpu_report(g->vm, 0, VMM_REPORT_BAD_GFN, 0));
	EXPECT_GE(LM_LIMIT + SW_LIMIT_BATCH, w.max_charge);
}

/* ------------------------------------------------------------------ */
/* (d) A reservation is never reclaimed */

#define RS_SIZE		(32 * MIB)
#define RS_RES		4096ULL		/* pages: 16 MiB */
#define RS_BUDGET_MB	40ULL
#define RS_WS_END	(16 * MIB)

TEST_F_TIMEOUT(kp, reservation_never_reclaimed_under_pressure, 180)
{
	struct watcher w = { 0 };
	struct memvirt_stats sa, sb;
	struct guest *a, *b;
	struct driver d;
	u64 t0, ms, ta;
	int ret;

	PL_SET(PL_SAMPLE_PERIOD_MS, 500);
	PL_SET(PL_SAMPLE_SIZE, 100);
	a = GUEST(0, RS_SIZE, true);
	b = GUEST(1, RS_SIZE, true);
	ASSERT_EQ(0, mv_set_policy(a->fd, MEMVIRT_POLICY_SHARES |
				   MEMVIRT_POLICY_RESERVATION, 1,
				   RS_RES * VMM_PAGE_SIZE, 0));
	ASSERT_EQ(0, mv_set_policy(b->fd, MEMVIRT_POLICY_SHARES, 1000000, 0, 0));
	w.fd = a->fd;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, watcher_run, &w));
	/* b's working set (15 MiB) fits its target (avail - a's 16 MiB) */
	ASSERT_EQ(0, driver_start(&d, b, VMM_FREE_GPA, RS_WS_END));
	t0 = pl_now_ms();
	PL_SET_GLOBAL("budget_mb", RS_BUDGET_MB);
	do {
		pl_sleep_ms(200);
		stats(_metadata, a, &sa);
		ta = pl_vm(_metadata, a->id, "target");
		ms = pl_now_ms() - t0;
	} while (pl_charge(&sa) > ta && ms < 60000);
	pl_sleep_ms(3000);
	ret = driver_stop(&d);
	watcher_stop(&w);
	ASSERT_EQ(0, ret);
	stats(_metadata, a, &sa);
	stats(_metadata, b, &sb);
	TH_LOG("a: reservation %llu, %llu checks, lowest charge %llu, lowest resident %llu, now resident %llu compressed %llu swapped %llu target %llu; b: resident %llu swapped %llu target %llu; %s",
	       RS_RES, (unsigned long long)w.checks,
	       (unsigned long long)w.min_charge,
	       (unsigned long long)w.min_resident, sa.resident, sa.compressed,
	       sa.swapped,
	       (unsigned long long)pl_vm(_metadata, a->id, "target"),
	       sb.resident, sb.swapped,
	       (unsigned long long)pl_vm(_metadata, b->id, "target"),
	       pl_state_name(pl_state()));
	EXPECT_LT(100ULL, w.checks);
	/*
	 * The reservation is a floor on the charge (resident pages plus
	 * compressed bytes in pages: what targets cap): a page compressed
	 * within the reservation still counts. Resident alone may be below
	 * by what is compressed (the mostly-zero pages of the VMM's first
	 * MiB), never by more.
	 */
	EXPECT_LE(RS_RES, w.min_charge);
	EXPECT_LE(RS_RES, w.min_resident + sa.compressed);
	EXPECT_EQ(RS_RES, pl_vm(_metadata, a->id, "target"));
	/* a gave back what it held above its reservation, not more */
	EXPECT_LT(0ULL, sa.swapped);
	EXPECT_LE(RS_RES, pl_charge(&sa));
	/* and a still holds its data */
	ret = vm_run_one(a->vm, 0, VMM_PROG_VERIFY, VMM_FREE_GPA, RS_SIZE, SEED,
			 RUN_TIMEOUT_S);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0ULL, vcpu_report(a->vm, 0, VMM_REPORT_MISMATCHES, 1));
}

/* ------------------------------------------------------------------ */
/* Four guests at 2x overcommit: two idle, two active */

#define OC_SIZE		(32 * MIB)
#define OC_WS		(16 * MIB)	/* the active guests' working set */
#define OC_BUDGET_MB	64ULL		/* 4 x 32 MiB = 2 x budget */
#define OC_SETTLE_S	60		/* longest wait for the reclaim to end */
#define OC_WINDOW_S	20		/* then measured that long */
#define OC_STEADY_S	3		/* steady state: the window's last seconds */

/*
 * All four fill their RAM with the budget at its default, the active two
 * start on their working sets and the sampler learns who is idle; then
 * the budget is cut to half the guests' RAM. Once the reclaim is done
 * (HIGH again, or OC_SETTLE_S), the working sets' residency is sampled
 * every second for OC_WINDOW_S: at steady state (the mean of the window's
 * last OC_STEADY_S seconds) each active guest holds at least 90% of its
 * working set. The lowest residency in the window is printed too: under
 * TCG an active guest that lost part of its working set in the cut
 * stalls on swap-ins and looks idle to the sampler for a while.
 */
TEST_F_TIMEOUT(kp, overcommit_4_guests_active_keep_working_set, 220)
{
	u64 t0, ms, pns0, pns, rns0, rns, wall0, wall, res[NR_GUESTS], ws_pages, sum;
	u64 pct[2] = { 0 }, minp[2] = { 100, 100 }, steady[2] = { 0 }, passes[2], k;
	struct memvirt_stats st[NR_GUESTS];
	struct guest *g[NR_GUESTS];
	struct driver d[2];
	int i;

	PL_SET(PL_SAMPLE_PERIOD_MS, 1000);
	PL_SET(PL_SAMPLE_SIZE, 200);
	for (i = 0; i < NR_GUESTS; i++)
		g[i] = GUEST(i, OC_SIZE, true);
	/* guests 2 and 3 are active */
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, driver_start(&d[i], g[2 + i], VMM_FREE_GPA,
					  VMM_FREE_GPA + OC_WS));
	wait_periods(_metadata, g[0]->id, 4, 20000);
	for (i = 0; i < NR_GUESTS; i++)
		TH_LOG("before the cut: guest %d estimate %llu%%", i,
		       (unsigned long long)pl_vm(_metadata, g[i]->id, "active_estimate"));
	pns0 = pl_u64(_metadata, "policy_ns");
	rns0 = pl_u64(_metadata, "reclaim_ns");
	wall0 = vmm_now_ns();
	t0 = pl_now_ms();
	PL_SET_GLOBAL("budget_mb", OC_BUDGET_MB);
	do {
		pl_sleep_ms(500);
		ms = pl_now_ms() - t0;
	} while ((pl_state() != PL_HIGH || ms < 3000) && ms < OC_SETTLE_S * 1000);
	TH_LOG("reclaim done after %llu ms (%s)", (unsigned long long)ms,
	       pl_state_name(pl_state()));
	ws_pages = PAGES(OC_WS);
	for (k = 0; k < OC_WINDOW_S; k++) {
		pl_sleep_ms(1000);
		for (i = 0; i < 2; i++) {
			pct[i] = private_in(g[2 + i], VMM_FREE_GPA, OC_WS) * 100 / ws_pages;
			minp[i] = pct[i] < minp[i] ? pct[i] : minp[i];
			if (k >= OC_WINDOW_S - OC_STEADY_S)
				steady[i] += pct[i];
			passes[i] = __atomic_load_n(&d[i].passes, __ATOMIC_ACQUIRE);
		}
		TH_LOG("+%llu s (%s): working sets resident %llu%% %llu%%, estimates %llu%% %llu%%, passes %llu %llu",
		       (unsigned long long)k + 1, pl_state_name(pl_state()),
		       (unsigned long long)pct[0], (unsigned long long)pct[1],
		       (unsigned long long)pl_vm(_metadata, g[2]->id, "active_estimate"),
		       (unsigned long long)pl_vm(_metadata, g[3]->id, "active_estimate"),
		       (unsigned long long)passes[0], (unsigned long long)passes[1]);
	}
	wall = vmm_now_ns() - wall0;
	pns = pl_u64(_metadata, "policy_ns") - pns0;
	rns = pl_u64(_metadata, "reclaim_ns") - rns0;
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, driver_stop(&d[i]));
	sum = 0;
	for (i = 0; i < NR_GUESTS; i++) {
		stats(_metadata, g[i], &st[i]);
		res[i] = st[i].resident;
		sum += res[i];
		TH_LOG("guest %d (%s): resident %llu swapped %llu compressed %llu target %llu estimate %llu%%",
		       i, i < 2 ? "idle" : "active", (unsigned long long)res[i],
		       st[i].swapped, st[i].compressed,
		       (unsigned long long)pl_vm(_metadata, g[i]->id, "target"),
		       (unsigned long long)pl_vm(_metadata, g[i]->id, "active_estimate"));
	}
	for (i = 0; i < 2; i++)
		steady[i] /= OC_STEADY_S;
	TH_LOG("4 guests x %llu MiB on a %llu MiB budget (2x): at steady state the active guests keep %llu%% and %llu%% of their %llu MiB working sets resident (lowest in the window %llu%%, %llu%%); policy %.3f%% of a CPU for %llu MiB of guests, of which reclaim %.3f%%",
	       (unsigned long long)(OC_SIZE / MIB), OC_BUDGET_MB,
	       (unsigned long long)steady[0], (unsigned long long)steady[1],
	       (unsigned long long)(OC_WS / MIB), (unsigned long long)minp[0],
	       (unsigned long long)minp[1], 100.0 * pns / wall,
	       (unsigned long long)(4 * OC_SIZE / MIB), 100.0 * rns / wall);
	EXPECT_LE(90ULL, steady[0]);
	EXPECT_LE(90ULL, steady[1]);
	for (i = 0; i < 2; i++) {
		EXPECT_LT(res[i], res[2 + i]);
		EXPECT_LT(0ULL, st[i].swapped);
	}
	/* the guests hold no more than the budget */
	EXPECT_GE(OC_BUDGET_MB * 256, sum);
}

VMM_TEST_HARNESS_MAIN
