"""Test harness: what every real-service fixture shares (ports, readiness, privilege drop, the missing rule)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest


def missing(what: str, fix: str) -> NoReturn:
    """Skip when a service is absent; fail instead under HOMEOPS_REQUIRE_SERVICES=1 (CI)."""
    if os.environ.get("HOMEOPS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} (HOMEOPS_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(f"{what}; {fix}")


def require_binary(name: str, package: str, fix: str = "run scripts/install-test-services") -> str:
    """The absolute path of ``name``, or skip/fail naming its package."""
    path = shutil.which(name) or next(
        (
            str(Path(d) / name)
            for d in ("/usr/sbin", "/usr/lib/postgresql/15/bin")
            if (Path(d) / name).exists()
        ),
        None,
    )
    if path is None:
        missing(f"{name} not installed ({package})", fix)
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_for(
    check: Callable[[], bool],
    proc: subprocess.Popen[bytes] | None = None,
    *,
    timeout: float = 20.0,
    log: Path | None = None,
    what: str = "service",
) -> None:
    """Poll ``check`` every 20 ms; raise on timeout or when the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_tail(log) if log else ''}")
        try:
            if check():
                return
        except Exception:  # noqa: S110 - not ready yet
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{what} not ready after {timeout}s:\n{log_tail(log) if log else ''}")


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait 10 s, then SIGKILL; by PID only."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def service_user(name: str) -> tuple[int, int] | None:
    """(uid, gid) of a system user to drop to when running as root, or None when not root."""
    if os.getuid() != 0:
        return None
    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def owned_tempdir(user: str, prefix: str) -> Path:
    """A temp dir owned by ``user`` (for daemons that drop privileges); tmp_path_factory's is 0700 root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    ids = service_user(user)
    if ids is not None:
        os.chown(path, *ids)
    path.chmod(0o755)
    return path


def drop_kwargs(user: str, group: str | None = None) -> dict[str, object]:
    """Popen keyword arguments that run the daemon binary itself as ``user`` when we are root."""
    if os.getuid() != 0:
        return {}
    return {"user": user, "group": group or user, "extra_groups": []}
