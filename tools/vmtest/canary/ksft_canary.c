// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: a kselftest program with one passing, one failing and
 * one skipped test. The harness must report each as such.
 */
#include "kselftest_harness.h"

TEST(canary_passes)
{
	ASSERT_EQ(4, 2 + 2);
}

TEST(canary_fails)
{
	TH_LOG("deliberate failure (harness self-test)");
	ASSERT_EQ(5, 2 + 2);
}

TEST(canary_skips)
{
	SKIP(return, "deliberate skip (harness self-test)");
}

TEST_HARNESS_MAIN
