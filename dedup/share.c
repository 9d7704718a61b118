// SPDX-License-Identifier: GPL-2.0
/*
 * Content-based page sharing: the sharing pass, its scanner thread, and
 * the life of shared frames.
 *
 * DOC: the sharing pass
 *
 * A pass visits the gfns of a range with the P2M iterator and asks the
 * page store's table what MEMVIRT_OP_SHARE does to each; for a PRIVATE gfn
 * (the only state it takes) it:
 *
 * 1. hashes the page under the gfn lock, without unmapping it: the guest
 *    keeps running, and the hash is only a hint. A page whose hash is that
 *    of a page of zeroes, and which holds only zeroes, is instead isolated
 *    through the reclaim protocol, checked again and freed: the gfn is
 *    left ZERO, with no frame at all;
 * 2. looks (realm, hash) up in the shared-frame table. On a hit it counts
 *    itself a sharer (so the frame cannot go) and goes to step 4;
 * 3. otherwise looks it up in the hint table. No hint: this gfn becomes
 *    the hint. A hint of another gfn: that gfn is locked and isolated
 *    through the reclaim protocol (page locked, unmapped, reference count
 *    exactly the P2M's: a pinned page is skipped), rehashed now that
 *    nothing can write it, and if it still matches, its page becomes a new
 *    shared frame in place: the gfn turns SHARED, nothing is copied or
 *    freed. Its gfn lock is dropped before step 4, so a pass never holds
 *    two gfn locks;
 * 4. the gfns chosen in steps 1 to 3 are taken in runs of up to 64: the
 *    run's gfn locks, then the candidates' page locks, one unmap per
 *    stretch of candidates (one MMU-notifier invalidation for KVM, not one
 *    per page), exact reference counts; then each candidate is compared,
 *    all 4 KiB, with its frame (frames are read-only: no lock needed on
 *    them), and only if they are equal the gfn points at the frame and its
 *    page is freed. A difference is counted as a false match and the page
 *    stays private; so does a page that changed since it was hashed.
 *
 * Passes are serialised by memvirt_dedup_pass_lock, which is therefore
 * also what makes a change of sharing domain atomic against them.
 *
 * DOC: the scanner
 *
 * One kernel thread, "memvirt_dedup", runs passes over every VM in turn,
 * pages_to_scan gfns per batch, resuming where it stopped (a cursor of VM
 * id and gfn). After a batch it sleeps sleep_millisecs, or longer if the
 * batch took so long that the thread would use more than cpu_percent of a
 * CPU. It is freezable (suspend waits for it between batches) and stops
 * at module unload. It only runs while run is 1.
 *
 * It works harder while that pays: when memory is short (the policy state
 * is not high) and the current round so far is productive (its batches
 * freed, by merging or as zeroes, at least 1/MEMVIRT_DEDUP_BOOST_YIELD of
 * the pages they hashed), the next batch is boosted:
 * MEMVIRT_DEDUP_BOOST_BATCH times pages_to_scan gfns, then only the sleep
 * that boost_cpu_percent requires (sleep_millisecs does not apply). The
 * window is the round, not the batch, because sharable pages come in
 * stretches: the first copy of an image only seeds hints, and a VM's
 * private data lies between its copy and the next VM's. The window
 * restarts with each round, so a round that finds nothing drops the boost
 * after its first batch; within a round, at 1/64 a boosted stretch
 * spends at most 64 hashes per page it freed. Sharing a page costs a
 * hash and a compare; the policy's alternative, compressing or swapping
 * it and faulting it back, costs far more.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/freezer.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait.h>

#include "dedup/dedup.h"
#include "module/kunit_export.h"
#include "module/memvirt.h"
#include "module/trace.h"

struct memvirt_dedup_stats memvirt_dedup_stats;
struct memvirt_dedup_knobs memvirt_dedup_knobs = {
	.pages_to_scan = MEMVIRT_DEDUP_PAGES_TO_SCAN_DEFAULT,
	.sleep_millisecs = MEMVIRT_DEDUP_SLEEP_DEFAULT,
	.cpu_percent = MEMVIRT_DEDUP_CPU_DEFAULT,
	.boost_cpu_percent = MEMVIRT_DEDUP_BOOST_CPU_DEFAULT,
};

static struct memvirt_dedup_table memvirt_dedup_table;
static siphash_key_t memvirt_dedup_key;
static struct kmem_cache *memvirt_frame_cache;
static DEFINE_MUTEX(memvirt_dedup_pass_lock);

static struct task_struct *memvirt_dedup_thread;
static DECLARE_WAIT_QUEUE_HEAD(memvirt_dedup_wait);
static bool memvirt_dedup_kicked;

/* Where the scanner resumes: the VM with the smallest id from @vm_id on. */
static struct {
	u64 vm_id;
	u64 gfn;
} memvirt_dedup_cursor;

