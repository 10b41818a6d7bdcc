/* SPDX-License-Identifier: MIT */
/*
 * CPU exceptions.  Without an IDT any bug in the guest is an anonymous triple
 * fault; with this one, an unexpected exception prints
 *   testguest: exception <name> vec=N err=E rip=R cr2=C
 * and then triple-faults on purpose so the VMM still exits non-zero.
 */
#ifndef TG_TRAP_H
#define TG_TRAP_H

#include <stdint.h>

/* What the stubs in start.S leave on the stack, lowest address first. */
struct trap_frame {
	uint64_t vector;
	uint64_t error;  /* the CPU's error code, or 0 for vectors without one */
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* Install handlers for vectors 0-31 on this CPU. */
void trap_init(void);

/* #GP (vector 13) has its own stub, gp_entry in start.S, which saves the
 * caller-saved registers in this order (lowest address first) and returns
 * to the faulting code if gp_handler() returns. */
struct gp_frame {
	uint64_t pad, r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* Ring-3 port I/O that faulted (IOPL ignored by the hypervisor, as on the
 * PVM hosts) is carried out here and skipped; any other #GP goes to
 * trap_handler(). */
void gp_handler(struct gp_frame *f);

/* Called by the stubs in start.S; never returns. */
__attribute__((noreturn)) void trap_handler(const struct trap_frame *f);

#endif
