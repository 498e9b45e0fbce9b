"""Core: resolve secret references (``env:``, ``file:``, ``vault:``, ``vault-read:``) when they are used.

Rules (DESIGN §2b): a list of references is tried in order and the first that resolves wins; errors name the
references and why each failed, never a value; nothing is cached on disk. Vault reads go through
``homeops.vault`` (hvac, imported only when a ``vault`` reference is used).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homeops.errors import SecretError, Unreachable
from homeops.settings import Secret

if TYPE_CHECKING:
    from homeops.shared_settings import VaultSettings

FIX = "set one of the references, or change the setting to one that resolves"


class Miss(Exception):
    """One reference did not resolve; the message says why and never holds a value."""


@dataclass(frozen=True)
class Reference:
    """A parsed reference: scheme, location (env name, file path, Vault path) and key plus JSON path."""

    scheme: str
    location: str
    key: str = ""
    json_path: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The reference as written (safe to show)."""
        tail = f"#{'.'.join((self.key, *self.json_path))}" if self.key else ""
        return f"{self.scheme}:{self.location}{tail}"


def parse(ref: str) -> Reference:
    """Split a reference; ``Miss`` when it is not one (the text is not echoed: it may be a value)."""
    scheme, sep, rest = ref.partition(":")
    if not sep or not rest or scheme not in ("env", "file", "vault", "vault-read"):
        raise Miss("not a reference (expected env:, file:, vault: or vault-read:)")
    if scheme in ("env", "file"):
        return Reference(scheme, rest)
    location, hashsign, selector = rest.partition("#")
    location = location.strip("/")
    if not hashsign or not selector or not location:
        form = "vault:<mount>/<path>#<key>" if scheme == "vault" else "vault-read:<path>#<field>"
        raise Miss(f"malformed, expected {form}")
    if scheme == "vault" and "/" not in location:
        raise Miss("malformed, expected vault:<mount>/<path>#<key>")
    key, *json_path = selector.split(".")
    if not key or any(not part for part in json_path):
        raise Miss("malformed key or JSON path after #")
    return Reference(scheme, location, key, tuple(json_path))


def resolve(
    secret: Secret,
    *,
    what: str,
    vault: VaultSettings | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The value of ``secret`` (for ``what``, e.g. ``fan.ha_token``): first reference that resolves wins."""
    return _resolve(secret, what=what, vault=vault, env=os.environ if env is None else env, allow_vault=True)


def resolve_optional(
    secret: Secret,
    *,
    what: str,
    vault: VaultSettings | None = None,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """Like ``resolve``, but an empty (unconfigured) secret gives None instead of an error."""
    if not secret:
        return None
    return resolve(secret, what=what, vault=vault, env=env)


def _resolve(
    secret: Secret, *, what: str, vault: VaultSettings | None, env: Mapping[str, str], allow_vault: bool
) -> str:
    if secret.legacy_value is not None:
        return secret.legacy_value
    if not secret.refs:
        raise SecretError(
            f"{what}: no secret configured", "set it to a reference such as env:NAME or file:/path"
        )
    failures: list[str] = []
    unreachable: Unreachable | None = None
    for text in secret.refs:
        try:
            ref = parse(text)
        except Miss as miss:
            # Never echo text that is not a reference: it may be the secret itself.
            failures.append(f"<not a reference> ({miss})")
            continue
        try:
            return _resolve_one(ref, vault=vault, env=env, allow_vault=allow_vault)
        except Miss as miss:
            failures.append(f"{ref.text} ({miss})")
        except Unreachable as down:
            unreachable = unreachable or down
            failures.append(f"{ref.text} ({down.what})")
        except SecretError as err:
            # Vault not configured or its login failed: this reference fails, the next may still resolve.
            failures.append(f"{ref.text} ({err.what})")
    tried = "; ".join(failures)
    if unreachable is not None:
        raise Unreachable(f"{what}: no reference resolved: {tried}", unreachable.fix)
    raise SecretError(f"{what}: no reference resolved: {tried}", FIX)


def _resolve_one(
    ref: Reference, *, vault: VaultSettings | None, env: Mapping[str, str], allow_vault: bool
) -> str:
    if ref.scheme == "env":
        value = env.get(ref.location)
        if value is None:
            raise Miss("not set")
        if value == "":
            raise Miss("empty")
        return value
    if ref.scheme == "file":
        return _read_file(Path(ref.location).expanduser())
    if not allow_vault:
        raise Miss("a Vault reference cannot authenticate to Vault itself")
    from homeops import vault as vault_adapter
    from homeops.shared_settings import VaultSettings

    settings = vault if vault is not None else VaultSettings()
    if ref.scheme == "vault":
        mount, _, path = ref.location.partition("/")
        data = vault_adapter.kv2_read(settings, mount, path, env=env)
    else:
        data = vault_adapter.logical_read(settings, ref.location, env=env)
    return select(data, ref.key, ref.json_path)


def _read_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Miss("no such file") from None
    except IsADirectoryError:
        raise Miss("is a directory") from None
    except PermissionError:
        raise Miss("permission denied") from None
    except UnicodeDecodeError:
        raise Miss("not UTF-8 text") from None
    except OSError as exc:
        raise Miss(f"cannot be read: {exc.strerror}") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if text == "":
        raise Miss("empty file")
    return text


def select(data: Mapping[str, Any], key: str, json_path: tuple[str, ...]) -> str:
    """Pick ``key`` from a Vault response, then walk ``json_path`` into its JSON value."""
    dotted = ".".join((key, *json_path))
    if json_path and dotted in data:
        # A key that itself contains dots wins over a JSON path.
        key, json_path = dotted, ()
    if key not in data:
        raise Miss(f"key {key} not found")
    value: Any = data[key]
    walked = key
    for part in json_path:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise Miss(f"{walked} is not JSON, so .{part} cannot be picked") from None
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise Miss(f"{walked}.{part} not found")
        walked = f"{walked}.{part}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        if value == "":
            raise Miss(f"{walked} is empty")
        return value
    if value is None:
        raise Miss(f"{walked} is null")
    raise Miss(
        f"{walked} is a JSON {'object' if isinstance(value, dict) else 'array'}; pick a field with .name"
    )
