// SPDX-License-Identifier: MIT
/*
 * Descriptor layouts real drivers produce, through the whole vsock device
 * (docs/vsock.md "Descriptor layouts").  Virtio 1.2 §2.7.4 / §2.6.4: "The
 * device MUST NOT make assumptions about the particular arrangement of
 * descriptors", and Linux has changed its arrangement several times:
 *
 *   tx  ≤ 6.1   44-byte header descriptor + payload descriptor
 *       ≥ 6.2   header and payload in one descriptor
 *       6.12+   non-linear skbs: 44 + 32768 + 32768 for a 64 KiB packet
 *   rx  6.1     44-byte header descriptor + 4 KiB
 *       ≥ 6.2   one descriptor of header + payload size
 *
 * plus what no kernel does today but the spec allows: odd piece sizes, a
 * header split over descriptors, 1-byte pieces; each direct and through
 * an INDIRECT table.  Every layout carries a byte-exact pseudo-random
 * transfer both ways (guest connects to CID 2 port P, the hybrid backend
 * connects to the host listener <uds>_P).  Pieces sit apart in guest RAM
 * with canary bytes between them, so a device writing past a descriptor
 * or reading the next piece "by accident" is caught.
 *
 * No timing is measured; waits are bounded by generous deadlines.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "tests/unit/virtio_test_driver.h"
#include "tests/unit/vsock_test_dev.h"
#include "base/evloop.h"
#include "vsock/device.h"
#include "vsock/packet.h"

#define BASE      0xd0000000ull
#define IRQ       5
#define GCID      3u
#define QSZ       256u        /* rx and tx: the longest legal chain */
#define EVQSZ     16u
#define RING(q)   (0x10000ull + (q) * 0x4000ull)
#define DESC(q)   RING(q)
#define AVAIL(q)  (RING(q) + 0x1000)
#define USED(q)   (RING(q) + 0x2000)
#define NRX_MAX   16u         /* rx buffers posted at most */
#define ITAB(b)   (0x20000ull + (b) * 0x1000ull) /* indirect tables, 256 entries */
#define ITAB_TX   ITAB(NRX_MAX)
#define SPAN      0x12000u    /* guest RAM per buffer: 44 + 64 KiB + gaps */
#define RXMEM(b)  (0x100000ull + (b) * (uint64_t)SPAN)
#define TXMEM     0x300000ull
#define MEMSZ     (4u << 20)
#define GAP       16u         /* canary bytes after every piece */
#define CANARY    0xa5
#define POISON    0x5a
#define WAIT_MS   20000       /* per packet / per host read: a loaded machine */
#define MAX_XFER  (1u << 20)
#define G_BUF     (256u * 1024) /* the guest's buf_alloc (Linux default) */

/* --- layouts ------------------------------------------------------------ */

/*
 * How a chain of `total` bytes (44-byte header + payload) is cut into
 * descriptors: first the header's own pieces `hdr` (summing to 44), then
 * the rest in pieces of `cut[0], cut[1], ...` repeated, the last one
 * short.  hdr {0}: no separate header, the cut starts at byte 0 (so the
 * header may itself be split).  cut {0}: the rest in one piece.  A chain
 * shorter than 44 bytes (hostile) ends inside the header pieces.
 */
struct layout {
	const char *name;
	uint32_t hdr[3];
	uint32_t cut[4];
	bool indirect;
	uint32_t pkt;    /* tx: largest payload per packet; rx: room per buffer */
	uint32_t total;  /* bytes moved in each direction */
};

#define K64 65536u
#define ODD { 1, 7, 4093, 4099 }
#define BOTH(name, hdr, cut, pkt, total) \
	{ name, hdr, cut, false, pkt, total }, \
	{ name " (indirect)", hdr, cut, true, pkt, total }
#define H(...) { __VA_ARGS__ }

static const struct layout tx_layouts[] = {
	BOTH("tx hdr+payload in one desc (Linux >= 6.2)", H(0), H(0), K64, MAX_XFER),
	BOTH("tx 44 + payload desc (Linux <= 6.1)", H(44), H(0), K64, MAX_XFER),
	BOTH("tx 44 + 32 KiB pieces (Linux 6.12+ non-linear)", H(44), H(32768), K64, MAX_XFER),
	BOTH("tx 44 + 1/7/4093/4099 pieces", H(44), ODD, K64, MAX_XFER),
	BOTH("tx 1/7/4093/4099 from byte 0 (header split 1+7+36)", H(0), ODD, K64, MAX_XFER),
	BOTH("tx header 20+24 + payload desc", H(20, 24), H(0), K64, MAX_XFER),
	BOTH("tx 1-byte pieces, header too", H(0), H(1), 200, 128 * 1024),
};

