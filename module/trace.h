/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints memvirt:*, usable from perf (`perf list 'memvirt:*'`) and
 * tracefs (events/memvirt/). Events are named for what happened
 * (memvirt:fault, memvirt:discard, memvirt:share, memvirt:zero,
 * memvirt:cow_break, memvirt:reclaim, memvirt:compress, memvirt:swap_out,
 * memvirt:swap_in, memvirt:balloon, memvirt:state), so
 * their C names are trace_fault(), trace_discard() and so on.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM memvirt

#if !defined(MEMVIRT_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define MEMVIRT_TRACE_H

#include <linux/tracepoint.h>

/*
 * Every ->fault and ->page_mkwrite, whatever the outcome (@ret: the
 * vm_fault_t); @state is the gfn's state before; @ns the handler's time,
 * the policy's fault gate included: a swap-in's latency is the @ns of a
 * fault with @state 6.
 */
TRACE_EVENT(fault,

	TP_PROTO(u64 vm_id, u64 gfn, bool write, unsigned int state, unsigned int ret,
		 u64 ns),
	TP_ARGS(vm_id, gfn, write, state, ret, ns),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, gfn)
		__field(bool, write)
		__field(unsigned int, state)
		__field(unsigned int, ret)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->gfn = gfn;
		__entry->write = write;
		__entry->state = state;
		__entry->ret = ret;
		__entry->ns = ns;
	),
	TP_printk("vm=%llu gfn=0x%llx write=%d state=%u ret=0x%x ns=%llu",
		  __entry->vm_id, __entry->gfn, __entry->write, __entry->state,
		  __entry->ret, __entry->ns)
);

/* Pages given back by a punch, a shrink or the VM's teardown. */
TRACE_EVENT(discard,

	TP_PROTO(u64 vm_id, u64 start_gfn, u64 nr_gfns, u64 freed),
	TP_ARGS(vm_id, start_gfn, nr_gfns, freed),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, start_gfn)
		__field(u64, nr_gfns)
		__field(u64, freed)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->start_gfn = start_gfn;
		__entry->nr_gfns = nr_gfns;
		__entry->freed = freed;
	),
	TP_printk("vm=%llu gfn=0x%llx nr=%llu freed=%llu", __entry->vm_id,
		  __entry->start_gfn, __entry->nr_gfns, __entry->freed)
);

/*
 * A gfn now names a shared frame (dedup/): @sharers counts it; 1 when a
 * hint frame has just become a shared frame in place.
 */
TRACE_EVENT(share,

	TP_PROTO(u64 vm_id, u64 gfn, unsigned long pfn, unsigned int sharers),
	TP_ARGS(vm_id, gfn, pfn, sharers),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, gfn)
		__field(unsigned long, pfn)
		__field(unsigned int, sharers)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->gfn = gfn;
		__entry->pfn = pfn;
		__entry->sharers = sharers;
	),
	TP_printk("vm=%llu gfn=0x%llx pfn=0x%lx sharers=%u", __entry->vm_id, __entry->gfn,
		  __entry->pfn, __entry->sharers)
);

/* A sharing pass found an all-zero page and freed it: the gfn is ZERO. */
TRACE_EVENT(zero,

	TP_PROTO(u64 vm_id, u64 gfn),
	TP_ARGS(vm_id, gfn),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, gfn)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->gfn = gfn;
	),
	TP_printk("vm=%llu gfn=0x%llx", __entry->vm_id, __entry->gfn)
);

/*
 * A write replaced a read-only frame with a private page: a zero frame
 * (@state ZERO or BALLOONED) or a shared frame (SHARED; its last sharer
 * keeps the frame itself).
 */
TRACE_EVENT(cow_break,

	TP_PROTO(u64 vm_id, u64 gfn, unsigned int state),
	TP_ARGS(vm_id, gfn, state),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, gfn)
		__field(unsigned int, state)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->gfn = gfn;
		__entry->state = state;
	),
	TP_printk("vm=%llu gfn=0x%llx state=%u", __entry->vm_id, __entry->gfn,
		  __entry->state)
);

