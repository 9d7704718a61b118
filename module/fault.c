// SPDX-License-Identifier: GPL-2.0
/*
 * The guest page store: how a gfn gets a host page, loses it, and how the
 * page reaches host processes and KVM through memvirtfs mappings.
 *
 * DOC: the fault path and why it is safe
 *
 * memvirt owns every host page behind guest memory: the P2M entry of a gfn
 * holds the only long-lived reference ("the P2M's reference"). The pages are
 * ordinary refcounted struct pages, never in the page cache and never on an
 * LRU list; ->fault hands them to the core MM, which maps them with a
 * reference of their own, so GUP (and so KVM) treats them like any file page.
 *
 * ->fault, under mapping->invalidate_lock (shared) and the gfn lock, checks
 * the gfn against i_size and asks the page store (module/store.c) for the
 * frame that serves it: the gfn's private page, a newly allocated zeroed
 * page for a write, or a read-only zero frame for a read of a gfn that
 * holds nothing. It takes the pte's reference and *locks the frame* before
 * dropping the gfn lock. The
 * page stays locked (VM_FAULT_LOCKED) until the core MM has installed the
 * pte. Everything that takes a page away (punch, truncate, later reclaim)
 * holds the gfn lock and then locks the page before unmapping it, so it
 * waits out any fault that has chosen the page but not yet mapped it:
 * after unmap_mapping_pages() under the page lock, no pte and, through the
 * MMU notifiers, no KVM nested page table entry can point to the page, and
 * the P2M is updated before the page lock is dropped. A fault that comes
 * later finds the new P2M state. The P2M's reference is dropped last; a pin
 * elsewhere (GUP, vhost) keeps the page alive but it is no longer guest RAM.
 *
 * ->page_mkwrite is the write-notification hook: a frame is mapped
 * read-only until the first write through each mapping. Under the gfn lock
 * it asks the store: a private page that the P2M still names is marked
 * dirty and returned locked; a zero frame gets copy-on-write broken (a
 * private page replaces it, the read-only mapping is zapped) and the fault
 * is retried, as it is when the gfn changed meanwhile. A shared frame
 * (dedup/) is broken the same way, except that its last sharer keeps the
 * frame as its private page and the write goes ahead at once.
 *
 * read() and write() never copy to or from user memory while holding the
 * invalidate_lock or a gfn lock with page faults enabled: the user buffer may
 * be a mapping of the same file, whose fault would take those locks again.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>

#include "module/compat.h"
#include "module/memvirt.h"
#include "module/trace.h"

/**
 * memvirt_vm_discard - punch, truncate or tear down gfns [@start, @end).
 * @vm:		the VM.
 * @start:	first gfn.
 * @end:	first gfn past the range (exclusive).
 * @op:		MEMVIRT_OP_PUNCH (leaves ZERO; invalidate_lock held shared),
 *		_TRUNCATE or _TEARDOWN (leave ABSENT; held exclusively).
 *
 * @freed:	pages freed, added to.
 *
 * Return: 0, or -EIO if a gfn's state is one this version cannot discard
 * (the other gfns were done).
 */
int memvirt_vm_discard(struct memvirt_vm *vm, u64 start, u64 end, enum memvirt_op op,
		       u64 *freed)
{
	struct memvirt_range_result res = {};
	int err;

	lockdep_assert_held(&vm->mapping->invalidate_lock);
	if (start >= end)
		return 0;
	err = memvirt_store_range(vm, start, end, op, &res);
	trace_discard(vm->id, start, end - start, res.done);
	*freed += res.done;
	return err;
}

/**
 * memvirt_vm_populate - give gfns [@start, @end) a page (fallocate mode 0).
 * @vm:		the VM.
 * @start:	first gfn.
 * @end:	first gfn past the range (exclusive).
 *
 * Caller holds the invalidate_lock shared and checked @end against i_size.
 * Returns 0, -ENOMEM, -EIO, or -EINTR on a fatal signal.
 */
