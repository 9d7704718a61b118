// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs: /sys/kernel/memvirt/ (host-wide knobs and totals) and
 * /sys/kernel/memvirt/vms/<id>/ (one directory per VM).
 *
 * Every store parses with kstrto*(), checks its range (-EINVAL) and needs
 * CAP_SYS_ADMIN (-EPERM). Units are in the names: *_mb are MiB, *_pages and
 * counters are 4 KiB pages or events, size and *_bytes are bytes.
 * Documentation/admin-guide.rst describes every file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "dedup/dedup.h"
#include "module/memvirt.h"
#include "swap/swap.h"

#define MB_SHIFT	(20 - PAGE_SHIFT)	/* MiB <-> pages */

static struct kobject *memvirt_kobj;
static struct kobject *memvirt_vms_kobj;

/* A decimal number; anything else, overflow included, is -EINVAL. */
static int memvirt_parse_u64(const char *buf, u64 *val)
{
	return kstrtou64(buf, 10, val) ? -EINVAL : 0;
}

/* Parse a MiB count into pages; "max" gives U64_MAX if @allow_max. */
static int memvirt_parse_mb(const char *buf, bool allow_max, u64 *pages)
{
	u64 mb;
	int err;

	if (allow_max && sysfs_streq(buf, "max")) {
		*pages = U64_MAX;
		return 0;
	}
	err = memvirt_parse_u64(buf, &mb);
	if (err)
		return err;
	if (mb > (U64_MAX >> 20))
		return -EINVAL;
	*pages = mb << MB_SHIFT;
	return 0;
}

static ssize_t memvirt_show_mb(char *buf, u64 pages)
{
	if (pages == U64_MAX)
		return sysfs_emit(buf, "max\n");
	return sysfs_emit(buf, "%llu\n", pages >> MB_SHIFT);
}

/*
 * Host-wide knobs, table-driven: each is a number in [@min, @max] (in MiB
 * if @mb, stored in pages) handed to @set, which may refuse it.
 */
struct memvirt_knob {
	struct kobj_attribute attr;
	u64 min;
	u64 max;
	bool mb;
	u64 (*get)(void);
	int (*set)(u64 val);
};

#define to_knob(a)	container_of(a, struct memvirt_knob, attr)

static ssize_t memvirt_knob_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	const struct memvirt_knob *k = to_knob(attr);

	return k->mb ? memvirt_show_mb(buf, k->get()) : sysfs_emit(buf, "%llu\n", k->get());
}

static ssize_t memvirt_knob_store(struct kobject *kobj, struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	const struct memvirt_knob *k = to_knob(attr);
	u64 val;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = k->mb ? memvirt_parse_mb(buf, false, &val) : memvirt_parse_u64(buf, &val);
	if (err)
		return err;
	if (val < k->min || val > k->max)
		return -EINVAL;
	err = k->set(val);
	return err ? err : count;
}

#define MEMVIRT_KNOB(_name, _min, _max, _mb)					\
	static struct memvirt_knob memvirt_knob_##_name = {			\
		.attr = __ATTR(_name, 0644, memvirt_knob_show, memvirt_knob_store), \
		.min = (_min), .max = (_max), .mb = (_mb),			\
		.get = memvirt_get_##_name, .set = memvirt_set_##_name,		\
	}

static u64 memvirt_get_budget_mb(void)
{
	return READ_ONCE(memvirt.budget_pages);
}

/* Any amount up to all of RAM; not below the sum of reservations (-EBUSY). */
static int memvirt_set_budget_mb(u64 pages)
{
	return pages > totalram_pages() ? -EINVAL : memvirt_vm_set_budget(pages);
}

MEMVIRT_KNOB(budget_mb, 1ULL << MB_SHIFT, U64_MAX, true);

static u64 memvirt_get_overcommit_ratio(void)
{
	return READ_ONCE(memvirt.overcommit_ratio);
}

static int memvirt_set_overcommit_ratio(u64 ratio)
{
	mutex_lock(&memvirt_commit_lock);
	memvirt.overcommit_ratio = ratio;
	mutex_unlock(&memvirt_commit_lock);
	return 0;
}

MEMVIRT_KNOB(overcommit_ratio, MEMVIRT_RATIO_MIN, MEMVIRT_RATIO_MAX, false);

static u64 memvirt_get_max_vms(void)
{
	return READ_ONCE(memvirt.max_vms);
}

/* Lowering it below the VMs alive only refuses new ones. */
static int memvirt_set_max_vms(u64 max)
{
	WRITE_ONCE(memvirt.max_vms, max);
	return 0;
}

MEMVIRT_KNOB(max_vms, 1, MEMVIRT_MAX_VMS_MAX, false);

