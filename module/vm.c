// SPDX-License-Identifier: GPL-2.0
/*
 * VM objects: creation and teardown, admission control and policy fields.
 *
 * DOC: admission control
 *
 * Every VM commits its guest-physical size at ftruncate() (or an extending
 * fallocate()). Growing is refused with -ENOMEM when the sum of all sizes
 * would exceed budget_mb * overcommit_ratio / 100; shrinking always succeeds
 * and frees the pages beyond the new size. The reservation of every VM is
 * guaranteed memory: reservations may not add up to more than the budget.
 * memvirt_commit_lock serialises all of it.
 *
 * DOC: VM lifetime
 *
 * A VM is created with its memvirtfs file and torn down at the file's last
 * iput, when no mapping, open file or ioctl can reach it. Its struct lives
 * as long as its kobject has references: the file holds one, and a
 * background user (a scanner, a reclaim thread) that found the VM in the
 * VM list takes its own with memvirt_vm_get(), so the struct survives the
 * user's sleeps. The mapping and the pages live only while the file does:
 * before touching them the user calls memvirt_vm_begin_work(), which fails
 * once teardown has begun, and it calls memvirt_vm_end_work() before any
 * long sleep; teardown takes the same rwsem exclusively, so it waits for
 * work in progress and no work starts after it. Truncate needs no such
 * handshake: every P2M change happens under gfn locks, and each operation
 * handles whatever state a concurrent truncate left behind.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/workqueue.h>

#include "dedup/dedup.h"
#include "module/memvirt.h"
#include "module/trace.h"

struct memvirt_globals memvirt = {
	.overcommit_ratio = MEMVIRT_RATIO_DEFAULT,
	.max_vms = MEMVIRT_MAX_VMS_DEFAULT,
};

/* Budget, ratio, committed bytes, reservations, VM sizes and policies. */
DEFINE_MUTEX(memvirt_commit_lock);

/* VM ids are never reused while the module is loaded: tools may key on them. */
static atomic64_t memvirt_last_vm_id = ATOMIC64_INIT(0);
static LIST_HEAD(memvirt_vms);
/* memvirt_vms; never held across P2M work. */
static DEFINE_MUTEX(memvirt_vms_lock);

/* Most bytes guest sizes may add up to. Caller holds memvirt_commit_lock. */
static u64 memvirt_vm_commit_limit(void)
{
	lockdep_assert_held(&memvirt_commit_lock);
	return div_u64(memvirt.budget_pages * PAGE_SIZE * memvirt.overcommit_ratio, 100);
}

/* Gfns that read as zero and hold nothing. */
u64 memvirt_vm_zero_pages(struct memvirt_vm *vm)
{
	u64 pages = memvirt_vm_pages(vm);
	u64 held = atomic_long_read(&vm->stats.resident) + atomic_long_read(&vm->stats.shared) +
		   atomic_long_read(&vm->stats.compressed) + atomic_long_read(&vm->stats.swapped);

	return pages > held ? pages - held : 0;
}

/* Does byte @c appear as itself in names shown to people? */
static bool memvirt_name_char_is_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\';
}

/*
 * A copy of the user-chosen path @name for sysfs and the kernel log: bytes
 * below 0x20, from 0x7f, and the backslash become \xHH, so a name can
 * neither forge log lines nor carry terminal escapes.
 */
static char *memvirt_vm_escape_name(const char *name)
{
	size_t len = 1;
	const char *c;
	char *out, *o;

	for (c = name; *c; c++)
		len += memvirt_name_char_is_plain(*c) ? 1 : 4;
	out = kmalloc(len, GFP_KERNEL_ACCOUNT);
	if (!out)
		return NULL;
	for (c = name, o = out; *c; c++) {
		if (memvirt_name_char_is_plain(*c))
			*o++ = *c;
		else
			o += sprintf(o, "\\x%02x", (unsigned char)*c);
	}
	*o = '\0';
	return out;
}

/* Counts a new VM against max_vms; -ENOSPC, with a log line, beyond it. */
static int memvirt_vm_count_new(const char *name)
{
	unsigned int max = READ_ONCE(memvirt.max_vms);

	if (atomic_inc_return(&memvirt.nr_vms) <= max)
		return 0;
	atomic_dec(&memvirt.nr_vms);
	pr_warn_ratelimited("cannot create VM %s: %u VMs exist, the most max_vms allows (raise /sys/kernel/memvirt/max_vms)\n",
			    name, max);
	return -ENOSPC;
}

