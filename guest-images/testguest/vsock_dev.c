/* SPDX-License-Identifier: MIT */
#include "vsock_dev.h"

#include "heap.h"
#include "io.h"
#include "str.h"
#include "delay.h"

#define EVQ_BUFS 8  /* Linux posts 8 event buffers of 4 bytes */
#define MAX_SLOTS (VQ_MAX / 2)
/* Idle polls look at Status/InterruptStatus at most this often: each MMIO
 * read exits to the VMM (~50 us from ring 3 on PVM hosts), and a poll loop
 * waiting a few microseconds for credit must not pay that. */
#define IDLE_CHECK_US 10000

struct rxbuf {
	uint8_t *hdr;   /* 44 bytes (split) or the whole buffer (single) */
	uint8_t *data;  /* rxbuf bytes: right after hdr (single) or apart */
};

struct txslot {
	struct vsock_hdr hdr;
	struct vq_desc ind[2]; /* indirect table when INDIRECT_DESC is used */
	uint8_t *payload;      /* txpkt bytes */
	struct txslot *next_free;
};

struct vmmio vsd_mmio;
unsigned vsd_rx_spare;
struct vsd_stats vsd_stats;

static struct vsd_params par;
static struct virtq rxq NOINIT, txq NOINIT, evq NOINIT; /* vq_init() sets all */
static void *qmem[3];
static unsigned nrx, nslots;
static struct rxbuf rxbufs[VQ_MAX] NOINIT; /* [0, rx_nalloc) allocated */
static unsigned rx_nalloc;   /* rx buffers allocated so far, of rx_size */
static uint32_t rx_size;     /* their payload size (par.rxbuf) */
static struct txslot *slots, *free_slots;
static unsigned slots_free;
static uint32_t *evbufs;
static uint64_t cid;
static bool allocated;
static const char *error;
static uint64_t next_check; /* TSC of the next idle device check */

uint64_t vsd_cid(void) { return cid; }
bool vsd_seqpacket(void) { return vmmio_has(&vsd_mmio, VSOCK_F_SEQPACKET); }
bool vsd_indirect(void) { return vmmio_has(&vsd_mmio, VIRTIO_F_INDIRECT_DESC); }
bool vsd_eventidx(void) { return vmmio_has(&vsd_mmio, VIRTIO_F_EVENT_IDX); }
bool vsd_dgram(void) { return vmmio_has(&vsd_mmio, VSOCK_F_DGRAM); }
uint32_t vsd_rxbuf(void) { return par.rxbuf; }
uint32_t vsd_txpkt(void) { return par.txpkt; }
struct virtq *vsd_rxq(void) { return &rxq; }
struct virtq *vsd_txq(void) { return &txq; }
unsigned vsd_tx_free(void) { return slots_free; }
const char *vsd_error(void) { return error; }

static unsigned pow2_floor(unsigned x)
{
	unsigned p = 1;

	while (p * 2 <= x)
		p *= 2;
	return p;
}

static int post_rx(struct rxbuf *b)
{
	struct vq_seg seg[2];

	if (par.rx_split) {
		seg[0] = (struct vq_seg){ (uintptr_t)b->hdr, VSOCK_HDR_LEN, true };
		seg[1] = (struct vq_seg){ (uintptr_t)b->data, par.rxbuf, true };
		return vq_add(&rxq, seg, 2, b) < 0 ? -1 : 0;
	}
	seg[0] = (struct vq_seg){ (uintptr_t)b->hdr, VSOCK_HDR_LEN + par.rxbuf, true };
	return vq_add(&rxq, seg, 1, b) < 0 ? -1 : 0;
}

static int post_event(uint32_t *e)
{
	struct vq_seg seg = { (uintptr_t)e, sizeof(*e), true };

	return vq_add(&evq, &seg, 1, e) < 0 ? -1 : 0;
}

/* Allocate everything once, for the largest queues we may set up. */
static int allocate(const char **why)
{
	for (int q = 0; q < 3; q++)
		qmem[q] = heap_alloc(vq_mem_size(VQ_MAX), 4096);
	slots = heap_alloc(sizeof(*slots) * MAX_SLOTS, 64);
	evbufs = heap_alloc(sizeof(uint32_t) * EVQ_BUFS, 64);
	if (!qmem[0] || !qmem[1] || !qmem[2] || !slots || !evbufs)
		goto oom;
	for (unsigned i = 0; i < MAX_SLOTS; i++)
		slots[i].payload = NULL;
	allocated = true;
	return 0;
oom:
	*why = "out of guest memory for queues";
	return -1;
}

/* rx buffers [0, n) of par.rxbuf payload bytes, allocated on first use
 * (64 KiB ones for all VQ_MAX entries would be 64 MiB) and kept. */
