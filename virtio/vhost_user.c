// SPDX-License-Identifier: MIT
/*
 * vhost-user back-end transport.  See vhost_user.h for the protocol subset,
 * the ring states and the threading model (everything on the I/O thread).
 *
 * Message handling: read one whole message (header, payload, passed fds),
 * check the framing (version, payload size), check the fd count against
 * what the request takes, then the request's handler checks the payload
 * and either applies it completely or refuses it without changing state.
 * Handlers return 0, -errno (refused: an error ack if the front-end asked
 * for one) or FATAL (the connection ends: the front-end waits for a reply
 * we cannot give).  Fds a handler does not take are closed afterwards, on
 * every path.
 */
#include "virtio/vhost_user.h"
#include "virtio/transport.h"
#include "base/evloop.h"
#include "base/guest_mem.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FATAL (-10000)   /* handler result: end the connection */

struct vhu_msg {
	struct vhost_user_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_user_vring_state state;
		struct vhost_user_vring_addr addr;
		struct {
			struct vhost_user_mem_hdr h;
			struct vhost_user_region r[VHOST_USER_MAX_REGIONS];
		} __attribute__((packed)) mem;
		struct {
			struct vhost_user_config_hdr h;
			uint8_t data[VHOST_USER_MAX_CONFIG];
		} __attribute__((packed)) cfg;
		uint8_t raw[VHOST_USER_MAX_PAYLOAD];
	} p;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
	bool fds_dropped;          /* more fds came than fit: all refused */
};

struct vhu_map {
	void *addr;                /* mmap result */
	size_t len;
	uint64_t uva;              /* front-end's user address of the region */
};

struct vhost_user;

struct vhu_ring {
	struct vhost_user *vu;
	unsigned index;
	uint32_t num;
	bool addr_set;
	uint64_t desc_ua, avail_ua, used_ua;
	uint16_t last_avail;       /* SET_VRING_BASE, or saved when not live */
	int kick_fd, call_fd, err_fd;
	struct ev_source kick_src;
	bool kick_in_loop;
	bool started;              /* SET_VRING_KICK .. GET_VRING_BASE */
	bool enabled;              /* SET_VRING_ENABLE / SET_FEATURES */
	bool live;                 /* vq enabled: started, enabled, translated */
	struct virtq vq;
};

struct vhost_user {
	struct virtio_dev vdev;    /* first: what devices hold */
	const struct virtio_device_ops *ops;
	void *dev;
	struct evloop *ev;
	void (*on_disconnect)(void *opaque, int err);
	void *opaque;

	int fd;                    /* connection, -1 when none */
	struct ev_source conn_src;
	bool conn_in_loop;

	uint64_t offered;          /* GET_FEATURES */
	uint64_t acked;            /* SET_FEATURES minus bit 30 (atomic reads) */
	bool features_set;
	uint64_t protocol;         /* SET_PROTOCOL_FEATURES */
	bool owner;
	bool active;               /* between ops->activate and ops->reset */
	bool needs_reset_logged;

	struct guest_mem mem;
	struct vhu_map map[VHOST_USER_MAX_REGIONS];
	unsigned nmap;

	struct vhost_user_stats stats;
	unsigned nq;
	struct vhu_ring ring[];
};

#define PROTOCOL_OFFERED ((1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
			  (1ull << VHOST_USER_PROTOCOL_F_CONFIG))

static struct vhost_user *to_vu(struct virtio_dev *vdev)
{
	return container_of(vdev, struct vhost_user, vdev);
}

