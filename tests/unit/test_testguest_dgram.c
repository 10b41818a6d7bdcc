// SPDX-License-Identifier: MIT
/*
 * The test guest's datagram driver and scenarios (guest-images/testguest/
 * vsock_dgram.c, scn_dgram_*.c, scn_hostile_dgram.c) run on the host
 * against the real vsock device, without KVM: the guest's C code is
 * compiled unchanged for the host (tests/unit/tg_host_shim.h stands in for
 * its io.h), its "physical" memory is a mapping at the same address
 * (GMEM_BASE, identity as in the guest), its MMIO goes through the VMM's
 * bus as a vCPU's exits would, and the device's I/O thread runs the event
 * loop.  Each test runs one scenario on this thread with a host program on
 * another, then checks the scenario's result line and the device's
 * counters as tests/integration/test_vsock_dgram.py does with a real VM.
 * What this cannot show: ring 3, real interrupts and timing, the VMM's
 * own wiring (vmm run), which the integration tests cover where KVM is.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "tests/unit/virtio_test_driver.h"
#include "tests/unit/vsock_test_dev.h"
#include "base/evloop.h"
#include "vsock/device.h"
#include "vsock/packet.h"

#define BASE      0xd0000000ull   /* the guest's default virtio-mmio base */
#define GMEM_BASE 0x10000000ull   /* guest RAM, mapped at the same address */
#define GMEM_SIZE (160ull << 20)
#define GCID      3u
#define WAIT_MS   20000
#define ECHO      4801            /* the hostile scenario's stream echo port */
#define SPORT     3100000u        /* scn_hostile_dgram.c's datagram port */

/* The guest's side (guest-images/testguest), built by the Makefile. */
int scn_dgram_echo(void);
int scn_dgram_server(void);
int scn_dgram_burst(void);
int scn_dgram_max(void);
int scn_hostile(void);
int scn_echo_client(void);
void cmdline_init(uint64_t boot_params);
struct prng { uint64_t s; uint8_t pend[8]; unsigned npend; }; /* csum.h */
void prng_init(struct prng *p, uint64_t seed);
void prng_fill(struct prng *p, void *buf, size_t n);
uint32_t crc32_update(uint32_t crc, const void *buf, size_t n);

static struct guest_mem gm;
static struct bus bus;
static struct virtio_dev *vdev;
static struct vsock_dev *dev;
static struct evloop *ev;
static pthread_t io_thread;
static char dir[40], uds[64];

/* ---- what the guest's code needs from its environment ------------------ */

uint32_t tgh_mmio_read32(uint64_t addr);
void tgh_mmio_write32(uint64_t addr, uint32_t v);
uint64_t tgh_now_ns(void);
void tgh_abort(const char *why) __attribute__((noreturn));
void *heap_alloc(size_t size, size_t align);
uint64_t heap_free_bytes(void);
uint64_t tsc_hz(void);
uint64_t tsc_from_us(uint64_t us);
uint64_t deadline_us(uint64_t us);
bool deadline_passed(uint64_t deadline);
void udelay(uint64_t us);
void serial_write(const char *s, size_t n);

uint32_t tgh_mmio_read32(uint64_t addr)
{
	return td_rd(&bus, 0, addr);
}

void tgh_mmio_write32(uint64_t addr, uint32_t v)
{
	td_wr(&bus, 0, addr, v);
}

uint64_t tgh_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tgh_abort(const char *why)
{
	fprintf(stderr, "test guest called %s\n", why);
	abort();
}

/* Bump allocator over guest RAM above the first page (the command line). */
static uint64_t heap_next;

void *heap_alloc(size_t size, size_t align)
{
	uint64_t p = (heap_next + align - 1) & ~(uint64_t)(align - 1);

	if (p + size > GMEM_BASE + GMEM_SIZE)
		return NULL;
	heap_next = p + size;
	return (void *)(uintptr_t)p;
}

uint64_t heap_free_bytes(void)
{
	return GMEM_BASE + GMEM_SIZE - heap_next;
}

/* "TSC" = CLOCK_MONOTONIC nanoseconds. */
uint64_t tsc_hz(void) { return 1000000000ull; }
uint64_t tsc_from_us(uint64_t us) { return us * 1000; }
uint64_t deadline_us(uint64_t us) { return tgh_now_ns() + us * 1000; }
bool deadline_passed(uint64_t d) { return (int64_t)(tgh_now_ns() - d) >= 0; }

