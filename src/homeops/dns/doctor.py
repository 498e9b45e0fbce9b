"""Doctor: the gate's API probe and zone-count parity (no rollout wait, no writes)."""

from __future__ import annotations

from homeops.config import Config
from homeops.doctor import Check, GroupReport, Status


def checks(config: Config) -> GroupReport:
    """``api`` and ``zone_parity`` per specs/dns.md §1; ``unknown`` when credentials or APIs are missing."""
    from homeops.dns.gate import probe_api, zone_list
    from homeops.dns.plan import zone_parity
    from homeops.dns.service import build
    from homeops.errors import HomeopsError

    checks: list[Check] = []
    with build(config, sleep=lambda _s: None) as rt:
        try:
            rt.credentials()
        except HomeopsError as exc:
            return GroupReport("dns", (Check("technitium api", "unknown", exc.line()),))
        probes = rt.map(rt.settings.instances, lambda inst: probe_api(rt, inst))
        for p in probes:
            status: Status = "ok" if p.ok else ("unknown" if p.unreachable else "fail")
            checks.append(Check(f"technitium api {p.name}", status, p.detail))
        lists = dict(
            zip(
                (i.name for i in rt.settings.instances),
                rt.map(rt.settings.instances, lambda inst: zone_list(rt, inst)),
                strict=True,
            )
        )
        parity = zone_parity(rt.settings.primary.name, lists)
        if parity.ok:
            checks.append(Check("zone parity", "ok", f"{parity.findings[0].count} zones on every instance"))
        else:
            bad = "; ".join(f"{f.name}: {f.detail}" for f in parity.findings if not f.ok)
            unreadable = all(f.error for f in parity.findings if not f.ok)
            checks.append(
                Check("zone parity", "unknown" if unreadable else "fail", bad + " (homeops dns sync)")
            )
    return GroupReport("dns", tuple(checks))
