// SPDX-License-Identifier: GPL-2.0
/*
 * Targets: how much memory each VM should hold.
 *
 * DOC: targets and the idle memory tax
 *
 * ESX (Waldspurger, OSDI 2002) reclaims from the VM with the lowest
 * adjusted shares-per-page ratio
 *
 *	rho = S / (P * (f + k * (1 - f))),	k = 1 / (1 - tax)
 *
 * where S are the VM's shares, P the pages it holds and f the active
 * fraction of them. An idle page costs k times an active one: with the
 * default tax of 75% k is 4, so a VM that does not use its memory loses it
 * first, while among fully active VMs memory follows shares.
 *
 * memvirt turns the rule into targets, the allocation at which no VM's
 * rho is lower than another's unless a bound holds it: each VM gets
 *
 *	target = clamp(S * C / w, min, max),	w = f + k * (1 - f)
 *
 * for the one C at which the targets add up to the memory available
 * (water-filling). min is the reservation, max the lowest of the limit,
 * the size and the VM's demand. If even the ceilings fit, every VM gets its
 * ceiling; if the reservations alone do not leave room, every VM gets its
 * reservation (admission control keeps their sum within the budget).
 */
#include <linux/bits.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/slab.h>

#include "module/kunit_export.h"
#include "policy/policy.h"

/* Far beyond any host (256 TiB of 4 KiB pages), and keeps max * w in a u64. */
#define MEMVIRT_TARGET_MAX_PAGES	BIT_ULL(46)

/**
 * memvirt_policy_weight - cost of a VM's pages under the idle memory tax.
 * @active_permille: active fraction f of its pages, 0..1000.
 * @idle_tax: percent, 0..MEMVIRT_IDLE_TAX_MAX.
 *
 * Return: 1000 * (f + k * (1 - f)), k = 1 / (1 - tax): from 1000 (all
 * active, or no tax) to 100000 (idle, tax 99%).
 */
u64 memvirt_policy_weight(u32 active_permille, unsigned int idle_tax)
{
	u32 f = min(active_permille, MEMVIRT_PERMILLE);

	idle_tax = min_t(unsigned int, idle_tax, MEMVIRT_IDLE_TAX_MAX);
	return f + (u64)(MEMVIRT_PERMILLE - f) * 100 / (100 - idle_tax);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_policy_weight);

/* Levels between two whole ones: 2^20 steps, each well under a page. */
#define MEMVIRT_TARGET_FRAC		BIT_ULL(20)
/* Keeps S * fraction in a u64; 4000 times the most SET_POLICY accepts. */
#define MEMVIRT_TARGET_MAX_SHARES	BIT_ULL(32)

/*
 * VM @v's allocation at level @c + @x / MEMVIRT_TARGET_FRAC:
 * S * level / w, within [min, max].
 */
static u64 memvirt_target_at(const struct memvirt_target_in *v, u64 w, u64 c, u64 x)
{
	u64 q;

	/* Beyond max * w / S, S * c could overflow: the ceiling holds. */
	if (c >= DIV_ROUND_UP(v->max_pages * w, v->shares))
		return v->max_pages;
	q = v->shares * c;
	q = q / w + ((q % w) * MEMVIRT_TARGET_FRAC + v->shares * x) / (w * MEMVIRT_TARGET_FRAC);
	return clamp(q, v->min_pages, v->max_pages);
}

static u64 memvirt_targets_at(const struct memvirt_target_in *vms, const u64 *w,
			      unsigned int n, u64 c, u64 x)
{
	u64 sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		sum += memvirt_target_at(&vms[i], w[i], c, x);
	return sum;
}

/**
 * memvirt_policy_targets - divide @avail_pages among VMs by adjusted shares.
 * @vms: the VMs' inputs; each @target is set.
 * @n: how many.
 * @avail_pages: memory to divide.
 * @idle_tax: percent, 0..MEMVIRT_IDLE_TAX_MAX.
 *
 * Targets equalise rho = S / (target * w) among VMs not held by their
 * reservation or their ceiling, and add up to exactly @avail_pages unless
 * every VM is at its ceiling (less) or at its reservation (possibly more).
 * Shares of 0 count as 1 and above 2^32 as 2^32; a ceiling below the
 * reservation is raised to it; pages beyond 2^46 count as 2^46.
 */
void memvirt_policy_targets(struct memvirt_target_in *vms, unsigned int n, u64 avail_pages,
			    unsigned int idle_tax)
{
	u64 w[16], *wp = w, sum_min = 0, sum_max = 0, lo, hi, x_lo, x_hi, mid, max_w = 0;
	u64 left, more;
	unsigned int i;

	if (!n)
		return;
	if (n > ARRAY_SIZE(w)) {
		wp = kmalloc_array(n, sizeof(*wp), GFP_KERNEL);
		if (!wp) {	/* no memory: the ceilings, the lenient answer */
			for (i = 0; i < n; i++)
				vms[i].target = max(vms[i].min_pages, vms[i].max_pages);
			return;
		}
	}
	avail_pages = min(avail_pages, MEMVIRT_TARGET_MAX_PAGES);
	for (i = 0; i < n; i++) {
		struct memvirt_target_in *v = &vms[i];

		v->shares = clamp_t(u64, v->shares, 1, MEMVIRT_TARGET_MAX_SHARES);
		v->min_pages = min(v->min_pages, MEMVIRT_TARGET_MAX_PAGES);
		v->max_pages = clamp(v->max_pages, v->min_pages, MEMVIRT_TARGET_MAX_PAGES);
		wp[i] = memvirt_policy_weight(v->active_permille, idle_tax);
		max_w = max(max_w, wp[i]);
		sum_min += v->min_pages;
		sum_max += v->max_pages;
	}
	if (sum_max <= avail_pages || sum_min >= avail_pages) {
		for (i = 0; i < n; i++)
			vms[i].target = sum_max <= avail_pages ? vms[i].max_pages :
					vms[i].min_pages;
		goto out;
	}
	/*
	 * The largest whole level whose targets fit: at @hi every VM not at
	 * its ceiling would get more than @avail_pages alone. Then the
	 * largest fraction of a level above it that fits.
	 */
	lo = 0;
	hi = (avail_pages + 1) * max_w;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (memvirt_targets_at(vms, wp, n, mid, 0) <= avail_pages)
			lo = mid;
		else
			hi = mid;
	}
	x_lo = 0;
	x_hi = MEMVIRT_TARGET_FRAC;
	while (x_hi - x_lo > 1) {
		mid = x_lo + (x_hi - x_lo) / 2;
		if (memvirt_targets_at(vms, wp, n, lo, mid) <= avail_pages)
			x_lo = mid;
		else
			x_hi = mid;
	}
	/*
	 * Rounding: the pages left over go to VMs that grow at the next
	 * step, at most one each (a step is under a page for shares up to
	 * MEMVIRT_SHARES_MAX): they tie in rho.
	 */
	left = avail_pages - memvirt_targets_at(vms, wp, n, lo, x_lo);
	for (i = 0; i < n; i++) {
		vms[i].target = memvirt_target_at(&vms[i], wp[i], lo, x_lo);
		more = min(left, memvirt_target_at(&vms[i], wp[i], lo, x_hi) - vms[i].target);
		vms[i].target += more;
		left -= more;
	}
out:
	if (wp != w)
		kfree(wp);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_policy_targets);
