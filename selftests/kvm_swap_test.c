// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_swap_test.c - compression and swap (issue 9) under KVM guests on
 * memvirtfs, against /work/spec/swap-interface.md.
 *
 * The guest's RAM is a file of a memvirtfs mounted with swapdir= on a fresh
 * directory of the test VM's swap disk (swap_contract.h). The guest runs
 * VMM_PROG_MIX_CHURN: each pass gives every page one of three kinds (zero,
 * compressible, incompressible: vmm_mix_word()) and checks, word by word,
 * that every page still holds what the previous pass wrote, so a lost,
 * stale or misplaced byte anywhere is a mismatch the guest reports.
 *
 * Fixtures:
 *   sg		paused: the guest fills a range, the host compresses it
 *		(exact outputs and states: zero pages ZERO, compressible
 *		COMPRESSED, the rest SWAPPED), the guest checks it all and
 *		rewrites it, the host swaps it, the guest checks again; every
 *		page brought back is one swap-in (readahead 0). running: two
 *		vCPUs rewrite their ranges pass after pass while a host thread
 *		runs COMPRESS and SWAP passes over them: no mismatch. After
 *		every test the VM and its swap file go and nothing is left
 *		compressed or swapped;
 *   fault_inject (debug kernels: fail_make_request) the swap-in read of
 *		one gfn the guest reads fails: KVM_RUN fails with EFAULT,
 *		the gfn is ERROR with a log line, the other gfns read back in
 *		the guest, and a punch makes the gfn usable again.
 */
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
#include "backing.h"
#include "vmm.h"

#define MIB			(1ULL << 20)
#define GUEST_SIZE		(16 * MIB)
#define NR_VCPUS		2
#define PAGES(bytes)		((bytes) / VMM_PAGE_SIZE)
#define A_START			(4 * MIB)
#define A_LEN			(2 * MIB)
#define A_GFN			(A_START >> VMM_PAGE_SHIFT)
/* running: vCPU k rewrites [R_START(k), +R_LEN), both inside A */
#define R_LEN			(1 * MIB)
#define R_START(k)		(A_START + (k) * R_LEN)
#define R_PASSES		6
#define FI_START		(12 * MIB)
#define FI_PAGES		16
#define FI_BAD			5
#define WARM_GPA		(14 * MIB)
#define RUN_TIMEOUT_S		150
#define TEST_TIMEOUT_S		240
#define NO_REPORT		(~0ULL)

/* vCPU @i: its last run processed @pages pages, no bad word. */
#define EXPECT_GUEST_OK(vm_, i, pages) do {				\
	EXPECT_EQ((u64)(pages), vcpu_report(vm_, i, VMM_REPORT_PAGES, NO_REPORT)); \
	EXPECT_EQ(0ULL, vcpu_report(vm_, i, VMM_REPORT_MISMATCHES, NO_REPORT)) \
		TH_LOG("vcpu%d: first bad gfn 0x%llx word %llu = 0x%llx", \
		       i, vcpu_report(vm_, i, VMM_REPORT_BAD_GFN, 0),	\
		       vcpu_report(vm_, i, VMM_REPORT_BAD_WORD, 0),	\
		       vcpu_report(vm_, i, VMM_REPORT_BAD_VALUE, 0));	\
} while (0)

/* ------------------------------------------------------------------ */
/* A guest whose RAM swaps to the swap disk */

struct guest {
	struct sw_mount m;
	struct backing b;
	struct vm *vm;
	u8 *mem;
	u64 id;
};

static int guest_open(struct guest *g, char *why, size_t len)
{
	struct memvirt_stats st;
	int ret;

	g->b.fd = -1;
	ret = sw_mount_open(&g->m, true, why, len);
	if (ret)
		return ret;
	g->b.kind = BACKING_MEMVIRTFS;
	g->b.size = GUEST_SIZE;
	snprintf(g->b.path, sizeof(g->b.path), "%s/guest", g->m.mnt);
	g->b.fd = mv_create(g->b.path, GUEST_SIZE);
	if (g->b.fd < 0) {
		ret = g->b.fd;
		snprintf(why, len, "create %s: %s", g->b.path, strerror(-ret));
		g->b.path[0] = 0;
		return ret;
	}
	ret = memvirt_get_stats(g->b.fd, &st);
	if (ret) {
		snprintf(why, len, "GET_STATS: %s", strerror(-ret));
		return ret;
	}
	g->id = st.vm_id;
	g->vm = vm_create(g->b.fd, GUEST_SIZE, NR_VCPUS);
	if (!g->vm) {
		snprintf(why, len, "vm_create failed (see vmm: line above)");
		return -EIO;
	}
	g->mem = vm_mem(g->vm);
	return 0;
}

