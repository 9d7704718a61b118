// SPDX-License-Identifier: GPL-2.0
/*
 * The page store: one table decides what every operation does to a gfn in
 * every P2M state; zero frames; the reclaim protocol.
 *
 * DOC: one place decides, per (state, operation)
 *
 * A gfn is ABSENT, ZERO, PRIVATE, SHARED, BALLOONED, COMPRESSED, SWAPPED or
 * ERROR. Every path that touches a gfn (the two faults, ->page_mkwrite,
 * read, write, populate, punch, truncate, teardown, reclaim, the range
 * query and the debugfs dump) asks memvirt_store_action() what to do with
 * the gfn's state, and carries out that action; no path asks "does it have
 * a page?". An access to a COMPRESSED or SWAPPED gfn brings its page back
 * (swap/). An ERROR gfn, whose swap-in failed, is refused: the operation
 * fails with -EIO (SIGBUS for a fault) and a log line naming the VM, gfn,
 * state and operation. It is never answered with a fresh zero page over
 * data that was lost; punching the gfn makes it ZERO again.
 *
 * DOC: zero frames
 *
 * A read fault on a gfn that reads as zero maps a read-only *zero frame*
 * and allocates nothing, so reading guest RAM (a backup, a migration
 * stream, a memory dump, a guest that reads before it writes) costs no
 * memory. The entry becomes an EPT read-only leaf naming the frame (state
 * ZERO, or BALLOONED, with R set): "a zero frame may be mapped here". The
 * first write reaches ->page_mkwrite, which gives the gfn a private zeroed
 * page, zaps the read-only mapping (KVM drops its entry through the MMU
 * notifier) and lets the fault retry; every other way a zero gfn gets a
 * page (a write fault from another mapping, write(), populate) zaps the
 * same way. The R bit is cleared only together with such a zap.
 *
 * The frames are ordinary pages, not the kernel's ZERO_PAGE: the core MM
 * keeps their mapcount and refcount like any file page's. Each pte holds a
 * reference, so one frame behind millions of ptes would overflow its
 * refcount: there are MEMVIRT_ZERO_FRAMES frames, gfns use the one of their
 * leaf table (gfn / 512), and a frame with MEMVIRT_ZERO_FRAME_MAX_REFS
 * references is not handed out again (the read then allocates a page). A
 * frame that a fault has chosen stays locked until its pte is installed,
 * as private pages do; whoever zaps a zero-frame mapping locks the frame
 * first, and since all gfns of a leaf table share one frame, a run of gfns
 * never needs to lock two.
 *
 * DOC: the reclaim protocol
 *
 * Every mechanism that takes pages from a running VM (zero-page reclaim,
 * page sharing, compression and swap), and punch, truncate and
 * teardown, go through memvirt_store_range(). It works on runs of up to
 * MEMVIRT_STORE_BATCH consecutive gfns of one leaf table:
 *
 * 1. take the run's gfn locks (ascending; one lockdep acquisition), never
 *    the VM-wide invalidate_lock exclusively, so faults elsewhere in the VM
 *    proceed;
 * 2. pick the candidates from the table and lock their pages: this waits
 *    out a fault that has chosen a page but not yet mapped it;
 * 3. one unmap per contiguous run of candidates: KVM gets one MMU-notifier
 *    invalidation and one TLB flush per run, not per page;
 * 4. reclaim takes a page only when its reference count is exactly the
 *    P2M's own: after the unmap no pte holds one, so any other reference is
 *    a GUP pin, vhost, VFIO or a pipe buffer; such pages are skipped and
 *    counted (pinned_skips), never reclaimed. Punch, truncate and teardown
 *    drop the P2M's reference whatever else holds the page: the holder
 *    keeps a page that is no longer guest RAM;
 * 5. update the P2M, unlock the pages, free them, unlock the run.
 *
 * A page is never freed or reused while a pte, KVM or anything else may
 * still map it: the P2M's reference is dropped after the unmap, and other
 * references keep the page alive. A later fault finds the new state.
 *
 * Large pages can join later: a 2 MiB guest page would be one leaf of the
 * level-2 table, a run would be that leaf, and splitting it into 512
 * entries would be one more action of the table.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/string.h>

#include "dedup/dedup.h"
#include "module/kunit_export.h"
#include "module/memvirt.h"
#include "module/store.h"
#include "module/trace.h"
#include "policy/policy.h"
#include "swap/swap.h"

static_assert(MEMVIRT_STORE_BATCH <= MEMVIRT_P2M_ENTRIES);

#define MEMVIRT_ZERO_FRAMES		16
/* A quarter of what a refcount holds: ptes of every mm, plus GUP. */
#define MEMVIRT_ZERO_FRAME_MAX_REFS	BIT(29)

#define U	MEMVIRT_ACT_USE
#define ZF	MEMVIRT_ACT_ZERO_FRAME
#define Z	MEMVIRT_ACT_ZEROES
#define AL	MEMVIRT_ACT_ALLOC
#define DF	MEMVIRT_ACT_DEFLATE
#define CP	MEMVIRT_ACT_COPY
#define DR	MEMVIRT_ACT_DROP
#define MK	MEMVIRT_ACT_MARK
#define K	MEMVIRT_ACT_KEEP
#define T	MEMVIRT_ACT_TAKE
#define LD	MEMVIRT_ACT_LOAD
#define RP	MEMVIRT_ACT_REPORT
#define RF	MEMVIRT_ACT_REFUSE

/*
 * The table. Rows: states; columns: operations, in enum memvirt_op order:
 *
 *   fault-read fault-write mkwrite read write populate
 *   punch truncate teardown reclaim-zero share compress swap query dump
 *   balloon
 *
 * PUNCH leaves ZERO, TRUNCATE and TEARDOWN leave ABSENT, BALLOON (a punch
 * while the VM's balloon target is pending, policy/) leaves BALLOONED. MKWRITE on a
 * state that reads as zero finds a zero frame mapped (COPY breaks it); on
 * SHARED it finds the shared frame, and so does every write (COPY); on
 * COMPRESSED or SWAPPED it finds the page taken since the pte was made, and
 * LOAD retries the fault, which brings it back. SWAP takes COMPRESSED gfns
 * too: their entries move from the cache to the swap file.
 */
