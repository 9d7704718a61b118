/* SPDX-License-Identifier: GPL-2.0 */
/*
 * swap_contract.h - what the compression and swap tests (swap_test,
 * kvm_swap_test) share, after /work/spec/swap-interface.md: the global
 * swap/ counters, read and compared as deltas; the swap/ knobs, saved and
 * restored around a test; a private memvirtfs mounted with swapdir= on a
 * fresh directory of the swap disk; the per-VM swap file and slot map; the
 * kernel log lines naming a gfn; and fail_make_request on the swap disk,
 * for memvirt's swap I/O only.
 * Include after kselftest_harness.h and contract.h.
 *
 * The test VM has a virtio-blk ext4 disk mounted at SW_DISK. Each test
 * mounts its own memvirtfs (SW_MNT_TMPL) with swapdir= on its own
 * directory of that disk (SW_DIR_TMPL), so the directory holds exactly the
 * swap files of the test's VMs, and removes both at the end.
 */
#ifndef MEMVIRT_SWAP_CONTRACT_H
#define MEMVIRT_SWAP_CONTRACT_H

#include <ctype.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#define SW_DISK		"/mnt/swap"
#define SW_DIR_TMPL	SW_DISK "/sw.XXXXXX"
#define SW_MNT_TMPL	"/tmp/mvswap.XXXXXX"
#define SW_ATTR		"swap"			/* /sys/kernel/memvirt/swap */
#define SW_KMEMLEAK	"/sys/kernel/debug/kmemleak"
#define SW_FMR		"/sys/kernel/debug/fail_make_request"
/* A page goes to the compression cache if it compresses to at most this. */
#define SW_MAX_ZLEN	(MV_PAGE / 2)
/* Automatic reclaim under limit_bytes works in batches of this many pages. */
#define SW_LIMIT_BATCH	64

/* ------------------------------------------------------------------ */
/* Global counters: /sys/kernel/memvirt/swap/<name> */

enum {
	SW_COMPRESSED, SW_COMPRESSED_BYTES, SW_POOL_BYTES, SW_CACHE_LIMIT,
	SW_SWAPPED, SW_SWAP_OUTS, SW_SWAP_INS, SW_REJECTS, SW_ERRORS,
	SW_EVICTIONS, SW_WB_CANCELLED, SW_WB_INFLIGHT, SW_NR
};

static const char *const sw_names[SW_NR] = {
	"compressed", "compressed_bytes", "pool_bytes", "cache_limit_bytes",
	"swapped", "swap_outs", "swap_ins", "compress_rejects", "swap_errors",
	"evictions", "writeback_cancelled", "writeback_inflight",
};

struct sw_glob {
	u64 v[SW_NR];
};

static inline int sw_glob_try(struct sw_glob *g, const char **bad)
{
	char attr[64];
	unsigned int i;
	int ret;

	for (i = 0; i < SW_NR; i++) {
		snprintf(attr, sizeof(attr), SW_ATTR "/%s", sw_names[i]);
		ret = mv_global_u64(attr, &g->v[i]);
		if (ret) {
			*bad = sw_names[i];
			return ret;
		}
	}
	return 0;
}

static inline void sw_glob_read(struct __test_metadata *_metadata,
				struct sw_glob *g)
{
	const char *bad = "";
	int ret = sw_glob_try(g, &bad);

	ASSERT_EQ(0, ret) TH_LOG("read %s/%s/%s: %s", MV_SYSFS, SW_ATTR, bad,
				 strerror(-ret));
}

/* swap/<counter @f> moved by exactly @want since @base. */
static inline void sw_expect_delta(struct __test_metadata *_metadata,
				   const struct sw_glob *base,
				   const struct sw_glob *now, unsigned int f,
				   u64 want)
{
	EXPECT_EQ(want, now->v[f] - base->v[f])
		TH_LOG("swap/%s: %llu -> %llu, want +%llu", sw_names[f],
		       (unsigned long long)base->v[f],
		       (unsigned long long)now->v[f], (unsigned long long)want);
}

#define EXPECT_SW_DELTA(base, now, f, want) \
	sw_expect_delta(_metadata, &(base), &(now), f, want)

/*
 * What holds guest data outside guest pages is back where @base had it:
 * nothing compressed or swapped is left over, and no write is in flight.
 */
