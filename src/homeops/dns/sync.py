"""Service: `dns sync`: gather zone lists and options, plan (plan.py), apply, recount, push the metrics."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from homeops.dns.plan import CHANGES, PlannedAction, ReplicaPlan, counted, plan_primary, plan_replica
from homeops.dns.service import Runtime
from homeops.dns.settings import Instance
from homeops.dns.technitium import TechnitiumError, Zone
from homeops.errors import HomeopsError
from homeops.output import info, warn


@dataclass
class ActionOutcome:
    """A planned action and, after apply, how it went."""

    planned: PlannedAction
    ok: bool | None = None  # None = planned only (dry run)
    error: str = ""
    result: str = "planned"  # planned | in_flight | done | exists | failed | not_run (stopped by Ctrl-C)

    def to_json(self, with_instance: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "action": self.planned.action,
            "zone": self.planned.zone,
            "ok": self.ok,
            "error": self.error or None,
            "result": self.result,
        }
        if with_instance:
            doc["instance"] = self.planned.instance
        return doc


@dataclass
class ReplicaReport:
    """One replica: login/list outcome, its plan and outcomes, count after the run."""

    name: str
    ok: bool = True
    zone_count: int = 0
    error: str = ""
    plan: ReplicaPlan | None = None
    outcomes: list[ActionOutcome] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        plan = self.plan or ReplicaPlan(self.name)
        return {
            "name": self.name,
            "ok": self.ok,
            "zone_count": self.zone_count,
            "error": self.error or None,
            "actions": [o.to_json(with_instance=False) for o in self.outcomes],
            "stale": list(plan.stale),
            "conflicts": list(plan.conflicts),
            "warnings": list(plan.warnings),
        }


@dataclass
class SyncReport:
    """The result of `dns sync` (the JSON shape of specs/dns.md §3.3)."""

    dry_run: bool
    transfer_address: str = ""
    primary_name: str = "primary"
    primary_count: int = 0
    primary_ok: bool = True
    unreachable: str = ""  # the primary or Kubernetes could not be read (exit 4)
    primary_outcomes: list[ActionOutcome] = field(default_factory=list)
    replicas: list[ReplicaReport] = field(default_factory=list)
    failures: int = 0
    pushed: bool = False
    phase: str = "gather"  # gather | apply | recount: where an interruption stopped the run
    interrupted: bool = False  # Ctrl-C/SIGTERM: no new calls were started after it

    @property
    def all_outcomes(self) -> list[ActionOutcome]:
        return [*self.primary_outcomes, *(o for r in self.replicas for o in r.outcomes)]

    @property
    def created(self) -> int:
        return sum(1 for o in self.all_outcomes if o.planned.action == "create" and o.result == "done")

    @property
    def status(self) -> int:
        return 1 if self.failures or self.unreachable or not self.primary_ok or self.interrupted else 0

    @property
    def changed(self) -> bool:
        return any(o.planned.action in CHANGES and o.result == "done" for o in self.all_outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "transfer_address": self.transfer_address or None,
            "primary": {"name": self.primary_name, "zone_count": self.primary_count},
            "replicas": [r.to_json() for r in self.replicas],
            "actions": [o.to_json() for o in self.all_outcomes],
            "created": self.created,
            "failures": self.failures,
            "status": self.status,
            "changed": self.changed,
            "pushed": self.pushed,
            "error": self.unreachable or None,
            "interrupted": self.interrupted,
        }

    def interrupted_line(self) -> str:
        """The one line after Ctrl-C: what was changed, what may have changed, what was not run."""
        if self.phase == "gather":
            return "sync interrupted before any write — nothing was changed; run homeops dns sync again"

        def names(items: list[ActionOutcome]) -> str:
            shown = [f"{o.planned.action} {o.planned.zone} on {o.planned.instance}" for o in items[:5]]
            return ", ".join(shown) + (f" and {len(items) - 5} more" if len(items) > 5 else "")

        done = [o for o in self.all_outcomes if o.result == "done" and o.planned.action in CHANGES]
        maybe = [o for o in self.all_outcomes if o.result == "in_flight"]
        skipped = sum(1 for o in self.all_outcomes if o.result in ("planned", "not_run"))
        parts = [f"{len(done)} change(s) made" + (f" ({names(done)})" if done else "")]
        if maybe:
            parts.append(f"{len(maybe)} call(s) still in flight may have changed {names(maybe)}")
        parts.append(f"{skipped} planned action(s) not run")
        return (
            f"sync interrupted during {self.phase}: {'; '.join(parts)}; status=1"
            " — run homeops dns sync again to finish"
        )

    def render_human(self) -> str:
        lines = []
        if self.unreachable:
            lines.append(f"not synced: {self.unreachable}")
        head = (
            "plan (dry run, nothing changed)"
            if self.dry_run
            else ("changed" if self.changed else "unchanged")
        )
        lines.append(
            f"{head}; transfer address {self.transfer_address or '-'}; primary {self.primary_count} zones"
        )
        for o in self.primary_outcomes:
            lines.append(f"  {self.primary_name}: {o.planned.action} {o.planned.zone} [{o.result}]")
        for r in self.replicas:
            lines.append(
                f"  {r.name}: {'ok' if r.ok else 'FAILED'} {r.zone_count} zones"
                + (f" — {r.error}" if r.error else "")
            )
            for o in r.outcomes:
                lines.append(
                    f"    {o.planned.action} {o.planned.zone} [{o.result}]"
                    + (f" {o.error}" if o.error else "")
                )
            if r.plan:
                for label, items in (
                    ("stale", r.plan.stale),
                    ("conflict", r.plan.conflicts),
                    ("warning", r.plan.warnings),
                ):
                    lines.extend(f"    {label}: {i}" for i in items)
        lines.append(
            f"failures {self.failures}, status {self.status}, pushed {'yes' if self.pushed else 'no'}"
        )
        return "\n".join(lines)


def transfer_address(rt: Runtime) -> str:
    """The configured IP literal, else the primary Service's ClusterIP (raises HomeopsError)."""
    if rt.settings.primary_transfer_address:
        return rt.settings.primary_transfer_address
    svc = rt.kube().service(rt.settings.namespace, rt.settings.primary_service)
    ip = str((svc.get("spec") or {}).get("clusterIP") or "")
    if not ip or ip == "None":
        from homeops.errors import ProblemFound

        raise ProblemFound(
            f"service {rt.settings.primary_service} has no ClusterIP", "set dns.primary_transfer_address"
        )
    return ip


