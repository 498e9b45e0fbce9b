"""Config: the `[registry]` table (specs/registry.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from homeops.settings import Secret, secret, setting


@dataclass(frozen=True)
class Settings:
    """`[registry]` settings."""

    concurrency: int = setting(8, "Parallel requests in one keep-alive pool.", min=1, max=64)
    timeout_s: float = setting(
        30.0, "Read, write and pool timeout in seconds (inactivity for streamed blobs).", min=0.1
    )
    connect_timeout_s: float = setting(5.0, "Connect timeout in seconds.", min=0.1)
    retries: int = setting(3, "Retries on connection errors, 408, 429 and 5xx.", min=0, max=10)
    plain_http_hosts: list[str] = setting([], "Non-loopback hosts that may be spoken to over plain HTTP.")
    insecure_hosts: list[str] = setting([], "Hosts whose TLS certificate is not verified (warned once).")
    ca_bundle: str = setting("", "PEM file with an extra trust anchor.")
    docker_config: str = setting(
        "", "Docker config.json; default $DOCKER_CONFIG/config.json, else ~/.docker/config.json."
    )
    credentials_host: str = setting(
        "", "The one host credentials are sent to; default the host of the URL or first REF."
    )
    username: str = setting("", "Registry user name.")
    password: Secret = secret("Registry password reference.")
    probe_url: str = setting("", "Registry the probe walks, e.g. http://forgejo.forgejo.svc.cluster.local.")
    probe_repos: list[str] = setting(["*"], "fnmatch globs of repositories the probe checks.")
    probe_tags: int = setting(5, "Newest tags per repository the probe checks; 0 = all.", min=0)
    probe_order: Literal["created", "name"] = setting("created", "How the probe ranks tags.")
    probe_deep: bool = setting(False, "Download and re-hash every blob in the probe.")
    probe_pushgateway: str = setting("", "Pushgateway base URL for the probe's gauges.")
    probe_job: str = setting("registry-integrity-probe", "Pushgateway job of the probe.")
    probe_instance: str = setting("", "instance label; default host[:port] of probe_url.")
    probe_textfile: str = setting("", "node-exporter textfile the probe also writes.")
    probe_deadline_s: float = setting(600.0, "Seconds before the probe stops walking tags.", min=1)
    probe_allow_empty: bool = setting(False, "An empty catalog counts as accessible.")
    scan_root: str = setting("/opt/registry/data", "Default ROOT of `registry scan`.")
    scan_cache_registries: list[str] = setting([], "Registry names under ROOT that are pull-through caches.")
    scan_stale_upload_hours: float = setting(24.0, "Uploads older than this are reported as stale.", min=0)
    retention_backend: Literal["forgejo", "distribution"] = setting("forgejo", "Where retention deletes.")
    retention_url: str = setting("", "Registry or Forgejo base URL for retention.")
    retention_owner: str = setting("", "Forgejo package owner.")
    retention_token: Secret = secret("Forgejo write:package token reference.")
    retention_repos: list[str] = setting(["*"], "fnmatch globs of repositories retention looks at.")
    retention_keep: int = setting(10, "Newest unprotected tags kept per repository.", min=1)
    retention_protect: list[str] = setting(["latest"], "Tags never deleted.")
    retention_protect_regex: list[str] = setting(["(?i)cache"], "Unanchored regexes of tags never deleted.")
    retention_max_deletes: int = setting(200, "Refuse a plan with more deletions than this.", min=0)
    retention_enabled: bool = setting(False, "False: the scheduled job only plans.")
    retention_gc_binary: str = setting(
        "registry", "distribution binary for `retention gc` (Debian: docker-registry)."
    )
    breakglass_dir: str = setting("", "Where break-glass tarballs are written.")
    breakglass_keep: int = setting(5, "Tarballs kept per name.", min=1)
    breakglass_tool: Literal["auto", "docker", "skopeo"] = setting(
        "auto", "Tool that pulls and saves the image."
    )
    breakglass_platform: str = setting("linux/amd64", "Platform saved in the tarball.")
    legacy_env_file: str = setting("", "KEY=VALUE file with the old CronJob variables (migration).")