static inline void sw_expect_drained(struct __test_metadata *_metadata,
				     const struct sw_glob *base)
{
	struct sw_glob now;

	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(*base, now, SW_COMPRESSED, 0);
	EXPECT_SW_DELTA(*base, now, SW_COMPRESSED_BYTES, 0);
	EXPECT_SW_DELTA(*base, now, SW_SWAPPED, 0);
	EXPECT_SW_DELTA(*base, now, SW_WB_INFLIGHT, 0);
}

/* ------------------------------------------------------------------ */
/* Knobs: /sys/kernel/memvirt/swap/{cache_percent,swapin_readahead} */

static const char *const sw_knob_names[] = {
	"cache_percent", "swapin_readahead",
};

#define SW_NR_KNOBS	ARRAY_SIZE(sw_knob_names)

struct sw_knobs {
	bool saved[SW_NR_KNOBS];
	char val[SW_NR_KNOBS][32];
};

static inline void sw_knobs_save(struct sw_knobs *k)
{
	char attr[64];
	unsigned int i;

	for (i = 0; i < SW_NR_KNOBS; i++) {
		snprintf(attr, sizeof(attr), MV_SYSFS "/" SW_ATTR "/%s",
			 sw_knob_names[i]);
		k->saved[i] = !mv_read_str(attr, k->val[i], sizeof(k->val[i]));
	}
}

static inline int sw_knobs_restore(const struct sw_knobs *k)
{
	char attr[64];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < SW_NR_KNOBS; i++) {
		if (!k->saved[i])
			continue;
		snprintf(attr, sizeof(attr), MV_SYSFS "/" SW_ATTR "/%s",
			 sw_knob_names[i]);
		ret |= mv_write_str(attr, k->val[i]);
	}
	return ret;
}

/* The saved value of knob @name ("" if it could not be read). */
static inline const char *sw_knob_saved(const struct sw_knobs *k,
					const char *name)
{
	unsigned int i;

	for (i = 0; i < SW_NR_KNOBS; i++)
		if (!strcmp(sw_knob_names[i], name))
			return k->saved[i] ? k->val[i] : "";
	return "";
}

static inline int sw_set(const char *knob, u64 val)
{
	char attr[64];

	snprintf(attr, sizeof(attr), SW_ATTR "/%s", knob);
	return mv_global_set_u64(attr, val);
}

#define SW_SET(knob, val) do {						\
	int __ret = sw_set(knob, val);					\
									\
	ASSERT_EQ(0, __ret) TH_LOG("swap/%s = %llu: %s", knob,		\
				   (unsigned long long)(val),		\
				   strerror(-__ret));			\
} while (0)

/* ------------------------------------------------------------------ */
/* The swap disk and a memvirtfs that swaps to it */

/* Skip reason when the test VM has no swap disk, else NULL. */
static inline const char *sw_disk_missing(void)
{
	if (!mv_mounted_at(SW_DISK, NULL))
		return "no swap disk mounted at " SW_DISK
		       " (the test VM's virtio-blk ext4 disk)";
	return NULL;
}

/*
 * @dir: a fresh directory on the swap disk, @mnt: a memvirtfs mounted with
 * swapdir=@dir (or with @opts only, see sw_mount_open()).
 */
struct sw_mount {
	char dir[64];
	char mnt[64];
	bool mounted;
};

/*
 * mkdtemp both, mount memvirtfs at @m->mnt with "swapdir=<dir>" (@swapdir
 * true) or no option; 0 or -errno (what failed in @why).
 */
static inline int sw_mount_open(struct sw_mount *m, bool swapdir, char *why,
				size_t len)
{
	char opts[96];

	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), SW_DIR_TMPL);
	if (!mkdtemp(m->dir)) {
		snprintf(why, len, "mkdtemp %s: %s", SW_DIR_TMPL, strerror(errno));
		m->dir[0] = 0;
		return -errno;
	}
	snprintf(m->mnt, sizeof(m->mnt), SW_MNT_TMPL);
	if (!mkdtemp(m->mnt)) {
		snprintf(why, len, "mkdtemp %s: %s", SW_MNT_TMPL, strerror(errno));
		m->mnt[0] = 0;
		return -errno;
	}
	snprintf(opts, sizeof(opts), "swapdir=%s", m->dir);
	if (mount("memvirt", m->mnt, MV_FSTYPE, 0, swapdir ? opts : NULL)) {
		snprintf(why, len, "mount -t %s -o %s memvirt %s: %s", MV_FSTYPE,
			 swapdir ? opts : "(none)", m->mnt, strerror(errno));
		return -errno;
	}
	m->mounted = true;
	return 0;
}

