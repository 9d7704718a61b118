// SPDX-License-Identifier: GPL-2.0
/*
 * consolidate_bench.c - consolidation at 1.5x and 2x overcommit: four guests
 * with a realistic mix of memory (an OS image common to all, zero pages,
 * free memory for a balloon, idle data, an active working set), on memvirt
 * against KVM's stock stack (anonymous guest RAM with KSM, the same
 * emulated balloon, host swap under a memory cgroup, without and with
 * zswap), in one run, side by side.
 *
 * Sizes: the host memory for guests is M MiB (-m, default 256); at a
 * ratio of R (1.5 and 2) the four guests have R x M / 4 MiB each (rounded
 * down to 2 MiB). Three configurations per ratio, one after the other, each
 * with four fresh one-vCPU test VMs (selftests/lib), one child process per
 * guest:
 *   memvirt      guest RAM is a file of a private memvirtfs mount with
 *                swapdir= the swap disk (-d, default /mnt/swap); budget_mb
 *                = M, overcommit_ratio at least R + 10 %, the policy with
 *                its defaults, page sharing on (dedup/run=1, defaults),
 *                the four VMs in sharing domain 1; the balloon follows each
 *                VM's balloon_target (MEMVIRT_IOC_BALLOON) and punches
 *                free guest pages (fallocate(PUNCH_HOLE)), as QEMU does for
 *                file-backed RAM;
 *   stock        guest RAM is anonymous memory (MAP_PRIVATE|MAP_ANONYMOUS)
 *                marked MADV_MERGEABLE, KSM on (run=1, its other knobs as
 *                found); the four children in one memory cgroup (cgroup2)
 *                with memory.max = M plus the test VMM's own overhead (as
 *                policy_bench measures it); a swap file on the swap disk;
 *                zswap off; the balloon replays the targets memvirt's
 *                policy set in the memvirt run of the same ratio (same
 *                guest, same time since the start) with MADV_DONTNEED on
 *                free guest pages, as QEMU does for anonymous RAM;
 *   stock_zswap  the same with zswap on (lz4 and zsmalloc if the kernel has
 *                them, else its defaults).
 * Transparent huge pages are off (PR_SET_THP_DISABLE): 4 KiB pages for all.
 *
 * Each guest's RAM above the test VMM's first MiB, in this order:
 *   free  25 %  memory the guest used and freed (stale content of
 *               lib/bench.c's mix): it tells the balloon it may take it;
 *               never read again, not verified;
 *   os    30 %  the OS image: the same bytes at the same guest-physical
 *               pages in every guest (lib/bench.c's mix, one key for all
 *               guests); its first third is "hot" (kernel text,
 *               libraries): read every pass;
 *   zero  10 %  pages the guest zeroed;
 *   idle  20 %  data the guest holds but does not use (the mix of
 *               lib/bench.c: sparse, text, records, random; 2.1x with
 *               LZ4), unique per guest;
 *   hot   15 %  the active working set, unique per guest: rewritten every
 *               pass with VMM_PROG_MIX_CHURN contents (a quarter zero, a
 *               quarter compressible, half incompressible), guest i
 *               numbering its passes from i * 4096 + 1.
 *
 * The run: the four guests start together (t = 0): each fills its RAM
 * through the host mapping (free, os, zero, idle, and hot's first content,
 * in that order; the balloon may take free pages once free is written),
 * then makes K passes (-k, default 16); a pass is VMM_PROG_MIX_CHURN over
 * the hot set in batches of C pages (-c, default 256), each batch checking
 * every word the previous pass wrote and writing the next, then
 * VMM_PROG_READ_ZERO over the hot part of os (reads every word). At the
 * end one pass over the rest: READ_ZERO over all of os, zero (must be all
 * zero) and idle. The completion time is from t = 0 to the last guest's
 * end of that pass. Then (untimed) the host compares every byte of os and
 * idle with their content. Any mismatch, guest failure or timeout fails
 * the bench (exit 1, no "bench:" line). "#" lines also say, per run, from
 * which regions reclaim took pages (mean MiB out of memory).
 *
 * Figures per configuration and ratio:
 *   completion s   as above; fill s: the slowest guest's fill;
 *   memory saved   mean over one-second samples from t = 0 to completion,
 *                  MiB: balloon (pages the balloon holds), shared (memvirt
 *                  dedup/saved; stock KSM pages_sharing, which includes
 *                  zero pages merged), zero (memvirt: gfns of the VMs that
 *                  hold nothing, less never-touched and ballooned ones),
 *                  compressed (memvirt: swap/compressed less the pool's
 *                  pages; stock: cgroup zswapped less zswap bytes), swapped
 *                  (memvirt swap/swapped; stock: memory.swap.current less
 *                  zswapped);
 *   reclaim cpu s  CPU time (schedstat) from t = 0 to completion of the
 *                  threads memvirt_*, kswapd*, ksmd, and separately all
 *                  kworkers (memvirt's compression and swap work, the swap
 *                  disk's I/O and everything else kworkers do);
 *   mem stall s    guests' time blocked on memory: memvirt policy/
 *                  low_wait_ns (faults that reclaimed first); stock: the
 *                  cgroup's memory.pressure "some" total (PSI: direct
 *                  reclaim, swap-in and refault waits of its tasks);
 *   stall p50/p99  of the wall time of each MIX_CHURN batch of every guest
 *                  around its vCPU run (vm_run_one(): thread start, KVM_RUN
 *                  to the end), in ms: what a guest sees of faults,
 *                  swap-ins and CPU taken by reclaim.
 *
 * Output: "#" lines while it runs, a table, ASCII bars, one "csv:" header
 * and one "csv:" line per configuration and ratio, and finally:
 *   bench: consolidate memvirt_1_5x_s=X stock_1_5x_s=X
 *          stock_zswap_1_5x_s=X memvirt_2x_s=X stock_2x_s=X
 *          stock_zswap_2x_s=X memvirt_stall_p99_ms=X
 *          stock_stall_p99_ms=X ratio=R
 * with R = the better (lower) of stock and stock_zswap's completion at 2x
 * over memvirt's, and stock_stall_p99_ms that configuration's p99.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backing.h"
#include "bench.h"
#include "vmm.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIB		(1ULL << 20)
#define NSEC		1000000000ULL
#define PAGE		VMM_PAGE_SIZE
#define NR_GUESTS	4
#define NR_RATIOS	2
#define DEFAULT_M	256
#define DEFAULT_K	16
#define DEFAULT_C	256
#define DEFAULT_TIMEOUT	600
#define DEFAULT_DIR	"/mnt/swap"
#define RUN_TIMEOUT	180		/* seconds per vCPU run */
#define MAX_TL		512		/* balloon target changes recorded per guest */
#define SAMPLE_MS	1000
#define BALLOON_MS	100
#define SEED_OS		0x05105105ULL
#define SEED_FREE	0xf4eef4eeULL
#define SEED_IDLE	0x1d1e1d1eULL
#define OS_KEY		0xff		/* the os region's content key: every guest's */
#define PASS_STRIDE	4096		/* guest i's passes from i * PASS_STRIDE + 1 */
#define CGROUP		CGROUP_ROOT "/consolidate_bench"
#define MEMVIRT_SYS	"/sys/kernel/memvirt"
#define MEMVIRT_POLICY	MEMVIRT_SYS "/policy"
#define MEMVIRT_DEDUP	MEMVIRT_SYS "/dedup"
#define MEMVIRT_SWAP	MEMVIRT_SYS "/swap"
#define KSM_DIR		"/sys/kernel/mm/ksm"
#define MVFS_DIR	"/run/consolidate_bench"
#define SWAPFILE_NAME	"consolidate_bench.swap"

enum cfg { CFG_MEMVIRT, CFG_STOCK, CFG_ZSWAP, NR_CFG };

static const char *const cfg_names[NR_CFG] = { "memvirt", "stock", "stock_zswap" };
static const unsigned int ratio_pct[NR_RATIOS] = { 150, 200 };
static const char *const ratio_names[NR_RATIOS] = { "1_5x", "2x" };
static const char *const ratio_labels[NR_RATIOS] = { "1.5x", "2x" };

enum region { R_FREE, R_OS, R_ZERO, R_IDLE, R_HOT, NR_REGIONS };

static const int region_pct[NR_REGIONS] = { 25, 30, 10, 20, 15 };

/* Mechanisms of the savings. */
enum mech { M_BALLOON, M_SHARED, M_ZERO, M_COMPRESSED, M_SWAPPED, NR_MECH };

static const char mech_char[NR_MECH] = { 'B', 'S', 'Z', 'C', 'W' };

