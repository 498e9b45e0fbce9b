"""Shared fixtures: every module in tests/services/ and tests/standins/ is a pytest plugin."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent
pytest_plugins = sorted(
    f"tests.{folder}.{p.stem}"
    for folder in ("services", "standins")
    for p in (_HERE / folder).glob("*.py")
    if not p.name.startswith("_")
)
