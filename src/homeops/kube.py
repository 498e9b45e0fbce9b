"""Adapter: the Kubernetes API over httpx, configured from a kubeconfig or the in-cluster service account.

Small on purpose: typed helpers for what the groups read (Deployments and their rollout, pods by selector,
Services) on top of a generic ``request``. Errors: 401/403 and connection failures → ``Unreachable`` (exit 4)
naming the problem; 404 → ``KubeNotFound``; other 4xx → ``KubeApiError`` (exit 1). Tokens never appear in errors.
"""

from __future__ import annotations

import base64
import builtins
import os
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homeops.errors import ConfigError, ProblemFound, Unreachable

if TYPE_CHECKING:
    import httpx

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
APPS = "/apis/apps/v1"
CORE = "/api/v1"


class KubeNotFound(ProblemFound):
    """The object does not exist (HTTP 404)."""


class KubeApiError(ProblemFound):
    """The API server refused the request (4xx other than 401/403/404)."""

    def __init__(self, what: str, fix: str | None = None, *, code: int = 0, reason: str = "") -> None:
        super().__init__(what, fix)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class KubeConfig:
    """Where the API server is and how to authenticate; ``source`` says where this came from."""

    server: str
    source: str
    namespace: str = "default"
    token: str = field(default="", repr=False)
    ca_pem: str = field(default="", repr=False)
    cert_pem: str = field(default="", repr=False)
    key_pem: str = field(default="", repr=False)
    insecure: bool = False


def _read(path: str | Path, base: Path) -> str:
    full = Path(path) if Path(path).is_absolute() else base / path
    try:
        return full.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"kubeconfig: cannot read {full}: {exc.strerror}", "fix the path in the kubeconfig"
        ) from None


def _data_or_file(entry: Mapping[str, Any], key: str, base: Path) -> str:
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data)).decode()
        except ValueError:
            raise ConfigError(f"kubeconfig: {key}-data is not base64", "fix the kubeconfig") from None
    path = entry.get(key)
    return _read(str(path), base) if path else ""


def _named(items: Any, name: str, kind: str, source: str) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            inner = item.get(kind)
            return inner if isinstance(inner, dict) else {}
    raise ConfigError(f"kubeconfig {source}: no {kind} named {name!r}", "check the current context")


def config_from_kubeconfig(path: Path, context: str = "") -> KubeConfig:
    """Read one kubeconfig file: the current (or named) context, its cluster and user."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"kubeconfig {path} cannot be read: {exc.strerror}", "set kubeconfig or KUBECONFIG"
        ) from None
    except yaml.YAMLError:
        raise ConfigError(f"kubeconfig {path} is not valid YAML", "fix the file") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {path} is empty or not a mapping", "fix the file")
    name = context or str(doc.get("current-context") or "")
    if not name:
        raise ConfigError(f"kubeconfig {path} has no current-context", "kubectl config use-context NAME")
    ctx = _named(doc.get("contexts"), name, "context", str(path))
    cluster = _named(doc.get("clusters"), str(ctx.get("cluster", "")), "cluster", str(path))
    user = _named(doc.get("users"), str(ctx.get("user", "")), "user", str(path)) if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise ConfigError(
            f"kubeconfig {path}: user {ctx.get('user')!r} uses an exec/auth-provider plugin, which homeops does not run",
            "use a token or client-certificate user (e.g. a service-account token)",
        )
    base = path.parent
    token = str(user.get("token") or "")
    if not token and user.get("tokenFile"):
        token = _read(str(user["tokenFile"]), base).strip()
    server = str(cluster.get("server") or "")
    if not server:
        raise ConfigError(f"kubeconfig {path}: cluster has no server", "fix the kubeconfig")
    return KubeConfig(
        server=server.rstrip("/"),
        source=f"kubeconfig {path} context {name}",
        namespace=str(ctx.get("namespace") or "default"),
        token=token,
        ca_pem=_data_or_file(cluster, "certificate-authority", base),
        cert_pem=_data_or_file(user, "client-certificate", base),
        key_pem=_data_or_file(user, "client-key", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )


def config_in_cluster(env: Mapping[str, str], sa_dir: Path = SA_DIR) -> KubeConfig:
    """The pod's service account: ``KUBERNETES_SERVICE_HOST``/``PORT``, token and CA from ``sa_dir``."""
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    try:
        token = (sa_dir / "token").read_text(encoding="utf-8").strip()
    except OSError:
        raise ConfigError(
            f"in-cluster config: no service-account token in {sa_dir}", "mount a token"
        ) from None
    ca = (sa_dir / "ca.crt").read_text(encoding="utf-8") if (sa_dir / "ca.crt").exists() else ""
    ns_file = sa_dir / "namespace"
    namespace = ns_file.read_text(encoding="utf-8").strip() if ns_file.exists() else "default"
    return KubeConfig(f"https://{host}:{port}", "in-cluster service account", namespace, token, ca)


def load_config(path: str = "", env: Mapping[str, str] | None = None, sa_dir: Path = SA_DIR) -> KubeConfig:
    """The explicit path, else the first existing ``$KUBECONFIG`` entry, else ``~/.kube/config``, else in-cluster."""
    env = os.environ if env is None else env
    if path:
        return config_from_kubeconfig(Path(path).expanduser())
    for entry in (env.get("KUBECONFIG") or "").split(os.pathsep):
        if entry and Path(entry).exists():
            return config_from_kubeconfig(Path(entry))
    home = Path(env.get("HOME") or "~").expanduser() / ".kube" / "config"
    if home.exists():
        return config_from_kubeconfig(home)
    if env.get("KUBERNETES_SERVICE_HOST"):
        return config_in_cluster(env, sa_dir)
    raise ConfigError("no Kubernetes configuration found", "set kubeconfig, KUBECONFIG, or run in a pod")


