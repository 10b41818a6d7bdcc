// SPDX-License-Identifier: MIT
/*
 * 16550A UART.
 *
 * Register semantics follow the PC16550D datasheet (National Semiconductor /
 * TI, "PC16550D UART with FIFOs", tables 2-4 for the register map, the
 * interrupt identification priorities and what resets each interrupt).  The
 * details that matter are the ones Linux's 8250 driver checks
 * (drivers/tty/serial/8250/8250_port.c):
 *
 *  - autoconfig(): IER reads back its low nibble; loopback with MCR = 0x1a
 *    must give MSR & 0xf0 == 0x90; with FCR bit 0 set, IIR bits 7:6 read 11
 *    (16550A).  autoconfig_16550a() then reads offset 2 with DLAB set
 *    (LCR 0x80, 0xbf, 0xe0) looking for an EFR: we keep returning IIR there,
 *    which is non-zero with the FIFO on, and IIR bits 5:4 are always 0, so
 *    no 16650/16750/NS16550A variant matches.  size_fifo() counts how many
 *    looped-back bytes the RX FIFO holds: 16.
 *  - serial8250_do_startup(): the THRE test needs IIR to report THRE each
 *    time IER.THRI goes 0 -> 1 while the transmitter is idle, and reading
 *    IIR to clear it; the TXEN test needs the same.
 *  - console writes poll LSR for THRE|TEMT (10 ms timeout per byte): both
 *    are always set since a byte is written out the moment it arrives.
 *  - PC wiring: the interrupt output reaches the PIC only while MCR.OUT2 is
 *    set (Linux sets TIOCM_OUT2 in startup), and never in loopback, where
 *    the modem outputs are disconnected from the pins.
 *
 * Locking: one mutex.  Register accesses come from vCPU threads and
 * serial_input() from the I/O thread.  set_irq (a KVM ioctl) is called with
 * the lock held, so level changes reach KVM in the order they happen;
 * rx_space is called after the lock is dropped, since it may call back
 * into serial_input().
 */
#include "serial.h"

#include <errno.h>
#include <stdatomic.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* Register offsets. */
enum {
	REG_RBR_THR = 0, /* DLL when LCR.DLAB */
	REG_IER = 1,     /* DLM when LCR.DLAB */
	REG_IIR_FCR = 2, /* IIR on read, FCR on write, whatever DLAB says */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
	SERIAL_NR_REGS = 8,
};

#define IER_RDI   0x01 /* received data available */
#define IER_THRI  0x02 /* transmitter holding register empty */
#define IER_RLSI  0x04 /* receiver line status */
#define IER_MSI   0x08 /* modem status */
#define IER_MASK  0x0f /* bits 7:4 read as 0 on a 16550A (Linux tests this) */

/* IIR: bit 0 set means "no interrupt"; bits 3:1 identify the source. */
#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_FIFO   0xc0 /* FIFOs enabled (FCR bit 0) */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_KEEP     0xc9 /* enable, DMA mode, RX trigger: bits 1-2 self-clear */

#define LCR_DLAB  0x80

#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define MCR_MASK  0x1f /* bits 7:5 are 0 on a 16550A */

#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_THRE  0x20
#define LSR_TEMT  0x40

#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

/* Hardware RX FIFO depth; only looped-back bytes are limited to it. */
#define HW_FIFO_LEN 16

/* How long one byte may wait for a full out_fd before output is dropped. */
#define TX_WAIT_MS 1000

/* Modem status inputs (MSR bits 7:4).  Outside loopback a terminal is
 * "connected" (DCD, DSR, CTS asserted) so getty, CRTSCTS and UPF_CONS_FLOW
 * never wait.  In loopback the datasheet wires DTR->DSR, RTS->CTS,
 * OUT1->RI, OUT2->DCD. */
