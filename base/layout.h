/* SPDX-License-Identifier: MIT */
/*
 * x86-64 guest physical memory layout, shared by the VMM and (by contract)
 * the freestanding test guest.
 *
 *   0x0000_0500  GDT (4 entries)                   LAYOUT_GDT
 *   0x0000_7000  boot_params, the "zero page"     LAYOUT_ZERO_PAGE
 *   0x0000_8000  free for guest real-mode trampolines (SIPI vector 8)
 *   0x0000_9000  PML4                              LAYOUT_PML4
 *   0x0000_a000  PDPT                              LAYOUT_PDPT
 *   0x0000_b000  4 page directories (2 MiB pages, identity map of 4 GiB)
 *   0x0002_0000  kernel command line (NUL-terminated) LAYOUT_CMDLINE
 *   0x0003_0000  setup_data chain (device tree)    LAYOUT_SETUP_DATA
 *   0x0009_fc00  EBDA: MP floating pointer + MP config table, reserved up to 1 MiB
 *   0x0010_0000  first "high" RAM; bzImage protected-mode kernel loads here
 *   ...          RAM up to min(mem, 3 GiB)
 *   0xc000_0000  MMIO hole up to 4 GiB:
 *                0xd000_0000 virtio-mmio devices, 4 KiB apart
 *                0xd100_0000 pvpanic register (described in the device tree)
 *                0xfec0_0000 IO-APIC, 0xfee0_0000 local APIC
 *   0x1_0000_0000 rest of RAM when mem > 3 GiB
 */
#ifndef BASE_LAYOUT_H
#define BASE_LAYOUT_H

#define LAYOUT_GDT            0x500ULL
#define LAYOUT_ZERO_PAGE      0x7000ULL
#define LAYOUT_TRAMPOLINE     0x8000ULL
#define LAYOUT_PML4           0x9000ULL
#define LAYOUT_PDPT           0xa000ULL
#define LAYOUT_PD             0xb000ULL /* 4 pages: 0xb000..0xefff */
#define LAYOUT_CMDLINE        0x20000ULL
#define LAYOUT_CMDLINE_MAX    0x10000ULL /* bytes including the NUL */
#define LAYOUT_SETUP_DATA     0x30000ULL
#define LAYOUT_SETUP_DATA_MAX 0x10000ULL
#define LAYOUT_EBDA           0x9fc00ULL
#define LAYOUT_MPTABLE        LAYOUT_EBDA
#define LAYOUT_HIGH_RAM       0x100000ULL
#define LAYOUT_MMIO_HOLE      0xc0000000ULL
#define LAYOUT_4G             0x100000000ULL
#define LAYOUT_VIRTIO_MMIO    0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL
#define LAYOUT_PVPANIC_MMIO   0xd1000000ULL /* 16 MiB above the first virtio device */
#define LAYOUT_PVPANIC_MMIO_SIZE 1ULL        /* one byte register */
/* Where KVM on Intel keeps the TSS and the identity-map page it needs for
 * real-mode emulation: three pages just below the BIOS area, inside the MMIO
 * hole and away from the IO-APIC/LAPIC (same place QEMU and kvmtool use). */
#define LAYOUT_KVM_TSS        0xfffbd000ULL
#define LAYOUT_KVM_IDENTITY_MAP 0xfffbc000ULL
#define LAYOUT_IOAPIC         0xfec00000ULL
#define LAYOUT_LAPIC          0xfee00000ULL

/* Legacy devices. */
#define LAYOUT_SERIAL_PORT    0x3f8
#define LAYOUT_SERIAL_IRQ     4
#define LAYOUT_VIRTIO_IRQ_BASE 5 /* first virtio-mmio device's IO-APIC pin */

/* Segment selectors installed in the GDT (Linux boot protocol: __BOOT_CS/__BOOT_DS). */
#define LAYOUT_SEL_CODE64     0x10
#define LAYOUT_SEL_DATA       0x18

#endif