/* The VM goes, then its file, its swap file and the mount. */
static void guest_close(struct __test_metadata *_metadata, struct guest *g)
{
	char vswp[PATH_MAX];
	int i;

	if (g->vm)
		vm_destroy(g->vm);
	g->vm = NULL;
	if (g->b.fd >= 0 || g->b.path[0]) {
		backing_close(&g->b);
		sw_vswp_path(vswp, sizeof(vswp), g->m.dir, g->id);
		for (i = 0; i < 100 && !access(vswp, F_OK); i++)
			usleep(50000);
		EXPECT_NE(0, access(vswp, F_OK)) TH_LOG("%s outlived its VM", vswp);
	}
	EXPECT_EQ(0, sw_mount_close(&g->m));
}

/* Every gfn of [@gpa, +@len) is in state @want; logs the first that is not. */
static void expect_states(struct __test_metadata *_metadata, struct guest *g,
			  u64 gpa, u64 len, u8 want)
{
	u64 i, n = PAGES(len), bad = 0, first = 0;
	u8 *st = malloc(n), got = 0;

	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, memvirt_query_range(g->b.fd, gpa >> VMM_PAGE_SHIFT, n, st));
	for (i = 0; i < n; i++) {
		if ((st[i] & MEMVIRT_GFN_STATE_MASK) != want && !bad++) {
			first = i;
			got = st[i];
		}
	}
	free(st);
	EXPECT_EQ(0ULL, bad)
		TH_LOG("%llu gfns not in state %u; first gfn 0x%llx is 0x%x",
		       bad, want, (gpa >> VMM_PAGE_SHIFT) + first, got);
}

static void stats(struct __test_metadata *_metadata, struct guest *g,
		  struct memvirt_stats *st)
{
	ASSERT_EQ(0, memvirt_get_stats(g->b.fd, st));
}

FIXTURE(sg) {
	struct guest g;
	struct sw_knobs k;
	bool knobs_saved;
	struct sw_glob g0;
};

typedef FIXTURE_DATA(sg) sg_t;

static void sg_fini(struct __test_metadata *_metadata, sg_t *self)
{
	guest_close(_metadata, &self->g);
	if (self->knobs_saved) {
		sw_expect_drained(_metadata, &self->g0);
		EXPECT_EQ(0, sw_knobs_restore(&self->k));
	}
}