/* Rows in state order: the states are the uapi MEMVIRT_GFN_* codes 0..7. */
static const u8 memvirt_store_table[][MEMVIRT_NR_OPS] = {
	/* ABSENT */     { ZF, AL, CP, Z,  AL, AL, MK, K,  K,  K,  K,  K,  K,  RP, RP, MK },
	/* PRIVATE */    { U,  U,  U,  U,  U,  U,  DR, DR, DR, T,  T,  T,  T,  RP, RP, DR },
	/* ZERO */       { ZF, AL, CP, Z,  AL, AL, K,  MK, MK, K,  K,  K,  K,  RP, RP, MK },
	/* SHARED */     { U,  CP, CP, U,  CP, U,  DR, DR, DR, K,  K,  K,  K,  RP, RP, DR },
	/* BALLOONED */  { ZF, DF, DF, Z,  DF, DF, K,  MK, MK, K,  K,  K,  K,  RP, RP, K  },
	/* COMPRESSED */ { LD, LD, LD, LD, LD, LD, DR, DR, DR, K,  K,  K,  T,  RP, RP, DR },
	/* SWAPPED */    { LD, LD, LD, LD, LD, LD, DR, DR, DR, K,  K,  K,  K,  RP, RP, DR },
	/* ERROR */      { RF, RF, RF, RF, RF, RF, MK, MK, MK, K,  K,  K,  K,  RP, RP, MK },
};

#undef U
#undef ZF
#undef Z
#undef AL
#undef DF
#undef CP
#undef DR
#undef MK
#undef K
#undef T
#undef LD
#undef RP
#undef RF

static_assert(ARRAY_SIZE(memvirt_store_table) == MEMVIRT_P2M_ERROR + 1);
static_assert(MEMVIRT_P2M_ABSENT == 0 && MEMVIRT_P2M_PRIVATE == 1 && MEMVIRT_P2M_ZERO == 2 &&
	      MEMVIRT_P2M_SHARED == 3 && MEMVIRT_P2M_BALLOONED == 4 &&
	      MEMVIRT_P2M_COMPRESSED == 5 && MEMVIRT_P2M_SWAPPED == 6);
static_assert(MEMVIRT_NR_ACTS <= U8_MAX);

/**
 * memvirt_store_action - what @op does to a gfn in @state.
 * @state: the gfn's P2M state.
 * @op: the operation.
 *
 * Return: the action; MEMVIRT_ACT_REFUSE for a value that is no state.
 */
enum memvirt_act memvirt_store_action(enum memvirt_p2m_state state, enum memvirt_op op)
{
	if (WARN_ON_ONCE(state >= ARRAY_SIZE(memvirt_store_table) || op >= MEMVIRT_NR_OPS))
		return MEMVIRT_ACT_REFUSE;
	return memvirt_store_table[state][op];
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_store_action);

static const char * const memvirt_store_op_names[] = {
	[MEMVIRT_OP_FAULT_READ] = "fault-read",
	[MEMVIRT_OP_FAULT_WRITE] = "fault-write",
	[MEMVIRT_OP_MKWRITE] = "mkwrite",
	[MEMVIRT_OP_READ] = "read",
	[MEMVIRT_OP_WRITE] = "write",
	[MEMVIRT_OP_POPULATE] = "populate",
	[MEMVIRT_OP_PUNCH] = "punch",
	[MEMVIRT_OP_TRUNCATE] = "truncate",
	[MEMVIRT_OP_TEARDOWN] = "teardown",
	[MEMVIRT_OP_RECLAIM_ZERO] = "reclaim-zero",
	[MEMVIRT_OP_SHARE] = "share",
	[MEMVIRT_OP_COMPRESS] = "compress",
	[MEMVIRT_OP_SWAP] = "swap",
	[MEMVIRT_OP_QUERY] = "query",
	[MEMVIRT_OP_DUMP] = "dump",
	[MEMVIRT_OP_BALLOON] = "balloon",
};

static_assert(ARRAY_SIZE(memvirt_store_op_names) == MEMVIRT_NR_OPS);

const char *memvirt_store_op_name(enum memvirt_op op)
{
	return op < MEMVIRT_NR_OPS ? memvirt_store_op_names[op] : "invalid";
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_store_op_name);

static const char * const memvirt_store_act_names[] = {
	[MEMVIRT_ACT_INVALID] = "invalid",
	[MEMVIRT_ACT_USE] = "use",
	[MEMVIRT_ACT_ZERO_FRAME] = "zero-frame",
	[MEMVIRT_ACT_ZEROES] = "zeroes",
	[MEMVIRT_ACT_ALLOC] = "alloc",
	[MEMVIRT_ACT_DEFLATE] = "deflate",
	[MEMVIRT_ACT_COPY] = "copy",
	[MEMVIRT_ACT_DROP] = "drop",
	[MEMVIRT_ACT_MARK] = "mark",
	[MEMVIRT_ACT_KEEP] = "keep",
	[MEMVIRT_ACT_TAKE] = "take",
	[MEMVIRT_ACT_LOAD] = "load",
	[MEMVIRT_ACT_REPORT] = "report",
	[MEMVIRT_ACT_REFUSE] = "refuse",
};

static_assert(ARRAY_SIZE(memvirt_store_act_names) == MEMVIRT_NR_ACTS);

const char *memvirt_store_act_name(enum memvirt_act act)
{
	return act < MEMVIRT_NR_ACTS ? memvirt_store_act_names[act] : "invalid";
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_store_act_name);

