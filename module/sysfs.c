// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs: /sys/kernel/memvirt/ (host-wide knobs and totals) and
 * /sys/kernel/memvirt/vms/<id>/ (one directory per VM).
 *
 * Every store parses with kstrto*(), checks its range (-EINVAL) and needs
 * CAP_SYS_ADMIN (-EPERM). Units are in the names: *_mb are MiB, *_pages and
 * counters are 4 KiB pages or events, size and *_bytes are bytes.
 * Documentation/admin-guide.rst describes every file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "module/memvirt.h"

#define MB_SHIFT	(20 - PAGE_SHIFT)	/* MiB <-> pages */

static struct kobject *memvirt_kobj;
static struct kobject *memvirt_vms_kobj;

/* A decimal number; anything else, overflow included, is -EINVAL. */
static int memvirt_parse_u64(const char *buf, u64 *val)
{
	return kstrtou64(buf, 10, val) ? -EINVAL : 0;
}

/* Parse a MiB count into pages; "max" gives U64_MAX if @allow_max. */
static int memvirt_parse_mb(const char *buf, bool allow_max, u64 *pages)
{
	u64 mb;
	int err;

	if (allow_max && sysfs_streq(buf, "max")) {
		*pages = U64_MAX;
		return 0;
	}
	err = memvirt_parse_u64(buf, &mb);
	if (err)
		return err;
	if (mb > (U64_MAX >> 20))
		return -EINVAL;
	*pages = mb << MB_SHIFT;
	return 0;
}

static ssize_t memvirt_show_mb(char *buf, u64 pages)
{
	if (pages == U64_MAX)
		return sysfs_emit(buf, "max\n");
	return sysfs_emit(buf, "%llu\n", pages >> MB_SHIFT);
}

/* Host-wide attributes. */

static ssize_t budget_mb_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return memvirt_show_mb(buf, READ_ONCE(memvirt.budget_pages));
}

static ssize_t budget_mb_store(struct kobject *kobj, struct kobj_attribute *attr,
			       const char *buf, size_t count)
{
	u64 pages;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = memvirt_parse_mb(buf, false, &pages);
	if (err)
		return err;
	if (!pages || pages > totalram_pages())
		return -EINVAL;
	err = memvirt_vm_set_budget(pages);
	return err ? err : count;
}

static ssize_t overcommit_ratio_show(struct kobject *kobj, struct kobj_attribute *attr,
				     char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(memvirt.overcommit_ratio));
}

static ssize_t overcommit_ratio_store(struct kobject *kobj, struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	u64 ratio;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = memvirt_parse_u64(buf, &ratio);
	if (err)
		return err;
	if (ratio < MEMVIRT_RATIO_MIN || ratio > MEMVIRT_RATIO_MAX)
		return -EINVAL;
	mutex_lock(&memvirt_commit_lock);
	memvirt.overcommit_ratio = ratio;
	mutex_unlock(&memvirt_commit_lock);
	return count;
}

static ssize_t committed_mb_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", DIV_ROUND_UP_ULL(READ_ONCE(memvirt.committed), SZ_1M));
}

static ssize_t resident_pages_show(struct kobject *kobj, struct kobj_attribute *attr,
				   char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&memvirt.resident));
}

static ssize_t nr_vms_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&memvirt.nr_vms));
}

static ssize_t p2m_bytes_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", memvirt_vm_p2m_bytes());
}

static struct kobj_attribute memvirt_attr_budget_mb = __ATTR_RW(budget_mb);
static struct kobj_attribute memvirt_attr_overcommit_ratio = __ATTR_RW(overcommit_ratio);
static struct kobj_attribute memvirt_attr_committed_mb = __ATTR_RO(committed_mb);
static struct kobj_attribute memvirt_attr_resident_pages = __ATTR_RO(resident_pages);
static struct kobj_attribute memvirt_attr_nr_vms = __ATTR_RO(nr_vms);
static struct kobj_attribute memvirt_attr_p2m_bytes = __ATTR_RO(p2m_bytes);

