// SPDX-License-Identifier: MIT
/*
 * The vsock device end to end without KVM: a fake guest driver (rings in
 * malloc'd "guest RAM", registers through the MMIO bus as a vCPU would),
 * the real event loop on its own thread, and real Unix sockets in a
 * temporary directory on the host side (hybrid protocol).
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "tests/unit/virtio_test_driver.h"
#include "tests/unit/vsock_test_dev.h"
#include "base/evloop.h"
#include "vmm/sandbox.h"
#include "vsock/backend.h"
#include "vsock/device.h"
#include "vsock/packet.h"
#include "vsock/port_alloc.h"
#include "vsock/sock.h"
#include "base/clock.h"

#define BASE     0xd0000000ull
#define IRQ      5
#define GCID     3u
#define QSZ      16u
#define NTX      (QSZ / 2)       /* two descriptors per tx chain */
#define RXBUF    (4096u + 44u)
#define DESC(q)  (0x10000ull + (q) * 0x1000ull)
#define AVAIL(q) (DESC(q) + 0x400)
#define USED(q)  (DESC(q) + 0x800)
#define RXMEM(i) (layout == RX_BIG ? 0x200000ull + (i) * 0x10100ull : \
		  layout == RX_MANY ? 0x200000ull + (i) * 0x2000ull \
			       : 0x40000ull + (i) * 0x2000ull)
#define RXBUF_BIG (65536u + 44u)
#define RXQ_MANY  64u            /* fits DESC/AVAIL/USED's 0x400 spacing */
#define TXHDR(i) (0x80000ull + (i) * 64ull)
#define TXPAY(i) (0x100000ull + (i) * 0x10000ull)
#define MEMSZ    (4u << 20)
#define TXPAY_MAX 0x10000u
/* Bound of every wait for something that must happen (ms).  Generous:
 * it only runs out when the test fails, and a loaded machine is slow. */
#define WAIT_MS  10000

static struct td_mem mem;
static struct bus bus;
static struct virtio_dev *vdev;
static struct vsock_dev *dev;
static struct evloop *ev;
static pthread_t io_thread;
static struct td_ring rxr, txr, evr;
static unsigned tx_n;             /* tx chains sent */
static char dir[40], uds[64];
static uint32_t g_fwd;            /* the guest's fwd_cnt */
static uint32_t g_buf = 65536;    /* the guest's buf_alloc */
static uint16_t g_type = VIRTIO_VSOCK_TYPE_STREAM; /* type of the packets sent */
static uint64_t g_features;       /* vsock feature bits the driver acks */
/* Extra device parameters for the forward/limit fixtures. */
static struct vsock_fwd g_fwd_out[3], g_fwd_in[2];
static unsigned g_n_fwd_out, g_n_fwd_in;
static uint32_t g_max_conns;

/* How the fake driver lays out rx buffers. */
enum rx_layout {
	RX_ONE_DESC,   /* header + payload in one buffer (Linux >= 6.2) */
	RX_SPLIT,      /* 44-byte header descriptor + 4 KiB (older Linux) */
	RX_TINY_FIRST, /* the first two buffers are 20 and 44 bytes */
	RX_BIG,        /* 64 KiB + header each (the largest datagram) */
	RX_MANY,       /* as RX_ONE_DESC, RXQ_MANY of them (a 64-entry rx ring) */
};
static enum rx_layout layout;
static unsigned rx_short;         /* used entries < 44 bytes seen */
static bool honest_kicks;         /* rx re-posts kick only when asked to */
static unsigned rx_kicks;         /* rx kicks the fake driver made */
static bool g_dgram;              /* the device has datagrams (--vsock-dgram) */
static struct vsock_dgram_udp_fwd g_udp_out[3], g_udp_in[1]; /* UDP forwards */
static unsigned g_n_udp_out, g_n_udp_in;

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

/* The loop thread runs as vmm run's I/O thread does, under its seccomp
 * filter (vmm/sandbox.h; not in sanitizer builds): every test here also
 * proves that allow-list, and a call it lacks ends the test process with
 * the sandbox's message and exit 148. */
static void start_io(void)
{
	char err[256];

	if (!sandbox_unsupported())
		ck_assert_msg(sandbox_prepare(SANDBOX_KIND_BIT(SANDBOX_IO) |
					      SANDBOX_KIND_BIT(SANDBOX_VCPU), NULL, err,
					      sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(pthread_create(&io_thread, NULL, io_main, NULL), 0);
}

/*
 * The fake driver's register accesses are made by a "vCPU": one thread
 * under the vCPU filter, as vmm run's MMIO exits are (with --notify mmio
 * every queue notify runs the device there).  The test thread hands it
 * one access at a time and waits.  Sanitizer builds access directly.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, pending, write;
	uint64_t off;
	uint32_t v;
} vcpu = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *vcpu_main(void *arg)
{
	char err[256];

	(void)arg;
	if (sandbox_enter(SANDBOX_VCPU, 0, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	pthread_mutex_lock(&vcpu.lock);
	for (;;) {
		while (!vcpu.pending)
			pthread_cond_wait(&vcpu.cond, &vcpu.lock);
		if (vcpu.write)
			td_wr(&bus, BASE, vcpu.off, vcpu.v);
		else
			vcpu.v = td_rd(&bus, BASE, vcpu.off);
		vcpu.pending = false;
		pthread_cond_broadcast(&vcpu.cond);
	}
	return NULL;
}

static uint32_t mmio(uint64_t off, uint32_t v, bool write)
{
	if (sandbox_unsupported()) {
		if (write)
			td_wr(&bus, BASE, off, v);
		return write ? 0 : td_rd(&bus, BASE, off);
	}
	pthread_mutex_lock(&vcpu.lock);
	if (!vcpu.started) {
		/* Filters prepared by start_io(); the test thread itself
		 * stays unfiltered, free to bind and listen as hosts do. */
		ck_assert_int_eq(pthread_create(&vcpu.thread, NULL, vcpu_main, NULL), 0);
		vcpu.started = true;
	}
	while (vcpu.pending)
		pthread_cond_wait(&vcpu.cond, &vcpu.lock);
	vcpu.off = off;
	vcpu.v = v;
	vcpu.write = write;
	vcpu.pending = true;
	pthread_cond_broadcast(&vcpu.cond);
	while (vcpu.pending)
		pthread_cond_wait(&vcpu.cond, &vcpu.lock);
	v = vcpu.v;
	pthread_mutex_unlock(&vcpu.lock);
	return v;
}

static uint32_t rd(uint64_t off)
{
	return mmio(off, 0, false);
}

static void wr(uint64_t off, uint32_t v)
{
	mmio(off, v, true);
}

/* (Re)post rx buffer i of `size` bytes at RXMEM(i). */
static void post_rx(unsigned i, uint32_t size)
{
	if (layout == RX_SPLIT) {
		td_desc(&rxr, 2 * i, RXMEM(i), VSOCK_HDR_SIZE,
			VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(2 * i + 1));
		td_desc(&rxr, 2 * i + 1, RXMEM(i) + VSOCK_HDR_SIZE, size - VSOCK_HDR_SIZE,
			VIRTQ_DESC_F_WRITE, 0);
		td_post(&rxr, (uint16_t)(2 * i));
	} else {
		td_desc(&rxr, i, RXMEM(i), size, VIRTQ_DESC_F_WRITE, 0);
		td_post(&rxr, (uint16_t)i);
	}
}

static void setup(void)
{
	struct vmmio_params p = {
		.base = BASE, .irq = IRQ, .ops = &vsock_virtio_ops, .gm = &mem.gm,
	};
	struct test_dev_params dp = {
		.guest_cid = GCID, .uds_path = uds, .max_conns = g_max_conns,
		.fwd_out = g_fwd_out, .n_fwd_out = g_n_fwd_out,
		.fwd_in = g_fwd_in, .n_fwd_in = g_n_fwd_in, .dgram = g_dgram,
		.udp_out = g_udp_out, .n_udp_out = g_n_udp_out,
		.udp_in = g_udp_in, .n_udp_in = g_n_udp_in,
	};

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/vsock-test-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(dir));
	}
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	td_mem_init(&mem, MEMSZ);
	memset(&bus, 0, sizeof(bus));
	ck_assert_int_eq(evloop_create(&ev), 0);
	dp.ev = ev;
	ck_assert_int_eq(test_dev_create(&dp, &dev), 0);
	p.dev = dev;
	p.ops = vsock_dev_ops(dev);
	ck_assert_int_eq(vmmio_create(&bus, &p, &vdev), 0);
	vsock_dev_attach(dev, vdev);
	start_io();

	/* Driver init: features, three queues, DRIVER_OK, then rx buffers. */
	td_negotiate(&bus, BASE, (1ull << VIRTIO_F_VERSION_1) | g_features);
	td_ring_init(&rxr, &mem, layout == RX_MANY ? RXQ_MANY : QSZ, DESC(0), AVAIL(0), USED(0));
	td_ring_init(&txr, &mem, QSZ, DESC(1), AVAIL(1), USED(1));
	td_ring_init(&evr, &mem, QSZ, DESC(2), AVAIL(2), USED(2));
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 0, &rxr), 1);
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 1, &txr), 1);
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 2, &evr), 1);
	wr(VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	rx_short = 0;
	for (unsigned i = 0; i < (layout == RX_SPLIT ? QSZ / 2 : rxr.size); i++)
		post_rx(i, layout == RX_TINY_FIRST && i < 2 ? (i ? 44 : 20) :
			layout == RX_BIG ? RXBUF_BIG : RXBUF);
	wr(VMMIO_QUEUE_NOTIFY, 0);
	tx_n = 0;
	g_fwd = 0;
	g_buf = 65536;
}

/* Older Linux rx layout (44-byte header descriptor + 4 KiB), SEQPACKET. */
static void setup_seq_split(void)
{
	layout = RX_SPLIT;
	g_features = 1ull << VSOCK_F_SEQPACKET;
	g_type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	setup();
}

/* A driver that acks only SEQPACKET, as Linux does. */
static void setup_seq(void)
{
	layout = RX_ONE_DESC;
	g_features = 1ull << VSOCK_F_SEQPACKET;
	g_type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	setup();
}

static void setup_split(void)
{
	layout = RX_SPLIT;
	setup();
}

static void setup_tiny(void)
{
	layout = RX_TINY_FIRST;
	setup();
}

static void setup_one(void)
{
	layout = RX_ONE_DESC;
	setup();
}

/* The driver negotiates VIRTIO_F_EVENT_IDX (avail_event / used_event). */
static void setup_eventidx(void)
{
	layout = RX_ONE_DESC;
	g_features = 1ull << VIRTIO_F_EVENT_IDX;
	setup();
}

static void teardown(void)
{
	honest_kicks = false;
	g_dgram = false;
	g_features = 0;
	g_type = VIRTIO_VSOCK_TYPE_STREAM;
	evloop_stop(ev);
	pthread_join(io_thread, NULL);
	vsock_dev_destroy(dev);
	evloop_destroy(ev);
	vmmio_destroy(vdev);
	td_mem_free(&mem);
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		ck_assert_int_eq(system(cmd), 0);
		dir[0] = '\0';
	}
	g_n_fwd_out = g_n_fwd_in = 0;
	g_max_conns = 0;
}

/* --- the fake driver --------------------------------------------------- */

static struct vsock_hdr gh(uint16_t op, uint32_t sport, uint32_t dport, uint32_t len,
			   uint32_t flags)
{
	return (struct vsock_hdr){
		.src_cid = GCID, .dst_cid = VSOCK_HOST_CID, .src_port = sport,
		.dst_port = dport, .len = len, .type = g_type,
		.op = op, .flags = flags, .buf_alloc = g_buf, .fwd_cnt = g_fwd,
	};
}

/* Send a packet on tx (the device handles it on this thread, like an MMIO
 * exit) and check it came back used. */
static void tx_post(const struct vsock_hdr *h, const void *payload, uint32_t plen)
{
	unsigned slot = tx_n % NTX;

	ck_assert_uint_le(plen, TXPAY_MAX);
	vsock_hdr_encode(h, td_gpa(&mem, TXHDR(slot)));
	if (plen)
		memcpy(td_gpa(&mem, TXPAY(slot)), payload, plen);
	td_desc(&txr, 2 * slot, TXHDR(slot), VSOCK_HDR_SIZE, plen ? VIRTQ_DESC_F_NEXT : 0,
		(uint16_t)(2 * slot + 1));
	td_desc(&txr, 2 * slot + 1, TXPAY(slot), plen, 0, 0);
	td_post(&txr, (uint16_t)(2 * slot));
	tx_n++;
	wr(VMMIO_QUEUE_NOTIFY, 1);
}

static void tx(const struct vsock_hdr *h, const void *payload, uint32_t plen)
{
	unsigned slot = tx_n % NTX;
	uint16_t before = td_used_idx_acquire(&txr);

	ck_assert_uint_le(plen, TXPAY_MAX);
	vsock_hdr_encode(h, td_gpa(&mem, TXHDR(slot)));
	if (plen)
		memcpy(td_gpa(&mem, TXPAY(slot)), payload, plen);
	td_desc(&txr, 2 * slot, TXHDR(slot), VSOCK_HDR_SIZE, plen ? VIRTQ_DESC_F_NEXT : 0,
		(uint16_t)(2 * slot + 1));
	td_desc(&txr, 2 * slot + 1, TXPAY(slot), plen, 0, 0);
	td_post(&txr, (uint16_t)(2 * slot));
	tx_n++;
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_uint_eq(td_used_idx_acquire(&txr), (uint16_t)(before + 1));
}

static void txh(uint16_t op, uint32_t sport, uint32_t dport, uint32_t flags)
{
	struct vsock_hdr h = gh(op, sport, dport, 0, flags);

	tx(&h, NULL, 0);
}

static void txdata(uint32_t sport, uint32_t dport, const void *p, uint32_t len)
{
	struct vsock_hdr h = gh(VIRTIO_VSOCK_OP_RW, sport, dport, len, 0);

	tx(&h, p, len);
}

/* --- notification suppression, as a real driver sees it ----------------- */


/* Linux vring_need_event(). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

static uint16_t used_flags(struct td_ring *r)
{
	uint16_t *p = td_gpa(r->m, r->used);

	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static uint16_t avail_event(struct td_ring *r)
{
	uint16_t *p = td_gpa(r->m, r->used + 4 + 8u * r->size);

	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static bool event_idx(void)
{
	return g_features & (1ull << VIRTIO_F_EVENT_IDX);
}

/* virtqueue_kick_prepare(): the driver published avail->idx (td_post()), the
 * full barrier orders that store before the load of the device's
 * suppression word (the device has the mirror barrier in
 * virtq_enable_notify), then: kick or not.  old = avail_idx at the last
 * kick decision. */
static bool kick_wanted(struct td_ring *r, uint16_t old)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (event_idx())
		return need_event(avail_event(r), r->avail_idx, old);
	return !(used_flags(r) & VIRTQ_USED_F_NO_NOTIFY);
}

/* Re-post rx buffer i and kick: always, or as the device asks. */
static void repost_rx(unsigned i)
{
	uint16_t old = rxr.avail_idx;

	post_rx(i, layout == RX_BIG ? RXBUF_BIG : RXBUF);
	if (!honest_kicks || kick_wanted(&rxr, old)) {
		rx_kicks++;
		wr(VMMIO_QUEUE_NOTIFY, 0);
	}
}

/* Wait for the next rx packet; payload (if any) into buf.  False on
 * timeout. */
static bool rx_try(struct vsock_hdr *h, void *buf, size_t bufsz, int ms)
{
	uint32_t id, len, i;
	struct timespec ts = { 0, 1000000 };

again:
	for (int t = 0; td_used_idx_acquire(&rxr) == rxr.last_used; t++) {
		if (t >= ms)
			return false;
		nanosleep(&ts, NULL);
	}
	td_used_elem(&rxr, rxr.last_used, &id, &len);
	rxr.last_used++;
	ck_assert_uint_lt(id, rxr.size);
	i = layout == RX_SPLIT ? id / 2 : id;
	if (len < VSOCK_HDR_SIZE) {
		/* Linux drops these; refill with a full-size buffer. */
		rx_short++;
		repost_rx(i);
		goto again;
	}
	vsock_hdr_decode(td_gpa(&mem, RXMEM(i)), h);
	ck_assert_uint_eq(len, VSOCK_HDR_SIZE + h->len);
	ck_assert_uint_le(h->len, bufsz);
	if (h->len)
		memcpy(buf, td_gpa(&mem, RXMEM(i) + VSOCK_HDR_SIZE), h->len);
	/* Give the buffer back at once, as Linux refills. */
	repost_rx(i);
	return true;
}

static struct vsock_hdr rx_op(uint16_t op, void *buf, size_t bufsz)
{
	struct vsock_hdr h;

	ck_assert_msg(rx_try(&h, buf, bufsz, WAIT_MS), "no rx packet (wanted op %u)", op);
	ck_assert_uint_eq(h.op, op);
	ck_assert_uint_eq(h.src_cid, VSOCK_HOST_CID);
	ck_assert_uint_eq(h.dst_cid, GCID);
	ck_assert_uint_eq(h.type, g_type);
	return h;
}

static void rx_none(int ms)
{
	struct vsock_hdr h;
	char buf[RXBUF];

	ck_assert_msg(!rx_try(&h, buf, sizeof(buf), ms), "unexpected rx op %u", h.op);
}

/* --- the host side ------------------------------------------------------ */

