"""Core: what every write verb shares: the ``{changed, dry_run, actions}`` result, the ``--yes`` guard for
destructive verbs off a TTY, and the audit line in ``$XDG_STATE_HOME/homeops/audit.jsonl``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeops.errors import Refused


@dataclass(frozen=True)
class Action:
    """One change a write verb plans or made: a verb, its target and a short human detail."""

    verb: str
    target: str
    detail: str = ""


@dataclass(frozen=True)
class WriteResult:
    """The result shape of every write verb; ``extra`` carries the verb's own fields."""

    changed: bool
    dry_run: bool
    actions: Sequence[Action]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from homeops.output import to_jsonable

        doc: dict[str, Any] = {
            "changed": self.changed,
            "dry_run": self.dry_run,
            "actions": [to_jsonable(a) for a in self.actions],
        }
        doc.update(to_jsonable(self.extra))
        return doc

    def render_human(self) -> str:
        if not self.actions:
            return "unchanged: nothing to do"
        head = (
            "plan (dry run, nothing changed):"
            if self.dry_run
            else ("changed:" if self.changed else "unchanged:")
        )
        lines = [head] + [
            f"  {a.verb} {a.target}" + (f" — {a.detail}" if a.detail else "") for a in self.actions
        ]
        return "\n".join(lines)


def stdin_is_tty() -> bool:
    """Whether a person can answer a prompt."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def confirm_destructive(what: str, *, yes: bool, dry_run: bool) -> None:
    """Guard a destructive verb: ``--yes`` or a person's "y" on a TTY; off a TTY without ``--yes``, exit 3."""
    if yes or dry_run:
        return
    if not stdin_is_tty():
        raise Refused(
            f"refusing to {what} without --yes (stdin is not a TTY)",
            "add --yes, or --dry-run to see the plan",
        )
    answer = input(f"{what}? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise Refused(f"not confirmed: {what}", "answer y, or pass --yes")


def audit_path() -> Path:
    """Where write verbs append their audit line."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "homeops" / "audit.jsonl"


def audit(command: str, target: str, result: WriteResult, outcome: str = "ok") -> None:
    """Append ``{ts, command, target, actions, result}`` (never a secret); failure to write is not fatal."""
    if result.dry_run:
        return
    from homeops.output import to_jsonable, warn

    line = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "target": target,
        "actions": [to_jsonable(a) for a in result.actions],
        "result": outcome,
    }
    path = audit_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, sort_keys=True) + "\n")
    except OSError as exc:
        warn(f"could not append to the audit log {path}: {exc.strerror}")
