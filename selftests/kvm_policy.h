/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_policy.h - what kvm_policy_test.c and kvm_policy_wss_test.c share:
 * guests whose RAM is a file of a memvirtfs mounted with swapdir= on a
 * fresh directory of the swap disk (swap_contract.h), filled with
 * VMM_PROG_FILL (nothing compresses, nothing is zero, nothing shares); a
 * host thread that runs VMM_PROG_TOUCH over an "active" guest's working
 * set again and again; the fixture that saves and restores the policy
 * knobs, budget_mb and overcommit_ratio (policy_contract.h). The tests are
 * in two programs so that each fits its deadline on the debug kernels.
 */
#ifndef KVM_POLICY_H
#define KVM_POLICY_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "contract.h"
#include "swap_contract.h"
#include "policy_contract.h"
#include "vmm.h"

#define MIB			(1ULL << 20)
#define PAGES(bytes)		((bytes) / VMM_PAGE_SIZE)
#define NR_GUESTS		4
#define RUN_TIMEOUT_S		120
#define SEED			0x90a1ULL

/* ------------------------------------------------------------------ */
/* Guests */

struct guest {
	char path[PATH_MAX];
	int fd;
	u64 id;
	u64 size;
	struct vm *vm;
};

static void guest_close(struct guest *g)
{
	if (g->vm)
		vm_destroy(g->vm);
	g->vm = NULL;
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	if (g->path[0])
		unlink(g->path);
	g->path[0] = 0;
}

FIXTURE(kp) {
	struct sw_mount m;
	struct guest g[NR_GUESTS];
	struct pl_knobs k;
	bool knobs_saved;
};

typedef FIXTURE_DATA(kp) kp_t;

static void kp_fini(struct __test_metadata *_metadata, kp_t *self)
{
	int i, ret;

	for (i = 0; i < NR_GUESTS; i++)
		guest_close(&self->g[i]);
	ret = sw_mount_close(&self->m);
	EXPECT_EQ(0, ret) TH_LOG("umount: %s", strerror(-ret));
	if (self->knobs_saved) {
		EXPECT_EQ(0, pl_knobs_restore(&self->k))
			TH_LOG("restoring the policy knobs, budget_mb, overcommit_ratio");
		self->knobs_saved = false;
	}
}

