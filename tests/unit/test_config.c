// SPDX-License-Identifier: MIT
/*
 * Unit tests for vmm/config.c: the JSON locator, loading JSON (values, every
 * kind of error with its exact FILE:LINE:COLUMN), relative paths, and
 * config_validate().  The expected positions in the tables were computed
 * independently of the code under test (by counting characters in Python).
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "vmm/config.h"
#include "vmm/config_json.h"

static struct vm_config c;
static char err[512];
static char tmpdir[64];

static void setup(void)
{
	config_defaults(&c);
	memset(err, 0, sizeof(err));
}

static void teardown(void)
{
	config_free(&c);
}

static int load(const char *json)
{
	return config_load_json_buf(&c, "t.json", json, strlen(json), err, sizeof(err));
}

#define ck_load_ok(json) \
	ck_assert_msg(load(json) == 0, "load failed: %s", err)

#define ck_load_err(json, msg) do {					\
	ck_assert_int_eq(load(json), -EINVAL);				\
	ck_assert_str_eq(err, msg);					\
} while (0)

struct bad_case {
	const char *json;
	const char *msg;
};

/* JSON, expected message (positions computed independently). */
static const struct bad_case type_cases[] = {
	{ "{\"x-vmm\": {\"seccomp\": \"no\"}}",
	  "t.json:1:23: x-vmm.seccomp: must be true or false, not a string" },
	{ "{\"x-vmm\": {\"vsock_socket_group\": 5}}",
	  "t.json:1:34: x-vmm.vsock_socket_group: must be a string, not an integer" },
	{ "{\"boot-source\": {\"kernel_image_path\": 5}}",
	  "t.json:1:39: boot-source.kernel_image_path: must be a string, not an integer" },
	{ "{\"boot-source\": {\"kernel_image_path\": null}}",
	  "t.json:1:39: boot-source.kernel_image_path: must be a string, not null" },
	{ "{\"boot-source\": {\"initrd_path\": true}}",
	  "t.json:1:33: boot-source.initrd_path: must be a string or null, not true" },
	{ "{\"boot-source\": {\"boot_args\": [\"a\"]}}",
	  "t.json:1:31: boot-source.boot_args: must be a string, not an array" },
	{ "{\"machine-config\": {\"vcpu_count\": \"2\"}}",
	  "t.json:1:35: machine-config.vcpu_count: must be an integer, not a string" },
	{ "{\"machine-config\": {\"vcpu_count\": 2.0}}",
	  "t.json:1:35: machine-config.vcpu_count: must be an integer, not a number with a fraction or exponent" },
	{ "{\"machine-config\": {\"mem_size_mib\": 1e3}}",
	  "t.json:1:37: machine-config.mem_size_mib: must be an integer, not a number with a fraction or exponent" },
	{ "{\"machine-config\": {\"mem_size_mib\": {}}}",
	  "t.json:1:37: machine-config.mem_size_mib: must be an integer, not an object" },
	{ "{\"machine-config\": {\"smt\": 0}}",
	  "t.json:1:28: machine-config.smt: must be true or false, not an integer" },
	{ "{\"machine-config\": {\"track_dirty_pages\": \"yes\"}}",
	  "t.json:1:42: machine-config.track_dirty_pages: must be true or false, not a string" },
	{ "{\"vsock\": {\"guest_cid\": \"3\"}}",
	  "t.json:1:25: vsock.guest_cid: must be an integer, not a string" },
	{ "{\"vsock\": {\"uds_path\": 1}}",
	  "t.json:1:24: vsock.uds_path: must be a string, not an integer" },
	{ "{\"vsock\": {\"uds_path\": null}}",
	  "t.json:1:24: vsock.uds_path: must be a string, not null" },
	{ "{\"vsock\": {\"vsock_id\": false}}",
	  "t.json:1:24: vsock.vsock_id: must be a string, not false" },
	{ "{\"x-vmm\": {\"discovery\": 1}}",
	  "t.json:1:25: x-vmm.discovery: must be a string, not an integer" },
	{ "{\"boot-source\": \"vmlinux\"}",
	  "t.json:1:17: boot-source: must be an object, not a string" },
	{ "{\"machine-config\": null}",
	  "t.json:1:20: machine-config: must be an object, not null" },
	{ "{\"vsock\": []}",
	  "t.json:1:11: vsock: must be an object, not an array" },
	{ "{\"x-vmm\": true}",
	  "t.json:1:11: x-vmm: must be an object, not true" },
	{ "{\"metrics\": \"m.json\"}",
	  "t.json:1:13: metrics: must be an object, not a string" },
	{ "{\"metrics\": {\"metrics_path\": 1}}",
	  "t.json:1:30: metrics.metrics_path: must be a string, not an integer" },
};

static const struct bad_case semantic_cases[] = {
	{ "{\n  \"machine-config\": {\n    \"vcpu_count\": 0\n  }\n}",
	  "t.json:3:19: machine-config.vcpu_count: 0 is out of range 1..254" },
	{ "{\n  \"machine-config\": {\n    \"vcpu_count\": 255\n  }\n}",
	  "t.json:3:19: machine-config.vcpu_count: 255 is out of range 1..254" },
	{ "{\n  \"machine-config\": {\n    \"vcpu_count\": -1\n  }\n}",
	  "t.json:3:19: machine-config.vcpu_count: -1 is out of range 1..254" },
	{ "{\n  \"machine-config\": {\n    \"vcpu_count\": 9223372036854775807\n  }\n}",
	  "t.json:3:19: machine-config.vcpu_count: 9223372036854775807 is out of range 1..254" },
	{ "{\n  \"machine-config\": {\n    \"mem_size_mib\": 15\n  }\n}",
	  "t.json:3:21: machine-config.mem_size_mib: 15 is out of range 16..1048576" },
	{ "{\n  \"machine-config\": {\n    \"mem_size_mib\": 1048577\n  }\n}",
	  "t.json:3:21: machine-config.mem_size_mib: 1048577 is out of range 16..1048576" },
	{ "{\n  \"machine-config\": {\n    \"mem_size_mib\": -16\n  }\n}",
	  "t.json:3:21: machine-config.mem_size_mib: -16 is out of range 16..1048576" },
	{ "{\n  \"vsock\": {\n    \"guest_cid\": 0\n  }\n}",
	  "t.json:3:18: vsock.guest_cid: 0 is out of range 3..4294967294 (0, 1, 2 and 4294967295 are reserved)" },
	{ "{\n  \"vsock\": {\n    \"guest_cid\": 1\n  }\n}",
	  "t.json:3:18: vsock.guest_cid: 1 is out of range 3..4294967294 (0, 1, 2 and 4294967295 are reserved)" },
	{ "{\n  \"vsock\": {\n    \"guest_cid\": 2\n  }\n}",
	  "t.json:3:18: vsock.guest_cid: 2 is out of range 3..4294967294 (0, 1, 2 and 4294967295 are reserved)" },
	{ "{\n  \"vsock\": {\n    \"guest_cid\": 4294967295\n  }\n}",
	  "t.json:3:18: vsock.guest_cid: 4294967295 is out of range 3..4294967294 (0, 1, 2 and 4294967295 are reserved)" },
	{ "{\n  \"vsock\": {\n    \"guest_cid\": 4294967296\n  }\n}",
	  "t.json:3:18: vsock.guest_cid: 4294967296 is out of range 3..4294967294 (0, 1, 2 and 4294967295 are reserved)" },
	{ "{\n  \"vsock\": {\n    \"guest_cid\": -3\n  }\n}",
	  "t.json:3:18: vsock.guest_cid: -3 is out of range 3..4294967294 (0, 1, 2 and 4294967295 are reserved)" },
	{ "{\n  \"machine-config\": {\n    \"smt\": true\n  }\n}",
	  "t.json:3:12: machine-config.smt: must be false: SMT is not supported" },
	{ "{\n  \"boot-source\": {\n    \"kernel_image_path\": \"\"\n  }\n}",
	  "t.json:3:26: boot-source.kernel_image_path: path must not be empty" },
	{ "{\n  \"boot-source\": {\n    \"initrd_path\": \"\"\n  }\n}",
	  "t.json:3:20: boot-source.initrd_path: path must not be empty" },
	{ "{\n  \"vsock\": {\n    \"uds_path\": \"\"\n  }\n}",
	  "t.json:3:17: vsock.uds_path: path must not be empty" },
	{ "{\n  \"x-vmm\": {\n    \"discovery\": \"acpi\"\n  }\n}",
	  "t.json:3:18: x-vmm.discovery: \"acpi\" is not \"cmdline\" or \"fdt\"" },
	{ "{\n  \"x-vmm\": {\n    \"discovery\": \"FDT\"\n  }\n}",
	  "t.json:3:18: x-vmm.discovery: \"FDT\" is not \"cmdline\" or \"fdt\"" },
	{ "{\"x-vmm\": {\"vsock_socket_group\": \"\"}}",
	  "t.json:1:34: x-vmm.vsock_socket_group: must not be empty" },
	{ "{\n  \"x-vmm\": {\n    \"notify\": \"irq\"\n  }\n}",
	  "t.json:3:15: x-vmm.notify: \"irq\" is not \"ioeventfd\" or \"mmio\"" },
	{ "{\n  \"boot-source\": {},\n  \"bogus\": 1\n}",
	  "t.json:3:3: unknown key \"bogus\" at top level" },
	{ "{\n  \"machine-config\": {\n    \"vcpu_count\": 1,\n    \"vcpus\": 2\n  }\n}",
	  "t.json:4:5: unknown key \"vcpus\" in \"machine-config\"" },
	{ "{\"vsock\": {\"guest_cid\": 3, \"cid\": 3}}",
	  "t.json:1:28: unknown key \"cid\" in \"vsock\"" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": []}",
	  "t.json:1:45: unknown key \"drives\" at top level" },
	{ "{\"x-vmm\": {\"boot_args\": \"x\"}}",
	  "t.json:1:12: unknown key \"boot_args\" in \"x-vmm\"" },
	{ "{\"metrics\": {\"metrics_path\": \"m\", \"period\": 1}}",
	  "t.json:1:35: unknown key \"period\" in \"metrics\"" },
	{ "{\"metrics\": {\"metrics_path\": \"\"}}",
	  "t.json:1:30: metrics.metrics_path: path must not be empty" },
	{ "{\"machine-config\": {\"vcpu\\u005fcount\": 0}}",
	  "t.json:1:40: machine-config.vcpu_count: 0 is out of range 1..254" },
	{ "{\"boot-source\": {\"boot_args\": \"}{\\\"[\"}, \"b\\u00e9d\": 1}",
	  "t.json:1:41: unknown key \"béd\" at top level" },
	{ "{\n\"machine-config\": {\"smt\": false},\n\t\"bad\\nkey\": 1}",
	  "t.json:3:2: unknown key \"bad?key\" at top level" },
	{ "{\"boot-source\": {\"boot_args\": \"a}\\\"{[,\", \"kernel_image_path\": \"éé\"}, \"machine-config\": {\"mem_size_mib\": 1}}",
	  "t.json:1:105: machine-config.mem_size_mib: 1 is out of range 16..1048576" },
	{ "[1, 2]",
	  "t.json:1:1: top level must be an object, not an array" },
	{ "\n\n   \"str\"",
	  "t.json:3:4: top level must be an object, not a string" },
	{ "  42",
	  "t.json:1:3: top level must be an object, not an integer" },
};

