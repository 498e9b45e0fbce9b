"""Schedule: zone sync every 30 minutes and the anomaly stats every 15 (CronJobs with concurrencyPolicy Forbid)."""

from __future__ import annotations

from homeops.schedule import ScheduledJob

JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        name="dns-sync",
        group="dns",
        summary="Replicate the primary's zones to the Technitium replicas; push technitium_zone_* metrics.",
        argv=("dns", "sync"),
        kind="timer",
        on_calendar="*:0/30",
        cron="*/30 * * * *",
        runs_on="cluster",
    ),
    ScheduledJob(
        name="dns-stats",
        group="dns",
        summary="Push the dns_anomaly_* query-rate gauges from Technitium's stats API.",
        argv=("dns", "stats"),
        kind="timer",
        on_calendar="*:0/15",
        cron="*/15 * * * *",
        runs_on="cluster",
    ),
)
