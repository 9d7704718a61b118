/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module/: memvirtfs, the fault path, VM objects and their controls.
 *
 * Locking
 * =======
 *
 * Order (outer first; Documentation/locking.rst has the global picture):
 *   1. inode->i_rwsem          (VFS; setattr, fallocate, write)
 *   2. mapping->invalidate_lock shared: fault, read, write, populate,
 *                              punch; exclusive: truncate and VM teardown
 *                              only. Protects i_size against the P2M: a
 *                              gfn below i_size seen under the lock stays
 *                              below it until it is dropped. Reclaim does
 *                              not take it: gfn locks are enough there.
 *   3. vm->lifetime            (rwsem) shared: a background user works on
 *                              a VM it found in the VM list; exclusive:
 *                              teardown waits those users out.
 *   4. memvirt_commit_lock     (mutex) budget, overcommit ratio, committed
 *                              bytes, every VM's size and policy fields.
 *   5. gfn lock, or one run of gfn locks (ept/ept.h)
 *   6. page lock               of a guest page, then of a zero frame
 *                              (module/store.h)
 *   7. i_mmap lock / PTL       (taken by unmap_mapping_pages)
 *
 * memvirt_vms_lock (mutex) protects the VM list. It is taken with no other
 * memvirt lock held (VM creation under the directory's i_rwsem, teardown at
 * evict time, the p2m_bytes sysfs file inside its kernfs active reference)
 * and is never held across P2M work.
 *
 * Sleeping: every path here may sleep (GFP_HIGHUSER allocations, bit locks,
 * page locks); nothing runs in atomic context.
 */
#ifndef MEMVIRT_MODULE_H
#define MEMVIRT_MODULE_H

#include <linux/fs.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/pfn.h>

#include <linux/rwsem.h>

#include "ept/ept.h"
#include "module/store.h"
#include "policy/policy.h"
#include "swap/swap.h"

#define MEMVIRT_FS_MAGIC	0x6d656d76	/* "memv" */

/**
 * struct memvirt_vm_stats - per-VM event and state counters.
 * @resident:	gfns backed by a private host page.
 * @faults:	->fault calls that mapped a page or a zero frame (host
 *		processes and KVM alike).
 * @punched:	pages freed by fallocate(PUNCH_HOLE).
 * @mkwrite:	->page_mkwrite calls that made a page writable.
 * @zero_maps:	read faults served with a read-only zero frame.
 * @cow_breaks:	read-only frames (zero or shared) replaced by a private
 *		page on a write.
 * @pinned_skips: reclaim candidates left alone: referenced beyond memvirt.
 * @reclaimed:	pages freed by the reclaim protocol (not punch or truncate).
 * @shared:	gfns naming a shared frame.
 * @pages_scanned: private pages a sharing pass hashed.
 * @hint_hits:	of those, hashes that matched a hint frame.
 * @false_matches: hash matches whose full compare differed.
 * @zero_merged: all-zero pages a sharing pass freed (gfn left ZERO).
 * @compressed:	gfns COMPRESSED.
 * @compressed_bytes: their compressed bytes.
 * @swapped:	gfns SWAPPED.
 * @swap_outs:	pages written to the swap file.
 * @swap_ins:	pages read back from it.
 * @compress_rejects: pages that compressed to more than half a page.
 * @swap_errors: failed swap file reads and writes.
 * @ballooned:	gfns BALLOONED (policy/).
 * @deflated:	BALLOONED gfns given a page again.
 * @low_waits:	faults that first reclaimed the VM's own pages (LOW state).
 */
struct memvirt_vm_stats {
	atomic_long_t resident;
	atomic_long_t faults;
	atomic_long_t punched;
	atomic_long_t mkwrite;
	atomic_long_t zero_maps;
	atomic_long_t cow_breaks;
	atomic_long_t pinned_skips;
	atomic_long_t reclaimed;
	atomic_long_t shared;
	atomic_long_t pages_scanned;
	atomic_long_t hint_hits;
	atomic_long_t false_matches;
	atomic_long_t zero_merged;
	atomic_long_t compressed;
	atomic_long_t compressed_bytes;
	atomic_long_t swapped;
	atomic_long_t swap_outs;
	atomic_long_t swap_ins;
	atomic_long_t compress_rejects;
	atomic_long_t swap_errors;
	atomic_long_t ballooned;
	atomic_long_t deflated;
	atomic_long_t low_waits;
};