static const struct layout rx_layouts[] = {
	BOTH("rx one desc 44+4096 (Linux >= 6.2)", H(0), H(0), 4096, MAX_XFER),
	BOTH("rx one desc 44+64 KiB", H(0), H(0), K64, MAX_XFER),
	BOTH("rx 44 + 4096 (Linux 6.1)", H(44), H(0), 4096, MAX_XFER),
	BOTH("rx 44 + 32 KiB pieces", H(44), H(32768), K64, MAX_XFER),
	BOTH("rx 44 + 1/7/4093/4099 pieces", H(44), ODD, 16400, MAX_XFER),
	BOTH("rx 1/7/4093/4099 from byte 0 (header split 1+7+36)", H(0), ODD, 16400, MAX_XFER),
	BOTH("rx header 20+24 + 4096", H(20, 24), H(0), 4096, MAX_XFER),
	BOTH("rx 1-byte pieces, header too", H(0), H(1), 200, 128 * 1024),
};

#define N_TX_LAYOUTS ((int)(sizeof(tx_layouts) / sizeof(tx_layouts[0])))
#define N_RX_LAYOUTS ((int)(sizeof(rx_layouts) / sizeof(rx_layouts[0])))

/* What the other direction uses while one layout is under test. */
static const struct layout tx_plain = { "tx plain", H(0), H(0), false, K64, 0 };
static const struct layout rx_plain = { "rx plain", H(0), H(0), false, K64, 0 };

/* --- fake guest: RAM, rings, device ------------------------------------ */

static struct td_mem mem;
static struct bus bus;
static struct virtio_dev *vdev;
static struct vsock_dev *dev;
static struct evloop *ev;
static pthread_t io_thread;
static struct td_ring rxr, txr, evr;
static char dir[40], uds[64];
static uint8_t data[MAX_XFER], got[MAX_XFER];

/* A chain as the driver built it: where each piece is. */
struct chain {
	uint16_t head;
	unsigned n;
	uint32_t total;
	uint32_t sz[QSZ];
	uint64_t addr[QSZ];
};

static const struct layout *txl, *rxl;  /* layouts in use */
static struct chain txc, rxc[NRX_MAX];
static unsigned nrx, rx_descs;          /* rx buffers, descriptors each */

static void *io_main(void *arg)
{
	(void)arg;
	evloop_run(ev);
	return NULL;
}

static void wr(uint64_t off, uint32_t v)
{
	td_wr(&bus, BASE, off, v);
}

/* Descriptor sizes for a chain of `total` bytes cut as `l` says. */
static unsigned cut_chain(const struct layout *l, uint32_t total, uint32_t *sz)
{
	uint32_t off = 0;
	unsigned n = 0, k = 0, ncut = 0;

	while (ncut < 4 && l->cut[ncut])
		ncut++;
	for (unsigned i = 0; i < 3 && l->hdr[i] && off < total; i++) {
		sz[n] = l->hdr[i] < total - off ? l->hdr[i] : total - off;
		off += sz[n++];
	}
	while (off < total) {
		uint32_t s = ncut ? l->cut[k++ % ncut] : total - off;

		if (s > total - off)
			s = total - off;
		ck_assert_uint_lt(n, QSZ);
		sz[n++] = s;
		off += s;
	}
	return n;
}

/*
 * Place the pieces from guest address `base` (GAP canary bytes after each)
 * and write the descriptors: ring entries first.. (direct), or a table at
 * `itab` that ring entry `first` points to (indirect).
 */
static void chain_build(struct td_ring *r, struct chain *c, const struct layout *l,
			uint32_t total, uint64_t base, uint16_t first, uint64_t itab,
			uint16_t wflag)
{
	uint64_t a = base;

	c->n = cut_chain(l, total, c->sz);
	c->total = total;
	c->head = first;
	for (unsigned i = 0; i < c->n; i++) {
		c->addr[i] = a;
		memset(td_gpa(&mem, a), POISON, c->sz[i]);
		memset(td_gpa(&mem, a + c->sz[i]), CANARY, GAP);
		a += c->sz[i] + GAP;
	}
	ck_assert_uint_le(a - base, SPAN);
	for (unsigned i = 0; i < c->n; i++) {
		uint16_t f = (uint16_t)(wflag | (i + 1 < c->n ? VIRTQ_DESC_F_NEXT : 0));

		if (l->indirect)
			td_desc_at(&mem, itab, i, c->addr[i], c->sz[i], f, (uint16_t)(i + 1));
		else
			td_desc(r, first + i, c->addr[i], c->sz[i], f, (uint16_t)(first + i + 1));
	}
	if (l->indirect)
		td_desc(r, first, itab, 16u * c->n, VIRTQ_DESC_F_INDIRECT, 0);
}

