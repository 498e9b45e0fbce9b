"""Integration: `registry probe` against a real registry and a real Pushgateway; alert rules with promtool."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from homeops.cli import app
from tests.services._common import free_port, require_binary
from tests.services.registry import Pusher, RegistryServer, push_image, push_single

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "alerts" / "registry.rules.yml"


def test_promtool_check_rules() -> None:
    promtool = require_binary("promtool", "Debian prometheus")
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 3 rules found" in done.stdout


def test_promtool_test_rules() -> None:
    promtool = require_binary("promtool", "Debian prometheus")
    test_file = ROOT / "tests" / "fixtures" / "registry" / "registry.rules.test.yml"
    done = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def series(text: str, job: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith("registry_manifest_integrity_") and f'job="{job}"' in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def probe(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, ["registry", "probe", *args], env=env, catch_exceptions=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "c.toml").write_text("")
    return {"HOMEOPS_CONFIG": str(tmp_path / "c.toml"), "DOCKER_CONFIG": str(tmp_path), "NO_COLOR": "1"}


def test_probe_pushes_gauges_then_breaks_then_unreachable(
    registry_fn: RegistryServer, pushgateway: Any, env: dict[str, str], tmp_path: Path
) -> None:
    p = Pusher(registry_fn)
    app_images = [
        push_image(p, "p/app", f"v{i}", created=f"2026-11-0{i}T00:00:00Z", salt=str(i)) for i in range(1, 8)
    ]
    push_image(p, "p/app", "latest", created="2026-10-01T00:00:00Z", salt="1")  # same content as v1
    push_single(p, "p/single", "only")
    push_single(p, "other/x", "a")
    p.close()
    job = "homeops-test-probe"
    base = [f"http://{registry_fn.host}", "--pushgateway", pushgateway.url, "--job", job, "--repo", "p/*"]
    textfile = tmp_path / "probe.prom"
    result = probe(
        [*base, "--tags", "3", "--instance", "forgejo.test", "--textfile", str(textfile), "--json"], env
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["catalog_accessible"] == 1 and doc["pushed"] is True
    assert doc["repos_checked"] == 2  # other/x is filtered out
    tags = {r["repo"]: [t["tag"] for t in r["tags"]] for r in doc["repos"]}
    assert tags["p/app"] == ["latest", "v7", "v6", "v5"]  # newest 3 by config created, plus latest
    assert tags["p/single"] == ["only"]
    assert doc["tags_checked"] == 5 and doc["indexes_checked"] == 4 and doc["failures"] == 0
    got = series(pushgateway.metrics_text(), job)
    labels = f'instance="forgejo.test",job="{job}"'
    assert got[f"registry_manifest_integrity_failures{{{labels}}}"] == 0
    assert got[f"registry_manifest_integrity_catalog_accessible{{{labels}}}"] == 1
    assert got[f"registry_manifest_integrity_repos_checked{{{labels}}}"] == 2
    assert got[f"registry_manifest_integrity_tags_checked{{{labels}}}"] == 5
    assert got[f"registry_manifest_integrity_indexes_checked{{{labels}}}"] == 4
    assert got[f"registry_manifest_integrity_last_run_timestamp{{{labels}}}"] == doc["last_run_timestamp"]
    assert (
        f'registry_manifest_integrity_failures{{job="{job}",instance="forgejo.test"}} 0'
        in textfile.read_text()
    )

    # break v7's arm64 child: the probe finds it, exits 1 and pushes failures 1
    registry_fn.blob_data(app_images[6].children["linux/arm64"]).unlink()
    broken = probe([*base, "--tags", "3", "--instance", "forgejo.test"], env)
    assert broken.exit_code == 1
    assert re.search(r"^FAIL: p/app:v7 missing_manifest sha256:[0-9a-f]{64} ", broken.stdout, re.M)
    assert broken.stdout.rstrip().endswith("Probe complete: 1 failures across 2 repos / 5 tags / 4 indexes")
    assert series(pushgateway.metrics_text(), job)[f"registry_manifest_integrity_failures{{{labels}}}"] == 1

    # registry down: POST only catalog_accessible 0 and the timestamp; the last failures count stays
    registry_fn.stop()
    down = probe([*base, "--instance", "forgejo.test", "--json"], {**env, "HOMEOPS_REGISTRY__RETRIES": "0"})
    assert down.exit_code == 4
    assert json.loads(down.stdout)["catalog_accessible"] == 0
    got = series(pushgateway.metrics_text(), job)
    assert got[f"registry_manifest_integrity_catalog_accessible{{{labels}}}"] == 0
    assert got[f"registry_manifest_integrity_failures{{{labels}}}"] == 1
    assert got[f"registry_manifest_integrity_tags_checked{{{labels}}}"] == 5


def test_probe_failed_push_exits_4(registry: RegistryServer, env: dict[str, str]) -> None:
    p = Pusher(registry)
    push_single(p, "pushfail/x", "a")
    p.close()
    dead = f"http://127.0.0.1:{free_port()}"
    result = probe(
        [f"http://{registry.host}", "--repo", "pushfail/*", "--pushgateway", dead, "--json"],
        {**env, "HOMEOPS_REGISTRY__RETRIES": "1"},
    )
    assert result.exit_code == 4
    assert json.loads(result.stdout)["pushed"] is False
    assert "push" in result.stderr


def test_probe_empty_catalog(registry_fn: RegistryServer, env: dict[str, str]) -> None:
    assert probe([registry_fn.host], env).exit_code == 4
    assert probe([registry_fn.host, "--allow-empty"], env).exit_code == 0


def test_probe_job_conflict_is_usage(registry: RegistryServer, env: dict[str, str]) -> None:
    args = [registry.host, "--pushgateway", "http://127.0.0.1:9/metrics/job/a", "--job", "b"]
    result = probe(args, env)
    assert result.exit_code == 2


def test_probe_deadline_skips_and_exits_4(registry: RegistryServer, env: dict[str, str]) -> None:
    p = Pusher(registry)
    push_single(p, "deadline/x", "a")
    push_single(p, "deadline/x", "b", salt="b")
    p.close()
    result = probe([registry.host, "--repo", "deadline/*", "--deadline", "0", "--json"], env)
    assert result.exit_code == 4
    doc = json.loads(result.stdout)
    assert sorted(doc["skipped_tags"]) == ["deadline/x:a", "deadline/x:b"]
    assert doc["tags_checked"] == 0 and doc["catalog_accessible"] == 1


def test_probe_from_legacy_env_file(registry: RegistryServer, tmp_path: Path) -> None:
    p = Pusher(registry)
    push_single(p, "legacy/x", "a")
    p.close()
    envfile = tmp_path / "probe.env"
    envfile.write_text(
        f"REGISTRY_HOST={registry.host}\nREGISTRY_SCHEME=http\nREGISTRY_INSTANCE=old-label\nTAGS_PER_REPO=1\n"
        "REG_PASS=never-shown\n"
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[registry]\nlegacy_env_file = "{envfile}"\nprobe_repos = ["legacy/*"]\nprobe_instance = "toml-wins"\n'
    )
    result = probe(["--json"], {"HOMEOPS_CONFIG": str(cfg), "DOCKER_CONFIG": str(tmp_path)})
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["url"] == f"http://{registry.host}" and doc["instance"] == "toml-wins"
    assert doc["tags_checked"] == 1
    assert "never-shown" not in result.stdout + result.stderr
