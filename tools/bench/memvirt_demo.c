// SPDX-License-Identifier: GPL-2.0
/*
 * memvirt_demo: what `make run` shows. Two KVM guests run with their RAM in
 * memvirtfs files: vm0 fills and verifies all of its free RAM with two
 * vCPUs; vm1 touches half of its RAM, then the host gives 64 pages back with
 * fallocate(PUNCH_HOLE) (as QEMU's balloon does) and the guest reads them as
 * zero. Then both join sharing domain 1, vm1 writes what vm0 holds in its
 * first DEMO_SHARED_MIB, one sharing pass per VM (MEMVIRT_RECLAIM_SHARE)
 * merges those pages into frames both VMs share, and both guests still
 * read their own data. Each guest's counters are then printed from sysfs.
 *
 * Usage: memvirt_demo [MOUNTPOINT]   (default /run/memvirt, mounted if needed)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/falloc.h>
#include "uapi/memvirt.h"

#include "backing.h"
#include "vmm.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define DEMO_RAM	(64ULL << 20)
#define DEMO_PUNCHED	64
#define DEMO_TIMEOUT	600
#define DEMO_SHARED_MIB	8
#define DEMO_SEED	0x5eed
#define DEMO_DOMAIN	1

struct demo_vm {
	const char *name;
	char path[256];
	int fd;
	struct vm *vm;
	u64 id;
};

static int demo_open(struct demo_vm *d, const char *mnt)
{
	struct memvirt_stats st = { .size = sizeof(st) };

	snprintf(d->path, sizeof(d->path), "%s/%s", mnt, d->name);
	d->fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (d->fd < 0 || ftruncate(d->fd, DEMO_RAM) ||
	    ioctl(d->fd, MEMVIRT_IOC_GET_STATS, &st)) {
		fprintf(stderr, "%s: %s\n", d->path, strerror(errno));
		return -1;
	}
	d->id = st.vm_id;
	d->vm = vm_create(d->fd, DEMO_RAM, 2);
	if (!d->vm)
		return -1;
	printf("%s: %llu MiB of guest RAM in %s (vm id %llu)\n", d->name,
	       DEMO_RAM >> 20, d->path, (unsigned long long)d->id);
	return 0;
}

/* vm0: two vCPUs fill and verify one half of free RAM each. */
static int demo_fill(struct demo_vm *d)
{
	u64 half = (DEMO_RAM - VMM_FREE_GPA) / 2;
	u64 pages = 0;
	int i;

	for (i = 0; i < 2; i++)
		vcpu_prepare(d->vm, i, VMM_PROG_FILL, VMM_FREE_GPA + i * half,
			     VMM_FREE_GPA + (i + 1) * half, DEMO_SEED);
	if (vm_run(d->vm, DEMO_TIMEOUT))
		return -1;
	for (i = 0; i < 2; i++) {
		if (vcpu_report(d->vm, i, VMM_REPORT_MISMATCHES, 1))
			return -1;
		pages += vcpu_report(d->vm, i, VMM_REPORT_PAGES, 0);
	}
	printf("%s: guest wrote and verified %llu pages\n", d->name,
	       (unsigned long long)pages);
	return 0;
}

/* vm1: fill half, punch DEMO_PUNCHED pages, the guest must read zeros. */
static int demo_balloon(struct demo_vm *d)
{
	u64 end = VMM_FREE_GPA + (DEMO_RAM - VMM_FREE_GPA) / 2;
	u64 punch = VMM_FREE_GPA, nonzero = 0, gpa;

	if (vm_run_one(d->vm, 0, VMM_PROG_FILL, VMM_FREE_GPA, end, 0xba11, DEMO_TIMEOUT))
		return -1;
	if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, punch,
		      DEMO_PUNCHED * VMM_PAGE_SIZE)) {
		perror("fallocate(PUNCH_HOLE)");
		return -1;
	}
	for (gpa = punch; gpa < punch + DEMO_PUNCHED * VMM_PAGE_SIZE; gpa += VMM_PAGE_SIZE) {
		if (vm_run_one(d->vm, 1, VMM_PROG_READ_PAGE, gpa, gpa + VMM_PAGE_SIZE, 0,
			       DEMO_TIMEOUT))
			return -1;
		nonzero += vcpu_report(d->vm, 1, VMM_REPORT_NONZERO, 1);
	}
	printf("%s: guest filled %llu MiB; host punched %d pages; guest reads %llu non-zero words there\n",
	       d->name, (unsigned long long)((end - VMM_FREE_GPA) >> 20), DEMO_PUNCHED,
	       (unsigned long long)nonzero);
	return nonzero ? -1 : 0;
}

