"""Benchmark: `homeops kms parse --json` throughput on a synthetic 1,000,000-line vlmcsd log (kms.md §9).

Peer: reading the same file line by line in Python and only testing each line with ``str.startswith``.
Run by hand: ``.venv/bin/python benchmarks/kms_parse.py [LINES]``; prints a Markdown section for RESULTS.md.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOMEOPS = Path(sys.executable).parent / "homeops"


def synthetic(path: Path, total: int) -> int:
    """Kubelet probe pairs from node IPs, legacy and current activation blocks, about 5 % interleaved."""
    rnd = random.Random(7)
    lines: list[str] = []
    port = 10000

    def ts(n: int) -> str:
        return f"2026-11-26 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}: "

    def act(ip: str, p: int, current: bool) -> list[str]:
        label = "SKU ID (aka Activation ID)      " if current else "Activation ID (Product)         "
        return [
            "<<< Incoming KMS request",
            "Licensing status                : 1 (Licensed)",
            "Application ID                  : 55c92734-d682-4d71-983e-d6ec3f16059f (Windows)",
            f"{label}: 2de67392-b7a7-462a-b1ca-108dd189f588 (Windows 10 Professional)",
            f"Workstation name                : PC-{p % 500}",
        ]

    n = 0
    while len(lines) < total:
        n += 1
        port = port + 1 if port < 60000 else 10000
        roll = rnd.random()
        stamp = ts(n)
        if roll < 0.7:
            ip = f"10.0.20.{100 + n % 5}"
            lines += [
                f"{stamp}IPv4 connection accepted: {ip}:{port}.",
                f"{stamp}IPv4 connection closed: {ip}:{port}.",
            ]
        else:
            ip = f"192.168.1.{n % 250}"
            body = [stamp + x for x in act(ip, port, roll < 0.85)]
            opened, closed = (
                f"{stamp}IPv4 connection accepted: {ip}:{port}.",
                f"{stamp}IPv4 connection closed: {ip}:{port}.",
            )
            if rnd.random() < 0.05:  # a probe inside the block
                port += 1
                probe = [f"{stamp}IPv4 connection accepted: 10.0.20.102:{port}.",
                         f"{stamp}IPv4 connection closed: 10.0.20.102:{port}."]  # fmt: skip
                body = body[:1] + probe + body[1:]
            lines += [opened, *body, closed]
    path.write_text("\n".join(lines[:total]) + "\n")
    return total


def baseline(path: Path) -> float:
    start = time.perf_counter()
    hits = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("2026"):
                hits += 1
    return time.perf_counter() - start


def homeops_parse(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(HOMEOPS), "kms", "parse", str(path), "--json"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "vlmcsd.log"
        synthetic(log, total)
        size = log.stat().st_size
        base = min(baseline(log) for _ in range(3))
        ours = homeops_parse(log)
    print(f"## kms parse throughput (`benchmarks/kms_parse.py`, {time.strftime('%Y-%m-%d')}, one run)\n")
    print(
        f"Synthetic vlmcsd log: {total:,} lines, {size / 1e6:.1f} MB (70 % kubelet probe pairs, legacy and current"
    )
    print(
        "activation blocks, 5 % of blocks with a probe interleaved). Peer: Python line loop with `str.startswith`.\n"
    )
    print("| what | seconds | lines/s | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| baseline (read + startswith) | {base:.2f} | {total / base:,.0f} | 1.00× |")
    print(
        f"| `homeops kms parse --json > /dev/null` | {ours:.2f} | {total / ours:,.0f} | {ours / base:.2f}× |"
    )
    print(f"\nAim ≤ 8×: {'met' if ours / base <= 8 else 'NOT met'}.")


if __name__ == "__main__":
    main()
