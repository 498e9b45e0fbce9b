"""Fakes for the fan ports: a BMC that records raw bytes and keeps Dell's fan state, HA and a clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from homeops.fan.ports import BmcError, HaMiss, HaState, Sensor


class FakeBmc:
    """Scripted CPU readings, failures and completion codes; ``manual``/``duty`` = what the fans do."""

    def __init__(self, cpu1: float = 60, cpu2: float | None = None) -> None:
        self.cpus: list[float | None] = [cpu1, cpu1 - 5 if cpu2 is None else cpu2]
        self.sent: list[str] = []
        self.manual = False
        self.duty = -1
        self.read_fail = False  # sensors() raises (silent BMC)
        self.write_fail = False  # oem() raises
        self.codes: dict[tuple[int, ...], int] = {}  # completion code per request prefix
        self.vendor = 674

    def sensors(self) -> Sequence[Sensor]:
        if self.read_fail:
            raise BmcError("no answer within 5s", unreachable=True)
        out = [
            Sensor("Temp", f"{0x0E + i:02X}h", "Processor", v, "°C", v is not None, "Temperature")
            for i, v in enumerate(self.cpus)
        ]
        rpm = 1770 + self.duty * 303 // 2 if self.manual and self.duty >= 0 else 7080
        out += [
            Sensor(f"Fan{i}", f"{0x2F + i:02X}h", "System board", float(rpm), "RPM", True, "Fan")
            for i in range(1, 7)
        ]
        return out

    def manufacturer(self) -> int:
        return self.vendor

    def oem(self, data: Sequence[int]) -> int:
        text = " ".join(f"0x{b:02x}" for b in data)
        self.sent.append(text)
        if self.write_fail:
            raise BmcError("no answer", unreachable=True)
        for prefix, code in self.codes.items():
            if tuple(data[: len(prefix)]) == prefix:
                return code
        if data[0] == 0x01:
            self.manual = data[1] == 0x00
        elif data[0] == 0x02:
            self.duty = data[2]
        return 0

    def close(self) -> None:
        return None


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.epoch = datetime(2026, 6, 5, 9, 0, tzinfo=UTC)

    def now(self) -> float:
        return self.t

    def utcnow(self) -> datetime:
        return self.epoch + timedelta(seconds=self.t)

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


class FakeHa:
    """Entities as (state, last_changed offset in seconds before now); ``down`` entities miss."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.states: dict[str, tuple[str, datetime]] = {}
        self.down: set[str] = set()
        self.gets: list[str] = []

    def set(self, entity: str, state: str, ago: float = 3600) -> None:
        self.states[entity] = (state, self.clock.utcnow() - timedelta(seconds=ago))

    def state(self, entity_id: str) -> HaState:
        self.gets.append(entity_id)
        if entity_id in self.down or entity_id not in self.states:
            raise HaMiss("HTTP 500" if entity_id in self.down else "HTTP 404")
        state, changed = self.states[entity_id]
        return HaState(entity_id, state, changed, changed)
