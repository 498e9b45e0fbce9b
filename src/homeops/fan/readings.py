"""Core: what the SDR readings mean for the controller: the CPU temperatures (entity Processor, all CPUs
must read 1–125 °C) and the mean fan rpm (spec fan.md §3.4). Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence

from homeops.fan.ports import Sensor


class ReadFailure(Exception):
    """The CPU temperature could not be read (missing, unavailable or implausible sensor)."""


def cpu_sensors(sensors: Sequence[Sensor], name: str) -> list[Sensor]:
    """The CPU temperature sensors: entity Processor, else (no entity information) those called ``name``."""
    temps = [
        s for s in sensors if s.kind.lower().startswith("temp") or s.unit.lower() in ("°c", "c", "degrees c")
    ]
    by_entity = [s for s in temps if s.entity.lower().startswith("processor")]
    return by_entity or [s for s in temps if s.name == name]


def cpu_temps(sensors: Sequence[Sensor], name: str) -> list[tuple[str, float]]:
    """(sensor id, °C) per CPU; every CPU must read 1–125 °C, else ReadFailure (the missing one may be hot)."""
    cpus = cpu_sensors(sensors, name)
    if not cpus:
        raise ReadFailure("no CPU temperature sensor")
    out = []
    for s in cpus:
        if not s.available or s.value is None:
            raise ReadFailure(f"{s.name} {s.id} has no reading")
        if not 1 <= s.value <= 125:
            raise ReadFailure(f"{s.name} {s.id} reads {s.value:g} °C")
        out.append((s.id, float(s.value)))
    return out


def fan_rpm(sensors: Sequence[Sensor]) -> int | None:
    """The mean rpm over ``Fan<N>`` sensors, rounded half up; None when none reads."""
    values = [
        s.value
        for s in sensors
        if s.name.startswith("Fan") and s.name[3:].strip().isdigit() and s.available and s.value is not None
    ]
    if not values:
        return None
    return math.floor(sum(values) / len(values) + 0.5)


def rpm_ok(rpm: int | None) -> bool:
    """A fan reading worth publishing."""
    return rpm is not None and rpm >= 0
