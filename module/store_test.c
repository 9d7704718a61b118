// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: every (P2M state, operation) pair of the page store, carried out
 * on a VM whose outside world is fake (allocations counted, unmaps
 * recorded, no memvirtfs file, no swap file), with the outcome checked: what
 * the operation returned, the state left behind, pages allocated, freed and
 * skipped, unmaps issued, the bytes of the page, and what the VM holds in
 * the compression cache and in swap slots.
 *
 * COMPRESSED gfns are made by a real swap-out into the compression cache,
 * so loading them really decompresses. A SWAPPED gfn names a slot of a slot
 * bitmap the test gives the VM; without a file, reading the slot fails, so
 * a swap-in is the failed one: the gfn becomes ERROR and its slot is freed.
 * The COMPRESS and SWAP operations are swap-out passes (swap/), which
 * memvirt_store_range() leaves alone; SWAP needs a swap file, so here it
 * only checks it is refused (-EOPNOTSUPP) and the table's action.
 *
 * The VM's ballooned count follows the gfn's state in every case: one more
 * when it becomes BALLOONED, one less when it leaves BALLOONED; leaving it
 * for a page of its own is a deflate. BALLOONED gfns are made by a balloon
 * punch, so the host-wide count stays balanced.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "dedup/dedup.h"
#include "module/memvirt.h"

/* How a case's gfn starts out. */
enum start {
	ST_ABSENT,
	ST_ZERO,
	ST_ZERO_FRAMED,	/* ZERO, a zero frame mapped (R) */
	ST_PRIVATE,	/* a private page holding zeroes */
	ST_PRIVATE_DATA,	/* a private page holding data that compresses */
	ST_PRIVATE_RANDOM, /* a private page of random bytes: incompressible */
	ST_PRIVATE_PINNED, /* a zeroed private page with an extra reference */
	ST_PRIVATE_WB,	/* ST_PRIVATE_DATA, being written to swap (WB set) */
	ST_SHARED,	/* shares a frame with one other sharer */
	ST_SHARED_LAST,	/* the only sharer of its frame */
	ST_SHARED_UNMAPPED, /* ST_SHARED, never mapped since the merge (A clear) */
	ST_BALLOONED,
	ST_BALLOONED_FRAMED,
	ST_COMPRESSED,	/* ST_PRIVATE_DATA compressed into the cache */
	ST_SWAPPED,	/* in slot SLOT of the VM's slots (there is no file) */
	ST_ERROR,	/* its data was lost */
};

/* What the operation returned. */
enum outcome {
	O_SAME,		/* the gfn's own page */
	O_NEW,		/* a newly allocated private page */
	O_ZERO_FRAME,	/* a zero frame */
	O_NULL,		/* reads as zero */
	O_OK,		/* 0 */
	O_EAGAIN,	/* retry the fault */
	O_EIO,		/* refused */
	O_EOPNOTSUPP,	/* no swap file */
	O_OTHER,	/* any other error */
};

struct store_case {
	const char *name;
	enum start start;
	enum memvirt_op op;
	enum outcome out;
	enum memvirt_p2m_state to;
	bool to_frame;	/* a zero frame may still be mapped (R) */
	bool wb;	/* the WB bit is still set */
	bool data;	/* the gfn's page holds the bytes it started with */
	int allocs;
	int unmaps;
	int freed;
	int pinned;
	int resident;	/* change of the resident count, or allocs - freed */
	int shared;	/* change of the shared count */
	int compressed;	/* change of the VM's cache entries */
	int swapped;	/* change of the VM's swapped count */
	int slots;	/* change of the VM's swap slots in use */
	int errors;	/* change of the VM's swap_errors */
	int rejects;	/* change of the VM's compress_rejects */
	int cancelled;	/* change of writeback_cancelled (host-wide) */
	enum memvirt_act act;	/* if set, the table's action for the pair */
};

#define GFN	0x1234ULL
/* C() cases: the resident count changes by allocs - freed. */
#define RESIDENT_FROM_ALLOCS	INT_MIN
/* The fake VM's swap slots; a SWAPPED gfn is in SLOT. */
#define NR_SLOTS	64
#define SLOT		37

/* A VM whose store talks to counters instead of a mapping. */
struct fake_vm {
	struct memvirt_vm vm;
	int allocs;
	int unmaps;
	u64 unmapped_gfn;
	struct memvirt_frame *other;	/* ST_SHARED: the other sharer's frame */
	u8 *bytes;	/* what the gfn's page held at the start */
};

static struct page *fake_alloc(struct memvirt_vm *vm, struct vm_fault *vmf, bool copy)
{
	container_of(vm, struct fake_vm, vm)->allocs++;
	return alloc_page(GFP_KERNEL | __GFP_ZERO);
}

static void fake_unmap(struct memvirt_vm *vm, u64 gfn, u64 nr)
{
	struct fake_vm *f = container_of(vm, struct fake_vm, vm);

	f->unmaps++;
	f->unmapped_gfn = gfn;
}

static const struct memvirt_store_ops fake_ops = {
	.alloc_guest_page = fake_alloc,
	.unmap = fake_unmap,
};

static u64 *fake_ptep_of(struct fake_vm *f, u64 gfn)
{
	return memvirt_p2m_find(&f->vm.p2m, gfn);
}

static u64 *fake_ptep(struct fake_vm *f)
{
	return fake_ptep_of(f, GFN);
}

/*
 * Give the VM NR_SLOTS swap slots, as a swap file would, but no file.
 * Not under a gfn lock: it allocates.
 */
static void fake_give_slots(struct kunit *test, struct fake_vm *f)
{
	struct memvirt_vm_swap *sw = &f->vm.swap;

	sw->slots = kvcalloc(BITS_TO_LONGS(NR_SLOTS), sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sw->slots);
	sw->bitmap_bits = NR_SLOTS;
	sw->nr_slots = NR_SLOTS;
}

/*
 * Make the locked gfn at @ptep SWAPPED in @slot, marked used as the slot
 * allocator would (which takes the lowest free one, not a chosen one), and
 * count it as a swap-out's completion does (the swap-in or drop that
 * follows takes it back). False if the slot was taken.
 */
static bool fake_set_swapped(struct fake_vm *f, u64 *ptep, u64 slot)
{
	struct memvirt_vm_swap *sw = &f->vm.swap;
	bool taken;

	spin_lock(&sw->slot_lock);
	taken = __test_and_set_bit(slot, sw->slots);
	if (!taken)
		sw->used++;
	spin_unlock(&sw->slot_lock);
	if (taken)
		return false;
	memvirt_p2m_set(ptep, memvirt_pte_mk_stored(MEMVIRT_P2M_SWAPPED, slot));
	atomic_long_inc(&f->vm.stats.swapped);
	atomic_long_inc(&memvirt_swap_stats.swapped);
	return true;
}

