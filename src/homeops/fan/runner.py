"""Service: what each `homeops fan` command does once its options are parsed (the CLI stays thin)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from homeops.errors import ExitCode, ProblemFound, Refused, Unreachable, UsageError
from homeops.fan.actuator import oem_text
from homeops.fan.build import (
    Loaded,
    age_seconds,
    check_vendor,
    load,
    make_bmc,
    make_ha,
    make_sink,
    sensors_json,
    warnings_for,
)
from homeops.fan.control import format_temp
from homeops.fan.curve import watts_estimate
from homeops.fan.ports import Bmc, BmcError
from homeops.fan.readings import ReadFailure, cpu_temps, fan_rpm
from homeops.fan.results import OnceResult, StatusResult
from homeops.fan.runtime import Lock, Log, RealClock, StopFlag, legacy_controller_pid, read_state
from homeops.fan.service import Controller, default_runtime_dir
from homeops.writes import Action, WriteResult, audit, confirm_destructive


def _bmc_name(loaded: Loaded) -> str:
    s = loaded.settings
    return f"lan {s.bmc_host}:{s.bmc_port}" if s.bmc == "lan" else s.bmc


def run_command(
    *,
    once: bool,
    dry_run: bool,
    bmc: str | None,
    restore: bool | None,
    env_file: str | None,
    source: str | None,
    yes: bool,
    json_output: bool,
) -> ExitCode:
    """``fan run``: validate, lock, build, loop, hand back; the exit code."""
    from homeops.fan.daemon import run_loop
    from homeops.output import emit, emit_event

    loaded = load(env_file, bmc=bmc, source=source)
    s = loaded.settings
    if loaded.env_file is not None:
        dry_run = dry_run or loaded.env_file.dry_run
        if loaded.env_file.run_once and not once:
            once = True
            restore = True if restore is None else restore
    if once and restore is None and not dry_run:
        raise UsageError(
            "--once needs --restore or --no-restore", "add --restore to hand back to Dell auto after"
        )
    restore = True if restore is None else restore
    log = Log()
    for line in warnings_for(s, loaded.env_file):
        log("WARN", line)
    if once and not restore and not dry_run:
        confirm_destructive("leave the fans in manual mode with no controller", yes=yes, dry_run=dry_run)
    runtime_dir = default_runtime_dir(s.runtime_dir)
    lock: Lock | None = None
    if not dry_run:
        pid = legacy_controller_pid()
        if pid is not None:
            raise Refused(
                f"the legacy fan-control script is running (pid {pid})", "systemctl disable --now fan-control"
            )
        lock = Lock(runtime_dir).acquire()
    port = make_bmc(loaded)
    try:
        ha = make_ha(loaded)
        if not dry_run:
            check_vendor(port, s)
        clock = RealClock()
        sink = make_sink(s, log, dry_run=dry_run)
        ctl = Controller(s, port, ha, clock, sink, log, dry_run=dry_run)
        log(
            "INFO",
            f"homeops fan start (source={s.source} bmc={s.bmc} loop={s.loop_interval:g}s "
            f"presence={s.presence_interval:g}s hold={s.hold_secs:g}s ceiling={s.ceiling}C dry_run={int(dry_run)})",
        )
        if not restore:
            log("WARN", "--no-restore: the fans stay in manual mode when this exits")
        stop = StopFlag(clock)
        if not once:
            stop.install()

        def on_record(rec: Any, doc: dict[str, Any]) -> None:
            if json_output and not once:
                emit_event(doc)

        try:
            outcome = run_loop(
                ctl,
                clock,
                interval=s.loop_interval,
                once=once,
                restore=restore,
                stop=lambda: bool(stop),
                runtime_dir=None if dry_run else runtime_dir,
                on_record=on_record,
            )
        finally:
            stop.uninstall()
    finally:
        port.close()
        if lock is not None:
            lock.release()
    if outcome.restored is False:
        return ExitCode.UNREACHABLE
    if not once:
        return ExitCode.OK
    rec = outcome.records[-1]
    actions = list(ctl.actuator.actions)
    result = OnceResult(
        state=rec.state,
        temp_c=rec.temp_c,
        cpu_temps_c=rec.cpu_temps_c,
        percent=rec.applied_percent,
        effective_mode=rec.effective_mode,
        actions=actions,
        changed=bool(actions) and not dry_run,
        restored=bool(outcome.restored) or rec.restored,
        ha_reachable=rec.ha_reachable,
        dry_run=dry_run,
        pushed=rec.pushed,
    )
    emit(result, json_output=json_output)
    if not restore and not dry_run and rec.applied_percent is not None:
        log(
            "WARN",
            f"fans left at {rec.applied_percent}% with no controller — run homeops fan auto to hand back",
        )
    if rec.temp_c is None:
        return ExitCode.UNREACHABLE
    if rec.state != "control":
        return ExitCode.PROBLEM
    return ExitCode.OK


def status(bmc: str | None) -> tuple[StatusResult, ExitCode]:
    """``fan status``: read-only; exit 4 when the BMC is unreadable, 1 on a problem."""
    loaded = load(None, bmc=bmc)
    s = loaded.settings
    port = make_bmc(loaded)
    try:
        try:
            sensors = list(port.sensors())
        except BmcError as exc:
            raise Unreachable(
                f"cannot read the BMC: {exc}", "check fan.bmc / bmc_host, or run homeops doctor"
            ) from None
    finally:
        port.close()
    problems: list[str] = []
    temp: float | None = None
    try:
        temp = max(v for _, v in cpu_temps(sensors, s.cpu_sensor_name))
    except ReadFailure as exc:
        problems.append(f"CPU temperature unreadable: {exc}")
    rpm = fan_rpm(sensors)
    if temp is not None and temp >= s.ceiling:
        problems.append(f"CPU at {format_temp(temp)}, at or above the ceiling {s.ceiling}C")
    daemon = read_state(default_runtime_dir(s.runtime_dir))
    if daemon is not None:
        age = age_seconds(daemon.get("updated_at"), datetime.now(UTC))
        daemon["stale"] = age is None or age > 3 * s.loop_interval
        if daemon["stale"]:
            problems.append("the daemon's state file is stale")
        if daemon.get("state") != "control":
            problems.append(f"the daemon is in state {daemon.get('state')}")
    ha_view = _ha_view(loaded)
    result = StatusResult(
        bmc=_bmc_name(loaded),
        cpu_temp_c=temp,
        sensors=sensors_json(sensors),
        fan_rpm_mean=rpm,
        fan_watts_est=None if rpm is None else watts_estimate(rpm),
        daemon=daemon,
        ha=ha_view,
        problems=problems,
    )
    return result, ExitCode.PROBLEM if problems else ExitCode.OK


def _ha_view(loaded: Loaded) -> dict[str, Any] | None:
    from homeops.fan.inputs import HaInputs
    from homeops.fan.service import ha_config_of

    ha = make_ha(loaded)
    if ha is None:
        return None
    inputs = HaInputs(ha, ha_config_of(loaded.settings), lambda level, line: None)
    inputs.begin()
    mode = inputs.mode(0.0)
    manual = inputs.manual(0.0) if mode == "manual" else None
    presence = inputs.presence(0.0, datetime.now(UTC))
    return {"reachable": inputs.reachable, "mode": mode, "presence": presence, "manual_pct": manual}


def _send(port: Bmc, data: list[int], sent: list[str], what: str) -> None:
    sent.append(oem_text(data))
    try:
        code = port.oem(data)
    except BmcError as exc:
        done = ", ".join(sent[:-1]) or "nothing"
        raise Unreachable(
            f"BMC unreachable during {what}: {exc} (already sent: {done})", "check the BMC"
        ) from None
    if code != 0:
        raise ProblemFound(
            f"BMC refused {oem_text(data)} with completion code 0x{code:02x}",
            "0xc1/0xd4: iDRAC ≥ 3.34.34.34 or a non-admin user refuses 0x30 0x30",
        )


def set_fans(percent: int, *, bmc: str | None, dry_run: bool, yes: bool) -> WriteResult:
    """``fan set PCT``: enable manual mode and set every fan's duty."""
    loaded = load(None, bmc=bmc)
    confirm_destructive(f"set all fans to {percent}% with no controller", yes=yes, dry_run=dry_run)
    planned = [[0x01, 0x00], [0x02, 0xFF, percent]]
    lock = None if dry_run else Lock(default_runtime_dir(loaded.settings.runtime_dir)).acquire()
    port = make_bmc(loaded)
    sent: list[str] = []
    try:
        check_vendor(port, loaded.settings)
        if not dry_run:
            for data in planned:
                _send(port, data, sent, f"fan set {percent}")
    finally:
        port.close()
        if lock is not None:
            lock.release()
    actions = [Action("ipmi raw 0x30 0x30", oem_text(d)) for d in planned]
    result = WriteResult(
        changed=not dry_run,
        dry_run=dry_run,
        actions=actions,
        extra={"percent": percent, "actions": [oem_text(d) for d in planned]},
    )
    audit("fan set", _bmc_name(loaded), result)
    return result


