// SPDX-License-Identifier: MIT
/*
 * Sibling VMs (docs/vsock.md "Sibling VMs"): two vsock devices in one
 * process, each with its own fake guest driver and hybrid socket, wired as
 * each other's peers through the backend chain vmm/virtio_devs.c builds
 * (hybrid Unix backend behind the peer router).  A guest connection on A
 * to B's CID reaches B's guest as a REQUEST from A's CID and port; data
 * both ways with checksums, half-close, SEQPACKET, a sibling that is not
 * there or refuses, and the CONNECT-FROM rules against spoofing.
 *
 * Both devices share one event loop thread, run under the I/O thread's
 * seccomp filter (not in sanitizer builds); register accesses come from
 * the test thread (the device's tx path runs there, as on an MMIO exit).
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "tests/unit/virtio_test_driver.h"
#include "base/evloop.h"
#include "vmm/sandbox.h"
#include "vsock/backend.h"
#include "vsock/device.h"
#include "vsock/hybrid.h"
#include "vsock/packet.h"

#define BASE     0xd0000000ull
#define IRQ      5
#define CID_A    3u
#define CID_B    4u
#define CID_GONE 5u              /* a peer of A with no VMM running */
#define QSZ      16u
#define NTX      (QSZ / 2)
#define RXBUF    (4096u + 44u)
#define DESC(q)  (0x10000ull + (q) * 0x1000ull)
#define AVAIL(q) (DESC(q) + 0x400)
#define USED(q)  (DESC(q) + 0x800)
#define RXMEM(i) (0x40000ull + (i) * 0x2000ull)
#define TXHDR(i) (0x80000ull + (i) * 64ull)
#define TXPAY(i) (0x100000ull + (i) * 0x10000ull)
#define MEMSZ    (2u << 20)
#define WAIT_MS  10000

/* One guest: its RAM, MMIO transport, device and rings. */
struct gvm {
	uint64_t cid;
	char uds[96];
	struct td_mem mem;
	struct bus bus;
	struct virtio_dev *vdev;
	struct vsock_dev *dev;
	struct td_ring rxr, txr, evr;
	unsigned tx_n;
	uint16_t rx_seen;
	uint16_t type;           /* of the packets sent */
	uint32_t fwd_cnt[64];    /* payload bytes consumed, by local port % 64 */
};

static struct gvm A, B;
static struct evloop *ev;
static pthread_t io_thread;
static char dir[40];
static uint64_t features;

