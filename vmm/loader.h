/* SPDX-License-Identifier: MIT */
/*
 * Kernel image loading: an uncompressed ELF64 x86-64 (vmlinux, or the test
 * guest) or a bzImage (Linux boot protocol >= 2.06 with a 64-bit entry).
 * Every header field is checked against the image length and guest RAM
 * before use: a truncated or malformed image is an error, never a crash.
 */
#ifndef VMM_LOADER_H
#define VMM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <asm/bootparam.h>

#include "base/guest_mem.h"

struct kernel_image {
	uint64_t entry;      /* guest physical address of the 64-bit entry */
	uint64_t load_start; /* lowest guest physical byte written */
	uint64_t load_end;   /* one past the highest byte (incl. bss) */
	bool is_bzimage;
	struct setup_header hdr; /* bzImage only: its setup header, as in the file */
};

/* Load `img` (len bytes) into guest RAM.  0, or -EINVAL with a one-line reason in
 * err ("neither ELF nor bzImage", "truncated program header", ...). */
int loader_load(const struct guest_mem *gm, const void *img, size_t len,
		struct kernel_image *out, char *err, size_t errlen);

/* Read a whole regular file (kernel, initrd) into a malloc'd buffer, never
 * blocking on a FIFO.  0, or -errno with a one-line reason in err: "empty
 * file" (-ENODATA), "not a regular file (a FIFO)" (-EINVAL, -EISDIR for a
 * directory), or the system's text ("No such file or directory"). */
int loader_read_file(const char *path, void **buf, size_t *len, char *err, size_t errlen);

/* The same in two steps, for a file that goes straight into guest RAM (an
 * initrd: one copy instead of two, and no second buffer of its size to
 * fault in): open and check it (*fd, *len; same errors), then read exactly
 * len bytes into dst (-EIO "shrank while being read", or the read error).
 * The caller closes fd. */
int loader_open_file(const char *path, int *fd, size_t *len, char *err, size_t errlen);
int loader_read_fd(int fd, void *dst, size_t len, char *err, size_t errlen);

/* Choose where the initrd goes: as high as possible, page aligned, below
 * min(RAM below 4 GiB, max_addr + 1) and above kernel_end.  0 with *gpa set,
 * or -ENOSPC if it does not fit. */
int loader_place_initrd(const struct guest_mem *gm, uint64_t kernel_end,
			uint64_t size, uint64_t max_addr, uint64_t *gpa);

/* The highest guest address the initrd may occupy for this kernel, the
 * max_addr to pass to loader_place_initrd(): a bzImage's initrd_addr_max
 * (boot.rst), 4 GiB - 1 for an ELF (ramdisk_image is 32 bits + ext_). */
uint64_t loader_initrd_max(const struct kernel_image *k);

#endif
