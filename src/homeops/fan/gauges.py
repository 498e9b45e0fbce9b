"""Core: the ``pve_fan_control_*`` gauges of one iteration, names and meanings kept from the legacy
(spec fan.md §5). Pure: a record in, gauges out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeops.fan.control import FALLBACK_STATES
from homeops.fan.curve import mode_metric, watts_estimate
from homeops.fan.ports import Gauge
from homeops.fan.readings import rpm_ok

if TYPE_CHECKING:
    from homeops.fan.service import Record

P = "pve_fan_control_"


def gauges(rec: Record, temps: list[tuple[str, float]] | None, source: str) -> list[Gauge]:
    """Every gauge of ``rec``: cpu temps only after a good read, rpm/watts only when the fans read, the
    target only outside the fallback states."""
    out: list[Gauge] = []
    if temps:
        out.append(Gauge(P + "cpu_temp_celsius", "Hottest CPU temperature (°C).", max(v for _, v in temps)))
        help_ = "CPU temperature per sensor (°C)."
        out += [Gauge(P + "cpu_temp_sensor_celsius", help_, v, (("sensor", sid),)) for sid, v in temps]
    rows: list[tuple[str, str, float]] = [
        ("fan_percent", "Last applied fan duty (%); 0 when not in manual control.", rec.applied_percent or 0),
        (
            "mode",
            "1 quiet, 2 cool, 3 manual, 0 fallback.",
            mode_metric(rec.state, rec.effective_mode or "", source),
        ),
        ("ha_reachable", "1 when every HA request of the iteration succeeded.", int(rec.ha_reachable)),
        ("fallback", "1 in any Dell-auto failsafe state.", int(rec.state in FALLBACK_STATES)),
    ]
    if rpm_ok(rec.fan_rpm):
        assert rec.fan_rpm is not None
        rows.append(("fan_rpm", "Mean fan speed (rpm).", rec.fan_rpm))
        rows.append(("fan_watts_est", "Estimated fan power (W), cube law.", watts_estimate(rec.fan_rpm)))
    if rec.target_percent is not None:
        rows.append(("target_percent", "The duty the controller wants (%).", rec.target_percent))
    rows += [
        ("ceiling", "1 while in the temperature ceiling (Dell auto).", int(rec.state == "ceiling")),
        ("ipmi_read_failures", "Consecutive failed CPU temperature reads.", rec.read_fails),
        ("ipmi_write_failures", "Consecutive failed fan writes.", rec.write_fails),
    ]
    return out + [Gauge(P + name, text, value) for name, text, value in rows]
