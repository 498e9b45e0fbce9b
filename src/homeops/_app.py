"""CLI: the root Typer app. Imports no group and no heavy library; see ``_lazy.py`` and ``cli.py``."""

from __future__ import annotations

import typer

from homeops import __version__
from homeops._lazy import LazyGroup

app = typer.Typer(
    cls=LazyGroup,
    name="homeops",
    help="One command that runs the homelab. Every command is `read` or `write`: see `homeops manifest`.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold tokens
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"homeops {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an internal error."),
) -> None:
    """One command that runs the homelab. Every command is `read` or `write`: see `homeops manifest`."""
    LazyGroup.debug = debug
