"""CLI: ``homeops config show|check``: every setting with its source (secrets as references), and validation."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from homeops import output
from homeops.cliopts import JsonFlag
from homeops.errors import ConfigError, ExitCode, ExitWith, HomeopsError, Unreachable
from homeops.manifest import read
from homeops.settings import Secret

app = typer.Typer(help="Show or check the configuration (secrets redacted).", no_args_is_help=True)


def _shown(value: Any) -> Any:
    """A JSON-safe value with every secret replaced by its references (or ``<from env-file>``)."""
    if isinstance(value, Secret):
        return value.describe() if value.legacy_value is not None else list(value.refs)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        from homeops.config_schema import key_name

        return {key_name(f.name): _shown(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _shown(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    return output.to_jsonable(value)


def _text(value: Any) -> str:
    if isinstance(value, Secret):
        return value.describe() or '""'
    return json.dumps(_shown(value), ensure_ascii=False, sort_keys=True)


def _secrets(value: Any, key: str) -> Iterator[tuple[str, Secret]]:
    """Every configured secret below ``value``, with its dotted key (lists of tables get ``[i]``)."""
    if isinstance(value, Secret):
        if value:
            yield key, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        from homeops.config_schema import key_name

        for f in dataclasses.fields(value):
            yield from _secrets(getattr(value, f.name), f"{key}.{key_name(f.name)}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _secrets(item, f"{key}[{i}]")
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _secrets(item, f"{key}.{k}")


@app.command()
@read
def show(json_output: JsonFlag = False) -> None:
    """Show every setting of every table with its value and source; secrets only as references."""
    from homeops import config

    cfg = config.load()
    rows = [
        (key, value, cfg.source(key))
        for table, settings in sorted(cfg.tables.items())
        for key, value in config.flatten(settings, table)
    ]
    if json_output:
        output.emit(
            {
                "path": str(cfg.path) if cfg.path else None,
                "settings": {key: {"value": _shown(value), "source": source} for key, value, source in rows},
            },
            json_output=True,
        )
        return
    print(f"# config file: {cfg.path if cfg.path else '(none: defaults and environment)'}")
    for key, value, source in rows:
        print(f"{key} = {_text(value)}  # {source}")


ResolveFlag = Annotated[
    bool,
    typer.Option(
        "--resolve-secrets",
        help="Also resolve every configured secret (values are never printed; only whether each resolved).",
    ),
]


@app.command()
@read
def check(json_output: JsonFlag = False, resolve_secrets: ResolveFlag = False) -> None:
    """Load and validate the configuration: exit 0, or 2 naming the file, key and expected type."""
    from homeops import config

    try:
        cfg = config.load()
    except ConfigError as err:
        if json_output:
            output.emit({"ok": False, "error": err.line()}, json_output=True)
        raise
    configured = sorted(name for name in cfg.tables if cfg.is_configured(name))
    secrets: list[dict[str, Any]] = []
    code = ExitCode.OK
    if resolve_secrets:
        from homeops.secrets import resolve
        from homeops.shared_settings import VaultSettings

        vault = cfg.table("vault", VaultSettings)
        for table, settings in sorted(cfg.tables.items()):
            if not cfg.is_configured(table):
                continue  # an unconfigured group's default references are not in use
            for key, secret in _secrets(settings, table):
                try:
                    resolve(secret, what=key, vault=vault)
                    secrets.append({"key": key, "resolved": True, "error": None})
                except HomeopsError as err:
                    secrets.append(
                        {"key": key, "resolved": False, "error": err.what.removeprefix(f"{key}: ")}
                    )
                    unreachable = isinstance(err, Unreachable)
                    if not unreachable or code == ExitCode.OK:
                        code = ExitCode.UNREACHABLE if unreachable else ExitCode.USAGE
    ok = code == ExitCode.OK
    result: dict[str, Any] = {"ok": ok, "path": str(cfg.path) if cfg.path else None, "configured": configured}
    if resolve_secrets:
        result["secrets"] = secrets
    if json_output:
        output.emit(result, json_output=True)
    else:
        where = cfg.path if cfg.path else "no config file (defaults and environment)"
        print(
            f"config {'OK' if ok else 'has problems'}: {where}; configured: {', '.join(configured) or 'none'}"
        )
        for item in secrets:
            state = "resolves" if item["resolved"] else f"FAILED: {item['error']}"
            print(f"  secret {item['key']}: {state}")
    if not ok:
        failed = sum(1 for item in secrets if not item["resolved"])
        print(f"homeops config: {failed} secret(s) did not resolve — see the report above", file=sys.stderr)
        raise ExitWith(code)
