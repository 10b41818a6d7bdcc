// SPDX-License-Identifier: MIT
/*
 * vmm: boot a Linux-protocol guest kernel on KVM.
 *
 * Initialisation order (explicit, no constructors):
 *   0. until step 5, a terminating signal ends the VMM at once with 128+N
 *      after removing the socket files made so far
 *   1. parse flags and the JSON config, validate; lock the socket paths;
 *      open the metrics and console files; socket permissions (sandbox)
 *   2. guest RAM; kernel, initrd, MP table or device tree, boot_params,
 *      page tables, GDT (bad images are reported before KVM is touched);
 *      the virtio devices' host sockets (vsock listeners)
 *   3. KVM VM with in-kernel irqchip and PIT; legacy devices on the buses
 *      (serial, i8042, POST port, debug-exit port, pvpanic); virtio
 *      transports
 *   4. vCPUs (vCPU 0 in 64-bit mode at the kernel entry)
 *   5. I/O thread sources (signals, stdin, the timeout)
 *   6. the seccomp filters: vCPU threads start and enter theirs, the main
 *      thread enters its own and runs the loop (docs/sandbox.md)
 *   7. the first exit request ends the process with its code
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "console_file.h"
#include "base/layout.h"
#include "loader.h"
#include "base/log.h"
#include "metrics.h"
#include "mptable.h"
#include "panic_reboot.h"
#include "timeout.h"
#include "sandbox.h"
#include "trace.h"
#include "virtio_devs.h"
#include "vhost_user_cmd.h"
#include "vsock/sock.h"
#include "fdt.h"
#include "vm.h"
#include "x86_boot.h"

#define ERRLEN 512

struct console {
	struct vm *vm;
	struct ev_source src;
	bool active;           /* stdin registered with the loop */
	bool tty;              /* stdin is a terminal we put in raw mode */
	struct termios saved;
	uint8_t pend[256];     /* read from stdin, not yet taken by the UART */
	size_t pend_off, pend_len;
};

static struct vm the_vm;
static struct console con;
static struct virtio_devs vdevs;
static int metrics_fd = -1;      /* --metrics */
static struct vm_timeout vm_timeout;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vmm: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(VMM_EXIT_SETUP);
}

/* ---- console: stdin -> UART ------------------------------------------ */

static void console_feed(struct console *c)
{
	size_t n;

	while (c->pend_off < c->pend_len) {
		n = serial_input(&c->vm->serial, c->pend + c->pend_off,
				 c->pend_len - c->pend_off);
		if (n == 0)
			break;
		c->pend_off += n;
	}
}

static void console_cb(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	ssize_t n;

	console_feed(c);
	if (c->pend_off < c->pend_len) {
		/* UART full: stop reading until it drains (console_space). */
		ev_mod(c->vm->ev, &c->src, 0);
		return;
	}
	n = read(STDIN_FILENO, c->pend, sizeof(c->pend));
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		/* EOF or error: no more input, the guest keeps running. */
		ev_del(c->vm->ev, &c->src);
		c->active = false;
		return;
	}
	c->pend_off = 0;
	c->pend_len = (size_t)n;
	console_feed(c);
	if (c->pend_off < c->pend_len)
		ev_mod(c->vm->ev, &c->src, 0);
}

static void console_resume(void *opaque)
{
	struct console *c = opaque;

	console_feed(c);
	if (c->active && c->pend_off == c->pend_len)
		ev_mod(c->vm->ev, &c->src, EPOLLIN);
}

/* Called by the UART (on a vCPU thread) when space frees up. */
static void console_space(void *opaque)
{
	struct console *c = opaque;

	evloop_call(c->vm->ev, console_resume, c);
}

static void console_restore(void)
{
	if (con.tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &con.saved);
}

static void console_init(struct console *c, struct vm *vm)
{
	struct termios t;
	int ret;

	c->vm = vm;
	vm->serial.rx_space = console_space;
	vm->serial.rx_space_opaque = c;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) == 0) {
		/* Raw input so keys reach the guest as typed; ISIG stays on so
		 * Ctrl-C still ends the VMM, output processing stays as is. */
		t = c->saved;
		t.c_lflag &= ~(ICANON | ECHO | ECHONL | IEXTEN);
		t.c_iflag &= ~(ICRNL | INLCR | IGNCR | IXON);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
			c->tty = true;
			atexit(console_restore);
		}
	}
	ret = ev_add(vm->ev, &c->src, STDIN_FILENO, EPOLLIN, console_cb, c);
	/* EPERM: stdin is a regular file or /dev/null, which epoll cannot
	 * watch; the guest then simply gets no input. */
	c->active = ret == 0;
}

