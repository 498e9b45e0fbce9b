"""Core + adapter: Prometheus metrics — Pushgateway push, node-exporter textfile, a /metrics endpoint.

Families are plain values; ``render`` writes the text exposition (typed, or untyped because the Pushgateway
refuses a typed series beside existing untyped ones). A failed push is one warning line and
``PushResult(pushed=False)``, never an exception (DESIGN §2b). httpx is imported inside the functions.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import re
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from homeops.output import warn

MetricType = Literal["gauge", "counter", "untyped", "summary", "histogram"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Sample:
    """One line of a family: value, labels, optional name suffix (``_total``, ``_bucket``), timestamp."""

    value: float
    labels: Mapping[str, str] = field(default_factory=dict)
    suffix: str = ""
    timestamp_ms: int | None = None

    def __post_init__(self) -> None:
        for name in self.labels:
            if not _LABEL.match(name) or name.startswith("__"):
                raise ValueError(f"invalid label name {name!r}")


@dataclass(frozen=True)
class Family:
    """A metric family: name, HELP text, TYPE and its samples (in output order)."""

    name: str
    help: str = ""
    type: MetricType = "gauge"
    samples: tuple[Sample, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"invalid metric name {self.name!r}")


def gauge(name: str, value: float, *, help: str = "", labels: Mapping[str, str] | None = None) -> Family:
    """A gauge family with one sample."""
    return Family(name, help, "gauge", (Sample(float(value), dict(labels or {})),))


def counter(name: str, value: float, *, help: str = "", labels: Mapping[str, str] | None = None) -> Family:
    """A counter family with one sample (``name`` as written; pass ``..._total`` yourself)."""
    return Family(name, help, "counter", (Sample(float(value), dict(labels or {})),))


def family(
    name: str,
    values: Iterable[tuple[Mapping[str, str], float]],
    *,
    help: str = "",
    type: MetricType = "gauge",
) -> Family:
    """A family with one sample per ``(labels, value)`` pair."""
    return Family(name, help, type, tuple(Sample(float(v), dict(labels)) for labels, v in values))


def format_value(value: float) -> str:
    """A sample value as the exposition format writes it (``NaN``, ``+Inf``, integers without ``.0``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def escape_label(value: str) -> str:
    """Escape a label value: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """Escape HELP text: backslash and newline."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def render(families: Iterable[Family], *, typed: bool = True) -> str:
    """The text exposition (0.0.4) of ``families``; ``typed=False`` writes no ``# TYPE``/``# HELP`` lines."""
    lines: list[str] = []
    for fam in families:
        if typed:
            if fam.help:
                lines.append(f"# HELP {fam.name} {escape_help(fam.help)}")
            lines.append(f"# TYPE {fam.name} {fam.type}")
        for sample in fam.samples:
            labels = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in sample.labels.items())
            line = f"{fam.name}{sample.suffix}{{{labels}}} " if labels else f"{fam.name}{sample.suffix} "
            line += format_value(sample.value)
            if sample.timestamp_ms is not None:
                line += f" {sample.timestamp_ms}"
            lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


# --- Pushgateway -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    """What became of one push or delete: ``pushed`` is False on any failure, with a value-free ``error``."""

    pushed: bool
    url: str
    status: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pushed": self.pushed, "url": self.url, "status": self.status, "error": self.error}


def _segment(name: str, value: str) -> str:
    """``name/value`` for the grouping path; base64 (``name@base64``) when the value has ``/`` or is empty."""
    if not _LABEL.match(name):
        raise ValueError(f"invalid grouping label {name!r}")
    if value == "" or "/" in value:
        encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
        return f"{name}@base64/{encoded}"
    return f"{name}/{urllib.parse.quote(value, safe='')}"


def group_url(base_url: str, job: str, grouping: Mapping[str, str] | None = None) -> str:
    """``<base>/metrics/job/<job>[/<label>/<value>…]`` with Pushgateway's base64 escape where needed."""
    path = "/metrics/" + _segment("job", job)
    for name, value in (grouping or {}).items():
        path += "/" + _segment(name, value)
    return base_url.rstrip("/") + path


def redact_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_client: Any = None
_client_lock = threading.Lock()


