// SPDX-License-Identifier: GPL-2.0
/*
 * policy_bench.c - four one-vCPU guests at 2x overcommit, two idle and two
 * active: memvirt's allocation policy (targets with the idle memory tax over
 * sampled working sets, cold pages compressed or swapped) against what KVM
 * users have today, guests on anonymous memory in one memory cgroup with
 * host swap.
 *
 * Sizes: four guests of G MiB each (-g, default 64); the budget B = 2 G
 * (four guests of G at 2x overcommit); each active guest's working set is
 * W% of its RAM (-w, default 40). Two systems, one after the other, each
 * with four fresh test VMs (selftests/lib), one child process per guest:
 *   memvirt  guest RAM is a file of a private memvirtfs mount with swapdir=
 *            the swap disk (-d, default /mnt/swap); budget_mb = B,
 *            overcommit_ratio at least 200, policy/sample_period_ms -p
 *            (default 5000 so that several periods fit), policy/period_ms
 *            as it is (default 1000); no per-VM limit: the policy alone
 *            decides who holds what;
 *   swap     guest RAM is anonymous memory; the four children are in ONE
 *            memory cgroup (cgroup2) whose memory.max is B plus the test
 *            VMM's own overhead (below); the host swaps to a swap file on
 *            the same disk; zswap off.
 * Transparent huge pages are off (PR_SET_THP_DISABLE): 4 KiB pages for all.
 *
 * The baseline's overhead: memvirt's budget counts guest pages only (private,
 * shared frames, the compression pool), while a memory cgroup is also
 * charged for what the VMM process holds besides guest RAM (its heap and
 * stacks, page tables, KVM's vCPU and MMU memory). After the four VMs are
 * created and have run once, and before guest RAM is filled, the overhead
 * is the cgroup's memory.current less the guest RAM pages then resident
 * (mincore); the page tables that grow with the fill (the host's PTEs of
 * the guest mapping and KVM's nested page tables, 8 bytes per 4 KiB page
 * each) are added as 16 bytes per guest page. memory.max = B + both.
 *
 * Phases:
 *   fill     each guest's RAM above the test VMM's first MiB and the
 *            records of the timed stores (the "data": the working set at
 *            its start) is written once through the host mapping with
 *            seeded content, one guest after the other (active 0, idle 0,
 *            active 1, idle 1); as in swap_bench, 15% sparse, 35% text,
 *            25% records, 25% random (incompressible) pages;
 *   run      the idle guests' vCPUs are never run again (their memory is
 *            what they filled and no longer use); each active guest loops
 *            over its working set: one pass is one run of the guest program
 *            VMM_PROG_TOUCH_TIMED, which writes one byte of every page of the
 *            working set and times each store (rdtsc). Warm-up (-u seconds,
 *            default 30: several sample periods, so the estimates and the
 *            targets settle), then the measured window (-t seconds, default
 *            60);
 *   verify   every guest's data is read back by the host and compared with
 *            the content (the working set's first byte is the 1 the guest
 *            wrote); one wrong byte fails the bench.
 *
 * Measured, per guest, in its own process: before each pass, where each
 * working-set page is (memvirt: MEMVIRT_IOC_QUERY_RANGE, resident = PRIVATE
 * or SHARED; anonymous memory: mincore(), which counts pages in the swap
 * cache as resident): the percent resident at the start of a pass, and a
 * swap-in for every page that was not (the pass touches it). Once a second,
 * every guest's resident pages of all its RAM, and for memvirt the VM's
 * active_estimate, target and charge from /sys/kernel/memvirt/vms/<id>/.
 *
 * Figures over the measured window:
 * - active guests' working set resident (percent, mean over passes);
 * - idle guests' RAM resident (percent of G, mean over the observations);
 * - throughput: pages touched per second by the two active guests together
 *   (each guest's pages over the wall time of its measured passes, summed);
 * - swap-ins of the active guests (the pages above) and the counters;
 * - memvirt's policy cost: the growth of /sys/kernel/memvirt/policy/policy_ns
 *   over the window's wall time, in percent of one CPU, scaled to 100 GiB
 *   of guest RAM (x 100 GiB / (4 G)). policy_ns is the policy's whole
 *   time (its thread and the sampler's) and includes sample_ns and
 *   reclaim_ns; the figure is policy_ns less reclaim_ns (the work of
 *   compressing and swapping itself, which any reclaimer pays) and
 *   includes sampling; the parts are printed. The sampling's other cost, the
 *   guests' refaults on sampled pages, is on a "#" line. Sampling, nearly
 *   all of the cost, is sample_size gfns per VM per period whatever the
 *   VM's size, so "#" lines also give the cost per VM, per sampled gfn and
 *   at the default sample period (30 s);
 * - the estimate's error: the sampler estimates the fraction of a VM's
 *   PRIVATE pages touched in a period. The truth it is compared with, at
 *   each observation: for an active guest, its PRIVATE pages below the end
 *   of the working set (the working set, the records of the timed stores
 *   and the test VMM's page tables, descriptor tables, image and stack, all
 *   used at every pass; a few image pages that are not executed count as
 *   touched: at most the image's size, printed) over all its PRIVATE pages;
 *   for an idle guest, 0. estimate_err_pts is the largest, over the four
 *   VMs, of the mean |active_estimate - truth| in percentage points over the
 *   observations of the window (each VM has closed at least three sample
 *   periods by then, else "na").
 *
 * The last line is fixed-format (one line):
 *   bench: policy guests=4 guest_mib=G budget_mib=B wss_pct=W
 *          memvirt_active_resident_pct=X swap_active_resident_pct=X
 *          memvirt_idle_resident_pct=X swap_idle_resident_pct=X
 *          memvirt_pages_s=X swap_pages_s=X policy_cpu_pct_per_100gib=X
 *          estimate_err_pts=X ratio=R
 * with R = memvirt_pages_s / swap_pages_s, and "na" for a figure that could
 * not be measured (a "#" line says why). Exit 0 unless a measurement
 * failed (a system could not run, a guest failed, a byte read back wrong),
 * 2 for bad options. Without memvirt's policy (not loaded, or a module
 * without /sys/kernel/memvirt/policy) a "# memvirt unavailable: ..." line
 * says why and only the baseline runs.
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
#define GIB		(1ULL << 30)
#define NSEC		1000000000ULL
#define PAGE		VMM_PAGE_SIZE
#define NR_GUESTS	4
#define NR_ACTIVE	2		/* guests 0 and 1; 2 and 3 are idle */
#define REC_GPA		VMM_FREE_GPA	/* TOUCH_TIMED records, then the data */
#define DEFAULT_G	64
#define DEFAULT_W	40
#define DEFAULT_T	60
#define DEFAULT_WARMUP	30
#define DEFAULT_SPERIOD	5000
#define DEFAULT_TIMEOUT	180
#define DEFAULT_DIR	"/mnt/swap"
#define MIN_G		8
#define MAX_G		512
#define MIN_W		5
#define MAX_W		90
#define MAX_T		3600
#define RUN_TIMEOUT	120		/* seconds per pass */
#define OBS_MS		1000		/* observations */
#define SLOW_NS		50000		/* a store to a resident page slower than this */
#define MIN_PERIODS	3		/* sample periods before the estimate counts */
#define SEED_CONTENT	0x9011c7ULL
#define CGROUP		CGROUP_ROOT "/policy_bench"
#define ZSWAP_ENABLED	"/sys/module/zswap/parameters/enabled"
#define MEMVIRT_SYS	"/sys/kernel/memvirt"
#define MEMVIRT_POLICY	MEMVIRT_SYS "/policy"
#define MEMVIRT_SWAP	MEMVIRT_SYS "/swap"
#define MVFS_DIR	"/run/policy_bench"
#define SWAPFILE_NAME	"policy_bench.swap"

