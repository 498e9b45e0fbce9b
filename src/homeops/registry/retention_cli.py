"""Service: wire retention — settings, flags and backend in; plan or apply; (report, exit code) out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from homeops.errors import ExitCode, HomeopsError, Refused, UsageError
from homeops.registry.oci import RegistryClient
from homeops.registry.plan import Policy
from homeops.registry.ref import RegistryUrl, parse_registry_url
from homeops.registry.retention import Backend, Distribution, Forgejo, RetentionReport, apply, make_plans
from homeops.registry.service import Flags, build_client
from homeops.registry.settings import Settings


@dataclass(frozen=True)
class RetentionOptions:
    """What `retention plan|apply` were asked on the command line; ``None`` means "the [registry] setting"."""

    backend: str | None = None
    url: str | None = None
    owner: str | None = None
    repos: Sequence[str] | None = None
    keep: int | None = None
    protect: Sequence[str] | None = None
    protect_regex: Sequence[str] | None = None
    max_deletes: int | None = None

    def __post_init__(self) -> None:
        for name in ("repos", "protect", "protect_regex"):  # Typer hands repeatable options over as lists
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))


def policy_of(settings: Settings, options: RetentionOptions, kind: str) -> Policy:
    """The keep policy: flags over settings; exit 2 on ``--keep`` below 1 or a bad regex."""
    import re

    n = settings.retention_keep if options.keep is None else options.keep
    if n < 1:
        raise UsageError("--keep must be at least 1", "retention always keeps the newest tag")
    patterns = (
        options.protect_regex if options.protect_regex is not None else settings.retention_protect_regex
    )
    for rx in patterns:
        try:
            re.compile(rx)
        except re.error as exc:
            raise UsageError(f"--protect-regex {rx!r}: {exc}", "use a Python regex") from None
    protect = options.protect if options.protect is not None else settings.retention_protect
    return Policy(
        keep=n, protect=tuple(protect), protect_regex=tuple(patterns), undated_kept=kind == "distribution"
    )


def _backend(
    settings: Settings, options: RetentionOptions, kind: str, parsed: RegistryUrl, flags: Flags
) -> tuple[RegistryClient, Backend]:
    """The run's client and the backend that lists and deletes through it."""
    from homeops.registry.creds import Credentials
    from homeops.secrets import resolve

    client = build_client(settings, parsed.host, flags)
    if kind == "distribution":
        return client, Distribution(client, parsed.host, client.options.concurrency)
    owner = options.owner or settings.retention_owner
    if not owner:
        raise UsageError("no Forgejo owner", "pass --owner or set registry.retention_owner")
    if not settings.retention_token:
        raise UsageError("no Forgejo token", "set registry.retention_token (a write:package PAT reference)")
    token = resolve(settings.retention_token, what="registry.retention_token")
    if client.credentials is None:
        # Forgejo accepts Basic owner:PAT on /v2, so the same token resolves closures
        client.credentials = Credentials(parsed.host, owner, token, "retention_token")
    forgejo = Forgejo(client, parsed.host, parsed.base, owner, token, client.options.concurrency)
    if parsed.plain_http is False and not flags.plain_http:
        forgejo.base = f"https://{parsed.host}"
    return client, forgejo


def run(
    settings: Settings,
    flags: Flags,
    options: RetentionOptions,
    *,
    apply_: bool,
    yes: bool,
    dry_run: bool,
) -> tuple[RetentionReport, ExitCode]:
    """Plan (``apply_=False`` or ``dry_run``) or apply retention; (report, exit code)."""
    from homeops.writes import confirm_destructive

    kind = options.backend or settings.retention_backend
    if kind not in ("forgejo", "distribution"):
        raise UsageError(f"--backend {kind} is not forgejo or distribution", "pick one")
    target = options.url or settings.retention_url
    if not target:
        raise UsageError("no retention URL", "pass --url or set registry.retention_url")
    parsed = parse_registry_url(target)
    policy = policy_of(settings, options, kind)
    limit = settings.retention_max_deletes if options.max_deletes is None else options.max_deletes
    globs = list(options.repos or settings.retention_repos)
    if parsed.plain_http:
        flags = replace(flags, plain_http=True)
    client, be = _backend(settings, options, kind, parsed, flags)
    plan_only = not apply_ or dry_run
    with client:
        if not plan_only:
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
        _apply_audited(be, client, parsed.host, globs, policy, report)
        if kind == "distribution" and report.deleted:
            info(
                "next: blobs are reclaimed only by GC — stop the registry (or make it read-only), then run "
                "`homeops registry retention gc --config <config.yml>` (never with -m on 2.8.x)"
            )
    return report, report.exit_code()


def _apply_audited(
    be: Backend,
    client: RegistryClient,
    host: str,
    globs: Sequence[str],
    policy: Policy,
    report: RetentionReport,
) -> None:
    """Delete and post-verify; always one audit line; a stopping error says how many were deleted."""
    from homeops.registry.ref import Reference
    from homeops.registry.verify import Walker

    def verify_kept(repo: str, tag: str) -> list[str]:
        with Walker(client, deep=False, concurrency=client.options.concurrency) as fresh:
            result = fresh.verify(Reference(host, repo, tag, None, f"{host}/{repo}:{tag}"))
        return [f"{p.kind} {p.digest or ''} {p.detail}".strip() for p in result.problems]

    total = report.to_delete()
    outcome = "failed"
    try:
        apply(be, report.repos, globs, policy, report, verify_kept=verify_kept)
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
        _audit(report, f"{be.name} {host}", outcome)


def _audit(report: RetentionReport, target: str, outcome: str) -> None:
    """One audit line for an apply that got as far as deleting: what was deleted and what was in flight."""
    from homeops.writes import WriteResult, audit

    actions = [*report.done, *([report.in_flight] if report.in_flight else [])]
    audit("registry retention apply", target, WriteResult(report.changed, False, actions), outcome)
