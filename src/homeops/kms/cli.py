"""CLI: ``homeops kms`` — parse vlmcsd logs, watch them (Slack + metrics daemon), check KMS DNS and reachability.

Thin: options → settings → the service modules (imported inside the commands), then emit and exit codes.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit

import typer

from homeops import output
from homeops.cliopts import DryRunFlag, JsonFlag, JsonLinesFlag
from homeops.errors import ExitCode, ExitWith, Unreachable, UsageError
from homeops.kms.settings import LEGACY_NAMES, Settings
from homeops.manifest import read, write

if TYPE_CHECKING:
    from homeops.config import Config

app = typer.Typer(no_args_is_help=True, help="vlmcsd activation notifier and KMS DNS checks.")

LIMITS = (
    "Known limits: only connection lines carry an address, so two request blocks that interleave line by line "
    "cannot be told apart, and a probe accepted after an activation's open but before its request line takes "
    "the request. A client chooses its workstation name and vlmcsd writes it raw, so a hostile client can "
    "forge log lines: Slack text is escaped, label sets are capped and posts are deduped, but counts from the "
    "WAN cannot be fully trusted."
)


def read_legacy_env_file(path: str) -> dict[str, tuple[str, str]]:
    """The original's variable names from a ``KEY=VALUE`` file → ``{key: (text, "env-file:PATH:LINE")}``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read env-file {path}: {exc.strerror}", "check --env-file / kms.legacy_env_file"
        ) from None
    found: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        key = LEGACY_NAMES.get(name.strip())
        if key is not None:
            found[key] = (value, f"env-file:{path}:{number}")
    return found


def load_settings(env_file: str | None = None) -> tuple[Settings, Config]:
    """``[kms]`` with precedence flag > HOMEOPS_KMS__* > TOML > legacy env-file > default."""
    from homeops import config as config_mod

    cfg = config_mod.load()
    settings = cfg.table("kms", Settings)
    path = env_file or settings.legacy_env_file
    if path:
        cfg = config_mod.load(legacy={"kms": read_legacy_env_file(path)})
        settings = cfg.table("kms", Settings)
    return settings, cfg


# --- parse -------------------------------------------------------------------------------------------------