static const struct vhost_user *to_vu_c(const struct virtio_dev *vdev)
{
	return container_of(vdev, const struct vhost_user, vdev);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* --- device-facing transport ops ----------------------------------------- */

static struct virtq *vu_queue(struct virtio_dev *vdev, unsigned q)
{
	struct vhost_user *vu = to_vu(vdev);

	return q < vu->nq ? &vu->ring[q].vq : NULL;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	/* An eventfd: EAGAIN would mean 2^64-2 pending events. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return;
}

static void vu_interrupt(struct virtio_dev *vdev, unsigned q)
{
	struct vhost_user *vu = to_vu(vdev);

	if (q < vu->nq && vu->ring[q].call_fd >= 0) {
		vu->stats.calls++;
		signal_fd(vu->ring[q].call_fd);
	}
}

static void vu_set_needs_reset(struct virtio_dev *vdev)
{
	struct vhost_user *vu = to_vu(vdev);

	/* No status register here: tell the front-end on the rings' error
	 * eventfds (QEMU logs it); the broken ring stays broken until the
	 * front-end restarts it. */
	if (!vu->needs_reset_logged) {
		vu->needs_reset_logged = true;
		log_warn("vhost-user: device %u needs reset", vu->ops->device_id);
	}
	for (unsigned i = 0; i < vu->nq; i++)
		signal_fd(vu->ring[i].err_fd);
}

static uint64_t vu_features(const struct virtio_dev *vdev)
{
	return __atomic_load_n(&to_vu_c(vdev)->acked, __ATOMIC_ACQUIRE);
}

static const struct virtio_transport_ops vhost_user_transport_ops = {
	.queue = vu_queue,
	.interrupt = vu_interrupt,
	.set_needs_reset = vu_set_needs_reset,
	.features = vu_features,
};

static void queue_broken(void *opaque, struct virtq *vq)
{
	struct vhost_user *vu = opaque;

	(void)vq;
	vu->stats.queue_errors++;
	vu_set_needs_reset(&vu->vdev);
}

/* --- memory ------------------------------------------------------------ */

/* Guest-physical address of [uva, uva + len) if it lies inside one region. */
static int translate(const struct vhost_user *vu, uint64_t uva, uint64_t len,
		     uint64_t *gpa)
{
	for (unsigned i = 0; i < vu->nmap; i++) {
		const struct vhu_map *m = &vu->map[i];
		const struct gm_region *r = &vu->mem.region[i];

		if (uva < m->uva || uva - m->uva >= r->size)
			continue;
		if (len > r->size - (uva - m->uva))
			return -EFAULT;
		*gpa = r->gpa + (uva - m->uva);
		return 0;
	}
	return -EFAULT;
}

static void unmap_all(struct vhost_user *vu)
{
	for (unsigned i = 0; i < vu->nmap; i++)
		munmap(vu->map[i].addr, vu->map[i].len);
	vu->nmap = 0;
	memset(&vu->mem, 0, sizeof(vu->mem));
}

/* --- rings --------------------------------------------------------------- */

/* Translate the ring's addresses and enable its virtq at r->last_avail. */
static int ring_map(struct vhost_user *vu, struct vhu_ring *r)
{
	uint64_t n = r->num;
	struct virtq_config cfg = {
		.size = r->num,
		.event_idx = vu->acked & (1ull << VIRTIO_F_EVENT_IDX),
		.indirect = vu->acked & (1ull << VIRTIO_F_INDIRECT_DESC),
	};
	int rc;

	if (!r->addr_set || !n)
		return -EINVAL;
	if (translate(vu, r->desc_ua, VIRTQ_DESC_SIZE(n), &cfg.desc) ||
	    translate(vu, r->avail_ua, VIRTQ_AVAIL_SIZE(n), &cfg.avail) ||
	    translate(vu, r->used_ua, VIRTQ_USED_SIZE(n), &cfg.used))
		return -EFAULT;
	rc = virtq_enable(&r->vq, &vu->mem, &cfg, vu->ops->queue_max_size);
	if (rc)
		return rc;
	virtq_set_base(&r->vq, r->last_avail);
	return 0;
}

static void device_reset(struct vhost_user *vu)
{
	if (!vu->active)
		return;
	vu->ops->reset(vu->dev);
	vu->active = false;
	log_info("vhost-user: device %u stopped", vu->ops->device_id);
}

/* A started, enabled ring becomes usable; the first one activates the
 * device. */
static void ring_try_live(struct vhost_user *vu, struct vhu_ring *r)
{
	int rc;

	if (r->live || !r->started || !r->enabled)
		return;
	rc = ring_map(vu, r);
	if (rc) {
		vu->stats.queue_errors++;
		log_warn("vhost-user: ring %u refused: %s (size %u)", r->index,
			 rc == -EFAULT ? "addresses outside guest memory" : "bad size or alignment",
			 r->num);
		signal_fd(r->err_fd);
		return;
	}
	r->live = true;
	if (!vu->active) {
		rc = vu->ops->activate ? vu->ops->activate(vu->dev) : 0;
		vu->active = true;
		log_info("vhost-user: device %u driver ready, features 0x%llx",
			 vu->ops->device_id, (unsigned long long)vu->acked);
		if (rc < 0)
			vu_set_needs_reset(&vu->vdev);
	}
	/* Buffers the driver made available before we watched the kick. */
	vu->ops->queue_notify(vu->dev, r->index);
}

/* The ring stops being usable; the device is reset first. */
static void ring_leave_live(struct vhost_user *vu, struct vhu_ring *r)
{
	if (!r->live)
		return;
	device_reset(vu);
	r->last_avail = r->vq.last_avail_idx;
	virtq_reset(&r->vq);
	r->live = false;
}

static void kick_cb(void *opaque, uint32_t events)
{
	struct vhu_ring *r = opaque;
	struct vhost_user *vu = r->vu;
	uint64_t v;
	ssize_t n;

	(void)events;
	n = read(r->kick_fd, &v, sizeof(v));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* Not an eventfd (a pipe at EOF, say): stop watching it
		 * rather than spin. */
		ev_del(vu->ev, &r->kick_src);
		r->kick_in_loop = false;
		return;
	}
	if (r->live && vu->active) {
		vu->stats.kicks++;
		vu->ops->queue_notify(vu->dev, r->index);
	}
}