/* Fill the gfn's page as @start says, and remember its bytes. */
static void fake_fill(struct fake_vm *f, struct page *page, enum start start)
{
	u8 *addr = kmap_local_page(page);
	unsigned int i;

	if (start == ST_PRIVATE_RANDOM) {
		get_random_bytes(addr, PAGE_SIZE);
	} else if (start == ST_PRIVATE_DATA || start == ST_PRIVATE_WB ||
		   start == ST_COMPRESSED) {
		/* Not a byte repeated, yet LZ4 makes a few hundred bytes of it. */
		for (i = 0; i < PAGE_SIZE; i++)
			addr[i] = i % 251 + 1;
	}
	memcpy(f->bytes, addr, PAGE_SIZE);
	kunmap_local(addr);
}

/* Does the gfn's page hold the bytes it started with? */
static bool fake_page_has_bytes(struct fake_vm *f, u64 pte)
{
	void *addr;
	bool same;

	if (!memvirt_pte_has_page(pte))
		return false;
	addr = kmap_local_page(pfn_to_page(memvirt_pte_pfn(pte)));
	same = !memcmp(addr, f->bytes, PAGE_SIZE);
	kunmap_local(addr);
	return same;
}

/*
 * Make the locked gfn share a frame, its own page holding data, in a realm
 * of its own; with @other, a second (fake) sharer holds the frame too;
 * with @mapped, the frame may be mapped for the gfn (A set).
 */
static void fake_set_shared(struct kunit *test, struct fake_vm *f, u64 *ptep, bool other,
			    bool mapped, struct page **page)
{
	struct memvirt_frame *frame;
	void *addr;

	*page = __memvirt_store_get(&f->vm, GFN, ptep, MEMVIRT_OP_POPULATE, NULL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(*page));
	addr = kmap_local_page(*page);
	memset(addr, 0x3c, PAGE_SIZE);
	memcpy(f->bytes, addr, PAGE_SIZE);
	kunmap_local(addr);
	KUNIT_ASSERT_PTR_EQ(test, __memvirt_store_isolate(&f->vm, GFN, ptep), *page);
	frame = memvirt_dedup_frame_create(*page, BIT_ULL(62) | (unsigned long)f, 1,
					   other ? 2 : 1);
	KUNIT_ASSERT_NOT_NULL(test, frame);
	__memvirt_store_make_shared(&f->vm, ptep, *page);
	/* As if a read fault had mapped the frame for the gfn since. */
	if (mapped)
		memvirt_p2m_set(ptep, memvirt_p2m_read(ptep) | MEMVIRT_PTE_A);
	unlock_page(*page);
	if (other) {
		get_page(*page);	/* the other sharer's P2M reference */
		f->other = frame;
	}
}

/*
 * The unlocked gfn's private page goes into the compression cache, through
 * a real swap-out pass: a COMPRESSED leaf naming a real cache entry.
 */
static void fake_compress(struct kunit *test, struct fake_vm *f)
{
	struct memvirt_swap_result res = {};
	long bytes;
	u64 pte;

	KUNIT_ASSERT_EQ(test, memvirt_swap_out(&f->vm, GFN, GFN + 1, MEMVIRT_SWAP_COMPRESS, &res),
			0);
	KUNIT_ASSERT_EQ(test, res.compressed, 1ULL);
	pte = memvirt_p2m_read(fake_ptep(f));
	KUNIT_ASSERT_EQ(test, memvirt_pte_state(pte), MEMVIRT_P2M_COMPRESSED);
	KUNIT_ASSERT_NOT_NULL(test, xa_load(&f->vm.swap.entries, memvirt_pte_where(pte)));
	KUNIT_ASSERT_EQ(test, atomic_long_read(&f->vm.stats.compressed), 1L);
	KUNIT_ASSERT_EQ(test, atomic_long_read(&f->vm.stats.resident), 0L);
	bytes = atomic_long_read(&f->vm.stats.compressed_bytes);
	KUNIT_ASSERT_GT(test, bytes, 0L);
	KUNIT_ASSERT_LE(test, bytes, (long)MEMVIRT_ZCACHE_MAX_LEN);
}

/* Put the gfn in @start through the store itself where it can. */
static void fake_set_start(struct kunit *test, struct fake_vm *f, enum start start,
			   struct page **page)
{
	struct memvirt_range_result res = {};
	u64 *ptep = fake_ptep(f);
	bool ok = true;

	*page = NULL;
	if (start == ST_SWAPPED)
		fake_give_slots(test, f);
	/* A balloon punch, so that every ballooned count (host-wide too) adds up. */
	if (start == ST_BALLOONED || start == ST_BALLOONED_FRAMED) {
		KUNIT_ASSERT_EQ(test, memvirt_store_range(&f->vm, GFN, GFN + 1, MEMVIRT_OP_BALLOON,
							  &res), 0);
		KUNIT_ASSERT_EQ(test, memvirt_pte_state(memvirt_p2m_read(ptep)),
				MEMVIRT_P2M_BALLOONED);
		KUNIT_ASSERT_EQ(test, atomic_long_read(&f->vm.stats.ballooned), 1L);
	}
	memvirt_p2m_lock_gfn(&f->vm.p2m, ptep);
	switch (start) {
	case ST_ABSENT:
		break;
	case ST_ZERO:
		memvirt_p2m_set(ptep, memvirt_pte_mk_nopage(MEMVIRT_P2M_ZERO));
		break;
	case ST_BALLOONED:
		break;
	case ST_BALLOONED_FRAMED:
	case ST_ZERO_FRAMED:
		*page = __memvirt_store_get(&f->vm, GFN, ptep, MEMVIRT_OP_FAULT_READ, NULL);
		break;
	case ST_PRIVATE:
	case ST_PRIVATE_DATA:
	case ST_PRIVATE_RANDOM:
	case ST_PRIVATE_PINNED:
	case ST_PRIVATE_WB:
	case ST_COMPRESSED:
		*page = __memvirt_store_get(&f->vm, GFN, ptep, MEMVIRT_OP_POPULATE, NULL);
		if (IS_ERR(*page))
			break;
		fake_fill(f, *page, start);
		if (start == ST_PRIVATE_PINNED)
			get_page(*page);
		/* As a swap-out to the file would, less the write's reference. */
		if (start == ST_PRIVATE_WB)
			memvirt_p2m_set(ptep, memvirt_p2m_read(ptep) | MEMVIRT_PTE_WB);
		break;
	case ST_SHARED:
	case ST_SHARED_LAST:
	case ST_SHARED_UNMAPPED:
		fake_set_shared(test, f, ptep, start != ST_SHARED_LAST, start != ST_SHARED_UNMAPPED,
				page);
		break;
	case ST_SWAPPED:
		ok = fake_set_swapped(f, ptep, SLOT);
		break;
	case ST_ERROR:
		memvirt_p2m_set(ptep, memvirt_pte_mk_nopage(MEMVIRT_P2M_ERROR));
		break;
	}
	memvirt_p2m_unlock_gfn(&f->vm.p2m, ptep);
	KUNIT_ASSERT_FALSE(test, IS_ERR(*page));
	KUNIT_ASSERT_TRUE_MSG(test, ok, "slot %d not free", SLOT);
	if (start == ST_COMPRESSED) {
		fake_compress(test, f);
		*page = NULL;	/* freed */
	}
	f->allocs = 0;
	f->unmaps = 0;
}

