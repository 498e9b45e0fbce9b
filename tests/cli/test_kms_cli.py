"""`homeops kms` from the outside: exit codes, --json shapes, one-line errors, tiers, legacy env-file."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli._run import ROOT, run_homeops

FIXTURES = ROOT / "tests" / "fixtures" / "kms"


def test_parse_json_shape_for_vector_l1() -> None:
    res = run_homeops("kms", "parse", str(FIXTURES / "legacy_l1.log"), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc) == {"events", "warnings", "stats"}
    assert [e["kind"] for e in doc["events"]] == ["probe", "probe", "activation"]
    assert set(doc["events"][2]) == {"kind", "ip", "port", "source", "product", "application", "workstation",
                                     "status", "opened", "closed", "format", "sku_id", "kms_id", "protocol"}  # fmt: skip
    assert doc["stats"] == {
        "lines": 11,
        "unparsed": 0,
        "unattributed": 0,
        "orphan_closes": 0,
        "open_at_eof": 0,
    }
    assert doc["warnings"] == []


def test_parse_stdin_and_dedup_window_and_warnings_with_fix() -> None:
    text = (FIXTURES / "nonverbose.log").read_text() * 2
    res = run_homeops("kms", "parse", "-", "--dedup-window", "3600", "--json", stdin=text)
    assert res.returncode == 0
    doc = json.loads(res.stdout)
    assert [e["would_post"] for e in doc["events"]] == [True, False]
    assert doc["warnings"] == [{"kind": "nonverbose", "count": 2, "message": doc["warnings"][0]["message"]}]
    human = run_homeops("kms", "parse", str(FIXTURES / "nonverbose.log"))
    assert human.returncode == 0
    assert "WIN10Pro-DS32" in human.stdout
    assert "add -v to vlmcsd's arguments" in human.stderr


@pytest.mark.parametrize("target", ["missing", "dir"])
def test_parse_unreadable_is_exit_2_one_line(tmp_path: Path, target: str) -> None:
    path = tmp_path / "nope.log" if target == "missing" else tmp_path
    res = run_homeops("kms", "parse", str(path))
    assert res.returncode == 2
    assert res.stderr.startswith(f"homeops kms: cannot read {path}")
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [("kms", "check"), ("kms", "check", "--domain", "a", "--host", "b"),
     ("kms", "check", "--domain", "a", "--server", "not-an-ip")],
)  # fmt: skip
def test_check_bad_arguments_exit_2(args: tuple[str, ...]) -> None:
    res = run_homeops(*args)
    assert res.returncode == 2
    assert res.stderr.startswith("homeops kms: ")


def test_watch_directory_log_is_exit_2(tmp_path: Path) -> None:
    res = run_homeops("kms", "watch", str(tmp_path), "--no-slack", "--metrics-port", "0")
    assert res.returncode == 2
    assert (
        res.stderr.strip() == f"homeops kms: cannot read {tmp_path} — check the volume mount and permissions"
    )


def test_watch_metrics_port_in_use_is_exit_2(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        res = run_homeops(
            "kms", "watch", str(tmp_path / "v.log"), "--no-slack", "--metrics-addr", "127.0.0.1",
            "--metrics-port", str(port),
        )  # fmt: skip
    assert res.returncode == 2
    assert "--metrics-port" in res.stderr


SECRET_URL = "https://hooks.slack.com/services/TSECRET/BSECRET/sekrit"


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (("--slack-webhook", SECRET_URL), {}, "takes a secret reference"),
        (("--slack-webhook", "env:NO_SUCH_VAR_KMS"), {}, "NO_SUCH_VAR_KMS"),
        (("--slack-webhook", "env:HOOK"), {"HOOK": "http://hooks.example.com/x"}, "must be https://"),
    ],
)
def test_watch_webhook_problems_are_exit_2_and_never_echo_the_url(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    res = run_homeops("kms", "watch", str(tmp_path / "v.log"), "--metrics-port", "0", *args, env=env)
    assert res.returncode == 2
    assert needle in res.stderr
    assert "sekrit" not in res.stderr
    assert "hooks.example.com" not in res.stderr


def test_tiers_in_the_manifest() -> None:
    res = run_homeops("manifest", "--json")
    assert res.returncode == 0
    doc = json.loads(res.stdout)
    entries = doc if isinstance(doc, list) else doc.get("commands", [])
    tiers = {e["command"]: e["tier"] for e in entries if e["command"].startswith("kms ")}
    assert tiers == {"kms parse": "read", "kms watch": "write", "kms check": "read"}


def test_watch_help_states_the_trust_limit() -> None:
    res = run_homeops("kms", "watch", "--help")
    assert res.returncode == 0
    assert "cannot be fully trusted" in " ".join(res.stdout.split())


def test_legacy_env_file_ranks_below_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from homeops.kms.cli import load_settings

    env_file = tmp_path / "sidecar.env"
    env_file.write_text("VLMCSD_LOG=/x/vlmcsd.log\nDEDUP_WINDOW_SECONDS='60'\nMETRICS_PORT=9200\nOTHER=1\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text("[kms]\nmetrics_port = 9300\n")
    for key in [k for k in __import__("os").environ if k.startswith("HOMEOPS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOMEOPS_CONFIG", str(cfg))
    monkeypatch.setenv("HOMEOPS_KMS__DEDUP_WINDOW", "120")
    settings, config = load_settings(str(env_file))
    assert settings.log_file == "/x/vlmcsd.log"  # env-file over default
    assert settings.metrics_port == 9300  # TOML over env-file
    assert settings.dedup_window == 120  # HOMEOPS_KMS__* over env-file
    assert config.source("kms.log_file") == f"env-file:{env_file}:1"


def test_bad_cidr_override_is_exit_2() -> None:
    res = run_homeops(
        "kms", "parse", str(FIXTURES / "ipv6.log"), env={"HOMEOPS_KMS__POD_CIDRS": '["10.0.0.0/99"]'}
    )
    assert res.returncode == 2
    assert "pod_cidrs" in res.stderr


def test_schedule_knows_kms_watch_as_a_service() -> None:
    res = run_homeops("schedule", "render", "kms-watch", "--as", "systemd")
    assert res.returncode == 0
    assert "Type=simple" in res.stdout
    assert "ExecStart=" in res.stdout
    assert "kms watch" in res.stdout
    assert res.stdout.splitlines()[
        [i for i, x in enumerate(res.stdout.splitlines()) if x.startswith("Restart=")][-1]
    ] == ("Restart=always")
    cron = run_homeops("schedule", "render", "kms-watch", "--as", "cronjob")
    assert cron.returncode == 2
    assert "long-running service" in cron.stderr