/* One pass of the reclaim protocol over a range (MEMVIRT_RECLAIM_* @mode). */
TRACE_EVENT(reclaim,

	TP_PROTO(u64 vm_id, u64 mode, u64 start_gfn, u64 nr_gfns, u64 scanned,
		 u64 reclaimed, u64 pinned),
	TP_ARGS(vm_id, mode, start_gfn, nr_gfns, scanned, reclaimed, pinned),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, mode)
		__field(u64, start_gfn)
		__field(u64, nr_gfns)
		__field(u64, scanned)
		__field(u64, reclaimed)
		__field(u64, pinned)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->mode = mode;
		__entry->start_gfn = start_gfn;
		__entry->nr_gfns = nr_gfns;
		__entry->scanned = scanned;
		__entry->reclaimed = reclaimed;
		__entry->pinned = pinned;
	),
	TP_printk("vm=%llu mode=%llu gfn=0x%llx nr=%llu scanned=%llu reclaimed=%llu pinned=%llu",
		  __entry->vm_id, __entry->mode, __entry->start_gfn, __entry->nr_gfns,
		  __entry->scanned, __entry->reclaimed, __entry->pinned)
);

/* A page went into the compression cache: @len compressed bytes. */
TRACE_EVENT(compress,

	TP_PROTO(u64 vm_id, u64 gfn, unsigned int len),
	TP_ARGS(vm_id, gfn, len),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, gfn)
		__field(unsigned int, len)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->gfn = gfn;
		__entry->len = len;
	),
	TP_printk("vm=%llu gfn=0x%llx len=%u", __entry->vm_id, __entry->gfn, __entry->len)
);

/*
 * A write of a page to swap slot @slot finished: @err is 0 or the write's
 * error. A page used during the write stays resident (see the counters).
 */
TRACE_EVENT(swap_out,

	TP_PROTO(u64 vm_id, u64 gfn, u64 slot, int err),
	TP_ARGS(vm_id, gfn, slot, err),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, gfn)
		__field(u64, slot)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->gfn = gfn;
		__entry->slot = slot;
		__entry->err = err;
	),
	TP_printk("vm=%llu gfn=0x%llx slot=%llu err=%d", __entry->vm_id, __entry->gfn,
		  __entry->slot, __entry->err)
);

/*
 * A swap-in read of @nr slots from @slot (the gfn's and its readahead
 * neighbours') finished, synchronously: @err is 0 or its error.
 */
TRACE_EVENT(swap_in,

	TP_PROTO(u64 vm_id, u64 gfn, u64 slot, unsigned int nr, int err),
	TP_ARGS(vm_id, gfn, slot, nr, err),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, gfn)
		__field(u64, slot)
		__field(unsigned int, nr)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->gfn = gfn;
		__entry->slot = slot;
		__entry->nr = nr;
		__entry->err = err;
	),
	TP_printk("vm=%llu gfn=0x%llx slot=%llu nr=%u err=%d", __entry->vm_id, __entry->gfn,
		  __entry->slot, __entry->nr, __entry->err)
);

/* A VM's balloon target changed (policy/): @ballooned gfns are BALLOONED now. */
TRACE_EVENT(balloon,

	TP_PROTO(u64 vm_id, u64 old_target, u64 new_target, u64 ballooned),
	TP_ARGS(vm_id, old_target, new_target, ballooned),
	TP_STRUCT__entry(
		__field(u64, vm_id)
		__field(u64, old_target)
		__field(u64, new_target)
		__field(u64, ballooned)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->old_target = old_target;
		__entry->new_target = new_target;
		__entry->ballooned = ballooned;
	),
	TP_printk("vm=%llu target=%llu->%llu ballooned=%llu", __entry->vm_id,
		  __entry->old_target, __entry->new_target, __entry->ballooned)
);

/*
 * The free-memory state changed (policy/): @old and @new are 0 high,
 * 1 soft, 2 hard, 3 low; @free_pages of @budget_pages were free.
 */
TRACE_EVENT(state,

	TP_PROTO(unsigned int old, unsigned int new, u64 free_pages, u64 budget_pages),
	TP_ARGS(old, new, free_pages, budget_pages),
	TP_STRUCT__entry(
		__field(unsigned int, old)
		__field(unsigned int, new)
		__field(u64, free_pages)
		__field(u64, budget_pages)
	),
	TP_fast_assign(
		__entry->old = old;
		__entry->new = new;
		__entry->free_pages = free_pages;
		__entry->budget_pages = budget_pages;
	),
	TP_printk("%s -> %s free_pages=%llu budget_pages=%llu",
		  __print_symbolic(__entry->old, { 0, "high" }, { 1, "soft" }, { 2, "hard" },
				   { 3, "low" }),
		  __print_symbolic(__entry->new, { 0, "high" }, { 1, "soft" }, { 2, "hard" },
				   { 3, "low" }),
		  __entry->free_pages, __entry->budget_pages)
);

#endif /* MEMVIRT_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
