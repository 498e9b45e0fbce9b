"""Real service: OpenIPMI's ipmi_sim on 127.0.0.1 with R730-shaped sensors and the test-built Dell OEM fan
plugin (spec fan.md §8, test-services.md §3.8). Fixtures: ``dellfan_plugin`` (session: the compiled .so)
and ``ipmi_sim`` (a fresh simulator per test: it is started in a few ms, and tests stop, kill and fault it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services._common import free_port, log_tail, missing, require_binary, stop, wait_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fan"
# Session-less RMCP "Get Channel Authentication Capabilities" (channel E, admin): any reply = ready.
_PROBE = bytes.fromhex("0600ff070000000000000000000920 18c881003 88e04b5".replace(" ", ""))
SENSORS = [(0x04, 0x01), (0x01, 0x01)] + [(0x30 + i, 0x04) for i in range(6)]
# The CPU poll files are read every POLL_MS (spec: 1000). Shorter here so a test that changes a temperature
# waits ~0.1 s instead of ~1 s for the reading to follow; the behaviour under test is the same.
POLL_MS = 100


class IpmiSim:
    """One running ipmi_sim with its fixture directory, ports and fault handles."""

    def __init__(self, root: Path, plugin: Path, binary: str) -> None:
        self.dir = root
        self.binary = binary
        self.lan_port = free_port(socket.SOCK_DGRAM)
        self.con_port = free_port(socket.SOCK_STREAM)
        self.proc: subprocess.Popen[bytes] | None = None
        shutil.copy(plugin, root / "dellfan.so")
        state = root / "state" / "ipmi_sim" / "r730sim"
        state.mkdir(parents=True)
        sdr = subprocess.run(["sdrcomp", str(FIXTURES / "r730.sdrs")], capture_output=True, check=True).stdout
        (state / "sdr.20.main").write_bytes(sdr)
        self.set_cpu(1, 60)
        self.set_cpu(2, 55)
        emu = [
            "mc_setbmc 0x20",
            "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x0002a2 0x0100 persist_sdr",
            "sel_enable 0x20 50 0x0a",
        ]
        emu += [f"sensor_add 0x20 0 0x{n:02x} 0x{t:02x} 0x01" for n, t in SENSORS]
        emu += [
            f'sensor_add 0x20 0 0x0e 0x01 0x01 poll {POLL_MS} file "{root}/cpu1_temp"',
            f'sensor_add 0x20 0 0x0f 0x01 0x01 poll {POLL_MS} file "{root}/cpu2_temp"',
            "sensor_set_value 0x20 0 0x04 21 0",
            "sensor_set_value 0x20 0 0x01 33 0",
        ]
        emu += [f"sensor_set_value 0x20 0 0x{0x30 + i:02x} 59 0" for i in range(6)]
        emu += ["mc_enable 0x20"]
        (root / "r730.emu").write_text("\n".join(emu) + "\n")
        conf = [
            'name "r730sim"',
            f'loadlib "{root}/dellfan.so" "{root}"',
            "set_working_mc 0x20",
            "startlan 1",
            f"addr 127.0.0.1 {self.lan_port}",
            "priv_limit admin",
        ]
        conf += [
            f"allowed_auths_{p} none md2 md5 straight" for p in ("callback", "user", "operator", "admin")
        ]
        conf += [
            "guid a123456789abcdefa123456789abcdef",
            "endlan",
            'user 2 true "root" "calvin" admin 10 none md2 md5 straight',
            f"console 127.0.0.1 {self.con_port}",
        ]
        (root / "lan.conf").write_text("\n".join(conf) + "\n")

    # -- life cycle ------------------------------------------------------------------------------------
    def start(self) -> IpmiSim:
        log = self.dir / "ipmi_sim.log"
        with log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "-c",
                    str(self.dir / "lan.conf"),
                    "-f",
                    str(self.dir / "r730.emu"),
                    "-s",
                    str(self.dir / "state"),
                    "-n",
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for(self._answers, self.proc, timeout=10, log=log, what="ipmi_sim")
        return self

    def _answers(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.1)
            sock.sendto(_PROBE, ("127.0.0.1", self.lan_port))
            try:
                return bool(sock.recv(512))
            except OSError:
                return False

    def wait_cpu_polled(self, timeout: float = 15.0) -> None:
        """Wait until both file-polled CPU sensors read non-zero (they read 0 until the first poll)."""
        from homeops.fan.ipmi import IpmiBmc

        bmc = IpmiBmc(mode="lan", port=self.lan_port, user="root", password="calvin", timeout=3)
        try:

            def polled() -> bool:
                temps = [s.value for s in bmc.sensors() if s.name == "Temp"]
                return len(temps) == 2 and all(v for v in temps)

            wait_for(polled, timeout=timeout, what="ipmi_sim CPU poll")
        finally:
            bmc.close()

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGCONT)
            stop(self.proc)

    def sigstop(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def sigcont(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)

    # -- fault injection and observation ----------------------------------------------------------------
    def set_cpu(self, n: int, value: object) -> None:
        """Write a CPU's poll file (``echo 77 > cpu1_temp``)."""
        (self.dir / f"cpu{n}_temp").write_text(f"{value}\n")

    def fault(self, code: str | None) -> None:
        """Make every 0x30 0x30 answer ``code`` (hex, e.g. "d4"), or heal with None."""
        path = self.dir / "fault"
        if code is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(code + "\n")

    def console(self, command: str) -> str:
        """One console command; reads the preamble and prompt first (closing early kills ipmi_sim)."""
        with socket.create_connection(("127.0.0.1", self.con_port), timeout=3) as sock:
            buf = b""
            while not buf.endswith(b"> "):
                buf += sock.recv(256)
            sock.sendall(command.encode() + b"\n")
            out = b""
            while not out.endswith(b"> "):
                out += sock.recv(256)
        return out.decode(errors="replace")

    def commands(self) -> list[str]:
        """Every 0x30 0x30 request the plugin saw, oldest first (``0x02 0xff 0x33``)."""
        try:
            return (self.dir / "commands").read_text().splitlines()
        except FileNotFoundError:
            return []

    def fanstate(self) -> str | None:
        """The plugin's recorded state: ``manual 51`` / ``auto 51``, or None before any accepted command."""
        try:
            return (self.dir / "fanstate").read_text().strip()
        except FileNotFoundError:
            return None

    def log_tail(self) -> str:
        return log_tail(self.dir / "ipmi_sim.log")


