// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktest: a built-in AF_VSOCK self test for the vmm project's virtio-mmio
 * vsock device, for hosts where guest user space cannot run (the project's
 * PVM build/CI hosts, see guest-images/linux/README.md).
 *
 * Inert unless the kernel command line names scenarios:
 *
 *   vsocktest.scenarios=echo,listen,halfclose,seqpacket,many,refused,slowread
 *   vsocktest.port=5000        base port P; scenario ports are P+offset:
 *   vsocktest.cid=2            destination CID of every connection the
 *                              driver makes (echo, halfclose, seqpacket,
 *                              many, refused, slowread and the cases.c
 *                              clients); default 2, the host; a sibling
 *                              VM's CID reaches that VM (docs/vsock.md
 *                              "Sibling VMs").  Must be 2 or 3..0xFFFFFFFE
 *                              and not the guest's own CID, else every
 *                              scenario fails with reason=bad_cid.
 *   vsocktest.refused_cid=0    the CID "refused" connects to; 0: cid
 *     echo       P+0  guest -> host stream, host echoes (echo_bytes)
 *     listen     P+1  guest listens, host "CONNECT P+1", guest echoes
 *     halfclose  P+2  guest SHUT_WR, host replies everything, then EOF
 *                P+3  host sends, SHUT_WR; guest sees EOF, replies everything
 *     seqpacket  P+4  SOCK_SEQPACKET, host echoes message by message
 *     many       P+5  `many` concurrent connections to an echo listener
 *     refused    P+6  nothing listens: connect must fail with ECONNRESET
 *     slowread   P+7  host sends slow_bytes; the guest reads only after
 *                     slow_pause_ms
 *
 * Output (console): one "vsocktest: <scenario> ok k=v ..." or
 * "vsocktest: <scenario> fail reason=<word> ..." line per scenario, then
 * "vsocktest: done passed=N failed=M"; then the machine reboots (with
 * reboot=k the VMM exits).  Checksums are CRC-32 as Python's zlib.crc32
 * (= ~crc32_le(~0, buf, len)); payloads the guest generates are the
 * xorshift64 stream of tests/integration/vsockhost.py:prng_bytes(seed, n).
 *
 * The scenarios run in a kernel thread; the late_initcall waits for it, so
 * /init (which faults on the PVM hosts and would panic the guest) only
 * starts once the tests are over (and only if vsocktest.reboot=0).
 */
#define pr_fmt(fmt) "vsocktest: " fmt

#include <linux/completion.h>
#include <linux/crc32.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/net.h>
#include <linux/platform_device.h>
#include <linux/reboot.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <linux/uio.h>
#include <linux/virtio.h>
#include <linux/virtio_vsock.h>
#include <linux/workqueue.h>
/* 6.12 moved the unaligned accessors to <linux/unaligned.h>; 6.1 has only
 * <asm/unaligned.h>. */
#if __has_include(<linux/unaligned.h>)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif
#include <linux/vm_sockets.h>
#include <net/af_vsock.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <uapi/linux/virtio_ids.h>

#include "vsocktest.h"

/*
 * The driver is linked from several objects (Makefile), so kbuild names it
 * after the composite object; keep the documented "vsocktest." prefix of
 * the command-line parameters.
 */
#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "vsocktest."

static char *scenarios = "";
module_param(scenarios, charp, 0444);
MODULE_PARM_DESC(scenarios, "comma-separated scenarios to run (empty: do nothing)");
unsigned int vt_port = 5000;
module_param_named(port, vt_port, uint, 0444);
static unsigned int vt_cid = VMADDR_CID_HOST;
module_param_named(cid, vt_cid, uint, 0444);
MODULE_PARM_DESC(cid, "destination CID of the client scenarios (2: the host)");
static unsigned int refused_cid;
module_param(refused_cid, uint, 0444);
MODULE_PARM_DESC(refused_cid, "destination CID of \"refused\" (0: cid)");
static unsigned int echo_bytes = 1 << 20;
module_param(echo_bytes, uint, 0444);
static unsigned int listen_bytes = 256 << 10;
module_param(listen_bytes, uint, 0444);
static unsigned int half_bytes = 64 << 10;
module_param(half_bytes, uint, 0444);
static unsigned int many = 100;
module_param(many, uint, 0444);
static unsigned int slow_bytes = 4 << 20;
module_param(slow_bytes, uint, 0444);
static unsigned int slow_pause_ms = 2000;
module_param(slow_pause_ms, uint, 0444);
/* Bound on every blocking socket call (send, recv, accept, connect). */
unsigned int vt_timeout_s = 60;
module_param_named(timeout_s, vt_timeout_s, uint, 0444);
static bool reboot = true;
module_param(reboot, bool, 0444);

