/* SPDX-License-Identifier: MIT */
/*
 * The few string and memory functions the guest needs.  They keep their C
 * library names because the compiler may emit calls to memcpy/memset/memmove/
 * memcmp on its own (struct copies, large initialisers) even when freestanding.
 * Never use them on MMIO: use mmio_read32/mmio_write32 from io.h.
 */
#ifndef TG_STR_H
#define TG_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Does the n-byte string s (not NUL-terminated) equal the C string t? */
bool str_eq_n(const char *s, size_t n, const char *t);

/* Parse an unsigned number (decimal, or hex with 0x prefix) from exactly n
 * bytes.  False on empty input, a bad digit or overflow. */
bool str_to_u64(const char *s, size_t n, uint64_t *out);

/* Sort a[0..n) ascending (heapsort: no recursion, no allocation). */
void sort_u32(uint32_t *a, uint64_t n);

#endif
