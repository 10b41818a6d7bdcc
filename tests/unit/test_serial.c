// SPDX-License-Identifier: MIT
/*
 * 16550A model, driven through the PIO bus as a vCPU would.  The probe
 * tests replay the register sequences of Linux 6.1's 8250 driver
 * (drivers/tty/serial/8250/8250_port.c: autoconfig(), autoconfig_16550a(),
 * size_fifo(), serial8250_do_startup()) and check the answers that make it
 * pick "16550A" without any timeout.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/bus.h"
#include "devices/serial.h"

#define BASE 0x3f8

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3,
       MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static struct bus bus;
static struct serial uart;
static int out_pipe[2];

/* Every level the UART put on its interrupt line, in order. */
static int irq_log[256];
static unsigned irq_n;
static int irq_last;

static unsigned space_calls;
static int space_reenter; /* rx_space calls serial_input() (lock must be free) */

static void fake_irq(void *opaque, int level)
{
	ck_assert_ptr_eq(opaque, &uart);
	if (irq_n < sizeof(irq_log) / sizeof(irq_log[0]))
		irq_log[irq_n] = level;
	irq_n++;
	irq_last = level;
}

static void fake_space(void *opaque)
{
	ck_assert_ptr_eq(opaque, &space_calls);
	space_calls++;
	if (space_reenter) {
		uint8_t b = '!';

		ck_assert_uint_eq(serial_input(&uart, &b, 1), 1);
	}
}

static void setup(void)
{
	memset(&bus, 0, sizeof(bus));
	irq_n = 0;
	irq_last = 0;
	space_calls = 0;
	space_reenter = 0;
	ck_assert_int_eq(pipe2(out_pipe, O_NONBLOCK), 0);
	ck_assert_int_eq(serial_init(&uart, &bus, BASE, out_pipe[1], fake_irq, &uart), 0);
	uart.rx_space = fake_space;
	uart.rx_space_opaque = &space_calls;
}

static void teardown(void)
{
	close(out_pipe[0]);
	if (out_pipe[1] >= 0)
		close(out_pipe[1]);
}

static void out8(unsigned reg, uint8_t v)
{
	ck_assert(bus_dispatch(&bus, BASE + reg, &v, 1, true));
}

static uint8_t in8(unsigned reg)
{
	uint8_t v = 0;

	ck_assert(bus_dispatch(&bus, BASE + reg, &v, 1, false));
	return v;
}

/* Bytes the guest sent, from the read end of the pipe. */
static size_t drain_out(char *buf, size_t cap)
{
	ssize_t n = read(out_pipe[0], buf, cap);

	return n < 0 ? 0 : (size_t)n;
}

static void input_str(const char *s)
{
	ck_assert_uint_eq(serial_input(&uart, (const uint8_t *)s, strlen(s)), strlen(s));
}

/* ---- probing ------------------------------------------------------------ */

