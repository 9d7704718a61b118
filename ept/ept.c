// SPDX-License-Identifier: GPL-2.0
/*
 * ept/: the P2M, memvirt's guest-physical to host map.
 */
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/build_bug.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/wait_bit.h>
#include <asm/mtrr.h>
#include <asm/vmx.h>

#include "ept/ept.h"
#include "module/kunit_export.h"

/**
 * DOC: the P2M
 *
 * The P2M maps each guest frame number (gfn) of one VM to what backs it: a
 * private host page, a shared frame, nothing (absent, zero, ballooned), or a
 * compressed or swapped copy. It is memvirt's authoritative copy of guest
 * memory; KVM's EPT/NPT and the VMM's page tables only cache it.
 *
 * It is a radix tree shaped like an Intel EPT: 4 levels of tables, each one
 * page of 512 64-bit entries, indexed by 9 bits of the gfn each (level 4, the
 * root, by bits 27-35, level 1, the leaves, by bits 0-8). A non-leaf entry is
 * R|W|X plus the PFN of the next table, exactly as hardware would want it; a
 * leaf is an EPT leaf whose processor-ignored bits hold memvirt's state and
 * the gfn lock (see ept.h for the layout).
 *
 * Lock-free table install. Tables are only ever added, never removed, while
 * the P2M lives. A walker that finds an empty entry allocates a zeroed table
 * and installs it with cmpxchg(0 -> table): of two racing walkers exactly one
 * wins, the other frees its table and goes on with the winner's. cmpxchg is a
 * full barrier, so the zeroes of the new table are visible before the entry
 * that points to it; readers load entries with READ_ONCE() and reach the
 * child table through that value (an address dependency), so they never see
 * a table before its zeroes. No lock protects the structure of the tree.
 *
 * Why a ptep stays valid. Since tables are freed only by
 * memvirt_p2m_destroy(), which runs when nobody can look the P2M up any
 * more, a pointer to a leaf entry is valid for the P2M's lifetime. Callers
 * keep pteps across sleeps and use the entry's own BUSY bit as the gfn lock:
 * the lock lives in the word it protects, costs no memory and needs no
 * lookup structure of its own.
 *
 * One walker. p2m_descend() walks from the root towards one gfn and is the
 * only code that reads non-leaf entries; p2m_seek() builds on it to find the
 * next existing table of a level, skipping a missing subtree in one step.
 * Lookup, allocation, the iterator and teardown are all built on these two.
 *
 * Memory overhead. One 4 KiB leaf table maps 512 gfns (2 MiB of guest RAM):
 * 1/512 = 0.195%. Each upper level adds 1/512 of the level below, so a fully
 * populated P2M costs less than 0.196% of guest RAM, plus the root. Exactly:
 *
 * - 1 GiB guest (262,144 gfns): 512 leaves + 1 + 1 + root = 515 tables,
 *   2,109,440 bytes (2.01 MiB), 0.1965% of guest RAM;
 * - 1 TiB guest (268,435,456 gfns): 524,288 leaves + 1,024 + 2 + root =
 *   525,315 tables, 2,151,690,240 bytes (2.004 GiB), 0.1957%.
 *
 * Tables exist only where the guest was touched, so a sparse guest costs
 * less.
 */

/* A table is one page of entries. */
static_assert(MEMVIRT_P2M_ENTRIES == 1 << MEMVIRT_P2M_LEVEL_BITS);
static_assert(MEMVIRT_P2M_ENTRIES * sizeof(u64) == PAGE_SIZE);

/* The gfn lock is a bit lock on the entry, viewed as an unsigned long. */
static_assert(sizeof(unsigned long) == sizeof(u64));

/* The fields of an entry don't overlap: each against all the fields before it. */
#define P2M_HW_BITS	(MEMVIRT_PTE_RWX | MEMVIRT_PTE_MT_MASK | MEMVIRT_PTE_IPAT)
#define P2M_AD_BITS	(MEMVIRT_PTE_A | MEMVIRT_PTE_D)
static_assert(!(MEMVIRT_PTE_RWX & MEMVIRT_PTE_MT_MASK));
static_assert(!(MEMVIRT_PTE_IPAT & (MEMVIRT_PTE_RWX | MEMVIRT_PTE_MT_MASK)));
static_assert(!(P2M_AD_BITS & P2M_HW_BITS));
static_assert(!(MEMVIRT_PTE_PFN_MASK & (P2M_HW_BITS | P2M_AD_BITS)));
static_assert(!(MEMVIRT_PTE_STATE_MASK &
		(P2M_HW_BITS | P2M_AD_BITS | MEMVIRT_PTE_PFN_MASK)));
