// SPDX-License-Identifier: MIT
/*
 * Unit tests for virtio/vhost_user.c: a fake front-end on one end of a
 * socketpair, the transport (with a small fake device that echoes chains
 * back) on the other, its event loop on a thread.  REPLY_ACK is negotiated
 * first and every later message asks for an ack, so the test knows when a
 * message was handled and whether it was refused.
 *
 * The hostile messages (bad sizes, ring indexes, fds, regions, addresses,
 * framing) must each be refused without a crash and without leaking a
 * descriptor: every test ends by comparing /proc/self/fd with its start.
 */
#include <check.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "virtio/vhost_user.h"
#include "virtio/virtqueue.h"
#include "base/evloop.h"
#include "vmm/sandbox.h"

#define MEM_SIZE   (1u << 20)
#define UVA        0x7f1234500000ull   /* the "front-end's" address of guest RAM */
#define GPA        0x100000ull
#define QSIZE      8
#define DESC_OFF   0x1000
#define AVAIL_OFF  0x2000
#define USED_OFF   0x3000
#define BUF_OFF    0x4000
#define CID        0x1122334455667788ull

/* --- the fake device --------------------------------------------------- */

static struct {
	struct virtio_dev *vdev;
	int activated, resets, notifies, pushed;
} fake;

static void f_cfg_read(void *d, uint32_t off, void *data, uint32_t len)
{
	uint64_t v = htole64(CID);

	memcpy(data, (uint8_t *)&v + off, len);
}

static void f_notify(void *d, unsigned q)
{
	struct virtq *vq = virtio_queue(fake.vdev, q);
	struct iovec iov[QSIZE];
	struct virtq_chain c;
	int n = 0;

	__atomic_fetch_add(&fake.notifies, 1, __ATOMIC_SEQ_CST);
	while (virtq_pop(vq, iov, QSIZE, &c) == 1) {
		virtq_push(vq, &c, c.in_len);
		n++;
	}
	if (n)
		virtio_signal(fake.vdev, q);
	__atomic_fetch_add(&fake.pushed, n, __ATOMIC_SEQ_CST);
}

