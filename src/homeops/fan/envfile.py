"""Adapter: the legacy ``/etc/fan-control.env`` (systemd EnvironmentFile syntax) mapped onto ``[fan]`` keys,
ranked below the TOML file and ``HOMEOPS_FAN__*`` (spec fan.md §4). Never reads the process environment.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from homeops.errors import UsageError

LEGACY_HA_URL = "http://192.168.1.8:8123"
NAMES: dict[str, str] = {
    "LOOP_INTERVAL": "loop_interval",
    "PRESENCE_INTERVAL": "presence_interval",
    "DEADBAND": "deadband",
    "MIN_STEP": "min_step",
    "CEILING": "ceiling",
    "RESUME_BELOW": "resume_below",
    "RESUME_STABLE": "resume_stable",
    "HOLD_SECS": "hold_secs",
    "MAX_IPMI_FAILS": "max_ipmi_fails",
    "HA_URL": "ha_url",
    "HA_TOKEN": "ha_token",
    "HA_GRACE_SECS": "ha_grace_secs",
    "GARAGE_ENTITY": "garage_entity",
    "GARAGE_OPEN_STATE": "garage_open_state",
    "MODE_ENTITY": "mode_entity",
    "MANUAL_ENTITY": "manual_entity",
    "COMMAND_ENTITY": "command_entity",
    "STALE_SECS": "stale_secs",
    "PUSHGATEWAY_URL": "pushgateway_url",
    "IPMITOOL": "ipmitool",
}
for _curve in ("COOL", "QUIET"):
    for _key in ("T_LO", "P_LO", "T_HI", "P_HI"):
        NAMES[f"{_curve}_{_key}"] = f"{_curve.lower()}.{_key.lower()}"
FLAGS = ("DRY_RUN", "RUN_ONCE")


@dataclass
class EnvFile:
    """What a legacy env-file said: ``[fan]`` values with their sources, the two flags and warnings."""

    path: str
    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    dry_run: bool = False
    run_once: bool = False
    warnings: list[str] = field(default_factory=list)

    def legacy(self) -> dict[str, dict[str, tuple[str, str]]]:
        """The ``legacy=`` argument of ``homeops.config.load``."""
        return {"fan": dict(self.values)}


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_env_file(path: str) -> EnvFile:
    """Parse ``KEY=VALUE`` lines (``#`` comments, quotes stripped, no expansion; empty = unset)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UsageError(
            f"env-file {path} cannot be read: {exc.strerror}", "check the path and permissions"
        ) from None
    out = EnvFile(path)
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        out.warnings.append(
            f"env-file {path} is readable by group or other (it holds the HA token): chmod 600 it"
        )
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name:
            out.warnings.append(f"env-file {path}:{number}: not KEY=VALUE, ignored")
            continue
        value = _unquote(value)
        if value == "":
            continue
        if name in FLAGS:
            on = value.strip().lower() in ("1", "true", "yes", "on")
            if name == "DRY_RUN":
                out.dry_run = on
            else:
                out.run_once = on
            continue
        key = NAMES.get(name)
        if key is None:
            out.warnings.append(f"env-file {path}:{number}: unknown name {name}, ignored")
            continue
        out.values[key] = (value, f"env-file:{path}:{number}")
    if "ha_url" not in out.values:
        out.values["ha_url"] = (LEGACY_HA_URL, f"env-file:{path} (legacy default)")
    return out