/* Copy bytes [off, off + len) of the chain out of (to_buf) or into it. */
static void chain_copy(const struct chain *c, uint32_t off, void *buf, uint32_t len,
		       bool to_buf)
{
	uint8_t *p = buf;

	for (unsigned i = 0; i < c->n && len; i++) {
		uint32_t n;

		if (off >= c->sz[i]) {
			off -= c->sz[i];
			continue;
		}
		n = c->sz[i] - off;
		if (n > len)
			n = len;
		if (to_buf)
			memcpy(p, td_gpa(&mem, c->addr[i] + off), n);
		else
			memcpy(td_gpa(&mem, c->addr[i] + off), p, n);
		p += n;
		len -= n;
		off = 0;
	}
	ck_assert_uint_eq(len, 0);
}

/* Nothing was written outside the pieces.  (Plain loops, one assertion:
 * every ck_assert is a write to Check's pipe.) */
static void chain_canaries(const struct chain *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		const uint8_t *g = td_gpa(&mem, c->addr[i] + c->sz[i]);
		unsigned j = 0;

		while (j < GAP && g[j] == CANARY)
			j++;
		if (j < GAP)
			ck_abort_msg("%s: byte %u after piece %u (%u bytes) overwritten",
				     rxl->name, j, i, c->sz[i]);
	}
}

static void rx_post(unsigned b)
{
	chain_build(&rxr, &rxc[b], rxl, VSOCK_HDR_SIZE + rxl->pkt, RXMEM(b),
		    (uint16_t)(rxl->indirect ? b : b * rx_descs), ITAB(b), VIRTQ_DESC_F_WRITE);
	td_post(&rxr, rxc[b].head);
}

/* Post every rx buffer the layout allows (the ring holds QSZ descriptors). */
static void rx_fill(const struct layout *l)
{
	uint32_t sz[QSZ];

	rxl = l;
	rx_descs = cut_chain(l, VSOCK_HDR_SIZE + l->pkt, sz);
	nrx = l->indirect ? NRX_MAX : QSZ / rx_descs;
	if (nrx > NRX_MAX)
		nrx = NRX_MAX;
	ck_assert_uint_ge(nrx, 1);
	for (unsigned b = 0; b < nrx; b++)
		rx_post(b);
	wr(VMMIO_QUEUE_NOTIFY, 0);
}

/* Next rx packet: header into *h, payload into buf.  False on timeout. */
static bool rx_get(struct vsock_hdr *h, void *buf, size_t bufsz, int ms)
{
	struct timespec ts = { 0, 1000000 };
	struct virtio_vsock_hdr wire;
	uint32_t id, len;
	unsigned b;

	for (int t = 0; td_used_idx_acquire(&rxr) == rxr.last_used; t++) {
		if (t >= ms)
			return false;
		nanosleep(&ts, NULL);
	}
	td_used_elem(&rxr, rxr.last_used, &id, &len);
	rxr.last_used++;
	b = rxl->indirect ? id : id / rx_descs;
	ck_assert_uint_lt(b, nrx);
	ck_assert_uint_eq(id, rxc[b].head);
	ck_assert_msg(len >= VSOCK_HDR_SIZE, "%s: used len %u", rxl->name, len);
	chain_copy(&rxc[b], 0, &wire, VSOCK_HDR_SIZE, true);
	vsock_hdr_decode(&wire, h);
	ck_assert_uint_eq(len, VSOCK_HDR_SIZE + h->len);
	ck_assert_uint_le(h->len, rxl->pkt);
	ck_assert_msg(h->len <= bufsz, "%s: %u bytes, room for %zu", rxl->name, h->len, bufsz);
	if (h->len)
		chain_copy(&rxc[b], VSOCK_HDR_SIZE, buf, h->len, true);
	chain_canaries(&rxc[b]);
	rx_post(b); /* give it back at once, as Linux refills */
	wr(VMMIO_QUEUE_NOTIFY, 0);
	return true;
}

/* Send a chain of `total` bytes from flat[] on tx in layout l; the device
 * handles it on this thread (as on an MMIO exit) and returns it used. */