/* Threads whose CPU time counts as reclaim (classes of struct cpu_snap). */
enum thr { T_MV_POLICY, T_MV_SAMPLE, T_MV_DEDUP, T_MV_SWAPIO, T_MV_OTHER, T_KSWAPD, T_KSMD,
	   T_KWORKER, NR_THR };

static const char *const thr_prefix[NR_THR] = {
	"memvirt_policy", "memvirt_sample", "memvirt_dedup", "memvirt_swapio", "memvirt",
	"kswapd", "ksmd", "kworker",
};

enum phase { PH_SETUP, PH_RUN, PH_VERIFY, PH_ABORT };

struct tl_entry {
	u32 t_ms;
	u32 target;
};

/* One guest: in shared memory, written by its child. */
struct gres {
	int ready, filled, done, verified, failed;
	char msg[256];
	u64 vm_id;
	u64 boot_res;		/* stock: guest RAM pages resident before the fill */
	u64 fill_ns, done_ns;	/* since t0 */
	u32 inflated;		/* pages the balloon holds now */
	u32 zero_pages;		/* memvirt: ZERO gfns outside the free region now */
	u32 filled_upto;	/* regions below this one are filled */
	u64 out_sum[NR_REGIONS];	/* pages out of memory per region, summed over queries */
	u64 nq;			/* queries */
	u32 max_inflated;
	u32 balloon_ok;		/* the free region is filled: the balloon may take it */
	u32 ntl;
	struct tl_entry tl[MAX_TL];	/* memvirt: target changes; stock: to replay */
	u32 nbatch;
	float *batch_ms;	/* into the shared area */
	u64 bad_pages, first_bad;
};

struct shared {
	int phase;
	u64 t0;			/* CLOCK_MONOTONIC ns at the start */
	struct gres g[NR_GUESTS];
};

struct result {
	bool ran, ok;
	char msg[256];
	u64 g_mib;
	double completion_s, fill_s;
	double saved_mib[NR_MECH];	/* means over the samples; < 0: n/a */
	u64 nsamples;
	double cpu_s[NR_THR];
	double mem_stall_s;
	double p50_ms, p99_ms;
	u64 nbatches;
	u32 max_inflated[NR_GUESTS];
	u64 mem_max;
	struct tl_entry tl[NR_GUESTS][MAX_TL];	/* memvirt: what the stock runs replay */
	u32 ntl[NR_GUESTS];
};

struct bench {
	u64 m_mib;
	unsigned int passes, chunk, timeout_s;
	const char *dir;
	bool want[NR_CFG], avail[NR_CFG];
	char why[NR_CFG][512];
	bool want_ratio[NR_RATIOS];
	/* the layout of the ratio being run, in pages from gfn 0 */
	u64 g_mib, g_pages, start[NR_REGIONS], npages[NR_REGIONS], os_hot;
	u32 max_batches;
	struct swapfile swap;
	struct zswap_knobs zswap;
	bool mvfs_mounted;
	char knob_saved[3][32];	/* budget_mb, overcommit_ratio, dedup/run */
	bool knobs_touched;
	char ksm_run_saved[16];
	bool ksm_touched;
	struct shared *sh;
	size_t sh_len;
	struct result res[NR_RATIOS][NR_CFG];
};

static struct shared *g_sh;

/* ---- layout ---- */

static void layout(struct bench *b, int ri)
{
	u64 data, at = VMM_FREE_GFN, n;
	int r;

	b->g_mib = b->m_mib * ratio_pct[ri] / 100 / NR_GUESTS / 2 * 2;
	b->g_pages = b->g_mib * MIB / PAGE;
	data = b->g_pages - VMM_FREE_GFN;
	for (r = 0; r < NR_REGIONS; r++) {
		n = r == R_HOT ? b->g_pages - at : data * region_pct[r] / 100;
		b->start[r] = at;
		b->npages[r] = n;
		at += n;
	}
	b->os_hot = b->npages[R_OS] / 3;
	b->max_batches = b->passes * ((b->npages[R_HOT] + b->chunk - 1) / b->chunk) + 4;
}

static u64 gpa_of(const struct bench *b, int r)
{
	return b->start[r] * PAGE;
}

static u64 hot_base(int guest)
{
	return (u64)guest * PASS_STRIDE + 1;
}

/* ---- the child: one guest ---- */

struct guest {
	struct bench *b;
	enum cfg c;
	int idx;
	struct gres *r;
	struct vm *vm;
	int fd;
	char path[256];
	pthread_t balloon;
	bool balloon_started;
	volatile int stop;
};

static void fail(struct gres *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	__atomic_store_n(&r->failed, 1, __ATOMIC_RELEASE);
}

static int phase_now(void)
{
	return __atomic_load_n(&g_sh->phase, __ATOMIC_ACQUIRE);
}

static u32 now_ms(void)
{
	return (vmm_now_ns() - g_sh->t0) / 1000000;
}

/* Wait for phase @ph; false if the run was aborted or the parent died. */
static bool wait_phase(int ph)
{
	while (phase_now() < ph) {
		if (getppid() == 1)
			return false;
		sleep_ms(10);
	}
	return phase_now() != PH_ABORT;
}

/* Give the free pages [@from, @to) of the free region back to the host. */
static int balloon_give(struct guest *g, u64 from, u64 to)
{
	u64 off = gpa_of(g->b, R_FREE) + from * PAGE, len = (to - from) * PAGE;

	if (g->c == CFG_MEMVIRT)
		return fallocate(g->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) ?
		       -errno : 0;
	return madvise((u8 *)vm_mem(g->vm) + off, len, MADV_DONTNEED) ? -errno : 0;
}

/* The target the stock runs replay: memvirt's at the same time. */
static u32 replay_target(const struct gres *r, u32 t)
{
	u32 k, v = 0;

	for (k = 0; k < r->ntl && r->tl[k].t_ms <= t; k++)
		v = r->tl[k].target;
	return v;
}

/*
 * Where the pages of the filled regions are. memvirt (QUERY_RANGE): ZERO
 * gfns outside the free region (freed as pages of zeroes; never-touched
 * gfns are ABSENT), and per region the COMPRESSED and SWAPPED ones; stock
 * (mincore): per region the pages not resident (swapped or in zswap),
 * ballooned ones left out.
 */
static void query(struct guest *g)
{
	struct bench *b = g->b;
	struct gres *r = g->r;
	u32 upto = __atomic_load_n(&r->filled_upto, __ATOMIC_ACQUIRE), zero = 0;
	u64 end, i, out[NR_REGIONS] = { 0 };
	static u8 *st;
	int rg = R_FREE;
	u8 v;

	if (upto == R_FREE)
		return;
	end = upto >= NR_REGIONS ? b->g_pages : b->start[upto];
	if (!st)
		st = malloc(b->g_pages);
	if (!st)
		return;
	if (g->c == CFG_MEMVIRT ?
	    memvirt_query_range(g->fd, b->start[R_FREE], end - b->start[R_FREE], st) :
	    mincore(vm_hva(g->vm, gpa_of(b, R_FREE)), (end - b->start[R_FREE]) * PAGE, st))
		return;
	for (i = b->start[R_FREE]; i < end; i++) {
		while (rg + 1 < NR_REGIONS && i >= b->start[rg + 1])
			rg++;
		v = st[i - b->start[R_FREE]];
		if (g->c != CFG_MEMVIRT) {
			if (!(v & 1) && (rg != R_FREE || i - b->start[R_FREE] >= r->inflated))
				out[rg]++;
			continue;
		}
		v &= MEMVIRT_GFN_STATE_MASK;
		if (v == MEMVIRT_GFN_ZERO && rg != R_FREE)
			zero++;
		if (v == MEMVIRT_GFN_COMPRESSED || v == MEMVIRT_GFN_SWAPPED)
			out[rg]++;
	}
	r->zero_pages = zero;
	for (rg = 0; rg < NR_REGIONS; rg++)
		r->out_sum[rg] += out[rg];
	r->nq++;
}

/*
 * The emulated balloon driver: follows the target (memvirt: the VM's
 * balloon_target; stock: the replay) with the guest's free pages.
 */
