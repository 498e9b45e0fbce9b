"""Dedup, Slack escaping, the retry queue (with a fake poster and clock-free waits), metric caps, the follower
on a real file, settings validation and `parse --dedup-window` verdicts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from homeops.kms.classify import Classifier
from homeops.kms.counters import KmsMetrics
from homeops.kms.dedup import Dedup
from homeops.kms.follow import LogFollower
from homeops.kms.logparse import Event
from homeops.kms.message import activation_text, escape
from homeops.kms.service import parse_lines
from homeops.kms.settings import Settings
from homeops.kms.slack import Message, Outcome, SlackQueue, Spool

W = 3600.0


def test_dedup_window_is_fixed_from_the_first_post() -> None:
    d = Dedup(W)
    assert d.should_post("a|p", 0.0)
    assert not d.should_post("a|p", W - 0.001)  # W − ε: skip
    assert d.should_post("a|p", W)  # exactly W: post
    assert not d.should_post("a|p", W + 10)  # window restarted at W, not refreshed by the skip


def test_dedup_skip_does_not_refresh() -> None:
    d = Dedup(W)
    d.should_post("k", 0.0)
    assert not d.should_post("k", 3000.0)
    assert d.should_post("k", 3600.0)


def test_dedup_evicts_the_oldest_when_full() -> None:
    d = Dedup(W, capacity=4096)
    for i in range(4096):
        assert d.should_post(f"k{i}", float(i) * 0.1)
    assert d.should_post("new", 500.0)
    assert len(d) == 4096
    assert d.should_post("k0", 501.0)  # evicted, so posted again
    assert not d.should_post("k2", 502.0)


def test_escape_neutralises_client_text() -> None:
    assert escape("<!channel> & `x`") == "&lt;!channel&gt; &amp; 'x'"
    assert escape("a\x00b\nc\u202e") == "abc"
    cut = escape("x" * 150)
    assert len(cut) == 100
    assert cut.endswith("…")


def test_activation_text_defaults() -> None:
    e = Event(
        kind="activation", ip="1.2.3.4", port=1, source="external", opened=None, closed=None, product="P"
    )
    assert activation_text(e).splitlines()[2:] == [
        "• *Workstation*: `?`",
        "• *Product*: `P`",
        "• *Status before*: unknown",
    ]


class FakePoster:
    def __init__(self, answers: list[Outcome]) -> None:
        self.answers = answers
        self.bodies: list[dict[str, Any]] = []
        self.delivered: list[str] = []

    def post(self, body: dict[str, Any]) -> Outcome:
        self.bodies.append(body)
        outcome = self.answers.pop(0) if self.answers else Outcome(True)
        if outcome.ok:
            self.delivered.append(body["text"])
        return outcome

    def close(self) -> None:
        return


class Hooks:
    def __init__(self) -> None:
        self.log: list[tuple[str, ...]] = []
        self.done = threading.Event()

    def sent(self, message: Message) -> None:
        self.log.append(("sent", message.body["text"]))

    def failed(self, message: Message, reason: str, attempt: int, next_in: float, depth: int) -> None:
        self.log.append(("failed", reason, str(attempt), f"{next_in:g}"))

    def dropped(self, message: Message, reason: str) -> None:
        self.log.append(("dropped", reason, message.body["text"]))

    def depth(self, depth: int) -> None:
        return


def drain(queue: SlackQueue) -> None:
    end = time.monotonic() + 10
    while len(queue) and time.monotonic() < end:
        time.sleep(0.005)


def test_queue_retries_in_order_with_capped_backoff_and_drops_400() -> None:
    poster = FakePoster([Outcome(False, "http_5xx"), Outcome(False, "http_5xx"), Outcome(False, "http_4xx", retry=False),
                         Outcome(False, "http_429", True, 500.0)])  # fmt: skip
    hooks = Hooks()
    q = SlackQueue(poster, hooks, maxlen=10, max_delay=0.01).start()
    for text in ("a", "b", "c"):
        q.put(Message({"text": text}))
    drain(q)
    q.stop(0.1)
    assert poster.delivered == ["b", "c"]  # "a" was rejected with 400 after two 5xx
    assert ("dropped", "rejected", "a") in hooks.log
    assert [x for x in hooks.log if x[0] == "failed"][:2] == [("failed", "http_5xx", "1", "0.01"),
                                                              ("failed", "http_5xx", "2", "0.01")]  # fmt: skip
    assert ("failed", "http_429", "1", "0.01") in hooks.log  # Retry-After capped by max_delay


def test_queue_full_drops_the_oldest_and_spool_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool.jsonl"))
    hooks = Hooks()
    q = SlackQueue(FakePoster([]), hooks, maxlen=2, max_delay=0.01, spool=spool)  # not started: Slack "down"
    for text in ("1", "2", "3"):
        q.put(Message({"text": text}))
    assert ("dropped", "queue_full", "1") in hooks.log
    assert [m.body["text"] for m in spool.load()] == ["2", "3"]
    poster = FakePoster([])
    q2 = SlackQueue(poster, Hooks(), maxlen=10, max_delay=0.01, spool=spool).start()
    drain(q2)
    q2.stop(0.1)
    assert poster.delivered == ["2", "3"]
    assert spool.load() == []


def test_metric_label_combinations_are_capped() -> None:
    overflow: list[str] = []
    m = KmsMetrics(on_overflow=overflow.append)
    for i in range(300):
        m.inc("kms_activations_dedup_skipped_total", f"p{i}")
    assert m.get("kms_activations_dedup_skipped_total", "other") == 44
    assert overflow == ["kms_activations_dedup_skipped_total"]


def test_follower_rotation_truncation_and_partial_lines(tmp_path: Path) -> None:
    log = tmp_path / "v.log"
    log.write_text("old\n")
    f = LogFollower(log)
    assert f.poll().lines == []
    with log.open("a") as fh:
        fh.write("a\nb")
    assert f.poll().lines == ["a"]
    with log.open("a") as fh:
        fh.write("c\n")
    assert f.poll().lines == ["bc"]
    with log.open("a") as old:
        os.rename(log, tmp_path / "v.log.1")
        assert f.poll().lines == []  # path missing: keep the old handle
        old.write("tail-without-newline")
    log.write_text("new\n")
    polled = f.poll()
    assert polled.lines == ["tail-without-newline", "new"]
    assert polled.notices == ["rotated"]
    log.write_text("")
    polled = f.poll()
    assert polled.notices == ["truncated"]
    log.write_text("x\n")
    assert f.poll().lines == ["x"]
    f.close()


def test_follower_waits_for_a_missing_file_then_reads_it_all(tmp_path: Path) -> None:
    log = tmp_path / "v.log"
    f = LogFollower(log)
    assert f.poll().notices == ["waiting"]
    assert f.poll().notices == []
    log.write_text("1\n2\n")
    polled = f.poll()
    assert (polled.notices, polled.lines) == (["appeared"], ["1", "2"])
    f.close()


def test_follower_position_file(tmp_path: Path) -> None:
    log, pos = tmp_path / "v.log", tmp_path / "pos.json"
    log.write_text("a\n")
    f = LogFollower(log, from_start=True, position_file=str(pos))
    assert f.poll().lines == ["a"]
    f.save_position()
    f.close()
    with log.open("a") as fh:
        fh.write("b\n")
    f2 = LogFollower(log, position_file=str(pos))
    assert f2.poll().lines == ["b"]
    f2.close()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"pod_cidrs": ["10.10.0.0/33"]}, "pod_cidrs"), ({"node_cidrs": ["nope"]}, "node_cidrs"),
     ({"expect_address": "x"}, "expect_address")],
)  # fmt: skip
def test_settings_reject_bad_values(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Settings(**kwargs)


def test_parse_would_post_uses_log_timestamps() -> None:
    def act(ts: str, port: int) -> list[str]:
        return [f"{ts}: IPv4 connection accepted: 192.168.1.5:{port}.", f"{ts}: KMS v6.0 request from A for P",
                f"{ts}: IPv4 connection closed: 192.168.1.5:{port}."]  # fmt: skip

    lines = act("2026-11-26 10:00:00", 1) + act("2026-11-26 10:59:59", 2) + act("2026-11-26 11:00:00", 3)
    report = parse_lines(lines, Classifier.default(), dedup_window=3600)
    assert report.would_post == [True, False, True]
    lines_t0 = [line.split(": ", 1)[1] for line in lines]
    assert parse_lines(lines_t0, Classifier.default(), dedup_window=3600).would_post == [None, None, None]
