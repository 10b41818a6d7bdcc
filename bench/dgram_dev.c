// SPDX-License-Identifier: MIT
/*
 * bench/dgram_dev: a host-only, device-level benchmark of vsock datagrams
 * (issue 14), for hosts without /dev/kvm.  bench/bench.py runs it (section
 * "dgram", docs/PERFORMANCE.md "Datagrams").
 *
 * What runs: the real vsock device (vsock/) behind the real virtio-mmio
 * transport (virtio/), its real I/O loop on its own thread (under vmm
 * run's seccomp filter for that thread), real host Unix sockets, and the
 * unit tests' fake guest driver (tests/unit/virtio_test_driver.h: rings in
 * malloc'd "guest RAM", registers through the MMIO bus) on the main thread
 * standing in for the vCPU.  Interrupts are an eventfd the driver sleeps
 * on; notifications are an eventfd the I/O loop turns into vmmio_notify()
 * (as --notify ioeventfd, the default) or a QueueNotify write through the
 * bus on the driver's thread (notify=mmio).  Rings are 256 entries (what
 * the transport offers), rx buffers one descriptor each, tx chains a
 * header descriptor + a payload descriptor; the driver kicks only when the
 * device has not set VIRTQ_USED_F_NO_NOTIFY, as Linux does.
 *
 * What it does NOT measure: a guest (its network stack, copies, syscalls),
 * KVM exits or interrupt injection, vCPU scheduling.  The numbers are the
 * device model plus host sockets, an upper bound for what a guest sees.
 *
 *   dgram_dev g2h size=S count=N        guest → host datagrams of S bytes,
 *                                       as fast as the driver can post, to a
 *                                       host receiver at <uds>_dgram_7000
 *   dgram_dev h2g size=S count=N [rxrate=R]
 *                                       a host sender (blocking send) to
 *                                       <uds>_dgram, "DGRAM 1234 7000\n" +
 *                                       S bytes; the driver re-posts each rx
 *                                       buffer at once, or (R > 0) at most R
 *                                       buffers per second
 *   dgram_dev stream dir=g2h|h2g bytes=B [flood=none|g2h|h2g] [fsize=S]
 *                 [finflight=F]         a guest-initiated stream to <uds>_5000
 *                                       carrying B bytes one way, alone or
 *                                       while datagrams of S bytes flood (the
 *                                       host sender above, or the driver
 *                                       keeping F datagrams in the tx ring,
 *                                       default 32 of its 128 chains);
 *                                       flood=spin: a host thread that only
 *                                       burns CPU (the control)
 *   common: notify=ioeventfd|mmio
 *
 * Every datagram carries a sequence number (its first 8 bytes) and every
 * receiver checks the order and counts the gaps; stream bytes are checked
 * against a pattern.  The run fails (exit 1, "error=...") on any mismatch:
 * datagrams delivered + dropped (by the device's counters, by reason) must
 * equal datagrams sent, exactly, and equal what the receiver counted.
 * Output: one line "dgram_dev: MODE ok key=value ..." (times
 * CLOCK_MONOTONIC; rates per second; MB = 10^6 bytes).  Unix sockets only.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "tests/unit/virtio_test_driver.h"
#include "tests/unit/vsock_test_dev.h"
#include "base/evloop.h"
#include "vmm/sandbox.h"
#include "vsock/device.h"
#include "vsock/packet.h"

#define BASE      0xd0000000ull
#define IRQ       5
#define GCID      3u
#define QN        256u              /* ring entries (VSOCK_QUEUE_NUM_MAX) */
#define NSLOT     (QN / 2)          /* tx chains: header + payload */
#define RING(q)   (0x10000ull * (q))
#define DESC(q)   RING(q)
#define AVAIL(q)  (RING(q) + 0x1000)
#define USED(q)   (RING(q) + 0x2000)
#define TXHDR(i)  (0x40000ull + 64ull * (i))
#define TXPAY(i)  (0x100000ull + 0x10000ull * (i))
#define RXMEM(i)  (0x1000000ull + 0x10100ull * (i))
#define MEMSZ     (40u << 20)
#define RXQ       VSOCK_QUEUE_RX
#define TXQ       VSOCK_QUEUE_TX

#define DG_GPORT  1234u             /* guest datagram port */
#define DG_HPORT  7000u             /* host datagram port */
#define ST_GPORT  1500u             /* guest stream port */
#define ST_HPORT  5000u             /* host stream port: <uds>_5000 */
#define G_BUF     (256u << 10)      /* the driver's buf_alloc (Linux default) */
#define PAT       65521u            /* stream pattern period (prime) */
#define LINE      "DGRAM 1234 7000\n"
#define LINE_LEN  (sizeof(LINE) - 1)
#define TIMEOUT_NS (120ull * 1000000000ull)

static const char *mode = "?";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	printf("dgram_dev: %s error=\"", mode);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\"\n");
	fflush(stdout);
	_exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* --- the device and the fake driver ------------------------------------ */

