"""Unit: references, URLs, challenges, Link headers, classification, Docker config keys, tag selection."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from homeops.errors import UsageError
from homeops.registry.auth import next_link, parse_challenges
from homeops.registry.creds import HUB_KEY, from_docker_config, normalise_key
from homeops.registry.media import classify
from homeops.registry.probe import select_tags, split_pushgateway
from homeops.registry.ref import is_loopback, parse_reference, parse_registry_url

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "host", "repo", "tag", "digest"),
    [
        ("alpine", "registry-1.docker.io", "library/alpine", "latest", None),
        ("user/app:1.0", "registry-1.docker.io", "user/app", "1.0", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("127.0.0.1:5000/t/app:v1", "127.0.0.1:5000", "t/app", "v1", None),
        (
            f"forgejo.viktorbarzin.me/viktor/infra-ci:abc@{D}",
            "forgejo.viktorbarzin.me",
            "viktor/infra-ci",
            "abc",
            D,
        ),
        (f"reg.example/a@{D}", "reg.example", "a", None, D),
    ],
)
def test_parse_reference(text: str, host: str, repo: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.host, ref.repo, ref.tag, ref.digest) == (host, repo, tag, digest)
    assert ref.reference == (digest or tag)


@pytest.mark.parametrize(
    "text", ["", "UPPER/case", "a b", "x@sha256:abc", "x@md5:" + "a" * 32, "http://x/y", "x:tag!"]
)
def test_bad_references(text: str) -> None:
    with pytest.raises(UsageError):
        parse_reference(text)


def test_urls_and_loopback() -> None:
    assert parse_registry_url("http://forgejo.forgejo.svc.cluster.local").plain_http
    assert parse_registry_url("127.0.0.1:5000/").host == "127.0.0.1:5000"
    with pytest.raises(UsageError):
        parse_registry_url("https://x/v2/")
    assert is_loopback("127.3.4.5:80") and is_loopback("localhost") and is_loopback("[::1]:5000")
    assert not is_loopback("10.0.20.10:5000")


def test_challenges() -> None:
    header = (
        'Basic realm="a, b", Bearer realm="https://auth/token",service="reg",'
        'scope="repository:t/app:pull,push",error="insufficient_scope", NEGOTIATE x=1,y="q\\"z"'
    )
    got = parse_challenges(header)
    assert [c.scheme for c in got] == ["basic", "bearer", "negotiate"]
    assert got[0].params == {"realm": "a, b"}
    assert got[1].params["scope"] == "repository:t/app:pull,push"
    assert got[1].params["error"] == "insufficient_scope"
    assert got[2].params == {"x": "1", "y": 'q"z'}


def test_next_link() -> None:
    url = "http://r/v2/_catalog?n=1"
    assert (
        next_link('</v2/_catalog?last=t%2Fapp&n=1>; rel="next"', url)
        == "http://r/v2/_catalog?last=t%2Fapp&n=1"
    )
    assert next_link(None, url) is None


@pytest.mark.parametrize(
    ("ctype", "body", "kind", "problem"),
    [
        ("application/vnd.oci.image.index.v1+json", {"manifests": []}, "index", False),
        ("application/vnd.oci.image.index.v1+json; charset=utf-8", {"manifests": []}, "index", False),
        ("application/json", {"config": {}}, "image", False),
        ("", {"blobs": []}, "artifact", False),
        ("", {"schemaVersion": 1}, "schema1", True),
        ("application/vnd.docker.distribution.manifest.v1+prettyjws", {}, "schema1", True),
        (
            "application/vnd.oci.image.manifest.v1+json",
            {"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []},
            "index",
            True,
        ),
        ("text/html", {}, "unknown", True),
    ],
)
def test_classify(ctype: str, body: dict[str, object], kind: str, problem: bool) -> None:
    got, detail = classify(ctype, body)
    assert got == kind and (detail is not None) == problem


def test_docker_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert normalise_key("https://index.docker.io/v1/") == HUB_KEY
    assert normalise_key("registry-1.docker.io") == HUB_KEY
    assert normalise_key("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000"
    cfg = tmp_path / "config.json"
    auth = base64.b64encode(b"me:pa:ss").decode()
    cfg.write_text(
        json.dumps(
            {"auths": {"https://index.docker.io/v1/": {"auth": auth}, "x.example": {"identitytoken": "t"}}}
        )
    )
    creds = from_docker_config("registry-1.docker.io", cfg)
    assert creds is not None and (creds.username, creds.password) == ("me", "pa:ss")
    assert "pa:ss" not in repr(creds)
    assert from_docker_config("x.example", cfg) is None
    assert "identitytoken" in capsys.readouterr().err


def test_select_tags() -> None:
    tags = ["b1", "z9", "latest", "v1", "c3", "a2", "m5"]
    created = {
        "b1": "2026-01-02T00:00:00Z",
        "z9": "2026-01-01T00:00:00Z",
        "v1": "2026-01-05T00:00:00Z",
        "latest": None,
    }
    assert select_tags(tags, 2, "created", created) == ["latest", "v1", "b1"]
    assert select_tags(tags, 3, "name", {}) == ["latest", "z9", "v1", "m5"]
    assert select_tags(["v2", "v10", "v9"], 2, "name", {}) == ["v10", "v9"]
    assert select_tags(tags, 0, "created", {}) == tags


def test_split_pushgateway() -> None:
    assert split_pushgateway("http://pgw:9091/metrics/job/forgejo-integrity-probe", None) == (
        "http://pgw:9091",
        "forgejo-integrity-probe",
    )
    assert split_pushgateway("http://pgw:9091/", None) == ("http://pgw:9091", None)
    with pytest.raises(UsageError):
        split_pushgateway("http://pgw/metrics/job/a", "b")
