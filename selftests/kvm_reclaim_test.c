// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_reclaim_test.c - KVM guests on memvirtfs while memvirt takes pages
 * away: read faults that allocate nothing, copy-on-write breaks, vCPU
 * progress while another range is reclaimed or punched, guest data under
 * MEMVIRT_IOC_RECLAIM, and an allocation failure in the fault path.
 *
 * Layout of the 64 MiB guest (guest-physical = file offset):
 *
 *   [1 MiB, 33 MiB)   range A: what the vCPU works on
 *   [40 MiB, 44 MiB)  range B: what the host reclaims or punches
 *   [48 MiB, +64 KiB) latency records of VMM_PROG_TOUCH_TIMED
 *   [60 MiB, 62 MiB)  warm-up pages
 *
 * Counters are compared with a snapshot taken after a warm-up run (the
 * vCPU's stack and the VMM's first MiB are resident by then), so every
 * delta is exactly what the test's own accesses imply.
 *
 * Fixtures:
 *   zero_read	read faults map a zero frame, a later write breaks COW
 *		(memvirtfs; memfd and anon for the data checks only);
 *   progress	a vCPU first-touches A while a host thread refills B with
 *		zero pages and reclaims (or punches) it in a loop: the vCPU
 *		finishes with correct data, the host thread completes rounds,
 *		each RECLAIM takes all of B; stall figures are printed;
 *   churn	a vCPU rewrites a range with checked data while the host
 *		reclaims it in a loop: no word is ever lost;
 *   fault_inject (debug kernel: fail_page_alloc) the guest's write of an
 *		untouched page fails its allocation: KVM_RUN -EFAULT, the
 *		kernel log names the gfn, then the VM runs on intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "backing.h"
#include "reclaimer.h"
#include "vmm.h"

#define MIB			(1ULL << 20)
#define GUEST_SIZE		(64 * MIB)
#define NR_VCPUS		2
#define PAGES(bytes)		((bytes) / VMM_PAGE_SIZE)
#define A_START			(1 * MIB)
#define A_LEN			(16 * MIB)
#define ZERO_READ_LEN		(8 * MIB)
#define B_START			(40 * MIB)
#define B_LEN			(4 * MIB)
#define REC_GPA			(48 * MIB)
#define WARM_GPA		(60 * MIB)
#define CHURN_LEN		(4 * MIB)
#define CHURN_PASSES		12
#define RUN_TIMEOUT_S		240
#define TEST_TIMEOUT_S		420
#define NO_REPORT		(~0ULL)

#define REPORT(vcpu, key)	vcpu_report(self->g.vm, vcpu, key, NO_REPORT)

/* The 6.1 harness runs the test body even after SKIP() in the setup. */
#define RETURN_IF_SKIPPED() do {	\
	if (self->skip)			\
		return;			\
} while (0)

/* vCPU @i's last run processed @pages pages and found no bad word. */
#define EXPECT_GUEST_OK(i, pages) do {					\
	EXPECT_EQ((u64)(pages), REPORT(i, VMM_REPORT_PAGES));		\
	EXPECT_EQ(0ULL, REPORT(i, VMM_REPORT_MISMATCHES))		\
		TH_LOG("vcpu%d: first bad gfn 0x%llx word %llu = 0x%llx", \
		       i, REPORT(i, VMM_REPORT_BAD_GFN),		\
		       REPORT(i, VMM_REPORT_BAD_WORD),			\
		       REPORT(i, VMM_REPORT_BAD_VALUE));		\
} while (0)

/* What all fixtures share: one VM on one backing. */
struct guest {
	struct backing b;
	struct vm *vm;
	u8 *mem;
	struct memvirt_stats base;	/* after warm_up() */
};

static int guest_open(struct guest *g, enum backing_kind kind, char *reason,
		      size_t len)
{
	int ret = backing_open(&g->b, kind, GUEST_SIZE, reason, len);

	if (ret)
		return ret;
	g->vm = vm_create(g->b.fd, GUEST_SIZE, NR_VCPUS);
	if (!g->vm) {
		snprintf(reason, len, "vm_create failed (see vmm: line above)");
		backing_close(&g->b);
		return -EIO;
	}
	g->mem = vm_mem(g->vm);
	return 0;
}

