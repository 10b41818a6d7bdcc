// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktest cases modelled on what Linux's tools/testing/vsock/vsock_test.c
 * checks (the field's list of what a vsock transport must get right),
 * written for this driver.  The guest runs the side that exercises AF_VSOCK
 * semantics with the kernel socket API; the host side is Unix sockets
 * through the VMM's hybrid vsock (tests/integration/test_linux_vsock.py,
 * test_linux_vsock_suite).  Ports are P (vsocktest.port) + offset:
 *
 *   P+8   sync       host listener: the guest connects, sends "<case>\n" and
 *                    waits for EOF, which the host sends once it has done
 *                    that case's next step (an acknowledged guest->host event)
 *   P+9   bindonly   a host Unix socket bound at <uds>_P+9, not listening:
 *                    the guest's connect must fail with ECONNRESET
 *   P+10  bindonly   a guest socket bound, not listening: the host's
 *                    "CONNECT P+10" (on sync) must be closed without "OK"
 *   P+11  cliclose   the guest sends a byte and closes; the host reads the
 *                    byte, EOF, hang-up, then its send fails
 *   P+12  srvclose   the host sends a byte and closes; the guest sees both
 *                    shutdown flags, its send fails EPIPE, it reads the
 *                    byte, then EOF
 *   P+13  peek       STREAM MSG_PEEK: empty (EAGAIN), part, whole, then read
 *   P+14  seqpeek    the same on SEQPACKET, plus MSG_PEEK|MSG_TRUNC = length
 *   P+15  seqtrunc   SEQPACKET: two 32-byte messages read into 16 bytes,
 *                    with and without MSG_TRUNC; the rest of each is dropped
 *   P+16  bigmsg     SEQPACKET: a message one byte over the send limit
 *                    (min(peer buf_alloc, own buffer)) fails EMSGSIZE, one
 *                    of exactly the limit and a small one arrive whole
 *   P+17  rcvtimeo   SEQPACKET recv with SO_RCVTIMEO 1 s and nothing sent:
 *                    EAGAIN after at least the timeout
 *   P+18  shutwr     guest SHUT_WR: its send fails EPIPE, the host reads EOF
 *                    and replies, the guest still receives
 *   P+19  shutrd     guest SHUT_RD: recv returns 0 at once, send still works;
 *                    what the host sends afterwards never reaches the guest
 *   P+20  rcvlowat   SO_RCVLOWAT 128: with 1 byte queued poll() shows no
 *                    POLLIN, with 128 it does
 *   P+21  credit_setlowat  128 KiB buffer; the host sends 128 KiB + 1, so the
 *                    device is blocked on credit; after reading 64 KiB,
 *                    setting SO_RCVLOWAT to 64 KiB + 1 must send the credit
 *                    update that brings the last byte
 *   P+22  credit_lowrx     the same with SO_RCVLOWAT set first: reading
 *                    below it must send the credit update
 *   P+23  outq       STREAM: the unsent count SIOCOUTQ reports drops to 0
 *                    once the device took the data
 *   P+24  seqoutq    the same on SEQPACKET
 *   P+25  connretry  connect with nothing listening (ECONNRESET); sync (the
 *                    host starts listening); connect again, same socket
 *   P+26  linger     SO_LINGER close with the byte unread by the host: the
 *                    close ends because the device reset the connection
 *                    (SOCK_DONE), not by running into the linger timeout
 *   P+27  txbound    our buffer 64 KiB, the device advertises 256 KiB: at
 *                    EAGAIN at most 64 KiB are in flight; all arrive
 *   P+28  txcredit   we advertise 2 MiB and read nothing: the device fills
 *                    exactly 2 MiB, then leaves the rest with the host
 *                    (whose sender stalls); then everything arrives
 *
 * Payloads are vsockhost.prng_bytes(seed, n) with the port offset as seed.
 * Waits are on the socket's wait queue (data, credit and state changes wake
 * it) and bounded by vsocktest.timeout_s; guest/host ordering comes from the
 * connections themselves or from the sync port, never from sleeping.
 * Cases a kernel cannot run print "<case> skip reason=...".
 */
#define pr_fmt(fmt) "vsocktest: " fmt

#include <linux/crc32.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/sockptr.h>
#include <linux/string.h>
#include <linux/time_types.h>
#include <linux/uio.h>
#include <linux/version.h>
#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>
#include <linux/wait.h>
#include <net/af_vsock.h>
#include <net/sock.h>

#include "vsocktest.h"

enum {
	P_SYNC = 8,
	P_BIND_HOST = 9,
	P_BIND_GUEST = 10,
	P_CLICLOSE = 11,
	P_SRVCLOSE = 12,
	P_PEEK = 13,
	P_SEQPEEK = 14,
	P_SEQTRUNC = 15,
	P_BIGMSG = 16,
	P_RCVTIMEO = 17,
	P_SHUTWR = 18,
	P_SHUTRD = 19,
	P_RCVLOWAT = 20,
	P_CREDIT_SET = 21,
	P_CREDIT_LOW = 22,
	P_OUTQ = 23,
	P_SEQOUTQ = 24,
	P_RETRY = 25,
	P_LINGER = 26,
	P_TXBOUND = 27,
	P_TXCREDIT = 28,
};

#define MARK 0x5a		/* the one-byte messages */
#define PEEK_LEN 64
#define TRUNC_LEN 32
#define CREDIT_BUF (128u << 10)
#define CREDIT_STEP (64u << 10)	/* VIRTIO_VSOCK_MAX_PKT_BUF_SIZE */
#define TXBOUND_BUF (64u << 10)
#define TXCREDIT_BUF (2u << 20)
#define TXCREDIT_BYTES (3u << 20)
#define LINGER_S 30

