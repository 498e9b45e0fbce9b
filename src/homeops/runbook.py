"""Core: the operator runbooks (``runbooks/*.md``): find, list, and check every ``homeops …`` line in them
against the real command tree, so a runbook cannot drift from the CLI.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^\s*(```|~~~)")
_COMMAND = re.compile(r"^\s*(?:\$\s+|#\s+)?(homeops(?:\s.*)?)$")


def runbook_dir() -> Path:
    """Where the runbooks are: inside the installed package, else the source checkout's ``runbooks/``."""
    packaged = Path(__file__).parent / "_runbooks"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "runbooks"


@dataclass(frozen=True)
class Runbook:
    """One runbook file: its name (file stem), title (first heading) and path."""

    name: str
    title: str
    path: Path

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def list_runbooks(directory: Path | None = None) -> list[Runbook]:
    """Every runbook, sorted by name."""
    directory = directory or runbook_dir()
    books = []
    for path in sorted(directory.glob("*.md")):
        title = next(
            (
                line.lstrip("# ").strip()
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.startswith("#")
            ),
            path.stem,
        )
        books.append(Runbook(path.stem, title, path))
    return books


@dataclass(frozen=True)
class CommandLine:
    """A ``homeops …`` line found in a fenced block of a runbook."""

    path: Path
    line: int
    text: str


def command_lines(path: Path) -> list[CommandLine]:
    """Every ``homeops …`` command in the fenced code blocks of a runbook (continuation lines joined)."""
    found: list[CommandLine] = []
    in_fence = False
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(raw):
            in_fence = not in_fence
            continue
        if not in_fence:
            continue
        if pending is not None:
            start, text = pending
            text = text + " " + raw.strip()
            if text.endswith("\\"):
                pending = (start, text[:-1].rstrip())
            else:
                found.append(CommandLine(path, start, text))
                pending = None
            continue
        match = _COMMAND.match(raw)
        if not match:
            continue
        text = match.group(1).strip()
        if text.endswith("\\"):
            pending = (number, text[:-1].rstrip())
        else:
            found.append(CommandLine(path, number, text))
    return found


def split_command(text: str) -> list[str]:
    """The words of a command line after ``homeops``, stopping at a pipe, redirect or ``&&``."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars="|&;<>")
    lexer.whitespace_split = True
    words: list[str] = []
    for token in lexer:
        if token and set(token) <= set("|&;<>"):
            break
        words.append(token)
    return words[1:] if words and words[0] == "homeops" else words


def check_command(words: list[str]) -> str | None:
    """Parse ``words`` against the real tree; None when they form a valid invocation, else why not."""
    # Eager options (--version, --help) print while parsing; a check must not.
    with contextlib.redirect_stdout(io.StringIO()):
        return _parse_words(words)


def _parse_words(words: list[str]) -> str | None:
    import typer
    from typer import _click
    from typer.exceptions import Exit, TyperException

    from homeops._app import app

    command: _click.Command = typer.main.get_command(app)
    ctx: _click.Context | None = None
    name = "homeops"
    args = list(words)
    try:
        while True:
            ctx = command.make_context(name, args, parent=ctx, resilient_parsing=False)
            if not hasattr(command, "resolve_command"):
                return None
            rest = [*ctx._protected_args, *ctx.args]
            if not rest:
                return None  # a group with no subcommand prints its help
            sub_name, sub, args = command.resolve_command(ctx, rest)
            if sub is None or sub_name is None:
                return f"no such command {rest[0]!r}"
            command, name = sub, sub_name
    except Exit:
        return None  # --help and friends
    except TyperException as exc:
        return str(getattr(exc, "message", exc)) or type(exc).__name__
