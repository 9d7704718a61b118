// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - reading and writing /sys/kernel/memvirt, and finding a VM by
 * id, name or path (its file on a memvirtfs mount, from /proc/mounts).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "memvirtctl.h"

static int read_path(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	return 0;
}

int mvc_read(const char *rel, char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", mvc_sysfs, rel);
	return read_path(path, buf, len);
}

bool mvc_is_u64(const char *s)
{
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	strtoull(s, &end, 10);
	return !errno && !*end;
}

int mvc_read_u64(const char *rel, u64v *val)
{
	char buf[64];
	int ret = mvc_read(rel, buf, sizeof(buf));

	if (ret)
		return ret;
	if (!mvc_is_u64(buf))
		return -EINVAL;
	*val = strtoull(buf, NULL, 10);
	return 0;
}

int mvc_vm_read(u64v id, const char *file, char *buf, size_t len)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "vms/%llu/%s", id, file);
	return mvc_read(rel, buf, len);
}

int mvc_vm_u64(u64v id, const char *file, u64v *val)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "vms/%llu/%s", id, file);
	return mvc_read_u64(rel, val);
}

int mvc_write(const char *rel, const char *val)
{
	char path[PATH_MAX];
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mvc_sysfs, rel);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	if (close(fd))
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int mvc_check_loaded(void)
{
	struct stat st;

	if (stat(mvc_sysfs, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int cmp_u64(const void *a, const void *b)
{
	u64v x = *(const u64v *)a, y = *(const u64v *)b;

	return x < y ? -1 : x > y;
}

int mvc_list_vms(u64v **ids)
{
	char path[PATH_MAX];
	struct dirent *de;
	u64v *v = NULL, *nv;
	size_t n = 0, cap = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/vms", mvc_sysfs);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!mvc_is_u64(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = strtoull(de->d_name, NULL, 10);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_u64);
	*ids = v;
	return (int)n;
}

const char *mvc_basename(const char *name)
{
	const char *s = strrchr(name, '/');

	return s ? s + 1 : name;
}

/* The id of an open memvirtfs file: 0 or -errno. */
static int fd_vm_id(int fd, u64v *id)
{
	struct memvirt_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (ioctl(fd, MEMVIRT_IOC_GET_STATS, &st))
		return -errno;
	*id = st.vm_id;
	return 0;
}

/* Undo the octal escapes of /proc/mounts (\040 for a space). */
static void unescape_mount(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
}

/*
 * Look for the file of VM @vm on every memvirtfs mount: mountpoint + name,
 * checked by its vm_id. 0 with @vm->path set, -EACCES if a file that
 * could be it was not readable, or -ENOENT.
 */
static int find_vm_file(struct mvc_vm *vm)
{
	char line[2 * PATH_MAX], dev[PATH_MAX], mnt[PATH_MAX], type[64];
	char path[2 * PATH_MAX + 2];
	FILE *f = fopen("/proc/mounts", "re");
	int ret = -ENOENT, denied = 0;

	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		u64v id = 0;
		int fd;

		if (sscanf(line, "%4095s %4095s %63s", dev, mnt, type) != 3)
			continue;
		if (strcmp(type, "memvirtfs"))
			continue;
		unescape_mount(mnt);
		snprintf(path, sizeof(path), "%s%s", strcmp(mnt, "/") ? mnt : "", vm->name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == EACCES || errno == EPERM)
				denied = -errno;
			continue;
		}
		if (!fd_vm_id(fd, &id) && id == vm->id && strlen(path) < sizeof(vm->path)) {
			strcpy(vm->path, path);
			ret = 0;
		}
		close(fd);
	}
	fclose(f);
	return ret && denied ? denied : ret;
}

int mvc_resolve_vm(const char *arg, struct mvc_vm *vm)
{
	u64v *ids = NULL;
	struct stat st;
	int n, i, ret;

	memset(vm, 0, sizeof(*vm));
	ret = mvc_check_loaded();
	if (ret) {
		mvc_err(-ret, mvc_sysfs_hint(-ret), "%s", mvc_sysfs);
		return ret;
	}
	if (mvc_is_u64(arg)) {
		vm->id = strtoull(arg, NULL, 10);
		ret = mvc_vm_read(vm->id, "name", vm->name, sizeof(vm->name));
		if (ret == -ENOENT) {
			mvc_err(ENOENT, "'memvirtctl top' or 'memvirtctl stats' lists the VMs",
				"no VM with id %s", arg);
			return ret;
		}
		if (ret) {
			mvc_err(-ret, mvc_sysfs_hint(-ret), "VM %s", arg);
			return ret;
		}
		return 0;
	}
	n = mvc_list_vms(&ids);
	if (n < 0) {
		mvc_err(-n, mvc_sysfs_hint(-n), "%s/vms", mvc_sysfs);
		return n;
	}
	for (i = 0; i < n; i++) {
		char name[PATH_MAX];

		/* "/vm0" as sysfs has it, or "vm0" as an operator types it */
		if (mvc_vm_read(ids[i], "name", name, sizeof(name)) ||
		    (strcmp(name, arg) && (name[0] != '/' || strcmp(name + 1, arg))))
			continue;
		/*
		 * A name is a path inside its mount: two mounts, or a file
		 * unlinked while still open, can make two VMs of one name.
		 */
		if (vm->id) {
			mvc_err(ENOTUNIQ, "give its id or the path of its file",
				"more than one VM is named '%s' (ids %llu and %llu)",
				vm->name, vm->id, ids[i]);
			free(ids);
			return -ENOTUNIQ;
		}
		vm->id = ids[i];
		strcpy(vm->name, name);
	}
	free(ids);
	if (vm->id)
		return 0;
	errno = 0;
	if (!stat(arg, &st) && S_ISREG(st.st_mode)) {
		int fd = open(arg, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			ret = -errno;
			mvc_err(-ret, ret == -EACCES ? "run as root" : NULL, "open %s", arg);
			return ret;
		}
		ret = fd_vm_id(fd, &vm->id);
		close(fd);
		if (ret) {
			mvc_err(-ret, "not a memvirtfs file: give a VM id, name or a file on a memvirtfs mount",
				"%s", arg);
			return ret;
		}
		if (strlen(arg) >= sizeof(vm->path))
			return -ENAMETOOLONG;
		strcpy(vm->path, arg);
		mvc_vm_read(vm->id, "name", vm->name, sizeof(vm->name));
		return 0;
	}
	if (errno == EACCES || errno == EPERM) {	/* from stat() */
		ret = -errno;
		mvc_err(-ret, "run as root", "%s", arg);
		return ret;
	}
	mvc_err(ENOENT, "give a VM id, its name as in vms/<id>/name, or the path of its file",
		"no VM '%s'", arg);
	return -ENOENT;
}

int mvc_open_vm(struct mvc_vm *vm, int flags)
{
	int fd, ret;

	if (!vm->path[0]) {
		ret = find_vm_file(vm);
		if (ret == -EACCES || ret == -EPERM) {
			mvc_err(-ret, "run as root", "the file of VM %llu (%s)", vm->id, vm->name);
			return ret;
		}
		if (ret) {
			mvc_err(ENOENT, "no memvirtfs mount holds it here: give the path of its file",
				"the file of VM %llu (%s)", vm->id, vm->name);
			return -ENOENT;
		}
	}
	fd = open(vm->path, flags | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		mvc_err(-ret, -ret == EACCES || -ret == EPERM ? "run as root" : NULL,
			"open %s", vm->path);
		return ret;
	}
	return fd;
}

int mvc_parse_secs(const char *s, double *secs)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || *end || !(d >= 0) || d > 86400)
		return -1;
	*secs = d;
	return 0;
}

double mvc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
