"""`homeops dns`: the command tree, tiers, help, no heavy import for help, schedule and doctor wiring."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli._run import clean_env, run_homeops

COMMANDS = {
    "dns sync": "write",
    "dns gate": "read",
    "dns parity": "read",
    "dns fallback-check": "read",
    "dns tsig-check": "write",
    "dns stats": "read",
}
HEAVY = ("httpx", "dns", "kubernetes", "yaml", "prometheus_client", "hvac")


def test_manifest_lists_every_dns_command_with_its_tier():
    proc = run_homeops("manifest", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    entries = doc if isinstance(doc, list) else doc.get("commands", doc)
    found = {e["command"]: e["tier"] for e in entries if e["command"].startswith("dns ")}
    assert found == COMMANDS
    assert all(e["summary"] for e in entries if e["command"].startswith("dns "))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_imports_nothing_heavy(command):
    code = (
        "import sys\nfrom homeops.cli import main\n"
        f"sys.argv = ['homeops', *{command.split()!r}, '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.__stderr__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), timeout=60
    )
    modules = set(proc.stderr.split())
    assert "homeops.dns.cli" in modules
    assert {m for m in modules if m.split(".")[0] in HEAVY} == set()
    assert "Usage:" in proc.stdout


def test_schedule_knows_sync_and_stats():
    from homeops.schedule import find_job

    sync, stats = find_job("dns-sync"), find_job("dns-stats")
    assert sync is not None and sync.cron == "*/30 * * * *" and sync.command == ("dns", "sync")
    assert stats is not None and stats.cron == "*/15 * * * *" and stats.command == ("dns", "stats")
    assert (sync.on_calendar, stats.on_calendar) == ("*:0/30", "*:0/15")
    assert sync.kind == stats.kind == "timer" and sync.runs_on == stats.runs_on == "cluster"


def test_bad_config_is_exit_2_naming_the_key(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[dns]\nprimary_transfer_address = "technitium-primary"\n')
    proc = run_homeops("dns", "gate", env={"HOMEOPS_CONFIG": str(cfg)})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "primary_transfer_address" in proc.stderr


def test_doctor_reports_unknown_without_credentials(tmp_path):
    from homeops.config import load
    from homeops.dns.doctor import checks

    cfg = tmp_path / "c.toml"
    cfg.write_text('[dns]\nusername = "env:NO_SUCH_USER_VAR"\n')
    report = checks(load(cfg, env={}))
    assert report.status == "unknown"
