// SPDX-License-Identifier: GPL-2.0
/*
 * Sampled working sets.
 *
 * DOC: sampled working sets
 *
 * A guest's memory use is invisible to the host: KVM maps guest pages
 * once and the guest then uses them without a fault. As ESX does, memvirt
 * estimates each VM's active fraction by statistical sampling: every
 * sample_period_ms it picks sample_size random gfns among the VM's private
 * pages, marks each SAMPLED in its P2M entry and unmaps it through the
 * reclaim protocol (gfn lock, page lock, one unmap, which makes KVM drop
 * its nested entry). The next access to such a gfn, by the guest or by the
 * VMM, faults, and the fault marks it TOUCHED. At the end of the period
 * the touched share t/n of the sample estimates the active fraction f.
 *
 * Three moving averages smooth the estimate (permille): a slow one (gain
 * 5/8 per period), a fast one (gain 7/8), and the fast one with the
 * touches seen so far in the running period, which only ever raises it;
 * the policy uses the highest, so a VM whose working set grows is believed
 * at once, and one whose working set shrinks within about three periods
 * ((3/8)^3 of the drop is left). A new VM counts as fully active until
 * its first sample ends. A gfn that is reclaimed, punched or truncated
 * while sampled counts as untouched.
 *
 * The cost: sample_size unmaps and as many minor faults per VM per period,
 * and reading sample_size P2M entries per VM at every policy turn; the
 * time spent is in /sys/kernel/memvirt/policy/sample_ns.
 */
#include <linux/freezer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "module/memvirt.h"
#include "policy/policy.h"

/* Random probes per gfn wanted: a VM with few private pages yields fewer. */
#define MEMVIRT_SAMPLE_PROBES	32

/*
 * Sample the gfn of @ptep if it is PRIVATE and not yet sampled: mark it,
 * and unmap it under its page's lock (which waits out a fault installing
 * it), so its next access faults.
 */
static bool memvirt_sample_gfn(struct memvirt_vm *vm, u64 gfn, u64 *ptep)
{
	struct page *page;
	bool taken = false;
	u64 pte;

	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	pte = memvirt_p2m_read(ptep);
	if (memvirt_pte_state(pte) == MEMVIRT_P2M_PRIVATE && !(pte & MEMVIRT_PTE_SAMPLED)) {
		page = pfn_to_page(memvirt_pte_pfn(pte));
		lock_page(page);
		memvirt_p2m_set(ptep, (pte & ~MEMVIRT_PTE_TOUCHED) | MEMVIRT_PTE_SAMPLED);
		vm->store_ops->unmap(vm, gfn, 1);
		unlock_page(page);
		taken = true;
	}
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
	return taken;
}

/* Start a sample of up to @size random private gfns. */
static void memvirt_sample_start(struct memvirt_vm *vm, unsigned int size)
{
	struct memvirt_vm_policy *p = &vm->policy;
	u64 pages = memvirt_vm_pages(vm), gfn, *ptep;
	unsigned int probes;

	if (!size || !pages || !atomic_long_read(&vm->stats.resident))
		return;
	p->sample = kmalloc_array(size, sizeof(*p->sample), GFP_KERNEL);
	if (!p->sample)
		return;
	p->nr_sample = 0;
	for (probes = 0; probes < size * MEMVIRT_SAMPLE_PROBES && p->nr_sample < size; probes++) {
		gfn = get_random_u64() % pages;
		ptep = memvirt_p2m_find(&vm->p2m, gfn);
		if (ptep && memvirt_sample_gfn(vm, gfn, ptep))
			p->sample[p->nr_sample++] = gfn;
		if (!(probes % 64))
			cond_resched();
	}
	atomic_long_add(p->nr_sample, &memvirt_policy_stats.samples);
	if (!p->nr_sample) {
		kfree(p->sample);
		p->sample = NULL;
	}
}

/* Sampled gfns touched so far; @end: the sample is over, unmark them. */
static unsigned int memvirt_sample_count(struct memvirt_vm *vm, bool end)
{
	struct memvirt_vm_policy *p = &vm->policy;
	unsigned int i, touched = 0;
	u64 *ptep, pte;

	for (i = 0; i < p->nr_sample; i++) {
		ptep = memvirt_p2m_find(&vm->p2m, p->sample[i]);
		if (!ptep)
			continue;
		memvirt_p2m_lock_gfn(&vm->p2m, ptep);
		pte = memvirt_p2m_read(ptep);
		if (pte & MEMVIRT_PTE_SAMPLED) {
			if (pte & MEMVIRT_PTE_TOUCHED)
				touched++;
			if (end)
				memvirt_p2m_set(ptep, pte & ~(MEMVIRT_PTE_SAMPLED |
							      MEMVIRT_PTE_TOUCHED));
		}
		memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
	}
	return touched;
}

