/* SPDX-License-Identifier: GPL-2.0 */
/*
 * contract.h - header-only helpers shared by the memvirt contract tests
 * (every non-KVM selftest): mounting memvirtfs, per-test directories, sysfs
 * reads and writes, the ioctls, SIGBUS probes, /dev/kmsg scanning, bounded
 * children and saving/restoring the global knobs.
 *
 * Every helper returns 0 or a negative errno, so a test can assert on the
 * exact error, and is usable in forked children too; the few that assert
 * (MV_SETUP_MOUNTED(), mv_stats_get(), mv_vm_id()) are at the end and need
 * kselftest_harness.h included first.
 *
 * Included after selftests/abi/memvirt-v1.h (same include guard), the
 * helpers build against that frozen version-1 ABI; what only the live
 * header has is under #ifdef MEMVIRT_IOC_RECLAIM.
 */
#ifndef MEMVIRT_SELFTESTS_CONTRACT_H
#define MEMVIRT_SELFTESTS_CONTRACT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uapi/memvirt.h"

typedef __u64 u64;
typedef __u32 u32;

/* Accesses the compiler must emit exactly once (tools' READ_ONCE). */
#define MV_READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define MV_WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#define MV_PAGE		4096UL
#define MV_MIB		(1024UL * 1024UL)
#define MV_FSTYPE	"memvirtfs"
#define MV_MNT		"/run/memvirt"
#define MV_SYSFS	"/sys/kernel/memvirt"
#define MV_VMS		MV_SYSFS "/vms"
#define MV_DEBUGFS	"/sys/kernel/debug/memvirt"

/*
 * The 6.1 harness runs the test body after a SKIP() in FIXTURE_SETUP, so a
 * skip from setup ends the test process itself (exit 255 = skip).
 */
#define MV_SETUP_SKIP(fmt, ...) SKIP(_exit(255), fmt, ##__VA_ARGS__)

/*
 * TEST_HARNESS_MAIN, except that when @why_skip() returns a reason the whole
 * program is skipped: one "1..0 # SKIP reason" line and exit status 4.
 */
#define MV_HARNESS_MAIN(why_skip)					\
	static void __attribute__((constructor))			\
	__constructor_order_last(void)					\
	{								\
		if (!__constructor_order)				\
			__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD; \
	}								\
	int main(int argc, char **argv)					\
	{								\
		const char *why = why_skip();				\
									\
		if (why) {						\
			ksft_print_header();				\
			ksft_exit_skip("%s\n", why);			\
		}							\
		exit(test_harness_run(argc, argv));			\
	}

static inline size_t mv_pages(size_t bytes)
{
	return (bytes + MV_PAGE - 1) / MV_PAGE;
}

/* A byte that depends on the offset and a salt; never the same as zero. */
static inline unsigned char mv_pattern(size_t off, unsigned int salt)
{
	return (unsigned char)(((off * 7) + (off >> 12) * 13 + salt) % 255 + 1);
}

/* ------------------------------------------------------------------ */
/* Mounting */

/* 1 if @dir is a mount point of type @type in /proc/mounts. */
static inline int mv_mounted_at(const char *dir, const char *type)
{
	char line[1024], dev[256], mnt[512], fstype[64];
	FILE *f = fopen("/proc/mounts", "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %511s %63s", dev, mnt, fstype) != 3)
			continue;
		if (!strcmp(mnt, dir) && (!type || !strcmp(fstype, type)))
			found = 1;
	}
	fclose(f);
	return found;
}

/* 1 if /proc/filesystems lists @type. */
static inline int mv_fs_registered(const char *type)
{
	char line[256], *name;
	FILE *f = fopen("/proc/filesystems", "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		name = strrchr(line, '\t');
		name = name ? name + 1 : line;
		if (!strcmp(name, type))
			found = 1;
	}
	fclose(f);
	return found;
}

static inline int mv_mkdir_p(const char *path)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* mount(2) a fresh memvirtfs instance at @dir with option string @opts. */
static inline int mv_mount(const char *dir, const char *opts)
{
	int ret = mv_mkdir_p(dir);

	if (ret)
		return ret;
	if (mount("memvirt", dir, MV_FSTYPE, 0, opts))
		return -errno;
	return 0;
}

/*
 * Make sure memvirtfs is mounted at MV_MNT. -ENODEV: the filesystem type is
 * not registered (module not loaded).
 */
