// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites of the P2M (ept/ept.c): entry layout (every state, stored
 * entries, the WB bit), table allocation, the iterator, the gfn lock and
 * their behaviour under concurrency.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/sizes.h>

#include "module/compat.h"
#include "ept/ept.h"

/* Gfns covered by one table of level 1 (a leaf table), 2 and 3. */
#define SPAN_L1		BIT_ULL(MEMVIRT_P2M_LEVEL_BITS)
#define SPAN_L2		BIT_ULL(2 * MEMVIRT_P2M_LEVEL_BITS)
#define SPAN_L3		BIT_ULL(3 * MEMVIRT_P2M_LEVEL_BITS)
#define MAX_GFN		MEMVIRT_P2M_MAX_GFN
#define MAX_PFN		(BIT_ULL(40) - 1)	/* widest PFN field value */

static long nr_tables(struct memvirt_p2m *p2m)
{
	return atomic_long_read(&p2m->nr_tables);
}

/* Every case gets an empty P2M in test->priv. */
static int ept_test_init(struct kunit *test)
{
	struct memvirt_p2m *p2m;

	p2m = kunit_kzalloc(test, sizeof(*p2m), GFP_KERNEL);
	if (!p2m)
		return -ENOMEM;
	test->priv = p2m;
	return memvirt_p2m_init(p2m);
}

static void ept_test_exit(struct kunit *test)
{
	if (test->priv)
		memvirt_p2m_destroy(test->priv);
}

