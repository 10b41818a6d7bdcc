/*
 * vsock-agent: the vsock scenarios of the built-in kernel test driver
 * (../vsocktest/vsocktest.c) from guest user space, with ordinary AF_VSOCK
 * sockets.  For ordinary KVM hosts, where guest user space runs; on the
 * project's PVM hosts user space does not run at all, so there the kernel
 * driver does this job.
 *
 * Runs inside the guest only (the host side is Unix sockets; never open
 * AF_VSOCK on the host).  The initramfs /init starts it when the kernel
 * command line has "vsockagent=1"; parameters come from the command line
 * as vsockagent.<name>=<value> (argv "--<name>=<value>" overrides):
 *   scenarios=echo,listen,halfclose,seqpacket,many,refused,slowread
 *   port=P echo_bytes listen_bytes half_bytes many slow_bytes slow_pause_ms
 *   timeout_s cid refused_cid serve_port serve_conns cids pings cut_timeout_s
 * cid: the CID the client scenarios (echo, halfclose, seqpacket, many,
 * slowread, pingpong, cut) connect to, default 2 (VMADDR_CID_HOST); a
 * sibling VM's CID reaches that VM (docs/vsock.md "Sibling VMs").
 * refused_cid: the one "refused" connects to, default 0 = the same as cid.
 *
 * Sibling tests (tests/integration/test_linux_siblings_qemu.py) also use:
 *   serve_port=S  a server in the background, started before the scenarios
 *                 (the host side of the client scenarios, in a guest): S+0
 *                 and S+5 echo, S+2 replies everything after EOF, S+3 sends
 *                 half_bytes (seed 5), SHUT_WR, checks the reply, S+4
 *                 SEQPACKET echo, S+6 a sink; one thread per connection,
 *                 one "served port=.. peer_cid=.. bytes=.. crc=.. err=.."
 *                 line each (err 0 = all checks held); "serving port=S" once up
 *   wait          until serve_conns connections were served (or timeout_s);
 *                 fails if one of them failed
 *   gate, gate2   listen on port+9 (+10), print "listening port=..", accept
 *                 one connection (the host's go signal), close it
 *   hostecho      echo, but to the host (CID 2): the reference figure
 *   mesh          echo to every CID of cids=C,C,... at once (one thread
 *                 each), one result line "mesh<CID>" each
 *   pingpong, hostping  pings=N rounds of one 64-byte message to port+0 and
 *                 its echo back (seed 9), to cid / to the host: p50/p99 us,
 *                 timed with the TSC (see tsc_calibrate; echo then adds us=)
 *   cut           a host flow (port+0, echo_bytes of seed 1 in lock-step
 *                 chunks, half before, half after) and a stream to cid
 *                 port+6 sent until it fails ("cut streaming" after 1 MiB,
 *                 beyond one credit window: the test then kills that
 *                 sibling while it reads); the send must fail with an
 *                 error within cut_timeout_s of that line (neither block
 *                 nor go on), the host flow must go on intact, and a new
 *                 connect to cid must get RST.
 * Ports, payloads and result lines are those of the kernel driver, with the
 * prefix "vsock-agent: " instead of "vsocktest: ":
 *   vsock-agent: <scenario> ok k=v ...   |   vsock-agent: <scenario> fail reason=...
 *   vsock-agent: done passed=N failed=M
 * Checksums: CRC-32 as zlib.crc32; payload: xorshift64 stream of
 * tests/integration/vsockhost.py:prng_bytes(seed, n).
 *
 * Build: gcc -static -O2 -pthread (guest-images/linux/build.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>
#include <x86intrin.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static char scenarios[512] = "echo,listen,halfclose,seqpacket,many,refused,slowread";
static unsigned int port = 5000;
static unsigned int echo_bytes = 1 << 20;
static unsigned int listen_bytes = 256 << 10;
static unsigned int half_bytes = 64 << 10;
static unsigned int many = 100;
static unsigned int slow_bytes = 4 << 20;
static unsigned int slow_pause_ms = 2000;
static unsigned int timeout_s = 60;
static unsigned int cid = VMADDR_CID_HOST;
static unsigned int refused_cid;	/* 0: cid */
static unsigned int serve_port, serve_conns, pings = 1000, cut_timeout_s = 60;
static char cids[128];

#define CHUNK (64 << 10)

static void out(const char *fmt, ...)
{
	char line[512] = "vsock-agent: ";
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line + 13, sizeof(line) - 14, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 13;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line, prefix included: lines from threads never
	 * interleave. */
	if (write(1, line, n) < 0)
		return;
}

#define OK(name, fmt, ...) out("%s ok " fmt, name, ##__VA_ARGS__)
#define FAIL(name, fmt, ...) out("%s fail " fmt, name, ##__VA_ARGS__)

/* ------------------------------------------------------------ helpers --- */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

struct csum {
	uint32_t s;
	uint64_t n;
};

static void cs_init(struct csum *c) { c->s = ~0u; c->n = 0; }

static void cs_add(struct csum *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = c->s;

	for (size_t i = 0; i < n; i++)
		s = crc_table[(s ^ b[i]) & 0xff] ^ (s >> 8);
	c->s = s;
	c->n += n;
}

static uint32_t cs_val(const struct csum *c) { return ~c->s; }