/* ------------------------------------------------------------ helpers --- */

void vt_cs_init(struct csum *c)
{
	c->s = ~0u;
	c->n = 0;
}

void vt_cs_add(struct csum *c, const void *p, size_t n)
{
	c->s = crc32_le(c->s, p, n);
	c->n += n;
}

u32 vt_cs_val(const struct csum *c)
{
	return ~c->s;	/* zlib.crc32 */
}

void vt_prng_init(struct prng *p, u64 seed)
{
	p->s = seed ^ 0x9E3779B97F4A7C15ULL;
	if (!p->s)
		p->s = 1;
}

/* n must be a multiple of 8 except at the very end of a stream. */
void vt_prng_fill(struct prng *p, u8 *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += 8) {
		u64 s = p->s;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p->s = s;
		if (n - i >= 8)
			put_unaligned_le64(s, buf + i);
		else
			memcpy(buf + i, &s, n - i);	/* x86: little-endian */
	}
}

u64 vt_ms_since(ktime_t t0)
{
	return ktime_ms_delta(ktime_get(), t0);
}

int vt_socket(int type, struct socket **out)
{
	int err = sock_create_kern(&init_net, AF_VSOCK, type, 0, out);

	if (err)
		return err;
	(*out)->sk->sk_rcvtimeo = (long)vt_timeout_s * HZ;
	(*out)->sk->sk_sndtimeo = (long)vt_timeout_s * HZ;
	vsock_sk((*out)->sk)->connect_timeout = 10 * HZ;
	return 0;
}

/* The guest's own CID (vt_wait_transport); VMADDR_CID_ANY until known. */
static u32 vt_local_cid = VMADDR_CID_ANY;

/* A destination the client scenarios may use: the host, or another VM. */
static bool vt_cid_ok(u32 c)
{
	return c == VMADDR_CID_HOST ||
	       (c > VMADDR_CID_HOST && c < VMADDR_CID_ANY && c != vt_local_cid);
}

/*
 * No svm_flags (VMADDR_FLAG_TO_HOST), as the user-space agent: these
 * guests have no host-side (vhost) transport, so Linux sends a stream to
 * any CID above 2 over the guest->host transport, virtio, anyway; only
 * CID 1 and our own CID go to the loopback transport, which vt_cid_ok()
 * refuses.
 */
static int vt_connect_to(struct socket *s, u32 cid, u32 p)
{
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK,
		.svm_cid = cid,
		.svm_port = p,
	};

	return kernel_connect(s, (struct sockaddr *)&a, sizeof(a), 0);
}

int vt_connect(struct socket *s, u32 p)
{
	return vt_connect_to(s, vt_cid, p);
}

int vt_open(int type, u32 p, struct socket **out)
{
	int err = vt_socket(type, out);

	if (err)
		return err;
	err = vt_connect(*out, p);
	if (err) {
		sock_release(*out);
		*out = NULL;
	}
	return err;
}

int vt_send_all(struct socket *s, const void *buf, size_t n, int flags)
{
	size_t done = 0;

	while (done < n) {
		struct kvec v = { .iov_base = (void *)buf + done, .iov_len = n - done };
		struct msghdr m = { .msg_flags = flags };
		int r = kernel_sendmsg(s, &m, &v, 1, v.iov_len);

		if (r < 0)
			return r;
		if (r == 0)
			return -EIO;
		done += r;
	}
	return 0;
}

