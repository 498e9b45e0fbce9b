"""Real service: Debian's docker-registry (distribution 2.8) on 127.0.0.1, plus helpers that build and push a
small deterministic multi-arch image over HTTP (test-services.md §3.1, registry.md §8).

Fixtures: ``registry`` (session), ``registry_fn`` (function-scoped, for on-disk damage), ``registry_htpasswd``
(session, bcrypt cost 5, user ``ci``), ``registry_bearer`` (session, token auth against the stand-in) and
``registry_cache`` (function-scoped: a pull-through cache in front of a second registry). ``FaultProxy`` is a
fault-injecting reverse proxy for any of them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import socket
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services._common import free_port, require_binary, stop, wait_for

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
INTOTO = "application/vnd.in-toto+json"
HTPASSWD_USER, HTPASSWD_PASSWORD = "ci", "s3cret-pw"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class RegistryServer:
    """One docker-registry process; ``host`` is ``127.0.0.1:<port>``."""

    dir: Path
    port: int
    auth: str = ""  # "" | "htpasswd" | "token"
    token_realm: str = ""
    token_pem: str = ""
    proc: subprocess.Popen[bytes] | None = None
    binary: str = "docker-registry"
    extra: str = ""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    @property
    def root(self) -> Path:
        """The distribution root (holds docker/registry/v2)."""
        return self.dir / "data"

    @property
    def v2(self) -> Path:
        return self.root / "docker" / "registry" / "v2"

    @property
    def config(self) -> Path:
        return self.dir / "config.yml"

    def blob_data(self, digest: str) -> Path:
        hexd = digest.split(":", 1)[1]
        return self.v2 / "blobs" / "sha256" / hexd[:2] / hexd / "data"

    def write_config(self) -> None:
        auth = ""
        if self.auth == "htpasswd":
            auth = f"auth: {{htpasswd: {{realm: homeops-test, path: {self.dir}/htpasswd}}}}\n"
        elif self.auth == "token":
            auth = (
                f'auth: {{token: {{realm: "{self.token_realm}", service: homeops-test, '
                f"issuer: homeops-test-issuer, rootcertbundle: {self.token_pem}}}}}\n"
            )
        self.config.write_text(
            "version: 0.1\nlog: {level: warn}\nstorage:\n"
            "  cache: {blobdescriptor: inmemory}\n"
            f"  filesystem: {{rootdirectory: {self.root}}}\n"
            "  delete: {enabled: true}\n"
            f'http: {{addr: "127.0.0.1:{self.port}"}}\n' + auth + self.extra
        )

    def start(self) -> None:
        self.write_config()
        log = self.dir / "log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "serve", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )

        def ready() -> bool:
            return httpx.get(f"{self.base}/v2/", timeout=0.5).status_code in (200, 401)

        wait_for(ready, self.proc, log=log, what="docker-registry")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def restart(self) -> None:
        """Stop and start on the same port: flushes the in-memory blob descriptor cache."""
        self.stop()
        self.start()


def _start(tmp: Path, **kwargs: Any) -> RegistryServer:
    binary = require_binary("docker-registry", "Debian docker-registry")
    server = RegistryServer(tmp, free_port(), binary=binary, **kwargs)
    server.start()
    return server


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A shared anonymous registry; tests use unique repo names."""
    server = _start(tmp_path_factory.mktemp("registry"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def registry_fn(tmp_path: Path) -> Iterator[RegistryServer]:
    """A registry of this test's own, for on-disk damage and restarts."""
    (tmp_path / "reg").mkdir()
    server = _start(tmp_path / "reg")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def registry_cache(tmp_path: Path) -> Iterator[tuple[RegistryServer, RegistryServer]]:
    """(upstream, cache): a pull-through cache (``proxy: {remoteurl}``) in front of a registry of its own."""
    (tmp_path / "upstream").mkdir()
    (tmp_path / "cache").mkdir()
    upstream = _start(tmp_path / "upstream")
    try:
        cache = _start(tmp_path / "cache", extra=f'proxy: {{remoteurl: "{upstream.base}"}}\n')
        try:
            yield upstream, cache
        finally:
            cache.stop()
    finally:
        upstream.stop()


def write_htpasswd(path: Path, users: dict[str, str]) -> None:
    import bcrypt

    lines = [f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=5)).decode()}" for u, p in users.items()]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def registry_htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry behind htpasswd (bcrypt cost 5, realm homeops-test, user ci)."""
    d = tmp_path_factory.mktemp("registry-htpasswd")
    write_htpasswd(d / "htpasswd", {HTPASSWD_USER: HTPASSWD_PASSWORD})
    server = _start(d, auth="htpasswd")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry_bearer(
    tmp_path_factory: pytest.TempPathFactory, registry_token_server: Any
) -> Iterator[RegistryServer]:
    """A registry with token auth against the stand-in token server (user ci / tok-secret)."""
    d = tmp_path_factory.mktemp("registry-token")
    server = _start(
        d,
        auth="token",
        token_realm=registry_token_server.realm,
        token_pem=str(registry_token_server.pem_path),
    )
    try:
        yield server
    finally:
        server.stop()


