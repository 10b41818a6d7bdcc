// SPDX-License-Identifier: MIT
/*
 * Unit tests for vmm/fdt.c: the blob is parsed back with libfdt and every
 * node and property the guest relies on is checked.
 */
#include <asm/bootparam.h>
#include <check.h>
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/fdt.h"
#include "base/guest_mem.h"
#include "base/layout.h"

#define RAM_SIZE (64ULL << 20)
#define BUF_SIZE 65536
#define POISON 0x5c

static struct guest_mem gm;
static uint8_t *ram;
static uint8_t *buf;

static void setup(void)
{
	ram = malloc(RAM_SIZE);
	buf = malloc(BUF_SIZE);
	ck_assert_ptr_nonnull(ram);
	ck_assert_ptr_nonnull(buf);
	memset(ram, POISON, RAM_SIZE);
	gm_init_with(&gm, ram, RAM_SIZE);
}

static void teardown(void)
{
	free(ram);
	free(buf);
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	ck_assert_msg(off >= 0, "no node %s: %s", path, fdt_strerror(off));
	return off;
}

/* Check that property `name` of node `off` is exactly the given cells. */
static void check_cells(const void *fdt, int off, const char *name,
			const uint32_t *want, int n)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, off, name, &len);

	ck_assert_msg(p != NULL, "missing property %s", name);
	ck_assert_int_eq(len, n * 4);
	for (int i = 0; i < n; i++)
		ck_assert_uint_eq(fdt32_to_cpu(p[i]), want[i]);
}

static void check_u32(const void *fdt, int off, const char *name, uint32_t v)
{
	check_cells(fdt, off, name, &v, 1);
}

static void check_str(const void *fdt, int off, const char *name, const char *s)
{
	int len;
	const char *p = fdt_getprop(fdt, off, name, &len);

	ck_assert_msg(p != NULL, "missing property %s", name);
	ck_assert_int_eq(len, (int)strlen(s) + 1);
	ck_assert_str_eq(p, s);
}

static void check_reg64(const void *fdt, int off, uint64_t addr, uint64_t size)
{
	const uint32_t want[4] = {
		(uint32_t)(addr >> 32), (uint32_t)addr, (uint32_t)(size >> 32), (uint32_t)size,
	};

	check_cells(fdt, off, "reg", want, 4);
}

static void check_empty_prop(const void *fdt, int off, const char *name)
{
	int len = -1;

	ck_assert_ptr_nonnull(fdt_getprop(fdt, off, name, &len));
	ck_assert_int_eq(len, 0);
}

static struct fdt_vm_desc x86_desc(unsigned n_cpus, unsigned n_virtio)
{
	struct fdt_vm_desc d;

	fdt_desc_init_x86(&d, n_cpus, "console=ttyS0 panic=1");
	for (unsigned i = 0; i < n_virtio; i++)
		ck_assert_int_eq(fdt_add_virtio(&d, LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_MMIO_SIZE,
						LAYOUT_VIRTIO_MMIO_SIZE, LAYOUT_VIRTIO_IRQ_BASE + i), 0);
	return d;
}

static unsigned count_cpus(const void *fdt)
{
	int cpus = node(fdt, "/cpus"), off;
	unsigned n = 0;

	fdt_for_each_subnode(off, fdt, cpus) {
		char name[16];

		snprintf(name, sizeof(name), "cpu@%x", n);
		ck_assert_str_eq(fdt_get_name(fdt, off, NULL), name);
		check_str(fdt, off, "device_type", "cpu");
		check_u32(fdt, off, "reg", n);
		n++;
	}
	return n;
}