static ssize_t committed_mb_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", DIV_ROUND_UP_ULL(READ_ONCE(memvirt.committed), SZ_1M));
}

static ssize_t resident_pages_show(struct kobject *kobj, struct kobj_attribute *attr,
				   char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&memvirt.resident));
}

static ssize_t pinned_skips_show(struct kobject *kobj, struct kobj_attribute *attr,
				 char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&memvirt.pinned_skips));
}

static ssize_t nr_vms_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&memvirt.nr_vms));
}

static ssize_t p2m_bytes_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", memvirt_vm_p2m_bytes());
}

static struct kobj_attribute memvirt_attr_committed_mb = __ATTR_RO(committed_mb);
static struct kobj_attribute memvirt_attr_resident_pages = __ATTR_RO(resident_pages);
static struct kobj_attribute memvirt_attr_pinned_skips = __ATTR_RO(pinned_skips);
static struct kobj_attribute memvirt_attr_nr_vms = __ATTR_RO(nr_vms);
static struct kobj_attribute memvirt_attr_p2m_bytes = __ATTR_RO(p2m_bytes);

static struct attribute *memvirt_attrs[] = {
	&memvirt_knob_budget_mb.attr.attr,
	&memvirt_knob_overcommit_ratio.attr.attr,
	&memvirt_knob_max_vms.attr.attr,
	&memvirt_attr_committed_mb.attr,
	&memvirt_attr_resident_pages.attr,
	&memvirt_attr_pinned_skips.attr,
	&memvirt_attr_nr_vms.attr,
	&memvirt_attr_p2m_bytes.attr,
	NULL
};

static const struct attribute_group memvirt_attr_group = {
	.attrs = memvirt_attrs,
};

/*
 * The component directories /sys/kernel/memvirt/dedup/ and swap/: knobs
 * (unsigned ints in [@min, @max]; a change calls @changed, which wakes the
 * component) and host-wide counters (atomic_long_t), table-driven as the
 * VMs' are.
 */
struct memvirt_uint_knob {
	struct kobj_attribute attr;
	unsigned int *val;
	unsigned int min;
	unsigned int max;
	void (*changed)(void);
};

#define to_uint_knob(a)	container_of(a, struct memvirt_uint_knob, attr)

static ssize_t memvirt_uint_knob_show(struct kobject *kobj, struct kobj_attribute *attr,
				      char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(*to_uint_knob(attr)->val));
}

static ssize_t memvirt_uint_knob_store(struct kobject *kobj, struct kobj_attribute *attr,
				       const char *buf, size_t count)
{
	const struct memvirt_uint_knob *k = to_uint_knob(attr);
	u64 val;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = memvirt_parse_u64(buf, &val);
	if (err)
		return err;
	if (val < k->min || val > k->max)
		return -EINVAL;
	WRITE_ONCE(*k->val, val);
	k->changed();
	return count;
}

#define MEMVIRT_UINT_KNOB(_dir, _name, _min, _max, _changed)			\
	static struct memvirt_uint_knob memvirt_##_dir##_knob_##_name = {	\
		.attr = { .attr = { .name = __stringify(_name), .mode = 0644 },	\
			  .show = memvirt_uint_knob_show,			\
			  .store = memvirt_uint_knob_store },			\
		.val = &memvirt_##_dir##_knobs._name,				\
		.min = (_min), .max = (_max), .changed = (_changed),		\
	}

struct memvirt_counter {
	struct kobj_attribute attr;
	atomic_long_t *val;
};

static ssize_t memvirt_counter_show(struct kobject *kobj, struct kobj_attribute *attr,
				    char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(container_of(attr, struct memvirt_counter, attr)->val));
}

#define MEMVIRT_COUNTER(_dir, _name)						\
	static struct memvirt_counter memvirt_##_dir##_counter_##_name = {	\
		.attr = { .attr = { .name = __stringify(_name), .mode = 0444 },	\
			  .show = memvirt_counter_show },			\
		.val = &memvirt_##_dir##_stats._name,				\
	}

/* Read-only numbers a component computes: @get's value. */
struct memvirt_value {
	struct kobj_attribute attr;
	u64 (*get)(void);
};

static ssize_t memvirt_value_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", container_of(attr, struct memvirt_value, attr)->get());
}

#define MEMVIRT_VALUE(_dir, _name, _get)					\
	static struct memvirt_value memvirt_##_dir##_value_##_name = {		\
		.attr = { .attr = { .name = __stringify(_name), .mode = 0444 },	\
			  .show = memvirt_value_show },				\
		.get = (_get),							\
	}