static_assert(!(MEMVIRT_PTE_BUSY & (P2M_HW_BITS | P2M_AD_BITS |
				    MEMVIRT_PTE_PFN_MASK | MEMVIRT_PTE_STATE_MASK)));
static_assert(!(MEMVIRT_PTE_SVE & (P2M_HW_BITS | P2M_AD_BITS | MEMVIRT_PTE_PFN_MASK |
				   MEMVIRT_PTE_STATE_MASK | MEMVIRT_PTE_BUSY)));

/* The hardware bits are where the SDM (and KVM's asm/vmx.h) put them. */
static_assert(MEMVIRT_PTE_R == VMX_EPT_READABLE_MASK);
static_assert(MEMVIRT_PTE_W == VMX_EPT_WRITABLE_MASK);
static_assert(MEMVIRT_PTE_X == VMX_EPT_EXECUTABLE_MASK);
static_assert(MEMVIRT_PTE_RWX == VMX_EPT_RWX_MASK);
static_assert(MEMVIRT_PTE_MT_MASK == VMX_EPT_MT_MASK);
static_assert(MEMVIRT_PTE_MT_MASK >> VMX_EPT_MT_EPTE_SHIFT == 7);
static_assert(MEMVIRT_PTE_MT_WB == MTRR_TYPE_WRBACK);
static_assert(MEMVIRT_PTE_IPAT == VMX_EPT_IPAT_BIT);
static_assert(MEMVIRT_PTE_A == VMX_EPT_ACCESS_BIT);
static_assert(MEMVIRT_PTE_D == VMX_EPT_DIRTY_BIT);

/* Index of @gfn in a table of @level (1 = leaf, MEMVIRT_P2M_LEVELS = root). */
static unsigned int p2m_index(u64 gfn, int level)
{
	return (gfn >> ((level - 1) * MEMVIRT_P2M_LEVEL_BITS)) &
	       (MEMVIRT_P2M_ENTRIES - 1);
}

/* Number of gfns one entry of a table of @level covers. */
static u64 p2m_entry_span(int level)
{
	return BIT_ULL((level - 1) * MEMVIRT_P2M_LEVEL_BITS);
}

/* The table a non-leaf entry points to. */
static u64 *p2m_child(u64 entry)
{
	return pfn_to_kaddr(memvirt_pte_pfn(entry));
}

/*
 * p2m_descend - walk from the root towards @gfn, down to a table of @level.
 * Returns the deepest table reached and sets *@reached to its level: equal
 * to @level, or higher if the entry for @gfn in the returned table is empty.
 * @gfn must be at most MEMVIRT_P2M_MAX_GFN. Never sleeps.
 */
static u64 *p2m_descend(struct memvirt_p2m *p2m, u64 gfn, int level, int *reached)
{
	u64 *table = p2m->root;
	u64 entry;
	int l;

	for (l = MEMVIRT_P2M_LEVELS; l > level; l--) {
		/*
		 * Pairs with the cmpxchg in p2m_install(): the child is reached
		 * through this value, so its zeroes are seen (address dependency).
		 */
		entry = READ_ONCE(table[p2m_index(gfn, l)]);
		if (!entry)
			break;
		table = p2m_child(entry);
	}
	*reached = l;
	return table;
}

/*
 * p2m_seek - find the first table of @level that covers a gfn in [*@gfn, @end).
 * Missing subtrees are skipped whole. Returns the table, with *@gfn moved
 * forward to the first gfn at or after the old one that the table covers, or
 * NULL, with *@gfn at or past @end. @end is at most MEMVIRT_P2M_MAX_GFN + 1.
 * Yields between holes: may sleep.
 */
static u64 *p2m_seek(struct memvirt_p2m *p2m, u64 *gfn, u64 end, int level)
{
	u64 *table;
	int reached;

	while (*gfn < end) {
		table = p2m_descend(p2m, *gfn, level, &reached);
		if (reached == level)
			return table;
		/* The empty entry of the table at @reached: skip what it covers. */
		*gfn = (*gfn | (p2m_entry_span(reached) - 1)) + 1;
		cond_resched();
	}
	return NULL;
}

/*
 * p2m_install - install a zeroed table in the empty non-leaf entry @entryp.
 * Losing a race to another installer is success: the entry is filled either
 * way. Returns 0 or -ENOMEM.
 */