static enum outcome err_outcome(int err)
{
	switch (err) {
	case 0:
		return O_OK;
	case -EAGAIN:
		return O_EAGAIN;
	case -EIO:
		return O_EIO;
	case -EOPNOTSUPP:
		return O_EOPNOTSUPP;
	default:
		return O_OTHER;
	}
}

static enum outcome page_outcome(struct page *got, struct page *before)
{
	if (IS_ERR(got))
		return err_outcome(PTR_ERR(got));
	if (!got)
		return O_NULL;
	if (memvirt_is_zero_frame(got))
		return O_ZERO_FRAME;
	return got == before ? O_SAME : O_NEW;
}

/* Carry out @op on the gfn; returns the outcome and counts freed/pinned. */
static enum outcome fake_do(struct fake_vm *f, enum memvirt_op op, struct page *before,
			    struct memvirt_range_result *res)
{
	struct memvirt_swap_result sres = {};
	u64 *ptep = fake_ptep(f);
	struct page *got;
	int err;

	switch (op) {
	case MEMVIRT_OP_FAULT_READ:
	case MEMVIRT_OP_FAULT_WRITE:
	case MEMVIRT_OP_READ:
	case MEMVIRT_OP_WRITE:
	case MEMVIRT_OP_POPULATE:
		memvirt_p2m_lock_gfn(&f->vm.p2m, ptep);
		got = __memvirt_store_get(&f->vm, GFN, ptep, op, NULL);
		memvirt_p2m_unlock_gfn(&f->vm.p2m, ptep);
		return page_outcome(got, before);
	case MEMVIRT_OP_MKWRITE:
		memvirt_p2m_lock_gfn(&f->vm.p2m, ptep);
		/* The faulting pte maps what the gfn had: its page or a zero frame. */
		err = __memvirt_store_mkwrite(&f->vm, GFN, ptep, before ?: ZERO_PAGE(0), NULL);
		memvirt_p2m_unlock_gfn(&f->vm.p2m, ptep);
		return err_outcome(err);
	case MEMVIRT_OP_COMPRESS:
	case MEMVIRT_OP_SWAP:
		/* Swap-out passes live in swap/: memvirt_store_range() does nothing. */
		err = memvirt_swap_out(&f->vm, GFN, GFN + 1, op == MEMVIRT_OP_SWAP ?
				       MEMVIRT_SWAP_FILE : MEMVIRT_SWAP_COMPRESS, &sres);
		res->scanned = sres.scanned;
		res->pinned = sres.pinned;
		res->zeroed = sres.zeroed;
		res->compressed = sres.compressed;
		res->swapped = sres.swapped;
		res->done = sres.zeroed + sres.compressed + sres.swapped;
		return err_outcome(err);
	case MEMVIRT_OP_QUERY:
	case MEMVIRT_OP_DUMP:
		return memvirt_store_action(memvirt_pte_state(memvirt_p2m_read(ptep)), op) ==
		       MEMVIRT_ACT_REPORT ? O_OK : O_EIO;
	default:
		return err_outcome(memvirt_store_range(&f->vm, GFN, GFN + 1, op, res));
	}
}

#define C(_start, _op, _out, _to, _frame, _allocs, _unmaps, _freed, _pinned)	\
	{ .name = #_start " " #_op, .start = _start, .op = MEMVIRT_OP_##_op,	\
	  .out = _out, .to = MEMVIRT_P2M_##_to, .to_frame = _frame,		\
	  .allocs = _allocs, .unmaps = _unmaps, .freed = _freed, .pinned = _pinned, \
	  .resident = RESIDENT_FROM_ALLOCS }

/*
 * Shared gfns: a frame is neither resident nor freed with one sharer, so
 * their cases say how resident and shared change.
 */
#define CS(_start, _op, _out, _to, _allocs, _unmaps, _resident, _shared)	\
	{ .name = #_start " " #_op, .start = _start, .op = MEMVIRT_OP_##_op,	\
	  .out = _out, .to = MEMVIRT_P2M_##_to, .allocs = _allocs,		\
	  .unmaps = _unmaps, .resident = _resident, .shared = _shared }

/*
 * Every other field named, the rest 0: the resident count changes by
 * .resident alone (a swap-in allocates a page that may not stay).
 */
