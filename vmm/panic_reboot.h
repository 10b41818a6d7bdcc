/* SPDX-License-Identifier: MIT */
/*
 * A Linux guest's reboot after a panic, told apart from a clean reboot: the
 * panic detection for guests that cannot find pvpanic (command-line
 * discovery has no device tree and we have no ACPI; see devices/pvpanic.h).
 *
 * Linux's panic() reboots after panic=N seconds (N != 0; N < 0: at once)
 * through emergency_restart(), a clean `reboot` through kernel_restart();
 * both end in native_machine_emergency_restart() (arch/x86/kernel/reboot.c),
 * which with reboot=k writes 0xfe to the i8042: the same at the port.  But
 * first it tells the BIOS whether to do a warm reboot, in the BIOS data area:
 *     *((unsigned short *)__va(0x472)) = reboot_mode == REBOOT_WARM ? 0x1234 : 0;
 * and panic() switches reboot_mode to panic_reboot_mode when the command
 * line sets one ("reboot=panic_warm", kernel/reboot.c reboot_setup()).  With
 * that parameter a clean reboot leaves 0 there (x86's default mode is cold)
 * and the reboot of a panic leaves 0x1234.  Linux 6.1 and 6.12 alike.
 */
#ifndef VMM_PANIC_REBOOT_H
#define VMM_PANIC_REBOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/guest_mem.h"

#define PANIC_REBOOT_PARAM   "reboot=panic_warm"
#define PANIC_REBOOT_FLAG    0x472ULL /* BIOS data area: reset flag word */
#define PANIC_REBOOT_WARM    0x1234   /* "warm reboot" */

/* Can a warm reboot flag mean "panic" with this command line?  False when
 * the command line makes every reboot warm (a reboot= item starting with
 * 'w', e.g. reboot=w or reboot=k,warm): then a clean reboot sets the flag
 * too.  Only the kernel's part counts (before a "--" word). */
bool panic_reboot_applicable(const char *cmdline);

/* Add " reboot=panic_warm" to the kernel's part of cmdline (before a "--"
 * word, else at the end), in place; size is the buffer's.  0, or
 * -ENAMETOOLONG (cmdline unchanged). */
int panic_reboot_add(char *cmdline, size_t size);

/* Did the guest ask for a warm reboot (the flag word is 0x1234)?  Call when
 * it resets the VM. */
bool panic_reboot_seen(const struct guest_mem *gm);

#endif
