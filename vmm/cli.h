/* SPDX-License-Identifier: MIT */
/*
 * Command-line parsing:
 *   vmm run --kernel PATH [--initrd PATH] [--cmdline STR] [--vcpus N]
 *           [--mem MIB] [--config FILE] [--vsock-cid N] [--vsock-uds PATH]
 *           [--vsock-forward-out P=tcp:HOST:PORT|P=unix:PATH]...
 *           [--vsock-forward-in tcp:HOST:PORT=P|unix:PATH=P]...
 *           [--vsock-max-conns N] [--discovery cmdline|fdt]
 *           [--notify ioeventfd|mmio] [--trace-boot]
 *   vmm vhost-user --socket PATH --vsock-cid N [--vsock-uds PATH]
 *           [--vsock-forward-out ...]... [--vsock-forward-in ...]...
 *           [--vsock-max-conns N]
 *   vmm --help | vmm --version
 * The config file (if any) is loaded first, then every flag overrides it.
 */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stdio.h>
#include "config.h"

enum cli_action {
	CLI_RUN,      /* boot a VM with the parsed config */
	CLI_HELP,     /* print usage to stdout, exit 0 */
	CLI_VERSION,  /* print version to stdout, exit 0 */
	CLI_ERROR,    /* message in err; exit non-zero */
	CLI_VHOST_USER, /* serve the vsock device over vhost-user (c->vhost_user_socket) */
};

/* Parse argv into `c` (already holding defaults).  Loads --config itself and
 * runs config_validate() for CLI_RUN.  On CLI_ERROR, err holds one line and c
 * may hold part of the input: config_free() it in every case.  Uses getopt's
 * globals, so not thread safe; may be called again. */
enum cli_action cli_parse(int argc, char **argv, struct vm_config *c,
			  char *err, size_t errlen);

/* The --help text. */
void cli_usage(FILE *f);

/* "vmm VERSION\n", for --version. */
void cli_version(FILE *f);

#endif
