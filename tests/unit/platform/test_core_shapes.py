"""Core shapes: exit-code severity, JSON rendering of results, the write-verb result and guard, doctor reports."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from homeops import output
from homeops.doctor import Check, GroupReport
from homeops.errors import ExitCode, Refused, Unreachable, worst
from homeops.writes import Action, WriteResult, audit, confirm_destructive


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ((), ExitCode.OK),
        ((ExitCode.OK, ExitCode.OK), ExitCode.OK),
        ((ExitCode.OK, ExitCode.UNREACHABLE), ExitCode.UNREACHABLE),
        ((ExitCode.UNREACHABLE, ExitCode.PROBLEM), ExitCode.PROBLEM),
        ((ExitCode.PROBLEM, ExitCode.UNREACHABLE, ExitCode.OK), ExitCode.PROBLEM),
    ],
    ids=["none", "all-ok", "unreachable-beats-ok", "problem-beats-unreachable", "mixed"],
)
def test_worst_exit_code(codes: tuple[ExitCode, ...], expected: ExitCode) -> None:
    assert worst(*codes) is expected


def test_error_line_has_fix() -> None:
    err = Unreachable("registry 127.0.0.1:1 refused the connection", "start it")
    assert err.line() == "registry 127.0.0.1:1 refused the connection — start it"
    assert err.exit_code == 4


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Row:
    name: str
    colour: Colour
    path: Path
    items: tuple[int, ...]


def test_json_is_sorted_and_renders_dataclasses_enums_paths() -> None:
    text = output.dumps({"b": Row("x", Colour.RED, Path("/tmp/a"), (1, 2)), "a": None})
    assert list(json.loads(text)) == ["a", "b"]
    assert json.loads(text)["b"] == {"name": "x", "colour": "red", "path": "/tmp/a", "items": [1, 2]}


def test_json_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError):
        output.dumps(object())


def test_write_result_shape() -> None:
    result = WriteResult(True, False, [Action("delete", "repo:tag", "old")], {"deleted": 1})
    assert json.loads(output.dumps(result)) == {
        "changed": True,
        "dry_run": False,
        "actions": [{"verb": "delete", "target": "repo:tag", "detail": "old"}],
        "deleted": 1,
    }
    assert "unchanged" in WriteResult(False, False, []).render_human()


def test_destructive_verb_refuses_off_a_tty_without_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("homeops.writes.stdin_is_tty", lambda: False)
    with pytest.raises(Refused) as info:
        confirm_destructive("delete 3 tags", yes=False, dry_run=False)
    assert info.value.exit_code == 3
    confirm_destructive("delete 3 tags", yes=True, dry_run=False)
    confirm_destructive("delete 3 tags", yes=False, dry_run=True)


def test_destructive_verb_asks_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("homeops.writes.stdin_is_tty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    with pytest.raises(Refused):
        confirm_destructive("delete 3 tags", yes=False, dry_run=False)
    monkeypatch.setattr("builtins.input", lambda _prompt: "y")
    confirm_destructive("delete 3 tags", yes=False, dry_run=False)


def test_audit_appends_a_line_and_skips_dry_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    audit("registry retention apply", "forgejo", WriteResult(True, False, [Action("delete", "a:1")]))
    audit("registry retention apply", "forgejo", WriteResult(False, True, [Action("delete", "a:2")]))
    lines = (tmp_path / "homeops" / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["actions"] == [{"verb": "delete", "target": "a:1", "detail": ""}]


def test_group_report_status_is_the_worst_check() -> None:
    report = GroupReport(
        "fan", (Check("bmc", "ok", ""), Check("ha", "unknown", "down"), Check("x", "warn", ""))
    )
    assert report.status == "unknown"
    assert GroupReport("fan", (Check("a", "fail", ""), Check("b", "unknown", ""))).status == "fail"
    assert report.to_json()["checks"][1] == {"name": "ha", "status": "unknown", "message": "down"}
