/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reclaimer.h - a host thread that takes one range of guest RAM away, over
 * and over, while vCPUs work elsewhere (or in the same range).
 *
 * Each round optionally refills the range with pwrite() of zero pages (so
 * every page is private again, and all of it is reclaimable as zero), then
 * either runs MEMVIRT_IOC_RECLAIM (MEMVIRT_RECLAIM_ZERO) over it or punches
 * it with fallocate(PUNCH_HOLE | KEEP_SIZE). The thread runs until
 * reclaimer_stop() or the first error; the counters are read while it runs
 * with reclaimer_rounds() and after it stopped directly:
 *
 *	struct reclaimer r = { .fd = fd, .mode = RECLAIMER_RECLAIM,
 *			       .off = off, .len = len, .refill = true };
 *	reclaimer_start(&r);
 *	reclaimer_wait_rounds(&r, 1, 60);
 *	...
 *	reclaimer_stop(&r);	// r.err, r.rounds, r.min_reclaimed, ...
 */
#ifndef VMM_RECLAIMER_H
#define VMM_RECLAIMER_H

#include <pthread.h>
#include <stdbool.h>

#include "guest_abi.h"

enum reclaimer_mode {
	RECLAIMER_RECLAIM,	/* MEMVIRT_IOC_RECLAIM, MEMVIRT_RECLAIM_ZERO */
	RECLAIMER_PUNCH,	/* fallocate(PUNCH_HOLE | KEEP_SIZE) */
};

/**
 * struct reclaimer - one reclaiming thread and what it did.
 * @fd:		in: the guest RAM file (memvirtfs for RECLAIM).
 * @mode:	in: what each round does.
 * @off, @len:	in: the byte range, page-aligned.
 * @refill:	in: pwrite() zeroes over the range before each reclaim.
 * @err:	out: first error (-errno) that stopped the thread, else 0.
 * @what:	out: the call that failed.
 * @rounds:	out: rounds completed.
 * @reclaimed:	out: RECLAIM: sum of reclaimed over all rounds.
 * @min_reclaimed, @max_reclaimed: out: RECLAIM: extremes of one round's
 *		reclaimed (min starts at ~0).
 * @pinned_skips: out: RECLAIM: sum of pinned_skips.
 * @max_round_ns: out: longest reclaim (or punch) call, without the refill.
 * @total_ns:	out: time spent in reclaim (or punch) calls.
 */
struct reclaimer {
	int fd;
	enum reclaimer_mode mode;
	u64 off, len;
	bool refill;

	int err;
	const char *what;
	u64 rounds;
	u64 reclaimed, min_reclaimed, max_reclaimed, pinned_skips;
	u64 max_round_ns, total_ns;

	pthread_t thread;
	int stop;
	bool running;
	void *zeroes;
};

/* Start the thread: 0 or -errno. */
int reclaimer_start(struct reclaimer *r);
/* Rounds completed so far (safe while the thread runs). */
u64 reclaimer_rounds(struct reclaimer *r);
/*
 * Wait until at least @n rounds completed in all, the thread stopped on an
 * error, or @timeout_s passed: 0 when the rounds are done, else -ETIMEDOUT
 * or the thread's error.
 */
int reclaimer_wait_rounds(struct reclaimer *r, u64 n, unsigned int timeout_s);
/* Stop and join the thread (after its current round); no-op if not running. */
void reclaimer_stop(struct reclaimer *r);

/**
 * struct stall_stats - per-page latencies of a VMM_PROG_TOUCH_TIMED run.
 * @pages:	number of records.
 * @p50_ns, @p99_ns, @max_ns: percentiles (nearest rank) and maximum.
 */
struct stall_stats {
	u64 pages;
	u64 p50_ns, p99_ns, max_ns;
};

struct vm;

/*
 * Read the @n u64 rdtsc deltas VMM_PROG_TOUCH_TIMED stored at @rec_gpa and
 * convert them with the guest TSC frequency: 0, or -errno (-ENODEV if KVM
 * does not tell the frequency).
 */
int stall_stats_read(struct vm *vm, u64 rec_gpa, u64 n, struct stall_stats *st);

#endif /* VMM_RECLAIMER_H */
