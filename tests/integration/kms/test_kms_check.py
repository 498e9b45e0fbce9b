"""`homeops kms check` against a real BIND 9 on 127.0.0.1 serving the kms.test zone (kms.md §8)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli._run import run_homeops
from tests.services._common import free_port
from tests.services.bind import BindZone


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener standing in for vlmcsd on port P."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock
    finally:
        sock.close()


def zone(port: int, target: str = "vlmcs.kms.test.", srv: bool = True) -> tuple[str, str]:
    records = "vlmcs A 127.0.0.1\nkms A 127.0.0.1\n"
    if srv:
        records += f"_vlmcs._tcp SRV 0 0 {port} {target}\n"
    return ("kms.test", records)


def check(server: Any, port: int, *extra: str) -> tuple[int, dict[str, Any], str]:
    res = run_homeops(
        "kms", "check", "--domain", "kms.test", "--server", server.server, "--expect-port", str(port),
        "--timeout", "1", "--json", *extra,
    )  # fmt: skip
    return res.returncode, (json.loads(res.stdout) if res.stdout.strip() else {}), res.stderr


def kinds(doc: dict[str, Any]) -> list[str]:
    return [p["kind"] for p in doc["problems"]]


def test_srv_a_and_open_port_pass(bind_server: Any, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    srv = bind_server([zone(port)])
    rc, doc, _err = check(srv, port)
    assert rc == 0, doc
    assert doc["ok"] is True
    assert doc["srv"] == [{"priority": 0, "weight": 0, "port": port, "target": "vlmcs.kms.test."}]
    assert doc["targets"][0]["addresses"] == ["127.0.0.1"]
    assert doc["targets"][0]["connect"][0]["ok"] is True
    assert doc["server"] == srv.server


def test_srv_pointing_at_the_website_is_a_problem(bind_server: Any, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    srv = bind_server([zone(port, target="kms.kms.test.")])
    rc, doc, _err = check(srv, port)
    assert rc == 1
    assert kinds(doc) == ["srv_target_mismatch"]
    assert "kms.kms.test." in doc["problems"][0]["detail"]
    assert "vlmcs.kms.test." in doc["problems"][0]["detail"]
    res = run_homeops(
        "kms", "check", "--domain", "kms.test", "--server", srv.server, "--expect-port", str(port)
    )
    assert res.returncode == 1
    assert "srv_target_mismatch" in res.stderr


def test_missing_srv_closed_port_and_dead_dns(bind_server: Any, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    srv = bind_server([zone(port, srv=False)])
    rc, doc, _err = check(srv, port)
    assert rc == 1
    assert kinds(doc) == ["srv_missing"]

    closed = free_port()
    srv.zones[0] = BindZone(*zone(closed))
    srv.restart()
    rc, doc, _err = check(srv, closed)
    assert rc == 1
    assert kinds(doc) == ["connect_failed"]
    assert "refused" in doc["problems"][0]["detail"].lower()

    rc, doc, _err = check(srv, port)  # wrong port expectation too
    assert "srv_port_mismatch" in kinds(doc)

    srv.stop()
    rc, doc, err = check(srv, closed)
    assert rc == 4
    assert err.startswith("homeops kms: DNS could not be asked")
    assert len(err.strip().splitlines()) == 1


def test_host_mode_open_and_closed(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    ok = run_homeops("kms", "check", "--host", "127.0.0.1", "--port", str(port), "--json")
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["connect"][0]["ok"] is True
    closed = free_port()
    res = run_homeops(
        "kms", "check", "--host", "127.0.0.1", "--port", str(closed), "--expect", "closed", "--json"
    )
    assert res.returncode == 0
    assert json.loads(res.stdout)["expect"] == "closed"
    bad = run_homeops(
        "kms", "check", "--host", "127.0.0.1", "--port", str(port), "--expect", "closed", "--json"
    )
    assert bad.returncode == 1
    assert kinds(json.loads(bad.stdout)) == ["unexpectedly_open"]


def test_host_mode_resolves_through_bind(bind_server: Any, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    srv = bind_server([zone(port)])
    res = run_homeops(
        "kms", "check", "--host", "vlmcs.kms.test", "--port", str(port), "--server", srv.server, "--json"
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["addresses"] == ["127.0.0.1"]
    res = run_homeops("kms", "check", "--host", "nope.kms.test", "--server", srv.server, "--json")
    assert res.returncode == 1
    assert kinds(json.loads(res.stdout)) == ["host_unresolvable"]


def test_doctor_runs_the_kms_check(bind_server: Any, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    srv = bind_server([zone(port, target="kms.kms.test.")])
    env = {"HOMEOPS_KMS__DOMAIN": "kms.test", "HOMEOPS_KMS__DNS_SERVER": srv.server,
           "HOMEOPS_KMS__EXPECT_PORT": str(port)}  # fmt: skip
    res = run_homeops("doctor", "--group", "kms", "--json", env=env)
    doc = json.loads(res.stdout)
    (group,) = doc["groups"]
    assert group["status"] == "fail"
    assert "srv_target_mismatch" in group["checks"][0]["message"]
    assert res.returncode == 1
    srv.zones[0] = BindZone(*zone(port))
    srv.restart()
    res = run_homeops("doctor", "--group", "kms", "--json", env=env)
    assert res.returncode == 0, res.stdout
    assert json.loads(res.stdout)["groups"][0]["status"] == "ok"
