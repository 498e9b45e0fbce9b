"""Adapter: the OCI client's HTTP plumbing over httpx — one keep-alive pool per TLS mode, retries with
backoff and Retry-After, and the failures a request ends in (specs/registry.md §3.1).
"""

from __future__ import annotations

import contextlib
import json
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from homeops.output import warn
from homeops.registry.ref import is_loopback

_RETRY_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))


class RequestFailed(Exception):
    """A request that finally failed: ``kind`` is unreachable, auth, server_error, truncated_blob or not_registry."""

    def __init__(self, kind: str, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class ClientOptions:
    concurrency: int = 8
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    retries: int = 3
    plain_http_hosts: tuple[str, ...] = ()
    insecure_hosts: tuple[str, ...] = ()
    ca_bundle: str = ""
    plain_http: bool = False  # --plain-http / an http:// URL: plain HTTP allowed for every host of this run
    insecure: bool = False


def error_text(resp: httpx.Response) -> str:
    """``errors[0].code: message`` of a distribution error body, if any."""
    try:
        data = json.loads(resp.content[:65536] or b"null")
        err = data["errors"][0]
        return f" {err.get('code', '')}: {err.get('message', '')}".rstrip(": ")
    except Exception:
        return ""


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), capped at 30."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, min(float(text), 30.0))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, min(when - now, 30.0))


def backoff(attempt: int, rand: Callable[[float, float], float] = random.uniform) -> float:
    """``0.5 s × 2^(n−1) × U(0.5, 1.5)``, capped at 8 s."""
    return float(min(0.5 * 2 ** (attempt - 1) * rand(0.5, 1.5), 8.0))


def is_cert_error(exc: BaseException) -> bool:
    """The TLS peer's certificate was not trusted (never retried, never a plain-HTTP fallback)."""
    text = repr(exc) + repr(exc.__cause__ or exc.__context__)
    return "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc.__cause__, ssl.SSLCertVerificationError)


def is_not_tls(exc: BaseException) -> bool:
    """The peer answered a TLS hello with something else: it speaks plain HTTP."""
    text = (repr(exc) + repr(exc.__cause__ or exc.__context__)).upper()
    return (
        "WRONG_VERSION_NUMBER" in text or "RECORD LAYER FAILURE" in text or "PACKET LENGTH TOO LONG" in text
    )


class HttpTransport:
    """The pools, TLS policy and retry loop under the registry client; thread-safe."""

    def __init__(
        self,
        options: ClientOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.options = options
        self._transport = transport
        self._sleep, self._clock, self._rand = sleep, clock, rand
        self._clients_lock = threading.Lock()
        self._clients: dict[bool, httpx.Client] = {}
        self._warned: set[str] = set()
        self.requests = 0

    def _client(self, verify: bool) -> httpx.Client:
        with self._clients_lock:
            if verify not in self._clients:
                limits = httpx.Limits(
                    max_connections=self.options.concurrency,
                    max_keepalive_connections=self.options.concurrency,
                )
                timeout = httpx.Timeout(self.options.timeout_s, connect=self.options.connect_timeout_s)
                ctx: ssl.SSLContext | bool = False
                if verify:
                    ctx = ssl.create_default_context()
                    if self.options.ca_bundle:
                        ctx.load_verify_locations(cafile=self.options.ca_bundle)
                self._clients[verify] = httpx.Client(
                    limits=limits,
                    timeout=timeout,
                    verify=ctx,
                    follow_redirects=False,
                    transport=self._transport,
                )
            return self._clients[verify]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _verify_for(self, host: str) -> bool:
        if self.options.insecure or host in self.options.insecure_hosts:
            if host not in self._warned:
                self._warned.add(host)
                warn(f"TLS certificate of {host} is not verified (--insecure)")
            return False
        return True

    def _plain_allowed(self, host: str) -> bool:
        return self.options.plain_http or is_loopback(host) or host in self.options.plain_http_hosts

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        stream: bool = False,
        verify: bool = True,
        retries: int | None = None,
    ) -> httpx.Response:
        """One request with retries on transport errors, 408, 429 and 5xx; returns the last response."""
        client = self._client(verify)
        budget = self.options.retries if retries is None else retries
        attempt = 0
        while True:
            attempt += 1
            try:
                self.requests += 1
                request = client.build_request(method, url, headers=headers)
                resp = client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if is_cert_error(exc) or is_not_tls(exc) or attempt > budget:
                    raise
                self._sleep(backoff(attempt, self._rand))
                continue
            if resp.status_code in _RETRY_STATUS and attempt <= budget:
                delay = retry_after(resp.headers.get("Retry-After"), time.time())
                resp.close()
                self._sleep(delay if delay is not None else backoff(attempt, self._rand))
                continue
            return resp

    def _transport_failure(self, host: str, exc: httpx.TransportError) -> RequestFailed:
        if is_cert_error(exc):
            return RequestFailed(
                "unreachable",
                f"TLS certificate of {host} not trusted — set ca_bundle, or --insecure to skip the check",
            )
        if isinstance(exc, httpx.TimeoutException):
            return RequestFailed("unreachable", f"{host}: timed out ({type(exc).__name__})")
        return RequestFailed(
            "unreachable", f"{host}: {type(exc).__name__}: cannot connect or connection lost"
        )

    @staticmethod
    def _read_limited(resp: httpx.Response, limit: int) -> bytes | None:
        """At most ``limit`` bytes of a streamed body; None when it is longer."""
        buf = bytearray()
        for chunk in resp.iter_bytes():
            buf.extend(chunk)
            if len(buf) > limit:
                return None
        return bytes(buf)

    @staticmethod
    def server_error(method: str, path: str, resp: httpx.Response) -> RequestFailed:
        with contextlib.suppress(httpx.HTTPError):
            resp.read()
        return RequestFailed(
            "server_error", f"{method} {path} → {resp.status_code}{error_text(resp)}", resp.status_code
        )
