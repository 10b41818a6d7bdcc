/* SPDX-License-Identifier: MIT */
#include "reset.h"

#include <stdint.h>

#include "io.h"
#include "pvh.h"
#include "ring3.h"

#define I8042_STATUS   0x64 /* read: status register */
#define I8042_COMMAND  0x64 /* write: controller command */
#define I8042_IBF      0x02 /* status: input buffer full, not ready */
#define I8042_CMD_PULSE_RESET 0xfe /* pulse output line 0 (CPU reset) low */
#define IBF_POLLS      10000
/* PVH boot (QEMU microvm): no i8042 there.  End through QEMU's
 * isa-debug-exit at 0xf4 instead (the harness adds it); QEMU exits
 * (value << 1) | 1, so 0x10 gives status 33: "the guest reset". */
#define DEBUG_EXIT_PORT 0xf4
#define PVH_RESET_CODE  0x10

void i8042_reset(void)
{
	if (tg_boot_pvh) {
		outb(DEBUG_EXIT_PORT, PVH_RESET_CODE);
		/* No debug-exit device: a triple fault ends QEMU under
		 * -no-reboot (from ring 0; ring 3 has no way to fault that
		 * hard, so it falls through to the i8042 and waits). */
		if (cpu_cpl() == 0)
			cpu_triple_fault();
	}
	/* A real controller takes a command only with its input buffer empty;
	 * bounded, so a model that never clears IBF cannot hang us here. */
	for (unsigned i = 0; i < IBF_POLLS; i++) {
		if (!(inb(I8042_STATUS) & I8042_IBF))
			break;
		cpu_relax();
	}
	outb(I8042_COMMAND, I8042_CMD_PULSE_RESET);
	/* HLT is privileged: in ring 3 (ring3.h) it would #GP before the VMM
	 * got round to ending the VM, so wait there with PAUSE instead. */
	if (cpu_cpl() != 0)
		for (;;)
			cpu_relax();
	cpu_halt_forever();
}

void cpu_triple_fault(void)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty_idt = { 0, 0 };

	__asm__ volatile("cli\n\t"
			 "lidt %0\n\t"
			 "ud2"
			 : : "m"(empty_idt) : "memory");
	cpu_halt_forever(); /* not reached */
}