static uint8_t msr_lines(const struct serial *s)
{
	uint8_t m = s->mcr, v = 0;

	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	if (m & MCR_DTR)
		v |= MSR_DSR;
	if (m & MCR_RTS)
		v |= MSR_CTS;
	if (m & MCR_OUT1)
		v |= MSR_RI;
	if (m & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

/* The highest-priority enabled pending interrupt (datasheet table 4):
 * receiver line status > received data > THR empty > modem status.
 * We report "data available" for any amount of data, i.e. as if the RX
 * trigger level were 1 byte, so there is no character-timeout case. */
static uint8_t iir_id(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && s->lsr_err)
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && s->msr_delta)
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Drive the output line; only transitions reach set_irq.  Called with the
 * lock held after every state change that can affect it. */
static void update_irq(struct serial *s)
{
	int level = iir_id(s) != IIR_NO_INT &&
		    (s->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->set_irq)
		s->set_irq(s->irq_opaque, level);
}

static void rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/* Whether rx_space is owed now; clears the debt.  Lock held. */
static int rx_take_notify(struct serial *s)
{
	if (!s->rx_waiting || (s->mcr & MCR_LOOP) || s->rx_count > SERIAL_RX_BUF / 2)
		return 0;
	s->rx_waiting = 0;
	return s->rx_space != NULL;
}

/* In loopback the transmitter feeds the receiver.  Like the hardware FIFO
 * (16 bytes, or 1 with FIFOs off) a full receiver drops the new byte and
 * flags an overrun; Linux's size_fifo() relies on this to read 16. */
static void rx_loopback(struct serial *s, uint8_t b)
{
	unsigned cap = (s->fcr & FCR_ENABLE) ? HW_FIFO_LEN : 1;

	if (s->rx_count >= cap) {
		s->lsr_err |= LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_BUF] = b;
	s->rx_count++;
}

/* Write one byte to out_fd.  A blocking fd simply blocks (the terminal sets
 * the pace, as a real line would).  A non-blocking one that stays full for
 * TX_WAIT_MS puts us in "stalled" mode, where bytes are dropped without
 * waiting until a write succeeds again, so a stuck reader cannot freeze the
 * guest one second per byte.  Lock held: output of several vCPUs stays in
 * order. */
static void tx_out(struct serial *s, uint8_t b)
{
	int waited = 0;

	if (s->out_fd < 0)
		return;
	for (;;) {
		ssize_t n = write(s->out_fd, &b, 1);

		if (n == 1) {
			s->tx_stalled = 0;
			return;
		}
		/* EINTR: retry, unless the VMM is shutting down: then the
		 * interrupting signal is vm_stop_vcpus() kicking this vCPU
		 * thread, and a reader that never drains must not keep the
		 * VMM (and everyone waiting for this lock) alive. */
		if (n < 0 && errno == EINTR && !(s->stop && atomic_load(s->stop)))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    !s->tx_stalled && !waited) {
			struct pollfd p = { .fd = s->out_fd, .events = POLLOUT };

			waited = 1;
			if (poll(&p, 1, TX_WAIT_MS) > 0)
				continue;
			s->tx_stalled = 1;
		}
		/* EPIPE, EIO, still full...: the byte is lost, the guest
		 * carries on. */
		s->tx_dropped++;
		return;
	}
}

static uint8_t reg_read(struct serial *s, unsigned reg, int *notify)
{
	uint8_t v;

	switch (reg) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (!s->rx_count)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_BUF;
		s->rx_count--;
		*notify = rx_take_notify(s);
		update_irq(s);
		return v;
	case REG_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case REG_IIR_FCR:
		v = iir_id(s);
		/* Reading IIR clears a THRE interrupt, but only when it is the
		 * one being reported (datasheet table 4). */
		if (v == IIR_THRI) {
			s->thri_pending = 0;
			update_irq(s);
		}
		return v | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		v = s->lsr_err | LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
		s->lsr_err = 0;
		update_irq(s);
		return v;
	case REG_MSR:
		v = msr_lines(s) | s->msr_delta;
		s->msr_delta = 0;
		update_irq(s);
		return v;
	default:
		return s->scr;
	}
}

static void write_ier(struct serial *s, uint8_t v)
{
	uint8_t old = s->ier;

	s->ier = v & IER_MASK;
	/* Enabling the THRE interrupt while the transmitter is idle (always,
	 * here) raises it at once; Linux's THRE and TXEN tests check that it
	 * is raised again on every 0 -> 1 transition. */
	if ((s->ier & IER_THRI) && !(old & IER_THRI))
		s->thri_pending = 1;
	else if (!(s->ier & IER_THRI))
		s->thri_pending = 0;
	update_irq(s);
}

static void write_fcr(struct serial *s, uint8_t v)
{
	/* Changing FCR bit 0 resets both FIFOs; bit 1 resets the RX FIFO and
	 * needs bit 0 set to take effect.  The TX FIFO is always empty. */
	if (((v ^ s->fcr) & FCR_ENABLE) || ((v & FCR_ENABLE) && (v & FCR_CLEAR_RX)))
		rx_clear(s);
	/* Other bits are only programmed while bit 0 is set. */
	s->fcr = (v & FCR_ENABLE) ? (v & FCR_KEEP) : 0;
	update_irq(s);
}

