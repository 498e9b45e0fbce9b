"""CLI: `homeops fan` — the Dell R730 fan controller: curves, the decision rule, the daemon, manual control,
simulation and the systemd unit (spec fan.md). Thin: parse, build through ``build.py``, call, emit.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Annotated, Optional

import typer

from homeops.cliopts import DryRunFlag, JsonFlag, YesFlag
from homeops.errors import ExitCode, ExitWith, UsageError
from homeops.manifest import read, write
from homeops.output import emit, finish, warn

app = typer.Typer(
    help="Dell R730 fan control: curves, the daemon, simulation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

BMCS = ("local", "lan", "sim", "ipmitool")
SOURCES = ("curve", "ha-command")
MODES = ("auto", "cool", "quiet", "manual")
BmcOpt = Annotated[
    Optional[str],  # noqa: UP045 - Typer needs Optional here
    typer.Option(
        "--bmc", help="BMC backend: local (/dev/ipmi0), lan (RMCP+), sim (thermal model), ipmitool."
    ),
]
SourceOpt = Annotated[Optional[str], typer.Option("--source", help="curve or ha-command.")]  # noqa: UP045
ModeOpt = Annotated[str, typer.Option("--mode", help="HA mode: auto, cool, quiet or manual.")]
ManualOpt = Annotated[Optional[int], typer.Option("--manual-pct", help="Slider % for mode manual.")]  # noqa: UP045


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> str | None:
    if value is not None and value not in allowed:
        raise UsageError(
            f"{option} {value!r} is not one of {', '.join(allowed)}", f"use {option} {allowed[0]}"
        )
    return value


def _mode(mode: str, manual_pct: int | None) -> None:
    """``--mode`` is an HA mode, and ``manual`` comes with a ``--manual-pct`` (clamped like HA's slider)."""
    _choice(mode, MODES, "--mode")
    if mode == "manual" and manual_pct is None:
        raise UsageError("--mode manual needs --manual-pct", "add --manual-pct N")


@app.command("curve")
@read
def curve_cmd(
    mode: Annotated[str, typer.Option("--mode", help="cool or quiet.")] = "cool",
    start: Annotated[int, typer.Option("--from", help="First temperature (°C).")] = 30,
    end: Annotated[int, typer.Option("--to", help="Last temperature (°C).")] = 90,
    json_output: JsonFlag = False,
) -> None:
    """Print the configured curve, one point per whole °C (pure)."""
    from homeops.fan.build import load
    from homeops.fan.curve import curve
    from homeops.fan.results import CurveResult
    from homeops.fan.service import curves_of

    _choice(mode, ("cool", "quiet"), "--mode")
    if start > end:
        raise UsageError(f"--from {start} is above --to {end}", "give --from ≤ --to")
    anchors = curves_of(load().settings).for_mode(mode)
    points = [{"temp_c": t, "percent": curve(anchors, t)} for t in range(start, end + 1)]
    emit(CurveResult(mode, points), json_output=json_output)


@app.command("decide")
@read
def decide_cmd(
    temp: Annotated[float, typer.Option("--temp", help="CPU temperature (°C, the hottest CPU).")],
    mode: ModeOpt = "auto",
    presence: Annotated[
        str, typer.Option("--presence", help="Garage presence for mode auto: quiet or cool.")
    ] = "cool",
    current: Annotated[int, typer.Option("--current", help="Last applied %; -1 = nothing applied.")] = -1,
    manual_pct: ManualOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Show the exact decision rule's output (curve + hysteresis + mode + write gate); pure."""
    from homeops.fan.build import load
    from homeops.fan.curve import curve, resolve, should_write
    from homeops.fan.results import DecideResult
    from homeops.fan.service import curves_of

    _mode(mode, manual_pct)
    _choice(presence, ("quiet", "cool"), "--presence")
    if current < -1 or current > 100:
        raise UsageError(f"--current {current} is outside -1..100", "give the last applied %, or -1")
    s = load().settings
    if temp >= s.ceiling:
        emit(DecideResult(None, "dell-auto", None, current >= 0, temp), json_output=json_output)
        return
    curves = curves_of(s)
    pct, eff = resolve(curves, mode, temp, manual_pct, presence, current)
    target = pct if eff == "manual" else curve(curves.for_mode(eff), temp)
    emit(
        DecideResult(pct, eff, target, should_write(pct, current, s.min_step), temp), json_output=json_output
    )


@app.command("run")
@write
def run_cmd(
    once: Annotated[bool, typer.Option("--once", help="One iteration, then exit.")] = False,
    dry_run: DryRunFlag = False,
    bmc: BmcOpt = None,
    restore: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--restore/--no-restore", help="Hand back to Dell auto at exit (default for the daemon)."
        ),
    ] = None,
    env_file: Annotated[str | None, typer.Option("--env-file", help="Legacy /etc/fan-control.env.")] = None,
    source: SourceOpt = None,
    yes: YesFlag = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="--once: one JSON document; else one JSON object per iteration.")
    ] = False,
) -> None:
    """Run the fan control loop (the daemon), or one iteration with --once."""
    from homeops.fan.runner import run_command

    _choice(bmc, BMCS, "--bmc")
    _choice(source, SOURCES, "--source")
    code = run_command(
        once=once,
        dry_run=dry_run,
        bmc=bmc,
        restore=restore,
        env_file=env_file,
        source=source,
        yes=yes,
        json_output=json_output,
    )
    if code != ExitCode.OK:
        raise ExitWith(code)


