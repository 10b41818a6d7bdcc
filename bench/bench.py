#!/usr/bin/env python3
"""vsock benchmarks side by side with host Unix sockets (docs/PERFORMANCE.md).

Every benchmark runs the test guest under build/vmm AND the same traffic
over a plain host Unix-socket connection between two processes
(bench/unixpair, C), several times, and reports median, min and max of
both and the ratio of the medians, with pass/miss against the targets.

  bench/bench.py [--quick] [--reps N] [--only NAME,...] [--out DIR]

Output: a table on stdout, DIR/latest.json, DIR/latest.png (gnuplot).
The "dgram" section is different: a device-level benchmark without KVM
(bench/dgram_dev.c: the device + the unit tests' fake driver, no guest),
written to DIR/dgram_dev.json and DIR/dgram_dev.md.  Without /dev/kvm only
it runs; the KVM sections are skipped with a note and latest.* are left
as they are.
Benchmarks measure and report; they never fail on a slow number (the exit
status is non-zero only when a run breaks: wrong checksum, guest failure).
Host side: Unix sockets only, never AF_VSOCK.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VMM = os.path.join(ROOT, "build", "vmm")
GUEST = os.path.join(ROOT, "build", "testguest")
UNIXPAIR = os.path.join(ROOT, "build", "bench", "unixpair")
DGRAM_DEV = os.path.join(ROOT, "build", "bench", "dgram_dev")  # make build/bench/dgram_dev
sys.path.insert(0, HERE)
import startup  # noqa: E402  (bench/startup.py)

MIB = 1 << 20

# Sizes: full run, then --quick.
FULL = dict(stream=1 << 30, ping=20000, conn=5000, scale=10000, active=100,
            startup=20, notify=20000, reps=3, stream_reps=3, scale_reps=2,
            dgram_count=100000, dgram_stream=64 * MIB, dgram_reps=5)
QUICK = dict(stream=64 * MIB, ping=2000, conn=500, scale=1000, active=100,
             startup=5, notify=2000, reps=3, stream_reps=2, scale_reps=1,
             dgram_count=20000, dgram_stream=16 * MIB, dgram_reps=5)
# Sections that boot the test guest under `vmm run` (need /dev/kvm).
KVM_STEPS = ("notify", "stream", "latency", "connrate", "scale", "startup")


class BenchError(Exception):
    pass


# ---- processes ---------------------------------------------------------------

ALL_PROCS = []


def kill_all():
    """Kill whatever a failed benchmark left running (our children only)."""
    for p in ALL_PROCS:
        p.kill()


class Proc:
    """A child whose stdout lines are collected by a thread (never blocks)."""

    def __init__(self, args, stdin=subprocess.DEVNULL, **kw):
        ALL_PROCS.append(self)
        self.args = args
        self.p = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, **kw)
        self.out, self.err = [], []
        self.cond = threading.Condition()
        self.ts = [threading.Thread(target=self._pump, args=(f, d), daemon=True)
                   for f, d in ((self.p.stdout, self.out), (self.p.stderr, self.err))]
        for t in self.ts:
            t.start()

    def _pump(self, f, dst):
        for line in iter(f.readline, ""):
            with self.cond:
                dst.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=30):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.out:
                    m = rx.search(l)
                    if m:
                        return m
                if self.p.poll() is not None and not any(t.is_alive() for t in self.ts):
                    raise BenchError(f"{self.args[:2]} exited before /{pattern}/: {self.text()}")
                left = end - time.monotonic()
                if left <= 0:
                    raise BenchError(f"timeout waiting for /{pattern}/: {self.text()}")
                self.cond.wait(min(left, 0.1))

    def finish(self, timeout=300):
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError(f"{self.args[:2]} did not finish in {timeout}s: {self.text()}")
        for t in self.ts:
            t.join(5)
        return self.p.returncode

    def text(self):
        return "\n".join(self.out[-20:]) + "\n--- stderr\n" + "\n".join(self.err[-10:])

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


def kv(line):
    return {k: v for k, v in (w.split("=", 1) for w in line.split() if "=" in w)}


def result_line(v, name):
    lines = [l for l in v.out if l.startswith("testguest: ")]
    if len(lines) != 1 or not lines[0].startswith(f"testguest: {name} ok"):
        raise BenchError(f"guest {name} failed: {v.text()}")
    return kv(lines[0])


def guest_stats(v):
    lines = [l for l in v.out if l.startswith("tg-stats: ")]
    return {k: int(x) for k, x in kv(lines[-1]).items()} if lines else {}


class Env:
    """A temporary directory for the sockets of one run."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vb", dir="/tmp")
        self.uds = os.path.join(self.dir, "v.sock")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def vmm(env, cmdline, mem=256, extra=(), notify=None):
    args = [VMM, "run", "--kernel", GUEST, "--cmdline", cmdline, "--mem", str(mem),
            "--vsock-cid", "3", "--vsock-uds", env.uds] + list(extra)
    if notify:
        args += ["--notify", notify]
    return Proc(args)


