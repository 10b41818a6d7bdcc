/* SPDX-License-Identifier: MIT */
/*
 * bench/unixpair: the host side of the benchmarks (bench/bench.py), and the
 * host-only baseline the vsock numbers are divided by.  Unix sockets only
 * (never AF_VSOCK).  Built by bench/run.sh with `cc -O2`.
 *
 * Data is the test guest's payload stream (xorshift64 13/7/17, seeded with
 * seed ^ 0x9E3779B97F4A7C15) and is checksummed with the same slicing-by-8
 * CRC-32 (= zlib.crc32) as the guest (guest-images/testguest/csum.c), so a
 * host sender/receiver does exactly the per-byte work the guest does.
 *
 * Every mode prints one line of key=value pairs on stdout; times are
 * CLOCK_MONOTONIC nanoseconds.  Every wait is bounded (SO_RCVTIMEO /
 * poll timeouts); a timeout prints `error=...` and exits 1.
 *
 *  vsock peers (the guest is the other end):
 *   sink PATH BUFSZ            listen on PATH, accept one, read() BUFSZ at a
 *                              time to EOF: bytes crc ns (first byte -> EOF)
 *   source PATH BYTES WSZ      listen on PATH, accept one, write BYTES in
 *                              WSZ writes, shut down, wait for the peer's
 *                              close: bytes crc ns (first write -> close)
 *   hsource UDS PORT BYTES WSZ the same through `CONNECT PORT` (guest listens)
 *   echo PATH                  listen, accept one, echo to EOF
 *   hping UDS PORT SIZE COUNT  CONNECT, then COUNT round trips of SIZE bytes:
 *                              min p50 p99 mean (ns)
 *   accept PATH COUNT          accept COUNT connections, close each at once
 *   hconnect UDS PORT COUNT    COUNT times: connect, CONNECT PORT, read OK,
 *                              close: conns ns p50 p99
 *   hold UDS PORT N ACTIVE BYTES
 *                              open N connections (CONNECT), print
 *                              `ready=1`, wait for a line on stdin, echo
 *                              BYTES on the first ACTIVE at once (timed),
 *                              print, wait for a line, close all
 *  baseline: two processes over one Unix stream connection
 *   base-stream BYTES SIZE     child writes BYTES (PRNG + CRC, SIZE writes),
 *                              parent reads SIZE at a time + CRC
 *   base-ping SIZE COUNT       child echoes, parent times round trips
 *   base-connect COUNT REPLY   child accepts and closes (REPLY=1: writes
 *                              "OK 1\n" first); parent connects COUNT times
 *                              (REPLY=1: reads the line) and closes
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_S 120

static uint32_t crc_tab[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^ crc_tab[0][crc_tab[k - 1][i] & 0xff];
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
		n--;
	}
	while (n >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		w ^= crc;
		crc = crc_tab[7][w & 0xff] ^ crc_tab[6][(w >> 8) & 0xff] ^
		      crc_tab[5][(w >> 16) & 0xff] ^ crc_tab[4][(w >> 24) & 0xff] ^
		      crc_tab[3][(w >> 32) & 0xff] ^ crc_tab[2][(w >> 40) & 0xff] ^
		      crc_tab[1][(w >> 48) & 0xff] ^ crc_tab[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* The guest's PRNG stream; n a multiple of 8 except at the very end. */
static void prng_fill(uint64_t *s, uint8_t *buf, size_t n)
{
	while (n) {
		uint64_t x = *s;
		size_t k = n < 8 ? n : 8;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*s = x;
		memcpy(buf, &x, k);
		buf += k;
		n -= k;
	}
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what)
{
	printf("error=%s errno=%d\n", what, errno);
	fflush(stdout);
	exit(1);
}

static void set_timeout(int fd)
{
	struct timeval tv = { TIMEOUT_S, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static struct sockaddr_un addr_of(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		die("path");
	}
	strcpy(a.sun_path, path);
	return a;
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = addr_of(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096))
		die("listen");
	return fd;
}

static int accept_one(int lfd)
{
	struct pollfd p = { lfd, POLLIN, 0 };
	int fd;

	if (poll(&p, 1, TIMEOUT_S * 1000) != 1)
		die("accept-timeout");
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept");
	set_timeout(fd);
	return fd;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = addr_of(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	set_timeout(fd);
	for (int i = 0; connect(fd, (struct sockaddr *)&a, sizeof(a)); i++) {
		if (i > 2000)
			die("connect");
		usleep(5000); /* the listener may not be there yet */
	}
	return fd;
}

static void write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("write");
		p += r;
		n -= (size_t)r;
	}
}

static void read_exact(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die(r == 0 ? "eof" : "read");
		p += r;
		n -= (size_t)r;
	}
}

