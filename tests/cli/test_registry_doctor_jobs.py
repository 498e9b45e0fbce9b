"""Doctor check ``registry-catalog`` against a real htpasswd registry, and the scheduled jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeops.config import load
from homeops.registry.doctor import checks
from homeops.registry.jobs import JOBS
from tests.services._common import free_port
from tests.services.registry import HTPASSWD_PASSWORD, HTPASSWD_USER, RegistryServer


def report(tmp_path: Path, url: str, password: str | None) -> tuple[str, str]:
    cfg = tmp_path / "c.toml"
    lines = ["[registry]", f'probe_url = "{url}"', "retries = 0"]
    if password is not None:
        lines += [f'username = "{HTPASSWD_USER}"', 'password = "env:REG_PASS"']
    cfg.write_text("\n".join(lines) + "\n")
    env = {"REG_PASS": password or "", "DOCKER_CONFIG": str(tmp_path)}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        (check,) = checks(load(cfg, env={})).checks
    assert check.name == "registry-catalog"
    return check.status, check.message


def test_doctor_ok_fail_unknown(registry_htpasswd: RegistryServer, tmp_path: Path) -> None:
    assert report(tmp_path, f"http://{registry_htpasswd.host}", HTPASSWD_PASSWORD)[0] == "ok"
    status, message = report(tmp_path, f"http://{registry_htpasswd.host}", "wrong")
    assert status == "fail" and "credentials rejected" in message
    assert report(tmp_path, f"http://127.0.0.1:{free_port()}", None)[0] == "unknown"


def test_probe_job_every_15_minutes() -> None:
    probe = next(j for j in JOBS if j.name == "registry-probe")
    assert probe.cron == "*/15 * * * *" and probe.command == ("registry", "probe")
    retention = next(j for j in JOBS if j.name == "registry-retention")
    assert retention.command == ("registry", "retention", "plan")  # never apply unattended by default