static void guest_close(struct guest *g)
{
	vm_destroy(g->vm);
	g->vm = NULL;
	backing_close(&g->b);
}

static bool is_memvirtfs(const struct guest *g)
{
	return g->b.kind == BACKING_MEMVIRTFS;
}

/*
 * Run every program the test uses once on the warm-up pages with vCPU
 * @idx, so its stack is resident, then snapshot memvirt's counters.
 */
static void warm_up(struct __test_metadata *_metadata, struct guest *g, int idx)
{
	ASSERT_EQ(0, vm_run_one(g->vm, idx, VMM_PROG_READ_ZERO, WARM_GPA,
				WARM_GPA + VMM_PAGE_SIZE, 0, RUN_TIMEOUT_S));
	ASSERT_EQ(0, vm_run_one(g->vm, idx, VMM_PROG_FILL,
				WARM_GPA + VMM_PAGE_SIZE,
				WARM_GPA + 2 * VMM_PAGE_SIZE, 1, RUN_TIMEOUT_S));
	if (is_memvirtfs(g))
		ASSERT_EQ(0, memvirt_get_stats(g->b.fd, &g->base));
}

/* Counters now, and resident from sysfs, which must agree with the ioctl. */
static void stats_now(struct __test_metadata *_metadata, struct guest *g,
		      struct memvirt_stats *st)
{
	u64 resident;

	ASSERT_EQ(0, memvirt_get_stats(g->b.fd, st));
	ASSERT_EQ(0, memvirt_sysfs_read(st->vm_id, "resident", &resident))
		TH_LOG("no %s/%llu/resident", MEMVIRT_SYSFS_VMS, st->vm_id);
	EXPECT_EQ(st->resident, resident);
}

/* Every gfn of [gpa, gpa + len) is in state @want; logs the first that is not. */
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

/* ---- zero_read: read faults allocate nothing ---- */

FIXTURE(zero_read) {
	struct guest g;
	bool skip;
};

FIXTURE_VARIANT(zero_read) {
	enum backing_kind kind;
};

FIXTURE_VARIANT_ADD(zero_read, memvirtfs) {
	.kind = BACKING_MEMVIRTFS,
};

FIXTURE_VARIANT_ADD(zero_read, memfd) {
	.kind = BACKING_MEMFD,
};

FIXTURE_VARIANT_ADD(zero_read, anon) {
	.kind = BACKING_ANON,
};

FIXTURE_SETUP(zero_read)
{
	char reason[256] = "";
	int ret = guest_open(&self->g, variant->kind, reason, sizeof(reason));

	if (ret == BACKING_UNAVAILABLE) {
		self->skip = true;
		SKIP(return, "%s", reason);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", reason);
	warm_up(_metadata, &self->g, 0);
}

FIXTURE_TEARDOWN(zero_read)
{
	guest_close(&self->g);
}

/* The guest reads 8 MiB it never touched: zeroes, and no page for any. */
TEST_F_TIMEOUT(zero_read, guest_reads_allocate_nothing, TEST_TIMEOUT_S)
{
	struct memvirt_stats st;
	struct vm *vm = self->g.vm;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vm_run_one(vm, 0, VMM_PROG_READ_ZERO, A_START,
				A_START + ZERO_READ_LEN, 0, RUN_TIMEOUT_S));
	EXPECT_EQ(PAGES(ZERO_READ_LEN), vcpu_report(vm, 0, VMM_REPORT_PAGES, 0));
	EXPECT_EQ(0ULL, vcpu_report(vm, 0, VMM_REPORT_MISMATCHES, NO_REPORT))
		TH_LOG("non-zero word in gfn 0x%llx",
		       vcpu_report(vm, 0, VMM_REPORT_BAD_GFN, 0));
	if (!is_memvirtfs(&self->g))
		return;
	stats_now(_metadata, &self->g, &st);
	EXPECT_EQ(self->g.base.resident, st.resident)
		TH_LOG("reading %llu zero pages made %lld pages resident",
		       PAGES(ZERO_READ_LEN),
		       (long long)(st.resident - self->g.base.resident));
	EXPECT_EQ(self->g.base.zero_maps + PAGES(ZERO_READ_LEN), st.zero_maps);
	EXPECT_EQ(self->g.base.cow_breaks, st.cow_breaks);
	expect_states(_metadata, &self->g, A_START, ZERO_READ_LEN,
		      MEMVIRT_GFN_ZERO);
}

