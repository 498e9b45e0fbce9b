"""Adapter: run distribution's own ``garbage-collect`` offline, with the guards of §3.5 (addition)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeops.errors import ExitCode, Refused, UsageError
from homeops.writes import confirm_destructive

_COUNTS = re.compile(r"(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion")


def version_of(text: str) -> tuple[int, int, int] | None:
    m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


@dataclass
class GcResult:
    marked: int | None = None
    blobs_eligible: int | None = None
    manifests_eligible: int | None = None
    changed: bool = False
    dry_run: bool = False
    actions: list[dict[str, str]] = field(default_factory=list)
    rc: int = 0

    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEM if self.rc else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        keys = ("marked", "blobs_eligible", "manifests_eligible", "changed", "dry_run", "actions")
        return {k: getattr(self, k) for k in keys}

    def render_human(self) -> str:
        head = "DRY RUN — " if self.dry_run else ""
        return (
            f"{head}{self.marked} blobs marked, {self.blobs_eligible} blobs and {self.manifests_eligible} manifests "
            "eligible for deletion\nnext: homeops registry scan ROOT --fix --yes, then restart the registry"
        )


def _serving(config: dict[str, Any]) -> bool:
    addr = str((config.get("http") or {}).get("addr") or "")
    host, _, port = addr.rpartition(":")
    if not port.isdigit():
        return False
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def run_gc(config_path: Path, binary: str, *, delete_untagged: bool, yes: bool, dry_run: bool) -> GcResult:
    import yaml

    try:
        config = yaml.safe_load(config_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(
            f"cannot read {config_path}: {type(exc).__name__}", "name the registry's config.yml"
        ) from None
    exe = shutil.which(binary)
    if exe is None:
        raise UsageError(f"{binary} is not installed", "set registry.retention_gc_binary or pass --binary")
    if delete_untagged:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
        version = version_of(out)
        if version is None or version < (3, 0, 0):
            raise Refused(
                f"refusing --delete-untagged with {out.strip() or binary} (< v3.0.0)",
                "2.8.x deletes every untagged index child (the 2026 image losses); upgrade to v3.0.0+",
            )
    readonly = (((config.get("storage") or {}).get("maintenance") or {}).get("readonly") or {}).get("enabled")
    if _serving(config) and readonly is not True:
        raise Refused(
            "the registry is serving and not read-only", "stop it or set storage.maintenance.readonly"
        )
    confirm_destructive(f"garbage-collect {config_path}", yes=yes, dry_run=dry_run)
    argv = (
        [exe, "garbage-collect"]
        + (["--dry-run"] if dry_run else [])
        + (["--delete-untagged"] if delete_untagged else [])
    )
    done = subprocess.run([*argv, str(config_path)], capture_output=True, text=True, check=False)
    m = _COUNTS.search(done.stdout + done.stderr)
    result = GcResult(dry_run=dry_run, rc=done.returncode)
    if m:
        result.marked, result.blobs_eligible, result.manifests_eligible = (int(x) for x in m.groups())
    result.changed = (
        not dry_run and done.returncode == 0 and bool(result.blobs_eligible or result.manifests_eligible)
    )
    result.actions = [{"action": "garbage-collect", "config": str(config_path)}]
    return result
