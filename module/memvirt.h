/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module/: memvirtfs, the fault path, VM objects and their controls.
 *
 * Locking
 * =======
 *
 * Order (outer first; Documentation/locking.rst has the global picture):
 *   1. inode->i_rwsem          (VFS; setattr, fallocate, write)
 *   2. mapping->invalidate_lock shared: fault, read, write, populate;
 *                              exclusive: truncate, punch, VM teardown.
 *                              Protects i_size
 *                              against the P2M: a gfn below i_size seen under
 *                              the lock stays below it until it is dropped.
 *   3. memvirt_commit_lock     (mutex) budget, overcommit ratio, committed
 *                              bytes, every VM's size and policy fields.
 *   4. gfn lock                (ept/: bit lock in the P2M entry)
 *   5. page lock               of a guest page
 *   6. i_mmap lock / PTL       (taken by unmap_mapping_pages)
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

#include "ept/ept.h"

#define MEMVIRT_FS_MAGIC	0x6d656d76	/* "memv" */

/**
 * struct memvirt_vm_stats - per-VM event and state counters.
 * @resident:	gfns backed by a private host page.
 * @faults:	->fault calls served (host processes and KVM alike).
 * @punched:	pages freed by fallocate(PUNCH_HOLE).
 * @mkwrite:	->page_mkwrite calls (first write through a mapping).
 */
struct memvirt_vm_stats {
	atomic_long_t resident;
	atomic_long_t faults;
	atomic_long_t punched;
	atomic_long_t mkwrite;
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
 * @stats:	counters.
 * @node:	in memvirt_vms; under memvirt_vms_lock.
 * @debugfs:	/sys/kernel/debug/memvirt/vms/<id>.
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
	struct memvirt_vm_stats stats;
	struct list_head node;
	struct dentry *debugfs;
};

/**
 * struct memvirt_globals - host-wide knobs and totals.
 * @budget_pages:	host memory guests may be given; knob budget_mb.
 * @overcommit_ratio:	percent of the budget guest sizes may add up to.
 * @committed:		sum of all VMs' sizes, bytes.
 * @reserved_pages:	sum of all VMs' reservations.
 * @nr_vms:		VMs alive.
 * @resident:		pages held by all VMs.
 *
 * Fields above @nr_vms are under memvirt_commit_lock.
 */
struct memvirt_globals {
	u64 budget_pages;
	unsigned int overcommit_ratio;
	u64 committed;
	u64 reserved_pages;
	atomic_t nr_vms;
	atomic_long_t resident;
};

extern struct memvirt_globals memvirt;
extern struct mutex memvirt_commit_lock;

#define MEMVIRT_RATIO_MIN	10
#define MEMVIRT_RATIO_MAX	1000
/*
 * No overcommit until the reclaim mechanisms exist: without them memvirt
 * cannot take memory back, so committing more than the budget could only
 * end in the host OOM killer.
 */
#define MEMVIRT_RATIO_DEFAULT	100

static inline u64 memvirt_bytes_to_pages(u64 bytes)
{
	return DIV_ROUND_UP(bytes, PAGE_SIZE);
}

/* vm.c: VM objects, admission control, the guest page store. */
struct memvirt_vm *memvirt_vm_create(const char *name, struct address_space *mapping);
void memvirt_vm_destroy(struct memvirt_vm *vm);
int memvirt_vm_resize(struct memvirt_vm *vm, u64 new_size);
u64 memvirt_vm_zero_pages(struct memvirt_vm *vm);
int memvirt_vm_set_policy(struct memvirt_vm *vm, u32 which, u64 shares,
			  u64 reservation_pages, u64 limit_pages);
int memvirt_vm_set_budget(u64 budget_pages);
unsigned long memvirt_vm_p2m_bytes(void);
void memvirt_vm_free(struct memvirt_vm *vm);

/* fault.c: the guest page store and the fault path. */
extern const struct vm_operations_struct memvirt_vm_ops;
struct page *memvirt_vm_get_page(struct memvirt_vm *vm, u64 gfn, bool alloc);
u64 memvirt_vm_discard(struct memvirt_vm *vm, u64 start, u64 end,
		       enum memvirt_p2m_state to);
int memvirt_vm_populate(struct memvirt_vm *vm, u64 start, u64 end);
ssize_t memvirt_vm_copy(struct memvirt_vm *vm, struct kiocb *iocb,
			struct iov_iter *iter, bool write);

/* fs.c */
int memvirt_fs_register(void);
void memvirt_fs_unregister(void);
struct memvirt_vm *memvirt_file_vm(struct file *file);

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
