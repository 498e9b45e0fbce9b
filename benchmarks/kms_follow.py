"""Benchmark: `homeops kms watch` follow latency and outage drain (kms.md §9).

Follow latency: an activation block is appended to the log (one write, flushed and closed); the time until the
Slack stand-in (``tests/standins/slack.py``) has received the post. ``kms watch`` at ``--interval`` 0.5 and
0.05 against a shell ``tail -F | while read`` loop doing the same thing the way the original sidecar did
(remember the workstation of the block, post with one synchronous ``curl`` on the close line). A random pause
before each append samples every phase of the poll interval.

Outage drain: the stand-in stops listening (connection refused), N activations are appended and queued, the
outage lasts a while longer, then the stand-in listens again; time from recovery to the last post, against the
same N appended while Slack is up (time from the append to the last post). Production retry settings
(``slack_retry_max_delay`` 300 s), so whatever backoff step is pending at recovery is part of the figure.

Run by hand: ``.venv/bin/python benchmarks/kms_follow.py [APPENDS] [DRAIN]``; prints a Markdown section.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.standins.slack import SlackStandin  # noqa: E402

HOMEOPS = Path(sys.executable).parent / "homeops"
DEADLINE = 30.0

SHELL_LOOP = r"""
tail -F -n 0 "$LOG" 2>/dev/null | while IFS= read -r line; do
  case "$line" in
    *"Workstation name"*) ws=${line##*: } ;;
    *"connection closed: "*)
      if [ -n "$ws" ]; then
        curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' \
          --data "{\"text\": \":computer: KMS activation $ws\"}" "$HOOK"
        ws=
      fi ;;
  esac
done
"""


class TimedList(list[Any]):
    """The stand-in's ``delivered`` list, stamping each arrival with ``perf_counter``."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.perf_counter())
        super().append(item)


def block(n: int) -> str:
    ip, port, ts = f"192.168.{n // 250}.{n % 250 + 1}", 20000 + n % 40000, "2026-11-26 09:00:00"
    return (
        f"{ts}: IPv4 connection accepted: {ip}:{port}.\n"
        f"{ts}: <<< Incoming KMS request\n"
        f"{ts}: Licensing status                : 1 (Licensed)\n"
        f"{ts}: Application ID                  : 55c92734-d682-4d71-983e-d6ec3f16059f (Windows)\n"
        f"{ts}: Activation ID (Product)         : 2de67392-b7a7-462a-b1ca-108dd189f588 (Windows 10 Professional)\n"
        f"{ts}: Workstation name                : PC-{n}\n"
        f"{ts}: IPv4 connection closed: {ip}:{port}.\n"
    )


def append(log: Path, text: str) -> float:
    with log.open("a") as fh:
        fh.write(text)
        fh.flush()
    return time.perf_counter()


def wait_for(check: Any, what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.001)
    raise SystemExit(f"benchmark: not reached: {what}")


def start_watch(
    log: Path, slack: SlackStandin, interval: float, errfile: Path
) -> tuple[subprocess.Popen[bytes], int]:
    cfg = log.parent / "config.toml"
    cfg.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEOPS_")}
    env |= {"HOMEOPS_CONFIG": str(cfg), "HOMEOPS_TEST_HOOK": slack.url, "NO_COLOR": "1"}
    argv = [str(HOMEOPS), "kms", "watch", str(log), "--slack-webhook", "env:HOMEOPS_TEST_HOOK",
            "--metrics-addr", "127.0.0.1", "--metrics-port", "0", "--interval", str(interval)]  # fmt: skip
    err = errfile.open("w")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
    wait_for(lambda: "tailing " in errfile.read_text(), "kms watch started")
    port = int(re.search(r"metrics on :(\d+)", errfile.read_text()).group(1))  # type: ignore[union-attr]
    return proc, port


def start_shell(log: Path, slack: SlackStandin) -> subprocess.Popen[bytes]:
    env = dict(os.environ, LOG=str(log), HOOK=slack.url)
    proc = subprocess.Popen(["bash", "-c", SHELL_LOOP], env=env, start_new_session=True)
    time.sleep(0.5)  # let tail reach the end of the file
    return proc


def stop(proc: subprocess.Popen[bytes], group: bool = False) -> None:
    if group:
        os.killpg(proc.pid, 15)
    else:
        proc.terminate()
    proc.wait(30)


