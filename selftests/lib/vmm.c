// SPDX-License-Identifier: GPL-2.0
/*
 * vmm.c - test VMM setup: VM, guest RAM, long-mode CPU state, vCPUs.
 *
 * vm_create() maps the caller's fd, registers the mapping as memory slot 0
 * at guest-physical 0, writes the reserved first MiB (guest image, GDT,
 * TSS, IDT, identity-map page tables; see guest_abi.h) through that same
 * mapping, and creates vCPUs already in 64-bit mode: no real-mode
 * trampoline, the state goes in with KVM_SET_SREGS. The GDT and IDT in
 * memory match the cached segment state, so the guest could reload them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm_internal.h"

/* The guest image, embedded by guest_image.S. */
extern const u8 vmm_guest_image[], vmm_guest_image_end[];

#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_ET	(1ULL << 4)
#define X86_CR0_NE	(1ULL << 5)
#define X86_CR0_WP	(1ULL << 16)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_PS		(1ULL << 7)

/* GDT descriptors matching seg_code64() and seg_data(). */
#define GDT_CODE64	0x00af9b000000ffffULL
#define GDT_DATA	0x00cf93000000ffffULL
#define GDT_ENTRIES	5	/* null, code, data, 16-byte TSS */
#define TSS_LIMIT	0x67
#define SEG_TYPE_TSS64_BUSY	11
#define IDT_GATE_INTR	0x8e	/* present, DPL 0, 64-bit interrupt gate */

#define KVM_API_VERSION_EXPECTED 12

void vmm_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vmm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

u64 vmm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int vmm_kvm_available(char *reason, size_t len)
{
	int kvm, vm, err = 0;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		err = -errno;
		snprintf(reason, len, "cannot open /dev/kvm: %s", strerror(errno));
		return err;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		err = -errno;
		snprintf(reason, len, "KVM_CREATE_VM: %s", strerror(errno));
	} else {
		close(vm);
	}
	close(kvm);
	return err;
}

void *vm_mem(struct vm *vm)
{
	return vm->mem;
}

u64 vm_size(struct vm *vm)
{
	return vm->size;
}

int vm_nr_vcpus(struct vm *vm)
{
	return vm->nr_vcpus;
}

void *vm_hva(struct vm *vm, u64 gpa)
{
	if (gpa >= vm->size) {
		vmm_err("gpa 0x%llx outside guest RAM (0x%llx bytes)", gpa,
			vm->size);
		return NULL;
	}
	return vm->mem + gpa;
}

u64 vm_tsc_khz(struct vm *vm)
{
	int khz = ioctl(vm->vcpu[0].fd, KVM_GET_TSC_KHZ, 0);

	return khz > 0 ? (u64)khz : 0;
}

/* Copy the embedded image to VMM_CODE_GPA and check its header. */
static int load_image(struct vm *vm)
{
	size_t len = vmm_guest_image_end - vmm_guest_image;
	const struct vmm_image_header *h = (const void *)vmm_guest_image;
	u64 stub_end;

	if (len < sizeof(*h) || h->magic != VMM_IMAGE_MAGIC) {
		vmm_err("embedded guest image has no valid header");
		return -ENOEXEC;
	}
	stub_end = h->exc_stubs + VMM_EXC_VECTORS * h->exc_stub_size;
	if (h->end > VMM_CODE_END || VMM_CODE_GPA + len > h->end ||
	    h->entry >= h->end || stub_end > h->end) {
		vmm_err("guest image does not fit [0x%llx, 0x%llx)",
			VMM_CODE_GPA, VMM_CODE_END);
		return -E2BIG;
	}
	memcpy(vm->mem + VMM_CODE_GPA, vmm_guest_image, len);
	memset(vm->mem + VMM_CODE_GPA + len, 0, h->end - VMM_CODE_GPA - len);
	vm->entry = h->entry;
	return 0;
}