static uint32_t crc_buf(const void *p, size_t n)
{
	struct csum c;

	cs_init(&c);
	cs_add(&c, p, n);
	return cs_val(&c);
}

struct prng { uint64_t s; };

static void prng_init(struct prng *p, uint64_t seed)
{
	p->s = seed ^ 0x9E3779B97F4A7C15ULL;
	if (!p->s)
		p->s = 1;
}

static void prng_fill(struct prng *p, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t s = p->s;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p->s = s;
		memcpy(buf + i, &s, n - i >= 8 ? 8 : n - i);	/* little-endian */
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Under QEMU TCG the guest's TSC calibration can fail ("Unable to calibrate
 * against PIT"): its clock is then jiffies, 10 ms steps, too coarse for a
 * round trip.  Timed scenarios use the TSC, whose rate (cycles per us) is
 * measured here once, between two steps of CLOCK_MONOTONIC 300 ms apart.
 */
static double tsc_per_us;

static void tsc_step(uint64_t *tsc, uint64_t *us)
{
	uint64_t u = now_us(), v;

	while ((v = now_us()) == u)
		;
	*tsc = __rdtsc();
	*us = v;
}

static void tsc_calibrate(void)
{
	struct timespec ts = { 0, 300 * 1000000L };
	uint64_t t0, u0, t1, u1;

	tsc_step(&t0, &u0);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	tsc_step(&t1, &u1);
	tsc_per_us = (double)(t1 - t0) / (double)(u1 - u0);
	out("tsc cycles_per_us=%.1f over_us=%llu", tsc_per_us, (unsigned long long)(u1 - u0));
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = timeout_s };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Returns fd or -errno. */
static int vt_open_cid(int type, unsigned int to, unsigned int p)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = to, .svm_port = p };
	int fd = socket(AF_VSOCK, type, 0), e;

	if (fd < 0)
		return -errno;
	set_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int vt_open(int type, unsigned int p)
{
	return vt_open_cid(type, cid, p);
}

static int send_all(int fd, const void *buf, size_t n, int flags)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = send(fd, (const char *)buf + done, n - done, flags | MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		done += r;
	}
	return 0;
}

