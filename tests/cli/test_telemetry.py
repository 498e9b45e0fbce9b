"""Usage telemetry: one Loki entry per command when configured, nothing otherwise, never the arguments."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli._run import run_homeops
from tests.standins._http import Request, Response, serving


def _config(tmp_path: Path, url: str) -> dict[str, str]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[telemetry]\nloki_url = "{url}"\ntimeout_ms = 300\n')
    return {"HOMEOPS_CONFIG": str(cfg)}


def _loki(req: Request) -> Response:
    return Response(204) if req.path == "/loki/api/v1/push" else Response.text("not found", 404)


def test_one_entry_per_command_without_arguments(tmp_path: Path) -> None:
    with serving(_loki) as loki:
        proc = run_homeops(
            "schedule",
            "render",
            "secret-looking-arg",
            "--as",
            "systemd",
            env=_config(tmp_path, loki.url + "/loki/api/v1/push"),
        )
        assert proc.returncode == 2
        (req,) = loki.seen("POST", "/loki/api/v1/push")
    body = req.json()
    (stream,) = body["streams"]
    assert stream["stream"]["job"] == "homeops-usage"
    assert stream["stream"]["verb"] == "schedule render"
    assert stream["values"][0][1] == "exit=2 ver=0.1.0"
    assert "secret-looking-arg" not in json.dumps(body)


def test_opt_out_sends_nothing(tmp_path: Path) -> None:
    with serving(_loki) as loki:
        env = _config(tmp_path, loki.url + "/loki/api/v1/push") | {"HOMEOPS_TELEMETRY": "off"}
        assert run_homeops("version", env=env).returncode == 0
        assert loki.seen() == []


def test_unconfigured_sends_nothing_and_a_dead_loki_changes_nothing(tmp_path: Path) -> None:
    with serving(_loki) as loki:
        assert run_homeops("version").returncode == 0
        assert loki.seen() == []
        loki.forced = Response.text("down", 503)
        proc = run_homeops("version", env=_config(tmp_path, loki.url + "/loki/api/v1/push"))
        assert proc.returncode == 0 and proc.stderr == ""
        assert len(loki.seen()) == 1