void udelay(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* The serial console: kept for the checks, and on stderr. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t out_cond = PTHREAD_COND_INITIALIZER;
static char out[1 << 16];
static size_t out_len;

void serial_write(const char *s, size_t n)
{
	pthread_mutex_lock(&out_lock);
	if (n > sizeof(out) - 1 - out_len)
		n = sizeof(out) - 1 - out_len;
	memcpy(out + out_len, s, n);
	out_len += n;
	out[out_len] = '\0';
	pthread_cond_broadcast(&out_cond);
	pthread_mutex_unlock(&out_lock);
	fwrite(s, 1, n, stderr);
}

/* Wait until the console shows `what`; false after WAIT_MS. */
static bool wait_out(const char *what)
{
	struct timespec dl;
	bool found;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&out_lock);
	while (!(found = strstr(out, what) != NULL))
		if (pthread_cond_timedwait(&out_cond, &out_lock, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&out_lock);
	return found;
}

static bool has_out(const char *what)
{
	bool r;

	pthread_mutex_lock(&out_lock);
	r = strstr(out, what) != NULL;
	pthread_mutex_unlock(&out_lock);
	return r;
}

/* The one "testguest: " line, copied into line. */
static void result_line(char *line, size_t size)
{
	const char *p = out, *q = NULL;
	int n = 0;

	while ((p = strstr(p, "testguest: "))) {
		if (p == out || p[-1] == '\n') {
			q = p;
			n++;
		}
		p++;
	}
	ck_assert_msg(n == 1, "want one result line, have %d:\n%s", n, out);
	snprintf(line, size, "%.*s", (int)strcspn(q, "\n"), q);
}

/* key=value from a line ("" if absent). */
static unsigned long long kv(const char *line, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), " %s=", key);
	p = strstr(line, k);
	ck_assert_msg(p != NULL, "no %s in '%s'", key, line);
	return strtoull(p + strlen(k), NULL, 0);
}

/* A counter from the guest's last tg-stats line. */
static unsigned long long stat(const char *key)
{
	const char *p = out, *last = NULL;
	char line[2048];

	while ((p = strstr(p, "tg-stats:"))) {
		last = p;
		p++;
	}
	ck_assert_msg(last != NULL, "no tg-stats line:\n%s", out);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(last, "\n"), last);
	return kv(line, key);
}

/* What a correct device never makes the guest's driver count. */
static void assert_clean(void)
{
	static const char *keys[] = {
		"rx_short", "rx_len_bad", "credit_overruns", "credit_requests",
		"proto_errors", "bad_type", "zero_credit", "bad_cid",
		"dg_bad", "dg_unexpected", "dg_too_long", "rx_empty",
	};

	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(stat(keys[i]) == 0, "guest counted %s=%llu\n%s", keys[i],
			      stat(keys[i]), out);
}

/* ---- the device, as vmm run wires it -------------------------------------- */

static void *io_main(void *arg)
{
	(void)arg;
	evloop_run(ev);
	return NULL;
}

