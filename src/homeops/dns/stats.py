"""Service: `dns stats`: real query-rate gauges from Technitium's dashboard API for the anomaly alerts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from homeops.dns.service import Runtime
from homeops.dns.settings import Instance
from homeops.dns.technitium import TechnitiumError

FIELDS = (
    "totalQueries",
    "totalNoError",
    "totalServerFailure",
    "totalNxDomain",
    "totalRefused",
    "totalBlocked",
    "totalDropped",
)
_CONSONANTS = re.compile(r"[bcdfghjklmnpqrstvwxyz]{5}")


def dga_suspects(names: Iterable[str]) -> list[str]:
    """Pure: names longer than 30 characters or with 5 consecutive consonants (the original heuristic)."""
    return sorted({n for n in names if len(n) > 30 or _CONSONANTS.search(n.lower())})


@dataclass
class InstanceStats:
    """One instance's stats, or why they could not be read."""

    name: str
    ok: bool
    stats: dict[str, int] = field(default_factory=dict)
    top_domains: list[str] = field(default_factory=list)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "stats": self.stats,
            "top_domains": self.top_domains,
            "error": self.error or None,
        }


@dataclass
class StatsReport:
    """`dns stats` result."""

    scope: str
    instances: list[InstanceStats]
    pushed: bool = False

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.instances)

    @property
    def totals(self) -> dict[str, int]:
        return {f: sum(i.stats.get(f, 0) for i in self.instances if i.ok) for f in FIELDS}

    @property
    def dga_names(self) -> list[str]:
        return dga_suspects(n for i in self.instances for n in i.top_domains)

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "instances": [i.to_json() for i in self.instances],
            "totals": self.totals,
            "dga_suspects": len(self.dga_names),
            "dga_names": self.dga_names,
            "pushed": self.pushed,
            "ok": self.ok,
        }

    def render_human(self) -> str:
        t = self.totals
        lines = [
            f"scope {self.scope}: {t['totalQueries']} queries, {t['totalServerFailure']} SERVFAIL, "
            f"{t['totalNxDomain']} NXDOMAIN, {t['totalBlocked']} blocked in the last hour; "
            f"{len(self.dga_names)} DGA suspects"
        ]
        for i in self.instances:
            lines.append(
                f"  {i.name}: " + (f"{i.stats.get('totalQueries')} queries" if i.ok else f"FAILED {i.error}")
            )
        lines.extend(f"  dga suspect: {n}" for n in self.dga_names)
        lines.append(f"pushed: {'yes' if self.pushed else 'no'}")
        return "\n".join(lines)


def _read(rt: Runtime, inst: Instance) -> InstanceStats:
    client = rt.client(inst)
    try:
        raw = client.stats()
        bad = [f for f in FIELDS if not isinstance(raw.get(f), int) or isinstance(raw.get(f), bool)]
        if bad:
            return InstanceStats(inst.name, False, error=f"stats lack integer {', '.join(bad)}")
        top = [str(t.get("name", "")) for t in client.top_domains(20) if t.get("name")]
    except TechnitiumError as exc:
        return InstanceStats(inst.name, False, error=exc.message)
    return InstanceStats(inst.name, True, {f: int(raw[f]) for f in FIELDS}, top)


def run_stats(rt: Runtime) -> StatsReport:
    """Read every instance in scope, concurrently."""
    s = rt.settings
    scope = [s.primary] if s.stats_scope == "primary" else list(s.instances)
    return StatsReport(s.stats_scope, rt.map(scope, lambda inst: _read(rt, inst)))


def push_stats(rt: Runtime, report: StatsReport, url: str) -> bool:
    """PUT the job group (a full run replaces it), typed, with the original HELP texts."""
    from homeops import metrics

    t = report.totals
    fams = [
        metrics.gauge("dns_anomaly_total_queries", t["totalQueries"], help="Total DNS queries in last hour"),
        metrics.gauge(
            "dns_anomaly_server_failure", t["totalServerFailure"], help="DNS server failures in last hour"
        ),
        metrics.gauge("dns_anomaly_nx_domain", t["totalNxDomain"], help="NX domain responses in last hour"),
        metrics.gauge("dns_anomaly_blocked", t["totalBlocked"], help="Blocked queries in last hour"),
        metrics.gauge(
            "dns_anomaly_dga_suspects", len(report.dga_names), help="Domains with DGA-like characteristics"
        ),
        metrics.gauge("dns_anomaly_check_timestamp", rt.clock(), help="Last successful check timestamp"),
    ]
    res = metrics.push(
        url,
        rt.settings.stats_job,
        fams,
        method="PUT",
        typed=True,
        tries=3,
        retry_delay=rt.settings.push_retry_delay,
    )
    return res.pushed
