"""Adapter: the Technitium DNS Server HTTP API (v14.3 and v15) over httpx.

Technitium answers every API error with HTTP 200 and ``status: error``/``invalid-token``/``2fa-required``, so a
call succeeds only on HTTP 200 + a JSON body + ``status == "ok"`` (specs/dns.md §3.2). The token goes both in
``Authorization: Bearer`` (v15 reads it first) and in the ``token`` parameter (the only place v14.3 reads it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import httpx

ErrorKind = Literal["auth", "api", "transport", "timeout", "protocol", "not_found"]


class TechnitiumError(Exception):
    """A failed call: which instance, which path (never a query string), what went wrong (never a stackTrace)."""

    def __init__(self, instance: str, path: str, kind: ErrorKind, message: str) -> None:
        super().__init__(f"{instance}: {path}: {message}")
        self.instance = instance
        self.path = path
        self.kind = kind
        self.message = message

    @property
    def unreachable(self) -> bool:
        """Could not reach or authenticate (exit 4 material), as opposed to an API refusal."""
        return self.kind in ("auth", "transport", "timeout")


@dataclass(frozen=True)
class Credentials:
    """An API token, or a user and password to log in with (fields never shown)."""

    token: str = field(default="", repr=False)
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Zone:
    """One entry of ``/api/zones/list``."""

    name: str
    type: str
    internal: bool = False
    disabled: bool = False
    soa_serial: int | None = None
    sync_failed: bool = False
    is_expired: bool = False
    validation_failed: bool = False

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Zone:
        serial = raw.get("soaSerial")
        return cls(
            name=str(raw.get("name", "")),
            type=str(raw.get("type", "")),
            internal=raw.get("internal") is True,
            disabled=raw.get("disabled") is True,
            soa_serial=serial if isinstance(serial, int) and not isinstance(serial, bool) else None,
            sync_failed=raw.get("syncFailed") is True,
            is_expired=raw.get("isExpired") is True,
            validation_failed=raw.get("validationFailed") is True,
        )

    @property
    def counted(self) -> bool:
        """Counted on every instance alike: not a built-in (``internal``) zone and not the root zone."""
        return not self.internal and self.name != ""


class TechnitiumClient:
    """One instance's API; share one ``httpx.Client`` (keep-alive pool) between instances."""

    retry_delays: tuple[float, ...] = (0.5, 1.0)

    def __init__(
        self,
        name: str,
        base_url: str,
        http: httpx.Client,
        credentials: Credentials,
        *,
        read_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._http = http
        self._creds = credentials
        self._token = credentials.token
        self._session = False  # True when we logged in (and must log out)
        self.read_timeout = read_timeout

    # --- session -------------------------------------------------------------------------------------

    def login(self) -> None:
        """Log in with user and password unless an API token is configured."""
        if self._creds.token:
            self._token = self._creds.token
            return
        if not self._creds.username:
            raise TechnitiumError(self.name, "/api/user/login", "auth", "no credentials configured")
        doc = self._send(
            "/api/user/login",
            {"user": self._creds.username, "pass": self._creds.password, "includeInfo": "false"},
            write=True,
            with_token=False,
        )
        status = doc.get("status")
        if status != "ok":
            message = str(doc.get("errorMessage") or status)
            if status == "2fa-required":
                message += " (use an API token for automation)"
            raise TechnitiumError(self.name, "/api/user/login", "auth", f"login failed: {message}")
        token = doc.get("token")
        if not isinstance(token, str) or not token:
            raise TechnitiumError(self.name, "/api/user/login", "protocol", "login answered without a token")
        self._token = token
        self._session = True

    def logout(self) -> None:
        """End a session we started; errors are ignored (the session expires anyway)."""
        if not self._session:
            return
        self._session = False
        with contextlib.suppress(TechnitiumError):
            self._send("/api/user/logout", {}, write=True)

    def __enter__(self) -> TechnitiumClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.logout()

    # --- calls ---------------------------------------------------------------------------------------

    def call(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        write: bool = False,
        timeout: float | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """One API call; the ``response`` object of a ``status: ok`` answer, else ``TechnitiumError``."""
        if not self._token:
            self.login()
        relogged = False
        while True:
            doc = self._send(path, dict(params or {}), write=write, timeout=timeout, retry=retry)
            status = doc.get("status")
            if status == "ok":
                response = doc.get("response")
                return response if isinstance(response, dict) else doc
            message = str(doc.get("errorMessage") or status)
            if status == "invalid-token":
                # The session expired (30 min idle): log in again once and repeat the call once.
                if not relogged and not self._creds.token and self._creds.username:
                    relogged = True
                    self._token = ""
                    self.login()
                    continue
                raise TechnitiumError(
                    self.name,
                    path,
                    "auth",
                    f"{message} (an API token avoids expiring sessions in automation)",
                )
            if status == "2fa-required":
                raise TechnitiumError(self.name, path, "auth", f"{message} (use an API token for automation)")
            raise TechnitiumError(self.name, path, "api", message)

    def _send(
        self,
        path: str,
        params: dict[str, str],
        *,
        write: bool,
        with_token: bool = True,
        timeout: float | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """HTTP round trip with retries for reads; the parsed JSON document with a ``status``."""
        import httpx

        headers = {}
        if with_token and self._token:
            params = {**params, "token": self._token}
            headers["Authorization"] = f"Bearer {self._token}"
        tmo = httpx.Timeout(timeout or self.read_timeout, connect=min(5.0, timeout or 5.0))
        attempts = 1 if write or not retry else 1 + len(self.retry_delays)
        for attempt in range(attempts):
            try:
                if write:
                    resp = self._http.post(self.base_url + path, data=params, headers=headers, timeout=tmo)
                else:
                    resp = self._http.get(self.base_url + path, params=params, headers=headers, timeout=tmo)
            except httpx.TimeoutException:
                error = TechnitiumError(self.name, path, "timeout", f"no answer within {tmo.read:g} s")
            except httpx.HTTPError as exc:
                error = TechnitiumError(
                    self.name, path, "transport", f"cannot connect ({type(exc).__name__})"
                )
            else:
                if resp.status_code < 500:
                    return self._decode(path, resp)
                error = TechnitiumError(self.name, path, "transport", f"HTTP {resp.status_code}")
            if attempt + 1 < attempts:
                time.sleep(self.retry_delays[attempt])
        raise error

    def _decode(self, path: str, resp: httpx.Response) -> dict[str, Any]:
        if resp.status_code == 404:
            raise TechnitiumError(
                self.name, path, "not_found", "endpoint not found — wrong route or Technitium version"
            )
        if resp.status_code != 200:
            raise TechnitiumError(self.name, path, "protocol", f"HTTP {resp.status_code}")
        try:
            doc = resp.json()
        except ValueError:
            raise TechnitiumError(self.name, path, "protocol", "answer is not JSON") from None
        if not isinstance(doc, dict) or "status" not in doc:
            raise TechnitiumError(self.name, path, "protocol", "answer has no status field")
        return doc

    # --- endpoints -----------------------------------------------------------------------------------

    def list_zones(self) -> list[Zone]:
        """Every zone (no paging parameters = all zones)."""
        resp = self.call("/api/zones/list")
        zones = resp.get("zones")
        if not isinstance(zones, list):
            raise TechnitiumError(self.name, "/api/zones/list", "protocol", "response has no zones list")
        return [Zone.from_api(z) for z in zones if isinstance(z, dict)]

    def zone_options(self, zone: str) -> dict[str, Any]:
        """A zone's options (``zoneTransfer``, ``primaryNameServerAddresses``, …)."""
        return self.call("/api/zones/options/get", {"zone": zone})

    def set_zone_options(self, zone: str, **options: str) -> None:
        """Set zone options (POST form)."""
        self.call("/api/zones/options/set", {"zone": zone, **options}, write=True)

    def create_secondary(self, zone: str, primary_address: str) -> None:
        """Create a Secondary zone transferring from ``primary_address``."""
        self.call(
            "/api/zones/create",
            {"zone": zone, "type": "Secondary", "primaryNameServerAddresses": primary_address},
            write=True,
        )

    def resync(self, zone: str) -> None:
        """Force a full zone transfer of a Secondary zone."""
        self.call("/api/zones/resync", {"zone": zone}, write=True)

    def delete_zone(self, zone: str) -> None:
        """Delete a zone."""
        self.call("/api/zones/delete", {"zone": zone}, write=True)

    def stats(self, timeout: float | None = None, *, retry: bool = True) -> dict[str, Any]:
        """Dashboard stats of the last hour (``response.stats``)."""
        params = {"type": "LastHour", "utc": "true"}
        resp = self.call("/api/dashboard/stats/get", params, timeout=timeout, retry=retry)
        stats = resp.get("stats")
        if not isinstance(stats, dict):
            raise TechnitiumError(self.name, "/api/dashboard/stats/get", "protocol", "response has no stats")
        return stats

    def top_domains(self, limit: int = 20) -> list[dict[str, Any]]:
        """The top queried domains of the last hour."""
        resp = self.call(
            "/api/dashboard/stats/getTop",
            {"type": "LastHour", "statsType": "TopDomains", "limit": str(limit)},
        )
        top = resp.get("topDomains")
        if not isinstance(top, list):
            raise TechnitiumError(
                self.name, "/api/dashboard/stats/getTop", "protocol", "response has no topDomains"
            )
        return [t for t in top if isinstance(t, dict)]


def http_client(pool: int = 8, timeout: float = 10.0) -> httpx.Client:
    """The one keep-alive pool shared by every instance's client."""
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=5.0),
        limits=httpx.Limits(max_connections=max(pool, 1) * 2, max_keepalive_connections=max(pool, 1) * 2),
        headers={"User-Agent": "homeops"},
    )
