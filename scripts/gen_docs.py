#!/usr/bin/env python3
"""Regenerate (or, with --check, verify) the docs that are derived from the command tree:
the README's CLI reference and completions/homeops.{bash,zsh,fish}.

Run with the project's venv: `.venv/bin/python scripts/gen_docs.py [--check]`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"
SHELLS = {"bash": "source_bash", "zsh": "source_zsh", "fish": "source_fish"}

# Runs in a child with plain (non-rich) help at a fixed width, so the text is stable across terminals.
_REFERENCE_CHILD = r"""
import typer
from homeops._app import app
from homeops.manifest import walk

root = typer.main.get_command(app)
ctx_root = root.make_context("homeops", [], resilient_parsing=True)
parts = ["### homeops", "", "```text", root.get_help(ctx_root).rstrip(), "```", ""]
seen = set()
def emit(path, cmd):
    name = " ".join(path)
    if name in seen:
        return
    seen.add(name)
    ctx = cmd.make_context("homeops " + name, [], resilient_parsing=True)
    parts.extend(["### homeops " + name, "", "```text", cmd.get_help(ctx).rstrip(), "```", ""])
for group_name in root.list_commands(ctx_root):
    group = root.load(group_name)
    if hasattr(group, "commands") and group.commands:
        emit((group_name,), group)
        for path, cmd in walk(group, (group_name,)):
            emit(path, cmd)
    else:
        emit((group_name,), group)
print("\n".join(parts).rstrip())
"""


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEOPS_")}
    env.update({"TYPER_USE_RICH": "0", "COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1"})
    return env


def cli_reference() -> str:
    """The CLI reference in Markdown, from every command's --help."""
    out = subprocess.run(
        [python(), "-c", _REFERENCE_CHILD], capture_output=True, text=True, env=_env(), check=True, cwd=ROOT
    )
    return out.stdout.rstrip() + "\n"


def completion(shell: str) -> str:
    """Typer's completion script for ``shell``, from the installed console script."""
    exe = ROOT / ".venv" / "bin" / "homeops"
    env = _env()
    env["_HOMEOPS_COMPLETE"] = SHELLS[shell]
    out = subprocess.run([str(exe)], capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    # zsh autoloads `_homeops` from $fpath only when `#compdef` is the very first line.
    return out.stdout.lstrip("\n")


def readme_with_reference(readme: str, reference: str) -> str:
    head, sep, rest = readme.partition(START)
    if not sep or END not in rest:
        raise SystemExit(f"README.md lacks the {START} … {END} markers")
    _old, _, tail = rest.partition(END)
    return f"{head}{START}\n{reference}{END}{tail}"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    wanted = {README: readme_with_reference(README.read_text(encoding="utf-8"), cli_reference())}
    for shell in SHELLS:
        wanted[ROOT / "completions" / f"homeops.{shell}"] = completion(shell)
    for path, text in wanted.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    if check and stale:
        print(
            "stale (run .venv/bin/python scripts/gen_docs.py):", ", ".join(map(str, stale)), file=sys.stderr
        )
        return 1
    print("up to date" if not stale else "regenerated: " + ", ".join(map(str, stale)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
