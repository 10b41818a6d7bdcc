/* SPDX-License-Identifier: MIT */
/*
 * A small printf.  Conversions: %d %i %u %x %X %p %s %c %%, with an optional
 * '-' or '0' flag, a field width, and the length modifiers l, ll, z
 * (so %lx, %lu, %ld, %zu work).  No precision, no floating point.
 */
#ifndef TG_FMT_H
#define TG_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Like vsnprintf: writes at most size bytes including the NUL and returns
 * the length the full output would have had. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Format and write to the serial port.  Output longer than 512 bytes per
 * call is cut.  Not safe to call from two CPUs at once (only the BSP runs C
 * code so far). */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
