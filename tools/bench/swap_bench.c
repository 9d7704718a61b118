// SPDX-License-Identifier: GPL-2.0
/*
 * swap_bench.c - a guest whose working set is twice its resident limit:
 * memvirt's compression cache and hypervisor swap against the kernel's own
 * stack on anonymous memory (a memory cgroup with host swap, zswap off and
 * on), on the same disk, the same content and the same accesses.
 *
 * Three systems, one after the other, each in a child process with a fresh
 * one-vCPU test VM (selftests/lib) of W MiB of working set (-w, default 64)
 * and a limit of L MiB (-l, default W / 2):
 *   swap     guest RAM is anonymous memory; the child runs in a memory
 *            cgroup (cgroup2, memory.max = L) and the host swaps to a swap
 *            file on the swap disk (-d, default /mnt/swap); zswap off;
 *   zswap    the same with zswap on (compressor lz4 if the kernel has it,
 *            else its default; zpool zsmalloc if available);
 *   memvirt  guest RAM is a file of a private memvirtfs mount with
 *            swapdir= the same directory; the VM's limit_bytes = L
 *            (MEMVIRT_IOC_SET_POLICY): compression cache, then swap file.
 * Transparent huge pages are off (PR_SET_THP_DISABLE): 4 KiB pages for all.
 *
 * Content: the host writes every working-set page once (the fill), by a
 * seeded rule per page: 15% "sparse" (a few words set, the rest zero), 35%
 * "text" (log lines), 25% "records" (a table of 128-byte structs), 25%
 * "random" (incompressible: compressed or encrypted data). With LZ4, 75% of
 * the pages compress to at most half a page (about 3.3x), the random ones
 * do not compress: 2.1x over all.
 *
 * Accesses: steps of one chunk of C pages (-c, default 32): the guest
 * writes one byte at the start of each page of the chunk and times each
 * store with rdtsc (VMM_PROG_TOUCH_TIMED). Half the steps pick a chunk of a
 * fixed "hot" quarter of the working set, the other half any chunk, by a
 * seeded sequence that is the same for every system. A pass is as many
 * steps as the working set has chunks; one warm-up pass (-u), then P
 * measured passes (-p, default 3): the same work for every system. Before
 * each step the host reads where each page of the chunk is (memvirt:
 * MEMVIRT_IOC_QUERY_RANGE; anonymous memory: mincore(), which counts pages
 * in the swap cache as in memory), so each timed access is known to be to
 * a page in memory or not; an access to a page that was not is a swap-in
 * (from the compression cache, zswap or the disk).
 *
 * Figures, over the measured passes: throughput (pages touched per second
 * of the guest's time in its accesses: the sum of the timed stores; and per
 * second of the vCPU's run time, KVM_RUN to the end of each step, which
 * also counts the test VMM's cost of a step), p50 and p99 of
 * every access and of the swap-ins, bytes written to and read from the
 * swap disk (sectors in /sys/dev/block/<dev>/stat, after sync and once its
 * queue is idle), and each system's counters on "#" lines. At the end
 * the host reads the whole working set back and checks every byte. The
 * last line is fixed-format (one line):
 *   bench: swap wss_mib=W limit_mib=L memvirt_pages_s=X swap_pages_s=X
 *          zswap_pages_s=X memvirt_swapin_p50_us=X memvirt_swapin_p99_us=X
 *          swap_swapin_p50_us=X swap_swapin_p99_us=X zswap_swapin_p50_us=X
 *          zswap_swapin_p99_us=X memvirt_disk_write_mib=X
 *          swap_disk_write_mib=X zswap_disk_write_mib=X compressed=N
 *          swapped=N swap_ins=N compress_rejects=N memvirt_run_pages_s=X
 *          swap_run_pages_s=X zswap_run_pages_s=X zswap_ratio=X ratio=R
 * with compressed and swapped memvirt's gfns in each state at the end,
 * swap_ins and compress_rejects its counters' growth over the measured
 * passes, *_run_pages_s the throughput per second of vCPU run,
 * zswap_ratio = memvirt_pages_s / zswap_pages_s and
 * R = memvirt_pages_s / swap_pages_s ("na" where a figure could not be
 * measured). Without memvirt swap (no /sys/kernel/memvirt/swap, or no
 * swapdir=) a "# memvirt unavailable: ..." line says why and only the
 * baselines run. Exit 0 unless a measurement failed, 2 for bad options.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backing.h"
#include "bench.h"
#include "vmm.h"

#define MIB		(1ULL << 20)
#define PAGE		VMM_PAGE_SIZE
#define REC_GPA		VMM_FREE_GPA		/* TOUCH_TIMED records */
#define WARM_GPA	(REC_GPA + PAGE)	/* one page to warm the vCPU */
#define WS_GPA		(2 * MIB)		/* the working set */
#define WS_GFN		(WS_GPA / PAGE)
#define DEFAULT_WSS	64
#define DEFAULT_CHUNK	32
#define DEFAULT_PASSES	3
#define DEFAULT_WARMUP	1
#define DEFAULT_TIMEOUT	300
#define DEFAULT_DIR	"/mnt/swap"
#define MAX_WSS		1024
#define MAX_CHUNK	(PAGE / 8)		/* records fit in one page */
#define MAX_PASSES	16
#define HOT_PCT		25	/* of the chunks: the hot set */
#define HOT_STEPS_PCT	50	/* of the steps: a chunk of the hot set */
#define RUN_TIMEOUT	60	/* seconds per step */
#define SETTLE_S	10	/* most seconds to wait for the disk to go idle */
#define SEED_CONTENT	0x5a5b0c0dULL
#define SEED_HOT	0x407407ULL
#define SEED_STEPS	0x57e95ULL
#define ZSWAP_PARAMS	"/sys/module/zswap/parameters"
#define ZSWAP_DEBUG	"/sys/kernel/debug/zswap"
#define MEMVIRT_SWAP	"/sys/kernel/memvirt/swap"
#define MVFS_DIR	"/run/swap_bench"
#define SWAPFILE_NAME	"swap_bench.swap"

enum sys { SYS_SWAP, SYS_ZSWAP, SYS_MEMVIRT, NR_SYS };

static const char *const sys_names[NR_SYS] = { "swap", "zswap", "memvirt" };

/* Where a page was before its access. */
enum where { W_MEM, W_COMPRESSED, W_SWAPPED, W_OTHER, NR_WHERE };

/* ---- counters ---- */