START_TEST(x86_tree)
{
	struct fdt_vm_desc d = x86_desc(2, 3);
	int root, off, ioapic;
	uint32_t irq[2];

	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), 0);
	ck_assert_int_eq(fdt_check_header(buf), 0);
	ck_assert_int_eq(fdt_check_full(buf, fdt_totalsize(buf)), 0);
	ck_assert_uint_le(fdt_totalsize(buf), BUF_SIZE);

	/* DT spec 3.2: the root has #address-cells, #size-cells, model and
	 * compatible; Linux >= 6.7 ignores a tree without compatible. */
	root = node(buf, "/");
	ck_assert_int_eq(root, 0);
	ck_assert_str_eq(fdt_get_name(buf, root, NULL), "");
	check_u32(buf, root, "#address-cells", 2);
	check_u32(buf, root, "#size-cells", 2);
	check_str(buf, root, "compatible", "vmm,microvm");
	check_str(buf, root, "model", "vmm microVM (x86-64)");
	check_str(buf, node(buf, "/chosen"), "bootargs", "console=ttyS0 panic=1");

	off = node(buf, "/memory@0");
	check_str(buf, off, "device_type", "memory");
	check_reg64(buf, off, 0, RAM_SIZE);
	ck_assert_int_lt(fdt_path_offset(buf, "/memory@100000000"), 0);

	off = node(buf, "/cpus");
	check_u32(buf, off, "#address-cells", 1);
	check_u32(buf, off, "#size-cells", 0);
	ck_assert_uint_eq(count_cpus(buf), 2);

	off = fdt_node_offset_by_compatible(buf, -1, "intel,ce4100-lapic");
	ck_assert_int_ge(off, 0);
	ck_assert_str_eq(fdt_get_name(buf, off, NULL), "interrupt-controller@fee00000");
	check_reg64(buf, off, LAYOUT_LAPIC, 0x1000);
	check_empty_prop(buf, off, "intel,virtual-wire-mode");

	ioapic = fdt_node_offset_by_compatible(buf, -1, "intel,ce4100-ioapic");
	ck_assert_int_ge(ioapic, 0);
	ck_assert_int_eq(ioapic, node(buf, "/interrupt-controller@fec00000"));
	check_reg64(buf, ioapic, LAYOUT_IOAPIC, 0x1000);
	check_u32(buf, ioapic, "#interrupt-cells", 2);
	check_empty_prop(buf, ioapic, "interrupt-controller");
	ck_assert_uint_ne(fdt_get_phandle(buf, ioapic), 0);
	ck_assert_int_eq(fdt_node_offset_by_phandle(buf, fdt_get_phandle(buf, ioapic)), ioapic);

	off = node(buf, "/isa");
	check_str(buf, off, "compatible", "isa");
	check_u32(buf, off, "#address-cells", 2);
	check_u32(buf, off, "#size-cells", 1);
	{
		const uint32_t ranges[5] = { 1, 0, 0, 0, 0x10000 };

		check_cells(buf, off, "ranges", ranges, 5);
	}
	off = node(buf, "/isa/serial@i3f8");
	{
		const uint32_t reg[3] = { 1, 0x3f8, 8 };

		check_cells(buf, off, "reg", reg, 3);
	}
	check_str(buf, off, "compatible", "ns16550a");
	check_str(buf, off, "status", "reserved"); /* the legacy 8250 driver owns COM1 */
	check_u32(buf, off, "clock-frequency", 1843200);
	check_u32(buf, off, "interrupt-parent", fdt_get_phandle(buf, ioapic));
	irq[0] = 4;
	irq[1] = 3; /* edge rising */
	check_cells(buf, off, "interrupts", irq, 2);

	for (unsigned i = 0; i < 3; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/virtio@%llx",
			 LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_MMIO_SIZE);
		off = node(buf, path);
		check_str(buf, off, "compatible", "virtio,mmio");
		check_reg64(buf, off, LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_MMIO_SIZE,
			    LAYOUT_VIRTIO_MMIO_SIZE);
		check_u32(buf, off, "interrupt-parent", fdt_get_phandle(buf, ioapic));
		irq[0] = LAYOUT_VIRTIO_IRQ_BASE + i;
		irq[1] = 3; /* edge rising (of_ioapic_type[3] in arch/x86/kernel/devicetree.c) */
		check_cells(buf, off, "interrupts", irq, 2);
	}
	ck_assert_int_lt(fdt_path_offset(buf, "/virtio@d0003000"), 0);
	/* Exactly three virtio,mmio nodes. */
	{
		unsigned n = 0;

		for (off = fdt_node_offset_by_compatible(buf, -1, "virtio,mmio"); off >= 0;
		     off = fdt_node_offset_by_compatible(buf, off, "virtio,mmio"))
			n++;
		ck_assert_uint_eq(n, 3);
	}
}
END_TEST

START_TEST(memory_above_4g)
{
	struct guest_mem big;
	struct fdt_vm_desc d = x86_desc(1, 0);

	ck_assert_int_eq(gm_init(&big, 5ULL << 30), 0);
	ck_assert_int_eq(fdt_build(&big, &d, buf, BUF_SIZE), 0);
	check_reg64(buf, node(buf, "/memory@0"), 0, LAYOUT_MMIO_HOLE);
	check_reg64(buf, node(buf, "/memory@100000000"), LAYOUT_4G, 2ULL << 30);
	gm_destroy(&big);
}
END_TEST

START_TEST(max_cpus_and_devices)
{
	struct fdt_vm_desc d = x86_desc(254, FDT_MAX_VIRTIO);

	ck_assert_int_eq(fdt_add_virtio(&d, 0xd0008000, 0x1000, 13), -ENOSPC);
	ck_assert_uint_eq(d.n_virtio, FDT_MAX_VIRTIO);
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), 0);
	ck_assert_uint_eq(count_cpus(buf), 254);
	node(buf, "/cpus/cpu@fd");
	node(buf, "/virtio@d0007000");
}
END_TEST

