/* SPDX-License-Identifier: MIT */
#include "csum.h"

#include "heap.h"
#include "str.h"

#define CRC32_POLY 0xedb88320u /* reflected 0x04C11DB7 */

static uint32_t table[8][256] NOINIT; /* make_table() */
static int have_table;

/* "Slicing-by-8": table[k][b] is the CRC of byte b followed by k zero
 * bytes, so eight input bytes fold in with eight lookups. */
static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32_POLY : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
	have_table = 1;
}

uint32_t crc32_update(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	if (!have_table)
		make_table();
	crc = ~crc;
	while (n && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
		n--;
	}
	while (n >= 8) {
		uint64_t w;

		__builtin_memcpy(&w, p, 8); /* one mov, not rep movsq */
		w ^= crc;
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
		      table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
		      table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
		      table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

void prng_init(struct prng *p, uint64_t seed)
{
	p->s = seed ^ 0x9e3779b97f4a7c15ull;
	if (!p->s)
		p->s = 1;
	p->npend = 0;
}

static uint64_t step(struct prng *p)
{
	uint64_t x = p->s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	p->s = x;
	return x;
}

void prng_fill(struct prng *p, void *buf, size_t n)
{
	uint8_t *d = buf;

	while (n && p->npend) {
		*d++ = p->pend[8 - p->npend--];
		n--;
	}
	while (n >= 8) {
		uint64_t x = step(p);

		__builtin_memcpy(d, &x, 8); /* little-endian: LSB first */
		d += 8;
		n -= 8;
	}
	if (n) {
		uint64_t x = step(p);

		memcpy(p->pend, &x, 8);
		p->npend = 8;
		while (n--) {
			*d++ = p->pend[8 - p->npend--];
		}
	}
}