/* GDT: null, 64-bit code, data, then the 16-byte busy TSS descriptor. */
static void write_gdt(struct vm *vm)
{
	u64 *gdt = (u64 *)(vm->mem + VMM_GDT_GPA);
	u64 base = VMM_TSS_GPA;

	gdt[0] = 0;
	gdt[VMM_CODE_SEL / 8] = GDT_CODE64;
	gdt[VMM_DATA_SEL / 8] = GDT_DATA;
	gdt[VMM_TSS_SEL / 8] = TSS_LIMIT | (base & 0xffffff) << 16 |
			       (u64)(0x80 | SEG_TYPE_TSS64_BUSY) << 40 |
			       (base >> 24 & 0xff) << 56;
	gdt[VMM_TSS_SEL / 8 + 1] = base >> 32;
	memset(vm->mem + VMM_TSS_GPA, 0, TSS_LIMIT + 1);
}

/* IDT: vectors 0-31 go to the image's exception stubs. */
static void write_idt(struct vm *vm)
{
	const struct vmm_image_header *h = (const void *)vmm_guest_image;
	u64 *idt = (u64 *)(vm->mem + VMM_IDT_GPA);
	int v;

	for (v = 0; v < VMM_EXC_VECTORS; v++) {
		u64 off = h->exc_stubs + v * h->exc_stub_size;

		idt[2 * v] = (off & 0xffff) | (u64)VMM_CODE_SEL << 16 |
			     (u64)IDT_GATE_INTR << 40 |
			     (off >> 16 & 0xffff) << 48;
		idt[2 * v + 1] = off >> 32;
	}
}

/* Identity map of all RAM: PML4[0] -> PDPT -> one PD per GiB, 2 MiB pages. */
static void write_page_tables(struct vm *vm)
{
	u64 *pml4 = (u64 *)(vm->mem + VMM_PML4_GPA);
	u64 *pdpt = (u64 *)(vm->mem + VMM_PDPT_GPA);
	u64 *pd = (u64 *)(vm->mem + VMM_PD_GPA);
	u64 gib = (vm->size + (1ULL << 30) - 1) >> 30, i;

	memset(pml4, 0, VMM_PAGE_SIZE);
	memset(pdpt, 0, VMM_PAGE_SIZE);
	memset(pd, 0, gib * VMM_PAGE_SIZE);
	pml4[0] = VMM_PDPT_GPA | PTE_P | PTE_RW;
	for (i = 0; i < gib; i++)
		pdpt[i] = (VMM_PD_GPA + i * VMM_PAGE_SIZE) | PTE_P | PTE_RW;
	for (i = 0; i < vm->size / VMM_HUGE_SIZE; i++)
		pd[i] = i * VMM_HUGE_SIZE | PTE_P | PTE_RW | PTE_PS;
}

static void seg_code64(struct kvm_segment *s)
{
	*s = (struct kvm_segment){
		.limit = 0xffffffff, .selector = VMM_CODE_SEL, .type = 11,
		.present = 1, .s = 1, .l = 1, .g = 1,
	};
}

static void seg_data(struct kvm_segment *s)
{
	*s = (struct kvm_segment){
		.limit = 0xffffffff, .selector = VMM_DATA_SEL, .type = 3,
		.present = 1, .db = 1, .s = 1, .g = 1,
	};
}

static int setup_sregs(struct vcpu *v)
{
	struct kvm_sregs sr;

	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	seg_code64(&sr.cs);
	seg_data(&sr.ds);
	seg_data(&sr.es);
	seg_data(&sr.fs);
	seg_data(&sr.gs);
	seg_data(&sr.ss);
	sr.tr = (struct kvm_segment){
		.base = VMM_TSS_GPA, .limit = TSS_LIMIT, .selector = VMM_TSS_SEL,
		.type = SEG_TYPE_TSS64_BUSY, .present = 1,
	};
	sr.ldt = (struct kvm_segment){ .type = 2, .unusable = 1 };
	sr.gdt.base = VMM_GDT_GPA;
	sr.gdt.limit = GDT_ENTRIES * 8 - 1;
	sr.idt.base = VMM_IDT_GPA;
	sr.idt.limit = VMM_EXC_VECTORS * 16 - 1;
	sr.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	sr.cr3 = VMM_PML4_GPA;
	sr.cr4 = X86_CR4_PAE;
	sr.efer = EFER_LME | EFER_LMA;
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	return 0;
}

/* KVM's supported CPUID (needed for long mode: KVM checks CPUID.LM). */
static struct kvm_cpuid2 *get_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c = NULL;
	int n = 64;

	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		if (errno != E2BIG) {
			vmm_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
			free(c);
			return NULL;
		}
		n *= 2;
	}
}

