"""pyghmi LAN latency against ipmi_sim, idle vs two CPU burners (`sh -c 'while :; do :; done'` x2).

Per run, through the real adapter (``IpmiBmc``: a fresh worker process): session set-up (spawn, import, RMCP+
login), one full sensor read, one raw Dell OEM command (``0x30 0x30 0x02 0xff 0x1e``). Each cell is measured with
pyghmi's plain reply wait ("before") and with the worker's lost-wake-up guard ("after"), plus ``ipmitool -I
lanplus -C 3`` for the same reads. ``--diagnose`` also runs pyghmi in-process with its waits traced: a wait
of >= 40 ms on loopback with no retransmission is a lost wake-up (the reply had already been queued; before
the fix such a wait lasts its whole retry deadline, 0.5-1 s; after it, at most one 50 ms slice).
Loopback only; every call has a deadline and the whole run is bounded (~2-3 min). Run by hand:
``.venv/bin/python benchmarks/fan_pyghmi_load.py [--runs 5] [--diagnose]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from homeops.fan.ipmi import IpmiBmc  # noqa: E402
from tests.services.ipmi_sim import FIXTURES, IpmiSim  # noqa: E402

CELL_BUDGET = 45.0  # seconds per (load, variant) cell: later runs are dropped, not waited for
CALL_DEADLINE = 30.0

DIAG = r"""
import json, sys, time
t0 = time.monotonic()
from pyghmi.ipmi import command
from pyghmi.ipmi.private import session as S
from homeops.fan import ipmi_worker
if sys.argv[2] == "after":
    ipmi_worker.close_lost_wakeup(S)
retx, lost = [], []
orig_to, orig_wait = S.Session._timedout, S._io_wait
def timedout(self):
    retx.append(round(time.monotonic() - t0, 3))
    return orig_to(self)
def io_wait(timeout, myaddr=None, evq=None):
    a = time.monotonic(); r = orig_wait(timeout, myaddr, evq); d = time.monotonic() - a
    if timeout > 0.04 and d >= 0.04:
        lost.append(round(d, 3))
    return r
S.Session._timedout = timedout
S._io_wait = io_wait
cmd = command.Command(bmc="127.0.0.1", userid="root", password="calvin", port=int(sys.argv[1]), keepalive=True)
t1 = time.monotonic()
out = ipmi_worker._sensors(cmd)
t2 = time.monotonic()
print(json.dumps({"session": t1 - t0, "sensors": t2 - t1, "n": len(out.get("sensors", [])),
                  "stalled_waits": lost, "retransmits": retx}))
"""


def adapter_run(port: int, variant: str) -> dict[str, float]:
    bmc = IpmiBmc(mode="lan", port=port, user="root", password="calvin", timeout=CALL_DEADLINE)
    if variant == "before":
        bmc._cfg["plain_wait"] = True
    try:
        t0 = time.monotonic()
        bmc._spawn(t0 + CALL_DEADLINE)
        t1 = time.monotonic()
        sensors = bmc.sensors()
        t2 = time.monotonic()
        code = bmc.oem([0x02, 0xFF, 0x1E])
        t3 = time.monotonic()
    finally:
        bmc.close()
    assert len(sensors) >= 8 and code == 0, (len(sensors), code)
    return {"setup": t1 - t0, "sensors": t2 - t1, "oem": t3 - t2, "total": t3 - t0}


def ipmitool_run(port: int) -> dict[str, float]:
    base = ["ipmitool", "-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", str(port), "-U", "root"]
    env = {"IPMI_PASSWORD": "calvin", "PATH": "/usr/bin:/bin:/usr/sbin"}
    t0 = time.monotonic()
    subprocess.run([*base, "-E", "sdr"], env=env, capture_output=True, check=True, timeout=CALL_DEADLINE)
    t1 = time.monotonic()
    subprocess.run(
        [*base, "-E", "raw", "0x30", "0x30", "0x02", "0xff", "0x1e"],
        env=env,
        capture_output=True,
        check=True,
        timeout=CALL_DEADLINE,
    )
    t2 = time.monotonic()
    return {"sensors": t1 - t0, "oem": t2 - t1, "total": t2 - t0}


def cell(name: str, runs: int, fn: object) -> list[dict[str, float]]:
    out: list[dict[str, float]] = []
    start = time.monotonic()
    for _ in range(runs):
        if time.monotonic() - start > CELL_BUDGET:
            break
        out.append(fn())  # type: ignore[operator]
    return out


def fmt(rows: list[dict[str, float]], key: str) -> str:
    vals = [r[key] for r in rows if key in r]
    if not vals:
        return "-"
    return f"{statistics.median(vals):.3f} ({min(vals):.3f}–{max(vals):.3f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--diagnose", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fan-pyghmi-load-"))
    plugin = work / "dellfan.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(plugin), str(FIXTURES / "dellfan.c"), "-lIPMIlanserv"],
        check=True,
    )
    (work / "sim").mkdir()
    sim = IpmiSim(work / "sim", plugin, shutil.which("ipmi_sim") or "/usr/bin/ipmi_sim").start()
    burners: list[subprocess.Popen[bytes]] = []
    table: list[str] = []
    try:
        IpmiBmc(mode="lan", port=sim.lan_port, user="root", password="calvin", timeout=10).close()
        for load in (0, 2):
            burners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(load)]
            label = "idle" if load == 0 else "2 burners"
            for variant in ("before", "after"):
                rows = cell(variant, args.runs, lambda v=variant: adapter_run(sim.lan_port, v))
                table.append(
                    f"| {label} | pyghmi {variant} | {len(rows)} | {fmt(rows, 'setup')} | {fmt(rows, 'sensors')} "
                    f"| {fmt(rows, 'oem')} | {fmt(rows, 'total')} |"
                )
                print(table[-1], flush=True)
            rows = cell("ipmitool", args.runs, lambda: ipmitool_run(sim.lan_port))
            table.append(
                f"| {label} | ipmitool -C 3 | {len(rows)} | - | {fmt(rows, 'sensors')} | {fmt(rows, 'oem')} "
                f"| {fmt(rows, 'total')} |"
            )
            print(table[-1], flush=True)
            if args.diagnose:
                for variant in ("before", "after"):
                    for _ in range(3):
                        r = subprocess.run(
                            [sys.executable, "-c", DIAG, str(sim.lan_port), variant],
                            capture_output=True,
                            text=True,
                            timeout=60,
                            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
                        )
                        doc = json.loads(r.stdout) if r.stdout.strip() else {"error": r.stderr[-300:]}
                        print(f"diagnose {label} {variant}: {json.dumps(doc)}", flush=True)
            for b in burners:
                b.kill()
                b.wait()
            burners = []
    finally:
        for b in burners:
            b.kill()
            b.wait()
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\n| load | client | runs | set-up s | sensors s | OEM raw s | total s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(table))
    print("\nmedian (min–max) seconds")


if __name__ == "__main__":
    main()
