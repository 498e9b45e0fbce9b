"""Fixtures of the dns group's integration tests: a primary + two replica Technitium stand-ins, a config
writer, the CLI runner, UDP relays in front of BIND, and a silent DNS server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.services._common import free_port
from tests.standins.technitium import TechnitiumStandin

ZONES = ["viktorbarzin.lan", "viktorbarzin.me", "10.0.10.in-addr.arpa", "20.0.10.in-addr.arpa", "emrsn.org"]
LAN_RECORDS = "idrac A 192.168.1.4\nvlmcs A 10.0.20.202\nkms A 10.0.20.200\n_vlmcs._tcp SRV 0 0 1688 vlmcs.viktorbarzin.lan.\n"


@dataclass
class Trio:
    primary: TechnitiumStandin
    secondary: TechnitiumStandin
    tertiary: TechnitiumStandin

    @property
    def all(self) -> list[TechnitiumStandin]:
        return [self.primary, self.secondary, self.tertiary]

    def instances(self, dns: dict[str, str] | None = None) -> list[dict[str, Any]]:
        dns = dns or {}
        rows = []
        for standin, role, dep in (
            (self.primary, "primary", "technitium"),
            (self.secondary, "replica", "technitium-secondary"),
            (self.tertiary, "replica", "technitium-tertiary"),
        ):
            rows.append(
                {
                    "name": standin.name,
                    "role": role,
                    "api_url": standin.url,
                    "deployment": dep,
                    "pod_selector": f"app={dep}",
                    "dns": dns.get(standin.name, ""),
                }
            )
        return rows


@pytest.fixture
def trio(technitium_factory: Callable[..., TechnitiumStandin]) -> Trio:
    """A primary with five Primary zones, two empty replicas transferring from it."""
    primary = technitium_factory("primary")
    for zone in ZONES:
        primary.add_primary_zone(zone, zone_transfer="Deny")
    secondary = technitium_factory("technitium-secondary", upstream=primary)
    tertiary = technitium_factory("technitium-tertiary", upstream=primary)
    return Trio(primary, secondary, tertiary)


def _toml_value(value: Any) -> str:
    return json.dumps(value)  # strings, numbers, booleans and flat lists are valid TOML as JSON


@dataclass
class DnsCli:
    """Write the config for a test and run `homeops dns …` in-process."""

    path: Path
    monkeypatch: pytest.MonkeyPatch

    def configure(self, instances: list[dict[str, Any]], **settings: Any) -> None:
        base = {
            "api_timeout": 2.0,
            "primary_transfer_address": "10.96.0.53",
            "pushgateway": "",
            "push_retry_delay": 0.01,
            "gate_rollout_poll": 0.01,
            "gate_rollout_timeout": 2.0,
            "gate_api_interval": 0.01,
            "gate_answer_interval": 0.01,
            "gate_answer_tries": 2,
            "dns_timeout": 0.5,
        }
        base.update(settings)
        lines = ["[dns]"] + [f"{k} = {_toml_value(v)}" for k, v in base.items()]
        for inst in instances:
            lines.append("[[dns.instances]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in inst.items()]
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def run(self, *args: str, input: str | None = None) -> Any:
        from homeops._app import app

        return CliRunner().invoke(app, ["dns", *args], input=input)

    def tsig_check(self, server: str, zone: str, secret: str, *extra: str, timeout: float = 1.0) -> Any:
        """`dns tsig-check` with key kea-ddns, its secret in env:KEA_SECRET and short timeouts."""
        self.monkeypatch.setenv("KEA_SECRET", secret)
        self.configure(
            [{"name": "p", "role": "primary", "api_url": "http://127.0.0.1:1"}],
            tsig_timeout=timeout,
            tsig_visible_interval=0.05,
        )
        return self.run(
            "tsig-check",
            *("--server", server, "--zone", zone),
            *("--key-name", "kea-ddns", "--secret", "env:KEA_SECRET"),
            *extra,
        )

    @staticmethod
    def json(result: Any) -> dict[str, Any]:
        assert result.stdout.strip(), result.stderr
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc


@pytest.fixture
def dns_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DnsCli:
    """Config in a temp file (HOMEOPS_CONFIG), credentials in TECH_USER/TECH_PASS, no other overrides."""
    import os

    from homeops.dns import technitium

    for key in list(os.environ):
        if key.startswith("HOMEOPS_") and "__" in key:
            monkeypatch.delenv(key)
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    monkeypatch.setenv("HOMEOPS_CONFIG", str(path))
    monkeypatch.setenv("TECH_USER", "admin")
    monkeypatch.setenv("TECH_PASS", "s3cret")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(technitium.TechnitiumClient, "retry_delays", (0.01, 0.02))
    return DnsCli(path, monkeypatch)


# --- DNS helpers: relays and a silent server ---------------------------------------------------------------


class UdpRelay:
    """A UDP relay on 127.0.0.1 that forwards to ``target`` (optionally after a delay)."""

    def __init__(self, target: tuple[str, int], delay: float = 0.0) -> None:
        self.target = target
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data, client = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._forward, args=(data, client), daemon=True).start()

    def _forward(self, data: bytes, client: tuple[str, int]) -> None:
        import time

        if self.delay:
            time.sleep(self.delay)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.settimeout(2)
            try:
                out.sendto(data, self.target)
                reply, _ = out.recvfrom(65535)
                self.sock.sendto(reply, client)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()  # the loop ends at its next 0.1 s timeout or on the closed socket
        self.sock.close()


@pytest.fixture
def relay() -> Iterator[Callable[..., UdpRelay]]:
    made: list[UdpRelay] = []

    def make(target: tuple[str, int], delay: float = 0.0) -> UdpRelay:
        r = UdpRelay(target, delay)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@dataclass
class SilentServer:
    """A UDP socket that never reads and a TCP socket that listens and never answers, on one port."""

    port: int
    udp: socket.socket
    tcp: socket.socket

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def silent_dns() -> Iterator[SilentServer]:
    port = free_port(socket.SOCK_DGRAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        tcp.bind(("127.0.0.1", port))
        tcp.listen(1)
    except OSError:
        pass
    yield SilentServer(port, udp, tcp)
    udp.close()
    tcp.close()