/**
 * struct memvirt_vm - one VM: the guest RAM behind one memvirtfs file.
 * @kobj:	/sys/kernel/memvirt/vms/<id>; its release frees the VM.
 * @id:		unique while the module is loaded; the sysfs directory name.
 * @name:	path of the file in its memvirtfs when it was created.
 * @mapping:	the file's page mapping: every unmap goes through it so the
 *		MMU notifiers make KVM drop its nested entries.
 * @p2m:	guest-physical map.
 * @size:	committed guest-physical size in bytes; under
 *		memvirt_commit_lock (i_size is what faults check).
 * @shares:	proportional-share weight; under memvirt_commit_lock.
 * @reservation_pages: guaranteed pages; under memvirt_commit_lock.
 * @limit_pages: most pages resident, or U64_MAX; under memvirt_commit_lock.
 * @sharing_domain: pages may be shared with VMs of this domain; 0: within
 *		the VM only. Written under memvirt_dedup_pass_lock.
 * @stats:	counters.
 * @swap:	swap file, slots and compression cache entries (swap/).
 * @policy:	target, balloon target, working-set sample (policy/).
 * @store_ops:	how the page store allocates and unmaps (tests fake it).
 * @lifetime:	held shared by a background user between
 *		memvirt_vm_begin_work() and memvirt_vm_end_work(); teardown
 *		takes it exclusively to wait them out.
 * @dying:	set by teardown under @lifetime held exclusively: the mapping
 *		is going away and nobody may start work on the VM.
 * @node:	in memvirt_vms; under memvirt_vms_lock.
 * @debugfs:	/sys/kernel/debug/memvirt/vms/<id>.
 *
 * Lifetime: the struct lives while its kobject has references (the file's
 * inode holds one until its last iput; background users take their own
 * with memvirt_vm_get()); the mapping and the pages only while the inode
 * lives, which memvirt_vm_begin_work() checks.
 */
struct memvirt_vm {
	struct kobject kobj;
	u64 id;
	const char *name;
	struct address_space *mapping;
	struct memvirt_p2m p2m;
	u64 size;
	u64 shares;
	u64 reservation_pages;
	u64 limit_pages;
	u64 sharing_domain;
	struct memvirt_vm_stats stats;
	struct memvirt_vm_swap swap;
	struct memvirt_vm_policy policy;
	const struct memvirt_store_ops *store_ops;
	struct rw_semaphore lifetime;
	bool dying;
	struct list_head node;
	struct dentry *debugfs;
};

/**
 * struct memvirt_globals - host-wide knobs and totals.
 * @budget_pages:	host memory guests may be given; knob budget_mb.
 * @overcommit_ratio:	percent of the budget guest sizes may add up to.
 * @committed:		sum of all VMs' sizes, bytes.
 * @reserved_pages:	sum of all VMs' reservations.
 * @max_vms:		most VMs (regular files) alive at once; knob max_vms.
 * @nr_vms:		VMs alive.
 * @resident:		pages held by all VMs.
 * @pinned_skips:	reclaim candidates skipped because pinned, all VMs.
 *
 * Fields above @max_vms are under memvirt_commit_lock; @max_vms is read
 * and written once (READ_ONCE/WRITE_ONCE).
 */
struct memvirt_globals {
	u64 budget_pages;
	unsigned int overcommit_ratio;
	u64 committed;
	u64 reserved_pages;
	unsigned int max_vms;
	atomic_t nr_vms;
	atomic_long_t resident;
	atomic_long_t pinned_skips;
};

extern struct memvirt_globals memvirt;
extern struct mutex memvirt_commit_lock;

#define MEMVIRT_RATIO_MIN	10
#define MEMVIRT_RATIO_MAX	1000
/*
 * Guests may be promised half as much again as the budget. Typical guests
 * leave much of their RAM idle or zero, and memvirt takes memory back by
 * sharing, ballooning, compression and the swap file, which every VM
 * reserves up front for its size less its reservation, so swap cannot
 * fail at run time (Documentation/design.rst, "Overcommit"). Without a
 * swapdir= mount the guarantee rests on sharing, ballooning and
 * compression alone: an admin who runs so lowers the ratio.
 */