struct snap {
	u64 disk_rd, disk_wr;		/* sectors */
	u64 pswpin, pswpout;		/* /proc/vmstat */
	u64 majflt;			/* memory.stat pgmajfault (cgroup) */
	u64 zswapped, zswap_bytes;	/* memory.stat (cgroup) */
	u64 zs_stored, zs_pool, zs_poor, zs_fail, zs_same, zs_wb;
	struct memvirt_stats mv;
	u64 mv_evictions, mv_cancelled, mv_pool;
};

/* What a child measured: in shared memory, read by the parent. */
struct result {
	int done;			/* 1: the child finished its run */
	int failed;
	char msg[256];
	u64 pages;			/* accesses measured */
	u64 guest_ns;			/* vCPU run time of the measured steps */
	u64 wall_ns;			/* wall time of the measured passes */
	u64 fill_ns, warm_ns;
	u64 bad_pages, first_bad;	/* the final check */
	u64 vm_id;
	u64 kernel_bytes;		/* cgroup: charged besides anon after vm_create */
	struct snap s0, s1, s2;		/* before fill, measured passes begin, end */
	u64 n;				/* records in lat[] and where[] */
	float *lat;			/* ns per access */
	u8 *where;
};

struct bench {
	u64 wss, limit;			/* bytes */
	u64 chunk;			/* pages */
	int passes, warmup;
	unsigned int timeout_s;
	const char *dir;
	bool want[NR_SYS];
	bool avail[NR_SYS];
	char why[NR_SYS][512];		/* why a system is unavailable */
	bool ran[NR_SYS];
	u64 steps;			/* per pass */
	u32 *seq;			/* chunk of each step, all passes */
	char disk_stat[128];		/* /sys/dev/block/M:m/stat */
	char disk_inflight[128];
	struct swapfile swap;
	char zswap_saved[5][64];
	bool zswap_touched;
	char zswap_compressor[64], zswap_zpool[64];
	char mvfs_path[256];
	bool mvfs_mounted;
	struct result *res[NR_SYS];
};

/* ---- the content (lib/bench.c) ---- */

/* The content of working-set page @idx into @page (4 KiB). */
static void gen_page(void *page, u64 idx)
{
	content_page(page, idx, SEED_CONTENT, 0);
}

/* ---- the access sequence ---- */

static u64 ws_pages(const struct bench *b)
{
	return b->wss / PAGE;
}

static u64 nr_chunks(const struct bench *b)
{
	return ws_pages(b) / b->chunk;
}

static u64 guest_size(const struct bench *b)
{
	return WS_GPA + b->wss;		/* both multiples of 2 MiB */
}

/* The chunk of each step of every pass (warm-up included): seeded. */
static int make_sequence(struct bench *b)
{
	u64 n = nr_chunks(b), nhot = 0, total, i, r;
	u32 *hot = malloc(n * sizeof(*hot));

	b->steps = n;
	total = (u64)(b->warmup + b->passes) * n;
	b->seq = malloc(total * sizeof(*b->seq));
	if (!hot || !b->seq) {
		free(hot);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (mix(i ^ SEED_HOT) % 100 < HOT_PCT)
			hot[nhot++] = i;
	if (!nhot)
		hot[nhot++] = 0;
	for (i = 0; i < total; i++) {
		r = mix(i * 0x9e3779b97f4a7c15ULL ^ SEED_STEPS);
		b->seq[i] = r % 100 < HOT_STEPS_PCT ? hot[(r >> 8) % nhot] :
			    (r >> 8) % n;
	}
	free(hot);
	return 0;
}

/* ---- disk, cgroup, zswap, memvirt state ---- */

/* sync, then wait until the swap disk has no request in flight. */
static void disk_settle(const struct bench *b)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	unsigned long long r, w;
	char buf[128];
	u64 t0 = vmm_now_ns(), v;

	sync();
	while (vmm_now_ns() - t0 < SETTLE_S * 1000000000ULL) {
		bool busy = false;

		if (!read_str(b->disk_inflight, buf, sizeof(buf)) &&
		    sscanf(buf, "%llu %llu", &r, &w) == 2 && (r || w))
			busy = true;
		if (!sysfs_read_u64(MEMVIRT_SWAP, "writeback_inflight", &v) && v)
			busy = true;
		if (!busy)
			return;
		nanosleep(&ts, NULL);
	}
	printf("# the swap disk was still busy after %d s\n", SETTLE_S);
}

static void cgroup_path(char *buf, size_t len, enum sys s, const char *file)
{
	snprintf(buf, len, CGROUP_ROOT "/swap_bench.%s%s%s", sys_names[s],
		 file ? "/" : "", file ? file : "");
}

static void take_snap(const struct bench *b, enum sys s, int fd, struct snap *sn)
{
	char path[256];

	memset(sn, 0, sizeof(*sn));
	disk_read(b->disk_stat, &sn->disk_rd, &sn->disk_wr);
	sn->pswpin = keyed("/proc/vmstat", "pswpin");
	sn->pswpout = keyed("/proc/vmstat", "pswpout");
	if (s == SYS_MEMVIRT) {
		if (fd >= 0)
			memvirt_get_stats(fd, &sn->mv);
		sn->mv_evictions = u64_at(MEMVIRT_SWAP, "evictions");
		sn->mv_cancelled = u64_at(MEMVIRT_SWAP, "writeback_cancelled");
		sn->mv_pool = u64_at(MEMVIRT_SWAP, "pool_bytes");
		return;
	}
	cgroup_path(path, sizeof(path), s, "memory.stat");
	sn->majflt = keyed(path, "pgmajfault");
	sn->zswapped = keyed(path, "zswapped");
	sn->zswap_bytes = keyed(path, "zswap");
	sn->zs_stored = u64_at(ZSWAP_DEBUG, "stored_pages");
	sn->zs_pool = u64_at(ZSWAP_DEBUG, "pool_total_size");
	sn->zs_poor = u64_at(ZSWAP_DEBUG, "reject_compress_poor");
	sn->zs_fail = u64_at(ZSWAP_DEBUG, "reject_alloc_fail");
	sn->zs_same = u64_at(ZSWAP_DEBUG, "same_filled_pages");
	sn->zs_wb = u64_at(ZSWAP_DEBUG, "written_back_pages");
}

/* ---- the child: one system's run ---- */

static void fail(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	r->failed = 1;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
}