static int listen_at(uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, (g_type == VIRTIO_VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET
				  : SOCK_STREAM) | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

static int connect_uds(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Read exactly n bytes (or fail the test). */
static void read_n(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		ck_assert_msg(readable(fd, WAIT_MS), "host read timed out at %zu/%zu", got, n);
		r = read(fd, (char *)buf + got, n - got);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
}

static void assert_eof(int fd)
{
	char c;

	ck_assert(readable(fd, WAIT_MS));
	ck_assert_int_eq(read(fd, &c, 1), 0);
}

/* Closed by the device: EOF, or ECONNRESET if it had unread bytes. */
static void assert_closed(int fd)
{
	char c;
	ssize_t r;

	ck_assert(readable(fd, WAIT_MS));
	r = read(fd, &c, 1);
	ck_assert(r == 0 || (r < 0 && errno == ECONNRESET));
}

/* A guest flow to host port `port`, accepted by the host: returns the
 * host's fd. */
static int guest_connect(int lfd, uint32_t gport, uint32_t port)
{
	struct vsock_hdr h;
	int fd;

	txh(VIRTIO_VSOCK_OP_REQUEST, gport, port, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RESPONSE, NULL, 0);
	ck_assert_uint_eq(h.src_port, port);
	ck_assert_uint_eq(h.dst_port, gport);
	ck_assert_uint_gt(h.buf_alloc, 0); /* Linux stalls on 0 */
	ck_assert(readable(lfd, WAIT_MS));
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* --- tests ------------------------------------------------------------- */

START_TEST(config_space_and_identity)
{
	ck_assert_uint_eq(rd(VMMIO_DEVICE_ID), 19);
	ck_assert_uint_eq(rd(VMMIO_CONFIG), GCID);      /* le64, low half */
	ck_assert_uint_eq(rd(VMMIO_CONFIG + 4), 0);     /* high half */
	wr(VMMIO_DEVICE_FEATURES_SEL, 0);
	ck_assert_uint_eq(rd(VMMIO_DEVICE_FEATURES) & 7,
			  (1u << VSOCK_F_STREAM) | (1u << VSOCK_F_SEQPACKET) |
			  (1u << VSOCK_F_NO_IMPLIED_STREAM));
	/* Datagrams are off by default: F_DGRAM is never offered. */
	ck_assert_uint_eq(rd(VMMIO_DEVICE_FEATURES) & (1u << VSOCK_F_DGRAM), 0);
}
END_TEST

/* docs/vsock.md quotes the fixed cost per connection; keep it small. */
START_TEST(conn_fixed_cost)
{
	printf("vsock: fixed cost per connection %zu bytes\n", vsock_dev_conn_fixed_bytes());
	ck_assert_uint_le(vsock_dev_conn_fixed_bytes(), 512);
}
END_TEST

START_TEST(guest_flow_full_life)
{
	int lfd = listen_at(5000), fd;
	char buf[RXBUF];
	struct vsock_hdr h;

	fd = guest_connect(lfd, 1025, 5000);
	/* guest → host */
	txdata(1025, 5000, "hello", 5);
	read_n(fd, buf, 5);
	ck_assert_mem_eq(buf, "hello", 5);
	/* host → guest */
	ck_assert_int_eq(write(fd, "world!", 6), 6);
	h = rx_op(VIRTIO_VSOCK_OP_RW, buf, sizeof(buf));
	ck_assert_uint_eq(h.len, 6);
	ck_assert_mem_eq(buf, "world!", 6);
	ck_assert_uint_eq(h.src_port, 5000);
	ck_assert_uint_eq(h.dst_port, 1025);
	ck_assert_uint_eq(h.fwd_cnt, 5); /* our credit rides along */
	/* host half-closes: the guest sees EOF, its direction keeps working */
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	txdata(1025, 5000, "late", 4);
	read_n(fd, buf, 4);
	ck_assert_mem_eq(buf, "late", 4);
	/* guest closes: RST back, host sees EOF */
	txh(VIRTIO_VSOCK_OP_SHUTDOWN, 1025, 5000,
	    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	assert_eof(fd);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(guest_half_close_reaches_host_as_eof)
{
	int lfd = listen_at(5001), fd;
	char buf[RXBUF];
	struct vsock_hdr h;

	fd = guest_connect(lfd, 1026, 5001);
	txdata(1026, 5001, "req", 3);
	txh(VIRTIO_VSOCK_OP_SHUTDOWN, 1026, 5001, VIRTIO_VSOCK_SHUTDOWN_SEND);
	read_n(fd, buf, 3);
	assert_eof(fd);
	/* the reply still flows to the guest */
	ck_assert_int_eq(write(fd, "resp", 4), 4);
	h = rx_op(VIRTIO_VSOCK_OP_RW, buf, sizeof(buf));
	ck_assert_mem_eq(buf, "resp", 4);
	(void)h;
	close(fd);
	/* host closed both ways: SHUTDOWN(RCV|SEND), guest answers RST */
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	txh(VIRTIO_VSOCK_OP_RST, 1026, 5001, 0);
	rx_none(50);
	close(lfd);
}
END_TEST

/*
 * The host sends, shuts its write side, then closes.  The device reads the
 * EOF before it sees the hang-up, so it first says SHUTDOWN(SEND); the
 * close must then still reach the guest as SHUTDOWN(RCV|SEND), although
 * there is nothing left to read that would bring another EOF.  (Linux
 * 6.12's srvclose case waited for that and timed out.)
 */
START_TEST(host_shut_wr_then_close_reaches_guest)
{
	int lfd = listen_at(5407), fd;
	struct vsock_hdr h;
	char b[8];

	fd = guest_connect(lfd, 1407, 5407);
	ck_assert_int_eq(write(fd, "z", 1), 1);
	h = rx_op(VIRTIO_VSOCK_OP_RW, b, sizeof(b));
	ck_assert_uint_eq(h.len, 1);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	close(fd);
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	close(lfd);
}
END_TEST

START_TEST(guest_connect_refused)
{
	struct vsock_hdr h;
	struct vsock_dev_stats st;

	txh(VIRTIO_VSOCK_OP_REQUEST, 1027, 4444, 0); /* nobody listens */
	h = rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	ck_assert_uint_eq(h.src_port, 4444);
	ck_assert_uint_eq(h.dst_port, 1027);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conn_refused, 1);
	ck_assert_uint_eq(st.conns_open, 0);
}
END_TEST

START_TEST(bad_packets)
{
	struct vsock_hdr h;
	struct vsock_dev_stats st;

	h = gh(99, 1028, 5000, 0, 0);
	tx(&h, NULL, 0);
	rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	h = gh(VIRTIO_VSOCK_OP_REQUEST, 1028, 5000, 0, 0);
	h.src_cid = 7; /* spoofed: dropped without a word */
	tx(&h, NULL, 0);
	h = gh(VIRTIO_VSOCK_OP_RW, 1028, 5000, 100, 0); /* chain too short */
	tx(&h, "x", 1);
	rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RW, 1028, 5000, 0); /* no such flow */
	rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RST, 1028, 5000, 0); /* never RST an RST */
	rx_none(50);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_OP], 1);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_SRC_CID], 1);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_LEN_CHAIN], 1);
	ck_assert_uint_eq(st.rst_no_conn, 1);
}
END_TEST

/* A guest that floods refused REQUESTs while not reading rx: once the
 * queue of connection-less RSTs is full the device stops taking tx (rather
 * than dropping answers) and resumes when the guest reads. */
START_TEST(rst_flood_every_request_answered)
{
	enum { N = 120 };
	struct vsock_dev_stats st;
	struct vsock_hdr h;
	unsigned got = 0, posted = 0;
	bool seen[N] = { false };

	/* The notify is handled on this thread before tx_post() returns (an
	 * MMIO exit): the chain is either used by then or tx is paused, which
	 * the device counts.  No one else touches the rings meanwhile (the
	 * guest reads no rx), so nothing here depends on timing. */
	while (posted < N) {
		uint16_t before = td_used_idx_acquire(&txr);

		h = gh(VIRTIO_VSOCK_OP_REQUEST, (uint32_t)(2000 + posted), 4444, 0, 0);
		tx_post(&h, NULL, 0);
		posted++;
		if (td_used_idx_acquire(&txr) == before) {
			vsock_dev_get_stats(dev, &st);
			ck_assert_uint_ge(st.tx_stalls, 1);
			break; /* paused: the guest must read rx now */
		}
	}
	/* Every rx buffer and the whole RST queue were filled first. */
	ck_assert_uint_lt(posted, N);
	ck_assert_uint_gt(posted, QSZ + 60);
	/* Read every answer; reading lets tx continue. */
	while (got < N) {
		ck_assert_msg(rx_try(&h, NULL, 0, WAIT_MS), "only %u RSTs", got);
		ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RST);
		ck_assert_uint_ge(h.dst_port, 2000);
		ck_assert_uint_lt(h.dst_port, 2000 + N);
		ck_assert(!seen[h.dst_port - 2000]);
		seen[h.dst_port - 2000] = true;
		got++;
		/* Keep the guest's tx ring fed, one chain at a time. */
		if (posted < N && td_used_idx_acquire(&txr) == (uint16_t)posted) {
			h = gh(VIRTIO_VSOCK_OP_REQUEST, (uint32_t)(2000 + posted), 4444, 0, 0);
			tx_post(&h, NULL, 0);
			posted++;
		}
	}
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.rst_dropped, 0);
	ck_assert_uint_ge(st.tx_stalls, 1);
}
END_TEST

START_TEST(credit_overrun_rst)
{
	static char big[TXPAY_MAX];
	int lfd = listen_at(5002), fd;
	struct vsock_dev_stats st;
	uint32_t ours;
	struct vsock_hdr h;

	txh(VIRTIO_VSOCK_OP_REQUEST, 1029, 5002, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RESPONSE, NULL, 0);
	ours = h.buf_alloc;
	fd = accept(lfd, NULL, NULL);
	/* The host never reads; the guest ignores our credit.  Whatever the
	 * socket absorbs is forwarded (and credited); once the socket and
	 * our buffer are full, the next packet is an overrun. */
	h.op = 0;
	for (int i = 0; i < 64 && h.op != VIRTIO_VSOCK_OP_RST; i++) {
		txdata(1029, 5002, big, TXPAY_MAX);
		while (rx_try(&h, NULL, 0, 0) && h.op != VIRTIO_VSOCK_OP_RST)
			ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	}
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RST);
	ck_assert_uint_gt(ours, 0);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conn.credit_overrun, 1);
	ck_assert_uint_eq(st.conns_open, 0);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(host_to_guest_within_credit)
{
	static char data[10000], got[10000];
	int lfd = listen_at(5003), fd;
	size_t n = 0;
	struct vsock_hdr h;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	g_buf = 4096;
	fd = guest_connect(lfd, 1030, 5003);
	ck_assert_int_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	while (n < 4096) {
		h = rx_op(VIRTIO_VSOCK_OP_RW, got + n, sizeof(got) - n);
		n += h.len;
	}
	ck_assert_uint_eq(n, 4096);
	rx_none(100); /* credit exhausted: nothing more */
	/* The guest consumed it all and says so. */
	g_fwd = 4096;
	txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1030, 5003, 0);
	while (n < 8192) {
		h = rx_op(VIRTIO_VSOCK_OP_RW, got + n, sizeof(got) - n);
		n += h.len;
	}
	rx_none(100);
	g_fwd = 8192;
	txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1030, 5003, 0);
	while (n < sizeof(data)) {
		h = rx_op(VIRTIO_VSOCK_OP_RW, got + n, sizeof(got) - n);
		n += h.len;
	}
	ck_assert_mem_eq(got, data, sizeof(data));
	close(fd);
	close(lfd);
}
END_TEST

/* The host reads nothing while the guest sends a whole buffer's worth: the
 * bytes pile up in the socket and the device buffer, then arrive complete
 * and in order, and the guest gets its credit back. */
START_TEST(guest_to_host_backpressure)
{
	enum { CHUNK = 4096, TOTAL = 256 * 1024 };
	static char data[TOTAL], got[TOTAL];
	int lfd = listen_at(5004), fd;
	struct vsock_hdr h;
	bool credit = false;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13 + (i >> 12));
	fd = guest_connect(lfd, 1031, 5004);
	for (size_t off = 0; off < TOTAL; off += CHUNK)
		txdata(1031, 5004, data + off, CHUNK);
	read_n(fd, got, TOTAL);
	ck_assert_mem_eq(got, data, TOTAL);
	while (rx_try(&h, NULL, 0, 200)) {
		ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		ck_assert_uint_le(h.fwd_cnt, TOTAL);
		credit = h.fwd_cnt == TOTAL || credit;
	}
	ck_assert(credit);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(host_initiated_flow)
{
	int fd = connect_uds();
	char buf[RXBUF], line[32];
	struct vsock_hdr req, h;
	char want[32];

	/* The CONNECT line and the first payload bytes in one write. */
	ck_assert_int_eq(write(fd, "CONNECT 1234\nabc", 16), 16);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	ck_assert_uint_eq(req.dst_port, 1234);
	ck_assert_uint_ge(req.src_port, VSOCK_HOST_PORT_FIRST);
	ck_assert_uint_lt(req.src_port, VSOCK_HOST_PORT_END);
	ck_assert_uint_gt(req.buf_alloc, 0);
	ck_assert(!readable(fd, 50)); /* no OK before the guest accepts */
	txh(VIRTIO_VSOCK_OP_RESPONSE, 1234, req.src_port, 0);
	snprintf(want, sizeof(want), "OK %u\n", req.src_port);
	read_n(fd, line, strlen(want));
	ck_assert_mem_eq(line, want, strlen(want));
	h = rx_op(VIRTIO_VSOCK_OP_RW, buf, sizeof(buf));
	ck_assert_uint_eq(h.len, 3);
	ck_assert_mem_eq(buf, "abc", 3);
	txdata(1234, req.src_port, "xyz", 3);
	read_n(fd, buf, 3);
	ck_assert_mem_eq(buf, "xyz", 3);
	close(fd);
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RST, 1234, req.src_port, 0);
}
END_TEST

START_TEST(host_initiated_refused_by_guest)
{
	int fd = connect_uds();
	struct vsock_hdr req;

	ck_assert_int_eq(write(fd, "connect 77\n", 11), 11);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RST, 77, req.src_port, 0);
	assert_eof(fd); /* closed without a reply */
	close(fd);
}
END_TEST

START_TEST(host_initiated_bad_line)
{
	int fd = connect_uds();

	ck_assert_int_eq(write(fd, "HELLO 77\n", 9), 9);
	assert_closed(fd);
	close(fd);
	rx_none(50);
}
END_TEST

START_TEST(host_initiated_guest_silent_times_out)
{
	int fd = connect_uds();
	struct vsock_dev_stats st;
	struct vsock_hdr req;
	char c;

	ck_assert_int_eq(write(fd, "CONNECT 78\n", 11), 11);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	/* The 2 s connect deadline (checked every 200 ms) closes the client
	 * without a reply; wait well beyond it, the wait ends with the event. */
	ck_assert(readable(fd, 2 * WAIT_MS));
	ck_assert_int_eq(read(fd, &c, 1), 0);
	rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	/* It was the deadline, nothing else. */
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conn.connect_timeout, 1);
	ck_assert_uint_eq(st.conns_open, 0);
	ck_assert_uint_eq(req.dst_port, 78);
	close(fd);
}
END_TEST

START_TEST(driver_reset_drops_flows)
{
	int lfd = listen_at(5005), fd;
	struct vsock_dev_stats st;

	fd = guest_connect(lfd, 1032, 5005);
	wr(VMMIO_STATUS, 0);
	assert_eof(fd);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conns_open, 0);
	close(fd);
	close(lfd);
}
END_TEST

/* Runs under each rx layout: data both ways, large transfers split into
 * packets that fit the buffers. */
START_TEST(rx_layouts_carry_data)
{
	static char data[20000], got[20000];
	int lfd = listen_at(5006), fd;
	size_t n = 0;
	struct vsock_hdr h;
	struct vsock_dev_stats st;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 31 + 7);
	fd = guest_connect(lfd, 1033, 5006);
	ck_assert_int_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	while (n < sizeof(data)) {
		h = rx_op(VIRTIO_VSOCK_OP_RW, got + n, sizeof(got) - n);
		ck_assert_uint_le(h.len, RXBUF - VSOCK_HDR_SIZE);
		n += h.len;
	}
	ck_assert_mem_eq(got, data, sizeof(data));
	txdata(1033, 5006, "ok", 2);
	read_n(fd, got, 2);
	vsock_dev_get_stats(dev, &st);
	/* The 20-byte buffer came back empty; the 44-byte one took the
	 * RESPONSE (control packets fit in 44 bytes). */
	ck_assert_uint_eq(st.short_rx_buf, layout == RX_TINY_FIRST ? 1 : 0);
	ck_assert_uint_eq(rx_short, layout == RX_TINY_FIRST ? 1 : 0);
	close(fd);
	close(lfd);
}
END_TEST

/* --- SEQPACKET ----------------------------------------------------------- */

static void txseq(uint32_t sport, uint32_t dport, const void *p, uint32_t len,
		  uint32_t flags)
{
	struct vsock_hdr h = gh(VIRTIO_VSOCK_OP_RW, sport, dport, len, flags);

	tx(&h, p, len);
}

/* One host message, its length (-1 on timeout). */
static ssize_t host_msg(int fd, void *buf, size_t size)
{
	if (!readable(fd, WAIT_MS))
		return -1;
	return recv(fd, buf, size, MSG_DONTWAIT);
}

/* Guest fragments become one host message each, boundaries kept, nothing
 * before the EOM; an empty message is a message. */
START_TEST(seq_guest_to_host_boundaries)
{
	static char msg[12000], got[20000];
	int lfd = listen_at(5100), fd;
	ssize_t n;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 3 + 1);
	fd = guest_connect(lfd, 1100, 5100);
	txseq(1100, 5100, msg, 4000, 0);
	txseq(1100, 5100, msg + 4000, 4000, 0);
	ck_assert(!readable(fd, 50)); /* no EOM yet: nothing on the host */
	txseq(1100, 5100, msg + 8000, 4000, VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR);
	txseq(1100, 5100, "tail", 4, VIRTIO_VSOCK_SEQ_EOM);
	txseq(1100, 5100, NULL, 0, VIRTIO_VSOCK_SEQ_EOM);
	txseq(1100, 5100, "x", 1, VIRTIO_VSOCK_SEQ_EOM);
	n = host_msg(fd, got, sizeof(got));
	ck_assert_int_eq(n, sizeof(msg));
	ck_assert_mem_eq(got, msg, sizeof(msg));
	n = host_msg(fd, got, sizeof(got));
	ck_assert_int_eq(n, 4);
	ck_assert_mem_eq(got, "tail", 4);
	ck_assert_int_eq(host_msg(fd, got, sizeof(got)), 0); /* the empty one */
	ck_assert_int_eq(host_msg(fd, got, sizeof(got)), 1);
	/* An unfinished message when the guest closes is dropped; the host
	 * sees EOF, never half a message. */
	txseq(1100, 5100, "half", 4, 0);
	txh(VIRTIO_VSOCK_OP_SHUTDOWN, 1100, 5100,
	    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	ck_assert_int_eq(host_msg(fd, got, sizeof(got)), 0);
	close(fd);
	close(lfd);
}
END_TEST

/* Receive one message the way Linux does: RW packets up to EOM.  Returns
 * its length; *pkts gets the packet count. */
static size_t guest_msg(void *buf, size_t size, unsigned *pkts, uint32_t *last_flags)
{
	size_t n = 0;
	struct vsock_hdr h;

	*pkts = 0;
	do {
		h = rx_op(VIRTIO_VSOCK_OP_RW, (char *)buf + n, size - n);
		ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
		n += h.len;
		(*pkts)++;
		*last_flags = h.flags;
	} while (!(h.flags & VIRTIO_VSOCK_SEQ_EOM));
	return n;
}

START_TEST(seq_host_to_guest_boundaries)
{
	static char big[10000], got[20000];
	int lfd = listen_at(5101), fd;
	unsigned pkts;
	uint32_t fl;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 11 + 5);
	fd = guest_connect(lfd, 1101, 5101);
	ck_assert_int_eq(send(fd, "small", 5, 0), 5);
	ck_assert_int_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	ck_assert_int_eq(send(fd, "", 0, 0), 0);
	ck_assert_int_eq(send(fd, "z", 1, 0), 1);
	ck_assert_uint_eq(guest_msg(got, sizeof(got), &pkts, &fl), 5);
	ck_assert_uint_eq(pkts, 1);
	ck_assert_mem_eq(got, "small", 5);
	/* Bigger than one 4 KiB rx buffer: split, EOM only on the last. */
	ck_assert_uint_eq(guest_msg(got, sizeof(got), &pkts, &fl), sizeof(big));
	ck_assert_uint_eq(pkts, 3);
	ck_assert_mem_eq(got, big, sizeof(big));
	ck_assert_uint_eq(fl, VIRTIO_VSOCK_SEQ_EOM); /* Unix carries no EOR */
	ck_assert_uint_eq(guest_msg(got, sizeof(got), &pkts, &fl), 0);
	ck_assert_uint_eq(guest_msg(got, sizeof(got), &pkts, &fl), 1);
	/* The host closes: no phantom empty messages, a SHUTDOWN. */
	close(fd);
	rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RST, 1101, 5101, 0);
	close(lfd);
}
END_TEST

