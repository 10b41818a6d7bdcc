#!/usr/bin/env python3
"""What the seccomp sandbox costs (docs/sandbox.md), on any host (no KVM):

1. `vmm vhost-user` start-up, exec -> its "listening" line (printed after
   the filter is in), with filters and with --no-seccomp, alternating runs;
2. bench/sandbox_cost.c in-process: building all four filters, entering
   one, and a filtered system call against an unfiltered one.

Usage: bench/sandbox.py [--runs N]   (after `make`)"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
VMM = os.path.join(ROOT, "build", "vmm")
COST = os.path.join(ROOT, "build", "bench", "sandbox_cost")


def build_cost():
    src = os.path.join(ROOT, "bench", "sandbox_cost.c")
    lib = os.path.join(ROOT, "build", "libvmm.a")
    if os.path.exists(COST) and os.path.getmtime(COST) > max(os.path.getmtime(src),
                                                             os.path.getmtime(lib)):
        return
    os.makedirs(os.path.dirname(COST), exist_ok=True)
    subprocess.run(["cc", "-O2", "-std=gnu11", "-D_GNU_SOURCE", "-I", ROOT, "-o", COST, src,
                    lib, "-lfdt", "-ljansson", "-lseccomp", "-lpthread"], check=True)


def vhost_user_startup_ms(d, no_seccomp):
    """exec -> the back-end's "listening" line on stderr."""
    sock = os.path.join(d, "vu.sock")
    args = [VMM, "vhost-user", "--socket", sock, "--vsock-cid", "3",
            "--vsock-uds", os.path.join(d, "v.sock")]
    if no_seccomp:
        args.append("--no-seccomp")
    t0 = time.monotonic_ns()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "listening on" in line:
            t = (time.monotonic_ns() - t0) / 1e6
            break
    else:
        raise SystemExit("vmm vhost-user did not start: " + p.stderr.read())
    p.terminate()
    p.communicate(timeout=30)
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=150)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="sbb", dir="/tmp")
    on, off = [], []
    try:
        for i in range(a.runs):
            for no in ((False, True) if i % 2 else (True, False)):
                (off if no else on).append(vhost_user_startup_ms(d, no))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"vmm vhost-user exec -> listening, {a.runs} runs each, min / p10 / median ms:")
    for name, v in (("seccomp on", on), ("--no-seccomp", off)):
        q = statistics.quantiles(v, n=10)
        print(f"  {name:13} {min(v):.2f} / {q[0]:.2f} / {statistics.median(v):.2f}")
    # On a shared machine the low end is the least disturbed.
    print(f"  difference: min {min(on) - min(off):+.2f} ms, p10 "
          f"{statistics.quantiles(on, n=10)[0] - statistics.quantiles(off, n=10)[0]:+.2f} ms, "
          f"median {statistics.median(on) - statistics.median(off):+.2f} ms")
    build_cost()
    print("in-process (bench/sandbox_cost.c):")
    print(subprocess.run([COST], capture_output=True, text=True, check=True).stdout, end="")


if __name__ == "__main__":
    main()
