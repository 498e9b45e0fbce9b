"""Stand-in: the Kubernetes API server (the shared one; other groups extend it).

Data-driven: objects live in one store keyed by (API prefix, resource, namespace, name); any namespaced or
cluster-scoped GET/LIST of a known kind is served from it with label and field selectors, 404 ``Status``
objects, and 401 without the bearer token. ``script`` makes successive GETs of one object return a sequence of
``status`` blocks (a rollout that finishes after N polls, or one that hits its progress deadline).
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins._http import Request, Response, StandinServer

# kind → (API prefix, plural, namespaced). Extend this table for new kinds.
KINDS: dict[str, tuple[str, str, bool]] = {
    "Pod": ("/api/v1", "pods", True),
    "Service": ("/api/v1", "services", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Node": ("/api/v1", "nodes", False),
    "Namespace": ("/api/v1", "namespaces", False),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "ReplicaSet": ("/apis/apps/v1", "replicasets", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
    "Job": ("/apis/batch/v1", "jobs", True),
    "CronJob": ("/apis/batch/v1", "cronjobs", True),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
}
_BY_PLURAL = {(prefix, plural): (kind, ns) for kind, (prefix, plural, ns) in KINDS.items()}
_TS = "2026-11-26T10:00:00Z"
_uid = itertools.count(1)


def status_error(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> Response:
    """A ``Status`` object as the API server sends with errors."""
    return Response.json(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details or {},
            "code": code,
        },
        code,
    )


def _meta(
    name: str, namespace: str | None, labels: dict[str, str] | None, generation: int = 1
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": f"00000000-0000-4000-8000-{next(_uid):012d}",
        "resourceVersion": "1",
        "generation": generation,
        "creationTimestamp": _TS,
        "labels": dict(labels or {}),
        "annotations": {},
    }
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def deployment(
    name: str,
    namespace: str = "default",
    *,
    replicas: int = 1,
    labels: dict[str, str] | None = None,
    generation: int = 1,
    ready: bool = True,
) -> dict[str, Any]:
    """A Deployment; ``ready`` makes its status a finished rollout, else one with 0 updated replicas."""
    labels = labels or {"app": name}
    done = replicas if ready else 0
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace, labels, generation),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {"type": "Recreate"},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [{"name": name}]}},
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": done,
            "readyReplicas": done,
            "availableReplicas": done,
            "conditions": [
                _condition("Available", "True" if ready else "False", "MinimumReplicasAvailable"),
                _condition("Progressing", "True", "NewReplicaSetAvailable"),
            ],
        },
    }


def replicaset(name: str, namespace: str, owner: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    """A ReplicaSet owned by a Deployment."""
    labels = dict(owner["spec"]["selector"]["matchLabels"])
    obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _meta(name, namespace, labels),
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
    }
    obj["metadata"]["ownerReferences"] = [_owner(owner)]
    return obj


def pod(
    name: str,
    namespace: str = "default",
    *,
    labels: dict[str, str] | None = None,
    ip: str = "10.244.0.10",
    ready: bool = True,
    phase: str = "Running",
    node: str = "node1",
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Pod with phase, Ready condition and podIP."""
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(name, namespace, labels),
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "example:1"}]},
        "status": {
            "phase": phase,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "10.0.20.100",
            "startTime": _TS,
            "conditions": [
                _condition("PodScheduled", "True", ""),
                _condition("Initialized", "True", ""),
                _condition("ContainersReady", "True" if ready else "False", ""),
                _condition("Ready", "True" if ready else "False", "" if ready else "ContainersNotReady"),
            ],
        },
    }
    if owner is not None:
        obj["metadata"]["ownerReferences"] = [_owner(owner)]
    return obj


