"""Service: the walk of one image's graph (index → children → config → layers); problems are kept in graph
order and blob checks run in the walker's pool (specs/registry.md §3.2).
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from homeops.registry import media
from homeops.registry.blob_verdict import PendingBlob, judge_blob
from homeops.registry.descriptors import is_attestation, platform_matches, platform_text, role_of
from homeops.registry.oci import ManifestReply, RequestFailed, parse_json_object
from homeops.registry.ref import Reference, is_digest
from homeops.registry.verify_report import Child, ImageResult, Problem

if TYPE_CHECKING:
    from homeops.registry.verify import Walker

MAX_DEPTH = 8


class ImageWalk:
    """The walk of one REF (runs in the caller's thread; requests run in the walker's pool)."""

    def __init__(self, walker: Walker, ref: Reference, platform: tuple[str, str, str | None] | None) -> None:
        self.w = walker
        self.ref = ref
        self.platform = platform
        self.result = ImageResult(ref.text, ref.repo)
        self.entries: list[Problem | PendingBlob] = []
        self.entry_child: list[int | None] = []
        self.visited: set[str] = set()
        self.blobs: set[str] = set()

    def problem(
        self, kind: str, digest: str | None, parent: str | None, detail: str, child: int | None, ctx: str
    ) -> None:
        self.entries.append(Problem(kind, digest, parent, detail, ctx))
        self.entry_child.append(child)

    def run(self) -> ImageResult:
        ref = self.ref
        reply = self.w.manifest(ref.host, ref.repo, ref.reference).result()
        path = f"/v2/{ref.repo}/manifests/{ref.reference}"
        if isinstance(reply, RequestFailed):
            self.problem(
                reply.kind if reply.kind != "not_registry" else "unreachable",
                ref.digest,
                None,
                reply.detail,
                None,
                "",
            )
            return self.finish()
        if reply.status == 404:
            self.problem(
                "missing_manifest",
                ref.digest,
                None,
                f"GET {path} → 404 {_error_code(reply.body)}".rstrip(),
                None,
                "",
            )
            return self.finish()
        if reply.status != 200:
            self.problem("server_error", ref.digest, None, f"GET {path} → {reply.status}", None, "")
            return self.finish()
        algo = ref.digest.split(":", 1)[0] if ref.digest else "sha256"
        actual = f"{algo}:{hashlib.new(algo, reply.body).hexdigest()}"
        self.result.digest = ref.digest or actual
        self.result.manifests_checked += 1
        self.visited.add(actual)
        if reply.too_big:
            self.problem("unexpected_media_type", actual, None, "manifest larger than 4 MiB", None, "")
            return self.finish()
        if ref.digest and actual != ref.digest:
            self.problem("digest_mismatch", ref.digest, None, f"body hashes to {actual}", None, "")
        elif reply.digest_header and reply.digest_header != actual:
            self.problem(
                "digest_mismatch",
                actual,
                None,
                f"Docker-Content-Digest {reply.digest_header} but body hashes to {actual}",
                None,
                "",
            )
        body = parse_json_object(reply.body)
        if body is None:
            self.problem(
                "unexpected_media_type", actual, None, "manifest body is not a JSON object", None, ""
            )
            return self.finish()
        kind, detail = media.classify(reply.content_type, body)
        self.result.kind = kind
        self.result.media_type = media.bare_type(reply.content_type) or (
            body.get("mediaType") if isinstance(body.get("mediaType"), str) else None
        )
        if detail:
            self.problem("unexpected_media_type", actual, None, detail, None, "")
        self.walk_body(kind, body, actual, depth=0, child=None, role="image", top=True)
        return self.finish()

    def walk_body(
        self,
        kind: str,
        body: dict[str, Any],
        digest: str,
        *,
        depth: int,
        child: int | None,
        role: str,
        top: bool,
    ) -> None:
        if kind == "index":
            self.walk_index(body, digest, depth=depth, top=top, child=child)
        elif kind == "image":
            self.walk_image(body, digest, child=child, role=role)
        elif kind == "artifact":
            for desc in body.get("blobs") or []:
                self.check_blob(desc, digest, child, role)

    def walk_index(
        self, body: dict[str, Any], parent: str, *, depth: int, top: bool, child: int | None
    ) -> None:
        descs = [d for d in body.get("manifests") or [] if isinstance(d, dict)]
        if top and self.platform is not None:
            descs = self.filter_platform(descs, parent)
        futures: list[tuple[dict[str, Any], Future[ManifestReply | RequestFailed] | None]] = []
        for desc in descs:
            d = str(desc.get("digest", ""))
            if media.is_manifest_type(desc.get("mediaType")) and is_digest(d) and d not in self.visited:
                futures.append((desc, self.w.manifest(self.ref.host, self.ref.repo, d)))
            else:
                futures.append((desc, None))
        for desc, fut in futures:
            d = str(desc.get("digest", ""))
            platform = platform_text(desc.get("platform"))
            if not is_digest(d):
                self.problem(
                    "unexpected_media_type",
                    None,
                    parent,
                    f"descriptor digest {d!r} is not a digest",
                    child,
                    platform or "",
                )
                continue
            if not media.is_manifest_type(desc.get("mediaType")):
                idx = child if child is not None else self.add_child(d, "blob", platform)
                self.check_blob(desc, parent, idx, "blob")
                continue
            if d in self.visited:
                continue
            self.visited.add(d)
            assert fut is not None
            idx = child if child is not None else self.add_child(d, "image", platform)
            self.walk_child(desc, fut.result(), parent, depth + 1, idx, top_level=child is None)

    def add_child(self, digest: str, role: str, platform: str | None) -> int:
        self.result.children.append(Child(digest, role, platform))
        return len(self.result.children) - 1

    def filter_platform(self, descs: list[dict[str, Any]], parent: str) -> list[dict[str, Any]]:
        assert self.platform is not None
        kept = [
            d for d in descs if platform_matches(d.get("platform"), self.platform) and not is_attestation(d)
        ]
        if not kept:
            have = sorted(
                {p for d in descs if not is_attestation(d) and (p := platform_text(d.get("platform")))}
            )
            want = "/".join(x for x in self.platform if x)
            self.problem(
                "missing_manifest",
                None,
                parent,
                f"index has no {want} child (has: {', '.join(have)})",
                None,
                "",
            )
            return []
        names = {d.get("digest") for d in kept}
        attest = [
            d
            for d in descs
            if is_attestation(d) and (d.get("annotations") or {}).get("vnd.docker.reference.digest") in names
        ]
        return [d for d in descs if d in kept or d in attest]

    def walk_child(
        self,
        desc: dict[str, Any],
        reply: ManifestReply | RequestFailed,
        parent: str,
        depth: int,
        idx: int,
        top_level: bool,
    ) -> None:
        d = str(desc["digest"])
        platform = platform_text(desc.get("platform"))
        ctx = platform or ""
        path = f"/v2/{self.ref.repo}/manifests/{d}"
        if isinstance(reply, RequestFailed):
            self.problem(reply.kind, d, parent, reply.detail, idx, ctx)
            return
        self.result.manifests_checked += 1
        if reply.status == 404:
            self.problem(
                "missing_manifest",
                d,
                parent,
                f"GET {path} → 404 {_error_code(reply.body)}".rstrip(),
                idx,
                ctx,
            )
            return
        if reply.status != 200:
            self.problem("server_error", d, parent, f"GET {path} → {reply.status}", idx, ctx)
            return
        if reply.too_big:
            self.problem("unexpected_media_type", d, parent, "manifest larger than 4 MiB", idx, ctx)
            return
        size = desc.get("size")
        if isinstance(size, int) and len(reply.body) != size:
            self.problem(
                "size_mismatch",
                d,
                parent,
                f"manifest is {len(reply.body)} B, descriptor says {size}",
                idx,
                ctx,
            )
            return
        algo = d.split(":", 1)[0]
        actual = f"{algo}:{hashlib.new(algo, reply.body).hexdigest()}"
        if actual != d:
            self.problem("digest_mismatch", d, parent, f"body hashes to {actual}", idx, ctx)
            return
        body = parse_json_object(reply.body)
        if body is None:
            self.problem("unexpected_media_type", d, parent, "manifest body is not a JSON object", idx, ctx)
            return
        kind, detail = media.classify(reply.content_type, body)
        want = media.kind_of_type(desc.get("mediaType")) if desc.get("mediaType") else None
        role = role_of(desc, kind, body)
        if top_level:
            self.result.children[idx].role = role
            ctx = platform if role == "image" and platform else role
        if detail:
            self.problem("unexpected_media_type", d, parent, detail, idx, ctx)
            return
        if want is not None and want != kind:
            self.problem(
                "unexpected_media_type",
                d,
                parent,
                f"descriptor says {desc.get('mediaType')}, body is {kind}",
                idx,
                ctx,
            )
            return
        if kind == "index" and depth >= MAX_DEPTH:
            self.problem(
                "unexpected_media_type", d, parent, f"indexes nested deeper than {MAX_DEPTH}", idx, ctx
            )
            return
        self.walk_body(kind, body, d, depth=depth, child=idx, role=role, top=False)

    def walk_image(self, body: dict[str, Any], digest: str, *, child: int | None, role: str) -> None:
        config = body.get("config")
        if isinstance(config, dict):
            self.check_blob(config, digest, child, role)
        else:
            self.problem(
                "unexpected_media_type", None, digest, "image manifest without a config", child, role
            )
        for layer in body.get("layers") or []:
            if (
                role == "image"
                and isinstance(layer, dict)
                and layer.get("mediaType") not in media.LAYER_TYPES
            ):
                self.problem(
                    "unexpected_media_type",
                    str(layer.get("digest")),
                    digest,
                    f"layer type {layer.get('mediaType')}",
                    child,
                    role,
                )
                continue
            self.check_blob(layer, digest, child, role)

    def check_blob(self, desc: Any, parent: str, child: int | None, role: str) -> None:
        ctx = self.context(child, role)
        if not isinstance(desc, dict):
            self.problem("unexpected_media_type", None, parent, "descriptor is not an object", child, ctx)
            return
        d = str(desc.get("digest", ""))
        if not is_digest(d):
            self.problem(
                "unexpected_media_type", None, parent, f"descriptor digest {d!r} is not a digest", child, ctx
            )
            return
        if desc.get("urls"):
            self.result.blobs_skipped += 1
            return
        if self.w.manifests_only:
            return
        self.blobs.add(d)
        fut = self.w.blob(self.ref.host, self.ref.repo, d, self.w.deep)
        self.entries.append(PendingBlob(fut, d, desc.get("size"), parent, child, ctx))
        self.entry_child.append(child)

    def context(self, child: int | None, role: str) -> str:
        if child is None:
            return ""
        c = self.result.children[child]
        return c.platform if c.role == "image" and c.platform else c.role

    def finish(self) -> ImageResult:
        for entry, child in zip(self.entries, self.entry_child, strict=True):
            problem = entry if isinstance(entry, Problem) else judge_blob(entry, self.ref.repo)
            if problem is None:
                continue
            self.result.problems.append(problem)
            if child is not None and child < len(self.result.children):
                self.result.children[child].ok = False
        self.result.blobs_checked = len(self.blobs)
        self.result.manifests = set(self.visited)
        return self.result


def _error_code(body: bytes) -> str:
    try:
        err = json.loads(body)["errors"][0]
        return str(err.get("code", ""))
    except Exception:
        return ""
