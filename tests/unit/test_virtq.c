// SPDX-License-Identifier: MIT
/*
 * Split virtqueue unit tests: the device-side API over fake guest memory,
 * driven by a test-side driver (virtio_test_driver.h).  The hostile cases
 * each assert the exact error, that the queue is broken (and the transport
 * told exactly once), and that not one byte of guest memory changed.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "virtio/virtqueue.h"
#include "virtio_test_driver.h"

/* Fake guest layout. */
#define DESC   0x1000ull
#define AVAIL  0x3000ull
#define USED   0x4000ull
#define ITABLE 0x8000ull   /* indirect tables */
#define DATA   0x10000ull  /* data buffers, 0x1000 each */
#define BUF(i) (DATA + 0x1000ull * (i))

static struct td_mem mem;
static struct td_ring ring;
static struct virtq vq;
static int broken_calls;

static void on_broken(void *opaque, struct virtq *q)
{
	(void)opaque;
	ck_assert_ptr_eq(q, &vq);
	broken_calls++;
}

static void setup(void)
{
	td_mem_init(&mem, TD_MEM_SIZE);
	memset(&vq, 0, sizeof(vq));
	vq.on_broken = on_broken;
	broken_calls = 0;
}

static void teardown(void)
{
	td_mem_free(&mem);
}

static void enable(uint16_t size, bool event_idx, bool indirect)
{
	struct virtq_config cfg = {
		.size = size, .desc = DESC, .avail = AVAIL, .used = USED,
		.event_idx = event_idx, .indirect = indirect,
	};

	td_ring_init(&ring, &mem, size, DESC, AVAIL, USED);
	ck_assert_int_eq(virtq_enable(&vq, &mem.gm, &cfg, 256), 0);
}

static int pop(struct iovec *iov, unsigned max, struct virtq_chain *c)
{
	return virtq_pop(&vq, iov, max, c);
}

/* One readable + one writable descriptor at head `h` (uses h, h+1). */
static void add_rw_chain(uint16_t h, uint32_t out, uint32_t in)
{
	td_desc(&ring, h, BUF(h), out, VIRTQ_DESC_F_NEXT, h + 1);
	td_desc(&ring, h + 1, BUF(h + 1), in, VIRTQ_DESC_F_WRITE, 0);
	td_add(&ring, h);
}

/* A single writable descriptor at head 0, popped and pushed once. */
static void cycle_one(void)
{
	struct iovec iov[4];
	struct virtq_chain c;

	td_desc(&ring, 0, BUF(0), 64, VIRTQ_DESC_F_WRITE, 0);
	td_add(&ring, 0);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	virtq_push(&vq, &c, 1);
}

/* ------------------------------------------------------------------ */
/* Ring geometry */

static int try_enable(uint16_t size, uint64_t d, uint64_t a, uint64_t u)
{
	struct virtq_config cfg = { .size = size, .desc = d, .avail = a, .used = u };

	return virtq_enable(&vq, &mem.gm, &cfg, 256);
}

START_TEST(enable_checks_geometry)
{
	ck_assert_int_eq(try_enable(0, DESC, AVAIL, USED), -EINVAL);
	ck_assert_int_eq(try_enable(3, DESC, AVAIL, USED), -EINVAL);
	ck_assert_int_eq(try_enable(512, DESC, AVAIL, USED), -EINVAL); /* > max */
	ck_assert_int_eq(try_enable(32768, DESC, AVAIL, USED), -EINVAL);
	ck_assert_int_eq(try_enable(8, DESC + 8, AVAIL, USED), -EINVAL);
	ck_assert_int_eq(try_enable(8, DESC, AVAIL + 1, USED), -EINVAL);
	ck_assert_int_eq(try_enable(8, DESC, AVAIL, USED + 2), -EINVAL);
	/* Outside RAM, straddling its end (event word included), overflow. */
	ck_assert_int_eq(try_enable(8, TD_MEM_SIZE, AVAIL, USED), -EFAULT);
	ck_assert_int_eq(try_enable(8, DESC, TD_MEM_SIZE - VIRTQ_AVAIL_SIZE(8) + 2, USED),
			 -EFAULT);
	ck_assert_int_eq(try_enable(8, DESC, AVAIL,
				    (TD_MEM_SIZE - VIRTQ_USED_SIZE(8) + 4) & ~3ull), -EFAULT);
	ck_assert_int_eq(try_enable(8, DESC, AVAIL, 0xfffffffffffffff0ull), -EFAULT);
	ck_assert(!vq.ready);
	/* Exactly at the end of RAM is fine. */
	ck_assert_int_eq(try_enable(8, DESC, AVAIL, (TD_MEM_SIZE - VIRTQ_USED_SIZE(8)) & ~3ull),
			 0);
	ck_assert(vq.ready);
	ck_assert_int_eq(try_enable(1, DESC, AVAIL, USED), 0);
	ck_assert_int_eq(try_enable(256, DESC, AVAIL, USED), 0);
	virtq_reset(&vq);
	ck_assert(!vq.ready);
	ck_assert_ptr_eq(vq.on_broken, on_broken); /* survives reset */
}
END_TEST

