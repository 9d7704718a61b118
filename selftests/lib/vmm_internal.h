/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmm_internal.h - the VM and vCPU structs shared by vmm.c (setup) and
 * vmm_run.c (vCPU threads). Tests use the opaque API of vmm.h only.
 */
#ifndef VMM_INTERNAL_H
#define VMM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>

#include "vmm.h"

/**
 * struct vcpu - one vCPU.
 * @vm:		its VM.
 * @idx:	index, also its KVM vcpu id.
 * @fd:		KVM vcpu fd.
 * @run:	the shared struct kvm_run, @run_size bytes mapped.
 * @thread:	the thread running it during vm_run().
 * @armed:	vcpu_prepare() set @regs for the next vm_run().
 * @stop:	set by vm_run() on timeout; read by the vCPU thread.
 * @regs:	registers of the next run.
 * @hook:	vcpu_set_hook()'s function for the next run, or NULL.
 * @hook_arg:	its argument.
 * @res:	result of the last run, written only by its thread.
 */
struct vcpu {
	struct vm *vm;
	int idx;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool armed;
	int stop;
	struct kvm_regs regs;
	vcpu_thread_hook hook;
	void *hook_arg;
	struct vcpu_result res;
};

/**
 * struct vm - one VM.
 * @kvm_fd:	/dev/kvm.
 * @fd:		KVM VM fd.
 * @mem:	host mapping of guest RAM, @size bytes.
 * @entry:	gpa of the guest image's _start.
 * @timeout_s:	timeout of the current vm_run(), for messages.
 */
struct vm {
	int kvm_fd;
	int fd;
	u8 *mem;
	u64 size;
	u64 entry;
	unsigned int timeout_s;
	int nr_vcpus;
	struct vcpu vcpu[VMM_MAX_VCPUS];
};

/* Print "vmm: <msg>" to stderr. */
void vmm_err(const char *fmt, ...);
/* The vCPU thread of vm_run(), in vmm_run.c. */
void *vmm_vcpu_thread(void *arg);

#endif /* VMM_INTERNAL_H */
