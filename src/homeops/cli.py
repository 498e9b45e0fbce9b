"""CLI entry point. The common probes (``--version``, root ``--help``, TAB completion of the first word) are
answered from the GROUPS table without importing Typer; everything else goes to the Typer app in ``_app.py``.

Why: a completion request runs the whole program on every key press, and Typer plus its help renderer cost
~100 ms before any group is touched (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import sys

from homeops import __version__
from homeops.groups import COMMANDS, ENTRIES, GROUPS

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~8 ms on every key press
if TYPE_CHECKING:
    from typing import Any

SUMMARY = "One command that runs the homelab. Every command is `read` or `write`: see `homeops manifest`."

# The root options, as the Typer app in _app.py declares them (a test keeps the two in step).
ROOT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("--version", "Print the version and exit."),
    ("--debug", "Show the traceback of an internal error."),
    ("--install-completion", "Install completion for the current shell."),
    ("--show-completion", "Show completion for the current shell, to copy it or customize the installation."),
    ("-h, --help", "Show this message and exit."),
)


def root_help() -> str:
    """The root help text, rendered from the table."""
    lines = ["Usage: homeops [OPTIONS] COMMAND [ARGS]...", "", f"  {SUMMARY}", "", "Options:"]
    width = max(len(o) for o, _ in ROOT_OPTIONS)
    lines += [f"  {opt:<{width}}  {text}" for opt, text in ROOT_OPTIONS]
    for title, entries in (("Commands", COMMANDS), ("Groups", GROUPS)):
        width = max(len(e.name) for e in entries)
        lines += ["", f"{title}:"] + [f"  {e.name:<{width}}  {e.help}" for e in entries]
    return "\n".join(lines) + "\n"


def _split(text: str) -> list[str]:
    import shlex

    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _completion_request(env: dict[str, str] | os._Environ[str]) -> tuple[str, list[str], str] | None:
    """(shell, words before the cursor, incomplete word) of a Typer completion request, if this is one."""
    mode = env.get("_HOMEOPS_COMPLETE", "")
    if not mode.startswith("complete_"):
        return None
    shell = mode[len("complete_") :]
    if shell == "bash":
        words = _split(env.get("COMP_WORDS", ""))
        cword = int(env.get("COMP_CWORD", "0") or 0)
        return shell, words[1:cword], words[cword] if cword < len(words) else ""
    if shell in ("zsh", "fish"):
        raw = env.get("_TYPER_COMPLETE_ARGS", "")
        words = _split(raw)[1:]
        if words and not raw.endswith(" "):
            return shell, words[:-1], words[-1]
        return shell, words, ""
    return None


def fast_complete(env: dict[str, str] | os._Environ[str]) -> str | None:
    """Answer a completion of the first word from the table; None when Typer must answer."""
    request = _completion_request(env)
    if request is None:
        return None
    shell, before, incomplete = request
    if before or incomplete.startswith("-"):
        return None
    if shell == "fish" and env.get("_TYPER_COMPLETE_FISH_ACTION") not in ("get-args", "is-args"):
        return None
    matches = [e for e in ENTRIES if e.name.startswith(incomplete)]
    if shell == "bash":
        return "\n".join(e.name for e in matches)
    if shell == "fish":
        if env.get("_TYPER_COMPLETE_FISH_ACTION") == "is-args":
            raise SystemExit(0 if matches else 1)
        return "\n".join(f"{e.name}\t{e.help}" for e in matches)
    items = "\n".join(f'"{e.name}":"{e.help}"' for e in matches)
    return f"_arguments '*: :(({items}))'" if matches else "_files"


def main() -> None:
    """Console-script entry point."""
    args = sys.argv[1:]
    if args == ["--version"]:
        print(f"homeops {__version__}")
        return
    if args in ([], ["--help"], ["-h"]) and "_HOMEOPS_COMPLETE" not in os.environ:
        sys.stdout.write(root_help())
        return
    answer = fast_complete(os.environ)
    if answer is not None:
        sys.stdout.write(answer)
        sys.stdout.flush()
        return
    from homeops._app import app

    app(prog_name="homeops")


def __getattr__(name: str) -> Any:
    # ``from homeops.cli import app`` keeps working for tests and tools, without paying for it at start-up.
    if name == "app":
        from homeops._app import app

        return app
    raise AttributeError(name)