static struct attribute *memvirt_attrs[] = {
	&memvirt_attr_budget_mb.attr,
	&memvirt_attr_overcommit_ratio.attr,
	&memvirt_attr_committed_mb.attr,
	&memvirt_attr_resident_pages.attr,
	&memvirt_attr_nr_vms.attr,
	&memvirt_attr_p2m_bytes.attr,
	NULL
};

static const struct attribute_group memvirt_attr_group = {
	.attrs = memvirt_attrs,
};

/* Per-VM attributes. */

struct memvirt_vm_attribute {
	struct attribute attr;
	ssize_t (*show)(struct memvirt_vm *vm, char *buf);
	ssize_t (*store)(struct memvirt_vm *vm, const char *buf, size_t count);
};

#define to_vm(k)	container_of(k, struct memvirt_vm, kobj)
#define to_vm_attr(a)	container_of(a, struct memvirt_vm_attribute, attr)

static ssize_t memvirt_vm_attr_show(struct kobject *kobj, struct attribute *attr, char *buf)
{
	return to_vm_attr(attr)->show(to_vm(kobj), buf);
}

static ssize_t memvirt_vm_attr_store(struct kobject *kobj, struct attribute *attr,
				     const char *buf, size_t count)
{
	struct memvirt_vm_attribute *a = to_vm_attr(attr);

	if (!a->store)
		return -EIO;
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return a->store(to_vm(kobj), buf, count);
}

static const struct sysfs_ops memvirt_vm_sysfs_ops = {
	.show	= memvirt_vm_attr_show,
	.store	= memvirt_vm_attr_store,
};

#define MEMVIRT_VM_ATTR_RO(_name)					\
	static struct memvirt_vm_attribute memvirt_vm_attr_##_name =	\
		__ATTR(_name, 0444, vm_##_name##_show, NULL)
#define MEMVIRT_VM_ATTR_RW(_name)					\
	static struct memvirt_vm_attribute memvirt_vm_attr_##_name =	\
		__ATTR(_name, 0644, vm_##_name##_show, vm_##_name##_store)
static ssize_t vm_counter_show(char *buf, atomic_long_t *counter)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(counter));
}

static ssize_t vm_resident_show(struct memvirt_vm *vm, char *buf)
{
	return vm_counter_show(buf, &vm->stats.resident);
}
MEMVIRT_VM_ATTR_RO(resident);

static ssize_t vm_faults_show(struct memvirt_vm *vm, char *buf)
{
	return vm_counter_show(buf, &vm->stats.faults);
}
MEMVIRT_VM_ATTR_RO(faults);

static ssize_t vm_punched_show(struct memvirt_vm *vm, char *buf)
{
	return vm_counter_show(buf, &vm->stats.punched);
}
MEMVIRT_VM_ATTR_RO(punched);

static ssize_t vm_mkwrite_show(struct memvirt_vm *vm, char *buf)
{
	return vm_counter_show(buf, &vm->stats.mkwrite);
}
MEMVIRT_VM_ATTR_RO(mkwrite);

static ssize_t vm_name_show(struct memvirt_vm *vm, char *buf)
{
	return sysfs_emit(buf, "%s\n", vm->name);
}
MEMVIRT_VM_ATTR_RO(name);

static ssize_t vm_size_show(struct memvirt_vm *vm, char *buf)
{
	return sysfs_emit(buf, "%lld\n", i_size_read(vm->mapping->host));
}
MEMVIRT_VM_ATTR_RO(size);

static ssize_t vm_zero_show(struct memvirt_vm *vm, char *buf)
{
	return sysfs_emit(buf, "%llu\n", memvirt_vm_zero_pages(vm));
}
MEMVIRT_VM_ATTR_RO(zero);

static ssize_t vm_p2m_bytes_show(struct memvirt_vm *vm, char *buf)
{
	return sysfs_emit(buf, "%lu\n", memvirt_p2m_overhead_bytes(&vm->p2m));
}
MEMVIRT_VM_ATTR_RO(p2m_bytes);

static ssize_t vm_shares_show(struct memvirt_vm *vm, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(vm->shares));
}

