// SPDX-License-Identifier: GPL-2.0
/*
 * pattern.c - host-side fill and check of the guest programs' pattern
 * (vmm_pattern() in guest_abi.h), over the guest RAM mapping or over a
 * buffer read from the backing file.
 */
#include "vmm.h"

void vmm_fill_pattern(void *buf, u64 gpa, u64 len, u64 seed)
{
	volatile u64 *p = buf;
	u64 off, w;

	for (off = 0; off < len; off += VMM_PAGE_SIZE) {
		u64 gfn = (gpa + off) >> VMM_PAGE_SHIFT;

		for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
			*p++ = vmm_pattern(gfn, w, seed);
	}
}

u64 vmm_check_pattern(const void *buf, u64 gpa, u64 len, u64 seed,
		      u64 *bad_gfn)
{
	const volatile u64 *p = buf;
	u64 off, w, bad = 0;

	for (off = 0; off < len; off += VMM_PAGE_SIZE) {
		u64 gfn = (gpa + off) >> VMM_PAGE_SHIFT;

		for (w = 0; w < VMM_WORDS_PER_PAGE; w++) {
			if (*p++ == vmm_pattern(gfn, w, seed))
				continue;
			if (!bad++ && bad_gfn)
				*bad_gfn = gfn;
		}
	}
	return bad;
}