static int recv_some(int fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = recv(fd, buf, n, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : (int)r;
}

static int recv_to_eof(int fd, uint8_t *buf, struct csum *c, uint8_t *keep, size_t cap)
{
	for (;;) {
		int r = recv_some(fd, buf, CHUNK);

		if (r <= 0)
			return r;
		if (keep) {
			if (c->n + r > cap)
				return -EMSGSIZE;
			memcpy(keep + c->n, buf, r);
		}
		cs_add(c, buf, r);
	}
}

/* --------------------------------------------------------------- echo --- */

struct sender {
	int fd;
	size_t n;
	uint64_t seed;
	int err;
	struct csum c;
};

static void *sender_fn(void *arg)
{
	struct sender *t = arg;
	struct prng p;
	size_t left = t->n;
	uint8_t *buf = malloc(CHUNK);
	int err = buf ? 0 : -ENOMEM;

	prng_init(&p, t->seed);
	cs_init(&t->c);
	while (!err && left) {
		size_t k = left < CHUNK ? left : CHUNK;

		prng_fill(&p, buf, k);
		cs_add(&t->c, buf, k);
		err = send_all(t->fd, buf, k, 0);
		left -= k;
	}
	if (!err && shutdown(t->fd, SHUT_WR) < 0)
		err = -errno;
	t->err = err;
	free(buf);
	return NULL;
}

/* n bytes (seed 1) to (to, port+0) while reading the echo; thread-safe. */
struct echo {
	unsigned int to;
	const char *why;	/* NULL: ok */
	int err;
	struct sender t;
	struct csum rc;
	uint64_t ms, us;	/* us: from the TSC, if calibrated */
};

static void *echo_run(void *arg)
{
	struct echo *e = arg;
	uint8_t *buf = malloc(CHUNK);
	uint64_t t0 = now_ms(), c0 = __rdtsc();
	pthread_t th;
	int r;

	cs_init(&e->rc);
	e->t.n = echo_bytes;
	e->t.seed = 1;
	e->t.fd = vt_open_cid(SOCK_STREAM, e->to, port + 0);
	if (!buf || e->t.fd < 0) {
		e->why = "connect";
		e->err = buf ? e->t.fd : -ENOMEM;
		if (e->t.fd >= 0)
			close(e->t.fd);
		free(buf);
		return NULL;
	}
	if (pthread_create(&th, NULL, sender_fn, &e->t)) {
		e->why = "thread";
		close(e->t.fd);
		free(buf);
		return NULL;
	}
	while (e->rc.n < echo_bytes) {
		r = recv_some(e->t.fd, buf, CHUNK);
		if (r <= 0) {
			e->err = r ? r : -EPIPE;
			break;
		}
		cs_add(&e->rc, buf, r);
	}
	if (!e->err) {
		r = recv_some(e->t.fd, buf, CHUNK);
		if (r != 0)
			e->err = r < 0 ? r : -E2BIG;
	}
	if (e->err)
		shutdown(e->t.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(e->t.fd);
	free(buf);
	e->ms = now_ms() - t0;
	e->us = tsc_per_us > 0 ? (uint64_t)((double)(__rdtsc() - c0) / tsc_per_us) : 0;
	if (e->t.err)
		e->why = "send";
	else if (e->err)
		e->why = "recv";
	else if (cs_val(&e->rc) != cs_val(&e->t.c))
		e->why = "crc";
	return NULL;
}

static int echo_report(const char *name, const struct echo *e)
{
	if (e->why) {
		FAIL(name, "reason=%s err=%d cid=%u sent=%llu received=%llu crc=0x%08x sent_crc=0x%08x",
		     e->why, e->t.err ? e->t.err : e->err, e->to, (unsigned long long)e->t.c.n,
		     (unsigned long long)e->rc.n, cs_val(&e->rc), cs_val(&e->t.c));
		return 0;
	}
	OK(name, "bytes=%llu crc=0x%08x cid=%u ms=%llu us=%llu", (unsigned long long)e->rc.n,
	   cs_val(&e->rc), e->to, (unsigned long long)e->ms, (unsigned long long)e->us);
	return 1;
}

static int sc_echo(const char *name)
{
	struct echo e = { .to = !strcmp(name, "hostecho") ? VMADDR_CID_HOST : cid };

	echo_run(&e);
	return echo_report(name, &e);
}

/* echo to every CID of cids= at once. */
static int sc_mesh(const char *name)
{
	struct echo e[8];
	pthread_t th[8];
	char list[sizeof(cids)], *cur = list, *tok, nm[32];
	unsigned int n = 0, ok = 1;

	snprintf(list, sizeof(list), "%s", cids);
	while ((tok = strsep(&cur, ",")) && n < 8) {
		if (!*tok)
			continue;
		memset(&e[n], 0, sizeof(e[n]));
		e[n].to = (unsigned int)strtoul(tok, NULL, 0);
		if (pthread_create(&th[n], NULL, echo_run, &e[n])) {
			FAIL(name, "reason=thread");
			ok = 0;
			break;
		}
		n++;
	}
	for (unsigned int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		snprintf(nm, sizeof(nm), "%s%u", name, e[i].to);
		ok &= echo_report(nm, &e[i]);
	}
	if (!n && ok) {
		FAIL(name, "reason=no_cids");
		ok = 0;
	}
	if (n == 8 && ((tok && *tok) || (cur && cur[strspn(cur, ",")]))) {
		/* a ninth CID: the loop took it from the list and dropped it */
		FAIL(name, "reason=too_many_cids max=8");
		ok = 0;
	}
	return ok;
}

/* ------------------------------------------------------------- listen --- */

static int sc_listen(const char *name)
{
	static uint8_t buf[CHUNK];
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port + 1 };
	struct sockaddr_vm peer = { 0 };
	socklen_t pl = sizeof(peer);
	struct csum rc;
	uint64_t t0;
	int ls, c, err = 0, r, ok = 0;

	ls = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (ls < 0) {
		FAIL(name, "reason=socket err=%d", -errno);
		return 0;
	}
	set_timeouts(ls);	/* bounds accept() too */
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0) {
		FAIL(name, "reason=listen err=%d", -errno);
		close(ls);
		return 0;
	}
	out("listening port=%u", port + 1);
	t0 = now_ms();
	c = accept(ls, (struct sockaddr *)&peer, &pl);
	if (c < 0) {
		FAIL(name, "reason=accept err=%d", -errno);
		close(ls);
		return 0;
	}
	set_timeouts(c);
	cs_init(&rc);
	for (;;) {
		r = recv_some(c, buf, CHUNK);
		if (r <= 0) {
			err = r;
			break;
		}
		cs_add(&rc, buf, r);
		err = send_all(c, buf, r, 0);
		if (err)
			break;
	}
	if (!err && shutdown(c, SHUT_WR) < 0)
		err = -errno;
	if (err)
		FAIL(name, "reason=io err=%d bytes=%llu", err, (unsigned long long)rc.n);
	else if (rc.n != listen_bytes)
		FAIL(name, "reason=length bytes=%llu want=%u", (unsigned long long)rc.n, listen_bytes);
	else {
		ok = 1;
		OK(name, "bytes=%llu crc=0x%08x peer_cid=%u peer_port=%u ms=%llu",
		   (unsigned long long)rc.n, cs_val(&rc), peer.svm_cid, peer.svm_port,
		   (unsigned long long)(now_ms() - t0));
	}
	close(c);
	close(ls);
	return ok;
}

/* ---------------------------------------------------------- halfclose --- */

