"""Service: the composition root of the registry group — settings + flags → one client and walker per run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeops.errors import UsageError
from homeops.registry import creds as creds_mod
from homeops.registry.settings import Settings

if TYPE_CHECKING:
    from homeops.config import Config
    from homeops.registry.oci import RegistryClient
    from homeops.registry.verify_report import VerifyReport


@dataclass(frozen=True)
class Flags:
    """The connection flags every HTTP subcommand shares."""

    plain_http: bool = False
    insecure: bool = False
    username: str | None = None
    password: str | None = None  # read from stdin by the CLI, never from argv
    concurrency: int | None = None
    timeout: float | None = None


def settings_of(config: Config) -> Settings:
    return config.table("registry", Settings)


# Old CronJob variables → [registry] keys (§4 legacy_env_file); they fill only keys nothing else sets.
LEGACY_KEYS = {
    "REGISTRY_INSTANCE": "probe_instance",
    "PUSHGATEWAY": "probe_pushgateway",
    "TAGS_PER_REPO": "probe_tags",
    "REG_USER": "username",
    "REG_PASS": "password",
    "FORGEJO_OWNER": "retention_owner",
    "KEEP_LAST_N": "retention_keep",
    "FORGEJO_TOKEN": "retention_token",
}


def parse_legacy_env(path: str) -> tuple[dict[str, tuple[str, str]], bool]:
    """The ``[registry]`` keys a legacy ``KEY=VALUE`` file supplies, and whether it says ``DRY_RUN=true``."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115 - tiny file, read once
    except OSError as exc:
        raise UsageError(
            f"legacy_env_file {path} cannot be read: {exc.strerror}", "fix registry.legacy_env_file"
        ) from None
    values: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = (value.strip().strip("'\""), number)
    out: dict[str, tuple[str, str]] = {}
    for key, target in LEGACY_KEYS.items():
        if key in values:
            out[target] = (values[key][0], f"env-file:{path}:{values[key][1]}")
    if "REGISTRY_HOST" in values:
        scheme = values.get("REGISTRY_SCHEME", ("https", 0))[0] or "https"
        out["probe_url"] = (
            f"{scheme}://{values['REGISTRY_HOST'][0]}",
            f"env-file:{path}:{values['REGISTRY_HOST'][1]}",
        )
    if "FORGEJO_HOST" in values:
        host = values["FORGEJO_HOST"][0]
        url = host if "://" in host else f"http://{host}"
        out["retention_url"] = (url, f"env-file:{path}:{values['FORGEJO_HOST'][1]}")
    dry = values.get("DRY_RUN", ("", 0))[0].lower() == "true"
    return out, dry


def load_settings() -> Settings:
    """The ``[registry]`` table; a ``legacy_env_file`` fills keys the file and overrides leave unset."""
    settings, _ = load_settings_and_legacy()
    return settings


def load_settings_and_legacy() -> tuple[Settings, bool]:
    """(settings, legacy ``DRY_RUN=true``)."""
    from homeops.config import load

    first = settings_of(load())
    if not first.legacy_env_file:
        return first, False
    keys, dry = parse_legacy_env(first.legacy_env_file)
    return settings_of(load(legacy={"registry": keys})), dry


def build_client(settings: Settings, host: str, flags: Flags) -> RegistryClient:
    """One client for this run; credentials bound to ``credentials_host`` (default: ``host``)."""
    from homeops.registry.oci import ClientOptions, RegistryClient

    concurrency = flags.concurrency or settings.concurrency
    if not 1 <= concurrency <= 64:
        raise UsageError(f"--concurrency {concurrency} is out of range", "use 1–64")
    cred_host = settings.credentials_host or host
    credentials = creds_mod.resolve(
        cred_host,
        flag_username=flags.username,
        stdin_password=flags.password,
        config_username=settings.username,
        config_password=settings.password,
        docker_config=creds_mod.docker_config_path(settings.docker_config, os.environ),
    )
    if settings.ca_bundle and not os.path.isfile(settings.ca_bundle):
        raise UsageError(f"ca_bundle {settings.ca_bundle} is not a readable file", "fix registry.ca_bundle")
    options = ClientOptions(
        concurrency=concurrency,
        timeout_s=flags.timeout or settings.timeout_s,
        connect_timeout_s=min(settings.connect_timeout_s, flags.timeout or settings.connect_timeout_s),
        retries=settings.retries,
        plain_http_hosts=tuple(settings.plain_http_hosts),
        insecure_hosts=tuple(settings.insecure_hosts),
        ca_bundle=settings.ca_bundle,
        plain_http=flags.plain_http,
        insecure=flags.insecure,
    )
    return RegistryClient(options, credentials)


def verify(
    settings: Settings, refs: Sequence[str], flags: Flags, *, deep: bool, platform: str | None
) -> VerifyReport:
    """Parse every REF first (exit 2 on any bad one), then walk them all in one pool."""
    from homeops.registry.descriptors import parse_platform
    from homeops.registry.ref import parse_reference
    from homeops.registry.verify import Walker
    from homeops.registry.verify_report import VerifyReport

    parsed = [parse_reference(r) for r in refs]
    want = parse_platform(platform) if platform else None
    client = build_client(settings, parsed[0].host, flags)
    with client, Walker(client, deep=deep, concurrency=client.options.concurrency) as walker:
        for ref in parsed:
            walker.prefetch(ref)
        return VerifyReport("deep" if deep else "head", [walker.verify(ref, want) for ref in parsed])