static int f_activate(void *d)
{
	__atomic_fetch_add(&fake.activated, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void f_reset(void *d)
{
	__atomic_fetch_add(&fake.resets, 1, __ATOMIC_SEQ_CST);
}

static const struct virtio_device_ops fake_ops = {
	.device_id = 19,
	.features = 1ull << 1,
	.num_queues = 2,
	.queue_max_size = 256,
	.config_size = 8,
	.config_read = f_cfg_read,
	.queue_notify = f_notify,
	.activate = f_activate,
	.reset = f_reset,
};

/* --- harness ----------------------------------------------------------- */

static struct evloop *ev;
static pthread_t loop_thread;
static int fe = -1;             /* front-end end of the socketpair */
static int disconnects, disc_err;
static int fds_at_start;
static int memfd = -1;
static uint8_t *mem;            /* our view of the memfd */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static void on_disc(void *opaque, int err)
{
	disc_err = err;
	__atomic_store_n(&disconnects, 1, __ATOMIC_SEQ_CST);
}

/* The loop thread runs as vmm vhost-user's does, under its seccomp filter
 * (vmm/sandbox.h; not in sanitizer builds), so the protocol tests also
 * prove that allow-list: a call it lacks ends the test with exit 148. */
static void *loop_main(void *arg)
{
	char err[256];

	if (!sandbox_unsupported() &&
	    sandbox_enter(SANDBOX_VHOST_USER, 0, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	evloop_run(ev);
	return NULL;
}

static void setup(void)
{
	int sv[2];

	fds_at_start = count_fds();
	memset(&fake, 0, sizeof(fake));
	disconnects = disc_err = 0;
	ck_assert_int_eq(evloop_create(&ev), 0);
	struct vhost_user_params p = {
		.ops = &fake_ops, .dev = &fake, .ev = ev, .on_disconnect = on_disc,
	};
	ck_assert_int_eq(vhost_user_create(&p, &fake.vdev), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fe = sv[0];
	ck_assert_int_eq(vhost_user_serve(fake.vdev, sv[1]), 0);
	memfd = memfd_create("guest", MFD_CLOEXEC);
	ck_assert_int_ge(memfd, 0);
	ck_assert_int_eq(ftruncate(memfd, MEM_SIZE), 0);
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ck_assert_ptr_ne(mem, MAP_FAILED);
	if (!sandbox_unsupported())
		ck_assert_int_eq(sandbox_prepare(SANDBOX_KIND_BIT(SANDBOX_VHOST_USER), NULL,
						 NULL, 0), 0);
	ck_assert_int_eq(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
}

static void teardown(void)
{
	evloop_stop(ev);
	pthread_join(loop_thread, NULL);
	vhost_user_destroy(fake.vdev);
	evloop_destroy(ev);
	close(fe);
	close(memfd);
	munmap(mem, MEM_SIZE);
	ck_assert_int_eq(count_fds(), fds_at_start);
}

/* Bytes on the socket, with fds attached to the first of them. */
static void send_raw(const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		ck_assert_uint_le(nfds, 16);
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ck_assert_int_eq(sendmsg(fe, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_msg(uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		     const int *fds, unsigned nfds)
{
	struct vhost_user_hdr h = { .request = req, .flags = flags, .size = size };
	uint8_t *buf = malloc(sizeof(h) + size);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), payload, size);
	send_raw(buf, sizeof(h) + size, fds, nfds);
	free(buf);
}

/* The next reply: 0, or -ECONNRESET on EOF, -ETIMEDOUT. */
static int recv_reply(struct vhost_user_hdr *h, void *payload, size_t max)
{
	struct pollfd p = { .fd = fe, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 5000) != 1)
		return -ETIMEDOUT;
	n = recv(fe, h, sizeof(*h), MSG_WAITALL);
	if (n == 0)
		return -ECONNRESET;
	ck_assert_int_eq(n, sizeof(*h));
	ck_assert_uint_eq(h->flags, VHOST_USER_VERSION | VHOST_USER_REPLY_FLAG);
	ck_assert_uint_le(h->size, max);
	if (h->size)
		ck_assert_int_eq(recv(fe, payload, h->size, MSG_WAITALL), (ssize_t)h->size);
	return 0;
}

/* A request with a u64 reply. */
static uint64_t get_u64(uint32_t req)
{
	struct vhost_user_hdr h;
	uint64_t v = 0;

	send_msg(req, VHOST_USER_VERSION, NULL, 0, NULL, 0);
	ck_assert_int_eq(recv_reply(&h, &v, sizeof(v)), 0);
	ck_assert_uint_eq(h.request, req);
	ck_assert_uint_eq(h.size, 8);
	return v;
}

/* Send with NEED_REPLY and return the ack (0 ok, non-zero refused). */
static uint64_t acked(uint32_t req, const void *p, uint32_t size, const int *fds, unsigned nfds)
{
	struct vhost_user_hdr h;
	uint64_t v = 99;

	send_msg(req, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY, p, size, fds, nfds);
	ck_assert_int_eq(recv_reply(&h, &v, sizeof(v)), 0);
	ck_assert_uint_eq(h.request, req);
	ck_assert_uint_eq(h.size, 8);
	return v;
}

static uint64_t acked_u64(uint32_t req, uint64_t v)
{
	return acked(req, &v, sizeof(v), NULL, 0);
}

static uint64_t acked_state(uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state s = { index, num };

	return acked(req, &s, sizeof(s), NULL, 0);
}

/* Send an fd of ours and close our copy: only the transport holds it. */
static uint64_t acked_fd_u64(uint32_t req, uint64_t v, int fd)
{
	uint64_t r = acked(req, &v, sizeof(v), &fd, 1);

	close(fd);
	return r;
}

static void negotiate(void)
{
	uint64_t f = get_u64(VHOST_USER_GET_FEATURES);

	ck_assert(f & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	ck_assert(f & (1ull << 32)); /* VERSION_1 */
	ck_assert(f & (1ull << 1));  /* the device's own bit */
	ck_assert_uint_eq(get_u64(VHOST_USER_GET_PROTOCOL_FEATURES),
			  (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			  (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	send_msg(VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_VERSION,
		 &(uint64_t){ 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK }, 8, NULL, 0);
	ck_assert_uint_eq(acked(VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
}

static struct vhost_user_region region(uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off)
{
	return (struct vhost_user_region){ gpa, size, uva, off };
}

/* SET_MEM_TABLE with n regions, each on a dup of memfd unless fds given. */
static uint64_t mem_table(const struct vhost_user_region *r, unsigned n, int nfds)
{
	struct {
		struct vhost_user_mem_hdr h;
		struct vhost_user_region r[VHOST_USER_MAX_REGIONS + 1];
	} __attribute__((packed)) m = { .h.nregions = n };
	int fds[16];
	uint64_t rc;

	ck_assert_uint_le(n, VHOST_USER_MAX_REGIONS + 1);
	memcpy(m.r, r, n * sizeof(*r));
	for (int i = 0; i < nfds; i++)
		fds[i] = dup(memfd);
	rc = acked(VHOST_USER_SET_MEM_TABLE, &m, sizeof(m.h) + n * sizeof(*r), fds, nfds);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return rc;
}

static uint64_t set_addr(uint32_t index, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct vhost_user_vring_addr a = {
		.index = index, .desc_uaddr = desc, .avail_uaddr = avail, .used_uaddr = used,
	};

	return acked(VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

static void wait_disconnect(void)
{
	struct vhost_user_hdr h;
	uint64_t v;

	ck_assert_int_eq(recv_reply(&h, &v, sizeof(v)), -ECONNRESET);
	for (int i = 0; i < 2000 && !__atomic_load_n(&disconnects, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	ck_assert_int_eq(__atomic_load_n(&disconnects, __ATOMIC_SEQ_CST), 1);
}

/* Ring 1 at desc/avail/used in the memfd, one chain of one writable
 * 16-byte buffer. */
static void ring_setup(unsigned q, int *call_fd)
{
	struct virtq_desc *d = (struct virtq_desc *)(mem + DESC_OFF);
	uint16_t *avail = (uint16_t *)(mem + AVAIL_OFF);
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	memset(mem, 0, 0x5000);
	d[0] = (struct virtq_desc){ htole64(GPA + BUF_OFF), htole32(16), htole16(2), 0 };
	avail[2] = 0;           /* ring[0] = head 0 */
	avail[1] = htole16(1);  /* idx */
	ck_assert_uint_eq(acked_state(VHOST_USER_SET_VRING_NUM, q, QSIZE), 0);
	ck_assert_uint_eq(acked_state(VHOST_USER_SET_VRING_BASE, q, 0), 0);
	ck_assert_uint_eq(set_addr(q, UVA + DESC_OFF, UVA + AVAIL_OFF, UVA + USED_OFF), 0);
	*call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_CALL, &(uint64_t){ q }, 8, call_fd, 1), 0);
	ck_assert_uint_eq(acked_fd_u64(VHOST_USER_SET_VRING_KICK, q, kick), 0);
}

static void start_device(int *call_fd)
{
	struct vhost_user_region r = region(GPA, MEM_SIZE, UVA, 0);

	negotiate();
	ck_assert_uint_eq(acked_u64(VHOST_USER_SET_FEATURES,
				    (1ull << 32) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES)), 0);
	ck_assert_uint_eq(mem_table(&r, 1, 1), 0);
	ck_assert_uint_eq(vhost_user_nregions(fake.vdev), 1);
	ring_setup(1, call_fd);
	/* Protocol features negotiated: the ring waits for ENABLE. */
	ck_assert(!vhost_user_active(fake.vdev));
	ck_assert_uint_eq(acked_state(VHOST_USER_SET_VRING_ENABLE, 1, 1), 0);
	ck_assert(vhost_user_active(fake.vdev));
	ck_assert_int_eq(fake.activated, 1);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* --- tests ------------------------------------------------------------- */

START_TEST(handshake_and_config)
{
	struct {
		struct vhost_user_config_hdr h;
		uint8_t data[8];
	} __attribute__((packed)) c = { .h = { .offset = 0, .size = 8 } }, out;
	struct vhost_user_hdr h;
	uint64_t cid = htole64(CID);

	negotiate();
	ck_assert_uint_eq(get_u64(VHOST_USER_GET_QUEUE_NUM), 2);
	send_msg(VHOST_USER_GET_CONFIG, VHOST_USER_VERSION, &c, sizeof(c), NULL, 0);
	ck_assert_int_eq(recv_reply(&h, &out, sizeof(out)), 0);
	ck_assert_uint_eq(h.size, sizeof(out));
	ck_assert_uint_eq(out.h.size, 8);
	ck_assert_mem_eq(out.data, &cid, 8);
	/* Partial read at an odd offset. */
	c.h.offset = 3;
	c.h.size = 5;
	send_msg(VHOST_USER_GET_CONFIG, VHOST_USER_VERSION, &c, sizeof(c.h) + 5, NULL, 0);
	ck_assert_int_eq(recv_reply(&h, &out, sizeof(out)), 0);
	ck_assert_uint_eq(out.h.size, 5);
	ck_assert_mem_eq(out.data, (uint8_t *)&cid + 3, 5);
	/* Past the end, and over the protocol maximum: zero-size answers. */
	c.h.offset = 4;
	c.h.size = 8;
	send_msg(VHOST_USER_GET_CONFIG, VHOST_USER_VERSION, &c, sizeof(c), NULL, 0);
	ck_assert_int_eq(recv_reply(&h, &out, sizeof(out)), 0);
	ck_assert_uint_eq(h.size, sizeof(out.h));
	ck_assert_uint_eq(out.h.size, 0);
	c.h.offset = 0;
	c.h.size = 300;
	{
		uint8_t big[12 + 300] = { 0 };

		memcpy(big, &c.h, sizeof(c.h));
		send_msg(VHOST_USER_GET_CONFIG, VHOST_USER_VERSION, big, sizeof(big), NULL, 0);
		ck_assert_int_eq(recv_reply(&h, &out, sizeof(out)), 0);
		ck_assert_uint_eq(out.h.size, 0);
	}
	/* Read-only config space. */
	ck_assert_uint_ne(acked(VHOST_USER_SET_CONFIG, &c, sizeof(c.h) + 8, NULL, 0), 0);
}
END_TEST

START_TEST(ring_runs_and_interrupts)
{
	uint16_t *used = (uint16_t *)(mem + USED_OFF);
	struct vhost_user_vring_state st = { 1, 0 };
	struct vhost_user_hdr h;
	uint64_t v;
	int call, kick2;

	start_device(&call);
	/* Going live processed the chain that was already there. */
	ck_assert(readable(call, 2000));
	ck_assert_int_eq(read(call, &v, 8), 8);
	ck_assert_uint_eq(le16toh(used[1]), 1);
	ck_assert_int_eq(fake.pushed, 1);

	/* A second chain and a kick. */
	((uint16_t *)(mem + AVAIL_OFF))[3] = 0;
	((uint16_t *)(mem + AVAIL_OFF))[1] = htole16(2);
	kick2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_KICK, &(uint64_t){ 1 }, 8, &kick2, 1), 0);
	ck_assert_int_eq(write(kick2, &(uint64_t){ 1 }, 8), 8);
	ck_assert(readable(call, 2000));
	ck_assert_uint_eq(le16toh(used[1]), 2);

	/* GET_VRING_BASE stops the ring and the device. */
	send_msg(VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &st, sizeof(st), NULL, 0);
	ck_assert_int_eq(recv_reply(&h, &st, sizeof(st)), 0);
	ck_assert_uint_eq(st.index, 1);
	ck_assert_uint_eq(st.num, 2);
	ck_assert(!vhost_user_active(fake.vdev));
	ck_assert_int_eq(fake.resets, 1);
	close(kick2);
	close(call);
}
END_TEST

START_TEST(no_protocol_features_enables_rings)
{
	struct vhost_user_region r = region(GPA, MEM_SIZE, UVA, 0);
	int call;

	negotiate();
	ck_assert_uint_eq(mem_table(&r, 1, 1), 0);
	ck_assert_uint_eq(acked_u64(VHOST_USER_SET_FEATURES, 1ull << 32), 0);
	ring_setup(0, &call);
	ck_assert(vhost_user_active(fake.vdev));
	close(call);
}
END_TEST

START_TEST(hostile_sizes_and_indexes)
{
	int call;

	negotiate();
	/* Payload sizes. */
	ck_assert_uint_ne(acked(VHOST_USER_SET_FEATURES, &(uint32_t){ 0 }, 4, NULL, 0), 0);
	ck_assert_uint_ne(acked(VHOST_USER_SET_OWNER, &(uint64_t){ 0 }, 8, NULL, 0), 0);
	ck_assert_uint_ne(acked(VHOST_USER_SET_VRING_NUM, &(uint64_t){ 0 }, 4, NULL, 0), 0);
	/* Features we never offered. */
	ck_assert_uint_ne(acked_u64(VHOST_USER_SET_FEATURES, 1ull << 26), 0);
	ck_assert_uint_ne(acked_u64(VHOST_USER_SET_PROTOCOL_FEATURES, 1ull << 0), 0);
	/* Ring indexes and values. */
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_NUM, 2, 8), 0);
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_NUM, 0xffffffff, 8), 0);
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_NUM, 0, 3), 0);
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_NUM, 0, 512), 0);
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_NUM, 0, 0), 0);
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_BASE, 0, 0x10000), 0);
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_BASE, 9, 0), 0);
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_ENABLE, 5, 1), 0);
	ck_assert_uint_ne(acked_state(VHOST_USER_SET_VRING_ENABLE, 0, 2), 0);
	/* Addresses: no memory table yet, then outside every region. */
	ck_assert_uint_ne(set_addr(0, UVA + DESC_OFF, UVA + AVAIL_OFF, UVA + USED_OFF), 0);
	ck_assert_uint_eq(mem_table(&(struct vhost_user_region){ GPA, MEM_SIZE, UVA, 0 }, 1, 1), 0);
	ck_assert_uint_ne(set_addr(0, UVA - 0x1000, UVA + AVAIL_OFF, UVA + USED_OFF), 0);
	ck_assert_uint_ne(set_addr(0, UVA + DESC_OFF, UVA + MEM_SIZE, UVA + USED_OFF), 0);
	ck_assert_uint_ne(set_addr(0, UVA + DESC_OFF, UVA + AVAIL_OFF, ~0ull), 0);
	ck_assert_uint_ne(set_addr(7, UVA + DESC_OFF, UVA + AVAIL_OFF, UVA + USED_OFF), 0);
	/* Unknown requests: refused, connection kept. */
	ck_assert_uint_ne(acked(99, NULL, 0, NULL, 0), 0);
	ck_assert_uint_ne(acked(VHOST_USER_SET_LOG_BASE, &(uint64_t){ 0 }, 8, NULL, 0), 0);

	/* A ring whose areas run past the end of the region is refused at
	 * start, not mapped: the device stays inactive. */
	ck_assert_uint_eq(acked_u64(VHOST_USER_SET_FEATURES, 1ull << 32), 0);
	ck_assert_uint_eq(acked_state(VHOST_USER_SET_VRING_NUM, 0, 256), 0);
	ck_assert_uint_eq(set_addr(0, UVA + MEM_SIZE - 16, UVA + AVAIL_OFF, UVA + USED_OFF), 0);
	call = eventfd(0, EFD_CLOEXEC);
	ck_assert_uint_eq(acked_fd_u64(VHOST_USER_SET_VRING_KICK, 0, call), 0);
	ck_assert(!vhost_user_active(fake.vdev));
	/* Misaligned used ring: the same. */
	ck_assert_uint_eq(acked_u64(VHOST_USER_SET_FEATURES, 1ull << 32), 0);
	ck_assert_uint_eq(set_addr(1, UVA + DESC_OFF, UVA + AVAIL_OFF, UVA + USED_OFF + 2), 0);
	ck_assert_uint_eq(acked_state(VHOST_USER_SET_VRING_NUM, 1, 8), 0);
	call = eventfd(0, EFD_CLOEXEC);
	ck_assert_uint_eq(acked_fd_u64(VHOST_USER_SET_VRING_KICK, 1, call), 0);
	ck_assert(!vhost_user_active(fake.vdev));

	/* Still serving. */
	ck_assert(get_u64(VHOST_USER_GET_FEATURES) & (1ull << 32));
	ck_assert_int_eq(disconnects, 0);
}
END_TEST

