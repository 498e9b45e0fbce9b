"""Core: render a ``ScheduledJob`` as systemd service/timer units or a batch/v1 CronJob manifest."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from homeops.errors import UsageError
from homeops.schedule import ScheduledJob

DEFAULT_EXEC = "/usr/local/bin/homeops"
DEFAULT_IMAGE = "registry.viktorbarzin.me/homeops:latest"


@dataclass(frozen=True)
class RenderedFile:
    """One file of a rendering: its name and text."""

    name: str
    text: str


def unit_name(job: ScheduledJob) -> str:
    """``homeops-<job>``: the base name of every file rendered for a job."""
    return f"homeops-{job.name}"


def render_systemd(
    job: ScheduledJob, *, exec_path: str = DEFAULT_EXEC, config_path: str = ""
) -> list[RenderedFile]:
    """A ``.service`` (and a ``.timer`` for periodic jobs) that run ``homeops <argv>``."""
    exec_line = " ".join(shlex.quote(w) for w in (exec_path, *job.command))
    service = [
        "[Unit]",
        f"Description=homeops: {job.summary}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
    ]
    if job.kind == "service":
        service += ["Type=simple", f"ExecStart={exec_line}", f"Restart={job.restart}", "RestartSec=5s"]
    else:
        service += ["Type=oneshot", f"ExecStart={exec_line}"]
    if config_path:
        service.append(f"Environment=HOMEOPS_CONFIG={config_path}")
    service += [
        line.replace("{exec}", exec_path) for line in job.systemd_extra
    ]  # e.g. the fan's ExecStopPost
    service += ["NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=read-only", "ProtectSystem=full"]
    if job.kind == "service":
        service += ["", "[Install]", "WantedBy=multi-user.target"]
    files = [RenderedFile(unit_name(job) + ".service", "\n".join(service) + "\n")]
    if job.kind == "timer":
        timer = [
            "[Unit]",
            f"Description=homeops: {job.summary} (schedule)",
            "",
            "[Timer]",
            f"OnCalendar={job.on_calendar}",
            "Persistent=true",
            "RandomizedDelaySec=30s",
            f"Unit={unit_name(job)}.service",
            "",
            "[Install]",
            "WantedBy=timers.target",
        ]
        files.append(RenderedFile(unit_name(job) + ".timer", "\n".join(timer) + "\n"))
    return files


def render_cronjob(
    job: ScheduledJob,
    *,
    image: str = DEFAULT_IMAGE,
    namespace: str = "homeops",
    config_map: str = "homeops-config",
) -> list[RenderedFile]:
    """A batch/v1 CronJob running ``homeops <argv>`` from the homeops image, config from a ConfigMap."""
    import yaml

    if job.kind != "timer":
        raise UsageError(
            f"{job.name} is a long-running service, not a periodic job", "render it with --as systemd"
        )
    if job.runs_on == "host":
        raise UsageError(f"{job.name} must run on the host it controls", "render it with --as systemd")
    name = unit_name(job)
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": "homeops"}},
        "spec": {
            "schedule": job.cron,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": {
                            "labels": {"app.kubernetes.io/name": "homeops", "homeops/job": job.name}
                        },
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "homeops",
                                    "image": image,
                                    "args": list(job.command),
                                    "env": [{"name": "HOMEOPS_CONFIG", "value": "/etc/homeops/config.toml"}],
                                    "volumeMounts": [
                                        {"name": "config", "mountPath": "/etc/homeops", "readOnly": True}
                                    ],
                                }
                            ],
                            "volumes": [{"name": "config", "configMap": {"name": config_map}}],
                        },
                    },
                }
            },
        },
    }
    return [RenderedFile(name + ".yaml", yaml.safe_dump(manifest, sort_keys=False))]
