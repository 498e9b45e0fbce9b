"""Service: the ``fan run`` loop around ``Controller.iteration``: pacing on the monotonic clock, the state
file, sd_notify, JSON Lines, and the hand-back to Dell auto on every way out (spec fan.md §3.7, §3.9).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from homeops.fan.ports import Clock
from homeops.fan.runtime import sd_notify, state_path, utc_iso, write_json_atomic
from homeops.fan.service import Controller, Record


@dataclass
class RunOutcome:
    """How a run ended."""

    records: list[Record] = field(default_factory=list)
    restored: bool | None = None  # None = not attempted (--no-restore)
    stopped_by: int | None = None


def status_line(rec: Record) -> str:
    """``STATUS=`` for systemd: ``temp=60C eff=cool fan=51%``."""
    temp = "?" if rec.temp_c is None else f"{rec.temp_c:g}C"
    fan = "auto" if rec.applied_percent is None else f"{rec.applied_percent}%"
    return f"temp={temp} eff={rec.effective_mode or rec.state} fan={fan}"


def run_loop(
    ctl: Controller,
    clock: Clock,
    *,
    interval: float,
    once: bool = False,
    restore: bool = True,
    stop: Callable[[], bool] = lambda: False,
    runtime_dir: str | None = None,
    on_record: Callable[[Record, dict[str, Any]], None] | None = None,
    max_iterations: int | None = None,
) -> RunOutcome:
    """Iterate until ``stop()`` (or once); then hand back to Dell auto if ``restore``.

    Any exception in an iteration is re-raised after the hand-back attempt.
    """
    outcome = RunOutcome()
    started = utc_iso()
    watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
    first = True
    try:
        while not stop():
            t0 = clock.now()
            w0 = time.monotonic()
            rec = ctl.iteration()
            outcome.records.append(rec)
            if len(outcome.records) > 1000:
                del outcome.records[:-10]
            doc = {"pid": os.getpid(), "started_at": started, "updated_at": utc_iso(), **rec.state_json()}
            if runtime_dir is not None:
                try:
                    write_json_atomic(state_path(runtime_dir), doc)
                except OSError as exc:
                    ctl.log("WARN", f"state file not written: {exc.strerror}")
            if on_record is not None:
                on_record(rec, {**doc, "pushed": rec.pushed})
            if first:
                sd_notify("READY=1")
                first = False
            sd_notify(f"WATCHDOG=1\nSTATUS={status_line(rec)}")
            took = time.monotonic() - w0
            if watchdog_usec and took > watchdog_usec / 2e6:
                ctl.log("WARN", f"iteration took {took:.1f}s, more than half of the watchdog")
            if once or (max_iterations is not None and len(outcome.records) >= max_iterations):
                break
            clock.sleep(t0 + interval - clock.now())
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt):
            ctl.log("ERR", f"controller failed: {type(exc).__name__}")
        sd_notify("STOPPING=1")
        ctl.finish()
        raise
    sd_notify("STOPPING=1")
    if restore:
        outcome.restored = ctl.finish()
    return outcome
