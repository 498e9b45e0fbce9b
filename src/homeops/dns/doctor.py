"""Doctor: the Deployments' rollout state read once, the gate's API probe and zone-count parity (no waits,
no writes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeops.config import Config
from homeops.doctor import Check, GroupReport, Status

if TYPE_CHECKING:
    from homeops.dns.service import Runtime


def _rollout_checks(rt: Runtime) -> list[Check]:
    """One read per Deployment: done → ok, rolling → warn, failed or missing → fail, API down → unknown."""
    from homeops.errors import ConfigError, HomeopsError

    s = rt.settings
    deployments = [i.deployment for i in s.instances if i.deployment]
    if not deployments:
        return []
    try:
        kube = rt.kube()
    except ConfigError as exc:
        # No Kubernetes configuration at all (a workstation with static dns addresses): say so, do not fail.
        return [Check("deployments", "warn", f"not checked: {exc.what}")]
    out = []
    for dep in deployments:
        try:
            state = kube.rollout(s.namespace, dep)
        except HomeopsError as exc:
            out.append(Check(f"deployment {dep}", "unknown", exc.line()))
            continue
        status: Status = "ok" if state.done else ("fail" if state.failed else "warn")
        out.append(Check(f"deployment {dep}", status, state.message))
    return out


def checks(config: Config) -> GroupReport:
    """``deployments``, ``api`` and ``zone_parity`` (specs/dns.md §1); ``unknown`` = could not check."""
    from homeops.dns.gate import probe_api, zone_list
    from homeops.dns.plan import zone_parity
    from homeops.dns.service import build
    from homeops.errors import HomeopsError

    found: list[Check] = []
    with build(config, sleep=lambda _s: None) as rt:
        try:
            rt.credentials()
        except HomeopsError as exc:
            return GroupReport("dns", (Check("technitium api", "unknown", exc.line()),))
        found.extend(_rollout_checks(rt))
        instances = rt.settings.instances
        probes = rt.map(instances, lambda inst: probe_api(rt, inst))
        for p in probes:
            status: Status = "ok" if p.ok else ("unknown" if p.unreachable else "fail")
            found.append(Check(f"technitium api {p.name}", status, p.detail))
        # An instance whose probe could not reach it is not asked again (its read retries only add delay).
        down = {p.name: p.detail for p in probes if p.unreachable}
        lists = dict(
            zip(
                (i.name for i in instances),
                rt.map(instances, lambda inst: down.get(inst.name) or zone_list(rt, inst)),
                strict=True,
            )
        )
        parity = zone_parity(rt.settings.primary.name, lists)
        if parity.ok:
            found.append(Check("zone parity", "ok", f"{parity.findings[0].count} zones on every instance"))
        else:
            bad = "; ".join(f"{f.name}: {f.detail}" for f in parity.findings if not f.ok)
            unreadable = all(f.error for f in parity.findings if not f.ok)
            found.append(
                Check("zone parity", "unknown" if unreadable else "fail", bad + " (homeops dns sync)")
            )
    return GroupReport("dns", tuple(found))
