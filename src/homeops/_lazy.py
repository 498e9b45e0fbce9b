"""Core: a Typer group that lists sub-apps from the GROUPS table and imports one only on dispatch.

Help and completion listings see light placeholder commands built from the table; ``resolve_command``
(used by dispatch and by completion of deeper words) imports the real sub-app. Every expected error is
mapped to its exit code here, once, for the whole tree.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import Abort, TyperException

from homeops.errors import ExitCode, ExitWith, HomeopsError
from homeops.groups import ENTRIES, Entry

_BY_NAME: dict[str, Entry] = {e.name: e for e in ENTRIES}


def load_entry(entry: Entry) -> _click.Command:
    """Import one table entry and return its click command, named as in the table."""
    module_name, _, attr = entry.import_path.partition(":")
    module = importlib.import_module(module_name)
    sub_app = getattr(module, attr)
    command = typer.main.get_command(sub_app)
    command.name = entry.name
    if not command.help:
        command.help = entry.help
    command.rich_help_panel = entry.panel  # type: ignore[attr-defined]
    return command


def _placeholder(entry: Entry) -> _click.Command:
    """A command that only carries the table's name and help, for listings."""
    cmd = TyperCommand(entry.name, help=entry.help, short_help=entry.help)
    cmd.rich_help_panel = entry.panel
    return cmd


def _group_of(ctx: _click.Context) -> str:
    """The first word of the invoked path (``fan`` for ``homeops fan run``), for the error prefix."""
    return ctx.invoked_subcommand or ""


def error_line(group: str, message: str) -> str:
    """The one stderr line of a failure: ``homeops <group>: <what failed> — <how to fix>``."""
    prefix = f"homeops {group}:" if group else "homeops:"
    return f"{prefix} {message}"


class LazyGroup(TyperGroup):
    """The root group: table-driven listing, lazy import on dispatch, one exit-code mapping."""

    debug: bool = False

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, _click.Command] = {}

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [e.name for e in ENTRIES]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name in self._loaded:
            return self._loaded[cmd_name]
        entry = _BY_NAME.get(cmd_name)
        return _placeholder(entry) if entry else None

    def load(self, cmd_name: str) -> _click.Command | None:
        """Import the named entry (once) and return its real command."""
        entry = _BY_NAME.get(cmd_name)
        if entry is None:
            return None
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_entry(entry)
        return self._loaded[cmd_name]

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        if args and args[0] in _BY_NAME:
            return args[0], self.load(args[0]), args[1:]
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: _click.Context) -> Any:
        code = 0
        try:
            return self._invoke_mapped(ctx)
        except typer.Exit as done:
            code = done.exit_code
            raise
        except BaseException:
            code = 1
            raise
        finally:
            from homeops import telemetry

            telemetry.record(self, sys.argv[1:], code)

    def _invoke_mapped(self, ctx: _click.Context) -> Any:
        """Run the command; map every expected error to its one line and exit code."""
        try:
            return super().invoke(ctx)
        except ExitWith as done:
            raise typer.Exit(int(done.code)) from None
        except HomeopsError as err:
            print(error_line(_group_of(ctx), err.line()), file=sys.stderr)
            raise typer.Exit(int(err.exit_code)) from None
        except (typer.Exit, Abort, TyperException):
            raise
        except KeyboardInterrupt:
            print(error_line(_group_of(ctx), "interrupted"), file=sys.stderr)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            raise typer.Exit(int(ExitCode.PROBLEM)) from None
        except Exception as exc:
            if LazyGroup.debug:
                raise
            # Only the exception type: its text may carry a URL with a token or a secret value.
            print(
                error_line(
                    _group_of(ctx),
                    f"internal error: {type(exc).__name__} (--debug shows the traceback)",
                ),
                file=sys.stderr,
            )
            raise typer.Exit(int(ExitCode.PROBLEM)) from None
