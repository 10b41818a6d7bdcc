/* SPDX-License-Identifier: MIT */
#include "delay.h"

#include "io.h"

/* 8254 PIT channel 2, gated and observed through port 0x61, as on the PC. */
#define PIT_CH2     0x42
#define PIT_CMD     0x43
#define PORT_61     0x61
#define P61_GATE2   0x01 /* gate input of channel 2 */
#define P61_SPEAKER 0x02 /* keep the speaker off */
#define P61_OUT2    0x20 /* output of channel 2 (read only) */
#define PIT_HZ      1193182u
#define CALIB_MS    10
/* Channel 2, lobyte then hibyte, mode 0 (interrupt on terminal count: OUT
 * goes low when the mode is set and high when the count reaches 0), binary. */
#define PIT_CH2_MODE0 0xb0

/* Give up on the PIT after this many TSC ticks (well above 10 ms at any
 * plausible TSC rate): the VMM may have no PIT at all. */
#define CALIB_GIVE_UP_TICKS 2000000000ull
#define GUESS_HZ 3000000000ull /* over-estimating only makes waits longer */

static uint64_t hz;
static enum tsc_source source;

static uint64_t calibrate_pit(void)
{
	const uint16_t count = PIT_HZ * CALIB_MS / 1000;
	uint8_t p61 = inb(PORT_61);
	uint64_t t0, measured = 0;

	outb(PORT_61, (uint8_t)((p61 & ~P61_SPEAKER) | P61_GATE2));
	outb(PIT_CMD, PIT_CH2_MODE0);
	outb(PIT_CH2, count & 0xff);
	outb(PIT_CH2, count >> 8); /* counting starts here (gate is high) */
	t0 = rdtsc();
	/* OUT2 must be low while the count runs down.  If it is already high,
	 * nothing is behind these ports (a missing device reads as 0xff). */
	if (inb(PORT_61) & P61_OUT2)
		goto out;
	while (!(inb(PORT_61) & P61_OUT2)) {
		if (rdtsc() - t0 > CALIB_GIVE_UP_TICKS)
			goto out;
	}
	measured = (rdtsc() - t0) * 1000 / CALIB_MS;
out:
	outb(PORT_61, p61);
	return measured;
}

/* Intel SDM Vol. 2A, CPUID leaves 15H (TSC/crystal ratio) and 16H (base
 * frequency in MHz).  Note: on the PVM hosts CPUID shows the host's values,
 * which is still the right answer for an unscaled TSC. */
static uint64_t cpuid_hz(void)
{
	uint32_t max, a, b, c, d;

	cpuid(0, 0, &max, &b, &c, &d);
	if (max >= 0x15) {
		cpuid(0x15, 0, &a, &b, &c, &d);
		if (a && b && c)
			return (uint64_t)c * b / a;
	}
	if (max >= 0x16) {
		cpuid(0x16, 0, &a, &b, &c, &d);
		if (a & 0xffff)
			return (uint64_t)(a & 0xffff) * 1000000;
	}
	return 0;
}

/* Plausible TSC rates: 100 MHz .. 20 GHz. */
static bool plausible(uint64_t h)
{
	return h >= 100000000ull && h <= 20000000000ull;
}

uint64_t tsc_hz(void)
{
	if (hz)
		return hz;
	hz = calibrate_pit();
	source = TSC_FROM_PIT;
	if (!plausible(hz)) {
		hz = cpuid_hz();
		source = TSC_FROM_CPUID;
	}
	if (!plausible(hz)) {
		hz = GUESS_HZ;
		source = TSC_GUESSED;
	}
	return hz;
}

enum tsc_source tsc_source(void)
{
	tsc_hz();
	return source;
}

uint64_t tsc_from_us(uint64_t us)
{
	/* us * hz fits in 64 bits for waits up to ~1 hour at 5 GHz. */
	return us * tsc_hz() / 1000000;
}

uint64_t deadline_us(uint64_t us)
{
	return rdtsc() + tsc_from_us(us);
}

bool deadline_passed(uint64_t deadline)
{
	return (int64_t)(rdtsc() - deadline) >= 0;
}

void udelay(uint64_t us)
{
	uint64_t d = deadline_us(us);

	while (!deadline_passed(d))
		cpu_relax();
}
