"""Pure logic: judge one blob check — a HEAD or a re-hashed GET answer against its descriptor — into a
problem kind (missing_blob, size_mismatch, truncated_blob, digest_mismatch, …) or none.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from homeops.registry.oci import BlobHead, BlobRead, RequestFailed
from homeops.registry.verify_report import Problem


@dataclass
class PendingBlob:
    """A blob check whose answer arrives later, kept in graph order."""

    future: Future[BlobHead | BlobRead | RequestFailed]
    digest: str
    size: Any
    parent: str
    child: int | None
    context: str


def judge_blob(p: PendingBlob, repo: str) -> Problem | None:
    """The problem a blob check found (waits for its answer), or None when the blob is sound."""
    answer = p.future.result()
    path = f"/v2/{repo}/blobs/{p.digest}"
    if isinstance(answer, RequestFailed):
        kind = answer.kind if answer.kind != "not_registry" else "unreachable"
        return Problem(kind, p.digest, p.parent, answer.detail, p.context)
    if isinstance(answer, BlobHead):
        if answer.status == 404:
            return Problem("missing_blob", p.digest, p.parent, f"HEAD {path} → 404", p.context)
        if answer.status != 200:
            return Problem("server_error", p.digest, p.parent, f"HEAD {path} → {answer.status}", p.context)
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
        return Problem("digest_mismatch", p.digest, p.parent, f"body hashes to {answer.digest}", p.context)
    return None
