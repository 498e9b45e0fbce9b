"""Service: wire the probe — URL, settings and flags in; walk, push, textfile; (report, exit code) out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from homeops.errors import ExitCode, UsageError
from homeops.registry.probe import ProbeReport, run_probe, split_pushgateway
from homeops.registry.ref import parse_registry_url
from homeops.registry.service import Flags, build_client
from homeops.registry.settings import Settings


def run(
    settings: Settings,
    flags: Flags,
    *,
    url: str | None,
    repos: Sequence[str] | None,
    tags: int | None,
    order: str | None,
    deep: bool,
    pushgateway: str | None,
    job: str | None,
    instance: str | None,
    textfile: Path | None,
    deadline: float | None,
    allow_empty: bool,
) -> tuple[ProbeReport, ExitCode]:
    from dataclasses import replace

    from homeops.metrics import push, write_textfile
    from homeops.registry.verify import Walker

    target = url or settings.probe_url
    if not target:
        raise UsageError("no registry URL", "pass URL or set registry.probe_url")
    parsed = parse_registry_url(target)
    order = order or settings.probe_order
    if order not in ("created", "name"):
        raise UsageError(f"--order {order} is not created or name", "use --order created or --order name")
    n = settings.probe_tags if tags is None else tags
    if n < 0:
        raise UsageError("--tags must be 0 or more", "0 means all tags")
    gateway = pushgateway if pushgateway is not None else settings.probe_pushgateway
    base, url_job = split_pushgateway(gateway, job) if gateway else ("", None)
    job_name = job or url_job or settings.probe_job
    label = instance or settings.probe_instance or parsed.host
    if parsed.plain_http:
        flags = replace(flags, plain_http=True)
    client = build_client(settings, parsed.host, flags)
    with (
        client,
        Walker(client, deep=deep or settings.probe_deep, concurrency=client.options.concurrency) as walker,
    ):
        report = run_probe(
            walker,
            parsed.host,
            url=target,
            instance=label,
            job=job_name,
            repo_globs=list(repos or settings.probe_repos),
            tags_n=n,
            order=order,
            deadline_s=deadline if deadline is not None else settings.probe_deadline_s,
            allow_empty=allow_empty or settings.probe_allow_empty,
        )
    full = bool(report.catalog_accessible)
    labels = {"instance": label}
    if base:
        # instance goes in the body, not the grouping key, exactly as the original (existing series stay put)
        result = push(
            base,
            job_name,
            report.families(labels, full),
            method="PUT" if full else "POST",
            typed=True,
            tries=settings.retries + 1,
            retry_delay=0.5,
        )
        report.pushed = result.pushed
    tf = textfile or (Path(settings.probe_textfile) if settings.probe_textfile else None)
    if tf is not None:
        try:
            write_textfile(tf, report.families({"job": job_name, "instance": label}, full))
        except OSError as exc:
            raise UsageError(f"cannot write {tf}: {exc.strerror}", "check the directory") from None
    return report, report.exit_code()
