#!/usr/bin/env bash
# The vsock demo of examples/demo.sh for hosts without a usable /dev/kvm
# (docs/test-hosts.md): a real Linux guest (6.12, guest-images/linux) runs
# under QEMU's software emulation (TCG), and its vsock device is OUR device
# model, served to QEMU's vhost-user-vsock-device by `build/vmm vhost-user`
# with the same host side as `vmm run`: hybrid Unix sockets, no AF_VSOCK on
# the host (set-up of tests/integration/test_linux_vsock_qemu.py).
# The guest side is the user-space agent /bin/vsock-agent
# (guest-images/linux/agent/vsock-agent.c), started by the initramfs /init
# for "vsockagent=1"; with vsockagent.port=5000 it runs two scenarios:
#   1. host -> guest ("listen"): the guest listens on vsock port 5001 and
#      echoes; a host socat connects through the back-end's Unix socket with
#      Firecracker's "CONNECT 5001" handshake and gets its line echoed back.
#   2. guest -> host ("echo"): the guest connects to host port 5000, which the
#      back-end maps to the Unix socket <uds>_5000 where socat runs `tee`
#      (echo, and keep a copy); the guest sends 1 MiB of pseudo-random bytes
#      and checks the echo by CRC-32; we check the copy against the guest's
#      byte count and CRC-32.
# Every wait is bounded by VMM_DEMO_BUDGET seconds (default 300) from QEMU's
# start; when it runs out the console tail is printed.  Exits non-zero if
# either direction does not work.
set -u
cd "$(dirname "$0")/.." || exit 1
ver=6.12
budget=${VMM_DEMO_BUDGET:-300}
port=5000                      # guest -> host; the guest listens on port+1
line='hello from the host, over vsock'
echo_bytes=1048576

fail() { echo "demo: FAILED: $*" >&2; exit 1; }

for t in qemu-system-x86_64 socat python3; do
	command -v $t >/dev/null || fail "$t not found (make deps installs it; see .ci/packages)"
done
[ -x build/vmm ] || fail "build/vmm missing (run make)"

# The guest kernel and initramfs (guest-images/linux/build.sh).  When its
# cache (same path as in build.sh) has this recipe's build, boot the files
# straight from there: build.sh would copy them, but first waits for the
# cache lock while anyone on this machine builds any other guest.
cache=${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}/guest-linux
hash=$(guest-images/linux/build.sh --print-hash $ver) || fail "guest-images/linux/build.sh $ver"
if [ -f "$cache/$hash/.complete" ]; then
	guest=$cache/$hash
	echo "demo: Linux $ver guest kernel and initramfs: cached build $hash ($guest)"
else
	echo "demo: building the Linux $ver guest kernel (not cached yet: about 7 minutes on 2 cores, once)"
	guest-images/linux/build.sh $ver || fail "building the Linux $ver guest"
	guest=build/guest-linux/$ver
fi

dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive() { kill -0 "$1" 2>/dev/null; }

show_tail() {
	echo "--- guest console (tail)" >&2
	tail -n 40 "$dir/console" 2>/dev/null | tr -d '\r' >&2
	echo "--- qemu stderr" >&2
	tail -n 20 "$dir/qemu.err" 2>/dev/null >&2
	echo "--- vmm vhost-user stderr (tail)" >&2
	tail -n 20 "$dir/backend.err" 2>/dev/null >&2
}

# The guest console so far: complete lines only (a line may be half
# written), without the serial line's CRs.
console() {
	head -n "$(wc -l < "$dir/console")" "$dir/console" | tr -d '\r'
}

# Wait until the console has a line matching $1 (extended regexp), QEMU has
# exited, or the budget is spent; then print the line.
wait_console() {
	local m
	while :; do
		m=$(console | grep -E -m1 "$1") && {
			echo "$m"
			return 0
		}
		if ! alive "$qemu"; then
			show_tail
			fail "QEMU exited before the guest printed /$1/"
		fi
		if ! alive "$backend"; then
			show_tail
			fail "vmm vhost-user exited before the guest printed /$1/"
		fi
		if [ $SECONDS -ge "$deadline" ]; then
			show_tail
			fail "no /$1/ on the guest console within $budget s"
		fi
		sleep 0.2
	done
}

# Guest -> host: a listener on host port 5000 that echoes and keeps a copy.
socat UNIX-LISTEN:"$dir/v.sock_$port" SYSTEM:"tee $dir/g2h" 2>"$dir/socat.err" &
pids+=($!)

# The back-end, then QEMU (which connects to it once, at start).
build/vmm vhost-user --socket "$dir/vu.sock" --vsock-cid 3 --vsock-uds "$dir/v.sock" \
	2>"$dir/backend.err" &