static struct {
	struct td_mem mem;
	struct bus bus;
	struct virtio_dev *vdev;
	struct vsock_dev *dev;
	struct evloop *ev;
	pthread_t io;
	struct td_ring rx, tx, evq;
	char dir[32], uds[64];
	int irqfd;                  /* the device's interrupts (eventfd) */
	int kickfd[2];              /* notify=ioeventfd: rx, tx */
	struct ev_source kick_src[2];
	bool mmio_notify;
	uint32_t rxbuf;             /* rx buffer size, header included */
	uint16_t free_slot[NSLOT];
	unsigned nfree;
	uint16_t pend[QN];          /* consumed rx buffers not yet re-posted */
	unsigned npend;
	double rxrate, tokens;      /* rx re-posts per second (0: at once) */
	uint64_t tok_ns;
	uint64_t kicks[2], irqs;
} B;

/* What the driver sends and receives. */
static uint8_t pattern[PAT + VSOCK_MAX_PKT_LEN];

static struct {
	/* datagrams the driver sends (g2h) */
	uint32_t size;
	uint64_t tx_left, sent;
	unsigned max_inflight, inflight; /* datagram chains in the tx ring */
	bool dg_slot[NSLOT];
	/* datagrams it receives (h2g) */
	uint64_t rcvd, rbytes, next_seq, gaps, rx_size;
	/* the stream */
	bool connected, credit_due;
	uint64_t tx_left_bytes, tx_off, rx_off, rx_want, t_done;
	uint32_t pkt, peer_buf, peer_fwd, fwd_cnt, fwd_sent;
	uint32_t credit_ups;
} D;

static void io_kick_cb(void *opaque, uint32_t events)
{
	unsigned q = (unsigned)(uintptr_t)opaque;
	uint64_t v;

	(void)events;
	if (read(B.kickfd[q], &v, sizeof(v)) == sizeof(v))
		vmmio_notify(B.vdev, q);
}

static void raise_irq(void *opaque)
{
	uint64_t one = 1;

	(void)opaque;
	if (write(B.irqfd, &one, sizeof(one)) < 0)
		abort();
}

static void *io_main(void *arg)
{
	char err[256];

	(void)arg;
	if (!sandbox_unsupported() && sandbox_enter(SANDBOX_IO, 0, err, sizeof(err)))
		die("sandbox: %s", err);
	evloop_run(B.ev);
	return NULL;
}

static void post_rx(unsigned i)
{
	td_desc(&B.rx, i, RXMEM(i), B.rxbuf, VIRTQ_DESC_F_WRITE, 0);
	td_post(&B.rx, (uint16_t)i);
}

static void kick(unsigned q)
{
	uint64_t one = 1;

	B.kicks[q]++;
	if (B.mmio_notify)
		td_wr(&B.bus, BASE, VMMIO_QUEUE_NOTIFY, q);
	else if (write(B.kickfd[q], &one, sizeof(one)) != sizeof(one))
		die("kick: %s", strerror(errno));
}

/* virtqueue_kick_prepare() without EVENT_IDX: the avail idx store before
 * the load of the device's flag (the device has the mirror barrier). */
static bool kick_wanted(struct td_ring *r)
{
	uint16_t *f = td_gpa(r->m, r->used);

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(le16toh(__atomic_load_n(f, __ATOMIC_ACQUIRE)) & VIRTQ_USED_F_NO_NOTIFY);
}

