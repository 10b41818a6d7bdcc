// SPDX-License-Identifier: MIT
/*
 * Unit tests for vmm/cli.c: every flag in both forms, flags over the config
 * file in any order, --help/--version, and every error path (exact message).
 */
#include <check.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/cli.h"

static struct vm_config c;
static char err[512];
static char tmpdir[64];

/* cli_parse(argv = {"vmm", args..., NULL}). */
static enum cli_action run_args(const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"vmm";
	for (; *args; args++) {
		ck_assert_int_lt(argc, 31);
		argv[argc++] = (char *)*args;
	}
	argv[argc] = NULL;
	err[0] = '\0';
	return cli_parse(argc, argv, &c, err, sizeof(err));
}

#define CLI(...) run_args((const char *const[]){ __VA_ARGS__, NULL })

#define ck_run(...) do {						\
	enum cli_action a_ = CLI(__VA_ARGS__);				\
	ck_assert_msg(a_ == CLI_RUN, "action %d: %s", (int)a_, err);	\
} while (0)

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	config_defaults(&c);
	strcpy(tmpdir, "/tmp/test_cli.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	config_free(&c);
	nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes tmpdir/name; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static const char file_json[] =
	"{\n"
	"  \"boot-source\": {\"kernel_image_path\": \"vmlinux\",\n"
	"                  \"initrd_path\": \"initrd\",\n"
	"                  \"boot_args\": \"from-file\"},\n"
	"  \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64},\n"
	"  \"vsock\": {\"guest_cid\": 5, \"uds_path\": \"v.sock\"},\n"
	"  \"x-vmm\": {\"discovery\": \"fdt\"}\n"
	"}\n";

static char *in_tmp(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* ---- running ---- */

START_TEST(minimal)
{
	ck_run("run", "--kernel", "/k");
	ck_assert_str_eq(c.kernel_path, "/k");
	ck_assert_ptr_null(c.initrd_path);
	ck_assert_ptr_null(c.cmdline);
	ck_assert_uint_eq(c.vcpus, CONFIG_DEFAULT_VCPUS);
	ck_assert_uint_eq(c.mem_mib, CONFIG_DEFAULT_MEM_MIB);
	ck_assert_int_eq(c.discovery, DISCOVERY_CMDLINE);
	ck_assert(!c.has_vsock);
	ck_assert(!c.trace_boot);
	ck_assert_ptr_null(c.metrics_path);
}
END_TEST

START_TEST(all_flags)
{
	ck_run("run", "--kernel", "vmlinux", "--initrd", "initrd.img", "--cmdline",
	       "console=ttyS0 quiet", "--vcpus", "4", "--mem", "256", "--vsock-cid", "3",
	       "--vsock-uds", "/run/v.sock", "--discovery", "fdt", "--notify", "mmio",
	       "--trace-boot", "--metrics", "m.json");
	ck_assert_str_eq(c.kernel_path, "vmlinux"); /* flags: relative to the cwd */
	ck_assert_str_eq(c.metrics_path, "m.json");
	ck_assert_str_eq(c.initrd_path, "initrd.img");
	ck_assert_str_eq(c.cmdline, "console=ttyS0 quiet");
	ck_assert_uint_eq(c.vcpus, 4);
	ck_assert_uint_eq(c.mem_mib, 256);
	ck_assert(c.has_vsock);
	ck_assert_uint_eq(c.guest_cid, 3);
	ck_assert_str_eq(c.uds_path, "/run/v.sock");
	ck_assert_int_eq(c.discovery, DISCOVERY_FDT);
	ck_assert_int_eq(c.notify, NOTIFY_MMIO);
	ck_assert(c.trace_boot);
}
END_TEST

START_TEST(sandbox_flags)
{
	ck_run("run", "--kernel", "/k");
	ck_assert(!c.no_seccomp);
	ck_assert_ptr_null(c.vsock_socket_group);
	config_free(&c);
	ck_run("run", "--kernel", "/k", "--no-seccomp", "--vsock-socket-group", "agents");
	ck_assert(c.no_seccomp);
	ck_assert_str_eq(c.vsock_socket_group, "agents");
	ck_assert(!c.has_vsock); /* the group alone adds no device */
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", "/s", "--vsock-cid", "3", "--no-seccomp",
			     "--vsock-socket-group=7"), CLI_VHOST_USER);
	ck_assert(c.no_seccomp);
	ck_assert_str_eq(c.vsock_socket_group, "7");
}
END_TEST

START_TEST(equals_form)
{
	ck_run("run", "--kernel=/k", "--initrd=/i", "--cmdline=a=b c", "--vcpus=2",
	       "--mem=64", "--vsock-cid=4294967294", "--vsock-uds=/v", "--discovery=cmdline");
	ck_assert_str_eq(c.kernel_path, "/k");
	ck_assert_str_eq(c.initrd_path, "/i");
	ck_assert_str_eq(c.cmdline, "a=b c");
	ck_assert_uint_eq(c.vcpus, 2);
	ck_assert_uint_eq(c.mem_mib, 64);
	ck_assert_uint_eq(c.guest_cid, 0xfffffffe);
	ck_assert_str_eq(c.uds_path, "/v");
	ck_assert_int_eq(c.discovery, DISCOVERY_CMDLINE);
}
END_TEST

