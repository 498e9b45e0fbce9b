"""Stand-in servers: a small threaded HTTP server on 127.0.0.1 that each stand-in (Home Assistant, Slack,
Technitium, Kubernetes API, registry token server, …) builds on. It records every request, so tests assert on
what the server saw, and it can be made slow, down or erroring to test faults.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between body bytes: headers at once, then one byte at a time (a slow peer)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


Handler = Callable[[Request], Response]


class StandinServer:
    """Serve ``handler`` on 127.0.0.1:<free port> in a thread; ``url`` is its base URL."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.delay = 0.0  # seconds to sleep before answering (a slow or hung peer)
        self.forced: Response | None = None  # answer every request with this (an outage)
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes: without this, a 40 ms delayed-ACK stall per request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body
                )
                with outer._lock:
                    outer.requests.append(req)
                if outer.delay:
                    time.sleep(outer.delay)
                try:
                    resp = outer.forced or outer.handler(req)
                except Exception as exc:  # a stand-in bug should show as a 500, not a hang
                    resp = Response.text(f"stand-in error: {exc!r}", 500)
                self.send_response(resp.status)
                for key, value in resp.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                if self.command != "HEAD" and resp.trickle:
                    try:
                        for i in range(len(resp.body)):
                            self.wfile.write(resp.body[i : i + 1])
                            time.sleep(resp.trickle)
                    except OSError:  # the client gave up
                        self.close_connection = True
                elif self.command != "HEAD":
                    self.wfile.write(resp.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        # A 50 ms shutdown poll (the default 0.5 s makes every stop() slow).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> StandinServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def seen(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """The requests received so far, optionally filtered."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]


@contextmanager
def serving(handler: Handler) -> Iterator[StandinServer]:
    """Run a stand-in for the duration of a ``with`` block."""
    server = StandinServer(handler).start()
    try:
        yield server
    finally:
        server.stop()
