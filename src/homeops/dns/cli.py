"""CLI: `homeops dns`: Technitium zone sync, readiness gate, parity, resolver fallback and TSIG checks.

Thin: parse, build the runtime (service.py), call the service module, emit, map to exit codes. Service
modules (httpx, dnspython) are imported inside the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from homeops.cliopts import DryRunFlag, JsonFlag, YesFlag
from homeops.errors import ExitCode, ExitWith, UsageError
from homeops.manifest import read, write
from homeops.output import emit

if TYPE_CHECKING:
    from homeops.dns.service import Runtime

app = typer.Typer(
    no_args_is_help=True, help="Technitium zone sync, readiness gate, fallback and TSIG checks."
)

PushgatewayOpt = Annotated[
    str | None,
    typer.Option("--pushgateway", metavar="URL", help="Pushgateway URL (default: dns.pushgateway)."),
]
NoPushOpt = Annotated[bool, typer.Option("--no-push", help="Do not push metrics.")]


def _runtime() -> Runtime:
    from homeops.config import load
    from homeops.dns.service import build

    return build(load())


def _say(line: str) -> None:
    print(f"homeops dns: {line}", file=sys.stderr, flush=True)


def _leave(code: ExitCode, line: str = "") -> NoReturn:
    """After the result was emitted: one stderr line (if any), then the exit code."""
    if line:
        _say(line)
    raise ExitWith(code)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CronJob's pod being stopped) stops `dns sync` like Ctrl-C (specs/dns.md §6)."""
    import signal

    def raise_interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread (an embedding caller): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command("sync")
