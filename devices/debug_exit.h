/* SPDX-License-Identifier: MIT */
/*
 * An isa-debug-exit-compatible port: the guest chooses the VMM's exit
 * status.  QEMU's convention (hw/misc/debugexit.c, usually configured as
 * "-device isa-debug-exit,iobase=0xf4,iosize=0x04"): writing V to the port
 * ends the emulator with exit((V << 1) | 1), so the status is always odd and
 * a guest test program gets the same status under QEMU and under vmm.
 */
#ifndef DEVICES_DEBUG_EXIT_H
#define DEVICES_DEBUG_EXIT_H

#include <stdint.h>

#include "bus.h"

#define DEBUG_EXIT_PORT 0xf4 /* iobase=0xf4 */
#define DEBUG_EXIT_SIZE 4    /* iosize=0x04: 0xf4..0xf7 */

/* Called on the vCPU thread with the value written and the exit status it
 * asks for, debug_exit_status(value). */
typedef void (*debug_exit_fn)(void *opaque, uint32_t value, int status);

struct debug_exit {
	debug_exit_fn exit;
	void *opaque;
};

/* The process exit status a write of `value` asks for: (value << 1) | 1,
 * of which a process can pass only the low 8 bits to its parent (exit(3)),
 * so 1..255, always odd (V = 0 gives 1, V = 127 gives 255, V = 128 gives 1
 * again). */
int debug_exit_status(uint32_t value);

/* Register DEBUG_EXIT_SIZE ports at `base` on the PIO bus.  A write of any
 * width (1, 2 or 4 bytes, at any of the ports) calls `fn` with the value
 * written; reads return 0, as QEMU's do.  0 or -errno (bus_register). */
int debug_exit_init(struct debug_exit *d, struct bus *pio, uint16_t base,
		    debug_exit_fn fn, void *opaque);

#endif