def unixpair(*args, stdin=subprocess.DEVNULL):
    return Proc([UNIXPAIR] + [str(a) for a in args], stdin=stdin)


def run_unixpair(*args, timeout=300):
    p = unixpair(*args)
    rc = p.finish(timeout)
    if rc != 0 or not p.out:
        raise BenchError(f"unixpair {args} failed: {p.text()}")
    return kv(p.out[-1])


def finish_vmm(v, timeout=300):
    rc = v.finish(timeout)
    if rc != 0:
        raise BenchError(f"vmm exited {rc}: {v.text()}")


# ---- statistics ----------------------------------------------------------------

def summary(vals):
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "runs": [round(x, 4) for x in vals]}


def metric(name, unit, vmm_vals, host_vals=None, better="higher", target=None,
           target_text=None, note=None, **extra):
    """One row.  ratio = vmm median / host median.  target(m) -> bool."""
    m = {"name": name, "unit": unit, "better": better, "vmm": summary(vmm_vals)}
    if host_vals:
        m["host"] = summary(host_vals)
        m["ratio"] = m["vmm"]["median"] / m["host"]["median"]
        # Relative performance, higher is better, for the chart.
        m["relative"] = m["ratio"] if better == "higher" else 1 / m["ratio"]
        rel = [(v / h if better == "higher" else h / v) for v, h in zip(vmm_vals, host_vals)]
        m["relative_min"], m["relative_max"] = min(rel), max(rel)
    if target:
        m["target"] = target_text
        m["pass"] = bool(target(m))
    if note:
        m["note"] = note
    m.update(extra)
    return m


# ---- 1. stream throughput ------------------------------------------------------

def stream_g2h(size, nbytes):
    env = Env()
    try:
        port = 5001
        sink = unixpair("sink", f"{env.uds}_{port}", size)
        sink.wait_line(r"listening=1")
        v = vmm(env, f"scenario=send port={port} bytes={nbytes} seed=1 txpkt={size}")
        finish_vmm(v)
        if sink.finish(60) != 0:
            raise BenchError("sink: " + sink.text())
        g, h = result_line(v, "send"), kv(sink.out[-1])
        if int(h["bytes"]) != nbytes or h["crc"] != g["csum"]:
            raise BenchError(f"g2h checksum/size mismatch: host {h} guest {g}")
        return nbytes / int(h["ns"]) * 1e3  # MB/s
    finally:
        env.close()


def stream_h2g(size, nbytes, bufsz=None):
    env = Env()
    try:
        port = 5002
        src = unixpair("source", f"{env.uds}_{port}", nbytes, size)
        src.wait_line(r"listening=1")
        v = vmm(env, f"scenario=recv port={port} bytes={nbytes} bufsz={bufsz or size}")
        finish_vmm(v)
        if src.finish(60) != 0:
            raise BenchError("source: " + src.text())
        g, h = result_line(v, "recv"), kv(src.out[-1])
        if int(g["bytes"]) != nbytes or h["crc"] != g["csum"]:
            raise BenchError(f"h2g checksum/size mismatch: host {h} guest {g}")
        return nbytes / int(h["ns"]) * 1e3
    finally:
        env.close()


def stream_base(size, nbytes):
    h = run_unixpair("base-stream", nbytes, size)
    if int(h["bytes"]) != nbytes:
        raise BenchError(f"baseline short: {h}")
    return nbytes / int(h["ns"]) * 1e3


def bench_stream(cfg, out):
    n, reps = cfg["stream"], cfg["stream_reps"]
    base = {}
    for size, tag in ((4096, "4k"), (65536, "64k")):
        base[size] = [stream_base(size, n) for _ in range(reps)]
        g2h = [stream_g2h(size, n) for _ in range(reps)]
        # The guest posts 4 KiB rx buffers (as Linux does) and advertises
        # Linux's default 256 KiB receive buffer (buf_alloc).
        h2g = [stream_h2g(size, n, bufsz=262144) for _ in range(reps)]
        tgt_g2h = (lambda m: m["ratio"] >= 0.8, ">= 0.8 x host") if size == 65536 else (None, None)
        tgt_h2g = (lambda m: m["ratio"] >= 0.5, ">= 0.5 x host") if size == 4096 else (None, None)
        out.append(metric(f"stream_g2h_{tag}", "MB/s", g2h, base[size], "higher", *tgt_g2h,
                          note=f"guest txpkt={size}, host reads {size}, {n // MIB} MiB, CRC-32 checked"))
        out.append(metric(f"stream_h2g_{tag}", "MB/s", h2g, base[size], "higher", *tgt_h2g,
                          note=f"guest rx buffers 4 KiB, buf_alloc 256 KiB, host writes {size}, "
                               f"{n // MIB} MiB, CRC-32 checked"))
    # Not a target: a guest that grants only 4 KiB of credit, so every
    # 4 KiB needs a CREDIT_UPDATE round trip (worst case for the protocol).
    h2g = [stream_h2g(4096, n, bufsz=4096) for _ in range(reps)]
    out.append(metric("stream_h2g_4k_credit4k", "MB/s", h2g, base[4096], "higher",
                      note=f"guest buf_alloc=4096, host writes 4096, {n // MIB} MiB"))


