// SPDX-License-Identifier: GPL-2.0
/*
 * ioctls on memvirtfs files; the ABI is include/uapi/memvirt.h.
 *
 * DOC: one prologue for every ioctl
 *
 * A command is found by its type and number only: the size that _IOC()
 * encodes is ignored, so a program built against a grown struct still
 * reaches the same handler. The struct's own first field, @size, says how
 * large the caller's struct is. memvirt_ioctl() then, the same way for
 * every command: checks the capability the command needs; accepts a size
 * from the command's first published size (ver0) up to a page (-EINVAL
 * below, -E2BIG above) and copies the struct in with
 * copy_struct_from_user(), which zero-fills what an older caller lacks and
 * refuses a newer caller's non-zero tail (-E2BIG); refuses unknown flag
 * bits and non-zero reserved fields (-EINVAL); calls the handler; and
 * copies back min(caller's size, kernel's size) bytes with @size set to
 * what was written.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "dedup/dedup.h"
#include "module/memvirt.h"

/* Every ioctl struct starts with these. */
struct memvirt_ioctl_head {
	__u32 size;
	__u32 flags;
};

union memvirt_ioctl_arg {
	struct memvirt_ioctl_head head;
	struct memvirt_stats stats;
	struct memvirt_range_query query;
	struct memvirt_policy policy;
	struct memvirt_reclaim reclaim;
	struct memvirt_balloon balloon;
};

/* The published ABI: sizes, numbers and the head of every struct. */
static_assert(sizeof(struct memvirt_stats) == MEMVIRT_STATS_SIZE_VER3);
static_assert(offsetof(struct memvirt_stats, compressed) == MEMVIRT_STATS_SIZE_VER2);
static_assert(offsetof(struct memvirt_stats, zero_maps) == MEMVIRT_STATS_SIZE_VER0);
static_assert(offsetof(struct memvirt_stats, shared) == MEMVIRT_STATS_SIZE_VER1);
static_assert(sizeof(struct memvirt_range_query) == MEMVIRT_RANGE_QUERY_SIZE_VER0);
static_assert(sizeof(struct memvirt_policy) == MEMVIRT_POLICY_SIZE_VER1);
static_assert(offsetof(struct memvirt_policy, sharing_domain) == MEMVIRT_POLICY_SIZE_VER0);
static_assert(sizeof(struct memvirt_reclaim) == MEMVIRT_RECLAIM_SIZE_VER2);
static_assert(offsetof(struct memvirt_reclaim, compressed) == MEMVIRT_RECLAIM_SIZE_VER1);
static_assert(offsetof(struct memvirt_reclaim, merged) == MEMVIRT_RECLAIM_SIZE_VER0);
static_assert(sizeof(struct memvirt_balloon) == MEMVIRT_BALLOON_SIZE_VER0);
static_assert(_IOC_NR(MEMVIRT_IOC_GET_STATS) == 0 && _IOC_NR(MEMVIRT_IOC_QUERY_RANGE) == 1 &&
	      _IOC_NR(MEMVIRT_IOC_GET_POLICY) == 2 && _IOC_NR(MEMVIRT_IOC_SET_POLICY) == 3 &&
	      _IOC_NR(MEMVIRT_IOC_RECLAIM) == 4 && _IOC_NR(MEMVIRT_IOC_BALLOON) == 5);
static_assert(MEMVIRT_IOC_GET_STATS == 0xc080b200 && MEMVIRT_IOC_QUERY_RANGE == 0x4040b201 &&
	      MEMVIRT_IOC_GET_POLICY == 0xc048b202 && MEMVIRT_IOC_SET_POLICY == 0x4048b203 &&
	      MEMVIRT_IOC_RECLAIM == 0xc078b204 && MEMVIRT_IOC_BALLOON == 0xc048b205);
static_assert(offsetof(struct memvirt_stats, flags) == offsetof(struct memvirt_ioctl_head, flags));
static_assert(offsetof(struct memvirt_range_query, flags) == 4 &&
	      offsetof(struct memvirt_policy, flags) == 4 &&
	      offsetof(struct memvirt_reclaim, flags) == 4 &&
	      offsetof(struct memvirt_balloon, flags) == 4);
static_assert(sizeof(union memvirt_ioctl_arg) <= PAGE_SIZE);

