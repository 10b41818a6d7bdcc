#!/bin/sh
# make bench / make bench-quick: build the host baseline tool, run every
# benchmark (vmm + test guest, and the same traffic over host Unix sockets),
# write bench/results/latest.json and latest.png; without /dev/kvm only the
# device-level datagram benchmark (dgram_dev.*).  See docs/PERFORMANCE.md.
#   bench/run.sh [--quick] [bench.py options]
set -e
cd "$(dirname "$0")/.."
[ -x build/vmm ] && [ -f build/testguest ] || { echo "bench: run 'make' first" >&2; exit 1; }
# The scale benchmark holds 10,000 connections (a socket each, both sides).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p build/bench
if [ ! -x build/bench/unixpair ] || [ bench/unixpair.c -nt build/bench/unixpair ]; then
	${CC:-cc} -O2 -Wall -Wextra -Werror -o build/bench/unixpair bench/unixpair.c
fi
command -v gnuplot >/dev/null || echo "bench: gnuplot missing (apt-get install gnuplot-nox): no chart" >&2
exec python3 bench/bench.py "$@"
