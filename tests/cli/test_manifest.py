"""`homeops manifest`: every command has a tier and a summary; JSON shape as the operator's `homelab`."""

from __future__ import annotations

import json

from homeops.manifest import build_manifest
from tests.cli._run import run_homeops


def test_every_command_has_a_tier_and_a_summary() -> None:
    entries = build_manifest()
    assert entries, "the tree has commands"
    missing = [e.command for e in entries if e.tier not in ("read", "write") or not e.summary]
    assert missing == []


def test_top_level_commands_are_in_the_manifest() -> None:
    names = {e.command for e in build_manifest()}
    for expected in (
        "manifest",
        "config show",
        "config check",
        "doctor",
        "schedule list",
        "schedule render",
        "runbook list",
        "runbook show",
        "runbook check",
        "version",
    ):
        assert expected in names


def test_manifest_json_shape() -> None:
    proc = run_homeops("manifest", "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert isinstance(doc, list) and doc
    for row in doc:
        assert set(row) == {"command", "tier", "summary"}
        assert not row["command"].startswith("homeops")
    # Tree order: top-level commands first, as the table lists them.
    assert doc[0]["command"] == "manifest"


def test_manifest_text_lines_are_aligned() -> None:
    proc = run_homeops("manifest")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    tier_columns = {line.index("  read ") if "  read " in line else line.index("  write") for line in lines}
    assert len(tier_columns) == 1