enum sys { SYS_MEMVIRT, SYS_SWAP, NR_SYS };

static const char *const sys_names[NR_SYS] = { "memvirt", "swap" };

/* Fill order: an active guest, an idle one, the other active, the other idle. */
static const int fill_order[NR_GUESTS] = { 0, 2, 1, 3 };

enum phase { PH_SETUP, PH_FILL, PH_RUN, PH_MEASURE, PH_VERIFY, PH_ABORT };

/* One observation of a guest, once a second from the run phase on. */
struct obs {
	u32 t_ms;		/* since the run phase began */
	u32 measuring;		/* in the measured window */
	u32 ram_res;		/* resident pages of all its RAM */
	u32 ws_res;		/* resident pages of the working set */
	u32 priv;		/* memvirt: PRIVATE pages */
	u32 touched;		/* memvirt: PRIVATE pages used at every pass */
	u32 compressed, swapped;
	u32 target, charge, periods;
	u32 est, slow, fast, period;	/* percent */
};

/* One guest's results: in shared memory, written by its child. */
struct gres {
	int ready, filled, verified;
	int failed;
	char msg[256];
	u64 vm_id;
	u64 boot_res;		/* guest RAM pages resident before the fill */
	u64 fill_ns, verify_ns;
	/* the measured window (active guests: its passes) */
	u64 passes, pages, swapins, ws_res_sum, ws_checks;
	u64 run_ns, store_ns;	/* vm_run wall time, sum of the timed stores */
	u64 slow_res, slow_res_ns;	/* stores to resident pages over SLOW_NS */
	u64 t_first, t_last;	/* first measured pass began, last one ended */
	u64 all_passes;
	int have_st0, have_st1;
	struct memvirt_stats st0, st1;
	u64 bad_pages, first_bad;
	u32 nobs;
	struct obs *obs;
};

/* What the parent measured host-wide around the window. */
struct hsnap {
	u64 t;
	u64 policy_ns, sample_ns, reclaim_ns, samples, sample_periods, transitions;
	u64 reclaimed_total;
	u64 pswpin, pswpout;
	u64 disk_rd, disk_wr;
	u64 state_ms[4];
	u64 low_waits;
};

struct shared {
	int phase;
	int turn;		/* the guest filling or verifying */
	u64 t_run;		/* the run phase began (CLOCK_MONOTONIC) */
	struct gres g[NR_GUESTS];
};

struct result {
	bool ran, ok;
	char msg[256];
	struct hsnap h0, h1;
	u64 overhead, pt_allow;	/* swap: bytes added to memory.max */
	u64 mem_max;
	struct gres g[NR_GUESTS];	/* copies, with their own obs */
};

struct bench {
	u64 g_mib, budget_mib;
	unsigned int wss_pct;
	unsigned int t_s, warmup_s, speriod_ms;
	unsigned int timeout_s;
	const char *dir;
	bool want[NR_SYS], avail[NR_SYS];
	char why[NR_SYS][512];
	/* layout, in pages / gpas */
	u64 g_pages, ws_pages, data_gpa, data_pages, ws_end_gfn;
	u32 max_obs;
	char disk_stat[128];
	struct swapfile swap;
	char zswap_saved[16];
	bool zswap_touched;
	bool mvfs_mounted;
	char knob_saved[3][32];		/* budget_mb, overcommit_ratio, sample_period_ms */
	bool knobs_touched;
	struct shared *sh;
	size_t sh_len;
	struct result res[NR_SYS];
};

/* ---- the content (swap_bench's mix, lib/bench.c), per guest ---- */

/* The content of data page @idx of guest @guest into @page (4 KiB). */
static void gen_page(void *page, int guest, u64 idx)
{
	content_page(page, (u64)guest << 32 | idx, SEED_CONTENT, 1);
}

/* ---- host-wide counters ---- */

static const char *const state_names[4] = { "high", "soft", "hard", "low" };

static void take_hsnap(const struct bench *b, enum sys s, struct hsnap *h)
{
	int i;

	memset(h, 0, sizeof(*h));
	h->t = vmm_now_ns();
	h->pswpin = keyed("/proc/vmstat", "pswpin");
	h->pswpout = keyed("/proc/vmstat", "pswpout");
	disk_read(b->disk_stat, &h->disk_rd, &h->disk_wr);
	if (s != SYS_MEMVIRT)
		return;
	h->policy_ns = u64_at(MEMVIRT_POLICY, "policy_ns");
	h->reclaim_ns = u64_at(MEMVIRT_POLICY, "reclaim_ns");
	h->sample_ns = u64_at(MEMVIRT_POLICY, "sample_ns");
	h->samples = u64_at(MEMVIRT_POLICY, "samples");
	h->sample_periods = u64_at(MEMVIRT_POLICY, "sample_periods");
	h->transitions = u64_at(MEMVIRT_POLICY, "transitions");
	h->low_waits = u64_at(MEMVIRT_POLICY, "low_waits");
	for (i = 0; i < 4; i++)
		h->state_ms[i] = keyed(MEMVIRT_POLICY "/state_ms", state_names[i]);
}

/* ---- the child: one guest ---- */

struct guest {
	struct bench *b;
	enum sys s;
	int idx;
	bool active;
	struct gres *r;
	struct vm *vm;
	int fd;
	char path[256];
	u8 *states;		/* one byte per page of guest RAM */
	u64 khz;
};

static struct shared *g_sh;

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

/* Wait until @cond() holds; false if the run was aborted or the parent died. */
static bool child_wait(bool (*cond)(struct guest *g), struct guest *g)
{
	while (!cond(g)) {
		if (phase_now() == PH_ABORT || getppid() == 1)
			return false;
		sleep_ms(10);
	}
	return true;
}

static bool my_fill_turn(struct guest *g)
{
	return phase_now() >= PH_FILL &&
	       __atomic_load_n(&g_sh->turn, __ATOMIC_ACQUIRE) == g->idx;
}

static bool run_begun(struct guest *g)
{
	return phase_now() >= PH_RUN;
}

static bool my_verify_turn(struct guest *g)
{
	return phase_now() >= PH_VERIFY &&
	       __atomic_load_n(&g_sh->turn, __ATOMIC_ACQUIRE) == g->idx + NR_GUESTS;
}

static bool is_resident_state(u8 st)
{
	st &= MEMVIRT_GFN_STATE_MASK;
	return st == MEMVIRT_GFN_PRIVATE || st == MEMVIRT_GFN_SHARED;
}

/*
 * Where the pages of [@gfn, @gfn + @n) are: g->states[i] nonzero for a
 * resident page (memvirt: the state byte; anonymous memory: mincore's).
 */
static int where_now(struct guest *g, u64 gfn, u64 n)
{
	int err;

	if (g->s == SYS_MEMVIRT) {
		err = memvirt_query_range(g->fd, gfn, n, g->states + gfn);
		if (err)
			fail(g->r, "MEMVIRT_IOC_QUERY_RANGE: %s", strerror(-err));
		return err;
	}
	if (mincore(vm_hva(g->vm, gfn * PAGE), n * PAGE, g->states + gfn)) {
		err = -errno;
		fail(g->r, "mincore: %s", strerror(-err));
		return err;
	}
	return 0;
}

static bool resident(const struct guest *g, u64 gfn)
{
	u8 st = g->states[gfn];

	return g->s == SYS_MEMVIRT ? is_resident_state(st) : st & 1;
}

static u32 vm_attr(const struct guest *g, const char *name)
{
	u64 v = 0;

	memvirt_sysfs_read(g->r->vm_id, name, &v);
	return v;
}