/* ---- the locator ---- */

#define K(k) { .key = (k) }
#define I(i) { .key = NULL, .index = (i) }

static struct config_json_pos kpos, vpos;

static int locate(const char *text, const struct config_json_step *path, size_t n)
{
	kpos = vpos = (struct config_json_pos){ 0, 0 };
	return config_json_locate(text, strlen(text), path, n, &kpos, &vpos);
}

#define ck_pos(p, l, col) do {						\
	ck_assert_int_eq((p).line, (l));				\
	ck_assert_int_eq((p).column, (col));				\
} while (0)

static const struct bad_case fwd_cases[] = {
	{ "{\"vsock\": {\"forward_out\": [5]}}",
	  "t.json:1:28: vsock.forward_out[0]: must be an object, not an integer" },
	{ "{\"vsock\": {\"forward_out\": {}}}",
	  "t.json:1:27: vsock.forward_out: must be an array, not an object" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 4294967295, \"tcp\": \"127.0.0.1:1\"}]}}",
	  "t.json:1:37: vsock.forward_out[0].port: 4294967295 is out of range 0..4294967294" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": -1, \"tcp\": \"127.0.0.1:1\"}]}}",
	  "t.json:1:37: vsock.forward_out[0].port: -1 is out of range 0..4294967294" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": \"1\", \"tcp\": \"127.0.0.1:1\"}]}}",
	  "t.json:1:37: vsock.forward_out[0].port: must be an integer, not a string" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"tcp\": \"example.com:80\"}]}}",
	  "t.json:1:47: vsock.forward_out[0].tcp: \"example.com:80\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"tcp\": \"127.0.0.1:0\"}]}}",
	  "t.json:1:47: vsock.forward_out[0].tcp: \"127.0.0.1:0\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"tcp\": \"127.0.0.1:65536\"}]}}",
	  "t.json:1:47: vsock.forward_out[0].tcp: \"127.0.0.1:65536\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"tcp\": \"::1:80\"}]}}",
	  "t.json:1:47: vsock.forward_out[0].tcp: \"::1:80\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"tcp\": \"127.0.0.1\"}]}}",
	  "t.json:1:47: vsock.forward_out[0].tcp: \"127.0.0.1\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_out\": [{\"tcp\": \"127.0.0.1:1\"}]}}",
	  "t.json:1:28: vsock.forward_out[0]: missing \"port\" (the guest's vsock port)" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"tcp\": \"127.0.0.1:1\", \"unix\": \"/x\"}]}}",
	  "t.json:1:28: vsock.forward_out[0]: needs exactly one of \"tcp\", \"udp\" and \"unix\"" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1}]}}",
	  "t.json:1:28: vsock.forward_out[0]: needs exactly one of \"tcp\", \"udp\" and \"unix\"" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"udp\": \"127.0.0.1:1\", \"tcp\": \"127.0.0.1:1\"}]}}",
	  "t.json:1:28: vsock.forward_out[0]: needs exactly one of \"tcp\", \"udp\" and \"unix\"" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"udp\": \"x\"}]}}",
	  "t.json:1:47: vsock.forward_out[0].udp: \"x\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"udp\": \"example.com:53\"}]}}",
	  "t.json:1:47: vsock.forward_out[0].udp: \"example.com:53\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"udp\": 53}]}}",
	  "t.json:1:47: vsock.forward_out[0].udp: must be a string, not an integer" },
	{ "{\n  \"vsock\": {\n    \"forward_out\": [\n      {\"port\": 53, \"udp\": \"127.0.0.1:53\"},\n      {\"port\": 53, \"udp\": \"127.0.0.1:54\"}\n    ]\n  }\n}",
	  "t.json:5:16: vsock.forward_out[1].port: port 53 is already forwarded by vsock.forward_out[0]" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 3221225472, \"udp\": \"127.0.0.1:53\"}]}}",
	  "t.json:1:37: vsock.forward_out[0].port: port 3221225472 is a host port of the udp forward_in clients (3221225472..3221291007), not for a udp forward_out" },
	{ "{\"vsock\": {\"forward_in\": [{\"udp\": \"127.0.0.1:7000\", \"port\": 1}, {\"udp\": \"localhost:7000\", \"port\": 2}]}}",
	  "t.json:1:73: vsock.forward_in[1].udp: udp:127.0.0.1:7000 is already a listener (vsock.forward_in[0])" },
	{ "{\"vsock\": {\"forward_in\": [{\"udp\": \"[::1]:x\", \"port\": 1}]}}",
	  "t.json:1:35: vsock.forward_in[0].udp: \"[::1]:x\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_out\": [{\"port\": 1, \"unix\": \"\"}]}}",
	  "t.json:1:48: vsock.forward_out[0].unix: path must not be empty" },
	{ "{\n  \"vsock\": {\n    \"forward_out\": [\n      {\"port\": 5000, \"tcp\": \"127.0.0.1:5000\"},\n      {\"port\": 5000, \"unix\": \"/run/x.sock\"}\n    ]\n  }\n}",
	  "t.json:5:16: vsock.forward_out[1].port: port 5000 is already forwarded by vsock.forward_out[0]" },
	{ "{\n  \"vsock\": {\n    \"forward_in\": [\n      {\"tcp\": \"127.0.0.1:2222\", \"port\": 22},\n      { \"tcp\" : \"127.0.0.1:2222\", \"port\": 23}\n    ]\n  }\n}",
	  "t.json:5:17: vsock.forward_in[1].tcp: tcp:127.0.0.1:2222 is already a listener (vsock.forward_in[0])" },
	{ "{\"vsock\": {\"forward_in\": [{\"unix\": \"/tmp/a.sock\", \"port\": 1}, {\"unix\": \"/tmp/a.sock\", \"port\": 2}]}}",
	  "t.json:1:72: vsock.forward_in[1].unix: unix:/tmp/a.sock is already a listener (vsock.forward_in[0])" },
	{ "{\"vsock\": {\"forward_in\": [{\"tcp\": \"localhost:22\", \"port\": 1}, {\"tcp\": \"127.0.0.1:22\", \"port\": 2}]}}",
	  "t.json:1:71: vsock.forward_in[1].tcp: tcp:127.0.0.1:22 is already a listener (vsock.forward_in[0])" },
	{ "{\"vsock\": {\"forward_in\": [{\"tcp\": \"[::1]:22\", \"port\": 1}, {\"tcp\": \"[::1]:x\", \"port\": 2}]}}",
	  "t.json:1:67: vsock.forward_in[1].tcp: \"[::1]:x\" is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ "{\"vsock\": {\"forward_in\": [[]]}}",
	  "t.json:1:27: vsock.forward_in[0]: must be an object, not an array" },
	{ "{\"vsock\": {\"max_connections\": 0}}",
	  "t.json:1:31: vsock.max_connections: 0 is out of range 1..1048576" },
	{ "{\"vsock\": {\"max_connections\": 1048577}}",
	  "t.json:1:31: vsock.max_connections: 1048577 is out of range 1..1048576" },
	{ "{\"vsock\": {\"max_connections\": \"10\"}}",
	  "t.json:1:31: vsock.max_connections: must be an integer, not a string" },
};


