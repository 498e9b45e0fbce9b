"""Adapter: registry credentials from flags, config or the Docker config file (§3.1). Bound to one host."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from homeops.errors import UsageError
from homeops.output import warn

_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")
HUB_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credentials:
    """A user and password for exactly one registry host; the password never shows in repr or JSON."""

    host: str
    username: str
    password: str = field(repr=False)
    source: str = ""


def normalise_key(key: str) -> str:
    """A Docker config ``auths`` key as ``host[:port]`` (Docker Hub's aliases map to its v1 URL)."""
    text = key.strip()
    if text == HUB_KEY:
        return HUB_KEY
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.split("/", 1)[0].lower()
    return HUB_KEY if text in _HUB_ALIASES else text


def docker_config_path(configured: str, env: Mapping[str, str]) -> Path:
    """``docker_config``, else ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    if configured:
        return Path(configured)
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    return Path(env.get("HOME") or str(Path.home())) / ".docker" / "config.json"


def from_docker_config(host: str, path: Path) -> Credentials | None:
    """The ``auths`` entry for ``host`` in a Docker config file, or None (one warning for unsupported kinds)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        warn(f"cannot read Docker config {path}: {type(exc).__name__}; continuing without its credentials")
        return None
    if not isinstance(data, dict):
        return None
    want = normalise_key(host)
    auths = data.get("auths") if isinstance(data.get("auths"), dict) else {}
    for key, entry in (auths or {}).items():
        if normalise_key(str(key)) != want or not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            warn(f"{path}: identitytoken for {want} is not supported; using anonymous access")
            return None
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                warn(f"{path}: the auth entry for {want} is not base64 of user:password; ignoring it")
                return None
            if sep:
                return Credentials(host, user, password, f"docker-config:{path}")
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(host, entry["username"], entry["password"], f"docker-config:{path}")
    helpers = data.get("credHelpers") if isinstance(data.get("credHelpers"), dict) else {}
    if data.get("credsStore") or any(normalise_key(str(k)) == want for k in helpers or {}):
        warn(f"{path}: credsStore/credHelpers are not supported; using anonymous access for {want}")
    return None


def read_password_stdin(stream_text: str) -> str:
    """The first line of stdin, CR/LF stripped."""
    return stream_text.splitlines()[0].rstrip("\r\n") if stream_text else ""


def resolve(
    host: str,
    *,
    flag_username: str | None,
    stdin_password: str | None,
    config_username: str,
    config_password: object,
    docker_config: Path,
) -> Credentials | None:
    """The first source that has credentials for ``host``: flags, config, Docker config, anonymous."""
    if flag_username is not None or stdin_password is not None:
        if not flag_username or stdin_password is None:
            raise UsageError(
                "--username needs --password-stdin (and the reverse)", "pipe the password on stdin"
            )
        return Credentials(host, flag_username, stdin_password, "flags")
    if config_username and config_password:
        from homeops.secrets import resolve as resolve_secret
        from homeops.settings import Secret

        assert isinstance(config_password, Secret)
        value = resolve_secret(config_password, what="registry.password")
        return Credentials(host, config_username, value, "config")
    return from_docker_config(host, docker_config)
