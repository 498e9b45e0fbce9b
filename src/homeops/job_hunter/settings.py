"""Config: the `[job-hunter]` table (keys are added as the group is built)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """`[job-hunter]` settings."""