START_TEST(locate_nested)
{
	const char *t = "{\n"
			"  \"boot-source\": {\"kernel_image_path\": \"k\"},\n"
			"  \"machine-config\": {\n"
			"    \"mem_size_mib\": 64,\n"
			"    \"vcpu_count\":\t2\n"
			"  }\n"
			"}\n";
	const struct config_json_step p[] = { K("machine-config"), K("vcpu_count") };

	ck_assert_int_eq(locate(t, p, 2), 0);
	ck_pos(kpos, 5, 5);
	ck_pos(vpos, 5, 19);
	ck_assert_int_eq(locate(t, p, 1), 0);
	ck_pos(kpos, 3, 3);
	ck_pos(vpos, 3, 21);
}
END_TEST

START_TEST(locate_root)
{
	ck_assert_int_eq(locate(" \n\t {}", NULL, 0), 0);
	ck_pos(kpos, 2, 3);
	ck_pos(vpos, 2, 3);
	ck_assert_int_eq(locate("   ", NULL, 0), -ENOENT);
	ck_assert_int_eq(locate("", NULL, 0), -ENOENT);
}
END_TEST

START_TEST(locate_missing)
{
	const char *t = "{\"a\": {\"b\": 1}, \"c\": [1, 2], \"d\": {}}";
	const struct config_json_step ab[] = { K("a"), K("x") };
	const struct config_json_step x[] = { K("x") };
	const struct config_json_step cb[] = { K("c"), K("b") };
	const struct config_json_step c5[] = { K("c"), I(2) };
	const struct config_json_step ai[] = { K("a"), I(0) };
	const struct config_json_step d[] = { K("d"), K("a") };
	const struct config_json_step b[] = { K("b") }; /* only nested */

	ck_assert_int_eq(locate(t, ab, 2), -ENOENT);
	ck_assert_int_eq(locate(t, x, 1), -ENOENT);
	ck_assert_int_eq(locate(t, cb, 2), -ENOENT);
	ck_assert_int_eq(locate(t, c5, 2), -ENOENT);
	ck_assert_int_eq(locate(t, ai, 2), -ENOENT);
	ck_assert_int_eq(locate(t, d, 2), -ENOENT);
	ck_assert_int_eq(locate(t, b, 1), -ENOENT);
	ck_assert_int_eq(locate("[]", x, 1), -ENOENT);
	ck_assert_int_eq(locate("\"a\"", x, 1), -ENOENT);
}
END_TEST

/* Only the member at the right depth matches, never a nested one, a prefix,
 * or a string value with the same text. */
START_TEST(locate_right_member)
{
	const char *t = "{\"x\": {\"b\": 1}, \"y\": \"b\", \"bb\": 0, \"b\": 2}";
	const struct config_json_step b[] = { K("b") };
	const struct config_json_step xb[] = { K("x"), K("b") };

	ck_assert_int_eq(locate(t, b, 1), 0);
	ck_pos(kpos, 1, 36);
	ck_pos(vpos, 1, 41);
	ck_assert_int_eq(locate(t, xb, 2), 0);
	ck_pos(kpos, 1, 8);
	ck_pos(vpos, 1, 13);
}
END_TEST

/* Strings holding brackets, commas, colons, escaped quotes and backslashes
 * are skipped as strings. */
START_TEST(locate_skips_tricky_strings)
{
	const char *t = "{\"s\": \"}]{[,:\\\"\\\\\", \"o\": {\"\\\"}\": [\"]\", {}]}, "
			"\"k\": true}";
	const struct config_json_step k[] = { K("k") };

	ck_assert_int_eq(locate(t, k, 1), 0);
	ck_pos(kpos, 1, 46);
	ck_pos(vpos, 1, 51);
}
END_TEST

START_TEST(locate_escaped_keys)
{
	const struct config_json_step p[] = { K("vcpu_count") };
	const struct config_json_step q[] = { K("a\"b\\c/d\n\t") };
	const struct config_json_step e[] = { K("\xc3\xa9\xf0\x9f\x98\x80") }; /* é😀 */

	ck_assert_int_eq(locate("{\"vcpu\\u005Fcount\": 1}", p, 1), 0);
	ck_pos(vpos, 1, 21);
	ck_assert_int_eq(locate("{\"vcpu_coun\": 0, \"vcpu_countt\": 0}", p, 1), -ENOENT);
	ck_assert_int_eq(locate("{\"a\\\"b\\\\c\\/d\\n\\t\": 7}", q, 1), 0);
	ck_pos(vpos, 1, 20);
	ck_assert_int_eq(locate("{\"\\u00e9\\ud83d\\ude00\": 7}", e, 1), 0);
	ck_pos(vpos, 1, 24);
	ck_assert_int_eq(locate("{\"\xc3\xa9\xf0\x9f\x98\x80\": 7}", e, 1), 0);
	ck_pos(vpos, 1, 8);
}
END_TEST

START_TEST(locate_arrays)
{
	const char *t = "{\"a\": [1, \"x,]\", {\"b\": [[], {\"c\": null}]}]}";
	const struct config_json_step p[] = { K("a"), I(2), K("b"), I(1), K("c") };
	const struct config_json_step q[] = { K("a"), I(1) };

	ck_assert_int_eq(locate(t, p, 5), 0);
	ck_pos(kpos, 1, 30);
	ck_pos(vpos, 1, 35);
	ck_assert_int_eq(locate(t, q, 2), 0);
	ck_pos(kpos, 1, 11);
	ck_pos(vpos, 1, 11);
}
END_TEST

/* Truncated or broken text: -1, never a read past the end (ASan checks).
 * In `full` the value of b is at offset 45 and the value of q at 35. */
START_TEST(locate_truncated)
{
	const char *full = "{\"a\": {\"s\": \"x\\\"y\", \"n\": [1, {\"q\": 2}], \"b\": 1}}";
	const struct config_json_step p[] = { K("a"), K("b") };
	const struct config_json_step q[] = { K("a"), K("n"), I(1), K("q") };
	size_t len = strlen(full);

	for (size_t n = 0; n < len; n++) {
		char *t = malloc(n ? n : 1); /* exactly n bytes, no NUL */
		struct config_json_pos v;
		int rb, rq;

		memcpy(t, full, n);
		rb = config_json_locate(t, n, p, 2, NULL, &v);
		rq = config_json_locate(t, n, q, 4, NULL, &v);
		free(t);
		ck_assert_int_eq(rb, n >= len - 2 ? 0 : -ENOENT);
		ck_assert_int_eq(rq, n >= 36 ? 0 : -ENOENT);
	}
	ck_assert_int_eq(locate("{\"a\": \"\\u12", p, 2), -ENOENT);
	ck_assert_int_eq(locate("{\"a\" 1, \"b\": 2}", p, 1), -ENOENT);
}
END_TEST

