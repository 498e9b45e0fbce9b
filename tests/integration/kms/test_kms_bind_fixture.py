"""The shared BIND fixture itself: zones, SRV answers, TSIG-signed updates, restart with new zones."""

import dns.message
import dns.query
import dns.rcode
import dns.resolver
import dns.tsigkeyring
import dns.update

from tests.services.bind import BindZone


def test_bind(bind_server):
    srv = bind_server(
        [
            ("kms.test", "vlmcs A 127.0.0.1\n_vlmcs._tcp SRV 0 0 1688 vlmcs.kms.test.\n"),
            BindZone(
                "viktorbarzin.lan",
                "vlmcs A 10.0.20.202\n",
                "update-policy { grant kea-ddns. wildcard *.viktorbarzin.lan. ANY; };",
            ),
            ("20.0.10.in-addr.arpa", "", "allow-update { !{ !127.0.0.1; any; }; key kea-ddns; };"),
        ]
    )
    q = dns.message.make_query("_vlmcs._tcp.kms.test.", "SRV")
    r = dns.query.udp(q, "127.0.0.1", port=srv.port, timeout=2)
    assert "1688" in r.to_text()
    kr = dns.tsigkeyring.from_text(srv.keyring())
    u = dns.update.UpdateMessage("viktorbarzin.lan", keyring=kr, keyalgorithm="hmac-sha256")
    u.replace("tsig-test", 300, "A", "10.99.99.99")
    r = dns.query.tcp(u, "127.0.0.1", port=srv.port, timeout=2)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.had_tsig
    u = dns.update.UpdateMessage("viktorbarzin.lan")
    u.replace("tsig-test2", 300, "A", "10.99.99.99")
    r = dns.query.tcp(u, "127.0.0.1", port=srv.port, timeout=2)
    assert r.rcode() == dns.rcode.REFUSED
    srv.stop()
    srv.zones[0] = BindZone("kms.test", "vlmcs A 127.0.0.1\n")
    srv.restart()
    r = dns.query.udp(
        dns.message.make_query("_vlmcs._tcp.kms.test.", "SRV"), "127.0.0.1", port=srv.port, timeout=2
    )
    assert r.rcode() == dns.rcode.NXDOMAIN
