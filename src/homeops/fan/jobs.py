"""Scheduled jobs of the fan group: the controller daemon (a host service: it needs /dev/ipmi0)."""

from __future__ import annotations

from homeops.schedule import ScheduledJob

# The full hardened unit with the watchdog is `homeops fan unit`; this generic rendering keeps Type=simple,
# so it carries no WatchdogSec (systemd would kill a Type=simple service that never notifies).

JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        name="fan",
        group="fan",
        summary="Dell R730 fan controller daemon (hands back to Dell auto on every stop).",
        argv=("fan", "run", "--bmc", "local"),
        kind="service",
        systemd_extra=(
            "ExecStopPost={exec} fan auto --bmc local",
            "RuntimeDirectory=homeops",
            "TimeoutStopSec=30",
        ),
        runs_on="host",
    ),
)