/* A host message larger than the guest's credit goes out as far as the
 * credit allows, the rest when the guest frees space. */
START_TEST(seq_host_message_respects_credit)
{
	static char big[6000], got[6000];
	int lfd = listen_at(5102), fd;
	struct vsock_hdr h;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	g_buf = 2500;
	fd = guest_connect(lfd, 1102, 5102);
	ck_assert_int_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	while (n < 2500) {
		h = rx_op(VIRTIO_VSOCK_OP_RW, got + n, sizeof(got) - n);
		ck_assert_uint_eq(h.flags, 0);
		n += h.len;
	}
	ck_assert_uint_eq(n, 2500);
	rx_none(100);
	g_fwd = 2500;
	txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1102, 5102, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RW, got + n, sizeof(got) - n);
	n += h.len;
	ck_assert_uint_eq(n, 5000);
	ck_assert_uint_eq(h.flags, 0);
	g_fwd = 5000;
	txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1102, 5102, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RW, got + n, sizeof(got) - n);
	n += h.len;
	ck_assert_uint_eq(n, sizeof(big));
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SEQ_EOM);
	ck_assert_mem_eq(got, big, sizeof(big));
	close(fd);
	close(lfd);
}
END_TEST

/* Host-initiated: <uds>_seqpacket, the CONNECT line as one message, "OK"
 * as one message, then messages both ways. */
START_TEST(seq_hybrid_listener)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct vsock_hdr req, h;
	char buf[64], want[32];
	unsigned pkts;
	uint32_t fl;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_seqpacket", uds);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(send(fd, "CONNECT 2345\n", 13, 0), 13);
	ck_assert_int_eq(send(fd, "early", 5, 0), 5); /* a message right behind */
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	ck_assert_uint_eq(req.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	ck_assert_uint_eq(req.dst_port, 2345);
	txh(VIRTIO_VSOCK_OP_RESPONSE, 2345, req.src_port, 0);
	snprintf(want, sizeof(want), "OK %u\n", req.src_port);
	ck_assert_int_eq(host_msg(fd, buf, sizeof(buf)), (ssize_t)strlen(want));
	ck_assert_mem_eq(buf, want, strlen(want));
	ck_assert_uint_eq(guest_msg(buf, sizeof(buf), &pkts, &fl), 5);
	ck_assert_mem_eq(buf, "early", 5);
	txseq(2345, req.src_port, "ab", 2, 0);
	txseq(2345, req.src_port, "cd", 2, VIRTIO_VSOCK_SEQ_EOM);
	ck_assert_int_eq(host_msg(fd, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "abcd", 4);
	close(fd);
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	(void)h;
	txh(VIRTIO_VSOCK_OP_RST, 2345, req.src_port, 0);
}
END_TEST

static int connect_seq_listener(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_seqpacket", uds);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The CONNECT line is one whole message: without "\n" it still counts,
 * anything after the line in the same message, a too-long message or an
 * empty one closes the client without a REQUEST. */
START_TEST(seq_hybrid_handshake_messages)
{
	static const char *const bad[] = {
		"CONNECT 5\nextra", "CONNECT 5 6\n", "HELLO 5\n",
		"CONNECT 5                                    \n", "",
	};
	struct vsock_hdr req;
	int fd;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = connect_seq_listener();
		ck_assert_int_eq(send(fd, bad[i], strlen(bad[i]), 0), (ssize_t)strlen(bad[i]));
		assert_closed(fd);
		close(fd);
	}
	rx_none(50);
	fd = connect_seq_listener();
	ck_assert_int_eq(send(fd, "connect 77", 10, 0), 10);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	ck_assert_uint_eq(req.dst_port, 77);
	ck_assert_uint_eq(req.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	txh(VIRTIO_VSOCK_OP_RST, 77, req.src_port, 0);
	assert_closed(fd);
	close(fd);
}
END_TEST

/* The host socket does not read: complete messages queue in the device
 * (within the credit) and leave in order, each whole, once it reads. */
START_TEST(seq_guest_messages_queue_when_host_full)
{
	static char msg[30000], got[40000];
	int lfd = listen_at(5103), fd, small = 4096;
	struct vsock_hdr h;
	unsigned sent = 0;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 5 + 9);
	fd = guest_connect(lfd, 1103, 5103);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	/* 8 messages of 30000 bytes (240000 < our 256 KiB credit). */
	for (; sent < 8; sent++) {
		txseq(1103, 5103, msg, 16000, 0);
		txseq(1103, 5103, msg + 16000, sizeof(msg) - 16000, VIRTIO_VSOCK_SEQ_EOM);
	}
	for (unsigned i = 0; i < sent; i++) {
		ssize_t n = host_msg(fd, got, sizeof(got));

		ck_assert_int_eq(n, sizeof(msg));
		ck_assert_mem_eq(got, msg, sizeof(msg));
	}
	while (rx_try(&h, NULL, 0, 100))
		ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	close(fd);
	close(lfd);
}
END_TEST

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return n ? (uint32_t)(rnd_state % n) : 0;
}

/* Random message sizes (empty ones included) and random fragmentation,
 * both ways: every message arrives whole, in order, with EOM only on its
 * last packet; the guest's credit is never exceeded. */
START_TEST(seq_random_boundaries)
{
	static char msg[40000], got[40000];
	int lfd = listen_at(5106), fd;
	uint32_t sent_to_guest = 0;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)rnd(256);
	g_buf = 16384; /* smaller than many messages: credit must split them */
	fd = guest_connect(lfd, 1106, 5106);
	for (unsigned m = 0; m < 150; m++) {
		uint32_t size = rnd(5) == 0 ? 0 : rnd(sizeof(msg) / 2), off = 0;
		uint32_t start = rnd(sizeof(msg) / 2);
		ssize_t n;

		/* guest → host, in random fragments */
		do {
			uint32_t frag = size - off;

			if (frag > 1 && rnd(2))
				frag = 1 + rnd(frag);
			if (frag > TXPAY_MAX)
				frag = TXPAY_MAX;
			txseq(1106, 5106, msg + start + off, frag,
			      off + frag == size ? VIRTIO_VSOCK_SEQ_EOM : 0);
			off += frag;
		} while (off < size);
		n = host_msg(fd, got, sizeof(got));
		ck_assert_int_eq(n, size);
		ck_assert(size == 0 || memcmp(got, msg + start, size) == 0);

		/* host → guest; the guest reads as Linux does and reports
		 * its consumption after each message */
		size = rnd(5) == 0 ? 0 : rnd(sizeof(msg) / 2);
		start = rnd(sizeof(msg) / 2);
		ck_assert_int_eq(send(fd, msg + start, size, 0), (ssize_t)size);
		off = 0;
		for (;;) {
			struct vsock_hdr h;

			if (!rx_try(&h, got + off, sizeof(got) - off, WAIT_MS))
				ck_abort_msg("msg %u: stuck at %u/%u", m, off, size);
			if (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
				continue;
			ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
			off += h.len;
			sent_to_guest += h.len;
			ck_assert_uint_le(sent_to_guest - g_fwd, g_buf); /* within credit */
			if (h.flags & VIRTIO_VSOCK_SEQ_EOM)
				break;
			ck_assert_uint_lt(off, size);
			if (sent_to_guest - g_fwd == g_buf) {
				/* Linux holds fragments until EOM; a test guest
				 * with a small buffer consumes them to go on. */
				g_fwd = sent_to_guest;
				txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1106, 5106, 0);
			}
		}
		ck_assert_uint_eq(off, size);
		ck_assert(size == 0 || memcmp(got, msg + start, size) == 0);
		g_fwd = sent_to_guest;
		txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1106, 5106, 0);
	}
	close(fd);
	close(lfd);
}
END_TEST

/* Stream still works when the driver acks only SEQPACKET. */
START_TEST(seq_driver_stream_still_works)
{
	int lfd, fd;
	char buf[16];

	g_type = VIRTIO_VSOCK_TYPE_STREAM;
	lfd = listen_at(5104);
	fd = guest_connect(lfd, 1104, 5104);
	txdata(1104, 5104, "str", 3);
	read_n(fd, buf, 3);
	ck_assert_mem_eq(buf, "str", 3);
	close(fd);
	close(lfd);
}
END_TEST

/* A driver that did not ack SEQPACKET gets RST for a SEQPACKET REQUEST. */
START_TEST(seq_not_negotiated_rst)
{
	struct vsock_hdr h;
	struct vsock_dev_stats st;

	g_type = VIRTIO_VSOCK_TYPE_SEQPACKET; /* the RST echoes the type */
	h = gh(VIRTIO_VSOCK_OP_REQUEST, 1105, 5105, 0, 0);
	tx(&h, NULL, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_TYPE], 1);
}
END_TEST

/* --- forwards, limits, socket files -------------------------------------- */

static struct sockaddr_in tcp_sa;   /* the loopback listener of the test */
static int tcp_lfd = -1;
static char fwd_unix_in[80];

/* A TCP listener on 127.0.0.1, ephemeral port, into tcp_sa. */
static int tcp_listen_any(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

/* Device with: guest port 6000 → the test's TCP listener, guest port 6001
 * → a TCP port nobody listens on, guest port 6002 → a Unix path; a Unix
 * forward_in into guest port 7000; at most 3 connections. */
static struct sockaddr_in dead_sa;
static char fwd_unix_out[80];

static void setup_fwd(void)
{
	int dead;

	snprintf(dir, sizeof(dir), "/tmp/vsock-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	tcp_lfd = tcp_listen_any(&tcp_sa);
	dead = tcp_listen_any(&dead_sa);
	close(dead); /* a port that refuses */
	snprintf(fwd_unix_out, sizeof(fwd_unix_out), "%s/out.sock", dir);
	snprintf(fwd_unix_in, sizeof(fwd_unix_in), "%s/in.sock", dir);
	g_fwd_out[0] = (struct vsock_fwd){ .port = 6000, .tcp = true,
		.sa = (struct sockaddr *)&tcp_sa, .salen = sizeof(tcp_sa) };
	g_fwd_out[1] = (struct vsock_fwd){ .port = 6001, .tcp = true,
		.sa = (struct sockaddr *)&dead_sa, .salen = sizeof(dead_sa) };
	g_fwd_out[2] = (struct vsock_fwd){ .port = 6002, .path = fwd_unix_out };
	g_n_fwd_out = 3;
	g_fwd_in[0] = (struct vsock_fwd){ .port = 7000, .path = fwd_unix_in };
	g_n_fwd_in = 1;
	g_max_conns = 3;
	g_features = 1ull << VSOCK_F_SEQPACKET; /* stream works all the same */
	layout = RX_ONE_DESC;
	setup();
}

static void teardown_fwd(void)
{
	close(tcp_lfd);
	tcp_lfd = -1;
	teardown();
}

START_TEST(tcp_forward_out_connects)
{
	char buf[RXBUF];
	struct vsock_hdr h;
	int fd;

	txh(VIRTIO_VSOCK_OP_REQUEST, 1200, 6000, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RESPONSE, NULL, 0);
	ck_assert_uint_eq(h.src_port, 6000);
	ck_assert(readable(tcp_lfd, WAIT_MS));
	fd = accept(tcp_lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	txdata(1200, 6000, "over tcp", 8);
	read_n(fd, buf, 8);
	ck_assert_mem_eq(buf, "over tcp", 8);
	ck_assert_int_eq(write(fd, "back", 4), 4);
	h = rx_op(VIRTIO_VSOCK_OP_RW, buf, sizeof(buf));
	ck_assert_uint_eq(h.len, 4);
	ck_assert_mem_eq(buf, "back", 4);
	/* TCP half-close reaches the guest as SHUTDOWN(SEND). */
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	txh(VIRTIO_VSOCK_OP_SHUTDOWN, 1200, 6000,
	    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	assert_eof(fd);
	close(fd);
}
END_TEST

START_TEST(tcp_forward_out_refused)
{
	struct vsock_dev_stats st;
	struct vsock_hdr h;

	txh(VIRTIO_VSOCK_OP_REQUEST, 1201, 6001, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	ck_assert_uint_eq(h.src_port, 6001);
	ck_assert_uint_eq(h.dst_port, 1201);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conn_refused, 1);
	ck_assert_uint_eq(st.conns_open, 0);
	/* SEQPACKET cannot go over TCP (no message boundaries): RST. */
	g_type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	txh(VIRTIO_VSOCK_OP_REQUEST, 1203, 6000, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	ck_assert_uint_eq(h.dst_port, 1203);
	ck_assert(!readable(tcp_lfd, 50)); /* no TCP connection was made */
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conn_refused, 2);
}
END_TEST

/* A Unix path overrides <uds>_<port> for its port. */
START_TEST(unix_forward_out_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;
	char buf[8];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fwd_unix_out);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	fd = guest_connect(lfd, 1202, 6002);
	txdata(1202, 6002, "path", 4);
	read_n(fd, buf, 4);
	ck_assert_mem_eq(buf, "path", 4);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(unix_forward_in_no_handshake)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct vsock_hdr req, h;
	char buf[RXBUF];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fwd_unix_in);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, "CONNECT 5\n", 10), 10); /* just payload here */
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	ck_assert_uint_eq(req.dst_port, 7000);
	txh(VIRTIO_VSOCK_OP_RESPONSE, 7000, req.src_port, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RW, buf, sizeof(buf));
	ck_assert_uint_eq(h.len, 10);
	ck_assert_mem_eq(buf, "CONNECT 5\n", 10);
	ck_assert(!readable(fd, 50)); /* no "OK" line */
	txdata(7000, req.src_port, "hi", 2);
	read_n(fd, buf, 2);
	ck_assert_mem_eq(buf, "hi", 2);
	close(fd);
	rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RST, 7000, req.src_port, 0);
}
END_TEST

/* Past max_conns new flows are refused cleanly and counted, and the
 * existing ones keep working. */
/* A forward_in client that sends bytes and hangs up before the guest
 * accepts still reaches the guest (fire and forget); one that sends
 * nothing and hangs up is withdrawn: no flow the guest would accept. */
START_TEST(unix_forward_in_hang_up_before_accept)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec ms1 = { 0, 1000000 };
	struct vsock_dev_stats st;
	uint64_t accepted;
	struct vsock_hdr req, h;
	char buf[RXBUF];
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fwd_unix_in);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, "bye", 3), 3);
	close(fd);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RESPONSE, 7000, req.src_port, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RW, buf, sizeof(buf));
	ck_assert_uint_eq(h.len, 3);
	ck_assert_mem_eq(buf, "bye", 3);
	/* SHUTDOWN(SEND) when the EOF is read, and SHUTDOWN(SEND|RCV) once
	 * the hang-up is seen, unless both came in one wake-up (one packet
	 * with both flags).  Take both, or the second would be read below
	 * as the next client's packet. */
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	if (!(h.flags & VIRTIO_VSOCK_SHUTDOWN_RCV))
		h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	txh(VIRTIO_VSOCK_OP_RST, 7000, req.src_port, 0);

	vsock_dev_get_stats(dev, &st);
	accepted = st.host_accepted;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	/* Wait for the I/O thread to take the client (a fixed window fails
	 * on a loaded host: the accept can come after it).  The REQUEST, if
	 * any, is queued under the same lock as the count. */
	for (int t = 0; st.host_accepted == accepted; t++) {
		ck_assert_int_lt(t, 20000);
		nanosleep(&ms1, NULL);
		vsock_dev_get_stats(dev, &st);
	}
	/* Either nothing, or a REQUEST and its RST right behind it. */
	if (rx_try(&req, buf, sizeof(buf), 50)) {
		ck_assert_uint_eq(req.op, VIRTIO_VSOCK_OP_REQUEST);
		rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	}
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conn.connect_timeout, 0);
	ck_assert_uint_eq(st.conns_open, 0);
}
END_TEST

START_TEST(connection_limit)
{
	int lfd = listen_at(5300), fds[3], cfd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_dev_stats st;
	struct vsock_hdr h;
	char buf[RXBUF];

	for (int i = 0; i < 3; i++)
		fds[i] = guest_connect(lfd, (uint32_t)(1300 + i), 5300);
	txh(VIRTIO_VSOCK_OP_REQUEST, 1303, 5300, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RST, NULL, 0);
	ck_assert_uint_eq(h.dst_port, 1303);
	/* A host client past the limit is closed at once. */
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fwd_unix_in);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_closed(cfd);
	close(cfd);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conn_limit, 2);
	ck_assert_uint_eq(st.conns_open, 3);
	/* The others still carry data. */
	txdata(1301, 5300, "alive", 5);
	read_n(fds[1], buf, 5);
	ck_assert_mem_eq(buf, "alive", 5);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(lfd);
}
END_TEST

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The listener files go away with the device; a stale socket file (its
 * process died) is replaced, a live one is not. */
START_TEST(socket_files_removed_and_stale_replaced)
{
	char seq[96];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = uds, .ev = ev };
	struct vsock_dev *d2;
	char msg[160] = "";
	int fd;

	snprintf(seq, sizeof(seq), "%s_seqpacket", uds);
	ck_assert(exists(uds));
	ck_assert(exists(seq));
	ck_assert(exists(fwd_unix_in));
	/* A second device on the same paths: in use. */
	dp.err = msg;
	dp.errlen = sizeof(msg);
	ck_assert_int_eq(test_dev_create(&dp, &d2), -EADDRINUSE);
	ck_assert_msg(strstr(msg, "Address already in use") != NULL, "%s", msg);
	ck_assert(exists(uds)); /* not removed by the failed attempt */
	evloop_stop(ev);
	pthread_join(io_thread, NULL);
	vsock_dev_destroy(dev);
	dev = NULL;
	ck_assert(!exists(uds));
	ck_assert(!exists(seq));
	ck_assert(!exists(fwd_unix_in));
	/* Leave a stale socket file at uds: bound, never listening, closed. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert(exists(uds));
	ck_assert_int_eq(test_dev_create(&dp, &d2), 0);
	vsock_dev_destroy(d2);
	ck_assert(!exists(uds));
	/* A regular file is never removed. */
	fd = open(uds, O_CREAT | O_WRONLY, 0600);
	close(fd);
	ck_assert_int_eq(test_dev_create(&dp, &d2), -EEXIST);
	ck_assert(exists(uds));
	unlink(uds);
	/* The fixture's teardown needs a device and a loop thread again. */
	dp.uds_path = NULL;
	ck_assert_int_eq(test_dev_create(&dp, &dev), 0);
	start_io();
}
END_TEST

