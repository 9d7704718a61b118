/* SPDX-License-Identifier: GPL-2.0 */
/*
 * backing.h - where test guest RAM comes from: a memvirtfs file, a memfd
 * (shmem) or anonymous memory; plus memvirt's counters for a memvirtfs one.
 *
 * backing_open() mounts memvirtfs at MEMVIRTFS_MOUNT if no memvirtfs is
 * mounted yet, creates a uniquely named file there, sizes it and opens it
 * O_RDWR. It returns 0, BACKING_UNAVAILABLE with a reason to skip on (no
 * memvirtfs registered, mount not permitted), or -errno with the failing
 * call in @reason. backing_close() unlinks what it created.
 */
#ifndef VMM_BACKING_H
#define VMM_BACKING_H

#include <stddef.h>

#include "guest_abi.h"
#include "uapi/memvirt.h"

#define MEMVIRTFS_MOUNT		"/run/memvirt"
#define MEMVIRT_SYSFS_VMS	"/sys/kernel/memvirt/vms"
#define BACKING_UNAVAILABLE	1

enum backing_kind {
	BACKING_MEMVIRTFS,
	BACKING_MEMFD,
	BACKING_ANON,
	BACKING_NR_KINDS
};

/**
 * struct backing - guest RAM source.
 * @kind:	what it is.
 * @fd:		the file (memvirtfs, memfd), or -1 for anonymous memory.
 * @size:	its size in bytes.
 * @path:	memvirtfs: the file's path, unlinked by backing_close().
 */
struct backing {
	enum backing_kind kind;
	int fd;
	u64 size;
	char path[128];
};

const char *backing_name(enum backing_kind kind);
int backing_open(struct backing *b, enum backing_kind kind, u64 size,
		 char *reason, size_t len);
void backing_close(struct backing *b);
/*
 * Give back [@off, @off + @len) so it reads as zero: fallocate(PUNCH_HOLE |
 * KEEP_SIZE) on a file. 0 or -errno (-EOPNOTSUPP for anonymous memory).
 */
int backing_punch(struct backing *b, u64 off, u64 len);

/* Mount memvirtfs at MEMVIRTFS_MOUNT unless one is mounted; as above. */
int memvirtfs_mount(char *reason, size_t len);
/* MEMVIRT_IOC_GET_STATS on a memvirtfs fd: 0 or -errno. */
int memvirt_get_stats(int fd, struct memvirt_stats *st);
/*
 * MEMVIRT_IOC_RECLAIM of @mode over [@start_gfn, @start_gfn + @nr): 0 or
 * -errno; the kernel's answer (scanned, reclaimed, pinned_skips) in *@r.
 */
int memvirt_reclaim(int fd, u64 mode, u64 start_gfn, u64 nr,
		    struct memvirt_reclaim *r);
/* MEMVIRT_IOC_QUERY_RANGE: one state byte per gfn into @states; 0 or -errno. */
int memvirt_query_range(int fd, u64 start_gfn, u64 nr, u8 *states);
/* Read the file @dir/@name (sysfs) as a number: 0 or -errno. */
int sysfs_read_u64(const char *dir, const char *name, u64 *val);
/* Read /sys/kernel/memvirt/vms/<vm_id>/<name> as a number: 0 or -errno. */
int memvirt_sysfs_read(u64 vm_id, const char *name, u64 *val);

#endif /* VMM_BACKING_H */