START_TEST(hostile_fds)
{
	int fds[12];

	negotiate();
	/* fds on a message that takes none. */
	fds[0] = eventfd(0, EFD_CLOEXEC);
	ck_assert_uint_ne(acked(VHOST_USER_SET_OWNER, NULL, 0, fds, 1), 0);
	close(fds[0]);
	/* Two fds for a kick; an fd with the NOFD flag; no fd without it;
	 * polling (NOFD) itself; unknown bits; bad index. */
	fds[0] = eventfd(0, EFD_CLOEXEC);
	fds[1] = eventfd(0, EFD_CLOEXEC);
	ck_assert_uint_ne(acked(VHOST_USER_SET_VRING_KICK, &(uint64_t){ 0 }, 8, fds, 2), 0);
	ck_assert_uint_ne(acked(VHOST_USER_SET_VRING_CALL,
				&(uint64_t){ VHOST_USER_VRING_NOFD }, 8, fds, 1), 0);
	ck_assert_uint_ne(acked_u64(VHOST_USER_SET_VRING_CALL, 0), 0);
	ck_assert_uint_ne(acked_u64(VHOST_USER_SET_VRING_KICK, VHOST_USER_VRING_NOFD), 0);
	ck_assert_uint_ne(acked(VHOST_USER_SET_VRING_ERR, &(uint64_t){ 1ull << 9 }, 8, fds, 1), 0);
	ck_assert_uint_ne(acked(VHOST_USER_SET_VRING_CALL, &(uint64_t){ 2 }, 8, fds, 1), 0);
	ck_assert_uint_ne(acked(VHOST_USER_SET_VRING_KICK, &(uint64_t){ 0xff }, 8, fds, 1), 0);
	/* A call fd without one is fine (no interrupts); replacing works. */
	ck_assert_uint_eq(acked_u64(VHOST_USER_SET_VRING_CALL, VHOST_USER_VRING_NOFD), 0);
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_CALL, &(uint64_t){ 0 }, 8, fds, 1), 0);
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_CALL, &(uint64_t){ 0 }, 8, fds + 1, 1), 0);
	close(fds[0]);
	close(fds[1]);
	/* Too many fds for one message: more than we take at all (some are
	 * dropped by the kernel) and more than the table's regions. */
	for (int i = 0; i < 12; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	{
		struct {
			struct vhost_user_mem_hdr h;
			struct vhost_user_region r[1];
		} __attribute__((packed)) m = { { 1, 0 }, { { GPA, MEM_SIZE, UVA, 0 } } };

		ck_assert_uint_ne(acked(VHOST_USER_SET_MEM_TABLE, &m, sizeof(m), fds, 12), 0);
		ck_assert_uint_ne(acked(VHOST_USER_SET_MEM_TABLE, &m, sizeof(m), fds, 2), 0);
	}
	for (int i = 0; i < 12; i++)
		close(fds[i]);
	ck_assert_uint_eq(vhost_user_nregions(fake.vdev), 0);
	ck_assert(get_u64(VHOST_USER_GET_FEATURES) & (1ull << 32));
}
END_TEST

