// SPDX-License-Identifier: GPL-2.0
/*
 * progs.c - the guest programs of the test VMM (enum vmm_prog).
 *
 * guest_main() is entered from start.S with the arguments the VMM put in
 * registers and dispatches to one program. Programs report their results
 * with guest_report() and return; start.S then signals VMM_HC_DONE.
 * Memory is accessed through volatile pointers so every load and store
 * really reaches guest RAM (and takes its nested page fault).
 */
#include "guest.h"

/* Count a mismatching word; report where the first one of a run was. */
static void note_bad(u64 *bad, u64 gfn, u64 w, u64 v)
{
	if (!(*bad)++) {
		guest_report(VMM_REPORT_BAD_GFN, gfn);
		guest_report(VMM_REPORT_BAD_WORD, w);
		guest_report(VMM_REPORT_BAD_VALUE, v);
	}
}

/* Compare [start, end) with the pattern; report what differs. */
static void check_pattern(u64 start, u64 end, u64 seed)
{
	u64 gpa, w, bad = 0;

	for (gpa = start; gpa < end; gpa += VMM_PAGE_SIZE) {
		volatile u64 *p = guest_gpa_ptr(gpa);
		u64 gfn = gpa >> VMM_PAGE_SHIFT;

		for (w = 0; w < VMM_WORDS_PER_PAGE; w++) {
			u64 v = p[w];

			if (v != vmm_pattern(gfn, w, seed))
				note_bad(&bad, gfn, w, v);
		}
	}
	guest_report(VMM_REPORT_MISMATCHES, bad);
	guest_report(VMM_REPORT_PAGES, (end - start) >> VMM_PAGE_SHIFT);
}

static void prog_fill(const struct guest_args *a)
{
	u64 gpa, w;

	for (gpa = a->start; gpa < a->end; gpa += VMM_PAGE_SIZE) {
		volatile u64 *p = guest_gpa_ptr(gpa);
		u64 gfn = gpa >> VMM_PAGE_SHIFT;

		for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
			p[w] = vmm_pattern(gfn, w, a->param);
	}
	check_pattern(a->start, a->end, a->param);
}

static void prog_verify(const struct guest_args *a)
{
	check_pattern(a->start, a->end, a->param);
}

static void prog_read_page(const struct guest_args *a)
{
	volatile u64 *p = guest_gpa_ptr(a->start);
	u64 w, v, nonzero = 0, first = 0;

	for (w = 0; w < VMM_WORDS_PER_PAGE; w++) {
		v = p[w];
		if (v && !nonzero++)
			first = v;
	}
	guest_report(VMM_REPORT_NONZERO, nonzero);
	guest_report(VMM_REPORT_FIRST_WORD, p[0]);
	guest_report(VMM_REPORT_FIRST_NONZERO, first);
	guest_report(VMM_REPORT_PAGES, 1);
}

static void prog_touch(const struct guest_args *a)
{
	u64 gpa, t0, t1;

	t0 = guest_rdtsc();
	for (gpa = a->start; gpa < a->end; gpa += VMM_PAGE_SIZE)
		*(volatile u8 *)gpa = 1;
	t1 = guest_rdtsc();
	guest_report(VMM_REPORT_TSC_CYCLES, t1 - t0);
	guest_report(VMM_REPORT_PAGES, (a->end - a->start) >> VMM_PAGE_SHIFT);
}

static void prog_misbehave(const struct guest_args *a)
{
	switch (a->param) {
	case VMM_MISBEHAVE_ASSERT:
		GUEST_ASSERT_EQ(a->start, VMM_MISBEHAVE_MAGIC);
		break;
	case VMM_MISBEHAVE_PAGE_FAULT:
		guest_report(VMM_REPORT_FIRST_WORD,
			     *guest_gpa_ptr(VMM_MISBEHAVE_BAD_VA));
		break;
	case VMM_MISBEHAVE_UD:
		asm volatile("ud2");
		break;
	case VMM_MISBEHAVE_HANG:
		for (;;)
			asm volatile("pause");
	}
	guest_print_val("misbehave: unknown mode", a->param);
}

/* Reads only: every load of an untouched page is a read fault. */
static void prog_read_zero(const struct guest_args *a)
{
	u64 gpa, w, bad = 0;

	for (gpa = a->start; gpa < a->end; gpa += VMM_PAGE_SIZE) {
		volatile u64 *p = guest_gpa_ptr(gpa);

		for (w = 0; w < VMM_WORDS_PER_PAGE; w++) {
			u64 v = p[w];

			if (v)
				note_bad(&bad, gpa >> VMM_PAGE_SHIFT, w, v);
		}
	}
	guest_report(VMM_REPORT_MISMATCHES, bad);
	guest_report(VMM_REPORT_PAGES, (a->end - a->start) >> VMM_PAGE_SHIFT);
}

/*
 * Each interval covers one store only; the record is written after the
 * second rdtsc, so a fault on the record buffer is never timed.
 */
static void prog_touch_timed(const struct guest_args *a)
{
	volatile u64 *rec = guest_gpa_ptr(a->param);
	u64 gpa, i = 0, t0, t1;

	GUEST_ASSERT(a->param + 8 * ((a->end - a->start) >> VMM_PAGE_SHIFT) <=
		     a->start || a->param >= a->end);
	for (gpa = a->start; gpa < a->end; gpa += VMM_PAGE_SIZE) {
		t0 = guest_rdtsc();
		*(volatile u8 *)gpa = 1;
		t1 = guest_rdtsc();
		rec[i++] = t1 - t0;
	}
	guest_report(VMM_REPORT_PAGES, i);
}