#define MEMVIRT_RATIO_DEFAULT	150

/*
 * Each VM costs a few pages of kernel memory before its guest touches
 * anything (the struct, its P2M root, a sysfs directory of a dozen files,
 * a debugfs directory). 1024 is far more VMs than one host runs, yet keeps
 * an unprivileged owner of a mount from filling kernel memory with empty
 * files.
 */
#define MEMVIRT_MAX_VMS_DEFAULT	1024
#define MEMVIRT_MAX_VMS_MAX	BIT(20)

/*
 * Guest pages: zeroed, charged to the memory cgroup of the task that
 * populates them (module/store.c says why). P2M tables: charged the same way.
 */
#define MEMVIRT_GUEST_GFP	(GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT)
#define MEMVIRT_TABLE_GFP	GFP_KERNEL_ACCOUNT

/*
 * Gfns of the VM's file (i_size in pages). Stable only under the
 * invalidate_lock; faults and I/O check gfns against it there.
 */
static inline u64 memvirt_vm_pages(struct memvirt_vm *vm)
{
	return PFN_UP(i_size_read(vm->mapping->host));
}

/* vm.c: VM objects, admission control, lifetime. */
struct memvirt_vm *memvirt_vm_create(const char *name, struct address_space *mapping);
void memvirt_vm_destroy(struct memvirt_vm *vm);
void memvirt_vm_get(struct memvirt_vm *vm);
void memvirt_vm_put(struct memvirt_vm *vm);
bool memvirt_vm_begin_work(struct memvirt_vm *vm);
bool memvirt_vm_try_begin_work(struct memvirt_vm *vm);
struct memvirt_vm *memvirt_vm_find_get(u64 id);
struct memvirt_vm *memvirt_vm_next_get(u64 id);
void memvirt_vm_end_work(struct memvirt_vm *vm);
int memvirt_vm_reclaim(struct memvirt_vm *vm, u64 start, u64 end, u64 mode,
		       struct memvirt_range_result *res);
int memvirt_vm_reclaim_async(struct memvirt_vm *vm, u64 start, u64 end, u64 mode);
int memvirt_vm_init(void);
void memvirt_vm_exit(void);
int memvirt_vm_resize(struct memvirt_vm *vm, u64 new_size);
u64 memvirt_vm_zero_pages(struct memvirt_vm *vm);
int memvirt_vm_set_policy(struct memvirt_vm *vm, u32 which, u64 shares,
			  u64 reservation_pages, u64 limit_pages);
int memvirt_vm_set_budget(u64 budget_pages);
unsigned long memvirt_vm_p2m_bytes(void);
void memvirt_vm_free(struct memvirt_vm *vm);

/* fault.c: the fault path, read, write, populate and punch. */
extern const struct vm_operations_struct memvirt_vm_ops;
int memvirt_vm_discard(struct memvirt_vm *vm, u64 start, u64 end, enum memvirt_op op,
		       u64 *freed);
int memvirt_vm_populate(struct memvirt_vm *vm, u64 start, u64 end);
ssize_t memvirt_vm_copy(struct memvirt_vm *vm, struct kiocb *iocb,
			struct iov_iter *iter, bool write);

/* fs.c */
int memvirt_fs_register(void);
void memvirt_fs_unregister(void);
struct memvirt_vm *memvirt_file_vm(struct file *file);
bool memvirt_fs_swapdir(struct super_block *sb, struct path *dir);

/* ioctl.c */
long memvirt_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* sysfs.c */
int memvirt_sysfs_init(void);
void memvirt_sysfs_exit(void);
int memvirt_sysfs_add_vm(struct memvirt_vm *vm);

/* debugfs.c (debugfs calls are no-ops in a kernel without debugfs) */
void memvirt_debugfs_init(void);
void memvirt_debugfs_exit(void);
void memvirt_debugfs_add_vm(struct memvirt_vm *vm);
void memvirt_debugfs_remove_vm(struct memvirt_vm *vm);

#endif /* MEMVIRT_MODULE_H */
