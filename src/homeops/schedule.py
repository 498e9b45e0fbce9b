"""Core: scheduled jobs. Each group lists its own in ``homeops.<group>.jobs:JOBS``; this module collects
them and renders systemd units/timers or batch/v1 CronJobs that run ``homeops …``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Literal

from homeops.groups import group_module, group_names


@dataclass(frozen=True)
class ScheduledJob:
    """One job homeops runs unattended.

    ``kind`` is ``service`` for a daemon that runs until stopped (``fan run``, ``kms watch``) and ``timer``
    for a periodic one-shot. ``on_calendar`` is the systemd OnCalendar expression and ``cron`` the
    CronJob schedule of a timer. ``needs_yes`` adds ``--yes`` to a destructive verb run unattended.
    """

    name: str
    group: str
    summary: str
    argv: tuple[str, ...]
    kind: Literal["service", "timer"]
    on_calendar: str = ""
    cron: str = ""
    needs_yes: bool = False
    # systemd Restart= of a service: a daemon that exits 0 on SIGTERM may still need to come back.
    restart: Literal["no", "on-failure", "always"] = "on-failure"
    # Extra systemd [Service] lines (e.g. ExecStopPost for the fan daemon); never secrets.
    systemd_extra: tuple[str, ...] = ()
    # Where the job runs: "host" jobs are systemd-only (they touch hardware); "cluster" may be either.
    runs_on: Literal["host", "cluster", "any"] = "any"

    @property
    def command(self) -> tuple[str, ...]:
        """The full argv after ``homeops``."""
        return (*self.argv, "--yes") if self.needs_yes and "--yes" not in self.argv else self.argv


def all_jobs() -> list[ScheduledJob]:
    """Every group's jobs, in table order."""
    jobs: list[ScheduledJob] = []
    for name in group_names():
        module = group_module(name) + ".jobs"
        if importlib.util.find_spec(module) is not None:
            jobs.extend(importlib.import_module(module).JOBS)
    return jobs


def find_job(name: str) -> ScheduledJob | None:
    """The job called ``name``, if any."""
    return next((j for j in all_jobs() if j.name == name), None)
