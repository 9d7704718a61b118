// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: every (P2M state, operation) pair of the page store, carried out
 * on a VM whose outside world is fake (allocations counted, unmaps
 * recorded, no memvirtfs file), with the outcome checked: what the
 * operation returned, the state left behind, pages allocated, freed and
 * skipped, and unmaps issued.
 */
#include <kunit/test.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>

#include "dedup/dedup.h"
#include "module/memvirt.h"

/* How a case's gfn starts out. */
enum start {
	ST_ABSENT,
	ST_ZERO,
	ST_ZERO_FRAMED,	/* ZERO, a zero frame mapped (R) */
	ST_PRIVATE,	/* a private page holding zeroes */
	ST_PRIVATE_DATA,	/* a private page holding data */
	ST_PRIVATE_PINNED, /* a zeroed private page with an extra reference */
	ST_SHARED,	/* shares a frame with one other sharer */
	ST_SHARED_LAST,	/* the only sharer of its frame */
	ST_SHARED_UNMAPPED, /* ST_SHARED, never mapped since the merge (A clear) */
	ST_BALLOONED,
	ST_BALLOONED_FRAMED,
	ST_COMPRESSED,
	ST_SWAPPED,
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
};

struct store_case {
	const char *name;
	enum start start;
	enum memvirt_op op;
	enum outcome out;
	enum memvirt_p2m_state to;
	bool to_frame;	/* a zero frame may still be mapped (R) */
	int allocs;
	int unmaps;
	int freed;
	int pinned;
	int resident;	/* change of the resident count, or allocs - freed */
	int shared;	/* change of the shared count */
};

#define GFN	0x1234ULL
/* C() cases: the resident count changes by allocs - freed. */
#define RESIDENT_FROM_ALLOCS	INT_MIN