/* The state an operation that frees a gfn leaves behind. */
static enum memvirt_p2m_state memvirt_store_op_target(enum memvirt_op op)
{
	switch (op) {
	case MEMVIRT_OP_TRUNCATE:
	case MEMVIRT_OP_TEARDOWN:
		return MEMVIRT_P2M_ABSENT;
	case MEMVIRT_OP_BALLOON:
		return MEMVIRT_P2M_BALLOONED;
	default:
		return MEMVIRT_P2M_ZERO;
	}
}

/*
 * A gfn whose data is lost (ERROR): the operation fails, loudly. An action
 * the operation has no use for (@act other than REFUSE: a cell left out of
 * the table, or a wrong one) is a bug besides: warn once.
 */
static int memvirt_store_refuse(struct memvirt_vm *vm, u64 gfn, u64 pte, enum memvirt_op op,
				enum memvirt_act act)
{
	WARN_ONCE(act != MEMVIRT_ACT_REFUSE, "memvirt: no %s action %s for %s\n",
		  memvirt_store_op_name(op), memvirt_store_act_name(act),
		  memvirt_p2m_state_name(memvirt_pte_state(pte)));
	pr_err_ratelimited("vm %llu (%s): gfn 0x%llx is %s (its data was lost), so %s fails: -EIO (punch it to reuse it)\n",
			   vm->id, vm->name, gfn,
			   memvirt_p2m_state_name(memvirt_pte_state(pte)),
			   memvirt_store_op_name(op));
	return -EIO;
}

/* Zero frames. */

static struct page *memvirt_zero_frames[MEMVIRT_ZERO_FRAMES];

/**
 * memvirt_zero_frames_init - allocate the zero frames (module init).
 *
 * Return: 0 or -ENOMEM.
 */
int memvirt_zero_frames_init(void)
{
	int i;

	for (i = 0; i < MEMVIRT_ZERO_FRAMES; i++) {
		memvirt_zero_frames[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!memvirt_zero_frames[i]) {
			memvirt_zero_frames_exit();
			return -ENOMEM;
		}
		/* Up to date, like guest pages: any pipe code may check. */
		SetPageUptodate(memvirt_zero_frames[i]);
	}
	return 0;
}

/* Drops the module's references; frames still mapped are freed at unmap. */
void memvirt_zero_frames_exit(void)
{
	int i;

	for (i = 0; i < MEMVIRT_ZERO_FRAMES; i++) {
		if (memvirt_zero_frames[i])
			put_page(memvirt_zero_frames[i]);
		memvirt_zero_frames[i] = NULL;
	}
}

bool memvirt_is_zero_frame(const struct page *page)
{
	int i;

	for (i = 0; i < MEMVIRT_ZERO_FRAMES; i++)
		if (page == memvirt_zero_frames[i])
			return true;
	return false;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_is_zero_frame);

/* The zero frame of @gfn's leaf table, or NULL if it has too many users. */
static struct page *memvirt_zero_frame_for(u64 gfn)
{
	struct page *page;

	page = memvirt_zero_frames[(gfn / MEMVIRT_P2M_ENTRIES) % MEMVIRT_ZERO_FRAMES];
	return page_ref_count(page) < MEMVIRT_ZERO_FRAME_MAX_REFS ? page : NULL;
}

/* Single gfns. */

static void memvirt_account_resident(struct memvirt_vm *vm, long nr)
{
	atomic_long_add(nr, &vm->stats.resident);
	atomic_long_add(nr, &memvirt.resident);
}

/*
 * Give a locked gfn that reads as zero a zeroed private page. If a zero
 * frame may be mapped for it (@stale, or the one its entry names), zap that
 * mapping under the frame's lock, which waits out a fault installing it.
 */
static struct page *__memvirt_store_make_private(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
						 struct vm_fault *vmf, struct page *stale)
{
	u64 pte = memvirt_p2m_read(ptep);
	struct page *page;

	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	if (!stale && memvirt_pte_maps_zero_frame(pte))
		stale = pfn_to_page(memvirt_pte_pfn(pte));
	page = vm->store_ops->alloc_guest_page(vm, vmf, false);
	if (!page)
		return ERR_PTR(-ENOMEM);
	if (memvirt_pte_state(pte) == MEMVIRT_P2M_BALLOONED) {
		memvirt_policy_account_ballooned(vm, -1);
		atomic_long_inc(&vm->stats.deflated);
	}
	/* Up to date, for the pipe code: splice hands guest pages to pipes. */
	SetPageUptodate(page);
	/* The allocation's reference becomes the P2M's reference. */
	if (stale) {
		lock_page(stale);
		memvirt_p2m_set(ptep, memvirt_pte_mk_private(page_to_pfn(page)));
		vm->store_ops->unmap(vm, gfn, 1);
		unlock_page(stale);
		atomic_long_inc(&vm->stats.cow_breaks);
		trace_cow_break(vm->id, gfn, memvirt_pte_state(pte));
	} else {
		memvirt_p2m_set(ptep, memvirt_pte_mk_private(page_to_pfn(page)));
	}
	memvirt_account_resident(vm, 1);
	return page;
}

/*
 * Give a locked SHARED gfn its new entry @pte and make sure no mapping of
 * its frame @frame is left for it: under the frame's lock, which waits out
 * a fault installing one, the gfn's mappings are zapped. Every fault that
 * maps the frame for the gfn sets the entry's A bit first, under the gfn
 * lock; with A clear (the gfn shares since its last zap: the merge zapped
 * it) there is nothing to zap, and a write to a page the guest never read
 * since it was merged costs no invalidation.
 */
static void memvirt_store_set_unmapped(struct memvirt_vm *vm, u64 gfn, u64 *ptep, u64 pte,
				       struct page *frame)
{
	bool mapped = memvirt_pte_is_accessed(memvirt_p2m_read(ptep));

	if (mapped)
		lock_page(frame);
	memvirt_p2m_set(ptep, pte);
	if (mapped) {
		vm->store_ops->unmap(vm, gfn, 1);
		unlock_page(frame);
	}
}

