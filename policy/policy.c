// SPDX-License-Identifier: GPL-2.0
/*
 * The policy thread: targets, free-memory states, balloon targets, and the
 * reclaim each state calls for; the LOW state's fault gate; the shrinker.
 *
 * DOC: free-memory states
 *
 * Free memory is what the budget has left (budget less the pages VMs hold
 * privately, the shared frames and the compression pool), or what the host
 * has available if that is less: memvirt reacts to the host running short
 * as it does to its own budget. Four thresholds, percent of the budget
 * (free_high_pct 6, free_soft_pct 4, free_hard_pct 2, free_low_pct 1), give
 * four states, as in ESX:
 *
 * - HIGH: nothing is taken but what page sharing finds; balloon targets
 *   only ever shrink;
 * - SOFT (free below soft): balloon targets ask VMs above their target for
 *   the difference; a VM that has not followed within balloon_timeout_ms
 *   has its coldest pages compressed or swapped instead;
 * - HARD (below hard): every VM above its target loses its coldest pages
 *   to compression, else its swap file, down to the target;
 * - LOW (below low): as HARD, and a VM above its target reclaims its own
 *   cold pages in its faults before it may allocate (the fault gate).
 *
 * Falling free memory moves straight to the state it calls for; rising
 * free memory moves up one state at a time and only once free memory is
 * back above the next higher threshold (LOW to HARD at hard, HARD to SOFT
 * at soft, SOFT to HIGH at high), so the state does not flap around one
 * threshold.
 *
 * DOC: balloon targets
 *
 * A VM's balloon target is how many pages its balloon should hold:
 * what it holds now plus what the VM holds beyond its target (in the
 * HIGH state, less what it holds below it). It is published in sysfs
 * (poll()able) and through MEMVIRT_IOC_BALLOON; a VMM or an agent turns
 * it into a balloon request (QEMU: QMP `balloon` with size - target *
 * 4096). While the target is above what the balloon holds (pending), gfns
 * the VMM punches become BALLOONED rather than ZERO and are counted as
 * ballooned.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/freezer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>

#include "dedup/dedup.h"
#include "module/compat.h"
#include "module/memvirt.h"
#include "module/trace.h"
#include "policy/policy.h"
#include "swap/swap.h"

struct memvirt_policy_knobs memvirt_policy_knobs = {
	.idle_tax = MEMVIRT_IDLE_TAX_DEFAULT,
	.period_ms = 1000,
	.sample_period_ms = 30000,
	.sample_size = 100,
	.free_pct = { 6, 4, 2, 1 },
	.balloon_timeout_ms = 10000,
};

struct memvirt_policy_stats memvirt_policy_stats;

/* A VM's room to grow above its charge: its demand. */
#define MEMVIRT_DEMAND_MIN_ROOM	4096	/* pages: 16 MiB */
/* Most pages the policy thread takes from one VM per turn. */
#define MEMVIRT_POLICY_TAKE_MAX	16384

static const char * const memvirt_state_names[] = {
	[MEMVIRT_STATE_HIGH] = "high",
	[MEMVIRT_STATE_SOFT] = "soft",
	[MEMVIRT_STATE_HARD] = "hard",
	[MEMVIRT_STATE_LOW] = "low",
};

static_assert(ARRAY_SIZE(memvirt_state_names) == MEMVIRT_NR_STATES);

static struct task_struct *memvirt_policy_task;
static DECLARE_WAIT_QUEUE_HEAD(memvirt_policy_wq);
static atomic_t memvirt_policy_kicked;
static struct shrinker *memvirt_policy_shrinker;
/* Pages the shrinker asked for and the policy thread has not taken yet. */
static atomic_long_t memvirt_policy_debt;
/* What the shrinker reports: cold pages above VMs' reservations. */
static atomic_long_t memvirt_policy_reclaimable;

/* The state; its times; written by the policy thread under the lock. */
static DEFINE_SPINLOCK(memvirt_state_lock);
static enum memvirt_state memvirt_state;
static u64 memvirt_state_ns[MEMVIRT_NR_STATES];
static u64 memvirt_state_since;
static u64 memvirt_free_last;
static u64 memvirt_avail_last;