int vt_recv_some(struct socket *s, void *buf, size_t n, int flags, int *mflags)
{
	struct kvec v = { .iov_base = buf, .iov_len = n };
	struct msghdr m = {};
	int r = kernel_recvmsg(s, &m, &v, 1, n, flags);

	if (mflags)
		*mflags = m.msg_flags;
	return r;
}

/* Receive until EOF (0) into the checksum; keep a copy in keep (<= cap). */
int vt_recv_to_eof(struct socket *s, u8 *buf, struct csum *c, u8 *keep, size_t cap)
{
	for (;;) {
		int r = vt_recv_some(s, buf, CHUNK, 0, NULL);

		if (r < 0)
			return r;
		if (r == 0)
			return 0;
		if (keep) {
			if (c->n + r > cap)
				return -EMSGSIZE;
			memcpy(keep + c->n, buf, r);
		}
		vt_cs_add(c, buf, r);
	}
}

/* --------------------------------------------------------------- echo --- */

/*
 * The concurrent sender runs as a work item on our own workqueue, not as a
 * kernel thread of its own: a thread that exits runs fpu__drop()'s FWAIT,
 * which the PVM hosts' KVM cannot emulate (KVM_EXIT_INTERNAL_ERROR), so on
 * those hosts no kernel thread may exit while the test runs.
 */
static struct workqueue_struct *vt_wq;

struct sender {
	struct work_struct work;
	struct socket *s;
	size_t n;
	u64 seed;
	int err;
	struct csum c;
	struct completion done;
};

/* Send n bytes of the seed's stream, then SHUT_WR. */
static void sender_fn(struct work_struct *w)
{
	struct sender *t = container_of(w, struct sender, work);
	struct prng p;
	size_t left = t->n;
	u8 *buf = kvmalloc(CHUNK, GFP_KERNEL);
	int err = buf ? 0 : -ENOMEM;

	vt_prng_init(&p, t->seed);
	vt_cs_init(&t->c);
	while (!err && left) {
		size_t k = min_t(size_t, left, CHUNK);

		vt_prng_fill(&p, buf, k);
		vt_cs_add(&t->c, buf, k);
		err = vt_send_all(t->s, buf, k, 0);
		left -= k;
	}
	if (!err)
		err = kernel_sock_shutdown(t->s, SHUT_WR);
	kvfree(buf);
	t->err = err;
	complete(&t->done);
}

static enum vt_result sc_echo(const char *name)
{
	struct socket *s;
	struct sender *t;
	struct csum rc;
	ktime_t t0 = ktime_get();
	u8 *buf;
	int err, r;
	bool ok = false;

	buf = kvmalloc(CHUNK, GFP_KERNEL);
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!buf || !t) {
		FAIL(name, "reason=nomem");
		goto out_free;
	}
	err = vt_open(SOCK_STREAM, vt_port + 0, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d cid=%u", err, vt_cid);
		goto out_free;
	}
	t->s = s;
	t->n = echo_bytes;
	t->seed = 1;
	init_completion(&t->done);
	INIT_WORK(&t->work, sender_fn);
	queue_work(vt_wq, &t->work);
	/* Receive concurrently with the sender (no deadlock on credit). */
	vt_cs_init(&rc);
	err = 0;
	while (rc.n < echo_bytes) {
		r = vt_recv_some(s, buf, CHUNK, 0, NULL);
		if (r <= 0) {
			err = r ? r : -EPIPE;	/* EOF before all came back */
			break;
		}
		vt_cs_add(&rc, buf, r);
	}
	if (!err) {
		r = vt_recv_some(s, buf, CHUNK, 0, NULL);	/* the host closes: EOF */
		if (r != 0)
			err = r < 0 ? r : -E2BIG;
	}
	if (err)
		kernel_sock_shutdown(s, SHUT_RDWR);	/* wakes the sender */
	wait_for_completion(&t->done);
	flush_work(&t->work);
	if (t->err)
		FAIL(name, "reason=send err=%d sent=%llu received=%llu", t->err, t->c.n, rc.n);
	else if (err)
		FAIL(name, "reason=recv err=%d sent=%llu received=%llu", err, t->c.n, rc.n);
	else if (vt_cs_val(&rc) != vt_cs_val(&t->c))
		FAIL(name, "reason=crc bytes=%llu crc=0x%08x sent_crc=0x%08x",
		     rc.n, vt_cs_val(&rc), vt_cs_val(&t->c));
	else {
		ok = true;
		OK(name, "bytes=%llu crc=0x%08x cid=%u ms=%llu", rc.n, vt_cs_val(&rc), vt_cid,
		   vt_ms_since(t0));
	}
	sock_release(s);