/* ------------------------------------------------------------ helpers --- */

/*
 * Wait until cond holds, woken by the socket's wait queue; bounded by
 * timeout_s.  cond must not sleep (no lock_sock, hence no ->poll() here).
 * Interruptible: the socket layer wakes its wait queue with
 * wake_up_interruptible*() (sk_data_ready, sk_state_change,
 * sk_write_space), which skips TASK_UNINTERRUPTIBLE sleepers -- an
 * uninterruptible wait only ever ended at the timeout.  Our kernel thread
 * takes no signals, so -ERESTARTSYS cannot come; passed on if it does.
 */
#define vt_wait_until(s, cond)						\
	({								\
		long __r = wait_event_interruptible_timeout(		\
			*sk_sleep((s)->sk), (cond),			\
			(long)vt_timeout_s * HZ);			\
		__r > 0 ? 0 : __r == 0 ? -ETIMEDOUT : (int)__r;		\
	})

/*
 * Before 6.3 af_vsock turned every error of the transport's
 * seqpacket_enqueue/_dequeue into -ENOMEM ("vsock: return errors other than
 * -ENOMEM to socket"): what -err looks like to a caller on this kernel.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#define VT_SEQ_ERR(err) (-ENOMEM)
#else
#define VT_SEQ_ERR(err) (err)
#endif

static s64 vt_queued(struct socket *s)
{
	return vsock_stream_has_data(vsock_sk(s->sk));
}

static bool vt_peer_closed(struct socket *s)
{
	return (READ_ONCE(vsock_sk(s->sk)->peer_shutdown) & SHUTDOWN_MASK) ==
	       SHUTDOWN_MASK;
}

static struct virtio_vsock_sock *vt_vvs(struct socket *s)
{
	return vsock_sk(s->sk)->trans;
}

static __poll_t vt_poll(struct socket *s)
{
	return s->ops->poll(NULL, s, NULL);	/* no poll table: no waiting */
}

static int vt_setsockopt(struct socket *s, int opt, void *val, unsigned int len)
{
	return sock_setsockopt(s, SOL_SOCKET, opt, KERNEL_SOCKPTR(val), len);
}

static int vt_set_lowat(struct socket *s, int val)
{
	return vt_setsockopt(s, SO_RCVLOWAT, &val, sizeof(val));
}

/*
 * What the socket advertises as buf_alloc; set before connecting, so the
 * REQUEST already carries it.  The maximum first: it clamps the size.
 */
static int vt_set_bufsize(struct socket *s, u64 size)
{
	int err = s->ops->setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE,
				     KERNEL_SOCKPTR(&size), sizeof(size));

	if (!err)
		err = s->ops->setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE,
					 KERNEL_SOCKPTR(&size), sizeof(size));
	return err;
}

/* n bytes of the seed's stream in a new buffer (kvfree it). */
static u8 *vt_prng_buf(u64 seed, size_t n)
{
	u8 *b = kvmalloc(n ? n : 1, GFP_KERNEL);
	struct prng p;

	if (b) {
		vt_prng_init(&p, seed);
		vt_prng_fill(&p, b, n);
	}
	return b;
}

/* One recv into buf (len bytes) with flags; r = result, fl = msg_flags. */
static int vt_recv(struct socket *s, void *buf, size_t len, int flags, int *fl)
{
	return vt_recv_some(s, buf, len, flags, fl);
}

/* Receive exactly n bytes (STREAM). */
static int vt_recv_exact(struct socket *s, u8 *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		int r = vt_recv_some(s, buf + got, n - got, 0, NULL);

		if (r < 0)
			return r;
		if (r == 0)
			return -EPIPE;
		got += r;
	}
	return 0;
}

/*
 * Tell the host that `tag`'s next step is due and wait until it is done:
 * the host's sync handler reads "<tag>\n", acts, and closes (EOF here).
 */
static int vt_sync(const char *tag)
{
	struct socket *s;
	char line[32];
	int n = scnprintf(line, sizeof(line), "%s\n", tag);
	int err = vt_open(SOCK_STREAM, vt_port + P_SYNC, &s);
	u8 b;

	if (err)
		return err;
	err = vt_send_all(s, line, n, 0);
	if (!err) {
		int r = vt_recv_some(s, &b, 1, 0, NULL);

		err = r < 0 ? r : r ? -EPROTO : 0;	/* only EOF expected */
	}
	sock_release(s);
	return err;
}

/* ------------------------------------------------------------ bindonly --- */

static enum vt_result sc_bindonly(const char *name)
{
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = vt_port + P_BIND_GUEST,
	};
	struct socket *s;
	int err, cerr;

	/* 1. The host's socket is bound but not listening. */
	err = vt_socket(SOCK_STREAM, &s);
	if (err) {
		FAIL(name, "reason=socket err=%d", err);
		return VT_FAIL;
	}
	cerr = vt_connect(s, vt_port + P_BIND_HOST);
	sock_release(s);
	if (cerr != -ECONNRESET) {
		FAIL(name, "reason=host_bound err=%d want=%d", cerr, -ECONNRESET);
		return VT_FAIL;
	}

	/* 2. Ours is bound but not listening; the host CONNECTs meanwhile. */
	err = vt_socket(SOCK_STREAM, &s);
	if (err) {
		FAIL(name, "reason=socket2 err=%d", err);
		return VT_FAIL;
	}
	err = kernel_bind(s, (struct sockaddr *)&a, sizeof(a));
	if (err) {
		FAIL(name, "reason=bind err=%d", err);
		goto out;
	}
	err = vt_sync(name);
	if (err) {
		FAIL(name, "reason=sync err=%d", err);
		goto out;
	}
	/* The request must have been refused, not queued or half-accepted. */
	if (s->sk->sk_state != TCP_CLOSE || s->sk->sk_ack_backlog) {
		FAIL(name, "reason=guest_bound state=%u backlog=%u",
		     s->sk->sk_state, s->sk->sk_ack_backlog);
		err = -EPROTO;
		goto out;
	}
	OK(name, "host_bound_err=%d guest_bound_port=%u", cerr, a.svm_port);
