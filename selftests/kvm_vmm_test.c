// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_vmm_test.c - self-test of the test VMM (lib/vmm.h) on anonymous
 * memory: a guest that fails must fail the run, with a message that says
 * where and why; a hung guest must time out; one vCPU's failure must not
 * hide or spoil another's result; a vCPU must be reusable afterwards.
 * The memory tests trust these paths, so they are checked on purpose here.
 */
#include <string.h>

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

int main(int argc, char **argv)
{
	char reason[256];

	if (vmm_kvm_available(reason, sizeof(reason))) {
		ksft_print_header();
		ksft_exit_skip("%s\n", reason);
	}
	return test_harness_run(argc, argv);
}