static void ring_drop_kick(struct vhost_user *vu, struct vhu_ring *r)
{
	if (r->kick_in_loop)
		ev_del(vu->ev, &r->kick_src);
	r->kick_in_loop = false;
	close_fd(&r->kick_fd);
}

static void ring_stop(struct vhost_user *vu, struct vhu_ring *r)
{
	ring_leave_live(vu, r);
	r->started = false;
	ring_drop_kick(vu, r);
}

/* Everything back to a fresh connection's state (fds closed). */
static void reset_all(struct vhost_user *vu)
{
	for (unsigned i = 0; i < vu->nq; i++)
		ring_leave_live(vu, &vu->ring[i]);
	for (unsigned i = 0; i < vu->nq; i++) {
		struct vhu_ring *r = &vu->ring[i];

		ring_stop(vu, r);
		close_fd(&r->call_fd);
		close_fd(&r->err_fd);
		r->num = 0;
		r->addr_set = false;
		r->desc_ua = r->avail_ua = r->used_ua = 0;
		r->last_avail = 0;
		r->enabled = false;
	}
	unmap_all(vu);
	__atomic_store_n(&vu->acked, 0, __ATOMIC_RELEASE);
	vu->features_set = false;
	vu->protocol = 0;
	vu->owner = false;
	vu->needs_reset_logged = false;
}

/* --- socket I/O ---------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int64_t left = deadline - now_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Keep the fds of one recvmsg: up to the room left, the rest closed. */
static void take_fds(struct vhu_msg *m, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		const unsigned char *data = CMSG_DATA(c);
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, data + i * sizeof(int), sizeof(int));
			if (m->nfds < VHOST_USER_MAX_FDS) {
				m->fds[m->nfds++] = fd;
			} else {
				close(fd);
				m->fds_dropped = true;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		m->fds_dropped = true; /* the kernel dropped (closed) the rest */
}

/* Read exactly len bytes (collecting fds).  0 or -errno: -ECONNRESET for
 * EOF before a message, -EPROTO for EOF inside one, -ETIMEDOUT, -EAGAIN if
 * nothing at all was there and `first`. */
static int read_full(int fd, void *buf, size_t len, struct vhu_msg *m,
		     bool first, int64_t deadline)
{
	size_t off = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;

	while (off < len) {
		struct iovec iov = { .iov_base = (char *)buf + off, .iov_len = len - off };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n > 0) {
			take_fds(m, &mh);
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			/* EOF between messages is the front-end leaving; inside
			 * one, a protocol error. */
			return first && off == 0 ? -ECONNRESET : -EPROTO;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (first && off == 0)
			return -EAGAIN;
		int rc = wait_fd(fd, POLLIN, deadline);

		if (rc)
			return rc;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	int64_t deadline = now_ms() + VHOST_USER_IO_TIMEOUT_MS;
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, (const char *)buf + off, len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		int rc = wait_fd(fd, POLLOUT, deadline);

		if (rc)
			return rc;
	}
	return 0;
}

static int send_reply(struct vhost_user *vu, const struct vhu_msg *req,
		      const void *payload, uint32_t size)
{
	struct {
		struct vhost_user_hdr h;
		uint8_t p[sizeof(((struct vhu_msg *)0)->p.cfg)];
	} __attribute__((packed)) out;

	if (size > sizeof(out.p))
		return FATAL;
	out.h.request = req->hdr.request;
	out.h.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_FLAG;
	out.h.size = size;
	memcpy(out.p, payload, size);
	return write_full(vu->fd, &out, sizeof(out.h) + size) ? FATAL : 0;
}

static int reply_u64(struct vhost_user *vu, const struct vhu_msg *m, uint64_t v)
{
	return send_reply(vu, m, &v, sizeof(v));
}

/* --- request handlers ---------------------------------------------------- */

static bool has_size(const struct vhu_msg *m, uint32_t size)
{
	return m->hdr.size == size;
}

