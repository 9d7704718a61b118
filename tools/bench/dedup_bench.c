// SPDX-License-Identifier: GPL-2.0
/*
 * dedup_bench.c - content-based page sharing: memvirt's scanner versus the
 * kernel's KSM, on the same guest content and the same scan rate.
 *
 * A fleet of N one-vCPU test VMs (selftests/lib) of M MiB of content each:
 *   memvirt  each guest's RAM is a memvirtfs file, all in sharing domain 1;
 *            the scanner is the "memvirt_dedup" kthread
 *            (/sys/kernel/memvirt/dedup/);
 *   ksm      each guest's RAM is anonymous memory of this process, marked
 *            MADV_MERGEABLE; the scanner is "ksmd" (/sys/kernel/mm/ksm/).
 * Transparent huge pages are off for this process (PR_SET_THP_DISABLE):
 * both scanners see the same 4 KiB pages. The host fills every guest with
 * the same content: page i of the content is, by a seeded rule,
 * "identical" (the same bytes at the same offset in every guest, different
 * from every other page), "zero" or "unique" to its guest. Scenario
 * "mixed" uses the -i/-z shares (default 70% identical, 10% zero, 20%
 * unique); scenario "identical" is ten guests of 95% identical and 5%
 * unique content.
 *
 * Both scanners get the same rate (pages_to_scan, sleep_millisecs; memvirt
 * cpu_percent 100 so that only the rate limits it) and run from the moment
 * they are switched on until steady state: two full scans (the scanner's
 * full_scans counter) without any change of the pages merged (or, for a
 * scanner that stops counting full scans, 30 s without a change), or a
 * timeout (-t). Figures:
 *   merged     pages merged at steady state: memvirt dedup/saved plus
 *              dedup/zero (pages freed as all-zero), KSM pages_sharing
 *              (plus ksm_zero_pages where the kernel has it);
 *   cpu        the scanning thread's CPU time (/proc/PID/schedstat) from
 *              switching it on to the last change of merged;
 *   merged/cpu merged per CPU-second;
 *   steady     seconds from switching on to the last change of merged;
 *   saved      merged in percent of the guests' content pages, next to
 *              what the content allows;
 *   slowdown   at steady state, guest 0 reads all its content (-l times
 *              VMM_PROG_READ_ZERO) with the scanner on and with it off,
 *              interleaved -r times: median(on) / median(off) - 1, percent;
 *   unread cow the same in guest 1, which read nothing since the merge
 *              (memvirt: its shared gfns are mapped nowhere, so the write
 *              is one fault; KSM: the pages stay mapped read-only);
 *   cow        then, scanner off, guest 0 writes one byte per page of its
 *              content (VMM_PROG_TOUCH_TIMED, rdtsc per store): median ns
 *              over the pages that were shared before (memvirt:
 *              MEMVIRT_GFN_SHARED in MEMVIRT_IOC_QUERY_RANGE, KSM: KPF_KSM
 *              in /proc/kpageflags); first touch: the same over pages of
 *              guest 0 nothing ever touched.
 * The mixed scenario is scanned -e times (default 3) by each scanner,
 * alternating, memvirt first; slowdown and cow are measured after the
 * first scan; then the identical scenario once by each. Every fleet is torn
 * down before the next (files removed; KSM: VMs unmapped and run=2). The
 * table shows both side by side with memvirt/ksm (medians over the scans),
 * each scan's counters are on a "#" line before it, and the last line is
 * fixed-format (one line):
 *   bench: dedup guests=N mib=M memvirt_merged_per_cpu_s=X
 *          ksm_merged_per_cpu_s=X memvirt_steady_s=X ksm_steady_s=X
 *          memvirt_saved_pct=X ksm_saved_pct=X identical10_saved_pct=X
 *          ksm_identical10_saved_pct=X slowdown_pct=X ksm_slowdown_pct=X
 *          cow_ns=X first_touch_ns=X cow_ratio=X unread_cow_ns=X
 *          unread_cow_ratio=X ratio=R
 * with cow_ns, first_touch_ns and cow_ratio (their quotient) memvirt's and
 * R = memvirt_merged_per_cpu_s / ksm_merged_per_cpu_s ("na" where a figure
 * could not be measured). Without KSM (/sys/kernel/mm/ksm) it says so and
 * exits 1; without memvirt page sharing its figures are "na" and a "#"
 * line says why. Exit 0 unless a measurement failed, 2 for bad options.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "backing.h"
#include "bench.h"
#include "vmm.h"

#define MIB		(1ULL << 20)
#define KSM_DIR		"/sys/kernel/mm/ksm"
#define DEDUP_DIR	"/sys/kernel/memvirt/dedup"
#define MAX_GUESTS	32
#define MAX_REPS	16
#define IDENT_GUESTS	10
#define IDENT_PCT	95
#define DOMAIN		1
#define POLL_MS		100
#define STEADY_SCANS	2
#define QUIET_S		30
#define SCRATCH_MIB	4
#define DEFAULT_GUESTS	10
#define DEFAULT_MIB	32
#define DEFAULT_IDENT	70
#define DEFAULT_ZERO	10
#define DEFAULT_PAGES	1000
#define DEFAULT_SLEEP	20
#define DEFAULT_REPS	5
#define DEFAULT_SCANS	3
#define DEFAULT_LOOPS	16
#define DEFAULT_TIMEOUT	120
#define RUN_TIMEOUT	300
#define SEED_IDENT	0x1de47ULL
#define SEED_UNIQUE	0x47a1eULL
#define SEED_CLASS	0xc1a55ULL
#define KPF_KSM		21
#define PM_PRESENT	(1ULL << 63)
#define PM_PFN_MASK	((1ULL << 55) - 1)

enum sys { SYS_MEMVIRT, SYS_KSM, NR_SYS };
enum scen { SCEN_MIXED, SCEN_IDENT, NR_SCEN };
enum cls { CLS_IDENT, CLS_ZERO, CLS_UNIQUE };

static const char *const sys_names[NR_SYS] = { "memvirt", "ksm" };
static const char *const scen_names[NR_SCEN] = { "mixed", "identical" };

/* The scanning kthread and the knobs of each system. */
static const struct {
	const char *dir;
	const char *thread;
} sys_info[NR_SYS] = {
	[SYS_MEMVIRT] = { DEDUP_DIR, "memvirt_dedup" },
	[SYS_KSM] = { KSM_DIR, "ksmd" },
};

