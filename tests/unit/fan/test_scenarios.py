"""The loop-level scenarios of spec fan.md §3.11 on FakeBmc, FakeHa and FakeClock (COOL, DEADBAND 3, MIN_STEP 3)."""

from __future__ import annotations

import dataclasses

import pytest

from homeops.fan.daemon import run_loop
from homeops.fan.runtime import Log
from homeops.fan.service import Controller
from homeops.fan.settings import Settings
from homeops.fan.sinks import MemorySink
from tests.unit.fan.fakes import FakeBmc, FakeClock, FakeHa

MODE, MANUAL, DOOR = (
    "input_select.r730_fan_mode",
    "input_number.r730_fan_manual_pct",
    "sensor.garage_door_state_bg",
)


def make(cpu1: float = 60, *, ha: bool = False, dry_run: bool = False, **over: object):
    settings = dataclasses.replace(Settings(), **over)  # type: ignore[arg-type]
    clock = FakeClock()
    bmc = FakeBmc(cpu1)
    fake_ha = FakeHa(clock) if ha else None
    sink = MemorySink()
    log = Log(quiet=True)
    ctl = Controller(settings, bmc, fake_ha, clock, sink, log, dry_run=dry_run)
    return ctl, bmc, clock, fake_ha, sink, log


def gauges(sink: MemorySink) -> dict[str, float]:
    return {g.name.removeprefix("pve_fan_control_"): g.value for g in sink.last if not g.labels}


def logged(log: Log) -> list[str]:
    return [f"{lvl} {msg}" for lvl, msg in log.lines]


def test_1_first_loop_enables_and_writes() -> None:
    ctl, bmc, *_ = make(60)
    ctl.iteration()
    assert bmc.sent == ["0x01 0x00", "0x02 0xff 0x33"]


def test_2_3_min_step_gate() -> None:
    ctl, bmc, _clock, *_ = make(60)
    ctl.iteration()
    bmc.cpus[0] = 61
    ctl.iteration()
    assert bmc.sent[2:] == []
    bmc.cpus[0] = 62
    ctl.iteration()
    assert bmc.sent[2:] == ["0x02 0xff 0x37"]


def test_4_5_hold_then_release() -> None:
    ctl, bmc, *_ = make(62)
    ctl.iteration()
    for t in (60, 59):
        bmc.cpus[0] = t
        ctl.iteration()
    assert bmc.duty == 55
    bmc.cpus[0] = 58
    ctl.iteration()
    assert bmc.sent[-1] == "0x02 0xff 0x2f"


def test_6_7_8_ceiling_hold_and_resume() -> None:
    ctl, bmc, clock, _, sink, log = make(60)
    ctl.iteration()
    bmc.cpus[0] = 84
    rec = ctl.iteration()
    assert rec.state == "ceiling" and bmc.sent[-1] == "0x01 0x01" and not bmc.manual
    assert (
        gauges(sink)["fallback"] == 1
        and gauges(sink)["fan_percent"] == 0
        and "target_percent" not in gauges(sink)
    )
    bmc.cpus[0] = 74
    clock.t += 15
    ctl.iteration()
    bmc.cpus[0] = 80  # 75–82: stays in Dell auto, timer cleared
    clock.t += 100
    ctl.iteration()
    assert ctl.fs.resume_since is None and bmc.sent.count("0x01 0x01") == 1
    bmc.cpus[0] = 70
    for _ in range(9):
        clock.t += 15
        rec = ctl.iteration()
    assert rec.state == "control" and bmc.manual
    assert bmc.sent[-2:] == ["0x01 0x00", "0x02 0xff 0x48"]
    assert any("recovered (temp<75C 120s)" in line for line in logged(log))


def test_9_three_failed_reads() -> None:
    ctl, bmc, _, _, sink, log = make(60)
    ctl.iteration()
    bmc.read_fail = True
    for _ in range(4):
        ctl.iteration()
        assert "cpu_temp_celsius" not in gauges(sink)  # pushed, without the temperature
    lines = logged(log)
    assert any("(1/3)" in line for line in lines) and any("(2/3)" in line for line in lines)
    assert any(line.startswith("ERR temp unreadable — Dell auto") for line in lines)
    assert bmc.sent.count("0x01 0x01") == 2  # third and fourth failure
    bmc.read_fail = False
    rec = ctl.iteration()
    assert rec.state == "control" and bmc.sent[-2:] == ["0x01 0x00", "0x02 0xff 0x33"]


def test_10_presence_outage_keeps_quiet_within_grace() -> None:
    ctl, _bmc, clock, ha, sink, _ = make(70, ha=True)
    assert ha is not None
    ha.set(MODE, "auto")
    ha.set(DOOR, "Отворена")
    rec = ctl.iteration()
    assert rec.applied_percent == 31 and rec.effective_mode == "quiet"
    ha.down.add(DOOR)
    clock.t += 200
    rec = ctl.iteration()
    assert rec.effective_mode == "quiet" and not rec.ha_reachable
    assert gauges(sink)["ha_reachable"] == 0
    clock.t += 150  # observation now 350 s old > grace 300
    rec = ctl.iteration()
    assert rec.effective_mode == "cool" and rec.applied_percent == 72


def test_11_manual_mode_no_hysteresis() -> None:
    ctl, bmc, _, ha, *_ = make(80, ha=True)
    assert ha is not None
    ha.set(MODE, "manual")
    ha.set(MANUAL, "42.0")
    ctl.iteration()
    assert bmc.sent[-1] == "0x02 0xff 0x2a"