START_TEST(hostile_mem_tables)
{
	struct vhost_user_region r[VHOST_USER_MAX_REGIONS + 1];
	int efd;

	negotiate();
	/* No regions; more than 8; fds that do not match the count. */
	ck_assert_uint_ne(mem_table(r, 0, 0), 0);
	for (unsigned i = 0; i < VHOST_USER_MAX_REGIONS + 1; i++)
		r[i] = region(GPA + i * 0x10000, 0x10000, UVA + i * 0x10000, i * 0x10000);
	ck_assert_uint_ne(mem_table(r, 9, 8), 0);
	ck_assert_uint_ne(mem_table(r, 2, 1), 0);
	/* Zero size; overlapping guest ranges; overlapping user ranges. */
	r[1].size = 0;
	ck_assert_uint_ne(mem_table(r, 2, 2), 0);
	r[1] = region(GPA + 0xf000, 0x10000, UVA + 0x10000, 0x10000);
	ck_assert_uint_ne(mem_table(r, 2, 2), 0);
	r[1] = region(GPA + 0x10000, 0x10000, UVA + 0x8000, 0x10000);
	ck_assert_uint_ne(mem_table(r, 2, 2), 0);
	/* Wrap-arounds. */
	r[1] = region(~0ull - 0xfff, 0x2000, UVA + 0x10000, 0);
	ck_assert_uint_ne(mem_table(r, 2, 2), 0);
	r[1] = region(GPA + 0x10000, 0x2000, ~0ull - 0xfff, 0);
	ck_assert_uint_ne(mem_table(r, 2, 2), 0);
	r[1] = region(GPA + 0x10000, 0x2000, UVA + 0x10000, ~0ull - 0xfff);
	ck_assert_uint_ne(mem_table(r, 2, 2), 0);
	/* Larger than the file (would SIGBUS), offset past its end. */
	r[1] = region(GPA + 0x10000, MEM_SIZE, UVA + 0x10000, 0x10000);
	ck_assert_uint_ne(mem_table(r, 2, 2), 0);
	r[1] = region(GPA + 0x10000, 0x1000, UVA + 0x10000, MEM_SIZE);
	ck_assert_uint_ne(mem_table(r, 2, 2), 0);
	/* Payload size not matching nregions. */
	{
		struct {
			struct vhost_user_mem_hdr h;
			struct vhost_user_region r[2];
		} __attribute__((packed)) m = { { 1, 0 }, { r[0], r[0] } };
		int fd = dup(memfd);

		ck_assert_uint_ne(acked(VHOST_USER_SET_MEM_TABLE, &m, sizeof(m), &fd, 1), 0);
		ck_assert_uint_ne(acked(VHOST_USER_SET_MEM_TABLE, &m, 4, &fd, 1), 0);
		close(fd);
	}
	/* Not a memory file. */
	efd = eventfd(0, EFD_CLOEXEC);
	ck_assert_uint_ne(acked(VHOST_USER_SET_MEM_TABLE,
				&(struct { struct vhost_user_mem_hdr h; struct vhost_user_region r; }
				  __attribute__((packed))){ { 1, 0 }, r[0] },
				sizeof(struct vhost_user_mem_hdr) + sizeof(r[0]), &efd, 1), 0);
	close(efd);
	ck_assert_uint_eq(vhost_user_nregions(fake.vdev), 0);
	/* Eight non-overlapping regions at odd file offsets are fine, and a
	 * new table replaces the old one. */
	for (unsigned i = 0; i < VHOST_USER_MAX_REGIONS; i++)
		r[i] = region(GPA + i * 0x20000, 0x10000, UVA + i * 0x20000, i * 0x10000 + 0x800);
	ck_assert_uint_eq(mem_table(r, 8, 8), 0);
	ck_assert_uint_eq(vhost_user_nregions(fake.vdev), 8);
	r[0] = region(GPA, MEM_SIZE, UVA, 0);
	ck_assert_uint_eq(mem_table(r, 1, 1), 0);
	ck_assert_uint_eq(vhost_user_nregions(fake.vdev), 1);
}
END_TEST

