"""Knot DNS 3 (knotd) on 127.0.0.1 with one TSIG key and DDNS-enabled zones (dns.md §8, test-services.md §3.7).

Use the factory fixture::

    def test_x(knot_server):
        srv = knot_server([("viktorbarzin.lan", "idrac A 192.168.1.4\\n")])
        srv.port, srv.server, srv.secret   # "127.0.0.1:<port>", the base64 secret of key kea-ddns

Every zone takes updates signed with key ``kea-ddns`` (hmac-sha256, a random 32-byte secret per server)
from any address (acl ``ddns``); an unsigned update is answered NOTAUTH (BIND and Technitium: REFUSED).
Zone files use ``tests.services.bind.zone_text`` (the same standard header as the BIND fixture).

knotd runs in the foreground as the ``knot`` user when we are root (the temp dir belongs to it), else as us,
with its rundir, control socket, journal/timer database and zone files in the temp dir, logging to
``<dir>/log``. Ready: a UDP SOA query for the first zone answers NOERROR. Stopped with SIGTERM by PID.
Absent ``knotd`` skips (fails under HOMEOPS_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services._common import (
    drop_kwargs,
    free_port,
    missing,
    owned_tempdir,
    require_binary,
    service_user,
    stop,
    wait_for,
)
from tests.services.bind import BindZone, ZoneSpec, _as_zone, zone_text

KEY_NAME = "kea-ddns"


@dataclass
class KnotServer:
    """One knotd; ``server`` is ``"127.0.0.1:<port>"`` for ``--server`` options."""

    directory: Path
    port: int
    zones: list[BindZone]
    secret: str
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def conf(self) -> Path:
        return self.directory / "knot.conf"

    @property
    def log(self) -> Path:
        return self.directory / "log"

    def conf_text(self) -> str:
        d = self.directory
        lines = [
            "server:",
            f'    rundir: "{d}"',
            f'    pidfile: "{d}/knot.pid"',
            f"    listen: {self.host}@{self.port}",
            "log:",
            "  - target: stderr",
            "    any: info",
            "database:",
            f'    storage: "{d}/db"',  # must exist: a missing one makes every update SERVFAIL
            "control:",
            f'    listen: "{d}/knot.sock"',
            "key:",
            f"  - id: {KEY_NAME}",
            "    algorithm: hmac-sha256",
            f"    secret: {self.secret}",
            "acl:",
            "  - id: ddns",
            f"    key: {KEY_NAME}",
            "    action: update",
            "template:",
            "  - id: default",
            f'    storage: "{d}/zones"',
            '    file: "%s.zone"',
            "zone:",
        ]
        for zone in self.zones:
            lines += [f"  - domain: {zone.name.rstrip('.')}", "    acl: ddns"]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        """knot.conf, the db and zones dirs and every zone file, owned by knot when we are root."""
        (self.directory / "db").mkdir(exist_ok=True)
        (self.directory / "zones").mkdir(exist_ok=True)
        self.conf.write_text(self.conf_text(), encoding="utf-8")
        for zone in self.zones:
            (self.directory / "zones" / f"{zone.name.rstrip('.')}.zone").write_text(
                zone_text(zone), encoding="utf-8"
            )
        ids = service_user("knot")
        if ids is not None:
            for root, dirs, files in os.walk(self.directory):
                for name in (*dirs, *files):
                    os.chown(Path(root) / name, *ids)

    def start(self) -> KnotServer:
        if self.proc is not None and self.proc.poll() is None:
            return self
        knotd = require_binary("knotd", "Debian knot")
        knotc = shutil.which("knotc") or "/usr/sbin/knotc"
        if Path(knotc).exists():
            res = subprocess.run(
                [knotc, "-c", str(self.conf), "conf-check"], capture_output=True, text=True, check=False
            )
            if res.returncode != 0:
                raise RuntimeError(f"knotc conf-check failed:\n{res.stdout}{res.stderr}\n{self.conf_text()}")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [knotd, "-c", str(self.conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **drop_kwargs("knot"),  # type: ignore[call-overload]
            )
        first = self.zones[0].name.rstrip(".")
        wait_for(lambda: self.soa_ok(first), self.proc, timeout=20, log=self.log, what="knotd")
        return self

    def soa_ok(self, zone: str) -> bool:
        import dns.message
        import dns.query
        import dns.rcode

        query = dns.message.make_query(zone + ".", "SOA")
        reply = dns.query.udp(query, self.host, port=self.port, timeout=0.5)
        return reply.rcode() == dns.rcode.NOERROR

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_knot(zones: Sequence[ZoneSpec], *, secret: str | None = None) -> KnotServer:
    """Write the config and zones into a fresh dir and start knotd; the caller stops it."""
    if shutil.which("knotd") is None and not Path("/usr/sbin/knotd").exists():
        missing("knotd not installed (Debian knot)", "apt-get install knot knot-dnsutils")
    if not zones:
        raise ValueError("knot_server needs at least one zone")
    server = KnotServer(
        directory=owned_tempdir(_user(), "homeops-knot-"),
        port=free_port(),
        zones=[_as_zone(z) for z in zones],
        secret=secret or base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    server.write()
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server


def _user() -> str:
    """The user knotd runs as when we are root (the package creates it); as a normal user, ourselves."""
    if os.getuid() == 0:
        import pwd

        try:
            pwd.getpwnam("knot")
        except KeyError:
            missing("no knot user to run knotd as", "apt-get install knot (it creates the knot user)")
    return "knot"


@pytest.fixture
def knot_server() -> Iterator[object]:
    """Factory: ``knot_server(zones, secret=None) -> KnotServer``; every instance is removed at teardown."""
    made: list[KnotServer] = []

    def make(zones: Sequence[ZoneSpec], *, secret: str | None = None) -> KnotServer:
        server = start_knot(zones, secret=secret)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.remove()
