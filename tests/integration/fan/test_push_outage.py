"""A Pushgateway outage is one WARN when pushing starts failing and one INFO when it recovers, not a warning
per iteration (spec fan.md §5 "one WARN line per outage"); control goes on and ``pushed`` tells the truth."""

from __future__ import annotations

import dataclasses
import socket

from homeops.fan.runtime import Log
from homeops.fan.service import Controller
from homeops.fan.settings import Settings
from homeops.fan.sinks import MultiSink, PushSink
from tests.services._common import free_port
from tests.standins._http import Request, Response, serving
from tests.unit.fan.fakes import FakeBmc, FakeClock


def _controller(url: str) -> tuple[Controller, Log]:
    settings = dataclasses.replace(Settings(), push_timeout=1.0)
    log = Log(quiet=True)
    sink = MultiSink(PushSink(url, "fan_control", "it-outage", 1.0, log), [])
    return Controller(settings, FakeBmc(60), None, FakeClock(), sink, log), log


def _pushes(log: Log) -> list[str]:
    return [f"{level} {msg}" for level, msg in log.lines if "push" in msg]


def test_gateway_erroring_then_back(capsys) -> None:  # type: ignore[no-untyped-def]
    bodies: list[bytes] = []

    def gateway(req: Request) -> Response:
        bodies.append(req.body)
        return Response(200)

    with serving(gateway) as server:
        ctl, log = _controller(server.url)
        assert ctl.iteration().pushed and _pushes(log) == []
        server.forced = Response.text("service unavailable", 503)
        pushed = [ctl.iteration().pushed for _ in range(5)]
        assert pushed == [False] * 5
        server.forced = None
        assert ctl.iteration().pushed and ctl.iteration().pushed
    assert _pushes(log) == [
        f"WARN push to {server.url} failing: HTTP 503: service unavailable (one warning until it works again)",
        f"INFO push to {server.url} back after 5 failed",
    ]
    assert b"pve_fan_control_fan_percent 51" in bodies[-1]
    assert "metrics push" not in capsys.readouterr().err  # the shared module's per-call warning is off


def test_nothing_listening_warns_once(capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    ctl, log = _controller(url)
    records = [ctl.iteration() for _ in range(4)]
    assert [r.pushed for r in records] == [False] * 4
    assert [r.applied_percent for r in records] == [51] * 4  # control goes on
    assert len(_pushes(log)) == 1 and "ConnectError" in _pushes(log)[0]
    assert "metrics push" not in capsys.readouterr().err
