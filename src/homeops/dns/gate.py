"""Service: `dns gate`: rollout → API probe → zone parity → answer parity (specs/dns.md §3.4), fail closed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from homeops.dns import dnsclient
from homeops.dns.plan import zone_parity
from homeops.dns.service import Runtime
from homeops.dns.settings import Instance
from homeops.dns.technitium import TechnitiumError, Zone
from homeops.errors import HomeopsError, Unreachable

StepStatus = Literal["passed", "failed", "skipped", "not_run"]
STEPS = ("rollout", "api", "zone_parity", "answer_parity")
FIXES = {
    "rollout": "check the Deployments' events and pods in the technitium namespace",
    "api": "check that instance's HTTP API (port 5380) and the credentials",
    "zone_parity": "run homeops dns sync",
    "answer_parity": "run homeops dns parity with the canary name to see every answer",
}


@dataclass
class InstanceCheck:
    """One instance in one step."""

    name: str
    ok: bool
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    unreachable: bool = False  # could not reach or authenticate (as opposed to a wrong answer)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, **self.extra}


@dataclass
class Step:
    """One gate step."""

    step: str
    status: StepStatus = "not_run"
    seconds: float = 0.0
    instances: list[InstanceCheck] = field(default_factory=list)
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "detail": self.detail or None,
            "instances": [i.to_json() for i in self.instances],
        }

    def first_failure(self) -> str:
        bad = next((i for i in self.instances if not i.ok), None)
        if bad is not None:
            return f"{bad.name} {bad.detail}" if not bad.detail.startswith(bad.name) else bad.detail
        return self.detail or "failed"


@dataclass
class GateReport:
    """The gate's result (JSON: ok, failed_step, steps)."""

    steps: list[Step]
    could_not_check: str = ""  # a dependency was unreachable (fail closed)

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.status == "failed"), None)

    @property
    def ok(self) -> bool:
        return self.failed_step is None and not self.could_not_check

    def to_json(self) -> dict[str, Any]:
        failed = self.failed_step
        return {
            "ok": self.ok,
            "failed_step": failed.step if failed else None,
            "could_not_check": self.could_not_check or None,
            "steps": [s.to_json() for s in self.steps],
        }

    def render_human(self) -> str:
        lines = []
        for s in self.steps:
            lines.append(
                f"{s.step:<14} {s.status:<8} {s.seconds:6.2f}s" + (f"  {s.detail}" if s.detail else "")
            )
            for i in s.instances:
                lines.append(f"    {'ok  ' if i.ok else 'FAIL'} {i.name}: {i.detail}")
        lines.append("gate passed" if self.ok else "gate FAILED")
        return "\n".join(lines)

    def failure_line(self) -> str:
        """``gate failed at <step> — <instance detail> — <fix>``."""
        failed = self.failed_step
        if failed is None:
            return ""
        return f"gate failed at {failed.step} — {failed.first_failure()} — {FIXES[failed.step]}"


def _rollout(rt: Runtime, step: Step) -> None:
    s = rt.settings
    deadline = time.monotonic() + s.gate_rollout_timeout
    pending = {i.deployment: i.name for i in s.instances if i.deployment}
    done: dict[str, str] = {}
    while True:
        for dep in list(pending):
            state = rt.kube().rollout(s.namespace, dep)  # Unreachable propagates: could not check
            if state.failed:
                step.instances = _rollout_rows(s.instances, done, {dep: state.message})
                step.status, step.detail = "failed", state.message
                return
            if state.done:
                done[dep] = state.message
                del pending[dep]
            else:
                done.pop(dep, None)
                last = state.message
                step.detail = last
        if not pending:
            step.instances = _rollout_rows(s.instances, done, {})
            step.status, step.detail = "passed", ""
            return
        if time.monotonic() + s.gate_rollout_poll > deadline:
            waiting = {
                d: f"not rolled out within {s.gate_rollout_timeout:g} s ({step.detail})" for d in pending
            }
            step.instances = _rollout_rows(s.instances, done, waiting)
            step.status = "failed"
            step.detail = f"rollout not finished within {s.gate_rollout_timeout:g} s"
            return
        rt.sleep(s.gate_rollout_poll)


def _rollout_rows(
    instances: list[Instance], done: dict[str, str], bad: dict[str, str]
) -> list[InstanceCheck]:
    rows = []
    for inst in instances:
        if inst.deployment in bad:
            rows.append(
                InstanceCheck(inst.name, False, bad[inst.deployment], {"deployment": inst.deployment})
            )
        elif inst.deployment in done:
            rows.append(
                InstanceCheck(inst.name, True, done[inst.deployment], {"deployment": inst.deployment})
            )
    return rows