/**
 * memvirt_vm_create - a VM for a new memvirtfs file.
 * @name:	the file's path in its filesystem, for sysfs.
 * @mapping:	the file's mapping.
 *
 * The VM's memory is charged to the creator's memory cgroup; the sysfs and
 * debugfs nodes, which cannot be, are bounded by max_vms.
 *
 * Returns the VM, size 0, visible in sysfs and debugfs, or an ERR_PTR:
 * -ENOSPC beyond max_vms, -ENOMEM.
 */
struct memvirt_vm *memvirt_vm_create(const char *name, struct address_space *mapping)
{
	struct memvirt_vm *vm;
	char *escaped;
	int err;

	escaped = memvirt_vm_escape_name(name);
	if (!escaped)
		return ERR_PTR(-ENOMEM);
	err = memvirt_vm_count_new(escaped);
	if (err)
		goto out_free_name;
	err = -ENOMEM;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		goto out_uncount;
	vm->id = atomic64_inc_return(&memvirt_last_vm_id);
	vm->mapping = mapping;
	vm->name = escaped;
	vm->shares = MEMVIRT_SHARES_DEFAULT;
	vm->limit_pages = U64_MAX;
	vm->store_ops = &memvirt_store_default_ops;
	init_rwsem(&vm->lifetime);
	INIT_LIST_HEAD(&vm->node);
	memvirt_swap_vm_init(vm);
	memvirt_policy_vm_init(vm);
	err = memvirt_p2m_init(&vm->p2m);
	if (err)
		goto out_free_vm;
	/* From here on the kobject's release frees everything. */
	err = memvirt_sysfs_add_vm(vm);
	if (err) {
		atomic_dec(&memvirt.nr_vms);
		return ERR_PTR(err);
	}
	memvirt_debugfs_add_vm(vm);
	mutex_lock(&memvirt_vms_lock);
	list_add_tail(&vm->node, &memvirt_vms);
	mutex_unlock(&memvirt_vms_lock);
	memvirt_policy_kick();
	return vm;

out_free_vm:
	kfree(vm);
out_uncount:
	atomic_dec(&memvirt.nr_vms);
out_free_name:
	kfree(escaped);
	return ERR_PTR(err);
}

/* Frees a VM; the release of its kobject, when the last reference goes. */
void memvirt_vm_free(struct memvirt_vm *vm)
{
	memvirt_p2m_destroy(&vm->p2m);
	memvirt_swap_vm_free(vm);
	memvirt_policy_vm_free(vm);
	kfree(vm->name);
	kfree(vm);
}

/**
 * memvirt_vm_destroy - free a VM whose file is gone (last iput).
 * @vm:		the VM.
 *
 * No mapping, open file or ioctl can reach the VM any more.
 */
void memvirt_vm_destroy(struct memvirt_vm *vm)
{
	u64 freed = 0;

	mutex_lock(&memvirt_vms_lock);
	list_del_init(&vm->node);
	mutex_unlock(&memvirt_vms_lock);
	atomic_dec(&memvirt.nr_vms);

	/* Waits for background work in progress; none starts after this. */
	down_write(&vm->lifetime);
	vm->dying = true;
	up_write(&vm->lifetime);

	memvirt_debugfs_remove_vm(vm);
	kobject_del(&vm->kobj);	/* waits for sysfs readers */

	/*
	 * Nothing lives past i_size: faults, mkwrite, write and populate
	 * check it, and truncate discards the tail. memvirt_p2m_destroy()
	 * warns about any page left behind.
	 */
	filemap_invalidate_lock(vm->mapping);
	memvirt_vm_discard(vm, 0, memvirt_vm_pages(vm), MEMVIRT_OP_TEARDOWN, &freed);
	filemap_invalidate_unlock(vm->mapping);
	/* After its writes in flight: the swap file goes. */
	memvirt_swap_vm_teardown(vm);

	mutex_lock(&memvirt_commit_lock);
	memvirt.committed -= vm->size;
	memvirt.reserved_pages -= vm->reservation_pages;
	mutex_unlock(&memvirt_commit_lock);
	memvirt_policy_kick();
	kobject_put(&vm->kobj);
}

/* A reference that keeps the VM's struct (not its pages) alive. */
void memvirt_vm_get(struct memvirt_vm *vm)
{
	kobject_get(&vm->kobj);
}

void memvirt_vm_put(struct memvirt_vm *vm)
{
	kobject_put(&vm->kobj);
}