START_TEST(not_enabled_is_inert)
{
	struct iovec iov[2];
	struct virtq_chain c = { 0 };

	ck_assert_int_eq(pop(iov, 2, &c), 0);
	ck_assert(!virtq_should_signal(&vq));
	ck_assert(!virtq_enable_notify(&vq));
	virtq_disable_notify(&vq);
	virtq_push(&vq, &c, 0);
	ck_assert_int_eq(broken_calls, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Normal operation */

START_TEST(pop_push_basic)
{
	struct iovec iov[4];
	struct virtq_chain c;
	uint32_t id, len;

	enable(8, false, false);
	ck_assert_int_eq(pop(iov, 4, &c), 0);

	add_rw_chain(2, 100, 200);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	ck_assert_uint_eq(c.head, 2);
	ck_assert_uint_eq(c.n_out, 1);
	ck_assert_uint_eq(c.n_in, 1);
	ck_assert_uint_eq(c.out_len, 100);
	ck_assert_uint_eq(c.in_len, 200);
	ck_assert_ptr_eq(iov[0].iov_base, mem.host + BUF(2));
	ck_assert_uint_eq(iov[0].iov_len, 100);
	ck_assert_ptr_eq(iov[1].iov_base, mem.host + BUF(3));
	ck_assert_uint_eq(iov[1].iov_len, 200);
	ck_assert_int_eq(pop(iov, 4, &c), 0);

	memset(iov[1].iov_base, 0xab, 150);
	virtq_push(&vq, &c, 150);
	ck_assert_uint_eq(td_used_idx(&ring), 1);
	td_used_elem(&ring, 0, &id, &len);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 150);
	ck_assert_int_eq(broken_calls, 0);
}
END_TEST

START_TEST(push_clamps_written)
{
	struct iovec iov[4];
	struct virtq_chain c;
	uint32_t id, len;

	enable(8, false, false);
	add_rw_chain(0, 10, 20);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	virtq_push(&vq, &c, 0xffffffff);
	td_used_elem(&ring, 0, &id, &len);
	ck_assert_uint_eq(len, 20);

	/* Readable-only chain: nothing can have been written. */
	td_desc(&ring, 4, BUF(4), 10, 0, 0);
	td_add(&ring, 4);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	ck_assert_uint_eq(c.n_in, 0);
	virtq_push(&vq, &c, 5);
	td_used_elem(&ring, 1, &id, &len);
	ck_assert_uint_eq(id, 4);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(unpop_returns_chain)
{
	struct iovec iov[4];
	struct virtq_chain c1, c2, c;

	enable(8, true, false);
	add_rw_chain(0, 10, 20);
	add_rw_chain(2, 10, 20);
	ck_assert_int_eq(pop(iov, 4, &c1), 1);
	ck_assert_int_eq(pop(iov, 4, &c2), 1);
	ck_assert_int_eq(pop(iov, 4, &c), 0); /* nothing more */
	virtq_unpop(&vq, &c2);
	virtq_unpop(&vq, &c1);
	ck_assert_int_eq(pop(iov, 4, &c1), 1);
	ck_assert_uint_eq(c1.head, 0);
	ck_assert_int_eq(pop(iov, 4, &c2), 1);
	ck_assert_uint_eq(c2.head, 2);
	ck_assert_uint_eq(td_used_idx(&ring), 0);
}
END_TEST

START_TEST(long_chain_and_iov_order)
{
	struct iovec iov[8];
	struct virtq_chain c;

	enable(8, false, false);
	/* 3 readable then 5 writable, scattered order in the table. */
	static const uint16_t order[8] = { 5, 1, 7, 0, 3, 6, 2, 4 };
	for (int i = 0; i < 8; i++)
		td_desc(&ring, order[i], BUF(i), 10 + i,
			(i < 7 ? VIRTQ_DESC_F_NEXT : 0) | (i >= 3 ? VIRTQ_DESC_F_WRITE : 0),
			i < 7 ? order[i + 1] : 0);
	td_add(&ring, order[0]);
	ck_assert_int_eq(pop(iov, 8, &c), 1);
	ck_assert_uint_eq(c.n_out, 3);
	ck_assert_uint_eq(c.n_in, 5);
	ck_assert_uint_eq(c.out_len, 10 + 11 + 12);
	ck_assert_uint_eq(c.in_len, 13 + 14 + 15 + 16 + 17);
	for (int i = 0; i < 8; i++) {
		ck_assert_ptr_eq(iov[i].iov_base, mem.host + BUF(i));
		ck_assert_uint_eq(iov[i].iov_len, 10 + i);
	}
}
END_TEST

START_TEST(indirect_chain)
{
	struct iovec iov[8];
	struct virtq_chain c;

	enable(8, false, true);
	/* Table of 3: readable, writable, writable; linked 0 → 2 → 1. */
	td_desc_at(&mem, ITABLE, 0, BUF(0), 16, VIRTQ_DESC_F_NEXT, 2);
	td_desc_at(&mem, ITABLE, 2, BUF(1), 32, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	td_desc_at(&mem, ITABLE, 1, BUF(2), 64, VIRTQ_DESC_F_WRITE, 0);
	/* WRITE on the table descriptor itself must be ignored (2.7.5.3.2). */
	td_desc(&ring, 3, ITABLE, 48, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	td_add(&ring, 3);
	ck_assert_int_eq(pop(iov, 8, &c), 1);
	ck_assert_uint_eq(c.head, 3);
	ck_assert_uint_eq(c.n_out, 1);
	ck_assert_uint_eq(c.n_in, 2);
	ck_assert_uint_eq(c.out_len, 16);
	ck_assert_uint_eq(c.in_len, 96);
	ck_assert_ptr_eq(iov[0].iov_base, mem.host + BUF(0));
	ck_assert_ptr_eq(iov[1].iov_base, mem.host + BUF(1));
	ck_assert_ptr_eq(iov[2].iov_base, mem.host + BUF(2));
	virtq_push(&vq, &c, 96);
	ck_assert_uint_eq(td_used_idx(&ring), 1);
}
END_TEST

START_TEST(direct_then_indirect_chain)
{
	struct iovec iov[8];
	struct virtq_chain c;

	/* "zero or more normal chained descriptors followed by a single
	 * descriptor with INDIRECT" (2.7.5.3.2), table as long as allowed. */
	enable(4, false, true);
	td_desc(&ring, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc(&ring, 1, ITABLE, 16 * 3, VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < 3; i++)
		td_desc_at(&mem, ITABLE, i, BUF(1 + i), 8,
			   VIRTQ_DESC_F_WRITE | (i < 2 ? VIRTQ_DESC_F_NEXT : 0), i + 1);
	td_add(&ring, 0);
	ck_assert_int_eq(pop(iov, 8, &c), 1);
	ck_assert_uint_eq(c.n_out, 1);
	ck_assert_uint_eq(c.n_in, 3);

	/* A table of exactly queue-size entries is the longest legal one. */
	td_desc(&ring, 2, ITABLE + 0x100, 16 * 4, VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < 4; i++)
		td_desc_at(&mem, ITABLE + 0x100, i, BUF(i), 8,
			   i < 3 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	td_add(&ring, 2);
	ck_assert_int_eq(pop(iov, 8, &c), 1);
	ck_assert_uint_eq(c.n_out, 4);
	ck_assert_int_eq(broken_calls, 0);
}
END_TEST

START_TEST(unaligned_indirect_table)
{
	struct iovec iov[4];
	struct virtq_chain c;

	/* The spec puts no alignment on indirect tables. */
	enable(8, false, true);
	td_desc_at(&mem, ITABLE + 3, 0, BUF(0), 16, VIRTQ_DESC_F_NEXT, 1);
	td_desc_at(&mem, ITABLE + 3, 1, BUF(1), 16, VIRTQ_DESC_F_WRITE, 0);
	td_desc(&ring, 0, ITABLE + 3, 32, VIRTQ_DESC_F_INDIRECT, 0);
	td_add(&ring, 0);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	ck_assert_uint_eq(c.n_out, 1);
	ck_assert_uint_eq(c.n_in, 1);
}
END_TEST

START_TEST(zero_length_descriptor)
{
	struct iovec iov[4];
	struct virtq_chain c;

	enable(8, false, false);
	td_desc(&ring, 0, BUF(0), 0, VIRTQ_DESC_F_WRITE, 0);
	td_add(&ring, 0);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	ck_assert_uint_eq(c.in_len, 0);
	ck_assert_uint_eq(iov[0].iov_len, 0);
}
END_TEST

START_TEST(full_ring_and_wrap)
{
	struct iovec iov[4];
	struct virtq_chain c;
	uint32_t id, len;

	/* 70000 chains through a 4-entry ring: both 16-bit indices wrap. */
	enable(4, false, false);
	for (unsigned i = 0; i < 4; i++)
		td_desc(&ring, i, BUF(i), 4, VIRTQ_DESC_F_WRITE, 0);
	for (unsigned n = 0; n < 70000; n += 4) {
		for (unsigned i = 0; i < 4; i++)
			td_add(&ring, i);
		for (unsigned i = 0; i < 4; i++) {
			ck_assert_int_eq(pop(iov, 4, &c), 1);
			ck_assert_uint_eq(c.head, i);
			virtq_push(&vq, &c, i);
		}
		ck_assert_int_eq(pop(iov, 4, &c), 0);
		ck_assert_uint_eq(td_used_idx(&ring), (uint16_t)(n + 4));
		td_used_elem(&ring, (uint16_t)(n + 3), &id, &len);
		ck_assert_uint_eq(id, 3);
		ck_assert_uint_eq(len, 3);
	}
	ck_assert_int_eq(broken_calls, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Notification suppression and interrupts */

START_TEST(signal_no_event_idx)
{
	enable(8, false, false);
	/* Nothing pushed yet: nothing to signal. */
	ck_assert(virtq_should_signal(&vq)); /* first check ever: signal */
	ck_assert(!virtq_should_signal(&vq));
	cycle_one();
	ck_assert(virtq_should_signal(&vq));
	ck_assert(!virtq_should_signal(&vq)); /* nothing new */
	td_set_avail_flags(&ring, VIRTQ_AVAIL_F_NO_INTERRUPT);
	cycle_one();
	ck_assert(!virtq_should_signal(&vq));
	td_set_avail_flags(&ring, 0);
	cycle_one();
	ck_assert(virtq_should_signal(&vq));
}
END_TEST

START_TEST(notify_flag_no_event_idx)
{
	struct iovec iov[4];
	struct virtq_chain c;

	enable(8, false, false);
	ck_assert_uint_eq(td_used_flags(&ring), 0);
	virtq_disable_notify(&vq);
	ck_assert_uint_eq(td_used_flags(&ring), VIRTQ_USED_F_NO_NOTIFY);
	/* An empty pop with notifications off does not re-arm. */
	ck_assert_int_eq(pop(iov, 4, &c), 0);
	ck_assert_uint_eq(td_used_flags(&ring), VIRTQ_USED_F_NO_NOTIFY);
	ck_assert(!virtq_enable_notify(&vq));
	ck_assert_uint_eq(td_used_flags(&ring), 0);

	/* A buffer slipped in while notifications were off: enable says so. */
	virtq_disable_notify(&vq);
	add_rw_chain(0, 1, 1);
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_int_eq(pop(iov, 4, &c), 1);
}
END_TEST

/* virtq_pop_drain: kicks off while chains come, re-armed when empty. */
START_TEST(pop_drain_suppresses_then_arms)
{
	struct iovec iov[4];
	struct virtq_chain c;

	enable(8, false, false);
	add_rw_chain(0, 1, 1);
	add_rw_chain(2, 1, 1);
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), VIRTQ_POP_CHAIN);
	ck_assert_uint_eq(c.head, 0);
	ck_assert_uint_eq(td_used_flags(&ring), VIRTQ_USED_F_NO_NOTIFY);
	virtq_push(&vq, &c, 0);
	/* Added while draining: no kick wanted, popped all the same. */
	add_rw_chain(4, 1, 1);
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), VIRTQ_POP_CHAIN);
	ck_assert_uint_eq(c.head, 2);
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), VIRTQ_POP_CHAIN);
	ck_assert_uint_eq(c.head, 4);
	ck_assert_uint_eq(td_used_flags(&ring), VIRTQ_USED_F_NO_NOTIFY);
	/* Empty: armed ("kick me") before it says so. */
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), 0);
	ck_assert_uint_eq(td_used_flags(&ring), 0);
	ck_assert(vq.notify_enabled);
	/* Again empty: still armed, nothing written. */
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), 0);
	ck_assert_uint_eq(td_used_flags(&ring), 0);
}
END_TEST

