"""Benchmark: `registry scan` against the original fix-broken-blobs algorithm (specs/registry.md §9 item 3).

Synthetic filesystem store: 200 repos in 10 groups, 30,000 `_layers` links over 20,000 blobs with 5 % of the data
missing, 30 image-manifest revisions and tags (with history) per repo. Baseline, rewritten from its description:
`os.walk` over the whole `repositories` tree with `isfile` on the link and on the blob data for every link.
Warm cache only (dropping caches needs root on the host and disturbs other work). Run by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeops.registry.scan import scan

MT = "application/vnd.oci.image.manifest.v1+json"


def link(path: Path, digest: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "link").write_bytes(digest.encode())


def build(root: Path) -> int:
    rng = random.Random(7)
    v2 = root / "docker" / "registry" / "v2"
    blobs = [hashlib.sha256(f"blob{i}".encode()).hexdigest() for i in range(20_000)]
    missing = set(rng.sample(range(20_000), 1_000))
    for i, h in enumerate(blobs):
        if i not in missing:
            d = v2 / "blobs" / "sha256" / h[:2] / h
            d.mkdir(parents=True, exist_ok=True)
            (d / "data").write_bytes(b"x")
    links = 0
    for r in range(200):
        repo = v2 / "repositories" / f"group{r % 10}" / f"app{r}"
        chosen = rng.sample(range(20_000), 150)
        for i in chosen:
            link(repo / "_layers" / "sha256" / blobs[i], f"sha256:{blobs[i]}")
            links += 1
        for t in range(30):
            a, b = chosen[t % 150], chosen[(t + 1) % 150]
            body = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MT,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": f"sha256:{blobs[a]}",
                        "size": 1,
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": f"sha256:{blobs[b]}",
                            "size": 1,
                        }
                    ],
                    "annotations": {"r": str(r), "t": str(t)},
                }
            ).encode()
            h = hashlib.sha256(body).hexdigest()
            d = v2 / "blobs" / "sha256" / h[:2] / h
            d.mkdir(parents=True, exist_ok=True)
            (d / "data").write_bytes(body)
            link(repo / "_manifests" / "revisions" / "sha256" / h, f"sha256:{h}")
            link(repo / "_manifests" / "tags" / f"t{t}" / "current", f"sha256:{h}")
            link(repo / "_manifests" / "tags" / f"t{t}" / "index" / "sha256" / h, f"sha256:{h}")
    return links


def baseline(root: Path) -> tuple[float, int]:
    """The original layer pass: walk everything, isfile on every link and its blob data."""
    t0 = time.perf_counter()
    v2 = root / "docker" / "registry" / "v2"
    orphans = 0
    for dirpath, _dirs, files in os.walk(v2 / "repositories"):
        if "link" in files and "/_layers/sha256/" in dirpath:
            hexd = os.path.basename(dirpath)
            if os.path.isfile(os.path.join(dirpath, "link")) and not os.path.isfile(
                v2 / "blobs" / "sha256" / hexd[:2] / hexd / "data"
            ):
                orphans += 1
    return time.perf_counter() - t0, orphans


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    try:
        t0 = time.perf_counter()
        links = build(tmp / "store")
        print(f"built {links} links in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        baseline(tmp / "store")  # warm the dentry cache
        rows = [
            "| what | seconds (best of 3) | orphan layer links | ratio to baseline |",
            "|---|---:|---:|---:|",
        ]
        base = min(baseline(tmp / "store") for _ in range(3))
        full = []
        for _ in range(3):
            t = time.perf_counter()
            report = scan(tmp / "store", caches=set(), stale_hours=24, fix=False, dry_run=True)
            full.append(time.perf_counter() - t)
        found = sum(1 for r in report.registries for f in r.findings if f.kind == "orphan_layer_link")
        rows.append(
            f"| baseline: os.walk + isfile per link (layer pass only) | {base[0]:.2f} | {base[1]} | 1.00× |"
        )
        rows.append(
            f"| homeops scan, full (layers, 6,000 revisions hashed and parsed, tags) | {min(full):.2f} | {found} | "
            f"{min(full) / base[0]:.2f}× |"
        )
        print("\n".join(rows))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