static void memvirt_account_shared(struct memvirt_vm *vm, long nr)
{
	atomic_long_add(nr, &vm->stats.shared);
	atomic_long_add(nr, &memvirt_dedup_stats.shared);
}

/*
 * Copy-on-write of a locked SHARED gfn: the gfn gets a private page with
 * the frame's bytes. The last sharer keeps the frame as its private page:
 * nothing is copied or zapped, since every pte that maps the frame is one
 * of this gfn's, read-only, and a write through it comes back through
 * ->page_mkwrite, which now finds a private page. Otherwise a copy
 * replaces the frame in the P2M, the gfn's read-only mappings of the frame
 * are zapped under the frame's lock (which waits out a fault installing
 * one), and the gfn's share and P2M reference are dropped.
 */
static struct page *__memvirt_store_unshare(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
					    struct vm_fault *vmf)
{
	u64 pte = memvirt_p2m_read(ptep);
	struct page *frame = pfn_to_page(memvirt_pte_pfn(pte));
	struct memvirt_frame *f = memvirt_frame_of(frame);
	struct page *page;

	if (memvirt_dedup_frame_take_last(f)) {
		memvirt_p2m_set(ptep, memvirt_pte_mk_private(page_to_pfn(frame)) |
			       (pte & MEMVIRT_PTE_A));
		page = frame;
	} else {
		page = vm->store_ops->alloc_guest_page(vm, vmf, true);
		if (!page)
			return ERR_PTR(-ENOMEM);
		copy_highpage(page, frame);
		SetPageUptodate(page);
		memvirt_store_set_unmapped(vm, gfn, ptep, memvirt_pte_mk_private(page_to_pfn(page)),
					   frame);
		memvirt_dedup_frame_put(f);
		put_page(frame);	/* the P2M's reference */
	}
	memvirt_account_shared(vm, -1);
	memvirt_account_resident(vm, 1);
	atomic_long_inc(&vm->stats.cow_breaks);
	atomic_long_inc(&memvirt_dedup_stats.cow_breaks);
	trace_cow_break(vm->id, gfn, MEMVIRT_P2M_SHARED);
	return page;
}

/* Punch, truncate or teardown of a locked SHARED gfn: it leaves its frame. */
static void __memvirt_store_drop_shared(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
					enum memvirt_p2m_state target)
{
	struct page *frame = pfn_to_page(memvirt_pte_pfn(memvirt_p2m_read(ptep)));

	memvirt_store_set_unmapped(vm, gfn, ptep, memvirt_pte_mk_nopage(target), frame);
	memvirt_dedup_frame_put(memvirt_frame_of(frame));
	put_page(frame);	/* the P2M's reference */
	memvirt_account_shared(vm, -1);
}

/*
 * The page of a locked PRIVATE gfn is used while it is being written to
 * the swap file: the swap-out is off, the write will be discarded.
 */
static void memvirt_store_cancel_writeback(u64 *ptep, u64 pte)
{
	if (!memvirt_pte_in_writeback(pte))
		return;
	memvirt_p2m_set(ptep, pte & ~MEMVIRT_PTE_WB);
	atomic_long_inc(&memvirt_swap_stats.writeback_cancelled);
}

/**
 * __memvirt_store_get - carry out a fault, read, write or populate on a
 * locked gfn.
 * @vm: the VM.
 * @gfn: the gfn, below i_size (the caller checked, under invalidate_lock).
 * @ptep: its entry, whose gfn lock the caller holds.
 * @op: MEMVIRT_OP_FAULT_READ, _FAULT_WRITE, _READ, _WRITE or _POPULATE.
 * @vmf: the fault, for the NUMA placement of an allocation; or NULL.
 *
 * No reference is taken for the caller.
 *
 * Return: the page that serves @op: the gfn's private page, or for a read
 * a shared frame or possibly a zero frame; NULL if the gfn reads as zero and @op is a
 * read; ERR_PTR(-ENOMEM) if a page could not be allocated; ERR_PTR(-EIO) if
 * the state cannot be served.
 */
struct page *__memvirt_store_get(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
				 enum memvirt_op op, struct vm_fault *vmf)
{
	u64 pte = memvirt_p2m_read(ptep);
	enum memvirt_p2m_state state = memvirt_pte_state(pte);
	enum memvirt_act act = memvirt_store_action(state, op);
	struct page *page;

	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	switch (act) {
	case MEMVIRT_ACT_USE:
		memvirt_store_cancel_writeback(ptep, pte);
		return pfn_to_page(memvirt_pte_pfn(pte));
	case MEMVIRT_ACT_LOAD:
		return __memvirt_swap_load(vm, gfn, ptep, vmf);
	case MEMVIRT_ACT_ZERO_FRAME:
		page = memvirt_zero_frame_for(gfn);
		if (!page)	/* too many mappings: serve the read from a page */
			return __memvirt_store_make_private(vm, gfn, ptep, vmf, NULL);
		if (state == MEMVIRT_P2M_ABSENT)
			state = MEMVIRT_P2M_ZERO;
		memvirt_p2m_set(ptep, memvirt_pte_mk_zero_frame(state, page_to_pfn(page)));
		atomic_long_inc(&vm->stats.zero_maps);
		return page;
	case MEMVIRT_ACT_ZEROES:
		return NULL;
	case MEMVIRT_ACT_ALLOC:
	case MEMVIRT_ACT_DEFLATE:
		return __memvirt_store_make_private(vm, gfn, ptep, vmf, NULL);
	case MEMVIRT_ACT_COPY:
		if (state == MEMVIRT_P2M_SHARED)
			return __memvirt_store_unshare(vm, gfn, ptep, vmf);
		fallthrough;
	default:	/* REFUSE, or a bug */
		return ERR_PTR(memvirt_store_refuse(vm, gfn, pte, op, act));
	}
}

MEMVIRT_EXPORT_FOR_KUNIT(__memvirt_store_get);

