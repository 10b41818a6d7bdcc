/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables at LAYOUT_MPTABLE (in the
 * EBDA, where Linux and our test guest scan for "_MP_"): one processor entry
 * per vCPU (APIC IDs 0..n-1, the first is the BSP), an ISA bus, the IO-APIC
 * (ID n, at LAYOUT_IOAPIC), I/O interrupt entries for ISA IRQs 0-15 and the
 * virtio-mmio pins, and local interrupt entries (ExtINT, NMI).
 */
#ifndef VMM_MPTABLE_H
#define VMM_MPTABLE_H

#include "base/guest_mem.h"

/* 0, or -E2BIG if n_cpus does not fit in the reserved area, -EINVAL if 0. */
int mptable_write(const struct guest_mem *gm, unsigned n_cpus);

#endif