static void start(bool dgram)
{
	struct vmmio_params p = { .base = BASE, .irq = 5, .gm = &gm };
	struct test_dev_params dp = { .guest_cid = GCID, .uds_path = uds, .dgram = dgram };
	void *m;

	m = mmap((void *)(uintptr_t)GMEM_BASE, GMEM_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
	ck_assert_msg(m == (void *)(uintptr_t)GMEM_BASE, "cannot map guest RAM at 0x%llx: %s",
		      GMEM_BASE, strerror(errno));
	memset(&gm, 0, sizeof(gm));
	gm.base = m;
	gm.size = GMEM_SIZE;
	gm.region[0] = (struct gm_region){ .gpa = GMEM_BASE, .size = GMEM_SIZE, .host = m };
	gm.nregions = 1;
	heap_next = GMEM_BASE + 4096;

	snprintf(dir, sizeof(dir), "/tmp/tg-dgram-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	ck_assert_int_eq(evloop_create(&ev), 0);
	dp.ev = ev;
	ck_assert_int_eq(test_dev_create(&dp, &dev), 0);
	p.dev = dev;
	p.ops = vsock_dev_ops(dev);
	ck_assert_int_eq(vmmio_create(&bus, &p, &vdev), 0);
	vsock_dev_attach(dev, vdev);
	ck_assert_int_eq(pthread_create(&io_thread, NULL, io_main, NULL), 0);
}

/* Each test runs in its own process (Check forks): the guest's statics
 * and the mapping go with it; only the socket directory needs removing. */
static void stop(void)
{
	char cmd[80];

	evloop_stop(ev);
	pthread_join(io_thread, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct vsock_dev_stats dstats(void)
{
	struct vsock_dev_stats st;

	vsock_dev_get_stats(dev, &st);
	return st;
}

/* Run scenario fn with command line `cmd` (printf-style). */
static void run(int (*fn)(void), const char *fmt, ...)
{
	static uint8_t bp[4096]; /* struct boot_params: only cmd_line_ptr */
	char *line = (char *)(uintptr_t)GMEM_BASE;
	uint32_t ptr = (uint32_t)GMEM_BASE;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, 4096, fmt, ap);
	va_end(ap);
	memset(bp, 0, sizeof(bp));
	memcpy(bp + 0x228, &ptr, 4);
	cmdline_init((uintptr_t)bp);
	ck_assert_int_eq(fn(), 0);
}

/* ---- host programs ------------------------------------------------------ */

static int dg_bind(uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), sz = 4 << 20;

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_dgram_%u", uds, port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return fd;
}

/* Receive one datagram with its line: payload length, or -1 on timeout. */
static long dg_recv(int fd, uint32_t *gport, uint32_t *hport, uint8_t *buf, size_t size,
		    int ms)
{
	static uint8_t raw[VSOCK_DGRAM_LINE_MAX + VSOCK_DGRAM_MAX + 8];
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	size_t line;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, raw, sizeof(raw), 0);
	if (n < 0)
		return -1;
	line = vsock_dgram_parse_line((const char *)raw, (size_t)n, gport, hport);
	ck_assert_msg(line > 0, "no DGRAM line");
	ck_assert_uint_le((size_t)n - line, size);
	memcpy(buf, raw + line, (size_t)n - line);
	return (long)((size_t)n - line);
}

/* Send "DGRAM gport hport\n" + payload to <uds>_dgram. */
static void dg_send(int fd, uint32_t gport, uint32_t hport, const void *p, size_t len)
{
	static uint8_t raw[VSOCK_DGRAM_LINE_MAX + VSOCK_DGRAM_MAX + 8];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int k = snprintf((char *)raw, VSOCK_DGRAM_LINE_MAX, "DGRAM %u %u\n", gport, hport);

	ck_assert_uint_le(len, sizeof(raw) - (size_t)k);
	memcpy(raw + k, p, len);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_dgram", uds);
	ck_assert_int_eq(sendto(fd, raw, (size_t)k + len, 0, (struct sockaddr *)&sa, sizeof(sa)),
			 (ssize_t)((size_t)k + len));
}

static void payload(uint64_t seed, uint8_t *buf, size_t n)
{
	struct prng g;

	prng_init(&g, seed);
	prng_fill(&g, buf, n);
}

static atomic_bool host_stop;

/* Echo every datagram back with its line (docs/vsock.md); count them. */
struct echo_host {
	int fd;
	unsigned n;
	uint32_t crc;
	size_t size;
	uint64_t seed;
	bool bad;
};

static void *echo_host_main(void *arg)
{
	static uint8_t buf[VSOCK_DGRAM_MAX];
	static uint8_t want[VSOCK_DGRAM_MAX];
	struct echo_host *h = arg;
	uint32_t g, p;

	while (!atomic_load(&host_stop)) {
		long n = dg_recv(h->fd, &g, &p, buf, sizeof(buf), 100);

		if (n < 0)
			continue;
		payload(h->seed + h->n, want, h->size);
		if ((size_t)n != h->size || memcmp(buf, want, h->size) != 0)
			h->bad = true;
		h->crc = crc32_update(h->crc, buf, (size_t)n);
		h->n++;
		dg_send(h->fd, g, p, buf, (size_t)n);
	}
	return NULL;
}

static void check_echo(size_t size, unsigned count, const char *opts)
{
	struct echo_host h = { .size = size, .seed = 9 };
	struct vsock_dev_stats st;
	char line[256];
	pthread_t t;

	start(true);
	h.fd = dg_bind(7000);
	atomic_store(&host_stop, false);
	ck_assert_int_eq(pthread_create(&t, NULL, echo_host_main, &h), 0);
	run(scn_dgram_echo, "scenario=dgram-echo port=7000 count=%u size=%zu seed=9 dgram=1 %s",
	    count, size, opts);
	atomic_store(&host_stop, true);
	pthread_join(t, NULL);
	result_line(line, sizeof(line));
	ck_assert_msg(strncmp(line, "testguest: dgram-echo ok ", 25) == 0, "%s", out);
	ck_assert_uint_eq(kv(line, "count"), count);
	ck_assert_uint_eq(kv(line, "bytes"), count * size);
	ck_assert_uint_eq(h.n, count);
	ck_assert(!h.bad);
	ck_assert_uint_eq(strtoul(strstr(line, "csum=") + 5, NULL, 16), h.crc);
	st = dstats();
	ck_assert_uint_eq(st.dgram.tx_pkts, count);
	ck_assert_uint_eq(st.dgram.rx_pkts, count);
	ck_assert_uint_eq(st.dgram.tx_host_full + st.dgram.rx_queue_full +
			  st.dgram.rx_buf_small + st.dgram.tx_no_receiver, 0);
	ck_assert_uint_eq(stat("dg_rx"), count);
	ck_assert_uint_eq(stat("dg_tx"), count);
	assert_clean();
	close(h.fd);
	stop();
}

START_TEST(echo_small) { check_echo(1, 200, ""); }
END_TEST
START_TEST(echo_4k_split) { check_echo(4096, 100, "rxlayout=split"); }
END_TEST
START_TEST(echo_4k_indirect) { check_echo(4096, 100, "indirect=1 eventidx=0"); }
END_TEST
START_TEST(echo_60k) { check_echo(60000, 20, "rxbuf=65536 window=2"); }
END_TEST

/* The guest echoes what the host sends to its port. */
static void *server_host_main(void *arg)
{
	static uint8_t buf[4096], got[4096];
	int *fails = arg, fd = dg_bind(7100);
	uint32_t g, p;

	if (!wait_out("tg-note: dgram-server listening port=5000"))
		(*fails)++;
	for (unsigned i = 0; i < 100 && !*fails; i++) {
		size_t n = 1 + (i * 37) % sizeof(buf);
		long r;

		payload(500 + i, buf, n);
		dg_send(fd, 5000, 7100, buf, n);
		r = dg_recv(fd, &g, &p, got, sizeof(got), WAIT_MS);
		if (r != (long)n || g != 5000 || p != 7100 || memcmp(buf, got, n))
			(*fails)++;
	}
	close(fd);
	return NULL;
}

START_TEST(server)
{
	struct vsock_dev_stats st;
	char line[256];
	pthread_t t;
	int fails = 0;

	start(true);
	ck_assert_int_eq(pthread_create(&t, NULL, server_host_main, &fails), 0);
	run(scn_dgram_server, "scenario=dgram-server port=5000 count=100 dgram=1");
	pthread_join(t, NULL);
	ck_assert_int_eq(fails, 0);
	result_line(line, sizeof(line));
	ck_assert_msg(strncmp(line, "testguest: dgram-server ok count=100 ", 37) == 0, "%s", out);
	st = dstats();
	ck_assert_uint_eq(st.dgram.tx_pkts, 100);
	ck_assert_uint_eq(st.dgram.rx_pkts, 100);
	assert_clean();
	stop();
}
END_TEST

/* A burst of n 8-byte datagrams (index first) to guest port gport, once
 * the console shows `ready`; then, if the guest still holds, the device's
 * queue as it was (*queued_mid, else ~0). */
struct burst_host {
	const char *ready, *reading;
	uint32_t gport;
	unsigned n;
	uint64_t queued_mid, dropped_mid;
	bool mid_valid;
};

static void *burst_host_main(void *arg)
{
	struct burst_host *b = arg;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (!wait_out(b->ready))
		return NULL;
	for (uint32_t i = 0; i < b->n; i++) {
		uint32_t w[2] = { i, ~i };

		dg_send(fd, b->gport, 7300, w, sizeof(w));
	}
	/* Let the I/O thread read what it was sent. */
	for (int i = 0; i < 1000; i++) {
		struct vsock_dev_stats st = dstats();

		if (st.dgram.rx_pkts + st.dgram.queued + st.dgram.rx_queue_full == b->n) {
			b->queued_mid = st.dgram.queued;
			b->dropped_mid = st.dgram.rx_queue_full;
			b->mid_valid = !has_out(b->reading);
			break;
		}
		udelay(1000);
	}
	close(fd);
	return NULL;
}

static void check_burst(unsigned rxq)
{
	struct burst_host b = {
		.ready = "tg-note: dgram-burst ready port=5000",
		.reading = "tg-note: dgram-burst reading", .gport = 5000, .n = 1000,
	};
	struct vsock_dev_stats st;
	unsigned long long received;
	char line[256];
	pthread_t t;

	start(true);
	ck_assert_int_eq(pthread_create(&t, NULL, burst_host_main, &b), 0);
	run(scn_dgram_burst, "scenario=dgram-burst port=5000 hold=1000 quiet=300 dgram=1 rxq=%u",
	    rxq);
	pthread_join(t, NULL);
	result_line(line, sizeof(line));
	ck_assert_msg(strncmp(line, "testguest: dgram-burst ok ", 26) == 0, "%s", out);
	received = kv(line, "received");
	st = dstats();
	ck_assert_uint_eq(st.dgram.rx_pkts, received);
	ck_assert_uint_eq(received + st.dgram.rx_queue_full, b.n);
	ck_assert_uint_eq(st.dgram.queued, 0);
	ck_assert_uint_ge(received, rxq + VSOCK_DGRAM_QUEUE_MAX);
	if (b.mid_valid) {
		/* While the guest held: every rx buffer full, 64 waiting,
		 * the rest dropped, exactly. */
		ck_assert_uint_eq(b.queued_mid, VSOCK_DGRAM_QUEUE_MAX);
		ck_assert_uint_eq(b.dropped_mid, b.n - rxq - VSOCK_DGRAM_QUEUE_MAX);
		ck_assert_uint_eq(received, rxq + VSOCK_DGRAM_QUEUE_MAX);
	}
	ck_assert_uint_eq(kv(line, "first"), 0);
	ck_assert_uint_eq(stat("dg_queue_full"), 0);
	ck_assert_uint_eq(stat("dg_no_port"), 0);
	assert_clean();
	stop();
}

START_TEST(burst_rxq32) { check_burst(32); }
END_TEST
START_TEST(burst_rxq128) { check_burst(128); }
END_TEST

/* 64 KiB both ways; 65537 from the host is dropped. */
static void *max_host_main(void *arg)
{
	static uint8_t buf[VSOCK_DGRAM_MAX + 1];
	uint32_t *crc = arg, g, p;
	int fd = dg_bind(7200);
	long n = dg_recv(fd, &g, &p, buf, sizeof(buf), WAIT_MS);

	if (n == VSOCK_DGRAM_MAX && p == 7200) {
		static uint8_t other[VSOCK_DGRAM_MAX + 1];

		*crc = crc32_update(0, buf, (size_t)n);
		for (size_t i = 0; i < sizeof(other); i++)
			other[i] = (uint8_t)~buf[i % VSOCK_DGRAM_MAX];
		dg_send(fd, g, p, other, sizeof(other));
		dg_send(fd, g, p, buf, (size_t)n);
	}
	close(fd);
	return NULL;
}

static void check_max(const char *opts)
{
	struct vsock_dev_stats st;
	char line[256], want[80];
	uint32_t crc = 0;
	pthread_t t;

	start(true);
	ck_assert_int_eq(pthread_create(&t, NULL, max_host_main, &crc), 0);
	/* The receiver must be bound before the guest sends (the thread may
	 * start late on a loaded host: wait as long as any other step). */
	for (int i = 0;; i++) {
		char path[128];

		snprintf(path, sizeof(path), "%s_dgram_7200", uds);
		if (access(path, F_OK) == 0)
			break;
		ck_assert_msg(i < WAIT_MS, "the host receiver was not bound");
		udelay(1000);
	}
	run(scn_dgram_max, "scenario=dgram-max port=7200 dgram=1 rxbuf=65536 %s", opts);
	pthread_join(t, NULL);
	result_line(line, sizeof(line));
	snprintf(want, sizeof(want), "testguest: dgram-max ok size=65536 csum=%08x", crc);
	ck_assert_str_eq(line, want);
	st = dstats();
	ck_assert_uint_eq(st.dgram.rx_too_big, 1);
	ck_assert_uint_eq(st.dgram.rx_pkts, 1);
	ck_assert_uint_eq(st.dgram.tx_pkts, 1);
	ck_assert_uint_eq(st.dgram.rx_bytes, VSOCK_DGRAM_MAX);
	ck_assert_uint_eq(st.dgram.rx_buf_small, 0);
	assert_clean();
	stop();
}

START_TEST(max_single) { check_max(""); }
END_TEST
START_TEST(max_split) { check_max("rxlayout=split"); }
END_TEST

/* A datagram larger than the guest's rx buffers (4 KiB by default): the
 * device drops it (rx_buf_small) and gives the buffer back empty, which the
 * driver takes as such (rx_empty), not as a broken packet; the next ones
 * get through. */
static void *small_buffers_host_main(void *arg)
{
	static uint8_t big[8192], got[64];
	int *fails = arg, fd = dg_bind(7101);
	uint32_t g, p;

	if (!wait_out("tg-note: dgram-server listening port=5000"))
		(*fails)++;
	dg_send(fd, 5000, 7101, big, sizeof(big));
	for (int i = 0; i < WAIT_MS && dstats().dgram.rx_buf_small == 0; i++)
		udelay(1000);
	for (unsigned i = 0; i < 3 && !*fails; i++) {
		dg_send(fd, 5000, 7101, "small", 5);
		if (dg_recv(fd, &g, &p, got, sizeof(got), WAIT_MS) != 5 || memcmp(got, "small", 5))
			(*fails)++;
	}
	close(fd);
	return NULL;
}

START_TEST(larger_than_rx_buffer_dropped)
{
	struct vsock_dev_stats st;
	char line[256];
	pthread_t t;
	int fails = 0;

	start(true);
	ck_assert_int_eq(pthread_create(&t, NULL, small_buffers_host_main, &fails), 0);
	run(scn_dgram_server, "scenario=dgram-server port=5000 count=3 dgram=1");
	pthread_join(t, NULL);
	ck_assert_int_eq(fails, 0);
	result_line(line, sizeof(line));
	ck_assert_msg(strncmp(line, "testguest: dgram-server ok count=3 ", 35) == 0, "%s", out);
	st = dstats();
	ck_assert_uint_eq(st.dgram.rx_buf_small, 1);
	ck_assert_uint_eq(st.dgram.rx_pkts, 3);
	ck_assert_uint_eq(stat("rx_empty"), 1);
	ck_assert_uint_eq(stat("rx_short") + stat("rx_len_bad") + stat("dg_bad"), 0);
	stop();
}
END_TEST

/* ---- hostile ---------------------------------------------------------------- */

/* A stream echo listener at <uds>_<ECHO>: one thread per connection. */
static int echo_lfd;

static void *stream_echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static __thread uint8_t buf[1 << 16];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	close(fd);
	return NULL;
}