static void dev_up(uint32_t rxbuf, bool dgram)
{
	struct vmmio_params p = { .base = BASE, .irq = IRQ, .gm = &B.mem.gm };
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = B.uds, .dgram = dgram };
	char err[256];

	snprintf(B.dir, sizeof(B.dir), "/tmp/dgdev-XXXXXX");
	if (!mkdtemp(B.dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(B.uds, sizeof(B.uds), "%s/v.sock", B.dir);
	td_mem_init(&B.mem, MEMSZ);
	if (evloop_create(&B.ev))
		die("evloop_create");
	dp.ev = B.ev;
	dp.err = err;
	dp.errlen = sizeof(err);
	if (test_dev_create(&dp, &B.dev))
		die("device: %s", err);
	p.dev = B.dev;
	p.ops = vsock_dev_ops(B.dev);
	if (vmmio_create(&B.bus, &p, &B.vdev))
		die("vmmio_create");
	vsock_dev_attach(B.dev, B.vdev);
	B.irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (B.irqfd < 0)
		die("eventfd: %s", strerror(errno));
	vmmio_set_irq(B.vdev, raise_irq, NULL);
	for (unsigned q = 0; q < 2 && !B.mmio_notify; q++) {
		B.kickfd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (B.kickfd[q] < 0 || ev_add(B.ev, &B.kick_src[q], B.kickfd[q], EPOLLIN,
					      io_kick_cb, (void *)(uintptr_t)q))
			die("ioeventfd");
	}
	if (!sandbox_unsupported() &&
	    sandbox_prepare(SANDBOX_KIND_BIT(SANDBOX_IO), NULL, err, sizeof(err)))
		die("sandbox: %s", err);
	if (pthread_create(&B.io, NULL, io_main, NULL))
		die("pthread_create");

	if (!(td_negotiate(&B.bus, BASE, (1ull << VIRTIO_F_VERSION_1) |
			   (dgram ? 1ull << VSOCK_F_DGRAM : 0)) & VIRTIO_STATUS_FEATURES_OK))
		die("features refused");
	td_ring_init(&B.rx, &B.mem, QN, DESC(0), AVAIL(0), USED(0));
	td_ring_init(&B.tx, &B.mem, QN, DESC(1), AVAIL(1), USED(1));
	td_ring_init(&B.evq, &B.mem, QN, DESC(2), AVAIL(2), USED(2));
	if (td_setup_queue(&B.bus, BASE, 0, &B.rx) != 1 ||
	    td_setup_queue(&B.bus, BASE, 1, &B.tx) != 1 ||
	    td_setup_queue(&B.bus, BASE, 2, &B.evq) != 1)
		die("queue setup");
	td_wr(&B.bus, BASE, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	B.rxbuf = rxbuf;
	for (unsigned i = 0; i < QN; i++)
		post_rx(i);
	kick(RXQ);
	for (unsigned i = 0; i < NSLOT; i++)
		B.free_slot[B.nfree++] = (uint16_t)(NSLOT - 1 - i);
}

static void dev_down(void)
{
	char cmd[64];

	evloop_stop(B.ev);
	pthread_join(B.io, NULL);
	for (unsigned q = 0; q < 2 && !B.mmio_notify; q++)
		close(B.kickfd[q]);
	vsock_dev_destroy(B.dev);
	evloop_destroy(B.ev);
	vmmio_destroy(B.vdev);
	close(B.irqfd);
	td_mem_free(&B.mem);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", B.dir);
	if (system(cmd) != 0)
		die("%s failed", cmd);
}

static struct vsock_dev_stats dstats(void)
{
	struct vsock_dev_stats st;

	vsock_dev_get_stats(B.dev, &st);
	return st;
}

/* Put a packet whose payload (h->len bytes) is already at TXPAY(slot). */
static void tx_publish(unsigned slot, const struct vsock_hdr *h)
{
	vsock_hdr_encode(h, td_gpa(&B.mem, TXHDR(slot)));
	td_desc(&B.tx, 2 * slot, TXHDR(slot), VSOCK_HDR_SIZE, h->len ? VIRTQ_DESC_F_NEXT : 0,
		(uint16_t)(2 * slot + 1));
	if (h->len)
		td_desc(&B.tx, 2 * slot + 1, TXPAY(slot), h->len, 0, 0);
	td_post(&B.tx, (uint16_t)(2 * slot));
}

static bool tx_reap(void)
{
	uint16_t u = td_used_idx_acquire(&B.tx);
	bool any = false;

	while (B.tx.last_used != u) {
		uint32_t id, len;

		td_used_elem(&B.tx, B.tx.last_used++, &id, &len);
		if (id >= QN || (id & 1) || B.nfree == NSLOT)
			die("tx used id %u", id);
		B.free_slot[B.nfree++] = (uint16_t)(id / 2);
		if (D.dg_slot[id / 2]) {
			D.dg_slot[id / 2] = false;
			D.inflight--;
		}
		any = true;
	}
	return any;
}

/* Re-post consumed rx buffers: all at once, or as the rate allows. */
static void rx_repost(void)
{
	unsigned n = B.npend;

	if (B.rxrate > 0) {
		uint64_t t = now_ns();
		double cap = B.rxrate / 1000 > 1 ? B.rxrate / 1000 : 1; /* 1 ms burst */

		B.tokens += (double)(t - B.tok_ns) * 1e-9 * B.rxrate;
		B.tok_ns = t;
		if (B.tokens > cap)
			B.tokens = cap;
		if (n > (unsigned)B.tokens)
			n = (unsigned)B.tokens;
		B.tokens -= n;
	}
	if (!n)
		return;
	for (unsigned i = 0; i < n; i++)
		post_rx(B.pend[--B.npend]);
	if (kick_wanted(&B.rx))
		kick(RXQ);
}

/* --- what the driver does with packets ----------------------------------- */


static struct vsock_hdr gh(uint16_t type, uint16_t op, uint32_t sport, uint32_t dport,
			   uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = GCID, .dst_cid = VSOCK_HOST_CID, .src_port = sport,
		.dst_port = dport, .len = len, .type = type, .op = op,
	};

	if (type == VIRTIO_VSOCK_TYPE_STREAM) {
		h.buf_alloc = G_BUF;
		h.fwd_cnt = D.fwd_cnt;
	}
	return h;
}

static void rx_stream(const struct vsock_hdr *h, const uint8_t *p)
{
	if (h->src_port != ST_HPORT || h->dst_port != ST_GPORT)
		die("stream packet %u -> %u", h->src_port, h->dst_port);
	D.peer_buf = h->buf_alloc;
	D.peer_fwd = h->fwd_cnt;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		D.connected = true;
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (D.rx_off + h->len > D.rx_want ||
		    memcmp(p, pattern + D.rx_off % PAT, h->len) != 0)
			die("stream data wrong at %llu", (unsigned long long)D.rx_off);
		D.rx_off += h->len;
		D.fwd_cnt += h->len;
		if (D.rx_off == D.rx_want)
			D.t_done = now_ns();
		/* Linux: an update once the free space it last told falls
		 * below one maximum packet. */
		if (D.fwd_cnt - D.fwd_sent > G_BUF - VSOCK_MAX_PKT_LEN)
			D.credit_due = true;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		D.credit_due = true;
		break;
	default:
		die("stream op %u", h->op);
	}
}