static int set_limit(int fd, u64 limit)
{
	struct memvirt_policy p = { .size = sizeof(p) };

	p.flags = MEMVIRT_POLICY_LIMIT;
	p.limit_bytes = limit;
	return ioctl(fd, MEMVIRT_IOC_SET_POLICY, &p) ? -errno : 0;
}

/* Where each page of [@idx, @idx + @n) of the working set is now. */
static int where_now(struct vm *vm, int fd, u64 idx, u64 n, u8 *w)
{
	unsigned char vec[MAX_CHUNK];
	u8 st[MAX_CHUNK];
	u64 i;
	int err;

	if (fd >= 0) {
		err = memvirt_query_range(fd, WS_GFN + idx, n, st);
		if (err)
			return err;
		for (i = 0; i < n; i++) {
			switch (st[i] & MEMVIRT_GFN_STATE_MASK) {
			case MEMVIRT_GFN_PRIVATE:
			case MEMVIRT_GFN_SHARED:
				w[i] = W_MEM;
				break;
			case MEMVIRT_GFN_COMPRESSED:
				w[i] = W_COMPRESSED;
				break;
			case MEMVIRT_GFN_SWAPPED:
				w[i] = W_SWAPPED;
				break;
			default:
				w[i] = W_OTHER;
			}
		}
		return 0;
	}
	if (mincore(vm_hva(vm, WS_GPA + idx * PAGE), n * PAGE, vec))
		return -errno;
	for (i = 0; i < n; i++)
		w[i] = vec[i] & 1 ? W_MEM : W_SWAPPED;
	return 0;
}

/* One step: chunk @c; records its accesses at @r->lat/where + @at if @at. */
static int step(struct bench *b, struct result *r, struct vm *vm, int fd,
		u64 c, u64 *at)
{
	const u64 *rec = vm_hva(vm, REC_GPA);
	u64 khz = vm_tsc_khz(vm), i, start = WS_GPA + c * b->chunk * PAGE;
	u8 w[MAX_CHUNK];
	int err;

	if (at) {
		err = where_now(vm, fd, c * b->chunk, b->chunk, w);
		if (err) {
			fail(r, "%s: %s", fd >= 0 ? "MEMVIRT_IOC_QUERY_RANGE" : "mincore",
			     strerror(-err));
			return err;
		}
	}
	if (vm_run_one(vm, 0, VMM_PROG_TOUCH_TIMED, start, start + b->chunk * PAGE,
		       REC_GPA, RUN_TIMEOUT)) {
		fail(r, "chunk %llu: %s", c, vcpu_result(vm, 0)->msg);
		return -EIO;
	}
	if (!at)
		return 0;
	r->guest_ns += vcpu_result(vm, 0)->wall_ns;
	for (i = 0; i < b->chunk; i++) {
		r->lat[*at] = khz ? rec[i] * 1e6 / khz : 0;
		r->where[*at] = w[i];
		(*at)++;
	}
	r->pages += b->chunk;
	return 0;
}

/* The host reads the working set back: pages that differ from the content. */
static void check_content(struct bench *b, struct result *r, struct vm *vm)
{
	static u8 want[PAGE];
	u64 i;

	r->first_bad = ~0ULL;
	for (i = 0; i < ws_pages(b); i++) {
		const u8 *p = vm_hva(vm, WS_GPA + i * PAGE);

		gen_page(want, i);
		if (memcmp(p + 1, want + 1, PAGE - 1) || (p[0] != want[0] && p[0] != 1)) {
			if (!r->bad_pages++)
				r->first_bad = i;
		}
	}
}

/* What the cgroup is charged for besides anonymous memory, in bytes. */
static u64 cgroup_non_anon(enum sys s)
{
	char path[256], buf[64];
	u64 cur, anon;

	cgroup_path(path, sizeof(path), s, "memory.current");
	if (read_str(path, buf, sizeof(buf)))
		return 0;
	cur = strtoull(buf, NULL, 10);
	cgroup_path(path, sizeof(path), s, "memory.stat");
	anon = keyed(path, "anon");
	return cur > anon ? cur - anon : 0;
}

static int join_cgroup(enum sys s)
{
	char path[256], pid[32];

	cgroup_path(path, sizeof(path), s, "cgroup.procs");
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	return write_str(path, pid);
}

static void child(struct bench *b, enum sys s)
{
	struct result *r = b->res[s];
	struct memvirt_stats st;
	struct vm *vm = NULL;
	u64 i, t0, at = 0, total;
	int fd = -1, err;

	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		printf("# %s: PR_SET_THP_DISABLE: %s\n", sys_names[s], strerror(errno));
	if (s == SYS_MEMVIRT) {
		fd = open(b->mvfs_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			fail(r, "open(%s): %s", b->mvfs_path, strerror(errno));
			goto out;
		}
		if (ftruncate(fd, guest_size(b))) {
			fail(r, "ftruncate(%s, %llu): %s", b->mvfs_path, guest_size(b),
			     strerror(errno));
			goto out;
		}
		err = memvirt_get_stats(fd, &st);
		if (err) {
			fail(r, "MEMVIRT_IOC_GET_STATS: %s", strerror(-err));
			goto out;
		}
		r->vm_id = st.vm_id;
		if (st.size < MEMVIRT_STATS_SIZE_VER3 || !st.swap_file_pages) {
			fail(r, "the VM has no swap file (stats size %u, swap_file_pages %llu)",
			     st.size, st.swap_file_pages);
			goto out;
		}
		err = set_limit(fd, b->limit);
		if (err) {
			fail(r, "MEMVIRT_IOC_SET_POLICY limit_bytes=%llu: %s", b->limit,
			     strerror(-err));
			goto out;
		}
	} else {
		err = join_cgroup(s);
		if (err) {
			fail(r, "joining the memory cgroup: %s", strerror(-err));
			goto out;
		}
	}
	take_snap(b, s, fd, &r->s0);
	vm = vm_create(fd, guest_size(b), 1);
	if (!vm) {
		fail(r, "vm_create failed");
		goto out;
	}
	if (s != SYS_MEMVIRT)
		r->kernel_bytes = cgroup_non_anon(s);
	/* The fill: every working-set page once, through the host mapping. */
	t0 = vmm_now_ns();
	for (i = 0; i < ws_pages(b); i++)
		gen_page(vm_hva(vm, WS_GPA + i * PAGE), i);
	r->fill_ns = vmm_now_ns() - t0;
	printf("# %s: filled %llu MiB in %.1f s\n", sys_names[s], b->wss / MIB,
	       r->fill_ns / 1e9);
	/* Records page and vCPU warm: one untimed page. */
	memset(vm_hva(vm, REC_GPA), 0, PAGE);
	if (vm_run_one(vm, 0, VMM_PROG_TOUCH_TIMED, WARM_GPA, WARM_GPA + PAGE, REC_GPA,
		       RUN_TIMEOUT)) {
		fail(r, "warming the vCPU: %s", vcpu_result(vm, 0)->msg);
		goto out;
	}
	t0 = vmm_now_ns();
	for (i = 0; i < (u64)b->warmup * b->steps; i++)
		if (step(b, r, vm, fd, b->seq[i], NULL))
			goto out;
	r->warm_ns = vmm_now_ns() - t0;
	printf("# %s: warm-up in %.1f s\n", sys_names[s], r->warm_ns / 1e9);
	take_snap(b, s, fd, &r->s1);
	t0 = vmm_now_ns();
	total = (u64)(b->warmup + b->passes) * b->steps;
	for (; i < total; i++)
		if (step(b, r, vm, fd, b->seq[i], &at))
			goto out;
	r->wall_ns = vmm_now_ns() - t0;
	r->n = at;
	disk_settle(b);
	take_snap(b, s, fd, &r->s2);
	check_content(b, r, vm);
	if (r->bad_pages)
		fail(r, "%llu of %llu pages read back wrong, the first at working-set page %llu (gfn 0x%llx)",
		     r->bad_pages, ws_pages(b), r->first_bad, WS_GFN + r->first_bad);
	r->done = 1;
out:
	r->n = at;
	vm_destroy(vm);
	if (fd >= 0) {
		close(fd);
		unlink(b->mvfs_path);
	}
	exit(r->failed ? 1 : 0);
}