/**
 * memvirt_vm_begin_work - start working on a VM's pages from the background.
 * @vm: a VM the caller holds a reference on (memvirt_vm_get()).
 *
 * Return: true if the VM's mapping and pages may be used until
 * memvirt_vm_end_work(); false once teardown has begun.
 */
bool memvirt_vm_begin_work(struct memvirt_vm *vm)
{
	down_read(&vm->lifetime);
	if (!vm->dying)
		return true;
	up_read(&vm->lifetime);
	return false;
}

/*
 * memvirt_vm_begin_work() that does not wait: for a user that already works
 * on another VM (the sharing pass reaching a hint frame of another VM), for
 * whom waiting behind a teardown queued on this VM could close a cycle.
 */
bool memvirt_vm_try_begin_work(struct memvirt_vm *vm)
{
	if (!down_read_trylock(&vm->lifetime))
		return false;
	if (!vm->dying)
		return true;
	up_read(&vm->lifetime);
	return false;
}

void memvirt_vm_end_work(struct memvirt_vm *vm)
{
	up_read(&vm->lifetime);
}

/*
 * The VM with id @id (or, for memvirt_vm_next_get(), the one with the
 * smallest id at least @id), with a reference for the caller; NULL if there
 * is none. Ids are taken before the VM joins the list, so the list is not
 * quite in id order: every entry is looked at (max_vms bounds them).
 * Background users (the sharing scanner) then call memvirt_vm_begin_work().
 */
static struct memvirt_vm *memvirt_vm_lookup_get(u64 id, bool exact)
{
	struct memvirt_vm *vm, *found = NULL;

	mutex_lock(&memvirt_vms_lock);
	list_for_each_entry(vm, &memvirt_vms, node) {
		if (vm->id == id) {
			found = vm;
			break;
		}
		if (!exact && vm->id > id && (!found || vm->id < found->id))
			found = vm;
	}
	if (found)
		memvirt_vm_get(found);
	mutex_unlock(&memvirt_vms_lock);
	return found;
}

struct memvirt_vm *memvirt_vm_find_get(u64 id)
{
	return memvirt_vm_lookup_get(id, true);
}

struct memvirt_vm *memvirt_vm_next_get(u64 id)
{
	return memvirt_vm_lookup_get(id, false);
}

/* Modes MEMVIRT_IOC_RECLAIM knows; later mechanisms add theirs here. */
static bool memvirt_vm_reclaim_mode_is_valid(u64 mode)
{
	return mode == MEMVIRT_RECLAIM_ZERO || mode == MEMVIRT_RECLAIM_SHARE ||
	       mode == MEMVIRT_RECLAIM_COMPRESS || mode == MEMVIRT_RECLAIM_SWAP;
}

/* MEMVIRT_RECLAIM_COMPRESS and _SWAP: a swap-out pass, its writes waited for. */
static int memvirt_vm_reclaim_swap(struct memvirt_vm *vm, u64 start, u64 end, u64 mode,
				   struct memvirt_range_result *res)
{
	struct memvirt_swap_result sres = {};
	int err;

	err = memvirt_swap_out(vm, start, end, mode == MEMVIRT_RECLAIM_SWAP ?
			       MEMVIRT_SWAP_FILE : MEMVIRT_SWAP_COMPRESS, &sres);
	res->scanned = sres.scanned;
	res->pinned = sres.pinned;
	res->zeroed = sres.zeroed;
	res->compressed = sres.compressed;
	res->swapped = sres.swapped;
	res->done = sres.zeroed + sres.compressed + sres.swapped;
	atomic_long_add(res->done, &vm->stats.reclaimed);
	return err;
}

/**
 * memvirt_vm_reclaim - run the reclaim protocol over gfns [@start, @end).
 * @vm:		the VM; its file is open, or the caller is between
 *		memvirt_vm_begin_work() and memvirt_vm_end_work().
 * @start:	first gfn.
 * @end:	first gfn past the range (exclusive).
 * @mode:	MEMVIRT_RECLAIM_*.
 * @res:	what was done, added to (a caller may sum several calls).
 *
 * Return: 0, -EINVAL for an unknown mode, -EINTR on a fatal signal,
 * -EOPNOTSUPP for MEMVIRT_RECLAIM_SWAP on a VM without a swap file.
 */
int memvirt_vm_reclaim(struct memvirt_vm *vm, u64 start, u64 end, u64 mode,
		       struct memvirt_range_result *res)
{
	struct memvirt_range_result this = {};
	int err;

