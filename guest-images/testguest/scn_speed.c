/* SPDX-License-Identifier: MIT */
/*
 * scenario=speed [kib=N]: how fast guest code runs here, in TSC cycles.
 * Runs in ring 3 (pass ring=0 to compare with ring 0):
 *   testguest: speed ring=R crc32_cycles_per_kib=A prng_cycles_per_kib=B
 *              copy_cycles_per_kib=C loop_cycles_per_iter=D
 * On the PVM hosts ring-0 code is interpreted, so expect ~1000x between
 * the two.  N KiB (default 1024 in ring 3, 16 in ring 0) are checksummed.
 */
#include "scenario.h"

#include "cmdline.h"
#include "csum.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "ring3.h"
#include "str.h"

static uint8_t a[65536] NOINIT, b[65536] NOINIT;

int scn_speed(void)
{
	unsigned ring = cpu_cpl();
	uint64_t kib = cmdline_u64("kib", ring ? 1024 : 16);
	uint64_t t, crc_c, prng_c, copy_c, loop_c;
	uint32_t crc = 0;
	struct prng g;
	const unsigned loops = ring ? 1000000 : 1000;

	prng_init(&g, 1);
	prng_fill(&g, a, sizeof(a));
	crc32_update(0, a, 1); /* build the table outside the timing */

	t = rdtsc();
	for (uint64_t i = 0; i < kib; i++)
		crc = crc32_update(crc, a + (i % 64) * 1024, 1024);
	crc_c = (rdtsc() - t) / kib;

	t = rdtsc();
	for (uint64_t i = 0; i < kib; i++)
		prng_fill(&g, b + (i % 64) * 1024, 1024);
	prng_c = (rdtsc() - t) / kib;

	t = rdtsc();
	for (uint64_t i = 0; i < kib; i++)
		memcpy(b + (i % 64) * 1024, a + (i % 64) * 1024, 1024);
	copy_c = (rdtsc() - t) / kib;

	t = rdtsc();
	for (unsigned i = 0; i < loops; i++)
		__asm__ volatile("" : : : "memory");
	loop_c = (rdtsc() - t) / loops;

	kprintf("testguest: speed ring=%u crc32_cycles_per_kib=%lu prng_cycles_per_kib=%lu "
		"copy_cycles_per_kib=%lu loop_cycles_per_iter=%lu kib=%lu crc=%08x\n",
		ring, (unsigned long)crc_c, (unsigned long)prng_c, (unsigned long)copy_c,
		(unsigned long)loop_c, (unsigned long)kib, crc);
	return 0;
}
