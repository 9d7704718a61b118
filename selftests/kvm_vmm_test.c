// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_vmm_test.c - self-test of the test VMM (lib/vmm.h) on anonymous
 * memory: a guest that fails must fail the run, with a message that says
 * where and why; a hung guest must time out; one vCPU's failure must not
 * hide or spoil another's result; a vCPU must be reusable afterwards; a
 * thread hook runs in the vCPU's thread, once; the guest programs that
 * check data (READ_ZERO, CHURN) must catch a wrong word.
 * The memory tests trust these paths, so they are checked on purpose here.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm.h"

#define GUEST_SIZE	(4ULL << 20)
#define RUN_TIMEOUT_S	60
#define HANG_TIMEOUT_S	2
#define TEST_TIMEOUT_S	180
#define PAGE_GPA	VMM_FREE_GPA

FIXTURE(vmm) {
	struct vm *vm;
};

FIXTURE_SETUP(vmm)
{
	self->vm = vm_create(-1, GUEST_SIZE, 2);
	ASSERT_NE(NULL, self->vm);
}

FIXTURE_TEARDOWN(vmm)
{
	vm_destroy(self->vm);
}

static const struct vcpu_result *misbehave(struct vm *vm, int idx, u64 mode,
					   unsigned int timeout_s, int *ret)
{
	*ret = vm_run_one(vm, idx, VMM_PROG_MISBEHAVE, PAGE_GPA, PAGE_GPA, mode,
			  timeout_s);
	return vcpu_result(vm, idx);
}

TEST_F_TIMEOUT(vmm, guest_assert_fails_run, TEST_TIMEOUT_S)
{
	const struct vcpu_result *r;
	int ret;

	r = misbehave(self->vm, 0, VMM_MISBEHAVE_ASSERT, RUN_TIMEOUT_S, &ret);
	EXPECT_EQ(1, ret);
	EXPECT_STREQ("fail", vcpu_outcome_name(r->outcome));
	EXPECT_NE(NULL, strstr(r->msg, "progs.c:")) TH_LOG("%s", r->msg);
	EXPECT_NE(NULL, strstr(r->msg, "(0x100000 vs 0x5a5a)")) TH_LOG("%s", r->msg);
}

TEST_F_TIMEOUT(vmm, guest_exceptions_reported, TEST_TIMEOUT_S)
{
	const struct vcpu_result *r;
	int ret;

	r = misbehave(self->vm, 0, VMM_MISBEHAVE_PAGE_FAULT, RUN_TIMEOUT_S, &ret);
	EXPECT_EQ(1, ret);
	EXPECT_STREQ("fail", vcpu_outcome_name(r->outcome));
	EXPECT_NE(NULL, strstr(r->msg, "#PF")) TH_LOG("%s", r->msg);
	EXPECT_NE(NULL, strstr(r->msg, "cr2 0x8000000000")) TH_LOG("%s", r->msg);

	r = misbehave(self->vm, 1, VMM_MISBEHAVE_UD, RUN_TIMEOUT_S, &ret);
	EXPECT_EQ(1, ret);
	EXPECT_STREQ("fail", vcpu_outcome_name(r->outcome));
	EXPECT_NE(NULL, strstr(r->msg, "#UD")) TH_LOG("%s", r->msg);
}

/* A spinning guest times out on time, and its vCPU still works after. */
TEST_F_TIMEOUT(vmm, hung_guest_times_out, TEST_TIMEOUT_S)
{
	const struct vcpu_result *r;
	u64 t0, ms;
	int ret;

	t0 = vmm_now_ns();
	r = misbehave(self->vm, 0, VMM_MISBEHAVE_HANG, HANG_TIMEOUT_S, &ret);
	ms = (vmm_now_ns() - t0) / 1000000;
	EXPECT_EQ(1, ret);
	EXPECT_STREQ("timeout", vcpu_outcome_name(r->outcome));
	/* The deadline is on CLOCK_REALTIME: allow a little skew. */
	EXPECT_GE(ms, HANG_TIMEOUT_S * 1000ULL - 100);
	EXPECT_LT(ms, (HANG_TIMEOUT_S + 20) * 1000ULL);

	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_FILL, PAGE_GPA,
				PAGE_GPA + VMM_PAGE_SIZE, 7, RUN_TIMEOUT_S));
	EXPECT_EQ(0ULL, vcpu_report(self->vm, 0, VMM_REPORT_MISMATCHES, ~0ULL));
	EXPECT_EQ(vmm_pattern(PAGE_GPA >> VMM_PAGE_SHIFT, 0, 7),
		  *(u64 *)vm_hva(self->vm, PAGE_GPA));
}

