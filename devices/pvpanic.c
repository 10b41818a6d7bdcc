// SPDX-License-Identifier: MIT
/*
 * pvpanic register (see pvpanic.h).  Stateless: reads give the supported
 * events, writes are decoded into an action for the VMM; no lock needed.
 */
#include "pvpanic.h"

#include <string.h>

enum pvpanic_action pvpanic_action(uint8_t value)
{
	if (value & PVPANIC_PANICKED)
		return PVPANIC_PANIC;
	if (value & PVPANIC_CRASH_LOADED)
		return PVPANIC_CRASH_KERNEL;
	if (value & PVPANIC_SHUTDOWN)
		return PVPANIC_POWER_OFF;
	return PVPANIC_IGNORE;
}

/* Linux's devm_pvpanic_probe() reads the register once and only ever
 * reports events whose bit was set in it (ioread8(base) & its own set). */
static void pvpanic_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	uint8_t *d = data;

	memset(d, 0, len);
	if (off == 0)
		d[0] = PVPANIC_EVENTS;
}

static void pvpanic_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pvpanic *p = opaque;
	uint8_t v = *(const uint8_t *)data;
	enum pvpanic_action a;

	if (off != 0)
		return;
	a = pvpanic_action(v);
	if (a != PVPANIC_IGNORE && p->event)
		p->event(p->opaque, a, v);
}

static const struct bus_ops pvpanic_ops = {
	.read = pvpanic_read,
	.write = pvpanic_write,
};

void pvpanic_init(struct pvpanic *p, pvpanic_fn fn, void *opaque)
{
	p->event = fn;
	p->opaque = opaque;
}

int pvpanic_register(struct pvpanic *p, struct bus *bus, uint64_t base, uint64_t len)
{
	return bus_register(bus, base, len, &pvpanic_ops, p);
}