#define CX(_start, _op, _out, _to, ...)						\
	{ .name = #_start " " #_op, .start = _start, .op = MEMVIRT_OP_##_op,	\
	  .out = _out, .to = MEMVIRT_P2M_##_to, __VA_ARGS__ }

/*
 * Shorthands, spelled out: an argument passed on to CX() would be expanded
 * first, and READ and WRITE are macros.
 */
/* The swap-in of ST_COMPRESSED: the page and its bytes back, the entry freed. */
#define LOADED(_op)								\
	{ .name = "ST_COMPRESSED " #_op, .start = ST_COMPRESSED,		\
	  .op = MEMVIRT_OP_##_op, .out = O_NEW, .to = MEMVIRT_P2M_PRIVATE,	\
	  .allocs = 1, .resident = 1, .compressed = -1, .data = true }
/* The failed swap-in of ST_SWAPPED: ERROR, the slot freed, the page too. */
#define LOST(_op)								\
	{ .name = "ST_SWAPPED " #_op, .start = ST_SWAPPED,			\
	  .op = MEMVIRT_OP_##_op, .out = O_EIO, .to = MEMVIRT_P2M_ERROR,	\
	  .allocs = 1, .swapped = -1, .slots = -1, .errors = 1 }
/* A use of ST_PRIVATE_WB: the page serves, the swap-out is cancelled. */
#define USED_WB(_op, _out)							\
	{ .name = "ST_PRIVATE_WB " #_op, .start = ST_PRIVATE_WB,		\
	  .op = MEMVIRT_OP_##_op, .out = _out, .to = MEMVIRT_P2M_PRIVATE,	\
	  .cancelled = 1, .data = true }
/*
 * A punch while a balloon target is pending: whatever backed the gfn is
 * freed and it becomes BALLOONED, by the table's action @_act (checked).
 */
#define BALLOONS(_start, _act, ...)						\
	{ .name = #_start " BALLOON", .start = _start, .op = MEMVIRT_OP_BALLOON, \
	  .out = O_OK, .to = MEMVIRT_P2M_BALLOONED, .act = MEMVIRT_ACT_##_act,	\
	  __VA_ARGS__ }

/* Every operation on every state; the zero-frame, data and pinned variants too. */
static const struct store_case store_cases[] = {
	C(ST_ABSENT, FAULT_READ, O_ZERO_FRAME, ZERO, true, 0, 0, 0, 0),
	C(ST_ABSENT, FAULT_WRITE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_ABSENT, MKWRITE, O_EAGAIN, ABSENT, false, 0, 0, 0, 0),
	C(ST_ABSENT, READ, O_NULL, ABSENT, false, 0, 0, 0, 0),
	C(ST_ABSENT, WRITE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_ABSENT, POPULATE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_ABSENT, PUNCH, O_OK, ZERO, false, 0, 0, 0, 0),
	C(ST_ABSENT, TRUNCATE, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ABSENT, TEARDOWN, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ABSENT, RECLAIM_ZERO, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ABSENT, SHARE, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ABSENT, COMPRESS, O_OK, ABSENT, false, 0, 0, 0, 0),
	CX(ST_ABSENT, SWAP, O_EOPNOTSUPP, ABSENT, .act = MEMVIRT_ACT_KEEP),
	C(ST_ABSENT, QUERY, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ABSENT, DUMP, O_OK, ABSENT, false, 0, 0, 0, 0),
	BALLOONS(ST_ABSENT, MARK),

	C(ST_ZERO, FAULT_READ, O_ZERO_FRAME, ZERO, true, 0, 0, 0, 0),
	C(ST_ZERO, FAULT_WRITE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_ZERO, MKWRITE, O_EAGAIN, ZERO, false, 0, 0, 0, 0),
	C(ST_ZERO, READ, O_NULL, ZERO, false, 0, 0, 0, 0),
	C(ST_ZERO, WRITE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_ZERO, POPULATE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_ZERO, PUNCH, O_OK, ZERO, false, 0, 0, 0, 0),
	C(ST_ZERO, TRUNCATE, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ZERO, TEARDOWN, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ZERO, RECLAIM_ZERO, O_OK, ZERO, false, 0, 0, 0, 0),
	C(ST_ZERO, SHARE, O_OK, ZERO, false, 0, 0, 0, 0),
	C(ST_ZERO, COMPRESS, O_OK, ZERO, false, 0, 0, 0, 0),
	CX(ST_ZERO, SWAP, O_EOPNOTSUPP, ZERO, .act = MEMVIRT_ACT_KEEP),
	C(ST_ZERO, QUERY, O_OK, ZERO, false, 0, 0, 0, 0),
	C(ST_ZERO, DUMP, O_OK, ZERO, false, 0, 0, 0, 0),
	BALLOONS(ST_ZERO, MARK),

	/* A zero frame is mapped: anything giving the gfn a page zaps it. */
	C(ST_ZERO_FRAMED, FAULT_READ, O_ZERO_FRAME, ZERO, true, 0, 0, 0, 0),
	C(ST_ZERO_FRAMED, FAULT_WRITE, O_NEW, PRIVATE, false, 1, 1, 0, 0),
	C(ST_ZERO_FRAMED, MKWRITE, O_EAGAIN, PRIVATE, false, 1, 1, 0, 0),
	C(ST_ZERO_FRAMED, READ, O_NULL, ZERO, true, 0, 0, 0, 0),
	C(ST_ZERO_FRAMED, WRITE, O_NEW, PRIVATE, false, 1, 1, 0, 0),
	C(ST_ZERO_FRAMED, POPULATE, O_NEW, PRIVATE, false, 1, 1, 0, 0),
	C(ST_ZERO_FRAMED, PUNCH, O_OK, ZERO, true, 0, 0, 0, 0),
	C(ST_ZERO_FRAMED, TRUNCATE, O_OK, ABSENT, false, 0, 1, 0, 0),
	C(ST_ZERO_FRAMED, TEARDOWN, O_OK, ABSENT, false, 0, 1, 0, 0),
	C(ST_ZERO_FRAMED, RECLAIM_ZERO, O_OK, ZERO, true, 0, 0, 0, 0),
	C(ST_ZERO_FRAMED, SHARE, O_OK, ZERO, true, 0, 0, 0, 0),
	C(ST_ZERO_FRAMED, COMPRESS, O_OK, ZERO, true, 0, 0, 0, 0),
	CX(ST_ZERO_FRAMED, SWAP, O_EOPNOTSUPP, ZERO, .to_frame = true,
	   .act = MEMVIRT_ACT_KEEP),
	C(ST_ZERO_FRAMED, QUERY, O_OK, ZERO, true, 0, 0, 0, 0),
	C(ST_ZERO_FRAMED, DUMP, O_OK, ZERO, true, 0, 0, 0, 0),
	/* Marking a gfn whose zero frame may be mapped zaps it, as truncate does. */
	BALLOONS(ST_ZERO_FRAMED, MARK, .unmaps = 1),

	C(ST_PRIVATE, FAULT_READ, O_SAME, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE, FAULT_WRITE, O_SAME, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE, MKWRITE, O_OK, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE, READ, O_SAME, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE, WRITE, O_SAME, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE, POPULATE, O_SAME, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE, PUNCH, O_OK, ZERO, false, 0, 1, 1, 0),
	C(ST_PRIVATE, TRUNCATE, O_OK, ABSENT, false, 0, 1, 1, 0),
	C(ST_PRIVATE, TEARDOWN, O_OK, ABSENT, false, 0, 1, 1, 0),
	C(ST_PRIVATE, RECLAIM_ZERO, O_OK, ZERO, false, 0, 1, 1, 0),
	/* Through memvirt_store_range() sharing takes nothing (dedup/ does). */
	C(ST_PRIVATE, SHARE, O_OK, PRIVATE, false, 0, 0, 0, 0),
	/* Compressing zeroes frees the page: nothing is stored. */
	C(ST_PRIVATE, COMPRESS, O_OK, ZERO, false, 0, 1, 1, 0),
	/* A candidate, but the VM has no swap file. */
	CX(ST_PRIVATE, SWAP, O_EOPNOTSUPP, PRIVATE, .act = MEMVIRT_ACT_TAKE),
	C(ST_PRIVATE, QUERY, O_OK, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE, DUMP, O_OK, PRIVATE, false, 0, 0, 0, 0),
	BALLOONS(ST_PRIVATE, DROP, .unmaps = 1, .freed = 1, .resident = -1),
	/* Data is never reclaimed as zero; it is not even unmapped. */
	C(ST_PRIVATE_DATA, RECLAIM_ZERO, O_OK, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE_DATA, PUNCH, O_OK, ZERO, false, 0, 1, 1, 0),
	BALLOONS(ST_PRIVATE_DATA, DROP, .unmaps = 1, .freed = 1, .resident = -1),
	CX(ST_PRIVATE_DATA, FAULT_READ, O_SAME, PRIVATE, .data = true),
	/* Data that compresses goes to the cache and its page is freed. */
	CX(ST_PRIVATE_DATA, COMPRESS, O_OK, COMPRESSED, .unmaps = 1, .freed = 1, .resident = -1,
	   .compressed = 1),
	/* Data that does not stays, with no swap file to go to. */
	CX(ST_PRIVATE_RANDOM, COMPRESS, O_OK, PRIVATE, .unmaps = 1, .rejects = 1, .data = true),
	/* Pinned: reclaim skips and counts it; punch frees it regardless. */
	C(ST_PRIVATE_PINNED, RECLAIM_ZERO, O_OK, PRIVATE, false, 0, 1, 0, 1),
	C(ST_PRIVATE_PINNED, PUNCH, O_OK, ZERO, false, 0, 1, 1, 0),
	BALLOONS(ST_PRIVATE_PINNED, DROP, .unmaps = 1, .freed = 1, .resident = -1),
	C(ST_PRIVATE_PINNED, COMPRESS, O_OK, PRIVATE, false, 0, 1, 0, 1),
	/* Being written to swap: any use cancels that; swap-out passes skip it. */
	USED_WB(FAULT_READ, O_SAME),
	USED_WB(FAULT_WRITE, O_SAME),
	USED_WB(MKWRITE, O_OK),
	USED_WB(READ, O_SAME),
	USED_WB(WRITE, O_SAME),
	USED_WB(POPULATE, O_SAME),
	CX(ST_PRIVATE_WB, PUNCH, O_OK, ZERO, .unmaps = 1, .freed = 1, .resident = -1),
	BALLOONS(ST_PRIVATE_WB, DROP, .unmaps = 1, .freed = 1, .resident = -1),
	CX(ST_PRIVATE_WB, TEARDOWN, O_OK, ABSENT, .unmaps = 1, .freed = 1, .resident = -1),
	CX(ST_PRIVATE_WB, RECLAIM_ZERO, O_OK, PRIVATE, .wb = true, .data = true),
	CX(ST_PRIVATE_WB, COMPRESS, O_OK, PRIVATE, .wb = true, .data = true),
	CX(ST_PRIVATE_WB, QUERY, O_OK, PRIVATE, .wb = true, .data = true),

	C(ST_BALLOONED, FAULT_READ, O_ZERO_FRAME, BALLOONED, true, 0, 0, 0, 0),
	C(ST_BALLOONED, FAULT_WRITE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_BALLOONED, MKWRITE, O_EAGAIN, BALLOONED, false, 0, 0, 0, 0),
	C(ST_BALLOONED, READ, O_NULL, BALLOONED, false, 0, 0, 0, 0),
	C(ST_BALLOONED, WRITE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_BALLOONED, POPULATE, O_NEW, PRIVATE, false, 1, 0, 0, 0),
	C(ST_BALLOONED, PUNCH, O_OK, BALLOONED, false, 0, 0, 0, 0),
	C(ST_BALLOONED, TRUNCATE, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_BALLOONED, TEARDOWN, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_BALLOONED, RECLAIM_ZERO, O_OK, BALLOONED, false, 0, 0, 0, 0),
	C(ST_BALLOONED, SHARE, O_OK, BALLOONED, false, 0, 0, 0, 0),
	C(ST_BALLOONED, COMPRESS, O_OK, BALLOONED, false, 0, 0, 0, 0),
	CX(ST_BALLOONED, SWAP, O_EOPNOTSUPP, BALLOONED, .act = MEMVIRT_ACT_KEEP),
	C(ST_BALLOONED, QUERY, O_OK, BALLOONED, false, 0, 0, 0, 0),
	C(ST_BALLOONED, DUMP, O_OK, BALLOONED, false, 0, 0, 0, 0),
	BALLOONS(ST_BALLOONED, KEEP),
	C(ST_BALLOONED_FRAMED, MKWRITE, O_EAGAIN, PRIVATE, false, 1, 1, 0, 0),
	C(ST_BALLOONED_FRAMED, TRUNCATE, O_OK, ABSENT, false, 0, 1, 0, 0),
	BALLOONS(ST_BALLOONED_FRAMED, KEEP, .to_frame = true),

	/* Writes break copy-on-write; punch, truncate, teardown leave the frame. */
	CS(ST_SHARED, FAULT_READ, O_SAME, SHARED, 0, 0, 0, 0),
	CS(ST_SHARED, FAULT_WRITE, O_NEW, PRIVATE, 1, 1, 1, -1),
	CS(ST_SHARED, MKWRITE, O_EAGAIN, PRIVATE, 1, 1, 1, -1),
	CS(ST_SHARED, READ, O_SAME, SHARED, 0, 0, 0, 0),
	CS(ST_SHARED, WRITE, O_NEW, PRIVATE, 1, 1, 1, -1),
	CS(ST_SHARED, POPULATE, O_SAME, SHARED, 0, 0, 0, 0),
	CS(ST_SHARED, PUNCH, O_OK, ZERO, 0, 1, 0, -1),
	CS(ST_SHARED, TRUNCATE, O_OK, ABSENT, 0, 1, 0, -1),
	CS(ST_SHARED, TEARDOWN, O_OK, ABSENT, 0, 1, 0, -1),
	CS(ST_SHARED, RECLAIM_ZERO, O_OK, SHARED, 0, 0, 0, 0),
	CS(ST_SHARED, SHARE, O_OK, SHARED, 0, 0, 0, 0),
	/* Not a swap candidate: it costs one page for all its sharers. */
	CX(ST_SHARED, COMPRESS, O_OK, SHARED, .data = true),
	CX(ST_SHARED, SWAP, O_EOPNOTSUPP, SHARED, .act = MEMVIRT_ACT_KEEP),
	CS(ST_SHARED, QUERY, O_OK, SHARED, 0, 0, 0, 0),
	CS(ST_SHARED, DUMP, O_OK, SHARED, 0, 0, 0, 0),
	/* The gfn leaves its frame; the other sharer keeps it. */
	BALLOONS(ST_SHARED, DROP, .unmaps = 1, .shared = -1),
	/* The last sharer keeps the frame: no copy, no zap. */
	CS(ST_SHARED_LAST, FAULT_WRITE, O_SAME, PRIVATE, 0, 0, 1, -1),
	CS(ST_SHARED_LAST, MKWRITE, O_OK, PRIVATE, 0, 0, 1, -1),
	CS(ST_SHARED_LAST, WRITE, O_SAME, PRIVATE, 0, 0, 1, -1),
	CS(ST_SHARED_LAST, PUNCH, O_OK, ZERO, 0, 1, 0, -1),
	BALLOONS(ST_SHARED_LAST, DROP, .unmaps = 1, .shared = -1),
	/* Not mapped since the merge: nothing to zap. */
	CS(ST_SHARED_UNMAPPED, FAULT_WRITE, O_NEW, PRIVATE, 1, 0, 1, -1),
	CS(ST_SHARED_UNMAPPED, WRITE, O_NEW, PRIVATE, 1, 0, 1, -1),
	CS(ST_SHARED_UNMAPPED, PUNCH, O_OK, ZERO, 0, 0, 0, -1),
	BALLOONS(ST_SHARED_UNMAPPED, DROP, .shared = -1),
	CS(ST_SHARED_UNMAPPED, TEARDOWN, O_OK, ABSENT, 0, 0, 0, -1),

	/* Accesses decompress the page into a new one; punch and co. free the entry. */
	LOADED(FAULT_READ),
	LOADED(FAULT_WRITE),
	/* The pte was made before the swap-out: the retried fault loads. */
	CX(ST_COMPRESSED, MKWRITE, O_EAGAIN, COMPRESSED),
	LOADED(READ),
	LOADED(WRITE),
	LOADED(POPULATE),
	CX(ST_COMPRESSED, PUNCH, O_OK, ZERO, .compressed = -1),
	CX(ST_COMPRESSED, TRUNCATE, O_OK, ABSENT, .compressed = -1),
	CX(ST_COMPRESSED, TEARDOWN, O_OK, ABSENT, .compressed = -1),
	CX(ST_COMPRESSED, RECLAIM_ZERO, O_OK, COMPRESSED),
	CX(ST_COMPRESSED, SHARE, O_OK, COMPRESSED),
	CX(ST_COMPRESSED, COMPRESS, O_OK, COMPRESSED),
	/* With a swap file, its entry would move there. */
	CX(ST_COMPRESSED, SWAP, O_EOPNOTSUPP, COMPRESSED, .act = MEMVIRT_ACT_TAKE),
	CX(ST_COMPRESSED, QUERY, O_OK, COMPRESSED),
	CX(ST_COMPRESSED, DUMP, O_OK, COMPRESSED),
	/* The cache entry is freed. */
	BALLOONS(ST_COMPRESSED, DROP, .compressed = -1),

	/* Reading the slot fails (no file): the data is lost, loudly. */
	LOST(FAULT_READ),
	LOST(FAULT_WRITE),
	CX(ST_SWAPPED, MKWRITE, O_EAGAIN, SWAPPED),
	LOST(READ),
	LOST(WRITE),
	LOST(POPULATE),
	CX(ST_SWAPPED, PUNCH, O_OK, ZERO, .swapped = -1, .slots = -1),
	CX(ST_SWAPPED, TRUNCATE, O_OK, ABSENT, .swapped = -1, .slots = -1),
	CX(ST_SWAPPED, TEARDOWN, O_OK, ABSENT, .swapped = -1, .slots = -1),
	CX(ST_SWAPPED, RECLAIM_ZERO, O_OK, SWAPPED),
	CX(ST_SWAPPED, SHARE, O_OK, SWAPPED),
	CX(ST_SWAPPED, COMPRESS, O_OK, SWAPPED),
	CX(ST_SWAPPED, SWAP, O_EOPNOTSUPP, SWAPPED, .act = MEMVIRT_ACT_KEEP),
	CX(ST_SWAPPED, QUERY, O_OK, SWAPPED),
	CX(ST_SWAPPED, DUMP, O_OK, SWAPPED),
	/* The slot is freed, unread. */
	BALLOONS(ST_SWAPPED, DROP, .swapped = -1, .slots = -1),

	/* Never zeroes in place of lost data; punching makes it usable again. */
	C(ST_ERROR, FAULT_READ, O_EIO, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, FAULT_WRITE, O_EIO, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, MKWRITE, O_EIO, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, READ, O_EIO, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, WRITE, O_EIO, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, POPULATE, O_EIO, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, PUNCH, O_OK, ZERO, false, 0, 0, 0, 0),
	C(ST_ERROR, TRUNCATE, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ERROR, TEARDOWN, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ERROR, RECLAIM_ZERO, O_OK, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, SHARE, O_OK, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, COMPRESS, O_OK, ERROR, false, 0, 0, 0, 0),
	CX(ST_ERROR, SWAP, O_EOPNOTSUPP, ERROR, .act = MEMVIRT_ACT_KEEP),
	C(ST_ERROR, QUERY, O_OK, ERROR, false, 0, 0, 0, 0),
	C(ST_ERROR, DUMP, O_OK, ERROR, false, 0, 0, 0, 0),
	/* The lost data goes with the balloon, as with a punch. */
	BALLOONS(ST_ERROR, MARK),
};

#undef C
#undef CS
#undef CX
#undef LOADED
#undef LOST
#undef USED_WB
#undef BALLOONS

static void store_case_desc(const struct store_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(store_cases, store_cases, store_case_desc);

static struct fake_vm *fake_vm_create(struct kunit *test)
{
	struct fake_vm *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->bytes = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->bytes);
	f->vm.name = "kunit";
	f->vm.store_ops = &fake_ops;
	memvirt_swap_vm_init(&f->vm);
	KUNIT_ASSERT_EQ(test, memvirt_p2m_init(&f->vm.p2m), 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(memvirt_p2m_find_or_alloc(&f->vm.p2m, GFN, GFP_KERNEL)));
	return f;
}

/*
 * Tears the VM down as the store does, which frees whatever the case left,
 * cache entries and slots included; then nothing may be left.
 */
static void fake_vm_destroy(struct kunit *test, struct fake_vm *f)
{
	struct memvirt_vm_swap *sw = &f->vm.swap;
	struct memvirt_range_result res = {};
	struct page *page;

	KUNIT_EXPECT_EQ(test, memvirt_store_range(&f->vm, 0, MEMVIRT_P2M_MAX_GFN + 1,
						  MEMVIRT_OP_TEARDOWN, &res), 0);
	if (f->other) {		/* the other sharer leaves too */
		page = f->other->page;
		memvirt_dedup_frame_put(f->other);
		put_page(page);
	}
	memvirt_p2m_destroy(&f->vm.p2m);
	KUNIT_EXPECT_TRUE(test, xa_empty(&sw->entries));
	KUNIT_EXPECT_EQ(test, sw->used, 0ULL);
	if (sw->slots)
		KUNIT_EXPECT_TRUE(test, bitmap_empty(sw->slots, sw->bitmap_bits));
	memvirt_swap_vm_free(&f->vm);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.resident), 0L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.shared), 0L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.compressed), 0L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.compressed_bytes), 0L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.swapped), 0L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.ballooned), 0L);
}

