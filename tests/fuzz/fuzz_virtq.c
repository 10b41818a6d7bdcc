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
 *   h[7] bit 7: the first chain is generated, not taken from the image:
 *        h[7] & 63 buffers, with bit 6 the last ones in an indirect
 *        table after h[3] % (count + 1) direct ones (see gen_chain);
 *        h[6] bit 6: the table is one (unused) entry longer.  Raw
 *        images rarely make chains as long as the queue; this mode puts
 *        chain lengths around the queue size one byte away.
 * Fixed layout: desc 0x0000, avail 0x1000, used 0x2000; everything else is
 * buffer space the image's descriptors may point anywhere into.
 *
 * The device pops until empty or broken, writes into every writable
 * buffer, reads every readable one, pushes, sometimes unpops, checks
 * signals.  Every answer is compared with a model written from the rules
 * in virtqueue.h (the spec's), not from virtqueue.c:
 *   - pop: which chain is next, whether it is legal (and so accepted) or
 *     not (and so breaks the queue), and exactly what it pops as: head,
 *     every buffer's address and length, readable/writable split, totals;
 *     an empty ring, a ring more than N ahead, a broken queue;
 *   - push: the used element {head, written clamped to the writable
 *     length} in the next slot, and used->idx;
 *   - should_signal: NO_INTERRUPT, or with EVENT_IDX whether used->idx
 *     passed used_event since the last decision (each index it moved
 *     through is tried);
 *   - disable/enable_notify and an empty pop: NO_NOTIFY / avail_event as
 *     published, and the "buffers arrived meanwhile" answer;
 *   - virtq_pop_drain (some pops): the same chain as a pop, with
 *     notifications suppressed after it, armed when it finds none.
 * A mismatch or a broken invariant is __builtin_trap().
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "virtio/virtqueue.h"
#include "base/guest_mem.h"

#define MEM_SIZE 0x10000u
#define MAX_IOV  64
#define MAX_N    256 /* the largest queue virtq_enable accepts here */

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

/* --- the model ----------------------------------------------------------- */

static uint16_t m16(uint64_t gpa)
{
	return (uint16_t)(mem[gpa] | mem[gpa + 1] << 8);
}

static uint32_t m32(uint64_t gpa)
{
	return m16(gpa) | (uint32_t)m16(gpa + 2) << 16;
}

/* A buffer the device may use: wholly inside guest RAM (one region here,
 * an address at the very end is outside even with length 0). */
static bool m_ram(uint64_t addr, uint64_t len)
{
	return addr < MEM_SIZE && len <= MEM_SIZE - addr;
}

struct m_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct m_desc m_read_desc(uint64_t gpa)
{
	return (struct m_desc){
		.addr = m32(gpa) | (uint64_t)m32(gpa + 4) << 32,
		.len = m32(gpa + 8), .flags = m16(gpa + 12), .next = m16(gpa + 14),
	};
}

/* What a legal chain pops as. */
struct m_chain {
	unsigned n, n_out, n_in;
	uint64_t out_len, in_len;
	uint64_t addr[MAX_IOV];
	uint32_t len[MAX_IOV];
};

/*
 * The rules of virtqueue.h, checked on a walk that remembers every
 * descriptor it visited (a legal chain visits none twice).  A chain is
 * legal if: its head and every `next` index their table; no descriptor is
 * visited twice; an INDIRECT descriptor is allowed (feature), not inside a
 * table, without NEXT, its table 1..N whole descriptors inside RAM; every
 * buffer is inside RAM; no readable buffer follows a writable one; it has
 * at most N buffers (queue size, table contents counted) and at most
 * max_iov; its total length fits 32 bits.  True if legal (*m filled).
 */
static bool m_walk(uint64_t desc_gpa, unsigned qsize, bool indirect, unsigned max_iov,
		   uint16_t head, struct m_chain *m)
{
	bool seen_ring[MAX_N] = { false }, seen_tab[MAX_N];
	uint64_t tab = 0;
	unsigned tab_n = 0, idx = head;
	bool in_tab = false;

	memset(m, 0, sizeof(*m));
	if (head >= qsize)
		return false;
	for (;;) {
		struct m_desc d;

		if (in_tab) {
			if (seen_tab[idx])
				return false;
			seen_tab[idx] = true;
			d = m_read_desc(tab + 16ull * idx);
		} else {
			if (seen_ring[idx])
				return false;
			seen_ring[idx] = true;
			d = m_read_desc(desc_gpa + 16ull * idx);
		}
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!indirect || in_tab || (d.flags & VIRTQ_DESC_F_NEXT))
				return false;
			if (d.len == 0 || d.len % 16 || d.len / 16 > qsize ||
			    !m_ram(d.addr, d.len))
				return false;
			in_tab = true;
			tab = d.addr;
			tab_n = d.len / 16;
			memset(seen_tab, 0, sizeof(seen_tab));
			idx = 0;
			continue;
		}
		if (m->n == qsize || m->n == max_iov || !m_ram(d.addr, d.len))
			return false;
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			m->n_in++;
			m->in_len += d.len;
		} else {
			if (m->n_in)
				return false;
			m->n_out++;
			m->out_len += d.len;
		}
		if (m->out_len + m->in_len > UINT32_MAX)
			return false;
		m->addr[m->n] = d.addr;
		m->len[m->n] = d.len;
		m->n++;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return true;
		if (d.next >= (in_tab ? tab_n : qsize))
			return false;
		idx = d.next;
	}
}