START_TEST(pop_drain_event_idx)
{
	struct iovec iov[4];
	struct virtq_chain c;

	enable(8, true, false);
	add_rw_chain(0, 1, 1);
	add_rw_chain(2, 1, 1);
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), VIRTQ_POP_CHAIN);
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), VIRTQ_POP_CHAIN);
	/* Left behind while draining... */
	ck_assert_uint_eq(td_avail_event(&ring), 0);
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), 0);
	/* ...and set to the next index to consume once empty. */
	ck_assert_uint_eq(td_avail_event(&ring), 2);
	ck_assert_uint_eq(td_used_flags(&ring), 0); /* never the flag */
}
END_TEST

START_TEST(pop_drain_inert_and_broken)
{
	struct iovec iov[4];
	struct virtq_chain c;

	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), 0); /* not enabled */
	enable(8, false, false);
	td_add(&ring, 8); /* head out of range */
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), -EBADMSG);
	ck_assert_int_eq(broken_calls, 1);
	ck_assert_int_eq(virtq_pop_drain(&vq, iov, 4, &c), -EIO);
}
END_TEST

/*
 * Drain against a real concurrent driver: a thread adds chains and kicks
 * only when the ring asks for it (as virtqueue_kick_prepare_split()
 * decides, after its full barrier); the device drains and, when the drain
 * says "empty and armed", sleeps until a kick.  Every chain must be
 * consumed: a drain that forgets to arm, or arms at the wrong index, never
 * gets its kick.  (The nanosecond window that the re-check closes is
 * rarely hit here; the count of re-check finds is printed.)
 */
