// SPDX-License-Identifier: GPL-2.0
/*
 * memvirt_kunit.ko: the KUnit suites of every memvirt component, run when
 * the module is loaded into a kernel built with CONFIG_KUNIT.
 */
#include <kunit/test.h>
#include <linux/module.h>

static void memvirt_kunit_smoke(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 1 + 1, 2);
}

static struct kunit_case memvirt_smoke_cases[] = {
	KUNIT_CASE(memvirt_kunit_smoke),
	{}
};

static struct kunit_suite memvirt_smoke_suite = {
	.name = "memvirt_smoke",
	.test_cases = memvirt_smoke_cases,
};

kunit_test_suites(&memvirt_smoke_suite);

MODULE_IMPORT_NS(MEMVIRT_KUNIT);
MODULE_DESCRIPTION("KUnit suites of memvirt");
MODULE_LICENSE("GPL");
