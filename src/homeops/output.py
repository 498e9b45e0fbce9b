"""Core: results on stdout (rich for people, one sorted JSON document or JSON Lines for machines),
progress and warnings on stderr. ``NO_COLOR`` and a non-TTY are honoured by rich itself.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from homeops.errors import ExitCode, ExitWith

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


@runtime_checkable
class HasJson(Protocol):
    """A result that knows its own JSON shape."""

    def to_json(self) -> Any: ...


@runtime_checkable
class HasHuman(Protocol):
    """A result that knows how to show itself to a person."""

    def render_human(self) -> RenderableType: ...


_stdout: Console | None = None
_stderr: Console | None = None


def console() -> Console:
    """The stdout console for results."""
    global _stdout
    from rich.console import Console

    if _stdout is None or _stdout.file is not sys.stdout:
        _stdout = Console(file=sys.stdout, soft_wrap=True, highlight=False)
    return _stdout


def err_console() -> Console:
    """The stderr console for progress, warnings and logs."""
    global _stderr
    from rich.console import Console

    if _stderr is None or _stderr.file is not sys.stderr:
        _stderr = Console(file=sys.stderr, soft_wrap=True, highlight=False)
    return _stderr


def to_jsonable(value: Any) -> Any:
    """Turn results (dataclasses, enums, paths, datetimes, tuples) into plain JSON values."""
    # Plain values first: this runs once per value of large documents (kms parse), and a runtime-checkable
    # Protocol isinstance is slow.
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    to_json = getattr(value, "to_json", None)
    if callable(to_json) and not isinstance(value, type):
        return to_jsonable(to_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (Sequence, set, frozenset)):
        return [to_jsonable(v) for v in value]
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """One JSON document with sorted keys."""
    return json.dumps(to_jsonable(value), sort_keys=True, indent=indent, ensure_ascii=False)


def emit(result: Any, *, json_output: bool) -> None:
    """Write a command's one result to stdout: JSON for machines, rich for people."""
    if json_output:
        sys.stdout.write(dumps(result) + "\n")
        sys.stdout.flush()
        return
    if isinstance(result, HasHuman):
        console().print(result.render_human())
    elif isinstance(result, str):
        console().print(result, markup=False)
    else:
        console().print(_plain(to_jsonable(result)), markup=False)


def finish(result: Any, code: ExitCode, json_output: bool) -> None:
    """Emit a command's one result, then leave with ``code`` (no further stderr line) unless it is 0."""
    emit(result, json_output=json_output)
    if code is not ExitCode.OK:
        raise ExitWith(code)


def emit_event(event: Mapping[str, Any]) -> None:
    """One JSON Lines record for commands that run until stopped."""
    sys.stdout.write(json.dumps(to_jsonable(event), sort_keys=True, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _plain(value: Any, indent: str = "") -> str:
    """A readable fallback rendering of a JSON value: ``key: value`` lines."""
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{indent}{key}:")
                lines.append(_plain(item, indent + "  "))
            else:
                lines.append(f"{indent}{key}: {_scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        return "\n".join(
            f"{indent}- " + _plain(v, indent + "  ").lstrip()
            if isinstance(v, (dict, list))
            else f"{indent}- {_scalar(v)}"
            for v in value
        )
    return f"{indent}{_scalar(value)}"


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, dict)):
        return "none"
    return str(value)


def info(message: str) -> None:
    """A progress line on stderr."""
    err_console().print(message, markup=False)


def warn(message: str) -> None:
    """A warning line on stderr: ``homeops: warning: …``."""
    print(f"homeops: warning: {message}", file=sys.stderr, flush=True)
