// SPDX-License-Identifier: GPL-2.0
/*
 * memvirt: ESX-style memory virtualization and overcommit for KVM hosts.
 *
 * DOC: module wiring
 *
 * module/ owns no algorithm: it registers memvirtfs, the sysfs and debugfs
 * trees and the ioctls, and connects them to the components (ept/, and later
 * dedup/, balloon/, swap/). Init sets up in dependency order and unwinds in
 * reverse; the filesystem goes last because registering it lets users in.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/mm.h>
#include <linux/module.h>

#include "module/memvirt.h"

static int __init memvirt_init(void)
{
	int err;

	/* The budget defaults to all of RAM (whole MiB, as budget_mb shows it). */
	memvirt.budget_pages = round_down(totalram_pages(), 1UL << (20 - PAGE_SHIFT));
	err = memvirt_sysfs_init();
	if (err)
		return err;
	memvirt_debugfs_init();
	err = memvirt_fs_register();
	if (err)
		goto out_remove_controls;
	pr_info("ready: budget %llu MiB, overcommit_ratio %u%%\n",
		memvirt.budget_pages >> (20 - PAGE_SHIFT), memvirt.overcommit_ratio);
	return 0;

out_remove_controls:
	memvirt_debugfs_exit();
	memvirt_sysfs_exit();
	return err;
}

static void __exit memvirt_exit(void)
{
	memvirt_fs_unregister();
	memvirt_debugfs_exit();
	memvirt_sysfs_exit();
}

module_init(memvirt_init);
module_exit(memvirt_exit);

MODULE_DESCRIPTION("memvirt: memory virtualization and overcommit for KVM guests");
MODULE_LICENSE("GPL");
