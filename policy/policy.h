/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy/: the ESX allocation policy. Who should hold how much memory
 * (targets from shares, reservation, limit and the idle memory tax, over
 * sampled working sets), how short of memory the host is (free-memory
 * states), and which mechanism takes memory back (balloon targets,
 * compression and swap of cold pages, the LOW state's fault gate, the
 * shrinker).
 *
 * Locking
 * =======
 *
 * The policy thread (memvirt_policy) and the sampler (memvirt_sample, which
 * alone writes a VM's sample and averages) take no lock of their own
 * across VM work: each snapshots
 * the VM list with references (memvirt_vm_next_get()), works on each VM
 * between memvirt_vm_begin_work() and memvirt_vm_end_work(), and reads
 * policy fields under memvirt_commit_lock only to copy them. Sampling
 * takes gfn locks and page locks, as the reclaim protocol does.
 * A VM's policy state (struct memvirt_vm_policy) is written by the policy
 * thread alone, except the balloon wait queue and counters; readers use
 * READ_ONCE(). The shrinker takes no memvirt lock: it may run inside an
 * allocation made under any of them.
 */
#ifndef MEMVIRT_POLICY_H
#define MEMVIRT_POLICY_H

#include <linux/atomic.h>
#include <linux/types.h>
#include <linux/wait.h>

struct memvirt_vm;
struct seq_file;

/* Free-memory states, most free first. */
enum memvirt_state {
	MEMVIRT_STATE_HIGH,
	MEMVIRT_STATE_SOFT,
	MEMVIRT_STATE_HARD,
	MEMVIRT_STATE_LOW,
	MEMVIRT_NR_STATES,
};

#define MEMVIRT_IDLE_TAX_DEFAULT	75
#define MEMVIRT_IDLE_TAX_MAX		99
#define MEMVIRT_PERMILLE		1000U

/**
 * struct memvirt_target_in - one VM's inputs to memvirt_policy_targets().
 * @shares:	proportional-share weight S, at least 1.
 * @min_pages:	reservation: the target is never below it.
 * @max_pages:	ceiling: min(limit, size, demand); raised to @min_pages.
 * @active_permille: the active fraction f of the VM's memory, 0..1000.
 * @target:	out: the VM's target, pages.
 */
struct memvirt_target_in {
	u64 shares;
	u64 min_pages;
	u64 max_pages;
	u32 active_permille;
	u64 target;
};

u64 memvirt_policy_weight(u32 active_permille, unsigned int idle_tax);
void memvirt_policy_targets(struct memvirt_target_in *vms, unsigned int n, u64 avail_pages,
			    unsigned int idle_tax);

/**
 * struct memvirt_vm_policy - a VM's policy state.
 * @target:	pages the VM should hold (charge), from the last computation.
 * @demand:	pages it could use now: its charge plus room to grow.
 * @balloon_target: pages its balloon should hold; 0 for none.
 * @balloon_since: jiffies when @balloon_target last went pending.
 * @balloon_pending: it was pending at the last turn.
 * @balloon_wait: MEMVIRT_IOC_BALLOON waiters; woken on a change.
 * @ballooned:	gfns BALLOONED.
 * @deflated:	BALLOONED gfns given a page again (cumulative).
 * @low_waits:	faults that reclaimed the VM's own pages in the LOW state.
 * @slow:	slow moving average of the active fraction, permille.
 * @fast:	fast moving average, permille.
 * @period:	the fast average with the running period's touches, permille.
 * @sample:	gfns of the running sample; NULL between samples.
 * @nr_sample:	how many.
 * @sample_end:	jiffies when the running sample period ends.
 * @sample_periods: periods closed.
 * @last_touched: touched gfns of the last closed period.
 * @last_sampled: sampled gfns of the last closed period.
 * @take_skip:	turns the policy thread leaves the VM alone after failing
 *		to take anything from it (backs off up to 32 turns).
 * @take_backoff: the current back-off, turns.
 * @gate_until:	jiffies until which the fault gate leaves the VM alone
 *		after its own reclaim found nothing to take.
 */
struct memvirt_vm_policy {
	u64 target;
	u64 demand;
	u64 balloon_target;
	unsigned long balloon_since;
	bool balloon_pending;
	wait_queue_head_t balloon_wait;
	atomic_long_t ballooned;
	atomic_long_t deflated;
	atomic_long_t low_waits;
	u32 slow;
	u32 fast;
	u32 period;
	u64 *sample;
	unsigned int nr_sample;
	unsigned long sample_end;
	u64 sample_periods;
	unsigned int last_touched;
	unsigned int last_sampled;
	unsigned int take_skip;
	unsigned int take_backoff;
	unsigned long gate_until;
};

/**
 * struct memvirt_policy_knobs - /sys/kernel/memvirt/policy/ knobs.
 * @idle_tax:		percent, 0..99.
 * @period_ms:		how often targets and the state are recomputed.
 * @sample_period_ms:	length of one working-set sample.
 * @sample_size:	gfns per VM per sample; 0 turns sampling off.
 * @free_pct:		state thresholds, percent of the budget: high, soft,
 *			hard, low, strictly decreasing.
 * @balloon_timeout_ms:	how long a VM may take to follow its balloon target
 *			in the SOFT state before its cold pages are taken.
 */
struct memvirt_policy_knobs {
	unsigned int idle_tax;
	unsigned int period_ms;
	unsigned int sample_period_ms;
	unsigned int sample_size;
	unsigned int free_pct[MEMVIRT_NR_STATES];
	unsigned int balloon_timeout_ms;
};

/* Host-wide counters: /sys/kernel/memvirt/policy/. */
struct memvirt_policy_stats {
	atomic_long_t ballooned;
	atomic_long_t low_waits;
	atomic_long_t low_wait_ns;
	atomic_long_t policy_ns;
	atomic_long_t sample_ns;
	atomic_long_t samples;
	atomic_long_t sample_periods;
	atomic_long_t transitions;
	atomic_long_t shrinker_count;
	atomic_long_t shrinker_freed;
	atomic_long_t reclaimed;
	atomic_long_t reclaim_ns;
};

extern struct memvirt_policy_knobs memvirt_policy_knobs;
extern struct memvirt_policy_stats memvirt_policy_stats;

int memvirt_policy_init(void);
void memvirt_policy_exit(void);
void memvirt_policy_kick(void);

/* Per VM. */
void memvirt_policy_vm_init(struct memvirt_vm *vm);
void memvirt_policy_vm_free(struct memvirt_vm *vm);
void memvirt_policy_fault_gate(struct memvirt_vm *vm);
bool memvirt_policy_balloon_pending(struct memvirt_vm *vm);
void memvirt_policy_account_ballooned(struct memvirt_vm *vm, long nr);
int memvirt_policy_balloon_wait(struct memvirt_vm *vm, u64 known, u64 timeout_ms,
				bool wait, u64 *target);

/* State and free memory, for sysfs. */
enum memvirt_state memvirt_policy_state(void);
const char *memvirt_policy_state_name(enum memvirt_state state);
u64 memvirt_policy_state_ms(enum memvirt_state state);
u64 memvirt_policy_free_pages(void);
u64 memvirt_policy_avail_pages(void);
u64 memvirt_policy_charge(struct memvirt_vm *vm);
int memvirt_policy_set_free_pct(enum memvirt_state state, unsigned int pct);
u32 memvirt_policy_active(struct memvirt_vm *vm);
void memvirt_policy_show(struct seq_file *m);

/* sample.c */
int memvirt_sample_init(void);
void memvirt_sample_exit(void);
void memvirt_sample_kick(void);
void memvirt_sample_tick(struct memvirt_vm *vm, unsigned long now);
void memvirt_sample_free(struct memvirt_vm *vm);

#endif /* MEMVIRT_POLICY_H */
