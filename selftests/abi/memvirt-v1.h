/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * FROZEN: include/uapi/memvirt.h exactly as it was published at commit
 * e7cefd0 (ABI version 1). Never change this file: it is what programs
 * built against version 1 carry, and selftests/abi_test.c, built from it
 * rather than from the live header, proves that the module still serves
 * them. A new ABI version gets a new frozen copy next to this one.
 * Below this comment the file is verbatim, except for its SPDX line, which
 * is the first line above.
 */
/*
 * memvirt ioctl ABI. The only memvirt header userspace includes.
 *
 * Every ioctl is issued on an open memvirtfs regular file (one VM's guest
 * RAM). Rules, after Documentation/process/botching-up-ioctls.rst:
 *
 *  - every struct starts with @size (the caller's sizeof, so the struct can
 *    grow: the kernel accepts a larger @size, up to 4096, if the extra bytes
 *    are zero, else -E2BIG; it writes back only its own struct, with @size
 *    set to its own size) and @flags; unknown flag bits: -EINVAL;
 *  - all fields are __u64 or naturally aligned __u32 pairs, no implicit
 *    padding; @reserved fields must be zero on input (-EINVAL otherwise) and
 *    are returned as zero;
 *  - pointers travel as __u64.
 *
 * Errors common to all: -EFAULT (bad user pointer), -EINVAL (bad size,
 * flags or reserved fields), -ENOTTY (not a memvirtfs file / unknown ioctl).
 */
#ifndef _UAPI_LINUX_MEMVIRT_H
#define _UAPI_LINUX_MEMVIRT_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Not taken in Documentation/userspace-api/ioctl/ioctl-number.rst of 6.1. */
#define MEMVIRT_IOCTL_BASE	0xB2

/**
 * struct memvirt_stats - MEMVIRT_IOC_GET_STATS: one VM's counters.
 * @size:	in: sizeof(struct memvirt_stats) as the caller knows it;
 *		out: the size the kernel filled in.
 * @flags:	in: must be 0.
 * @vm_id:	out: the VM's id, its directory /sys/kernel/memvirt/vms/<id>.
 * @size_bytes:	out: guest-physical size (the file size).
 * @resident:	out: pages backed by a private host page.
 * @zero:	out: gfns that read as zero and hold no page (never touched,
 *		punched, or truncated and regrown).
 * @faults:	out: page faults that mapped a page (host processes and KVM
 *		alike); faults refused with SIGBUS are not counted.
 * @punched:	out: pages given back by fallocate(PUNCH_HOLE).
 * @mkwrite:	out: write notifications (->page_mkwrite): the first write to a
 *		page through a mapping after it was mapped or cleaned.
 * @reserved:	must be zero on input; zero on output.
 */
struct memvirt_stats {
	__u32 size;
	__u32 flags;
	__u64 vm_id;
	__u64 size_bytes;
	__u64 resident;
	__u64 zero;
	__u64 faults;
	__u64 punched;
	__u64 mkwrite;
	__u64 reserved[8];
};

/* Per-gfn state codes of MEMVIRT_IOC_QUERY_RANGE (low nibble of a byte). */
#define MEMVIRT_GFN_ABSENT	0	/* never populated: reads as zero */
#define MEMVIRT_GFN_PRIVATE	1	/* backed by a private host page */
#define MEMVIRT_GFN_ZERO	2	/* known zero, no page (e.g. punched) */
#define MEMVIRT_GFN_SHARED	3	/* backed by a shared frame (later) */
#define MEMVIRT_GFN_BALLOONED	4	/* given to the balloon (later) */
#define MEMVIRT_GFN_COMPRESSED	5	/* in the compression cache (later) */
#define MEMVIRT_GFN_SWAPPED	6	/* in the VM's swap file (later) */
#define MEMVIRT_GFN_STATE_MASK	0x0f
/* Flag bits in the same byte. */
#define MEMVIRT_GFN_DIRTY	0x10	/* written since it was populated */
#define MEMVIRT_GFN_ACCESSED	0x20	/* faulted in since populated */