@app.command("parse")
@read
def parse_cmd(
    logfile: Annotated[
        str | None,
        typer.Argument(help="vlmcsd log file, or - for stdin; default kms.log_file.", show_default=False),
    ] = None,
    dedup_window: Annotated[
        int | None,
        typer.Option(
            "--dedup-window", min=0, help="Mark which activations watch would post (log timestamps)."
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Parse a whole vlmcsd log offline: every connection event and configuration warnings."""
    from homeops.kms.service import WARNING_FIX, classifier_for, parse_lines

    settings, _cfg = load_settings()
    path = logfile or settings.log_file
    kwargs = {
        "max_open": settings.max_open_connections,
        "dedup_window": dedup_window,
        "dedup_max": settings.dedup_max,
    }
    if path == "-":
        stream = sys.stdin
        report = parse_lines(stream, classifier_for(settings), **kwargs)  # type: ignore[arg-type]
    else:
        if Path(path).is_dir():
            raise UsageError(f"cannot read {path}: it is a directory", "name the log file")
        try:
            with open(path, encoding="utf-8", errors="replace", newline="\n") as fh:
                report = parse_lines(fh, classifier_for(settings), **kwargs)  # type: ignore[arg-type]
        except OSError as exc:
            raise UsageError(
                f"cannot read {path}: {exc.strerror}", "check the path, the volume mount and permissions"
            ) from None
    if json_output:
        # output.emit's document (to_jsonable, sorted keys) but compact: json's C encoder only runs without an
        # indent, and indenting the ~290k events of a 1M-line log costs ~40 % more (benchmarks/RESULTS.md)
        sys.stdout.write(output.dumps(report, indent=None) + "\n")
        sys.stdout.flush()
    else:
        output.emit(report, json_output=False)
        for warning in report.warnings:
            fix = WARNING_FIX.get(warning["kind"], "")
            text = f"{warning['kind']} ({warning['count']}×): {warning['message']}"
            output.warn(text if fix in text else f"{text} — fix: {fix}")


# --- watch -------------------------------------------------------------------------------------------------


def _check_webhook(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            if host == "localhost":
                return
    raise UsageError(
        "the Slack webhook URL must be https:// (or http:// to a loopback address)",
        "fix the secret kms.slack_webhook points at",
    )


@app.command("watch", epilog=LIMITS)
@write
def watch_cmd(
    logfile: Annotated[
        str | None, typer.Argument(help="vlmcsd log file; default kms.log_file.", show_default=False)
    ] = None,
    slack_webhook: Annotated[
        str | None,
        typer.Option(
            "--slack-webhook", help="Webhook secret reference (env:NAME, file:/path, vault:…); not a URL."
        ),
    ] = None,
    no_slack: Annotated[
        bool, typer.Option("--no-slack", help="Post nothing; metrics and log lines as usual.")
    ] = False,
    dry_run: DryRunFlag = False,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=0, max=65535, help="Metrics port (default 9101; 0 = free)."),
    ] = None,
    metrics_addr: Annotated[
        str | None, typer.Option("--metrics-addr", help="Metrics address (default 0.0.0.0).")
    ] = None,
    dedup_window: Annotated[
        int | None,
        typer.Option("--dedup-window", min=0, help="Seconds before an ip+product is posted again."),
    ] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Read an existing log from its start.")
    ] = False,
    interval: Annotated[
        float | None, typer.Option("--interval", min=0.001, help="Seconds between checks of the log at EOF.")
    ] = None,
    env_file: Annotated[
        str | None, typer.Option("--env-file", help="File with the original's variable names (KEY=VALUE).")
    ] = None,
    json_output: JsonLinesFlag = False,
) -> None:
    """Follow the vlmcsd log like tail -F, post activations to Slack, serve metrics (a daemon)."""
    from homeops.kms.follow import StartError
    from homeops.kms.service import classifier_for
    from homeops.kms.slack import HttpxPoster, Poster
    from homeops.kms.watch import Watcher, WatchOptions, log
    from homeops.metrics import MetricsServer

    settings, cfg = load_settings(env_file)
    options = WatchOptions(
        log_file=logfile or settings.log_file,
        from_start=from_start,
        interval=interval if interval is not None else settings.poll_interval,
        dedup_window=dedup_window if dedup_window is not None else settings.dedup_window,
        dedup_max=settings.dedup_max,
        metrics_addr=metrics_addr if metrics_addr is not None else settings.metrics_addr,
        metrics_port=metrics_port if metrics_port is not None else settings.metrics_port,
        slack=not no_slack and not dry_run,
        dry_run=dry_run,
        json=json_output,
        stale_after=settings.stale_connection_after,
        max_open=settings.max_open_connections,
        shutdown_grace=settings.shutdown_grace,
        spool_file=settings.spool_file,
        position_file=settings.position_file,
        channel=settings.slack_channel,
        username=settings.slack_username,
        icon_emoji=settings.slack_icon_emoji,
        queue_max=settings.slack_queue_max,
        retry_max_delay=settings.slack_retry_max_delay,
    )
    poster: Poster | None = None
    if options.slack:
        from homeops.secrets import resolve
        from homeops.settings import Secret, is_secret_reference
        from homeops.shared_settings import VaultSettings

        secret = settings.slack_webhook
        if slack_webhook is not None:
            if not is_secret_reference(slack_webhook):
                raise UsageError(
                    "--slack-webhook takes a secret reference, not a URL",
                    "e.g. --slack-webhook env:SLACK_WEBHOOK_URL (a URL in argv leaks to ps and shell history)",
                )
            secret = Secret((slack_webhook,))
        if not secret:
            raise UsageError("no Slack webhook configured", "set kms.slack_webhook or pass --no-slack")
        url = resolve(secret, what="kms.slack_webhook", vault=cfg.table("vault", VaultSettings))
        _check_webhook(url)
        poster = HttpxPoster(url, settings.slack_timeout)
    try:
        watcher = Watcher(
            options, classifier_for(settings), poster, emit_event=output.emit_event if json_output else None
        )
    except StartError:
        raise UsageError(
            f"cannot read {options.log_file}", "check the volume mount and permissions"
        ) from None
    try:
        server = MetricsServer(
            options.metrics_addr, options.metrics_port, watcher.metrics.families, watcher.healthy,
            unhealthy_text="stalled",
        )  # fmt: skip
    except OSError as exc:
        watcher.follower.close()
        raise UsageError(
            f"--metrics-port {options.metrics_port} on {options.metrics_addr}: {exc.strerror}",
            "pick a free port with --metrics-port (0 = any free port)",
        ) from None
    log(f"metrics on :{server.port}/metrics")
    target = f"posting to {options.channel} via Slack" if options.slack else "Slack disabled"
    if dry_run:
        target = "Slack disabled (dry run)"
    log(f"tailing {options.log_file}, {target}")
    watcher.install_signal_handlers()
    try:
        watcher.run()
    finally:
        server.stop()


# --- check -------------------------------------------------------------------------------------------------


@app.command("check")
@read
def check_cmd(
    domain: Annotated[str | None, typer.Option("--domain", help="Check SRV _vlmcs._tcp.D → A → TCP.")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Check one host's port directly.")] = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port for --host.")] = 1688,
    expect: Annotated[
        Literal["open", "closed"], typer.Option("--expect", help="For --host: open (default) or closed.")
    ] = "open",
    server: Annotated[
        str | None,
        typer.Option("--server", help="DNS server IP[:PORT]; default kms.dns_server or the system's."),
    ] = None,
    expect_target: Annotated[
        str | None,
        typer.Option("--expect-target", help="Expected SRV target (default vlmcs.<D>.; '' = any)."),
    ] = None,
    expect_port: Annotated[
        int | None,
        typer.Option("--expect-port", min=0, max=65535, help="Expected SRV port (default 1688; 0 = any)."),
    ] = None,
    expect_address: Annotated[
        str | None, typer.Option("--expect-address", help="Expected address of the SRV target.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.05, help="Seconds for a TCP connect.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Check KMS discovery (SRV → A → TCP 1688) or one host's port (--expect closed after revoking)."""
    from homeops.kms.check import (
        DnsResolver,
        DnsUnavailable,
        evaluate_domain,
        evaluate_host,
        parse_server,
        tcp_connect,
    )

    if (domain is None) == (host is None):
        raise UsageError("give exactly one of --domain and --host", "e.g. --domain viktorbarzin.lan")
    settings, _cfg = load_settings()
    server_text = server if server is not None else settings.dns_server
    try:
        server_addr = parse_server(server_text) if server_text else None
    except ValueError:
        raise UsageError(
            f"--server {server_text!r} is not IP[:PORT]", "e.g. --server 10.0.20.201:53"
        ) from None
    address = expect_address if expect_address is not None else settings.expect_address
    if address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise UsageError(
                f"--expect-address {address!r} is not an IP address", "e.g. 10.0.20.202"
            ) from None
    wait = timeout if timeout is not None else settings.check_timeout
    server_label = f"{server_addr[0]}:{server_addr[1]}" if server_addr else None
    try:
        resolver = DnsResolver(server_addr, wait + 2.0)
        if domain is not None:
            target = expect_target if expect_target is not None else (settings.expect_target or None)
            report = evaluate_domain(
                domain, resolver, tcp_connect, server=server_label, expect_target=target,
                expect_port=expect_port if expect_port is not None else settings.expect_port,
                expect_address=address, timeout=wait,
            )  # fmt: skip
        else:
            assert host is not None
            report = evaluate_host(host, port, expect, resolver, tcp_connect, timeout=wait)  # type: ignore[assignment]
    except DnsUnavailable as exc:
        raise Unreachable(
            f"DNS could not be asked: {exc}", "check --server / kms.dns_server and the network"
        ) from None
    output.emit(report, json_output=json_output)
    if not report.ok:
        if not json_output:
            kinds = ", ".join(dict.fromkeys(p.kind for p in report.problems))
            print(f"homeops kms: check found {kinds}", file=sys.stderr)
        raise ExitWith(ExitCode.PROBLEM)