/* Guest RAM pages resident now (mincore or QUERY_RANGE over all of it). */
static u64 count_resident(struct guest *g)
{
	u64 i, n = 0;

	if (where_now(g, 0, g->b->g_pages))
		return 0;
	for (i = 0; i < g->b->g_pages; i++)
		n += resident(g, i);
	return n;
}

static void observe(struct guest *g, bool measuring)
{
	struct bench *b = g->b;
	struct gres *r = g->r;
	struct obs *o;
	u64 i, st;

	if (r->nobs >= b->max_obs || where_now(g, 0, b->g_pages))
		return;
	o = &r->obs[r->nobs];
	memset(o, 0, sizeof(*o));
	o->t_ms = (vmm_now_ns() - g_sh->t_run) / 1000000;
	o->measuring = measuring;
	for (i = 0; i < b->g_pages; i++) {
		if (resident(g, i)) {
			o->ram_res++;
			if (i >= b->data_gpa / PAGE && i < b->ws_end_gfn)
				o->ws_res++;
		}
		if (g->s != SYS_MEMVIRT)
			continue;
		st = g->states[i] & MEMVIRT_GFN_STATE_MASK;
		if (st == MEMVIRT_GFN_PRIVATE) {
			o->priv++;
			if (g->active && i < b->ws_end_gfn)
				o->touched++;
		} else if (st == MEMVIRT_GFN_COMPRESSED) {
			o->compressed++;
		} else if (st == MEMVIRT_GFN_SWAPPED) {
			o->swapped++;
		}
	}
	if (g->s == SYS_MEMVIRT) {
		o->target = vm_attr(g, "target");
		o->charge = vm_attr(g, "charge");
		o->periods = vm_attr(g, "sample_periods");
		o->est = vm_attr(g, "active_estimate");
		o->slow = vm_attr(g, "active_slow");
		o->fast = vm_attr(g, "active_fast");
		o->period = vm_attr(g, "active_period");
	}
	r->nobs++;
}

static void stats_snap(struct guest *g, struct memvirt_stats *st, int *have)
{
	if (g->s == SYS_MEMVIRT && !*have && !memvirt_get_stats(g->fd, st))
		*have = 1;
}

/* One pass over the working set; counted if @measuring. */
static int ws_pass(struct guest *g, bool measuring)
{
	struct bench *b = g->b;
	struct gres *r = g->r;
	u64 ws_gfn = b->data_gpa / PAGE, i, n = 0, t0, t1, ns;
	const u64 *rec = vm_hva(g->vm, REC_GPA);

	if (where_now(g, ws_gfn, b->ws_pages))
		return -EIO;
	t0 = vmm_now_ns();
	if (vm_run_one(g->vm, 0, VMM_PROG_TOUCH_TIMED, b->data_gpa,
		       b->data_gpa + b->ws_pages * PAGE, REC_GPA, RUN_TIMEOUT)) {
		fail(r, "working-set pass %llu: %s", r->all_passes, vcpu_result(g->vm, 0)->msg);
		return -EIO;
	}
	t1 = vmm_now_ns();
	r->all_passes++;
	if (!measuring)
		return 0;
	if (!r->passes)
		r->t_first = t0;
	r->t_last = t1;
	r->passes++;
	r->pages += b->ws_pages;
	r->run_ns += t1 - t0;
	for (i = 0; i < b->ws_pages; i++) {
		ns = g->khz ? rec[i] * 1000000ULL / g->khz : 0;
		r->store_ns += ns;
		if (resident(g, ws_gfn + i)) {
			n++;
			if (ns > SLOW_NS) {
				r->slow_res++;
				r->slow_res_ns += ns;
			}
		}
	}
	r->ws_res_sum += n;
	r->swapins += b->ws_pages - n;
	r->ws_checks++;
	return 0;
}

/* The host reads the data back: pages that differ from the content. */
static void verify(struct guest *g)
{
	static u8 want[PAGE];
	struct bench *b = g->b;
	struct gres *r = g->r;
	u64 i, t0 = vmm_now_ns();
	bool touched = g->active && r->all_passes;

	r->first_bad = ~0ULL;
	for (i = 0; i < b->data_pages; i++) {
		const u8 *p = vm_hva(g->vm, b->data_gpa + i * PAGE);
		bool ws = i < b->ws_pages;

		gen_page(want, g->idx, i);
		if (memcmp(p + 1, want + 1, PAGE - 1) ||
		    p[0] != (ws && touched ? 1 : want[0])) {
			if (!r->bad_pages++)
				r->first_bad = i;
		}
	}
	r->verify_ns = vmm_now_ns() - t0;
	if (r->bad_pages)
		fail(r, "%llu of %llu data pages read back wrong, the first at data page %llu (gfn 0x%llx)",
		     r->bad_pages, b->data_pages, r->first_bad, b->data_gpa / PAGE + r->first_bad);
}

static int join_cgroup(void)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	return write_str(CGROUP "/cgroup.procs", pid);
}

