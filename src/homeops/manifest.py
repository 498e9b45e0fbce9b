"""Core: command tiers (``read`` / ``write``) and the walk of the whole tree behind ``homeops manifest``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Tier = Literal["read", "write"]
F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "__homeops_tier__"


def read(func: F) -> F:
    """Mark a command as ``read``: it changes nothing outside homeops' own process, state and metrics."""
    setattr(func, _ATTR, "read")
    return func


def write(func: F) -> F:
    """Mark a command as ``write``: some invocation can change a device, server, cluster or file."""
    setattr(func, _ATTR, "write")
    return func


def tier_of(callback: Callable[..., Any] | None) -> Tier | None:
    """The tier a command's callback was marked with, looking through wrappers."""
    seen = 0
    while callback is not None and seen < 5:
        tier = getattr(callback, _ATTR, None)
        if tier in ("read", "write"):
            return tier  # type: ignore[no-any-return]
        callback = getattr(callback, "__wrapped__", None)
        seen += 1
    return None


@dataclass(frozen=True)
class ManifestEntry:
    """One leaf command: its path without the program name, tier and one-line summary."""

    command: str
    tier: Tier | None
    summary: str


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf command below ``command`` in tree order, loading lazy groups as it goes."""
    from homeops._lazy import LazyGroup

    subs: list[tuple[str, Any]] = []
    if isinstance(command, LazyGroup):
        for name in command.list_commands(None):  # type: ignore[arg-type]
            subs.append((name, command.load(name)))
    elif hasattr(command, "commands") and command.commands:
        subs = list(command.commands.items())
    if not subs:
        if path:
            yield path, command
        return
    for name, sub in subs:
        if getattr(sub, "hidden", False):
            continue
        yield from walk(sub, (*path, name))


def summary_of(command: Any) -> str:
    """The first line of a command's help."""
    text = (command.help or command.short_help or "").strip()
    return text.splitlines()[0].strip() if text else ""


def build_manifest() -> list[ManifestEntry]:
    """The manifest of the whole tree (imports every group)."""
    import typer

    from homeops._app import app

    root = typer.main.get_command(app)
    return [
        ManifestEntry(" ".join(path), tier_of(cmd.callback), summary_of(cmd))
        for path, cmd in walk(root)
        if cmd.callback is not None and not _is_placeholder_group(cmd)
    ]


def _is_placeholder_group(cmd: Any) -> bool:
    """A group with no commands yet (its callback only says so) is not a command."""
    return hasattr(cmd, "commands") and not cmd.commands
