// SPDX-License-Identifier: GPL-2.0
/*
 * The compression cache: guest pages compressed with LZ4 into a zsmalloc
 * pool, in front of the VMs' swap files.
 *
 * DOC: the compression cache
 *
 * A page taken from a VM is compressed with the kernel's LZ4 library. If it
 * shrinks to at most half a page (MEMVIRT_ZCACHE_MAX_LEN, ESX's rule: less
 * would save too little for the CPU a fault costs), the bytes go to the
 * host-wide zsmalloc pool and the gfn becomes COMPRESSED, its P2M leaf
 * holding the id of its entry (struct memvirt_zentry) in the VM's xarray;
 * otherwise it is counted as a reject and written to the VM's swap file.
 *
 * The pool is limited to cache_percent of the budget. Entries sit on one
 * host-wide LRU list in the order they were made; when the pool grows past
 * its limit, a worker writes the oldest entries of VMs that have a swap
 * file to that file (an eviction: COMPRESSED becomes SWAPPED) until it is
 * below. A VM without a swap file compresses only while the pool is below
 * its limit.
 *
 * An entry is created, read and freed under its gfn's lock; the LRU list
 * and the size histogram are under memvirt_zcache.lock. The evictor takes
 * entries off the list under that lock, then revalidates each under its
 * gfn lock (the id in the leaf, and the entry the xarray gives for it)
 * before it reads it: ids are allocated cyclically over 32 bits, so a freed
 * entry's id does not come back while the evictor may still hold it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/lz4.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/zsmalloc.h>

#include "module/kunit_export.h"
#include "module/memvirt.h"
#include "module/trace.h"
#include "swap/swap.h"

#define MEMVIRT_ZCACHE_HIST	8	/* size buckets of 256 bytes */
#define MEMVIRT_EVICT_SCAN	1024	/* LRU entries looked at per round */

/**
 * struct memvirt_zentry - one compressed page.
 * @lru:	in memvirt_zcache.lru, oldest first; empty while evicted.
 * @vm:		its VM, alive while the entry is (teardown frees it).
 * @gfn:	its gfn.
 * @handle:	zsmalloc handle of the compressed bytes.
 * @len:	their length, at most MEMVIRT_ZCACHE_MAX_LEN.
 */
struct memvirt_zentry {
	struct list_head lru;
	struct memvirt_vm *vm;
	u64 gfn;
	unsigned long handle;
	unsigned int len;
};

static struct {
	spinlock_t lock;	/* @lru, @hist */
	struct list_head lru;
	struct zs_pool *pool;
	struct kmem_cache *entries;
	struct work_struct evict_work;
	unsigned long hist[MEMVIRT_ZCACHE_HIST];
} memvirt_zcache;

/*
 * Allocations under gfn and page locks must not wait for reclaim, which
 * may need those very pages: as zswap, ask without retrying, and fall back
 * to the swap file.
 */
#define MEMVIRT_ZCACHE_GFP	(__GFP_NORETRY | __GFP_NOWARN | __GFP_KSWAPD_RECLAIM)

u64 memvirt_zcache_pool_bytes(void)
{
	return (u64)zs_get_total_pages(memvirt_zcache.pool) << PAGE_SHIFT;
}

/* The pool's limit: cache_percent of the budget. */
u64 memvirt_zcache_limit_bytes(void)
{
	u64 budget = READ_ONCE(memvirt.budget_pages);

	return div_u64(budget * READ_ONCE(memvirt_swap_knobs.cache_percent), 100) << PAGE_SHIFT;
}

static unsigned int memvirt_zcache_bucket(unsigned int len)
{
	return min_t(unsigned int, len / (MEMVIRT_ZCACHE_MAX_LEN / MEMVIRT_ZCACHE_HIST),
		     MEMVIRT_ZCACHE_HIST - 1);
}

static void memvirt_zcache_account(struct memvirt_vm *vm, long nr, long bytes)
{
	atomic_long_add(nr, &vm->stats.compressed);
	atomic_long_add(bytes, &vm->stats.compressed_bytes);
	atomic_long_add(nr, &memvirt_swap_stats.compressed);
	atomic_long_add(bytes, &memvirt_swap_stats.compressed_bytes);
}

/**
 * memvirt_zcache_store - compress an isolated page into the cache.
 * @vm: the VM.
 * @gfn: the page's gfn, whose lock the caller holds.
 * @page: the page, locked and mapped nowhere.
 * @wrkmem: LZ4_MEM_COMPRESS bytes of scratch.
 * @buf: MEMVIRT_ZCACHE_MAX_LEN bytes of scratch.
 * @id: out: the entry's id, for the COMPRESSED leaf.
 *
 * Return: 0; -E2BIG if the page compresses to more than half a page
 * (counted as a reject); -ENOSPC if the cache is off, or full and the VM
 * has no swap file to evict to; -ENOMEM.
 */