out:
	sock_release(s);
	return err ? VT_FAIL : VT_OK;
}

/* --------------------------------------------------- cliclose, srvclose --- */

static enum vt_result sc_cliclose(const char *name)
{
	struct socket *s;
	u8 b = MARK;
	int err = vt_open(SOCK_STREAM, vt_port + P_CLICLOSE, &s);

	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		return VT_FAIL;
	}
	err = vt_send_all(s, &b, 1, 0);
	/*
	 * Close right away (the byte may still be in flight); the host
	 * checks that it gets the byte and then the end of the connection.
	 */
	sock_release(s);
	if (err) {
		FAIL(name, "reason=send err=%d", err);
		return VT_FAIL;
	}
	OK(name, "sent=1");
	return VT_OK;
}

static enum vt_result sc_srvclose(const char *name)
{
	struct socket *s;
	u8 b = MARK, in = 0;
	int err, serr, r1, r2;

	err = vt_open(SOCK_STREAM, vt_port + P_SRVCLOSE, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		return VT_FAIL;
	}
	/*
	 * The host sends a byte and closes: wait until both directions are
	 * shut by the peer, as a closed peer must look.
	 */
	err = vt_wait_until(s, vt_peer_closed(s));
	if (err) {
		FAIL(name, "reason=peer_close err=%d peer_shutdown=%u", err,
		     READ_ONCE(vsock_sk(s->sk)->peer_shutdown));
		goto out;
	}
	serr = vt_send_all(s, &b, 1, MSG_NOSIGNAL);
	r1 = vt_recv(s, &in, 1, 0, NULL);
	r2 = vt_recv(s, &b, 1, 0, NULL);
	if (serr != -EPIPE || r1 != 1 || in != MARK || r2 != 0) {
		FAIL(name, "reason=after_close send_err=%d want=%d recv=%d byte=0x%02x eof_recv=%d",
		     serr, -EPIPE, r1, in, r2);
		err = -EPROTO;
		goto out;
	}
	OK(name, "send_err=%d byte=0x%02x eof=1", serr, in);
out:
	sock_release(s);
	return err ? VT_FAIL : VT_OK;
}

/* ---------------------------------------------------------- peek, seqpeek --- */

static enum vt_result peek_case(const char *name, int type, unsigned int off)
{
	bool seq = type == SOCK_SEQPACKET;
	u8 half[PEEK_LEN / 2], whole[PEEK_LEN], rd[PEEK_LEN], go = MARK;
	u8 *want = vt_prng_buf(off, PEEK_LEN);
	enum vt_result res = VT_FAIL;
	struct socket *s;
	int r, fl = 0, err;

	if (!want) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_open(type, vt_port + off, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	/* Nothing sent yet: a non-blocking peek must say so. */
	r = vt_recv(s, whole, PEEK_LEN, MSG_PEEK | MSG_DONTWAIT, NULL);
	if (r != -EAGAIN) {
		FAIL(name, "reason=empty_peek ret=%d want=%d", r, -EAGAIN);
		goto out;
	}
	/* The host sends its 64 bytes (one message) when it gets ours. */
	err = vt_send_all(s, &go, 1, seq ? MSG_EOR : 0);
	if (err) {
		FAIL(name, "reason=send err=%d", err);
		goto out;
	}
	if (!seq) {
		/* A stream peek returns what is there: wait for all of it. */
		err = vt_wait_until(s, vt_queued(s) >= PEEK_LEN);
		if (err) {
			FAIL(name, "reason=wait err=%d queued=%lld", err, vt_queued(s));
			goto out;
		}
	}
	r = vt_recv(s, half, sizeof(half), MSG_PEEK, NULL);
	if (seq && r == VT_SEQ_ERR(-EOPNOTSUPP)) {
		/* Linux 6.1's virtio transport has no SEQPACKET MSG_PEEK. */
		SKIP(name, "reason=seqpacket_msg_peek_unsupported err=%d", r);
		res = VT_SKIP;
		goto out;
	}
	if (r != sizeof(half)) {
		FAIL(name, "reason=peek_half ret=%d", r);
		goto out;
	}
	r = vt_recv(s, whole, sizeof(whole), MSG_PEEK, NULL);
	if (r != sizeof(whole) || memcmp(half, whole, sizeof(half)) ||
	    memcmp(whole, want, PEEK_LEN)) {
		FAIL(name, "reason=peek_whole ret=%d", r);
		goto out;
	}
	if (seq) {
		/* MSG_TRUNC with MSG_PEEK: the message's real length. */
		r = vt_recv(s, half, sizeof(half), MSG_PEEK | MSG_TRUNC, &fl);
		if (r != PEEK_LEN || !(fl & MSG_TRUNC)) {
			FAIL(name, "reason=peek_trunc ret=%d flags=0x%x", r, fl);
			goto out;
		}
	}
	r = vt_recv(s, rd, sizeof(rd), 0, NULL);
	if (r != sizeof(rd) || memcmp(rd, whole, sizeof(rd))) {
		FAIL(name, "reason=read ret=%d", r);
		goto out;
	}
	/* Peeking did not duplicate anything: the queue is empty now. */
	r = vt_recv(s, rd, sizeof(rd), MSG_PEEK | MSG_DONTWAIT, NULL);
	if (r != -EAGAIN) {
		FAIL(name, "reason=peek_after_read ret=%d want=%d", r, -EAGAIN);
		goto out;
	}
	res = VT_OK;
	OK(name, "bytes=%d peek_half=%zu trunc_len=%d", PEEK_LEN, sizeof(half),
	   seq ? PEEK_LEN : 0);
out:
	sock_release(s);
out_free:
	kvfree(want);
	return res;
}

static enum vt_result sc_peek(const char *name)
{
	return peek_case(name, SOCK_STREAM, P_PEEK);
}

static enum vt_result sc_seqpeek(const char *name)
{
	return peek_case(name, SOCK_SEQPACKET, P_SEQPEEK);
}

/* ------------------------------------------------------------ seqtrunc --- */

static enum vt_result sc_seqtrunc(const char *name)
{
	u8 *m1 = vt_prng_buf(P_SEQTRUNC, TRUNC_LEN);
	u8 *m2 = vt_prng_buf(P_SEQTRUNC + 100, TRUNC_LEN);
	u8 buf[TRUNC_LEN / 2], go = MARK;
	struct socket *s;
	int r1, r2, r3, fl1 = 0, fl2 = 0, err;
	bool ok = false;

