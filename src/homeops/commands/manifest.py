"""CLI: ``homeops manifest``: every command with its tier and summary."""

from __future__ import annotations

import typer

from homeops import output
from homeops.cliopts import JsonFlag
from homeops.manifest import build_manifest, read

app = typer.Typer()


@app.command()
@read
def manifest(json_output: JsonFlag = False) -> None:
    """List every command with its tier and summary."""
    entries = build_manifest()
    if json_output:
        output.emit(
            [{"command": e.command, "summary": e.summary, "tier": e.tier} for e in entries], json_output=True
        )
        return
    width = max(len(e.command) for e in entries)
    for e in entries:
        print(f"{e.command:<{width}}  {e.tier or '?':<5}  {e.summary}")