static void child_main(struct guest *g)
{
	struct bench *b = g->b;
	struct gres *r = g->r;
	struct memvirt_stats st = { .size = sizeof(st) };
	u64 i, t0, next_obs;
	int err, ph;

	g->states = calloc(b->g_pages, 1);
	if (!g->states) {
		fail(r, "out of memory");
		return;
	}
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		printf("# %s guest %d: PR_SET_THP_DISABLE: %s\n", sys_names[g->s], g->idx,
		       strerror(errno));
	if (g->s == SYS_MEMVIRT) {
		snprintf(g->path, sizeof(g->path), MVFS_DIR "/guest%d", g->idx);
		unlink(g->path);
		g->fd = open(g->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (g->fd < 0) {
			fail(r, "open(%s): %s", g->path, strerror(errno));
			return;
		}
		if (ftruncate(g->fd, b->g_pages * PAGE)) {
			fail(r, "ftruncate(%s, %llu MiB): %s (budget_mb x overcommit_ratio?)",
			     g->path, b->g_mib, strerror(errno));
			return;
		}
		err = memvirt_get_stats(g->fd, &st);
		if (err) {
			fail(r, "MEMVIRT_IOC_GET_STATS: %s", strerror(-err));
			return;
		}
		r->vm_id = st.vm_id;
	} else {
		err = join_cgroup();
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
	g->khz = vm_tsc_khz(g->vm);
	/* Warm the vCPU: one untimed store to the records' first page. */
	if (vm_run_one(g->vm, 0, VMM_PROG_TOUCH, REC_GPA, REC_GPA + PAGE, 0, RUN_TIMEOUT)) {
		fail(r, "warming the vCPU: %s", vcpu_result(g->vm, 0)->msg);
		return;
	}
	r->boot_res = count_resident(g);
	__atomic_store_n(&r->ready, 1, __ATOMIC_RELEASE);

	if (!child_wait(my_fill_turn, g))
		return;
	t0 = vmm_now_ns();
	for (i = 0; i < b->data_pages; i++)
		gen_page(vm_hva(g->vm, b->data_gpa + i * PAGE), g->idx, i);
	r->fill_ns = vmm_now_ns() - t0;
	__atomic_store_n(&r->filled, 1, __ATOMIC_RELEASE);

	if (!child_wait(run_begun, g))
		return;
	next_obs = g_sh->t_run;
	for (;;) {
		ph = phase_now();
		if (ph == PH_ABORT || getppid() == 1)
			return;
		if (ph >= PH_VERIFY)
			break;
		if (ph == PH_MEASURE)
			stats_snap(g, &r->st0, &r->have_st0);
		if (vmm_now_ns() >= next_obs) {
			observe(g, ph == PH_MEASURE);
			/* after a long pass, the next second: no burst of catch-ups */
			while (next_obs <= vmm_now_ns())
				next_obs += OBS_MS * 1000000ULL;
		}
		if (g->active) {
			if (ws_pass(g, ph == PH_MEASURE))
				return;
		} else {
			sleep_ms(50);
		}
	}
	stats_snap(g, &r->st1, &r->have_st1);
	if (!child_wait(my_verify_turn, g))
		return;
	verify(g);
	__atomic_store_n(&r->verified, 1, __ATOMIC_RELEASE);
}

static void child(struct bench *b, enum sys s, int idx)
{
	struct guest g = {
		.b = b, .s = s, .idx = idx, .active = idx < NR_ACTIVE,
		.r = &b->sh->g[idx], .fd = -1,
	};

	child_main(&g);
	vm_destroy(g.vm);
	if (g.fd >= 0) {
		close(g.fd);
		unlink(g.path);
	}
	exit(g.r->failed ? 1 : 0);
}

/* ---- the parent: set up, run the four children, tear down ---- */

static const char *const knob_paths[3] = {
	MEMVIRT_SYS "/budget_mb", MEMVIRT_SYS "/overcommit_ratio",
	MEMVIRT_POLICY "/sample_period_ms",
};

static void knobs_restore(struct bench *b)
{
	int k;

	if (!b->knobs_touched)
		return;
	/* sample period first; the budget before the ratio (both only grow back) */
	for (k = 2; k >= 0; k--)
		if (b->knob_saved[k][0] && write_str(knob_paths[k], b->knob_saved[k]))
			printf("# restoring %s=%s: %s\n", knob_paths[k], b->knob_saved[k],
			       strerror(errno));
	b->knobs_touched = false;
}

static int knobs_set(struct bench *b)
{
	char val[3][32];
	unsigned long ratio;
	int k, err;

	for (k = 0; k < 3; k++)
		if (read_str(knob_paths[k], b->knob_saved[k], sizeof(b->knob_saved[k])))
			b->knob_saved[k][0] = '\0';
	b->knobs_touched = true;
	ratio = strtoul(b->knob_saved[1], NULL, 10);
	snprintf(val[0], sizeof(val[0]), "%llu", b->budget_mib);
	snprintf(val[1], sizeof(val[1]), "%lu", ratio < 200 ? 200 : ratio);
	snprintf(val[2], sizeof(val[2]), "%u", b->speriod_ms);
	for (k = 0; k < 3; k++) {
		err = write_str(knob_paths[k], val[k]);
		if (err) {
			snprintf(b->why[SYS_MEMVIRT], sizeof(b->why[SYS_MEMVIRT]),
				 "%s=%s: %s", knob_paths[k], val[k], strerror(-err));
			return err;
		}
	}
	return 0;
}

static int setup(struct bench *b, enum sys s)
{
	int err;

	if (s == SYS_SWAP) {
		/* all four guests' RAM and a margin: swap never runs out */
		err = swapfile_make(&b->swap, b->dir, SWAPFILE_NAME,
				    NR_GUESTS * b->g_pages * PAGE + 16 * MIB);
		if (err) {
			snprintf(b->why[s], sizeof(b->why[s]), "swap file %s: %s", b->swap.path,
				 strerror(-err));
			return err;
		}
		if (!read_str(ZSWAP_ENABLED, b->zswap_saved, sizeof(b->zswap_saved))) {
			b->zswap_touched = true;
			err = write_str(ZSWAP_ENABLED, "N");
			if (err) {
				snprintf(b->why[s], sizeof(b->why[s]), "zswap enabled=N: %s",
					 strerror(-err));
				return err;
			}
		}
		cgroup_rmdir(CGROUP);
		if (mkdir(CGROUP, 0755)) {
			err = -errno;
			snprintf(b->why[s], sizeof(b->why[s]), "mkdir %s: %s", CGROUP,
				 strerror(-err));
			return err;
		}
		write_str(CGROUP "/memory.swap.max", "max\n");
		return 0;
	}
	err = knobs_set(b);
	if (err)
		return err;
	err = mvfs_mount(MVFS_DIR, b->dir, b->why[s], sizeof(b->why[s]));
	if (err)
		return err;
	b->mvfs_mounted = true;
	return 0;
}

static void teardown(struct bench *b, enum sys s)
{
	char t[32];

	if (s == SYS_SWAP) {
		printf("# swap cgroup events: max=%llu high=%llu oom=%llu oom_kill=%llu\n",
		       keyed(CGROUP "/memory.events", "max"), keyed(CGROUP "/memory.events", "high"),
		       keyed(CGROUP "/memory.events", "oom"),
		       keyed(CGROUP "/memory.events", "oom_kill"));
		cgroup_rmdir(CGROUP);
		swapfile_remove(&b->swap);
		if (b->zswap_touched)
			write_str(ZSWAP_ENABLED, b->zswap_saved);
		b->zswap_touched = false;
		return;
	}
	mvfs_unmount(MVFS_DIR, &b->mvfs_mounted);
	printf("# memvirt policy at the end: state %s\n",
	       text_at(MEMVIRT_POLICY "/state", t, sizeof(t)));
	knobs_restore(b);
}

/* The children's pids, for the watch. */
static pid_t pids[NR_GUESTS];
static int nlive;

static void kill_children(void)
{
	int i;

	for (i = 0; i < NR_GUESTS; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
}

/* Reap children that ended; -EIO if one ended before it verified. */
static int reap(struct bench *b, struct result *res)
{
	int i, status, err = 0;
	pid_t w;

	for (i = 0; i < NR_GUESTS; i++) {
		if (pids[i] <= 0)
			continue;
		w = waitpid(pids[i], &status, WNOHANG);
		if (w != pids[i])
			continue;
		pids[i] = 0;
		nlive--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) ||
		    !__atomic_load_n(&b->sh->g[i].verified, __ATOMIC_ACQUIRE)) {
			if (!res->msg[0])
				snprintf(res->msg, sizeof(res->msg), "guest %d: %s", i,
					 b->sh->g[i].failed ? b->sh->g[i].msg :
					 WIFSIGNALED(status) ? "killed by a signal" :
					 "its process ended early");
			err = -EIO;
		}
	}
	return err;
}

/*
 * Wait until @cond holds for guest @i (or all when -1), watching the
 * children and the deadline. 0, or -EIO with res->msg set.
 */
static int watch(struct bench *b, struct result *res, u64 deadline, int (*cond)(struct gres *),
		 int i)
{
	int j;

	for (;;) {
		bool all = true;

		for (j = 0; j < NR_GUESTS; j++) {
			if (b->sh->g[j].failed) {
				if (!res->msg[0])
					snprintf(res->msg, sizeof(res->msg), "guest %d: %s", j,
						 b->sh->g[j].msg);
				return -EIO;
			}
			if ((i < 0 || i == j) && cond && !cond(&b->sh->g[j]))
				all = false;
		}
		if (reap(b, res))
			return -EIO;
		if (cond && all)
			return 0;
		if (vmm_now_ns() >= deadline) {
			if (cond) {
				snprintf(res->msg, sizeof(res->msg),
					 "not done after %u s (-T, -u, -t): killed",
					 b->timeout_s + b->warmup_s + b->t_s);
				return -EIO;
			}
			return 0;
		}
		sleep_ms(20);
	}
}

static int is_ready(struct gres *r)
{
	return __atomic_load_n(&r->ready, __ATOMIC_ACQUIRE);
}

static int is_filled(struct gres *r)
{
	return __atomic_load_n(&r->filled, __ATOMIC_ACQUIRE);
}

static int is_verified(struct gres *r)
{
	return __atomic_load_n(&r->verified, __ATOMIC_ACQUIRE);
}

static void set_phase(struct bench *b, int ph)
{
	__atomic_store_n(&b->sh->phase, ph, __ATOMIC_RELEASE);
}

static void set_turn(struct bench *b, int t)
{
	__atomic_store_n(&b->sh->turn, t, __ATOMIC_RELEASE);
}

/* The baseline's memory.max: the budget plus the VMM's own overhead. */
static int set_mem_max(struct bench *b, struct result *res)
{
	char buf[64];
	u64 cur, guest = 0;
	int i, err;

	if (read_str(CGROUP "/memory.current", buf, sizeof(buf)))
		return -errno;
	cur = strtoull(buf, NULL, 10);
	for (i = 0; i < NR_GUESTS; i++)
		guest += b->sh->g[i].boot_res * PAGE;
	res->overhead = cur > guest ? cur - guest : 0;
	res->pt_allow = NR_GUESTS * b->g_pages * 16;
	res->mem_max = b->budget_mib * MIB + res->overhead + res->pt_allow;
	snprintf(buf, sizeof(buf), "%llu\n", res->mem_max);
	err = write_str(CGROUP "/memory.max", buf);
	printf("# swap: memory.current %llu KiB before the fill, %llu KiB of it guest RAM: memory.max = %llu MiB + %llu KiB overhead + %llu KiB page tables = %llu KiB\n",
	       cur / 1024, guest / 1024, b->budget_mib, res->overhead / 1024, res->pt_allow / 1024,
	       res->mem_max / 1024);
	return err;
}

static int run_phases(struct bench *b, enum sys s, struct result *res)
{
	u64 t0, deadline = vmm_now_ns() + (u64)(b->timeout_s + b->warmup_s + b->t_s) * NSEC;
	int k, i, err;

	err = watch(b, res, deadline, is_ready, -1);
	if (err)
		return err;
	if (s == SYS_SWAP) {
		err = set_mem_max(b, res);
		if (err) {
			snprintf(res->msg, sizeof(res->msg), "memory.max: %s", strerror(-err));
			return err;
		}
	}
	set_phase(b, PH_FILL);
	for (k = 0; k < NR_GUESTS; k++) {
		i = fill_order[k];
		set_turn(b, i);
		err = watch(b, res, deadline, is_filled, i);
		if (err)
			return err;
		printf("# %s: guest %d (%s) filled %llu MiB in %.1f s\n", sys_names[s], i,
		       i < NR_ACTIVE ? "active" : "idle", b->data_pages * PAGE / MIB,
		       b->sh->g[i].fill_ns / 1e9);
	}
	b->sh->t_run = vmm_now_ns();
	set_phase(b, PH_RUN);
	t0 = vmm_now_ns();
	err = watch(b, res, t0 + (u64)b->warmup_s * NSEC, NULL, -1);
	if (err)
		return err;
	take_hsnap(b, s, &res->h0);
	set_phase(b, PH_MEASURE);
	err = watch(b, res, res->h0.t + (u64)b->t_s * NSEC, NULL, -1);
	if (err)
		return err;
	take_hsnap(b, s, &res->h1);
	if (s == SYS_SWAP) {
		char cur[32], swp[32];

		printf("# swap cgroup at the end of the window: memory.current %s memory.swap.current %s; memory.stat anon=%llu kernel=%llu kernel_stack=%llu pagetables=%llu sec_pagetables=%llu file=%llu\n",
		       text_at(CGROUP "/memory.current", cur, sizeof(cur)),
		       text_at(CGROUP "/memory.swap.current", swp, sizeof(swp)),
		       keyed(CGROUP "/memory.stat", "anon"), keyed(CGROUP "/memory.stat", "kernel"),
		       keyed(CGROUP "/memory.stat", "kernel_stack"),
		       keyed(CGROUP "/memory.stat", "pagetables"),
		       keyed(CGROUP "/memory.stat", "sec_pagetables"),
		       keyed(CGROUP "/memory.stat", "file"));
	}
	set_phase(b, PH_VERIFY);
	for (k = 0; k < NR_GUESTS; k++) {
		set_turn(b, k + NR_GUESTS);
		err = watch(b, res, deadline, is_verified, k);
		if (err)
			return err;
	}
	return 0;
}

static int run_one(struct bench *b, enum sys s)
{
	struct result *res = &b->res[s];
	struct obs *obs;
	int i, err;
	u64 t0;

	memset(b->sh, 0, b->sh_len);
	obs = (struct obs *)(b->sh + 1);
	for (i = 0; i < NR_GUESTS; i++)
		b->sh->g[i].obs = obs + (size_t)i * b->max_obs;
	g_sh = b->sh;
	printf("# %s: %d guests of %llu MiB (%d active, working set %u%% = %llu pages each), budget %llu MiB\n",
	       sys_names[s], NR_GUESTS, b->g_mib, NR_ACTIVE, b->wss_pct, b->ws_pages,
	       b->budget_mib);
	fflush(stdout);
	res->ran = true;
	nlive = 0;
	for (i = 0; i < NR_GUESTS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			snprintf(res->msg, sizeof(res->msg), "fork: %s", strerror(errno));
			pids[i] = 0;
			break;
		}
		if (!pids[i])
			child(b, s, i);
		nlive++;
	}
	err = nlive == NR_GUESTS ? run_phases(b, s, res) : -EIO;
	if (err) {
		set_phase(b, PH_ABORT);
		t0 = vmm_now_ns();
		while (nlive && vmm_now_ns() - t0 < 10 * NSEC) {
			reap(b, res);
			sleep_ms(50);
		}
		kill_children();
	}
	t0 = vmm_now_ns();
	while (nlive && vmm_now_ns() - t0 < 60 * NSEC) {
		if (reap(b, res))
			err = -EIO;
		sleep_ms(20);
	}
	if (nlive) {
		printf("# %s: %d guest processes still not gone\n", sys_names[s], nlive);
		err = -EIO;
	}
	for (i = 0; i < NR_GUESTS; i++) {
		res->g[i] = b->sh->g[i];
		res->g[i].obs = malloc((size_t)b->max_obs * sizeof(struct obs));
		if (res->g[i].obs)
			memcpy(res->g[i].obs, b->sh->g[i].obs,
			       (size_t)b->max_obs * sizeof(struct obs));
		else
			res->g[i].nobs = 0;
	}
	res->ok = !err;
	if (err)
		printf("# %s failed: %s\n", sys_names[s], res->msg);
	return err;
}