START_TEST(new_mem_table_while_live)
{
	uint16_t *used = (uint16_t *)(mem + USED_OFF);
	struct vhost_user_region r = region(GPA, MEM_SIZE, UVA + 0x100000000ull, 0);
	int call;

	start_device(&call);
	ck_assert(readable(call, 2000));
	/* The same memory at another user address: the ring's addresses
	 * (old user addresses) no longer translate; the ring is stopped and
	 * the device reset. */
	ck_assert_uint_eq(mem_table(&r, 1, 1), 0);
	ck_assert(!vhost_user_active(fake.vdev));
	ck_assert_int_eq(fake.resets, 1);
	/* The same table again keeps a live ring running. */
	close(call);
	teardown();
	setup();
	start_device(&call);
	r.user_addr = UVA;
	ck_assert_uint_eq(mem_table(&r, 1, 1), 0);
	ck_assert(vhost_user_active(fake.vdev));
	ck_assert_int_eq(fake.resets, 0);
	ck_assert_uint_eq(le16toh(used[1]), 1);
	close(call);
}
END_TEST

START_TEST(disable_resets_device)
{
	int call;

	start_device(&call);
	ck_assert_uint_eq(acked_state(VHOST_USER_SET_VRING_ENABLE, 1, 0), 0);
	ck_assert(!vhost_user_active(fake.vdev));
	ck_assert_int_eq(fake.resets, 1);
	/* Changing the ring format under a live ring is refused; not live
	 * now, it is allowed. */
	ck_assert_uint_eq(acked_u64(VHOST_USER_SET_FEATURES, 1ull << 32 | 1ull << 29 |
				    1ull << VHOST_USER_F_PROTOCOL_FEATURES), 0);
	ck_assert_uint_eq(acked_state(VHOST_USER_SET_VRING_ENABLE, 1, 1), 0);
	ck_assert(vhost_user_active(fake.vdev));
	ck_assert_int_eq(fake.activated, 2);
	ck_assert_uint_ne(acked_u64(VHOST_USER_SET_FEATURES, 1ull << 32 |
				    1ull << VHOST_USER_F_PROTOCOL_FEATURES), 0);
	/* RESET_OWNER stops everything. */
	ck_assert_uint_eq(acked(VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0), 0);
	ck_assert(!vhost_user_active(fake.vdev));
	close(call);
}
END_TEST

