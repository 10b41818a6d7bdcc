// SPDX-License-Identifier: MIT
/*
 * Intel MultiProcessor Specification 1.4 tables (section numbers below are
 * the spec's).  Layout at LAYOUT_MPTABLE (the last KiB of base memory, 639K,
 * one of the places Linux's smp_scan_config() searches):
 *
 *   MP floating pointer "_MP_" (16 bytes)
 *   MP configuration table header "PCMP" (44 bytes), then its entries in the
 *   order 4.3 requires: processors, bus, I/O APIC, I/O interrupts, local
 *   interrupts.
 *
 * Interrupt routing mirrors KVM's default GSI routing for the in-kernel
 * irqchip (kvm_setup_default_irq_routing(), virt/kvm/irqchip.c and
 * arch/x86/kvm/irq_comm.c): GSI n goes to IO-APIC pin n for n < 24 (and to
 * the PICs for n < 16).  So ISA IRQ n is wired to pin n, including IRQ 0
 * (the in-kernel PIT raises GSI 0); no IRQ0 -> pin 2 override as on real
 * PCs.  Pins 16..23 are listed too so that virtio-mmio devices above pin 15
 * get an interrupt source Linux will set up.
 */
#include "mptable.h"
#include "config.h"
#include "base/layout.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define MP_SPEC_REV 4 /* 1.4 */

/* 4.1 MP floating pointer structure. */
struct mpf {
	char signature[4];  /* "_MP_" */
	uint32_t physptr;   /* address of the configuration table */
	uint8_t length;     /* in 16-byte units: 1 */
	uint8_t spec_rev;
	uint8_t checksum;   /* all 16 bytes sum to 0 */
	uint8_t feature1;   /* 0: a configuration table is present */
	uint8_t feature2;   /* bit 7 IMCRP: 0 = virtual wire mode, no IMCR */
	uint8_t feature3[3];
} __attribute__((packed));
_Static_assert(sizeof(struct mpf) == 16, "MP floating pointer is 16 bytes");

/* 4.2 MP configuration table header. */
struct mpc_header {
	char signature[4];  /* "PCMP" */
	uint16_t length;    /* base table length, header included */
	uint8_t spec_rev;
	uint8_t checksum;   /* the whole base table sums to 0 */
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table; /* 0: none */
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length; /* no extended entries */
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_header) == 44, "MP config header is 44 bytes");

/* 4.3 entry types. */
enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };

/* 4.3.1 Processor entry. */
struct mpc_cpu {
	uint8_t type;
	uint8_t lapic_id;
	uint8_t lapic_version;
	uint8_t flags;      /* bit 0 EN (usable), bit 1 BP (bootstrap) */
	uint32_t signature; /* CPUID.1:EAX stepping/model/family */
	uint32_t features;  /* CPUID.1:EDX */
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cpu) == 20, "processor entry is 20 bytes");

/* 4.3.2 Bus entry. */
struct mpc_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];   /* Table 4-8, space padded */
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_bus) == 8, "bus entry is 8 bytes");

/* 4.3.3 I/O APIC entry. */
struct mpc_ioapic {
	uint8_t type;
	uint8_t id;
	uint8_t version;
	uint8_t flags;      /* bit 0 EN */
	uint32_t addr;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_ioapic) == 8, "I/O APIC entry is 8 bytes");

/* 4.3.4 I/O interrupt and 4.3.5 local interrupt entries share one layout. */
struct mpc_irq {
	uint8_t type;
	uint8_t irq_type;   /* Table 4-10: INT, NMI, SMI, ExtINT */
	uint16_t flags;     /* polarity/trigger; 0 = conforms to the bus */
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_id;     /* I/O APIC ID, or local APIC ID (0xff = all) */
	uint8_t dst_pin;    /* INTINn, or LINTn */
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_irq) == 8, "interrupt entries are 8 bytes");

enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };

#define CPU_FLAG_EN 0x1
#define CPU_FLAG_BP 0x2
#define IOAPIC_FLAG_EN 0x1
#define LAPIC_VERSION 0x14  /* integrated xAPIC, what KVM's LAPIC reports */
#define IOAPIC_VERSION 0x11 /* what KVM's in-kernel IO-APIC reports */
#define IOAPIC_PINS 24      /* KVM_IOAPIC_NUM_PINS */
#define ISA_BUS_ID 0
#define LAPIC_ALL 0xff      /* local interrupt entry: every local APIC */
/* A plausible CPU: family 6, model 0, stepping 0 (4.3.1, Table 4-5). */
#define CPU_SIGNATURE (6u << 8)
/* CPUID.1:EDX FPU(0) TSC(4) MSR(5) PAE(6) CX8(8) APIC(9) (Table 4-6). */
#define CPU_FEATURES ((1u << 0) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9))

