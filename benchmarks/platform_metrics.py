"""Benchmark: homeops.metrics render + push against prometheus_client's generate_latest + push_to_gateway.

Run by hand: .venv/bin/python benchmarks/platform_metrics.py  (starts its own pushgateway on 127.0.0.1).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry, Gauge, generate_latest, push_to_gateway

from homeops.metrics import Family, Sample, push, render
from tests.services._common import free_port

SERIES = 2000


def timed(fn: Callable[[], object], runs: int = 15) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    families = [Family("bench_gauge", "h", "gauge", tuple(Sample(i, {"i": str(i)}) for i in range(SERIES)))]
    registry = CollectorRegistry()
    g = Gauge("bench_gauge", "h", ["i"], registry=registry)
    for i in range(SERIES):
        g.labels(str(i)).set(i)

    ours_render = timed(lambda: render(families))
    theirs_render = timed(lambda: generate_latest(registry))
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        proc = subprocess.Popen(
            [
                "prometheus-pushgateway",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--persistence.file={d}/p",
                "--log.level=warn",
            ]
        )
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1)
                    break
                except OSError:
                    time.sleep(0.02)
            url = f"http://127.0.0.1:{port}"
            ours_push = timed(lambda: push(url, "bench", families, grouping={"instance": "a"}))
            theirs_push = timed(
                lambda: push_to_gateway(
                    f"127.0.0.1:{port}", job="bench", registry=registry, grouping_key={"instance": "a"}
                )
            )
        finally:
            proc.terminate()
            proc.wait(10)
    print(
        f"render {SERIES} series: homeops {ours_render * 1e3:.2f} ms, prometheus_client {theirs_render * 1e3:.2f} ms, "
        f"ratio {ours_render / theirs_render:.2f}x"
    )
    print(
        f"PUT {SERIES} series: homeops {ours_push * 1e3:.2f} ms, prometheus_client {theirs_push * 1e3:.2f} ms, "
        f"ratio {ours_push / theirs_push:.2f}x"
    )


if __name__ == "__main__":
    main()
