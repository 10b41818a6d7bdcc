/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART (one port), modelled well enough that Linux's 8250 driver
 * probes it quickly and correctly: scratch register, loopback (MCR bit 4
 * reflected in MSR), FIFO detection through FCR/IIR, THRE and RX interrupts
 * with correct IIR priorities.  Guest output goes to `out_fd`; input is fed
 * by the I/O thread through serial_input().  Thread safe (one mutex).
 */
#ifndef DEVICES_SERIAL_H
#define DEVICES_SERIAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"

#define SERIAL_RX_BUF 1024

/* Sets the interrupt line: level 1 while an interrupt is pending, 0 when not. */
typedef void (*serial_irq_fn)(void *opaque, int level);

struct serial {
	pthread_mutex_t lock;
	int out_fd;            /* guest output; -1 discards it */
	serial_irq_fn set_irq;
	void *irq_opaque;
	/* registers, named as in the 16550 datasheet (private) */
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t lsr_err;       /* LSR error bits (OE), cleared by reading LSR */
	uint8_t msr_delta;     /* MSR bits 0-3, cleared by reading MSR */
	int thri_pending;      /* THR-empty interrupt armed */
	int irq_level;         /* last level given to set_irq */
	int tx_stalled;        /* out_fd stayed full: drop bytes until it drains */
	uint64_t tx_dropped;   /* bytes lost because out_fd failed or stayed full */
	/* Optional: when it reads true, a write interrupted by a signal is
	 * abandoned instead of retried (the VMM is stopping its vCPUs). */
	const atomic_bool *stop;
	/* receive FIFO (larger than the 16 bytes of real hardware, so pasted
	 * input is not lost while the guest is slow to drain it) */
	uint8_t rx[SERIAL_RX_BUF];
	unsigned rx_head, rx_count;
	/* Set by the caller after serial_init().  Called (without the lock
	 * held, on a vCPU thread) once serial_input() has refused bytes and
	 * room is back: the buffer drained to half, or loopback ended, so the
	 * I/O thread can resume reading its input. */
	void (*rx_space)(void *opaque);
	void *rx_space_opaque;
	int rx_waiting;        /* serial_input() refused bytes; rx_space owed */
};

/* Initialise and register 8 ports at `base` on the PIO bus.  Output goes to
 * out_fd (-1 discards it); set_irq may be NULL.  0 or -errno. */
int serial_init(struct serial *s, struct bus *pio, uint16_t base, int out_fd,
		serial_irq_fn set_irq, void *irq_opaque);

/* Queue input bytes for the guest; returns how many were accepted (less than
 * n when the buffer is full, none while the guest has the UART in loopback:
 * the caller keeps the rest and retries after the rx_space callback). */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t n);

#endif
