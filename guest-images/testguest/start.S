/* SPDX-License-Identifier: MIT */
/*
 * Entry, AP trampoline and exception stubs of the test guest.
 *
 * Boot contract (Linux 64-bit boot protocol, see vmm/x86_boot.h): we enter
 * at _start in 64-bit mode, paging on with the first 4 GiB identity-mapped,
 * interrupts off, CS = 0x10, DS/ES/SS = 0x18, RSI = &boot_params.  RSP is
 * undefined: nothing may touch the stack before we set our own.
 * The PVH entry (pvh_start, below) ends up here too, with a boot_params it
 * built itself.
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
 * PVH entry (pvh.h): QEMU's microvm machine (its firmware, qboot) starts an
 * ELF kernel that carries a XEN_ELFNOTE_PHYS32_ENTRY note at that address,
 * in 32-bit protected mode: paging off, CS a flat 32-bit code segment,
 * DS/ES/SS flat data, interrupts off, %ebx = &struct hvm_start_info, no
 * stack.  We load our own GDT (the boot protocol's selectors 0x10/0x18, so
 * trap.c and ring3.c see what they see after a Linux-protocol entry), turn
 * on long mode with pvh_pml4 (identity map of the first 4 GiB in 2 MiB
 * pages, the MMIO hole uncached: virtio-mmio at 0xfeb00000 on microvm, the
 * LAPIC at 0xfee00000), then call pvh_boot_params() with the start info and
 * enter _start as if a VMM had handed us that boot_params in RSI.
 */
#define MSR_EFER	0xc0000080
#define EFER_LME	(1 << 8)
#define CR4_PAE		(1 << 5)
#define CR0_PE		(1 << 0)
#define CR0_PG		(1 << 31)

	.text
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	lgdt	pvh_gdt_desc
	movl	$0x18, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs

	movl	$pvh_pml4, %eax
	movl	%eax, %cr3
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$0x10, $pvh_long

	.code64
pvh_long:
	/* The upper halves of the GPRs are undefined after the switch: take
	 * the low 32 bits of EBX only. */
	movl	%ebx, %edi
	leaq	stack_top(%rip), %rsp
	call	pvh_boot_params		/* touches .data only */
	movq	%rax, %rsi
	jmp	_start

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

	/* PVH: GDT and identity page tables (in .data, built by the
	 * assembler: nothing to compute in 32-bit code). */
	.section .data
	.balign 16
pvh_gdt:
	.quad	0
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x10: 64-bit code, DPL 0 */
	.quad	0x00cf92000000ffff	/* 0x18: flat data */
pvh_gdt_end:
	.balign 4
	.word	0			/* pad: the base below 4-aligned */
pvh_gdt_desc:
	.word	pvh_gdt_end - pvh_gdt - 1
	.long	pvh_gdt

	.balign 4096
pvh_pml4:
	.quad	pvh_pdpt + 0x003	/* P RW */
	.fill	511, 8, 0
pvh_pdpt:
	.quad	pvh_pd + 0x0000 + 0x003
	.quad	pvh_pd + 0x1000 + 0x003
	.quad	pvh_pd + 0x2000 + 0x003
	.quad	pvh_pd + 0x3000 + 0x003
	.fill	508, 8, 0
pvh_pd:
	/* 2048 PDEs of 2 MiB: P RW PS; PCD PWT from 3 GiB (the MMIO hole,
	 * base/layout.h; GAS comparisons are -1 when true). */
	.set	pvh_i, 0
	.rept	2048
	.quad	(pvh_i << 21) | 0x83 | ((pvh_i >= 1536) & 0x18)
	.set	pvh_i, pvh_i + 1
	.endr

	/* XEN_ELFNOTE_PHYS32_ENTRY (18): where a PVH loader enters.  QEMU
	 * reads the descriptor as a 64-bit word in an ELF64 (.quad, as Linux's
	 * _ASM_PTR), at name + namesz rounded to the PT_NOTE's alignment: 4. */
	.section .note.pvh, "a", @note
	.balign 4
	.long	4			/* namesz */
	.long	8			/* descsz */
	.long	18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.balign 4
	.quad	pvh_start

	/* The boot stack: not part of .bss, so it is not zeroed for nothing. */
	.section .stack, "aw", @nobits
	.balign 16
stack_bottom:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