/* The thresholds; stores keep them strictly decreasing. */
static DEFINE_MUTEX(memvirt_free_pct_lock);

const char *memvirt_policy_state_name(enum memvirt_state state)
{
	return state < MEMVIRT_NR_STATES ? memvirt_state_names[state] : "invalid";
}

enum memvirt_state memvirt_policy_state(void)
{
	return READ_ONCE(memvirt_state);
}

/* Milliseconds spent in @state since the module was loaded. */
u64 memvirt_policy_state_ms(enum memvirt_state state)
{
	u64 ns;

	spin_lock(&memvirt_state_lock);
	ns = memvirt_state_ns[state];
	if (state == memvirt_state)
		ns += ktime_get_ns() - memvirt_state_since;
	spin_unlock(&memvirt_state_lock);
	return div_u64(ns, NSEC_PER_MSEC);
}

u64 memvirt_policy_free_pages(void)
{
	return READ_ONCE(memvirt_free_last);
}

u64 memvirt_policy_avail_pages(void)
{
	return READ_ONCE(memvirt_avail_last);
}

/**
 * memvirt_policy_set_free_pct - store one state threshold.
 * @state: whose threshold: MEMVIRT_STATE_HIGH .. MEMVIRT_STATE_LOW.
 * @pct: percent of the budget.
 *
 * Return: 0, or -EINVAL if the thresholds would not stay strictly
 * decreasing from high to low, or high above 50.
 */
int memvirt_policy_set_free_pct(enum memvirt_state state, unsigned int pct)
{
	unsigned int *t = memvirt_policy_knobs.free_pct;
	int err = 0;

	mutex_lock(&memvirt_free_pct_lock);
	if ((state == MEMVIRT_STATE_HIGH && pct > 50) ||
	    (state > MEMVIRT_STATE_HIGH && pct >= t[state - 1]) ||
	    (state < MEMVIRT_STATE_LOW && pct <= t[state + 1]))
		err = -EINVAL;
	else
		WRITE_ONCE(t[state], pct);
	mutex_unlock(&memvirt_free_pct_lock);
	if (!err)
		memvirt_policy_kick();
	return err;
}

/* Recompute now: a VM came or changed size or policy, or a knob changed. */
void memvirt_policy_kick(void)
{
	atomic_set(&memvirt_policy_kicked, 1);
	wake_up(&memvirt_policy_wq);
	memvirt_sample_kick();
}

/* Pages a VM holds, as its limit and target count them. */
u64 memvirt_policy_charge(struct memvirt_vm *vm)
{
	return atomic_long_read(&vm->stats.resident) +
	       DIV_ROUND_UP(atomic_long_read(&vm->stats.compressed_bytes), PAGE_SIZE);
}

/* The active fraction the targets use: the highest of the three averages. */
u32 memvirt_policy_active(struct memvirt_vm *vm)
{
	struct memvirt_vm_policy *p = &vm->policy;

	return max3(READ_ONCE(p->slow), READ_ONCE(p->fast), READ_ONCE(p->period));
}

/* Free memory: what the budget has left, or the host if it has less. */
static u64 memvirt_policy_compute_free(u64 budget)
{
	u64 used = atomic_long_read(&memvirt.resident) +
		   atomic_long_read(&memvirt_dedup_stats.sharing) +
		   (memvirt_zcache_pool_bytes() >> PAGE_SHIFT);
	u64 free = budget > used ? budget - used : 0;

	return min_t(u64, free, si_mem_available());
}

/* Is @free below @pct percent of @budget? */
static bool memvirt_below(u64 free, u64 budget, unsigned int pct)
{
	return free * 100 < budget * pct;
}

/* The state @free calls for, from @cur: down at once, up one step. */
static enum memvirt_state memvirt_policy_next_state(enum memvirt_state cur, u64 free,
						    u64 budget)
{
	const unsigned int *t = memvirt_policy_knobs.free_pct;
	enum memvirt_state want = MEMVIRT_STATE_HIGH;

	if (memvirt_below(free, budget, READ_ONCE(t[MEMVIRT_STATE_LOW])))
		want = MEMVIRT_STATE_LOW;
	else if (memvirt_below(free, budget, READ_ONCE(t[MEMVIRT_STATE_HARD])))
		want = MEMVIRT_STATE_HARD;
	else if (memvirt_below(free, budget, READ_ONCE(t[MEMVIRT_STATE_SOFT])))
		want = MEMVIRT_STATE_SOFT;
	if (want >= cur)
		return want;
	/* Up one state, once free memory is above that state's own floor... */
	if (!memvirt_below(free, budget, READ_ONCE(t[cur - 1])))
		return cur - 1;
	return cur;
}

