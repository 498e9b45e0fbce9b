"""Core: settings of the shared tables ``[metrics]``, ``[iogate]``, ``[telemetry]`` and ``[vault]``."""

from __future__ import annotations

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
    """``[iogate]``: the IO preflight gate shared by immich and nfs."""

    enabled: bool = setting(True, "Check host IO pressure before heavy IO work.")
    proc_root: str = setting("/proc", "Where to read pressure and disk counters (tests point it at fixtures).")
    max_io_pressure: float = setting(20.0, "Refuse when PSI io some avg10 is above this percentage.", min=0, max=100)
    max_await_ms: float = setting(200.0, "Refuse when a disk's await is above this many milliseconds.", min=0)
    devices: list[str] = setting([], "Block devices to watch; empty = all non-virtual disks.")
    sample_seconds: float = setting(1.0, "Seconds between the two counter samples.", min=0.05, max=60)
    host: str = setting("", "Where to read counters: empty = this machine, else the PVE host over SSH.")


@dataclass(frozen=True)
class TelemetrySettings:
    """``[telemetry]``: usage telemetry to Loki; off unless ``loki_url`` is set."""

    loki_url: str = setting("", "Loki push URL; empty = telemetry off.")
    timeout_ms: int = setting(800, "Milliseconds before giving up; never affects the exit code.", min=50, max=5000)


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