START_TEST(probe_autoconfig)
{
	uint8_t scratch, save_mcr, save_lcr, st1, st2;

	/* IER existence test */
	scratch = in8(IER);
	out8(IER, 0);
	ck_assert_uint_eq(in8(IER) & 0x0f, 0);
	out8(IER, 0x0f);
	ck_assert_uint_eq(in8(IER) & 0x0f, 0x0f);
	out8(IER, scratch);

	/* loopback test: MCR = LOOP | OUT2 | RTS -> DCD | CTS */
	save_mcr = in8(MCR);
	save_lcr = in8(LCR);
	out8(MCR, 0x10 | 0x0a);
	ck_assert_uint_eq(in8(MSR) & 0xf0, 0x90);
	out8(MCR, save_mcr);

	/* FIFO detection: IIR bits 7:6 == 3 -> 16550A */
	out8(LCR, 0xbf);
	out8(FCR, 0); /* "EFR" */
	out8(LCR, 0);
	out8(FCR, 0x01);
	ck_assert_uint_eq(in8(IIR) >> 6, 3);

	/* autoconfig_16550a(): no EFR with DLAB set ... */
	out8(LCR, 0x80);
	ck_assert_uint_ne(in8(IIR), 0);
	out8(LCR, 0xbf);
	ck_assert_uint_ne(in8(IIR), 0);
	/* ... not a NatSemi (EXCR1 at LCR 0xe0 must not follow MCR.LOOP) ... */
	out8(LCR, 0);
	st1 = in8(MCR);
	out8(LCR, 0xe0);
	st2 = in8(2);
	ck_assert_uint_eq((st1 ^ st2) & 0x10, 0);
	out8(LCR, 0);
	out8(MCR, st1 ^ 0x10);
	out8(LCR, 0xe0);
	st2 = in8(2);
	out8(LCR, 0);
	out8(MCR, st1);
	ck_assert_uint_eq((st1 ^ st2) & 0x10, 0);
	/* ... not a TI16750 (IIR bit 5 never set) ... */
	out8(LCR, 0);
	out8(FCR, 0x21);
	st1 = in8(IIR) >> 5;
	out8(FCR, 0x01);
	out8(LCR, 0x80);
	out8(FCR, 0x21);
	st2 = in8(IIR) >> 5;
	out8(FCR, 0x01);
	out8(LCR, 0);
	ck_assert_uint_eq(st1, 6);
	ck_assert_uint_eq(st2, 6);
	/* ... not an XScale (IER bit 6 not writable) */
	scratch = in8(IER);
	out8(IER, scratch | 0x40);
	ck_assert_uint_eq(in8(IER) & 0x40, 0);
	out8(IER, scratch);

	out8(LCR, save_lcr);
	out8(MCR, save_mcr);
	/* serial8250_clear_fifos(), then the LSR safety check of startup */
	out8(FCR, 0x01);
	out8(FCR, 0x07);
	out8(FCR, 0);
	(void)in8(RBR);
	out8(IER, 0);
	ck_assert_uint_ne(in8(LSR), 0xff);

	/* OUT2 was never set: the line never moved. */
	ck_assert_uint_eq(irq_n, 0);
	/* Nothing of the probe reached the terminal. */
	char buf[8];
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 0);
}
END_TEST

/* size_fifo(): 256 bytes looped back at once, count what the RX FIFO held. */
START_TEST(probe_size_fifo)
{
	unsigned count;

	out8(LCR, 0);
	out8(FCR, 0x07);
	out8(MCR, 0x10);
	out8(LCR, 0x80);
	out8(DLL, 1);
	out8(DLM, 0);
	out8(LCR, 0x03);
	for (count = 0; count < 256; count++)
		out8(THR, (uint8_t)count);
	for (count = 0; (in8(LSR) & 0x01) && count < 256; count++)
		ck_assert_uint_eq(in8(RBR), count);
	ck_assert_uint_eq(count, 16);
	out8(MCR, 0);

	char buf[8];
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(scratch_register)
{
	out8(SCR, 0xa5);
	ck_assert_uint_eq(in8(SCR), 0xa5);
	out8(SCR, 0x5a);
	ck_assert_uint_eq(in8(SCR), 0x5a);
}
END_TEST

START_TEST(dlab_switches_registers)
{
	char buf[8];

	out8(IER, 0x05);
	out8(LCR, 0x83);
	out8(DLL, 0x0c);
	out8(DLM, 0x02);
	ck_assert_uint_eq(in8(DLL), 0x0c);
	ck_assert_uint_eq(in8(DLM), 0x02);
	ck_assert_uint_eq(in8(LCR), 0x83);
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 0); /* DLL write sent nothing */
	out8(LCR, 0x03);
	ck_assert_uint_eq(in8(IER), 0x05);                 /* IER untouched by DLM */
	out8(THR, 'x');
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'x');
	out8(LCR, 0x83);
	ck_assert_uint_eq(in8(DLL), 0x0c);                 /* THR write kept DLL */
}
END_TEST

START_TEST(lsr_always_ready_to_send)
{
	/* Console writes poll for THRE|TEMT before and after each byte. */
	for (int i = 0; i < 100; i++) {
		ck_assert_uint_eq(in8(LSR) & 0x60, 0x60);
		out8(THR, 'a');
	}
	ck_assert_uint_eq(in8(LSR), 0x60);
}
END_TEST

