"""`homeops dns sync` against 1 primary + 2 replica Technitium stand-ins and a real Pushgateway."""

from __future__ import annotations

import urllib.request

from tests.services._common import free_port
from tests.services.pushgateway import Pushgateway

JOB = "technitium-zone-sync"


def _counts(trio):
    return {s.name: len(s.counted()) for s in trio.all}


def test_first_run_creates_everything_and_sets_zone_transfer(trio, dns_cli):
    dns_cli.configure(trio.instances())
    result = dns_cli.run("sync", "--json")
    assert result.exit_code == 0, result.stderr
    doc = dns_cli.json(result)
    assert doc["status"] == 0 and doc["failures"] == 0
    assert doc["created"] == 10 and doc["changed"] is True
    assert doc["primary"] == {"name": "primary", "zone_count": 5}
    assert [r["zone_count"] for r in doc["replicas"]] == [5, 5]
    assert _counts(trio) == {"primary": 5, "technitium-secondary": 5, "technitium-tertiary": 5}
    # The primary's Primary zones now allow transfers; nothing else was written there.
    assert {p for p in trio.primary.write_paths()} == {"/api/zones/options/set"}
    assert all(
        o["zoneTransfer"] == "Allow" for n, o in trio.primary.options.items() if n in trio.primary.counted()
    )
    # Replicas: Secondary zones pointing at the transfer address, with the primary's serial.
    zone = trio.secondary.zones["viktorbarzin.lan"]
    assert zone["type"] == "Secondary" and zone["soaSerial"] == 2026081500
    assert trio.secondary.options["viktorbarzin.lan"]["primaryNameServerAddresses"] == ["10.96.0.53"]
    assert "NEW: Creating viktorbarzin.lan on technitium-secondary" in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == "Zone sync complete. 10 new zone(s) created. 0 failures. status=0"
    )
    # Every session was logged out.
    assert all(not s.sessions for s in trio.all)


def test_second_run_is_unchanged_but_resyncs(trio, dns_cli):
    dns_cli.configure(trio.instances())
    assert dns_cli.run("sync").exit_code == 0
    before = len(trio.secondary.writes)
    doc = dns_cli.json(dns_cli.run("sync", "--json"))
    assert doc["changed"] is False and doc["created"] == 0 and doc["status"] == 0
    new = trio.secondary.writes[before:]
    assert {p for p, _ in new} == {"/api/zones/resync"}  # resync refreshes data, it is not a change
    assert {a["action"] for a in doc["actions"]} == {"resync"}


def test_when_behind_resyncs_only_lagging_zones(trio, dns_cli):
    dns_cli.configure(trio.instances(), resync="when-behind")
    assert dns_cli.run("sync").exit_code == 0
    trio.primary.zones["viktorbarzin.lan"]["soaSerial"] += 1
    doc = dns_cli.json(dns_cli.run("sync", "--json"))
    assert sorted((a["instance"], a["action"], a["zone"]) for a in doc["actions"]) == [
        ("technitium-secondary", "resync", "viktorbarzin.lan"),
        ("technitium-tertiary", "resync", "viktorbarzin.lan"),
    ]
    assert any("behind the primary" in w for r in doc["replicas"] for w in r["warnings"])


def test_dry_run_makes_no_writes_and_pushes_nothing(trio, dns_cli, pushgateway: Pushgateway):
    dns_cli.configure(trio.instances(), pushgateway=pushgateway.url, sync_job="dns-dry-run-test")
    doc = dns_cli.json(dns_cli.run("sync", "--dry-run", "--json"))
    assert doc["dry_run"] is True and doc["changed"] is False and doc["pushed"] is False
    assert len([a for a in doc["actions"] if a["action"] == "create"]) == 10
    assert all(a["ok"] is None for a in doc["actions"])
    assert all(not s.writes for s in trio.all)
    assert "dns-dry-run-test" not in pushgateway.metrics_text()