static void tx_chain(const struct layout *l, const void *flat, uint32_t total)
{
	uint16_t before = td_used_idx_acquire(&txr);
	uint32_t id, len;

	chain_build(&txr, &txc, l, total, TXMEM, 0, ITAB_TX, 0);
	chain_copy(&txc, 0, (void *)flat, total, false);
	td_post(&txr, txc.head);
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_uint_eq(td_used_idx_acquire(&txr), (uint16_t)(before + 1));
	td_used_elem(&txr, txr.last_used++, &id, &len);
	ck_assert_uint_eq(id, txc.head);
	ck_assert_uint_eq(len, 0);
}

static void tx_pkt(const struct vsock_hdr *h, const void *payload, uint32_t plen)
{
	static uint8_t flat[VSOCK_HDR_SIZE + K64];

	ck_assert_uint_le(plen, K64);
	vsock_hdr_encode(h, (struct virtio_vsock_hdr *)flat);
	if (plen)
		memcpy(flat + VSOCK_HDR_SIZE, payload, plen);
	tx_chain(txl, flat, VSOCK_HDR_SIZE + plen);
}

static void setup(void)
{
	struct vmmio_params p = {
		.base = BASE, .irq = IRQ, .ops = &vsock_virtio_ops, .gm = &mem.gm,
	};
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = uds };
	uint64_t x = 0x9e3779b97f4a7c15ull;

	snprintf(dir, sizeof(dir), "/tmp/vsock-lay-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	for (size_t i = 0; i < sizeof(data); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (uint8_t)(x >> 24);
	}
	td_mem_init(&mem, MEMSZ);
	memset(&bus, 0, sizeof(bus));
	ck_assert_int_eq(evloop_create(&ev), 0);
	dp.ev = ev;
	ck_assert_int_eq(test_dev_create(&dp, &dev), 0);
	p.dev = dev;
	ck_assert_int_eq(vmmio_create(&bus, &p, &vdev), 0);
	vsock_dev_attach(dev, vdev);
	ck_assert_int_eq(pthread_create(&io_thread, NULL, io_main, NULL), 0);

	/* Stream only (no vsock feature bits, as Linux before SEQPACKET),
	 * INDIRECT_DESC (offered by the transport) so tables work; rx
	 * buffers come from each test. */
	wr(VMMIO_DEVICE_FEATURES_SEL, 0);
	ck_assert(td_rd(&bus, BASE, VMMIO_DEVICE_FEATURES) & (1u << VIRTIO_F_INDIRECT_DESC));
	ck_assert(td_negotiate(&bus, BASE, (1ull << VIRTIO_F_VERSION_1) |
			       (1ull << VIRTIO_F_INDIRECT_DESC)) & VIRTIO_STATUS_FEATURES_OK);
	td_ring_init(&rxr, &mem, QSZ, DESC(0), AVAIL(0), USED(0));
	td_ring_init(&txr, &mem, QSZ, DESC(1), AVAIL(1), USED(1));
	td_ring_init(&evr, &mem, EVQSZ, DESC(2), AVAIL(2), USED(2));
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 0, &rxr), 1);
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 1, &txr), 1);
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 2, &evr), 1);
	wr(VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	txl = &tx_plain;
	rxl = &rx_plain;
}

static void teardown(void)
{
	char cmd[80];

	evloop_stop(ev);
	pthread_join(io_thread, NULL);
	vsock_dev_destroy(dev);
	evloop_destroy(ev);
	vmmio_destroy(vdev);
	td_mem_free(&mem);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* --- the guest's end of a stream ---------------------------------------- */

struct gconn {
	uint32_t gport, hport;
	uint32_t tx_cnt;             /* payload we sent */
	uint32_t peer_buf, peer_fwd; /* the device's credit, from its headers */
	uint32_t fwd_cnt, fwd_sent;  /* payload we consumed / last announced */
};

static struct vsock_hdr gh(const struct gconn *c, uint16_t op, uint32_t len, uint32_t flags)
{
	return (struct vsock_hdr){
		.src_cid = GCID, .dst_cid = VSOCK_HOST_CID, .src_port = c->gport,
		.dst_port = c->hport, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op, .flags = flags, .buf_alloc = G_BUF, .fwd_cnt = c->fwd_cnt,
	};
}

static void tx_op(struct gconn *c, uint16_t op, uint32_t flags)
{
	struct vsock_hdr h = gh(c, op, 0, flags);

	tx_pkt(&h, NULL, 0);
	c->fwd_sent = c->fwd_cnt;
}

/* Next rx packet, whatever it is. */
static struct vsock_hdr rx_get_ok(void *buf, size_t bufsz)
{
	struct vsock_hdr h;

	ck_assert_msg(rx_get(&h, buf, bufsz, WAIT_MS), "%s / %s: no rx packet",
		      txl->name, rxl->name);
	return h;
}

/* Next packet for c (every header carries the device's credit). */
static struct vsock_hdr rx_conn(struct gconn *c, void *buf, size_t bufsz)
{
	struct vsock_hdr h = rx_get_ok(buf, bufsz);

	ck_assert_uint_eq(h.src_cid, VSOCK_HOST_CID);
	ck_assert_uint_eq(h.dst_cid, GCID);
	ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_STREAM);
	ck_assert_uint_eq(h.src_port, c->hport);
	ck_assert_uint_eq(h.dst_port, c->gport);
	c->peer_buf = h.buf_alloc;
	c->peer_fwd = h.fwd_cnt;
	return h;
}

