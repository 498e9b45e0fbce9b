"""CLI: `homeops nfs` (no commands yet: the group is specified in specs/nfs.md, not built)."""

from __future__ import annotations

import typer

from homeops.errors import UsageError

app = typer.Typer(no_args_is_help=False, invoke_without_command=True)


@app.callback()
def group(ctx: typer.Context) -> None:
    """The nfs group has no commands yet."""
    if ctx.invoked_subcommand is None:
        raise UsageError("the nfs group has no commands yet", "see homeops manifest for what exists")
