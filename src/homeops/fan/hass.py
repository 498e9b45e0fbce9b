"""Adapter: Home Assistant's REST API (``GET /api/states/<entity>``) with one total deadline per request.

A per-phase timeout (connect, then each read) does not bound a call: a server that sends its headers and then
one byte every few hundred ms never lets a read time out. So every request here has one deadline, enforced
twice: a watchdog shuts the socket down when it passes (which wakes any blocked connect, send or recv), and
each socket operation waits at most the time left. The client owns its socket (stdlib ``http.client``,
keep-alive), which is what makes the watchdog possible.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from homeops.errors import ConfigError
from homeops.fan.ports import HaMiss, HaState

MAX_BODY = 1 << 20  # an HA state object is a few hundred bytes; more is a broken server


def parse_ha_time(value: Any) -> datetime | None:
    """An HA timestamp (``2026-06-05T09:30:00.000000+00:00``), or None when it does not parse."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class _Deadline:
    """The one deadline of a request: ``left()`` for each socket operation, a watchdog for the whole."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.fired = False
        self._done = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            self.fired = True
            raise TimeoutError("deadline passed")
        return left

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (wakes a blocked send or recv)."""
        with self._lock:
            self._sock = sock
        if not self._timer.is_alive():
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> bool:
        """Stop the watchdog; True if the deadline passed (the socket may be shut down)."""
        with self._lock:
            self._done = True
        self._timer.cancel()
        return self.fired


class HaClient:
    """The ``Ha`` port: one keep-alive connection, Bearer auth, one total deadline of ``timeout`` per call."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"fan.ha_url {url!r} is not an http(s) URL", "set fan.ha_url = http://HOST:8123"
            )
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.base = parts.path.rstrip("/")
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._conn: http.client.HTTPConnection | None = None

    # -- transport ----------------------------------------------------------------------------------------
    def _connect(self, deadline: _Deadline) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self.https:
            import ssl

            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=deadline.left(), context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=deadline.left())
        conn.connect()  # bounded by the time left (the watchdog has no socket to shut down yet)
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _exchange(
        self, conn: http.client.HTTPConnection, path: str, deadline: _Deadline
    ) -> tuple[int, bytes]:
        sock = conn.sock
        assert sock is not None
        deadline.watch(sock)
        sock.settimeout(deadline.left())
        conn.request("GET", self.base + path, headers=self._headers)
        response = conn.getresponse()
        chunks: list[bytes] = []
        size = 0
        while True:
            sock.settimeout(deadline.left())
            chunk = response.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY:
                raise HaMiss("body too large")
            chunks.append(chunk)
        if response.will_close:
            self._drop()
        return response.status, b"".join(chunks)

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` (below the base URL): (status, body) within the deadline; raises HaMiss."""
        deadline = _Deadline(self.timeout)
        try:
            reused = self._conn is not None
            try:
                if self._conn is None:
                    self._conn = self._connect(deadline)
                result = self._exchange(self._conn, path, deadline)
            except (OSError, http.client.HTTPException):
                if not reused or deadline.fired:
                    raise
                self._drop()  # the server closed the idle keep-alive socket: one fresh try, same deadline
                self._conn = self._connect(deadline)
                result = self._exchange(self._conn, path, deadline)
        except HaMiss:
            deadline.cancel()
            self._drop()
            raise
        except (OSError, http.client.HTTPException) as exc:
            timed_out = deadline.cancel() or isinstance(exc, TimeoutError)
            self._drop()
            if timed_out:
                raise HaMiss(f"no answer within {self.timeout:g}s") from None
            raise HaMiss(type(exc).__name__) from None
        if deadline.cancel():  # the watchdog fired as the body ended: a miss, and the socket is gone
            self._drop()
            raise HaMiss(f"no answer within {self.timeout:g}s")
        return result

    # -- the port -------------------------------------------------------------------------------------------
    def state(self, entity_id: str) -> HaState:
        status, body = self.get(f"/api/states/{quote(entity_id, safe='._-')}")
        if not 200 <= status < 300:
            raise HaMiss(f"HTTP {status}")
        try:
            doc = json.loads(body)
            state = doc["state"]
        except (ValueError, KeyError, TypeError):
            raise HaMiss("bad JSON") from None
        if not isinstance(state, str):
            raise HaMiss("bad JSON")
        return HaState(
            entity_id=entity_id,
            state=state,
            last_changed=parse_ha_time(doc.get("last_changed")),
            last_updated=parse_ha_time(doc.get("last_updated")),
        )

    def close(self) -> None:
        self._drop()
