"""CLI: `homeops registry verify` end to end against real registries (plain, htpasswd, token auth)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from homeops.cli import app
from tests.services.registry import (
    HTPASSWD_PASSWORD,
    HTPASSWD_USER,
    FixtureImage,
    Pusher,
    RegistryServer,
    push_image,
)


def invoke(args: list[str], env: Mapping[str, str], stdin: str = "") -> Any:
    return CliRunner().invoke(app, args, env=dict(env), input=stdin, catch_exceptions=False)


@pytest.fixture
def reg_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No user config, no Docker config, no HOMEOPS_* overrides."""
    import os

    for key in list(os.environ):
        if key.startswith("HOMEOPS_"):
            monkeypatch.delenv(key)
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    (tmp_path / "docker").mkdir()
    return {"HOMEOPS_CONFIG": str(cfg), "DOCKER_CONFIG": str(tmp_path / "docker"), "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def pushed(registry: RegistryServer) -> FixtureImage:
    p = Pusher(registry)
    try:
        return push_image(p, "cli/app")
    finally:
        p.close()


def test_verify_json_intact(registry: RegistryServer, pushed: FixtureImage, reg_env: dict[str, str]) -> None:
    result = invoke(["registry", "verify", f"{registry.host}/{pushed.ref}", "--json"], reg_env)
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["mode"] == "head"
    (image,) = doc["images"]
    assert image["digest"] == pushed.index
    assert image["repo"] == "cli/app"
    assert image["manifests_checked"] == 4 and image["blobs_checked"] == 7 and image["blobs_skipped"] == 0
    assert [c["role"] for c in image["children"]] == ["image", "image", "attestation"]
    assert image["problems"] == []


def test_verify_by_digest_and_human_output(
    registry: RegistryServer, pushed: FixtureImage, reg_env: dict[str, str]
) -> None:
    ref = f"{registry.host}/cli/app@{pushed.index}"
    result = invoke(["registry", "verify", ref, "--deep"], reg_env)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.startswith(f"OK {ref} {pushed.index} — 4 manifests, 7 blobs checked (deep)")


def test_wrong_digest_is_a_problem(
    registry: RegistryServer, pushed: FixtureImage, reg_env: dict[str, str]
) -> None:
    other = pushed.children["linux/amd64"]
    result = invoke(["registry", "verify", f"{registry.host}/cli/app:latest@{other}", "--json"], reg_env)
    # the digest is requested (the tag only reported): that child manifest is intact
    assert result.exit_code == 0, result.stdout


def test_missing_tag_is_missing_manifest(
    registry: RegistryServer, pushed: FixtureImage, reg_env: dict[str, str]
) -> None:
    result = invoke(
        ["registry", "verify", f"{registry.host}/cli/app:nope", f"{registry.host}/{pushed.ref}"], reg_env
    )
    assert result.exit_code == 1
    assert "FAIL missing_manifest cli/app@- (parent -" in result.stdout
    assert f"OK {registry.host}/{pushed.ref}" in result.stdout


def test_platform_filter(registry: RegistryServer, pushed: FixtureImage, reg_env: dict[str, str]) -> None:
    ref = f"{registry.host}/{pushed.ref}"
    ok = invoke(["registry", "verify", ref, "--platform", "linux/amd64", "--json"], reg_env)
    assert ok.exit_code == 0
    roles = [c["role"] for c in json.loads(ok.stdout)["images"][0]["children"]]
    assert roles == ["image", "attestation"]  # the attestation names the amd64 child
    bad = invoke(["registry", "verify", ref, "--platform", "linux/riscv64", "--json"], reg_env)
    assert bad.exit_code == 1
    (problem,) = json.loads(bad.stdout)["images"][0]["problems"]
    assert problem["kind"] == "missing_manifest" and problem["digest"] is None
    assert problem["detail"] == "index has no linux/riscv64 child (has: linux/amd64, linux/arm64)"


@pytest.mark.parametrize(
    "args",
    [
        ["not a ref"],
        ["127.0.0.1:5/x@sha256:abc"],
        ["127.0.0.1:5/x", "--username", "u"],
        ["127.0.0.1:5/x", "--platform", "linux"],
    ],
    ids=["space", "short-digest", "username-alone", "bad-platform"],
)
def test_usage_errors_exit_2(args: list[str], reg_env: dict[str, str]) -> None:
    result = invoke(["registry", "verify", *args], reg_env)
    assert result.exit_code == 2
    assert result.stderr.startswith("homeops registry: ")
    assert "Traceback" not in result.stderr


def test_unreachable_exits_4(reg_env: dict[str, str]) -> None:
    from tests.services._common import free_port

    env = {**reg_env, "HOMEOPS_REGISTRY__RETRIES": "1"}  # one retry: the path is exercised, the wait is short
    result = invoke(["registry", "verify", f"127.0.0.1:{free_port()}/a/b:c", "--json", "--timeout", "2"], env)
    assert result.exit_code == 4
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["images"][0]["problems"][0]["kind"] == "unreachable"


# ---- Basic auth (htpasswd, bcrypt cost 5) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def basic_image(registry_htpasswd: RegistryServer) -> FixtureImage:
    p = Pusher(registry_htpasswd, HTPASSWD_USER, HTPASSWD_PASSWORD)
    try:
        return push_image(p, "auth/app")
    finally:
        p.close()


def test_basic_anonymous_is_refused(
    registry_htpasswd: RegistryServer, basic_image: FixtureImage, reg_env: dict[str, str]
) -> None:
    result = invoke(["registry", "verify", f"{registry_htpasswd.host}/{basic_image.ref}"], reg_env)
    assert result.exit_code == 4
    assert "registry requires credentials" in result.stdout


def test_basic_wrong_password(
    registry_htpasswd: RegistryServer, basic_image: FixtureImage, reg_env: dict[str, str]
) -> None:
    args = [
        "registry",
        "verify",
        f"{registry_htpasswd.host}/{basic_image.ref}",
        "--username",
        "ci",
        "--password-stdin",
    ]
    result = invoke(args, reg_env, stdin="wrong-password\n")
    assert result.exit_code == 4
    assert "credentials rejected" in result.stdout
    assert "wrong-password" not in result.stdout + result.stderr


def test_basic_password_stdin(
    registry_htpasswd: RegistryServer, basic_image: FixtureImage, reg_env: dict[str, str]
) -> None:
    args = [
        "registry",
        "verify",
        f"{registry_htpasswd.host}/{basic_image.ref}",
        "--username",
        "ci",
        "--password-stdin",
    ]
    result = invoke(args, reg_env, stdin=HTPASSWD_PASSWORD + "\r\n")
    assert result.exit_code == 0, result.stdout


def test_basic_docker_config(
    registry_htpasswd: RegistryServer, basic_image: FixtureImage, reg_env: dict[str, str]
) -> None:
    auth = base64.b64encode(f"{HTPASSWD_USER}:{HTPASSWD_PASSWORD}".encode()).decode()
    config = {"auths": {f"http://{registry_htpasswd.host}/v2/": {"auth": auth}}}
    (Path(reg_env["DOCKER_CONFIG"]) / "config.json").write_text(json.dumps(config))
    result = invoke(["registry", "verify", f"{registry_htpasswd.host}/{basic_image.ref}"], reg_env)
    assert result.exit_code == 0, result.stdout


def test_basic_config_secret_reference(
    registry_htpasswd: RegistryServer, basic_image: FixtureImage, reg_env: dict[str, str]
) -> None:
    env = {
        **reg_env,
        "HOMEOPS_REGISTRY__USERNAME": HTPASSWD_USER,
        "HOMEOPS_REGISTRY__PASSWORD": "env:REG_PASS",
        "REG_PASS": HTPASSWD_PASSWORD,
    }
    result = invoke(["registry", "verify", f"{registry_htpasswd.host}/{basic_image.ref}", "--json"], env)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert HTPASSWD_PASSWORD not in result.stdout


# ---- Bearer (token auth against the stand-in token server) ------------------------------------------------------


@pytest.fixture(scope="module")
def bearer_image(registry_bearer: RegistryServer) -> FixtureImage:
    p = Pusher(registry_bearer, "ci", "tok-secret")
    try:
        return push_image(p, "tok/app")
    finally:
        p.close()


def test_bearer_flow_and_token_cache(
    registry_bearer: RegistryServer,
    bearer_image: FixtureImage,
    registry_token_server: Any,
    reg_env: dict[str, str],
) -> None:
    before = len(registry_token_server.token_requests())
    args = [
        "registry",
        "verify",
        f"{registry_bearer.host}/{bearer_image.ref}",
        "--deep",
        "--username",
        "ci",
        "--password-stdin",
    ]
    result = invoke(args, reg_env, stdin="tok-secret\n")
    assert result.exit_code == 0, result.stdout + result.stderr
    seen = registry_token_server.token_requests()[before:]
    # one token for the one scope (repository:tok/app:pull), reused for 4 manifests and 7 blobs
    assert len(seen) == 1
    assert seen[0].query["scope"] == ["repository:tok/app:pull"]
    assert seen[0].query["account"] == ["ci"]


def test_bearer_anonymous_gets_no_access(
    registry_bearer: RegistryServer, bearer_image: FixtureImage, reg_env: dict[str, str]
) -> None:
    result = invoke(["registry", "verify", f"{registry_bearer.host}/{bearer_image.ref}", "--json"], reg_env)
    assert result.exit_code == 4
    assert json.loads(result.stdout)["images"][0]["problems"][0]["kind"] == "auth"


def test_bearer_bad_credentials_at_realm(
    registry_bearer: RegistryServer, bearer_image: FixtureImage, reg_env: dict[str, str]
) -> None:
    args = [
        "registry",
        "verify",
        f"{registry_bearer.host}/{bearer_image.ref}",
        "--username",
        "ci",
        "--password-stdin",
    ]
    result = invoke(args, reg_env, stdin="nope\n")
    assert result.exit_code == 4