def test_heal_conflict_stale_and_warnings(trio, dns_cli):
    # secondary: one zone pinned to an old pod IP, one Primary-type conflict, one stale Secondary zone.
    trio.secondary.add_secondary_zone("viktorbarzin.lan", "10.244.1.17", sync_failed=True)
    trio.secondary.add_zone("viktorbarzin.me", "Forwarder")
    trio.secondary.add_secondary_zone("old.example", "10.96.0.53", serial=5)
    trio.secondary.add_secondary_zone("foreign.example", "10.1.1.1", serial=5)
    dns_cli.configure(trio.instances())
    result = dns_cli.run("sync", "--json")
    assert result.exit_code == 1  # the conflict is a failure
    doc = dns_cli.json(result)
    sec = next(r for r in doc["replicas"] if r["name"] == "technitium-secondary")
    assert sec["conflicts"] == ["viktorbarzin.me"]
    assert sorted(sec["stale"]) == ["foreign.example", "old.example"]
    assert "viktorbarzin.lan: syncFailed" in sec["warnings"]
    assert {
        "action": "set_primary",
        "zone": "viktorbarzin.lan",
        "ok": True,
        "error": None,
        "result": "done",
    } in sec["actions"]
    assert trio.secondary.options["viktorbarzin.lan"]["primaryNameServerAddresses"] == ["10.96.0.53"]
    assert trio.secondary.zones["viktorbarzin.me"]["type"] == "Forwarder"  # never touched
    assert "old.example" in trio.secondary.zones  # stale zones only reported without --delete-stale
    assert doc["failures"] == 1 and doc["status"] == 1


def test_delete_stale_needs_yes_off_a_tty_and_deletes_only_ours(trio, dns_cli):
    trio.secondary.add_secondary_zone("old.example", "10.96.0.53", serial=5)
    trio.secondary.add_secondary_zone("foreign.example", "10.1.1.1", serial=5)
    dns_cli.configure(trio.instances())
    refused = dns_cli.run("sync", "--delete-stale")
    assert refused.exit_code == 3
    assert not trio.secondary.writes
    doc = dns_cli.json(dns_cli.run("sync", "--delete-stale", "--yes", "--json"))
    assert doc["status"] == 0
    assert "old.example" not in trio.secondary.zones
    assert "foreign.example" in trio.secondary.zones  # points at another primary: never deleted


def test_zone_already_exists_is_reread_not_a_failure(trio, dns_cli):
    dns_cli.configure(trio.instances())
    # The zone appears between the list and the create (another run): the stand-in answers status: error.
    original = trio.tertiary._list

    def list_then_add(params):
        resp = original(params)
        if "viktorbarzin.lan" not in trio.tertiary.zones:
            trio.tertiary.add_secondary_zone("viktorbarzin.lan", "10.96.0.53")
        return resp

    trio.tertiary._list = list_then_add  # type: ignore[method-assign]
    result = dns_cli.run("sync", "--json")
    doc = dns_cli.json(result)
    assert result.exit_code == 0, result.stderr
    ter = next(r for r in doc["replicas"] if r["name"] == "technitium-tertiary")
    assert {
        "action": "create",
        "zone": "viktorbarzin.lan",
        "ok": True,
        "error": None,
        "result": "exists",
    } in ter["actions"]


def test_create_error_with_http_200_fails_the_run(trio, dns_cli):
    trio.tertiary.errors["/api/zones/create"] = "Access was denied."
    dns_cli.configure(trio.instances())
    result = dns_cli.run("sync", "--json")
    assert result.exit_code == 1
    doc = dns_cli.json(result)
    assert doc["failures"] == 5 and doc["status"] == 1
    assert (
        "ERROR: Failed to create viktorbarzin.lan on technitium-tertiary: Access was denied." in result.stderr
    )
    assert "stackTrace" not in result.stdout and "DnsServerCore" not in result.stderr


def test_expired_token_mid_run_logs_in_again(trio, dns_cli):
    dns_cli.configure(trio.instances())
    trio.secondary.expire_once = True  # the first authenticated call finds the session expired
    result = dns_cli.run("sync", "--json")
    assert result.exit_code == 0, result.stderr
    assert trio.secondary.logins == 2
    assert len(trio.secondary.counted()) == 5


def test_token_sent_both_ways_v15_reads_the_header(technitium_factory, trio, dns_cli):
    # v15 reads the Bearer header first: a wrong `token` parameter would be ignored there. In v14 mode only the
    # parameter counts; sync works against both, so both are sent.
    trio.secondary.mode = "v15"
    dns_cli.configure(trio.instances())
    assert dns_cli.run("sync").exit_code == 0
    req = next(r for r in trio.secondary.server.seen("GET", "/api/zones/list"))
    assert req.headers["Authorization"].startswith("Bearer session-")
    assert req.query["token"][0] == req.headers["Authorization"][7:]
    login = trio.secondary.server.seen("POST", "/api/user/login")[0]
    assert "pass" not in login.query and b"pass=s3cret" in login.body  # the password never in a URL


def test_api_token_skips_login(trio, dns_cli):
    for s in trio.all:
        s.api_tokens.add("tok-123")
    dns_cli.monkeypatch.setenv("TECH_TOKEN", "tok-123")
    dns_cli.configure(trio.instances(), api_token="env:TECH_TOKEN")
    assert dns_cli.run("sync").exit_code == 0
    assert all(s.logins == 0 for s in trio.all)
    assert not trio.primary.server.seen(path="/api/user/logout")


