/* SPDX-License-Identifier: MIT */
/*
 * scenario=exit code=N [width=1|2|4]: the guest chooses the VMM's exit
 * status through the isa-debug-exit-compatible port 0xf4 (QEMU:
 * "-device isa-debug-exit,iobase=0xf4,iosize=0x04"): the VMM exits with
 * (N << 1) | 1, low 8 bits.  Prints
 *   testguest: exit code=N
 * first.  If the write comes back (no such device), says so and fails, so
 * the VM then ends with the ordinary reset (status 0) and a test notices.
 */
#include "scenario.h"

#include "cmdline.h"
#include "fmt.h"
#include "io.h"

#define DEBUG_EXIT_PORT 0xf4

int scn_exit(void)
{
	uint64_t code = cmdline_u64("code", 0);
	uint64_t width = cmdline_u64("width", 4);

	kprintf("testguest: exit code=%lu\n", code);
	if (width == 1)
		outb(DEBUG_EXIT_PORT, (uint8_t)code);
	else if (width == 2)
		outw(DEBUG_EXIT_PORT, (uint16_t)code);
	else
		outl(DEBUG_EXIT_PORT, (uint32_t)code);
	kprintf("testguest: exit fail reason=still-running\n");
	return 1;
}
