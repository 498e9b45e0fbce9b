"""Core: the building blocks of every group's settings dataclass (types, ranges, secret references).

A group declares ``@dataclass(frozen=True) class FanSettings`` with ``setting(...)`` fields; ``config.py``
validates a TOML table against it. Nothing here reads a file or the environment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SECRET_SCHEMES = ("env:", "file:", "vault:", "vault-read:")


@dataclass(frozen=True)
class Secret:
    """A secret as configured: references tried in order, or a value already given by a legacy env-file.

    The value itself is fetched only by ``homeops.secrets.resolve`` and never kept here except for the
    legacy case; ``repr`` and JSON never show it.
    """

    refs: tuple[str, ...] = ()
    legacy_value: str | None = dataclasses.field(default=None, repr=False, compare=False)

    def __bool__(self) -> bool:
        return bool(self.refs) or bool(self.legacy_value)

    def describe(self) -> str:
        """What is safe to show: the references, or that a legacy file gave a value."""
        if self.legacy_value is not None:
            return "<from env-file>"
        return ", ".join(self.refs) if self.refs else ""

    def to_json(self) -> Any:
        return list(self.refs) if self.legacy_value is None else "<redacted>"


def is_secret_reference(text: str) -> bool:
    """True when ``text`` is a reference (``env:``, ``file:``, ``vault:``, ``vault-read:``), not a value."""
    return any(text.startswith(s) and len(text) > len(s) for s in SECRET_SCHEMES)


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A settings field with a help line and an optional numeric range checked at load."""
    meta = {"help": help, "min": min, "max": max}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def secret(help: str = "", default: tuple[str, ...] = ()) -> Any:
    """A secret-reference field; empty means not configured."""
    return dataclasses.field(default=Secret(default), metadata={"help": help, "min": None, "max": None})
