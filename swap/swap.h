/* SPDX-License-Identifier: GPL-2.0 */
/*
 * swap/: the compression cache (zcache.c: LZ4 into a zsmalloc pool) and
 * hypervisor swap (file.c: each VM's reserved swap file and its slots;
 * swap.c: swap-out through the reclaim protocol, cold pages first,
 * asynchronous batched writeback, synchronous swap-in, the resident limit).
 *
 * Locking
 * =======
 *
 * Order (outer first; Documentation/locking.rst has the global picture):
 *   1. sw->resize_lock (mutex): creating, growing, shrinking and removing
 *      the VM's swap file. Taken under the memvirt file's i_rwsem (resize)
 *      or memvirt_commit_lock's callers (policy), never under a gfn lock.
 *   2. sw->reclaim_lock (mutex): one reclaimer of the VM's resident limit
 *      at a time; taken with no memvirt lock held (the start of a fault).
 *   3. gfn lock, or one run of gfn locks (ept/ept.h). Swap-in reads the
 *      swap file under the faulting gfn's lock, and takes readahead gfns
 *      with memvirt_p2m_trylock_gfn() only. Write completions run from a
 *      workqueue and take one gfn lock at a time; they never take the VM's
 *      lifetime rwsem (teardown waits for them instead: sw->inflight).
 *   4. page locks (module/store.h).
 *   5. sw->slot_lock (spinlock), memvirt_zcache.lock (spinlock), the
 *      xarray lock of sw->entries: innermost, nothing sleeps under them.
 *
 * Reads and writes of the swap file are asynchronous direct-I/O kiocbs
 * submitted by the memvirt_swapio kernel thread, never by the task that
 * needs them (which may hold mmap_lock, the gfn lock): the filesystem maps
 * the blocks and takes its own locks there, and the page cache never holds
 * a copy of guest RAM.
 */
#ifndef MEMVIRT_SWAP_H
#define MEMVIRT_SWAP_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>

struct bio_vec;
struct file;
struct iov_iter;
struct kiocb;
struct memvirt_vm;
struct path;
struct page;
struct seq_file;
struct super_block;
struct vm_fault;
struct kthread_worker;

/* Compressed pages larger than this go to the swap file (ESX's rule). */
#define MEMVIRT_ZCACHE_MAX_LEN		(PAGE_SIZE / 2)
#define MEMVIRT_CACHE_PERCENT_DEFAULT	10
#define MEMVIRT_READAHEAD_DEFAULT	8
#define MEMVIRT_READAHEAD_MAX		64

/**
 * struct memvirt_vm_swap - one VM's swap file, slots and cache entries.
 * @file:	the swap file, opened O_DIRECT; NULL if the VM has none.
 * @path:	its path, for sysfs and log lines.
 * @resize_lock: serialises creating and resizing @file.
 * @slot_lock:	protects @slots, @nr_slots and @used.
 * @slots:	bitmap of the slots in use; room for @bitmap_bits.
 * @bitmap_bits: size of @slots in bits.
 * @nr_slots:	pages reserved in @file: slots that may be used.
 * @used:	slots in use.
 * @entries:	compression cache entries of the VM, by the id a COMPRESSED
 *		leaf holds.
 * @next_id:	cyclic id allocation: an id is not reused for 2^32 entries.
 * @inflight:	pages whose write to @file has not completed.
 * @wait:	woken when @inflight drops.
 * @reclaim_lock: one limit reclaimer at a time.
 * @hand:	the clock hand: next gfn the cold-page sweep looks at.
 */
struct memvirt_vm_swap {
	struct file *file;
	char *path;
	struct mutex resize_lock;	/* the file's creation and size */
	spinlock_t slot_lock;		/* @slots, @nr_slots, @used */
	unsigned long *slots;
	u64 bitmap_bits;
	u64 nr_slots;
	u64 used;
	struct xarray entries;
	u32 next_id;
	atomic_t inflight;
	wait_queue_head_t wait;
	struct mutex reclaim_lock;	/* one limit reclaimer */
	u64 hand;
};

/* Host-wide counters: /sys/kernel/memvirt/swap/. */
struct memvirt_swap_stats {
	atomic_long_t compressed;
	atomic_long_t compressed_bytes;
	atomic_long_t swapped;
	atomic_long_t swap_outs;
	atomic_long_t swap_ins;
	atomic_long_t compress_rejects;
	atomic_long_t swap_errors;
	atomic_long_t evictions;
	atomic_long_t writeback_cancelled;
	atomic_long_t writeback_inflight;
};