/* What one pass did. */
struct memvirt_share_res {
	u64 scanned;
	u64 merged;
	u64 zeroed;
	u64 pinned;
};

/* Who may share a VM's pages: its domain, or the VM alone (bit 63 set). */
static u64 memvirt_dedup_realm(struct memvirt_vm *vm)
{
	return vm->sharing_domain ?: BIT_ULL(63) | vm->id;
}

/* Frames. */

struct memvirt_frame *memvirt_frame_of(struct page *page)
{
	return (struct memvirt_frame *)page_private(page);
}

/**
 * memvirt_dedup_frame_create - make @page a shared frame.
 * @page: an isolated page (locked, unmapped, held by its P2M entry alone).
 * @realm: who may share it.
 * @hash: its salted hash, computed while it was isolated.
 * @sharers: the gfns that will name it, plus passes about to add one.
 *
 * Return: the frame, in the table; NULL if out of memory.
 */
struct memvirt_frame *memvirt_dedup_frame_create(struct page *page, u64 realm, u64 hash,
						 unsigned int sharers)
{
	struct memvirt_dedup_table *t = &memvirt_dedup_table;
	struct memvirt_frame *f;

	f = kmem_cache_alloc(memvirt_frame_cache, GFP_KERNEL);
	if (!f)
		return NULL;
	f->page = page;
	f->realm = realm;
	f->hash = hash;
	f->sharers = sharers;
	set_page_private(page, (unsigned long)f);
	spin_lock(&t->lock);
	/* Passes are serialised: nobody added this content meanwhile. */
	WARN_ON_ONCE(memvirt_dedup_frame_find(t, realm, hash));
	memvirt_dedup_frame_insert(t, f);
	spin_unlock(&t->lock);
	atomic_long_inc(&memvirt_dedup_stats.sharing);
	return f;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_frame_create);

/* A frame out of the table: its page becomes an ordinary page again. */
static void memvirt_dedup_frame_free(struct memvirt_frame *f)
{
	set_page_private(f->page, 0);
	atomic_long_dec(&memvirt_dedup_stats.sharing);
	kmem_cache_free(memvirt_frame_cache, f);
}

/**
 * memvirt_dedup_frame_take_last - copy-on-write by the last sharer.
 * @f: a frame the caller's locked gfn names.
 *
 * Return: true if that gfn was its only sharer: the frame has left the
 * table and its page is the caller's to keep as a private page. False if
 * others share it: nothing changed.
 */
bool memvirt_dedup_frame_take_last(struct memvirt_frame *f)
{
	struct memvirt_dedup_table *t = &memvirt_dedup_table;
	bool last;

	spin_lock(&t->lock);
	last = f->sharers == 1;
	if (last) {
		f->sharers = 0;
		memvirt_dedup_frame_remove(t, f);
	}
	spin_unlock(&t->lock);
	if (last)
		memvirt_dedup_frame_free(f);
	return last;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_frame_take_last);

/*
 * One sharer (a gfn, or a pass that gave up) leaves @f; the last takes it
 * out of the table. The page's references are the caller's business.
 */
