"""The controller against Debian's ipmi_sim (R730 sensors, the Dell OEM plugin), the HA stand-in and a real
pushgateway (spec fan.md §8). The plugin's recorded state is what the fans would do."""

from __future__ import annotations

import pytest

from homeops.fan.daemon import run_loop
from homeops.fan.runtime import RealClock
from tests.integration.fan.conftest import controller, lines, until

NO_READING = "sensor_set_event_support 0x20 0 0x0f 0 0 none " + " ".join(["000000000000000"] * 4)
MODE, MANUAL, DOOR = (
    "input_select.r730_fan_mode",
    "input_number.r730_fan_manual_pct",
    "sensor.garage_door_state_bg",
)


def test_first_loop_rise_hold_fall_ceiling_and_resume(ipmi_sim, pushgateway) -> None:  # type: ignore[no-untyped-def]
    ctl, bmc, log = controller(
        ipmi_sim, pushgateway_url=pushgateway.url, resume_stable=1.0, push_instance="it-main"
    )
    try:
        rec = ctl.iteration()
        assert ipmi_sim.commands() == ["0x01 0x00", "0x02 0xff 0x33"]
        assert ipmi_sim.fanstate() == "manual 51" and rec.applied_percent == 51
        text = pushgateway.metrics_text()
        assert 'pve_fan_control_fan_percent{instance="it-main",job="fan_control"} 51' in text
        assert 'pve_fan_control_cpu_temp_celsius{instance="it-main",job="fan_control"} 60' in text
        ipmi_sim.set_cpu(2, 71)  # the hotter CPU2 drives the fans
        until(ctl, lambda r: r.temp_c == 71)
        assert ipmi_sim.commands()[-1] == "0x02 0xff 0x4b"
        ipmi_sim.set_cpu(2, 69)  # curve(69)=70 < 75 ≤ curve(72)=77: held
        until(ctl, lambda r: r.temp_c == 69)
        assert ipmi_sim.fanstate() == "manual 75"
        ipmi_sim.set_cpu(2, 67)  # curve(70)=72 < 75: drops all the way to curve(67)=66
        until(ctl, lambda r: r.temp_c == 67)
        assert ipmi_sim.fanstate() == "manual 66"
        ipmi_sim.set_cpu(2, 60)  # from here CPU1 alone decides
        ipmi_sim.set_cpu(1, 84)
        rec = until(ctl, lambda r: r.state == "ceiling")
        assert ipmi_sim.commands()[-1] == "0x01 0x01" and ipmi_sim.fanstate().startswith("auto")
        assert (
            'pve_fan_control_fallback{instance="it-main",job="fan_control"} 1' in pushgateway.metrics_text()
        )
        ipmi_sim.set_cpu(1, 60)
        until(ctl, lambda r: r.state == "control", tries=160)
        assert ipmi_sim.commands()[-2:] == ["0x01 0x00", "0x02 0xff 0x33"]
        assert ipmi_sim.commands().count("0x01 0x01") == 1
        assert any("recovered" in line for line in lines(log))
    finally:
        bmc.close()


def test_three_failed_reads_hand_back_then_resume(ipmi_sim) -> None:  # type: ignore[no-untyped-def]
    ctl, bmc, log = controller(ipmi_sim)
    try:
        ctl.iteration()
        ipmi_sim.console(NO_READING)  # CPU2 "No Reading": the missing CPU may be the hot one
        rec = until(ctl, lambda r: r.read_fails >= 3)
        assert rec.state == "ipmi_fallback" and ipmi_sim.fanstate().startswith("auto")
        assert any("(1/3)" in x for x in lines(log)) and any("ERR temp unreadable" in x for x in lines(log))
        ipmi_sim.console(NO_READING.replace(" 0 0 none", " 0 1 none"))
        rec = until(ctl, lambda r: r.state == "control")
        assert ipmi_sim.fanstate() == "manual 51"
        # An exception in the loop: the way out still hands back to Dell auto.
        calls = iter([False, False])

        def stop() -> bool:
            try:
                return next(calls)
            except StopIteration:
                raise RuntimeError("boom") from None

        with pytest.raises(RuntimeError):
            run_loop(ctl, RealClock(), interval=0.1, stop=stop)
        assert ipmi_sim.commands()[-1] == "0x01 0x01" and ipmi_sim.fanstate().startswith("auto")
    finally:
        bmc.close()


def test_firmware_lock_out_is_unsupported(ipmi_sim) -> None:  # type: ignore[no-untyped-def]
    ipmi_sim.fault("d4")
    ctl, bmc, log = controller(ipmi_sim)
    try:
        rec = until(ctl, lambda r: r.state != "control" or r.read_fails == 0)
        assert rec.state == "unsupported", lines(log)
        sent = len(ipmi_sim.commands())
        ctl.iteration()
        assert len(ipmi_sim.commands()) == sent
    finally:
        bmc.close()


def test_dry_run_writes_nothing_and_pushes_no_production(ipmi_sim, pushgateway) -> None:  # type: ignore[no-untyped-def]
    ctl, bmc, log = controller(
        ipmi_sim, pushgateway_url=pushgateway.url, dry_run=True, push_instance="it-dry"
    )
    try:
        rec = ctl.iteration()
        assert rec.applied_percent == 51 and ipmi_sim.commands() == []
        assert "INFO DRY set fan 51% (0x33)" in lines(log)
        assert 'instance="it-dry"' not in pushgateway.metrics_text()
    finally:
        bmc.close()


def test_home_assistant_door_outage_and_manual(ipmi_sim, home_assistant) -> None:  # type: ignore[no-untyped-def]
    from homeops.fan.hass import HaClient

    ha = HaClient(home_assistant.url, home_assistant.token, 0.5)
    home_assistant.set(MODE, "auto")
    home_assistant.set(DOOR, "Отворена")
    ipmi_sim.set_cpu(1, 70)
    ctl, bmc, _log = controller(ipmi_sim, ha=ha)
    try:
        rec = until(ctl, lambda r: r.temp_c == 70)
        assert rec.effective_mode == "quiet" and ipmi_sim.fanstate() == "manual 31" and rec.ha_reachable
        home_assistant.server.forced = None
        home_assistant.fault(DOOR, status=500)
        home_assistant.fault(MODE, delay=1.0)  # beyond the 0.5 s deadline: a hang
        rec = ctl.iteration()
        assert rec.effective_mode == "quiet" and not rec.ha_reachable  # the last good decision
        assert ipmi_sim.fanstate() == "manual 31"
        home_assistant.heal()
        home_assistant.set(MODE, "manual")
        home_assistant.set(MANUAL, "404")
        rec = ctl.iteration()
        assert ipmi_sim.fanstate() == "manual 100"
        home_assistant.fault(MANUAL, body=b"<html>garbage")
        ctl.inputs.cfg = type(ctl.inputs.cfg)(**{**ctl.inputs.cfg.__dict__, "grace": 0.0})
        for _ in range(3):
            ctl.iteration()
        assert "0x02 0xff 0x00" not in ipmi_sim.commands()
        assert ipmi_sim.fanstate() == "manual 72"  # the COOL curve at 70 °C, never 0 %
    finally:
        bmc.close()
        ha.close()