static void rx_dgram(const struct vsock_hdr *h, const uint8_t *p)
{
	uint64_t seq;

	if (h->src_port != DG_HPORT || h->dst_port != DG_GPORT || h->len != D.rx_size ||
	    h->src_cid != VSOCK_HOST_CID || h->dst_cid != GCID)
		die("datagram %u -> %u len %u", h->src_port, h->dst_port, h->len);
	memcpy(&seq, p, sizeof(seq));
	if (seq < D.next_seq)
		die("datagram %llu after %llu", (unsigned long long)seq,
		    (unsigned long long)D.next_seq);
	D.gaps += seq - D.next_seq;
	D.next_seq = seq + 1;
	D.rcvd++;
	D.rbytes += h->len;
}

static bool rx_poll(void)
{
	uint16_t u = td_used_idx_acquire(&B.rx);
	bool any = false;

	while (B.rx.last_used != u) {
		uint32_t id, len;
		struct vsock_hdr h;

		td_used_elem(&B.rx, B.rx.last_used++, &id, &len);
		if (id >= QN)
			die("rx used id %u", id);
		/* < 44: a buffer returned empty (a datagram too big for it
		 * was dropped); Linux re-posts it. */
		if (len >= VSOCK_HDR_SIZE) {
			const uint8_t *p = td_gpa(&B.mem, RXMEM(id) + VSOCK_HDR_SIZE);

			vsock_hdr_decode(td_gpa(&B.mem, RXMEM(id)), &h);
			if (len != VSOCK_HDR_SIZE + h.len)
				die("rx used len %u for a %u-byte packet", len, h.len);
			if (h.type == VIRTIO_VSOCK_TYPE_DGRAM)
				rx_dgram(&h, p);
			else
				rx_stream(&h, p);
		}
		B.pend[B.npend++] = (uint16_t)id;
		any = true;
	}
	rx_repost();
	return any;
}

static bool post_dgram(void)
{
	unsigned s;
	struct vsock_hdr h;

	if (!D.tx_left || !B.nfree || D.inflight >= D.max_inflight)
		return false;
	s = B.free_slot[--B.nfree];
	D.dg_slot[s] = true;
	D.inflight++;
	memcpy(td_gpa(&B.mem, TXPAY(s)), &D.sent, sizeof(D.sent));
	h = gh(VIRTIO_VSOCK_TYPE_DGRAM, VIRTIO_VSOCK_OP_RW, DG_GPORT, DG_HPORT, D.size);
	tx_publish(s, &h);
	D.sent++;
	D.tx_left--;
	return true;
}

static bool post_stream(void)
{
	uint32_t credit = D.peer_buf - (uint32_t)(D.tx_off - D.peer_fwd), n = D.pkt;
	unsigned s;
	struct vsock_hdr h;

	if (!D.tx_left_bytes || !B.nfree || !credit || credit > D.peer_buf)
		return false;
	if (n > credit)
		n = credit;
	if (n > D.tx_left_bytes)
		n = (uint32_t)D.tx_left_bytes;
	s = B.free_slot[--B.nfree];
	memcpy(td_gpa(&B.mem, TXPAY(s)), pattern + D.tx_off % PAT, n);
	h = gh(VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RW, ST_GPORT, ST_HPORT, n);
	tx_publish(s, &h);
	D.tx_off += n;
	D.tx_left_bytes -= n;
	return true;
}

static bool post_ctrl(uint16_t op)
{
	struct vsock_hdr h;

	if (!B.nfree)
		return false;
	h = gh(VIRTIO_VSOCK_TYPE_STREAM, op, ST_GPORT, ST_HPORT, 0);
	tx_publish(B.free_slot[--B.nfree], &h);
	if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE) {
		D.fwd_sent = D.fwd_cnt;
		D.credit_ups++;
	}
	return true;
}

/* Fill free tx slots: a due credit update first, then the stream and the
 * datagram flood one packet each in turn; kick if the device asks. */
