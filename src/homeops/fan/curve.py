"""Core: the fan curve, the asymmetric hysteresis, mode resolution, the MIN_STEP write gate and garage
presence (spec fan.md §3.2, §3.3, §3.5). Pure: numbers and times in, decisions out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Mode = Literal["auto", "cool", "quiet", "manual"]
Presence = Literal["quiet", "cool"]
HA_MODES: tuple[str, ...] = ("auto", "cool", "quiet", "manual")


@dataclass(frozen=True)
class Anchors:
    """A curve's two anchors (°C, %)."""

    t_lo: int
    p_lo: int
    t_hi: int
    p_hi: int


@dataclass(frozen=True)
class Curves:
    """The COOL and QUIET curves and the hysteresis width."""

    cool: Anchors
    quiet: Anchors
    deadband: int = 3

    def for_mode(self, mode: str) -> Anchors:
        """QUIET for mode ``quiet``; COOL for every other mode (legacy)."""
        return self.quiet if mode == "quiet" else self.cool


def whole_degrees(temp: float) -> int:
    """``floor(temp + 0.5)``: a reading rounded half up to whole degrees."""
    return math.floor(temp + 0.5)


def curve(anchors: Anchors, temp: float) -> int:
    """The duty % for ``temp``: flat outside the anchors, the line rounded half up between them."""
    t = whole_degrees(temp)
    a = anchors
    if t <= a.t_lo:
        return a.p_lo
    if t >= a.t_hi:
        return a.p_hi
    span = a.t_hi - a.t_lo
    return a.p_lo + ((t - a.t_lo) * (a.p_hi - a.p_lo) + span // 2) // span


def decide(curves: Curves, mode: str, temp: float, current: int) -> int:
    """Rise at once; hold a fall while curve(T) < current ≤ curve(T + deadband); else drop to curve(T)."""
    anchors = curves.for_mode(mode)
    target = curve(anchors, temp)
    if current < 0 or target >= current:
        return target
    if curve(anchors, temp + curves.deadband) < current:
        return target
    return current


def clamp_pct(value: int) -> int:
    """Clamp a duty to 0..100."""
    return max(0, min(100, value))


def resolve(
    curves: Curves, ha_mode: str, temp: float, manual_pct: int | None, presence: str, current: int
) -> tuple[int, str]:
    """(duty %, effective mode): manual is the slider as is; auto follows presence; cool/quiet their curve.

    A manual mode without a readable slider (``manual_pct is None``) falls back to the COOL curve, never 0 %.
    """
    if ha_mode == "manual" and manual_pct is not None:
        return clamp_pct(manual_pct), "manual"
    if ha_mode == "manual":
        mode = "cool"
    elif ha_mode == "auto":
        mode = presence
    else:
        mode = ha_mode
    return decide(curves, mode, temp, current), mode


def should_write(pct: int, current: int, min_step: int) -> bool:
    """The write gate: nothing applied yet, or a move of at least ``min_step``."""
    return current < 0 or abs(pct - current) >= min_step


def presence(
    door_state: str | None, last_changed: datetime | None, now: datetime, open_state: str, hold_secs: float
) -> Presence:
    """``quiet`` while the door is open or changed less than ``hold_secs`` ago; else ``cool``."""
    if door_state is None or last_changed is None:
        return "cool"
    if door_state == open_state:
        return "quiet"
    if (now - last_changed).total_seconds() < hold_secs:
        return "quiet"
    return "cool"


def parse_manual_pct(text: str) -> int | None:
    """A finite decimal truncated toward zero and clamped to 0..100, or None when it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return clamp_pct(int(value))


def parse_command_pct(text: str) -> int | None:
    """The ha-command state: ``^[0-9]+(\\.[0-9]+)?$`` → the integer part clamped; else None."""
    head, dot, tail = text.partition(".")
    if not head.isascii() or not head.isdigit() or (dot and (not tail.isascii() or not tail.isdigit())):
        return None
    return clamp_pct(int(head))


def normalise_mode(text: str) -> str:
    """An HA mode value, or ``auto`` for anything unknown (legacy)."""
    return text if text in HA_MODES else "auto"


def mode_metric(state: str, effective_mode: str, source: str = "curve") -> int:
    """``pve_fan_control_mode``: 1 quiet, 2 cool, 3 manual, 0 fallback (ha-command: 2 applied, 0 fallback)."""
    if state != "control":
        return 0
    if source == "ha-command":
        return 2
    return {"quiet": 1, "cool": 2, "manual": 3}.get(effective_mode, 0)


def watts_estimate(rpm: int) -> int:
    """The cube-law fan power estimate: ``rpm³·205 // 10¹³``."""
    return rpm**3 * 205 // 10**13
