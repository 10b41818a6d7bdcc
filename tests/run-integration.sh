#!/usr/bin/env bash
# Integration tests: boot real guests under build/vmm (needs /dev/kvm).
# Uses Debian's python3 + pytest (the PATH's python may be another one).
set -eu
cd "$(dirname "$0")/.."
# The 1000-connection tests hold one host socket per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" -m pytest -v -rs --durations=10 tests/integration "$@"