static void memvirt_policy_set_state(enum memvirt_state new, u64 free, u64 budget)
{
	enum memvirt_state old = memvirt_state;
	u64 now = ktime_get_ns();

	if (new == old)
		return;
	spin_lock(&memvirt_state_lock);
	memvirt_state_ns[old] += now - memvirt_state_since;
	memvirt_state_since = now;
	WRITE_ONCE(memvirt_state, new);
	spin_unlock(&memvirt_state_lock);
	atomic_long_inc(&memvirt_policy_stats.transitions);
	trace_state(old, new, free, budget);
}

/* One VM in a turn of the policy thread. */
struct memvirt_policy_vm {
	struct memvirt_vm *vm;
	struct memvirt_target_in in;
	u64 charge;
	u64 size_pages;
	u64 reservation;
	bool alive;	/* not torn down: its sysfs files and pages may be used */
	u64 rho_key;	/* charge * w / S: the lowest rho has the highest key */
};

/* The VMs of this turn, with references; grown as needed. */
static struct memvirt_policy_vm *memvirt_policy_vms;
static unsigned int memvirt_policy_cap;

static unsigned int memvirt_policy_collect(void)
{
	struct memvirt_policy_vm *grown;
	struct memvirt_vm *vm;
	unsigned int n = 0;
	u64 id = 0;

	while ((vm = memvirt_vm_next_get(id + 1))) {
		id = vm->id;
		if (n == memvirt_policy_cap) {
			grown = krealloc_array(memvirt_policy_vms, max(16U, n * 2),
					       sizeof(*grown), GFP_KERNEL);
			if (!grown) {
				memvirt_vm_put(vm);
				break;
			}
			memvirt_policy_vms = grown;
			memvirt_policy_cap = max(16U, n * 2);
		}
		memvirt_policy_vms[n++].vm = vm;
	}
	return n;
}

/* Gather what the targets need. */
static void memvirt_policy_gather(struct memvirt_policy_vm *v)
{
	struct memvirt_vm *vm = v->vm;
	u64 room;

	v->alive = memvirt_vm_begin_work(vm);
	if (v->alive) {
		v->size_pages = memvirt_vm_pages(vm);
		memvirt_vm_end_work(vm);
	} else {
		v->size_pages = 0;
	}
	v->charge = memvirt_policy_charge(vm);
	room = max_t(u64, v->size_pages / 16, MEMVIRT_DEMAND_MIN_ROOM);
	vm->policy.demand = min(v->size_pages, v->charge + room);
	v->in.active_permille = memvirt_policy_active(vm);
}

/* Publishes a VM's new balloon target; wakes pollers and waiters on a change. */
static void memvirt_policy_set_balloon(struct memvirt_vm *vm, u64 bt)
{
	struct memvirt_vm_policy *p = &vm->policy;
	bool pending = bt > (u64)atomic_long_read(&vm->stats.ballooned);

	/* Since when the balloon has been asked for pages it does not hold. */
	if (pending && !p->balloon_pending)
		p->balloon_since = jiffies;
	p->balloon_pending = pending;
	if (bt == p->balloon_target)
		return;
	trace_balloon(vm->id, p->balloon_target, bt, atomic_long_read(&vm->stats.ballooned));
	WRITE_ONCE(p->balloon_target, bt);
	sysfs_notify(&vm->kobj, NULL, "balloon_target");
	wake_up_interruptible_all(&p->balloon_wait);
}

/*
 * Balloon target: what the balloon holds plus what the VM holds beyond its
 * target. In HIGH it never rises, and a VM below its target may have the
 * difference back. The charge was read before the ballooned count, and a
 * balloon punch counts its gfns ballooned before it frees their pages, so a
 * punch in flight can only make the target too high for one turn, never
 * too low.
 */