static int alloc_rx(unsigned n, const char **why)
{
	if (rx_size != par.rxbuf)
		rx_nalloc = 0; /* another size: new ones (nothing is freed) */
	rx_size = par.rxbuf;
	for (; rx_nalloc < n; rx_nalloc++) {
		/* Room for both layouts (see bring_up). */
		uint8_t *m = heap_alloc(VSOCK_HDR_LEN + 4 + par.rxbuf, 64);

		if (!m) {
			*why = "out of guest memory for rx buffers";
			return -1;
		}
		rxbufs[rx_nalloc].hdr = m;
	}
	return 0;
}

static int bring_up(const char **why)
{
	uint64_t want = 0;
	unsigned max;

	if (par.want_seqpacket)
		want |= 1ull << VSOCK_F_SEQPACKET;
	if (par.want_indirect)
		want |= 1ull << VIRTIO_F_INDIRECT_DESC;
	if (par.want_eventidx)
		want |= 1ull << VIRTIO_F_EVENT_IDX;
	if (par.want_streambits)
		want |= (1ull << VSOCK_F_STREAM) | (1ull << VSOCK_F_NO_IMPLIED_STREAM);
	if (par.want_dgram)
		want |= 1ull << VSOCK_F_DGRAM;
	if (vmmio_negotiate(&vsd_mmio, want, why))
		return -1;

	/* §5.10.5: read guest_cid, then fill the event queue, then rx. */
	cid = vsd_reread_cid();

	for (unsigned q = 0; q < 3; q++) {
		struct virtq *vq = q == 0 ? &rxq : q == 1 ? &txq : &evq;
		unsigned want_n = q == 0 ? par.rxq : q == 1 ? par.txq : EVQ_BUFS;

		max = vmmio_queue_max(&vsd_mmio, q);
		if (max == 0) {
			*why = "a vsock queue has QueueNumMax 0";
			return -1;
		}
		if (want_n > max)
			want_n = max;
		if (want_n > VQ_MAX)
			want_n = VQ_MAX;
		want_n = pow2_floor(want_n);
		if (vq_init(vq, q, want_n, qmem[q], vmmio_notify_addr(&vsd_mmio)))
			return -1;
		/* The ring format is fixed once features are negotiated.  We
		 * poll and never write used_event: it stays 0, so the device
		 * interrupts at most once per 65536 used buffers. */
		vq->event_idx = vsd_eventidx();
		if (vmmio_queue_setup(&vsd_mmio, q, want_n, vq_desc_addr(vq),
				      vq_avail_addr(vq), vq_used_addr(vq), why))
			return -1;
	}

	for (unsigned i = 0; i < evq.num && i < EVQ_BUFS; i++)
		post_event(&evbufs[i]);
	nrx = par.rx_split ? rxq.num / 2 : rxq.num;
	if (vsd_rx_spare)
		nrx = nrx > vsd_rx_spare ? nrx - vsd_rx_spare : 1;
	if (alloc_rx(nrx, why))
		return -1;
	for (unsigned i = 0; i < nrx; i++) {
		/* single: payload right after the header, one descriptor;
		 * split: two descriptors, the payload 4 bytes further on. */
		rxbufs[i].data = rxbufs[i].hdr + VSOCK_HDR_LEN + (par.rx_split ? 4 : 0);
		post_rx(&rxbufs[i]);
	}

	/* tx slots: two descriptors per packet at most. */
	nslots = txq.num / 2;
	if (nslots == 0)
		nslots = 1;
	free_slots = NULL;
	for (unsigned i = 0; i < nslots; i++) {
		if (!slots[i].payload)
			slots[i].payload = heap_alloc(par.txpkt, 64);
		if (!slots[i].payload) {
			*why = "out of guest memory for tx buffers";
			return -1;
		}
		slots[i].next_free = free_slots;
		free_slots = &slots[i];
	}
	slots_free = nslots;

	vmmio_driver_ok(&vsd_mmio);
	vq_kick(&evq);
	vq_kick(&rxq);
	error = NULL;
	return 0;
}

int vsd_init(const struct vsd_params *p, const char **why)
{
	uint64_t base = vmmio_base_from_cmdline(0xd0000000ull);

	par = *p;
	if (par.txpkt == 0 || par.txpkt > 65536)
		par.txpkt = 65536;
	if (par.rxbuf == 0)
		par.rxbuf = VSOCK_RX_PAYLOAD;
	if (par.rxbuf > VSOCK_RX_PAYLOAD_MAX)
		par.rxbuf = VSOCK_RX_PAYLOAD_MAX; /* more is never filled */
	if (vmmio_probe(&vsd_mmio, base, VIRTIO_ID_VSOCK, why))
		return -1;
	if (!allocated && allocate(why))
		return -1;
	return bring_up(why);
}

