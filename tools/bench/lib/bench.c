// SPDX-License-Identifier: GPL-2.0
/*
 * bench.c - what the benchmarks in tools/bench share; see bench.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backing.h"
#include "bench.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define PAGE		VMM_PAGE_SIZE

/* ---- small file helpers ---- */

int write_str(const char *path, const char *val)
{
	int fd, len = strlen(val), err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		err = -errno;
	close(fd);
	return err;
}

int read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

u64 keyed(const char *path, const char *key)
{
	char line[256], k[128];
	unsigned long long v, ret = 0;
	FILE *f = fopen(path, "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %llu", k, &v) == 2 && !strcmp(k, key)) {
			ret = v;
			break;
		}
	if (f)
		fclose(f);
	return ret;
}

const char *text_at(const char *path, char *buf, size_t len)
{
	if (read_str(path, buf, len))
		snprintf(buf, len, "n/a");
	return buf;
}

u64 u64_at(const char *dir, const char *name)
{
	u64 v = 0;

	sysfs_read_u64(dir, name, &v);
	return v;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- seeded content ---- */

const char *const content_names[NR_CONTENT] = { "sparse", "text", "records", "random" };
const int content_pct[NR_CONTENT] = { 15, 35, 25, 25 };

u64 mix(u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

u64 next_rand(u64 *s)
{
	u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static enum content_cls page_class(u64 key, u64 seed)
{
	int r = mix(key ^ seed) % 100, c, acc = 0;

	for (c = 0; c < NR_CONTENT - 1; c++) {
		acc += content_pct[c];
		if (r < acc)
			return c;
	}
	return CONTENT_RANDOM;
}

/* Log lines: one of a few message templates, a timestamp, a number. */
static const char *const log_msgs[][2] = {
	{ "request served from cache in ", " ms" },
	{ "GET /api/v1/items?page=", " status 200" },
	{ "POST /api/v1/orders status 201 bytes ", "" },
	{ "session opened for user ", "" },
	{ "session closed for user ", " after idle timeout" },
	{ "worker picked job ", " from queue default" },
	{ "checkpoint written, ", " dirty buffers flushed" },
	{ "connection reset by peer 10.0.3.", ":443" },
	{ "cache miss for key item:", ", loading from database" },
	{ "transaction ", " committed" },
};

static const char *const log_levels[] = { "INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR" };
static const char *const log_comps[] = { "httpd", "db", "scheduler", "cache" };

static size_t put_str(char *p, size_t at, const char *s)
{
	while (*s && at < PAGE)
		p[at++] = *s++;
	return at;
}

static size_t put_num(char *p, size_t at, u64 v, int width)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = '0' + v % 10;
		v /= 10;
	} while (v && n < 20);
	while (n < width && n < 20)
		d[n++] = '0';
	while (n && at < PAGE)
		p[at++] = d[--n];
	return at;
}

static void gen_text(char *p, u64 idx, u64 *s)
{
	u64 t = 1700000000000ULL + idx * 977, r;
	size_t at = 0;
	int m;

	while (at < PAGE) {
		r = next_rand(s);
		t += r % 200;
		m = (r >> 16) % ARRAY_SIZE(log_msgs);
		at = put_num(p, at, t / 1000, 10);
		at = put_str(p, at, ".");
		at = put_num(p, at, t % 1000, 3);
		at = put_str(p, at, " ");
		at = put_str(p, at, log_levels[(r >> 24) % 6]);
		at = put_str(p, at, " ");
		at = put_str(p, at, log_comps[(r >> 28) % 4]);
		at = put_str(p, at, ": ");
		at = put_str(p, at, log_msgs[m][0]);
		at = put_num(p, at, (r >> 32) % 5000, 0);
		at = put_str(p, at, log_msgs[m][1]);
		at = put_str(p, at, "\n");
	}
}

/*
 * 128-byte records of a heap-allocated table: ids, list pointers, small
 * counters and flags, a name, a key, and fields still unused (zero).
 */
struct rec {
	u64 id;
	u64 next, prev;
	u32 refs, flags;
	u64 ts;
	char name[16];
	u64 key;
	u64 stats[4];
	u64 unused[4];
};

static void gen_records(char *p, u64 idx, u64 *s)
{
	static const char *const names[] = { "alpha", "beta", "gamma", "delta",
					     "epsilon", "zeta", "eta", "theta" };
	struct rec *r = (struct rec *)p;
	u64 heap = 0x00007f3a1c000000ULL + (idx % 64) * 0x100000, x;
	unsigned int i;

	for (i = 0; i < PAGE / sizeof(*r); i++) {
		x = next_rand(s);
		memset(&r[i], 0, sizeof(r[i]));
		r[i].id = idx * 32 + i;
		/* mostly allocated in order: lists point at neighbours */
		r[i].next = heap + (idx % 64 * 32 + i + 1 + (x % 4 ? 0 : x % 4096)) * 128;
		r[i].prev = heap + (idx % 64 * 32 + i - 1) * 128;
		r[i].refs = (x >> 24) % 4;
		r[i].flags = 1u << ((x >> 28) % 4);
		r[i].ts = 1700000000ULL + idx * 32 + i;
		r[i].stats[0] = (x >> 48) % 256;
		r[i].stats[1] = (x >> 56) % 16;
		strcpy(r[i].name, names[(x >> 36) % 8]);
		r[i].key = (x >> 40) % 8 ? (x >> 44) % 1000 : next_rand(s);
	}
}

void content_page(void *page, u64 key, u64 seed, u64 sparse_min)
{
	u64 s = mix(key * 0x9e3779b97f4a7c15ULL ^ seed), *w = page, v;
	unsigned int i, n;

	switch (page_class(key, seed)) {
	case CONTENT_SPARSE:
		/* a mostly empty page: a few fields set */
		memset(page, 0, PAGE);
		n = 4 + next_rand(&s) % 12;
		for (i = 0; i < n; i++) {
			/* the value's draw first, then its place */
			v = next_rand(&s) % 100000 + sparse_min;
			w[next_rand(&s) % 64] = v;
		}
		break;
	case CONTENT_TEXT:
		gen_text(page, key & 0xffffffffULL, &s);
		break;
	case CONTENT_RECORDS:
		gen_records(page, key & 0xffffffffULL, &s);
		break;
	default:
		for (i = 0; i < PAGE / 8; i++)
			w[i] = next_rand(&s);
	}
}

/* ---- the swap disk ---- */

/* Is @dir a mount point? Its device then differs from its parent's. */
static bool is_mountpoint(const char *dir, dev_t *dev)
{
	char parent[300];
	struct stat a, p;

	snprintf(parent, sizeof(parent), "%s/..", dir);
	if (stat(dir, &a) || !S_ISDIR(a.st_mode) || stat(parent, &p))
		return false;
	*dev = a.st_dev;
	return a.st_dev != p.st_dev || a.st_ino == p.st_ino;
}

int probe_swap_disk(const char *prog, const char *dir, dev_t *dev)
{
	char reason[256];

	if (vmm_kvm_available(reason, sizeof(reason))) {
		printf("%s: no measurements: %s\n", prog, reason);
		return -ENODEV;
	}
	if (!is_mountpoint(dir, dev)) {
		printf("%s: no swap disk: %s is not a mounted filesystem (the test VM's virtio-blk ext4 disk)\n",
		       prog, dir);
		return -ENODEV;
	}
	return 0;
}

void disk_read(const char *stat, u64 *rd, u64 *wr)
{
	char buf[512];
	unsigned long long f[7];

	*rd = *wr = 0;
	if (read_str(stat, buf, sizeof(buf)))
		return;
	if (sscanf(buf, "%llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2],
		   &f[3], &f[4], &f[5], &f[6]) == 7) {
		*rd = f[2];
		*wr = f[6];
	}
}

int swapfile_make(struct swapfile *sw, const char *dir, const char *name, u64 size)
{
	u64 pages = size / PAGE, off;
	static u8 page[PAGE];
	int fd, err = 0;

	snprintf(sw->path, sizeof(sw->path), "%s/%s", dir, name);
	unlink(sw->path);
	fd = open(sw->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* swapon needs every block allocated: fallocate, else write zeros. */
	if (fallocate(fd, 0, 0, size)) {
		memset(page, 0, PAGE);
		for (off = 0; off < size && !err; off += PAGE)
			if (pwrite(fd, page, PAGE, off) != PAGE)
				err = -errno;
	}
	/* mkswap: version 1 header, last_page, magic at the page's end. */
	memset(page, 0, PAGE);
	*(u32 *)(page + 1024) = 1;
	*(u32 *)(page + 1028) = pages - 1;
	memcpy(page + PAGE - 10, "SWAPSPACE2", 10);
	if (!err && pwrite(fd, page, PAGE, 0) != PAGE)
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	if (!err && syscall(SYS_swapon, sw->path, 0))
		err = -errno;
	if (err) {
		unlink(sw->path);
		return err;
	}
	sw->on = true;
	return 0;
}

void swapfile_remove(struct swapfile *sw)
{
	if (sw->on && syscall(SYS_swapoff, sw->path))
		printf("# swapoff %s: %s\n", sw->path, strerror(errno));
	sw->on = false;
	if (sw->path[0])
		unlink(sw->path);
}

void note_other_swaps(void)
{
	char buf[256];

	if (read_str("/proc/swaps", buf, sizeof(buf)) == 0 && strchr(buf, '/'))
		printf("# note: other swap areas are active (/proc/swaps)\n");
}

/* ---- cgroup2 and memvirtfs ---- */

bool cgroup_memory_on(void)
{
	char buf[256];

	if (read_str(CGROUP_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory"))
		return false;
	write_str(CGROUP_ROOT "/cgroup.subtree_control", "+memory");
	return true;
}

void cgroup_rmdir(const char *path)
{
	int i;

	for (i = 0; i < 50; i++) {
		if (!rmdir(path) || errno == ENOENT)
			return;
		sleep_ms(100);
	}
	printf("# rmdir %s: %s\n", path, strerror(errno));
}

int mvfs_mount(const char *dir, const char *swapdir, char *why, size_t len)
{
	char opts[300];
	int err;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		err = -errno;
		snprintf(why, len, "mkdir %s: %s", dir, strerror(-err));
		return err;
	}
	snprintf(opts, sizeof(opts), "swapdir=%s", swapdir);
	if (mount("memvirt", dir, "memvirtfs", 0, opts)) {
		err = -errno;
		snprintf(why, len, "mount -t memvirtfs -o %s: %s", opts, strerror(-err));
		return err;
	}
	return 0;
}

void mvfs_unmount(const char *dir, bool *mounted)
{
	if (*mounted && umount2(dir, 0)) {
		printf("# umount %s: %s (detaching)\n", dir, strerror(errno));
		umount2(dir, MNT_DETACH);
	}
	*mounted = false;
	rmdir(dir);
}

/* ---- options and figures ---- */

int parse_names(char *arg, const char *const *names, int n, bool *want)
{
	char *tok, *save = NULL;
	int s;

	memset(want, 0, n * sizeof(*want));
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (s = 0; s < n; s++)
			if (!strcmp(tok, names[s]))
				break;
		if (s == n)
			return -1;
		want[s] = true;
	}
	return 0;
}

void cell(double v, const char *f, int width)
{
	char buf[32];

	if (v < 0)
		snprintf(buf, sizeof(buf), "n/a");
	else
		snprintf(buf, sizeof(buf), f, v);
	printf("%*s", width, buf);
}

void fmt(char *buf, size_t len, double v, const char *f)
{
	if (v < 0)
		snprintf(buf, len, "na");
	else
		snprintf(buf, len, f, v);
}

/* ---- zswap knobs ---- */

static const char *const zswap_knob_names[5] = {
	"enabled", "compressor", "zpool", "max_pool_percent", "same_filled_pages_enabled",
};

static void zswap_path(char *buf, size_t len, int k)
{
	snprintf(buf, len, ZSWAP_PARAMS "/%s", zswap_knob_names[k]);
}

void zswap_knobs_save(struct zswap_knobs *z)
{
	char path[256];
	int k;

	if (z->touched)
		return;
	for (k = 0; k < 5; k++) {
		zswap_path(path, sizeof(path), k);
		if (read_str(path, z->saved[k], sizeof(z->saved[k])))
			z->saved[k][0] = '\0';
	}
	z->touched = true;
}

int zswap_knobs_set(struct zswap_knobs *z, bool on)
{
	int err;

	zswap_knobs_save(z);
	if (!on)
		return write_str(ZSWAP_PARAMS "/enabled", "N");
	if (write_str(ZSWAP_PARAMS "/compressor", "lz4"))
		printf("# zswap: compressor lz4 unavailable (%s), keeping %s\n",
		       strerror(errno), z->saved[1]);
	if (write_str(ZSWAP_PARAMS "/zpool", "zsmalloc"))
		printf("# zswap: zpool zsmalloc unavailable (%s), keeping %s\n",
		       strerror(errno), z->saved[2]);
	write_str(ZSWAP_PARAMS "/same_filled_pages_enabled", "Y");
	err = write_str(ZSWAP_PARAMS "/enabled", "Y");
	if (err)
		return err;
	read_str(ZSWAP_PARAMS "/compressor", z->compressor, sizeof(z->compressor));
	read_str(ZSWAP_PARAMS "/zpool", z->zpool, sizeof(z->zpool));
	return 0;
}

void zswap_knobs_restore(struct zswap_knobs *z)
{
	char path[256];
	int k;

	if (!z->touched)
		return;
	write_str(ZSWAP_PARAMS "/enabled", "N");
	for (k = 4; k >= 0; k--) {
		if (!z->saved[k][0])
			continue;
		zswap_path(path, sizeof(path), k);
		write_str(path, z->saved[k]);
	}
	z->touched = false;
}

/* ---- CPU time of host threads, by name ---- */

static u64 pid_cpu_ns(const char *pid)
{
	char path[300];
	unsigned long long run = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/schedstat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

int cpu_snap_take(struct cpu_snap *s, const char *const *prefixes, int nr)
{
	char path[300], comm[64];
	struct dirent *de;
	DIR *d = opendir("/proc");
	int c;

	memset(s, 0, sizeof(*s));
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (read_str(path, comm, sizeof(comm)))
			continue;
		for (c = 0; c < nr; c++)
			if (!strncmp(comm, prefixes[c], strlen(prefixes[c])))
				break;
		if (c == nr)
			continue;
		if (s->n == s->cap) {
			int cap = s->cap ? 2 * s->cap : 64;
			int *pid = realloc(s->pid, cap * sizeof(int));
			int *cls = pid ? realloc(s->cls, cap * sizeof(int)) : NULL;
			u64 *ns = cls ? realloc(s->ns, cap * sizeof(u64)) : NULL;

			if (pid)
				s->pid = pid;
			if (cls)
				s->cls = cls;
			if (!ns) {
				closedir(d);
				return -ENOMEM;
			}
			s->ns = ns;
			s->cap = cap;
		}
		s->pid[s->n] = atoi(de->d_name);
		s->cls[s->n] = c;
		s->ns[s->n] = pid_cpu_ns(de->d_name);
		s->n++;
	}
	closedir(d);
	return 0;
}

void cpu_snap_delta(const struct cpu_snap *a, const struct cpu_snap *b, u64 *out, int nr)
{
	int i, j;
	u64 base;

	memset(out, 0, nr * sizeof(*out));
	for (i = 0; i < b->n; i++) {
		base = 0;
		for (j = 0; j < a->n; j++)
			if (a->pid[j] == b->pid[i]) {
				base = a->ns[j] <= b->ns[i] ? a->ns[j] : b->ns[i];
				break;
			}
		if (b->cls[i] < nr)
			out[b->cls[i]] += b->ns[i] - base;
	}
}

void cpu_snap_free(struct cpu_snap *s)
{
	free(s->pid);
	free(s->cls);
	free(s->ns);
	memset(s, 0, sizeof(*s));
}