START_TEST(no_bootargs_no_serial)
{
	struct fdt_vm_desc d = x86_desc(1, 1);
	int len;

	d.bootargs = NULL;
	d.serial.present = false;
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), 0);
	ck_assert_ptr_null(fdt_getprop(buf, node(buf, "/chosen"), "bootargs", &len));
	ck_assert_int_lt(fdt_path_offset(buf, "/isa"), 0);
	node(buf, "/virtio@d0000000");
}
END_TEST

START_TEST(bad_descriptions)
{
	struct fdt_vm_desc d = x86_desc(1, 1);

	d.n_cpus = 0;
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), -EINVAL);
	d.n_cpus = FDT_MAX_CPUS + 1;
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), -EINVAL);
	d.n_cpus = 1;
	d.n_virtio = FDT_MAX_VIRTIO + 1;
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), -EINVAL);
	d.n_virtio = 1;
	d.arch = NULL;
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), -EINVAL);
	d.arch = &fdt_arch_x86;
	d.compatible = NULL; /* the root must have one (DT spec 3.2, Linux >= 6.7) */
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), -EINVAL);
	d.compatible = FDT_X86_COMPATIBLE;
	d.serial.base = 0xfffc; /* 8 ports past 0xffff */
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), -EINVAL);
	d.serial.base = 0x3f8;
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), 0);
}
END_TEST

START_TEST(buffer_too_small)
{
	struct fdt_vm_desc d = x86_desc(4, 2);
	size_t need;

	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), 0);
	need = fdt_totalsize(buf);
	/* Every smaller buffer is refused with -ENOSPC, and nothing past the
	 * buffer is written. */
	for (size_t n = 0; n < need; n++) {
		memset(buf, POISON, BUF_SIZE);
		ck_assert_int_eq(fdt_build(&gm, &d, buf, n), -ENOSPC);
		for (size_t i = n; i < n + 64 && i < BUF_SIZE; i++)
			ck_assert_uint_eq(buf[i], POISON);
	}
	ck_assert_int_eq(fdt_build(&gm, &d, buf, need), 0);
	ck_assert_int_eq(fdt_check_header(buf), 0);
}
END_TEST

START_TEST(setup_data)
{
	struct fdt_vm_desc d = x86_desc(254, FDT_MAX_VIRTIO);
	const struct setup_data *sd = (const struct setup_data *)(ram + LAYOUT_SETUP_DATA);
	uint64_t gpa = 0;

	ck_assert_int_eq(fdt_write_setup_data(&gm, &d, &gpa), 0);
	ck_assert_uint_eq(gpa, LAYOUT_SETUP_DATA);
	ck_assert_uint_eq(sd->next, 0);
	ck_assert_uint_eq(sd->type, SETUP_DTB);
	ck_assert_int_eq(fdt_check_header(sd->data), 0);
	ck_assert_uint_eq(sd->len, fdt_totalsize(sd->data));
	ck_assert_uint_le(sizeof(*sd) + sd->len, LAYOUT_SETUP_DATA_MAX);
	ck_assert_uint_eq(count_cpus(sd->data), 254);
	/* Nothing outside the setup_data area. */
	ck_assert_uint_eq(ram[LAYOUT_SETUP_DATA - 1], POISON);
	ck_assert_uint_eq(ram[LAYOUT_SETUP_DATA + LAYOUT_SETUP_DATA_MAX], POISON);
}
END_TEST

START_TEST(setup_data_errors)
{
	struct fdt_vm_desc d = x86_desc(1, 0);
	struct guest_mem small;
	uint64_t gpa = 42;

	gm_init_with(&small, ram, LAYOUT_SETUP_DATA + LAYOUT_SETUP_DATA_MAX - 1);
	ck_assert_int_eq(fdt_write_setup_data(&small, &d, &gpa), -EFAULT);
	d.n_cpus = 0;
	ck_assert_int_eq(fdt_write_setup_data(&gm, &d, &gpa), -EINVAL);
	/* A bootargs string bigger than the area. */
	{
		char *big = malloc(LAYOUT_SETUP_DATA_MAX);

		memset(big, 'b', LAYOUT_SETUP_DATA_MAX - 1);
		big[LAYOUT_SETUP_DATA_MAX - 1] = 0;
		d.n_cpus = 1;
		d.bootargs = big;
		ck_assert_int_eq(fdt_write_setup_data(&gm, &d, &gpa), -ENOSPC);
		free(big);
	}
	ck_assert_uint_eq(gpa, 42);
	ck_assert_uint_eq(ram[LAYOUT_SETUP_DATA + LAYOUT_SETUP_DATA_MAX], POISON);
}
END_TEST

/* A made-up non-x86 architecture (GIC-like, 3 interrupt cells, MMIO UART)
 * proves the arch-neutral part has no x86 assumptions. */
