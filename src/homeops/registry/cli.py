"""CLI: `homeops registry` — verify, probe, scan, retention and break-glass (specs/registry.md).

Thin: parse, build the service, emit, exit. httpx and the walker are imported inside commands only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from homeops.cliopts import DryRunFlag, JsonFlag, YesFlag
from homeops.errors import ExitCode, UsageError
from homeops.manifest import read, write
from homeops.output import finish

if TYPE_CHECKING:
    from homeops.registry.retention_cli import RetentionOptions
    from homeops.registry.service import Flags
    from homeops.registry.settings import Settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Registry integrity: verify, probe, scan, retention, break-glass.",
)
retention_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Keep the newest tags, never break an image.",
)
breakglass_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Break-glass image tarballs for when the registry is down.",
)
app.add_typer(retention_app, name="retention")
app.add_typer(breakglass_app, name="breakglass")

PlainHttp = Annotated[bool, typer.Option("--plain-http", help="Allow plain HTTP to a non-loopback registry.")]
Insecure = Annotated[bool, typer.Option("--insecure", help="Do not verify the TLS certificate (warned).")]
Username = Annotated[str | None, typer.Option("--username", help="Registry user; needs --password-stdin.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin (one line).")
]
Concurrency = Annotated[
    int | None, typer.Option("--concurrency", help="Parallel requests (1–64; default 8).")
]
Timeout = Annotated[float | None, typer.Option("--timeout", help="Seconds per request (default 30).")]


def _flags(
    plain_http: bool,
    insecure: bool,
    username: str | None,
    password_stdin: bool,
    *,
    concurrency: int | None = None,
    timeout: float | None = None,
) -> Flags:
    from homeops.registry.creds import read_password_stdin
    from homeops.registry.service import Flags

    if password_stdin and not username:
        raise UsageError("--password-stdin needs --username", "pass both")
    if username and not password_stdin:
        raise UsageError(
            "--username needs --password-stdin", "pipe the password on stdin; there is no --password"
        )
    password = read_password_stdin(sys.stdin.read()) if password_stdin else None
    if timeout is not None and timeout <= 0:
        raise UsageError("--timeout must be positive", "e.g. --timeout 30")
    return Flags(
        plain_http=plain_http,
        insecure=insecure,
        username=username,
        password=password,
        concurrency=concurrency,
        timeout=timeout,
    )


def _settings() -> Settings:
    from homeops.registry.service import load_settings

    return load_settings()


@app.command("verify")
@read
def verify_cmd(
    refs: Annotated[list[str], typer.Argument(help="Image references: [host[:port]/]path[:tag][@digest].")],
    deep: Annotated[bool, typer.Option("--deep", help="Download every blob and re-hash it.")] = False,
    platform: Annotated[str | None, typer.Option("--platform", help="Only this os/arch[/variant].")] = None,
    concurrency: Concurrency = None,
    plain_http: PlainHttp = False,
    insecure: Insecure = False,
    username: Username = None,
    password_stdin: PasswordStdin = False,
    timeout: Timeout = None,
    json_output: JsonFlag = False,
) -> None:
    """Check that images can be pulled byte for byte: index, children, configs and layers (exit 0/1/4)."""
    from homeops.registry.service import verify

    flags = _flags(plain_http, insecure, username, password_stdin, concurrency=concurrency, timeout=timeout)
    report = verify(_settings(), refs, flags, deep=deep, platform=platform)
    finish(report, report.exit_code(), json_output)


@app.command("probe")
@read
def probe_cmd(
    url: Annotated[
        str | None, typer.Argument(help="[http://|https://]host[:port]; default probe_url.")
    ] = None,
    repo: Annotated[
        list[str] | None, typer.Option("--repo", help="fnmatch glob of repositories (repeatable).")
    ] = None,
    tags: Annotated[
        int | None, typer.Option("--tags", help="Newest N tags per repo; 0 = all (default 5).")
    ] = None,
    order: Annotated[str | None, typer.Option("--order", help="created | name.")] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Download and re-hash every blob.")] = False,
    pushgateway: Annotated[str | None, typer.Option("--pushgateway", help="Pushgateway base URL.")] = None,
    job: Annotated[str | None, typer.Option("--job", help="Pushgateway job.")] = None,
    instance: Annotated[
        str | None, typer.Option("--instance", help="instance label; default host[:port].")
    ] = None,
    textfile: Annotated[
        Path | None, typer.Option("--textfile", help="Also write the gauges to this file.")
    ] = None,
    deadline: Annotated[
        float | None, typer.Option("--deadline", help="Seconds before unwalked tags are skipped.")
    ] = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="An empty catalog is not a failure.")
    ] = False,
    concurrency: Concurrency = None,
    plain_http: PlainHttp = False,
    insecure: Insecure = False,
    username: Username = None,
    password_stdin: PasswordStdin = False,
    timeout: Timeout = None,
    json_output: JsonFlag = False,
) -> None:
    """Walk the catalog, verify the newest tags of every repo, push the registry_manifest_integrity_* gauges."""
    from homeops.registry.probe_cli import run

    flags = _flags(plain_http, insecure, username, password_stdin, concurrency=concurrency, timeout=timeout)
    report, code = run(
        _settings(),
        flags,
        url=url,
        repos=repo,
        tags=tags,
        order=order,
        deep=deep,
        pushgateway=pushgateway,
        job=job,
        instance=instance,
        textfile=textfile,
        deadline=deadline,
        allow_empty=allow_empty,
    )
    finish(report, code, json_output)


@app.command("scan")
@write
def scan_cmd(
    root: Annotated[Path | None, typer.Argument(help="A distribution root or a directory of them.")] = None,
    cache: Annotated[
        list[str] | None,
        typer.Option("--cache", help="A registry under ROOT that is a pull-through cache."),
    ] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Remove orphan _layers links (only those).")] = False,
    yes: YesFlag = False,
    dry_run: DryRunFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Check distribution's on-disk storage; --fix removes only orphan layer links (then restart the registry)."""
    from homeops.registry.scan import scan
    from homeops.writes import WriteResult, audit, confirm_destructive

    settings = _settings()
    where = root or Path(settings.scan_root)
    caches = set(cache or settings.scan_cache_registries)
    if fix and not dry_run:
        planned = scan(
            where, caches=caches, stale_hours=settings.scan_stale_upload_hours, fix=True, dry_run=True
        )
        if planned.actions:
            confirm_destructive(
                f"remove {len(planned.actions)} orphan layer links under {where}", yes=yes, dry_run=False
            )
    report = scan(
        where, caches=caches, stale_hours=settings.scan_stale_upload_hours, fix=fix, dry_run=dry_run
    )
    removed = sum(1 for r in report.registries for f in r.findings if f.fixed)
    if removed:
        print(
            f"homeops registry: removed {removed} orphan layer links — restart the registry: its in-memory blob "
            "descriptor cache keeps answering 200 for them until restart",
            file=sys.stderr,
        )
        audit("registry scan --fix", str(where), WriteResult(True, False, []))
    finish(report, report.exit_code(), json_output)