/* Knobs: /sys/kernel/memvirt/swap/. */
struct memvirt_swap_knobs {
	unsigned int cache_percent;
	unsigned int swapin_readahead;
};

extern struct memvirt_swap_stats memvirt_swap_stats;
extern struct kthread_worker *memvirt_swap_io;
extern struct memvirt_swap_knobs memvirt_swap_knobs;

/* What a swap-out pass did (MEMVIRT_IOC_RECLAIM's outputs). */
struct memvirt_swap_result {
	u64 scanned;
	u64 pinned;
	u64 zeroed;
	u64 compressed;
	u64 swapped;
	u64 taken;	/* zeroed, compressed or queued for the swap file */
};

/* How a swap-out pass picks and places pages. */
enum memvirt_swap_mode {
	MEMVIRT_SWAP_COMPRESS,	/* every private page: cache, else file */
	MEMVIRT_SWAP_FILE,	/* every private and compressed page: file */
	MEMVIRT_SWAP_COLD,	/* cold private pages only: cache, else file */
};

int memvirt_swap_init(void);
void memvirt_swap_exit(void);

/* Per VM: set up at creation, torn down after the last gfn is freed. */
void memvirt_swap_vm_init(struct memvirt_vm *vm);
void memvirt_swap_vm_teardown(struct memvirt_vm *vm);
void memvirt_swap_vm_free(struct memvirt_vm *vm);

/* file.c: the swap file. */
int memvirt_swap_file_init(void);
void memvirt_swap_file_exit(void);
int memvirt_swap_file_resize(struct memvirt_vm *vm, const struct path *dir, u64 pages);
void memvirt_swap_file_remove(struct memvirt_vm *vm);
u64 memvirt_swap_file_pages(struct memvirt_vm *vm);
void memvirt_swap_file_io(struct memvirt_vm *vm, struct kiocb *iocb, struct iov_iter *iter,
			  struct bio_vec *bv, struct page **pages, unsigned int nr, u64 slot,
			  unsigned int dir);
bool memvirt_swap_slot_alloc(struct memvirt_vm *vm, unsigned int nr, u64 *slot);
void memvirt_swap_slot_free(struct memvirt_vm *vm, u64 slot, unsigned int nr);
int memvirt_swap_file_read(struct memvirt_vm *vm, struct page **pages, unsigned int nr,
			   u64 slot);
void memvirt_swap_show_slots(struct seq_file *m, struct memvirt_vm *vm);

/* zcache.c: the compression cache. */
int memvirt_zcache_init(void);
void memvirt_zcache_exit(void);
int memvirt_zcache_store(struct memvirt_vm *vm, u64 gfn, struct page *page, void *wrkmem,
			 u8 *buf, u64 *id);
int memvirt_zcache_load(struct memvirt_vm *vm, u64 id, struct page *page);
void memvirt_zcache_free(struct memvirt_vm *vm, u64 id);
void memvirt_zcache_requeue(struct memvirt_vm *vm, u64 id);
u64 memvirt_zcache_limit_bytes(void);
u64 memvirt_zcache_pool_bytes(void);
void memvirt_zcache_show(struct seq_file *m);
void memvirt_zcache_kick(void);

/* swap.c: swap-out, swap-in, the limit. */
int memvirt_swap_out(struct memvirt_vm *vm, u64 start, u64 end, enum memvirt_swap_mode mode,
		     struct memvirt_swap_result *res);
struct page *__memvirt_swap_load(struct memvirt_vm *vm, u64 gfn, u64 *ptep,
				 struct vm_fault *vmf);
void __memvirt_swap_drop(struct memvirt_vm *vm, u64 *ptep);
void memvirt_swap_enforce_limit(struct memvirt_vm *vm);

#define MEMVIRT_SHRINK_TRYLOCK	BIT(0)	/* skip a VM another task reclaims */
#define MEMVIRT_SHRINK_NOWAIT	BIT(1)	/* never wait for swap writes */
u64 memvirt_swap_shrink(struct memvirt_vm *vm, u64 limit, u64 max_take, unsigned int flags);
int memvirt_swap_evict(struct memvirt_vm *vm, const u64 *gfns, unsigned int nr);
int memvirt_swap_vm_resize(struct memvirt_vm *vm);

#endif /* MEMVIRT_SWAP_H */
