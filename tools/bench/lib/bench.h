/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h - what the benchmarks in tools/bench share: small sysfs and procfs
 * file helpers, the seeded page content of swap_bench and policy_bench, the
 * swap disk (its counters and a swap file on it), cgroup2, a private
 * memvirtfs mount, and the table and fixed-format line printers.
 *
 * Linked into every program of tools/bench (see its Makefile).
 */
#ifndef MEMVIRT_BENCH_H
#define MEMVIRT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vmm.h"

#define CGROUP_ROOT	"/sys/fs/cgroup"

/* ---- small file helpers ---- */

/* Write @val to @path: 0 or -errno. */
int write_str(const char *path, const char *val);
/* A file's first line (without its newline) into @buf: 0 or -errno. */
int read_str(const char *path, char *buf, size_t len);
/* The value of "key value" line @key of a file (vmstat, memory.stat, ...), or 0. */
u64 keyed(const char *path, const char *key);
/* A one-line file's text into @buf, or "n/a". */
const char *text_at(const char *path, char *buf, size_t len);
/* The number in file @name of @dir, or 0. */
u64 u64_at(const char *dir, const char *name);
void sleep_ms(unsigned int ms);

/* ---- seeded content ---- */

/* A 64-bit mix (murmur3's finalizer). */
u64 mix(u64 x);
/* splitmix64 */
u64 next_rand(u64 *s);

/*
 * The page content: 15% "sparse" (a few words set, the rest zero), 35% "text"
 * (log lines), 25% "records" (a table of 128-byte structs), 25% "random"
 * (incompressible).
 */
enum content_cls { CONTENT_SPARSE, CONTENT_TEXT, CONTENT_RECORDS, CONTENT_RANDOM,
		   NR_CONTENT };

extern const char *const content_names[NR_CONTENT];
extern const int content_pct[NR_CONTENT];

/*
 * The content of the page of key @key into @page (VMM_PAGE_SIZE bytes), by
 * seed @seed: its class, and the page from it. Text and records depend on
 * the key's low 32 bits. Sparse pages' words are set to values from
 * @sparse_min on.
 */
void content_page(void *page, u64 key, u64 seed, u64 sparse_min);

/* ---- the swap disk ---- */

/*
 * Before any measurement: KVM, and @dir a mounted filesystem (the swap
 * disk). 0 with @dir's device in @dev, or -ENODEV with a "@prog: no ..."
 * line printed.
 */
int probe_swap_disk(const char *prog, const char *dir, dev_t *dev);
/* Sectors read and written, from /sys/dev/block/M:m/stat @stat; 0 if unread. */
void disk_read(const char *stat, u64 *rd, u64 *wr);

struct swapfile {
	char path[256];
	bool on;
};

/*
 * A swap file @name of @size bytes in @dir, swapped on: 0 or -errno (the
 * file then removed; sw->path names it either way).
 */
int swapfile_make(struct swapfile *sw, const char *dir, const char *name, u64 size);
/* swapoff (a "#" line if that fails) and unlink. */
void swapfile_remove(struct swapfile *sw);
/* A "#" line when other swap areas than ours may be active. */
void note_other_swaps(void);

/* ---- cgroup2 and memvirtfs ---- */

/* The memory controller enabled for CGROUP_ROOT's children: false if it has none. */
bool cgroup_memory_on(void);
/* rmdir @path, retrying for 5 s while the cgroup empties; a "#" line if it stays. */
void cgroup_rmdir(const char *path);

/*
 * mkdir @dir and mount a private memvirtfs with swapdir=@swapdir on it: 0,
 * or -errno with the reason in @why ("mkdir DIR: ..." or
 * "mount -t memvirtfs -o OPTS: ...").
 */
int mvfs_mount(const char *dir, const char *swapdir, char *why, size_t len);
/* umount (detached if busy, with a "#" line) if @mounted, then rmdir @dir. */
void mvfs_unmount(const char *dir, bool *mounted);

/* ---- options and figures ---- */

/*
 * @arg, comma-separated names of @names (@n of them), into @want: 0, or -1
 * for a name not among them.
 */
int parse_names(char *arg, const char *const *names, int n, bool *want);
/* printf of @v in @f right-aligned to @width, "n/a" if it is negative. */
void cell(double v, const char *f, int width);
/* @v in @f into @buf, "na" if it is negative (the fixed-format line). */
void fmt(char *buf, size_t len, double v, const char *f);

/* ---- zswap knobs (saved, set, restored) ---- */

#define ZSWAP_PARAMS	"/sys/module/zswap/parameters"

struct zswap_knobs {
	char saved[5][64];	/* enabled, compressor, zpool, max_pool_percent, same_filled */
	bool touched;
	char compressor[64], zpool[64];
};

/* Save the knobs once (before the first change). */
void zswap_knobs_save(struct zswap_knobs *z);
/*
 * zswap on (@on): compressor lz4 and zpool zsmalloc if the kernel has them
 * (a "#" line otherwise), same_filled_pages_enabled=Y; or off. Saves the
 * knobs first. 0 or -errno of writing "enabled".
 */
int zswap_knobs_set(struct zswap_knobs *z, bool on);
/* Put back what zswap_knobs_save() found (off first). */
void zswap_knobs_restore(struct zswap_knobs *z);

/* ---- CPU time of host threads, by name ---- */

/*
 * A snapshot of the CPU time (/proc/PID/schedstat) of every task whose
 * comm starts with one of @nr prefixes (kernel threads are tasks of their
 * own): per pid, its class (the prefix's index) and its time.
 */
struct cpu_snap {
	int n, cap;
	int *pid;
	int *cls;
	u64 *ns;
};

/* Take it: 0 or -ENOMEM. */
int cpu_snap_take(struct cpu_snap *s, const char *const *prefixes, int nr);
/*
 * CPU ns per class from @a to @b into @out[nr]: for a pid in both, the
 * growth; for a pid only in @b (started since), all its time.
 */
void cpu_snap_delta(const struct cpu_snap *a, const struct cpu_snap *b, u64 *out, int nr);
void cpu_snap_free(struct cpu_snap *s);

#endif /* MEMVIRT_BENCH_H */
