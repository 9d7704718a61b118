// SPDX-License-Identifier: GPL-2.0
/*
 * ioctls on memvirtfs files; the ABI is include/uapi/memvirt.h.
 *
 * Every struct starts with { __u32 size; __u32 flags; }. A caller's struct
 * may be larger than ours, up to a page, if the extra bytes are zero
 * (-E2BIG otherwise), never smaller (-EINVAL). Unknown flags and
 * non-zero reserved fields are -EINVAL, so they can be given a meaning later.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "module/memvirt.h"

/* Copy in a versioned struct of @ksize bytes whose first field is its size. */
static int memvirt_copy_in(void *kstruct, size_t ksize, void __user *uarg)
{
	u32 usize;

	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < ksize)
		return -EINVAL;
	/* As clone3() and openat2(): bounds the scan for a non-zero tail. */
	if (usize > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(kstruct, ksize, uarg, usize);
}

/* Copy out, telling the caller how much the kernel filled in. */
static int memvirt_copy_out(void __user *uarg, void *kstruct, size_t ksize)
{
	*(u32 *)kstruct = ksize;
	return copy_to_user(uarg, kstruct, ksize) ? -EFAULT : 0;
}

static bool memvirt_reserved_is_zero(const u64 *reserved, size_t bytes)
{
	return !memchr_inv(reserved, 0, bytes);
}

static long memvirt_ioctl_get_stats(struct memvirt_vm *vm, void __user *uarg)
{
	struct memvirt_stats st;
	int err;

	err = memvirt_copy_in(&st, sizeof(st), uarg);
	if (err)
		return err;
	if (st.flags || !memvirt_reserved_is_zero(st.reserved, sizeof(st.reserved)))
		return -EINVAL;
	st.vm_id = vm->id;
	st.size_bytes = i_size_read(vm->mapping->host);
	st.resident = atomic_long_read(&vm->stats.resident);
	st.zero = memvirt_vm_zero_pages(vm);
	st.faults = atomic_long_read(&vm->stats.faults);
	st.punched = atomic_long_read(&vm->stats.punched);
	st.mkwrite = atomic_long_read(&vm->stats.mkwrite);
	return memvirt_copy_out(uarg, &st, sizeof(st));
}

static u8 memvirt_gfn_state_byte(u64 pte)
{
	u8 b = memvirt_pte_state(pte);

	if (memvirt_pte_is_dirty(pte))
		b |= MEMVIRT_GFN_DIRTY;
	if (memvirt_pte_is_accessed(pte))
		b |= MEMVIRT_GFN_ACCESSED;
	return b;
}

#define MEMVIRT_QUERY_CHUNK	PAGE_SIZE	/* gfns per copy_to_user */

static long memvirt_ioctl_query_range(struct memvirt_vm *vm, void __user *uarg)
{
	struct memvirt_range_query q;
	struct memvirt_p2m_iter iter;
	u64 pages, start, n;
	u8 __user *out;
	u8 *buf;
	int err;

	err = memvirt_copy_in(&q, sizeof(q), uarg);
	if (err)
		return err;
	if (q.flags || !memvirt_reserved_is_zero(q.reserved, sizeof(q.reserved)))
		return -EINVAL;
	pages = memvirt_bytes_to_pages(i_size_read(vm->mapping->host));
	if (!q.nr_gfns || q.nr_gfns > MEMVIRT_QUERY_MAX || q.start_gfn >= pages ||
	    q.nr_gfns > pages - q.start_gfn)
		return -EINVAL;
	buf = kmalloc(MEMVIRT_QUERY_CHUNK, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	out = u64_to_user_ptr(q.states);
	for (start = q.start_gfn; start < q.start_gfn + q.nr_gfns; start += n) {
		n = min_t(u64, MEMVIRT_QUERY_CHUNK, q.start_gfn + q.nr_gfns - start);
		memset(buf, MEMVIRT_GFN_ABSENT, n);
		for_each_p2m_entry(iter, &vm->p2m, start, start + n)
			buf[iter.gfn - start] = memvirt_gfn_state_byte(memvirt_p2m_read(iter.ptep));
		if (copy_to_user(out + (start - q.start_gfn), buf, n)) {
			err = -EFAULT;
			break;
		}
	}
	kfree(buf);
	return err;
}

static long memvirt_ioctl_get_policy(struct memvirt_vm *vm, void __user *uarg)
{
	struct memvirt_policy p;
	int err;

	err = memvirt_copy_in(&p, sizeof(p), uarg);
	if (err)
		return err;
	if (p.flags || !memvirt_reserved_is_zero(p.reserved, sizeof(p.reserved)))
		return -EINVAL;
	mutex_lock(&memvirt_commit_lock);
	p.shares = vm->shares;
	p.reservation_bytes = vm->reservation_pages << PAGE_SHIFT;
	p.limit_bytes = vm->limit_pages == U64_MAX ? MEMVIRT_LIMIT_NONE :
						     vm->limit_pages << PAGE_SHIFT;
	mutex_unlock(&memvirt_commit_lock);
	return memvirt_copy_out(uarg, &p, sizeof(p));
}

static long memvirt_ioctl_set_policy(struct memvirt_vm *vm, void __user *uarg)
{
	struct memvirt_policy p;
	u64 limit;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = memvirt_copy_in(&p, sizeof(p), uarg);
	if (err)
		return err;
	if (!p.flags || (p.flags & ~MEMVIRT_POLICY_ALL) ||
	    !memvirt_reserved_is_zero(p.reserved, sizeof(p.reserved)))
		return -EINVAL;
	if ((p.flags & MEMVIRT_POLICY_RESERVATION) && !PAGE_ALIGNED(p.reservation_bytes))
		return -EINVAL;
	if ((p.flags & MEMVIRT_POLICY_LIMIT) && p.limit_bytes != MEMVIRT_LIMIT_NONE &&
	    !PAGE_ALIGNED(p.limit_bytes))
		return -EINVAL;
	limit = p.limit_bytes == MEMVIRT_LIMIT_NONE ? U64_MAX : p.limit_bytes >> PAGE_SHIFT;
	return memvirt_vm_set_policy(vm, p.flags, p.shares,
				     p.reservation_bytes >> PAGE_SHIFT, limit);
}

long memvirt_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct memvirt_vm *vm = memvirt_file_vm(file);
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MEMVIRT_IOC_GET_STATS:
		return memvirt_ioctl_get_stats(vm, uarg);
	case MEMVIRT_IOC_QUERY_RANGE:
		return memvirt_ioctl_query_range(vm, uarg);
	case MEMVIRT_IOC_GET_POLICY:
		return memvirt_ioctl_get_policy(vm, uarg);
	case MEMVIRT_IOC_SET_POLICY:
		return memvirt_ioctl_set_policy(vm, uarg);
	default:
		return -ENOTTY;
	}
}