/* /sys/kernel/memvirt/dedup/: a knob change wakes the scanner. */
MEMVIRT_UINT_KNOB(dedup, run, 0, 1, memvirt_dedup_kick);
MEMVIRT_UINT_KNOB(dedup, pages_to_scan, 1, MEMVIRT_DEDUP_PAGES_TO_SCAN_MAX, memvirt_dedup_kick);
MEMVIRT_UINT_KNOB(dedup, sleep_millisecs, 0, MEMVIRT_DEDUP_SLEEP_MAX, memvirt_dedup_kick);
MEMVIRT_UINT_KNOB(dedup, cpu_percent, 1, 100, memvirt_dedup_kick);
MEMVIRT_UINT_KNOB(dedup, boost_cpu_percent, 0, 100, memvirt_dedup_kick);

MEMVIRT_COUNTER(dedup, shared);
MEMVIRT_COUNTER(dedup, sharing);
MEMVIRT_COUNTER(dedup, zero);
MEMVIRT_COUNTER(dedup, cow_breaks);
MEMVIRT_COUNTER(dedup, pages_scanned);
MEMVIRT_COUNTER(dedup, full_scans);
MEMVIRT_COUNTER(dedup, hint_hits);
MEMVIRT_COUNTER(dedup, false_matches);
MEMVIRT_COUNTER(dedup, pinned_skips);
MEMVIRT_COUNTER(dedup, boosted_batches);

/* Pages sharing saves: gfns that share, less the frames they share. */
static ssize_t saved_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	long shared = atomic_long_read(&memvirt_dedup_stats.shared);
	long sharing = atomic_long_read(&memvirt_dedup_stats.sharing);

	return sysfs_emit(buf, "%ld\n", max(shared - sharing, 0L));
}

static struct kobj_attribute memvirt_dedup_attr_saved = __ATTR_RO(saved);

static struct attribute *memvirt_dedup_attrs[] = {
	&memvirt_dedup_knob_run.attr.attr,
	&memvirt_dedup_knob_pages_to_scan.attr.attr,
	&memvirt_dedup_knob_sleep_millisecs.attr.attr,
	&memvirt_dedup_knob_cpu_percent.attr.attr,
	&memvirt_dedup_knob_boost_cpu_percent.attr.attr,
	&memvirt_dedup_counter_shared.attr.attr,
	&memvirt_dedup_counter_sharing.attr.attr,
	&memvirt_dedup_attr_saved.attr,
	&memvirt_dedup_counter_zero.attr.attr,
	&memvirt_dedup_counter_cow_breaks.attr.attr,
	&memvirt_dedup_counter_pages_scanned.attr.attr,
	&memvirt_dedup_counter_full_scans.attr.attr,
	&memvirt_dedup_counter_hint_hits.attr.attr,
	&memvirt_dedup_counter_false_matches.attr.attr,
	&memvirt_dedup_counter_pinned_skips.attr.attr,
	&memvirt_dedup_counter_boosted_batches.attr.attr,
	NULL
};

static const struct attribute_group memvirt_dedup_group = {
	.name = "dedup",
	.attrs = memvirt_dedup_attrs,
};

/*
 * /sys/kernel/memvirt/swap/: the compression cache's and swap's knobs and
 * host-wide counters. A knob change kicks the cache's evictor: a smaller
 * cache evicts at once.
 */
MEMVIRT_UINT_KNOB(swap, cache_percent, 0, 100, memvirt_zcache_kick);
MEMVIRT_UINT_KNOB(swap, swapin_readahead, 0, MEMVIRT_READAHEAD_MAX, memvirt_zcache_kick);

MEMVIRT_COUNTER(swap, compressed);
MEMVIRT_COUNTER(swap, compressed_bytes);
MEMVIRT_COUNTER(swap, swapped);
MEMVIRT_COUNTER(swap, swap_outs);
MEMVIRT_COUNTER(swap, swap_ins);
MEMVIRT_COUNTER(swap, compress_rejects);
MEMVIRT_COUNTER(swap, swap_errors);
MEMVIRT_COUNTER(swap, evictions);
MEMVIRT_COUNTER(swap, writeback_cancelled);
MEMVIRT_COUNTER(swap, writeback_inflight);

MEMVIRT_VALUE(swap, pool_bytes, memvirt_zcache_pool_bytes);
MEMVIRT_VALUE(swap, cache_limit_bytes, memvirt_zcache_limit_bytes);