/*
 * umount (if still mounted) and remove both directories. A mount still in
 * use (a test failed with a file open) is detached all the same, so that
 * it goes when the test process exits: a memvirtfs left mounted would keep
 * memvirt from unloading. 0, or -errno of the umount.
 */
static inline int sw_mount_close(struct sw_mount *m)
{
	int ret = 0;

	if (m->mounted && umount(m->mnt)) {
		ret = -errno;
		umount2(m->mnt, MNT_DETACH);
	}
	m->mounted = false;
	if (m->mnt[0])
		rmdir(m->mnt);
	if (m->dir[0])
		mv_rm_rf(m->dir);
	m->mnt[0] = m->dir[0] = 0;
	return ret;
}

/* <swapdir>/memvirt-<id>.vswp */
static inline void sw_vswp_path(char *buf, size_t len, const char *swapdir,
				u64 id)
{
	snprintf(buf, len, "%.200s/memvirt-%llu.vswp", swapdir,
		 (unsigned long long)id);
}

/* Entries of @dir other than . and .., or -errno. */
static inline int sw_dir_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The VM id of an open memvirtfs file. */
static inline u64 sw_fd_id(struct __test_metadata *_metadata, int fd)
{
	struct memvirt_stats st;

	mv_stats_get(_metadata, fd, &st);
	return st.vm_id;
}

/* ------------------------------------------------------------------ */
/* debugfs memvirt/vms/<id>/swap_slots: "slots: N used: M" + used ranges */

struct sw_slots {
	unsigned long long slots, used;
	char ranges[256];	/* the used slots, bitmap list format */
};

static inline int sw_slots_read(u64 id, struct sw_slots *s)
{
	char path[PATH_MAX], buf[1024], *nl, *line;
	int ret;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), MV_DEBUGFS "/vms/%llu/swap_slots",
		 (unsigned long long)id);
	ret = mv_read_str(path, buf, sizeof(buf));
	if (ret)
		return ret;
	/* "slots:" starts the file or a line (a "file:" line may come first) */
	line = !strncmp(buf, "slots: ", 7) ? buf : strstr(buf, "\nslots: ");
	if (!line)
		return -EINVAL;
	if (line != buf)
		line++;
	if (sscanf(line, "slots: %llu used: %llu", &s->slots, &s->used) != 2)
		return -EINVAL;
	nl = strchr(line, '\n');
	if (nl)
		snprintf(s->ranges, sizeof(s->ranges), "%s", nl + 1);
	s->ranges[strcspn(s->ranges, "\n")] = 0;
	return 0;
}

/* The slot map of VM @id has @used slots in use, exactly @ranges (or any). */
static inline void sw_expect_slots(struct __test_metadata *_metadata, u64 id,
				   u64 used, const char *ranges)
{
	struct sw_slots s;
	int ret = sw_slots_read(id, &s);

	ASSERT_EQ(0, ret) TH_LOG("%s/vms/%llu/swap_slots: %s", MV_DEBUGFS,
				 (unsigned long long)id, strerror(-ret));
	EXPECT_EQ(used, s.used) TH_LOG("swap_slots of vm %llu: slots %llu used %llu [%s]",
				       (unsigned long long)id, s.slots, s.used,
				       s.ranges);
	if (ranges)
		EXPECT_STREQ(ranges, s.ranges);
}

/* ------------------------------------------------------------------ */
/* Kernel log */

/*
 * Records logged since mv_kmsg_open() that name VM @id ("vm <id> ") and gfn
 * @gfn ("gfn 0x<hex>", the form of every memvirt line naming a gfn).
 */
static inline int sw_kmsg_count_gfn(int fd, u64 id, u64 gfn)
{
	char rec[8192], vm[48], g[48], *msg, *nl, *p;
	int count = 0;
	ssize_t n;

	snprintf(vm, sizeof(vm), "vm %llu ", (unsigned long long)id);
	snprintf(g, sizeof(g), "gfn 0x%llx", (unsigned long long)gfn);
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0) {
			if (errno == EPIPE)
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
		p = strstr(msg, g);
		/* the gfn, not a longer number that starts with it */
		if (!strstr(msg, vm) || !p || isxdigit((unsigned char)p[strlen(g)]))
			continue;
		count++;
	}
	return count;
}

