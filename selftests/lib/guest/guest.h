/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest.h - the guest side of the test VMM: hypercalls, asserts, helpers.
 *
 * Guest programs are freestanding C running in 64-bit mode on an identity
 * map of all guest RAM, so a guest-physical address is a pointer. No libc,
 * no SSE, no interrupts. Everything talks to the VMM through the port-I/O
 * hypercalls of guest_abi.h; guest_done() and guest_fail() never return
 * because the VMM stops running the vCPU.
 */
#ifndef VMM_GUEST_H
#define VMM_GUEST_H

#include "../guest_abi.h"

/* What guest_main() hands to a program (see enum vmm_prog). */
struct guest_args {
	u64 vcpu;
	u64 start;
	u64 end;
	u64 param;
};

void guest_print(const char *msg);
void guest_print_val(const char *msg, u64 val);
void guest_report(enum vmm_report key, u64 val);
_Noreturn void guest_done(void);
_Noreturn void guest_fail(const char *file, u64 line, const char *expr,
			  u64 a, u64 b, u64 has_vals);

/* Entry points called from start.S. */
void guest_main(u64 vcpu, u64 start, u64 end, u64 param, u64 prog);
struct exc_frame;
_Noreturn void guest_exception(const struct exc_frame *f);

#define GUEST_ASSERT(cond) do {						\
	if (!(cond))							\
		guest_fail(__FILE__, __LINE__, #cond, 0, 0, 0);		\
} while (0)

#define GUEST_ASSERT_EQ(a, b) do {					\
	u64 __a = (a), __b = (b);					\
									\
	if (__a != __b)							\
		guest_fail(__FILE__, __LINE__, #a " == " #b, __a, __b, 1); \
} while (0)

/* rdtsc, ordered after earlier loads by lfence. */
static inline u64 guest_rdtsc(void)
{
	u32 lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (u64)hi << 32 | lo;
}

/* A guest-physical address as a pointer (identity map). */
static inline volatile u64 *guest_gpa_ptr(u64 gpa)
{
	return (volatile u64 *)gpa;
}

void *memset(void *dst, int c, unsigned long n);
void *memcpy(void *dst, const void *src, unsigned long n);

#endif /* VMM_GUEST_H */
