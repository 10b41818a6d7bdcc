"""The test guest runs its vsock scenarios in ring 3 (guest-images/
testguest/ring3.c) because on the PVM hosts ring-0 guest code is
interpreted.  These tests keep both paths working: each run reports the
privilege level it really ran at (CS.CPL) and both compute the same
checksum.  The speed difference is printed (-s), never asserted: speed
belongs in the benchmarks (make bench: notify_*_ring0_us), not in tests
that a loaded machine can fail."""

from conftest import needs_kvm, run_vmm, TESTGUEST
from vsockhost import h_echo, parse_kv, run_guest, sockdir  # noqa: F401

pytestmark = needs_kvm


def speed(ring):
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", f"scenario=speed ring={ring} kib=16"],
                timeout=120)
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stdout.splitlines() if l.startswith("testguest: speed ")]
    assert len(line) == 1, r.stdout
    kv = parse_kv(line[0])
    assert kv["ring"] == str(ring), line  # the CPL it ran at (cpu_cpl())
    assert kv["kib"] == "16", line
    return kv


def test_ring3_and_ring0_same_result():
    r3, r0 = speed(3), speed(0)
    assert r3["crc"] == r0["crc"]  # same code, same 16 KiB, same answer
    c3, c0 = int(r3["crc32_cycles_per_kib"]), int(r0["crc32_cycles_per_kib"])
    print(f"\ncrc32 TSC cycles per KiB: ring 3 {c3}, ring 0 {c0} ({c0 / max(c3, 1):.0f}x)")


def test_echo_client_in_ring0(sockdir):
    """The same driver works in ring 0 (slowly on PVM hosts: keep it small)."""
    line, v, _ = run_guest(sockdir, "scenario=echo-client port=4800 bytes=4096 ring=0",
                           [(4800, h_echo)])
    assert line.startswith("testguest: echo-client ok bytes=4096 "), v.output()
