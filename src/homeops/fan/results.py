"""CLI results of `homeops fan`: their JSON shapes (spec fan.md §3.10) and how people see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType


@dataclass(frozen=True)
class CurveResult:
    mode: str
    points: list[dict[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "points": self.points}

    def render_human(self) -> RenderableType:
        from rich.table import Table

        table = Table(title=f"{self.mode.upper()} curve", title_justify="left")
        for _ in range(4):
            table.add_column("°C", justify="right")
            table.add_column("%", justify="right")
        rows = (len(self.points) + 3) // 4
        for r in range(rows):
            cells: list[str] = []
            for c in range(4):
                i = c * rows + r
                if i < len(self.points):
                    cells += [str(self.points[i]["temp_c"]), str(self.points[i]["percent"])]
                else:
                    cells += ["", ""]
            table.add_row(*cells)
        return table


@dataclass(frozen=True)
class DecideResult:
    percent: int | None
    effective_mode: str
    target_percent: int | None
    would_write: bool
    temp_c: float

    def to_json(self) -> dict[str, Any]:
        return {
            "percent": self.percent,
            "effective_mode": self.effective_mode,
            "target_percent": self.target_percent,
            "would_write": self.would_write,
        }

    def render_human(self) -> str:
        if self.percent is None:
            return f"{self.temp_c:g}°C is at or above the ceiling: Dell auto"
        hold = "" if self.target_percent == self.percent else f" (curve says {self.target_percent}%, held)"
        gate = "would write" if self.would_write else "no write (MIN_STEP gate)"
        return f"{self.percent}% on the {self.effective_mode} curve{hold} — {gate}"


@dataclass(frozen=True)
class UnitResult:
    name: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "text": self.text}

    def render_human(self) -> str:
        return self.text.rstrip("\n")


@dataclass
class StatusResult:
    bmc: str
    cpu_temp_c: float | None
    sensors: list[dict[str, Any]]
    fan_rpm_mean: int | None
    fan_watts_est: int | None
    daemon: dict[str, Any] | None
    ha: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "bmc": self.bmc,
            "cpu_temp_c": self.cpu_temp_c,
            "sensors": self.sensors,
            "fan_rpm_mean": self.fan_rpm_mean,
            "fan_watts_est": self.fan_watts_est,
            "daemon": self.daemon,
            "ha": self.ha,
        }

    def render_human(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table

        table = Table(title=f"BMC {self.bmc}", title_justify="left")
        for col in ("sensor", "id", "entity", "value", "unit"):
            table.add_column(col)
        for s in self.sensors:
            value = "no reading" if not s["available"] or s["value"] is None else f"{s['value']:g}"
            table.add_row(s["name"], s["id"], s["entity"], value, s["unit"])
        lines = [
            f"CPU (max): {'?' if self.cpu_temp_c is None else f'{self.cpu_temp_c:g} °C'}   "
            f"fans: {self.fan_rpm_mean or '?'} rpm ≈ {self.fan_watts_est if self.fan_watts_est is not None else '?'} W"
        ]
        if self.daemon is None:
            lines.append("daemon: no state file (not running here)")
        else:
            d = self.daemon
            lines.append(
                f"daemon: pid {d.get('pid')} state {d.get('state')} fan {d.get('applied_percent')}% "
                f"eff {d.get('effective_mode')}{' (STALE)' if d.get('stale') else ''}"
            )
        if self.ha is not None:
            h = self.ha
            lines.append(
                f"HA: reachable {h['reachable']} mode {h['mode']} presence {h['presence']} manual {h['manual_pct']}"
            )
        lines += [f"problem: {p}" for p in self.problems]
        return Group(table, "\n".join(lines))


@dataclass
class OnceResult:
    state: str
    temp_c: float | None
    cpu_temps_c: dict[str, float]
    percent: int | None
    effective_mode: str | None
    actions: list[str]
    changed: bool
    restored: bool
    ha_reachable: bool
    dry_run: bool
    pushed: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def render_human(self) -> str:
        temp = "unreadable" if self.temp_c is None else f"{self.temp_c:g}°C"
        sent = ", ".join(self.actions) or "nothing"
        verb = "planned" if self.dry_run else "sent"
        tail = " — handed back to Dell auto" if self.restored else ""
        return f"state {self.state}, CPU {temp}, fan {self.percent}% ({self.effective_mode}); {verb}: {sent}{tail}"
