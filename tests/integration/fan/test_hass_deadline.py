"""Every Home Assistant call has one total deadline (spec fan.md §3.5), also against a server that sends its
headers at once and then trickles the body one byte every 0.2 s: a per-phase (connect/read) timeout never
fires there, because each byte arrives well within it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from homeops.fan.hass import HaClient
from homeops.fan.ports import HaMiss

MODE = "input_select.r730_fan_mode"
GUARD = 15.0  # a hang guard only (the trickled body takes ~60 s): the deadline under test is 0.5 s


def _outcome(call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread: its result or exception; fails (instead of hanging) if it never returns."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(call())
        except Exception as exc:
            box.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(GUARD)
    assert box, "the HA call did not return: no total deadline"
    return box[0]


def test_trickled_body_is_a_miss_within_the_deadline(home_assistant) -> None:  # type: ignore[no-untyped-def]
    home_assistant.set(MODE, "quiet")
    ha = HaClient(home_assistant.url, home_assistant.token, 0.5)
    try:
        assert ha.state(MODE).state == "quiet"  # healthy first: the keep-alive connection is open
        home_assistant.fault(MODE, trickle=0.2)
        got = _outcome(lambda: ha.state(MODE))
        assert isinstance(got, HaMiss), got
        assert str(got) == "no answer within 0.5s"
        home_assistant.heal()
        assert ha.state(MODE).state == "quiet"  # the broken connection was dropped; a new one works
    finally:
        ha.close()


def test_silent_server_and_a_fresh_connection_are_bounded(home_assistant) -> None:  # type: ignore[no-untyped-def]
    home_assistant.set(MODE, "cool")
    home_assistant.fault(MODE, delay=3.0)  # no headers at all until long after the deadline
    ha = HaClient(home_assistant.url, home_assistant.token, 0.3)
    try:
        got = _outcome(lambda: ha.state(MODE))
        assert isinstance(got, HaMiss) and "within 0.3s" in str(got), got
        home_assistant.fault(MODE, trickle=0.2)  # a trickle on a brand-new connection, too
        got = _outcome(lambda: ha.state(MODE))
        assert isinstance(got, HaMiss) and "within 0.3s" in str(got), got
    finally:
        ha.close()


def test_http_errors_and_bad_json_are_misses_not_timeouts(home_assistant) -> None:  # type: ignore[no-untyped-def]
    ha = HaClient(home_assistant.url, home_assistant.token, 2.0)
    bad = HaClient(home_assistant.url, "wrong-token", 2.0)
    try:
        with pytest.raises(HaMiss, match="HTTP 404"):
            ha.state("sensor.nothing")
        with pytest.raises(HaMiss, match="HTTP 401"):
            bad.state(MODE)
        home_assistant.set(MODE, "auto")
        home_assistant.fault(MODE, body=b"<html>garbage")
        with pytest.raises(HaMiss, match="bad JSON"):
            ha.state(MODE)
        home_assistant.heal()
        st = ha.state(MODE)
        assert st.state == "auto" and st.last_changed is not None
        auth = {r.headers.get("Authorization") for r in home_assistant.server.seen("GET")}
        assert auth == {f"Bearer {home_assistant.token}", "Bearer wrong-token"}
    finally:
        ha.close()
        bad.close()


def test_controller_iteration_survives_a_trickling_mode(ipmi_sim, home_assistant) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.fan.conftest import controller

    home_assistant.set(MODE, "quiet")
    ha = HaClient(home_assistant.url, home_assistant.token, 0.5)
    ctl, bmc, _log = controller(ipmi_sim, ha=ha)
    try:
        rec = ctl.iteration()
        assert rec.effective_mode == "quiet" and rec.ha_reachable
        home_assistant.fault(MODE, trickle=0.2)
        rec = _outcome(ctl.iteration)
        assert not isinstance(rec, Exception), rec
        assert rec.effective_mode == "quiet" and not rec.ha_reachable  # the cached mode, within grace
    finally:
        bmc.close()
        ha.close()