	if (!m1 || !m2) {
		FAIL(name, "reason=nomem");
		goto out_free;
	}
	err = vt_open(SOCK_SEQPACKET, vt_port + P_SEQTRUNC, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	err = vt_send_all(s, &go, 1, MSG_EOR);	/* the host sends both now */
	if (err) {
		FAIL(name, "reason=send err=%d", err);
		goto out;
	}
	/* With MSG_TRUNC the return value is the whole message's length. */
	r1 = vt_recv(s, buf, sizeof(buf), MSG_TRUNC, &fl1);
	if (r1 != TRUNC_LEN || !(fl1 & MSG_TRUNC) || memcmp(buf, m1, sizeof(buf))) {
		FAIL(name, "reason=msg1 ret=%d flags=0x%x", r1, fl1);
		goto out;
	}
	/*
	 * Without it, what fitted; the rest of the message is dropped, so
	 * this read starts at the second message.
	 */
	r2 = vt_recv(s, buf, sizeof(buf), 0, &fl2);
	if (r2 != sizeof(buf) || !(fl2 & MSG_TRUNC) || memcmp(buf, m2, sizeof(buf))) {
		FAIL(name, "reason=msg2 ret=%d flags=0x%x", r2, fl2);
		goto out;
	}
	r3 = vt_recv(s, buf, sizeof(buf), MSG_DONTWAIT, NULL);
	if (r3 != -EAGAIN) {
		FAIL(name, "reason=leftover ret=%d", r3);
		goto out;
	}
	ok = true;
	OK(name, "trunc_ret=%d plain_ret=%d", r1, r2);
out:
	sock_release(s);
out_free:
	kvfree(m2);
	kvfree(m1);
	return ok ? VT_OK : VT_FAIL;
}

/* -------------------------------------------------------------- bigmsg --- */

static enum vt_result sc_bigmsg(const char *name)
{
	struct virtio_vsock_sock *vvs;
	struct socket *s;
	u32 peer, local, limit;
	u8 *big = NULL, *small = NULL;
	struct csum c;
	int err, berr;
	bool ok = false;

	err = vt_open(SOCK_SEQPACKET, vt_port + P_BIGMSG, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		return VT_FAIL;
	}
	vvs = vt_vvs(s);
	lock_sock(s->sk);
	spin_lock_bh(&vvs->tx_lock);
	peer = vvs->peer_buf_alloc;	/* from the device's RESPONSE */
	local = vvs->buf_alloc;
	spin_unlock_bh(&vvs->tx_lock);
	release_sock(s->sk);
	/* Both kernels refuse a message larger than min(peer, own) buffer. */
	limit = min(peer, local);
	big = vt_prng_buf(P_BIGMSG, limit + 1);
	small = vt_prng_buf(P_BIGMSG + 100, 100);
	if (!big || !small) {
		FAIL(name, "reason=nomem");
		goto out;
	}
	berr = vt_send_all(s, big, limit + 1, MSG_EOR);
	if (berr != VT_SEQ_ERR(-EMSGSIZE)) {
		FAIL(name, "reason=big err=%d want=%d limit=%u", berr,
		     VT_SEQ_ERR(-EMSGSIZE), limit);
		goto out;
	}
	/*
	 * The connection survives; exactly the limit still goes (the host
	 * checks both arrive whole).
	 */
	err = vt_send_all(s, big, limit, MSG_EOR);
	if (!err)
		err = vt_send_all(s, small, 100, MSG_EOR);
	if (err) {
		FAIL(name, "reason=send err=%d limit=%u", err, limit);
		goto out;
	}
	vt_cs_init(&c);
	vt_cs_add(&c, big, limit);
	ok = true;
	OK(name, "big_err=%d limit=%u peer_buf_alloc=%u buf_alloc=%u limit_crc=0x%08x",
	   berr, limit, peer, local, vt_cs_val(&c));
out:
	kvfree(small);
	kvfree(big);
	sock_release(s);
	return ok ? VT_OK : VT_FAIL;
}

/* ------------------------------------------------------------ rcvtimeo --- */

static enum vt_result sc_rcvtimeo(const char *name)
{
	struct __kernel_sock_timeval tv = { .tv_sec = 1 };
	struct socket *s;
	unsigned long j0;
	ktime_t t0;
	u64 ms, jms;
	u8 b;
	int err, r;

