"""Adapter: the daemon's host-side plumbing: log lines, the flock, the state file, sd_notify, signals and
the real clock (spec fan.md §3.9). Standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar, TextIO

from homeops.errors import Refused


class Log:
    """One stderr line per event, legacy texts: ``%Y-%m-%dT%H:%M:%S%z`` prefix, or syslog priorities under
    journald. Keeps the last lines for ``--json`` and tests."""

    PRIORITY: ClassVar[dict[str, str]] = {"ERR": "<3>", "WARN": "<4>", "INFO": "<6>"}

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.journal = bool(os.environ.get("JOURNAL_STREAM"))
        self.lines: deque[tuple[str, str]] = deque(maxlen=500)

    def __call__(self, level: str, message: str) -> None:
        self.lines.append((level, message))
        if self.quiet:
            return
        tag = "" if level == "INFO" else f"{level} "
        if self.journal:
            text = f"{self.PRIORITY.get(level, '')}{tag}{message}"
        else:
            text = f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {tag}{message}"
        stream = self.stream or sys.stderr
        with contextlib.suppress(OSError, ValueError):
            print(text, file=stream, flush=True)


class RealClock:
    """Monotonic ``now``, wall ``utcnow`` and a sleep that a stop signal ends at once."""

    def __init__(self) -> None:
        self.wake = threading.Event()

    def now(self) -> float:
        return time.monotonic()

    def utcnow(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.wake.wait(seconds)


class StopFlag:
    """SIGTERM/SIGINT set this (and wake the clock) instead of raising in the middle of an IPMI call."""

    def __init__(self, clock: RealClock | None = None) -> None:
        self.signal: int | None = None
        self.clock = clock
        self._old: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signum
        if self.clock is not None:
            self.clock.wake.set()

    def install(self) -> StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


def sd_notify(message: str) -> None:
    """One datagram to ``$NOTIFY_SOCKET`` (a leading ``@`` is the abstract namespace); no-op when unset."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(addr)
            sock.sendall(message.encode())
    except OSError:
        pass


class Lock:
    """``{runtime_dir}/fan.lock`` held with flock by ``run`` and ``set``; a second holder is refused (exit 3)."""

    def __init__(self, runtime_dir: str) -> None:
        self.path = Path(runtime_dir) / "fan.lock"
        self.fd: int | None = None

    def acquire(self) -> Lock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise Refused(
                f"cannot open the lock {self.path}: {exc.strerror}", "set fan.runtime_dir"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise Refused(
                f"another fan controller is running (pid {holder})",
                "stop it first (systemctl stop homeops-fan)",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                os.close(self.fd)
            self.fd = None


def legacy_controller_pid() -> int | None:
    """The pid of a running legacy ``fan-control`` script, if any."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(
            part.endswith((b"fan-control.sh", b"/fan-control")) or part == b"fan-control"
            for part in cmdline[:3]
        ):
            return int(entry.name)
    return None


def state_path(runtime_dir: str) -> Path:
    """Where the daemon keeps its state file."""
    return Path(runtime_dir) / "fan.json"


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` with ``doc`` atomically (temp file in the same directory + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fan.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_state(runtime_dir: str) -> dict[str, Any] | None:
    """The daemon's state file, or None when absent or unreadable."""
    try:
        doc = json.loads(state_path(runtime_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def utc_iso(ts: float | None = None) -> str:
    """An ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).isoformat(timespec="seconds")