out_free:
	kfree(t);
	kvfree(buf);
	return ok ? VT_OK : VT_FAIL;
}

/* ------------------------------------------------------------- listen --- */

static enum vt_result sc_listen(const char *name)
{
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = vt_port + 1,
	};
	struct sockaddr_vm peer = {};
	struct socket *ls, *c = NULL;
	struct csum rc;
	ktime_t t0;
	u8 *buf = kvmalloc(CHUNK, GFP_KERNEL);
	int err, r;
	bool ok = false;

	if (!buf) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_socket(SOCK_STREAM, &ls);
	if (err) {
		FAIL(name, "reason=socket err=%d", err);
		goto out_free;
	}
	err = kernel_bind(ls, (struct sockaddr *)&a, sizeof(a));
	if (!err)
		err = kernel_listen(ls, 4);
	if (err) {
		FAIL(name, "reason=listen err=%d", err);
		goto out_ls;
	}
	pr_info("listening port=%u\n", vt_port + 1);
	t0 = ktime_get();
	err = kernel_accept(ls, &c, 0);	/* bounded by the listener's rcvtimeo */
	if (err) {
		FAIL(name, "reason=accept err=%d", err);
		goto out_ls;
	}
	c->sk->sk_rcvtimeo = ls->sk->sk_rcvtimeo;
	c->sk->sk_sndtimeo = ls->sk->sk_sndtimeo;
	kernel_getpeername(c, (struct sockaddr *)&peer);
	vt_cs_init(&rc);
	/* Echo chunk by chunk until the host's EOF, then our EOF. */
	for (;;) {
		r = vt_recv_some(c, buf, CHUNK, 0, NULL);
		if (r <= 0) {
			err = r;
			break;
		}
		vt_cs_add(&rc, buf, r);
		err = vt_send_all(c, buf, r, 0);
		if (err)
			break;
	}
	if (!err)
		err = kernel_sock_shutdown(c, SHUT_WR);
	if (err)
		FAIL(name, "reason=io err=%d bytes=%llu", err, rc.n);
	else if (rc.n != listen_bytes)
		FAIL(name, "reason=length bytes=%llu want=%u", rc.n, listen_bytes);
	else {
		ok = true;
		OK(name, "bytes=%llu crc=0x%08x peer_cid=%u peer_port=%u ms=%llu",
		   rc.n, vt_cs_val(&rc), peer.svm_cid, peer.svm_port, vt_ms_since(t0));
	}
	sock_release(c);
out_ls:
	sock_release(ls);
out_free:
	kvfree(buf);
	return ok ? VT_OK : VT_FAIL;
}

/* ---------------------------------------------------------- halfclose --- */

static enum vt_result sc_halfclose(const char *name)
{
	struct socket *s;
	struct csum tx, rx, rx2, tx2;
	struct prng p;
	ktime_t t0 = ktime_get();
	u8 *buf = kvmalloc(CHUNK, GFP_KERNEL);
	u8 *keep = kvmalloc(half_bytes ? half_bytes : 1, GFP_KERNEL);
	size_t left;
	int err;
	bool ok = false;