START_TEST(fatal_bad_version)
{
	negotiate();
	send_msg(VHOST_USER_GET_FEATURES, 2, NULL, 0, NULL, 0);
	wait_disconnect();
	ck_assert_int_eq(disc_err, -EPROTO);
}
END_TEST

START_TEST(fatal_huge_payload)
{
	struct vhost_user_hdr h = { VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 0x100000 };

	ck_assert_int_eq(write(fe, &h, sizeof(h)), sizeof(h));
	wait_disconnect();
	ck_assert_int_eq(disc_err, -EMSGSIZE);
}
END_TEST

START_TEST(fatal_truncated)
{
	struct vhost_user_hdr h = { VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, 100 };
	int fd = dup(memfd);
	struct vhost_user_region r = region(GPA, MEM_SIZE, UVA, 0);
	int call;

	/* A live device, and a truncated message carrying an fd. */
	uint8_t buf[sizeof(h) + 10];

	start_device(&call);
	/* The header claims 100 bytes: 10 come, then EOF. */
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &r, 10);
	send_raw(buf, sizeof(buf), &fd, 1);
	close(fd);
	shutdown(fe, SHUT_WR);
	wait_disconnect();
	ck_assert_int_eq(disc_err, -EPROTO);
	ck_assert(!vhost_user_active(fake.vdev));
	ck_assert_int_eq(fake.resets, 1);
	close(call);
}
END_TEST