static void *stream_echo_main(void *arg)
{
	int fd;

	(void)arg;
	while ((fd = accept(echo_lfd, NULL, NULL)) >= 0) {
		pthread_t t;

		pthread_create(&t, NULL, stream_echo_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
	return NULL;
}

static void stream_echo_start(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t t;

	echo_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, ECHO);
	ck_assert_int_eq(bind(echo_lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(echo_lfd, 16), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, stream_echo_main, NULL), 0);
	pthread_detach(t);
}

/* Run hostile mode M against host port `port`; the observed= word. */
static const char *hostile(const char *mode, uint32_t port, const char *opts)
{
	static char line[256], obs[128];
	char want[96];

	stream_echo_start();
	run(scn_hostile, "scenario=hostile mode=%s port=%u echoport=%u %s", mode, port, ECHO,
	    opts);
	result_line(line, sizeof(line));
	snprintf(want, sizeof(want), "testguest: hostile mode=%s ok observed=", mode);
	ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s", out);
	snprintf(obs, sizeof(obs), "%s", line + strlen(want));
	return obs;
}

/* Datagrams a receiver got until 200 ms passed without one. */
static unsigned drain(int fd, uint32_t gport[], uint8_t pl[][16], long len[], unsigned max)
{
	unsigned k = 0;
	uint8_t buf[VSOCK_DGRAM_MAX];
	uint32_t g, p;
	long n;

	while ((n = dg_recv(fd, &g, &p, buf, sizeof(buf), 200)) >= 0) {
		if (k < max) {
			gport[k] = g;
			len[k] = n;
			memcpy(pl[k], buf, n < 16 ? (size_t)n : 16);
		}
		k++;
	}
	return k;
}

static unsigned long long pkt_errs(const struct vsock_dev_stats *st)
{
	unsigned long long n = 0;

	for (unsigned e = 1; e < VSOCK_PKT_ERR_COUNT; e++)
		n += st->pkt_err[e];
	return n;
}

static void check_no_feature(bool offered)
{
	struct vsock_dev_stats st;
	uint32_t g[4];
	uint8_t pl[4][16];
	long len[4];
	int fd;

	start(offered);
	fd = dg_bind(7400);
	if (offered) {
		int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		dg_send(s, 1234, 7400, "to nobody", 9); /* no driver yet: dropped */
		close(s);
		/* Read and dropped now, not at some point during the guest's
		 * run (the I/O thread may be late on a loaded host). */
		for (int i = 0; dstats().dgram.rx_no_driver == 0; i++) {
			ck_assert_msg(i < WAIT_MS, "the host datagram was never read");
			udelay(1000);
		}
	}
	ck_assert_str_eq(hostile("dgram-no-feature", 7400, ""), "drop");
	st = dstats();
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_TYPE], 1);
	ck_assert_uint_eq(pkt_errs(&st), 1);
	ck_assert_uint_eq(st.dgram.rx_no_driver, offered ? 1 : 0);
	ck_assert_uint_eq(st.dgram.tx_pkts, 0);
	ck_assert_uint_eq(drain(fd, g, pl, len, 4), 0);
	ck_assert(has_out("device offers F_DGRAM=") &&
		  has_out(offered ? "F_DGRAM=1" : "F_DGRAM=0"));
	assert_clean();
	close(fd);
	stop();
}

