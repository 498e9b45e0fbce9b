"""`homeops dns gate` (and `dns parity`) against Technitium stand-ins, the Kubernetes stand-in and real BIND."""

from __future__ import annotations

import pytest

from tests.standins import kube_api as k

LAN_RECORDS = "idrac A 192.168.1.4\nvlmcs A 10.0.20.202\nkms A 10.0.20.200\n_vlmcs._tcp SRV 0 0 1688 vlmcs.viktorbarzin.lan.\n"
NS = "technitium"
DEPLOYMENTS = ("technitium", "technitium-secondary", "technitium-tertiary")


@pytest.fixture(scope="module")
def lan(bind_server_session):
    """One BIND serving viktorbarzin.lan (shared, read-only); relays give each instance its own address."""
    return bind_server_session([("viktorbarzin.lan", LAN_RECORDS)], keys={})


@pytest.fixture
def synced(trio):
    """Replicas holding every zone of the primary."""
    for zone in trio.primary.counted():
        trio.secondary.add_secondary_zone(zone, "10.96.0.53")
        trio.tertiary.add_secondary_zone(zone, "10.96.0.53")
    return trio


@pytest.fixture
def addresses(lan, relay, trio):
    return {s.name: relay(("127.0.0.1", lan.port)).address for s in trio.all}


def _seed_kube(kube_api, *, ready=True):
    for dep in DEPLOYMENTS:
        d = k.deployment(dep, NS, labels={"app": dep, "dns-server": "true"}, ready=ready)
        kube_api.add(d, k.replicaset(f"{dep}-5d9f", NS, d))


def _step(doc, name):
    return next(s for s in doc["steps"] if s["step"] == name)


