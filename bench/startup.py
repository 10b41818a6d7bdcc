#!/usr/bin/env python3
"""Start-up benchmark: exec of vmm -> first guest exit (the test guest's
first instruction is a port-0x80 write), -> clean exit, and the VMM's
resident memory beyond guest RAM, over several runs.  Prints a table and
writes JSON when --json is given."""
import argparse
import json
import os
import re
import statistics
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
VMM = os.path.join(ROOT, "build", "vmm")
GUEST = os.path.join(ROOT, "build", "testguest")


def one_run(vcpus, mem, extra=()):
    """One boot; `extra`: more vmm flags (bench/bench.py adds a vsock device)."""
    t0 = time.monotonic_ns()
    r = subprocess.run([VMM, "run", "--kernel", GUEST, "--cmdline", "scenario=hello",
                        "--vcpus", str(vcpus), "--mem", str(mem), "--trace-boot"] + list(extra),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    t_end = time.monotonic_ns()
    if r.returncode != 0:
        raise SystemExit(f"vmm failed ({r.returncode}): {r.stderr}")
    m = re.search(r"main=(\d+) first-exit=(\d+) end=(\d+) rss-kib=(\d+) "
                  r"guest-rss-kib=(\d+) vmm-rss-kib=(\d+)", r.stderr)
    if not m:
        raise SystemExit("no trace-boot line: " + r.stderr)
    main, first, end, rss, grss, vrss = map(int, m.groups())
    return {
        "exec_to_main_ms": (main - t0) / 1e6,
        "exec_to_first_guest_exit_ms": (first - t0) / 1e6,
        "exec_to_clean_exit_ms": (t_end - t0) / 1e6,
        "vmm_rss_beyond_guest_kib": vrss,
        "guest_rss_kib": grss,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--json")
    a = ap.parse_args()
    one_run(a.vcpus, a.mem)  # warm the page cache
    runs = [one_run(a.vcpus, a.mem) for _ in range(a.runs)]
    out = {}
    print(f"start-up, {a.runs} runs, {a.vcpus} vCPU, {a.mem} MiB")
    print(f"{'metric':40} {'median':>10} {'min':>10} {'max':>10}")
    for k in runs[0]:
        v = [r[k] for r in runs]
        out[k] = {"median": statistics.median(v), "min": min(v), "max": max(v)}
        print(f"{k:40} {out[k]['median']:10.2f} {out[k]['min']:10.2f} {out[k]['max']:10.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"startup": out, "runs": a.runs, "vcpus": a.vcpus, "mem_mib": a.mem}, f, indent=2)


if __name__ == "__main__":
    main()
