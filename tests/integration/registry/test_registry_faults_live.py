"""Integration: a fault-injecting reverse proxy in front of the real registry — 503 twice then pass, 429 with
``Retry-After: 1``, a connection reset mid-body (registry.md §8 "Transport faults")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from homeops.registry.oci import ClientOptions, RegistryClient
from homeops.registry.ref import parse_reference
from homeops.registry.verify import Walker
from tests.services.registry import FaultProxy, FixtureImage, Pusher, RegistryServer, push_image


@pytest.fixture
def proxied(registry: RegistryServer) -> Iterator[tuple[FaultProxy, FixtureImage]]:
    p = Pusher(registry)
    image = push_image(p, "faults/app", salt="faults")
    p.close()
    proxy = FaultProxy(registry.base)
    try:
        yield proxy, image
    finally:
        proxy.stop()


def verify(host: str, ref: str, deep: bool = False, retries: int = 3) -> Any:
    sleeps: list[float] = []

    sleep = sleeps.append  # the delays chosen are recorded; waiting them out adds nothing to the test

    with (
        RegistryClient(ClientOptions(retries=retries), None, sleep=sleep) as client,
        Walker(client, deep=deep, concurrency=4) as w,
    ):
        result = w.verify(parse_reference(f"{host}/{ref}"))
    return result, sleeps


def test_503_twice_then_pass(proxied: tuple[FaultProxy, FixtureImage]) -> None:
    proxy, image = proxied
    proxy.plan = {f"/manifests/{image.children['linux/amd64']}": ["503", "503"]}
    result, sleeps = verify(proxy.host, image.ref)
    assert result.ok, result.problems
    assert len(sleeps) == 2 and all(0.25 <= s <= 1.5 for s in sleeps)


def test_503_every_time_is_server_error(proxied: tuple[FaultProxy, FixtureImage]) -> None:
    proxy, image = proxied
    proxy.plan = {f"/manifests/{image.children['linux/arm64']}": ["503"] * 10}
    result, _ = verify(proxy.host, image.ref, retries=2)
    (problem,) = result.problems
    assert problem.kind == "server_error" and "503" in problem.detail and "UNAVAILABLE" in problem.detail


def test_429_retry_after(proxied: tuple[FaultProxy, FixtureImage]) -> None:
    proxy, image = proxied
    proxy.plan = {"/manifests/latest": ["429"]}
    result, sleeps = verify(proxy.host, image.ref)
    assert result.ok and sleeps == [1.0]


def test_reset_mid_body_is_retried_or_truncated(proxied: tuple[FaultProxy, FixtureImage]) -> None:
    proxy, image = proxied
    layer = image.layers["amd64"]
    proxy.plan = {f"/blobs/{layer}": ["reset"]}
    result, _ = verify(proxy.host, image.ref, deep=True)
    assert result.ok, result.problems  # cut once, retried, then whole
    proxy.plan = {f"/blobs/{layer}": ["reset"] * 10}
    result, _ = verify(proxy.host, image.ref, deep=True, retries=2)
    assert [p.kind for p in result.problems] == ["truncated_blob"]