@dataclass
class _Gathered:
    inst: Instance
    zones: list[Zone] | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""
    option_failures: int = 0


def _gather_replica(rt: Runtime, inst: Instance, eligible: set[str], delete_stale: bool) -> _Gathered:
    g = _Gathered(inst)
    client = rt.client(inst)
    try:
        client.login()
        g.zones = client.list_zones()
    except TechnitiumError as exc:
        g.error = exc.message
        info(f"ERROR: Cannot login to {inst.name}")
        return g
    for zone in g.zones:
        if zone.type != "Secondary" or not zone.counted:
            continue
        if zone.name in eligible or delete_stale:
            try:
                g.options[zone.name] = client.zone_options(zone.name)
            except TechnitiumError as exc:
                warn(f"{inst.name}: cannot read options of {zone.name}: {exc.message}")
                g.option_failures += 1
                # Unknown options: do not heal or delete blindly; treat as pointing elsewhere.
                g.options[zone.name] = {"primaryNameServerAddresses": ["<unknown>"]}
    return g


_RECORD = threading.Lock()  # outcomes are recorded, and given up on, under this lock


def _record(rt: Runtime, o: ActionOutcome, ok: bool, result: str, error: str = "") -> bool:
    """Record a call's answer, unless the run already stopped waiting for it (then the report stands)."""
    with _RECORD:
        if rt.gave_up.is_set():
            return False
        o.ok, o.result, o.error = ok, result, error
        return True


