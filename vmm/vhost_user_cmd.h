/* SPDX-License-Identifier: MIT */
/*
 * "vmm vhost-user": serve the vsock device of `cfg` to one vhost-user
 * front-end on cfg->vhost_user_socket (see vhost_user_cmd.c).  Returns the
 * process exit status.
 */
#ifndef VMM_VHOST_USER_CMD_H
#define VMM_VHOST_USER_CMD_H

#include "config.h"

int vhost_user_main(const struct vm_config *cfg);

#endif