static bool tx_produce(void)
{
	unsigned n = 0;

	if (D.credit_due && post_ctrl(VIRTIO_VSOCK_OP_CREDIT_UPDATE)) {
		D.credit_due = false;
		n++;
	}
	for (;;) {
		bool a = post_stream(), b = post_dgram();

		if (!a && !b)
			break;
		n += a + b;
	}
	if (n && kick_wanted(&B.tx))
		kick(TXQ);
	return n > 0;
}

/* Sleep until an interrupt, a re-post is due, or 1 ms (host-side events
 * that do not touch the rings). */
static void idle_wait(void)
{
	struct pollfd p = { .fd = B.irqfd, .events = POLLIN };
	struct timespec ts = { 0, 1000000 };
	uint64_t v;

	if (B.rxrate > 0 && B.npend) {
		double ns = (1 - B.tokens) / B.rxrate * 1e9;

		if (ns < 1e6)
			ts.tv_nsec = ns < 1000 ? 1000 : (long)ns;
	}
	if (ppoll(&p, 1, &ts, NULL) == 1 && read(B.irqfd, &v, sizeof(v)) == sizeof(v)) {
		B.irqs++;
		td_wr(&B.bus, BASE, VMMIO_INTERRUPT_ACK,
		      td_rd(&B.bus, BASE, VMMIO_INTERRUPT_STATUS));
	}
}

/* The driver's loop until done() (or the time-out). */
static void drive(bool (*done)(void), const char *what)
{
	uint64_t end = now_ns() + TIMEOUT_NS;

	for (;;) {
		bool busy = tx_reap();

		busy |= rx_poll();
		busy |= tx_produce();
		if (done())
			return;
		if (now_ns() > end)
			die("timed out waiting for %s", what);
		if (!busy)
			idle_wait();
	}
}

/* --- host threads ---------------------------------------------------------- */

static struct {
	atomic_bool stop;
	/* g2h datagram receiver */
	atomic_ullong rcvd, rbytes, gaps, last_ns;
	uint64_t next_seq;
	uint32_t size;
	/* h2g datagram sender */
	atomic_ullong sent, sent_ns;
	uint64_t count;
	/* stream peer */
	int lfd;
	bool h2g;
	atomic_bool go;             /* the stream's host writer may start */
	uint64_t bytes;
	atomic_ullong got, done_ns;
} H;

static int host_bind(const char *suffix, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s%s", B.uds, suffix);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind %s: %s", sa.sun_path, strerror(errno));
	return fd;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static void *dg_receiver(void *arg)
{
	static uint8_t buf[LINE_LEN + VSOCK_DGRAM_MAX + 1];
	int fd = (int)(intptr_t)arg;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		uint64_t seq;

		if (n < 0) {
			if (atomic_load(&H.stop))
				break;
			readable(fd, 10);
			continue;
		}
		if ((size_t)n != LINE_LEN + H.size || memcmp(buf, LINE, LINE_LEN))
			die("host received %zd bytes: %.16s", n, buf);
		memcpy(&seq, buf + LINE_LEN, sizeof(seq));
		if (seq < H.next_seq)
			die("host received %llu after %llu", (unsigned long long)seq,
			    (unsigned long long)H.next_seq);
		atomic_fetch_add(&H.gaps, seq - H.next_seq);
		H.next_seq = seq + 1;
		atomic_fetch_add(&H.rbytes, (uint64_t)H.size);
		atomic_store(&H.last_ns, now_ns());
		atomic_fetch_add(&H.rcvd, 1);
	}
	close(fd);
	return NULL;
}

/* Blocking sends as fast as the device's socket takes them (the kernel
 * holds at most net.unix.max_dgram_qlen of them). */
static void *dg_sender(void *arg)
{
	static uint8_t buf[LINE_LEN + VSOCK_DGRAM_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 1, 0 };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint64_t seq = 0;

	(void)arg;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s%s", B.uds, VSOCK_DGRAM_SUFFIX);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		die("sender: %s", strerror(errno));
	memcpy(buf, LINE, LINE_LEN);
	memset(buf + LINE_LEN, 0x5a, sizeof(buf) - LINE_LEN);
	while (seq < H.count && !atomic_load(&H.stop)) {
		memcpy(buf + LINE_LEN, &seq, sizeof(seq));
		if (send(fd, buf, LINE_LEN + H.size, 0) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("host send: %s", strerror(errno));
		}
		seq++;
		atomic_store(&H.sent, seq);
	}
	atomic_store(&H.sent_ns, now_ns());
	close(fd);
	return NULL;
}

