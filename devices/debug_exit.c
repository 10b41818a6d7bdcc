// SPDX-License-Identifier: MIT
/*
 * isa-debug-exit-compatible port (see debug_exit.h).  Stateless: the write
 * handler only turns the value into a status and hands both to the VMM,
 * which ends the VM; nothing here needs a lock.
 */
#include "debug_exit.h"

#include <string.h>

int debug_exit_status(uint32_t value)
{
	return (int)((((uint64_t)value << 1) | 1) & 0xff);
}

static void debug_exit_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
}

/* QEMU passes the value written whatever the port within the range and
 * the access width; so do we (little-endian, as port I/O is). */
static void debug_exit_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct debug_exit *d = opaque;
	const uint8_t *b = data;
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && i < sizeof(v); i++)
		v |= (uint32_t)b[i] << (8 * i);
	if (d->exit)
		d->exit(d->opaque, v, debug_exit_status(v));
}

static const struct bus_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

int debug_exit_init(struct debug_exit *d, struct bus *pio, uint16_t base,
		    debug_exit_fn fn, void *opaque)
{
	d->exit = fn;
	d->opaque = opaque;
	return bus_register(pio, base, DEBUG_EXIT_SIZE, &debug_exit_ops, d);
}
