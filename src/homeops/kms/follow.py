"""Adapter: follow a log file like ``tail -F`` — through rename rotation, truncation and late creation (§3.6).

``poll()`` reads what is available and returns complete lines plus notices (``appeared``, ``rotated``,
``truncated``, ``waiting``, ``denied``); the daemon calls it every ``poll_interval``. The identity
``(st_dev, st_ino)`` of the open handle tells a rotation from a truncation.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_LINE = 64 * 1024
CHUNK = 1 << 20


@dataclass
class Poll:
    """What one poll found: complete lines (decoded), notices, and how many lines were cut."""

    lines: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    too_long: int = 0
    starts: list[int] = field(default_factory=list)  # the file offset where each line starts
    replay: int = 0  # how many of the first lines were already handled before a restart (position file)


class StartError(Exception):
    """The log cannot be read at start (permission denied, a directory): exit 2."""


class LogFollower:
    """Follow ``path``; ``from_start`` reads an existing file from 0, else from its end (or a saved offset)."""

    def __init__(
        self, path: str | os.PathLike[str], *, from_start: bool = False, position_file: str = ""
    ) -> None:
        self.path = Path(path)
        self.position_file = Path(position_file) if position_file else None
        self._fh: int | None = None
        self._ident: tuple[int, int] | None = None
        self.offset = 0
        self._partial = b""
        self._done = -1  # lines ending at or before this offset were handled by the previous run
        self._waiting_logged = False
        self._denied_logged_at: float | None = None
        self._start(from_start)

    # --- start and identity ------------------------------------------------------------------------------

    def _start(self, from_start: bool) -> None:
        if self.path.is_dir():
            raise StartError(f"{self.path} is a directory")
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return  # wait for it; a file that appears later is read from its start
        except PermissionError:
            raise StartError(f"cannot read {self.path}") from None
        st = os.fstat(fd)
        self._fh, self._ident = fd, (st.st_dev, st.st_ino)
        saved = self._saved_offset()
        if from_start:
            self.offset = 0
        elif saved is not None and saved[0] == self._ident and saved[1] <= st.st_size:
            self.offset, self._done = saved[1], saved[2]
        else:
            self.offset = st.st_size

    def _saved_offset(self) -> tuple[tuple[int, int], int, int] | None:
        if self.position_file is None:
            return None
        try:
            data = json.loads(self.position_file.read_text())
            offset = int(data["offset"])
            return (int(data["dev"]), int(data["ino"])), offset, int(data.get("done", offset))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @property
    def done(self) -> int:
        """The offset just past the last complete line returned."""
        return self.offset - len(self._partial)

    def save_position(self, resume: int | None = None) -> None:
        """Write ``{dev, ino, offset, done}`` atomically (when a position file is configured and a file is open).

        ``offset`` is where a restart reads from: ``resume`` (the start of the oldest connection still open, so
        its activation is not lost) or the end of the last complete line; ``done`` is where the lines already
        handled end (a restart replays them into the parser without handling their events again)."""
        if self.position_file is None or self._ident is None:
            return
        done = self.done
        offset = done if resume is None or resume < 0 else min(resume, done)
        doc = json.dumps({"dev": self._ident[0], "ino": self._ident[1], "offset": offset, "done": done})
        directory = self.position_file.parent
        fd, tmp = tempfile.mkstemp(prefix=".kms-position-", dir=directory)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(doc)
            os.replace(tmp, self.position_file)
        except OSError:
            Path(tmp).unlink(missing_ok=True)

    @property
    def is_open(self) -> bool:
        return self._fh is not None

    # --- reading ------------------------------------------------------------------------------------------

    def _read_available(self, result: Poll, *, final: bool = False) -> None:
        assert self._fh is not None
        while True:
            data = os.pread(self._fh, CHUNK, self.offset)
            if not data:
                break
            start = self.offset - len(self._partial)
            self.offset += len(data)
            self._split(self._partial + data, start, result)
        if final and self._partial:
            self._emit(self._partial, self.offset - len(self._partial), self.offset, result)
            self._partial = b""

    def _split(self, data: bytes, start: int, result: Poll) -> None:
        *complete, rest = data.split(b"\n")
        for raw in complete:
            end = start + len(raw) + 1
            self._emit(raw, start, end, result)
            start = end
        if len(rest) > MAX_LINE:
            # a line with no end in sight: keep its head, drop the rest until the newline comes
            self._emit(rest, start, self.offset, result)
            rest = b""
        self._partial = rest

    def _emit(self, raw: bytes, start: int, end: int, result: Poll) -> None:
        if len(raw) > MAX_LINE:
            raw = raw[:MAX_LINE]
            result.too_long += 1
        result.lines.append(raw.decode("utf-8", errors="replace").rstrip("\r"))
        result.starts.append(start)
        if end <= self._done:
            result.replay = len(result.lines)

    def _open_new(self, result: Poll, reason: str) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        except PermissionError:
            result.notices.append("denied")
            return False
        st = os.fstat(fd)
        self._fh, self._ident, self.offset, self._partial = fd, (st.st_dev, st.st_ino), 0, b""
        self._done = -1
        result.notices.append(reason)
        return True

    def poll(self) -> Poll:
        """Read everything new; handle appearance, rotation and truncation."""
        result = Poll()
        if self._fh is None and not self._open_new(result, "appeared"):
            if not self._waiting_logged and "denied" not in result.notices:
                result.notices.append("waiting")
                self._waiting_logged = True
            return result
        self._read_available(result)
        st_open = os.fstat(self._fh)  # type: ignore[arg-type]
        if st_open.st_size < self.offset:
            self._partial = b""
            self.offset, self._done = 0, -1
            result.notices.append("truncated")
            self._read_available(result)
        try:
            st_path = os.stat(self.path)
        except FileNotFoundError:
            return result  # renamed away and not yet recreated: keep the old handle, a writer may append
        except OSError as exc:
            if exc.errno == errno.EACCES:
                result.notices.append("denied")
            return result
        if (st_path.st_dev, st_path.st_ino) != self._ident:
            self._read_available(result, final=True)  # the old file's last lines first
            old = self._fh
            self._fh = None
            if self._open_new(result, "rotated"):
                os.close(old)  # type: ignore[arg-type]
                self._read_available(result)
            else:
                self._fh = old  # the new file is not readable yet: keep reading the old one
        return result

    def close(self) -> None:
        if self._fh is not None:
            os.close(self._fh)
            self._fh = None
