// SPDX-License-Identifier: MIT
#include "bus.h"

#include <errno.h>
#include <string.h>

int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque)
{
	unsigned i;

	if (len == 0 || base + len < base)
		return -EINVAL;
	if (bus->n == BUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->n; i++) {
		const struct bus_range *r = &bus->r[i];

		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	for (i = 0; i < bus->n && bus->r[i].base < base; i++)
		;
	memmove(&bus->r[i + 1], &bus->r[i], (bus->n - i) * sizeof(bus->r[0]));
	bus->r[i] = (struct bus_range){ base, len, ops, opaque };
	bus->n++;
	return 0;
}

bool bus_dispatch(const struct bus *bus, uint64_t addr, void *data,
		  uint32_t len, bool is_write)
{
	unsigned lo = 0, hi = bus->n;

	/* Binary search for the last range with base <= addr. */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (bus->r[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	const struct bus_range *r = &bus->r[lo - 1];
	uint64_t off = addr - r->base;

	if (off >= r->len || len > r->len - off)
		return false;
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->opaque, off, data, len);
	} else if (r->ops->read) {
		r->ops->read(r->opaque, off, data, len);
	} else {
		memset(data, 0, len);
	}
	return true;
}