/* ---- the parent: set up, run a child, tear down ---- */

static const char *const zswap_knobs[5] = {
	"enabled", "compressor", "zpool", "max_pool_percent", "same_filled_pages_enabled",
};

static void zswap_knob_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, ZSWAP_PARAMS "/%s", name);
}

static void zswap_save(struct bench *b)
{
	char path[256];
	int k;

	for (k = 0; k < 5; k++) {
		zswap_knob_path(path, sizeof(path), zswap_knobs[k]);
		if (read_str(path, b->zswap_saved[k], sizeof(b->zswap_saved[k])))
			b->zswap_saved[k][0] = '\0';
	}
	b->zswap_touched = true;
}

static void zswap_restore(struct bench *b)
{
	char path[256];
	int k;

	if (!b->zswap_touched)
		return;
	/* off first, the other knobs, then enabled as it was */
	write_str(ZSWAP_PARAMS "/enabled", "N");
	for (k = 4; k >= 0; k--) {
		if (!b->zswap_saved[k][0])
			continue;
		zswap_knob_path(path, sizeof(path), zswap_knobs[k]);
		write_str(path, b->zswap_saved[k]);
	}
}

/* zswap on, lz4 and zsmalloc if the kernel has them; what it got in @b. */
static int zswap_on(struct bench *b)
{
	char t[2][32];
	int err;

	if (write_str(ZSWAP_PARAMS "/compressor", "lz4"))
		printf("# zswap: compressor lz4 unavailable (%s), keeping %s\n",
		       strerror(errno), b->zswap_saved[1]);
	if (write_str(ZSWAP_PARAMS "/zpool", "zsmalloc"))
		printf("# zswap: zpool zsmalloc unavailable (%s), keeping %s\n",
		       strerror(errno), b->zswap_saved[2]);
	write_str(ZSWAP_PARAMS "/same_filled_pages_enabled", "Y");
	err = write_str(ZSWAP_PARAMS "/enabled", "Y");
	if (err)
		return err;
	read_str(ZSWAP_PARAMS "/compressor", b->zswap_compressor,
		 sizeof(b->zswap_compressor));
	read_str(ZSWAP_PARAMS "/zpool", b->zswap_zpool, sizeof(b->zswap_zpool));
	printf("# zswap: compressor %s, zpool %s, max_pool_percent %s, same_filled_pages_enabled %s\n",
	       b->zswap_compressor, b->zswap_zpool,
	       text_at(ZSWAP_PARAMS "/max_pool_percent", t[0], sizeof(t[0])),
	       text_at(ZSWAP_PARAMS "/same_filled_pages_enabled", t[1], sizeof(t[1])));
	return 0;
}

static int cgroup_make(struct bench *b, enum sys s)
{
	char path[256], val[32];
	int err;

	cgroup_path(path, sizeof(path), s, NULL);
	rmdir(path);
	if (mkdir(path, 0755))
		return -errno;
	snprintf(val, sizeof(val), "%llu\n", b->limit);
	cgroup_path(path, sizeof(path), s, "memory.max");
	err = write_str(path, val);
	if (err)
		return err;
	cgroup_path(path, sizeof(path), s, "memory.swap.max");
	write_str(path, "max\n");
	return 0;
}

static void cgroup_remove(enum sys s)
{
	char path[256];

	cgroup_path(path, sizeof(path), s, NULL);
	cgroup_rmdir(path);
}

static void cgroup_events(enum sys s)
{
	char path[256];

	cgroup_path(path, sizeof(path), s, "memory.events");
	printf("# %s cgroup events: max=%llu oom=%llu oom_kill=%llu\n", sys_names[s],
	       keyed(path, "max"), keyed(path, "oom"), keyed(path, "oom_kill"));
}

static int setup(struct bench *b, enum sys s)
{
	size_t len;
	int err;

	switch (s) {
	case SYS_SWAP:
	case SYS_ZSWAP:
		if (!b->swap.on) {
			err = swapfile_make(&b->swap, b->dir, SWAPFILE_NAME, 2 * b->wss + PAGE);
			if (err) {
				snprintf(b->why[s], sizeof(b->why[s]),
					 "swap file %s: %s", b->swap.path, strerror(-err));
				return err;
			}
		}
		if (!b->zswap_touched)
			zswap_save(b);
		err = s == SYS_ZSWAP ? zswap_on(b) :
		      write_str(ZSWAP_PARAMS "/enabled", "N");
		if (err && (s == SYS_ZSWAP || access(ZSWAP_PARAMS, F_OK) == 0)) {
			snprintf(b->why[s], sizeof(b->why[s]), "zswap enabled=%s: %s",
				 s == SYS_ZSWAP ? "Y" : "N", strerror(-err));
			return err;
		}
		err = cgroup_make(b, s);
		if (err) {
			snprintf(b->why[s], sizeof(b->why[s]), "memory cgroup: %s",
				 strerror(-err));
			return err;
		}
		return 0;
	case SYS_MEMVIRT:
		err = mvfs_mount(MVFS_DIR, b->dir, b->why[s], sizeof(b->why[s]));
		if (err) {
			len = strlen(b->why[s]);
			if (!strncmp(b->why[s], "mount ", 6))
				snprintf(b->why[s] + len, sizeof(b->why[s]) - len, "%s",
					 err == -ENODEV ? " (memvirt.ko not loaded)" :
					 err == -EINVAL ? " (memvirt without swapdir=)" : "");
			return err;
		}
		b->mvfs_mounted = true;
		snprintf(b->mvfs_path, sizeof(b->mvfs_path), MVFS_DIR "/swap_bench-vm");
		unlink(b->mvfs_path);
		return 0;
	default:
		return -EINVAL;
	}
}