int vsd_reinit(const char **why)
{
	return bring_up(why);
}

uint64_t vsd_reread_cid(void)
{
	/* §5.10.4: le64 guest_cid; Linux reads it as two 32-bit halves. */
	cid = vmmio_config64(&vsd_mmio, 0);
	return cid;
}

int vsd_tx(const struct vsock_hdr *h, const void *payload, uint32_t n)
{
	struct txslot *s = free_slots;
	struct vq_seg seg[2];
	unsigned nseg = 1;
	int r;

	if (!s || n > par.txpkt)
		return -1;
	s->hdr = *h;
	seg[0] = (struct vq_seg){ (uintptr_t)&s->hdr, VSOCK_HDR_LEN, false };
	if (n) {
		memcpy(s->payload, payload, n);
		seg[1] = (struct vq_seg){ (uintptr_t)s->payload, n, false };
		nseg = 2;
	}
	if (vsd_indirect())
		r = vq_add_indirect(&txq, s->ind, seg, nseg, s);
	else
		r = vq_add(&txq, seg, nseg, s);
	if (r < 0)
		return -1;
	free_slots = s->next_free;
	slots_free--;
	vsd_stats.tx_pkts++;
	vsd_stats.tx_bytes += n;
	return 0;
}

void vsd_kick(void)
{
	uint64_t before = txq.kicks + rxq.kicks;
	uint64_t saved = txq.kicks_saved + rxq.kicks_saved;

	vq_kick(&txq);
	vq_kick(&rxq);
	vq_kick(&evq);
	vsd_stats.kicks += txq.kicks + rxq.kicks - before;
	vsd_stats.kicks_saved += txq.kicks_saved + rxq.kicks_saved - saved;
}


static int broken(const char *why)
{
	if (!error)
		error = why;
	return -1;
}

int vsd_reap_tx(void)
{
	void *cookie;
	uint32_t len;
	int r, n = 0;

	while ((r = vq_get_used(&txq, &cookie, &len)) == 1) {
		struct txslot *s = cookie;

		n++;
		if (s < slots || s >= slots + nslots) {
			vsd_stats.raw_used++; /* a vq_add_raw() chain */
			continue;
		}
		s->next_free = free_slots;
		free_slots = s;
		slots_free++;
	}
	return r < 0 ? broken(txq.err) : n;
}

int vsd_poll(vsd_rx_fn rx, vsd_event_fn ev)
{
	void *cookie;
	uint32_t len;
	int r, progress;

	/* tx completions first: they free slots for replies below. */
	progress = vsd_reap_tx();
	if (progress < 0)
		return -1;

	while ((r = vq_get_used(&rxq, &cookie, &len)) == 1) {
		struct rxbuf *b = cookie;
		const struct vsock_hdr *h;

		progress++;
		if (b < rxbufs || b >= rxbufs + nrx) {
			vsd_stats.raw_used++;
			continue;
		}
		h = (const void *)b->hdr;
		vsd_stats.rx_pkts++;
		/* §5.10.6.4 / Linux: drop what cannot be a packet.  An empty
		 * buffer is legal: the device gives back one it could not use
		 * (e.g. a datagram too big for it was dropped). */
		if (len == 0) {
			vsd_stats.rx_empty++;
		} else if (len < VSOCK_HDR_LEN) {
			vsd_stats.rx_short++;
		} else if (h->len != len - VSOCK_HDR_LEN || h->len > par.rxbuf) {
			vsd_stats.rx_len_bad++;
		} else {
			vsd_stats.rx_bytes += h->len;
			rx(h, b->data, h->len);
		}
		post_rx(b);
	}
	if (r < 0)
		return broken(rxq.err);

	while ((r = vq_get_used(&evq, &cookie, &len)) == 1) {
		uint32_t *e = cookie;

		progress++;
		vsd_stats.events++;
		if (len >= sizeof(*e))
			ev(*e);
		post_event(e);
	}
	if (r < 0)
		return broken(evq.err);

	vsd_kick();
	/* Idle: look at the device now and then (MMIO reads exit to the
	 * VMM, so not on every poll).  Acknowledging keeps the (unused)
	 * interrupt line from staying asserted. */
	if (progress == 0 && (int64_t)(rdtsc() - next_check) >= 0) {
		next_check = rdtsc() + tsc_from_us(IDLE_CHECK_US);
		vmmio_ack_interrupts(&vsd_mmio);
		if (vmmio_status(&vsd_mmio) & VS_DEVICE_NEEDS_RESET)
			return broken("device set DEVICE_NEEDS_RESET");
	}
	return progress;
}