/* One scan to steady state. */
struct one {
	bool steady;		/* reached steady state before the timeout */
	u64 merged;
	u64 cpu_ns;
	u64 steady_ns;
	u64 scans;		/* full scans until stopped */
};

/* The scans of one scenario on one system. */
struct scan {
	int n;
	struct one r[MAX_REPS];
	u64 expected;		/* pages the content allows to merge */
	u64 pages;		/* content pages of all guests */
};

enum fig { FIG_MERGED, FIG_CPU_S, FIG_PER_CPU_S, FIG_STEADY_S, FIG_SCANS, FIG_SAVED_PCT };

struct bench {
	int guests;
	u64 content;		/* bytes of content per guest */
	int ident_pct, zero_pct;
	u64 pages_to_scan, sleep_ms;
	int reps, loops, scan_reps;
	unsigned int timeout_s;
	bool avail[NR_SYS];
	struct scan scan[NR_SYS][NR_SCEN];
	double on_ns[NR_SYS][MAX_REPS], off_ns[NR_SYS][MAX_REPS];
	int n_slow[NR_SYS];
	double cow_ns[NR_SYS], first_ns[NR_SYS];
	u64 cow_pages[NR_SYS];
	/* The same in guest 1, whose shared pages nothing read since the merge. */
	double fresh_ns[NR_SYS], fresh_first_ns[NR_SYS];
	u64 fresh_pages[NR_SYS];
	/* The knobs as found, restored at the end. */
	u64 saved_knobs[NR_SYS][4];
	bool knobs_saved[NR_SYS];
};

struct guest {
	struct backing bk;
	struct vm *vm;
};

/* Layout of each guest: the VMM's first MiB, content, scratch, records. */
static u64 scratch_gpa(const struct bench *b)
{
	return VMM_FREE_GPA + b->content;
}

static u64 rec_gpa(const struct bench *b)
{
	return scratch_gpa(b) + SCRATCH_MIB * MIB;
}

static u64 content_pages(const struct bench *b)
{
	return b->content / VMM_PAGE_SIZE;
}

/* Records of TOUCH_TIMED: one per content page or scratch page. */
static u64 rec_bytes(const struct bench *b)
{
	u64 n = content_pages(b), s = SCRATCH_MIB * MIB / VMM_PAGE_SIZE;

	return (n > s ? n : s) * sizeof(u64);
}

static u64 guest_size(const struct bench *b)
{
	u64 end = rec_gpa(b) + rec_bytes(b);

	return (end + VMM_HUGE_SIZE - 1) & ~(VMM_HUGE_SIZE - 1);
}

/* ---- sysfs and /proc ---- */

static int write_u64(const char *dir, const char *name, u64 val)
{
	char path[256], buf[32];
	int fd, len, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%llu\n", val);
	if (write(fd, buf, len) != len)
		err = -errno;
	close(fd);
	if (err)
		fprintf(stderr, "dedup_bench: write %llu to %s: %s\n", val, path,
			strerror(-err));
	return err;
}

static int knob(enum sys s, const char *name, u64 val)
{
	return write_u64(sys_info[s].dir, name, val);
}

/* Pages merged so far: what the system saves by sharing (and zeroing). */
static int read_merged(enum sys s, u64 *merged)
{
	u64 a, z = 0;
	int err;

	if (s == SYS_KSM) {
		err = sysfs_read_u64(KSM_DIR, "pages_sharing", &a);
		/* 6.4+: zero pages mapped with use_zero_pages=1 */
		sysfs_read_u64(KSM_DIR, "ksm_zero_pages", &z);
	} else {
		err = sysfs_read_u64(DEDUP_DIR, "saved", &a);
		if (!err)
			err = sysfs_read_u64(DEDUP_DIR, "zero", &z);
	}
	*merged = a + z;
	return err;
}

/* Is /proc/PID/comm the thread @name (or "@name/..." of a per-CPU one)? */
static bool comm_is(const char *pid, const char *name)
{
	char path[300], comm[64];
	size_t len = strlen(name);
	bool ret = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(comm, sizeof(comm), f)) {
		comm[strcspn(comm, "\n")] = '\0';
		ret = !strncmp(comm, name, len) &&
		      (comm[len] == '\0' || comm[len] == '/');
	}
	fclose(f);
	return ret;
}

/* CPU time of one task: schedstat's run time, else utime + stime. */
static u64 task_cpu_ns(const char *pid)
{
	char path[300], buf[1024], *p;
	unsigned long long run, ut, st;
	u64 ns = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%s/schedstat", pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &run) == 1)
			ns = run;
		fclose(f);
		if (ns)
			return ns;
	}
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!p)
		return 0;
	/* fields 14 and 15 (utime, stime), 12 fields after "pid (comm)" */
	for (i = 0, p++; *p && i < 12; p++)
		if (*p == ' ')
			i++;
	if (sscanf(p, "%llu %llu", &ut, &st) == 2)
		ns = (ut + st) * (1000000000ULL / sysconf(_SC_CLK_TCK));
	return ns;
}

#define MAX_THREADS	8

/* The scanning threads of a system, found once: polling reads only them. */
struct threads {
	int n;
	char pid[MAX_THREADS][16];
};

