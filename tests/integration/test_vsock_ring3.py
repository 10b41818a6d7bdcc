"""The test guest runs its vsock scenarios in ring 3 (guest-images/
testguest/ring3.c) because on the PVM hosts ring-0 guest code is
interpreted.  These tests keep both paths working and record the speed
difference (printed with -s; asserted only where the difference exists)."""

from conftest import is_pvm_host, needs_kvm, run_vmm, TESTGUEST
from vsockhost import h_echo, parse_kv, run_guest, sockdir  # noqa: F401

pytestmark = needs_kvm


def speed(ring):
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", f"scenario=speed ring={ring} kib=16"],
                timeout=120)
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stdout.splitlines() if l.startswith("testguest: speed ")]
    assert len(line) == 1, r.stdout
    kv = parse_kv(line[0])
    assert kv["ring"] == str(ring), line
    return kv


def test_ring3_vs_ring0_speed():
    r3, r0 = speed(3), speed(0)
    assert r3["crc"] == r0["crc"]  # same code, same 16 KiB, same answer
    c3, c0 = int(r3["crc32_cycles_per_kib"]), int(r0["crc32_cycles_per_kib"])
    print(f"\ncrc32 TSC cycles per KiB: ring 3 {c3}, ring 0 {c0} ({c0 / max(c3, 1):.0f}x)")
    if is_pvm_host():
        assert c0 > 20 * c3, (r3, r0)


def test_echo_client_in_ring0(sockdir):
    """The same driver works in ring 0 (slowly on PVM hosts: keep it small)."""
    line, v, _ = run_guest(sockdir, "scenario=echo-client port=4800 bytes=4096 ring=0",
                           [(4800, h_echo)])
    assert line.startswith("testguest: echo-client ok bytes=4096 "), v.output()