/* Allocate the leaf entries of @gfns. */
static void ept_populate(struct kunit *test, const u64 *gfns, unsigned int n)
{
	unsigned int i;
	u64 *ptep;

	for (i = 0; i < n; i++) {
		ptep = memvirt_p2m_find_or_alloc(test->priv, gfns[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ptep);
	}
}

/* ---- memvirt_ept_entry: the entry layout and its helpers ---- */

struct ept_mask_case {
	const char *name;
	u64 mask;
	u64 expected;
};

/* Where the Intel SDM (EPT leaf) and ept.h's diagram put each field. */
static const struct ept_mask_case ept_mask_cases[] = {
	{ "R", MEMVIRT_PTE_R, 0x1 },
	{ "W", MEMVIRT_PTE_W, 0x2 },
	{ "X", MEMVIRT_PTE_X, 0x4 },
	{ "MT", MEMVIRT_PTE_MT_MASK, 0x38 },
	{ "IPAT", MEMVIRT_PTE_IPAT, 0x40 },
	{ "A", MEMVIRT_PTE_A, 0x100 },
	{ "D", MEMVIRT_PTE_D, 0x200 },
	{ "PFN", MEMVIRT_PTE_PFN_MASK, 0x000ffffffffff000ULL },
	{ "state", MEMVIRT_PTE_STATE_MASK, 0x00f0000000000000ULL },
	{ "BUSY", MEMVIRT_PTE_BUSY, 0x0100000000000000ULL },
	{ "WB", MEMVIRT_PTE_WB, 0x0200000000000000ULL },
	{ "SVE", MEMVIRT_PTE_SVE, 0x8000000000000000ULL },
};

static void ept_entry_bit_positions(struct kunit *test)
{
	const struct ept_mask_case *c;

	for (c = ept_mask_cases; c < ept_mask_cases + ARRAY_SIZE(ept_mask_cases); c++)
		KUNIT_EXPECT_EQ_MSG(test, c->mask, c->expected, "field %s", c->name);
}

static void ept_entry_private_layout(struct kunit *test)
{
	u64 pte = memvirt_pte_mk_private(0x12345);

	/* R|W|X, MT=6 (WB) in bits 3-5, IPAT, PFN at 12, PRIVATE (1) at 52. */
	KUNIT_EXPECT_EQ(test, pte, 0x0010000012345077ULL);
	KUNIT_EXPECT_EQ(test, pte & MEMVIRT_PTE_RWX, MEMVIRT_PTE_RWX);
	KUNIT_EXPECT_EQ(test, FIELD_GET(MEMVIRT_PTE_MT_MASK, pte), 6ULL);
	KUNIT_EXPECT_FALSE(test, pte & MEMVIRT_PTE_SVE);
	KUNIT_EXPECT_FALSE(test, pte & MEMVIRT_PTE_BUSY);
	KUNIT_EXPECT_FALSE(test, pte & (MEMVIRT_PTE_A | MEMVIRT_PTE_D));
	KUNIT_EXPECT_FALSE(test, memvirt_pte_in_writeback(pte));
}

static const unsigned long ept_pfns[] = { 0, 1, 0x12345, MAX_PFN };

static void ept_entry_private_roundtrip(struct kunit *test)
{
	unsigned int i;
	u64 pte;

	for (i = 0; i < ARRAY_SIZE(ept_pfns); i++) {
		pte = memvirt_pte_mk_private(ept_pfns[i]);
		KUNIT_EXPECT_EQ(test, memvirt_pte_state(pte), MEMVIRT_P2M_PRIVATE);
		KUNIT_EXPECT_EQ(test, memvirt_pte_pfn(pte), ept_pfns[i]);
		KUNIT_EXPECT_TRUE(test, memvirt_pte_has_page(pte));
	}
}

static const enum memvirt_p2m_state ept_nopage_states[] = {
	MEMVIRT_P2M_ABSENT, MEMVIRT_P2M_ZERO, MEMVIRT_P2M_BALLOONED, MEMVIRT_P2M_ERROR,
};

static void ept_entry_nopage(struct kunit *test)
{
	unsigned int i;
	u64 pte;

	for (i = 0; i < ARRAY_SIZE(ept_nopage_states); i++) {
		pte = memvirt_pte_mk_nopage(ept_nopage_states[i]);
		KUNIT_EXPECT_EQ(test, memvirt_pte_state(pte), ept_nopage_states[i]);
		KUNIT_EXPECT_EQ(test, memvirt_pte_pfn(pte), 0UL);
		KUNIT_EXPECT_FALSE(test, pte & MEMVIRT_PTE_RWX);
		KUNIT_EXPECT_FALSE(test, memvirt_pte_has_page(pte));
		KUNIT_EXPECT_FALSE(test, memvirt_pte_in_writeback(pte));
	}
	/* Only ERROR of these does not read as zero: its data was lost. */
	KUNIT_EXPECT_EQ(test, memvirt_pte_mk_nopage(MEMVIRT_P2M_ERROR), 0x0070000000000000ULL);
	KUNIT_EXPECT_FALSE(test, memvirt_pte_reads_zero(memvirt_pte_mk_nopage(MEMVIRT_P2M_ERROR)));
	KUNIT_EXPECT_TRUE(test, memvirt_pte_reads_zero(memvirt_pte_mk_nopage(MEMVIRT_P2M_ZERO)));
}

/* Slots and cache ids of stored states: the widest a PFN field holds. */
static const u64 ept_wheres[] = { 0, 1, 0x12345, U32_MAX, MAX_PFN };

static const enum memvirt_p2m_state ept_stored_states[] = {
	MEMVIRT_P2M_COMPRESSED, MEMVIRT_P2M_SWAPPED,
};

/*
 * COMPRESSED and SWAPPED leaves: the cache id or slot in the PFN field,
 * nothing the processor would map (no R/W/X, no memory type), no page.
 */
static void ept_entry_stored(struct kunit *test)
{
	enum memvirt_p2m_state state;
	unsigned int i, j;
	u64 pte;

	for (i = 0; i < ARRAY_SIZE(ept_stored_states); i++) {
		state = ept_stored_states[i];
		for (j = 0; j < ARRAY_SIZE(ept_wheres); j++) {
			pte = memvirt_pte_mk_stored(state, ept_wheres[j]);
			KUNIT_EXPECT_EQ_MSG(test, pte,
					    FIELD_PREP(MEMVIRT_PTE_STATE_MASK, (u64)state) |
					    (ept_wheres[j] << 12), "where %#llx", ept_wheres[j]);
			KUNIT_EXPECT_EQ(test, memvirt_pte_state(pte), state);
			KUNIT_EXPECT_EQ(test, memvirt_pte_where(pte), ept_wheres[j]);
			KUNIT_EXPECT_EQ(test, (u64)memvirt_pte_pfn(pte), ept_wheres[j]);
			KUNIT_EXPECT_EQ(test, pte & (MEMVIRT_PTE_RWX | MEMVIRT_PTE_MT_MASK |
						     MEMVIRT_PTE_IPAT | MEMVIRT_PTE_A |
						     MEMVIRT_PTE_D | MEMVIRT_PTE_BUSY |
						     MEMVIRT_PTE_WB | MEMVIRT_PTE_SVE), 0ULL);
			KUNIT_EXPECT_FALSE(test, memvirt_pte_has_page(pte));
			KUNIT_EXPECT_FALSE(test, memvirt_pte_reads_zero(pte));
			KUNIT_EXPECT_FALSE(test, memvirt_pte_maps_zero_frame(pte));
			KUNIT_EXPECT_FALSE(test, memvirt_pte_in_writeback(pte));
		}
	}
	/* The layout of ept.h, by hand: state 5 and 6 at bit 52, id at 12. */
	KUNIT_EXPECT_EQ(test, memvirt_pte_mk_stored(MEMVIRT_P2M_COMPRESSED, 0x12345),
			0x0050000012345000ULL);
	KUNIT_EXPECT_EQ(test, memvirt_pte_mk_stored(MEMVIRT_P2M_SWAPPED, MAX_PFN),
			0x006ffffffffff000ULL);
}

/* Every state has its name (the uapi code's, as the P2M dump prints it). */
static void ept_entry_state_names(struct kunit *test)
{
	static const char * const names[] = {
		[MEMVIRT_GFN_ABSENT] = "absent",
		[MEMVIRT_GFN_PRIVATE] = "private",
		[MEMVIRT_GFN_ZERO] = "zero",
		[MEMVIRT_GFN_SHARED] = "shared",
		[MEMVIRT_GFN_BALLOONED] = "ballooned",
		[MEMVIRT_GFN_COMPRESSED] = "compressed",
		[MEMVIRT_GFN_SWAPPED] = "swapped",
		[MEMVIRT_GFN_ERROR] = "error",
	};
	unsigned int state;

	static_assert(ARRAY_SIZE(names) == MEMVIRT_P2M_ERROR + 1);
	KUNIT_EXPECT_EQ(test, MEMVIRT_P2M_ERROR, 7);
	KUNIT_EXPECT_EQ(test, MEMVIRT_P2M_ERROR, MEMVIRT_GFN_ERROR);
	for (state = 0; state <= MEMVIRT_P2M_ERROR; state++) {
		KUNIT_EXPECT_STREQ(test, memvirt_p2m_state_name(state), names[state]);
		/* The state field holds every state. */
		KUNIT_EXPECT_EQ(test, memvirt_pte_state(memvirt_pte_mk_nopage(state)), state);
	}
	/* Values past the last state (a new one fails here until named above). */
	for (state = MEMVIRT_P2M_ERROR + 1; state <= MEMVIRT_GFN_STATE_MASK; state++)
		KUNIT_EXPECT_STREQ(test, memvirt_p2m_state_name(state), "invalid");
}

/* A zeroed table reads as ABSENT everywhere. */
static void ept_entry_absent_is_zero(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memvirt_pte_mk_nopage(MEMVIRT_P2M_ABSENT), 0ULL);
}

