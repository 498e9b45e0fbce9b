"""Runbooks cannot drift: every `homeops …` line in runbooks/*.md parses against the real tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homeops.runbook import check_command, command_lines, list_runbooks, runbook_dir, split_command
from tests.cli._run import run_homeops

BOOKS = list_runbooks()
LINES = [line for book in BOOKS for line in command_lines(book.path)]


def test_there_are_runbooks() -> None:
    assert runbook_dir().is_dir()
    assert BOOKS


@pytest.mark.parametrize("line", LINES, ids=[f"{ln.path.stem}:{ln.line}" for ln in LINES])
def test_runbook_command_parses(line: object) -> None:
    assert check_command(split_command(line.text)) is None, line.text  # type: ignore[attr-defined]


def test_checker_catches_a_wrong_option(tmp_path: Path) -> None:
    assert check_command(["schedule", "render", "x", "--as", "systemd", "--no-such-option"]) is not None
    assert check_command(["schedule", "render", "x", "--as", "launchd"]) is not None
    assert check_command(["no-such-group"]) is not None
    assert check_command(["schedule", "render", "x", "--as", "systemd"]) is None


def test_command_lines_join_continuations_and_stop_at_pipes(tmp_path: Path) -> None:
    book = tmp_path / "x.md"
    book.write_text(
        "# X\n\n```sh\n$ homeops schedule render fan \\\n    --as systemd | tee f\nhomeops version\n```\n"
        "homeops outside-a-fence\n"
    )
    lines = command_lines(book)
    assert [ln.line for ln in lines] == [4, 6]
    assert split_command(lines[0].text) == ["schedule", "render", "fan", "--as", "systemd"]


def test_runbook_check_command_passes_on_the_shipped_runbooks() -> None:
    proc = run_homeops("runbook", "check", "--json")
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["problems"] == []


def test_runbook_show_unknown_exits_2() -> None:
    assert run_homeops("runbook", "show", "no-such-runbook").returncode == 2