/* Every vsock connection holds a host socket, and the default limit of 4096
 * connections needs more descriptors than the usual soft limit of 1024:
 * raise the soft limit to the hard one (no privilege needed). */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* ---- signals: every ending we can observe removes the socket files ---- */

/*
 * The signals whose default action ends a process and that someone may
 * send us.  Not SIGKILL/SIGSTOP (cannot be caught), SIGPIPE (ignored: a
 * closed output pipe must not kill us mid-exit), nor the faults (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT: a bug, not a request).
 * Once the vCPUs run, SIGUSR1 kicks them (vcpu.c) and SIGQUIT dumps their
 * state (debug.c); until then they end the VMM like the others.
 */
static void exit_sigset(sigset_t *set, bool running)
{
	static const int sigs[] = {
		SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2,
		SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGIO, SIGPWR, SIGSTKFLT,
	};

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(set, s);
	if (running) {
		sigdelset(set, SIGUSR1);
		sigdelset(set, SIGQUIT);
	}
}

/* During start-up: nothing to stop yet, so remove the socket files made so
 * far and end at once, wherever start-up is (a read of a huge initrd, a
 * blocked write to stderr).  Async-signal-safe. */
static void startup_signal(int sig)
{
	vsock_sock_files_remove_all();
	_exit(128 + sig);
}

/* First thing in main: terminating signals end the VMM promptly with
 * 128+N, also when they arrive blocked (a parent's mask is inherited).  A
 * signal inherited as ignored stays ignored (nohup, background jobs of a
 * shell), as it does once the loop runs (signalfd never sees it). */
