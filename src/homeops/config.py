"""Core: load the TOML configuration once, apply ``HOMEOPS_<GROUP>__<KEY>`` overrides, validate every
table against its settings dataclass, and remember where each value came from (DESIGN §2b).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from homeops.config_schema import (
    build,
    canonical_keys,
    field_type,
    from_text,
    key_name,
    type_name,
)
from homeops.errors import ConfigError
from homeops.groups import group_module, group_names
from homeops.settings import Secret

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


def _set_dotted(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


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
            tp = field_type(classes[table], parts)
            if tp is None:
                continue
            value: Any
            if tp is Secret:
                value = Secret((), legacy_value=value_text)
            else:
                try:
                    value = from_text(value_text, tp)
                except ValueError:
                    raise loader.fail(f"{table}.{dotted}", f"expected {type_name(tp)}", source) from None
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
        path_keys = canonical_keys(classes[table], parts[1:])
        dotted = ".".join([table, *path_keys])
        tp = field_type(classes[table], path_keys) if path_keys and all(path_keys) else None
        if tp is None:
            raise ConfigError(f"environment {name}: unknown key {dotted}", "check the variable name")
        try:
            value = from_text(value_text, tp)
        except (ValueError, json.JSONDecodeError):
            raise ConfigError(
                f"environment {name}: {dotted}: expected {type_name(tp)}", "lists and maps are JSON"
            ) from None
        _set_dotted(merged.setdefault(table, {}), path_keys, value)
        loader.sources[dotted] = f"env:{name}"

    tables: dict[str, Any] = {}
    for name, cls in classes.items():
        raw = merged.get(name, {})
        origin = f"{path}" if text is not None else "environment"
        tables[name] = build(cls, raw, name, origin, loader)
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