def _apply_one(rt: Runtime, inst: Instance, o: ActionOutcome, address: str) -> None:
    if rt.stop.is_set():  # Ctrl-C: start no new write
        o.result = "not_run"
        return
    client = rt.client(inst)
    act, zone = o.planned.action, o.planned.zone
    o.result = "in_flight"  # until the answer arrives, this call may or may not have changed the zone
    try:
        if act == "set_zone_transfer":
            client.set_zone_options(zone, zoneTransfer=rt.settings.zone_transfer)
        elif act == "create":
            info(f"NEW: Creating {zone} on {inst.name}")
            client.create_secondary(zone, address)
        elif act == "set_primary":
            client.set_zone_options(zone, primaryNameServerAddresses=address)
        elif act == "resync":
            client.resync(zone)
        elif act == "delete":
            client.delete_zone(zone)
        _record(rt, o, True, "done")
    except TechnitiumError as exc:
        if act == "create" and exc.message.startswith("Zone already exists"):
            # Someone (another run) created it meanwhile: re-read; a Secondary zone there is fine.
            try:
                now = {z.name: z for z in client.list_zones()}
            except TechnitiumError:
                now = {}
            if zone in now and now[zone].type == "Secondary":
                _record(rt, o, True, "exists")
                return
        if not _record(rt, o, False, "failed", exc.message):
            return  # given up on after Ctrl-C: the report already says it may have changed
        if act == "create":
            info(f"ERROR: Failed to create {zone} on {inst.name}: {exc.message}")
        else:
            warn(f"{inst.name}: {act} {zone} failed: {exc.message}")


def run_sync(rt: Runtime, *, dry_run: bool, delete_stale: bool) -> SyncReport:
    """Plan, then (unless dry run) apply and recount. Never raises for API failures: they are in the report.

    Ctrl-C (KeyboardInterrupt) stops it: no new call starts, calls in flight get ``interrupt_grace`` seconds,
    and the report so far comes back with ``interrupted`` set.
    """
    report = SyncReport(dry_run=dry_run, primary_name=rt.settings.primary.name)
    try:
        _sync(rt, report, delete_stale=delete_stale)
    except KeyboardInterrupt:
        rt.stop.set()
        with _RECORD:
            rt.gave_up.set()  # rt.map waited interrupt_grace; answers arriving later are not recorded
        report.interrupted = True
        if report.phase == "apply":
            report.failures += sum(1 for o in report.all_outcomes if o.ok is False)
    return report


