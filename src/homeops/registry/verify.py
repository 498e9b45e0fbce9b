"""Service: walk an image's whole graph (index → children → config → layers) through the registry client,
with bounded concurrency and a per-run memo, and collect every problem (specs/registry.md §3.2).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from homeops.errors import ExitCode
from homeops.registry import media
from homeops.registry.oci import (
    BlobHead,
    BlobRead,
    ManifestReply,
    RegistryClient,
    RequestFailed,
    parse_json_object,
)
from homeops.registry.ref import Reference, is_digest

INTEGRITY = frozenset(
    {
        "missing_manifest",
        "missing_blob",
        "size_mismatch",
        "digest_mismatch",
        "unexpected_media_type",
        "truncated_blob",
    }
)
COULD_NOT_CHECK = frozenset({"unreachable", "auth", "server_error", "not_registry"})
MAX_DEPTH = 8
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    kind: str
    digest: str | None
    parent: str | None
    detail: str
    context: str = ""  # platform or role of the child it belongs to, for the human line

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "digest": self.digest, "parent": self.parent, "detail": self.detail}


@dataclass
class Child:
    digest: str
    role: str
    platform: str | None
    ok: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "role": self.role, "platform": self.platform, "ok": self.ok}


@dataclass
class ImageResult:
    ref: str
    repo: str
    digest: str | None = None
    media_type: str | None = None
    kind: str = "unknown"
    manifests_checked: int = 0
    blobs_checked: int = 0
    blobs_skipped: int = 0
    children: list[Child] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    manifests: set[str] = field(default_factory=set)  # every manifest digest reached: the closure (retention)

    @property
    def ok(self) -> bool:
        return not self.problems and self.digest is not None

    @property
    def status(self) -> str:
        if any(p.kind in INTEGRITY for p in self.problems):
            return "BROKEN"
        return "UNCHECKED" if self.problems or self.digest is None else "OK"

    def exit_code(self) -> ExitCode:
        return {"OK": ExitCode.OK, "BROKEN": ExitCode.PROBLEM}.get(self.status, ExitCode.UNREACHABLE)

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "repo": self.repo,
            "digest": self.digest,
            "media_type": self.media_type,
            "ok": self.ok,
            "manifests_checked": self.manifests_checked,
            "blobs_checked": self.blobs_checked,
            "blobs_skipped": self.blobs_skipped,
            "children": [c.to_json() for c in self.children],
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass
class VerifyReport:
    mode: str
    images: list[ImageResult]

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.images)

    def exit_code(self) -> ExitCode:
        from homeops.errors import worst

        return worst(*(i.exit_code() for i in self.images)) if self.images else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "ok": self.ok, "images": [i.to_json() for i in self.images]}

    def render_human(self) -> str:
        lines: list[str] = []
        for image in self.images:
            for p in image.problems:
                parent = p.parent.split(":", 1)[-1][:12] if p.parent else "-"
                ctx = f", {p.context}" if p.context else ""
                lines.append(
                    f"FAIL {p.kind} {image.repo}@{p.digest or '-'} (parent {parent}{ctx}): {p.detail}"
                )
            tail = f", {len(image.problems)} problems" if image.problems else ""
            lines.append(
                f"{image.status} {image.ref} {image.digest or '-'} — {image.manifests_checked} manifests, "
                f"{image.blobs_checked} blobs checked ({self.mode}){tail}"
            )
        return "\n".join(lines)


def _platform_text(platform: Any) -> str | None:
    if not isinstance(platform, dict):
        return None
    text = f"{platform.get('os', '')}/{platform.get('architecture', '')}"
    if platform.get("variant"):
        text += f"/{platform['variant']}"
    return text


def platform_matches(platform: Any, want: tuple[str, str, str | None]) -> bool:
    """``os/arch[/variant]`` match; for arm64 no variant equals ``v8``."""
    if not isinstance(platform, dict):
        return False
    os_, arch, variant = want
    if platform.get("os") != os_ or platform.get("architecture") != arch:
        return False
    if variant is None:
        return True
    have = platform.get("variant") or ("v8" if arch == "arm64" else None)
    return have == (variant or None)


def parse_platform(text: str) -> tuple[str, str, str | None]:
    """``os/arch[/variant]``; a usage error otherwise."""
    from homeops.errors import UsageError

    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"not a platform: {text!r}", "use os/arch[/variant], e.g. linux/arm64")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


@dataclass
class _Pending:
    """A blob check whose answer arrives later, kept in graph order."""

    future: Future[BlobHead | BlobRead | RequestFailed]
    digest: str
    size: Any
    parent: str
    child: int | None
    context: str


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
        return _Walk(self, ref, platform).run()

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
                if _platform_text(desc.get("platform")) == "unknown/unknown":
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


class _Walk:
    """The walk of one REF (runs in the caller's thread; requests run in the walker's pool)."""

    def __init__(self, walker: Walker, ref: Reference, platform: tuple[str, str, str | None] | None) -> None:
        self.w = walker
        self.ref = ref
        self.platform = platform
        self.result = ImageResult(ref.text, ref.repo)
        self.entries: list[Problem | _Pending] = []
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
                f"GET {path} → 404 {_code(reply.body)}".rstrip(),
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
            platform = _platform_text(desc.get("platform"))
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
            d for d in descs if platform_matches(d.get("platform"), self.platform) and not _is_attestation(d)
        ]
        if not kept:
            have = sorted(
                {p for d in descs if not _is_attestation(d) and (p := _platform_text(d.get("platform")))}
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
            if _is_attestation(d) and (d.get("annotations") or {}).get("vnd.docker.reference.digest") in names
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
        platform = _platform_text(desc.get("platform"))
        ctx = platform or ""
        path = f"/v2/{self.ref.repo}/manifests/{d}"
        if isinstance(reply, RequestFailed):
            self.problem(reply.kind, d, parent, reply.detail, idx, ctx)
            return
        self.result.manifests_checked += 1
        if reply.status == 404:
            self.problem(
                "missing_manifest", d, parent, f"GET {path} → 404 {_code(reply.body)}".rstrip(), idx, ctx
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
        role = _role(desc, kind, body)
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
        self.entries.append(_Pending(fut, d, desc.get("size"), parent, child, ctx))
        self.entry_child.append(child)

    def context(self, child: int | None, role: str) -> str:
        if child is None:
            return ""
        c = self.result.children[child]
        return c.platform if c.role == "image" and c.platform else c.role

    def finish(self) -> ImageResult:
        for entry, child in zip(self.entries, self.entry_child, strict=True):
            problem = entry if isinstance(entry, Problem) else self.judge(entry)
            if problem is None:
                continue
            self.result.problems.append(problem)
            if child is not None and child < len(self.result.children):
                self.result.children[child].ok = False
        self.result.blobs_checked = len(self.blobs)
        self.result.manifests = set(self.visited)
        return self.result

    def judge(self, p: _Pending) -> Problem | None:
        answer = p.future.result()
        path = f"/v2/{self.ref.repo}/blobs/{p.digest}"
        if isinstance(answer, RequestFailed):
            kind = answer.kind if answer.kind != "not_registry" else "unreachable"
            return Problem(kind, p.digest, p.parent, answer.detail, p.context)
        if isinstance(answer, BlobHead):
            if answer.status == 404:
                return Problem("missing_blob", p.digest, p.parent, f"HEAD {path} → 404", p.context)
            if answer.status != 200:
                return Problem(
                    "server_error", p.digest, p.parent, f"HEAD {path} → {answer.status}", p.context
                )
            if isinstance(p.size, int) and answer.length != p.size:
                return Problem(
                    "size_mismatch",
                    p.digest,
                    p.parent,
                    f"Content-Length {answer.length} vs size {p.size}",
                    p.context,
                )
            return None
        if answer.status == 404:
            return Problem("missing_blob", p.digest, p.parent, f"GET {path} → 404", p.context)
        if answer.status != 200:
            return Problem("server_error", p.digest, p.parent, f"GET {path} → {answer.status}", p.context)
        if answer.truncated:
            return Problem(
                "truncated_blob",
                p.digest,
                p.parent,
                f"body cut short: {answer.size} of {p.size} B",
                p.context,
            )
        if isinstance(p.size, int) and answer.size != p.size:
            return Problem(
                "size_mismatch",
                p.digest,
                p.parent,
                f"read {answer.size} B, descriptor says {p.size}",
                p.context,
            )
        if answer.digest != p.digest:
            return Problem(
                "digest_mismatch", p.digest, p.parent, f"body hashes to {answer.digest}", p.context
            )
        return None


def _is_attestation(desc: dict[str, Any]) -> bool:
    annotations = desc.get("annotations") or {}
    return (
        isinstance(annotations, dict)
        and annotations.get("vnd.docker.reference.type") == "attestation-manifest"
    ) or _platform_text(desc.get("platform")) == "unknown/unknown"


def _role(desc: dict[str, Any], kind: str, body: dict[str, Any]) -> str:
    if kind == "index":
        return "index"
    if _is_attestation(desc):
        return "attestation"
    config = body.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    if desc.get("artifactType") or kind == "artifact" or config_type not in media.IMAGE_CONFIG_TYPES:
        return "artifact"
    return "image"


def _code(body: bytes) -> str:
    try:
        err = json.loads(body)["errors"][0]
        return str(err.get("code", ""))
    except Exception:
        return ""