static void memvirt_policy_balloon(struct memvirt_policy_vm *v, enum memvirt_state state)
{
	struct memvirt_vm *vm = v->vm;
	u64 ballooned = atomic_long_read(&vm->stats.ballooned), bt;

	if (v->charge > v->in.target)
		bt = ballooned + v->charge - v->in.target;
	else if (state == MEMVIRT_STATE_HIGH)
		bt = ballooned - min(ballooned, v->in.target - v->charge);
	else
		bt = ballooned;
	bt = min(bt, v->size_pages);
	if (state == MEMVIRT_STATE_HIGH)
		bt = min(bt, vm->policy.balloon_target);
	memvirt_policy_set_balloon(vm, bt);
}

/*
 * Take up to @nr of the VM's coldest pages (compression, else its swap
 * file), not below @floor pages. Returns the pages taken.
 */
static u64 memvirt_policy_take(struct memvirt_policy_vm *v, u64 floor, u64 nr)
{
	struct memvirt_vm_policy *p = &v->vm->policy;
	u64 taken, t0;

	/* Pages on their way to the swap file are as good as gone. */
	v->charge -= min_t(u64, v->charge, atomic_read(&v->vm->swap.inflight));
	if (v->charge <= floor || !nr)
		return 0;
	/*
	 * A VM with nothing cold to take (all hot, pinned, incompressible
	 * without a swap file) would cost a futile sweep every turn.
	 */
	if (p->take_skip) {
		p->take_skip--;
		return 0;
	}
	if (!memvirt_vm_begin_work(v->vm))
		return 0;
	nr = min3(nr, v->charge - floor, (u64)MEMVIRT_POLICY_TAKE_MAX);
	t0 = ktime_get_ns();
	taken = memvirt_swap_shrink(v->vm, v->charge - nr + 1, nr,
				    MEMVIRT_SHRINK_TRYLOCK | MEMVIRT_SHRINK_NOWAIT);
	atomic_long_add(ktime_get_ns() - t0, &memvirt_policy_stats.reclaim_ns);
	memvirt_vm_end_work(v->vm);
	if (taken) {
		p->take_backoff = 0;
	} else {
		p->take_backoff = min(2 * p->take_backoff + 1, 31U);
		p->take_skip = p->take_backoff;
	}
	v->charge -= min(v->charge, taken);
	atomic_long_add(taken, &memvirt_policy_stats.reclaimed);
	return taken;
}

static int memvirt_policy_cmp_rho(const void *a, const void *b)
{
	const struct memvirt_policy_vm *x = a, *y = b;

	/* Highest charge * w / S first: the lowest rho. */
	if (x->rho_key != y->rho_key)
		return x->rho_key > y->rho_key ? -1 : 1;
	return 0;
}

/* The shrinker's debt: cold pages of VMs above their reservation, lowest rho first. */
static void memvirt_policy_pay_debt(struct memvirt_policy_vm *vms, unsigned int n)
{
	long debt = atomic_long_xchg(&memvirt_policy_debt, 0);
	unsigned int i;
	u64 taken;

	if (debt <= 0)
		return;
	for (i = 0; i < n; i++)
		vms[i].rho_key = div64_u64(vms[i].charge *
					   memvirt_policy_weight(vms[i].in.active_permille,
								 memvirt_policy_knobs.idle_tax),
					   vms[i].in.shares);
	sort(vms, n, sizeof(*vms), memvirt_policy_cmp_rho, NULL);
	for (i = 0; i < n && debt > 0; i++) {
		taken = memvirt_policy_take(&vms[i], vms[i].reservation, debt);
		atomic_long_add(taken, &memvirt_policy_stats.shrinker_freed);
		debt -= taken;
	}
}

/* What the shrinker may report: pages above reservation and beyond the active share. */
static void memvirt_policy_count_reclaimable(struct memvirt_policy_vm *vms, unsigned int n)
{
	u64 total = 0, keep;
	unsigned int i;

	for (i = 0; i < n; i++) {
		keep = max(vms[i].reservation,
			   div_u64(vms[i].charge * vms[i].in.active_permille, MEMVIRT_PERMILLE));
		if (vms[i].charge > keep)
			total += vms[i].charge - keep;
	}
	atomic_long_set(&memvirt_policy_reclaimable, total);
}

