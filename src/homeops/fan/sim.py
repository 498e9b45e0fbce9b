"""Adapter: the R730 thermal model (spec fan.md §3.12) behind ``--bmc sim`` and ``fan simulate``: a
``SimBmc`` answering the Dell OEM commands, a ``SimHa`` driven by a load profile, and a virtual clock whose
sleep steps the model one second at a time. No I/O apart from reading a profile CSV.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homeops.errors import UsageError
from homeops.fan.curve import watts_estimate
from homeops.fan.ports import HaMiss, HaState, Sensor
from homeops.fan.settings import SimulateSettings

PROFILES = ("idle", "steady", "burst", "ramp", "heatwave", "garage")
EPOCH = datetime(2026, 6, 5, 0, 0, tzinfo=UTC)
DOOR_OPEN, DOOR_CLOSED = "Отворена", "Затворена"


@dataclass(frozen=True)
class Conditions:
    """What the room and the workload are doing at one moment."""

    load: float
    inlet_c: float
    door_open: bool = False


Profile = Callable[[float], Conditions]  # seconds since start → conditions


def load_profile(name: str, minutes: float, inlet_c: float) -> Profile:
    """A named profile, or ``PATH.csv`` read as a step function over ``minute,load[,inlet_c[,door]]``."""
    span = max(minutes, 1e-9)
    if name == "idle":
        return lambda t: Conditions(0.1, inlet_c)
    if name == "steady":
        return lambda t: Conditions(0.5, inlet_c)
    if name == "burst":
        return lambda t: Conditions(0.9 if (t / 60) % 20 >= 15 else 0.3, inlet_c)
    if name == "ramp":
        return lambda t: Conditions(0.1 + 0.9 * min(1.0, t / 60 / span), inlet_c)
    if name == "heatwave":
        return lambda t: Conditions(0.8, 25 + 15 * min(1.0, t / 60 / span))
    if name == "garage":
        return lambda t: Conditions(0.5, inlet_c, (t / 60) % 30 < 5)
    if name.endswith(".csv"):
        return _csv_profile(Path(name), inlet_c)
    raise UsageError(f"unknown profile {name!r}", f"use one of {', '.join(PROFILES)} or a PATH.csv")


def _csv_profile(path: Path, inlet_c: float) -> Profile:
    try:
        rows = [r for r in csv.reader(path.read_text(encoding="utf-8").splitlines()) if r and r[0].strip()]
    except OSError as exc:
        raise UsageError(f"profile {path} cannot be read: {exc.strerror}", "check the path") from None
    steps: list[tuple[float, Conditions]] = []
    for number, row in enumerate(rows, 1):
        try:
            minute, load = float(row[0]), float(row[1])
            inlet = float(row[2]) if len(row) > 2 and row[2].strip() else inlet_c
            door = len(row) > 3 and row[3].strip().lower() in ("1", "true", "open", "yes")
        except (ValueError, IndexError):
            if number == 1:
                continue  # a header line
            raise UsageError(
                f"profile {path}:{number}: expected minute,load[,inlet_c[,door]]", "fix the line"
            ) from None
        if not 0 <= load <= 1:
            raise UsageError(f"profile {path}:{number}: load must be 0..1", "fix the line")
        steps.append((minute * 60, Conditions(load, inlet, door)))
    if not steps:
        raise UsageError(f"profile {path} has no rows", "add minute,load lines")
    steps.sort(key=lambda s: s[0])

    def at(t: float) -> Conditions:
        current = steps[0][1]
        for start, cond in steps:
            if start > t:
                break
            current = cond
        return current

    return at


class ThermalModel:
    """One R730: temperature follows the equilibrium for the fan rpm with time constant τ."""

    def __init__(self, m: SimulateSettings, profile: Profile, seed: int) -> None:
        self.m = m
        self.profile = profile
        self.rng = random.Random(seed)
        self.t = 0.0
        self.manual = False
        self.duty = 0
        self.cond = profile(0.0)
        self.temp = min(self.equilibrium(m.auto_floor_pct), m.start_cap_c)
        # Time-weighted accumulators for the summary.
        self.acc_time = 0.0
        self.acc_duty = 0.0
        self.acc_temp = 0.0
        self.acc_watts = 0.0
        self.max_temp = self.temp

    def rpm(self, duty: float) -> float:
        return self.m.rpm_base + self.m.rpm_per_pct * duty

    def equilibrium(self, duty: float) -> float:
        k = self.m.k_base + self.m.k_load * self.cond.load
        return self.cond.inlet_c + k * (self.m.eq_a - self.m.eq_b * math.log(self.rpm(duty) / 1000))

    def actual_duty(self) -> float:
        """The duty the fans run at: the manual duty, or Dell auto's (floor, then a ramp to 100 %)."""
        if self.manual and self.duty >= 0:
            return float(self.duty)
        m = self.m
        if self.temp < m.auto_ramp_from_c:
            return m.auto_floor_pct
        frac = min(1.0, (self.temp - m.auto_ramp_from_c) / (m.auto_ramp_to_c - m.auto_ramp_from_c))
        return m.auto_floor_pct + (100 - m.auto_floor_pct) * frac

    def advance(self, seconds: float) -> None:
        """Step the model, one second at a time."""
        while seconds > 1e-9:
            dt = min(1.0, seconds)
            self.cond = self.profile(self.t)
            duty = self.actual_duty()
            self.temp += (self.equilibrium(duty) - self.temp) * (1 - math.exp(-dt / self.m.tau))
            self.acc_time += dt
            self.acc_duty += duty * dt
            self.acc_temp += self.temp * dt
            self.acc_watts += watts_estimate(round(self.rpm(duty))) * dt
            self.max_temp = max(self.max_temp, self.temp)
            self.t += dt
            seconds -= dt

    def reading(self, offset: float = 0.0) -> float:
        """A whole-degree sensor reading with seeded noise."""
        noise = self.rng.gauss(0.0, self.m.noise_c) if self.m.noise_c > 0 else 0.0
        return float(math.floor(self.temp - offset + noise + 0.5))