void memvirt_dedup_frame_put(struct memvirt_frame *f)
{
	struct memvirt_dedup_table *t = &memvirt_dedup_table;
	bool last;

	spin_lock(&t->lock);
	last = !--f->sharers;
	if (last)
		memvirt_dedup_frame_remove(t, f);
	spin_unlock(&t->lock);
	if (last)
		memvirt_dedup_frame_free(f);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_dedup_frame_put);

/* The pass. */

static bool memvirt_dedup_takes(u64 *ptep)
{
	return memvirt_store_action(memvirt_pte_state(memvirt_p2m_read(ptep)), MEMVIRT_OP_SHARE) ==
	       MEMVIRT_ACT_TAKE;
}

static void memvirt_dedup_count_pinned(struct memvirt_share_res *res)
{
	res->pinned++;
	atomic_long_inc(&memvirt_dedup_stats.pinned_skips);
}

/*
 * Step 3: make the hint gfn's page a frame, if it is still unshared, not
 * pinned, and still holds content with the hint's hash. The frame counts
 * the caller as a sharer already and carries a page reference for it.
 */
static struct memvirt_frame *memvirt_dedup_promote(struct memvirt_vm *self,
						   const struct memvirt_dedup_hint *hint,
						   u64 salt, struct memvirt_share_res *res)
{
	struct memvirt_vm *vm = self;
	struct memvirt_frame *f = NULL;
	struct page *page;
	bool same;
	void *addr;
	u64 *ptep;

	if (hint->vm_id != self->id) {
		vm = memvirt_vm_find_get(hint->vm_id);
		if (!vm)
			return NULL;
		/*
		 * The caller works on @self: waiting for another VM's lifetime
		 * here could wait behind a teardown queued on it, which waits
		 * for a pass that waits for the pass lock the caller holds.
		 */
		if (!memvirt_vm_try_begin_work(vm)) {
			memvirt_vm_put(vm);
			return NULL;
		}
	}
	/* Its domain changed, or it shrank, since the hint was taken. */
	if (memvirt_dedup_realm(vm) != hint->realm || hint->gfn >= memvirt_vm_pages(vm))
		goto out;
	ptep = memvirt_p2m_find(&vm->p2m, hint->gfn);
	if (!ptep)
		goto out;
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	if (!memvirt_dedup_takes(ptep))
		goto unlock;
	page = __memvirt_store_isolate(vm, hint->gfn, ptep);
	if (!page) {
		memvirt_dedup_count_pinned(res);
		goto unlock;
	}
	addr = kmap_local_page(page);
	same = memchr_inv(addr, 0, PAGE_SIZE) && memvirt_dedup_hash(addr, salt) == hint->hash;
	kunmap_local(addr);
	if (same)
		f = memvirt_dedup_frame_create(page, hint->realm, hint->hash, 2);
	if (f) {
		get_page(page);		/* the caller's candidate's */
		__memvirt_store_make_shared(vm, ptep, page);
		trace_share(vm->id, hint->gfn, page_to_pfn(page), 1);
	}
	unlock_page(page);
unlock:
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
out:
	if (vm != self) {
		memvirt_vm_end_work(vm);
		memvirt_vm_put(vm);
	}
	return f;
}

/*
 * What a pass needs of a VM's realm: the realm, its salt, and the salted
 * hash of a page of zeroes (a page is read once: hashed, and compared with
 * zero only if its hash says it may be zero).
 */
struct memvirt_share_ctx {
	u64 realm;
	u64 salt;
	u64 zero_hash;
};

/*
 * One run of up to MEMVIRT_STORE_BATCH consecutive gfns of a leaf table:
 * the gfns chosen while hashing (@want), each with the page it held
 * (@pfn) and the frame it is to join (@frame; NULL for a page of zeroes),
 * isolated together so that KVM sees one invalidation per stretch of
 * chosen gfns, not one per page. Passes are serialised, so one static run
 * serves them all (it is too large for a kernel stack).
 */
