"""Logic: parse image references and registry URLs (specs/registry.md §3.1). Pure, no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from homeops.errors import UsageError

_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"


def is_digest(text: str) -> bool:
    """True for ``sha256:<64 hex>`` or ``sha512:<128 hex>`` (lowercase)."""
    return bool(_DIGEST.match(text))


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1, with or without a port."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """The host without its port (``[::1]:5000`` → ``::1``)."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


@dataclass(frozen=True)
class Reference:
    """A parsed ``[host[:port]/]path[:tag][@digest]``; ``host`` is the API host."""

    host: str
    repo: str
    tag: str | None
    digest: str | None
    text: str

    @property
    def reference(self) -> str:
        """What to request: the digest when given, else the tag."""
        return self.digest or self.tag or "latest"

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.host, self.repo, tag, None, f"{self.host}/{self.repo}:{tag}")


def parse_reference(text: str) -> Reference:
    """Parse an image reference; anything malformed is a usage error (exit 2)."""
    bad = UsageError(f"not an image reference: {text!r}", "use [host[:port]/]path[:tag][@digest]")
    rest = text.strip()
    if not rest or any(c.isspace() for c in rest) or "://" in rest:
        raise bad
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not is_digest(digest):
            raise UsageError(f"not a digest: {digest!r}", "use sha256: plus 64 lowercase hex characters")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = DOCKER_HUB, rest
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise bad
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not _REPO.match(path):
        raise bad
    if tag is None and digest is None:
        tag = "latest"
    api_host = DOCKER_HUB_API if host in (DOCKER_HUB, "index.docker.io") else host
    return Reference(api_host, path, tag, digest, text)


@dataclass(frozen=True)
class RegistryUrl:
    """``[http://|https://]host[:port]``: the host, and whether plain HTTP was asked for."""

    host: str
    plain_http: bool
    text: str

    @property
    def base(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.host}"


def parse_registry_url(text: str) -> RegistryUrl:
    """Parse a probe or retention URL; a path other than ``/`` is a usage error."""
    rest = text.strip()
    plain = False
    if rest.startswith("http://"):
        plain, rest = True, rest[len("http://") :]
    elif rest.startswith("https://"):
        rest = rest[len("https://") :]
    rest = rest.rstrip("/")
    if not rest or "/" in rest or "@" in rest or any(c.isspace() for c in rest):
        raise UsageError(f"not a registry URL: {text!r}", "use [http://|https://]host[:port]")
    return RegistryUrl(rest, plain, text)
