"""Service: `dns parity` (every instance answers the same) and `dns fallback-check` (resolv.conf fallback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeops.dns import dnsclient
from homeops.dns.service import Runtime
from homeops.dns.settings import Instance, parse_address
from homeops.errors import UsageError

# --- parity -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParityRow:
    """One instance's answer."""

    name: str
    address: str
    rcode: str | None
    answers: tuple[str, ...]
    ms: float
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address or None,
            "rcode": self.rcode,
            "answers": list(self.answers),
            "ms": self.ms,
            "error": self.error or None,
        }


@dataclass(frozen=True)
class ParityReport:
    """`dns parity` result."""

    name: str
    type: str
    rows: tuple[ParityRow, ...]
    allow_empty: bool = False

    @property
    def distinct(self) -> int:
        return len({(r.rcode, r.answers) for r in self.rows})

    @property
    def any_answered(self) -> bool:
        return any(r.rcode is not None for r in self.rows)

    @property
    def ok(self) -> bool:
        if not self.rows or any(r.rcode is None for r in self.rows) or self.distinct != 1:
            return False
        first = self.rows[0]
        if first.rcode == "NOERROR" and first.answers:
            return True
        return self.allow_empty and first.rcode in ("NOERROR", "NXDOMAIN")

    def problems(self) -> list[str]:
        out = [f"{r.name}: {r.error or 'no answer'}" for r in self.rows if r.rcode is None]
        if self.distinct > 1:
            out.append("instances answer differently")
        elif self.rows and self.rows[0].rcode is not None and not self.ok:
            out.append(f"every instance answered {self.rows[0].rcode} with no {self.type} record")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "ok": self.ok,
            "distinct_answers": self.distinct,
            "instances": [r.to_json() for r in self.rows],
            "problems": self.problems(),
        }

    def render_human(self) -> str:
        lines = [f"{self.name} {self.type}: {'equal on every instance' if self.ok else 'NOT OK'}"]
        for r in self.rows:
            shown = ", ".join(r.answers) or "-"
            lines.append(f"  {r.name:<22} {r.address or '-':<22} {r.rcode or r.error:<10} {shown}")
        lines.extend(f"  problem: {p}" for p in self.problems())
        return "\n".join(lines)


def _ask(rt: Runtime, inst: Instance, name: str, rdtype: str) -> ParityRow:
    address = rt.dns_address(inst)
    if isinstance(address, str):
        return ParityRow(inst.name, "", None, (), 0.0, address)
    res = dnsclient.query(address, name, rdtype, timeout=rt.settings.dns_timeout, tries=2)
    return ParityRow(inst.name, f"{address[0]}:{address[1]}", res.rcode, res.answers, res.ms, res.error)


def run_parity(rt: Runtime, name: str, rdtype: str, *, allow_empty: bool) -> ParityReport:
    """Ask every instance directly, concurrently."""
    rows = rt.map(rt.settings.instances, lambda inst: _ask(rt, inst, name, rdtype))
    return ParityReport(name, rdtype.upper(), tuple(rows), allow_empty)


# --- fallback-check ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvConf:
    """What fallback-check needs from a resolv.conf."""

    nameservers: tuple[str, ...]
    timeout: float | None = None


def parse_resolv_conf(text: str) -> ResolvConf:
    """Pure: nameserver lines in order and ``options timeout:N``."""
    servers: list[str] = []
    timeout: float | None = None
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(words[1])
        elif words and words[0] == "options":
            for opt in words[1:]:
                if opt.startswith("timeout:") and opt[8:].isdigit():
                    timeout = float(opt[8:])
    return ResolvConf(tuple(servers), timeout)