START_TEST(last_flag_wins)
{
	ck_run("run", "--kernel", "/a", "--vcpus", "2", "--kernel=/b", "--vcpus=3",
	       "--mem", "32", "--mem", "48", "--discovery", "fdt", "--discovery", "cmdline",
	       "--trace-boot", "--trace-boot");
	ck_assert_str_eq(c.kernel_path, "/b");
	ck_assert_uint_eq(c.vcpus, 3);
	ck_assert_uint_eq(c.mem_mib, 48);
	ck_assert_int_eq(c.discovery, DISCOVERY_CMDLINE);
}
END_TEST

START_TEST(edge_values)
{
	ck_run("run", "--kernel", "/k", "--cmdline", "", "--vcpus", "254", "--mem", "16",
	       "--vsock-cid", "3");
	ck_assert_str_eq(c.cmdline, "");
	ck_assert_uint_eq(c.vcpus, 254);
	ck_assert_uint_eq(c.mem_mib, 16);
	config_free(&c);
	ck_run("run", "--kernel", "/k", "--vcpus", "1", "--vsock-cid", "007");
	ck_assert_uint_eq(c.vcpus, 1);
	ck_assert_uint_eq(c.guest_cid, 7);
	config_free(&c);
	/* a value may start with '-' or with "--" not followed by a letter */
	ck_run("run", "--kernel", "-k", "--cmdline", "-- init --x");
	ck_assert_str_eq(c.kernel_path, "-k");
	ck_assert_str_eq(c.cmdline, "-- init --x");
	config_free(&c);
	/* a value starting like an option ("--x") needs the = form */
	ck_run("run", "--kernel=/k", "--cmdline=--x");
	ck_assert_str_eq(c.cmdline, "--x");
	config_free(&c);
	/* getopt_long takes unambiguous prefixes */
	ck_run("run", "--kern", "/k", "--vc=2", "--trace");
	ck_assert_str_eq(c.kernel_path, "/k");
	ck_assert_uint_eq(c.vcpus, 2);
	ck_assert(c.trace_boot);
}
END_TEST

/* cli_parse can be called again (getopt state is reset). */
START_TEST(repeatable)
{
	for (int i = 0; i < 3; i++) {
		ck_run("run", "--kernel", "/k", "--vcpus", "2");
		ck_assert_uint_eq(c.vcpus, 2);
		config_free(&c);
		ck_assert_int_eq(CLI("run", "--bogus"), CLI_ERROR);
	}
}
END_TEST

/* ---- config file and flags ---- */

START_TEST(config_only)
{
	char want[300];

	ck_run("run", "--config", write_file("vm.json", file_json));
	snprintf(want, sizeof(want), "%s/vmlinux", tmpdir);
	ck_assert_str_eq(c.kernel_path, want);
	snprintf(want, sizeof(want), "%s/initrd", tmpdir);
	ck_assert_str_eq(c.initrd_path, want);
	snprintf(want, sizeof(want), "%s/v.sock", tmpdir);
	ck_assert_str_eq(c.uds_path, want);
	ck_assert_str_eq(c.cmdline, "from-file");
	ck_assert_uint_eq(c.vcpus, 2);
	ck_assert_uint_eq(c.mem_mib, 64);
	ck_assert(c.has_vsock);
	ck_assert_uint_eq(c.guest_cid, 5);
	ck_assert_int_eq(c.discovery, DISCOVERY_FDT);
}
END_TEST

static void check_overridden(void)
{
	char want[300];

	ck_assert_str_eq(c.kernel_path, "/abs/k");
	ck_assert_str_eq(c.initrd_path, "rel-initrd");
	ck_assert_uint_eq(c.vcpus, 3);
	ck_assert_uint_eq(c.guest_cid, 9);
	ck_assert_int_eq(c.discovery, DISCOVERY_CMDLINE);
	/* not overridden: from the file */
	ck_assert_str_eq(c.cmdline, "from-file");
	ck_assert_uint_eq(c.mem_mib, 64);
	snprintf(want, sizeof(want), "%s/v.sock", tmpdir);
	ck_assert_str_eq(c.uds_path, want);
}

/* Flags override the file wherever --config stands on the command line. */
START_TEST(flags_override_file)
{
	const char *f = write_file("vm.json", file_json);
	char cfg[300];

	ck_run("run", "--config", f, "--kernel", "/abs/k", "--initrd", "rel-initrd",
	       "--vcpus", "3", "--vsock-cid", "9", "--discovery", "cmdline");
	check_overridden();
	config_free(&c);

	ck_run("run", "--kernel", "/abs/k", "--initrd", "rel-initrd", "--vcpus", "3",
	       "--vsock-cid", "9", "--discovery", "cmdline", "--config", f);
	check_overridden();
	config_free(&c);

	snprintf(cfg, sizeof(cfg), "--config=%s", f);
	ck_run("run", "--vcpus=3", "--kernel=/abs/k", cfg, "--initrd=rel-initrd",
	       "--vsock-cid=9", "--discovery=cmdline");
	check_overridden();
}
END_TEST

