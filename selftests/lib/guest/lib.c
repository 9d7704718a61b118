// SPDX-License-Identifier: GPL-2.0
/*
 * lib.c - guest runtime: hypercalls, exception reporting, mem* helpers.
 *
 * A hypercall is a struct vmm_hc on the caller's stack whose address goes
 * out to VMM_HC_PORT; the "memory" clobber makes the struct visible before
 * the VM exit. Stacks live below 1 MiB, so the address fits the 32-bit out.
 */
#include "guest.h"

static void hypercall(u64 nr, u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct vmm_hc hc = {
		.nr = nr,
		.arg = { a0, a1, a2, a3, a4, a5 },
	};

	asm volatile("outl %0, %w1"
		     : : "a"((u32)(unsigned long)&hc), "d"((u16)VMM_HC_PORT)
		     : "memory");
}

static _Noreturn void halt_forever(void)
{
	for (;;)
		asm volatile("hlt");
}

void guest_print(const char *msg)
{
	hypercall(VMM_HC_PRINT, (unsigned long)msg, 0, 0, 0, 0, 0);
}

void guest_print_val(const char *msg, u64 val)
{
	hypercall(VMM_HC_PRINT, (unsigned long)msg, val, 1, 0, 0, 0);
}

void guest_report(enum vmm_report key, u64 val)
{
	hypercall(VMM_HC_REPORT, key, val, 0, 0, 0, 0);
}

void guest_done(void)
{
	hypercall(VMM_HC_DONE, 0, 0, 0, 0, 0, 0);
	halt_forever();
}

void guest_fail(const char *file, u64 line, const char *expr,
		u64 a, u64 b, u64 has_vals)
{
	hypercall(VMM_HC_FAIL, (unsigned long)file, line, (unsigned long)expr,
		  a, b, has_vals);
	halt_forever();
}

/* The frame start.S builds: its two pushes, then the CPU's. */
struct exc_frame {
	u64 vector;
	u64 error;
	u64 rip;
	u64 cs;
	u64 rflags;
	u64 rsp;
	u64 ss;
};

void guest_exception(const struct exc_frame *f)
{
	u64 cr2;

	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	hypercall(VMM_HC_EXCEPTION, f->vector, f->error, f->rip, cr2, 0, 0);
	halt_forever();
}

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *dst, int c, unsigned long n)
{
	void *d = dst;

	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

void *memcpy(void *dst, const void *src, unsigned long n)
{
	void *d = dst;

	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}
