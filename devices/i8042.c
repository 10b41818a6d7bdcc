// SPDX-License-Identifier: MIT
/*
 * i8042 keyboard controller without keyboard or mouse attached.
 *
 * Enough of the controller for Linux's drivers/input/serio/i8042.c to probe
 * it quickly: controller self test (0xaa -> 0x55), CTR read/write
 * (0x20/0x60), interface tests (0xab/0xa9 -> 0x00), port enable/disable
 * reflected in CTR bits 4/5 (i8042_toggle_aux() checks them), and the
 * loop commands 0xd2/0xd3 that echo a byte back (i8042_check_mux() and
 * i8042_check_aux() use 0xd3; answering it avoids a 500 ms timeout each).
 * There is no interrupt output, so the AUX IRQ test fails after 250 ms and
 * Linux leaves the AUX port alone (i8042.noaux skips even that).
 *
 * The important part is the CPU reset: 0xfe (or any 0xf0-0xff "pulse output
 * port" command with bit 0 clear), or 0xd1 with output-port bit 0 clear.
 * Linux's keyboard reboot path (kb_wait() in arch/x86/kernel/reboot.c)
 * first waits for the input buffer to be empty: here it always is, as every
 * write is consumed at once.
 */
#include "i8042.h"

#include <string.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT  0x64

/* Status register (port 0x64 read). */
#define STR_OBF     0x01 /* output buffer full: data waiting on 0x60 */
#define STR_IBF     0x02 /* input buffer full: never, writes are instant */
#define STR_SYS     0x04 /* system flag, mirrors CTR bit 2 */
#define STR_CMD     0x08 /* last write was to 0x64 */
#define STR_UNLOCK  0x10 /* keyboard not inhibited (Linux warns otherwise) */
#define STR_AUXDATA 0x20 /* output byte is from the AUX port */

/* Controller configuration register ("command byte"). */
#define CTR_KBDINT  0x01
#define CTR_SYS     0x04
#define CTR_KBDDIS  0x10
#define CTR_AUXDIS  0x20
#define CTR_XLATE   0x40

/* What a PC BIOS typically leaves: keyboard interrupt on, POST passed,
 * scan-code translation on. */
#define CTR_RESET   (CTR_KBDINT | CTR_SYS | CTR_XLATE)

/* Output port bit 0: the CPU reset line, active low. */
#define OUTPORT_RESET_N 0x01

static void put_out(struct i8042 *k, uint8_t v, int aux)
{
	k->out = v;
	k->out_full = 1;
	k->out_aux = aux;
}

/* A command byte written to 0x64.  Returns 1 if the CPU must be reset. */
static int do_command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	switch (cmd) {
	case 0x20: /* read CTR */
		put_out(k, k->ctr, 0);
		return 0;
	case 0x60: /* write CTR: data follows */
	case 0xd1: /* write output port: data follows */
	case 0xd2: /* write keyboard output buffer: data follows */
	case 0xd3: /* write AUX output buffer: data follows */
	case 0xd4: /* write to AUX device: data follows */
		k->pending_cmd = cmd;
		return 0;
	case 0xa7: /* disable AUX port */
		k->ctr |= CTR_AUXDIS;
		return 0;
	case 0xa8: /* enable AUX port */
		k->ctr &= (uint8_t)~CTR_AUXDIS;
		return 0;
	case 0xa9: /* AUX interface test: 0 = no error */
	case 0xab: /* keyboard interface test: 0 = no error */
		put_out(k, 0x00, 0);
		return 0;
	case 0xaa: /* controller self test: 0x55 = passed */
		put_out(k, 0x55, 0);
		return 0;
	case 0xad: /* disable keyboard port */
		k->ctr |= CTR_KBDDIS;
		return 0;
	case 0xae: /* enable keyboard port */
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		return 0;
	default:
		/* 0xf0-0xff pulse the output-port lines whose bit is 0 in the
		 * low nibble; bit 0 is the reset line (0xfe is the usual one). */
		if ((cmd & 0xf0) == 0xf0 && !(cmd & OUTPORT_RESET_N))
			return 1;
		return 0; /* unknown commands are ignored */
	}
}

/* A byte written to 0x60.  Returns 1 if the CPU must be reset. */
static int do_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	switch (cmd) {
	case 0x60:
		k->ctr = v;
		return 0;
	case 0xd1:
		return !(v & OUTPORT_RESET_N);
	case 0xd2:
		put_out(k, v, 0);
		return 0;
	case 0xd3:
		put_out(k, v, 1);
		return 0;
	default:
		/* 0xd4 or no command: a byte for a device, and none is
		 * attached. */
		return 0;
	}
}

static uint8_t status(const struct i8042 *k)
{
	uint8_t st = STR_UNLOCK | (k->ctr & CTR_SYS ? STR_SYS : 0);

	if (k->out_full)
		st |= STR_OBF | (k->out_aux ? STR_AUXDATA : 0);
	if (k->last_was_cmd)
		st |= STR_CMD;
	return st;
}

/* Ports are one byte wide; wider accesses use byte 0 and read the other
 * lanes as a floating ISA bus (0xff). */
static void i8042_read(void *opaque, uint64_t port, void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t *d = data;

	memset(d, 0xff, len);
	pthread_mutex_lock(&k->lock);
	if (port == I8042_CMD_PORT) {
		d[0] = status(k);
	} else {
		/* An empty buffer still reads its last byte, as on hardware. */
		d[0] = k->out;
		k->out_full = 0;
		k->out_aux = 0;
	}
	pthread_mutex_unlock(&k->lock);
}

static void i8042_write(void *opaque, uint64_t port, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;
	int reset;

	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = port == I8042_CMD_PORT;
	if (port == I8042_CMD_PORT)
		reset = do_command(k, v);
	else
		reset = do_data(k, v);
	pthread_mutex_unlock(&k->lock);

	/* Outside the lock: the callback may stop the VM. */
	if (reset && k->reset)
		k->reset(k->reset_opaque);
}

/* Each range gets its own ops so the handler knows its port from `opaque`
 * alone; `off` is always 0 for a one-byte range. */
static void data_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	i8042_read(opaque, I8042_DATA_PORT, data, len);
}

static void data_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	i8042_write(opaque, I8042_DATA_PORT, data, len);
}

static void cmd_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	i8042_read(opaque, I8042_CMD_PORT, data, len);
}

static void cmd_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	i8042_write(opaque, I8042_CMD_PORT, data, len);
}

static const struct bus_ops data_ops = { .read = data_read, .write = data_write };
static const struct bus_ops cmd_ops = { .read = cmd_read, .write = cmd_write };

int i8042_init(struct i8042 *k, struct bus *pio, void (*reset)(void *), void *opaque)
{
	int ret;

	memset(k, 0, sizeof(*k));
	k->ctr = CTR_RESET;
	k->reset = reset;
	k->reset_opaque = opaque;
	ret = pthread_mutex_init(&k->lock, NULL);
	if (ret)
		return -ret;
	/* Two one-byte ranges: 0x61 in between is the in-kernel PIT's
	 * speaker/gate port and must not be claimed. */
	ret = bus_register(pio, I8042_DATA_PORT, 1, &data_ops, k);
	if (ret) {
		pthread_mutex_destroy(&k->lock);
		return ret;
	}
	/* The bus cannot unregister: if this fails, port 0x60 stays
	 * registered and usable, so the lock stays too (the caller treats
	 * any failure as fatal anyway). */
	return bus_register(pio, I8042_CMD_PORT, 1, &cmd_ops, k);
}
