"""Integration: a fault-injecting reverse proxy in front of the real registry — 503 twice then pass, 429 with
``Retry-After: 1``, a connection reset mid-body (registry.md §8 "Transport faults")."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from homeops.registry.oci import ClientOptions, RegistryClient
from homeops.registry.ref import parse_reference
from homeops.registry.verify import Walker
from tests.services.registry import FixtureImage, Pusher, RegistryServer, push_image


class FaultProxy:
    """Forwards to ``upstream``; ``plan`` maps a path substring to a list of faults used up in order."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.http = httpx.Client(timeout=10)
        self.plan: dict[str, list[str]] = {}
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return

            def handle_one(self) -> None:
                with outer.lock:
                    outer.seen.append((self.command, self.path))
                    fault = None
                    for key, faults in outer.plan.items():
                        if key in self.path and faults:
                            fault = faults.pop(0)
                            break
                if fault == "503":
                    return self.reply(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
                if fault == "429":
                    return self.reply(429, b"", {"Retry-After": "1"})
                up = outer.http.request(
                    self.command,
                    outer.upstream + self.path,
                    headers={"Accept": self.headers.get("Accept", "*/*")},
                )
                headers = {
                    k: v
                    for k, v in up.headers.items()
                    if k.lower() in ("content-type", "docker-content-digest")
                }
                if fault == "reset":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(up.content)))
                    self.end_headers()
                    self.wfile.write(up.content[: len(up.content) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                return self.reply(
                    up.status_code, up.content, headers, length=up.headers.get("Content-Length")
                )

            def reply(
                self,
                status: int,
                body: bytes,
                headers: dict[str, str] | None = None,
                length: str | None = None,
            ) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header(
                    "Content-Length", length if self.command == "HEAD" and length else str(len(body))
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.http.close()


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