	err = vt_open(SOCK_SEQPACKET, vt_port + P_RCVTIMEO, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		return VT_FAIL;
	}
	err = vt_setsockopt(s, SO_RCVTIMEO_NEW, &tv, sizeof(tv));
	if (err) {
		FAIL(name, "reason=setsockopt err=%d", err);
		goto out;
	}
	/* The host sends nothing: the receive must time out. */
	t0 = ktime_get();
	j0 = jiffies;
	r = vt_recv(s, &b, 1, 0, NULL);
	ms = vt_ms_since(t0);
	jms = jiffies_to_msecs(jiffies - j0);
	if (r != -EAGAIN) {
		FAIL(name, "reason=recv ret=%d want=%d ms=%llu", r, -EAGAIN, ms);
		err = -EPROTO;
		goto out;
	}
	/*
	 * Only the lower bound is the semantics, and the kernel keeps the
	 * timeout in jiffies, which may end the wait up to one tick early:
	 * the host checks waited_jiffies_ms >= timeout - tick.  waited_ms
	 * (ktime) is for the log: under software emulation the tick and the
	 * clocksource are calibrated apart and disagree by a few per cent.
	 */
	OK(name, "err=%d timeout_ms=%lld waited_jiffies_ms=%llu waited_ms=%llu tick_ms=%u",
	   r, (long long)tv.tv_sec * 1000, jms, ms, jiffies_to_msecs(1));
out:
	sock_release(s);
	return err ? VT_FAIL : VT_OK;
}

/* ------------------------------------------------------ shutwr, shutrd --- */

#define SHUT_REPLY 100
#define SHUTRD_BYTES 4096

static enum vt_result sc_shutwr(const char *name)
{
	u8 *want = vt_prng_buf(P_SHUTWR, SHUT_REPLY);
	u8 *buf = kvmalloc(CHUNK, GFP_KERNEL);
	struct socket *s;
	struct csum c;
	u8 b = MARK;
	int err, serr;
	bool ok = false;

	if (!want || !buf) {
		FAIL(name, "reason=nomem");
		goto out_free;
	}
	err = vt_open(SOCK_STREAM, vt_port + P_SHUTWR, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	err = kernel_sock_shutdown(s, SHUT_WR);
	if (err) {
		FAIL(name, "reason=shutdown err=%d", err);
		goto out;
	}
	serr = vt_send_all(s, &b, 1, MSG_NOSIGNAL);
	if (serr != -EPIPE) {
		FAIL(name, "reason=send_after_shut err=%d want=%d", serr, -EPIPE);
		goto out;
	}
	/* The host saw our EOF and replies; receiving still works. */
	vt_cs_init(&c);
	err = vt_recv_to_eof(s, buf, &c, NULL, 0);
	if (err || c.n != SHUT_REPLY || vt_cs_val(&c) != ~crc32_le(~0u, want, SHUT_REPLY)) {
		FAIL(name, "reason=reply err=%d bytes=%llu", err, c.n);
		goto out;
	}
	ok = true;
	OK(name, "send_err=%d reply_bytes=%llu reply_crc=0x%08x", serr, c.n, vt_cs_val(&c));
out:
	sock_release(s);
out_free:
	kvfree(buf);
	kvfree(want);
	return ok ? VT_OK : VT_FAIL;
}

static enum vt_result sc_shutrd(const char *name)
{
	u8 *data = vt_prng_buf(P_SHUTRD, SHUTRD_BYTES);
	struct virtio_vsock_sock *vvs;
	struct socket *s;
	u32 delivered;
	u8 b;
	int err, r;
	bool ok = false;

	if (!data) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_open(SOCK_STREAM, vt_port + P_SHUTRD, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	err = kernel_sock_shutdown(s, SHUT_RD);
	if (err) {
		FAIL(name, "reason=shutdown err=%d", err);
		goto out;
	}
	r = vt_recv(s, &b, 1, MSG_DONTWAIT, NULL);
	if (r != 0) {
		FAIL(name, "reason=recv_after_shut ret=%d want=0", r);
		goto out;
	}
	/*
	 * Our direction stays open.  The SHUTDOWN(RCV) went out before
	 * these bytes, so the device has it before the host replies.
	 */
	err = vt_send_all(s, data, SHUTRD_BYTES, MSG_NOSIGNAL);
	if (err) {
		FAIL(name, "reason=send err=%d", err);
		goto out;
	}
	/* The host reads our bytes, sends its own, then acknowledges. */
	err = vt_sync(name);
	if (err) {
		FAIL(name, "reason=sync err=%d", err);
		goto out;
	}
	vvs = vt_vvs(s);
	spin_lock_bh(&vvs->rx_lock);
	delivered = vvs->fwd_cnt + vvs->rx_bytes;	/* all ever received */
	spin_unlock_bh(&vvs->rx_lock);
	if (delivered) {
		FAIL(name, "reason=delivered_after_shut_rd bytes=%u", delivered);
		goto out;
	}
	ok = true;
	OK(name, "recv_after_shut=0 sent=%d delivered=%u", SHUTRD_BYTES, delivered);
out:
	sock_release(s);
out_free:
	kvfree(data);
	return ok ? VT_OK : VT_FAIL;
}

/* ------------------------------------------------------------ rcvlowat --- */

#define LOWAT 128

static enum vt_result sc_rcvlowat(const char *name)
{
	u8 *want = vt_prng_buf(P_RCVLOWAT, LOWAT);
	u8 buf[LOWAT], go = MARK;
	struct socket *s;
	__poll_t m1 = 0, m2 = 0;
	int err, r;
	bool ok = false;

