"""`dns tsig-check` and `dns fallback-check` against a real BIND 9 on loopback."""

from __future__ import annotations

import base64
import secrets

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.services.bind import BindZone

LAN = "viktorbarzin.lan"
ZONES = [
    BindZone(
        LAN,
        "idrac A 192.168.1.4\nreal A 10.0.20.5\n",
        "update-policy { grant kea-ddns. wildcard *.viktorbarzin.lan. ANY; };",
    ),
    BindZone("20.0.10.in-addr.arpa", "", "allow-update { !{ !127.0.0.1; any; }; key kea-ddns; };"),
    BindZone("open.test", "", "allow-update { 127.0.0.1; };"),
]


@pytest.fixture
def named(bind_server):
    return bind_server(ZONES)


def _a(srv, name):
    reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=srv.port, timeout=2)
    return reply.rcode(), sorted(rd.to_text() for rrset in reply.answer for rd in rrset)


def _tsig(dns_cli, srv, zone, *extra, secret=None, timeout=1.0):
    return dns_cli.tsig_check(srv.server, zone, secret or srv.keys["kea-ddns"], *extra, timeout=timeout)


def test_tsig_only_zone_passes_and_is_left_clean(named, dns_cli):
    result = _tsig(dns_cli, named, LAN, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = dns_cli.json(result)
    assert doc["ok"] is True and doc["problems"] == [] and doc["changed"] is False
    assert doc["unsigned"] == {"rcode": "REFUSED", "refused": True}
    assert doc["wrong_key"]["refused"] is True and doc["wrong_key"]["result"] == "bad_signature"
    assert doc["signed"] == {"rcode": "NOERROR", "reply_signed": True, "accepted": True}
    assert doc["visible"] == {"answers": ["10.99.99.99"], "ok": True}
    assert doc["cleanup"]["ok"] is True
    assert _a(named, "tsig-test.viktorbarzin.lan.")[0] == dns.rcode.NXDOMAIN
    assert named.keys["kea-ddns"] not in result.stdout + result.stderr


def test_ip_and_key_reverse_zone_passes(named, dns_cli):
    assert _tsig(dns_cli, named, "20.0.10.in-addr.arpa", "--record", "250").exit_code == 0


def test_zone_taking_unsigned_updates_fails_saying_so(named, dns_cli):
    result = _tsig(dns_cli, named, "open.test", "--json")
    assert result.exit_code == 1
    doc = dns_cli.json(result)
    assert any(p.startswith("unsigned_accepted") for p in doc["problems"])
    assert "unsigned_accepted" in result.stderr
    assert _a(named, "tsig-test.open.test.")[0] == dns.rcode.NXDOMAIN  # cleaned up


def test_wrong_secret_fails(named, dns_cli):
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    result = _tsig(dns_cli, named, LAN, "--json", secret=wrong)
    assert result.exit_code == 1
    doc = dns_cli.json(result)
    assert any(p.startswith("signed_bad_key") for p in doc["problems"])
    assert wrong not in result.stdout + result.stderr
    assert _a(named, "tsig-test.viktorbarzin.lan.")[0] == dns.rcode.NXDOMAIN


def test_record_holding_real_data_is_refused(named, dns_cli):
    result = _tsig(dns_cli, named, LAN, "--record", "real")
    assert result.exit_code == 3
    assert "real holds real data (10.0.20.5); choose --record" in result.stderr
    assert _a(named, "real.viktorbarzin.lan.")[1] == ["10.0.20.5"]


def test_bind_stopped_exits_4(named, dns_cli):
    named.stop()
    result = _tsig(dns_cli, named, LAN, timeout=0.3)
    assert result.exit_code == 4
    assert "did not answer" in result.stderr


def test_bad_secret_and_apex_are_usage_errors(named, dns_cli):
    assert _tsig(dns_cli, named, LAN, secret="not base64!!").exit_code == 2
    assert _tsig(dns_cli, named, LAN, "--record", "@").exit_code == 2
    result = dns_cli.run("tsig-check", "--server", named.server, "--zone", LAN, "--secret", "literal-value")
    assert result.exit_code == 2 and "literal-value" not in result.stderr


def test_dry_run_sends_nothing(named, dns_cli):
    named.stop()  # nothing may be sent: a stopped server proves it
    result = _tsig(dns_cli, named, LAN, "--dry-run", "--json")
    assert result.exit_code == 0
    doc = dns_cli.json(result)
    assert doc["dry_run"] is True and doc["changed"] is False
    assert [a["verb"] for a in doc["actions"]][:2] == ["query", "update-unsigned"]


# --- fallback-check ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lan_bind(bind_server_session):
    return bind_server_session([("example.org", "www A 93.184.216.34\n")], keys={})


def test_silent_primary_answered_by_fallback(lan_bind, silent_dns, dns_cli):
    dns_cli.configure([{"name": "p", "role": "primary", "api_url": "http://127.0.0.1:1"}])
    result = dns_cli.run(
        "fallback-check",
        "--name",
        "www.example.org",
        "--primary",
        silent_dns.address,
        "--fallback",
        lan_bind.server,
        "--timeout",
        "0.3",
        "--lifetime",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = dns_cli.json(result)
    assert doc["primary"]["status"] == "timeout" and doc["primary_down"] is True
    assert doc["chain"]["answered_by"] == lan_bind.server and doc["chain"]["answers"] == ["93.184.216.34"]
    assert doc["fallback"]["status"] == "answered"
    assert doc["chain"]["ms"] < 2000  # within the configured lifetime (a result field, not a timing assert)


def test_dead_fallback_fails(lan_bind, silent_dns, dns_cli):
    dns_cli.configure([{"name": "p", "role": "primary", "api_url": "http://127.0.0.1:1"}])
    result = dns_cli.run(
        "fallback-check",
        "--name",
        "www.example.org",
        "--primary",
        lan_bind.server,
        "--fallback",
        silent_dns.address,
        "--timeout",
        "0.2",
        "--lifetime",
        "1",
        "--json",
    )
    assert result.exit_code == 1
    doc = dns_cli.json(result)
    assert doc["chain"]["status"] == "answered" and doc["fallback"]["status"] == "timeout"
    assert "the fallback alone cannot answer" in result.stderr


def test_from_resolv_conf(lan_bind, silent_dns, dns_cli, tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        f"# test\nnameserver {silent_dns.address}\nnameserver {lan_bind.server}\noptions timeout:1 attempts:2\n"
    )
    dns_cli.configure([{"name": "p", "role": "primary", "api_url": "http://127.0.0.1:1"}])
    result = dns_cli.run(
        "fallback-check", "--name", "www.example.org", "--from-resolv-conf", str(conf), "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert dns_cli.json(result)["timeout"] == 1.0


def test_fallback_bad_input(dns_cli, tmp_path):
    dns_cli.configure([{"name": "p", "role": "primary", "api_url": "http://127.0.0.1:1"}])
    assert dns_cli.run("fallback-check", "--name", "x", "--primary", "1.2.3.4").exit_code == 2
    assert (
        dns_cli.run("fallback-check", "--name", "x", "--primary", "host", "--fallback", "1.1.1.1").exit_code
        == 2
    )
    assert (
        dns_cli.run("fallback-check", "--name", "x", "--from-resolv-conf", str(tmp_path / "none")).exit_code
        == 2
    )