/* Two vCPUs in one run: one fails, the other's result is intact. */
TEST_F_TIMEOUT(vmm, results_are_per_vcpu, TEST_TIMEOUT_S)
{
	const struct vcpu_result *r0, *r1;

	ASSERT_EQ(0, vcpu_prepare(self->vm, 0, VMM_PROG_FILL, PAGE_GPA,
				  PAGE_GPA + 4 * VMM_PAGE_SIZE, 9));
	ASSERT_EQ(0, vcpu_prepare(self->vm, 1, VMM_PROG_MISBEHAVE, PAGE_GPA,
				  PAGE_GPA, VMM_MISBEHAVE_UD));
	EXPECT_EQ(1, vm_run(self->vm, RUN_TIMEOUT_S));
	r0 = vcpu_result(self->vm, 0);
	r1 = vcpu_result(self->vm, 1);
	EXPECT_STREQ("done", vcpu_outcome_name(r0->outcome));
	EXPECT_EQ(4ULL, vcpu_report(self->vm, 0, VMM_REPORT_PAGES, 0));
	EXPECT_EQ(0ULL, vcpu_report(self->vm, 0, VMM_REPORT_MISMATCHES, ~0ULL));
	EXPECT_STREQ("fail", vcpu_outcome_name(r1->outcome));
	EXPECT_EQ(0U, r1->reported);
	/* Nothing armed: nothing to run. */
	EXPECT_GT(0, vm_run(self->vm, RUN_TIMEOUT_S));
}

struct hook_log {
	int calls;
	pid_t tid;
	int ret;
};

static int log_hook(struct vm *vm, int idx, void *arg)
{
	struct hook_log *h = arg;

	h->calls++;
	h->tid = gettid();
	return h->ret;
}

/* The hook runs once, in the vCPU's thread, and only for the next run. */
TEST_F_TIMEOUT(vmm, hook_runs_in_vcpu_thread_once, TEST_TIMEOUT_S)
{
	struct hook_log h = { 0 };

	ASSERT_EQ(0, vcpu_set_hook(self->vm, 0, log_hook, &h));
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_FILL, PAGE_GPA,
				PAGE_GPA + VMM_PAGE_SIZE, 3, RUN_TIMEOUT_S));
	EXPECT_EQ(1, h.calls);
	EXPECT_NE(0, h.tid);
	EXPECT_NE(gettid(), h.tid);
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_VERIFY, PAGE_GPA,
				PAGE_GPA + VMM_PAGE_SIZE, 3, RUN_TIMEOUT_S));
	EXPECT_EQ(1, h.calls);
	EXPECT_GT(0, vcpu_set_hook(self->vm, 2, log_hook, &h));
}

/* A failing hook ends the run as an error before the guest runs. */
TEST_F_TIMEOUT(vmm, hook_error_ends_run, TEST_TIMEOUT_S)
{
	struct hook_log h = { .ret = -EPERM };
	const struct vcpu_result *r;

	ASSERT_EQ(0, vcpu_set_hook(self->vm, 0, log_hook, &h));
	EXPECT_EQ(1, vm_run_one(self->vm, 0, VMM_PROG_FILL, PAGE_GPA,
				PAGE_GPA + VMM_PAGE_SIZE, 3, RUN_TIMEOUT_S));
	r = vcpu_result(self->vm, 0);
	EXPECT_STREQ("error", vcpu_outcome_name(r->outcome));
	EXPECT_NE(NULL, strstr(r->msg, "hook")) TH_LOG("%s", r->msg);
	EXPECT_EQ(0, r->run_errno);
	EXPECT_EQ(0U, r->reported);
	EXPECT_EQ(0ULL, *(u64 *)vm_hva(self->vm, PAGE_GPA));
}

/* READ_ZERO counts every non-zero word, and only those. */
TEST_F_TIMEOUT(vmm, read_zero_finds_nonzero_words, TEST_TIMEOUT_S)
{
	u64 gpa = PAGE_GPA + 2 * VMM_PAGE_SIZE;

	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_READ_ZERO, PAGE_GPA,
				PAGE_GPA + 4 * VMM_PAGE_SIZE, 0, RUN_TIMEOUT_S));
	EXPECT_EQ(4ULL, vcpu_report(self->vm, 0, VMM_REPORT_PAGES, 0));
	EXPECT_EQ(0ULL, vcpu_report(self->vm, 0, VMM_REPORT_MISMATCHES, ~0ULL));
	((u64 *)vm_hva(self->vm, gpa))[5] = 0x77;
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_READ_ZERO, PAGE_GPA,
				PAGE_GPA + 4 * VMM_PAGE_SIZE, 0, RUN_TIMEOUT_S));
	EXPECT_EQ(1ULL, vcpu_report(self->vm, 0, VMM_REPORT_MISMATCHES, ~0ULL));
	EXPECT_EQ(gpa >> VMM_PAGE_SHIFT,
		  vcpu_report(self->vm, 0, VMM_REPORT_BAD_GFN, 0));
	EXPECT_EQ(5ULL, vcpu_report(self->vm, 0, VMM_REPORT_BAD_WORD, 0));
	EXPECT_EQ(0x77ULL, vcpu_report(self->vm, 0, VMM_REPORT_BAD_VALUE, 0));
}

