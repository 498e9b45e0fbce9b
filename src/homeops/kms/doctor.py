"""Doctor: the KMS discovery check (``kms check --domain <kms.domain>``), read-only."""

from __future__ import annotations

from homeops.config import Config
from homeops.doctor import Check, GroupReport
from homeops.kms.settings import Settings


def checks(config: Config) -> GroupReport:
    """SRV ``_vlmcs._tcp.<domain>`` → A → TCP; ``unknown`` when DNS could not be asked."""
    from homeops.kms.check import DnsResolver, DnsUnavailable, evaluate_domain, parse_server, tcp_connect

    settings = config.table("kms", Settings)
    name = f"srv _vlmcs._tcp.{settings.domain}"
    try:
        server = parse_server(settings.dns_server) if settings.dns_server else None
    except ValueError:
        return GroupReport(
            "kms", (Check(name, "fail", f"kms.dns_server {settings.dns_server!r} is not IP[:PORT]"),)
        )
    try:
        report = evaluate_domain(
            settings.domain,
            DnsResolver(server, settings.check_timeout + 2.0),
            tcp_connect,
            server=settings.dns_server or None,
            expect_target=settings.expect_target or None,
            expect_port=settings.expect_port,
            expect_address=settings.expect_address,
            timeout=settings.check_timeout,
        )
    except DnsUnavailable as exc:
        return GroupReport("kms", (Check(name, "unknown", f"DNS could not be asked: {exc}"),))
    if report.ok:
        targets = ", ".join(f"{t.target} {'/'.join(t.addresses)}" for t in report.targets)
        return GroupReport("kms", (Check(name, "ok", f"KMS reachable via {targets}"),))
    detail = "; ".join(f"{p.kind}: {p.detail}" for p in report.problems)
    return GroupReport("kms", (Check(name, "fail", detail),))