START_TEST(output_reaches_fd)
{
	const char *msg = "Linux version 6.1\r\n";
	char buf[64];

	for (const char *p = msg; *p; p++)
		out8(THR, (uint8_t)*p);
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), strlen(msg));
	ck_assert(memcmp(buf, msg, strlen(msg)) == 0);
}
END_TEST

/* ---- interrupts ---------------------------------------------------------- */

START_TEST(thre_raised_on_enable_cleared_by_iir)
{
	out8(FCR, 0x01);
	out8(MCR, 0x08); /* OUT2 */
	ck_assert_uint_eq(irq_n, 0);
	ck_assert_uint_eq(in8(IIR), 0xc1);

	out8(IER, 0x02);
	ck_assert_uint_eq(irq_n, 1);
	ck_assert_int_eq(irq_log[0], 1);
	ck_assert_uint_eq(in8(IIR), 0xc2);   /* reading it clears it */
	ck_assert_uint_eq(irq_n, 2);
	ck_assert_int_eq(irq_log[1], 0);
	ck_assert_uint_eq(in8(IIR), 0xc1);

	/* serial8250_do_startup()'s THRE test: must be re-asserted after
	 * IER 0 -> THRI, else Linux sets UART_BUG_THRE and polls by timer. */
	out8(IER, 0);
	out8(IER, 0x02);
	ck_assert_uint_eq(in8(IIR) & 0x0f, 0x02);
	out8(IER, 0);

	/* TXEN test: IER = THRI, then LSR.TEMT with IIR showing the interrupt. */
	out8(IER, 0x02);
	ck_assert_uint_ne(in8(LSR) & 0x40, 0);
	ck_assert_uint_eq(in8(IIR) & 0x01, 0);
	out8(IER, 0);
	ck_assert_uint_eq(irq_last, 0);
}
END_TEST

START_TEST(thre_rearmed_by_thr_write)
{
	char buf[4];

	out8(MCR, 0x08);
	out8(IER, 0x02);
	ck_assert_uint_eq(in8(IIR), 0x02);
	ck_assert_uint_eq(in8(IIR), 0x01);
	ck_assert_int_eq(irq_last, 0);
	/* The byte leaves at once, so THR is empty again: interrupt again. */
	out8(THR, 'q');
	ck_assert_int_eq(irq_last, 1);
	ck_assert_uint_eq(in8(IIR), 0x02);
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 1);
	/* Disabling THRI drops the line without an IIR read. */
	out8(THR, 'r');
	ck_assert_int_eq(irq_last, 1);
	out8(IER, 0);
	ck_assert_int_eq(irq_last, 0);
	ck_assert_uint_eq(in8(IIR), 0x01);
}
END_TEST

START_TEST(rx_interrupt_until_drained)
{
	out8(MCR, 0x0b); /* DTR | RTS | OUT2, as Linux leaves it */
	out8(IER, 0x05); /* RDI | RLSI */
	ck_assert_uint_eq(irq_n, 0);
	ck_assert_uint_eq(in8(LSR) & 0x01, 0);

	input_str("ab");
	ck_assert_uint_eq(irq_n, 1);
	ck_assert_int_eq(irq_log[0], 1);
	ck_assert_uint_eq(in8(IIR), 0x04);
	ck_assert_uint_eq(in8(LSR) & 0x01, 1);
	ck_assert_uint_eq(in8(RBR), 'a');
	ck_assert_uint_eq(irq_n, 1);         /* still data: line stays up */
	ck_assert_uint_eq(in8(RBR), 'b');
	ck_assert_uint_eq(irq_n, 2);
	ck_assert_int_eq(irq_log[1], 0);
	ck_assert_uint_eq(in8(LSR) & 0x01, 0);
	ck_assert_uint_eq(in8(IIR), 0x01);
	ck_assert_uint_eq(in8(RBR), 0);      /* empty: no underflow */
	ck_assert_uint_eq(irq_n, 2);
}
END_TEST

START_TEST(rx_data_without_rdi_no_irq)
{
	out8(MCR, 0x08);
	out8(IER, 0x00);
	input_str("z");
	ck_assert_uint_eq(irq_n, 0);
	ck_assert_uint_eq(in8(IIR), 0x01);
	ck_assert_uint_eq(in8(LSR) & 0x01, 1); /* polled consoles still see it */
	ck_assert_uint_eq(in8(RBR), 'z');
}
END_TEST

