"""Values: what `registry verify` found — problems, an image's children, per-image results and the run's
report with its exit code, JSON shape and human lines (specs/registry.md §3.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from homeops.errors import ExitCode

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