class VirtualClock:
    """Virtual time: ``sleep`` advances the model instead of waiting."""

    def __init__(self, model: ThermalModel) -> None:
        self.model = model

    def now(self) -> float:
        return self.model.t

    def utcnow(self) -> datetime:
        return EPOCH + timedelta(seconds=self.model.t)

    def sleep(self, seconds: float) -> None:
        self.model.advance(max(0.0, seconds))


class SimBmc:
    """The ``Bmc`` port over the model: a Dell (674) with two CPUs and six fans; records every OEM request."""

    def __init__(self, model: ThermalModel) -> None:
        self.model = model
        self.sent: list[tuple[float, tuple[int, ...]]] = []
        self.last_readings: tuple[float, float] = (0.0, 0.0)

    def sensors(self) -> Sequence[Sensor]:
        m = self.model
        cpu1, cpu2 = m.reading(), m.reading(m.m.cpu2_offset_c)
        self.last_readings = (cpu1, cpu2)
        rpm = float(round(m.rpm(m.actual_duty())))
        out = [
            Sensor("Inlet Temp", "04h", "System board", round(m.cond.inlet_c), "°C", True, "Temperature"),
            Sensor("Temp", "0Eh", "Processor", cpu1, "°C", True, "Temperature"),
            Sensor("Temp", "0Fh", "Processor", cpu2, "°C", True, "Temperature"),
        ]
        out += [
            Sensor(f"Fan{i}", f"{0x2F + i:02X}h", "System board", rpm, "RPM", True, "Fan")
            for i in range(1, 7)
        ]
        return out

    def manufacturer(self) -> int:
        return 674

    def oem(self, data: Sequence[int]) -> int:
        data = tuple(data)
        self.sent.append((self.model.t, data))
        if len(data) >= 2 and data[0] == 0x01 and data[1] <= 0x01:
            self.model.manual = data[1] == 0x00
            return 0
        if len(data) >= 3 and data[0] == 0x02:
            if data[2] > 100:
                return 0xC9
            self.model.duty = data[2]
            return 0
        return 0xCC

    def close(self) -> None:
        return None


class SimHa:
    """The ``Ha`` port over the profile: the mode helper, the manual slider and the garage door."""

    def __init__(
        self, model: ThermalModel, *, mode: str, manual_pct: int | None, entities: dict[str, str]
    ) -> None:
        self.model = model
        self.mode = mode
        self.manual_pct = manual_pct
        self.entities = entities
        self.door_changed = EPOCH - timedelta(days=1)
        self.door_open = False

    def _door(self) -> None:
        now_open = self.model.profile(self.model.t).door_open
        if now_open != self.door_open:
            self.door_open = now_open
            self.door_changed = EPOCH + timedelta(seconds=self.model.t)

    def state(self, entity_id: str) -> HaState:
        now = EPOCH + timedelta(seconds=self.model.t)
        if entity_id == self.entities["mode"]:
            return HaState(entity_id, self.mode, now, now)
        if entity_id == self.entities["manual"]:
            if self.manual_pct is None:
                raise HaMiss("HTTP 404")
            return HaState(entity_id, f"{self.manual_pct}.0", now, now)
        if entity_id == self.entities["garage"]:
            self._door()
            state = self.entities.get("open_state", DOOR_OPEN) if self.door_open else DOOR_CLOSED
            return HaState(entity_id, state, self.door_changed, self.door_changed)
        raise HaMiss("HTTP 404")
