/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page store: what each operation does to a gfn in each P2M state, the
 * read-only zero frames, and the reclaim protocol every mechanism uses to
 * take pages from a running VM.
 *
 * Locking
 * =======
 *
 * Order (outer first; Documentation/locking.rst has the global picture):
 *   1. mapping->invalidate_lock, shared (faults, mkwrite, read, write,
 *      populate, punch) or exclusive (truncate, teardown): keeps i_size
 *      stable. The store itself never takes it; callers that need i_size
 *      do. Reclaim does not: gfn locks are enough.
 *   2. the gfn lock, or one run of gfn locks (ept.h).
 *   3. page locks: in a run, the private pages of the run (each belongs to
 *      one gfn), then at most one zero frame (a run lies inside one leaf
 *      table, and all gfns of a leaf table use the same zero frame).
 *   4. i_mmap lock and page table locks, inside unmap_mapping_pages().
 *
 * Functions named __memvirt_store_*() expect the gfn lock held; they may
 * sleep (allocation, page locks, unmapping). Nothing here runs in atomic
 * context.
 */
#ifndef MEMVIRT_STORE_H
#define MEMVIRT_STORE_H

#include <linux/mm_types.h>
#include <linux/types.h>

#include "ept/ept.h"

struct memvirt_vm;

/* Gfns per run of the reclaim protocol: a bitmap word, a short lock hold. */
#define MEMVIRT_STORE_BATCH	64

/* What is done to a gfn. Columns of the per-state table. */
enum memvirt_op {
	MEMVIRT_OP_FAULT_READ,	/* ->fault for a read */
	MEMVIRT_OP_FAULT_WRITE,	/* ->fault for a write */
	MEMVIRT_OP_MKWRITE,	/* ->page_mkwrite: first write to a mapped frame */
	MEMVIRT_OP_READ,	/* read(), splice, sendfile */
	MEMVIRT_OP_WRITE,	/* write() */
	MEMVIRT_OP_POPULATE,	/* fallocate mode 0 */
	MEMVIRT_OP_PUNCH,	/* fallocate PUNCH_HOLE: the balloon's path */
	MEMVIRT_OP_TRUNCATE,	/* shrinking ftruncate */
	MEMVIRT_OP_TEARDOWN,	/* the VM's last reference is gone */
	MEMVIRT_OP_RECLAIM_ZERO, /* reclaim protocol: zero-filled pages -> ZERO */
	MEMVIRT_OP_SHARE,	/* sharing pass: merge equal pages into one frame */
	MEMVIRT_OP_COMPRESS,	/* swap-out into the compression cache (or swap file) */
	MEMVIRT_OP_SWAP,	/* swap-out into the swap file */
	MEMVIRT_OP_QUERY,	/* MEMVIRT_IOC_QUERY_RANGE */
	MEMVIRT_OP_DUMP,	/* debugfs P2M dump */
	MEMVIRT_OP_BALLOON,	/* PUNCH_HOLE while a balloon target is pending */
	MEMVIRT_NR_OPS
};

/* What the table decides for one (state, operation) pair. */
enum memvirt_act {
	MEMVIRT_ACT_INVALID,	/* never in the table: a cell left out */
	MEMVIRT_ACT_USE,	/* the gfn's own page serves the operation */
	MEMVIRT_ACT_ZERO_FRAME,	/* map a read-only zero frame, allocate nothing */
	MEMVIRT_ACT_ZEROES,	/* the gfn reads as zero: copy zeroes */
	MEMVIRT_ACT_ALLOC,	/* give the gfn a zeroed private page */
	MEMVIRT_ACT_DEFLATE,	/* as ALLOC, for a gfn the balloon had taken */
	MEMVIRT_ACT_COPY,	/* break copy-on-write of a zero or shared frame */
	MEMVIRT_ACT_DROP,	/* free what backs the gfn; leave the op's state */
	MEMVIRT_ACT_MARK,	/* nothing backs the gfn: just record the op's state */
	MEMVIRT_ACT_KEEP,	/* nothing to do */
	MEMVIRT_ACT_TAKE,	/* a reclaim candidate: the reclaim protocol decides */
	MEMVIRT_ACT_LOAD,	/* bring the page back from the cache or swap file */
	MEMVIRT_ACT_REPORT,	/* show the entry as it is */
	MEMVIRT_ACT_REFUSE,	/* the gfn's data is lost (ERROR): -EIO, SIGBUS */
	MEMVIRT_NR_ACTS
};