	if (!buf || !keep) {
		FAIL(name, "reason=nomem");
		goto out_free;
	}
	/* 1. The guest shuts down its write side and still gets the reply. */
	err = vt_open(SOCK_STREAM, vt_port + 2, &s);
	if (err) {
		FAIL(name, "reason=connect1 err=%d", err);
		goto out_free;
	}
	vt_prng_init(&p, 3);
	vt_cs_init(&tx);
	for (left = half_bytes; left && !err; ) {
		size_t k = min_t(size_t, left, CHUNK);

		vt_prng_fill(&p, buf, k);
		vt_cs_add(&tx, buf, k);
		err = vt_send_all(s, buf, k, 0);
		left -= k;
	}
	if (err) {
		FAIL(name, "reason=send1 err=%d", err);
		sock_release(s);
		goto out_free;
	}
	err = kernel_sock_shutdown(s, SHUT_WR);
	if (err) {
		FAIL(name, "reason=shutdown1 err=%d", err);
		sock_release(s);
		goto out_free;
	}
	vt_cs_init(&rx);
	err = vt_recv_to_eof(s, buf, &rx, NULL, 0);
	sock_release(s);
	if (err || rx.n != tx.n || vt_cs_val(&rx) != vt_cs_val(&tx)) {
		FAIL(name, "reason=guest_shut err=%d bytes=%llu want=%llu crc=0x%08x want_crc=0x%08x",
		     err, rx.n, tx.n, vt_cs_val(&rx), vt_cs_val(&tx));
		goto out_free;
	}

	/* 2. The host shuts down its write side: EOF here, then we reply. */
	err = vt_open(SOCK_STREAM, vt_port + 3, &s);
	if (err) {
		FAIL(name, "reason=connect2 err=%d", err);
		goto out_free;
	}
	vt_cs_init(&rx2);
	err = vt_recv_to_eof(s, buf, &rx2, keep, half_bytes);
	if (err) {
		FAIL(name, "reason=host_shut_recv err=%d bytes=%llu", err, rx2.n);
		sock_release(s);
		goto out_free;
	}
	vt_cs_init(&tx2);
	vt_cs_add(&tx2, keep, rx2.n);
	err = vt_send_all(s, keep, rx2.n, 0);	/* after EOF: must still work */
	if (!err)
		err = kernel_sock_shutdown(s, SHUT_WR);
	sock_release(s);
	if (err) {
		FAIL(name, "reason=send_after_eof err=%d bytes=%llu", err, rx2.n);
		goto out_free;
	}
	ok = true;
	OK(name, "guest_shut_bytes=%llu guest_shut_crc=0x%08x host_shut_bytes=%llu host_shut_crc=0x%08x ms=%llu",
	   rx.n, vt_cs_val(&rx), rx2.n, vt_cs_val(&rx2), vt_ms_since(t0));
out_free:
	kvfree(keep);
	kvfree(buf);
	return ok ? VT_OK : VT_FAIL;
}

/* ---------------------------------------------------------- seqpacket --- */

static const unsigned int seq_sizes[] = { 1, 100, 4096, 10000, 60000 };
#define NSEQ ARRAY_SIZE(seq_sizes)

static enum vt_result sc_seqpacket(const char *name)
{
	struct socket *s;
	struct prng p;
	ktime_t t0 = ktime_get();
	u8 *out = kvmalloc(CHUNK, GFP_KERNEL);
	u8 *in = kvmalloc(CHUNK + 1, GFP_KERNEL);
	u32 want[NSEQ];
	unsigned int i, round, eor = 0, msgs = 0;
	int err, r, fl;
	bool ok = false;

