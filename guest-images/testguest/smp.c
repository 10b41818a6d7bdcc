/* SPDX-License-Identifier: MIT */
/*
 * The universal start-up algorithm: MP spec 1.4 appendix B.4 ("Application
 * Processor Startup", B.4.1 "Using INIT IPI", B.4.2 "Using STARTUP IPI") and
 * Intel SDM Vol. 3A "MP Initialization Example" (§8.4.4 in the editions of
 * the last decade; chapter numbers shift between editions):
 *
 *   for each AP: INIT (level assert), then INIT level de-assert
 *   wait 10 ms
 *   for each AP: STARTUP IPI with vector VV: the AP starts in real mode at
 *                CS:IP = VV00:0000, i.e. physical VV000
 *   wait 200 us
 *   if not all checked in: a second STARTUP IPI (ignored by an AP that is
 *                no longer waiting for one, so nobody starts twice)
 *   wait for the check-ins, bounded
 *
 * All APs are driven in parallel, so the 10 ms INIT wait is paid once.
 * The ICR layout is in SDM Vol. 3A "Interrupt Command Register (ICR)"
 * (§10.6.1 in the same editions).
 */
#include "smp.h"

#include <stdbool.h>

#include "delay.h"
#include "io.h"
#include "str.h"
#include "base/layout.h"

/* Local APIC registers (offsets from the APIC base): SDM Vol. 3A "Local
 * APIC Register Address Map" (Table 10-1). */
#define APIC_ID      0x020 /* bits 31:24: this CPU's APIC ID */
#define APIC_SVR     0x0f0 /* spurious interrupt vector register */
#define APIC_ICR_LO  0x300 /* writing it sends the IPI */
#define APIC_ICR_HI  0x310 /* bits 31:24: destination APIC ID */

#define SVR_ENABLE        0x100 /* APIC software enable */
#define SVR_SPURIOUS_VEC  0xff

#define ICR_DM_INIT       0x500   /* delivery mode 101b */
#define ICR_DM_STARTUP    0x600   /* delivery mode 110b */
#define ICR_BUSY          0x1000  /* delivery status: send pending */
#define ICR_LEVEL_ASSERT  0x4000
#define ICR_TRIGGER_LEVEL 0x8000

#define INIT_WAIT_US 10000
#define SIPI_WAIT_US 200
#define ICR_IDLE_POLLS 100000

/* The SIPI vector is the trampoline's 4 KiB page number below 1 MiB. */
_Static_assert(LAYOUT_TRAMPOLINE % 0x1000 == 0 && LAYOUT_TRAMPOLINE < 0x100000,
	       "SIPI target must be a page below 1 MiB");
#define SIPI_VECTOR ((uint32_t)(LAYOUT_TRAMPOLINE >> 12))

/* The trampoline, assembled in start.S; ap_tramp_count lies inside it. */
extern const char ap_tramp_start[], ap_tramp_end[], ap_tramp_count[];

static uint64_t lapic;

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(lapic + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(lapic + reg, v);
}

/* Send one IPI.  Wait (bounded) for the previous one to leave first: SDM
 * says software should not write the ICR while delivery status is pending. */
static void send_ipi(unsigned apic_id, uint32_t icr_lo)
{
	for (unsigned i = 0; i < ICR_IDLE_POLLS; i++) {
		if (!(lapic_read(APIC_ICR_LO) & ICR_BUSY))
			break;
		cpu_relax();
	}
	lapic_write(APIC_ICR_HI, (uint32_t)apic_id << 24);
	lapic_write(APIC_ICR_LO, icr_lo); /* this write sends it */
}

/* The check-in counter, where the trampoline's copy keeps it. */
static volatile uint32_t *tramp_counter(void)
{
	return (volatile uint32_t *)(uintptr_t)(LAYOUT_TRAMPOLINE +
						(ap_tramp_count - ap_tramp_start));
}

static bool is_ap(const struct mp_cpu *c, unsigned bsp_id)
{
	return c->enabled && c->apic_id != bsp_id;
}

static void sipi_all(const struct mp_info *mp, unsigned bsp_id)
{
	for (unsigned i = 0; i < mp->n_cpus; i++)
		if (is_ap(&mp->cpus[i], bsp_id))
			send_ipi(mp->cpus[i].apic_id, ICR_DM_STARTUP | SIPI_VECTOR);
}

unsigned smp_start_aps(const struct mp_info *mp, uint64_t timeout_us,
		       struct smp_report *rep)
{
	size_t tramp_len = (size_t)(ap_tramp_end - ap_tramp_start);
	volatile uint32_t *count;
	uint64_t t_init, deadline;

	memset(rep, 0, sizeof(*rep));
	lapic = mp->lapic_addr;
	rep->bsp_apic_id = lapic_read(APIC_ID) >> 24;
	for (unsigned i = 0; i < mp->n_cpus; i++)
		rep->aps_expected += is_ap(&mp->cpus[i], rep->bsp_apic_id);
	if (rep->aps_expected == 0)
		return 1;

	/* The trampoline must be in place, and its counter zero, before the
	 * first SIPI.  x86 does not reorder stores with older stores, so the
	 * ICR write below cannot pass these; the barrier stops the compiler. */
	memcpy((void *)(uintptr_t)LAYOUT_TRAMPOLINE, ap_tramp_start, tramp_len);
	count = tramp_counter();
	*count = 0;
	barrier();

	/* Software-enable our local APIC (SVR bit 8), as an OS would before
	 * using it; spurious interrupts, if any, get vector 0xff. */
	lapic_write(APIC_SVR, lapic_read(APIC_SVR) | SVR_ENABLE | SVR_SPURIOUS_VEC);

	t_init = rdtsc();
	for (unsigned i = 0; i < mp->n_cpus; i++) {
		const struct mp_cpu *c = &mp->cpus[i];

		if (!is_ap(c, rep->bsp_apic_id))
			continue;
		send_ipi(c->apic_id, ICR_DM_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL);
		/* De-assert: needed by the discrete 82489DX (MP spec B.4.1),
		 * ignored by newer APICs and by KVM. */
		send_ipi(c->apic_id, ICR_DM_INIT | ICR_TRIGGER_LEVEL);
	}
	/* tsc_from_us() calibrates the TSC on first use, which takes 10 ms of
	 * PIT time by itself: count that towards the INIT wait. */
	deadline = t_init + tsc_from_us(INIT_WAIT_US);
	while (!deadline_passed(deadline))
		cpu_relax();

	sipi_all(mp, rep->bsp_apic_id);
	udelay(SIPI_WAIT_US);
	if (*count < rep->aps_expected) {
		sipi_all(mp, rep->bsp_apic_id);
		udelay(SIPI_WAIT_US);
	}

	deadline = deadline_us(timeout_us);
	while (*count < rep->aps_expected && !deadline_passed(deadline))
		cpu_relax();
	rep->aps_started = *count;
	return 1 + rep->aps_started;
}
