"""CLI: ``homeops version``."""

from __future__ import annotations

import typer

from homeops import __version__, output
from homeops.cliopts import JsonFlag
from homeops.manifest import read

app = typer.Typer()


@app.command()
@read
def version(json_output: JsonFlag = False) -> None:
    """Print the homeops version."""
    if json_output:
        output.emit({"version": __version__}, json_output=True)
    else:
        print(f"homeops {__version__}")
