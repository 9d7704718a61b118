/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest_abi.h - what the test VMM and its guest programs agree on.
 *
 * Included by host code (vmm.c, tests, benchmarks) and by the freestanding
 * guest code in guest/, so it holds only constants, plain structs and
 * static inline arithmetic: no libc, no kernel headers.
 *
 * Guest-physical memory layout (identity-mapped, 2 MiB pages):
 *
 *   0x000000  gfn 0x00       unused (a NULL dereference hits a valid page,
 *                            but nothing lives there)
 *   0x001000  gfn 0x01       GDT (null, code64, data, TSS descriptor) + TSS
 *   0x002000  gfn 0x02       IDT (exception vectors 0-31)
 *   0x003000  gfn 0x03       PML4
 *   0x004000  gfn 0x04       PDPT
 *   0x005000  gfn 0x05-0x0c  page directories, one per GiB (at most 8 GiB)
 *   0x010000  gfn 0x10-0x7f  guest program image (code, data, bss)
 *   0x080000  gfn 0x80-0xff  vCPU stacks, VMM_STACK_SIZE each, vCPU i's
 *                            stack top at VMM_STACK_GPA + (i + 1) * size
 *   0x100000  gfn 0x100-     free RAM: never touched by the VMM, so a test
 *                            or benchmark sees the first access to it
 *
 * Hypercalls: the guest builds a struct vmm_hc on its stack and writes its
 * guest-physical address with a 32-bit "out" to VMM_HC_PORT. The VMM reads
 * the struct through its mapping of guest RAM.
 */
#ifndef VMM_GUEST_ABI_H
#define VMM_GUEST_ABI_H

#define VMM_PAGE_SIZE		4096ULL
#define VMM_PAGE_SHIFT		12
#define VMM_WORDS_PER_PAGE	(VMM_PAGE_SIZE / sizeof(u64))
#define VMM_HUGE_SIZE		(2ULL << 20)	/* identity-map page size */

#define VMM_GDT_GPA		0x1000ULL
#define VMM_TSS_GPA		0x1800ULL
#define VMM_IDT_GPA		0x2000ULL
#define VMM_PML4_GPA		0x3000ULL
#define VMM_PDPT_GPA		0x4000ULL
#define VMM_PD_GPA		0x5000ULL
#define VMM_MAX_GIB		8
#define VMM_CODE_GPA		0x10000ULL
#define VMM_CODE_END		0x80000ULL
#define VMM_STACK_GPA		0x80000ULL
#define VMM_STACK_SIZE		0x4000ULL
#define VMM_MAX_VCPUS		32
#define VMM_FREE_GPA		0x100000ULL	/* first byte tests may use */
#define VMM_FREE_GFN		(VMM_FREE_GPA >> VMM_PAGE_SHIFT)

/* GDT selectors. */
#define VMM_CODE_SEL		0x08
#define VMM_DATA_SEL		0x10
#define VMM_TSS_SEL		0x18

/* Header at VMM_CODE_GPA, the first bytes of every guest image. */
#define VMM_IMAGE_MAGIC		0x314d4d56474d4d56	/* "VMMGVMM1" */
#define VMM_EXC_VECTORS		32
#define VMM_EXC_STUB_SIZE	16

/* Hypercall port. */
#define VMM_HC_PORT		0x7e00

#ifndef __ASSEMBLER__

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

/*
 * Hypercall numbers (struct vmm_hc.nr) and their arguments:
 * PRINT	arg0: gpa of a NUL-terminated string; arg1: a value, printed
 *		if arg2 != 0.
 * REPORT	arg0: enum vmm_report key; arg1: value.
 * DONE		the program finished.
 * FAIL		arg0: gpa of the file name; arg1: line; arg2: gpa of the
 *		failed expression; arg3, arg4: values, shown if arg5 != 0.
 * EXCEPTION	arg0: vector; arg1: error code; arg2: rip; arg3: cr2.
 */
enum vmm_hc_nr {
	VMM_HC_PRINT = 1,
	VMM_HC_REPORT,
	VMM_HC_DONE,
	VMM_HC_FAIL,
	VMM_HC_EXCEPTION,
};

