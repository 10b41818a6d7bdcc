/* SPDX-License-Identifier: MIT */
/*
 * Reading the Intel MultiProcessor Specification 1.4 tables the VMM writes
 * (vmm/mptable.c): find the floating pointer, check both checksums, and
 * collect the processor entries.
 */
#ifndef TG_MPTABLE_H
#define TG_MPTABLE_H

#include <stdbool.h>
#include <stdint.h>

#define MP_MAX_CPUS 256 /* xAPIC IDs are 8 bits */

struct mp_cpu {
	uint8_t apic_id;
	bool enabled; /* CPU flags bit 0 (EN): usable */
	bool bsp;     /* CPU flags bit 1 (BP): the boot processor */
};

struct mp_info {
	uint64_t fps_addr;    /* floating pointer structure */
	uint64_t table_addr;  /* configuration table header */
	uint64_t lapic_addr;  /* local APIC base from the table header */
	unsigned n_cpus;      /* processor entries (enabled or not) */
	unsigned n_entries;   /* all base-table entries walked */
	struct mp_cpu cpus[MP_MAX_CPUS];
};

/* Find and check the tables.  0 on success; otherwise a negative code and
 * *why says what was wrong ("no _MP_ signature", "bad table checksum", ...). */
int mp_parse(struct mp_info *mp, const char **why);

/* Processor entries with the EN flag set. */
unsigned mp_enabled_cpus(const struct mp_info *mp);

#endif