def test_replica_login_failure_counts_zero_and_fails(trio, dns_cli, pushgateway: Pushgateway):
    trio.tertiary.users = {"admin": "other"}
    dns_cli.configure(trio.instances(), pushgateway=pushgateway.url, sync_job="dns-login-fail-test")
    result = dns_cli.run("sync", "--json")
    assert result.exit_code == 1
    doc = dns_cli.json(result)
    ter = next(r for r in doc["replicas"] if r["name"] == "technitium-tertiary")
    assert ter["ok"] is False and ter["zone_count"] == 0
    assert "ERROR: Cannot login to technitium-tertiary" in result.stderr
    assert doc["pushed"] is True
    text = pushgateway.metrics_text()
    assert 'technitium_zone_count{instance="technitium-tertiary",job="dns-login-fail-test"} 0' in text
    assert 'technitium_zone_sync_status{instance="",job="dns-login-fail-test"} 1' in text
    assert "technitium_zone_sync_last_success" not in [
        line.split("{")[0] for line in text.splitlines() if 'job="dns-login-fail-test"' in line
    ]


def test_primary_down_exits_4_and_still_pushes_status(trio, dns_cli, pushgateway: Pushgateway):
    trio.primary.server.stop()
    dns_cli.configure(trio.instances(), pushgateway=pushgateway.url, sync_job="dns-primary-down-test")
    result = dns_cli.run("sync", "--json")
    assert result.exit_code == 4
    assert "ERROR: Cannot login to primary" in result.stderr
    assert all(not s.writes for s in trio.all)
    assert (
        'technitium_zone_sync_status{instance="",job="dns-primary-down-test"} 1' in pushgateway.metrics_text()
    )
    trio.primary.server = type(trio.primary.server)(trio.primary.handle)  # the fixture stops it again
    trio.primary.server.start()


def test_success_pushes_original_metrics_typed_and_untyped(trio, dns_cli, pushgateway: Pushgateway):
    job = "dns-push-test"
    # An untyped series of the same name already exists in another group: pushing typed would be a 400.
    body = b'technitium_zone_count{instance="other"} 3\n'
    req = urllib.request.Request(
        f"{pushgateway.url}/metrics/job/{job}/instance/other", data=body, method="POST"
    )
    urllib.request.urlopen(req, timeout=5).close()
    dns_cli.configure(trio.instances(), pushgateway=pushgateway.url, sync_job=job)
    doc = dns_cli.json(dns_cli.run("sync", "--json"))
    assert doc["pushed"] is True
    text = pushgateway.metrics_text()
    assert "# HELP technitium_zone_sync_status Zone sync job status (0=ok, 1=fail)" in text
    assert "# HELP technitium_zone_sync_failures Zones that failed to create this run" in text
    assert f'technitium_zone_sync_status{{instance="",job="{job}"}} 0' in text
    assert f'technitium_zone_sync_last_success{{instance="",job="{job}"}}' in text
    for name in ("primary", "technitium-secondary", "technitium-tertiary"):
        assert f'technitium_zone_count{{instance="{name}",job="{job}"}} 5' in text


def test_pushgateway_stopped_keeps_exit_code(trio, dns_cli):
    dns_cli.configure(trio.instances(), pushgateway=f"http://127.0.0.1:{free_port()}")
    result = dns_cli.run("sync", "--json")
    assert result.exit_code == 0
    assert dns_cli.json(result)["pushed"] is False
    assert "zones synced, metrics not pushed" in result.stderr


def test_transfer_address_from_the_kubernetes_service(trio, dns_cli, kube_api, tmp_path):
    from tests.standins.kube_api import service

    kube_api.add(service("technitium-primary", "technitium", cluster_ip="10.96.12.34"))
    dns_cli.configure(
        trio.instances(), primary_transfer_address="", kubeconfig=str(kube_api.kubeconfig(tmp_path))
    )
    doc = dns_cli.json(dns_cli.run("sync", "--json"))
    assert doc["transfer_address"] == "10.96.12.34"
    assert trio.secondary.options["viktorbarzin.lan"]["primaryNameServerAddresses"] == ["10.96.12.34"]


def test_kubernetes_unreachable_exits_4_without_writes(trio, dns_cli, kube_api, tmp_path):
    dns_cli.configure(
        trio.instances(),
        primary_transfer_address="",
        kubeconfig=str(kube_api.kubeconfig(tmp_path, token="wrong")),
    )
    result = dns_cli.run("sync")
    assert result.exit_code == 4
    assert "401" in result.stderr and "wrong" not in result.stderr
    assert all(not s.writes for s in trio.all)