	if (!want) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_open(SOCK_STREAM, vt_port + P_RCVLOWAT, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	err = vt_set_lowat(s, LOWAT);
	if (!err)
		err = vt_send_all(s, &go, 1, 0);	/* host: send 1 byte */
	if (err) {
		FAIL(name, "reason=setup err=%d", err);
		goto out;
	}
	err = vt_wait_until(s, vt_queued(s) >= 1);
	if (err) {
		FAIL(name, "reason=wait1 err=%d", err);
		goto out;
	}
	m1 = vt_poll(s);	/* 1 < SO_RCVLOWAT: not readable */
	if (m1 & EPOLLIN) {
		FAIL(name, "reason=poll_below_lowat mask=0x%x", (unsigned int)m1);
		goto out;
	}
	err = vt_send_all(s, &go, 1, 0);	/* host: the other 127 bytes */
	if (!err)
		err = vt_wait_until(s, vt_queued(s) >= LOWAT);
	if (err) {
		FAIL(name, "reason=wait2 err=%d queued=%lld", err, vt_queued(s));
		goto out;
	}
	m2 = vt_poll(s);
	r = vt_recv(s, buf, sizeof(buf), MSG_DONTWAIT, NULL);
	if (!(m2 & EPOLLIN) || r != LOWAT || memcmp(buf, want, LOWAT)) {
		FAIL(name, "reason=at_lowat mask=0x%x ret=%d", (unsigned int)m2, r);
		goto out;
	}
	ok = true;
	OK(name, "lowat=%d mask_below=0x%x mask_at=0x%x bytes=%d", LOWAT,
	   (unsigned int)m1, (unsigned int)m2, r);
out:
	sock_release(s);
out_free:
	kvfree(want);
	return ok ? VT_OK : VT_FAIL;
}

/* ------------------------------------------- credit_setlowat, _lowrx --- */

/*
 * The host sends CREDIT_BUF + 1 bytes into our CREDIT_BUF buffer: the
 * device stops one byte short, blocked on credit.  Reading CREDIT_STEP
 * leaves free space = CREDIT_STEP, which on its own does not make Linux
 * send a credit update; SO_RCVLOWAT above what is left must (set after
 * the read, or set before it: "low rx_bytes").  The last byte arriving
 * shows the device resumed.
 */
static enum vt_result __maybe_unused credit_case(const char *name, bool set_after,
						 unsigned int off)
{
	const u32 total = CREDIT_BUF + 1, lowat = CREDIT_STEP + 1;
	u8 *buf = kvmalloc(total, GFP_KERNEL);
	struct socket *s;
	struct csum c;
	s64 full = 0;
	__poll_t m;
	u8 go = MARK;
	int err, r;
	bool ok = false;

	if (!buf) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_socket(SOCK_STREAM, &s);
	if (err) {
		FAIL(name, "reason=socket err=%d", err);
		goto out_free;
	}
	err = vt_set_bufsize(s, CREDIT_BUF);
	if (!err && !set_after)
		err = vt_set_lowat(s, lowat);
	if (err) {
		FAIL(name, "reason=sockopt err=%d", err);
		goto out;
	}
	err = vt_connect(s, vt_port + off);
	if (!err)
		err = vt_send_all(s, &go, 1, 0);	/* host: start sending */
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out;
	}
	err = vt_wait_until(s, vt_queued(s) >= CREDIT_BUF);
	full = vt_queued(s);
	if (err || full != CREDIT_BUF) {
		FAIL(name, "reason=fill err=%d queued=%lld want=%u", err, full, CREDIT_BUF);
		goto out;
	}
	err = vt_recv_exact(s, buf, CREDIT_STEP);
	if (!err && set_after)
		err = vt_set_lowat(s, lowat);
	if (err) {
		FAIL(name, "reason=read_step err=%d", err);
		goto out;
	}
	/* Data >= SO_RCVLOWAT only once the last byte came. */
	err = vt_wait_until(s, vt_queued(s) >= lowat);
	if (err) {
		FAIL(name, "reason=sender_not_resumed err=%d queued=%lld", err, vt_queued(s));
		goto out;
	}
	m = vt_poll(s);
	r = vt_recv(s, buf + CREDIT_STEP, lowat, MSG_DONTWAIT, NULL);
	if (!(m & EPOLLIN) || r != lowat) {
		FAIL(name, "reason=final mask=0x%x ret=%d want=%u", (unsigned int)m, r, lowat);
		goto out;
	}
	vt_cs_init(&c);
	vt_cs_add(&c, buf, total);
	ok = true;
	OK(name, "buf=%u full=%lld lowat=%u bytes=%u crc=0x%08x", CREDIT_BUF, full,
	   lowat, total, vt_cs_val(&c));
out:
	sock_release(s);
out_free:
	kvfree(buf);
	return ok ? VT_OK : VT_FAIL;
}

static enum vt_result sc_credit_setlowat(const char *name)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
	/*
	 * Before 6.7 setting SO_RCVLOWAT sends no credit update
	 * (notify_set_rcvlowat): the sender would stay blocked.
	 */
	SKIP(name, "reason=no_credit_update_on_set_rcvlowat");
	return VT_SKIP;
#else
	return credit_case(name, true, P_CREDIT_SET);
#endif
}

static enum vt_result sc_credit_lowrx(const char *name)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	/*
	 * Before "virtio/vsock: don't use skbuff state to account credit"
	 * rx_bytes and fwd_cnt move by whole packets: reading CREDIT_STEP
	 * ends inside a packet, so rx_bytes still counts all of it, stays
	 * >= SO_RCVLOWAT and no credit update goes out (the device correctly
	 * stays blocked); vt_queued() over-counts the same way.
	 */
	SKIP(name, "reason=per_packet_rx_accounting");
	return VT_SKIP;
#else
	return credit_case(name, false, P_CREDIT_LOW);
#endif
}

/* ---------------------------------------------------------- outq, seqoutq --- */

#define OUTQ_LEN 64

static enum vt_result outq_case(const char *name, int type, unsigned int off)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
	/* SIOCOUTQ on vsock (vsock_transport.unsent_bytes) came in 6.11. */
	SKIP(name, "reason=no_siocoutq");
	return VT_SKIP;
#else
	bool seq = type == SOCK_SEQPACKET;
	u8 *data = vt_prng_buf(off, OUTQ_LEN);
	struct vsock_sock *vsk;
	struct socket *s;
	ssize_t unsent = -1;
	unsigned int polls = 0;
	unsigned long end;
	u8 ack;
	int err;
	bool ok = false;