/* The next packet for c that is not a CREDIT_UPDATE must be `op`. */
static struct vsock_hdr rx_expect(struct gconn *c, uint16_t op)
{
	struct vsock_hdr h;

	do
		h = rx_conn(c, NULL, 0);
	while (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE && op != h.op);
	ck_assert_msg(h.op == op, "%s / %s: op %u, wanted %u", txl->name, rxl->name, h.op, op);
	return h;
}

static int listen_at(uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Guest connects to host port c->hport; returns the host's accepted fd. */
static int guest_connect(struct gconn *c, int lfd)
{
	int fd;

	tx_op(c, VIRTIO_VSOCK_OP_REQUEST, 0);
	rx_expect(c, VIRTIO_VSOCK_OP_RESPONSE);
	ck_assert_uint_gt(c->peer_buf, 0);
	ck_assert(readable(lfd, WAIT_MS));
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Host threads: read to EOF, or write everything then shut down. */
struct host_io {
	int fd;
	size_t n, want;
	bool overflow;
};

static void *host_reader(void *arg)
{
	struct host_io *io = arg;

	for (;;) {
		uint8_t scratch[256];
		bool over = io->n >= sizeof(got);
		ssize_t r;

		if (!readable(io->fd, WAIT_MS))
			break;
		r = over ? read(io->fd, scratch, sizeof(scratch))
			 : read(io->fd, got + io->n, sizeof(got) - io->n);
		if (r <= 0)
			break;
		if (over)
			io->overflow = true;
		else
			io->n += (size_t)r;
	}
	return NULL;
}

static void *host_writer(void *arg)
{
	struct host_io *io = arg;

	while (io->n < io->want) {
		ssize_t w = write(io->fd, data + io->n, io->want - io->n);

		if (w <= 0)
			break;
		io->n += (size_t)w;
	}
	shutdown(io->fd, SHUT_WR);
	return NULL;
}

static void join(pthread_t t)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2 * WAIT_MS / 1000;
	ck_assert_msg(pthread_timedjoin_np(t, NULL, &dl) == 0, "%s / %s: host thread stuck",
		      txl->name, rxl->name);
}

static void assert_same(const uint8_t *a, const uint8_t *b, size_t n, const char *what)
{
	size_t i = 0;

	if (memcmp(a, b, n) == 0)
		return;
	while (a[i] == b[i])
		i++;
	ck_abort_msg("%s / %s: %s differs at byte %zu of %zu", txl->name, rxl->name,
		     what, i, n);
}

static uint64_t rnd_state = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state % n);
}

/*
 * Guest → host: `total` bytes of data[] in RW packets as large as the
 * layout allows every other time, of random size in between, always
 * within the device's credit; then SHUTDOWN(SEND).  The host reads to EOF
 * and must have exactly data[0 .. total).  Then a full close (RST).
 */
static void g2h(uint32_t gport, uint32_t hport, uint32_t total)
{
	struct gconn c = { .gport = gport, .hport = hport };
	int lfd = listen_at(hport), fd = guest_connect(&c, lfd);
	struct host_io io = { .fd = fd };
	uint32_t off = 0, pkt = txl->pkt;
	unsigned k = 0;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, host_reader, &io), 0);
	while (off < total) {
		uint32_t room = c.peer_buf - (c.tx_cnt - c.peer_fwd), len;
		struct vsock_hdr h;

		if (room == 0 || room > c.peer_buf) {
			/* Out of credit: the device owes a CREDIT_UPDATE. */
			h = rx_conn(&c, NULL, 0);
			ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			continue;
		}
		len = k++ % 2 ? 1 + rnd(pkt) : pkt;
		if (len > room)
			len = room;
		if (len > total - off)
			len = total - off;
		h = gh(&c, VIRTIO_VSOCK_OP_RW, len, 0);
		tx_pkt(&h, data + off, len);
		off += len;
		c.tx_cnt += len;
	}
	tx_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	join(t); /* EOF once the device wrote everything and shut SHUT_WR */
	ck_assert(!io.overflow);
	ck_assert_msg(io.n == total, "%s / %s: host got %zu of %u bytes", txl->name,
		      rxl->name, io.n, total);
	assert_same(got, data, total, "guest->host");
	tx_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
	      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_expect(&c, VIRTIO_VSOCK_OP_RST);
	close(fd);
	close(lfd);
}

