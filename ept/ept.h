/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ept/: the P2M, memvirt's authoritative guest-physical to host map.
 *
 * Locking
 * =======
 *
 * Order (outer first):
 *   1. mapping->invalidate_lock (module/: shared in faults, I/O and
 *      punch, exclusive in truncate and teardown; reclaim skips it)
 *   2. gfn lock: the MEMVIRT_PTE_BUSY bit of the gfn's own leaf entry, a
 *      sleeping bit lock (wait_on_bit_lock), tracked by lockdep through
 *      p2m->gfn_dep_map. Protects every other bit of that entry and the host
 *      page or slot it names. A task holds either one gfn lock, or one run
 *      of consecutive gfns of a single leaf table taken in ascending order
 *      with memvirt_p2m_lock_run() (one lockdep acquisition): runs never
 *      wait for a lock below one they hold, so lockers cannot form a cycle.
 *   3. page lock of the frame an entry names: a private page, or the zero
 *      frame a read-only entry names.
 *
 * Documentation/locking.rst has the global order.
 *
 * Tables are installed lock-free with cmpxchg and are freed only by
 * memvirt_p2m_destroy(), when nobody can look them up any more: a pointer to
 * an entry (a "ptep") stays valid for the P2M's lifetime. Lookups and walks
 * may sleep only in the iterator, which yields between leaf tables.
 */
#ifndef MEMVIRT_EPT_H
#define MEMVIRT_EPT_H

#include <linux/bitfield.h>
#include <linux/bits.h>
#include <linux/lockdep.h>
#include <linux/types.h>
#include <uapi/memvirt.h>

/*
 * A P2M entry is a 64-bit EPT entry. Leaves (level 1) use the Intel SDM
 * "EPT page-table entry that maps a 4-KByte page" layout; memvirt's own state
 * lives in bits the processor ignores (52-62), so a table could be handed to
 * hardware as is:
 *
 *  63 62 61 60 59 58 57 56  55  52 51                   12 11 10  9  8  7  6 5 3 2 1 0
 * +--+--+--+--+-----+--+----+------+------------------------+--+--+--+--+--+--+---+-+-+-+
 * |SV|rs| T| S| AGE |WB|BUSY| state| PFN, slot or cache id  |ig|UX| D| A|ig|IP|MT |X|W|R|
 * +--+--+--+--+-----+--+----+------+------------------------+--+--+--+--+--+--+---+-+-+-+
 *
 *  R/W/X  read, write, execute permission: RWX on a private page; R and X
 *         on a shared frame (copy-on-write); R alone on a gfn that reads
 *         as zero while a read-only zero frame (its PFN) may be mapped for it
 *  MT     EPT memory type, 6 = write-back
 *  IP     ignore PAT
 *  A/D    accessed (faulted in) and dirty (written through a mapping)
 *  state  enum memvirt_p2m_state; equal to the uapi MEMVIRT_GFN_* codes
 *  BUSY   the gfn lock
 *  WB     PRIVATE only: the page is being written to the swap file (swap/);
 *         any use of the page clears it, which cancels the swap-out
 *  AGE    PRIVATE only: sweeps of the cold-page clock (swap/) still to skip
 *         the page, which it found recently used, before it samples it again
 *  S, T   PRIVATE only: SAMPLED, the gfn is in its VM's running working-set
 *         sample (policy/); TOUCHED, it was faulted in since it was sampled
 *  PFN    PRIVATE, SHARED, and a zero frame mapped read-only: the host page;
 *         SWAPPED: the slot in the VM's swap file; COMPRESSED: the id of
 *         the compression cache entry (swap/); no R/W/X, MT or IPAT bits
 *  SV     suppress #VE; always 0
 *
 * Non-leaf entries (levels 2-4) are R|W|X plus the PFN of the next table.
 * 4 levels of 512 entries translate 36 bits of gfn (256 TiB of guest RAM).
 */
