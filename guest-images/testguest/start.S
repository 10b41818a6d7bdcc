/* SPDX-License-Identifier: MIT */
/*
 * Entry, AP trampoline and exception stubs of the test guest.
 *
 * Boot contract (Linux 64-bit boot protocol, see vmm/x86_boot.h): we enter
 * at _start in 64-bit mode, paging on with the first 4 GiB identity-mapped,
 * interrupts off, CS = 0x10, DS/ES/SS = 0x18, RSI = &boot_params.  RSP is
 * undefined: nothing may touch the stack before we set our own.
 */

#define STACK_SIZE 16384

	.section .text.start, "ax"
	.code64
	.globl _start
_start:
	/* POST code 0 to port 0x80 first: the VMM timestamps this write as
	 * "first guest instruction".  OUT takes its value from AL, so the
	 * zeroing of EAX has to come first. */
	xorl	%eax, %eax
	outb	%al, $0x80

	leaq	stack_top(%rip), %rsp

	/* Zero .bss (the VMM may or may not have); RSI survives.  The linker
	 * script aligns both ends to 16 bytes, so whole quadwords it is: on
	 * the PVM hosts ring-0 code is interpreted one instruction (and one
	 * rep iteration) at a time, so 8 bytes a step is 8 times faster. */
	cld
	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	shrq	$3, %rcx
	rep stosq		/* RAX is still 0 */

	movq	%rsi, %rdi	/* tg_main(boot_params) */
	call	tg_main
1:	cli
	hlt
	jmp	1b

/*
 * AP trampoline, copied to LAYOUT_TRAMPOLINE (0x8000) before the first SIPI.
 * A STARTUP IPI with vector 8 starts the AP in real mode at CS:IP = 0800:0000
 * (MP spec B.4.2), so everything here is addressed relative to CS and
 * runs wherever the page is.  The AP checks in by incrementing the counter
 * (locked: several APs start at once) and halts for good.
 */
	.section .trampoline, "a"
	.code16
	.balign 16
	.globl ap_tramp_start, ap_tramp_count, ap_tramp_end
ap_tramp_start:
	cli
	lock incl %cs:(ap_tramp_count - ap_tramp_start)
2:	hlt
	jmp	2b
	.balign 4
ap_tramp_count:
	.long	0
ap_tramp_end:
	.code64

/*
 * Exception stubs for vectors 0-31: make every frame look the same (push a 0
 * where the CPU pushes no error code, then the vector) and hand a pointer to
 * it to trap_handler(), which never returns.  Vectors with an error code:
 * SDM Vol. 3A "Protected-Mode Exceptions and Interrupts" (Table 6-1).
 */
	.text
.macro TRAP_STUB vec
trap_stub_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	trap_common
.endm

	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	TRAP_STUB \v
	.endr

trap_common:
	cld
	movq	%rsp, %rdi	/* struct trap_frame * */
	andq	$-16, %rsp	/* ABI stack alignment for the C call */
	call	trap_handler
3:	cli
	hlt
	jmp	3b

/*
 * #GP with a way back (trap.h, struct gp_frame): save the caller-saved
 * registers, let gp_handler() emulate ring-3 port I/O (it changes the saved
 * rax and rip) or end in trap_handler(), restore, drop the error code,
 * IRETQ.  Alignment: TSS.rsp0 (or our ring-0 stack) is 16-byte aligned, the
 * CPU pushes 6 quadwords with the error code, we push 10.
 */
	.globl gp_entry
gp_entry:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	subq	$8, %rsp	/* pad */
	cld
	movq	%rsp, %rdi
	call	gp_handler
	addq	$8, %rsp
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$8, %rsp	/* error code */
	iretq

	.section .rodata
	.balign 8
	.globl trap_stubs
trap_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	trap_stub_\v
	.endr

	/* The boot stack: not part of .bss, so it is not zeroed for nothing. */
	.section .stack, "aw", @nobits
	.balign 16
stack_bottom:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