static struct attribute *memvirt_swap_attrs[] = {
	&memvirt_swap_knob_cache_percent.attr.attr,
	&memvirt_swap_knob_swapin_readahead.attr.attr,
	&memvirt_swap_counter_compressed.attr.attr,
	&memvirt_swap_counter_compressed_bytes.attr.attr,
	&memvirt_swap_value_pool_bytes.attr.attr,
	&memvirt_swap_value_cache_limit_bytes.attr.attr,
	&memvirt_swap_counter_swapped.attr.attr,
	&memvirt_swap_counter_swap_outs.attr.attr,
	&memvirt_swap_counter_swap_ins.attr.attr,
	&memvirt_swap_counter_compress_rejects.attr.attr,
	&memvirt_swap_counter_swap_errors.attr.attr,
	&memvirt_swap_counter_evictions.attr.attr,
	&memvirt_swap_counter_writeback_cancelled.attr.attr,
	&memvirt_swap_counter_writeback_inflight.attr.attr,
	NULL
};

static const struct attribute_group memvirt_swap_group = {
	.name = "swap",
	.attrs = memvirt_swap_attrs,
};

/*
 * /sys/kernel/memvirt/policy/: the allocation policy's knobs (a change
 * makes the policy thread recompute at once), its state and counters.
 */
MEMVIRT_UINT_KNOB(policy, idle_tax, 0, MEMVIRT_IDLE_TAX_MAX, memvirt_policy_kick);
MEMVIRT_UINT_KNOB(policy, period_ms, 10, 60000, memvirt_policy_kick);
MEMVIRT_UINT_KNOB(policy, sample_period_ms, 100, 3600000, memvirt_policy_kick);
MEMVIRT_UINT_KNOB(policy, sample_size, 0, 10000, memvirt_policy_kick);
MEMVIRT_UINT_KNOB(policy, balloon_timeout_ms, 0, 3600000, memvirt_policy_kick);

MEMVIRT_COUNTER(policy, ballooned);
MEMVIRT_COUNTER(policy, low_waits);
MEMVIRT_COUNTER(policy, low_wait_ns);
MEMVIRT_COUNTER(policy, policy_ns);
MEMVIRT_COUNTER(policy, sample_ns);
MEMVIRT_COUNTER(policy, samples);
MEMVIRT_COUNTER(policy, sample_periods);
MEMVIRT_COUNTER(policy, transitions);
MEMVIRT_COUNTER(policy, shrinker_count);
MEMVIRT_COUNTER(policy, shrinker_freed);
MEMVIRT_COUNTER(policy, reclaimed);
MEMVIRT_COUNTER(policy, reclaim_ns);

/* free_{high,soft,hard,low}_pct: ordered, so each store checks the others. */
struct memvirt_free_pct_attr {
	struct kobj_attribute attr;
	enum memvirt_state state;
};

#define to_free_pct(a)	container_of(a, struct memvirt_free_pct_attr, attr)

static ssize_t memvirt_free_pct_show(struct kobject *kobj, struct kobj_attribute *attr,
				     char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(memvirt_policy_knobs.free_pct[to_free_pct(attr)->state]));
}

static ssize_t memvirt_free_pct_store(struct kobject *kobj, struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	u64 val;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = memvirt_parse_u64(buf, &val);
	if (err)
		return err;
	if (val > 100)
		return -EINVAL;
	err = memvirt_policy_set_free_pct(to_free_pct(attr)->state, val);
	return err ? err : count;
}

#define MEMVIRT_FREE_PCT(_name, _state)						\
	static struct memvirt_free_pct_attr memvirt_policy_attr_##_name = {	\
		.attr = { .attr = { .name = __stringify(_name), .mode = 0644 },	\
			  .show = memvirt_free_pct_show,			\
			  .store = memvirt_free_pct_store },			\
		.state = (_state),						\
	}
MEMVIRT_FREE_PCT(free_high_pct, MEMVIRT_STATE_HIGH);
MEMVIRT_FREE_PCT(free_soft_pct, MEMVIRT_STATE_SOFT);
MEMVIRT_FREE_PCT(free_hard_pct, MEMVIRT_STATE_HARD);
MEMVIRT_FREE_PCT(free_low_pct, MEMVIRT_STATE_LOW);

static ssize_t state_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", memvirt_policy_state_name(memvirt_policy_state()));
}

static struct kobj_attribute memvirt_policy_attr_state = __ATTR_RO(state);

/* One line per state: its name and the milliseconds spent in it. */
static ssize_t state_ms_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	enum memvirt_state st;
	ssize_t n = 0;

	for (st = MEMVIRT_STATE_HIGH; st < MEMVIRT_NR_STATES; st++)
		n += sysfs_emit_at(buf, n, "%s %llu\n", memvirt_policy_state_name(st),
				   memvirt_policy_state_ms(st));
	return n;
}

static struct kobj_attribute memvirt_policy_attr_state_ms = __ATTR_RO(state_ms);

