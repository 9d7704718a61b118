// SPDX-License-Identifier: GPL-2.0
/*
 * fault_bench.c - first-touch page fault cost: memvirtfs vs shmem vs anon.
 *
 * For each backing (a memvirtfs file, a memfd = shmem, anonymous memory)
 * and each repetition, on fresh memory:
 *   host:  map N MiB, write one byte per 4 KiB page, clock_gettime around
 *          the loop;
 *   guest: a 1-vCPU test VM (selftests/lib) whose free RAM is N MiB of that
 *          backing; the guest writes one byte per page (VMM_PROG_TOUCH).
 *          "wall" is the host's clock around the vCPU's run, "tsc" the
 *          guest's rdtsc around its loop, converted with KVM_GET_TSC_KHZ.
 * Repetitions interleave the backings; the table shows medians in ns per
 * page and the memvirtfs/shmem ratio, and the last lines are fixed-format:
 *   bench: fault host memvirtfs_ns=N shmem_ns=N anon_ns=N ratio=R
 *   bench: fault guest memvirtfs_ns=N shmem_ns=N anon_ns=N ratio=R
 * ("na" where a backing or KVM is unavailable). Exit 0 unless a
 * measurement failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backing.h"
#include "vmm.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define MAX_REPS	32
#define DEFAULT_MIB	64
#define DEFAULT_REPS	3
#define DEFAULT_TIMEOUT	300

enum row { ROW_HOST, ROW_GUEST_WALL, ROW_GUEST_TSC, NR_ROWS };

static const char *const row_names[NR_ROWS] = {
	[ROW_HOST] = "host",
	[ROW_GUEST_WALL] = "guest (wall)",
	[ROW_GUEST_TSC] = "guest (tsc)",
};

struct bench {
	u64 bytes;
	u64 pages;
	int reps;
	unsigned int timeout_s;
	bool kvm;
	bool avail[BACKING_NR_KINDS];
	double ns[NR_ROWS][BACKING_NR_KINDS][MAX_REPS];
	int n[NR_ROWS][BACKING_NR_KINDS];
};

/* Column order of the table: the backing under test, then the baselines. */
static const enum backing_kind cols[] = {
	BACKING_MEMVIRTFS, BACKING_MEMFD, BACKING_ANON,
};

static const char *col_name(enum backing_kind k)
{
	return k == BACKING_MEMFD ? "shmem" : backing_name(k);
}

static void add_sample(struct bench *b, enum row r, enum backing_kind k,
		       double ns)
{
	b->ns[r][k][b->n[r][k]++] = ns;
}

/* Host: touch one byte per page of a fresh mapping of @k. */
static int host_touch(struct bench *b, enum backing_kind k)
{
	char reason[256];
	struct backing bk;
	volatile u8 *p;
	u64 i, t0, t1;
	int ret;

	ret = backing_open(&bk, k, b->bytes, reason, sizeof(reason));
	if (ret) {
		fprintf(stderr, "fault_bench: %s: %s\n", backing_name(k), reason);
		return -EIO;
	}
	p = mmap(NULL, b->bytes, PROT_READ | PROT_WRITE,
		 bk.fd >= 0 ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS, bk.fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "fault_bench: mmap %s: %s\n", backing_name(k),
			strerror(errno));
		backing_close(&bk);
		return ret;
	}
	t0 = vmm_now_ns();
	for (i = 0; i < b->bytes; i += VMM_PAGE_SIZE)
		p[i] = 1;
	t1 = vmm_now_ns();
	munmap((void *)p, b->bytes);
	backing_close(&bk);
	add_sample(b, ROW_HOST, k, (double)(t1 - t0) / b->pages);
	return 0;
}

