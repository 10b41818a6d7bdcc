/* SPDX-License-Identifier: MIT */
#include "scenario.h"

#include <stddef.h>

#include "str.h"

/* Names are what the host tests pass in `scenario=`: keep them stable. */
const struct scenario scenarios[] = {
	{ "hello", scn_hello, "start all CPUs, print 'testguest: hello cpus=N', reset", false },
	{ "fault", scn_fault, "triple-fault on purpose (the VMM must exit non-zero)", false },
	{ "info",  scn_info,  "print the command line, TSC rate and MP table", false },
	{ "exit",  scn_exit,  "code=N [width=1|2|4]: write N to the debug-exit port 0xf4", false },
	{ "panic", scn_panic, "[via=port|mmio|reboot] [event=E]: report a panic", false },
	{ "hang",  scn_hang,  "halt for good (for the VMM's --timeout)", false },
	{ "speed", scn_speed, "cycles per KiB for crc32/prng/copy (ring=0 to compare)", true },
	/* vsock scenarios: see each scn_*.c for parameters and result lines. */
	{ "echo-server", scn_echo_server, "port=P [conns=N]: echo host connections", true },
	{ "echo-client", scn_echo_client, "port=P bytes=N [seed=S]: verified echo via host", true },
	{ "send", scn_send, "port=P bytes=N: bulk guest->host with CRC-32", true },
	{ "recv", scn_recv, "port=P [bytes=N] [listen=1]: bulk host->guest with CRC-32", true },
	{ "many", scn_many, "port=P conns=N: N concurrent connections", true },
	{ "halfclose", scn_halfclose, "port=P: reply after our SHUTDOWN(SEND)", true },
	{ "seqpacket", scn_seqpacket, "port=P: message boundaries", true },
	{ "rst", scn_rst, "port=P: connect to nothing, expect RST", true },
	{ "hostile", scn_hostile, "mode=M port=P [echoport=E]: misbehave, then echo", true },
	{ "pingpong", scn_pingpong, "port=P size=N count=K [listen=1]: round-trip latency", true },
	{ "connrate", scn_connrate, "mode=connect|accept port=P count=N: connection set-up", true },
	{ "notify", scn_notify, "count=N: TSC cycles per QueueNotify write", true },
	{ "dgram-echo", scn_dgram_echo, "port=P count=N size=S: datagrams echoed by the host", true },
	{ "dgram-server", scn_dgram_server, "port=P count=N: echo host datagrams", true },
	{ "dgram-burst", scn_dgram_burst, "port=P [hold=MS]: count a host burst taken late", true },
	{ "dgram-max", scn_dgram_max, "port=P: 64 KiB datagrams both ways (rxbuf=65536)", true },
	{ NULL, NULL, NULL, false },
};

const struct scenario *scenario_find(const char *name)
{
	for (const struct scenario *s = scenarios; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}