class FaultProxy:
    """Forwards to ``upstream``; ``plan`` maps a substring of ``"<METHOD> <path>"`` to a list of faults used up
    in order: ``503``, ``429``, ``reset`` (half the body, then a reset) or ``hold`` (no answer: sets ``held``
    and waits for ``release``, e.g. to interrupt a client while its DELETE is in flight)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.http = httpx.Client(timeout=10)
        self.plan: dict[str, list[str]] = {}
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.held, self.release = threading.Event(), threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return

            def handle_one(self) -> None:
                with outer.lock:
                    outer.seen.append((self.command, self.path))
                    fault = None
                    for key, faults in outer.plan.items():
                        if key in f"{self.command} {self.path}" and faults:
                            fault = faults.pop(0)
                            break
                if fault == "503":
                    return self.reply(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
                if fault == "429":
                    return self.reply(429, b"", {"Retry-After": "1"})
                if fault == "hold":
                    outer.held.set()
                    outer.release.wait(30)
                    self.close_connection = True
                    return None
                up = outer.http.request(
                    self.command,
                    outer.upstream + self.path,
                    headers={"Accept": self.headers.get("Accept", "*/*")},
                )
                headers = {
                    k: v
                    for k, v in up.headers.items()
                    if k.lower() in ("content-type", "docker-content-digest")
                }
                if fault == "reset":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(up.content)))
                    self.end_headers()
                    self.wfile.write(up.content[: len(up.content) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                return self.reply(
                    up.status_code, up.content, headers, length=up.headers.get("Content-Length")
                )

            def reply(
                self,
                status: int,
                body: bytes,
                headers: dict[str, str] | None = None,
                length: str | None = None,
            ) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header(
                    "Content-Length", length if self.command == "HEAD" and length else str(len(body))
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_DELETE = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.http.close()


# ---- pushing ---------------------------------------------------------------------------------------------


class Pusher:
    """Push blobs and manifests over HTTP with httpx (Basic or Bearer when asked)."""

    def __init__(self, server: RegistryServer, user: str = "", password: str = "") -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.base, timeout=10)
        self.user, self.password = user, password
        self._bearer: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    def _headers(self, repo: str) -> dict[str, str]:
        if not self.user:
            return {}
        if self.server.auth == "token":
            if repo not in self._bearer:
                basic = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
                r = httpx.get(
                    self.server.token_realm,
                    params={"service": "homeops-test", "scope": f"repository:{repo}:pull,push,delete"},
                    headers={"Authorization": f"Basic {basic}"},
                )
                r.raise_for_status()
                self._bearer[repo] = r.json()["token"]
            return {"Authorization": f"Bearer {self._bearer[repo]}"}
        basic = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}

    def blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        h = self._headers(repo)
        if self.client.head(f"/v2/{repo}/blobs/{digest}", headers=h).status_code == 200:
            return digest
        r = self.client.post(f"/v2/{repo}/blobs/uploads/", headers=h)
        assert r.status_code == 202, r.text
        location = httpx.URL(self.server.base).join(r.headers["Location"]).copy_add_param("digest", digest)
        r = self.client.put(location, content=data, headers={**h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return digest

    def manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        r = self.client.put(
            f"/v2/{repo}/manifests/{ref}",
            content=body,
            headers={**self._headers(repo), "Content-Type": media_type},
        )
        assert r.status_code == 201, r.text
        assert r.headers["Docker-Content-Digest"] == sha256(body)
        return sha256(body)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """(gzip bytes, diff_id) of a deterministic tar layer."""
    raw = _tar(files)
    return gzip.compress(raw, mtime=0), sha256(raw)


def desc(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class FixtureImage:
    """What was pushed: digests by role, and every blob's bytes."""

    repo: str
    tag: str
    index: str
    index_bytes: bytes
    children: dict[str, str] = field(
        default_factory=dict
    )  # "linux/amd64" | "linux/arm64" | "attestation" → digest
    configs: dict[str, str] = field(default_factory=dict)
    layers: dict[str, str] = field(default_factory=dict)  # "base" | "amd64" | "arm64" | "attestation"
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.repo}:{self.tag}"