static void *balloon_fn(void *arg)
{
	struct guest *g = arg;
	struct gres *r = g->r;
	u64 nfree = g->b->npages[R_FREE], want, known = 0, next_q = 0;
	u32 target;
	int err;

	while (!g->stop) {
		if (vmm_now_ns() >= next_q) {
			query(g);
			next_q = vmm_now_ns() + SAMPLE_MS * 1000000ULL / 2;
		}
		if (g->c == CFG_MEMVIRT) {
			struct memvirt_balloon mb = {
				.size = sizeof(mb), .flags = MEMVIRT_BALLOON_WAIT,
				.known_pages = known, .timeout_ms = BALLOON_MS,
			};

			if (ioctl(g->fd, MEMVIRT_IOC_BALLOON, &mb)) {
				if (errno == EINTR)
					continue;
				fail(r, "MEMVIRT_IOC_BALLOON: %s", strerror(errno));
				return NULL;
			}
			target = mb.target_pages;
			if (target != known && r->ntl < MAX_TL) {
				r->tl[r->ntl].t_ms = now_ms();
				r->tl[r->ntl].target = target;
				r->ntl++;
			}
			known = target;
		} else {
			sleep_ms(BALLOON_MS);
			target = replay_target(r, now_ms());
		}
		if (!__atomic_load_n(&r->balloon_ok, __ATOMIC_ACQUIRE))
			continue;
		want = target < nfree ? target : nfree;
		if (want > r->inflated) {
			err = balloon_give(g, r->inflated, want);
			if (err) {
				fail(r, "balloon: %s of %llu pages: %s",
				     g->c == CFG_MEMVIRT ? "fallocate(PUNCH_HOLE)" :
				     "madvise(MADV_DONTNEED)", want - r->inflated, strerror(-err));
				return NULL;
			}
		}
		/* deflating gives the guest free pages it does not touch: no work */
		r->inflated = want;
		if (want > r->max_inflated)
			r->max_inflated = want;
	}
	return NULL;
}

/*
 * Run @prog on [@start, @end); unless @data (VMM_PROG_READ_ZERO over data),
 * a mismatch the program reports fails the guest (for READ_ZERO: a word
 * that is not zero).
 */
static int run_prog(struct guest *g, enum vmm_prog prog, u64 start, u64 end, u64 param,
		    const char *what, bool data)
{
	if (vm_run_one(g->vm, 0, prog, start, end, param, RUN_TIMEOUT)) {
		fail(g->r, "%s: %s", what, vcpu_result(g->vm, 0)->msg);
		return -EIO;
	}
	if (!data && vcpu_report(g->vm, 0, VMM_REPORT_MISMATCHES, 0)) {
		fail(g->r, "%s: %llu words differ, the first at gfn 0x%llx word %llu: 0x%llx", what,
		     vcpu_report(g->vm, 0, VMM_REPORT_MISMATCHES, 0),
		     vcpu_report(g->vm, 0, VMM_REPORT_BAD_GFN, 0),
		     vcpu_report(g->vm, 0, VMM_REPORT_BAD_WORD, 0),
		     vcpu_report(g->vm, 0, VMM_REPORT_BAD_VALUE, 0));
		return -EIO;
	}
	return 0;
}

static void gen_page(void *page, int guest, u64 seed, u64 idx)
{
	content_page(page, (u64)guest << 32 | idx, seed, 1);
}

static void filled(struct guest *g, enum region r)
{
	__atomic_store_n(&g->r->filled_upto, r + 1, __ATOMIC_RELEASE);
}

static void fill(struct guest *g)
{
	struct bench *b = g->b;
	u64 i, w, gfn, base = hot_base(g->idx) - 1;
	u64 *p;

	for (i = 0; i < b->npages[R_FREE]; i++)
		gen_page(vm_hva(g->vm, gpa_of(b, R_FREE) + i * PAGE), g->idx, SEED_FREE, i);
	__atomic_store_n(&g->r->balloon_ok, 1, __ATOMIC_RELEASE);
	for (i = 0; i < b->npages[R_OS]; i++)
		gen_page(vm_hva(g->vm, gpa_of(b, R_OS) + i * PAGE), OS_KEY, SEED_OS, i);
	filled(g, R_OS);
	for (i = 0; i < b->npages[R_ZERO]; i++)
		memset(vm_hva(g->vm, gpa_of(b, R_ZERO) + i * PAGE), 0, PAGE);
	filled(g, R_ZERO);
	for (i = 0; i < b->npages[R_IDLE]; i++)
		gen_page(vm_hva(g->vm, gpa_of(b, R_IDLE) + i * PAGE), g->idx, SEED_IDLE, i);
	filled(g, R_IDLE);
	for (i = 0; i < b->npages[R_HOT]; i++) {
		gfn = b->start[R_HOT] + i;
		p = vm_hva(g->vm, gfn * PAGE);
		for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
			p[w] = vmm_mix_word(gfn, w, base);
	}
}

static void work(struct guest *g)
{
	struct bench *b = g->b;
	struct gres *r = g->r;
	u64 k, s, e, t0, hot_end = gpa_of(b, R_HOT) + b->npages[R_HOT] * PAGE;
	char what[64];

	for (k = 0; k < b->passes; k++) {
		for (s = gpa_of(b, R_HOT); s < hot_end; s = e) {
			e = s + (u64)b->chunk * PAGE;
			if (e > hot_end)
				e = hot_end;
			snprintf(what, sizeof(what), "hot pass %llu", k);
			t0 = vmm_now_ns();
			if (run_prog(g, VMM_PROG_MIX_CHURN, s, e,
				     VMM_MIX_PARAM(hot_base(g->idx) + k, 1), what, false))
				return;
			if (r->nbatch < b->max_batches)
				r->batch_ms[r->nbatch++] = (vmm_now_ns() - t0) / 1e6;
		}
		snprintf(what, sizeof(what), "os hot read, pass %llu", k);
		if (run_prog(g, VMM_PROG_READ_ZERO, gpa_of(b, R_OS),
			     gpa_of(b, R_OS) + b->os_hot * PAGE, 0, what, true))
			return;
	}
	/* the pass over the rest */
	if (run_prog(g, VMM_PROG_READ_ZERO, gpa_of(b, R_OS), gpa_of(b, R_ZERO), 0, "os read",
		     true))
		return;
	if (run_prog(g, VMM_PROG_READ_ZERO, gpa_of(b, R_ZERO), gpa_of(b, R_IDLE), 0, "zero read",
		     false))
		return;
	run_prog(g, VMM_PROG_READ_ZERO, gpa_of(b, R_IDLE), gpa_of(b, R_HOT), 0, "idle read", true);
}

/* The host compares os and idle with their content: pages that differ. */
static u64 verify_region(struct guest *g, enum region rg, int key, u64 seed)
{
	static u8 want[PAGE];
	struct bench *b = g->b;
	struct gres *r = g->r;
	u64 i, bad = 0;

	for (i = 0; i < b->npages[rg]; i++) {
		gen_page(want, key, seed, i);
		if (memcmp(vm_hva(g->vm, gpa_of(b, rg) + i * PAGE), want, PAGE) && !bad++)
			r->first_bad = b->start[rg] + i;
	}
	return bad;
}

static void verify_data(struct guest *g)
{
	struct gres *r = g->r;

	r->first_bad = ~0ULL;
	r->bad_pages = verify_region(g, R_OS, OS_KEY, SEED_OS);
	if (!r->bad_pages)
		r->bad_pages = verify_region(g, R_IDLE, g->idx, SEED_IDLE);
	if (r->bad_pages)
		fail(r, "%llu pages of os or idle read back wrong, the first at gfn 0x%llx",
		     r->bad_pages, r->first_bad);
}

static int set_domain(int fd)
{
	struct memvirt_policy p = { .size = sizeof(p) };

	p.flags = MEMVIRT_POLICY_SHARING_DOMAIN;
	p.sharing_domain = 1;
	return ioctl(fd, MEMVIRT_IOC_SET_POLICY, &p) ? -errno : 0;
}