FIXTURE_SETUP(kp)
{
	const char *skip = sw_disk_missing();
	char why[PATH_MAX + 128] = "";
	u64 nr = 0;
	int i, ret = 0;

	for (i = 0; i < NR_GUESTS; i++)
		self->g[i].fd = -1;
	if (skip)
		MV_SETUP_SKIP("%s", skip);
	if (!mv_fs_registered(MV_FSTYPE))
		MV_SETUP_SKIP("memvirtfs is not registered (memvirt.ko not loaded)");
	pl_knobs_save(&self->k);
	self->knobs_saved = true;
	for (i = 0; i < 100; i++) {
		ret = mv_global_u64("nr_vms", &nr);
		if (ret || !nr)
			break;
		pl_sleep_ms(20);
	}
	if (!ret && nr) {
		snprintf(why, sizeof(why), "%llu VMs exist before the test",
			 (unsigned long long)nr);
		ret = -EBUSY;
	}
	if (!ret)
		ret = sw_mount_open(&self->m, true, why, sizeof(why));
	if (ret)
		kp_fini(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	PL_SET_GLOBAL("overcommit_ratio", 200);
	/* ticks every 50 ms; balloon targets are not followed by these VMMs */
	PL_SET(PL_PERIOD_MS, 50);
	PL_SET(PL_BALLOON_TIMEOUT_MS, 1000);
}

FIXTURE_TEARDOWN(kp)
{
	kp_fini(_metadata, self);
}

/* Guest @i of @size bytes with one vCPU; filled with the pattern if @fill. */
static struct guest *guest_new(struct __test_metadata *_metadata, kp_t *self,
			       int i, u64 size, bool fill)
{
	struct guest *g = &self->g[i];
	struct memvirt_stats st;
	int ret;

	snprintf(g->path, sizeof(g->path), "%s/guest%d", self->m.mnt, i);
	g->size = size;
	g->fd = mv_create(g->path, size);
	if (g->fd < 0)
		g->path[0] = 0;
	ASSERT_LE(0, g->fd) TH_LOG("create %s: %s", g->path, strerror(-g->fd));
	ASSERT_EQ(0, mv_get_stats(g->fd, &st));
	g->id = st.vm_id;
	g->vm = vm_create(g->fd, size, 1);
	ASSERT_NE(NULL, g->vm) TH_LOG("vm_create failed (see the vmm: line)");
	if (!fill)
		return g;
	ret = vm_run_one(g->vm, 0, VMM_PROG_FILL, VMM_FREE_GPA, size, SEED + i,
			 RUN_TIMEOUT_S);
	ASSERT_EQ(0, ret) TH_LOG("FILL of guest %d", i);
	EXPECT_EQ(0ULL, vcpu_report(g->vm, 0, VMM_REPORT_MISMATCHES, 1));
	return g;
}

#define GUEST(i, size, fill) guest_new(_metadata, self, i, size, fill)

/* Gfns of [@gpa, +@len) of @g in state PRIVATE. */
static inline u64 private_in(struct guest *g, u64 gpa, u64 len)
{
	u64 n = PAGES(len), i, cnt = 0;
	u8 *st = malloc(n);

	if (!st)
		return 0;
	if (!mv_query(g->fd, gpa >> VMM_PAGE_SHIFT, n, st))
		for (i = 0; i < n; i++)
			cnt += (st[i] & MEMVIRT_GFN_STATE_MASK) == MEMVIRT_GFN_PRIVATE;
	free(st);
	return cnt;
}

static void stats(struct __test_metadata *_metadata, struct guest *g,
		  struct memvirt_stats *st)
{
	ASSERT_EQ(0, mv_get_stats(g->fd, st));
}

/* ------------------------------------------------------------------ */
/* A host thread running a guest's working set pass after pass */

struct driver {
	pthread_t thread;
	struct guest *g;
	u64 start, end;		/* the working set; may change between passes */
	int stop;
	int err;
	u64 passes;
	bool running;
};

static void *driver_run(void *arg)
{
	struct driver *d = arg;
	u64 s, e;
	int ret;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		s = __atomic_load_n(&d->start, __ATOMIC_ACQUIRE);
		e = __atomic_load_n(&d->end, __ATOMIC_ACQUIRE);
		ret = vm_run_one(d->g->vm, 0, VMM_PROG_TOUCH, s, e, 0, RUN_TIMEOUT_S);
		if (ret) {
			d->err = ret;
			break;
		}
		__atomic_add_fetch(&d->passes, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int driver_start(struct driver *d, struct guest *g, u64 start, u64 end)
{
	memset(d, 0, sizeof(*d));
	d->g = g;
	d->start = start;
	d->end = end;
	if (pthread_create(&d->thread, NULL, driver_run, d))
		return -errno;
	d->running = true;
	return 0;
}

static inline void driver_set(struct driver *d, u64 start, u64 end)
{
	__atomic_store_n(&d->start, start, __ATOMIC_RELEASE);
	__atomic_store_n(&d->end, end, __ATOMIC_RELEASE);
}

static int driver_stop(struct driver *d)
{
	if (!d->running)
		return 0;
	__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
	pthread_join(d->thread, NULL);
	d->running = false;
	return d->err;
}

/* Wait until VM @id closed @n more sample periods (or @ms passed). */
static u64 wait_periods(struct __test_metadata *_metadata, u64 id, u64 n,
			u64 ms)
{
	u64 p0 = pl_vm(_metadata, id, "sample_periods"), p = p0;
	u64 end = pl_now_ms() + ms;

	while (p < p0 + n && pl_now_ms() < end) {
		pl_sleep_ms(10);
		p = pl_vm(_metadata, id, "sample_periods");
	}
	return p - p0;
}

#endif /* KVM_POLICY_H */
