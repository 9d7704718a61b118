// SPDX-License-Identifier: GPL-2.0
/*
 * Hypervisor swap: pages out through the reclaim protocol into the
 * compression cache or the VM's swap file, and back on access.
 *
 * DOC: swap-out
 *
 * A swap-out pass works on runs of up to MEMVIRT_STORE_BATCH gfns of one
 * leaf table, as every reclaim mechanism does (module/store.c): it locks
 * the run, picks its candidates and locks their pages, unmaps each stretch
 * of them at once, and keeps only pages nothing but the P2M holds (pinned
 * pages are skipped and counted). Then each page, in turn:
 *
 * - all-zero: freed, the gfn becomes ZERO; nothing is written;
 * - compressed to at most half a page: into the cache, the gfn becomes
 *   COMPRESSED and the page is freed at once;
 * - otherwise, if the VM has a swap file with a free slot: the page keeps
 *   its PRIVATE leaf, with the WB bit set, and a reference for the write,
 *   and joins a write request of consecutive slots; else it stays.
 *
 * The requests are queued after the run's locks are dropped, for the
 * memvirt_swapio thread to submit: asynchronous direct-I/O writes, up to 64
 * pages of consecutive slots each.
 *
 * DOC: writeback completion
 *
 * A write completes in whatever context the block layer chooses; the
 * request is finished from the memvirt_swap workqueue (WQ_MEM_RECLAIM, so
 * it runs under memory pressure), one gfn lock at a time. A gfn whose leaf
 * still names the page with WB set was not used since the swap-out began:
 * nothing could map it (a fault clears WB first) and only the P2M and the
 * write hold it, so it becomes SWAPPED with its slot and the page is freed.
 * Any other gfn was used (a fault, read(), write()), punched, truncated or
 * reclaimed otherwise: its page stays resident, and the slot is freed: the
 * write is discarded. A failed write leaves the page resident too, counts
 * a swap error and logs one line. The completion never takes the VM's
 * lifetime rwsem: teardown waits for the VM's writes to finish instead.
 *
 * DOC: swap-in
 *
 * Any access to a COMPRESSED or SWAPPED gfn (the two faults, read(),
 * write(), populate) brings it back synchronously under its gfn lock,
 * into a new private page: decompressed from the cache, or read from the
 * swap file with a direct-I/O read. A swap-in also reads up to
 * swapin_readahead of the next 64 gfns that are SWAPPED in the following
 * slots (skipping gfns in other states: the pages of a run that compressed
 * well), in the same read, taking their gfn locks only if they are free;
 * they come back with their A bits clear, first in line for the next
 * reclaim. The
 * cache entry or slot is freed: a page brought back is dirty as far as
 * swap is concerned. If the read fails (or an entry does not decompress),
 * the gfn becomes ERROR: every access fails (SIGBUS, -EIO, -EFAULT from
 * KVM_RUN) with a log line, no other gfn is affected, and no wrong bytes
 * are ever returned; punching the gfn makes it ZERO again.
 *
 * DOC: the resident limit and cold pages
 *
 * A VM's limit caps its charge: resident pages plus its compressed bytes
 * (rounded up to pages), as a memory cgroup charges zswap. A fault, write()
 * or populate that finds the charge at the limit first reclaims the VM's
 * coldest pages. Cold means the P2M's A bit is clear: every fault that maps
 * a page sets it. A clock hand sweeps the VM's gfns: a page with A set has
 * it cleared and its mappings zapped (its next access refaults and sets it
 * again: zap-to-sample), and is then left alone for MEMVIRT_HOT_SWEEPS
 * turns of the hand (the AGE bits of its leaf count them down), so that a
 * page in steady use does not refault on every turn; a page with A clear
 * when the hand reaches it has not been touched since it was last sampled
 * and is taken. A sweep that finds nothing to take in MEMVIRT_HOT_SWEEPS + 2
 * turns of the hand gives up: the access goes ahead over the limit rather
 * than wait for ever.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitfield.h>
#include <linux/bvec.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/lz4.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/workqueue.h>

#include "module/kunit_export.h"
#include "module/memvirt.h"
#include "module/trace.h"
#include "swap/swap.h"

struct memvirt_swap_stats memvirt_swap_stats;
MEMVIRT_EXPORT_FOR_KUNIT(memvirt_swap_stats);
struct memvirt_swap_knobs memvirt_swap_knobs = {
	.cache_percent = MEMVIRT_CACHE_PERCENT_DEFAULT,
	.swapin_readahead = MEMVIRT_READAHEAD_DEFAULT,
};

/* Reclaim to this many pages below the limit, so not every fault reclaims. */
#define MEMVIRT_LIMIT_SLACK	MEMVIRT_STORE_BATCH
/*
 * A page the clock finds used is zapped (to see its next use) and then
 * skipped by this many sweeps: a page in steady use costs a refault every
 * MEMVIRT_HOT_SWEEPS + 1 turns of the hand, not every turn.
 */
#define MEMVIRT_HOT_SWEEPS	2
/* A reclaimer waits while this many of the VM's pages are being written. */
#define MEMVIRT_INFLIGHT_MAX	1024

/**
 * struct memvirt_swap_batch - the writes of one caller that waits for them.
 * @pending:	requests not finished, plus one for the submitter.
 * @done:	completed when @pending drops to zero.
 * @swapped:	pages that made it to the swap file.
 */