static void *stream_peer(void *arg)
{
	static uint8_t buf[256 << 10];
	uint64_t off = 0;
	int fd;

	(void)arg;
	if (!readable(H.lfd, 10000) || (fd = accept(H.lfd, NULL, NULL)) < 0)
		die("stream accept: %s", strerror(errno));
	while (H.h2g && !atomic_load(&H.go))
		nanosleep(&(struct timespec){ 0, 10000 }, NULL);
	while (off < H.bytes) {
		size_t want = H.bytes - off > sizeof(buf) ? sizeof(buf) : H.bytes - off;
		ssize_t n;

		if (H.h2g) {
			if (want > VSOCK_MAX_PKT_LEN)
				want = VSOCK_MAX_PKT_LEN;
			n = write(fd, pattern + off % PAT, want);
		} else {
			n = read(fd, buf, want);
			for (ssize_t k = 0; k < n; k += VSOCK_MAX_PKT_LEN) {
				size_t c = (size_t)(n - k) < VSOCK_MAX_PKT_LEN ? (size_t)(n - k)
									: VSOCK_MAX_PKT_LEN;

				if (memcmp(buf + k, pattern + (off + (uint64_t)k) % PAT, c))
					die("host stream data wrong near %llu",
					    (unsigned long long)off);
			}
		}
		if (n <= 0)
			die("stream %s: %zd %s", H.h2g ? "write" : "read", n, strerror(errno));
		off += (uint64_t)n;
		atomic_store(&H.got, off);
	}
	atomic_store(&H.done_ns, now_ns());
	while (!atomic_load(&H.stop))
		readable(fd, 10);
	close(fd);
	return NULL;
}

/* --- the modes --------------------------------------------------------------- */

static uint64_t arg_u64(int argc, char **argv, const char *key, uint64_t def)
{
	size_t k = strlen(key);

	for (int i = 2; i < argc; i++)
		if (strncmp(argv[i], key, k) == 0 && argv[i][k] == '=')
			return strtoull(argv[i] + k + 1, NULL, 0);
	return def;
}

static const char *arg_str(int argc, char **argv, const char *key, const char *def)
{
	size_t k = strlen(key);

	for (int i = 2; i < argc; i++)
		if (strncmp(argv[i], key, k) == 0 && argv[i][k] == '=')
			return argv[i] + k + 1;
	return def;
}

static void print_common(void)
{
	double la[3] = { 0 };
	struct vsock_dev_stats st = dstats();

	if (getloadavg(la, 3) < 1)
		la[0] = -1;
	printf(" rx_waits=%llu notify=%s kicks_tx=%llu kicks_rx=%llu irqs=%llu load1=%.2f\n",
	       (unsigned long long)st.rx_waits, B.mmio_notify ? "mmio" : "ioeventfd",
	       (unsigned long long)B.kicks[TXQ], (unsigned long long)B.kicks[RXQ],
	       (unsigned long long)B.irqs, la[0]);
}

static uint64_t g2h_dropped(const struct vsock_dgram_stats *s)
{
	return s->tx_no_receiver + s->tx_host_full + s->tx_host_err;
}

static uint64_t h2g_dropped(const struct vsock_dgram_stats *s)
{
	return s->rx_bad_line + s->rx_too_big + s->rx_no_driver + s->rx_queue_full +
	       s->rx_buf_small;
}

static uint64_t g_count;

static bool g2h_sent(void)
{
	return D.sent == g_count && B.nfree == NSLOT;
}

static bool g2h_received(void)
{
	struct vsock_dev_stats st = dstats();

	return atomic_load(&H.rcvd) == st.dgram.tx_pkts;
}

/* Guest → host flood of `count` datagrams. */
static void run_g2h(uint32_t size, uint64_t count)
{
	struct vsock_dev_stats st;
	pthread_t t;
	uint64_t t0, t1, rcvd, drops;

	dev_up(4096 + VSOCK_HDR_SIZE, true);
	H.size = size;
	if (pthread_create(&t, NULL, dg_receiver, (void *)(intptr_t)host_bind("_dgram_7000",
									 SOCK_DGRAM)))
		die("pthread_create");
	for (unsigned i = 0; i < NSLOT; i++)
		memset(td_gpa(&B.mem, TXPAY(i)), 0xa5, size);
	D.size = size;
	D.max_inflight = NSLOT;
	D.tx_left = g_count = count;
	t0 = now_ns();
	drive(g2h_sent, "the tx ring");
	t1 = now_ns();
	drive(g2h_received, "the host receiver");
	atomic_store(&H.stop, true);
	pthread_join(t, NULL);
	st = dstats();
	rcvd = atomic_load(&H.rcvd);
	drops = g2h_dropped(&st.dgram);
	if (st.dgram.tx_pkts + drops != count || rcvd != st.dgram.tx_pkts ||
	    atomic_load(&H.rbytes) != st.dgram.tx_bytes)
		die("sent %llu != delivered %llu (host %llu) + dropped %llu",
		    (unsigned long long)count, (unsigned long long)st.dgram.tx_pkts,
		    (unsigned long long)rcvd, (unsigned long long)drops);
	{
		double secs = (double)(atomic_load(&H.last_ns) - t0) * 1e-9;

		printf("dgram_dev: g2h ok size=%u sent=%llu delivered=%llu dropped=%llu "
		       "drop_host_full=%llu drop_no_receiver=%llu drop_host_err=%llu gaps=%llu "
		       "sent_per_s=%.0f delivered_per_s=%.0f mb_s=%.1f ns=%llu",
		       size, (unsigned long long)count, (unsigned long long)rcvd,
		       (unsigned long long)drops, (unsigned long long)st.dgram.tx_host_full,
		       (unsigned long long)st.dgram.tx_no_receiver,
		       (unsigned long long)st.dgram.tx_host_err,
		       (unsigned long long)atomic_load(&H.gaps),
		       count / ((double)(t1 - t0) * 1e-9), rcvd / secs,
		       (double)atomic_load(&H.rbytes) / secs / 1e6,
		       (unsigned long long)(t1 - t0));
	}
	print_common();
	dev_down();
}

