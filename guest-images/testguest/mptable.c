/* SPDX-License-Identifier: MIT */
/*
 * MP spec 1.4, chapter 4: the MP floating pointer structure (16 bytes,
 * signature "_MP_", on a 16-byte boundary) points at the MP configuration
 * table: a 44-byte header ("PCMP") followed by variable-length entries, of
 * which the processor entries (type 0) list every CPU and its local APIC ID.
 */
#include "mptable.h"

#include <stddef.h>

#include "str.h"
#include "base/layout.h"

/* MP spec 4.1: where a BIOS may put the floating pointer.  We scan the last
 * KiB of base memory (where our VMM puts its EBDA) and the BIOS ROM area. */
static const struct {
	uint64_t start, end;
} search_areas[] = {
	{ LAYOUT_EBDA, 0xa0000 },
	{ 0xf0000, 0x100000 },
};

struct mp_fps { /* MP spec 4.1, Table 4-1 */
	char signature[4];  /* "_MP_" */
	uint32_t table;     /* physical address of the configuration table */
	uint8_t length;     /* in 16-byte units: 1 */
	uint8_t spec_rev;
	uint8_t checksum;   /* all bytes sum to 0 */
	uint8_t feature[5]; /* feature[0] != 0: a default configuration, no table */
} __attribute__((packed));

struct mp_header { /* MP spec 4.2, Table 4-2 */
	char signature[4];   /* "PCMP" */
	uint16_t length;     /* base table, header included */
	uint8_t spec_rev;
	uint8_t checksum;    /* base table bytes sum to 0 */
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic;      /* local APIC physical address */
	uint16_t ext_length; /* extended table, right after the base table */
	uint8_t ext_checksum; /* added to the extended table's bytes gives 0 */
	uint8_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct mp_fps) == 16, "MP floating pointer is 16 bytes");
_Static_assert(sizeof(struct mp_header) == 44, "MP table header is 44 bytes");

/* Base-table entry types and sizes, MP spec 4.3, Table 4-3. */
enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IOINTR, MP_LINTR };
#define MP_PROCESSOR_SIZE 20
#define MP_OTHER_SIZE 8
#define MP_CPU_EN 0x01
#define MP_CPU_BP 0x02

static uint8_t sum8(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + b[i]);
	return s;
}

static const struct mp_fps *find_fps(void)
{
	for (size_t a = 0; a < sizeof(search_areas) / sizeof(search_areas[0]); a++) {
		for (uint64_t p = search_areas[a].start;
		     p + sizeof(struct mp_fps) <= search_areas[a].end; p += 16) {
			const struct mp_fps *f = (const void *)(uintptr_t)p;

			if (memcmp(f->signature, "_MP_", 4) == 0 &&
			    f->length == 1 &&
			    sum8(f, sizeof(*f)) == 0)
				return f;
		}
	}
	return NULL;
}

int mp_parse(struct mp_info *mp, const char **why)
{
	const struct mp_fps *f;
	const struct mp_header *h;
	const uint8_t *e, *end;

	memset(mp, 0, sizeof(*mp));
	f = find_fps();
	if (!f) {
		*why = "no valid _MP_ floating pointer";
		return -1;
	}
	mp->fps_addr = (uintptr_t)f;
	if (f->feature[0] != 0 || f->table == 0) {
		*why = "default configuration (no MP table) is not supported";
		return -2;
	}
	/* The table must lie in RAM below the MMIO hole, header first. */
	if ((uint64_t)f->table + sizeof(*h) > LAYOUT_MMIO_HOLE) {
		*why = "MP table pointer outside RAM";
		return -3;
	}
	h = (const void *)(uintptr_t)f->table;
	mp->table_addr = f->table;
	if (memcmp(h->signature, "PCMP", 4) != 0) {
		*why = "no PCMP signature";
		return -4;
	}
	if (h->length < sizeof(*h) ||
	    (uint64_t)f->table + h->length + h->ext_length > LAYOUT_MMIO_HOLE) {
		*why = "bad MP table length";
		return -5;
	}
	if (sum8(h, h->length) != 0) {
		*why = "bad MP table checksum";
		return -6;
	}
	if ((uint8_t)(sum8((const uint8_t *)h + h->length, h->ext_length) +
		      h->ext_checksum) != 0) {
		*why = "bad MP extended table checksum";
		return -7;
	}
	mp->lapic_addr = h->lapic ? h->lapic : LAYOUT_LAPIC;

	e = (const uint8_t *)(h + 1);
	end = (const uint8_t *)h + h->length;
	for (unsigned i = 0; i < h->entry_count; i++) {
		size_t size = e < end && e[0] == MP_PROCESSOR ? MP_PROCESSOR_SIZE
							      : MP_OTHER_SIZE;

		if (e >= end || e[0] > MP_LINTR || size > (size_t)(end - e)) {
			*why = "bad MP table entry";
			return -8;
		}
		if (e[0] == MP_PROCESSOR && mp->n_cpus < MP_MAX_CPUS) {
			struct mp_cpu *c = &mp->cpus[mp->n_cpus++];

			c->apic_id = e[1];
			c->enabled = e[3] & MP_CPU_EN;
			c->bsp = e[3] & MP_CPU_BP;
		}
		mp->n_entries++;
		e += size;
	}
	return 0;
}

unsigned mp_enabled_cpus(const struct mp_info *mp)
{
	unsigned n = 0;

	for (unsigned i = 0; i < mp->n_cpus; i++)
		n += mp->cpus[i].enabled;
	return n;
}
