"""Core: settings of the shared tables ``[metrics]``, ``[iogate]``, ``[telemetry]`` and ``[vault]``."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from typing import Literal

from homeops.settings import Secret, secret, setting


@dataclass(frozen=True)
class MetricsSettings:
    """``[metrics]``: defaults for every group that pushes or writes metrics."""

    pushgateway_url: str = setting("", "Pushgateway base URL; empty = do not push unless a group sets one.")
    push_timeout: float = setting(5.0, "Seconds for one push.", min=0.1, max=120)
    textfile_dir: str = setting("", "node-exporter textfile collector directory; empty = off.")


@dataclass(frozen=True)
class IogateSettings:
    """``[iogate]``: the IO preflight gate shared by immich and nfs (immich.md §3.5).

    Runs on the PVE host through the ``[nfs]`` connection (locally when ``nfs.host = "local"``); no bypass.
    """

    disk: str = setting("sdc", "Block device whose util is measured (a /proc/diskstats name).")
    max_load1: float = setting(10.0, "Refuse unless the 1-minute loadavg is below this.", min=0)
    max_util_pct: float = setting(50.0, "Refuse unless the disk's util % is below this.", min=0, max=100)
    sample_s: float = setting(5.0, "Seconds between the two /proc/diskstats reads.", min=0.05, max=60)
    backup_unit: str = setting("daily-backup.service", "Refuse while this systemd unit is active/activating.")
    window: str = setting("04:30-08:30", "Refuse inside this local HH:MM-HH:MM window (the backup window).")
    timezone: str = setting("Europe/Sofia", "Time zone of window.")
    prometheus_url: str = setting("", "Also refuse on PVEThinPoolIOSaturated/PVEHostLoadHigh; empty = skip.")
    proc_root: str = setting("/proc", "Where loadavg and diskstats are read (tests point it at fixtures).")

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.disk):
            raise ValueError(f"disk: not a block device name: {self.disk!r}")
        if not self.backup_unit:
            raise ValueError("backup_unit: must name a systemd unit")
        match = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", self.window)
        if (
            match is None
            or any(int(h) > 23 for h in match.group(1, 3))
            or any(int(m) > 59 for m in match.group(2, 4))
        ):
            raise ValueError(f"window: expected HH:MM-HH:MM, got {self.window!r}")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        if self.prometheus_url and not re.match(r"https?://[^/\s]+", self.prometheus_url):
            raise ValueError(f"prometheus_url: expected an http(s) URL, got {self.prometheus_url!r}")


@dataclass(frozen=True)
class TelemetrySettings:
    """``[telemetry]``: usage telemetry to Loki; off unless ``loki_url`` is set."""

    loki_url: str = setting("", "Loki push URL; empty = telemetry off.")
    timeout_ms: int = setting(
        800, "Milliseconds before giving up; never affects the exit code.", min=50, max=5000
    )


@dataclass(frozen=True)
class VaultSettings:
    """``[vault]``: how ``vault:`` and ``vault-read:`` references are resolved (hvac)."""

    addr: str = setting("", "Vault/OpenBao address; empty = $VAULT_ADDR.")
    auth: Literal["token", "approle", "kubernetes"] = setting("token", "How to log in.")
    token: Secret = secret("Token reference; empty = $VAULT_TOKEN, then ~/.vault-token.")
    role_id: str = setting("", "AppRole role_id.")
    secret_id: Secret = secret("AppRole secret_id reference.")
    approle_mount: str = setting("approle", "AppRole auth mount.")
    kubernetes_role: str = setting("", "Kubernetes auth role.")
    kubernetes_mount: str = setting("kubernetes", "Kubernetes auth mount.")
    kubernetes_token_path: str = setting(
        "/var/run/secrets/kubernetes.io/serviceaccount/token", "Service-account token for Kubernetes auth."
    )
    namespace: str = setting("", "Vault namespace, if any.")
    timeout: float = setting(10.0, "Seconds per Vault request.", min=0.1, max=120)
    verify_tls: bool = setting(True, "Verify the Vault server's TLS certificate.")
