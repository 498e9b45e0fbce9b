"""Real service: OpenSSH sshd on 127.0.0.1 with its own host and client keys (test-services.md §3.6)."""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services._common import free_port, require_binary, stop, tcp_open, wait_for


@dataclass
class Sshd:
    """A running sshd: where it listens, who may log in, the client key and the pinned host key."""

    host: str
    port: int
    user: str
    key_file: Path
    host_key_file: Path
    known_hosts: Path
    dir: Path
    pid: int

    @property
    def host_key_line(self) -> str:
        """The host's public key as ``<type> <base64>``."""
        return " ".join(Path(f"{self.host_key_file}.pub").read_text().split()[:2])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """sshd with key-only login for the invoking user, host key pinned in ``known_hosts``."""
    binary = require_binary("sshd", "Debian openssh-server")
    require_binary("ssh-keygen", "Debian openssh-client")
    directory = tmp_path_factory.mktemp("sshd")
    port = free_port()
    _keygen(directory / "host")
    _keygen(directory / "client")
    (directory / "authorized_keys").write_text((directory / "client.pub").read_text())
    host_pub = " ".join((directory / "host.pub").read_text().split()[:2])
    (directory / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    (directory / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {directory / 'host'}\nPidFile none\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\n"
        "Subsystem sftp internal-sftp\n"
    )
    if os.getuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    log = directory / "log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(directory / "sshd_config")], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: tcp_open(port), proc, log=log, what="sshd")
        yield Sshd(
            "127.0.0.1",
            port,
            getpass.getuser(),
            directory / "client",
            directory / "host",
            directory / "known_hosts",
            directory,
            proc.pid,
        )
    finally:
        stop(proc)