/* A forward_in TCP address in use fails the start with the message the
 * VMM prints, and leaves no socket files behind. */
START_TEST(forward_in_address_in_use)
{
	struct sockaddr_in busy;
	int bfd = tcp_listen_any(&busy);
	struct vsock_fwd in = { .port = 22, .tcp = true,
		.sa = (struct sockaddr *)&busy, .salen = sizeof(busy) };
	char path[96], seq[110], msg[200] = "", want[200];
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = path, .ev = ev,
		.fwd_in = &in, .n_fwd_in = 1, .err = msg, .errlen = sizeof(msg) };
	struct vsock_dev *d2 = NULL;

	snprintf(path, sizeof(path), "%s/w.sock", dir);
	snprintf(seq, sizeof(seq), "%s_seqpacket", path);
	ck_assert_int_eq(test_dev_create(&dp, &d2), -EADDRINUSE);
	snprintf(want, sizeof(want), "vsock forward tcp:127.0.0.1:%u: Address already in use",
		 ntohs(busy.sin_port));
	ck_assert_str_eq(msg, want);
	ck_assert(!exists(path));
	ck_assert(!exists(seq));
	close(bfd);
	/* Free now: the same address works. */
	bfd = tcp_listen_any(&busy);
	close(bfd);
	ck_assert_int_eq(test_dev_create(&dp, &d2), 0);
	ck_assert(exists(path));
	vsock_dev_destroy(d2);
	ck_assert(!exists(path));
}
END_TEST

/* A uds_path too long for the "_seqpacket" suffix still works for stream
 * (Firecracker allows up to 107 bytes); it just has no seqpacket listener. */
START_TEST(long_uds_path_keeps_stream_listener)
{
	char path[108], seq[120];
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = path, .ev = ev };
	struct vsock_dev *d2;
	size_t n;

	n = (size_t)snprintf(path, sizeof(path), "%s/", dir);
	memset(path + n, 'p', 100 - n);
	path[100] = '\0';
	snprintf(seq, sizeof(seq), "%s_seqpacket", path);
	ck_assert_int_eq(test_dev_create(&dp, &d2), 0);
	ck_assert(exists(path));
	ck_assert(!exists(seq));
	vsock_dev_destroy(d2);
	ck_assert(!exists(path));
}
END_TEST

/* On exit only our own socket files go: one another process put in
 * their place stays. */
START_TEST(foreign_socket_file_not_removed)
{
	char path[96];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = path, .ev = ev };
	struct vsock_dev *d2;
	int fd;

	snprintf(path, sizeof(path), "%s/f.sock", dir);
	ck_assert_int_eq(test_dev_create(&dp, &d2), 0);
	ck_assert_int_eq(unlink(path), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	vsock_dev_destroy(d2);
	ck_assert(exists(path));
	close(fd);
	unlink(path);
}
END_TEST

/* Out of file descriptors, a waiting host client is closed (not left to
 * make the listener spin); once fds are free again clients are served. */
START_TEST(listener_out_of_fds)
{
	struct rlimit old, lim;
	int fills[64], nf = 0, c1, c2, c3;
	struct vsock_hdr req;
	struct timespec ts = { 0, 20000000 };

	/* One full handshake first: the listener has its spare fd now. */
	c1 = connect_uds();
	ck_assert_int_eq(write(c1, "CONNECT 90\n", 11), 11);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RST, 90, req.src_port, 0);
	assert_closed(c1);
	close(c1);
	c1 = connect_uds(); /* kept open, handshake pending */
	/* The client's socket before the fds run out: a slot freed later
	 * for it could be taken by the I/O thread first. */
	c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c2, 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)c1 + 40;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
	while (nf < 64) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			break;
		fills[nf++] = fd;
	}
	ck_assert_int_lt(nf, 64); /* the limit was reached */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
		ck_assert_int_eq(connect(c2, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	assert_closed(c2); /* the VMM side could not keep it */
	close(c2);
	nanosleep(&ts, NULL);
	while (nf > 0)
		close(fills[--nf]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	/* Served again. */
	c3 = connect_uds();
	ck_assert_int_eq(write(c3, "CONNECT 91\n", 11), 11);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	ck_assert_uint_eq(req.dst_port, 91);
	txh(VIRTIO_VSOCK_OP_RST, 91, req.src_port, 0);
	close(c3);
	close(c1);
}
END_TEST

/* Bad forward sets fail cleanly (no leak, no socket files left). */
START_TEST(forward_create_errors)
{
	struct vsock_fwd out[2] = {
		{ .port = 9, .tcp = true, .sa = (struct sockaddr *)&tcp_sa, .salen = sizeof(tcp_sa) },
		{ .port = 9, .path = "/nonexistent/x.sock" },
	};
	struct vsock_fwd in = { .port = 1, .path = "/nonexistent-dir/in.sock" };
	char path[96], msg[200] = "";
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = path, .ev = ev,
		.fwd_out = out, .n_fwd_out = 2, .err = msg, .errlen = sizeof(msg) };
	struct vsock_dev *d2 = NULL;

	snprintf(path, sizeof(path), "%s/e.sock", dir);
	ck_assert_int_eq(test_dev_create(&dp, &d2), -EINVAL); /* port 9 twice */
	ck_assert(!exists(path));
	dp.n_fwd_out = 1;
	dp.fwd_in = &in;
	dp.n_fwd_in = 1;
	ck_assert_int_eq(test_dev_create(&dp, &d2), -ENOENT);
	ck_assert_str_eq(msg, "vsock forward unix:/nonexistent-dir/in.sock: No such file or directory");
	ck_assert(!exists(path));
}
END_TEST

static int fd_count(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* Host flows leave no fd behind, the first one included (the listeners'
 * spare fd is taken when they are created, not on the first accept). */
START_TEST(host_flows_leave_no_fds)
{
	struct timespec ts = { 0, 2000000 };
	int before = fd_count(), fd;
	struct vsock_hdr req;

	for (int i = 0; i < 20; i++) {
		fd = connect_uds();
		ck_assert_int_eq(write(fd, "CONNECT 95\n", 11), 11);
		req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
		txh(VIRTIO_VSOCK_OP_RST, 95, req.src_port, 0);
		assert_closed(fd);
		close(fd);
	}
	for (int t = 0; t < 500 && fd_count() != before; t++)
		nanosleep(&ts, NULL); /* zombies are closed on the I/O thread */
	ck_assert_int_eq(fd_count(), before);
}
END_TEST

/* Host writer for notify_suppression_no_stall. */
struct hwriter {
	int fd;
	const char *p;
	size_t n;
};

static void *hwriter_main(void *arg)
{
	struct hwriter *w = arg;
	size_t off = 0;

	while (off < w->n) {
		ssize_t k = write(w->fd, w->p + off, w->n - off);

		if (k <= 0)
			break;
		off += (size_t)k;
	}
	return NULL;
}

/*
 * Notification suppression (run without and with EVENT_IDX):
 *  - tx: once the device drained the ring it has re-armed kicks (NO_NOTIFY
 *    clear / avail_event = next avail index), so the next chain is kicked;
 *  - rx: while the device has buffers to spare, kicks for re-posted rx
 *    buffers are off; when it runs dry with data to deliver it turns them
 *    on, so a buffer posted right after that is kicked and noticed;
 *  - a driver that kicks only when asked, the device on the I/O thread
 *    filling rx buffers concurrently: 2 MiB arrive whole, nothing stalls,
 *    with far fewer rx kicks than re-posted buffers.
 */
START_TEST(notify_suppression_no_stall)
{
	enum { TOTAL = 2 << 20, WIN = 256 * 1024 };
	static char data[TOTAL], got[TOTAL];
	int lfd = listen_at(5010), fd;
	struct vsock_dev_stats st;
	struct hwriter w;
	pthread_t wt;
	struct vsock_hdr h;
	size_t n = 0;
	uint16_t old;
	unsigned reposts = 0;

	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (char)(i * 31 + (i >> 11));
	g_buf = WIN;
	fd = guest_connect(lfd, 1040, 5010);

	/* tx drained: armed for the next chain. */
	if (event_idx())
		ck_assert_uint_eq(avail_event(&txr), txr.avail_idx);
	else
		ck_assert_uint_eq(used_flags(&txr) & VIRTQ_USED_F_NO_NOTIFY, 0);
	old = txr.avail_idx;
	txr.avail_idx++; /* as if a chain was added: the device wants a kick */
	ck_assert(kick_wanted(&txr, old));
	txr.avail_idx--;

	/* rx: buffers to spare, nothing parked: re-posts need no kick. */
	if (!event_idx())
		ck_assert_uint_eq(used_flags(&rxr) & VIRTQ_USED_F_NO_NOTIFY,
				  VIRTQ_USED_F_NO_NOTIFY);
	old = (uint16_t)(rxr.avail_idx - 1); /* the RESPONSE's re-post */
	ck_assert(!kick_wanted(&rxr, old));

	/* More than the ring holds, the guest not looking: the device fills
	 * every buffer and parks the rest with kicks enabled. */
	ck_assert_int_eq(write(fd, data, (QSZ + 4) * 4096), (QSZ + 4) * 4096);
	for (int t = 0; (uint16_t)(td_used_idx_acquire(&rxr) - rxr.last_used) < QSZ; t++) {
		struct timespec ts = { 0, 1000000 };

		ck_assert_int_lt(t, WAIT_MS);
		nanosleep(&ts, NULL);
	}
	/* The device parks the rest and arms rx kicks (rx_waits counts it,
	 * after arming).  A timer tick may run process_rx meanwhile, which
	 * disarms and re-arms under the lock: wait for both, bounded. */
	for (int t = 0;; t++) {
		struct timespec ts = { 0, 1000000 };
		bool armed;

		vsock_dev_get_stats(dev, &st);
		armed = event_idx() ? avail_event(&rxr) == rxr.avail_idx
				    : !(used_flags(&rxr) & VIRTQ_USED_F_NO_NOTIFY);
		if (st.rx_waits >= 1 && armed)
			break;
		ck_assert_msg(t < WAIT_MS, "rx kicks not armed: rx_waits %llu",
			      (unsigned long long)st.rx_waits);
		nanosleep(&ts, NULL);
	}
	/* A buffer posted right after that must be kicked (kick_wanted) and
	 * then used at once; honest_kicks makes rx_try kick only if asked. */
	honest_kicks = true;
	rx_kicks = 0;
	h = rx_op(VIRTIO_VSOCK_OP_RW, got, sizeof(got));
	n += h.len;
	reposts++;
	ck_assert_uint_eq(rx_kicks, 1);
	for (int t = 0; td_used_idx_acquire(&rxr) == (uint16_t)(rxr.last_used + QSZ - 1); t++) {
		struct timespec ts = { 0, 1000000 };

		ck_assert_msg(t < WAIT_MS, "re-posted rx buffer not used");
		nanosleep(&ts, NULL);
	}

	/* The rest concurrently, kicking only when asked, credit updates as
	 * the guest consumes. */
	w = (struct hwriter){ fd, data + (QSZ + 4) * 4096, TOTAL - (QSZ + 4) * 4096 };
	ck_assert_int_eq(pthread_create(&wt, NULL, hwriter_main, &w), 0);
	while (n < TOTAL) {
		ck_assert_msg(rx_try(&h, got + n, sizeof(got) - n, WAIT_MS),
			      "stalled at %zu of %d bytes", n, TOTAL);
		ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
		n += h.len;
		reposts++;
		if (n - g_fwd >= WIN / 4) {
			g_fwd = (uint32_t)n;
			txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1040, 5010, 0);
		}
	}
	pthread_join(wt, NULL);
	ck_assert_mem_eq(got, data, TOTAL);
	vsock_dev_get_stats(dev, &st);
	/* Every rx kick was asked for by a device out of buffers (each
	 * park arms at most one kick: the kick's own process_rx turns them
	 * off again unless it parks anew). */
	ck_assert_uint_ge(rx_kicks, 1);
	ck_assert_uint_le(rx_kicks, st.rx_waits);
	ck_assert_uint_le(rx_kicks, reposts);
	ck_assert_uint_le(st.rx_notifies, rx_kicks + 2);
	close(fd);
	close(lfd);
}
END_TEST

/* --- the CONNECT handshake under abuse ------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Clients that write their CONNECT line and close at once are never
 * connected into the guest: no REQUEST, or an RST right behind it without
 * the guest doing anything (not the 2 s connect timeout). */
START_TEST(connect_then_close_not_handed_over)
{
	enum { N = 2000 };
	static uint8_t requested[N], reset[N];
	struct vsock_dev_stats st;
	struct vsock_hdr h;
	char buf[RXBUF];
	unsigned nreq = 0, nrst = 0;
	uint64_t quiet;

	memset(requested, 0, sizeof(requested));
	memset(reset, 0, sizeof(reset));
	for (unsigned i = 0; i < N; i++) {
		int fd = connect_uds();

		ck_assert_int_eq(write(fd, "CONNECT 1234\n", 13), 13);
		close(fd);
		/* The guest reads as it goes but never answers. */
		while (rx_try(&h, buf, sizeof(buf), 0)) {
			uint32_t k = h.src_port - VSOCK_HOST_PORT_FIRST;

			ck_assert_uint_lt(k, N);
			if (h.op == VIRTIO_VSOCK_OP_REQUEST)
				requested[k] = 1;
			else if (h.op == VIRTIO_VSOCK_OP_RST)
				reset[k] = 1;
		}
	}
	/* Then until nothing came for 300 ms (well before the 2 s timeout). */
	for (quiet = now_ms() + 300; now_ms() < quiet; ) {
		if (!rx_try(&h, buf, sizeof(buf), 10))
			continue;
		ck_assert_uint_lt(h.src_port - VSOCK_HOST_PORT_FIRST, N);
		if (h.op == VIRTIO_VSOCK_OP_REQUEST)
			requested[h.src_port - VSOCK_HOST_PORT_FIRST] = 1;
		else if (h.op == VIRTIO_VSOCK_OP_RST)
			reset[h.src_port - VSOCK_HOST_PORT_FIRST] = 1;
		quiet = now_ms() + 300;
	}
	for (unsigned i = 0; i < N; i++) {
		nreq += requested[i];
		nrst += reset[i];
		ck_assert_msg(requested[i] == reset[i], "port %u: REQUEST without RST", i);
	}
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conn.connect_timeout, 0);
	ck_assert_uint_eq(st.conns_open, 0);
	fprintf(stderr, "vsock: %u write-and-close clients: %u REQUESTs reached the guest, "
		"each reset at once (%u RSTs)\n", N, nreq, nrst);
}
END_TEST

/* A client that never sends its line is closed at the handshake deadline;
 * one that half-closes after its line still gets its OK. */
START_TEST(handshake_deadline_and_half_close)
{
	int silent = connect_uds(), half = connect_uds();
	struct vsock_hdr req;
	char line[32], want[32];
	uint64_t t0 = now_ms();

	ck_assert_int_eq(write(half, "CONNECT 55\n", 11), 11);
	ck_assert_int_eq(shutdown(half, SHUT_WR), 0);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RESPONSE, 55, req.src_port, 0);
	snprintf(want, sizeof(want), "OK %u\n", req.src_port);
	read_n(half, line, strlen(want));
	ck_assert_mem_eq(line, want, strlen(want));
	ck_assert(readable(silent, 10000));
	ck_assert_int_eq(read(silent, line, 1), 0); /* closed, no reply */
	ck_assert_uint_ge(now_ms() - t0, 1500);      /* by the deadline, not at once */
	close(silent);
	close(half);
	rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
	txh(VIRTIO_VSOCK_OP_RST, 55, req.src_port, 0);
}
END_TEST

/* An attacker opening idle connections at a steady rate, each kept open
 * 3 s (longer than the handshake deadline). */
#define FLOOD_HOLD 3000
static struct {
	atomic_bool stop;
	unsigned rate;            /* per second */
	unsigned opened, refused; /* connect() done / failed (backlog full) */
	int ring[FLOOD_HOLD];
} flood;

static void *flood_main(void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t start = vm_now_ns(), n = 0;

	(void)arg;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	for (unsigned i = 0; i < FLOOD_HOLD; i++)
		flood.ring[i] = -1;
	while (!atomic_load(&flood.stop)) {
		uint64_t due = start + n * 1000000000ull / flood.rate, t = vm_now_ns();
		int fd, *slot = &flood.ring[n % FLOOD_HOLD];

		if (t < due) {
			struct timespec ts = { 0, (long)(due - t) };

			nanosleep(&ts, NULL);
		}
		if (*slot >= 0)
			close(*slot);
		*slot = -1;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			*slot = fd;
			flood.opened++;
		} else {
			if (fd >= 0)
				close(fd);
			flood.refused++;
		}
		n++;
	}
	for (unsigned i = 0; i < FLOOD_HOLD; i++)
		if (flood.ring[i] >= 0)
			close(flood.ring[i]);
	return NULL;
}

/* Raise the fd limit (as the VMM does) before the device sizes its
 * handshake room; the flood needs ~6000 fds in this one process. */
static bool flood_fds_ok;

static void setup_flood(void)
{
	struct rlimit r;

	flood_fds_ok = getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_max >= 16384;
	if (flood_fds_ok) {
		r.rlim_cur = r.rlim_max;
		flood_fds_ok = setrlimit(RLIMIT_NOFILE, &r) == 0;
	}
	setup_one();
}

/* 1,000 idle connections a second do not evict a client that writes its
 * line 0.5 s after connecting: it gets its OK (5 of 5).  With 64 slots and
 * oldest-evicted, every such client was evicted. */
START_TEST(handshake_survives_idle_flood)
{
	enum { TRIES = 5, WAIT = 500 };
	pthread_t t;
	unsigned ok = 0;
	uint64_t worst = 0;

	if (!flood_fds_ok) {
		fprintf(stderr, "handshake_survives_idle_flood: skipped: needs a hard fd limit >= 16384\n");
		return;
	}
	memset(&flood, 0, sizeof(flood));
	flood.rate = 1000;
	ck_assert_int_eq(pthread_create(&t, NULL, flood_main, NULL), 0);
	sleep_ms(2500); /* the pending set at its steady size (rate x deadline) */
	for (int i = 0; i < TRIES; i++) {
		int fd = connect_uds();
		struct vsock_hdr req;
		char line[32], want[32];
		uint64_t t0;

		sleep_ms(WAIT);
		t0 = now_ms();
		if (send(fd, "CONNECT 99\n", 11, MSG_NOSIGNAL) != 11 ||
		    !rx_try(&req, NULL, 0, WAIT_MS) || req.op != VIRTIO_VSOCK_OP_REQUEST) {
			close(fd);
			continue; /* evicted: EPIPE, or the line went nowhere */
		}
		txh(VIRTIO_VSOCK_OP_RESPONSE, 99, req.src_port, 0);
		snprintf(want, sizeof(want), "OK %u\n", req.src_port);
		if (readable(fd, WAIT_MS) && read(fd, line, strlen(want)) == (ssize_t)strlen(want) &&
		    memcmp(line, want, strlen(want)) == 0) {
			ok++;
			if (now_ms() - t0 > worst)
				worst = now_ms() - t0;
		}
		close(fd);
		rx_op(VIRTIO_VSOCK_OP_SHUTDOWN, NULL, 0);
		txh(VIRTIO_VSOCK_OP_RST, 99, req.src_port, 0);
	}
	atomic_store(&flood.stop, true);
	pthread_join(t, NULL);
	fprintf(stderr, "vsock: under %u idle connections/s (%u opened, %u refused), "
		"%u of %d clients writing their line after %d ms got OK (slowest %llu ms)\n",
		flood.rate, flood.opened, flood.refused, ok, TRIES, WAIT,
		(unsigned long long)worst);
	ck_assert_uint_eq(ok, TRIES);
}
END_TEST

