// SPDX-License-Identifier: GPL-2.0
/*
 * backing.c - guest RAM sources for tests and benchmarks: memvirtfs files,
 * memfds, anonymous memory; and readers for memvirt's per-VM counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"

static const char *const kind_names[BACKING_NR_KINDS] = {
	[BACKING_MEMVIRTFS] = "memvirtfs",
	[BACKING_MEMFD] = "memfd",
	[BACKING_ANON] = "anon",
};

/* Where memvirtfs is mounted, once memvirtfs_mount() found or made it. */
static char memvirtfs_dir[64];

const char *backing_name(enum backing_kind kind)
{
	return kind < BACKING_NR_KINDS ? kind_names[kind] : "?";
}

/* Find a mounted memvirtfs in /proc/self/mounts; true if found. */
static bool find_memvirtfs(void)
{
	char line[512], dev[128], dir[64], type[64];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %63s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "memvirtfs")) {
			snprintf(memvirtfs_dir, sizeof(memvirtfs_dir), "%s", dir);
			found = true;
		}
	}
	fclose(f);
	return found;
}

int memvirtfs_mount(char *reason, size_t len)
{
	int err;

	if (memvirtfs_dir[0] || find_memvirtfs())
		return 0;
	if (mkdir("/run", 0755) && errno != EEXIST)
		goto out_err;
	if (mkdir(MEMVIRTFS_MOUNT, 0755) && errno != EEXIST)
		goto out_err;
	if (!mount("memvirt", MEMVIRTFS_MOUNT, "memvirtfs", 0, NULL)) {
		snprintf(memvirtfs_dir, sizeof(memvirtfs_dir), "%s",
			 MEMVIRTFS_MOUNT);
		return 0;
	}
	if (errno == ENODEV) {
		snprintf(reason, len,
			 "filesystem type memvirtfs unknown (memvirt.ko not loaded?)");
		return BACKING_UNAVAILABLE;
	}
	if (errno == EPERM) {
		snprintf(reason, len, "mounting memvirtfs needs CAP_SYS_ADMIN");
		return BACKING_UNAVAILABLE;
	}
out_err:
	err = -errno;
	snprintf(reason, len, "mount -t memvirtfs memvirt %s: %s",
		 MEMVIRTFS_MOUNT, strerror(-err));
	return err;
}

static int open_memvirtfs(struct backing *b, char *reason, size_t len)
{
	static int serial;
	int ret = memvirtfs_mount(reason, len);

	if (ret)
		return ret;
	snprintf(b->path, sizeof(b->path), "%s/vmm-%d-%d", memvirtfs_dir,
		 (int)getpid(), serial++);
	b->fd = open(b->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (b->fd < 0) {
		ret = -errno;
		snprintf(reason, len, "open(%s, O_CREAT): %s", b->path,
			 strerror(-ret));
		b->path[0] = '\0';
	}
	return ret;
}

int backing_open(struct backing *b, enum backing_kind kind, u64 size,
		 char *reason, size_t len)
{
	int ret = 0;

	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->fd = -1;
	b->size = size;
	switch (kind) {
	case BACKING_MEMVIRTFS:
		ret = open_memvirtfs(b, reason, len);
		break;
	case BACKING_MEMFD:
		b->fd = memfd_create("vmm-guest-ram", MFD_CLOEXEC);
		if (b->fd < 0) {
			ret = -errno;
			snprintf(reason, len, "memfd_create: %s", strerror(-ret));
		}
		break;
	case BACKING_ANON:
		return 0;
	default:
		snprintf(reason, len, "unknown backing kind %d", kind);
		return -EINVAL;
	}
	if (ret)
		return ret;
	if (ftruncate(b->fd, size)) {
		ret = -errno;
		snprintf(reason, len, "ftruncate(%s, %llu): %s", backing_name(kind),
			 size, strerror(-ret));
		backing_close(b);
	}
	return ret;
}

void backing_close(struct backing *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (b->path[0])
		unlink(b->path);
	b->path[0] = '\0';
}

int backing_punch(struct backing *b, u64 off, u64 len)
{
	if (b->fd < 0)
		return -EOPNOTSUPP;
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
		return -errno;
	return 0;
}

int memvirt_get_stats(int fd, struct memvirt_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(fd, MEMVIRT_IOC_GET_STATS, st) ? -errno : 0;
}

int memvirt_reclaim(int fd, u64 mode, u64 start_gfn, u64 nr,
		    struct memvirt_reclaim *r)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->mode = mode;
	r->start_gfn = start_gfn;
	r->nr_gfns = nr;
	return ioctl(fd, MEMVIRT_IOC_RECLAIM, r) ? -errno : 0;
}

int memvirt_query_range(int fd, u64 start_gfn, u64 nr, u8 *states)
{
	struct memvirt_range_query q = {
		.size = sizeof(q),
		.start_gfn = start_gfn,
		.nr_gfns = nr,
		.states = (unsigned long)states,
	};

	return ioctl(fd, MEMVIRT_IOC_QUERY_RANGE, &q) ? -errno : 0;
}

int sysfs_read_u64(const char *dir, const char *name, u64 *val)
{
	char path[256], buf[64], *end;
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	*val = strtoull(buf, &end, 0);
	return end == buf ? -EINVAL : 0;
}

int memvirt_sysfs_read(u64 vm_id, const char *name, u64 *val)
{
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/%llu", MEMVIRT_SYSFS_VMS, vm_id);
	return sysfs_read_u64(dir, name, val);
}
