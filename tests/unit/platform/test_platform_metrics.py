"""metrics: exposition (typed/untyped, escaping), grouping URLs, atomic textfile, the scrape server."""

from __future__ import annotations

import base64
import math
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from homeops import metrics
from homeops.metrics import Family, MetricsServer, Sample, gauge, group_url, render, write_textfile


def parse(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    out: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        out[fam.name] = [(s.name, dict(s.labels), s.value) for s in fam.samples]
    return out


def test_typed_render_has_help_and_type() -> None:
    text = render([gauge("pve_fan_speed", 42, help="Fan duty %", labels={"fan": "1"})])
    assert text == '# HELP pve_fan_speed Fan duty %\n# TYPE pve_fan_speed gauge\npve_fan_speed{fan="1"} 42\n'


def test_untyped_render_has_no_comment_lines() -> None:
    text = render([gauge("technitium_zone_count", 7, labels={"instance": "primary"})], typed=False)
    assert text == 'technitium_zone_count{instance="primary"} 7\n'


@pytest.mark.parametrize(
    ("value", "written"),
    [(42, "42"), (0.5, "0.5"), (-3, "-3"), (1e20, "1e+20"), (math.inf, "+Inf"), (-math.inf, "-Inf")],
    ids=["int", "float", "negative", "huge", "inf", "-inf"],
)
def test_values(value: float, written: str) -> None:
    assert render([gauge("m", value)], typed=False) == f"m {written}\n"


def test_nan() -> None:
    assert render([gauge("m", math.nan)], typed=False) == "m NaN\n"


def test_label_and_help_escaping_round_trips_through_prometheus_parser() -> None:
    tricky = 'a "quoted" \\ back\nslash'
    text = render([gauge("m", 1, help="line1\nline2 \\", labels={"path": tricky})])
    assert '\\"quoted\\"' in text and "\\n" in text
    assert parse(text)["m"] == [("m", {"path": tricky}, 1.0)]


@given(
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), st.text(max_size=20), max_size=4)
)
def test_any_label_values_parse_back(labels: dict[str, str]) -> None:
    text = render([gauge("m", 2.5, labels=labels)])
    assert parse(text)["m"] == [("m", labels, 2.5)]


def test_counter_family_named_with_total() -> None:
    fam = Family(
        "kms_activations_total",
        "Events",
        "counter",
        (Sample(3, {"product": "Win"}), Sample(1, {"product": "Office"})),
    )
    text = render([fam])
    assert "# TYPE kms_activations_total counter\n" in text
    assert parse(text)["kms_activations"] == [
        ("kms_activations_total", {"product": "Win"}, 3.0),
        ("kms_activations_total", {"product": "Office"}, 1.0),
    ]


def test_histogram_suffixes() -> None:
    fam = Family(
        "probe_seconds",
        "",
        "histogram",
        (
            Sample(1, {"le": "0.5"}, suffix="_bucket"),
            Sample(2, {"le": "+Inf"}, suffix="_bucket"),
            Sample(0.7, suffix="_sum"),
            Sample(2, suffix="_count"),
        ),
    )
    names = [s[0] for s in parse(render([fam]))["probe_seconds"]]
    assert names == [
        "probe_seconds_bucket",
        "probe_seconds_bucket",
        "probe_seconds_sum",
        "probe_seconds_count",
    ]


@pytest.mark.parametrize("name", ["1abc", "a-b", "", "a b"])
def test_invalid_metric_name(name: str) -> None:
    with pytest.raises(ValueError, match="invalid metric name"):
        gauge(name, 1)


@pytest.mark.parametrize("label", ["1x", "a-b", "__reserved"])
def test_invalid_label_name(label: str) -> None:
    with pytest.raises(ValueError, match="invalid label name"):
        gauge("m", 1, labels={label: "v"})