struct memvirt_swap_batch {
	atomic_t pending;
	struct completion done;
	atomic_long_t swapped;
};

/**
 * struct memvirt_swap_req - one write of consecutive slots.
 * @iocb:	the direct-I/O kiocb.
 * @node:	on memvirt_swap_done_list once completed.
 * @vm:		the VM, with a reference.
 * @batch:	the waiting caller's batch, or NULL.
 * @ret:	the write's result.
 * @slot:	first slot.
 * @nr:		pages.
 * @evict:	pages are decompressed copies of COMPRESSED gfns (eviction),
 *		not the gfns' own pages.
 * @gfn:	the gfn of each page.
 * @id:		eviction: the cache entry id each page came from.
 * @page:	the pages, each with a reference of the request's.
 * @bv:		the I/O vector.
 * @work:	submits the write from the memvirt_swapio thread.
 */
struct memvirt_swap_req {
	struct kthread_work work;
	struct kiocb iocb;
	struct list_head node;
	struct memvirt_vm *vm;
	struct memvirt_swap_batch *batch;
	long ret;
	u64 slot;
	unsigned int nr;
	bool evict;
	u64 gfn[MEMVIRT_STORE_BATCH];
	u64 id[MEMVIRT_STORE_BATCH];
	struct page *page[MEMVIRT_STORE_BATCH];
	struct bio_vec bv[MEMVIRT_STORE_BATCH];
};

/**
 * struct memvirt_swap_ctx - a swap-out pass's scratch.
 * @wrkmem:	LZ4's.
 * @buf:	compressed bytes.
 * @req:	write requests the current run built, not yet submitted.
 * @nr_req:	their number.
 * @batch:	@own if the caller waits for the pass's writes, else NULL.
 * @own:	the batch of a caller that waits.
 * @want:	stop once this many pages are taken (or queued to be).
 * @taken:	pages taken so far.
 */
struct memvirt_swap_ctx {
	u8 wrkmem[LZ4_MEM_COMPRESS];
	u8 buf[MEMVIRT_ZCACHE_MAX_LEN];
	struct memvirt_swap_req *req[MEMVIRT_STORE_BATCH];
	unsigned int nr_req;
	struct memvirt_swap_batch *batch;
	struct memvirt_swap_batch own;
	u64 want;
	u64 taken;
};

static struct workqueue_struct *memvirt_swap_wq;
/*
 * Every read and write of a swap file is issued by one kernel thread,
 * memvirt_swapio, never by the task that needs it: a fault holds its mm's
 * mmap_lock, and the swap file's filesystem takes its inode lock for
 * direct I/O, while that filesystem's write() takes the inode lock before
 * faulting user memory. The two orders are only a cycle for lockdep
 * (nobody writes to a swap file from a buffer mapped from guest RAM), but
 * this keeps lockdep able to see the real ones. The thread only submits:
 * reads and writes complete asynchronously. One named thread also lets a
 * test fail exactly memvirt's I/O (fail_make_request's task filter).
 */
struct kthread_worker *memvirt_swap_io;
static LIST_HEAD(memvirt_swap_done_list);
static DEFINE_SPINLOCK(memvirt_swap_done_lock);

static void memvirt_swap_done_fn(struct work_struct *work);
static DECLARE_WORK(memvirt_swap_done_work, memvirt_swap_done_fn);

static void memvirt_swap_account(struct memvirt_vm *vm, long nr)
{
	atomic_long_add(nr, &vm->stats.swapped);
	atomic_long_add(nr, &memvirt_swap_stats.swapped);
}

/* @nr pages could not be written, or one could not be read back. */
static void memvirt_swap_error(struct memvirt_vm *vm, unsigned int nr)
{
	atomic_long_add(nr, &vm->stats.swap_errors);
	atomic_long_add(nr, &memvirt_swap_stats.swap_errors);
}

/* Writes. */

/* ->ki_complete: any context; the request is finished from the workqueue. */
static void memvirt_swap_write_done(struct kiocb *iocb, long ret)
{
	struct memvirt_swap_req *req = container_of(iocb, struct memvirt_swap_req, iocb);
	unsigned long flags;

	req->ret = ret;
	spin_lock_irqsave(&memvirt_swap_done_lock, flags);
	list_add_tail(&req->node, &memvirt_swap_done_list);
	spin_unlock_irqrestore(&memvirt_swap_done_lock, flags);
	queue_work(memvirt_swap_wq, &memvirt_swap_done_work);
}

/*
 * A written page of a locked gfn: still the gfn's, untouched since the
 * swap-out began? Then the gfn becomes SWAPPED and the page goes.
 */
static bool memvirt_swap_finish_page(struct memvirt_vm *vm, u64 *ptep, struct page *page,
				     u64 slot, bool ok)
{
	u64 pte = memvirt_p2m_read(ptep);
	bool ours = memvirt_pte_state(pte) == MEMVIRT_P2M_PRIVATE &&
		    memvirt_pte_in_writeback(pte) && memvirt_pte_pfn(pte) == page_to_pfn(page);

	if (ours && ok) {
		lock_page(page);
		/*
		 * The P2M's reference and the write's: nothing can map it (a
		 * fault clears WB first). A passing speculative reference
		 * keeps it resident, as a pin would.
		 */
		if (page_count(page) == 2 && !page_mapped(page)) {
			__memvirt_store_release_isolated(vm, ptep, page,
							 memvirt_pte_mk_stored(MEMVIRT_P2M_SWAPPED,
									       slot));
			return true;
		}
		unlock_page(page);
	}
	if (ours)
		memvirt_p2m_set(ptep, pte & ~MEMVIRT_PTE_WB);
	return false;
}

