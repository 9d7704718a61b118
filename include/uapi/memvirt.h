/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * memvirt ioctl ABI. The only memvirt header userspace includes.
 *
 * Every ioctl is issued on an open memvirtfs regular file (one VM's guest
 * RAM). Rules, after Documentation/process/botching-up-ioctls.rst:
 *
 *  - every struct starts with @size (the caller's sizeof) and @flags, so
 *    the struct can grow: the command number is matched on its type and
 *    number only (never on the size _IOC encodes), and the size is taken
 *    from @size. A larger struct than the kernel's is accepted, up to 4096
 *    bytes, if the extra bytes are zero (-E2BIG otherwise); a smaller one
 *    is accepted down to the struct's first published size
 *    (MEMVIRT_*_SIZE_VER0; -EINVAL below), its missing fields read as zero.
 *    The kernel writes back min(@size, its own size) bytes, with @size set
 *    to that. Unknown flag bits: -EINVAL;
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
 *		punched, or truncated and regrown); gfns in the ERROR state
 *		(data lost to a swap read error) are counted here too.
 * @faults:	out: page faults that mapped a page (host processes and KVM
 *		alike); faults refused with SIGBUS are not counted.
 * @punched:	out: pages given back by fallocate(PUNCH_HOLE).
 * @mkwrite:	out: write notifications (->page_mkwrite): the first write to a
 *		page through a mapping after it was mapped or cleaned.
 * @reserved:	must be zero on input; zero on output.
 *
 * Added in version 2 (size 160):
 * @zero_maps:	out: read faults on a gfn holding no page, served with a
 *		read-only zero frame (nothing allocated).
 * @cow_breaks:	out: writes that replaced a read-only frame (a zero frame,
 *		later a shared frame) with a private copy.
 * @pinned_skips: out: pages the reclaim protocol left alone because a
 *		reference other than memvirt's held them (GUP pins, vhost,
 *		a pipe buffer).
 * @reclaimed:	out: pages taken away by the reclaim protocol.
 *
 * Added in version 3 (size 208), page sharing (dedup/):
 * @shared:	out: gfns that now point at a shared read-only frame.
 * @pages_scanned: out: private pages the sharing scanner (or a
 *		MEMVIRT_RECLAIM_SHARE pass) hashed.
 * @hint_hits:	out: scanned pages whose hash matched a hint frame.
 * @false_matches: out: hash matches whose full 4 KiB compare differed.
 * @zero_merged: out: pages the sharing scanner found all-zero and freed,
 *		leaving the gfn ZERO (no frame at all).
 * @sharing_domain: out: the VM's sharing domain, 0 for private.
 *
 * Added in version 4 (size 272), compression and swap (swap/):
 * @compressed:	out: gfns held in the compression cache.
 * @compressed_bytes: out: their compressed size in bytes.
 * @swapped:	out: gfns held in the VM's swap file.
 * @swap_outs:	out: pages written to the swap file (cumulative).
 * @swap_ins:	out: pages read back from the swap file (cumulative,
 *		readahead included).
 * @compress_rejects: out: pages that compressed to more than half a page
 *		and were written to swap instead (cumulative).
 * @swap_errors: out: pages whose swap file write or read failed
 *		(cumulative).
 * @swap_file_pages: out: pages reserved in the VM's swap file.
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
	/* version 2 */
	__u64 zero_maps;
	__u64 cow_breaks;
	__u64 pinned_skips;
	__u64 reclaimed;
	/* version 3 */
	__u64 shared;
	__u64 pages_scanned;
	__u64 hint_hits;
	__u64 false_matches;
	__u64 zero_merged;
	__u64 sharing_domain;
	/* version 4 */
	__u64 compressed;
	__u64 compressed_bytes;
	__u64 swapped;
	__u64 swap_outs;
	__u64 swap_ins;
	__u64 compress_rejects;
	__u64 swap_errors;
	__u64 swap_file_pages;
};

#define MEMVIRT_STATS_SIZE_VER0	128	/* version 1, up to @reserved */
#define MEMVIRT_STATS_SIZE_VER1	160	/* version 2, up to @reclaimed */
#define MEMVIRT_STATS_SIZE_VER2	208	/* version 3, up to @sharing_domain */
#define MEMVIRT_STATS_SIZE_VER3	272	/* version 4, up to @swap_file_pages */

/* Per-gfn state codes of MEMVIRT_IOC_QUERY_RANGE (low nibble of a byte). */
#define MEMVIRT_GFN_ABSENT	0	/* never populated: reads as zero */
#define MEMVIRT_GFN_PRIVATE	1	/* backed by a private host page */
#define MEMVIRT_GFN_ZERO	2	/* known zero, no page (e.g. punched) */
#define MEMVIRT_GFN_SHARED	3	/* backed by a shared read-only frame */
#define MEMVIRT_GFN_BALLOONED	4	/* punched while a balloon target was pending */
#define MEMVIRT_GFN_COMPRESSED	5	/* in the compression cache */
#define MEMVIRT_GFN_SWAPPED	6	/* in the VM's swap file */
#define MEMVIRT_GFN_ERROR	7	/* swap-in failed: access fails until punched */
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