	if (!out || !in) {
		FAIL(name, "reason=nomem");
		goto out_free;
	}
	err = vt_open(SOCK_SEQPACKET, vt_port + 4, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	vt_prng_init(&p, 4);
	/* round 0: one message at a time; round 1: all sent, then all read. */
	for (round = 0; round < 2; round++) {
		for (i = 0; i < NSEQ; i++) {
			vt_prng_fill(&p, out, seq_sizes[i]);
			want[i] = crc32_le(~0u, out, seq_sizes[i]);
			err = vt_send_all(s, out, seq_sizes[i], MSG_EOR);
			if (err) {
				FAIL(name, "reason=send err=%d round=%u size=%u", err, round, seq_sizes[i]);
				goto out_sock;
			}
			if (round == 0 || i == NSEQ - 1) {
				unsigned int j = round == 0 ? i : 0;

				for (; j <= i; j++) {
					r = vt_recv_some(s, in, CHUNK + 1, 0, &fl);
					if (r < 0 || (u32)r != seq_sizes[j] || (fl & MSG_TRUNC) ||
					    crc32_le(~0u, in, r) != want[j]) {
						FAIL(name, "reason=message round=%u msg=%u want_len=%u len=%d flags=0x%x",
						     round, j, seq_sizes[j], r, fl);
						goto out_sock;
					}
					msgs++;
					if (fl & MSG_EOR)
						eor++;
				}
			}
		}
	}
	ok = true;
	OK(name, "msgs=%u sizes=1,100,4096,10000,60000 eor_seen=%u ms=%llu", msgs, eor, vt_ms_since(t0));
out_sock:
	sock_release(s);
out_free:
	kvfree(in);
	kvfree(out);
	return ok ? VT_OK : VT_FAIL;
}

/* --------------------------------------------------------------- many --- */

#define MANY_MSG 64

static enum vt_result sc_many(const char *name)
{
	struct socket **ss;
	u8 msg[MANY_MSG], in[MANY_MSG];
	struct prng p;
	ktime_t t0 = ktime_get();
	u64 connect_ms = 0;
	unsigned int i, opened = 0;
	int err = 0, r;
	bool ok = false;

	ss = kcalloc(many ? many : 1, sizeof(*ss), GFP_KERNEL);
	if (!ss) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	for (i = 0; i < many; i++) {
		err = vt_open(SOCK_STREAM, vt_port + 5, &ss[i]);
		if (err) {
			FAIL(name, "reason=connect err=%d conn=%u", err, i);
			goto out;
		}
		opened++;
	}
	connect_ms = vt_ms_since(t0);
	for (i = 0; i < many; i++) {
		vt_prng_init(&p, 100 + i);
		vt_prng_fill(&p, msg, MANY_MSG);
		err = vt_send_all(ss[i], msg, MANY_MSG, 0);
		if (err) {
			FAIL(name, "reason=send err=%d conn=%u", err, i);
			goto out;
		}
	}
	for (i = 0; i < many; i++) {
		size_t got = 0;

		while (got < MANY_MSG) {
			r = vt_recv_some(ss[i], in + got, MANY_MSG - got, 0, NULL);
			if (r <= 0) {
				FAIL(name, "reason=recv err=%d conn=%u got=%zu", r, i, got);
				goto out;
			}
			got += r;
		}
		vt_prng_init(&p, 100 + i);
		vt_prng_fill(&p, msg, MANY_MSG);
		if (memcmp(in, msg, MANY_MSG)) {
			FAIL(name, "reason=data conn=%u", i);
			goto out;
		}
	}
	ok = true;
out:
	for (i = 0; i < opened; i++)
		sock_release(ss[i]);
	kfree(ss);
	if (ok)
		OK(name, "conns=%u connect_ms=%llu ms=%llu", many, connect_ms, vt_ms_since(t0));
	return ok ? VT_OK : VT_FAIL;
}

/* ------------------------------------------------------------ refused --- */

static enum vt_result sc_refused(const char *name)
{
	struct socket *s;
	ktime_t t0;
	u64 ms;
	u32 to = refused_cid ? refused_cid : vt_cid;
	int err = vt_socket(SOCK_STREAM, &s);

	if (err) {
		FAIL(name, "reason=socket err=%d", err);
		return VT_FAIL;
	}
	t0 = ktime_get();
	err = vt_connect_to(s, to, vt_port + 6);
	ms = vt_ms_since(t0);
	sock_release(s);
	if (err != -ECONNRESET) {
		FAIL(name, "reason=connect err=%d want=%d cid=%u ms=%llu", err, -ECONNRESET, to, ms);
		return VT_FAIL;
	}
	OK(name, "err=%d cid=%u ms=%llu", err, to, ms);
	return VT_OK;
}

/* ----------------------------------------------------------- slowread --- */

static enum vt_result sc_slowread(const char *name)
{
	struct socket *s;
	struct csum rc;
	ktime_t t0, t1;
	u8 *buf = kvmalloc(CHUNK, GFP_KERNEL);
	int err;
	bool ok = false;

