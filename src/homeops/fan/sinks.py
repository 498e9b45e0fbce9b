"""Adapter: where each iteration's ``pve_fan_control_*`` gauges go: the Pushgateway (POST, job
``fan_control``, instance ``pve-r730``), a node-exporter textfile, or memory (simulate, tests). Never raises;
one WARN per outage.
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


class PushSink:
    """POST to ``{url}/metrics/job/{job}/instance/{instance}`` within ``timeout``."""

    def __init__(self, url: str, job: str, instance: str, timeout: float, log: LogFn) -> None:
        self.url, self.job, self.instance, self.timeout, self.log = url, job, instance, timeout, log
        self.down = False

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
            )
            ok = result.pushed
        except Exception as exc:  # a bad URL must not stop control
            ok = False
            self.log("WARN", f"push failed: {type(exc).__name__}")
        if ok and self.down:
            self.log("INFO", "push back")
        self.down = not ok
        return ok


class TextfileSink:
    """A node-exporter ``.prom`` file, replaced atomically."""

    def __init__(self, path: str, log: LogFn) -> None:
        self.path, self.log = path, log
        self.down = False

    def publish(self, gauges: Sequence[Gauge]) -> bool:
        from homeops.metrics import write_textfile

        try:
            write_textfile(self.path, families(gauges))
        except OSError as exc:
            if not self.down:
                self.log("WARN", f"textfile {self.path} not written: {exc.strerror}")
            self.down = True
            return False
        self.down = False
        return True


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