/* A VM whose store talks to counters instead of a mapping. */
struct fake_vm {
	struct memvirt_vm vm;
	int allocs;
	int unmaps;
	u64 unmapped_gfn;
	struct memvirt_frame *other;	/* ST_SHARED: the other sharer's frame */
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

static u64 *fake_ptep(struct fake_vm *f)
{
	return memvirt_p2m_find(&f->vm.p2m, GFN);
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

/* Put the gfn in @start through the store itself where it can. */
static void fake_set_start(struct kunit *test, struct fake_vm *f, enum start start,
			   struct page **page)
{
	enum memvirt_p2m_state fake_state = MEMVIRT_P2M_ABSENT;
	u64 *ptep = fake_ptep(f);
	void *addr;

	*page = NULL;
	memvirt_p2m_lock_gfn(&f->vm.p2m, ptep);
	switch (start) {
	case ST_ABSENT:
		break;
	case ST_ZERO:
		memvirt_p2m_set(ptep, memvirt_pte_mk_nopage(MEMVIRT_P2M_ZERO));
		break;
	case ST_BALLOONED:
	case ST_BALLOONED_FRAMED:
		memvirt_p2m_set(ptep, memvirt_pte_mk_nopage(MEMVIRT_P2M_BALLOONED));
		fallthrough;
	case ST_ZERO_FRAMED:
		if (start != ST_BALLOONED)
			*page = __memvirt_store_get(&f->vm, GFN, ptep, MEMVIRT_OP_FAULT_READ,
						    NULL);
		break;
	case ST_PRIVATE:
	case ST_PRIVATE_DATA:
	case ST_PRIVATE_PINNED:
		*page = __memvirt_store_get(&f->vm, GFN, ptep, MEMVIRT_OP_POPULATE, NULL);
		if (start == ST_PRIVATE_DATA) {
			addr = kmap_local_page(*page);
			memset(addr + 100, 0x5a, 1);
			kunmap_local(addr);
		}
		if (start == ST_PRIVATE_PINNED)
			get_page(*page);
		break;
	case ST_SHARED:
	case ST_SHARED_LAST:
	case ST_SHARED_UNMAPPED:
		fake_set_shared(test, f, ptep, start != ST_SHARED_LAST, start != ST_SHARED_UNMAPPED,
				page);
		break;
	case ST_COMPRESSED:
		fake_state = MEMVIRT_P2M_COMPRESSED;
		break;
	case ST_SWAPPED:
		fake_state = MEMVIRT_P2M_SWAPPED;
		break;
	}
	/* States whose mechanism is not built: an entry naming nothing real. */
	if (fake_state != MEMVIRT_P2M_ABSENT)
		memvirt_p2m_set(ptep, FIELD_PREP(MEMVIRT_PTE_STATE_MASK, fake_state));
	memvirt_p2m_unlock_gfn(&f->vm.p2m, ptep);
	KUNIT_ASSERT_FALSE(test, IS_ERR(*page));
	f->allocs = 0;
	f->unmaps = 0;
}

static enum outcome page_outcome(struct page *got, struct page *before)
{
	if (IS_ERR(got))
		return PTR_ERR(got) == -EAGAIN ? O_EAGAIN : O_EIO;
	if (!got)
		return O_NULL;
	if (memvirt_is_zero_frame(got))
		return O_ZERO_FRAME;
	return got == before ? O_SAME : O_NEW;
}

static enum outcome err_outcome(int err)
{
	return err == -EAGAIN ? O_EAGAIN : err ? O_EIO : O_OK;
}

/* Carry out @op on the gfn; returns the outcome and counts freed/pinned. */
static enum outcome fake_do(struct fake_vm *f, enum memvirt_op op, struct page *before,
			    struct memvirt_range_result *res)
{
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

/* Every operation on every state; the zero-frame and pinned variants too. */
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
	C(ST_ABSENT, QUERY, O_OK, ABSENT, false, 0, 0, 0, 0),
	C(ST_ABSENT, DUMP, O_OK, ABSENT, false, 0, 0, 0, 0),

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
	C(ST_ZERO, QUERY, O_OK, ZERO, false, 0, 0, 0, 0),
	C(ST_ZERO, DUMP, O_OK, ZERO, false, 0, 0, 0, 0),

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
	C(ST_ZERO_FRAMED, QUERY, O_OK, ZERO, true, 0, 0, 0, 0),
	C(ST_ZERO_FRAMED, DUMP, O_OK, ZERO, true, 0, 0, 0, 0),

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
	C(ST_PRIVATE, QUERY, O_OK, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE, DUMP, O_OK, PRIVATE, false, 0, 0, 0, 0),
	/* Data is never reclaimed as zero; it is not even unmapped. */
	C(ST_PRIVATE_DATA, RECLAIM_ZERO, O_OK, PRIVATE, false, 0, 0, 0, 0),
	C(ST_PRIVATE_DATA, PUNCH, O_OK, ZERO, false, 0, 1, 1, 0),
	/* Pinned: reclaim skips and counts it; punch frees it regardless. */
	C(ST_PRIVATE_PINNED, RECLAIM_ZERO, O_OK, PRIVATE, false, 0, 1, 0, 1),
	C(ST_PRIVATE_PINNED, PUNCH, O_OK, ZERO, false, 0, 1, 1, 0),

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
	C(ST_BALLOONED, QUERY, O_OK, BALLOONED, false, 0, 0, 0, 0),
	C(ST_BALLOONED, DUMP, O_OK, BALLOONED, false, 0, 0, 0, 0),
	C(ST_BALLOONED_FRAMED, MKWRITE, O_EAGAIN, PRIVATE, false, 1, 1, 0, 0),
	C(ST_BALLOONED_FRAMED, TRUNCATE, O_OK, ABSENT, false, 0, 1, 0, 0),

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
	CS(ST_SHARED, QUERY, O_OK, SHARED, 0, 0, 0, 0),
	CS(ST_SHARED, DUMP, O_OK, SHARED, 0, 0, 0, 0),
	/* The last sharer keeps the frame: no copy, no zap. */
	CS(ST_SHARED_LAST, FAULT_WRITE, O_SAME, PRIVATE, 0, 0, 1, -1),
	CS(ST_SHARED_LAST, MKWRITE, O_OK, PRIVATE, 0, 0, 1, -1),
	CS(ST_SHARED_LAST, WRITE, O_SAME, PRIVATE, 0, 0, 1, -1),
	CS(ST_SHARED_LAST, PUNCH, O_OK, ZERO, 0, 1, 0, -1),
	/* Not mapped since the merge: nothing to zap. */
	CS(ST_SHARED_UNMAPPED, FAULT_WRITE, O_NEW, PRIVATE, 1, 0, 1, -1),
	CS(ST_SHARED_UNMAPPED, WRITE, O_NEW, PRIVATE, 1, 0, 1, -1),
	CS(ST_SHARED_UNMAPPED, PUNCH, O_OK, ZERO, 0, 0, 0, -1),
	CS(ST_SHARED_UNMAPPED, TEARDOWN, O_OK, ABSENT, 0, 0, 0, -1),

	C(ST_COMPRESSED, FAULT_READ, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, FAULT_WRITE, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, MKWRITE, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, READ, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, WRITE, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, POPULATE, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, PUNCH, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, TRUNCATE, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, TEARDOWN, O_EIO, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, RECLAIM_ZERO, O_OK, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, SHARE, O_OK, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, QUERY, O_OK, COMPRESSED, false, 0, 0, 0, 0),
	C(ST_COMPRESSED, DUMP, O_OK, COMPRESSED, false, 0, 0, 0, 0),

	C(ST_SWAPPED, FAULT_READ, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, FAULT_WRITE, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, MKWRITE, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, READ, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, WRITE, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, POPULATE, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, PUNCH, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, TRUNCATE, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, TEARDOWN, O_EIO, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, RECLAIM_ZERO, O_OK, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, SHARE, O_OK, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, QUERY, O_OK, SWAPPED, false, 0, 0, 0, 0),
	C(ST_SWAPPED, DUMP, O_OK, SWAPPED, false, 0, 0, 0, 0),
};

#undef C
#undef CS

static void store_case_desc(const struct store_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(store_cases, store_cases, store_case_desc);

static struct fake_vm *fake_vm_create(struct kunit *test)
{
	struct fake_vm *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->vm.name = "kunit";
	f->vm.store_ops = &fake_ops;
	KUNIT_ASSERT_EQ(test, memvirt_p2m_init(&f->vm.p2m), 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(memvirt_p2m_find_or_alloc(&f->vm.p2m, GFN, GFP_KERNEL)));
	return f;
}

/* Frees what the case left; fake states are cleared first (they name nothing). */
static void fake_vm_destroy(struct fake_vm *f)
{
	struct memvirt_range_result res = {};
	struct page *page;
	u64 *ptep = fake_ptep(f);
	u64 pte = memvirt_p2m_read(ptep);

	if (!memvirt_pte_has_page(pte) && !memvirt_pte_reads_zero(pte)) {
		memvirt_p2m_lock_gfn(&f->vm.p2m, ptep);
		memvirt_p2m_set(ptep, 0);
		memvirt_p2m_unlock_gfn(&f->vm.p2m, ptep);
	}
	memvirt_store_range(&f->vm, GFN, GFN + 1, MEMVIRT_OP_TEARDOWN, &res);
	if (f->other) {		/* the other sharer leaves too */
		page = f->other->page;
		memvirt_dedup_frame_put(f->other);
		put_page(page);
	}
	memvirt_p2m_destroy(&f->vm.p2m);
}

static void memvirt_store_op_on_state(struct kunit *test)
{
	const struct store_case *c = test->param_value;
	struct memvirt_range_result res = {};
	long resident, pinned_skips, shared;
	struct fake_vm *f;
	struct page *before;
	enum outcome out;
	u64 pte;

	f = fake_vm_create(test);
	fake_set_start(test, f, c->start, &before);
	resident = atomic_long_read(&f->vm.stats.resident);
	pinned_skips = atomic_long_read(&f->vm.stats.pinned_skips);
	shared = atomic_long_read(&f->vm.stats.shared);

	out = fake_do(f, c->op, before, &res);

	pte = memvirt_p2m_read(fake_ptep(f));
	KUNIT_EXPECT_EQ_MSG(test, out, c->out, "%s", c->name);
	KUNIT_EXPECT_STREQ(test, memvirt_p2m_state_name(memvirt_pte_state(pte)),
			   memvirt_p2m_state_name(c->to));
	KUNIT_EXPECT_EQ(test, memvirt_pte_maps_zero_frame(pte), c->to_frame);
	KUNIT_EXPECT_EQ(test, f->allocs, c->allocs);
	KUNIT_EXPECT_EQ(test, f->unmaps, c->unmaps);
	if (c->unmaps)
		KUNIT_EXPECT_EQ(test, f->unmapped_gfn, GFN);
	KUNIT_EXPECT_EQ(test, res.done, (u64)c->freed);
	KUNIT_EXPECT_EQ(test, res.pinned, (u64)c->pinned);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.pinned_skips) - pinned_skips,
			(long)c->pinned);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.resident) - resident,
			(long)(c->resident == RESIDENT_FROM_ALLOCS ? c->allocs - c->freed :
			       c->resident));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.shared) - shared, (long)c->shared);
	if (c->start == ST_PRIVATE_PINNED)
		put_page(before);	/* the pin */
	fake_vm_destroy(f);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.resident), 0L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->vm.stats.shared), 0L);
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
	};
	unsigned int state, op, i;
	bool found;

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

