"""Service: retention on distribution (registry API) or Forgejo (package API) — gather, plan, delete one at a
time, re-check the kept closure before children, post-verify (specs/registry.md §3.5).
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from homeops.errors import ExitCode, ProblemFound, Refused, Unreachable
from homeops.output import info, warn
from homeops.registry.oci import RegistryClient, RequestFailed
from homeops.registry.plan import Policy, RepoPlan, TagInfo, plan_repo
from homeops.registry.ref import Reference
from homeops.registry.verify import Walker
from homeops.registry.verify_report import INTEGRITY
from homeops.writes import Action

MAX_PAGES = 100


@dataclass
class RetentionReport:
    backend: str
    dry_run: bool
    repos: list[RepoPlan]
    actions: list[dict[str, str]] = field(default_factory=list)
    deleted: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)
    next_step: str = ""
    done: list[Action] = field(default_factory=list)  # for the audit line: what was deleted, by repo
    in_flight: Action | None = None  # the DELETE a Ctrl-C interrupted: its outcome is unknown

    @property
    def changed(self) -> bool:
        return self.deleted > 0

    def to_delete(self) -> int:
        return sum(len(r.delete) for r in self.repos if r.refused is None)

    def exit_code(self) -> ExitCode:
        if self.failed or self.problems or any(r.refused for r in self.repos):
            return ExitCode.PROBLEM
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "actions": self.actions,
            "repos": [r.to_json() for r in self.repos],
            "summary": {
                "kept": sum(len(r.keep) for r in self.repos),
                "to_delete": self.to_delete(),
                "deleted": self.deleted,
                "failed": self.failed,
            },
        }

    def render_human(self) -> str:
        lines = []
        for r in self.repos:
            lines.append(f"[{r.repo}] {len(r.keep) + len(r.delete) + len(r.skipped)} version(s)")
            if r.refused:
                lines.append(f"  refused: {r.refused}")
            lines.append(f"  keep={len(r.keep)} delete={0 if r.refused else len(r.delete)}")
            for d in [] if r.refused else r.delete:
                lines.append(f"  delete {d['kind']} {d['ref']}")
            for s in r.skipped:
                lines.append(f"  skip {s['ref']} ({s['reason']})")
        lines.extend(self.problems)
        kept = sum(len(r.keep) for r in self.repos)
        lines.append(f"Summary: kept={kept} to_delete={self.to_delete()} dry_run={str(self.dry_run).lower()}")
        return "\n".join(lines)


def _tag_info(
    walker: Walker, host: str, repo: str, tag: str, created: str | None, dated_by_config: bool
) -> TagInfo:
    ref = Reference(host, repo, tag, None, f"{host}/{repo}:{tag}")
    result = walker.verify(ref)
    if result.digest is None or any(p.kind not in INTEGRITY for p in result.problems):
        return TagInfo(tag, None, created, None)
    broken = next((p.kind for p in result.problems), None)
    when = walker.created(ref) if dated_by_config else created
    return TagInfo(tag, result.digest, when, frozenset(result.manifests), broken)


class Distribution:
    """Backend: the registry API itself; ranks by the image config's ``created``."""

    name = "distribution"

    def __init__(self, client: RegistryClient, host: str, concurrency: int) -> None:
        self.client, self.host, self.concurrency = client, host, concurrency

    def preflight(self) -> None:
        try:
            self.client.ping(self.host)
        except RequestFailed as exc:
            raise Unreachable(exc.detail, "check the URL and credentials") from None

    def gather(self, globs: Sequence[str]) -> list[tuple[str, list[TagInfo], frozenset[str] | None]]:
        try:
            repos = [
                r for r in self.client.catalog(self.host) if any(fnmatch.fnmatchcase(r, g) for g in globs)
            ]
            listed = {r: self.client.tags(self.host, r) or [] for r in repos}
        except RequestFailed as exc:
            raise Unreachable(
                f"listing failed: {exc.detail}", "a partial listing is never acted on"
            ) from None
        out: list[tuple[str, list[TagInfo], frozenset[str] | None]] = []
        with Walker(self.client, deep=False, concurrency=self.concurrency, manifests_only=True) as walker:
            for repo in repos:
                for tag in listed[repo]:
                    walker.prefetch(Reference(self.host, repo, tag, None, ""))
            for repo in repos:
                out.append(
                    (repo, [_tag_info(walker, self.host, repo, t, None, True) for t in listed[repo]], None)
                )
        return out

    def delete(self, repo: str, item: dict[str, Any]) -> str:
        """``done`` | ``gone``; raises on auth (exit 4) and 405 (exit 1)."""
        try:
            status = self.client.delete_manifest(self.host, repo, item["digest"])
        except RequestFailed as exc:
            if exc.kind == "auth":
                raise Unreachable(
                    f"DELETE {repo}@{item['digest']}: {exc.detail}", "the credentials need delete access"
                ) from None
            raise ProblemFound(f"DELETE {repo}@{item['digest']}: {exc.detail}", "retry later") from None
        if status == 202:
            return "done"
        if status == 404:
            return "gone"
        if status == 405:
            raise ProblemFound(
                f"DELETE {repo}@{item['digest']} → 405 UNSUPPORTED",
                "a pull-through cache or storage.delete.enabled: false; nothing more was deleted",
            )
        raise ProblemFound(f"DELETE {repo}@{item['digest']} → {status}", "see the registry log")


