"""Real service: PostgreSQL 15 in its own cluster on 127.0.0.1 (test-services.md §3.5)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services._common import drop_kwargs, free_port, log_tail, owned_tempdir, require_binary

BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "pg-test-password-4f1d"


@dataclass
class Postgres:
    """A running cluster: where it listens and how to log in (user ``postgres``, password ``PASSWORD``)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    dir: Path

    @property
    def dsn(self) -> str:
        """A libpq DSN without the password."""
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL 15 cluster for the session; password (scram) auth over TCP so auth failures are real."""
    initdb = BIN / "initdb"
    if not initdb.exists():
        require_binary("initdb", "Debian postgresql-15")
    pg_ctl = str(BIN / "pg_ctl")
    directory = owned_tempdir("postgres", "homeops-pg-")
    data = directory / "data"
    port = free_port()
    as_pg = drop_kwargs("postgres")
    pwfile = directory / "pw"
    pwfile.write_text(PASSWORD + "\n")
    started = False
    try:
        subprocess.run(
            [
                str(initdb),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--pwfile",
                str(pwfile),
                "-A",
                "scram-sha-256",
                "--auth-local=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            **as_pg,  # type: ignore[arg-type]
        )
        started = True
        result = subprocess.run(
            [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(directory / "log"),
                "-w",
                "-t",
                "20",
                "-o",
                f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            capture_output=True,
            **as_pg,  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed:\n{log_tail(directory / 'log')}")
        yield Postgres("127.0.0.1", port, "postgres", PASSWORD, "postgres", directory)
    finally:
        if started:
            subprocess.run(
                [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                **as_pg,  # type: ignore[arg-type]
            )
        shutil.rmtree(directory, ignore_errors=True)
