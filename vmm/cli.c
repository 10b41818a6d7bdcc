// SPDX-License-Identifier: MIT
/*
 * Command-line parsing.  "vmm run" options go through getopt_long; their
 * values are checked and collected first, then the --config file (if any) is
 * merged, then the flags are applied on top, then config_validate() runs.
 */
#include "cli.h"
#include "exit_status.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/packet.h"

#ifndef VMM_VERSION
#define VMM_VERSION "unknown"
#endif

enum {
	OPT_KERNEL = 256, /* above any short option character */
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_VCPUS,
	OPT_MEM,
	OPT_CONFIG,
	OPT_VSOCK_CID,
	OPT_VSOCK_UDS,
	OPT_VSOCK_FWD_OUT,
	OPT_VSOCK_PEER,
	OPT_VSOCK_FWD_IN,
	OPT_VSOCK_MAX_CONNS,
	OPT_DISCOVERY,
	OPT_NOTIFY,
	OPT_TRACE_BOOT,
	OPT_METRICS,
	OPT_TIMEOUT,
	OPT_CONSOLE_FILE,
	OPT_HELP,         /* --help; -h is 'h' */
	OPT_SOCKET,       /* vhost-user only */
	OPT_NO_SECCOMP,
	OPT_VSOCK_SOCKET_GROUP,
	OPT_VSOCK_DGRAM,
};

static const struct option run_options[] = {
	{ "kernel",     required_argument, NULL, OPT_KERNEL },
	{ "initrd",     required_argument, NULL, OPT_INITRD },
	{ "cmdline",    required_argument, NULL, OPT_CMDLINE },
	{ "vcpus",      required_argument, NULL, OPT_VCPUS },
	{ "mem",        required_argument, NULL, OPT_MEM },
	{ "config",     required_argument, NULL, OPT_CONFIG },
	{ "vsock-cid",  required_argument, NULL, OPT_VSOCK_CID },
	{ "vsock-uds",  required_argument, NULL, OPT_VSOCK_UDS },
	{ "vsock-forward-out", required_argument, NULL, OPT_VSOCK_FWD_OUT },
	{ "vsock-peer",        required_argument, NULL, OPT_VSOCK_PEER },
	{ "vsock-forward-in",  required_argument, NULL, OPT_VSOCK_FWD_IN },
	{ "vsock-max-conns",   required_argument, NULL, OPT_VSOCK_MAX_CONNS },
	{ "discovery",  required_argument, NULL, OPT_DISCOVERY },
	{ "notify",     required_argument, NULL, OPT_NOTIFY },
	{ "trace-boot", no_argument,       NULL, OPT_TRACE_BOOT },
	{ "metrics",    required_argument, NULL, OPT_METRICS },
	{ "timeout",    required_argument, NULL, OPT_TIMEOUT },
	{ "console-file", required_argument, NULL, OPT_CONSOLE_FILE },
	{ "help",       no_argument,       NULL, OPT_HELP },
	{ "socket",     required_argument, NULL, OPT_SOCKET },
	{ "no-seccomp", no_argument,       NULL, OPT_NO_SECCOMP },
	{ "vsock-socket-group", required_argument, NULL, OPT_VSOCK_SOCKET_GROUP },
	{ "vsock-dgram", no_argument,      NULL, OPT_VSOCK_DGRAM },
	{ NULL, 0, NULL, 0 },
};

/* Flag values, checked, before they are applied over the config file. */
struct run_flags {
	const char *config, *kernel, *initrd, *cmdline, *uds;
	const char *socket;        /* vhost-user */
	const char *metrics;
	const char *socket_group;  /* --vsock-socket-group */
	bool no_seccomp;
	bool dgram;                /* --vsock-dgram */
	bool vhost_user;           /* parsing "vmm vhost-user" */
	bool has_vcpus, has_mem, has_cid, has_discovery, has_notify, trace_boot;
	bool has_max_conns;
	bool has_timeout;
	const char *console_file;
	uint64_t vcpus, mem_mib, cid, max_conns, timeout_s;
	struct config_fwd *fwd_out, *fwd_in; /* repeatable flags, in order */
	unsigned n_fwd_out, n_fwd_in;
	struct config_peer *peers;           /* --vsock-peer, in order */
	unsigned n_peers;
	enum discovery discovery;
	enum notify_mode notify;
};