static u64 count_resident(struct guest *g)
{
	u64 i, n = 0, pages = g->b->g_pages;
	u8 *vec = malloc(pages);

	if (!vec || mincore(vm_mem(g->vm), pages * PAGE, vec)) {
		free(vec);
		return 0;
	}
	for (i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

static void child_main(struct guest *g)
{
	struct bench *b = g->b;
	struct gres *r = g->r;
	struct memvirt_stats st = { .size = sizeof(st) };
	char pid[32];
	int err;

	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		printf("# %s guest %d: PR_SET_THP_DISABLE: %s\n", cfg_names[g->c], g->idx,
		       strerror(errno));
	if (g->c == CFG_MEMVIRT) {
		snprintf(g->path, sizeof(g->path), MVFS_DIR "/guest%d", g->idx);
		unlink(g->path);
		g->fd = open(g->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (g->fd < 0) {
			fail(r, "open(%s): %s", g->path, strerror(errno));
			return;
		}
		if (ftruncate(g->fd, b->g_pages * PAGE)) {
			fail(r, "ftruncate(%s, %llu MiB): %s", g->path, b->g_mib, strerror(errno));
			return;
		}
		err = memvirt_get_stats(g->fd, &st);
		if (!err)
			err = set_domain(g->fd);
		if (err) {
			fail(r, "MEMVIRT_IOC_GET_STATS / SET_POLICY sharing_domain=1: %s",
			     strerror(-err));
			return;
		}
		r->vm_id = st.vm_id;
	} else {
		snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		err = write_str(CGROUP "/cgroup.procs", pid);
		if (err) {
			fail(r, "joining " CGROUP ": %s", strerror(-err));
			return;
		}
	}
	g->vm = vm_create(g->fd, b->g_pages * PAGE, 1);
	if (!g->vm) {
		fail(r, "vm_create failed");
		return;
	}
	if (g->c != CFG_MEMVIRT && madvise(vm_mem(g->vm), b->g_pages * PAGE, MADV_MERGEABLE)) {
		fail(r, "madvise(MADV_MERGEABLE): %s", strerror(errno));
		return;
	}
	/* warm the vCPU on a page of the guest image, nothing of the data */
	if (run_prog(g, VMM_PROG_READ_PAGE, VMM_CODE_GPA, VMM_CODE_GPA + PAGE, 0, "warm-up",
		     true))
		return;
	if (g->c != CFG_MEMVIRT)
		r->boot_res = count_resident(g);
	__atomic_store_n(&r->ready, 1, __ATOMIC_RELEASE);
	if (!wait_phase(PH_RUN))
		return;
	if (pthread_create(&g->balloon, NULL, balloon_fn, g)) {
		fail(r, "pthread_create: %s", strerror(errno));
		return;
	}
	g->balloon_started = true;
	fill(g);
	filled(g, R_HOT);
	r->fill_ns = vmm_now_ns() - g_sh->t0;
	__atomic_store_n(&r->filled, 1, __ATOMIC_RELEASE);
	if (!r->failed)
		work(g);
	r->done_ns = vmm_now_ns() - g_sh->t0;
	g->stop = 1;
	pthread_join(g->balloon, NULL);
	g->balloon_started = false;
	if (r->failed)
		return;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	if (!wait_phase(PH_VERIFY))
		return;
	verify_data(g);
	__atomic_store_n(&r->verified, 1, __ATOMIC_RELEASE);
}

static void child(struct bench *b, enum cfg c, int idx)
{
	struct guest g = { .b = b, .c = c, .idx = idx, .r = &b->sh->g[idx], .fd = -1 };

	child_main(&g);
	if (g.balloon_started) {
		g.stop = 1;
		pthread_join(g.balloon, NULL);
	}
	vm_destroy(g.vm);
	if (g.fd >= 0) {
		close(g.fd);
		unlink(g.path);
	}
	exit(g.r->failed ? 1 : 0);
}

/* ---- the parent: set up, run, sample, tear down ---- */

static const char *const knob_paths[3] = {
	MEMVIRT_SYS "/budget_mb", MEMVIRT_SYS "/overcommit_ratio", MEMVIRT_DEDUP "/run",
};

static void knobs_restore(struct bench *b)
{
	int k;

	if (!b->knobs_touched)
		return;
	for (k = 2; k >= 0; k--)
		if (b->knob_saved[k][0] && write_str(knob_paths[k], b->knob_saved[k]))
			printf("# restoring %s=%s: %s\n", knob_paths[k], b->knob_saved[k],
			       strerror(errno));
	b->knobs_touched = false;
}

static int knobs_set(struct bench *b, int ri, char *why, size_t len)
{
	char val[3][32];
	unsigned long ratio;
	int k, err;

	for (k = 0; k < 3; k++)
		if (read_str(knob_paths[k], b->knob_saved[k], sizeof(b->knob_saved[k])))
			b->knob_saved[k][0] = '\0';
	b->knobs_touched = true;
	ratio = strtoul(b->knob_saved[1], NULL, 10);
	snprintf(val[0], sizeof(val[0]), "%llu", b->m_mib);
	snprintf(val[1], sizeof(val[1]), "%lu",
		 ratio < ratio_pct[ri] + 10 ? ratio_pct[ri] + 10 : ratio);
	snprintf(val[2], sizeof(val[2]), "1");
	for (k = 0; k < 3; k++) {
		err = write_str(knob_paths[k], val[k]);
		if (err) {
			snprintf(why, len, "%s=%s: %s", knob_paths[k], val[k], strerror(-err));
			return err;
		}
	}
	return 0;
}

static int ksm_set(struct bench *b, bool on)
{
	if (!b->ksm_touched) {
		if (read_str(KSM_DIR "/run", b->ksm_run_saved, sizeof(b->ksm_run_saved)))
			return -errno;
		b->ksm_touched = true;
	}
	return write_str(KSM_DIR "/run", on ? "1" : "2");
}

static void ksm_restore(struct bench *b)
{
	if (!b->ksm_touched)
		return;
	write_str(KSM_DIR "/run", "2");
	write_str(KSM_DIR "/run", b->ksm_run_saved);
	b->ksm_touched = false;
}

static int setup(struct bench *b, int ri, enum cfg c, char *why, size_t len)
{
	u64 size = NR_GUESTS * b->g_pages * PAGE + 16 * MIB;
	int err;

	if (c == CFG_MEMVIRT) {
		err = knobs_set(b, ri, why, len);
		if (err)
			return err;
		err = mvfs_mount(MVFS_DIR, b->dir, why, len);
		if (err)
			return err;
		b->mvfs_mounted = true;
		return 0;
	}
	err = swapfile_make(&b->swap, b->dir, SWAPFILE_NAME, size);
	if (err) {
		snprintf(why, len, "swap file %s: %s", b->swap.path, strerror(-err));
		return err;
	}
	err = zswap_knobs_set(&b->zswap, c == CFG_ZSWAP);
	if (err && (c == CFG_ZSWAP || access(ZSWAP_PARAMS, F_OK) == 0)) {
		snprintf(why, len, "zswap enabled=%s: %s", c == CFG_ZSWAP ? "Y" : "N",
			 strerror(-err));
		return err;
	}
	if (c == CFG_ZSWAP)
		printf("# zswap: compressor %s, zpool %s\n", b->zswap.compressor, b->zswap.zpool);
	err = ksm_set(b, true);
	if (err) {
		snprintf(why, len, KSM_DIR "/run=1: %s", strerror(-err));
		return err;
	}
	cgroup_rmdir(CGROUP);
	if (mkdir(CGROUP, 0755)) {
		err = -errno;
		snprintf(why, len, "mkdir %s: %s", CGROUP, strerror(-err));
		return err;
	}
	write_str(CGROUP "/memory.swap.max", "max\n");
	return 0;
}

static void teardown(struct bench *b, enum cfg c)
{
	char t[32];

	if (c == CFG_MEMVIRT) {
		mvfs_unmount(MVFS_DIR, &b->mvfs_mounted);
		printf("# memvirt policy at the end: state %s\n",
		       text_at(MEMVIRT_POLICY "/state", t, sizeof(t)));
		knobs_restore(b);
		return;
	}
	printf("# %s cgroup events: max=%llu oom=%llu oom_kill=%llu\n", cfg_names[c],
	       keyed(CGROUP "/memory.events", "max"), keyed(CGROUP "/memory.events", "oom"),
	       keyed(CGROUP "/memory.events", "oom_kill"));
	cgroup_rmdir(CGROUP);
	ksm_restore(b);
	swapfile_remove(&b->swap);
	zswap_knobs_restore(&b->zswap);
}

/* A sample of the memory each mechanism saves now, in pages. */
static void sample(const struct bench *b, enum cfg c, double *v)
{
	const struct shared *sh = b->sh;
	u64 infl = 0, z = 0, x, pool, zsw, zb, swp;
	int i;

	for (i = 0; i < NR_GUESTS; i++)
		infl += sh->g[i].inflated;
	v[M_BALLOON] = infl;
	if (c == CFG_MEMVIRT) {
		for (i = 0; i < NR_GUESTS; i++)
			z += sh->g[i].zero_pages;
		v[M_SHARED] = u64_at(MEMVIRT_DEDUP, "saved");
		v[M_ZERO] = z;
		x = u64_at(MEMVIRT_SWAP, "compressed");
		pool = (u64_at(MEMVIRT_SWAP, "pool_bytes") + PAGE - 1) / PAGE;
		v[M_COMPRESSED] = x > pool ? x - pool : 0;
		v[M_SWAPPED] = u64_at(MEMVIRT_SWAP, "swapped");
		return;
	}
	v[M_SHARED] = u64_at(KSM_DIR, "pages_sharing");
	v[M_ZERO] = -1;
	zsw = keyed(CGROUP "/memory.stat", "zswapped") / PAGE;
	zb = (keyed(CGROUP "/memory.stat", "zswap") + PAGE - 1) / PAGE;
	v[M_COMPRESSED] = zsw > zb ? zsw - zb : 0;
	swp = u64_at(CGROUP, "memory.swap.current") / PAGE;
	v[M_SWAPPED] = swp > zsw ? swp - zsw : 0;
}

/* PSI "some" total of the cgroup, us; memvirt's low_wait_ns in us. */
static u64 stall_us(enum cfg c)
{
	char line[256];
	unsigned long long t = 0;
	FILE *f;

	if (c == CFG_MEMVIRT)
		return u64_at(MEMVIRT_POLICY, "low_wait_ns") / 1000;
	f = fopen(CGROUP "/memory.pressure", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "some ", 5)) {
			char *p = strstr(line, "total=");

			if (p)
				t = strtoull(p + 6, NULL, 10);
		}
	fclose(f);
	return t;
}

static pid_t pids[NR_GUESTS];

static int reap_all(struct bench *b, struct result *res, bool wait_all)
{
	int i, status, err = 0;
	u64 t0 = vmm_now_ns();
	pid_t w;

	for (;;) {
		int live = 0;

		for (i = 0; i < NR_GUESTS; i++) {
			if (pids[i] <= 0)
				continue;
			w = waitpid(pids[i], &status, WNOHANG);
			if (w != pids[i]) {
				live++;
				continue;
			}
			pids[i] = 0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) ||
			    !b->sh->g[i].verified) {
				if (!res->msg[0])
					snprintf(res->msg, sizeof(res->msg), "guest %d: %s", i,
						 b->sh->g[i].failed ? b->sh->g[i].msg :
						 WIFSIGNALED(status) ? "killed by a signal" :
						 "its process ended early");
				err = -EIO;
			}
		}
		if (!live || !wait_all)
			return err;
		if (vmm_now_ns() - t0 > 60 * NSEC) {
			printf("# %d guest processes still not gone\n", live);
			return -EIO;
		}
		sleep_ms(20);
	}
}