/**
 * __memvirt_store_mkwrite - a write to a frame mapped read-only for a gfn.
 * @vm: the VM.
 * @gfn: the gfn.
 * @ptep: its entry, whose gfn lock the caller holds.
 * @page: the frame the faulting pte maps.
 * @vmf: the fault.
 *
 * Return: 0 if @page is the gfn's private page, now marked dirty (the
 * caller returns it locked; a shared frame whose last sharer this gfn was
 * has just become that); -EAGAIN if the fault must be retried (the gfn
 * changed, or copy-on-write was just broken: its mapping is zapped and the
 * retry maps the new page); -ENOMEM or -EIO.
 */
int __memvirt_store_mkwrite(struct memvirt_vm *vm, u64 gfn, u64 *ptep, struct page *page,
			    struct vm_fault *vmf)
{
	u64 pte = memvirt_p2m_read(ptep);
	enum memvirt_act act = memvirt_store_action(memvirt_pte_state(pte), MEMVIRT_OP_MKWRITE);
	struct page *new;

	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	switch (act) {
	case MEMVIRT_ACT_USE:
		/* Punched or reclaimed and refaulted since the pte was made. */
		if (memvirt_pte_pfn(pte) != page_to_pfn(page))
			return -EAGAIN;
		memvirt_store_cancel_writeback(ptep, pte);
		memvirt_p2m_set(ptep, memvirt_p2m_read(ptep) | MEMVIRT_PTE_D);
		return 0;
	case MEMVIRT_ACT_LOAD:
		/* Swapped out since the pte was made: the retry brings it back. */
		return -EAGAIN;
	case MEMVIRT_ACT_COPY:
		if (memvirt_pte_state(pte) == MEMVIRT_P2M_SHARED) {
			if (memvirt_pte_pfn(pte) != page_to_pfn(page))
				return -EAGAIN;
			new = __memvirt_store_unshare(vm, gfn, ptep, vmf);
			if (IS_ERR(new))
				return PTR_ERR(new);
			if (new != page)
				return -EAGAIN;
			memvirt_p2m_set(ptep, memvirt_p2m_read(ptep) | MEMVIRT_PTE_D);
			return 0;
		}
		fallthrough;
	case MEMVIRT_ACT_DEFLATE:
		if (!memvirt_is_zero_frame(page))
			return -EAGAIN;
		new = __memvirt_store_make_private(vm, gfn, ptep, vmf, page);
		return IS_ERR(new) ? PTR_ERR(new) : -EAGAIN;
	default:	/* REFUSE, or a bug */
		return memvirt_store_refuse(vm, gfn, pte, MEMVIRT_OP_MKWRITE, act);
	}
}

MEMVIRT_EXPORT_FOR_KUNIT(__memvirt_store_mkwrite);

/**
 * memvirt_store_get_page - a gfn's page for read, write or populate, with a
 * reference for the caller.
 * @vm: the VM.
 * @gfn: the gfn, below i_size (caller checked, under invalidate_lock).
 * @op: MEMVIRT_OP_READ (allocates nothing), _WRITE or _POPULATE.
 *
 * Return: the page with an extra reference; NULL if the gfn reads as zero
 * and @op is a read; or an ERR_PTR (-ENOMEM, -EIO, -EINVAL).
 */
struct page *memvirt_store_get_page(struct memvirt_vm *vm, u64 gfn, enum memvirt_op op)
{
	struct page *page;
	u64 *ptep;

	if (op == MEMVIRT_OP_READ)
		ptep = memvirt_p2m_find(&vm->p2m, gfn);
	else
		ptep = memvirt_p2m_find_or_alloc(&vm->p2m, gfn, MEMVIRT_TABLE_GFP);
	if (IS_ERR_OR_NULL(ptep))
		return ERR_CAST(ptep);
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	page = __memvirt_store_get(vm, gfn, ptep, op, NULL);
	if (!IS_ERR_OR_NULL(page))
		get_page(page);
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
	return page;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_store_get_page);

/* Ranges: the reclaim protocol. */

/**
 * struct memvirt_store_run - one run of the reclaim protocol.
 * @gfn:	first gfn.
 * @ptep:	its entry; the run's entries follow it.
 * @nr:		gfns in the run.
 * @op:		the operation.
 * @act:	the table's action for each gfn.
 * @page:	the locked frame of each candidate, or NULL.
 * @todo:	candidates: gfns whose mapping is zapped and state changed.
 * @shared:	SHARED gfns to drop, one at a time after the others: each
 *		needs its frame's lock, and one task never holds two.
 * @zero_frame:	the zero frame locked for the run, if any.
 */
struct memvirt_store_run {
	u64 gfn;
	u64 *ptep;
	unsigned int nr;
	enum memvirt_op op;
	u8 act[MEMVIRT_STORE_BATCH];
	struct page *page[MEMVIRT_STORE_BATCH];
	DECLARE_BITMAP(todo, MEMVIRT_STORE_BATCH);
	DECLARE_BITMAP(shared, MEMVIRT_STORE_BATCH);
	struct page *zero_frame;
};

/* Does @page hold only zeroes? (Zero reclaim, and swap-out: never written.) */
bool memvirt_page_is_zero(struct page *page)
{
	void *addr = kmap_local_page(page);
	bool zero = !memchr_inv(addr, 0, PAGE_SIZE);

	kunmap_local(addr);
	return zero;
}

/* Does reclaim operation @op want this page's contents? */
static bool memvirt_store_wants(enum memvirt_op op, struct page *page)
{
	switch (op) {
	case MEMVIRT_OP_RECLAIM_ZERO:
		return memvirt_page_is_zero(page);
	default:
		return false;
	}
}

/*
 * Step 2: choose the candidates of a locked run and lock their frames.
 * Returns -EIO if a gfn's state refused the operation (the rest goes on).
 */