#define RACE_CHAINS 10000u
static sem_t race_kick;
static volatile bool race_event_idx;

/* A ring word the device writes concurrently. */
static uint16_t race_load16(uint64_t gpa)
{
	return le16toh(__atomic_load_n((uint16_t *)td_gpa(&mem, gpa), __ATOMIC_ACQUIRE));
}

static void *race_driver(void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < RACE_CHAINS; i++) {
		uint16_t old = ring.avail_idx, slot;
		uint16_t *idx = td_gpa(&mem, AVAIL + 2);
		bool kick;

		/* Wait for room (the device pushes what it consumed). */
		while ((uint16_t)(ring.avail_idx - race_load16(USED + 2)) >= ring.size)
			sched_yield();
		slot = (uint16_t)(ring.avail_idx % ring.size);
		td_desc(&ring, slot, BUF(slot), 16, VIRTQ_DESC_F_WRITE, 0);
		td_w16(&mem, AVAIL + 4 + 2u * slot, slot);
		ring.avail_idx++;
		__atomic_store_n(idx, htole16(ring.avail_idx), __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST); /* virtio_mb() */
		if (race_event_idx) {
			uint16_t ev = race_load16(USED + 4 + 8u * ring.size);

			kick = (uint16_t)(ring.avail_idx - ev - 1) < (uint16_t)(ring.avail_idx - old);
		} else {
			kick = !(race_load16(USED) & VIRTQ_USED_F_NO_NOTIFY);
		}
		if (kick)
			sem_post(&race_kick);
	}
	return NULL;
}

