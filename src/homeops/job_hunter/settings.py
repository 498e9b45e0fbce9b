"""Config: the `[job-hunter]` table (spec job-hunter.md §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from homeops.settings import Secret, secret, setting

# postgresql:// or postgres:// (an app-style "+driver" suffix is accepted and stripped when used), or SQLite.
_DSN = re.compile(r"(postgres(ql)?(\+[a-z0-9]+)?://\S+|sqlite:///\S+)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Settings:
    """`[job-hunter]`: the job-hunter database, its CronJobs, the £ alert and self comp."""

    dsn: str = setting(
        "", "postgresql://… or sqlite:///…; empty = legacy env-file, else the local SQLite file."
    )
    db_password: Secret = secret("Password reference when the DSN has none.")
    legacy_env_file: str = setting("", "KEY=VALUE file; the only place DB_CONNECTION_STRING is read.")
    schema: str = setting("job_hunter", "PostgreSQL schema of the app's tables.")
    payslip_dsn: str = setting("", "DSN of the payslip_ingest database (self-comp realized).")
    payslip_password: Secret = secret("Password reference for payslip_dsn.")
    payslip_schema: str = setting("payslip_ingest", "Schema of the payslip table.")
    namespace: str = setting("job-hunter", "Kubernetes namespace of the app.")
    refresh_cronjob: str = setting("job-hunter-refresh", "CronJob that refresh instantiates.")
    alert_cronjob: str = setting("job-hunter-alert", "The app's alert CronJob (doctor).")
    deployment: str = setting("job-hunter", "The app's Deployment (status).")
    threshold: int = setting(500000, "Alert bar: London p50 total comp in £.", min=1)
    location: str = setting("london", "Location bucket of alert and analyze.")
    slack_webhook: Secret = secret(
        "Slack incoming-webhook reference.", default=("vault:secret/job-hunter#slack_webhook_url",)
    )
    min_refresh_interval_s: int = setting(3600, "Refuse a refresh this soon after the last success.", min=0)
    snapshot_max_age_days: int = setting(8, "A company's snapshot older than this is absent.", min=1, max=366)
    trend_weeks: int = setting(12, "analyze: baseline this many weeks back.", min=1, max=520)
    top_n: int = setting(10, "analyze: leaders shown.", min=1, max=1000)
    low_confidence_n: int = setting(3, "Fewer data points than this = low confidence.", min=1, max=100)
    open_role_days: int = setting(14, "analyze: roles fetched within this many days.", min=1, max=366)
    self_level: str = setting("senior", "Canonical level slug of the self rows.")
    self_current_name: str = setting("Me (Meta IC5)", "Display name of the self-current company row.")
    self_realized_name: str = setting("Me - realized gross", "Display name of the self-realized company row.")

    def __post_init__(self) -> None:
        for key in ("dsn", "payslip_dsn"):
            value = getattr(self, key)
            if value and not _DSN.fullmatch(value):
                # the value is not echoed: a DSN may carry a password
                raise ValueError(f"{key}: expected postgresql://… or sqlite:///…")
        for key in ("schema", "payslip_schema"):
            if not _IDENT.fullmatch(getattr(self, key)):
                raise ValueError(f"{key}: expected an SQL identifier, got {getattr(self, key)!r}")
        if not self.location:
            raise ValueError("location: must not be empty")