def _http() -> Any:
    """One keep-alive client per process: daemons push every loop, and building a client costs ~10 ms."""
    global _client
    import httpx

    with _client_lock:
        if _client is None:
            _client = httpx.Client()
        return _client


def _send(
    method: str,
    url: str,
    body: str | None,
    *,
    timeout: float,
    tries: int,
    retry_delay: float,
    action: str,
    quiet: bool = False,
) -> PushResult:
    import httpx

    shown = redact_url(url)
    error = ""
    status: int | None = None
    for attempt in range(max(1, tries)):
        if attempt:
            time.sleep(retry_delay * (2 ** (attempt - 1)))
        try:
            response = _http().request(
                method,
                url,
                content=body.encode() if body is not None else None,
                headers={"Content-Type": CONTENT_TYPE} if body is not None else None,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}"
            continue
        status = response.status_code
        if status < 400:
            return PushResult(True, shown, status)
        error = f"HTTP {status}: {' '.join(response.text.split())[:200]}"
        if status < 500:
            break  # a client error will not change on retry
    if not quiet:
        warn(f"metrics {action} to {shown} failed: {error}")
    return PushResult(False, shown, status, error)


def push(
    url: str,
    job: str,
    families: Sequence[Family],
    *,
    grouping: Mapping[str, str] | None = None,
    method: Literal["PUT", "POST"] = "PUT",
    typed: bool = True,
    timeout: float = 5.0,
    tries: int = 1,
    retry_delay: float = 1.0,
    quiet: bool = False,
) -> PushResult:
    """Push to a Pushgateway: PUT replaces the group, POST merges; never raises on a network failure.

    ``quiet``: no warning line on a failure (a daemon that reports outages itself reads ``error``)."""
    target = group_url(url, job, grouping)
    return _send(
        method,
        target,
        render(families, typed=typed),
        timeout=timeout,
        tries=tries,
        retry_delay=retry_delay,
        action="push",
        quiet=quiet,
    )


def delete_group(
    url: str, job: str, *, grouping: Mapping[str, str] | None = None, timeout: float = 5.0, tries: int = 1
) -> PushResult:
    """Delete a whole group from a Pushgateway; never raises on a network failure."""
    return _send(
        "DELETE",
        group_url(url, job, grouping),
        None,
        timeout=timeout,
        tries=tries,
        retry_delay=1.0,
        action="delete",
    )


# --- node-exporter textfile --------------------------------------------------------------------------------


def write_textfile(path: str | os.PathLike[str], families: Iterable[Family]) -> None:
    """Write a ``.prom`` file atomically: a temp file in the same dir, fsync, rename; mode 0644.

    On failure the old file is left as it was, the temp file is removed and the OSError propagates.
    """
    target = Path(path)
    text = render(families, typed=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is done
    finally:
        os.close(dir_fd)


# --- /metrics + /healthz for daemons -----------------------------------------------------------------------


class MetricsServer:
    """A threaded HTTP server: ``/metrics`` (text exposition of ``collect()``) and ``/healthz`` (200 / 503).

    Starts serving on construction; ``port=0`` picks a free port (see ``.port``); ``stop()`` shuts it down.
    """

    def __init__(
        self,
        host: str,
        port: int,
        collect: Callable[[], Iterable[Family]],
        healthy: Callable[[], bool] | None = None,
        *,
        unhealthy_text: str = "unhealthy",
    ) -> None:
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    try:
                        body = render(collect(), typed=True)
                    except Exception as exc:
                        self._reply(500, f"collect failed: {type(exc).__name__}\n")
                        return
                    self._reply(200, body, CONTENT_TYPE)
                elif path == "/healthz":
                    ok = True
                    try:
                        ok = bool(healthy()) if healthy is not None else True
                    except Exception:
                        ok = False
                    self._reply(200 if ok else 503, "ok\n" if ok else f"{server_self.unhealthy_text}\n")
                else:
                    self._reply(404, "not found\n")

            def _reply(self, status: int, body: str, ctype: str = "text/plain; charset=utf-8") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # scrapes are not worth a stderr line each

        self.unhealthy_text = unhealthy_text
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port: int = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="metrics-server",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
