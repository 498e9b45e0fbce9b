"""Service: one controller iteration (gather → decide → apply) and the loop around it (spec fan.md §3.7–§3.9).

`run`, `run --once`, `--bmc sim` and `simulate` all drive this one loop, each with its own adapters.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from homeops.fan import control
from homeops.fan.control import FALLBACK_STATES, PASSIVE_STATES, Failsafe, Limits, format_temp
from homeops.fan.curve import Anchors, Curves, mode_metric, resolve, should_write, watts_estimate
from homeops.fan.inputs import HaConfig, HaInputs
from homeops.fan.ports import Bmc, BmcError, Clock, Gauge, Ha, MetricsSink, Sensor
from homeops.fan.settings import Settings

LogFn = Callable[[str, str], None]
REFUSAL_CODES = (0xC1, 0xD4)
DELL = 674


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


def oem_text(data: Sequence[int]) -> str:
    """``0x02 0xff 0x33``: the bytes as the plugin logs them."""
    return " ".join(f"0x{b:02x}" for b in data)


class Actuator:
    """Dell OEM fan commands with the manual-mode flag (§3.4); under dry run nothing is sent."""

    def __init__(self, bmc: Bmc, clock: Clock, log: LogFn, *, dry_run: bool = False) -> None:
        self.bmc = bmc
        self.clock = clock
        self.log = log
        self.dry_run = dry_run
        self.manual_on = False
        self.last_enable: float | None = None
        self.actions: list[str] = []

    def _send(self, data: list[int]) -> int:
        self.actions.append(oem_text(data))
        return self.bmc.oem(data)

    def set_manual(self, pct: int) -> Literal["ok", "failed", "refused"]:
        """Enable manual mode if needed (stop if that fails), then set all fans to ``pct``."""
        if self.dry_run:
            if not self.manual_on:
                self.actions.append(oem_text([0x01, 0x00]))
            self.actions.append(oem_text([0x02, 0xFF, pct]))
            self.log("INFO", f"DRY set fan {pct}% (0x{pct:02x})")
            self.manual_on = True
            return "ok"
        try:
            if not self.manual_on:
                cc = self._send([0x01, 0x00])
                if cc in REFUSAL_CODES:
                    return "refused"
                if cc != 0:
                    return "failed"
                self.manual_on = True
                self.last_enable = self.clock.now()
            cc = self._send([0x02, 0xFF, pct])
        except BmcError:
            return "failed"
        return "ok" if cc == 0 else "failed"

    def restore_auto(self) -> bool:
        """Hand the fans back to Dell auto (``0x01 0x01``); WARN on failure; manual mode is off either way."""
        self.manual_on = False
        if self.dry_run:
            self.actions.append(oem_text([0x01, 0x01]))
            self.log("INFO", "DRY restore Dell auto fan control")
            return True
        try:
            cc = self._send([0x01, 0x01])
        except BmcError as exc:
            self.log("WARN", f"restore Dell auto failed: {exc}")
            return False
        if cc != 0:
            self.log("WARN", f"restore Dell auto failed: completion code 0x{cc:02x}")
            return False
        return True


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
        return {
            "source": self.source,
            "state": self.state,
            "temp_c": self.temp_c,
            "cpu_temps_c": self.cpu_temps_c,
            "applied_percent": self.applied_percent,
            "target_percent": self.target_percent,
            "effective_mode": self.effective_mode,
            "ha_reachable": self.ha_reachable,
            "read_fails": self.read_fails,
            "write_fails": self.write_fails,
            "dry_run": self.dry_run,
        }


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
        self.push_down = False

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
        p = "pve_fan_control_"
        g: list[Gauge] = []
        if temps:
            g.append(Gauge(p + "cpu_temp_celsius", "Hottest CPU temperature (°C).", max(v for _, v in temps)))
            for sid, value in temps:
                g.append(
                    Gauge(
                        p + "cpu_temp_sensor_celsius",
                        "CPU temperature per sensor (°C).",
                        value,
                        (("sensor", sid),),
                    )
                )
        g.append(
            Gauge(
                p + "fan_percent",
                "Last applied fan duty (%); 0 when not in manual control.",
                rec.applied_percent or 0,
            )
        )
        g.append(
            Gauge(
                p + "mode",
                "1 quiet, 2 cool, 3 manual, 0 fallback.",
                mode_metric(rec.state, rec.effective_mode or "", self.s.source),
            )
        )
        g.append(
            Gauge(
                p + "ha_reachable",
                "1 when every HA request of the iteration succeeded.",
                int(rec.ha_reachable),
            )
        )
        g.append(
            Gauge(p + "fallback", "1 in any Dell-auto failsafe state.", int(rec.state in FALLBACK_STATES))
        )
        if rpm_ok(rec.fan_rpm):
            assert rec.fan_rpm is not None
            g.append(Gauge(p + "fan_rpm", "Mean fan speed (rpm).", rec.fan_rpm))
            g.append(
                Gauge(p + "fan_watts_est", "Estimated fan power (W), cube law.", watts_estimate(rec.fan_rpm))
            )
        if rec.target_percent is not None:
            g.append(Gauge(p + "target_percent", "The duty the controller wants (%).", rec.target_percent))
        g.append(
            Gauge(
                p + "ceiling", "1 while in the temperature ceiling (Dell auto).", int(rec.state == "ceiling")
            )
        )
        g.append(Gauge(p + "ipmi_read_failures", "Consecutive failed CPU temperature reads.", rec.read_fails))
        g.append(Gauge(p + "ipmi_write_failures", "Consecutive failed fan writes.", rec.write_fails))
        return g

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


def rpm_ok(rpm: int | None) -> bool:
    """A fan reading worth publishing."""
    return rpm is not None and rpm >= 0


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
