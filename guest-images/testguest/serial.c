/* SPDX-License-Identifier: MIT */
/*
 * 16550 UART output by polling.  No interrupts, no receive path (yet).
 * Every port access is an exit to the VMM, so init touches few registers.
 */
#include "serial.h"

#include "io.h"
#include "str.h"
#include "base/layout.h"

#define COM1     LAYOUT_SERIAL_PORT
#define UART_THR 0 /* transmit holding register (write) */
#define UART_IER 1 /* interrupt enable */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */

#define LCR_8N1  0x03
#define MCR_DTR_RTS 0x03
#define FCR_ENABLE_CLEAR 0x07 /* enable FIFOs, clear rx and tx */
#define LSR_THRE 0x20 /* transmit holding register empty */

/* Bound the wait for THRE: a UART model that never reports "empty" must not
 * hang the guest; after this many polls we write anyway. */
#define THRE_POLLS 100000

void serial_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
	outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

static void serial_putc(char c)
{
	for (unsigned i = 0; i < THRE_POLLS; i++) {
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			break;
		cpu_relax();
	}
	outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		serial_putc(s[i]);
}

void serial_puts(const char *s)
{
	serial_write(s, strlen(s));
}