static int create_vcpu(struct vm *vm, int idx, struct kvm_cpuid2 *cpuid)
{
	struct vcpu *v = &vm->vcpu[idx];
	int mmap_size, err;

	v->vm = vm;
	v->idx = idx;
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, idx);
	if (v->fd < 0) {
		err = -errno;
		vmm_err("KVM_CREATE_VCPU %d: %s", idx, strerror(errno));
		return err;
	}
	mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*v->run))
		return -EINVAL;
	v->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		err = -errno;
		v->run = NULL;
		vmm_err("mmap of kvm_run for vcpu %d: %s", idx, strerror(errno));
		return err;
	}
	v->run_size = mmap_size;
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0) {
		err = -errno;
		vmm_err("KVM_SET_CPUID2 on vcpu %d: %s", idx, strerror(errno));
		return err;
	}
	err = setup_sregs(v);
	if (err)
		vmm_err("KVM_SET_SREGS (long mode) on vcpu %d: %s", idx,
			strerror(-err));
	return err;
}

static void kick_handler(int sig)
{
}

/* SIGUSR1 only interrupts KVM_RUN (vm_run()'s timeout); no SA_RESTART. */
static int install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL) ? -errno : 0;
}

static int map_memory(struct vm *vm, int fd)
{
	struct kvm_userspace_memory_region region;
	int err;

	if (fd >= 0)
		vm->mem = mmap(NULL, vm->size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);
	else
		vm->mem = mmap(NULL, vm->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED) {
		err = -errno;
		vm->mem = NULL;
		vmm_err("mmap of %llu bytes of guest RAM (fd %d): %s",
			vm->size, fd, strerror(-err));
		return err;
	}
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = vm->size,
		.userspace_addr = (unsigned long)vm->mem,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		err = -errno;
		vmm_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(-err));
		return err;
	}
	return 0;
}

static int check_args(u64 size, int nr_vcpus)
{
	if (!size || size % VMM_HUGE_SIZE || size > (u64)VMM_MAX_GIB << 30) {
		vmm_err("guest RAM size 0x%llx: want a multiple of 2 MiB up to %d GiB",
			size, VMM_MAX_GIB);
		return -EINVAL;
	}
	if (nr_vcpus < 1 || nr_vcpus > VMM_MAX_VCPUS) {
		vmm_err("%d vCPUs: want 1..%d", nr_vcpus, VMM_MAX_VCPUS);
		return -EINVAL;
	}
	return 0;
}

static int open_kvm(struct vm *vm)
{
	int err;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		err = -errno;
		vmm_err("open /dev/kvm: %s", strerror(-err));
		return err;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION_EXPECTED) {
		vmm_err("unexpected KVM API version");
		return -EINVAL;
	}
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		err = -errno;
		vmm_err("KVM_CREATE_VM: %s", strerror(-err));
		return err;
	}
	return 0;
}

static int create_vcpus(struct vm *vm, int nr_vcpus)
{
	struct kvm_cpuid2 *cpuid = get_cpuid(vm->kvm_fd);
	int i, err = 0;

	if (!cpuid)
		return -ENOMEM;
	for (i = 0; i < nr_vcpus && !err; i++) {
		err = create_vcpu(vm, i, cpuid);
		vm->nr_vcpus = i + 1;	/* so vm_destroy() frees it */
	}
	free(cpuid);
	return err;
}

struct vm *vm_create(int fd, u64 size, int nr_vcpus)
{
	struct vm *vm;

	if (check_args(size, nr_vcpus) || install_kick_handler())
		return NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->kvm_fd = -1;
	vm->fd = -1;
	vm->size = size;
	if (open_kvm(vm) || map_memory(vm, fd) || load_image(vm))
		goto out_destroy;
	write_gdt(vm);
	write_idt(vm);
	write_page_tables(vm);
	if (create_vcpus(vm, nr_vcpus))
		goto out_destroy;
	return vm;

out_destroy:
	vm_destroy(vm);
	return NULL;
}

void vm_destroy(struct vm *vm)
{
	int i;

	if (!vm)
		return;
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpu[i];

		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->mem)
		munmap(vm->mem, vm->size);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm);
}