static bool h2g_accounted(void)
{
	struct vsock_dev_stats st;

	if (!atomic_load(&H.sent_ns))
		return false;
	st = dstats();
	return st.dgram.queued == 0 && D.rcvd == st.dgram.rx_pkts &&
	       st.dgram.rx_pkts + h2g_dropped(&st.dgram) == atomic_load(&H.sent);
}

/* Host → guest: `count` datagrams from a host sender. */
static void run_h2g(uint32_t size, uint64_t count, double rxrate)
{
	struct vsock_dev_stats st;
	pthread_t t;
	uint64_t t0, t1, drops, sent;

	dev_up((size > 4096 ? size : 4096) + VSOCK_HDR_SIZE, true);
	B.rxrate = rxrate;
	B.tok_ns = now_ns();
	D.rx_size = H.size = size;
	H.count = count;
	t0 = now_ns();
	if (pthread_create(&t, NULL, dg_sender, NULL))
		die("pthread_create");
	drive(h2g_accounted, "every datagram to be delivered or dropped");
	t1 = now_ns();
	pthread_join(t, NULL);
	st = dstats();
	sent = atomic_load(&H.sent);
	drops = h2g_dropped(&st.dgram);
	/* Exact: the device counted each one delivered or dropped, and the
	 * driver saw each delivered one, in order, with the gaps = drops. */
	if (sent != count || D.rcvd + drops != sent || D.rbytes != st.dgram.rx_bytes ||
	    D.gaps + (sent - D.next_seq) != drops)
		die("sent %llu != delivered %llu + dropped %llu (driver gaps %llu, last %llu)",
		    (unsigned long long)sent, (unsigned long long)D.rcvd,
		    (unsigned long long)drops, (unsigned long long)D.gaps,
		    (unsigned long long)D.next_seq);
	{
		double secs = (double)(t1 - t0) * 1e-9;

		printf("dgram_dev: h2g ok size=%u rxrate=%.0f rxbuf=%u sent=%llu delivered=%llu "
		       "dropped=%llu drop_queue_full=%llu drop_buf_small=%llu drop_too_big=%llu "
		       "drop_bad_line=%llu drop_no_driver=%llu sent_per_s=%.0f "
		       "delivered_per_s=%.0f mb_s=%.1f ns=%llu",
		       size, rxrate, B.rxbuf, (unsigned long long)sent, (unsigned long long)D.rcvd,
		       (unsigned long long)drops, (unsigned long long)st.dgram.rx_queue_full,
		       (unsigned long long)st.dgram.rx_buf_small,
		       (unsigned long long)st.dgram.rx_too_big,
		       (unsigned long long)st.dgram.rx_bad_line,
		       (unsigned long long)st.dgram.rx_no_driver,
		       sent / ((double)(atomic_load(&H.sent_ns) - t0) * 1e-9), D.rcvd / secs,
		       (double)D.rbytes / secs / 1e6, (unsigned long long)(t1 - t0));
	}
	print_common();
	dev_down();
}

static bool st_connected(void)
{
	return D.connected;
}

static bool st_done(void)
{
	return H.h2g ? D.rx_off == D.rx_want : atomic_load(&H.done_ns) != 0;
}

static bool flood_h2g;

/* flood=spin, the control: a host thread that only burns CPU, as the
 * flood's host thread does, without a datagram. */
static void *spinner(void *arg)
{
	volatile uint64_t n = 0;

	(void)arg;
	while (!atomic_load(&H.stop))
		n++;
	return NULL;
}

static bool flood_on(void)
{
	return (flood_h2g ? D.rcvd : atomic_load(&H.rcvd)) >= 1000;
}

