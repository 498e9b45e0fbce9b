"""Schedule: ``kms-watch`` is a long-running service (the Slack notifier), not a periodic job."""

from __future__ import annotations

from homeops.schedule import ScheduledJob

JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        name="kms-watch",
        group="kms",
        summary="Follow the vlmcsd log, post activations to Slack, serve metrics on :9101.",
        argv=("kms", "watch"),
        kind="service",
        # A daemon that exits 0 on SIGTERM must still come back after any exit (the original sidecar restarts
        # with its pod).
        restart="always",
        runs_on="any",
    ),
)
