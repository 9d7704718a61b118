// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the sharing tables on their own (insert, look up, remove, hint
 * slots, collisions, salts), with small private tables.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "dedup/dedup.h"

#define FRAME_BITS	4
#define HINT_BITS	4

static struct memvirt_dedup_table *table_create(struct kunit *test)
{
	struct memvirt_dedup_table *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, memvirt_dedup_table_init(t, FRAME_BITS, HINT_BITS), 0);
	return t;
}

/* Frames: found by (realm, hash) only, gone once removed. */
static void memvirt_dedup_frames(struct kunit *test)
{
	struct memvirt_dedup_table *t = table_create(test);
	struct memvirt_frame a = { .hash = 1, .realm = 10 }, b = { .hash = 1, .realm = 11 };
	struct memvirt_frame c = { .hash = 2, .realm = 10 };

	spin_lock(&t->lock);
	KUNIT_EXPECT_NULL(test, memvirt_dedup_frame_find(t, 10, 1));
	memvirt_dedup_frame_insert(t, &a);
	memvirt_dedup_frame_insert(t, &b);
	memvirt_dedup_frame_insert(t, &c);
	KUNIT_EXPECT_EQ(test, t->nr_frames, 3UL);
	KUNIT_EXPECT_PTR_EQ(test, memvirt_dedup_frame_find(t, 10, 1), &a);
	/* Same hash, another realm: another frame, never this one. */
	KUNIT_EXPECT_PTR_EQ(test, memvirt_dedup_frame_find(t, 11, 1), &b);
	KUNIT_EXPECT_PTR_EQ(test, memvirt_dedup_frame_find(t, 10, 2), &c);
	KUNIT_EXPECT_NULL(test, memvirt_dedup_frame_find(t, 12, 1));
	memvirt_dedup_frame_remove(t, &a);
	KUNIT_EXPECT_NULL(test, memvirt_dedup_frame_find(t, 10, 1));
	KUNIT_EXPECT_PTR_EQ(test, memvirt_dedup_frame_find(t, 11, 1), &b);
	memvirt_dedup_frame_remove(t, &b);
	memvirt_dedup_frame_remove(t, &c);
	KUNIT_EXPECT_EQ(test, t->nr_frames, 0UL);
	spin_unlock(&t->lock);
	memvirt_dedup_table_destroy(t);
}