static void teardown(struct bench *b, enum sys s)
{
	if (s == SYS_MEMVIRT) {
		if (b->mvfs_path[0])
			unlink(b->mvfs_path);
		mvfs_unmount(MVFS_DIR, &b->mvfs_mounted);
		return;
	}
	cgroup_events(s);
	cgroup_remove(s);
}

/* Wait for @pid at most @timeout_s seconds; kill it past that. */
static int wait_child(pid_t pid, unsigned int timeout_s, bool *timed_out)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	u64 t0 = vmm_now_ns(), kill_t = 0;
	int status;
	pid_t w;

	*timed_out = false;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return status;
		if (w < 0)
			return -1;
		if (!kill_t && vmm_now_ns() - t0 > timeout_s * 1000000000ULL) {
			*timed_out = true;
			kill(pid, SIGKILL);
			kill_t = vmm_now_ns();
		}
		if (kill_t && vmm_now_ns() - kill_t > 30 * 1000000000ULL)
			return -1;	/* unkillable: stuck in the kernel */
		nanosleep(&ts, NULL);
	}
}

static int run_one(struct bench *b, enum sys s)
{
	struct result *r = b->res[s];
	bool timed_out;
	pid_t pid;
	int status;

	printf("# %s: working set %llu MiB, limit %llu MiB\n", sys_names[s],
	       b->wss / MIB, b->limit / MIB);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(r->msg, sizeof(r->msg), "fork: %s", strerror(errno));
		return -EIO;
	}
	if (!pid)
		child(b, s);
	status = wait_child(pid, b->timeout_s, &timed_out);
	b->ran[s] = true;
	if (timed_out) {
		snprintf(r->msg, sizeof(r->msg), "not done after %u s (-t): killed%s",
			 b->timeout_s, status == -1 ? ", and still not gone" : "");
		r->failed = 1;
		r->done = 0;
	} else if (status == -1 || !WIFEXITED(status)) {
		if (!r->msg[0] || !r->failed)
			snprintf(r->msg, sizeof(r->msg), "child %s %d",
				 status != -1 && WIFSIGNALED(status) ? "killed by signal" :
				 "ended with status",
				 status != -1 && WIFSIGNALED(status) ? WTERMSIG(status) :
				 status);
		r->failed = 1;
		r->done = 0;
	}
	if (r->failed)
		printf("# %s failed: %s\n", sys_names[s], r->msg);
	return r->failed ? -EIO : 0;
}

/* ---- figures ---- */

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* Percentile @pct (0..100) in us of the accesses whose where is in @mask. */
static double pct_us(const struct result *r, unsigned int mask, double pct, u64 *count)
{
	float *v = malloc((r->n ? r->n : 1) * sizeof(*v));
	u64 i, k = 0;
	double ret = -1;

	if (!v)
		return -1;
	for (i = 0; i < r->n; i++)
		if (mask & (1U << r->where[i]))
			v[k++] = r->lat[i];
	if (k) {
		qsort(v, k, sizeof(*v), cmp_float);
		ret = v[(u64)((k - 1) * pct / 100.0 + 0.5)] / 1000.0;
	}
	free(v);
	if (count)
		*count = k;
	return ret;
}

/* Sum in seconds and mean in us of the accesses whose where is in @mask. */
static double sum_s(const struct result *r, unsigned int mask, u64 *count)
{
	double sum = 0;
	u64 i, k = 0;

	for (i = 0; i < r->n; i++)
		if (mask & (1U << r->where[i])) {
			sum += r->lat[i];
			k++;
		}
	if (count)
		*count = k;
	return sum / 1e9;
}

#define M_ALL		((1U << NR_WHERE) - 1)
#define M_MEM		(1U << W_MEM)
#define M_SWAPIN	((1U << W_COMPRESSED) | (1U << W_SWAPPED))
#define M_COMPRESSED	(1U << W_COMPRESSED)
#define M_SWAPPED	(1U << W_SWAPPED)

static bool have(const struct bench *b, enum sys s)
{
	return b->ran[s] && b->res[s]->done;
}

/*
 * Throughput: accesses per second of the guest's time in them (the sum of
 * the timed stores); with @run, per second of the vCPU's run time instead,
 * which also counts the test VMM's cost of each step.
 */
static double pages_s(const struct bench *b, enum sys s, bool run)
{
	const struct result *r = b->res[s];
	double t;

	if (!have(b, s))
		return -1;
	t = run ? r->guest_ns / 1e9 : sum_s(r, M_ALL, NULL);
	return t > 0 ? r->pages / t : -1;
}

static double disk_mib(const struct bench *b, enum sys s, bool write)
{
	const struct result *r = b->res[s];

	if (!have(b, s))
		return -1;
	return (write ? r->s2.disk_wr - r->s1.disk_wr : r->s2.disk_rd - r->s1.disk_rd) *
	       512.0 / MIB;
}

static double swapin_us(const struct bench *b, enum sys s, double pct)
{
	return have(b, s) ? pct_us(b->res[s], M_SWAPIN, pct, NULL) : -1;
}

