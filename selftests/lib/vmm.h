/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmm.h - the memvirt test VMM: small KVM VMs whose RAM comes from any fd.
 *
 * A VM has one memory slot at guest-physical 0, backed by a mapping of a
 * file (a memvirtfs file or a memfd, MAP_SHARED) or of anonymous memory
 * (fd -1, MAP_PRIVATE | MAP_ANONYMOUS). Its vCPUs run in 64-bit mode on an
 * identity map of all RAM and execute one of the built-in guest programs
 * (enum vmm_prog in guest_abi.h, code in guest/progs.c) per run:
 *
 *	vm = vm_create(fd, 64 << 20, 4);
 *	vcpu_prepare(vm, 0, VMM_PROG_FILL, VMM_FREE_GPA, vm_size(vm), seed);
 *	if (vm_run(vm, 60) == 0)	// all prepared vCPUs said DONE
 *		pages = vcpu_result(vm, 0)->report[VMM_REPORT_PAGES];
 *
 * Guest RAM below VMM_FREE_GPA (1 MiB) is reserved for the VMM's page
 * tables, GDT, IDT, the guest image and the vCPU stacks (layout in
 * guest_abi.h); everything from VMM_FREE_GPA to the end is free for tests
 * and is never touched by the VMM, so its first access is the guest's.
 *
 * Each vm_run() starts one thread per prepared vCPU, each looping on
 * KVM_RUN and serving hypercalls (print, report, done, fail, exception),
 * and joins them; a vCPU still running when the timeout expires is kicked
 * out of KVM_RUN with SIGUSR1 and ends as VCPU_TIMEOUT. A vCPU keeps its
 * nested page tables across runs: only its registers are reset.
 *
 * Errors: functions print "vmm: ..." with the failing call and errno to
 * stderr and return NULL or -errno. The library is not thread-safe per VM:
 * one thread drives a VM at a time.
 */
#ifndef VMM_H
#define VMM_H

#include <stdbool.h>
#include <stddef.h>

#include "guest_abi.h"

struct vm;

enum vcpu_outcome {
	VCPU_IDLE,	/* not run since the last vcpu_prepare() */
	VCPU_DONE,	/* the program finished (VMM_HC_DONE) */
	VCPU_FAIL,	/* GUEST_ASSERT failed or the guest took an exception */
	VCPU_TIMEOUT,	/* still running when vm_run()'s timeout expired */
	VCPU_ERROR,	/* unexpected VM exit or a failed KVM ioctl */
};

/**
 * struct vcpu_result - outcome of a vCPU's last run.
 * @outcome:	how it ended.
 * @msg:	for anything but VCPU_DONE: what happened, for humans.
 * @report:	values the program reported, indexed by enum vmm_report.
 * @reported:	bit (1 << key) set for each key the program reported.
 * @wall_ns:	host wall-clock time from its first KVM_RUN to the end.
 * @run_errno:	VCPU_ERROR from a failed KVM_RUN: its errno; else 0.
 */
struct vcpu_result {
	enum vcpu_outcome outcome;
	char msg[256];
	u64 report[VMM_NR_REPORTS];
	u32 reported;
	u64 wall_ns;
	int run_errno;
};

/*
 * A function a test runs in a vCPU's own thread (e.g. to set per-thread
 * state such as /proc/thread-self/make-it-fail) before its first KVM_RUN.
 * A non-zero return (-errno) ends the run as VCPU_ERROR without running
 * the guest.
 */
typedef int (*vcpu_thread_hook)(struct vm *vm, int idx, void *arg);

/* 0 if /dev/kvm can create VMs; else -errno and a reason for a skip. */
int vmm_kvm_available(char *reason, size_t len);

/*
 * The main() of a kselftest program on KVM (after kselftest_harness.h, in
 * place of TEST_HARNESS_MAIN): without KVM, every test is skipped, with why.
 */
#define VMM_TEST_HARNESS_MAIN						\
int main(int argc, char **argv)						\
{									\
	char reason[256];						\
									\
	if (vmm_kvm_available(reason, sizeof(reason))) {		\
		ksft_print_header();					\
		ksft_exit_skip("%s\n", reason);				\
	}								\
	return test_harness_run(argc, argv);				\
}

/*
 * vm_create - a VM with @size bytes of RAM from @fd (-1: anonymous) and
 * @nr_vcpus vCPUs (1..VMM_MAX_VCPUS) ready to run a program. @size must be
 * a multiple of 2 MiB, at least 2 MiB and at most VMM_MAX_GIB GiB; a file
 * must already be that large. The caller keeps ownership of @fd.
 */
struct vm *vm_create(int fd, u64 size, int nr_vcpus);
void vm_destroy(struct vm *vm);

/* The host mapping of guest RAM: guest-physical @gpa is vm_mem(vm) + gpa. */
void *vm_mem(struct vm *vm);
u64 vm_size(struct vm *vm);
int vm_nr_vcpus(struct vm *vm);
/* Host pointer to @gpa, or NULL (with a message) if outside guest RAM. */
void *vm_hva(struct vm *vm, u64 gpa);
/* Guest TSC frequency in kHz (KVM_GET_TSC_KHZ), or 0 if unknown. */
u64 vm_tsc_khz(struct vm *vm);

/*
 * vcpu_prepare - arm vCPU @idx to run @prog on [@start, @end) (page-aligned
 * guest-physical bytes inside RAM) with @param at the next vm_run().
 */
int vcpu_prepare(struct vm *vm, int idx, enum vmm_prog prog,
		 u64 start, u64 end, u64 param);
/*
 * vcpu_set_hook - run @fn(@vm, @idx, @arg) in vCPU @idx's thread before
 * its first KVM_RUN of the next vm_run() only (vm_run() clears it). Each
 * vm_run() starts fresh threads, so per-thread state set by the hook does
 * not outlive that run.
 */
int vcpu_set_hook(struct vm *vm, int idx, vcpu_thread_hook fn, void *arg);
/*
 * vm_run - run every prepared vCPU to completion, each in its own thread,
 * for at most @timeout_s seconds. Returns how many did not end VCPU_DONE
 * (their results are also printed to stderr), or -errno if none could run.
 */
int vm_run(struct vm *vm, unsigned int timeout_s);
/* vcpu_prepare() + vm_run() for one vCPU. */
int vm_run_one(struct vm *vm, int idx, enum vmm_prog prog, u64 start,
	       u64 end, u64 param, unsigned int timeout_s);

const struct vcpu_result *vcpu_result(struct vm *vm, int idx);
/* A reported value, or @dflt if the program did not report @key. */
u64 vcpu_report(struct vm *vm, int idx, enum vmm_report key, u64 dflt);
const char *vcpu_outcome_name(enum vcpu_outcome o);

/*
 * Host-side pattern helpers (same vmm_pattern() as the guest). @buf holds
 * guest-physical bytes [@gpa, @gpa + @len); all page-aligned.
 */
void vmm_fill_pattern(void *buf, u64 gpa, u64 len, u64 seed);
/* Number of mismatching words; the first one's gfn in *@bad_gfn. */
u64 vmm_check_pattern(const void *buf, u64 gpa, u64 len, u64 seed,
		      u64 *bad_gfn);

/* Monotonic clock in ns. */
u64 vmm_now_ns(void);

#endif /* VMM_H */