#define MEMVIRT_RANGE_QUERY_SIZE_VER0	64

/* No limit: struct memvirt_policy.limit_bytes. */
#define MEMVIRT_LIMIT_NONE	(~0ULL)
#define MEMVIRT_SHARES_MIN	1
#define MEMVIRT_SHARES_MAX	1000000
#define MEMVIRT_SHARES_DEFAULT	1000

/* Which fields MEMVIRT_IOC_SET_POLICY changes (struct memvirt_policy.flags). */
#define MEMVIRT_POLICY_SHARES		(1U << 0)
#define MEMVIRT_POLICY_RESERVATION	(1U << 1)
#define MEMVIRT_POLICY_LIMIT		(1U << 2)
#define MEMVIRT_POLICY_SHARING_DOMAIN	(1U << 3)	/* version 2 */
#define MEMVIRT_POLICY_ALL		(MEMVIRT_POLICY_SHARES | \
					 MEMVIRT_POLICY_RESERVATION | \
					 MEMVIRT_POLICY_LIMIT | \
					 MEMVIRT_POLICY_SHARING_DOMAIN)

/* Sharing domains: 0 is private (sharing within the VM only). */
#define MEMVIRT_SHARING_PRIVATE		0
#define MEMVIRT_SHARING_DOMAIN_MAX	0xffffffffULL

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
 *
 * Added in version 2 (size 80):
 * @sharing_domain:	the VM's page-sharing domain: 0 shares pages within
 *			the VM only; VMs with the same non-zero domain
 *			(1..MEMVIRT_SHARING_DOMAIN_MAX) may share pages with
 *			each other, never with another domain. A VM that
 *			shares pages cannot change domain (-EBUSY): set it
 *			before the guest runs.
 */
struct memvirt_policy {
	__u32 size;
	__u32 flags;
	__u64 shares;
	__u64 reservation_bytes;
	__u64 limit_bytes;
	__u64 reserved[5];
	/* version 2 */
	__u64 sharing_domain;
};

#define MEMVIRT_POLICY_SIZE_VER0	72
#define MEMVIRT_POLICY_SIZE_VER1	80	/* version 2, up to @sharing_domain */

/* Modes of MEMVIRT_IOC_RECLAIM (struct memvirt_reclaim.mode). */
#define MEMVIRT_RECLAIM_ZERO	1	/* private pages that hold only zeroes -> ZERO */
#define MEMVIRT_RECLAIM_SHARE	2	/* one page-sharing pass: merge, zero */
#define MEMVIRT_RECLAIM_COMPRESS 3	/* compression cache, else the swap file */
#define MEMVIRT_RECLAIM_SWAP	4	/* the swap file */

/*
 * struct memvirt_reclaim.flags: run the pass in the background and return
 * at once (outputs stay zero; the VM's counters show progress). The pass
 * stops by itself when the file shrinks below it or goes away.
 */
#define MEMVIRT_RECLAIM_ASYNC	(1U << 0)

/* At most this many gfns per MEMVIRT_IOC_RECLAIM call. */
#define MEMVIRT_RECLAIM_MAX	(1ULL << 30)

/**
 * struct memvirt_reclaim - MEMVIRT_IOC_RECLAIM: force reclaim of a range.
 * @size:	in: sizeof(struct memvirt_reclaim).
 * @flags:	in: 0, or MEMVIRT_RECLAIM_ASYNC.
 * @mode:	in: MEMVIRT_RECLAIM_*: what to take. MEMVIRT_RECLAIM_ZERO frees
 *		every private page of the range whose 4 KiB are all zero and
 *		leaves its gfn ZERO. MEMVIRT_RECLAIM_SHARE runs one pass of
 *		the sharing scanner over the range: all-zero pages go ZERO,
 *		pages equal to a shared frame or to a hint frame of the VM's
 *		sharing domain are merged into one read-only frame.
 * @start_gfn:	in: first frame (page index in the file).
 * @nr_gfns:	in: number of frames, 1..MEMVIRT_RECLAIM_MAX; the range must
 *		lie inside the file (-EINVAL otherwise).
 * @scanned:	out: private pages examined.
 * @reclaimed:	out: pages freed.
 * @pinned_skips: out: pages skipped because something besides memvirt held
 *		a reference (GUP pin, vhost, a pipe buffer).
 * @reserved:	must be zero on input; zero on output.
 *
 * Added in version 2 (size 136):
 * @merged:	out: pages freed because they now share a frame
 *		(MEMVIRT_RECLAIM_SHARE; @reclaimed counts them too).
 * @zeroed:	out: all-zero pages freed, their gfns now ZERO (every mode).
 *
 * Added in version 3 (size 152), compression and swap:
 * @compressed:	out: pages now in the compression cache.
 * @swapped:	out: pages now in the swap file (written and completed).
 *
 * MEMVIRT_RECLAIM_COMPRESS takes every private page of the range, hot or
 * cold: all-zero pages go ZERO, pages that compress to at most half a page
 * go to the compression cache, the others to the swap file, or stay if
 * there is none (or no free slot). MEMVIRT_RECLAIM_SWAP writes every private
 * page, and every compressed one, of the range to the swap file (all-zero
 * pages go ZERO); -EOPNOTSUPP if the VM has no swap file (no swapdir=). Both
 * return once every write they started has completed; a page whose write
 * failed stays private with its bytes (counted in swap_errors).
 *
 * Research and test hook, like the other modes later issues add: the
 * pages go through the same reclaim protocol as automatic reclaim. Needs
 * CAP_SYS_ADMIN (-EPERM). A fatal signal ends it early with -EINTR.
 */