/* @avg moved toward @frac by @gain eighths. */
static u32 memvirt_sample_ewma(u32 avg, u32 frac, int gain)
{
	return (s32)avg + ((s32)frac - (s32)avg) * gain / 8;
}

/**
 * memvirt_sample_tick - one policy turn's sampling work for a VM.
 * @vm: the VM, between memvirt_vm_begin_work() and memvirt_vm_end_work().
 * @now: jiffies.
 *
 * Called by the sampler thread alone, which owns the VM's sample and
 * averages (others read them with READ_ONCE()).
 *
 * Updates the within-period estimate; ends the running sample when its
 * period is over (updating the averages) and starts the next one.
 */
void memvirt_sample_tick(struct memvirt_vm *vm, unsigned long now)
{
	struct memvirt_vm_policy *p = &vm->policy;
	unsigned int touched, frac;

	if (p->sample) {
		bool end = !time_before(now, p->sample_end);

		touched = memvirt_sample_count(vm, end);
		frac = touched * MEMVIRT_PERMILLE / p->nr_sample;
		if (!end) {
			WRITE_ONCE(p->period, frac > p->fast ?
				   memvirt_sample_ewma(p->fast, frac, 7) : p->fast);
			return;
		}
		WRITE_ONCE(p->slow, memvirt_sample_ewma(p->slow, frac, 5));
		WRITE_ONCE(p->fast, memvirt_sample_ewma(p->fast, frac, 7));
		WRITE_ONCE(p->period, p->fast);
		WRITE_ONCE(p->last_touched, touched);
		WRITE_ONCE(p->last_sampled, p->nr_sample);
		p->sample_periods++;
		atomic_long_inc(&memvirt_policy_stats.sample_periods);
		memvirt_sample_free(vm);
	} else if (time_before(now, p->sample_end)) {
		return;
	}
	/*
	 * The period runs from the last gfn sampled: unmaps can take
	 * milliseconds each (a nested or emulated host), and a gfn sampled
	 * at the end of the period would have no time to be touched.
	 */
	memvirt_sample_start(vm, READ_ONCE(memvirt_policy_knobs.sample_size));
	p->sample_end = jiffies +
			msecs_to_jiffies(READ_ONCE(memvirt_policy_knobs.sample_period_ms));
}

/*
 * The sampler has its own thread, memvirt_sample: an unmap costs a TLB
 * shootdown (and for a KVM guest a remote flush of its nested entries),
 * milliseconds each in a nested or emulated host, and a sample of a
 * hundred must never hold up the policy thread's targets and reclaim. Its
 * time counts in sample_ns and, as all of the policy's CPU time, in
 * policy_ns.
 */
static struct task_struct *memvirt_sample_task;
static DECLARE_WAIT_QUEUE_HEAD(memvirt_sample_wq);
static atomic_t memvirt_sample_kicked;

/* Wake the sampler: sample_period_ms or sample_size changed. */
void memvirt_sample_kick(void)
{
	atomic_set(&memvirt_sample_kicked, 1);
	wake_up(&memvirt_sample_wq);
}

static void memvirt_sample_turn(void)
{
	unsigned long now = jiffies;
	struct memvirt_vm *vm;
	u64 id = 0, t0;

	while ((vm = memvirt_vm_next_get(id + 1))) {
		id = vm->id;
		if (memvirt_vm_begin_work(vm)) {
			t0 = ktime_get_ns();
			memvirt_sample_tick(vm, now);
			t0 = ktime_get_ns() - t0;
			atomic_long_add(t0, &memvirt_policy_stats.sample_ns);
			atomic_long_add(t0, &memvirt_policy_stats.policy_ns);
			memvirt_vm_end_work(vm);
		}
		memvirt_vm_put(vm);
		cond_resched();
	}
}

/* Every period_ms: the within-period estimates, and samples that are due. */
static int memvirt_sample_thread(void *data)
{
	unsigned long wait;

	set_freezable();
	while (!kthread_should_stop()) {
		memvirt_sample_turn();
		wait = msecs_to_jiffies(READ_ONCE(memvirt_policy_knobs.period_ms));
		wait_event_freezable_timeout(memvirt_sample_wq,
					     atomic_xchg(&memvirt_sample_kicked, 0) ||
					     kthread_should_stop(), wait);
	}
	return 0;
}

int memvirt_sample_init(void)
{
	memvirt_sample_task = kthread_run(memvirt_sample_thread, NULL, "memvirt_sample");
	return PTR_ERR_OR_ZERO(memvirt_sample_task);
}

void memvirt_sample_exit(void)
{
	kthread_stop(memvirt_sample_task);
}

/* Drops the running sample (its gfns' marks stay until they are rebuilt). */
void memvirt_sample_free(struct memvirt_vm *vm)
{
	kfree(vm->policy.sample);
	vm->policy.sample = NULL;
	vm->policy.nr_sample = 0;
}
