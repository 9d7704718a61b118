// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the pure target computation of the allocation policy
 * (policy/target.c), against the worked examples of the ESX paper
 * (Waldspurger, OSDI 2002) and of Documentation (the spec), and against the
 * properties every result must have: water-filling on adjusted
 * shares-per-page rho = S / (P * w), reservations and ceilings binding,
 * the sum within [avail - n, avail], monotone in shares.
 *
 * Expected values are exact wherever the real-valued solution is a whole
 * number of pages; elsewhere the checker accepts the results the contract
 * allows, within a page: each target floor(S * C / w), or one page more
 * (pages left over by rounding handed out), for one common C, clamped.
 */
#include <kunit/test.h>
#include <linux/bits.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/slab.h>

#include "policy/policy.h"

/* "max huge": far above any avail used here, yet no sum overflows. */
#define HUGE_PAGES	BIT_ULL(50)
/* Above 16 VMs, the computation allocates its scratch space. */
#define NR_MAX		40

/* The weight, as the contract writes it: 1000 * (f + k (1 - f)). */
static u64 ref_weight(u32 f, unsigned int tax)
{
	return f + (u64)(1000 - f) * 100 / (100 - tax);
}

/* A VM's input, without the output. */
struct vm {
	u64 shares, min, max;
	u32 f;
};

static void fill(struct memvirt_target_in *in, const struct vm *v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		in[i] = (struct memvirt_target_in){
			.shares = v[i].shares, .min_pages = v[i].min, .max_pages = v[i].max,
			.active_permille = v[i].f, .target = 0xdeadbeefULL,
		};
	}
}

/* a / b < c / d (x86_64 only, as memvirt: 6.1 has no u128 typedef) */
static bool frac_lt(u64 a, u64 b, u64 c, u64 d)
{
	return (__uint128_t)a * d < (__uint128_t)c * b;
}

/*
 * Check @in (the function's output) against the inputs @v as the contract
 * says: bounds, the two whole-budget cases, the sum, and one common C.
 * Returns false (after reporting) if anything is off.
 */
static bool check_targets(struct kunit *test, const char *what, const struct vm *v,
			  const struct memvirt_target_in *in, unsigned int n, u64 avail,
			  unsigned int tax)
{
	u64 sum_min = 0, sum_max = 0, sum = 0, lo_n = 0, lo_d = 1, hi_n = 1, hi_d = 0;
	bool all_max = true, all_min = true, ok = true;
	u64 max, w, t;
	unsigned int i;

	for (i = 0; i < n; i++) {
		max = max(v[i].max, v[i].min);
		t = in[i].target;
		if (t < v[i].min || t > max) {
			KUNIT_FAIL(test, "%s: vm %u target %llu outside [%llu, %llu]", what, i, t,
				   v[i].min, max);
			ok = false;
		}
		/* Saturating: "huge" limits must not wrap the test's own sums. */
		sum_min = sum_min + v[i].min < sum_min ? U64_MAX : sum_min + v[i].min;
		sum_max = sum_max + max < sum_max ? U64_MAX : sum_max + max;
		sum = sum + t < sum ? U64_MAX : sum + t;
		all_max &= t == max;
		all_min &= t == v[i].min;
	}
	if (!ok)
		return false;
	if (sum_max <= avail) {
		if (!all_max)
			KUNIT_FAIL(test, "%s: sum of max %llu <= avail %llu, not all at max", what,
				   sum_max, avail);
		return all_max;
	}
	if (sum_min >= avail) {
		if (!all_min)
			KUNIT_FAIL(test, "%s: sum of min %llu >= avail %llu, not all at min", what,
				   sum_min, avail);
		return all_min;
	}
	if (sum > avail || sum + n < avail) {
		KUNIT_FAIL(test, "%s: sum %llu outside [avail - n, avail] = [%llu - %u, %llu]",
			   what, sum, avail, n, avail);
		return false;
	}
	/*
	 * One C for all: floor(S * C / w) = t or t - 1 (a page left over by
	 * rounding) for a VM strictly between its bounds puts C in
	 * [(t - 1) * w / S, (t + 1) * w / S); one at max (above min) needs
	 * C >= (max - 1) * w / S; one at min (below max) needs C <
	 * (min + 1) * w / S. The largest lower bound must be below the
	 * smallest upper bound (hi_d 0: none yet, infinity).
	 */
	for (i = 0; i < n; i++) {
		max = max(v[i].max, v[i].min);
		t = in[i].target;
		w = ref_weight(v[i].f, tax);
		if (max == v[i].min)
			continue;
		if (t > v[i].min && frac_lt(lo_n, lo_d, (t - 1) * w, v[i].shares)) {
			lo_n = (t - 1) * w;
			lo_d = v[i].shares;
		}
		if (t < max && (!hi_d || frac_lt((t + 1) * w, v[i].shares, hi_n, hi_d))) {
			hi_n = (t + 1) * w;
			hi_d = v[i].shares;
		}
	}
	if (hi_d && !frac_lt(lo_n, lo_d, hi_n, hi_d)) {
		KUNIT_FAIL(test, "%s: rho unequal beyond rounding: C >= %llu/%llu, C < %llu/%llu",
			   what, lo_n, lo_d, hi_n, hi_d);
		for (i = 0; i < n; i++)
			kunit_info(test, "  vm %u: S %llu f %u min %llu max %llu -> %llu\n", i,
				   v[i].shares, v[i].f, v[i].min, v[i].max, in[i].target);
		return false;
	}
	return true;
}