static int memvirt_store_run_pick(struct memvirt_vm *vm, struct memvirt_store_run *run,
				  struct memvirt_range_result *res)
{
	enum memvirt_p2m_state target = memvirt_store_op_target(run->op);
	unsigned int i;
	struct page *page;
	int err = 0;
	u64 pte;

	for (i = 0; i < run->nr; i++) {
		pte = memvirt_p2m_read(run->ptep + i);
		run->act[i] = memvirt_store_action(memvirt_pte_state(pte), run->op);
		run->page[i] = NULL;
		switch (run->act[i]) {
		case MEMVIRT_ACT_DROP:
		case MEMVIRT_ACT_TAKE:
			if (memvirt_pte_state(pte) == MEMVIRT_P2M_SHARED) {
				__set_bit(i, run->shared);
				break;
			}
			if (memvirt_pte_state(pte) != MEMVIRT_P2M_PRIVATE) {
				/*
				 * COMPRESSED or SWAPPED: nothing is mapped. Only
				 * swap/ takes them (to the swap file), not a range.
				 */
				if (run->act[i] != MEMVIRT_ACT_DROP)
					break;
				__memvirt_swap_drop(vm, run->ptep + i);
				memvirt_p2m_set(run->ptep + i, memvirt_pte_mk_nopage(target));
				break;
			}
			page = pfn_to_page(memvirt_pte_pfn(pte));
			res->scanned++;
			/* Cheap pre-check; repeated once nothing can write it. */
			if (run->act[i] == MEMVIRT_ACT_TAKE && !memvirt_store_wants(run->op, page))
				break;
			lock_page(page);
			run->page[i] = page;
			__set_bit(i, run->todo);
			break;
		case MEMVIRT_ACT_MARK:
			if (!memvirt_pte_maps_zero_frame(pte)) {
				memvirt_p2m_set(run->ptep + i, memvirt_pte_mk_nopage(target));
				break;
			}
			/* A zero frame may be mapped: zap it with the others. */
			page = pfn_to_page(memvirt_pte_pfn(pte));
			if (WARN_ON_ONCE(run->zero_frame && run->zero_frame != page))
				break;
			run->zero_frame = page;
			__set_bit(i, run->todo);
			break;
		case MEMVIRT_ACT_KEEP:
			break;
		default:	/* REFUSE, or a bug */
			err = memvirt_store_refuse(vm, run->gfn + i, pte, run->op, run->act[i]);
		}
	}
	/* After the private pages: a run locks at most one zero frame. */
	if (run->zero_frame)
		lock_page(run->zero_frame);
	return err;
}

/*
 * Step 4's test: after the unmap, does only the P2M hold @page? If not, a
 * GUP pin, vhost, VFIO or a pipe does: the skip is counted.
 */
bool memvirt_page_is_exclusive(struct memvirt_vm *vm, struct page *page)
{
	if (page_count(page) == 1 && !page_mapped(page))
		return true;
	atomic_long_inc(&vm->stats.pinned_skips);
	atomic_long_inc(&memvirt.pinned_skips);
	return false;
}

/* Step 3: one unmap per contiguous run of candidates. */
static void memvirt_store_run_unmap(struct memvirt_vm *vm, struct memvirt_store_run *run)
{
	unsigned int start, end;

	for_each_set_bitrange(start, end, run->todo, run->nr)
		vm->store_ops->unmap(vm, run->gfn + start, end - start);
}

/*
 * Step 4 for a reclaim candidate: may its page go? Only if nothing but the
 * P2M holds it, and, for zero reclaim, it still holds only zeroes (nothing
 * can write it now: no pte maps it, and write() needs the gfn lock).
 */
static bool memvirt_store_may_take(struct memvirt_vm *vm, struct memvirt_store_run *run,
				   unsigned int i, struct memvirt_range_result *res)
{
	struct page *page = run->page[i];

	if (!memvirt_page_is_exclusive(vm, page)) {
		res->pinned++;
		return false;
	}
	return memvirt_store_wants(run->op, page);
}

/**
 * __memvirt_store_free_isolated - step 5 for one isolated page: the locked
 * gfn becomes @state, naming no page, and the page is freed.
 * @vm: the VM.
 * @ptep: the entry, whose gfn lock the caller holds.
 * @page: the gfn's page, locked, mapped nowhere, held by the P2M alone.
 * @state: ZERO or ABSENT.
 */
void __memvirt_store_free_isolated(struct memvirt_vm *vm, u64 *ptep, struct page *page,
				   enum memvirt_p2m_state state)
{
	__memvirt_store_release_isolated(vm, ptep, page, memvirt_pte_mk_nopage(state));
}

MEMVIRT_EXPORT_FOR_KUNIT(__memvirt_store_free_isolated);

/**
 * __memvirt_store_release_isolated - step 5 for one isolated page whose
 * data now lives elsewhere (or nowhere): the locked gfn gets leaf @pte, and
 * the page is freed.
 * @vm: the VM.
 * @ptep: the entry, whose gfn lock the caller holds.
 * @page: the gfn's page, locked, mapped nowhere; the P2M's reference is
 *	  dropped (a swap write may hold one more, which it drops itself).
 * @pte: the new leaf: ZERO, ABSENT, COMPRESSED or SWAPPED.
 */
void __memvirt_store_release_isolated(struct memvirt_vm *vm, u64 *ptep, struct page *page,
				      u64 pte)
{
	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	memvirt_p2m_set(ptep, pte);
	unlock_page(page);
	put_page(page);		/* the P2M's reference */
	memvirt_account_resident(vm, -1);
}

/**
 * __memvirt_store_install - a locked gfn gets @page, filled with its data
 * (a swap-in), as its private page: the page's reference becomes the P2M's.
 * @vm: the VM.
 * @ptep: the entry, whose gfn lock the caller holds; it names no page.
 * @page: the page.
 */
void __memvirt_store_install(struct memvirt_vm *vm, u64 *ptep, struct page *page)
{
	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	SetPageUptodate(page);
	memvirt_p2m_set(ptep, memvirt_pte_mk_private(page_to_pfn(page)));
	memvirt_account_resident(vm, 1);
}

