"""Ports: what the fan service needs from the outside (BMC, Home Assistant, metrics, clock), as Protocols,
with the plain values that cross them. Adapters: ``ipmi.py``, ``hass.py``, ``sim.py``, ``sinks.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Sensor:
    """One SDR sensor reading: ``id`` is the sensor number as ipmitool prints it (``0Eh``)."""

    name: str
    id: str
    entity: str
    value: float | None
    unit: str
    available: bool
    kind: str = ""  # "Temperature", "Fan", …


class BmcError(Exception):
    """An IPMI call failed: ``unreachable`` when it timed out or the session broke, else ``code`` is the
    non-zero completion code."""

    def __init__(self, what: str, *, unreachable: bool = False, code: int | None = None) -> None:
        super().__init__(what)
        self.unreachable = unreachable
        self.code = code


class Bmc(Protocol):
    """The BMC: sensors, Get Device ID and raw Dell OEM fan commands (netfn 0x30 cmd 0x30)."""

    def sensors(self) -> Sequence[Sensor]:
        """Every SDR sensor's reading; raises BmcError."""
        ...

    def manufacturer(self) -> int:
        """The IANA manufacturer id from Get Device ID (674 = Dell); raises BmcError."""
        ...

    def oem(self, data: Sequence[int]) -> int:
        """Send ``0x30 0x30 <data>``; return the completion code; raises BmcError(unreachable) on a miss."""
        ...

    def close(self) -> None:
        """Release the session (and any worker)."""
        ...


@dataclass(frozen=True)
class HaState:
    """One Home Assistant state object."""

    entity_id: str
    state: str
    last_changed: datetime | None
    last_updated: datetime | None


class HaMiss(Exception):
    """A Home Assistant read that gave nothing usable (non-2xx, bad JSON, timeout); the text is the reason."""


class Ha(Protocol):
    """Home Assistant's REST API, read only."""

    def state(self, entity_id: str) -> HaState:
        """``GET /api/states/<entity>``; raises HaMiss."""
        ...


class Clock(Protocol):
    """Monotonic time for intervals, wall time for HA timestamps, and an interruptible sleep."""

    def now(self) -> float: ...

    def utcnow(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Gauge:
    """One metric sample for the sinks: a ``pve_fan_control_*`` gauge with optional extra labels."""

    name: str
    help: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


class MetricsSink(Protocol):
    """Where each iteration's gauges go (Pushgateway, textfile, memory); never raises."""

    def publish(self, gauges: Sequence[Gauge]) -> bool:
        """Publish; True when it was delivered (or there is nowhere to deliver)."""
        ...