enum memvirt_act memvirt_store_action(enum memvirt_p2m_state state, enum memvirt_op op);
const char *memvirt_store_op_name(enum memvirt_op op);
const char *memvirt_store_act_name(enum memvirt_act act);

/*
 * How the store reaches the outside world; tests substitute a fake. @vmf
 * is the fault that allocates, or NULL for read/write/fallocate; @copy says
 * the caller overwrites the whole page at once (a copy-on-write), which
 * then need not be zeroed first. @unmap
 * removes every mapping of gfns [@gfn, @gfn + @nr) from host page tables
 * and, through the MMU notifiers, from KVM's nested tables.
 */
struct memvirt_store_ops {
	struct page *(*alloc_guest_page)(struct memvirt_vm *vm, struct vm_fault *vmf, bool copy);
	void (*unmap)(struct memvirt_vm *vm, u64 gfn, u64 nr);
};

extern const struct memvirt_store_ops memvirt_store_default_ops;

/* Zero frames: read-only, shared by every gfn that reads as zero. */
int memvirt_zero_frames_init(void);
void memvirt_zero_frames_exit(void);
bool memvirt_is_zero_frame(const struct page *page);

struct page *__memvirt_store_get(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
				 enum memvirt_op op, struct vm_fault *vmf);
int __memvirt_store_mkwrite(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
			    struct page *page, struct vm_fault *vmf);
struct page *memvirt_store_get_page(struct memvirt_vm *vm, u64 gfn, enum memvirt_op op);

/* The reclaim protocol for one gfn, for the sharing pass (dedup/). */
struct page *__memvirt_store_isolate(struct memvirt_vm *vm, u64 gfn, u64 *ptep);
unsigned int __memvirt_store_isolate_run(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
					 unsigned int first, unsigned int end,
					 unsigned long *want, const unsigned long *pfn,
					 struct page **page);
void __memvirt_store_make_shared(struct memvirt_vm *vm, u64 *ptep, struct page *frame);
void __memvirt_store_free_isolated(struct memvirt_vm *vm, u64 *ptep, struct page *page,
				   enum memvirt_p2m_state state);
void __memvirt_store_release_isolated(struct memvirt_vm *vm, u64 *ptep, struct page *page,
				      u64 pte);
void __memvirt_store_install(struct memvirt_vm *vm, u64 *ptep, struct page *page);
bool memvirt_page_is_exclusive(struct memvirt_vm *vm, struct page *page);
bool memvirt_page_is_zero(struct page *page);

/**
 * struct memvirt_range_result - what a range operation did.
 * @scanned:	gfns whose state called for work: private pages examined.
 * @done:	gfns whose backing was freed.
 * @pinned:	candidates skipped: a reference besides memvirt's held them.
 * @merged:	of @done, pages freed because they now share a frame.
 * @zeroed:	of @done, all-zero pages freed (gfn left ZERO).
 * @compressed:	of @done, pages now in the compression cache.
 * @swapped:	of @done, pages now in the swap file.
 */
struct memvirt_range_result {
	u64 scanned;
	u64 done;
	u64 pinned;
	u64 merged;
	u64 zeroed;
	u64 compressed;
	u64 swapped;
};

int memvirt_store_range(struct memvirt_vm *vm, u64 start, u64 end, enum memvirt_op op,
			struct memvirt_range_result *res);

#endif /* MEMVIRT_STORE_H */
