"""metrics.push/delete_group against a real prometheus-pushgateway, read back from its /metrics."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from homeops.metrics import delete_group, gauge, push
from tests.services._common import free_port
from tests.services.pushgateway import Pushgateway


def series(gw: Pushgateway, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for fam in text_string_to_metric_families(gw.metrics_text()):
        for s in fam.samples:
            if s.name == name:
                found[tuple(sorted(s.labels.items()))] = s.value
    return found


def job() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"


def test_put_then_read_back(pushgateway: Pushgateway) -> None:
    j = job()
    result = push(pushgateway.url, j, [gauge(f"{j}_speed", 42, help="h")], grouping={"instance": "pve-r730"})
    assert result.pushed and result.status == 200
    assert series(pushgateway, f"{j}_speed") == {(("instance", "pve-r730"), ("job", j)): 42.0}


def test_put_replaces_post_merges(pushgateway: Pushgateway) -> None:
    j = job()
    a, b = f"{j}_a", f"{j}_b"
    assert push(pushgateway.url, j, [gauge(a, 1), gauge(b, 1)]).pushed
    assert push(pushgateway.url, j, [gauge(a, 2)], method="POST").pushed
    assert series(pushgateway, a) == {(("instance", ""), ("job", j)): 2.0}
    assert series(pushgateway, b) == {(("instance", ""), ("job", j)): 1.0}
    assert push(pushgateway.url, j, [gauge(a, 3)], method="PUT").pushed
    assert series(pushgateway, a) == {(("instance", ""), ("job", j)): 3.0}
    assert series(pushgateway, b) == {}


def test_delete_removes_the_group_only(pushgateway: Pushgateway) -> None:
    j = job()
    name = f"{j}_m"
    push(pushgateway.url, j, [gauge(name, 1)], grouping={"instance": "one"})
    push(pushgateway.url, j, [gauge(name, 2)], grouping={"instance": "two"})
    assert delete_group(pushgateway.url, j, grouping={"instance": "one"}).pushed
    assert series(pushgateway, name) == {(("instance", "two"), ("job", j)): 2.0}


def test_base64_grouping_values(pushgateway: Pushgateway) -> None:
    j = job()
    name = f"{j}_m"
    assert push(pushgateway.url, j, [gauge(name, 5)], grouping={"path": "/srv/nfs", "instance": ""}).pushed
    assert series(pushgateway, name) == {(("instance", ""), ("job", j), ("path", "/srv/nfs")): 5.0}


def test_untyped_beside_untyped_works_typed_is_refused(
    pushgateway: Pushgateway, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"technitium_zone_count_{uuid.uuid4().hex[:6]}"
    j = "technitium-zone-sync"
    assert push(
        pushgateway.url,
        j,
        [gauge(name, 10, labels={"instance": "primary"})],
        grouping={"instance": "primary"},
        typed=False,
    ).pushed
    second = push(
        pushgateway.url,
        j,
        [gauge(name, 11, labels={"instance": "secondary"})],
        grouping={"instance": "secondary"},
        typed=False,
    )
    assert second.pushed
    assert len(series(pushgateway, name)) == 2
    capsys.readouterr()
    # The reason untyped exists: a typed series beside an untyped one is rejected (HTTP 400), as a warning.
    typed = push(
        pushgateway.url,
        j,
        [gauge(name, 12, labels={"instance": "tertiary"})],
        grouping={"instance": "tertiary"},
        typed=True,
    )
    assert not typed.pushed
    assert typed.status == 400
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_failed_push_is_one_warning_not_an_exception(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://user:hunter2@127.0.0.1:{free_port()}"
    result = push(url, "j", [gauge("m", 1)], timeout=1)
    assert not result.pushed
    assert result.error
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("homeops: warning: metrics push to http://127.0.0.1:")
    assert "hunter2" not in err
    assert result.to_json()["pushed"] is False


def test_failed_delete_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    result = delete_group(f"http://127.0.0.1:{free_port()}", "j", timeout=1)
    assert not result.pushed
    assert "metrics delete" in capsys.readouterr().err
