"""Integration: `registry scan` on a real store that docker-registry wrote, damaged each way (registry.md §3.4, §8)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from typer.testing import CliRunner

from homeops.cli import app
from homeops.registry.scan import scan
from tests.services.registry import Pusher, RegistryServer, push_image, push_single


def kinds(report: object) -> set[tuple[str, str, str]]:
    return {(f.kind, f.repo, f.digest) for r in report.registries for f in r.findings}  # type: ignore[attr-defined]


def test_scan_finds_each_damage_and_fix_removes_orphan_links(
    registry_fn: RegistryServer, tmp_path: Path
) -> None:
    p = Pusher(registry_fn)
    intact = push_image(p, "s/intact")
    child_gone = push_image(p, "s/child", salt="child")
    layer_gone = push_image(p, "s/layer", salt="layer")
    edited = push_image(p, "s/edited", salt="edited")
    tagless = push_single(p, "s/tagless", "v1", salt="tagless")
    linkless = push_image(p, "s/linkless", salt="linkless")
    p.close()
    v2 = registry_fn.v2
    clean = scan(registry_fn.root, caches=set(), stale_hours=24, fix=False, dry_run=False)
    assert clean.exit_code() == 0 and kinds(clean) == set()
    assert clean.registries[0].indexes_checked == 5

    registry_fn.blob_data(child_gone.children["linux/arm64"]).unlink()
    registry_fn.blob_data(layer_gone.layers["amd64"]).unlink()
    index_data = registry_fn.blob_data(edited.index)
    index_data.write_bytes(json.dumps(json.loads(index_data.read_bytes()), indent=1).encode())
    rev = (
        v2 / "repositories" / "s" / "tagless" / "_manifests" / "revisions" / "sha256" / tagless.split(":")[1]
    )
    (rev / "link").unlink()
    rev.rmdir()
    layer_link = (
        v2 / "repositories" / "s" / "linkless" / "_layers" / "sha256" / linkless.layers["arm64"].split(":")[1]
    )
    (layer_link / "link").unlink()
    bad = (
        v2
        / "repositories"
        / "s"
        / "intact"
        / "_layers"
        / "sha256"
        / intact.layers["base"].split(":")[1]
        / "link"
    )
    bad.write_bytes(b"sha256:nothex\n")
    upload = v2 / "repositories" / "s" / "intact" / "_uploads" / "0b1c-stale"
    upload.mkdir(parents=True)
    (upload / "startedat").write_text("2026-01-01T00:00:00Z")
    old = time.time() - 3 * 86400
    os.utime(upload / "startedat", (old, old))

    found = scan(registry_fn.root, caches=set(), stale_hours=24, fix=False, dry_run=False)
    got = kinds(found)
    assert ("revision_without_blob", "s/child", child_gone.children["linux/arm64"]) in got
    assert ("orphan_layer_link", "s/layer", layer_gone.layers["amd64"]) in got
    assert ("corrupt_manifest", "s/edited", edited.index) in got
    assert ("tag_without_revision", "s/tagless", tagless) in got
    assert ("missing_layer_link", "s/linkless", linkless.layers["arm64"]) in got
    assert ("bad_link", "s/intact", intact.layers["base"]) in got
    assert ("stale_upload", "s/intact", "0b1c-stale") in got
    assert found.exit_code() == 1

    runner = CliRunner()
    env = {"HOMEOPS_CONFIG": str(tmp_path / "c.toml"), "NO_COLOR": "1"}
    (tmp_path / "c.toml").write_text("")
    dry = runner.invoke(
        app, ["registry", "scan", str(registry_fn.root), "--fix", "--dry-run", "--json"], env=env
    )
    assert dry.exit_code == 1
    doc = json.loads(dry.stdout)
    assert doc["changed"] is False and doc["dry_run"] is True
    assert doc["actions"] == [
        {
            "action": "remove_link",
            "registry": registry_fn.root.name,
            "repo": "s/layer",
            "digest": layer_gone.layers["amd64"],
        }
    ]
    assert (
        v2 / "repositories/s/layer/_layers/sha256" / layer_gone.layers["amd64"].split(":")[1] / "link"
    ).exists()

    refused = runner.invoke(app, ["registry", "scan", str(registry_fn.root), "--fix"], env=env)
    assert refused.exit_code == 3  # off a TTY without --yes

    fixed = runner.invoke(app, ["registry", "scan", str(registry_fn.root), "--fix", "--yes"], env=env)
    assert "FIXED orphan_layer_link s/layer" in fixed.stdout
    assert "restart the registry" in fixed.stderr
    assert "Layer scan: checked" in fixed.stdout and "removed 1 orphaned." in fixed.stdout
    assert fixed.exit_code == 1  # the other findings are not fixable

    again = scan(registry_fn.root, caches=set(), stale_hours=24, fix=False, dry_run=False)
    assert not [k for k in kinds(again) if k[0] == "orphan_layer_link"]
    assert ("corrupt_manifest", "s/edited", edited.index) in kinds(again)


def test_scan_after_gc_m_and_cache_suppression(registry_fn: RegistryServer, tmp_path: Path) -> None:
    p = Pusher(registry_fn)
    image = push_image(p, "g/app")
    p.close()
    registry_fn.stop()
    subprocess.run(
        [registry_fn.binary, "garbage-collect", "-m", str(registry_fn.config)],
        check=True,
        capture_output=True,
    )
    report = scan(registry_fn.root, caches=set(), stale_hours=24, fix=False, dry_run=True)
    got = [(f.kind, f.detail) for f in report.registries[0].findings]
    orphans = [d for k, d in got if k == "orphan_layer_link"]
    children = [d for k, d in got if k == "orphan_index_child"]
    assert len(orphans) == 7
    assert sorted(children) == [
        "linux/amd64 blob-data-present",
        "linux/arm64 blob-data-present",
        "unknown/unknown blob-data-present",
    ]
    assert (
        "DRY RUN — Index scan: inspected 1 image indexes, found 3 orphaned children." in report.render_human()
    )
    # the same store as a pull-through cache: missing children are expected there
    parent = tmp_path / "multi"
    parent.mkdir()
    (parent / "dockerhub").symlink_to(registry_fn.root)  # a symlinked root is not followed
    os.rename(registry_fn.root, parent / "ghcr")
    cached = scan(parent, caches={"ghcr"}, stale_hours=24, fix=False, dry_run=True)
    assert [r.name for r in cached.registries] == ["ghcr"]
    assert cached.registries[0].cache_partial == 3
    assert {f.kind for f in cached.registries[0].findings} == {"orphan_layer_link"}
    assert image.index  # the index itself survived GC


def test_scan_refuses_bad_roots(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"HOMEOPS_CONFIG": str(tmp_path / "c.toml")}
    (tmp_path / "c.toml").write_text("")
    for root in ("/", str(tmp_path / "missing"), str(tmp_path)):
        result = runner.invoke(app, ["registry", "scan", root], env=env)
        assert result.exit_code == 2, root
        assert result.stderr.startswith("homeops registry: ")