MEMVIRT_VALUE(policy, free_pages, memvirt_policy_free_pages);
MEMVIRT_VALUE(policy, avail_pages, memvirt_policy_avail_pages);

static struct attribute *memvirt_policy_attrs[] = {
	&memvirt_policy_knob_idle_tax.attr.attr,
	&memvirt_policy_knob_period_ms.attr.attr,
	&memvirt_policy_knob_sample_period_ms.attr.attr,
	&memvirt_policy_knob_sample_size.attr.attr,
	&memvirt_policy_attr_free_high_pct.attr.attr,
	&memvirt_policy_attr_free_soft_pct.attr.attr,
	&memvirt_policy_attr_free_hard_pct.attr.attr,
	&memvirt_policy_attr_free_low_pct.attr.attr,
	&memvirt_policy_knob_balloon_timeout_ms.attr.attr,
	&memvirt_policy_attr_state.attr,
	&memvirt_policy_attr_state_ms.attr,
	&memvirt_policy_value_free_pages.attr.attr,
	&memvirt_policy_value_avail_pages.attr.attr,
	&memvirt_policy_counter_transitions.attr.attr,
	&memvirt_policy_counter_ballooned.attr.attr,
	&memvirt_policy_counter_low_waits.attr.attr,
	&memvirt_policy_counter_low_wait_ns.attr.attr,
	&memvirt_policy_counter_policy_ns.attr.attr,
	&memvirt_policy_counter_sample_ns.attr.attr,
	&memvirt_policy_counter_samples.attr.attr,
	&memvirt_policy_counter_sample_periods.attr.attr,
	&memvirt_policy_counter_shrinker_count.attr.attr,
	&memvirt_policy_counter_shrinker_freed.attr.attr,
	&memvirt_policy_counter_reclaimed.attr.attr,
	&memvirt_policy_counter_reclaim_ns.attr.attr,
	NULL
};

static const struct attribute_group memvirt_policy_group = {
	.name = "policy",
	.attrs = memvirt_policy_attrs,
};

/*
 * Per-VM attributes. Counters are table-driven (@counter: the offset of an
 * atomic_long_t in struct memvirt_vm_stats); so are the policy knobs
 * (@policy: the MEMVIRT_POLICY_* field a store changes).
 */
struct memvirt_vm_attribute {
	struct attribute attr;
	ssize_t (*show)(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a, char *buf);
	ssize_t (*store)(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
			 const char *buf, size_t count);
	size_t counter;
	u32 policy;
};

#define to_vm(k)	container_of(k, struct memvirt_vm, kobj)
#define to_vm_attr(a)	container_of(a, struct memvirt_vm_attribute, attr)

static ssize_t memvirt_vm_attr_show(struct kobject *kobj, struct attribute *attr, char *buf)
{
	const struct memvirt_vm_attribute *a = to_vm_attr(attr);

	return a->show(to_vm(kobj), a, buf);
}

static ssize_t memvirt_vm_attr_store(struct kobject *kobj, struct attribute *attr,
				     const char *buf, size_t count)
{
	const struct memvirt_vm_attribute *a = to_vm_attr(attr);

	if (!a->store)
		return -EIO;
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return a->store(to_vm(kobj), a, buf, count);
}

static const struct sysfs_ops memvirt_vm_sysfs_ops = {
	.show	= memvirt_vm_attr_show,
	.store	= memvirt_vm_attr_store,
};

static ssize_t vm_counter_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
			       char *buf)
{
	atomic_long_t *counter = (void *)&vm->stats + a->counter;

	return sysfs_emit(buf, "%ld\n", atomic_long_read(counter));
}

#define MEMVIRT_VM_COUNTER(_name)						\
	static struct memvirt_vm_attribute memvirt_vm_attr_##_name = {		\
		.attr = { .name = __stringify(_name), .mode = 0444 },		\
		.show = vm_counter_show,					\
		.counter = offsetof(struct memvirt_vm_stats, _name),		\
	}
MEMVIRT_VM_COUNTER(resident);
MEMVIRT_VM_COUNTER(faults);
MEMVIRT_VM_COUNTER(punched);
MEMVIRT_VM_COUNTER(mkwrite);
MEMVIRT_VM_COUNTER(zero_maps);
MEMVIRT_VM_COUNTER(cow_breaks);
MEMVIRT_VM_COUNTER(pinned_skips);
MEMVIRT_VM_COUNTER(reclaimed);
MEMVIRT_VM_COUNTER(shared);
MEMVIRT_VM_COUNTER(pages_scanned);
MEMVIRT_VM_COUNTER(hint_hits);
MEMVIRT_VM_COUNTER(false_matches);
MEMVIRT_VM_COUNTER(zero_merged);
MEMVIRT_VM_COUNTER(compressed);
MEMVIRT_VM_COUNTER(compressed_bytes);
MEMVIRT_VM_COUNTER(swapped);
MEMVIRT_VM_COUNTER(swap_outs);
MEMVIRT_VM_COUNTER(swap_ins);
MEMVIRT_VM_COUNTER(compress_rejects);
MEMVIRT_VM_COUNTER(swap_errors);
MEMVIRT_VM_COUNTER(ballooned);
MEMVIRT_VM_COUNTER(deflated);
MEMVIRT_VM_COUNTER(low_waits);

