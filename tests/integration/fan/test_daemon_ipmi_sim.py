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
from tests.integration.fan.conftest import controller, lines
from tests.services._common import wait_for
from tests.services.ipmi_sim import restart


def _env(sim, tmp_path: Path, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    sim.wait_cpu_polled()
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        "[fan]\n"
        f'bmc = "lan"\nbmc_port = {sim.lan_port}\nbmc_password = "env:TEST_BMC_PASSWORD"\n'
        f'ipmi_timeout = 3.0\nloop_interval = 0.3\nruntime_dir = "{tmp_path / "run"}"\n'
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


@pytest.mark.slow
def test_silent_bmc_detected_and_control_resumes(ipmi_sim) -> None:  # type: ignore[no-untyped-def]
    ctl, bmc, log = controller(ipmi_sim, ipmi_timeout=1.5, loop_interval=0.3)
    records = []
    try:
        ctl.iteration()
        pid = os.getpid()
        ipmi_sim.sigstop()
        # pyghmi alone blocks ~29 s here; with the deadline three failures must come before the SIGCONT
        # at 9 s, else the count never reaches 3 and the assertion below fails.
        resume = threading.Timer(9.0, ipmi_sim.sigcont)
        resume.start()
        stop_at = {"n": 0}

        def stop() -> bool:
            return stop_at["n"] >= 2

        def on_record(rec, doc) -> None:  # type: ignore[no-untyped-def]
            records.append(rec)
            if not resume.is_alive() and rec.state == "control" and rec.read_fails == 0:
                stop_at["n"] += 1

        run_loop(ctl, RealClock(), interval=0.3, stop=stop, on_record=on_record, restore=False)
        resume.join()
        fails = [r.read_fails for r in records]
        assert 3 in fails, fails
        assert any("ERR temp unreadable — Dell auto" in x for x in lines(log))
        assert ipmi_sim.fanstate() == "manual 51" and os.getpid() == pid
        assert ipmi_sim.commands()[-2:] == ["0x01 0x00", "0x02 0xff 0x33"]
    finally:
        ipmi_sim.sigcont()
        bmc.close()


@pytest.mark.slow
def test_dead_bmc_detected_and_control_resumes(ipmi_sim) -> None:  # type: ignore[no-untyped-def]
    ctl, bmc, _log = controller(ipmi_sim, ipmi_timeout=1.5, loop_interval=0.3)
    try:
        ctl.iteration()
        before = len(ipmi_sim.commands())
        ipmi_sim.kill()
        t0 = time.monotonic()
        fails = []
        while time.monotonic() - t0 < 20 and max(fails, default=0) < 3:
            fails.append(ctl.iteration().read_fails)
            time.sleep(0.3)
        assert max(fails) >= 3, fails
        restart(ipmi_sim)
        rec = None
        for _ in range(20):
            rec = ctl.iteration()
            if rec.state == "control" and rec.read_fails == 0 and rec.applied_percent is not None:
                break
            time.sleep(0.3)
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