# ---- 7. notification cost (first: latency uses it) ------------------------------

def notify_once(mode, count, ring0=False):
    env = Env()
    try:
        v = vmm(env, f"scenario=notify count={count}" + (" ring=0" if ring0 else ""), notify=mode)
        finish_vmm(v)
        g = result_line(v, "notify")
        hz = int(g["tsc_hz"])
        return {k: int(g[k]) / hz * 1e6 for k in ("min", "p50", "p99", "mean")}
    finally:
        env.close()


def bench_notify(cfg, out, ctx):
    for mode in ("mmio", "ioeventfd"):
        runs = [notify_once(mode, cfg["notify"]) for _ in range(cfg["reps"])]
        out.append(metric(f"notify_{mode}_us", "us", [r["p50"] for r in runs], better="lower",
                          note=f"p50 per QueueNotify write from ring 3, --notify {mode}",
                          p99_us=summary([r["p99"] for r in runs]),
                          min_us=summary([r["min"] for r in runs]),
                          mean_us=summary([r["mean"] for r in runs])))
        ctx[f"notify_{mode}"] = statistics.median(r["p50"] for r in runs)
        r0 = [notify_once(mode, min(cfg["notify"], 5000), ring0=True) for _ in range(2)]
        out.append(metric(f"notify_{mode}_ring0_us", "us", [r["p50"] for r in r0], better="lower",
                          note="the same from ring 0 (interpreted on PVM hosts), cross-check"))


# ---- 2. request/response latency ----------------------------------------------

def ping_host_measured(size, count):
    env = Env()
    try:
        port = 5003
        v = vmm(env, f"scenario=pingpong listen=1 port={port}")
        v.wait_line(r"tg-note: pingpong listening")
        h = run_unixpair("hping", env.uds, port, size, count)
        finish_vmm(v, 60)
        g = result_line(v, "pingpong")
        return {k: int(h[k]) / 1e3 for k in ("min", "p50", "p99", "mean")}, int(g["kicks"])
    finally:
        env.close()


def ping_guest_measured(size, count):
    env = Env()
    try:
        port = 5004
        echo = unixpair("echo", f"{env.uds}_{port}")
        echo.wait_line(r"listening=1")
        v = vmm(env, f"scenario=pingpong port={port} size={size} count={count}")
        finish_vmm(v, 120)
        echo.finish(30)
        g = result_line(v, "pingpong")
        hz = int(g["tsc_hz"])
        r = {k: int(g[k]) / hz * 1e6 for k in ("min", "p50", "p99", "mean")}
        r["kicks_per_rt"] = int(g["kicks"]) / count
        return r
    finally:
        env.close()


def bench_latency(cfg, out, ctx):
    n = cfg["ping"]
    if "notify_ioeventfd" not in ctx:
        ctx["notify_ioeventfd"] = notify_once("ioeventfd", cfg["notify"])["p50"]
    for size, tag in ((1, "1b"), (4096, "4k")):
        base = [{k: int(v) / 1e3 for k, v in run_unixpair("base-ping", size, n).items()
                 if k in ("min", "p50", "p99", "mean")} for _ in range(cfg["reps"])]
        hm = [ping_host_measured(size, n)[0] for _ in range(cfg["reps"])]
        gm = [ping_guest_measured(size, n) for _ in range(cfg["reps"])]
        kicks = statistics.median(r["kicks_per_rt"] for r in gm)
        exit_cost = kicks * ctx.get("notify_ioeventfd", 0.0)
        tgt = (None, None)
        if size == 1:
            bp50 = statistics.median(r["p50"] for r in base)
            limit = 3 * bp50 + exit_cost
            tgt = (lambda m, lim=limit: m["vmm"]["median"] <= lim,
                   f"<= 3 x host + exits = {limit:.1f} us")
        for p in ("p50", "p99"):
            t = tgt if p == "p50" else (None, None)
            out.append(metric(f"rtt_{tag}_{p}", "us", [r[p] for r in hm], [r[p] for r in base],
                              "lower", *t,
                              note="host-measured (CLOCK_MONOTONIC) round trip via CONNECT",
                              guest_measured_us=summary([r[p] for r in gm]),
                              notifies_per_rt=kicks, exit_cost_us=round(exit_cost, 2)))