static void print_counters(const struct bench *b, enum sys s)
{
	const struct result *r = b->res[s];
	const struct snap *a = &r->s1, *e = &r->s2, *z = &r->s0;
	u64 k = 0;

	if (!b->ran[s])
		return;
	printf("# %s: fill %.1f s, warm-up %.1f s, measured passes %.1f s (vCPU run %.1f s, %.1f ms per step besides the timed stores), %llu accesses\n",
	       sys_names[s], r->fill_ns / 1e9, r->warm_ns / 1e9, r->wall_ns / 1e9,
	       r->guest_ns / 1e9, r->pages ? (r->guest_ns / 1e9 - sum_s(r, M_ALL, NULL)) *
	       1e3 * b->chunk / r->pages : 0.0, r->pages);
	printf("# %s: timed accesses sum to %.1f s: %.1f s in memory, %.1f s from compressed, %.1f s from swapped\n",
	       sys_names[s], sum_s(r, M_ALL, NULL), sum_s(r, M_MEM, NULL),
	       sum_s(r, M_COMPRESSED, NULL), sum_s(r, M_SWAPPED, NULL));
	printf("# %s: disk over the whole run: %.1f MiB written, %.1f MiB read\n",
	       sys_names[s], (e->disk_wr - z->disk_wr) * 512.0 / MIB,
	       (e->disk_rd - z->disk_rd) * 512.0 / MIB);
	if (s == SYS_MEMVIRT) {
		printf("# memvirt vm %llu at the end: resident=%llu compressed=%llu compressed_bytes=%llu swapped=%llu zero=%llu swap_file_pages=%llu\n",
		       r->vm_id, e->mv.resident, e->mv.compressed, e->mv.compressed_bytes,
		       e->mv.swapped, e->mv.zero, e->mv.swap_file_pages);
		printf("# memvirt: faults besides the swap-ins (refaults of pages in memory, the test VMM's pages included): %lld\n",
		       (long long)(e->mv.faults - a->mv.faults) -
		       (long long)(pct_us(r, M_SWAPIN, 50, &k) >= -1 ? k : 0));
		printf("# memvirt measured passes: swap_outs=%llu swap_ins=%llu compress_rejects=%llu swap_errors=%llu faults=%llu reclaimed=%llu pinned_skips=%llu evictions=%llu writeback_cancelled=%llu\n",
		       e->mv.swap_outs - a->mv.swap_outs, e->mv.swap_ins - a->mv.swap_ins,
		       e->mv.compress_rejects - a->mv.compress_rejects,
		       e->mv.swap_errors - a->mv.swap_errors, e->mv.faults - a->mv.faults,
		       e->mv.reclaimed - a->mv.reclaimed,
		       e->mv.pinned_skips - a->mv.pinned_skips,
		       e->mv_evictions - a->mv_evictions, e->mv_cancelled - a->mv_cancelled);
		if (e->mv.compressed)
			printf("# memvirt compression: %.2f x (%llu pages in %llu bytes), pool_bytes=%llu\n",
			       (double)e->mv.compressed * PAGE / (e->mv.compressed_bytes ?
								  e->mv.compressed_bytes : 1),
			       e->mv.compressed, e->mv.compressed_bytes, e->mv_pool);
		return;
	}
	printf("# %s cgroup: memory.max=%llu, charged besides anon after vm_create %llu KiB; measured passes: pswpin=%llu pswpout=%llu pgmajfault=%llu\n",
	       sys_names[s], b->limit, r->kernel_bytes / 1024, e->pswpin - a->pswpin,
	       e->pswpout - a->pswpout, e->majflt - a->majflt);
	if (s == SYS_ZSWAP)
		printf("# zswap (%s, %s) at the end: stored_pages=%llu pool_total_size=%llu (%.2f x) cgroup zswapped=%llu zswap=%llu; measured passes: reject_compress_poor=%llu reject_alloc_fail=%llu written_back_pages=%llu same_filled_pages=%llu\n",
		       b->zswap_compressor, b->zswap_zpool, e->zs_stored, e->zs_pool,
		       e->zs_pool ? (double)e->zs_stored * PAGE / e->zs_pool : 0.0,
		       e->zswapped, e->zswap_bytes, e->zs_poor - a->zs_poor,
		       e->zs_fail - a->zs_fail, e->zs_wb - a->zs_wb, e->zs_same);
}

static void row(const char *name, const double v[NR_SYS], const char *f, bool quot)
{
	printf("%-26s", name);
	cell(v[SYS_MEMVIRT], f, 12);
	cell(v[SYS_SWAP], f, 12);
	cell(v[SYS_ZSWAP], f, 12);
	if (quot) {
		cell(v[SYS_MEMVIRT] >= 0 && v[SYS_SWAP] > 0 ? v[SYS_MEMVIRT] / v[SYS_SWAP] : -1,
		     "%.2f", 15);
		cell(v[SYS_MEMVIRT] >= 0 && v[SYS_ZSWAP] > 0 ?
		     v[SYS_MEMVIRT] / v[SYS_ZSWAP] : -1, "%.2f", 15);
	}
	printf("\n");
}

static void pct_row(const struct bench *b, const char *name, unsigned int mask,
		    double pct, bool quot)
{
	double v[NR_SYS];
	int s;

	for (s = 0; s < NR_SYS; s++)
		v[s] = have(b, s) ? pct_us(b->res[s], mask, pct, NULL) : -1;
	row(name, v, "%.1f", quot);
}

static void mean_row(const struct bench *b, const char *name, unsigned int mask,
		     bool quot)
{
	double v[NR_SYS], sum;
	u64 k;
	int s;

	for (s = 0; s < NR_SYS; s++) {
		v[s] = -1;
		if (!have(b, s))
			continue;
		sum = sum_s(b->res[s], mask, &k);
		if (k)
			v[s] = sum * 1e6 / k;
	}
	row(name, v, "%.1f", quot);
}

static void count_row(const struct bench *b, const char *name, unsigned int mask)
{
	double v[NR_SYS];
	u64 k;
	int s;

	for (s = 0; s < NR_SYS; s++) {
		v[s] = -1;
		if (have(b, s) && pct_us(b->res[s], mask, 50, &k) >= -1)
			v[s] = k;
	}
	row(name, v, "%.0f", false);
}