START_TEST(out2_gates_irq)
{
	out8(IER, 0x01);
	input_str("x");
	ck_assert_uint_eq(irq_n, 0);         /* pending, but OUT2 is low */
	ck_assert_uint_eq(in8(IIR), 0x04);
	out8(MCR, 0x08);
	ck_assert_uint_eq(irq_n, 1);
	ck_assert_int_eq(irq_log[0], 1);
	out8(MCR, 0x00);
	ck_assert_uint_eq(irq_n, 2);
	ck_assert_int_eq(irq_log[1], 0);
	out8(MCR, 0x08);
	ck_assert_uint_eq(irq_n, 3);
	/* Loopback disconnects the output even with OUT2 set. */
	out8(MCR, 0x18);
	ck_assert_uint_eq(irq_n, 4);
	ck_assert_int_eq(irq_log[3], 0);
	ck_assert_uint_eq(in8(IIR), 0x04);   /* still identified internally */
}
END_TEST

START_TEST(iir_priorities)
{
	out8(FCR, 0x01);
	/* loopback; DTR off so DSR drops: a modem status change */
	out8(MCR, 0x10 | 0x0a);
	out8(IER, 0x0f);
	/* 17 bytes into a 16-byte FIFO: overrun */
	for (int i = 0; i < 17; i++)
		out8(THR, (uint8_t)('A' + i));

	ck_assert_uint_eq(in8(IIR), 0xc6);   /* receiver line status first */
	ck_assert_uint_eq(in8(IIR), 0xc6);   /* IIR read does not clear it */
	ck_assert_uint_eq(in8(LSR) & 0x03, 0x03);  /* OE | DR, clears OE */
	ck_assert_uint_eq(in8(LSR) & 0x02, 0);
	ck_assert_uint_eq(in8(IIR), 0xc4);   /* then received data */
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(in8(RBR), 'A' + i);
	ck_assert_uint_eq(in8(IIR), 0xc2);   /* then THR empty, still armed */
	ck_assert_uint_eq(in8(IIR), 0xc0);   /* the read cleared it: modem status */
	ck_assert_uint_ne(in8(MSR) & 0x0f, 0);
	ck_assert_uint_eq(in8(IIR), 0xc1);
	ck_assert_uint_eq(irq_n, 0);          /* loopback: line never driven */
}
END_TEST

START_TEST(iir_read_keeps_thre_when_not_reported)
{
	out8(MCR, 0x08);
	out8(IER, 0x03);
	input_str("k");
	ck_assert_uint_eq(in8(IIR), 0x04);   /* RX hides THRE ... */
	ck_assert_uint_eq(in8(RBR), 'k');
	ck_assert_uint_eq(in8(IIR), 0x02);   /* ... which was not cleared */
	ck_assert_uint_eq(in8(IIR), 0x01);
}
END_TEST

START_TEST(msr_interrupt_on_loopback_change)
{
	out8(MCR, 0x10);                      /* enter loopback */
	(void)in8(MSR);
	out8(IER, 0x08);
	ck_assert_uint_eq(in8(IIR), 0x01);
	out8(MCR, 0x11);                      /* DTR -> DSR */
	ck_assert_uint_eq(in8(IIR), 0x00);
	ck_assert_uint_eq(in8(MSR), 0x22);    /* DSR | DDSR */
	ck_assert_uint_eq(in8(IIR), 0x01);
}
END_TEST

/* ---- modem lines and loopback -------------------------------------------- */

