/* SPDX-License-Identifier: MIT */
/*
 * Running scenarios in ring 3.
 *
 * Why: on the PVM test hosts (docs/test-hosts.md) every ring-0 instruction
 * of the guest is interpreted (~1 us each) while ring-3 code runs natively,
 * so anything that moves or checksums real amounts of data must run in
 * ring 3.  ring3_enter() installs our own GDT (kernel and user segments, a
 * 64-bit TSS whose rsp0 is the stack exceptions land on), our own page
 * tables (identity map of 0-4 GiB in 2 MiB pages, every entry user-
 * accessible, the MMIO hole uncached) and IRETQs to `fn` at CPL 3 with
 * RFLAGS.IOPL=3 (so `in`/`out` to the UART and the i8042 still work) and
 * interrupts off.  There is no way back to ring 0 but an exception, whose
 * handler (trap.c) prints and triple-faults, as it does in ring 0.
 */
#ifndef TG_RING3_H
#define TG_RING3_H

#include <stdbool.h>

/* Switch to ring 3 and call fn(arg) there; never returns (fn must not
 * return either: it ends the VM through the i8042). */
__attribute__((noreturn)) void ring3_enter(void (*fn)(const void *arg),
					   const void *arg);

/* The current privilege level (CS.RPL), 0 or 3. */
unsigned cpu_cpl(void);

#endif