def _retention(
    options: RetentionOptions, flags: Flags, *, apply_: bool, yes: bool, dry_run: bool, json_output: bool
) -> None:
    from homeops.registry.retention_cli import run
    from homeops.registry.service import load_settings_and_legacy

    settings, legacy_dry_run = load_settings_and_legacy()
    # the old CronJob's DRY_RUN=true forces a plan
    report, code = run(settings, flags, options, apply_=apply_, yes=yes, dry_run=dry_run or legacy_dry_run)
    finish(report, code, json_output)


Backend = Annotated[str | None, typer.Option("--backend", help="forgejo | distribution.")]
RetUrl = Annotated[str | None, typer.Option("--url", help="Registry or Forgejo URL.")]
Owner = Annotated[str | None, typer.Option("--owner", help="Forgejo package owner.")]
RepoGlob = Annotated[list[str] | None, typer.Option("--repo", help="fnmatch glob (repeatable).")]
Keep = Annotated[int | None, typer.Option("--keep", help="Newest unprotected tags kept (default 10).")]
Protect = Annotated[list[str] | None, typer.Option("--protect", help="Tag never deleted (repeatable).")]
ProtectRe = Annotated[
    list[str] | None, typer.Option("--protect-regex", help="Unanchored regex of protected tags.")
]
MaxDeletes = Annotated[int | None, typer.Option("--max-deletes", help="Refuse a bigger plan (default 200).")]


@retention_app.command("plan")
@read
def retention_plan(
    backend: Backend = None,
    url: RetUrl = None,
    owner: Owner = None,
    repo: RepoGlob = None,
    keep: Keep = None,
    protect: Protect = None,
    protect_regex: ProtectRe = None,
    max_deletes: MaxDeletes = None,
    plain_http: PlainHttp = False,
    insecure: Insecure = False,
    username: Username = None,
    password_stdin: PasswordStdin = False,
    json_output: JsonFlag = False,
) -> None:
    """Show which tags and children retention would delete; the keep set is closed over the manifest graph."""
    from homeops.registry.retention_cli import RetentionOptions

    options = RetentionOptions(
        backend=backend,
        url=url,
        owner=owner,
        repos=repo,
        keep=keep,
        protect=protect,
        protect_regex=protect_regex,
        max_deletes=max_deletes,
    )
    flags = _flags(plain_http, insecure, username, password_stdin)
    _retention(options, flags, apply_=False, yes=False, dry_run=True, json_output=json_output)


