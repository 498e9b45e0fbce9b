"""Service: ``fan simulate``: the real controller loop against the thermal model in virtual time, with its
summary (writes, flaps, time at ceiling, mean duty) and a rich chart (spec fan.md §3.12).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeops.fan.runtime import Log
from homeops.fan.service import Controller
from homeops.fan.settings import Settings
from homeops.fan.sim import SimBmc, SimHa, ThermalModel, VirtualClock, load_profile
from homeops.fan.sinks import MemorySink

if TYPE_CHECKING:
    from rich.console import RenderableType


@dataclass
class SimResult:
    """One simulation: its inputs, the summary and one sample per iteration."""

    profile: str
    minutes: float
    interval_s: float
    seed: int
    mode: str
    config: dict[str, Any]
    model: dict[str, Any]
    summary: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)
    ceiling: int = 83
    resume_below: int = 75
    chart: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "minutes": self.minutes,
            "interval_s": self.interval_s,
            "seed": self.seed,
            "mode": self.mode,
            "config": self.config,
            "model": self.model,
            "summary": self.summary,
            "samples": self.samples,
        }

    def render_human(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table

        s = self.summary
        table = Table(
            title=f"fan simulate — {self.profile}, {self.minutes:g} min at {self.interval_s:g} s, "
            f"mode {self.mode}, seed {self.seed}",
            title_justify="left",
        )
        table.add_column("measure")
        table.add_column("value", justify="right")
        rows = [
            ("iterations", s["iterations"]),
            ("duty writes", s["writes"]),
            ("manual enables", s["enables"]),
            ("Dell-auto restores", s["restores"]),
            ("flaps", s["flaps"]),
            ("ceiling entries", s["ceiling_entries"]),
            ("time at ceiling", f"{s['time_at_ceiling_s']:g} s ({s['time_at_ceiling_pct']:g} %)"),
            ("mean duty", f"{s['mean_duty_pct']:g} %"),
            ("mean / max temp", f"{s['mean_temp_c']:g} / {s['max_temp_c']:g} °C"),
            ("mean fan power", f"{s['fan_watts_mean']:g} W"),
        ]
        for name, value in rows:
            table.add_row(name, str(value))
        if not self.chart:
            return table
        return Group(self._chart(), table)

    def _chart(self, width: int = 72, height: int = 12) -> RenderableType:
        """Temperature as a line, applied duty as filled columns, rules at ceiling/resume, write ticks."""
        from rich.text import Text

        n = len(self.samples)
        buckets = max(1, min(width, n))
        cols: list[list[dict[str, Any]]] = [[] for _ in range(buckets)]
        for i, sample in enumerate(self.samples):
            cols[min(buckets - 1, i * buckets // max(1, n))].append(sample)
        lo, hi = 20.0, 100.0

        def row_of(value: float) -> int:
            frac = (min(hi, max(lo, value)) - lo) / (hi - lo)
            return min(height - 1, int(frac * height))

        out = Text()
        out.append("°C / %  temperature ", style="bold")
        out.append("●", style="red")
        out.append("  duty ")
        out.append("█", style="blue")
        out.append(f"  ceiling {self.ceiling}°C ")
        out.append("─", style="yellow")
        out.append(f"  resume {self.resume_below}°C ")
        out.append("┄", style="green")
        out.append("  Dell auto ")
        out.append(" ", style="on grey23")
        out.append("\n")
        ceil_row, resume_row = row_of(self.ceiling), row_of(self.resume_below)
        for r in range(height - 1, -1, -1):
            label = lo + (hi - lo) * r / height
            out.append(f"{label:5.0f} ┤")
            for col in cols:
                if not col:
                    out.append(" ")
                    continue
                temp = sum(c["temp_c"] for c in col) / len(col)
                duty = sum(c["duty_pct"] for c in col) / len(col)
                fallback = any(c["state"] != "control" for c in col)
                bg = " on grey23" if fallback else ""
                if row_of(temp) == r:
                    out.append("●", style="red" + bg)
                elif r == ceil_row:
                    out.append("─", style="bold yellow" + bg)
                elif r == resume_row:
                    out.append("┄", style="bold green" + bg)
                elif row_of(max(lo, duty)) >= r and duty > lo:
                    out.append("█", style="blue" + bg)
                else:
                    out.append(" ", style=bg.strip() or "")
            out.append("\n")
        out.append("writes ")
        for col in cols:
            ups = sum(1 for c in col if c["wrote"] == "up")
            downs = sum(1 for c in col if c["wrote"] == "down")
            out.append("▲" if ups > downs else "▼" if downs else "▲" if ups else " ", style="cyan")
        out.append(f"\n       0 min{'':>{max(0, buckets - 12)}}{self.minutes:g} min\n")
        return out


def _changes(duties: list[int]) -> int:
    """Duty writes that changed the duty (a reassert re-sends the same value and is not a write here)."""
    return sum(1 for i, d in enumerate(duties) if i == 0 or d != duties[i - 1])


def run_simulation(
    settings: Settings,
    *,
    profile: str = "burst",
    minutes: float = 60.0,
    interval: float | None = None,
    seed: int = 0,
    mode: str = "auto",
    manual_pct: int | None = None,
) -> SimResult:
    """Drive the real ``Controller`` against the model for ``minutes`` of virtual time."""
    interval = settings.loop_interval if interval is None else interval
    m = settings.simulate
    model = ThermalModel(m, load_profile(profile, minutes, m.inlet_c), seed)
    clock = VirtualClock(model)
    bmc = SimBmc(model)
    entities = {
        "mode": settings.mode_entity,
        "manual": settings.manual_entity,
        "garage": settings.garage_entity,
        "open_state": settings.garage_open_state,
    }
    ha = SimHa(model, mode=mode, manual_pct=manual_pct, entities=entities)
    sim_settings = dataclasses.replace(settings, source="curve", loop_interval=interval)
    ctl = Controller(sim_settings, bmc, ha, clock, MemorySink(), Log(quiet=True))
    iterations = max(1, round(minutes * 60 / interval))
    samples: list[dict[str, Any]] = []
    last_dir: tuple[float, int] | None = None  # (time, +1/-1) of the previous duty write
    last_duty: int | None = None
    flaps = ceiling_entries = 0
    time_at_ceiling = 0.0
    prev_state = "control"
    for _ in range(iterations):
        start = clock.now()
        before = len(bmc.sent)
        cond = model.cond = model.profile(model.t)
        rec = ctl.iteration()
        wrote = ""
        for t, data in bmc.sent[before:]:
            if data[0] == 0x02:
                duty = data[2]
                if last_duty is not None and duty != last_duty:
                    direction = 1 if duty > last_duty else -1
                    wrote = "up" if direction > 0 else "down"
                    if (
                        last_dir is not None
                        and direction != last_dir[1]
                        and t - last_dir[0] <= m.flap_window_s
                    ):
                        flaps += 1
                    last_dir = (t, direction)
                elif last_duty is None:
                    wrote = "up"
                last_duty = duty
        if rec.state == "ceiling" and prev_state != "ceiling":
            ceiling_entries += 1
        prev_state = rec.state
        samples.append(
            {
                "t_s": round(start, 3),
                "load": round(cond.load, 3),
                "inlet_c": round(cond.inlet_c, 2),
                "temp_c": round(model.temp, 2),
                "reading_c": rec.temp_c,
                "state": rec.state,
                "effective_mode": rec.effective_mode,
                "target_percent": rec.target_percent,
                "applied_percent": rec.applied_percent,
                "duty_pct": round(model.actual_duty(), 2),
                "wrote": wrote,
            }
        )
        clock.sleep(start + interval - clock.now())
        if rec.state == "ceiling":
            time_at_ceiling += interval
    total = max(model.acc_time, 1e-9)
    sent = [d for _, d in bmc.sent]
    summary = {
        "iterations": iterations,
        "writes": _changes([d[2] for d in sent if d[0] == 0x02 and len(d) >= 3]),
        "enables": sum(1 for d in sent if d[:2] == (0x01, 0x00)),
        "restores": sum(1 for d in sent if d[:2] == (0x01, 0x01)),
        "flaps": flaps,
        "ceiling_entries": ceiling_entries,
        "time_at_ceiling_s": round(time_at_ceiling, 1),
        "time_at_ceiling_pct": round(100 * time_at_ceiling / (iterations * interval), 1),
        "mean_duty_pct": round(model.acc_duty / total, 1),
        "mean_temp_c": round(model.acc_temp / total, 1),
        "max_temp_c": round(model.max_temp, 1),
        "fan_watts_mean": round(model.acc_watts / total, 1),
    }
    config = {
        "cool": dataclasses.asdict(settings.cool),
        "quiet": dataclasses.asdict(settings.quiet),
        "deadband": settings.deadband,
        "min_step": settings.min_step,
        "ceiling": settings.ceiling,
        "resume_below": settings.resume_below,
        "resume_stable": settings.resume_stable,
        "hold_secs": settings.hold_secs,
        "manual_pct": manual_pct,
    }
    return SimResult(
        profile=profile,
        minutes=minutes,
        interval_s=interval,
        seed=seed,
        mode=mode,
        config=config,
        model={
            k: v for k, v in dataclasses.asdict(m).items() if not (isinstance(v, float) and math.isnan(v))
        },
        summary=summary,
        samples=samples,
        ceiling=settings.ceiling,
        resume_below=settings.resume_below,
    )
