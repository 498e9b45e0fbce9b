"""Real service: prometheus-pushgateway on 127.0.0.1 (test-services.md §3.3)."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services._common import free_port, require_binary, stop, wait_for


@dataclass
class Pushgateway:
    """A running pushgateway: its base URL, port and the PID it runs as."""

    url: str
    port: int
    pid: int
    dir: Path

    def metrics_text(self) -> str:
        """The gateway's own ``/metrics`` (every pushed group plus its own series)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            return str(response.read().decode())


def _ready(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
        return bool(response.status == 200)


def start_pushgateway(directory: Path) -> tuple[subprocess.Popen[bytes], Pushgateway]:
    """Start one pushgateway with its own persistence file (Debian's default path is shared)."""
    binary = require_binary("prometheus-pushgateway", "Debian prometheus-pushgateway")
    port = free_port()
    log = directory / "log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--web.listen-address=127.0.0.1:{port}",
                f"--persistence.file={directory / 'pgw.data'}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url), proc, log=log, what="pushgateway")
    except BaseException:
        stop(proc)
        raise
    return proc, Pushgateway(url, port, proc.pid, directory)


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    """A real pushgateway for the session (groups use unique job names per test)."""
    proc, gateway = start_pushgateway(tmp_path_factory.mktemp("pushgateway"))
    try:
        yield gateway
    finally:
        stop(proc)