/* ---- figures ---- */

static bool have(const struct bench *b, enum sys s)
{
	return b->res[s].ran && b->res[s].ok;
}

static double active_res_pct(const struct bench *b, enum sys s)
{
	u64 sum = 0, n = 0;
	int i;

	if (!have(b, s))
		return -1;
	for (i = 0; i < NR_ACTIVE; i++) {
		sum += b->res[s].g[i].ws_res_sum;
		n += b->res[s].g[i].ws_checks * b->ws_pages;
	}
	return n ? 100.0 * sum / n : -1;
}

/* Mean over the window's observations of guest @i's RAM resident, percent. */
static double guest_ram_pct(const struct bench *b, enum sys s, int i)
{
	const struct gres *g = &b->res[s].g[i];
	double sum = 0;
	u32 k, n = 0;

	for (k = 0; k < g->nobs; k++)
		if (g->obs[k].measuring) {
			sum += g->obs[k].ram_res;
			n++;
		}
	return n ? 100.0 * sum / n / b->g_pages : -1;
}

static double idle_res_pct(const struct bench *b, enum sys s)
{
	double sum = 0, v;
	int i;

	if (!have(b, s))
		return -1;
	for (i = NR_ACTIVE; i < NR_GUESTS; i++) {
		v = guest_ram_pct(b, s, i);
		if (v < 0)
			return -1;
		sum += v;
	}
	return sum / (NR_GUESTS - NR_ACTIVE);
}

