"""Adapter: usage telemetry, one Loki entry per dispatched command (conventions §8).

Off unless ``[telemetry] loki_url`` is set; ``HOMEOPS_TELEMETRY=0|off|false|no`` turns it off. It sends only the
command path, the user and ``exit=<code> ver=<version>`` — never arguments, paths, flags or secrets — is bounded
by ``timeout_ms`` and never changes the exit code.
"""

from __future__ import annotations

import getpass
import json
import os
import time
import urllib.request
from collections.abc import Mapping, Sequence

from homeops import __version__

_OFF = ("0", "off", "false", "no")


def enabled(env: Mapping[str, str]) -> bool:
    """False when the operator opted out."""
    return env.get("HOMEOPS_TELEMETRY", "").strip().lower() not in _OFF


def command_path(root: object, argv: Sequence[str]) -> str:
    """The command words of ``argv`` (``fan run``), found by walking the loaded tree; never arguments."""
    words: list[str] = []
    node = root
    for word in argv:
        if word.startswith("-"):
            break
        loader = getattr(node, "load", None)
        child = loader(word) if callable(loader) else (getattr(node, "commands", None) or {}).get(word)
        if child is None:
            break
        words.append(word)
        node = child
    return " ".join(words)


def entry(verb: str, exit_code: int, *, user: str, now_ns: int) -> dict[str, object]:
    """The Loki push body for one command."""
    stream = {"job": "homeops-usage", "user": user, "verb": verb}
    return {"streams": [{"stream": stream, "values": [[str(now_ns), f"exit={exit_code} ver={__version__}"]]}]}


def _settings(env: Mapping[str, str]) -> tuple[str, int]:
    """``[telemetry] loki_url`` and ``timeout_ms`` from the file and their overrides, read without loading
    every group's settings (that would add ~60 ms to every command; the command itself validates the file)."""
    import tomllib

    from homeops.config import default_path

    table: dict[str, object] = {}
    try:
        data = tomllib.loads(default_path(env).read_text(encoding="utf-8"))
        found = data.get("telemetry")
        table = found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        pass
    url = env.get("HOMEOPS_TELEMETRY__LOKI_URL", table.get("loki_url", ""))
    timeout = env.get("HOMEOPS_TELEMETRY__TIMEOUT_MS", table.get("timeout_ms", 800))
    try:
        timeout_ms = min(max(int(str(timeout)), 50), 5000)
    except ValueError:
        timeout_ms = 800
    return (url if isinstance(url, str) else ""), timeout_ms


def record(root: object, argv: Sequence[str], exit_code: int) -> None:
    """Send one usage entry if telemetry is configured; swallow every failure."""
    try:
        if not enabled(os.environ):
            return
        verb = command_path(root, argv)
        if not verb:
            return
        loki_url, timeout_ms = _settings(os.environ)
        if not loki_url.startswith(("http://", "https://")):
            return
        body = json.dumps(entry(verb, exit_code, user=getpass.getuser(), now_ns=time.time_ns())).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            loki_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout_ms / 1000):  # noqa: S310 - operator's URL
            pass
    except Exception:  # noqa: S110 - telemetry must never affect the command
        pass