#define MEMVIRT_VM_ATTR_RO(_name)					\
	static struct memvirt_vm_attribute memvirt_vm_attr_##_name = {	\
		.attr = { .name = __stringify(_name), .mode = 0444 },	\
		.show = vm_##_name##_show,				\
	}

static ssize_t vm_name_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", vm->name);
}
MEMVIRT_VM_ATTR_RO(name);

static ssize_t vm_size_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
			    char *buf)
{
	return sysfs_emit(buf, "%lld\n", i_size_read(vm->mapping->host));
}
MEMVIRT_VM_ATTR_RO(size);

static ssize_t vm_zero_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
			    char *buf)
{
	return sysfs_emit(buf, "%llu\n", memvirt_vm_zero_pages(vm));
}
MEMVIRT_VM_ATTR_RO(zero);

static ssize_t vm_p2m_bytes_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
				 char *buf)
{
	return sysfs_emit(buf, "%lu\n", memvirt_p2m_overhead_bytes(&vm->p2m));
}
MEMVIRT_VM_ATTR_RO(p2m_bytes);

/* The swap file's path, or an empty line; and its reserved size. */
static ssize_t vm_swap_file_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
				 char *buf)
{
	ssize_t n;

	mutex_lock(&vm->swap.resize_lock);
	n = sysfs_emit(buf, "%s\n", vm->swap.path ?: "");
	mutex_unlock(&vm->swap.resize_lock);
	return n;
}
MEMVIRT_VM_ATTR_RO(swap_file);

static ssize_t vm_swap_file_mb_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
				    char *buf)
{
	return memvirt_show_mb(buf, memvirt_swap_file_pages(vm));
}
MEMVIRT_VM_ATTR_RO(swap_file_mb);

static ssize_t vm_swap_file_pages_show(struct memvirt_vm *vm,
				       const struct memvirt_vm_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n", memvirt_swap_file_pages(vm));
}
MEMVIRT_VM_ATTR_RO(swap_file_pages);

/* The policy's view of the VM (policy/): pages, and percentages of activity. */
enum memvirt_vm_policy_field {
	MEMVIRT_VM_TARGET,
	MEMVIRT_VM_BALLOON_TARGET,
	MEMVIRT_VM_CHARGE,
	MEMVIRT_VM_DEMAND,
	MEMVIRT_VM_SAMPLE_PERIODS,
	MEMVIRT_VM_ACTIVE_ESTIMATE,
	MEMVIRT_VM_ACTIVE_SLOW,
	MEMVIRT_VM_ACTIVE_FAST,
	MEMVIRT_VM_ACTIVE_PERIOD,
};

static ssize_t vm_policy_state_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
				    char *buf)
{
	struct memvirt_vm_policy *p = &vm->policy;
	u64 target;
	u32 pm;

	switch (a->counter) {
	case MEMVIRT_VM_TARGET:
		/* Before the first computation it has no target: its size. */
		target = min(READ_ONCE(p->target), memvirt_vm_pages(vm));
		return sysfs_emit(buf, "%llu\n", target);
	case MEMVIRT_VM_BALLOON_TARGET:
		return sysfs_emit(buf, "%llu\n", READ_ONCE(p->balloon_target));
	case MEMVIRT_VM_CHARGE:
		return sysfs_emit(buf, "%llu\n", memvirt_policy_charge(vm));
	case MEMVIRT_VM_DEMAND:
		return sysfs_emit(buf, "%llu\n", READ_ONCE(p->demand));
	case MEMVIRT_VM_SAMPLE_PERIODS:
		return sysfs_emit(buf, "%llu\n", READ_ONCE(p->sample_periods));
	case MEMVIRT_VM_ACTIVE_ESTIMATE:
		pm = memvirt_policy_active(vm);
		break;
	case MEMVIRT_VM_ACTIVE_SLOW:
		pm = READ_ONCE(p->slow);
		break;
	case MEMVIRT_VM_ACTIVE_FAST:
		pm = READ_ONCE(p->fast);
		break;
	default:
		pm = READ_ONCE(p->period);
	}
	return sysfs_emit(buf, "%u\n", pm / 10);
}

