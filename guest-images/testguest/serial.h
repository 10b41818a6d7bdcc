/* SPDX-License-Identifier: MIT */
/* Polled output on the 16550 UART at COM1 (LAYOUT_SERIAL_PORT). */
#ifndef TG_SERIAL_H
#define TG_SERIAL_H

#include <stddef.h>

/* Put the UART in a known state: 8N1, interrupts off. Call once, early. */
void serial_init(void);

/* Write bytes exactly as given ("\n" is not turned into "\r\n": the host
 * test reads the guest's output byte for byte). */
void serial_write(const char *s, size_t n);
void serial_puts(const char *s);

#endif
