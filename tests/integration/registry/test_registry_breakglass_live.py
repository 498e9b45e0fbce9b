"""Integration: `registry breakglass` with the real skopeo against a real registry, and a failing fake docker."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from homeops.cli import app
from tests.services._common import require_binary
from tests.services.registry import (
    HTPASSWD_PASSWORD,
    HTPASSWD_USER,
    Pusher,
    RegistryServer,
    push_image,
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "c.toml").write_text("")
    return {"HOMEOPS_CONFIG": str(tmp_path / "c.toml"), "DOCKER_CONFIG": str(tmp_path), "NO_COLOR": "1"}


def bg(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, ["registry", "breakglass", *args], env=env, catch_exceptions=False)


def test_save_list_check_rotate(registry: RegistryServer, env: dict[str, str], tmp_path: Path) -> None:
    require_binary("skopeo", "Debian skopeo")
    p = Pusher(registry)
    tags = [push_image(p, "bg/infra-ci", f"abcd000{i}", salt=f"bg{i}").tag for i in range(3)]
    p.close()
    d = tmp_path / "bg"
    image = f"{registry.host}/bg/infra-ci"
    dry = bg(["save", f"{image}:{tags[0]}", "--dir", str(d), "--tool", "skopeo", "--dry-run", "--json"], env)
    assert dry.exit_code == 0, dry.stdout + dry.stderr
    assert json.loads(dry.stdout)["file"] == "infra-ci-abcd0000.tar.gz"
    assert not list(d.glob("*.tar.gz"))
    for tag in tags:
        r = bg(["save", f"{image}:{tag}", "--dir", str(d), "--tool", "skopeo", "--keep", "2", "--json"], env)
        assert r.exit_code == 0, r.stdout + r.stderr
        doc = json.loads(r.stdout)
        assert doc["changed"] is True and doc["file"] == f"infra-ci-{tag}.tar.gz"
    assert os.readlink(d / "infra-ci-latest.tar.gz") == f"infra-ci-{tags[2]}.tar.gz"
    assert sorted(f.name for f in d.glob("infra-ci-*.tar.gz") if not f.is_symlink()) == [
        f"infra-ci-{tags[1]}.tar.gz",
        f"infra-ci-{tags[2]}.tar.gz",
    ]
    meta = json.loads((d / f"infra-ci-{tags[2]}.tar.gz.json").read_text())
    assert meta["image"] == f"{image}:{tags[2]}" and meta["tool"] == "skopeo"
    again = bg(["save", f"{image}:{tags[2]}", "--dir", str(d), "--tool", "skopeo", "--json"], env)
    assert json.loads(again.stdout)["changed"] is False

    listed = bg(["list", "--dir", str(d), "--check", "--json"], env)
    assert listed.exit_code == 0, listed.stdout
    assert [e["check"] for e in json.loads(listed.stdout)["entries"]] == ["ok", "ok"]
    victim = d / f"infra-ci-{tags[1]}.tar.gz"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert bg(["list", "--dir", str(d), "--check"], env).exit_code == 1

    pruned = bg(["prune", "--dir", str(d), "--keep", "1", "--yes", "--json"], env)
    assert pruned.exit_code == 0
    assert json.loads(pruned.stdout)["deleted"] == [f"infra-ci-{tags[1]}.tar.gz"]
    assert (d / "infra-ci-latest.tar.gz").exists()


def test_failing_tool_leaves_previous_state(
    registry: RegistryServer, env: dict[str, str], tmp_path: Path
) -> None:
    p = Pusher(registry)
    push_image(p, "bg/fail", "v1", salt="fail")
    p.close()
    d = tmp_path / "bg"
    d.mkdir()
    (d / "fail-old.tar.gz").write_bytes(b"previous")
    os.symlink("fail-old.tar.gz", d / "fail-latest.tar.gz")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(
        "#!/bin/sh\nif [ \"$1\" = save ]; then printf 'partial-tar'; exit 1; fi\nexit 0\n"
    )
    (fake / "docker").chmod(0o755)
    env = {**env, "PATH": f"{fake}:{os.environ['PATH']}"}
    r = bg(["save", f"{registry.host}/bg/fail:v1", "--dir", str(d), "--tool", "docker"], env)
    assert r.exit_code == 1
    assert "docker exited 1" in r.stderr
    assert os.readlink(d / "fail-latest.tar.gz") == "fail-old.tar.gz"
    assert sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) == [
        "fail-latest.tar.gz",
        "fail-old.tar.gz",
    ]
    assert not list(d.glob(".*partial*"))


def test_skopeo_saves_from_a_registry_that_needs_auth(
    registry_htpasswd: RegistryServer, env: dict[str, str], tmp_path: Path
) -> None:
    """The credentials reach skopeo through a 0600 authfile in a private dir, never argv, and are removed."""
    real = require_binary("skopeo", "Debian skopeo")
    p = Pusher(registry_htpasswd, HTPASSWD_USER, HTPASSWD_PASSWORD)
    push_image(p, "bg/private", "v1", salt="auth")
    p.close()
    log = tmp_path / "skopeo.log"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "skopeo").write_text(
        "#!/bin/sh\n"
        f'printf "ARGV %s\\n" "$*" >> {log}\n'
        'for a in "$@"; do case "$a" in --src-authfile=*) f="${a#--src-authfile=}"\n'
        f'  echo "FILE $f $(stat -c %a "$f") $(stat -c %a "$(dirname "$f")")" >> {log}\n'
        f'  grep -c auths "$f" >> {log};; esac; done\n'
        f'exec {real} "$@"\n'
    )
    (fake / "skopeo").chmod(0o755)
    env = {**env, "PATH": f"{fake}:{os.environ['PATH']}"}
    d = tmp_path / "bg"
    image = f"{registry_htpasswd.host}/bg/private:v1"
    args = ["save", image, "--dir", str(d), "--tool", "skopeo", "--json"]

    anonymous = bg(args, env)
    assert anonymous.exit_code == 4 and "requires credentials" in anonymous.stderr

    saved = CliRunner().invoke(
        app,
        ["registry", "breakglass", *args, "--username", HTPASSWD_USER, "--password-stdin"],
        input=HTPASSWD_PASSWORD + "\n",
        env=env,
        catch_exceptions=False,
    )
    assert saved.exit_code == 0, saved.stdout + saved.stderr
    assert json.loads(saved.stdout)["changed"] is True
    lines = log.read_text().splitlines()
    argv = next(line for line in lines if line.startswith("ARGV "))
    assert HTPASSWD_PASSWORD not in argv and "--src-creds" not in argv
    _, authfile, file_mode, dir_mode = next(line for line in lines if line.startswith("FILE ")).split()
    assert (file_mode, dir_mode) == ("600", "700")
    assert not os.path.exists(authfile) and not os.path.exists(os.path.dirname(authfile))
    assert HTPASSWD_PASSWORD not in saved.stdout + saved.stderr
    assert bg(["list", "--dir", str(d), "--check"], env).exit_code == 0

    # the same credentials from the config (a secret reference), as the break-glass pipeline runs it
    d2 = tmp_path / "bg2"
    configured = {
        **env,
        "HOMEOPS_REGISTRY__USERNAME": HTPASSWD_USER,
        "HOMEOPS_REGISTRY__PASSWORD": "env:BG_PASS",
        "BG_PASS": HTPASSWD_PASSWORD,
    }
    again = bg(["save", image, "--dir", str(d2), "--tool", "skopeo"], configured)
    assert again.exit_code == 0, again.stdout + again.stderr
    assert (d2 / "private-v1.tar.gz").is_file()
