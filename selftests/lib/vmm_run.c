// SPDX-License-Identifier: GPL-2.0
/*
 * vmm_run.c - running vCPUs: one thread per vCPU, hypercalls, timeouts.
 *
 * vm_run() sets each prepared vCPU's registers and starts a thread that
 * loops on KVM_RUN and serves the guest's port-I/O hypercalls until the
 * program says DONE or FAIL or something unexpected happens. Only that
 * thread writes the vCPU's result; vm_run() reads it after pthread_join().
 *
 * Timeout: past the deadline vm_run() sets the vCPU's stop flag and
 * kvm_run.immediate_exit, then sends SIGUSR1 (handled, no SA_RESTART) until
 * the thread ends. KVM_RUN returns -EINTR whether the signal arrives inside
 * it or before it (immediate_exit), and the thread sees the stop flag.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vmm_internal.h"

#define KICK_PERIOD_NS		(100 * 1000 * 1000)
#define GUEST_STR_MAX		200

static const char *const outcome_names[] = {
	[VCPU_IDLE] = "idle",
	[VCPU_DONE] = "done",
	[VCPU_FAIL] = "fail",
	[VCPU_TIMEOUT] = "timeout",
	[VCPU_ERROR] = "error",
};

static const char *const exc_names[VMM_EXC_VECTORS] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09",
	"#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
	"#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC",
	"#SX", "#31",
};

const char *vcpu_outcome_name(enum vcpu_outcome o)
{
	return o <= VCPU_ERROR ? outcome_names[o] : "?";
}

const struct vcpu_result *vcpu_result(struct vm *vm, int idx)
{
	return &vm->vcpu[idx].res;
}

u64 vcpu_report(struct vm *vm, int idx, enum vmm_report key, u64 dflt)
{
	const struct vcpu_result *r = &vm->vcpu[idx].res;

	if (key >= VMM_NR_REPORTS || !(r->reported & (1U << key)))
		return dflt;
	return r->report[key];
}

static void finish(struct vcpu *v, enum vcpu_outcome o, const char *fmt, ...)
{
	va_list ap;

	v->res.outcome = o;
	va_start(ap, fmt);
	vsnprintf(v->res.msg, sizeof(v->res.msg), fmt, ap);
	va_end(ap);
}

static u64 vcpu_rip(struct vcpu *v)
{
	struct kvm_regs regs;

	return ioctl(v->fd, KVM_GET_REGS, &regs) ? ~0ULL : regs.rip;
}

/* Copy the guest's NUL-terminated string at @gpa, truncated to fit @buf. */
static void guest_string(struct vm *vm, u64 gpa, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && gpa + i < vm->size; i++) {
		buf[i] = vm->mem[gpa + i];
		if (!buf[i])
			return;
	}
	buf[i] = '\0';
}

static void hc_print(struct vcpu *v, const struct vmm_hc *hc)
{
	char s[GUEST_STR_MAX];

	guest_string(v->vm, hc->arg[0], s, sizeof(s));
	if (hc->arg[2])
		fprintf(stderr, "# vcpu%d: %s 0x%llx\n", v->idx, s, hc->arg[1]);
	else
		fprintf(stderr, "# vcpu%d: %s\n", v->idx, s);
}

static bool hc_report(struct vcpu *v, const struct vmm_hc *hc)
{
	u64 key = hc->arg[0];

	if (key >= VMM_NR_REPORTS) {
		finish(v, VCPU_ERROR, "guest reported unknown key %llu", key);
		return true;
	}
	v->res.report[key] = hc->arg[1];
	v->res.reported |= 1U << key;
	return false;
}

static void hc_fail(struct vcpu *v, const struct vmm_hc *hc)
{
	char file[GUEST_STR_MAX / 2], expr[GUEST_STR_MAX / 2];

	guest_string(v->vm, hc->arg[0], file, sizeof(file));
	guest_string(v->vm, hc->arg[2], expr, sizeof(expr));
	if (hc->arg[5])
		finish(v, VCPU_FAIL, "GUEST_ASSERT %s:%llu: %s (0x%llx vs 0x%llx)",
		       file, hc->arg[1], expr, hc->arg[3], hc->arg[4]);
	else
		finish(v, VCPU_FAIL, "GUEST_ASSERT %s:%llu: %s", file,
		       hc->arg[1], expr);
}

