// SPDX-License-Identifier: GPL-2.0
/*
 * The sharing tables: salted content hashes, hint frames and shared frames.
 *
 * DOC: hashes, salts and realms
 *
 * A page's content is hashed with xxh64, seeded with the salt of its
 * *realm*: the sharing domain of its VM, or, for a VM in no domain, the VM
 * itself. Salts are SipHash of the realm under a key drawn at module load,
 * so they are unpredictable, differ per realm and cost no memory. Every
 * table entry also carries its realm and every lookup compares it: two
 * realms can never share a frame, even if their hashes collided.
 *
 * DOC: the hint table
 *
 * A hint records the first unshared gfn (VM id and gfn) seen with a hash:
 * the ESX "hint frame". It costs no reference and no lock on the gfn; the
 * page may change or go away, so a hit is only a hint: the sharing pass
 * locks the gfn, unmaps it, rehashes it and only then makes it a frame.
 * The table is a fixed array sized from RAM at load, in sets of
 * MEMVIRT_HINT_WAYS slots chosen by hash: a new hint takes a free slot of
 * its set, or replaces the slot a clock points to. Memory stays bounded
 * whatever the guests hold, at the price of forgetting some hints; sets
 * rather than single slots, and a clock rather than a fixed victim, keep
 * two contents that collide from evicting each other in every scan (the
 * scanner visits gfns in the same order each time).
 *
 * DOC: the shared-frame table
 *
 * Frames hang in hash chains keyed by (realm, hash). A frame counts its
 * sharers (the SHARED gfns naming it); page_private() of its page points
 * to it, so a gfn finds its frame through its P2M entry's PFN, and every
 * operation on a shared gfn (copy-on-write, punch, truncate, teardown)
 * starts from the gfn. The frame leaves the table with its last sharer.
 */
#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/xxhash.h>

#include "dedup/dedup.h"
#include "module/kunit_export.h"

/**
 * memvirt_dedup_table_init - allocate empty tables.
 * @t: the tables.
 * @frame_bits: log2 of the number of frame buckets.
 * @hint_bits: log2 of the number of hint slots.
 *
 * Return: 0 or -ENOMEM.
 */
int memvirt_dedup_table_init(struct memvirt_dedup_table *t, unsigned int frame_bits,
			     unsigned int hint_bits)
{
	spin_lock_init(&t->lock);
	t->frame_bits = frame_bits;
	t->hint_bits = hint_bits;
	t->nr_frames = 0;
	t->nr_hints = 0;
	t->hint_clock = 0;
	t->buckets = kvcalloc(BIT(frame_bits), sizeof(*t->buckets), GFP_KERNEL);
	t->hints = kvcalloc(BIT(hint_bits), sizeof(*t->hints), GFP_KERNEL);
	if (!t->buckets || !t->hints) {
		memvirt_dedup_table_destroy(t);
		return -ENOMEM;
	}
	return 0;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_table_init);

/* Frames must be gone: they belong to VMs, which are all torn down. */
void memvirt_dedup_table_destroy(struct memvirt_dedup_table *t)
{
	WARN_ON(t->nr_frames);
	kvfree(t->buckets);
	kvfree(t->hints);
	t->buckets = NULL;
	t->hints = NULL;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_table_destroy);

/* The salted hash of one page's bytes. */
u64 memvirt_dedup_hash(const void *data, u64 salt)
{
	return xxh64(data, PAGE_SIZE, salt);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_hash);

/* The salt of @realm under @key. */
u64 memvirt_dedup_salt(const siphash_key_t *key, u64 realm)
{
	return siphash_1u64(realm, key);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_salt);

static struct hlist_head *memvirt_dedup_bucket(struct memvirt_dedup_table *t, u64 realm,
					       u64 hash)
{
	return &t->buckets[hash_64(hash ^ realm, t->frame_bits)];
}

/**
 * memvirt_dedup_frame_find - the frame of (@realm, @hash).
 * @t: the tables; caller holds @t->lock.
 * @realm: the realm.
 * @hash: the salted hash.
 *
 * Return: the frame, or NULL.
 */
struct memvirt_frame *memvirt_dedup_frame_find(struct memvirt_dedup_table *t, u64 realm,
					       u64 hash)
{
	struct memvirt_frame *f;

	lockdep_assert_held(&t->lock);
	hlist_for_each_entry(f, memvirt_dedup_bucket(t, realm, hash), node)
		if (f->hash == hash && f->realm == realm)
			return f;
	return NULL;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_frame_find);

/* Caller holds @t->lock; (realm, hash) is not in the table yet. */
void memvirt_dedup_frame_insert(struct memvirt_dedup_table *t, struct memvirt_frame *f)
{
	lockdep_assert_held(&t->lock);
	hlist_add_head(&f->node, memvirt_dedup_bucket(t, f->realm, f->hash));
	t->nr_frames++;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_frame_insert);

/* Caller holds @t->lock. */
void memvirt_dedup_frame_remove(struct memvirt_dedup_table *t, struct memvirt_frame *f)
{
	lockdep_assert_held(&t->lock);
	hlist_del_init(&f->node);
	t->nr_frames--;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_frame_remove);

/* The set of slots (@realm, @hash) maps to. Caller holds @t->lock. */
struct memvirt_dedup_hint *memvirt_dedup_hint_slot(struct memvirt_dedup_table *t,
						   u64 realm, u64 hash)
{
	lockdep_assert_held(&t->lock);
	return &t->hints[hash_64(hash ^ (realm * GOLDEN_RATIO_64), t->hint_bits) &
			 ~(MEMVIRT_HINT_WAYS - 1)];
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_hint_slot);

