"""Service + adapter: ``kms check`` — SRV ``_vlmcs._tcp.<D>`` → target A → TCP connect (dnspython), and the
direct host check (§3.8). ``evaluate_domain``/``evaluate_host`` take a resolver and a connector, so tests can
hand in fakes; the real ones are ``DnsResolver`` and ``tcp_connect``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol


class DnsUnavailable(Exception):
    """DNS could not be asked (timeout, every server SERVFAIL/REFUSED, no resolver): exit 4."""


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Connect:
    address: str
    port: int
    ok: bool
    ms: float | None
    error: str | None


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str


@dataclass
class TargetReport:
    target: str
    addresses: list[str] = field(default_factory=list)
    connect: list[Connect] = field(default_factory=list)


class _Checked:
    """What both reports share: ``ok`` is "no problems"; JSON is the dataclass fields plus ``ok``; people get
    the report's own lines, then ``ok`` or the problems."""

    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        doc["ok"] = self.ok
        return doc

    def lines(self) -> list[str]:
        raise NotImplementedError

    def render_human(self) -> Any:
        from rich.text import Text

        lines = self.lines()
        lines.append("ok" if self.ok else "problems:")
        lines += [f"  {p.kind}: {p.detail}" for p in self.problems]
        return Text("\n".join(lines))


@dataclass
class DomainReport(_Checked):
    """The result of ``kms check --domain``."""

    domain: str
    server: str | None
    srv: list[SrvRecord] = field(default_factory=list)
    targets: list[TargetReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"_vlmcs._tcp.{self.domain}. via {self.server or 'system resolver'}"]
        for rec in self.srv:
            lines.append(f"  SRV {rec.priority} {rec.weight} {rec.port} {rec.target}")
        for target in self.targets:
            lines.append(f"  {target.target} A {', '.join(target.addresses) or '-'}")
            for c in target.connect:
                state = f"open ({c.ms:.1f} ms)" if c.ok and c.ms is not None else f"failed: {c.error}"
                lines.append(f"    tcp {c.address}:{c.port} {state}")
        return lines


@dataclass
class HostReport(_Checked):
    """The result of ``kms check --host``."""

    host: str
    port: int
    expect: Literal["open", "closed"]
    addresses: list[str] = field(default_factory=list)
    connect: list[Connect] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"{self.host} port {self.port}, expected {self.expect}"]
        for c in self.connect:
            state = "open" if c.ok else f"closed ({c.error})"
            lines.append(f"  tcp {c.address}:{c.port} {state}")
        return lines


class Resolver(Protocol):
    def srv(self, name: str) -> list[SrvRecord] | None: ...

    def addresses(self, name: str) -> list[str] | None: ...


Connector = Callable[[str, int, float], Connect]