/* Find the threads named @name (a walk of /proc); how many. */
static int threads_find(struct threads *t, const char *name)
{
	struct dirent *d;
	DIR *dir = opendir("/proc");

	t->n = 0;
	if (!dir)
		return 0;
	while ((d = readdir(dir)) && t->n < MAX_THREADS) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9' ||
		    strlen(d->d_name) >= sizeof(t->pid[0]) || !comm_is(d->d_name, name))
			continue;
		strcpy(t->pid[t->n++], d->d_name);
	}
	closedir(dir);
	return t->n;
}

/* Their summed CPU time; -1 if there are none. */
static long long threads_cpu_ns(const struct threads *t)
{
	long long sum = 0;
	int i;

	for (i = 0; i < t->n; i++)
		sum += task_cpu_ns(t->pid[i]);
	return t->n ? sum : -1;
}

/* ---- the content ---- */

static enum cls page_class(u64 idx, int ident_pct, int zero_pct)
{
	int r = mix(idx ^ (SEED_CLASS * 0x9e3779b97f4a7c15ULL)) % 100;

	if (r < ident_pct)
		return CLS_IDENT;
	return r < ident_pct + zero_pct ? CLS_ZERO : CLS_UNIQUE;
}

static void fill_guest(struct vm *vm, int g, u64 pages, int ident_pct,
		       int zero_pct)
{
	u64 i, gpa;
	enum cls c;

	for (i = 0; i < pages; i++) {
		gpa = VMM_FREE_GPA + i * VMM_PAGE_SIZE;
		c = page_class(i, ident_pct, zero_pct);
		if (c == CLS_ZERO)	/* resident, all zero */
			memset(vm_hva(vm, gpa), 0, VMM_PAGE_SIZE);
		else
			vmm_fill_pattern(vm_hva(vm, gpa), gpa, VMM_PAGE_SIZE,
					 c == CLS_IDENT ? SEED_IDENT :
					 SEED_UNIQUE + g);
	}
}

/*
 * Pages the content lets a scanner free: each identical page but one per
 * offset, every zero page (memvirt keeps no frame for them; KSM keeps one
 * zero page, which is within the rounding).
 */
static u64 expected_merged(int guests, u64 pages, int ident_pct, int zero_pct)
{
	u64 i, ident = 0, zero = 0;

	for (i = 0; i < pages; i++) {
		switch (page_class(i, ident_pct, zero_pct)) {
		case CLS_IDENT:
			ident++;
			break;
		case CLS_ZERO:
			zero++;
			break;
		default:
			break;
		}
	}
	return ident * (guests - 1) + zero * guests;
}

/* ---- the fleet ---- */

static int set_domain(int fd)
{
	struct memvirt_policy p = { .size = sizeof(p) };

	if (ioctl(fd, MEMVIRT_IOC_GET_POLICY, &p))
		return -errno;
	p.size = sizeof(p);
	p.flags = MEMVIRT_POLICY_SHARING_DOMAIN;
	p.sharing_domain = DOMAIN;
	return ioctl(fd, MEMVIRT_IOC_SET_POLICY, &p) ? -errno : 0;
}

static void fleet_destroy(struct guest *gs, int n)
{
	int g;

	for (g = 0; g < n; g++) {
		vm_destroy(gs[g].vm);
		gs[g].vm = NULL;
		backing_close(&gs[g].bk);
	}
}

/* @n guests of system @s, filled; 0 or -EIO. */
static int fleet_create(struct bench *b, enum sys s, struct guest *gs, int n,
			int ident_pct, int zero_pct)
{
	char reason[256];
	int g, err;

	memset(gs, 0, n * sizeof(*gs));
	for (g = 0; g < n; g++)
		gs[g].bk.fd = -1;
	for (g = 0; g < n; g++) {
		if (backing_open(&gs[g].bk, s == SYS_KSM ? BACKING_ANON :
				 BACKING_MEMVIRTFS, guest_size(b), reason,
				 sizeof(reason))) {
			fprintf(stderr, "dedup_bench: %s guest %d: %s\n",
				sys_names[s], g, reason);
			goto fail;
		}
		if (s == SYS_MEMVIRT) {
			err = set_domain(gs[g].bk.fd);
			if (err) {
				fprintf(stderr, "dedup_bench: sharing_domain %d: %s\n",
					DOMAIN, strerror(-err));
				goto fail;
			}
		}
		gs[g].vm = vm_create(gs[g].bk.fd, guest_size(b), 1);
		if (!gs[g].vm)
			goto fail;
		if (s == SYS_KSM &&
		    madvise(vm_mem(gs[g].vm), guest_size(b), MADV_MERGEABLE)) {
			fprintf(stderr, "dedup_bench: madvise(MADV_MERGEABLE): %s\n",
				strerror(errno));
			goto fail;
		}
		fill_guest(gs[g].vm, g, content_pages(b), ident_pct, zero_pct);
	}
	return 0;
fail:
	fleet_destroy(gs, n);
	return -EIO;
}

/* ---- measurements ---- */

static double one_fig(const struct scan *sc, const struct one *o, enum fig f);

static double secs(u64 ns)
{
	return ns / 1e9;
}

/*
 * Switch the scanner of @s on and follow it until two full scans pass
 * without a change of the pages merged (or the timeout); leaves it on.
 */
