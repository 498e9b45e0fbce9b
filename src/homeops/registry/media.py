"""Logic: OCI and Docker media types, the Accept header, and manifest classification (§3.1). Pure."""

from __future__ import annotations

from typing import Any, Literal

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_ARTIFACT = "application/vnd.oci.artifact.manifest.v1+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

# Exactly this order (measured on distribution 2.8.2: without the index type an OCI index answers 404).
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST, OCI_ARTIFACT])

Kind = Literal["index", "image", "artifact", "schema1", "unknown"]
_BY_TYPE: dict[str, Kind] = {
    OCI_INDEX: "index",
    DOCKER_LIST: "index",
    OCI_MANIFEST: "image",
    DOCKER_MANIFEST: "image",
    OCI_ARTIFACT: "artifact",
    DOCKER_SCHEMA1: "schema1",
    DOCKER_SCHEMA1_SIGNED: "schema1",
}
_GENERIC = {"", "application/json", "text/plain", "application/octet-stream"}
MANIFEST_TYPES = frozenset(_BY_TYPE)

IMAGE_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
LAYER_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    }
)


def bare_type(content_type: str | None) -> str:
    """A Content-Type without parameters, lower-cased."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def kind_of_type(media_type: str | None) -> Kind:
    """The kind a media type names, or ``unknown``."""
    return _BY_TYPE.get(bare_type(media_type), "unknown")


def is_manifest_type(media_type: str | None) -> bool:
    """True for the manifest media types (and for none at all: an untyped descriptor is a manifest)."""
    return not media_type or bare_type(media_type) in MANIFEST_TYPES


def shape_kind(body: dict[str, Any]) -> Kind:
    """What the body's shape says when neither header nor ``mediaType`` is known."""
    if body.get("schemaVersion") == 1:
        return "schema1"
    if isinstance(body.get("manifests"), list):
        return "index"
    if isinstance(body.get("config"), dict):
        return "image"
    if isinstance(body.get("blobs"), list):
        return "artifact"
    return "unknown"


def classify(content_type: str | None, body: dict[str, Any]) -> tuple[Kind, str | None]:
    """(kind to walk as, problem detail or None), by Content-Type, then the body's ``mediaType``, then shape."""
    header = bare_type(content_type)
    body_type = body.get("mediaType") if isinstance(body.get("mediaType"), str) else None
    body_kind = kind_of_type(body_type) if body_type else "unknown"
    if header and header not in _GENERIC:
        head_kind = kind_of_type(header)
        if head_kind == "unknown":
            if body_kind in ("index", "image", "artifact"):
                return body_kind, f"Content-Type {header} is not a manifest type"
            return "unknown", f"Content-Type {header} is not a manifest type"
        if body_type and bare_type(body_type) != header:
            walk = body_kind if body_kind != "unknown" else head_kind
            return walk, f"Content-Type {header} but body mediaType {body_type}"
        if head_kind == "schema1":
            return "schema1", f"schema 1 manifest ({header})"
        return head_kind, None
    if body_kind != "unknown":
        if body_kind == "schema1":
            return "schema1", "schema 1 manifest"
        return body_kind, None
    shape = shape_kind(body)
    if shape in ("unknown", "schema1"):
        return shape, "not a manifest this tool understands" if shape == "unknown" else "schema 1 manifest"
    return shape, None