/* --- one owner per socket path ----------------------------------------- */

static char lock_dir[40];

static void lock_setup(void)
{
	snprintf(lock_dir, sizeof(lock_dir), "/tmp/vsock-lock-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(lock_dir));
}

static void lock_teardown(void)
{
	char cmd[80];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lock_dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The lock is exclusive per open file (also within one process), is not
 * taken through a symlink or on a non-regular file, and goes with the fd. */
START_TEST(lock_exclusive)
{
	char path[80], lock[96], other[96];
	int a, b;

	snprintf(path, sizeof(path), "%s/v.sock", lock_dir);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	a = vsock_sock_lock(path);
	ck_assert_int_ge(a, 0);
	ck_assert(exists(lock));
	ck_assert_int_eq(vsock_sock_lock(path), -EWOULDBLOCK);
	close(a);
	b = vsock_sock_lock(path);
	ck_assert_int_ge(b, 0);
	close(b);
	ck_assert(exists(lock)); /* left in place, see vsock_sock_lock */
	unlink(lock);
	snprintf(other, sizeof(other), "%s/elsewhere", lock_dir);
	ck_assert_int_eq(symlink(other, lock), 0);
	ck_assert_int_eq(vsock_sock_lock(path), -ELOOP);
	ck_assert(!exists(other));
	unlink(lock);
	ck_assert_int_eq(mkfifo(lock, 0600), 0);
	ck_assert_int_eq(vsock_sock_lock(path), -EEXIST);
}
END_TEST

/* vsock_sock_files_remove_all() (the VMM's exit and fatal-signal path)
 * removes the socket files of every live listener, only if still ours,
 * and leaves the listeners to their owner. */
START_TEST(remove_all_socket_files)
{
	char path[80], seq[96], in[96];
	struct vsock_fwd fi = { .port = 5 };
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = path,
		.fwd_in = &fi, .n_fwd_in = 1 };
	struct vsock_dev *d;
	struct evloop *e;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(path, sizeof(path), "%s/v.sock", lock_dir);
	snprintf(seq, sizeof(seq), "%s_seqpacket", path);
	snprintf(in, sizeof(in), "%s/in.sock", lock_dir);
	fi.path = in;
	ck_assert_int_eq(evloop_create(&e), 0);
	dp.ev = e;
	ck_assert_int_eq(test_dev_create(&dp, &d), 0);
	ck_assert(exists(path) && exists(seq) && exists(in));
	/* Someone else's socket now sits at `in`: it stays. */
	ck_assert_int_eq(unlink(in), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", in);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	vsock_sock_files_remove_all();
	ck_assert(!exists(path));
	ck_assert(!exists(seq));
	ck_assert(exists(in));
	vsock_dev_destroy(d);
	ck_assert(exists(in));
	/* Destroyed devices are forgotten: a file at their old path stays. */
	close(fd);
	unlink(in);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	vsock_sock_files_remove_all();
	ck_assert(exists(path));
	close(fd);
	evloop_destroy(e);
}
END_TEST

#define RACERS 50

/* One racer: a VMM's start-up for the path (lock, then the device's
 * listeners).  Reports 'y' (owns the path; then holds it until `hold`
 * closes, tears down, exits 0) or 'n' (refused by the lock, exit 1); any
 * other failure exits 2 without a report. */
static void racer(const char *path, int go, int done, int hold)
{
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = path };
	struct vsock_dev *d;
	struct evloop *e;
	char c = 'n';
	int lk;

	if (read(go, &c, 1) != 0) /* all start together when go closes */
		_exit(2);
	lk = vsock_sock_lock(path);
	if (lk == -EWOULDBLOCK)
		_exit(write(done, "n", 1) == 1 ? 1 : 2);
	if (lk < 0 || evloop_create(&e))
		_exit(2);
	dp.ev = e;
	if (test_dev_create(&dp, &d))
		_exit(2);
	if (write(done, "y", 1) != 1)
		_exit(2);
	(void)!read(hold, &c, 1);
	vsock_dev_destroy(d);
	_exit(0);
}

START_TEST(lock_race_one_owner)
{
	char path[80], seq[96];
	int go[2], done[2], hold[2], status, ok = 0, refused = 0;
	pid_t pid[RACERS];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char c;
	int fd;

	snprintf(path, sizeof(path), "%s/v.sock", lock_dir);
	snprintf(seq, sizeof(seq), "%s_seqpacket", path);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(done), 0);
	ck_assert_int_eq(pipe(hold), 0);
	for (int i = 0; i < RACERS; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			close(go[1]);
			close(done[0]);
			close(hold[1]);
			racer(path, go[0], done[1], hold[0]);
		}
	}
	close(go[0]);
	close(done[1]);
	close(hold[0]);
	close(go[1]); /* go */
	for (int i = 0; i < RACERS; i++) {
		ck_assert_msg(readable(done[0], 10000), "%d of %d racers reported", i, RACERS);
		ck_assert_int_eq(read(done[0], &c, 1), 1);
		if (c == 'y')
			ok++;
		else
			refused++;
	}
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(refused, RACERS - 1);
	/* The owner's socket files are there and answer. */
	ck_assert(exists(path));
	ck_assert(exists(seq));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	close(hold[1]); /* the owner tears down */
	ok = refused = 0;
	for (int i = 0; i < RACERS; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert(WIFEXITED(status));
		ck_assert_int_le(WEXITSTATUS(status), 1);
		ok += WEXITSTATUS(status) == 0;
	}
	ck_assert_int_eq(ok, 1);
	ck_assert(!exists(path));
	ck_assert(!exists(seq));
	close(done[0]);
}
END_TEST

/* --- the data path to host sockets --------------------------------------
 * Partial writes at odd sizes, credit smaller than an rx buffer, a host
 * that stops reading but keeps the connection open (shutdown(SHUT_RD):
 * EPIPE), EPIPE with a backlog, a guest that shuts down with data still
 * buffered.  tests/mutants/ keeps the dev_io.c mutations these must catch.
 */

/* The guest's payload stream: byte i of a flow, a hash of i (no period,
 * so a piece sent twice, from the wrong offset or skipped shows). */
static uint8_t pat(uint64_t i)
{
	i = (i ^ (i >> 31)) * 0x7fb5d329728ea185ull;
	i = (i ^ (i >> 27)) * 0x81dadef4bc2dd44dull;
	return (uint8_t)(i >> 33);
}

/* Send bytes [off, off + len) of the stream as one RW. */
static void txstream(uint32_t sport, uint32_t dport, uint64_t off, uint32_t len)
{
	static uint8_t buf[TXPAY_MAX];

	ck_assert_uint_le(len, TXPAY_MAX);
	for (uint32_t i = 0; i < len; i++)
		buf[i] = pat(off + i);
	txdata(sport, dport, buf, len);
}

/* Read what the host socket has now (at most max bytes, without waiting)
 * and check it is the stream from *off on.  Bytes read; 0 at EOF or when
 * nothing is there (*eof tells which). */
static size_t host_take(int fd, uint64_t *off, size_t max, bool *eof)
{
	static uint8_t buf[1 << 16];
	ssize_t r, i;

	if (max > sizeof(buf))
		max = sizeof(buf);
	r = recv(fd, buf, max, MSG_DONTWAIT);
	*eof = r == 0;
	if (r < 0) {
		ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "host recv: %s",
			      strerror(errno));
		return 0;
	}
	/* One check at the end: a Check assertion per byte is slow. */
	for (i = 0; i < r && buf[i] == pat(*off + (uint64_t)i); i++)
		;
	ck_assert_msg(i == r, "host got a wrong byte at stream offset %llu",
		      (unsigned long long)(*off + (uint64_t)i));
	*off += (uint64_t)r;
	return (size_t)r;
}

/* Read exactly n more stream bytes on the host, in pieces of at most
 * `piece` bytes, each waited for (bounded). */
static void host_expect(int fd, uint64_t *off, size_t n, size_t piece)
{
	uint64_t end = *off + n;
	bool eof;

	while (*off < end) {
		size_t want = end - *off < piece ? (size_t)(end - *off) : piece;

		ck_assert_msg(readable(fd, WAIT_MS), "host waited in vain at %llu of %llu",
			      (unsigned long long)*off, (unsigned long long)end);
		host_take(fd, off, want, &eof);
		ck_assert_msg(!eof, "host EOF at %llu, %llu bytes missing",
			      (unsigned long long)*off, (unsigned long long)(end - *off));
	}
}