/* The VM's counters a case checks, and the host-wide cancellation count. */
struct fake_counts {
	long resident, pinned_skips, shared, compressed, swapped, errors, rejects;
	long ballooned, deflated, cancelled;
	u64 slots;
};

static void fake_read_counts(struct fake_vm *f, struct fake_counts *n)
{
	n->resident = atomic_long_read(&f->vm.stats.resident);
	n->pinned_skips = atomic_long_read(&f->vm.stats.pinned_skips);
	n->shared = atomic_long_read(&f->vm.stats.shared);
	n->compressed = atomic_long_read(&f->vm.stats.compressed);
	n->swapped = atomic_long_read(&f->vm.stats.swapped);
	n->errors = atomic_long_read(&f->vm.stats.swap_errors);
	n->rejects = atomic_long_read(&f->vm.stats.compress_rejects);
	n->ballooned = atomic_long_read(&f->vm.stats.ballooned);
	n->deflated = atomic_long_read(&f->vm.stats.deflated);
	n->slots = f->vm.swap.used;
	n->cancelled = atomic_long_read(&memvirt_swap_stats.writeback_cancelled);
}

static void memvirt_store_op_on_state(struct kunit *test)
{
	const struct store_case *c = test->param_value;
	struct memvirt_range_result res = {};
	struct fake_counts was, now;
	enum memvirt_p2m_state from;
	struct fake_vm *f;
	struct page *before;
	enum outcome out;
	u64 pte;

	f = fake_vm_create(test);
	fake_set_start(test, f, c->start, &before);
	from = memvirt_pte_state(memvirt_p2m_read(fake_ptep(f)));
	fake_read_counts(f, &was);

	out = fake_do(f, c->op, before, &res);

	fake_read_counts(f, &now);
	pte = memvirt_p2m_read(fake_ptep(f));
	KUNIT_EXPECT_EQ_MSG(test, out, c->out, "%s", c->name);
	KUNIT_EXPECT_STREQ(test, memvirt_p2m_state_name(memvirt_pte_state(pte)),
			   memvirt_p2m_state_name(c->to));
	KUNIT_EXPECT_EQ(test, memvirt_pte_maps_zero_frame(pte), c->to_frame);
	KUNIT_EXPECT_EQ(test, memvirt_pte_in_writeback(pte), c->wb);
	if (c->data)
		KUNIT_EXPECT_TRUE_MSG(test, fake_page_has_bytes(f, pte),
				      "the gfn's page lost its bytes (pte %#llx)", pte);
	if (c->act)
		KUNIT_EXPECT_STREQ(test, memvirt_store_act_name(memvirt_store_action(from, c->op)),
				   memvirt_store_act_name(c->act));
	KUNIT_EXPECT_EQ(test, f->allocs, c->allocs);
	KUNIT_EXPECT_EQ(test, f->unmaps, c->unmaps);
	if (c->unmaps)
		KUNIT_EXPECT_EQ(test, f->unmapped_gfn, GFN);
	KUNIT_EXPECT_EQ(test, res.done, (u64)c->freed);
	KUNIT_EXPECT_EQ(test, res.pinned, (u64)c->pinned);
	KUNIT_EXPECT_EQ(test, now.pinned_skips - was.pinned_skips, (long)c->pinned);
	KUNIT_EXPECT_EQ(test, now.resident - was.resident,
			(long)(c->resident == RESIDENT_FROM_ALLOCS ? c->allocs - c->freed :
			       c->resident));
	KUNIT_EXPECT_EQ(test, now.shared - was.shared, (long)c->shared);
	KUNIT_EXPECT_EQ(test, now.compressed - was.compressed, (long)c->compressed);
	KUNIT_EXPECT_EQ(test, now.swapped - was.swapped, (long)c->swapped);
	KUNIT_EXPECT_EQ(test, (long)(now.slots - was.slots), (long)c->slots);
	KUNIT_EXPECT_EQ(test, now.errors - was.errors, (long)c->errors);
	KUNIT_EXPECT_EQ(test, now.rejects - was.rejects, (long)c->rejects);
	KUNIT_EXPECT_EQ(test, now.cancelled - was.cancelled, (long)c->cancelled);
	KUNIT_EXPECT_EQ_MSG(test, now.ballooned - was.ballooned,
			    (long)(c->to == MEMVIRT_P2M_BALLOONED) -
			    (long)(from == MEMVIRT_P2M_BALLOONED), "ballooned: %s", c->name);
	/* A BALLOONED gfn given a page again is a deflate. */
	KUNIT_EXPECT_EQ_MSG(test, now.deflated - was.deflated,
			    (long)(from == MEMVIRT_P2M_BALLOONED && c->to == MEMVIRT_P2M_PRIVATE),
			    "deflated: %s", c->name);
	/* A slot freed is the gfn's own. */
	if (c->slots)
		KUNIT_EXPECT_FALSE(test, test_bit(SLOT, f->vm.swap.slots));
	if (c->start == ST_PRIVATE_PINNED)
		put_page(before);	/* the pin */
	fake_vm_destroy(test, f);
}