def test_gate_passes_with_rollout_api_zones_and_answers(synced, dns_cli, kube_api, tmp_path, addresses):
    _seed_kube(kube_api)
    # The tertiary is mid-rollout for two polls, then done.
    kube_api.script(
        "Deployment",
        NS,
        "technitium-tertiary",
        [
            k.rollout_status(1, 0, 0, generation=1, observed=1),
            k.rollout_status(2, 1, 0, generation=1, observed=1),
            k.rollout_status(1, 1, 1, generation=1, observed=1),
        ],
    )
    dns_cli.configure(synced.instances(addresses), kubeconfig=str(kube_api.kubeconfig(tmp_path)))
    result = dns_cli.run("gate", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = dns_cli.json(result)
    assert doc["ok"] is True and doc["failed_step"] is None
    assert [s["status"] for s in doc["steps"]] == ["passed"] * 4
    assert (
        len(kube_api.server.seen("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/technitium-tertiary"))
        == 3
    )
    answers = _step(doc, "answer_parity")["instances"]
    assert {tuple(i["answers"]) for i in answers} == {("192.168.1.4",)}
    assert all(i["zone_count"] == 5 for i in _step(doc, "zone_parity")["instances"])


def test_rollout_deadline_exceeded_stops_the_gate(synced, dns_cli, kube_api, tmp_path, addresses):
    _seed_kube(kube_api)
    kube_api.script("Deployment", NS, "technitium-secondary", [k.deadline_exceeded_status()])
    dns_cli.configure(synced.instances(addresses), kubeconfig=str(kube_api.kubeconfig(tmp_path)))
    result = dns_cli.run("gate", "--json")
    assert result.exit_code == 1
    doc = dns_cli.json(result)
    assert doc["failed_step"] == "rollout"
    assert [s["status"] for s in doc["steps"]] == ["failed", "not_run", "not_run", "not_run"]
    assert "gate failed at rollout" in result.stderr and "progress deadline" in result.stderr
    assert not synced.primary.server.seen()  # later steps did not run


def test_rollout_timeout_and_missing_deployment(synced, dns_cli, kube_api, tmp_path, addresses):
    _seed_kube(kube_api, ready=False)
    kube_api.remove("Deployment", NS, "technitium-tertiary")
    dns_cli.configure(
        synced.instances(addresses), kubeconfig=str(kube_api.kubeconfig(tmp_path)), gate_rollout_timeout=0.2
    )
    result = dns_cli.run("gate", "--json")
    assert result.exit_code == 1
    rollout = _step(dns_cli.json(result), "rollout")
    assert rollout["status"] == "failed"


def test_kubernetes_rejecting_credentials_fails_closed(synced, dns_cli, kube_api, tmp_path, addresses):
    _seed_kube(kube_api)
    dns_cli.configure(
        synced.instances(addresses), kubeconfig=str(kube_api.kubeconfig(tmp_path, token="nope"))
    )
    result = dns_cli.run("gate")
    assert result.exit_code == 3  # DESIGN §2b: a gate that could not check its dependency says no
    assert "Kubernetes API" in result.stderr and "401" in result.stderr
    assert "nope" not in result.stderr


def test_missing_credentials_exit_2(synced, dns_cli, addresses):
    dns_cli.monkeypatch.delenv("TECH_PASS")
    dns_cli.configure(synced.instances(addresses))
    result = dns_cli.run("gate", "--no-k8s")
    assert result.exit_code == 2
    assert "dns.password" in result.stderr


def test_api_error_with_http_200_fails_the_api_step(synced, dns_cli, addresses):
    synced.tertiary.errors["/api/dashboard/stats/get"] = "Access was denied."
    dns_cli.configure(synced.instances(addresses))
    result = dns_cli.run("gate", "--no-k8s", "--json")
    assert result.exit_code == 1
    doc = dns_cli.json(result)
    assert doc["failed_step"] == "api"
    api = _step(doc, "api")
    bad = next(i for i in api["instances"] if i["name"] == "technitium-tertiary")
    assert (
        bad["ok"] is False and "Access was denied." in bad["detail"] and bad["attempts"]
        if "attempts" in bad
        else True
    )
    assert len(synced.tertiary.server.seen(path="/api/dashboard/stats/get")) == 3  # gate_api_tries
    # Steps 2–4 all run even when one fails.
    assert [s["status"] for s in doc["steps"]] == ["skipped", "failed", "passed", "passed"]
    assert "gate failed at api — technitium-tertiary" in result.stderr


def test_hung_api_fails_the_probe_not_the_gate_process(synced, dns_cli, addresses):
    synced.secondary.delays["/api/dashboard/stats/get"] = 1.0
    dns_cli.configure(synced.instances(addresses), api_timeout=0.2, gate_api_tries=2)
    result = dns_cli.run("gate", "--no-k8s", "--json")
    assert result.exit_code == 1
    api = _step(dns_cli.json(result), "api")
    bad = next(i for i in api["instances"] if i["name"] == "technitium-secondary")
    assert bad["ok"] is False and "no answer within" in bad["detail"]


def test_every_api_rejecting_credentials_fails_closed(synced, dns_cli, addresses):
    for s in synced.all:
        s.users = {"admin": "changed"}
    dns_cli.configure(synced.instances(addresses))
    result = dns_cli.run("gate", "--no-k8s", "--json")
    assert result.exit_code == 1  # the api step failed (1 over 3/4: a finding wins)
    assert "gate failed at api" in result.stderr
    doc = dns_cli.json(result)
    assert doc["could_not_check"].startswith("every Technitium API")


def test_zone_parity_names_the_missing_zone(synced, dns_cli, addresses):
    del synced.tertiary.zones["20.0.10.in-addr.arpa"]
    dns_cli.configure(synced.instances(addresses))
    result = dns_cli.run("gate", "--no-k8s")
    assert result.exit_code == 1
    assert (
        "homeops dns: gate failed at zone_parity — technitium-tertiary lacks 20.0.10.in-addr.arpa — "
        "run homeops dns sync" in result.stderr
    )


def test_all_zero_zone_lists_are_a_failure_not_parity(trio, dns_cli, addresses):
    for s in trio.all:
        for name in list(s.counted()):
            del s.zones[name]
    dns_cli.configure(trio.instances(addresses))
    result = dns_cli.run("gate", "--no-k8s", "--json")
    assert result.exit_code == 1
    zp = _step(dns_cli.json(result), "zone_parity")
    assert zp["status"] == "failed"
    assert all(i["ok"] is False and "0 zones" in i["detail"] for i in zp["instances"])


def test_serials_flag_fails_on_a_lagging_replica(synced, dns_cli, addresses):
    synced.secondary.zones["viktorbarzin.lan"]["soaSerial"] = 1
    dns_cli.configure(synced.instances(addresses))
    assert dns_cli.run("gate", "--no-k8s").exit_code == 0
    result = dns_cli.run("gate", "--no-k8s", "--serials")
    assert result.exit_code == 1
    assert "serial differs on viktorbarzin.lan" in result.stderr


def test_answer_parity_mismatch_names_the_instance(synced, dns_cli, bind_server, lan, relay):
    other = bind_server([("viktorbarzin.lan", LAN_RECORDS.replace("192.168.1.4", "192.168.1.5"))], keys={})
    addresses = {
        "primary": relay(("127.0.0.1", lan.port)).address,
        "technitium-secondary": relay(("127.0.0.1", lan.port)).address,
        "technitium-tertiary": f"127.0.0.1:{other.port}",
    }
    dns_cli.configure(synced.instances(addresses))
    result = dns_cli.run("gate", "--no-k8s", "--json")
    assert result.exit_code == 1
    ap = _step(dns_cli.json(result), "answer_parity")
    bad = [i["name"] for i in ap["instances"] if not i["ok"]]
    assert bad == ["technitium-tertiary"]
    assert "gate failed at answer_parity — technitium-tertiary answers 192.168.1.5" in result.stderr


def test_answer_parity_expectation(synced, dns_cli, addresses):
    dns_cli.configure(synced.instances(addresses), gate_canary_expect=["10.0.0.1"])
    result = dns_cli.run("gate", "--no-k8s")
    assert result.exit_code == 1 and "expected 10.0.0.1" in result.stderr


def test_answer_parity_two_records_are_not_a_false_failure(synced, dns_cli, bind_server, relay):
    srv = bind_server([("viktorbarzin.lan", LAN_RECORDS + "idrac A 192.168.1.40\n")], keys={})
    addresses = {s.name: relay(("127.0.0.1", srv.port)).address for s in synced.all}
    dns_cli.configure(synced.instances(addresses))
    result = dns_cli.run("gate", "--no-k8s", "--json")
    assert result.exit_code == 0, result.stderr
    ap = _step(dns_cli.json(result), "answer_parity")
    assert ap["instances"][0]["answers"] == ["192.168.1.4", "192.168.1.40"]


def test_pod_ip_discovery_through_the_kubernetes_api(synced, dns_cli, kube_api, tmp_path, lan):
    # Every pod "IP" is 127.0.0.1 and pod_dns_port is BIND's port; one instance has no Ready pod.
    _seed_kube(kube_api)
    for dep in DEPLOYMENTS[:2]:
        kube_api.add(
            k.pod(f"{dep}-5d9f-abcde", NS, labels={"app": dep, "dns-server": "true"}, ip="127.0.0.1")
        )
    kube_api.add(
        k.pod(
            "technitium-tertiary-5d9f-xyz",
            NS,
            labels={"app": "technitium-tertiary"},
            ip="127.0.0.1",
            ready=False,
        )
    )
    dns_cli.configure(
        synced.instances(), kubeconfig=str(kube_api.kubeconfig(tmp_path)), pod_dns_port=lan.port
    )
    result = dns_cli.run("gate", "--json")
    assert result.exit_code == 1
    ap = _step(dns_cli.json(result), "answer_parity")
    by = {i["name"]: i for i in ap["instances"]}
    assert by["primary"]["ok"] and by["primary"]["address"] == f"127.0.0.1:{lan.port}"
    assert not by["technitium-tertiary"]["ok"]
    assert "no Running and Ready pod matches app=technitium-tertiary" in by["technitium-tertiary"]["detail"]
    seen = kube_api.server.seen("GET", f"/api/v1/namespaces/{NS}/pods")
    assert {r.query["labelSelector"][0] for r in seen} == {f"app={d}" for d in DEPLOYMENTS}


def test_no_k8s_needs_static_addresses(synced, dns_cli):
    dns_cli.configure(synced.instances())
    result = dns_cli.run("gate", "--no-k8s")
    assert result.exit_code == 2 and "static dns address" in result.stderr


# --- parity --------------------------------------------------------------------------------------------


def test_parity_a_and_srv(synced, dns_cli, addresses):
    dns_cli.configure(synced.instances(addresses))
    doc = dns_cli.json(dns_cli.run("parity", "idrac.viktorbarzin.lan", "--json"))
    assert doc["ok"] is True and doc["distinct_answers"] == 1
    result = dns_cli.run("parity", "_vlmcs._tcp.viktorbarzin.lan", "--type", "SRV", "--json")
    assert result.exit_code == 0
    assert {tuple(i["answers"]) for i in dns_cli.json(result)["instances"]} == {
        ("0 0 1688 vlmcs.viktorbarzin.lan.",)
    }


def test_parity_empty_needs_allow_empty(synced, dns_cli, addresses):
    dns_cli.configure(synced.instances(addresses))
    assert dns_cli.run("parity", "nope.viktorbarzin.lan").exit_code == 1
    assert dns_cli.run("parity", "nope.viktorbarzin.lan", "--allow-empty").exit_code == 0


def test_parity_one_silent_instance_and_all_silent(synced, dns_cli, addresses, silent_dns):
    dns_cli.configure(
        synced.instances({**addresses, "technitium-tertiary": silent_dns.address}), dns_timeout=0.2
    )
    result = dns_cli.run("parity", "idrac.viktorbarzin.lan", "--json")
    assert result.exit_code == 1
    row = next(i for i in dns_cli.json(result)["instances"] if i["name"] == "technitium-tertiary")
    assert row["rcode"] is None and row["error"] == "timeout"
    dns_cli.configure(synced.instances(dict.fromkeys(addresses, silent_dns.address)), dns_timeout=0.2)
    assert dns_cli.run("parity", "idrac.viktorbarzin.lan").exit_code == 4
