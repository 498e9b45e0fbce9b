"""`[fan]` settings, the legacy env-file and the unit text."""

from __future__ import annotations

import dataclasses
import os

import pytest

from homeops import config
from homeops.errors import ConfigError
from homeops.fan.envfile import parse_env_file
from homeops.fan.settings import CurveSettings, Settings
from homeops.fan.unit import render_unit, watchdog_sec


def test_defaults_match_spec() -> None:
    s = Settings()
    assert (s.loop_interval, s.presence_interval, s.deadband, s.min_step) == (15, 30, 3, 3)
    assert (s.ceiling, s.resume_below, s.resume_stable, s.hold_secs, s.max_ipmi_fails) == (
        83,
        75,
        120,
        900,
        3,
    )
    assert (s.cool, s.quiet) == (CurveSettings(50, 30, 83, 100), CurveSettings(68, 20, 83, 100))
    assert s.push_job == "fan_control" and s.push_instance == "pve-r730" and s.stale_secs == 1800
    assert s.garage_open_state == "Отворена" and s.ipmi_timeout == 5.0 and s.reassert_secs == 600


def test_falling_curve_and_resume_rejected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="falling"):
        CurveSettings(50, 90, 83, 30)
    with pytest.raises(ValueError, match="resume_below"):
        dataclasses.replace(Settings(), resume_below=83)
    path = tmp_path / "c.toml"
    path.write_text("[fan]\nmin_step = 0\n")
    with pytest.raises(ConfigError, match="min_step"):
        config.load(path, env={})


def test_env_file_maps_legacy_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "fan-control.env"
    path.write_text(
        '# legacy\nMIN_STEP=5\nHA_TOKEN="abc"\nCOOL_T_LO=45\nDRY_RUN=1\nBOGUS=1\nLOOP_INTERVAL=\n'
    )
    os.chmod(path, 0o644)
    env = parse_env_file(str(path))
    assert env.dry_run and env.values["min_step"][0] == "5" and env.values["cool.t_lo"][0] == "45"
    assert "loop_interval" not in env.values and env.values["ha_url"][0] == "http://192.168.1.8:8123"
    assert any("BOGUS" in w for w in env.warnings) and any("readable by group" in w for w in env.warnings)
    loaded = config.load(None, env={"HOMEOPS_FAN__MIN_STEP": "7", "HOME": str(tmp_path)}, legacy=env.legacy())
    s = loaded.table("fan", Settings)
    assert s.min_step == 7 and s.cool.t_lo == 45 and s.ha_token.legacy_value == "abc"
    assert loaded.source("fan.cool.t_lo").startswith(f"env-file:{path}:")


def test_unit_defaults() -> None:
    text = render_unit(Settings(), exec_path="/usr/bin/homeops", ipmitool_path="/usr/bin/ipmitool")
    assert watchdog_sec(Settings()) == 130
    for line in (
        "Type=notify",
        "ExecStart=/usr/bin/homeops fan run --bmc local",
        "ExecStopPost=/usr/bin/homeops fan auto --bmc local",
        "ExecStopPost=-/usr/bin/ipmitool raw 0x30 0x30 0x01 0x01",
        "WatchdogSec=130",
        "DeviceAllow=char-ipmidev rw",
        "CapabilityBoundingSet=",
        "RuntimeDirectory=homeops",
    ):
        assert line in text.splitlines()
    assert "PrivateDevices" not in text
    bare = render_unit(
        Settings(), exec_path="/x", hardening=False, watchdog=False, env_file="/etc/fan-control.env"
    )
    assert "Type=simple" in bare and "WatchdogSec" not in bare and "ProtectSystem" not in bare
    assert "ExecStart=/x fan run --bmc local --env-file /etc/fan-control.env" in bare