/*
 * One turn: sample, compute targets and the state, publish balloon
 * targets, reclaim what the state calls for. Returns true if reclaim is
 * still behind (the next turn comes sooner).
 */
static bool memvirt_policy_turn(void)
{
	unsigned int tax = READ_ONCE(memvirt_policy_knobs.idle_tax);
	unsigned int n = memvirt_policy_collect(), i;
	unsigned long now = jiffies, timeout;
	struct memvirt_policy_vm *vms = memvirt_policy_vms;
	u64 budget, free, avail, high, taken;
	enum memvirt_state state;
	bool behind = false;

	for (i = 0; i < n; i++)
		memvirt_policy_gather(&vms[i]);

	mutex_lock(&memvirt_commit_lock);
	budget = memvirt.budget_pages;
	for (i = 0; i < n; i++) {
		struct memvirt_vm *vm = vms[i].vm;

		vms[i].in.shares = vm->shares;
		vms[i].reservation = vm->reservation_pages;
		vms[i].in.min_pages = vm->reservation_pages;
		vms[i].in.max_pages = min3(vm->limit_pages, vms[i].size_pages, vm->policy.demand);
	}
	mutex_unlock(&memvirt_commit_lock);

	free = memvirt_policy_compute_free(budget);
	/*
	 * Targets leave free what HIGH needs and half the gap to SOFT more,
	 * so that VMs at their targets put the host back in HIGH.
	 */
	high = READ_ONCE(memvirt_policy_knobs.free_pct[MEMVIRT_STATE_HIGH]);
	high = div_u64(budget * (2 * high + high -
				 READ_ONCE(memvirt_policy_knobs.free_pct[MEMVIRT_STATE_SOFT])),
		       200);
	avail = budget - min(budget, high + atomic_long_read(&memvirt_dedup_stats.sharing));
	WRITE_ONCE(memvirt_free_last, free);
	WRITE_ONCE(memvirt_avail_last, avail);
	state = memvirt_policy_next_state(memvirt_state, free, budget);
	memvirt_policy_set_state(state, free, budget);

	if (n) {
		/* The inputs are strided here: copy them out and back. */
		struct memvirt_target_in *in = kmalloc_array(n, sizeof(*in), GFP_KERNEL);

		if (in) {
			for (i = 0; i < n; i++)
				in[i] = vms[i].in;
			memvirt_policy_targets(in, n, avail, tax);
			for (i = 0; i < n; i++)
				vms[i].in.target = in[i].target;
			kfree(in);
		} else {
			for (i = 0; i < n; i++)
				vms[i].in.target = vms[i].in.max_pages;
		}
	}

	timeout = msecs_to_jiffies(READ_ONCE(memvirt_policy_knobs.balloon_timeout_ms));
	for (i = 0; i < n; i++) {
		struct memvirt_policy_vm *v = &vms[i];
		struct memvirt_vm_policy *p = &v->vm->policy;
		u64 floor = max(v->in.target, v->reservation);
		bool take;

		/* Torn down since: its sysfs files go, nothing to take. */
		if (!v->alive)
			continue;
		WRITE_ONCE(p->target, v->in.target);
		memvirt_policy_balloon(v, state);
		switch (state) {
		case MEMVIRT_STATE_HIGH:
			take = false;
			break;
		case MEMVIRT_STATE_SOFT:
			/* The balloon had its chance. */
			take = memvirt_policy_balloon_pending(v->vm) &&
			       time_after_eq(now, p->balloon_since + timeout);
			break;
		default:
			take = true;
		}
		if (!take || v->charge <= floor)
			continue;
		taken = memvirt_policy_take(v, floor, v->charge - floor);
		if (v->charge > floor && taken)
			behind = true;
	}
	memvirt_policy_pay_debt(vms, n);
	memvirt_policy_count_reclaimable(vms, n);

	for (i = 0; i < n; i++)
		memvirt_vm_put(vms[i].vm);
	return behind;
}

