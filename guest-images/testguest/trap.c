/* SPDX-License-Identifier: MIT */
/*
 * A 64-bit IDT for the 32 architectural exception vectors (Intel SDM Vol. 3A
 * "64-Bit Mode IDT", §6.14.1: 16-byte interrupt-gate descriptors).  Interrupts
 * stay disabled, so vectors 32-255 are left out of the IDT limit.
 *
 * #GP is special: ring-3 code (ring3.h) does port I/O with IOPL=3, which the
 * PVM hosts do not honour (the `in`/`out` raises #GP; `int n` from ring 3
 * raises #UD there, so there is no system-call gate either).  gp_handler()
 * performs such an I/O instruction in ring 0 and resumes after it.
 */
#include "trap.h"

#include "fmt.h"
#include "reset.h"

#define N_EXCEPTIONS 32
#define GATE_INTERRUPT_64 0x8e /* present, DPL 0, type 1110b */
#define IDT_ENTRIES N_EXCEPTIONS
#define VEC_GP 13

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gates are 16 bytes");

/* Stub entry points, one per vector, in start.S. */
extern const uint64_t trap_stubs[N_EXCEPTIONS];
extern const char gp_entry[]; /* start.S */

static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));

static const char *const names[N_EXCEPTIONS] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "rsvd15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "rsvd22", "rsvd23",
	"rsvd24", "rsvd25", "rsvd26", "rsvd27", "#HV", "#VC", "#SX", "rsvd31",
};

void trap_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uintptr_t)idt };
	uint16_t cs;

	/* Use whatever code selector we run with (0x10 by the boot protocol). */
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (unsigned v = 0; v < N_EXCEPTIONS; v++) {
		uint64_t a = v == VEC_GP ? (uintptr_t)gp_entry : trap_stubs[v];

		idt[v] = (struct idt_gate){
			.offset_lo = (uint16_t)a,
			.selector = cs,
			.ist = 0,
			.type_attr = GATE_INTERRUPT_64,
			.offset_mid = (uint16_t)(a >> 16),
			.offset_hi = (uint32_t)(a >> 32),
		};
	}
	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

/* Emulate `in al,dx` (EC), `out dx,al` (EE), `in al,imm8` (E4 ib) and
 * `out imm8,al` (E6 ib) for ring 3: the forms io.h's inb/outb compile to. */
void gp_handler(struct gp_frame *f)
{
	const uint8_t *ip = (const uint8_t *)(uintptr_t)f->rip;
	uint16_t port = (uint16_t)f->rdx;
	uint8_t v = (uint8_t)f->rax;
	unsigned len = 1;

	if ((f->cs & 3) == 3 && f->error == 0) {
		switch (ip[0]) {
		case 0xe4:
			port = ip[1];
			len = 2;
			/* fall through */
		case 0xec:
			__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
			f->rax = (f->rax & ~0xffull) | v;
			f->rip += len;
			return;
		case 0xe6:
			port = ip[1];
			len = 2;
			/* fall through */
		case 0xee:
			__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
			f->rip += len;
			return;
		default:
			break;
		}
	}
	{
		struct trap_frame t = {
			.vector = VEC_GP, .error = f->error, .rip = f->rip, .cs = f->cs,
			.rflags = f->rflags, .rsp = f->rsp, .ss = f->ss,
		};

		trap_handler(&t);
	}
}

void trap_handler(const struct trap_frame *f)
{
	uint64_t cr2 = 0;

	if (f->vector == 14)
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	kprintf("testguest: exception %s vec=%lu err=0x%lx rip=0x%lx rsp=0x%lx cr2=0x%lx\n",
		f->vector < N_EXCEPTIONS ? names[f->vector] : "?",
		(unsigned long)f->vector, (unsigned long)f->error,
		(unsigned long)f->rip, (unsigned long)f->rsp, (unsigned long)cr2);
	cpu_triple_fault();
}
