"""Core: the failsafe state machine (spec fan.md §3.6, §3.8): the ceiling with its stable-resume timer, the
consecutive read/write failure counters and the ha-command grace. Pure: readings and monotonic ``now`` in,
the next state and what to do out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

State = Literal["control", "ceiling", "ipmi_fallback", "unsupported", "ha_lost"]
FALLBACK_STATES: frozenset[str] = frozenset({"ceiling", "ipmi_fallback", "unsupported", "ha_lost"})
PASSIVE_STATES: frozenset[str] = frozenset({"ceiling", "ipmi_fallback", "unsupported"})


@dataclass(frozen=True)
class Limits:
    """The thresholds of the failsafes."""

    ceiling: int = 83
    resume_below: int = 75
    resume_stable: float = 120.0
    max_fails: int = 3
    ha_grace: float = 300.0


@dataclass(frozen=True)
class Failsafe:
    """Where the controller stands: its state, the resume timer and the failure counters."""

    state: State = "control"
    resume_since: float | None = None
    read_fails: int = 0
    write_fails: int = 0
    miss_since: float | None = None
    miss_count: int = 0


@dataclass(frozen=True)
class Step:
    """The outcome of one transition: the new failsafe, whether to hand back to Dell auto, and log lines."""

    failsafe: Failsafe
    restore: bool = False
    reset_current: bool = False
    logs: tuple[tuple[str, str], ...] = ()


def on_temp(fs: Failsafe, temp: float, now: float, lim: Limits) -> Step:
    """A good reading: reset the read counter, run the ceiling machine, leave a read fallback."""
    fs = replace(fs, read_fails=0)
    if fs.state == "unsupported":
        return Step(fs)
    shown = format_temp(temp)
    if fs.state != "ceiling":
        if temp >= lim.ceiling:
            return Step(
                replace(fs, state="ceiling", resume_since=None),
                restore=True,
                reset_current=True,
                logs=(("WARN", f"CEILING temp={shown}≥{lim.ceiling}C — Dell auto"),),
            )
        if fs.state == "ipmi_fallback":
            return Step(
                replace(fs, state="control"), reset_current=True, logs=(("INFO", "temp readable — resuming"),)
            )
        return Step(fs)
    if temp >= lim.resume_below:
        return Step(replace(fs, resume_since=None))
    since = now if fs.resume_since is None else fs.resume_since
    if now - since >= lim.resume_stable:
        line = f"recovered (temp<{lim.resume_below}C {lim.resume_stable:g}s) — resuming manual"
        return Step(
            replace(fs, state="control", resume_since=None), reset_current=True, logs=(("INFO", line),)
        )
    return Step(replace(fs, resume_since=since))


def on_read_failure(fs: Failsafe, lim: Limits) -> Step:
    """A failed CPU read: count it; at the limit (and on each later failure) hand back to Dell auto."""
    n = fs.read_fails + 1
    logs: list[tuple[str, str]] = [("WARN", f"cannot read CPU temp ({n}/{lim.max_fails})")]
    if n < lim.max_fails:
        return Step(replace(fs, read_fails=n), logs=tuple(logs))
    logs.append(("ERR", "temp unreadable — Dell auto"))
    state: State = fs.state if fs.state in ("ceiling", "unsupported") else "ipmi_fallback"
    return Step(replace(fs, read_fails=n, state=state), restore=True, reset_current=True, logs=tuple(logs))


def on_write(fs: Failsafe, ok: bool, pct: int, lim: Limits) -> Step:
    """A write's outcome: success resets the counter; the limit in a row hands back to Dell auto."""
    if ok:
        return Step(replace(fs, write_fails=0))
    n = fs.write_fails + 1
    logs: list[tuple[str, str]] = [("WARN", f"set_manual {pct}% failed ({n}/{lim.max_fails})")]
    if n < lim.max_fails:
        return Step(replace(fs, write_fails=n), logs=tuple(logs))
    logs.append(("ERR", "fan writes failing — Dell auto"))
    return Step(
        replace(fs, write_fails=n, state="ipmi_fallback"), restore=True, reset_current=True, logs=tuple(logs)
    )


def on_refused(fs: Failsafe) -> Step:
    """The BMC refused Dell fan control (0xc1/0xd4 on enable): monitor only until restart."""
    line = (
        "BMC refuses Dell fan control (iDRAC ≥ 3.34.34.34 or non-admin user refuses 0x30 0x30) — monitor only"
    )
    return Step(replace(fs, state="unsupported"), restore=True, reset_current=True, logs=(("ERR", line),))


def on_command(fs: Failsafe, valid: bool, current: int, now: float, lim: Limits) -> Step:
    """ha-command: a valid command clears the miss streak; a miss holds within grace, then Dell auto."""
    if valid:
        state: State = "control" if fs.state == "ha_lost" else fs.state
        return Step(replace(fs, state=state, miss_since=None, miss_count=0))
    since = now if fs.miss_since is None else fs.miss_since
    count = fs.miss_count + 1
    fs = replace(fs, miss_since=since, miss_count=count)
    if fs.state == "ha_lost":
        return Step(fs)
    if current >= 0 and now - since < lim.ha_grace:
        logs = (
            (("WARN", f"HA command miss — holding {current}% (grace {lim.ha_grace:g}s)"),)
            if count == 1
            else ()
        )
        return Step(fs, logs=logs)
    line = f"HA command lost ({count} misses) — Dell auto"
    return Step(replace(fs, state="ha_lost"), restore=True, reset_current=True, logs=(("ERR", line),))


def format_temp(temp: float) -> str:
    """``60C`` for whole degrees, ``74.5C`` otherwise."""
    return f"{temp:g}C" if temp != int(temp) else f"{int(temp)}C"