@write
def sync_cmd(
    dry_run: DryRunFlag = False,
    pushgateway: PushgatewayOpt = None,
    no_push: NoPushOpt = False,
    delete_stale: Annotated[
        bool, typer.Option("--delete-stale", help="Delete replica Secondary zones the primary no longer has.")
    ] = False,
    yes: YesFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Replicate the primary's zones to the replicas as Secondary zones; push technitium_zone_* metrics."""
    from homeops.dns.sync import push_metrics, run_sync
    from homeops.output import info, warn
    from homeops.writes import confirm_destructive

    if delete_stale:
        confirm_destructive("delete stale Secondary zones on the replicas", yes=yes, dry_run=dry_run)
    with _runtime() as rt, _sigterm_as_interrupt():
        report = run_sync(rt, dry_run=dry_run, delete_stale=delete_stale)
        if not dry_run:
            if not report.interrupted:
                info(
                    f"Zone sync complete. {report.created} new zone(s) created. "
                    f"{report.failures} failures. status={report.status}"
                )
            url = pushgateway if pushgateway is not None else rt.settings.pushgateway
            if not no_push and url:
                # An interrupted run pushes status 1 too, so the alert sees it.
                report.pushed = push_metrics(rt, report, url=url)
                if not report.pushed:
                    warn("zones synced, metrics not pushed")
    emit(report, json_output=json_output)
    if report.interrupted:
        _leave(ExitCode.INTERRUPTED, report.interrupted_line())
    if report.unreachable:
        _leave(
            ExitCode.UNREACHABLE,
            f"{report.unreachable} — check the primary's API and the credentials; no zone was changed",
        )
    if report.status and not dry_run:
        _leave(ExitCode.PROBLEM)


@app.command("gate")
@read
def gate_cmd(
    no_k8s: Annotated[
        bool, typer.Option("--no-k8s", help="Skip the rollout step (needs static dns addresses).")
    ] = False,
    serials: Annotated[
        bool, typer.Option("--serials", help="Also fail when a zone's SOA serial differs.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Readiness gate: rollout → API probe → zone parity → answer parity."""
    from homeops.dns.gate import run_gate

    with _runtime() as rt:
        if no_k8s:
            missing = [i.name for i in rt.settings.instances if not i.dns]
            if missing:
                raise UsageError(
                    f"--no-k8s needs a static dns address for {', '.join(missing)}", "set dns.instances[].dns"
                )
        report = run_gate(rt, no_k8s=no_k8s, serials=serials)
    emit(report, json_output=json_output)
    if report.failed_step is not None:
        _leave(ExitCode.PROBLEM, report.failure_line())
    if report.could_not_check:
        # Fail closed (DESIGN §2b): a gate that could not check its dependency says no.
        _leave(
            ExitCode.REFUSED,
            f"gate could not check {report.could_not_check} — fix access, then run the gate again",
        )


@app.command("parity")
@read
def parity_cmd(
    name: Annotated[str, typer.Argument(help="Name to ask every instance.")],
    rdtype: Annotated[str, typer.Option("--type", help="Record type.")] = "A",
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Also accept the same NXDOMAIN/NODATA everywhere.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Ask every instance directly; answers must be equal."""
    from homeops.dns.checks import run_parity

    with _runtime() as rt:
        report = run_parity(rt, name, rdtype, allow_empty=allow_empty)
    emit(report, json_output=json_output)
    if not report.any_answered:
        _leave(ExitCode.UNREACHABLE, f"no instance answered {name} — check the instances' DNS addresses")
    if not report.ok:
        _leave(
            ExitCode.PROBLEM,
            f"parity failed for {name} {rdtype}: {'; '.join(report.problems())} — run homeops dns gate",
        )


@app.command("fallback-check")
@read
def fallback_cmd(
    name: Annotated[str, typer.Option("--name", help="Name to resolve (pick an external one).")],
    primary: Annotated[
        str | None, typer.Option("--primary", metavar="IP[:PORT]", help="First nameserver.")
    ] = None,
    fallback: Annotated[
        str | None, typer.Option("--fallback", metavar="IP[:PORT]", help="Second nameserver.")
    ] = None,
    rdtype: Annotated[str, typer.Option("--type", help="Record type.")] = "A",
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds per attempt (default 2).")
    ] = None,
    lifetime: Annotated[
        float | None, typer.Option("--lifetime", help="Seconds for the chain (default 6).")
    ] = None,
    resolv_conf: Annotated[
        str | None,
        typer.Option("--from-resolv-conf", metavar="PATH", help="Take servers and timeout from a file."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Does resolution survive a dead primary?"""
    from homeops.config import load
    from homeops.dns.checks import fallback_inputs, run_fallback
    from homeops.dns.settings import Settings

    settings = load().table("dns", Settings)
    p, f, tmo = fallback_inputs(primary, fallback, resolv_conf, timeout)
    tmo = tmo if tmo is not None else settings.fallback_timeout
    life = lifetime if lifetime is not None else settings.fallback_lifetime
    if tmo <= 0 or life <= 0:
        raise UsageError("--timeout and --lifetime must be positive", "e.g. --timeout 2 --lifetime 6")
    report = run_fallback(p, f, name, rdtype, timeout=tmo, lifetime=life)
    emit(report, json_output=json_output)
    if not report.ok:
        _leave(
            ExitCode.PROBLEM,
            f"fallback check failed: {'; '.join(report.problems)} — fix the fallback resolver",
        )


@app.command("tsig-check")
@write
def tsig_cmd(
    server: Annotated[str, typer.Option("--server", metavar="IP[:PORT]", help="The DNS server to test.")],
    zone: Annotated[str, typer.Option("--zone", help="Zone that should take signed updates only.")],
    key_name: Annotated[
        str | None, typer.Option("--key-name", help="TSIG key name (default dns.tsig_key_name).")
    ] = None,
    secret_ref: Annotated[
        str | None,
        typer.Option(
            "--secret", metavar="REF", help="Secret reference (env:, file:, vault:), never the secret."
        ),
    ] = None,
    algorithm: Annotated[
        str | None, typer.Option("--algorithm", help="TSIG algorithm (default hmac-sha256).")
    ] = None,
    record: Annotated[str | None, typer.Option("--record", help="Test record, relative to the zone.")] = None,
    dry_run: DryRunFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Signed update accepted with a verified signed reply; unsigned and wrong-key refused; test record removed."""
    from homeops.config import load
    from homeops.dns.dnsclient import TsigKey, check_key
    from homeops.dns.settings import Settings, parse_address
    from homeops.dns.tsig import TsigInputs, run_tsig_check
    from homeops.secrets import resolve
    from homeops.settings import Secret, is_secret_reference
    from homeops.shared_settings import VaultSettings

    config = load()
    s = config.table("dns", Settings)
    try:
        address = parse_address(server)
    except ValueError as exc:
        raise UsageError(f"--server: {exc}", "use IP[:PORT]") from None
    rec = (record if record is not None else s.tsig_record).strip().rstrip(".")
    if rec in ("", "@") or rec.lower() == zone.lower().rstrip("."):
        raise UsageError("--record must not be the zone apex", "Technitium's *.zone policy does not cover it")
    if not secret_ref:
        raise UsageError("--secret REF is required", "e.g. --secret vault:secret/viktor#kea_ddns_tsig_secret")
    if not is_secret_reference(secret_ref):
        raise UsageError(
            "--secret takes a reference, not a secret", "use env:NAME, file:/path or vault:…#key"
        )
    value = (
        ""
        if dry_run
        else resolve(Secret((secret_ref,)), what="--secret", vault=config.table("vault", VaultSettings))
    )
    key = TsigKey(key_name or s.tsig_key_name, value or "AAAA", algorithm or s.tsig_algorithm)
    problem = check_key(key)
    if problem:
        raise UsageError(problem, "check --secret and --algorithm")
    inp = TsigInputs(
        address,
        zone.rstrip("."),
        rec,
        key,
        s.tsig_signed_value,
        s.tsig_unsigned_value,
        s.tsig_timeout,
        s.tsig_visible_interval,
    )
    report = run_tsig_check(inp, dry_run=dry_run)
    emit(report, json_output=json_output)
    if report.exit_code == ExitCode.PROBLEM:
        failed = "; ".join(p.split(" — ")[0] for p in report.problems)
        _leave(report.exit_code, f"tsig-check failed: {failed} — see the report above")
    if report.exit_code == ExitCode.UNREACHABLE:
        _leave(report.exit_code, f"tsig-check could not finish: {report.unreachable} — check the server")
    if report.exit_code != ExitCode.OK:
        _leave(report.exit_code)


@app.command("stats")
@read
def stats_cmd(
    pushgateway: PushgatewayOpt = None, no_push: NoPushOpt = False, json_output: JsonFlag = False
) -> None:
    """Real query-rate gauges for the anomaly alerts."""
    from homeops.dns.stats import push_stats, run_stats

    with _runtime() as rt:
        report = run_stats(rt)
        url = pushgateway if pushgateway is not None else rt.settings.pushgateway
        if report.ok and not no_push and url:
            report.pushed = push_stats(rt, report, url)
    emit(report, json_output=json_output)
    if not report.ok:
        bad = "; ".join(f"{i.name}: {i.error}" for i in report.instances if not i.ok)
        _leave(
            ExitCode.UNREACHABLE,
            f"stats not read ({bad}); nothing pushed — check the instances' API and credentials",
        )
    if not no_push and url and not report.pushed:
        _leave(ExitCode.UNREACHABLE, "stats read but not pushed — check the Pushgateway")
