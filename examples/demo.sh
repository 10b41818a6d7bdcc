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
# Exits non-zero if either direction does not work.
# Without a usable /dev/kvm (missing, or not readable and writable; see
# docs/test-hosts.md) it says so and runs examples/demo-qemu.sh instead: the
# same two directions with a real Linux guest under QEMU's software emulation
# (TCG), whose vsock device is ours, served by `build/vmm vhost-user`.
# shellcheck disable=SC2015  # "A && B || fail": fail unless both hold, as meant
set -u
cd "$(dirname "$0")/.." || exit 1
if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "NOTE: /dev/kvm is missing or not readable+writable: running the demo with a Linux guest under QEMU TCG instead, its vsock device served by build/vmm vhost-user (examples/demo-qemu.sh)"
	exec examples/demo-qemu.sh
fi
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

# Wait (up to 10 s) until file $1 contains a line matching $2.
wait_for_line() {
	for _ in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "no '$2' in $1: $(cat "$1" 2>/dev/null)"
}

echo "== 1. host -> guest: CONNECT into the guest's echo server on vsock port 1234"
timeout 30 build/vmm run --kernel build/testguest --vsock-cid 3 --vsock-uds "$dir/v.sock" \
	--cmdline "scenario=echo-server port=1234 conns=1" > "$dir/guest1" &
vmm=$!
# The socket file exists as soon as the VMM runs; the guest listens a few ms later.
wait_for_line "$dir/guest1" "echo-server listening"
printf 'CONNECT 1234\nhello from the host, over vsock\n' |
	timeout 10 socat -t 5 - UNIX-CONNECT:"$dir/v.sock" > "$dir/reply"
wait $vmm
rc=$?
grep '^testguest:' "$dir/guest1"
echo "vmm exited with status $rc"
sed 's/^/host received: /' "$dir/reply"
[ $rc -eq 0 ] && grep -q '^hello from the host, over vsock$' "$dir/reply" ||
	fail "host -> guest echo"

echo
echo "== 2. guest -> host: the guest echo client connects to host port 5000"
socat UNIX-LISTEN:"$dir/v.sock_5000",fork EXEC:cat &
for _ in $(seq 200); do [ -S "$dir/v.sock_5000" ] && break; sleep 0.05; done
timeout 30 build/vmm run --kernel build/testguest --vsock-cid 3 --vsock-uds "$dir/v.sock" \
	--cmdline "scenario=echo-client port=5000 bytes=1048576" > "$dir/guest2"
rc=$?
grep '^testguest:' "$dir/guest2"
echo "vmm exited with status $rc"
[ $rc -eq 0 ] && grep -q '^testguest: echo-client ok' "$dir/guest2" || fail "guest -> host echo"
echo
echo "demo: vsock works both ways"
