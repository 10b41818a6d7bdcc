"""The freestanding test guest boots under vmm and ends cleanly."""
import re
import pytest
from conftest import run_vmm, needs_kvm, TESTGUEST

pytestmark = needs_kvm


@pytest.mark.parametrize("vcpus", [1, 4])
def test_hello(vcpus):
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello",
                 "--vcpus", str(vcpus)], timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"testguest: hello cpus={vcpus}\n" in r.stdout, r.stdout + r.stderr


def test_hello_many_vcpus():
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello",
                 "--vcpus", "32"], timeout=120)
    assert r.returncode == 0, r.stderr
    assert "testguest: hello cpus=32\n" in r.stdout, r.stdout + r.stderr


def test_triple_fault_is_reported():
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=fault"], timeout=60)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.startswith("vmm:")]
    assert len(lines) == 1, r.stderr
    assert re.search(r"triple fault.*rip=0x[0-9a-f]+", lines[0]), lines[0]


def test_trace_boot_timestamps():
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello",
                 "--trace-boot"], timeout=60)
    assert r.returncode == 0, r.stderr
    m = re.search(r"trace-boot main=(\d+) first-exit=(\d+) end=(\d+)", r.stderr)
    assert m, r.stderr
    main, first, end = map(int, m.groups())
    assert 0 < main < first <= end