/* Our columns count like jansson's: a one-character bad token after
 * multi-byte UTF-8 text, tabs and CRs is reported by jansson at the column
 * where the locator finds that value. */
START_TEST(locate_columns_match_jansson)
{
	static const char *const texts[] = {
		"{\"\xc3\xa9\xf0\x9f\x98\x80\": x}",
		"{\r\n\t\"k\": \"\xe2\x82\xac\", \"\xe6\x97\xa5\xe6\x9c\xac\":\tx}",
		"{\n  \"a\": {\"b\": \"\xc3\xa9\\u00e9\"},\n\n      \"z\": x}",
	};
	static const char *const keys[] = {
		"\xc3\xa9\xf0\x9f\x98\x80", "\xe6\x97\xa5\xe6\x9c\xac", "z",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const struct config_json_step p[] = { K(keys[i]) };
		json_error_t je;
		json_t *j = json_loads(texts[i], 0, &je);

		ck_assert_ptr_null(j);
		ck_assert_int_eq(locate(texts[i], p, 1), 0);
		ck_assert_int_eq(vpos.line, je.line);
		ck_assert_int_eq(vpos.column, je.column);
	}
}
END_TEST

/* ---- loading: values ---- */

static const char full_json[] =
	"{\n"
	"  \"boot-source\": {\n"
	"    \"kernel_image_path\": \"/images/vmlinux\",\n"
	"    \"initrd_path\": \"/images/initrd.cpio\",\n"
	"    \"boot_args\": \"console=ttyS0 quiet\"\n"
	"  },\n"
	"  \"machine-config\": {\n"
	"    \"vcpu_count\": 4,\n"
	"    \"mem_size_mib\": 256,\n"
	"    \"smt\": false,\n"
	"    \"track_dirty_pages\": true\n"
	"  },\n"
	"  \"vsock\": {\n"
	"    \"vsock_id\": \"vsock0\",\n"
	"    \"guest_cid\": 3,\n"
	"    \"uds_path\": \"/run/vm/v.sock\"\n"
	"  },\n"
	"  \"x-vmm\": {\"discovery\": \"fdt\"}\n"
	"}\n";

START_TEST(defaults)
{
	ck_assert_ptr_null(c.kernel_path);
	ck_assert_ptr_null(c.initrd_path);
	ck_assert_ptr_null(c.cmdline);
	ck_assert_ptr_null(c.uds_path);
	ck_assert_uint_eq(c.vcpus, CONFIG_DEFAULT_VCPUS);
	ck_assert_uint_eq(c.mem_mib, CONFIG_DEFAULT_MEM_MIB);
	ck_assert_int_eq(c.discovery, DISCOVERY_CMDLINE);
	ck_assert(!c.has_vsock);
	ck_assert_uint_eq(c.guest_cid, 0);
	ck_assert(!c.trace_boot);
}
END_TEST