/* Bytes of the floating pointer plus the configuration table. */
static size_t mptable_size(unsigned n_cpus)
{
	return sizeof(struct mpf) + sizeof(struct mpc_header) +
	       n_cpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) + (IOAPIC_PINS + 2) * sizeof(struct mpc_irq);
}

static uint8_t checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (n--)
		sum += *b++;
	return (uint8_t)-sum; /* the value that makes the bytes sum to 0 */
}

/* Append one entry at *cur (guest memory, already checked) and advance. */
static void put(uint8_t **cur, const void *entry, size_t n)
{
	memcpy(*cur, entry, n);
	*cur += n;
}

static void put_irq(uint8_t **cur, uint8_t type, uint8_t irq_type, uint8_t src_irq,
		    uint8_t dst_id, uint8_t dst_pin)
{
	struct mpc_irq e = {
		.type = type, .irq_type = irq_type, .flags = 0,
		.src_bus = ISA_BUS_ID, .src_irq = src_irq,
		.dst_id = dst_id, .dst_pin = dst_pin,
	};

	put(cur, &e, sizeof(e));
}

int mptable_write(const struct guest_mem *gm, unsigned n_cpus)
{
	uint8_t ioapic_id = (uint8_t)n_cpus;
	struct mpc_header hdr;
	struct mpf fp;
	uint8_t *base, *table, *cur;
	size_t size;

	if (n_cpus == 0)
		return -EINVAL;
	/* 8-bit xAPIC IDs: CPUs take 0..n-1, the IO-APIC takes n, and 0xff
	 * is the broadcast ID; the table must also end below 1 MiB. */
	if (n_cpus > CONFIG_MAX_VCPUS)
		return -E2BIG;
	size = mptable_size(n_cpus);
	if (size > LAYOUT_HIGH_RAM - LAYOUT_MPTABLE)
		return -E2BIG;
	base = gm_ptr(gm, LAYOUT_MPTABLE, size);
	if (!base)
		return -EFAULT;
	memset(base, 0, size);

	table = base + sizeof(fp);
	cur = table + sizeof(hdr);
	for (unsigned i = 0; i < n_cpus; i++) {
		struct mpc_cpu c = {
			.type = MP_PROCESSOR, .lapic_id = (uint8_t)i,
			.lapic_version = LAPIC_VERSION,
			.flags = CPU_FLAG_EN | (i == 0 ? CPU_FLAG_BP : 0),
			.signature = CPU_SIGNATURE, .features = CPU_FEATURES,
		};

		put(&cur, &c, sizeof(c));
	}
	put(&cur, &(struct mpc_bus){ .type = MP_BUS, .bus_id = ISA_BUS_ID,
				      .bus_type = { 'I', 'S', 'A', ' ', ' ', ' ' } },
	    sizeof(struct mpc_bus));
	put(&cur, &(struct mpc_ioapic){ .type = MP_IOAPIC, .id = ioapic_id,
					 .version = IOAPIC_VERSION, .flags = IOAPIC_FLAG_EN,
					 .addr = (uint32_t)LAYOUT_IOAPIC },
	    sizeof(struct mpc_ioapic));
	for (uint8_t pin = 0; pin < IOAPIC_PINS; pin++)
		put_irq(&cur, MP_INTSRC, MP_IRQ_INT, pin, ioapic_id, pin);
	/* Virtual wire mode (spec 3.6.2.2): the PIC's INTR reaches LINT0 as
	 * ExtINT, NMI reaches LINT1, on every local APIC. */
	put_irq(&cur, MP_LINTSRC, MP_IRQ_EXTINT, 0, LAPIC_ALL, 0);
	put_irq(&cur, MP_LINTSRC, MP_IRQ_NMI, 0, LAPIC_ALL, 1);

	hdr = (struct mpc_header){
		.signature = { 'P', 'C', 'M', 'P' },
		.length = (uint16_t)(cur - table),
		.spec_rev = MP_SPEC_REV,
		.oem_id = { 'V', 'M', 'M', ' ', ' ', ' ', ' ', ' ' },
		.product_id = { 'M', 'I', 'C', 'R', 'O', 'V', 'M', ' ', ' ', ' ', ' ', ' ' },
		.entry_count = (uint16_t)(n_cpus + 1 + 1 + IOAPIC_PINS + 2),
		.lapic_addr = (uint32_t)LAYOUT_LAPIC,
	};
	memcpy(table, &hdr, sizeof(hdr));
	/* The checksum covers the header and all entries (4.2). */
	table[offsetof(struct mpc_header, checksum)] = checksum(table, (size_t)(cur - table));

	fp = (struct mpf){
		.signature = { '_', 'M', 'P', '_' },
		.physptr = (uint32_t)(LAYOUT_MPTABLE + sizeof(fp)),
		.length = 1,
		.spec_rev = MP_SPEC_REV,
	};
	fp.checksum = checksum(&fp, sizeof(fp));
	memcpy(base, &fp, sizeof(fp));
	return 0;
}