/*
 * Then the guest writes the pattern over what it read: each page breaks
 * COW once, and the guest reads its own bytes back (KVM's read-only
 * mapping of the zero frame is gone).
 */
TEST_F_TIMEOUT(zero_read, guest_write_after_read_breaks_cow, TEST_TIMEOUT_S)
{
	u64 seed = 0xa11, bad_gfn = 0;
	struct memvirt_stats before, st;
	struct vm *vm = self->g.vm;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vm_run_one(vm, 0, VMM_PROG_READ_ZERO, A_START,
				A_START + ZERO_READ_LEN, 0, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(0, PAGES(ZERO_READ_LEN));
	if (is_memvirtfs(&self->g))
		stats_now(_metadata, &self->g, &before);

	ASSERT_EQ(0, vm_run_one(vm, 0, VMM_PROG_FILL, A_START,
				A_START + ZERO_READ_LEN, seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(0, PAGES(ZERO_READ_LEN));
	EXPECT_EQ(0ULL, vmm_check_pattern(self->g.mem + A_START, A_START,
				       ZERO_READ_LEN, seed, &bad_gfn))
		TH_LOG("host sees a bad word in gfn 0x%llx", bad_gfn);
	if (!is_memvirtfs(&self->g))
		return;
	stats_now(_metadata, &self->g, &st);
	EXPECT_EQ(self->g.base.resident + PAGES(ZERO_READ_LEN), st.resident);
	EXPECT_EQ(before.cow_breaks + PAGES(ZERO_READ_LEN), st.cow_breaks);
	EXPECT_EQ(before.zero_maps, st.zero_maps);
	expect_states(_metadata, &self->g, A_START, ZERO_READ_LEN,
		      MEMVIRT_GFN_PRIVATE);
}

/*
 * The guest reads (KVM maps the zero frame read-only), then the host
 * writes through its own mapping: the guest must see the host's bytes,
 * so KVM's stale entry was dropped through the MMU notifier.
 */
TEST_F_TIMEOUT(zero_read, host_write_after_guest_read, TEST_TIMEOUT_S)
{
	u64 seed = 0xb22, len = 2 * MIB;
	struct memvirt_stats before, st;
	struct vm *vm = self->g.vm;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vm_run_one(vm, 0, VMM_PROG_READ_ZERO, A_START,
				A_START + len, 0, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(0, PAGES(len));
	if (is_memvirtfs(&self->g))
		stats_now(_metadata, &self->g, &before);

	vmm_fill_pattern(self->g.mem + A_START, A_START, len, seed);
	ASSERT_EQ(0, vm_run_one(vm, 0, VMM_PROG_VERIFY, A_START, A_START + len,
				seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(0, PAGES(len));
	if (!is_memvirtfs(&self->g))
		return;
	stats_now(_metadata, &self->g, &st);
	EXPECT_EQ(self->g.base.resident + PAGES(len), st.resident);
	EXPECT_EQ(before.cow_breaks + PAGES(len), st.cow_breaks);
}

/* ---- progress: first touches in A while B is taken away in a loop ---- */

FIXTURE(progress) {
	struct guest g;
	bool skip;
};

FIXTURE_VARIANT(progress) {
	enum backing_kind kind;
	enum reclaimer_mode mode;
};

FIXTURE_VARIANT_ADD(progress, memvirtfs_reclaim) {
	.kind = BACKING_MEMVIRTFS,
	.mode = RECLAIMER_RECLAIM,
};

FIXTURE_VARIANT_ADD(progress, memvirtfs_punch) {
	.kind = BACKING_MEMVIRTFS,
	.mode = RECLAIMER_PUNCH,
};

/* The baseline hosts use today: shmem, punched (QEMU's balloon). */
FIXTURE_VARIANT_ADD(progress, memfd_punch) {
	.kind = BACKING_MEMFD,
	.mode = RECLAIMER_PUNCH,
};

FIXTURE_SETUP(progress)
{
	char reason[256] = "";
	int ret = guest_open(&self->g, variant->kind, reason, sizeof(reason));

	if (ret == BACKING_UNAVAILABLE) {
		self->skip = true;
		SKIP(return, "%s", reason);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", reason);
	/* The latency records: resident before the vCPU's timed run. */
	memset(self->g.mem + REC_GPA, 0, PAGES(A_LEN) * sizeof(u64));
	warm_up(_metadata, &self->g, 0);
	ASSERT_EQ(0, vm_run_one(self->g.vm, 0, VMM_PROG_TOUCH_TIMED, WARM_GPA,
				WARM_GPA + VMM_PAGE_SIZE, REC_GPA, RUN_TIMEOUT_S));
	if (is_memvirtfs(&self->g))
		ASSERT_EQ(0, memvirt_get_stats(self->g.b.fd, &self->g.base));
}

FIXTURE_TEARDOWN(progress)
{
	guest_close(&self->g);
}

/* Every page of A holds the one byte the guest wrote and zeroes after it. */
static u64 count_bad_touched(const u8 *p, u64 len)
{
	u64 off, i, bad = 0;

	for (off = 0; off < len; off += VMM_PAGE_SIZE) {
		const u64 *w = (const u64 *)(p + off);

		if (w[0] != 1) {
			bad++;
			continue;
		}
		for (i = 1; i < VMM_WORDS_PER_PAGE; i++) {
			if (w[i]) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

TEST_F_TIMEOUT(progress, first_touch_while_b_is_taken, TEST_TIMEOUT_S)
{
	struct reclaimer r = {
		.fd = self->g.b.fd, .mode = variant->mode,
		.off = B_START, .len = B_LEN, .refill = true,
	};
	struct stall_stats ss;
	struct memvirt_stats st;
	u64 r0, r1;
	int ret;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, reclaimer_start(&r));
	ret = reclaimer_wait_rounds(&r, 1, RUN_TIMEOUT_S);
	if (ret) {
		reclaimer_stop(&r);
		ASSERT_EQ(0, ret) TH_LOG("first round: %s: %s",
					 r.what ? r.what : "timeout", strerror(-ret));
	}
	r0 = reclaimer_rounds(&r);
	ret = vm_run_one(self->g.vm, 0, VMM_PROG_TOUCH_TIMED, A_START,
			 A_START + A_LEN, REC_GPA, RUN_TIMEOUT_S);
	r1 = reclaimer_rounds(&r);
	reclaimer_stop(&r);
	ASSERT_EQ(0, r.err) TH_LOG("%s: %s", r.what, strerror(-r.err));
	ASSERT_EQ(0, ret);

	EXPECT_EQ(PAGES(A_LEN), vcpu_report(self->g.vm, 0, VMM_REPORT_PAGES, 0));
	EXPECT_EQ(0ULL, count_bad_touched(self->g.mem + A_START, A_LEN));
	/* Timing, so no exact count: the host thread must not be starved. */
	EXPECT_GT(r1 - r0, 0ULL);
	if (variant->mode == RECLAIMER_RECLAIM) {
		EXPECT_EQ(PAGES(B_LEN), r.min_reclaimed);
		EXPECT_EQ(PAGES(B_LEN), r.max_reclaimed);
		EXPECT_EQ(0ULL, r.pinned_skips);
	}
	ASSERT_EQ(0, stall_stats_read(self->g.vm, REC_GPA, PAGES(A_LEN), &ss));
	TH_LOG("%s %s: %llu rounds during the vCPU's %llu ms, round max %llu us avg %llu us; fault p50 %llu ns p99 %llu ns max %llu ns",
	       backing_name(variant->kind),
	       variant->mode == RECLAIMER_RECLAIM ? "reclaim" : "punch",
	       r1 - r0, vcpu_result(self->g.vm, 0)->wall_ns / 1000000,
	       r.max_round_ns / 1000, r.total_ns / 1000 / r.rounds,
	       ss.p50_ns, ss.p99_ns, ss.max_ns);
	if (!is_memvirtfs(&self->g))
		return;
	/* The thread stops after a reclaim or punch: B holds nothing. */
	stats_now(_metadata, &self->g, &st);
	EXPECT_EQ(self->g.base.resident + PAGES(A_LEN), st.resident);
	if (variant->mode == RECLAIMER_RECLAIM) {
		EXPECT_EQ(self->g.base.reclaimed + r.rounds * PAGES(B_LEN),
			  st.reclaimed);
	} else {
		EXPECT_EQ(self->g.base.punched + r.rounds * PAGES(B_LEN),
			  st.punched);
	}
}

/* ---- churn: reclaim a range the guest keeps rewriting ---- */

FIXTURE(churn) {
	struct guest g;
	bool skip;
};

FIXTURE_SETUP(churn)
{
	char reason[256] = "";
	int ret = guest_open(&self->g, BACKING_MEMVIRTFS, reason, sizeof(reason));

	if (ret == BACKING_UNAVAILABLE) {
		self->skip = true;
		SKIP(return, "%s", reason);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", reason);
	warm_up(_metadata, &self->g, 0);
}

FIXTURE_TEARDOWN(churn)
{
	guest_close(&self->g);
}

/* Zero pages the CHURN program checks over @passes passes of @pages pages. */
static u64 churn_zero_checks(u64 gfn0, u64 pages, u64 passes)
{
	u64 pass, i, n = pages;	/* the first sweep finds never-written pages */

	for (pass = 0; pass < passes; pass++)
		for (i = 0; i < pages; i++)
			n += vmm_churn_is_zero(gfn0 + i, pass);
	return n;
}

/*
 * Non-zero pages are never reclaimed; zero pages reclaimed mid-run read
 * back as zero and refault correctly when the guest writes them again.
 */
TEST_F_TIMEOUT(churn, reclaim_while_guest_rewrites, TEST_TIMEOUT_S)
{
	struct reclaimer r = {
		.fd = self->g.b.fd, .mode = RECLAIMER_RECLAIM,
		.off = A_START, .len = CHURN_LEN,
	};
	u64 gfn0 = A_START >> VMM_PAGE_SHIFT, n = PAGES(CHURN_LEN);
	u64 i, w, bad = 0, nonzero = 0, r0, r1;
	struct memvirt_reclaim rc;
	struct memvirt_stats st;
	u8 *states;
	int ret;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, reclaimer_start(&r));
	ret = reclaimer_wait_rounds(&r, 1, RUN_TIMEOUT_S);
	r0 = reclaimer_rounds(&r);
	if (!ret)
		ret = vm_run_one(self->g.vm, 0, VMM_PROG_CHURN, A_START,
				 A_START + CHURN_LEN, CHURN_PASSES, RUN_TIMEOUT_S);
	r1 = reclaimer_rounds(&r);
	reclaimer_stop(&r);
	ASSERT_EQ(0, r.err) TH_LOG("%s: %s", r.what, strerror(-r.err));
	ASSERT_EQ(0, ret);
	EXPECT_GUEST_OK(0, (CHURN_PASSES + 1) * n);
	EXPECT_EQ(churn_zero_checks(gfn0, n, CHURN_PASSES),
		  vcpu_report(self->g.vm, 0, VMM_REPORT_ZERO_PAGES, 0));
	EXPECT_GT(r1 - r0, 0ULL);
	/*
	 * pinned_skips is not checked here: a KVM fault in flight holds a
	 * transient reference, and skipping that page is the protocol.
	 */
	TH_LOG("%llu reclaim rounds during the guest's run took %llu pages, skipped %llu pinned",
	       r1 - r0, r.reclaimed, r.pinned_skips);

	/* The host sees the last pass's content. */
	for (i = 0; i < n; i++) {
		const u64 *p = (const u64 *)(self->g.mem + A_START) +
			       i * VMM_WORDS_PER_PAGE;

		nonzero += !vmm_churn_is_zero(gfn0 + i, CHURN_PASSES - 1);
		for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
			bad += p[w] != vmm_churn_word(gfn0 + i, w, CHURN_PASSES - 1);
	}
	EXPECT_EQ(0ULL, bad);

	/* One last reclaim: exactly the zero pages are left without a page. */
	ASSERT_EQ(0, memvirt_reclaim(self->g.b.fd, MEMVIRT_RECLAIM_ZERO, gfn0, n,
				     &rc));
	states = malloc(n);
	ASSERT_NE(NULL, states);
	ASSERT_EQ(0, memvirt_query_range(self->g.b.fd, gfn0, n, states));
	for (i = bad = 0; i < n; i++) {
		u8 want = vmm_churn_is_zero(gfn0 + i, CHURN_PASSES - 1) ?
			  MEMVIRT_GFN_ZERO : MEMVIRT_GFN_PRIVATE;

		if ((states[i] & MEMVIRT_GFN_STATE_MASK) != want && !bad++)
			TH_LOG("gfn 0x%llx: state 0x%x, want %u", gfn0 + i,
			       states[i], want);
	}
	free(states);
	EXPECT_EQ(0ULL, bad);
	stats_now(_metadata, &self->g, &st);
	EXPECT_EQ(self->g.base.resident + nonzero, st.resident);
}

/* ---- fault_inject: an allocation failure in the guest's write fault ---- */

#define FAIL_DIR	"/sys/kernel/debug/fail_page_alloc"
#define FI_GPA		(A_START + 4 * VMM_PAGE_SIZE)

static const char *const fi_knobs[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
	"ignore-gfp-wait", "ignore-gfp-highmem", "min-order",
};

#define NR_FI_KNOBS	ARRAY_SIZE(fi_knobs)

/*
 * The injection: every page allocation of the marked thread fails, twice.
 * Twice, not once: KVM (6.1 kvm_faultin_pfn()) first tries the page with
 * FOLL_NOWAIT for an async page fault and, as this VM has no in-kernel
 * LAPIC, retries synchronously; a single failure is spent on the first
 * attempt and the retry succeeds. If the fault path allocates nothing
 * under FAULT_FLAG_RETRY_NOWAIT, the second failure is simply never used:
 * probability goes back to 0 right after the run.
 */
static const char *const fi_values[NR_FI_KNOBS] = {
	"100", "1", "2", "0", "0", "Y", "N", "N", "0",
};

FIXTURE(fault_inject) {
	struct guest g;
	bool skip;
	bool saved;
	char old[NR_FI_KNOBS][32];
};

static int knob_read(const char *name, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", FAIL_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int knob_write(const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", FAIL_DIR, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

FIXTURE_SETUP(fault_inject)
{
	char reason[256] = "";
	unsigned int i;
	int ret;

	if (access(FAIL_DIR, F_OK)) {
		self->skip = true;
		SKIP(return, "no fail_page_alloc in this kernel");
	}
	ret = guest_open(&self->g, BACKING_MEMVIRTFS, reason, sizeof(reason));
	if (ret == BACKING_UNAVAILABLE) {
		self->skip = true;
		SKIP(return, "%s", reason);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", reason);
	for (i = 0; i < NR_FI_KNOBS; i++) {
		ret = knob_read(fi_knobs[i], self->old[i], sizeof(self->old[i]));
		ASSERT_EQ(0, ret) TH_LOG("reading knob %u: %s", i, strerror(-ret));
	}
	self->saved = true;
}

FIXTURE_TEARDOWN(fault_inject)
{
	unsigned int i;

	/* probability first: no window with the old count and our rate */
	if (self->saved) {
		knob_write("probability", "0");
		for (i = 0; i < NR_FI_KNOBS; i++)
			knob_write(fi_knobs[i], self->old[i]);
	}
	guest_close(&self->g);
}

/*
 * In the vCPU thread: every page allocation of this thread may now fail.
 * Its stack is touched first, so the one injected failure is not spent
 * on a stack page of the VMM.
 */
static int make_it_fail(struct vm *vm, int idx, void *arg)
{
	volatile char stack[64 << 10];
	ssize_t n;
	int fd;

	memset((char *)stack, 0, sizeof(stack));
	fd = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, "1", 1);
	close(fd);
	return n == 1 ? 0 : -errno;
}

/* Whether the kernel logged @needle since @fd (/dev/kmsg) was opened. */
static bool kmsg_has(int fd, const char *needle)
{
	char rec[1024];
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: read on */
		if (n <= 0)
			return false;
		rec[n] = '\0';
		if (strstr(rec, needle))
			return true;
	}
}

/*
 * Another allocation of the vCPU thread may take the injected failures
 * first and survive them (a stack depot refill under KASAN, seen on 6.12):
 * then the guest's write simply succeeds. Retry on the next page, a few
 * times; one of them must fail the write fault.
 */
#define FI_ATTEMPTS	8U

TEST_F_TIMEOUT(fault_inject, write_fault_enomem_efaults_then_recovers,
	       TEST_TIMEOUT_S)
{
	u64 seed = 0xd44, page = VMM_PAGE_SIZE, gpa = FI_GPA;
	const struct vcpu_result *res;
	unsigned int i, attempt;
	int kmsg, ret;

	RETURN_IF_SKIPPED();
	/*
	 * Earlier data, and the page tables (host, KVM's and the P2M's) for
	 * FI_GPA's 2 MiB, so the guest page is the first thing allocated.
	 */
	ASSERT_EQ(0, vm_run_one(self->g.vm, 0, VMM_PROG_FILL, A_START, FI_GPA,
				seed, RUN_TIMEOUT_S));
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, kmsg);
	lseek(kmsg, 0, SEEK_END);

	for (attempt = 0; attempt < FI_ATTEMPTS; attempt++) {
		gpa = FI_GPA + attempt * page;
		/* Each vm_run() clears the hook and starts fresh threads. */
		ASSERT_EQ(0, vcpu_set_hook(self->g.vm, 0, make_it_fail, NULL));
		for (i = 0; i < NR_FI_KNOBS; i++) {
			ret = knob_write(fi_knobs[i], fi_values[i]);
			ASSERT_EQ(0, ret) TH_LOG("writing knob %u: %s", i, strerror(-ret));
		}
		ret = vm_run_one(self->g.vm, 0, VMM_PROG_FILL, gpa, gpa + page,
				 seed, RUN_TIMEOUT_S);
		ASSERT_EQ(0, knob_write("probability", "0"));
		if (ret == 1)
			break;
		/* The failures went elsewhere: the page was written. */
		ASSERT_EQ(0, ret);
		EXPECT_GUEST_OK(0, 1);
	}
	TH_LOG("the write fault failed at attempt %u of %u", attempt + 1, FI_ATTEMPTS);
	ASSERT_GT(FI_ATTEMPTS, attempt);
	res = vcpu_result(self->g.vm, 0);
	EXPECT_EQ((int)VCPU_ERROR, (int)res->outcome) TH_LOG("%s", res->msg);
	EXPECT_EQ(EFAULT, res->run_errno) TH_LOG("%s", res->msg);
	EXPECT_TRUE(kmsg_has(kmsg, "no memory for gfn"));
	close(kmsg);

	/* Injection off (and a fresh vCPU thread): the VM runs on. */
	ASSERT_EQ(0, vm_run_one(self->g.vm, 0, VMM_PROG_VERIFY, A_START, FI_GPA,
				seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(0, PAGES(FI_GPA - A_START));
	ASSERT_EQ(0, vm_run_one(self->g.vm, 1, VMM_PROG_FILL, gpa,
				gpa + page, seed, RUN_TIMEOUT_S));
	EXPECT_GUEST_OK(1, 1);
}

VMM_TEST_HARNESS_MAIN
