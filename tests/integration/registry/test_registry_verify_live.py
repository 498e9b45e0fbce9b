"""Integration: `registry verify` against Debian's docker-registry on 127.0.0.1 (registry.md §8)."""

from __future__ import annotations

from pathlib import Path

from homeops.registry.oci import ClientOptions, RegistryClient
from homeops.registry.ref import parse_reference
from homeops.registry.verify import Walker
from homeops.registry.verify_report import VerifyReport
from tests.services.registry import Pusher, RegistryServer, push_image


def run_verify(server: RegistryServer, refs: list[str], *, deep: bool = False) -> VerifyReport:
    with (
        RegistryClient(ClientOptions(retries=1), None, sleep=lambda s: None) as client,
        Walker(client, deep=deep, concurrency=4) as walker,
    ):
        parsed = [parse_reference(f"{server.host}/{r}") for r in refs]
        for p in parsed:
            walker.prefetch(p)
        return VerifyReport("deep" if deep else "head", [walker.verify(p) for p in parsed])


def test_intact_image_verifies(registry: RegistryServer, pusher: Pusher) -> None:
    image = push_image(pusher, "t/intact")
    report = run_verify(registry, [image.ref])
    assert report.exit_code() == 0, report.render_human()
    (result,) = report.images
    assert result.digest == image.index
    assert result.manifests_checked == 4
    assert result.blobs_checked == 7
    assert [c.role for c in result.children] == ["image", "image", "attestation"]
    deep = run_verify(registry, [image.ref], deep=True)
    assert deep.exit_code() == 0, deep.render_human()


def test_index_without_media_type(registry: RegistryServer, pusher: Pusher) -> None:
    image = push_image(pusher, "t/nomt", with_media_type=False)
    report = run_verify(registry, [image.ref])
    assert report.exit_code() == 0, report.render_human()
    assert report.images[0].media_type == "application/vnd.oci.image.index.v1+json"


def test_deleted_child_manifest_fails_at_once(registry_fn: RegistryServer) -> None:
    pusher = Pusher(registry_fn)
    image = push_image(pusher, "t/app")
    child = image.children["linux/arm64"]
    registry_fn.blob_data(child).unlink()
    report = run_verify(registry_fn, [image.ref])
    assert report.exit_code() == 1
    kinds = [(p.kind, p.digest, p.parent) for p in report.images[0].problems]
    assert ("missing_manifest", child, image.index) in kinds
    assert [c.ok for c in report.images[0].children] == [True, False, True]


def _damage_then_check(server: RegistryServer, damage: str) -> None:
    pusher = Pusher(server)
    image = push_image(pusher, "t/app")
    assert run_verify(server, [image.ref]).exit_code() == 0  # warms the blob descriptor cache
    target = image.configs["amd64"] if damage == "config" else image.layers["arm64"]
    path = server.blob_data(target)
    if damage == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    parent = image.children["linux/amd64" if damage == "config" else "linux/arm64"]
    # still cached: HEAD passes (a documented limit), --deep sees it at once
    deep = run_verify(server, [image.ref], deep=True)
    assert deep.exit_code() == 1, deep.render_human()
    assert any(p.digest == target and p.parent == parent for p in deep.images[0].problems)
    server.restart()
    head = run_verify(server, [image.ref])
    assert head.exit_code() == 1, head.render_human()
    (problem,) = [p for p in head.images[0].problems if p.digest == target]
    assert problem.parent == parent
    assert problem.kind == ("size_mismatch" if damage == "truncate" else "missing_blob")


def test_deleted_config(registry_fn: RegistryServer) -> None:
    _damage_then_check(registry_fn, "config")


def test_deleted_layer(registry_fn: RegistryServer) -> None:
    _damage_then_check(registry_fn, "layer")


def test_truncated_blob(registry_fn: RegistryServer) -> None:
    _damage_then_check(registry_fn, "truncate")


def test_bit_flipped_layer_needs_deep(registry_fn: RegistryServer) -> None:
    pusher = Pusher(registry_fn)
    image = push_image(pusher, "t/app")
    path: Path = registry_fn.blob_data(image.layers["amd64"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    registry_fn.restart()
    assert run_verify(registry_fn, [image.ref]).exit_code() == 0
    deep = run_verify(registry_fn, [image.ref], deep=True)
    assert deep.exit_code() == 1
    assert [p.kind for p in deep.images[0].problems] == ["digest_mismatch"]


def test_stopped_registry_is_unreachable(registry_fn: RegistryServer) -> None:
    pusher = Pusher(registry_fn)
    image = push_image(pusher, "t/app")
    registry_fn.stop()
    report = run_verify(registry_fn, [image.ref])
    assert report.exit_code() == 4
    assert not report.ok
    assert report.images[0].digest is None