struct vmm_hc {
	u64 nr;
	u64 arg[6];
};

/*
 * Guest programs, selected by the VMM per run. Each gets the vCPU index,
 * a byte range [start, end) of guest-physical memory (page-aligned) and
 * one parameter.
 */
enum vmm_prog {
	/* Write vmm_pattern(seed = param) over [start, end), then read it back. */
	VMM_PROG_FILL,
	/* Only compare [start, end) with vmm_pattern(seed = param). */
	VMM_PROG_VERIFY,
	/* Read the page at start: count its non-zero words. */
	VMM_PROG_READ_PAGE,
	/* Write one byte per page of [start, end), time it with rdtsc. */
	VMM_PROG_TOUCH,
	/* VMM self-test: fail on purpose as param says (enum vmm_misbehave). */
	VMM_PROG_MISBEHAVE,
	/* Read every word of [start, end); report the non-zero ones. */
	VMM_PROG_READ_ZERO,
	/*
	 * Write one byte per page of [start, end); store each page's rdtsc
	 * delta as a u64 at gpa param + 8 * page index (memory the caller
	 * keeps outside the range; its own faults are not timed).
	 */
	VMM_PROG_TOUCH_TIMED,
	/*
	 * param passes over [start, end): each pass checks every page holds
	 * what the previous pass left (vmm_churn_word(); zero before pass 0)
	 * and writes this pass's content; a last sweep checks the final one.
	 */
	VMM_PROG_CHURN,
	/*
	 * CHURN with contents many pages share (vmm_dup_word()): param
	 * passes over [start, end), each checking every page holds what the
	 * previous pass wrote (zero before pass 0) and writing this pass's
	 * content; a last sweep checks the final one. For page sharing: at
	 * any time most pages equal many others, in this VM and in another
	 * running the same program on the same range.
	 */
	VMM_PROG_DUP_CHURN,
	/*
	 * CHURN with contents of three kinds (vmm_mix_word()): zero pages,
	 * pages that compress well and pages that do not. param is
	 * VMM_MIX_PARAM(first, n): passes first .. first + n - 1 over
	 * [start, end), each checking every page holds what the previous
	 * pass wrote (zero before pass 0) and writing this pass's content; a
	 * last sweep checks the final one. n = 0 only checks pass first - 1.
	 * For compression and swap: each pass changes every page's kind.
	 */
	VMM_PROG_MIX_CHURN,
	VMM_NR_PROGS
};

enum vmm_misbehave {
	VMM_MISBEHAVE_ASSERT,	/* GUEST_ASSERT_EQ(start, VMM_MISBEHAVE_MAGIC) */
	VMM_MISBEHAVE_PAGE_FAULT, /* read VMM_MISBEHAVE_BAD_VA: #PF */
	VMM_MISBEHAVE_UD,	/* ud2: #UD */
	VMM_MISBEHAVE_HANG,	/* spin forever */
};

#define VMM_MISBEHAVE_MAGIC	0x5a5aULL
#define VMM_MISBEHAVE_BAD_VA	(512ULL << 30)	/* PML4[1]: not present */

/* Values a guest program reports (VMM_HC_REPORT keys). */
enum vmm_report {
	VMM_REPORT_PAGES,	/* pages processed */
	VMM_REPORT_MISMATCHES,	/* words that differed from the pattern */
	VMM_REPORT_BAD_GFN,	/* gfn of the first mismatch */
	VMM_REPORT_BAD_WORD,	/* its word index in the page */
	VMM_REPORT_BAD_VALUE,	/* the value read there */
	VMM_REPORT_NONZERO,	/* READ_PAGE: non-zero words in the page */
	VMM_REPORT_FIRST_WORD,	/* READ_PAGE: word 0 of the page */
	VMM_REPORT_FIRST_NONZERO, /* READ_PAGE: first non-zero word (or 0) */
	VMM_REPORT_TSC_CYCLES,	/* TOUCH: rdtsc delta around the loop */
	VMM_REPORT_ZERO_PAGES,	/* CHURN: zero pages it checked */
	VMM_NR_REPORTS
};

