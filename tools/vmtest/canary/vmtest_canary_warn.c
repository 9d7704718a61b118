// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: a module whose init triggers a kernel warning. The
 * harness must find the splat in the guest kernel log and fail the run.
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init vmtest_canary_warn_init(void)
{
	WARN(1, "vmtest canary: deliberate warning (harness self-test)\n");
	return 0;
}

static void __exit vmtest_canary_warn_exit(void)
{
}

module_init(vmtest_canary_warn_init);
module_exit(vmtest_canary_warn_exit);

MODULE_DESCRIPTION("memvirt harness self-test: a kernel warning");
MODULE_LICENSE("GPL");