	if (!data) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_open(type, vt_port + off, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	vsk = vsock_sk(s->sk);
	err = vt_send_all(s, data, OUTQ_LEN, seq ? MSG_EOR : 0);
	if (!err)	/* the host acknowledges having read all of it */
		err = vt_recv_exact(s, &ack, 1);
	if (err) {
		FAIL(name, "reason=io err=%d", err);
		goto out;
	}
	/*
	 * SIOCOUTQ returns unsent_bytes() (a kernel caller cannot pass the
	 * ioctl's user pointer).  The count drops when the driver reaps the
	 * device's used buffers, which the ack does not order: poll the local
	 * counter, bounded, as vsock_test does.
	 */
	end = jiffies + (unsigned long)vt_timeout_s * HZ;
	for (;;) {
		lock_sock(s->sk);
		unsent = vsk->transport->unsent_bytes(vsk);
		release_sock(s->sk);
		polls++;
		if (unsent == 0 || time_after(jiffies, end))
			break;
		msleep(20);
	}
	if (unsent != 0) {
		FAIL(name, "reason=unsent bytes=%zd", unsent);
		goto out;
	}
	ok = true;
	OK(name, "sent=%d unsent=%zd polls=%u", OUTQ_LEN, unsent, polls);
out:
	sock_release(s);
out_free:
	kvfree(data);
	return ok ? VT_OK : VT_FAIL;
#endif
}

static enum vt_result sc_outq(const char *name)
{
	return outq_case(name, SOCK_STREAM, P_OUTQ);
}

static enum vt_result sc_seqoutq(const char *name)
{
	return outq_case(name, SOCK_SEQPACKET, P_SEQOUTQ);
}

/* ----------------------------------------------------------- connretry --- */

static enum vt_result sc_connretry(const char *name)
{
	struct socket *s;
	u8 b = MARK, back = 0;
	int err, e1, e2;

	err = vt_socket(SOCK_STREAM, &s);
	if (err) {
		FAIL(name, "reason=socket err=%d", err);
		return VT_FAIL;
	}
	e1 = vt_connect(s, vt_port + P_RETRY);	/* nothing listens yet */
	if (e1 != -ECONNRESET) {
		FAIL(name, "reason=first err=%d want=%d", e1, -ECONNRESET);
		err = -EPROTO;
		goto out;
	}
	err = vt_sync(name);	/* the host starts listening */
	if (err) {
		FAIL(name, "reason=sync err=%d", err);
		goto out;
	}
	e2 = vt_connect(s, vt_port + P_RETRY);	/* the same socket */
	if (e2) {
		FAIL(name, "reason=second err=%d", e2);
		err = e2;
		goto out;
	}
	err = vt_send_all(s, &b, 1, 0);
	if (!err)
		err = vt_recv_exact(s, &back, 1);	/* the host echoes it */
	if (err || back != MARK) {
		FAIL(name, "reason=io err=%d byte=0x%02x", err, back);
		err = err ? err : -EPROTO;
		goto out;
	}
	OK(name, "first_err=%d second_err=%d echo=0x%02x", e1, e2, back);
out:
	sock_release(s);
	return err ? VT_FAIL : VT_OK;
}

/* -------------------------------------------------------------- linger --- */

static enum vt_result sc_linger(const char *name)
{
	struct linger l = { .l_onoff = 1, .l_linger = LINGER_S };
	struct socket *s;
	struct sock *sk;
	ktime_t t0;
	u64 ms;
	u8 b = MARK;
	bool done;
	int err;

	err = vt_open(SOCK_STREAM, vt_port + P_LINGER, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		return VT_FAIL;
	}
	err = vt_setsockopt(s, SO_LINGER, &l, sizeof(l));
	if (!err)	/* the host leaves it unread until we have closed */
		err = vt_send_all(s, &b, 1, 0);
	if (err) {
		FAIL(name, "reason=setup err=%d", err);
		sock_release(s);
		return VT_FAIL;
	}
	/*
	 * Both kernels' lingering close waits for SOCK_DONE (the peer's RST)
	 * or the linger timeout.  Keep the sock to see which ended it: with
	 * SOCK_DONE set on return, the device answered our SHUTDOWN with RST
	 * although the host never read the byte.
	 */
	sk = s->sk;
	sock_hold(sk);
	t0 = ktime_get();
	sock_release(s);
	ms = vt_ms_since(t0);
	done = sock_flag(sk, SOCK_DONE);
	sock_put(sk);
	if (!done) {
		FAIL(name, "reason=lingered_to_timeout close_ms=%llu linger_s=%d", ms, LINGER_S);
		return VT_FAIL;
	}
	OK(name, "done=1 close_ms=%llu linger_s=%d", ms, LINGER_S);
	return VT_OK;
}

/* ------------------------------------------------------ txbound, txcredit --- */

static enum vt_result sc_txbound(const char *name)
{
	u8 *buf = kvmalloc(PAGE_SIZE, GFP_KERNEL);
	struct virtio_vsock_sock *vvs;
	struct socket *s;
	struct prng p;
	struct csum c;
	u32 inflight, peer, local;
	size_t off = PAGE_SIZE, sent = 0;
	int err, r;
	bool ok = false;