/* TOUCH_TIMED writes each page's byte and one non-zero record per page. */
TEST_F_TIMEOUT(vmm, touch_timed_records_every_page, TEST_TIMEOUT_S)
{
	u64 rec = PAGE_GPA + 16 * VMM_PAGE_SIZE, i, n = 8;
	const u64 *r = vm_hva(self->vm, rec);
	const u8 *p = vm_hva(self->vm, PAGE_GPA);

	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_TOUCH_TIMED, PAGE_GPA,
				PAGE_GPA + n * VMM_PAGE_SIZE, rec, RUN_TIMEOUT_S));
	EXPECT_EQ(n, vcpu_report(self->vm, 0, VMM_REPORT_PAGES, 0));
	for (i = 0; i < n; i++) {
		EXPECT_EQ(1, p[i * VMM_PAGE_SIZE]);
		EXPECT_NE(0ULL, r[i]);
	}
	EXPECT_EQ(0ULL, r[n]);
	/* Records inside the touched range would time their own faults. */
	EXPECT_EQ(1, vm_run_one(self->vm, 0, VMM_PROG_TOUCH_TIMED, PAGE_GPA,
				PAGE_GPA + n * VMM_PAGE_SIZE,
				PAGE_GPA + VMM_PAGE_SIZE, RUN_TIMEOUT_S));
}

/* CHURN leaves its last pass behind, and catches a word changed under it. */
TEST_F_TIMEOUT(vmm, churn_checks_every_pass, TEST_TIMEOUT_S)
{
	u64 gfn0 = PAGE_GPA >> VMM_PAGE_SHIFT, n = 3, passes = 2, i, w;
	u64 zero = n, bad = 0;
	u64 *page;

	for (i = 0; i < n; i++)
		zero += vmm_churn_is_zero(gfn0 + i, 0) + vmm_churn_is_zero(gfn0 + i, 1);
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_CHURN, PAGE_GPA,
				PAGE_GPA + n * VMM_PAGE_SIZE, passes, RUN_TIMEOUT_S));
	EXPECT_EQ((passes + 1) * n, vcpu_report(self->vm, 0, VMM_REPORT_PAGES, 0));
	EXPECT_EQ(0ULL, vcpu_report(self->vm, 0, VMM_REPORT_MISMATCHES, ~0ULL));
	EXPECT_EQ(zero, vcpu_report(self->vm, 0, VMM_REPORT_ZERO_PAGES, 0));
	for (i = 0; i < n; i++) {
		page = vm_hva(self->vm, PAGE_GPA + i * VMM_PAGE_SIZE);
		for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
			bad += page[w] != vmm_churn_word(gfn0 + i, w, passes - 1);
	}
	EXPECT_EQ(0ULL, bad);

	/* A fresh range must start zero: one stray word is reported. */
	page = vm_hva(self->vm, PAGE_GPA + 8 * VMM_PAGE_SIZE);
	page[9] = 0x99;
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_CHURN,
				PAGE_GPA + 8 * VMM_PAGE_SIZE,
				PAGE_GPA + 9 * VMM_PAGE_SIZE, 1, RUN_TIMEOUT_S));
	EXPECT_EQ(1ULL, vcpu_report(self->vm, 0, VMM_REPORT_MISMATCHES, ~0ULL));
	EXPECT_EQ(9ULL, vcpu_report(self->vm, 0, VMM_REPORT_BAD_WORD, 0));
}

TEST_F(vmm, bad_arguments_rejected)
{
	EXPECT_GT(0, vcpu_prepare(self->vm, 2, VMM_PROG_FILL, PAGE_GPA,
				  PAGE_GPA, 0));
	EXPECT_GT(0, vcpu_prepare(self->vm, 0, VMM_PROG_FILL, PAGE_GPA + 1,
				  PAGE_GPA + VMM_PAGE_SIZE, 0));
	EXPECT_GT(0, vcpu_prepare(self->vm, 0, VMM_PROG_FILL, PAGE_GPA,
				  GUEST_SIZE + VMM_PAGE_SIZE, 0));
	EXPECT_EQ(NULL, vm_create(-1, 3ULL << 20, 1));
	EXPECT_EQ(NULL, vm_create(-1, GUEST_SIZE, VMM_MAX_VCPUS + 1));
}

VMM_TEST_HARNESS_MAIN
