"""Logic: the watcher's metric state, exposed with the original's names, types, labels and HELP (§5).

Thread-safe counters with a cap of 256 label combinations per metric (label values come from client-influenced
log lines); later new combinations go to ``other``. ``families()`` feeds ``homeops.metrics.MetricsServer``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from homeops.kms.classify import SOURCES
from homeops.metrics import Family, Sample

MAX_COMBINATIONS = 256
FAILURE_REASONS = ("timeout", "connection", "http_4xx", "http_429", "http_5xx")
DROP_REASONS = ("queue_full", "rejected")
REOPEN_REASONS = ("rotated", "truncated")

# (name, type, label names, HELP) in exposition order
SPEC: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("kms_activations_total", "counter", ("product", "status"), "KMS activation events that resulted in a Slack post."),
    ("kms_activations_dedup_skipped_total", "counter", ("product",), "KMS activation events suppressed by dedup window."),
    ("kms_connection_probes_total", "counter", ("source",), "Probe-only TCP connections (open+close, no KMS RPC)."),
    ("kms_last_activation_timestamp_seconds", "gauge", (), "Unix ts of the last non-deduped activation."),
    ("kms_slack_notifier_up", "gauge", (), "1 while the notifier process is running."),
    ("kms_slack_post_failures_total", "counter", ("reason",), "Slack posts that failed, by reason."),
    ("kms_slack_dropped_total", "counter", ("reason",), "Slack messages dropped without delivery, by reason."),
    ("kms_slack_queue_depth", "gauge", (), "Slack messages waiting for delivery."),
    ("kms_connections_rejected_total", "counter", ("source",), "Connections refused by public-IP protection."),
    ("kms_log_warnings_total", "counter", ("kind",), "vlmcsd log warnings, by kind."),
    ("kms_log_lines_total", "counter", (), "vlmcsd log lines read."),
    ("kms_log_reopens_total", "counter", ("reason",), "Times the log was reopened after rotation or truncation."),
)  # fmt: skip

# Series shown at 0 from the start, so rate() and alerts work before the first event.
_PRESET: dict[str, tuple[tuple[str, ...], ...]] = {
    "kms_connection_probes_total": tuple((s,) for s in SOURCES),
    "kms_slack_post_failures_total": tuple((r,) for r in FAILURE_REASONS),
    "kms_slack_dropped_total": tuple((r,) for r in DROP_REASONS),
    "kms_log_reopens_total": tuple((r,) for r in REOPEN_REASONS),
}


class KmsMetrics:
    """Counter and gauge values keyed by metric name and label values."""

    def __init__(self, on_overflow: Callable[[str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[tuple[str, ...], float]] = {name: {} for name, *_ in SPEC}
        self._labels = {name: labels for name, _t, labels, _h in SPEC}
        self._overflow_warned: set[str] = set()
        self._on_overflow = on_overflow
        for name, combos in _PRESET.items():
            for combo in combos:
                self._values[name][combo] = 0.0
        self._values["kms_last_activation_timestamp_seconds"][()] = 0.0
        self._values["kms_slack_notifier_up"][()] = 1.0
        self._values["kms_slack_queue_depth"][()] = 0.0
        self._values["kms_log_lines_total"][()] = 0.0

    def _key(self, name: str, values: tuple[str, ...]) -> tuple[str, ...]:
        series = self._values[name]
        if values in series or len(series) < MAX_COMBINATIONS:
            return values
        if name not in self._overflow_warned:
            self._overflow_warned.add(name)
            if self._on_overflow is not None:
                self._on_overflow(name)
        return tuple("other" for _ in values)

    def inc(self, name: str, *values: str, by: float = 1.0) -> None:
        with self._lock:
            key = self._key(name, tuple(values))
            series = self._values[name]
            series[key] = series.get(key, 0.0) + by

    def set(self, name: str, value: float, *values: str) -> None:
        with self._lock:
            self._values[name][self._key(name, tuple(values))] = value

    def get(self, name: str, *values: str) -> float:
        with self._lock:
            return self._values[name].get(tuple(values), 0.0)

    def families(self) -> list[Family]:
        """Every metric, HELP/TYPE even without samples; series sorted by labels."""
        with self._lock:
            result = []
            for name, kind, labels, help_text in SPEC:
                samples = tuple(
                    Sample(value, dict(zip(labels, combo, strict=True)))
                    for combo, value in sorted(self._values[name].items())
                )
                result.append(Family(name, help_text, kind, samples))  # type: ignore[arg-type]
            return result