def service(
    name: str, namespace: str = "default", *, cluster_ip: str = "10.96.0.10", ports: Any = None
) -> dict[str, Any]:
    """A ClusterIP Service."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, namespace, {}),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": ports or [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}],
            "selector": {},
        },
        "status": {"loadBalancer": {}},
    }


def _condition(kind: str, status: str, reason: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": "",
        "lastTransitionTime": _TS,
        "lastUpdateTime": _TS,
    }


def _owner(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def rollout_status(
    replicas: int, updated: int, available: int, generation: int = 2, observed: int = 2
) -> dict[str, Any]:
    """A Deployment ``status`` block for ``script``."""
    return {
        "observedGeneration": observed,
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": [_condition("Progressing", "True", "ReplicaSetUpdated")],
    }


def deadline_exceeded_status(replicas: int = 1) -> dict[str, Any]:
    """A Deployment ``status`` whose Progressing condition says ProgressDeadlineExceeded."""
    status = rollout_status(replicas + 1, 1, 0)
    status["conditions"] = [_condition("Progressing", "False", "ProgressDeadlineExceeded")]
    return status


# --- label and field selectors -------------------------------------------------------------------------


def _split_selector(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def matches_labels(labels: dict[str, str], selector: str) -> bool:
    """``=``, ``==``, ``!=``, ``k``, ``!k``, ``k in (…)``, ``k notin (…)``; comma = AND."""
    for term in _split_selector(selector):
        if " notin " in term or " in " in term:
            key, op, rest = term.partition(" notin ") if " notin " in term else term.partition(" in ")
            values = {v.strip() for v in rest.strip().strip("()").split(",")}
            has = labels.get(key.strip())
            if ("notin" in op) == (has in values):
                return False
        elif "!=" in term:
            key, _, value = term.partition("!=")
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, _, value = term.replace("==", "=").partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: dict[str, Any], dotted: str) -> str:
    node: Any = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


def matches_fields(obj: dict[str, Any], selector: str) -> bool:
    """``metadata.name``, ``spec.nodeName``, ``status.phase``, … with ``=``, ``==``, ``!=``."""
    for term in _split_selector(selector):
        neg = "!=" in term
        key, _, value = term.replace("==", "=").partition("!=" if neg else "=")
        if (_field(obj, key.strip()) == value.strip()) == neg:
            return False
    return True


# --- the server ---------------------------------------------------------------------------------------


class KubeApiStandin:
    """The store, the scripts and the HTTP server; ``kubeconfig(dir)`` writes a kubeconfig pointing here."""

    def __init__(self, token: str = "standin-token") -> None:  # noqa: S107 - a test token
        self.token = token
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.scripts: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
        self.forbidden: set[tuple[str, str]] = set()  # (verb, plural) answered 403
        self._lock = threading.Lock()
        self.server = StandinServer(self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    @staticmethod
    def _key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
        prefix, plural, namespaced = KINDS[obj["kind"]]
        meta = obj["metadata"]
        return prefix, plural, meta.get("namespace", "") if namespaced else "", meta["name"]

    def add(self, *objs: dict[str, Any]) -> None:
        """Put objects in the store (replacing same-named ones)."""
        with self._lock:
            for obj in objs:
                self.objects[self._key(obj)] = copy.deepcopy(obj)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        prefix, plural, namespaced = KINDS[kind]
        with self._lock:
            self.objects.pop((prefix, plural, namespace if namespaced else "", name), None)

    def get_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        prefix, plural, namespaced = KINDS[kind]
        return self.objects.get((prefix, plural, namespace if namespaced else "", name))

    def script(self, kind: str, namespace: str, name: str, statuses: list[dict[str, Any]]) -> None:
        """Each GET of this object takes the next ``status`` block; the last one sticks."""
        prefix, plural, namespaced = KINDS[kind]
        with self._lock:
            self.scripts[(prefix, plural, namespace if namespaced else "", name)] = list(statuses)

    def kubeconfig(self, directory: Path, *, token: str | None = None, namespace: str = "default") -> Path:
        """A kubeconfig file for this server (plain HTTP, bearer token)."""
        path = directory / "kubeconfig"
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: standin\n"
            f"clusters:\n- name: standin\n  cluster:\n    server: {self.url}\n"
            f"contexts:\n- name: standin\n  context:\n    cluster: standin\n    user: standin\n"
            f"    namespace: {namespace}\n"
            f"users:\n- name: standin\n  user:\n    token: {self.token if token is None else token}\n",
            encoding="utf-8",
        )
        return path

    # HTTP ---------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return status_error(401, "Unauthorized", "Unauthorized")
        if req.path == "/version":
            return Response.json(
                {
                    "major": "1",
                    "minor": "34",
                    "gitVersion": "v1.34.2",
                    "gitCommit": "0" * 40,
                    "gitTreeState": "clean",
                    "buildDate": _TS,
                    "goVersion": "go1.24.9",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                }
            )
        route = self._route(req.path)
        if route is None:
            return status_error(404, "NotFound", "the server could not find the requested resource")
        prefix, plural, namespace, name = route
        kind, _namespaced = _BY_PLURAL[(prefix, plural)]
        verb = ("get" if name else "list") if req.method == "GET" else req.method.lower()
        if (verb, plural) in self.forbidden:
            return status_error(
                403,
                "Forbidden",
                f'{plural} is forbidden: User "system:serviceaccount:homeops:homeops" cannot {verb} resource '
                f'"{plural}" in API group "{prefix.split("/")[2] if prefix.startswith("/apis") else ""}"',
            )
        if req.method != "GET":
            return status_error(405, "MethodNotAllowed", f"{req.method} is not supported by this stand-in")
        if name:
            return self._get(prefix, plural, namespace, name, kind)
        return self._list(prefix, plural, namespace, kind, req)

    @staticmethod
    def _route(path: str) -> tuple[str, str, str, str] | None:
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            prefix, rest = "/api/v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            prefix, rest = f"/apis/{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2 or (prefix, rest[0]) not in _BY_PLURAL:
            return None
        return prefix, rest[0], namespace, rest[1] if len(rest) == 2 else ""

    def _get(self, prefix: str, plural: str, namespace: str, name: str, kind: str) -> Response:
        key = (prefix, plural, namespace, name)
        with self._lock:
            obj = self.objects.get(key)
            if obj is None:
                return status_error(
                    404,
                    "NotFound",
                    f'{plural}.{_group(prefix)} "{name}" not found'.replace(".core", ""),
                    {"name": name, "kind": plural},
                )
            steps = self.scripts.get(key)
            if steps:
                obj["status"] = copy.deepcopy(steps.pop(0) if len(steps) > 1 else steps[0])
            return Response.json(copy.deepcopy(obj))

    def _list(self, prefix: str, plural: str, namespace: str, kind: str, req: Request) -> Response:
        labels = (req.query.get("labelSelector") or [""])[0]
        fields = (req.query.get("fieldSelector") or [""])[0]
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for (p, pl, ns, _n), obj in sorted(self.objects.items())
                if p == prefix
                and pl == plural
                and (not namespace or ns == namespace)
                and matches_labels(obj["metadata"].get("labels") or {}, labels)
                and matches_fields(obj, fields)
            ]
        return Response.json(
            {
                "kind": f"{kind}List",
                "apiVersion": prefix.removeprefix("/apis/").removeprefix("/api/"),
                "metadata": {"resourceVersion": "100", "continue": ""},
                "items": items,
            }
        )


def _group(prefix: str) -> str:
    return prefix.split("/")[2] if prefix.startswith("/apis/") else "core"


@pytest.fixture
def kube_api() -> Iterator[KubeApiStandin]:
    """A fresh, empty Kubernetes API stand-in for one test."""
    api = KubeApiStandin()
    api.server.start()
    try:
        yield api
    finally:
        api.server.stop()