/* Bytes queued in a host socket's receive queue. */
static int host_queued(int fd)
{
	int n = -1;

	ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

/* The guest's view of the credit the device gives one flow, as a driver
 * keeps it: every header from the device carries buf_alloc and fwd_cnt. */
struct gcredit {
	uint32_t buf_alloc, fwd_cnt;
	uint32_t sent;          /* RW payload bytes the guest sent */
};

static uint32_t gc_free(const struct gcredit *c)
{
	uint32_t held = c->sent - c->fwd_cnt;

	return held >= c->buf_alloc ? 0 : c->buf_alloc - held;
}

static void gc_note(struct gcredit *c, const struct vsock_hdr *h)
{
	c->buf_alloc = h->buf_alloc;
	c->fwd_cnt = h->fwd_cnt;
}

/* Take every rx packet already there (no waiting): only credit news is
 * expected on these flows. */
static unsigned gc_poll(struct gcredit *c)
{
	struct vsock_hdr h;
	unsigned n = 0;

	while (rx_try(&h, NULL, 0, 0)) {
		ck_assert_msg(h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE, "rx op %u", h.op);
		gc_note(c, &h);
		n++;
	}
	return n;
}

/* Wait (bounded) until the guest may send `need` bytes: a device that
 * forgets to return credit leaves a Linux guest stalled for good. */
static void gc_wait(struct gcredit *c, uint32_t need)
{
	struct vsock_hdr h;

	while (gc_free(c) < need) {
		ck_assert_msg(rx_try(&h, NULL, 0, WAIT_MS),
			      "guest stalled on credit after %u bytes (free %u, device fwd_cnt %u)",
			      c->sent, gc_free(c), c->fwd_cnt);
		ck_assert_msg(h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE, "rx op %u", h.op);
		gc_note(c, &h);
	}
}

/* The next rx packet other than a CREDIT_UPDATE (those are noted), which
 * must be `op` (bounded wait); its payload (if any) goes to gc_payload. */
static char gc_payload[RXBUF];

static struct vsock_hdr gc_next(struct gcredit *c, uint16_t op)
{
	struct vsock_hdr h;

	for (;;) {
		ck_assert_msg(rx_try(&h, gc_payload, sizeof(gc_payload), WAIT_MS),
			      "no rx packet (wanted op %u)", op);
		gc_note(c, &h);
		if (h.op == op)
			return h;
		ck_assert_msg(h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE, "rx op %u, wanted %u",
			      h.op, op);
	}
}

/* Ask for the device's credit (CREDIT_REQUEST) until its fwd_cnt reaches
 * `want` (bounded): every byte the guest sent is accounted for, written to
 * the host or dropped because nobody will read it. */
static void gc_wait_fwd(struct gcredit *c, uint32_t sport, uint32_t dport, uint32_t want)
{
	struct timespec ts = { 0, 1000000 };

	for (int t = 0;; t++) {
		txh(VIRTIO_VSOCK_OP_CREDIT_REQUEST, sport, dport, 0);
		gc_next(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		if (c->fwd_cnt == want)
			return;
		ck_assert_msg(t < WAIT_MS, "device fwd_cnt stuck at %u, guest sent %u",
			      c->fwd_cnt, want);
		nanosleep(&ts, NULL);
	}
}

/* Runs vsock_dev_host_accept() on the I/O thread, as backends do. */
struct accept_call {
	int fd;
	uint32_t gport;
	int ret;
	sem_t done;
};

static void accept_cb(void *opaque)
{
	struct accept_call *a = opaque;

	a->ret = vsock_dev_host_accept(dev, a->fd, a->gport, VIRTIO_VSOCK_TYPE_STREAM, false);
	sem_post(&a->done);
}

/* A host-initiated stream into guest port gport whose device-side socket
 * is one end of a socketpair with SO_SNDBUF = sndbuf: a small one makes
 * the device's writes partial at odd sizes (Unix sockets cut writes into
 * pieces of sndbuf/2 and stop when the buffer is full).  The guest
 * accepts.  Returns the host's end (blocking); *hport is the device's
 * port, *gc the credit the REQUEST announced. */
static int pair_flow(uint32_t gport, int sndbuf, uint32_t *hport, struct gcredit *gc)
{
	struct accept_call a = { .gport = gport, .ret = -1 };
	struct vsock_hdr req;
	struct timespec ts;
	int sv[2], got = 0;
	socklen_t gl = sizeof(got);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	ck_assert_int_eq(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &gl), 0);
	ck_assert_int_le(got, 4 * sndbuf); /* the kernel doubles it */
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
	a.fd = sv[0];
	ck_assert_int_eq(sem_init(&a.done, 0, 0), 0);
	ck_assert_int_eq(evloop_call(ev, accept_cb, &a), 0);
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec += WAIT_MS / 1000 + 1;
	ck_assert_int_eq(sem_timedwait(&a.done, &ts), 0);
	sem_destroy(&a.done);
	ck_assert_int_eq(a.ret, 0);
	req = rx_op(VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	ck_assert_uint_eq(req.dst_port, gport);
	txh(VIRTIO_VSOCK_OP_RESPONSE, gport, req.src_port, 0);
	*hport = req.src_port;
	*gc = (struct gcredit){ 0 };
	gc_note(gc, &req);
	ck_assert_uint_gt(gc->buf_alloc, 64 * 1024);
	return sv[1];
}

#define SMALL_SNDBUF 3001 /* pieces of 2937 bytes (sndbuf 6002 / 2 - 64) */

/*
 * A host socket that takes a few KiB at a time: the device's writes come
 * out partial at odd sizes, straight from guest memory and from its
 * buffer.  Every byte arrives once and in order.
 */
START_TEST(partial_writes_keep_every_byte)
{
	enum { FIRST = 30011, TOTAL = 400009 };
	struct gcredit gc;
	uint64_t got = 0;
	uint32_t hport;
	int fd, idle = 0;
	struct timespec ts = { 0, 1000000 };

	fd = pair_flow(1400, SMALL_SNDBUF, &hport, &gc);
	/* One packet much larger than the socket takes, nothing queued: the
	 * device writes part of it from guest memory and keeps the rest. */
	txstream(1400, hport, 0, FIRST);
	gc.sent = FIRST;
	ck_assert_int_gt(host_queued(fd), 0);
	ck_assert_int_lt(host_queued(fd), FIRST);
	/* The host reads in odd pieces; each read lets the device go on. */
	host_expect(fd, &got, FIRST, 1237);
	gc_poll(&gc);

	/* Odd packet sizes against odd reads, the guest within its credit,
	 * until 400 kB went through. */
	while (got < TOTAL) {
		bool progress = false, eof;

		while (gc.sent < TOTAL && gc_free(&gc) > 0) {
			uint32_t n = 1 + rnd(rnd(2) ? 3000 : TXPAY_MAX);

			if (n > gc_free(&gc))
				n = gc_free(&gc);
			if (n > TOTAL - gc.sent)
				n = TOTAL - gc.sent;
			txstream(1400, hport, gc.sent, n);
			gc.sent += n;
			progress = true;
		}
		if (host_take(fd, &got, 1 + rnd(20000), &eof))
			progress = true;
		ck_assert_msg(!eof, "host EOF at %llu", (unsigned long long)got);
		if (gc_poll(&gc))
			progress = true;
		if (progress) {
			idle = 0;
			continue;
		}
		/* Waiting for the device (its I/O thread flushes on
		 * EPOLLOUT) or for credit: bounded. */
		ck_assert_msg(++idle < WAIT_MS, "stuck: host has %llu, guest sent %u, credit %u",
			      (unsigned long long)got, gc.sent, gc_free(&gc));
		nanosleep(&ts, NULL);
	}
	ck_assert_uint_eq(got, TOTAL);
	/* All of it written: closing is immediate (RST), the host sees EOF. */
	txh(VIRTIO_VSOCK_OP_SHUTDOWN, 1400, hport,
	    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	gc_next(&gc, VIRTIO_VSOCK_OP_RST);
	assert_eof(fd);
	close(fd);
}
END_TEST

/*
 * The host peer calls shutdown(SHUT_RD) and keeps the connection open: our
 * writes fail with EPIPE, nobody will ever read the guest's data.  It is
 * dropped, but credited, so a guest sending 4 MiB and closing completes
 * (it used to stall once the credit it had was used up).
 */
START_TEST(host_shut_rd_guest_keeps_sending)
{
	enum { TOTAL = 4 << 20 };
	int lfd = listen_at(5401), fd;
	struct gcredit gc = { 0 };
	struct vsock_dev_stats st;
	struct vsock_hdr h;
	char c;

	txh(VIRTIO_VSOCK_OP_REQUEST, 1401, 5401, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RESPONSE, NULL, 0);
	gc_note(&gc, &h);
	ck_assert(readable(lfd, WAIT_MS));
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(shutdown(fd, SHUT_RD), 0);
	while (gc.sent < TOTAL) {
		uint32_t n = 1 + rnd(TXPAY_MAX);

		if (n > TOTAL - gc.sent)
			n = TOTAL - gc.sent;
		gc_wait(&gc, n);
		txstream(1401, 5401, gc.sent, n);
		gc.sent += n;
		gc_poll(&gc);
	}
	/* Every byte is accounted for ... */
	gc_wait_fwd(&gc, 1401, 5401, TOTAL);
	/* ... so the close is a normal one: RST at once. */
	txh(VIRTIO_VSOCK_OP_SHUTDOWN, 1401, 5401,
	    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	gc_next(&gc, VIRTIO_VSOCK_OP_RST);
	vsock_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.conns_open, 0);
	ck_assert_uint_eq(st.tx_bytes, TOTAL);
	ck_assert_uint_eq(st.conn.credit_overrun, 0);
	ck_assert_uint_eq(st.conn.close_timeout, 0);
	ck_assert_int_eq(recv(fd, &c, 1, MSG_DONTWAIT), 0); /* nothing got through */
	close(fd);
	close(lfd);
}
END_TEST

/*
 * EPIPE with a backlog: the host stopped reading (SHUT_RD) while the device
 * held guest data it could not write yet.  The backlog is dropped and
 * credited when the device finds out (its next write, once the socket has
 * room again); the host got a clean prefix of the stream.
 */
START_TEST(epipe_mid_backlog_credits_it)
{
	enum { BACKLOG = 100003, MORE = 300007 };
	struct gcredit gc;
	uint64_t got = 0;
	uint32_t hport;
	bool eof = false;
	int fd;

	fd = pair_flow(1402, SMALL_SNDBUF, &hport, &gc);
	while (gc.sent < BACKLOG) {
		uint32_t n = 1 + rnd(9000);

		if (n > BACKLOG - gc.sent)
			n = BACKLOG - gc.sent;
		txstream(1402, hport, gc.sent, n);
		gc.sent += n;
	}
	gc_poll(&gc);
	ck_assert_int_lt(host_queued(fd), BACKLOG / 2); /* the rest waits in the device */
	ck_assert_int_eq(shutdown(fd, SHUT_RD), 0);
	/* What was queued can still be read (a prefix of the stream); reading
	 * it makes room, the device writes again and gets EPIPE. */
	while (!eof) {
		ck_assert(readable(fd, WAIT_MS));
		host_take(fd, &got, 1 << 16, &eof);
	}
	ck_assert_uint_lt(got, BACKLOG);
	gc_wait_fwd(&gc, 1402, hport, BACKLOG);
	/* Later data is dropped and credited at once. */
	while (gc.sent < BACKLOG + MORE) {
		uint32_t n = 1 + rnd(TXPAY_MAX);

		if (n > BACKLOG + MORE - gc.sent)
			n = BACKLOG + MORE - gc.sent;
		gc_wait(&gc, n);
		txstream(1402, hport, gc.sent, n);
		gc.sent += n;
		gc_poll(&gc);
	}
	gc_wait_fwd(&gc, 1402, hport, BACKLOG + MORE);
	txh(VIRTIO_VSOCK_OP_SHUTDOWN, 1402, hport,
	    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	gc_next(&gc, VIRTIO_VSOCK_OP_RST);
	close(fd);
}
END_TEST

/* Guest data waits in the device (the host reads slowly) when the guest
 * shuts down: the host gets all of it before its EOF.  SHUTDOWN(SEND)
 * half-closes; SHUTDOWN(RCV|SEND) closes, with the RST once it is all
 * written. */
START_TEST(shutdown_with_data_buffered)
{
	enum { N = 50021 };
	struct gcredit gc;
	uint32_t hport;
	uint64_t got;
	int fd;
	char c;

	for (int both = 0; both < 2; both++) {
		uint32_t gport = 1403 + (uint32_t)both;
		struct vsock_hdr h;

		fd = pair_flow(gport, SMALL_SNDBUF, &hport, &gc);
		while (gc.sent < N) {
			uint32_t n = 1 + rnd(7000);

			if (n > N - gc.sent)
				n = N - gc.sent;
			txstream(gport, hport, gc.sent, n);
			gc.sent += n;
		}
		txh(VIRTIO_VSOCK_OP_SHUTDOWN, gport, hport,
		    both ? VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND
			 : VIRTIO_VSOCK_SHUTDOWN_SEND);
		ck_assert_int_lt(host_queued(fd), N / 2); /* most of it still in the device */
		/* Nothing is final before the host has it all: no RST yet. */
		while (rx_try(&h, NULL, 0, 0))
			ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		got = 0;
		host_expect(fd, &got, N, 4099);
		ck_assert(readable(fd, WAIT_MS));
		ck_assert_int_eq(recv(fd, &c, 1, MSG_DONTWAIT), 0); /* then EOF */
		if (!both) {
			/* Half-closed: the host can still answer. */
			ck_assert_int_eq(write(fd, "after", 5), 5);
			h = gc_next(&gc, VIRTIO_VSOCK_OP_RW);
			ck_assert_uint_eq(h.len, 5);
			ck_assert_mem_eq(gc_payload, "after", 5);
			txh(VIRTIO_VSOCK_OP_SHUTDOWN, gport, hport, VIRTIO_VSOCK_SHUTDOWN_RCV);
		}
		gc_next(&gc, VIRTIO_VSOCK_OP_RST);
		close(fd);
	}
}
END_TEST

/*
 * The guest's credit is not a multiple of the rx buffer size: packets
 * never carry more than the credit left, however much the host has and
 * however big the rx buffer is.  The guest frees space in odd steps, each
 * smaller than a buffer.
 */
START_TEST(host_to_guest_credit_below_a_buffer)
{
	enum { TOTAL = 40009 };
	static char data[TOTAL], got[TOTAL];
	int lfd = listen_at(5405), fd;
	uint32_t n = 0;
	struct vsock_hdr h;

	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (char)pat(i);
	g_buf = 5000; /* a 4 KiB buffer, then 904 bytes */
	fd = guest_connect(lfd, 1405, 5405);
	ck_assert_int_eq(write(fd, data, TOTAL), TOTAL);
	while (n < TOTAL) {
		uint32_t left = g_buf - (n - g_fwd);

		if (left == 0) {
			/* Consume an odd amount, less than a buffer. */
			uint32_t step = 1 + rnd(RXBUF - VSOCK_HDR_SIZE - 1);

			g_fwd += step < n - g_fwd ? step : n - g_fwd;
			txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1405, 5405, 0);
			continue;
		}
		h = rx_op(VIRTIO_VSOCK_OP_RW, got + n, sizeof(got) - n);
		ck_assert_msg(h.len <= left, "%u bytes sent with %u bytes of credit left",
			      h.len, left);
		n += h.len;
	}
	ck_assert_mem_eq(got, data, TOTAL);
	close(fd);
	close(lfd);
}
END_TEST

/* --- datagrams (--vsock-dgram) ------------------------------------------ */

static void setup_dgram(void)
{
	layout = RX_ONE_DESC;
	g_dgram = true;
	g_features = 1ull << VSOCK_F_DGRAM;
	setup();
}

static void setup_dgram_big(void)
{
	layout = RX_BIG;
	g_dgram = true;
	g_features = 1ull << VSOCK_F_DGRAM;
	setup();
}

static void setup_dgram_many(void)
{
	layout = RX_MANY;
	g_dgram = true;
	g_features = 1ull << VSOCK_F_DGRAM;
	setup();
}

/* The device has datagrams, the driver did not ack F_DGRAM. */
static void setup_dgram_unacked(void)
{
	layout = RX_ONE_DESC;
	g_dgram = true;
	g_features = 0;
	setup();
}

static struct vsock_dev_stats dstats(void)
{
	struct vsock_dev_stats st;

	vsock_dev_get_stats(dev, &st);
	return st;
}

/* A host receiver bound at "<uds>_dgram_<port>". */
static int dg_bind(uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_dgram_%u", uds, port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Host → guest: "DGRAM <gport> <hport>\n" + payload to "<uds>_dgram". */
static void dg_host_send(int fd, uint32_t gport, uint32_t hport, const void *p, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static uint8_t buf[VSOCK_DGRAM_LINE_MAX + VSOCK_DGRAM_MAX + 2];
	int n = snprintf((char *)buf, VSOCK_DGRAM_LINE_MAX, "DGRAM %u %u\n", gport, hport);

	ck_assert_uint_le(len, sizeof(buf) - (size_t)n);
	memcpy(buf + n, p, len);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_dgram", uds);
	ck_assert_int_eq(sendto(fd, buf, (size_t)n + len, 0, (struct sockaddr *)&sa, sizeof(sa)),
			 (ssize_t)((size_t)n + len));
}

static int dg_sock(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Guest → host: one datagram packet on tx. */
static void dg_tx(uint32_t sport, uint32_t dport, const void *p, uint32_t len, uint16_t op,
		  uint32_t hdr_len)
{
	struct vsock_hdr h = gh(op, sport, dport, hdr_len, 0);

	h.type = VIRTIO_VSOCK_TYPE_DGRAM;
	tx(&h, p, len);
}

/* The next rx packet, which must be a datagram. */
static struct vsock_hdr dg_rx(void *buf, size_t bufsz)
{
	struct vsock_hdr h;

	ck_assert_msg(rx_try(&h, buf, bufsz, WAIT_MS), "no rx datagram");
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_DGRAM);
	ck_assert_uint_eq(h.src_cid, VSOCK_HOST_CID);
	ck_assert_uint_eq(h.dst_cid, GCID);
	return h;
}

static ssize_t dg_recv(int fd, void *buf, size_t size, int ms)
{
	if (!readable(fd, ms))
		return -1;
	return recv(fd, buf, size, MSG_DONTWAIT);
}

/* Wait until cond holds for the device's counters, read into dgs. */
static struct vsock_dev_stats dgs;
#define WAIT_STATS(cond) do {							\
	struct timespec ts_ = { 0, 1000000 };					\
	for (int t_ = 0;; t_++) {						\
		dgs = dstats();							\
		if (cond)							\
			break;							\
		ck_assert_msg(t_ < WAIT_MS, "timed out waiting for " #cond);	\
		nanosleep(&ts_, NULL);						\
	}									\
} while (0)
#define S dgs.dgram

START_TEST(dgram_echo_both_ways)
{
	int rfd = dg_bind(5000), hfd = dg_sock();
	char buf[256];
	struct vsock_hdr h;
	ssize_t n;

	wr(VMMIO_DEVICE_FEATURES_SEL, 0);
	ck_assert_uint_ne(rd(VMMIO_DEVICE_FEATURES) & (1u << VSOCK_F_DGRAM), 0);
	ck_assert_uint_ne(dstats().features & (1ull << VSOCK_F_DGRAM), 0);
	/* Guest port 1234 → host port 5000. */
	dg_tx(1234, 5000, "ping", 4, VIRTIO_VSOCK_OP_RW, 4);
	n = dg_recv(rfd, buf, sizeof(buf), WAIT_MS);
	ck_assert_int_eq(n, 20);
	ck_assert_int_eq(memcmp(buf, "DGRAM 1234 5000\nping", 20), 0);
	/* The receiver replies with the same line. */
	dg_host_send(hfd, 1234, 5000, "pong!", 5);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_DGRAM);
	ck_assert_uint_eq(h.src_port, 5000);
	ck_assert_uint_eq(h.dst_port, 1234);
	ck_assert_uint_eq(h.len, 5);
	ck_assert_uint_eq(h.buf_alloc, 0);
	ck_assert_uint_eq(h.fwd_cnt, 0);
	ck_assert_int_eq(memcmp(buf, "pong!", 5), 0);
	WAIT_STATS(S.rx_pkts == 1);
	ck_assert_uint_eq(S.tx_pkts, 1);
	ck_assert_uint_eq(S.tx_bytes, 4);
	ck_assert_uint_eq(S.rx_bytes, 5);
	ck_assert_uint_eq(S.queued, 0);
	/* Nothing bound at the port: dropped and counted, no RST. */
	dg_tx(1234, 5001, "x", 1, VIRTIO_VSOCK_OP_RW, 1);
	ck_assert_uint_eq(dstats().dgram.tx_no_receiver, 1);
	/* A host datagram without its line, or with a bad one. */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		static const char *bad[] = { "hello", "DGRAM 1 2", "DGRAM 01 2\nx",
					     "DGRAM 1 4294967296\nx", "DGRAM  1 2\nx",
					     "DGRAM 1 2\n" /* no payload */ };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_dgram", uds);
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_int_eq(sendto(hfd, bad[i], strlen(bad[i]), 0,
						(struct sockaddr *)&sa, sizeof(sa)),
					 (ssize_t)strlen(bad[i]));
		WAIT_STATS(S.rx_bad_line == 5 && S.rx_too_big == 1);
	}
	rx_none(100);
	close(rfd);
	close(hfd);
}
END_TEST

/* 64 KiB both ways; one byte more is dropped both ways. */
START_TEST(dgram_largest_size)
{
	static uint8_t big[VSOCK_DGRAM_MAX + 1], got[VSOCK_DGRAM_LINE_MAX + VSOCK_DGRAM_MAX + 8];
	int rfd = dg_bind(7), hfd = dg_sock();
	int sz = 4 << 20;
	struct vsock_hdr h;
	ssize_t n;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
	dg_tx(9, 7, big, VSOCK_DGRAM_MAX, VIRTIO_VSOCK_OP_RW, VSOCK_DGRAM_MAX);
	n = dg_recv(rfd, got, sizeof(got), WAIT_MS);
	ck_assert_int_eq(n, 10 + VSOCK_DGRAM_MAX); /* "DGRAM 9 7\n" is 10 bytes */
	ck_assert_int_eq(memcmp(got, "DGRAM 9 7\n", 10), 0);
	ck_assert_int_eq(memcmp(got + 10, big, VSOCK_DGRAM_MAX), 0);
	/* One byte more from the guest: refused by validation, no RST. */
	dg_tx(9, 7, big, VSOCK_DGRAM_MAX, VIRTIO_VSOCK_OP_RW, VSOCK_DGRAM_MAX + 1);
	ck_assert_uint_eq(dstats().pkt_err[VSOCK_PKT_ERR_DGRAM_LEN], 1);
	/* Host → guest, the largest, then one byte more. */
	dg_host_send(hfd, 9, 7, big, VSOCK_DGRAM_MAX);
	h = dg_rx(got, sizeof(got));
	ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_DGRAM);
	ck_assert_uint_eq(h.len, VSOCK_DGRAM_MAX);
	ck_assert_int_eq(memcmp(got, big, VSOCK_DGRAM_MAX), 0);
	dg_host_send(hfd, 9, 7, big, VSOCK_DGRAM_MAX + 1);
	WAIT_STATS(S.rx_too_big == 1);
	rx_none(100);
	ck_assert(!readable(rfd, 0));
	close(rfd);
	close(hfd);
}
END_TEST

/* No fragments: a host datagram larger than the guest's rx buffer (4 KiB
 * here) is dropped and counted; the buffer serves the next one. */
START_TEST(dgram_larger_than_rx_buffer_dropped)
{
	static uint8_t big[8192];
	int hfd = dg_sock();
	char buf[RXBUF];
	struct vsock_hdr h;

	dg_host_send(hfd, 1, 2, big, sizeof(big));
	dg_host_send(hfd, 1, 2, "small", 5);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.len, 5);
	WAIT_STATS(S.rx_buf_small == 1 && S.rx_pkts == 1);
	close(hfd);
}
END_TEST

/* What the test guest's datagram modes rely on (guest-images/testguest/
 * scn_hostile_dgram.c, vsock_dgram.c): a len shorter than the chain sends
 * len bytes, a longer one is dropped (len_chain) without RST; credit
 * fields on a datagram change nothing, also on the ports of a live stream;
 * a host datagram too big for the rx buffer, with none behind it, gives
 * the buffer back empty (the driver's rx_empty), nothing else. */
START_TEST(dgram_len_chain_credit_fields_empty_buffer)
{
	enum { TOTAL = 20000 };
	static uint8_t big[8192], data[TOTAL];
	int rfd = dg_bind(4000), lfd = listen_at(4000), hfd = dg_sock(), fd;
	uint8_t p[100], buf[RXBUF];
	size_t got = 0;
	ssize_t n;

	for (unsigned i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)i;
	dg_tx(1500, 4000, p, sizeof(p), VIRTIO_VSOCK_OP_RW, 10);
	n = dg_recv(rfd, buf, sizeof(buf), WAIT_MS);
	ck_assert_int_eq(n, 16 + 10); /* "DGRAM 1500 4000\n" is 16 bytes */
	ck_assert_mem_eq(buf + 16, p, 10);
	dg_tx(1500, 4000, p, sizeof(p), VIRTIO_VSOCK_OP_RW, 1000);
	ck_assert_uint_eq(dstats().pkt_err[VSOCK_PKT_ERR_LEN_CHAIN], 1);
	rx_none(100);

	/* A stream from the same guest port to the same host port; a
	 * datagram on its ports saying "1 byte of buffer": taken for the
	 * stream's credit, it would stall the 20000 bytes below after one. */
	fd = guest_connect(lfd, 1500, 4000);
	g_buf = 1;
	dg_tx(1500, 4000, "stream", 6, VIRTIO_VSOCK_OP_RW, 6);
	g_buf = 65536;
	ck_assert_int_eq(dg_recv(rfd, buf, sizeof(buf), WAIT_MS), 16 + 6);
	ck_assert_uint_eq(dstats().dgram.tx_pkts, 2);
	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i % 251);
	ck_assert_int_eq(send(fd, data, TOTAL, 0), TOTAL);
	while (got < TOTAL) {
		struct vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_RW, buf, sizeof(buf));

		ck_assert_uint_eq(h.dst_port, 1500);
		ck_assert_int_eq(memcmp(buf, data + got, h.len), 0);
		got += h.len;
	}

	/* Too big for the 4 KiB buffers, alone: one buffer comes back empty. */
	dg_host_send(hfd, 1500, 4000, big, sizeof(big));
	WAIT_STATS(S.rx_buf_small == 1);
	rx_none(100);
	ck_assert_uint_eq(rx_short, 1);
	ck_assert_uint_eq(S.rx_pkts, 0);
	close(fd);
	close(lfd);
	close(rfd);
	close(hfd);
}
END_TEST

/* Every op but RW, and zero-length RW: dropped and counted, no RST. */
START_TEST(dgram_bad_ops_dropped)
{
	int rfd = dg_bind(80);

	for (uint16_t op = VIRTIO_VSOCK_OP_REQUEST; op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST; op++)
		if (op != VIRTIO_VSOCK_OP_RW)
			dg_tx(1, 80, NULL, 0, op, 0);
	dg_tx(1, 80, NULL, 0, VIRTIO_VSOCK_OP_RW, 0);
	dg_tx(1, 80, "abc", 3, 99, 3);
	ck_assert_uint_eq(dstats().pkt_err[VSOCK_PKT_ERR_DGRAM_OP], 6);
	ck_assert_uint_eq(dstats().pkt_err[VSOCK_PKT_ERR_DGRAM_LEN], 1);
	ck_assert_uint_eq(dstats().pkt_err[VSOCK_PKT_ERR_OP], 1);
	ck_assert_uint_eq(dstats().dgram.tx_pkts, 0);
	rx_none(100);
	ck_assert(!readable(rfd, 0));
	close(rfd);
}
END_TEST

/* The device offers F_DGRAM but the driver did not ack it. */
START_TEST(dgram_not_negotiated_dropped)
{
	int rfd = dg_bind(80), hfd = dg_sock();

	ck_assert_uint_eq(dstats().features & (1ull << VSOCK_F_DGRAM), 0);
	dg_tx(1, 80, "abc", 3, VIRTIO_VSOCK_OP_RW, 3);
	ck_assert_uint_eq(dstats().pkt_err[VSOCK_PKT_ERR_TYPE], 1);
	dg_host_send(hfd, 1, 80, "xyz", 3);
	WAIT_STATS(S.rx_no_driver == 1);
	rx_none(100);
	ck_assert(!readable(rfd, 0));
	close(rfd);
	close(hfd);
}
END_TEST

/* Host → guest flood while the guest takes nothing: QSZ datagrams fill the
 * posted buffers, VSOCK_DGRAM_QUEUE_MAX wait, the rest is dropped, exactly;
 * then the guest receives the first QSZ + QUEUE_MAX, in order. */
