/* SPDX-License-Identifier: MIT */
#include "reset.h"

#include <stdint.h>

#include "io.h"
#include "ring3.h"

#define I8042_STATUS   0x64 /* read: status register */
#define I8042_COMMAND  0x64 /* write: controller command */
#define I8042_IBF      0x02 /* status: input buffer full, not ready */
#define I8042_CMD_PULSE_RESET 0xfe /* pulse output line 0 (CPU reset) low */
#define IBF_POLLS      10000

void i8042_reset(void)
{
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
