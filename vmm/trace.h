/* SPDX-License-Identifier: MIT */
/* --trace-boot: timestamps and memory figures printed at exit, for the
 * start-up benchmark (bench/) and the closing notes. */
#ifndef VMM_TRACE_H
#define VMM_TRACE_H

#include <stdint.h>
#include <stdio.h>

struct vm;

/* The file trace_rss() reads; the sandbox lets the I/O thread open this
 * very string (by address) at exit. */
extern const char trace_smaps_path[];

/* Resident memory of this process, in KiB: `total` (VmRSS) and `guest`
 * (the part inside guest RAM's mapping at [base, base+size)).  0 or -errno. */
int trace_rss(const void *base, uint64_t size, uint64_t *total_kib, uint64_t *guest_kib);

/* One line: "vmm: trace-boot main=NS first-exit=NS end=NS rss-kib=K
 * guest-rss-kib=G vmm-rss-kib=K-G". */
void trace_report(FILE *f, const struct vm *vm);

#endif
