"""Composition root: settings (TOML + overrides + legacy env-file + flags) and the real adapters for them."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeops.errors import ConfigError, Refused, Unreachable, UsageError
from homeops.fan.envfile import EnvFile, parse_env_file
from homeops.fan.ports import Bmc, BmcError, Ha, Sensor
from homeops.fan.settings import Settings

if TYPE_CHECKING:
    from homeops.config import Config
    from homeops.fan.runtime import Log
    from homeops.fan.sinks import MultiSink


@dataclass
class Loaded:
    """The settings in force, the config they came from and the env-file, if any."""

    settings: Settings
    config: Config
    env_file: EnvFile | None


def load(env_file: str | None = None, **flags: Any) -> Loaded:
    """Load ``[fan]`` with the env-file (``--env-file`` or ``legacy_env_file``) and CLI ``flags`` on top."""
    from homeops import config as cfgmod

    cfg = cfgmod.load()
    settings = cfg.table("fan", Settings)
    path = env_file or settings.legacy_env_file
    parsed: EnvFile | None = None
    if path:
        parsed = parse_env_file(path)
        cfg = cfgmod.load(legacy=parsed.legacy())
        settings = cfg.table("fan", Settings)
    real = {k: v for k, v in flags.items() if v is not None}
    if real:
        try:
            settings = replace(settings, **real)
        except ValueError as exc:
            raise ConfigError(f"[fan]: {exc}", "fix the option or the value it clashes with") from None
    return Loaded(settings, cfg, parsed)


def warnings_for(settings: Settings, env: EnvFile | None) -> list[str]:
    """Config that is legal but probably wrong (§4)."""
    out = list(env.warnings) if env else []
    if env and "ipmitool" in env.values and settings.bmc != "ipmitool":
        out.append(f"env-file {env.path}: IPMITOOL is unused with bmc={settings.bmc}")
    if settings.loop_interval < 5:
        out.append(f"loop_interval {settings.loop_interval:g}s is below 5s")
    if settings.ceiling >= 88:
        out.append(f"ceiling {settings.ceiling}C is at or above the firmware warning (88C)")
    for name in ("cool", "quiet"):
        c = getattr(settings, name)
        if c.t_hi > settings.ceiling:
            out.append(f"{name}.t_hi {c.t_hi}C is above the ceiling {settings.ceiling}C")
        if c.p_hi < 100:
            out.append(f"{name}.p_hi is {c.p_hi}% (below 100%)")
    return out


def secret_value(loaded: Loaded, key: str) -> str:
    """Resolve ``fan.<key>`` (empty when not configured)."""
    from homeops import secrets
    from homeops.shared_settings import VaultSettings

    value = getattr(loaded.settings, key)
    if not value:
        return ""
    return secrets.resolve(value, what=f"fan.{key}", vault=loaded.config.table("vault", VaultSettings))


class RealTimeSimBmc:
    """``--bmc sim``: the thermal model advanced by the real monotonic clock."""

    def __init__(self, settings: Settings) -> None:
        from homeops.fan.sim import SimBmc, ThermalModel, load_profile

        self.model = ThermalModel(settings.simulate, load_profile("steady", 60, settings.simulate.inlet_c), 0)
        self.inner = SimBmc(self.model)
        self.start = time.monotonic()

    def _catch_up(self) -> None:
        self.model.advance(time.monotonic() - self.start - self.model.t)

    def sensors(self) -> list[Sensor]:
        self._catch_up()
        return list(self.inner.sensors())

    def manufacturer(self) -> int:
        return 674

    def oem(self, data: Any) -> int:
        self._catch_up()
        return self.inner.oem(data)

    def close(self) -> None:
        return None


def make_bmc(loaded: Loaded) -> Bmc:
    """The BMC adapter for ``settings.bmc``."""
    s = loaded.settings
    if s.bmc == "sim":
        return RealTimeSimBmc(s)
    if s.bmc == "ipmitool":
        raise UsageError("bmc = ipmitool is not built yet", "use --bmc local or --bmc lan")
    from homeops.fan.ipmi import IpmiBmc

    if s.bmc == "local":
        return IpmiBmc(mode="local", timeout=s.ipmi_timeout)
    password = secret_value(loaded, "bmc_password")
    return IpmiBmc(
        mode="lan",
        host=s.bmc_host,
        port=s.bmc_port,
        user=s.bmc_username,
        password=password,
        timeout=s.ipmi_timeout,
    )


def check_vendor(bmc: Bmc, settings: Settings) -> None:
    """Get Device ID before any OEM byte: a non-Dell BMC is refused unless ``allow_non_dell``."""
    try:
        vendor = bmc.manufacturer()
    except BmcError as exc:
        raise Unreachable(
            f"BMC did not answer Get Device ID: {exc}", "check the BMC (fan.bmc, fan.bmc_host)"
        ) from None
    if vendor != 674 and not settings.allow_non_dell:
        raise Refused(
            f"BMC manufacturer is {vendor}, not Dell (674): 0x30 0x30 means something else there",
            "set fan.allow_non_dell = true only if you know this BMC speaks Dell's fan commands",
        )


def make_ha(loaded: Loaded) -> Ha | None:
    """The HA client, or None when no token is set (HA off: mode auto, presence cool)."""
    s = loaded.settings
    token = secret_value(loaded, "ha_token") if s.ha_token else ""
    if not token:
        return None
    if not s.ha_url:
        raise ConfigError("fan.ha_token is set but fan.ha_url is empty", "set fan.ha_url")
    from homeops.fan.hass import HaClient

    return HaClient(s.ha_url, token, s.ha_timeout)


def make_sink(settings: Settings, log: Log, *, dry_run: bool) -> MultiSink:
    """Pushgateway (production job, or ``dry_run_job`` under --dry-run) plus the textfile (never when dry)."""
    from homeops.fan.sinks import MultiSink, PushSink, TextfileSink

    job = settings.dry_run_job if dry_run else settings.push_job
    push = None
    if settings.pushgateway_url and job:
        push = PushSink(settings.pushgateway_url, job, settings.push_instance, settings.push_timeout, log)
    others = [TextfileSink(settings.textfile, log)] if settings.textfile and not dry_run else []
    return MultiSink(push, others)


def sensors_json(sensors: list[Sensor]) -> list[dict[str, Any]]:
    """The ``sensors`` list of ``fan status``."""
    return [
        {
            "name": s.name,
            "id": s.id,
            "entity": s.entity,
            "value": s.value,
            "unit": s.unit,
            "available": s.available,
        }
        for s in sensors
    ]


def age_seconds(iso: str | None, now: datetime) -> float | None:
    """Seconds since an ISO timestamp, or None when it does not parse."""
    if not iso:
        return None
    try:
        return (now - datetime.fromisoformat(iso)).total_seconds()
    except ValueError:
        return None