/* @vm's guest reads [@start, @end) as vm0 wrote it: 0, or -1 and why. */
static int demo_verify(struct demo_vm *d, u64 start, u64 end)
{
	if (vm_run_one(d->vm, 0, VMM_PROG_VERIFY, start, end, DEMO_SEED, DEMO_TIMEOUT) ||
	    vcpu_report(d->vm, 0, VMM_REPORT_MISMATCHES, 1)) {
		fprintf(stderr, "%s: guest does not read its data after sharing\n", d->name);
		return -1;
	}
	return 0;
}

/*
 * Both VMs in one sharing domain; vm1 writes what vm0 holds in its first
 * DEMO_SHARED_MIB; a sharing pass over vm0 records hints, one over vm1
 * finds them and merges every page; both guests still read their data.
 */
static int demo_share(struct demo_vm *vms)
{
	struct memvirt_policy pol = {
		.size = sizeof(pol), .flags = MEMVIRT_POLICY_SHARING_DOMAIN,
		.sharing_domain = DEMO_DOMAIN,
	};
	u64 start = VMM_FREE_GPA, end = start + ((u64)DEMO_SHARED_MIB << 20);
	u64 gfn = start / VMM_PAGE_SIZE, nr = (end - start) / VMM_PAGE_SIZE;
	struct memvirt_reclaim r;
	int i;

	for (i = 0; i < 2; i++) {
		if (ioctl(vms[i].fd, MEMVIRT_IOC_SET_POLICY, &pol)) {
			perror("MEMVIRT_IOC_SET_POLICY (sharing domain)");
			return -1;
		}
	}
	if (vm_run_one(vms[1].vm, 0, VMM_PROG_FILL, start, end, DEMO_SEED, DEMO_TIMEOUT))
		return -1;
	for (i = 0; i < 2; i++) {
		if (memvirt_reclaim(vms[i].fd, MEMVIRT_RECLAIM_SHARE, gfn, nr, &r)) {
			perror("MEMVIRT_IOC_RECLAIM (share)");
			return -1;
		}
	}
	printf("vm0, vm1: sharing domain %d; vm1 wrote vm0's first %d MiB; a sharing pass over each merged %llu of vm1's %llu pages into frames both share\n",
	       DEMO_DOMAIN, DEMO_SHARED_MIB, (unsigned long long)r.merged,
	       (unsigned long long)nr);
	if (r.merged != nr)
		return -1;
	if (demo_verify(&vms[0], start, end) || demo_verify(&vms[1], start, end))
		return -1;
	printf("vm0, vm1: both guests still read their own data\n");
	return 0;
}

static void demo_counters(struct demo_vm *vms, int n)
{
	static const char *const names[] = {
		"size", "resident", "shared", "zero", "faults", "mkwrite", "punched",
		"p2m_bytes",
	};
	unsigned int c;
	u64 v;
	int i;

	printf("\n%-6s", "vm");
	for (c = 0; c < ARRAY_SIZE(names); c++)
		printf(" %12s", names[c]);
	printf("\n");
	for (i = 0; i < n; i++) {
		printf("%-6s", vms[i].name);
		for (c = 0; c < ARRAY_SIZE(names); c++) {
			if (memvirt_sysfs_read(vms[i].id, names[c], &v))
				printf(" %12s", "?");
			else
				printf(" %12llu", (unsigned long long)v);
		}
		printf("\n");
	}
	printf("(from /sys/kernel/memvirt/vms/<id>/: size in bytes, the rest in pages or events)\n");
}

int main(int argc, char **argv)
{
	struct demo_vm vms[2] = { { .name = "vm0" }, { .name = "vm1" } };
	const char *mnt = argc > 1 ? argv[1] : MEMVIRTFS_MOUNT;
	char reason[256];
	int i, err = 0;

	if (vmm_kvm_available(reason, sizeof(reason)) ||
	    memvirtfs_mount(reason, sizeof(reason))) {
		fprintf(stderr, "memvirt_demo: %s\n", reason);
		return 1;
	}
	for (i = 0; i < 2 && !err; i++)
		err = demo_open(&vms[i], mnt);
	if (!err)
		err = demo_fill(&vms[0]) || demo_balloon(&vms[1]) || demo_share(vms);
	if (!err)
		demo_counters(vms, 2);
	for (i = 0; i < 2; i++) {
		if (vms[i].vm)
			vm_destroy(vms[i].vm);
		if (vms[i].fd > 0) {
			close(vms[i].fd);
			unlink(vms[i].path);
		}
	}
	printf("%s\n", err ? "memvirt_demo: FAILED" : "memvirt_demo: ok");
	return err ? 1 : 0;
}
