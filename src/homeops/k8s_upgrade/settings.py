"""Config: the `[k8s-upgrade]` table (keys are added as the group is built)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """`[k8s-upgrade]` settings."""