/* Hybrid vsock: connect to the VMM's socket, `CONNECT port`, read `OK n`. */
static int hybrid_connect(const char *uds, const char *port)
{
	char line[64];
	size_t n = 0;
	int fd = connect_to(uds);

	snprintf(line, sizeof(line), "CONNECT %s\n", port);
	write_all(fd, line, strlen(line));
	while (n < sizeof(line) - 1) {
		ssize_t r = read(fd, line + n, 1);

		if (r <= 0)
			die("no-OK");
		if (line[n++] == '\n')
			break;
	}
	line[n] = 0;
	if (strncmp(line, "OK ", 3) != 0)
		die("bad-OK");
	return fd;
}

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = aligned_alloc(4096, (n + 4095) & ~(size_t)4095);

	if (!p)
		die("malloc");
	memset(p, 0, n);
	return p;
}

/* Read to EOF with bufsz reads: bytes, crc, ns from the first byte. */
static void do_sink(int fd, size_t bufsz, const char *tag)
{
	uint8_t *buf = xmalloc(bufsz);
	uint64_t bytes = 0, t0 = 0;
	uint32_t crc = 0;

	for (;;) {
		ssize_t r = read(fd, buf, bufsz);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		if (r == 0)
			break;
		if (!t0)
			t0 = now_ns();
		crc = crc32_update(crc, buf, (size_t)r);
		bytes += (uint64_t)r;
	}
	close(fd);
	printf("%sbytes=%llu crc=%08x ns=%llu\n", tag, (unsigned long long)bytes, crc,
	       (unsigned long long)(now_ns() - t0));
}

/* Write `bytes` of the PRNG stream (seed 1) in wsz writes, then SHUT_WR and
 * wait for the peer to close: crc, ns from the first write. */
static void do_source(int fd, uint64_t bytes, size_t wsz, const char *tag)
{
	uint8_t *buf = xmalloc(wsz);
	uint64_t s = 1 ^ 0x9e3779b97f4a7c15ull, left = bytes, t0 = now_ns();
	uint32_t crc = 0;
	char c;

	while (left) {
		size_t n = left < wsz ? (size_t)left : wsz;

		prng_fill(&s, buf, n);
		crc = crc32_update(crc, buf, n);
		write_all(fd, buf, n);
		left -= n;
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, &c, 1) > 0)
		;
	printf("%sbytes=%llu crc=%08x ns=%llu\n", tag, (unsigned long long)bytes, crc,
	       (unsigned long long)(now_ns() - t0));
}

static void do_echo(int fd)
{
	static uint8_t buf[1 << 16];
	uint64_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		write_all(fd, buf, (size_t)r);
		n += (uint64_t)r;
	}
	printf("echoed=%llu\n", (unsigned long long)n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* COUNT round trips of size bytes on fd (after 100 warm-up rounds). */
static void do_ping(int fd, size_t size, unsigned long count)
{
	uint8_t *s = xmalloc(size), *r = xmalloc(size);
	uint64_t *lat = calloc(count, sizeof(*lat)), sum = 0;

	if (!lat)
		die("malloc");
	for (size_t i = 0; i < size; i++)
		s[i] = (uint8_t)(i * 7 + 1);
	for (unsigned long i = 0; i < count + 100; i++) {
		uint64_t t0 = now_ns();

		write_all(fd, s, size);
		read_exact(fd, r, size);
		if (i >= 100) {
			lat[i - 100] = now_ns() - t0;
			sum += lat[i - 100];
		}
	}
	if (memcmp(s, r, size))
		die("echo-mismatch");
	qsort(lat, count, sizeof(*lat), cmp_u64);
	printf("size=%zu count=%lu min=%llu p50=%llu p99=%llu mean=%llu\n", size, count,
	       (unsigned long long)lat[0], (unsigned long long)lat[count / 2],
	       (unsigned long long)lat[count * 99 / 100], (unsigned long long)(sum / count));
}

static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static void reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("error=child-failed\n");
		exit(1);
	}
}

/* Baseline: a listener in a fresh directory, the child connects. */
static char base_path[108];

static int base_listen(void)
{
	char dir[] = "/tmp/unixpairXXXXXX";

	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(base_path, sizeof(base_path), "%s/s", dir);
	return listen_on(base_path);
}