static struct vhu_ring *ring_of(struct vhost_user *vu, uint64_t index)
{
	return index < vu->nq ? &vu->ring[index] : NULL;
}

static int h_get_features(struct vhost_user *vu, struct vhu_msg *m)
{
	if (!has_size(m, 0))
		return FATAL;
	return reply_u64(vu, m, vu->offered);
}

static bool any_live(const struct vhost_user *vu)
{
	for (unsigned i = 0; i < vu->nq; i++)
		if (vu->ring[i].live)
			return true;
	return false;
}

static int h_set_features(struct vhost_user *vu, struct vhu_msg *m)
{
	uint64_t f, dev_f;

	if (!has_size(m, 8))
		return -EINVAL;
	f = m->p.u64;
	if (f & ~vu->offered)
		return -EINVAL;
	dev_f = f & ~(1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	if (vu->features_set && dev_f == vu->acked)
		return 0;
	/* The ring format may not change under a live ring. */
	if (any_live(vu))
		return -EBUSY;
	__atomic_store_n(&vu->acked, dev_f, __ATOMIC_RELEASE);
	vu->features_set = true;
	if (!(f & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
		/* Without protocol features rings are enabled from the start. */
		for (unsigned i = 0; i < vu->nq; i++) {
			vu->ring[i].enabled = true;
			ring_try_live(vu, &vu->ring[i]);
		}
	}
	return 0;
}

static int h_get_protocol_features(struct vhost_user *vu, struct vhu_msg *m)
{
	if (!has_size(m, 0))
		return FATAL;
	return reply_u64(vu, m, PROTOCOL_OFFERED);
}

static int h_set_protocol_features(struct vhost_user *vu, struct vhu_msg *m)
{
	if (!has_size(m, 8) || (m->p.u64 & ~PROTOCOL_OFFERED))
		return -EINVAL;
	vu->protocol = m->p.u64;
	return 0;
}

static int h_get_queue_num(struct vhost_user *vu, struct vhu_msg *m)
{
	if (!has_size(m, 0))
		return FATAL;
	return reply_u64(vu, m, vu->nq);
}

static int h_set_owner(struct vhost_user *vu, struct vhu_msg *m)
{
	if (!has_size(m, 0))
		return -EINVAL;
	vu->owner = true;
	return 0;
}

static int h_reset(struct vhost_user *vu, struct vhu_msg *m)
{
	/* RESET_OWNER is deprecated; both it and RESET_DEVICE disable and
	 * stop every ring and forget the negotiated features (the memory
	 * table and protocol features stay). */
	if (!has_size(m, 0))
		return -EINVAL;
	for (unsigned i = 0; i < vu->nq; i++)
		ring_stop(vu, &vu->ring[i]);
	for (unsigned i = 0; i < vu->nq; i++) {
		vu->ring[i].enabled = false;
		vu->ring[i].last_avail = 0;
	}
	__atomic_store_n(&vu->acked, 0, __ATOMIC_RELEASE);
	vu->features_set = false;
	return 0;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* Lengths >= 1 and a + alen - 1, b + blen - 1 do not overflow. */
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

static bool end_overflows(uint64_t start, uint64_t len)
{
	return len - 1 > UINT64_MAX - start;
}

static int h_set_mem_table(struct vhost_user *vu, struct vhu_msg *m)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct vhu_map nmap[VHOST_USER_MAX_REGIONS];
	struct guest_mem nmem = { 0 };
	struct vhost_user_region reg[VHOST_USER_MAX_REGIONS];
	uint32_t n;
	unsigned mapped = 0;
	int rc = -EINVAL;

	if (m->hdr.size < sizeof(m->p.mem.h))
		return -EINVAL;
	n = m->p.mem.h.nregions;
	if (n < 1 || n > VHOST_USER_MAX_REGIONS ||
	    m->hdr.size != sizeof(m->p.mem.h) + n * sizeof(reg[0]) || m->nfds != n)
		return -EINVAL;
	memcpy(reg, m->p.mem.r, n * sizeof(reg[0]));
	for (uint32_t i = 0; i < n; i++) {
		const struct vhost_user_region *r = &reg[i];
		struct stat st;

		if (r->size == 0 || end_overflows(r->guest_addr, r->size) ||
		    end_overflows(r->user_addr, r->size) ||
		    end_overflows(r->mmap_offset, r->size) ||
		    r->mmap_offset + r->size > (uint64_t)INT64_MAX ||
		    r->size > SIZE_MAX - page)
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (ranges_overlap(r->guest_addr, r->size, reg[j].guest_addr, reg[j].size) ||
			    ranges_overlap(r->user_addr, r->size, reg[j].user_addr, reg[j].size))
				return -EINVAL;
		/* A mapping past the end of the file faults (SIGBUS) on
		 * access: the file must cover the region now. */
		if (fstat(m->fds[i], &st) < 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size < r->mmap_offset + r->size)
			return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct vhost_user_region *r = &reg[i];
		uint64_t off = r->mmap_offset & ~(page - 1);
		size_t len = (size_t)(r->size + (r->mmap_offset - off));
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       m->fds[i], (off_t)off);

		if (p == MAP_FAILED) {
			rc = -errno;
			goto unmap;
		}
		nmap[i] = (struct vhu_map){ .addr = p, .len = len, .uva = r->user_addr };
		nmem.region[i] = (struct gm_region){
			.gpa = r->guest_addr, .size = r->size,
			.host = (uint8_t *)p + (r->mmap_offset - off),
		};
		nmem.size += r->size;
		mapped++;
	}
	nmem.nregions = n;

	/* Swap.  Live rings keep their state and get pointers into the new
	 * mappings (we are between the device's callbacks: nothing holds a
	 * pointer into the old ones). */
	for (unsigned i = 0; i < vu->nq; i++)
		if (vu->ring[i].live)
			vu->ring[i].last_avail = vu->ring[i].vq.last_avail_idx;
	unmap_all(vu);
	memcpy(vu->map, nmap, sizeof(nmap[0]) * n);
	vu->nmap = n;
	vu->mem = nmem;
	for (unsigned i = 0; i < vu->nq; i++) {
		struct vhu_ring *r = &vu->ring[i];

		if (r->live && ring_map(vu, r)) {
			log_warn("vhost-user: ring %u is outside the new memory table", i);
			vu->stats.queue_errors++;
			device_reset(vu);
			virtq_reset(&r->vq);
			r->live = false;
			signal_fd(r->err_fd);
		}
	}
	log_info("vhost-user: memory table: %u region%s, %llu MiB", n, n == 1 ? "" : "s",
		 (unsigned long long)(nmem.size >> 20));
	return 0;

unmap:
	for (unsigned i = 0; i < mapped; i++)
		munmap(nmap[i].addr, nmap[i].len);
	return rc;
}

static int h_set_vring_num(struct vhost_user *vu, struct vhu_msg *m)
{
	struct vhu_ring *r;
	uint32_t num;

	if (!has_size(m, sizeof(m->p.state)) || !(r = ring_of(vu, m->p.state.index)))
		return -EINVAL;
	num = m->p.state.num;
	if (r->live || !num || (num & (num - 1)) || num > vu->ops->queue_max_size) {
		log_info("vhost-user: ring %u: size %u refused (%s, at most %u)", r->index, num,
			 r->live ? "ring running" : "not a power of two",
			 vu->ops->queue_max_size);
		return -EINVAL;
	}
	r->num = num;
	return 0;
}

static int h_set_vring_addr(struct vhost_user *vu, struct vhu_msg *m)
{
	const struct vhost_user_vring_addr *a = &m->p.addr;
	struct vhu_ring *r;
	uint64_t gpa;

	if (!has_size(m, sizeof(*a)) || !(r = ring_of(vu, a->index)) || r->live)
		return -EINVAL;
	/* Each area must start inside guest memory now; whole areas are
	 * checked when the ring goes live (the size may still change). */
	if (translate(vu, a->desc_uaddr, 1, &gpa) || translate(vu, a->avail_uaddr, 1, &gpa) ||
	    translate(vu, a->used_uaddr, 1, &gpa))
		return -EFAULT;
	r->desc_ua = a->desc_uaddr;
	r->avail_ua = a->avail_uaddr;
	r->used_ua = a->used_uaddr;
	r->addr_set = true;
	return 0;
}

static int h_set_vring_base(struct vhost_user *vu, struct vhu_msg *m)
{
	struct vhu_ring *r;

	/* Split rings only: bits 16..31 are reserved. */
	if (!has_size(m, sizeof(m->p.state)) || !(r = ring_of(vu, m->p.state.index)) ||
	    r->live || m->p.state.num > 0xffff)
		return -EINVAL;
	r->last_avail = (uint16_t)m->p.state.num;
	return 0;
}

static int h_get_vring_base(struct vhost_user *vu, struct vhu_msg *m)
{
	struct vhost_user_vring_state st;
	struct vhu_ring *r;

	/* The front-end waits for the reply: nothing sane to answer. */
	if (!has_size(m, sizeof(m->p.state)) || !(r = ring_of(vu, m->p.state.index)))
		return FATAL;
	ring_stop(vu, r);
	st.index = r->index;
	st.num = r->last_avail;
	return send_reply(vu, m, &st, sizeof(st));
}

/* SET_VRING_KICK / CALL / ERR: u64 = index | NOFD flag, one fd unless NOFD. */
static int vring_fd_msg(struct vhost_user *vu, struct vhu_msg *m, struct vhu_ring **rp,
			int *fd)
{
	uint64_t v;

	if (!has_size(m, 8))
		return -EINVAL;
	v = m->p.u64;
	if (v & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD))
		return -EINVAL;
	if (!(*rp = ring_of(vu, v & VHOST_USER_VRING_IDX_MASK)))
		return -EINVAL;
	if ((v & VHOST_USER_VRING_NOFD) ? m->nfds != 0 : m->nfds != 1)
		return -EINVAL;
	*fd = m->nfds ? m->fds[0] : -1;
	/* Never block the I/O thread on it (QEMU's eventfds already are
	 * non-blocking; a pipe might not be). */
	if (*fd >= 0 && fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int h_set_vring_kick(struct vhost_user *vu, struct vhu_msg *m)
{
	struct vhu_ring *r;
	int fd, rc;

	rc = vring_fd_msg(vu, m, &r, &fd);
	if (rc)
		return rc;
	if (fd < 0)
		return -EOPNOTSUPP; /* polling mode */
	ring_drop_kick(vu, r);
	rc = ev_add(vu->ev, &r->kick_src, fd, EPOLLIN, kick_cb, r);
	if (rc) {
		/* The old kick is gone too: the ring cannot run. */
		ring_stop(vu, r);
		return rc;
	}
	m->fds[0] = -1;   /* taken */
	r->kick_fd = fd;
	r->kick_in_loop = true;
	r->started = true;
	ring_try_live(vu, r);
	return 0;
}

static int h_set_vring_call_err(struct vhost_user *vu, struct vhu_msg *m)
{
	struct vhu_ring *r;
	int fd, rc, *slot;

	rc = vring_fd_msg(vu, m, &r, &fd);
	if (rc)
		return rc;
	slot = m->hdr.request == VHOST_USER_SET_VRING_CALL ? &r->call_fd : &r->err_fd;
	close_fd(slot);
	*slot = fd;
	if (m->nfds)
		m->fds[0] = -1;   /* taken */
	return 0;
}

static int h_set_vring_enable(struct vhost_user *vu, struct vhu_msg *m)
{
	struct vhu_ring *r;

	if (!has_size(m, sizeof(m->p.state)) || !(r = ring_of(vu, m->p.state.index)) ||
	    m->p.state.num > 1)
		return -EINVAL;
	r->enabled = m->p.state.num == 1;
	if (r->enabled)
		ring_try_live(vu, r);
	else
		ring_leave_live(vu, r);
	return 0;
}

static bool config_range_ok(const struct vhost_user *vu, const struct vhu_msg *m)
{
	const struct vhost_user_config_hdr *c = &m->p.cfg.h;

	return m->hdr.size >= sizeof(*c) && c->size <= VHOST_USER_MAX_CONFIG &&
	       m->hdr.size == sizeof(*c) + c->size &&
	       c->offset <= vu->ops->config_size && c->size <= vu->ops->config_size - c->offset;
}

/* Config space in naturally aligned accesses of 8, 4, 2 or 1 bytes. */
static uint32_t chunk(uint32_t off, uint32_t left)
{
	for (uint32_t n = 8; n > 1; n /= 2)
		if (left >= n && off % n == 0)
			return n;
	return 1;
}

static int h_get_config(struct vhost_user *vu, struct vhu_msg *m)
{
	struct {
		struct vhost_user_config_hdr h;
		uint8_t data[VHOST_USER_MAX_CONFIG];
	} __attribute__((packed)) out;
	uint32_t n;

	if (m->hdr.size < sizeof(out.h))
		return FATAL;
	out.h = m->p.cfg.h;
	if (!config_range_ok(vu, m)) {
		/* Zero length is the protocol's error answer. */
		out.h.size = 0;
		vu->stats.refused++;
		return send_reply(vu, m, &out, sizeof(out.h));
	}
	for (uint32_t done = 0; done < out.h.size; done += n) {
		n = chunk(out.h.offset + done, out.h.size - done);
		vu->ops->config_read(vu->dev, out.h.offset + done, out.data + done, n);
	}
	return send_reply(vu, m, &out, sizeof(out.h) + out.h.size);
}

static int h_set_config(struct vhost_user *vu, struct vhu_msg *m)
{
	const struct vhost_user_config_hdr *c = &m->p.cfg.h;
	uint32_t n;

	if (!config_range_ok(vu, m) || !vu->ops->config_write)
		return -EINVAL;
	for (uint32_t done = 0; done < c->size; done += n) {
		n = chunk(c->offset + done, c->size - done);
		vu->ops->config_write(vu->dev, c->offset + done, m->p.cfg.data + done, n);
	}
	return 0;
}

struct handler {
	int (*fn)(struct vhost_user *vu, struct vhu_msg *m);
	unsigned max_fds;
	bool has_reply;    /* always answered; no REPLY_ACK on top */
};

static const struct handler *handler_of(uint32_t req)
{
	static const struct handler h[] = {
		[VHOST_USER_GET_FEATURES] = { h_get_features, 0, true },
		[VHOST_USER_SET_FEATURES] = { h_set_features, 0, false },
		[VHOST_USER_SET_OWNER] = { h_set_owner, 0, false },
		[VHOST_USER_RESET_OWNER] = { h_reset, 0, false },
		[VHOST_USER_SET_MEM_TABLE] = { h_set_mem_table, VHOST_USER_MAX_REGIONS, false },
		[VHOST_USER_SET_VRING_NUM] = { h_set_vring_num, 0, false },
		[VHOST_USER_SET_VRING_ADDR] = { h_set_vring_addr, 0, false },
		[VHOST_USER_SET_VRING_BASE] = { h_set_vring_base, 0, false },
		[VHOST_USER_GET_VRING_BASE] = { h_get_vring_base, 0, true },
		[VHOST_USER_SET_VRING_KICK] = { h_set_vring_kick, 1, false },
		[VHOST_USER_SET_VRING_CALL] = { h_set_vring_call_err, 1, false },
		[VHOST_USER_SET_VRING_ERR] = { h_set_vring_call_err, 1, false },
		[VHOST_USER_GET_PROTOCOL_FEATURES] = { h_get_protocol_features, 0, true },
		[VHOST_USER_SET_PROTOCOL_FEATURES] = { h_set_protocol_features, 0, false },
		[VHOST_USER_GET_QUEUE_NUM] = { h_get_queue_num, 0, true },
		[VHOST_USER_SET_VRING_ENABLE] = { h_set_vring_enable, 0, false },
		[VHOST_USER_GET_CONFIG] = { h_get_config, 0, true },
		[VHOST_USER_SET_CONFIG] = { h_set_config, 0, false },
		[VHOST_USER_RESET_DEVICE] = { h_reset, 0, false },
	};

	return req < sizeof(h) / sizeof(h[0]) && h[req].fn ? &h[req] : NULL;
}

/* Requests we do not serve whose sender blocks for a reply: we cannot
 * continue the conversation. */
static bool unknown_needs_reply(uint32_t req)
{
	switch (req) {
	case VHOST_USER_IOTLB_MSG:
	case VHOST_USER_CREATE_CRYPTO_SESSION:
	case VHOST_USER_POSTCOPY_ADVISE:
	case VHOST_USER_GET_INFLIGHT_FD:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_GET_STATUS:
		return true;
	}
	return false;
}

/* --- connection -------------------------------------------------------- */

static void disconnect(struct vhost_user *vu, int err, bool notify)
{
	if (vu->fd < 0)
		return;
	reset_all(vu);
	if (vu->conn_in_loop)
		ev_del(vu->ev, &vu->conn_src);
	vu->conn_in_loop = false;
	close_fd(&vu->fd);
	if (err)
		log_warn("vhost-user: connection ended: %s", strerror(-err));
	else
		log_info("vhost-user: front-end disconnected");
	if (notify && vu->on_disconnect)
		vu->on_disconnect(vu->opaque, err);
}

static void close_msg_fds(struct vhu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		close_fd(&m->fds[i]);
	m->nfds = 0;
}

static int handle_msg(struct vhost_user *vu, struct vhu_msg *m)
{
	const struct handler *h = handler_of(m->hdr.request);
	int rc;

	vu->stats.messages++;
	if (!h) {
		vu->stats.unknown++;
		log_info("vhost-user: request %u not supported", m->hdr.request);
		rc = unknown_needs_reply(m->hdr.request) ? FATAL : -EOPNOTSUPP;
	} else if (m->fds_dropped || m->nfds > h->max_fds) {
		rc = h->has_reply ? FATAL : -EINVAL;
	} else {
		rc = h->fn(vu, m);
	}
	close_msg_fds(m);
	if (rc == FATAL)
		return -EPROTO;
	if (rc < 0) {
		vu->stats.refused++;
		log_info("vhost-user: request %u refused: %s", m->hdr.request, strerror(-rc));
	}
	if ((!h || !h->has_reply) && (m->hdr.flags & VHOST_USER_NEED_REPLY) &&
	    (vu->protocol & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK)))
		if (reply_u64(vu, m, rc < 0 ? 1 : 0) == FATAL)
			return -EPIPE;
	return 0;
}

int vhost_user_handle_one(struct virtio_dev *vdev)
{
	struct vhost_user *vu = to_vu(vdev);
	struct vhu_msg *m;
	int64_t deadline = now_ms() + VHOST_USER_IO_TIMEOUT_MS;
	int rc;

	if (vu->fd < 0)
		return -ENOTCONN;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;   /* try again on the next wakeup */
	rc = read_full(vu->fd, &m->hdr, sizeof(m->hdr), m, true, deadline);
	if (rc == -EAGAIN) {
		close_msg_fds(m);
		free(m);
		return 0;
	}
	if (rc == 0 && (m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		rc = -EPROTO;
	if (rc == 0 && m->hdr.size > VHOST_USER_MAX_PAYLOAD)
		rc = -EMSGSIZE;
	if (rc == 0)
		rc = read_full(vu->fd, m->p.raw, m->hdr.size, m, false, deadline);
	if (rc == 0)
		rc = handle_msg(vu, m);
	close_msg_fds(m);
	free(m);
	if (rc)
		/* EOF between messages is the front-end going away. */
		disconnect(vu, rc == -ECONNRESET ? 0 : rc, true);
	return rc == -ECONNRESET ? -ECONNRESET : rc;
}

static void conn_cb(void *opaque, uint32_t events)
{
	(void)events;
	vhost_user_handle_one(opaque);
}

int vhost_user_serve(struct virtio_dev *vdev, int fd)
{
	struct vhost_user *vu = to_vu(vdev);
	int rc;

	if (vu->fd >= 0) {
		close(fd);
		return -EBUSY;
	}
	vu->fd = fd;
	rc = ev_add(vu->ev, &vu->conn_src, fd, EPOLLIN, conn_cb, vdev);
	if (rc) {
		close_fd(&vu->fd);
		return rc;
	}
	vu->conn_in_loop = true;
	log_info("vhost-user: front-end connected");
	return 0;
}

/* --- setup ------------------------------------------------------------- */

int vhost_user_create(const struct vhost_user_params *p, struct virtio_dev **out)
{
	struct vhost_user *vu;

	if (!p || !p->ev || !virtio_device_ops_valid(p->ops, VHOST_USER_MAX_CONFIG))
		return -EINVAL;
	vu = calloc(1, sizeof(*vu) + p->ops->num_queues * sizeof(vu->ring[0]));
	if (!vu)
		return -ENOMEM;
	vu->vdev.tops = &vhost_user_transport_ops;
	vu->ops = p->ops;
	vu->dev = p->dev;
	vu->ev = p->ev;
	vu->on_disconnect = p->on_disconnect;
	vu->opaque = p->opaque;
	vu->fd = -1;
	vu->offered = (p->ops->features & ~VIRTIO_TRANSPORT_FEATURES_MASK) |
		      VIRTIO_TRANSPORT_FEATURES | (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	vu->nq = p->ops->num_queues;
	for (unsigned i = 0; i < vu->nq; i++) {
		struct vhu_ring *r = &vu->ring[i];

		r->vu = vu;
		r->index = i;
		r->kick_fd = r->call_fd = r->err_fd = -1;
		r->vq.on_broken = queue_broken;
		r->vq.on_broken_opaque = vu;
	}
	*out = &vu->vdev;
	return 0;
}

void vhost_user_destroy(struct virtio_dev *vdev)
{
	struct vhost_user *vu;

	if (!vdev)
		return;
	vu = to_vu(vdev);
	disconnect(vu, 0, false);
	reset_all(vu);
	free(vu);
}

bool vhost_user_connected(const struct virtio_dev *vdev)
{
	return to_vu_c(vdev)->fd >= 0;
}

bool vhost_user_active(const struct virtio_dev *vdev)
{
	return to_vu_c(vdev)->active;
}

unsigned vhost_user_nregions(const struct virtio_dev *vdev)
{
	return to_vu_c(vdev)->nmap;
}

void vhost_user_get_stats(const struct virtio_dev *vdev, struct vhost_user_stats *out)
{
	*out = to_vu_c(vdev)->stats;
}