/* Step 5: new states, unlock, free. */
static void memvirt_store_run_finish(struct memvirt_vm *vm, struct memvirt_store_run *run,
				     struct memvirt_range_result *res)
{
	enum memvirt_p2m_state target = memvirt_store_op_target(run->op);
	unsigned int i;
	struct page *page;

	for_each_set_bit(i, run->todo, run->nr) {
		page = run->page[i];
		if (!page) {	/* a zero frame was mapped: now zapped */
			memvirt_p2m_set(run->ptep + i, memvirt_pte_mk_nopage(target));
			continue;
		}
		if (run->act[i] == MEMVIRT_ACT_TAKE && !memvirt_store_may_take(vm, run, i, res)) {
			unlock_page(page);
			continue;
		}
		__memvirt_store_free_isolated(vm, run->ptep + i, page, target);
		res->done++;
	}
	if (run->zero_frame)
		unlock_page(run->zero_frame);
	/*
	 * Shared gfns, with no other page locked: one frame lock at a time.
	 * They free no page of their own (the frame goes with its last
	 * sharer), so they are not counted as done.
	 */
	for_each_set_bit(i, run->shared, run->nr)
		__memvirt_store_drop_shared(vm, run->gfn + i, run->ptep + i, target);
}

/* BALLOONED gfns of a locked run. */
static long memvirt_store_run_ballooned(struct memvirt_store_run *run)
{
	unsigned int i;
	long n = 0;

	for (i = 0; i < run->nr; i++)
		n += memvirt_pte_state(memvirt_p2m_read(run->ptep + i)) == MEMVIRT_P2M_BALLOONED;
	return n;
}

/* Does @op make gfns BALLOONED, or BALLOONED gfns something else? */
static bool memvirt_store_op_balloons(enum memvirt_op op)
{
	return op == MEMVIRT_OP_BALLOON || op == MEMVIRT_OP_TRUNCATE ||
	       op == MEMVIRT_OP_TEARDOWN;
}

/* One run, steps 1 to 5. */
static int memvirt_store_do_run(struct memvirt_vm *vm, struct memvirt_store_run *run,
				struct memvirt_range_result *res)
{
	bool balloons = memvirt_store_op_balloons(run->op);
	long ballooned = 0;
	int err;

	bitmap_zero(run->todo, MEMVIRT_STORE_BATCH);
	bitmap_zero(run->shared, MEMVIRT_STORE_BATCH);
	run->zero_frame = NULL;
	memvirt_p2m_lock_run(&vm->p2m, run->ptep, run->nr);
	if (balloons)
		ballooned = memvirt_store_run_ballooned(run);
	err = memvirt_store_run_pick(vm, run, res);
	memvirt_store_run_unmap(vm, run);
	memvirt_store_run_finish(vm, run, res);
	if (balloons)
		ballooned = memvirt_store_run_ballooned(run) - ballooned;
	memvirt_p2m_unlock_run(&vm->p2m, run->ptep, run->nr);
	if (ballooned)
		memvirt_policy_account_ballooned(vm, ballooned);
	return err;
}

/*
 * BALLOON marks every gfn of its range, also those whose leaf table was
 * never allocated (the guest never touched them): the balloon holds them.
 * Without memory for a table, its gfns stay ABSENT, which reads the same.
 */
static void memvirt_store_alloc_leaves(struct memvirt_vm *vm, u64 start, u64 end)
{
	u64 gfn;

	for (gfn = start; gfn < end; gfn = round_down(gfn, MEMVIRT_P2M_ENTRIES) +
					  MEMVIRT_P2M_ENTRIES)
		if (IS_ERR(memvirt_p2m_find_or_alloc(&vm->p2m, gfn, MEMVIRT_TABLE_GFP)))
			break;
}

/**
 * memvirt_store_range - punch, truncate, tear down or reclaim gfns
 * [@start, @end) through the reclaim protocol.
 * @vm: the VM.
 * @start: first gfn.
 * @end: first gfn past the range (exclusive).
 * @op: MEMVIRT_OP_PUNCH, _BALLOON, _TRUNCATE, _TEARDOWN or _RECLAIM_ZERO.
 * @res: what was done; added to, so a caller may sum several calls.
 *
 * The caller keeps the VM alive and, except for truncate and teardown,
 * holds the invalidate_lock at most shared. Sleeps. A fatal signal ends
 * reclaim early (not punch, truncate or teardown, which must finish).
 *
 * Return: 0; -EINTR if a fatal signal ended reclaim; -EIO if a gfn's state
 * cannot undergo @op (the other gfns were done); -ENOMEM (reclaim only) if
 * the run's state could not be allocated.
 */
int memvirt_store_range(struct memvirt_vm *vm, u64 start, u64 end, enum memvirt_op op,
			struct memvirt_range_result *res)
{
	bool interruptible = op == MEMVIRT_OP_RECLAIM_ZERO;
	struct memvirt_store_run *run;
	struct memvirt_p2m_iter iter;
	int err = 0, ret;