def test_12_manual_read_failure_never_zero() -> None:
    ctl, bmc, clock, ha, _, log = make(60, ha=True)
    assert ha is not None
    ha.set(MODE, "manual")
    ha.set(MANUAL, "30")
    ctl.iteration()
    ha.down.add(MANUAL)
    clock.t += 100
    ctl.iteration()
    assert bmc.duty == 30  # cached within grace
    clock.t += 300
    ctl.iteration()
    assert bmc.duty == 51 and "0x02 0xff 0x00" not in bmc.sent
    assert "WARN manual % unreadable — using cool curve" in logged(log)


def test_13_stop_restores() -> None:
    ctl, bmc, clock, *_ = make(60)
    calls = iter([False, False, True])
    out = run_loop(ctl, clock, interval=15, stop=lambda: next(calls))
    assert out.restored and bmc.sent[-1] == "0x01 0x01" and not bmc.manual


@pytest.mark.parametrize(("restore", "last"), [(True, "0x01 0x01"), (False, "0x02 0xff 0x33")])
def test_14_once(restore: bool, last: str) -> None:
    ctl, bmc, clock, *_ = make(60)
    run_loop(ctl, clock, interval=15, once=True, restore=restore)
    assert bmc.sent[-1] == last


def test_exception_in_loop_restores() -> None:
    ctl, bmc, clock, *_ = make(60)

    class Boom(Exception):
        pass

    calls = iter([False, False])

    def stop() -> bool:
        try:
            return next(calls)
        except StopIteration:
            raise Boom from None

    with pytest.raises(Boom):
        run_loop(ctl, clock, interval=15, stop=stop)
    assert bmc.sent[-1] == "0x01 0x01" and not bmc.manual


def test_15_16_17_cpus() -> None:
    ctl, bmc, *_ = make(60)
    bmc.cpus = [60, 71]
    ctl.iteration()
    assert bmc.duty == 75
    ctl2, bmc2, *_ = make(74.5)
    ctl2.iteration()
    assert bmc2.duty == 83
    ctl3, bmc3, *_ = make(60)
    bmc3.cpus = [60, None]
    rec = ctl3.iteration()
    assert rec.read_fails == 1 and bmc3.sent == []


def test_19_write_failures_hand_back() -> None:
    ctl, bmc, _, _, _, log = make(60)
    ctl.iteration()
    bmc.codes[(0x02,)] = 0xC0
    for t in (70, 75, 80):
        bmc.cpus[0] = t
        ctl.iteration()
    lines = logged(log)
    assert sum("set_manual" in line and "failed" in line for line in lines) == 3
    assert "ERR fan writes failing — Dell auto" in lines and bmc.sent[-1] == "0x01 0x01"


def test_20_lock_out_is_unsupported() -> None:
    ctl, bmc, *_ = make(60)
    bmc.codes[(0x01, 0x00)] = 0xD4
    rec = ctl.iteration()
    assert rec.state == "unsupported"
    n = len(bmc.sent)
    for _ in range(3):
        ctl.iteration()
    assert len(bmc.sent) == n  # no more writes


def test_21_dry_run_sends_nothing() -> None:
    ctl, bmc, _, _, _, log = make(60, dry_run=True)
    rec = ctl.iteration()
    assert bmc.sent == [] and rec.applied_percent == 51
    assert "INFO DRY set fan 51% (0x33)" in logged(log)


def test_22_mode_miss_keeps_cached_mode() -> None:
    ctl, _bmc, clock, ha, *_ = make(60, ha=True)
    assert ha is not None
    ha.set(MODE, "quiet")
    ctl.iteration()
    ha.down.add(MODE)
    clock.t += 60
    rec = ctl.iteration()
    assert rec.effective_mode == "quiet"


def test_23_reassert_after_third_party() -> None:
    ctl, bmc, clock, *_ = make(60)
    ctl.iteration()
    bmc.oem([0x01, 0x01])  # someone ran `fan auto`
    for _ in range(41):
        clock.t += 15
        ctl.iteration()
    assert bmc.manual and bmc.sent[-2:] == ["0x01 0x00", "0x02 0xff 0x33"]


def test_presence_polled_at_most_every_interval() -> None:
    ctl, _bmc, clock, ha, *_ = make(60, ha=True)
    assert ha is not None
    ha.set(MODE, "auto")
    ha.set(DOOR, "Затворена")
    for _ in range(4):
        ctl.iteration()
        clock.t += 15
    assert ha.gets.count(DOOR) == 2


def test_ha_command_hold_then_lost_then_back() -> None:
    ctl, bmc, clock, ha, sink, log = make(60, ha=True, source="ha-command")
    assert ha is not None
    ent = "sensor.r730_fan_command_pct"
    ha.set(ent, "55.5", ago=10)
    ctl.iteration()
    assert bmc.duty == 55
    ha.down.add(ent)
    clock.t += 100
    rec = ctl.iteration()
    assert rec.state == "control" and bmc.manual and gauges(sink)["fan_percent"] == 55
    clock.t += 300
    rec = ctl.iteration()
    assert rec.state == "ha_lost" and not bmc.manual
    ha.down.clear()
    ha.set(ent, "60", ago=1)
    rec = ctl.iteration()
    assert rec.state == "control" and bmc.duty == 60
    assert any("HA command back (60%)" in line for line in logged(log))


def test_ha_reachable_truthful_without_token() -> None:
    ctl, _, _, _, sink, _ = make(60)
    ctl.iteration()
    assert gauges(sink)["ha_reachable"] == 0 and gauges(sink)["mode"] == 2