static inline int mv_ensure_mounted(void)
{
	if (mv_mounted_at(MV_MNT, MV_FSTYPE))
		return 0;
	return mv_mount(MV_MNT, NULL);
}

/* Skip reason for a program that needs memvirtfs, or NULL to run. */
static inline const char *mv_need_memvirtfs(void)
{
	if (mv_ensure_mounted() == -ENODEV)
		return "memvirtfs is not registered (memvirt.ko not loaded)";
	return NULL;
}

static inline int mv_rm_one(const char *path, const struct stat *st, int type,
			    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) ? -1 : 0;
	return unlink(path) ? -1 : 0;
}

/* rm -rf @path (no crossing into other mounts). */
static inline int mv_rm_rf(const char *path)
{
	if (nftw(path, mv_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT))
		return -errno;
	return 0;
}

/* mkdtemp MV_MNT/<tag>.XXXXXX into @buf. */
static inline int mv_make_testdir(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, MV_MNT "/%s.XXXXXX", tag);
	return mkdtemp(buf) ? 0 : -errno;
}

/* The path of @abs inside the memvirtfs mounted at MV_MNT (the vm "name"). */
static inline const char *mv_fs_name(const char *abs)
{
	return abs + strlen(MV_MNT);
}

/* Create @path O_RDWR and size it to @size; returns the fd or -errno. */
static inline int mv_create(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);

	if (fd < 0)
		return -errno;
	if (size && ftruncate(fd, size)) {
		int err = -errno;

		close(fd);
		unlink(path);
		return err;
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* sysfs and friends */

/* Read a whole small file; strips one trailing newline. */
static inline int mv_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

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
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* Read a decimal unsigned attribute; -EINVAL if it is not one. */
static inline int mv_read_u64(const char *path, u64 *val)
{
	char buf[64], *end;
	int ret = mv_read_str(path, buf, sizeof(buf));

	if (ret)
		return ret;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	*val = strtoull(buf, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

/* One write(2) of @s to @path: 0 or -errno of open/write. */
static inline int mv_write_str(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

static inline int mv_write_u64(const char *path, u64 v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)v);
	return mv_write_str(path, buf);
}

static inline void mv_global_path(char *buf, size_t len, const char *attr)
{
	snprintf(buf, len, MV_SYSFS "/%s", attr);
}

static inline int mv_global_u64(const char *attr, u64 *val)
{
	char path[PATH_MAX];

	mv_global_path(path, sizeof(path), attr);
	return mv_read_u64(path, val);
}

static inline int mv_global_set(const char *attr, const char *s)
{
	char path[PATH_MAX];

	mv_global_path(path, sizeof(path), attr);
	return mv_write_str(path, s);
}

static inline int mv_global_set_u64(const char *attr, u64 v)
{
	char path[PATH_MAX];

	mv_global_path(path, sizeof(path), attr);
	return mv_write_u64(path, v);
}

static inline void mv_vm_path(char *buf, size_t len, u64 id,
			      const char *attr)
{
	if (attr)
		snprintf(buf, len, MV_VMS "/%llu/%s", (unsigned long long)id,
			 attr);
	else
		snprintf(buf, len, MV_VMS "/%llu", (unsigned long long)id);
}

static inline int mv_vm_u64(u64 id, const char *attr, u64 *val)
{
	char path[PATH_MAX];

	mv_vm_path(path, sizeof(path), id, attr);
	return mv_read_u64(path, val);
}

static inline int mv_vm_str(u64 id, const char *attr, char *buf,
			    size_t len)
{
	char path[PATH_MAX];

	mv_vm_path(path, sizeof(path), id, attr);
	return mv_read_str(path, buf, len);
}

static inline int mv_vm_set(u64 id, const char *attr, const char *s)
{
	char path[PATH_MAX];

	mv_vm_path(path, sizeof(path), id, attr);
	return mv_write_str(path, s);
}

static inline bool mv_vm_exists(u64 id)
{
	char path[PATH_MAX];
	struct stat st;

	mv_vm_path(path, sizeof(path), id, NULL);
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/*
 * Find the vm whose sysfs "name" is @name (a path inside the memvirtfs).
 * Returns 0 and sets *id, or -ENOENT.
 */
static inline int mv_vm_by_name(const char *name, u64 *id)
{
	char path[PATH_MAX], buf[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(MV_VMS);
	int ret = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), MV_VMS "/%s/name", de->d_name);
		if (mv_read_str(path, buf, sizeof(buf)))
			continue;
		if (!strcmp(buf, name)) {
			*id = strtoull(de->d_name, NULL, 10);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/* MemTotal in MiB, what budget_mb defaults to and is bounded by. */
static inline u64 mv_memtotal_mb(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024;
}

/* The global knobs a test may change; restored in FIXTURE_TEARDOWN. */
struct mv_knobs {
	bool saved;
	char budget_mb[32];
	char overcommit_ratio[32];
	bool has_max_vms;	/* max_vms is newer: saved when it exists */
	char max_vms[32];
};

static inline void mv_knobs_save(struct mv_knobs *k)
{
	k->saved = !mv_read_str(MV_SYSFS "/budget_mb", k->budget_mb,
				sizeof(k->budget_mb)) &&
		   !mv_read_str(MV_SYSFS "/overcommit_ratio",
				k->overcommit_ratio,
				sizeof(k->overcommit_ratio));
	k->has_max_vms = !mv_read_str(MV_SYSFS "/max_vms", k->max_vms,
				      sizeof(k->max_vms));
}

static inline int mv_knobs_restore(struct mv_knobs *k)
{
	char cur[32];
	int ret = 0;

	if (!k->saved)
		return 0;
	if (mv_read_str(MV_SYSFS "/budget_mb", cur, sizeof(cur)) ||
	    strcmp(cur, k->budget_mb))
		ret |= mv_write_str(MV_SYSFS "/budget_mb", k->budget_mb);
	if (mv_read_str(MV_SYSFS "/overcommit_ratio", cur, sizeof(cur)) ||
	    strcmp(cur, k->overcommit_ratio))
		ret |= mv_write_str(MV_SYSFS "/overcommit_ratio",
				    k->overcommit_ratio);
	if (k->has_max_vms &&
	    (mv_read_str(MV_SYSFS "/max_vms", cur, sizeof(cur)) ||
	     strcmp(cur, k->max_vms)))
		ret |= mv_write_str(MV_SYSFS "/max_vms", k->max_vms);
	return ret;
}

/* ------------------------------------------------------------------ */
/* ioctls */

static inline int mv_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline int mv_get_stats(int fd, struct memvirt_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return mv_ioctl(fd, MEMVIRT_IOC_GET_STATS, st);
}

static inline int mv_query(int fd, u64 start, u64 nr,
			   unsigned char *states)
{
	struct memvirt_range_query q = {
		.size = sizeof(q),
		.start_gfn = start,
		.nr_gfns = nr,
		.states = (uintptr_t)states,
	};

	return mv_ioctl(fd, MEMVIRT_IOC_QUERY_RANGE, &q);
}

/* State byte of one gfn, or 0xff if the query failed. */
static inline unsigned char mv_query1(int fd, u64 gfn)
{
	unsigned char s = 0xff;

	if (mv_query(fd, gfn, 1, &s))
		return 0xff;
	return s;
}

static inline int mv_get_policy(int fd, struct memvirt_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	return mv_ioctl(fd, MEMVIRT_IOC_GET_POLICY, p);
}

static inline int mv_set_policy(int fd, u32 flags, u64 shares,
				u64 reservation, u64 limit)
{
	struct memvirt_policy p = {
		.size = sizeof(p),
		.flags = flags,
		.shares = shares,
		.reservation_bytes = reservation,
		.limit_bytes = limit,
	};

	return mv_ioctl(fd, MEMVIRT_IOC_SET_POLICY, &p);
}

/* ------------------------------------------------------------------ */
/* SIGBUS probes */

static inline sigjmp_buf *mv_bus_env(void)
{
	static sigjmp_buf env;

	return &env;
}

static inline void mv_bus_handler(int sig)
{
	(void)sig;
	siglongjmp(*mv_bus_env(), 1);
}

/*
 * Read (@write == false, result in *@out) or write @val at @p. Returns 0 if
 * the access worked, 1 if it raised SIGBUS. Other signals are not caught.
 */
static inline int mv_access(unsigned char *p, bool write, unsigned char val,
			    unsigned char *out)
{
	struct sigaction sa, old;
	unsigned char v;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mv_bus_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(*mv_bus_env(), 1)) {
		sigaction(SIGBUS, &old, NULL);
		return 1;
	}
	if (write) {
		MV_WRITE_ONCE(*p, val);
	} else {
		v = MV_READ_ONCE(*p);
		if (out)
			*out = v;
	}
	sigaction(SIGBUS, &old, NULL);
	return 0;
}

static inline int mv_read_sigbus(unsigned char *p)
{
	return mv_access(p, false, 0, NULL);
}

static inline int mv_write_sigbus(unsigned char *p, unsigned char v)
{
	return mv_access(p, true, v, NULL);
}

/* ------------------------------------------------------------------ */
/* Kernel log */

/* Open /dev/kmsg positioned after the newest record; -errno on failure. */
static inline int mv_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	lseek(fd, 0, SEEK_END);
	return fd;
}

/*
 * Count the records logged since mv_kmsg_open() whose text contains @needle
 * (case-insensitive); with @needle NULL, count them all.
 */
static inline int mv_kmsg_count(int fd, const char *needle)
{
	char rec[8192], *msg, *nl;
	int count = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0) {
			if (errno == EPIPE)	/* overwritten: go on */
				continue;
			break;
		}
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		nl = strchr(++msg, '\n');
		if (nl)
			*nl = 0;
		if (!needle || strcasestr(msg, needle))
			count++;
	}
	return count;
}