static int sc_halfclose(const char *name)
{
	static uint8_t buf[CHUNK];
	uint8_t *keep = malloc(half_bytes ? half_bytes : 1);
	struct csum tx, rx, rx2;
	struct prng p;
	uint64_t t0 = now_ms();
	size_t left;
	int fd, err = 0, ok = 0;

	if (!keep) {
		FAIL(name, "reason=nomem");
		return 0;
	}
	fd = vt_open(SOCK_STREAM, port + 2);
	if (fd < 0) {
		FAIL(name, "reason=connect1 err=%d", fd);
		goto out;
	}
	prng_init(&p, 3);
	cs_init(&tx);
	for (left = half_bytes; left && !err; ) {
		size_t k = left < CHUNK ? left : CHUNK;

		prng_fill(&p, buf, k);
		cs_add(&tx, buf, k);
		err = send_all(fd, buf, k, 0);
		left -= k;
	}
	if (!err && shutdown(fd, SHUT_WR) < 0)
		err = -errno;
	cs_init(&rx);
	if (!err)
		err = recv_to_eof(fd, buf, &rx, NULL, 0);
	close(fd);
	if (err || rx.n != tx.n || cs_val(&rx) != cs_val(&tx)) {
		FAIL(name, "reason=guest_shut err=%d bytes=%llu want=%llu crc=0x%08x want_crc=0x%08x",
		     err, (unsigned long long)rx.n, (unsigned long long)tx.n, cs_val(&rx), cs_val(&tx));
		goto out;
	}
	fd = vt_open(SOCK_STREAM, port + 3);
	if (fd < 0) {
		FAIL(name, "reason=connect2 err=%d", fd);
		goto out;
	}
	cs_init(&rx2);
	err = recv_to_eof(fd, buf, &rx2, keep, half_bytes);
	if (err) {
		FAIL(name, "reason=host_shut_recv err=%d bytes=%llu", err, (unsigned long long)rx2.n);
		close(fd);
		goto out;
	}
	err = send_all(fd, keep, rx2.n, 0);
	if (!err && shutdown(fd, SHUT_WR) < 0)
		err = -errno;
	close(fd);
	if (err) {
		FAIL(name, "reason=send_after_eof err=%d bytes=%llu", err, (unsigned long long)rx2.n);
		goto out;
	}
	ok = 1;
	OK(name, "guest_shut_bytes=%llu guest_shut_crc=0x%08x host_shut_bytes=%llu host_shut_crc=0x%08x ms=%llu",
	   (unsigned long long)rx.n, cs_val(&rx), (unsigned long long)rx2.n, cs_val(&rx2),
	   (unsigned long long)(now_ms() - t0));
out:
	free(keep);
	return ok;
}

/* ---------------------------------------------------------- seqpacket --- */

static const unsigned int seq_sizes[] = { 1, 100, 4096, 10000, 60000 };
#define NSEQ (sizeof(seq_sizes) / sizeof(seq_sizes[0]))

static int sc_seqpacket(const char *name)
{
	static uint8_t obuf[CHUNK], in[CHUNK + 1];
	uint32_t want[NSEQ];
	struct prng p;
	uint64_t t0 = now_ms();
	unsigned int i, round, eor = 0, msgs = 0;
	int fd, err, ok = 0;

	fd = vt_open(SOCK_SEQPACKET, port + 4);
	if (fd < 0) {
		FAIL(name, "reason=connect err=%d", fd);
		return 0;
	}
	prng_init(&p, 4);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < NSEQ; i++) {
			prng_fill(&p, obuf, seq_sizes[i]);
			want[i] = crc_buf(obuf, seq_sizes[i]);
			err = send_all(fd, obuf, seq_sizes[i], MSG_EOR);
			if (err) {
				FAIL(name, "reason=send err=%d round=%u size=%u", err, round, seq_sizes[i]);
				goto out;
			}
			if (round == 0 || i == NSEQ - 1) {
				for (unsigned int j = round == 0 ? i : 0; j <= i; j++) {
					struct iovec v = { in, sizeof(in) };
					struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
					ssize_t r = recvmsg(fd, &m, 0);

					if (r < 0 || (size_t)r != seq_sizes[j] || (m.msg_flags & MSG_TRUNC) ||
					    crc_buf(in, r) != want[j]) {
						FAIL(name, "reason=message round=%u msg=%u want_len=%u len=%zd flags=0x%x err=%d",
						     round, j, seq_sizes[j], r, m.msg_flags, r < 0 ? -errno : 0);
						goto out;
					}
					msgs++;
					if (m.msg_flags & MSG_EOR)
						eor++;
				}
			}
		}
	}
	ok = 1;
	OK(name, "msgs=%u sizes=1,100,4096,10000,60000 eor_seen=%u ms=%llu", msgs, eor,
	   (unsigned long long)(now_ms() - t0));
out:
	close(fd);
	return ok;
}

/* --------------------------------------------------------------- many --- */

#define MANY_MSG 64

static int sc_many(const char *name)
{
	int *fds = calloc(many ? many : 1, sizeof(int));
	uint8_t msg[MANY_MSG], in[MANY_MSG];
	struct prng p;
	uint64_t t0 = now_ms(), connect_ms = 0;
	unsigned int i, opened = 0;
	int err, ok = 0;

	if (!fds) {
		FAIL(name, "reason=nomem");
		return 0;
	}
	for (i = 0; i < many; i++) {
		fds[i] = vt_open(SOCK_STREAM, port + 5);
		if (fds[i] < 0) {
			FAIL(name, "reason=connect err=%d conn=%u", fds[i], i);
			goto out;
		}
		opened++;
	}
	connect_ms = now_ms() - t0;
	for (i = 0; i < many; i++) {
		prng_init(&p, 100 + i);
		prng_fill(&p, msg, MANY_MSG);
		err = send_all(fds[i], msg, MANY_MSG, 0);
		if (err) {
			FAIL(name, "reason=send err=%d conn=%u", err, i);
			goto out;
		}
	}
	for (i = 0; i < many; i++) {
		size_t got = 0;

		while (got < MANY_MSG) {
			int r = recv_some(fds[i], in + got, MANY_MSG - got);

			if (r <= 0) {
				FAIL(name, "reason=recv err=%d conn=%u got=%zu", r, i, got);
				goto out;
			}
			got += r;
		}
		prng_init(&p, 100 + i);
		prng_fill(&p, msg, MANY_MSG);
		if (memcmp(in, msg, MANY_MSG)) {
			FAIL(name, "reason=data conn=%u", i);
			goto out;
		}
	}
	ok = 1;
out:
	for (i = 0; i < opened; i++)
		close(fds[i]);
	free(fds);
	if (ok)
		OK(name, "conns=%u connect_ms=%llu ms=%llu", many, (unsigned long long)connect_ms,
		   (unsigned long long)(now_ms() - t0));
	return ok;
}