/* The slot of the set that holds (@realm, @hash), or NULL. */
static struct memvirt_dedup_hint *memvirt_dedup_hint_find(struct memvirt_dedup_hint *set,
							  u64 realm, u64 hash)
{
	unsigned int i;

	for (i = 0; i < MEMVIRT_HINT_WAYS; i++)
		if (set[i].vm_id && set[i].hash == hash && set[i].realm == realm)
			return &set[i];
	return NULL;
}

/**
 * memvirt_dedup_hint_take - remove and return the hint of (@realm, @hash).
 * @t: the tables; caller holds @t->lock.
 * @realm: the realm.
 * @hash: the salted hash.
 * @out: the hint, if there was one.
 *
 * Return: true if a slot held a hint for exactly (@realm, @hash).
 */
bool memvirt_dedup_hint_take(struct memvirt_dedup_table *t, u64 realm, u64 hash,
			     struct memvirt_dedup_hint *out)
{
	struct memvirt_dedup_hint *h;

	h = memvirt_dedup_hint_find(memvirt_dedup_hint_slot(t, realm, hash), realm, hash);
	if (!h)
		return false;
	*out = *h;
	h->vm_id = 0;
	t->nr_hints--;
	return true;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_hint_take);

/*
 * Record gfn @gfn of VM @vm_id as the hint of (@realm, @hash): in the slot
 * that has that hint already, else a free one, else the clock's victim.
 * Caller holds @t->lock.
 */
void memvirt_dedup_hint_set(struct memvirt_dedup_table *t, u64 realm, u64 hash,
			    u64 vm_id, u64 gfn)
{
	struct memvirt_dedup_hint *set = memvirt_dedup_hint_slot(t, realm, hash), *h;
	unsigned int i;

	h = memvirt_dedup_hint_find(set, realm, hash);
	for (i = 0; !h && i < MEMVIRT_HINT_WAYS; i++)
		if (!set[i].vm_id)
			h = &set[i];
	if (!h)
		h = &set[t->hint_clock++ % MEMVIRT_HINT_WAYS];
	if (!h->vm_id)
		t->nr_hints++;
	h->hash = hash;
	h->realm = realm;
	h->vm_id = vm_id;
	h->gfn = gfn;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_hint_set);

#define MEMVIRT_CHAIN_HIST	5	/* chains of 0, 1, 2, 3, 4 and more frames */
#define MEMVIRT_SHARERS_HIST	12	/* 1, 2-3, 4-7, ..., 1024-2047, 2048 and more */
#define MEMVIRT_SHOW_STRIDE	1024	/* buckets per hold of the lock */

/**
 * memvirt_dedup_table_show - the tables' shape, for debugfs.
 * @t: the tables.
 * @m: where to print "key value" lines.
 *
 * Takes the lock a stride of buckets at a time, so the figures are a
 * consistent view of each stride, not of the whole table.
 */
void memvirt_dedup_table_show(struct memvirt_dedup_table *t, struct seq_file *m)
{
	unsigned long chains[MEMVIRT_CHAIN_HIST] = {}, sharers[MEMVIRT_SHARERS_HIST] = {};
	unsigned long b, i, len, max_chain = 0, frames = 0, nr_hints;
	struct memvirt_frame *f;

	for (b = 0; b < BIT(t->frame_bits); b += MEMVIRT_SHOW_STRIDE) {
		spin_lock(&t->lock);
		for (i = b; i < min(b + MEMVIRT_SHOW_STRIDE, BIT(t->frame_bits)); i++) {
			len = 0;
			hlist_for_each_entry(f, &t->buckets[i], node) {
				len++;
				sharers[min_t(unsigned int, f->sharers ? ilog2(f->sharers) : 0,
					      MEMVIRT_SHARERS_HIST - 1)]++;
			}
			chains[min_t(unsigned long, len, MEMVIRT_CHAIN_HIST - 1)]++;
			max_chain = max(max_chain, len);
			frames += len;
		}
		spin_unlock(&t->lock);
		cond_resched();
	}
	nr_hints = READ_ONCE(t->nr_hints);
	seq_printf(m, "frame_buckets %lu\n", BIT(t->frame_bits));
	seq_printf(m, "frames %lu\n", frames);
	seq_printf(m, "used_buckets %lu\n", BIT(t->frame_bits) - chains[0]);
	seq_printf(m, "max_chain %lu\n", max_chain);
	for (i = 0; i < MEMVIRT_CHAIN_HIST; i++)
		seq_printf(m, "chain_%lu%s %lu\n", i, i == MEMVIRT_CHAIN_HIST - 1 ? "+" : "",
			   chains[i]);
	seq_printf(m, "hint_slots %lu\n", BIT(t->hint_bits));
	seq_printf(m, "hints %lu\n", nr_hints);
	for (i = 0; i < MEMVIRT_SHARERS_HIST; i++) {
		if (!i)
			seq_printf(m, "sharers_1 %lu\n", sharers[i]);
		else if (i < MEMVIRT_SHARERS_HIST - 1)
			seq_printf(m, "sharers_%lu-%lu %lu\n", BIT(i), BIT(i + 1) - 1, sharers[i]);
		else
			seq_printf(m, "sharers_%lu+ %lu\n", BIT(i), sharers[i]);
	}
}
