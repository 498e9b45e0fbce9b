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
    from homeops.registry.verify import VerifyReport


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


def load_settings() -> Settings:
    from homeops.config import load

    return settings_of(load())


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
    from homeops.registry.ref import parse_reference
    from homeops.registry.verify import VerifyReport, Walker, parse_platform

    parsed = [parse_reference(r) for r in refs]
    want = parse_platform(platform) if platform else None
    client = build_client(settings, parsed[0].host, flags)
    with client, Walker(client, deep=deep, concurrency=client.options.concurrency) as walker:
        for ref in parsed:
            walker.prefetch(ref)
        return VerifyReport("deep" if deep else "head", [walker.verify(ref, want) for ref in parsed])
