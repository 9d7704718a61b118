// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_dedup_test.c - page sharing (issue 8) under KVM guests on memvirtfs.
 *
 * Two 16 MiB guests fill the same range R (the last MiB) with the same
 * pattern: gfn g of one equals gfn g of the other, and no two pages of one
 * guest are equal. A MEMVIRT_RECLAIM_SHARE pass over R of the first only
 * records hints; the pass over the second merges every pair when both are
 * in one sharing domain, none in different domains or with no domain.
 *
 * Fixtures:
 *   pair	the three domain set-ups: exact pass outputs, shared/saved
 *		counts and states; then each guest writes half of R and both
 *		read their own bytes (copy-on-write in KVM's fault path);
 *   hostio	merged pairs against the host: pread()/pwrite(), punch,
 *		truncate and unlink of shared gfns, each seen by both guests
 *		(KVM's read-only mapping of a frame must go when the gfn
 *		leaves it);
 *   pinned	a page held by a pipe (vmsplice() of guest RAM) is never
 *		merged, and merges once released;
 *   stress	four vCPUs in two guests of one domain rewrite checked,
 *		largely equal data (VMM_PROG_DUP_CHURN) while the scanner runs
 *		at its highest rate: no mismatch, copy-on-write breaks happen,
 *		and once the guests stop the scanner leaves exactly the
 *		expected states, with counters that match them;
 *   fault_inject (debug kernel: fail_page_alloc) the guest's write to a
 *		shared gfn fails its copy: KVM_RUN -EFAULT with the log line,
 *		the gfn still SHARED with its bytes, counters unchanged, then
 *		the write works.
 *
 * The scanner is off (dedup/run 0) except in stress; every dedup/ knob a
 * test changes is restored in FIXTURE_TEARDOWN.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "contract.h"
#include "dedup_contract.h"
#include "backing.h"
#include "vmm.h"

#define MIB			(1ULL << 20)
#define GUEST_SIZE		(16 * MIB)
#define NR_VCPUS		2
#define PAGES(bytes)		((bytes) / VMM_PAGE_SIZE)
/*
 * 128 pairs: each content needs its hint until the other guest's pass, and
 * the hint table forgets one only when five land in one set of four slots
 * (16 Ki sets in the test VM): about one run in 10^8.
 */
#define R_LEN			(512 * 1024ULL)
#define R_START			(GUEST_SIZE - R_LEN)
#define R_GFN			(R_START >> VMM_PAGE_SHIFT)
#define N			PAGES(R_LEN)
#define HALF			(R_LEN / 2)
#define SEED			0x5eedULL
#define RUN_TIMEOUT_S		120
#define TEST_TIMEOUT_S		200
#define NO_REPORT		(~0ULL)

/* The 6.1 harness runs the test body even after SKIP() in the setup. */
#define RETURN_IF_SKIPPED() do {	\
	if (self->skip)			\
		return;			\
} while (0)

/* vCPU @i of @vm_: its last run processed @pages pages, no bad word. */
#define EXPECT_GUEST_OK(vm_, i, pages) do {				\
	EXPECT_EQ((u64)(pages), vcpu_report(vm_, i, VMM_REPORT_PAGES, NO_REPORT)); \
	EXPECT_EQ(0ULL, vcpu_report(vm_, i, VMM_REPORT_MISMATCHES, NO_REPORT)) \
		TH_LOG("vcpu%d: first bad gfn 0x%llx word %llu = 0x%llx", \
		       i, vcpu_report(vm_, i, VMM_REPORT_BAD_GFN, 0),	\
		       vcpu_report(vm_, i, VMM_REPORT_BAD_WORD, 0),	\
		       vcpu_report(vm_, i, VMM_REPORT_BAD_VALUE, 0));	\
} while (0)


/* A sharing domain no other test program uses at the same time. */
static u64 test_domain(unsigned int n)
{
	return 0x50000000ULL + ((u64)getpid() << 4) + n;
}

/* ------------------------------------------------------------------ */
/* Guests */

struct guest {
	struct backing b;
	struct vm *vm;
	u8 *mem;
	u64 id;
};

static int guest_open(struct guest *g, int nr_vcpus, char *reason, size_t len)
{
	struct memvirt_stats st;
	int ret = backing_open(&g->b, BACKING_MEMVIRTFS, GUEST_SIZE, reason, len);

	if (ret)
		return ret;
	g->vm = vm_create(g->b.fd, GUEST_SIZE, nr_vcpus);
	if (!g->vm) {
		snprintf(reason, len, "vm_create failed (see vmm: line above)");
		backing_close(&g->b);
		return -EIO;
	}
	g->mem = vm_mem(g->vm);
	ret = memvirt_get_stats(g->b.fd, &st);
	if (ret)
		snprintf(reason, len, "GET_STATS: %s", strerror(-ret));
	g->id = st.vm_id;
	return ret;
}

static void guest_close(struct guest *g)
{
	if (g->vm)
		vm_destroy(g->vm);
	g->vm = NULL;
	if (g->b.fd >= 0 || g->b.path[0])
		backing_close(&g->b);
}

static int set_domain_ioctl(int fd, u64 domain)
{
	struct memvirt_policy p = {
		.size = sizeof(p),
		.flags = MEMVIRT_POLICY_SHARING_DOMAIN,
		.sharing_domain = domain,
	};

	return mv_ioctl(fd, MEMVIRT_IOC_SET_POLICY, &p);
}

static int set_domain_sysfs(u64 id, u64 domain)
{
	char path[PATH_MAX];

	mv_vm_path(path, sizeof(path), id, "sharing_domain");
	return mv_write_u64(path, domain);
}

/* One synchronous sharing pass over R of @g. */
static void share_r(struct __test_metadata *_metadata, struct guest *g,
		    struct memvirt_reclaim *r)
{
	int ret = mv_reclaim(g->b.fd, MEMVIRT_RECLAIM_SHARE, R_GFN, N, r);

	ASSERT_EQ(0, ret) TH_LOG("RECLAIM_SHARE over R: %s", strerror(-ret));
}

