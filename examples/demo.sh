#!/usr/bin/env bash
# Demo: boot the freestanding test guest on 2 vCPUs and show it greeting us
# over the serial console. (Once the vsock device lands this demo also talks
# to the guest over vsock; see README.)
set -eu
cd "$(dirname "$0")/.."
echo "demo: booting build/testguest (2 vCPUs, 64 MiB) under build/vmm"
build/vmm run --kernel build/testguest --cmdline "scenario=hello" --vcpus 2 --mem 64
echo "demo: vmm exited with status $?"