static int memvirt_policy_thread(void *data)
{
	bool behind = false;
	unsigned long wait;
	u64 t0;

	set_freezable();
	while (!kthread_should_stop()) {
		t0 = ktime_get_ns();
		behind = memvirt_policy_turn();
		atomic_long_add(ktime_get_ns() - t0, &memvirt_policy_stats.policy_ns);
		wait = msecs_to_jiffies(READ_ONCE(memvirt_policy_knobs.period_ms));
		if (behind)
			wait = max(wait / 10, 1UL);
		wait_event_freezable_timeout(memvirt_policy_wq,
					     atomic_xchg(&memvirt_policy_kicked, 0) ||
					     atomic_long_read(&memvirt_policy_debt) > 0 ||
					     kthread_should_stop(), wait);
	}
	return 0;
}

/* The fault gate. */

/**
 * memvirt_policy_fault_gate - before an access that may allocate: keep the
 * VM within its limit, and in the LOW state within its target.
 * @vm: the VM; the caller holds no memvirt lock (a fault, write() or
 *	populate about to start).
 *
 * In the LOW state a VM above its target and above its reservation takes
 * its own coldest pages down to the target before it goes on. It gives up
 * when nothing more can be taken, so it never waits forever, and its
 * faults then go on without trying again for one period; a VM at or below
 * its reservation never waits.
 */
void memvirt_policy_fault_gate(struct memvirt_vm *vm)
{
	u64 floor, charge, t0;

	memvirt_swap_enforce_limit(vm);
	if (READ_ONCE(memvirt_state) != MEMVIRT_STATE_LOW)
		return;
	floor = max(READ_ONCE(vm->policy.target), READ_ONCE(vm->reservation_pages));
	/* Pages on their way to the swap file are as good as gone. */
	charge = memvirt_policy_charge(vm);
	charge -= min_t(u64, charge, atomic_read(&vm->swap.inflight));
	if (charge <= floor || time_before(jiffies, READ_ONCE(vm->policy.gate_until)))
		return;
	t0 = ktime_get_ns();
	/*
	 * Never below the floor: not the target, above all not the
	 * reservation. Nothing to take: the next faults go on until the
	 * next turn.
	 */
	if (!memvirt_swap_shrink(vm, floor + 1, charge - floor, 0))
		WRITE_ONCE(vm->policy.gate_until, jiffies +
			   msecs_to_jiffies(READ_ONCE(memvirt_policy_knobs.period_ms)));
	atomic_long_inc(&vm->stats.low_waits);
	atomic_long_inc(&memvirt_policy_stats.low_waits);
	atomic_long_add(ktime_get_ns() - t0, &memvirt_policy_stats.low_wait_ns);
}

/* Balloons. */

/* Is the VM's balloon target above what its balloon holds? */
bool memvirt_policy_balloon_pending(struct memvirt_vm *vm)
{
	return READ_ONCE(vm->policy.balloon_target) >
	       (u64)atomic_long_read(&vm->stats.ballooned);
}

/* @nr gfns became BALLOONED (or, negative, stopped being). */
void memvirt_policy_account_ballooned(struct memvirt_vm *vm, long nr)
{
	atomic_long_add(nr, &vm->stats.ballooned);
	atomic_long_add(nr, &memvirt_policy_stats.ballooned);
}

/**
 * memvirt_policy_balloon_wait - MEMVIRT_IOC_BALLOON.
 * @vm: the VM; its file is open.
 * @known: the target the caller knows.
 * @timeout_ms: most time to wait; 0 for no limit.
 * @wait: wait while the target is @known; else answer at once.
 * @target: out: the balloon target.
 *
 * Return: 0 (the target may still be @known after a timeout), or -EINTR.
 */
int memvirt_policy_balloon_wait(struct memvirt_vm *vm, u64 known, u64 timeout_ms,
				bool wait, u64 *target)
{
	long t = timeout_ms ? msecs_to_jiffies(timeout_ms) : MAX_SCHEDULE_TIMEOUT;

	if (wait && wait_event_interruptible_timeout(vm->policy.balloon_wait,
						     READ_ONCE(vm->policy.balloon_target) != known,
						     t) < 0)
		return -EINTR;
	*target = READ_ONCE(vm->policy.balloon_target);
	return 0;
}

/* Per VM. */

