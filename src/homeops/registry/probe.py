"""Service: the integrity probe — catalog walk, newest N tags per repo, full verify, the legacy
``registry_manifest_integrity_*`` gauges (specs/registry.md §3.3).
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from homeops.errors import ExitCode, UsageError
from homeops.registry.verify_report import COULD_NOT_CHECK, INTEGRITY, ImageResult

PREFIX = "registry_manifest_integrity_"
HELP = {
    "failures": "Broken manifest references found by the last probe (problems plus failed tag lists).",
    "catalog_accessible": "1 when every catalog page answered 200.",
    "repos_checked": "Repositories left after filtering.",
    "tags_checked": "Tags walked.",
    "indexes_checked": "Walked tags whose top manifest is an index.",
    "last_run_timestamp": "End of the last probe run, unix seconds.",
}


def natural_key(text: str) -> list[Any]:
    """Natural sort key: digit runs compare as numbers."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def select_tags(tags: Sequence[str], n: int, order: str, created: Mapping[str, str | None]) -> list[str]:
    """All tags when there are at most N (or N is 0); else the newest N plus ``latest`` (not counted)."""
    if n == 0 or len(tags) <= n:
        return list(tags)
    others = [t for t in tags if t != "latest"]
    if order == "name":
        ranked = sorted(others, key=natural_key, reverse=True)
    else:
        dated = sorted(
            (t for t in others if created.get(t)), key=lambda t: (created[t] or "", t), reverse=True
        )
        undated = sorted((t for t in others if not created.get(t)), reverse=True)
        ranked = dated + undated
    chosen = ranked[:n]
    return (["latest"] if "latest" in tags else []) + chosen


def split_pushgateway(url: str, job: str | None) -> tuple[str, str | None]:
    """(base, job from the URL or None): a legacy ``…/metrics/job/<x>`` base supplies the job."""
    match = re.match(r"^(.*?)/metrics/job/([^/]+)/?$", url)
    if not match:
        return url.rstrip("/"), None
    base, found = match.group(1), match.group(2)
    if job is not None and job != found:
        raise UsageError(
            f"--job {job} conflicts with the job {found} in the Pushgateway URL", "drop one of them"
        )
    return base, found


@dataclass
class TagResult:
    tag: str
    digest: str | None
    created: str | None
    ok: bool
    problems: list[dict[str, Any]]
    integrity: bool = False
    unchecked: bool = False


@dataclass
class ProbeReport:
    url: str
    instance: str
    job: str
    catalog_accessible: int = 0
    repos_checked: int = 0
    tags_checked: int = 0
    indexes_checked: int = 0
    failures: int = 0
    last_run_timestamp: int = 0
    pushed: bool | None = None
    skipped_tags: list[str] = field(default_factory=list)
    repos: list[dict[str, Any]] = field(default_factory=list)
    could_not_check: bool = False
    broken: bool = False
    fail_lines: list[str] = field(default_factory=list)
    catalog_error: str = ""

    def exit_code(self) -> ExitCode:
        if self.broken:
            return ExitCode.PROBLEM
        if self.could_not_check or not self.catalog_accessible or self.pushed is False or self.skipped_tags:
            return ExitCode.UNREACHABLE
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        keys = [
            "url",
            "instance",
            "job",
            "catalog_accessible",
            "repos_checked",
            "tags_checked",
            "indexes_checked",
            "failures",
            "last_run_timestamp",
            "pushed",
            "skipped_tags",
            "repos",
        ]
        return {k: getattr(self, k) for k in keys}

    def render_human(self) -> str:
        lines = list(self.fail_lines)
        if self.catalog_error:
            lines.append(f"FAIL: catalog {self.catalog_error}")
        lines.append(
            f"Probe complete: {self.failures} failures across {self.repos_checked} repos / "
            f"{self.tags_checked} tags / {self.indexes_checked} indexes"
        )
        return "\n".join(lines)

    def families(self, labels: Mapping[str, str], full: bool) -> list[Any]:
        from homeops.metrics import gauge

        names = list(HELP) if full else ["catalog_accessible", "last_run_timestamp"]
        return [gauge(PREFIX + n, float(getattr(self, n)), help=HELP[n], labels=labels) for n in names]


