"""Service: `dns tsig-check`: the server takes signed updates only, signs its replies, and is left clean.

Steps (specs/dns.md §3.7): preflight → unsigned refused → wrong key refused → signed accepted with a verified
signed reply → visible → cleanup (always, once preflight passed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from homeops.dns import dnsclient
from homeops.dns.dnsclient import Address, TsigKey, UpdateResult
from homeops.errors import ExitCode, Refused, Unreachable

REFUSALS = ("REFUSED", "NOTAUTH")
SIGNED_REFUSED_HINT = (
    "the source address must be in the zone's update ACL, the key must exist on this instance, "
    "and a replica's Secondary zone cannot hold a TSIG policy"
)


@dataclass(frozen=True)
class TsigInputs:
    """What to check; the secret is never shown."""

    server: Address
    zone: str
    record: str
    key: TsigKey
    signed_value: str = "10.99.99.99"
    unsigned_value: str = "10.99.99.98"
    timeout: float = 5.0
    visible_interval: float = 0.5

    @property
    def fqdn(self) -> str:
        return f"{self.record}.{self.zone.rstrip('.')}."

    @property
    def server_text(self) -> str:
        return f"{self.server[0]}:{self.server[1]}"


@dataclass
class TsigReport:
    """`dns tsig-check` result (the JSON shape of §3.7)."""

    inp: TsigInputs
    dry_run: bool = False
    unsigned: dict[str, Any] = field(default_factory=lambda: {"rcode": None, "refused": None})
    wrong_key: dict[str, Any] = field(default_factory=lambda: {"result": None, "refused": None})
    signed: dict[str, Any] = field(
        default_factory=lambda: {"rcode": None, "reply_signed": None, "accepted": None}
    )
    visible: dict[str, Any] = field(default_factory=lambda: {"answers": [], "ok": None})
    cleanup: dict[str, Any] = field(default_factory=lambda: {"ok": None, "detail": None})
    problems: list[str] = field(default_factory=list)
    actions: list[dict[str, str]] = field(default_factory=list)
    unreachable: str = ""
    left_behind: bool = False

    @property
    def ok(self) -> bool:
        return not self.dry_run and not self.problems and not self.unreachable

    @property
    def exit_code(self) -> ExitCode:
        if self.dry_run or self.ok:
            return ExitCode.OK
        return ExitCode.PROBLEM if self.problems else ExitCode.UNREACHABLE

    def to_json(self) -> dict[str, Any]:
        i = self.inp
        return {
            "server": i.server_text,
            "zone": i.zone,
            "record": i.record,
            "key_name": i.key.name,
            "algorithm": i.key.algorithm,
            "unsigned": self.unsigned,
            "wrong_key": self.wrong_key,
            "signed": self.signed,
            "visible": self.visible,
            "cleanup": self.cleanup,
            "ok": self.ok,
            "problems": self.problems,
            "changed": self.left_behind,
            "dry_run": self.dry_run,
            "actions": self.actions,
            "unreachable": self.unreachable or None,
        }

    def render_human(self) -> str:
        i = self.inp
        if self.dry_run:
            return "\n".join(
                [
                    f"plan (dry run, nothing sent) against {i.server_text}, zone {i.zone}:",
                    *(f"  {a['verb']} {a['target']} — {a['detail']}" for a in self.actions),
                ]
            )
        rows = [
            ("unsigned update refused", self.unsigned["refused"], self.unsigned["rcode"]),
            ("wrong key refused", self.wrong_key["refused"], self.wrong_key["result"]),
            ("signed update accepted, reply signed", self.signed["accepted"], self.signed["rcode"]),
            ("signed value visible", self.visible["ok"], ", ".join(self.visible["answers"]) or "-"),
            ("test record removed", self.cleanup["ok"], self.cleanup["detail"]),
        ]
        lines = [f"TSIG check of {i.zone} at {i.server_text} (key {i.key.name}, {i.key.algorithm}):"]
        for label, ok, detail in rows:
            mark = "ok  " if ok else ("-   " if ok is None else "FAIL")
            lines.append(f"  {mark} {label}: {detail if detail is not None else '-'}")
        lines.extend(f"  problem: {p}" for p in self.problems)
        if self.unreachable:
            lines.append(f"  unreachable: {self.unreachable}")
        lines.append("TSIG enforced" if self.ok else "TSIG check FAILED")
        return "\n".join(lines)


def _plan(inp: TsigInputs) -> list[dict[str, str]]:
    t = inp.fqdn
    return [
        {"verb": "query", "target": t, "detail": "preflight: refuse if it holds real A data"},
        {
            "verb": "update-unsigned",
            "target": t,
            "detail": f"replace A {inp.unsigned_value}; must be refused",
        },
        {
            "verb": "update-wrong-key",
            "target": t,
            "detail": f"replace A {inp.signed_value} signed with a random secret",
        },
        {
            "verb": "update-signed",
            "target": t,
            "detail": f"replace A {inp.signed_value} with key {inp.key.name}",
        },
        {"verb": "query", "target": t, "detail": f"must answer exactly {inp.signed_value}"},
        {"verb": "delete-signed", "target": t, "detail": "remove the test record, then check it is gone"},
    ]


def _reachability(res: UpdateResult) -> str:
    return res.detail if res.error in ("timeout", "unreachable") else ""


def run_tsig_check(inp: TsigInputs, *, dry_run: bool = False, sleep: Any = time.sleep) -> TsigReport:
    """Run the steps; raises Refused (preflight) or Unreachable (server silent at preflight)."""
    report = TsigReport(inp, dry_run=dry_run)
    if dry_run:
        report.actions = _plan(inp)
        return report
    pre = dnsclient.query(inp.server, inp.fqdn, "A", timeout=inp.timeout, tries=2)
    report.actions.append(
        {"verb": "query", "target": inp.fqdn, "detail": f"preflight: {pre.rcode or pre.error}"}
    )
    if pre.rcode is None:
        raise Unreachable(
            f"{inp.server_text} did not answer a query for {inp.fqdn}: {pre.error}",
            "check the server address and that it is running",
        )
    real = [a for a in pre.answers if a not in (inp.signed_value, inp.unsigned_value)]
    if real:
        raise Refused(
            f"{inp.record} holds real data ({', '.join(real)}); choose --record", "pick an unused name"
        )
    unsigned_accepted = False
    try:
        # 1. Unsigned: must be refused.
        res = dnsclient.update(
            inp.server, inp.zone, inp.fqdn, value=inp.unsigned_value, key=None, timeout=inp.timeout
        )
        report.actions.append(
            {"verb": "update-unsigned", "target": inp.fqdn, "detail": res.rcode or res.error}
        )
        report.unsigned = {"rcode": res.rcode, "refused": res.rcode in REFUSALS}
        if _reachability(res):
            report.unreachable = f"unsigned update: {_reachability(res)}"
        elif res.rcode == "NOERROR":
            unsigned_accepted = True
            report.problems.append("unsigned_accepted: the zone also takes unsigned updates")
        elif res.rcode not in REFUSALS:
            report.problems.append(f"unexpected_rcode: unsigned update answered {res.rcode or res.detail}")

        # 2. Wrong key: same name, fresh random secret.
        wrong = TsigKey(inp.key.name, dnsclient.random_secret(), inp.key.algorithm)
        res = dnsclient.update(
            inp.server, inp.zone, inp.fqdn, value=inp.signed_value, key=wrong, timeout=inp.timeout
        )
        result = res.error or res.rcode or "?"
        refused = res.error in ("bad_signature", "bad_key", "bad_time") or res.rcode in REFUSALS
        report.actions.append({"verb": "update-wrong-key", "target": inp.fqdn, "detail": result})
        report.wrong_key = {"result": result, "refused": refused}
        if _reachability(res):
            report.unreachable = report.unreachable or f"wrong-key update: {_reachability(res)}"
        elif res.rcode == "NOERROR" or (res.error == "unsigned_reply"):
            report.problems.append("wrong_key_accepted: an update signed with a wrong secret was accepted")
        elif not refused:
            report.problems.append(f"unexpected_rcode: wrong-key update answered {result}")

        # 3. Signed: accepted, and the reply is signed and verified.
        res = dnsclient.update(
            inp.server, inp.zone, inp.fqdn, value=inp.signed_value, key=inp.key, timeout=inp.timeout
        )
        accepted = res.rcode == "NOERROR" and res.had_tsig
        report.actions.append({"verb": "update-signed", "target": inp.fqdn, "detail": res.rcode or res.error})
        report.signed = {
            "rcode": res.rcode or res.error,
            "reply_signed": res.had_tsig if res.rcode else None,
            "accepted": accepted,
        }
        if _reachability(res):
            report.unreachable = report.unreachable or f"signed update: {_reachability(res)}"
        elif res.error == "unsigned_reply" or (res.rcode == "NOERROR" and not res.had_tsig):
            report.problems.append("reply_unsigned: the server's reply to a signed update was not signed")
        elif res.rcode in REFUSALS:
            report.problems.append(
                f"signed_refused: the signed update was {res.rcode} — {SIGNED_REFUSED_HINT}"
            )
        elif res.error in ("bad_signature", "bad_key", "bad_time"):
            report.problems.append(
                f"signed_bad_key: the server rejected the key ({res.detail}); check the secret"
            )
        elif not accepted:
            report.problems.append(f"unexpected_rcode: signed update answered {res.rcode or res.detail}")

        # 4. Visible: exactly the signed value.
        if accepted:
            seen: tuple[str, ...] = ()
            for attempt in range(3):
                if attempt:
                    sleep(inp.visible_interval)
                seen = dnsclient.query(inp.server, inp.fqdn, "A", timeout=inp.timeout, tries=1).answers
                if seen == (inp.signed_value,):
                    break
            report.visible = {"answers": list(seen), "ok": seen == (inp.signed_value,)}
            if seen != (inp.signed_value,):
                report.problems.append(f"not_visible: {inp.fqdn} answers {', '.join(seen) or 'nothing'}")
    finally:
        _cleanup(inp, report, unsigned_accepted)
    return report


def _cleanup(inp: TsigInputs, report: TsigReport, unsigned_accepted: bool) -> None:
    res = dnsclient.update(inp.server, inp.zone, inp.fqdn, value=None, key=inp.key, timeout=inp.timeout)
    report.actions.append({"verb": "delete-signed", "target": inp.fqdn, "detail": res.rcode or res.error})
    detail = f"signed delete {res.rcode or res.error}"
    if not (res.rcode == "NOERROR" and res.had_tsig) and unsigned_accepted:
        res = dnsclient.update(inp.server, inp.zone, inp.fqdn, value=None, key=None, timeout=inp.timeout)
        report.actions.append(
            {"verb": "delete-unsigned", "target": inp.fqdn, "detail": res.rcode or res.error}
        )
        detail += f"; unsigned delete {res.rcode or res.error}"
    after = dnsclient.query(inp.server, inp.fqdn, "A", timeout=inp.timeout, tries=2)
    gone = after.rcode in ("NXDOMAIN", "NOERROR") and not after.answers
    report.cleanup = {"ok": gone, "detail": f"{detail}; then {after.rcode or after.error}"}
    if not gone:
        report.left_behind = after.rcode is not None and bool(after.answers)
        report.problems.append(f"cleanup_failed: {inp.fqdn} may still exist ({after.rcode or after.error})")