#define MEMVIRT_PTE_R		BIT_ULL(0)
#define MEMVIRT_PTE_W		BIT_ULL(1)
#define MEMVIRT_PTE_X		BIT_ULL(2)
#define MEMVIRT_PTE_RWX		(MEMVIRT_PTE_R | MEMVIRT_PTE_W | MEMVIRT_PTE_X)
#define MEMVIRT_PTE_MT_MASK	GENMASK_ULL(5, 3)
#define MEMVIRT_PTE_MT_WB	6ULL
#define MEMVIRT_PTE_IPAT	BIT_ULL(6)
#define MEMVIRT_PTE_A		BIT_ULL(8)
#define MEMVIRT_PTE_D		BIT_ULL(9)
#define MEMVIRT_PTE_PFN_MASK	GENMASK_ULL(51, 12)
#define MEMVIRT_PTE_STATE_MASK	GENMASK_ULL(55, 52)
#define MEMVIRT_PTE_BUSY_BIT	56
#define MEMVIRT_PTE_BUSY	BIT_ULL(MEMVIRT_PTE_BUSY_BIT)
#define MEMVIRT_PTE_WB		BIT_ULL(57)
#define MEMVIRT_PTE_AGE_MASK	GENMASK_ULL(59, 58)
#define MEMVIRT_PTE_SAMPLED	BIT_ULL(60)
#define MEMVIRT_PTE_TOUCHED	BIT_ULL(61)
#define MEMVIRT_PTE_SVE		BIT_ULL(63)

#define MEMVIRT_P2M_LEVELS	4
#define MEMVIRT_P2M_ENTRIES	512
#define MEMVIRT_P2M_LEVEL_BITS	9
#define MEMVIRT_P2M_GFN_BITS	(MEMVIRT_P2M_LEVELS * MEMVIRT_P2M_LEVEL_BITS)
#define MEMVIRT_P2M_MAX_GFN	(BIT_ULL(MEMVIRT_P2M_GFN_BITS) - 1)

/* What a gfn holds. Values are ABI: they are the uapi MEMVIRT_GFN_* codes. */
enum memvirt_p2m_state {
	MEMVIRT_P2M_ABSENT = MEMVIRT_GFN_ABSENT,
	MEMVIRT_P2M_PRIVATE = MEMVIRT_GFN_PRIVATE,
	MEMVIRT_P2M_ZERO = MEMVIRT_GFN_ZERO,
	MEMVIRT_P2M_SHARED = MEMVIRT_GFN_SHARED,
	MEMVIRT_P2M_BALLOONED = MEMVIRT_GFN_BALLOONED,
	MEMVIRT_P2M_COMPRESSED = MEMVIRT_GFN_COMPRESSED,
	MEMVIRT_P2M_SWAPPED = MEMVIRT_GFN_SWAPPED,
	MEMVIRT_P2M_ERROR = MEMVIRT_GFN_ERROR,
};

/**
 * struct memvirt_p2m - one VM's guest-physical map.
 * @root:	the level-4 table (512 entries, one page).
 * @nr_tables:	table pages allocated, root included (memory overhead).
 * @gfn_dep_map: lockdep class of the per-gfn bit locks.
 */
struct memvirt_p2m {
	u64 *root;
	atomic_long_t nr_tables;
	struct lockdep_map gfn_dep_map;
};

static inline enum memvirt_p2m_state memvirt_pte_state(u64 pte)
{
	return FIELD_GET(MEMVIRT_PTE_STATE_MASK, pte);
}

static inline unsigned long memvirt_pte_pfn(u64 pte)
{
	return FIELD_GET(MEMVIRT_PTE_PFN_MASK, pte);
}

/* Does the entry name a host page that backs the gfn (private or shared)? */
static inline bool memvirt_pte_has_page(u64 pte)
{
	return memvirt_pte_state(pte) == MEMVIRT_P2M_PRIVATE ||
	       memvirt_pte_state(pte) == MEMVIRT_P2M_SHARED;
}

/* Does the gfn read as zero without holding anything (absent, zero, ballooned)? */
static inline bool memvirt_pte_reads_zero(u64 pte)
{
	return memvirt_pte_state(pte) == MEMVIRT_P2M_ABSENT ||
	       memvirt_pte_state(pte) == MEMVIRT_P2M_ZERO ||
	       memvirt_pte_state(pte) == MEMVIRT_P2M_BALLOONED;
}