@retention_app.command("apply")
@write
def retention_apply(
    backend: Backend = None,
    url: RetUrl = None,
    owner: Owner = None,
    repo: RepoGlob = None,
    keep: Keep = None,
    protect: Protect = None,
    protect_regex: ProtectRe = None,
    max_deletes: MaxDeletes = None,
    yes: YesFlag = False,
    dry_run: DryRunFlag = False,
    plain_http: PlainHttp = False,
    insecure: Insecure = False,
    username: Username = None,
    password_stdin: PasswordStdin = False,
    json_output: JsonFlag = False,
) -> None:
    """Delete what the plan says (--yes off a TTY), then verify every kept tag."""
    from homeops.registry.retention_cli import RetentionOptions

    options = RetentionOptions(
        backend=backend,
        url=url,
        owner=owner,
        repos=repo,
        keep=keep,
        protect=protect,
        protect_regex=protect_regex,
        max_deletes=max_deletes,
    )
    flags = _flags(plain_http, insecure, username, password_stdin)
    _retention(options, flags, apply_=True, yes=yes, dry_run=dry_run, json_output=json_output)


@retention_app.command("gc")
@write
def retention_gc(
    config_path: Annotated[Path, typer.Option("--config", help="The registry's config.yml.")],
    binary: Annotated[str | None, typer.Option("--binary", help="registry | docker-registry.")] = None,
    delete_untagged: Annotated[
        bool, typer.Option("--delete-untagged", help="-m; refused below v3.0.0.")
    ] = False,
    yes: YesFlag = False,
    dry_run: DryRunFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Run distribution's garbage-collect offline; refuses -m below v3.0.0 and a serving registry."""
    from homeops.registry.gc import run_gc

    result = run_gc(
        config_path,
        binary or _settings().retention_gc_binary,
        delete_untagged=delete_untagged,
        yes=yes,
        dry_run=dry_run,
    )
    finish(result, result.exit_code(), json_output)


@breakglass_app.command("save")
@write
def breakglass_save(
    image: Annotated[str, typer.Argument(help="Image reference to save.")],
    directory: Annotated[Path | None, typer.Option("--dir", help="Where tarballs live.")] = None,
    keep: Annotated[int | None, typer.Option("--keep", help="Tarballs kept (default 5).")] = None,
    platform: Annotated[str | None, typer.Option("--platform", help="os/arch (default linux/amd64).")] = None,
    tool: Annotated[str | None, typer.Option("--tool", help="auto | docker | skopeo.")] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="File name prefix; default the last path part.")
    ] = None,
    dry_run: DryRunFlag = False,
    plain_http: PlainHttp = False,
    insecure: Insecure = False,
    username: Username = None,
    password_stdin: PasswordStdin = False,
    json_output: JsonFlag = False,
) -> None:
    """Pull IMAGE, write a verified .tar.gz atomically, swap the -latest symlink, keep N."""
    from homeops.registry.breakglass_cli import save

    flags = _flags(plain_http, insecure, username, password_stdin)
    result = save(
        _settings(),
        flags,
        image,
        directory=directory,
        keep=keep,
        platform=platform,
        tool=tool,
        name=name,
        dry_run=dry_run,
    )
    finish(result, ExitCode.OK, json_output)


@breakglass_app.command("list")
@read
def breakglass_list(
    directory: Annotated[Path | None, typer.Option("--dir", help="Where tarballs live.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only this name.")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Re-check every tarball; exit 1 on a failure.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """List break-glass tarballs (with --check: gzip, tar, manifest and sha256 of each)."""
    from homeops.registry.breakglass_cli import list_entries

    result, code = list_entries(_settings(), directory, name, check)
    finish(result, code, json_output)


@breakglass_app.command("prune")
@write
def breakglass_prune(
    keep: Annotated[int, typer.Option("--keep", help="Tarballs kept per name (at least 1).")],
    directory: Annotated[Path | None, typer.Option("--dir", help="Where tarballs live.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only this name.")] = None,
    yes: YesFlag = False,
    dry_run: DryRunFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Rotate break-glass tarballs: keep the newest K plus the -latest target."""
    from homeops.registry.breakglass_cli import prune

    result = prune(_settings(), directory, name, keep, yes=yes, dry_run=dry_run)
    finish(result, ExitCode.OK, json_output)
