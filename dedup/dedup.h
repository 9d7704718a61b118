/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dedup/: content-based page sharing. The tables (table.c: salted hashes,
 * hint frames, the shared-frame table) and the sharing pass and its
 * scanner thread (share.c).
 *
 * Locking
 * =======
 *
 * Order (outer first; Documentation/locking.rst has the global picture):
 *   1. memvirt_dedup_pass_lock (mutex): one sharing pass works at a time
 *      (a chunk of the scanner's batch or of a MEMVIRT_RECLAIM_SHARE pass,
 *      a change of sharing domain). Taken inside the VM's vm->lifetime
 *      (shared) at most; inside it a pass takes memvirt_vms_lock and,
 *      only with a trylock, another VM's vm->lifetime (a hint frame of
 *      another VM), then gfn locks.
 *   2. gfn lock, or one run of gfn locks (ept/ept.h). A pass holds one at
 *      a time: it hashes a gfn, or makes a hint frame a shared frame,
 *      under that gfn's lock alone, and merges the gfns it chose under
 *      one run of their leaf table, never together with another gfn lock.
 *   3. page locks of the private pages of the gfns merged (each belongs to
 *      one gfn of the run); the frames they join are not locked.
 *   4. table->lock (spinlock): the hint slots, the frame buckets, and each
 *      frame's @sharers. Innermost; nothing sleeps under it.
 *
 * A frame's page is kept alive by its sharers' P2M references (one per
 * SHARED gfn naming it); a pass that found a frame in the table counts
 * itself as a sharer, and takes a page reference, before dropping the
 * table lock. The frame leaves the table with its last sharer.
 */
#ifndef MEMVIRT_DEDUP_H
#define MEMVIRT_DEDUP_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/siphash.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct memvirt_vm;
struct seq_file;

/**
 * struct memvirt_frame - a shared read-only frame.
 * @node:	in its bucket of the frame table.
 * @hash:	salted xxh64 of its contents.
 * @realm:	who may share it: a sharing domain, or one private VM.
 * @page:	the frame; page_private() of the page points back here.
 * @sharers:	SHARED gfns naming it, plus passes about to add one; under
 *		the table lock.
 */
struct memvirt_frame {
	struct hlist_node node;
	u64 hash;
	u64 realm;
	struct page *page;
	unsigned int sharers;
};

/**
 * struct memvirt_dedup_hint - a hint frame: the first unshared gfn seen
 * with some content. Slots come in sets of MEMVIRT_HINT_WAYS, chosen by
 * hash; a new hint takes a free slot of its set, or replaces one in turn.
 * @vm_id 0 marks an empty slot (VM ids start at 1).
 */
struct memvirt_dedup_hint {
	u64 hash;
	u64 realm;
	u64 vm_id;
	u64 gfn;
};

/**
 * struct memvirt_dedup_table - the hint table and the shared-frame table.
 * @lock:	protects everything below, and every frame's @sharers.
 * @buckets:	frame hash chains, 1 << @frame_bits of them.
 * @frame_bits:	log2 of the number of buckets.
 * @hints:	hint slots, 1 << @hint_bits of them, in sets of
 *		MEMVIRT_HINT_WAYS.
 * @hint_bits:	log2 of the number of slots.
 * @hint_clock:	picks the slot a hint replaces in a full set.
 * @nr_frames:	frames in the table.
 * @nr_hints:	slots in use.
 */
struct memvirt_dedup_table {
	spinlock_t lock;	/* the slots, the chains, each frame's @sharers */
	struct hlist_head *buckets;
	unsigned int frame_bits;
	struct memvirt_dedup_hint *hints;
	unsigned int hint_bits;
	unsigned int hint_clock;
	unsigned long nr_frames;
	unsigned long nr_hints;
};

/* Slots per set of the hint table: a cache line of 128 bytes. */
#define MEMVIRT_HINT_WAYS	4

/* table.c */
int memvirt_dedup_table_init(struct memvirt_dedup_table *t, unsigned int frame_bits,
			     unsigned int hint_bits);
void memvirt_dedup_table_destroy(struct memvirt_dedup_table *t);
u64 memvirt_dedup_hash(const void *data, u64 salt);
u64 memvirt_dedup_salt(const siphash_key_t *key, u64 realm);
struct memvirt_frame *memvirt_dedup_frame_find(struct memvirt_dedup_table *t, u64 realm,
					       u64 hash);
void memvirt_dedup_frame_insert(struct memvirt_dedup_table *t, struct memvirt_frame *f);
void memvirt_dedup_frame_remove(struct memvirt_dedup_table *t, struct memvirt_frame *f);
struct memvirt_dedup_hint *memvirt_dedup_hint_slot(struct memvirt_dedup_table *t,
						   u64 realm, u64 hash);
