"""Service: wire retention — settings, flags and backend in; plan or apply; (report, exit code) out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from homeops.errors import ExitCode, HomeopsError, Refused, UsageError
from homeops.registry.plan import Policy
from homeops.registry.ref import parse_registry_url
from homeops.registry.retention import Distribution, Forgejo, RetentionReport, apply, make_plans
from homeops.registry.service import Flags, build_client
from homeops.registry.settings import Settings


def run(
    settings: Settings,
    flags: Flags,
    *,
    apply_: bool,
    backend: str | None,
    url: str | None,
    owner: str | None,
    repos: Sequence[str] | None,
    keep: int | None,
    protect: Sequence[str] | None,
    protect_regex: Sequence[str] | None,
    max_deletes: int | None,
    yes: bool,
    dry_run: bool,
) -> tuple[RetentionReport, ExitCode]:
    import re

    from homeops.registry.creds import Credentials
    from homeops.registry.verify import Walker
    from homeops.writes import confirm_destructive

    kind = backend or settings.retention_backend
    if kind not in ("forgejo", "distribution"):
        raise UsageError(f"--backend {kind} is not forgejo or distribution", "pick one")
    target = url or settings.retention_url
    if not target:
        raise UsageError("no retention URL", "pass --url or set registry.retention_url")
    parsed = parse_registry_url(target)
    n = settings.retention_keep if keep is None else keep
    if n < 1:
        raise UsageError("--keep must be at least 1", "retention always keeps the newest tag")
    patterns = list(protect_regex if protect_regex is not None else settings.retention_protect_regex)
    for rx in patterns:
        try:
            re.compile(rx)
        except re.error as exc:
            raise UsageError(f"--protect-regex {rx!r}: {exc}", "use a Python regex") from None
    policy = Policy(
        keep=n,
        protect=tuple(protect if protect is not None else settings.retention_protect),
        protect_regex=tuple(patterns),
        undated_kept=kind == "distribution",
    )
    limit = settings.retention_max_deletes if max_deletes is None else max_deletes
    globs = list(repos or settings.retention_repos)
    if parsed.plain_http:
        flags = replace(flags, plain_http=True)
    client = build_client(settings, parsed.host, flags)
    be: Distribution | Forgejo
    if kind == "forgejo":
        the_owner = owner or settings.retention_owner
        if not the_owner:
            raise UsageError("no Forgejo owner", "pass --owner or set registry.retention_owner")
        from homeops.secrets import resolve

        if not settings.retention_token:
            raise UsageError(
                "no Forgejo token", "set registry.retention_token (a write:package PAT reference)"
            )
        token = resolve(settings.retention_token, what="registry.retention_token")
        if client.credentials is None:
            # Forgejo accepts Basic owner:PAT on /v2, so the same token resolves closures
            client.credentials = Credentials(parsed.host, the_owner, token, "retention_token")
        be = Forgejo(client, parsed.host, parsed.base, the_owner, token, client.options.concurrency)
        if parsed.plain_http is False and not flags.plain_http:
            be.base = f"https://{parsed.host}"
    else:
        be = Distribution(client, parsed.host, client.options.concurrency)
    plan_only = not apply_ or dry_run
    with client:
        if apply_ and not dry_run:
            be.preflight()
        plans = make_plans(be, globs, policy)
        report = RetentionReport(be.name, plan_only, plans)
        total = report.to_delete()
        if total > limit:
            raise Refused(
                f"the plan deletes {total} versions, more than --max-deletes {limit}", "raise --max-deletes"
            )
        if plan_only or total == 0:
            return report, report.exit_code()
        from homeops.output import info

        info(report.render_human())
        confirm_destructive(f"delete {total} versions ({be.name})", yes=yes, dry_run=False)

        def verify_kept(repo: str, tag: str) -> list[str]:
            from homeops.registry.ref import Reference

            with Walker(client, deep=False, concurrency=client.options.concurrency) as fresh:
                result = fresh.verify(Reference(parsed.host, repo, tag, None, f"{parsed.host}/{repo}:{tag}"))
            return [f"{p.kind} {p.digest or ''} {p.detail}".strip() for p in result.problems]

        outcome = "failed"
        try:
            apply(be, plans, globs, policy, report, verify_kept=verify_kept)
            outcome = "ok" if report.exit_code() == ExitCode.OK else "problem"
        except HomeopsError as err:
            left = total - report.deleted
            raise type(err)(
                f"{err.what} (deleted {report.deleted} of {total} planned; {left} not deleted)", err.fix
            ) from None
        except KeyboardInterrupt:
            outcome = "interrupted"
            raise
        finally:
            _audit(report, f"{be.name} {parsed.host}", outcome)
        if kind == "distribution" and report.deleted:
            info(
                "next: blobs are reclaimed only by GC — stop the registry (or make it read-only), then run "
                "`homeops registry retention gc --config <config.yml>` (never with -m on 2.8.x)"
            )
    return report, report.exit_code()


def _audit(report: RetentionReport, target: str, outcome: str) -> None:
    """One audit line for an apply that got as far as deleting: what was deleted and what was in flight."""
    from homeops.writes import WriteResult, audit

    actions = [*report.done, *([report.in_flight] if report.in_flight else [])]
    audit("registry retention apply", target, WriteResult(report.changed, False, actions), outcome)