static void signals_startup(void)
{
	struct sigaction sa = { .sa_handler = startup_signal }, old;
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	exit_sigset(&set, false);
	sa.sa_mask = set;
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&set, s) == 1 && sigaction(s, NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			sigaction(s, &sa, NULL);
	/* Anything that fails past here (exit(1)) removes them too. */
	atexit(vsock_sock_files_remove_all);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static struct ev_source sig_src;
static int sig_fd = -1;

/* With a metrics file, SIGUSR2 asks for a line, also while the VMM starts
 * (a supervisor may ask right after spawning it): blocked from now on, it
 * waits for the signalfd of signals_running() (or vmm vhost-user's), which
 * reads it and writes the line. */
static void hold_metrics_signal(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void write_metrics(void)
{
	int rc;

	if (metrics_fd < 0)
		return;
	rc = metrics_write(metrics_fd, &(struct metrics_sources){
		.vsock = vdevs.vsock, .mmio = vdevs.vsock ? vdevs.vdev[0] : NULL });
	if (rc)
		log_warn("metrics file: %s", strerror(-rc));
}

static void signal_cb(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	if (read(sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	/* With a metrics file, SIGUSR2 asks for a line (Firecracker's
	 * FlushMetrics); without one it ends the VMM like the others. */
	if (si.ssi_signo == SIGUSR2 && metrics_fd >= 0) {
		write_metrics();
		return;
	}
	vm_request_exit(vm, 128 + (int)si.ssi_signo, "terminated by signal %u",
			si.ssi_signo);
}

/* Right before the vCPU threads start: block the terminating signals in
 * every thread (vCPU threads inherit the mask) and take them on the I/O
 * thread through a signalfd, so the VMM stops its vCPUs and tears down in
 * order.  One that arrived before is pending and read at once. */
static int signals_running(struct vm *vm)
{
	sigset_t set;

	exit_sigset(&set, true);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -errno;
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0)
		return -errno;
	return ev_add(vm->ev, &sig_src, sig_fd, EPOLLIN, signal_cb, vm);
}

/* ---- devices ---------------------------------------------------------- */

static void serial_irq(void *opaque, int level)
{
	vm_set_irq(opaque, LAYOUT_SERIAL_IRQ, level);
}

/* A reset is a clean ending, unless it is the reboot of a Linux panic
 * (panic_reboot.h). */
static void i8042_reset(void *opaque)
{
	struct vm *vm = opaque;

	if (vm->panic_reboot && panic_reboot_seen(&vm->mem))
		vm_request_exit(vm, VMM_EXIT_GUEST_PANIC, "guest kernel panicked (it "
				"rebooted in its panic reboot mode, %s)", PANIC_REBOOT_PARAM);
	else
		vm_request_exit(vm, VMM_EXIT_OK, NULL);
}

/* The guest chose the exit status (devices/debug_exit.h). */
static void debug_exit(void *opaque, uint32_t value, int status)
{
	vm_request_exit(opaque, status, "guest wrote 0x%x to the debug-exit port 0x%x: "
			"exit status %d", value, DEBUG_EXIT_PORT, status);
}

static void pvpanic_event(void *opaque, enum pvpanic_action action, uint8_t value)
{
	struct vm *vm = opaque;

	switch (action) {
	case PVPANIC_PANIC:
		vm_request_exit(vm, VMM_EXIT_GUEST_PANIC, "guest kernel panicked "
				"(pvpanic event 0x%x)", value);
		break;
	case PVPANIC_CRASH_KERNEL:
		/* kdump takes over: let it work; however the VM ends later,
		 * a clean ending is reported as the panic (main()). */
		if (!atomic_exchange(&vm->crash_kernel, true))
			log_warn("guest kernel panicked and runs its crash kernel "
				 "(pvpanic event 0x%x)", value);
		break;
	case PVPANIC_POWER_OFF:
		vm_request_exit(vm, VMM_EXIT_OK, NULL);
		break;
	case PVPANIC_IGNORE:
		break;
	}
}

/* Port 0x80: POST codes from firmware and Linux's I/O delay.  Writes are
 * discarded; the first one timestamps "first guest instruction" for
 * --trace-boot (our test guest writes it first thing). */
static const struct bus_ops post_ops = { 0 };

static void devices_init(struct vm *vm, int console_fd)
{
	int ret;

	ret = serial_init(&vm->serial, &vm->pio, LAYOUT_SERIAL_PORT, console_fd,
			  serial_irq, vm);
	if (ret)
		die("serial port: %s", strerror(-ret));
	vm->serial.stop = &vm->exiting;
	ret = i8042_init(&vm->i8042, &vm->pio, i8042_reset, vm);
	if (ret)
		die("i8042: %s", strerror(-ret));
	ret = bus_register(&vm->pio, 0x80, 1, &post_ops, NULL);
	if (ret)
		die("port 0x80: %s", strerror(-ret));
	ret = debug_exit_init(&vm->debug_exit, &vm->pio, DEBUG_EXIT_PORT, debug_exit, vm);
	if (ret)
		die("debug-exit port: %s", strerror(-ret));
	/* pvpanic at QEMU's ISA port and at the MMIO address the device tree
	 * gives (write_fdt()). */
	pvpanic_init(&vm->pvpanic, pvpanic_event, vm);
	ret = pvpanic_register(&vm->pvpanic, &vm->pio, PVPANIC_PORT, PVPANIC_PORT_LEN);
	if (!ret)
		ret = pvpanic_register(&vm->pvpanic, &vm->mmio, LAYOUT_PVPANIC_MMIO,
				       LAYOUT_PVPANIC_MMIO_SIZE);
	if (ret)
		die("pvpanic: %s", strerror(-ret));
}

/* ---- boot ------------------------------------------------------------- */

/* The guest's command line: the configured one plus reboot=panic_warm (so
 * that the reboot of a panic can be told from a clean one, panic_reboot.h)
 * unless every reboot is warm anyway, and, with command-line discovery, one
 * virtio_mmio.device= per device. */
static void build_cmdline(struct vm *vm, const struct vm_config *cfg,
			  const struct virtio_devs *vd, char *buf, size_t size)
{
	const char *base = cfg->cmdline ? cfg->cmdline : CONFIG_DEFAULT_CMDLINE;

	if (strlen(base) >= size)
		die("kernel command line is longer than %zu bytes", size - 1);
	strcpy(buf, base);
	if (panic_reboot_applicable(buf)) {
		if (panic_reboot_add(buf, size))
			die("kernel command line plus %s is longer than %zu bytes",
			    PANIC_REBOOT_PARAM, size - 1);
		vm->panic_reboot = true;
	}
	if (cfg->discovery == DISCOVERY_CMDLINE && virtio_devs_cmdline(vd, buf, size))
		die("kernel command line plus virtio devices is longer than %zu bytes", size - 1);
}

/* Device discovery through a flattened device tree in setup_data: CPUs,
 * APICs, serial port and virtio devices, and no MP table alongside (Linux
 * takes the CPUs and IO-APIC from the tree). */
static uint64_t write_fdt(struct vm *vm, const struct vm_config *cfg,
			  const struct virtio_devs *vd, const char *cmdline)
{
	struct fdt_vm_desc d;
	uint64_t gpa;
	int ret;

	fdt_desc_init_x86(&d, cfg->vcpus, cmdline);
	for (unsigned i = 0; i < vd->n; i++)
		if (fdt_add_virtio(&d, vd->slot[i].base, LAYOUT_VIRTIO_MMIO_SIZE, vd->slot[i].irq))
			die("device tree: too many virtio devices");
	fdt_add_pvpanic(&d, LAYOUT_PVPANIC_MMIO, LAYOUT_PVPANIC_MMIO_SIZE);
	ret = fdt_write_setup_data(&vm->mem, &d, &gpa);
	if (ret)
		die("device tree: %s", strerror(-ret));
	return gpa;
}

static void load_guest(struct vm *vm, const struct vm_config *cfg,
		       const struct virtio_devs *vd, uint64_t *entry)
{
	static char cmdline[LAYOUT_CMDLINE_MAX];
	struct kernel_image k;
	struct x86_boot_info bi = { .kernel = &k };
	char err[ERRLEN];
	void *img = NULL;
	size_t len, ilen;
	int ret;

	if (loader_read_file(cfg->kernel_path, &img, &len, err, sizeof(err)))
		die("kernel %s: %s", cfg->kernel_path, err);
	if (loader_load(&vm->mem, img, len, &k, err, sizeof(err)))
		die("kernel %s: %s", cfg->kernel_path, err);
	free(img);

	if (cfg->initrd_path) {
		uint64_t max = loader_initrd_max(&k);

		int fd;
		void *dst;

		/* Read straight into guest RAM: on these hosts the cost of a
		 * large initrd is faulting in fresh memory, so a bounce
		 * buffer doubled it (docs/PERFORMANCE.md). */
		if (loader_open_file(cfg->initrd_path, &fd, &ilen, err, sizeof(err)))
			die("initrd %s: %s", cfg->initrd_path, err);
		if (loader_place_initrd(&vm->mem, k.load_end, ilen, max, &bi.initrd_gpa))
			die("initrd %s (%zu bytes) does not fit in guest RAM", cfg->initrd_path, ilen);
		dst = gm_ptr(&vm->mem, bi.initrd_gpa, ilen);
		if (!dst)
			die("initrd: placed outside guest RAM");
		if (loader_read_fd(fd, dst, ilen, err, sizeof(err)))
			die("initrd %s: %s", cfg->initrd_path, err);
		close(fd);
		bi.initrd_size = ilen;
	}

	build_cmdline(vm, cfg, vd, cmdline, sizeof(cmdline));
	bi.cmdline = cmdline;
	if (cfg->discovery == DISCOVERY_FDT) {
		bi.setup_data_gpa = write_fdt(vm, cfg, vd, cmdline);
	} else {
		ret = mptable_write(&vm->mem, cfg->vcpus);
		if (ret)
			die("MP table: %s", strerror(-ret));
	}
	if (x86_boot_setup(&vm->mem, &bi, err, sizeof(err)))
		die("%s", err);
	*entry = k.entry;
}

int main(int argc, char **argv)
{
	struct vm *vm = &the_vm;
	struct vm_config cfg;
	char err[ERRLEN];
	uint64_t entry;
	int ret, console_fd = STDOUT_FILENO;
	enum cli_action action;

	vm->t_main = vm_now_ns();
	signals_startup();
	config_defaults(&cfg);
	action = cli_parse(argc, argv, &cfg, err, sizeof(err));
	if (cfg.metrics_path)
		hold_metrics_signal();
	switch (action) {
	case CLI_HELP:
		cli_usage(stdout);
		return 0;
	case CLI_VERSION:
		cli_version(stdout);
		return 0;
	case CLI_ERROR:
		/* One line, as for every error (docs/config.md). */
		fprintf(stderr, "vmm: error: %s\n", err);
		return VMM_EXIT_SETUP;
	case CLI_RUN:
		break;
	case CLI_VHOST_USER:
		ret = vhost_user_main(&cfg);
		config_free(&cfg);
		return ret;
	}
	/* cli_parse() has validated the merged config. */
	if (virtio_devs_lock(&cfg, err, sizeof(err)))
		die("%s", err);
	if (cfg.metrics_path) {
		metrics_fd = metrics_open(cfg.metrics_path, err, sizeof(err));
		if (metrics_fd < 0)
			die("%s", err);
	}
	if (cfg.console_file) {
		console_fd = console_file_open(cfg.console_file, err, sizeof(err));
		if (console_fd < 0)
			die("%s", err);
	}
	/* Before any listener: socket permissions; warns if seccomp is off. */
	if (sandbox_configure(&cfg, err, sizeof(err)))
		die("%s", err);
	vm->trace_boot = cfg.trace_boot;
	if (cfg.trace_boot)
		log_set_level(LOG_INFO);

	raise_fd_limit();
	ret = evloop_create(&vm->ev);
	if (ret)
		die("event loop: %s", strerror(-ret));
	/* Guest RAM and the guest image first: bad input is reported before
	 * KVM is touched. */
	ret = gm_init(&vm->mem, cfg.mem_mib << 20);
	if (ret)
		die("cannot map %llu MiB of guest RAM: %s",
		    (unsigned long long)cfg.mem_mib, strerror(-ret));
	virtio_devs_plan(&vdevs, &cfg);
	load_guest(vm, &cfg, &vdevs, &entry);
	/* The host sockets before KVM too: a path in use is reported first. */
	if (virtio_devs_open(&vdevs, vm->ev, &cfg, err, sizeof(err)))
		die("%s", err);
	if (vm_create(vm, err, sizeof(err)))
		die("%s", err);
	devices_init(vm, console_fd);
	if (virtio_devs_create(&vdevs, vm, &cfg, err, sizeof(err)))
		die("%s", err);
	if (vm_create_vcpus(vm, cfg.vcpus, entry, err, sizeof(err)))
		die("%s", err);
	ret = signals_running(vm);
	if (ret)
		die("signals: %s", strerror(-ret));
	console_init(&con, vm);

	ret = vm_timeout_start(&vm_timeout, vm, cfg.timeout_s);
	if (ret)
		die("timeout timer: %s", strerror(-ret));
	/* Set-up is over: every thread enters its seccomp filter, and the
	 * vCPUs wait for the I/O thread's before running the guest. */
	if (sandbox_prepare(SANDBOX_KIND_BIT(SANDBOX_VCPU) | SANDBOX_KIND_BIT(SANDBOX_IO) |
			    SANDBOX_KIND_BIT(SANDBOX_DEBUG),
			    cfg.trace_boot ? (const char *const[]){ trace_smaps_path, NULL } : NULL,
			    err, sizeof(err)))
		die("%s", err);
	ret = vm_start_vcpus(vm);
	if (ret)
		die("starting vCPU threads: %s", strerror(-ret));
	if (sandbox_release(SANDBOX_IO, err, sizeof(err)))
		die("%s", err);
	ret = evloop_run(vm->ev);
	if (ret && !atomic_load(&vm->exiting))
		vm_request_exit(vm, VMM_EXIT_SETUP, "event loop: %s", strerror(-ret));

	/* Stop the vCPUs before tearing devices down under them. */
	vm_stop_vcpus(vm);
	write_metrics();
	virtio_devs_destroy(&vdevs);
	if (vm->exit_msg[0])
		log_warn("%s", vm->exit_msg);
	if (vm->exit_code == VMM_EXIT_OK && atomic_load(&vm->crash_kernel)) {
		vm->exit_code = VMM_EXIT_GUEST_PANIC;
		log_warn("exit status %d: the guest kernel panicked earlier", vm->exit_code);
	}
	if (vm->trace_boot)
		trace_report(stderr, vm);
	/* vCPU threads may still be inside KVM_RUN; exit() ends them with the
	 * process.  Flush our own output first; atexit restores the tty. */
	fflush(stdout);
	config_free(&cfg);
	exit(vm->exit_code);
}