/* The model's queue state and the guest-visible words it checks. */
struct model {
	struct virtq_config cfg;
	unsigned max_iov;
	uint16_t avail;        /* next avail slot the device takes */
	uint16_t used;         /* used->idx after our pushes */
	bool broken;
	bool notify;           /* notifications enabled */
	bool sig_valid;        /* a signal decision was made */
	uint16_t sig_at;       /* used index at that decision */
};

static uint16_t m_avail_idx(const struct model *m)
{
	return m16(m->cfg.avail + 2);
}

/* Notifications are armed: NO_NOTIFY clear, or avail_event = next slot. */
static void m_check_armed(const struct model *m)
{
	if (m->cfg.event_idx)
		CHECK(m16(m->cfg.used + 4 + 8ull * m->cfg.size) == m->avail);
	else
		CHECK((m16(m->cfg.used) & VIRTQ_USED_F_NO_NOTIFY) == 0);
}

/* The decision spec 2.7.10 asks for, given the pushes since the last one. */
static bool m_should_signal(struct model *m)
{
	uint16_t from = m->sig_at;
	bool valid = m->sig_valid;

	if (m->broken)
		return false;
	if (valid && from == m->used)
		return false;   /* nothing new */
	m->sig_at = m->used;
	m->sig_valid = true;
	if (!m->cfg.event_idx)
		return !(m16(m->cfg.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;    /* nothing known yet: signal */
	/* Interrupt if an element was written at index used_event, i.e.
	 * used->idx went from used_event to used_event + 1. */
	for (uint16_t k = from; k != m->used; k++)
		if (k == m16(m->cfg.avail + 4 + 2ull * m->cfg.size))
			return true;
	return false;
}

/* Generated chain (h[7] bit 7): buffer k at 0x9000 + 64 k, 16 bytes,
 * readable for the first half, writable for the rest; D direct
 * descriptors in ring slots 0.., then (indirect) one INDIRECT descriptor
 * for a table at 0x8000 holding the rest (and with `spare` one unused
 * entry more).  Head 0, avail->idx >= 1.  More
 * buffers than ring slots make a direct chain loop (illegal anyway). */
#define GEN_TABLE 0x8000u
#define GEN_BUF   0x9000u

static void put16(uint64_t gpa, uint16_t v)
{
	mem[gpa] = (uint8_t)v;
	mem[gpa + 1] = (uint8_t)(v >> 8);
}

static void put_desc(uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	for (unsigned i = 0; i < 8; i++)
		mem[gpa + i] = (uint8_t)(addr >> (8 * i));
	put16(gpa + 8, (uint16_t)len);
	put16(gpa + 10, (uint16_t)(len >> 16));
	put16(gpa + 12, flags);
	put16(gpa + 14, next);
}

static void gen_chain(const struct virtq_config *cfg, uint8_t spec, uint8_t dsel,
		      bool spare)
{
	unsigned total = spec & 63, n = cfg->size, direct = total, k;
	bool ind = spec & 0x40;

	if (ind)
		direct = dsel % (total + 1);
	if (direct + ind > n)
		direct = n - ind;
	for (k = 0; k < direct && k < n; k++) {
		bool last = !ind && k + 1 == total;
		uint16_t fl = (uint16_t)((last ? 0 : VIRTQ_DESC_F_NEXT) |
					 (k >= total / 2 ? VIRTQ_DESC_F_WRITE : 0));

		put_desc(cfg->desc + 16ull * k, GEN_BUF + 64ull * k, 16, fl,
			 (uint16_t)(k + 1 < n ? k + 1 : 0));
	}
	if (ind) {
		unsigned t = total - direct;

		put_desc(cfg->desc + 16ull * direct, GEN_TABLE, 16 * (t + spare),
			 VIRTQ_DESC_F_INDIRECT, 0);
		if (spare)
			put_desc(GEN_TABLE + 16ull * t, 0, 0, 0, 0);
		for (unsigned j = 0; j < t; j++) {
			k = direct + j;
			put_desc(GEN_TABLE + 16ull * j, GEN_BUF + 64ull * k, 16,
				 (uint16_t)((j + 1 < t ? VIRTQ_DESC_F_NEXT : 0) |
					    (k >= total / 2 ? VIRTQ_DESC_F_WRITE : 0)),
				 (uint16_t)(j + 1));
		}
	}
	put16(cfg->avail + 4, 0);
	if (m16(cfg->avail + 2) == 0)
		put16(cfg->avail + 2, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem gm;
	struct virtq vq;
	struct virtq_config cfg;
	struct iovec iov[MAX_IOV];
	struct virtq_chain c;
	struct model m;
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
	if (data[7] & 0x80 && cfg.size <= MAX_N)
		gen_chain(&cfg, data[7], data[3], data[6] & 0x40);

	memset(&vq, 0, sizeof(vq));
	vq.on_broken = on_broken;
	vq.on_broken_opaque = &broken_calls;
	if (virtq_enable(&vq, &gm, &cfg, MAX_N) < 0) {
		CHECK(!vq.ready);
		/* Only a bad geometry is refused. */
		CHECK(cfg.size > MAX_N || cfg.desc % 16 || cfg.avail % 2 || cfg.used % 4);
		return 0;
	}
	CHECK(cfg.size <= MAX_N && cfg.desc % 16 == 0 && cfg.avail % 2 == 0 &&
	      cfg.used % 4 == 0);
	m = (struct model){ .cfg = cfg, .max_iov = max_iov, .notify = true };

	/* Bounded: each pop consumes one of at most `size` heads, unpops are
	 * limited by the iteration budget. */
	for (unsigned iter = 0; iter < 4u * cfg.size + 16; iter++) {
		uint32_t r = rnd(&seed);
		uint64_t total = 0;
		uint16_t ahead;
		struct m_chain want;
		bool legal = false;
		bool drain = (r >> 8) % 3 == 0;
		int rc;

		if (r % 7 == 0) {
			virtq_disable_notify(&vq);
			if (!m.broken) {
				m.notify = false;
				if (!cfg.event_idx)
					CHECK(m16(cfg.used) & VIRTQ_USED_F_NO_NOTIFY);
			}
		} else if (r % 7 == 1) {
			bool more = virtq_enable_notify(&vq);

			if (m.broken) {
				CHECK(!more);
			} else {
				m.notify = true;
				CHECK(more == (m_avail_idx(&m) != m.avail));
				m_check_armed(&m);
			}
		}
		ahead = (uint16_t)(m_avail_idx(&m) - m.avail);

		/* What the next pop must do. */
		if (!m.broken && ahead != 0 && ahead <= cfg.size)
			legal = m_walk(cfg.desc, cfg.size, cfg.indirect, max_iov,
				       m16(cfg.avail + 4 + 2ull * (m.avail % cfg.size)), &want);

		rc = drain ? virtq_pop_drain(&vq, iov, max_iov, &c)
			   : virtq_pop(&vq, iov, max_iov, &c);
		if (m.broken) {
			CHECK(rc == -EIO);
			break;
		}
		if (ahead == 0) {
			CHECK(rc == 0);
			if (drain)
				m.notify = true; /* a drain ends armed */
			if (m.notify)
				m_check_armed(&m); /* the empty pop armed them */
			break;
		}
		if (drain) {
			/* Suppressed before the pop, whatever it finds; with
			 * nothing racing us a chain is never a re-check find. */
			m.notify = false;
			if (!cfg.event_idx)
				CHECK(m16(cfg.used) & VIRTQ_USED_F_NO_NOTIFY);
			CHECK(rc != VIRTQ_POP_RECHECK);
		}
		if (rc < 0) {
			CHECK(!legal);     /* ring too far ahead, or a bad chain */
			CHECK(vq.broken && broken_calls == 1);
			CHECK(rc == -EBADMSG || rc == -EFAULT || rc == -ENOBUFS);
			CHECK(virtq_pop(&vq, iov, max_iov, &c) == -EIO);
			CHECK(broken_calls == 1);
			m.broken = true;
			CHECK(!virtq_should_signal(&vq));
			break;
		}
		CHECK(rc == 1 && legal);
		CHECK(c.head == m16(cfg.avail + 4 + 2ull * (m.avail % cfg.size)));
		CHECK(c.n_out == want.n_out && c.n_in == want.n_in);
		CHECK(c.out_len == want.out_len && c.in_len == want.in_len);
		m.avail++;
		for (unsigned i = 0; i < want.n; i++) {
			uint8_t *p = iov[i].iov_base;

			CHECK(p == mem + want.addr[i] && iov[i].iov_len == want.len[i]);
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
			m.avail--;
			continue;
		}
		{
			uint32_t w = r % 3 == 0 ? c.in_len : rnd(&seed);
			uint64_t e = cfg.used + 4 + 8ull * (m.used % cfg.size);

			virtq_push(&vq, &c, w);
			m.used++;
			CHECK(m16(cfg.used + 2) == m.used);
			CHECK(m32(e) == c.head);
			CHECK(m32(e + 4) == (w < c.in_len ? w : c.in_len));
		}
		pushes++;
		if (r % 2)
			CHECK(virtq_should_signal(&vq) == m_should_signal(&m));
	}
	CHECK(virtq_should_signal(&vq) == m_should_signal(&m));
	(void)sink;
	(void)pushes;
	return 0;
}