int memvirt_zcache_store(struct memvirt_vm *vm, u64 gfn, struct page *page, void *wrkmem,
			 u8 *buf, u64 *id)
{
	u64 limit = memvirt_zcache_limit_bytes();
	struct memvirt_zentry *e;
	unsigned long handle;
	void *src, *dst;
	u32 xa_id;
	int len;

	if (!limit || (memvirt_zcache_pool_bytes() >= limit && !READ_ONCE(vm->swap.file)))
		return -ENOSPC;
	src = kmap_local_page(page);
	len = LZ4_compress_default(src, buf, PAGE_SIZE, MEMVIRT_ZCACHE_MAX_LEN, wrkmem);
	kunmap_local(src);
	if (len <= 0) {
		atomic_long_inc(&vm->stats.compress_rejects);
		atomic_long_inc(&memvirt_swap_stats.compress_rejects);
		return -E2BIG;
	}
	e = kmem_cache_alloc(memvirt_zcache.entries, GFP_NOWAIT | __GFP_NOWARN);
	if (!e)
		return -ENOMEM;
	handle = zs_malloc(memvirt_zcache.pool, len,
			   MEMVIRT_ZCACHE_GFP | __GFP_HIGHMEM | __GFP_MOVABLE);
	if (IS_ERR_VALUE(handle) || !handle)
		goto out_free_entry;
	dst = zs_map_object(memvirt_zcache.pool, handle, ZS_MM_WO);
	memcpy(dst, buf, len);
	zs_unmap_object(memvirt_zcache.pool, handle);
	e->vm = vm;
	e->gfn = gfn;
	e->handle = handle;
	e->len = len;
	if (xa_alloc_cyclic(&vm->swap.entries, &xa_id, e, xa_limit_32b, &vm->swap.next_id,
			    GFP_NOWAIT | __GFP_NOWARN) < 0)
		goto out_free_handle;
	spin_lock(&memvirt_zcache.lock);
	list_add_tail(&e->lru, &memvirt_zcache.lru);
	memvirt_zcache.hist[memvirt_zcache_bucket(len)]++;
	spin_unlock(&memvirt_zcache.lock);
	memvirt_zcache_account(vm, 1, len);
	trace_compress(vm->id, gfn, len);
	if (memvirt_zcache_pool_bytes() > limit)
		memvirt_zcache_kick();
	*id = xa_id;
	return 0;

out_free_handle:
	zs_free(memvirt_zcache.pool, handle);
out_free_entry:
	kmem_cache_free(memvirt_zcache.entries, e);
	return -ENOMEM;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_zcache_store);

/**
 * memvirt_zcache_load - decompress a cache entry into a page.
 * @vm: the VM.
 * @id: the entry's id, from a COMPRESSED leaf whose gfn lock the caller holds.
 * @page: the page to fill.
 *
 * The entry stays; memvirt_zcache_free() frees it.
 *
 * Return: 0; -EIO if there is no such entry or it does not decompress to
 * exactly one page.
 */
int memvirt_zcache_load(struct memvirt_vm *vm, u64 id, struct page *page)
{
	struct memvirt_zentry *e = xa_load(&vm->swap.entries, id);
	void *src, *dst;
	int n;

	if (WARN_ON_ONCE(!e))
		return -EIO;
	src = zs_map_object(memvirt_zcache.pool, e->handle, ZS_MM_RO);
	dst = kmap_local_page(page);
	n = LZ4_decompress_safe(src, dst, e->len, PAGE_SIZE);
	kunmap_local(dst);
	zs_unmap_object(memvirt_zcache.pool, e->handle);
	return n == PAGE_SIZE ? 0 : -EIO;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_zcache_load);

/**
 * memvirt_zcache_free - free a cache entry.
 * @vm: the VM.
 * @id: the entry's id, from a COMPRESSED leaf whose gfn lock the caller
 *	holds; the caller gives the leaf its next state.
 */
void memvirt_zcache_free(struct memvirt_vm *vm, u64 id)
{
	struct memvirt_zentry *e = xa_erase(&vm->swap.entries, id);

	if (WARN_ON_ONCE(!e))
		return;
	spin_lock(&memvirt_zcache.lock);
	list_del_init(&e->lru);
	memvirt_zcache.hist[memvirt_zcache_bucket(e->len)]--;
	spin_unlock(&memvirt_zcache.lock);
	memvirt_zcache_account(vm, -1, -(long)e->len);
	zs_free(memvirt_zcache.pool, e->handle);
	kmem_cache_free(memvirt_zcache.entries, e);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_zcache_free);