/*
 * A failed swap-in that read ahead: the read of the gfn and its neighbour
 * in the next slot fails, is retried for the gfn alone and fails again.
 * Only the gfn is lost; the neighbour, and a gfn in a slot not next to
 * it, stay SWAPPED, unlocked, in their slots.
 */
static void memvirt_store_swapin_error_spares_neighbours(struct kunit *test)
{
	static const u64 slot[] = { 10, 11, 20 };	/* of GFN, GFN + 1, GFN + 2 */
	struct memvirt_range_result res = {};
	struct memvirt_vm_swap *sw;
	struct fake_vm *f;
	unsigned int i;
	bool ok = true;
	u64 *ptep;

	f = fake_vm_create(test);
	sw = &f->vm.swap;
	fake_give_slots(test, f);
	for (i = 0; i < ARRAY_SIZE(slot); i++) {
		ptep = fake_ptep_of(f, GFN + i);
		memvirt_p2m_lock_gfn(&f->vm.p2m, ptep);
		ok &= fake_set_swapped(f, ptep, slot[i]);
		memvirt_p2m_unlock_gfn(&f->vm.p2m, ptep);
	}
	KUNIT_ASSERT_TRUE(test, ok);
	KUNIT_ASSERT_EQ(test, sw->used, 3ULL);

	KUNIT_EXPECT_EQ(test, fake_do(f, MEMVIRT_OP_FAULT_READ, NULL, &res), O_EIO);

	/* The gfn's page and its neighbour's, both freed. */
	KUNIT_EXPECT_EQ(test, f->allocs, 2);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.resident), 0L);
	KUNIT_EXPECT_EQ(test, memvirt_p2m_read(fake_ptep_of(f, GFN)),
			memvirt_pte_mk_nopage(MEMVIRT_P2M_ERROR));
	for (i = 1; i < ARRAY_SIZE(slot); i++) {
		ptep = fake_ptep_of(f, GFN + i);
		KUNIT_EXPECT_FALSE_MSG(test, memvirt_p2m_gfn_is_locked(ptep), "gfn + %u", i);
		KUNIT_EXPECT_EQ_MSG(test, memvirt_p2m_read(ptep),
				    memvirt_pte_mk_stored(MEMVIRT_P2M_SWAPPED, slot[i]),
				    "gfn + %u", i);
		KUNIT_EXPECT_TRUE_MSG(test, test_bit(slot[i], sw->slots), "slot %llu", slot[i]);
	}
	KUNIT_EXPECT_FALSE(test, test_bit(slot[0], sw->slots));
	KUNIT_EXPECT_EQ(test, sw->used, 2ULL);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.swapped), 2L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.swap_errors), 1L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.swap_ins), 0L);
	fake_vm_destroy(test, f);
}