/**
 * struct memvirt_ioctl_desc - one command, for the common prologue.
 * @fn:		the handler; gets the copied-in struct, fills the outputs.
 * @ksize:	the kernel's struct size.
 * @ver0:	the smallest size accepted: the struct's first published one.
 * @flags:	flag bits the command knows.
 * @flags_needed: at least one flag must be set (SET_POLICY).
 * @reserved:	offset of the reserved array, which must be zero.
 * @reserved_len: its size in bytes.
 * @admin:	needs CAP_SYS_ADMIN.
 * @copy_out:	the struct is written back.
 */
struct memvirt_ioctl_desc {
	long (*fn)(struct memvirt_vm *vm, union memvirt_ioctl_arg *arg);
	size_t ksize;
	size_t ver0;
	u32 flags;
	bool flags_needed;
	size_t reserved;
	size_t reserved_len;
	bool admin;
	bool copy_out;
};

static long memvirt_ioctl_get_stats(struct memvirt_vm *vm, union memvirt_ioctl_arg *arg)
{
	struct memvirt_stats *st = &arg->stats;

	st->vm_id = vm->id;
	st->size_bytes = i_size_read(vm->mapping->host);
	st->resident = atomic_long_read(&vm->stats.resident);
	st->zero = memvirt_vm_zero_pages(vm);
	st->faults = atomic_long_read(&vm->stats.faults);
	st->punched = atomic_long_read(&vm->stats.punched);
	st->mkwrite = atomic_long_read(&vm->stats.mkwrite);
	st->zero_maps = atomic_long_read(&vm->stats.zero_maps);
	st->cow_breaks = atomic_long_read(&vm->stats.cow_breaks);
	st->pinned_skips = atomic_long_read(&vm->stats.pinned_skips);
	st->reclaimed = atomic_long_read(&vm->stats.reclaimed);
	st->shared = atomic_long_read(&vm->stats.shared);
	st->pages_scanned = atomic_long_read(&vm->stats.pages_scanned);
	st->hint_hits = atomic_long_read(&vm->stats.hint_hits);
	st->false_matches = atomic_long_read(&vm->stats.false_matches);
	st->zero_merged = atomic_long_read(&vm->stats.zero_merged);
	st->sharing_domain = READ_ONCE(vm->sharing_domain);
	st->compressed = atomic_long_read(&vm->stats.compressed);
	st->compressed_bytes = atomic_long_read(&vm->stats.compressed_bytes);
	st->swapped = atomic_long_read(&vm->stats.swapped);
	st->swap_outs = atomic_long_read(&vm->stats.swap_outs);
	st->swap_ins = atomic_long_read(&vm->stats.swap_ins);
	st->compress_rejects = atomic_long_read(&vm->stats.compress_rejects);
	st->swap_errors = atomic_long_read(&vm->stats.swap_errors);
	st->swap_file_pages = memvirt_swap_file_pages(vm);
	return 0;
}

/* Gfns of the file; a range must lie inside it (-EINVAL). */
static int memvirt_ioctl_check_range(struct memvirt_vm *vm, u64 start, u64 nr, u64 max)
{
	u64 pages = memvirt_vm_pages(vm);

	if (!nr || nr > max || start >= pages || nr > pages - start)
		return -EINVAL;
	return 0;
}

/* The state byte of one gfn, as the store reports it. */
static u8 memvirt_gfn_state_byte(u64 pte)
{
	u8 b = memvirt_pte_state(pte);

	if (WARN_ON_ONCE(memvirt_store_action(b, MEMVIRT_OP_QUERY) != MEMVIRT_ACT_REPORT))
		return MEMVIRT_GFN_ABSENT;
	if (memvirt_pte_is_dirty(pte))
		b |= MEMVIRT_GFN_DIRTY;
	if (memvirt_pte_is_accessed(pte))
		b |= MEMVIRT_GFN_ACCESSED;
	return b;
}

#define MEMVIRT_QUERY_CHUNK	PAGE_SIZE	/* gfns per copy_to_user */