static ssize_t vm_shares_store(struct memvirt_vm *vm, const char *buf, size_t count)
{
	u64 shares;
	int err;

	err = memvirt_parse_u64(buf, &shares);
	if (!err)
		err = memvirt_vm_set_policy(vm, MEMVIRT_POLICY_SHARES, shares, 0, 0);
	return err ? err : count;
}
MEMVIRT_VM_ATTR_RW(shares);

static ssize_t vm_reservation_mb_show(struct memvirt_vm *vm, char *buf)
{
	return memvirt_show_mb(buf, READ_ONCE(vm->reservation_pages));
}

static ssize_t vm_reservation_mb_store(struct memvirt_vm *vm, const char *buf, size_t count)
{
	u64 pages;
	int err;

	err = memvirt_parse_mb(buf, false, &pages);
	if (!err)
		err = memvirt_vm_set_policy(vm, MEMVIRT_POLICY_RESERVATION, 0, pages, 0);
	return err ? err : count;
}
MEMVIRT_VM_ATTR_RW(reservation_mb);

static ssize_t vm_limit_mb_show(struct memvirt_vm *vm, char *buf)
{
	return memvirt_show_mb(buf, READ_ONCE(vm->limit_pages));
}

static ssize_t vm_limit_mb_store(struct memvirt_vm *vm, const char *buf, size_t count)
{
	u64 pages;
	int err;

	err = memvirt_parse_mb(buf, true, &pages);
	if (!err)
		err = memvirt_vm_set_policy(vm, MEMVIRT_POLICY_LIMIT, 0, 0, pages);
	return err ? err : count;
}
MEMVIRT_VM_ATTR_RW(limit_mb);

static struct attribute *memvirt_vm_attrs[] = {
	&memvirt_vm_attr_name.attr,
	&memvirt_vm_attr_size.attr,
	&memvirt_vm_attr_resident.attr,
	&memvirt_vm_attr_zero.attr,
	&memvirt_vm_attr_faults.attr,
	&memvirt_vm_attr_punched.attr,
	&memvirt_vm_attr_mkwrite.attr,
	&memvirt_vm_attr_p2m_bytes.attr,
	&memvirt_vm_attr_shares.attr,
	&memvirt_vm_attr_reservation_mb.attr,
	&memvirt_vm_attr_limit_mb.attr,
	NULL
};
ATTRIBUTE_GROUPS(memvirt_vm);

static void memvirt_vm_kobj_release(struct kobject *kobj)
{
	memvirt_vm_free(to_vm(kobj));
}

static const struct kobj_type memvirt_vm_ktype = {
	.sysfs_ops	= &memvirt_vm_sysfs_ops,
	.default_groups	= memvirt_vm_groups,
	.release	= memvirt_vm_kobj_release,
};

/*
 * Adds /sys/kernel/memvirt/vms/<id>. On failure the VM is freed by its
 * kobject's release.
 */
int memvirt_sysfs_add_vm(struct memvirt_vm *vm)
{
	int err;

	err = kobject_init_and_add(&vm->kobj, &memvirt_vm_ktype, memvirt_vms_kobj,
				   "%llu", vm->id);
	if (err)
		kobject_put(&vm->kobj);
	return err;
}

int memvirt_sysfs_init(void)
{
	int err;

	memvirt_kobj = kobject_create_and_add("memvirt", kernel_kobj);
	if (!memvirt_kobj)
		return -ENOMEM;
	err = sysfs_create_group(memvirt_kobj, &memvirt_attr_group);
	if (err)
		goto out_put_memvirt;
	memvirt_vms_kobj = kobject_create_and_add("vms", memvirt_kobj);
	if (!memvirt_vms_kobj) {
		err = -ENOMEM;
		goto out_remove_group;
	}
	return 0;

out_remove_group:
	sysfs_remove_group(memvirt_kobj, &memvirt_attr_group);
out_put_memvirt:
	kobject_put(memvirt_kobj);
	return err;
}

void memvirt_sysfs_exit(void)
{
	kobject_put(memvirt_vms_kobj);
	sysfs_remove_group(memvirt_kobj, &memvirt_attr_group);
	kobject_put(memvirt_kobj);
}