	if (op == MEMVIRT_OP_BALLOON)
		memvirt_store_alloc_leaves(vm, start, end);
	/* Punch, truncate and teardown must not fail halfway: a small NOFAIL. */
	run = kmalloc(sizeof(*run), interruptible ? GFP_KERNEL : GFP_KERNEL | __GFP_NOFAIL);
	if (!run)
		return -ENOMEM;
	run->op = op;
	while (start < end) {
		/* Skips missing leaf tables whole. */
		memvirt_p2m_iter_start(&iter, &vm->p2m, start, end);
		if (!iter.valid)
			break;
		run->gfn = iter.gfn;
		run->ptep = iter.ptep;
		run->nr = min_t(u64, end - iter.gfn,
				min(memvirt_p2m_leaf_room(iter.gfn), MEMVIRT_STORE_BATCH));
		ret = memvirt_store_do_run(vm, run, res);
		err = err ?: ret;
		start = run->gfn + run->nr;
		if (interruptible && fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	kfree(run);
	return err;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_store_range);

/**
 * __memvirt_store_isolate - steps 2 to 4 of the reclaim protocol for one
 * locked PRIVATE gfn, for the sharing pass.
 * @vm: the VM.
 * @gfn: the gfn.
 * @ptep: its entry, whose gfn lock the caller holds; PRIVATE.
 *
 * Return: the gfn's page, locked, mapped nowhere and held by the P2M alone,
 * so nothing can write it until the gfn lock is dropped; or NULL if
 * something else holds a reference (counted as a pinned skip).
 */
struct page *__memvirt_store_isolate(struct memvirt_vm *vm, u64 gfn, u64 *ptep)
{
	struct page *page = pfn_to_page(memvirt_pte_pfn(memvirt_p2m_read(ptep)));

	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	lock_page(page);
	vm->store_ops->unmap(vm, gfn, 1);
	if (memvirt_page_is_exclusive(vm, page))
		return page;
	unlock_page(page);
	return NULL;
}

MEMVIRT_EXPORT_FOR_KUNIT(__memvirt_store_isolate);

/**
 * __memvirt_store_isolate_run - steps 1 to 4 of the reclaim protocol for
 * chosen gfns of one run, for the sharing pass.
 * @vm: the VM.
 * @gfn: first gfn of the run.
 * @ptep: its entry; the run's entries follow it, inside one leaf table.
 * @first: index of the first gfn to lock.
 * @end: index past the last gfn to lock (at most MEMVIRT_STORE_BATCH).
 * @want: in: gfns (indices) to isolate, inside [@first, @end); out: those
 *	  isolated.
 * @pfn: the page each wanted gfn held when it was chosen: one whose gfn
 *	 holds another page now, or is no longer PRIVATE, is dropped.
 * @page: out: the isolated pages, locked, mapped nowhere and held by the
 *	  P2M alone.
 *
 * Takes the gfn locks of [@first, @end) as one run and leaves them held:
 * the caller finishes every isolated gfn (__memvirt_store_make_shared(),
 * __memvirt_store_free_isolated(), or unlock_page() to keep it) and then
 * calls memvirt_p2m_unlock_run(). KVM sees one invalidation per stretch
 * of wanted gfns.
 *
 * Return: how many wanted gfns were dropped as pinned (counted).
 */
unsigned int __memvirt_store_isolate_run(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
					 unsigned int first, unsigned int end,
					 unsigned long *want, const unsigned long *pfn,
					 struct page **page)
{
	unsigned int i, start, stop, pinned = 0;
	u64 pte;

	memvirt_p2m_lock_run(&vm->p2m, ptep + first, end - first);
	for_each_set_bit(i, want, end) {
		pte = memvirt_p2m_read(ptep + i);
		if (memvirt_store_action(memvirt_pte_state(pte), MEMVIRT_OP_SHARE) !=
		    MEMVIRT_ACT_TAKE || memvirt_pte_pfn(pte) != pfn[i]) {
			__clear_bit(i, want);
			continue;
		}
		page[i] = pfn_to_page(pfn[i]);
		lock_page(page[i]);
	}
	for_each_set_bitrange(start, stop, want, end)
		vm->store_ops->unmap(vm, gfn + start, stop - start);
	for_each_set_bit(i, want, end) {
		if (memvirt_page_is_exclusive(vm, page[i]))
			continue;
		unlock_page(page[i]);
		__clear_bit(i, want);
		pinned++;
	}
	return pinned;
}

MEMVIRT_EXPORT_FOR_KUNIT(__memvirt_store_isolate_run);

/**
 * __memvirt_store_make_shared - point a locked, isolated PRIVATE gfn at a
 * shared frame.
 * @vm: the VM.
 * @ptep: the entry, whose gfn lock the caller holds.
 * @frame: the frame; the caller counted the gfn among its sharers and gives
 *	   the P2M a reference on its page. It may be the gfn's own page
 *	   (a hint frame becoming a shared frame); otherwise the caller
 *	   frees the gfn's old page.
 */
void __memvirt_store_make_shared(struct memvirt_vm *vm, u64 *ptep, struct page *frame)
{
	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	memvirt_p2m_set(ptep, memvirt_pte_mk_shared(page_to_pfn(frame)));
	memvirt_account_resident(vm, -1);
	memvirt_account_shared(vm, 1);
}

MEMVIRT_EXPORT_FOR_KUNIT(__memvirt_store_make_shared);

/* The real outside world: the VM's memvirtfs mapping. */

/*
 * Guest pages: zeroed before any VM sees them (a copy is written whole
 * before the P2M names it); charged to the memory cgroup
 * of the task that populates them (the VMM), as shmem would be; not movable
 * (memvirt does not implement migration, so __GFP_MOVABLE would defeat
 * compaction). From a fault, the mapping's NUMA policy applies (mbind,
 * QEMU's host-nodes=); from read/write/fallocate, the task's.
 */
static struct page *memvirt_store_alloc_page(struct memvirt_vm *vm, struct vm_fault *vmf,
					     bool copy)
{
	gfp_t gfp = copy ? MEMVIRT_GUEST_GFP & ~__GFP_ZERO : MEMVIRT_GUEST_GFP;
	struct folio *folio;

	if (!vmf || !vmf->vma)
		return alloc_page(gfp);
	folio = vma_alloc_folio(gfp, 0, vmf->vma, vmf->address, false);
	return folio ? &folio->page : NULL;
}

static void memvirt_store_unmap(struct memvirt_vm *vm, u64 gfn, u64 nr)
{
	unmap_mapping_pages(vm->mapping, gfn, nr, false);
}

const struct memvirt_store_ops memvirt_store_default_ops = {
	.alloc_guest_page = memvirt_store_alloc_page,
	.unmap		= memvirt_store_unmap,
};
