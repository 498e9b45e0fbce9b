"""Adapter worker: the only place pyghmi is imported. Runs as ``python -m homeops.fan.ipmi_worker``; reads
its connection settings (password included) as the first JSON line on stdin, never from argv, then answers
one JSON request per line. The parent kills and respawns it on a missed deadline, which is how a silent or
restarted BMC gets a fresh session in the same daemon (spec fan.md §3.4).
"""

from __future__ import annotations

import json
import sys
from typing import Any


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


def main() -> None:
    cfg = json.loads(sys.stdin.readline() or "{}")
    try:
        from pyghmi.ipmi import command

        if cfg.get("mode") == "local":
            cmd = command.Command()
        else:
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
