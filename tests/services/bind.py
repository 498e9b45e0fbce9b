"""BIND 9 (named) on 127.0.0.1 with per-test zones and TSIG keys (test-services.md §3.7).

Use the factory fixture::

    def test_x(bind_server):
        srv = bind_server([
            ("kms.test", "vlmcs A 127.0.0.1\n_vlmcs._tcp SRV 0 0 1688 vlmcs.kms.test.\n"),
            BindZone("viktorbarzin.lan", "vlmcs A 10.0.20.202\n",
                     "update-policy { grant kea-ddns. wildcard *.viktorbarzin.lan. ANY; };"),
        ])
        srv.port, srv.keys["kea-ddns"], srv.server  # "127.0.0.1:<port>"

A zone is a ``BindZone`` or a tuple ``(name, records[, clauses])``:
- ``records``: zone-file lines appended after the standard header (``$ORIGIN``, ``$TTL 300``, SOA
  ``( 2026081500 900 300 604800 60 )``, ``@ NS ns1.<zone>.``, ``ns1 A 127.0.0.1``). If ``records``
  contains its own SOA record, it is written verbatim instead (a whole zone file).
- ``clauses``: extra text inside the ``zone { … }`` clause, e.g. ``update-policy { … };``,
  ``allow-update { 127.0.0.1; };``, ``allow-transfer { any; };``.

Keys: ``keys={"kea-ddns": None}`` (the default) declares one hmac-sha256 key with a random 32-byte secret
per test run; pass a base64 string to choose the secret, or ``{}`` for none. ``srv.keys`` maps name → secret.

``srv.stop()`` stops named (SIGTERM by PID); ``srv.start()`` starts it again on the same port and files (for
"server down" tests); the fixture stops every instance at teardown. ``bind_server_session`` is the same
factory with session scope, for suites that share one server. ``start_bind(...)`` is the plain function.

named runs as nobody:nogroup when we are root (the dir and files belong to nobody), in the foreground
(``-g``), logging to ``<dir>/log``. Ready: a UDP SOA query for the first zone answers NOERROR.
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
    owned_tempdir,
    require_binary,
    service_user,
    stop,
    wait_for,
)

SOA_TIMERS = "( 2026081500 900 300 604800 60 )"
_RUN_SECRET = base64.b64encode(secrets.token_bytes(32)).decode()  # one per test run


@dataclass(frozen=True)
class BindZone:
    name: str
    records: str = ""
    clauses: str = ""


ZoneSpec = BindZone | tuple[str, str] | tuple[str, str, str]


def _as_zone(spec: ZoneSpec) -> BindZone:
    if isinstance(spec, BindZone):
        return spec
    if len(spec) == 2:
        return BindZone(spec[0], spec[1])
    return BindZone(spec[0], spec[1], spec[2])


def zone_text(zone: BindZone) -> str:
    """The zone file: the standard header plus the records (or the records alone if they hold a SOA)."""
    name = zone.name.rstrip(".")
    body = zone.records if zone.records.endswith("\n") or not zone.records else zone.records + "\n"
    if any(" SOA " in f" {line} " for line in body.splitlines() if not line.lstrip().startswith(";")):
        return body
    return (
        f"$ORIGIN {name}.\n$TTL 300\n"
        f"@ SOA ns1.{name}. hostmaster.{name}. {SOA_TIMERS}\n"
        f"@ NS ns1.{name}.\n"
        f"ns1 A 127.0.0.1\n" + body
    )


def _zone_file_name(name: str) -> str:
    return name.rstrip(".") + ".zone"


@dataclass
class BindServer:
    """One named instance; ``server`` is ``"127.0.0.1:<port>"`` for ``--server`` options."""

    directory: Path
    port: int
    zones: list[BindZone]
    keys: dict[str, str]
    algorithm: str = "hmac-sha256"
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "log"

    def conf_text(self) -> str:
        d = self.directory
        lines = [
            f'options {{ directory "{d}"; pid-file "{d}/named.pid"; session-keyfile "{d}/session.key";',
            f'  managed-keys-directory "{d}"; listen-on port {self.port} {{ 127.0.0.1; }};',
            "  listen-on-v6 { none; };",
            "  recursion no; dnssec-validation no; notify no; };",
            "controls { };",
        ]
        for name, secret in self.keys.items():
            lines.append(f'key "{name}" {{ algorithm {self.algorithm}; secret "{secret}"; }};')
        for zone in self.zones:
            name = zone.name.rstrip(".")
            clauses = f" {zone.clauses.strip()}" if zone.clauses.strip() else ""
            lines.append(f'zone "{name}" {{ type primary; file "{_zone_file_name(name)}";{clauses} }};')
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        """(Re)write named.conf and every zone file, owned by nobody when we are root."""
        ids = service_user("nobody")
        files = {"named.conf": self.conf_text()}
        for zone in self.zones:
            files[_zone_file_name(zone.name)] = zone_text(zone)
        for fname, text in files.items():
            path = self.directory / fname
            path.write_text(text)
            if ids is not None:
                os.chown(path, ids[0], _nogroup_gid(ids[1]))

    def start(self) -> BindServer:
        if self.proc is not None and self.proc.poll() is None:
            return self
        named = require_binary("named", "Debian bind9")
        checkconf = shutil.which("named-checkconf")
        if checkconf:
            res = subprocess.run(
                [checkconf, "-z", str(self.directory / "named.conf")], capture_output=True, text=True
            )
            if res.returncode != 0:
                raise RuntimeError(f"named-checkconf failed:\n{res.stdout}{res.stderr}\n{self.conf_text()}")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [named, "-g", "-c", str(self.directory / "named.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **drop_kwargs("nobody", "nogroup"),  # type: ignore[call-overload]
            )
        first = self.zones[0].name.rstrip(".") if self.zones else "."
        wait_for(lambda: self.soa_ok(first), self.proc, timeout=20, log=self.log, what="named")
        return self

    def soa_ok(self, zone: str) -> bool:
        import dns.message
        import dns.query
        import dns.rcode

        query = dns.message.make_query(zone.rstrip(".") + ".", "SOA")
        reply = dns.query.udp(query, self.host, port=self.port, timeout=0.5)
        return reply.rcode() == dns.rcode.NOERROR

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def restart(self) -> BindServer:
        """Rewrite the files (after changing ``zones``) and start again on the same port."""
        self.stop()
        self.write()
        return self.start()

    def keyring(self) -> dict[str, str]:
        """name → secret, for ``dns.tsigkeyring.from_text``."""
        return dict(self.keys)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _nogroup_gid(default: int) -> int:
    import grp

    try:
        return grp.getgrnam("nogroup").gr_gid
    except KeyError:
        return default


def start_bind(
    zones: Sequence[ZoneSpec],
    *,
    keys: dict[str, str | None] | None = None,
    algorithm: str = "hmac-sha256",
    port: int | None = None,
) -> BindServer:
    """Write named.conf + zone files into a fresh dir owned by nobody and start named; caller stops it."""
    require_binary("named", "Debian bind9")
    if keys is None:
        keys = {"kea-ddns": None}
    directory = owned_tempdir("nobody", "homeops-bind-")
    ids = service_user("nobody")
    if ids is not None:
        os.chown(directory, ids[0], _nogroup_gid(ids[1]))
    server = BindServer(
        directory=directory,
        port=port or free_port(),
        zones=[_as_zone(z) for z in zones],
        keys={name: (secret or _RUN_SECRET) for name, secret in keys.items()},
        algorithm=algorithm,
    )
    server.write()
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server


class _Factory:
    def __init__(self) -> None:
        self.servers: list[BindServer] = []

    def __call__(
        self,
        zones: Sequence[ZoneSpec],
        *,
        keys: dict[str, str | None] | None = None,
        algorithm: str = "hmac-sha256",
    ) -> BindServer:
        server = start_bind(zones, keys=keys, algorithm=algorithm)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.remove()


@pytest.fixture
def bind_server() -> Iterator[_Factory]:
    """Factory: ``bind_server(zones, keys=...) -> BindServer``; every instance is stopped at teardown."""
    factory = _Factory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def bind_server_session() -> Iterator[_Factory]:
    """The same factory with session scope (one server shared by a suite)."""
    factory = _Factory()
    try:
        yield factory
    finally:
        factory.close()