static double guest_pages_s(const struct bench *b, enum sys s, int i)
{
	const struct gres *g = &b->res[s].g[i];

	return g->t_last > g->t_first ? g->pages * 1e9 / (g->t_last - g->t_first) : -1;
}

static double pages_s(const struct bench *b, enum sys s)
{
	double sum = 0, v;
	int i;

	if (!have(b, s))
		return -1;
	for (i = 0; i < NR_ACTIVE; i++) {
		v = guest_pages_s(b, s, i);
		if (v < 0)
			return -1;
		sum += v;
	}
	return sum;
}

/* Percent of one CPU the policy thread took over the window. */
static double policy_cpu_pct(const struct bench *b)
{
	const struct result *r = &b->res[SYS_MEMVIRT];
	u64 wall = r->h1.t - r->h0.t;

	if (!have(b, SYS_MEMVIRT) || !wall || !r->h1.policy_ns)
		return -1;
	/* The policy's overhead: reclaim's own work is what any reclaimer pays. */
	return 100.0 * (r->h1.policy_ns - r->h0.policy_ns -
			(r->h1.reclaim_ns - r->h0.reclaim_ns)) / wall;
}

static double scale_100gib(const struct bench *b)
{
	return 100.0 * GIB / (NR_GUESTS * b->g_mib * MIB);
}

static double obs_truth(const struct obs *o, bool active)
{
	return active && o->priv ? 100.0 * o->touched / o->priv : 0;
}

/*
 * Guest @i's mean |estimate - truth| over the window, and the largest;
 * -1 if it closed fewer than MIN_PERIODS periods by then.
 */
static double est_err(const struct bench *b, int i, double *max_err, double *mean_est,
		      double *mean_true, const struct obs **worst)
{
	const struct gres *g = &b->res[SYS_MEMVIRT].g[i];
	double sum = 0, e, t;
	u32 k, n = 0;

	*max_err = *mean_est = *mean_true = 0;
	*worst = NULL;
	for (k = 0; k < g->nobs; k++) {
		const struct obs *o = &g->obs[k];

		if (!o->measuring)
			continue;
		if (o->periods < MIN_PERIODS)
			return -1;
		t = obs_truth(o, i < NR_ACTIVE);
		e = o->est > t ? o->est - t : t - o->est;
		sum += e;
		*mean_est += o->est;
		*mean_true += t;
		if (e > *max_err || !*worst) {
			*max_err = e;
			*worst = o;
		}
		n++;
	}
	if (!n)
		return -1;
	*mean_est /= n;
	*mean_true /= n;
	return sum / n;
}

static double estimate_err(const struct bench *b)
{
	double worst = 0, e, m, me, mt;
	const struct obs *w;
	int i;

	if (!have(b, SYS_MEMVIRT))
		return -1;
	for (i = 0; i < NR_GUESTS; i++) {
		e = est_err(b, i, &m, &me, &mt, &w);
		if (e < 0)
			return -1;
		if (e > worst)
			worst = e;
	}
	return worst;
}

/* Guest @i's last observation at or before @t_ms (its first if none). */
static const struct obs *obs_at(const struct gres *g, u32 t_ms)
{
	u32 k;

	for (k = 1; k < g->nobs && g->obs[k].t_ms <= t_ms; k++)
		;
	return &g->obs[k - 1];
}

static void print_series(const struct bench *b, enum sys s)
{
	const struct result *r = &b->res[s];
	u32 t, end = 0;
	int i;

	for (i = 0; i < NR_GUESTS; i++) {
		if (!r->g[i].nobs)
			return;
		if (r->g[i].obs[r->g[i].nobs - 1].t_ms > end)
			end = r->g[i].obs[r->g[i].nobs - 1].t_ms;
	}
	printf("# %s every 5 s since the run began (each guest's last observation by then): per guest (a = active, i = idle) RAM resident %%, working set resident %%%s\n",
	       sys_names[s], s == SYS_MEMVIRT ?
	       ", active_estimate/truth %, target and charge in pages, sample periods closed" : "");
	for (t = 0; t <= end + 999; t += 5000) {
		char line[1024];
		int at;

		at = snprintf(line, sizeof(line), "#  %s t=%3us", sys_names[s], t / 1000);
		for (i = 0; i < NR_GUESTS && at < (int)sizeof(line); i++) {
			const struct obs *o = obs_at(&r->g[i], t + 999);

			at += snprintf(line + at, sizeof(line) - at, " | %c%d res %5.1f ws %5.1f",
				       i < NR_ACTIVE ? 'a' : 'i', i,
				       100.0 * o->ram_res / b->g_pages,
				       100.0 * o->ws_res / b->ws_pages);
			if (s == SYS_MEMVIRT && at < (int)sizeof(line))
				at += snprintf(line + at, sizeof(line) - at,
					       " est %3u/%3.0f tgt %u chg %u p%u", o->est,
					       obs_truth(o, i < NR_ACTIVE), o->target, o->charge,
					       o->periods);
		}
		printf("%s%s\n", line, t >= b->warmup_s * 1000 ? " (measured)" : "");
	}
}