#define EPT_SHARED(pfn)	(FIELD_PREP(MEMVIRT_PTE_STATE_MASK, MEMVIRT_P2M_SHARED) | \
			 FIELD_PREP(MEMVIRT_PTE_PFN_MASK, (pfn)))

struct ept_predicate_case {
	u64 pte;
	bool has_page, accessed, dirty, reads_zero, wb;
};

static void ept_entry_predicates(struct kunit *test)
{
	const struct ept_predicate_case cases[] = {
		{ 0, false, false, false, true, false },
		{ memvirt_pte_mk_private(7), true, false, false, false, false },
		{ memvirt_pte_mk_private(7) | MEMVIRT_PTE_A, true, true, false, false, false },
		{ memvirt_pte_mk_private(7) | MEMVIRT_PTE_A | MEMVIRT_PTE_D,
		  true, true, true, false, false },
		{ memvirt_pte_mk_private(7) | MEMVIRT_PTE_WB, true, false, false, false, true },
		{ memvirt_pte_mk_private(7) | MEMVIRT_PTE_A | MEMVIRT_PTE_WB,
		  true, true, false, false, true },
		{ EPT_SHARED(7), true, false, false, false, false },
		{ memvirt_pte_mk_nopage(MEMVIRT_P2M_ZERO), false, false, false, true, false },
		{ memvirt_pte_mk_nopage(MEMVIRT_P2M_BALLOONED), false, false, false, true, false },
		{ memvirt_pte_mk_stored(MEMVIRT_P2M_COMPRESSED, 7),
		  false, false, false, false, false },
		{ memvirt_pte_mk_stored(MEMVIRT_P2M_SWAPPED, 7) | MEMVIRT_PTE_D,
		  false, false, true, false, false },
		{ memvirt_pte_mk_nopage(MEMVIRT_P2M_ERROR), false, false, false, false, false },
	};
	const struct ept_predicate_case *c;

	for (c = cases; c < cases + ARRAY_SIZE(cases); c++) {
		KUNIT_EXPECT_EQ_MSG(test, memvirt_pte_has_page(c->pte), c->has_page,
				    "pte %#llx", c->pte);
		KUNIT_EXPECT_EQ_MSG(test, memvirt_pte_is_accessed(c->pte), c->accessed,
				    "pte %#llx", c->pte);
		KUNIT_EXPECT_EQ_MSG(test, memvirt_pte_is_dirty(c->pte), c->dirty,
				    "pte %#llx", c->pte);
		KUNIT_EXPECT_EQ_MSG(test, memvirt_pte_reads_zero(c->pte), c->reads_zero,
				    "pte %#llx", c->pte);
		KUNIT_EXPECT_EQ_MSG(test, memvirt_pte_in_writeback(c->pte), c->wb,
				    "pte %#llx", c->pte);
	}
}

struct ept_format_case {
	u64 pte;
	const char *text;
};

static void ept_entry_format(struct kunit *test)
{
	const struct ept_format_case cases[] = {
		{ 0, "absent" },
		{ memvirt_pte_mk_private(0x12345), "private" },
		{ memvirt_pte_mk_private(0x12345) | MEMVIRT_PTE_A, "private A" },
		{ memvirt_pte_mk_private(0x12345) | MEMVIRT_PTE_A | MEMVIRT_PTE_D |
		  MEMVIRT_PTE_BUSY, "private A D" },
		{ EPT_SHARED(0xabc) | MEMVIRT_PTE_D, "shared D" },
		{ memvirt_pte_mk_nopage(MEMVIRT_P2M_ZERO), "zero" },
		{ memvirt_pte_mk_nopage(MEMVIRT_P2M_BALLOONED), "ballooned" },
		{ memvirt_pte_mk_stored(MEMVIRT_P2M_COMPRESSED, 0x12345), "compressed" },
		{ memvirt_pte_mk_stored(MEMVIRT_P2M_SWAPPED, MAX_PFN), "swapped" },
		{ memvirt_pte_mk_stored(MEMVIRT_P2M_SWAPPED, 3) | MEMVIRT_PTE_D, "swapped D" },
		{ memvirt_pte_mk_nopage(MEMVIRT_P2M_ERROR), "error" },
		{ memvirt_pte_mk_private(0x12345) | MEMVIRT_PTE_WB, "private WB" },
		{ memvirt_pte_mk_private(0x12345) | MEMVIRT_PTE_A | MEMVIRT_PTE_D |
		  MEMVIRT_PTE_WB | MEMVIRT_PTE_BUSY, "private A D WB" },
		{ FIELD_PREP(MEMVIRT_PTE_STATE_MASK, MEMVIRT_P2M_ERROR + 1), "invalid" },
		{ MEMVIRT_PTE_STATE_MASK, "invalid" },
	};
	const struct ept_format_case *c;
	char buf[64];

	for (c = cases; c < cases + ARRAY_SIZE(cases); c++) {
		KUNIT_EXPECT_EQ(test, memvirt_pte_snprint(buf, sizeof(buf), c->pte),
				(int)strlen(c->text));
		KUNIT_EXPECT_STREQ(test, buf, c->text);
	}
	/* Truncated to the buffer, as scnprintf(). */
	KUNIT_EXPECT_EQ(test, memvirt_pte_snprint(buf, 10, memvirt_pte_mk_private(1) |
						  MEMVIRT_PTE_A | MEMVIRT_PTE_WB), 9);
	KUNIT_EXPECT_STREQ(test, buf, "private A");
}