/* Every (state, operation) pair of the table is one of the cases above. */
static void memvirt_store_table_is_covered(struct kunit *test)
{
	static const enum start start_of_state[] = {
		[MEMVIRT_P2M_ABSENT] = ST_ABSENT,
		[MEMVIRT_P2M_PRIVATE] = ST_PRIVATE,
		[MEMVIRT_P2M_ZERO] = ST_ZERO,
		[MEMVIRT_P2M_SHARED] = ST_SHARED,
		[MEMVIRT_P2M_BALLOONED] = ST_BALLOONED,
		[MEMVIRT_P2M_COMPRESSED] = ST_COMPRESSED,
		[MEMVIRT_P2M_SWAPPED] = ST_SWAPPED,
		[MEMVIRT_P2M_ERROR] = ST_ERROR,
	};
	unsigned int state, op, i;
	bool found;

	/* A new state needs its start, and its cases. */
	static_assert(ARRAY_SIZE(start_of_state) == MEMVIRT_P2M_ERROR + 1);
	for (state = 0; state < ARRAY_SIZE(start_of_state); state++) {
		for (op = 0; op < MEMVIRT_NR_OPS; op++) {
			found = false;
			for (i = 0; i < ARRAY_SIZE(store_cases); i++)
				found |= store_cases[i].start == start_of_state[state] &&
					 store_cases[i].op == op;
			KUNIT_EXPECT_TRUE_MSG(test, found, "no case for %s on %s",
					      memvirt_store_op_name(op),
					      memvirt_p2m_state_name(state));
		}
	}
}