class Forgejo:
    """Backend: Forgejo's package API for listing and deleting, its /v2 API for closures."""

    name = "forgejo"

    def __init__(
        self, client: RegistryClient, host: str, base: str, owner: str, token: str, concurrency: int
    ) -> None:
        self.client, self.host, self.base, self.owner, self.token = client, host, base, owner, token
        self.concurrency = concurrency

    def _api(self, method: str, path: str) -> Any:
        import httpx

        headers = {"Authorization": f"token {self.token}", "Accept": "application/json"}
        try:
            resp = self.client._send(
                method, f"{self.base}{path}", headers, verify=self.client._verify_for(self.host)
            )
        except httpx.TransportError as exc:
            raise Unreachable(f"Forgejo {self.host}: {type(exc).__name__}", "check retention_url") from None
        resp.read()
        return resp

    def preflight(self) -> None:
        resp = self._api("GET", "/api/v1/user")
        if resp.status_code in (401, 403):
            raise Unreachable(
                f"Forgejo rejected the token ({resp.status_code})",
                "retention_token must be a write:package PAT",
            )
        if resp.status_code != 200:
            raise Unreachable(f"GET /api/v1/user → {resp.status_code}", "check retention_url")
        login = str(resp.json().get("login", ""))
        if login != self.owner:
            org = self._api("GET", f"/api/v1/orgs/{quote(self.owner, safe='')}")
            if org.status_code != 200:
                raise Refused(
                    f"the token belongs to {login}, not the owner {self.owner}",
                    "use a write:package PAT of the owner (a read-only token gets 403 on DELETE)",
                )
            warn(
                f"the token belongs to {login}; {self.owner} is an organisation, so DELETE may still be refused"
            )

    def versions(self) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for page in range(1, MAX_PAGES + 1):
            resp = self._api(
                "GET", f"/api/v1/packages/{quote(self.owner, safe='')}?type=container&limit=50&page={page}"
            )
            if resp.status_code in (401, 403):
                raise Unreachable(
                    f"Forgejo package list → {resp.status_code}", "the token needs read:package"
                )
            if resp.status_code != 200:
                raise Unreachable(
                    f"Forgejo package list page {page} → {resp.status_code}",
                    "a partial listing is never acted on",
                )
            entries = resp.json()
            if not entries:
                return found
            for e in entries:
                found.setdefault(str(e["name"]), []).append(
                    (str(e["version"]), str(e.get("created_at") or ""))
                )
        raise Unreachable(
            f"Forgejo package list did not end within {MAX_PAGES} pages",
            "a partial listing is never acted on",
        )

    def gather(self, globs: Sequence[str]) -> list[tuple[str, list[TagInfo], frozenset[str] | None]]:
        versions = self.versions()
        out: list[tuple[str, list[TagInfo], frozenset[str] | None]] = []
        with Walker(self.client, deep=False, concurrency=self.concurrency, manifests_only=True) as walker:
            names = sorted(n for n in versions if any(fnmatch.fnmatchcase(n, g) for g in globs))
            for name in names:
                for version, _ in versions[name]:
                    if not version.startswith("sha256:"):
                        walker.prefetch(Reference(self.host, f"{self.owner}/{name}", version, None, ""))
            for name in names:
                repo = f"{self.owner}/{name}"
                tags = [
                    _tag_info(walker, self.host, repo, v, created, False)
                    for v, created in versions[name]
                    if not v.startswith("sha256:")
                ]
                digests = frozenset(v for v, _ in versions[name] if v.startswith("sha256:"))
                out.append((name, tags, digests))
        return out

    def delete(self, repo: str, item: dict[str, Any]) -> str:
        version = item["ref"]
        resp = self._api(
            "DELETE",
            f"/api/v1/packages/{quote(self.owner, safe='')}/container/{quote(repo, safe='')}/{quote(version, safe='')}",
        )
        if resp.status_code in (200, 204):
            return "done"
        if resp.status_code == 404:
            return "gone"
        if resp.status_code in (401, 403):
            raise Unreachable(
                f"DELETE {repo}/{version} → {resp.status_code}", "the token needs write:package on the owner"
            )
        raise ProblemFound(f"DELETE {repo}/{version} → {resp.status_code}", "see the Forgejo log")

    def repo_path(self, name: str) -> str:
        return f"{self.owner}/{name}"


