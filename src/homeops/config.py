"""Core: load the TOML configuration once, apply ``HOMEOPS_<GROUP>__<KEY>`` overrides, validate every
table against its settings dataclass, and remember where each value came from (DESIGN §2b).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import keyword
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast, get_args, get_origin

from homeops.errors import ConfigError
from homeops.groups import group_module, group_names
from homeops.secrets import Miss
from homeops.secrets import parse as parse_reference
from homeops.settings import Secret, is_secret_reference

T = TypeVar("T")

# The shared tables and where their settings live; every group's table is known from the start.
SHARED_TABLES: dict[str, str] = {
    "metrics": "homeops.shared_settings:MetricsSettings",
    "iogate": "homeops.shared_settings:IogateSettings",
    "telemetry": "homeops.shared_settings:TelemetrySettings",
    "vault": "homeops.shared_settings:VaultSettings",
}

ENV_PREFIX = "HOMEOPS_"


def table_schemas() -> dict[str, str]:
    """Every known top-level table → ``module:Class`` of its settings dataclass."""
    tables = dict(SHARED_TABLES)
    for name in group_names():
        tables[name] = f"{group_module(name)}.settings:Settings"
    return tables


def _load_class(path: str) -> type[Any]:
    module, _, attr = path.partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), attr)
    return cls


def default_path(env: Mapping[str, str]) -> Path:
    """The lookup order: ``$HOMEOPS_CONFIG``, ``$XDG_CONFIG_HOME/homeops/config.toml``, ``/etc/homeops``."""
    if env.get("HOMEOPS_CONFIG"):
        return Path(env["HOMEOPS_CONFIG"])
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    user = Path(xdg) / "homeops" / "config.toml"
    if user.exists():
        return user
    return Path("/etc/homeops/config.toml")


_BARE_OR_QUOTED = r"(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*\]\]?\s*(?:#.*)?$")
_KEYLINE = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")


def _split_key(text: str) -> list[str]:
    """``a."b.c".d`` → ``["a", "b.c", "d"]`` (TOML dotted keys, quotes removed)."""
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', text)
    return [next(p for p in groups if p) if any(groups) else "" for groups in parts]


@dataclass(frozen=True)
class Config:
    """The validated configuration: one settings object per table, and the source of every value."""

    path: Path | None
    tables: Mapping[str, Any]
    sources: Mapping[str, str]

    def table(self, name: str, cls: type[T]) -> T:
        """The settings object of table ``name``."""
        value = self.tables[name]
        if not isinstance(value, cls):
            raise TypeError(f"table {name} is {type(value).__name__}, not {cls.__name__}")
        return value

    def source(self, key: str) -> str:
        """Where a dotted key's value came from: ``default``, ``file:PATH:LINE``, ``env:NAME``, …."""
        return self.sources.get(key, "default")

    def is_configured(self, name: str) -> bool:
        """True when the file, the environment or an env-file set anything in table ``name``."""
        return any(
            (k == name or k.startswith(name + ".")) and v != "default" for k, v in self.sources.items()
        )