static void print_counters(const struct bench *b, enum sys s)
{
	const struct result *r = &b->res[s];
	const struct hsnap *a = &r->h0, *e = &r->h1;
	double wall = (e->t - a->t) / 1e9;
	int i;

	if (!r->ran)
		return;
	for (i = 0; i < NR_GUESTS; i++) {
		const struct gres *g = &r->g[i];

		printf("# %s guest %d (%s): fill %.1f s, verify %.1f s, %llu passes in all",
		       sys_names[s], i, i < NR_ACTIVE ? "active" : "idle", g->fill_ns / 1e9,
		       g->verify_ns / 1e9, g->all_passes);
		if (i < NR_ACTIVE && g->passes)
			printf("; window: %llu passes, %.0f pages/s, working set resident %.1f%%, swap-ins %llu, vCPU run %.1f s, timed stores %.1f s, %llu stores to resident pages over %d us taking %.2f s",
			       g->passes, guest_pages_s(b, s, i),
			       100.0 * g->ws_res_sum / (g->ws_checks * b->ws_pages), g->swapins,
			       g->run_ns / 1e9, g->store_ns / 1e9, g->slow_res, SLOW_NS / 1000,
			       g->slow_res_ns / 1e9);
		printf("; RAM resident %.1f%% in the window\n", guest_ram_pct(b, s, i));
		if (s == SYS_MEMVIRT && g->have_st0 && g->have_st1)
			printf("#   memvirt vm %llu window: faults=%llu swap_ins=%llu swap_outs=%llu reclaimed=%llu compress_rejects=%llu; at the end resident=%llu compressed=%llu swapped=%llu zero=%llu shared=%llu\n",
			       g->vm_id, g->st1.faults - g->st0.faults,
			       g->st1.swap_ins - g->st0.swap_ins,
			       g->st1.swap_outs - g->st0.swap_outs,
			       g->st1.reclaimed - g->st0.reclaimed,
			       g->st1.compress_rejects - g->st0.compress_rejects, g->st1.resident,
			       g->st1.compressed, g->st1.swapped, g->st1.zero, g->st1.shared);
	}
	printf("# %s window %.1f s: pswpin=%llu pswpout=%llu disk read %.1f MiB written %.1f MiB\n",
	       sys_names[s], wall, e->pswpin - a->pswpin, e->pswpout - a->pswpout,
	       (e->disk_rd - a->disk_rd) * 512.0 / MIB, (e->disk_wr - a->disk_wr) * 512.0 / MIB);
	if (s != SYS_MEMVIRT)
		return;
	printf("# memvirt policy window: policy_ns=%llu sample_ns=%llu samples=%llu sample_periods=%llu transitions=%llu low_waits=%llu; state ms high=%llu soft=%llu hard=%llu low=%llu\n",
	       e->policy_ns - a->policy_ns, e->sample_ns - a->sample_ns, e->samples - a->samples,
	       e->sample_periods - a->sample_periods, e->transitions - a->transitions,
	       e->low_waits - a->low_waits, e->state_ms[0] - a->state_ms[0],
	       e->state_ms[1] - a->state_ms[1], e->state_ms[2] - a->state_ms[2],
	       e->state_ms[3] - a->state_ms[3]);
	if (wall > 0)
		printf("# memvirt policy cost: policy_ns %.4f%% of a CPU (sample_ns %.4f%%, included in it; policy_ns + sample_ns = %.4f%%); x %.0f for 100 GiB: %.3f%% (%.3f%% if sample_ns is added again)\n",
		       (e->policy_ns - a->policy_ns) / wall / 1e7,
		       (e->sample_ns - a->sample_ns) / wall / 1e7,
		       (e->policy_ns - a->policy_ns + e->sample_ns - a->sample_ns) / wall / 1e7,
		       scale_100gib(b), (e->policy_ns - a->policy_ns) / wall / 1e7 * scale_100gib(b),
		       (e->policy_ns - a->policy_ns + e->sample_ns - a->sample_ns) / wall / 1e7 *
		       scale_100gib(b));
	if (wall > 0 && e->samples > a->samples)
		printf("# memvirt policy cost per VM: %.4f%% of a CPU; %.1f us of sample_ns per sampled gfn (%llu gfns); sampling's cost grows with the number of VMs, sample_size and 1 / sample_period_ms, not with their RAM: 100 GiB in four VMs of 25 GiB would cost the measured %.4f%%, the scaled figure assumes %.0f times as many VMs\n",
		       (e->policy_ns - a->policy_ns) / wall / 1e7 / NR_GUESTS,
		       (e->sample_ns - a->sample_ns) / 1e3 / (e->samples - a->samples),
		       e->samples - a->samples, (e->policy_ns - a->policy_ns) / wall / 1e7,
		       scale_100gib(b));
	if (wall > 0 && b->speriod_ms != 30000)
		printf("# memvirt policy cost at the default sample_period_ms 30000 (sample_ns scaled by %u / 30000, the rest as measured): %.4f%% of a CPU, x %.0f: %.3f%%\n",
		       b->speriod_ms, ((e->policy_ns - a->policy_ns) - (e->sample_ns - a->sample_ns) +
				       (e->sample_ns - a->sample_ns) * b->speriod_ms / 30000.0) /
		       wall / 1e7, scale_100gib(b),
		       ((e->policy_ns - a->policy_ns) - (e->sample_ns - a->sample_ns) +
			(e->sample_ns - a->sample_ns) * b->speriod_ms / 30000.0) / wall / 1e7 *
		       scale_100gib(b));
	for (i = 0; i < NR_GUESTS; i++) {
		const struct obs *w;
		double m, me, mt, err = est_err(b, i, &m, &me, &mt, &w);

		if (err < 0)
			printf("# memvirt guest %d: estimate error na (fewer than %d sample periods closed before the window, or no observation)\n",
			       i, MIN_PERIODS);
		else
			printf("# memvirt guest %d (%s): active_estimate mean %.1f%% vs truth %.1f%% (working set %.1f%% of RAM); |error| mean %.1f max %.1f points, at t=%.1f s: estimate %u (slow %u fast %u period %u) truth %.1f, %u periods closed\n",
			       i, i < NR_ACTIVE ? "active" : "idle", me, mt,
			       i < NR_ACTIVE ? 100.0 * b->ws_pages / b->g_pages : 0.0, err, m,
			       w->t_ms / 1e3, w->est, w->slow, w->fast, w->period,
			       obs_truth(w, i < NR_ACTIVE), w->periods);
	}
}

static void row(const char *name, double m, double s, const char *f)
{
	printf("%-34s", name);
	cell(m, f, 12);
	cell(s, f, 12);
	cell(m >= 0 && s > 0 ? m / s : -1, "%.2f", 14);
	printf("\n");
}

static double swapins(const struct bench *b, enum sys s)
{
	u64 n = 0;
	int i;

	if (!have(b, s))
		return -1;
	for (i = 0; i < NR_ACTIVE; i++)
		n += b->res[s].g[i].swapins;
	return n;
}

static void print_table(const struct bench *b)
{
	printf("policy_bench: %d guests x %llu MiB (%d active with a %u%% working set, %d idle), budget %llu MiB, sample period %u ms, warm-up %u s, window %u s\n",
	       NR_GUESTS, b->g_mib, NR_ACTIVE, b->wss_pct, NR_GUESTS - NR_ACTIVE, b->budget_mib,
	       b->speriod_ms, b->warmup_s, b->t_s);
	printf("%-34s%12s%12s%14s\n", "", "memvirt", "swap", "memvirt/swap");
	row("active working set resident %", active_res_pct(b, SYS_MEMVIRT),
	    active_res_pct(b, SYS_SWAP), "%.1f");
	row("idle RAM resident %", idle_res_pct(b, SYS_MEMVIRT), idle_res_pct(b, SYS_SWAP),
	    "%.1f");
	row("active pages touched per s", pages_s(b, SYS_MEMVIRT), pages_s(b, SYS_SWAP), "%.0f");
	row("active swap-ins", swapins(b, SYS_MEMVIRT), swapins(b, SYS_SWAP), "%.0f");
	row("policy % of a CPU per 100 GiB", policy_cpu_pct(b) < 0 ? -1 :
	    policy_cpu_pct(b) * scale_100gib(b), -1, "%.3f");
	row("estimate |error| points (worst VM)", estimate_err(b), -1, "%.1f");
}

static void print_machine(const struct bench *b)
{
	double mp = pages_s(b, SYS_MEMVIRT), sp = pages_s(b, SYS_SWAP), cpu = policy_cpu_pct(b);
	char v[10][32];

	fmt(v[0], 32, active_res_pct(b, SYS_MEMVIRT), "%.1f");
	fmt(v[1], 32, active_res_pct(b, SYS_SWAP), "%.1f");
	fmt(v[2], 32, idle_res_pct(b, SYS_MEMVIRT), "%.1f");
	fmt(v[3], 32, idle_res_pct(b, SYS_SWAP), "%.1f");
	fmt(v[4], 32, mp, "%.0f");
	fmt(v[5], 32, sp, "%.0f");
	fmt(v[6], 32, cpu < 0 ? -1 : cpu * scale_100gib(b), "%.3f");
	fmt(v[7], 32, estimate_err(b), "%.1f");
	fmt(v[8], 32, mp >= 0 && sp > 0 ? mp / sp : -1, "%.2f");
	if (have(b, SYS_MEMVIRT) && cpu < 0)
		printf("# policy_cpu_pct_per_100gib na: no policy_ns in " MEMVIRT_POLICY "\n");
	if (have(b, SYS_MEMVIRT) && estimate_err(b) < 0)
		printf("# estimate_err_pts na: a VM had closed fewer than %d sample periods in the window (-u, -p)\n",
		       MIN_PERIODS);
	printf("bench: policy guests=%d guest_mib=%llu budget_mib=%llu wss_pct=%u memvirt_active_resident_pct=%s swap_active_resident_pct=%s memvirt_idle_resident_pct=%s swap_idle_resident_pct=%s memvirt_pages_s=%s swap_pages_s=%s policy_cpu_pct_per_100gib=%s estimate_err_pts=%s ratio=%s\n",
	       NR_GUESTS, b->g_mib, b->budget_mib, b->wss_pct, v[0], v[1], v[2], v[3], v[4], v[5],
	       v[6], v[7], v[8]);
}