/* The file may lack the kernel or CID that a flag gives, and vice versa. */
START_TEST(file_and_flags_complete_each_other)
{
	ck_run("run", "--kernel", "/k", "--config",
	       write_file("a.json", "{\"vsock\": {\"uds_path\": \"/v\"}}"), "--vsock-cid", "3");
	ck_assert_str_eq(c.kernel_path, "/k");
	ck_assert_str_eq(c.uds_path, "/v");
	ck_assert_uint_eq(c.guest_cid, 3);
	config_free(&c);
	ck_run("run", "--vsock-uds", "/w", "--config",
	       write_file("b.json", "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
			  " \"vsock\": {\"guest_cid\": 4}}"));
	ck_assert_str_eq(c.uds_path, "/w");
	ck_assert_uint_eq(c.guest_cid, 4);
}
END_TEST

/* --vsock-peer: repeatable, adds the vsock device, replaces the file's
 * entry for the same CID, keeps the others; also for vhost-user. */
START_TEST(vsock_peers)
{
	ck_run("run", "--kernel", "/k", "--vsock-cid", "3", "--vsock-peer", "4=/run/vm4.sock",
	       "--vsock-peer=5=/run/vm=5.sock");
	ck_assert(c.has_vsock);
	ck_assert_uint_eq(c.n_peers, 2);
	ck_assert_uint_eq(c.peers[0].cid, 4);
	ck_assert_str_eq(c.peers[0].path, "/run/vm4.sock");
	ck_assert_uint_eq(c.peers[1].cid, 5);
	ck_assert_str_eq(c.peers[1].path, "/run/vm=5.sock");
	config_free(&c);
	ck_run("run", "--vsock-peer", "5=/flag5", "--config",
	       write_file("p.json", "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
			  " \"vsock\": {\"guest_cid\": 3, \"peers\": [{\"cid\": 4, \"uds_path\": \"/f4\"},"
			  " {\"cid\": 5, \"uds_path\": \"/f5\"}]}}"));
	ck_assert_uint_eq(c.n_peers, 2);
	ck_assert_str_eq(c.peers[0].path, "/f4");
	ck_assert_str_eq(c.peers[1].path, "/flag5");
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", "/s", "--vsock-cid", "3",
			     "--vsock-peer", "4=/run/vm4.sock"), CLI_VHOST_USER);
	ck_assert_uint_eq(c.n_peers, 1);
}
END_TEST

/* Two --config: the last one is the file that is loaded. */
START_TEST(last_config_wins)
{
	const char *a = write_file("a.json", "{\"machine-config\": {\"vcpu_count\": 7}}");
	char first[300];

	snprintf(first, sizeof(first), "%s", a);
	ck_run("run", "--kernel", "/k", "--config", first, "--config",
	       write_file("b.json", "{\"machine-config\": {\"mem_size_mib\": 32}}"));
	ck_assert_uint_eq(c.vcpus, CONFIG_DEFAULT_VCPUS);
	ck_assert_uint_eq(c.mem_mib, 32);
}
END_TEST

START_TEST(config_errors)
{
	char want[400];

	ck_assert_int_eq(CLI("run", "--kernel", "/k", "--config", in_tmp("none.json")),
			 CLI_ERROR);
	snprintf(want, sizeof(want), "%s/none.json: cannot open: No such file or directory",
		 tmpdir);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(CLI("run", "--kernel", "/k", "--config",
			     write_file("bad.json", "{\n  \"machine\": {}\n}\n")), CLI_ERROR);
	snprintf(want, sizeof(want), "%s/bad.json:2:3: unknown key \"machine\" at top level",
		 tmpdir);
	ck_assert_str_eq(err, want);

	/* a flag cannot rescue a bad file */
	ck_assert_int_eq(CLI("run", "--vcpus", "2", "--config",
			     write_file("v.json", "{\"machine-config\": {\"vcpu_count\": 0}}")),
			 CLI_ERROR);
	snprintf(want, sizeof(want), "%s/v.json:1:35: machine-config.vcpu_count: 0 is out "
		 "of range 1..254", tmpdir);
	ck_assert_str_eq(err, want);

	/* the merged result is validated */
	ck_assert_int_eq(CLI("run", "--config",
			     write_file("nok.json", "{\"machine-config\": {\"vcpu_count\": 2}}")),
			 CLI_ERROR);
	ck_assert_str_eq(err, "no kernel given: use --kernel PATH or "
			 "boot-source.kernel_image_path");
}
END_TEST

/* ---- help, version ---- */

