"""Schedule: the integrity probe every 15 minutes, and weekly Forgejo retention (plan only unless enabled)."""

from __future__ import annotations

from homeops.schedule import ScheduledJob

JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        name="registry-probe",
        group="registry",
        summary="Verify the newest tags of every repository and push the registry_manifest_integrity_* gauges.",
        argv=("registry", "probe"),
        kind="timer",
        on_calendar="*:0/15",
        cron="*/15 * * * *",
        runs_on="cluster",
    ),
    ScheduledJob(
        name="registry-retention",
        group="registry",
        summary="Plan Forgejo package retention (the keep set is closed over the manifest graph).",
        # retention_enabled = false in the homelab: the scheduled job only plans; apply is a human decision
        argv=("registry", "retention", "plan"),
        kind="timer",
        on_calendar="*-*-* 04:00:00",
        cron="0 4 * * *",
        runs_on="cluster",
    ),
)