static int fake_root_nodes(void *fdt, const struct fdt_vm_desc *d, uint32_t *parent)
{
	int r;

	(void)d;
	if ((r = fdt_begin_node(fdt, "intc@8000000")) < 0 ||
	    (r = fdt_property_string(fdt, "compatible", "arm,gic-v3")) < 0 ||
	    (r = fdt_property_u32(fdt, "#interrupt-cells", 3)) < 0 ||
	    (r = fdt_property(fdt, "interrupt-controller", NULL, 0)) < 0 ||
	    (r = fdt_property_u32(fdt, "phandle", 7)) < 0 ||
	    (r = fdt_end_node(fdt)) < 0)
		return r;
	*parent = 7;
	return 0;
}

static unsigned fake_irq_spec(const struct fdt_irq *irq, uint32_t *cells)
{
	cells[0] = 0;                    /* SPI */
	cells[1] = irq->irq;
	cells[2] = irq->level ? 4 : 1;   /* level high / edge rising */
	return 3;
}

static const struct fdt_arch fake_arch = {
	.root_nodes = fake_root_nodes,
	.irq_spec = fake_irq_spec,
	.cpu_compatible = "arm,arm-v8",
};

START_TEST(other_arch)
{
	struct fdt_vm_desc d = {
		.arch = &fake_arch, .n_cpus = 2, .bootargs = "earlycon",
		.compatible = "linux,dummy-virt",
		.serial = { .present = true, .io_port = false, .base = 0x9000000,
			    .size = 0x1000, .clock_hz = 24000000, .irq = { 33, false } },
		.n_virtio = 1,
		.virtio = { { .base = 0xa000000, .size = 0x200, .irq = { 48, true } } },
	};
	const uint32_t uart_irq[3] = { 0, 33, 1 }, vio_irq[3] = { 0, 48, 4 };
	int off;

	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), 0);
	check_str(buf, node(buf, "/"), "compatible", "linux,dummy-virt");
	ck_assert_ptr_null(fdt_getprop(buf, node(buf, "/"), "model", NULL));
	check_str(buf, node(buf, "/cpus/cpu@1"), "compatible", "arm,arm-v8");
	off = node(buf, "/serial@9000000");
	check_reg64(buf, off, 0x9000000, 0x1000);
	check_u32(buf, off, "interrupt-parent", 7);
	check_cells(buf, off, "interrupts", uart_irq, 3);
	off = node(buf, "/virtio@a000000");
	check_cells(buf, off, "interrupts", vio_irq, 3);
	ck_assert_int_lt(fdt_path_offset(buf, "/isa"), 0);
	ck_assert_int_lt(fdt_node_offset_by_compatible(buf, -1, "intel,ce4100-ioapic"), 0);
}
END_TEST

/* pvpanic (Linux's pvpanic-mmio): a root node with its compatible and reg,
 * no interrupt; absent unless added. */
START_TEST(pvpanic_node)
{
	struct fdt_vm_desc d = x86_desc(1, 1);
	int off;

	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), 0);
	ck_assert_int_lt(fdt_node_offset_by_compatible(buf, -1, "qemu,pvpanic-mmio"), 0);

	fdt_add_pvpanic(&d, LAYOUT_PVPANIC_MMIO, LAYOUT_PVPANIC_MMIO_SIZE);
	ck_assert_int_eq(fdt_build(&gm, &d, buf, BUF_SIZE), 0);
	ck_assert_int_eq(fdt_check_full(buf, fdt_totalsize(buf)), 0);
	off = node(buf, "/pvpanic@d1000000");
	ck_assert_int_eq(fdt_parent_offset(buf, off), 0);
	check_str(buf, off, "compatible", "qemu,pvpanic-mmio");
	check_reg64(buf, off, 0xd1000000, 1);
	ck_assert_ptr_null(fdt_getprop(buf, off, "interrupts", NULL));
	ck_assert_int_eq(fdt_node_offset_by_compatible(buf, -1, "qemu,pvpanic-mmio"), off);
	/* The virtio device is still there, beside it. */
	node(buf, "/virtio@d0000000");
}
END_TEST

static Suite *fdt_suite(void)
{
	Suite *s = suite_create("fdt");
	TCase *tc = tcase_create("fdt");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, x86_tree);
	tcase_add_test(tc, memory_above_4g);
	tcase_add_test(tc, max_cpus_and_devices);
	tcase_add_test(tc, no_bootargs_no_serial);
	tcase_add_test(tc, bad_descriptions);
	tcase_add_test(tc, buffer_too_small);
	tcase_add_test(tc, setup_data);
	tcase_add_test(tc, setup_data_errors);
	tcase_add_test(tc, other_arch);
	tcase_add_test(tc, pvpanic_node);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fdt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