START_TEST(help_and_version)
{
	ck_assert_int_eq(CLI("--help"), CLI_HELP);
	ck_assert_int_eq(CLI("-h"), CLI_HELP);
	ck_assert_int_eq(CLI("--version"), CLI_VERSION);
	ck_assert_int_eq(CLI("-V"), CLI_VERSION);
	ck_assert_int_eq(CLI("run", "--help"), CLI_HELP);
	ck_assert_int_eq(CLI("run", "-h"), CLI_HELP);
	ck_assert_int_eq(CLI("run", "-hx"), CLI_HELP);
	/* help wins over a missing kernel or a later bad flag */
	ck_assert_int_eq(CLI("run", "--vcpus", "2", "--help", "--bogus"), CLI_HELP);
}
END_TEST

START_TEST(usage_and_version_text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	static const char *const flags[] = {
		"--kernel", "--initrd", "--cmdline", "--vcpus", "--mem", "--config",
		"--vsock-cid", "--vsock-uds", "--discovery", "--trace-boot", "--help",
		"--version", "Exit status",
	};

	ck_assert_ptr_nonnull(f);
	cli_usage(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		ck_assert_msg(strstr(buf, flags[i]), "usage lacks %s", flags[i]);
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	cli_version(f);
	fclose(f);
	ck_assert_msg(strncmp(buf, "vmm ", 4) == 0 && len > 5 && buf[len - 1] == '\n' &&
		      !strchr(buf, '\n')[1], "%s", buf);
	free(buf);
}
END_TEST

/* ---- errors ---- */

struct bad_args {
	const char *args[12];
	const char *msg;
};

#define R "run", "--kernel", "/k"
#define RESERVED " (0, 1, 2 and 4294967295 are reserved)"
#define NO_KERNEL "no kernel given: use --kernel PATH or boot-source.kernel_image_path"

static const struct bad_args bad[] = {
	{ { NULL }, "no command given" },
	{ { "start" }, "unknown command 'start'" },
	{ { "Run" }, "unknown command 'Run'" },
	{ { "" }, "unknown command ''" },
	{ { "--bogus" }, "unknown option '--bogus'" },
	{ { "--kernel", "/k" }, "unknown option '--kernel'" },
	{ { "--help", "run" }, "unexpected argument 'run' after '--help'" },
	{ { "--version", "x" }, "unexpected argument 'x' after '--version'" },
	/* unknown, ambiguous, misused options */
	{ { R, "--bogus" }, "unknown option '--bogus'" },
	{ { "run", "--bogus=1", "--kernel", "/k" }, "unknown option '--bogus=1'" },
	{ { R, "-x" }, "unknown option '-x'" },
	{ { R, "-V" }, "unknown option '-V'" },
	{ { R, "--vsock", "3" }, "ambiguous option '--vsock'" },
	{ { R, "--vsock=3" }, "ambiguous option '--vsock=3'" },
	{ { R, "--trace-boot=1" }, "option '--trace-boot' takes no value" },
	{ { R, "--help=x" }, "option '--help' takes no value" },
	{ { R, "--trace-boot", "-xy" }, "unknown option '-x'" },
	/* missing values */
	{ { "run", "--kernel" }, "option '--kernel' needs a value" },
	{ { R, "--vcpus" }, "option '--vcpus' needs a value" },
	{ { R, "--config" }, "option '--config' needs a value" },
	{ { R, "--vsock-cid" }, "option '--vsock-cid' needs a value" },
	{ { "run", "--kernel", "--mem", "64" },
	  "option '--kernel' needs a value (got option '--mem')" },
	{ { R, "--cmdline", "--trace-boot" },
	  "option '--cmdline' needs a value (got option '--trace-boot')" },
	/* stray arguments */
	{ { R, "extra" }, "unexpected argument 'extra'" },
	{ { "run", "extra", "--kernel", "/k" }, "unexpected argument 'extra'" },
	{ { R, "--", "--vcpus", "2" }, "unexpected argument '--vcpus'" },
	/* numbers */
	{ { R, "--vcpus", "abc" }, "--vcpus: 'abc' is not a decimal number" },
	{ { R, "--vcpus", "2x" }, "--vcpus: '2x' is not a decimal number" },
	{ { R, "--vcpus", " 2" }, "--vcpus: ' 2' is not a decimal number" },
	{ { R, "--vcpus", "2 " }, "--vcpus: '2 ' is not a decimal number" },
	{ { R, "--vcpus", "+2" }, "--vcpus: '+2' is not a decimal number" },
	{ { R, "--vcpus", "0x2" }, "--vcpus: '0x2' is not a decimal number" },
	{ { R, "--vcpus", "2.0" }, "--vcpus: '2.0' is not a decimal number" },
	{ { R, "--vcpus", "-1" }, "--vcpus: '-1' is negative" },
	{ { R, "--vcpus=-0" }, "--vcpus: '-0' is negative" },
	{ { R, "--vcpus", "" }, "--vcpus: empty value, expected a number" },
	{ { R, "--vcpus=" }, "--vcpus: empty value, expected a number" },
	{ { R, "--vcpus", "0" }, "--vcpus: 0 is out of range 1..254" },
	{ { R, "--vcpus", "255" }, "--vcpus: 255 is out of range 1..254" },
	{ { R, "--vcpus", "99999999999999999999999" },
	  "--vcpus: 99999999999999999999999 is out of range 1..254" },
	{ { R, "--mem", "15" }, "--mem: 15 is out of range 16..1048576" },
	{ { R, "--mem", "0" }, "--mem: 0 is out of range 16..1048576" },
	{ { R, "--mem", "1048577" }, "--mem: 1048577 is out of range 16..1048576" },
	{ { R, "--mem", "64M" }, "--mem: '64M' is not a decimal number" },
	{ { R, "--mem=-5" }, "--mem: '-5' is negative" },
	{ { R, "--vsock-cid", "0" }, "--vsock-cid: 0 is out of range 3..4294967294" RESERVED },
	{ { R, "--vsock-cid", "1" }, "--vsock-cid: 1 is out of range 3..4294967294" RESERVED },
	{ { R, "--vsock-cid", "2" }, "--vsock-cid: 2 is out of range 3..4294967294" RESERVED },
	{ { R, "--vsock-cid", "4294967295" },
	  "--vsock-cid: 4294967295 is out of range 3..4294967294" RESERVED },
	{ { R, "--vsock-cid", "4294967296" },
	  "--vsock-cid: 4294967296 is out of range 3..4294967294" RESERVED },
	{ { R, "--vsock-cid", "18446744073709551616" },
	  "--vsock-cid: 18446744073709551616 is out of range 3..4294967294" RESERVED },
	{ { R, "--vsock-cid", "-3" }, "--vsock-cid: '-3' is negative" },
	/* words and paths */
	{ { R, "--discovery", "acpi" }, "--discovery: 'acpi' is not 'cmdline' or 'fdt'" },
	{ { R, "--discovery=" }, "--discovery: '' is not 'cmdline' or 'fdt'" },
	{ { R, "--notify", "poll" }, "--notify: 'poll' is not 'ioeventfd' or 'mmio'" },
	{ { "run", "--kernel", "" }, "--kernel: empty path" },
	{ { "run", "--kernel=" }, "--kernel: empty path" },
	{ { R, "--initrd", "" }, "--initrd: empty path" },
	{ { R, "--config=" }, "--config: empty path" },
	{ { R, "--vsock-uds", "" }, "--vsock-uds: empty path" },
	{ { R, "--metrics", "" }, "--metrics: empty path" },
	{ { R, "--metrics" }, "option '--metrics' needs a value" },
	{ { R, "--vsock-socket-group", "" }, "--vsock-socket-group: empty group" },
	{ { R, "--no-seccomp=1" }, "option '--no-seccomp' takes no value" },
	/* the merged config is validated */
	{ { "run" }, NO_KERNEL },
	{ { "run", "--vcpus", "2", "--mem", "64" }, NO_KERNEL },
	{ { R, "--vsock-uds", "/v.sock" },
	  "vsock needs a guest CID: use --vsock-cid N or vsock.guest_cid" },
	/* vsock forwards and limits */
	{ { R, "--vsock-forward-out", "5000" },
	  "--vsock-forward-out: '5000' is not PORT=tcp:HOST:PORT, PORT=udp:HOST:PORT or PORT=unix:PATH" },
	{ { R, "--vsock-forward-out", "x=tcp:127.0.0.1:1" },
	  "--vsock-forward-out: 'x' is not a decimal number" },
	{ { R, "--vsock-forward-out", "4294967295=tcp:127.0.0.1:1" },
	  "--vsock-forward-out: 4294967295 is out of range 0..4294967294 (the guest's vsock port)" },
	{ { R, "--vsock-forward-out", "1=tcp:example.com:80" },
	  "--vsock-forward-out: 'example.com:80' is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ { R, "--vsock-forward-out", "1=sctp:127.0.0.1:80" },
	  "--vsock-forward-out: 'sctp:127.0.0.1:80' is none of tcp:HOST:PORT, udp:HOST:PORT and unix:PATH" },
	{ { R, "--vsock-forward-out", "1=udp:localhost" },
	  "--vsock-forward-out: 'localhost' is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ { R, "--vsock-forward-out", "1=udp:127.0.0.1:53", "--vsock-forward-out", "1=udp:127.0.0.1:54" },
	  "--vsock-forward-out: port 1 is given twice" },
	{ { R, "--vsock-forward-out", "3221225473=udp:127.0.0.1:53" },
	  "--vsock-forward-out: port 3221225473 is a host port of the udp forward_in clients, not for a udp forward_out" },
	{ { R, "--vsock-forward-in", "udp:127.0.0.1:53=1", "--vsock-forward-in", "udp:localhost:53=2" },
	  "--vsock-forward-in: udp:127.0.0.1:53 is given twice" },
	{ { R, "--vsock-cid", "3", "--vsock-uds", "/v.sock", "--vsock-forward-out", "53=udp:127.0.0.1:53" },
	  "--vsock-forward-out: vsock forward udp:127.0.0.1:53 needs datagrams: set vsock.dgram to true or add --vsock-dgram" },
	{ { R, "--vsock-cid", "3", "--vsock-uds", "/v.sock", "--vsock-forward-in", "udp:[::1]:53=53" },
	  "--vsock-forward-in: vsock forward udp:[::1]:53 needs datagrams: set vsock.dgram to true or add --vsock-dgram" },
	{ { R, "--vsock-forward-out", "1=unix:" }, "--vsock-forward-out: empty path" },
	{ { R, "--vsock-forward-out", "1=tcp:127.0.0.1:1", "--vsock-forward-out", "1=unix:/x" },
	  "--vsock-forward-out: port 1 is given twice" },
	{ { R, "--vsock-forward-in", "tcp:127.0.0.1:22" },
	  "--vsock-forward-in: 'tcp:127.0.0.1:22' is not tcp:HOST:PORT=PORT, udp:HOST:PORT=PORT or unix:PATH=PORT" },
	{ { R, "--vsock-forward-in", "tcp:127.0.0.1:22=" },
	  "--vsock-forward-in: empty value, expected a number" },
	{ { R, "--vsock-forward-in", "tcp:127.0.0.1:99999=22" },
	  "--vsock-forward-in: '127.0.0.1:99999' is not a numeric address and port (IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)" },
	{ { R, "--vsock-peer", "4" }, "--vsock-peer: '4' is not CID=PATH" },
	{ { R, "--vsock-peer", "4=" }, "--vsock-peer: '4=' is not CID=PATH" },
	{ { R, "--vsock-peer", "x=/p" }, "--vsock-peer: 'x' is not a decimal number" },
	{ { R, "--vsock-peer", "2=/p" }, "--vsock-peer: 2 is out of range 3..4294967294" RESERVED },
	{ { R, "--vsock-peer", "4294967295=/p" },
	  "--vsock-peer: 4294967295 is out of range 3..4294967294" RESERVED },
	{ { R, "--vsock-peer", "4=/a", "--vsock-peer", "4=/b" },
	  "--vsock-peer: CID 4 is given twice" },
	{ { R, "--vsock-peer", "4=/a" },
	  "vsock needs a guest CID: use --vsock-cid N or vsock.guest_cid" },
	{ { R, "--vsock-cid", "4", "--vsock-peer", "4=/a" },
	  "vsock peer CID 4 is this VM's own CID" },
	{ { R, "--vsock-cid", "3", "--vsock-uds", "/a", "--vsock-peer", "4=/a" },
	  "vsock peer 4: /a is this VM's own uds_path" },
	{ { R, "--vsock-forward-in", "tcp:localhost:22=1", "--vsock-forward-in", "tcp:127.0.0.1:22=2" },
	  "--vsock-forward-in: tcp:127.0.0.1:22 is given twice" },
	{ { R, "--vsock-forward-in", "unix:/a=1", "--vsock-forward-in", "unix:/a=2" },
	  "--vsock-forward-in: unix:/a is given twice" },
	{ { R, "--vsock-max-conns", "0" }, "--vsock-max-conns: 0 is out of range 1..1048576" },
	{ { R, "--vsock-max-conns", "1048577" },
	  "--vsock-max-conns: 1048577 is out of range 1..1048576" },
	{ { R, "--vsock-forward-in", "tcp:127.0.0.1:22=22" },
	  "vsock needs a guest CID: use --vsock-cid N or vsock.guest_cid" },
	{ { R, "--vsock-cid", "3", "--vsock-uds", "/v.sock", "--vsock-forward-in", "unix:/v.sock_seqpacket=1" },
	  "vsock forward unix:/v.sock_seqpacket: clashes with the vsock uds_path /v.sock (and its /v.sock_* sockets)" },
	{ { R, "--vsock-cid", "3", "--vsock-dgram" },
	  "vsock datagrams need a socket path: use --vsock-uds PATH or vsock.uds_path" },
	{ { R, "--vsock-dgram=1" }, "option '--vsock-dgram' takes no value" },
	/* control characters never break the line */
	{ { R, "--vcpus", "1\n2" }, "--vcpus: '1?2' is not a decimal number" },
	{ { "st\nart" }, "unknown command 'st?art'" },
};


START_TEST(vsock_forward_flags)
{
	static const char json[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"},\n"
		" \"vsock\": {\"guest_cid\": 3,\n"
		"  \"forward_out\": [{\"port\": 5000, \"tcp\": \"127.0.0.1:5000\"},\n"
		"                  {\"port\": 6000, \"unix\": \"/run/x.sock\"}],\n"
		"  \"forward_in\": [{\"tcp\": \"127.0.0.1:2222\", \"port\": 22}]}}";
	const char *cfg = write_file("vm.json", json);
	char name[160];

	ck_run("run", "--config", cfg, "--vsock-forward-out", "6000=tcp:[::1]:6001",
	       "--vsock-forward-out=7000=unix:/tmp/seven.sock",
	       "--vsock-forward-in", "tcp:127.0.0.1:2222=2222",
	       "--vsock-forward-in", "unix:/tmp/a=b=1024", "--vsock-max-conns", "10");
	ck_assert_uint_eq(c.max_conns, 10);
	ck_assert_uint_eq(c.n_fwd_out, 3);
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[0], name, sizeof(name)), "tcp:127.0.0.1:5000");
	/* the flag replaced the file's entry for port 6000 */
	ck_assert_uint_eq(c.fwd_out[1].port, 6000);
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[1], name, sizeof(name)), "tcp:[::1]:6001");
	ck_assert_uint_eq(c.fwd_out[2].port, 7000);
	ck_assert_str_eq(c.fwd_out[2].path, "/tmp/seven.sock");
	ck_assert_uint_eq(c.n_fwd_in, 2);
	ck_assert_uint_eq(c.fwd_in[0].port, 2222); /* same address: the flag's port */
	ck_assert_str_eq(c.fwd_in[1].path, "/tmp/a=b"); /* the last '=' splits */
	ck_assert_uint_eq(c.fwd_in[1].port, 1024);
}
END_TEST

