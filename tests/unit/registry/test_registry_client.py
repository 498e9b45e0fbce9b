"""Unit: the OCI client on httpx.MockTransport — retries, Retry-After, auth flows, redirects, pagination."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest

from homeops.registry.creds import Credentials
from homeops.registry.media import ACCEPT
from homeops.registry.oci import ClientOptions, RegistryClient, RequestFailed
from homeops.registry.oci_transport import backoff, retry_after

HOST = "reg.example"
Handler = Callable[[httpx.Request], httpx.Response]


def client(
    handler: Handler, creds: Credentials | None = None, retries: int = 3
) -> tuple[RegistryClient, list[float], list[float]]:
    sleeps: list[float] = []
    now = [1000.0]
    c = RegistryClient(
        ClientOptions(retries=retries),
        creds,
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        clock=lambda: now[0],
        rand=lambda a, b: 1.0,
    )
    return c, sleeps, now


def ok_v2(request: httpx.Request) -> httpx.Response | None:
    if request.url.path == "/v2/":
        return httpx.Response(200)
    return None


def test_retries_503_then_succeeds_with_backoff() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if (r := ok_v2(request)) is not None:
            return r
        calls["n"] += 1
        if calls["n"] <= 2:
            return httpx.Response(503)
        return httpx.Response(200, headers={"Content-Length": "5"})

    c, sleeps, _ = client(handler)
    assert c.head_blob(HOST, "a/b", "sha256:" + "0" * 64).status == 200
    assert sleeps == [0.5, 1.0]


def test_retry_after_seconds_and_date() -> None:
    assert retry_after("2", 0) == 2.0
    assert retry_after("120", 0) == 30.0  # capped
    assert retry_after(formatdate(1010, usegmt=True), 1000.0) == pytest.approx(10.0)
    assert retry_after("garbage", 0) is None
    assert [backoff(n, lambda a, b: 1.5) for n in (1, 2, 3, 4, 5, 6)] == [0.75, 1.5, 3.0, 6.0, 8.0, 8.0]


def test_429_honours_retry_after() -> None:
    seen = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if (r := ok_v2(request)) is not None:
            return r
        seen["n"] += 1
        return httpx.Response(429, headers={"Retry-After": "1"}) if seen["n"] == 1 else httpx.Response(200)

    c, sleeps, _ = client(handler)
    c.head_blob(HOST, "a/b", "sha256:" + "0" * 64)
    assert sleeps == [1.0]


def test_persistent_500_is_server_error_with_code() -> None:
    body = {"errors": [{"code": "UNKNOWN", "message": "unknown error"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        return ok_v2(request) or httpx.Response(500, json=body)

    c, sleeps, _ = client(handler)
    with pytest.raises(RequestFailed) as info:
        c.get_manifest(HOST, "a/b", "latest")
    assert info.value.kind == "server_error"
    assert "500" in info.value.detail and "UNKNOWN: unknown error" in info.value.detail
    assert len(sleeps) == 3


def test_4xx_is_not_retried_and_connect_errors_are() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return ok_v2(request) or httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})

    c, sleeps, _ = client(handler)
    assert c.get_manifest(HOST, "a/b", "x").status == 404
    assert sleeps == []

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    c, sleeps, _ = client(down, retries=2)
    with pytest.raises(RequestFailed) as info:
        c.ping(HOST)
    assert info.value.kind == "unreachable" and len(sleeps) == 2


def test_accept_header_exact_and_blob_head_without_accept() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok_v2(request) or httpx.Response(200, json={"schemaVersion": 2})

    c, _, _ = client(handler)
    c.get_manifest(HOST, "a/b", "latest")
    c.head_blob(HOST, "a/b", "sha256:" + "0" * 64)
    assert seen[1].headers["Accept"] == ACCEPT
    assert ACCEPT.startswith("application/vnd.oci.image.index.v1+json, ")
    assert "Accept" not in seen[2].headers or seen[2].headers["Accept"] == "*/*"


def test_basic_is_preemptive_and_dropped_on_cross_host_redirect() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == HOST and request.url.path.startswith("/v2/a/b/blobs/"):
            return httpx.Response(307, headers={"Location": "https://cdn.example/blob?sig=1"})
        return httpx.Response(200, headers={"Content-Length": "3"})

    creds = Credentials(HOST, "u", "p")
    c, _, _ = client(handler, creds)
    assert c.head_blob(HOST, "a/b", "sha256:" + "0" * 64).length == 3
    assert seen[0].headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert "Authorization" in seen[1].headers
    assert seen[2].url.host == "cdn.example" and "Authorization" not in seen[2].headers


def test_credentials_never_go_to_another_registry() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    c, _, _ = client(handler, Credentials("other.example", "u", "p"))
    c.ping(HOST)
    assert "Authorization" not in seen[0].headers


def bearer_registry(token_calls: list[httpx.Request], expires: int = 300) -> Handler:
    challenge = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"'

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            token_calls.append(request)
            return httpx.Response(
                200, json={"access_token": "AT", "token": f"T{len(token_calls)}", "expires_in": expires}
            )
        if request.url.path == "/v2/":
            return httpx.Response(
                401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="reg"'}
            )
        if request.headers.get("Authorization", "").startswith("Bearer T"):
            return httpx.Response(200, headers={"Content-Length": "1"})
        return httpx.Response(401, headers={"WWW-Authenticate": challenge + ',error="insufficient_scope"'})

    return handler


def test_bearer_token_flow_cache_and_expiry() -> None:
    calls: list[httpx.Request] = []
    c, _, now = client(bearer_registry(calls), Credentials(HOST, "ci", "pw"))
    assert c.ping(HOST) == "bearer"
    for _ in range(3):
        assert c.head_blob(HOST, "a/b", "sha256:" + "0" * 64).status == 200
    assert len(calls) == 1
    assert calls[0].url.params.get_list("scope") == ["repository:a/b:pull"]
    assert calls[0].url.params["account"] == "ci" and calls[0].headers["Authorization"].startswith("Basic ")
    now[0] += 291  # reuse until min(expires_in, 3600) − 10
    c.head_blob(HOST, "a/b", "sha256:" + "0" * 64)
    assert len(calls) == 2


def test_bearer_second_401_is_auth() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(200, json={"token": "useless"})
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="reg",scope="x"'},
        )

    c, _, _ = client(handler)
    with pytest.raises(RequestFailed) as info:
        c.get_manifest(HOST, "a/b", "latest")
    assert info.value.kind == "auth"


@pytest.mark.parametrize(
    ("status", "header", "creds", "kind", "text"),
    [
        (401, 'Basic realm="x"', None, "auth", "registry requires credentials"),
        (401, 'Basic realm="x"', Credentials(HOST, "u", "p"), "auth", "credentials rejected"),
        (404, "", None, "not_registry", "not a registry v2 API"),
    ],
    ids=["basic-anonymous", "basic-rejected", "not-registry"],
)
def test_ping_outcomes(status: int, header: str, creds: Credentials | None, kind: str, text: str) -> None:
    c, _, _ = client(
        lambda r: httpx.Response(status, headers={"WWW-Authenticate": header} if header else {}), creds
    )
    with pytest.raises(RequestFailed) as info:
        c.ping(HOST)
    assert info.value.kind == kind and text in info.value.detail


def test_catalog_pagination_and_loop() -> None:
    pages = {
        "/v2/_catalog?n=100": (["a", "b"], '</v2/_catalog?last=b&n=100>; rel="next"'),
        "/v2/_catalog?last=b&n=100": (["c"], None),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        key = request.url.raw_path.decode()
        repos, link = pages[key]
        return httpx.Response(200, json={"repositories": repos}, headers={"Link": link} if link else {})

    c, _, _ = client(handler)
    assert c.catalog(HOST) == ["a", "b", "c"]
    pages["/v2/_catalog?last=b&n=100"] = (["c"], '</v2/_catalog?n=100>; rel="next"')
    c2, _, _ = client(handler)
    with pytest.raises(RequestFailed):
        c2.catalog(HOST)


def test_body_cut_short_every_time_is_truncated() -> None:
    class Cut(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield b"abc"
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    def handler(request: httpx.Request) -> httpx.Response:
        return ok_v2(request) or httpx.Response(200, headers={"Content-Length": "10"}, stream=Cut())

    c, sleeps, _ = client(handler)
    read = c.read_blob(HOST, "a/b", "sha256:" + "0" * 64)
    assert read.truncated and read.size <= 3 and len(sleeps) == 3


def test_manifest_larger_than_4_mib_is_flagged() -> None:
    big = json.dumps({"pad": "x" * (4 * 1024 * 1024)}).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return ok_v2(request) or httpx.Response(200, content=big)

    c, _, _ = client(handler)
    assert c.get_manifest(HOST, "a/b", "x").too_big