static void print_table(const struct bench *b)
{
	double v[NR_SYS];
	int s;

	printf("swap_bench: working set %llu MiB, limit %llu MiB, %llu-page steps (%d%% in a hot %d%%), %d measured passes after %d warm-up; content %d%% %s, %d%% %s, %d%% %s, %d%% %s\n",
	       b->wss / MIB, b->limit / MIB, b->chunk, HOT_STEPS_PCT, HOT_PCT, b->passes,
	       b->warmup, content_pct[CONTENT_SPARSE], content_names[CONTENT_SPARSE],
	       content_pct[CONTENT_TEXT], content_names[CONTENT_TEXT],
	       content_pct[CONTENT_RECORDS], content_names[CONTENT_RECORDS],
	       content_pct[CONTENT_RANDOM], content_names[CONTENT_RANDOM]);
	printf("%-26s%12s%12s%12s%15s%15s\n", "", "memvirt", "swap", "zswap",
	       "memvirt/swap", "memvirt/zswap");
	for (s = 0; s < NR_SYS; s++)
		v[s] = pages_s(b, s, false);
	row("pages touched per s", v, "%.0f", true);
	for (s = 0; s < NR_SYS; s++)
		v[s] = pages_s(b, s, true);
	row("  per s of vCPU run", v, "%.0f", true);
	pct_row(b, "access p50 us", M_ALL, 50, true);
	pct_row(b, "access p99 us", M_ALL, 99, true);
	pct_row(b, "swap-in p50 us", M_SWAPIN, 50, true);
	pct_row(b, "swap-in p99 us", M_SWAPIN, 99, true);
	mean_row(b, "swap-in mean us", M_SWAPIN, true);
	count_row(b, "  swap-ins", M_SWAPIN);
	pct_row(b, "  from compressed p50 us", M_COMPRESSED, 50, false);
	pct_row(b, "  from compressed p99 us", M_COMPRESSED, 99, false);
	count_row(b, "  from compressed", M_COMPRESSED);
	pct_row(b, "  from swapped p50 us", M_SWAPPED, 50, false);
	pct_row(b, "  from swapped p99 us", M_SWAPPED, 99, false);
	pct_row(b, "in memory p50 us", M_MEM, 50, true);
	pct_row(b, "in memory p99 us", M_MEM, 99, true);
	mean_row(b, "in memory mean us", M_MEM, true);
	count_row(b, "  in memory", M_MEM);
	for (s = 0; s < NR_SYS; s++)
		v[s] = disk_mib(b, s, true);
	row("disk MiB written", v, "%.1f", true);
	for (s = 0; s < NR_SYS; s++)
		v[s] = disk_mib(b, s, false);
	row("disk MiB read", v, "%.1f", true);
}

static void print_machine(const struct bench *b)
{
	const struct result *m = b->res[SYS_MEMVIRT];
	double mp = pages_s(b, SYS_MEMVIRT, false), sp = pages_s(b, SYS_SWAP, false);
	double zp = pages_s(b, SYS_ZSWAP, false), mr = pages_s(b, SYS_MEMVIRT, true);
	double sr = pages_s(b, SYS_SWAP, true), zr = pages_s(b, SYS_ZSWAP, true);
	bool hm = have(b, SYS_MEMVIRT);
	char v[21][32];

	fmt(v[0], 32, mp, "%.0f");
	fmt(v[1], 32, sp, "%.0f");
	fmt(v[2], 32, zp, "%.0f");
	fmt(v[3], 32, swapin_us(b, SYS_MEMVIRT, 50), "%.1f");
	fmt(v[4], 32, swapin_us(b, SYS_MEMVIRT, 99), "%.1f");
	fmt(v[5], 32, swapin_us(b, SYS_SWAP, 50), "%.1f");
	fmt(v[6], 32, swapin_us(b, SYS_SWAP, 99), "%.1f");
	fmt(v[7], 32, swapin_us(b, SYS_ZSWAP, 50), "%.1f");
	fmt(v[8], 32, swapin_us(b, SYS_ZSWAP, 99), "%.1f");
	fmt(v[9], 32, disk_mib(b, SYS_MEMVIRT, true), "%.1f");
	fmt(v[10], 32, disk_mib(b, SYS_SWAP, true), "%.1f");
	fmt(v[11], 32, disk_mib(b, SYS_ZSWAP, true), "%.1f");
	fmt(v[12], 32, hm ? (double)m->s2.mv.compressed : -1, "%.0f");
	fmt(v[13], 32, hm ? (double)m->s2.mv.swapped : -1, "%.0f");
	fmt(v[14], 32, hm ? (double)(m->s2.mv.swap_ins - m->s1.mv.swap_ins) : -1, "%.0f");
	fmt(v[15], 32, hm ? (double)(m->s2.mv.compress_rejects - m->s1.mv.compress_rejects) :
	    -1, "%.0f");
	fmt(v[16], 32, mp >= 0 && zp > 0 ? mp / zp : -1, "%.2f");
	fmt(v[17], 32, mp >= 0 && sp > 0 ? mp / sp : -1, "%.2f");
	fmt(v[18], 32, mr, "%.0f");
	fmt(v[19], 32, sr, "%.0f");
	fmt(v[20], 32, zr, "%.0f");
	printf("bench: swap wss_mib=%llu limit_mib=%llu memvirt_pages_s=%s swap_pages_s=%s zswap_pages_s=%s memvirt_swapin_p50_us=%s memvirt_swapin_p99_us=%s swap_swapin_p50_us=%s swap_swapin_p99_us=%s zswap_swapin_p50_us=%s zswap_swapin_p99_us=%s memvirt_disk_write_mib=%s swap_disk_write_mib=%s zswap_disk_write_mib=%s compressed=%s swapped=%s swap_ins=%s compress_rejects=%s memvirt_run_pages_s=%s swap_run_pages_s=%s zswap_run_pages_s=%s zswap_ratio=%s ratio=%s\n",
	       b->wss / MIB, b->limit / MIB, v[0], v[1], v[2], v[3], v[4], v[5], v[6],
	       v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[18], v[19],
	       v[20], v[16], v[17]);
}

/* ---- setup ---- */

