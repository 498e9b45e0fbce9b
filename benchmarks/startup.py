#!/usr/bin/env python3
"""Benchmark: start-up cost of homeops against `python3 -c pass`, measured in one run, reported as ratios.

Budgets (DESIGN §4): `--version` ≤ 2.5×, root `--help` and a completion request ≤ 6×.
Run: `.venv/bin/python benchmarks/startup.py [--runs 21]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PY = str(BIN / "python") if (BIN / "python").exists() else sys.executable
HOMEOPS = str(BIN / "homeops")

CASES: list[tuple[str, list[str], dict[str, str], float | None]] = [
    ("python3 -c pass", [PY, "-c", "pass"], {}, None),
    ("homeops --version", [HOMEOPS, "--version"], {}, 2.5),
    ("homeops --help", [HOMEOPS, "--help"], {}, 6.0),
    ("homeops fan --help", [HOMEOPS, "fan", "--help"], {}, None),
    (
        "completion: homeops fa<TAB>",
        [HOMEOPS],
        {"_HOMEOPS_COMPLETE": "complete_bash", "COMP_WORDS": "homeops fa", "COMP_CWORD": "1"},
        6.0,
    ),
]


def measure(argv: list[str], extra: dict[str, str], runs: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEOPS_")}
    env.update(extra)
    times = []
    for _ in range(runs + 2):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])  # the first two warm the page cache and .pyc files


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    results = [(name, measure(argv, extra, args.runs), budget) for name, argv, extra, budget in CASES]
    base = results[0][1]
    print("| command | median ms | ratio to `python3 -c pass` | budget |\n|---|---:|---:|---:|")
    failed = False
    for name, seconds, budget in results:
        ratio = seconds / base
        verdict = "" if budget is None else (f"≤ {budget}×" + (" ✔" if ratio <= budget else " ✘ OVER"))
        failed |= budget is not None and ratio > budget
        print(f"| `{name}` | {seconds * 1000:.1f} | {ratio:.2f}× | {verdict} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