START_TEST(msr_lines_and_deltas)
{
	/* Outside loopback a terminal is connected: DCD, DSR, CTS. */
	ck_assert_uint_eq(in8(MSR), 0xb0);
	out8(MCR, 0x03);
	ck_assert_uint_eq(in8(MSR), 0xb0);    /* MCR does not show outside loop */

	out8(MCR, 0x10 | 0x0f);               /* everything on in loopback */
	ck_assert_uint_eq(in8(MSR) & 0xf0, 0xf0);
	out8(MCR, 0x10 | 0x01);               /* DTR only */
	uint8_t m = in8(MSR);
	ck_assert_uint_eq(m & 0xf0, 0x20);    /* DSR */
	/* CTS and DCD fell, RI fell (trailing edge) */
	ck_assert_uint_eq(m & 0x0f, 0x01 | 0x04 | 0x08);
	ck_assert_uint_eq(in8(MSR) & 0x0f, 0); /* deltas cleared by the read */
	out8(MCR, 0x10 | 0x02);
	ck_assert_uint_eq(in8(MSR), 0x10 | 0x01 | 0x02); /* CTS, DCTS, DDSR */
	out8(MCR, 0x10 | 0x04);
	ck_assert_uint_eq(in8(MSR), 0x40 | 0x01);        /* RI rising: no TERI */
	out8(MCR, 0x10 | 0x08);
	ck_assert_uint_eq(in8(MSR), 0x80 | 0x04 | 0x08); /* TERI, DDCD */
	ck_assert_uint_eq(in8(MCR), 0x18);
	out8(MCR, 0xff);
	ck_assert_uint_eq(in8(MCR), 0x1f);    /* bits 7:5 read as 0 */
}
END_TEST

START_TEST(loopback_keeps_tx_off_the_line)
{
	char buf[8];

	out8(FCR, 0x01);
	out8(MCR, 0x10);
	out8(THR, 'L');
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 0);
	ck_assert_uint_eq(in8(LSR) & 0x61, 0x61);
	ck_assert_uint_eq(in8(RBR), 'L');

	/* The receiver is disconnected from the host input meanwhile. */
	uint8_t in = 'h';
	ck_assert_uint_eq(serial_input(&uart, &in, 1), 0);
	ck_assert_uint_eq(space_calls, 0);
	out8(MCR, 0x00);                      /* loopback off: room again */
	ck_assert_uint_eq(space_calls, 1);
	ck_assert_uint_eq(serial_input(&uart, &in, 1), 1);
	ck_assert_uint_eq(in8(RBR), 'h');
	out8(THR, 'T');
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'T');
}
END_TEST

START_TEST(loopback_without_fifo_holds_one_byte)
{
	out8(MCR, 0x10);
	out8(THR, '1');
	out8(THR, '2');
	ck_assert_uint_eq(in8(LSR) & 0x03, 0x03);
	ck_assert_uint_eq(in8(RBR), '1');
	ck_assert_uint_eq(in8(LSR) & 0x01, 0);
}
END_TEST

/* ---- receive buffer and flow control ------------------------------------- */

START_TEST(rx_full_then_rx_space)
{
	static uint8_t big[SERIAL_RX_BUF + 100];
	unsigned i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	ck_assert_uint_eq(serial_input(&uart, big, sizeof(big)), SERIAL_RX_BUF);
	ck_assert_uint_eq(serial_input(&uart, big, 10), 0);
	ck_assert_uint_eq(space_calls, 0);

	/* Hysteresis: the I/O thread is woken once half the buffer is free. */
	for (i = 0; i < SERIAL_RX_BUF / 2 - 1; i++)
		ck_assert_uint_eq(in8(RBR), (uint8_t)(i * 7));
	ck_assert_uint_eq(space_calls, 0);
	ck_assert_uint_eq(in8(RBR), (uint8_t)(i++ * 7));
	ck_assert_uint_eq(space_calls, 1);
	for (; i < SERIAL_RX_BUF; i++)
		ck_assert_uint_eq(in8(RBR), (uint8_t)(i * 7));
	ck_assert_uint_eq(space_calls, 1);    /* once per refusal */
	ck_assert_uint_eq(in8(LSR) & 0x01, 0);

	/* The rest goes in and comes out in order, across the ring's end. */
	ck_assert_uint_eq(serial_input(&uart, big + SERIAL_RX_BUF, 100), 100);
	for (i = SERIAL_RX_BUF; i < sizeof(big); i++)
		ck_assert_uint_eq(in8(RBR), (uint8_t)(i * 7));
	ck_assert_uint_eq(space_calls, 1);
}
END_TEST

START_TEST(rx_space_called_without_lock)
{
	static uint8_t big[SERIAL_RX_BUF];

	space_reenter = 1;
	ck_assert_uint_eq(serial_input(&uart, big, sizeof(big)), SERIAL_RX_BUF);
	ck_assert_uint_eq(serial_input(&uart, big, 1), 0);
	out8(FCR, 0x07);                      /* RX FIFO reset empties it */
	ck_assert_uint_eq(space_calls, 1);
	ck_assert_uint_eq(in8(RBR), '!');     /* the callback's own input */
}
END_TEST