struct memvirt_reclaim {
	__u32 size;
	__u32 flags;
	__u64 mode;
	__u64 start_gfn;
	__u64 nr_gfns;
	__u64 scanned;
	__u64 reclaimed;
	__u64 pinned_skips;
	__u64 reserved[8];
	/* version 2 */
	__u64 merged;
	__u64 zeroed;
	/* version 3 */
	__u64 compressed;
	__u64 swapped;
};

#define MEMVIRT_RECLAIM_SIZE_VER0	120
#define MEMVIRT_RECLAIM_SIZE_VER1	136	/* version 2, up to @zeroed */
#define MEMVIRT_RECLAIM_SIZE_VER2	152	/* version 3, up to @swapped */

/* struct memvirt_balloon.flags: wait for the target to change. */
#define MEMVIRT_BALLOON_WAIT	(1U << 0)
/* Longest wait MEMVIRT_IOC_BALLOON accepts, milliseconds (an hour). */
#define MEMVIRT_BALLOON_TIMEOUT_MAX	3600000ULL

/**
 * struct memvirt_balloon - MEMVIRT_IOC_BALLOON: the VM's balloon target.
 * @size:	in: sizeof(struct memvirt_balloon).
 * @flags:	in: 0 (answer at once) or MEMVIRT_BALLOON_WAIT.
 * @known_pages: in (MEMVIRT_BALLOON_WAIT): the target the caller knows;
 *		the call waits while the target equals it.
 * @timeout_ms:	in (MEMVIRT_BALLOON_WAIT): longest wait, 1 ..
 *		MEMVIRT_BALLOON_TIMEOUT_MAX; 0 waits without limit.
 * @target_pages: out: pages the VM's balloon should hold (0: none). The
 *		allocation policy sets it when the host runs short and the VM
 *		holds more than its target; QEMU's virtio-balloon follows it
 *		with the QMP command `balloon` and the value @size_bytes -
 *		@target_pages * 4096.
 * @ballooned:	out: gfns BALLOONED now (punched while a target was pending).
 * @size_bytes:	out: the guest's size (the file size).
 * @reserved:	must be zero.
 *
 * Needs no capability: the VMM that opened the file follows its own
 * target. Returns 0 with the outputs filled when the target differs from
 * @known_pages (at once if it already does), when @timeout_ms passes (the
 * target may still equal @known_pages), or at once without
 * MEMVIRT_BALLOON_WAIT; -EINTR if a signal came first. While a target is
 * above @ballooned, fallocate(PUNCH_HOLE) on the file makes gfns BALLOONED
 * (MEMVIRT_GFN_BALLOONED), not ZERO.
 */
struct memvirt_balloon {
	__u32 size;
	__u32 flags;
	__u64 known_pages;
	__u64 timeout_ms;
	__u64 target_pages;
	__u64 ballooned;
	__u64 size_bytes;
	__u64 reserved[3];
};

#define MEMVIRT_BALLOON_SIZE_VER0	72

/*
 * Command numbers encode each struct's first published size, so they never
 * change as the structs grow; the kernel matches type and number only.
 */
#define MEMVIRT_IOC_GET_STATS	_IOC(_IOC_READ | _IOC_WRITE, MEMVIRT_IOCTL_BASE, 0x00, \
				     MEMVIRT_STATS_SIZE_VER0)
#define MEMVIRT_IOC_QUERY_RANGE	_IOC(_IOC_WRITE, MEMVIRT_IOCTL_BASE, 0x01, \
				     MEMVIRT_RANGE_QUERY_SIZE_VER0)
#define MEMVIRT_IOC_GET_POLICY	_IOC(_IOC_READ | _IOC_WRITE, MEMVIRT_IOCTL_BASE, 0x02, \
				     MEMVIRT_POLICY_SIZE_VER0)
#define MEMVIRT_IOC_SET_POLICY	_IOC(_IOC_WRITE, MEMVIRT_IOCTL_BASE, 0x03, \
				     MEMVIRT_POLICY_SIZE_VER0)
#define MEMVIRT_IOC_RECLAIM	_IOC(_IOC_READ | _IOC_WRITE, MEMVIRT_IOCTL_BASE, 0x04, \
				     MEMVIRT_RECLAIM_SIZE_VER0)
#define MEMVIRT_IOC_BALLOON	_IOC(_IOC_READ | _IOC_WRITE, MEMVIRT_IOCTL_BASE, 0x05, \
				     MEMVIRT_BALLOON_SIZE_VER0)

#endif /* _UAPI_LINUX_MEMVIRT_H */
