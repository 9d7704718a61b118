// SPDX-License-Identifier: GPL-2.0
/*
 * reclaimer.c - the reclaiming host thread of reclaimer.h.
 *
 * The thread writes its counters with atomic stores, so reclaimer_rounds()
 * and reclaimer_wait_rounds() may read them while it runs; everything else
 * is read after reclaimer_stop() has joined it. stall_stats_read() turns the
 * guest's per-page records into the figures tests print and benchmarks
 * compare.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backing.h"
#include "reclaimer.h"
#include "vmm.h"

#define REFILL_CHUNK	(1ULL << 20)

static int fail(struct reclaimer *r, const char *what, int err)
{
	r->what = what;
	__atomic_store_n(&r->err, err, __ATOMIC_RELEASE);
	return err;
}

/* pwrite() zero pages over the whole range: each becomes a private page. */
static int refill(struct reclaimer *r)
{
	u64 done, n;
	ssize_t w;

	for (done = 0; done < r->len; done += n) {
		n = r->len - done < REFILL_CHUNK ? r->len - done : REFILL_CHUNK;
		w = pwrite(r->fd, r->zeroes, n, r->off + done);
		if (w != (ssize_t)n)
			return fail(r, "pwrite", w < 0 ? -errno : -EIO);
	}
	return 0;
}

static int take(struct reclaimer *r)
{
	struct memvirt_reclaim rc;
	int err;

	if (r->mode == RECLAIMER_PUNCH) {
		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      r->off, r->len))
			return fail(r, "fallocate(PUNCH_HOLE)", -errno);
		return 0;
	}
	err = memvirt_reclaim(r->fd, MEMVIRT_RECLAIM_ZERO,
			      r->off >> VMM_PAGE_SHIFT, r->len >> VMM_PAGE_SHIFT,
			      &rc);
	if (err)
		return fail(r, "MEMVIRT_IOC_RECLAIM", err);
	r->reclaimed += rc.reclaimed;
	r->pinned_skips += rc.pinned_skips;
	if (rc.reclaimed < r->min_reclaimed)
		r->min_reclaimed = rc.reclaimed;
	if (rc.reclaimed > r->max_reclaimed)
		r->max_reclaimed = rc.reclaimed;
	return 0;
}

static void *reclaimer_thread(void *arg)
{
	struct reclaimer *r = arg;
	u64 t0, ns;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		if (r->refill && refill(r))
			break;
		t0 = vmm_now_ns();
		if (take(r))
			break;
		ns = vmm_now_ns() - t0;
		r->total_ns += ns;
		if (ns > r->max_round_ns)
			r->max_round_ns = ns;
		__atomic_add_fetch(&r->rounds, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int reclaimer_start(struct reclaimer *r)
{
	int err;

	r->err = 0;
	r->what = NULL;
	r->rounds = r->reclaimed = r->max_reclaimed = r->pinned_skips = 0;
	r->min_reclaimed = ~0ULL;
	r->max_round_ns = r->total_ns = 0;
	r->stop = 0;
	r->zeroes = calloc(1, REFILL_CHUNK);
	if (!r->zeroes)
		return -ENOMEM;
	err = pthread_create(&r->thread, NULL, reclaimer_thread, r);
	if (err) {
		free(r->zeroes);
		r->zeroes = NULL;
		return -err;
	}
	r->running = true;
	return 0;
}

u64 reclaimer_rounds(struct reclaimer *r)
{
	return __atomic_load_n(&r->rounds, __ATOMIC_ACQUIRE);
}

int reclaimer_wait_rounds(struct reclaimer *r, u64 n, unsigned int timeout_s)
{
	u64 deadline = vmm_now_ns() + timeout_s * 1000000000ULL;
	struct timespec nap = { .tv_nsec = 1000000 };
	int err;

	while (reclaimer_rounds(r) < n) {
		err = __atomic_load_n(&r->err, __ATOMIC_ACQUIRE);
		if (err)
			return err;
		if (vmm_now_ns() > deadline)
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
	return 0;
}

void reclaimer_stop(struct reclaimer *r)
{
	if (!r->running)
		return;
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	pthread_join(r->thread, NULL);
	r->running = false;
	free(r->zeroes);
	r->zeroes = NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile @pct of sorted @v[@n]. */
static u64 percentile(const u64 *v, u64 n, unsigned int pct)
{
	u64 rank = (n * pct + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

int stall_stats_read(struct vm *vm, u64 rec_gpa, u64 n, struct stall_stats *st)
{
	u64 khz = vm_tsc_khz(vm), *v;
	const u64 *rec = vm_hva(vm, rec_gpa);

	memset(st, 0, sizeof(*st));
	if (!khz)
		return -ENODEV;
	if (!n || !rec || !vm_hva(vm, rec_gpa + n * sizeof(u64) - 1))
		return -EINVAL;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, rec, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u64);
	st->pages = n;
	st->p50_ns = percentile(v, n, 50) * 1000000ULL / khz;
	st->p99_ns = percentile(v, n, 99) * 1000000ULL / khz;
	st->max_ns = v[n - 1] * 1000000ULL / khz;
	free(v);
	return 0;
}