/* ------------------------------------------------------------ refused --- */

static int sc_refused(const char *name)
{
	uint64_t t0 = now_ms(), ms;
	unsigned int to = refused_cid ? refused_cid : cid;
	int fd = vt_open_cid(SOCK_STREAM, to, port + 6);

	ms = now_ms() - t0;
	if (fd >= 0) {
		close(fd);
		FAIL(name, "reason=connected ms=%llu", (unsigned long long)ms);
		return 0;
	}
	if (fd != -ECONNRESET) {
		FAIL(name, "reason=connect err=%d want=%d ms=%llu", fd, -ECONNRESET, (unsigned long long)ms);
		return 0;
	}
	OK(name, "err=%d cid=%u ms=%llu", fd, to, (unsigned long long)ms);
	return 1;
}

/* ----------------------------------------------------------- slowread --- */

static int sc_slowread(const char *name)
{
	static uint8_t buf[CHUNK];
	struct csum rc;
	struct timespec ts = { slow_pause_ms / 1000, (slow_pause_ms % 1000) * 1000000L };
	uint64_t t1;
	int fd, err;

	fd = vt_open(SOCK_STREAM, port + 7);
	if (fd < 0) {
		FAIL(name, "reason=connect err=%d", fd);
		return 0;
	}
	out("slowread pausing ms=%u", slow_pause_ms);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	out("slowread reading");
	t1 = now_ms();
	cs_init(&rc);
	err = recv_to_eof(fd, buf, &rc, NULL, 0);
	close(fd);
	if (err) {
		FAIL(name, "reason=recv err=%d bytes=%llu", err, (unsigned long long)rc.n);
		return 0;
	}
	if (rc.n != slow_bytes) {
		FAIL(name, "reason=length bytes=%llu want=%u", (unsigned long long)rc.n, slow_bytes);
		return 0;
	}
	OK(name, "bytes=%llu crc=0x%08x pause_ms=%u read_ms=%llu", (unsigned long long)rc.n,
	   cs_val(&rc), slow_pause_ms, (unsigned long long)(now_ms() - t1));
	return 1;
}

/* ------------------------------------------------------------- server --- */

static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t srv_cond = PTHREAD_COND_INITIALIZER;
static unsigned int served, served_failed;

struct conn {
	int fd;
	unsigned int off;	/* port - serve_port */
	struct sockaddr_vm peer;
};

/* S+2: read to EOF, then send it all back. */
static int serve_reply_after_eof(int fd, uint8_t *buf, struct csum *rc)
{
	uint8_t *keep = malloc(half_bytes ? half_bytes : 1);
	int err = keep ? recv_to_eof(fd, buf, rc, keep, half_bytes) : -ENOMEM;

	if (!err)
		err = send_all(fd, keep, rc->n, 0);
	free(keep);
	return err;
}

/* S+3: send half_bytes (seed 5), SHUT_WR, the reply must be the same. */
static int serve_send_first(int fd, uint8_t *buf, struct csum *rc)
{
	uint8_t *data = malloc(half_bytes ? half_bytes : 1);
	struct prng p;
	int err;

	if (!data)
		return -ENOMEM;
	prng_init(&p, 5);
	prng_fill(&p, data, half_bytes);
	err = send_all(fd, data, half_bytes, 0);
	if (!err && shutdown(fd, SHUT_WR) < 0)
		err = -errno;
	if (!err)
		err = recv_to_eof(fd, buf, rc, NULL, 0);
	if (!err && (rc->n != half_bytes || cs_val(rc) != crc_buf(data, half_bytes)))
		err = -EBADMSG;
	free(data);
	return err;
}

/* S+4: SEQPACKET echo, message by message (buf holds CHUNK + 1). */
static int serve_seq_echo(int fd, uint8_t *buf, struct csum *rc, unsigned int *msgs)
{
	for (;;) {
		struct iovec v = { buf, CHUNK + 1 };
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &m, 0);
		int err;

		if (n <= 0)
			return n < 0 ? -errno : 0;
		if (m.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		cs_add(rc, buf, n);
		(*msgs)++;
		if ((err = send_all(fd, buf, n, MSG_EOR)))
			return err;
	}
}

/* S+0, S+5: echo until EOF; S+6: read only. */
static int serve_echo(int fd, uint8_t *buf, struct csum *rc, int sink)
{
	for (;;) {
		int r = recv_some(fd, buf, CHUNK), err;

		if (r <= 0)
			return r;
		cs_add(rc, buf, r);
		if (!sink && (err = send_all(fd, buf, r, 0)))
			return err;
	}
}