/* Run the computation on @v and check it; the targets land in @out. */
static bool run(struct kunit *test, const char *what, const struct vm *v, unsigned int n,
		u64 avail, unsigned int tax, u64 *out)
{
	struct memvirt_target_in *in;
	unsigned int i;
	bool ok;

	in = kunit_kmalloc_array(test, max(n, 1U), sizeof(*in), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	fill(in, v, n);
	memvirt_policy_targets(in, n, avail, tax);
	ok = check_targets(test, what, v, in, n, avail, tax);
	for (i = 0; i < n; i++) {
		/* The inputs are the caller's, but for max raised to min. */
		KUNIT_EXPECT_EQ_MSG(test, in[i].shares, v[i].shares, "%s vm %u", what, i);
		KUNIT_EXPECT_EQ_MSG(test, in[i].min_pages, v[i].min, "%s vm %u", what, i);
		KUNIT_EXPECT_EQ_MSG(test, in[i].active_permille, v[i].f, "%s vm %u", what, i);
		if (out)
			out[i] = in[i].target;
	}
	kunit_kfree(test, in);
	return ok;
}

#define IDLE	0
#define ACTIVE	1000

/* weight(f, tax) = f + (1000 - f) * 100 / (100 - tax), the spec's examples first. */
static void memvirt_policy_weight_values(struct kunit *test)
{
	unsigned int tax;
	u32 f;

	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(0, 75), 4000ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(1000, 75), 1000ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(500, 75), 2500ULL);
	/* No tax: idle and active weigh the same. */
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(0, 0), 1000ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(500, 0), 1000ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(1000, 0), 1000ULL);
	/* tax 50: k = 2; tax 99: k = 100. */
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(0, 50), 2000ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(250, 50), 1750ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(0, 99), 100000ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(500, 99), 50500ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(999, 99), 1099ULL);
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(1000, 99), 1000ULL);
	/* Rounding down: 1000 * 100 / 67 = 1492.5. */
	KUNIT_EXPECT_EQ(test, memvirt_policy_weight(0, 33), 1492ULL);

	for (tax = 0; tax < 100; tax++) {
		KUNIT_EXPECT_EQ_MSG(test, memvirt_policy_weight(1000, tax), 1000ULL, "tax %u", tax);
		for (f = 0; f <= 1000; f += 50) {
			KUNIT_EXPECT_EQ_MSG(test, memvirt_policy_weight(f, tax), ref_weight(f, tax),
					    "f %u tax %u", f, tax);
			/* A busier VM weighs no more; a higher tax weighs idle more. */
			if (f)
				KUNIT_EXPECT_LE_MSG(test, memvirt_policy_weight(f, tax),
						    memvirt_policy_weight(f - 50, tax),
						    "f %u tax %u", f, tax);
			if (tax)
				KUNIT_EXPECT_GE_MSG(test, memvirt_policy_weight(f, tax),
						    memvirt_policy_weight(f, tax - 1),
						    "f %u tax %u", f, tax);
		}
	}
}

