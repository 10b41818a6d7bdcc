/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsocktest: what vsocktest.c (parameters, helpers, the scenario runner)
 * shares with cases.c (the cases modelled on Linux's
 * tools/testing/vsock/vsock_test.c).  Ports are vsocktest.port (P) plus an
 * offset; the offsets of cases.c are listed at the top of cases.c.
 */
#ifndef VSOCKTEST_H
#define VSOCKTEST_H

#include <linux/ktime.h>
#include <linux/net.h>
#include <linux/printk.h>
#include <linux/types.h>

#define CHUNK (64 << 10)	/* a multiple of 8 (the PRNG's step) */

/* Module parameters "vsocktest.port" and "vsocktest.timeout_s". */
extern unsigned int vt_port;
extern unsigned int vt_timeout_s;

/* What a scenario reports: its line says ok, fail or skip. */
enum vt_result {
	VT_FAIL,
	VT_OK,
	VT_SKIP,
};

struct csum {
	u32 s;
	u64 n;
};

void vt_cs_init(struct csum *c);
void vt_cs_add(struct csum *c, const void *p, size_t n);
u32 vt_cs_val(const struct csum *c);

/* xorshift64 stream = tests/integration/vsockhost.py:prng_bytes(seed, n). */
struct prng {
	u64 s;
};

void vt_prng_init(struct prng *p, u64 seed);
void vt_prng_fill(struct prng *p, u8 *buf, size_t n);

u64 vt_ms_since(ktime_t t0);

/* AF_VSOCK socket with the test's send/receive/connect bounds. */
int vt_socket(int type, struct socket **out);
/* Connect to port p of vsocktest.cid (default 2, the host). */
int vt_connect(struct socket *s, u32 p);
int vt_open(int type, u32 p, struct socket **out);
int vt_send_all(struct socket *s, const void *buf, size_t n, int flags);
int vt_recv_some(struct socket *s, void *buf, size_t n, int flags, int *mflags);
int vt_recv_to_eof(struct socket *s, u8 *buf, struct csum *c, u8 *keep, size_t cap);

#define OK(name, fmt, ...) pr_info("%s ok " fmt "\n", name, ##__VA_ARGS__)
#define FAIL(name, fmt, ...) pr_info("%s fail " fmt "\n", name, ##__VA_ARGS__)
#define SKIP(name, fmt, ...) pr_info("%s skip " fmt "\n", name, ##__VA_ARGS__)

struct vt_scenario {
	const char *name;
	enum vt_result (*fn)(const char *name);
};

/* cases.c */
extern const struct vt_scenario vt_cases[];
extern const unsigned int vt_ncases;

#endif /* VSOCKTEST_H */
