"""`homeops doctor --group dns --json` as a real process against the Technitium and Kubernetes stand-ins."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli._run import run_homeops
from tests.services._common import free_port
from tests.standins import kube_api as k
from tests.standins.kube_api import KubeApiStandin
from tests.standins.technitium import TechnitiumStandin

NS = "technitium"
ZONES = ("viktorbarzin.lan", "10.0.10.in-addr.arpa", "emrsn.org")
ROWS = (
    ("primary", "primary", "technitium"),
    ("technitium-secondary", "replica", "technitium-secondary"),
    ("technitium-tertiary", "replica", "technitium-tertiary"),
)


def _config(path: Path, urls: dict[str, str], kubeconfig: Path) -> None:
    lines = [
        "[dns]",
        'username = "env:TECH_USER"',
        'password = "env:TECH_PASS"',
        "api_timeout = 1.0",
        "gate_api_tries = 1",
        f'kubeconfig = "{kubeconfig}"',
    ]
    for name, role, dep in ROWS:
        lines += [
            "[[dns.instances]]",
            f'name = "{name}"',
            f'role = "{role}"',
            f'api_url = "{urls[name]}"',
            f'deployment = "{dep}"',
            f'pod_selector = "app={dep}"',
            'dns = "127.0.0.1:53"',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def site(
    technitium_factory: Callable[..., TechnitiumStandin], kube_api: KubeApiStandin, tmp_path: Path
) -> dict[str, Any]:
    """Three synced instances, three rolled-out Deployments, a config file pointing at them."""
    primary = technitium_factory("primary")
    for zone in ZONES:
        primary.add_primary_zone(zone)
    replicas = [technitium_factory(name, upstream=primary) for name, _r, _d in ROWS[1:]]
    for rep in replicas:
        for zone in ZONES:
            rep.add_secondary_zone(zone, "10.96.0.53")
    for _n, _r, dep in ROWS:
        d = k.deployment(dep, NS, labels={"app": dep, "dns-server": "true"}, ready=True)
        kube_api.add(d, k.replicaset(f"{dep}-5d9f", NS, d))
    cfg = tmp_path / "config.toml"
    urls = {s.name: s.url for s in (primary, *replicas)}
    _config(cfg, urls, kube_api.kubeconfig(tmp_path))
    return {"cfg": cfg, "urls": urls, "primary": primary, "replicas": replicas, "kube": kube_api}


def _doctor(site: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    env = {"HOMEOPS_CONFIG": str(site["cfg"]), "TECH_USER": "admin", "TECH_PASS": "s3cret"}
    proc = run_homeops("doctor", "--group", "dns", "--json", env=env)
    assert proc.stdout.strip(), proc.stderr
    doc = json.loads(proc.stdout)
    assert "s3cret" not in proc.stdout + proc.stderr
    return proc.returncode, doc, proc.stderr


def _checks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (group,) = doc["groups"]
    assert group["group"] == "dns"
    return {c["name"]: c for c in group["checks"]}


def test_doctor_all_ok(site: dict[str, Any]) -> None:
    code, doc, err = _doctor(site)
    assert code == 0, err
    assert doc["status"] == "ok"
    checks = _checks(doc)
    assert {c["status"] for c in checks.values()} == {"ok"}
    assert {f"deployment {d}" for _n, _r, d in ROWS} <= set(checks)
    assert {f"technitium api {n}" for n, _r, _d in ROWS} <= set(checks)
    assert checks["zone parity"]["message"].startswith("3 zones")
    # Read-only: nothing was written to any instance.
    assert all(not s.writes for s in (site["primary"], *site["replicas"]))


def test_doctor_replica_lacking_a_zone_fails(site: dict[str, Any]) -> None:
    tertiary = site["replicas"][1]
    del tertiary.zones["emrsn.org"]
    code, doc, _err = _doctor(site)
    assert code == 1
    assert doc["status"] == "fail"
    parity = _checks(doc)["zone parity"]
    assert parity["status"] == "fail"
    assert "technitium-tertiary" in parity["message"] and "emrsn.org" in parity["message"]


def test_doctor_failed_rollout_fails(site: dict[str, Any]) -> None:
    site["kube"].script("Deployment", NS, "technitium-secondary", [k.deadline_exceeded_status()])
    code, doc, _err = _doctor(site)
    assert code == 1
    assert _checks(doc)["deployment technitium-secondary"]["status"] == "fail"


def test_doctor_unreachable_api_is_unknown(site: dict[str, Any]) -> None:
    # Nothing listens on this port: connection refused, as for an API that is down.
    site["urls"]["technitium-secondary"] = f"http://127.0.0.1:{free_port()}"
    _config(site["cfg"], site["urls"], site["kube"].kubeconfig(site["cfg"].parent))
    code, doc, _err = _doctor(site)
    assert code == 4
    assert doc["status"] == "unknown"
    checks = _checks(doc)
    assert checks["technitium api technitium-secondary"]["status"] == "unknown"
    assert checks["technitium api primary"]["status"] == "ok"
    assert checks["zone parity"]["status"] == "unknown"


def test_doctor_unreachable_kubernetes_is_unknown(site: dict[str, Any]) -> None:
    site["kube"].server.stop()
    code, doc, _err = _doctor(site)
    assert code == 4
    assert _checks(doc)["deployment technitium"]["status"] == "unknown"