/* ------------------------------------------------------------------ */
/* fail_make_request on the swap disk, for memvirt's I/O only */

/*
 * Every read and write of a swap file is submitted by one kernel thread,
 * memvirt_swapio, never by the task that needs it. With task-filter=Y and
 * that thread's make-it-fail set, only memvirt's swap I/O fails, never the
 * filesystem's own (its journal lives on the same disk).
 */
#define SW_IO_THREAD	"memvirt_swapio"

static const char *const sw_fmr_knobs[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
};

#define SW_FMR_NR	ARRAY_SIZE(sw_fmr_knobs)

/*
 * @dev: the whole disk's make-it-fail (the block layer checks the whole
 * disk for every bio, partition or not); @thread: memvirt_swapio's
 * make-it-fail; @old: what the knobs held.
 */
struct sw_fmr {
	bool saved;
	char dev[PATH_MAX];
	char dev_old[16];
	char thread[64];
	char old[SW_FMR_NR][32];
};

/* Skip reason when the kernel cannot fail requests, else NULL. */
static inline const char *sw_fmr_missing(void)
{
	if (access(SW_FMR, F_OK))
		return "no " SW_FMR " (CONFIG_FAIL_MAKE_REQUEST is not set)";
	return NULL;
}

/* The whole disk's make-it-fail of the device mounted at SW_DISK. */
static inline int sw_fmr_dev_path(char *buf, size_t len)
{
	char line[1024], dev[256], dir[512], sys[PATH_MAX];
	struct stat st;
	FILE *f = fopen("/proc/mounts", "r");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %511s", dev, dir) == 2 &&
		    !strcmp(dir, SW_DISK)) {
			ret = 0;
			break;
		}
	fclose(f);
	if (ret)
		return ret;
	if (stat(dev, &st))
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/partition",
		 major(st.st_rdev), minor(st.st_rdev));
	if (!access(sys, F_OK))
		snprintf(buf, len, "/sys/dev/block/%u:%u/../make-it-fail",
			 major(st.st_rdev), minor(st.st_rdev));
	else
		snprintf(buf, len, "/sys/dev/block/%u:%u/make-it-fail",
			 major(st.st_rdev), minor(st.st_rdev));
	return 0;
}

/* /proc/<pid>/make-it-fail of the thread named @comm; -ENOENT if none. */
static inline int sw_thread_fail_path(const char *comm, char *buf, size_t len)
{
	char path[300], name[64];
	struct dirent *de;
	DIR *d = opendir("/proc");
	int ret = -ENOENT;

	if (!d)
		return -errno;
	while (ret && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (mv_read_str(path, name, sizeof(name)) || strcmp(name, comm))
			continue;
		snprintf(buf, len, "/proc/%.16s/make-it-fail", de->d_name);
		ret = 0;
	}
	closedir(d);
	return ret;
}

static inline int sw_fmr_write(const char *name, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), SW_FMR "/%s", name);
	return mv_write_str(path, val);
}