	if (!buf) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_socket(SOCK_STREAM, &s);
	if (!err) {
		err = vt_set_bufsize(s, TXBOUND_BUF);
		if (!err)
			err = vt_connect(s, vt_port + P_TXBOUND);
		if (err)
			sock_release(s);
	}
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	/* The host reads nothing until our sync: send until EAGAIN. */
	vt_prng_init(&p, P_TXBOUND);
	vt_cs_init(&c);
	for (;;) {
		struct kvec v;
		struct msghdr m = { .msg_flags = MSG_DONTWAIT };

		if (off == PAGE_SIZE) {
			vt_prng_fill(&p, buf, PAGE_SIZE);
			off = 0;
		}
		v.iov_base = buf + off;
		v.iov_len = PAGE_SIZE - off;
		r = kernel_sendmsg(s, &m, &v, 1, v.iov_len);
		if (r == -EAGAIN)
			break;
		if (r <= 0 || sent > (64u << 20)) {	/* 64 MiB: no bound at all */
			err = r <= 0 ? r : -E2BIG;
			break;
		}
		vt_cs_add(&c, buf + off, r);
		off += r;
		sent += r;
	}
	vvs = vt_vvs(s);
	spin_lock_bh(&vvs->tx_lock);
	inflight = vvs->tx_cnt - vvs->peer_fwd_cnt;
	peer = vvs->peer_buf_alloc;
	local = vvs->buf_alloc;
	spin_unlock_bh(&vvs->tx_lock);
	if (err) {
		FAIL(name, "reason=send err=%d sent=%zu", err, sent);
		goto out;
	}
	if (inflight > min(peer, local)) {
		FAIL(name, "reason=bound inflight=%u peer_buf_alloc=%u buf_alloc=%u",
		     inflight, peer, local);
		goto out;
	}
	err = vt_sync(name);	/* the host starts reading */
	if (!err)
		err = kernel_sock_shutdown(s, SHUT_WR);
	if (err) {
		FAIL(name, "reason=sync err=%d", err);
		goto out;
	}
	/* Everything reached the host: wait for its EOF after it read ours. */
	r = vt_recv(s, buf, 1, 0, NULL);
	if (r != 0) {
		FAIL(name, "reason=host_eof ret=%d", r);
		goto out;
	}
	ok = true;
	OK(name, "sent=%zu crc=0x%08x inflight=%u peer_buf_alloc=%u buf_alloc=%u",
	   sent, vt_cs_val(&c), inflight, peer, local);
out:
	sock_release(s);
out_free:
	kvfree(buf);
	return ok ? VT_OK : VT_FAIL;
}

static enum vt_result sc_txcredit(const char *name)
{
	u8 *buf = kvmalloc(CHUNK, GFP_KERNEL);
	struct socket *s;
	struct csum c;
	s64 full = 0;
	u8 b = MARK;
	int err;
	bool ok = false;

	if (!buf) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_socket(SOCK_STREAM, &s);
	if (!err) {
		err = vt_set_bufsize(s, TXCREDIT_BUF);
		if (!err)
			err = vt_connect(s, vt_port + P_TXCREDIT);
		if (err)
			sock_release(s);
	}
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	err = vt_send_all(s, &b, 1, 0);		/* host: start sending */
	if (!err)
		err = vt_wait_until(s, vt_queued(s) >= TXCREDIT_BUF);
	full = vt_queued(s);
	if (err || full != TXCREDIT_BUF) {
		FAIL(name, "reason=fill err=%d queued=%lld want=%u", err, full, TXCREDIT_BUF);
		goto out;
	}
	/*
	 * Full: tell the host in band; it checks that its sender stalls and
	 * acknowledges on the sync port; then we read everything.
	 */
	err = vt_send_all(s, &b, 1, 0);
	if (!err)
		err = vt_sync(name);
	if (err) {
		FAIL(name, "reason=sync err=%d", err);
		goto out;
	}
	vt_cs_init(&c);
	err = vt_recv_to_eof(s, buf, &c, NULL, 0);
	if (err || c.n != TXCREDIT_BYTES) {
		FAIL(name, "reason=read err=%d bytes=%llu want=%u", err, c.n, TXCREDIT_BYTES);
		goto out;
	}
	ok = true;
	OK(name, "buf=%u full=%lld bytes=%llu crc=0x%08x", TXCREDIT_BUF, full, c.n,
	   vt_cs_val(&c));
out:
	sock_release(s);
out_free:
	kvfree(buf);
	return ok ? VT_OK : VT_FAIL;
}

/* ------------------------------------------------------------- the list --- */

const struct vt_scenario vt_cases[] = {
	{ "bindonly", sc_bindonly },
	{ "cliclose", sc_cliclose },
	{ "srvclose", sc_srvclose },
	{ "peek", sc_peek },
	{ "seqpeek", sc_seqpeek },
	{ "seqtrunc", sc_seqtrunc },
	{ "bigmsg", sc_bigmsg },
	{ "rcvtimeo", sc_rcvtimeo },
	{ "shutwr", sc_shutwr },
	{ "shutrd", sc_shutrd },
	{ "rcvlowat", sc_rcvlowat },
	{ "credit_setlowat", sc_credit_setlowat },
	{ "credit_lowrx", sc_credit_lowrx },
	{ "outq", sc_outq },
	{ "seqoutq", sc_seqoutq },
	{ "connretry", sc_connretry },
	{ "linger", sc_linger },
	{ "txbound", sc_txbound },
	{ "txcredit", sc_txcredit },
};

const unsigned int vt_ncases = ARRAY_SIZE(vt_cases);