static void *serve_conn(void *arg)
{
	struct conn *s = arg;
	uint8_t *buf = malloc(CHUNK + 1);
	struct csum rc;
	unsigned int msgs = 0;
	int err;

	cs_init(&rc);
	set_timeouts(s->fd);
	if (!buf)
		err = -ENOMEM;
	else if (s->off == 2)
		err = serve_reply_after_eof(s->fd, buf, &rc);
	else if (s->off == 3)
		err = serve_send_first(s->fd, buf, &rc);
	else if (s->off == 4)
		err = serve_seq_echo(s->fd, buf, &rc, &msgs);
	else
		err = serve_echo(s->fd, buf, &rc, s->off == 6);
	if (!err && s->off != 3 && shutdown(s->fd, SHUT_WR) < 0)
		err = -errno;
	out("served port=%u peer_cid=%u peer_port=%u bytes=%llu crc=0x%08x msgs=%u err=%d",
	    serve_port + s->off, s->peer.svm_cid, s->peer.svm_port, (unsigned long long)rc.n,
	    cs_val(&rc), msgs, err);
	close(s->fd);
	free(buf);
	free(s);
	pthread_mutex_lock(&srv_lock);
	served++;
	served_failed += err != 0;
	pthread_cond_broadcast(&srv_cond);
	pthread_mutex_unlock(&srv_lock);
	return NULL;
}

static void *serve_loop(void *arg)
{
	int ls = (int)(intptr_t)arg;
	struct sockaddr_vm a;

	for (;;) {
		socklen_t al = sizeof(a);
		struct conn *s = calloc(1, sizeof(*s));
		pthread_t th;

		if (!s)
			return NULL;
		s->fd = accept(ls, (struct sockaddr *)&s->peer, &al);
		if (s->fd < 0) {
			free(s);
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			out("serve accept err=%d", -errno);
			return NULL;
		}
		al = sizeof(a);
		getsockname(ls, (struct sockaddr *)&a, &al);
		s->off = a.svm_port - serve_port;
		if (pthread_create(&th, NULL, serve_conn, s)) {
			close(s->fd);
			free(s);
			continue;
		}
		pthread_detach(th);
	}
}

static int start_server(void)
{
	static const unsigned int offs[] = { 0, 2, 3, 4, 5, 6 };

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
					 .svm_port = serve_port + offs[i] };
		int ls = socket(AF_VSOCK, offs[i] == 4 ? SOCK_SEQPACKET : SOCK_STREAM, 0);
		pthread_t th;

		if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 64) < 0 ||
		    pthread_create(&th, NULL, serve_loop, (void *)(intptr_t)ls)) {
			out("serve fail port=%u err=%d", a.svm_port, -errno);
			return -1;
		}
		pthread_detach(th);
	}
	out("serving port=%u", serve_port);
	return 0;
}

static int sc_wait(const char *name)
{
	struct timespec dl;
	unsigned int n, bad;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_s;
	pthread_mutex_lock(&srv_lock);
	while (served < serve_conns &&
	       pthread_cond_timedwait(&srv_cond, &srv_lock, &dl) != ETIMEDOUT)
		;
	n = served;
	bad = served_failed;
	pthread_mutex_unlock(&srv_lock);
	if (n < serve_conns || bad) {
		FAIL(name, "reason=%s served=%u failed=%u want=%u", bad ? "served_failed" : "timeout",
		     n, bad, serve_conns);
		return 0;
	}
	OK(name, "served=%u failed=0", n);
	return 1;
}

/* --------------------------------------------------------------- gate --- */

static int sc_gate(const char *name)
{
	unsigned int p = port + (strcmp(name, "gate2") ? 9 : 10);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = p };
	int ls = socket(AF_VSOCK, SOCK_STREAM, 0), c = -1;

	if (ls >= 0) {
		set_timeouts(ls);
		if (bind(ls, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(ls, 1) == 0) {
			out("listening port=%u", p);
			c = accept(ls, NULL, NULL);
		}
	}
	if (c < 0) {
		FAIL(name, "reason=accept err=%d", -errno);
		if (ls >= 0)
			close(ls);
		return 0;
	}
	close(c);
	close(ls);
	OK(name, "port=%u", p);
	return 1;
}

/* ----------------------------------------------------------- pingpong --- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define PING 64

/* recv exactly n bytes; 0 or -errno (-EPIPE: EOF first). */
static int recv_exact(int fd, uint8_t *buf, size_t n)
{
	for (size_t got = 0; got < n; ) {
		int r = recv_some(fd, buf + got, n - got);

		if (r <= 0)
			return r ? r : -EPIPE;
		got += r;
	}
	return 0;
}

