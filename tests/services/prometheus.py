"""Real service: Prometheus 2.42 with a rules file and the pushgateway as its one target (§3.4)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.services._common import free_port, require_binary, stop, wait_for

if TYPE_CHECKING:
    from tests.services.pushgateway import Pushgateway

RULES = """\
groups:
- name: homeops-test
  interval: 1s
  rules:
  - {alert: AlwaysFiring, expr: vector(1), labels: {severity: critical}}
"""


@dataclass
class Prometheus:
    """A running Prometheus: base URL, port, PID, its dir and the pushgateway it scrapes."""

    url: str
    port: int
    pid: int
    dir: Path
    pushgateway: Pushgateway

    def api(self, path: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``."""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}", timeout=5) as response:
            return json.loads(response.read())["data"]


def _get_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as response:
        return bool(response.status == 200)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory, pushgateway: Pushgateway) -> Iterator[Prometheus]:
    """Prometheus scraping the session pushgateway every second, with the AlwaysFiring rule."""
    binary = require_binary("prometheus", "Debian prometheus")
    directory = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    (directory / "rules.yml").write_text(RULES)
    (directory / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        "scrape_configs:\n"
        "- {job_name: pushgateway, honor_labels: true, static_configs: "
        f"[{{targets: ['127.0.0.1:{pushgateway.port}']}}]}}\n"
    )
    log = directory / "log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get_ok(f"{url}/-/ready"), proc, log=log, what="prometheus")
        yield Prometheus(url, port, proc.pid, directory, pushgateway)
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def prometheus_scraping(prometheus: Prometheus) -> Prometheus:
    """Prometheus once every target is up (the first scrape comes ~5.3 s after start): mark users slow."""

    def all_up() -> bool:
        targets = prometheus.api("targets")["activeTargets"]
        return bool(targets) and all(t["health"] == "up" for t in targets)

    wait_for(all_up, timeout=30, log=prometheus.dir / "log", what="prometheus targets up")
    return prometheus