class _Loader:
    def __init__(self, path: Path | None, text: str | None) -> None:
        self.path = path
        self.lines = text.splitlines() if text else []
        self.sources: dict[str, str] = {}

    def where(self, dotted: str) -> str:
        """``file:PATH:LINE`` for a key, found by scanning the file (tomllib keeps no positions).

        The scan follows ``[table]`` headers, so a leaf name used in several tables gets its own line; a key
        inside an inline table or an array item falls back to the line of its nearest ancestor.
        """
        if self.path is None:
            return "file"
        want = _split_key(re.sub(r"\[\d+\]", "", dotted))
        found: dict[tuple[str, ...], int] = {}
        header: list[str] = []
        for number, line in enumerate(self.lines, 1):
            head = _HEADER.match(line)
            if head:
                header = _split_key(head.group(1))
                found.setdefault(tuple(header), number)
                continue
            key = _KEYLINE.match(line)
            if key:
                found.setdefault(tuple(header + _split_key(key.group(1))), number)
        for depth in range(len(want), 0, -1):
            if tuple(want[:depth]) in found:
                return f"file:{self.path}:{found[tuple(want[:depth])]}"
        return f"file:{self.path}"

    def fail(self, dotted: str, problem: str, origin: str) -> ConfigError:
        return ConfigError(f"config {origin}: {dotted}: {problem}", "fix the value or remove the key")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is Secret:
        return "secret reference (env:, file:, vault:, vault-read:) or a list of them"
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        return f"list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        return f"table of {_type_name(get_args(tp)[1])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if dataclasses.is_dataclass(tp):
        return "table"
    return getattr(tp, "__name__", str(tp))


def _from_text(text: str, tp: Any) -> Any:
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
        return _from_text(text, inner[0]) if len(inner) == 1 else json.loads(text)
    return json.loads(text)


def _coerce(value: Any, tp: Any, dotted: str, origin: str, loader: _Loader) -> Any:
    """Check ``value`` against ``tp`` and build the typed value; raises ConfigError naming the key."""
    got = (
        _describe(value) if tp is not Secret else _describe(value).split(" (", 1)[0]
    )  # never a secret's value
    bad = loader.fail(dotted, f"expected {_type_name(tp)}, got {got}", origin)
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
                return _coerce(value, arg, dotted, origin, loader)
            except ConfigError:
                continue
        raise bad
    if org in (list, tuple):
        if not isinstance(value, list):
            raise bad
        (item_tp, *_rest) = get_args(tp)
        items = [_coerce(v, item_tp, f"{dotted}[{i}]", origin, loader) for i, v in enumerate(value)]
        return tuple(items) if org is tuple else items
    if org is dict:
        if not isinstance(value, dict):
            raise bad
        _key_tp, val_tp = get_args(tp)
        return {str(k): _coerce(v, val_tp, f"{dotted}.{k}", origin, loader) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return _build(cast(type[Any], tp), value, dotted, origin, loader, track=False)
    raise bad


def _describe(value: Any) -> str:
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


def _fields_by_key(cls: Any) -> dict[str, dataclasses.Field[Any]]:
    return {key_name(f.name): f for f in dataclasses.fields(cls)}


def _canonical_keys(cls: type[Any], parts: list[str]) -> list[str]:
    """Map lower-cased override parts to the declared keys (``maxbitrate`` → ``maxBitrate``); unknown parts
    are kept as they are, so the caller reports them."""
    tp: Any = cls
    result: list[str] = []
    for part in parts:
        fields = _fields_by_key(tp) if dataclasses.is_dataclass(tp) else {}
        if part not in fields:
            matches = [k for k in fields if k.lower() == part.lower()]
            part = matches[0] if len(matches) == 1 else part
        result.append(part)
        tp = typing.get_type_hints(tp)[fields[part].name] if part in fields else None
    return result


def _check_range(
    value: Any, field: dataclasses.Field[Any], dotted: str, origin: str, loader: _Loader
) -> None:
    low, high = field.metadata.get("min"), field.metadata.get("max")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if low is not None and value < low:
            raise loader.fail(dotted, f"must be at least {low}, got {value}", origin)
        if high is not None and value > high:
            raise loader.fail(dotted, f"must be at most {high}, got {value}", origin)


def _build(
    cls: type[Any], raw: Mapping[str, Any], prefix: str, origin: str, loader: _Loader, *, track: bool = True
) -> Any:
    """Build ``cls`` from one TOML table, already merged with overrides; unknown keys are errors."""
    hints = typing.get_type_hints(cls)
    fields = _fields_by_key(cls)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}"
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(
                f"config {_origin_of(loader, dotted, origin)}: unknown key {dotted}", f"known keys: {known}"
            )
        name = fields[key].name
        tp = hints[name]
        key_origin = loader.sources.get(dotted, origin) if track else origin
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            kwargs[name] = _build(cast(type[Any], tp), value, dotted, origin, loader, track=track)
            continue
        kwargs[name] = _coerce(value, tp, dotted, key_origin, loader)
        _check_range(kwargs[name], fields[key], dotted, key_origin, loader)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"config {origin}: [{prefix}]: {exc}", "fix the values named") from None


def _origin_of(loader: _Loader, dotted: str, default: str) -> str:
    return loader.sources.get(dotted, default)


def _set_dotted(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _field_type(cls: type[Any], parts: list[str]) -> Any:
    """The declared type at a dotted path below ``cls``, or None when no such key exists."""
    tp: Any = cls
    for part in parts:
        if not dataclasses.is_dataclass(tp):
            return None
        fields = _fields_by_key(tp)
        if part not in fields:
            return None
        tp = typing.get_type_hints(tp)[fields[part].name]
    return tp


def _record_file_sources(raw: Mapping[str, Any], prefix: str, loader: _Loader) -> None:
    for key, value in raw.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, dict):
            _record_file_sources(value, dotted, loader)
        else:
            loader.sources[dotted] = loader.where(dotted)