def auto(*, bmc: str | None, dry_run: bool) -> WriteResult:
    """``fan auto``: hand back to Dell auto; retries an unreachable BMC up to three times."""
    loaded = load(None, bmc=bmc)
    runtime = default_runtime_dir(loaded.settings.runtime_dir)
    probe = Lock(runtime)
    with contextlib.suppress(Refused):
        probe.acquire()
        probe.release()
        probe = None  # type: ignore[assignment]
    if probe is not None:
        from homeops.output import warn

        warn("a fan controller is running: it will retake control at its next iteration")
    port = make_bmc(loaded)
    attempts = 0
    try:
        check_vendor(port, loaded.settings)
        if not dry_run:
            last: Exception | None = None
            while attempts < 3:
                attempts += 1
                try:
                    _send(port, [0x01, 0x01], [], "fan auto")
                    last = None
                    break
                except Unreachable as exc:
                    last = exc
            if last is not None:
                raise last
    finally:
        port.close()
    result = WriteResult(
        changed=not dry_run,
        dry_run=dry_run,
        actions=[Action("ipmi raw 0x30 0x30", "0x01 0x01", "Dell auto")],
        extra={"actions": ["0x01 0x01"], "attempts": attempts},
    )
    audit("fan auto", _bmc_name(loaded), result)
    return result


def simulate(
    *,
    profile: str,
    minutes: float,
    mode: str,
    manual_pct: int | None,
    seed: int,
    interval: float | None,
    deadband: int | None,
    min_step: int | None,
    json_output: bool,
) -> Any:
    """``fan simulate``: embedded defaults unless a config file says otherwise; no hardware, no network."""
    from homeops.fan.simulate import run_simulation
    from homeops.output import console

    settings = load(None, deadband=deadband, min_step=min_step).settings
    result = run_simulation(
        settings,
        profile=profile,
        minutes=minutes,
        interval=interval,
        seed=seed,
        mode=mode,
        manual_pct=manual_pct,
    )
    if not json_output:
        out = console()
        result.chart = out.is_terminal and not out.no_color
    return result