/* A written copy of a locked COMPRESSED gfn: is the entry still its own? */
static bool memvirt_swap_finish_evict(struct memvirt_vm *vm, u64 *ptep, u64 id, bool ok)
{
	u64 pte = memvirt_p2m_read(ptep);
	bool ours = memvirt_pte_state(pte) == MEMVIRT_P2M_COMPRESSED &&
		    memvirt_pte_where(pte) == id;

	if (!ours)
		return false;
	if (!ok) {
		memvirt_zcache_requeue(vm, id);
		return false;
	}
	memvirt_zcache_free(vm, id);
	atomic_long_inc(&memvirt_swap_stats.evictions);
	return true;
}

static void memvirt_swap_finish(struct memvirt_swap_req *req)
{
	bool ok = req->ret == (long)req->nr << PAGE_SHIFT;
	struct memvirt_vm *vm = req->vm;
	struct memvirt_vm_swap *sw = &vm->swap;
	unsigned int i, done = 0;
	bool swapped;
	u64 *ptep;

	for (i = 0; i < req->nr; i++) {
		swapped = false;
		ptep = memvirt_p2m_find(&vm->p2m, req->gfn[i]);
		if (ptep) {
			memvirt_p2m_lock_gfn(&vm->p2m, ptep);
			if (req->evict)
				swapped = memvirt_swap_finish_evict(vm, ptep, req->id[i], ok);
			else
				swapped = memvirt_swap_finish_page(vm, ptep, req->page[i],
								   req->slot + i, ok);
			if (swapped && req->evict)
				memvirt_p2m_set(ptep, memvirt_pte_mk_stored(MEMVIRT_P2M_SWAPPED,
									    req->slot + i));
			memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
		}
		trace_swap_out(vm->id, req->gfn[i], req->slot + i, ok ? 0 : (int)req->ret);
		if (swapped)
			done++;
		else
			memvirt_swap_slot_free(vm, req->slot + i, 1);
		put_page(req->page[i]);	/* the write's reference, or the copy */
	}
	if (!ok) {
		memvirt_swap_error(vm, req->nr);
		pr_err_ratelimited("vm %llu (%s): writing %u pages to swap slot %llu of %s failed (%ld): they stay in memory\n",
				   vm->id, vm->name, req->nr, req->slot, sw->path,
				   req->ret < 0 ? req->ret : -EIO);
	}
	memvirt_swap_account(vm, done);
	/* A waiting caller (the reclaim ioctl) counts its own reclaimed pages. */
	if (!req->batch && !req->evict)
		atomic_long_add(done, &vm->stats.reclaimed);
	atomic_long_add(done, &vm->stats.swap_outs);
	atomic_long_add(done, &memvirt_swap_stats.swap_outs);
	if (req->batch)
		atomic_long_add(done, &req->batch->swapped);
	atomic_long_sub(req->nr, &memvirt_swap_stats.writeback_inflight);
	/* Last touch of the P2M and slots: teardown may go on after this. */
	if (atomic_sub_return(req->nr, &sw->inflight) < MEMVIRT_INFLIGHT_MAX)
		wake_up_all(&sw->wait);
	if (req->batch && atomic_dec_and_test(&req->batch->pending))
		complete(&req->batch->done);
	memvirt_vm_put(vm);
	kfree(req);
}

static void memvirt_swap_done_fn(struct work_struct *work)
{
	struct memvirt_swap_req *req, *tmp;
	LIST_HEAD(done);

	spin_lock_irq(&memvirt_swap_done_lock);
	list_splice_init(&memvirt_swap_done_list, &done);
	spin_unlock_irq(&memvirt_swap_done_lock);
	list_for_each_entry_safe(req, tmp, &done, node) {
		memvirt_swap_finish(req);
		cond_resched();
	}
}

/*
 * Adds a page for @gfn to the run's write requests, in a free slot; false
 * if there is none, or no memory for a request.
 */
static bool memvirt_swap_queue(struct memvirt_vm *vm, struct memvirt_swap_ctx *ctx, u64 gfn,
			       struct page *page, u64 id, bool evict)
{
	struct memvirt_swap_req *req = ctx->nr_req ? ctx->req[ctx->nr_req - 1] : NULL;
	unsigned int i;
	u64 slot;

