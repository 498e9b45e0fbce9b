"""Core: Home Assistant observations with their last-good-read cache and grace (spec fan.md §3.5, §3.8).

Each observation keeps the monotonic time of its last good read; a miss uses the cached value while it is at
most ``grace`` old, then the safe default. One WARN per outage per entity, one ``HA back`` when it heals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeops.fan.curve import normalise_mode, parse_command_pct, parse_manual_pct, presence
from homeops.fan.ports import Ha, HaMiss, HaState

LogFn = Callable[[str, str], None]
_MISSING = ("unavailable", "unknown")


@dataclass(frozen=True)
class Cached:
    """A value and the monotonic time it was last read well."""

    value: str
    at: float
    changed: datetime | None = None


@dataclass(frozen=True)
class HaConfig:
    """The entities and timings the inputs need."""

    mode_entity: str = "input_select.r730_fan_mode"
    manual_entity: str = "input_number.r730_fan_manual_pct"
    garage_entity: str = "sensor.garage_door_state_bg"
    command_entity: str = "sensor.r730_fan_command_pct"
    garage_open_state: str = "Отворена"
    hold_secs: float = 900.0
    presence_interval: float = 30.0
    grace: float = 300.0
    stale_secs: float = 1800.0


class HaInputs:
    """The HA side of one controller: mode, manual %, presence and the ha-command value, each cached."""

    def __init__(self, ha: Ha | None, cfg: HaConfig, log: LogFn) -> None:
        self.ha = ha
        self.cfg = cfg
        self.log = log
        self.cache: dict[str, Cached] = {}
        self.down: set[str] = set()
        self.reachable = ha is not None
        self.last_door_poll: float | None = None
        self.seen_unknown_modes: set[str] = set()
        self.manual_warned = False
        self.last_mode: str | None = None
        self.last_presence: str | None = None
        self.last_manual: int | None = None

    def begin(self) -> None:
        """Start an iteration: reachable until a request of this iteration fails."""
        self.reachable = self.ha is not None

    def _get(self, entity: str, *, missing_is_miss: bool) -> HaState | None:
        assert self.ha is not None
        try:
            st = self.ha.state(entity)
            if missing_is_miss and st.state in _MISSING:
                raise HaMiss(f"state {st.state}")
        except HaMiss as miss:
            self.reachable = False
            if entity not in self.down:
                self.down.add(entity)
                self.log("WARN", f"HA {entity} miss: {miss}")
            return None
        if entity in self.down:
            self.down.discard(entity)
            self.log("INFO", f"HA back ({entity})")
        return st

    def _fresh(self, entity: str, now: float) -> Cached | None:
        hit = self.cache.get(entity)
        return hit if hit is not None and now - hit.at <= self.cfg.grace else None

    def mode(self, now: float) -> str:
        """The HA mode this iteration (a miss: the cached mode within grace, then ``auto``)."""
        if self.ha is None:
            self.last_mode = "auto"
            return "auto"
        st = self._get(self.cfg.mode_entity, missing_is_miss=True)
        if st is not None:
            value = normalise_mode(st.state)
            if value != st.state and st.state not in self.seen_unknown_modes:
                self.seen_unknown_modes.add(st.state)
                self.log("WARN", f"HA mode {st.state!r} unknown — using auto")
            self.cache[self.cfg.mode_entity] = Cached(value, now)
        hit = self._fresh(self.cfg.mode_entity, now)
        self.last_mode = hit.value if hit else "auto"
        return self.last_mode

    def manual(self, now: float) -> int | None:
        """The manual slider (a miss: the cached value within grace, then None = use the COOL curve)."""
        if self.ha is None:
            return None
        st = self._get(self.cfg.manual_entity, missing_is_miss=True)
        if st is not None:
            pct = parse_manual_pct(st.state)
            if pct is None:
                self.reachable = False
                if self.cfg.manual_entity not in self.down:
                    self.down.add(self.cfg.manual_entity)
                    self.log("WARN", f"HA {self.cfg.manual_entity} miss: not a number")
            else:
                self.cache[self.cfg.manual_entity] = Cached(str(pct), now)
        hit = self._fresh(self.cfg.manual_entity, now)
        if hit is None:
            if not self.manual_warned:
                self.manual_warned = True
                self.log("WARN", "manual % unreadable — using cool curve")
            self.last_manual = None
            return None
        self.manual_warned = False
        self.last_manual = int(hit.value)
        return self.last_manual

    def presence(self, now: float, wall: datetime) -> str:
        """``quiet``/``cool`` from the door, polled at most every ``presence_interval``."""
        if self.ha is None:
            self.last_presence = "cool"
            return "cool"
        due = self.last_door_poll is None or now - self.last_door_poll >= self.cfg.presence_interval
        if due:
            self.last_door_poll = now
            st = self._get(self.cfg.garage_entity, missing_is_miss=False)
            if st is not None:
                if st.last_changed is None:
                    self.reachable = False
                    self.log("WARN", f"HA {self.cfg.garage_entity} miss: last_changed unparseable")
                else:
                    self.cache[self.cfg.garage_entity] = Cached(st.state, now, st.last_changed)
        hit = self._fresh(self.cfg.garage_entity, now)
        if hit is None:
            self.last_presence = "cool"
        else:
            self.last_presence = presence(
                hit.value, hit.changed, wall, self.cfg.garage_open_state, self.cfg.hold_secs
            )
        return self.last_presence

    def command(self, wall: datetime) -> int | None:
        """ha-command: the HA-computed duty when valid and at most ``stale_secs`` old; else None (a miss)."""
        if self.ha is None:
            return None
        st = self._get(self.cfg.command_entity, missing_is_miss=False)
        if st is None:
            return None
        pct = parse_command_pct(st.state)
        if (
            pct is None
            or st.last_updated is None
            or (wall - st.last_updated).total_seconds() > self.cfg.stale_secs
        ):
            self.reachable = False
            return None
        return pct
