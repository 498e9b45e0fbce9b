"""Benchmark: `registry verify` against the original design and skopeo, and `--deep` against sha256sum
(specs/registry.md §9, items 1 and 2). Run by hand: `.venv/bin/python benchmarks/registry_verify.py`.

Starts its own docker-registry on 127.0.0.1 (plain, htpasswd cost 5, token auth), pushes 20 repos × 6 tags of the
fixture image (an index with 3 children and 7 blobs on a shared base layer), prints a Markdown section.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeops.registry.creds import Credentials
from homeops.registry.oci import ClientOptions, RegistryClient
from homeops.registry.ref import parse_reference
from homeops.registry.verify import VerifyReport, Walker
from tests.services._common import free_port
from tests.services.registry import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    Pusher,
    RegistryServer,
    desc,
    dumps,
    push_image,
    write_htpasswd,
)
from tests.standins.registry_token import TokenServer

REPOS, TAGS = 20, 6
ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"


def start(d: Path, **kw: object) -> RegistryServer:
    d.mkdir(parents=True, exist_ok=True)
    server = RegistryServer(d, free_port(), **kw)  # type: ignore[arg-type]
    server.start()
    return server


def seed(server: RegistryServer, user: str = "", pw: str = "") -> list[str]:
    p = Pusher(server, user, pw)
    refs = []
    for r in range(REPOS):
        for t in range(TAGS):
            img = push_image(p, f"bench/r{r:02d}", f"t{t}", salt=f"{r}-{t}")
            refs.append(f"{server.host}/{img.repo}:{img.tag}")
    p.close()
    return refs


def homeops_verify(
    refs: list[str], creds: Credentials | None = None, deep: bool = False
) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    with (
        RegistryClient(ClientOptions(concurrency=8), creds) as client,
        Walker(client, deep=deep, concurrency=8) as w,
    ):
        parsed = [parse_reference(r) for r in refs]
        for p in parsed:
            w.prefetch(p)
        report = VerifyReport("head", [w.verify(p) for p in parsed])
        requests = client.requests
    took = time.perf_counter() - t0
    assert report.exit_code() == 0, report.render_human()[:500]
    objects = sum(i.manifests_checked + i.blobs_checked for i in report.images)
    return took, objects, requests


def _one(host: str, method: str, path: str) -> bytes:
    """One request on a fresh TCP connection (stdlib http.client: no client set-up cost beyond the connect)."""
    name, port = host.split(":")
    conn = http.client.HTTPConnection(name, int(port), timeout=30)
    try:
        conn.request(method, path, headers={"Accept": ACCEPT})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path} → {resp.status}")
        return body
    finally:
        conn.close()


def original_design(refs: list[str]) -> tuple[float, int]:
    """One request at a time, a new connection for each, HEAD-only blobs (the CI step's shape)."""
    t0 = time.perf_counter()
    n = 0
    for ref in refs:
        host, rest = ref.split("/", 1)
        repo, tag = rest.rsplit(":", 1)
        index = json.loads(_one(host, "GET", f"/v2/{repo}/manifests/{tag}"))
        n += 1
        for child in index["manifests"]:
            man = json.loads(_one(host, "GET", f"/v2/{repo}/manifests/{child['digest']}"))
            n += 1
            for blob in [man["config"], *man["layers"]]:
                _one(host, "HEAD", f"/v2/{repo}/blobs/{blob['digest']}")
                n += 1
    return time.perf_counter() - t0, n


def original_curl(refs: list[str]) -> tuple[float, int]:
    """The same walk with one curl process per request (spawn cost included)."""
    t0 = time.perf_counter()
    n = 0
    for ref in refs:
        host, rest = ref.split("/", 1)
        repo, tag = rest.rsplit(":", 1)

        def get(path: str, host: str = host) -> dict[str, object]:
            out = subprocess.run(
                ["curl", "-sf", "-H", f"Accept: {ACCEPT}", f"http://{host}{path}"],
                capture_output=True,
                check=True,
            ).stdout
            return json.loads(out)  # type: ignore[no-any-return]

        index = get(f"/v2/{repo}/manifests/{tag}")
        n += 1
        for child in index["manifests"]:  # type: ignore[union-attr]
            man = get(f"/v2/{repo}/manifests/{child['digest']}")
            n += 1
            for blob in [man["config"], *man["layers"]]:  # type: ignore[list-item]
                subprocess.run(
                    ["curl", "-sfI", f"http://{host}/v2/{repo}/blobs/{blob['digest']}"],
                    capture_output=True,
                    check=True,
                )
                n += 1
    return time.perf_counter() - t0, n


def skopeo(refs: list[str]) -> float:
    t0 = time.perf_counter()
    for ref in refs:
        subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"], capture_output=True, check=True
        )
    return time.perf_counter() - t0


