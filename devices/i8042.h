/* SPDX-License-Identifier: MIT */
/*
 * Minimal i8042 keyboard controller at ports 0x60/0x64: enough for Linux to
 * probe it and for the CPU-reset command (0xfe to port 0x64), which Linux's
 * `reboot=k` and our test guest use to end the VM cleanly.
 */
#ifndef DEVICES_I8042_H
#define DEVICES_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "bus.h"

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;          /* controller configuration ("command byte") */
	uint8_t pending_cmd;  /* command waiting for its data byte on port 0x60 */
	uint8_t out;          /* output buffer */
	int out_full;
	int out_aux;          /* output byte came from the AUX side (status bit 5) */
	int last_was_cmd;     /* last write went to 0x64 (status bit 3) */
	void (*reset)(void *opaque);
	void *reset_opaque;
};

/* Register ports 0x60 and 0x64 (and 0x61 is left to the in-kernel PIT).
 * `reset` (may be NULL) is called on the CPU-reset command (0xfe, or 0xd1
 * with output-port bit 0 clear), on the vCPU thread, without the lock held.
 * 0 or -errno. */
int i8042_init(struct i8042 *k, struct bus *pio, void (*reset)(void *), void *opaque);

#endif