static void race_run(bool event_idx)
{
	struct iovec iov[4];
	struct virtq_chain c;
	pthread_t t;
	uint32_t got = 0;
	unsigned rechecks = 0;

	enable(8, event_idx, false);
	race_event_idx = event_idx;
	ck_assert_int_eq(sem_init(&race_kick, 0, 0), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, race_driver, NULL), 0);
	while (got < RACE_CHAINS) {
		struct timespec ts;
		int r = virtq_pop_drain(&vq, iov, 4, &c);

		ck_assert_int_ge(r, 0);
		if (r > 0) {
			rechecks += r == VIRTQ_POP_RECHECK;
			virtq_push(&vq, &c, 0);
			got++;
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		ck_assert_msg(sem_timedwait(&race_kick, &ts) == 0,
			      "lost wake-up after %u chains", (unsigned)got);
	}
	pthread_join(t, NULL);
	sem_destroy(&race_kick);
	printf("virtq_pop_drain race (event_idx %d): %u re-check finds\n", event_idx, rechecks);
}

START_TEST(pop_drain_no_lost_wakeup)
{
	race_run(false);
}
END_TEST

START_TEST(pop_drain_no_lost_wakeup_event_idx)
{
	race_run(true);
}
END_TEST

/* Drive the queue to used_idx == last_avail_idx == target (size 4). */
static void advance_to(uint16_t target, bool signal_each)
{
	struct iovec iov[4];
	struct virtq_chain c;

	td_desc(&ring, 0, BUF(0), 64, VIRTQ_DESC_F_WRITE, 0);
	while (vq.used_idx != target) {
		td_add(&ring, 0);
		ck_assert_int_eq(pop(iov, 4, &c), 1);
		virtq_push(&vq, &c, 1);
		if (signal_each) {
			/* The driver wants every interrupt: used_event = the
			 * index of the entry just added. */
			td_set_used_event(&ring, (uint16_t)(vq.used_idx - 1));
			ck_assert(virtq_should_signal(&vq));
		}
	}
}

START_TEST(event_idx_used_event_wraps)
{
	enable(4, true, false);
	advance_to(65534, true);
	ck_assert_uint_eq(td_used_idx(&ring), 65534);

	/* "Interrupt me once used idx passes 0", i.e. when entry 0 is used. */
	td_set_used_event(&ring, 0);
	cycle_one();                           /* used idx 65535 */
	ck_assert(!virtq_should_signal(&vq));
	cycle_one();                           /* used idx 0: entry 65535 */
	ck_assert(!virtq_should_signal(&vq));
	cycle_one();                           /* used idx 1: entry 0 used */
	ck_assert(virtq_should_signal(&vq));
	cycle_one();
	ck_assert(!virtq_should_signal(&vq)); /* event 0 already passed */

	/* A batch of two crossing the wrap: event 65535 lies inside. */
	advance_to(65534, false);
	ck_assert(!virtq_should_signal(&vq));
	td_set_used_event(&ring, 65535);
	cycle_one();
	cycle_one();                           /* 65534 → 0 in one batch */
	ck_assert_uint_eq(td_used_idx(&ring), 0);
	ck_assert(virtq_should_signal(&vq));
}
END_TEST

START_TEST(event_idx_65536_pushes_without_check)
{
	enable(4, true, false);
	td_set_used_event(&ring, 0x7777); /* never matches below */
	ck_assert(virtq_should_signal(&vq));
	/* A full wrap without a check: the remembered index is stale, so
	 * signal rather than trust vring_need_event. */
	advance_to(0x7777, false);
	advance_to(0, false);
	td_set_used_event(&ring, 0x1234);
	ck_assert(virtq_should_signal(&vq));
}
END_TEST

