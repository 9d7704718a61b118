/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest_image.S - embeds the flat guest image (guest/, built by vmm.mk)
 * into host programs as vmm_guest_image[] .. vmm_guest_image_end[].
 * VMM_GUEST_BIN is the image's path, passed by the Makefile.
 */
	.section .rodata
	.balign	4096
	.globl	vmm_guest_image, vmm_guest_image_end
vmm_guest_image:
	.incbin	VMM_GUEST_BIN
vmm_guest_image_end:

	.section .note.GNU-stack, "", @progbits