@app.command("status")
@read
def status_cmd(bmc: BmcOpt = None, json_output: JsonFlag = False) -> None:
    """Show CPU temperatures, fan rpm, the daemon's state file and Home Assistant's view."""
    from homeops.fan.runner import status

    _choice(bmc, BMCS, "--bmc")
    result, code = status(bmc)
    finish(result, code, json_output)


@app.command("set")
@write
def set_cmd(
    percent: Annotated[int, typer.Argument(metavar="PCT", help="Duty for all fans, 0..100 %.")],
    bmc: BmcOpt = None,
    dry_run: DryRunFlag = False,
    yes: YesFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Take manual control and set all fans to PCT % (no controller stays behind)."""
    from homeops.fan.runner import set_fans

    _choice(bmc, BMCS, "--bmc")
    if not 0 <= percent <= 100:
        raise UsageError(f"PCT {percent} is outside 0..100", "give a duty between 0 and 100")
    emit(set_fans(percent, bmc=bmc, dry_run=dry_run, yes=yes), json_output=json_output)
    if not dry_run:
        warn(f"fans left at {percent}% with no controller — run homeops fan auto to hand back")


@app.command("auto")
@write
def auto_cmd(bmc: BmcOpt = None, dry_run: DryRunFlag = False, json_output: JsonFlag = False) -> None:
    """Hand the fans back to Dell auto (0x01 0x01); used by ExecStopPost."""
    from homeops.fan.runner import auto

    _choice(bmc, BMCS, "--bmc")
    emit(auto(bmc=bmc, dry_run=dry_run), json_output=json_output)


@app.command("simulate")
@read
def simulate_cmd(
    profile: Annotated[
        str, typer.Option("--profile", help="idle, steady, burst, ramp, heatwave, garage, or PATH.csv.")
    ] = "burst",
    minutes: Annotated[float, typer.Option("--minutes", help="Virtual minutes to simulate.")] = 60.0,
    mode: ModeOpt = "auto",
    manual_pct: ManualOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Sensor-noise seed (same seed → same output).")] = 0,
    interval: Annotated[
        float | None, typer.Option("--interval", help="Loop interval (s); default loop_interval.")
    ] = None,
    deadband: Annotated[Optional[int], typer.Option("--deadband", help="Override the deadband (°C).")] = None,  # noqa: UP045
    min_step: Annotated[Optional[int], typer.Option("--min-step", help="Override MIN_STEP (%).")] = None,  # noqa: UP045
    json_output: JsonFlag = False,
) -> None:
    """Run the real controller against a thermal model in virtual time (offline; no hardware)."""
    from homeops.fan.runner import simulate

    _mode(mode, manual_pct)
    if manual_pct is not None and not 0 <= manual_pct <= 100:
        raise UsageError(f"--manual-pct {manual_pct} is outside 0..100", "give a duty between 0 and 100")
    if not 0 < minutes <= 60 * 24 * 31:
        raise UsageError(f"--minutes {minutes:g} is outside (0, 44640]", "give a positive number of minutes")
    if interval is not None and not 0.1 <= interval <= 3600:
        raise UsageError(f"--interval {interval:g} is outside 0.1..3600", "give seconds between iterations")
    if deadband is not None and not 0 <= deadband <= 20:
        raise UsageError(f"--deadband {deadband} is outside 0..20", "give whole °C")
    if min_step is not None and not 1 <= min_step <= 100:
        raise UsageError(f"--min-step {min_step} is outside 1..100", "give whole %")
    result = simulate(
        profile=profile,
        minutes=minutes,
        mode=mode,
        manual_pct=manual_pct,
        seed=seed,
        interval=interval,
        deadband=deadband,
        min_step=min_step,
        json_output=json_output,
    )
    emit(result, json_output=json_output)


@app.command("unit")
@read
def unit_cmd(
    exec_path: Annotated[str | None, typer.Option("--exec", help="homeops path (default: this one).")] = None,
    env_file: Annotated[
        str | None, typer.Option("--env-file", help="Pass a legacy env-file to fan run.")
    ] = None,
    bmc: BmcOpt = None,
    source: SourceOpt = None,
    no_hardening: Annotated[
        bool, typer.Option("--no-hardening", help="Leave out the sandboxing block.")
    ] = False,
    no_watchdog: Annotated[
        bool, typer.Option("--no-watchdog", help="Type=simple without WatchdogSec.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Print the systemd unit homeops-fan.service."""
    from homeops.fan.build import load
    from homeops.fan.results import UnitResult
    from homeops.fan.unit import NAME, render_unit

    _choice(bmc, BMCS, "--bmc")
    _choice(source, SOURCES, "--source")
    settings = load().settings
    path = exec_path or shutil.which("homeops") or os.path.abspath(sys.argv[0])
    text = render_unit(
        settings,
        exec_path=path,
        bmc=bmc or settings.bmc,
        env_file=env_file,
        source=source,
        hardening=not no_hardening,
        watchdog=not no_watchdog,
        ipmitool_path=shutil.which("ipmitool"),
    )
    emit(UnitResult(NAME, text), json_output=json_output)
