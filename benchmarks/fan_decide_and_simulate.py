"""B2 and B3 (spec fan.md §9): `homeops fan decide --temp 70 --json` end to end against the interpreter floor
and `homeops version` (hyperfine), a check that decide imports no heavy library, and `fan simulate` speed
(24 h at 15 s = 5760 iterations). Run by hand: `.venv/bin/python benchmarks/fan_decide_and_simulate.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOMEOPS = str(ROOT / ".venv" / "bin" / "homeops")


def hyperfine() -> dict[str, float]:
    out = Path(tempfile.mkdtemp()) / "hf.json"
    cmds = [f"{sys.executable} -c pass", f"{HOMEOPS} version", f"{HOMEOPS} fan decide --temp 70 --json"]
    subprocess.run(
        ["hyperfine", "-N", "--warmup", "3", "--runs", "30", "--export-json", str(out), *cmds],
        check=True,
        capture_output=True,
    )
    results = json.loads(out.read_text())["results"]
    return {r["command"]: r["median"] * 1000 for r in results}


def heavy_imports() -> str:
    code = (
        "import sys\nfrom homeops.cli import main\nsys.argv=['homeops','fan','decide','--temp','70','--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('pyghmi','httpx','prometheus_client') if m in sys.modules])\n"
    )
    return (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )


def simulate_day() -> tuple[float, int]:
    sys.path.insert(0, str(ROOT / "src"))
    from homeops.fan.settings import Settings
    from homeops.fan.simulate import run_simulation

    t0 = time.perf_counter()
    result = run_simulation(Settings(), profile="burst", minutes=1440, interval=15)
    return time.perf_counter() - t0, result.summary["iterations"]


def main() -> None:
    medians = hyperfine()
    floor, version, decide = medians.values()
    print(
        f"B2 medians (ms): python -c pass {floor:.1f} · homeops version {version:.1f} · fan decide {decide:.1f}"
    )
    print(f"B2 decide/version = {decide / version:.2f}x (target <= 1.2x), decide <= 250 ms: {decide <= 250}")
    print(f"B2 heavy modules imported by decide: {heavy_imports()}")
    wall, iterations = simulate_day()
    print(
        f"B3 simulate 24 h at 15 s: {iterations} iterations in {wall:.2f} s = {iterations / wall:.0f} it/s (target < 2 s)"
    )


if __name__ == "__main__":
    main()