	if (!memvirt_vm_reclaim_mode_is_valid(mode))
		return -EINVAL;
	if (mode == MEMVIRT_RECLAIM_SHARE) {
		/* Counts its own reclaimed pages, as the scanner does. */
		err = memvirt_dedup_pass(vm, start, end, &this.merged, &this.zeroed,
					 &this.scanned, &this.pinned);
		this.done = this.merged + this.zeroed;
	} else if (mode == MEMVIRT_RECLAIM_COMPRESS || mode == MEMVIRT_RECLAIM_SWAP) {
		err = memvirt_vm_reclaim_swap(vm, start, end, mode, &this);
	} else {
		err = memvirt_store_range(vm, start, end, MEMVIRT_OP_RECLAIM_ZERO, &this);
		atomic_long_add(this.done, &vm->stats.reclaimed);
		this.zeroed = this.done;
	}
	trace_reclaim(vm->id, mode, start, end - start, this.scanned, this.done, this.pinned);
	res->scanned += this.scanned;
	res->done += this.done;
	res->pinned += this.pinned;
	res->merged += this.merged;
	res->zeroed += this.zeroed;
	res->compressed += this.compressed;
	res->swapped += this.swapped;
	return err;
}

/*
 * Background reclaim (MEMVIRT_RECLAIM_ASYNC): the first user of the
 * lifetime rules above. The work holds a reference on the VM, never on its
 * file, and takes the lifetime rwsem one chunk at a time.
 */
#define MEMVIRT_ASYNC_CHUNK	4096	/* gfns per memvirt_vm_begin_work() */

static struct workqueue_struct *memvirt_wq;

struct memvirt_reclaim_work {
	struct work_struct work;
	struct memvirt_vm *vm;
	u64 start;
	u64 end;
	u64 mode;
};

static void memvirt_vm_reclaim_fn(struct work_struct *work)
{
	struct memvirt_reclaim_work *w = container_of(work, struct memvirt_reclaim_work, work);
	struct memvirt_range_result res = {};
	struct memvirt_vm *vm = w->vm;
	u64 gfn, end;
	int err = 0;

	for (gfn = w->start; gfn < w->end && !err; gfn = end) {
		/* Unlinked and gone, or unmounted: stop. */
		if (!memvirt_vm_begin_work(vm))
			break;
		/* Shrunk below us: stop at the new end. */
		end = min3(gfn + MEMVIRT_ASYNC_CHUNK, w->end, memvirt_vm_pages(vm));
		if (gfn < end)
			err = memvirt_vm_reclaim(vm, gfn, end, w->mode, &res);
		else
			end = w->end;
		memvirt_vm_end_work(vm);
		cond_resched();
	}
	memvirt_vm_put(vm);	/* taken by memvirt_vm_reclaim_async() */
	kfree(w);
}

/**
 * memvirt_vm_reclaim_async - queue a reclaim pass over [@start, @end).
 * @vm:		the VM; its file is open.
 * @start:	first gfn.
 * @end:	first gfn past the range (exclusive).
 * @mode:	MEMVIRT_RECLAIM_*.
 *
 * Return: 0 once queued, -EINVAL for an unknown mode, -ENOMEM.
 */
int memvirt_vm_reclaim_async(struct memvirt_vm *vm, u64 start, u64 end, u64 mode)
{
	struct memvirt_reclaim_work *w;

	if (!memvirt_vm_reclaim_mode_is_valid(mode))
		return -EINVAL;
	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return -ENOMEM;
	INIT_WORK(&w->work, memvirt_vm_reclaim_fn);
	memvirt_vm_get(vm);	/* the struct outlives the file if need be */
	w->vm = vm;
	w->start = start;
	w->end = end;
	w->mode = mode;
	queue_work(memvirt_wq, &w->work);
	return 0;
}

int memvirt_vm_init(void)
{
	memvirt_wq = alloc_workqueue("memvirt", WQ_UNBOUND, 0);
	return memvirt_wq ? 0 : -ENOMEM;
}

/* Module exit: waits for background work, which drops its VM references. */
void memvirt_vm_exit(void)
{
	destroy_workqueue(memvirt_wq);
}

/**
 * memvirt_vm_resize - commit a new guest-physical size.
 * @vm:		the VM.
 * @new_size:	bytes.
 *
 * Returns 0, or -ENOMEM (with a log line) if growing would commit more than
 * the budget allows. Caller holds the file's i_rwsem.
 */