@dataclass
class FallbackReport:
    """`dns fallback-check` result."""

    name: str
    type: str
    primary: str
    fallback: str
    chain: dnsclient.LookupResult
    primary_alone: dnsclient.LookupResult
    fallback_alone: dnsclient.LookupResult
    timeout: float
    problems: list[str] = field(default_factory=list)

    @property
    def primary_down(self) -> bool:
        return self.primary_alone.status in ("timeout", "error")

    @property
    def ok(self) -> bool:
        return self.chain.status == "answered" and self.fallback_alone.status == "answered"

    def to_json(self) -> dict[str, Any]:
        def one(addr: str, r: dnsclient.LookupResult) -> dict[str, Any]:
            return {
                "address": addr,
                "status": r.status,
                "ms": r.ms,
                "answers": list(r.answers),
                "detail": r.detail or None,
            }

        return {
            "name": self.name,
            "type": self.type,
            "chain": {
                "answered_by": self.chain.answered_by or None,
                "answers": list(self.chain.answers),
                "ms": self.chain.ms,
                "status": self.chain.status,
            },
            "primary": one(self.primary, self.primary_alone),
            "fallback": one(self.fallback, self.fallback_alone),
            "primary_down": self.primary_down,
            "timeout": self.timeout,
            "ok": self.ok,
            "problems": self.problems,
        }

    def render_human(self) -> str:
        c = self.chain
        lines = [
            f"{self.name} {self.type}: {'resolution survives' if self.ok else 'NOT OK'}",
            f"  chain     {c.status:<9} {c.ms:8.1f} ms  by {c.answered_by or '-'}  {', '.join(c.answers)}",
            f"  primary   {self.primary_alone.status:<9} {self.primary_alone.ms:8.1f} ms  {self.primary}"
            + ("  (down)" if self.primary_down else ""),
            f"  fallback  {self.fallback_alone.status:<9} {self.fallback_alone.ms:8.1f} ms  {self.fallback}",
        ]
        lines.extend(f"  problem: {p}" for p in self.problems)
        return "\n".join(lines)


def fallback_inputs(
    primary: str | None, fallback: str | None, resolv_conf: str | None, timeout: float | None
) -> tuple[tuple[str, int], tuple[str, int], float | None]:
    """Addresses and timeout from the options or a resolv.conf (UsageError on bad input)."""
    if resolv_conf:
        try:
            conf = parse_resolv_conf(Path(resolv_conf).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(
                f"cannot read {resolv_conf}: {exc.strerror}", "give a readable resolv.conf"
            ) from None
        if len(conf.nameservers) < 2:
            raise UsageError(
                f"{resolv_conf} lists {len(conf.nameservers)} nameserver(s); need a primary and a fallback",
                "add a second nameserver line, or use --primary and --fallback",
            )
        primary = primary or conf.nameservers[0]
        fallback = fallback or conf.nameservers[1]
        timeout = timeout if timeout is not None else conf.timeout
    if not primary or not fallback:
        raise UsageError("--primary and --fallback are required (or --from-resolv-conf PATH)", "see --help")
    try:
        return parse_address(primary), parse_address(fallback), timeout
    except ValueError as exc:
        raise UsageError(f"bad address: {exc}", "use IP[:PORT]") from None


def run_fallback(
    primary: tuple[str, int],
    fallback: tuple[str, int],
    name: str,
    rdtype: str,
    *,
    timeout: float,
    lifetime: float,
) -> FallbackReport:
    """The chain as a stub resolver would use it, then each server alone."""
    chain = dnsclient.resolve_chain([primary, fallback], name, rdtype, timeout=timeout, lifetime=lifetime)
    alone_lifetime = timeout + 0.5
    p_alone = dnsclient.resolve_chain([primary], name, rdtype, timeout=timeout, lifetime=alone_lifetime)
    f_alone = dnsclient.resolve_chain([fallback], name, rdtype, timeout=timeout, lifetime=alone_lifetime)
    report = FallbackReport(
        name,
        rdtype.upper(),
        f"{primary[0]}:{primary[1]}",
        f"{fallback[0]}:{fallback[1]}",
        chain,
        p_alone,
        f_alone,
        timeout,
    )
    if chain.status != "answered":
        report.problems.append(f"the chain did not resolve {name}: {chain.status} ({chain.detail})")
    if f_alone.status != "answered":
        report.problems.append(f"the fallback alone cannot answer: {f_alone.status} ({f_alone.detail})")
    return report
