"""The guest's verdict becomes vmm's exit status (issue 16), with the test
guest: the isa-debug-exit port, pvpanic at its port and in MMIO space, the
reboot that follows a Linux panic, --timeout, and the console in a file.
Every test boots a guest, so all of them need /dev/kvm (the parsing and
error cases run without it: tests/unit/test_run_opts.c, test_cli_errors.py).
The Linux guest's panics: test_linux_panic.py."""
import json
import os
import re
import pytest
from conftest import run_vmm, needs_kvm, TESTGUEST

pytestmark = needs_kvm

PANIC = 4      # VMM_EXIT_GUEST_PANIC
TIMEOUT = 124  # VMM_EXIT_TIMEOUT


def vmm_lines(r):
    return [l for l in r.stderr.splitlines() if l.startswith("vmm:")]


# (code written, width) -> (code << 1) | 1, low 8 bits, as under QEMU.
@pytest.mark.parametrize("code,width,status", [
    (0, 4, 1), (1, 4, 3), (5, 4, 11), (42, 1, 85), (127, 2, 255), (128, 4, 1),
    (0x12345, 4, (0x12345 * 2 + 1) & 0xff),
])
def test_debug_exit(code, width, status):
    r = run_vmm(["run", "--kernel", TESTGUEST,
                 "--cmdline", f"scenario=exit code={code} width={width}"], timeout=60)
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert f"testguest: exit code={code}\n" in r.stdout, r.stdout
    assert "still-running" not in r.stdout
    lines = vmm_lines(r)
    assert lines == [f"vmm: guest wrote 0x{code:x} to the debug-exit port 0xf4: "
                     f"exit status {status}"], r.stderr


@pytest.mark.parametrize("discovery", ["cmdline", "fdt"])
@pytest.mark.parametrize("via", ["port", "mmio"])
def test_pvpanic_ends_with_panic_status(via, discovery):
    r = run_vmm(["run", "--kernel", TESTGUEST, "--discovery", discovery,
                 "--cmdline", f"scenario=panic via={via}"], timeout=60)
    assert r.returncode == PANIC, (r.returncode, r.stdout, r.stderr)
    # Linux's driver only reports what the register advertises.
    assert f"testguest: panic via={via} caps=0x7\n" in r.stdout, r.stdout
    assert "still running" not in r.stdout
    assert vmm_lines(r) == ["vmm: guest kernel panicked (pvpanic event 0x1)"], r.stderr


def test_pvpanic_shutdown_is_a_clean_power_off():
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=panic via=mmio event=4"],
                timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "still running" not in r.stdout
    assert vmm_lines(r) == [], r.stderr


def test_pvpanic_crash_kernel_runs_on_but_the_end_is_a_panic():
    """CRASH_LOADED: kdump takes over, so the guest runs on (here: it
    prints, then resets); the clean ending is still reported as the panic."""
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=panic via=port event=2"],
                timeout=60)
    assert r.returncode == PANIC, (r.returncode, r.stdout, r.stderr)
    assert "testguest: panic: still running after the report\n" in r.stdout, r.stdout
    assert vmm_lines(r) == [
        "vmm: guest kernel panicked and runs its crash kernel (pvpanic event 0x2)",
        f"vmm: exit status {PANIC}: the guest kernel panicked earlier"], r.stderr


def test_unknown_pvpanic_bits_are_ignored():
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=panic via=port event=8"],
                timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "testguest: panic: still running after the report\n" in r.stdout, r.stdout


@pytest.mark.parametrize("discovery", ["cmdline", "fdt"])
def test_panic_reboot_is_a_panic(discovery):
    """What Linux's panic() does without pvpanic: the warm-reboot flag
    (reboot=panic_warm, which vmm adds) and an i8042 reset."""
    r = run_vmm(["run", "--kernel", TESTGUEST, "--discovery", discovery,
                 "--cmdline", "scenario=panic via=reboot"], timeout=60)
    assert r.returncode == PANIC, (r.returncode, r.stdout, r.stderr)
    assert vmm_lines(r) == ["vmm: guest kernel panicked (it rebooted in its panic reboot "
                            "mode, reboot=panic_warm)"], r.stderr


def test_command_line_gets_reboot_panic_warm():
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=info -- initarg"],
                timeout=60)
    assert r.returncode == 0, r.stderr
    assert "scenario=info reboot=panic_warm -- initarg" in r.stdout, r.stdout


def test_every_reboot_warm_turns_panic_reboot_detection_off():
    """reboot=w makes every reboot warm: the flag then means nothing, vmm
    does not add reboot=panic_warm and a reset is a reset."""
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=panic via=reboot reboot=w"],
                timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=info reboot=w"], timeout=60)
    assert "panic_warm" not in r.stdout, r.stdout


def test_clean_reset_still_zero():
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello"], timeout=60)
    assert r.returncode == 0, r.stderr
    assert vmm_lines(r) == [], r.stderr


def test_timeout_ends_a_hung_guest_and_removes_sockets(tmp_path):
    uds = tmp_path / "v.sock"
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hang",
                 "--vsock-cid", "3", "--vsock-uds", str(uds),
                 "--vsock-forward-in", f"unix:{tmp_path}/in.sock=5",
                 "--timeout", "2"], timeout=60)
    assert r.returncode == TIMEOUT, (r.returncode, r.stdout, r.stderr)
    assert "testguest: hang\n" in r.stdout, r.stdout
    assert vmm_lines(r) == ["vmm: timeout: the guest still ran after 2 s; stopped it"], r.stderr
    assert sorted(f for f in os.listdir(tmp_path) if not f.endswith(".lock")) == []


def test_timeout_from_the_config_file(tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({
        "boot-source": {"kernel_image_path": TESTGUEST, "boot_args": "scenario=hang"},
        "x-vmm": {"timeout_s": 1}}))
    r = run_vmm(["run", "--config", str(cfg)], timeout=60)
    assert r.returncode == TIMEOUT, (r.returncode, r.stderr)
    assert vmm_lines(r) == ["vmm: timeout: the guest still ran after 1 s; stopped it"], r.stderr
    # The flag overrides the file: 0 is no timeout, and the guest ends first.
    cfg.write_text(json.dumps({
        "boot-source": {"kernel_image_path": TESTGUEST, "boot_args": "scenario=hello"},
        "x-vmm": {"timeout_s": 1}}))
    r = run_vmm(["run", "--config", str(cfg), "--timeout", "0"], timeout=60)
    assert r.returncode == 0, r.stderr


def test_timeout_not_reached():
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello", "--timeout", "600"],
                timeout=60)
    assert r.returncode == 0, r.stderr
    assert vmm_lines(r) == [], r.stderr


def test_console_file(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("left over from an earlier run\n" * 100)
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello",
                 "--console-file", str(log)], timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", r.stdout        # the terminal stays quiet
    text = log.read_text()
    assert "testguest: hello cpus=1\n" in text, text
    assert "left over" not in text          # truncated


def test_console_file_with_debug_exit_and_json(tmp_path):
    (tmp_path / "logs").mkdir()
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({
        "boot-source": {"kernel_image_path": TESTGUEST, "boot_args": "scenario=exit code=3"},
        "x-vmm": {"console_file": "logs/c.log"}}))   # relative to the file
    r = run_vmm(["run", "--config", str(cfg)], timeout=60)
    assert r.returncode == 7, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert "testguest: exit code=3\n" in (tmp_path / "logs" / "c.log").read_text()
    assert re.search(r"exit status 7$", r.stderr.strip()), r.stderr
