"""Adapter: where each iteration's ``pve_fan_control_*`` gauges go: the Pushgateway (POST, job
``fan_control``, instance ``pve-r730``), a node-exporter textfile, or memory (simulate, tests). Never raises;
one WARN when an outage starts and one INFO when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from homeops.fan.ports import Gauge

if TYPE_CHECKING:
    from homeops.metrics import Family

LogFn = Callable[[str, str], None]


def families(gauges: Sequence[Gauge]) -> list[Family]:
    """Group gauges by name into typed gauge families, in first-seen order."""
    from homeops.metrics import Family, Sample

    order: list[str] = []
    helps: dict[str, str] = {}
    samples: dict[str, list[Sample]] = {}
    for g in gauges:
        if g.name not in samples:
            order.append(g.name)
            helps[g.name] = g.help
            samples[g.name] = []
        samples[g.name].append(Sample(float(g.value), dict(g.labels)))
    return [Family(name, helps[name], "gauge", tuple(samples[name])) for name in order]


class Outage:
    """One WARN when a sink starts failing, one INFO when it works again; ``failures`` counts the current
    outage's failed publishes (0 = healthy)."""

    def __init__(self, what: str, log: LogFn) -> None:
        self.what, self.log = what, log
        self.failures = 0

    def failed(self, why: str) -> bool:
        if not self.failures:
            self.log("WARN", f"{self.what} failing: {why} (one warning until it works again)")
        self.failures += 1
        return False

    def worked(self) -> bool:
        if self.failures:
            self.log("INFO", f"{self.what} back after {self.failures} failed")
        self.failures = 0
        return True


def _shown(url: str) -> str:
    from homeops.metrics import redact_url

    try:
        return redact_url(url)
    except ValueError:
        return "fan.pushgateway_url"


class PushSink:
    """POST to ``{url}/metrics/job/{job}/instance/{instance}`` within ``timeout``; an outage is one WARN when
    pushing starts failing and one INFO when it recovers, not a warning per iteration."""

    def __init__(self, url: str, job: str, instance: str, timeout: float, log: LogFn) -> None:
        self.url, self.job, self.instance, self.timeout = url, job, instance, timeout
        self.outage = Outage(f"push to {_shown(url)}", log)

    def publish(self, gauges: Sequence[Gauge]) -> bool:
        from homeops.metrics import push

        try:
            result = push(
                self.url,
                self.job,
                families(gauges),
                grouping={"instance": self.instance},
                method="POST",
                typed=True,
                timeout=self.timeout,
                quiet=True,  # the outage is reported here, once
            )
        except Exception as exc:  # a bad URL must not stop control
            return self.outage.failed(type(exc).__name__)
        return self.outage.worked() if result.pushed else self.outage.failed(result.error or "failed")


class TextfileSink:
    """A node-exporter ``.prom`` file, replaced atomically; one WARN per outage."""

    def __init__(self, path: str, log: LogFn) -> None:
        self.path = path
        self.outage = Outage(f"textfile {path}", log)

    def publish(self, gauges: Sequence[Gauge]) -> bool:
        from homeops.metrics import write_textfile

        try:
            write_textfile(self.path, families(gauges))
        except OSError as exc:
            return self.outage.failed(exc.strerror or type(exc).__name__)
        return self.outage.worked()


class MemorySink:
    """Keeps the last gauges (simulate, tests)."""

    def __init__(self) -> None:
        self.last: list[Gauge] = []
        self.count = 0

    def publish(self, gauges: Sequence[Gauge]) -> bool:
        self.last = list(gauges)
        self.count += 1
        return True


class MultiSink:
    """Every sink; pushed = the Pushgateway push (if any) succeeded."""

    def __init__(self, push: PushSink | None, others: Sequence[PushSink | TextfileSink | MemorySink]) -> None:
        self.push = push
        self.others = list(others)

    def publish(self, gauges: Sequence[Gauge]) -> bool:
        pushed = self.push.publish(gauges) if self.push is not None else False
        for sink in self.others:
            sink.publish(gauges)
        return pushed