def latencies(log: Path, slack: SlackStandin, appends: int, pause: float, first: int) -> list[float]:
    out = []
    rnd = random.Random(first)
    for i in range(appends):
        time.sleep(rnd.uniform(0, pause))
        have = len(slack.delivered)
        t0 = append(log, block(first + i))
        wait_for(lambda: len(slack.delivered) > have, f"post {i}")  # noqa: B023
        out.append(slack.delivered.times[have] - t0)
    return out


def follow_case(kind: str, interval: float, appends: int, tmp: Path) -> list[float]:
    slack = SlackStandin()
    slack.delivered = TimedList()
    log = tmp / f"follow-{kind}-{interval}.log"
    log.write_text("")
    if kind == "watch":
        proc, _port = start_watch(log, slack, interval, tmp / f"watch-{interval}.err")
    else:
        proc = start_shell(log, slack)
    try:
        latencies(log, slack, 3, 0.1, 60_000)  # warm-up (first connection, imports)
        return latencies(log, slack, appends, max(interval, 0.05), 0)
    finally:
        stop(proc, group=kind != "watch")
        slack.stop()


def queue_depth(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    match = re.search(r"^kms_slack_queue_depth (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def drain_case(n: int, outage: float | None, tmp: Path) -> tuple[float, float]:
    """(seconds from the append (up) or the recovery (outage) to the first and to the last post)."""
    slack = SlackStandin()
    slack.delivered = TimedList()
    log = tmp / f"drain-{outage}.log"
    log.write_text("")
    proc, port = start_watch(log, slack, 0.05, tmp / f"drain-{outage}.err")
    try:
        if outage is None:
            t0 = append(log, "".join(block(i) for i in range(n)))
        else:
            slack.down()
            began = time.perf_counter()
            append(log, "".join(block(i) for i in range(n)))
            wait_for(lambda: queue_depth(port) >= n, "queue built")
            time.sleep(max(0.0, outage - (time.perf_counter() - began)))
            slack.up()
            t0 = time.perf_counter()
        wait_for(lambda: len(slack.delivered) >= n, "queue drained", deadline=400)
        return slack.delivered.times[0] - t0, slack.delivered.times[n - 1] - t0
    finally:
        stop(proc)
        slack.stop()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    appends = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    drain_n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    if shutil.which("curl") is None:
        raise SystemExit("benchmark: curl is needed for the shell peer")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        shell = follow_case("shell", 0.0, appends, tmp)
        watch = {iv: follow_case("watch", iv, appends, tmp) for iv in (0.5, 0.05)}
        up = drain_case(drain_n, None, tmp)
        outages = {d: drain_case(drain_n, d, tmp) for d in (5.0, 20.0)}

    sp50, sp95 = statistics.median(shell), pct(shell, 0.95)
    print(
        f"## kms follow latency and outage drain (`benchmarks/kms_follow.py`, {time.strftime('%Y-%m-%d')}, one run)\n"
    )
    print(
        f"Follow latency: {appends} appends of one activation block each (one write, flushed), time from the"
    )
    print(
        "write to the Slack stand-in receiving the post; a random pause (up to one interval) before each append."
    )
    print(
        "Peer: `tail -F -n 0 LOG | while read` in bash, posting with one `curl` on the block's close line (the"
    )
    print("original's synchronous post from the read loop; GNU tail follows with inotify here).\n")
    print("| what | p50 ms | p95 ms | p50 / interval | p95 / interval | p50 / shell p50 |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| shell `tail -F \\| while read` + curl | {sp50 * 1e3:.1f} | {sp95 * 1e3:.1f} | – | – | 1.00× |")
    for iv, values in watch.items():
        p50, p95 = statistics.median(values), pct(values, 0.95)
        print(
            f"| `kms watch --interval {iv:g}` | {p50 * 1e3:.1f} | {p95 * 1e3:.1f} | {p50 / iv:.2f} | {p95 / iv:.2f} "
            f"| {p50 / sp50:.1f}× |"
        )
    print(f"\nOutage drain: {drain_n} activations, `kms watch --interval 0.05`, production retry settings.\n")
    print("| what | to first post s | to last post s | last / Slack-up |")
    print("|---|---:|---:|---:|")
    print(f"| Slack up: from the append | {up[0]:.2f} | {up[1]:.2f} | 1.00× |")
    for d, (first, last) in outages.items():
        print(f"| {d:g} s outage (refused): from recovery | {first:.2f} | {last:.2f} | {last / up[1]:.2f}× |")


if __name__ == "__main__":
    main()
