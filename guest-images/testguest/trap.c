/* SPDX-License-Identifier: MIT */
/*
 * A 64-bit IDT for the 32 architectural exception vectors (Intel SDM Vol. 3A
 * "64-Bit Mode IDT", §6.14.1: 16-byte interrupt-gate descriptors).  Interrupts
 * stay disabled, so vectors 32-255 are left out of the IDT limit.
 */
#include "trap.h"

#include "fmt.h"
#include "reset.h"

#define N_EXCEPTIONS 32
#define GATE_INTERRUPT_64 0x8e /* present, DPL 0, type 1110b */

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

static struct idt_gate idt[N_EXCEPTIONS] __attribute__((aligned(16)));

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
		uint64_t a = trap_stubs[v];

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
