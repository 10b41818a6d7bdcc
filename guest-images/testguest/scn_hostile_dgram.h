/* SPDX-License-Identifier: MIT */
/*
 * The datagram modes of scenario=hostile (scn_hostile_dgram.c).
 */
#ifndef TG_SCN_HOSTILE_DGRAM_H
#define TG_SCN_HOSTILE_DGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vsock.h"

/* Is `mode` one of ours ("dgram-...")? */
bool hostile_dgram_mode(const char *mode);

/* Run it against host port `port` (for dgram-rx-starve: the guest port the
 * host floods); `par` is the stream connection scn_hostile keeps open
 * across it.  What the device did goes to obs.  0, or -1 when the mode
 * could not be set up (obs says why). */
int hostile_dgram(const char *mode, uint32_t port, struct vs_conn *par,
		  char *obs, size_t size);

#endif
