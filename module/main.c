// SPDX-License-Identifier: GPL-2.0
/*
 * memvirt: ESX-style memory virtualization and overcommit for KVM hosts.
 *
 * DOC: module wiring
 *
 * module/ owns no algorithm: it registers memvirtfs, the sysfs and debugfs
 * trees and the ioctls, and connects them to the components (ept/, dedup/, swap/,
 * policy/). Init sets up in dependency order and unwinds in
 * reverse; the filesystem goes last because registering it lets users in.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/mm.h>
#include <linux/module.h>

#include "dedup/dedup.h"
#include "module/memvirt.h"
#include "swap/swap.h"

static int __init memvirt_init(void)
{
	int err;

	/* The budget defaults to all of RAM (whole MiB, as budget_mb shows it). */
	memvirt.budget_pages = round_down(totalram_pages(), 1UL << (20 - PAGE_SHIFT));
	err = memvirt_zero_frames_init();
	if (err)
		return err;
	err = memvirt_vm_init();
	if (err)
		goto out_free_zero_frames;
	err = memvirt_dedup_init();
	if (err)
		goto out_destroy_workqueue;
	err = memvirt_swap_init();
	if (err)
		goto out_stop_dedup;
	err = memvirt_policy_init();
	if (err)
		goto out_stop_swap;
	err = memvirt_sysfs_init();
	if (err)
		goto out_stop_policy;
	memvirt_debugfs_init();
	err = memvirt_fs_register();
	if (err)
		goto out_remove_controls;
	pr_info("ready: budget %llu MiB, overcommit_ratio %u%%, max_vms %u\n",
		memvirt.budget_pages >> (20 - PAGE_SHIFT), memvirt.overcommit_ratio,
		memvirt.max_vms);
	return 0;

out_remove_controls:
	memvirt_debugfs_exit();
	memvirt_sysfs_exit();
out_stop_policy:
	memvirt_policy_exit();
out_stop_swap:
	memvirt_swap_exit();
out_stop_dedup:
	memvirt_dedup_exit();
out_destroy_workqueue:
	memvirt_vm_exit();
out_free_zero_frames:
	memvirt_zero_frames_exit();
	return err;
}

static void __exit memvirt_exit(void)
{
	memvirt_fs_unregister();
	/* Background work may hold the last reference of an unmounted VM. */
	memvirt_vm_exit();
	memvirt_debugfs_exit();
	memvirt_sysfs_exit();
	memvirt_policy_exit();
	memvirt_swap_exit();
	memvirt_dedup_exit();
	memvirt_zero_frames_exit();
}

module_init(memvirt_init);
module_exit(memvirt_exit);

MODULE_DESCRIPTION("memvirt: memory virtualization and overcommit for KVM guests");
MODULE_LICENSE("GPL");
MODULE_VERSION(MEMVIRT_VERSION);
