"""`homeops fan run` as a process against ipmi_sim: every way out hands the fans back to Dell auto; a silent
and a dead BMC are detected within the deadline and control resumes in the same process (spec fan.md §8)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from homeops.fan.daemon import run_loop
from homeops.fan.runtime import RealClock
from tests.integration.fan.conftest import controller, lines, until
from tests.services._common import wait_for
from tests.services.ipmi_sim import restart


def _env(sim, tmp_path: Path, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    sim.wait_cpu_polled()
    # A generous deadline: these tests are about hand-back and exit codes, not detection time, and pyghmi's
    # session set-up can take seconds on a loaded 2-core machine (the outage tests below bound it tightly).
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        "[fan]\n"
        f'bmc = "lan"\nbmc_port = {sim.lan_port}\nbmc_password = "env:TEST_BMC_PASSWORD"\n'
        f'ipmi_timeout = 6.0\nloop_interval = 0.2\nruntime_dir = "{tmp_path / "run"}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEOPS_") and k != "NOTIFY_SOCKET"}
    env.update(
        {"HOMEOPS_CONFIG": str(cfg), "TEST_BMC_PASSWORD": "calvin", "XDG_STATE_HOME": str(tmp_path)}, **extra
    )
    return env


def _homeops(*args: str) -> list[str]:
    return [sys.executable, "-m", "homeops", *args]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_hands_back(ipmi_sim, tmp_path, sig) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(
        _homeops("fan", "run"), env=_env(ipmi_sim, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: ipmi_sim.fanstate() == "manual 51", proc, timeout=20, what="first write")
        assert (tmp_path / "run" / "fan.json").exists()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert ipmi_sim.commands()[-1] == "0x01 0x01" and ipmi_sim.fanstate() == "auto 51"
    assert b"exit \xe2\x80\x94 restoring Dell auto fan control" in err


def test_once_restore_and_no_restore(ipmi_sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = _env(ipmi_sim, tmp_path)
    bare = subprocess.run(
        _homeops("fan", "run", "--once"), env=env, capture_output=True, text=True, timeout=30
    )
    assert bare.returncode == 2 and "--restore or --no-restore" in bare.stderr
    done = subprocess.run(
        _homeops("fan", "run", "--once", "--restore", "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert (
        ipmi_sim.commands() == ["0x01 0x00", "0x02 0xff 0x33", "0x01 0x01"]
        and ipmi_sim.fanstate() == "auto 51"
    )
    refused = subprocess.run(
        _homeops("fan", "run", "--once", "--no-restore"),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 3
    kept = subprocess.run(
        _homeops("fan", "run", "--once", "--no-restore", "--yes"),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert kept.returncode == 0 and ipmi_sim.fanstate() == "manual 51"
    assert "fans left at 51% with no controller" in kept.stderr


def test_set_status_auto(ipmi_sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    env = _env(ipmi_sim, tmp_path)
    out = subprocess.run(
        _homeops("fan", "set", "42", "--yes", "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert (
        json.loads(out.stdout)["actions"] == ["0x01 0x00", "0x02 0xff 0x2a"]
        and ipmi_sim.fanstate() == "manual 42"
    )
    status = subprocess.run(
        _homeops("fan", "status", "--json"), env=env, capture_output=True, text=True, timeout=30
    )
    assert status.stdout, status.stderr
    doc = json.loads(status.stdout)
    assert status.returncode == 0 and doc["cpu_temp_c"] == 60 and doc["daemon"] is None
    out = subprocess.run(
        _homeops("fan", "auto", "--json"), env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0 and json.loads(out.stdout)["changed"] and ipmi_sim.fanstate() == "auto 42"
    ipmi_sim.fault("d4")
    out = subprocess.run(
        _homeops("fan", "set", "42", "--yes"), env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 1 and "0xd4" in out.stderr
    ipmi_sim.kill()
    out = subprocess.run(_homeops("fan", "status"), env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 4


# The BMC-outage tests: a short deadline and loop so three misses take ~3.3 s, not the spec's 2 s × 3.
IPMI_TIMEOUT, INTERVAL = 1.0, 0.1
# Three failed iterations must come within 3 × (interval + deadline); GUARD leaves room for a loaded machine.
# Without the deadline one pyghmi call blocks ~29 s, so the third failure could not come before the guard.
GUARD = 3 * (INTERVAL + IPMI_TIMEOUT) + 4.0


@pytest.mark.slow
def test_silent_bmc_detected_and_control_resumes(ipmi_sim) -> None:  # type: ignore[no-untyped-def]
    ctl, bmc, log = controller(ipmi_sim, ipmi_timeout=IPMI_TIMEOUT, loop_interval=INTERVAL)
    records = []
    resumed = threading.Event()
    detected_first = threading.Event()

    def resume() -> None:
        if not resumed.is_set():
            resumed.set()
            ipmi_sim.sigcont()

    guard = threading.Timer(GUARD, resume)
    try:
        until(ctl, lambda r: r.read_fails == 0 and r.applied_percent == 51)  # in control before the stop
        pid = os.getpid()
        ipmi_sim.sigstop()
        guard.start()
        good_after = {"n": 0}

        def on_record(rec, doc) -> None:  # type: ignore[no-untyped-def]
            records.append(rec)
            if rec.read_fails >= 3 and not resumed.is_set():
                detected_first.set()  # the third miss came while the BMC was still stopped
                resume()  # SIGCONT at once: the rest of the test is the in-process recovery
            if resumed.is_set() and rec.state == "control" and rec.read_fails == 0:
                good_after["n"] += 1

        run_loop(
            ctl,
            RealClock(),
            interval=INTERVAL,
            stop=lambda: good_after["n"] >= 2 or len(records) > 200,
            on_record=on_record,
            restore=False,
        )
        fails = [r.read_fails for r in records]
        assert detected_first.is_set(), f"three misses did not come within the deadlines: {fails}"
        assert fails[:3] == [1, 2, 3], fails
        text = lines(log)
        assert any("(1/3)" in x for x in text) and any("(2/3)" in x for x in text)
        assert any("ERR temp unreadable — Dell auto" in x for x in text)
        assert good_after["n"] >= 2 and os.getpid() == pid
        assert ipmi_sim.fanstate() == "manual 51"
        assert ipmi_sim.commands()[-2:] == ["0x01 0x00", "0x02 0xff 0x33"]  # control resumed: re-enabled
        assert bmc.spawns >= 2  # a fresh worker session, same process
    finally:
        guard.cancel()
        ipmi_sim.sigcont()
        bmc.close()


@pytest.mark.slow
def test_dead_bmc_detected_and_control_resumes(ipmi_sim) -> None:  # type: ignore[no-untyped-def]
    ctl, bmc, log = controller(ipmi_sim, ipmi_timeout=IPMI_TIMEOUT, loop_interval=INTERVAL)
    try:
        until(ctl, lambda r: r.read_fails == 0 and r.applied_percent == 51)
        before = len(ipmi_sim.commands())
        ipmi_sim.kill()
        t0 = time.monotonic()
        fails = []
        while time.monotonic() - t0 < GUARD and max(fails, default=0) < 3:
            fails.append(ctl.iteration().read_fails)
            time.sleep(INTERVAL)
        assert fails[:3] == [1, 2, 3], f"three misses did not come within the deadlines: {fails}"
        assert any("ERR temp unreadable — Dell auto" in x for x in lines(log))
        restart(ipmi_sim)
        rec = None
        for _ in range(100):
            rec = ctl.iteration()
            if rec.state == "control" and rec.read_fails == 0 and rec.applied_percent is not None:
                break
            time.sleep(INTERVAL)
        assert rec is not None and rec.state == "control"
        assert ipmi_sim.commands()[before:][-2:] == ["0x01 0x00", "0x02 0xff 0x33"]
        assert bmc.spawns >= 2  # a new session in the same process
    finally:
        bmc.close()


def test_sd_notify_with_sim_bmc(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[fan]\nbmc = "sim"\nloop_interval = 0.2\nruntime_dir = "{tmp_path / "run"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEOPS_")}
    env.update(HOMEOPS_CONFIG=str(cfg), NOTIFY_SOCKET=sock_path)
    proc = subprocess.Popen(_homeops("fan", "run"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got: list[str] = []
    try:
        while sum("WATCHDOG=1" in m for m in got) < 3:
            got.append(sock.recv(4096).decode())
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        while not any("STOPPING=1" in m for m in got):
            got.append(sock.recv(4096).decode())
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert got[0] == "READY=1" and any("STATUS=temp=" in m for m in got)
    assert proc.returncode == 0