/* Many frames in few buckets: chains hold them all. */
static void memvirt_dedup_frame_chains(struct kunit *test)
{
	struct memvirt_dedup_table *t = table_create(test);
	const int n = 8 << FRAME_BITS;
	struct memvirt_frame *f;
	int i;

	f = kunit_kcalloc(test, n, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	spin_lock(&t->lock);
	for (i = 0; i < n; i++) {
		f[i].hash = i * 0x9e3779b97f4a7c15ULL;
		f[i].realm = 7;
		memvirt_dedup_frame_insert(t, &f[i]);
	}
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_PTR_EQ(test, memvirt_dedup_frame_find(t, 7, f[i].hash), &f[i]);
	for (i = 0; i < n; i += 2)
		memvirt_dedup_frame_remove(t, &f[i]);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_PTR_EQ(test, memvirt_dedup_frame_find(t, 7, f[i].hash),
				    i % 2 ? &f[i] : NULL);
	for (i = 1; i < n; i += 2)
		memvirt_dedup_frame_remove(t, &f[i]);
	spin_unlock(&t->lock);
	KUNIT_EXPECT_EQ(test, t->nr_frames, 0UL);
	memvirt_dedup_table_destroy(t);
}

/* Hints: set, taken once, realm-checked, and replaced in a full set. */
static void memvirt_dedup_hints(struct kunit *test)
{
	struct memvirt_dedup_table *t = table_create(test);
	u64 hashes[MEMVIRT_HINT_WAYS + 2], other;
	struct memvirt_dedup_hint h, *slot;
	unsigned int i, found;

	spin_lock(&t->lock);
	KUNIT_EXPECT_FALSE(test, memvirt_dedup_hint_take(t, 1, 100, &h));
	memvirt_dedup_hint_set(t, 1, 100, 5, 0x42);
	KUNIT_EXPECT_EQ(test, t->nr_hints, 1UL);
	/* Another realm with the same hash is not this hint. */
	if (memvirt_dedup_hint_slot(t, 2, 100) == memvirt_dedup_hint_slot(t, 1, 100))
		KUNIT_EXPECT_FALSE(test, memvirt_dedup_hint_take(t, 2, 100, &h));
	KUNIT_ASSERT_TRUE(test, memvirt_dedup_hint_take(t, 1, 100, &h));
	KUNIT_EXPECT_EQ(test, h.vm_id, 5ULL);
	KUNIT_EXPECT_EQ(test, h.gfn, 0x42ULL);
	KUNIT_EXPECT_EQ(test, h.hash, 100ULL);
	KUNIT_EXPECT_EQ(test, h.realm, 1ULL);
	KUNIT_EXPECT_FALSE(test, memvirt_dedup_hint_take(t, 1, 100, &h));
	KUNIT_EXPECT_EQ(test, t->nr_hints, 0UL);

	/*
	 * A set holds MEMVIRT_HINT_WAYS colliding hashes; one more replaces
	 * exactly one of them, and the next one another.
	 */
	slot = memvirt_dedup_hint_slot(t, 1, 100);
	hashes[0] = 100;
	for (i = 1, other = 101; i < ARRAY_SIZE(hashes); other++)
		if (memvirt_dedup_hint_slot(t, 1, other) == slot)
			hashes[i++] = other;
	for (i = 0; i < MEMVIRT_HINT_WAYS; i++)
		memvirt_dedup_hint_set(t, 1, hashes[i], 5, i);
	KUNIT_EXPECT_EQ(test, t->nr_hints, (unsigned long)MEMVIRT_HINT_WAYS);
	/* Setting a hint again replaces it in place. */
	memvirt_dedup_hint_set(t, 1, hashes[0], 5, 0);
	KUNIT_EXPECT_EQ(test, t->nr_hints, (unsigned long)MEMVIRT_HINT_WAYS);
	for (i = 0; i < MEMVIRT_HINT_WAYS; i++)
		KUNIT_EXPECT_EQ(test, slot[i].hash, hashes[i]);
	memvirt_dedup_hint_set(t, 1, hashes[MEMVIRT_HINT_WAYS], 6, 9);
	memvirt_dedup_hint_set(t, 1, hashes[MEMVIRT_HINT_WAYS + 1], 6, 10);
	KUNIT_EXPECT_EQ(test, t->nr_hints, (unsigned long)MEMVIRT_HINT_WAYS);
	/* The two newest are kept; two of the four older ones made room. */
	KUNIT_ASSERT_TRUE(test, memvirt_dedup_hint_take(t, 1, hashes[MEMVIRT_HINT_WAYS], &h));
	KUNIT_EXPECT_EQ(test, h.gfn, 9ULL);
	KUNIT_ASSERT_TRUE(test, memvirt_dedup_hint_take(t, 1, hashes[MEMVIRT_HINT_WAYS + 1], &h));
	KUNIT_EXPECT_EQ(test, h.gfn, 10ULL);
	for (i = 0, found = 0; i < MEMVIRT_HINT_WAYS; i++)
		found += memvirt_dedup_hint_take(t, 1, hashes[i], &h);
	KUNIT_EXPECT_EQ(test, found, MEMVIRT_HINT_WAYS - 2);
	KUNIT_EXPECT_EQ(test, t->nr_hints, 0UL);
	spin_unlock(&t->lock);
	memvirt_dedup_table_destroy(t);
}

/* Salts differ per realm and per key; the hash depends on salt and bytes. */
static void memvirt_dedup_salts(struct kunit *test)
{
	siphash_key_t k1 = { { 1, 2 } }, k2 = { { 3, 4 } };
	u8 *page = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	u64 s1, s2, h1, h2;

	KUNIT_ASSERT_NOT_NULL(test, page);
	s1 = memvirt_dedup_salt(&k1, 1);
	s2 = memvirt_dedup_salt(&k1, 2);
	KUNIT_EXPECT_NE(test, s1, s2);
	KUNIT_EXPECT_EQ(test, memvirt_dedup_salt(&k1, 1), s1);
	KUNIT_EXPECT_NE(test, memvirt_dedup_salt(&k2, 1), s1);
	memset(page, 0xab, PAGE_SIZE);
	h1 = memvirt_dedup_hash(page, s1);
	h2 = memvirt_dedup_hash(page, s2);
	/* The same bytes in two realms hash apart. */
	KUNIT_EXPECT_NE(test, h1, h2);
	KUNIT_EXPECT_EQ(test, memvirt_dedup_hash(page, s1), h1);
	page[PAGE_SIZE - 1] ^= 1;	/* the last byte counts too */
	KUNIT_EXPECT_NE(test, memvirt_dedup_hash(page, s1), h1);
}

static struct kunit_case memvirt_dedup_table_cases[] = {
	KUNIT_CASE(memvirt_dedup_frames),
	KUNIT_CASE(memvirt_dedup_frame_chains),
	KUNIT_CASE(memvirt_dedup_hints),
	KUNIT_CASE(memvirt_dedup_salts),
	{}
};

static struct kunit_suite memvirt_dedup_table_suite = {
	.name = "memvirt_dedup_table",
	.test_cases = memvirt_dedup_table_cases,
};

kunit_test_suite(memvirt_dedup_table_suite);

MODULE_IMPORT_NS(MEMVIRT_KUNIT);