START_TEST(hostile_no_feature_offered) { check_no_feature(true); }
END_TEST
START_TEST(hostile_no_feature_not_offered) { check_no_feature(false); }
END_TEST

START_TEST(hostile_bad_op)
{
	struct vsock_dev_stats st;
	uint32_t g[4];
	uint8_t pl[4][16];
	long len[4];
	int fd;

	start(true);
	fd = dg_bind(7401);
	ck_assert_str_eq(hostile("dgram-bad-op", 7401, "dgram=1"), "drop");
	st = dstats();
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_DGRAM_OP], 6);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_OP], 1);
	ck_assert_uint_eq(pkt_errs(&st), 7);
	ck_assert_uint_eq(st.dgram.tx_pkts, 1);
	ck_assert_uint_eq(drain(fd, g, pl, len, 4), 1);
	ck_assert_uint_eq(g[0], SPORT);
	ck_assert_int_eq(len[0], 5);
	ck_assert_mem_eq(pl[0], "after", 5);
	assert_clean();
	close(fd);
	stop();
}
END_TEST

START_TEST(hostile_bad_len)
{
	static const uint8_t ten[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct vsock_dev_stats st;
	uint32_t g[4];
	uint8_t pl[4][16];
	long len[4];
	int fd;

	start(true);
	fd = dg_bind(7402);
	ck_assert_str_eq(hostile("dgram-bad-len", 7402, "dgram=1"), "drop");
	st = dstats();
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_DGRAM_LEN], 2);
	ck_assert_uint_eq(st.pkt_err[VSOCK_PKT_ERR_LEN_CHAIN], 1);
	ck_assert_uint_eq(pkt_errs(&st), 3);
	ck_assert_uint_eq(st.dgram.tx_pkts, 2);
	ck_assert_uint_eq(drain(fd, g, pl, len, 4), 2);
	ck_assert_int_eq(len[0], 10);
	ck_assert_mem_eq(pl[0], ten, 10);
	ck_assert_int_eq(len[1], 5);
	ck_assert_mem_eq(pl[1], "after", 5);
	assert_clean();
	close(fd);
	stop();
}
END_TEST