static void sg_init(struct __test_metadata *_metadata, sg_t *self)
{
	const char *skip = sw_disk_missing(), *bad = "";
	char why[256] = "";
	int ret;

	self->g.b.fd = -1;
	if (skip)
		MV_SETUP_SKIP("%s", skip);
	if (!mv_fs_registered(MV_FSTYPE))
		MV_SETUP_SKIP("memvirtfs is not registered (memvirt.ko not loaded)");
	sw_knobs_save(&self->k);
	self->knobs_saved = true;
	ret = sw_set("swapin_readahead", 0);
	if (ret)
		snprintf(why, sizeof(why), "swap/swapin_readahead = 0: %s",
			 strerror(-ret));
	if (!ret) {
		ret = sw_glob_try(&self->g0, &bad);
		if (ret)
			snprintf(why, sizeof(why), "swap/%s: %s", bad,
				 strerror(-ret));
	}
	if (!ret)
		ret = guest_open(&self->g, why, sizeof(why));
	/* Both vCPUs' stacks resident, the programs run once. */
	if (!ret)
		ret = vm_run_one(self->g.vm, 0, VMM_PROG_READ_ZERO, WARM_GPA,
				 WARM_GPA + VMM_PAGE_SIZE, 0, RUN_TIMEOUT_S);
	if (!ret)
		ret = vm_run_one(self->g.vm, 1, VMM_PROG_FILL,
				 WARM_GPA + VMM_PAGE_SIZE,
				 WARM_GPA + 2 * VMM_PAGE_SIZE, 1, RUN_TIMEOUT_S);
	if (ret > 0)
		snprintf(why, sizeof(why), "warm-up run failed");
	if (ret) {
		self->knobs_saved = false;
		sw_knobs_restore(&self->k);
		guest_close(_metadata, &self->g);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
}

FIXTURE_SETUP(sg)
{
	sg_init(_metadata, self);
}

FIXTURE_TEARDOWN(sg)
{
	sg_fini(_metadata, self);
}

/* Pages of [@gpa, +@len) of each kind after MIX_CHURN pass @pass. */
static void mix_count(u64 gpa, u64 len, u64 pass, u64 *zero, u64 *comp,
		      u64 *rnd)
{
	u64 g, g0 = gpa >> VMM_PAGE_SHIFT;

	*zero = *comp = *rnd = 0;
	for (g = g0; g < g0 + PAGES(len); g++) {
		switch (vmm_mix_kind(g, pass)) {
		case VMM_MIX_ZERO:
			(*zero)++;
			break;
		case VMM_MIX_COMPRESSIBLE:
			(*comp)++;
			break;
		default:
			(*rnd)++;
		}
	}
}

/* Zero pages MIX_CHURN checks over passes @first .. @first + @n (the last: check only). */
static u64 mix_zero_checks(u64 gpa, u64 len, u64 first, u64 n)
{
	u64 pass, g, g0 = gpa >> VMM_PAGE_SHIFT, z = 0;

	for (pass = first; pass <= first + n; pass++)
		for (g = g0; g < g0 + PAGES(len); g++)
			z += !pass || vmm_mix_kind(g, pass - 1) == VMM_MIX_ZERO;
	return z;
}

/* vCPU @idx runs MIX_CHURN passes @first .. + @n over [@gpa, +@len). */
static void mix_run(struct __test_metadata *_metadata, struct guest *g,
		    int idx, u64 gpa, u64 len, u64 first, u64 n)
{
	ASSERT_EQ(0, vm_run_one(g->vm, idx, VMM_PROG_MIX_CHURN, gpa, gpa + len,
				VMM_MIX_PARAM(first, n), RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, idx, (n + 1) * PAGES(len));
	EXPECT_EQ(mix_zero_checks(gpa, len, first, n),
		  vcpu_report(g->vm, idx, VMM_REPORT_ZERO_PAGES, NO_REPORT));
}

/* The host reads pass @pass's content at [@gpa, +@len) through the file. */
static void host_sees_mix(struct __test_metadata *_metadata, struct guest *g,
			  u64 gpa, u64 len, u64 pass)
{
	u64 buf[VMM_WORDS_PER_PAGE], off, w, bad = 0, gfn;

	for (off = 0; off < len; off += VMM_PAGE_SIZE) {
		gfn = (gpa + off) >> VMM_PAGE_SHIFT;
		ASSERT_EQ((ssize_t)sizeof(buf),
			  pread(g->b.fd, buf, sizeof(buf), gpa + off));
		for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
			if (buf[w] != vmm_mix_word(gfn, w, pass) && !bad++)
				TH_LOG("gfn 0x%llx word %llu: 0x%llx", gfn, w,
				       buf[w]);
	}
	EXPECT_EQ(0ULL, bad);
}

/* Gfns of A after a pass over pass-@pass content: by kind. */
static void expect_mix_states(struct __test_metadata *_metadata,
			      struct guest *g, u64 pass, bool swap)
{
	u64 i, n = PAGES(A_LEN), bad = 0;
	u8 *st = malloc(n), want;

	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, memvirt_query_range(g->b.fd, A_GFN, n, st));
	for (i = 0; i < n; i++) {
		switch (vmm_mix_kind(A_GFN + i, pass)) {
		case VMM_MIX_ZERO:
			want = MEMVIRT_GFN_ZERO;
			break;
		case VMM_MIX_COMPRESSIBLE:
			want = swap ? MEMVIRT_GFN_SWAPPED : MEMVIRT_GFN_COMPRESSED;
			break;
		default:
			want = MEMVIRT_GFN_SWAPPED;
		}
		if ((st[i] & MEMVIRT_GFN_STATE_MASK) != want && !bad++)
			TH_LOG("gfn 0x%llx: state 0x%x, want %u", A_GFN + i,
			       st[i], want);
	}
	free(st);
	EXPECT_EQ(0ULL, bad);
}

/*
 * While the guest is stopped the host compresses its range; the guest
 * reads it all back and rewrites it; the host swaps it; the guest reads it
 * back again. KVM's entries for the reclaimed pages must be gone (the MMU
 * notifier), or the guest would read pages memvirt freed.
 */
TEST_F_TIMEOUT(sg, paused_guest_reads_back_compressed_and_swapped,
	       TEST_TIMEOUT_S)
{
	u64 n = PAGES(A_LEN), z, c, r;
	struct memvirt_reclaim rc;
	struct memvirt_stats st0, st;
	int ret;

	mix_run(_metadata, &self->g, 0, A_START, A_LEN, 0, 1);
	stats(_metadata, &self->g, &st0);
	mix_count(A_START, A_LEN, 0, &z, &c, &r);
	TH_LOG("pass 0: %llu zero, %llu compressible, %llu random pages", z, c, r);

	ret = mv_reclaim(self->g.b.fd, MEMVIRT_RECLAIM_COMPRESS, A_GFN, n, &rc);
	ASSERT_EQ(0, ret) TH_LOG("COMPRESS: %s", strerror(-ret));
	EXPECT_EQ(n, rc.scanned);
	EXPECT_EQ(c, rc.compressed);
	EXPECT_EQ(r, rc.swapped);
	EXPECT_EQ(z, rc.zeroed);
	EXPECT_EQ(n, rc.reclaimed);
	EXPECT_EQ(0ULL, rc.pinned_skips);
	expect_mix_states(_metadata, &self->g, 0, false);
	stats(_metadata, &self->g, &st);
	EXPECT_EQ(st0.compressed + c, st.compressed);
	EXPECT_EQ(st0.swapped + r, st.swapped);
	EXPECT_EQ(st0.resident - n, st.resident);

	/* The guest checks pass 0, then writes pass 1 and checks it. */
	mix_run(_metadata, &self->g, 1, A_START, A_LEN, 1, 0);
	stats(_metadata, &self->g, &st);
	EXPECT_EQ(st0.compressed, st.compressed);
	EXPECT_EQ(st0.swapped, st.swapped);
	EXPECT_EQ(st0.swap_ins + r, st.swap_ins);
	EXPECT_EQ(st0.resident - z, st.resident);
	mix_run(_metadata, &self->g, 0, A_START, A_LEN, 1, 1);

	mix_count(A_START, A_LEN, 1, &z, &c, &r);
	stats(_metadata, &self->g, &st0);
	ret = mv_reclaim(self->g.b.fd, MEMVIRT_RECLAIM_SWAP, A_GFN, n, &rc);
	ASSERT_EQ(0, ret) TH_LOG("SWAP: %s", strerror(-ret));
	EXPECT_EQ(n, rc.scanned);
	EXPECT_EQ(0ULL, rc.compressed);
	EXPECT_EQ(c + r, rc.swapped);
	EXPECT_EQ(z, rc.zeroed);
	EXPECT_EQ(0ULL, rc.pinned_skips);
	expect_mix_states(_metadata, &self->g, 1, true);
	mix_run(_metadata, &self->g, 1, A_START, A_LEN, 2, 0);
	stats(_metadata, &self->g, &st);
	EXPECT_EQ(st0.swap_ins + c + r, st.swap_ins);
	EXPECT_EQ(st0.swapped, st.swapped);
	EXPECT_EQ(st0.resident - z, st.resident);
	host_sees_mix(_metadata, &self->g, A_START, A_LEN, 1);
}

/* ---- running: vCPUs rewrite while the host takes their pages ---- */

struct taker {
	pthread_t thread;
	int fd;
	int stop;
	int err;
	u64 rounds, compressed, swapped;
};

static void *taker_run(void *arg)
{
	struct taker *t = arg;
	struct memvirt_reclaim rc;
	u64 mode;
	int err;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		mode = t->rounds % 2 ? MEMVIRT_RECLAIM_SWAP : MEMVIRT_RECLAIM_COMPRESS;
		err = mv_reclaim(t->fd, mode, A_GFN, PAGES(2 * R_LEN), &rc);
		if (err) {
			t->err = err;
			break;
		}
		t->compressed += rc.compressed;
		t->swapped += rc.swapped;
		__atomic_add_fetch(&t->rounds, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST_F_TIMEOUT(sg, running_vcpus_rewrite_while_host_compresses_and_swaps,
	       TEST_TIMEOUT_S)
{
	struct taker t = { .fd = self->g.b.fd };
	struct memvirt_stats st0, st;
	u64 r0, r1, t0;
	int k, ret;

	for (k = 0; k < NR_VCPUS; k++)
		mix_run(_metadata, &self->g, k, R_START(k), R_LEN, 0, 1);
	stats(_metadata, &self->g, &st0);
	ASSERT_EQ(0, pthread_create(&t.thread, NULL, taker_run, &t));
	while (!__atomic_load_n(&t.rounds, __ATOMIC_ACQUIRE) && !t.err)
		usleep(1000);
	r0 = __atomic_load_n(&t.rounds, __ATOMIC_ACQUIRE);
	t0 = vmm_now_ns();
	for (k = 0; k < NR_VCPUS; k++)
		ASSERT_EQ(0, vcpu_prepare(self->g.vm, k, VMM_PROG_MIX_CHURN,
					  R_START(k), R_START(k) + R_LEN,
					  VMM_MIX_PARAM(1, R_PASSES)));
	ret = vm_run(self->g.vm, RUN_TIMEOUT_S);
	r1 = __atomic_load_n(&t.rounds, __ATOMIC_ACQUIRE);
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t.thread, NULL);
	ASSERT_EQ(0, t.err) TH_LOG("RECLAIM: %s", strerror(-t.err));
	ASSERT_EQ(0, ret) TH_LOG("%d vCPUs failed", ret);
	for (k = 0; k < NR_VCPUS; k++) {
		EXPECT_GUEST_OK(self->g.vm, k, (R_PASSES + 1) * PAGES(R_LEN));
		EXPECT_EQ(mix_zero_checks(R_START(k), R_LEN, 1, R_PASSES),
			  vcpu_report(self->g.vm, k, VMM_REPORT_ZERO_PAGES,
				      NO_REPORT));
	}
	stats(_metadata, &self->g, &st);
	TH_LOG("%llu passes during the vCPUs' %llu ms (%llu in all): %llu pages compressed, %llu swapped, %llu swapped in",
	       r1 - r0, (vmm_now_ns() - t0) / 1000000, t.rounds, t.compressed,
	       t.swapped, st.swap_ins - st0.swap_ins);
	/* It raced: passes ran, pages went out and came back meanwhile. */
	EXPECT_LT(1ULL, r1 - r0);
	EXPECT_LT(0ULL, t.compressed);
	EXPECT_LT(0ULL, t.swapped);
	EXPECT_LT(st0.swap_ins, st.swap_ins);

	/* The host sees the last pass; once more out and back, paused. */
	for (k = 0; k < NR_VCPUS; k++)
		host_sees_mix(_metadata, &self->g, R_START(k), R_LEN, R_PASSES);
	ASSERT_EQ(0, memvirt_reclaim(self->g.b.fd, MEMVIRT_RECLAIM_COMPRESS,
				     A_GFN, PAGES(2 * R_LEN),
				     &(struct memvirt_reclaim){ 0 }));
	for (k = 0; k < NR_VCPUS; k++)
		mix_run(_metadata, &self->g, k, R_START(k), R_LEN, R_PASSES + 1, 0);
}

/* ---- fault_inject: a swap-in read fails in the vCPU's thread ---- */

FIXTURE(fault_inject) {
	sg_t s;
	struct sw_fmr f;
};

FIXTURE_SETUP(fault_inject)
{
	const char *skip = sw_fmr_missing();

	if (skip)
		MV_SETUP_SKIP("%s", skip);
	sg_init(_metadata, &self->s);
}

FIXTURE_TEARDOWN(fault_inject)
{
	EXPECT_EQ(0, sw_fmr_restore(&self->f));
	EXPECT_EQ(0, sw_disk_healthy(self->s.g.m.dir));
	sg_fini(_metadata, &self->s);
}

TEST_F_TIMEOUT(fault_inject, swapin_error_efaults_that_gfn_only,
	       TEST_TIMEOUT_S)
{
	struct guest *g = &self->s.g;
	u64 seed = 0xfa11, page = VMM_PAGE_SIZE;
	u64 bad = FI_START + FI_BAD * page, end = FI_START + FI_PAGES * page;
	u64 bad_gfn = bad >> VMM_PAGE_SHIFT;
	const struct vcpu_result *res;
	struct memvirt_reclaim rc;
	struct memvirt_stats st0, st;
	char why[PATH_MAX + 128] = "";
	unsigned char c;
	int kmsg, ret, lines;

	ASSERT_EQ(0, vm_run_one(g->vm, 0, VMM_PROG_FILL, FI_START, end, seed,
				RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 0, FI_PAGES);
	ret = mv_reclaim(g->b.fd, MEMVIRT_RECLAIM_SWAP, FI_START >> VMM_PAGE_SHIFT,
			 FI_PAGES, &rc);
	ASSERT_EQ(0, ret) TH_LOG("SWAP: %s", strerror(-ret));
	ASSERT_EQ((u64)FI_PAGES, rc.swapped);
	stats(_metadata, g, &st0);

	kmsg = mv_kmsg_open();
	ASSERT_LE(0, kmsg);
	/* the swap-in read of the gfn the guest reads fails */
	ret = sw_fmr_arm(&self->f, 1, why, sizeof(why));
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	ret = vm_run_one(g->vm, 0, VMM_PROG_VERIFY, bad, bad + page, seed,
			 RUN_TIMEOUT_S);
	ASSERT_EQ(0, sw_fmr_disarm(&self->f));
	ASSERT_EQ(1, ret) TH_LOG("the guest read a gfn whose swap-in failed");
	res = vcpu_result(g->vm, 0);
	EXPECT_EQ((int)VCPU_ERROR, (int)res->outcome) TH_LOG("%s", res->msg);
	EXPECT_EQ(EFAULT, res->run_errno) TH_LOG("%s", res->msg);
	lines = sw_kmsg_count_gfn(kmsg, g->id, bad_gfn);
	close(kmsg);
	TH_LOG("%d log lines name vm %llu gfn 0x%llx", lines, g->id, bad_gfn);
	/* one per failed fault at most: KVM faults a gfn up to 3 times */
	EXPECT_LE(1, lines);
	EXPECT_GE(3, lines);
	expect_states(_metadata, g, bad, page, MEMVIRT_GFN_ERROR);
	expect_states(_metadata, g, FI_START, bad - FI_START, MEMVIRT_GFN_SWAPPED);
	expect_states(_metadata, g, bad + page, end - bad - page,
		      MEMVIRT_GFN_SWAPPED);
	stats(_metadata, g, &st);
	EXPECT_EQ(st0.swap_errors + 1, st.swap_errors);
	EXPECT_EQ(st0.swap_ins, st.swap_ins);
	EXPECT_EQ(-1, pread(g->b.fd, &c, 1, bad));
	EXPECT_EQ(EIO, errno);

	/* A fresh vCPU thread, no injection: the other gfns are intact. */
	ASSERT_EQ(0, vm_run_one(g->vm, 1, VMM_PROG_VERIFY, FI_START, bad, seed,
				RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 1, FI_BAD);
	ASSERT_EQ(0, vm_run_one(g->vm, 1, VMM_PROG_VERIFY, bad + page, end,
				seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 1, FI_PAGES - FI_BAD - 1);
	stats(_metadata, g, &st);
	EXPECT_EQ(st0.swap_ins + FI_PAGES - 1, st.swap_ins);
	EXPECT_EQ(st0.swap_errors + 1, st.swap_errors);
	/* Still failing, without new I/O: the guest gets EFAULT again. */
	EXPECT_EQ(1, vm_run_one(g->vm, 1, VMM_PROG_VERIFY, bad, bad + page,
				seed, RUN_TIMEOUT_S));
	EXPECT_EQ(EFAULT, vcpu_result(g->vm, 1)->run_errno);

	/* Punched, it reads zero in the guest and takes new data. */
	ASSERT_EQ(0, backing_punch(&g->b, bad, page));
	expect_states(_metadata, g, bad, page, MEMVIRT_GFN_ZERO);
	ASSERT_EQ(0, vm_run_one(g->vm, 1, VMM_PROG_READ_ZERO, bad, bad + page, 0,
				RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 1, 1);
	ASSERT_EQ(0, vm_run_one(g->vm, 0, VMM_PROG_FILL, bad, bad + page, seed,
				RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 0, 1);
	ASSERT_EQ(0, vm_run_one(g->vm, 1, VMM_PROG_VERIFY, FI_START, end, seed,
				RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 1, FI_PAGES);
	stats(_metadata, g, &st);
	EXPECT_EQ(st0.swap_errors + 1, st.swap_errors);
}

VMM_TEST_HARNESS_MAIN