def _sync(rt: Runtime, report: SyncReport, *, delete_stale: bool) -> None:
    s = rt.settings
    primary = s.primary
    dry_run = report.dry_run
    try:
        report.transfer_address = transfer_address(rt)
    except HomeopsError as exc:
        report.unreachable = f"cannot read the transfer address: {exc.line()}"
        report.primary_ok = False
        return
    pclient = rt.client(primary)
    try:
        pclient.login()
        primary_zones = pclient.list_zones()
    except TechnitiumError as exc:
        info("ERROR: Cannot login to primary")
        report.unreachable = f"cannot read the primary: {exc.message}"
        report.primary_ok = False
        return
    eligible = counted(primary_zones)
    report.primary_count = len(eligible)
    options: dict[str, dict[str, Any]] = {}

    def read_options(zone: Zone) -> dict[str, Any] | str:
        try:
            return pclient.zone_options(zone.name)
        except TechnitiumError as exc:
            return exc.message

    primaries = [z for z in eligible if z.type == "Primary"]
    for zone, got in zip(primaries, rt.map(primaries, read_options), strict=True):
        if isinstance(got, str):
            warn(f"{primary.name}: cannot read options of {zone.name}: {got}")
            report.failures += 1
            got = {"zoneTransfer": s.zone_transfer}  # unknown: leave it alone
        options[zone.name] = got
    report.primary_outcomes = [
        ActionOutcome(a) for a in plan_primary(primary.name, eligible, options, s.zone_transfer)
    ]
    names = {z.name for z in eligible}
    gathered = rt.map(s.replicas, lambda inst: _gather_replica(rt, inst, names, delete_stale))
    for g in gathered:
        rep = ReplicaReport(g.inst.name)
        report.failures += g.option_failures
        if g.zones is None:
            rep.ok, rep.error = False, g.error
            report.failures += 1
        else:
            rep.plan = plan_replica(
                g.inst.name,
                eligible,
                g.zones,
                g.options,
                report.transfer_address,
                resync=s.resync,
                delete_stale=delete_stale,
            )
            rep.outcomes = [ActionOutcome(a) for a in rep.plan.actions]
            rep.zone_count = len(counted(g.zones))
            report.failures += len(rep.plan.conflicts)
            for c in rep.plan.conflicts:
                warn(f"{g.inst.name}: zone {c} exists with another type; not touched")
        report.replicas.append(rep)
    if dry_run:
        return

    report.phase = "apply"
    for o in report.primary_outcomes:
        _apply_one(rt, primary, o, report.transfer_address)
    by_name = {i.name: i for i in s.replicas}

    def apply_replica(rep: ReplicaReport) -> None:
        for o in rep.outcomes:
            _apply_one(rt, by_name[rep.name], o, report.transfer_address)

    rt.map([r for r in report.replicas if r.ok], apply_replica)
    report.failures += sum(1 for o in report.all_outcomes if o.ok is False)
    report.phase = "recount"

    # Recount every instance the same way (a failed list is 0 and a failure).
    failed = {r.name for r in report.replicas if not r.ok}

    def recount(inst: Instance) -> int | None:
        if inst.name in failed:
            return None
        try:
            return len(counted(rt.client(inst).list_zones()))
        except TechnitiumError:
            return None

    counts = rt.map(s.instances, recount)
    reps = {r.name: r for r in report.replicas}
    for inst, n in zip(s.instances, counts, strict=True):
        if inst.name == primary.name:
            report.primary_count = n or 0
            report.failures += n is None
            continue
        rep = reps[inst.name]
        if not rep.ok:
            rep.zone_count = 0  # its login or list already failed and was counted
            continue
        if n is None:
            rep.ok, rep.error = False, "zone list failed after apply"
            report.failures += 1
        rep.zone_count = n or 0


def push_metrics(rt: Runtime, report: SyncReport, *, url: str) -> bool:
    """The original's gauges (job group, typed, POST) and per-instance zone counts (untyped, POST)."""
    from homeops import metrics

    s = rt.settings
    now = rt.clock()
    fams = [
        metrics.gauge(
            "technitium_zone_sync_status", report.status, help="Zone sync job status (0=ok, 1=fail)"
        ),
        metrics.gauge(
            "technitium_zone_sync_failures", report.failures, help="Zones that failed to create this run"
        ),
        metrics.gauge("technitium_zone_sync_last_run", now, help="Timestamp of last zone-sync run"),
    ]
    if report.status == 0:
        fams.append(
            metrics.gauge(
                "technitium_zone_sync_last_success", now, help="Timestamp of last zone-sync run with status 0"
            )
        )
    opts: dict[str, Any] = {"method": "POST", "tries": 3, "retry_delay": s.push_retry_delay}
    if not metrics.push(url, s.sync_job, fams, typed=True, **opts).pushed:
        return False
    if report.interrupted:
        return True  # the counts are unknown after an interruption: keep the last good ones
    counts = {report.primary_name: report.primary_count, **{r.name: r.zone_count for r in report.replicas}}
    for name, n in counts.items():
        fam = metrics.gauge("technitium_zone_count", n, labels={"instance": name})
        if not metrics.push(url, s.sync_job, [fam], grouping={"instance": name}, typed=False, **opts).pushed:
            return False
    return True
