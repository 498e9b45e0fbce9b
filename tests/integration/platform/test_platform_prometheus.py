"""The prometheus fixture: rules evaluate, and (slow) a metric pushed by metrics.push is scraped and queryable."""

from __future__ import annotations

import time
import uuid

import pytest

from homeops.metrics import gauge, push
from tests.services.prometheus import Prometheus


def test_always_firing_alert(prometheus: Prometheus) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alerts = prometheus.api("alerts")["alerts"]
        if any(a["labels"]["alertname"] == "AlwaysFiring" and a["state"] == "firing" for a in alerts):
            break
        time.sleep(0.05)
    assert any(a["labels"]["severity"] == "critical" for a in prometheus.api("alerts")["alerts"])


@pytest.mark.slow
def test_pushed_metric_is_scraped(prometheus_scraping: Prometheus) -> None:
    name = f"homeops_test_{uuid.uuid4().hex[:8]}"
    assert push(
        prometheus_scraping.pushgateway.url, "homeops_test", [gauge(name, 7)], grouping={"instance": "a"}
    ).pushed
    deadline = time.monotonic() + 10
    result: list[dict[str, object]] = []
    while time.monotonic() < deadline and not result:
        result = prometheus_scraping.api(f"query?query={name}")["result"]
        time.sleep(0.1)
    assert result
    assert result[0]["metric"] == {"__name__": name, "instance": "a", "job": "homeops_test"}
    assert result[0]["value"][1] == "7"  # type: ignore[index]
