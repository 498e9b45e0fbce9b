"""Stand-in: Forgejo's package API plus its OCI registry (``/v2/*`` proxied to a real docker-registry).

Behaves like Forgejo for what homeops uses (registry.md §8): ``GET /api/v1/user``; ``GET /api/v1/orgs/{org}``;
``GET /api/v1/packages/{owner}?type=container&limit&page`` (one entry per tag and per ``sha256:`` manifest, with
``created_at``, then an empty page); ``DELETE /api/v1/packages/{owner}/container/{name}/{version}`` (204, 404,
or 403 for a read-only token). ``/v2`` accepts Basic ``user:<token>``, serves ``tags/list`` sorted lexically,
and a deleted digest-named version answers 404 (it is deleted from the real registry).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.standins._http import Request, Response, StandinServer

TOKENS = {"rw-token": ("viktor", True), "ro-token": ("ci-pusher", False)}


@dataclass
class ForgejoStandin:
    upstream: str  # http://127.0.0.1:<port> of the real registry holding <owner>/<name> repos
    owner: str = "viktor"
    versions: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, version) → created_at
    deleted_tags: set[tuple[str, str]] = field(default_factory=set)
    orgs: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.server = StandinServer(self.handle)
        self.url = self.server.url
        self.host = self.url.split("://", 1)[1]
        self.http = httpx.Client(base_url=self.upstream, timeout=10)

    def add(self, name: str, version: str, created_at: str) -> None:
        self.versions[(name, version)] = created_at

    def _user(self, req: Request) -> tuple[str, bool] | None:
        header = req.headers.get("Authorization", "")
        if header.startswith("token "):
            return TOKENS.get(header[6:])
        if header.startswith("Basic "):
            _user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return TOKENS.get(secret)
        return None

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/v2"):
            return self.registry(req)
        who = self._user(req)
        if who is None:
            return Response.json({"message": "token is required"}, 401)
        parts = [unquote(p) for p in req.path.split("/")[1:]]
        if parts[:3] == ["api", "v1", "user"]:
            return Response.json({"login": who[0], "id": 1})
        if parts[:3] == ["api", "v1", "orgs"] and len(parts) == 4:
            return Response.json({"username": parts[3]}) if parts[3] in self.orgs else Response.json({}, 404)
        if parts[:3] == ["api", "v1", "packages"] and len(parts) == 4 and req.method == "GET":
            limit = int(req.query.get("limit", ["50"])[0])
            page = int(req.query.get("page", ["1"])[0])
            rows = sorted(self.versions.items(), key=lambda kv: kv[1], reverse=True)
            chunk = rows[(page - 1) * limit : page * limit]
            return Response.json(
                [
                    {
                        "id": i,
                        "owner": {"login": self.owner},
                        "name": n,
                        "type": "container",
                        "version": v,
                        "created_at": c,
                    }
                    for i, ((n, v), c) in enumerate(chunk)
                ]
            )
        if parts[:3] == ["api", "v1", "packages"] and len(parts) == 7 and req.method == "DELETE":
            _, _, _, owner, _kind, name, version = parts
            if not who[1] or who[0] != owner:
                return Response.json({"message": "forbidden"}, 403)
            if (name, version) not in self.versions:
                return Response.json({"message": "not found"}, 404)
            del self.versions[(name, version)]
            if version.startswith("sha256:"):
                self.http.delete(f"/v2/{owner}/{name}/manifests/{version}")
            else:
                self.deleted_tags.add((name, version))
            return Response(204)
        return Response.json({"message": "not found"}, 404)

    def registry(self, req: Request) -> Response:
        if self._user(req) is None:
            challenge = f'Bearer realm="{self.url}/v2/token",service="container_registry",scope="*"'
            return Response(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
        parts = req.path.split("/")
        if len(parts) >= 6 and parts[-2] == "manifests":
            name, ref = parts[3], parts[-1]
            if not ref.startswith("sha256:") and (name, ref) in self.deleted_tags:
                body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
                return Response(404, body, {"Content-Type": "application/json"})
        headers = {k: v for k, v in req.headers.items() if k.lower() in ("accept",)}
        method = "GET" if req.method == "HEAD" else req.method
        up = self.http.request(method, req.path, headers=headers)
        body = up.content
        if parts[-2:] == ["tags", "list"] and up.status_code == 200:
            data = json.loads(body)
            name = parts[3]
            data["tags"] = sorted(t for t in data.get("tags") or [] if (name, t) not in self.deleted_tags)
            body = json.dumps(data).encode()
        keep = ("content-type", "docker-content-digest", "link")
        return Response(up.status_code, body, {k: v for k, v in up.headers.items() if k.lower() in keep})


@pytest.fixture
def forgejo(registry_fn: Any) -> Iterator[ForgejoStandin]:
    """A Forgejo stand-in in front of this test's own registry."""
    standin = ForgejoStandin(registry_fn.base)
    standin.server.start()
    try:
        yield standin
    finally:
        standin.server.stop()
        standin.http.close()