static void hc_exception(struct vcpu *v, const struct vmm_hc *hc)
{
	u64 vec = hc->arg[0];

	finish(v, VCPU_FAIL,
	       "guest exception %s (vector %llu) at rip 0x%llx, error 0x%llx, cr2 0x%llx",
	       vec < VMM_EXC_VECTORS ? exc_names[vec] : "?", vec, hc->arg[2],
	       hc->arg[1], hc->arg[3]);
}

/* Serve one hypercall; true if the vCPU's run is over. */
static bool handle_hypercall(struct vcpu *v, const struct vmm_hc *hc)
{
	switch (hc->nr) {
	case VMM_HC_PRINT:
		hc_print(v, hc);
		return false;
	case VMM_HC_REPORT:
		return hc_report(v, hc);
	case VMM_HC_DONE:
		finish(v, VCPU_DONE, "done");
		return true;
	case VMM_HC_FAIL:
		hc_fail(v, hc);
		return true;
	case VMM_HC_EXCEPTION:
		hc_exception(v, hc);
		return true;
	}
	finish(v, VCPU_ERROR, "unknown hypercall %llu", hc->nr);
	return true;
}

static bool handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	u32 gpa;

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != VMM_HC_PORT ||
	    run->io.size != 4 || run->io.count != 1) {
		finish(v, VCPU_ERROR, "unexpected port I/O: %s port 0x%x size %u at rip 0x%llx",
		       run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
		       run->io.port, run->io.size, vcpu_rip(v));
		return true;
	}
	memcpy(&gpa, (u8 *)run + run->io.data_offset, sizeof(gpa));
	if (gpa + sizeof(struct vmm_hc) > v->vm->size) {
		finish(v, VCPU_ERROR, "hypercall block at bad gpa 0x%x", gpa);
		return true;
	}
	return handle_hypercall(v, (const struct vmm_hc *)(v->vm->mem + gpa));
}