static long memvirt_ioctl_query_range(struct memvirt_vm *vm, union memvirt_ioctl_arg *arg)
{
	struct memvirt_range_query *q = &arg->query;
	struct memvirt_p2m_iter iter;
	u64 start, n;
	u8 __user *out;
	u8 *buf;
	int err;

	err = memvirt_ioctl_check_range(vm, q->start_gfn, q->nr_gfns, MEMVIRT_QUERY_MAX);
	if (err)
		return err;
	buf = kmalloc(MEMVIRT_QUERY_CHUNK, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	out = u64_to_user_ptr(q->states);
	for (start = q->start_gfn; start < q->start_gfn + q->nr_gfns; start += n) {
		n = min_t(u64, MEMVIRT_QUERY_CHUNK, q->start_gfn + q->nr_gfns - start);
		memset(buf, MEMVIRT_GFN_ABSENT, n);
		for_each_p2m_entry(iter, &vm->p2m, start, start + n)
			buf[iter.gfn - start] = memvirt_gfn_state_byte(memvirt_p2m_read(iter.ptep));
		if (copy_to_user(out + (start - q->start_gfn), buf, n)) {
			err = -EFAULT;
			break;
		}
	}
	kfree(buf);
	return err;
}

static long memvirt_ioctl_get_policy(struct memvirt_vm *vm, union memvirt_ioctl_arg *arg)
{
	struct memvirt_policy *p = &arg->policy;

	mutex_lock(&memvirt_commit_lock);
	p->shares = vm->shares;
	p->reservation_bytes = vm->reservation_pages << PAGE_SHIFT;
	p->limit_bytes = vm->limit_pages == U64_MAX ? MEMVIRT_LIMIT_NONE :
						      vm->limit_pages << PAGE_SHIFT;
	mutex_unlock(&memvirt_commit_lock);
	p->sharing_domain = READ_ONCE(vm->sharing_domain);
	return 0;
}

/*
 * All named fields change, or none: the sharing domain, the one field
 * that may be refused for the VM's state (-EBUSY), is set under the
 * sharing pass lock and set back if the others are refused.
 */
static long memvirt_ioctl_set_policy(struct memvirt_vm *vm, union memvirt_ioctl_arg *arg)
{
	struct memvirt_policy *p = &arg->policy;
	bool domain = p->flags & MEMVIRT_POLICY_SHARING_DOMAIN;
	u64 limit, old_domain = 0;
	int err = 0;

	if ((p->flags & MEMVIRT_POLICY_RESERVATION) && !PAGE_ALIGNED(p->reservation_bytes))
		return -EINVAL;
	if ((p->flags & MEMVIRT_POLICY_LIMIT) && p->limit_bytes != MEMVIRT_LIMIT_NONE &&
	    !PAGE_ALIGNED(p->limit_bytes))
		return -EINVAL;
	limit = p->limit_bytes == MEMVIRT_LIMIT_NONE ? U64_MAX : p->limit_bytes >> PAGE_SHIFT;
	if (domain) {
		memvirt_dedup_lock();
		old_domain = vm->sharing_domain;
		err = __memvirt_dedup_set_domain(vm, p->sharing_domain);
	}
	if (!err)
		err = memvirt_vm_set_policy(vm, p->flags & ~MEMVIRT_POLICY_SHARING_DOMAIN,
					    p->shares, p->reservation_bytes >> PAGE_SHIFT,
					    limit);
	if (domain) {
		if (err)
			WRITE_ONCE(vm->sharing_domain, old_domain);
		memvirt_dedup_unlock();
	}
	return err;
}

static long memvirt_ioctl_reclaim(struct memvirt_vm *vm, union memvirt_ioctl_arg *arg)
{
	struct memvirt_reclaim *r = &arg->reclaim;
	struct memvirt_range_result res = {};
	int err;

	err = memvirt_ioctl_check_range(vm, r->start_gfn, r->nr_gfns, MEMVIRT_RECLAIM_MAX);
	if (err)
		return err;
	if (r->flags & MEMVIRT_RECLAIM_ASYNC)
		return memvirt_vm_reclaim_async(vm, r->start_gfn, r->start_gfn + r->nr_gfns,
						r->mode);
	err = memvirt_vm_reclaim(vm, r->start_gfn, r->start_gfn + r->nr_gfns, r->mode, &res);
	r->scanned = res.scanned;
	r->reclaimed = res.done;
	r->pinned_skips = res.pinned;
	r->merged = res.merged;
	r->zeroed = res.zeroed;
	r->compressed = res.compressed;
	r->swapped = res.swapped;
	return err;
}

static long memvirt_ioctl_balloon(struct memvirt_vm *vm, union memvirt_ioctl_arg *arg)
{
	struct memvirt_balloon *b = &arg->balloon;
	int err;

	if (b->timeout_ms > MEMVIRT_BALLOON_TIMEOUT_MAX)
		return -EINVAL;
	err = memvirt_policy_balloon_wait(vm, b->known_pages, b->timeout_ms,
					  b->flags & MEMVIRT_BALLOON_WAIT, &b->target_pages);
	if (err)
		return err;
	b->ballooned = atomic_long_read(&vm->stats.ballooned);
	b->size_bytes = i_size_read(vm->mapping->host);
	return 0;
}

#define MEMVIRT_IOCTL(_nr, _fn, _type, _ver0, _flags, _admin, _out)		\
	[_nr] = {								\
		.fn = (_fn), .ksize = sizeof(_type), .ver0 = (_ver0),		\
		.flags = (_flags), .reserved = offsetof(_type, reserved),	\
		.reserved_len = sizeof_field(_type, reserved),			\
		.admin = (_admin), .copy_out = (_out),				\
	}

static const struct memvirt_ioctl_desc memvirt_ioctls[] = {
	MEMVIRT_IOCTL(_IOC_NR(MEMVIRT_IOC_GET_STATS), memvirt_ioctl_get_stats,
		      struct memvirt_stats, MEMVIRT_STATS_SIZE_VER0, 0, false, true),
	MEMVIRT_IOCTL(_IOC_NR(MEMVIRT_IOC_QUERY_RANGE), memvirt_ioctl_query_range,
		      struct memvirt_range_query, MEMVIRT_RANGE_QUERY_SIZE_VER0, 0, false, false),
	MEMVIRT_IOCTL(_IOC_NR(MEMVIRT_IOC_GET_POLICY), memvirt_ioctl_get_policy,
		      struct memvirt_policy, MEMVIRT_POLICY_SIZE_VER0, 0, false, true),
	[_IOC_NR(MEMVIRT_IOC_SET_POLICY)] = {
		.fn = memvirt_ioctl_set_policy, .ksize = sizeof(struct memvirt_policy),
		.ver0 = MEMVIRT_POLICY_SIZE_VER0, .flags = MEMVIRT_POLICY_ALL,
		.flags_needed = true, .reserved = offsetof(struct memvirt_policy, reserved),
		.reserved_len = sizeof_field(struct memvirt_policy, reserved),
		.admin = true, .copy_out = false,
	},
	MEMVIRT_IOCTL(_IOC_NR(MEMVIRT_IOC_RECLAIM), memvirt_ioctl_reclaim,
		      struct memvirt_reclaim, MEMVIRT_RECLAIM_SIZE_VER0, MEMVIRT_RECLAIM_ASYNC,
		      true, true),
	MEMVIRT_IOCTL(_IOC_NR(MEMVIRT_IOC_BALLOON), memvirt_ioctl_balloon,
		      struct memvirt_balloon, MEMVIRT_BALLOON_SIZE_VER0, MEMVIRT_BALLOON_WAIT,
		      false, true),
};

long memvirt_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct memvirt_vm *vm = memvirt_file_vm(file);
	void __user *uarg = (void __user *)arg;
	const struct memvirt_ioctl_desc *d;
	union memvirt_ioctl_arg *karg;
	u32 usize;
	long ret;

	if (_IOC_TYPE(cmd) != MEMVIRT_IOCTL_BASE || _IOC_NR(cmd) >= ARRAY_SIZE(memvirt_ioctls) ||
	    !memvirt_ioctls[_IOC_NR(cmd)].fn)
		return -ENOTTY;
	d = &memvirt_ioctls[_IOC_NR(cmd)];
	if (d->admin && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < d->ver0)
		return -EINVAL;
	/* As clone3() and openat2(): bounds the scan for a non-zero tail. */
	if (usize > PAGE_SIZE)
		return -E2BIG;
	karg = kzalloc(sizeof(*karg), GFP_KERNEL);
	if (!karg)
		return -ENOMEM;
	ret = copy_struct_from_user(karg, d->ksize, uarg, usize);
	if (ret)
		goto out;
	ret = -EINVAL;
	if ((karg->head.flags & ~d->flags) || (d->flags_needed && !karg->head.flags) ||
	    memchr_inv((u8 *)karg + d->reserved, 0, d->reserved_len))
		goto out;
	ret = d->fn(vm, karg);
	if (ret || !d->copy_out)
		goto out;
	karg->head.size = min_t(size_t, usize, d->ksize);
	if (copy_to_user(uarg, karg, karg->head.size))
		ret = -EFAULT;
out:
	kfree(karg);
	return ret;
}
