"""B1 (spec fan.md §9): CPU per iteration and RSS of `homeops fan run --bmc lan` against a loop built the way
the original was (per iteration: 2 ipmitool, 3 curl, date, grep/sed; fork per call), both pointed at the same
ipmi_sim, Home Assistant stand-in and pushgateway. Run by hand: `.venv/bin/python benchmarks/fan_daemon_vs_legacy.py`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services.ipmi_sim import FIXTURES, IpmiSim  # noqa: E402
from tests.services.pushgateway import start_pushgateway  # noqa: E402
from tests.standins._http import StandinServer  # noqa: E402
from tests.standins.home_assistant import HomeAssistant  # noqa: E402

ITERATIONS = 60
WARMUP = 5
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MODE = "input_select.r730_fan_mode"

LEGACY = r"""#!/bin/bash
# Shaped like the original fork-per-call loop (not a copy): per iteration 2 ipmitool, 3 curl, date, grep/sed.
set -u
while true; do
  now=$(date +%s)
  temp=$($IPMITOOL sdr type temperature | grep -m1 '^Temp' | sed -E 's/.*\| ([0-9]+) degrees C.*/\1/')
  mode=$(curl -s -m 5 -H "Authorization: Bearer $HA_TOKEN" "$HA_URL/api/states/input_select.r730_fan_mode" | sed -E 's/.*"state": *"([^"]*)".*/\1/')
  door=$(curl -s -m 5 -H "Authorization: Bearer $HA_TOKEN" "$HA_URL/api/states/sensor.garage_door_state_bg" | sed -E 's/.*"state": *"([^"]*)".*/\1/')
  pct=51
  $IPMITOOL raw 0x30 0x30 0x02 0xff 0x33 >/dev/null
  printf 'pve_fan_control_cpu_temp_celsius %s\npve_fan_control_fan_percent %s\n' "$temp" "$pct" \
    | curl -s -m 5 --data-binary @- "$PUSHGATEWAY_URL/metrics/job/fan_control_legacy/instance/pve-r730" >/dev/null
  sleep "$LOOP_INTERVAL"
done
"""


def tree(pid: int) -> list[int]:
    out = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) in out and int(entry.name) not in out:
                out.append(int(entry.name))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


def measure(cmd: list[str], env: dict[str, str], ha: HomeAssistant) -> dict[str, float]:
    start_gets = ha.gets(MODE)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[int] = []
    peak_cpu = 0.0
    done = threading.Event()

    def sampler() -> None:
        nonlocal peak_cpu
        while not done.is_set():
            pids = tree(proc.pid)
            samples.append(rss_bytes(pids))
            peak_cpu = max(peak_cpu, cpu_seconds(pids))
            time.sleep(0.01)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    # Steady state: skip the first WARMUP iterations (interpreter start, imports, first session), then
    # count CPU over the next ITERATIONS.
    while ha.gets(MODE) - start_gets < WARMUP and proc.poll() is None:
        time.sleep(0.01)
    first = ha.gets(MODE)
    base_cpu = cpu_seconds(tree(proc.pid))
    startup_cpu = base_cpu
    while ha.gets(MODE) - first < ITERATIONS and proc.poll() is None:
        time.sleep(0.05)
    iterations = ha.gets(MODE) - first
    final = cpu_seconds(tree(proc.pid)) - base_cpu
    done.set()
    thread.join()
    proc.terminate()
    proc.wait(20)
    cpu = final
    return {
        "iterations": iterations,
        "startup_cpu_s": round(startup_cpu, 2),
        "cpu_ms_per_iteration": round(1000 * cpu / max(1, iterations), 2),
        "rss_peak_mb": max(samples) / 2**20,
        "rss_median_mb": statistics.median(samples) / 2**20,
    }


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="homeops-bench-fan-"))
    plugin = work / "dellfan.so"
    subprocess.run(
        ["gcc", "-Wall", "-shared", "-fPIC", "-o", str(plugin), str(FIXTURES / "dellfan.c"), "-lIPMIlanserv"],
        check=True,
    )
    (work / "sim").mkdir()
    sim = IpmiSim(work / "sim", plugin, shutil.which("ipmi_sim") or "/usr/bin/ipmi_sim").start()
    sim.wait_cpu_polled()
    holder: list[HomeAssistant] = []
    server = StandinServer(lambda req: holder[0].handle(req))
    ha = HomeAssistant(server)
    holder.append(ha)
    server.start()
    ha.set(MODE, "auto")
    ha.set("sensor.garage_door_state_bg", "Затворена")
    (work / "pgw").mkdir()
    pgw_proc, pgw = start_pushgateway(work / "pgw")
    try:
        wrapper = work / "ipmitool"
        wrapper.write_text(
            f'#!/bin/sh\nexec ipmitool -I lanplus -H 127.0.0.1 -p {sim.lan_port} -U root -P calvin -C 3 "$@"\n'
        )
        wrapper.chmod(0o755)
        legacy = work / "legacy-loop.sh"
        legacy.write_text(LEGACY)
        legacy.chmod(0o755)
        base = {k: v for k, v in os.environ.items() if not k.startswith("HOMEOPS_")}
        legacy_env = {
            **base,
            "IPMITOOL": str(wrapper),
            "HA_URL": ha.url,
            "HA_TOKEN": ha.token,
            "PUSHGATEWAY_URL": pgw.url,
            "LOOP_INTERVAL": "1",
        }
        cfg = work / "config.toml"
        cfg.write_text(
            f'[fan]\nbmc = "lan"\nbmc_port = {sim.lan_port}\nbmc_password = "env:BENCH_BMC_PW"\nloop_interval = 1.0\n'
            f'ha_url = "{ha.url}"\nha_token = "env:BENCH_HA_TOKEN"\npushgateway_url = "{pgw.url}"\n'
            f'runtime_dir = "{work / "run"}"\npresence_interval = 0\n'
        )
        ours_env = {**base, "HOMEOPS_CONFIG": str(cfg), "BENCH_BMC_PW": "calvin", "BENCH_HA_TOKEN": ha.token}
        old = measure(["/bin/bash", str(legacy)], legacy_env, ha)
        new = measure([sys.executable, "-m", "homeops", "fan", "run"], ours_env, ha)
    finally:
        sim.stop()
        server.stop()
        pgw_proc.terminate()
        pgw_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    ratio = old["cpu_ms_per_iteration"] / max(new["cpu_ms_per_iteration"], 1e-9)
    print(f"legacy fork-per-call: {old}")
    print(f"homeops fan run:      {new}")
    print(f"CPU ratio legacy/homeops: {ratio:.1f}x (target >= 10x, fail < 5x)")
    print(f"RSS ratio homeops/legacy (median): {new['rss_median_mb'] / max(old['rss_median_mb'], 1e-9):.1f}x")


if __name__ == "__main__":
    main()