/*
 * Takes up to MEMVIRT_STORE_BATCH of the oldest entries of one VM that has
 * a swap file off the LRU list; their gfns go to @gfns. Returns the VM,
 * with a reference, or NULL if no entry can be evicted.
 */
static struct memvirt_vm *memvirt_zcache_pick(u64 *gfns, unsigned int *nr)
{
	struct memvirt_zentry *e, *tmp;
	struct memvirt_vm *vm = NULL;
	unsigned int scanned = 0;

	*nr = 0;
	spin_lock(&memvirt_zcache.lock);
	list_for_each_entry_safe(e, tmp, &memvirt_zcache.lru, lru) {
		if (++scanned > MEMVIRT_EVICT_SCAN || *nr == MEMVIRT_STORE_BATCH)
			break;
		/* The VM lives while it has entries: teardown frees them. */
		if (!READ_ONCE(e->vm->swap.file) || (vm && e->vm != vm))
			continue;
		if (!vm) {
			vm = e->vm;
			memvirt_vm_get(vm);
		}
		gfns[(*nr)++] = e->gfn;
		list_del_init(&e->lru);
	}
	spin_unlock(&memvirt_zcache.lock);
	return vm;
}

/*
 * The evictor: while the pool is over its limit, write the oldest entries
 * to their VMs' swap files. A round that evicts nothing (full swap files,
 * write errors) ends it; the next compression past the limit kicks it again.
 */
static void memvirt_zcache_evict_fn(struct work_struct *work)
{
	u64 gfns[MEMVIRT_STORE_BATCH];
	struct memvirt_vm *vm;
	unsigned int nr;
	int done;

	while (memvirt_zcache_pool_bytes() > memvirt_zcache_limit_bytes()) {
		vm = memvirt_zcache_pick(gfns, &nr);
		if (!vm)
			break;
		done = 0;
		if (memvirt_vm_begin_work(vm)) {
			done = memvirt_swap_evict(vm, gfns, nr);
			memvirt_vm_end_work(vm);
		}
		memvirt_vm_put(vm);
		if (done <= 0)
			break;
		cond_resched();
	}
}

void memvirt_zcache_kick(void)
{
	queue_work(system_unbound_wq, &memvirt_zcache.evict_work);
}

/* Puts an entry whose eviction failed back on the LRU list, as the newest. */
void memvirt_zcache_requeue(struct memvirt_vm *vm, u64 id)
{
	struct memvirt_zentry *e = xa_load(&vm->swap.entries, id);

	if (!e)
		return;
	spin_lock(&memvirt_zcache.lock);
	if (list_empty(&e->lru))
		list_add_tail(&e->lru, &memvirt_zcache.lru);
	spin_unlock(&memvirt_zcache.lock);
}

void memvirt_zcache_show(struct seq_file *m)
{
	unsigned long hist[MEMVIRT_ZCACHE_HIST];
	unsigned int i, step = MEMVIRT_ZCACHE_MAX_LEN / MEMVIRT_ZCACHE_HIST;

	spin_lock(&memvirt_zcache.lock);
	memcpy(hist, memvirt_zcache.hist, sizeof(hist));
	spin_unlock(&memvirt_zcache.lock);
	seq_printf(m, "entries %ld\nbytes %ld\npool_bytes %llu\nlimit_bytes %llu\nevictions %ld\n",
		   atomic_long_read(&memvirt_swap_stats.compressed),
		   atomic_long_read(&memvirt_swap_stats.compressed_bytes),
		   memvirt_zcache_pool_bytes(), memvirt_zcache_limit_bytes(),
		   atomic_long_read(&memvirt_swap_stats.evictions));
	for (i = 0; i < MEMVIRT_ZCACHE_HIST; i++)
		seq_printf(m, "len_%u-%u %lu\n", i * step, (i + 1) * step - 1, hist[i]);
}

int memvirt_zcache_init(void)
{
	spin_lock_init(&memvirt_zcache.lock);
	INIT_LIST_HEAD(&memvirt_zcache.lru);
	INIT_WORK(&memvirt_zcache.evict_work, memvirt_zcache_evict_fn);
	memvirt_zcache.entries = KMEM_CACHE(memvirt_zentry, 0);
	if (!memvirt_zcache.entries)
		return -ENOMEM;
	memvirt_zcache.pool = zs_create_pool("memvirt");
	if (!memvirt_zcache.pool) {
		kmem_cache_destroy(memvirt_zcache.entries);
		return -ENOMEM;
	}
	return 0;
}

/* Module exit: every VM is gone, so is every entry. */
void memvirt_zcache_exit(void)
{
	cancel_work_sync(&memvirt_zcache.evict_work);
	WARN_ON_ONCE(!list_empty(&memvirt_zcache.lru));
	zs_destroy_pool(memvirt_zcache.pool);
	kmem_cache_destroy(memvirt_zcache.entries);
}