/* Handle a VM exit; true if the vCPU's run is over. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return handle_io(v);
	case KVM_EXIT_SHUTDOWN:
		finish(v, VCPU_FAIL, "triple fault (KVM_EXIT_SHUTDOWN), rip 0x%llx",
		       vcpu_rip(v));
		return true;
	case KVM_EXIT_HLT:
		finish(v, VCPU_ERROR, "guest halted at rip 0x%llx", vcpu_rip(v));
		return true;
	case KVM_EXIT_MMIO:
		finish(v, VCPU_ERROR, "guest accessed gpa 0x%llx outside RAM at rip 0x%llx",
		       run->mmio.phys_addr, vcpu_rip(v));
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		finish(v, VCPU_ERROR, "VM entry failed, reason 0x%llx",
		       run->fail_entry.hardware_entry_failure_reason);
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		finish(v, VCPU_ERROR, "KVM internal error, suberror %u, rip 0x%llx",
		       run->internal.suberror, vcpu_rip(v));
		return true;
	}
	finish(v, VCPU_ERROR, "unexpected exit reason %u at rip 0x%llx",
	       run->exit_reason, vcpu_rip(v));
	return true;
}

void *vmm_vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	u64 t0 = vmm_now_ns();
	int err;

	if (v->hook) {
		err = v->hook(v->vm, v->idx, v->hook_arg);
		if (err) {
			finish(v, VCPU_ERROR, "vCPU thread hook: %s", strerror(-err));
			goto out;
		}
	}
	for (;;) {
		if (__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE)) {
			finish(v, VCPU_TIMEOUT, "still running after %u s, rip 0x%llx",
			       v->vm->timeout_s, vcpu_rip(v));
			break;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			v->res.run_errno = errno;
			finish(v, VCPU_ERROR, "KVM_RUN: %s", strerror(errno));
			break;
		}
		if (handle_exit(v))
			break;
	}
out:
	v->res.wall_ns = vmm_now_ns() - t0;
	return NULL;
}

int vcpu_prepare(struct vm *vm, int idx, enum vmm_prog prog,
		 u64 start, u64 end, u64 param)
{
	struct vcpu *v;

	if (idx < 0 || idx >= vm->nr_vcpus || (unsigned int)prog >= VMM_NR_PROGS) {
		vmm_err("%s: bad vcpu %d or program %d", __func__, idx, prog);
		return -EINVAL;
	}
	if (start > end || start % VMM_PAGE_SIZE || end % VMM_PAGE_SIZE ||
	    end > vm->size) {
		vmm_err("%s: bad range [0x%llx, 0x%llx)", __func__, start, end);
		return -EINVAL;
	}
	v = &vm->vcpu[idx];
	v->regs = (struct kvm_regs){
		.rip = vm->entry, .rflags = 2,
		.rsp = VMM_STACK_GPA + (idx + 1) * VMM_STACK_SIZE,
		.rdi = idx, .rsi = start, .rdx = end, .rcx = param, .r8 = prog,
	};
	memset(&v->res, 0, sizeof(v->res));
	v->armed = true;
	return 0;
}

int vcpu_set_hook(struct vm *vm, int idx, vcpu_thread_hook fn, void *arg)
{
	if (idx < 0 || idx >= vm->nr_vcpus) {
		vmm_err("%s: bad vcpu %d", __func__, idx);
		return -EINVAL;
	}
	vm->vcpu[idx].hook = fn;
	vm->vcpu[idx].hook_arg = arg;
	return 0;
}

static int start_vcpu(struct vcpu *v)
{
	int err;

	memset(&v->res, 0, sizeof(v->res));
	v->stop = 0;
	v->run->immediate_exit = 0;
	if (ioctl(v->fd, KVM_SET_REGS, &v->regs) < 0) {
		err = -errno;
		finish(v, VCPU_ERROR, "KVM_SET_REGS: %s", strerror(-err));
		return err;
	}
	err = pthread_create(&v->thread, NULL, vmm_vcpu_thread, v);
	if (err) {
		finish(v, VCPU_ERROR, "pthread_create: %s", strerror(err));
		return -err;
	}
	return 0;
}

static void add_ns(struct timespec *t, u64 ns)
{
	ns += t->tv_nsec;
	t->tv_sec += ns / 1000000000ULL;
	t->tv_nsec = ns % 1000000000ULL;
}

/* Join @v's thread; past @deadline, stop it and keep kicking until it ends. */
static void join_vcpu(struct vcpu *v, const struct timespec *deadline)
{
	struct timespec t;

	if (!pthread_timedjoin_np(v->thread, NULL, deadline))
		return;
	__atomic_store_n(&v->stop, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	do {
		pthread_kill(v->thread, SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &t);
		add_ns(&t, KICK_PERIOD_NS);
	} while (pthread_timedjoin_np(v->thread, NULL, &t) == ETIMEDOUT);
}

int vm_run(struct vm *vm, unsigned int timeout_s)
{
	bool started[VMM_MAX_VCPUS] = { false };
	struct timespec deadline;
	int i, n = 0, bad = 0;

	vm->timeout_s = timeout_s;
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpu[i].armed && !start_vcpu(&vm->vcpu[i])) {
			started[i] = true;
			n++;
		}
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_s;
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpu[i];

		if (started[i])
			join_vcpu(v, &deadline);
		v->hook = NULL;
		if (!v->armed)
			continue;
		v->armed = false;
		if (v->res.outcome != VCPU_DONE) {
			vmm_err("vcpu%d: %s: %s", i,
				vcpu_outcome_name(v->res.outcome), v->res.msg);
			bad++;
		}
	}
	return n ? bad : -EINVAL;
}

int vm_run_one(struct vm *vm, int idx, enum vmm_prog prog, u64 start,
	       u64 end, u64 param, unsigned int timeout_s)
{
	int err = vcpu_prepare(vm, idx, prog, start, end, param);

	return err ? err : vm_run(vm, timeout_s);
}