# ---- 3. connection set-up rate ----------------------------------------------------

def conn_guest_init(count):
    env = Env()
    try:
        port = 5005
        acc = unixpair("accept", f"{env.uds}_{port}", count)
        acc.wait_line(r"listening=1")
        v = vmm(env, f"scenario=connrate mode=connect port={port} count={count} maxconns=64")
        finish_vmm(v, 120)
        acc.finish(30)
        g = result_line(v, "connrate")
        return count / (int(g["cycles"]) / int(g["tsc_hz"]))
    finally:
        env.close()


def conn_host_init(count):
    env = Env()
    try:
        port = 5006
        v = vmm(env, f"scenario=connrate mode=accept port={port} count={count} maxconns=256")
        v.wait_line(r"tg-note: connrate listening")
        h = run_unixpair("hconnect", env.uds, port, count)
        finish_vmm(v, 120)
        result_line(v, "connrate")
        return count / (int(h["ns"]) / 1e9)
    finally:
        env.close()


def bench_connrate(cfg, out):
    n = cfg["conn"]
    b0 = [n / (int(run_unixpair("base-connect", n, 0)["ns"]) / 1e9) for _ in range(cfg["reps"])]
    b1 = [n / (int(run_unixpair("base-connect", n, 1)["ns"]) / 1e9) for _ in range(cfg["reps"])]
    gi = [conn_guest_init(n) for _ in range(cfg["reps"])]
    hi = [conn_host_init(n) for _ in range(cfg["reps"])]
    out.append(metric("connrate_guest_init", "conn/s", gi, b0, "higher",
                      note="sequential connect+close from the guest; host: connect+close"))
    out.append(metric("connrate_host_init", "conn/s", hi, b1, "higher",
                      note="sequential CONNECT/OK+close from the host; host: connect+reply+close"))


# ---- 4. scale ---------------------------------------------------------------------