struct memvirt_share_run {
	u64 gfn;
	u64 *ptep;
	unsigned int nr;
	DECLARE_BITMAP(want, MEMVIRT_STORE_BATCH);
	unsigned long pfn[MEMVIRT_STORE_BATCH];
	struct memvirt_frame *frame[MEMVIRT_STORE_BATCH];
	struct page *page[MEMVIRT_STORE_BATCH];
};

static struct memvirt_share_run memvirt_share_run;

/* A pass gives up its place among @f's sharers. */
static void memvirt_dedup_release(struct memvirt_frame *f)
{
	struct page *frame = f->page;

	memvirt_dedup_frame_put(f);
	put_page(frame);
}

/*
 * Steps 1 to 3 for gfn @i of @run: hash it and, if it is all zero or has
 * a frame to join (found, or made of its hint), choose it.
 */
static void memvirt_dedup_choose(struct memvirt_vm *vm, struct memvirt_share_run *run,
				 unsigned int i, const struct memvirt_share_ctx *ctx,
				 struct memvirt_share_res *res)
{
	struct memvirt_dedup_table *t = &memvirt_dedup_table;
	u64 *ptep = run->ptep + i, gfn = run->gfn + i;
	struct memvirt_frame *f = NULL;
	struct memvirt_dedup_hint hint;
	u64 hash, pte;
	bool zero;
	void *addr;

	if (!memvirt_dedup_takes(ptep))		/* unlocked peek: most gfns */
		return;
	memvirt_p2m_lock_gfn(&vm->p2m, ptep);
	pte = memvirt_p2m_read(ptep);
	if (!memvirt_dedup_takes(ptep)) {
		memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
		return;
	}
	addr = kmap_local_page(pfn_to_page(memvirt_pte_pfn(pte)));
	hash = memvirt_dedup_hash(addr, ctx->salt);
	zero = hash == ctx->zero_hash && !memchr_inv(addr, 0, PAGE_SIZE);
	kunmap_local(addr);
	memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
	res->scanned++;		/* the counters: once per chunk */
	if (zero)
		goto choose;

	spin_lock(&t->lock);
	f = memvirt_dedup_frame_find(t, ctx->realm, hash);
	if (f) {
		f->sharers++;
		get_page(f->page);
		spin_unlock(&t->lock);
		goto choose;
	}
	if (!memvirt_dedup_hint_take(t, ctx->realm, hash, &hint) ||
	    (hint.vm_id == vm->id && hint.gfn == gfn)) {
		memvirt_dedup_hint_set(t, ctx->realm, hash, vm->id, gfn);
		spin_unlock(&t->lock);
		return;
	}
	spin_unlock(&t->lock);
	atomic_long_inc(&vm->stats.hint_hits);
	atomic_long_inc(&memvirt_dedup_stats.hint_hits);
	f = memvirt_dedup_promote(vm, &hint, ctx->salt, res);
	if (!f) {		/* a stale hint: this gfn replaces it */
		spin_lock(&t->lock);
		memvirt_dedup_hint_set(t, ctx->realm, hash, vm->id, gfn);
		spin_unlock(&t->lock);
		return;
	}
choose:
	run->pfn[i] = memvirt_pte_pfn(pte);
	run->frame[i] = f;
	__set_bit(i, run->want);
}

/* A chosen page of zeroes, isolated: freed if it still is all zero. */
static void memvirt_dedup_zero(struct memvirt_vm *vm, u64 gfn, u64 *ptep, struct page *page,
			       struct memvirt_share_res *res)
{
	void *addr = kmap_local_page(page);
	bool zero = !memchr_inv(addr, 0, PAGE_SIZE);

