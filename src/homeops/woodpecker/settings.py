"""Config: the `[woodpecker]` table (spec woodpecker.md §4)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from homeops.settings import Secret, secret, setting

_URL = re.compile(r"https?://[^/\s]+\S*")
_FORGES = ("github", "forgejo")


@dataclass(frozen=True)
class Settings:
    """`[woodpecker]`: Woodpecker CI server, token minting, repo registration and pipeline watching."""

    url: str = setting("https://ci.viktorbarzin.me", "Woodpecker server URL (also the TLS name and Host).")
    connect_ip: str = setting("10.0.20.203", "IP to dial instead of DNS (like curl --resolve); empty = DNS.")
    legacy_env_file: str = setting("", "KEY=VALUE file; the only place HOMELAB_WP_IP is read.")
    api_token: Secret = secret(
        "API token references, tried in order.",
        default=("env:WOODPECKER_TOKEN", "env:WP_TOKEN", "vault:secret/ci/global#woodpecker_api_token"),
    )
    user_login: str = setting("viktor", "Woodpecker user that tokens are minted for.")
    forge: Literal["forgejo", "github"] = setting("forgejo", "Default forge of register and token mint.")
    forge_ids: dict[str, int] = setting({"github": 1, "forgejo": 2}, "Woodpecker forge id of each forge.")
    forgejo_url: str = setting("https://forgejo.viktorbarzin.me", "Forgejo base URL (repo id lookup).")
    forgejo_token: Secret = secret(
        "Forgejo API token references.",
        default=("env:FORGEJO_TOKEN", "vault:secret/viktor#forgejo_admin_token"),
    )
    github_api: str = setting("https://api.github.com", "GitHub API base URL.")
    github_token: Secret = secret("GitHub token reference.", default=("vault:secret/viktor#github_pat",))
    db_transport: Literal["k8s-exec", "dsn"] = setting(
        "k8s-exec", "k8s-exec: psql in the CNPG primary pod; dsn: connect with db_dsn."
    )
    db_dsn: str = setting(
        "postgresql://pg-cluster-rw.dbaas.svc.cluster.local:5432/woodpecker", "PostgreSQL DSN."
    )
    db_user: Secret = secret(
        "Database user reference (dsn transport).",
        default=("vault-read:database/static-creds/pg-woodpecker#username",),
    )
    db_password: Secret = secret(
        "Database password reference (dsn transport).",
        default=("vault-read:database/static-creds/pg-woodpecker#password",),
    )
    db_exec_namespace: str = setting("dbaas", "Namespace of the PostgreSQL pod (k8s-exec).")
    db_exec_selector: str = setting("cnpg.io/instanceRole=primary", "Label selector of that pod.")
    db_exec_container: str = setting("postgres", "Container psql runs in.")
    db_exec_user: str = setting("postgres", "psql -U user (k8s-exec).")
    db_name: str = setting("woodpecker", "Woodpecker's database name.")
    retry_attempts: int = setting(5, "GET attempts on transport errors, 5xx or an empty 200.", min=1, max=20)
    retry_sleep_s: float = setting(2.0, "Seconds between GET attempts.", min=0, max=60)
    connect_timeout_s: float = setting(8.0, "Connect timeout (s).", min=0.1, max=120)
    request_timeout_s: float = setting(20.0, "Request timeout (s).", min=0.1, max=600)
    watch_interval_s: float = setting(15.0, "ci watch: seconds between polls.", min=0.01, max=3600)
    watch_deadline_s: float = setting(1200.0, "ci watch: give up after this many seconds.", min=0.01)
    infra_repo_id: int = setting(82, "Woodpecker id of the infra repo (doctor).", min=1)

    def __post_init__(self) -> None:
        for key in ("url", "forgejo_url", "github_api"):
            value = getattr(self, key)
            if not _URL.fullmatch(value):
                raise ValueError(f"{key}: expected an http(s) URL, got {value!r}")
        if self.connect_ip:
            try:
                ipaddress.ip_address(self.connect_ip)
            except ValueError:
                raise ValueError(
                    f"connect_ip: expected an IP address or empty, got {self.connect_ip!r}"
                ) from None
        missing = [f for f in _FORGES if f not in self.forge_ids]
        if missing:
            raise ValueError(f"forge_ids: missing {', '.join(missing)}")
        if any(v < 1 for v in self.forge_ids.values()):
            raise ValueError("forge_ids: ids must be at least 1")
        if self.db_transport == "dsn" and not re.match(r"postgres(ql)?://", self.db_dsn):
            raise ValueError("db_dsn: expected postgresql://… when db_transport is dsn")
        if self.watch_interval_s > self.watch_deadline_s:
            raise ValueError("watch_interval_s: must not exceed watch_deadline_s")
