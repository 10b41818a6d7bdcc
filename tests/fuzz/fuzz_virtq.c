// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the split-virtqueue chain parser.
 *
 * Input: an 8-byte header, then the guest memory image (copied to the
 * start of a 64 KiB fake RAM, the rest zero).
 *   h[0] low 4 bits: log2 queue size (sizes above 256 are refused by
 *        virtq_enable, which is exercised too)
 *   h[1] bit 0 EVENT_IDX, bit 1 INDIRECT_DESC negotiated
 *   h[2] max_iov (0..63)
 *   h[3] seed for the device's choices (unpop, notify on/off, lengths)
 *   h[4] h[5] h[6]: low bits perturb desc/avail/used addresses (alignment)
 * Fixed layout: desc 0x0000, avail 0x1000, used 0x2000; everything else is
 * buffer space the image's descriptors may point anywhere into.
 *
 * The device pops until empty or broken, writes into every writable
 * buffer, reads every readable one, pushes, sometimes unpops, checks
 * signals.  Invariants are checked with __builtin_trap().
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "virtio/virtqueue.h"
#include "vmm/guest_mem.h"

#define MEM_SIZE 0x10000u
#define MAX_IOV  64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mem[MEM_SIZE] __attribute__((aligned(4096)));

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static void on_broken(void *opaque, struct virtq *vq)
{
	int *calls = opaque;

	(void)vq;
	(*calls)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem gm;
	struct virtq vq;
	struct virtq_config cfg;
	struct iovec iov[MAX_IOV];
	struct virtq_chain c;
	uint32_t seed;
	unsigned max_iov, pushes = 0;
	int broken_calls = 0;
	volatile uint8_t sink = 0;

	if (size < 8)
		return 0;
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data + 8, size - 8 < MEM_SIZE ? size - 8 : MEM_SIZE);
	gm_init_with(&gm, mem, MEM_SIZE);

	cfg = (struct virtq_config){
		.size = (uint16_t)(1u << (data[0] & 15)),
		.desc = 0x0000 + (data[4] & 0x1f) * ((data[4] & 0x80) != 0),
		.avail = 0x1000 + (data[5] & 0x7) * ((data[5] & 0x80) != 0),
		.used = 0x2000 + (data[6] & 0x7) * ((data[6] & 0x80) != 0),
		.event_idx = data[1] & 1,
		.indirect = data[1] & 2,
	};
	max_iov = data[2] % MAX_IOV;
	seed = data[3];

	memset(&vq, 0, sizeof(vq));
	vq.on_broken = on_broken;
	vq.on_broken_opaque = &broken_calls;
	if (virtq_enable(&vq, &gm, &cfg, 256) < 0) {
		CHECK(!vq.ready);
		return 0;
	}

	/* Bounded: each pop consumes one of at most `size` heads, unpops are
	 * limited by the iteration budget. */
	for (unsigned iter = 0; iter < 4u * cfg.size + 16; iter++) {
		uint32_t r = rnd(&seed);
		uint64_t total = 0;
		int rc;

		if (r % 7 == 0)
			virtq_disable_notify(&vq);
		else if (r % 7 == 1)
			(void)virtq_enable_notify(&vq);
		(void)virtq_has_avail(&vq);
		CHECK(virtq_avail_count(&vq) <= cfg.size);

		rc = virtq_pop(&vq, iov, max_iov, &c);
		if (rc < 0) {
			CHECK(vq.broken && broken_calls == 1);
			CHECK(rc == -EBADMSG || rc == -EFAULT || rc == -ENOBUFS ||
			      rc == -EIO);
			CHECK(virtq_pop(&vq, iov, max_iov, &c) == -EIO);
			break;
		}
		if (rc == 0)
			break;
		CHECK(rc == 1);
		CHECK(c.head < cfg.size);
		CHECK((unsigned)c.n_out + c.n_in <= max_iov);
		CHECK((unsigned)c.n_out + c.n_in <= cfg.size);
		for (unsigned i = 0; i < (unsigned)c.n_out + c.n_in; i++) {
			uint8_t *p = iov[i].iov_base;

			CHECK(p >= mem && p + iov[i].iov_len <= mem + MEM_SIZE);
			total += iov[i].iov_len;
			if (i < c.n_out) {
				for (size_t k = 0; k < iov[i].iov_len; k++)
					sink ^= p[k];
			} else {
				memset(p, (int)(r & 0xff), iov[i].iov_len);
			}
		}
		CHECK(total == (uint64_t)c.out_len + c.in_len);

		if (r % 11 == 3) {
			virtq_unpop(&vq, &c);
			continue;
		}
		virtq_push(&vq, &c, r % 3 == 0 ? c.in_len : rnd(&seed));
		pushes++;
		if (r % 2)
			(void)virtq_should_signal(&vq);
	}
	(void)virtq_should_signal(&vq);
	(void)sink;
	(void)pushes;
	return 0;
}