	kunmap_local(addr);
	if (!zero) {		/* written before the unmap */
		unlock_page(page);
		return;
	}
	__memvirt_store_free_isolated(vm, ptep, page, MEMVIRT_P2M_ZERO);
	res->zeroed++;
	atomic_long_inc(&vm->stats.zero_merged);
	atomic_long_inc(&vm->stats.reclaimed);
	atomic_long_inc(&memvirt_dedup_stats.zero);
	trace_zero(vm->id, gfn);
}

/*
 * Are two pages' bytes equal? A word at a time: the kernel's memcmp()
 * compares bytes, eight times the loads and branches for the 4 KiB every
 * merge compares.
 */
static bool memvirt_pages_equal(const void *a, const void *b)
{
	const unsigned long *x = a, *y = b;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(*x); i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/*
 * A chosen page, isolated: if all its 4 KiB equal the frame's, the gfn
 * joins the frame (the pass's place among its sharers and its page
 * reference become the gfn's) and the page is freed.
 */
static void memvirt_dedup_merge(struct memvirt_vm *vm, u64 gfn, u64 *ptep, struct page *page,
				struct memvirt_frame *f, struct memvirt_share_res *res)
{
	struct page *frame = f->page;
	void *a, *b;
	bool same;

	a = kmap_local_page(page);
	b = kmap_local_page(frame);
	same = memvirt_pages_equal(a, b);
	kunmap_local(b);
	kunmap_local(a);
	if (!same) {
		unlock_page(page);
		atomic_long_inc(&vm->stats.false_matches);
		atomic_long_inc(&memvirt_dedup_stats.false_matches);
		memvirt_dedup_release(f);
		return;
	}
	__memvirt_store_make_shared(vm, ptep, frame);
	unlock_page(page);
	put_page(page);		/* the P2M's reference: frees the copy */
	atomic_long_inc(&vm->stats.reclaimed);
	res->merged++;
	trace_share(vm->id, gfn, page_to_pfn(frame), READ_ONCE(f->sharers));
}

/*
 * Step 4 for the chosen gfns of @run: isolated together through the
 * reclaim protocol (run of gfn locks, page locks, one unmap per stretch,
 * exact reference counts), then compared and merged, or freed as zero,
 * one by one. A gfn whose page changed since it was hashed, or that is
 * pinned, is left alone.
 */
static void memvirt_dedup_merge_run(struct memvirt_vm *vm, struct memvirt_share_run *run,
				    struct memvirt_share_res *res)
{
	DECLARE_BITMAP(chosen, MEMVIRT_STORE_BATCH);
	unsigned int i, first, end, pinned;
	u64 gfn;

	first = find_first_bit(run->want, run->nr);
	if (first >= run->nr)
		return;
	end = find_last_bit(run->want, run->nr) + 1;
	bitmap_copy(chosen, run->want, MEMVIRT_STORE_BATCH);
	pinned = __memvirt_store_isolate_run(vm, run->gfn, run->ptep, first, end, run->want,
					     run->pfn, run->page);
	res->pinned += pinned;
	atomic_long_add(pinned, &memvirt_dedup_stats.pinned_skips);
	for_each_set_bit(i, chosen, run->nr) {
		gfn = run->gfn + i;
		if (!test_bit(i, run->want)) {
			if (run->frame[i])
				memvirt_dedup_release(run->frame[i]);
		} else if (!run->frame[i]) {
			memvirt_dedup_zero(vm, gfn, run->ptep + i, run->page[i], res);
		} else {
			memvirt_dedup_merge(vm, gfn, run->ptep + i, run->page[i], run->frame[i],
					    res);
		}
	}
	memvirt_p2m_unlock_run(&vm->p2m, run->ptep + first, end - first);
}

/*
 * A pass over the gfns of one leaf table (the first from @start on) inside
 * [@start, @end) of @vm, whose pages the caller keeps alive, and over at
 * most *@budget gfns (decremented), in runs of MEMVIRT_STORE_BATCH.
 * Returns the gfn to resume from.
 */
static u64 memvirt_dedup_chunk(struct memvirt_vm *vm, u64 start, u64 end, u64 *budget,
			       struct memvirt_share_res *res)
{
	struct memvirt_share_run *run = &memvirt_share_run;
	u64 leaf_end = U64_MAX, next = end, scanned = res->scanned;
	struct memvirt_share_ctx ctx;
	struct memvirt_p2m_iter iter;
	void *zero;

	mutex_lock(&memvirt_dedup_pass_lock);
	ctx.realm = memvirt_dedup_realm(vm);
	ctx.salt = memvirt_dedup_salt(&memvirt_dedup_key, ctx.realm);
	zero = kmap_local_page(ZERO_PAGE(0));
	ctx.zero_hash = memvirt_dedup_hash(zero, ctx.salt);
	kunmap_local(zero);
	run->nr = 0;
	for_each_p2m_entry(iter, &vm->p2m, start, end) {
		if (!*budget || iter.gfn >= leaf_end) {
			next = iter.gfn;
			break;
		}
		if (leaf_end == U64_MAX)
			leaf_end = iter.gfn + memvirt_p2m_leaf_room(iter.gfn);
		--*budget;
		if (!run->nr) {
			run->gfn = iter.gfn;
			run->ptep = iter.ptep;
			bitmap_zero(run->want, MEMVIRT_STORE_BATCH);
		}
		memvirt_dedup_choose(vm, run, run->nr++, &ctx, res);
		if (run->nr == MEMVIRT_STORE_BATCH) {
			memvirt_dedup_merge_run(vm, run, res);
			run->nr = 0;
		}
	}
	memvirt_dedup_merge_run(vm, run, res);
	mutex_unlock(&memvirt_dedup_pass_lock);
	atomic_long_add(res->scanned - scanned, &vm->stats.pages_scanned);
	atomic_long_add(res->scanned - scanned, &memvirt_dedup_stats.pages_scanned);
	return next;
}

/**
 * memvirt_dedup_pass - one sharing pass over gfns [@start, @end) of @vm
 * (MEMVIRT_RECLAIM_SHARE).
 * @vm: the VM; its file is open, or the caller is between
 *	memvirt_vm_begin_work() and memvirt_vm_end_work().
 * @start: first gfn.
 * @end: first gfn past the range (exclusive).
 * @merged: pages freed by merging them into a frame, added to.
 * @zeroed: all-zero pages freed, added to.
 * @scanned: private pages hashed, added to.
 * @pinned: candidates skipped as pinned, added to.
 *
 * Return: 0, or -EINTR if a fatal signal ended it early.
 */
int memvirt_dedup_pass(struct memvirt_vm *vm, u64 start, u64 end, u64 *merged, u64 *zeroed,
		       u64 *scanned, u64 *pinned)
{
	struct memvirt_share_res res = {};
	u64 budget = U64_MAX;
	int err = 0;

	while (start < end) {
		start = memvirt_dedup_chunk(vm, start, end, &budget, &res);
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	*merged += res.merged;
	*zeroed += res.zeroed;
	*scanned += res.scanned;
	*pinned += res.pinned;
	return err;
}

/*
 * A change of sharing domain is atomic against sharing passes: callers
 * hold the pass lock from the check to the end of their update.
 */
void memvirt_dedup_lock(void)
{
	mutex_lock(&memvirt_dedup_pass_lock);
}

void memvirt_dedup_unlock(void)
{
	mutex_unlock(&memvirt_dedup_pass_lock);
}

/**
 * __memvirt_dedup_set_domain - move a VM to sharing domain @domain.
 * @vm: the VM.
 * @domain: MEMVIRT_SHARING_PRIVATE, or 1..MEMVIRT_SHARING_DOMAIN_MAX.
 *
 * Caller holds memvirt_dedup_lock(); setting the old domain back before
 * dropping it cannot fail.
 *
 * Return: 0; -EINVAL out of range; -EBUSY if the VM shares pages now
 * (they belong to its old domain, and it must not keep them).
 */
int __memvirt_dedup_set_domain(struct memvirt_vm *vm, u64 domain)
{
	long shared;

	lockdep_assert_held(&memvirt_dedup_pass_lock);
	if (domain > MEMVIRT_SHARING_DOMAIN_MAX)
		return -EINVAL;
	shared = atomic_long_read(&vm->stats.shared);
	if (domain != vm->sharing_domain && shared) {
		pr_info_ratelimited("vm %llu (%s): sharing domain stays %llu: %ld gfns share frames of it; set the domain before the guest runs\n",
				    vm->id, vm->name, vm->sharing_domain, shared);
		return -EBUSY;
	}
	WRITE_ONCE(vm->sharing_domain, domain);
	return 0;
}

/* __memvirt_dedup_set_domain() on its own. */
int memvirt_dedup_set_domain(struct memvirt_vm *vm, u64 domain)
{
	int err;

	memvirt_dedup_lock();
	err = __memvirt_dedup_set_domain(vm, domain);
	memvirt_dedup_unlock();
	return err;
}

/* The scanner. */

/*
 * One batch: passes over the VMs from the cursor on, until @budget gfns
 * were visited or every VM was: then the round is complete and the cursor
 * goes back to the first VM. What the passes did is added to @res.
 *
 * Return: true if the batch completed the round.
 */
static bool memvirt_dedup_batch(u64 budget, struct memvirt_share_res *res)
{
	struct memvirt_vm *vm;
	u64 gfn, end;

	while (budget && !kthread_should_stop()) {
		vm = memvirt_vm_next_get(memvirt_dedup_cursor.vm_id);
		if (!vm) {
			if (memvirt_dedup_cursor.vm_id)
				atomic_long_inc(&memvirt_dedup_stats.full_scans);
			memvirt_dedup_cursor.vm_id = 0;
			memvirt_dedup_cursor.gfn = 0;
			return true;
		}
		if (vm->id != memvirt_dedup_cursor.vm_id)
			memvirt_dedup_cursor.gfn = 0;
		gfn = memvirt_dedup_cursor.gfn;
		end = 0;
		if (memvirt_vm_begin_work(vm)) {
			end = memvirt_vm_pages(vm);
			while (gfn < end && budget && !kthread_should_stop()) {
				gfn = memvirt_dedup_chunk(vm, gfn, end, &budget, res);
				cond_resched();
			}
			memvirt_vm_end_work(vm);
		}
		memvirt_dedup_cursor.vm_id = gfn < end ? vm->id : vm->id + 1;
		memvirt_dedup_cursor.gfn = gfn < end ? gfn : 0;
		memvirt_vm_put(vm);
	}
	return false;
}

/*
 * Jiffies to sleep after a batch that took @ns: the knob, or the CPU cap;
 * after a @boosted batch, the boost's CPU cap alone.
 */
static unsigned long memvirt_dedup_sleep(u64 ns, bool boosted)
{
	unsigned int cpu = clamp(READ_ONCE(memvirt_dedup_knobs.cpu_percent), 1U, 100U);
	u64 ms = READ_ONCE(memvirt_dedup_knobs.sleep_millisecs);

	if (boosted) {
		cpu = clamp(READ_ONCE(memvirt_dedup_knobs.boost_cpu_percent), cpu, 100U);
		ms = 0;
	}
	ms = max(ms, div_u64(ns * (100 - cpu), cpu * NSEC_PER_MSEC));
	return msecs_to_jiffies(ms);
}

/* Did passes free at least 1/MEMVIRT_DEDUP_BOOST_YIELD of what they hashed? */
static bool memvirt_dedup_is_productive(const struct memvirt_share_res *res)
{
	u64 freed = res->merged + res->zeroed;

	return freed && freed * MEMVIRT_DEDUP_BOOST_YIELD >= res->scanned;
}

/*
 * Should the next batch be boosted, when the round so far did @res? Only
 * if the boost is on, memory is short, and the round is productive.
 */
static bool memvirt_dedup_should_boost(const struct memvirt_share_res *res)
{
	return READ_ONCE(memvirt_dedup_knobs.boost_cpu_percent) &&
	       memvirt_policy_state() != MEMVIRT_STATE_HIGH &&
	       memvirt_dedup_is_productive(res);
}

static bool memvirt_dedup_should_wake(void)
{
	return kthread_should_stop() || READ_ONCE(memvirt_dedup_kicked);
}

static int memvirt_dedup_fn(void *unused)
{
	struct memvirt_share_res round = {}, res;
	unsigned long sleep;
	bool boost;
	u64 t0, pages;

	set_freezable();
	while (!kthread_should_stop()) {
		WRITE_ONCE(memvirt_dedup_kicked, false);
		if (!READ_ONCE(memvirt_dedup_knobs.run)) {
			memset(&round, 0, sizeof(round));
			wait_event_freezable(memvirt_dedup_wait, memvirt_dedup_should_wake());
			continue;
		}
		boost = memvirt_dedup_should_boost(&round);
		pages = READ_ONCE(memvirt_dedup_knobs.pages_to_scan);
		if (boost) {
			pages = min_t(u64, pages * MEMVIRT_DEDUP_BOOST_BATCH,
				      MEMVIRT_DEDUP_PAGES_TO_SCAN_MAX);
			atomic_long_inc(&memvirt_dedup_stats.boosted_batches);
		}
		memset(&res, 0, sizeof(res));
		t0 = ktime_get_ns();
		if (memvirt_dedup_batch(pages, &res)) {
			/* A new round: a new window. */
			memset(&round, 0, sizeof(round));
		} else {
			round.scanned += res.scanned;
			round.merged += res.merged;
			round.zeroed += res.zeroed;
		}
		sleep = memvirt_dedup_sleep(ktime_get_ns() - t0, boost);
		if (sleep) {
			wait_event_freezable_timeout(memvirt_dedup_wait,
						     memvirt_dedup_should_wake(), sleep);
		} else {
			try_to_freeze();
			cond_resched();
		}
	}
	return 0;
}

/* A knob changed: the scanner starts, or reconsiders its sleep, now. */
void memvirt_dedup_kick(void)
{
	WRITE_ONCE(memvirt_dedup_kicked, true);
	wake_up(&memvirt_dedup_wait);
}

void memvirt_dedup_show(struct seq_file *m)
{
	memvirt_dedup_table_show(&memvirt_dedup_table, m);
}

/*
 * Table sizes from RAM: a hint slot (32 bytes) per 8 pages of RAM and a
 * frame bucket (8 bytes) per 16: 0.1% of memory, whatever guests hold.
 */
int memvirt_dedup_init(void)
{
	unsigned long pages = totalram_pages();
	int err;

	get_random_bytes(&memvirt_dedup_key, sizeof(memvirt_dedup_key));
	memvirt_frame_cache = KMEM_CACHE(memvirt_frame, 0);
	if (!memvirt_frame_cache)
		return -ENOMEM;
	err = memvirt_dedup_table_init(&memvirt_dedup_table,
				       clamp(ilog2(pages / 16 + 1), 10, 22),
				       clamp(ilog2(pages / 8 + 1), 12, 23));
	if (err)
		goto out_cache;
	memvirt_dedup_thread = kthread_run(memvirt_dedup_fn, NULL, "memvirt_dedup");
	if (IS_ERR(memvirt_dedup_thread)) {
		err = PTR_ERR(memvirt_dedup_thread);
		goto out_table;
	}
	return 0;

out_table:
	memvirt_dedup_table_destroy(&memvirt_dedup_table);
out_cache:
	kmem_cache_destroy(memvirt_frame_cache);
	return err;
}

/* Module exit: every VM is gone, so is every frame. */
void memvirt_dedup_exit(void)
{
	kthread_stop(memvirt_dedup_thread);
	memvirt_dedup_table_destroy(&memvirt_dedup_table);
	kmem_cache_destroy(memvirt_frame_cache);
}
