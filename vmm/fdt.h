/* SPDX-License-Identifier: MIT */
/*
 * Flattened device tree for the guest (libfdt sequential-write API).
 *
 * The tree is built from an architecture-neutral description; everything
 * architecture specific (interrupt controllers, how an interrupt line is
 * written as a specifier) lives behind a const struct fdt_arch.  x86-64
 * provides fdt_arch_x86 (CE4100-style LAPIC and IO-APIC nodes, the only
 * x86 interrupt-controller bindings Linux understands); an arm64 port adds
 * its own (GIC, timer, PSCI) and reuses the rest.
 *
 * Tree produced (x86 shown):
 *   / { #address-cells = <2>; #size-cells = <2>;
 *     chosen { bootargs = "..."; };
 *     memory@0, memory@100000000 { device_type = "memory"; reg = <...>; };
 *     cpus { #address-cells = <1>; #size-cells = <0>;
 *            cpu@N { device_type = "cpu"; reg = <N>; }; };   N = APIC ID
 *     interrupt-controller@fee00000 { compatible = "intel,ce4100-lapic"; ... };
 *     interrupt-controller@fec00000 { compatible = "intel,ce4100-ioapic";
 *            #interrupt-cells = <2>; interrupt-controller; phandle = <1>; };
 *     isa { serial@i3f8 { compatible = "ns16550a"; reg = <1 0x3f8 8>; ... }; };
 *     virtio@d0000000 { compatible = "virtio,mmio"; reg = <...>;
 *            interrupt-parent = <1>; interrupts = <5 1>; }; ...
 *     pvpanic@d1000000 { compatible = "qemu,pvpanic-mmio"; reg = <...>; }; };
 */
#ifndef VMM_FDT_H
#define VMM_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/guest_mem.h"

#define FDT_MAX_VIRTIO    8
#define FDT_MAX_CPUS      256
#define FDT_MAX_IRQ_CELLS 4

/* The root node's identity on x86 (fdt_desc_init_x86). */
#define FDT_X86_COMPATIBLE "vmm,microvm"
#define FDT_X86_MODEL      "vmm microVM (x86-64)"

/* An interrupt line of a device: `irq` is the controller input (x86:
 * IO-APIC pin); `level` asks for level-triggered active-high, otherwise
 * edge-triggered rising.  The arch turns it into the specifier cells. */
struct fdt_irq {
	uint32_t irq;
	bool level;
};

struct fdt_vm_desc;

/* Architecture part of the tree (a const ops table). */
struct fdt_arch {
	/* Add interrupt controllers and other arch nodes under the root (the
	 * root node is open).  Set *irq_parent to the phandle devices use as
	 * interrupt-parent.  0 or a negative libfdt error (-FDT_ERR_*). */
	int (*root_nodes)(void *fdt, const struct fdt_vm_desc *d, uint32_t *irq_parent);
	/* Write the interrupt specifier for `irq` into cells (host order);
	 * return the number of cells, <= FDT_MAX_IRQ_CELLS. */
	unsigned (*irq_spec)(const struct fdt_irq *irq, uint32_t *cells);
	/* compatible of each cpu node, or NULL for none. */
	const char *cpu_compatible;
};

/* CE4100 LAPIC/IO-APIC bindings (arch/x86/kernel/devicetree.c);
 * the IO-APIC specifier is <pin type>, type 1 = level high, 3 = edge rising. */
extern const struct fdt_arch fdt_arch_x86;

struct fdt_vm_desc {
	const struct fdt_arch *arch;   /* required */
	unsigned n_cpus;               /* 1..FDT_MAX_CPUS; cpu@i has reg = i */
	const char *bootargs;          /* /chosen/bootargs; NULL: none */
	/* Root compatible and model: the Devicetree Specification (v0.4,
	 * 3.2) requires both, and Linux >= 6.7 treats a tree whose root has
	 * no compatible as absent (of_have_populated_dt()): on x86 it then
	 * ignores the IO-APIC, the CPUs and every device in it.  compatible
	 * is required (fdt_build() refuses NULL); model may be NULL. */
	const char *compatible;
	const char *model;
	struct {
		bool present;
		bool io_port;   /* port I/O (x86): node under /isa; else MMIO at / */
		uint64_t base, size;
		uint32_t clock_hz;
		struct fdt_irq irq;
	} serial;
	unsigned n_virtio;             /* 0..FDT_MAX_VIRTIO */
	struct {
		uint64_t base, size;
		struct fdt_irq irq;
	} virtio[FDT_MAX_VIRTIO];
	struct {
		bool present;
		uint64_t base, size;   /* MMIO */
	} pvpanic;
};

/* The x86 microVM description: fdt_arch_x86, n_cpus, bootargs, COM1
 * (0x3f8, IRQ 4, 1.8432 MHz) and no virtio devices (add them with
 * fdt_add_virtio()). */
void fdt_desc_init_x86(struct fdt_vm_desc *d, unsigned n_cpus, const char *bootargs);

/* Append a virtio-mmio device, level-triggered on `irq`.  0, or -ENOSPC
 * when FDT_MAX_VIRTIO are already described. */
int fdt_add_virtio(struct fdt_vm_desc *d, uint64_t base, uint64_t size, uint32_t irq);

/* Describe a pvpanic register in MMIO space (Linux's pvpanic-mmio driver,
 * compatible "qemu,pvpanic-mmio"; devices/pvpanic.h).  No interrupt. */
void fdt_add_pvpanic(struct fdt_vm_desc *d, uint64_t base, uint64_t size);

/* Build the blob into buf (bufsize bytes): memory nodes from gm, then the
 * description.  0, -EINVAL for a bad description, -ENOSPC if buf is too
 * small.  The result passes fdt_check_header(); its size is
 * fdt_totalsize(buf). */
int fdt_build(const struct guest_mem *gm, const struct fdt_vm_desc *d,
	      void *buf, size_t bufsize);

/* Build the blob directly in guest RAM as a struct setup_data of type
 * SETUP_DTB (asm/bootparam.h) at LAYOUT_SETUP_DATA, next = 0, within
 * LAYOUT_SETUP_DATA_MAX bytes.  0 with *gpa = LAYOUT_SETUP_DATA (pass it as
 * x86_boot_info.setup_data_gpa), -ENOSPC if it does not fit, -EFAULT if
 * that area is not RAM, -EINVAL for a bad description. */
int fdt_write_setup_data(const struct guest_mem *gm, const struct fdt_vm_desc *d,
			 uint64_t *gpa);

#endif