START_TEST(fcr_resets_rx)
{
	input_str("abc");
	out8(FCR, 0x01);                      /* FIFO mode change: reset */
	ck_assert_uint_eq(in8(LSR) & 0x01, 0);
	input_str("def");
	out8(FCR, 0xc1);                      /* trigger level only: kept */
	ck_assert_uint_eq(in8(LSR) & 0x01, 1);
	out8(FCR, 0xc3);                      /* clear RX */
	ck_assert_uint_eq(in8(LSR) & 0x01, 0);
	ck_assert_uint_eq(in8(IIR), 0xc1);
	out8(FCR, 0x00);
	ck_assert_uint_eq(in8(IIR), 0x01);
}
END_TEST

START_TEST(input_without_callback)
{
	static uint8_t big[SERIAL_RX_BUF + 1];

	uart.rx_space = NULL;
	ck_assert_uint_eq(serial_input(&uart, big, sizeof(big)), SERIAL_RX_BUF);
	for (unsigned i = 0; i < SERIAL_RX_BUF; i++)
		(void)in8(RBR);
	ck_assert_uint_eq(serial_input(&uart, big, 0), 0);
	ck_assert_uint_eq(space_calls, 0);
}
END_TEST

/* The I/O thread feeds a long stream while a "vCPU" thread drains it; the
 * feeder sleeps whenever serial_input() refuses bytes and relies on
 * rx_space alone to wake it, so a lost wake-up shows up as a stall.  The
 * reader sleeps too, until the interrupt line rises: neither thread spins,
 * so the test needs little CPU and keeps working at low priority on a
 * loaded machine.  Only a stall fails it: STALL_S without any progress
 * (a lost wake-up never recovers), not a slow run. */
#define STREAM_LEN 200000
#define STALL_S    60

static sem_t space_sem;
static volatile int stream_failed;
static pthread_mutex_t line_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t line_cond = PTHREAD_COND_INITIALIZER;
static unsigned line_rises;

static void stream_space(void *opaque)
{
	sem_post(&space_sem);
}

/* The UART's interrupt line (only transitions are reported). */
static void stream_irq(void *opaque, int level)
{
	pthread_mutex_lock(&line_lock);
	irq_last = level;
	if (level)
		line_rises++;
	pthread_cond_broadcast(&line_cond);
	pthread_mutex_unlock(&line_lock);
}

static void stream_fail(int why)
{
	pthread_mutex_lock(&line_lock);
	if (!stream_failed)
		stream_failed = why;
	pthread_cond_broadcast(&line_cond);
	pthread_mutex_unlock(&line_lock);
}

static unsigned rises_now(void)
{
	unsigned n;

	pthread_mutex_lock(&line_lock);
	n = line_rises;
	pthread_mutex_unlock(&line_lock);
	return n;
}

/* Sleep until the line rose again after `seen` rises; false after STALL_S. */
static bool wait_rise(unsigned seen)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += STALL_S;
	pthread_mutex_lock(&line_lock);
	while (line_rises == seen && !stream_failed && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&line_cond, &line_lock, &ts);
	pthread_mutex_unlock(&line_lock);
	return r != ETIMEDOUT || line_rises != seen;
}

static void *stream_reader(void *arg)
{
	unsigned got = 0;

	while (got < STREAM_LEN && !stream_failed) {
		/* Count rises before looking: data that arrives after the
		 * look raises the line again, so the wait cannot miss it. */
		unsigned seen = rises_now();
		uint8_t v = 0, lsr = 0;

		bus_dispatch(&bus, BASE + LSR, &lsr, 1, false);
		if (!(lsr & 0x01)) {
			if (!wait_rise(seen))
				stream_fail(3); /* no data for STALL_S */
			continue;
		}
		bus_dispatch(&bus, BASE + RBR, &v, 1, false);
		if (v != (uint8_t)(got * 13 + got / 256)) {
			stream_fail(1);
			break;
		}
		got++;
	}
	return (void *)(uintptr_t)got;
}