START_TEST(fatal_truncated_header)
{
	negotiate();
	ck_assert_int_eq(write(fe, "\x01\x00\x00", 3), 3);
	shutdown(fe, SHUT_WR);
	wait_disconnect();
	ck_assert_int_eq(disc_err, -EPROTO);
}
END_TEST

START_TEST(fatal_unanswerable)
{
	struct vhost_user_vring_state st = { 5, 0 };

	negotiate();
	/* GET_VRING_BASE of a ring that does not exist. */
	send_msg(VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &st, sizeof(st), NULL, 0);
	wait_disconnect();
	ck_assert_int_eq(disc_err, -EPROTO);
}
END_TEST

START_TEST(fatal_unknown_with_reply)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	negotiate();
	send_msg(VHOST_USER_GET_MAX_MEM_SLOTS, VHOST_USER_VERSION, NULL, 0, &fd, 1);
	close(fd);
	wait_disconnect();
}
END_TEST

START_TEST(clean_disconnect)
{
	int call;

	start_device(&call);
	shutdown(fe, SHUT_WR);
	wait_disconnect();
	ck_assert_int_eq(disc_err, 0);
	ck_assert_int_eq(fake.resets, 1);
	ck_assert(!vhost_user_connected(fake.vdev));
	close(call);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("vhost_user");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, handshake_and_config);
	tcase_add_test(tc, ring_runs_and_interrupts);
	tcase_add_test(tc, no_protocol_features_enables_rings);
	tcase_add_test(tc, hostile_sizes_and_indexes);
	tcase_add_test(tc, hostile_fds);
	tcase_add_test(tc, hostile_mem_tables);
	tcase_add_test(tc, new_mem_table_while_live);
	tcase_add_test(tc, disable_resets_device);
	tcase_add_test(tc, fatal_bad_version);
	tcase_add_test(tc, fatal_huge_payload);
	tcase_add_test(tc, fatal_truncated);
	tcase_add_test(tc, fatal_truncated_header);
	tcase_add_test(tc, fatal_unanswerable);
	tcase_add_test(tc, fatal_unknown_with_reply);
	tcase_add_test(tc, clean_disconnect);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
