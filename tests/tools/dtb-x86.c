// SPDX-License-Identifier: MIT
/*
 * dtb-x86: write the device tree that `vmm run --discovery fdt` gives an
 * x86 guest, for booting a guest kernel with it elsewhere (QEMU's -dtb
 * passes it in setup_data as SETUP_DTB, as we do) when this host has no
 * KVM.  Same builder and the same layout constants as vmm/main.c.
 *
 * Usage: dtb-x86 OUT MEM_MIB VCPUS N_VIRTIO BOOTARGS
 */
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/fdt.h"
#include "vmm/guest_mem.h"
#include "vmm/layout.h"

static unsigned long num(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "dtb-x86: %s: '%s' is not a number\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static char buf[64 << 10];
	struct guest_mem gm;
	struct fdt_vm_desc d;
	unsigned long mib, vcpus, nvirtio;
	FILE *f;
	int r;

	if (argc != 6) {
		fprintf(stderr, "usage: dtb-x86 OUT MEM_MIB VCPUS N_VIRTIO BOOTARGS\n");
		return 2;
	}
	mib = num(argv[2], "MEM_MIB");
	vcpus = num(argv[3], "VCPUS");
	nvirtio = num(argv[4], "N_VIRTIO");
	r = gm_init(&gm, (uint64_t)mib << 20);
	if (r) {
		fprintf(stderr, "dtb-x86: guest memory: %s\n", strerror(-r));
		return 1;
	}
	fdt_desc_init_x86(&d, (unsigned)vcpus, argv[5]);
	for (unsigned long i = 0; i < nvirtio; i++)
		if (fdt_add_virtio(&d, LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_MMIO_SIZE,
				   LAYOUT_VIRTIO_MMIO_SIZE, LAYOUT_VIRTIO_IRQ_BASE + (uint32_t)i)) {
			fprintf(stderr, "dtb-x86: too many virtio devices\n");
			return 1;
		}
	r = fdt_build(&gm, &d, buf, sizeof(buf));
	if (r) {
		fprintf(stderr, "dtb-x86: %s\n", strerror(-r));
		return 1;
	}
	f = fopen(argv[1], "wb");
	if (!f || fwrite(buf, 1, fdt_totalsize(buf), f) != fdt_totalsize(buf) || fclose(f)) {
		fprintf(stderr, "dtb-x86: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	gm_destroy(&gm);
	return 0;
}
