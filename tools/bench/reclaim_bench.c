// SPDX-License-Identifier: GPL-2.0
/*
 * reclaim_bench.c - does reclaiming one range of a VM stall the vCPUs
 * faulting in another? First-touch fault latency of a vCPU, per page:
 *
 *   idle         memvirtfs, nothing else running;
 *   reclaim      memvirtfs, a host thread refills range B with pwrite() of
 *                zero pages and runs MEMVIRT_IOC_RECLAIM (ZERO) over it, in
 *                a loop;
 *   punch        memvirtfs, the same with fallocate(PUNCH_HOLE) of B;
 *   shmem_punch  a memfd (what hosts use today), refilled and punched;
 *   other_vm     memvirtfs, the reclaim loop on range B of another VM's
 *                file: the same CPU load on the host without sharing any
 *                lock with the measured VM, the control that tells CPU
 *                contention from serialization.
 *
 * Each measurement is a fresh one-vCPU VM (selftests/lib) whose guest
 * writes one byte per page of range A (VMM_PROG_TOUCH_TIMED), timing each
 * store with rdtsc (converted with KVM_GET_TSC_KHZ); the host thread runs
 * its first round before the vCPU starts and stops after it ends. The
 * table shows, per column, the medians over the repetitions of p50, p99
 * and max per page, and the host thread's rounds during the vCPU's run;
 * the last line is fixed-format:
 *   bench: reclaim idle_p99_ns=N reclaim_p99_ns=N punch_p99_ns=N
 *          shmem_punch_p99_ns=N rounds=N ratio=R	(one line)
 * with rounds the reclaim column's and R = reclaim_p99_ns / idle_p99_ns
 * ("na" where a column could not be measured). Exit 0 unless a
 * measurement failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backing.h"
#include "bench.h"
#include "reclaimer.h"
#include "vmm.h"

#define MIB		(1ULL << 20)
#define MAX_REPS	32
#define DEFAULT_A_MIB	32
#define DEFAULT_B_MIB	8
#define DEFAULT_REPS	3
#define DEFAULT_TIMEOUT	300
#define FIRST_ROUND_S	60

enum col { COL_IDLE, COL_RECLAIM, COL_PUNCH, COL_SHMEM_PUNCH, COL_OTHER_VM, NR_COLS };
enum fig { FIG_P50, FIG_P99, FIG_MAX, FIG_ROUNDS, NR_FIGS };

static const struct {
	const char *name;
	enum backing_kind kind;
	bool churn;
	enum reclaimer_mode mode;
	bool other;
} cols[NR_COLS] = {
	[COL_IDLE] = { "idle", BACKING_MEMVIRTFS, false },
	[COL_RECLAIM] = { "reclaim", BACKING_MEMVIRTFS, true, RECLAIMER_RECLAIM },
	[COL_PUNCH] = { "punch", BACKING_MEMVIRTFS, true, RECLAIMER_PUNCH },
	[COL_SHMEM_PUNCH] = { "shmem_punch", BACKING_MEMFD, true, RECLAIMER_PUNCH },
	[COL_OTHER_VM] = { "other_vm", BACKING_MEMVIRTFS, true, RECLAIMER_RECLAIM, true },
};

static const char *const fig_names[NR_FIGS] = {
	[FIG_P50] = "p50 ns",
	[FIG_P99] = "p99 ns",
	[FIG_MAX] = "max ns",
	[FIG_ROUNDS] = "rounds",
};

struct bench {
	u64 a_bytes, b_bytes;
	int reps;
	unsigned int timeout_s;
	bool avail[NR_COLS];
	double v[NR_FIGS][NR_COLS][MAX_REPS];
	int n[NR_COLS];
};

/* Guest layout: A from VMM_FREE_GPA, then B, then the records. */
static u64 b_gpa(const struct bench *b)
{
	return (VMM_FREE_GPA + b->a_bytes + VMM_HUGE_SIZE - 1) & ~(VMM_HUGE_SIZE - 1);
}

static u64 rec_gpa(const struct bench *b)
{
	return b_gpa(b) + b->b_bytes;
}

static u64 guest_size(const struct bench *b)
{
	u64 end = rec_gpa(b) + (b->a_bytes / VMM_PAGE_SIZE) * sizeof(u64);

	return (end + VMM_HUGE_SIZE - 1) & ~(VMM_HUGE_SIZE - 1);
}

