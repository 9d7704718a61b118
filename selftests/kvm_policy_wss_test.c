// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_policy_wss_test.c - the ESX allocation policy (issue 10) with KVM
 * guests on memvirtfs: sampled working sets, and who keeps memory at 2x
 * overcommit. The guests and the fixture are kvm_policy.h's.
 *
 *   estimate_tracks	one guest's working set goes 10% -> 80% -> 10%;
 *			after three sample periods each the estimate is
 *			within 10 points of the truth; the policy's cost is
 *			measured and printed;
 *   overcommit_4	four guests at 2x overcommit, two idle, two active:
 *			the active ones keep at least 90% of their working
 *			set resident at steady state (measured and printed).
 */
#include "kvm_policy.h"

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
