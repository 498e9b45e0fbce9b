"""Schedule: zone sync every 30 minutes and the anomaly stats every 15 (CronJobs with concurrencyPolicy Forbid)."""

from __future__ import annotations

from homeops.schedule import ScheduledJob


def _every(minutes: int, verb: str, summary: str) -> ScheduledJob:
    """``homeops dns <verb>`` every ``minutes``, as a systemd timer or a CronJob (same schedule)."""
    return ScheduledJob(
        name=f"dns-{verb}",
        group="dns",
        summary=summary,
        argv=("dns", verb),
        kind="timer",
        on_calendar=f"*:0/{minutes}",
        cron=f"*/{minutes} * * * *",
        runs_on="cluster",
    )


JOBS: tuple[ScheduledJob, ...] = (
    _every(
        30,
        "sync",
        "Replicate the primary's zones to the Technitium replicas; push technitium_zone_* metrics.",
    ),
    _every(15, "stats", "Push the dns_anomaly_* query-rate gauges from Technitium's stats API."),
)
