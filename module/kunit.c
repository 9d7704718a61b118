// SPDX-License-Identifier: GPL-2.0
/*
 * memvirt_kunit.ko: the KUnit suites of every memvirt component (each in its
 * <area>_test.c, next to the code), run when this module is loaded into a
 * kernel built with CONFIG_KUNIT. memvirt.ko must be loaded first: it exports
 * what the suites call, in namespace MEMVIRT_KUNIT, in such kernels only.
 */
#include <linux/module.h>

MODULE_IMPORT_NS(MEMVIRT_KUNIT);
MODULE_DESCRIPTION("KUnit suites of memvirt");
MODULE_LICENSE("GPL");
