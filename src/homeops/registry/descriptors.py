"""Pure logic: reading index descriptors — platform text and matching (``os/arch[/variant]``),
attestation children and the role a child plays in its index.
"""

from __future__ import annotations

from typing import Any

from homeops.registry import media


def platform_text(platform: Any) -> str | None:
    """A descriptor's platform as ``os/arch[/variant]``; None when it has none."""
    if not isinstance(platform, dict):
        return None
    text = f"{platform.get('os', '')}/{platform.get('architecture', '')}"
    if platform.get("variant"):
        text += f"/{platform['variant']}"
    return text


def platform_matches(platform: Any, want: tuple[str, str, str | None]) -> bool:
    """``os/arch[/variant]`` match; for arm64 no variant equals ``v8``."""
    if not isinstance(platform, dict):
        return False
    os_, arch, variant = want
    if platform.get("os") != os_ or platform.get("architecture") != arch:
        return False
    if variant is None:
        return True
    have = platform.get("variant") or ("v8" if arch == "arm64" else None)
    return have == (variant or None)


def parse_platform(text: str) -> tuple[str, str, str | None]:
    """``os/arch[/variant]``; a usage error otherwise."""
    from homeops.errors import UsageError

    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"not a platform: {text!r}", "use os/arch[/variant], e.g. linux/arm64")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def is_attestation(desc: dict[str, Any]) -> bool:
    """A BuildKit attestation child (by annotation, or the ``unknown/unknown`` platform)."""
    annotations = desc.get("annotations") or {}
    return (
        isinstance(annotations, dict)
        and annotations.get("vnd.docker.reference.type") == "attestation-manifest"
    ) or platform_text(desc.get("platform")) == "unknown/unknown"


def role_of(desc: dict[str, Any], kind: str, body: dict[str, Any]) -> str:
    """What a child is for in its index: ``index``, ``attestation``, ``artifact`` or ``image``."""
    if kind == "index":
        return "index"
    if is_attestation(desc):
        return "attestation"
    config = body.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    if desc.get("artifactType") or kind == "artifact" or config_type not in media.IMAGE_CONFIG_TYPES:
        return "artifact"
    return "image"