@pytest.fixture(scope="session")
def dellfan_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Dell OEM plugin built from tests/fixtures/fan/dellfan.c (gcc + libopenipmi-dev)."""
    gcc = require_binary("gcc", "gcc")
    require_binary("sdrcomp", "openipmi")
    if not Path("/usr/include/OpenIPMI/serv.h").exists():
        missing("OpenIPMI headers not installed (libopenipmi-dev)", "run scripts/install-test-services")
    out = tmp_path_factory.mktemp("dellfan") / "dellfan.so"
    build = subprocess.run(
        [gcc, "-Wall", "-shared", "-fPIC", "-o", str(out), str(FIXTURES / "dellfan.c"), "-lIPMIlanserv"],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        pytest.fail(f"building the Dell fan plugin failed:\n{build.stderr}")
    return out


@pytest.fixture
def ipmi_sim(dellfan_plugin: Path) -> Iterator[IpmiSim]:
    """A running R730-shaped ipmi_sim on 127.0.0.1 (CPUs 60/55 °C; call ``wait_cpu_polled`` before a
    process reads them: they read 0 until the first poll, ``POLL_MS``); stopped by PID."""
    binary = require_binary("ipmi_sim", "openipmi")
    root = Path(tempfile.mkdtemp(prefix="homeops-ipmisim-"))
    sim = IpmiSim(root, dellfan_plugin, binary)
    try:
        sim.start()
        yield sim
    finally:
        sim.stop()
        shutil.rmtree(root, ignore_errors=True)


def restart(sim: IpmiSim) -> None:
    """Start the simulator again on the same ports (after ``kill``)."""
    time.sleep(0.05)
    sim.start()
