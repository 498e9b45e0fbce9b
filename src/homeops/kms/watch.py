"""Service: the ``kms watch`` daemon — follow the log, run the state machine, dedup, queue Slack posts,
count everything, serve metrics; SIGTERM/SIGINT stop it cleanly (§3.5, §3.6).

Threads: the reader (the caller's, main), the Slack worker, the metrics server.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any

from homeops.kms.classify import Classifier
from homeops.kms.counters import KmsMetrics
from homeops.kms.dedup import Dedup, dedup_key
from homeops.kms.follow import LogFollower
from homeops.kms.logparse import WARNING_TEXT, Event, ParserState, Warning, expire, feed
from homeops.kms.message import activation_text, payload
from homeops.kms.slack import Message, Poster, SlackQueue, Spool

PREFIX = "[slack-notifier] "


@dataclass(frozen=True)
class WatchOptions:
    """Everything the daemon needs, already merged from flags, environment, TOML and defaults."""

    log_file: str
    from_start: bool = False
    interval: float = 0.5
    dedup_window: float = 3600
    dedup_max: int = 4096
    metrics_addr: str = "0.0.0.0"
    metrics_port: int = 9101
    slack: bool = True
    dry_run: bool = False
    json: bool = False
    stale_after: float = 600
    max_open: int = 4096
    shutdown_grace: float = 5.0
    spool_file: str = ""
    position_file: str = ""
    channel: str = "#alerts"
    username: str = "kms.viktorbarzin.me"
    icon_emoji: str = ":computer:"
    queue_max: int = 1000
    retry_max_delay: float = 300.0


def log(message: str) -> None:
    """One stderr line with the original's prefix (Loki queries keep working)."""
    print(PREFIX + message, file=sys.stderr, flush=True)


class _Hooks:
    def __init__(self, metrics: KmsMetrics) -> None:
        self.metrics = metrics

    def sent(self, message: Message) -> None:
        log(
            f"sent: ip={message.ip} source={message.source} product={message.product!r} host={message.host!r}"
        )

    def failed(self, message: Message, reason: str, attempt: int, next_in: float, depth: int) -> None:
        self.metrics.inc("kms_slack_post_failures_total", reason)
        log(f"slack-retry: attempt={attempt} reason={reason} next_in={next_in:g}s queue={depth}")

    def dropped(self, message: Message, reason: str) -> None:
        self.metrics.inc("kms_slack_dropped_total", reason)
        text = json.dumps(message.body.get("text", ""), ensure_ascii=False)
        log(f"slack-dropped: reason={reason} text={text}")

    def depth(self, depth: int) -> None:
        self.metrics.set("kms_slack_queue_depth", float(depth))


