"""Helpers for the fan integration tests: a controller wired to the real simulator, stand-in and gateway."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from homeops.fan.ipmi import IpmiBmc
from homeops.fan.runtime import Log, RealClock
from homeops.fan.service import Controller, Record
from homeops.fan.settings import Settings
from homeops.fan.sinks import MemorySink, MultiSink, PushSink


def fan_settings(sim: Any, **over: Any) -> Settings:
    """Fast test settings for a controller talking to ``sim`` over LAN."""
    base = dict(bmc="lan", bmc_port=sim.lan_port, ipmi_timeout=2.0, loop_interval=0.2, presence_interval=0)
    base.update(over)
    return dataclasses.replace(Settings(), **base)


def controller(
    sim: Any, *, ha: Any = None, pushgateway_url: str = "", dry_run: bool = False, **over: Any
) -> tuple[Controller, IpmiBmc, Log]:
    s = fan_settings(sim, **over)
    bmc = IpmiBmc(mode="lan", port=sim.lan_port, user="root", password="calvin", timeout=s.ipmi_timeout)
    log = Log(quiet=True)
    sink: Any = MemorySink()
    if pushgateway_url:
        job = s.dry_run_job if dry_run else s.push_job
        sink = MultiSink(PushSink(pushgateway_url, job, s.push_instance, 2.0, log) if job else None, [])
    warm_up(bmc)
    return Controller(s, bmc, ha, RealClock(), sink, log, dry_run=dry_run), bmc, log


def warm_up(bmc: IpmiBmc) -> None:
    """Open the session and wait for the file-polled CPUs (they read 0 until the simulator's first poll)."""
    from homeops.fan.ports import BmcError

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            temps = [s.value for s in bmc.sensors() if s.name == "Temp"]
            if len(temps) == 2 and all(temps):
                return
        except BmcError:
            pass
        time.sleep(0.1)
    raise AssertionError("ipmi_sim CPUs never read")


def until(
    ctl: Controller, check: Callable[[Record], bool], *, tries: int = 100, pause: float = 0.05
) -> Record:
    """Iterate until ``check(record)`` (up to ~5 s): the simulator polls its CPU files every ``POLL_MS``."""
    rec = ctl.iteration()
    for _ in range(tries):
        if check(rec):
            return rec
        time.sleep(pause)
        rec = ctl.iteration()
    raise AssertionError(f"condition not reached; last record {rec}")


def lines(log: Log) -> list[str]:
    return [f"{level} {msg}" for level, msg in log.lines]