	if (!buf) {
		FAIL(name, "reason=nomem");
		return VT_FAIL;
	}
	err = vt_open(SOCK_STREAM, vt_port + 7, &s);
	if (err) {
		FAIL(name, "reason=connect err=%d", err);
		goto out_free;
	}
	t0 = ktime_get();
	pr_info("slowread pausing ms=%u\n", slow_pause_ms);
	msleep(slow_pause_ms);
	pr_info("slowread reading\n");
	t1 = ktime_get();
	vt_cs_init(&rc);
	err = vt_recv_to_eof(s, buf, &rc, NULL, 0);
	sock_release(s);
	if (err)
		FAIL(name, "reason=recv err=%d bytes=%llu", err, rc.n);
	else if (rc.n != slow_bytes)
		FAIL(name, "reason=length bytes=%llu want=%u", rc.n, slow_bytes);
	else {
		ok = true;
		OK(name, "bytes=%llu crc=0x%08x pause_ms=%u read_ms=%llu",
		   rc.n, vt_cs_val(&rc), slow_pause_ms, vt_ms_since(t1));
	}
	(void)t0;
out_free:
	kvfree(buf);
	return ok ? VT_OK : VT_FAIL;
}

/* ------------------------------------------------ device and transport --- */

static int vt_child(struct device *dev, void *data)
{
	struct virtio_device *vdev = dev_to_virtio(dev);
	const char *drv = dev->driver ? dev->driver->name : "none";

	pr_info("device %s virtio=%s id=%u driver=%s\n", dev_name(dev->parent),
		dev_name(dev), vdev->id.device, drv);
	if (vdev->id.device == VIRTIO_ID_VSOCK && dev->driver)
		(*(int *)data)++;
	return 0;
}

static int vt_pdev(struct device *dev, void *data)
{
	if (dev->driver && !strcmp(dev->driver->name, "virtio-mmio"))
		device_for_each_child(dev, data, vt_child);
	return 0;
}

/* Wait (bounded) until a virtio-mmio vsock device is bound and the virtio
 * transport is registered; print both. */
static int vt_wait_transport(void)
{
	int i, found = 0, err = -ENODEV;

	for (i = 0; i < 100; i++) {
		found = 0;
		bus_for_each_dev(&platform_bus_type, NULL, &found, vt_pdev);
		if (found)
			break;
		msleep(100);
	}
	if (!found)
		pr_info("no virtio-mmio vsock device bound to a driver\n");

	for (i = 0; i < 100; i++) {
		struct socket *s;
		struct vsock_sock *vsk;
		const struct vsock_transport *t;

		err = vt_socket(SOCK_STREAM, &s);
		if (err)
			return err;
		vsk = vsock_sk(s->sk);
		lock_sock(s->sk);
		vsock_addr_init(&vsk->remote_addr, VMADDR_CID_HOST, vt_port);
		err = vsock_assign_transport(vsk, NULL);
		t = vsk->transport;
		if (!err && t) {
			u32 cid = t->get_local_cid();
			bool virtio = t->stream_enqueue == virtio_transport_stream_enqueue &&
				      cid != VMADDR_CID_LOCAL;

			pr_info("transport=%s local_cid=%u tries=%d\n",
				virtio ? "virtio" : "other", cid, i + 1);
			vt_local_cid = cid;
		}
		release_sock(s->sk);
		sock_release(s);
		if (!err && t)
			return 0;
		msleep(100);
	}
	pr_info("transport=none err=%d\n", err ? err : -ENODEV);
	return err ? err : -ENODEV;
}

/* --------------------------------------------------------------- main --- */

static const struct vt_scenario vt_scenarios[] = {
	{ "echo", sc_echo },
	{ "listen", sc_listen },
	{ "halfclose", sc_halfclose },
	{ "seqpacket", sc_seqpacket },
	{ "many", sc_many },
	{ "refused", sc_refused },
	{ "slowread", sc_slowread },
};

/* Run scenario `name` from either table; false if there is none. */
static bool vt_run(const char *name, int *passed, int *failed, int *skipped)
{
	const struct vt_scenario *sc = NULL;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vt_scenarios) && !sc; i++)
		if (!strcmp(name, vt_scenarios[i].name))
			sc = &vt_scenarios[i];
	for (i = 0; i < vt_ncases && !sc; i++)
		if (!strcmp(name, vt_cases[i].name))
			sc = &vt_cases[i];
	if (!sc)
		return false;
	switch (sc->fn(name)) {
	case VT_OK:
		(*passed)++;
		break;
	case VT_SKIP:
		(*skipped)++;
		break;
	default:
		(*failed)++;
		break;
	}
	return true;
}

