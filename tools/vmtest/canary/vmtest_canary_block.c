// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: a module whose init blocks for an hour in an
 * uninterruptible sleep, so insmod cannot be killed inside the guest. The
 * host must cut the VM at the step's deadline (or at the hung-task report)
 * and say which step hung.
 */
#include <linux/delay.h>
#include <linux/module.h>

static int __init vmtest_canary_block_init(void)
{
	pr_info("vmtest canary: blocking in init (harness self-test)\n");
	msleep(3600 * 1000);
	return 0;
}

static void __exit vmtest_canary_block_exit(void)
{
}

module_init(vmtest_canary_block_init);
module_exit(vmtest_canary_block_exit);

MODULE_DESCRIPTION("memvirt harness self-test: a module init that blocks");
MODULE_LICENSE("GPL");