def probe_api(rt: Runtime, inst: Instance) -> InstanceCheck:
    s = rt.settings
    client = rt.client(inst)
    last: TechnitiumError | None = None
    for attempt in range(s.gate_api_tries):
        if attempt:
            rt.sleep(s.gate_api_interval)
        try:
            stats = client.stats(timeout=s.api_timeout, retry=False)
        except TechnitiumError as exc:
            last = exc
            if exc.kind == "auth" and "login failed" in exc.message:
                break  # a wrong password will not change on retry
            continue
        total = stats.get("totalQueries")
        if isinstance(total, int) and not isinstance(total, bool):
            return InstanceCheck(
                inst.name,
                True,
                f"stats ok, {total} queries in the last hour",
                {"attempts": attempt + 1, "total_queries": total},
            )
        last = TechnitiumError(
            inst.name, "/api/dashboard/stats/get", "protocol", "totalQueries is not an integer"
        )
    assert last is not None
    return InstanceCheck(
        inst.name,
        False,
        f"API probe failed: {last.message}",
        {"kind": last.kind},
        unreachable=last.unreachable,
    )


def zone_list(rt: Runtime, inst: Instance) -> list[Zone] | str:
    try:
        return rt.client(inst).list_zones()
    except TechnitiumError as exc:
        return f"zone list failed: {exc.message}"


def _answers(rt: Runtime, inst: Instance) -> InstanceCheck:
    s = rt.settings
    address = rt.dns_address(inst)
    if isinstance(address, str):
        return InstanceCheck(inst.name, False, address)
    where = f"{address[0]}:{address[1]}"
    result: dnsclient.QueryResult | None = None
    for attempt in range(s.gate_answer_tries):
        if attempt:
            rt.sleep(s.gate_answer_interval)
        result = dnsclient.query(
            address, s.gate_canary_name, s.gate_canary_type, timeout=s.dns_timeout, tries=2
        )
        if result.rcode == "NOERROR" and result.answers:
            return InstanceCheck(
                inst.name,
                True,
                ", ".join(result.answers),
                {"address": where, "answers": list(result.answers), "attempts": attempt + 1},
            )
    assert result is not None
    why = result.error or (f"{result.rcode}, no {s.gate_canary_type} record" if result.rcode else "no answer")
    return InstanceCheck(
        inst.name,
        False,
        f"canary {s.gate_canary_name}: {why}",
        {"address": where, "answers": [], "attempts": s.gate_answer_tries},
    )


def run_gate(rt: Runtime, *, no_k8s: bool, serials: bool) -> GateReport:
    """All four steps; a failed rollout stops the gate, steps 2–4 all run."""
    s = rt.settings
    steps = {name: Step(name) for name in STEPS}
    report = GateReport(list(steps.values()))
    rt.credentials()  # missing credentials: exit 2 before anything runs

    started = time.monotonic()
    if no_k8s:
        steps["rollout"].status = "skipped"
    else:
        try:
            _rollout(rt, steps["rollout"])
        except HomeopsError as exc:
            steps["rollout"].seconds = time.monotonic() - started
            report.could_not_check = f"the Kubernetes API: {exc.line()}"
            return report
    steps["rollout"].seconds = time.monotonic() - started
    if steps["rollout"].status == "failed":
        return report

    started = time.monotonic()
    api = steps["api"]
    api.instances = rt.map(s.instances, lambda inst: probe_api(rt, inst))
    api.status = "passed" if all(i.ok for i in api.instances) else "failed"
    api.seconds = time.monotonic() - started
    if all(i.unreachable for i in api.instances):
        report.could_not_check = "every Technitium API: " + api.instances[0].detail

    started = time.monotonic()
    zp = steps["zone_parity"]
    lists = dict(
        zip((i.name for i in s.instances), rt.map(s.instances, lambda inst: zone_list(rt, inst)), strict=True)
    )
    parity = zone_parity(s.primary.name, lists, serials=serials)
    zp.instances = [
        InstanceCheck(
            f.name,
            f.ok,
            f.detail,
            {
                "zone_count": f.count,
                "missing": list(f.missing),
                "extra": list(f.extra),
                "warnings": list(f.warnings),
            },
        )
        for f in parity.findings
    ]
    zp.status = "passed" if parity.ok else "failed"
    zp.seconds = time.monotonic() - started

    started = time.monotonic()
    ap = steps["answer_parity"]
    try:
        ap.instances = rt.map(s.instances, lambda inst: _answers(rt, inst))
    except Unreachable as exc:  # pragma: no cover - dns_address turns these into details
        report.could_not_check = f"the Kubernetes API: {exc.line()}"
        return report
    ap.status = "passed" if all(i.ok for i in ap.instances) else "failed"
    if all(not i.ok and "address" not in i.extra for i in ap.instances):
        ap.detail = "no dns-server=true pods found"
    elif ap.status == "passed":
        sets = {tuple(i.extra["answers"]) for i in ap.instances}
        expect = tuple(sorted(s.gate_canary_expect))
        if len(sets) > 1:
            ap.status = "failed"
            ref = tuple(next(i for i in ap.instances if i.name == s.primary.name).extra["answers"])
            for i in ap.instances:
                if tuple(i.extra["answers"]) != ref:
                    i.ok = False
                    i.detail = (
                        f"answers {', '.join(i.extra['answers'])} differ from the primary's {', '.join(ref)}"
                    )
            ap.detail = "instances answer differently"
        elif expect and sets != {expect}:
            ap.status = "failed"
            for i in ap.instances:
                i.ok = False
                i.detail = f"answers {i.detail}, expected {', '.join(expect)}"
    ap.seconds = time.monotonic() - started
    return report