START_TEST(full_config)
{
	ck_load_ok(full_json);
	ck_assert_str_eq(c.kernel_path, "/images/vmlinux");
	ck_assert_str_eq(c.initrd_path, "/images/initrd.cpio");
	ck_assert_str_eq(c.cmdline, "console=ttyS0 quiet");
	ck_assert_uint_eq(c.vcpus, 4);
	ck_assert_uint_eq(c.mem_mib, 256);
	ck_assert(c.has_vsock);
	ck_assert_uint_eq(c.guest_cid, 3);
	ck_assert_str_eq(c.uds_path, "/run/vm/v.sock");
	ck_assert_int_eq(c.discovery, DISCOVERY_FDT);
	ck_assert(!c.trace_boot);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(empty_object_keeps_defaults)
{
	ck_load_ok(" { } ");
	ck_assert_ptr_null(c.kernel_path);
	ck_assert_uint_eq(c.vcpus, CONFIG_DEFAULT_VCPUS);
	ck_assert_uint_eq(c.mem_mib, CONFIG_DEFAULT_MEM_MIB);
	ck_assert(!c.has_vsock);
	ck_load_ok("{\"boot-source\": {}, \"machine-config\": {}, \"x-vmm\": {}}");
	ck_assert(!c.has_vsock);
}
END_TEST

START_TEST(range_limits_accepted)
{
	ck_load_ok("{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 16}}");
	ck_assert_uint_eq(c.vcpus, 1);
	ck_assert_uint_eq(c.mem_mib, 16);
	ck_load_ok("{\"machine-config\": {\"vcpu_count\": 254, \"mem_size_mib\": 1048576}}");
	ck_assert_uint_eq(c.vcpus, 254);
	ck_assert_uint_eq(c.mem_mib, 1048576);
	ck_load_ok("{\"vsock\": {\"guest_cid\": 4294967294}}");
	ck_assert_uint_eq(c.guest_cid, 0xfffffffe);
	ck_load_ok("{\"vsock\": {\"guest_cid\": 3}}");
	ck_assert_uint_eq(c.guest_cid, 3);
	ck_load_ok("{\"x-vmm\": {\"discovery\": \"cmdline\"}}");
	ck_assert_int_eq(c.discovery, DISCOVERY_CMDLINE);
	ck_load_ok("{\"boot-source\": {\"boot_args\": \"\"}}");
	ck_assert_str_eq(c.cmdline, "");
}
END_TEST

/* Loads merge: later files override only the keys they name. */
START_TEST(merge_and_null_initrd)
{
	ck_load_ok(full_json);
	ck_load_ok("{\"machine-config\": {\"vcpu_count\": 2}}");
	ck_assert_uint_eq(c.vcpus, 2);
	ck_assert_uint_eq(c.mem_mib, 256);
	ck_assert_str_eq(c.kernel_path, "/images/vmlinux");
	ck_load_ok("{\"boot-source\": {\"initrd_path\": null}}");
	ck_assert_ptr_null(c.initrd_path);
	ck_assert_str_eq(c.kernel_path, "/images/vmlinux");
}
END_TEST

/* smt false and track_dirty_pages / vsock_id are accepted and change nothing. */
START_TEST(accepted_ignored_keys)
{
	ck_load_ok("{\"machine-config\": {\"smt\": false, \"track_dirty_pages\": false},"
		   " \"vsock\": {\"vsock_id\": \"\"}}");
	ck_assert_uint_eq(c.vcpus, CONFIG_DEFAULT_VCPUS);
	ck_assert(c.has_vsock);
	ck_assert_uint_eq(c.guest_cid, 0);
}
END_TEST

/* The sandbox keys: seccomp on by default, off with false; a socket group. */
START_TEST(sandbox_keys)
{
	ck_assert(!c.no_seccomp);
	ck_assert_ptr_null(c.vsock_socket_group);
	ck_load_ok("{\"x-vmm\": {\"seccomp\": true}}");
	ck_assert(!c.no_seccomp);
	ck_load_ok("{\"x-vmm\": {\"seccomp\": false, \"vsock_socket_group\": \"agents\"}}");
	ck_assert(c.no_seccomp);
	ck_assert_str_eq(c.vsock_socket_group, "agents");
	/* Kept across a later load that does not name them. */
	ck_load_ok("{\"machine-config\": {\"vcpu_count\": 2}}");
	ck_assert(c.no_seccomp);
	ck_assert_str_eq(c.vsock_socket_group, "agents");
}
END_TEST

/* A failed load leaves the config exactly as it was. */
START_TEST(error_leaves_config_unchanged)
{
	char *kernel, *initrd, *cmdline, *uds;

	ck_load_ok(full_json);
	kernel = c.kernel_path;
	initrd = c.initrd_path;
	cmdline = c.cmdline;
	uds = c.uds_path;
	ck_assert_int_eq(load("{\"boot-source\": {\"kernel_image_path\": \"/other\","
			      " \"initrd_path\": null, \"boot_args\": \"x\"},"
			      " \"machine-config\": {\"vcpu_count\": 8, \"mem_size_mib\": 8}}"), -EINVAL);
	ck_assert_ptr_eq(c.kernel_path, kernel);
	ck_assert_ptr_eq(c.initrd_path, initrd);
	ck_assert_ptr_eq(c.cmdline, cmdline);
	ck_assert_ptr_eq(c.uds_path, uds);
	ck_assert_str_eq(c.kernel_path, "/images/vmlinux");
	ck_assert_uint_eq(c.vcpus, 4);
	ck_assert_uint_eq(c.mem_mib, 256);
}
END_TEST

/* ---- loading: errors ---- */

START_TEST(wrong_types)
{
	ck_load_err(type_cases[_i].json, type_cases[_i].msg);
}
END_TEST

START_TEST(semantic_errors)
{
	ck_load_err(semantic_cases[_i].json, semantic_cases[_i].msg);
}
END_TEST

START_TEST(syntax_errors)
{
	ck_load_err("{\n  \"abc\" 1}", "t.json:2:9: ':' expected near '1'");
	ck_load_err("{\"machine-config\": {\"vcpu_count\": 1,}}",
		    "t.json:1:37: string or '}' expected near '}'");
	ck_load_err("{\"a\":\n  tru}", "t.json:2:5: invalid token near 'tru'");
	ck_load_err("{} x", "t.json:1:4: end of file expected near 'x'");
	ck_load_err("{\"boot-source\": {\"boot_args\": \"\xff\"}}",
		    "t.json:1:31: unable to decode byte 0xff near '\"'");
	ck_load_err("{\"boot-source\": {\"boot_args\": \"a\\u0000\"}}",
		    "t.json:1:39: \\u0000 is not allowed without JSON_ALLOW_NUL near "
		    "'\"a\\u0000\"'");
	ck_load_err("{\"machine-config\": {\"mem_size_mib\": 99999999999999999999}}",
		    "t.json:1:56: too big integer near '99999999999999999999'");
}
END_TEST

START_TEST(truncated)
{
	ck_load_err("{\"machine-config\": {\"vcpu_count\": 2",
		    "t.json:1:35: '}' expected near end of file");
	ck_load_err("{\n  \"machine-config\": {\n    \"vcpu_count\": 2,\n",
		    "t.json:4:1: string or '}' expected near end of file");
}
END_TEST

START_TEST(empty_input)
{
	ck_load_err("", "t.json:1:1: empty file, expected a JSON object");
	ck_load_err(" \n\n", "t.json:3:1: empty file, expected a JSON object");
}
END_TEST

START_TEST(duplicate_keys)
{
	ck_load_err("{\"machine-config\": {\"vcpu_count\": 1, \"vcpu_count\": 2}}",
		    "t.json:1:49: duplicate object key near '\"vcpu_count\"'");
	ck_load_err("{\"vsock\": {},\n \"vsock\": {}}",
		    "t.json:2:8: duplicate object key near '\"vsock\"'");
}
END_TEST

/* Whatever the file holds, the message is one line. */
START_TEST(messages_are_one_line)
{
	static const char *const bad[] = {
		"{\"a\\nb\": 1}",
		"{\"x-vmm\": {\"discovery\": \"a\\nb\\r\"}}",
		"{\"\\u001b[31m\": 1}",
		"{\"a\" \n\n 1}",
		"{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(load(bad[i]), -EINVAL);
		ck_assert(strlen(err) > 0);
		for (const char *p = err; *p; p++)
			ck_assert_msg((unsigned char)*p >= 0x20, "control char in \"%s\"", err);
	}
	ck_load_err("{\"a\\nb\": 1}", "t.json:1:2: unknown key \"a?b\" at top level");
}
END_TEST

/* A tiny err buffer truncates the message safely. */
START_TEST(small_err_buffer)
{
	char small[8];
	const char *j = "{\"bogus\": 1}";

	ck_assert_int_eq(config_load_json_buf(&c, "t.json", j, strlen(j), small,
					      sizeof(small)), -EINVAL);
	ck_assert_str_eq(small, "t.json:");
	ck_assert_int_eq(config_load_json_buf(&c, "t.json", j, strlen(j), NULL, 0), -EINVAL);
}
END_TEST

/* ---- relative paths ---- */

static int load_named(const char *name, const char *json)
{
	return config_load_json_buf(&c, name, json, strlen(json), err, sizeof(err));
}

static const char paths_json[] =
	"{\"boot-source\": {\"kernel_image_path\": \"vmlinux\","
	" \"initrd_path\": \"../img/initrd\"},"
	" \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/run/v.sock\"}}";

START_TEST(relative_paths)
{
	ck_assert_int_eq(load_named("cfg/vm.json", paths_json), 0);
	ck_assert_str_eq(c.kernel_path, "cfg/vmlinux");
	ck_assert_str_eq(c.initrd_path, "cfg/../img/initrd");
	ck_assert_str_eq(c.uds_path, "/run/v.sock");

	ck_assert_int_eq(load_named("/etc/vmm/vm.json", paths_json), 0);
	ck_assert_str_eq(c.kernel_path, "/etc/vmm/vmlinux");
	ck_assert_int_eq(load_named("vm.json", paths_json), 0);
	ck_assert_str_eq(c.kernel_path, "vmlinux");
	ck_assert_int_eq(load_named("./vm.json", paths_json), 0);
	ck_assert_str_eq(c.kernel_path, "./vmlinux");
	ck_assert_int_eq(load_named("/vm.json", paths_json), 0);
	ck_assert_str_eq(c.kernel_path, "/vmlinux");
	ck_assert_str_eq(c.initrd_path, "/../img/initrd");
	ck_assert_int_eq(load_named("a//b//vm.json", paths_json), 0);
	ck_assert_str_eq(c.kernel_path, "a//b/vmlinux");
	ck_assert_int_eq(load_named("//vm.json", paths_json), 0);
	ck_assert_str_eq(c.kernel_path, "/vmlinux");

	ck_assert_int_eq(load_named("cfg/vm.json",
		"{\"vsock\": {\"uds_path\": \"v.sock\"}}"), 0);
	ck_assert_str_eq(c.uds_path, "cfg/v.sock");
	ck_assert_int_eq(load_named("cfg/vm.json",
		"{\"metrics\": {\"metrics_path\": \"m.json\"}}"), 0);
	ck_assert_str_eq(c.metrics_path, "cfg/m.json");
}
END_TEST

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void file_setup(void)
{
	setup();
	strcpy(tmpdir, "/tmp/test_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void file_teardown(void)
{
	nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	teardown();
}

/* Writes dir/name and returns its path (static buffer). */
static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

START_TEST(file_ok_and_relative)
{
	char want[320];
	const char *p = write_file("vm.json", paths_json, strlen(paths_json));

	ck_assert_msg(config_load_json(&c, p, err, sizeof(err)) == 0, "%s", err);
	snprintf(want, sizeof(want), "%s/vmlinux", tmpdir);
	ck_assert_str_eq(c.kernel_path, want);
	snprintf(want, sizeof(want), "%s/../img/initrd", tmpdir);
	ck_assert_str_eq(c.initrd_path, want);
	ck_assert_str_eq(c.uds_path, "/run/v.sock");
}
END_TEST

START_TEST(file_errors)
{
	char want[320];
	const char *p;

	snprintf(want, sizeof(want), "%s/nope.json", tmpdir);
	ck_assert_int_eq(config_load_json(&c, want, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/nope.json: cannot open: No such file or directory",
		 tmpdir);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(config_load_json(&c, tmpdir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: cannot open: Is a directory", tmpdir);
	ck_assert_str_eq(err, want);

	p = write_file("plain", "{}", 2);
	snprintf(want, sizeof(want), "%s/vm.json", p);
	ck_assert_int_eq(config_load_json(&c, want, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/plain/vm.json: cannot open: Not a directory", tmpdir);
	ck_assert_str_eq(err, want);

	p = write_file("trunc.json", "{\n  \"machine-config\": {\"vcpu_count\": 2", 38);
	ck_assert_int_eq(config_load_json(&c, p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/trunc.json:2:36: '}' expected near end of file",
		 tmpdir);
	ck_assert_str_eq(err, want);

	p = write_file("bad.json", "{\"vsock\": {\"guest_cid\": 2}}", 27);
	ck_assert_int_eq(config_load_json(&c, p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/bad.json:1:25: vsock.guest_cid: 2 is out of range "
		 "3..4294967294 (0, 1, 2 and 4294967295 are reserved)", tmpdir);
	ck_assert_str_eq(err, want);
	ck_assert(!c.has_vsock);
}
END_TEST

START_TEST(file_unreadable)
{
	char want[320];
	const char *p = write_file("secret.json", "{}", 2);

	if (geteuid() == 0) {
		fprintf(stderr, "file_unreadable: skipped: root can read any file\n");
		return;
	}
	ck_assert_int_eq(chmod(p, 0), 0);
	ck_assert_int_eq(config_load_json(&c, p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: cannot open: Permission denied", p);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(file_too_large)
{
	size_t n = (1u << 20) + 1;
	char *big = malloc(n);
	char want[320];
	const char *p;

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	p = write_file("big.json", big, n);
	free(big);
	ck_assert_int_eq(config_load_json(&c, p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: too large (more than 1048576 bytes)", p);
	ck_assert_str_eq(err, want);
	/* just below the limit is fine */
	big = malloc(n - 1);
	memset(big, ' ', n - 1);
	big[0] = '{';
	big[n - 2] = '}';
	p = write_file("big.json", big, n - 1);
	free(big);
	ck_assert_msg(config_load_json(&c, p, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

/* ---- discovery names ---- */

START_TEST(parse_discovery)
{
	enum discovery d = DISCOVERY_FDT;

	ck_assert_int_eq(config_parse_discovery("cmdline", &d), 0);
	ck_assert_int_eq(d, DISCOVERY_CMDLINE);
	ck_assert_int_eq(config_parse_discovery("fdt", &d), 0);
	ck_assert_int_eq(d, DISCOVERY_FDT);
	ck_assert_int_eq(config_parse_discovery("", &d), -EINVAL);
	ck_assert_int_eq(config_parse_discovery("fdt ", &d), -EINVAL);
	ck_assert_int_eq(config_parse_discovery("acpi", &d), -EINVAL);
	ck_assert_int_eq(d, DISCOVERY_FDT);
}
END_TEST

/* ---- config_validate ---- */

static void valid_base(void)
{
	c.kernel_path = strdup("/k");
}

#define ck_invalid(msg) do {						\
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -EINVAL);	\
	ck_assert_str_eq(err, msg);					\
} while (0)

START_TEST(forward_errors)
{
	ck_load_err(fwd_cases[_i].json, fwd_cases[_i].msg);
	ck_assert_uint_eq(c.n_fwd_out, 0); /* all or nothing */
	ck_assert_uint_eq(c.n_fwd_in, 0);
}
END_TEST

/* vsock.peers: parsed, relative paths, per-element errors, validation. */
START_TEST(peers_parsed)
{
	static const char json[] =
		"{\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/run/vm3.sock\",\n"
		" \"peers\": [{\"cid\": 4, \"uds_path\": \"/run/vm4.sock\"},\n"
		"             {\"uds_path\": \"vm5.sock\", \"cid\": 5}]}}";

	ck_assert_int_eq(config_load_json_buf(&c, "/etc/vms/t.json", json, strlen(json),
					      err, sizeof(err)), 0);
	ck_assert_uint_eq(c.n_peers, 2);
	ck_assert_uint_eq(c.peers[0].cid, 4);
	ck_assert_str_eq(c.peers[0].path, "/run/vm4.sock");
	ck_assert_uint_eq(c.peers[1].cid, 5);
	ck_assert_str_eq(c.peers[1].path, "/etc/vms/vm5.sock");
	c.kernel_path = strdup("/k");
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
	/* A later file's list replaces the earlier one. */
	ck_load_ok("{\"vsock\": {\"peers\": [{\"cid\": 9, \"uds_path\": \"/x\"}]}}");
	ck_assert_uint_eq(c.n_peers, 1);
	ck_assert_uint_eq(c.peers[0].cid, 9);
}
END_TEST

static const struct bad_case peer_cases[] = {
	{ "{\"vsock\": {\"peers\": {}}}",
	  "t.json:1:21: vsock.peers: must be an array, not an object" },
	{ "{\"vsock\": {\"peers\": [4]}}",
	  "t.json:1:22: vsock.peers[0]: must be an object, not an integer" },
	{ "{\"vsock\": {\"peers\": [{\"cid\": 4}]}}",
	  "t.json:1:22: vsock.peers[0]: missing \"uds_path\" (the sibling VMM's vsock socket)" },
	{ "{\"vsock\": {\"peers\": [{\"uds_path\": \"/x\"}]}}",
	  "t.json:1:22: vsock.peers[0]: missing \"cid\" (the sibling VM's guest CID)" },
	{ "{\"vsock\": {\"peers\": [{\"cid\": 2, \"uds_path\": \"/x\"}]}}",
	  "t.json:1:30: vsock.peers[0].cid: 2 is out of range 3..4294967294" },
	{ "{\"vsock\": {\"peers\": [{\"cid\": 4294967295, \"uds_path\": \"/x\"}]}}",
	  "t.json:1:30: vsock.peers[0].cid: 4294967295 is out of range 3..4294967294" },
	{ "{\"vsock\": {\"peers\": [{\"cid\": 4, \"uds_path\": 5}]}}",
	  "t.json:1:45: vsock.peers[0].uds_path: must be a string, not an integer" },
	{ "{\"vsock\": {\"peers\": [{\"cid\": 4, \"uds_path\": \"/x\", \"tcp\": 1}]}}",
	  "t.json:1:51: unknown key \"tcp\" in \"vsock.peers[0]\"" },
	{ "{\"vsock\": {\"peers\": [{\"cid\": 4, \"uds_path\": \"/x\"}, "
	  "{\"cid\": 4, \"uds_path\": \"/y\"}]}}",
	  "t.json:1:60: vsock.peers[1].cid: CID 4 is already a peer (vsock.peers[0])" },
};

START_TEST(peer_errors)
{
	ck_load_err(peer_cases[_i].json, peer_cases[_i].msg);
	ck_assert_uint_eq(c.n_peers, 0); /* all or nothing */
}
END_TEST

START_TEST(peers_validated)
{
	char longp[120];

	memset(longp, 'p', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	c.kernel_path = strdup("/k");
	ck_assert_int_eq(config_peer_set(&c.peers, &c.n_peers, 4, "/run/vm4.sock"), 0);
	ck_invalid("vsock peers need the vsock device: use --vsock-cid N or the \"vsock\" section");
	c.has_vsock = true;
	c.guest_cid = 4;
	ck_invalid("vsock peer CID 4 is this VM's own CID");
	c.guest_cid = 3;
	c.uds_path = strdup("/run/vm4.sock");
	ck_invalid("vsock peer 4: /run/vm4.sock is this VM's own uds_path");
	free(c.uds_path);
	c.uds_path = NULL;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(config_peer_set(&c.peers, &c.n_peers, 2, "/x"), 0);
	ck_invalid("vsock peer CID 2 is reserved: use 3..4294967294");
	c.peers[1].cid = 5;
	ck_assert_int_eq(config_peer_set(&c.peers, &c.n_peers, 5, longp), 0); /* replaces */
	ck_assert_uint_eq(c.n_peers, 2);
	{
		char want[256];

		snprintf(want, sizeof(want), "vsock peer 5: socket path is too long "
			 "(119 bytes, 1..107): %s", longp);
		ck_invalid(want);
	}
	c.peers[1].cid = 4; /* bypassing config_peer_set */
	ck_invalid("vsock peer CID 4 is given twice");
}
END_TEST

START_TEST(forwards_parsed)
{
	static const char json[] =
		"{\"vsock\": {\"guest_cid\": 3, \"max_connections\": 100,\n"
		" \"forward_out\": [{\"port\": 5000, \"tcp\": \"127.0.0.1:5001\"},\n"
		"                 {\"port\": 6000, \"unix\": \"rel/x.sock\"},\n"
		"                 {\"port\": 7000, \"tcp\": \"[::1]:7001\"}],\n"
		" \"forward_in\": [{\"tcp\": \"localhost:2222\", \"port\": 22},\n"
		"                {\"unix\": \"/tmp/agent.sock\", \"port\": 1024}]}}";
	const struct sockaddr_in *a;
	const struct sockaddr_in6 *a6;
	char name[160];

	ck_assert_msg(config_load_json_buf(&c, "dir/t.json", json, strlen(json), err,
					   sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.max_conns, 100);
	ck_assert_uint_eq(c.n_fwd_out, 3);
	ck_assert_uint_eq(c.fwd_out[0].port, 5000);
	ck_assert_int_eq(c.fwd_out[0].kind, CONFIG_FWD_TCP);
	a = (const void *)&c.fwd_out[0].addr;
	ck_assert_int_eq(a->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(a->sin_port), 5001);
	ck_assert_uint_eq(ntohl(a->sin_addr.s_addr), 0x7f000001);
	ck_assert_int_eq(c.fwd_out[1].kind, CONFIG_FWD_UNIX);
	ck_assert_str_eq(c.fwd_out[1].path, "dir/rel/x.sock"); /* relative to the file */
	a6 = (const void *)&c.fwd_out[2].addr;
	ck_assert_int_eq(a6->sin6_family, AF_INET6);
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[2], name, sizeof(name)), "tcp:[::1]:7001");
	ck_assert_uint_eq(c.n_fwd_in, 2);
	ck_assert_str_eq(config_fwd_name(&c.fwd_in[0], name, sizeof(name)), "tcp:127.0.0.1:2222");
	ck_assert_uint_eq(c.fwd_in[0].port, 22);
	ck_assert_str_eq(c.fwd_in[1].path, "/tmp/agent.sock");
	ck_assert_uint_eq(c.fwd_in[1].port, 1024);
	/* An error in a second file leaves the first one's lists alone. */
	ck_load_err("{\"vsock\": {\"forward_out\": [5]}}",
		    "t.json:1:28: vsock.forward_out[0]: must be an object, not an integer");
	ck_assert_uint_eq(c.n_fwd_out, 3);
	ck_assert_uint_eq(c.n_fwd_in, 2);
}
END_TEST

/* UDP forwards: their own namespace of ports beside tcp/unix ones, kept
 * with where they were given; they need datagrams. */
START_TEST(udp_forwards_parsed)
{
	static const char json[] =
		"{\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/run/v.sock\",\n"
		" \"forward_out\": [{\"port\": 53, \"tcp\": \"127.0.0.1:53\"},\n"
		"                 {\"port\": 53, \"udp\": \"127.0.0.1:5353\"},\n"
		"                 {\"port\": 3221225471, \"udp\": \"[::1]:9\"}],\n"
		" \"forward_in\": [{\"tcp\": \"127.0.0.1:7000\", \"port\": 1},\n"
		"                {\"udp\": \"127.0.0.1:7000\", \"port\": 2}]}}";
	const struct sockaddr_in *a;
	char name[160];

	ck_load_ok(json);
	ck_assert_uint_eq(c.n_fwd_out, 3);
	ck_assert_int_eq(c.fwd_out[0].kind, CONFIG_FWD_TCP);
	ck_assert_int_eq(c.fwd_out[1].kind, CONFIG_FWD_UDP);
	ck_assert_uint_eq(c.fwd_out[1].port, 53);
	a = (const void *)&c.fwd_out[1].addr;
	ck_assert_uint_eq(ntohs(a->sin_port), 5353);
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[1], name, sizeof(name)), "udp:127.0.0.1:5353");
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[2], name, sizeof(name)), "udp:[::1]:9");
	ck_assert_str_eq(c.fwd_out[1].origin, "t.json:3:38: vsock.forward_out[1].udp");
	ck_assert_uint_eq(c.n_fwd_in, 2);
	ck_assert_int_eq(c.fwd_in[1].kind, CONFIG_FWD_UDP);
	ck_assert(!config_fwd_same_addr(&c.fwd_in[0], &c.fwd_in[1]));
	ck_assert_str_eq(c.fwd_in[1].origin, "t.json:6:25: vsock.forward_in[1].udp");
	/* Without datagrams: refused after merging, at the first udp one. */
	valid_base();
	ck_invalid("t.json:3:38: vsock.forward_out[1].udp: vsock forward udp:127.0.0.1:5353 "
		   "needs datagrams: set vsock.dgram to true or add --vsock-dgram");
	c.vsock_dgram = true;
	ck_assert_msg(config_validate(&c, err, sizeof(err)) == 0, "%s", err);
	/* forward_in alone needs them too. */
	c.vsock_dgram = false;
	c.fwd_out[1].kind = c.fwd_out[2].kind = CONFIG_FWD_TCP;
	ck_invalid("t.json:6:25: vsock.forward_in[1].udp: vsock forward udp:127.0.0.1:7000 "
		   "needs datagrams: set vsock.dgram to true or add --vsock-dgram");
	/* A reserved port set behind the parser's back is caught too. */
	c.vsock_dgram = true;
	c.fwd_out[2].kind = CONFIG_FWD_UDP;
	c.fwd_out[2].port = 3221225472u;
	c.fwd_out[2].origin[0] = '\0';
	ck_invalid("vsock forward udp:[::1]:9: port 3221225472 is a host port of the udp "
		   "forward_in clients");
	ck_assert(config_udp_port_reserved(3221225472u + 65535));
	ck_assert(!config_udp_port_reserved(3221225472u + 65536));
	ck_assert(!config_udp_port_reserved(3221225471u));
}
END_TEST

START_TEST(max_conns_default)
{
	ck_assert_uint_eq(c.max_conns, 4096);
	ck_load_ok("{\"vsock\": {\"max_connections\": 1}}");
	ck_assert_uint_eq(c.max_conns, 1);
	ck_load_ok("{\"vsock\": {\"max_connections\": 1048576}}");
	ck_assert_uint_eq(c.max_conns, 1048576);
}
END_TEST

START_TEST(tcp_addr_forms)
{
	struct config_fwd f;
	char name[160];

	ck_assert_int_eq(config_parse_tcp_addr("10.1.2.3:65535", &f), 0);
	ck_assert_str_eq(config_fwd_name(&f, name, sizeof(name)), "tcp:10.1.2.3:65535");
	ck_assert_int_eq(config_parse_tcp_addr("[fe80::1]:1", &f), 0);
	ck_assert_str_eq(config_fwd_name(&f, name, sizeof(name)), "tcp:[fe80::1]:1");
	ck_assert_int_eq(config_parse_tcp_addr("localhost:80", &f), 0);
	ck_assert_str_eq(config_fwd_name(&f, name, sizeof(name)), "tcp:127.0.0.1:80");
	ck_assert_int_eq(config_parse_tcp_addr("localhost.localdomain:80", &f), -EINVAL);
	ck_assert_int_eq(config_parse_tcp_addr(":80", &f), -EINVAL);
	ck_assert_int_eq(config_parse_tcp_addr("1.2.3.4:", &f), -EINVAL);
	ck_assert_int_eq(config_parse_tcp_addr("1.2.3.4:+80", &f), -EINVAL);
	ck_assert_int_eq(config_parse_tcp_addr("1.2.3.4:000080", &f), -EINVAL);
	ck_assert_int_eq(config_parse_tcp_addr("1.2.3:80", &f), -EINVAL);
	ck_assert_int_eq(config_parse_tcp_addr("[::1]80", &f), -EINVAL);
	ck_assert_int_eq(config_parse_tcp_addr("[]:80", &f), -EINVAL);
	ck_assert_int_eq(config_parse_tcp_addr("[1.2.3.4]:80", &f), -EINVAL);
}
END_TEST

START_TEST(validate_ok)
{
	valid_base();
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
	c.has_vsock = true;
	c.guest_cid = 3;
	c.uds_path = strdup("/run/v.sock");
	c.vcpus = CONFIG_MAX_VCPUS;
	c.mem_mib = CONFIG_MIN_MEM_MIB;
	c.discovery = DISCOVERY_FDT;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(validate_kernel)
{
	ck_invalid("no kernel given: use --kernel PATH or boot-source.kernel_image_path");
	c.kernel_path = strdup("");
	ck_invalid("no kernel given: use --kernel PATH or boot-source.kernel_image_path");
}
END_TEST

START_TEST(validate_ranges)
{
	valid_base();
	c.vcpus = 0;
	ck_invalid("vCPU count 0 is out of range 1..254");
	c.vcpus = 255;
	ck_invalid("vCPU count 255 is out of range 1..254");
	c.vcpus = 1;
	c.mem_mib = 15;
	ck_invalid("memory size 15 MiB is out of range 16..1048576 MiB");
	c.mem_mib = CONFIG_MAX_MEM_MIB + 1;
	ck_invalid("memory size 1048577 MiB is out of range 16..1048576 MiB");
	c.mem_mib = UINT64_MAX;
	ck_invalid("memory size 18446744073709551615 MiB is out of range 16..1048576 MiB");
	c.mem_mib = 16;
	c.discovery = (enum discovery)7;
	ck_invalid("unknown device discovery mode 7");
}
END_TEST

START_TEST(validate_host_ram)
{
	uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t host_mib = host >> 20;
	char want[200];

	valid_base();
	if (host_mib >= CONFIG_MAX_MEM_MIB)
		return; /* a host with 1 TiB: the range check comes first */
	c.mem_mib = host_mib + 1;
	snprintf(want, sizeof(want), "memory size %llu MiB is more than the host's "
		 "physical RAM (%llu MiB)", (unsigned long long)host_mib + 1,
		 (unsigned long long)host_mib);
	ck_invalid(want);
	c.mem_mib = host_mib;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(validate_vsock)
{
	valid_base();
	c.has_vsock = true;
	ck_invalid("vsock needs a guest CID: use --vsock-cid N or vsock.guest_cid");
	c.guest_cid = 2;
	ck_invalid("guest CID 2 is reserved: use 3..4294967294");
	c.guest_cid = 0xffffffff;
	ck_invalid("guest CID 4294967295 is reserved: use 3..4294967294");
	c.guest_cid = 0xfffffffe;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
	c.uds_path = malloc(109);
	memset(c.uds_path, 'a', 108);
	c.uds_path[0] = '/';
	c.uds_path[108] = '\0';
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strncmp(err, "vsock socket path is too long (108 bytes, at most 107)",
			      54) == 0, "%s", err);
	c.uds_path[107] = '\0';
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

/* vsock.dgram: off by default, a boolean, needs uds_path short enough for
 * "<uds_path>_dgram". */
START_TEST(validate_dgram)
{
	ck_load_ok("{\"vsock\": {\"guest_cid\": 3}}");
	ck_assert(!c.vsock_dgram);
	config_free(&c);
	config_defaults(&c);
	ck_load_err("{\"vsock\": {\"dgram\": 1}}",
		    "t.json:1:21: vsock.dgram: must be true or false, not an integer");
	config_free(&c);
	config_defaults(&c);
	ck_load_ok("{\"vsock\": {\"guest_cid\": 3, \"dgram\": true}}");
	ck_assert(c.vsock_dgram);
	ck_assert(c.has_vsock);
	valid_base();
	ck_invalid("vsock datagrams need a socket path: use --vsock-uds PATH or vsock.uds_path");
	c.uds_path = malloc(109);
	memset(c.uds_path, 'a', 102);
	c.uds_path[0] = '/';
	c.uds_path[102] = '\0'; /* + "_dgram" = 108: one too many */
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strncmp(err, "vsock socket path is too long for datagrams (102 bytes, "
			      "at most 101 with \"_dgram\")", 72) == 0, "%s", err);
	c.uds_path[101] = '\0';
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
	c.vsock_dgram = false;
	ck_load_ok("{\"vsock\": {\"dgram\": false}}");
	ck_assert(!c.vsock_dgram);
}
END_TEST

/* JSON-only config with an empty vsock section: the CID is still needed. */
START_TEST(validate_after_json)
{
	ck_load_ok("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vsock\": {}}");
	ck_invalid("vsock needs a guest CID: use --vsock-cid N or vsock.guest_cid");
	ck_load_ok("{\"vsock\": {\"guest_cid\": 42}}");
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

/* A forward_in Unix path is compared with uds_path (and the other
 * forward_in paths) by the file it names, not by its spelling. */
START_TEST(validate_forward_in_same_file)
{
	char uds[128], p[128], p2[128], p3[128], want[400], link[128];
	struct config_fwd f = { .port = 1, .kind = CONFIG_FWD_UNIX };
	const char *base = strrchr(tmpdir, '/') + 1;
	const char *clash[] = { p, p2, p3 };

	valid_base();
	c.has_vsock = true;
	c.guest_cid = 3;
	snprintf(uds, sizeof(uds), "%s/v.sock", tmpdir);
	c.uds_path = strdup(uds);
	/* "/tmp/x/../x/v.sock", "/tmp/x/./v.sock_seqpacket", through a
	 * symlinked directory: all clash. */
	snprintf(p, sizeof(p), "%s/../%s/v.sock", tmpdir, base);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	ck_assert_int_eq(symlink(".", link), 0);
	snprintf(p2, sizeof(p2), "%s/./v.sock_seqpacket", tmpdir);
	snprintf(p3, sizeof(p3), "%s/link/v.sock_5000", tmpdir);
	for (unsigned i = 0; i < 3; i++) {
		f.path = (char *)clash[i];
		ck_assert_int_eq(config_fwd_append(&c.fwd_in, &c.n_fwd_in, &f), 0);
		snprintf(want, sizeof(want), "vsock forward unix:%s: clashes with the vsock "
			 "uds_path %s (and its %s_* sockets)", clash[i], uds, uds);
		ck_invalid(want);
		free(c.fwd_in[0].path);
		free(c.fwd_in);
		c.fwd_in = NULL;
		c.n_fwd_in = 0;
	}
	/* Another name in the same directory is fine... */
	snprintf(p, sizeof(p), "%s/../%s/w.sock", tmpdir, base);
	f.path = p;
	ck_assert_int_eq(config_fwd_append(&c.fwd_in, &c.n_fwd_in, &f), 0);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
	/* ...but not twice, spelled another way. */
	snprintf(p2, sizeof(p2), "%s/link/w.sock", tmpdir);
	f.path = p2;
	f.port = 2;
	ck_assert_int_eq(config_fwd_append(&c.fwd_in, &c.n_fwd_in, &f), 0);
	snprintf(want, sizeof(want), "vsock forward unix:%s: the same socket file as "
		 "vsock forward unix:%s", p2, p);
	ck_invalid(want);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("locate");
	tcase_add_test(tc, locate_nested);
	tcase_add_test(tc, locate_root);
	tcase_add_test(tc, locate_missing);
	tcase_add_test(tc, locate_right_member);
	tcase_add_test(tc, locate_skips_tricky_strings);
	tcase_add_test(tc, locate_escaped_keys);
	tcase_add_test(tc, locate_arrays);
	tcase_add_test(tc, locate_truncated);
	tcase_add_test(tc, locate_columns_match_jansson);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full_config);
	tcase_add_test(tc, empty_object_keeps_defaults);
	tcase_add_test(tc, range_limits_accepted);
	tcase_add_test(tc, merge_and_null_initrd);
	tcase_add_test(tc, accepted_ignored_keys);
	tcase_add_test(tc, sandbox_keys);
	tcase_add_test(tc, error_leaves_config_unchanged);
	tcase_add_loop_test(tc, wrong_types, 0, sizeof(type_cases) / sizeof(type_cases[0]));
	tcase_add_loop_test(tc, semantic_errors, 0,
			    sizeof(semantic_cases) / sizeof(semantic_cases[0]));
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, empty_input);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, messages_are_one_line);
	tcase_add_test(tc, small_err_buffer);
	tcase_add_test(tc, relative_paths);
	tcase_add_test(tc, parse_discovery);
	tcase_add_loop_test(tc, forward_errors, 0, sizeof(fwd_cases) / sizeof(fwd_cases[0]));
	tcase_add_test(tc, forwards_parsed);
	tcase_add_test(tc, udp_forwards_parsed);
	tcase_add_test(tc, peers_parsed);
	tcase_add_loop_test(tc, peer_errors, 0, sizeof(peer_cases) / sizeof(peer_cases[0]));
	tcase_add_test(tc, peers_validated);
	tcase_add_test(tc, max_conns_default);
	tcase_add_test(tc, tcp_addr_forms);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, file_setup, file_teardown);
	tcase_add_test(tc, file_ok_and_relative);
	tcase_add_test(tc, file_errors);
	tcase_add_test(tc, file_unreadable);
	tcase_add_test(tc, file_too_large);
	tcase_add_test(tc, validate_forward_in_same_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, validate_ok);
	tcase_add_test(tc, validate_kernel);
	tcase_add_test(tc, validate_ranges);
	tcase_add_test(tc, validate_host_ram);
	tcase_add_test(tc, validate_vsock);
	tcase_add_test(tc, validate_dgram);
	tcase_add_test(tc, validate_after_json);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
