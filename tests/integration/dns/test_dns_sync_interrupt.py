"""`homeops dns sync` stopped by SIGINT (and SIGTERM) as a real process, against delayed Technitium stand-ins
and a real Pushgateway: no new call after the signal, calls in flight waited for (bounded), status 1 pushed,
exit 130, and one stderr line saying what was changed and what may have changed."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from urllib.parse import parse_qs

import pytest

from tests.cli._run import HOMEOPS, ROOT, clean_env
from tests.services.pushgateway import Pushgateway

CREATE = "/api/zones/create"


def _start(trio, dns_cli, pushgateway: Pushgateway, job: str, **settings) -> subprocess.Popen[str]:
    dns_cli.configure(trio.instances(), pushgateway=pushgateway.url, sync_job=job, concurrency=2, **settings)
    env = clean_env({"HOMEOPS_CONFIG": str(dns_cli.path), "TECH_USER": "admin", "TECH_PASS": "s3cret"})
    return subprocess.Popen(
        [str(HOMEOPS), "dns", "sync", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _when_creates_in_flight(trio, proc: subprocess.Popen[str]) -> None:
    """Wait until each replica has received a create (its answer is delayed), i.e. calls are in flight."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(r.server.seen("POST", CREATE) for r in (trio.secondary, trio.tertiary)):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError("no create reached the replicas")


def _finish(proc: subprocess.Popen[str]) -> tuple[int, dict, list[str]]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, json.loads(out), err.strip().splitlines()


def _created(trio) -> set[tuple[str, str]]:
    return {
        (r.name, params["zone"])
        for r in (trio.secondary, trio.tertiary)
        for p, params in r.writes
        if p == CREATE
    }


def _reported(doc, result: str) -> set[tuple[str, str]]:
    return {
        (a["instance"], a["zone"])
        for a in doc["actions"]
        if a["action"] == "create" and a["result"] == result
    }


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_interrupt_waits_for_calls_in_flight_then_stops(trio, dns_cli, pushgateway: Pushgateway, sig):
    job = f"dns-interrupt-{sig.name.lower()}"
    for replica in (trio.secondary, trio.tertiary):
        replica.delays[CREATE] = 0.4
    proc = _start(trio, dns_cli, pushgateway, job, interrupt_grace=10.0)
    _when_creates_in_flight(trio, proc)
    proc.send_signal(sig)
    code, doc, err = _finish(proc)

    assert code == 130, err
    assert doc["interrupted"] is True and doc["status"] == 1
    # The calls in flight were waited for: the stand-ins' writes are exactly what the report calls done.
    created = _created(trio)
    assert created and created == _reported(doc, "done")
    assert _reported(doc, "in_flight") == set()
    # No new work after the signal: most planned creates never started (5 zones x 2 replicas planned).
    assert len(created) < 10
    assert len(_reported(doc, "not_run")) == 10 - len(created)
    assert all(
        len(r.server.seen("POST", CREATE)) == len([z for n, z in created if n == r.name])
        for r in (trio.secondary, trio.tertiary)
    )
    line = err[-1]
    assert line.startswith("homeops dns: sync interrupted during apply:")
    # The primary's five zoneTransfer sets ran before the replicas' creates.
    assert f"{len(created) + 5} change(s) made" in line and "may have changed" not in line
    assert f"{10 - len(created)} planned action(s) not run" in line
    text = pushgateway.metrics_text()
    assert f'technitium_zone_sync_status{{instance="",job="{job}"}} 1' in text
    assert "technitium_zone_sync_last_success" not in "\n".join(ln for ln in text.splitlines() if job in ln)
    # Every session was still logged out.
    assert all(not s.sessions for s in trio.all)


def test_interrupt_with_no_grace_names_what_may_have_changed(trio, dns_cli, pushgateway: Pushgateway):
    job = "dns-interrupt-no-grace"
    for replica in (trio.secondary, trio.tertiary):
        replica.delays[CREATE] = 1.5
    proc = _start(trio, dns_cli, pushgateway, job, interrupt_grace=0.0)
    _when_creates_in_flight(trio, proc)
    proc.send_signal(signal.SIGINT)
    code, doc, err = _finish(proc)

    assert code == 130, err
    in_flight = _reported(doc, "in_flight")
    assert in_flight == {
        ("technitium-secondary", "10.0.10.in-addr.arpa"),
        ("technitium-tertiary", "10.0.10.in-addr.arpa"),
    }
    line = err[-1]
    assert "2 call(s) still in flight may have changed" in line
    assert "create 10.0.10.in-addr.arpa on technitium-secondary" in line
    # Exactly the creates the stand-ins had received: none is made up, none is hidden.
    received = {
        (r.name, parse_qs(req.body.decode())["zone"][0])
        for r in (trio.secondary, trio.tertiary)
        for req in r.server.seen("POST", CREATE)
    }
    assert in_flight == received