/* At most this many gfns per MEMVIRT_IOC_QUERY_RANGE call. */
#define MEMVIRT_QUERY_MAX	(1U << 20)

/**
 * struct memvirt_range_query - MEMVIRT_IOC_QUERY_RANGE: state of each gfn.
 * @size:	in: sizeof(struct memvirt_range_query).
 * @flags:	in: must be 0.
 * @start_gfn:	in: first frame: the page index in the file (file offset >> 12).
 *		This is the guest-physical frame only where the VMM maps the file
 *		at guest-physical 0 contiguously; QEMU on x86 places RAM above
 *		the 32-bit PCI hole at 4 GiB, so there the two differ.
 * @nr_gfns:	in: number of frames, 1..MEMVIRT_QUERY_MAX; the range must lie
 *		inside the file (-EINVAL otherwise).
 * @states:	in: user pointer to @nr_gfns bytes, filled with one
 *		MEMVIRT_GFN_* state (plus flag bits) per gfn.
 * @reserved:	must be zero.
 */
struct memvirt_range_query {
	__u32 size;
	__u32 flags;
	__u64 start_gfn;
	__u64 nr_gfns;
	__u64 states;
	__u64 reserved[4];
};

/* No limit: struct memvirt_policy.limit_bytes. */
#define MEMVIRT_LIMIT_NONE	(~0ULL)
#define MEMVIRT_SHARES_MIN	1
#define MEMVIRT_SHARES_MAX	1000000
#define MEMVIRT_SHARES_DEFAULT	1000

/* Which fields MEMVIRT_IOC_SET_POLICY changes (struct memvirt_policy.flags). */
#define MEMVIRT_POLICY_SHARES		(1U << 0)
#define MEMVIRT_POLICY_RESERVATION	(1U << 1)
#define MEMVIRT_POLICY_LIMIT		(1U << 2)
#define MEMVIRT_POLICY_ALL		(MEMVIRT_POLICY_SHARES | \
					 MEMVIRT_POLICY_RESERVATION | \
					 MEMVIRT_POLICY_LIMIT)

/**
 * struct memvirt_policy - MEMVIRT_IOC_GET_POLICY / MEMVIRT_IOC_SET_POLICY.
 * @size:		in: sizeof(struct memvirt_policy).
 * @flags:		GET: must be 0. SET: MEMVIRT_POLICY_* bits naming the
 *			fields to change; at least one. SET needs CAP_SYS_ADMIN.
 * @shares:		proportional-share weight, MEMVIRT_SHARES_MIN..MAX.
 * @reservation_bytes:	guaranteed memory, page-aligned; at most the limit;
 *			the sum over all VMs may not exceed the budget (-ENOSPC).
 * @limit_bytes:	most memory the VM may hold resident, page-aligned, at
 *			least the reservation, or MEMVIRT_LIMIT_NONE.
 * @reserved:		must be zero.
 */
struct memvirt_policy {
	__u32 size;
	__u32 flags;
	__u64 shares;
	__u64 reservation_bytes;
	__u64 limit_bytes;
	__u64 reserved[5];
};

#define MEMVIRT_IOC_GET_STATS	_IOWR(MEMVIRT_IOCTL_BASE, 0x00, struct memvirt_stats)
#define MEMVIRT_IOC_QUERY_RANGE	_IOW(MEMVIRT_IOCTL_BASE, 0x01, struct memvirt_range_query)
#define MEMVIRT_IOC_GET_POLICY	_IOWR(MEMVIRT_IOCTL_BASE, 0x02, struct memvirt_policy)
#define MEMVIRT_IOC_SET_POLICY	_IOW(MEMVIRT_IOCTL_BASE, 0x03, struct memvirt_policy)

#endif /* _UAPI_LINUX_MEMVIRT_H */