/* What can be measured: 0, or -ENODEV with the reason printed. */
static int probe(struct bench *b)
{
	char buf[256], t[3][32];
	dev_t dev;
	int s;

	if (probe_swap_disk("swap_bench", b->dir, &dev))
		return -ENODEV;
	snprintf(b->disk_stat, sizeof(b->disk_stat), "/sys/dev/block/%u:%u/stat",
		 major(dev), minor(dev));
	snprintf(b->disk_inflight, sizeof(b->disk_inflight), "/sys/dev/block/%u:%u/inflight",
		 major(dev), minor(dev));
	if (read_str(b->disk_stat, buf, sizeof(buf))) {
		printf("swap_bench: %s (the disk of %s): %s\n", b->disk_stat, b->dir,
		       strerror(errno));
		return -ENODEV;
	}
	for (s = 0; s < NR_SYS; s++)
		b->avail[s] = b->want[s];
	if (!cgroup_memory_on()) {
		for (s = SYS_SWAP; s <= SYS_ZSWAP; s++)
			snprintf(b->why[s], sizeof(b->why[s]),
				 "no cgroup2 memory controller at " CGROUP_ROOT);
		b->avail[SYS_SWAP] = b->avail[SYS_ZSWAP] = false;
	}
	if (access(ZSWAP_PARAMS "/enabled", W_OK)) {
		snprintf(b->why[SYS_ZSWAP], sizeof(b->why[SYS_ZSWAP]),
			 ZSWAP_PARAMS "/enabled: %s (no zswap)", strerror(errno));
		b->avail[SYS_ZSWAP] = false;
	}
	if (access(MEMVIRT_SWAP, F_OK)) {
		snprintf(b->why[SYS_MEMVIRT], sizeof(b->why[SYS_MEMVIRT]),
			 MEMVIRT_SWAP ": %s (memvirt without compression and swap, or not loaded)",
			 strerror(errno));
		b->avail[SYS_MEMVIRT] = false;
	}
	for (s = 0; s < NR_SYS; s++)
		if (b->want[s] && !b->avail[s])
			printf("# %s unavailable: %s\n", sys_names[s], b->why[s]);
	note_other_swaps();
	printf("# swap disk: %s (%s); readahead: page-cluster %s, vma_ra_enabled %s, memvirt swapin_readahead %s\n",
	       b->dir, b->disk_stat, text_at("/proc/sys/vm/page-cluster", t[0], sizeof(t[0])),
	       text_at("/sys/kernel/mm/swap/vma_ra_enabled", t[1], sizeof(t[1])),
	       text_at(MEMVIRT_SWAP "/swapin_readahead", t[2], sizeof(t[2])));
	return 0;
}

static int run(struct bench *b)
{
	static const enum sys order[NR_SYS] = { SYS_SWAP, SYS_ZSWAP, SYS_MEMVIRT };
	int i, err = 0;
	enum sys s;

	for (i = 0; i < NR_SYS; i++) {
		s = order[i];
		if (!b->avail[s])
			continue;
		if (setup(b, s)) {
			printf("# %s unavailable: %s\n", sys_names[s], b->why[s]);
			b->avail[s] = false;
			err = -EIO;
			teardown(b, s);
			continue;
		}
		if (run_one(b, s))
			err = -EIO;
		teardown(b, s);
		print_counters(b, s);
		if (s == SYS_ZSWAP || (s == SYS_SWAP && !b->avail[SYS_ZSWAP]))
			swapfile_remove(&b->swap);
	}
	swapfile_remove(&b->swap);
	zswap_restore(b);
	return err;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-w MiB] [-l MiB] [-c pages] [-p passes] [-u passes] [-t s] [-d dir] [-s systems]\n"
		"  -w  working set (default %d MiB, at most %d, a multiple of 2)\n"
		"  -l  resident limit (default half the working set)\n"
		"  -c  pages per step, 1..%llu (default %d; divides the working set)\n"
		"  -p  measured passes, 1..%d (default %d)\n"
		"  -u  warm-up passes, 0..%d (default %d)\n"
		"  -t  most seconds per system (default %d)\n"
		"  -d  directory on the swap disk (default %s)\n"
		"  -s  systems to run, comma-separated: memvirt,swap,zswap (default all)\n",
		prog, DEFAULT_WSS, MAX_WSS, MAX_CHUNK, DEFAULT_CHUNK, MAX_PASSES,
		DEFAULT_PASSES, MAX_PASSES, DEFAULT_WARMUP, DEFAULT_TIMEOUT, DEFAULT_DIR);
	exit(2);
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	unsigned long wss = DEFAULT_WSS, limit = 0;
	int opt, s;

	b->chunk = DEFAULT_CHUNK;
	b->passes = DEFAULT_PASSES;
	b->warmup = DEFAULT_WARMUP;
	b->timeout_s = DEFAULT_TIMEOUT;
	b->dir = DEFAULT_DIR;
	for (s = 0; s < NR_SYS; s++)
		b->want[s] = true;
	while ((opt = getopt(argc, argv, "w:l:c:p:u:t:d:s:h")) != -1) {
		switch (opt) {
		case 'w':
			wss = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			limit = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			b->chunk = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			b->passes = atoi(optarg);
			break;
		case 'u':
			b->warmup = atoi(optarg);
			break;
		case 't':
			b->timeout_s = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			b->dir = optarg;
			break;
		case 's':
			if (parse_names(optarg, sys_names, NR_SYS, b->want))
				print_usage(argv[0]);
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (!limit)
		limit = wss / 2;
	if (wss < 4 || wss > MAX_WSS || wss % 2 || !limit || limit >= wss ||
	    !b->chunk || b->chunk > MAX_CHUNK || (wss * MIB / PAGE) % b->chunk ||
	    b->passes < 1 || b->passes > MAX_PASSES || b->warmup < 0 ||
	    b->warmup > MAX_PASSES || !b->timeout_s || optind != argc)
		print_usage(argv[0]);
	b->wss = (u64)wss * MIB;
	b->limit = (u64)limit * MIB;
}

int main(int argc, char **argv)
{
	static struct bench b;
	size_t len;
	u64 n;
	int s, err;
	u8 *mem;

	parse_args(&b, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (make_sequence(&b)) {
		fprintf(stderr, "swap_bench: out of memory\n");
		return 1;
	}
	/*
	 * Results in shared memory, touched here so that the parent (outside
	 * every cgroup of the run) is charged for them, not a child.
	 */
	n = (u64)b.passes * b.steps * b.chunk;
	len = sizeof(struct result) + n * (sizeof(float) + 1);
	len = (len + PAGE - 1) & ~(PAGE - 1);
	for (s = 0; s < NR_SYS; s++) {
		mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			   -1, 0);
		if (mem == MAP_FAILED) {
			fprintf(stderr, "swap_bench: mmap of %zu bytes: %s\n", len,
				strerror(errno));
			return 1;
		}
		memset(mem, 0, len);
		b.res[s] = (struct result *)mem;
		b.res[s]->lat = (float *)(mem + sizeof(struct result));
		b.res[s]->where = mem + sizeof(struct result) + n * sizeof(float);
	}
	if (probe(&b))
		return 1;
	err = run(&b);
	for (s = 0; s < NR_SYS; s++)
		if (b.want[s] && !b.avail[s] && s != SYS_MEMVIRT)
			err = -EIO;	/* a baseline could not be measured */
	print_table(&b);
	print_machine(&b);
	return err ? 1 : 0;
}