/* udp forwards: a namespace of their own beside tcp/unix ones, in the
 * file and among the flags; a flag replaces the file's udp entry only. */
START_TEST(vsock_udp_forward_flags)
{
	static const char json[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"},\n"
		" \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\",\n"
		"  \"forward_out\": [{\"port\": 53, \"tcp\": \"127.0.0.1:53\"},\n"
		"                  {\"port\": 53, \"udp\": \"127.0.0.1:53\"}],\n"
		"  \"forward_in\": [{\"udp\": \"127.0.0.1:7000\", \"port\": 1}]}}";
	const char *cfg = write_file("vm.json", json);
	char name[160];

	/* The file has no "dgram": the flag supplies it. */
	ck_run("run", "--config", cfg, "--vsock-dgram",
	       "--vsock-forward-out", "53=udp:127.0.0.1:5353",
	       "--vsock-forward-out", "54=udp:[::1]:54", "--vsock-forward-out", "54=tcp:127.0.0.1:54",
	       "--vsock-forward-in", "udp:127.0.0.1:7000=2", "--vsock-forward-in", "tcp:127.0.0.1:7000=3");
	ck_assert(c.vsock_dgram);
	ck_assert_uint_eq(c.n_fwd_out, 4);
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[0], name, sizeof(name)), "tcp:127.0.0.1:53");
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[1], name, sizeof(name)), "udp:127.0.0.1:5353");
	ck_assert_str_eq(c.fwd_out[1].origin, "--vsock-forward-out");
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[2], name, sizeof(name)), "udp:[::1]:54");
	ck_assert_str_eq(config_fwd_name(&c.fwd_out[3], name, sizeof(name)), "tcp:127.0.0.1:54");
	ck_assert_uint_eq(c.n_fwd_in, 2);
	ck_assert_int_eq(c.fwd_in[0].kind, CONFIG_FWD_UDP);
	ck_assert_uint_eq(c.fwd_in[0].port, 2);
	ck_assert_int_eq(c.fwd_in[1].kind, CONFIG_FWD_TCP);
	config_free(&c);
	config_defaults(&c);
	/* Without --vsock-dgram the file's udp forward is refused, at its place. */
	ck_assert_int_eq(CLI("run", "--config", cfg), CLI_ERROR);
	ck_assert_msg(strstr(err, "vm.json:4:39: vsock.forward_out[1].udp: vsock forward "
			     "udp:127.0.0.1:53 needs datagrams") != NULL, "%s", err);
}
END_TEST

