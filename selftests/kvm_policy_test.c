// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_policy_test.c - the ESX allocation policy (issue 10) with KVM guests
 * on memvirtfs: who keeps memory under pressure, limits and reservations.
 * The guests and the fixture are kvm_policy.h's: an "active" guest runs
 * VMM_PROG_TOUCH over its working set again and again, an "idle" guest
 * does not run at all; the budget is then cut below what the guests hold.
 *
 *   idle_vs_active	two guests of equal shares; the active one ends
 *			holding more, with the higher active_estimate, and
 *			the targets the idle memory tax implies;
 *   limit		a guest writing 8 times its limit never holds more
 *			(a host thread checks every millisecond) and reads
 *			all its data back;
 *   reservation	a guest with a reservation and next to no shares,
 *			under pressure from an active one, never goes below
 *			its reservation.
 *
 * kvm_policy_wss_test.c has the working-set estimate and four guests at
 * 2x overcommit.
 */
#include "kvm_policy.h"

/* ------------------------------------------------------------------ */
/* (a) An idle and an active guest of equal shares under pressure */

#define IA_SIZE		(32 * MIB)
#define IA_BUDGET_MB	48ULL

TEST_F_TIMEOUT(kp, idle_vs_active_equal_shares, 180)
{
	u64 avail, ti, ta, ei, ea, t0, ms, period;
	struct memvirt_stats si, sa;
	struct guest *idle, *act;
	struct driver d;
	int ret;

	PL_SET(PL_SAMPLE_PERIOD_MS, 500);
	PL_SET(PL_SAMPLE_SIZE, 200);
	idle = GUEST(0, IA_SIZE, true);
	act = GUEST(1, IA_SIZE, true);
	ASSERT_EQ(0, driver_start(&d, act, VMM_FREE_GPA, IA_SIZE));
	/*
	 * A sample period must let the active guest touch its whole RAM:
	 * three passes and at least 500 ms (a pass takes seconds on a debug
	 * kernel with other kernels' VMs on the same two cores).
	 */
	t0 = pl_now_ms();
	while (__atomic_load_n(&d.passes, __ATOMIC_ACQUIRE) < 2 && pl_now_ms() - t0 < 60000)
		pl_sleep_ms(10);
	ms = (pl_now_ms() - t0) / 2;
	period = 3 * ms > 500 ? 3 * ms : 500;
	PL_SET(PL_SAMPLE_PERIOD_MS, period);
	/* the sampler learns who is idle before the pressure */
	EXPECT_LE(4ULL, wait_periods(_metadata, idle->id, 4, 5 * period + 20000));
	ei = pl_vm(_metadata, idle->id, "active_estimate");
	ea = pl_vm(_metadata, act->id, "active_estimate");
	TH_LOG("before the cut: idle %llu%%, active %llu%% (%llu passes)",
	       (unsigned long long)ei, (unsigned long long)ea,
	       (unsigned long long)d.passes);

	t0 = pl_now_ms();
	PL_SET_GLOBAL("budget_mb", IA_BUDGET_MB);
	/*
	 * steady: the idle guest's target recomputed for the new budget
	 * (below its size) and reached, the active one busy again, or 60 s
	 */
	do {
		pl_sleep_ms(200);
		stats(_metadata, idle, &si);
		ti = pl_vm(_metadata, idle->id, "target");
		ms = pl_now_ms() - t0;
		/* the active guest stalls on its pages the cut took: recovered */
		ea = pl_vm(_metadata, act->id, "active_estimate");
	} while ((ti >= PAGES(IA_SIZE) || pl_charge(&si) > ti || ea < 90) && ms < 60000);
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
	TH_LOG("a: charge %llu, target %llu after %llu ms (%s)",
	       (unsigned long long)pl_charge(&sa), (unsigned long long)ta,
	       (unsigned long long)ms, pl_state_name(pl_state()));
	pl_sleep_ms(3000);
	ret = driver_stop(&d);
	watcher_stop(&w);
	TH_LOG("b's driver stopped %llu ms after the cut, %llu passes",
	       (unsigned long long)(pl_now_ms() - t0),
	       (unsigned long long)d.passes);
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

VMM_TEST_HARNESS_MAIN
