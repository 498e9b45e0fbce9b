"""`homeops fan` through the CLI: JSON shapes, exit codes and the one stderr line (no hardware needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homeops.cli import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("HOMEOPS_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args))

    return invoke


def test_decide_json(run) -> None:  # type: ignore[no-untyped-def]
    out = run("fan", "decide", "--temp", "70", "--json")
    assert out.exit_code == 0
    assert json.loads(out.stdout) == {
        "effective_mode": "cool",
        "percent": 72,
        "target_percent": 72,
        "would_write": True,
    }
    held = json.loads(run("fan", "decide", "--temp", "59", "--current", "55", "--json").stdout)
    assert held == {"effective_mode": "cool", "percent": 55, "target_percent": 49, "would_write": False}
    hot = json.loads(run("fan", "decide", "--temp", "83", "--json").stdout)
    assert hot["percent"] is None and hot["effective_mode"] == "dell-auto"
    quiet = json.loads(run("fan", "decide", "--temp", "70", "--presence", "quiet", "--json").stdout)
    assert quiet["percent"] == 31 and quiet["effective_mode"] == "quiet"


def test_decide_bad_input(run) -> None:  # type: ignore[no-untyped-def]
    out = run("fan", "decide", "--temp", "70", "--mode", "manual")
    assert out.exit_code == 2 and "homeops fan: --mode manual needs --manual-pct" in out.stderr
    assert run("fan", "decide", "--temp", "70", "--mode", "turbo").exit_code == 2


def test_curve_json(run) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(run("fan", "curve", "--mode", "quiet", "--from", "68", "--to", "70", "--json").stdout)
    assert doc == {
        "mode": "quiet",
        "points": [
            {"percent": 20, "temp_c": 68},
            {"percent": 25, "temp_c": 69},
            {"percent": 31, "temp_c": 70},
        ],
    }
    assert run("fan", "curve", "--from", "90", "--to", "30").exit_code == 2


def test_simulate_json_and_table(run) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(run("fan", "simulate", "--profile", "steady", "--minutes", "30", "--json").stdout)
    assert doc["summary"]["iterations"] == 120 and len(doc["samples"]) == 120
    out = run("fan", "simulate", "--minutes", "10")
    assert out.exit_code == 0 and "duty writes" in out.stdout
    assert run("fan", "simulate", "--profile", "nope").exit_code == 2


def test_unit_json(run) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(run("fan", "unit", "--exec", "/usr/bin/homeops", "--json").stdout)
    assert (
        doc["name"] == "homeops-fan.service"
        and "ExecStopPost=/usr/bin/homeops fan auto --bmc local" in doc["text"]
    )


def test_set_needs_yes_off_tty_and_range(run) -> None:  # type: ignore[no-untyped-def]
    assert run("fan", "set", "101").exit_code == 2
    out = run("fan", "set", "40", "--bmc", "sim")
    assert out.exit_code == 3 and "--yes" in out.stderr


def test_set_and_auto_on_sim(run) -> None:  # type: ignore[no-untyped-def]
    out = run("fan", "set", "40", "--bmc", "sim", "--dry-run", "--json")
    doc = json.loads(out.stdout)
    assert (
        doc["changed"] is False
        and doc["dry_run"] is True
        and doc["actions"] == ["0x01 0x00", "0x02 0xff 0x28"]
    )
    doc = json.loads(run("fan", "auto", "--bmc", "sim", "--json").stdout)
    assert doc["actions"] == ["0x01 0x01"] and doc["changed"] is True and doc["attempts"] == 1


def test_config_error_exits_2_before_bmc(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "c.toml"
    cfg.write_text('[fan]\nha_token = "plain-secret"\n')
    monkeypatch.setenv("HOMEOPS_CONFIG", str(cfg))
    out = run("fan", "run", "--once", "--dry-run")
    assert out.exit_code == 2 and "literal secret" in out.stderr and "plain-secret" not in out.stderr
    cfg.write_text("[fan.cool]\np_lo = 90\np_hi = 30\n")
    out = run("fan", "decide", "--temp", "60")
    assert out.exit_code == 2 and "falling curve" in out.stderr


def test_once_dry_run_on_sim(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOMEOPS_FAN__RUNTIME_DIR", str(tmp_path / "run"))
    out = run("fan", "run", "--once", "--dry-run", "--bmc", "sim", "--json")
    doc = json.loads(out.stdout)
    assert out.exit_code == 0 and doc["dry_run"] and doc["state"] == "control" and doc["changed"] is False
    assert doc["actions"][0] == "0x01 0x00"


def test_decide_imports_no_heavy_library() -> None:
    code = (
        "import sys\nfrom homeops.cli import main\nsys.argv=['homeops','fan','decide','--temp','70','--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "bad=[m for m in ('pyghmi','httpx','prometheus_client') if m in sys.modules]\nprint('HEAVY', bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
