/* SPDX-License-Identifier: MIT */
/*
 * Time from the TSC.  The TSC rate is measured once, lazily, against the PIT
 * (10 ms); without a usable PIT it comes from CPUID, else a guess.  All
 * waits are busy loops: approximate, but always bounded.
 */
#ifndef TG_DELAY_H
#define TG_DELAY_H

#include <stdbool.h>
#include <stdint.h>

enum tsc_source { TSC_FROM_PIT, TSC_FROM_CPUID, TSC_GUESSED };

/* TSC ticks per second (calibrates on first use). */
uint64_t tsc_hz(void);
enum tsc_source tsc_source(void);

/* TSC ticks in `us` microseconds. */
uint64_t tsc_from_us(uint64_t us);

/* A TSC value `us` microseconds from now, and whether it has passed. */
uint64_t deadline_us(uint64_t us);
bool deadline_passed(uint64_t deadline);

void udelay(uint64_t us);

#endif
