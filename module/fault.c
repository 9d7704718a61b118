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
 * the gfn against i_size, allocates a zeroed page if the gfn has none, takes
 * the pte's reference and *locks the page* before dropping the gfn lock. The
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
 * ->page_mkwrite is the write-notification hook: the page is mapped
 * read-only until the first write through each mapping. It checks, under the
 * gfn lock, that the P2M still names the faulting page (else the fault is
 * retried), marks the entry dirty and returns the page locked. This is where
 * copy-on-write of shared frames will be broken.
 *
 * read() and write() never copy to or from user memory while holding the
 * invalidate_lock or a gfn lock with page faults enabled: the user buffer may
 * be a mapping of the same file, whose fault would take those locks again.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>

#include "module/memvirt.h"
#include "module/trace.h"

/*
 * Guest pages: zeroed before any VM sees them; charged to the memory cgroup
 * of the task that populates them (the VMM), as shmem would be; not movable
 * (memvirt does not implement migration, so __GFP_MOVABLE would defeat
 * compaction). P2M tables are charged the same way.
 */
#define MEMVIRT_GUEST_GFP	(GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT)
#define MEMVIRT_TABLE_GFP	GFP_KERNEL_ACCOUNT

/*
 * A zeroed guest page. From a fault, the mapping's NUMA policy applies (mbind,
 * QEMU's host-nodes=); from read/write/fallocate, the task's.
 */
static struct page *memvirt_alloc_guest_page(struct vm_fault *vmf)
{
	struct folio *folio;

	if (!vmf)
		return alloc_page(MEMVIRT_GUEST_GFP);
	folio = vma_alloc_folio(MEMVIRT_GUEST_GFP, 0, vmf->vma, vmf->address, false);
	return folio ? &folio->page : NULL;
}

static void memvirt_account_resident(struct memvirt_vm *vm, long nr)
{
	atomic_long_add(nr, &vm->stats.resident);
	atomic_long_add(nr, &memvirt.resident);
}

/*
 * __memvirt_gfn_page - the page behind a locked gfn, allocated if @alloc
 * (@vmf: the fault allocating it, or NULL). Returns the page (no reference
 * taken), NULL if the gfn has none and !@alloc, or ERR_PTR(-ENOMEM). Caller
 * holds the gfn lock.
 */
static struct page *__memvirt_gfn_page(struct memvirt_vm *vm, u64 *ptep, bool alloc,
				       struct vm_fault *vmf)
{
	u64 pte = memvirt_p2m_read(ptep);
	struct page *page;

	if (memvirt_pte_has_page(pte))
		return pfn_to_page(memvirt_pte_pfn(pte));
	if (!alloc)
		return NULL;
	page = memvirt_alloc_guest_page(vmf);
	if (!page)
		return ERR_PTR(-ENOMEM);
	/* The allocation's reference becomes the P2M's reference. */
	memvirt_p2m_set(ptep, memvirt_pte_mk_private(page_to_pfn(page)));
	memvirt_account_resident(vm, 1);
	return page;
}

/*
 * __memvirt_gfn_discard - take the page away from a locked gfn and leave the
 * entry in state @to. Returns 1 if a page was freed. Caller holds the gfn
 * lock and the invalidate_lock exclusively.
 */
static int __memvirt_gfn_discard(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
				 enum memvirt_p2m_state to)
{
	u64 pte = memvirt_p2m_read(ptep);
	struct page *page;

	if (!memvirt_pte_has_page(pte)) {
		if (memvirt_pte_state(pte) != to)
			memvirt_p2m_set(ptep, memvirt_pte_mk_nopage(to));
		return 0;
	}
	page = pfn_to_page(memvirt_pte_pfn(pte));
	/* Waits out a fault that chose this page but has not mapped it yet. */
	lock_page(page);
	if (page_mapped(page))
		unmap_mapping_pages(vm->mapping, gfn, 1, false);
	memvirt_p2m_set(ptep, memvirt_pte_mk_nopage(to));
	unlock_page(page);
	put_page(page);		/* the P2M's reference */
	memvirt_account_resident(vm, -1);
	return 1;
}

/**
 * memvirt_vm_discard - free the pages of gfns [@start, @end).
 * @vm:		the VM.
 * @start:	first gfn.
 * @end:	first gfn past the range (exclusive).
 * @to:		state left behind: ZERO (punch) or ABSENT (truncate).
 *
 * Caller holds mapping->invalidate_lock exclusively. Returns pages freed.
 */
u64 memvirt_vm_discard(struct memvirt_vm *vm, u64 start, u64 end,
		       enum memvirt_p2m_state to)
{
	struct memvirt_p2m_iter iter;
	u64 freed = 0;

	lockdep_assert_held_write(&vm->mapping->invalidate_lock);
	if (start >= end)
		return 0;
	/* Bulk unmap first; __memvirt_gfn_discard() catches racing faults. */
	unmap_mapping_pages(vm->mapping, start, end - start, false);
	for_each_p2m_entry(iter, &vm->p2m, start, end) {
		if (memvirt_pte_state(memvirt_p2m_read(iter.ptep)) == to)
			continue;
		memvirt_p2m_lock_gfn(&vm->p2m, iter.ptep);
		freed += __memvirt_gfn_discard(vm, iter.gfn, iter.ptep, to);
		memvirt_p2m_unlock_gfn(&vm->p2m, iter.ptep);
	}
	trace_discard(vm->id, start, end - start, freed);
	return freed;
}