void memvirt_policy_vm_init(struct memvirt_vm *vm)
{
	struct memvirt_vm_policy *p = &vm->policy;

	init_waitqueue_head(&p->balloon_wait);
	/* Until its first sample, a VM is assumed to use all it holds. */
	p->slow = MEMVIRT_PERMILLE;
	p->fast = MEMVIRT_PERMILLE;
	p->period = MEMVIRT_PERMILLE;
	p->target = U64_MAX;
	p->gate_until = jiffies;
	p->sample_end = jiffies +
			msecs_to_jiffies(READ_ONCE(memvirt_policy_knobs.sample_period_ms));
}

void memvirt_policy_vm_free(struct memvirt_vm *vm)
{
	memvirt_sample_free(vm);
}

/* The shrinker: never reclaims inline, since it may run under memvirt's locks. */

static unsigned long memvirt_policy_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	long n = atomic_long_read(&memvirt_policy_reclaimable) -
		 atomic_long_read(&memvirt_policy_debt);

	n = max(n, 0L);
	atomic_long_set(&memvirt_policy_stats.shrinker_count, n);
	return n ?: SHRINK_EMPTY;
}

static unsigned long memvirt_policy_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	long room = atomic_long_read(&memvirt_policy_reclaimable) -
		    atomic_long_read(&memvirt_policy_debt);

	if (room > 0) {
		atomic_long_add(min_t(long, room, sc->nr_to_scan), &memvirt_policy_debt);
		wake_up(&memvirt_policy_wq);
	}
	return SHRINK_STOP;
}

/* debugfs policy: the state and one line per VM. */
void memvirt_policy_show(struct seq_file *m)
{
	struct memvirt_vm *vm;
	u64 id = 0;

	seq_printf(m, "state %s free_pages %llu avail_pages %llu\n",
		   memvirt_policy_state_name(memvirt_policy_state()),
		   memvirt_policy_free_pages(), memvirt_policy_avail_pages());
	seq_puts(m, "vm shares reservation limit charge demand target balloon_target ballooned slow fast period sampled touched\n");
	while ((vm = memvirt_vm_next_get(id + 1))) {
		struct memvirt_vm_policy *p = &vm->policy;

		id = vm->id;
		seq_printf(m, "%llu %llu %llu %lld %llu %llu %llu %llu %ld %u %u %u %u %u\n",
			   vm->id, READ_ONCE(vm->shares), READ_ONCE(vm->reservation_pages),
			   READ_ONCE(vm->limit_pages) == U64_MAX ? -1LL :
			   (s64)READ_ONCE(vm->limit_pages),
			   memvirt_policy_charge(vm), READ_ONCE(p->demand), READ_ONCE(p->target),
			   READ_ONCE(p->balloon_target), atomic_long_read(&vm->stats.ballooned),
			   READ_ONCE(p->slow), READ_ONCE(p->fast), READ_ONCE(p->period),
			   READ_ONCE(p->last_sampled), READ_ONCE(p->last_touched));
		memvirt_vm_put(vm);
	}
}

int memvirt_policy_init(void)
{
	int err;

	memvirt_state_since = ktime_get_ns();
	memvirt_policy_shrinker = shrinker_alloc(0, "memvirt");
	if (!memvirt_policy_shrinker)
		return -ENOMEM;
	memvirt_policy_shrinker->count_objects = memvirt_policy_shrink_count;
	memvirt_policy_shrinker->scan_objects = memvirt_policy_shrink_scan;
	err = memvirt_sample_init();
	if (err)
		goto out_free_shrinker;
	memvirt_policy_task = kthread_run(memvirt_policy_thread, NULL, "memvirt_policy");
	if (IS_ERR(memvirt_policy_task)) {
		err = PTR_ERR(memvirt_policy_task);
		goto out_stop_sampler;
	}
	shrinker_register(memvirt_policy_shrinker);
	return 0;

out_stop_sampler:
	memvirt_sample_exit();
out_free_shrinker:
	shrinker_free(memvirt_policy_shrinker);
	return err;
}

void memvirt_policy_exit(void)
{
	shrinker_free(memvirt_policy_shrinker);
	kthread_stop(memvirt_policy_task);
	memvirt_sample_exit();
	kfree(memvirt_policy_vms);
}