START_TEST(dgram_host_flood_counted)
{
	enum { N = 300 };
	int hfd = dg_sock();
	struct vsock_hdr h;
	uint32_t v;
	char buf[RXBUF];

	for (uint32_t i = 0; i < N; i++)
		dg_host_send(hfd, 1, 2, &i, sizeof(i));
	WAIT_STATS(S.rx_pkts + S.queued + S.rx_queue_full == N);
	ck_assert_uint_eq(S.rx_pkts, QSZ);
	ck_assert_uint_eq(S.queued, VSOCK_DGRAM_QUEUE_MAX);
	ck_assert_uint_eq(S.rx_queue_full, N - QSZ - VSOCK_DGRAM_QUEUE_MAX);
	for (uint32_t i = 0; i < QSZ + VSOCK_DGRAM_QUEUE_MAX; i++) {
		h = dg_rx(buf, sizeof(buf));
		ck_assert_uint_eq(h.len, 4);
		memcpy(&v, buf, 4);
		ck_assert_uint_eq(v, i);
	}
	rx_none(100);
	WAIT_STATS(S.queued == 0 && S.rx_pkts == QSZ + VSOCK_DGRAM_QUEUE_MAX);
	close(hfd);
}
END_TEST

/* Guest → host flood into a receiver that reads nothing: every datagram is
 * either in the receiver's queue or counted as tx_host_full. */
START_TEST(dgram_guest_flood_counted)
{
	enum { N = 400 };
	int rfd = dg_bind(99);
	char buf[64];
	unsigned got = 0;
	struct vsock_dev_stats st;

	for (uint32_t i = 0; i < N; i++)
		dg_tx(5, 99, &i, sizeof(i), VIRTIO_VSOCK_OP_RW, sizeof(i));
	st = dstats();
	ck_assert_uint_eq(st.dgram.tx_pkts + st.dgram.tx_host_full, N);
	ck_assert_uint_gt(st.dgram.tx_host_full, 0);
	while (dg_recv(rfd, buf, sizeof(buf), 0) > 0)
		got++;
	ck_assert_uint_eq(got, st.dgram.tx_pkts);
	ck_assert_uint_eq(st.dgram.tx_bytes, 4ull * got);
	close(rfd);
}
END_TEST

/* With no stream waiting, queued datagrams go to every rx buffer the guest
 * gives back, in the pass its kick runs: not DGRAM_RX_TURN (16) per pass
 * while the other buffers sit idle.  (bench/dgram_dev found a host flood
 * half dropped, "queue full", with the guest's buffers free: each wake-up
 * read 64 datagrams and delivered 16 + 16.) */
START_TEST(dgram_queue_fills_every_free_buffer)
{
	int hfd = dg_sock();
	uint16_t used;
	uint32_t id, len, v;

	ck_assert_uint_le(RXQ_MANY, VSOCK_DGRAM_QUEUE_MAX);
	/* RXQ_MANY into the buffers, RXQ_MANY more wait in the queue. */
	for (uint32_t i = 0; i < 2 * RXQ_MANY; i++)
		dg_host_send(hfd, 1, 2, &i, sizeof(i));
	WAIT_STATS(S.rx_pkts == RXQ_MANY && S.queued == RXQ_MANY);
	ck_assert_uint_eq(S.rx_queue_full, 0);
	/* The guest takes them all, then gives every buffer back at once. */
	ck_assert_uint_eq(td_used_idx_acquire(&rxr), RXQ_MANY);
	for (uint32_t i = 0; i < RXQ_MANY; i++) {
		td_used_elem(&rxr, rxr.last_used++, &id, &len);
		ck_assert_uint_eq(len, VSOCK_HDR_SIZE + 4);
		memcpy(&v, td_gpa(&mem, RXMEM(id) + VSOCK_HDR_SIZE), 4);
		ck_assert_uint_eq(v, i);
		post_rx(id, RXBUF);
	}
	wr(VMMIO_QUEUE_NOTIFY, 0);
	/* That kick's pass (on this "vCPU", done when wr() returns) filled
	 * every buffer; nothing was left for a later turn. */
	used = td_used_idx_acquire(&rxr);
	ck_assert_uint_eq((uint16_t)(used - rxr.last_used), RXQ_MANY);
	for (uint32_t i = RXQ_MANY; i < 2 * RXQ_MANY; i++) {
		td_used_elem(&rxr, rxr.last_used++, &id, &len);
		memcpy(&v, td_gpa(&mem, RXMEM(id) + VSOCK_HDR_SIZE), 4);
		ck_assert_uint_eq(v, i);
	}
	WAIT_STATS(S.queued == 0 && S.rx_pkts == 2 * RXQ_MANY);
	ck_assert_uint_eq(S.rx_queue_full, 0);
	close(hfd);
}
END_TEST

static atomic_bool dg_flood_stop;

static void *dg_flood_main(void *arg)
{
	int fd = dg_sock();
	unsigned *sent = arg;
	uint8_t p[512] = { 0 };

	while (!atomic_load(&dg_flood_stop) && *sent < 200000) {
		dg_host_send(fd, 77, 78, p, sizeof(p));
		__atomic_store_n(sent, *sent + 1, __ATOMIC_RELAXED);
	}
	close(fd);
	return NULL;
}

/* A stream keeps flowing host → guest while the host floods datagrams:
 * the stream's bytes all arrive, in order, and datagrams get through too. */
START_TEST(dgram_flood_does_not_starve_streams)
{
	enum { TOTAL = 2 << 20 };
	int lfd = listen_at(4000), fd;
	static uint8_t data[TOTAL];
	uint8_t buf[RXBUF];
	size_t got = 0, off = 0, credited = 0;
	unsigned sent = 0, dgrams = 0;
	struct timespec ts = { 0, 1000000 };
	pthread_t t;

	fd = guest_connect(lfd, 1500, 4000);
	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i % 251);
	atomic_store(&dg_flood_stop, false);
	ck_assert_int_eq(pthread_create(&t, NULL, dg_flood_main, &sent), 0);
	/* The flood is on before the stream starts. */
	for (int i = 0; i < WAIT_MS && __atomic_load_n(&sent, __ATOMIC_RELAXED) < 200; i++)
		nanosleep(&ts, NULL);
	while (got < TOTAL) {
		struct vsock_hdr h;

		if (off < TOTAL) {
			ssize_t n = send(fd, data + off, TOTAL - off, MSG_DONTWAIT);

			if (n > 0)
				off += (size_t)n;
		}
		ck_assert_msg(rx_try(&h, buf, sizeof(buf), WAIT_MS), "stream stalled at %zu", got);
		if (h.type == VIRTIO_VSOCK_TYPE_DGRAM) {
			dgrams++;
			continue;
		}
		if (h.op != VIRTIO_VSOCK_OP_RW)
			continue; /* credit updates */
		ck_assert_uint_eq(h.src_port, 4000);
		ck_assert_int_eq(memcmp(buf, data + got, h.len), 0);
		got += h.len;
		g_fwd += h.len;
		if (got - credited >= 16384) { /* as Linux, after reading */
			txh(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1500, 4000, 0);
			credited = got;
		}
	}
	atomic_store(&dg_flood_stop, true);
	pthread_join(t, NULL);
	/* Every datagram sent is accounted for. */
	WAIT_STATS(S.rx_pkts + S.queued + S.rx_queue_full + S.rx_buf_small == sent);
	ck_assert_uint_eq(S.rx_buf_small, 0);
	ck_assert_uint_le(dgrams, S.rx_pkts);
	ck_assert_uint_gt(dgrams, QSZ);
	fprintf(stderr, "dgram flood during a %u KiB stream: %u sent, %llu delivered, "
		"%llu dropped (queue full)\n", TOTAL / 1024, sent,
		(unsigned long long)S.rx_pkts, (unsigned long long)S.rx_queue_full);
	close(fd);
	close(lfd);
}
END_TEST

/* The socket file is owner-only and removed at teardown. */
START_TEST(dgram_socket_file)
{
	char path[160];
	struct stat sb;

	snprintf(path, sizeof(path), "%s_dgram", uds);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
}
END_TEST

/* --- UDP forwards for datagrams ------------------------------------------ */

/* forward_out: host port 5353 → udp_srv (a UDP socket of the test), host
 * port 5355 → a UDP port nobody has, host port 5357 → the broadcast
 * address (connect() fails: no SO_BROADCAST); forward_in: udp_in_sa → guest port
 * 7000.  Large rx buffers, so the largest UDP datagram fits. */
static int udp_srv = -1;
static struct sockaddr_in udp_srv_sa, udp_dead_sa, udp_in_sa, udp_bcast_sa;

/* A UDP socket on 127.0.0.1, ephemeral port, its address in *sa. */
static int udp_bind_any(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = 4 << 20;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return fd;
}

/* A forward_in client: a UDP socket connected to the VMM's listener. */
static int udp_client(void)
{
	struct sockaddr_in sa;
	int fd = udp_bind_any(&sa);

	ck_assert_int_eq(connect(fd, (struct sockaddr *)&udp_in_sa, sizeof(udp_in_sa)), 0);
	return fd;
}

/* The forwards and sockets of the dgram_udp fixtures. */
static void udp_fixture(void)
{
	int fd;

	udp_srv = udp_bind_any(&udp_srv_sa);
	fd = udp_bind_any(&udp_dead_sa);
	close(fd); /* a port that answers with ICMP unreachable */
	fd = udp_bind_any(&udp_in_sa);
	close(fd); /* free again, for the VMM to bind */
	g_udp_out[0] = (struct vsock_dgram_udp_fwd){ .port = 5353,
		.sa = (struct sockaddr *)&udp_srv_sa, .salen = sizeof(udp_srv_sa) };
	g_udp_out[1] = (struct vsock_dgram_udp_fwd){ .port = 5355,
		.sa = (struct sockaddr *)&udp_dead_sa, .salen = sizeof(udp_dead_sa) };
	udp_bcast_sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(9),
					     .sin_addr.s_addr = htonl(INADDR_BROADCAST) };
	g_udp_out[2] = (struct vsock_dgram_udp_fwd){ .port = 5357,
		.sa = (struct sockaddr *)&udp_bcast_sa, .salen = sizeof(udp_bcast_sa) };
	g_n_udp_out = 3;
	g_udp_in[0] = (struct vsock_dgram_udp_fwd){ .port = 7000,
		.sa = (struct sockaddr *)&udp_in_sa, .salen = sizeof(udp_in_sa) };
	g_n_udp_in = 1;
	layout = RX_BIG;
	g_dgram = true;
}

static void setup_dgram_udp(void)
{
	udp_fixture();
	g_features = 1ull << VSOCK_F_DGRAM;
	setup();
}

static void teardown_dgram_udp(void)
{
	close(udp_srv);
	udp_srv = -1;
	g_n_udp_out = g_n_udp_in = 0;
	teardown();
}

static bool same_sin(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

/* One datagram at the server: its length, its sender in *from. */
static ssize_t srv_recv(void *buf, size_t size, struct sockaddr_in *from)
{
	socklen_t len = sizeof(*from);

	ck_assert_msg(readable(udp_srv, WAIT_MS), "nothing reached the UDP server");
	return recvfrom(udp_srv, buf, size, MSG_DONTWAIT, (struct sockaddr *)from, &len);
}

static void srv_send(const struct sockaddr_in *to, const void *p, size_t len)
{
	ck_assert_int_eq(sendto(udp_srv, p, len, 0, (const struct sockaddr *)to, sizeof(*to)),
			 (ssize_t)len);
}

/* Several guest ports through one forward_out: one socket each, payload
 * only on the wire, every reply back to the port that asked; the port's
 * streams and other ports' datagrams still go the Unix way. */
START_TEST(dgram_udp_forward_out_routes_replies)
{
	struct sockaddr_in src[3], again;
	char buf[256], want[8];
	struct vsock_hdr h;
	bool seen[3] = { false, false, false };
	int rfd, lfd, fd;
	ssize_t n;

	for (unsigned i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "q%u", i);
		dg_tx(1000 + i, 5353, want, 2, VIRTIO_VSOCK_OP_RW, 2);
	}
	for (unsigned i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "q%u", i);
		n = srv_recv(buf, sizeof(buf), &src[i]);
		ck_assert_int_eq(n, 2); /* no DGRAM line */
		ck_assert_int_eq(memcmp(buf, want, 2), 0);
		ck_assert_uint_eq(src[i].sin_addr.s_addr, htonl(INADDR_LOOPBACK));
		for (unsigned j = 0; j < i; j++)
			ck_assert(!same_sin(&src[i], &src[j])); /* a socket per guest port */
	}
	/* Replies in another order: each reaches the guest port behind its
	 * socket, from host port 5353. */
	for (int i = 2; i >= 0; i--) {
		snprintf(want, sizeof(want), "r%d", i);
		srv_send(&src[i], want, 2);
	}
	for (unsigned k = 0; k < 3; k++) {
		unsigned g;

		h = dg_rx(buf, sizeof(buf));
		ck_assert_uint_eq(h.src_port, 5353);
		ck_assert_uint_ge(h.dst_port, 1000);
		ck_assert_uint_le(h.dst_port, 1002);
		g = h.dst_port - 1000;
		ck_assert(!seen[g]);
		seen[g] = true;
		ck_assert_uint_eq(h.len, 2);
		snprintf(want, sizeof(want), "r%u", g);
		ck_assert_int_eq(memcmp(buf, want, 2), 0);
	}
	/* The same guest port again: the same socket. */
	dg_tx(1001, 5353, "again", 5, VIRTIO_VSOCK_OP_RW, 5);
	ck_assert_int_eq(srv_recv(buf, sizeof(buf), &again), 5);
	ck_assert(same_sin(&again, &src[1]));
	WAIT_STATS(S.rx_pkts == 3);
	ck_assert_uint_eq(S.tx_pkts, 4);
	ck_assert_uint_eq(S.tx_bytes, 11);
	ck_assert_uint_eq(S.udp_out_socks, 3);
	ck_assert_uint_eq(S.udp_out_evicted, 0);
	/* Another port's datagrams still go to <uds>_dgram_P. */
	rfd = dg_bind(5354);
	dg_tx(1000, 5354, "unix", 4, VIRTIO_VSOCK_OP_RW, 4);
	n = dg_recv(rfd, buf, sizeof(buf), WAIT_MS);
	ck_assert_int_eq(n, 20);
	ck_assert_int_eq(memcmp(buf, "DGRAM 1000 5354\nunix", 20), 0);
	close(rfd);
	/* Streams to 5353 are not the UDP forward's: hybrid <uds>_5353. */
	lfd = listen_at(5353);
	fd = guest_connect(lfd, 2000, 5353);
	close(fd);
	close(lfd);
	/* A forward to a UDP port nobody has: sent, then the ICMP
	 * unreachable it brings back is read off its socket and counted. */
	dg_tx(1000, 5355, "void", 4, VIRTIO_VSOCK_OP_RW, 4);
	WAIT_STATS(S.udp_rx_err == 1);
	ck_assert_uint_eq(S.tx_pkts, 6);
	ck_assert(!readable(udp_srv, 0));
}
END_TEST

/* forward_in: each client its own host port, replies back to it. */
START_TEST(dgram_udp_forward_in_clients)
{
	int a = udp_client(), b = udp_client();
	uint32_t ha, hb, h2;
	char buf[256];
	struct vsock_hdr h;

	ck_assert_int_eq(send(a, "from-a", 6, 0), 6);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.dst_port, 7000);
	ck_assert_uint_eq(h.len, 6);
	ck_assert_int_eq(memcmp(buf, "from-a", 6), 0);
	ha = h.src_port;
	ck_assert_uint_ge(ha, VSOCK_DGRAM_UDP_IN_PORT_FIRST);
	ck_assert_uint_lt(ha, VSOCK_DGRAM_UDP_IN_PORT_FIRST + VSOCK_DGRAM_UDP_IN_PORTS);
	ck_assert_int_eq(send(b, "from-b", 6, 0), 6);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.dst_port, 7000);
	ck_assert_int_eq(memcmp(buf, "from-b", 6), 0);
	hb = h.src_port;
	ck_assert_uint_ne(ha, hb);
	/* A client keeps its port. */
	ck_assert_int_eq(send(a, "a2", 2, 0), 2);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.src_port, ha);
	/* The guest answers each from port 7000 (any guest port will do). */
	dg_tx(7000, hb, "to-b", 4, VIRTIO_VSOCK_OP_RW, 4);
	dg_tx(7001, ha, "to-a", 4, VIRTIO_VSOCK_OP_RW, 4);
	ck_assert_int_eq(dg_recv(b, buf, sizeof(buf), WAIT_MS), 4);
	ck_assert_int_eq(memcmp(buf, "to-b", 4), 0);
	ck_assert_int_eq(dg_recv(a, buf, sizeof(buf), WAIT_MS), 4);
	ck_assert_int_eq(memcmp(buf, "to-a", 4), 0);
	/* A port of the range no client has: dropped, counted. */
	h2 = ha == VSOCK_DGRAM_UDP_IN_PORT_FIRST + 100 ? ha + 1 : VSOCK_DGRAM_UDP_IN_PORT_FIRST + 100;
	dg_tx(7000, h2, "nobody", 6, VIRTIO_VSOCK_OP_RW, 6);
	dgs = dstats();
	ck_assert_uint_eq(S.tx_no_receiver, 1);
	ck_assert_uint_eq(S.tx_pkts, 2);
	ck_assert_uint_eq(S.udp_in_clients, 2);
	ck_assert_uint_eq(S.rx_pkts, 3);
	ck_assert(!readable(a, 50) && !readable(b, 0));
	close(a);
	close(b);
}
END_TEST

/* 65 guest ports: the 64-socket table evicts the least recently used
 * (counted exactly); a reply to its old socket is lost, the others still
 * arrive, and the evicted port gets a new socket when it sends again. */
START_TEST(dgram_udp_forward_out_table_bound)
{
	enum { N = VSOCK_DGRAM_UDP_OUT_MAX + 1 };
	struct sockaddr_in src[N], from;
	char buf[64];
	struct vsock_hdr h;
	uint32_t g;

	for (g = 0; g < N; g++)
		dg_tx(3000 + g, 5353, &g, 4, VIRTIO_VSOCK_OP_RW, 4);
	for (unsigned i = 0; i < N; i++) {
		ck_assert_int_eq(srv_recv(buf, sizeof(buf), &from), 4);
		memcpy(&g, buf, 4);
		ck_assert_uint_lt(g, N);
		src[g] = from;
	}
	dgs = dstats();
	ck_assert_uint_eq(S.tx_pkts, N);
	ck_assert_uint_eq(S.udp_out_evicted, 1);
	ck_assert_uint_eq(S.udp_out_socks, VSOCK_DGRAM_UDP_OUT_MAX);
	/* Guest port 3000 was the least recently used: its socket is gone. */
	srv_send(&src[0], "lost", 4);
	srv_send(&src[1], "kept", 4);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.dst_port, 3001);
	ck_assert_int_eq(memcmp(buf, "kept", 4), 0);
	srv_send(&src[N - 1], "last", 4);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.dst_port, 3000 + N - 1);
	rx_none(100);
	/* 3000 again: a new socket; the least recently used now is 3002
	 * (3001's reply counted as use). */
	g = 0;
	dg_tx(3000, 5353, &g, 4, VIRTIO_VSOCK_OP_RW, 4);
	ck_assert_int_eq(srv_recv(buf, sizeof(buf), &from), 4);
	ck_assert(!same_sin(&from, &src[0]));
	srv_send(&src[2], "gone", 4);
	srv_send(&src[1], "here", 4);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.dst_port, 3001);
	dgs = dstats();
	ck_assert_uint_eq(S.udp_out_evicted, 2);
	ck_assert_uint_eq(S.udp_out_socks, VSOCK_DGRAM_UDP_OUT_MAX);
	ck_assert_uint_eq(S.rx_pkts, 3);
}
END_TEST