backend=$!
pids+=("$backend")
for _ in $(seq 200); do [ -S "$dir/vu.sock" ] && [ -S "$dir/v.sock_$port" ] && break; sleep 0.05; done
[ -S "$dir/vu.sock" ] || { cat "$dir/backend.err" >&2; fail "vmm vhost-user did not start listening"; }

echo "== booting Linux $ver under QEMU TCG (software emulation; 10-60 s on a busy host)"
cmdline="console=ttyS0 reboot=t panic=1 rcupdate.rcu_cpu_stall_suppress=1"
cmdline+=" vsockagent=1 vsockagent.scenarios=listen,echo vsockagent.port=$port"
cmdline+=" vsockagent.listen_bytes=$((${#line} + 1)) vsockagent.echo_bytes=$echo_bytes"
cmdline+=" vsockagent.timeout_s=$budget"
SECONDS=0
deadline=$budget
qemu-system-x86_64 -accel tcg \
	-M microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off \
	-cpu max -m 256 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
	-global virtio-mmio.force-legacy=false \
	-object memory-backend-memfd,id=mem,size=256M,share=on -machine memory-backend=mem \
	-chardev socket,id=vs,path="$dir/vu.sock" -device vhost-user-vsock-device,chardev=vs \
	-kernel "$guest/vmlinux" -initrd "$guest/initramfs.cpio.gz" -append "$cmdline" \
	< /dev/null > "$dir/console" 2>"$dir/qemu.err" &
qemu=$!
pids+=("$qemu")

wait_console '^vmm-guest-init: up'
wait_console '^vsock-agent: transport='
echo "guest booted in $SECONDS s; vsock device: $(grep -o 'vhost-user: device [0-9]* driver ready' "$dir/backend.err")"

echo
echo "== 1. host -> guest: CONNECT into the guest's echo server on vsock port $((port + 1))"
wait_console "^vsock-agent: listening port=$((port + 1))"
# In the background, so that a signal ends the demo (and cleans up) at once.
printf 'CONNECT %d\n%s\n' $((port + 1)) "$line" |
	timeout $((budget + 10)) socat -t "$budget" - UNIX-CONNECT:"$dir/v.sock" > "$dir/reply" &
pids+=($!)
wait $!
sed 's/^/host received: /' "$dir/reply"
grep -q "^$line\$" "$dir/reply" || { show_tail; fail "host -> guest echo: the line did not come back"; }
wait_console '^vsock-agent: listen (ok|fail)( |$)'
console | grep -q '^vsock-agent: listen ok' || fail "host -> guest echo (guest side)"

echo
echo "== 2. guest -> host: the guest connects to host port $port and checks 1 MiB echoed back"
res=$(wait_console '^vsock-agent: echo (ok|fail)( |$)') || exit 1
echo "$res"
case "$res" in *' echo ok '*) ;; *) fail "guest -> host echo";; esac
# What went through the host: as many bytes, and the same CRC-32, as the guest says.
want_bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<< "$res")
want_crc=$(sed -n 's/.* crc=0x\([0-9a-f]*\).*/\1/p' <<< "$res")
got=$(python3 -c 'import sys, zlib; d = open(sys.argv[1], "rb").read(); print(len(d), "%08x" % zlib.crc32(d))' \
	"$dir/g2h") || fail "reading $dir/g2h"
echo "host echoed: $got (bytes, CRC-32)"
if [ "$got" != "$want_bytes $want_crc" ] || [ "$want_bytes" -lt $echo_bytes ]; then
	fail "guest -> host: the host saw '$got', the guest reports bytes=$want_bytes crc=0x$want_crc"
fi

# The guest reboots when the agent is done: QEMU exits, then the back-end.
wait_console '^vsock-agent: done passed=2 failed=0 '
while { alive "$qemu" || alive "$backend"; } && [ $SECONDS -lt "$deadline" ]; do sleep 0.2; done
alive "$qemu" && { show_tail; fail "QEMU still running after the guest finished"; }
wait "$qemu"
rc=$?
echo "qemu exited with status $rc after $SECONDS s"
[ $rc -eq 0 ] || { show_tail; fail "QEMU exit status $rc"; }
alive "$backend" && { show_tail; fail "vmm vhost-user still running after QEMU exited"; }
wait "$backend"
rc=$?
echo "vmm vhost-user exited with status $rc"
[ $rc -eq 0 ] || { show_tail; fail "vmm vhost-user exit status $rc"; }
echo
echo "demo: vsock works both ways (Linux $ver under QEMU TCG, vsock device: build/vmm vhost-user)"