/* One measurement of column @c; 0, -ENOTTY if RECLAIM is missing, or -EIO. */
static int measure(struct bench *b, enum col c)
{
	u64 pages = b->a_bytes / VMM_PAGE_SIZE, r0 = 0, r1 = 0;
	struct reclaimer r = { .off = b_gpa(b), .len = b->b_bytes, .refill = true,
			       .mode = cols[c].mode };
	char reason[256];
	struct stall_stats ss;
	struct backing bk, other = { .fd = -1 };
	struct vm *vm;
	int ret = -EIO, n;

	if (backing_open(&bk, cols[c].kind, guest_size(b), reason, sizeof(reason))) {
		fprintf(stderr, "reclaim_bench: %s: %s\n", cols[c].name, reason);
		return -EIO;
	}
	vm = vm_create(bk.fd, guest_size(b), 1);
	if (!vm)
		goto out;
	/* Records resident, vCPU stack warm: only A's faults are timed. */
	memset(vm_hva(vm, rec_gpa(b)), 0, pages * sizeof(u64));
	if (vm_run_one(vm, 0, VMM_PROG_TOUCH_TIMED, b_gpa(b),
		       b_gpa(b) + VMM_PAGE_SIZE, rec_gpa(b), b->timeout_s))
		goto out;
	r.fd = bk.fd;
	if (cols[c].other) {
		if (backing_open(&other, cols[c].kind, guest_size(b), reason,
				 sizeof(reason))) {
			fprintf(stderr, "reclaim_bench: %s: %s\n", cols[c].name, reason);
			goto out;
		}
		r.fd = other.fd;
	}
	if (cols[c].churn) {
		if (reclaimer_start(&r))
			goto out;
		ret = reclaimer_wait_rounds(&r, 1, FIRST_ROUND_S);
		if (ret) {
			reclaimer_stop(&r);
			fprintf(stderr, "reclaim_bench: %s: %s: %s\n", cols[c].name,
				r.what ? r.what : "first round", strerror(-ret));
			ret = ret == -ENOTTY ? -ENOTTY : -EIO;
			goto out;
		}
		r0 = reclaimer_rounds(&r);
	}
	ret = vm_run_one(vm, 0, VMM_PROG_TOUCH_TIMED, VMM_FREE_GPA,
			 VMM_FREE_GPA + b->a_bytes, rec_gpa(b), b->timeout_s);
	if (cols[c].churn) {
		r1 = reclaimer_rounds(&r);
		reclaimer_stop(&r);
		if (r.err) {
			fprintf(stderr, "reclaim_bench: %s: %s: %s\n", cols[c].name,
				r.what, strerror(-r.err));
			ret = -EIO;
		} else if (cols[c].mode == RECLAIMER_RECLAIM &&
			   (r.min_reclaimed != b->b_bytes / VMM_PAGE_SIZE ||
			    r.max_reclaimed != b->b_bytes / VMM_PAGE_SIZE)) {
			fprintf(stderr, "reclaim_bench: RECLAIM took %llu to %llu pages of %llu\n",
				r.min_reclaimed, r.max_reclaimed,
				b->b_bytes / VMM_PAGE_SIZE);
			ret = -EIO;
		}
	}
	if (ret || stall_stats_read(vm, rec_gpa(b), pages, &ss)) {
		ret = -EIO;
		goto out;
	}
	n = b->n[c]++;
	b->v[FIG_P50][c][n] = ss.p50_ns;
	b->v[FIG_P99][c][n] = ss.p99_ns;
	b->v[FIG_MAX][c][n] = ss.max_ns;
	b->v[FIG_ROUNDS][c][n] = r1 - r0;
out:
	vm_destroy(vm);
	backing_close(&other);
	backing_close(&bk);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of a figure over the repetitions of @c, or -1 if there are none. */
static double median(struct bench *b, enum fig f, enum col c)
{
	int n = b->n[c];
	double *v = b->v[f][c];

	if (!n)
		return -1;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_table(struct bench *b)
{
	double m, idle;
	int f, c;

	printf("reclaim_bench: first touch of %llu MiB (range A) while %llu MiB (range B) is taken away, %d reps, medians\n",
	       b->a_bytes / MIB, b->b_bytes / MIB, b->reps);
	printf("%-14s", "");
	for (c = 0; c < NR_COLS; c++)
		printf("%14s", cols[c].name);
	printf("\n");
	for (f = 0; f < NR_FIGS; f++) {
		printf("%-14s", fig_names[f]);
		for (c = 0; c < NR_COLS; c++) {
			m = median(b, f, c);
			if (m < 0 || (f == FIG_ROUNDS && !cols[c].churn))
				printf("%14s", m < 0 ? "n/a" : "-");
			else
				printf("%14.0f", m);
		}
		printf("\n");
	}
	printf("%-14s", "p99/idle");
	idle = median(b, FIG_P99, COL_IDLE);
	for (c = 0; c < NR_COLS; c++) {
		m = median(b, FIG_P99, c);
		if (m < 0 || idle <= 0)
			printf("%14s", "n/a");
		else
			printf("%14.2f", m / idle);
	}
	printf("\n");
}

static void print_machine(struct bench *b)
{
	double idle = median(b, FIG_P99, COL_IDLE);
	double rec = median(b, FIG_P99, COL_RECLAIM);
	char s[NR_COLS][32], rounds[32], ratio[32];
	int c;

	for (c = 0; c < NR_COLS; c++)
		fmt(s[c], sizeof(s[c]), median(b, FIG_P99, c), "%.0f");
	fmt(rounds, sizeof(rounds), median(b, FIG_ROUNDS, COL_RECLAIM), "%.0f");
	fmt(ratio, sizeof(ratio), idle > 0 && rec >= 0 ? rec / idle : -1, "%.3f");
	printf("bench: reclaim idle_p99_ns=%s reclaim_p99_ns=%s punch_p99_ns=%s shmem_punch_p99_ns=%s rounds=%s ratio=%s\n",
	       s[COL_IDLE], s[COL_RECLAIM], s[COL_PUNCH], s[COL_SHMEM_PUNCH],
	       rounds, ratio);
}

/* Which columns can be measured at all; say why not. */
static int probe(struct bench *b)
{
	char reason[256];
	struct backing bk;
	int c;

	if (vmm_kvm_available(reason, sizeof(reason))) {
		printf("# no measurements: %s\n", reason);
		return -ENODEV;
	}
	for (c = 0; c < NR_COLS; c++) {
		if (!backing_open(&bk, cols[c].kind, VMM_PAGE_SIZE, reason,
				  sizeof(reason))) {
			b->avail[c] = true;
			backing_close(&bk);
		} else {
			printf("# %s unavailable: %s\n", cols[c].name, reason);
		}
	}
	return 0;
}

static int run(struct bench *b)
{
	int rep, c, ret, err = 0;

	for (rep = 0; rep < b->reps; rep++) {
		for (c = 0; c < NR_COLS; c++) {
			if (!b->avail[c])
				continue;
			ret = measure(b, c);
			if (ret == -ENOTTY) {
				printf("# %s unavailable: MEMVIRT_IOC_RECLAIM not supported by this memvirt\n",
				       cols[c].name);
				b->avail[c] = false;
			} else if (ret) {
				err = -EIO;
			}
		}
	}
	return err;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-a MiB] [-b MiB] [-r reps] [-t timeout_s]\n"
		"  -a  range A, first-touched by the vCPU (default %d MiB)\n"
		"  -b  range B, refilled and taken away by the host (default %d MiB)\n"
		"  -r  repetitions, 1..%d (default %d)\n"
		"  -t  timeout of one guest run (default %d s)\n",
		prog, DEFAULT_A_MIB, DEFAULT_B_MIB, MAX_REPS, DEFAULT_REPS,
		DEFAULT_TIMEOUT);
	exit(2);
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	unsigned long a = DEFAULT_A_MIB, bm = DEFAULT_B_MIB;
	int opt;

	b->reps = DEFAULT_REPS;
	b->timeout_s = DEFAULT_TIMEOUT;
	while ((opt = getopt(argc, argv, "a:b:r:t:h")) != -1) {
		switch (opt) {
		case 'a':
			a = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			bm = strtoul(optarg, NULL, 0);
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
	if (!a || !bm || a + bm > ((u64)VMM_MAX_GIB << 10) / 2 || b->reps < 1 ||
	    b->reps > MAX_REPS || !b->timeout_s)
		print_usage(argv[0]);
	b->a_bytes = (u64)a * MIB;
	b->b_bytes = (u64)bm * MIB;
}

int main(int argc, char **argv)
{
	static struct bench b;
	int err;

	parse_args(&b, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	err = probe(&b);
	if (!err)
		err = run(&b);
	print_table(&b);
	print_machine(&b);
	return err == -EIO ? 1 : 0;
}
