/* SPDX-License-Identifier: MIT */
/*
 * The VM's configuration: defaults, the JSON file (Firecracker key names) and
 * command-line flags all fill this one structure.  Flags override the file.
 */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_DEFAULT_MEM_MIB   128
#define CONFIG_DEFAULT_VCPUS     1
#define CONFIG_MAX_VCPUS         254 /* xAPIC IDs 0..253; the IO-APIC takes one more */
#define CONFIG_MIN_MEM_MIB       16
#define CONFIG_MAX_MEM_MIB       (1024 * 1024) /* 1 TiB; also bounded by host RAM */
#define CONFIG_DEFAULT_CMDLINE   "console=ttyS0 reboot=k panic=1"

/* --timeout / x-vmm.timeout_s: seconds, 0 = none. */
#define CONFIG_MAX_TIMEOUT_S     0xffffffffull

/* vsock limits and defaults. */
#define CONFIG_DEFAULT_MAX_CONNS 4096u
#define CONFIG_MAX_MAX_CONNS     (1u << 20)
#define CONFIG_VSOCK_PORT_MAX    0xfffffffeu /* 0xffffffff is VMADDR_PORT_ANY */
/* The guest CID range is VSOCK_GUEST_CID_MIN..MAX (vsock/packet.h); this
 * follows the range in messages. */
#define CONFIG_CID_RESERVED      " (0, 1, 2 and 4294967295 are reserved)"

/* A vsock port forward (docs/config.md): forward_out sends guest
 * connections to host port `port` to this address; forward_in listens on
 * it and connects every client into guest port `port`.  UDP forwards carry
 * datagrams instead (docs/vsock.md "UDP forwards"): their ports are a
 * namespace of their own, so a port may have a udp forward_out and a
 * tcp/unix one. */
enum config_fwd_kind {
	CONFIG_FWD_TCP,
	CONFIG_FWD_UNIX,
	CONFIG_FWD_UDP,
};

struct config_fwd {
	uint32_t port;                /* guest vsock port */
	enum config_fwd_kind kind;
	char *path;                   /* CONFIG_FWD_UNIX */
	struct sockaddr_storage addr; /* CONFIG_FWD_TCP, _UDP: numeric IPv4/IPv6 */
	socklen_t addrlen;
	/* Where it was given, for checks after merging: "vm.json:5:9:
	 * vsock.forward_out[0].udp" or "--vsock-forward-out"; "" if unknown. */
	char origin[300];
};

/* A udp forward_out's port may not be a host port of the forward_in
 * clients (VSOCK_DGRAM_UDP_IN_PORT_FIRST.., vsock/dgram_udp.h). */
bool config_udp_port_reserved(uint32_t port);

/* A sibling VM (docs/vsock.md "Sibling VMs"): guest connections to `cid`
 * go to that VM's VMM on its hybrid socket `path`. */
struct config_peer {
	uint32_t cid;
	char *path;
};

enum discovery {
	DISCOVERY_CMDLINE = 0, /* virtio_mmio.device=... on the kernel command line */
	DISCOVERY_FDT,         /* flattened device tree in setup_data (SETUP_DTB) */
};

/* How a guest's QueueNotify write reaches a virtio device. */
enum notify_mode {
	NOTIFY_IOEVENTFD = 0,  /* consumed in KVM, device runs on the I/O thread */
	NOTIFY_MMIO,           /* MMIO exit, device runs on the vCPU thread */
};

struct vm_config {
	char *kernel_path;   /* required */
	char *initrd_path;   /* optional, NULL if none */
	char *cmdline;       /* NULL means CONFIG_DEFAULT_CMDLINE */
	unsigned vcpus;
	uint64_t mem_mib;
	enum discovery discovery;
	enum notify_mode notify;

	/* vsock device: present when has_vsock. */
	bool has_vsock;
	uint32_t guest_cid;  /* VSOCK_GUEST_CID_MIN..MAX */
	char *uds_path;      /* hybrid vsock listener path, may be NULL */
	uint32_t max_conns;  /* 1 .. CONFIG_MAX_MAX_CONNS */
	bool vsock_dgram;    /* offer F_DGRAM (needs uds_path) */
	struct config_fwd *fwd_out;  /* guest port → host address */
	unsigned n_fwd_out;
	struct config_fwd *fwd_in;   /* host listener → guest port */
	unsigned n_fwd_in;
	struct config_peer *peers;   /* sibling VMs, distinct CIDs */
	unsigned n_peers;

