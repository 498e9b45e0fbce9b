"""Core: the shape of doctor checks shared by every group (``{group, status, checks}``), and the runner
that asks each configured group's ``homeops.<group>.doctor:checks`` for its report.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from homeops.config import Config
from homeops.groups import group_module, group_names

Status = Literal["ok", "warn", "fail", "unknown"]
_ORDER: dict[str, int] = {"ok": 0, "warn": 1, "unknown": 2, "fail": 3}


@dataclass(frozen=True)
class Check:
    """One read-only check: ``unknown`` means it could not check (unreachable), ``fail`` it found a problem."""

    name: str
    status: Status
    message: str


@dataclass(frozen=True)
class GroupReport:
    """One group's checks; its status is the worst of them."""

    group: str
    checks: Sequence[Check] = field(default_factory=tuple)

    @property
    def status(self) -> Status:
        if not self.checks:
            return "ok"
        return max((c.status for c in self.checks), key=lambda s: _ORDER[s])

    def to_json(self) -> dict[str, object]:
        return {
            "group": self.group,
            "status": self.status,
            "checks": [{"name": c.name, "status": c.status, "message": c.message} for c in self.checks],
        }


CheckFn = Callable[[Config], GroupReport]


def group_checks(name: str) -> CheckFn | None:
    """A group's doctor entry point (``homeops.<group>.doctor:checks``), or None when it has none."""
    module = group_module(name) + ".doctor"
    if importlib.util.find_spec(module) is None:
        return None
    fn: CheckFn = importlib.import_module(module).checks
    return fn


def run_doctor(config: Config, only: Sequence[str] = ()) -> list[GroupReport]:
    """Each configured group's checks, in table order; groups with nothing configured are skipped."""
    reports = []
    for name in group_names():
        if only and name not in only:
            continue
        fn = group_checks(name)
        if fn is None or not (config.is_configured(name) or name in only):
            continue
        reports.append(fn(config))
    return reports