@pytest.mark.parametrize(
    ("grouping", "path"),
    [
        ({}, "/metrics/job/fan_control"),
        ({"instance": "pve-r730"}, "/metrics/job/fan_control/instance/pve-r730"),
        ({"instance": ""}, "/metrics/job/fan_control/instance@base64/="),
        (
            {"path": "/srv/nfs"},
            "/metrics/job/fan_control/path@base64/" + base64.urlsafe_b64encode(b"/srv/nfs").decode(),
        ),
        ({"instance": "a b"}, "/metrics/job/fan_control/instance/a%20b"),
    ],
    ids=["job-only", "instance", "empty", "slash", "space"],
)
def test_group_url(grouping: dict[str, str], path: str) -> None:
    assert group_url("http://gw:9091/", "fan_control", grouping) == "http://gw:9091" + path


def test_job_with_slash_is_base64() -> None:
    assert (
        group_url("http://gw", "a/b")
        == "http://gw/metrics/job@base64/" + base64.urlsafe_b64encode(b"a/b").decode()
    )


def test_redact_url() -> None:
    assert metrics.redact_url("http://user:pw@gw:9091/metrics") == "http://gw:9091/metrics"
    assert metrics.redact_url("http://gw:9091") == "http://gw:9091"


# --- textfile ----------------------------------------------------------------------------------------------


def test_textfile_written_with_mode_0644_and_no_temp_left(tmp_path: Path) -> None:
    target = tmp_path / "fan.prom"
    write_textfile(target, [gauge("pve_fan_speed", 30)])
    assert target.read_text() == "# TYPE pve_fan_speed gauge\npve_fan_speed 30\n"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["fan.prom"]


def test_textfile_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "big.prom"
    versions = {
        render([Family("m", "", "gauge", tuple(Sample(v, {"i": str(i)}) for i in range(3000)))])
        for v in (1, 2)
    }
    write_textfile(target, [Family("m", "", "gauge", tuple(Sample(1, {"i": str(i)}) for i in range(3000)))])
    stop = threading.Event()
    seen: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(target.read_text())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(30):
            v = 1 + n % 2
            write_textfile(
                target, [Family("m", "", "gauge", tuple(Sample(v, {"i": str(i)}) for i in range(3000)))]
            )
    finally:
        stop.set()
        thread.join()
    assert seen
    assert all(text in versions for text in seen)


def test_textfile_failure_keeps_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "fan.prom"
    write_textfile(target, [gauge("m", 1)])

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_textfile(target, [gauge("m", 2)])
    assert target.read_text() == "# TYPE m gauge\nm 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["fan.prom"]


def test_textfile_missing_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_textfile(tmp_path / "nope" / "x.prom", [gauge("m", 1)])


# --- MetricsServer -----------------------------------------------------------------------------------------


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def test_metrics_server_serves_metrics_and_health() -> None:
    state = {"healthy": True, "n": 0}

    def collect() -> list[Family]:
        state["n"] += 1
        return [gauge("kms_last_activation_timestamp_seconds", 0, help="Unix ts")]

    server = MetricsServer("127.0.0.1", 0, collect, lambda: bool(state["healthy"]), unhealthy_text="stalled")
    try:
        assert server.port > 0
        status, ctype, body = get(f"{server.url}/metrics")
        assert status == 200
        assert ctype == "text/plain; version=0.0.4; charset=utf-8"
        assert parse(body)["kms_last_activation_timestamp_seconds"][0][2] == 0.0
        assert get(f"{server.url}/healthz")[::2] == (200, "ok\n")
        state["healthy"] = False
        assert get(f"{server.url}/healthz")[::2] == (503, "stalled\n")
        assert get(f"{server.url}/other")[0] == 404
        assert state["n"] == 1
    finally:
        server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{server.url}/healthz", timeout=2)


def test_metrics_server_collect_error_is_500() -> None:
    def broken() -> list[Family]:
        raise RuntimeError("boom")

    with MetricsServer("127.0.0.1", 0, broken) as server:
        status, _, body = get(f"{server.url}/metrics")
        assert status == 500
        assert "RuntimeError" in body
        assert get(f"{server.url}/healthz")[0] == 200