def deep_case(server: RegistryServer, count: int, size: int, repo: str) -> tuple[float, float, float, int]:
    """(homeops --deep s, sha256sum s, hashlib s, bytes) over ``count`` random blobs of ``size`` bytes."""
    p = Pusher(server)
    blobs = [os.urandom(size) for _ in range(count)]
    layers = []
    for b in blobs:
        p.blob(repo, b)
        layers.append(desc(OCI_LAYER, b))
    cfg = dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
    p.blob(repo, cfg)
    p.manifest(
        repo,
        "big",
        dumps(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(OCI_CONFIG, cfg), "layers": layers}
        ),
        OCI_MANIFEST,
    )
    p.close()
    files = [str(server.blob_data("sha256:" + hashlib.sha256(b).hexdigest())) for b in blobs]
    del blobs
    took_h, _, _ = homeops_verify([f"{server.host}/{repo}:big"], deep=True)
    t0 = time.perf_counter()
    for i in range(0, len(files), 500):
        subprocess.run(["sha256sum", *files[i : i + 500]], capture_output=True, check=True)
    took_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in files:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    took_l = time.perf_counter() - t0
    return took_h, took_s, took_l, count * size


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    plain = start(tmp / "plain")
    rows: list[str] = []
    try:
        t0 = time.perf_counter()
        refs = seed(plain)
        print(f"seeded {len(refs)} tags in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        homeops_verify(refs[:5])  # warm
        a, objects, requests = homeops_verify(refs)
        b, nb = original_design(refs)
        sub = refs[:20]
        bc, nbc = original_curl(sub)
        c = skopeo(refs)
        rows.append("| what | seconds | objects | objects/s | a ÷ x |")
        rows.append("|---|---:|---:|---:|---:|")
        rows.append(
            f"| (a) homeops verify, HEAD, concurrency 8 ({requests} requests, memoised) | {a:.2f} | {objects} | {objects / a:,.0f} | 1.00× |"
        )
        rows.append(
            f"| (b) original design in Python: 1 request at a time, new connection each (http.client) | {b:.2f} | {nb} | {nb / b:,.0f} | {(objects / a) / (nb / b):.2f}× |"
        )
        rows.append(
            f"| (b') original design with one curl per request (first 20 tags) | {bc:.2f} | {nbc} | {nbc / bc:,.0f} | {(objects / a) / (nbc / bc):.2f}× |"
        )
        rows.append(
            f"| (c) skopeo inspect per tag ({1000 * c / len(refs):.0f} ms/tag; checks far less) | {c:.2f} | {len(refs)} tags | {len(refs) / c:,.1f} tags/s | {(len(refs) / a) / (len(refs) / c):.2f}× (tags/s) |"
        )

        hp = start(tmp / "htpasswd", auth="htpasswd")
        write_htpasswd(hp.dir / "htpasswd", {"ci": "pw"})
        hp.restart()
        hrefs = seed(hp, "ci", "pw")
        ah, oh, _ = homeops_verify(hrefs, Credentials(hp.host, "ci", "pw"))
        hp.stop()
        rows.append(
            f"| (a) with htpasswd Basic, bcrypt cost 5 (bcrypt on every request) | {ah:.2f} | {oh} | {oh / ah:,.0f} | — |"
        )

        tok = TokenServer(tmp / "token.pem", {"ci": "pw"})
        tok.server.start()
        tp = start(tmp / "token", auth="token", token_realm=tok.realm, token_pem=str(tmp / "token.pem"))
        trefs = seed(tp, "ci", "pw")
        before = len(tok.token_requests())
        at, ot, _ = homeops_verify(trefs, Credentials(tp.host, "ci", "pw"))
        ntok = len(tok.token_requests()) - before
        tp.stop()
        tok.server.stop()
        rows.append(
            f"| (a) with token auth (stand-in token server; {ntok} token requests for {REPOS} repos) | {at:.2f} | {ot} | {ot / at:,.0f} | — |"
        )

        rows.append("")
        rows.append(
            "| deep case | homeops --deep | sha256sum | hashlib | MiB/s homeops | MiB/s sha256sum | homeops ÷ sha256sum (speed) |"
        )
        rows.append("|---|---:|---:|---:|---:|---:|---:|")
        for label, count, size in (("4 × 64 MiB", 4, 64 << 20), ("2,000 × 4 KiB", 2000, 4096)):
            h, s, lib, total = deep_case(plain, count, size, f"deep/{count}")
            mib = total / (1 << 20)
            rows.append(
                f"| {label} | {h:.2f} s | {s:.2f} s | {lib:.2f} s | {mib / h:,.0f} | {mib / s:,.0f} | {s / h:.2f}× |"
            )
    finally:
        plain.stop()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