def run_probe(
    walker: Any,
    host: str,
    *,
    url: str,
    instance: str,
    job: str,
    repo_globs: Sequence[str],
    tags_n: int,
    order: str,
    deadline_s: float,
    allow_empty: bool,
    clock: Callable[[], float] = time.monotonic,
) -> ProbeReport:
    """Catalog → tags → selection → walk; never counts a tag it could not check as clean."""
    from homeops.registry.oci import RequestFailed
    from homeops.registry.ref import Reference

    report = ProbeReport(url, instance, job)
    start = clock()
    client = walker.client
    try:
        repos = client.catalog(host)
        report.catalog_accessible = 1 if (repos or allow_empty) else 0
        if not repos and not allow_empty:
            report.catalog_error = "empty catalog or auth failure (pass --allow-empty if that is expected)"
    except RequestFailed as exc:
        report.catalog_accessible = 0
        report.catalog_error = exc.detail
        report.could_not_check = True
        report.last_run_timestamp = int(time.time())
        return report
    repos = [r for r in repos if any(fnmatch.fnmatchcase(r, g) for g in repo_globs)]
    report.repos_checked = len(repos)
    tag_futures = {r: walker._submit((host, r, "tags"), lambda r=r: client.tags(host, r)) for r in repos}
    selected: list[tuple[str, list[str], dict[str, str | None]]] = []
    for repo in repos:
        answer = tag_futures[repo].result()
        if isinstance(answer, RequestFailed):
            report.failures += 1
            report.could_not_check = True
            report.fail_lines.append(f"FAIL: {repo} tags/list {answer.kind} {answer.detail}")
            report.repos.append({"repo": repo, "tags": [], "error": answer.detail})
            continue
        tags = answer or []
        created: dict[str, str | None] = {}
        if order == "created" and tags_n and len(tags) > tags_n:
            refs = {t: Reference(host, repo, t, None, f"{host}/{repo}:{t}") for t in tags}
            for ref in refs.values():
                walker.prefetch(ref)
            created = {t: walker.created(ref) for t, ref in refs.items()}
        chosen = select_tags(tags, tags_n, order, created)
        selected.append((repo, chosen, created))
    for repo, chosen, _ in selected:
        for t in chosen:
            walker.prefetch(Reference(host, repo, t, None, f"{host}/{repo}:{t}"))
    for repo, chosen, created in selected:
        entry: dict[str, Any] = {"repo": repo, "tags": []}
        for tag in chosen:
            if clock() - start > deadline_s:
                report.skipped_tags.append(f"{repo}:{tag}")
                continue
            ref = Reference(host, repo, tag, None, f"{host}/{repo}:{tag}")
            result: ImageResult = walker.verify(ref)
            report.tags_checked += 1
            if result.kind == "index":
                report.indexes_checked += 1
            report.failures += len(result.problems)
            integrity = any(p.kind in INTEGRITY for p in result.problems)
            unchecked = any(p.kind in COULD_NOT_CHECK for p in result.problems) or result.digest is None
            report.broken |= integrity
            report.could_not_check |= unchecked
            for p in result.problems:
                report.fail_lines.append(f"FAIL: {repo}:{tag} {p.kind} {p.digest or '-'} {p.detail}")
            entry["tags"].append(
                {
                    "tag": tag,
                    "digest": result.digest,
                    "created": created.get(tag) if created else None,
                    "ok": result.ok,
                    "problems": [p.to_json() for p in result.problems],
                }
            )
        report.repos.append(entry)
    report.last_run_timestamp = int(time.time())
    return report