def push_image(
    pusher: Pusher,
    repo: str,
    tag: str = "latest",
    *,
    created: str = "2026-11-01T00:00:00Z",
    salt: str = "",
    with_media_type: bool = True,
    archs: tuple[str, ...] = ("amd64", "arm64"),
) -> FixtureImage:
    """A multi-arch OCI index: shared base layer + one layer per arch, and a BuildKit-style attestation."""
    blobs: dict[str, bytes] = {}
    base, base_diff = layer({"etc/base.txt": b"homeops base layer\n"})
    blobs[sha256(base)] = base
    image = FixtureImage(repo, tag, "", b"")
    image.layers["base"] = sha256(base)
    entries = []
    for arch in archs:
        own, own_diff = layer({f"opt/{arch}.txt": f"{arch} {salt}\n".encode()})
        cfg = dumps(
            {
                "architecture": arch,
                "os": "linux",
                "created": created,
                "config": {"Cmd": ["/bin/true"]},
                "rootfs": {"type": "layers", "diff_ids": [base_diff, own_diff]},
            }
        )
        man = dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": desc(OCI_CONFIG, cfg),
                "layers": [desc(OCI_LAYER, base), desc(OCI_LAYER, own)],
            }
        )
        blobs[sha256(own)], blobs[sha256(cfg)] = own, cfg
        image.layers[arch], image.configs[arch] = sha256(own), sha256(cfg)
        image.children[f"linux/{arch}"] = sha256(man)
        entries.append((man, {"os": "linux", "architecture": arch}, None))
    statement = dumps({"_type": "https://in-toto.io/Statement/v0.1", "subject": [], "salt": salt})
    att_cfg = dumps(
        {"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "", "diff_ids": []}}
    )
    att = dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, att_cfg),
            "layers": [
                desc(
                    INTOTO,
                    statement,
                    annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
                )
            ],
        }
    )
    blobs[sha256(statement)], blobs[sha256(att_cfg)] = statement, att_cfg
    image.layers["attestation"], image.configs["attestation"] = sha256(statement), sha256(att_cfg)
    image.children["attestation"] = sha256(att)
    entries.append(
        (
            att,
            {"os": "unknown", "architecture": "unknown"},
            {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": image.children[f"linux/{archs[0]}"],
            },
        )
    )
    for data in blobs.values():
        pusher.blob(repo, data)
    manifests = []
    for man, platform, notes in entries:
        pusher.manifest(repo, sha256(man), man, OCI_MANIFEST)
        d = desc(OCI_MANIFEST, man, platform=platform)
        if notes:
            d["annotations"] = notes
        manifests.append(d)
    index: dict[str, Any] = {"schemaVersion": 2, "manifests": manifests}
    if with_media_type:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    index_bytes = dumps(index)
    image.index = pusher.manifest(repo, tag, index_bytes, OCI_INDEX)
    image.index_bytes = index_bytes
    image.blobs = blobs
    return image


def push_single(
    pusher: Pusher, repo: str, tag: str, *, created: str | None = "2026-11-01T00:00:00Z", salt: str = ""
) -> str:
    """A single-platform OCI image manifest; returns its digest."""
    own, own_diff = layer({"single.txt": f"single {salt}\n".encode()})
    cfg_obj: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [own_diff]},
    }
    if created:
        cfg_obj["created"] = created
    cfg = dumps(cfg_obj)
    pusher.blob(repo, own)
    pusher.blob(repo, cfg)
    man = dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, cfg),
            "layers": [desc(OCI_LAYER, own)],
        }
    )
    return pusher.manifest(repo, tag, man, OCI_MANIFEST)


@pytest.fixture
def pusher(registry: RegistryServer) -> Iterator[Pusher]:
    p = Pusher(registry)
    try:
        yield p
    finally:
        p.close()