/* A stream one way, alone or during a datagram flood. */
static void run_stream(bool h2g, uint64_t bytes, const char *flood, uint32_t fsize,
		       unsigned finflight)
{
	bool fh2g = strcmp(flood, "h2g") == 0, fg2h = strcmp(flood, "g2h") == 0;
	bool spin = strcmp(flood, "spin") == 0;
	struct vsock_dev_stats s0, s1;
	pthread_t peer, ft = 0;
	uint64_t t0, t1, d0, d1, dr0, dr1;
	double secs;

	if (!fh2g && !fg2h && !spin && strcmp(flood, "none"))
		die("flood=%s", flood);
	flood_h2g = fh2g;
	dev_up(4096 + VSOCK_HDR_SIZE, true);
	H.h2g = h2g;
	H.bytes = bytes;
	H.lfd = host_bind("_5000", SOCK_STREAM);
	if (listen(H.lfd, 1) || pthread_create(&peer, NULL, stream_peer, NULL))
		die("listen: %s", strerror(errno));
	D.pkt = VSOCK_MAX_PKT_LEN;
	if (!post_ctrl(VIRTIO_VSOCK_OP_REQUEST))
		die("no tx slot");
	kick(TXQ);
	drive(st_connected, "the stream's RESPONSE");
	/* The flood first, and flowing, before the stream starts. */
	if (fh2g) {
		D.rx_size = H.size = fsize;
		H.count = UINT64_MAX;
		if (pthread_create(&ft, NULL, dg_sender, NULL))
			die("pthread_create");
	} else if (fg2h) {
		H.size = D.size = fsize;
		for (unsigned i = 0; i < NSLOT; i++)
			memset(td_gpa(&B.mem, TXPAY(i)), 0xa5, fsize);
		if (pthread_create(&ft, NULL, dg_receiver,
				   (void *)(intptr_t)host_bind("_dgram_7000", SOCK_DGRAM)))
			die("pthread_create");
		D.tx_left = UINT64_MAX;
		D.max_inflight = finflight;
	} else if (spin && pthread_create(&ft, NULL, spinner, NULL)) {
		die("pthread_create");
	}
	if (fh2g || fg2h)
		drive(flood_on, "the flood to start");
	s0 = dstats();
	d0 = fh2g ? D.rcvd : atomic_load(&H.rcvd);
	dr0 = fh2g ? h2g_dropped(&s0.dgram) : g2h_dropped(&s0.dgram);
	t0 = now_ns();
	if (h2g) {
		D.rx_want = bytes;
		atomic_store(&H.go, true);
	} else {
		D.tx_left_bytes = bytes;
	}
	drive(st_done, "the stream");
	t1 = h2g ? D.t_done : atomic_load(&H.done_ns);
	s1 = dstats();
	d1 = fh2g ? D.rcvd : atomic_load(&H.rcvd);
	dr1 = fh2g ? h2g_dropped(&s1.dgram) : g2h_dropped(&s1.dgram);
	D.tx_left = 0;
	atomic_store(&H.stop, true);
	if (ft)
		pthread_join(ft, NULL);
	pthread_join(peer, NULL);
	close(H.lfd);
	secs = (double)(t1 - t0) * 1e-9;
	printf("dgram_dev: stream ok dir=%s bytes=%llu flood=%s fsize=%u finflight=%u "
	       "mb_s=%.1f ns=%llu "
	       "credit_updates=%u flood_delivered_per_s=%.0f flood_dropped_per_s=%.0f "
	       "flood_delivered=%llu flood_dropped=%llu",
	       h2g ? "h2g" : "g2h", (unsigned long long)bytes, flood, fh2g || fg2h ? fsize : 0,
	       fg2h ? finflight : 0,
	       (double)bytes / secs / 1e6, (unsigned long long)(t1 - t0), D.credit_ups,
	       (double)(d1 - d0) / secs, (double)(dr1 - dr0) / secs,
	       (unsigned long long)(d1 - d0), (unsigned long long)(dr1 - dr0));
	print_common();
	dev_down();
}

int main(int argc, char **argv)
{
	uint64_t size;

	if (argc < 2) {
		fprintf(stderr, "usage: dgram_dev g2h|h2g|stream key=value... (see the source)\n");
		return 2;
	}
	mode = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)((i % PAT) * 2654435761u >> 13);
	B.mmio_notify = strcmp(arg_str(argc, argv, "notify", "ioeventfd"), "mmio") == 0;
	size = arg_u64(argc, argv, "size", 1024);
	if (size < 8 || size > VSOCK_DGRAM_MAX)
		die("size=%llu: 8..%u", (unsigned long long)size, VSOCK_DGRAM_MAX);
	if (strcmp(mode, "g2h") == 0)
		run_g2h((uint32_t)size, arg_u64(argc, argv, "count", 100000));
	else if (strcmp(mode, "h2g") == 0)
		run_h2g((uint32_t)size, arg_u64(argc, argv, "count", 100000),
			(double)arg_u64(argc, argv, "rxrate", 0));
	else if (strcmp(mode, "stream") == 0)
		run_stream(strcmp(arg_str(argc, argv, "dir", "g2h"), "h2g") == 0,
			   arg_u64(argc, argv, "bytes", 64ull << 20),
			   arg_str(argc, argv, "flood", "none"),
			   (uint32_t)arg_u64(argc, argv, "fsize", 1024),
			   (unsigned)arg_u64(argc, argv, "finflight", NSLOT / 4));
	else
		die("unknown mode");
	return 0;
}
