/* SPDX-License-Identifier: MIT */
/*
 * A bump allocator over the RAM above the guest image, for the big buffers
 * (virtqueues, packet buffers, per-connection receive buffers).  Not .bss:
 * start.S zeroes .bss in ring 0, where every `rep stosq` iteration is
 * interpreted on the PVM hosts; heap memory is handed out as it is (the
 * VMM gives us zeroed RAM, but callers must not rely on it).  No free.
 */
#ifndef TG_HEAP_H
#define TG_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* For large static buffers that need no zeroing (testguest.ld). */
#define NOINIT __attribute__((section(".noinit")))

/* Find the e820 RAM range that holds the image (Linux boot protocol
 * boot_params.e820_table) and hand out what lies above the image. */
void heap_init(uint64_t boot_params);

/* `size` bytes aligned to `align` (a power of two), or NULL. */
void *heap_alloc(size_t size, size_t align);

/* Bytes left. */
uint64_t heap_free_bytes(void);

#endif