static struct kunit_case ept_entry_cases[] = {
	KUNIT_CASE(ept_entry_bit_positions),
	KUNIT_CASE(ept_entry_private_layout),
	KUNIT_CASE(ept_entry_private_roundtrip),
	KUNIT_CASE(ept_entry_nopage),
	KUNIT_CASE(ept_entry_stored),
	KUNIT_CASE(ept_entry_state_names),
	KUNIT_CASE(ept_entry_absent_is_zero),
	KUNIT_CASE(ept_entry_predicates),
	KUNIT_CASE(ept_entry_format),
	{}
};

static struct kunit_suite ept_entry_suite = {
	.name = "memvirt_ept_entry",
	.test_cases = ept_entry_cases,
};

/* ---- memvirt_ept_table: lookup, allocation, teardown ---- */

static void ept_table_empty(struct kunit *test)
{
	static const u64 gfns[] = { 0, 1, SPAN_L1, SPAN_L3, MAX_GFN };
	struct memvirt_p2m *p2m = test->priv;
	unsigned int i;

	KUNIT_EXPECT_EQ(test, nr_tables(p2m), 1L);
	for (i = 0; i < ARRAY_SIZE(gfns); i++)
		KUNIT_EXPECT_NULL(test, memvirt_p2m_find(p2m, gfns[i]));
}

struct ept_alloc_step {
	u64 gfn;
	long nr_tables;	/* after allocating @gfn */
};

/* Allocated in this order on an empty P2M (root only). */
static const struct ept_alloc_step ept_alloc_steps[] = {
	{ 0, 4 },			/* levels 3, 2 and 1 */
	{ 1, 4 },			/* same leaf table */
	{ SPAN_L1 - 1, 4 },
	{ SPAN_L1, 5 },			/* 2^9 away: a new leaf table */
	{ 2 * SPAN_L1 - 1, 5 },
	{ SPAN_L2, 7 },			/* 2^18 away: level 2 and leaf */
	{ SPAN_L2 + SPAN_L1, 8 },
	{ SPAN_L3, 11 },		/* 2^27 away: levels 3, 2, 1 */
	{ MAX_GFN, 14 },
	{ 0, 14 },
};

static void ept_table_alloc_counts(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;
	const struct ept_alloc_step *s;
	u64 *ptep;

	for (s = ept_alloc_steps; s < ept_alloc_steps + ARRAY_SIZE(ept_alloc_steps); s++) {
		ptep = memvirt_p2m_find_or_alloc(p2m, s->gfn, GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ptep);
		KUNIT_EXPECT_EQ_MSG(test, nr_tables(p2m), s->nr_tables, "gfn %#llx", s->gfn);
	}
}

static void ept_table_find_after_alloc(struct kunit *test)
{
	static const u64 gfns[] = { 0, 12345, SPAN_L3 + 7, MAX_GFN };
	struct memvirt_p2m *p2m = test->priv;
	unsigned int i;
	u64 *ptep;
	u64 gfn;

	for (i = 0; i < ARRAY_SIZE(gfns); i++) {
		gfn = gfns[i];
		ptep = memvirt_p2m_find_or_alloc(p2m, gfn, GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ptep);
		KUNIT_EXPECT_PTR_EQ(test, memvirt_p2m_find(p2m, gfn), ptep);
		KUNIT_EXPECT_PTR_EQ(test, memvirt_p2m_find_or_alloc(p2m, gfn, GFP_KERNEL), ptep);
		/* Neighbours in a leaf table are neighbours in memory. */
		KUNIT_EXPECT_PTR_EQ(test, memvirt_p2m_find(p2m, round_down(gfn, SPAN_L1)),
				    ptep - gfn % SPAN_L1);
		KUNIT_EXPECT_EQ(test, memvirt_p2m_read(ptep), 0ULL);
	}
}

static void ept_table_max_gfn(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;
	u64 *ptep;

	ptep = memvirt_p2m_find_or_alloc(p2m, MAX_GFN, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ptep);
	KUNIT_EXPECT_PTR_EQ(test, memvirt_p2m_find(p2m, MAX_GFN), ptep);
	KUNIT_EXPECT_NULL(test, memvirt_p2m_find(p2m, 0));
	KUNIT_EXPECT_EQ(test, nr_tables(p2m), 4L);
}

static void ept_table_beyond_max_gfn(struct kunit *test)
{
	static const u64 gfns[] = { MAX_GFN + 1, MAX_GFN + 1 + SPAN_L1, U64_MAX };
	struct memvirt_p2m *p2m = test->priv;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gfns); i++) {
		KUNIT_EXPECT_PTR_EQ(test, memvirt_p2m_find_or_alloc(p2m, gfns[i], GFP_KERNEL),
				    ERR_PTR(-EINVAL));
		KUNIT_EXPECT_NULL(test, memvirt_p2m_find(p2m, gfns[i]));
	}
	KUNIT_EXPECT_EQ(test, nr_tables(p2m), 1L);
}

/* A fully touched 1 GiB guest: 512 leaves + level 2 + level 3 + root. */
static void ept_table_overhead_1g(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;
	const u64 gfns = SZ_1G >> PAGE_SHIFT;
	unsigned long bytes;
	u64 gfn;

	for (gfn = 0; gfn < gfns; gfn += SPAN_L1)
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test,
					     memvirt_p2m_find_or_alloc(p2m, gfn, GFP_KERNEL));
	bytes = memvirt_p2m_overhead_bytes(p2m);
	kunit_info(test, "1 GiB guest: %ld tables, %lu bytes, %lu ppm of guest RAM",
		   nr_tables(p2m), bytes, (unsigned long)div_u64((u64)bytes * 1000000, SZ_1G));
	KUNIT_EXPECT_EQ(test, nr_tables(p2m), 515L);
	KUNIT_EXPECT_EQ(test, bytes, 515 * PAGE_SIZE);
	/* Less than 0.2% of guest RAM. */
	KUNIT_EXPECT_LT(test, (u64)bytes * 500, (u64)SZ_1G);
}