	/* Diagnostics. */
	bool trace_boot;     /* print boot timestamps to stderr */
	char *metrics_path;  /* JSON-lines counters (vmm/metrics.h), may be NULL */

	/* For test runners (docs/config.md). */
	uint64_t timeout_s;  /* end the VM after this many seconds; 0: never */
	char *console_file;  /* serial output to this file, not stdout; may be NULL */

	/* Sandbox (vmm/sandbox.h, docs/sandbox.md). */
	bool no_seccomp;           /* --no-seccomp, x-vmm.seccomp false */
	char *vsock_socket_group;  /* listening sockets 0660 and this group; NULL: 0600 */

	/* "vmm vhost-user": the vsock device served to a vhost-user
	 * front-end listening on this path (no guest of our own). */
	char *vhost_user_socket;
};

/* Fill with defaults (no kernel, no vsock). */
void config_defaults(struct vm_config *c);

/* Free the strings and reset to defaults. */
void config_free(struct vm_config *c);

/*
 * Merge a JSON config file into `c`.  On error returns -EINVAL (-ENOMEM)
 * and writes one line to `err` (size errlen) naming the file, line and
 * column, e.g.
 *   "vm.json:4:5: unknown key \"vcpus\" in \"machine-config\"".
 * Returns 0 on success.  All or nothing: on error `c` is left unchanged.
 * Relative paths in the file (kernel, initrd, uds_path) are taken relative to
 * the file's directory.  The keys are listed in docs/config.md.
 */
int config_load_json(struct vm_config *c, const char *path, char *err, size_t errlen);

/* Same, from a buffer; `name` is used in messages in place of a file name,
 * and its directory part (if any) anchors relative paths. */
int config_load_json_buf(struct vm_config *c, const char *name, const char *buf,
			 size_t len, char *err, size_t errlen);

/* "cmdline" or "fdt" to *out: 0, or -EINVAL for anything else. */
/* "ioeventfd" or "mmio"; 0 or -EINVAL. */
int config_parse_notify(const char *s, enum notify_mode *out);

int config_parse_discovery(const char *s, enum discovery *out);

/* "IPV4:PORT", "[IPV6]:PORT" or "localhost:PORT" (= 127.0.0.1), numeric
 * only, port 1..65535, into *f's addr/addrlen.  0 or -EINVAL. */
int config_parse_tcp_addr(const char *s, struct config_fwd *f);

/* "tcp:127.0.0.1:2222", "udp:127.0.0.1:53" or "unix:/path" into buf (for
 * messages). */
const char *config_fwd_name(const struct config_fwd *f, char *buf, size_t size);

/* Same listener address (same kind and address or path). */
bool config_fwd_same_addr(const struct config_fwd *a, const struct config_fwd *b);

/* Same namespace of forward_out ports: UDP (datagrams) or not (streams). */
bool config_fwd_same_ns(const struct config_fwd *a, const struct config_fwd *b);

/* Append a deep copy of *f to a list: 0 or -ENOMEM. */
int config_fwd_append(struct config_fwd **list, unsigned *n, const struct config_fwd *f);

/* Free a list's strings and the list. */
void config_fwd_free(struct config_fwd *list, unsigned n);

/* Add sibling (cid, path) to a list, or replace the path of the entry with
 * that cid (path copied): 0 or -ENOMEM. */
int config_peer_set(struct config_peer **list, unsigned *n, uint32_t cid, const char *path);

/* Free a peer list's strings and the list. */
void config_peers_free(struct config_peer *list, unsigned n);

/* Final checks after all sources are merged (kernel present, ranges, host
 * RAM).  0, or -EINVAL with a message in err. */
int config_validate(const struct vm_config *c, char *err, size_t errlen);

/* The same for "vmm vhost-user": a socket path and a vsock device (CID),
 * and the vsock checks of config_validate(); no kernel. */
int config_validate_vhost_user(const struct vm_config *c, char *err, size_t errlen);

#endif
