"""Integration: `registry retention` on Forgejo (stand-in over a real registry) and on distribution itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from homeops.cli import app
from tests.services.registry import (
    FaultProxy,
    FixtureImage,
    Pusher,
    RegistryServer,
    push_image,
    push_single,
)
from tests.standins.forgejo import ForgejoStandin


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "c.toml").write_text("")
    return {
        "HOMEOPS_CONFIG": str(tmp_path / "c.toml"),
        "DOCKER_CONFIG": str(tmp_path),
        "NO_COLOR": "1",
        "FJ_TOKEN": "rw-token",
        "HOMEOPS_REGISTRY__RETENTION_TOKEN": "env:FJ_TOKEN",
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }


def audit_lines(env: dict[str, str]) -> list[dict[str, Any]]:
    path = Path(env["XDG_STATE_HOME"]) / "homeops" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, ["registry", "retention", *args], env=env, catch_exceptions=False)


def seed_forgejo(registry_fn: RegistryServer, forgejo: ForgejoStandin, n: int) -> list[FixtureImage]:
    p = Pusher(registry_fn)
    images = []
    for i in range(n):
        stamp = f"2026-06-{i + 1:02d}T04:00:00Z"
        image = push_image(p, "viktor/site", f"c{i:02d}", created=stamp, salt=str(i))
        images.append(image)
        forgejo.add("site", image.tag, stamp)
        for child in image.children.values():
            forgejo.add("site", child, stamp)  # Forgejo lists every child as an untagged sha256 version
    p.close()
    return images


def test_forgejo_keeps_every_child_of_kept_tags(
    registry_fn: RegistryServer, forgejo: ForgejoStandin, env: dict[str, str]
) -> None:
    images = seed_forgejo(registry_fn, forgejo, 6)
    base = ["--backend", "forgejo", "--url", forgejo.url, "--owner", "viktor", "--keep", "3"]
    plan = run(["plan", *base, "--json"], env)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    doc = json.loads(plan.stdout)
    (repo,) = doc["repos"]
    assert [k["tag"] for k in repo["keep"]] == ["c05", "c04", "c03"]
    deleted_tags = [d["ref"] for d in repo["delete"] if d["kind"] == "tag"]
    assert deleted_tags == ["c02", "c01", "c00"]
    children = {d["digest"] for d in repo["delete"] if d["kind"] == "child"}
    assert children == {c for im in images[:3] for c in im.children.values()}
    assert doc["summary"] == {"kept": 3, "to_delete": 12, "deleted": 0, "failed": 0}
    assert "Summary: kept=3 to_delete=12 dry_run=true" in run(["plan", *base], env).stdout

    refused = run(["apply", *base], env)
    assert refused.exit_code == 3  # not a TTY, no --yes

    applied = run(["apply", *base, "--yes", "--json"], env)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    out = json.loads(applied.stdout)
    assert out["changed"] is True and out["summary"]["deleted"] == 12
    # what the 2026-06-10 algorithm broke: every kept tag still verifies, children included
    for image in images[3:]:
        v = CliRunner().invoke(
            app, ["registry", "verify", f"{registry_fn.host}/{image.repo}:{image.tag}"], env=env
        )
        assert v.exit_code == 0, v.stdout
    assert not any(name == "site" and v == images[0].tag for name, v in forgejo.versions)

    again = run(["apply", *base, "--yes", "--json"], env)
    assert again.exit_code == 0
    assert json.loads(again.stdout)["changed"] is False
    (line,) = audit_lines(env)  # one line for the apply that deleted; none for plans, refusals or no-ops
    assert line["command"] == "registry retention apply" and line["result"] == "ok"
    assert line["target"] == f"forgejo {forgejo.host}" and len(line["actions"]) == 12
    assert "rw-token" not in (Path(env["XDG_STATE_HOME"]) / "homeops" / "audit.jsonl").read_text()


def test_forgejo_read_only_token_is_refused(
    registry_fn: RegistryServer, forgejo: ForgejoStandin, env: dict[str, str]
) -> None:
    seed_forgejo(registry_fn, forgejo, 3)
    base = ["--backend", "forgejo", "--url", forgejo.url, "--owner", "viktor", "--keep", "1", "--yes"]
    result = run(["apply", *base], {**env, "FJ_TOKEN": "ro-token"})
    assert result.exit_code == 3
    assert "not the owner viktor" in result.stderr
    forgejo.orgs.add(
        "viktor"
    )  # as an org owner the preflight only warns; the DELETE then answers 403 → exit 4
    result = run(["apply", *base], {**env, "FJ_TOKEN": "ro-token"})
    assert result.exit_code == 4
    assert "write:package" in result.stderr


def test_distribution_backend(registry_fn: RegistryServer, env: dict[str, str]) -> None:
    p = Pusher(registry_fn)
    images = [
        push_image(p, "d/app", f"t{i}", created=f"2026-11-0{i + 1}T00:00:00Z", salt=str(i)) for i in range(4)
    ]
    push_image(p, "d/app", "latest", created="2026-11-01T00:00:00Z", salt="0")  # the same index as t0
    p.close()
    base = ["--backend", "distribution", "--url", registry_fn.host, "--keep", "2"]
    plan = json.loads(run(["plan", *base, "--json"], env).stdout)
    (repo,) = plan["repos"]
    assert {k["tag"]: k["reason"] for k in repo["keep"]} == {
        "latest": "protected",
        "t3": "newest",
        "t2": "newest",
    }
    assert {"ref": "t0", "reason": "shares_digest"} in repo["skipped"]  # latest points at the same index
    assert [d["ref"] for d in repo["delete"] if d["kind"] == "tag"] == ["t1"]
    applied = run(["apply", *base, "--yes"], env)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert "retention gc" in applied.stderr
    (line,) = audit_lines(env)
    assert line["result"] == "ok" and line["target"] == f"distribution {registry_fn.host}"
    assert line["actions"] == [
        {"verb": "delete", "target": f"d/app@{images[1].index}", "detail": "tag t1"},
        *[
            {"verb": "delete", "target": f"d/app@{child}", "detail": f"child {child}"}
            for child in images[1].children.values()
        ],
    ]
    gone = CliRunner().invoke(
        app, ["registry", "verify", f"{registry_fn.host}/d/app@{images[1].index}"], env=env
    )
    assert gone.exit_code == 1
    for tag in ("latest", "t0", "t2", "t3"):
        ok = CliRunner().invoke(app, ["registry", "verify", f"{registry_fn.host}/d/app:{tag}"], env=env)
        assert ok.exit_code == 0, (tag, ok.stdout)
    assert json.loads(run(["plan", *base, "--json"], env).stdout)["summary"]["to_delete"] == 0


def test_max_deletes_refuses(registry_fn: RegistryServer, env: dict[str, str]) -> None:
    p = Pusher(registry_fn)
    for i in range(3):
        push_image(p, "m/app", f"t{i}", created=f"2026-11-0{i + 1}T00:00:00Z", salt=str(i))
    p.close()
    result = run(
        ["plan", "--backend", "distribution", "--url", registry_fn.host, "--keep", "1", "--max-deletes", "3"],
        env,
    )
    assert result.exit_code == 3
    assert "--max-deletes" in result.stderr


def test_gc_guards_and_counts(registry_fn: RegistryServer, env: dict[str, str]) -> None:
    p = Pusher(registry_fn)
    push_image(p, "gc/app", "v1")
    p.close()
    base = ["gc", "--config", str(registry_fn.config), "--binary", registry_fn.binary]
    serving = run([*base, "--yes"], env)
    assert serving.exit_code == 3 and "serving" in serving.stderr
    registry_fn.stop()
    untagged = run([*base, "--delete-untagged", "--yes"], env)
    assert untagged.exit_code == 3 and "2.8.2" in untagged.stderr
    dry = run([*base, "--dry-run", "--json"], env)
    assert dry.exit_code == 0, dry.stdout + dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["dry_run"] is True and doc["changed"] is False
    assert doc["marked"] == 11 and doc["blobs_eligible"] == 0


def test_ctrl_c_during_a_delete_names_it_outcome_unknown(
    registry_fn: RegistryServer, env: dict[str, str]
) -> None:
    """A real SIGINT while the registry holds the DELETE: exit 130, the in-flight tag named, audited."""
    p = Pusher(registry_fn)
    old = push_single(p, "int/app", "t0", created="2026-11-01T00:00:00Z", salt="0")
    push_single(p, "int/app", "t1", created="2026-11-02T00:00:00Z", salt="1")
    p.close()
    proxy = FaultProxy(registry_fn.base)
    proxy.plan = {"DELETE /v2/int/app/manifests/": ["hold"]}
    try:
        argv = ["registry", "retention", "apply", "--backend", "distribution", "--url", proxy.host]
        proc = subprocess.Popen(
            [sys.executable, "-m", "homeops", *argv, "--keep", "1", "--yes"],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proxy.held.wait(30), "the DELETE never reached the registry"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        proxy.stop()
    assert proc.returncode == 130, out + err
    assert f"int/app tag t0 ({old}) — outcome unknown" in err
    assert "Traceback" not in err
    (line,) = audit_lines(env)
    assert line["result"] == "interrupted"
    assert line["actions"] == [
        {"verb": "delete", "target": f"int/app@{old}", "detail": "tag t0, outcome unknown"}
    ]


def test_pull_through_cache_405_stops_retention(
    registry_cache: tuple[RegistryServer, RegistryServer], env: dict[str, str]
) -> None:
    """A real distribution pull-through cache answers DELETE with 405 UNSUPPORTED: stop at once, exit 1."""
    upstream, cache = registry_cache
    p = Pusher(upstream)
    digests = [
        push_single(p, "pc/app", f"t{i}", created=f"2026-11-0{i + 1}T00:00:00Z", salt=f"pc{i}")
        for i in range(3)
    ]
    p.close()
    for i in range(3):  # pull every tag through the cache, so its catalog lists the repo
        pulled = CliRunner().invoke(app, ["registry", "verify", f"{cache.host}/pc/app:t{i}"], env=env)
        assert pulled.exit_code == 0, pulled.stdout + pulled.stderr
    counter = FaultProxy(cache.base)  # forwards everything; counts the DELETEs that reach the cache
    try:
        base = ["--backend", "distribution", "--url", counter.host, "--keep", "1"]
        plan = json.loads(run(["plan", *base, "--json"], env).stdout)
        assert [d["ref"] for d in plan["repos"][0]["delete"]] == ["t1", "t0"]
        applied = run(["apply", *base, "--yes"], env)
    finally:
        counter.stop()
    assert applied.exit_code == 1, applied.stdout + applied.stderr
    assert f"DELETE pc/app@{digests[1]} → 405 UNSUPPORTED" in applied.stderr
    assert "pull-through cache" in applied.stderr
    assert "deleted 0 of 2 planned; 2 not deleted" in applied.stderr
    assert [path for method, path in counter.seen if method == "DELETE"] == [
        f"/v2/pc/app/manifests/{digests[1]}"
    ]  # it stopped at the first 405: t0 was never tried
    (line,) = audit_lines(env)
    assert line["result"] == "failed" and line["actions"] == []
    for host in (upstream.host, cache.host):  # nothing was lost, upstream or cached
        for i in range(3):
            ok = CliRunner().invoke(app, ["registry", "verify", f"{host}/pc/app:t{i}"], env=env)
            assert ok.exit_code == 0, (host, i, ok.stdout)
