"""Doctor: ``registry-catalog`` — ``GET /v2/`` then ``_catalog?n=1`` on ``probe_url`` with the configured
credentials (specs/registry.md §3.8). Read-only; pushes nothing."""

from __future__ import annotations

from homeops.config import Config
from homeops.doctor import Check, GroupReport
from homeops.errors import HomeopsError
from homeops.registry.settings import Settings

NAME = "registry-catalog"


def checks(config: Config) -> GroupReport:
    """``ok`` when both answer 200; ``fail`` on rejected credentials or not a registry; ``unknown`` otherwise."""
    settings = config.table("registry", Settings)
    if not settings.probe_url:
        return GroupReport("registry", ())
    from dataclasses import replace

    from homeops.registry.oci import RequestFailed
    from homeops.registry.ref import parse_registry_url
    from homeops.registry.service import Flags, build_client

    try:
        url = parse_registry_url(settings.probe_url)
        client = build_client(
            replace(settings, retries=min(settings.retries, 1)), url.host, Flags(plain_http=url.plain_http)
        )
    except HomeopsError as exc:
        return GroupReport("registry", (Check(NAME, "fail", exc.line()),))
    try:
        with client:
            mode = client.ping(url.host)
            with client.request(url.host, "GET", "/v2/_catalog?n=1", scope="registry:catalog:*") as resp:
                status = resp.status_code
    except RequestFailed as exc:
        if exc.kind in ("auth", "not_registry"):
            return GroupReport("registry", (Check(NAME, "fail", exc.detail),))
        return GroupReport("registry", (Check(NAME, "unknown", exc.detail),))
    if status == 200:
        return GroupReport("registry", (Check(NAME, "ok", f"{url.host}: catalog readable ({mode})"),))
    detail = f"{url.host}: GET /v2/_catalog → {status}"
    return GroupReport("registry", (Check(NAME, "unknown" if status >= 500 else "fail", detail),))
