"""Adapter worker: the only place pyghmi is imported. Runs as ``python -m homeops.fan.ipmi_worker``; reads
its connection settings (password included) as the first JSON line on stdin, never from argv, then answers
one JSON request per line. The parent kills and respawns it on a missed deadline, which is how a silent or
restarted BMC gets a fresh session in the same daemon (spec fan.md §3.4). LAN sessions get the reply
hand-off guard below; ``"plain_wait": true`` in the settings line turns it off (benchmarks/fan_pyghmi_load.py).
"""

from __future__ import annotations

import json
import sys
from typing import Any

# pyghmi's LAN sessions hand replies from an I/O thread to the caller, and that hand-off can lose its wake-up:
# the caller sends a request, the I/O thread grabs the reply into the session's queue *before* the caller has
# queued its waiter, and the caller then sleeps until the retry deadline (0.5-1 s) although the reply is
# already there. Idle, the caller nearly always wins that race; with the cores busy it often loses it (measured:
# up to 8.5 s for one sensor read; benchmarks/fan_pyghmi_load.py). `nice -n -15` only makes it rarer.
# The fix, without touching site-packages: a waiter first looks whether its reply is already queued, and no
# single wait lasts longer than WAIT_SLICE, so the residual window costs at most one slice. Callers of
# ``_io_wait`` re-check their state in a loop and tolerate an early return.
WAIT_SLICE = 0.05


def _reply(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def _code(rsp: dict[str, Any]) -> dict[str, Any]:
    if "error" in rsp:
        code = rsp.get("code")
        if isinstance(code, int) and 0 < code <= 0xFF:
            return {"ok": True, "code": code, "data": []}
        return {"ok": False, "error": str(rsp["error"])[:200], "unreachable": True}
    return {"ok": True, "code": int(rsp.get("code", 0)), "data": list(bytes(rsp.get("data", b"")))}


def _sensors(cmd: Any) -> dict[str, Any]:
    cmd.init_sdr()
    out = []
    for _key, sdr in cmd._sdr.sensors.items():
        rsp = cmd.raw_command(netfn=4, command=0x2D, data=(sdr.sensor_number,), rslun=sdr.sensor_lun)
        if "error" in rsp:
            if rsp.get("code") == 203:  # sensor does not exist (optional device)
                continue
            return {"ok": False, "error": f"sensor {sdr.name}: {rsp['error']}", "unreachable": False}
        reading = sdr.decode_sensor_reading(cmd, rsp["data"])
        out.append(
            {
                "name": str(sdr.name),
                "id": f"{sdr.sensor_number:02X}h",
                "entity": str(sdr.entity),
                "value": reading.value,
                "unit": str(reading.units or ""),
                "available": not reading.unavailable,
                "kind": str(reading.type or ""),
            }
        )
    return {"ok": True, "sensors": out}


def close_lost_wakeup(session_mod: Any, slice_s: float = WAIT_SLICE) -> bool:
    """Wrap pyghmi's LAN ``_io_wait`` (see WAIT_SLICE); False, and nothing changed, if its shape differs."""
    orig = getattr(session_mod, "_io_wait", None)
    queue = getattr(session_mod, "sessionqueue", None)
    handlers = getattr(getattr(session_mod, "Session", None), "bmc_handlers", None)
    if not callable(orig) or queue is None or not isinstance(handlers, dict):
        return False
    if getattr(orig, "_homeops_wrapped", False):
        return True

    def pending(myaddr: Any) -> bool:
        by_port = handlers.get(myaddr)
        return isinstance(by_port, dict) and any(getattr(s, "pktqueue", None) for s in list(by_port.values()))

    def io_wait(timeout: float, myaddr: Any = None, evq: Any = None) -> Any:
        # Only where the caller drains the queue right after (awaitresponse: process_pktqueue; _poller:
        # wait_for_rsp), so an early return can never spin. _cmdwait passes evq and keeps the plain wait.
        if evq is None and (pending(myaddr) if myaddr is not None else bool(queue)):
            return None
        return orig(min(timeout, slice_s), myaddr, evq)

    io_wait._homeops_wrapped = True  # type: ignore[attr-defined]
    session_mod._io_wait = io_wait
    return True


def main() -> None:
    cfg = json.loads(sys.stdin.readline() or "{}")
    try:
        from pyghmi.ipmi import command

        if cfg.get("mode") == "local":
            cmd = command.Command()  # in-band ioctl backend: synchronous, no I/O thread, no hand-off
        else:
            if not cfg.get("plain_wait"):
                from pyghmi.ipmi.private import session

                close_lost_wakeup(session)
            cmd = command.Command(
                bmc=cfg["host"],
                userid=cfg["user"],
                password=cfg["password"],
                port=int(cfg["port"]),
                keepalive=True,
            )
    except Exception as exc:
        _reply(
            {"ok": False, "error": f"session: {type(exc).__name__}: {str(exc)[:160]}", "unreachable": True}
        )
        return
    _reply({"ok": True, "ready": True})
    for line in sys.stdin:
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "raw":
                rsp = cmd.raw_command(
                    netfn=int(req["netfn"]), command=int(req["cmd"]), data=tuple(req["data"])
                )
                _reply(_code(rsp))
            elif op == "sensors":
                _reply(_sensors(cmd))
            else:
                _reply({"ok": False, "error": f"unknown op {op!r}", "unreachable": False})
        except Exception as exc:
            _reply({"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:160]}", "unreachable": True})
            return


if __name__ == "__main__":
    main()