static int sc_pingpong(const char *name)
{
	unsigned int to = !strcmp(name, "hostping") ? VMADDR_CID_HOST : cid, i;
	uint64_t *cyc = calloc(pings ? pings : 1, sizeof(*cyc));
	uint8_t msg[PING], in[PING];
	uint64_t t0 = now_ms();
	struct prng p;
	int fd, err = 0, ok = 0;

	if (!pings) {	/* the figures index cyc[pings - 1] */
		FAIL(name, "reason=pings=0");
		free(cyc);
		return 0;
	}
	fd = vt_open_cid(SOCK_STREAM, to, port + 0);
	if (!cyc || fd < 0) {
		FAIL(name, "reason=connect err=%d cid=%u", fd < 0 ? fd : -ENOMEM, to);
		goto out;
	}
	prng_init(&p, 9);
	for (i = 0; i < pings && !err; i++) {
		uint64_t t = __rdtsc();

		prng_fill(&p, msg, PING);
		err = send_all(fd, msg, PING, 0);
		if (!err)
			err = recv_exact(fd, in, PING);
		if (!err && memcmp(in, msg, PING))
			err = -EBADMSG;
		cyc[i] = __rdtsc() - t;
	}
	if (!err && shutdown(fd, SHUT_WR) < 0)
		err = -errno;
	if (!err && recv_some(fd, in, 1) != 0)
		err = -E2BIG;	/* the echo must end right after our data */
	if (err) {
		FAIL(name, "reason=io err=%d round=%u cid=%u", err, i - 1, to);
		goto out;
	}
	qsort(cyc, pings, sizeof(*cyc), cmp_u64);
	ok = 1;
#define US(c) ((double)(c) / tsc_per_us)
	OK(name, "rounds=%u size=%u cid=%u p50_us=%.1f p99_us=%.1f min_us=%.1f max_us=%.1f ms=%llu",
	   pings, PING, to, US(cyc[pings / 2]), US(cyc[pings * 99 / 100]), US(cyc[0]),
	   US(cyc[pings - 1]), (unsigned long long)(now_ms() - t0));
#undef US
out:
	if (fd >= 0)
		close(fd);
	free(cyc);
	return ok;
}

/* ---------------------------------------------------------------- cut --- */

/* n more bytes of the host flow, chunk by chunk, each echoed back intact. */
static int host_steps(int fd, struct prng *p, struct csum *c, size_t n, uint8_t *buf,
		      uint8_t *in)
{
	while (n) {
		size_t k = n < CHUNK ? n : CHUNK;
		int err;

		prng_fill(p, buf, k);
		cs_add(c, buf, k);
		if ((err = send_all(fd, buf, k, 0)) || (err = recv_exact(fd, in, k)))
			return err;
		if (memcmp(in, buf, k))
			return -EBADMSG;
		n -= k;
	}
	return 0;
}

