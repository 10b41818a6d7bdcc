/* SPDX-License-Identifier: MIT */
/* Ending the VM: a clean reset through the i8042, or a deliberate triple fault. */
#ifndef TG_RESET_H
#define TG_RESET_H

/* Pulse the CPU reset line through the keyboard controller (command 0xfe to
 * port 0x64); the VMM treats this as "guest finished" and exits 0.  If the
 * reset does not happen, halt forever.  After a PVH boot (pvh.h: QEMU
 * microvm, no i8042) first write 0x10 to the debug-exit port 0xf4 (QEMU
 * exits 33), then, in ring 0, triple-fault (QEMU -no-reboot exits 0). */
__attribute__((noreturn)) void i8042_reset(void);

/* Triple fault on purpose: load an empty IDT and raise #UD.  #UD cannot be
 * delivered (vector beyond the IDT limit) -> #GP -> #DF -> shutdown; the VMM
 * must report a failure and exit non-zero.  ud2, not int3: INT3 is not
 * emulated on the PVM hosts. */
__attribute__((noreturn)) void cpu_triple_fault(void);

#endif
