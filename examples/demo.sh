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
# docs/test-hosts.md) it says so and runs the same two directions with the
# same guest under QEMU's software emulation (TCG, about a second each):
# QEMU boots the test guest through its PVH entry, and the guest's vsock
# device is ours, served to QEMU's vhost-user-vsock-device by
# `build/vmm vhost-user` with the same host side (Unix sockets, no AF_VSOCK).
# `make demo-linux` (examples/demo-qemu.sh) does the same with a real Linux
# guest under QEMU.
# shellcheck disable=SC2015  # "A && B || fail": fail unless both hold, as meant
set -u
cd "$(dirname "$0")/.." || exit 1
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

kvm=1
if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	kvm=0
	command -v qemu-system-x86_64 >/dev/null ||
		fail "no usable /dev/kvm, and qemu-system-x86_64 is not installed for the fallback (make deps installs it)"
	echo "NOTE: /dev/kvm is missing or not readable+writable: running the demo's guest under QEMU TCG instead, its vsock device served by build/vmm vhost-user"
fi

# Wait (up to $3 s, default 10) until file $1 contains a line matching $2;
# give up at once if process $4 (if given) has ended.
wait_for_line() {
	for _ in $(seq $((${3:-10} * 20))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		[ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && break
		sleep 0.05
	done
	grep -q "$2" "$1" 2>/dev/null && return 0
	fail "no '$2' in $1: $(cat "$1" 2>/dev/null)${backend:+; vmm vhost-user: $(tail -5 "$dir/backend" 2>/dev/null)}"
}

# start_guest CMDLINE OUT: boot the test guest with CID 3 and the hybrid
# socket $dir/v.sock, console to OUT, in the background; $guest is its pid.
start_guest() {
	if [ $kvm = 1 ]; then
		timeout 30 build/vmm run --kernel build/testguest --vsock-cid 3 \
			--vsock-uds "$dir/v.sock" --cmdline "$1" > "$2" &
		guest=$!
		return
	fi
	rm -f "$dir/vu.sock" "$dir/backend"
	backend=
	build/vmm vhost-user --socket "$dir/vu.sock" --vsock-cid 3 \
		--vsock-uds "$dir/v.sock" 2> "$dir/backend" &
	backend=$!
	for _ in $(seq 200); do [ -S "$dir/vu.sock" ] && break; sleep 0.05; done
	[ -S "$dir/vu.sock" ] || fail "vmm vhost-user did not start: $(cat "$dir/backend")"
	# The test guest resets through QEMU's debug-exit device after a PVH
	# boot: QEMU's status 33 is the guest's clean end (testguest README).
	timeout 60 qemu-system-x86_64 -accel tcg \
		-M microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off \
		-cpu max -m 256 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-global virtio-mmio.force-legacy=false \
		-object memory-backend-memfd,id=mem,size=256M,share=on -machine memory-backend=mem \
		-chardev socket,id=vs,path="$dir/vu.sock" -device vhost-user-vsock-device,chardev=vs \
		-kernel build/testguest -append "$1" < /dev/null > "$2" &
	guest=$!
}

# guest_ready OUT LINE: the guest printed LINE and its vsock device is live.
guest_ready() {
	wait_for_line "$1" "$2" 60 "$guest"
	# Under QEMU the rings reach the back-end in messages from QEMU, which
	# may come after the guest has already gone on: wait for them too.
	[ $kvm = 1 ] || wait_for_line "$dir/backend" "driver ready" 60 "$guest"
}

# finish_guest: wait for the guest; 0 if the guest and (QEMU) back-end ended cleanly.
finish_guest() {
	local rc
	wait "$guest"
	rc=$?
	if [ $kvm = 0 ]; then
		[ $rc -eq 33 ] && rc=0
		wait "$backend" || { echo "vmm vhost-user exited with $?: $(tail -5 "$dir/backend")"; rc=1; }
	fi
	return $rc
}

echo "== 1. host -> guest: CONNECT into the guest's echo server on vsock port 1234"
start_guest "scenario=echo-server port=1234 conns=1" "$dir/guest1"
guest_ready "$dir/guest1" "echo-server listening"
printf 'CONNECT 1234\nhello from the host, over vsock\n' |
	timeout 10 socat -t 5 - UNIX-CONNECT:"$dir/v.sock" > "$dir/reply"
finish_guest
rc=$?
grep '^testguest:' "$dir/guest1"
echo "guest exited with status $rc"
sed 's/^/host received: /' "$dir/reply"
[ $rc -eq 0 ] && grep -q '^hello from the host, over vsock$' "$dir/reply" ||
	fail "host -> guest echo"

echo
echo "== 2. guest -> host: the guest echo client connects to host port 5000"
socat UNIX-LISTEN:"$dir/v.sock_5000",fork EXEC:cat &
for _ in $(seq 200); do [ -S "$dir/v.sock_5000" ] && break; sleep 0.05; done
start_guest "scenario=echo-client port=5000 bytes=1048576" "$dir/guest2"
finish_guest
rc=$?
grep '^testguest:' "$dir/guest2"
echo "guest exited with status $rc"
[ $rc -eq 0 ] && grep -q '^testguest: echo-client ok' "$dir/guest2" || fail "guest -> host echo"
echo
echo "demo: vsock works both ways"