bool memvirt_dedup_hint_take(struct memvirt_dedup_table *t, u64 realm, u64 hash,
			     struct memvirt_dedup_hint *out);
void memvirt_dedup_hint_set(struct memvirt_dedup_table *t, u64 realm, u64 hash,
			    u64 vm_id, u64 gfn);
void memvirt_dedup_table_show(struct memvirt_dedup_table *t, struct seq_file *m);

/* share.c: the sharing pass, the scanner and the frames' lifetime. */
int memvirt_dedup_init(void);
void memvirt_dedup_exit(void);
int memvirt_dedup_pass(struct memvirt_vm *vm, u64 start, u64 end, u64 *merged, u64 *zeroed,
		       u64 *scanned, u64 *pinned);
void memvirt_dedup_lock(void);
void memvirt_dedup_unlock(void);
int __memvirt_dedup_set_domain(struct memvirt_vm *vm, u64 domain);
int memvirt_dedup_set_domain(struct memvirt_vm *vm, u64 domain);
struct memvirt_frame *memvirt_frame_of(struct page *page);
struct memvirt_frame *memvirt_dedup_frame_create(struct page *page, u64 realm, u64 hash,
						 unsigned int sharers);
bool memvirt_dedup_frame_take_last(struct memvirt_frame *f);
void memvirt_dedup_frame_put(struct memvirt_frame *f);
void memvirt_dedup_show(struct seq_file *m);

/**
 * struct memvirt_dedup_stats - host-wide sharing counters.
 * @shared:	gfns that name a shared frame.
 * @sharing:	shared frames.
 * @zero:	all-zero pages sharing passes freed, leaving their gfn ZERO.
 * @cow_breaks:	writes that replaced a shared frame with a private page
 *		(or kept it: the last sharer).
 * @pages_scanned: private pages hashed.
 * @full_scans:	rounds of the scanner over every VM.
 * @hint_hits:	hashes that matched a hint frame.
 * @false_matches: hash matches whose full compare differed.
 * @pinned_skips: candidates skipped because a reference besides memvirt's
 *		held them.
 * @boosted_batches: scanner batches run at the boost rate (the policy
 *		state was not high and the batch before freed pages).
 */
struct memvirt_dedup_stats {
	atomic_long_t shared;
	atomic_long_t sharing;
	atomic_long_t zero;
	atomic_long_t cow_breaks;
	atomic_long_t pages_scanned;
	atomic_long_t full_scans;
	atomic_long_t hint_hits;
	atomic_long_t false_matches;
	atomic_long_t pinned_skips;
	atomic_long_t boosted_batches;
};

/**
 * struct memvirt_dedup_knobs - the scanner's rate, like KSM's.
 * @run:		scan (1) or not (0).
 * @pages_to_scan:	gfns visited per batch.
 * @sleep_millisecs:	sleep between batches.
 * @cpu_percent:	most CPU the scanner uses: after a batch that took
 *			t, it sleeps at least t * (100 - cpu_percent) /
 *			cpu_percent.
 * @boost_cpu_percent:	most CPU the scanner uses while it is boosted
 *			(memory is short and it is freeing pages): then it
 *			visits MEMVIRT_DEDUP_BOOST_BATCH times pages_to_scan
 *			per batch and sleeps only what this cap (or
 *			cpu_percent, if higher) requires. 0: no boost.
 */
struct memvirt_dedup_knobs {
	unsigned int run;
	unsigned int pages_to_scan;
	unsigned int sleep_millisecs;
	unsigned int cpu_percent;
	unsigned int boost_cpu_percent;
};

#define MEMVIRT_DEDUP_PAGES_TO_SCAN_DEFAULT	512
#define MEMVIRT_DEDUP_PAGES_TO_SCAN_MAX		BIT(20)
#define MEMVIRT_DEDUP_SLEEP_DEFAULT		20
#define MEMVIRT_DEDUP_SLEEP_MAX			60000
#define MEMVIRT_DEDUP_CPU_DEFAULT		10
#define MEMVIRT_DEDUP_BOOST_CPU_DEFAULT		100
/* A boosted batch visits this many times pages_to_scan gfns. */
#define MEMVIRT_DEDUP_BOOST_BATCH		8
/* A batch is productive if it freed at least 1/this of the pages it hashed. */
#define MEMVIRT_DEDUP_BOOST_YIELD		64

extern struct memvirt_dedup_stats memvirt_dedup_stats;
extern struct memvirt_dedup_knobs memvirt_dedup_knobs;
void memvirt_dedup_kick(void);

#endif /* MEMVIRT_DEDUP_H */