/**
 * memvirt_vm_get_page - a gfn's page with a reference for the caller.
 * @vm:		the VM.
 * @gfn:	guest frame, below i_size (caller checked, under
 *		invalidate_lock).
 * @alloc:	allocate a zeroed page if the gfn has none.
 *
 * Returns the page with an extra reference, NULL if the gfn has no page and
 * !@alloc, or an ERR_PTR.
 */
struct page *memvirt_vm_get_page(struct memvirt_vm *vm, u64 gfn, bool alloc)
{
	struct page *page;
	u64 *ptep;

	ptep = alloc ? memvirt_p2m_find_or_alloc(&vm->p2m, gfn, MEMVIRT_TABLE_GFP) :
		       memvirt_p2m_find(&vm->p2m, gfn);
	if (IS_ERR_OR_NULL(ptep))
		return ERR_CAST(ptep);
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	page = __memvirt_gfn_page(vm, ptep, alloc, NULL);
	if (!IS_ERR_OR_NULL(page))
		get_page(page);
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
	return page;
}

/**
 * memvirt_vm_populate - give gfns [@start, @end) a page (fallocate mode 0).
 * @vm:		the VM.
 * @start:	first gfn.
 * @end:	first gfn past the range (exclusive).
 *
 * Caller holds the invalidate_lock shared and checked @end against i_size.
 * Returns 0, -ENOMEM, or -EINTR on a fatal signal.
 */
int memvirt_vm_populate(struct memvirt_vm *vm, u64 start, u64 end)
{
	struct page *page;
	u64 gfn;

	for (gfn = start; gfn < end; gfn++) {
		page = memvirt_vm_get_page(vm, gfn, true);
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

	page = memvirt_vm_get_page(vm, gfn, false);
	if (IS_ERR(page))
		return PTR_ERR(page);
	if (!page)
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
	page = __memvirt_gfn_page(vm, ptep, true, NULL);
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
 * @iter:	user buffer.
 * @write:	copy into guest RAM (else out of it).
 *
 * Writes never extend the file: they stop at EOF, and one that starts at or
 * past EOF fails with -ENOSPC (guest RAM grows only by ftruncate). Returns
 * bytes copied or a negative errno if nothing was.
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
 * No memory even after the allocator's own reclaim and OOM handling: the
 * access fails cleanly (SIGBUS for a process, -EFAULT from KVM_RUN for a
 * guest) and says why, rather than looping in the fault.
 */
static vm_fault_t memvirt_fault_nomem(struct memvirt_vm *vm, u64 gfn)
{
	pr_warn_ratelimited("vm %llu (%s): no memory for gfn 0x%llx: access fails with SIGBUS\n",
			    vm->id, vm->name, gfn);
	return VM_FAULT_SIGBUS;
}

static vm_fault_t memvirt_fault(struct vm_fault *vmf)
{
	struct memvirt_vm *vm = memvirt_file_vm(vmf->vma->vm_file);
	struct address_space *mapping = vm->mapping;
	enum memvirt_p2m_state old = MEMVIRT_P2M_ABSENT;
	u64 gfn = vmf->pgoff;
	struct page *page;
	vm_fault_t ret;
	u64 *ptep;

	filemap_invalidate_lock_shared(mapping);
	if (gfn >= memvirt_bytes_to_pages(i_size_read(mapping->host))) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	ptep = memvirt_p2m_find_or_alloc(&vm->p2m, gfn, MEMVIRT_TABLE_GFP);
	if (IS_ERR(ptep)) {
		ret = memvirt_fault_nomem(vm, gfn);
		goto out;
	}
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	old = memvirt_pte_state(memvirt_p2m_read(ptep));
	page = __memvirt_gfn_page(vm, ptep, true, vmf);
	if (IS_ERR(page)) {
		ret = memvirt_fault_nomem(vm, gfn);
	} else {
		memvirt_p2m_set(ptep, memvirt_p2m_read(ptep) | MEMVIRT_PTE_A);
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
	trace_fault(vm->id, gfn, vmf->flags & FAULT_FLAG_WRITE, old, (__force u32)ret);
	return ret;
}

static vm_fault_t memvirt_page_mkwrite(struct vm_fault *vmf)
{
	struct memvirt_vm *vm = memvirt_file_vm(vmf->vma->vm_file);
	struct page *page = vmf->page;
	u64 gfn = vmf->pgoff;
	vm_fault_t ret = VM_FAULT_NOPAGE;
	u64 *ptep, pte;

	ptep = memvirt_p2m_find(&vm->p2m, gfn);
	if (WARN_ON_ONCE(!ptep))
		return VM_FAULT_SIGBUS;
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	pte = memvirt_p2m_read(ptep);
	/* Punched or truncated since the pte was made: retry the fault. */
	if (memvirt_pte_has_page(pte) && memvirt_pte_pfn(pte) == page_to_pfn(page)) {
		lock_page(page);
		memvirt_p2m_set(ptep, pte | MEMVIRT_PTE_D);
		ret = VM_FAULT_LOCKED;
	}
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
	if (ret == VM_FAULT_LOCKED)
		atomic_long_inc(&vm->stats.mkwrite);
	trace_fault(vm->id, gfn, true, memvirt_pte_state(pte), (__force u32)ret);
	return ret;
}

const struct vm_operations_struct memvirt_vm_ops = {
	.fault		= memvirt_fault,
	.page_mkwrite	= memvirt_page_mkwrite,
};