static int any_failed(struct bench *b, struct result *res)
{
	int i;

	for (i = 0; i < NR_GUESTS; i++)
		if (__atomic_load_n(&b->sh->g[i].failed, __ATOMIC_ACQUIRE)) {
			if (!res->msg[0])
				snprintf(res->msg, sizeof(res->msg), "guest %d: %s", i,
					 b->sh->g[i].msg);
			return -EIO;
		}
	return reap_all(b, res, false);
}

static bool all_set(struct bench *b, size_t field)
{
	int i;

	for (i = 0; i < NR_GUESTS; i++)
		if (!__atomic_load_n((int *)((char *)&b->sh->g[i] + field), __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static int wait_all(struct bench *b, struct result *res, size_t field, u64 deadline,
		    const char *what)
{
	while (!all_set(b, field)) {
		if (any_failed(b, res))
			return -EIO;
		if (vmm_now_ns() > deadline) {
			snprintf(res->msg, sizeof(res->msg), "%s: not done after %u s (-T)", what,
				 b->timeout_s);
			return -EIO;
		}
		sleep_ms(20);
	}
	return 0;
}

static int set_mem_max(struct bench *b, struct result *res)
{
	char buf[64];
	u64 cur, guest = 0, overhead, pt;
	int i;

	if (read_str(CGROUP "/memory.current", buf, sizeof(buf)))
		return -errno;
	cur = strtoull(buf, NULL, 10);
	for (i = 0; i < NR_GUESTS; i++)
		guest += b->sh->g[i].boot_res * PAGE;
	overhead = cur > guest ? cur - guest : 0;
	pt = NR_GUESTS * b->g_pages * 16;
	res->mem_max = b->m_mib * MIB + overhead + pt;
	snprintf(buf, sizeof(buf), "%llu\n", res->mem_max);
	printf("# stock: memory.max = %llu MiB + %llu KiB VMM overhead + %llu KiB page tables\n",
	       b->m_mib, overhead / 1024, pt / 1024);
	return write_str(CGROUP "/memory.max", buf);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static void batch_stats(struct bench *b, struct result *res)
{
	u64 n = 0, k;
	float *v;
	int i;

	for (i = 0; i < NR_GUESTS; i++)
		n += b->sh->g[i].nbatch;
	res->nbatches = n;
	res->p50_ms = res->p99_ms = -1;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v || !n) {
		free(v);
		return;
	}
	for (i = 0, n = 0; i < NR_GUESTS; i++)
		for (k = 0; k < b->sh->g[i].nbatch; k++)
			v[n++] = b->sh->g[i].batch_ms[k];
	qsort(v, n, sizeof(*v), cmp_float);
	res->p50_ms = v[(u64)((n - 1) * 0.50 + 0.5)];
	res->p99_ms = v[(u64)((n - 1) * 0.99 + 0.5)];
	free(v);
}

static void print_counters(const struct bench *b, enum cfg c);

static const char *const region_names[NR_REGIONS] = { "free", "os", "zero", "idle", "hot" };

/* Where reclaim took its pages from: per region, mean MiB out of memory. */
static void print_regions(const struct bench *b, int ri, enum cfg c)
{
	double mib[NR_REGIONS] = { 0 };
	int i, rg;

	for (i = 0; i < NR_GUESTS; i++)
		for (rg = 0; rg < NR_REGIONS; rg++)
			if (b->sh->g[i].nq)
				mib[rg] += (double)b->sh->g[i].out_sum[rg] / b->sh->g[i].nq *
					   PAGE / MIB;
	printf("# %s %s pages out of memory (%s), mean MiB over the run, all guests:", cfg_names[c],
	       ratio_labels[ri], c == CFG_MEMVIRT ? "compressed or swapped" :
	       "swapped or in zswap, ballooned pages left out");
	for (rg = 0; rg < NR_REGIONS; rg++)
		printf(" %s %.1f", region_names[rg], mib[rg]);
	printf("\n");
}

/* A "#" line every 5 s: the state and what each mechanism saves now. */
static void print_sample(const struct bench *b, int ri, enum cfg c, const double *v)
{
	char t[32] = "-";
	int m, done = 0;

	if (c == CFG_MEMVIRT)
		text_at(MEMVIRT_POLICY "/state", t, sizeof(t));
	for (m = 0; m < NR_GUESTS; m++)
		done += b->sh->g[m].done;
	printf("#  %s %s t=%3llus state %-4s guests done %d filled %d; MiB saved:", cfg_names[c],
	       ratio_labels[ri], (vmm_now_ns() - b->sh->t0) / NSEC, t, done,
	       b->sh->g[0].filled + b->sh->g[1].filled + b->sh->g[2].filled + b->sh->g[3].filled);
	for (m = 0; m < NR_MECH; m++)
		printf(" %c %.1f", mech_char[m], v[m] >= 0 ? v[m] * PAGE / MIB : 0.0);
	printf("\n");
}

static int run_phases(struct bench *b, int ri, enum cfg c, struct result *res)
{
	u64 deadline = vmm_now_ns() + (u64)b->timeout_s * NSEC, st0, end = 0, next;
	static const char *const pol[3] = { "policy_ns", "sample_ns", "reclaim_ns" };
	u64 p0[3] = { 0 };
	struct cpu_snap c0, c1;
	double v[NR_MECH], sum[NR_MECH] = { 0 };
	u64 cpu[NR_THR];
	int i, m, err;

	err = wait_all(b, res, offsetof(struct gres, ready), deadline, "setup");
	if (err)
		return err;
	if (c != CFG_MEMVIRT) {
		err = set_mem_max(b, res);
		if (err) {
			snprintf(res->msg, sizeof(res->msg), "memory.max: %s", strerror(-err));
			return err;
		}
	}
	cpu_snap_take(&c0, thr_prefix, NR_THR);
	st0 = stall_us(c);
	for (i = 0; c == CFG_MEMVIRT && i < 3; i++)
		p0[i] = u64_at(MEMVIRT_POLICY, pol[i]);
	b->sh->t0 = vmm_now_ns();
	__atomic_store_n(&b->sh->phase, PH_RUN, __ATOMIC_RELEASE);
	next = b->sh->t0;
	while (!all_set(b, offsetof(struct gres, done))) {
		err = any_failed(b, res);
		if (err)
			goto out;
		if (vmm_now_ns() > deadline) {
			snprintf(res->msg, sizeof(res->msg), "not done after %u s (-T): killed",
				 b->timeout_s);
			err = -EIO;
			goto out;
		}
		if (vmm_now_ns() >= next) {
			sample(b, c, v);
			for (m = 0; m < NR_MECH; m++)
				sum[m] += v[m];
			if (res->nsamples++ % 5 == 0)
				print_sample(b, ri, c, v);
			next += SAMPLE_MS * 1000000ULL;
		}
		sleep_ms(20);
	}
	cpu_snap_take(&c1, thr_prefix, NR_THR);
	cpu_snap_delta(&c0, &c1, cpu, NR_THR);
	cpu_snap_free(&c1);
	for (i = 0; i < NR_THR; i++)
		res->cpu_s[i] = cpu[i] / 1e9;
	printf("# %s %s cpu s over the run: memvirt_policy %.2f memvirt_sample %.2f memvirt_dedup %.2f memvirt_swapio %.2f other memvirt* %.2f kswapd %.2f ksmd %.2f kworker* %.2f",
	       cfg_names[c], ratio_labels[ri], res->cpu_s[T_MV_POLICY], res->cpu_s[T_MV_SAMPLE],
	       res->cpu_s[T_MV_DEDUP], res->cpu_s[T_MV_SWAPIO], res->cpu_s[T_MV_OTHER],
	       res->cpu_s[T_KSWAPD], res->cpu_s[T_KSMD], res->cpu_s[T_KWORKER]);
	if (c == CFG_MEMVIRT)
		printf("; policy_ns %.2f (sample_ns %.2f, reclaim_ns %.2f)",
		       (u64_at(MEMVIRT_POLICY, pol[0]) - p0[0]) / 1e9,
		       (u64_at(MEMVIRT_POLICY, pol[1]) - p0[1]) / 1e9,
		       (u64_at(MEMVIRT_POLICY, pol[2]) - p0[2]) / 1e9);
	printf("\n");
	res->mem_stall_s = (stall_us(c) - st0) / 1e6;
	for (i = 0; i < NR_GUESTS; i++) {
		if (b->sh->g[i].done_ns > end)
			end = b->sh->g[i].done_ns;
		if (b->sh->g[i].fill_ns / 1e9 > res->fill_s)
			res->fill_s = b->sh->g[i].fill_ns / 1e9;
		res->max_inflated[i] = b->sh->g[i].max_inflated;
	}
	res->completion_s = end / 1e9;
	for (m = 0; m < NR_MECH; m++)
		res->saved_mib[m] = res->nsamples && sum[m] >= 0 ?
				    sum[m] / res->nsamples * PAGE / MIB : -1;
	batch_stats(b, res);
	print_counters(b, c);
	print_regions(b, ri, c);
	__atomic_store_n(&b->sh->phase, PH_VERIFY, __ATOMIC_RELEASE);
	err = wait_all(b, res, offsetof(struct gres, verified), deadline + 120 * NSEC, "verify");
out:
	cpu_snap_free(&c0);
	if (!err && res->msg[0])
		err = -EIO;
	return err;
}

static int run_one(struct bench *b, int ri, enum cfg c)
{
	struct result *res = &b->res[ri][c];
	float *batches;
	int i, err = 0, n = 0;

	memset(b->sh, 0, b->sh_len);
	batches = (float *)(b->sh + 1);
	for (i = 0; i < NR_GUESTS; i++) {
		b->sh->g[i].batch_ms = batches + (size_t)i * b->max_batches;
		if (c != CFG_MEMVIRT) {
			/* the targets memvirt's policy set, replayed */
			memcpy(b->sh->g[i].tl, b->res[ri][CFG_MEMVIRT].tl[i],
			       sizeof(b->sh->g[i].tl));
			b->sh->g[i].ntl = b->res[ri][CFG_MEMVIRT].ntl[i];
		}
	}
	g_sh = b->sh;
	res->ran = true;
	res->g_mib = b->g_mib;
	printf("# %s %s: %d guests of %llu MiB on %llu MiB; regions (pages) free %llu os %llu (hot %llu) zero %llu idle %llu hot %llu; %u passes in batches of %u pages\n",
	       cfg_names[c], ratio_labels[ri], NR_GUESTS, b->g_mib, b->m_mib, b->npages[R_FREE],
	       b->npages[R_OS], b->os_hot, b->npages[R_ZERO], b->npages[R_IDLE],
	       b->npages[R_HOT], b->passes, b->chunk);
	fflush(stdout);
	for (i = 0; i < NR_GUESTS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			snprintf(res->msg, sizeof(res->msg), "fork: %s", strerror(errno));
			pids[i] = 0;
			break;
		}
		if (!pids[i])
			child(b, c, i);
		n++;
	}
	err = n == NR_GUESTS ? run_phases(b, ri, c, res) : -EIO;
	if (err) {
		__atomic_store_n(&b->sh->phase, PH_ABORT, __ATOMIC_RELEASE);
		sleep_ms(2000);
		for (i = 0; i < NR_GUESTS; i++)
			if (pids[i] > 0)
				kill(pids[i], SIGKILL);
	}
	if (reap_all(b, res, true))
		err = -EIO;
	for (i = 0; i < NR_GUESTS; i++) {
		memcpy(res->tl[i], b->sh->g[i].tl, sizeof(res->tl[i]));
		res->ntl[i] = b->sh->g[i].ntl;
	}
	res->ok = !err;
	if (err) {
		printf("# %s %s failed: %s\n", cfg_names[c], ratio_labels[ri], res->msg);
		return err;
	}
	printf("# %s %s: completion %.1f s (fill %.1f s), %llu samples; stall p50 %.1f ms p99 %.1f ms over %llu batches; balloon held at most",
	       cfg_names[c], ratio_labels[ri], res->completion_s, res->fill_s, res->nsamples,
	       res->p50_ms, res->p99_ms, res->nbatches);
	for (i = 0; i < NR_GUESTS; i++)
		printf(" %u", res->max_inflated[i]);
	printf(" pages");
	if (c == CFG_MEMVIRT) {
		printf("; balloon target changes");
		for (i = 0; i < NR_GUESTS; i++)
			printf(" %u", res->ntl[i]);
	}
	printf("\n");
	return 0;
}

static void print_counters(const struct bench *b, enum cfg c)
{
	char t[64];

	if (c == CFG_MEMVIRT) {
		printf("# memvirt counters at completion (cumulative ones since the module was loaded): policy transitions=%llu reclaimed=%llu low_waits=%llu ballooned=%llu; dedup saved=%llu zero=%llu full_scans=%llu cow_breaks=%llu; swap compressed=%llu pool_bytes=%llu swapped=%llu swap_outs=%llu swap_ins=%llu compress_rejects=%llu\n",
		       u64_at(MEMVIRT_POLICY, "transitions"), u64_at(MEMVIRT_POLICY, "reclaimed"),
		       u64_at(MEMVIRT_POLICY, "low_waits"), u64_at(MEMVIRT_POLICY, "ballooned"),
		       u64_at(MEMVIRT_DEDUP, "saved"), u64_at(MEMVIRT_DEDUP, "zero"),
		       u64_at(MEMVIRT_DEDUP, "full_scans"), u64_at(MEMVIRT_DEDUP, "cow_breaks"),
		       u64_at(MEMVIRT_SWAP, "compressed"), u64_at(MEMVIRT_SWAP, "pool_bytes"),
		       u64_at(MEMVIRT_SWAP, "swapped"), u64_at(MEMVIRT_SWAP, "swap_outs"),
		       u64_at(MEMVIRT_SWAP, "swap_ins"), u64_at(MEMVIRT_SWAP, "compress_rejects"));
		printf("# memvirt state_ms since the module was loaded: high %llu soft %llu hard %llu low %llu (now %s)\n",
		       keyed(MEMVIRT_POLICY "/state_ms", "high"),
		       keyed(MEMVIRT_POLICY "/state_ms", "soft"),
		       keyed(MEMVIRT_POLICY "/state_ms", "hard"),
		       keyed(MEMVIRT_POLICY "/state_ms", "low"),
		       text_at(MEMVIRT_POLICY "/state", t, sizeof(t)));
		return;
	}
	printf("# %s counters at completion: ksm pages_sharing=%llu pages_shared=%llu full_scans=%llu; vmstat pswpin=%llu pswpout=%llu; cgroup memory.current=%llu swap.current=%llu zswapped=%llu\n",
	       cfg_names[c], u64_at(KSM_DIR, "pages_sharing"), u64_at(KSM_DIR, "pages_shared"),
	       u64_at(KSM_DIR, "full_scans"), keyed("/proc/vmstat", "pswpin"),
	       keyed("/proc/vmstat", "pswpout"), u64_at(CGROUP, "memory.current"),
	       u64_at(CGROUP, "memory.swap.current"), keyed(CGROUP "/memory.stat", "zswapped"));
}

/* ---- figures ---- */

static bool have(const struct bench *b, int ri, enum cfg c)
{
	return b->res[ri][c].ran && b->res[ri][c].ok;
}

static double saved_total(const struct result *r)
{
	double t = 0;
	int m;

	for (m = 0; m < NR_MECH; m++)
		if (r->saved_mib[m] > 0)
			t += r->saved_mib[m];
	return t;
}

static double memvirt_cpu(const struct result *r)
{
	return r->cpu_s[T_MV_POLICY] + r->cpu_s[T_MV_SAMPLE] + r->cpu_s[T_MV_DEDUP] +
	       r->cpu_s[T_MV_SWAPIO] + r->cpu_s[T_MV_OTHER];
}

static double threads_cpu(const struct result *r)
{
	return memvirt_cpu(r) + r->cpu_s[T_KSWAPD] + r->cpu_s[T_KSMD];
}

/* The better stock configuration at ratio @ri: the lower completion time. */
static int best_stock(const struct bench *b, int ri)
{
	if (!have(b, ri, CFG_ZSWAP))
		return have(b, ri, CFG_STOCK) ? CFG_STOCK : -1;
	if (!have(b, ri, CFG_STOCK))
		return CFG_ZSWAP;
	return b->res[ri][CFG_ZSWAP].completion_s < b->res[ri][CFG_STOCK].completion_s ?
	       CFG_ZSWAP : CFG_STOCK;
}

typedef double (*fig_fn)(const struct result *r);

static double f_completion(const struct result *r) { return r->completion_s; }
static double f_fill(const struct result *r) { return r->fill_s; }
static double f_work(const struct result *r) { return r->completion_s - r->fill_s; }
static double f_balloon(const struct result *r) { return r->saved_mib[M_BALLOON]; }
static double f_shared(const struct result *r) { return r->saved_mib[M_SHARED]; }
static double f_zero(const struct result *r) { return r->saved_mib[M_ZERO]; }
static double f_compressed(const struct result *r) { return r->saved_mib[M_COMPRESSED]; }
static double f_swapped(const struct result *r) { return r->saved_mib[M_SWAPPED]; }
static double f_saved(const struct result *r) { return saved_total(r); }
static double f_thr(const struct result *r) { return threads_cpu(r); }
static double f_memvirt(const struct result *r) { return memvirt_cpu(r); }
static double f_kswapd(const struct result *r) { return r->cpu_s[T_KSWAPD]; }
static double f_ksmd(const struct result *r) { return r->cpu_s[T_KSMD]; }
static double f_kworker(const struct result *r) { return r->cpu_s[T_KWORKER]; }
static double f_cpu_all(const struct result *r) { return threads_cpu(r) + r->cpu_s[T_KWORKER]; }
static double f_stall(const struct result *r) { return r->mem_stall_s; }
static double f_p50(const struct result *r) { return r->p50_ms; }
static double f_p99(const struct result *r) { return r->p99_ms; }

static const struct {
	const char *name;
	fig_fn fn;
	const char *f;
} rows[] = {
	{ "completion s", f_completion, "%.1f" },
	{ "  fill s (slowest guest)", f_fill, "%.1f" },
	{ "  passes after the fill s", f_work, "%.1f" },
	{ "saved MiB (mean): balloon", f_balloon, "%.1f" },
	{ "  shared (memvirt) / KSM", f_shared, "%.1f" },
	{ "  zero (memvirt)", f_zero, "%.1f" },
	{ "  compressed / zswap", f_compressed, "%.1f" },
	{ "  swapped to disk", f_swapped, "%.1f" },
	{ "  total", f_saved, "%.1f" },
	{ "reclaim cpu s: threads", f_thr, "%.2f" },
	{ "  memvirt_*", f_memvirt, "%.2f" },
	{ "  kswapd", f_kswapd, "%.2f" },
	{ "  ksmd", f_ksmd, "%.2f" },
	{ "  kworkers (all)", f_kworker, "%.2f" },
	{ "  threads + kworkers", f_cpu_all, "%.2f" },
	{ "guest memory stall s", f_stall, "%.2f" },
	{ "batch stall p50 ms", f_p50, "%.1f" },
	{ "batch stall p99 ms", f_p99, "%.1f" },
};

static void print_table(const struct bench *b)
{
	unsigned int k;
	int ri, c;

	printf("consolidate_bench: %d guests on %llu MiB of host memory, %u passes over the hot set (batches of %u pages); guest RAM: 1.5x = %d x %llu MiB, 2x = %d x %llu MiB\n",
	       NR_GUESTS, b->m_mib, b->passes, b->chunk, NR_GUESTS,
	       b->m_mib * 150 / 100 / NR_GUESTS / 2 * 2, NR_GUESTS,
	       b->m_mib * 200 / 100 / NR_GUESTS / 2 * 2);
	printf("%-28s", "");
	for (ri = 0; ri < NR_RATIOS; ri++)
		for (c = 0; c < NR_CFG; c++) {
			char h[32];

			snprintf(h, sizeof(h), "%s %s", c == CFG_ZSWAP ? "zswap" : cfg_names[c],
				 ratio_labels[ri]);
			printf("%13s", h);
		}
	printf("\n");
	for (k = 0; k < ARRAY_SIZE(rows); k++) {
		printf("%-28s", rows[k].name);
		for (ri = 0; ri < NR_RATIOS; ri++)
			for (c = 0; c < NR_CFG; c++)
				cell(have(b, ri, c) ? rows[k].fn(&b->res[ri][c]) : -1, rows[k].f,
				     13);
		printf("\n");
	}
}

static void bar(const char *label, double v, double max, int width, const char *unit)
{
	int n = max > 0 && v > 0 ? (int)(v / max * width + 0.5) : 0, i;

	printf("  %-18s |", label);
	for (i = 0; i < n; i++)
		putchar('#');
	printf(" %.1f%s\n", v, unit);
}

static void print_plot(const struct bench *b)
{
	double max = 0, mmax = 0;
	char label[32];
	int ri, c, m, i;

	for (ri = 0; ri < NR_RATIOS; ri++)
		for (c = 0; c < NR_CFG; c++)
			if (have(b, ri, c)) {
				if (b->res[ri][c].completion_s > max)
					max = b->res[ri][c].completion_s;
				if (saved_total(&b->res[ri][c]) > mmax)
					mmax = saved_total(&b->res[ri][c]);
			}
	printf("completion time (s):\n");
	for (ri = 0; ri < NR_RATIOS; ri++)
		for (c = 0; c < NR_CFG; c++) {
			if (!have(b, ri, c))
				continue;
			snprintf(label, sizeof(label), "%s %s", cfg_names[c], ratio_labels[ri]);
			bar(label, b->res[ri][c].completion_s, max, 50, " s");
		}
	printf("memory saved by mechanism (MiB, mean over the run; B balloon, S shared/KSM, Z zero, C compressed/zswap, W swapped):\n");
	for (ri = 0; ri < NR_RATIOS; ri++)
		for (c = 0; c < NR_CFG; c++) {
			const struct result *r = &b->res[ri][c];

			if (!have(b, ri, c))
				continue;
			snprintf(label, sizeof(label), "%s %s", cfg_names[c], ratio_labels[ri]);
			printf("  %-18s |", label);
			for (m = 0; m < NR_MECH; m++)
				for (i = 0; r->saved_mib[m] > 0 &&
				     i < (int)(r->saved_mib[m] / mmax * 50 + 0.5); i++)
					putchar(mech_char[m]);
			printf(" %.1f MiB\n", saved_total(r));
		}
}

static void print_csv(const struct bench *b)
{
	int ri, c, m;

	printf("csv: ratio,config,guest_mib,host_mib,completion_s,fill_s,balloon_mib,shared_mib,zero_mib,compressed_mib,swapped_mib,saved_mib,cpu_memvirt_s,cpu_kswapd_s,cpu_ksmd_s,cpu_kworker_s,mem_stall_s,stall_p50_ms,stall_p99_ms\n");
	for (ri = 0; ri < NR_RATIOS; ri++)
		for (c = 0; c < NR_CFG; c++) {
			const struct result *r = &b->res[ri][c];
			char v[32];

			if (!have(b, ri, c))
				continue;
			printf("csv: %s,%s,%llu,%llu,%.2f,%.2f", ratio_labels[ri], cfg_names[c],
			       r->g_mib, b->m_mib, r->completion_s, r->fill_s);
			for (m = 0; m < NR_MECH; m++) {
				fmt(v, sizeof(v), r->saved_mib[m], "%.1f");
				printf(",%s", v);
			}
			printf(",%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.2f,%.2f\n", saved_total(r),
			       memvirt_cpu(r), r->cpu_s[T_KSWAPD], r->cpu_s[T_KSMD],
			       r->cpu_s[T_KWORKER], r->mem_stall_s, r->p50_ms, r->p99_ms);
		}
}

static void print_machine(const struct bench *b)
{
	char v[NR_RATIOS][NR_CFG][32], mp99[32], sp99[32], ratio[32];
	int ri, c, best = best_stock(b, 1);

	for (ri = 0; ri < NR_RATIOS; ri++)
		for (c = 0; c < NR_CFG; c++)
			fmt(v[ri][c], 32, have(b, ri, c) ? b->res[ri][c].completion_s : -1, "%.1f");
	fmt(mp99, sizeof(mp99), have(b, 1, CFG_MEMVIRT) ? b->res[1][CFG_MEMVIRT].p99_ms : -1,
	    "%.1f");
	fmt(sp99, sizeof(sp99), best >= 0 ? b->res[1][best].p99_ms : -1, "%.1f");
	fmt(ratio, sizeof(ratio), best >= 0 && have(b, 1, CFG_MEMVIRT) &&
	    b->res[1][CFG_MEMVIRT].completion_s > 0 ?
	    b->res[1][best].completion_s / b->res[1][CFG_MEMVIRT].completion_s : -1, "%.2f");
	if (best >= 0)
		printf("# ratio: %s at 2x (the faster stock configuration) / memvirt at 2x\n",
		       cfg_names[best]);
	printf("bench: consolidate memvirt_1_5x_s=%s stock_1_5x_s=%s stock_zswap_1_5x_s=%s memvirt_2x_s=%s stock_2x_s=%s stock_zswap_2x_s=%s memvirt_stall_p99_ms=%s stock_stall_p99_ms=%s ratio=%s\n",
	       v[0][CFG_MEMVIRT], v[0][CFG_STOCK], v[0][CFG_ZSWAP], v[1][CFG_MEMVIRT],
	       v[1][CFG_STOCK], v[1][CFG_ZSWAP], mp99, sp99, ratio);
}

/* ---- setup ---- */

static int probe(struct bench *b)
{
	dev_t dev;
	int c;

	if (probe_swap_disk("consolidate_bench", b->dir, &dev))
		return -ENODEV;
	for (c = 0; c < NR_CFG; c++)
		b->avail[c] = b->want[c];
	if (!cgroup_memory_on() || access(KSM_DIR "/run", W_OK)) {
		for (c = CFG_STOCK; c < NR_CFG; c++) {
			snprintf(b->why[c], sizeof(b->why[c]), "%s",
				 access(KSM_DIR "/run", W_OK) ? "no KSM (" KSM_DIR "/run)" :
				 "no cgroup2 memory controller at " CGROUP_ROOT);
			b->avail[c] = false;
		}
	}
	if (access(ZSWAP_PARAMS "/enabled", W_OK)) {
		snprintf(b->why[CFG_ZSWAP], sizeof(b->why[CFG_ZSWAP]), "no zswap (%s)",
			 ZSWAP_PARAMS);
		b->avail[CFG_ZSWAP] = false;
	}
	if (access(MEMVIRT_POLICY "/state", F_OK) || access(MEMVIRT_DEDUP "/run", F_OK) ||
	    access(MEMVIRT_SWAP, F_OK)) {
		snprintf(b->why[CFG_MEMVIRT], sizeof(b->why[CFG_MEMVIRT]),
			 "%s: %s (memvirt not loaded, or without its policy, sharing or swap)",
			 MEMVIRT_SYS, strerror(errno));
		b->avail[CFG_MEMVIRT] = false;
	}
	for (c = 0; c < NR_CFG; c++)
		if (b->want[c] && !b->avail[c])
			printf("# %s unavailable: %s\n", cfg_names[c], b->why[c]);
	note_other_swaps();
	printf("# ksm: pages_to_scan %llu sleep_millisecs %llu; memvirt dedup: pages_to_scan %llu sleep_millisecs %llu cpu_percent %llu; policy period_ms %llu sample_period_ms %llu idle_tax %llu balloon_timeout_ms %llu\n",
	       u64_at(KSM_DIR, "pages_to_scan"), u64_at(KSM_DIR, "sleep_millisecs"),
	       u64_at(MEMVIRT_DEDUP, "pages_to_scan"), u64_at(MEMVIRT_DEDUP, "sleep_millisecs"),
	       u64_at(MEMVIRT_DEDUP, "cpu_percent"), u64_at(MEMVIRT_POLICY, "period_ms"),
	       u64_at(MEMVIRT_POLICY, "sample_period_ms"), u64_at(MEMVIRT_POLICY, "idle_tax"),
	       u64_at(MEMVIRT_POLICY, "balloon_timeout_ms"));
	return 0;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-m MiB] [-k passes] [-c pages] [-T s] [-d dir] [-s configs] [-r ratios]\n"
		"  -m  host memory for the guests, 32..2048 MiB (default %d)\n"
		"  -k  passes over the hot set, 1..100 (default %d)\n"
		"  -c  pages per batch, 16..4096 (default %d)\n"
		"  -T  most seconds per configuration (default %d)\n"
		"  -d  directory on the swap disk (default %s)\n"
		"  -s  configurations, comma-separated: memvirt,stock,stock_zswap (default all)\n"
		"  -r  ratios, comma-separated: 1_5x,2x (default both)\n",
		prog, DEFAULT_M, DEFAULT_K, DEFAULT_C, DEFAULT_TIMEOUT, DEFAULT_DIR);
	exit(2);
}

