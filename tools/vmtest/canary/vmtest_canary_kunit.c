// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: a KUnit suite with one passing and one failing case.
 * The harness must report exactly the second as a failure.
 */
#include <kunit/test.h>
#include <linux/module.h>

static void vmtest_canary_passes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 2 + 2, 4);
}

static void vmtest_canary_fails(struct kunit *test)
{
	KUNIT_EXPECT_EQ_MSG(test, 2 + 2, 5, "deliberate failure (harness self-test)");
}

static struct kunit_case vmtest_canary_cases[] = {
	KUNIT_CASE(vmtest_canary_passes),
	KUNIT_CASE(vmtest_canary_fails),
	{}
};

static struct kunit_suite vmtest_canary_suite = {
	.name = "vmtest_canary",
	.test_cases = vmtest_canary_cases,
};

kunit_test_suites(&vmtest_canary_suite);

MODULE_DESCRIPTION("memvirt harness self-test: a failing KUnit case");
MODULE_LICENSE("GPL");
