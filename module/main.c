// SPDX-License-Identifier: GPL-2.0
/*
 * memvirt: ESX-style memory virtualization and overcommit for KVM hosts.
 *
 * DOC: module wiring
 *
 * module/ owns no algorithm: it registers memvirtfs, the sysfs and debugfs
 * trees and the ioctls, and connects them to the components (ept/, and later
 * dedup/, balloon/, swap/).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

static int __init memvirt_init(void)
{
	pr_info("loaded\n");
	return 0;
}

static void __exit memvirt_exit(void)
{
	pr_info("unloaded\n");
}

module_init(memvirt_init);
module_exit(memvirt_exit);

MODULE_DESCRIPTION("memvirt: memory virtualization and overcommit for KVM guests");
MODULE_LICENSE("GPL");
