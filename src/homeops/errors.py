"""Core: the error types every group raises, and the exit codes they map to (DESIGN §2b).

The root handler in ``_lazy.py`` turns any ``HomeopsError`` into one stderr line and its exit code; nothing
below the CLI layer knows about Typer or exit codes beyond this module.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes every command shares."""

    OK = 0
    PROBLEM = 1
    USAGE = 2
    REFUSED = 3
    UNREACHABLE = 4
    INTERRUPTED = 130


# When several outcomes apply, the most severe finding wins: 1 over 4 over 0 (DESIGN §2b).
_SEVERITY = {ExitCode.OK: 0, ExitCode.UNREACHABLE: 1, ExitCode.PROBLEM: 2}


def worst(*codes: ExitCode) -> ExitCode:
    """Combine the outcomes of several checks: 1 over 4 over 0."""
    result = ExitCode.OK
    for code in codes:
        if _SEVERITY.get(code, 3) > _SEVERITY.get(result, 3):
            result = code
    return result


class HomeopsError(Exception):
    """An expected failure: one line for the operator, with how to fix it, and an exit code."""

    exit_code: ExitCode = ExitCode.PROBLEM

    def __init__(self, what: str, fix: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix

    def line(self) -> str:
        """The message without the ``homeops <group>:`` prefix."""
        return f"{self.what} — {self.fix}" if self.fix else self.what


class ProblemFound(HomeopsError):
    """The check ran and found a problem, or an action failed at its target (exit 1)."""

    exit_code = ExitCode.PROBLEM


class UsageError(HomeopsError):
    """Bad arguments or an unreadable local input file (exit 2)."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The configuration is malformed, names an unknown key, or has a wrong type (exit 2)."""


class SecretError(ConfigError):
    """A secret reference could not be resolved; names the reference, never a value (exit 2)."""


class Refused(HomeopsError):
    """A guard, preflight or gate said no, or ``--yes`` is missing off a TTY (exit 3)."""

    exit_code = ExitCode.REFUSED


class Unreachable(HomeopsError):
    """Could not check or reach: unreachable, timeout, auth failure (exit 4)."""

    exit_code = ExitCode.UNREACHABLE


class ExitWith(Exception):
    """Leave with a given exit code after the result was already emitted (no extra stderr line)."""

    def __init__(self, code: ExitCode) -> None:
        super().__init__(int(code))
        self.code = code