/* Check page @gfn holds its content after pass @done - 1 (0: never written). */
static void churn_check(volatile u64 *p, u64 gfn, u64 done, u64 *bad, u64 *zero)
{
	u64 w, v, want;

	if (!done || vmm_churn_is_zero(gfn, done - 1))
		(*zero)++;
	for (w = 0; w < VMM_WORDS_PER_PAGE; w++) {
		v = p[w];
		want = done ? vmm_churn_word(gfn, w, done - 1) : 0;
		if (v != want)
			note_bad(bad, gfn, w, v);
	}
}

static void prog_churn(const struct guest_args *a)
{
	u64 pass, gpa, gfn, w, bad = 0, zero = 0, pages = 0;

	for (pass = 0; pass <= a->param; pass++) {
		for (gpa = a->start; gpa < a->end; gpa += VMM_PAGE_SIZE) {
			volatile u64 *p = guest_gpa_ptr(gpa);

			gfn = gpa >> VMM_PAGE_SHIFT;
			churn_check(p, gfn, pass, &bad, &zero);
			pages++;
			if (pass == a->param)
				continue;
			for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
				p[w] = vmm_churn_word(gfn, w, pass);
		}
	}
	guest_report(VMM_REPORT_MISMATCHES, bad);
	guest_report(VMM_REPORT_ZERO_PAGES, zero);
	guest_report(VMM_REPORT_PAGES, pages);
}

/* Like prog_churn(), with vmm_dup_word() contents. */
static void prog_dup_churn(const struct guest_args *a)
{
	u64 pass, gpa, gfn, w, v, want, bad = 0, zero = 0, pages = 0;

	for (pass = 0; pass <= a->param; pass++) {
		for (gpa = a->start; gpa < a->end; gpa += VMM_PAGE_SIZE) {
			volatile u64 *p = guest_gpa_ptr(gpa);

			gfn = gpa >> VMM_PAGE_SHIFT;
			if (!pass || vmm_dup_is_zero(gfn, pass - 1))
				zero++;
			for (w = 0; w < VMM_WORDS_PER_PAGE; w++) {
				v = p[w];
				want = pass ? vmm_dup_word(gfn, w, pass - 1) : 0;
				if (v != want)
					note_bad(&bad, gfn, w, v);
			}
			pages++;
			if (pass == a->param)
				continue;
			for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
				p[w] = vmm_dup_word(gfn, w, pass);
		}
	}
	guest_report(VMM_REPORT_MISMATCHES, bad);
	guest_report(VMM_REPORT_ZERO_PAGES, zero);
	guest_report(VMM_REPORT_PAGES, pages);
}

/* Like prog_churn(), with vmm_mix_word() contents and a first pass. */
static void prog_mix_churn(const struct guest_args *a)
{
	u64 first = VMM_MIX_FIRST(a->param), last = first + VMM_MIX_PASSES(a->param);
	u64 pass, gpa, gfn, w, v, want, bad = 0, zero = 0, pages = 0;

	for (pass = first; pass <= last; pass++) {
		for (gpa = a->start; gpa < a->end; gpa += VMM_PAGE_SIZE) {
			volatile u64 *p = guest_gpa_ptr(gpa);

			gfn = gpa >> VMM_PAGE_SHIFT;
			if (!pass || vmm_mix_kind(gfn, pass - 1) == VMM_MIX_ZERO)
				zero++;
			for (w = 0; w < VMM_WORDS_PER_PAGE; w++) {
				v = p[w];
				want = pass ? vmm_mix_word(gfn, w, pass - 1) : 0;
				if (v != want)
					note_bad(&bad, gfn, w, v);
			}
			pages++;
			if (pass == last)
				continue;
			for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
				p[w] = vmm_mix_word(gfn, w, pass);
		}
	}
	guest_report(VMM_REPORT_MISMATCHES, bad);
	guest_report(VMM_REPORT_ZERO_PAGES, zero);
	guest_report(VMM_REPORT_PAGES, pages);
}

static void (*const progs[VMM_NR_PROGS])(const struct guest_args *a) = {
	[VMM_PROG_FILL] = prog_fill,
	[VMM_PROG_VERIFY] = prog_verify,
	[VMM_PROG_READ_PAGE] = prog_read_page,
	[VMM_PROG_TOUCH] = prog_touch,
	[VMM_PROG_MISBEHAVE] = prog_misbehave,
	[VMM_PROG_READ_ZERO] = prog_read_zero,
	[VMM_PROG_TOUCH_TIMED] = prog_touch_timed,
	[VMM_PROG_CHURN] = prog_churn,
	[VMM_PROG_DUP_CHURN] = prog_dup_churn,
	[VMM_PROG_MIX_CHURN] = prog_mix_churn,
};

void guest_main(u64 vcpu, u64 start, u64 end, u64 param, u64 prog)
{
	struct guest_args a = {
		.vcpu = vcpu, .start = start, .end = end, .param = param,
	};

	GUEST_ASSERT(prog < VMM_NR_PROGS && progs[prog]);
	GUEST_ASSERT(start <= end);
	GUEST_ASSERT(!(start % VMM_PAGE_SIZE) && !(end % VMM_PAGE_SIZE));
	progs[prog](&a);
}