/*
 * May a read-only zero frame be mapped for this gfn? Then its PFN is the
 * frame's. The R bit is cleared only together with an unmap of the gfn.
 */
static inline bool memvirt_pte_maps_zero_frame(u64 pte)
{
	return memvirt_pte_reads_zero(pte) && (pte & MEMVIRT_PTE_R);
}

static inline bool memvirt_pte_is_dirty(u64 pte)
{
	return pte & MEMVIRT_PTE_D;
}

static inline bool memvirt_pte_is_accessed(u64 pte)
{
	return pte & MEMVIRT_PTE_A;
}

/* A leaf naming a private host page: RWX, write-back, PAT ignored. */
static inline u64 memvirt_pte_mk_private(unsigned long pfn)
{
	return MEMVIRT_PTE_RWX | FIELD_PREP(MEMVIRT_PTE_MT_MASK, MEMVIRT_PTE_MT_WB) |
	       MEMVIRT_PTE_IPAT | FIELD_PREP(MEMVIRT_PTE_PFN_MASK, (u64)pfn) |
	       FIELD_PREP(MEMVIRT_PTE_STATE_MASK, MEMVIRT_P2M_PRIVATE);
}

/*
 * A leaf naming a shared frame (dedup/): read and execute, never write, so
 * a write by the guest is an EPT violation that breaks copy-on-write.
 */
static inline u64 memvirt_pte_mk_shared(unsigned long pfn)
{
	return MEMVIRT_PTE_R | MEMVIRT_PTE_X |
	       FIELD_PREP(MEMVIRT_PTE_MT_MASK, MEMVIRT_PTE_MT_WB) |
	       MEMVIRT_PTE_IPAT | FIELD_PREP(MEMVIRT_PTE_PFN_MASK, (u64)pfn) |
	       FIELD_PREP(MEMVIRT_PTE_STATE_MASK, MEMVIRT_P2M_SHARED);
}

/*
 * A leaf whose data lives outside RAM: @state COMPRESSED with the cache
 * entry's id, or SWAPPED with the swap file slot, in the PFN field. Not
 * present for the processor (no R/W/X).
 */
static inline u64 memvirt_pte_mk_stored(enum memvirt_p2m_state state, u64 where)
{
	return FIELD_PREP(MEMVIRT_PTE_STATE_MASK, state) |
	       FIELD_PREP(MEMVIRT_PTE_PFN_MASK, where);
}

/* The slot or cache id of a COMPRESSED or SWAPPED leaf. */
static inline u64 memvirt_pte_where(u64 pte)
{
	return FIELD_GET(MEMVIRT_PTE_PFN_MASK, pte);
}

/* Is the PRIVATE leaf's page being written to the swap file? */
static inline bool memvirt_pte_in_writeback(u64 pte)
{
	return pte & MEMVIRT_PTE_WB;
}

/* A leaf holding no page: @state is ABSENT, ZERO, BALLOONED or ERROR. */
static inline u64 memvirt_pte_mk_nopage(enum memvirt_p2m_state state)
{
	return FIELD_PREP(MEMVIRT_PTE_STATE_MASK, state);
}

/*
 * A gfn that reads as zero (@state ZERO or BALLOONED) while the zero frame
 * @pfn may be mapped read-only for it: an EPT read-only leaf.
 */
static inline u64 memvirt_pte_mk_zero_frame(enum memvirt_p2m_state state, unsigned long pfn)
{
	return MEMVIRT_PTE_R | FIELD_PREP(MEMVIRT_PTE_MT_MASK, MEMVIRT_PTE_MT_WB) |
	       MEMVIRT_PTE_IPAT | FIELD_PREP(MEMVIRT_PTE_PFN_MASK, (u64)pfn) |
	       FIELD_PREP(MEMVIRT_PTE_STATE_MASK, state);
}

int memvirt_p2m_init(struct memvirt_p2m *p2m);
void memvirt_p2m_destroy(struct memvirt_p2m *p2m);

u64 *memvirt_p2m_find(struct memvirt_p2m *p2m, u64 gfn);
u64 *memvirt_p2m_find_or_alloc(struct memvirt_p2m *p2m, u64 gfn, gfp_t gfp);