#define MEMVIRT_VM_POLICY_STATE(_name, _field)					\
	static struct memvirt_vm_attribute memvirt_vm_attr_##_name = {		\
		.attr = { .name = __stringify(_name), .mode = 0444 },		\
		.show = vm_policy_state_show,					\
		.counter = (_field),						\
	}
MEMVIRT_VM_POLICY_STATE(target, MEMVIRT_VM_TARGET);
MEMVIRT_VM_POLICY_STATE(balloon_target, MEMVIRT_VM_BALLOON_TARGET);
MEMVIRT_VM_POLICY_STATE(charge, MEMVIRT_VM_CHARGE);
MEMVIRT_VM_POLICY_STATE(demand, MEMVIRT_VM_DEMAND);
MEMVIRT_VM_POLICY_STATE(sample_periods, MEMVIRT_VM_SAMPLE_PERIODS);
MEMVIRT_VM_POLICY_STATE(active_estimate, MEMVIRT_VM_ACTIVE_ESTIMATE);
MEMVIRT_VM_POLICY_STATE(active_slow, MEMVIRT_VM_ACTIVE_SLOW);
MEMVIRT_VM_POLICY_STATE(active_fast, MEMVIRT_VM_ACTIVE_FAST);
MEMVIRT_VM_POLICY_STATE(active_period, MEMVIRT_VM_ACTIVE_PERIOD);

/* Shares are a plain number; reservation and limit are MiB ("max": none). */
static ssize_t vm_policy_show(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
			      char *buf)
{
	switch (a->policy) {
	case MEMVIRT_POLICY_SHARES:
		return sysfs_emit(buf, "%llu\n", READ_ONCE(vm->shares));
	case MEMVIRT_POLICY_RESERVATION:
		return memvirt_show_mb(buf, READ_ONCE(vm->reservation_pages));
	default:
		return memvirt_show_mb(buf, READ_ONCE(vm->limit_pages));
	}
}

static ssize_t vm_policy_store(struct memvirt_vm *vm, const struct memvirt_vm_attribute *a,
			       const char *buf, size_t count)
{
	u64 val;
	int err;

	if (a->policy == MEMVIRT_POLICY_SHARES)
		err = memvirt_parse_u64(buf, &val);
	else
		err = memvirt_parse_mb(buf, a->policy == MEMVIRT_POLICY_LIMIT, &val);
	if (!err)	/* each field takes @val; the others are ignored */
		err = memvirt_vm_set_policy(vm, a->policy, val, val, val);
	return err ? err : count;
}

static ssize_t vm_sharing_domain_show(struct memvirt_vm *vm,
				      const struct memvirt_vm_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(vm->sharing_domain));
}

/* -EINVAL beyond MEMVIRT_SHARING_DOMAIN_MAX, -EBUSY while the VM shares pages. */
static ssize_t vm_sharing_domain_store(struct memvirt_vm *vm,
				       const struct memvirt_vm_attribute *a,
				       const char *buf, size_t count)
{
	u64 val;
	int err;

	err = memvirt_parse_u64(buf, &val);
	if (!err)
		err = memvirt_dedup_set_domain(vm, val);
	return err ? err : count;
}

static struct memvirt_vm_attribute memvirt_vm_attr_sharing_domain = {
	.attr = { .name = "sharing_domain", .mode = 0644 },
	.show = vm_sharing_domain_show,
	.store = vm_sharing_domain_store,
};

#define MEMVIRT_VM_POLICY(_name, _which)					\
	static struct memvirt_vm_attribute memvirt_vm_attr_##_name = {		\
		.attr = { .name = __stringify(_name), .mode = 0644 },		\
		.show = vm_policy_show, .store = vm_policy_store,		\
		.policy = (_which),						\
	}
MEMVIRT_VM_POLICY(shares, MEMVIRT_POLICY_SHARES);
MEMVIRT_VM_POLICY(reservation_mb, MEMVIRT_POLICY_RESERVATION);
MEMVIRT_VM_POLICY(limit_mb, MEMVIRT_POLICY_LIMIT);