/*
 * Host → guest: the host writes `total` bytes of data[] and shuts its
 * sending side; the guest consumes every RW at once and announces its
 * fwd_cnt every 64 KiB (CREDIT_UPDATE, in the tx layout under test).  The
 * guest must see exactly data[0 .. total), then SHUTDOWN(SEND).
 */
static void h2g(uint32_t gport, uint32_t hport, uint32_t total)
{
	struct gconn c = { .gport = gport, .hport = hport };
	int lfd = listen_at(hport), fd = guest_connect(&c, lfd);
	struct host_io io = { .fd = fd, .want = total };
	uint32_t n = 0;
	struct vsock_hdr h;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, host_writer, &io), 0);
	for (;;) {
		h = rx_conn(&c, got + n, sizeof(got) - n);
		if (h.op == VIRTIO_VSOCK_OP_SHUTDOWN)
			break;
		if (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			continue;
		ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
		ck_assert_uint_gt(h.len, 0);
		n += h.len;
		c.fwd_cnt += h.len;
		if (c.fwd_cnt - c.fwd_sent >= G_BUF / 4)
			tx_op(&c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	}
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	join(t);
	ck_assert_uint_eq(io.n, total);
	ck_assert_msg(n == total, "%s / %s: guest got %u of %u bytes", txl->name, rxl->name,
		      n, total);
	assert_same(got, data, total, "host->guest");
	tx_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
	      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_expect(&c, VIRTIO_VSOCK_OP_RST);
	close(fd);
	close(lfd);
}

static void assert_clean(uint64_t g2h_bytes, uint64_t h2g_bytes)
{
	struct vsock_dev_stats st;

	vsock_dev_get_stats(dev, &st);
	for (unsigned e = 0; e < VSOCK_PKT_ERR_COUNT; e++)
		ck_assert_msg(st.pkt_err[e] == 0, "%s / %s: %" PRIu64 " packets refused (%s)",
			      txl->name, rxl->name, st.pkt_err[e], vsock_pkt_err_name(e));
	ck_assert_uint_eq(st.short_rx_buf, 0);
	ck_assert_uint_eq(st.tx_bytes, g2h_bytes);
	ck_assert_uint_eq(st.rx_bytes, h2g_bytes);
}

/* The shape counters (vsock/shape.h, in the metrics file) saw the layout
 * the test used: every tx chain in layout l. */
static void assert_tx_shape(const struct layout *l)
{
	struct vsock_dev_stats st;
	const struct vsock_shape_stats *s = &st.shape;

	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(s->tx_chains, st.tx_pkts);
	ck_assert_uint_eq(s->tx_indirect, l->indirect ? s->tx_chains : 0);
	if (l->hdr[0] == VSOCK_HDR_SIZE) {
		ck_assert_uint_gt(s->tx_hdr_alone, 0);
		ck_assert_uint_eq(s->tx_hdr_joined, 0);
	} else if (l->hdr[0] == 0 && l->cut[0] == 0) {
		ck_assert_uint_gt(s->tx_hdr_joined, 0);
		ck_assert_uint_eq(s->tx_hdr_alone, 0);
	} else {
		/* The header itself is cut: neither layout. */
		ck_assert_uint_eq(s->tx_hdr_alone + s->tx_hdr_joined, 0);
	}
	if (l->hdr[0] == VSOCK_HDR_SIZE && l->cut[0] == 32768) {
		/* 6.12's 64 KiB packet: 44 + 32768 + 32768. */
		ck_assert_uint_eq(s->tx_desc_max, 32768);
		ck_assert_uint_gt(s->tx_descs[2], 0);
	}
	ck_assert_uint_le(s->tx_chain_max, VSOCK_HDR_SIZE + l->pkt);
}

/* Every rx chain popped was one the test posted in layout l. */
static void assert_rx_shape(const struct layout *l)
{
	struct vsock_dev_stats st;
	const struct vsock_shape_stats *s = &st.shape;
	uint32_t sz[QSZ];
	unsigned n = cut_chain(l, VSOCK_HDR_SIZE + l->pkt, sz);

	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_ge(s->rx_chains, st.rx_pkts);
	ck_assert_uint_eq(s->rx_indirect, l->indirect ? s->rx_chains : 0);
	ck_assert_uint_eq(s->rx_descs[n < VSOCK_SHAPE_DESC_BUCKETS ? n - 1 :
				      VSOCK_SHAPE_DESC_BUCKETS - 1], s->rx_chains);
	ck_assert_uint_eq(s->rx_buf_min, VSOCK_HDR_SIZE + l->pkt);
	ck_assert_uint_eq(s->rx_buf_max, VSOCK_HDR_SIZE + l->pkt);
}

/* --- tests ------------------------------------------------------------- */

/* Each tx layout: the data of guest → host, the credit updates of host →
 * guest (rx plain). */
START_TEST(tx_layout)
{
	const struct layout *l = &tx_layouts[_i];
	uint32_t back = l->total < G_BUF ? l->total : G_BUF;

	rx_fill(&rx_plain);
	txl = l;
	g2h(1000, 6000, l->total);
	h2g(1001, 6001, back);
	assert_clean(l->total, back);
	assert_tx_shape(l);
}
END_TEST

/* Each rx layout: the data of host → guest, the control packets of guest
 * → host (tx plain). */
START_TEST(rx_layout)
{
	const struct layout *l = &rx_layouts[_i];

	rx_fill(l);
	h2g(1000, 6000, l->total);
	g2h(1001, 6001, l->total);
	assert_clean(l->total, l->total);
	assert_rx_shape(l);
}
END_TEST

/*
 * Hostile and boundary chains, in every tx layout (the header split
 * wherever the layout splits it).  A refusal the guest hears about must
 * be the one docs/vsock.md documents; ordering "nothing came back" is
 * proven by a later packet whose answer must be the next one on rx.
 */

/* Connection-less fence: a REQUEST to a port nobody listens on is
 * answered with an RST, which must be the next rx packet. */
static void fence(uint32_t gport)
{
	struct gconn f = { .gport = gport, .hport = 6999 };

	tx_op(&f, VIRTIO_VSOCK_OP_REQUEST, 0);
	rx_expect(&f, VIRTIO_VSOCK_OP_RST);
}

/* hdr.len beyond the chain's payload: LEN_CHAIN, answered with RST; the
 * flow is gone on both sides (the host peer sees EOF) and none of the
 * payload reached the host. */
START_TEST(len_beyond_chain_rst)
{
	struct gconn c = { .gport = 1100, .hport = 6100 };
	struct vsock_dev_stats st;
	struct vsock_hdr h;
	int lfd, fd;
	char b;

	txl = &tx_layouts[_i];
	rx_fill(&rx_plain);
	lfd = listen_at(c.hport);
	fd = guest_connect(&c, lfd);
	h = gh(&c, VIRTIO_VSOCK_OP_RW, 151, 0);
	tx_pkt(&h, data, 150);
	rx_expect(&c, VIRTIO_VSOCK_OP_RST);
	ck_assert_msg(readable(fd, WAIT_MS), "%s: host peer not told", txl->name);
	ck_assert_int_eq(read(fd, &b, 1), 0);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_LEN_CHAIN], 1);
	ck_assert_uint_eq(st.tx_bytes, 0);
	ck_assert_uint_eq(st.conns_open, 0);
	fence(1101);
	close(fd);
	close(lfd);
}
END_TEST

