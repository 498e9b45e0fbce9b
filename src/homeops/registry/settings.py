"""Config: the `[registry]` table (keys are added as the group is built)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """`[registry]` settings."""
