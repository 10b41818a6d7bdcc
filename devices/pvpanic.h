/* SPDX-License-Identifier: MIT */
/*
 * pvpanic: the guest kernel tells the VMM that it panicked.  QEMU's device
 * (docs/specs/pvpanic.rst), driven by Linux's drivers/misc/pvpanic: one
 * byte register; reading it gives the events the device supports, writing
 * it reports events.  Linux's panic notifier (priority INT_MAX, so before
 * anything else runs) writes PVPANIC_PANICKED, or PVPANIC_CRASH_LOADED when
 * a kdump kernel is loaded and takes over; newer drivers (6.12, not 6.1)
 * also write PVPANIC_SHUTDOWN from a power-off handler.
 *
 * How Linux finds it: pvpanic-mmio matches the device tree compatible
 * "qemu,pvpanic-mmio" (a reg of memory or I/O space) or the ACPI ID
 * "QEMU0001"; pvpanic-pci a PCI device.  Nothing else: there is no
 * command-line parameter.  The VMM puts the register at an MMIO address
 * (in its device tree) and at QEMU's ISA port 0x505 (for guests that use
 * the port directly; Linux needs ACPI to find that one).
 */
#ifndef DEVICES_PVPANIC_H
#define DEVICES_PVPANIC_H

#include <stdint.h>

#include "bus.h"

/* Event bits (Linux include/uapi/misc/pvpanic.h). */
#define PVPANIC_PANICKED     (1u << 0)
#define PVPANIC_CRASH_LOADED (1u << 1)
#define PVPANIC_SHUTDOWN     (1u << 2)
/* What we support, and what a read of the register returns. */
#define PVPANIC_EVENTS       (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED | PVPANIC_SHUTDOWN)

#define PVPANIC_PORT     0x505 /* QEMU's pvpanic-isa default ioport */
#define PVPANIC_PORT_LEN 1

/* What the VMM should do about a write. */
enum pvpanic_action {
	PVPANIC_IGNORE = 0,   /* no event we know (unknown bits are ignored) */
	PVPANIC_PANIC,        /* the kernel panicked: end the VM */
	PVPANIC_CRASH_KERNEL, /* it panicked and boots its crash kernel: let it run */
	PVPANIC_POWER_OFF,    /* a clean power-off */
};

/* The action for a written value.  A panic outranks the others if a guest
 * sets several bits at once. */
enum pvpanic_action pvpanic_action(uint8_t value);

/* Called on the vCPU thread for every write that is not PVPANIC_IGNORE. */
typedef void (*pvpanic_fn)(void *opaque, enum pvpanic_action action, uint8_t value);

struct pvpanic {
	pvpanic_fn event;
	void *opaque;
};

void pvpanic_init(struct pvpanic *p, pvpanic_fn fn, void *opaque);

/* Put the register at `base` on a bus (len bytes; the register is byte 0,
 * other bytes read 0 and a wider write uses its low byte).  May be called
 * for several buses/addresses.  0 or -errno (bus_register). */
int pvpanic_register(struct pvpanic *p, struct bus *bus, uint64_t base, uint64_t len);

#endif
