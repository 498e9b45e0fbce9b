"""Adapter: the OCI distribution API over httpx — one keep-alive pool, retries with backoff, Basic and
Bearer auth with a per-scope token cache, plain HTTP only where allowed (specs/registry.md §3.1).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from homeops.output import warn
from homeops.registry.auth import Challenge, next_link, parse_challenges
from homeops.registry.creds import Credentials
from homeops.registry.media import ACCEPT
from homeops.registry.ref import is_loopback

MANIFEST_LIMIT = 4 * 1024 * 1024
TOKEN_LIMIT = 1024 * 1024
PAGE_LIMIT = 10 * 1024 * 1024
CHUNK = 1024 * 1024
_RETRY_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))


class RequestFailed(Exception):
    """A request that finally failed: ``kind`` is unreachable, auth, server_error, truncated_blob or not_registry."""

    def __init__(self, kind: str, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class ManifestReply:
    status: int
    body: bytes
    content_type: str
    digest_header: str | None
    too_big: bool = False


@dataclass(frozen=True)
class BlobHead:
    status: int
    length: int | None


@dataclass(frozen=True)
class BlobRead:
    status: int
    size: int
    digest: str
    truncated: bool = False


@dataclass
class _HostState:
    scheme: str | None = None
    mode: str | None = None  # basic | bearer | anon
    lock: threading.Lock = field(default_factory=threading.Lock)


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


def _error_text(resp: httpx.Response) -> str:
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


def _is_cert_error(exc: BaseException) -> bool:
    text = repr(exc) + repr(exc.__cause__ or exc.__context__)
    return "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc.__cause__, ssl.SSLCertVerificationError)


def _is_not_tls(exc: BaseException) -> bool:
    text = (repr(exc) + repr(exc.__cause__ or exc.__context__)).upper()
    return (
        "WRONG_VERSION_NUMBER" in text or "RECORD LAYER FAILURE" in text or "PACKET LENGTH TOO LONG" in text
    )


class RegistryClient:
    """One client per run; thread-safe; used by up to ``concurrency`` workers at once."""

    def __init__(
        self,
        options: ClientOptions,
        credentials: Credentials | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.options = options
        self.credentials = credentials
        self._transport = transport
        self._sleep, self._clock, self._rand = sleep, clock, rand
        self._hosts: dict[str, _HostState] = {}
        self._hosts_lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._token_locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._clients: dict[bool, httpx.Client] = {}
        self._warned: set[str] = set()
        self.token_requests = 0
        self.requests = 0

    # ---- plumbing ------------------------------------------------------------------------------------
    def _client(self, verify: bool) -> httpx.Client:
        with self._hosts_lock:
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

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _verify_for(self, host: str) -> bool:
        if self.options.insecure or host in self.options.insecure_hosts:
            if host not in self._warned:
                self._warned.add(host)
                warn(f"TLS certificate of {host} is not verified (--insecure)")
            return False
        return True

    def _plain_allowed(self, host: str) -> bool:
        return self.options.plain_http or is_loopback(host) or host in self.options.plain_http_hosts

    def _state(self, host: str) -> _HostState:
        with self._hosts_lock:
            return self._hosts.setdefault(host, _HostState())

    def _basic(self) -> str:
        assert self.credentials is not None
        raw = f"{self.credentials.username}:{self.credentials.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _creds_for(self, host: str) -> Credentials | None:
        if self.credentials is not None and self.credentials.host == host:
            return self.credentials
        return None

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
                if _is_cert_error(exc) or _is_not_tls(exc) or attempt > budget:
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
        if _is_cert_error(exc):
            return RequestFailed(
                "unreachable",
                f"TLS certificate of {host} not trusted — set ca_bundle, or --insecure to skip the check",
            )
        if isinstance(exc, httpx.TimeoutException):
            return RequestFailed("unreachable", f"{host}: timed out ({type(exc).__name__})")
        return RequestFailed(
            "unreachable", f"{host}: {type(exc).__name__}: cannot connect or connection lost"
        )

    # ---- ping and auth -------------------------------------------------------------------------------
    def _ensure(self, host: str) -> _HostState:
        state = self._state(host)
        with state.lock:
            if state.mode is None:
                self._ping(host, state)
        return state

    def _ping(self, host: str, state: _HostState) -> None:
        creds = self._creds_for(host)
        headers = {"Authorization": self._basic()} if creds else {}
        verify = self._verify_for(host)
        schemes = ["https"]
        if self.options.plain_http and not is_loopback(host) and host not in self.options.plain_http_hosts:
            schemes = ["http"]  # an explicit http:// URL or --plain-http: no TLS attempt
        elif self._plain_allowed(host):
            schemes = ["https", "http"]
        resp: httpx.Response | None = None
        for scheme in schemes:
            try:
                # the TLS attempt before a plain-HTTP fallback is not retried: the fallback is the retry
                quick = 0 if scheme == "https" and len(schemes) > 1 else None
                resp = self._send("GET", f"{scheme}://{host}/v2/", headers, verify=verify, retries=quick)
                state.scheme = scheme
                break
            except httpx.TransportError as exc:
                if scheme == "https" and len(schemes) > 1 and not _is_cert_error(exc):
                    continue  # the peer does not speak TLS: plain HTTP for the rest of the run
                raise self._transport_failure(host, exc) from None
        assert resp is not None
        resp.read()
        status = resp.status_code
        if status == 200:
            state.mode = "basic" if creds else "anon"
            return
        if status == 401:
            challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
            if any(c.scheme == "bearer" for c in challenges):
                state.mode = "bearer"
                return
            if creds:
                raise RequestFailed("auth", f"{host}: credentials rejected (401)", 401)
            raise RequestFailed(
                "auth",
                f"{host}: registry requires credentials — pass --username with --password-stdin or configure them",
                401,
            )
        if status == 404:
            raise RequestFailed("not_registry", f"{host}: not a registry v2 API (GET /v2/ → 404)", 404)
        if status == 403:
            raise RequestFailed("auth", f"{host}: GET /v2/ → 403 forbidden", 403)
        raise RequestFailed("server_error", f"{host}: GET /v2/ → {status}{_error_text(resp)}", status)

    def ping(self, host: str) -> str:
        """Resolve scheme and auth mode for ``host``; returns the mode (``basic``/``bearer``/``anon``)."""
        state = self._ensure(host)
        return state.mode or "anon"

    def _token(self, host: str, challenge: Challenge) -> str:
        realm = challenge.params.get("realm", "")
        service = challenge.params.get("service", "")
        scope = challenge.params.get("scope", "")
        key = (realm, service, scope)
        with self._hosts_lock:
            lock = self._token_locks.setdefault(key, threading.Lock())
        with lock:  # at most one token request in flight per key
            cached = self._tokens.get(key)
            if cached and cached[1] > self._clock():
                return cached[0]
            token, ttl = self._fetch_token(host, realm, service, scope)
            self._tokens[key] = (token, self._clock() + ttl)
            return token

    def cached_token(self, scope: str) -> str | None:
        now = self._clock()
        for (_realm, _service, s), (token, until) in list(self._tokens.items()):
            if s == scope and until > now:
                return token
        return None

    def _fetch_token(self, host: str, realm: str, service: str, scope: str) -> tuple[str, float]:
        if not realm:
            raise RequestFailed("auth", f"{host}: Bearer challenge without a realm")
        params: list[tuple[str, str]] = []
        if service:
            params.append(("service", service))
        for s in scope.split():
            params.append(("scope", s))
        headers: dict[str, str] = {}
        creds = self._creds_for(host)
        parts = urlsplit(realm)
        realm_host = parts.netloc
        safe = parts.scheme == "https" or is_loopback(realm_host) or self.options.plain_http
        if creds is not None and safe:
            params.append(("account", creds.username))
            headers["Authorization"] = self._basic()
        url = realm + ("&" if "?" in realm else "?") + urlencode(params) if params else realm
        self.token_requests += 1
        try:
            resp = self._send("GET", url, headers, stream=True, verify=self._verify_for(realm_host))
        except httpx.TransportError as exc:
            raise self._transport_failure(realm_host, exc) from None
        try:
            body = self._read_limited(resp, TOKEN_LIMIT)
        finally:
            resp.close()
        if resp.status_code in (401, 403):
            raise RequestFailed(
                "auth", f"token server {realm_host} rejected the credentials ({resp.status_code})", 401
            )
        if resp.status_code != 200 or body is None:
            raise RequestFailed(
                "server_error", f"token server {realm_host} → {resp.status_code}", resp.status_code
            )
        try:
            data = json.loads(body)
            token = data.get("token") or data.get("access_token")
            expires = max(int(data.get("expires_in") or 60), 60)
        except (ValueError, AttributeError, TypeError):
            raise RequestFailed("server_error", f"token server {realm_host} sent no token") from None
        if not isinstance(token, str) or not token:
            raise RequestFailed("server_error", f"token server {realm_host} sent no token")
        return token, float(min(expires, 3600) - 10)

    @staticmethod
    def _read_limited(resp: httpx.Response, limit: int) -> bytes | None:
        """At most ``limit`` bytes of a streamed body; None when it is longer."""
        buf = bytearray()
        for chunk in resp.iter_bytes():
            buf.extend(chunk)
            if len(buf) > limit:
                return None
        return bytes(buf)

    @contextmanager
    def request(
        self,
        host: str,
        method: str,
        path: str,
        *,
        scope: str,
        accept: str | None = None,
        follow: bool = False,
    ) -> Iterator[httpx.Response]:
        """A streamed, authenticated request with retries; the response is closed on exit.

        ``path`` may be a full URL on the same host (pagination). Raises RequestFailed for transport failures
        and auth failures (401 after the token retry, 403).
        """
        state = self._ensure(host)
        url = path if "://" in path else f"{state.scheme}://{host}{path}"
        headers: dict[str, str] = {}
        if accept:
            headers["Accept"] = accept
        if state.mode == "basic":
            headers["Authorization"] = self._basic()
        elif state.mode == "bearer":
            token = self.cached_token(scope)
            if token:
                headers["Authorization"] = f"Bearer {token}"
        verify = self._verify_for(host)
        retried_token = False
        redirects = 0
        current_host = host
        while True:
            try:
                resp = self._send(method, url, headers, stream=True, verify=verify)
            except httpx.TransportError as exc:
                raise self._transport_failure(current_host, exc) from None
            if resp.status_code == 401 and state.mode == "bearer" and current_host == host:
                bearer = [
                    c
                    for c in parse_challenges(resp.headers.get("WWW-Authenticate", ""))
                    if c.scheme == "bearer"
                ]
                resp.close()
                if bearer and not retried_token:
                    retried_token = True
                    headers["Authorization"] = f"Bearer {self._token(host, bearer[0])}"
                    continue
                raise RequestFailed("auth", f"{method} {urlsplit(url).path} → 401 after a token retry", 401)
            if resp.status_code == 401:
                resp.close()
                raise RequestFailed(
                    "auth", f"{method} {urlsplit(url).path} → 401 (credentials rejected)", 401
                )
            if resp.status_code == 403:
                resp.close()
                raise RequestFailed("auth", f"{method} {urlsplit(url).path} → 403 forbidden", 403)
            if follow and resp.status_code in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                redirects += 1
                location = str(httpx.URL(url).join(resp.headers["Location"]))
                resp.close()
                if redirects > 5:
                    raise RequestFailed("server_error", f"{method} {path}: more than 5 redirects")
                new_host = urlsplit(location).netloc
                if new_host != current_host:
                    headers.pop("Authorization", None)  # never carry credentials to another host
                    current_host = new_host
                    verify = self._verify_for(new_host)
                url = location
                continue
            try:
                yield resp
            finally:
                resp.close()
            return

    @staticmethod
    def server_error(method: str, path: str, resp: httpx.Response) -> RequestFailed:
        with contextlib.suppress(httpx.HTTPError):
            resp.read()
        return RequestFailed(
            "server_error", f"{method} {path} → {resp.status_code}{_error_text(resp)}", resp.status_code
        )

    # ---- API -----------------------------------------------------------------------------------------
    def get_manifest(self, host: str, repo: str, ref: str) -> ManifestReply:
        """``GET /v2/<repo>/manifests/<ref>`` reading at most 4 MiB; 404 comes back as a reply."""
        path = f"/v2/{repo}/manifests/{ref}"
        with self.request(host, "GET", path, scope=f"repository:{repo}:pull", accept=ACCEPT) as resp:
            if resp.status_code >= 500 or resp.status_code in (408, 429):
                raise self.server_error("GET", path, resp)
            if resp.status_code != 200:
                with contextlib.suppress(httpx.HTTPError):
                    resp.read()
                return ManifestReply(resp.status_code, resp.content, "", None)
            try:
                body = self._read_limited(resp, MANIFEST_LIMIT)
            except httpx.TransportError as exc:
                raise self._transport_failure(host, exc) from None
            return ManifestReply(
                200,
                body or b"",
                resp.headers.get("Content-Type", ""),
                resp.headers.get("Docker-Content-Digest"),
                too_big=body is None,
            )

    def head_blob(self, host: str, repo: str, digest: str) -> BlobHead:
        """``HEAD /v2/<repo>/blobs/<d>`` without Accept."""
        path = f"/v2/{repo}/blobs/{digest}"
        with self.request(host, "HEAD", path, scope=f"repository:{repo}:pull", follow=True) as resp:
            if resp.status_code >= 500 or resp.status_code in (408, 429):
                raise self.server_error("HEAD", path, resp)
            length = resp.headers.get("Content-Length")
            return BlobHead(resp.status_code, int(length) if length and length.isdigit() else None)

    def read_blob(self, host: str, repo: str, digest: str) -> BlobRead:
        """Streamed ``GET`` of a blob in 1 MiB chunks, re-hashed; a body cut short is retried."""
        path = f"/v2/{repo}/blobs/{digest}"
        algo = digest.split(":", 1)[0]
        attempts = 0
        while True:
            attempts += 1
            hasher = hashlib.new(algo)
            size = 0
            with self.request(host, "GET", path, scope=f"repository:{repo}:pull", follow=True) as resp:
                if resp.status_code >= 500 or resp.status_code in (408, 429):
                    raise self.server_error("GET", path, resp)
                if resp.status_code != 200:
                    return BlobRead(resp.status_code, 0, "")
                expected = resp.headers.get("Content-Length")
                try:
                    for chunk in resp.iter_raw(CHUNK):
                        hasher.update(chunk)
                        size += len(chunk)
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout) as exc:
                    if attempts > self.options.retries:
                        if isinstance(exc, httpx.ReadTimeout):
                            raise self._transport_failure(host, exc) from None
                        return BlobRead(200, size, "", truncated=True)
                    self._sleep(backoff(attempts, self._rand))
                    continue
                short = expected is not None and expected.isdigit() and size < int(expected)
                if short:
                    if attempts > self.options.retries:
                        return BlobRead(200, size, f"{algo}:{hasher.hexdigest()}", truncated=True)
                    self._sleep(backoff(attempts, self._rand))
                    continue
                return BlobRead(200, size, f"{algo}:{hasher.hexdigest()}")

    def get_blob_bytes(self, host: str, repo: str, digest: str, limit: int = MANIFEST_LIMIT) -> bytes | None:
        """A small blob (an image config) in memory; None on 404 or when it is larger than ``limit``."""
        path = f"/v2/{repo}/blobs/{digest}"
        with self.request(host, "GET", path, scope=f"repository:{repo}:pull", follow=True) as resp:
            if resp.status_code >= 500 or resp.status_code in (408, 429):
                raise self.server_error("GET", path, resp)
            if resp.status_code != 200:
                return None
            try:
                return self._read_limited(resp, limit)
            except httpx.TransportError as exc:
                raise self._transport_failure(host, exc) from None

    def _paginate(self, host: str, path: str, key: str, scope: str) -> list[str] | None:
        """Follow ``Link: rel="next"`` until absent; None when the first page is a 404."""
        items: list[str] = []
        seen: set[str] = set()
        url: str | None = path
        first = True
        while url is not None:
            if url in seen:
                raise RequestFailed("server_error", f"pagination loop at {url}")
            seen.add(url)
            with self.request(host, "GET", url, scope=scope) as resp:
                if resp.status_code == 404 and first:
                    resp.read()
                    return None
                if resp.status_code != 200:
                    raise self.server_error("GET", path, resp)
                body = self._read_limited(resp, PAGE_LIMIT)
                if body is None:
                    raise RequestFailed("server_error", f"GET {path}: page larger than 10 MiB")
                try:
                    page = json.loads(body).get(key) or []
                except (ValueError, AttributeError):
                    raise RequestFailed("server_error", f"GET {path}: not JSON") from None
                items.extend(str(x) for x in page)
                url = next_link(resp.headers.get("Link"), str(resp.request.url))
            first = False
        return items

    def catalog(self, host: str, page_size: int = 100) -> list[str]:
        """Every repository of ``_catalog``, following pagination."""
        result = self._paginate(host, f"/v2/_catalog?n={page_size}", "repositories", "registry:catalog:*")
        if result is None:
            raise RequestFailed("server_error", "GET /v2/_catalog → 404", 404)
        return result

    def tags(self, host: str, repo: str) -> list[str] | None:
        """Every tag of ``repo`` (None for 404 NAME_UNKNOWN)."""
        return self._paginate(host, f"/v2/{repo}/tags/list", "tags", f"repository:{repo}:pull")

    def delete_manifest(self, host: str, repo: str, digest: str) -> int:
        """``DELETE /v2/<repo>/manifests/<digest>``: the final status (a retried 404 counts as done)."""
        path = f"/v2/{repo}/manifests/{digest}"
        with self.request(host, "DELETE", path, scope=f"repository:{repo}:delete") as resp:
            resp.read()
            if resp.status_code >= 500:
                raise self.server_error("DELETE", path, resp)
            return resp.status_code


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
