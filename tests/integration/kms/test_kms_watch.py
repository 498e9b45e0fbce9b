"""`homeops kms watch` as a real process on a real file: appends, rotation, truncation, a Slack stand-in that
fails for a while, metrics scraped from the running watcher, SIGTERM/SIGINT and the spool (kms.md §8)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli._run import ROOT, clean_env
from tests.standins.slack import SlackStandin

FIXTURES = ROOT / "tests" / "fixtures" / "kms"
DEADLINE = 15.0


def block(
    ip: str, port: int, host: str, product: str = "Windows 10 Professional", ts: str = "2026-11-26 09:00:00"
) -> str:
    """One older-format activation: open, verbose request block, close."""
    return (
        f"{ts}: IPv4 connection accepted: {ip}:{port}.\n"
        f"{ts}: <<< Incoming KMS request\n"
        f"{ts}: Licensing status                : 1 (Licensed)\n"
        f"{ts}: Application ID                  : 55c92734-d682-4d71-983e-d6ec3f16059f (Windows)\n"
        f"{ts}: Activation ID (Product)         : 2de67392-b7a7-462a-b1ca-108dd189f588 ({product})\n"
        f"{ts}: Workstation name                : {host}\n"
        f"{ts}: IPv4 connection closed: {ip}:{port}.\n"
    )


def probe(ip: str, port: int) -> str:
    return f"IPv4 connection accepted: {ip}:{port}.\nIPv4 connection closed: {ip}:{port}.\n"


def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


class Watch:
    """A running ``homeops kms watch`` with its stderr lines, JSON Lines and metrics endpoint."""

    def __init__(self, log: Path, slack: SlackStandin | None, *args: str, **settings: str) -> None:
        cfg = log.parent / "config.toml"
        cfg.write_text("")
        env = {"HOMEOPS_CONFIG": str(cfg), "HOMEOPS_KMS__SLACK_RETRY_MAX_DELAY": "0.1",
               "HOMEOPS_KMS__SLACK_TIMEOUT": "0.5", "HOMEOPS_KMS__SHUTDOWN_GRACE": "1"}  # fmt: skip
        env |= {f"HOMEOPS_KMS__{k.upper()}": v for k, v in settings.items()}
        argv = [sys.executable, "-m", "homeops", "kms", "watch", str(log), "--metrics-addr", "127.0.0.1",
                "--metrics-port", "0", "--interval", "0.05", "--json", *args]  # fmt: skip
        if slack is not None:
            env["HOMEOPS_TEST_HOOK"] = slack.url
            argv += ["--slack-webhook", "env:HOMEOPS_TEST_HOOK"]
        else:
            argv += ["--no-slack"]
        self.proc = subprocess.Popen(
            argv, env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.err: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err.append), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._event), daemon=True),
        ]
        for t in self._threads:
            t.start()
        line = self.wait_line("metrics on :")
        self.port = int(line.split("metrics on :", 1)[1].split("/", 1)[0])
        self.wait_line("tailing ")

    def _event(self, line: str) -> None:
        self.events.append(json.loads(line))

    @staticmethod
    def _pump(stream: Any, sink: Callable[[str], None]) -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    def until(self, check: Callable[[], bool], what: str) -> None:
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            if check():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"not reached: {what}\nstderr:\n" + "\n".join(self.err[-30:]))

    def wait_line(self, needle: str) -> str:
        self.until(lambda: any(needle in line for line in self.err), needle)
        return next(line for line in self.err if needle in line)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, text = self.get("/metrics")
        assert status == 200
        values = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                values[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return values

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(15)
        for t in self._threads:
            t.join(5)
        return rc


@pytest.fixture
def watches() -> Iterator[list[Watch]]:
    running: list[Watch] = []
    yield running
    for w in running:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(5)


@pytest.fixture
def start(watches: list[Watch]) -> Callable[..., Watch]:
    def _start(log: Path, slack: SlackStandin | None, *args: str, **settings: str) -> Watch:
        w = Watch(log, slack, *args, **settings)
        watches.append(w)
        return w

    return _start


def test_absent_file_is_waited_for_and_read_from_its_start(
    tmp_path: Path, start: Any, slack_webhook: Any
) -> None:
    log = tmp_path / "vlmcsd.log"
    w = start(log, slack_webhook)
    w.wait_line("log: waiting:")
    log.write_text(block("192.168.1.230", 53140, "PC-A"))
    w.until(lambda: len(slack_webhook.delivered) == 1, "post")
    assert "`PC-A`" in slack_webhook.texts()[0]
    w.wait_line("log: appeared:")
    assert w.stop() == 0


def test_old_content_is_skipped_unless_from_start(tmp_path: Path, start: Any) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text(block("192.168.1.230", 53140, "OLD"))
    w = start(log, None)
    append(log, block("192.168.1.231", 53141, "NEW"))
    w.until(lambda: len(w.kinds("activation")) == 1, "new activation")
    assert w.kinds("activation")[0]["workstation"] == "NEW"
    assert w.stop() == 0
    w2 = start(log, None, "--from-start")
    w2.until(lambda: len(w2.kinds("activation")) == 2, "both activations")
    assert [e["workstation"] for e in w2.kinds("activation")] == ["OLD", "NEW"]
    assert w2.stop(signal.SIGINT) == 0


def test_l1_in_split_chunks_posts_once_and_counts_probes(
    tmp_path: Path, start: Any, slack_webhook: Any
) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text("")
    w = start(log, slack_webhook)
    data = (FIXTURES / "legacy_l1.log").read_text()
    for i in range(0, len(data), 37):  # chunks that split lines mid-way
        append(log, data[i : i + 37])
        time.sleep(0.01)
    w.until(lambda: len(w.kinds("activation")) == 1, "activation")
    w.until(lambda: len(slack_webhook.delivered) == 1, "post")
    assert w.metric("kms_connection_probes_total", source="cluster_node") == 2
    assert w.metric("kms_activations_total", product="Windows 10 Professional", status="Licensed") == 1
    assert [e["posted"] for e in w.events] == [None, None, True]
    body = slack_webhook.delivered[0]
    assert body["channel"] == "#alerts"
    assert body["username"] == "kms.viktorbarzin.me"
    assert body["text"] == (
        ":computer: KMS activation\n• *Client*: `192.168.1.230` (external)\n"
        "• *Workstation*: `WIN10Pro-DS32.viktorbarzin.lan`\n• *Product*: `Windows 10 Professional`\n"
        "• *Status before*: Licensed"
    )
    assert any("probe: ip=10.0.20.102 source=cluster_node" in line for line in w.err)
    w.wait_line("sent: ip=192.168.1.230 source=external product='Windows 10 Professional'")
    assert w.stop() == 0


def test_rotation_and_truncation_lose_nothing(tmp_path: Path, start: Any, slack_webhook: Any) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text("")
    w = start(log, slack_webhook)
    with log.open("a") as old:
        old.write(block("192.168.1.1", 1001, "ROT-1"))
        old.flush()
        w.until(lambda: len(slack_webhook.delivered) == 1, "first post")
        os.rename(log, tmp_path / "vlmcsd.log.1")
        old.write(block("192.168.1.2", 1002, "ROT-2"))  # a writer still holding the renamed file
        old.flush()
    append(log, block("192.168.1.3", 1003, "ROT-3"))
    w.until(lambda: len(slack_webhook.delivered) == 3, "three posts")
    w.wait_line("log: rotated:")
    with log.open("w") as fh:  # truncate in place, then grow again
        fh.write("")
    w.until(lambda: w.metric("kms_log_reopens_total", reason="truncated") == 1, "truncation noticed")
    append(log, block("192.168.1.4", 1004, "TRUNC-4"))
    w.until(lambda: len(slack_webhook.delivered) == 4, "four posts")
    hosts = [t.split("*Workstation*: `")[1].split("`")[0] for t in slack_webhook.texts()]
    assert hosts == ["ROT-1", "ROT-2", "ROT-3", "TRUNC-4"]
    assert w.metric("kms_log_reopens_total", reason="rotated") == 1
    assert w.stop() == 0


def test_slack_5xx_then_recovery_delivers_each_once_in_order(
    tmp_path: Path, start: Any, slack_webhook: Any
) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text("")
    slack_webhook.script(500, 500, 500, 500, 500)
    w = start(log, slack_webhook)
    append(log, "".join(block(f"192.168.1.{i}", 2000 + i, f"PC-{i}") for i in range(1, 4)))
    append(log, probe("10.0.20.102", 3000))
    w.until(lambda: len(slack_webhook.delivered) == 3, "three posts")
    assert [t.split("*Workstation*: `")[1].split("`")[0] for t in slack_webhook.texts()] == [
        "PC-1",
        "PC-2",
        "PC-3",
    ]
    w.until(lambda: w.metric("kms_slack_queue_depth") == 0, "queue drained")
    assert w.metric("kms_slack_post_failures_total", reason="http_5xx") == 5
    assert w.metric("kms_connection_probes_total", source="cluster_node") == 1
    assert slack_webhook.attempts == 8
    assert w.stop() == 0


def test_slack_refusing_connections_then_429_then_recovery(
    tmp_path: Path, start: Any, slack_webhook: Any
) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text("")
    w = start(log, slack_webhook)
    slack_webhook.down()
    append(log, block("192.168.1.10", 4010, "DOWN-1") + block("192.168.1.11", 4011, "DOWN-2"))
    w.until(lambda: w.metric("kms_slack_post_failures_total", reason="connection") >= 2, "refused posts")
    slack_webhook.retry_after = "0"
    slack_webhook.script(429, "close")
    slack_webhook.up()
    w.until(lambda: len(slack_webhook.delivered) == 2, "two posts")
    w.until(lambda: w.metric("kms_slack_queue_depth") == 0, "queue drained")
    assert [t.split("*Workstation*: `")[1].split("`")[0] for t in slack_webhook.texts()] == [
        "DOWN-1",
        "DOWN-2",
    ]
    assert w.metric("kms_slack_post_failures_total", reason="http_429") == 1
    assert w.stop() == 0


def test_a_timeout_after_slack_took_the_post_adds_at_most_one_duplicate(
    tmp_path: Path, start: Any, slack_webhook: Any
) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text("")
    slack_webhook.slow_seconds = 1.0  # past slack_timeout = 0.5
    slack_webhook.script("timeout")
    w = start(log, slack_webhook)
    append(log, block("192.168.1.20", 5020, "SLOW") + block("192.168.1.21", 5021, "NEXT"))
    w.until(lambda: "NEXT" in "".join(slack_webhook.texts()), "second post")
    w.until(lambda: w.metric("kms_slack_queue_depth") == 0, "queue drained")
    texts = slack_webhook.texts()
    assert 1 <= sum("SLOW" in t for t in texts) <= 2
    assert sum("NEXT" in t for t in texts) == 1
    assert w.metric("kms_slack_post_failures_total", reason="timeout") == 1
    assert w.stop() == 0


def test_full_queue_drops_oldest_with_text_and_dedup_skips(
    tmp_path: Path, start: Any, slack_webhook: Any
) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text("")
    w = start(log, slack_webhook, slack_queue_max="2", slack_retry_max_delay="5")
    slack_webhook.down()
    append(log, "".join(block(f"192.168.2.{i}", 6000 + i, f"Q-{i}") for i in range(1, 5)))
    append(log, block("192.168.2.4", 6100, "Q-4"))  # same ip and product again within the window
    w.until(lambda: w.metric("kms_slack_dropped_total", reason="queue_full") == 2, "two drops")
    w.until(
        lambda: w.metric("kms_activations_dedup_skipped_total", product="Windows 10 Professional") == 1,
        "skip",
    )
    dropped = [line for line in w.err if "slack-dropped: reason=queue_full" in line]
    assert len(dropped) == 2
    assert "Q-1" in dropped[0]
    assert "Q-2" in dropped[1]
    assert w.events[-1]["posted"] is False
    w.wait_line("dedup-skip: ip=192.168.2.4 product='Windows 10 Professional'")
    assert w.metric("kms_activations_total", product="Windows 10 Professional", status="Licensed") == 4
    assert w.stop() == 0  # Slack still down: the two left are reported on stderr
    assert sum("slack-undelivered:" in line for line in w.err) == 2


def test_sigterm_spools_pending_and_restart_resends(tmp_path: Path, start: Any, slack_webhook: Any) -> None:
    log = tmp_path / "vlmcsd.log"
    spool = tmp_path / "spool.jsonl"
    log.write_text("")
    slack_webhook.down()
    w = start(log, slack_webhook, spool_file=str(spool))
    assert w.get("/healthz") == (200, "ok\n")
    assert w.get("/nope")[0] == 404
    append(log, block("192.168.3.1", 7001, "SPOOLED"))
    w.until(lambda: w.metric("kms_slack_post_failures_total", reason="connection") >= 1, "a failed post")
    assert w.stop(signal.SIGTERM) == 0
    kept = [json.loads(line) for line in spool.read_text().splitlines()]
    assert len(kept) == 1
    assert "SPOOLED" in kept[0]["body"]["text"]
    slack_webhook.up()
    w2 = start(log, slack_webhook, spool_file=str(spool))
    w2.until(lambda: len(slack_webhook.delivered) == 1, "re-sent")
    assert "SPOOLED" in slack_webhook.texts()[0]
    w2.until(lambda: spool.read_text() == "", "spool emptied")
    assert w2.stop(signal.SIGINT) == 0


def test_position_file_restart_reposts_nothing_and_loses_nothing(
    tmp_path: Path, start: Any, slack_webhook: Any
) -> None:
    log, pos = tmp_path / "vlmcsd.log", tmp_path / "position.json"
    log.write_text(block("192.168.9.9", 9999, "BEFORE-START"))  # old content: skipped on the first start
    w = start(log, slack_webhook, position_file=str(pos))
    append(log, block("192.168.1.1", 2001, "PC-1") + probe("10.0.20.102", 3001))
    w.until(lambda: len(slack_webhook.delivered) == 1, "first post")
    # an activation half written when the watcher stops: open line and request block, no close yet
    *head, close = block("192.168.1.3", 2003, "PC-3").splitlines(keepends=True)
    half = "".join(head)
    append(log, half)
    w.until(lambda: w.metric("kms_log_lines_total") == 15, "every line read")
    assert w.stop() == 0
    assert json.loads(pos.read_text())["offset"] < log.stat().st_size  # resumes at the open connection
    append(log, close + block("192.168.1.2", 2002, "PC-2"))
    w2 = start(log, slack_webhook, position_file=str(pos))
    w2.until(lambda: len(slack_webhook.delivered) >= 3, "the half-written and the new activation")
    hosts = [t.split("*Workstation*: `")[1].split("`")[0] for t in slack_webhook.texts()]
    assert hosts == ["PC-1", "PC-3", "PC-2"]  # order is kept, so a re-posted PC-1 would sit before PC-3
    assert [e["workstation"] for e in w2.kinds("activation")] == ["PC-3", "PC-2"]
    assert w2.metric("kms_connection_probes_total", source="cluster_node") == 0  # run 1's probe not recounted
    assert w2.metric("kms_log_lines_total") == 8
    assert w2.stop() == 0
    assert json.loads(pos.read_text())["offset"] == log.stat().st_size


def test_metrics_match_the_golden_exposition(tmp_path: Path, start: Any) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text("")
    w = start(log, None)
    append(log, (FIXTURES / "legacy_l1.log").read_text() + (FIXTURES / "rejected.log").read_text())
    w.until(lambda: len(w.events) == 4, "four events")
    status, text = w.get("/metrics")
    assert status == 200
    got = _families(text)
    want = _families((FIXTURES / "metrics_golden.prom").read_text())
    last = "kms_last_activation_timestamp_seconds"
    assert got[last][2][0][1] > 1.7e9  # a wall-clock time, not compared
    got[last] = want[last]
    assert got == want
    assert w.stop() == 0


def _families(text: str) -> dict[str, tuple[str, str, list[tuple[tuple[tuple[str, str], ...], float]]]]:
    return {
        fam.name: (
            fam.type,
            fam.documentation,
            [(tuple(sorted(s.labels.items())), s.value) for s in fam.samples],
        )
        for fam in text_string_to_metric_families(text)
    }


def test_dry_run_posts_nothing_and_says_would_post(tmp_path: Path, start: Any, slack_webhook: Any) -> None:
    log = tmp_path / "vlmcsd.log"
    log.write_text("")
    w = start(log, None, "--dry-run")
    append(log, block("192.168.4.1", 8001, "DRY"))
    w.wait_line("would-post: ip=192.168.4.1")
    assert w.events[-1]["dry_run"] is True
    assert slack_webhook.attempts == 0
    assert w.stop() == 0