#define EXPECT_PASS(r, scan, merge) do {				\
	EXPECT_EQ((u64)(scan), (r).scanned);				\
	EXPECT_EQ((u64)(merge), (r).merged);				\
	EXPECT_EQ(0ULL, (r).zeroed);					\
	EXPECT_EQ((u64)(merge), (r).reclaimed);				\
	EXPECT_EQ(0ULL, (r).pinned_skips);				\
} while (0)

/* Gfns [@gpa, +@len) of @g are all in state @want; logs the first that is not. */
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

/* The guest's VERIFY of [@gpa, +@len) against @seed passes. */
static void guest_verify(struct __test_metadata *_metadata, struct guest *g,
			 u64 gpa, u64 len, u64 seed)
{
	ASSERT_EQ(0, vm_run_one(g->vm, 0, VMM_PROG_VERIFY, gpa, gpa + len,
				seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 0, PAGES(len));
}

static void guest_fill(struct __test_metadata *_metadata, struct guest *g,
		       u64 gpa, u64 len, u64 seed)
{
	ASSERT_EQ(0, vm_run_one(g->vm, 0, VMM_PROG_FILL, gpa, gpa + len,
				seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 0, PAGES(len));
}

/* The guest reads zeroes in [@gpa, +@len). */
static void guest_reads_zero(struct __test_metadata *_metadata,
			     struct guest *g, u64 gpa, u64 len)
{
	ASSERT_EQ(0, vm_run_one(g->vm, 0, VMM_PROG_READ_ZERO, gpa, gpa + len,
				0, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(g->vm, 0, PAGES(len));
}

/* The host sees @seed's pattern in [@gpa, +@len) of @g (mapping and pread). */
static void host_sees(struct __test_metadata *_metadata, struct guest *g,
		      u64 gpa, u64 len, u64 seed)
{
	u64 bad_gfn = 0;
	void *buf = malloc(len);

	ASSERT_NE(NULL, buf);
	EXPECT_EQ(0ULL, vmm_check_pattern(g->mem + gpa, gpa, len, seed, &bad_gfn))
		TH_LOG("mapping: bad word in gfn 0x%llx", bad_gfn);
	ASSERT_EQ((ssize_t)len, pread(g->b.fd, buf, len, gpa));
	EXPECT_EQ(0ULL, vmm_check_pattern(buf, gpa, len, seed, &bad_gfn))
		TH_LOG("pread: bad word in gfn 0x%llx", bad_gfn);
	free(buf);
}

static void stats(struct __test_metadata *_metadata, struct guest *g,
		  struct memvirt_stats *st)
{
	ASSERT_EQ(0, memvirt_get_stats(g->b.fd, st));
}

/* ------------------------------------------------------------------ */
/* Two guests, R filled alike and (per the domains) merged */

FIXTURE(pair) {
	struct guest g[2];
	bool skip;
	struct dd_knobs dk;
	struct glob g0;
	struct memvirt_stats base[2];	/* after the fill */
};

typedef FIXTURE_DATA(pair) pair_t;

FIXTURE_VARIANT(pair) {
	int dom[2];	/* 0: none; n: test_domain(n) */
	bool share;
};

FIXTURE_VARIANT_ADD(pair, same_domain) {
	.dom = { 1, 1 }, .share = true,
};

FIXTURE_VARIANT_ADD(pair, different_domains) {
	.dom = { 1, 2 }, .share = false,
};

FIXTURE_VARIANT_ADD(pair, no_domain) {
	.dom = { 0, 0 }, .share = false,
};

/* vm_run_one() that only says whether the program passed over @len. */
static int run_ok(struct guest *g, enum vmm_prog prog, u64 gpa, u64 len,
		  u64 seed)
{
	int ret = vm_run_one(g->vm, 0, prog, gpa, gpa + len, seed, RUN_TIMEOUT_S);

	if (ret)
		return ret < 0 ? ret : -EIO;
	if (vcpu_report(g->vm, 0, VMM_REPORT_MISMATCHES, NO_REPORT) ||
	    vcpu_report(g->vm, 0, VMM_REPORT_PAGES, 0) != PAGES(len))
		return -EIO;
	return 0;
}

/*
 * Set both guests' domains (one by ioctl, one by sysfs), stop the scanner,
 * and let each fill R with SEED's pattern; 0 or -errno and what failed.
 */
static int pair_prepare(pair_t *self, const int dom[2], char *why, size_t len)
{
	int i, ret;

	ret = set_domain_ioctl(self->g[0].b.fd, dom[0] ? test_domain(dom[0]) : 0);
	if (ret) {
		snprintf(why, len, "SET_POLICY sharing_domain: %s", strerror(-ret));
		return ret;
	}
	ret = set_domain_sysfs(self->g[1].id, dom[1] ? test_domain(dom[1]) : 0);
	if (ret) {
		snprintf(why, len, "vms/%llu/sharing_domain: %s", self->g[1].id,
			 strerror(-ret));
		return ret;
	}
	ret = dd_set("run", "0\n");
	if (ret) {
		snprintf(why, len, "dedup/run = 0: %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < 2; i++) {
		ret = run_ok(&self->g[i], VMM_PROG_FILL, R_START, R_LEN, SEED);
		if (!ret)
			ret = memvirt_get_stats(self->g[i].b.fd, &self->base[i]);
		if (ret) {
			snprintf(why, len, "guest %d: filling R: %s", i,
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void pair_fini(struct __test_metadata *_metadata, pair_t *self);

/*
 * Both guests, prepared. Teardown does not run after a failed setup, so a
 * failure here cleans up first (the guests' files would outlive the test).
 */
static void pair_init(struct __test_metadata *_metadata, pair_t *self,
		      const int dom[2])
{
	char reason[256] = "";
	int i, ret;

	self->g[0].b.fd = self->g[1].b.fd = -1;
	dd_knobs_save(&self->dk);
	for (i = 0; i < 2; i++) {
		ret = guest_open(&self->g[i], NR_VCPUS, reason, sizeof(reason));
		if (ret == BACKING_UNAVAILABLE) {
			self->skip = true;
			SKIP(return, "%s", reason);
		}
		if (ret)
			break;
	}
	if (!ret)
		ret = pair_prepare(self, dom, reason, sizeof(reason));
	if (!ret)
		glob_read(_metadata, &self->g0);
	if (ret)
		pair_fini(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("%s", reason);
}

static void pair_fini(struct __test_metadata *_metadata, pair_t *self)
{
	guest_close(&self->g[0]);
	guest_close(&self->g[1]);
	EXPECT_EQ(0, dd_knobs_restore(&self->dk));
}

/* Pass over R of guest 0 (hints only), then of guest 1: @n merges. */
static void pair_merge(struct __test_metadata *_metadata, pair_t *self, u64 n)
{
	struct memvirt_reclaim r;

	share_r(_metadata, &self->g[0], &r);
	EXPECT_PASS(r, N, 0);
	share_r(_metadata, &self->g[1], &r);
	EXPECT_PASS(r, N, n);
}

FIXTURE_SETUP(pair)
{
	pair_init(_metadata, self, variant->dom);
}

FIXTURE_TEARDOWN(pair)
{
	pair_fini(_metadata, self);
}

TEST_F_TIMEOUT(pair, fill_alike_share_per_domain_then_write, TEST_TIMEOUT_S)
{
	u64 n = variant->share ? N : 0, seed1 = SEED + 1, seed2 = SEED + 2;
	u8 state = variant->share ? MEMVIRT_GFN_SHARED : MEMVIRT_GFN_PRIVATE;
	struct memvirt_stats st[2];
	struct glob now;
	int i;

	RETURN_IF_SKIPPED();
	pair_merge(_metadata, self, n);
	for (i = 0; i < 2; i++) {
		stats(_metadata, &self->g[i], &st[i]);
		EXPECT_EQ(n, st[i].shared) TH_LOG("guest %d", i);
		EXPECT_EQ(self->base[i].resident - n, st[i].resident)
			TH_LOG("guest %d", i);
		EXPECT_EQ(self->base[i].reclaimed + (i ? n : 0), st[i].reclaimed);
		EXPECT_EQ(self->base[i].pages_scanned + N, st[i].pages_scanned);
		EXPECT_EQ(self->base[i].hint_hits + (i ? n : 0), st[i].hint_hits);
		EXPECT_EQ(0ULL, st[i].false_matches);
		EXPECT_EQ(variant->dom[i] ? test_domain(variant->dom[i]) : 0,
			  st[i].sharing_domain);
		expect_states(_metadata, &self->g[i], R_START, R_LEN, state);
	}
	glob_read(_metadata, &now);
	EXPECT_EQ(2 * n, now.v[G_SHARED] - self->g0.v[G_SHARED]);
	EXPECT_EQ(n, now.v[G_SHARING] - self->g0.v[G_SHARING]);
	EXPECT_EQ(n, now.v[G_SAVED] - self->g0.v[G_SAVED]);
	EXPECT_EQ(2 * N, now.v[G_SCANNED] - self->g0.v[G_SCANNED]);
	EXPECT_EQ(0ULL, now.v[G_COW] - self->g0.v[G_COW]);
	/* Both read the (shared) pages through KVM, the host too. */
	for (i = 0; i < 2; i++) {
		guest_verify(_metadata, &self->g[i], R_START, R_LEN, SEED);
		host_sees(_metadata, &self->g[i], R_START, R_LEN, SEED);
	}

	/*
	 * Guest 0 writes the first half of R, guest 1 the second: each
	 * write breaks copy-on-write once; the other guest, now the last
	 * sharer, keeps the frame and its bytes.
	 */
	guest_fill(_metadata, &self->g[0], R_START, HALF, seed1);
	guest_fill(_metadata, &self->g[1], R_START + HALF, HALF, seed2);
	guest_verify(_metadata, &self->g[0], R_START, HALF, seed1);
	guest_verify(_metadata, &self->g[0], R_START + HALF, HALF, SEED);
	guest_verify(_metadata, &self->g[1], R_START, HALF, SEED);
	guest_verify(_metadata, &self->g[1], R_START + HALF, HALF, seed2);
	host_sees(_metadata, &self->g[0], R_START, HALF, seed1);
	host_sees(_metadata, &self->g[0], R_START + HALF, HALF, SEED);
	host_sees(_metadata, &self->g[1], R_START, HALF, SEED);
	host_sees(_metadata, &self->g[1], R_START + HALF, HALF, seed2);
	for (i = 0; i < 2; i++) {
		stats(_metadata, &self->g[i], &st[i]);
		EXPECT_EQ(n / 2, st[i].shared) TH_LOG("guest %d", i);
		EXPECT_EQ(self->base[i].cow_breaks + n / 2, st[i].cow_breaks)
			TH_LOG("guest %d", i);
		EXPECT_EQ(self->base[i].resident - n / 2, st[i].resident)
			TH_LOG("guest %d", i);
		expect_states(_metadata, &self->g[i], i ? R_START : R_START + HALF,
			      HALF, state);
		expect_states(_metadata, &self->g[i], i ? R_START + HALF : R_START,
			      HALF, MEMVIRT_GFN_PRIVATE);
	}
	glob_read(_metadata, &now);
	EXPECT_EQ(n, now.v[G_COW] - self->g0.v[G_COW]);
	expect_totals(_metadata, &self->g0, n, n);
}

/* ------------------------------------------------------------------ */
/* The host's file operations on merged gfns */

FIXTURE(hostio) {
	pair_t p;
};

FIXTURE_SETUP(hostio)
{
	static const int dom[2] = { 3, 3 };

	pair_init(_metadata, &self->p, dom);
	if (!self->p.skip)
		pair_merge(_metadata, &self->p, N);
}

FIXTURE_TEARDOWN(hostio)
{
	pair_fini(_metadata, &self->p);
}

#define P0	(&self->p.g[0])
#define P1	(&self->p.g[1])

TEST_F_TIMEOUT(hostio, pread_pwrite_shared_gfn, TEST_TIMEOUT_S)
{
	u64 seed1 = SEED + 3, gpa = R_START + 5 * VMM_PAGE_SIZE, bad = 0;
	u8 *page = malloc(VMM_PAGE_SIZE);
	struct memvirt_stats st;

	if (self->p.skip)
		return;
	ASSERT_NE(NULL, page);
	/* KVM maps the frames read-only in guest 0. */
	guest_verify(_metadata, P0, R_START, R_LEN, SEED);
	ASSERT_EQ((ssize_t)VMM_PAGE_SIZE, pread(P0->b.fd, page, VMM_PAGE_SIZE, gpa));
	EXPECT_EQ(0ULL, vmm_check_pattern(page, gpa, VMM_PAGE_SIZE, SEED, &bad));

	vmm_fill_pattern(page, gpa, VMM_PAGE_SIZE, seed1);
	ASSERT_EQ((ssize_t)VMM_PAGE_SIZE, pwrite(P0->b.fd, page, VMM_PAGE_SIZE, gpa));
	free(page);
	guest_verify(_metadata, P0, gpa, VMM_PAGE_SIZE, seed1);
	guest_verify(_metadata, P0, R_START, gpa - R_START, SEED);
	guest_verify(_metadata, P1, R_START, R_LEN, SEED);
	host_sees(_metadata, P0, gpa, VMM_PAGE_SIZE, seed1);
	host_sees(_metadata, P1, gpa, VMM_PAGE_SIZE, SEED);
	expect_states(_metadata, P0, gpa, VMM_PAGE_SIZE, MEMVIRT_GFN_PRIVATE);
	expect_states(_metadata, P1, gpa, VMM_PAGE_SIZE, MEMVIRT_GFN_SHARED);
	stats(_metadata, P0, &st);
	EXPECT_EQ(N - 1, st.shared);
	EXPECT_EQ(self->p.base[0].cow_breaks + 1, st.cow_breaks);
	expect_totals(_metadata, &self->p.g0, 2 * N - 1, N);
}

TEST_F_TIMEOUT(hostio, punch_shared_gfn, TEST_TIMEOUT_S)
{
	u64 gpa = R_START + 9 * VMM_PAGE_SIZE;
	struct memvirt_stats st;

	if (self->p.skip)
		return;
	guest_verify(_metadata, P0, R_START, R_LEN, SEED);
	ASSERT_EQ(0, backing_punch(&P0->b, gpa, VMM_PAGE_SIZE));
	guest_reads_zero(_metadata, P0, gpa, VMM_PAGE_SIZE);
	guest_verify(_metadata, P0, gpa + VMM_PAGE_SIZE, R_START + R_LEN - gpa -
		     VMM_PAGE_SIZE, SEED);
	guest_verify(_metadata, P1, R_START, R_LEN, SEED);
	expect_states(_metadata, P0, gpa, VMM_PAGE_SIZE, MEMVIRT_GFN_ZERO);
	expect_states(_metadata, P1, gpa, VMM_PAGE_SIZE, MEMVIRT_GFN_SHARED);
	stats(_metadata, P0, &st);
	EXPECT_EQ(N - 1, st.shared);
	EXPECT_EQ(self->p.base[0].resident - N, st.resident);
	expect_totals(_metadata, &self->p.g0, 2 * N - 1, N);
}

/* R is the end of the file: cut its second half off guest 0, then regrow. */
TEST_F_TIMEOUT(hostio, truncate_shared_gfns, TEST_TIMEOUT_S)
{
	struct memvirt_stats st;

	if (self->p.skip)
		return;
	guest_verify(_metadata, P0, R_START, R_LEN, SEED);
	ASSERT_EQ(0, ftruncate(P0->b.fd, R_START + HALF));
	stats(_metadata, P0, &st);
	EXPECT_EQ(N / 2, st.shared);
	expect_totals(_metadata, &self->p.g0, 2 * N - N / 2, N);
	guest_verify(_metadata, P1, R_START, R_LEN, SEED);
	expect_states(_metadata, P1, R_START, R_LEN, MEMVIRT_GFN_SHARED);

	ASSERT_EQ(0, ftruncate(P0->b.fd, GUEST_SIZE));
	guest_reads_zero(_metadata, P0, R_START + HALF, HALF);
	guest_verify(_metadata, P0, R_START, HALF, SEED);
	guest_verify(_metadata, P1, R_START, R_LEN, SEED);
	stats(_metadata, P0, &st);
	EXPECT_EQ(N / 2, st.shared);
	expect_totals(_metadata, &self->p.g0, 2 * N - N / 2, N);
}

/* Guest 0's VM goes away: guest 1 keeps every frame and its bytes. */
TEST_F_TIMEOUT(hostio, unlink_one_vm, TEST_TIMEOUT_S)
{
	struct memvirt_stats st;

	if (self->p.skip)
		return;
	guest_close(P0);
	expect_totals(_metadata, &self->p.g0, N, N);
	guest_verify(_metadata, P1, R_START, R_LEN, SEED);
	host_sees(_metadata, P1, R_START, R_LEN, SEED);
	expect_states(_metadata, P1, R_START, R_LEN, MEMVIRT_GFN_SHARED);
	stats(_metadata, P1, &st);
	EXPECT_EQ(N, st.shared);

	/* The last sharer writes: the frames become its own pages. */
	guest_fill(_metadata, P1, R_START, R_LEN, SEED + 4);
	expect_states(_metadata, P1, R_START, R_LEN, MEMVIRT_GFN_PRIVATE);
	stats(_metadata, P1, &st);
	EXPECT_EQ(0ULL, st.shared);
	EXPECT_EQ(self->p.base[1].resident, st.resident);
	expect_totals(_metadata, &self->p.g0, 0, 0);
	host_sees(_metadata, P1, R_START, R_LEN, SEED + 4);
}

/* ------------------------------------------------------------------ */
/* A page of guest RAM a pipe holds is never merged */

FIXTURE(pinned) {
	pair_t p;
	int pipe[2];
};

FIXTURE_SETUP(pinned)
{
	static const int dom[2] = { 4, 4 };

	self->pipe[0] = self->pipe[1] = -1;
	pair_init(_metadata, &self->p, dom);
}

FIXTURE_TEARDOWN(pinned)
{
	if (self->pipe[0] >= 0)
		close(self->pipe[0]);
	if (self->pipe[1] >= 0)
		close(self->pipe[1]);
	pair_fini(_metadata, &self->p);
}

TEST_F_TIMEOUT(pinned, pinned_page_never_merged, TEST_TIMEOUT_S)
{
	u64 gpa = R_START + 5 * VMM_PAGE_SIZE, bad = 0;
	struct iovec iov;
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	u64 pinned;
	u8 *buf;

	if (self->p.skip)
		return;
	iov.iov_base = P0->mem + gpa;
	iov.iov_len = VMM_PAGE_SIZE;
	ASSERT_EQ(0, pipe(self->pipe));
	ASSERT_EQ((ssize_t)VMM_PAGE_SIZE, vmsplice(self->pipe[1], &iov, 1, 0))
		TH_LOG("vmsplice: %s", strerror(errno));

	/*
	 * Guest 0's pass only records hints: the pinned page may be one,
	 * and is skipped when guest 1's copy finds it; either way the two
	 * passes skip it once.
	 */
	share_r(_metadata, P0, &r);
	EXPECT_EQ(N, r.scanned);
	EXPECT_EQ(0ULL, r.merged);
	pinned = r.pinned_skips;
	share_r(_metadata, P1, &r);
	EXPECT_EQ(N, r.scanned);
	EXPECT_EQ(N - 1, r.merged);
	EXPECT_EQ(N - 1, r.reclaimed);
	EXPECT_EQ(1ULL, pinned + r.pinned_skips);
	expect_states(_metadata, P0, gpa, VMM_PAGE_SIZE, MEMVIRT_GFN_PRIVATE);
	expect_states(_metadata, P1, gpa, VMM_PAGE_SIZE, MEMVIRT_GFN_PRIVATE);
	expect_states(_metadata, P0, R_START, gpa - R_START, MEMVIRT_GFN_SHARED);
	stats(_metadata, P0, &st);
	EXPECT_EQ(N - 1, st.shared);
	pinned = st.pinned_skips - self->p.base[0].pinned_skips;
	stats(_metadata, P1, &st);
	pinned += st.pinned_skips - self->p.base[1].pinned_skips;
	EXPECT_EQ(1ULL, pinned) TH_LOG("per-VM pinned_skips of the two guests");
	expect_totals(_metadata, &self->p.g0, 2 * (N - 1), N - 1);
	guest_verify(_metadata, P0, R_START, R_LEN, SEED);
	guest_verify(_metadata, P1, R_START, R_LEN, SEED);

	/* Released: the next pass over guest 0 merges it. */
	buf = malloc(VMM_PAGE_SIZE);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ((ssize_t)VMM_PAGE_SIZE, read(self->pipe[0], buf, VMM_PAGE_SIZE));
	EXPECT_EQ(0ULL, vmm_check_pattern(buf, gpa, VMM_PAGE_SIZE, SEED, &bad));
	free(buf);
	close(self->pipe[0]);
	close(self->pipe[1]);
	self->pipe[0] = self->pipe[1] = -1;
	share_r(_metadata, P0, &r);
	EXPECT_PASS(r, 1, 1);
	expect_states(_metadata, P0, R_START, R_LEN, MEMVIRT_GFN_SHARED);
	expect_states(_metadata, P1, R_START, R_LEN, MEMVIRT_GFN_SHARED);
	expect_totals(_metadata, &self->p.g0, 2 * N, N);
	guest_verify(_metadata, P0, R_START, R_LEN, SEED);
}

/* ------------------------------------------------------------------ */
/* Stress: four vCPUs rewriting shared data, the scanner at full speed */

#define S_LEN		(MIB / 2)
#define S_START(i)	(4 * MIB + (u64)(i) * 2 * MIB)	/* vCPU i's range */
#define S_PASSES	6
#define S_WAIT_S	60

FIXTURE(stress) {
	struct guest g[2];
	bool skip;
	struct dd_knobs dk;
};

static void stress_fini(struct __test_metadata *_metadata,
			FIXTURE_DATA(stress) *self)
{
	dd_set("run", "0\n");
	guest_close(&self->g[0]);
	guest_close(&self->g[1]);
	EXPECT_EQ(0, dd_knobs_restore(&self->dk));
}

/* Both guests in one domain; cleans up itself if it fails (see pair_init). */
FIXTURE_SETUP(stress)
{
	char reason[256] = "";
	u64 dom = test_domain(5);
	int i, ret;

	self->g[0].b.fd = self->g[1].b.fd = -1;
	dd_knobs_save(&self->dk);
	for (i = 0; i < 2; i++) {
		ret = guest_open(&self->g[i], NR_VCPUS, reason, sizeof(reason));
		if (ret == BACKING_UNAVAILABLE) {
			self->skip = true;
			SKIP(return, "%s", reason);
		}
		if (ret)
			break;
		ret = set_domain_ioctl(self->g[i].b.fd, dom);
		if (ret) {
			snprintf(reason, sizeof(reason), "SET_POLICY sharing_domain: %s",
				 strerror(-ret));
			break;
		}
	}
	if (ret)
		stress_fini(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("%s", reason);
}

FIXTURE_TEARDOWN(stress)
{
	stress_fini(_metadata, self);
}

struct runner {
	struct vm *vm;
	int ret;
	pthread_t thread;
};

static void *run_vm(void *arg)
{
	struct runner *r = arg;

	r->ret = vm_run(r->vm, RUN_TIMEOUT_S);
	return NULL;
}

/* Zero pages DUP_CHURN checks on a range of @pages from @gfn0. */
static u64 dup_zero_checks(u64 gfn0, u64 pages, u64 passes)
{
	u64 pass, i, n = pages;	/* the first sweep finds fresh pages */

	for (pass = 0; pass < passes; pass++)
		for (i = 0; i < pages; i++)
			n += vmm_dup_is_zero(gfn0 + i, pass);
	return n;
}

/*
 * After the run: the scanner at full speed, guests stopped, two more full
 * scans; then every page of the vCPU ranges is SHARED (its content is held
 * by many) or ZERO, and each guest's counters match its states.
 */
static void stress_check_settled(struct __test_metadata *_metadata,
				 FIXTURE_DATA(stress) *self)
{
	u64 n = PAGES(GUEST_SIZE), i, k, shared, priv, bad, w;
	u64 last = S_PASSES - 1;
	struct memvirt_stats st;
	struct glob g, now;
	u8 *states = malloc(n), want;
	int j;

	ASSERT_NE(NULL, states);
	glob_read(_metadata, &g);
	for (j = 0; j < S_WAIT_S * 20; j++) {
		glob_read(_metadata, &now);
		if (now.v[G_FULL] >= g.v[G_FULL] + 2)
			break;
		usleep(50000);
	}
	ASSERT_EQ(0, dd_set("run", "0\n"));
	ASSERT_LE(g.v[G_FULL] + 2, now.v[G_FULL])
		TH_LOG("the scanner did not finish two scans in %d s", S_WAIT_S);

	for (j = 0; j < 2; j++) {
		struct guest *gu = &self->g[j];

		ASSERT_EQ(0, memvirt_query_range(gu->b.fd, 0, n, states));
		for (k = 0; k < 2; k++) {
			u64 gfn0 = S_START(k) >> VMM_PAGE_SHIFT;

			for (i = bad = 0; i < PAGES(S_LEN); i++) {
				want = vmm_dup_is_zero(gfn0 + i, last) ?
				       MEMVIRT_GFN_ZERO : MEMVIRT_GFN_SHARED;
				if ((states[gfn0 + i] & MEMVIRT_GFN_STATE_MASK) != want &&
				    !bad++)
					TH_LOG("guest %d gfn 0x%llx: state 0x%x, want %u",
					       j, gfn0 + i, states[gfn0 + i], want);
			}
			EXPECT_EQ(0ULL, bad);
			/* The last pass's content, as the host reads it. */
			for (i = bad = 0; i < PAGES(S_LEN); i++) {
				const u64 *p = (const u64 *)(gu->mem + S_START(k)) +
					       i * VMM_WORDS_PER_PAGE;

				for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
					bad += p[w] != vmm_dup_word(gfn0 + i, w, last);
			}
			EXPECT_EQ(0ULL, bad) TH_LOG("guest %d range %llu", j, k);
		}
		for (i = shared = priv = 0; i < n; i++) {
			shared += (states[i] & MEMVIRT_GFN_STATE_MASK) ==
				  MEMVIRT_GFN_SHARED;
			priv += (states[i] & MEMVIRT_GFN_STATE_MASK) ==
				MEMVIRT_GFN_PRIVATE;
		}
		ASSERT_EQ(0, memvirt_get_stats(gu->b.fd, &st));
		EXPECT_EQ(shared, st.shared) TH_LOG("guest %d: shared vs states", j);
		EXPECT_EQ(priv, st.resident) TH_LOG("guest %d: resident vs states", j);
	}
	free(states);
}

TEST_F_TIMEOUT(stress, four_vcpus_rewrite_while_scanner_runs_flat_out,
	       TEST_TIMEOUT_S)
{
	struct runner run[2];
	struct glob g0, g1;
	u64 nr_vms = 0, t0;
	int i, k;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mv_global_u64("nr_vms", &nr_vms));
	glob_read(_metadata, &g0);
	ASSERT_EQ(0, dd_set("pages_to_scan", "1048576\n"));
	ASSERT_EQ(0, dd_set("sleep_millisecs", "0\n"));
	ASSERT_EQ(0, dd_set("cpu_percent", "100\n"));
	ASSERT_EQ(0, dd_set("run", "1\n"));
	t0 = vmm_now_ns();
	for (i = 0; i < 2; i++) {
		for (k = 0; k < NR_VCPUS; k++)
			ASSERT_EQ(0, vcpu_prepare(self->g[i].vm, k,
						  VMM_PROG_DUP_CHURN, S_START(k),
						  S_START(k) + S_LEN, S_PASSES));
		run[i].vm = self->g[i].vm;
		ASSERT_EQ(0, pthread_create(&run[i].thread, NULL, run_vm, &run[i]));
	}
	for (i = 0; i < 2; i++)
		pthread_join(run[i].thread, NULL);
	glob_read(_metadata, &g1);
	TH_LOG("during the %llu ms run: %llu full scans, %llu pages scanned, %llu cow breaks; shared %llu, saved %llu",
	       (vmm_now_ns() - t0) / 1000000, g1.v[G_FULL] - g0.v[G_FULL], g1.v[G_SCANNED] - g0.v[G_SCANNED],
	       g1.v[G_COW] - g0.v[G_COW], g1.v[G_SHARED], g1.v[G_SAVED]);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, run[i].ret) TH_LOG("guest %d: vCPUs that failed", i);
		for (k = 0; k < NR_VCPUS; k++) {
			u64 gfn0 = S_START(k) >> VMM_PAGE_SHIFT;

			EXPECT_GUEST_OK(self->g[i].vm, k, (S_PASSES + 1) * PAGES(S_LEN));
			EXPECT_EQ(dup_zero_checks(gfn0, PAGES(S_LEN), S_PASSES),
				  vcpu_report(self->g[i].vm, k, VMM_REPORT_ZERO_PAGES, 0));
		}
	}
	/* The race happened: frames were merged and written by the guests. */
	EXPECT_LT(0ULL, g1.v[G_FULL] - g0.v[G_FULL]);
	EXPECT_LT(0ULL, g1.v[G_COW] - g0.v[G_COW])
		TH_LOG("no guest write broke a shared frame: nothing raced");
	stress_check_settled(_metadata, self);
	if (nr_vms == 2) {
		struct memvirt_stats s0, s1;

		glob_read(_metadata, &g1);
		ASSERT_EQ(0, memvirt_get_stats(self->g[0].b.fd, &s0));
		ASSERT_EQ(0, memvirt_get_stats(self->g[1].b.fd, &s1));
		EXPECT_EQ(s0.shared + s1.shared, g1.v[G_SHARED]);
		EXPECT_EQ(g1.v[G_SHARED] - g1.v[G_SHARING], g1.v[G_SAVED]);
	}
}

/* ------------------------------------------------------------------ */
/* fault_inject: the copy of a guest's write to a shared gfn fails */

#define FAIL_DIR	"/sys/kernel/debug/fail_page_alloc"
#define FI_ATTEMPTS	8U
#define FI_PAGES	(FI_ATTEMPTS + 2)
#define FI_TAG		0x71

static const char *const fi_knobs[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
	"ignore-gfp-wait", "ignore-gfp-highmem", "min-order",
};

#define NR_FI_KNOBS	ARRAY_SIZE(fi_knobs)

/*
 * Every page allocation of the marked vCPU thread fails, three times: KVM
 * faults the page in three times before KVM_RUN fails: with FOLL_NOWAIT
 * (async page fault), synchronously (see kvm_reclaim_test.c), and once more
 * to tell a poisoned page (6.1's check_user_page_hwpoison(), a write GUP;
 * 6.12 too, seen in its log). If another allocation takes one failure, the
 * last fault breaks copy-on-write (the test then tries the next gfn).
 * probability goes back to 0 right after the run.
 */
static const char *const fi_values[NR_FI_KNOBS] = {
	"100", "1", "3", "0", "0", "Y", "N", "N", "0",
};

FIXTURE(fault_inject) {
	struct guest g;
	bool skip;
	bool saved;
	char old[NR_FI_KNOBS][32];
	struct dd_knobs dk;
	struct glob g0;
};

static int fi_path(char *buf, size_t len, const char *name)
{
	return snprintf(buf, len, "%s/%s", FAIL_DIR, name);
}

static int fi_read(const char *name, char *buf, size_t len)
{
	char path[128];

	fi_path(path, sizeof(path), name);
	return mv_read_str(path, buf, len);
}

static int fi_write(const char *name, const char *val)
{
	char path[128];

	fi_path(path, sizeof(path), name);
	return mv_write_str(path, val);
}

/* FI_PAGES copies of one page at R, written by the host, merged. */
static void fi_page(u8 *buf)
{
	memset(buf, FI_TAG, VMM_PAGE_SIZE);
	memcpy(buf, "dedup fault injection", 21);
}

static bool fi_holds(int fd, u64 gfn)
{
	u8 buf[VMM_PAGE_SIZE], want[VMM_PAGE_SIZE];

	fi_page(want);
	return pread(fd, buf, sizeof(buf), gfn << VMM_PAGE_SHIFT) ==
	       (ssize_t)sizeof(buf) && !memcmp(buf, want, sizeof(buf));
}

static void fi_fini(struct __test_metadata *_metadata,
		    FIXTURE_DATA(fault_inject) *self)
{
	unsigned int i;

	/* probability first: no window with the old count and our rate */
	if (self->saved) {
		fi_write("probability", "0");
		for (i = 0; i < NR_FI_KNOBS; i++)
			fi_write(fi_knobs[i], self->old[i]);
	}
	guest_close(&self->g);
	EXPECT_EQ(0, dd_knobs_restore(&self->dk));
}

/* FI_PAGES copies of fi_page() at R, merged; 0 or -errno and why. */
static int fi_prepare(FIXTURE_DATA(fault_inject) *self, char *why, size_t len)
{
	struct memvirt_reclaim r;
	u8 page[VMM_PAGE_SIZE];
	char attr[64];
	unsigned int i;
	int ret;

	for (i = 0; i < NR_FI_KNOBS; i++) {
		ret = fi_read(fi_knobs[i], self->old[i], sizeof(self->old[i]));
		if (ret) {
			snprintf(why, len, "reading knob %s: %s", fi_knobs[i],
				 strerror(-ret));
			return ret;
		}
	}
	self->saved = true;
	ret = dd_set("run", "0\n");
	if (ret) {
		snprintf(why, len, "dedup/run = 0: %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < G_NR; i++) {
		snprintf(attr, sizeof(attr), DEDUP "/%s", g_names[i]);
		ret = mv_global_u64(attr, &self->g0.v[i]);
		if (ret) {
			snprintf(why, len, "%s: %s", attr, strerror(-ret));
			return ret;
		}
	}
	fi_page(page);
	for (i = 0; i < FI_PAGES; i++) {
		if (pwrite(self->g.b.fd, page, sizeof(page),
			   R_START + i * VMM_PAGE_SIZE) != (ssize_t)sizeof(page)) {
			snprintf(why, len, "pwrite: %s", strerror(errno));
			return -EIO;
		}
	}
	ret = mv_reclaim(self->g.b.fd, MEMVIRT_RECLAIM_SHARE, R_GFN, FI_PAGES, &r);
	if (!ret && r.merged != FI_PAGES - 1)
		ret = -EIO;
	if (ret)
		snprintf(why, len, "SHARE pass: %s, merged %llu of %u", strerror(-ret),
			 r.merged, FI_PAGES - 1);
	return ret;
}

FIXTURE_SETUP(fault_inject)
{
	char reason[256] = "";
	int ret;

	self->g.b.fd = -1;
	if (access(FAIL_DIR, F_OK)) {
		self->skip = true;
		SKIP(return, "no fail_page_alloc in this kernel");
	}
	dd_knobs_save(&self->dk);
	ret = guest_open(&self->g, NR_VCPUS, reason, sizeof(reason));
	if (ret == BACKING_UNAVAILABLE) {
		self->skip = true;
		SKIP(return, "%s", reason);
	}
	if (!ret)
		ret = fi_prepare(self, reason, sizeof(reason));
	if (ret)
		fi_fini(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("%s", reason);
}

FIXTURE_TEARDOWN(fault_inject)
{
	fi_fini(_metadata, self);
}

/* In the vCPU thread: its page allocations may now fail. */
static int make_it_fail(struct vm *vm, int idx, void *arg)
{
	volatile char stack[64 << 10];

	memset((char *)stack, 0, sizeof(stack));
	return mv_write_str("/proc/thread-self/make-it-fail", "1");
}

/* State of gfn R + @i. */
static u8 fi_state(FIXTURE_DATA(fault_inject) *self, unsigned int i)
{
	u8 st = 0xff;

	memvirt_query_range(self->g.b.fd, R_GFN + i, 1, &st);
	return st & MEMVIRT_GFN_STATE_MASK;
}

/*
 * After the failed write to gfn R + @k: it is still SHARED and holds its
 * bytes, and every counter matches the states of R (earlier attempts left
 * their gfns PRIVATE, each with one copy-on-write break).
 */
static void fi_expect_failed(struct __test_metadata *_metadata,
			     FIXTURE_DATA(fault_inject) *self, unsigned int k)
{
	unsigned int i, nr_shared = 0;
	struct memvirt_stats st;
	struct glob now;
	u8 want;

	for (i = 0; i < FI_PAGES; i++) {
		want = i < k ? MEMVIRT_GFN_PRIVATE : MEMVIRT_GFN_SHARED;
		nr_shared += fi_state(self, i) == MEMVIRT_GFN_SHARED;
		EXPECT_EQ(want, fi_state(self, i)) TH_LOG("gfn 0x%llx", R_GFN + i);
		if (i >= k)
			EXPECT_TRUE(fi_holds(self->g.b.fd, R_GFN + i))
				TH_LOG("gfn 0x%llx", R_GFN + i);
	}
	stats(_metadata, &self->g, &st);
	EXPECT_EQ((u64)nr_shared, st.shared);
	glob_read(_metadata, &now);
	EXPECT_EQ((u64)(FI_PAGES - nr_shared), now.v[G_COW] - self->g0.v[G_COW]);
	expect_totals(_metadata, &self->g0, nr_shared, 1);
}

/*
 * The guest writes gfn R + k, k = 0, 1, ..., each time with the vCPU
 * thread's allocations failing, until KVM_RUN fails and leaves the gfn
 * SHARED. An attempt whose failures all went elsewhere writes the page; one
 * whose failures were too few for KVM's three faults (another allocation
 * took one) fails KVM_RUN but its last fault breaks copy-on-write: the gfn
 * is PRIVATE with its old bytes. Both just move on to the next gfn.
 */
TEST_F_TIMEOUT(fault_inject, cow_break_enomem_efaults_then_recovers,
	       TEST_TIMEOUT_S)
{
	u64 seed = 0xf1, page = VMM_PAGE_SIZE, gpa = R_START, cow0;
	unsigned int i, k, wrote = 0, late = 0;
	const struct vcpu_result *res;
	struct memvirt_stats st;
	int kmsg, ret;

	RETURN_IF_SKIPPED();
	/* Host, KVM and P2M page tables for R; KVM maps the frame read-only. */
	ASSERT_EQ(0, vm_run_one(self->g.vm, 0, VMM_PROG_READ_ZERO, R_START,
				R_START + FI_PAGES * page, 0, RUN_TIMEOUT_S));
	stats(_metadata, &self->g, &st);
	cow0 = st.cow_breaks;
	kmsg = mv_kmsg_open();
	ASSERT_LE(0, kmsg);
	for (k = 0; k < FI_ATTEMPTS; k++) {
		gpa = R_START + k * page;
		ASSERT_EQ(0, vcpu_set_hook(self->g.vm, 0, make_it_fail, NULL));
		for (i = 0; i < NR_FI_KNOBS; i++) {
			ret = fi_write(fi_knobs[i], fi_values[i]);
			ASSERT_EQ(0, ret) TH_LOG("knob %s: %s", fi_knobs[i],
						 strerror(-ret));
		}
		ret = vm_run_one(self->g.vm, 0, VMM_PROG_FILL, gpa, gpa + page,
				 seed, RUN_TIMEOUT_S);
		ASSERT_EQ(0, fi_write("probability", "0"));
		if (!ret) {
			EXPECT_GUEST_OK(self->g.vm, 0, 1);
			wrote++;
			continue;
		}
		ASSERT_EQ(1, ret);
		res = vcpu_result(self->g.vm, 0);
		EXPECT_EQ((int)VCPU_ERROR, (int)res->outcome) TH_LOG("%s", res->msg);
		EXPECT_EQ(EFAULT, res->run_errno) TH_LOG("%s", res->msg);
		EXPECT_TRUE(fi_holds(self->g.b.fd, R_GFN + k))
			TH_LOG("the failed write reached gfn 0x%llx", R_GFN + k);
		if (fi_state(self, k) == MEMVIRT_GFN_SHARED)
			break;
		EXPECT_EQ(MEMVIRT_GFN_PRIVATE, fi_state(self, k));
		late++;
	}
	TH_LOG("attempt %u of %u left its gfn SHARED; %u wrote it, %u failed but broke copy-on-write",
	       k + 1, FI_ATTEMPTS, wrote, late);
	ASSERT_GT(FI_ATTEMPTS, k);
	EXPECT_LE(1, mv_kmsg_count(kmsg, "no memory for gfn"));
	close(kmsg);
	fi_expect_failed(_metadata, self, k);
	stats(_metadata, &self->g, &st);
	EXPECT_EQ(cow0 + k, st.cow_breaks);

	/* Injection off (and a fresh vCPU thread): the writes work. */
	ASSERT_EQ(0, vm_run_one(self->g.vm, 1, VMM_PROG_FILL, R_START, gpa + page,
				seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(self->g.vm, 1, k + 1);
	ASSERT_EQ(0, vm_run_one(self->g.vm, 0, VMM_PROG_VERIFY, R_START,
				gpa + page, seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(self->g.vm, 0, k + 1);
	host_sees(_metadata, &self->g, R_START, gpa + page - R_START, seed);
	expect_states(_metadata, &self->g, R_START, gpa + page - R_START,
		      MEMVIRT_GFN_PRIVATE);
	stats(_metadata, &self->g, &st);
	EXPECT_EQ(FI_PAGES - k - 1, st.shared);
	EXPECT_EQ(cow0 + k + 1, st.cow_breaks);
	expect_totals(_metadata, &self->g0, FI_PAGES - k - 1, 1);
	for (i = k + 1; i < FI_PAGES; i++)
		EXPECT_TRUE(fi_holds(self->g.b.fd, R_GFN + i)) TH_LOG("gfn %u", i);
}

VMM_TEST_HARNESS_MAIN
