"""`dns tsig-check` against a real Knot DNS 3 (the spec's second TSIG server): Knot answers an unsigned update
NOTAUTH where BIND and Technitium answer REFUSED, and tsig-check must count both as refused."""

from __future__ import annotations

import base64
import secrets

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.services.bind import BindZone

LAN = "viktorbarzin.lan"


@pytest.fixture
def knot(knot_server):
    return knot_server([BindZone(LAN, "idrac A 192.168.1.4\nreal A 10.0.20.5\n")])


def _a(srv, name):
    reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=srv.port, timeout=2)
    return reply.rcode(), sorted(rd.to_text() for rrset in reply.answer for rd in rrset)


def _tsig(dns_cli, srv, *extra, secret=None):
    return dns_cli.tsig_check(srv.server, LAN, secret or srv.secret, "--json", *extra)


def test_knot_notauth_counts_as_refused_and_the_check_passes(knot, dns_cli):
    result = _tsig(dns_cli, knot)
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = dns_cli.json(result)
    assert doc["ok"] is True and doc["problems"] == [] and doc["changed"] is False
    assert doc["unsigned"] == {"rcode": "NOTAUTH", "refused": True}
    assert doc["wrong_key"]["refused"] is True
    assert doc["signed"] == {"rcode": "NOERROR", "reply_signed": True, "accepted": True}
    assert doc["visible"] == {"answers": ["10.99.99.99"], "ok": True}
    assert doc["cleanup"]["ok"] is True
    assert _a(knot, "tsig-test.viktorbarzin.lan.")[0] == dns.rcode.NXDOMAIN
    assert knot.secret not in result.stdout + result.stderr


def test_knot_wrong_secret_fails_and_leaves_nothing(knot, dns_cli):
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    result = _tsig(dns_cli, knot, secret=wrong)
    assert result.exit_code == 1
    doc = dns_cli.json(result)
    assert doc["unsigned"]["refused"] is True
    assert doc["signed"]["accepted"] is False
    assert any(p.startswith("signed_bad_key") for p in doc["problems"]), doc["problems"]
    assert _a(knot, "tsig-test.viktorbarzin.lan.")[0] == dns.rcode.NXDOMAIN


def test_knot_record_holding_real_data_is_refused(knot, dns_cli):
    result = _tsig(dns_cli, knot, "--record", "real")
    assert result.exit_code == 3
    assert _a(knot, "real.viktorbarzin.lan.") == (dns.rcode.NOERROR, ["10.0.20.5"])


def test_knot_stopped_is_exit_4(knot, dns_cli):
    knot.stop()
    assert _tsig(dns_cli, knot).exit_code == 4