def _ssl_context(cfg: KubeConfig) -> ssl.SSLContext | bool:
    if not cfg.server.startswith("https"):
        return False
    if cfg.insecure:
        return False
    ctx = ssl.create_default_context(cadata=cfg.ca_pem) if cfg.ca_pem else ssl.create_default_context()
    if cfg.cert_pem and cfg.key_pem:
        # ssl loads client certificates from files only: write them 0600, load, remove.
        with tempfile.TemporaryDirectory(prefix="homeops-kube-") as tmp:
            cert, key = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
            for dest, text in ((cert, cfg.cert_pem), (key, cfg.key_pem)):
                dest.touch(mode=0o600)
                dest.write_text(text, encoding="utf-8")
            ctx.load_cert_chain(str(cert), str(key))
    return ctx


@dataclass(frozen=True)
class Rollout:
    """A Deployment's rollout state, judged as ``kubectl rollout status`` does."""

    name: str
    done: bool
    failed: bool
    message: str


def rollout_of(deployment: Mapping[str, Any]) -> Rollout:
    """Pure: done when observed, updated, total and available replicas all agree; failed on a deadline."""
    meta, spec, status = (deployment.get(k) or {} for k in ("metadata", "spec", "status"))
    name = str(meta.get("name", "?"))
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return Rollout(name, False, True, f"deployment {name} exceeded its progress deadline")
    want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return Rollout(name, False, False, "waiting for the deployment spec update to be observed")
    if updated < want:
        return Rollout(name, False, False, f"{updated} of {want} updated replicas are available")
    if total > updated:
        return Rollout(name, False, False, f"{total - updated} old replicas are pending termination")
    if available < updated:
        return Rollout(name, False, False, f"{available} of {updated} updated replicas are available")
    return Rollout(name, True, False, f"deployment {name} successfully rolled out")


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Running, not terminating, and condition Ready=True."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


class KubeClient:
    """One keep-alive connection pool to the API server; use as a context manager."""

    def __init__(self, cfg: KubeConfig, *, timeout: float = 10.0) -> None:
        import httpx

        self.cfg = cfg
        headers = {"Accept": "application/json", "User-Agent": "homeops"}
        if cfg.token:
            headers["Authorization"] = f"Bearer {cfg.token}"
        self._http = httpx.Client(
            base_url=cfg.server,
            headers=headers,
            verify=_ssl_context(cfg),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One API call; the decoded JSON object, or an error as described in the module docstring."""
        import json

        import httpx

        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content is not None else None
        try:
            resp = self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TimeoutException:
            raise Unreachable(
                f"Kubernetes API {self.cfg.server} timed out ({method} {path})", self._fix()
            ) from None
        except httpx.HTTPError as exc:
            raise Unreachable(
                f"Kubernetes API {self.cfg.server} unreachable: {type(exc).__name__}", self._fix()
            ) from None
        return self._decode(method, path, resp)

    def _fix(self) -> str:
        return f"check the API server address and network ({self.cfg.source})"

    def _decode(self, method: str, path: str, resp: httpx.Response) -> dict[str, Any]:
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        message = str(doc.get("message", "")) if isinstance(doc, dict) else ""
        code = resp.status_code
        if code in (401, 403):
            what = (
                "rejected the credentials (401 Unauthorized)"
                if code == 401
                else f"forbids {method} {path} (403)"
            )
            raise Unreachable(
                f"Kubernetes API {what}",
                f"check the token or client certificate and its RBAC ({self.cfg.source})",
            )
        if code == 404:
            raise KubeNotFound(f"not found: {path}" + (f" ({message})" if message else ""))
        if code >= 500:
            raise Unreachable(f"Kubernetes API answered {code} to {method} {path}: {message}", "retry later")
        if code >= 400:
            reason = str(doc.get("reason", "")) if isinstance(doc, dict) else ""
            raise KubeApiError(
                f"Kubernetes API refused {method} {path} ({code}): {message}", code=code, reason=reason
            )
        if not isinstance(doc, dict):
            raise Unreachable(f"Kubernetes API answered {method} {path} without a JSON object", self._fix())
        return doc

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET one object or list."""
        return self.request("GET", path, params=params)

    def list(
        self, path: str, *, label_selector: str = "", field_selector: str = ""
    ) -> builtins.list[dict[str, Any]]:
        """The ``items`` of a list, filtered by selectors."""
        params = {
            k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v
        }
        items = self.get(path, params or None).get("items") or []
        return [i for i in items if isinstance(i, dict)]

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """One Deployment (apps/v1)."""
        return self.get(f"{APPS}/namespaces/{namespace}/deployments/{name}")

    def rollout(self, namespace: str, name: str) -> Rollout:
        """The rollout state of one Deployment; a missing Deployment is a failed rollout."""
        try:
            return rollout_of(self.deployment(namespace, name))
        except KubeNotFound:
            return Rollout(name, False, True, f"deployment {namespace}/{name} not found")

    def pods(self, namespace: str, selector: str = "") -> builtins.list[dict[str, Any]]:
        """Pods in a namespace matching a label selector."""
        return self.list(f"{CORE}/namespaces/{namespace}/pods", label_selector=selector)

    def service(self, namespace: str, name: str) -> dict[str, Any]:
        """One Service (v1)."""
        return self.get(f"{CORE}/namespaces/{namespace}/services/{name}")


@contextmanager
def connect(path: str = "", *, timeout: float = 10.0) -> Iterator[KubeClient]:
    """Load the configuration and yield a client, closed afterwards."""
    client = KubeClient(load_config(path), timeout=timeout)
    try:
        yield client
    finally:
        client.close()