/* Guest: a fresh VM on @k touches one byte per page of its free RAM. */
static int guest_touch(struct bench *b, enum backing_kind k)
{
	u64 size = (VMM_FREE_GPA + b->bytes + VMM_HUGE_SIZE - 1) &
		   ~(VMM_HUGE_SIZE - 1);
	u64 end = VMM_FREE_GPA + b->bytes, cycles, khz;
	char reason[256];
	struct backing bk;
	struct vm *vm;
	int ret = -EIO;

	if (backing_open(&bk, k, size, reason, sizeof(reason))) {
		fprintf(stderr, "fault_bench: %s: %s\n", backing_name(k), reason);
		return -EIO;
	}
	vm = vm_create(bk.fd, size, 1);
	if (vm && !vm_run_one(vm, 0, VMM_PROG_TOUCH, VMM_FREE_GPA, end, 0,
			      b->timeout_s)) {
		add_sample(b, ROW_GUEST_WALL, k,
			   (double)vcpu_result(vm, 0)->wall_ns / b->pages);
		cycles = vcpu_report(vm, 0, VMM_REPORT_TSC_CYCLES, 0);
		khz = vm_tsc_khz(vm);
		if (khz && cycles)
			add_sample(b, ROW_GUEST_TSC, k,
				   cycles * 1e6 / khz / b->pages);
		ret = 0;
	}
	vm_destroy(vm);
	backing_close(&bk);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of a row's samples for @k, or -1 if there are none. */
static double median(struct bench *b, enum row r, enum backing_kind k)
{
	int n = b->n[r][k];
	double *v = b->ns[r][k];

	if (!n)
		return -1;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_table(struct bench *b)
{
	double m, vfs, shm;
	unsigned int c;
	int r;

	printf("fault_bench: first touch of %llu MiB (%llu pages), %d reps, median ns per 4 KiB page\n",
	       b->bytes >> 20, b->pages, b->reps);
	printf("%-14s", "");
	for (c = 0; c < ARRAY_SIZE(cols); c++)
		printf("%12s", col_name(cols[c]));
	printf("%18s\n", "memvirtfs/shmem");
	for (r = 0; r < NR_ROWS; r++) {
		printf("%-14s", row_names[r]);
		for (c = 0; c < ARRAY_SIZE(cols); c++) {
			m = median(b, r, cols[c]);
			if (m < 0)
				printf("%12s", "n/a");
			else
				printf("%12.0f", m);
		}
		vfs = median(b, r, BACKING_MEMVIRTFS);
		shm = median(b, r, BACKING_MEMFD);
		if (vfs < 0 || shm <= 0)
			printf("%18s\n", "n/a");
		else
			printf("%18.2f\n", vfs / shm);
	}
}

/* "bench: fault <where> memvirtfs_ns=N shmem_ns=N anon_ns=N ratio=R" */
static void print_machine(struct bench *b, const char *where, enum row r)
{
	double vfs = median(b, r, BACKING_MEMVIRTFS);
	double shm = median(b, r, BACKING_MEMFD);
	double anon = median(b, r, BACKING_ANON);
	char v[32] = "na", s[32] = "na", a[32] = "na", ratio[32] = "na";

	if (vfs >= 0)
		snprintf(v, sizeof(v), "%.0f", vfs);
	if (shm >= 0)
		snprintf(s, sizeof(s), "%.0f", shm);
	if (anon >= 0)
		snprintf(a, sizeof(a), "%.0f", anon);
	if (vfs >= 0 && shm > 0)
		snprintf(ratio, sizeof(ratio), "%.3f", vfs / shm);
	printf("bench: fault %s memvirtfs_ns=%s shmem_ns=%s anon_ns=%s ratio=%s\n",
	       where, v, s, a, ratio);
}

/* Which backings and KVM can be used at all; say why not. */
static void probe(struct bench *b)
{
	char reason[256];
	struct backing bk;
	unsigned int c;

	for (c = 0; c < ARRAY_SIZE(cols); c++) {
		if (!backing_open(&bk, cols[c], VMM_PAGE_SIZE, reason,
				  sizeof(reason))) {
			b->avail[cols[c]] = true;
			backing_close(&bk);
		} else {
			printf("# %s unavailable: %s\n", backing_name(cols[c]),
			       reason);
		}
	}
	b->kvm = !vmm_kvm_available(reason, sizeof(reason));
	if (!b->kvm)
		printf("# no guest measurements: %s\n", reason);
}

static int run(struct bench *b)
{
	unsigned int c;
	int rep, err = 0;

	for (rep = 0; rep < b->reps; rep++) {
		for (c = 0; c < ARRAY_SIZE(cols); c++) {
			if (!b->avail[cols[c]])
				continue;
			if (host_touch(b, cols[c]))
				err = -EIO;
			if (b->kvm && guest_touch(b, cols[c]))
				err = -EIO;
		}
	}
	return err;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-s MiB] [-r reps] [-t timeout_s]\n"
		"  -s  memory touched per measurement (default %d MiB)\n"
		"  -r  repetitions, 1..%d (default %d)\n"
		"  -t  timeout of one guest run (default %d s)\n",
		prog, DEFAULT_MIB, MAX_REPS, DEFAULT_REPS, DEFAULT_TIMEOUT);
	exit(2);
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	unsigned long mib = DEFAULT_MIB;
	int opt;

	b->reps = DEFAULT_REPS;
	b->timeout_s = DEFAULT_TIMEOUT;
	while ((opt = getopt(argc, argv, "s:r:t:h")) != -1) {
		switch (opt) {
		case 's':
			mib = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			b->reps = atoi(optarg);
			break;
		case 't':
			b->timeout_s = strtoul(optarg, NULL, 0);
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (!mib || mib > ((u64)VMM_MAX_GIB << 10) - 2 || b->reps < 1 ||
	    b->reps > MAX_REPS || !b->timeout_s)
		print_usage(argv[0]);
	b->bytes = (u64)mib << 20;
	b->pages = b->bytes / VMM_PAGE_SIZE;
}

int main(int argc, char **argv)
{
	static struct bench b;
	int err;

	parse_args(&b, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	probe(&b);
	err = run(&b);
	print_table(&b);
	print_machine(&b, "host", ROW_HOST);
	print_machine(&b, "guest", ROW_GUEST_WALL);
	return err ? 1 : 0;
}
