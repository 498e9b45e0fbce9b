"""Config: the `[kms]` table: the vlmcsd log, Slack delivery, dedup, metrics, sources and the DNS check
(specs/kms.md §4)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from homeops.settings import Secret, secret, setting

# Names of the original sidecar's environment, read only from an env-file the user names (DESIGN §2b).
LEGACY_NAMES: dict[str, str] = {
    "VLMCSD_LOG": "log_file",
    "SLACK_CHANNEL": "slack_channel",
    "DEDUP_WINDOW_SECONDS": "dedup_window",
    "METRICS_PORT": "metrics_port",
}


@dataclass(frozen=True)
class Settings:
    """`[kms]` settings."""

    log_file: str = setting("/var/log/vlmcsd/vlmcsd.log", "vlmcsd log file (`-l FILE`) to follow or parse.")
    slack_webhook: Secret = secret(
        "Slack incoming-webhook URL reference.", default=("env:SLACK_WEBHOOK_URL",)
    )
    slack_channel: str = setting("#alerts", "Slack channel in the payload (ignored by app webhooks).")
    slack_username: str = setting("kms.viktorbarzin.me", "Slack username in the payload.")
    slack_icon_emoji: str = setting(":computer:", "Slack icon emoji in the payload.")
    slack_timeout: float = setting(10.0, "Seconds for one Slack post.", min=0.01, max=300)
    slack_queue_max: int = setting(
        1000, "Messages kept while Slack is failing; the oldest is dropped.", min=1
    )
    slack_retry_max_delay: float = setting(300.0, "Cap of the retry backoff in seconds.", min=0.01, max=3600)
    spool_file: str = setting(
        "", "JSON Lines file keeping undelivered messages across restarts; empty = memory."
    )
    shutdown_grace: float = setting(
        5.0, "Seconds to drain the Slack queue on SIGTERM/SIGINT.", min=0, max=300
    )
    dedup_window: int = setting(3600, "Seconds an (ip, product) pair is not posted again.", min=0)
    dedup_max: int = setting(4096, "Dedup entries kept; the oldest is dropped.", min=1)
    metrics_port: int = setting(9101, "Metrics endpoint port; 0 = pick a free port.", min=0, max=65535)
    metrics_addr: str = setting("0.0.0.0", "Metrics endpoint address.")
    legacy_env_file: str = setting(
        "", "File with the original's variable names (KEY=VALUE); same as --env-file."
    )
    poll_interval: float = setting(0.5, "Seconds between checks of the log at EOF.", min=0.001, max=60)
    position_file: str = setting("", "Where to save the read offset; empty = start at the end.")
    stale_connection_after: float = setting(
        600.0, "Seconds before an open connection is emitted as stale.", min=1
    )
    max_open_connections: int = setting(
        4096, "Open connections tracked; the oldest is emitted as stale.", min=1
    )
    pod_cidrs: list[str] = setting(["10.10.0.0/16"], "Networks whose clients are `internal_pod`.")
    node_cidrs: list[str] = setting(["10.0.20.0/24"], "Networks whose clients are `cluster_node`.")
    domain: str = setting("viktorbarzin.lan", "Domain whose `_vlmcs._tcp` SRV doctor checks.")
    dns_server: str = setting("", "DNS server IP[:PORT] for checks; empty = the system resolver.")
    expect_target: str = setting("", "Expected SRV target; empty = `vlmcs.<domain>.`.")
    expect_port: int = setting(1688, "Expected SRV port; 0 = any.", min=0, max=65535)
    expect_address: str = setting("", "Expected address of the SRV target; empty = any.")
    check_timeout: float = setting(3.0, "Seconds for the TCP connect of a check.", min=0.05, max=120)

    def __post_init__(self) -> None:
        for key in ("pod_cidrs", "node_cidrs"):
            for text in getattr(self, key):
                try:
                    ipaddress.ip_network(text, strict=False)
                except ValueError:
                    raise ValueError(f"{key}: {text!r} is not a network (e.g. 10.10.0.0/16)") from None
        if self.expect_address:
            try:
                ipaddress.ip_address(self.expect_address)
            except ValueError:
                raise ValueError(f"expect_address: {self.expect_address!r} is not an IP address") from None