static unsigned long num(const char *arg, const char *prog)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-')
		print_usage(prog);
	return v;
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	int opt, c;

	b->m_mib = DEFAULT_M;
	b->passes = DEFAULT_K;
	b->chunk = DEFAULT_C;
	b->timeout_s = DEFAULT_TIMEOUT;
	b->dir = DEFAULT_DIR;
	for (c = 0; c < NR_CFG; c++)
		b->want[c] = true;
	b->want_ratio[0] = b->want_ratio[1] = true;
	while ((opt = getopt(argc, argv, "m:k:c:T:d:s:r:h")) != -1) {
		switch (opt) {
		case 'm':
			b->m_mib = num(optarg, argv[0]);
			break;
		case 'k':
			b->passes = num(optarg, argv[0]);
			break;
		case 'c':
			b->chunk = num(optarg, argv[0]);
			break;
		case 'T':
			b->timeout_s = num(optarg, argv[0]);
			break;
		case 'd':
			b->dir = optarg;
			break;
		case 's':
			if (parse_names(optarg, cfg_names, NR_CFG, b->want))
				print_usage(argv[0]);
			break;
		case 'r':
			if (parse_names(optarg, ratio_names, NR_RATIOS, b->want_ratio))
				print_usage(argv[0]);
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (b->m_mib < 32 || b->m_mib > 2048 || !b->passes || b->passes > 100 ||
	    b->chunk < 16 || b->chunk > 4096 || !b->timeout_s || optind != argc)
		print_usage(argv[0]);
}

int main(int argc, char **argv)
{
	static struct bench b;
	u32 max_batches = 0;
	int ri, c, err = 0;
	void *mem;

	parse_args(&b, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (ri = 0; ri < NR_RATIOS; ri++) {
		layout(&b, ri);
		if (b.max_batches > max_batches)
			max_batches = b.max_batches;
	}
	b.sh_len = sizeof(struct shared) + (size_t)NR_GUESTS * max_batches * sizeof(float);
	b.sh_len = (b.sh_len + PAGE - 1) & ~(PAGE - 1);
	mem = mmap(NULL, b.sh_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "consolidate_bench: mmap: %s\n", strerror(errno));
		return 1;
	}
	b.sh = mem;
	if (probe(&b))
		return 1;
	for (ri = 0; ri < NR_RATIOS; ri++) {
		if (!b.want_ratio[ri])
			continue;
		layout(&b, ri);
		/* memvirt first: the stock runs replay its balloon targets */
		for (c = 0; c < NR_CFG; c++) {
			if (!b.avail[c])
				continue;
			if (c != CFG_MEMVIRT && !have(&b, ri, CFG_MEMVIRT))
				printf("# %s %s: no memvirt run to take balloon targets from: no ballooning\n",
				       cfg_names[c], ratio_labels[ri]);
			if (setup(&b, ri, c, b.why[c], sizeof(b.why[c]))) {
				printf("# %s %s unavailable: %s\n", cfg_names[c], ratio_labels[ri],
				       b.why[c]);
				err = -EIO;
				teardown(&b, c);
				continue;
			}
			if (run_one(&b, ri, c))
				err = -EIO;
			teardown(&b, c);
		}
	}
	for (c = 0; c < NR_CFG; c++)
		if (b.want[c] && !b.avail[c])
			err = -EIO;
	print_table(&b);
	print_plot(&b);
	print_csv(&b);
	if (err) {
		printf("consolidate_bench: FAILED (a configuration failed or could not run: see the # lines)\n");
		return 1;
	}
	print_machine(&b);
	return 0;
}
