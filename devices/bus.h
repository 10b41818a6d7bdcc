/* SPDX-License-Identifier: MIT */
/*
 * An address bus for port I/O or MMIO.  Devices register a range with an ops
 * table and an opaque pointer before the vCPUs start; afterwards the table is
 * read-only, so vCPU threads dispatch without a lock.  Devices do their own
 * locking.
 */
#ifndef DEVICES_BUS_H
#define DEVICES_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	/* `off` is relative to the registered base; len is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t off, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t off, const void *data, uint32_t len);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_ops *ops;
	void *opaque;
};

#define BUS_MAX_RANGES 64

struct bus {
	unsigned n;
	struct bus_range r[BUS_MAX_RANGES]; /* sorted by base, non-overlapping */
};

/* 0, -EINVAL (len 0 or wraps), -EEXIST (overlap) or -ENOSPC. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque);

/* Dispatch an access.  Returns false if no device claims [addr, addr+len);
 * then a read leaves `data` untouched (the caller decides what floats). */
bool bus_dispatch(const struct bus *bus, uint64_t addr, void *data,
		  uint32_t len, bool is_write);

#endif