START_TEST(stream_with_flow_control)
{
	static uint8_t data[STREAM_LEN];
	pthread_t reader;
	void *got;
	size_t sent = 0;

	for (unsigned i = 0; i < STREAM_LEN; i++)
		data[i] = (uint8_t)(i * 13 + i / 256);
	ck_assert_int_eq(sem_init(&space_sem, 0, 0), 0);
	line_rises = 0;
	uart.rx_space = stream_space;
	uart.set_irq = stream_irq;
	out8(MCR, 0x0b);
	out8(IER, 0x01);
	ck_assert_int_eq(pthread_create(&reader, NULL, stream_reader, NULL), 0);
	while (sent < STREAM_LEN && !stream_failed) {
		size_t want = STREAM_LEN - sent < 300 ? STREAM_LEN - sent : 300;
		size_t n = serial_input(&uart, data + sent, want);

		sent += n;
		if (n < want) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += STALL_S;
			while (sem_timedwait(&space_sem, &ts) != 0) {
				if (errno != EINTR) {
					stream_fail(2); /* no rx_space for STALL_S */
					break;
				}
			}
		}
	}
	pthread_join(reader, &got);
	ck_assert_int_eq(stream_failed, 0);
	ck_assert_uint_eq((uintptr_t)got, STREAM_LEN);
	/* The line followed the data: it ends low once everything is read. */
	ck_assert_int_eq(irq_last, 0);
	sem_destroy(&space_sem);
}
END_TEST

/* ---- hostile or odd accesses and output errors ---------------------------- */

START_TEST(wide_accesses_use_byte_zero)
{
	uint8_t d[4] = { 'w', 'x', 'y', 'z' };
	char buf[8];

	ck_assert(bus_dispatch(&bus, BASE + THR, d, 4, true));
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'w');

	uint16_t v = 0;
	ck_assert(bus_dispatch(&bus, BASE + LSR, &v, 2, false));
	ck_assert_uint_eq(v & 0xff, 0x60);
	/* the bus refuses an access past the last register */
	ck_assert(!bus_dispatch(&bus, BASE + SCR, &v, 2, false));
	uint32_t w = 0;
	ck_assert(!bus_dispatch(&bus, BASE + 6, &w, 4, false));
}
END_TEST

START_TEST(every_register_any_value)
{
	/* A hostile guest writes everything everywhere; nothing may crash,
	 * and the line must end low once interrupts are off. */
	for (unsigned lcr = 0; lcr < 2; lcr++) {
		for (unsigned r = 0; r < 8; r++) {
			for (unsigned v = 0; v < 256; v++) {
				out8(LCR, lcr ? 0x80 : 0x00);
				out8(r, (uint8_t)v);
				(void)in8(r);
			}
		}
	}
	out8(LCR, 0);
	out8(IER, 0);
	out8(MCR, 0);
	ck_assert_int_eq(irq_last, 0);
	ck_assert_uint_eq(in8(IIR) & 0x01, 1);
}
END_TEST