	if (!memvirt_swap_slot_alloc(vm, 1, &slot))
		return false;
	if (!req || req->evict != evict || req->slot + req->nr != slot) {
		req = kmalloc(sizeof(*req), GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
		if (!req) {
			memvirt_swap_slot_free(vm, slot, 1);
			return false;
		}
		req->vm = vm;
		req->batch = ctx->batch;
		req->slot = slot;
		req->nr = 0;
		req->evict = evict;
		ctx->req[ctx->nr_req++] = req;
	}
	i = req->nr++;
	req->gfn[i] = gfn;
	req->id[i] = id;
	req->page[i] = page;
	return true;
}

/* Issues one write request (the memvirt_swapio thread). */
static void memvirt_swap_write_fn(struct kthread_work *work)
{
	struct memvirt_swap_req *req = container_of(work, struct memvirt_swap_req, work);
	struct memvirt_vm *vm = req->vm;
	struct iov_iter iter;
	ssize_t ret;

	memvirt_swap_file_io(vm, &req->iocb, &iter, req->bv, req->page, req->nr, req->slot,
			     WRITE);
	req->iocb.ki_complete = memvirt_swap_write_done;
	ret = vm->swap.file->f_op->write_iter(&req->iocb, &iter);
	if (ret != -EIOCBQUEUED)
		memvirt_swap_write_done(&req->iocb, ret);
}

/* Queues the run's requests for the memvirt_swapio thread, its locks dropped. */
static void memvirt_swap_submit(struct memvirt_vm *vm, struct memvirt_swap_ctx *ctx)
{
	struct memvirt_vm_swap *sw = &vm->swap;
	struct memvirt_swap_req *req;
	unsigned int i;

	for (i = 0; i < ctx->nr_req; i++) {
		req = ctx->req[i];
		memvirt_vm_get(vm);
		atomic_add(req->nr, &sw->inflight);
		atomic_long_add(req->nr, &memvirt_swap_stats.writeback_inflight);
		if (req->batch)
			atomic_inc(&req->batch->pending);
		kthread_init_work(&req->work, memvirt_swap_write_fn);
		kthread_queue_work(memvirt_swap_io, &req->work);
	}
	ctx->nr_req = 0;
}

/* Swap-out. */

/*
 * One isolated page of a locked run: ZERO, COMPRESSED, or queued for the
 * swap file (WB set, the write's reference taken, unlocked); false if it
 * stays as it was (unlocked).
 */
static bool memvirt_swap_out_page(struct memvirt_vm *vm, struct memvirt_swap_ctx *ctx,
				  u64 gfn, u64 *ptep, struct page *page,
				  enum memvirt_swap_mode mode, struct memvirt_swap_result *res)
{
	u64 id, pte;
	int err;

