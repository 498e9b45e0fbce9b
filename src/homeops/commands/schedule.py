"""CLI: ``homeops schedule list`` and ``homeops schedule render NAME --as systemd|cronjob``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from homeops import output
from homeops.cliopts import JsonFlag
from homeops.errors import UsageError
from homeops.manifest import read

app = typer.Typer(no_args_is_help=True, help="List scheduled jobs; render systemd or CronJob units.")


class RenderAs(StrEnum):
    """What to render a job as."""

    systemd = "systemd"
    cronjob = "cronjob"


@app.command("list")
@read
def list_jobs(json_output: JsonFlag = False) -> None:
    """List the jobs homeops can run on a schedule or as a service."""
    from homeops.schedule import all_jobs

    jobs = all_jobs()
    rows = [
        {
            "name": j.name,
            "group": j.group,
            "kind": j.kind,
            "schedule": j.on_calendar if j.kind == "timer" else "always",
            "cron": j.cron,
            "command": "homeops " + " ".join(j.command),
            "summary": j.summary,
        }
        for j in jobs
    ]
    if json_output:
        output.emit(rows, json_output=True)
        return
    if not rows:
        print("no scheduled jobs yet")
        return
    from rich.table import Table

    table = Table("name", "kind", "schedule", "command", box=None)
    for r in rows:
        table.add_row(r["name"], r["kind"], r["schedule"], r["command"])
    output.console().print(table)


@app.command()
@read
def render(
    name: Annotated[str, typer.Argument(help="The job name (see `homeops schedule list`).")],
    render_as: Annotated[RenderAs, typer.Option("--as", help="systemd units or a Kubernetes CronJob.")],
    exec_path: Annotated[str, typer.Option(help="Path of the homeops executable (systemd).")] = "",
    config: Annotated[str, typer.Option(help="HOMEOPS_CONFIG for the unit (systemd); empty = default.")] = "",
    image: Annotated[str, typer.Option(help="Container image (cronjob).")] = "",
    namespace: Annotated[str, typer.Option(help="Namespace (cronjob).")] = "homeops",
    json_output: JsonFlag = False,
) -> None:
    """Print the systemd units or the CronJob manifest of a scheduled job."""
    from homeops.schedule import all_jobs, find_job
    from homeops.schedule_render import DEFAULT_EXEC, DEFAULT_IMAGE, render_cronjob, render_systemd

    job = find_job(name)
    if job is None:
        known = ", ".join(j.name for j in all_jobs()) or "none yet"
        raise UsageError(f"no scheduled job called {name!r}", f"known jobs: {known}")
    if render_as is RenderAs.systemd:
        files = render_systemd(job, exec_path=exec_path or DEFAULT_EXEC, config_path=config)
    else:
        files = render_cronjob(job, image=image or DEFAULT_IMAGE, namespace=namespace)
    if json_output:
        output.emit(
            {"job": job.name, "as": render_as.value, "files": {f.name: f.text for f in files}},
            json_output=True,
        )
        return
    for index, f in enumerate(files):
        if len(files) > 1:
            print(("\n" if index else "") + f"# ==> {f.name} <==")
        print(f.text, end="")