static int p2m_install(struct memvirt_p2m *p2m, u64 *entryp, gfp_t gfp)
{
	struct page *page = alloc_page(gfp | __GFP_ZERO);
	u64 old = 0;
	u64 entry;

	if (!page)
		return -ENOMEM;
	entry = MEMVIRT_PTE_RWX | FIELD_PREP(MEMVIRT_PTE_PFN_MASK, (u64)page_to_pfn(page));
	/*
	 * cmpxchg is a full barrier: the table's zeroes are visible before the
	 * entry. Pairs with the READ_ONCE() in p2m_descend().
	 */
	if (try_cmpxchg64(entryp, &old, entry))
		atomic_long_inc(&p2m->nr_tables);
	else
		__free_page(page);
	return 0;
}

/**
 * memvirt_p2m_init - set up an empty P2M: its root table and lockdep class.
 * @p2m: the P2M, zeroed or not.
 *
 * Return: 0, or -ENOMEM.
 */
int memvirt_p2m_init(struct memvirt_p2m *p2m)
{
	static struct lock_class_key gfn_lock_key;
	struct page *root;

	/* Every state fits in the state field (FIELD_MAX needs a function). */
	BUILD_BUG_ON(FIELD_MAX(MEMVIRT_PTE_STATE_MASK) < MEMVIRT_P2M_SWAPPED);
	root = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!root)
		return -ENOMEM;
	p2m->root = page_address(root);
	atomic_long_set(&p2m->nr_tables, 1);
	lockdep_init_map(&p2m->gfn_dep_map, "memvirt_gfn_lock", &gfn_lock_key, 0);
	return 0;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_init);

/* Warn about leaves that still hold a page or a gfn lock: they would leak. */
static void p2m_check_leaves(const u64 *table)
{
	unsigned int i;
	u64 pte;

	for (i = 0; i < MEMVIRT_P2M_ENTRIES; i++) {
		pte = READ_ONCE(table[i]);
		if (WARN_ON_ONCE(memvirt_pte_has_page(pte) || (pte & MEMVIRT_PTE_BUSY)))
			return;
	}
}

/*
 * Free every table of @level. The walk reads only the tables above @level,
 * which are still there: levels are freed bottom-up.
 */
static void p2m_free_level(struct memvirt_p2m *p2m, int level)
{
	u64 span = p2m_entry_span(level + 1);
	u64 gfn = 0;
	u64 *table;

	while ((table = p2m_seek(p2m, &gfn, MEMVIRT_P2M_MAX_GFN + 1, level))) {
		if (level == 1)
			p2m_check_leaves(table);
		free_page((unsigned long)table);
		atomic_long_dec(&p2m->nr_tables);
		gfn = (gfn | (span - 1)) + 1;
		/* A dense 1 TiB guest has half a million leaf tables. */
		cond_resched();
	}
}

/**
 * memvirt_p2m_destroy - free all tables of a P2M.
 * @p2m: the P2M; nobody may look it up any more. A P2M that was never
 *	initialised (zeroed) or is already destroyed is left alone.
 *
 * Entries must no longer hold a page (memvirt_pte_has_page()) nor a gfn lock:
 * the caller frees what they name first. Sleeps.
 */
void memvirt_p2m_destroy(struct memvirt_p2m *p2m)
{
	int level;

	if (!p2m->root)
		return;
	for (level = 1; level < MEMVIRT_P2M_LEVELS; level++)
		p2m_free_level(p2m, level);
	free_page((unsigned long)p2m->root);
	p2m->root = NULL;
	atomic_long_dec(&p2m->nr_tables);
	WARN_ON_ONCE(atomic_long_read(&p2m->nr_tables));
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_destroy);

/**
 * memvirt_p2m_find - the leaf entry of a gfn, if its leaf table exists.
 * @p2m: the P2M.
 * @gfn: the guest frame number.
 *
 * Never sleeps, takes no lock.
 *
 * Return: the entry, valid for the P2M's lifetime (it may read ABSENT), or
 * NULL if its leaf table was never allocated or @gfn > MEMVIRT_P2M_MAX_GFN.
 */
u64 *memvirt_p2m_find(struct memvirt_p2m *p2m, u64 gfn)
{
	u64 *table;
	int reached;

	if (gfn > MEMVIRT_P2M_MAX_GFN)
		return NULL;
	table = p2m_descend(p2m, gfn, 1, &reached);
	return reached == 1 ? &table[p2m_index(gfn, 1)] : NULL;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_find);

/**
 * memvirt_p2m_find_or_alloc - the leaf entry of a gfn, allocating tables.
 * @p2m: the P2M.
 * @gfn: the guest frame number.
 * @gfp: allocation flags of missing tables (__GFP_ZERO is added).
 *
 * Sleeps if @gfp allows it.
 *
 * Return: the entry, valid for the P2M's lifetime; ERR_PTR(-EINVAL) if @gfn
 * > MEMVIRT_P2M_MAX_GFN, ERR_PTR(-ENOMEM) if a table could not be allocated.
 */