	if (memvirt_page_is_zero(page)) {
		__memvirt_store_free_isolated(vm, ptep, page, MEMVIRT_P2M_ZERO);
		res->zeroed++;
		return true;
	}
	if (mode != MEMVIRT_SWAP_FILE) {
		err = memvirt_zcache_store(vm, gfn, page, ctx->wrkmem, ctx->buf, &id);
		if (!err) {
			pte = memvirt_pte_mk_stored(MEMVIRT_P2M_COMPRESSED, id);
			__memvirt_store_release_isolated(vm, ptep, page, pte);
			res->compressed++;
			return true;
		}
	}
	if (!vm->swap.file || !memvirt_swap_queue(vm, ctx, gfn, page, 0, false)) {
		unlock_page(page);
		return false;
	}
	memvirt_p2m_set(ptep, memvirt_p2m_read(ptep) | MEMVIRT_PTE_WB);
	get_page(page);		/* the write's */
	unlock_page(page);
	return true;
}

/* A COMPRESSED gfn of a locked run, for the swap file: queue a copy. */
static void memvirt_swap_evict_one(struct memvirt_vm *vm, struct memvirt_swap_ctx *ctx,
				   u64 gfn, u64 *ptep)
{
	u64 id = memvirt_pte_where(memvirt_p2m_read(ptep));
	struct page *copy;

	copy = alloc_page(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
	if (!copy)
		return;
	if (memvirt_zcache_load(vm, id, copy) ||
	    !memvirt_swap_queue(vm, ctx, gfn, copy, id, true)) {
		memvirt_zcache_requeue(vm, id);
		put_page(copy);
		return;
	}
	ctx->taken++;
}

/* One run of up to MEMVIRT_STORE_BATCH gfns of one leaf table. */
static void memvirt_swap_out_run(struct memvirt_vm *vm, struct memvirt_swap_ctx *ctx,
				 u64 gfn, u64 *ptep, unsigned int nr,
				 enum memvirt_swap_mode mode, struct memvirt_swap_result *res)
{
	DECLARE_BITMAP(todo, MEMVIRT_STORE_BATCH) = {};
	DECLARE_BITMAP(zap, MEMVIRT_STORE_BATCH) = {};
	DECLARE_BITMAP(evict, MEMVIRT_STORE_BATCH) = {};
	struct page *page[MEMVIRT_STORE_BATCH];
	unsigned int i, start, end;
	u64 pte;

	memvirt_p2m_lock_run(&vm->p2m, ptep, nr);
	for (i = 0; i < nr; i++) {
		pte = memvirt_p2m_read(ptep + i);
		switch (memvirt_store_action(memvirt_pte_state(pte), mode == MEMVIRT_SWAP_FILE ?
					     MEMVIRT_OP_SWAP : MEMVIRT_OP_COMPRESS)) {
		case MEMVIRT_ACT_TAKE:
			break;
		default:
			continue;
		}
		if (memvirt_pte_state(pte) == MEMVIRT_P2M_COMPRESSED) {
			__set_bit(i, evict);
			continue;
		}
		if (memvirt_pte_in_writeback(pte))
			continue;
		if (mode == MEMVIRT_SWAP_COLD && (pte & MEMVIRT_PTE_AGE_MASK)) {
			/* Recently used: left alone for a few sweeps. */
			memvirt_p2m_set(ptep + i, pte - FIELD_PREP(MEMVIRT_PTE_AGE_MASK, 1));
			continue;
		}
		if (mode == MEMVIRT_SWAP_COLD && memvirt_pte_is_accessed(pte)) {
			/* Used since the last sample: zap to sample it again, later. */
			pte &= ~(MEMVIRT_PTE_A | MEMVIRT_PTE_AGE_MASK);
			memvirt_p2m_set(ptep + i, pte | FIELD_PREP(MEMVIRT_PTE_AGE_MASK,
								   MEMVIRT_HOT_SWEEPS));
			__set_bit(i, zap);
			continue;
		}
		page[i] = pfn_to_page(memvirt_pte_pfn(pte));
		lock_page(page[i]);
		__set_bit(i, todo);
		__set_bit(i, zap);
		res->scanned++;
	}
	for_each_set_bitrange(start, end, zap, nr)
		vm->store_ops->unmap(vm, gfn + start, end - start);
	for_each_set_bit(i, todo, nr) {
		if (!memvirt_page_is_exclusive(vm, page[i])) {
			unlock_page(page[i]);
			res->pinned++;
			continue;
		}
		if (ctx->taken >= ctx->want) {
			unlock_page(page[i]);
			continue;
		}
		if (memvirt_swap_out_page(vm, ctx, gfn + i, ptep + i, page[i], mode, res))
			ctx->taken++;
	}
	for_each_set_bit(i, evict, nr)
		memvirt_swap_evict_one(vm, ctx, gfn + i, ptep + i);
	memvirt_p2m_unlock_run(&vm->p2m, ptep, nr);
	memvirt_swap_submit(vm, ctx);
}

/*
 * Swap-out over gfns [@start, @end), up to @want pages; waits for the
 * writes if @res is to count them (@wait).
 */
/* A pass's scratch, taking up to @want pages; @wait: its writes are waited for. */
static struct memvirt_swap_ctx *memvirt_swap_ctx_alloc(u64 want, bool wait)
{
	struct memvirt_swap_ctx *ctx = kvmalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return NULL;
	ctx->nr_req = 0;
	ctx->want = want;
	ctx->taken = 0;
	ctx->batch = wait ? &ctx->own : NULL;
	atomic_set(&ctx->own.pending, 1);
	init_completion(&ctx->own.done);
	atomic_long_set(&ctx->own.swapped, 0);
	return ctx;
}

/*
 * Ends a pass: waits for its writes if it is to, frees its scratch.
 * Returns the pages those writes swapped out (0 if not waited for).
 */
static long memvirt_swap_ctx_free(struct memvirt_swap_ctx *ctx)
{
	long swapped = 0;

	if (ctx->batch) {
		if (!atomic_dec_and_test(&ctx->batch->pending))
			wait_for_completion(&ctx->batch->done);
		swapped = atomic_long_read(&ctx->batch->swapped);
	}
	kvfree(ctx);
	return swapped;
}

/*
 * Swap-out over gfns [@start, @end), up to @want pages; waits for the
 * writes if @res is to count them (@wait).
 */
static int memvirt_swap_out_range(struct memvirt_vm *vm, u64 start, u64 end,
				  enum memvirt_swap_mode mode, u64 want, bool wait,
				  struct memvirt_swap_result *res)
{
	struct memvirt_swap_ctx *ctx;
	struct memvirt_p2m_iter iter;
	unsigned int nr;
	int err = 0;

	ctx = memvirt_swap_ctx_alloc(want, wait);
	if (!ctx)
		return -ENOMEM;
	while (start < end && ctx->taken < ctx->want) {
		memvirt_p2m_iter_start(&iter, &vm->p2m, start, end);
		if (!iter.valid)
			break;
		nr = min_t(u64, end - iter.gfn,
			   min(memvirt_p2m_leaf_room(iter.gfn), MEMVIRT_STORE_BATCH));
		memvirt_swap_out_run(vm, ctx, iter.gfn, iter.ptep, nr, mode, res);
		start = iter.gfn + nr;
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	res->taken += ctx->taken;
	res->swapped += memvirt_swap_ctx_free(ctx);
	return err;
}

/**
 * memvirt_swap_out - MEMVIRT_IOC_RECLAIM's compress and swap modes.
 * @vm: the VM; its file is open, or the caller is between
 *	memvirt_vm_begin_work() and memvirt_vm_end_work().
 * @start: first gfn.
 * @end: first gfn past the range.
 * @mode: MEMVIRT_SWAP_COMPRESS or MEMVIRT_SWAP_FILE.
 * @res: what was done, added to; every write started has completed.
 *
 * Return: 0, -EOPNOTSUPP for MEMVIRT_SWAP_FILE without a swap file,
 * -EINTR on a fatal signal, -ENOMEM.
 */
int memvirt_swap_out(struct memvirt_vm *vm, u64 start, u64 end, enum memvirt_swap_mode mode,
		     struct memvirt_swap_result *res)
{
	if (mode == MEMVIRT_SWAP_FILE && !READ_ONCE(vm->swap.file))
		return -EOPNOTSUPP;
	return memvirt_swap_out_range(vm, start, end, mode, U64_MAX, true, res);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_swap_out);

/**
 * memvirt_swap_evict - write cache entries of gfns @gfns to the swap file.
 * @vm: the VM, between memvirt_vm_begin_work() and memvirt_vm_end_work().
 * @gfns: the gfns, taken off the cache's LRU list; each is revalidated.
 * @nr: how many, at most MEMVIRT_STORE_BATCH.
 *
 * Return: the entries written (their gfns are now SWAPPED).
 */
int memvirt_swap_evict(struct memvirt_vm *vm, const u64 *gfns, unsigned int nr)
{
	struct memvirt_swap_ctx *ctx;
	unsigned int i;
	u64 *ptep;

	ctx = memvirt_swap_ctx_alloc(nr, true);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		ptep = memvirt_p2m_find(&vm->p2m, gfns[i]);
		if (!ptep)
			continue;
		memvirt_p2m_lock_gfn(&vm->p2m, ptep);
		if (memvirt_pte_state(memvirt_p2m_read(ptep)) == MEMVIRT_P2M_COMPRESSED)
			memvirt_swap_evict_one(vm, ctx, gfns[i], ptep);
		memvirt_p2m_unlock_gfn(&vm->p2m, ptep);
	}
	memvirt_swap_submit(vm, ctx);
	return memvirt_swap_ctx_free(ctx);
}

/* Swap-in. */

/* How far past a faulting gfn readahead looks for its slot neighbours. */
#define MEMVIRT_READAHEAD_WINDOW	MEMVIRT_STORE_BATCH

/*
 * Readahead: finds up to swapin_readahead gfns after @gfn (in its leaf
 * table, within MEMVIRT_READAHEAD_WINDOW) that are SWAPPED in the slots
 * right after @slot, in order, skipping gfns in any other state (a run's
 * pages that compressed well went to the cache, the others to consecutive
 * slots). Locks each (only if its lock is free) and gives it a page.
 * Returns how many; their entries go to @pteps, their pages to @pages.
 */
static unsigned int memvirt_swap_readahead(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
					   u64 slot, u64 **pteps, struct page **pages)
{
	unsigned int max = min_t(unsigned int, READ_ONCE(memvirt_swap_knobs.swapin_readahead),
				 MEMVIRT_READAHEAD_MAX);
	unsigned int window = min_t(unsigned int, MEMVIRT_READAHEAD_WINDOW,
				    memvirt_p2m_leaf_room(gfn) - 1);
	unsigned int i, n = 0;
	u64 *p, pte;

	for (i = 1; i <= window && n < max; i++) {
		p = ptep + i;
		pte = memvirt_p2m_read(p);
		if (memvirt_pte_state(pte) != MEMVIRT_P2M_SWAPPED)
			continue;
		if (memvirt_pte_where(pte) != slot + 1 + n || !memvirt_p2m_trylock_gfn(&vm->p2m, p))
			break;
		pte = memvirt_p2m_read(p);
		if (memvirt_pte_state(pte) != MEMVIRT_P2M_SWAPPED ||
		    memvirt_pte_where(pte) != slot + 1 + n)
			goto unlock;
		pages[n] = vm->store_ops->alloc_guest_page(vm, NULL, true);
		if (!pages[n])
			goto unlock;
		pteps[n++] = p;
	}
	return n;
unlock:
	memvirt_p2m_unlock_gfn(&vm->p2m, p);
	return n;
}

/* Undoes memvirt_swap_readahead(). */
static void memvirt_swap_readahead_drop(struct memvirt_vm *vm, u64 **pteps, struct page **pages,
					unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		put_page(pages[i]);
		memvirt_p2m_unlock_gfn(&vm->p2m, pteps[i]);
	}
}

/* A locked gfn whose data is lost: ERROR, every access fails from now on. */
static struct page *memvirt_swap_lost(struct memvirt_vm *vm, u64 gfn, u64 *ptep, int err)
{
	bool swapped = memvirt_pte_state(memvirt_p2m_read(ptep)) == MEMVIRT_P2M_SWAPPED;