START_TEST(vsock_flags_imply_device)
{
	ck_run("run", "--kernel", "/k", "--vsock-cid", "3", "--vsock-max-conns", "1");
	ck_assert(c.has_vsock);
	ck_assert_uint_eq(c.max_conns, 1);
	config_free(&c);
	config_defaults(&c);
	ck_run("run", "--kernel", "/k", "--vsock-cid", "3");
	ck_assert_uint_eq(c.max_conns, 4096);
	ck_assert_uint_eq(c.n_fwd_out, 0);
	ck_assert(!c.vsock_dgram); /* off by default */
}
END_TEST

START_TEST(vsock_dgram_flag)
{
	ck_run("run", "--kernel", "/k", "--vsock-cid", "3", "--vsock-uds", "/tmp/v.sock",
	       "--vsock-dgram");
	ck_assert(c.vsock_dgram);
	ck_assert(c.has_vsock);
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", "/tmp/vu.sock", "--vsock-cid", "3",
			     "--vsock-uds", "/tmp/v.sock", "--vsock-dgram"), CLI_VHOST_USER);
	ck_assert(c.vsock_dgram);
}
END_TEST

/* "vmm vhost-user": --socket and the vsock flags only. */
START_TEST(vhost_user_command)
{
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", "/tmp/vu.sock", "--vsock-cid", "3",
			     "--vsock-uds", "/tmp/v.sock", "--vsock-max-conns", "7",
			     "--vsock-forward-out", "22=unix:/tmp/f"), CLI_VHOST_USER);
	ck_assert_str_eq(c.vhost_user_socket, "/tmp/vu.sock");
	ck_assert_str_eq(c.uds_path, "/tmp/v.sock");
	ck_assert(c.has_vsock);
	ck_assert_uint_eq(c.guest_cid, 3);
	ck_assert_uint_eq(c.max_conns, 7);
	ck_assert_uint_eq(c.n_fwd_out, 1);
	ck_assert_ptr_null(c.kernel_path);
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--help"), CLI_HELP);
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--vsock-cid", "3"), CLI_ERROR);
	ck_assert_str_eq(err, "no vhost-user socket given: use --socket PATH");
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", "/s"), CLI_ERROR);
	ck_assert_str_eq(err, "vhost-user serves the vsock device: use --vsock-cid N");
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", "/s", "--vsock-cid", "2"), CLI_ERROR);
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", "/s", "--vsock-cid", "3", "--kernel", "/k"),
			 CLI_ERROR);
	ck_assert_str_eq(err, "option '--kernel' does not apply to 'vmm vhost-user'");
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--config", "/c", "--socket", "/s"), CLI_ERROR);
	ck_assert_str_eq(err, "option '--config' does not apply to 'vmm vhost-user'");
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", ""), CLI_ERROR);
	ck_assert_str_eq(err, "--socket: empty path");
	config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", "/s", "--vsock-cid", "3",
			     "--metrics", "/tmp/m.json"), CLI_VHOST_USER);
	ck_assert_str_eq(c.metrics_path, "/tmp/m.json");
	config_free(&c);
	ck_assert_int_eq(CLI("run", "--kernel", "/k", "--socket", "/s"), CLI_ERROR);
	ck_assert_str_eq(err, "option '--socket' does not apply to 'vmm run'");
	{
		char longp[200];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		config_free(&c);
	ck_assert_int_eq(CLI("vhost-user", "--socket", longp, "--vsock-cid", "3"),
				 CLI_ERROR);
		ck_assert_ptr_nonnull(strstr(err, "vhost-user socket path is too long"));
	}
}
END_TEST