static void base_cleanup(void)
{
	char *slash;

	unlink(base_path);
	slash = strrchr(base_path, '/');
	if (slash) {
		*slash = 0;
		rmdir(base_path);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: see the comment at the top of bench/unixpair.c\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	crc_init();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(900); /* nothing here runs for more than 15 minutes */

	if (!strcmp(m, "sink") && argc == 4) {
		int l = listen_on(argv[2]);

		printf("listening=1\n");
		do_sink(accept_one(l), strtoul(argv[3], NULL, 0), "");
		unlink(argv[2]);
	} else if (!strcmp(m, "source") && argc == 5) {
		int l = listen_on(argv[2]);

		printf("listening=1\n");
		do_source(accept_one(l), strtoull(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), "");
		unlink(argv[2]);
	} else if (!strcmp(m, "hsource") && argc == 6) {
		int fd = hybrid_connect(argv[2], argv[3]);

		do_source(fd, strtoull(argv[4], NULL, 0), strtoul(argv[5], NULL, 0), "");
	} else if (!strcmp(m, "echo") && argc == 3) {
		int l = listen_on(argv[2]);

		printf("listening=1\n");
		do_echo(accept_one(l));
		unlink(argv[2]);
	} else if (!strcmp(m, "hping") && argc == 6) {
		int fd = hybrid_connect(argv[2], argv[3]);

		do_ping(fd, strtoul(argv[4], NULL, 0), strtoul(argv[5], NULL, 0));
		shutdown(fd, SHUT_WR);
	} else if (!strcmp(m, "accept") && argc == 4) {
		int l = listen_on(argv[2]);
		unsigned long n = strtoul(argv[3], NULL, 0);

		printf("listening=1\n");
		for (unsigned long i = 0; i < n; i++)
			close(accept_one(l));
		printf("accepted=%lu\n", n);
		unlink(argv[2]);
	} else if (!strcmp(m, "hconnect") && argc == 5) {
		unsigned long n = strtoul(argv[4], NULL, 0);
		uint64_t *lat = calloc(n, sizeof(*lat)), t0 = now_ns();

		if (!lat)
			die("malloc");
		for (unsigned long i = 0; i < n; i++) {
			uint64_t t = now_ns();

			close(hybrid_connect(argv[2], argv[3]));
			lat[i] = now_ns() - t;
		}
		t0 = now_ns() - t0;
		qsort(lat, n, sizeof(*lat), cmp_u64);
		printf("conns=%lu ns=%llu p50=%llu p99=%llu\n", n, (unsigned long long)t0,
		       (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 99 / 100]);
	} else if (!strcmp(m, "hold") && argc == 7) {
		unsigned long n = strtoul(argv[4], NULL, 0), act = strtoul(argv[5], NULL, 0);
		size_t bytes = strtoul(argv[6], NULL, 0);
		int *fds = calloc(n, sizeof(int));
		uint8_t *s = xmalloc(bytes), *r = xmalloc(bytes);
		char line[16];
		uint64_t t0 = now_ns();

		raise_nofile();
		if (!fds)
			die("malloc");
		if (act > n)
			act = n;
		for (unsigned long i = 0; i < n; i++)
			fds[i] = hybrid_connect(argv[2], argv[3]);
		printf("ready=1 conns=%lu open_ns=%llu\n", n, (unsigned long long)(now_ns() - t0));
		if (!fgets(line, sizeof(line), stdin))
			die("stdin");
		for (size_t i = 0; i < bytes; i++)
			s[i] = (uint8_t)(i * 13 + 5);
		t0 = now_ns();
		for (unsigned long i = 0; i < act; i++)
			write_all(fds[i], s, bytes);
		for (unsigned long i = 0; i < act; i++) {
			read_exact(fds[i], r, bytes);
			if (memcmp(s, r, bytes))
				die("echo-mismatch");
		}
		printf("active=%lu bytes=%zu ns=%llu\n", act, bytes,
		       (unsigned long long)(now_ns() - t0));
		if (!fgets(line, sizeof(line), stdin))
			die("stdin");
		for (unsigned long i = 0; i < n; i++)
			close(fds[i]);
		printf("closed=%lu\n", n);
	} else if (!strcmp(m, "base-stream") && argc == 4) {
		uint64_t bytes = strtoull(argv[2], NULL, 0);
		size_t sz = strtoul(argv[3], NULL, 0);
		int l = base_listen();
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int fd = connect_to(base_path);
			FILE *devnull = freopen("/dev/null", "w", stdout);

			(void)devnull;
			do_source(fd, bytes, sz, "");
			_exit(0);
		}
		do_sink(accept_one(l), sz, "");
		reap(pid);
		base_cleanup();
	} else if (!strcmp(m, "base-ping") && argc == 4) {
		int l = base_listen();
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int fd = accept_one(l);

			if (!freopen("/dev/null", "w", stdout))
				_exit(1);
			do_echo(fd);
			_exit(0);
		}
		{
			int fd = connect_to(base_path);

			do_ping(fd, strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
			shutdown(fd, SHUT_WR);
			close(fd);
		}
		reap(pid);
		base_cleanup();
	} else if (!strcmp(m, "base-connect") && argc == 4) {
		unsigned long n = strtoul(argv[2], NULL, 0);
		int reply = atoi(argv[3]);
		int l = base_listen();
		uint64_t *lat = calloc(n, sizeof(*lat)), t0;
		pid_t pid;

		if (!lat)
			die("malloc");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			for (unsigned long i = 0; i < n; i++) {
				int fd = accept_one(l);

				if (reply)
					write_all(fd, "OK 1\n", 5);
				close(fd);
			}
			_exit(0);
		}
		t0 = now_ns();
		for (unsigned long i = 0; i < n; i++) {
			uint64_t t = now_ns();
			int fd = connect_to(base_path);

			if (reply) {
				char b[5];

				read_exact(fd, b, 5);
			}
			close(fd);
			lat[i] = now_ns() - t;
		}
		t0 = now_ns() - t0;
		reap(pid);
		base_cleanup();
		qsort(lat, n, sizeof(*lat), cmp_u64);
		printf("conns=%lu ns=%llu p50=%llu p99=%llu\n", n, (unsigned long long)t0,
		       (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 99 / 100]);
	} else {
		return usage();
	}
	return 0;
}
