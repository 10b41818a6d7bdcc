/* SPDX-License-Identifier: MIT */
/*
 * scenario=panic [via=port|mmio|reboot] [event=E]: report a kernel panic the
 * ways a Linux guest can, so the VMM's panic exit status can be tested
 * without Linux:
 *   via=port    write event E (default 1, "panicked") to the pvpanic port
 *               0x505 (QEMU's pvpanic-isa), after reading its capabilities
 *   via=mmio    the same through the pvpanic register at 0xd1000000 (what
 *               the VMM's device tree describes as "qemu,pvpanic-mmio")
 *   via=reboot  what Linux's panic() does with reboot=panic_warm and no
 *               pvpanic: the warm-reboot flag 0x1234 at 0x472, then the
 *               i8042 reset
 * Prints
 *   testguest: panic via=V caps=0xC
 * (caps: what the register reads, 0xff where nothing is there; 0 for
 * via=reboot).  If the VM still runs after the report, says so and returns
 * (main() then resets).
 */
#include "scenario.h"

#include "cmdline.h"
#include "fmt.h"
#include "io.h"
#include "reset.h"
#include "str.h"

#define PVPANIC_PORT     0x505
#define PVPANIC_MMIO     0xd1000000ull
#define BDA_RESET_FLAG   0x472ull /* BIOS data area: warm-reboot flag word */
#define RESET_FLAG_WARM  0x1234

int scn_panic(void)
{
	char via[16];
	uint8_t event = (uint8_t)cmdline_u64("event", 1);
	unsigned caps = 0;

	if (!cmdline_str("via", via, sizeof(via)))
		memcpy(via, "port", sizeof("port"));
	if (strcmp(via, "port") == 0) {
		caps = inb(PVPANIC_PORT);
		kprintf("testguest: panic via=port caps=0x%x\n", caps);
		outb(PVPANIC_PORT, event);
	} else if (strcmp(via, "mmio") == 0) {
		caps = mmio_read8(PVPANIC_MMIO);
		kprintf("testguest: panic via=mmio caps=0x%x\n", caps);
		mmio_write8(PVPANIC_MMIO, event);
	} else if (strcmp(via, "reboot") == 0) {
		kprintf("testguest: panic via=reboot caps=0x0\n");
		/* A store through asm: GCC refuses a pointer made from
		 * such a small constant (-Warray-bounds). */
		__asm__ volatile("movw %0, (%1)" : : "r"((uint16_t)RESET_FLAG_WARM),
				 "r"((uint64_t)BDA_RESET_FLAG) : "memory");
		i8042_reset();
	} else {
		kprintf("testguest: panic fail reason=unknown-via via=%s\n", via);
		return 1;
	}
	kprintf("testguest: panic: still running after the report\n");
	return 0;
}
