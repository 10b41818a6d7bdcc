/* SPDX-License-Identifier: MIT */
/*
 * The kernel command line: words separated by blanks, each either `key=value`
 * or a bare `flag`.  No quoting.  When a key appears more than once the last
 * one wins, so a test can append an override.
 */
#ifndef TG_CMDLINE_H
#define TG_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copy the command line out of boot_params (Linux boot protocol) so low
 * memory can be reused afterwards.  `boot_params` may be 0: empty line. */
void cmdline_init(uint64_t boot_params);

/* The whole command line (NUL-terminated, possibly truncated). */
const char *cmdline_get(void);

/* Value of the last `key=value` word: *val points into the command line and
 * is not NUL-terminated; *len may be 0 (`key=`).  False if key is absent. */
bool cmdline_find(const char *key, const char **val, size_t *len);

/* Like cmdline_find, copied NUL-terminated into buf; "" when absent.
 * False if absent or if the value did not fit (then buf holds a prefix). */
bool cmdline_str(const char *key, char *buf, size_t size);

/* Numeric value (decimal or 0x hex); `def` when absent or malformed. */
uint64_t cmdline_u64(const char *key, uint64_t def);

/* Is the bare word `flag` (or `flag=...`) present? */
bool cmdline_has(const char *flag);

#endif