static bool state_is_stored(unsigned int state)
{
	return state == MEMVIRT_P2M_COMPRESSED || state == MEMVIRT_P2M_SWAPPED;
}

static bool op_is_access(unsigned int op)
{
	return op <= MEMVIRT_OP_POPULATE;
}

static bool op_frees(unsigned int op)
{
	return op == MEMVIRT_OP_PUNCH || op == MEMVIRT_OP_TRUNCATE || op == MEMVIRT_OP_TEARDOWN ||
	       op == MEMVIRT_OP_BALLOON;
}

/*
 * Every cell is filled; only states that read as zero get zeroes or a zero
 * frame; only stored states load, and punch, truncate and teardown free
 * what they hold (anything else would leak a cache entry or a slot); only
 * ERROR refuses, and it refuses every access.
 */
static void memvirt_store_table_invariants(struct kunit *test)
{
	unsigned int state, op;
	enum memvirt_act act;
	u64 pte;

	for (state = 0; state <= MEMVIRT_P2M_ERROR; state++) {
		for (op = 0; op < MEMVIRT_NR_OPS; op++) {
			act = memvirt_store_action(state, op);
			KUNIT_EXPECT_NE_MSG(test, act, MEMVIRT_ACT_INVALID, "%s on %s left out",
					    memvirt_store_op_name(op),
					    memvirt_p2m_state_name(state));
			KUNIT_EXPECT_STRNEQ(test, memvirt_store_act_name(act), "invalid");
			pte = memvirt_pte_mk_nopage(state);
			if (act == MEMVIRT_ACT_ZEROES || act == MEMVIRT_ACT_ZERO_FRAME)
				KUNIT_EXPECT_TRUE(test, memvirt_pte_reads_zero(pte));
			if (op == MEMVIRT_OP_QUERY || op == MEMVIRT_OP_DUMP)
				KUNIT_EXPECT_EQ(test, act, MEMVIRT_ACT_REPORT);
			KUNIT_EXPECT_EQ_MSG(test, act == MEMVIRT_ACT_LOAD,
					    state_is_stored(state) && op_is_access(op),
					    "%s on %s", memvirt_store_op_name(op),
					    memvirt_p2m_state_name(state));
			KUNIT_EXPECT_EQ_MSG(test, act == MEMVIRT_ACT_REFUSE,
					    state == MEMVIRT_P2M_ERROR && op_is_access(op),
					    "%s on %s", memvirt_store_op_name(op),
					    memvirt_p2m_state_name(state));
			if (state_is_stored(state) && op_frees(op))
				KUNIT_EXPECT_EQ(test, act, MEMVIRT_ACT_DROP);
		}
	}
	for (op = 0; op < MEMVIRT_NR_OPS; op++)
		KUNIT_EXPECT_STRNEQ(test, memvirt_store_op_name(op), "invalid");
	KUNIT_EXPECT_STREQ(test, memvirt_store_op_name(MEMVIRT_OP_COMPRESS), "compress");
	KUNIT_EXPECT_STREQ(test, memvirt_store_op_name(MEMVIRT_OP_SWAP), "swap");
	KUNIT_EXPECT_STREQ(test, memvirt_store_op_name(MEMVIRT_OP_BALLOON), "balloon");
	KUNIT_EXPECT_STREQ(test, memvirt_store_act_name(MEMVIRT_ACT_LOAD), "load");
	KUNIT_EXPECT_STREQ(test, memvirt_store_act_name(MEMVIRT_ACT_REFUSE), "refuse");
}

static struct kunit_case memvirt_store_cases[] = {
	KUNIT_CASE_PARAM(memvirt_store_op_on_state, store_cases_gen_params),
	KUNIT_CASE(memvirt_store_swapin_error_spares_neighbours),
	KUNIT_CASE(memvirt_store_table_is_covered),
	KUNIT_CASE(memvirt_store_table_invariants),
	{}
};

static struct kunit_suite memvirt_store_suite = {
	.name = "memvirt_store",
	.test_cases = memvirt_store_cases,
};

kunit_test_suite(memvirt_store_suite);

MODULE_IMPORT_NS(MEMVIRT_KUNIT);
