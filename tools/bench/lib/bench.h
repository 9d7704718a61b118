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

#endif /* MEMVIRT_BENCH_H */
