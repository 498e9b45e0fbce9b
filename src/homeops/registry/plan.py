"""Logic: the retention plan (specs/registry.md §3.5). Pure: resolved tags in, keep/delete/skip sets out.

The keep set is closed over the manifest graph: nothing a kept tag reaches (an index child, an attestation,
a nested index) is ever deleted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TagInfo:
    """One tag as resolved: its digest and closure (None = unresolved), creation time, and whether it is broken."""

    tag: str
    digest: str | None
    created: str | None
    closure: frozenset[str] | None
    broken: str | None = None


@dataclass(frozen=True)
class Policy:
    keep: int = 10
    protect: tuple[str, ...] = ("latest",)
    protect_regex: tuple[str, ...] = ("(?i)cache",)
    undated_kept: bool = True  # distribution: undated tags are kept (fail closed)


@dataclass
class RepoPlan:
    repo: str
    keep: list[dict[str, Any]] = field(default_factory=list)
    delete: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    refused: str | None = None
    kept_closure: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "keep": self.keep,
            "delete": self.delete if self.refused is None else [],
            "skipped": self.skipped,
            "refused": self.refused,
        }


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def is_protected(tag: str, policy: Policy) -> bool:
    return tag in policy.protect or any(re.search(rx, tag) for rx in policy.protect_regex)


def plan_repo(
    repo: str, tags: Sequence[TagInfo], policy: Policy, digest_versions: frozenset[str] | None = None
) -> RepoPlan:
    """Keep the newest ``keep`` unprotected tags plus every protected one; delete the rest and the children
    only they reach. ``digest_versions`` (Forgejo) limits child deletions to versions that exist."""
    plan = RepoPlan(repo)
    protected = [t for t in tags if is_protected(t.tag, policy)]
    rest = [t for t in tags if not is_protected(t.tag, policy)]
    dated = [t for t in rest if _when(t.created) is not None]
    undated = [t for t in rest if _when(t.created) is None]
    dated.sort(key=lambda t: t.tag, reverse=True)
    dated.sort(key=lambda t: _when(t.created), reverse=True)  # type: ignore[arg-type, return-value]
    newest = dated[: policy.keep]
    kept = [(t, "protected") for t in protected] + [(t, "newest") for t in newest]
    if policy.undated_kept:
        kept_extra = undated
        candidates = dated[policy.keep :]
    else:
        kept_extra = []
        candidates = dated[policy.keep :] + undated
    closure: set[str] = set()
    for t, reason in kept:
        plan.keep.append({"tag": t.tag, "digest": t.digest, "reason": reason})
    for t in kept_extra:
        plan.skipped.append({"ref": t.tag, "reason": "undated"})
    for t, _ in [*kept, *((u, "undated") for u in kept_extra)]:
        if t.digest is None or t.closure is None:
            plan.refused = f"kept tag {t.tag} could not be resolved; its closure is unknown"
        elif t.broken:
            plan.refused = f"kept tag {t.tag} is broken ({t.broken}); nothing is deleted here"
        else:
            closure |= t.closure
    plan.kept_closure = frozenset(closure)
    deleted_closure: set[str] = set()
    tag_digests: set[str] = set()
    for t in candidates:
        if t.digest is None or t.closure is None:
            plan.skipped.append({"ref": t.tag, "reason": "unresolved"})
            continue
        if t.digest in closure:
            plan.skipped.append({"ref": t.tag, "reason": "shares_digest"})
            continue
        plan.delete.append(
            {"ref": t.tag, "digest": t.digest, "kind": "tag", "reason": "older than the newest kept"}
        )
        tag_digests.add(t.digest)
        deleted_closure |= t.closure
    children = sorted(deleted_closure - closure - tag_digests)
    for child in children:
        if digest_versions is not None and child not in digest_versions:
            continue
        plan.delete.append(
            {"ref": child, "digest": child, "kind": "child", "reason": "reached only by deleted tags"}
        )
    if digest_versions is not None:
        reached = closure | deleted_closure
        for t in tags:
            if t.closure:
                reached |= t.closure
        for version in sorted(digest_versions - reached):
            plan.skipped.append({"ref": version, "reason": "dangling"})
    return plan
