"""Adapter: the OCI distribution API calls (manifests, blobs, catalog, tags, deletes) on top of the
per-host session and retrying transport in ``oci_session`` and ``oci_transport`` (specs/registry.md §3.1).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx

from homeops.registry.auth import next_link
from homeops.registry.media import ACCEPT
from homeops.registry.oci_session import AuthSession
from homeops.registry.oci_transport import ClientOptions, RequestFailed, backoff

# ClientOptions and RequestFailed are part of the client's face: callers import them from here.
__all__ = [
    "BlobHead",
    "BlobRead",
    "ClientOptions",
    "ManifestReply",
    "RegistryClient",
    "RequestFailed",
    "parse_json_object",
]

MANIFEST_LIMIT = 4 * 1024 * 1024
PAGE_LIMIT = 10 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ManifestReply:
    status: int
    body: bytes
    content_type: str
    digest_header: str | None
    too_big: bool = False


@dataclass(frozen=True)
class BlobHead:
    status: int
    length: int | None


@dataclass(frozen=True)
class BlobRead:
    status: int
    size: int
    digest: str
    truncated: bool = False


class RegistryClient(AuthSession):
    """One client per run; thread-safe; used by up to ``concurrency`` workers at once."""

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_manifest(self, host: str, repo: str, ref: str) -> ManifestReply:
        """``GET /v2/<repo>/manifests/<ref>`` reading at most 4 MiB; 404 comes back as a reply."""
        path = f"/v2/{repo}/manifests/{ref}"
        with self.request(host, "GET", path, scope=f"repository:{repo}:pull", accept=ACCEPT) as resp:
            if resp.status_code >= 500 or resp.status_code in (408, 429):
                raise self.server_error("GET", path, resp)
            if resp.status_code != 200:
                with contextlib.suppress(httpx.HTTPError):
                    resp.read()
                return ManifestReply(resp.status_code, resp.content, "", None)
            try:
                body = self._read_limited(resp, MANIFEST_LIMIT)
            except httpx.TransportError as exc:
                raise self._transport_failure(host, exc) from None
            return ManifestReply(
                200,
                body or b"",
                resp.headers.get("Content-Type", ""),
                resp.headers.get("Docker-Content-Digest"),
                too_big=body is None,
            )

    def head_blob(self, host: str, repo: str, digest: str) -> BlobHead:
        """``HEAD /v2/<repo>/blobs/<d>`` without Accept."""
        path = f"/v2/{repo}/blobs/{digest}"
        with self.request(host, "HEAD", path, scope=f"repository:{repo}:pull", follow=True) as resp:
            if resp.status_code >= 500 or resp.status_code in (408, 429):
                raise self.server_error("HEAD", path, resp)
            length = resp.headers.get("Content-Length")
            return BlobHead(resp.status_code, int(length) if length and length.isdigit() else None)

    def read_blob(self, host: str, repo: str, digest: str) -> BlobRead:
        """Streamed ``GET`` of a blob in 1 MiB chunks, re-hashed; a body cut short is retried."""
        path = f"/v2/{repo}/blobs/{digest}"
        algo = digest.split(":", 1)[0]
        attempts = 0
        while True:
            attempts += 1
            hasher = hashlib.new(algo)
            size = 0
            with self.request(host, "GET", path, scope=f"repository:{repo}:pull", follow=True) as resp:
                if resp.status_code >= 500 or resp.status_code in (408, 429):
                    raise self.server_error("GET", path, resp)
                if resp.status_code != 200:
                    return BlobRead(resp.status_code, 0, "")
                expected = resp.headers.get("Content-Length")
                try:
                    for chunk in resp.iter_raw(CHUNK):
                        hasher.update(chunk)
                        size += len(chunk)
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout) as exc:
                    if attempts > self.options.retries:
                        if isinstance(exc, httpx.ReadTimeout):
                            raise self._transport_failure(host, exc) from None
                        return BlobRead(200, size, "", truncated=True)
                    self._sleep(backoff(attempts, self._rand))
                    continue
                short = expected is not None and expected.isdigit() and size < int(expected)
                if short:
                    if attempts > self.options.retries:
                        return BlobRead(200, size, f"{algo}:{hasher.hexdigest()}", truncated=True)
                    self._sleep(backoff(attempts, self._rand))
                    continue
                return BlobRead(200, size, f"{algo}:{hasher.hexdigest()}")

    def get_blob_bytes(self, host: str, repo: str, digest: str, limit: int = MANIFEST_LIMIT) -> bytes | None:
        """A small blob (an image config) in memory; None on 404 or when it is larger than ``limit``."""
        path = f"/v2/{repo}/blobs/{digest}"
        with self.request(host, "GET", path, scope=f"repository:{repo}:pull", follow=True) as resp:
            if resp.status_code >= 500 or resp.status_code in (408, 429):
                raise self.server_error("GET", path, resp)
            if resp.status_code != 200:
                return None
            try:
                return self._read_limited(resp, limit)
            except httpx.TransportError as exc:
                raise self._transport_failure(host, exc) from None

    def _paginate(self, host: str, path: str, key: str, scope: str) -> list[str] | None:
        """Follow ``Link: rel="next"`` until absent; None when the first page is a 404."""
        items: list[str] = []
        seen: set[str] = set()
        url: str | None = path
        first = True
        while url is not None:
            if url in seen:
                raise RequestFailed("server_error", f"pagination loop at {url}")
            seen.add(url)
            with self.request(host, "GET", url, scope=scope) as resp:
                if resp.status_code == 404 and first:
                    resp.read()
                    return None
                if resp.status_code != 200:
                    raise self.server_error("GET", path, resp)
                body = self._read_limited(resp, PAGE_LIMIT)
                if body is None:
                    raise RequestFailed("server_error", f"GET {path}: page larger than 10 MiB")
                try:
                    page = json.loads(body).get(key) or []
                except (ValueError, AttributeError):
                    raise RequestFailed("server_error", f"GET {path}: not JSON") from None
                items.extend(str(x) for x in page)
                url = next_link(resp.headers.get("Link"), str(resp.request.url))
            first = False
        return items

    def catalog(self, host: str, page_size: int = 100) -> list[str]:
        """Every repository of ``_catalog``, following pagination."""
        result = self._paginate(host, f"/v2/_catalog?n={page_size}", "repositories", "registry:catalog:*")
        if result is None:
            raise RequestFailed("server_error", "GET /v2/_catalog → 404", 404)
        return result

    def tags(self, host: str, repo: str) -> list[str] | None:
        """Every tag of ``repo`` (None for 404 NAME_UNKNOWN)."""
        return self._paginate(host, f"/v2/{repo}/tags/list", "tags", f"repository:{repo}:pull")

    def delete_manifest(self, host: str, repo: str, digest: str) -> int:
        """``DELETE /v2/<repo>/manifests/<digest>``: the final status (a retried 404 counts as done)."""
        path = f"/v2/{repo}/manifests/{digest}"
        with self.request(host, "DELETE", path, scope=f"repository:{repo}:delete") as resp:
            resp.read()
            if resp.status_code >= 500:
                raise self.server_error("DELETE", path, resp)
            return resp.status_code


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