START_TEST(hostile_credit)
{
	struct vsock_dev_stats st;
	uint32_t g[4];
	uint8_t pl[4][16];
	long len[4];
	int fd, efd;

	start(true);
	fd = dg_bind(7403);
	efd = dg_bind(ECHO);
	ck_assert_str_eq(hostile("dgram-credit", 7403, "dgram=1"), "ignored");
	st = dstats();
	ck_assert_uint_eq(pkt_errs(&st), 0);
	ck_assert_uint_eq(st.dgram.tx_pkts, 3);
	ck_assert_uint_eq(drain(fd, g, pl, len, 4), 2);
	ck_assert_mem_eq(pl[0], "credit", 6);
	ck_assert_mem_eq(pl[1], "after", 5);
	ck_assert_uint_eq(drain(efd, g, pl, len, 4), 1);
	ck_assert_mem_eq(pl[0], "stream", 6);
	ck_assert_uint_ne(g[0], SPORT); /* from the stream connection's port */
	assert_clean();
	close(fd);
	close(efd);
	stop();
}
END_TEST

START_TEST(hostile_rx_starve)
{
	struct burst_host b = {
		.ready = "tg-note: dgram-rx-starve ready port=5100",
		.reading = "tg-note: dgram-rx-starve reading", .gport = 5100, .n = 2000,
	};
	struct vsock_dev_stats st;
	unsigned long received;
	const char *obs;
	pthread_t t;

	start(true);
	ck_assert_int_eq(pthread_create(&t, NULL, burst_host_main, &b), 0);
	obs = hostile("dgram-rx-starve", 5100, "dgram=1 hold=1500");
	pthread_join(t, NULL);
	ck_assert_msg(strncmp(obs, "received:", 9) == 0, "%s", obs);
	received = strtoul(obs + 9, NULL, 10);
	st = dstats();
	ck_assert_uint_eq(st.dgram.rx_pkts, received);
	ck_assert_uint_eq(received + st.dgram.rx_queue_full, b.n);
	ck_assert_uint_eq(st.dgram.queued, 0);
	ck_assert_uint_le(b.queued_mid, VSOCK_DGRAM_QUEUE_MAX);
	if (b.mid_valid) {
		ck_assert_uint_eq(b.queued_mid, VSOCK_DGRAM_QUEUE_MAX);
		ck_assert_uint_eq(received, 128 + VSOCK_DGRAM_QUEUE_MAX);
	}
	assert_clean();
	stop();
}
END_TEST

