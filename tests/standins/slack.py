"""Stand-in: a Slack incoming webhook on 127.0.0.1 (stdlib ThreadingHTTPServer via ``_http``).

Like the real one: ``POST`` with a JSON body carrying ``text`` → 200 ``ok``; a non-JSON body or no ``text`` →
400 ``invalid_payload``; unknown path → 404 ``no_service``. A script of answers can be queued to fake
outages: ``server.script(500, 500, 429, ...)``; each entry is used for one request, then the default (200):
- an int status (``500`` → ``internal_error``, ``429`` → ``Retry-After: 1`` unless ``retry_after`` is set, ``400``,
  ``403`` …); such requests are *not* delivered;
- ``"timeout"``: the post is accepted (delivered) but answered only after ``slow_seconds`` (past the client's
  timeout), as a slow Slack that took the post;
- ``"close"``: the socket is closed without an answer (not delivered).
``server.down()`` / ``server.up()`` stop and restart listening on the same port (connection refused meanwhile).
``delivered`` is the list of accepted JSON bodies, in order; ``attempts`` counts every POST seen.

Fixture: ``slack_webhook`` (function scope) yields a started ``SlackStandin``; its ``url`` is the webhook URL
(``http://127.0.0.1:<port>/services/T000/B000/XXXX``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

HOOK_PATH = "/services/T000/B000/XXXX"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a deliberately closed socket is not worth a traceback


class SlackStandin:
    def __init__(self, port: int = 0, *, slow_seconds: float = 1.5) -> None:
        self.slow_seconds = slow_seconds
        self.delivered: list[dict[str, Any]] = []
        self.attempts = 0
        self.retry_after: str | None = "1"
        self._script: deque[int | str] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self._start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    def script(self, *answers: int | str) -> None:
        """Queue answers for the next requests (then 200 again)."""
        with self._lock:
            self._script.extend(answers)

    def texts(self) -> list[str]:
        with self._lock:
            return [str(b.get("text", "")) for b in self.delivered]

    def _next(self) -> int | str:
        with self._lock:
            self.attempts += 1
            return self._script.popleft() if self._script else 200

    def _start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                # like a real front end (nginx tcp_nodelay): the header and body writes of a kept-alive reply
                # must not wait 40 ms for the client's delayed ACK
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _reply(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.path != HOOK_PATH:
                    self._reply(404, "no_service")
                    return
                answer = outer._next()
                if answer == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(answer, int) and answer != 200:
                    headers = (
                        {"Retry-After": outer.retry_after} if answer == 429 and outer.retry_after else {}
                    )
                    text = {500: "internal_error", 429: "rate_limited", 400: "invalid_payload", 403: "action_prohibited",
                            404: "no_service", 410: "channel_is_archived"}.get(answer, "error")  # fmt: skip
                    self._reply(answer, text, headers)
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._reply(400, "invalid_payload")
                    return
                if not isinstance(body, dict) or not body.get("text"):
                    self._reply(400, "no_text")
                    return
                with outer._lock:
                    outer.delivered.append(body)
                if answer == "timeout":
                    time.sleep(outer.slow_seconds)
                self._reply(200, "ok")

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening (connection refused) until ``up()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def up(self) -> None:
        if self._server is None:
            self._start()

    def stop(self) -> None:
        self.down()


@pytest.fixture
def slack_webhook() -> Iterator[SlackStandin]:
    """A stand-in Slack webhook for one test."""
    server = SlackStandin()
    try:
        yield server
    finally:
        server.stop()