	pr_err_ratelimited("vm %llu (%s): gfn 0x%llx: %s failed (%d): its accesses fail until it is punched\n",
			   vm->id, vm->name, gfn,
			   swapped ? "reading it from the swap file" : "decompressing it", err);
	__memvirt_swap_drop(vm, ptep);
	memvirt_p2m_set(ptep, memvirt_pte_mk_nopage(MEMVIRT_P2M_ERROR));
	memvirt_swap_error(vm, 1);
	return ERR_PTR(-EIO);
}

/**
 * __memvirt_swap_load - bring a locked COMPRESSED or SWAPPED gfn back.
 * @vm: the VM.
 * @gfn: the gfn.
 * @ptep: its entry, whose gfn lock the caller holds.
 * @vmf: the fault, for the page's NUMA placement; or NULL.
 *
 * Return: the gfn's new private page (the P2M's reference only); or
 * ERR_PTR(-ENOMEM), the gfn unchanged; or ERR_PTR(-EIO), the gfn now ERROR.
 */
struct page *__memvirt_swap_load(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
				 struct vm_fault *vmf)
{
	struct page *pages[MEMVIRT_READAHEAD_MAX + 1];
	u64 *pteps[MEMVIRT_READAHEAD_MAX + 1];
	u64 pte = memvirt_p2m_read(ptep);
	u64 where = memvirt_pte_where(pte);
	unsigned int i, ra = 0;
	int err;

	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	pages[0] = vm->store_ops->alloc_guest_page(vm, vmf, true);
	if (!pages[0])
		return ERR_PTR(-ENOMEM);
	if (memvirt_pte_state(pte) == MEMVIRT_P2M_COMPRESSED) {
		err = memvirt_zcache_load(vm, where, pages[0]);
		if (err) {
			put_page(pages[0]);
			return memvirt_swap_lost(vm, gfn, ptep, err);
		}
		memvirt_zcache_free(vm, where);
		__memvirt_store_install(vm, ptep, pages[0]);
		return pages[0];
	}
	ra = memvirt_swap_readahead(vm, gfn, ptep, where, pteps + 1, pages + 1);
	err = memvirt_swap_file_read(vm, pages, 1 + ra, where);
	if (err && ra) {
		/* Which page failed is unknown: the neighbours stay swapped. */
		memvirt_swap_readahead_drop(vm, pteps + 1, pages + 1, ra);
		ra = 0;
		err = memvirt_swap_file_read(vm, pages, 1, where);
	}
	trace_swap_in(vm->id, gfn, where, 1 + ra, err);
	if (err) {
		put_page(pages[0]);
		return memvirt_swap_lost(vm, gfn, ptep, err);
	}
	pteps[0] = ptep;
	for (i = 0; i <= ra; i++) {
		memvirt_swap_slot_free(vm, where + i, 1);
		__memvirt_store_install(vm, pteps[i], pages[i]);
		if (i)
			memvirt_p2m_unlock_gfn(&vm->p2m, pteps[i]);
	}
	memvirt_swap_account(vm, -(long)(1 + ra));
	atomic_long_add(1 + ra, &vm->stats.swap_ins);
	atomic_long_add(1 + ra, &memvirt_swap_stats.swap_ins);
	return pages[0];
}

MEMVIRT_EXPORT_FOR_KUNIT(__memvirt_swap_load);

/**
 * __memvirt_swap_drop - free what a locked COMPRESSED or SWAPPED gfn holds
 * (punch, truncate, teardown, a lost page); the caller sets its new state.
 * @vm: the VM.
 * @ptep: the entry, whose gfn lock the caller holds.
 */
void __memvirt_swap_drop(struct memvirt_vm *vm, u64 *ptep)
{
	u64 pte = memvirt_p2m_read(ptep);

	memvirt_p2m_assert_locked(&vm->p2m, ptep);
	if (memvirt_pte_state(pte) == MEMVIRT_P2M_COMPRESSED) {
		memvirt_zcache_free(vm, memvirt_pte_where(pte));
	} else if (memvirt_pte_state(pte) == MEMVIRT_P2M_SWAPPED) {
		memvirt_swap_slot_free(vm, memvirt_pte_where(pte), 1);
		memvirt_swap_account(vm, -1);
	}
}

MEMVIRT_EXPORT_FOR_KUNIT(__memvirt_swap_drop);

/* The resident limit. */

/* Resident pages plus compressed bytes, in pages: what the limit caps. */
static u64 memvirt_swap_charge(struct memvirt_vm *vm)
{
	return atomic_long_read(&vm->stats.resident) +
	       DIV_ROUND_UP(atomic_long_read(&vm->stats.compressed_bytes), PAGE_SIZE);
}

/**
 * memvirt_swap_shrink - take a VM's coldest pages until its charge is below
 * @limit.
 * @vm: the VM; the caller holds no memvirt lock and keeps the VM alive (its
 *	file is open, or it is between memvirt_vm_begin_work() and
 *	memvirt_vm_end_work()).
 * @limit: the charge (resident pages plus compressed bytes, in pages) to
 *	get below.
 * @max_take: most pages to take.
 * @flags: MEMVIRT_SHRINK_TRYLOCK: do nothing if another task reclaims the
 *	VM; MEMVIRT_SHRINK_NOWAIT: never wait for swap writes, stop instead.
 *
 * Reclaims the coldest pages (cache, else swap file) until the charge,
 * less the pages being written out, is MEMVIRT_LIMIT_SLACK below @limit,
 * and then waits for those writes while the charge is still at @limit:
 * pages being written count against it until they are gone. Waits, too,
 * while too many of its pages are being written. Gives up after
 * MEMVIRT_HOT_SWEEPS + 2 turns of the clock hand that took nothing, and on a
 * fatal signal.
 *
 * Return: the pages taken (freed, compressed, or queued for the swap file).
 */
u64 memvirt_swap_shrink(struct memvirt_vm *vm, u64 limit, u64 max_take, unsigned int flags)
{
	bool nowait = flags & MEMVIRT_SHRINK_NOWAIT;
	struct memvirt_vm_swap *sw = &vm->swap;
	u64 charge, pages, target, swept = 0, start, end, taken = 0;
	struct memvirt_swap_result res;
	long inflight;

	if (memvirt_swap_charge(vm) < limit)
		return 0;
	if (flags & MEMVIRT_SHRINK_TRYLOCK) {
		if (!mutex_trylock(&sw->reclaim_lock))
			return 0;
	} else if (mutex_lock_killable(&sw->reclaim_lock)) {
		return 0;
	}
	target = limit > MEMVIRT_LIMIT_SLACK ? limit - MEMVIRT_LIMIT_SLACK : 0;
	while (taken < max_take) {
		inflight = atomic_read(&sw->inflight);
		charge = memvirt_swap_charge(vm);
		if (charge < limit)
			break;
		if (charge - min_t(u64, charge, inflight) <= target) {
			/*
			 * Enough is on its way to the swap file: wait for it,
			 * as a memory cgroup waits for writeback. The limit
			 * holds pages being written too.
			 */
			if (nowait || !inflight ||
			    wait_event_killable(sw->wait, memvirt_swap_charge(vm) < limit ||
						!atomic_read(&sw->inflight)))
				break;
			continue;
		}
		if (inflight >= MEMVIRT_INFLIGHT_MAX) {
			if (nowait || wait_event_killable(sw->wait, atomic_read(&sw->inflight) <
							  MEMVIRT_INFLIGHT_MAX))
				break;
			continue;
		}
		pages = memvirt_vm_pages(vm);
		if (!pages || swept > (MEMVIRT_HOT_SWEEPS + 2) * pages)
			break;
		start = sw->hand < pages ? sw->hand : 0;
		end = min(start + MEMVIRT_P2M_ENTRIES, pages);
		memset(&res, 0, sizeof(res));
		memvirt_swap_out_range(vm, start, end, MEMVIRT_SWAP_COLD,
				       min(charge - inflight - target, max_take - taken), false,
				       &res);
		sw->hand = end;
		atomic_long_add(res.zeroed + res.compressed, &vm->stats.reclaimed);
		taken += res.taken;
		swept += end - start;
		if (res.taken)
			swept = 0;
		if (fatal_signal_pending(current))
			break;
	}
	mutex_unlock(&sw->reclaim_lock);
	return taken;
}

/**
 * memvirt_swap_enforce_limit - keep the VM under its limit before an access
 * that may allocate.
 * @vm: the VM; the caller holds no memvirt lock (a fault, write() or
 *	populate about to start).
 */
void memvirt_swap_enforce_limit(struct memvirt_vm *vm)
{
	u64 limit = READ_ONCE(vm->limit_pages);

	if (limit != U64_MAX)
		memvirt_swap_shrink(vm, limit, U64_MAX, 0);
}

/* Per VM. */

/* The swap file's size: the VM's size less its reservation. */
int memvirt_swap_vm_resize(struct memvirt_vm *vm)
{
	struct path dir;
	bool have_dir;
	u64 pages;
	int err;

	mutex_lock(&memvirt_commit_lock);
	pages = PFN_UP(vm->size);
	pages -= min(pages, vm->reservation_pages);
	mutex_unlock(&memvirt_commit_lock);
	have_dir = memvirt_fs_swapdir(vm->mapping->host->i_sb, &dir);
	err = memvirt_swap_file_resize(vm, have_dir ? &dir : NULL, pages);
	if (have_dir)
		path_put(&dir);
	return err;
}

void memvirt_swap_vm_init(struct memvirt_vm *vm)
{
	struct memvirt_vm_swap *sw = &vm->swap;

	mutex_init(&sw->resize_lock);
	spin_lock_init(&sw->slot_lock);
	xa_init_flags(&sw->entries, XA_FLAGS_ALLOC);
	atomic_set(&sw->inflight, 0);
	init_waitqueue_head(&sw->wait);
	mutex_init(&sw->reclaim_lock);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_swap_vm_init);

/*
 * Teardown, after every gfn was freed: wait for the writes still in flight
 * (their slots are freed as they finish), then remove the swap file.
 */
void memvirt_swap_vm_teardown(struct memvirt_vm *vm)
{
	struct memvirt_vm_swap *sw = &vm->swap;

	wait_event(sw->wait, !atomic_read(&sw->inflight));
	WARN_ON_ONCE(!xa_empty(&sw->entries));
	mutex_lock(&sw->resize_lock);
	memvirt_swap_file_remove(vm);
	mutex_unlock(&sw->resize_lock);
}

void memvirt_swap_vm_free(struct memvirt_vm *vm)
{
	kvfree(vm->swap.slots);
	xa_destroy(&vm->swap.entries);
	kfree(vm->swap.path);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_swap_vm_free);

int memvirt_swap_init(void)
{
	int err;

	err = memvirt_swap_file_init();
	if (err)
		return err;
	err = memvirt_zcache_init();
	if (err)
		goto out_file;
	memvirt_swap_wq = alloc_workqueue("memvirt_swap", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!memvirt_swap_wq) {
		err = -ENOMEM;
		goto out_zcache;
	}
	memvirt_swap_io = kthread_create_worker(0, "memvirt_swapio");
	if (IS_ERR(memvirt_swap_io)) {
		err = PTR_ERR(memvirt_swap_io);
		goto out_wq;
	}
	return 0;

out_wq:
	destroy_workqueue(memvirt_swap_wq);
out_zcache:
	memvirt_zcache_exit();
out_file:
	memvirt_swap_file_exit();
	return err;
}

void memvirt_swap_exit(void)
{
	kthread_destroy_worker(memvirt_swap_io);
	destroy_workqueue(memvirt_swap_wq);
	memvirt_zcache_exit();
	memvirt_swap_file_exit();
}