/* The spec's first example: equal shares, tax 75, idle 200 and active 800. */
static void memvirt_policy_idle_pays_tax(struct kunit *test)
{
	const struct vm v[] = {
		{ .shares = 1000, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	u64 t[2];

	run(test, "idle/active tax 75", v, 2, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 200ULL);
	KUNIT_EXPECT_EQ(test, t[1], 800ULL);
	/* rho equal: 1000 / (200 * 4) == 1000 / (800 * 1). */
	KUNIT_EXPECT_EQ(test, t[0] * ref_weight(IDLE, 75), t[1] * ref_weight(ACTIVE, 75));
}

/*
 * ESX's point: idle VMs lose memory first. Four VMs of equal shares, two
 * idle, two active (the 2x overcommit of the target): 100, 100,
 * 400, 400; half active weighs 2500: 1000 against an active 2500.
 */
static void memvirt_policy_idle_lose_first(struct kunit *test)
{
	const struct vm v[] = {
		{ .shares = 1000, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	const struct vm half[] = {
		{ .shares = 1000, .max = HUGE_PAGES, .f = 500 },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	/* The same VMs, each at its size (1000): enough for all, then less. */
	struct vm sized[4];
	u64 t[4], avail;
	unsigned int i;

	run(test, "2 idle 2 active", v, 4, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 100ULL);
	KUNIT_EXPECT_EQ(test, t[1], 100ULL);
	KUNIT_EXPECT_EQ(test, t[2], 400ULL);
	KUNIT_EXPECT_EQ(test, t[3], 400ULL);

	run(test, "half active", half, 2, 3500, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 1000ULL);
	KUNIT_EXPECT_EQ(test, t[1], 2500ULL);

	/*
	 * Shrinking avail from 4000 (everyone at size) down: the idle VMs
	 * give up memory at least as fast as the active ones, and an active
	 * one is never below an idle one.
	 */
	for (i = 0; i < 4; i++)
		sized[i] = (struct vm){ .shares = 1000, .max = 1000, .f = v[i].f };
	for (avail = 4000; avail >= 400; avail -= 200) {
		run(test, "sized", sized, 4, avail, 75, t);
		KUNIT_EXPECT_EQ(test, t[0], t[1]);
		KUNIT_EXPECT_EQ(test, t[2], t[3]);
		KUNIT_EXPECT_LE_MSG(test, t[0], t[2], "avail %llu", avail);
	}
	/* 2500 = 2 * 1000 (active at size) + 2 * 250: C = 1000, idle 1000/4. */
	run(test, "sized 2500", sized, 4, 2500, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 250ULL);
	KUNIT_EXPECT_EQ(test, t[2], 1000ULL);
}

/* Among active VMs (or with no tax), targets follow shares. */
static void memvirt_policy_shares_ratio(struct kunit *test)
{
	const struct vm two[] = {
		{ .shares = 2000, .max = HUGE_PAGES, .f = ACTIVE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	const struct vm big[] = {
		{ .shares = 1000000, .max = HUGE_PAGES, .f = ACTIVE },
		{ .shares = 1000000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	const struct vm three[] = {
		{ .shares = 1, .max = HUGE_PAGES, .f = 300 },
		{ .shares = 2, .max = HUGE_PAGES, .f = 300 },
		{ .shares = 3, .max = HUGE_PAGES, .f = 300 },
	};
	u64 t[3];

	run(test, "2:1", two, 2, 900, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 600ULL);
	KUNIT_EXPECT_EQ(test, t[1], 300ULL);
	/* The same activity, whatever it is, cancels out. */
	run(test, "1:2:3 f 300", three, 3, 600, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 100ULL);
	KUNIT_EXPECT_EQ(test, t[1], 200ULL);
	KUNIT_EXPECT_EQ(test, t[2], 300ULL);
	/*
	 * Not a whole number: 666.67 and 333.33. One C gives 666 and 333,
	 * a slightly larger one 667 and 333 (run() checks there is one).
	 */
	run(test, "2:1 of 1000", two, 2, 1000, 75, t);
	KUNIT_EXPECT_GE(test, t[0], 666ULL);
	KUNIT_EXPECT_LE(test, t[0], 667ULL);
	KUNIT_EXPECT_GE(test, t[1], 333ULL);
	KUNIT_EXPECT_LE(test, t[1], 334ULL);
	/*
	 * Equal shares split evenly, whatever their size: with 1000000
	 * shares a VM's S / w is 1000 pages per unit of C, and rounding
	 * must not hand one VM a thousand pages more than the other.
	 */
	run(test, "1000000:1000000 of 1001", big, 2, 1001, 75, t);
	KUNIT_EXPECT_GE(test, t[0], 500ULL);
	KUNIT_EXPECT_LE(test, t[0], 501ULL);
	KUNIT_EXPECT_GE(test, t[1], 500ULL);
	KUNIT_EXPECT_LE(test, t[1], 501ULL);
	run(test, "2 x 1000000 of 1000", big, 2, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 500ULL);
	KUNIT_EXPECT_EQ(test, t[1], 500ULL);
}

/* Tax 0: shares alone; idle and active of equal shares split evenly. */
static void memvirt_policy_no_tax(struct kunit *test)
{
	const struct vm v[] = {
		{ .shares = 1000, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	const struct vm w[] = {
		{ .shares = 3000, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	u64 t[2];

	run(test, "tax 0", v, 2, 1000, 0, t);
	KUNIT_EXPECT_EQ(test, t[0], 500ULL);
	KUNIT_EXPECT_EQ(test, t[1], 500ULL);
	run(test, "tax 0, 3:1, idle richer", w, 2, 1000, 0, t);
	KUNIT_EXPECT_EQ(test, t[0], 750ULL);
	KUNIT_EXPECT_EQ(test, t[1], 250ULL);
	/* With tax 75, k = 4 undoes the 3:1: 3000/4 against 1000. */
	run(test, "tax 75, 3:1, idle richer", w, 2, 1750, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 750ULL);
	KUNIT_EXPECT_EQ(test, t[1], 1000ULL);
}

/* A reservation binds: the idle VM keeps 500 though its fair share is 200. */
static void memvirt_policy_reservation_binds(struct kunit *test)
{
	const struct vm v[] = {
		{ .shares = 1000, .min = 500, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	/* Not binding: 200 is above a reservation of 150. */
	const struct vm loose[] = {
		{ .shares = 1000, .min = 150, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	/* Three VMs: the reserved one at 500, the others share 1500 by rho. */
	const struct vm three[] = {
		{ .shares = 1000, .min = 500, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	u64 t[3];

	run(test, "reservation binds", v, 2, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 500ULL);
	KUNIT_EXPECT_EQ(test, t[1], 500ULL);
	run(test, "reservation loose", loose, 2, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 200ULL);
	KUNIT_EXPECT_EQ(test, t[1], 800ULL);
	run(test, "reservation of three", three, 3, 2000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 500ULL);
	KUNIT_EXPECT_EQ(test, t[1], 300ULL);
	KUNIT_EXPECT_EQ(test, t[2], 1200ULL);
}

/* A ceiling (limit, size or demand) binds; the rest goes to the others. */
static void memvirt_policy_limit_binds(struct kunit *test)
{
	const struct vm v[] = {
		{ .shares = 1000, .max = 100, .f = ACTIVE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	/* Even an idle VM with tiny shares gets everything the capped one leaves. */
	const struct vm rich[] = {
		{ .shares = 1000000, .max = 100, .f = ACTIVE },
		{ .shares = 1, .max = HUGE_PAGES, .f = IDLE },
	};
	u64 t[2];

	run(test, "limit binds", v, 2, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 100ULL);
	KUNIT_EXPECT_EQ(test, t[1], 900ULL);
	run(test, "limit of the rich", rich, 2, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 100ULL);
	KUNIT_EXPECT_EQ(test, t[1], 900ULL);
}

/* Demand below the fair share: the VM gets its demand, the others the rest. */
static void memvirt_policy_demand_below_share(struct kunit *test)
{
	const struct vm v[] = {
		{ .shares = 1000, .max = 300, .f = ACTIVE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	/* Two small demands, one idle: the active big one takes what is left. */
	const struct vm w[] = {
		{ .shares = 1000, .max = 50, .f = ACTIVE },
		{ .shares = 1000, .max = 60, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	u64 t[4];

	run(test, "demand 300 of 1500", v, 3, 1500, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 300ULL);
	KUNIT_EXPECT_EQ(test, t[1], 600ULL);
	KUNIT_EXPECT_EQ(test, t[2], 600ULL);
	/* 1110 - 110 = 1000 = C + C / 4: 800 and 200. */
	run(test, "two small demands", w, 4, 1110, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 50ULL);
	KUNIT_EXPECT_EQ(test, t[1], 60ULL);
	KUNIT_EXPECT_EQ(test, t[2], 200ULL);
	KUNIT_EXPECT_EQ(test, t[3], 800ULL);
}

/* Everything fits: all at max. Reservations exceed avail: all at min. */
static void memvirt_policy_whole_budget(struct kunit *test)
{
	const struct vm v[] = {
		{ .shares = 1, .max = 100, .f = IDLE },
		{ .shares = 1000, .min = 50, .max = 200, .f = ACTIVE },
		{ .shares = 1000000, .min = 10, .max = 300, .f = 500 },
	};
	/* max below min: raised to min. */
	const struct vm raised[] = {
		{ .shares = 1000, .min = 500, .max = 100, .f = ACTIVE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	u64 t[3];

	run(test, "all max, exactly", v, 3, 600, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 100ULL);
	KUNIT_EXPECT_EQ(test, t[1], 200ULL);
	KUNIT_EXPECT_EQ(test, t[2], 300ULL);
	run(test, "all max, room", v, 3, 1000000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 100ULL);
	KUNIT_EXPECT_EQ(test, t[1], 200ULL);
	KUNIT_EXPECT_EQ(test, t[2], 300ULL);
	/* One short: the VM with the least shares per weight gives the page. */
	run(test, "all max less one", v, 3, 599, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 99ULL);
	KUNIT_EXPECT_EQ(test, t[1], 200ULL);
	KUNIT_EXPECT_EQ(test, t[2], 300ULL);

	run(test, "all min, exactly", v, 3, 60, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 0ULL);
	KUNIT_EXPECT_EQ(test, t[1], 50ULL);
	KUNIT_EXPECT_EQ(test, t[2], 10ULL);
	run(test, "all min, over", v, 3, 20, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 0ULL);
	KUNIT_EXPECT_EQ(test, t[1], 50ULL);
	KUNIT_EXPECT_EQ(test, t[2], 10ULL);

	run(test, "max raised", raised, 2, 2000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 500ULL);
	KUNIT_EXPECT_EQ(test, t[1], 1500ULL);
	run(test, "max raised, fits", raised, 2, 100, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 500ULL);
	KUNIT_EXPECT_EQ(test, t[1], 0ULL);
}

/* n = 0 touches nothing; n = 1 gets avail, clamped. */
static void memvirt_policy_few_vms(struct kunit *test)
{
	struct memvirt_target_in in = { .shares = 1, .max_pages = 5, .target = 42 };
	const struct vm one = { .shares = 1000, .min = 10, .max = 500, .f = IDLE };
	const struct vm lone = { .shares = 1, .max = HUGE_PAGES, .f = IDLE };
	u64 t;

	memvirt_policy_targets(&in, 0, 1000, 75);
	KUNIT_EXPECT_EQ(test, in.target, 42ULL);
	memvirt_policy_targets(&in, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, in.target, 42ULL);

	run(test, "one, between", &one, 1, 300, 75, &t);
	KUNIT_EXPECT_EQ(test, t, 300ULL);
	run(test, "one, above max", &one, 1, 1000, 75, &t);
	KUNIT_EXPECT_EQ(test, t, 500ULL);
	run(test, "one, below min", &one, 1, 5, 75, &t);
	KUNIT_EXPECT_EQ(test, t, 10ULL);
	run(test, "one, none", &one, 1, 0, 75, &t);
	KUNIT_EXPECT_EQ(test, t, 10ULL);
	/* Shares 1, weight 100000: still the whole avail, exactly. */
	run(test, "one, huge", &lone, 1, 1ULL << 40, 99, &t);
	KUNIT_EXPECT_EQ(test, t, 1ULL << 40);
	run(test, "one, 1", &lone, 1, 1, 75, &t);
	KUNIT_EXPECT_EQ(test, t, 1ULL);
}

/* Extremes: shares 1 and 1000000, avail 0 and 2^40, tax 99, f 0 and 1000. */
static void memvirt_policy_extremes(struct kunit *test)
{
	const struct vm s[] = {
		{ .shares = 1, .max = HUGE_PAGES, .f = ACTIVE },
		{ .shares = 1000000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	const struct vm s_idle[] = {
		{ .shares = 1000000, .max = HUGE_PAGES, .f = ACTIVE },
		{ .shares = 1, .max = HUGE_PAGES, .f = IDLE },
	};
	const struct vm r[] = {
		{ .shares = 1000, .min = 7, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	const struct vm tax99[] = {
		{ .shares = 1000, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = HUGE_PAGES, .f = ACTIVE },
	};
	u64 t[2];

	run(test, "1:1000000", s, 2, 1000001, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 1ULL);
	KUNIT_EXPECT_EQ(test, t[1], 1000000ULL);
	run(test, "1:1000000 of 2^40", s, 2, 1000001ULL << 20, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 1ULL << 20);
	KUNIT_EXPECT_EQ(test, t[1], 1000000ULL << 20);
	/*
	 * 1000000 active against 1 idle (weight 4000): 4000000:1 of 2^40,
	 * 1099511352898.84 and 274877.84; the sum within 2 of avail leaves
	 * the small one no other value than 274877.
	 */
	run(test, "1000000 active, 1 idle, 2^40", s_idle, 2, 1ULL << 40, 75, t);
	KUNIT_EXPECT_GE(test, t[0], 1099511352897ULL);
	KUNIT_EXPECT_EQ(test, t[1], 274877ULL);
	/* Too little to go round: the tiny one gets nothing, the sum holds. */
	run(test, "1:1000000 of 1000", s, 2, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 0ULL);
	KUNIT_EXPECT_GE(test, t[1], 999ULL);

	run(test, "avail 0", s, 2, 0, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 0ULL);
	KUNIT_EXPECT_EQ(test, t[1], 0ULL);
	run(test, "avail 0, reserved", r, 2, 0, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 7ULL);
	KUNIT_EXPECT_EQ(test, t[1], 0ULL);

	run(test, "2^40 equal", tax99, 2, 1ULL << 40, 0, t);
	KUNIT_EXPECT_EQ(test, t[0], 1ULL << 39);
	KUNIT_EXPECT_EQ(test, t[1], 1ULL << 39);
	/* Tax 99: k = 100, idle weighs 100000. */
	run(test, "tax 99", tax99, 2, 101000, 99, t);
	KUNIT_EXPECT_EQ(test, t[0], 1000ULL);
	KUNIT_EXPECT_EQ(test, t[1], 100000ULL);
	run(test, "tax 99 of 2^40 / 16", tax99, 2, 101ULL << 36, 99, t);
	KUNIT_EXPECT_EQ(test, t[0], 1ULL << 36);
	KUNIT_EXPECT_EQ(test, t[1], 100ULL << 36);
}

/*
 * "max huge" taken literally: U64_MAX ceilings (an unlimited VM) must not
 * wrap a sum of ceilings into "everything fits".
 */
static void memvirt_policy_unbounded_max(struct kunit *test)
{
	const struct vm v[] = {
		{ .shares = 1000, .max = U64_MAX, .f = IDLE },
		{ .shares = 1000, .max = U64_MAX, .f = ACTIVE },
	};
	const struct vm w[] = {
		{ .shares = 1000, .max = U64_MAX, .f = ACTIVE },
		{ .shares = 1000, .max = U64_MAX, .f = ACTIVE },
		{ .shares = 1000, .max = 2, .f = ACTIVE },
	};
	u64 t[3];

	run(test, "U64_MAX ceilings", v, 2, 1000, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 200ULL);
	KUNIT_EXPECT_EQ(test, t[1], 800ULL);
	run(test, "U64_MAX ceilings, three", w, 3, 1002, 75, t);
	KUNIT_EXPECT_EQ(test, t[0], 500ULL);
	KUNIT_EXPECT_EQ(test, t[1], 500ULL);
	KUNIT_EXPECT_EQ(test, t[2], 2ULL);
}

/* Raising one VM's shares never lowers its target, nor raises another's. */
static void memvirt_policy_monotone_in_shares(struct kunit *test)
{
	static const u64 shares[] = { 1, 2, 3, 10, 99, 100, 1000, 1001, 5000, 99999, 1000000 };
	static const u64 avails[] = { 0, 1, 7, 100, 999, 1000, 4321, 100000, 1ULL << 40 };
	struct vm v[] = {
		{ .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .min = 20, .max = HUGE_PAGES, .f = IDLE },
		{ .shares = 1000, .max = 5000, .f = ACTIVE },
		{ .shares = 3000, .max = HUGE_PAGES, .f = 250 },
	};
	u64 t[4], prev[4];
	unsigned int a, s, i, tax;

	for (tax = 0; tax < 100; tax += 33) {
		for (a = 0; a < ARRAY_SIZE(avails); a++) {
			for (s = 0; s < ARRAY_SIZE(shares); s++) {
				v[0].shares = shares[s];
				if (!run(test, "monotone", v, 4, avails[a], tax, t))
					return;
				if (!s) {
					memcpy(prev, t, sizeof(t));
					continue;
				}
				KUNIT_EXPECT_GE_MSG(test, t[0], prev[0],
						    "shares %llu avail %llu tax %u", shares[s],
						    avails[a], tax);
				for (i = 1; i < 4; i++)
					KUNIT_EXPECT_LE_MSG(test, t[i], prev[i],
							    "vm %u: shares %llu avail %llu tax %u",
							    i, shares[s], avails[a], tax);
				memcpy(prev, t, sizeof(t));
			}
		}
	}
}

/* A busier VM (f up) never gets a lower target. */
static void memvirt_policy_monotone_in_activity(struct kunit *test)
{
	struct vm v[] = {
		{ .shares = 1000, .max = HUGE_PAGES },
		{ .shares = 1000, .max = HUGE_PAGES, .f = 400 },
		{ .shares = 2000, .max = 3000, .f = IDLE },
	};
	u64 t[3], prev = 0;
	u32 f;

	for (f = 0; f <= 1000; f += 25) {
		v[0].f = f;
		if (!run(test, "activity", v, 3, 10000, 75, t))
			return;
		KUNIT_EXPECT_GE_MSG(test, t[0], prev, "f %u", f);
		prev = t[0];
	}
}

/* A small deterministic generator, so failures repeat. */
static u64 rnd_next(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static u64 pick(u64 *s, u64 bound)
{
	return bound ? rnd_next(s) % bound : 0;
}

/*
 * Random VMs: every result is one the contract allows (bounds, sum,
 * whole-budget cases, one common C: rho equal within rounding for every VM
 * not at a bound).
 */
static void memvirt_policy_random(struct kunit *test)
{
	static const u64 scale[] = { 10, 1000, 100000, 1ULL << 30, 1ULL << 40 };
	struct vm *v = kunit_kmalloc_array(test, NR_MAX, sizeof(*v), GFP_KERNEL);
	u64 seed = 0x9e3779b97f4a7c15ULL, top;
	unsigned int iter, n, i, tax, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, v);
	for (iter = 0; iter < 2000 && bad < 5; iter++) {
		n = 1 + pick(&seed, NR_MAX);
		top = scale[pick(&seed, ARRAY_SIZE(scale))];
		tax = pick(&seed, 4) ? pick(&seed, 100) : 75;
		for (i = 0; i < n; i++) {
			v[i].shares = 1 + (pick(&seed, 3) ? pick(&seed, 1000000) : pick(&seed, 3));
			v[i].f = pick(&seed, 3) ? pick(&seed, 1001) : (pick(&seed, 2) ? 1000 : 0);
			v[i].min = pick(&seed, 3) ? 0 : pick(&seed, top / n + 1);
			v[i].max = pick(&seed, 4) ? pick(&seed, top) : HUGE_PAGES;
		}
		if (!run(test, "random", v, n, pick(&seed, 2 * top), tax, NULL)) {
			kunit_info(test, "iteration %u, n %u, tax %u\n", iter, n, tax);
			bad++;
		}
	}
}

static struct kunit_case memvirt_policy_target_cases[] = {
	KUNIT_CASE(memvirt_policy_weight_values),
	KUNIT_CASE(memvirt_policy_idle_pays_tax),
	KUNIT_CASE(memvirt_policy_idle_lose_first),
	KUNIT_CASE(memvirt_policy_shares_ratio),
	KUNIT_CASE(memvirt_policy_no_tax),
	KUNIT_CASE(memvirt_policy_reservation_binds),
	KUNIT_CASE(memvirt_policy_limit_binds),
	KUNIT_CASE(memvirt_policy_demand_below_share),
	KUNIT_CASE(memvirt_policy_whole_budget),
	KUNIT_CASE(memvirt_policy_few_vms),
	KUNIT_CASE(memvirt_policy_extremes),
	KUNIT_CASE(memvirt_policy_unbounded_max),
	KUNIT_CASE(memvirt_policy_monotone_in_shares),
	KUNIT_CASE(memvirt_policy_monotone_in_activity),
	KUNIT_CASE(memvirt_policy_random),
	{}
};

static struct kunit_suite memvirt_policy_target_suite = {
	.name = "memvirt_policy_target",
	.test_cases = memvirt_policy_target_cases,
};

kunit_test_suite(memvirt_policy_target_suite);

MODULE_IMPORT_NS(MEMVIRT_KUNIT);
