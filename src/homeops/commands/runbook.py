"""CLI: ``homeops runbook list|show NAME|check``."""

from __future__ import annotations

from typing import Annotated

import typer

from homeops import output
from homeops.cliopts import JsonFlag
from homeops.errors import ExitCode, ExitWith, UsageError
from homeops.manifest import read

app = typer.Typer(no_args_is_help=True, help="List and show the operator runbooks.")


@app.command("list")
@read
def list_cmd(json_output: JsonFlag = False) -> None:
    """List the runbooks."""
    from homeops.runbook import list_runbooks

    books = list_runbooks()
    if json_output:
        output.emit([{"name": b.name, "title": b.title} for b in books], json_output=True)
        return
    width = max((len(b.name) for b in books), default=0)
    for b in books:
        print(f"{b.name:<{width}}  {b.title}")


@app.command()
@read
def show(
    name: Annotated[str, typer.Argument(help="Runbook name (see `homeops runbook list`).")],
    json_output: JsonFlag = False,
) -> None:
    """Show one runbook."""
    from homeops.runbook import command_lines, list_runbooks

    books = {b.name: b for b in list_runbooks()}
    book = books.get(name)
    if book is None:
        raise UsageError(f"no runbook called {name!r}", f"runbooks: {', '.join(books) or 'none'}")
    if json_output:
        output.emit(
            {
                "name": book.name,
                "title": book.title,
                "text": book.text(),
                "commands": [c.text for c in command_lines(book.path)],
            },
            json_output=True,
        )
        return
    if output.console().is_terminal:
        from rich.markdown import Markdown

        output.console().print(Markdown(book.text()))
    else:
        print(book.text(), end="")


@app.command()
@read
def check(json_output: JsonFlag = False) -> None:
    """Check every `homeops` command in every runbook against the command tree."""
    from homeops.runbook import check_command, command_lines, list_runbooks, split_command

    problems = []
    checked = 0
    for book in list_runbooks():
        for line in command_lines(book.path):
            checked += 1
            why = check_command(split_command(line.text))
            if why is not None:
                problems.append(
                    {"runbook": book.name, "line": line.line, "command": line.text, "problem": why}
                )
    if json_output:
        output.emit({"checked": checked, "problems": problems}, json_output=True)
    else:
        for p in problems:
            print(f"{p['runbook']}.md:{p['line']}: {p['command']}: {p['problem']}")
        print(f"{checked} commands checked, {len(problems)} problems")
    if problems:
        raise ExitWith(ExitCode.PROBLEM)