/* A wrong dst_cid names no flow of ours (the RST comes "from" that CID,
 * and matches no guest socket): RST, and the open flow carries on. */
START_TEST(bad_dst_cid_keeps_flow)
{
	struct gconn c = { .gport = 1105, .hport = 6105 };
	struct vsock_dev_stats st;
	struct vsock_hdr h;
	int lfd, fd;
	char b[4];

	rx_fill(&rx_plain);
	lfd = listen_at(c.hport);
	fd = guest_connect(&c, lfd);
	h = gh(&c, VIRTIO_VSOCK_OP_RW, 4, 0);
	h.dst_cid = 7;
	tx_pkt(&h, "lost", 4);
	h = rx_get_ok(NULL, 0);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RST);
	ck_assert_uint_eq(h.src_cid, 7);
	ck_assert_uint_eq(h.dst_port, c.gport);
	h = gh(&c, VIRTIO_VSOCK_OP_RW, 4, 0);
	tx_pkt(&h, "kept", 4);
	ck_assert(readable(fd, WAIT_MS));
	ck_assert_int_eq(read(fd, b, 4), 4);
	ck_assert_mem_eq(b, "kept", 4);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_DST_CID], 1);
	ck_assert_uint_eq(st.conns_open, 1);
	close(fd);
	close(lfd);
}
END_TEST