static struct attribute *memvirt_vm_attrs[] = {
	&memvirt_vm_attr_name.attr,
	&memvirt_vm_attr_size.attr,
	&memvirt_vm_attr_resident.attr,
	&memvirt_vm_attr_zero.attr,
	&memvirt_vm_attr_faults.attr,
	&memvirt_vm_attr_punched.attr,
	&memvirt_vm_attr_mkwrite.attr,
	&memvirt_vm_attr_zero_maps.attr,
	&memvirt_vm_attr_cow_breaks.attr,
	&memvirt_vm_attr_pinned_skips.attr,
	&memvirt_vm_attr_reclaimed.attr,
	&memvirt_vm_attr_shared.attr,
	&memvirt_vm_attr_pages_scanned.attr,
	&memvirt_vm_attr_hint_hits.attr,
	&memvirt_vm_attr_false_matches.attr,
	&memvirt_vm_attr_zero_merged.attr,
	&memvirt_vm_attr_compressed.attr,
	&memvirt_vm_attr_compressed_bytes.attr,
	&memvirt_vm_attr_swapped.attr,
	&memvirt_vm_attr_swap_outs.attr,
	&memvirt_vm_attr_swap_ins.attr,
	&memvirt_vm_attr_compress_rejects.attr,
	&memvirt_vm_attr_swap_errors.attr,
	&memvirt_vm_attr_swap_file.attr,
	&memvirt_vm_attr_swap_file_mb.attr,
	&memvirt_vm_attr_swap_file_pages.attr,
	&memvirt_vm_attr_p2m_bytes.attr,
	&memvirt_vm_attr_shares.attr,
	&memvirt_vm_attr_reservation_mb.attr,
	&memvirt_vm_attr_limit_mb.attr,
	&memvirt_vm_attr_sharing_domain.attr,
	&memvirt_vm_attr_target.attr,
	&memvirt_vm_attr_balloon_target.attr,
	&memvirt_vm_attr_ballooned.attr,
	&memvirt_vm_attr_deflated.attr,
	&memvirt_vm_attr_charge.attr,
	&memvirt_vm_attr_demand.attr,
	&memvirt_vm_attr_active_estimate.attr,
	&memvirt_vm_attr_active_slow.attr,
	&memvirt_vm_attr_active_fast.attr,
	&memvirt_vm_attr_active_period.attr,
	&memvirt_vm_attr_sample_periods.attr,
	&memvirt_vm_attr_low_waits.attr,
	NULL
};
ATTRIBUTE_GROUPS(memvirt_vm);

static void memvirt_vm_kobj_release(struct kobject *kobj)
{
	memvirt_vm_free(to_vm(kobj));
}

static const struct kobj_type memvirt_vm_ktype = {
	.sysfs_ops	= &memvirt_vm_sysfs_ops,
	.default_groups	= memvirt_vm_groups,
	.release	= memvirt_vm_kobj_release,
};

/*
 * Adds /sys/kernel/memvirt/vms/<id>. On failure the VM is freed by its
 * kobject's release.
 */
int memvirt_sysfs_add_vm(struct memvirt_vm *vm)
{
	int err;

	err = kobject_init_and_add(&vm->kobj, &memvirt_vm_ktype, memvirt_vms_kobj,
				   "%llu", vm->id);
	if (err)
		kobject_put(&vm->kobj);
	return err;
}

int memvirt_sysfs_init(void)
{
	int err;

	memvirt_kobj = kobject_create_and_add("memvirt", kernel_kobj);
	if (!memvirt_kobj)
		return -ENOMEM;
	err = sysfs_create_group(memvirt_kobj, &memvirt_attr_group);
	if (err)
		goto out_put_memvirt;
	err = sysfs_create_group(memvirt_kobj, &memvirt_dedup_group);
	if (err)
		goto out_remove_group;
	err = sysfs_create_group(memvirt_kobj, &memvirt_swap_group);
	if (err)
		goto out_remove_dedup;
	err = sysfs_create_group(memvirt_kobj, &memvirt_policy_group);
	if (err)
		goto out_remove_swap;
	memvirt_vms_kobj = kobject_create_and_add("vms", memvirt_kobj);
	if (!memvirt_vms_kobj) {
		err = -ENOMEM;
		goto out_remove_policy;
	}
	return 0;

out_remove_policy:
	sysfs_remove_group(memvirt_kobj, &memvirt_policy_group);
out_remove_swap:
	sysfs_remove_group(memvirt_kobj, &memvirt_swap_group);
out_remove_dedup:
	sysfs_remove_group(memvirt_kobj, &memvirt_dedup_group);
out_remove_group:
	sysfs_remove_group(memvirt_kobj, &memvirt_attr_group);
out_put_memvirt:
	kobject_put(memvirt_kobj);
	return err;
}

void memvirt_sysfs_exit(void)
{
	kobject_put(memvirt_vms_kobj);
	sysfs_remove_group(memvirt_kobj, &memvirt_policy_group);
	sysfs_remove_group(memvirt_kobj, &memvirt_swap_group);
	sysfs_remove_group(memvirt_kobj, &memvirt_dedup_group);
	sysfs_remove_group(memvirt_kobj, &memvirt_attr_group);
	kobject_put(memvirt_kobj);
}
