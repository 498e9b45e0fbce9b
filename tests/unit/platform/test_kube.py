"""The shared Kubernetes adapter: configuration sources, rollout judgement, errors, against the stand-in."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from homeops.errors import ConfigError, Unreachable
from homeops.kube import (
    KubeClient,
    KubeConfig,
    KubeNotFound,
    _ssl_context,
    config_in_cluster,
    load_config,
    pod_ready,
    rollout_of,
)
from tests.services._common import free_port
from tests.services._tls import self_signed
from tests.standins import kube_api as k

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: https://10.0.20.100:6443
    certificate-authority-data: {ca}
contexts:
- name: lab
  context: {{cluster: lab, user: {user}, namespace: technitium}}
- name: other
  context: {{cluster: lab, user: tokfile}}
users:
- name: admin
  user: {{token: abc}}
- name: tokfile
  user: {{tokenFile: token.txt}}
- name: sso
  user:
    exec: {{command: kubelogin}}
"""


def _ca_pem() -> str:
    return self_signed("kubernetes", ip=None)[0].decode()


def _write(tmp_path: Path, user: str = "admin") -> tuple[Path, str]:
    pem = _ca_pem()
    path = tmp_path / "config"
    path.write_text(KUBECONFIG.format(ca=base64.b64encode(pem.encode()).decode(), user=user))
    return path, pem


def test_kubeconfig_current_context_token_ca(tmp_path):
    path, pem = _write(tmp_path)
    cfg = load_config(str(path))
    assert cfg.server == "https://10.0.20.100:6443" and cfg.token == "abc" and cfg.namespace == "technitium"
    assert cfg.ca_pem == pem
    assert "abc" not in repr(cfg)
    ctx = _ssl_context(cfg)
    assert not isinstance(ctx, bool) and ctx.get_ca_certs()[0]["subject"] == (
        (("commonName", "kubernetes"),),
    )


def test_kubeconfig_order_and_token_file(tmp_path):
    path, _ = _write(tmp_path, user="tokfile")
    (tmp_path / "token.txt").write_text("from-file\n")
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{path}", "HOME": str(tmp_path)}
    assert load_config(env=env).token == "from-file"
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(path.read_text())
    (tmp_path / ".kube" / "token.txt").write_text("home\n")  # relative paths are relative to the kubeconfig
    assert load_config(env={"HOME": str(tmp_path)}).source.startswith(
        f"kubeconfig {tmp_path / '.kube' / 'config'}"
    )


def test_exec_plugin_and_missing_config_are_config_errors(tmp_path):
    path, _ = _write(tmp_path, user="sso")
    with pytest.raises(ConfigError, match="exec"):
        load_config(str(path))
    with pytest.raises(ConfigError, match="no Kubernetes configuration"):
        load_config(env={"HOME": str(tmp_path / "nohome")})


def test_in_cluster(tmp_path):
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "namespace").write_text("technitium")
    cfg = config_in_cluster(
        {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, tmp_path
    )
    assert cfg == KubeConfig(
        "https://10.96.0.1:443", "in-cluster service account", "technitium", "sa-token", ""
    )
    cfg = load_config(env={"HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": "fd00::1"}, sa_dir=tmp_path)
    assert cfg.server == "https://[fd00::1]:443"


def _dep(**status):
    d = k.deployment("x", "ns", replicas=2, generation=3)
    d["status"].update(status)
    return d


@pytest.mark.parametrize(
    ("status", "done", "failed"),
    [
        pytest.param({"observedGeneration": 3}, True, False, id="done"),
        pytest.param({"observedGeneration": 2}, False, False, id="not-observed"),
        pytest.param({"updatedReplicas": 1}, False, False, id="updating"),
        pytest.param({"replicas": 3}, False, False, id="old-pending"),
        pytest.param({"availableReplicas": 1}, False, False, id="unavailable"),
        pytest.param(
            {
                "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ]
            },
            False,
            True,
            id="deadline",
        ),
    ],
)
def test_rollout_of(status, done, failed):
    r = rollout_of(_dep(**status))
    assert (r.done, r.failed) == (done, failed)


def test_pod_ready():
    assert pod_ready(k.pod("a"))
    assert not pod_ready(k.pod("a", ready=False))
    assert not pod_ready(k.pod("a", phase="Pending"))
    terminating = k.pod("a")
    terminating["metadata"]["deletionTimestamp"] = "2026-11-26T10:00:00Z"
    assert not pod_ready(terminating)


def _client(kube_api, token: str | None = None) -> KubeClient:
    return KubeClient(
        KubeConfig(kube_api.url, "test", token=kube_api.token if token is None else token), timeout=2
    )


def test_client_reads_and_selects(kube_api):
    d = k.deployment("technitium", "technitium")
    kube_api.add(
        d,
        k.pod(
            "technitium-1", "technitium", labels={"app": "technitium", "dns-server": "true"}, ip="10.244.0.5"
        ),
        k.pod("other", "technitium", labels={"app": "other"}),
        k.pod("elsewhere", "default", labels={"app": "technitium"}),
        k.service("technitium-primary", "technitium", cluster_ip="10.96.0.53"),
    )
    with _client(kube_api) as c:
        assert c.rollout("technitium", "technitium").done
        assert [p["metadata"]["name"] for p in c.pods("technitium", "app=technitium")] == ["technitium-1"]
        assert len(c.pods("technitium", "dns-server=true,app in (technitium,x)")) == 1
        assert len(c.pods("technitium", "app!=technitium")) == 1
        assert c.service("technitium", "technitium-primary")["spec"]["clusterIP"] == "10.96.0.53"
        assert c.rollout("technitium", "missing").failed
        with pytest.raises(KubeNotFound, match=r'deployments\.apps "missing" not found'):
            c.deployment("technitium", "missing")
        assert c.get("/version")["gitVersion"].startswith("v1.")


def test_client_auth_errors_are_unreachable_without_the_token(kube_api):
    with _client(kube_api, token="bad-token") as c, pytest.raises(Unreachable) as err:
        c.pods("technitium")
    assert "401" in err.value.line() and "bad-token" not in err.value.line()
    kube_api.forbidden.add(("list", "pods"))
    with _client(kube_api) as c, pytest.raises(Unreachable, match="403"):
        c.pods("technitium")


def test_client_connection_refused_is_unreachable():
    with (
        KubeClient(KubeConfig(f"http://127.0.0.1:{free_port()}", "test"), timeout=1) as c,
        pytest.raises(Unreachable),
    ):
        c.get("/version")