START_TEST(event_idx_avail_event_wraps)
{
	struct iovec iov[4];
	struct virtq_chain c;

	enable(4, true, false);
	/* An empty pop arms: avail_event = next index we will consume. */
	ck_assert_int_eq(pop(iov, 4, &c), 0);
	ck_assert_uint_eq(td_avail_event(&ring), 0);
	ck_assert_uint_eq(td_used_flags(&ring), 0);

	advance_to(65535, false);
	ck_assert_int_eq(pop(iov, 4, &c), 0);
	ck_assert_uint_eq(td_avail_event(&ring), 65535);
	/* The driver adds entry 65535 (avail idx 65535 → 0): it must kick,
	 * per vring_need_event(avail_event, new, old). */
	td_add(&ring, 0);
	ck_assert_uint_eq(ring.avail_idx, 0);
	ck_assert((uint16_t)(0 - 65535 - 1) < (uint16_t)(0 - 65535));
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	virtq_push(&vq, &c, 0);
	ck_assert_int_eq(pop(iov, 4, &c), 0);
	ck_assert_uint_eq(td_avail_event(&ring), 0);

	/* Notifications off: empty pops leave avail_event behind, so the
	 * driver's formula says "no kick" for later additions. */
	virtq_disable_notify(&vq);
	td_add(&ring, 0);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	virtq_push(&vq, &c, 0);
	ck_assert_int_eq(pop(iov, 4, &c), 0);
	ck_assert_uint_eq(td_avail_event(&ring), 0);
	ck_assert(!virtq_enable_notify(&vq));
	ck_assert_uint_eq(td_avail_event(&ring), 1);
	/* EVENT_IDX: the device never sets the NO_NOTIFY flag. */
	ck_assert_uint_eq(td_used_flags(&ring), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Hostile rings: exact error, queue broken once, guest memory untouched. */

static void expect_broken(int want, unsigned max_iov)
{
	struct iovec iov[64];
	struct virtq_chain c;
	uint8_t *snap = td_snapshot(&mem);

	ck_assert_uint_le(max_iov, 64);
	ck_assert_int_eq(pop(iov, max_iov, &c), want);
	ck_assert(vq.broken);
	ck_assert_int_eq(vq.error, want);
	ck_assert_int_eq(broken_calls, 1);
	ck_assert_int_eq(memcmp(snap, mem.host, mem.size), 0);

	/* Sticky: no more chains, no more callbacks, no writes. */
	ck_assert_int_eq(pop(iov, max_iov, &c), -EIO);
	c.head = 0;
	c.in_len = 16;
	virtq_push(&vq, &c, 16);
	ck_assert(!virtq_should_signal(&vq));
	ck_assert(!virtq_enable_notify(&vq));
	virtq_disable_notify(&vq);
	ck_assert_int_eq(broken_calls, 1);
	ck_assert_int_eq(memcmp(snap, mem.host, mem.size), 0);
	free(snap);
}

START_TEST(hostile_head_out_of_range)
{
	enable(8, false, false);
	td_add(&ring, 8);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_head_0xffff)
{
	enable(8, false, false);
	td_add(&ring, 0xffff);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_next_out_of_range)
{
	enable(8, false, false);
	td_desc(&ring, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 8);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_self_loop)
{
	enable(8, false, false);
	td_desc(&ring, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 64);
}
END_TEST

START_TEST(hostile_two_cycle)
{
	enable(8, false, false);
	td_desc(&ring, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc(&ring, 1, BUF(1), 8, VIRTQ_DESC_F_NEXT, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 64);
}
END_TEST

START_TEST(hostile_loop_whole_ring)
{
	/* A cycle through all N descriptors: caught at step N + 1. */
	enable(8, false, false);
	for (unsigned i = 0; i < 8; i++)
		td_desc(&ring, i, BUF(i), 8, VIRTQ_DESC_F_NEXT, (i + 1) % 8);
	td_add(&ring, 3);
	expect_broken(-EBADMSG, 64);
}
END_TEST

START_TEST(hostile_desc_outside_ram)
{
	enable(8, false, false);
	td_desc(&ring, 0, TD_MEM_SIZE, 1, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EFAULT, 8);
}
END_TEST

START_TEST(hostile_desc_straddles_ram_end)
{
	enable(8, false, false);
	td_desc(&ring, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc(&ring, 1, TD_MEM_SIZE - 16, 17, VIRTQ_DESC_F_WRITE, 0);
	td_add(&ring, 0);
	expect_broken(-EFAULT, 8);
}
END_TEST

START_TEST(hostile_desc_addr_wraps)
{
	enable(8, false, false);
	td_desc(&ring, 0, 0xfffffffffffff000ull, 0x2000, VIRTQ_DESC_F_WRITE, 0);
	td_add(&ring, 0);
	expect_broken(-EFAULT, 8);
}
END_TEST

START_TEST(hostile_zero_len_past_end)
{
	enable(8, false, false);
	td_desc(&ring, 0, TD_MEM_SIZE, 0, VIRTQ_DESC_F_WRITE, 0);
	td_add(&ring, 0);
	expect_broken(-EFAULT, 8);
}
END_TEST

START_TEST(hostile_readable_after_writable)
{
	enable(8, false, false);
	td_desc(&ring, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	td_desc(&ring, 1, BUF(1), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_readable_after_writable_into_indirect)
{
	enable(8, false, true);
	td_desc(&ring, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	td_desc(&ring, 1, ITABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(1), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_indirect_not_negotiated)
{
	enable(8, false, false);
	td_desc(&ring, 0, ITABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(0), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_indirect_with_next)
{
	enable(8, false, true);
	td_desc(&ring, 0, ITABLE, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	td_desc(&ring, 1, BUF(1), 8, VIRTQ_DESC_F_WRITE, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(0), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_nested_indirect)
{
	enable(8, false, true);
	td_desc(&ring, 0, ITABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc_at(&mem, ITABLE, 1, ITABLE + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE + 0x100, 0, BUF(1), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_indirect_len_zero)
{
	enable(8, false, true);
	td_desc(&ring, 0, ITABLE, 0, VIRTQ_DESC_F_INDIRECT, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_indirect_len_not_multiple)
{
	enable(8, false, true);
	td_desc(&ring, 0, ITABLE, 24, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(0), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_indirect_table_too_big)
{
	enable(8, false, true);
	td_desc(&ring, 0, ITABLE, 16 * 9, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(0), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 64);
}
END_TEST

START_TEST(hostile_indirect_table_outside_ram)
{
	enable(8, false, true);
	td_desc(&ring, 0, TD_MEM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	td_add(&ring, 0);
	expect_broken(-EFAULT, 8);
}
END_TEST

START_TEST(hostile_indirect_loop)
{
	enable(8, false, true);
	td_desc(&ring, 0, ITABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc_at(&mem, ITABLE, 1, BUF(1), 8, VIRTQ_DESC_F_NEXT, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 64);
}
END_TEST

START_TEST(hostile_indirect_next_out_of_table)
{
	/* next = 2 is < queue size but beyond the 2-entry table. */
	enable(8, false, true);
	td_desc(&ring, 0, ITABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 2);
	td_desc_at(&mem, ITABLE, 2, BUF(1), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_chain_longer_than_queue)
{
	/* 3 direct + a 2-entry table = 5 buffers in a 4-entry queue. */
	enable(4, false, true);
	td_desc(&ring, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc(&ring, 1, BUF(1), 8, VIRTQ_DESC_F_NEXT, 2);
	td_desc(&ring, 2, BUF(2), 8, VIRTQ_DESC_F_NEXT, 3);
	td_desc(&ring, 3, ITABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	td_desc_at(&mem, ITABLE, 0, BUF(3), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc_at(&mem, ITABLE, 1, BUF(4), 8, 0, 0);
	td_add(&ring, 0);
	expect_broken(-EBADMSG, 64);
}
END_TEST

START_TEST(hostile_avail_idx_jump)
{
	enable(8, false, false);
	td_desc(&ring, 0, BUF(0), 8, 0, 0);
	td_set_avail_idx(&ring, 9);
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_avail_idx_backwards)
{
	struct iovec iov[4];
	struct virtq_chain c;

	enable(8, false, false);
	td_desc(&ring, 0, BUF(0), 8, 0, 0);
	td_add(&ring, 0);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	virtq_push(&vq, &c, 0);
	td_set_avail_idx(&ring, 0); /* 1 → 0: a jump of 65535 */
	expect_broken(-EBADMSG, 8);
}
END_TEST

START_TEST(hostile_too_many_iovecs)
{
	enable(8, false, false);
	for (unsigned i = 0; i < 5; i++)
		td_desc(&ring, i, BUF(i), 8, i < 4 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	td_add(&ring, 0);
	expect_broken(-ENOBUFS, 4);
}
END_TEST

START_TEST(hostile_chain_over_4gib)
{
	/* Needs buffers big enough to pass gm_ptr: reserve (never touch)
	 * 2.5 GiB of address space as "guest RAM". */
	const uint64_t size = 0xa0000000ull;
	uint8_t *big = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct td_mem m = { .host = big, .size = size };
	struct virtq_config cfg = { .size = 8, .desc = DESC, .avail = AVAIL, .used = USED };
	struct td_ring r;
	struct iovec iov[4];
	struct virtq_chain c;

	ck_assert_ptr_ne(big, MAP_FAILED);
	gm_init_with(&m.gm, big, size);
	td_ring_init(&r, &m, 8, DESC, AVAIL, USED);
	ck_assert_int_eq(virtq_enable(&vq, &m.gm, &cfg, 256), 0);
	/* 2 GiB + 2 GiB = 2^32 > UINT32_MAX. */
	td_desc(&r, 0, 0x10000, 0x80000000u, VIRTQ_DESC_F_NEXT, 1);
	td_desc(&r, 1, 0x10000, 0x80000000u, VIRTQ_DESC_F_WRITE, 0);
	td_add(&r, 0);
	ck_assert_int_eq(pop(iov, 4, &c), -EBADMSG);
	ck_assert(vq.broken);
	ck_assert_int_eq(broken_calls, 1);
	/* Just under the limit is fine. */
	virtq_reset(&vq);
	td_ring_init(&r, &m, 8, DESC, AVAIL, USED);
	ck_assert_int_eq(virtq_enable(&vq, &m.gm, &cfg, 256), 0);
	td_desc(&r, 0, 0x10000, 0x80000000u, VIRTQ_DESC_F_NEXT, 1);
	td_desc(&r, 1, 0x10000, 0x7fffffffu, VIRTQ_DESC_F_WRITE, 0);
	td_add(&r, 0);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	ck_assert_uint_eq(c.out_len, 0x80000000u);
	ck_assert_uint_eq(c.in_len, 0x7fffffffu);
	munmap(big, size);
}
END_TEST

START_TEST(hostile_good_then_bad)
{
	/* Chains before the bad one are delivered; the bad one breaks it. */
	struct iovec iov[4];
	struct virtq_chain c;

	enable(8, false, false);
	add_rw_chain(0, 4, 4);
	td_desc(&ring, 2, BUF(2), 8, VIRTQ_DESC_F_NEXT, 99);
	td_add(&ring, 2);
	ck_assert_int_eq(pop(iov, 4, &c), 1);
	virtq_push(&vq, &c, 4);
	ck_assert_uint_eq(td_used_idx(&ring), 1);
	expect_broken(-EBADMSG, 4);
	ck_assert_uint_eq(td_used_idx(&ring), 1);
}
END_TEST

static Suite *virtq_suite(void)
{
	Suite *s = suite_create("virtq");
	TCase *tc = tcase_create("ring");
	TCase *th = tcase_create("hostile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, enable_checks_geometry);
	tcase_add_test(tc, not_enabled_is_inert);
	tcase_add_test(tc, pop_push_basic);
	tcase_add_test(tc, push_clamps_written);
	tcase_add_test(tc, unpop_returns_chain);
	tcase_add_test(tc, long_chain_and_iov_order);
	tcase_add_test(tc, indirect_chain);
	tcase_add_test(tc, direct_then_indirect_chain);
	tcase_add_test(tc, unaligned_indirect_table);
	tcase_add_test(tc, zero_length_descriptor);
	tcase_add_test(tc, full_ring_and_wrap);
	tcase_add_test(tc, signal_no_event_idx);
	tcase_add_test(tc, notify_flag_no_event_idx);
	tcase_add_test(tc, pop_drain_suppresses_then_arms);
	tcase_add_test(tc, pop_drain_event_idx);
	tcase_add_test(tc, pop_drain_inert_and_broken);
	tcase_add_test(tc, pop_drain_no_lost_wakeup);
	tcase_add_test(tc, pop_drain_no_lost_wakeup_event_idx);
	tcase_add_test(tc, event_idx_used_event_wraps);
	tcase_add_test(tc, event_idx_65536_pushes_without_check);
	tcase_add_test(tc, event_idx_avail_event_wraps);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(th, setup, teardown);
	tcase_add_test(th, hostile_head_out_of_range);
	tcase_add_test(th, hostile_head_0xffff);
	tcase_add_test(th, hostile_next_out_of_range);
	tcase_add_test(th, hostile_self_loop);
	tcase_add_test(th, hostile_two_cycle);
	tcase_add_test(th, hostile_loop_whole_ring);
	tcase_add_test(th, hostile_desc_outside_ram);
	tcase_add_test(th, hostile_desc_straddles_ram_end);
	tcase_add_test(th, hostile_desc_addr_wraps);
	tcase_add_test(th, hostile_zero_len_past_end);
	tcase_add_test(th, hostile_readable_after_writable);
	tcase_add_test(th, hostile_readable_after_writable_into_indirect);
	tcase_add_test(th, hostile_indirect_not_negotiated);
	tcase_add_test(th, hostile_indirect_with_next);
	tcase_add_test(th, hostile_nested_indirect);
	tcase_add_test(th, hostile_indirect_len_zero);
	tcase_add_test(th, hostile_indirect_len_not_multiple);
	tcase_add_test(th, hostile_indirect_table_too_big);
	tcase_add_test(th, hostile_indirect_table_outside_ram);
	tcase_add_test(th, hostile_indirect_loop);
	tcase_add_test(th, hostile_indirect_next_out_of_table);
	tcase_add_test(th, hostile_chain_longer_than_queue);
	tcase_add_test(th, hostile_avail_idx_jump);
	tcase_add_test(th, hostile_avail_idx_backwards);
	tcase_add_test(th, hostile_too_many_iovecs);
	tcase_add_test(th, hostile_chain_over_4gib);
	tcase_add_test(th, hostile_good_then_bad);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(virtq_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
