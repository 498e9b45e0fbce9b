"""Config: the `[fan]` table (spec fan.md §4), with the `[fan.cool]`, `[fan.quiet]` and `[fan.simulate]` tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from homeops.settings import Secret, secret, setting


@dataclass(frozen=True)
class CurveSettings:
    """A linear ramp between two anchors: `t_lo` °C → `p_lo` %, `t_hi` °C → `p_hi` %."""

    t_lo: int = setting(50, "Below or at this temperature (°C) the duty is p_lo.", min=0, max=125)
    p_lo: int = setting(30, "Duty (%) at and below t_lo.", min=0, max=100)
    t_hi: int = setting(83, "At or above this temperature (°C) the duty is p_hi.", min=0, max=125)
    p_hi: int = setting(100, "Duty (%) at and above t_hi.", min=0, max=100)

    def __post_init__(self) -> None:
        if self.t_lo >= self.t_hi:
            raise ValueError(f"t_lo ({self.t_lo}) must be below t_hi ({self.t_hi})")
        if self.p_lo > self.p_hi:
            raise ValueError(f"falling curve: p_lo ({self.p_lo}) is above p_hi ({self.p_hi})")


def _cool() -> CurveSettings:
    return CurveSettings(50, 30, 83, 100)


def _quiet() -> CurveSettings:
    return CurveSettings(68, 20, 83, 100)


@dataclass(frozen=True)
class SimulateSettings:
    """`[fan.simulate]`: constants of the thermal model behind `homeops fan simulate` (spec §3.12)."""

    tau: float = setting(60.0, "Thermal time constant (s).", min=1, max=3600)
    inlet_c: float = setting(21.0, "Inlet air temperature (°C).", min=-10, max=60)
    noise_c: float = setting(0.5, "Standard deviation of the sensor noise (°C).", min=0, max=10)
    cpu2_offset_c: float = setting(3.0, "CPU2 reads this much below CPU1 (°C).", min=-30, max=30)
    flap_window_s: float = setting(300.0, "A reversal within this many seconds counts as a flap.", min=0)
    rpm_base: float = setting(1770.0, "rpm(duty) = rpm_base + rpm_per_pct · duty.", min=0)
    rpm_per_pct: float = setting(151.5, "rpm per duty percent.", min=1)
    eq_a: float = setting(85.35, "Equilibrium: inlet + k·(eq_a − eq_b·ln(rpm/1000)).")
    eq_b: float = setting(18.0, "Equilibrium slope per ln(rpm/1000).")
    k_base: float = setting(0.4, "k(load) = k_base + k_load · load.")
    k_load: float = setting(1.2, "k(load) = k_base + k_load · load.")
    auto_floor_pct: float = setting(35.0, "Dell auto duty below auto_ramp_from_c (%).", min=0, max=100)
    auto_ramp_from_c: float = setting(80.0, "Dell auto ramps up from this temperature (°C).")
    auto_ramp_to_c: float = setting(90.0, "Dell auto reaches 100 % at this temperature (°C).")
    start_cap_c: float = setting(70.0, "Runs start at the 35 % equilibrium, capped at this (°C).")

    def __post_init__(self) -> None:
        if self.auto_ramp_from_c >= self.auto_ramp_to_c:
            raise ValueError("simulate.auto_ramp_from_c must be below simulate.auto_ramp_to_c")


@dataclass(frozen=True)
class Settings:
    """`[fan]` settings: the Dell R730 fan controller."""

    bmc: Literal["local", "lan", "sim", "ipmitool"] = setting(
        "local", "BMC backend: local (/dev/ipmi0), lan (RMCP+), sim (thermal model), ipmitool."
    )
    bmc_host: str = setting("127.0.0.1", "BMC address for bmc = lan.")
    bmc_port: int = setting(623, "BMC UDP port for bmc = lan.", min=1, max=65535)
    bmc_username: str = setting("root", "BMC user for bmc = lan.")
    bmc_password: Secret = secret("BMC password reference for bmc = lan.")
    ipmitool: str = setting("ipmitool", "ipmitool binary for bmc = ipmitool.")
    ipmitool_args: list[str] = setting([], "Extra ipmitool arguments (e.g. -I lanplus -H host …).")
    ipmi_timeout: float = setting(5.0, "Deadline of every IPMI call (s).", min=0.5, max=60)
    allow_non_dell: bool = setting(False, "Send Dell OEM bytes to a BMC of another vendor.")
    source: Literal["curve", "ha-command"] = setting("curve", "Where the duty comes from: the curve or HA.")
    loop_interval: float = setting(15.0, "Seconds between iterations (WARN below 5).", min=0.1, max=3600)
    presence_interval: float = setting(30.0, "Poll the garage door at most this often (s).", min=0)
    deadband: int = setting(
        3, "Hysteresis: a fall is held while curve(T+deadband) ≥ current (°C).", min=0, max=20
    )
    min_step: int = setting(3, "Write only when the duty moves by at least this many %.", min=1, max=100)
    ceiling: int = setting(83, "At or above this CPU temperature: Dell auto (°C).", min=50, max=100)
    resume_below: int = setting(75, "Leave the ceiling only below this temperature (°C).", min=0, max=100)
    resume_stable: float = setting(120.0, "… held for this many seconds.", min=0)
    hold_secs: float = setting(900.0, "QUIET for this long after the garage door changed (s).", min=0)
    max_ipmi_fails: int = setting(
        3, "Dell auto after this many failed reads or writes in a row.", min=1, max=100
    )
    reassert_secs: float = setting(600.0, "Re-send manual mode + duty this often (s); 0 = off.", min=0)
    cpu_sensor_name: str = setting("Temp", "CPU sensor name when the SDR has no entity information.")
    cool: CurveSettings = setting(default_factory=_cool, help="The COOL curve.")
    quiet: CurveSettings = setting(default_factory=_quiet, help="The QUIET curve.")
    ha_url: str = setting("", "Home Assistant base URL; empty (with no token) = HA off.")
    ha_token: Secret = secret("Home Assistant long-lived token reference; empty = HA off.")
    ha_timeout: float = setting(5.0, "Deadline of every HA request (s).", min=0.1, max=60)
    ha_grace_secs: float = setting(
        300.0, "Use a cached HA value this long after the last good read (s).", min=0
    )
    garage_entity: str = setting("sensor.garage_door_state_bg", "Garage door entity.")
    garage_open_state: str = setting("Отворена", "The door entity's state when open (exact match).")
    mode_entity: str = setting("input_select.r730_fan_mode", "Mode helper: auto, cool, quiet, manual.")
    manual_entity: str = setting("input_number.r730_fan_manual_pct", "Manual duty slider.")
    command_entity: str = setting("sensor.r730_fan_command_pct", "HA-computed duty (source = ha-command).")
    stale_secs: float = setting(1800.0, "A command older than this is a miss (s).", min=0)
    pushgateway_url: str = setting("", "Pushgateway base URL; empty = do not push.")
    push_job: str = setting("fan_control", "Pushgateway job.")
    push_instance: str = setting("pve-r730", "Pushgateway instance label.")
    push_timeout: float = setting(5.0, "Deadline of one push (s).", min=0.1, max=120)
    dry_run_job: str = setting("", "Pushgateway job for --dry-run pushes; empty = none.")
    textfile: str = setting("", "node-exporter textfile (.prom) path; empty = off.")
    runtime_dir: str = setting(
        "/run/homeops", "Lock and state file directory (non-root: $XDG_RUNTIME_DIR/homeops)."
    )
    legacy_env_file: str = setting("", "A legacy /etc/fan-control.env to read; --env-file wins.")
    simulate: SimulateSettings = setting(default_factory=SimulateSettings, help="Thermal model constants.")

    def __post_init__(self) -> None:
        if self.resume_below >= self.ceiling:
            raise ValueError(f"resume_below ({self.resume_below}) must be below ceiling ({self.ceiling})")