/*
 * vmm_pattern - the test pattern: a 64-bit mix of (gfn, word index, seed).
 * Never zero, so a page that reads as zero never matches it; differs for
 * every word so misplaced pages or words are caught.
 */
static inline u64 vmm_pattern(u64 gfn, u64 word, u64 seed)
{
	u64 x = (gfn << 9 | word) ^ (seed * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x | 1;
}

/*
 * vmm_churn_word - word @word of page @gfn after CHURN pass @pass: every
 * third page (rotating with the pass) is all zero, the others hold the
 * pattern seeded with the pass, so the content of every page changes each
 * pass and a third of the range is always reclaimable as zero.
 */
#define VMM_CHURN_SEED		0xc4c4ULL

static inline int vmm_churn_is_zero(u64 gfn, u64 pass)
{
	return (gfn + pass) % 3 == 0;
}

static inline u64 vmm_churn_word(u64 gfn, u64 word, u64 pass)
{
	return vmm_churn_is_zero(gfn, pass) ? 0 :
	       vmm_pattern(gfn, word, VMM_CHURN_SEED + pass);
}

/*
 * vmm_dup_word - word @word of page @gfn after DUP_CHURN pass @pass: every
 * fifth page (rotating with the pass) is all zero, the others hold one of
 * VMM_DUP_GROUPS contents, picked by gfn and seeded with the pass. So every
 * page changes each pass, a stale page is always noticed, and each content
 * is held by many pages at once.
 */
#define VMM_DUP_SEED		0xd0d0ULL
#define VMM_DUP_GROUPS		8

static inline int vmm_dup_is_zero(u64 gfn, u64 pass)
{
	return (gfn + pass) % 5 == 0;
}

static inline u64 vmm_dup_word(u64 gfn, u64 word, u64 pass)
{
	return vmm_dup_is_zero(gfn, pass) ? 0 :
	       vmm_pattern(gfn % VMM_DUP_GROUPS, word, VMM_DUP_SEED + pass);
}

/*
 * vmm_mix_word - word @word of page @gfn after MIX_CHURN pass @pass. The
 * page's kind (vmm_mix_kind()) rotates with the pass: all zero; compressible
 * (one 64-bit value repeated, every 64th word from the pattern: LZ4 makes
 * it a few hundred bytes); or the pattern (incompressible), half the pages.
 */
#define VMM_MIX_SEED		0x3131ULL
#define VMM_MIX_PARAM(first, n)	((u64)(first) << 32 | (u32)(n))
#define VMM_MIX_FIRST(param)	((param) >> 32)
#define VMM_MIX_PASSES(param)	((param) & 0xffffffffULL)

enum vmm_mix_kind {
	VMM_MIX_ZERO,
	VMM_MIX_COMPRESSIBLE,
	VMM_MIX_RANDOM,
};

static inline enum vmm_mix_kind vmm_mix_kind(u64 gfn, u64 pass)
{
	switch ((gfn * 3 + pass) % 4) {
	case 0:
		return VMM_MIX_ZERO;
	case 1:
		return VMM_MIX_COMPRESSIBLE;
	default:
		return VMM_MIX_RANDOM;
	}
}

static inline u64 vmm_mix_word(u64 gfn, u64 word, u64 pass)
{
	switch (vmm_mix_kind(gfn, pass)) {
	case VMM_MIX_ZERO:
		return 0;
	case VMM_MIX_COMPRESSIBLE:
		if (word % 64)
			return (gfn << 24 | pass << 8 | 0x5a) + (word % 8);
		/* fall through */
	default:
		return vmm_pattern(gfn, word, VMM_MIX_SEED + pass);
	}
}

/* The image header, written by guest/start.S at VMM_CODE_GPA. */
struct vmm_image_header {
	u64 magic;
	u64 entry;		/* gpa of _start */
	u64 exc_stubs;		/* gpa of the first exception stub */
	u64 exc_stub_size;	/* bytes between two stubs */
	u64 end;		/* gpa just past .bss */
};

#endif /* __ASSEMBLER__ */

#endif /* VMM_GUEST_ABI_H */