static int sc_cut(const char *name)
{
	uint8_t *buf = malloc(CHUNK), *in = malloc(CHUNK);
	struct timeval tv = { .tv_sec = cut_timeout_s };
	uint64_t sent = 0, t1 = 0;
	size_t first = (echo_bytes / 2) & ~(size_t)7;
	int hfd, sfd = -1, err = 0, serr = 0, rerr, ok = 0;
	struct prng hp, sp;
	struct csum hc;

	hfd = vt_open_cid(SOCK_STREAM, VMADDR_CID_HOST, port + 0);
	if (!buf || !in || hfd < 0) {
		FAIL(name, "reason=host_connect err=%d", hfd);
		goto out;
	}
	prng_init(&hp, 1);
	cs_init(&hc);
	if ((err = host_steps(hfd, &hp, &hc, first, buf, in))) {
		FAIL(name, "reason=host_before err=%d", err);
		goto out;
	}
	sfd = vt_open(SOCK_STREAM, port + 6);
	if (sfd < 0) {
		FAIL(name, "reason=connect err=%d", sfd);
		goto out;
	}
	setsockopt(sfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	prng_init(&sp, 6);
	/* Until an error; cut_timeout_s after the announcement at the
	 * latest (a send that blocks or one that never fails: both hang). */
	while (!serr && (!t1 || now_ms() - t1 < cut_timeout_s * 1000ull)) {
		ssize_t r;

		prng_fill(&sp, buf, CHUNK);
		r = send(sfd, buf, CHUNK, MSG_NOSIGNAL);
		if (r < 0 && errno != EINTR)
			serr = -errno;
		else if (r > 0) {
			if (sent < 1 << 20 && sent + r >= 1 << 20) {
				out("cut streaming sent=%llu cid=%u", (unsigned long long)(sent + r), cid);
				t1 = now_ms();
			}
			sent += r;
		}
	}
	t1 = now_ms();
	out("cut ended sibling_err=%d sent=%llu", serr, (unsigned long long)sent);
	close(sfd);
	if (!serr || serr == -EAGAIN || serr == -EWOULDBLOCK) {
		FAIL(name, "reason=hang err=%d sent=%llu timeout_s=%u", serr, (unsigned long long)sent,
		     cut_timeout_s);
		goto out;
	}
	/* The host flow opened before is still there and intact. */
	err = host_steps(hfd, &hp, &hc, echo_bytes - first, buf, in);
	if (!err && shutdown(hfd, SHUT_WR) < 0)
		err = -errno;
	if (!err && recv_some(hfd, in, 1) != 0)
		err = -E2BIG;
	if (err) {
		FAIL(name, "reason=host_after err=%d sibling_err=%d host_bytes=%llu", err, serr,
		     (unsigned long long)hc.n);
		goto out;
	}
	rerr = vt_open(SOCK_STREAM, port + 6);
	if (rerr >= 0) {
		close(rerr);
		FAIL(name, "reason=reconnected sibling_err=%d", serr);
		goto out;
	}
	ok = 1;
	OK(name, "sibling_err=%d sent=%llu host_bytes=%llu host_crc=0x%08x reconnect_err=%d "
	   "host_ms=%llu", serr, (unsigned long long)sent, (unsigned long long)hc.n, cs_val(&hc),
	   rerr, (unsigned long long)(now_ms() - t1));
out:
	if (hfd >= 0)
		close(hfd);
	free(buf);
	free(in);
	return ok;
}

/* --------------------------------------------------------------- main --- */

static const struct {
	const char *name;
	int (*fn)(const char *name);
} all[] = {
	{ "echo", sc_echo }, { "listen", sc_listen }, { "halfclose", sc_halfclose },
	{ "seqpacket", sc_seqpacket }, { "many", sc_many }, { "refused", sc_refused },
	{ "slowread", sc_slowread }, { "hostecho", sc_echo }, { "mesh", sc_mesh },
	{ "wait", sc_wait }, { "gate", sc_gate }, { "gate2", sc_gate },
	{ "pingpong", sc_pingpong }, { "hostping", sc_pingpong }, { "cut", sc_cut },
};

/* name=value; returns 0 if the name is unknown or the value bad. */
static int set_param(const char *kv)
{
	static const struct { const char *n; unsigned int *v; } u[] = {
		{ "port", &port }, { "echo_bytes", &echo_bytes }, { "listen_bytes", &listen_bytes },
		{ "half_bytes", &half_bytes }, { "many", &many }, { "slow_bytes", &slow_bytes },
		{ "slow_pause_ms", &slow_pause_ms }, { "timeout_s", &timeout_s },
		{ "cid", &cid }, { "refused_cid", &refused_cid }, { "serve_port", &serve_port },
		{ "serve_conns", &serve_conns }, { "pings", &pings },
		{ "cut_timeout_s", &cut_timeout_s },
	};
	const char *eq = strchr(kv, '=');
	size_t nl;

	if (!eq)
		return 0;
	nl = eq - kv;
	if (nl == 9 && !strncmp(kv, "scenarios", 9)) {
		snprintf(scenarios, sizeof(scenarios), "%s", eq + 1);
		return 1;
	}
	if (nl == 4 && !strncmp(kv, "cids", 4)) {
		snprintf(cids, sizeof(cids), "%s", eq + 1);
		return 1;
	}
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (strlen(u[i].n) == nl && !strncmp(kv, u[i].n, nl)) {
			char *end;
			unsigned long x = strtoul(eq + 1, &end, 0);

			if (*end || end == eq + 1)
				return 0;
			*u[i].v = (unsigned int)x;
			return 1;
		}
	}
	return 0;
}

static void read_cmdline(void)
{
	char buf[4096], *save = NULL, *w;
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n;

	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		if (!strncmp(w, "vsockagent.", 11) && !set_param(w + 11))
			out("ignoring bad parameter %s", w);
}

int main(int argc, char **argv)
{
	char list[512], *cur, *tok;
	int passed = 0, failed = 0, no_transport = 0;
	uint64_t t0;

	setvbuf(stdout, NULL, _IONBF, 0);
	crc_init();
	read_cmdline();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: %s [--scenarios=a,b] [--port=P] [--echo_bytes=N] ...\n"
			       "see the comment at the top of vsock-agent.c\n", argv[0]);
			return 0;
		}
		if (strncmp(argv[i], "--", 2) || !set_param(argv[i] + 2)) {
			fprintf(stderr, "vsock-agent: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	t0 = now_ms();
	out("start scenarios=%s port=%u crc_selftest=%s", scenarios, port,
	    crc_buf("123456789", 9) == 0xcbf43926u ? "ok" : "BAD");
	{
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		unsigned int local_cid = VMADDR_CID_ANY;
		FILE *f;

		if (fd < 0) {
			out("transport=none err=%d", -errno);
			no_transport = 1;
			failed++;
		} else {
			close(fd);
			/* IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock (guest only). */
			f = fopen("/dev/vsock", "r");
			if (f) {
				if (ioctl(fileno(f), IOCTL_VM_SOCKETS_GET_LOCAL_CID, &local_cid) < 0)
					local_cid = VMADDR_CID_ANY;
				fclose(f);
			}
			out("transport=vsock local_cid=%u", local_cid);
		}
	}
	if (strstr(scenarios, "ping"))
		tsc_calibrate();
	if (!no_transport && serve_port && start_server() < 0)
		failed++;
	snprintf(list, sizeof(list), "%s", scenarios);
	cur = list;
	while (!no_transport && (tok = strsep(&cur, ",")) != NULL) {
		int known = 0;

		if (!*tok)
			continue;
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			if (strcmp(tok, all[i].name))
				continue;
			known = 1;
			if (all[i].fn(tok))
				passed++;
			else
				failed++;
		}
		if (!known) {
			FAIL(tok, "reason=unknown_scenario");
			failed++;
		}
	}
	out("done passed=%d failed=%d ms=%llu", passed, failed, (unsigned long long)(now_ms() - t0));
	return failed ? 1 : 0;
}
