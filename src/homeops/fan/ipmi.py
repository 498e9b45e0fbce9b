"""Adapter: the BMC over IPMI (pyghmi in a worker process), local in-band (/dev/ipmi0) or LAN (RMCP+).

Every call returns or fails within ``timeout`` seconds: the parent waits on the worker's pipe with a
deadline and kills the worker on a miss, so the next call opens a fresh session in-process. pyghmi's own
retries block for ~29 s on a silent BMC and keep failing in the same process after it returns (spec §3.4).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from homeops.fan.ports import BmcError, Sensor


class IpmiBmc:
    """The ``Bmc`` port through one pyghmi worker process; at most one call in flight."""

    def __init__(
        self,
        *,
        mode: str = "lan",
        host: str = "127.0.0.1",
        port: int = 623,
        user: str = "root",
        password: str = "",
        timeout: float = 5.0,
    ) -> None:
        self.mode = mode
        self.where = "/dev/ipmi0" if mode == "local" else f"{host}:{port}"
        self._cfg = {"mode": mode, "host": host, "port": port, "user": user, "password": password}
        self.timeout = timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._buf = b""
        self.spawns = 0

    # -- worker management ------------------------------------------------------------------------------
    def _spawn(self, deadline: float) -> None:
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "homeops.fan.ipmi_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # a Ctrl-C on the terminal must not kill the worker mid-restore
        )
        self.spawns += 1
        self._buf = b""
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(self._cfg) + "\n").encode())
        self.proc.stdin.flush()
        reply = self._read(deadline)
        if not reply.get("ok"):
            self._kill()
            raise BmcError(f"BMC {self.where}: {reply.get('error', 'no session')}", unreachable=True)

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(2)
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(Exception):
                if pipe is not None:
                    pipe.close()

    def _read(self, deadline: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                raise BmcError(f"BMC {self.where}: no answer within {self.timeout:g}s", unreachable=True)
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self._kill()
                raise BmcError(f"BMC {self.where}: session lost", unreachable=True)
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            doc = json.loads(line)
        except ValueError:
            self._kill()
            raise BmcError(f"BMC {self.where}: garbled worker reply", unreachable=True) from None
        return doc if isinstance(doc, dict) else {}

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        if self.proc is None or self.proc.poll() is not None:
            self._kill()
            self._spawn(deadline)
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            self._kill()
            raise BmcError(f"BMC {self.where}: session lost", unreachable=True) from None
        reply = self._read(deadline)
        if not reply.get("ok"):
            if reply.get("unreachable"):
                self._kill()
            raise BmcError(
                f"BMC {self.where}: {reply.get('error')}", unreachable=bool(reply.get("unreachable"))
            )
        return reply

    # -- the port -----------------------------------------------------------------------------------------
    def raw(self, netfn: int, cmd: int, data: Sequence[int]) -> tuple[int, list[int]]:
        """A raw IPMI request: (completion code, response data)."""
        reply = self._call({"op": "raw", "netfn": netfn, "cmd": cmd, "data": list(data)})
        return int(reply.get("code", 0)), [int(b) for b in reply.get("data", [])]

    def oem(self, data: Sequence[int]) -> int:
        """Dell OEM ``0x30 0x30 <data>``; the completion code."""
        return self.raw(0x30, 0x30, data)[0]

    def manufacturer(self) -> int:
        """The IANA manufacturer id from Get Device ID."""
        code, data = self.raw(0x06, 0x01, ())
        if code != 0 or len(data) < 9:
            raise BmcError(f"BMC {self.where}: Get Device ID failed (code 0x{code:02x})", code=code)
        return data[6] | data[7] << 8 | data[8] << 16

    def sensors(self) -> Sequence[Sensor]:
        """Every SDR sensor's reading."""
        reply = self._call({"op": "sensors"})
        return [
            Sensor(
                name=str(s["name"]),
                id=str(s["id"]),
                entity=str(s["entity"]),
                value=None if s["value"] is None else float(s["value"]),
                unit=str(s["unit"]),
                available=bool(s["available"]),
                kind=str(s["kind"]),
            )
            for s in reply.get("sensors", [])
        ]

    def close(self) -> None:
        """Stop the worker."""
        proc = self.proc
        if proc is not None and proc.poll() is None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.5)
        self._kill()
