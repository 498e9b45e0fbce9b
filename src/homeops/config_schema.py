"""Core: check configuration values against the types of a settings dataclass and build it (the schema half
of ``config.py``). Errors name the key, where it came from and the expected type — never a secret's value.
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast, get_args, get_origin

from homeops.errors import ConfigError
from homeops.secrets import Miss
from homeops.secrets import parse as parse_reference
from homeops.settings import Secret, is_secret_reference

if TYPE_CHECKING:
    from homeops.config import _Loader


def type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is Secret:
        return "secret reference (env:, file:, vault:, vault-read:) or a list of them"
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        return f"list of {type_name(get_args(tp)[0])}"
    if origin is dict:
        return f"table of {type_name(get_args(tp)[1])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in get_args(tp) if a is not type(None))
    if dataclasses.is_dataclass(tp):
        return "table"
    return getattr(tp, "__name__", str(tp))


def from_text(text: str, tp: Any) -> Any:
    """Parse an environment or env-file string into the shape ``tp`` expects (lists and maps as JSON)."""
    origin = get_origin(tp)
    if tp is str or tp is Secret or origin is typing.Literal:
        if tp is Secret and text.startswith("["):
            return json.loads(text)
        return text
    if tp is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    if tp is int:
        return int(text)
    if tp is float:
        return float(text)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return from_text(text, inner[0]) if len(inner) == 1 else json.loads(text)
    return json.loads(text)


def coerce(value: Any, tp: Any, dotted: str, origin: str, loader: _Loader) -> Any:
    """Check ``value`` against ``tp`` and build the typed value; raises ConfigError naming the key."""
    got = describe(value) if tp is not Secret else describe(value).split(" (", 1)[0]  # never a secret's value
    bad = loader.fail(dotted, f"expected {type_name(tp)}, got {got}", origin)
    org = get_origin(tp)
    if tp is Secret and isinstance(value, Secret):
        return value  # a legacy env-file value, already resolved
    if tp is Secret:
        refs = [value] if isinstance(value, str) else value
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise bad
        refs = [r for r in refs if r != ""]
        for number, ref in enumerate(refs, 1):
            if not is_secret_reference(ref):
                raise ConfigError(
                    f"config {origin}: {dotted}: a literal secret is not allowed",
                    "use a reference: env:NAME, file:/path, vault:<mount>/<path>#<key> or vault-read:<path>#<field>",
                )
            try:
                parse_reference(ref)
            except Miss as miss:
                which = f"reference {number}" if len(refs) > 1 else "the reference"
                raise ConfigError(
                    f"config {origin}: {dotted}: {which} is {miss}", "fix the reference"
                ) from None
        return Secret(tuple(refs))
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    if org is typing.Literal:
        if value not in get_args(tp):
            raise bad
        return value
    if org in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, dotted, origin, loader)
            except ConfigError:
                continue
        raise bad
    if org in (list, tuple):
        if not isinstance(value, list):
            raise bad
        (item_tp, *_rest) = get_args(tp)
        items = [coerce(v, item_tp, f"{dotted}[{i}]", origin, loader) for i, v in enumerate(value)]
        return tuple(items) if org is tuple else items
    if org is dict:
        if not isinstance(value, dict):
            raise bad
        _key_tp, val_tp = get_args(tp)
        return {str(k): coerce(v, val_tp, f"{dotted}.{k}", origin, loader) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return build(cast(type[Any], tp), value, dotted, origin, loader, track=False)
    raise bad


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def key_name(field_name: str) -> str:
    """The table key of a field: a field named after a Python keyword plus ``_`` (``import_``) is written
    without the ``_`` (``[immich.import]``)."""
    if field_name.endswith("_") and keyword.iskeyword(field_name[:-1]):
        return field_name[:-1]
    return field_name


def fields_by_key(cls: Any) -> dict[str, dataclasses.Field[Any]]:
    return {key_name(f.name): f for f in dataclasses.fields(cls)}


def canonical_keys(cls: type[Any], parts: list[str]) -> list[str]:
    """Map lower-cased override parts to the declared keys (``maxbitrate`` → ``maxBitrate``); unknown parts
    are kept as they are, so the caller reports them."""
    tp: Any = cls
    result: list[str] = []
    for part in parts:
        fields = fields_by_key(tp) if dataclasses.is_dataclass(tp) else {}
        if part not in fields:
            matches = [k for k in fields if k.lower() == part.lower()]
            part = matches[0] if len(matches) == 1 else part
        result.append(part)
        tp = typing.get_type_hints(tp)[fields[part].name] if part in fields else None
    return result


def check_range(value: Any, field: dataclasses.Field[Any], dotted: str, origin: str, loader: _Loader) -> None:
    low, high = field.metadata.get("min"), field.metadata.get("max")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if low is not None and value < low:
            raise loader.fail(dotted, f"must be at least {low}, got {value}", origin)
        if high is not None and value > high:
            raise loader.fail(dotted, f"must be at most {high}, got {value}", origin)


def build(
    cls: type[Any], raw: Mapping[str, Any], prefix: str, origin: str, loader: _Loader, *, track: bool = True
) -> Any:
    """Build ``cls`` from one TOML table, already merged with overrides; unknown keys are errors."""
    hints = typing.get_type_hints(cls)
    fields = fields_by_key(cls)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}"
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(
                f"config {origin_of(loader, dotted, origin)}: unknown key {dotted}", f"known keys: {known}"
            )
        name = fields[key].name
        tp = hints[name]
        key_origin = loader.sources.get(dotted, origin) if track else origin
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            kwargs[name] = build(cast(type[Any], tp), value, dotted, origin, loader, track=track)
            continue
        kwargs[name] = coerce(value, tp, dotted, key_origin, loader)
        check_range(kwargs[name], fields[key], dotted, key_origin, loader)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"config {origin}: [{prefix}]: {exc}", "fix the values named") from None


def origin_of(loader: _Loader, dotted: str, default: str) -> str:
    return loader.sources.get(dotted, default)


def field_type(cls: type[Any], parts: list[str]) -> Any:
    """The declared type at a dotted path below ``cls``, or None when no such key exists."""
    tp: Any = cls
    for part in parts:
        if not dataclasses.is_dataclass(tp):
            return None
        fields = fields_by_key(tp)
        if part not in fields:
            return None
        tp = typing.get_type_hints(tp)[fields[part].name]
    return tp