/* One line into err, control characters replaced (argv can hold anything). */
static enum cli_action __attribute__((format(printf, 3, 4)))
cli_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return CLI_ERROR;
}

static const char *option_name(int val)
{
	for (const struct option *o = run_options; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

/* How many long options "--NAME[=VALUE]" abbreviates (getopt_long accepts
 * unambiguous prefixes). */
static int prefix_matches(const char *arg)
{
	size_t len;
	int n = 0;

	if (strncmp(arg, "--", 2) != 0)
		return 0;
	arg += 2;
	len = strcspn(arg, "=");
	for (const struct option *o = run_options; o->name; o++)
		if (strncmp(o->name, arg, len) == 0)
			n++;
	return n;
}

static bool looks_like_option(const char *s)
{
	return s[0] == '-' && s[1] == '-' &&
	       ((s[2] >= 'a' && s[2] <= 'z') || (s[2] >= 'A' && s[2] <= 'Z'));
}

/* Plain decimal in [min, max]: no sign, spaces, suffix or base prefix.
 * `note` is appended to the out-of-range message. */
static int parse_number(const char *flag, const char *s, uint64_t min, uint64_t max,
			const char *note, uint64_t *out, char *err, size_t errlen)
{
	unsigned long long v;
	const char *p = s;

	if (*s == '\0') {
		cli_error(err, errlen, "--%s: empty value, expected a number", flag);
		return -EINVAL;
	}
	if (*s == '-') {
		cli_error(err, errlen, "--%s: '%s' is negative", flag, s);
		return -EINVAL;
	}
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != '\0') {
		cli_error(err, errlen, "--%s: '%s' is not a decimal number", flag, s);
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, NULL, 10);
	if (errno == ERANGE || v < min || v > max) {
		cli_error(err, errlen, "--%s: %s is out of range %llu..%llu%s", flag, s,
			  (unsigned long long)min, (unsigned long long)max, note);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int take_path(const char *flag, const char *val, const char **dst,
		     char *err, size_t errlen)
{
	if (*val == '\0') {
		cli_error(err, errlen, "--%s: empty path", flag);
		return -EINVAL;
	}
	*dst = val;
	return 0;
}

#define ADDR_HELP "(IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)"

/* "tcp:HOST:PORT", "udp:HOST:PORT" or "unix:PATH" into *f.  0, or -EINVAL
 * with a message. */
static int parse_target(const char *flag, const char *s, struct config_fwd *f,
			char *err, size_t errlen)
{
	if (strncmp(s, "tcp:", 4) == 0 || strncmp(s, "udp:", 4) == 0) {
		if (config_parse_tcp_addr(s + 4, f) == 0) {
			if (s[0] == 'u')
				f->kind = CONFIG_FWD_UDP;
			return 0;
		}
		cli_error(err, errlen, "--%s: '%s' is not a numeric address and port "
			  ADDR_HELP, flag, s + 4);
		return -EINVAL;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] == '\0') {
			cli_error(err, errlen, "--%s: empty path", flag);
			return -EINVAL;
		}
		f->kind = CONFIG_FWD_UNIX;
		f->path = (char *)(s + 5); /* borrowed until appended (copied) */
		return 0;
	}
	cli_error(err, errlen, "--%s: '%s' is none of tcp:HOST:PORT, udp:HOST:PORT and "
		  "unix:PATH", flag, s);
	return -EINVAL;
}

/* --vsock-peer CID=PATH (repeatable; a CID given twice is an error). */
static int take_peer(struct run_flags *f, const char *flag, const char *val,
		     char *err, size_t errlen)
{
	const char *eq = strchr(val, '=');
	char *cstr;
	uint64_t cid;
	int rc;

	if (!eq || !eq[1]) {
		cli_error(err, errlen, "--%s: '%s' is not CID=PATH", flag, val);
		return -EINVAL;
	}
	cstr = strndup(val, (size_t)(eq - val));
	if (!cstr) {
		cli_error(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = parse_number(flag, cstr, VSOCK_GUEST_CID_MIN, VSOCK_GUEST_CID_MAX,
			  CONFIG_CID_RESERVED, &cid, err, errlen);
	free(cstr);
	if (rc)
		return -EINVAL;
	for (unsigned j = 0; j < f->n_peers; j++)
		if (f->peers[j].cid == cid) {
			cli_error(err, errlen, "--%s: CID %llu is given twice", flag,
				  (unsigned long long)cid);
			return -EINVAL;
		}
	if (config_peer_set(&f->peers, &f->n_peers, (uint32_t)cid, eq + 1)) {
		cli_error(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* --vsock-forward-out P=tcp:HOST:PORT|P=udp:HOST:PORT|P=unix:PATH,
 * --vsock-forward-in tcp:HOST:PORT=P|udp:HOST:PORT=P|unix:PATH=P. */
static int take_forward(struct run_flags *f, bool out, const char *flag, const char *val,
			char *err, size_t errlen)
{
	struct config_fwd fw = { 0 };
	const char *eq = out ? strchr(val, '=') : strrchr(val, '=');
	struct config_fwd **list = out ? &f->fwd_out : &f->fwd_in;
	unsigned *n = out ? &f->n_fwd_out : &f->n_fwd_in;
	char name[160], *pstr = NULL, *target = NULL;
	uint64_t p;
	int rc = -1;

	if (!eq) {
		cli_error(err, errlen, "--%s: '%s' is not %s", flag, val,
			  out ? "PORT=tcp:HOST:PORT, PORT=udp:HOST:PORT or PORT=unix:PATH"
			      : "tcp:HOST:PORT=PORT, udp:HOST:PORT=PORT or unix:PATH=PORT");
		return -EINVAL;
	}
	pstr = out ? strndup(val, (size_t)(eq - val)) : strdup(eq + 1);
	target = out ? strdup(eq + 1) : strndup(val, (size_t)(eq - val));
	if (!pstr || !target) {
		cli_error(err, errlen, "out of memory");
		goto out;
	}
	if (parse_number(flag, pstr, 0, CONFIG_VSOCK_PORT_MAX, " (the guest's vsock port)",
			 &p, err, errlen))
		goto out;
	fw.port = (uint32_t)p;
	if (parse_target(flag, target, &fw, err, errlen))
		goto out;
	if (out && fw.kind == CONFIG_FWD_UDP && config_udp_port_reserved(fw.port)) {
		cli_error(err, errlen, "--%s: port %u is a host port of the udp forward_in "
			  "clients, not for a udp forward_out", flag, fw.port);
		goto out;
	}
	snprintf(fw.origin, sizeof(fw.origin), "--%s", flag);
	for (unsigned j = 0; j < *n; j++) {
		/* udp and tcp/unix forward_out ports are separate namespaces. */
		if (out && (*list)[j].port == fw.port && config_fwd_same_ns(&(*list)[j], &fw)) {
			cli_error(err, errlen, "--%s: port %u is given twice", flag, fw.port);
			goto out;
		}
		if (!out && config_fwd_same_addr(&(*list)[j], &fw)) {
			cli_error(err, errlen, "--%s: %s is given twice", flag,
				  config_fwd_name(&fw, name, sizeof(name)));
			goto out;
		}
	}
	if (config_fwd_append(list, n, &fw)) { /* copies the path */
		cli_error(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(pstr);
	free(target);
	return rc;
}

/* One option's value into the flags.  0, or -EINVAL with a message. */
static int take_flag(struct run_flags *f, int opt, const char *val, char *err, size_t errlen)
{
	const char *name = option_name(opt);

	switch (opt) {
	case OPT_KERNEL:
		return take_path(name, val, &f->kernel, err, errlen);
	case OPT_INITRD:
		return take_path(name, val, &f->initrd, err, errlen);
	case OPT_CONFIG:
		return take_path(name, val, &f->config, err, errlen);
	case OPT_VSOCK_UDS:
		return take_path(name, val, &f->uds, err, errlen);
	case OPT_SOCKET:
		return take_path(name, val, &f->socket, err, errlen);
	case OPT_CONSOLE_FILE:
		return take_path(name, val, &f->console_file, err, errlen);
	case OPT_TIMEOUT:
		f->has_timeout = true;
		return parse_number(name, val, 0, CONFIG_MAX_TIMEOUT_S, " seconds (0: none)",
				    &f->timeout_s, err, errlen);
	case OPT_CMDLINE:
		f->cmdline = val; /* may be empty */
		return 0;
	case OPT_VCPUS:
		f->has_vcpus = true;
		return parse_number(name, val, 1, CONFIG_MAX_VCPUS, "", &f->vcpus,
				    err, errlen);
	case OPT_MEM:
		f->has_mem = true;
		return parse_number(name, val, CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB, "",
				    &f->mem_mib, err, errlen);
	case OPT_VSOCK_CID:
		f->has_cid = true;
		return parse_number(name, val, VSOCK_GUEST_CID_MIN, VSOCK_GUEST_CID_MAX,
				    CONFIG_CID_RESERVED, &f->cid, err, errlen);
	case OPT_DISCOVERY:
		f->has_discovery = true;
		if (config_parse_discovery(val, &f->discovery)) {
			cli_error(err, errlen, "--%s: '%s' is not 'cmdline' or 'fdt'", name, val);
			return -EINVAL;
		}
		return 0;
	case OPT_NOTIFY:
		f->has_notify = true;
		if (config_parse_notify(val, &f->notify)) {
			cli_error(err, errlen, "--%s: '%s' is not 'ioeventfd' or 'mmio'", name, val);
			return -EINVAL;
		}
		return 0;
	case OPT_TRACE_BOOT:
		f->trace_boot = true;
		return 0;
	case OPT_METRICS:
		if (!*val) {
			cli_error(err, errlen, "--%s: empty path", name);
			return -EINVAL;
		}
		f->metrics = val;
		return 0;
	case OPT_NO_SECCOMP:
		f->no_seccomp = true;
		return 0;
	case OPT_VSOCK_DGRAM:
		f->dgram = true;
		return 0;
	case OPT_VSOCK_SOCKET_GROUP:
		if (*val == '\0') {
			cli_error(err, errlen, "--%s: empty group", name);
			return -EINVAL;
		}
		f->socket_group = val;
		return 0;
	case OPT_VSOCK_FWD_OUT:
		return take_forward(f, true, name, val, err, errlen);
	case OPT_VSOCK_PEER:
		return take_peer(f, name, val, err, errlen);
	case OPT_VSOCK_FWD_IN:
		return take_forward(f, false, name, val, err, errlen);
	case OPT_VSOCK_MAX_CONNS:
		f->has_max_conns = true;
		return parse_number(name, val, 1, CONFIG_MAX_MAX_CONNS, "", &f->max_conns,
				    err, errlen);
	}
	cli_error(err, errlen, "internal error: option %d", opt);
	return -EINVAL;
}

static int replace_str(char **dst, const char *src)
{
	char *s = strdup(src);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}
/* The flags over whatever the config file left in c. */
static int apply_flags(const struct run_flags *f, struct vm_config *c)
{
	if ((f->kernel && replace_str(&c->kernel_path, f->kernel)) ||
	    (f->initrd && replace_str(&c->initrd_path, f->initrd)) ||
	    (f->cmdline && replace_str(&c->cmdline, f->cmdline)) ||
	    (f->uds && replace_str(&c->uds_path, f->uds)) ||
	    (f->console_file && replace_str(&c->console_file, f->console_file)))
		return -ENOMEM;
	if (f->has_timeout)
		c->timeout_s = f->timeout_s;
	if (f->uds || f->has_cid || f->n_fwd_out || f->n_fwd_in || f->has_max_conns ||
	    f->dgram || f->n_peers)
		c->has_vsock = true;
	if (f->dgram)
		c->vsock_dgram = true;
	/* A peer flag replaces the file's entry for the same CID. */
	for (unsigned i = 0; i < f->n_peers; i++)
		if (config_peer_set(&c->peers, &c->n_peers, f->peers[i].cid, f->peers[i].path))
			return -ENOMEM;
	if (f->has_max_conns)
		c->max_conns = (uint32_t)f->max_conns;
	/* A forward flag replaces the file's entry for the same guest port
	 * (out) or listener address (in); others are added. */
	for (unsigned i = 0; i < f->n_fwd_out; i++) {
		unsigned j = 0;

		while (j < c->n_fwd_out && (c->fwd_out[j].port != f->fwd_out[i].port ||
					    !config_fwd_same_ns(&c->fwd_out[j], &f->fwd_out[i])))
			j++;
		if (j < c->n_fwd_out) {
			free(c->fwd_out[j].path);
			c->fwd_out[j] = f->fwd_out[i];
			c->fwd_out[j].path = NULL;
			if (f->fwd_out[i].path && !(c->fwd_out[j].path = strdup(f->fwd_out[i].path)))
				return -ENOMEM;
		} else if (config_fwd_append(&c->fwd_out, &c->n_fwd_out, &f->fwd_out[i])) {
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < f->n_fwd_in; i++) {
		unsigned j = 0;

		while (j < c->n_fwd_in && !config_fwd_same_addr(&c->fwd_in[j], &f->fwd_in[i]))
			j++;
		if (j < c->n_fwd_in) {
			c->fwd_in[j].port = f->fwd_in[i].port;
			memcpy(c->fwd_in[j].origin, f->fwd_in[i].origin, sizeof(c->fwd_in[j].origin));
		}
		else if (config_fwd_append(&c->fwd_in, &c->n_fwd_in, &f->fwd_in[i]))
			return -ENOMEM;
	}
	if (f->has_cid)
		c->guest_cid = (uint32_t)f->cid;
	if (f->has_vcpus)
		c->vcpus = (unsigned)f->vcpus;
	if (f->has_mem)
		c->mem_mib = f->mem_mib;
	if (f->has_discovery)
		c->discovery = f->discovery;
	if (f->has_notify)
		c->notify = f->notify;
	if (f->trace_boot)
		c->trace_boot = true;
	if (f->socket && replace_str(&c->vhost_user_socket, f->socket))
		return -ENOMEM;
	if (f->metrics && replace_str(&c->metrics_path, f->metrics))
		return -ENOMEM;
	if (f->no_seccomp)
		c->no_seccomp = true;
	if (f->socket_group && replace_str(&c->vsock_socket_group, f->socket_group))
		return -ENOMEM;
	return 0;
}

/* "vmm vhost-user" takes --socket and the vsock flags; "vmm run" all
 * others. */
static bool option_applies(const struct run_flags *f, int opt)
{
	switch (opt) {
	case OPT_SOCKET:
		return f->vhost_user;
	case OPT_VSOCK_CID:
	case OPT_VSOCK_UDS:
	case OPT_VSOCK_FWD_OUT:
	case OPT_VSOCK_FWD_IN:
	case OPT_VSOCK_PEER:
	case OPT_VSOCK_MAX_CONNS:
	case OPT_METRICS:
	case OPT_NO_SECCOMP:
	case OPT_VSOCK_SOCKET_GROUP:
	case OPT_VSOCK_DGRAM:
		return true;
	default:
		return !f->vhost_user;
	}
}

/* argv[0] is "run" or "vhost-user". */
static enum cli_action parse_run_flags(struct run_flags *fl, int argc, char **argv,
				       struct vm_config *c, char *err, size_t errlen);

static enum cli_action parse_run(int argc, char **argv, struct vm_config *c,
				 char *err, size_t errlen)
{
	struct run_flags f = { .vhost_user = strcmp(argv[0], "vhost-user") == 0 };
	enum cli_action a = parse_run_flags(&f, argc, argv, c, err, errlen);

	config_fwd_free(f.fwd_out, f.n_fwd_out);
	config_fwd_free(f.fwd_in, f.n_fwd_in);
	config_peers_free(f.peers, f.n_peers);
	return a;
}

static enum cli_action parse_run_flags(struct run_flags *fl, int argc, char **argv,
				       struct vm_config *c, char *err, size_t errlen)
{
	int opt;

	optind = 0; /* full re-initialisation of getopt (GNU), so we can be called again */
	opterr = 0; /* our own messages */
	/* '+': stop at the first non-option; ':': report a missing value as ':' */
	while ((opt = getopt_long(argc, argv, "+:h", run_options, NULL)) != -1) {
		const char *arg = argv[optind - 1];

		switch (opt) {
		case 'h':
		case OPT_HELP:
			return CLI_HELP;
		case ':':
			return cli_error(err, errlen, "option '--%s' needs a value",
					 option_name(optopt));
		case '?':
			if (optopt >= OPT_KERNEL) /* a value given to a flag that takes none */
				return cli_error(err, errlen, "option '--%s' takes no value",
						 option_name(optopt));
			if (optopt)
				return cli_error(err, errlen, "unknown option '-%c'", optopt);
			if (prefix_matches(arg) > 1)
				return cli_error(err, errlen, "ambiguous option '%s'", arg);
			return cli_error(err, errlen, "unknown option '%s'", arg);
		}
		/* "--kernel --mem 64" is a forgotten value, not a kernel named
		 * "--mem"; a value that really looks like "--name" takes the
		 * --kernel=VALUE form. */
		if (optarg && optarg == arg && looks_like_option(optarg))
			return cli_error(err, errlen, "option '--%s' needs a value "
					 "(got option '%s')", option_name(opt), optarg);
		if (!option_applies(fl, opt))
			return cli_error(err, errlen, "option '--%s' does not apply to 'vmm %s'",
					 option_name(opt), fl->vhost_user ? "vhost-user" : "run");
		if (take_flag(fl, opt, optarg, err, errlen))
			return CLI_ERROR;
	}
	if (optind < argc)
		return cli_error(err, errlen, "unexpected argument '%s'", argv[optind]);

	if (fl->config && config_load_json(c, fl->config, err, errlen))
		return CLI_ERROR;
	if (apply_flags(fl, c))
		return cli_error(err, errlen, "out of memory");
	if (fl->vhost_user)
		return config_validate_vhost_user(c, err, errlen) ? CLI_ERROR : CLI_VHOST_USER;
	if (config_validate(c, err, errlen))
		return CLI_ERROR;
	return CLI_RUN;
}

enum cli_action cli_parse(int argc, char **argv, struct vm_config *c,
			  char *err, size_t errlen)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	enum cli_action action;

	if (!cmd)
		return cli_error(err, errlen, "no command given");
	if (strcmp(cmd, "run") == 0 || strcmp(cmd, "vhost-user") == 0)
		return parse_run(argc - 1, argv + 1, c, err, errlen);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		action = CLI_HELP;
	else if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
		action = CLI_VERSION;
	else if (cmd[0] == '-')
		return cli_error(err, errlen, "unknown option '%s'", cmd);
	else
		return cli_error(err, errlen, "unknown command '%s'", cmd);
	if (argc > 2)
		return cli_error(err, errlen, "unexpected argument '%s' after '%s'",
				 argv[2], cmd);
	return action;
}

void cli_usage(FILE *f)
{
	fprintf(f,
"Usage: vmm run --kernel PATH [OPTION...]\n"
"       vmm run --config FILE [OPTION...]\n"
"       vmm vhost-user --socket PATH --vsock-cid N [--vsock-* OPTION...]\n"
"       vmm --help | --version\n"
"\n"
"Boot a KVM microVM with a virtio-vsock device.\n"
"\n"
"Options of 'run' ('--flag VALUE' or '--flag=VALUE'; flags override the file):\n"
"  --kernel PATH        guest kernel: ELF (vmlinux, test guest) or bzImage\n"
"  --initrd PATH        initial ramdisk\n"
"  --cmdline STR        kernel command line (default \"%s\")\n"
"  --vcpus N            vCPUs, 1..%d (default %d)\n"
"  --mem MIB            guest RAM in MiB, %d..%d and at most the host's RAM\n"
"                       (default %d)\n"
"  --config FILE        JSON config with Firecracker's key names; relative\n"
"                       paths in it are relative to FILE's directory\n"
"  --vsock-cid N        add a vsock device with guest CID N, 3..4294967294\n"
"  --vsock-uds PATH     Unix socket for host<->guest vsock (Firecracker's\n"
"                       hybrid vsock; PATH_seqpacket for SOCK_SEQPACKET);\n"
"                       needs a CID\n"
"  --vsock-forward-out P=tcp:HOST:PORT | P=unix:PATH | P=udp:HOST:PORT\n"
"                       guest connections to host port P go there instead of\n"
"                       PATH_P (repeatable; HOST numeric or localhost); udp:\n"
"                       guest datagrams to P (needs --vsock-dgram)\n"
"  --vsock-forward-in tcp:HOST:PORT=P | unix:PATH=P | udp:HOST:PORT=P\n"
"                       listen there; each client is a stream into guest\n"
"                       port P, no handshake (repeatable); udp: each\n"
"                       datagram goes to guest port P (needs --vsock-dgram)\n"
"  --vsock-peer CID=PATH  a sibling VM: guest connections to CID go to its\n"
"                       VMM's vsock socket PATH (repeatable; docs/vsock.md)\n"
"  --vsock-max-conns N  vsock connections at once, 1..%u (default %u)\n"
"  --vsock-dgram        offer vsock datagrams (VIRTIO_VSOCK_F_DGRAM; off by\n"
"                       default): PATH_dgram and PATH_dgram_P, needs\n"
"                       --vsock-uds (docs/vsock.md, \"Datagrams\")\n"
"  --discovery MODE     how the guest finds virtio devices: 'cmdline'\n"
"                       (default) or 'fdt'\n"
"  --notify MODE        how queue notifications reach virtio devices:\n"
"                       'ioeventfd' (default, handled on the I/O thread) or\n"
"                       'mmio' (MMIO exit, handled on the vCPU thread)\n"
"  --trace-boot         print boot timestamps and memory to stderr\n"
"  --timeout SECONDS    end the VM after SECONDS (exit status %d); 0: never\n"
"                       (default)\n"
"  --console-file PATH  serial console output to PATH (created or\n"
"                       truncated) instead of the terminal\n"
"  --metrics PATH       append a JSON line of vsock counters to PATH at exit\n"
"                       and on SIGUSR2 (docs/config.md)\n"
"  --vsock-socket-group NAME\n"
"                       listening Unix sockets are mode 0660 and group NAME\n"
"                       (default: 0600, the owner only)\n"
"  --no-seccomp         no seccomp filters (debugging only; warns)\n"
"  -h, --help           show this help\n"
"  -V, --version        show the version (top level only)\n"
"\n"
"'vhost-user' serves the vsock device to a vhost-user front-end (QEMU's\n"
"-device vhost-user-vsock-device,chardev=...) instead of booting a guest:\n"
"  --socket PATH        listen there, serve one front-end, exit 0 when it\n"
"                       disconnects; --metrics, --no-seccomp and the\n"
"                       --vsock-* options as above\n"
"\n"
"Exit status of 'run':\n",
		CONFIG_DEFAULT_CMDLINE, CONFIG_MAX_VCPUS, CONFIG_DEFAULT_VCPUS,
		CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB, CONFIG_DEFAULT_MEM_MIB,
		CONFIG_MAX_MAX_CONNS, CONFIG_DEFAULT_MAX_CONNS, VMM_EXIT_TIMEOUT);
	vmm_exit_status_print(f);
	fputs("See docs/config.md for the JSON keys and these statuses.\n", f);
}

void cli_version(FILE *f)
{
	fprintf(f, "vmm %s\n", VMM_VERSION);
}