/* ---- setup ---- */

static int probe(struct bench *b)
{
	char t[4][32];
	dev_t dev;
	int s;

	if (probe_swap_disk("policy_bench", b->dir, &dev))
		return -ENODEV;
	snprintf(b->disk_stat, sizeof(b->disk_stat), "/sys/dev/block/%u:%u/stat", major(dev),
		 minor(dev));
	for (s = 0; s < NR_SYS; s++)
		b->avail[s] = b->want[s];
	if (!cgroup_memory_on()) {
		snprintf(b->why[SYS_SWAP], sizeof(b->why[SYS_SWAP]),
			 "no cgroup2 memory controller at " CGROUP_ROOT);
		b->avail[SYS_SWAP] = false;
	}
	if (access(MEMVIRT_POLICY "/policy_ns", F_OK)) {
		snprintf(b->why[SYS_MEMVIRT], sizeof(b->why[SYS_MEMVIRT]),
			 MEMVIRT_POLICY "/policy_ns: %s (memvirt not loaded, or without its policy)",
			 strerror(errno));
		b->avail[SYS_MEMVIRT] = false;
	} else if (access(MEMVIRT_SWAP, F_OK)) {
		snprintf(b->why[SYS_MEMVIRT], sizeof(b->why[SYS_MEMVIRT]),
			 MEMVIRT_SWAP ": %s (memvirt without compression and swap)",
			 strerror(errno));
		b->avail[SYS_MEMVIRT] = false;
	}
	for (s = 0; s < NR_SYS; s++)
		if (b->want[s] && !b->avail[s])
			printf("# %s unavailable: %s\n", sys_names[s], b->why[s]);
	note_other_swaps();
	if (b->avail[SYS_MEMVIRT])
		printf("# memvirt policy knobs: period_ms %s, idle_tax %s, sample_size %s, free_pct high/soft/hard/low %s/",
		       text_at(MEMVIRT_POLICY "/period_ms", t[0], sizeof(t[0])),
		       text_at(MEMVIRT_POLICY "/idle_tax", t[1], sizeof(t[1])),
		       text_at(MEMVIRT_POLICY "/sample_size", t[2], sizeof(t[2])),
		       text_at(MEMVIRT_POLICY "/free_high_pct", t[3], sizeof(t[3])));
	if (b->avail[SYS_MEMVIRT])
		printf("%s/%s/%s; swap cache_percent %s (sample_period_ms set to %u for the run)\n",
		       text_at(MEMVIRT_POLICY "/free_soft_pct", t[0], sizeof(t[0])),
		       text_at(MEMVIRT_POLICY "/free_hard_pct", t[1], sizeof(t[1])),
		       text_at(MEMVIRT_POLICY "/free_low_pct", t[2], sizeof(t[2])),
		       text_at(MEMVIRT_SWAP "/cache_percent", t[3], sizeof(t[3])), b->speriod_ms);
	printf("# layout: guest RAM %llu pages; test VMM below 0x%llx; timed-store records 0x%llx..0x%llx; data 0x%llx.. (%llu pages), working set its first %llu pages\n",
	       b->g_pages, (u64)REC_GPA, (u64)REC_GPA, b->data_gpa, b->data_gpa, b->data_pages,
	       b->ws_pages);
	return 0;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-g MiB] [-w pct] [-t s] [-u s] [-p ms] [-T s] [-d dir] [-s systems]\n"
		"  -g  each guest's RAM, %d..%d MiB, even (default %d); the budget is twice it\n"
		"  -w  active guests' working set, %d..%d%% of their RAM (default %d)\n"
		"  -t  measured seconds, 1..%d (default %d)\n"
		"  -u  warm-up seconds before them (default %d)\n"
		"  -p  memvirt's sample_period_ms for the run, 100..3600000 (default %d)\n"
		"  -T  most seconds per system besides -u and -t (default %d)\n"
		"  -d  directory on the swap disk (default %s)\n"
		"  -s  systems to run, comma-separated: memvirt,swap (default both)\n",
		prog, MIN_G, MAX_G, DEFAULT_G, MIN_W, MAX_W, DEFAULT_W, MAX_T, DEFAULT_T,
		DEFAULT_WARMUP, DEFAULT_SPERIOD, DEFAULT_TIMEOUT, DEFAULT_DIR);
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
	unsigned long g = DEFAULT_G, w = DEFAULT_W;
	int opt, s;

	b->t_s = DEFAULT_T;
	b->warmup_s = DEFAULT_WARMUP;
	b->speriod_ms = DEFAULT_SPERIOD;
	b->timeout_s = DEFAULT_TIMEOUT;
	b->dir = DEFAULT_DIR;
	for (s = 0; s < NR_SYS; s++)
		b->want[s] = true;
	while ((opt = getopt(argc, argv, "g:w:t:u:p:T:d:s:h")) != -1) {
		switch (opt) {
		case 'g':
			g = num(optarg, argv[0]);
			break;
		case 'w':
			w = num(optarg, argv[0]);
			break;
		case 't':
			b->t_s = num(optarg, argv[0]);
			break;
		case 'u':
			b->warmup_s = num(optarg, argv[0]);
			break;
		case 'p':
			b->speriod_ms = num(optarg, argv[0]);
			break;
		case 'T':
			b->timeout_s = num(optarg, argv[0]);
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
	if (g < MIN_G || g > MAX_G || g % 2 || w < MIN_W || w > MAX_W || !b->t_s ||
	    b->t_s > MAX_T || b->warmup_s > MAX_T || b->speriod_ms < 100 ||
	    b->speriod_ms > 3600000 || !b->timeout_s || optind != argc)
		print_usage(argv[0]);
	b->g_mib = g;
	b->budget_mib = 2 * g;
	b->wss_pct = w;
	b->g_pages = g * MIB / PAGE;
	b->ws_pages = b->g_pages * w / 100;
	b->data_gpa = REC_GPA + (b->ws_pages * 8 + PAGE - 1) / PAGE * PAGE;
	b->data_pages = b->g_pages - b->data_gpa / PAGE;
	b->ws_end_gfn = b->data_gpa / PAGE + b->ws_pages;
	b->max_obs = (b->warmup_s + b->t_s) * 1000 / OBS_MS + 16;
}

int main(int argc, char **argv)
{
	static struct bench b;
	int s, err = 0;
	void *mem;

	parse_args(&b, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Shared with the children, touched here: the parent is charged for it. */
	b.sh_len = sizeof(struct shared) + (size_t)NR_GUESTS * b.max_obs * sizeof(struct obs);
	b.sh_len = (b.sh_len + PAGE - 1) & ~(PAGE - 1);
	mem = mmap(NULL, b.sh_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "policy_bench: mmap of %zu bytes: %s\n", b.sh_len, strerror(errno));
		return 1;
	}
	memset(mem, 0, b.sh_len);
	b.sh = mem;
	if (probe(&b))
		return 1;
	/* the baseline first: memvirt's knobs are changed only for its own run */
	for (s = NR_SYS - 1; s >= 0; s--) {
		if (!b.avail[s])
			continue;
		if (setup(&b, s)) {
			printf("# %s unavailable: %s\n", sys_names[s], b.why[s]);
			b.avail[s] = false;
			err = -EIO;
			teardown(&b, s);
			continue;
		}
		if (run_one(&b, s))
			err = -EIO;
		teardown(&b, s);
		print_series(&b, s);
		print_counters(&b, s);
	}
	if (b.want[SYS_SWAP] && !b.avail[SYS_SWAP])
		err = -EIO;	/* the baseline could not be measured */
	print_table(&b);
	print_machine(&b);
	return err ? 1 : 0;
}