def env_overrides(env: Mapping[str, str]) -> list[tuple[str, list[str], str]]:
    """``HOMEOPS_<TABLE>__<KEY>[__<KEY>…]`` → (env name, [table, key, …], text); names without ``__`` are not
    overrides."""
    result = []
    for name, text in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        table, *keys = name[len(ENV_PREFIX) :].split("__")
        result.append((name, [table, *(k.lower() for k in keys)], text))
    return result


def load(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    legacy: Mapping[str, Mapping[str, tuple[str, str]]] | None = None,
    require_file: bool = False,
) -> Config:
    """Read, merge and validate the configuration.

    Precedence, lowest first: defaults, a legacy env-file (``legacy[table][dotted_key] = (text, source)``),
    the TOML file, ``HOMEOPS_<TABLE>__<KEY>`` overrides.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("HOMEOPS_CONFIG"))
    path = path or default_path(env)
    text: str | None = None
    data: dict[str, Any] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit or require_file:
            raise ConfigError(
                f"config file {path} does not exist", "create it or unset HOMEOPS_CONFIG"
            ) from None
    except OSError as exc:
        raise ConfigError(
            f"config file {path} cannot be read: {exc.strerror}", "check its permissions"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start})", "save it as UTF-8"
        ) from None
    if text is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}", "fix the line named") from None
    loader = _Loader(path if text is not None else None, text)
    schemas = table_schemas()
    upper = {name.upper().replace("-", "_"): name for name in schemas}

    for table in data:
        if table not in schemas:
            raise ConfigError(
                f"config {loader.where(table) if text else path}: unknown table [{table}]",
                f"known tables: {', '.join(sorted(schemas))}",
            )
        if not isinstance(data[table], dict):
            raise ConfigError(
                f"config {loader.where(table)}: {table} must be a table", f"write it as [{table}]"
            )
        _record_file_sources(data[table], table, loader)

    classes = {name: _load_class(target) for name, target in schemas.items()}
    merged: dict[str, dict[str, Any]] = {}
    for table, keys in (legacy or {}).items():
        for dotted, (value_text, source) in keys.items():
            parts = dotted.split(".")
            tp = _field_type(classes[table], parts)
            if tp is None:
                continue
            value: Any
            if tp is Secret:
                value = Secret((), legacy_value=value_text)
            else:
                try:
                    value = _from_text(value_text, tp)
                except ValueError:
                    raise loader.fail(f"{table}.{dotted}", f"expected {_type_name(tp)}", source) from None
            _set_dotted(merged.setdefault(table, {}), parts, value)
            loader.sources.setdefault(f"{table}.{dotted}", source)  # the file, recorded first, ranks above
    for table, values in data.items():
        _deep_merge(merged.setdefault(table, {}), values)

    for name, parts, value_text in env_overrides(env):
        override_table = upper.get(parts[0])
        if override_table is None:
            raise ConfigError(
                f"environment {name}: unknown table {parts[0].lower()}", "check the variable name"
            )
        table = override_table
        path_keys = _canonical_keys(classes[table], parts[1:])
        dotted = ".".join([table, *path_keys])
        tp = _field_type(classes[table], path_keys) if path_keys and all(path_keys) else None
        if tp is None:
            raise ConfigError(f"environment {name}: unknown key {dotted}", "check the variable name")
        try:
            value = _from_text(value_text, tp)
        except (ValueError, json.JSONDecodeError):
            raise ConfigError(
                f"environment {name}: {dotted}: expected {_type_name(tp)}", "lists and maps are JSON"
            ) from None
        _set_dotted(merged.setdefault(table, {}), path_keys, value)
        loader.sources[dotted] = f"env:{name}"

    tables: dict[str, Any] = {}
    for name, cls in classes.items():
        raw = merged.get(name, {})
        origin = f"{path}" if text is not None else "environment"
        tables[name] = _build(cls, raw, name, origin, loader)
    return Config(path if text is not None else None, tables, dict(loader.sources))


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> None:
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def flatten(settings: Any, prefix: str) -> list[tuple[str, Any]]:
    """(dotted key, value) for every leaf of a settings object, secrets left as ``Secret``."""
    rows: list[tuple[str, Any]] = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        dotted = f"{prefix}.{key_name(field.name)}"
        if dataclasses.is_dataclass(value) and not isinstance(value, (type, Secret)):
            rows.extend(flatten(value, dotted))
        else:
            rows.append((dotted, value))
    return rows