static void ept_table_destroy_frees_all(struct kunit *test)
{
	static const u64 gfns[] = { 0, SPAN_L1, SPAN_L2, SPAN_L3, MAX_GFN };
	struct memvirt_p2m *p2m = test->priv;

	ept_populate(test, gfns, ARRAY_SIZE(gfns));
	/* Root; level 3 for 0, 2^27, max; level 2 for 0, 2^18, ...; 5 leaves. */
	KUNIT_ASSERT_EQ(test, nr_tables(p2m), 1L + 3 + 4 + 5);
	memvirt_p2m_destroy(p2m);
	KUNIT_EXPECT_EQ(test, nr_tables(p2m), 0L);
	KUNIT_EXPECT_NULL(test, p2m->root);
}

static void ept_table_destroy_twice(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;

	memvirt_p2m_destroy(p2m);
	memvirt_p2m_destroy(p2m);
	KUNIT_EXPECT_EQ(test, nr_tables(p2m), 0L);
}

static struct kunit_case ept_table_cases[] = {
	KUNIT_CASE(ept_table_empty),
	KUNIT_CASE(ept_table_alloc_counts),
	KUNIT_CASE(ept_table_find_after_alloc),
	KUNIT_CASE(ept_table_max_gfn),
	KUNIT_CASE(ept_table_beyond_max_gfn),
	KUNIT_CASE(ept_table_overhead_1g),
	KUNIT_CASE(ept_table_destroy_frees_all),
	KUNIT_CASE(ept_table_destroy_twice),
	{}
};

static struct kunit_suite ept_table_suite = {
	.name = "memvirt_ept_table",
	.init = ept_test_init,
	.exit = ept_test_exit,
	.test_cases = ept_table_cases,
};

/* ---- memvirt_ept_iter: the range walk ---- */

/* Five leaf tables: [0, 512), [512, 1024), 2^18, 3 * 2^27 and the last. */
static const u64 ept_iter_gfns[] = {
	0, SPAN_L1 - 1, SPAN_L1, SPAN_L2 + 5, 3 * SPAN_L3 + 7, MAX_GFN,
};

static bool ept_iter_gfn_expected(u64 gfn)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ept_iter_gfns); i++)
		if (round_down(gfn, SPAN_L1) == round_down(ept_iter_gfns[i], SPAN_L1))
			return true;
	return false;
}

struct ept_iter_case {
	const char *name;
	u64 start, end;
	u64 visited;
};

static const struct ept_iter_case ept_iter_cases[] = {
	{ "everything", 0, MAX_GFN + 1, 5 * SPAN_L1 },
	{ "empty", 0, 0, 0 },
	{ "inverted", 10, 5, 0 },
	{ "mid tables", 5, 600, 507 + 88 },
	{ "across a table edge", SPAN_L1 - 1, SPAN_L1 + 1, 2 },
	{ "one leaf table", 0, SPAN_L1, SPAN_L1 },
	{ "table then hole", 2 * SPAN_L1 - 1, 2 * SPAN_L1 + 1, 1 },
	{ "inside a hole", 2 * SPAN_L1, SPAN_L2, 0 },
	{ "across holes", SPAN_L2 + 100, 3 * SPAN_L3 + 10, 412 + 10 },
	{ "one gfn", 3 * SPAN_L3 + 7, 3 * SPAN_L3 + 8, 1 },
	{ "last gfn", MAX_GFN, MAX_GFN + 1, 1 },
	{ "end clamped", MAX_GFN - 1000, U64_MAX, SPAN_L1 },
	{ "everything, end clamped", 0, U64_MAX, 5 * SPAN_L1 },
	{ "past the last gfn", MAX_GFN + 1, U64_MAX, 0 },
};

