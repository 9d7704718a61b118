// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: a KUnit module that fails to load (its init fails
 * before any suite runs). The harness must report the module as failed.
 */
#include <kunit/test.h>
#include <linux/module.h>

static int __init vmtest_canary_noload_init(void)
{
	pr_info("vmtest canary: refusing to load (harness self-test)\n");
	return -ENODEV;
}

module_init(vmtest_canary_noload_init);

MODULE_DESCRIPTION("memvirt harness self-test: a KUnit module that fails to load");
MODULE_LICENSE("GPL");