/* hdr.len below the chain's payload: only hdr.len bytes are payload, the
 * rest of the chain is ignored. */
START_TEST(len_below_chain_ignores_rest)
{
	struct gconn c = { .gport = 1110, .hport = 6110 };
	struct vsock_hdr h;
	struct host_io io;
	int lfd, fd;
	pthread_t t;

	txl = &tx_layouts[_i];
	rx_fill(&rx_plain);
	lfd = listen_at(c.hport);
	fd = guest_connect(&c, lfd);
	io = (struct host_io){ .fd = fd };
	ck_assert_int_eq(pthread_create(&t, NULL, host_reader, &io), 0);
	h = gh(&c, VIRTIO_VSOCK_OP_RW, 100, 0);
	tx_pkt(&h, data, 180);
	h = gh(&c, VIRTIO_VSOCK_OP_RW, 50, 0);
	tx_pkt(&h, data + 100, 50);
	tx_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	join(t);
	ck_assert_uint_eq(io.n, 150);
	assert_same(got, data, 150, "guest->host");
	assert_clean(150, 0);
	close(fd);
	close(lfd);
}
END_TEST

/* Fewer than 44 bytes in the chain, however cut: HDR_SHORT, dropped
 * without an answer. */
START_TEST(header_short_dropped)
{
	static const uint32_t lens[] = { 43, 24, 1 };
	struct gconn c = { .gport = 1120, .hport = 6120 };
	struct vsock_hdr h = gh(&c, VIRTIO_VSOCK_OP_REQUEST, 0, 0);
	struct vsock_dev_stats st;
	uint8_t flat[VSOCK_HDR_SIZE];

	txl = &tx_layouts[_i];
	rx_fill(&rx_plain);
	vsock_hdr_encode(&h, (struct virtio_vsock_hdr *)flat);
	for (unsigned i = 0; i < 3; i++)
		tx_chain(txl, flat, lens[i]);
	fence(1121);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_HDR_SHORT], 3);
	ck_assert_uint_eq(st.conns_open, 0);
}
END_TEST

/* tx payload must be device-readable: a payload descriptor marked WRITE
 * (allowed after the readable ones by §2.7.4.2, but not driver → device
 * data) does not count, so hdr.len is beyond the chain: RST. */
START_TEST(writable_payload_not_counted)
{
	struct gconn c = { .gport = 1130, .hport = 6130 };
	struct vsock_dev_stats st;
	struct vsock_hdr h;
	uint16_t before;

	rx_fill(&rx_plain);
	h = gh(&c, VIRTIO_VSOCK_OP_RW, 100, 0);
	vsock_hdr_encode(&h, td_gpa(&mem, TXMEM));
	memcpy(td_gpa(&mem, TXMEM + 0x100), data, 100);
	td_desc(&txr, 0, TXMEM, VSOCK_HDR_SIZE, VIRTQ_DESC_F_NEXT, 1);
	td_desc(&txr, 1, TXMEM + 0x100, 100, VIRTQ_DESC_F_WRITE, 0);
	before = td_used_idx_acquire(&txr);
	td_post(&txr, 0);
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_uint_eq(td_used_idx_acquire(&txr), (uint16_t)(before + 1));
	txr.last_used++;
	h = rx_conn(&c, NULL, 0);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RST);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_LEN_CHAIN], 1);
}
END_TEST

static Suite *layouts_suite(void)
{
	Suite *s = suite_create("vsock_layouts");
	TCase *tc;

	tc = tcase_create("tx");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, tx_layout, 0, N_TX_LAYOUTS);
	suite_add_tcase(s, tc);

	tc = tcase_create("rx");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, rx_layout, 0, N_RX_LAYOUTS);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, len_beyond_chain_rst, 0, N_TX_LAYOUTS);
	tcase_add_test(tc, bad_dst_cid_keeps_flow);
	tcase_add_loop_test(tc, len_below_chain_ignores_rest, 0, N_TX_LAYOUTS);
	tcase_add_loop_test(tc, header_short_dropped, 0, N_TX_LAYOUTS);
	tcase_add_test(tc, writable_payload_not_counted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(layouts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