static void ept_iter_case_desc(const struct ept_iter_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s [%#llx, %#llx)", c->name, c->start, c->end);
}

KUNIT_ARRAY_PARAM(ept_iter, ept_iter_cases, ept_iter_case_desc);

/* The walk visits exactly the gfns of existing leaf tables in the range. */
static void ept_iter_range(struct kunit *test)
{
	const struct ept_iter_case *c = test->param_value;
	struct memvirt_p2m *p2m = test->priv;
	struct memvirt_p2m_iter iter;
	u64 visited = 0, prev = 0;

	ept_populate(test, ept_iter_gfns, ARRAY_SIZE(ept_iter_gfns));
	for_each_p2m_entry(iter, p2m, c->start, c->end) {
		if ((visited && iter.gfn <= prev) || iter.gfn < c->start ||
		    iter.gfn >= c->end || !ept_iter_gfn_expected(iter.gfn) ||
		    iter.ptep != memvirt_p2m_find(p2m, iter.gfn)) {
			KUNIT_FAIL(test, "unexpected gfn %#llx (previous %#llx)", iter.gfn, prev);
			break;
		}
		prev = iter.gfn;
		visited++;
	}
	KUNIT_EXPECT_EQ(test, visited, c->visited);
}

/* Two leaf tables at the ends of the gfn space: the holes are skipped whole. */
static void ept_iter_skips_holes(struct kunit *test)
{
	static const u64 gfns[] = { 0, MAX_GFN };
	struct memvirt_p2m *p2m = test->priv;
	struct memvirt_p2m_iter iter;
	u64 visited = 0, last = 0;
	ktime_t start;
	s64 ms;

	ept_populate(test, gfns, ARRAY_SIZE(gfns));
	start = ktime_get();
	for_each_p2m_entry(iter, p2m, 0, MAX_GFN + 1) {
		last = iter.gfn;
		visited++;
	}
	ms = ktime_ms_delta(ktime_get(), start);
	kunit_info(test, "walked 2^36 gfns, 2 leaf tables, in %lld ms", ms);
	KUNIT_EXPECT_EQ(test, visited, 2 * SPAN_L1);
	KUNIT_EXPECT_EQ(test, last, MAX_GFN);
	/* A gfn-by-gfn walk would take hours. */
	KUNIT_EXPECT_LT(test, ms, 10000LL);
}

static void ept_iter_empty_p2m(struct kunit *test)
{
	struct memvirt_p2m_iter iter;

	memvirt_p2m_iter_start(&iter, test->priv, 0, MAX_GFN + 1);
	KUNIT_EXPECT_FALSE(test, iter.valid);
}

static struct kunit_case ept_iter_cases_list[] = {
	KUNIT_CASE_PARAM(ept_iter_range, ept_iter_gen_params),
	KUNIT_CASE(ept_iter_skips_holes),
	KUNIT_CASE(ept_iter_empty_p2m),
	{}
};

static struct kunit_suite ept_iter_suite = {
	.name = "memvirt_ept_iter",
	.init = ept_test_init,
	.exit = ept_test_exit,
	.test_cases = ept_iter_cases_list,
};

/* ---- memvirt_ept_lock: the gfn lock and entry updates ---- */

static u64 *ept_test_ptep(struct kunit *test, u64 gfn)
{
	u64 *ptep = memvirt_p2m_find_or_alloc(test->priv, gfn, GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ptep);
	return ptep;
}

static void ept_lock_sets_busy(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;
	u64 *ptep = ept_test_ptep(test, 42);

	memvirt_p2m_lock_gfn(p2m, ptep);
	KUNIT_EXPECT_TRUE(test, memvirt_p2m_gfn_is_locked(ptep));
	KUNIT_EXPECT_EQ(test, READ_ONCE(*ptep), MEMVIRT_PTE_BUSY);
	/* Readers never see the lock bit. */
	KUNIT_EXPECT_EQ(test, memvirt_p2m_read(ptep), 0ULL);
	memvirt_p2m_unlock_gfn(p2m, ptep);
	KUNIT_EXPECT_FALSE(test, memvirt_p2m_gfn_is_locked(ptep));
	KUNIT_EXPECT_EQ(test, READ_ONCE(*ptep), 0ULL);
}

static void ept_lock_set_preserves_busy(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;
	u64 *ptep = ept_test_ptep(test, 42);
	u64 pte = memvirt_pte_mk_nopage(MEMVIRT_P2M_ZERO) | MEMVIRT_PTE_D;

	memvirt_p2m_lock_gfn(p2m, ptep);
	memvirt_p2m_set(ptep, pte);
	KUNIT_EXPECT_TRUE(test, memvirt_p2m_gfn_is_locked(ptep));
	KUNIT_EXPECT_EQ(test, memvirt_p2m_read(ptep), pte);
	memvirt_p2m_unlock_gfn(p2m, ptep);
	KUNIT_EXPECT_EQ(test, READ_ONCE(*ptep), pte);
}

/* A BUSY bit in the new value neither takes nor keeps the lock. */
static void ept_lock_set_ignores_busy_in_value(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;
	u64 *ptep = ept_test_ptep(test, 42);
	u64 pte = memvirt_pte_mk_nopage(MEMVIRT_P2M_BALLOONED);

	memvirt_p2m_lock_gfn(p2m, ptep);
	memvirt_p2m_set(ptep, pte | MEMVIRT_PTE_BUSY);
	memvirt_p2m_unlock_gfn(p2m, ptep);
	KUNIT_EXPECT_FALSE(test, memvirt_p2m_gfn_is_locked(ptep));
	KUNIT_EXPECT_EQ(test, memvirt_p2m_read(ptep), pte);
}

static void ept_lock_set_read_roundtrip(struct kunit *test)
{
	const u64 ptes[] = {
		0x0010000012345077ULL,		/* memvirt_pte_mk_private(0x12345) */
		0x001ffffffffff377ULL,		/* private, widest PFN, A and D */
		EPT_SHARED(0xabcde) | MEMVIRT_PTE_R | MEMVIRT_PTE_A,
		0x0020000000000000ULL,		/* zero */
		0x0040000000000200ULL,		/* ballooned, dirty */
		0x0050000000000000ULL,		/* compressed, cache id 0 */
		0x00500ffffffff000ULL,		/* compressed, cache id U32_MAX */
		0x006ffffffffff000ULL,		/* swapped, the last slot */
		0x0070000000000000ULL,		/* error */
		0x0210000012345377ULL,		/* private, A, D, WB */
		0,
	};
	struct memvirt_p2m *p2m = test->priv;
	u64 *ptep = ept_test_ptep(test, MAX_GFN);
	unsigned int i;

	memvirt_p2m_lock_gfn(p2m, ptep);
	for (i = 0; i < ARRAY_SIZE(ptes); i++) {
		memvirt_p2m_set(ptep, ptes[i]);
		KUNIT_EXPECT_EQ(test, memvirt_p2m_read(ptep), ptes[i]);
	}
	/* The last value is ABSENT: the P2M can be destroyed. */
	memvirt_p2m_unlock_gfn(p2m, ptep);
}

struct ept_waiter {
	struct memvirt_p2m *p2m;
	u64 *ptep;
	struct completion acquired;
	struct completion done;
};

static int ept_waiter_thread(void *data)
{
	struct ept_waiter *w = data;

	memvirt_p2m_lock_gfn(w->p2m, w->ptep);
	complete(&w->acquired);
	memvirt_p2m_unlock_gfn(w->p2m, w->ptep);
	kthread_complete_and_exit(&w->done, 0);
}

/* A second task sleeps until the holder unlocks, then gets the lock. */
static void ept_lock_excludes_waiter(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;
	struct ept_waiter w = { .p2m = p2m, .ptep = ept_test_ptep(test, 42) };
	struct task_struct *task;
	bool early;

	init_completion(&w.acquired);
	init_completion(&w.done);
	memvirt_p2m_lock_gfn(p2m, w.ptep);
	task = kthread_run(ept_waiter_thread, &w, "memvirt_ept_waiter");
	if (IS_ERR(task)) {
		memvirt_p2m_unlock_gfn(p2m, w.ptep);
		KUNIT_FAIL_AND_ABORT(test, "kthread_run: %ld", PTR_ERR(task));
	}
	early = wait_for_completion_timeout(&w.acquired, msecs_to_jiffies(200));
	memvirt_p2m_unlock_gfn(p2m, w.ptep);
	KUNIT_EXPECT_FALSE_MSG(test, early, "waiter got a held gfn lock");
	KUNIT_EXPECT_TRUE_MSG(test, wait_for_completion_timeout(&w.acquired, 5 * HZ),
			      "waiter not woken by unlock");
	/* @w lives on this stack: the thread must be gone before we return. */
	wait_for_completion(&w.done);
}

static struct kunit_case ept_lock_cases[] = {
	KUNIT_CASE(ept_lock_sets_busy),
	KUNIT_CASE(ept_lock_set_preserves_busy),
	KUNIT_CASE(ept_lock_set_ignores_busy_in_value),
	KUNIT_CASE(ept_lock_set_read_roundtrip),
	KUNIT_CASE(ept_lock_excludes_waiter),
	{}
};

static struct kunit_suite ept_lock_suite = {
	.name = "memvirt_ept_lock",
	.init = ept_test_init,
	.exit = ept_test_exit,
	.test_cases = ept_lock_cases,
};

/* ---- memvirt_ept_concurrency: workers racing on a fresh P2M ---- */

#define EPT_WORKERS	4

/* What the workers of one case share. */
struct ept_race {
	struct memvirt_p2m *p2m;
	struct completion go;		/* releases all workers at once */
	atomic_t arrived;		/* ept_race_sync() calls, all workers */
	unsigned int nr_workers;
};

struct ept_worker {
	struct ept_race *race;
	int (*fn)(struct ept_worker *w);
	struct completion done;
	unsigned int id;
	int err;
	u64 **pteps;	/* ept_worker_install(): the entry it got per gfn */
};

/*
 * Barrier: the @round-th call (counting from 0) returns once every worker
 * made it. Spins, so that the workers leave it together.
 */
static void ept_race_sync(struct ept_race *race, unsigned int round)
{
	atomic_inc(&race->arrived);
	while (atomic_read(&race->arrived) < (round + 1) * race->nr_workers) {
		cpu_relax();
		cond_resched();
	}
}

static int ept_worker_thread(void *data)
{
	struct ept_worker *w = data;

	wait_for_completion(&w->race->go);
	w->err = w->fn(w);
	kthread_complete_and_exit(&w->done, 0);
}

/* Run the @nr workers @w in threads released together; wait for them. */
static void ept_run_workers(struct kunit *test, struct ept_worker *w, unsigned int nr)
{
	struct ept_race race = { .p2m = test->priv, .nr_workers = nr };
	struct task_struct *task;
	unsigned int i, started;

	init_completion(&race.go);
	for (started = 0; started < nr; started++) {
		w[started].race = &race;
		w[started].id = started;
		init_completion(&w[started].done);
		task = kthread_create(ept_worker_thread, &w[started], "memvirt_ept/%u", started);
		if (IS_ERR(task))
			break;
		/* Spread over the CPUs: workers sharing one would never overlap. */
		kthread_bind(task, cpumask_nth(started % num_online_cpus(), cpu_online_mask));
		wake_up_process(task);
	}
	/* A missing worker would leave the others in ept_race_sync(). */
	race.nr_workers = started;
	complete_all(&race.go);
	for (i = 0; i < started; i++) {
		if (wait_for_completion_timeout(&w[i].done, 60 * HZ))
			continue;
		KUNIT_FAIL(test, "worker %u stuck for 60 s", i);
		/* Its data lives on this stack. */
		wait_for_completion(&w[i].done);
	}
	KUNIT_ASSERT_EQ_MSG(test, started, nr, "kthread_run failed");
	for (i = 0; i < nr; i++)
		KUNIT_ASSERT_EQ_MSG(test, w[i].err, 0, "worker %u", i);
}

/*
 * The install race: the workers allocate, in lock step, gfns that each need
 * a new level-3, level-2 and leaf table, so they collide on empty entries of
 * every level: 1 + 3 * 512 tables in the end.
 */
#define EPT_INSTALL_NR		MEMVIRT_P2M_ENTRIES
#define EPT_INSTALL_TABLES	(1L + 3 * EPT_INSTALL_NR)

static u64 ept_install_gfn(unsigned int i)
{
	return i * (SPAN_L3 + SPAN_L2 + SPAN_L1);
}

static int ept_worker_install(struct ept_worker *w)
{
	unsigned int i;
	u64 *ptep;

	for (i = 0; i < EPT_INSTALL_NR; i++) {
		ept_race_sync(w->race, i);
		ptep = memvirt_p2m_find_or_alloc(w->race->p2m, ept_install_gfn(i), GFP_KERNEL);
		if (IS_ERR(ptep))
			return PTR_ERR(ptep);
		w->pteps[i] = ptep;
	}
	return 0;
}

/* Racing installs agree on every entry and leak no table. */
static void ept_concurrency_install(struct kunit *test)
{
	/* As many workers as CPUs: they spin in lock step. */
	unsigned int nr = min_t(unsigned int, num_online_cpus(), EPT_WORKERS);
	struct memvirt_p2m *p2m = test->priv;
	struct ept_worker w[EPT_WORKERS] = {};
	unsigned int i, j;
	u64 *ptep;

	/* Without preemption, one CPU runs each find_or_alloc() to its end. */
	if (nr < 2)
		kunit_skip(test, "installs race only with 2 or more CPUs");
	for (i = 0; i < nr; i++) {
		w[i].fn = ept_worker_install;
		w[i].pteps = kunit_kcalloc(test, EPT_INSTALL_NR, sizeof(u64 *), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, w[i].pteps);
	}
	ept_run_workers(test, w, nr);
	for (j = 0; j < EPT_INSTALL_NR; j++) {
		ptep = memvirt_p2m_find(p2m, ept_install_gfn(j));
		for (i = 0; i < nr; i++)
			if (w[i].pteps[j] != ptep)
				break;
		if (i < nr) {
			KUNIT_FAIL(test, "worker %u got an orphan entry for gfn %#llx",
				   i, ept_install_gfn(j));
			break;
		}
	}
	KUNIT_EXPECT_EQ(test, nr_tables(p2m), EPT_INSTALL_TABLES);
}

/*
 * The counters: same leaf table, neighbouring leaf tables and distant
 * subtrees. Tables: root; level 3 for 0, 5 * 2^27, max (3); level 2 for 0,
 * 2^18, 5 * 2^27, max (4); leaves for 0, 512, 2^18, 5 * 2^27, max (5).
 */
static const u64 ept_count_gfns[] = {
	0, 1, SPAN_L1 - 1, SPAN_L1, SPAN_L2, 5 * SPAN_L3 + 3, MAX_GFN,
};

#define EPT_COUNT_NR		ARRAY_SIZE(ept_count_gfns)
#define EPT_COUNT_TABLES	(1L + 3 + 4 + 5)
#define EPT_COUNT_ROUNDS	256

/* Count in the PFN field of a no-page entry, under the gfn lock. */
static int ept_worker_count(struct ept_worker *w)
{
	struct memvirt_p2m *p2m = w->race->p2m;
	unsigned int round, i;
	u64 *ptep;
	u64 pte;

	for (round = 0; round < EPT_COUNT_ROUNDS; round++) {
		for (i = 0; i < EPT_COUNT_NR; i++) {
			/* Each worker starts at a different gfn. */
			ptep = memvirt_p2m_find_or_alloc(p2m,
							 ept_count_gfns[(i + w->id) % EPT_COUNT_NR],
							 GFP_KERNEL);
			if (IS_ERR(ptep))
				return PTR_ERR(ptep);
			memvirt_p2m_lock_gfn(p2m, ptep);
			pte = memvirt_p2m_read(ptep);
			/* Now and then, sleep holding the lock: waiters must sleep too. */
			if (round % 64 == w->id)
				usleep_range(50, 100);
			memvirt_p2m_set(ptep, memvirt_pte_mk_nopage(MEMVIRT_P2M_ZERO) |
				FIELD_PREP(MEMVIRT_PTE_PFN_MASK, memvirt_pte_pfn(pte) + 1));
			memvirt_p2m_unlock_gfn(p2m, ptep);
		}
		cond_resched();
	}
	return 0;
}

/* Read-modify-write under the gfn lock loses no update. */
static void ept_concurrency_counters(struct kunit *test)
{
	struct memvirt_p2m *p2m = test->priv;
	struct ept_worker w[EPT_WORKERS] = {};
	unsigned int j;
	u64 *ptep;

	for (j = 0; j < EPT_WORKERS; j++)
		w[j].fn = ept_worker_count;
	ept_run_workers(test, w, EPT_WORKERS);
	for (j = 0; j < EPT_COUNT_NR; j++) {
		ptep = memvirt_p2m_find(p2m, ept_count_gfns[j]);
		KUNIT_ASSERT_NOT_NULL(test, ptep);
		KUNIT_EXPECT_FALSE(test, memvirt_p2m_gfn_is_locked(ptep));
		KUNIT_EXPECT_EQ_MSG(test, memvirt_pte_pfn(memvirt_p2m_read(ptep)),
				    (unsigned long)EPT_WORKERS * EPT_COUNT_ROUNDS,
				    "gfn %#llx", ept_count_gfns[j]);
	}
	KUNIT_EXPECT_EQ(test, nr_tables(p2m), EPT_COUNT_TABLES);
}

static struct kunit_case ept_concurrency_cases[] = {
	KUNIT_CASE(ept_concurrency_install),
	KUNIT_CASE(ept_concurrency_counters),
	{}
};

static struct kunit_suite ept_concurrency_suite = {
	.name = "memvirt_ept_concurrency",
	.init = ept_test_init,
	.exit = ept_test_exit,
	.test_cases = ept_concurrency_cases,
};

kunit_test_suites(&ept_entry_suite, &ept_table_suite, &ept_iter_suite, &ept_lock_suite,
		  &ept_concurrency_suite);