def rss(pid, mem_mib):
    """(VmRSS, Rss of the guest RAM mapping) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        total = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    maps, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for l in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", l)
            if m:
                cur = [int(m.group(2), 16) - int(m.group(1), 16), 0]
                maps.append(cur)
            elif l.startswith("Rss:") and cur:
                cur[1] = int(l.split()[1])
    want = mem_mib * MIB
    guest = [m for m in maps if m[0] == want] or [max(maps)]
    return total, guest[0][1]


def scale_once(n, active):
    env = Env()
    mem = 256
    try:
        port = 5007
        v = vmm(env, f"scenario=connrate mode=accept port={port} count={n} maxconns={n + 16} "
                     f"bufsz=4096", mem=mem, extra=["--vsock-max-conns", str(n + 64)])
        v.wait_line(r"tg-note: connrate listening")
        time.sleep(0.2)
        t0, g0 = rss(v.p.pid, mem)
        h = unixpair("hold", env.uds, port, n, active, 4096, stdin=subprocess.PIPE)
        r = kv(h.wait_line(r"ready=1", 300).string)
        time.sleep(0.5)
        t1, g1 = rss(v.p.pid, mem)
        h.p.stdin.write("go\n")
        h.p.stdin.flush()
        a = kv(h.wait_line(r"active=", 120).string)
        t2, g2 = rss(v.p.pid, mem)
        h.p.stdin.write("end\n")
        h.p.stdin.flush()
        h.finish(120)
        finish_vmm(v, 300)
        result_line(v, "connrate")
        return {
            "vmm_kib_per_conn": ((t1 - g1) - (t0 - g0)) / n,
            "vmrss_kib_per_conn": (t1 - t0) / n,
            "vmm_rss_idle_kib": t1 - g1, "vmm_rss_before_kib": t0 - g0,
            "vmm_rss_after_traffic_kib": t2 - g2,
            "open_conn_s": n / (int(r["open_ns"]) / 1e9),
            "active_ms": int(a["ns"]) / 1e6,
        }
    finally:
        env.close()


def bench_scale(cfg, out):
    n, act = cfg["scale"], cfg["active"]
    runs = [scale_once(n, act) for _ in range(cfg["scale_reps"])]
    out.append(metric("scale_idle_kib_per_conn", "KiB", [r["vmm_kib_per_conn"] for r in runs],
                      better="lower", target=lambda m: m["vmm"]["median"] < 2.0,
                      target_text="< 2 KiB", note=f"{n} idle connections: (VmRSS - guest RAM Rss) after - before, per connection",
                      conns=n,
                      vmrss_kib_per_conn=summary([r["vmrss_kib_per_conn"] for r in runs]),
                      vmm_rss_before_kib=summary([r["vmm_rss_before_kib"] for r in runs]),
                      vmm_rss_idle_kib=summary([r["vmm_rss_idle_kib"] for r in runs]),
                      vmm_rss_after_traffic_kib=summary([r["vmm_rss_after_traffic_kib"] for r in runs])))
    out.append(metric("scale_open_rate", "conn/s", [r["open_conn_s"] for r in runs],
                      note=f"{n} host CONNECTs held open"))
    out.append(metric("scale_echo_active_ms", "ms", [r["active_ms"] for r in runs],
                      better="lower", note=f"4 KiB echoed on {act} of the {n} connections at once"))


# ---- 5. start-up ------------------------------------------------------------------

def bench_startup(cfg, out):
    env = Env()
    try:
        extra = ["--vsock-cid", "3", "--vsock-uds", env.uds]
        startup.one_run(1, 128, extra)
        runs = [startup.one_run(1, 128, extra) for _ in range(cfg["startup"])]
    finally:
        env.close()
    col = lambda k: [r[k] for r in runs]  # noqa: E731
    out.append(metric("startup_first_instr_ms", "ms", col("exec_to_first_guest_exit_ms"),
                      better="lower", target=lambda m: m["vmm"]["median"] <= 5.0,
                      target_text="<= 5 ms", note="exec -> first guest exit (port 0x80), 1 vCPU, 128 MiB, vsock"))
    out.append(metric("startup_clean_exit_ms", "ms", col("exec_to_clean_exit_ms"), better="lower",
                      note="exec -> guest reset -> vmm exited (scenario=hello)"))
    out.append(metric("startup_vmm_rss_kib", "KiB", col("vmm_rss_beyond_guest_kib"), better="lower",
                      target=lambda m: m["vmm"]["median"] < 3072, target_text="< 3 MiB",
                      note="VmRSS minus guest RAM Rss at exit (--trace-boot)"))


# ---- 8. datagrams, device level (no KVM) ---------------------------------------------

DGRAM_SIZES = (64, 1024, 16384, 65536)
# The slow driver re-posts rx buffers at 1/DGRAM_SLOW_DIV of the rate the
# host sent at in the run just before (same size, same load), so it is
# slower than the host whatever the machine does and the device must drop.
DGRAM_SLOW_DIV = 4
DGRAM_FLOOD_SIZE = 1024


def dgram_dev(*args):
    p = Proc([DGRAM_DEV] + [str(a) for a in args])
    rc = p.finish(300)
    line = [l for l in p.out if l.startswith("dgram_dev: ")]
    if rc != 0 or len(line) != 1 or " ok " not in line[0]:
        raise BenchError(f"dgram_dev {' '.join(map(str, args))} failed (exit {rc}): {p.text()}")
    r = kv(line[0])
    return {k: (float(v) if re.fullmatch(r"-?[0-9.]+", v) else v) for k, v in r.items()}


def dev_row(name, unit, runs, key, note, better="higher", drops=(), **extra):
    """One device-level row: the median of runs[i][key], and beside it the
    drop counters (by reason) and the load average of each run."""
    m = {"name": name, "unit": unit, "better": better, "value": summary([r[key] for r in runs]),
         "load1": summary([r["load1"] for r in runs]), "note": note,
         # times the device found no rx buffer (the driver was late)
         "rx_waits": summary([r["rx_waits"] for r in runs])}
    if "mb_s" in runs[0] and key != "mb_s":
        m["mb_s"] = summary([r["mb_s"] for r in runs])
    if "sent" in runs[0]:
        m["sent"] = int(runs[0]["sent"])
        m["dropped"] = summary([r["dropped"] for r in runs])
        m["drop_pct"] = summary([100.0 * r["dropped"] / r["sent"] for r in runs])
        m["drops"] = {d[5:]: summary([r[d] for r in runs]) for d in drops}
    m.update(extra)
    return m


def bench_dgram(cfg, out):
    n, reps, sb = cfg["dgram_count"], cfg["dgram_reps"], cfg["dgram_stream"]
    g2h_drops = ("drop_host_full", "drop_no_receiver", "drop_host_err")
    h2g_drops = ("drop_queue_full", "drop_buf_small", "drop_too_big", "drop_bad_line",
                 "drop_no_driver")
    for size in DGRAM_SIZES:
        count = n if size <= 1024 else n // 4 if size <= 16384 else n // 10
        runs = {"g2h": [], "h2g": [], "slow": []}
        for _ in range(reps):  # interleaved, so load changes hit all alike
            runs["g2h"].append(dgram_dev("g2h", f"size={size}", f"count={count}"))
            runs["h2g"].append(dgram_dev("h2g", f"size={size}", f"count={count}"))
            rate = max(100, int(runs["h2g"][-1]["sent_per_s"] / DGRAM_SLOW_DIV))
            runs["slow"].append(dgram_dev("h2g", f"size={size}", f"count={count}",
                                          f"rxrate={rate}"))
        out.append(dev_row(f"dgram_g2h_{size}", "dgram/s", runs["g2h"], "delivered_per_s",
                           f"{count} x {size} B guest->host as fast as the driver posts, host "
                           "receiver recv() on <uds>_dgram_7000; drops: its queue full (EAGAIN)",
                           drops=g2h_drops,
                           sent_per_s=summary([r["sent_per_s"] for r in runs["g2h"]])))
        out.append(dev_row(f"dgram_h2g_{size}", "dgram/s", runs["h2g"], "delivered_per_s",
                           f"{count} x {size} B host->guest, blocking sender; driver re-posts "
                           f"each rx buffer at once ({int(runs['h2g'][0]['rxbuf'])} B)",
                           drops=h2g_drops,
                           sent_per_s=summary([r["sent_per_s"] for r in runs["h2g"]])))
        out.append(dev_row(f"dgram_h2g_{size}_slow", "dgram/s", runs["slow"], "delivered_per_s",
                           f"as above, driver re-posts at most 1/{DGRAM_SLOW_DIV} of the "
                           "previous run's host send rate (rxrate)", drops=h2g_drops,
                           rxrate=summary([r["rxrate"] for r in runs["slow"]]),
                           sent_per_s=summary([r["sent_per_s"] for r in runs["slow"]])))
    # "spin": the control, a host thread that only burns CPU: on 2 cores
    # a flood's own threads take CPU from the stream whatever the device does.
    floods = ("none", "h2g", "g2h", "spin")
    for d in ("g2h", "h2g"):
        runs = {f: [] for f in floods}
        for _ in range(reps):
            for f in floods:
                runs[f].append(dgram_dev("stream", f"dir={d}", f"bytes={sb}", f"flood={f}",
                                         f"fsize={DGRAM_FLOOD_SIZE}"))
        alone = statistics.median(r["mb_s"] for r in runs["none"])
        for f in floods:
            name = f"stream_{d}_" + {"none": "alone", "spin": "cpu_hog"}.get(f, f"flood_{f}")
            note = (f"{sb // MIB} MiB guest-initiated stream {d} (64 KiB tx packets, 4 KiB rx "
                    "buffers, 256 KiB credit)")
            extra = {}
            if f == "spin":
                note += " beside a host thread that only burns CPU (control)"
                extra = dict(ratio_to_alone=statistics.median(r["mb_s"] for r in runs[f]) / alone)
            elif f != "none":
                note += f" during a {f} flood of {DGRAM_FLOOD_SIZE} B datagrams"
                extra = dict(
                    ratio_to_alone=statistics.median(r["mb_s"] for r in runs[f]) / alone,
                    flood_delivered_per_s=summary([r["flood_delivered_per_s"] for r in runs[f]]),
                    flood_dropped_per_s=summary([r["flood_dropped_per_s"] for r in runs[f]]))
            out.append(dev_row(name, "MB/s", runs[f], "mb_s", note, **extra))


def dev_table(rows):
    hdr = (f"{'device-level benchmark':26} {'unit':7} {'median':>9} {'[min..max]':>21} "
           f"{'MB/s':>7} {'dropped %':>9} {'x alone':>7} {'load1':>5}")
    print(hdr)
    print("-" * len(hdr))
    for m in rows:
        v = m["value"]
        mb = fmt(m["mb_s"]["median"]) if "mb_s" in m else "-"
        dp = fmt(m["drop_pct"]["median"]) if "drop_pct" in m else "-"
        rt = f"{m['ratio_to_alone']:.2f}" if "ratio_to_alone" in m else "-"
        print(f"{m['name']:26} {m['unit']:7} {fmt(v['median']):>9} "
              f"{'[' + fmt(v['min']) + '..' + fmt(v['max']) + ']':>21} {mb:>7} {dp:>9} {rt:>7} "
              f"{m['load1']['median']:5.2f}")


def dev_markdown(rows, meta):
    out = [f"Run {meta['date']} ({'quick' if meta['quick'] else 'full'}, {meta['reps']} reps each, "
           f"git {meta['git']}, load average {meta['loadavg_start'][0]} at start, "
           f"{meta['loadavg_end'][0]} at end; device-level: no guest, no KVM).", "",
           "| benchmark | unit | median [min..max] | MB/s | sent/s | dropped, % of sent [min..max] "
           "| drops by reason (median) | × alone | load1 |",
           "|---|---|---|---|---|---|---|---|---|"]
    for m in rows:
        v = m["value"]
        mb = fmt(m["mb_s"]["median"]) if "mb_s" in m else "-"
        dp = (f"{fmt(m['drop_pct']['median'])} [{fmt(m['drop_pct']['min'])}.."
              f"{fmt(m['drop_pct']['max'])}]") if "drop_pct" in m else "-"
        why = ", ".join(f"{k} {fmt(s['median'])}" for k, s in m.get("drops", {}).items()
                        if s["max"] > 0) or ("none" if "drops" in m else "-")
        if m["name"].startswith("dgram_h2g"):
            why += f"; rx_waits {fmt(m['rx_waits']['median'])} [..{fmt(m['rx_waits']['max'])}]"
        if "flood_delivered_per_s" in m:
            why = (f"flood: {fmt(m['flood_delivered_per_s']['median'])} delivered/s, "
                   f"{fmt(m['flood_dropped_per_s']['median'])} dropped/s")
        rt = f"{m['ratio_to_alone']:.2f}" if "ratio_to_alone" in m else "-"
        sps = fmt(m["sent_per_s"]["median"]) if "sent_per_s" in m else "-"
        out.append(f"| {m['name']} | {m['unit']} | {fmt(v['median'])} [{fmt(v['min'])}.."
                   f"{fmt(v['max'])}] | {mb} | {sps} | {dp} | {why} | {rt} | "
                   f"{m['load1']['median']:.2f} |")
    return "\n".join(out) + "\n"


# ---- output -----------------------------------------------------------------------

def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table(rows):
    hdr = f"{'benchmark':30} {'unit':6} {'vmm median':>11} {'[min..max]':>21} {'host median':>11} {'ratio':>6}  target"
    print(hdr)
    print("-" * len(hdr))
    for m in rows:
        v, h = m["vmm"], m.get("host")
        rng = f"[{fmt(v['min'])}..{fmt(v['max'])}]"
        tgt = ""
        if "target" in m:
            tgt = f"{'PASS' if m['pass'] else 'MISS'} ({m['target']})"
        ratio = f"{m['ratio']:.2f}" if "ratio" in m else "-"
        print(f"{m['name']:30} {m['unit']:6} {fmt(v['median']):>11} {rng:>21} "
              f"{fmt(h['median']) if h else '-':>11} {ratio:>6}  {tgt}")


def markdown(rows, meta):
    """The table as Markdown (bench/results/latest.md, pasted into
    docs/PERFORMANCE.md)."""
    out = [f"Run {meta['date']} ({'quick' if meta['quick'] else 'full'}, {meta['reps']} reps, "
           f"git {meta['git']}, load average {meta['loadavg_start'][0]} at start).", "",
           "| benchmark | unit | vmm median [min..max] | host median | vmm/host | target |",
           "|---|---|---|---|---|---|"]
    for m in rows:
        v, h = m["vmm"], m.get("host")
        tgt = f"**{'PASS' if m['pass'] else 'MISS'}** {m['target']}" if "target" in m else ""
        ratio = f"{m['ratio']:.3f}" if "ratio" in m else "-"
        out.append(f"| {m['name']} | {m['unit']} | {fmt(v['median'])} [{fmt(v['min'])}..{fmt(v['max'])}] "
                   f"| {fmt(h['median']) if h else '-'} | {ratio} | {tgt} |")
    return "\n".join(out) + "\n"


def chart(rows, path):
    gp = shutil.which("gnuplot")
    if not gp:
        print("bench: gnuplot not found (apt-get install gnuplot-nox): no chart", file=sys.stderr)
        return
    rel = [m for m in rows if "relative" in m]
    with tempfile.TemporaryDirectory() as d:
        dat = os.path.join(d, "rel.dat")
        with open(dat, "w") as f:
            for i, m in enumerate(rel):
                f.write(f"{i} \"{m['name']}\" {m['relative']:.4f} {m['relative_min']:.4f} "
                        f"{m['relative_max']:.4f}\n")
        script = f"""
