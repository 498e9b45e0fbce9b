"""CLI: ``homeops doctor``: each configured group's read-only checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import typer

from homeops import output
from homeops.cliopts import JsonFlag
from homeops.errors import ExitCode, ExitWith, UsageError
from homeops.manifest import read

app = typer.Typer()


@app.command()
@read
def doctor(
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="Only these groups (even if not configured).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Run each configured group's read-only checks."""
    from homeops import config as config_mod
    from homeops.doctor import run_doctor
    from homeops.groups import group_names

    only = tuple(group or ())
    unknown = [g for g in only if g not in group_names()]
    if unknown:
        raise UsageError(f"unknown group {unknown[0]!r}", f"groups: {', '.join(group_names())}")
    cfg = config_mod.load()
    reports = run_doctor(cfg, only)
    doc = {
        "config": str(cfg.path) if cfg.path else None,
        "groups": [r.to_json() for r in reports],
        "status": _overall([r.status for r in reports]),
    }
    if json_output:
        output.emit(doc, json_output=True)
    else:
        _render(doc)
    code = {
        "ok": ExitCode.OK,
        "warn": ExitCode.OK,
        "fail": ExitCode.PROBLEM,
        "unknown": ExitCode.UNREACHABLE,
    }[str(doc["status"])]
    if code is not ExitCode.OK:
        raise ExitWith(code)


def _overall(statuses: list[str]) -> str:
    for status in ("fail", "unknown", "warn"):
        if status in statuses:
            return status
    return "ok"


def _render(doc: Mapping[str, object]) -> None:
    from rich.table import Table

    console = output.console()
    console.print(f"config: {doc['config'] or 'none (embedded defaults)'}", markup=False)
    groups = doc["groups"]
    assert isinstance(groups, list)
    if not groups:
        console.print(
            "no group is configured; nothing to check (use --group NAME to check one anyway)", markup=False
        )
        return
    table = Table("group", "check", "status", "message", box=None)
    colour = {"ok": "green", "warn": "yellow", "fail": "red", "unknown": "magenta"}
    for report in groups:
        for check in report["checks"]:
            st = check["status"]
            table.add_row(report["group"], check["name"], f"[{colour[st]}]{st}[/]", check["message"])
    console.print(table)
    console.print(f"overall: {doc['status']}", markup=False)
