#!/usr/bin/env bash
# Integration tests: boot real guests under build/vmm (needs /dev/kvm).
# Uses Debian's python3 + pytest (the PATH's python may be another one).
set -eu
cd "$(dirname "$0")/.."
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" -m pytest -v -rs --durations=10 tests/integration "$@"