int memvirt_vm_resize(struct memvirt_vm *vm, u64 new_size)
{
	u64 committed, limit;
	int err = 0;

	lockdep_assert_held(&vm->mapping->host->i_rwsem);
	mutex_lock(&memvirt_commit_lock);
	committed = memvirt.committed - vm->size + new_size;
	limit = memvirt_vm_commit_limit();
	if (new_size > vm->size && committed > limit) {
		pr_warn_ratelimited("vm %llu (%s): growing to %llu MiB refused: %llu MiB would be committed, limit is %llu MiB (budget_mb x overcommit_ratio %u%%)\n",
				    vm->id, vm->name, DIV_ROUND_UP_ULL(new_size, SZ_1M),
				    DIV_ROUND_UP_ULL(committed, SZ_1M), limit / SZ_1M,
				    memvirt.overcommit_ratio);
		err = -ENOMEM;
	} else {
		memvirt.committed = committed;
		vm->size = new_size;
	}
	mutex_unlock(&memvirt_commit_lock);
	if (!err)
		memvirt_policy_kick();
	return err;
}

/**
 * memvirt_vm_set_policy - change shares, reservation and/or limit.
 * @vm:			the VM.
 * @which:		MEMVIRT_POLICY_* bits: the fields to change.
 * @shares:		MEMVIRT_SHARES_MIN..MEMVIRT_SHARES_MAX.
 * @reservation_pages:	at most the limit; reservations add up to at most
 *			the budget.
 * @limit_pages:	at least the reservation, or U64_MAX for none; not 0.
 *
 * A lower reservation grows the VM's swap file (its size less the
 * reservation); if that cannot be reserved, nothing changes.
 *
 * Returns 0, -EINVAL for a value out of range, -ENOSPC if the reservations
 * would exceed the budget or the swap file cannot grow.
 */
int memvirt_vm_set_policy(struct memvirt_vm *vm, u32 which, u64 shares,
			  u64 reservation_pages, u64 limit_pages)
{
	u64 res, limit, reserved, old_res, old_limit, old_shares;
	int err = 0;

	if ((which & MEMVIRT_POLICY_SHARES) &&
	    (shares < MEMVIRT_SHARES_MIN || shares > MEMVIRT_SHARES_MAX))
		return -EINVAL;
	if ((which & MEMVIRT_POLICY_LIMIT) && !limit_pages)
		return -EINVAL;
	mutex_lock(&memvirt_commit_lock);
	res = which & MEMVIRT_POLICY_RESERVATION ? reservation_pages : vm->reservation_pages;
	limit = which & MEMVIRT_POLICY_LIMIT ? limit_pages : vm->limit_pages;
	reserved = memvirt.reserved_pages - vm->reservation_pages + res;
	if (res > limit)
		err = -EINVAL;
	else if (reserved > memvirt.budget_pages)
		err = -ENOSPC;
	old_res = vm->reservation_pages;
	old_limit = vm->limit_pages;
	old_shares = vm->shares;
	if (!err) {
		if (which & MEMVIRT_POLICY_SHARES)
			vm->shares = shares;
		vm->reservation_pages = res;
		vm->limit_pages = limit;
		memvirt.reserved_pages = reserved;
	}
	mutex_unlock(&memvirt_commit_lock);
	if (!err)
		memvirt_policy_kick();
	if (err || res >= old_res)
		return err;
	err = memvirt_swap_vm_resize(vm);
	if (err) {
		mutex_lock(&memvirt_commit_lock);
		memvirt.reserved_pages += old_res - vm->reservation_pages;
		vm->reservation_pages = old_res;
		vm->limit_pages = old_limit;
		vm->shares = old_shares;
		mutex_unlock(&memvirt_commit_lock);
	}
	return err;
}

/* Returns 0, or -EBUSY if @budget_pages is below the sum of reservations. */
int memvirt_vm_set_budget(u64 budget_pages)
{
	int err = 0;

	mutex_lock(&memvirt_commit_lock);
	if (budget_pages < memvirt.reserved_pages)
		err = -EBUSY;
	else
		memvirt.budget_pages = budget_pages;
	mutex_unlock(&memvirt_commit_lock);
	if (!err)
		memvirt_policy_kick();
	return err;
}

/* Bytes used by all VMs' P2M tables. */
unsigned long memvirt_vm_p2m_bytes(void)
{
	unsigned long bytes = 0;
	struct memvirt_vm *vm;

	mutex_lock(&memvirt_vms_lock);
	list_for_each_entry(vm, &memvirt_vms, node)
		bytes += memvirt_p2m_overhead_bytes(&vm->p2m);
	mutex_unlock(&memvirt_vms_lock);
	return bytes;
}