void memvirt_p2m_lock_gfn(struct memvirt_p2m *p2m, u64 *ptep);
bool memvirt_p2m_trylock_gfn(struct memvirt_p2m *p2m, u64 *ptep);
void memvirt_p2m_unlock_gfn(struct memvirt_p2m *p2m, u64 *ptep);
void memvirt_p2m_lock_run(struct memvirt_p2m *p2m, u64 *ptep, unsigned int nr);
void memvirt_p2m_unlock_run(struct memvirt_p2m *p2m, u64 *ptep, unsigned int nr);
void memvirt_p2m_set(u64 *ptep, u64 pte);

static inline u64 memvirt_p2m_read(const u64 *ptep)
{
	return READ_ONCE(*ptep) & ~MEMVIRT_PTE_BUSY;
}

static inline bool memvirt_p2m_gfn_is_locked(const u64 *ptep)
{
	return READ_ONCE(*ptep) & MEMVIRT_PTE_BUSY;
}

/* "Caller holds the gfn lock": the bit, and a gfn lock in lockdep's eyes. */
#define memvirt_p2m_assert_locked(p2m, ptep)				\
	do {								\
		lockdep_assert(lock_is_held(&(p2m)->gfn_dep_map));	\
		WARN_ON_ONCE(!memvirt_p2m_gfn_is_locked(ptep));		\
	} while (0)

/* Gfns one leaf table maps; a run of gfn locks stays inside one. */
static inline unsigned int memvirt_p2m_leaf_room(u64 gfn)
{
	return MEMVIRT_P2M_ENTRIES - (gfn & (MEMVIRT_P2M_ENTRIES - 1));
}

/* Bytes of host memory the P2M's tables use. */
static inline unsigned long memvirt_p2m_overhead_bytes(struct memvirt_p2m *p2m)
{
	return atomic_long_read(&p2m->nr_tables) * PAGE_SIZE;
}

/**
 * struct memvirt_p2m_iter - a forward walk over the leaves of a gfn range.
 * @p2m:	the P2M walked.
 * @gfn:	gfn of @ptep.
 * @end:	first gfn past the walk (exclusive).
 * @ptep:	the current leaf entry; valid while @valid.
 * @valid:	false once the walk is over.
 *
 * The walk visits, in increasing gfn order, every gfn in [start, end) whose
 * leaf table exists (its entry may be ABSENT: callers filter) and skips
 * absent subtrees whole. It calls cond_resched() between leaf tables, so it
 * must not be used under a spinlock; it resumes from @gfn after yielding.
 */
struct memvirt_p2m_iter {
	struct memvirt_p2m *p2m;
	u64 gfn;
	u64 end;
	u64 *ptep;
	bool valid;
};

void memvirt_p2m_iter_start(struct memvirt_p2m_iter *iter, struct memvirt_p2m *p2m,
			    u64 start, u64 end);
void memvirt_p2m_iter_next(struct memvirt_p2m_iter *iter);

/* memvirt_p2m_iter_start() for for_each_p2m_entry(): returns @iter. */
static inline struct memvirt_p2m_iter *
__memvirt_p2m_iter_first(struct memvirt_p2m_iter *iter, struct memvirt_p2m *p2m,
			 u64 start, u64 end)
{
	memvirt_p2m_iter_start(iter, p2m, start, end);
	return iter;
}

/* Walk [start, end) with the struct memvirt_p2m_iter @iter; may sleep. */
#define for_each_p2m_entry(iter, p2m, start, end)				\
	for (struct memvirt_p2m_iter *__p2m_iter =				\
	     __memvirt_p2m_iter_first(&(iter), (p2m), (start), (end));	\
	     __p2m_iter->valid; memvirt_p2m_iter_next(__p2m_iter))

/* Debugging: state names and one entry as text (the debugfs dump). */
const char *memvirt_p2m_state_name(enum memvirt_p2m_state state);
int memvirt_pte_snprint(char *buf, size_t size, u64 pte);

#endif /* MEMVIRT_EPT_H */
