#!/usr/bin/env bash
# Demo: a microVM talks to the host over vsock, both directions, with no
# network configuration.  The guest is the freestanding test guest (it boots
# in milliseconds on any KVM host; see guest-images/testguest/README.md).
#   1. host -> guest: the guest runs an echo server on vsock port 1234; a host
#      client (socat) connects through the VMM's hybrid-vsock Unix socket with
#      Firecracker's "CONNECT 1234" handshake and gets its line echoed back.
#   2. guest -> host: the guest connects to host port 5000, which the VMM maps
#      to the Unix socket <uds>_5000 where socat runs `cat`; the guest sends
#      1 MiB of pseudo-random bytes and checks the echo.
set -eu
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT

wait_for() { for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "demo: $1 never appeared" >&2; exit 1; }

echo "== 1. host -> guest: CONNECT into the guest's echo server on vsock port 1234"
build/vmm run --kernel build/testguest --vsock-cid 3 --vsock-uds "$dir/v.sock" \
	--cmdline "scenario=echo-server port=1234 conns=1" &
vmm=$!
wait_for "$dir/v.sock"
printf 'CONNECT 1234\nhello from the host, over vsock\n' |
	socat -t 5 - UNIX-CONNECT:"$dir/v.sock" > "$dir/reply"
wait $vmm
echo "vmm exited with status $?"
sed 's/^/host received: /' "$dir/reply"

echo
echo "== 2. guest -> host: the guest echo client connects to host port 5000"
socat UNIX-LISTEN:"$dir/v.sock_5000",fork EXEC:cat &
wait_for "$dir/v.sock_5000"
build/vmm run --kernel build/testguest --vsock-cid 3 --vsock-uds "$dir/v.sock" \
	--cmdline "scenario=echo-client port=5000 bytes=1048576"
echo "vmm exited with status $?"
