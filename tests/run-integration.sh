#!/usr/bin/env bash
# Integration tests: boot real guests under build/vmm (needs /dev/kvm).
# Uses Debian's python3 + pytest (the PATH's python may be another one).
#
# Without a usable /dev/kvm nearly every test here would skip, and a run
# that skips them must not look like a pass: this script then fails with
# the reason, unless VMM_TESTS_WITHOUT_KVM=1 asks for the host-only part
# (command-line and config errors), which it then runs and says so.
#   --check-kvm   only that check (make test runs it before building)
set -eu
cd "$(dirname "$0")/.."

check_kvm() {
	local why
	if [ -e /dev/kvm ]; then
		[ -r /dev/kvm ] && [ -w /dev/kvm ] && return 0
		why="/dev/kvm exists but $(id -un) cannot open it read-write (join the kvm group)"
	else
		why="/dev/kvm does not exist (no KVM on this host: not an x86 host with VMX/SVM, or a VM without nested virtualisation)"
	fi
	if [ "${VMM_TESTS_WITHOUT_KVM:-0}" = 1 ]; then
		echo "integration: WARNING: $why." >&2
		echo "integration: VMM_TESTS_WITHOUT_KVM=1: running only the tests that need no KVM; every test that boots a guest under 'vmm run' SKIPS and proves nothing here (the guests under QEMU TCG + 'vmm vhost-user', test_*_qemu.py, run if qemu-system-x86_64 is installed)." >&2
		return 0
	fi
	echo "integration: error: $why." >&2
	echo "integration: the integration tests boot guests and cannot run here; 'make unit' runs the host-only unit tests, and VMM_TESTS_WITHOUT_KVM=1 make test runs the rest with every VM test skipped." >&2
	return 1
}

check_kvm
[ "${1:-}" = --check-kvm ] && exit 0

# The 1000-connection tests hold one host socket per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" -m pytest -v -rs --durations=10 tests/integration "$@"
