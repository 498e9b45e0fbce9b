"""Service: one controller iteration (gather → decide → apply) and the loop around it (spec fan.md §3.7–§3.9).

`run`, `run --once`, `--bmc sim` and `simulate` all drive this one loop, each with its own adapters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from homeops.fan import control
from homeops.fan.actuator import Actuator
from homeops.fan.control import FALLBACK_STATES, PASSIVE_STATES, Failsafe, Limits, format_temp
from homeops.fan.curve import Anchors, Curves, resolve, should_write
from homeops.fan.gauges import gauges
from homeops.fan.inputs import HaConfig, HaInputs
from homeops.fan.ports import Bmc, BmcError, Clock, Gauge, Ha, MetricsSink
from homeops.fan.readings import ReadFailure, cpu_temps, fan_rpm
from homeops.fan.settings import Settings

LogFn = Callable[[str, str], None]


@dataclass
class Record:
    """One iteration's outcome: the state file's fields, plus what was sent and whether it was pushed."""

    source: str
    state: str
    temp_c: float | None
    cpu_temps_c: dict[str, float]
    applied_percent: int | None
    target_percent: int | None
    effective_mode: str | None
    ha_reachable: bool
    read_fails: int
    write_fails: int
    dry_run: bool
    pushed: bool = True
    actions: list[str] = field(default_factory=list)
    wrote: bool = False
    restored: bool = False
    fan_rpm: int | None = None
    ha_mode: str | None = None

    def state_json(self) -> dict[str, Any]:
        """The state-file fields of §3.9 (without pid and times, which the caller adds)."""
        return {name: getattr(self, name) for name in STATE_FIELDS}


STATE_FIELDS = (
    "source",
    "state",
    "temp_c",
    "cpu_temps_c",
    "applied_percent",
    "target_percent",
    "effective_mode",
    "ha_reachable",
    "read_fails",
    "write_fails",
    "dry_run",
)


def curves_of(settings: Settings) -> Curves:
    """The COOL/QUIET curves and deadband of a settings object."""
    c, q = settings.cool, settings.quiet
    return Curves(
        Anchors(c.t_lo, c.p_lo, c.t_hi, c.p_hi), Anchors(q.t_lo, q.p_lo, q.t_hi, q.p_hi), settings.deadband
    )


def ha_config_of(settings: Settings) -> HaConfig:
    """The HA entities and timings of a settings object."""
    s = settings
    return HaConfig(
        mode_entity=s.mode_entity,
        manual_entity=s.manual_entity,
        garage_entity=s.garage_entity,
        command_entity=s.command_entity,
        garage_open_state=s.garage_open_state,
        hold_secs=s.hold_secs,
        presence_interval=s.presence_interval,
        grace=s.ha_grace_secs,
        stale_secs=s.stale_secs,
    )


class Controller:
    """The fan controller: one ``iteration()`` reads, decides and writes through the ports it is handed."""

    def __init__(
        self,
        settings: Settings,
        bmc: Bmc,
        ha: Ha | None,
        clock: Clock,
        sink: MetricsSink | None,
        log: LogFn,
        *,
        dry_run: bool = False,
    ) -> None:
        self.s = settings
        self.bmc = bmc
        self.clock = clock
        self.sink = sink
        self.log = log
        self.dry_run = dry_run
        self.curves = curves_of(settings)
        self.limits = Limits(
            settings.ceiling,
            settings.resume_below,
            settings.resume_stable,
            settings.max_ipmi_fails,
            settings.ha_grace_secs,
        )
        self.inputs = HaInputs(ha, ha_config_of(settings), log)
        self.actuator = Actuator(bmc, clock, log, dry_run=dry_run)
        self.fs = Failsafe()
        self.current = -1
        self.target: int | None = None
        self.effective: str | None = None
        self._restored = False
        self._wrote = False

    # -- helpers ---------------------------------------------------------------------------------------
    def _apply(self, step: control.Step) -> None:
        self.fs = step.failsafe
        for level, line in step.logs:
            self.log(level, line)
        if step.restore:
            self.actuator.restore_auto()
            self._restored = True
        if step.reset_current:
            self.current = -1

    def _write(self, pct: int, temp: float, ha_mode: str) -> None:
        now = self.clock.now()
        a = self.actuator
        reassert = (
            a.manual_on
            and self.s.reassert_secs > 0
            and a.last_enable is not None
            and now - a.last_enable >= self.s.reassert_secs
        )
        if reassert:
            a.manual_on = False
        if not (should_write(pct, self.current, self.s.min_step) or reassert):
            return
        outcome = a.set_manual(pct)
        if outcome == "refused":
            self._apply(control.on_refused(self.fs))
            return
        if outcome == "ok":
            was = self.current
            self.current = pct
            self._wrote = True
            self.log(
                "INFO",
                f"temp={format_temp(temp)} ha_mode={ha_mode} eff={self.effective} fan={pct}% (was {was}%)",
            )
        self._apply(control.on_write(self.fs, outcome == "ok", pct, self.limits))

    # -- one iteration -------------------------------------------------------------------------------
    def iteration(self) -> Record:
        """§3.7 steps 1–6 (without the sleep)."""
        now = self.clock.now()
        mark = len(self.actuator.actions)
        self._restored = self._wrote = False
        self.inputs.begin()
        self.target = None
        self.effective = None
        temps: list[tuple[str, float]] | None = None
        rpm: int | None = None
        ha_mode: str | None = None
        try:
            sensors = self.bmc.sensors()
            temps = cpu_temps(sensors, self.s.cpu_sensor_name)
        except (BmcError, ReadFailure) as exc:
            self.log("WARN", f"CPU temp read failed: {exc}")
            self._apply(control.on_read_failure(self.fs, self.limits))
            if self.inputs.ha is not None:
                ha_mode = self.inputs.mode(now)
        else:
            rpm = fan_rpm(sensors)
            temp = max(v for _, v in temps)
            self._apply(control.on_temp(self.fs, temp, now, self.limits))
            if self.fs.state in PASSIVE_STATES:
                if self.inputs.ha is not None:
                    ha_mode = self.inputs.mode(now)
            elif self.s.source == "ha-command":
                ha_mode = self._command_step(temp, now)
            else:
                ha_mode = self._curve_step(temp, now)
        record = self._record(temps, rpm, ha_mode)
        record.actions = self.actuator.actions[mark:]
        record.pushed = self._publish(record, temps)
        return record

    def _curve_step(self, temp: float, now: float) -> str:
        wall = self.clock.utcnow()
        ha_mode = self.inputs.mode(now)
        manual = self.inputs.manual(now) if ha_mode == "manual" else None
        pres = self.inputs.presence(now, wall) if ha_mode == "auto" else "cool"
        pct, eff = resolve(self.curves, ha_mode, temp, manual, pres, self.current)
        self.target, self.effective = pct, eff
        self._write(pct, temp, ha_mode)
        return ha_mode

    def _command_step(self, temp: float, now: float) -> str:
        pct = self.inputs.command(self.clock.utcnow())
        was_lost = self.fs.state == "ha_lost"
        self._apply(control.on_command(self.fs, pct is not None, self.current, now, self.limits))
        self.effective = "ha-command"
        if pct is not None:
            if was_lost:
                self.log("INFO", f"HA command back ({pct}%) — resuming")
            self.target = pct
            self._write(pct, temp, "ha-command")
        elif self.fs.state == "control":
            self.target = self.current
        return "ha-command"

    def _record(self, temps: list[tuple[str, float]] | None, rpm: int | None, ha_mode: str | None) -> Record:
        in_control = self.fs.state == "control" and self.current >= 0
        return Record(
            source=self.s.source,
            state=self.fs.state,
            temp_c=max(v for _, v in temps) if temps else None,
            cpu_temps_c={k: v for k, v in temps} if temps else {},
            applied_percent=self.current if in_control else None,
            target_percent=self.target if self.fs.state not in FALLBACK_STATES else None,
            effective_mode=self.effective if self.fs.state == "control" else "dell-auto",
            ha_reachable=self.inputs.reachable,
            read_fails=self.fs.read_fails,
            write_fails=self.fs.write_fails,
            dry_run=self.dry_run,
            wrote=self._wrote,
            restored=self._restored,
            fan_rpm=rpm,
            ha_mode=ha_mode,
        )

    def gauges(self, rec: Record, temps: list[tuple[str, float]] | None) -> list[Gauge]:
        """The ``pve_fan_control_*`` gauges of one iteration (§5)."""
        return gauges(rec, temps, self.s.source)

    def _publish(self, rec: Record, temps: list[tuple[str, float]] | None) -> bool:
        if self.sink is None:
            return False
        return self.sink.publish(self.gauges(rec, temps))

    def finish(self, attempts: int = 3) -> bool:
        """Hand back to Dell auto on the way out: up to ``attempts`` tries, each bounded by the BMC deadline."""
        self.log("INFO", "exit — restoring Dell auto fan control")
        for _ in range(attempts):
            if self.actuator.restore_auto():
                self.current = -1
                return True
        self.log("ERR", "could not restore Dell auto fan control — ExecStopPost will retry")
        return False


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """Settings with CLI flags applied (flags rank above everything else)."""
    real = {k: v for k, v in changes.items() if v is not None}
    return replace(settings, **real) if real else settings


def default_runtime_dir(configured: str) -> str:
    """``/run/homeops`` for root; ``$XDG_RUNTIME_DIR/homeops`` (or a temp dir) for other users."""
    if configured != "/run/homeops" or os.geteuid() == 0:
        return configured
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/homeops-{os.geteuid()}"
    return os.path.join(base, "homeops")
