"""Helpers for CLI tests: run the real console script in a child, or the app in-process with CliRunner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOMEOPS = Path(sys.executable).parent / "homeops"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment minus any HOMEOPS_* override and with no user config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEOPS_") and k != "_HOMEOPS_COMPLETE"}
    env["XDG_CONFIG_HOME"] = str(ROOT / "tests" / "fixtures" / "no-config")
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run_homeops(
    *args: str, env: Mapping[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``homeops`` console script."""
    return subprocess.run(
        [str(HOMEOPS), *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        input=stdin,
        timeout=60,
        cwd=ROOT,
    )
