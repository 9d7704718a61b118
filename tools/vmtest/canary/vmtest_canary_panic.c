// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: a module whose init panics the kernel in the middle of
 * a plan. The VM must stop and the run must say "panic".
 */
#include <linux/kernel.h>
#include <linux/module.h>

static int __init vmtest_canary_panic_init(void)
{
	panic("vmtest canary: deliberate panic (harness self-test)");
	return 0;
}

module_init(vmtest_canary_panic_init);

MODULE_DESCRIPTION("memvirt harness self-test: a kernel panic");
MODULE_LICENSE("GPL");