u64 *memvirt_p2m_find_or_alloc(struct memvirt_p2m *p2m, u64 gfn, gfp_t gfp)
{
	u64 *table;
	int reached;
	int err;

	if (gfn > MEMVIRT_P2M_MAX_GFN)
		return ERR_PTR(-EINVAL);
	for (;;) {
		table = p2m_descend(p2m, gfn, 1, &reached);
		if (reached == 1)
			return &table[p2m_index(gfn, 1)];
		err = p2m_install(p2m, &table[p2m_index(gfn, reached)], gfp);
		if (err)
			return ERR_PTR(err);
	}
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_find_or_alloc);

/* The entry as the word the bit lock operates on. */
static unsigned long *p2m_lock_word(u64 *ptep)
{
	return (unsigned long *)ptep;
}

static void p2m_unlock_word(u64 *ptep)
{
	WARN_ON_ONCE(!memvirt_p2m_gfn_is_locked(ptep));
	clear_bit_unlock(MEMVIRT_PTE_BUSY_BIT, p2m_lock_word(ptep));
	/*
	 * Order the clear before the waitqueue check in wake_up_bit(); pairs
	 * with the barrier in prepare_to_wait() of the waiter, which then
	 * tests the bit again.
	 */
	smp_mb__after_atomic();
	wake_up_bit(p2m_lock_word(ptep), MEMVIRT_PTE_BUSY_BIT);
}

/**
 * memvirt_p2m_lock_gfn - take the gfn lock: the BUSY bit of its leaf entry.
 * @p2m: the P2M (for lockdep).
 * @ptep: the gfn's leaf entry.
 *
 * Sleeps until the lock is free. Never hold two gfn locks. Acquire ordering:
 * everything the previous holder wrote before unlocking is visible.
 */
void memvirt_p2m_lock_gfn(struct memvirt_p2m *p2m, u64 *ptep)
{
	lock_map_acquire(&p2m->gfn_dep_map);
	/* test_and_set_bit() inside is fully ordered. */
	wait_on_bit_lock(p2m_lock_word(ptep), MEMVIRT_PTE_BUSY_BIT, TASK_UNINTERRUPTIBLE);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_lock_gfn);

/**
 * memvirt_p2m_trylock_gfn - take a gfn lock if it is free.
 * @p2m: the P2M.
 * @ptep: the gfn's leaf entry.
 *
 * For a task that holds another gfn lock (swap-in readahead of the gfns
 * after a faulting one): it never waits, so it cannot close a cycle.
 *
 * Return: true if the lock was taken.
 */
bool memvirt_p2m_trylock_gfn(struct memvirt_p2m *p2m, u64 *ptep)
{
	if (test_and_set_bit_lock(MEMVIRT_PTE_BUSY_BIT, p2m_lock_word(ptep)))
		return false;
	lock_acquire_exclusive(&p2m->gfn_dep_map, 0, 1, NULL, _RET_IP_);
	return true;
}

/**
 * memvirt_p2m_unlock_gfn - release the gfn lock and wake a waiter.
 * @p2m: the P2M (for lockdep).
 * @ptep: the gfn's leaf entry, locked by the caller.
 */
void memvirt_p2m_unlock_gfn(struct memvirt_p2m *p2m, u64 *ptep)
{
	lock_map_release(&p2m->gfn_dep_map);
	p2m_unlock_word(ptep);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_unlock_gfn);

/**
 * memvirt_p2m_lock_run - take the gfn locks of a run of consecutive gfns.
 * @p2m: the P2M (for lockdep).
 * @ptep: the leaf entry of the run's first gfn.
 * @nr: gfns in the run, 1..memvirt_p2m_leaf_room() of the first: the run
 *	stays inside one leaf table.
 *
 * Locks in ascending order and counts as one gfn lock for lockdep: a task
 * holds one run, or one gfn lock, never more. Sleeps.
 */
void memvirt_p2m_lock_run(struct memvirt_p2m *p2m, u64 *ptep, unsigned int nr)
{
	unsigned int i;

	lock_map_acquire(&p2m->gfn_dep_map);
	for (i = 0; i < nr; i++)
		wait_on_bit_lock(p2m_lock_word(ptep + i), MEMVIRT_PTE_BUSY_BIT,
				 TASK_UNINTERRUPTIBLE);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_lock_run);

