/* SPDX-License-Identifier: GPL-2.0 */
/*
 * start.S - entry of every guest image and its exception stubs.
 *
 * The VMM loads the flat image at VMM_CODE_GPA and reads the header below
 * to find the entry point and the stubs it points the IDT at. A vCPU
 * starts at _start in 64-bit mode with interrupts off, rsp at the top of
 * its own stack and guest_main()'s five arguments already in rdi, rsi,
 * rdx, rcx and r8 (vcpu, start, end, param, program).
 */
#include "../guest_abi.h"

	.section .head, "a"
	.quad	VMM_IMAGE_MAGIC
	.quad	_start
	.quad	exc_stubs
	.quad	VMM_EXC_STUB_SIZE
	.quad	__bss_end

	.text
	.globl	_start
_start:
	call	guest_main
	call	guest_done
1:	hlt
	jmp	1b

/*
 * One stub per exception vector, VMM_EXC_STUB_SIZE bytes apart. Each leaves
 * the same frame: vector, error code (0 if the CPU pushes none), then the
 * CPU's rip, cs, rflags, rsp, ss; and hands it to guest_exception().
 */
	.balign	VMM_EXC_STUB_SIZE
exc_stubs:
	vec = 0
	.rept	VMM_EXC_VECTORS
	.balign	VMM_EXC_STUB_SIZE
	.if !((vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || \
	      (vec == 21) || (vec == 29) || (vec == 30))
	pushq	$0
	.endif
	pushq	$vec
	jmp	exc_common
	vec = vec + 1
	.endr

exc_common:
	movq	%rsp, %rdi
	andq	$-16, %rsp
	call	guest_exception
2:	hlt
	jmp	2b

	.section .note.GNU-stack, "", @progbits