START_TEST(full_nonblocking_output_does_not_hang)
{
	char fill[4096];

	memset(fill, 'f', sizeof(fill));
	while (write(out_pipe[1], fill, sizeof(fill)) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	out8(THR, '1');                       /* waits up to 1 s, then drops */
	ck_assert_uint_eq(uart.tx_dropped, 1);
	ck_assert_int_eq(uart.tx_stalled, 1); /* from now on: no more waiting */
	for (int i = 0; i < 100; i++)
		out8(THR, '2');               /* stalled: dropped at once */
	ck_assert_uint_eq(uart.tx_dropped, 101);
	ck_assert_int_eq(uart.tx_stalled, 1);
	ck_assert_uint_eq(in8(LSR) & 0x60, 0x60);

	/* Once the reader catches up, output flows again. */
	while (read(out_pipe[0], fill, sizeof(fill)) > 0)
		;
	out8(THR, '3');
	ck_assert_uint_eq(drain_out(fill, sizeof(fill)), 1);
	ck_assert_int_eq(fill[0], '3');
}
END_TEST

START_TEST(closed_output_drops_bytes)
{
	signal(SIGPIPE, SIG_IGN);             /* as the VMM does */
	close(out_pipe[0]);
	out_pipe[0] = open("/dev/null", O_RDONLY);
	out8(THR, 'x');
	ck_assert_uint_eq(uart.tx_dropped, 1);
	ck_assert_uint_eq(in8(LSR) & 0x60, 0x60);
}
END_TEST

START_TEST(no_output_fd)
{
	struct bus b2 = { 0 };
	struct serial s2;
	uint8_t v = 'n';

	ck_assert_int_eq(serial_init(&s2, &b2, 0x2f8, -1, NULL, NULL), 0);
	ck_assert(bus_dispatch(&b2, 0x2f8, &v, 1, true));
	v = 0x02;
	ck_assert(bus_dispatch(&b2, 0x2f9, &v, 1, true)); /* no set_irq: fine */
	ck_assert_uint_eq(s2.tx_dropped, 0);
}
END_TEST

START_TEST(init_refuses_taken_ports)
{
	struct serial s2;

	ck_assert_int_eq(serial_init(&s2, &bus, BASE + 4, -1, NULL, NULL), -EEXIST);
	ck_assert_int_eq(serial_init(&s2, &bus, BASE - 7, -1, NULL, NULL), -EEXIST);
	ck_assert_int_eq(serial_init(&s2, &bus, BASE + 8, -1, NULL, NULL), 0);
}
END_TEST

static Suite *serial_suite(void)
{
	Suite *s = suite_create("serial");
	TCase *probe = tcase_create("probe");
	TCase *irq = tcase_create("irq");
	TCase *modem = tcase_create("modem");
	TCase *rx = tcase_create("rx");
	TCase *odd = tcase_create("odd");

	tcase_add_checked_fixture(probe, setup, teardown);
	tcase_add_test(probe, probe_autoconfig);
	tcase_add_test(probe, probe_size_fifo);
	tcase_add_test(probe, scratch_register);
	tcase_add_test(probe, dlab_switches_registers);
	tcase_add_test(probe, lsr_always_ready_to_send);
	tcase_add_test(probe, output_reaches_fd);
	suite_add_tcase(s, probe);

	tcase_add_checked_fixture(irq, setup, teardown);
	tcase_add_test(irq, thre_raised_on_enable_cleared_by_iir);
	tcase_add_test(irq, thre_rearmed_by_thr_write);
	tcase_add_test(irq, rx_interrupt_until_drained);
	tcase_add_test(irq, rx_data_without_rdi_no_irq);
	tcase_add_test(irq, out2_gates_irq);
	tcase_add_test(irq, iir_priorities);
	tcase_add_test(irq, iir_read_keeps_thre_when_not_reported);
	tcase_add_test(irq, msr_interrupt_on_loopback_change);
	suite_add_tcase(s, irq);

	tcase_add_checked_fixture(modem, setup, teardown);
	tcase_add_test(modem, msr_lines_and_deltas);
	tcase_add_test(modem, loopback_keeps_tx_off_the_line);
	tcase_add_test(modem, loopback_without_fifo_holds_one_byte);
	suite_add_tcase(s, modem);

	tcase_add_checked_fixture(rx, setup, teardown);
	/* A backstop only: a stall fails stream_with_flow_control after
	 * STALL_S; a slow run on a loaded machine must not. */
	tcase_set_timeout(rx, 300);
	tcase_add_test(rx, rx_full_then_rx_space);
	tcase_add_test(rx, rx_space_called_without_lock);
	tcase_add_test(rx, fcr_resets_rx);
	tcase_add_test(rx, input_without_callback);
	tcase_add_test(rx, stream_with_flow_control);
	suite_add_tcase(s, rx);

	tcase_add_checked_fixture(odd, setup, teardown);
	tcase_set_timeout(odd, 120); /* every_register_any_value: 12k accesses */
	tcase_add_test(odd, wide_accesses_use_byte_zero);
	tcase_add_test(odd, every_register_any_value);
	tcase_add_test(odd, full_nonblocking_output_does_not_hang);
	tcase_add_test(odd, closed_output_drops_bytes);
	tcase_add_test(odd, no_output_fd);
	tcase_add_test(odd, init_refuses_taken_ports);
	suite_add_tcase(s, odd);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(serial_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
