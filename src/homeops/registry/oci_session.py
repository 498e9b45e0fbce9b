"""Adapter: the OCI client's per-host session — scheme and auth-mode discovery (``GET /v2/``), Basic, Bearer
tokens cached per scope, and the authenticated request with its token retry and redirects (registry.md §3.1).
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import httpx

from homeops.registry.auth import Challenge, parse_challenges
from homeops.registry.creds import Credentials
from homeops.registry.oci_transport import (
    ClientOptions,
    HttpTransport,
    RequestFailed,
    error_text,
    is_cert_error,
)
from homeops.registry.ref import is_loopback

TOKEN_LIMIT = 1024 * 1024


@dataclass
class _HostState:
    scheme: str | None = None
    mode: str | None = None  # basic | bearer | anon
    lock: threading.Lock = field(default_factory=threading.Lock)


class AuthSession(HttpTransport):
    """Per-host scheme and auth mode, and a token cache keyed by (realm, service, scope); thread-safe."""

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
        super().__init__(options, transport=transport, sleep=sleep, clock=clock, rand=rand)
        self.credentials = credentials
        self._hosts: dict[str, _HostState] = {}
        self._hosts_lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._token_locks: dict[tuple[str, str, str], threading.Lock] = {}
        self.token_requests = 0

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

    # ---- ping ----------------------------------------------------------------------------------------
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
                if scheme == "https" and len(schemes) > 1 and not is_cert_error(exc):
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
        raise RequestFailed("server_error", f"{host}: GET /v2/ → {status}{error_text(resp)}", status)

    def ping(self, host: str) -> str:
        """Resolve scheme and auth mode for ``host``; returns the mode (``basic``/``bearer``/``anon``)."""
        state = self._ensure(host)
        return state.mode or "anon"

    # ---- Bearer tokens -------------------------------------------------------------------------------
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

    # ---- the authenticated request -------------------------------------------------------------------
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
