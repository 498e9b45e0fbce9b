"""Benchmark (specs/dns.md §9): parity, gate (steps 2–4) and sync wall time, concurrent against sequential.

Run by hand: ``.venv/bin/python benchmarks/dns_parity_gate_sync.py`` (needs `named`). Prints a Markdown section.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeops.dns.checks import run_parity
from homeops.dns.gate import run_gate
from homeops.dns.service import Runtime
from homeops.dns.settings import Instance, Settings
from homeops.dns.sync import run_sync
from homeops.settings import Secret
from tests.integration.dns.conftest import UdpRelay
from tests.services.bind import start_bind
from tests.standins.technitium import TechnitiumStandin

os.environ.setdefault("TECH_USER", "admin")
os.environ.setdefault("TECH_PASS", "s3cret")
LAN = "idrac A 192.168.1.4\n_vlmcs._tcp SRV 0 0 1688 vlmcs.viktorbarzin.lan.\n"


def settings(instances: list[Instance], concurrency: int, **kw: object) -> Settings:
    base: dict[str, object] = {
        "instances": instances,
        "concurrency": concurrency,
        "primary_transfer_address": "10.96.0.53",
        "username": Secret(("env:TECH_USER",)),
        "password": Secret(("env:TECH_PASS",)),
        "gate_answer_interval": 0.01,
        "gate_api_interval": 0.01,
        "dns_timeout": 2.0,
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    bind = start_bind([("viktorbarzin.lan", LAN)], keys={})
    rows: list[str] = []
    try:
        # --- parity: N relays with 50 ms each -----------------------------------------------------------
        for n in (3, 10):
            relays = [UdpRelay(("127.0.0.1", bind.port), delay=0.05) for _ in range(n)]
            insts = [
                Instance(f"i{i}", "primary" if i == 0 else "replica", "http://127.0.0.1:1", dns=r.address)
                for i, r in enumerate(relays)
            ]
            walls = {}
            for conc in (n, 1):
                rt = Runtime(settings(insts, conc))
                report = run_parity(rt, "idrac.viktorbarzin.lan", "A", allow_empty=False)
                assert report.ok, report.problems()
                walls[conc] = timed(
                    lambda rt=rt: run_parity(rt, "idrac.viktorbarzin.lan", "A", allow_empty=False)
                )
            rows.append(
                f"| parity, N={n} (50 ms relays) | {walls[n]:.3f} | {walls[1]:.3f} | {walls[1] / walls[n]:.1f}× |"
            )
            for r in relays:
                r.close()

        # --- gate steps 2–4: N stand-in APIs at 100 ms per request, plus the relays -------------------------
        for n, hung in ((3, False), (10, False), (3, True)):
            standins = [TechnitiumStandin(f"i{i}") for i in range(n)]
            for s in standins:
                s.add_primary_zone("viktorbarzin.lan")
                s.server.delay = 0.1
                s.server.start()
            if hung:
                standins[-1].delays["/api/dashboard/stats/get"] = 3.0
            relays = [UdpRelay(("127.0.0.1", bind.port), delay=0.05) for _ in range(n)]
            insts = [
                Instance(f"i{i}", "primary" if i == 0 else "replica", s.url, dns=r.address)
                for i, (s, r) in enumerate(zip(standins, relays, strict=True))
            ]
            walls = {}
            warm = Runtime(settings(insts, n, api_timeout=1.0, gate_api_tries=1))
            run_gate(warm, no_k8s=True, serials=False)  # warm-up: imports, first connections
            warm.close()
            for conc in (n, 1):
                rt = Runtime(settings(insts, conc, api_timeout=1.0, gate_api_tries=1))
                walls[conc] = timed(lambda rt=rt: run_gate(rt, no_k8s=True, serials=False))
                rt.close()
            label = f"gate steps 2–4, N={n} (100 ms API, 50 ms DNS)" + (
                ", one API hung (1 s timeout)" if hung else ""
            )
            rows.append(f"| {label} | {walls[n]:.3f} | {walls[1]:.3f} | {walls[1] / walls[n]:.1f}× |")
            for s in standins:
                s.server.stop()
            for r in relays:
                r.close()

        # --- sync: 50 zones × 2 replicas, 20 ms per call ------------------------------------------------
        walls = {}
        calls = {}
        for conc in (2, 1):
            primary = TechnitiumStandin("primary")
            for z in range(50):
                primary.add_primary_zone(f"z{z}.lan", zone_transfer="Allow")
            replicas = [TechnitiumStandin(f"r{i}", upstream=primary) for i in range(2)]
            for s in (primary, *replicas):
                s.server.delay = 0.02
                s.server.start()
            insts = [Instance("primary", "primary", primary.url)] + [
                Instance(r.name, "replica", r.url) for r in replicas
            ]
            rt = Runtime(settings(insts, conc))
            with open(os.devnull, "w") as quiet:
                saved, sys.stderr = sys.stderr, quiet  # the NEW: lines
                try:
                    walls[conc] = timed(lambda rt=rt: run_sync(rt, dry_run=False, delete_stale=False))
                finally:
                    sys.stderr = saved
            rt.close()
            calls[conc] = sum(len(s.server.requests) for s in (primary, *replicas))
            for s in (primary, *replicas):
                s.server.stop()
        rows.append(
            f"| sync, 50 zones × 2 replicas, first run (20 ms per call, {calls[2]} calls) | {walls[2]:.3f} "
            f"| {walls[1]:.3f} | {walls[1] / walls[2]:.1f}× |"
        )
    finally:
        bind.remove()
    print("| what | concurrent s | sequential s (concurrency 1) | sequential/concurrent |")
    print("|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