/* Every cell is filled; only states that read as zero get zeroes or a zero frame. */
static void memvirt_store_table_invariants(struct kunit *test)
{
	unsigned int state, op;
	enum memvirt_act act;
	u64 pte;

	for (state = 0; state <= MEMVIRT_P2M_SWAPPED; state++) {
		for (op = 0; op < MEMVIRT_NR_OPS; op++) {
			act = memvirt_store_action(state, op);
			KUNIT_EXPECT_NE_MSG(test, act, MEMVIRT_ACT_INVALID, "%s on %s left out",
					    memvirt_store_op_name(op),
					    memvirt_p2m_state_name(state));
			pte = memvirt_pte_mk_nopage(state);
			if (act == MEMVIRT_ACT_ZEROES || act == MEMVIRT_ACT_ZERO_FRAME)
				KUNIT_EXPECT_TRUE(test, memvirt_pte_reads_zero(pte));
			if (op == MEMVIRT_OP_QUERY || op == MEMVIRT_OP_DUMP)
				KUNIT_EXPECT_EQ(test, act, MEMVIRT_ACT_REPORT);
		}
	}
}

static struct kunit_case memvirt_store_cases[] = {
	KUNIT_CASE_PARAM(memvirt_store_op_on_state, store_cases_gen_params),
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
