// SPDX-License-Identifier: MIT
/*
 * Guest flattened device tree, built with libfdt's sequential-write API
 * (nodes and properties are emitted in order; nothing is edited later).
 * Bindings: Devicetree Specification v0.4 (memory, cpus, chosen),
 * Documentation/devicetree/bindings/virtio/mmio.yaml, the ISA bus binding
 * (IEEE 1275 ISA supplement) for port-I/O serial, and the CE4100 x86
 * interrupt-controller bindings handled in arch/x86/kernel/devicetree.c.
 */
#include "fdt.h"
#include "base/layout.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <limits.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

/* Root cells: 2 + 2 so RAM above 4 GiB can be described. */
#define ROOT_ADDR_CELLS 2
#define ROOT_SIZE_CELLS 2

/* Propagate a negative libfdt error from the enclosing function. */
#define FDT_TRY(expr) do { int r_ = (expr); if (r_ < 0) return r_; } while (0)

/* reg = <addr size> with 2 + 2 cells, big-endian as the format requires. */
static int prop_reg64(void *fdt, uint64_t addr, uint64_t size)
{
	fdt32_t reg[4] = {
		cpu_to_fdt32((uint32_t)(addr >> 32)), cpu_to_fdt32((uint32_t)addr),
		cpu_to_fdt32((uint32_t)(size >> 32)), cpu_to_fdt32((uint32_t)size),
	};

	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int prop_cells(void *fdt, const char *name, const uint32_t *cells, unsigned n)
{
	fdt32_t be[FDT_MAX_IRQ_CELLS];

	for (unsigned i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	return fdt_property(fdt, name, be, (int)(n * sizeof(fdt32_t)));
}

static int prop_interrupts(void *fdt, const struct fdt_vm_desc *d,
			   const struct fdt_irq *irq, uint32_t parent)
{
	uint32_t cells[FDT_MAX_IRQ_CELLS];
	unsigned n = d->arch->irq_spec(irq, cells);

	if (n == 0 || n > FDT_MAX_IRQ_CELLS)
		return -FDT_ERR_BADVALUE;
	FDT_TRY(fdt_property_u32(fdt, "interrupt-parent", parent));
	return prop_cells(fdt, "interrupts", cells, n);
}

/* One memory node per RAM region (DT spec 3.4). */
static int add_memory(void *fdt, const struct guest_mem *gm)
{
	char name[32];

	for (unsigned i = 0; i < gm->nregions; i++) {
		snprintf(name, sizeof(name), "memory@%llx",
			 (unsigned long long)gm->region[i].gpa);
		FDT_TRY(fdt_begin_node(fdt, name));
		FDT_TRY(fdt_property_string(fdt, "device_type", "memory"));
		FDT_TRY(prop_reg64(fdt, gm->region[i].gpa, gm->region[i].size));
		FDT_TRY(fdt_end_node(fdt));
	}
	return 0;
}

/* /cpus with one cpu@N per vCPU, reg = N (DT spec 3.7); on x86 Linux's
 * dtb_cpu_setup() takes reg as the local APIC ID. */
static int add_cpus(void *fdt, const struct fdt_vm_desc *d)
{
	char name[32];

	FDT_TRY(fdt_begin_node(fdt, "cpus"));
	FDT_TRY(fdt_property_u32(fdt, "#address-cells", 1));
	FDT_TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < d->n_cpus; i++) {
		snprintf(name, sizeof(name), "cpu@%x", i);
		FDT_TRY(fdt_begin_node(fdt, name));
		FDT_TRY(fdt_property_string(fdt, "device_type", "cpu"));
		if (d->arch->cpu_compatible)
			FDT_TRY(fdt_property_string(fdt, "compatible", d->arch->cpu_compatible));
		FDT_TRY(fdt_property_u32(fdt, "reg", i));
		FDT_TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

/* A 16550A UART.  Port I/O lives on an ISA bus node: its addresses are
 * <space addr> with space 1 = I/O, and ranges maps I/O ports 0..0xffff
 * through to the CPU's port space (ISA binding, "ranges"). */
static int add_serial(void *fdt, const struct fdt_vm_desc *d, uint32_t irq_parent)
{
	char name[32];

	if (!d->serial.present)
		return 0;
	if (d->serial.io_port) {
		fdt32_t ranges[5] = {
			cpu_to_fdt32(1), cpu_to_fdt32(0),  /* child: I/O space, port 0 */
			cpu_to_fdt32(0), cpu_to_fdt32(0),  /* parent address 0 */
			cpu_to_fdt32(0x10000),             /* 64 Ki ports */
		};
		fdt32_t reg[3] = {
			cpu_to_fdt32(1), cpu_to_fdt32((uint32_t)d->serial.base),
			cpu_to_fdt32((uint32_t)d->serial.size),
		};

		FDT_TRY(fdt_begin_node(fdt, "isa"));
		FDT_TRY(fdt_property_string(fdt, "compatible", "isa"));
		FDT_TRY(fdt_property_u32(fdt, "#address-cells", 2));
		FDT_TRY(fdt_property_u32(fdt, "#size-cells", 1));
		FDT_TRY(fdt_property(fdt, "ranges", ranges, sizeof(ranges)));
		snprintf(name, sizeof(name), "serial@i%llx", (unsigned long long)d->serial.base);
		FDT_TRY(fdt_begin_node(fdt, name));
		FDT_TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	} else {
		snprintf(name, sizeof(name), "serial@%llx", (unsigned long long)d->serial.base);
		FDT_TRY(fdt_begin_node(fdt, name));
		FDT_TRY(prop_reg64(fdt, d->serial.base, d->serial.size));
	}
	FDT_TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	FDT_TRY(fdt_property_u32(fdt, "clock-frequency", d->serial.clock_hz));
	FDT_TRY(prop_interrupts(fdt, d, &d->serial.irq, irq_parent));
	/* A port-I/O UART is the PC's COM port, which the kernel's legacy
	 * 8250 code already drives (Linux's of_serial cannot translate an
	 * ISA I/O address on x86 and fails its probe).  "reserved" (DT spec
	 * v0.4, 2.3.4: operational, but managed by other software) describes
	 * it without offering it to a second driver. */
	if (d->serial.io_port)
		FDT_TRY(fdt_property_string(fdt, "status", "reserved"));
	FDT_TRY(fdt_end_node(fdt));
	if (d->serial.io_port)
		FDT_TRY(fdt_end_node(fdt)); /* isa */
	return 0;
}

/* virtio-mmio devices (bindings/virtio/mmio.yaml).  Named virtio@<base>,
 * so Linux calls the platform device "<base>.virtio". */
static int add_virtio(void *fdt, const struct fdt_vm_desc *d, uint32_t irq_parent)
{
	char name[32];

	for (unsigned i = 0; i < d->n_virtio; i++) {
		snprintf(name, sizeof(name), "virtio@%llx", (unsigned long long)d->virtio[i].base);
		FDT_TRY(fdt_begin_node(fdt, name));
		FDT_TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
		FDT_TRY(prop_reg64(fdt, d->virtio[i].base, d->virtio[i].size));
		FDT_TRY(prop_interrupts(fdt, d, &d->virtio[i].irq, irq_parent));
		FDT_TRY(fdt_end_node(fdt));
	}
	return 0;
}

/* Linux's drivers/misc/pvpanic/pvpanic-mmio.c matches this compatible and
 * takes reg as a memory (or I/O) resource; no binding document exists, the
 * driver's match table is the reference. */
static int add_pvpanic(void *fdt, const struct fdt_vm_desc *d)
{
	char name[32];

	if (!d->pvpanic.present)
		return 0;
	snprintf(name, sizeof(name), "pvpanic@%llx", (unsigned long long)d->pvpanic.base);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "compatible", "qemu,pvpanic-mmio"));
	FDT_TRY(prop_reg64(fdt, d->pvpanic.base, d->pvpanic.size));
	return fdt_end_node(fdt);
}

static int build(const struct guest_mem *gm, const struct fdt_vm_desc *d, void *buf, int size)
{
	uint32_t irq_parent = 0;

	FDT_TRY(fdt_create(buf, size));
	FDT_TRY(fdt_finish_reservemap(buf));
	FDT_TRY(fdt_begin_node(buf, ""));
	FDT_TRY(fdt_property_u32(buf, "#address-cells", ROOT_ADDR_CELLS));
	FDT_TRY(fdt_property_u32(buf, "#size-cells", ROOT_SIZE_CELLS));
	FDT_TRY(fdt_property_string(buf, "compatible", d->compatible));
	if (d->model)
		FDT_TRY(fdt_property_string(buf, "model", d->model));

	FDT_TRY(fdt_begin_node(buf, "chosen"));
	if (d->bootargs)
		FDT_TRY(fdt_property_string(buf, "bootargs", d->bootargs));
	FDT_TRY(fdt_end_node(buf));

	FDT_TRY(add_memory(buf, gm));
	FDT_TRY(add_cpus(buf, d));
	FDT_TRY(d->arch->root_nodes(buf, d, &irq_parent));
	FDT_TRY(add_serial(buf, d, irq_parent));
	FDT_TRY(add_virtio(buf, d, irq_parent));
	FDT_TRY(add_pvpanic(buf, d));
	FDT_TRY(fdt_end_node(buf)); /* root */
	return fdt_finish(buf);
}

static bool desc_valid(const struct guest_mem *gm, const struct fdt_vm_desc *d)
{
	if (!d->arch || !d->arch->root_nodes || !d->arch->irq_spec || !d->compatible)
		return false;
	if (d->n_cpus == 0 || d->n_cpus > FDT_MAX_CPUS || d->n_virtio > FDT_MAX_VIRTIO)
		return false;
	if (d->serial.present && d->serial.io_port &&
	    (d->serial.base > 0xffff || d->serial.size > 0x10000 - d->serial.base))
		return false;
	return gm->nregions > 0;
}

int fdt_build(const struct guest_mem *gm, const struct fdt_vm_desc *d,
	      void *buf, size_t bufsize)
{
	int r;

	if (!desc_valid(gm, d))
		return -EINVAL;
	/* libfdt sizes are int. */
	if (bufsize > INT_MAX)
		bufsize = INT_MAX;
	r = build(gm, d, buf, (int)bufsize);
	if (r == -FDT_ERR_NOSPACE)
		return -ENOSPC;
	return r < 0 ? -EINVAL : 0;
}

int fdt_write_setup_data(const struct guest_mem *gm, const struct fdt_vm_desc *d,
			 uint64_t *gpa)
{
	struct setup_data *sd = gm_ptr(gm, LAYOUT_SETUP_DATA, LAYOUT_SETUP_DATA_MAX);
	int r;

	if (!sd)
		return -EFAULT;
	r = fdt_build(gm, d, sd->data, LAYOUT_SETUP_DATA_MAX - sizeof(*sd));
	if (r)
		return r;
	/* boot.rst "Details of Header Fields", setup_data: a singly linked
	 * list of {next, type, len, data[len]}; next = 0 ends it. */
	sd->next = 0;
	sd->type = SETUP_DTB;
	sd->len = fdt_totalsize(sd->data);
	*gpa = LAYOUT_SETUP_DATA;
	return 0;
}

void fdt_desc_init_x86(struct fdt_vm_desc *d, unsigned n_cpus, const char *bootargs)
{
	memset(d, 0, sizeof(*d));
	d->arch = &fdt_arch_x86;
	/* "manufacturer,model" (DT spec 3.2).  Nothing in Linux matches it on
	 * x86; it only has to be present (see fdt.h). */
	d->compatible = FDT_X86_COMPATIBLE;
	d->model = FDT_X86_MODEL;
	d->n_cpus = n_cpus;
	d->bootargs = bootargs;
	d->serial.present = true;
	d->serial.io_port = true;
	d->serial.base = LAYOUT_SERIAL_PORT;
	d->serial.size = 8;            /* 16550 registers */
	d->serial.clock_hz = 1843200;  /* PC UART crystal: 115200 baud x 16 */
	d->serial.irq = (struct fdt_irq){ .irq = LAYOUT_SERIAL_IRQ, .level = false };
}

int fdt_add_virtio(struct fdt_vm_desc *d, uint64_t base, uint64_t size, uint32_t irq)
{
	if (d->n_virtio >= FDT_MAX_VIRTIO)
		return -ENOSPC;
	d->virtio[d->n_virtio].base = base;
	d->virtio[d->n_virtio].size = size;
	/* Edge-triggered, as in the MP table: the transport raises its
	 * interrupt as a pulse (irqfd), which a level-triggered IO-APIC pin
	 * would drop while a previous interrupt is still unacknowledged. */
	d->virtio[d->n_virtio].irq = (struct fdt_irq){ .irq = irq, .level = false };
	d->n_virtio++;
	return 0;
}

void fdt_add_pvpanic(struct fdt_vm_desc *d, uint64_t base, uint64_t size)
{
	d->pvpanic.present = true;
	d->pvpanic.base = base;
	d->pvpanic.size = size;
}

/* ------------------------------------------------------------- x86 -- */

#define X86_IOAPIC_PHANDLE 1
#define X86_APIC_MMIO_SIZE 0x1000 /* one 4 KiB register page, LAPIC and IO-APIC */
/* Indexes into of_ioapic_type[] in arch/x86/kernel/devicetree.c. */
#define X86_IRQ_LEVEL_HIGH 1
#define X86_IRQ_EDGE_RISING 3

/* The LAPIC node only gives the APIC base (dtb_lapic_setup()); virtual
 * wire mode matches the MP table (no IMCR).  The IO-APIC node is the
 * interrupt parent of every device (dtb_ioapic_setup()). */
static int x86_root_nodes(void *fdt, const struct fdt_vm_desc *d, uint32_t *irq_parent)
{
	char name[48];

	snprintf(name, sizeof(name), "interrupt-controller@%llx", LAYOUT_LAPIC);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "compatible", "intel,ce4100-lapic"));
	FDT_TRY(prop_reg64(fdt, LAYOUT_LAPIC, X86_APIC_MMIO_SIZE));
	FDT_TRY(fdt_property(fdt, "intel,virtual-wire-mode", NULL, 0));
	FDT_TRY(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "interrupt-controller@%llx", LAYOUT_IOAPIC);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "compatible", "intel,ce4100-ioapic"));
	FDT_TRY(prop_reg64(fdt, LAYOUT_IOAPIC, X86_APIC_MMIO_SIZE));
	FDT_TRY(fdt_property_u32(fdt, "#interrupt-cells", 2));
	FDT_TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	FDT_TRY(fdt_property_u32(fdt, "phandle", X86_IOAPIC_PHANDLE));
	FDT_TRY(fdt_end_node(fdt));
	*irq_parent = X86_IOAPIC_PHANDLE;
	return 0;
}

static unsigned x86_irq_spec(const struct fdt_irq *irq, uint32_t *cells)
{
	cells[0] = irq->irq; /* IO-APIC pin */
	cells[1] = irq->level ? X86_IRQ_LEVEL_HIGH : X86_IRQ_EDGE_RISING;
	return 2;
}

const struct fdt_arch fdt_arch_x86 = {
	.root_nodes = x86_root_nodes,
	.irq_spec = x86_irq_spec,
	.cpu_compatible = NULL,
};
