/* SPDX-License-Identifier: MIT */
/*
 * Force-included (-include) when the test guest's vsock driver and datagram
 * scenarios are compiled for the host (test_testguest_dgram.c): it stands in
 * for guest-images/testguest/io.h, whose include guard it takes, so that
 * MMIO goes through the VMM's bus, the TSC is CLOCK_MONOTONIC in ns, and
 * port I/O does nothing.  Everything else of the guest's code is compiled
 * unchanged; the harness provides heap, delay and serial.
 */
#ifndef TG_IO_H
#define TG_IO_H

#include <stdint.h>

uint32_t tgh_mmio_read32(uint64_t addr);
void tgh_mmio_write32(uint64_t addr, uint32_t v);
uint64_t tgh_now_ns(void);
void tgh_abort(const char *why) __attribute__((noreturn));

static inline void outb(uint16_t port, uint8_t v) { (void)port; (void)v; }
static inline uint8_t inb(uint16_t port) { (void)port; return 0; }
static inline void outw(uint16_t port, uint16_t v) { (void)port; (void)v; }
static inline void outl(uint16_t port, uint32_t v) { (void)port; (void)v; }

static inline uint8_t mmio_read8(uint64_t addr)
{
	(void)addr;
	tgh_abort("mmio_read8");
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	(void)addr;
	(void)v;
	tgh_abort("mmio_write8");
}

static inline uint32_t mmio_read32(uint64_t addr) { return tgh_mmio_read32(addr); }
static inline void mmio_write32(uint64_t addr, uint32_t v) { tgh_mmio_write32(addr, v); }

/* The guest relies on x86 TSO plus a compiler barrier; so does this. */
static inline void barrier(void) { __asm__ volatile("" : : : "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" : : : "memory"); }
static inline uint64_t rdtsc(void) { return tgh_now_ns(); }

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b,
			 uint32_t *c, uint32_t *d)
{
	(void)leaf;
	(void)sub;
	*a = *b = *c = *d = 0;
}

static inline __attribute__((noreturn)) void cpu_halt_forever(void)
{
	tgh_abort("cpu_halt_forever");
}

#endif