Backend = Distribution | Forgejo


def make_plans(backend: Backend, globs: Sequence[str], policy: Policy) -> list[RepoPlan]:
    return [plan_repo(repo, tags, policy, digests) for repo, tags, digests in backend.gather(globs)]


def apply(
    backend: Backend,
    plans: list[RepoPlan],
    globs: Sequence[str],
    policy: Policy,
    report: RetentionReport,
    *,
    verify_kept: Callable[[str, str], list[str]],
) -> None:
    """Delete tags, then (after re-checking the kept closure) children, then post-verify the kept tags."""
    for plan in plans:
        if plan.refused:
            continue
        for item in [d for d in plan.delete if d["kind"] == "tag"]:
            _delete_one(backend, plan.repo, item, report)
    fresh = {p.repo: p for p in make_plans(backend, globs, policy)}
    for plan in plans:
        if plan.refused:
            continue
        children = [d for d in plan.delete if d["kind"] == "child"]
        now = fresh.get(plan.repo)
        if now is None or now.refused or {c["digest"] for c in children} & now.kept_closure:
            if children:
                report.problems.append(
                    f"homeops registry: {plan.repo}: the kept closure changed (a concurrent push?); children not deleted"
                )
            continue
        for item in children:
            _delete_one(backend, plan.repo, item, report)
    for plan in plans:
        repo = backend.repo_path(plan.repo) if isinstance(backend, Forgejo) else plan.repo
        for kept in plan.keep:
            for problem in verify_kept(repo, kept["tag"]):
                report.problems.append(
                    f"homeops registry: retention left {repo}:{kept['tag']} broken — {problem}"
                )


def _delete_one(backend: Backend, repo: str, item: dict[str, Any], report: RetentionReport) -> None:
    action = Action("delete", f"{repo}@{item['digest']}", f"{item['kind']} {item['ref']}")
    try:
        outcome = backend.delete(repo, item)
    except KeyboardInterrupt:
        report.in_flight = Action(action.verb, action.target, f"{action.detail}, outcome unknown")
        print(
            f"homeops registry: interrupted while deleting {repo} {item['kind']} {item['ref']} "
            f"({item['digest']}) — outcome unknown; run `homeops registry retention plan` to see what is left",
            file=sys.stderr,
        )
        raise
    report.actions.append({"action": "delete", "ref": item["ref"], "digest": item["digest"]})
    report.done.append(action)
    if outcome == "done":
        report.deleted += 1
    info(f"deleted {repo} {item['kind']} {item['ref']}" + (" (already gone)" if outcome == "gone" else ""))