static void *io_main(void *arg)
{
	char err[256];

	(void)arg;
	if (!sandbox_unsupported() && sandbox_enter(SANDBOX_IO, 0, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	evloop_run(ev);
	return NULL;
}

static void post_rx(struct gvm *g, unsigned i)
{
	td_desc(&g->rxr, i, RXMEM(i), RXBUF, VIRTQ_DESC_F_WRITE, 0);
	td_post(&g->rxr, (uint16_t)i);
}

/* A device as the wiring builds it: hybrid backend on uds, the peer
 * router in front of it. */
static void vm_create(struct gvm *g, uint64_t cid, const struct vsock_peer *peers,
		      unsigned npeers)
{
	struct vmmio_params p = {
		.base = BASE, .irq = IRQ, .ops = &vsock_virtio_ops,
	};
	uint64_t cids[4];
	struct vsock_dev_params dp = { .guest_cid = cid, .ev = ev,
				       .peer_cids = cids, .npeers = npeers };
	char err[256] = "";

	memset(g, 0, sizeof(*g));
	g->cid = cid;
	g->type = VIRTIO_VSOCK_TYPE_STREAM;
	snprintf(g->uds, sizeof(g->uds), "%s/vm%u.sock", dir, (unsigned)cid);
	for (unsigned i = 0; i < npeers; i++)
		cids[i] = peers[i].cid;
	ck_assert_int_eq(vsock_unix_backend_create(g->uds, ev, &dp.be, err, sizeof(err)), 0);
	ck_assert_int_eq(vsock_peer_backend_create(cid, peers, npeers, dp.be, &dp.be), 0);
	ck_assert_int_eq(vsock_dev_create(&dp, &g->dev), 0);
	td_mem_init(&g->mem, MEMSZ);
	p.gm = &g->mem.gm;
	p.dev = g->dev;
	ck_assert_int_eq(vmmio_create(&g->bus, &p, &g->vdev), 0);
	vsock_dev_attach(g->dev, g->vdev);
}

static void vm_start(struct gvm *g)
{
	td_negotiate(&g->bus, BASE, (1ull << VIRTIO_F_VERSION_1) | features);
	td_ring_init(&g->rxr, &g->mem, QSZ, DESC(0), AVAIL(0), USED(0));
	td_ring_init(&g->txr, &g->mem, QSZ, DESC(1), AVAIL(1), USED(1));
	td_ring_init(&g->evr, &g->mem, QSZ, DESC(2), AVAIL(2), USED(2));
	ck_assert_uint_eq(td_setup_queue(&g->bus, BASE, 0, &g->rxr), 1);
	ck_assert_uint_eq(td_setup_queue(&g->bus, BASE, 1, &g->txr), 1);
	ck_assert_uint_eq(td_setup_queue(&g->bus, BASE, 2, &g->evr), 1);
	td_wr(&g->bus, BASE, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	for (unsigned i = 0; i < QSZ; i++)
		post_rx(g, i);
	td_wr(&g->bus, BASE, VMMIO_QUEUE_NOTIFY, 0);
}

static void setup_common(void)
{
	char err[256];
	char gone[96];

	snprintf(dir, sizeof(dir), "/tmp/vsock-peers-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(evloop_create(&ev), 0);
	snprintf(gone, sizeof(gone), "%s/vm%u.sock", dir, CID_GONE);
	{
		char ub[96];
		struct vsock_peer pa[] = { { CID_B, ub }, { CID_GONE, gone } };
		struct vsock_peer pb[] = { { CID_A, NULL } };
		char ua[96];

		snprintf(ub, sizeof(ub), "%s/vm%u.sock", dir, CID_B);
		snprintf(ua, sizeof(ua), "%s/vm%u.sock", dir, CID_A);
		pb[0].path = ua;
		vm_create(&A, CID_A, pa, 2);
		vm_create(&B, CID_B, pb, 1);
	}
	if (!sandbox_unsupported())
		ck_assert_msg(sandbox_prepare(SANDBOX_KIND_BIT(SANDBOX_IO), NULL, err,
					      sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(pthread_create(&io_thread, NULL, io_main, NULL), 0);
	vm_start(&A);
	vm_start(&B);
}

static void setup(void)
{
	features = 0;
	setup_common();
}

static void setup_seq(void)
{
	features = 1ull << VSOCK_F_SEQPACKET;
	setup_common();
	A.type = B.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
}

static void vm_destroy(struct gvm *g)
{
	vsock_dev_destroy(g->dev);
	vmmio_destroy(g->vdev);
	td_mem_free(&g->mem);
}

static void teardown(void)
{
	char cmd[80];

	evloop_stop(ev);
	pthread_join(io_thread, NULL);
	vm_destroy(&A);
	vm_destroy(&B);
	evloop_destroy(ev);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* --- the fake drivers --------------------------------------------------- */

static struct vsock_hdr gh(struct gvm *g, uint16_t op, uint64_t dcid, uint32_t sport,
			   uint32_t dport, uint32_t len, uint32_t flags)
{
	return (struct vsock_hdr){
		.src_cid = g->cid, .dst_cid = dcid, .src_port = sport,
		.dst_port = dport, .len = len, .type = g->type, .op = op,
		.flags = flags, .buf_alloc = 256 * 1024, .fwd_cnt = g->fwd_cnt[sport % 64],
	};
}

/* A packet on g's tx queue; the device handles it on this thread. */
static void tx(struct gvm *g, const struct vsock_hdr *h, const void *payload)
{
	unsigned slot = g->tx_n % NTX;
	uint16_t before = td_used_idx_acquire(&g->txr);

	vsock_hdr_encode(h, td_gpa(&g->mem, TXHDR(slot)));
	if (h->len)
		memcpy(td_gpa(&g->mem, TXPAY(slot)), payload, h->len);
	td_desc(&g->txr, 2 * slot, TXHDR(slot), VSOCK_HDR_SIZE,
		h->len ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(2 * slot + 1));
	td_desc(&g->txr, 2 * slot + 1, TXPAY(slot), h->len, 0, 0);
	td_post(&g->txr, (uint16_t)(2 * slot));
	g->tx_n++;
	td_wr(&g->bus, BASE, VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_uint_eq(td_used_idx_acquire(&g->txr), (uint16_t)(before + 1));
}

static void txh(struct gvm *g, uint16_t op, uint64_t dcid, uint32_t sport,
		uint32_t dport, uint32_t flags)
{
	struct vsock_hdr h = gh(g, op, dcid, sport, dport, 0, flags);

	tx(g, &h, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The next packet the device gave g's guest, within ms; false if none.
 * Its payload (if any) goes to buf (cap bytes). */
static bool rx_wait(struct gvm *g, struct vsock_hdr *h, void *buf, size_t cap,
		    unsigned ms)
{
	uint64_t end = now_ms() + ms;
	uint32_t id, len;

	while (td_used_idx_acquire(&g->rxr) == g->rx_seen) {
		if (now_ms() > end)
			return false;
		usleep(500);
	}
	td_used_elem(&g->rxr, g->rx_seen++, &id, &len);
	ck_assert_uint_lt(id, QSZ);
	ck_assert_uint_ge(len, VSOCK_HDR_SIZE);
	vsock_hdr_decode(td_gpa(&g->mem, RXMEM(id)), h);
	ck_assert_uint_eq(len, VSOCK_HDR_SIZE + h->len);
	ck_assert_uint_le(h->len, cap);
	if (h->len)
		memcpy(buf, td_gpa(&g->mem, RXMEM(id) + VSOCK_HDR_SIZE), h->len);
	post_rx(g, id);
	td_wr(&g->bus, BASE, VMMIO_QUEUE_NOTIFY, 0);
	return true;
}

/* The next packet that is not a CREDIT_UPDATE (those come as the other
 * side reads); fails the test if none comes. */
static struct vsock_hdr rx_pkt(struct gvm *g, void *buf, size_t cap)
{
	struct vsock_hdr h;

	do {
		ck_assert_msg(rx_wait(g, &h, buf, cap, WAIT_MS), "cid %u: no packet (%u seen)",
			      (unsigned)g->cid, g->rx_seen);
	} while (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	return h;
}

static void expect(const struct vsock_hdr *h, uint16_t op, uint64_t scid, uint32_t sport,
		   uint64_t dcid, uint32_t dport)
{
	ck_assert_uint_eq(h->op, op);
	ck_assert_uint_eq(h->src_cid, scid);
	ck_assert_uint_eq(h->src_port, sport);
	ck_assert_uint_eq(h->dst_cid, dcid);
	ck_assert_uint_eq(h->dst_port, dport);
}

/* A on sport connects to B's dport; B's guest accepts. */
static void connect_a_to_b(uint32_t sport, uint32_t dport)
{
	struct vsock_hdr h;

	txh(&A, VIRTIO_VSOCK_OP_REQUEST, CID_B, sport, dport, 0);
	h = rx_pkt(&B, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_REQUEST, CID_A, sport, CID_B, dport);
	ck_assert_uint_eq(h.type, A.type);
	txh(&B, VIRTIO_VSOCK_OP_RESPONSE, CID_A, dport, sport, 0);
	h = rx_pkt(&A, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RESPONSE, CID_B, dport, CID_A, sport);
}

static uint32_t fnv(uint32_t hash, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hash = (hash ^ p[i]) * 16777619u;
	return hash;
}

/* `total` bytes from s (port sp) to d (port dp) in pieces of up to 4 KiB;
 * d's guest credits what it read; the checksums must match. */
static void stream(struct gvm *s, uint32_t sp, struct gvm *d, uint32_t dp, size_t total)
{
	static uint8_t out[4096], in[4096];
	uint32_t sum_out = 2166136261u, sum_in = 2166136261u;
	size_t sent = 0, got = 0;
	unsigned seed = (unsigned)total;

	while (got < total) {
		while (sent < total && sent - got < 64 * 1024) {
			uint32_t n = (uint32_t)(total - sent < 4000 ? total - sent
							      : 1000u + (unsigned)rand_r(&seed) % 3000u);
			struct vsock_hdr h = gh(s, VIRTIO_VSOCK_OP_RW, d->cid, sp, dp, n, 0);

			for (uint32_t i = 0; i < n; i++)
				out[i] = (uint8_t)rand_r(&seed);
			sum_out = fnv(sum_out, out, n);
			tx(s, &h, out);
			sent += n;
		}
		{
			struct vsock_hdr h = rx_pkt(d, in, sizeof(in));

			expect(&h, VIRTIO_VSOCK_OP_RW, s->cid, sp, d->cid, dp);
			sum_in = fnv(sum_in, in, h.len);
			got += h.len;
			d->fwd_cnt[dp % 64] += h.len;
			txh(d, VIRTIO_VSOCK_OP_CREDIT_UPDATE, s->cid, dp, sp, 0);
		}
	}
	ck_assert_uint_eq(got, total);
	ck_assert_uint_eq(sum_in, sum_out);
}

/* --- tests ---------------------------------------------------------------- */

START_TEST(sibling_echo_both_ways)
{
	connect_a_to_b(1025, 5000);
	stream(&A, 1025, &B, 5000, 200 * 1024);
	stream(&B, 5000, &A, 1025, 200 * 1024);
	/* A second flow at the same time, other ports. */
	connect_a_to_b(1026, 5001);
	stream(&B, 5001, &A, 1026, 10000);
	stream(&A, 1025, &B, 5000, 10000);
}
END_TEST

START_TEST(sibling_half_close)
{
	struct vsock_hdr h;
	char buf[16];

	connect_a_to_b(1030, 6000);
	/* A stops sending: B's guest hears SHUTDOWN(SEND) from A, and can
	 * still send to A. */
	txh(&A, VIRTIO_VSOCK_OP_SHUTDOWN, CID_B, 1030, 6000, VIRTIO_VSOCK_SHUTDOWN_SEND);
	h = rx_pkt(&B, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_SHUTDOWN, CID_A, 1030, CID_B, 6000);
	ck_assert_uint_eq(h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND, VIRTIO_VSOCK_SHUTDOWN_SEND);
	stream(&B, 6000, &A, 1030, 5000);
	/* B closes: A's guest hears the rest of the close, as from a host. */
	txh(&B, VIRTIO_VSOCK_OP_SHUTDOWN, CID_A, 6000, 1030,
	    VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV);
	h = rx_pkt(&B, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RST, CID_A, 1030, CID_B, 6000);
	h = rx_pkt(&A, buf, sizeof(buf));
	ck_assert(h.op == VIRTIO_VSOCK_OP_SHUTDOWN || h.op == VIRTIO_VSOCK_OP_RST);
	ck_assert_uint_eq(h.src_cid, CID_B);
	ck_assert_uint_eq(h.dst_port, 1030);
}
END_TEST

START_TEST(sibling_absent_or_refusing_gets_rst)
{
	struct vsock_hdr h;
	uint64_t t0 = now_ms();

	/* A configured peer whose VMM is not running: RST at once. */
	txh(&A, VIRTIO_VSOCK_OP_REQUEST, CID_GONE, 1040, 7000, 0);
	h = rx_pkt(&A, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RST, CID_GONE, 7000, CID_A, 1040);
	/* A CID that is no peer: refused as before (never leaves A). */
	txh(&A, VIRTIO_VSOCK_OP_REQUEST, 9, 1041, 7000, 0);
	h = rx_pkt(&A, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RST, 9, 7000, CID_A, 1041);
	/* B's guest refuses: B closes the sibling's socket, A's guest gets RST. */
	txh(&A, VIRTIO_VSOCK_OP_REQUEST, CID_B, 1042, 7001, 0);
	h = rx_pkt(&B, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_REQUEST, CID_A, 1042, CID_B, 7001);
	txh(&B, VIRTIO_VSOCK_OP_RST, CID_A, 7001, 1042, 0);
	h = rx_pkt(&A, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RST, CID_B, 7001, CID_A, 1042);
	ck_assert_uint_lt(now_ms() - t0, 1500); /* not the 2 s deadline */
	/* B's guest sends to A's port on a flow it does not have: RST, from A. */
	txh(&B, VIRTIO_VSOCK_OP_RW, CID_A, 7001, 1042, 0);
	h = rx_pkt(&B, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RST, CID_A, 1042, CID_B, 7001);
}
END_TEST

/* A flow to the host and one to the sibling on the same port pair are
 * different flows: the CID is part of the match. */
START_TEST(sibling_same_ports_other_cid)
{
	struct vsock_hdr h;

	connect_a_to_b(1050, 8000);
	/* A's guest sends on the pair to the host: no such flow there. */
	txh(&A, VIRTIO_VSOCK_OP_RW, VSOCK_HOST_CID, 1050, 8000, 0);
	h = rx_pkt(&A, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RST, VSOCK_HOST_CID, 8000, CID_A, 1050);
	/* A REQUEST to the host on the pair in use: refused, the sibling
	 * flow goes on. */
	txh(&A, VIRTIO_VSOCK_OP_REQUEST, VSOCK_HOST_CID, 1050, 8000, 0);
	h = rx_pkt(&A, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RST, VSOCK_HOST_CID, 8000, CID_A, 1050);
	stream(&A, 1050, &B, 8000, 3000);
}
END_TEST

START_TEST(sibling_seqpacket)
{
	static uint8_t msg[3000], in[4096];
	struct vsock_hdr h;

	connect_a_to_b(1060, 9000);
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	h = gh(&A, VIRTIO_VSOCK_OP_RW, CID_B, 1060, 9000, sizeof(msg), VIRTIO_VSOCK_SEQ_EOM);
	tx(&A, &h, msg);
	h = rx_pkt(&B, in, sizeof(in));
	expect(&h, VIRTIO_VSOCK_OP_RW, CID_A, 1060, CID_B, 9000);
	ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	ck_assert_uint_eq(h.len, sizeof(msg));
	ck_assert(h.flags & VIRTIO_VSOCK_SEQ_EOM);
	ck_assert_mem_eq(in, msg, sizeof(msg));
	h = gh(&B, VIRTIO_VSOCK_OP_RW, CID_A, 9000, 1060, 10, VIRTIO_VSOCK_SEQ_EOM);
	tx(&B, &h, "0123456789");
	h = rx_pkt(&A, in, sizeof(in));
	expect(&h, VIRTIO_VSOCK_OP_RW, CID_B, 9000, CID_A, 1060);
	ck_assert_uint_eq(h.len, 10);
	ck_assert(h.flags & VIRTIO_VSOCK_SEQ_EOM);
	ck_assert_mem_eq(in, "0123456789", 10);
}
END_TEST

/* A fake sibling at CID_GONE, listening where A's device looks for it
 * (`type` SOCK_STREAM or SOCK_SEQPACKET), takes A's guest's REQUEST from
 * sport to dport (with that buf_alloc): it checks the CONNECT-FROM line,
 * answers OK, and A's guest gets the RESPONSE.  The accepted socket in
 * *fd; the listener is returned. */
static int fake_sibling_accept(int type, uint32_t sport, uint32_t dport, uint32_t buf_alloc,
			       int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[80], want[80];
	struct vsock_hdr h;
	ssize_t n;
	int l;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vm%u.sock%s", dir, CID_GONE,
		 type == SOCK_SEQPACKET ? "_seqpacket" : "");
	l = socket(AF_UNIX, type, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	h = gh(&A, VIRTIO_VSOCK_OP_REQUEST, CID_GONE, sport, dport, 0, 0);
	h.buf_alloc = buf_alloc;
	tx(&A, &h, NULL);
	*fd = accept(l, NULL, NULL);
	ck_assert_int_ge(*fd, 0);
	n = recv(*fd, line, sizeof(line) - 1, 0);
	ck_assert_int_gt(n, 0);
	line[n] = 0;
	snprintf(want, sizeof(want), "CONNECT-FROM %u %u %u\n", CID_A, sport, dport);
	ck_assert_str_eq(line, want);
	n = snprintf(line, sizeof(line), "OK %u\n", sport);
	ck_assert_int_eq(send(*fd, line, (size_t)n, type == SOCK_SEQPACKET ? MSG_EOR : 0), n);
	h = rx_pkt(&A, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RESPONSE, CID_GONE, dport, CID_A, sport);
	return l;
}

/* SEQPACKET: a sibling's message larger than our guest's credit is read
 * whole into the device (bounced) and handed out piece by piece.  If the
 * sibling dies (our bytes unread: ECONNRESET) while the tail waits for
 * credit, its socket is empty, yet the message is not all delivered: the
 * guest gets the tail, with EOM, then RST (before: RST at once, the
 * message lost). */
START_TEST(sibling_killed_bounced_message_arrives)
{
	static uint8_t msg[300], in[4096];
	struct vsock_hdr h;
	struct pollfd pfd;
	int l, fd;

	l = fake_sibling_accept(SOCK_SEQPACKET, 1093, 7103, 100, &fd);
	h = gh(&A, VIRTIO_VSOCK_OP_RW, CID_GONE, 1093, 7103, 5, VIRTIO_VSOCK_SEQ_EOM);
	h.buf_alloc = 100;
	tx(&A, &h, "hello");
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 13 + 1);
	ck_assert_int_eq(send(fd, msg, sizeof(msg), MSG_EOR), (ssize_t)sizeof(msg));
	h = rx_pkt(&A, in, sizeof(in));
	expect(&h, VIRTIO_VSOCK_OP_RW, CID_GONE, 7103, CID_A, 1093);
	ck_assert_uint_eq(h.len, 100);
	ck_assert(!(h.flags & VIRTIO_VSOCK_SEQ_EOM));
	close(fd); /* "hello" unread; its socket holds nothing more for us */
	close(l);
	usleep(100 * 1000); /* the I/O thread sees the reset */
	h = gh(&A, VIRTIO_VSOCK_OP_CREDIT_UPDATE, CID_GONE, 1093, 7103, 0, 0);
	h.fwd_cnt = 100;
	tx(&A, &h, NULL);
	h = rx_pkt(&A, in + 100, sizeof(in) - 100);
	ck_assert_msg(h.op == VIRTIO_VSOCK_OP_RW, "op %u: the message's tail was dropped", h.op);
	ck_assert_uint_eq(h.len, 200);
	ck_assert(h.flags & VIRTIO_VSOCK_SEQ_EOM);
	ck_assert_mem_eq(in, msg, sizeof(msg));
	h = rx_pkt(&A, in, sizeof(in));
	ck_assert_msg(h.op == VIRTIO_VSOCK_OP_RST, "op %u flags %u, not RST", h.op, h.flags);
}
END_TEST

/* Many flows open at once, each echoing both ways. */
START_TEST(sibling_many_flows)
{
	enum { N = 40 };

	for (uint32_t i = 0; i < N; i++)
		connect_a_to_b(2000 + i, 10000 + i);
	for (uint32_t i = 0; i < N; i++) {
		stream(&A, 2000 + i, &B, 10000 + i, 3000 + 100 * i);
		stream(&B, 10000 + i, &A, 2000 + i, 5000 - 50 * i);
	}
}
END_TEST

/* B's driver resets (as when its VM goes away, its VMM closes every
 * socket): A's flow to B ends, A's flow to the host goes on. */
START_TEST(sibling_gone_mid_stream)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_hdr h;
	char buf[64];
	int l, hfd;

	/* A flow from A's guest to a host service on A's hybrid socket. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_7777", A.uds);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	txh(&A, VIRTIO_VSOCK_OP_REQUEST, VSOCK_HOST_CID, 1070, 7777, 0);
	h = rx_pkt(&A, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_RESPONSE, VSOCK_HOST_CID, 7777, CID_A, 1070);
	hfd = accept(l, NULL, NULL);
	ck_assert_int_ge(hfd, 0);

	connect_a_to_b(1071, 9100);
	stream(&A, 1071, &B, 9100, 20000);
	td_wr(&B.bus, BASE, VMMIO_STATUS, 0); /* B's guest is gone */
	do {
		h = rx_pkt(&A, buf, sizeof(buf));
		ck_assert_uint_eq(h.src_cid, CID_B);
		ck_assert_uint_eq(h.dst_port, 1071);
	} while (h.op == VIRTIO_VSOCK_OP_SHUTDOWN &&
		 h.flags != (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND));
	ck_assert(h.op == VIRTIO_VSOCK_OP_SHUTDOWN || h.op == VIRTIO_VSOCK_OP_RST);

	/* The host flow is untouched. */
	h = gh(&A, VIRTIO_VSOCK_OP_RW, VSOCK_HOST_CID, 1070, 7777, 5, 0);
	tx(&A, &h, "hello");
	ck_assert_int_eq(read(hfd, buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(write(hfd, "back", 4), 4);
	h = rx_pkt(&A, buf, sizeof(buf));
	expect(&h, VIRTIO_VSOCK_OP_RW, VSOCK_HOST_CID, 7777, CID_A, 1070);
	ck_assert_mem_eq(buf, "back", 4);
	close(hfd);
	close(l);
}
END_TEST

/* A sibling VMM killed (SIGKILL) or closing while our data sits unread
 * in its socket: the kernel resets our end (ECONNRESET, EPOLLERR), but
 * what the sibling sent before lies in our receive queue, in order, ahead
 * of the error.  Our guest gets those bytes first, then the reset; before
 * the fix the device reset the flow on EPOLLERR and dropped them.  A fake
 * sibling VMM on CID_GONE's path; A's guest grants no credit until the
 * sibling is gone, so the bytes are still in A's socket then. */
START_TEST(sibling_killed_last_bytes_arrive)
{
	char buf[64];
	struct vsock_hdr h;
	struct pollfd pfd;
	ssize_t got = 0;
	int l, fd;

	l = fake_sibling_accept(SOCK_STREAM, 1090, 7100, 0, &fd);
	/* A's guest sends; the sibling never reads it. */
	h = gh(&A, VIRTIO_VSOCK_OP_RW, CID_GONE, 1090, 7100, 5, 0);
	h.buf_alloc = 0;
	tx(&A, &h, "hello");
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
	/* Its last words, then it dies with "hello" unread. */
	ck_assert_int_eq(write(fd, "last words", 10), 10);
	close(fd);
	close(l);
	usleep(100 * 1000); /* the I/O thread sees the reset */
	h = gh(&A, VIRTIO_VSOCK_OP_CREDIT_UPDATE, CID_GONE, 1090, 7100, 0, 0);
	tx(&A, &h, NULL);
	do {
		h = rx_pkt(&A, buf + got, sizeof(buf) - (size_t)got);
		ck_assert_uint_eq(h.src_cid, CID_GONE);
		ck_assert_uint_eq(h.dst_port, 1090);
		if (h.op != VIRTIO_VSOCK_OP_RW)
			break;
		got += h.len;
	} while (got < 10);
	ck_assert_msg(got == 10, "op %u after %zd bytes", h.op, got);
	ck_assert_mem_eq(buf, "last words", 10);
	/* ... and then the reset: the reads meet ECONNRESET behind the
	 * bytes (a SHUTDOWN here would pass the abort off as a clean end). */
	h = rx_pkt(&A, buf, sizeof(buf));
	ck_assert_msg(h.op == VIRTIO_VSOCK_OP_RST, "op %u flags %u, not RST", h.op, h.flags);
}
END_TEST

/* The same with nothing sent back: the sibling dies with our bytes unread
 * and nothing for us.  That is an abort, not an orderly close: our guest
 * gets RST (ECONNRESET in Linux), not SHUTDOWN (a clean EOF).  A peek at
 * the empty queue reports, and clears, the error, so the check for bytes
 * still waiting must not eat it. */
START_TEST(sibling_killed_nothing_queued_rst)
{
	char buf[64];
	struct vsock_hdr h;
	struct pollfd pfd;
	int l, fd;

	l = fake_sibling_accept(SOCK_STREAM, 1091, 7101, 256 * 1024, &fd);
	h = gh(&A, VIRTIO_VSOCK_OP_RW, CID_GONE, 1091, 7101, 5, 0);
	tx(&A, &h, "hello");
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
	close(fd); /* "hello" unread: A's end gets ECONNRESET */
	close(l);
	h = rx_pkt(&A, buf, sizeof(buf));
	ck_assert_uint_eq(h.src_cid, CID_GONE);
	ck_assert_uint_eq(h.dst_port, 1091);
	ck_assert_msg(h.op == VIRTIO_VSOCK_OP_RST, "op %u flags %u, not RST", h.op, h.flags);
}
END_TEST

/* As sibling_killed_last_bytes_arrive, but A's guest shut down its
 * receiving side first (SHUTDOWN(RCV), shutdown(SHUT_RD) in Linux): it will
 * never take the sibling's last bytes, so no read will ever get past them
 * to the error.  The flow must be reset when the sibling dies, not left
 * open (its sends then vanishing) until the guest closes it. */
START_TEST(sibling_killed_guest_shut_rd_rst)
{
	char buf[64];
	struct vsock_hdr h;
	struct pollfd pfd;
	int l, fd;

	l = fake_sibling_accept(SOCK_STREAM, 1092, 7102, 256 * 1024, &fd);
	txh(&A, VIRTIO_VSOCK_OP_SHUTDOWN, CID_GONE, 1092, 7102, VIRTIO_VSOCK_SHUTDOWN_RCV);
	h = gh(&A, VIRTIO_VSOCK_OP_RW, CID_GONE, 1092, 7102, 5, 0);
	tx(&A, &h, "hello");
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
	ck_assert_int_eq(write(fd, "last words", 10), 10);
	close(fd); /* "hello" unread */
	close(l);
	h = rx_pkt(&A, buf, sizeof(buf));
	ck_assert_uint_eq(h.src_cid, CID_GONE);
	ck_assert_uint_eq(h.dst_port, 1092);
	ck_assert_msg(h.op == VIRTIO_VSOCK_OP_RST, "op %u flags %u len %u, not RST", h.op,
		      h.flags, h.len);
}
END_TEST

/* A host program on B's socket. */
static int host_connect(const char *path, const char *line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	return fd;
}

/* Closed without a reply within a second. */
static void expect_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	ck_assert_int_eq(poll(&pfd, 1, 1000), 1);
	ck_assert_int_eq(read(fd, &c, 1), 0);
	close(fd);
}

START_TEST(connect_from_not_a_peer_refused)
{
	struct vsock_hdr h;
	char line[64], ok[16];
	int fd;

	/* Claiming a CID B does not know, B's own, or the host's: closed, B's
	 * guest sees nothing. */
	fd = host_connect(B.uds, "CONNECT-FROM 9 1 5000\n");
	expect_closed(fd);
	snprintf(line, sizeof(line), "CONNECT-FROM %u 1 5000\n", CID_B);
	expect_closed(host_connect(B.uds, line));
	expect_closed(host_connect(B.uds, "CONNECT-FROM 2 1 5000\n"));
	ck_assert(!rx_wait(&B, &h, NULL, 0, 200));
	/* A process of the VMM's own user may speak for a peer (the trust
	 * boundary is the uid, docs/vsock.md "Sibling VMs"). */
	snprintf(line, sizeof(line), "CONNECT-FROM %u 77 5000\n", CID_A);
	fd = host_connect(B.uds, line);
	ck_assert_int_ge(fd, 0);
	h = rx_pkt(&B, NULL, 0);
	expect(&h, VIRTIO_VSOCK_OP_REQUEST, CID_A, 77, CID_B, 5000);
	txh(&B, VIRTIO_VSOCK_OP_RESPONSE, CID_A, 5000, 77, 0);
	ck_assert_int_eq(read(fd, ok, sizeof(ok)), 6);
	ck_assert_mem_eq(ok, "OK 77\n", 6);
	close(fd);
}
END_TEST

/* Another user (allowed onto the socket, as --vsock-socket-group allows a
 * group) may use CONNECT but not CONNECT-FROM.  Needs root to switch. */
START_TEST(connect_from_other_uid_refused)
{
	struct vsock_hdr h;
	char line[64];
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		fprintf(stderr, "connect_from_other_uid_refused: skipped (needs root)\n");
		return;
	}
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(chmod(B.uds, 0666), 0);
	snprintf(line, sizeof(line), "CONNECT-FROM %u 88 5000\n", CID_A);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pollfd pfd;
		char c;
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = host_connect(B.uds, line);
		if (fd < 0)
			_exit(3);
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 1000) != 1 || read(fd, &c, 1) != 0)
			_exit(4);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert(!rx_wait(&B, &h, NULL, 0, 200));
}
END_TEST

static Suite *peers_suite(void)
{
	Suite *s = suite_create("vsock_peers");
	TCase *tc = tcase_create("stream");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sibling_echo_both_ways);
	tcase_add_test(tc, sibling_half_close);
	tcase_add_test(tc, sibling_absent_or_refusing_gets_rst);
	tcase_add_test(tc, sibling_same_ports_other_cid);
	tcase_add_test(tc, sibling_gone_mid_stream);
	tcase_add_test(tc, sibling_killed_last_bytes_arrive);
	tcase_add_test(tc, sibling_killed_nothing_queued_rst);
	tcase_add_test(tc, sibling_killed_guest_shut_rd_rst);
	tcase_add_test(tc, sibling_many_flows);
	tcase_add_test(tc, connect_from_not_a_peer_refused);
	tcase_add_test(tc, connect_from_other_uid_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("seqpacket");
	tcase_add_checked_fixture(tc, setup_seq, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sibling_seqpacket);
	tcase_add_test(tc, sibling_killed_bounced_message_arrives);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(peers_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