/* Save what sw_fmr_arm() changes, the first time. 0 or -errno (@why). */
static inline int sw_fmr_save(struct sw_fmr *f, char *why, size_t len)
{
	char path[PATH_MAX];
	unsigned int i;
	int ret;

	if (f->saved)
		return 0;
	ret = sw_fmr_dev_path(f->dev, sizeof(f->dev));
	if (ret) {
		snprintf(why, len, "the block device of %s: %s", SW_DISK,
			 strerror(-ret));
		return ret;
	}
	ret = sw_thread_fail_path(SW_IO_THREAD, f->thread, sizeof(f->thread));
	if (ret) {
		snprintf(why, len, "no thread named %s: %s", SW_IO_THREAD,
			 strerror(-ret));
		return ret;
	}
	ret = mv_read_str(f->dev, f->dev_old, sizeof(f->dev_old));
	if (ret) {
		snprintf(why, len, "read %s: %s", f->dev, strerror(-ret));
		return ret;
	}
	for (i = 0; i < SW_FMR_NR; i++) {
		snprintf(path, sizeof(path), SW_FMR "/%s", sw_fmr_knobs[i]);
		ret = mv_read_str(path, f->old[i], sizeof(f->old[i]));
		if (ret) {
			snprintf(why, len, "read %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	f->saved = true;
	return 0;
}

/*
 * Arm: the next @times requests memvirt_swapio submits to the swap disk
 * fail (-1: all of them, until sw_fmr_disarm()). verbose 0: no stack dump
 * in the log. 0 or -errno (@why).
 */
static inline int sw_fmr_arm(struct sw_fmr *f, long times, char *why,
			     size_t len)
{
	char val[32];
	const char *vals[SW_FMR_NR] = {
		"0", "1", val, "0", "0", "Y",
	};
	unsigned int i;
	int ret = sw_fmr_save(f, why, len);

	if (ret)
		return ret;
	snprintf(val, sizeof(val), "%ld", times);
	/* probability last: nothing fails with a half-set configuration */
	for (i = 0; i < SW_FMR_NR; i++) {
		ret = sw_fmr_write(sw_fmr_knobs[i], vals[i]);
		if (ret) {
			snprintf(why, len, "%s/%s = %s: %s", SW_FMR,
				 sw_fmr_knobs[i], vals[i], strerror(-ret));
			return ret;
		}
	}
	ret = mv_write_str(f->dev, "1");
	if (!ret)
		ret = mv_write_str(f->thread, "1");
	if (!ret)
		ret = sw_fmr_write("probability", "100");
	if (ret)
		snprintf(why, len, "arming %s, %s: %s", f->dev, f->thread,
			 strerror(-ret));
	return ret;
}

/* Nothing fails any more. */
static inline int sw_fmr_disarm(struct sw_fmr *f)
{
	int ret = sw_fmr_write("probability", "0");

	if (f->saved)
		ret |= mv_write_str(f->thread, "0");
	return ret;
}

/* Injection off, then everything as it was. */
static inline int sw_fmr_restore(struct sw_fmr *f)
{
	unsigned int i;
	int ret = 0;

	if (!f->saved)
		return 0;
	ret |= sw_fmr_disarm(f);
	ret |= mv_write_str(f->dev, f->dev_old);
	for (i = 0; i < SW_FMR_NR; i++)
		ret |= sw_fmr_write(sw_fmr_knobs[i], f->old[i]);
	f->saved = false;
	return ret;
}

/*
 * After an injection: the swap disk's filesystem took no damage (had one
 * of its own requests failed, it would have logged an ext4 error or
 * aborted its journal): a new file there can be written and synced.
 * 0 or -errno.
 */
static inline int sw_disk_healthy(const char *dir)
{
	char path[PATH_MAX], buf[512];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/healthy", dir);
	memset(buf, 0x11, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd))
		ret = errno ? -errno : -EIO;
	close(fd);
	unlink(path);
	return ret;
}

/* ------------------------------------------------------------------ */
/* One VM file of a test's memvirtfs, mapped (swap_test, policy_test) */

struct vmf {
	char path[PATH_MAX];
	int fd;
	u64 id;
	u64 npages;
	unsigned char *map;
};

/* Create @dir/@name of @npages pages, mapped; 0 or -errno (@why). */
static inline int vmf_open(struct vmf *v, const char *dir, const char *name,
				   u64 npages, char *why, size_t len)
{
	struct memvirt_stats st;
	int ret;

	memset(v, 0, sizeof(*v));
	v->npages = npages;
	snprintf(v->path, sizeof(v->path), "%s/%s", dir, name);
	v->fd = mv_create(v->path, npages * MV_PAGE);
	if (v->fd < 0) {
		ret = v->fd;
		snprintf(why, len, "create %s of %llu pages: %s", v->path,
			 (unsigned long long)npages, strerror(-ret));
		v->path[0] = 0;
		return ret;
	}
	ret = mv_get_stats(v->fd, &st);
	if (ret) {
		snprintf(why, len, "GET_STATS: %s", strerror(-ret));
		return ret;
	}
	v->id = st.vm_id;
	v->map = mmap(NULL, npages * MV_PAGE, PROT_READ | PROT_WRITE,
		      MAP_SHARED, v->fd, 0);
	if (v->map == MAP_FAILED) {
		v->map = NULL;
		snprintf(why, len, "mmap: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static inline void vmf_close(struct vmf *v)
{
	if (v->map)
		munmap(v->map, v->npages * MV_PAGE);
	v->map = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	if (v->path[0])
		unlink(v->path);
	v->path[0] = 0;
}

/* A xorshift64 step: the next of a seeded sequence. */
static inline u64 xorshift(u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

#endif /* MEMVIRT_SWAP_CONTRACT_H */