static int scan_to_steady(struct bench *b, enum sys s, struct one *sc)
{
	const char *dir = sys_info[s].dir, *th = sys_info[s].thread;
	u64 m0, m, last, fs, fs0, fs_last, t0, now, t_last;
	struct threads thr;
	long long cpu0, cpu, cpu_last;
	struct timespec ts = { 0, POLL_MS * 1000000L };

	if (read_merged(s, &m0) || sysfs_read_u64(dir, "full_scans", &fs)) {
		fprintf(stderr, "dedup_bench: %s: cannot read its counters\n",
			sys_names[s]);
		return -EIO;
	}
	cpu0 = threads_find(&thr, th) ? threads_cpu_ns(&thr) : 0;
	if (knob(s, "run", 1))
		return -EIO;
	t0 = t_last = vmm_now_ns();
	cpu_last = cpu0;
	last = m0;
	fs0 = fs_last = fs;
	for (;;) {
		nanosleep(&ts, NULL);
		now = vmm_now_ns();
		if (read_merged(s, &m) || sysfs_read_u64(dir, "full_scans", &fs))
			return -EIO;
		/* none before: started by run=1, it had no CPU time before */
		if (!thr.n && !threads_find(&thr, th)) {
			fprintf(stderr, "dedup_bench: no thread %s\n", th);
			return -EIO;
		}
		cpu = threads_cpu_ns(&thr);
		if (m != last) {
			last = m;
			t_last = now;
			cpu_last = cpu;
			fs_last = fs;
		}
		if (fs >= fs_last + STEADY_SCANS) {
			sc->steady = true;
			break;
		}
		/* A scanner that stops counting full scans once it is done. */
		if (last != m0 && now - t_last > QUIET_S * 1000000000ULL) {
			printf("# %s: merged unchanged for %d s, full_scans %llu: taken as steady\n",
			       sys_names[s], QUIET_S, fs);
			sc->steady = true;
			break;
		}
		if (now - t0 > (u64)b->timeout_s * 1000000000ULL)
			break;
	}
	sc->merged = last > m0 ? last - m0 : 0;
	sc->cpu_ns = cpu_last - cpu0;
	sc->steady_ns = t_last - t0;
	sc->scans = fs - fs0;
	if (!sc->steady)
		printf("# %s: no steady state within %u s (%llu merged, last change at %.1f s)\n",
		       sys_names[s], b->timeout_s, sc->merged, secs(sc->steady_ns));
	return 0;
}

/* One "#" line of the scanner's counters at steady state, for diagnosis. */
static void print_counters(enum sys s)
{
	static const char *const names[NR_SYS][10] = {
		[SYS_MEMVIRT] = { "shared", "sharing", "saved", "zero", "pages_scanned",
				  "full_scans", "hint_hits", "false_matches",
				  "pinned_skips", NULL },
		[SYS_KSM] = { "pages_shared", "pages_sharing", "pages_unshared",
			      "pages_volatile", "full_scans", "ksm_zero_pages", NULL },
	};
	char line[256], buf[1024];
	size_t len = 0;
	FILE *f;
	u64 v;
	int i;

	buf[0] = '\0';
	for (i = 0; names[s][i] && len < sizeof(buf); i++)
		if (!sysfs_read_u64(sys_info[s].dir, names[s][i], &v))
			len += snprintf(buf + len, sizeof(buf) - len, " %s=%llu",
					names[s][i], v);
	/* memvirt's table statistics: "key value" lines */
	f = s == SYS_MEMVIRT ? fopen("/sys/kernel/debug/memvirt/dedup", "re") : NULL;
	while (f && fgets(line, sizeof(line), f) && len < sizeof(buf)) {
		char *sp = strchr(line, ' ');

		line[strcspn(line, "\n")] = '\0';
		if (sp)
			*sp = '=';
		len += snprintf(buf + len, sizeof(buf) - len, " %s", line);
	}
	if (f)
		fclose(f);
	printf("# %s counters:%s\n", sys_names[s], buf);
}

/* Guest 0 reads its content -l times: wall ns, or 0 on failure. */
static u64 workload(struct bench *b, struct vm *vm)
{
	u64 t0 = vmm_now_ns();
	int i;

	for (i = 0; i < b->loops; i++)
		if (vm_run_one(vm, 0, VMM_PROG_READ_ZERO, VMM_FREE_GPA,
			       VMM_FREE_GPA + b->content, 0, RUN_TIMEOUT))
			return 0;
	return vmm_now_ns() - t0;
}

