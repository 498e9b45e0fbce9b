"""Integration: the TLS rules of §3.1 against docker-registry serving a self-signed certificate on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from homeops.cli import app
from tests.services._common import free_port, require_binary
from tests.services._tls import write_self_signed
from tests.services.registry import RegistryServer


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryServer, Path]]:
    binary = require_binary("docker-registry", "Debian docker-registry")
    d = tmp_path_factory.mktemp("registry-tls")
    cert, key = write_self_signed(d)
    port = free_port()
    server = RegistryServer(d, port, binary=binary)
    server.write_config()
    # replace the plain http block with a TLS one (the fixture's readiness check speaks plain HTTP)
    text = server.config.read_text().replace(
        f'http: {{addr: "127.0.0.1:{port}"}}',
        f'http: {{addr: "127.0.0.1:{port}", tls: {{certificate: {cert}, key: {key}}}}}',
    )
    import subprocess

    from tests.services._common import stop, tcp_open, wait_for

    server.config.write_text(text)
    with (d / "log").open("ab") as out:
        proc = subprocess.Popen([binary, "serve", str(server.config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: tcp_open(port), proc, log=d / "log", what="docker-registry (TLS)")
        yield server, cert
    finally:
        stop(proc)


def run(args: list[str], tmp_path: Path, extra: str = "") -> Any:
    cfg = tmp_path / "c.toml"
    cfg.write_text(extra)
    env = {"HOMEOPS_CONFIG": str(cfg), "DOCKER_CONFIG": str(tmp_path), "HOMEOPS_REGISTRY__RETRIES": "0"}
    return CliRunner().invoke(app, ["registry", *args], env=env, catch_exceptions=False)


def test_self_signed_fails_closed_and_never_downgrades(
    tls_registry: tuple[RegistryServer, Path], tmp_path: Path
) -> None:
    server, _ = tls_registry
    result = run(["verify", f"{server.host}/x/y:z", "--json"], tmp_path)
    assert result.exit_code == 4
    (problem,) = json.loads(result.stdout)["images"][0]["problems"]
    assert problem["kind"] == "unreachable" and "--insecure" in problem["detail"]


def test_insecure_and_ca_bundle_reach_it(tls_registry: tuple[RegistryServer, Path], tmp_path: Path) -> None:
    server, cert = tls_registry
    insecure = run(["verify", f"{server.host}/x/y:z", "--insecure", "--json"], tmp_path)
    assert insecure.exit_code == 1  # reached: the tag does not exist
    assert json.loads(insecure.stdout)["images"][0]["problems"][0]["kind"] == "missing_manifest"
    assert "not verified" in insecure.stderr
    trusted = run(
        ["verify", f"{server.host}/x/y:z", "--json"], tmp_path, f'[registry]\nca_bundle = "{cert}"\n'
    )
    assert trusted.exit_code == 1, trusted.stdout + trusted.stderr
    assert json.loads(trusted.stdout)["images"][0]["problems"][0]["kind"] == "missing_manifest"
    assert "not verified" not in trusted.stderr
