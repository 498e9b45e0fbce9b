"""Service: one run's image walker — one registry client, a pool of ``concurrency`` workers and a memo of
requests shared by every REF; verifies images and dates tags (specs/registry.md §3.2).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from homeops.registry import media
from homeops.registry.descriptors import platform_text
from homeops.registry.image_walk import ImageWalk
from homeops.registry.oci import (
    BlobHead,
    BlobRead,
    ManifestReply,
    RegistryClient,
    RequestFailed,
    parse_json_object,
)
from homeops.registry.ref import Reference, is_digest
from homeops.registry.verify_report import ImageResult, VerifyReport

# VerifyReport is re-exported: benchmarks/registry_verify.py imports it from here with Walker.
__all__ = ["VerifyReport", "Walker"]

T = TypeVar("T")


class Walker:
    """One run's walker: one client, one pool of ``concurrency`` workers, one memo of requests."""

    def __init__(
        self, client: RegistryClient, *, deep: bool, concurrency: int, manifests_only: bool = False
    ) -> None:
        self.client = client
        self.deep = deep
        self.manifests_only = manifests_only  # retention: resolve closures without touching blobs
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="registry")
        self._memo: dict[tuple[str, ...], Future[Any]] = {}

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Walker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _submit(self, key: tuple[str, ...], fn: Callable[[], T]) -> Future[T | RequestFailed]:
        found = self._memo.get(key)
        if found is None:

            def run() -> T | RequestFailed:
                try:
                    return fn()
                except RequestFailed as exc:
                    return exc

            found = self.pool.submit(run)
            self._memo[key] = found
        return found

    def manifest(self, host: str, repo: str, ref: str) -> Future[ManifestReply | RequestFailed]:
        return self._submit((host, repo, "manifest", ref), lambda: self.client.get_manifest(host, repo, ref))

    def blob(
        self, host: str, repo: str, digest: str, deep: bool
    ) -> Future[BlobHead | BlobRead | RequestFailed]:
        mode = "deep" if deep else "head"

        def check() -> BlobHead | BlobRead:
            if deep:
                return self.client.read_blob(host, repo, digest)
            return self.client.head_blob(host, repo, digest)

        return self._submit((host, repo, "blob", digest, mode), check)

    def config(self, host: str, repo: str, digest: str) -> Future[bytes | RequestFailed | None]:
        return self._submit(
            (host, repo, "config", digest), lambda: self.client.get_blob_bytes(host, repo, digest)
        )

    # ---- the walk ------------------------------------------------------------------------------------
    def prefetch(self, ref: Reference) -> None:
        """Start the top request early so several REFs are resolved at once."""
        self.manifest(ref.host, ref.repo, ref.reference)

    def verify(self, ref: Reference, platform: tuple[str, str, str | None] | None = None) -> ImageResult:
        """Walk one REF's whole graph; every problem is collected, none stops the walk."""
        return ImageWalk(self, ref, platform).run()

    def created(self, ref: Reference) -> str | None:
        """The RFC 3339 ``created`` of a tag's image config (an index: its first image child); None if undated."""
        reply = self.manifest(ref.host, ref.repo, ref.reference).result()
        if isinstance(reply, RequestFailed) or reply.status != 200:
            return None
        body = parse_json_object(reply.body)
        if body is None:
            return None
        kind, _ = media.classify(reply.content_type, body)
        if kind == "index":
            child = None
            for desc in body.get("manifests") or []:
                if not isinstance(desc, dict) or not is_digest(str(desc.get("digest", ""))):
                    continue
                annotations = desc.get("annotations") or {}
                if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
                    continue
                if platform_text(desc.get("platform")) == "unknown/unknown":
                    continue
                if not media.is_manifest_type(desc.get("mediaType")):
                    continue
                child = str(desc["digest"])
                break
            if child is None:
                return None
            reply = self.manifest(ref.host, ref.repo, child).result()
            if isinstance(reply, RequestFailed) or reply.status != 200:
                return None
            body = parse_json_object(reply.body)
            if body is None:
                return None
        config = body.get("config")
        if not isinstance(config, dict) or config.get("mediaType") not in media.IMAGE_CONFIG_TYPES:
            return None
        digest = str(config.get("digest", ""))
        if not is_digest(digest):
            return None
        raw = self.config(ref.host, ref.repo, digest).result()
        if not isinstance(raw, bytes):
            return None
        data = parse_json_object(raw)
        created = data.get("created") if data else None
        return created if isinstance(created, str) and created else None