/* ------------------------------------------------------------------ */
/* Processes */

/* Drop to nobody (all uids/gids 65534, no capabilities). */
static inline int mv_become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		return -errno;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Bounded children */

/*
 * Run @fn(@arg) in a forked child that SIGALRM kills after @secs seconds
 * (a fatal signal, so even a kernel loop that only checks for fatal signals
 * ends). Returns the child's exit status (0..255), -SIGALRM if it ran out
 * of time, -<signal> if another signal killed it, or -1000 - errno if it
 * could not be started.
 */
static inline int mv_bounded(unsigned int secs, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1000 - errno;
	if (!pid) {
		signal(SIGALRM, SIG_DFL);
		alarm(secs);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1000 - errno;
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* What mv_bounded() returned, for a log line. */
static inline const char *mv_bounded_str(int ret)
{
	static char buf[64];

	if (ret == -SIGALRM)
		return "did not return in time (killed by SIGALRM)";
	if (ret < -999)
		snprintf(buf, sizeof(buf), "fork/wait failed: %s",
			 strerror(-1000 - ret));
	else if (ret < 0)
		snprintf(buf, sizeof(buf), "killed by signal %d", -ret);
	else
		snprintf(buf, sizeof(buf), "child exit %d", ret);
	return buf;
}

#ifdef MEMVIRT_IOC_RECLAIM
/* ------------------------------------------------------------------ */
/* What only the live (version 2) ABI has */

/* MEMVIRT_IOC_RECLAIM of [@start, +@nr); the result in *@r. */
static inline int mv_reclaim(int fd, u64 mode, u64 start, u64 nr,
			     struct memvirt_reclaim *r)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->mode = mode;
	r->start_gfn = start;
	r->nr_gfns = nr;
	return mv_ioctl(fd, MEMVIRT_IOC_RECLAIM, r);
}
#endif

/* ------------------------------------------------------------------ */
/* Asserting helpers (need kselftest_harness.h) */

#ifdef __KSELFTEST_HARNESS_H
/*
 * In a FIXTURE_SETUP: make sure memvirtfs is mounted at MV_MNT; skip the
 * test when memvirt is not loaded, fail it when the mount fails.
 */
#define MV_SETUP_MOUNTED() do {						\
	int __mv_ret = mv_ensure_mounted();				\
									\
	if (__mv_ret == -ENODEV)					\
		MV_SETUP_SKIP("memvirtfs is not registered (memvirt.ko not loaded)"); \
	ASSERT_EQ(0, __mv_ret) TH_LOG("mount memvirtfs at %s: %s",	\
				      MV_MNT, strerror(-__mv_ret));	\
} while (0)

/* MEMVIRT_IOC_GET_STATS of @fd into *@st; fails the test if it fails. */
static inline void mv_stats_get(struct __test_metadata *_metadata, int fd,
				struct memvirt_stats *st)
{
	int ret = mv_get_stats(fd, st);

	ASSERT_EQ(0, ret) TH_LOG("MEMVIRT_IOC_GET_STATS: %s", strerror(-ret));
}

/* The VM id of the memvirtfs file at @path (absolute, under MV_MNT). */
static inline u64 mv_vm_id(struct __test_metadata *_metadata,
			   const char *path)
{
	u64 id = 0;

	ASSERT_EQ(0, mv_vm_by_name(mv_fs_name(path), &id))
		TH_LOG("no /sys/kernel/memvirt/vms/<id> named %s",
		       mv_fs_name(path));
	return id;
}
#endif

#endif /* MEMVIRT_SELFTESTS_CONTRACT_H */