class Watcher:
    """The daemon; ``run()`` returns when ``stop`` is set (by a signal or a test)."""

    def __init__(
        self,
        options: WatchOptions,
        classifier: Classifier,
        poster: Poster | None,
        *,
        emit_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.options = options
        self.stop_event = threading.Event()
        self.metrics = KmsMetrics(
            on_overflow=lambda name: log(f"warning: label_overflow: {name} capped at 256")
        )
        self.state = ParserState(classify=classifier.classify, max_open=options.max_open)
        self.dedup = Dedup(options.dedup_window, options.dedup_max)
        self.emit_event = emit_event
        self.follower = LogFollower(
            options.log_file, from_start=options.from_start, position_file=options.position_file
        )
        self.queue: SlackQueue | None = None
        if poster is not None and options.slack and not options.dry_run:
            spool = Spool(options.spool_file) if options.spool_file else None
            self.queue = SlackQueue(
                poster,
                _Hooks(self.metrics),
                maxlen=options.queue_max,
                max_delay=options.retry_max_delay,
                spool=spool,
            )
        self.last_loop = time.monotonic()
        self._denied_at: float | None = None
        self._saved_at = 0.0

    # --- health ---------------------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """The reader finished a loop within max(10 s, 20 × poll interval)."""
        return time.monotonic() - self.last_loop <= max(10.0, 20 * self.options.interval)

    # --- events ---------------------------------------------------------------------------------------------

    def _warning(self, warning: Warning) -> None:
        self.metrics.inc("kms_log_warnings_total", warning.kind)
        if warning.first:
            log(f"warning: {warning.kind}: {warning.message}")

    def handle(self, event: Event) -> None:
        posted: bool | None = None
        if event.kind == "probe":
            self.metrics.inc("kms_connection_probes_total", event.source)
            log(f"probe: ip={event.ip} source={event.source}")
        elif event.kind == "rejected":
            self.metrics.inc("kms_connections_rejected_total", event.source)
            log(f"rejected: ip={event.ip} source={event.source}")
        else:
            product = event.product or "unknown"
            if self.dedup.should_post(dedup_key(event.ip, product), time.monotonic()):
                posted = True
                self.metrics.inc("kms_activations_total", product, event.status or "unknown")
                self.metrics.set("kms_last_activation_timestamp_seconds", time.time())
                self._deliver(event, product)
            else:
                posted = False
                self.metrics.inc("kms_activations_dedup_skipped_total", product)
                log(f"dedup-skip: ip={event.ip} product={product!r}")
        if self.emit_event is not None:
            self.emit_event({**event.to_json(), "posted": posted, "dry_run": self.options.dry_run})

    def _deliver(self, event: Event, product: str) -> None:
        opts = self.options
        text = activation_text(event)
        host = event.workstation or "?"
        desc = f"ip={event.ip} source={event.source} product={product!r} host={host!r}"
        if opts.dry_run:
            log(f"would-post: {desc}")
            return
        if self.queue is None:
            return
        body = payload(text, channel=opts.channel, username=opts.username, icon_emoji=opts.icon_emoji)
        self.queue.put(Message(body, event.ip, event.source, product, host))
        log(f"queued: {desc}")

    # --- the loop -------------------------------------------------------------------------------------------

    def _notices(self, notices: list[str]) -> None:
        path = self.options.log_file
        for notice in notices:
            if notice == "denied":
                now = time.monotonic()
                if self._denied_at is None or now - self._denied_at >= 60:
                    self._denied_at = now
                    log(f"log: denied: {path} (permission denied; retrying)")
                continue
            if notice in ("rotated", "truncated"):
                self.metrics.inc("kms_log_reopens_total", notice)
            log(f"log: {notice}: {path}")

    def step(self) -> int:
        """One poll of the file; returns the number of lines processed."""
        polled = self.follower.poll()
        self._notices(polled.notices)
        for _ in range(polled.too_long):
            first = "line_too_long" not in self.state.warned
            self.state.warned.add("line_too_long")
            self._warning(Warning("line_too_long", WARNING_TEXT["line_too_long"], first))
        read_time = datetime.now().replace(microsecond=0).isoformat() if polled.lines else None
        for i, line in enumerate(polled.lines):
            now = time.monotonic()
            self.state.offset = polled.starts[i]
            _state, events, warnings = feed(self.state, line, now, read_time)
            if i < polled.replay:
                continue  # handled before a restart: only rebuilding the open connections
            self.metrics.inc("kms_log_lines_total")
            for warning in warnings:
                self._warning(warning)
            for event in events:
                self.handle(event)
        _state, events, warnings = expire(self.state, time.monotonic(), self.options.stale_after)
        for warning in warnings:
            self._warning(warning)
        for event in events:
            self.handle(event)
        now = time.monotonic()
        if self.options.position_file and now - self._saved_at >= 1.0:
            self._saved_at = now
            self.follower.save_position(self._resume())
        self.last_loop = now
        return len(polled.lines)

    def run(self) -> None:
        """Read until stopped; then drain Slack for the grace period and hand back the rest."""
        if self.queue is not None:
            self.queue.start()
        try:
            while not self.stop_event.is_set():
                self.step()
                self.stop_event.wait(self.options.interval)
        finally:
            self.shutdown()

    def _resume(self) -> int:
        """Where a restart must read from so no open connection loses its open line (-1: nothing open)."""
        return min((c.offset for c in self.state.conns.values() if c.offset >= 0), default=-1)

    def shutdown(self) -> None:
        self.follower.save_position(self._resume())
        self.follower.close()
        if self.queue is None:
            return
        left = self.queue.stop(self.options.shutdown_grace)
        if not left:
            return
        if self.options.spool_file:
            try:
                Spool(self.options.spool_file).rewrite(left)
                log(f"slack-spooled: {len(left)} message(s) kept in {self.options.spool_file}")
                return
            except OSError:
                pass
        for message in left:
            log(f"slack-undelivered: {json.dumps(message.body, ensure_ascii=False, sort_keys=True)}")

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT are a normal stop (exit 0)."""

        def _stop(signum: int, frame: FrameType | None) -> None:
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