/**
 * memvirt_p2m_unlock_run - release a run taken by memvirt_p2m_lock_run().
 * @p2m: the P2M (for lockdep).
 * @ptep: the leaf entry of the run's first gfn.
 * @nr: gfns in the run.
 */
void memvirt_p2m_unlock_run(struct memvirt_p2m *p2m, u64 *ptep, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		p2m_unlock_word(ptep + i);
	lock_map_release(&p2m->gfn_dep_map);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_unlock_run);

/**
 * memvirt_p2m_set - replace a locked leaf entry.
 * @ptep: the entry; the caller holds its gfn lock.
 * @pte: the new value; its BUSY bit is ignored (the lock stays held).
 *
 * Atomic: lockless readers (memvirt_p2m_read()) see the old or the new
 * value, never a mix.
 */
void memvirt_p2m_set(u64 *ptep, u64 pte)
{
	u64 old = READ_ONCE(*ptep);

	WARN_ON_ONCE(!(old & MEMVIRT_PTE_BUSY));
	do {
		pte = (pte & ~MEMVIRT_PTE_BUSY) | (old & MEMVIRT_PTE_BUSY);
	} while (!try_cmpxchg64(ptep, &old, pte));
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_set);

static void p2m_iter_seek(struct memvirt_p2m_iter *iter)
{
	u64 *table = p2m_seek(iter->p2m, &iter->gfn, iter->end, 1);

	iter->valid = !!table;
	iter->ptep = table ? &table[p2m_index(iter->gfn, 1)] : NULL;
}

/**
 * memvirt_p2m_iter_start - start a walk over [@start, @end).
 * @iter: the iterator.
 * @p2m: the P2M.
 * @start: first gfn (inclusive).
 * @end: first gfn past the walk (exclusive); clamped to
 *	MEMVIRT_P2M_MAX_GFN + 1. An empty or inverted range visits nothing.
 *
 * May sleep.
 */
void memvirt_p2m_iter_start(struct memvirt_p2m_iter *iter, struct memvirt_p2m *p2m,
			    u64 start, u64 end)
{
	iter->p2m = p2m;
	iter->gfn = start;
	iter->end = min_t(u64, end, MEMVIRT_P2M_MAX_GFN + 1);
	p2m_iter_seek(iter);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_iter_start);

/**
 * memvirt_p2m_iter_next - move to the next gfn whose leaf table exists.
 * @iter: a valid iterator.
 *
 * Yields (cond_resched()) when leaving a leaf table: may sleep.
 */
void memvirt_p2m_iter_next(struct memvirt_p2m_iter *iter)
{
	iter->gfn++;
	if (iter->gfn < iter->end && p2m_index(iter->gfn, 1)) {
		iter->ptep++;
		return;
	}
	cond_resched();
	p2m_iter_seek(iter);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_iter_next);

static const char * const p2m_state_names[] = {
	[MEMVIRT_P2M_ABSENT] = "absent",
	[MEMVIRT_P2M_PRIVATE] = "private",
	[MEMVIRT_P2M_ZERO] = "zero",
	[MEMVIRT_P2M_SHARED] = "shared",
	[MEMVIRT_P2M_BALLOONED] = "ballooned",
	[MEMVIRT_P2M_COMPRESSED] = "compressed",
	[MEMVIRT_P2M_SWAPPED] = "swapped",
	[MEMVIRT_P2M_ERROR] = "error",
};

/**
 * memvirt_p2m_state_name - the name of a state, as the P2M dump prints it.
 * @state: the state.
 *
 * Return: a static string; "invalid" for a value that is no state.
 */
const char *memvirt_p2m_state_name(enum memvirt_p2m_state state)
{
	if (state >= ARRAY_SIZE(p2m_state_names) || !p2m_state_names[state])
		return "invalid";
	return p2m_state_names[state];
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_p2m_state_name);

/**
 * memvirt_pte_snprint - a leaf entry's state and flags, as the debugfs dump
 * prints them after the raw entry.
 * @buf: the buffer.
 * @size: its size.
 * @pte: the entry.
 *
 * The format is "<state>[ A][ D]", e.g. "private A D" or "zero".
 *
 * Return: the number of characters written, as scnprintf().
 */
int memvirt_pte_snprint(char *buf, size_t size, u64 pte)
{
	return scnprintf(buf, size, "%s%s%s%s",
			 memvirt_p2m_state_name(memvirt_pte_state(pte)),
			 memvirt_pte_is_accessed(pte) ? " A" : "",
			 memvirt_pte_is_dirty(pte) ? " D" : "",
			 memvirt_pte_in_writeback(pte) ? " WB" : "");
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_pte_snprint);