static DECLARE_COMPLETION(vt_done);

static int vt_main(void *unused)
{
	static const char check[] = "123456789";
	char *list, *cur, *tok;
	int passed = 0, failed = 0, skipped = 0, no_transport = 0;
	ktime_t t0 = ktime_get();
	u8 *buf;
	u64 us = 0;
	u32 crc = 0;

	/* CRC-32 as zlib: crc32(b"123456789") == 0xcbf43926. */
	pr_info("start scenarios=%s port=%u cid=%u crc_selftest=%s\n", scenarios, vt_port,
		vt_cid, ~crc32_le(~0u, check, 9) == 0xcbf43926 ? "ok" : "BAD");
	buf = kvzalloc(CHUNK, GFP_KERNEL);
	if (buf) {
		ktime_t c0 = ktime_get();

		crc = ~crc32_le(~0u, buf, CHUNK);
		us = ktime_us_delta(ktime_get(), c0);
		kvfree(buf);
	}
	pr_info("crc32 speed: 64 KiB in %llu us (crc 0x%08x)\n", us, crc);

	vt_wq = alloc_ordered_workqueue("vsocktest", 0);
	if (!vt_wq) {
		pr_info("no workqueue\n");
		no_transport = 1;
		failed++;
	} else if (vt_wait_transport()) {
		no_transport = 1;
		failed++;
	}

	list = kstrdup(scenarios, GFP_KERNEL);
	cur = list;
	while (!no_transport && cur && (tok = strsep(&cur, ",")) != NULL) {
		if (!*tok)
			continue;
		if (!vt_cid_ok(vt_cid) || (refused_cid && !vt_cid_ok(refused_cid))) {
			FAIL(tok, "reason=bad_cid cid=%u refused_cid=%u local_cid=%u want=2_or_3..4294967294_not_local_cid",
			     vt_cid, refused_cid, vt_local_cid);
			failed++;
			continue;
		}
		if (!vt_run(tok, &passed, &failed, &skipped)) {
			FAIL(tok, "reason=unknown_scenario");
			failed++;
		}
	}
	kfree(list);
	pr_info("done passed=%d failed=%d skipped=%d ms=%llu\n", passed, failed, skipped,
		vt_ms_since(t0));
	complete(&vt_done);
	if (reboot) {
		pr_info("rebooting\n");
		emergency_restart();
	}
	/* Never return: an exiting thread would hit the FWAIT (see vt_wq). */
	for (;;) {
		set_current_state(TASK_IDLE);
		schedule();
	}
	return 0;
}

static int __init vsocktest_init(void)
{
	struct task_struct *t;

	if (!scenarios || !*scenarios)
		return 0;
	t = kthread_run(vt_main, NULL, "vsocktest");
	if (IS_ERR(t)) {
		pr_info("done passed=0 failed=1 reason=kthread err=%ld\n", PTR_ERR(t));
		return PTR_ERR(t);
	}
	/* Hold back /init (it cannot run on the PVM hosts; its fault would
	 * panic the guest) until the tests are over; woken every 10 s so the
	 * hung-task detector, if configured, stays quiet. */
	while (!wait_for_completion_timeout(&vt_done, 10 * HZ))
		;
	return 0;
}
late_initcall(vsocktest_init);