/* A full table and a forward whose socket cannot be connected: the
 * datagram is dropped and counted, and no working flow loses its socket. */
START_TEST(dgram_udp_forward_out_connect_fails_keeps_table)
{
	struct sockaddr_in src[VSOCK_DGRAM_UDP_OUT_MAX], from;
	char buf[64];
	struct vsock_hdr h;
	uint32_t g;

	for (g = 0; g < VSOCK_DGRAM_UDP_OUT_MAX; g++)
		dg_tx(3000 + g, 5353, &g, 4, VIRTIO_VSOCK_OP_RW, 4);
	for (unsigned i = 0; i < VSOCK_DGRAM_UDP_OUT_MAX; i++) {
		ck_assert_int_eq(srv_recv(buf, sizeof(buf), &from), 4);
		memcpy(&g, buf, 4);
		ck_assert_uint_lt(g, VSOCK_DGRAM_UDP_OUT_MAX);
		src[g] = from;
	}
	for (unsigned i = 0; i < 3; i++)
		dg_tx(4000 + i, 5357, "x", 1, VIRTIO_VSOCK_OP_RW, 1);
	for (int t = 0; dgs = dstats(), S.udp_socket_err < 3; t++) {
		ck_assert_int_lt(t, WAIT_MS);
		usleep(1000);
	}
	ck_assert_uint_eq(S.udp_socket_err, 3);
	ck_assert_uint_eq(S.udp_out_evicted, 0);
	ck_assert_uint_eq(S.udp_out_socks, VSOCK_DGRAM_UDP_OUT_MAX);
	/* The least recently used flow still has its socket. */
	srv_send(&src[0], "kept", 4);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_eq(h.dst_port, 3000);
	ck_assert_int_eq(memcmp(buf, "kept", 4), 0);
}
END_TEST

/* 65 clients: the 64-entry table forgets the least recently used (counted
 * exactly); a guest reply to its port is dropped and counted, and when it
 * comes back it gets a new port. */
START_TEST(dgram_udp_forward_in_table_bound)
{
	enum { N = VSOCK_DGRAM_UDP_IN_MAX + 1 };
	int c[N];
	uint32_t hp[N];
	char buf[64];
	struct vsock_hdr h;

	for (unsigned i = 0; i < N; i++) {
		c[i] = udp_client();
		ck_assert_int_eq(send(c[i], &i, sizeof(i), 0), (ssize_t)sizeof(i));
		h = dg_rx(buf, sizeof(buf));
		ck_assert_uint_eq(h.dst_port, 7000);
		ck_assert_int_eq(memcmp(buf, &i, sizeof(i)), 0);
		hp[i] = h.src_port;
		for (unsigned j = 0; j < i; j++)
			ck_assert_uint_ne(hp[i], hp[j]);
	}
	dgs = dstats();
	ck_assert_uint_eq(S.udp_in_evicted, 1);
	ck_assert_uint_eq(S.udp_in_clients, VSOCK_DGRAM_UDP_IN_MAX);
	/* Client 0 is forgotten: a reply to its port reaches nobody. */
	dg_tx(7000, hp[0], "x", 1, VIRTIO_VSOCK_OP_RW, 1);
	ck_assert_uint_eq(dstats().dgram.tx_no_receiver, 1);
	dg_tx(7000, hp[N - 1], "y", 1, VIRTIO_VSOCK_OP_RW, 1);
	ck_assert_int_eq(dg_recv(c[N - 1], buf, sizeof(buf), WAIT_MS), 1);
	ck_assert(!readable(c[0], 50));
	/* It comes back: a new port, client 1 (now the oldest) forgotten. */
	ck_assert_int_eq(send(c[0], "back", 4, 0), 4);
	h = dg_rx(buf, sizeof(buf));
	ck_assert_uint_ne(h.src_port, hp[0]);
	for (unsigned j = 1; j < N; j++)
		ck_assert_uint_ne(h.src_port, hp[j]);
	dg_tx(7000, h.src_port, "z", 1, VIRTIO_VSOCK_OP_RW, 1);
	ck_assert_int_eq(dg_recv(c[0], buf, sizeof(buf), WAIT_MS), 1);
	dg_tx(7000, hp[1], "w", 1, VIRTIO_VSOCK_OP_RW, 1);
	dgs = dstats();
	ck_assert_uint_eq(S.tx_no_receiver, 2);
	ck_assert_uint_eq(S.udp_in_evicted, 2);
	ck_assert_uint_eq(S.udp_in_clients, VSOCK_DGRAM_UDP_IN_MAX);
	for (unsigned i = 0; i < N; i++)
		close(c[i]);
}
END_TEST

/* A guest reply counts as use of its client (docs/vsock.md: "each datagram
 * either way"): with the table full, the client the guest just answered
 * keeps its port, and the next new client takes the oldest other one's. */
START_TEST(dgram_udp_forward_in_reply_is_use)
{
	enum { N = VSOCK_DGRAM_UDP_IN_MAX + 1 };
	int c[N];
	uint32_t hp[N];
	char buf[64];
	struct vsock_hdr h;

	for (unsigned i = 0; i < N; i++) {
		c[i] = udp_client();
		if (i == N - 1) {
			/* Client 0, the oldest, answered by the guest. */
			dg_tx(7000, hp[0], "r", 1, VIRTIO_VSOCK_OP_RW, 1);
			ck_assert_int_eq(dg_recv(c[0], buf, sizeof(buf), WAIT_MS), 1);
		}
		ck_assert_int_eq(send(c[i], &i, sizeof(i), 0), (ssize_t)sizeof(i));
		h = dg_rx(buf, sizeof(buf));
		ck_assert_int_eq(memcmp(buf, &i, sizeof(i)), 0);
		hp[i] = h.src_port;
	}
	dg_tx(7000, hp[0], "s", 1, VIRTIO_VSOCK_OP_RW, 1);
	ck_assert_int_eq(dg_recv(c[0], buf, sizeof(buf), WAIT_MS), 1);
	dg_tx(7000, hp[1], "t", 1, VIRTIO_VSOCK_OP_RW, 1);
	dgs = dstats();
	ck_assert_uint_eq(S.udp_in_evicted, 1);
	ck_assert_uint_eq(S.tx_no_receiver, 1); /* client 1's, forgotten */
	ck_assert(!readable(c[1], 50));
	for (unsigned i = 0; i < N; i++)
		close(c[i]);
}
END_TEST

/* The largest UDP datagram (65507 bytes over IPv4) both ways; what UDP
 * cannot carry and empty datagrams are dropped and counted. */
START_TEST(dgram_udp_sizes)
{
	enum { UDP_MAX = 65507 };
	static uint8_t big[VSOCK_DGRAM_MAX], got[VSOCK_DGRAM_MAX + 8];
	struct sockaddr_in from;
	int c = udp_client(), sz = 4 << 20;
	struct vsock_hdr h;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + 5);
	ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	ck_assert_int_eq(send(c, big, UDP_MAX, 0), UDP_MAX);
	h = dg_rx(got, sizeof(got));
	ck_assert_uint_eq(h.len, UDP_MAX);
	ck_assert_int_eq(memcmp(got, big, UDP_MAX), 0);
	/* Empty: the device never puts len 0 on the wire. */
	ck_assert_int_eq(send(c, big, 0, 0), 0);
	WAIT_STATS(S.rx_too_big == 1);
	/* Guest → host. */
	dg_tx(1, 5353, big, UDP_MAX, VIRTIO_VSOCK_OP_RW, UDP_MAX);
	ck_assert_int_eq(srv_recv(got, sizeof(got), &from), UDP_MAX);
	ck_assert_int_eq(memcmp(got, big, UDP_MAX), 0);
	dg_tx(1, 5353, big, UDP_MAX + 1, VIRTIO_VSOCK_OP_RW, UDP_MAX + 1);
	dg_tx(1, 5353, big, VSOCK_DGRAM_MAX, VIRTIO_VSOCK_OP_RW, VSOCK_DGRAM_MAX);
	dgs = dstats();
	ck_assert_uint_eq(S.tx_host_err, 2); /* EMSGSIZE */
	ck_assert_uint_eq(S.tx_pkts, 1);
	ck_assert_uint_eq(S.rx_pkts, 1);
	ck_assert(!readable(udp_srv, 50));
	rx_none(50);
	close(c);
}
END_TEST

/* A driver without F_DGRAM: UDP datagrams are read and dropped, and no
 * client is given a port for them. */
static void setup_dgram_udp_unacked(void)
{
	udp_fixture();
	g_features = 0;
	setup();
}

START_TEST(dgram_udp_no_driver)
{
	int c = udp_client();

	ck_assert_int_eq(send(c, "hi", 2, 0), 2);
	ck_assert_int_eq(send(c, "hi", 2, 0), 2);
	WAIT_STATS(S.rx_no_driver == 2);
	ck_assert_uint_eq(S.udp_in_clients, 0);
	ck_assert_uint_eq(S.queued, 0);
	close(c);
}
END_TEST

/* Start-up errors: a forward_in address in use, a forward_out port among
 * the client ports. */
START_TEST(dgram_udp_create_errors)
{
	struct vsock_dgram_udp_fwd in = { .port = 1, .sa = (struct sockaddr *)&udp_in_sa,
					  .salen = sizeof(udp_in_sa) };
	struct vsock_dgram_udp_fwd out = { .port = VSOCK_DGRAM_UDP_IN_PORT_FIRST,
					   .sa = (struct sockaddr *)&udp_srv_sa,
					   .salen = sizeof(udp_srv_sa) };
	struct vsock_dgram *g;
	char path[128], err[256], want[128], a[VSOCK_ADDR_STR_MAX];

	snprintf(path, sizeof(path), "%s/other.sock", dir);
	ck_assert_int_eq(vsock_dgram_create(path, &g, err, sizeof(err)), 0);
	/* The device's own forward_in holds udp_in_sa. */
	ck_assert_int_eq(vsock_dgram_add_udp(g, NULL, 0, &in, 1, err, sizeof(err)), -EADDRINUSE);
	snprintf(want, sizeof(want), "vsock forward udp:%s: Address already in use",
		 vsock_sock_addr_str((struct sockaddr *)&udp_in_sa, a, sizeof(a)));
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(vsock_dgram_add_udp(g, &out, 1, NULL, 0, err, sizeof(err)), -EINVAL);
	/* More listeners than an epoll tag's index can name: refused before
	 * any is bound (one past it would be read as listener 0, its own
	 * socket left readable for ever: the I/O thread spinning). */
	{
		static struct vsock_dgram_udp_fwd many[VSOCK_DGRAM_UDP_LISTENERS_MAX + 1];

		for (unsigned i = 0; i < VSOCK_DGRAM_UDP_LISTENERS_MAX + 1; i++)
			many[i] = in;
		ck_assert_int_eq(vsock_dgram_add_udp(g, NULL, 0, many,
						     VSOCK_DGRAM_UDP_LISTENERS_MAX + 1,
						     err, sizeof(err)), -EINVAL);
		ck_assert_str_eq(err, "vsock forward udp: 65537 listeners, at most 65536");
	}
	/* Still usable afterwards: a good one. */
	out.port = 53;
	ck_assert_int_eq(vsock_dgram_add_udp(g, &out, 1, NULL, 0, err, sizeof(err)), 0);
	vsock_dgram_destroy(g);
}
END_TEST

static Suite *device_suite(void)
{
	Suite *s = suite_create("vsock_device");
	TCase *tc;

	tc = tcase_create("notify_plain");
	tcase_add_checked_fixture(tc, setup_one, teardown);
	tcase_add_test(tc, notify_suppression_no_stall);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify_eventidx");
	tcase_add_checked_fixture(tc, setup_eventidx, teardown);
	tcase_add_test(tc, notify_suppression_no_stall);
	tcase_add_test(tc, guest_flow_full_life);
	tcase_add_test(tc, host_to_guest_within_credit);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("rx_layouts");
	tcase_add_checked_fixture(tc, setup_split, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, rx_layouts_carry_data);
	tcase_add_test(tc, guest_flow_full_life);
	suite_add_tcase(s, tc);
	tc = tcase_create("rx_tiny");
	tcase_add_checked_fixture(tc, setup_tiny, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, rx_layouts_carry_data);
	suite_add_tcase(s, tc);

	tc = tcase_create("device");
	tcase_add_checked_fixture(tc, setup_one, teardown);
	tcase_add_test(tc, rx_layouts_carry_data);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, config_space_and_identity);
	tcase_add_test(tc, conn_fixed_cost);
	tcase_add_test(tc, guest_flow_full_life);
	tcase_add_test(tc, guest_half_close_reaches_host_as_eof);
	tcase_add_test(tc, host_shut_wr_then_close_reaches_guest);
	tcase_add_test(tc, guest_connect_refused);
	tcase_add_test(tc, bad_packets);
	tcase_add_test(tc, credit_overrun_rst);
	tcase_add_test(tc, host_to_guest_within_credit);
	tcase_add_test(tc, guest_to_host_backpressure);
	tcase_add_test(tc, host_initiated_flow);
	tcase_add_test(tc, host_initiated_refused_by_guest);
	tcase_add_test(tc, host_initiated_bad_line);
	tcase_add_test(tc, host_initiated_guest_silent_times_out);
	tcase_add_test(tc, driver_reset_drops_flows);
	tcase_add_test(tc, seq_not_negotiated_rst);
	tcase_add_test(tc, rst_flood_every_request_answered);
	tcase_add_test(tc, listener_out_of_fds);
	tcase_add_test(tc, host_flows_leave_no_fds);
	suite_add_tcase(s, tc);

	/* Backstops for hangs only (each wait has its own bound): at low
	 * priority on a loaded machine these tests take many times longer. */
	tc = tcase_create("datapath");
	tcase_add_checked_fixture(tc, setup_one, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, partial_writes_keep_every_byte);
	tcase_add_test(tc, host_shut_rd_guest_keeps_sending);
	tcase_add_test(tc, epipe_mid_backlog_credits_it);
	tcase_add_test(tc, shutdown_with_data_buffered);
	tcase_add_test(tc, host_to_guest_credit_below_a_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("seqpacket");
	tcase_add_checked_fixture(tc, setup_seq, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, seq_guest_to_host_boundaries);
	tcase_add_test(tc, seq_host_to_guest_boundaries);
	tcase_add_test(tc, seq_host_message_respects_credit);
	tcase_add_test(tc, seq_hybrid_listener);
	tcase_add_test(tc, seq_hybrid_handshake_messages);
	tcase_add_test(tc, seq_guest_messages_queue_when_host_full);
	tcase_add_test(tc, seq_driver_stream_still_works);
	tcase_add_test(tc, seq_random_boundaries);
	suite_add_tcase(s, tc);

	tc = tcase_create("seqpacket_split_rx");
	tcase_add_checked_fixture(tc, setup_seq_split, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, seq_host_to_guest_boundaries);
	tcase_add_test(tc, seq_random_boundaries);
	suite_add_tcase(s, tc);

	tc = tcase_create("forwards");
	tcase_add_checked_fixture(tc, setup_fwd, teardown_fwd);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tcp_forward_out_connects);
	tcase_add_test(tc, tcp_forward_out_refused);
	tcase_add_test(tc, unix_forward_out_path);
	tcase_add_test(tc, unix_forward_in_no_handshake);
	tcase_add_test(tc, unix_forward_in_hang_up_before_accept);
	tcase_add_test(tc, connection_limit);
	tcase_add_test(tc, socket_files_removed_and_stale_replaced);
	tcase_add_test(tc, forward_in_address_in_use);
	tcase_add_test(tc, long_uds_path_keeps_stream_listener);
	tcase_add_test(tc, foreign_socket_file_not_removed);
	tcase_add_test(tc, forward_create_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake");
	tcase_add_checked_fixture(tc, setup_one, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, connect_then_close_not_handed_over);
	tcase_add_test(tc, handshake_deadline_and_half_close);
	suite_add_tcase(s, tc);
	tc = tcase_create("handshake_flood");
	tcase_add_checked_fixture(tc, setup_flood, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, handshake_survives_idle_flood);
	suite_add_tcase(s, tc);

	tc = tcase_create("dgram");
	tcase_add_checked_fixture(tc, setup_dgram, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dgram_echo_both_ways);
	tcase_add_test(tc, dgram_larger_than_rx_buffer_dropped);
	tcase_add_test(tc, dgram_bad_ops_dropped);
	tcase_add_test(tc, dgram_len_chain_credit_fields_empty_buffer);
	tcase_add_test(tc, dgram_host_flood_counted);
	tcase_add_test(tc, dgram_guest_flood_counted);
	tcase_add_test(tc, dgram_flood_does_not_starve_streams);
	tcase_add_test(tc, dgram_socket_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("dgram_many");
	tcase_add_checked_fixture(tc, setup_dgram_many, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dgram_queue_fills_every_free_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("dgram_big");
	tcase_add_checked_fixture(tc, setup_dgram_big, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, dgram_largest_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("dgram_udp");
	tcase_add_checked_fixture(tc, setup_dgram_udp, teardown_dgram_udp);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dgram_udp_forward_out_routes_replies);
	tcase_add_test(tc, dgram_udp_forward_in_clients);
	tcase_add_test(tc, dgram_udp_forward_out_table_bound);
	tcase_add_test(tc, dgram_udp_forward_out_connect_fails_keeps_table);
	tcase_add_test(tc, dgram_udp_forward_in_table_bound);
	tcase_add_test(tc, dgram_udp_forward_in_reply_is_use);
	tcase_add_test(tc, dgram_udp_sizes);
	tcase_add_test(tc, dgram_udp_create_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("dgram_udp_unacked");
	tcase_add_checked_fixture(tc, setup_dgram_udp_unacked, teardown_dgram_udp);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, dgram_udp_no_driver);
	suite_add_tcase(s, tc);

	tc = tcase_create("dgram_unacked");
	tcase_add_checked_fixture(tc, setup_dgram_unacked, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, dgram_not_negotiated_dropped);
	suite_add_tcase(s, tc);

	tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, lock_setup, lock_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lock_exclusive);
	tcase_add_test(tc, lock_race_one_owner);
	tcase_add_test(tc, remove_all_socket_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(device_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