set terminal pngcairo size 900,480 font ",9" noenhanced
set output "{path}"
set title "vmm vsock relative to host Unix sockets (1 = as fast as the host; higher is better)"
set style fill solid 0.6
set boxwidth 0.6
set logscale y
set yrange [0.0005:3]
set grid ytics
set xtics rotate by -30
set ylabel "vmm / host (throughput, rate) or host / vmm (latency)"
set key off
plot "{dat}" using 1:3:xtic(2) with boxes lc rgb "#3b75af", \\
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \\
     "" using 1:($3*1.35):(sprintf("%.3g", $3)) with labels font ",8", \\
     1 with lines lc rgb "#999999" dt 2, 0.8 with lines lc rgb "#c44e52" dt 3, 0.5 with lines lc rgb "#dd8452" dt 3
"""
        r = subprocess.run([gp], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            print("bench: gnuplot failed: " + r.stderr, file=sys.stderr)


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--only", help="comma list: stream,notify,latency,connrate,scale,startup,"
                    "dgram")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--replot", action="store_true",
                    help="only redo latest.md and latest.png from latest.json")
    a = ap.parse_args()
    if a.replot:
        with open(os.path.join(a.out, "latest.json")) as f:
            res = json.load(f)
        rows = list(res["results"].values())
        table(rows)
        with open(os.path.join(a.out, "latest.md"), "w") as f:
            f.write(markdown(rows, res["meta"]))
        chart(rows, os.path.join(a.out, "latest.png"))
        return
    cfg = dict(QUICK if a.quick else FULL)
    if a.reps:
        cfg["reps"] = a.reps
        cfg["dgram_reps"] = a.reps
    only = set(a.only.split(",")) if a.only else None
    known = set(KVM_STEPS) | {"dgram"}
    if only and not only <= known:
        raise SystemExit(f"bench: unknown --only {sorted(only - known)}; known: {sorted(known)}")
    want = lambda n: only is None or n in only  # noqa: E731
    if not os.path.exists("/dev/kvm") and any(want(n) for n in KVM_STEPS):
        print("bench: NOTE: no /dev/kvm here: skipping the benchmarks that boot the test "
              f"guest ({', '.join(n for n in KVM_STEPS if want(n))}); "
              f"{os.path.join(a.out, 'latest.*')} are left as they are. Running the "
              "device-level datagram benchmark only (no guest, no KVM).", file=sys.stderr)
        only = {"dgram"} if want("dgram") else set()
    kvm = any(want(n) for n in KVM_STEPS)
    for f in ((VMM, GUEST, UNIXPAIR) if kvm else ()) + ((DGRAM_DEV,) if want("dgram") else ()):
        if not os.access(f, os.X_OK):
            raise SystemExit(f"bench: {f} missing (make bench builds it)")
    t0 = time.monotonic()
    load0 = [round(x, 2) for x in os.getloadavg()]
    rows, ctx, dev_rows = [], {}, []
    steps = [("notify", lambda: bench_notify(cfg, rows, ctx)),
             ("stream", lambda: bench_stream(cfg, rows)),
             ("latency", lambda: bench_latency(cfg, rows, ctx)),
             ("connrate", lambda: bench_connrate(cfg, rows)),
             ("scale", lambda: bench_scale(cfg, rows)),
             ("startup", lambda: bench_startup(cfg, rows)),
             ("dgram", lambda: bench_dgram(cfg, dev_rows))]
    for name, fn in steps:
        if want(name):
            t = time.monotonic()
            fn()
            print(f"bench: {name} done in {time.monotonic() - t:.1f}s", file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    res = {
        "meta": {
            "quick": a.quick, "reps": cfg["reps"], "sizes": cfg,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "git": git_rev(), "host": platform.node(), "kernel": platform.release(),
            "cpus": os.cpu_count(), "seconds": round(time.monotonic() - t0, 1),
            "loadavg_end": [round(x, 2) for x in os.getloadavg()], "loadavg_start": load0,
        },
        "results": {m["name"]: m for m in rows},
    }
    if dev_rows:
        dev_table(dev_rows)
        dres = {"meta": dict(res["meta"], reps=cfg["dgram_reps"], kind="device-level, no KVM"),
                "results": {m["name"]: m for m in dev_rows}}
        jpath = os.path.join(a.out, "dgram_dev.json")
        with open(jpath, "w") as f:
            json.dump(dres, f, indent=1)
        with open(os.path.join(a.out, "dgram_dev.md"), "w") as f:
            f.write(dev_markdown(dev_rows, dres["meta"]))
        print(f"bench: {len(dev_rows)} device-level results -> {jpath}, dgram_dev.md")
    if not rows:
        return
    # Fixed order for the table and the JSON.
    table(rows)
    jpath = os.path.join(a.out, "latest.json")
    with open(jpath, "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write(markdown(rows, res["meta"]))
    chart(rows, os.path.join(a.out, "latest.png"))
    print(f"bench: {len(rows)} results in {res['meta']['seconds']}s -> {jpath}, "
          f"{os.path.join(a.out, 'latest.png')}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        kill_all()
        raise SystemExit(f"bench: error: {e}")
    except KeyboardInterrupt:
        kill_all()
        raise SystemExit(130)