START_TEST(errors)
{
	ck_assert_int_eq(run_args(bad[_i].args), CLI_ERROR);
	ck_assert_str_eq(err, bad[_i].msg);
}
END_TEST

START_TEST(mem_above_host_ram)
{
	uint64_t host_mib = ((uint64_t)sysconf(_SC_PHYS_PAGES) *
			     (uint64_t)sysconf(_SC_PAGESIZE)) >> 20;
	char mem[32], want[200];

	if (host_mib >= CONFIG_MAX_MEM_MIB) {
		fprintf(stderr, "mem_above_host_ram: skipped: host has 1 TiB or more\n");
		return;
	}
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)host_mib + 1);
	ck_assert_int_eq(CLI(R, "--mem", mem), CLI_ERROR);
	snprintf(want, sizeof(want), "memory size %llu MiB is more than the host's "
		 "physical RAM (%llu MiB)", (unsigned long long)host_mib + 1,
		 (unsigned long long)host_mib);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(CLI(R, "--mem", "1048576"), CLI_ERROR);
}
END_TEST

/* A tiny or absent err buffer is safe. */
START_TEST(small_err_buffer)
{
	char *argv[] = { (char *)"vmm", (char *)"bogus", NULL };
	char small[6];

	ck_assert_int_eq(cli_parse(2, argv, &c, small, sizeof(small)), CLI_ERROR);
	ck_assert_str_eq(small, "unkno");
	ck_assert_int_eq(cli_parse(2, argv, &c, NULL, 0), CLI_ERROR);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc;

	tc = tcase_create("run");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, minimal);
	tcase_add_test(tc, all_flags);
	tcase_add_test(tc, sandbox_flags);
	tcase_add_test(tc, equals_form);
	tcase_add_test(tc, last_flag_wins);
	tcase_add_test(tc, edge_values);
	tcase_add_test(tc, repeatable);
	tcase_add_test(tc, vsock_peers);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, vhost_user_command);
	tcase_add_test(tc, config_only);
	tcase_add_test(tc, flags_override_file);
	tcase_add_test(tc, file_and_flags_complete_each_other);
	tcase_add_test(tc, last_config_wins);
	tcase_add_test(tc, config_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("actions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, usage_and_version_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, errors, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, mem_above_host_ram);
	tcase_add_test(tc, small_err_buffer);
	tcase_add_test(tc, vsock_forward_flags);
	tcase_add_test(tc, vsock_udp_forward_flags);
	tcase_add_test(tc, vsock_flags_imply_device);
	tcase_add_test(tc, vsock_dgram_flag);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cli_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