/* Guest slowdown at steady state: scanner on vs off, interleaved. */
static int measure_slowdown(struct bench *b, enum sys s, struct vm *vm)
{
	u64 on, off;
	int r;

	if (knob(s, "run", 0) || !workload(b, vm))	/* map what merging unmapped */
		return -EIO;
	for (r = 0; r < b->reps; r++) {
		if (knob(s, "run", 1))
			return -EIO;
		on = workload(b, vm);
		if (knob(s, "run", 0))
			return -EIO;
		off = workload(b, vm);
		if (!on || !off)
			return -EIO;
		b->on_ns[s][r] = on;
		b->off_ns[s][r] = off;
		b->n_slow[s]++;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_of(double *v, u64 n)
{
	if (!n)
		return -1;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Is each content page of guest 0 (@vm, @bk) shared? One byte per page. */
static int shared_map(struct bench *b, enum sys s, struct guest *g, u8 *sh)
{
	u64 n = content_pages(b), i, pm, fl;
	u8 *st;
	int pmfd, kfd, err = 0;

	if (s == SYS_MEMVIRT) {
		st = malloc(n);
		if (!st)
			return -ENOMEM;
		err = memvirt_query_range(g->bk.fd, VMM_FREE_GFN, n, st);
		for (i = 0; !err && i < n; i++)
			sh[i] = (st[i] & MEMVIRT_GFN_STATE_MASK) == MEMVIRT_GFN_SHARED;
		free(st);
		return err;
	}
	pmfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	kfd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (pmfd < 0 || kfd < 0) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < n; i++) {
		u64 va = (u64)(unsigned long)vm_hva(g->vm, VMM_FREE_GPA) +
			 i * VMM_PAGE_SIZE;

		sh[i] = 0;
		if (pread(pmfd, &pm, 8, va / VMM_PAGE_SIZE * 8) != 8) {
			err = -errno;
			break;
		}
		if (!(pm & PM_PRESENT) || !(pm & PM_PFN_MASK))
			continue;
		if (pread(kfd, &fl, 8, (pm & PM_PFN_MASK) * 8) != 8) {
			err = -errno;
			break;
		}
		sh[i] = !!(fl & (1ULL << KPF_KSM));
	}
out:
	if (pmfd >= 0)
		close(pmfd);
	if (kfd >= 0)
		close(kfd);
	return err;
}

/*
 * Median ns of VMM_PROG_TOUCH_TIMED over [@start, @start + @n pages), of
 * the pages @sel selects (all if NULL); -1 if none.
 */
static double touch_median(struct bench *b, struct vm *vm, u64 start, u64 n,
			   const u8 *sel)
{
	const u64 *rec = vm_hva(vm, rec_gpa(b));
	u64 khz = vm_tsc_khz(vm), i, k = 0;
	double *v, m;

	if (!khz || !rec)
		return -1;
	if (vm_run_one(vm, 0, VMM_PROG_TOUCH_TIMED, start,
		       start + n * VMM_PAGE_SIZE, rec_gpa(b), RUN_TIMEOUT))
		return -1;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -1;
	for (i = 0; i < n; i++)
		if (!sel || sel[i])
			v[k++] = rec[i] * 1e6 / khz;
	m = median_of(v, k);
	free(v);
	return m;
}

/*
 * Scanner off: a write to a shared page vs a first touch, in guest @g; the
 * median ns of each into *@cow and *@first, the pages written into *@pages.
 */
static int measure_cow(struct bench *b, enum sys s, struct guest *g, double *cow,
		       double *first, u64 *pages)
{
	u64 n = content_pages(b), i;
	u8 *sh = calloc(n, 1);
	int err;

	if (!sh)
		return -ENOMEM;
	err = knob(s, "run", 0);
	if (!err)
		err = shared_map(b, s, g, sh);
	if (err) {
		fprintf(stderr, "dedup_bench: %s: which pages are shared: %s\n",
			sys_names[s], strerror(-err));
		free(sh);
		return -EIO;
	}
	for (i = 0; i < n; i++)
		*pages += sh[i];
	/* Records resident, vCPU warm: one untimed page. */
	memset(vm_hva(g->vm, rec_gpa(b)), 0, rec_bytes(b));
	if (vm_run_one(g->vm, 0, VMM_PROG_TOUCH_TIMED, rec_gpa(b) - VMM_PAGE_SIZE,
		       rec_gpa(b), rec_gpa(b), RUN_TIMEOUT)) {
		free(sh);
		return -EIO;
	}
	*first = touch_median(b, g->vm, scratch_gpa(b),
			      SCRATCH_MIB * MIB / VMM_PAGE_SIZE - 1, NULL);
	*cow = *pages ? touch_median(b, g->vm, VMM_FREE_GPA, n, sh) : -1;
	free(sh);
	return *first < 0 || (*pages && *cow < 0) ? -EIO : 0;
}

/* Back to nothing merged: KSM unmerges and forgets everything with run=2. */
static void scanner_reset(enum sys s)
{
	knob(s, "run", s == SYS_KSM ? 2 : 0);
	knob(s, "run", 0);
}

/*
 * One scan of a scenario on one system; the first of the mixed one also
 * measures slowdown and cow.
 */
static int measure(struct bench *b, enum sys s, enum scen sc)
{
	static struct guest gs[MAX_GUESTS];
	int n = sc == SCEN_IDENT ? IDENT_GUESTS : b->guests;
	int ip = sc == SCEN_IDENT ? IDENT_PCT : b->ident_pct;
	int zp = sc == SCEN_IDENT ? 0 : b->zero_pct;
	struct scan *r = &b->scan[s][sc];
	bool first = !r->n;
	struct one *o;
	u64 t0 = vmm_now_ns();
	int err;

	printf("# %s %s %d: %d guests x %llu MiB, %d%% identical, %d%% zero\n",
	       sys_names[s], scen_names[sc], r->n + 1, n, b->content / MIB, ip, zp);
	scanner_reset(s);
	if (fleet_create(b, s, gs, n, ip, zp))
		return -EIO;
	r->pages = n * content_pages(b);
	r->expected = expected_merged(n, content_pages(b), ip, zp);
	err = scan_to_steady(b, s, &r->r[r->n]);
	if (!err) {
		o = &r->r[r->n++];
		printf("# %s %s %d: merged=%llu cpu_s=%.2f merged_per_cpu_s=%.0f steady_s=%.1f%s full_scans=%llu saved_pct=%.1f\n",
		       sys_names[s], scen_names[sc], r->n, o->merged, secs(o->cpu_ns),
		       one_fig(r, o, FIG_PER_CPU_S), secs(o->steady_ns),
		       o->steady ? "" : " (not steady)", o->scans,
		       one_fig(r, o, FIG_SAVED_PCT));
	}
	print_counters(s);
	if (!err && sc == SCEN_MIXED && first) {
		if (measure_slowdown(b, s, gs[0].vm)) {
			fprintf(stderr, "dedup_bench: %s: slowdown run failed\n",
				sys_names[s]);
			err = -EIO;
		}
		/* Guest 0 read everything since the merge; guest 1 nothing. */
		if (measure_cow(b, s, &gs[0], &b->cow_ns[s], &b->first_ns[s],
				&b->cow_pages[s]) ||
		    (n > 1 && measure_cow(b, s, &gs[1], &b->fresh_ns[s],
					  &b->fresh_first_ns[s], &b->fresh_pages[s]))) {
			fprintf(stderr, "dedup_bench: %s: cow run failed\n",
				sys_names[s]);
			err = -EIO;
		}
	}
	knob(s, "run", 0);
	fleet_destroy(gs, n);
	scanner_reset(s);
	printf("# %s %s %d: %.0f s\n", sys_names[s], scen_names[sc], r->n,
	       secs(vmm_now_ns() - t0));
	return err;
}

/* ---- knobs ---- */

static const char *const knob_names[] = {
	"pages_to_scan", "sleep_millisecs", "cpu_percent", "run",
};

static void knobs_save(struct bench *b, enum sys s)
{
	unsigned int k;

	for (k = 0; k < 4; k++)
		if (sysfs_read_u64(sys_info[s].dir, knob_names[k], &b->saved_knobs[s][k]))
			b->saved_knobs[s][k] = ~0ULL;
	b->knobs_saved[s] = true;
}

static void knobs_restore(struct bench *b, enum sys s)
{
	unsigned int k;

	if (!b->knobs_saved[s])
		return;
	for (k = 0; k < 4; k++)
		if (b->saved_knobs[s][k] != ~0ULL)
			knob(s, knob_names[k], b->saved_knobs[s][k]);
}

static int knobs_set(struct bench *b, enum sys s)
{
	knobs_save(b, s);
	if (knob(s, "run", 0) || knob(s, "pages_to_scan", b->pages_to_scan) ||
	    knob(s, "sleep_millisecs", b->sleep_ms))
		return -EIO;
	if (s == SYS_MEMVIRT && knob(s, "cpu_percent", 100))
		return -EIO;
	return 0;
}

/* ---- output ---- */

/* A figure of one scan, or -1 if it has none. */
static double one_fig(const struct scan *sc, const struct one *o, enum fig f)
{
	switch (f) {
	case FIG_MERGED:
		return o->merged;
	case FIG_CPU_S:
		return secs(o->cpu_ns);
	case FIG_PER_CPU_S:
		return o->cpu_ns ? o->merged / secs(o->cpu_ns) : -1;
	case FIG_STEADY_S:
		return o->steady ? secs(o->steady_ns) : -1;
	case FIG_SCANS:
		return o->scans;
	case FIG_SAVED_PCT:
		return sc->pages ? 100.0 * o->merged / sc->pages : -1;
	}
	return -1;
}

/* Median of a figure over the scans that have it, or -1. */
static double fig(const struct scan *sc, enum fig f)
{
	double v[MAX_REPS];
	int i, k = 0;

	for (i = 0; i < sc->n; i++)
		if (one_fig(sc, &sc->r[i], f) >= 0)
			v[k++] = one_fig(sc, &sc->r[i], f);
	return median_of(v, k);
}

static double slowdown_pct(struct bench *b, enum sys s)
{
	double on = median_of(b->on_ns[s], b->n_slow[s]);
	double off = median_of(b->off_ns[s], b->n_slow[s]);

	return on > 0 && off > 0 ? 100.0 * (on / off - 1) : -1e9;
}

static double cow_ratio(struct bench *b, enum sys s)
{
	return b->cow_ns[s] > 0 && b->first_ns[s] > 0 ?
	       b->cow_ns[s] / b->first_ns[s] : -1;
}

static double fresh_ratio(struct bench *b, enum sys s)
{
	return b->fresh_ns[s] > 0 && b->fresh_first_ns[s] > 0 ?
	       b->fresh_ns[s] / b->fresh_first_ns[s] : -1;
}

/* One table row: memvirt, ksm, memvirt/ksm; v < @na_below is n/a. */
static void row(const char *name, double m, double k, const char *f,
		double na_below, bool quot)
{
	char buf[32];

	printf("%-28s", name);
	snprintf(buf, sizeof(buf), f, m);
	printf("%14s", m < na_below ? "n/a" : buf);
	snprintf(buf, sizeof(buf), f, k);
	printf("%14s", k < na_below ? "n/a" : buf);
	if (quot && m >= na_below && k > 0 && k >= na_below)
		printf("%14.2f\n", m / k);
	else
		printf("%14s\n", quot ? "n/a" : "");
}

/* Memvirt's and KSM's median of a figure of scenario @sc: one table row. */
static void fig_row(struct bench *b, const char *name, enum scen sc, enum fig f,
		    const char *format, bool quot)
{
	row(name, fig(&b->scan[SYS_MEMVIRT][sc], f), fig(&b->scan[SYS_KSM][sc], f),
	    format, 0, quot);
}

/* What the content of @sc allows to save, in percent, if it was measured. */
static void possible_row(struct bench *b, enum scen sc)
{
	struct scan *e = &b->scan[SYS_MEMVIRT][sc];

	if (!e->n)
		e = &b->scan[SYS_KSM][sc];
	if (e->n && e->pages)
		printf("%-28s%14.1f%14.1f  (what the content allows)\n", "  possible %",
		       100.0 * e->expected / e->pages, 100.0 * e->expected / e->pages);
}

static void print_table(struct bench *b)
{
	double on[NR_SYS], off[NR_SYS];
	int s;

	for (s = 0; s < NR_SYS; s++) {
		on[s] = median_of(b->on_ns[s], b->n_slow[s]);
		off[s] = median_of(b->off_ns[s], b->n_slow[s]);
	}
	printf("dedup_bench: %d guests x %llu MiB (%d%% identical, %d%% zero, %d%% unique), pages_to_scan=%llu sleep_millisecs=%llu, medians of %d scans\n",
	       b->guests, b->content / MIB, b->ident_pct, b->zero_pct,
	       100 - b->ident_pct - b->zero_pct, b->pages_to_scan, b->sleep_ms,
	       b->scan_reps);
	printf("%-28s%14s%14s%14s\n", "", "memvirt", "ksm", "memvirt/ksm");
	fig_row(b, "merged pages", SCEN_MIXED, FIG_MERGED, "%.0f", true);
	fig_row(b, "scanner cpu s", SCEN_MIXED, FIG_CPU_S, "%.2f", true);
	fig_row(b, "merged per cpu s", SCEN_MIXED, FIG_PER_CPU_S, "%.0f", true);
	fig_row(b, "steady state s", SCEN_MIXED, FIG_STEADY_S, "%.1f", true);
	fig_row(b, "full scans", SCEN_MIXED, FIG_SCANS, "%.0f", false);
	fig_row(b, "saved % of guest RAM", SCEN_MIXED, FIG_SAVED_PCT, "%.1f", true);
	possible_row(b, SCEN_MIXED);
	fig_row(b, "identical10: saved %", SCEN_IDENT, FIG_SAVED_PCT, "%.1f", true);
	possible_row(b, SCEN_IDENT);
	fig_row(b, "identical10: merged/cpu s", SCEN_IDENT, FIG_PER_CPU_S, "%.0f", true);
	fig_row(b, "identical10: steady s", SCEN_IDENT, FIG_STEADY_S, "%.1f", true);
	row("guest run, scanner on ms", on[0] / 1e6, on[1] / 1e6, "%.0f", 0, true);
	row("guest run, scanner off ms", off[0] / 1e6, off[1] / 1e6, "%.0f", 0, true);
	row("guest slowdown %", slowdown_pct(b, SYS_MEMVIRT),
	    slowdown_pct(b, SYS_KSM), "%.1f", -1e8, false);
	row("write to shared page ns", b->cow_ns[0], b->cow_ns[1], "%.0f", 0, true);
	row("  (shared pages written)", b->cow_ns[0] > 0 ? (double)b->cow_pages[0] : -1,
	    b->cow_ns[1] > 0 ? (double)b->cow_pages[1] : -1, "%.0f", 0, false);
	row("first touch ns", b->first_ns[0], b->first_ns[1], "%.0f", 0, true);
	row("shared write/first touch", cow_ratio(b, SYS_MEMVIRT),
	    cow_ratio(b, SYS_KSM), "%.2f", 0, false);
	row("unread shared write ns", b->fresh_ns[0], b->fresh_ns[1], "%.0f", 0, true);
	row("  first touch ns", b->fresh_first_ns[0], b->fresh_first_ns[1], "%.0f", 0, true);
	row("unread write/first touch", fresh_ratio(b, SYS_MEMVIRT),
	    fresh_ratio(b, SYS_KSM), "%.2f", 0, false);
}

static void fmt_below(char *buf, size_t len, double v, double na_below, const char *f)
{
	if (v < na_below)
		snprintf(buf, len, "na");
	else
		snprintf(buf, len, f, v);
}

static void print_machine(struct bench *b)
{
	struct scan *mm = &b->scan[SYS_MEMVIRT][SCEN_MIXED];
	struct scan *km = &b->scan[SYS_KSM][SCEN_MIXED];
	double mr = fig(mm, FIG_PER_CPU_S), kr = fig(km, FIG_PER_CPU_S);
	char v[16][32];

	fmt_below(v[0], 32, mr, 0, "%.0f");
	fmt_below(v[1], 32, kr, 0, "%.0f");
	fmt_below(v[2], 32, fig(mm, FIG_STEADY_S), 0, "%.1f");
	fmt_below(v[3], 32, fig(km, FIG_STEADY_S), 0, "%.1f");
	fmt_below(v[4], 32, fig(mm, FIG_SAVED_PCT), 0, "%.1f");
	fmt_below(v[5], 32, fig(km, FIG_SAVED_PCT), 0, "%.1f");
	fmt_below(v[6], 32, fig(&b->scan[SYS_MEMVIRT][SCEN_IDENT], FIG_SAVED_PCT), 0, "%.1f");
	fmt_below(v[7], 32, fig(&b->scan[SYS_KSM][SCEN_IDENT], FIG_SAVED_PCT), 0, "%.1f");
	fmt_below(v[8], 32, slowdown_pct(b, SYS_MEMVIRT), -1e8, "%.1f");
	fmt_below(v[9], 32, slowdown_pct(b, SYS_KSM), -1e8, "%.1f");
	fmt_below(v[10], 32, b->cow_ns[SYS_MEMVIRT], 0, "%.0f");
	fmt_below(v[11], 32, b->first_ns[SYS_MEMVIRT], 0, "%.0f");
	fmt_below(v[12], 32, cow_ratio(b, SYS_MEMVIRT), 0, "%.2f");
	fmt_below(v[13], 32, mr >= 0 && kr > 0 ? mr / kr : -1, 0, "%.2f");
	fmt_below(v[14], 32, b->fresh_ns[SYS_MEMVIRT], 0, "%.0f");
	fmt_below(v[15], 32, fresh_ratio(b, SYS_MEMVIRT), 0, "%.2f");
	printf("bench: dedup guests=%d mib=%llu memvirt_merged_per_cpu_s=%s ksm_merged_per_cpu_s=%s memvirt_steady_s=%s ksm_steady_s=%s memvirt_saved_pct=%s ksm_saved_pct=%s identical10_saved_pct=%s ksm_identical10_saved_pct=%s slowdown_pct=%s ksm_slowdown_pct=%s cow_ns=%s first_touch_ns=%s cow_ratio=%s unread_cow_ns=%s unread_cow_ratio=%s ratio=%s\n",
	       b->guests, b->content / MIB, v[0], v[1], v[2], v[3], v[4], v[5],
	       v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[14], v[15], v[13]);
}

/* ---- setup ---- */

/* What can be measured; -ENODEV if nothing (no KVM or no KSM). */
static int probe(struct bench *b)
{
	char reason[256];
	struct backing bk;
	u64 v;

	if (vmm_kvm_available(reason, sizeof(reason))) {
		printf("# no measurements: %s\n", reason);
		return -ENODEV;
	}
	if (access(KSM_DIR "/run", W_OK) ||
	    sysfs_read_u64(KSM_DIR, "pages_sharing", &v)) {
		printf("dedup_bench: KSM unavailable (%s/run: %s): the baseline needs a kernel with CONFIG_KSM=y\n",
		       KSM_DIR, strerror(errno));
		return -ENODEV;
	}
	b->avail[SYS_KSM] = true;
	if (backing_open(&bk, BACKING_MEMVIRTFS, VMM_PAGE_SIZE, reason,
			 sizeof(reason))) {
		printf("# memvirt unavailable: %s\n", reason);
		return 0;
	}
	backing_close(&bk);
	if (access(DEDUP_DIR "/run", W_OK)) {
		printf("# memvirt unavailable: %s/run: %s (memvirt without page sharing)\n",
		       DEDUP_DIR, strerror(errno));
		return 0;
	}
	b->avail[SYS_MEMVIRT] = true;
	return 0;
}

static int run(struct bench *b)
{
	int s, sc, rep, err = 0;

	/* The mixed scenario -e times, then the identical one once. */
	for (rep = 0; rep <= b->scan_reps; rep++) {
		sc = rep < b->scan_reps ? SCEN_MIXED : SCEN_IDENT;
		for (s = 0; s < NR_SYS; s++) {
			if (!b->avail[s])
				continue;
			if (!b->knobs_saved[s] && knobs_set(b, s)) {
				printf("# %s: cannot set its knobs\n", sys_names[s]);
				b->avail[s] = false;
				err = -EIO;
				continue;
			}
			if (measure(b, s, sc))
				err = -EIO;
		}
	}
	for (s = 0; s < NR_SYS; s++)
		knobs_restore(b, s);
	return err;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n guests] [-m MiB] [-i pct] [-z pct] [-p pages] [-s ms] [-e scans] [-r reps] [-l loops] [-t timeout_s]\n"
		"  -n  guests of the mixed scenario, 2..%d (default %d)\n"
		"  -m  content per guest (default %d MiB)\n"
		"  -i  identical pages, percent (default %d)\n"
		"  -z  zero pages, percent (default %d); the rest is unique\n"
		"  -p  pages_to_scan of both scanners (default %d)\n"
		"  -s  sleep_millisecs of both scanners (default %d)\n"
		"  -e  scans of the mixed scenario per scanner, 1..%d (default %d)\n"
		"  -r  slowdown repetitions, 1..%d (default %d)\n"
		"  -l  content reads per guest run of the slowdown (default %d)\n"
		"  -t  most seconds to wait for steady state (default %d)\n",
		prog, MAX_GUESTS, DEFAULT_GUESTS, DEFAULT_MIB, DEFAULT_IDENT,
		DEFAULT_ZERO, DEFAULT_PAGES, DEFAULT_SLEEP, MAX_REPS,
		DEFAULT_SCANS, MAX_REPS, DEFAULT_REPS, DEFAULT_LOOPS, DEFAULT_TIMEOUT);
	exit(2);
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	unsigned long mib = DEFAULT_MIB;
	int opt;

	b->guests = DEFAULT_GUESTS;
	b->ident_pct = DEFAULT_IDENT;
	b->zero_pct = DEFAULT_ZERO;
	b->pages_to_scan = DEFAULT_PAGES;
	b->sleep_ms = DEFAULT_SLEEP;
	b->reps = DEFAULT_REPS;
	b->scan_reps = DEFAULT_SCANS;
	b->loops = DEFAULT_LOOPS;
	b->timeout_s = DEFAULT_TIMEOUT;
	while ((opt = getopt(argc, argv, "n:m:i:z:p:s:e:r:l:t:h")) != -1) {
		switch (opt) {
		case 'n':
			b->guests = atoi(optarg);
			break;
		case 'm':
			mib = strtoul(optarg, NULL, 0);
			break;
		case 'i':
			b->ident_pct = atoi(optarg);
			break;
		case 'z':
			b->zero_pct = atoi(optarg);
			break;
		case 'p':
			b->pages_to_scan = strtoull(optarg, NULL, 0);
			break;
		case 's':
			b->sleep_ms = strtoull(optarg, NULL, 0);
			break;
		case 'e':
			b->scan_reps = atoi(optarg);
			break;
		case 'r':
			b->reps = atoi(optarg);
			break;
		case 'l':
			b->loops = atoi(optarg);
			break;
		case 't':
			b->timeout_s = strtoul(optarg, NULL, 0);
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (b->guests < 2 || b->guests > MAX_GUESTS || !mib || mib > 1024 ||
	    b->ident_pct < 0 || b->zero_pct < 0 ||
	    b->ident_pct + b->zero_pct > 100 || !b->pages_to_scan ||
	    b->pages_to_scan > 1048576 || b->sleep_ms > 60000 || b->reps < 1 ||
	    b->reps > MAX_REPS || b->scan_reps < 1 || b->scan_reps > MAX_REPS ||
	    b->loops < 1 || !b->timeout_s)
		print_usage(argv[0]);
	b->content = (u64)mib * MIB;
}

int main(int argc, char **argv)
{
	static struct bench b;
	int err, s;

	parse_args(&b, argc, argv);
	for (s = 0; s < NR_SYS; s++) {
		b.cow_ns[s] = b.first_ns[s] = -1;
		b.fresh_ns[s] = b.fresh_first_ns[s] = -1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* 4 KiB pages for both: no THP in the anonymous guests' RAM. */
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		fprintf(stderr, "dedup_bench: PR_SET_THP_DISABLE: %s\n",
			strerror(errno));
	err = probe(&b);
	if (err)
		return 1;
	err = run(&b);
	print_table(&b);
	print_machine(&b);
	return err ? 1 : 0;
}