/* Streams through rx buffers of other sizes (rxbuf=): a 1 MB verified
 * echo, so the driver's buffer handling is not only tried by datagrams. */
static void check_stream(const char *opts)
{
	char line[256];

	start(true);
	stream_echo_start();
	run(scn_echo_client, "scenario=echo-client port=%u bytes=1000000 dgram=1 %s", ECHO, opts);
	result_line(line, sizeof(line));
	ck_assert_msg(strncmp(line, "testguest: echo-client ok bytes=1000000 ", 40) == 0, "%s", out);
	ck_assert_uint_eq(dstats().dgram.rx_pkts + dstats().dgram.tx_pkts, 0);
	assert_clean();
	stop();
}

START_TEST(stream_rxbuf_64k) { check_stream("rxbuf=65536"); }
END_TEST
START_TEST(stream_rxbuf_64k_split) { check_stream("rxbuf=65536 rxlayout=split"); }
END_TEST
START_TEST(stream_rxbuf_1k) { check_stream("rxbuf=1024"); }
END_TEST

static Suite *tg_suite(void)
{
	Suite *s = suite_create("testguest_dgram");
	TCase *tc = tcase_create("scenarios");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, echo_small);
	tcase_add_test(tc, echo_4k_split);
	tcase_add_test(tc, echo_4k_indirect);
	tcase_add_test(tc, echo_60k);
	tcase_add_test(tc, server);
	tcase_add_test(tc, burst_rxq32);
	tcase_add_test(tc, burst_rxq128);
	tcase_add_test(tc, max_single);
	tcase_add_test(tc, max_split);
	tcase_add_test(tc, larger_than_rx_buffer_dropped);
	tcase_add_test(tc, hostile_no_feature_offered);
	tcase_add_test(tc, hostile_no_feature_not_offered);
	tcase_add_test(tc, hostile_bad_op);
	tcase_add_test(tc, hostile_bad_len);
	tcase_add_test(tc, hostile_credit);
	tcase_add_test(tc, hostile_rx_starve);
	tcase_add_test(tc, stream_rxbuf_64k);
	tcase_add_test(tc, stream_rxbuf_64k_split);
	tcase_add_test(tc, stream_rxbuf_1k);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