def parse_server(text: str) -> tuple[str, int]:
    """``IP[:PORT]`` or ``[v6]:PORT`` → (ip, port); ValueError when malformed."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(text)
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(text)
    return host, port


class DnsResolver:
    """dnspython: ``Resolver(configure=False)`` with one Do53 server, else the system resolver; absolute names."""

    def __init__(self, server: tuple[str, int] | None, lifetime: float) -> None:
        import dns.nameserver
        import dns.resolver

        try:
            if server is None:
                self._resolver = dns.resolver.Resolver(configure=True)
            else:
                self._resolver = dns.resolver.Resolver(configure=False)
                self._resolver.nameservers = [dns.nameserver.Do53Nameserver(server[0], server[1])]
        except dns.resolver.NoResolverConfiguration:
            raise DnsUnavailable("no system resolver configured (/etc/resolv.conf)") from None
        self._resolver.timeout = 2.0
        self._resolver.lifetime = lifetime
        self._resolver.search = []

    def _query(self, name: str, rdtype: str) -> Any:
        import dns.exception
        import dns.resolver

        try:
            return self._resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.resolver.NoNameservers:
            raise DnsUnavailable(f"every server failed for {name} {rdtype} (SERVFAIL/REFUSED)") from None
        except dns.exception.Timeout:
            raise DnsUnavailable(f"no answer for {name} {rdtype} (timeout)") from None
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsUnavailable(f"{name} {rdtype}: {type(exc).__name__}") from None

    def srv(self, name: str) -> list[SrvRecord] | None:
        answer = self._query(name, "SRV")
        if answer is None:
            return None
        return [SrvRecord(r.priority, r.weight, r.port, r.target.to_text()) for r in answer]

    def addresses(self, name: str) -> list[str] | None:
        answer = self._query(name, "A")
        return None if answer is None else [r.address for r in answer]


def tcp_connect(address: str, port: int, timeout: float) -> Connect:
    """One TCP connect; the error is the errno text (``Connection refused``, ``timed out``)."""
    start = time.perf_counter()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            pass
    except TimeoutError:
        return Connect(address, port, False, None, "timed out")
    except OSError as exc:
        return Connect(address, port, False, None, exc.strerror or type(exc).__name__)
    return Connect(address, port, True, round((time.perf_counter() - start) * 1000, 2), None)


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


def evaluate_domain(
    domain: str,
    resolver: Resolver,
    connect: Connector,
    *,
    server: str | None,
    expect_target: str | None,
    expect_port: int,
    expect_address: str,
    timeout: float,
) -> DomainReport:
    """Steps 1–4 of §3.8; raises ``DnsUnavailable`` when DNS could not be asked."""
    domain = domain.rstrip(".")
    report = DomainReport(domain, server)
    name = f"_vlmcs._tcp.{domain}."
    records = resolver.srv(name)
    if not records:
        report.problems.append(Problem("srv_missing", f"no SRV record {name}"))
        return report
    report.srv = sorted(records, key=lambda r: (r.priority, -r.weight))
    want = (
        _absolute(expect_target if expect_target else f"vlmcs.{domain}").lower()
        if expect_target != ""
        else ""
    )
    for rec in report.srv:
        if rec.target == ".":
            report.problems.append(Problem("srv_service_unavailable", f"{name} has target '.' (service off)"))
            continue
        if expect_port and rec.port != expect_port:
            report.problems.append(
                Problem("srv_port_mismatch", f"{name} port is {rec.port}, expected {expect_port}")
            )
        if want and rec.target.lower() != want:
            report.problems.append(
                Problem("srv_target_mismatch", f"{name} points at {rec.target}, expected {want}")
            )
        target = TargetReport(rec.target)
        report.targets.append(target)
        addresses = resolver.addresses(rec.target)
        if not addresses:
            report.problems.append(Problem("target_no_address", f"{rec.target} has no A record"))
            continue
        target.addresses = addresses
        if expect_address and expect_address not in addresses:
            report.problems.append(
                Problem(
                    "address_mismatch", f"{rec.target} is {', '.join(addresses)}, expected {expect_address}"
                )
            )
        for address in addresses:
            result = connect(address, rec.port, timeout)
            target.connect.append(result)
            if not result.ok:
                report.problems.append(
                    Problem("connect_failed", f"tcp {address}:{rec.port} ({rec.target}): {result.error}")
                )
    return report


def evaluate_host(
    host: str,
    port: int,
    expect: Literal["open", "closed"],
    resolver: Resolver | None,
    connect: Connector,
    *,
    timeout: float,
) -> HostReport:
    """Resolve ``host`` (or take an IP literal) and connect to ``port``; ``closed`` fails on any success."""
    report = HostReport(host, port, expect)
    try:
        ipaddress.ip_address(host.strip("[]"))
        addresses: list[str] | None = [host.strip("[]")]
    except ValueError:
        if resolver is None:
            raise DnsUnavailable("no resolver") from None
        addresses = resolver.addresses(_absolute(host))
    if not addresses:
        report.problems.append(Problem("host_unresolvable", f"{host} has no A record"))
        return report
    report.addresses = addresses
    for address in addresses:
        report.connect.append(connect(address, port, timeout))
    opened = [c for c in report.connect if c.ok]
    if expect == "open" and not opened:
        errors = "; ".join(f"{c.address}: {c.error}" for c in report.connect)
        report.problems.append(Problem("connect_failed", f"tcp port {port} not open ({errors})"))
    if expect == "closed" and opened:
        report.problems.append(
            Problem("unexpectedly_open", f"tcp port {port} accepts connections on {opened[0].address}")
        )
    return report
