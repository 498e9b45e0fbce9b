"""pyghmi's LAN reply hand-off against ipmi_sim, with its race forced rather than waited for.

On a busy host the caller is descheduled right after sending a request; pyghmi's I/O thread then queues the
reply before the caller has registered its waiter, and the caller sleeps until the retry deadline (0.5-1 s
an exchange; 1-10 s a sensor read; benchmarks/fan_pyghmi_load.py). Here the caller is delayed after every send
instead of loading the CPUs, so each exchange takes that path. The assertions count events, not time: how often
a wait began with its reply already queued, and how often pyghmi's own wait was entered in that state.
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json, os, sys, time
from pyghmi.ipmi import command
from pyghmi.ipmi.private import session as S
from homeops.fan import ipmi_worker

port, guard = int(sys.argv[1]), sys.argv[2] == "guard"
send = S._io_sendto
def slow_sendto(*a):
    send(*a)
    time.sleep(0.02)  # the caller loses the CPU right after sending: the I/O thread queues the reply first
S._io_sendto = slow_sendto

def queued(myaddr):
    by_port = S.Session.bmc_handlers.get(myaddr) or {}
    return any(s.pktqueue for s in list(by_port.values()))

counts = {"raced": 0, "slept_on_queued_reply": 0}
plain = S._io_wait
def inner(timeout, myaddr=None, evq=None):  # pyghmi's own wait, as reached
    if myaddr is not None and evq is None and queued(myaddr):
        counts["slept_on_queued_reply"] += 1
        if not guard:
            print(json.dumps(counts)); sys.stdout.flush(); os._exit(0)  # the bug shown; no need to sleep it out
    return plain(timeout, myaddr, evq)
S._io_wait = inner
if guard:
    assert ipmi_worker.close_lost_wakeup(S)
guarded = S._io_wait
def outer(timeout, myaddr=None, evq=None):  # what awaitresponse calls
    if myaddr is not None and evq is None and queued(myaddr):
        counts["raced"] += 1
    return guarded(timeout, myaddr, evq)
S._io_wait = outer

cmd = command.Command(bmc="127.0.0.1", userid="root", password="calvin", port=port, keepalive=True)
out = ipmi_worker._sensors(cmd)
rsp = cmd.raw_command(netfn=0x30, command=0x30, data=(0x02, 0xFF, 0x1E))
counts.update(n=len(out.get("sensors", [])), oem=rsp.get("code"))
print(json.dumps(counts))
"""


def _run(port: int, mode: str) -> dict[str, int]:
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(port), mode], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr[-2000:]
    doc: dict[str, int] = json.loads(res.stdout.strip().splitlines()[-1])
    return doc


def test_plain_pyghmi_wait_sleeps_with_the_reply_already_queued(ipmi_sim) -> None:  # type: ignore[no-untyped-def]
    assert _run(ipmi_sim.lan_port, "plain")["slept_on_queued_reply"] >= 1


def test_worker_guard_never_sleeps_on_a_queued_reply(ipmi_sim) -> None:  # type: ignore[no-untyped-def]
    doc = _run(ipmi_sim.lan_port, "guard")
    assert doc["n"] >= 8 and doc["oem"] == 0
    assert doc["raced"] >= 1  # the race really happened on this run
    assert doc["slept_on_queued_reply"] == 0
    assert ipmi_sim.commands() == ["0x02 0xff 0x1e"]  # the OEM write reached the BMC once
