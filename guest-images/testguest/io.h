/* SPDX-License-Identifier: MIT */
/*
 * Port I/O, MMIO and a few CPU instructions for the test guest.
 *
 * MMIO goes through explicit `mov` instructions in inline asm rather than
 * volatile pointer dereferences: every MMIO access exits to the hypervisor,
 * which must decode and emulate the instruction, and on the PVM hosts (see
 * docs/test-hosts.md) only simple instructions emulate reliably.  Inline asm
 * guarantees the compiler never folds an access into something fancier.
 *
 * Measured on the PVM hosts: all ring-0 guest code is interpreted there, at
 * roughly 1 us per instruction (an empty loop iteration costs ~2000 TSC
 * cycles, RDTSC itself ~3000), while ring-3 code runs natively.  Keep ring-0
 * work small; the vsock scenarios run in ring 3 (ring3.h), where MMIO works
 * as is and port I/O is completed by the #GP handler (trap.c).
 */
#ifndef TG_IO_H
#define TG_IO_H

#include <stdint.h>

/* In ring 3 (ring3.h) these work because RFLAGS.IOPL=3, or, where the
 * hypervisor ignores IOPL (the PVM hosts: #GP), because the #GP handler
 * performs exactly these instruction forms for ring-3 code (trap.c). */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t mmio_read8(uint64_t addr)
{
	uint8_t v;

	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(addr) : "memory");
	return v;
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(addr) : "memory");
}

static inline uint32_t mmio_read32(uint64_t addr)
{
	uint32_t v;

	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

/* Compiler barrier: x86 keeps stores in order (TSO), we only need the
 * compiler not to reorder or cache memory accesses across this point. */
static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b,
			 uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid"
			 : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			 : "a"(leaf), "c"(sub));
}

/* Stop this CPU for good: interrupts off, halt forever. */
static inline __attribute__((noreturn)) void cpu_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}

#endif