int memvirt_vm_populate(struct memvirt_vm *vm, u64 start, u64 end)
{
	struct page *page;
	u64 gfn;

	lockdep_assert_held_read(&vm->mapping->invalidate_lock);
	for (gfn = start; gfn < end; gfn++) {
		memvirt_policy_fault_gate(vm);
		page = memvirt_store_get_page(vm, gfn, MEMVIRT_OP_POPULATE);
		if (IS_ERR(page))
			return PTR_ERR(page);
		put_page(page);
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/* Copy one page's worth of a read; the page is pinned, no lock is held. */
static ssize_t memvirt_read_gfn(struct memvirt_vm *vm, u64 gfn, size_t off,
				size_t bytes, struct iov_iter *iter)
{
	struct page *page;
	size_t n;

	page = memvirt_store_get_page(vm, gfn, MEMVIRT_OP_READ);
	if (IS_ERR(page))
		return PTR_ERR(page);
	if (!page)	/* reads as zero: nothing is allocated */
		return iov_iter_zero(bytes, iter);
	n = copy_page_to_iter(page, off, bytes, iter);
	put_page(page);
	return n;
}

/*
 * Copy one page's worth of a write, under the gfn lock, with page faults
 * disabled (the source may be a mapping of this very file). Returns the bytes
 * copied, possibly short if the source faulted.
 */
static ssize_t memvirt_write_gfn(struct memvirt_vm *vm, u64 gfn, size_t off,
				 size_t bytes, struct iov_iter *iter)
{
	struct page *page;
	ssize_t n;
	u64 *ptep;

	ptep = memvirt_p2m_find_or_alloc(&vm->p2m, gfn, MEMVIRT_TABLE_GFP);
	if (IS_ERR(ptep))
		return PTR_ERR(ptep);
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	page = __memvirt_store_get(vm, gfn, ptep, MEMVIRT_OP_WRITE, NULL);
	if (IS_ERR(page)) {
		n = PTR_ERR(page);
	} else {
		pagefault_disable();
		n = copy_page_from_iter_atomic(page, off, bytes, iter);
		pagefault_enable();
		if (n)
			memvirt_p2m_set(ptep, memvirt_p2m_read(ptep) | MEMVIRT_PTE_D);
	}
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
	return n;
}

/**
 * memvirt_vm_copy - read() and write() of guest RAM.
 * @vm:		the VM.
 * @iocb:	file position; advanced by the bytes copied.
 * @iter:	user buffer, or a pipe (splice), or kernel memory.
 * @write:	copy into guest RAM (else out of it).
 *
 * Writes never extend the file: they stop at EOF, and one that starts at or
 * past EOF fails with -ENOSPC (guest RAM grows only by ftruncate). A read
 * ends at the first short copy (a bad user buffer, a full pipe), as
 * filemap_read() does. Returns bytes copied, or a negative errno if nothing
 * was (-EFAULT for a buffer that took nothing).
 */
ssize_t memvirt_vm_copy(struct memvirt_vm *vm, struct kiocb *iocb,
			struct iov_iter *iter, bool write)
{
	struct address_space *mapping = vm->mapping;
	loff_t pos = iocb->ki_pos;
	ssize_t done = 0, n = 0;

	while (iov_iter_count(iter)) {
		size_t off = offset_in_page(pos);
		size_t bytes = min_t(size_t, PAGE_SIZE - off, iov_iter_count(iter));
		loff_t isize;

		if (write && fault_in_iov_iter_readable(iter, bytes) == bytes) {
			n = -EFAULT;
			break;
		}
		if (write)
			memvirt_policy_fault_gate(vm);
		filemap_invalidate_lock_shared(mapping);
		isize = i_size_read(mapping->host);
		if (pos >= isize) {
			filemap_invalidate_unlock_shared(mapping);
			n = write ? -ENOSPC : 0;
			break;
		}
		bytes = min_t(u64, bytes, isize - pos);
		if (write)
			n = memvirt_write_gfn(vm, pos >> PAGE_SHIFT, off, bytes, iter);
		filemap_invalidate_unlock_shared(mapping);
		if (!write)	/* copies to user memory: no locks held */
			n = memvirt_read_gfn(vm, pos >> PAGE_SHIFT, off, bytes, iter);
		if (n < 0)
			break;
		pos += n;
		done += n;
		/* A write retries a short copy after faulting the source in. */
		if (!write && n < bytes) {
			n = -EFAULT;
			break;
		}
		if (fatal_signal_pending(current)) {
			n = -EINTR;
			break;
		}
		cond_resched();
	}
	iocb->ki_pos = pos;
	return done ? done : n;
}

/*
 * A fault that cannot be served fails cleanly (SIGBUS for a process,
 * -EFAULT from KVM_RUN for a guest) and says why, rather than looping.
 */
static vm_fault_t memvirt_fault_error(struct memvirt_vm *vm, u64 gfn, int err)
{
	if (err == -ENOMEM)
		pr_warn_ratelimited("vm %llu (%s): no memory for gfn 0x%llx: access fails with SIGBUS\n",
				    vm->id, vm->name, gfn);
	return VM_FAULT_SIGBUS;
}

static vm_fault_t memvirt_fault(struct vm_fault *vmf)
{
	struct memvirt_vm *vm = memvirt_file_vm(vmf->vma->vm_file);
	struct address_space *mapping = vm->mapping;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	enum memvirt_p2m_state old = MEMVIRT_P2M_ABSENT;
	u64 gfn = vmf->pgoff;
	u64 t0 = trace_fault_enabled() ? ktime_get_ns() : 0;
	struct page *page;
	vm_fault_t ret;
	u64 *ptep;

	/* Before any lock: it may take the VM's cold pages away. */
	memvirt_policy_fault_gate(vm);
	filemap_invalidate_lock_shared(mapping);
	if (gfn >= memvirt_vm_pages(vm)) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	ptep = memvirt_p2m_find_or_alloc(&vm->p2m, gfn, MEMVIRT_TABLE_GFP);
	if (IS_ERR(ptep)) {
		ret = memvirt_fault_error(vm, gfn, PTR_ERR(ptep));
		goto out;
	}
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	old = memvirt_pte_state(memvirt_p2m_read(ptep));
	page = __memvirt_store_get(vm, gfn, ptep, write ? MEMVIRT_OP_FAULT_WRITE :
				   MEMVIRT_OP_FAULT_READ, vmf);
	if (IS_ERR(page)) {
		ret = memvirt_fault_error(vm, gfn, PTR_ERR(page));
	} else {
		u64 pte = memvirt_p2m_read(ptep);

		/* A sampled gfn is touched: policy/sample.c counts it. */
		if (pte & MEMVIRT_PTE_SAMPLED)
			pte |= MEMVIRT_PTE_TOUCHED;
		if (memvirt_pte_has_page(pte))
			memvirt_p2m_set(ptep, pte | MEMVIRT_PTE_A);
		get_page(page);		/* the pte's reference */
		lock_page(page);	/* until the pte is installed */
		vmf->page = page;
		ret = VM_FAULT_LOCKED;
	}
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
out:
	filemap_invalidate_unlock_shared(mapping);
	if (ret & VM_FAULT_LOCKED)
		atomic_long_inc(&vm->stats.faults);
	trace_fault(vm->id, gfn, write, old, (__force u32)ret, t0 ? ktime_get_ns() - t0 : 0);
	return ret;
}

static vm_fault_t memvirt_page_mkwrite(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct memvirt_vm *vm = memvirt_file_vm(file);
	struct address_space *mapping = vm->mapping;
	struct page *page = vmf->page;
	enum memvirt_p2m_state old = MEMVIRT_P2M_ABSENT;
	u64 t0 = trace_fault_enabled() ? ktime_get_ns() : 0;
	vm_fault_t ret = VM_FAULT_NOPAGE;
	u64 gfn = vmf->pgoff;
	u64 *ptep;
	int err;

	sb_start_pagefault(mapping->host->i_sb);
	file_update_time(file);
	/* Keeps i_size: copy-on-write must not allocate past a truncate. */
	filemap_invalidate_lock_shared(mapping);
	ptep = memvirt_p2m_find(&vm->p2m, gfn);
	/* Beyond EOF since the pte was made: the retry gets SIGBUS. */
	if (gfn >= memvirt_vm_pages(vm) || WARN_ON_ONCE(!ptep))
		goto out;
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	old = memvirt_pte_state(memvirt_p2m_read(ptep));
	err = __memvirt_store_mkwrite(vm, gfn, ptep, page, vmf);
	if (!err) {
		lock_page(page);
		ret = VM_FAULT_LOCKED;
	} else if (err != -EAGAIN) {
		ret = memvirt_fault_error(vm, gfn, err);
	}
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
out:
	filemap_invalidate_unlock_shared(mapping);
	sb_end_pagefault(mapping->host->i_sb);
	if (ret == VM_FAULT_LOCKED)
		atomic_long_inc(&vm->stats.mkwrite);
	trace_fault(vm->id, gfn, true, old, (__force u32)ret, t0 ? ktime_get_ns() - t0 : 0);
	return ret;
}

/*
 * NUMA balancing must leave guest pages alone: they cannot migrate, so its
 * hinting would only make clean pages PROT_NONE and zap KVM's entries for
 * nothing. task_numa_work() skips a VMA whose policy lacks MPOL_F_MOF
 * ("migrate on fault"); answering for the policy here (the one mbind() set
 * on the VMA, or none) keeps the task's default policy, which has it, out.
 * Allocation still falls back to the task's policy when the VMA has none.
 */
static __maybe_unused struct mempolicy *memvirt_get_policy(struct vm_area_struct *vma,
							   unsigned long addr, pgoff_t *ilx)
{
	return vma_policy(vma);
}

MEMVIRT_GET_POLICY_ADAPTER(memvirt_get_policy);

const struct vm_operations_struct memvirt_vm_ops = {
	.fault		= memvirt_fault,
	.page_mkwrite	= memvirt_page_mkwrite,
	MEMVIRT_VM_OPS_GET_POLICY(memvirt_get_policy)
};
