/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 Linux 64-bit boot protocol (Documentation/arch/x86/boot.rst):
 * zero page (struct boot_params) with setup header, e820 map and command
 * line; identity page tables (2 MiB pages only, never 1 GiB) for the first
 * 4 GiB; a GDT with __BOOT_CS/__BOOT_DS; and the register state of the boot
 * vCPU: long mode, paging on, interrupts off, RSI = &boot_params.
 */
#ifndef VMM_X86_BOOT_H
#define VMM_X86_BOOT_H

#include <stdint.h>
#include <linux/kvm.h>

#include "base/guest_mem.h"
#include "loader.h"

struct x86_boot_info {
	const struct kernel_image *kernel;
	const char *cmdline;      /* full command line as the guest will see it */
	uint64_t initrd_gpa, initrd_size; /* size 0: no initrd */
	uint64_t setup_data_gpa;  /* 0: none; else head of the setup_data chain */
};

/* Write zero page (incl. e820 from gm), command line, page tables and GDT.
 * 0, or -EINVAL with a reason in err (e.g. command line too long). */
int x86_boot_setup(const struct guest_mem *gm, const struct x86_boot_info *bi,
		   char *err, size_t errlen);

/* Fill the boot vCPU's registers for entry at `entry`. `sregs` must hold the
 * vCPU's current special registers (from KVM_GET_SREGS); only the fields the
 * protocol defines are changed. */
void x86_boot_regs(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