static void write_mcr(struct serial *s, uint8_t v)
{
	uint8_t before = msr_lines(s), after, chg;

	s->mcr = v & MCR_MASK;
	after = msr_lines(s);
	chg = before ^ after;
	if (chg & MSR_CTS)
		s->msr_delta |= MSR_DCTS;
	if (chg & MSR_DSR)
		s->msr_delta |= MSR_DDSR;
	if (chg & MSR_DCD)
		s->msr_delta |= MSR_DDCD;
	if ((before & MSR_RI) && !(after & MSR_RI)) /* trailing edge only */
		s->msr_delta |= MSR_TERI;
	update_irq(s);
}

static void reg_write(struct serial *s, unsigned reg, uint8_t v, int *notify)
{
	switch (reg) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		if (s->mcr & MCR_LOOP)
			rx_loopback(s, v);
		else
			tx_out(s, v);
		/* Writing THR clears the THRE interrupt, and the byte leaves at
		 * once, so THR is empty again: re-armed if enabled. */
		s->thri_pending = (s->ier & IER_THRI) != 0;
		update_irq(s);
		return;
	case REG_IER:
		if (s->lcr & LCR_DLAB)
			s->dlm = v;
		else
			write_ier(s, v);
		return;
	case REG_IIR_FCR:
		write_fcr(s, v);
		*notify = rx_take_notify(s);
		return;
	case REG_LCR:
		s->lcr = v;
		return;
	case REG_MCR:
		write_mcr(s, v);
		*notify = rx_take_notify(s); /* leaving loopback reconnects RX */
		return;
	case REG_LSR:
	case REG_MSR:
		return; /* factory test only; writes ignored */
	default:
		s->scr = v;
		return;
	}
}

static void serial_access(struct serial *s, uint64_t off, uint8_t *data,
			  uint32_t len, int is_write)
{
	void (*cb)(void *) = NULL;
	void *cb_opaque = NULL;
	int notify = 0;

	/* Port I/O to a UART is byte wide (Linux uses inb/outb); a wider
	 * access touches the addressed register only and reads the other
	 * byte lanes as a floating ISA bus would. */
	if (!is_write)
		memset(data, 0xff, len);
	if (off >= SERIAL_NR_REGS || len == 0)
		return;

	pthread_mutex_lock(&s->lock);
	if (is_write)
		reg_write(s, (unsigned)off, data[0], &notify);
	else
		data[0] = reg_read(s, (unsigned)off, &notify);
	if (notify) {
		cb = s->rx_space;
		cb_opaque = s->rx_space_opaque;
	}
	pthread_mutex_unlock(&s->lock);

	if (cb)
		cb(cb_opaque);
}

static void serial_bus_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	serial_access(opaque, off, data, len, 0);
}

static void serial_bus_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	uint8_t b[8] = { 0 };

	memcpy(b, data, len < sizeof(b) ? len : sizeof(b));
	serial_access(opaque, off, b, len, 1);
}

static const struct bus_ops serial_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

int serial_init(struct serial *s, struct bus *pio, uint16_t base, int out_fd,
		serial_irq_fn set_irq, void *irq_opaque)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->out_fd = out_fd;
	s->set_irq = set_irq;
	s->irq_opaque = irq_opaque;
	/* Datasheet master-reset values (IER, IIR, FCR, LCR, MCR = 0, LSR =
	 * THRE|TEMT); the divisor is undefined after reset, so pick what
	 * firmware leaves for a 115200-baud console. */
	s->dll = 1;
	ret = pthread_mutex_init(&s->lock, NULL);
	if (ret)
		return -ret;
	ret = bus_register(pio, base, SERIAL_NR_REGS, &serial_ops, s);
	if (ret) {
		pthread_mutex_destroy(&s->lock);
		return ret;
	}
	return 0;
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t room, i, done = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the receiver is disconnected from the line (datasheet,
	 * MCR bit 4): take nothing now, resume after loopback ends. */
	if (!(s->mcr & MCR_LOOP)) {
		room = SERIAL_RX_BUF - s->rx_count;
		done = n < room ? n : room;
		for (i = 0; i < done; i++)
			s->rx[(s->rx_head + s->rx_count + i) % SERIAL_RX_BUF] = buf[i];
		s->rx_count += (unsigned)done;
	}
	if (done < n)
		s->rx_waiting = 1;
	if (done)
		update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return done;
}
