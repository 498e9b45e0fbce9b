"""Stand-in: one Technitium DNS Server HTTP API (v14.3 shapes, a "v15" mode reading the Bearer header).

Behaves like the real API where homeops relies on it (specs/dns.md §3.2, §8): every error is HTTP 200 with a
``status``; the token is checked before routing (missing/expired → ``invalid-token``); an unknown ``/api/``
path with a valid token is HTTP 404 with an empty body; zones change state on create/options/resync/delete,
and a replica created from a primary stand-in copies its SOA serial (a zone transfer in miniature).
Faults are injectable per path: an ``error`` message, a ``delay`` (seconds), and ``expire_once``.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.standins._http import Request, Response, StandinServer

INTERNAL_ZONES = (
    "localhost",
    "0.in-addr.arpa",
    "127.in-addr.arpa",
    "255.in-addr.arpa",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
)
STATS = {
    "totalQueries": 925,
    "totalNoError": 834,
    "totalServerFailure": 1,
    "totalNxDomain": 90,
    "totalRefused": 0,
    "totalAuthoritative": 500,
    "totalRecursive": 300,
    "totalCached": 120,
    "totalBlocked": 49,
    "totalDropped": 0,
    "totalClients": 12,
    "zones": 8,
    "cachedEntries": 1500,
    "allowedZones": 0,
    "blockedZones": 0,
    "allowListZones": 0,
    "blockListZones": 120000,
}
TOP_DOMAINS = [
    {"name": "github.com", "hits": 120},
    {"name": "idrac.viktorbarzin.lan", "hits": 90},
    {"name": "xkcdqwrtzplmnbv.com", "hits": 12},  # 5+ consecutive consonants: a DGA suspect
    {"name": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.net", "hits": 3},  # longer than 30: a DGA suspect
    {"name": "viktorbarzin.me", "hits": 40},
]
_tokens = itertools.count(1)
_TS = "2026-11-26T10:00:00.000Z"


def _ok(server: str, response: dict[str, Any] | None = None, **top: Any) -> Response:
    body: dict[str, Any] = {"server": server, "status": "ok", **top}
    if response is not None:
        body = {"response": response, **body}
    return Response.json(body)


def _error(server: str, message: str, status: str = "error") -> Response:
    body: dict[str, Any] = {"server": server, "status": status, "errorMessage": message}
    if status == "error":
        body["stackTrace"] = f"   at DnsServerCore.WebServiceZonesApi.Handle() in {message}"
    return Response.json(body)


class TechnitiumStandin:
    """One instance: users, sessions, zones, stats; ``writes`` logs every state-changing call."""

    def __init__(self, name: str, *, mode: str = "v14", upstream: TechnitiumStandin | None = None) -> None:
        self.name = name
        self.mode = mode
        self.upstream = upstream  # the primary this replica transfers from
        self.users = {"admin": "s3cret"}
        self.api_tokens: set[str] = set()
        self.sessions: set[str] = set()
        self.zones: dict[str, dict[str, Any]] = {}
        self.options: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}  # path → errorMessage answered with status: error
        self.delays: dict[str, float] = {}  # path → seconds before answering
        self.expire_once = False  # the next authenticated call finds every session expired
        self.stats = dict(STATS)
        self.top = copy.deepcopy(TOP_DOMAINS)
        self.writes: list[tuple[str, dict[str, str]]] = []
        self.logins = 0
        self._lock = threading.RLock()
        self.server = StandinServer(self.handle)
        self._seed_builtin()

    @property
    def url(self) -> str:
        return self.server.url

    # --- seeding -------------------------------------------------------------------------------------

    def _seed_builtin(self) -> None:
        self.zones[""] = {
            "name": "",
            "type": "Secondary",
            "dnssecStatus": "Unsigned",
            "soaSerial": 1,
            "expiry": _TS,
            "isExpired": False,
            "syncFailed": False,
            "lastModified": _TS,
            "disabled": False,
        }
        self.options[""] = {"primaryNameServerAddresses": []}
        for name in INTERNAL_ZONES:
            self.zones[name] = {
                "name": name,
                "type": "Primary",
                "internal": True,
                "dnssecStatus": "Unsigned",
                "soaSerial": 1,
                "notifyFailed": False,
                "notifyFailedFor": [],
                "lastModified": _TS,
                "disabled": False,
            }
            self.options[name] = {"zoneTransfer": "Deny"}

    def add_primary_zone(self, name: str, serial: int = 2026081500, zone_transfer: str = "Deny") -> None:
        """A Primary zone (``internal: false``)."""
        with self._lock:
            self.zones[name] = {
                "name": name,
                "type": "Primary",
                "internal": False,
                "dnssecStatus": "Unsigned",
                "soaSerial": serial,
                "notifyFailed": False,
                "notifyFailedFor": [],
                "lastModified": _TS,
                "disabled": False,
            }
            self.options[name] = {"zoneTransfer": zone_transfer}

    def add_zone(self, name: str, zone_type: str, **fields: Any) -> None:
        """A zone of any other type (Forwarder, Stub, …)."""
        with self._lock:
            self.zones[name] = {
                "name": name,
                "type": zone_type,
                "soaSerial": 1,
                "lastModified": _TS,
                "disabled": False,
                **fields,
            }
            self.options[name] = {}

    def add_secondary_zone(
        self,
        name: str,
        primary: str,
        *,
        serial: int | None = None,
        sync_failed: bool = False,
        is_expired: bool = False,
    ) -> None:
        """A Secondary zone pointing at ``primary``."""
        with self._lock:
            self.zones[name] = {
                "name": name,
                "type": "Secondary",
                "dnssecStatus": "Unsigned",
                "soaSerial": serial if serial is not None else self._upstream_serial(name) or 0,
                "expiry": _TS,
                "isExpired": is_expired,
                "syncFailed": sync_failed,
                "validationFailed": False,
                "lastModified": _TS,
                "disabled": False,
            }
            self.options[name] = {"primaryNameServerAddresses": [primary], "zoneTransferProtocol": "Tcp"}

    def counted(self) -> set[str]:
        """Zone names homeops counts (not internal, not root)."""
        return {n for n, z in self.zones.items() if n and not z.get("internal")}

    def _upstream_serial(self, name: str) -> int | None:
        if self.upstream is None:
            return None
        zone = self.upstream.zones.get(name)
        return zone.get("soaSerial") if zone else None

    def write_paths(self) -> list[str]:
        return [p for p, _ in self.writes]

    # --- HTTP ----------------------------------------------------------------------------------------

    def _params(self, req: Request) -> dict[str, str]:
        params = {k: v[0] for k, v in req.query.items()}
        if req.method == "POST" and req.body:
            ctype = req.headers.get("Content-Type", "")
            if "application/x-www-form-urlencoded" in ctype:
                params.update(
                    {k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()}
                )
        return params

    def _token_of(self, req: Request, params: dict[str, str]) -> str:
        if self.mode == "v15":
            auth = req.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                return auth[7:]
        return params.get("token", "")

    def handle(self, req: Request) -> Response:
        params = self._params(req)
        delay = self.delays.get(req.path, 0.0)
        if delay:
            time.sleep(delay)
        if not req.path.startswith("/api/"):
            return Response(404)
        if req.path == "/api/user/login":
            return self._login(req, params)
        token = self._token_of(req, params)
        with self._lock:
            if self.expire_once and token in self.sessions:
                self.expire_once = False
                self.sessions.clear()
            valid = token in self.sessions or token in self.api_tokens
        if not valid:
            return _error(self.name, "Invalid token or session expired.", "invalid-token")
        if req.path in self.errors:
            return _error(self.name, self.errors[req.path])
        route: dict[str, Callable[[dict[str, str]], Response]] = {
            "/api/user/logout": self._logout,
            "/api/zones/list": self._list,
            "/api/zones/options/get": self._options_get,
            "/api/zones/options/set": self._options_set,
            "/api/zones/create": self._create,
            "/api/zones/resync": self._resync,
            "/api/zones/delete": self._delete,
            "/api/dashboard/stats/get": self._stats,
            "/api/dashboard/stats/getTop": self._top,
        }
        fn = route.get(req.path)
        if fn is None:
            return Response(404)  # the v14.3 API fallback route: empty body
        if fn in (self._options_set, self._create, self._resync, self._delete):
            with self._lock:
                self.writes.append((req.path, {k: v for k, v in params.items() if k != "token"}))
        params["_token"] = token
        return fn(params)

    def _login(self, req: Request, params: dict[str, str]) -> Response:
        if req.method != "POST" or "pass" not in params:
            return _error(self.name, "Parameter 'pass' missing.")
        if self.users.get(params.get("user", "")) != params["pass"]:
            return _error(self.name, "Invalid username or password for user: " + params.get("user", ""))
        token = f"session-{self.name}-{next(_tokens)}"
        with self._lock:
            self.sessions.add(token)
            self.logins += 1
        return _ok(self.name, displayName="Administrator", username=params["user"], token=token)

    def _logout(self, params: dict[str, str]) -> Response:
        with self._lock:
            self.sessions.discard(params["_token"])
        return _ok(self.name)

    def _zone_or_error(self, params: dict[str, str]) -> tuple[str, Response | None]:
        name = params.get("zone", "").lower().rstrip(".")
        if "zone" not in params:
            return name, _error(self.name, "Parameter 'zone' missing.")
        if name not in self.zones:
            return name, _error(self.name, f"No such zone was found: {name}")
        return name, None

    def _list(self, params: dict[str, str]) -> Response:
        with self._lock:
            zones = [copy.deepcopy(z) for _n, z in sorted(self.zones.items())]
        return _ok(self.name, {"zones": zones})

    def _options_get(self, params: dict[str, str]) -> Response:
        with self._lock:
            name, err = self._zone_or_error(params)
            if err:
                return err
            zone = self.zones[name]
            resp = {
                "name": name,
                "type": zone["type"],
                "internal": zone.get("internal", False),
                "disabled": zone["disabled"],
                "zoneTransferNameServers": [],
                "notify": "ZoneNameServers",
                "update": "Deny",
                **copy.deepcopy(self.options[name]),
            }
        return _ok(self.name, resp)

    def _options_set(self, params: dict[str, str]) -> Response:
        with self._lock:
            name, err = self._zone_or_error(params)
            if err:
                return err
            if "zoneTransfer" in params:
                if self.zones[name]["type"] not in ("Primary", "Secondary", "Forwarder"):
                    return _error(self.name, "Zone transfer is not supported for this zone type.")
                self.options[name]["zoneTransfer"] = params["zoneTransfer"]
            if "primaryNameServerAddresses" in params:
                addrs = [a.strip() for a in params["primaryNameServerAddresses"].split(",") if a.strip()]
                self.options[name]["primaryNameServerAddresses"] = addrs
        return _ok(self.name, {})

    def _create(self, params: dict[str, str]) -> Response:
        name = params.get("zone", "").lower().rstrip(".")
        with self._lock:
            if name in self.zones:
                return _error(self.name, f"Zone already exists: {name}")
            if params.get("type") != "Secondary":
                return _error(self.name, "stand-in: only Secondary zones can be created")
            serial = self._upstream_serial(name)
            self.add_secondary_zone(
                name,
                params.get("primaryNameServerAddresses", ""),
                serial=serial or 0,
                sync_failed=serial is None,
            )
        return _ok(self.name, {"domain": name})

    def _resync(self, params: dict[str, str]) -> Response:
        with self._lock:
            name, err = self._zone_or_error(params)
            if err:
                return err
            if self.zones[name]["type"] not in ("Secondary", "Stub"):
                return _error(self.name, "Only Secondary and Stub zones support resync.")
            serial = self._upstream_serial(name)
            if serial is not None:
                self.zones[name].update(soaSerial=serial, syncFailed=False, isExpired=False)
        return _ok(self.name, {})

    def _delete(self, params: dict[str, str]) -> Response:
        with self._lock:
            name, err = self._zone_or_error(params)
            if err:
                return err
            del self.zones[name]
            del self.options[name]
        return _ok(self.name, {})

    def _stats(self, params: dict[str, str]) -> Response:
        return _ok(
            self.name,
            {
                "stats": dict(self.stats),
                "mainChartData": {},
                "queryResponseChartData": {},
                "queryTypeChartData": {},
                "protocolTypeChartData": {},
                "topClients": [],
                "topDomains": [],
                "topBlockedDomains": [],
            },
        )

    def _top(self, params: dict[str, str]) -> Response:
        if params.get("statsType") != "TopDomains":
            return _error(self.name, "stand-in: only TopDomains")
        limit = int(params.get("limit", "10"))
        return _ok(self.name, {"topDomains": copy.deepcopy(self.top[:limit])})


def dumps_zone_list(standin: TechnitiumStandin) -> str:
    """The zones list as the real API would send it (for fixtures and debugging)."""
    return json.dumps(
        {"response": {"zones": list(standin.zones.values())}, "server": standin.name, "status": "ok"}
    )


@pytest.fixture
def technitium_factory() -> Iterator[Callable[..., TechnitiumStandin]]:
    """Start Technitium stand-ins on demand; all stopped after the test."""
    started: list[TechnitiumStandin] = []

    def make(name: str, **kwargs: Any) -> TechnitiumStandin:
        standin = TechnitiumStandin(name, **kwargs)
        standin.server.start()
        started.append(standin)
        return standin

    try:
        yield make
    finally:
        for standin in started:
            standin.server.stop()
