/* SPDX-License-Identifier: MIT */
/*
 * Checksum and pseudo-random payload shared with the host tests.
 *
 * Checksum: CRC-32 as in zlib/PNG/Ethernet (reflected polynomial 0xEDB88320,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF), so a host test computes
 * the same value with Python's zlib.crc32(data).  Streaming: pass the
 * previous result back in as `crc` (start with 0), exactly like zlib.crc32.
 *
 * PRNG: xorshift64 (Marsaglia 2003, shifts 13, 7, 17) with the state
 * initialised to seed ^ 0x9E3779B97F4A7C15 (0 would be a fixed point, so a
 * state of 0 becomes 1).  Each step yields 8 bytes, least significant byte
 * first; the payload stream is the concatenation of the steps.  In Python:
 *   s = (seed ^ 0x9E3779B97F4A7C15) or 1
 *   s ^= (s << 13) & M; s ^= s >> 7; s ^= (s << 17) & M   # M = 2**64-1
 *   out += s.to_bytes(8, "little")
 */
#ifndef TG_CSUM_H
#define TG_CSUM_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32_update(uint32_t crc, const void *buf, size_t n);

struct prng {
	uint64_t s;
	uint8_t pend[8]; /* bytes of the current step not handed out yet */
	unsigned npend;
};

void prng_init(struct prng *p, uint64_t seed);
/* The next n bytes of the stream. */
void prng_fill(struct prng *p, void *buf, size_t n);

#endif
