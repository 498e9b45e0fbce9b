"""Service: wire break-glass save/list/prune to settings, the registry client and the tool."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeops.errors import ExitCode, Unreachable, UsageError
from homeops.registry import breakglass as bg
from homeops.registry.creds import Credentials
from homeops.registry.service import Flags, build_client
from homeops.registry.settings import Settings


def _dir(settings: Settings, directory: Path | None) -> Path:
    d = directory or (Path(settings.breakglass_dir) if settings.breakglass_dir else None)
    if d is None:
        raise UsageError("no break-glass directory", "pass --dir or set registry.breakglass_dir")
    return d


@dataclass(frozen=True)
class Pull:
    """What the registry said, and how the tool must pull it (credentials bound to the image's host)."""

    resolved: bg.Resolved
    tag: str | None
    tls_verify: bool
    credentials: Credentials | None


def resolve(settings: Settings, flags: Flags, image: str, platform: str) -> Pull:
    """What to save, from the registry with the run's credentials; exit 4 when it cannot."""
    from homeops.registry import media
    from homeops.registry.descriptors import parse_platform, platform_matches
    from homeops.registry.oci import RequestFailed, parse_json_object
    from homeops.registry.ref import is_loopback, parse_reference

    ref = parse_reference(image)
    want = parse_platform(platform)
    client = build_client(settings, ref.host, flags)
    try:
        with client:
            top = client.get_manifest(ref.host, ref.repo, ref.reference)
            if top.status != 200:
                raise Unreachable(f"{image}: manifest → {top.status}", "check the reference")
            import hashlib

            digest = "sha256:" + hashlib.sha256(top.body).hexdigest()
            body = parse_json_object(top.body) or {}
            kind, _ = media.classify(top.content_type, body)
            child, child_body = digest, body
            if kind == "index":
                match = next(
                    (d for d in body.get("manifests") or [] if platform_matches(d.get("platform"), want)),
                    None,
                )
                if match is None:
                    raise Unreachable(f"{image} has no {platform} child", "pick another --platform")
                child = str(match["digest"])
                reply = client.get_manifest(ref.host, ref.repo, child)
                if reply.status != 200:
                    raise Unreachable(
                        f"{image}: {platform} child → {reply.status}",
                        "the image is broken; see registry verify",
                    )
                child_body = parse_json_object(reply.body) or {}
            sizes = [
                d.get("size", 0) for d in [child_body.get("config") or {}, *(child_body.get("layers") or [])]
            ]
            scheme_plain = client._state(ref.host).scheme == "http"
    except RequestFailed as exc:
        raise Unreachable(exc.detail, "check the registry") from None
    host = "docker.io" if ref.host == "registry-1.docker.io" else ref.host
    full = f"{host}/{ref.repo}:{ref.tag or 'latest'}"
    tls_verify = not (scheme_plain or flags.insecure or (is_loopback(ref.host) and scheme_plain))
    resolved = bg.Resolved(
        full, digest, child, sum(int(s) for s in sizes if isinstance(s, int)), f"{host}/{ref.repo}@{digest}"
    )
    creds = client.credentials if client.credentials and client.credentials.host == ref.host else None
    return Pull(resolved, ref.tag if not ref.digest else None, tls_verify, creds)


def save(
    settings: Settings,
    flags: Flags,
    image: str,
    *,
    directory: Path | None,
    keep: int | None,
    platform: str | None,
    tool: str | None,
    name: str | None,
    dry_run: bool,
) -> bg.SaveResult:
    d = _dir(settings, directory)
    plat = platform or settings.breakglass_platform
    pull = resolve(settings, flags, image, plat)
    resolved = pull.resolved
    the_tool = (
        bg.pick_tool(tool or settings.breakglass_tool) if not dry_run else (tool or settings.breakglass_tool)
    )
    the_name = name or resolved.full_name.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return bg.save(
        resolved,
        d,
        name=the_name,
        tag=pull.tag,
        platform=plat,
        tool=the_tool,
        keep=keep or settings.breakglass_keep,
        dry_run=dry_run,
        tls_verify=pull.tls_verify,
        credentials=pull.credentials,
        now=dt.datetime.now(dt.UTC),
    )


@dataclass
class ListResult:
    dir: str
    entries: list[bg.Entry] = field(default_factory=list)
    dangling: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"dir": self.dir, "entries": [e.to_json() for e in self.entries], "dangling": self.dangling}

    def render_human(self) -> str:
        lines = [
            f"{'*' if e.latest else ' '} {e.file}  {e.image or '-'}  {e.digest or '-'}  {e.bytes} B  {e.saved_at or '-'}"
            + (f"  {e.check}" if e.check else "")
            for e in self.entries
        ]
        lines += [f"DANGLING {d}" for d in self.dangling]
        return "\n".join(lines) or "no tarballs"


def _names(d: Path) -> list[str]:
    return sorted(
        {p.name[: -len("-latest.tar.gz")] for p in d.glob("*-latest.tar.gz")}
        | {
            json.loads(p.read_text()).get("image", "").rsplit(":", 1)[0].rsplit("/", 1)[-1]
            for p in d.glob("*.tar.gz.json")
        }
        - {""}
    )


def list_entries(
    settings: Settings, directory: Path | None, name: str | None, check: bool
) -> tuple[ListResult, ExitCode]:
    d = _dir(settings, directory)
    if not d.is_dir():
        raise UsageError(f"{d} is not a directory", "pass --dir")
    result = ListResult(str(d))
    failed = False
    for n in [name] if name else _names(d):
        for entry in bg.tarballs(d, n):
            if check:
                path = d / entry.file
                problem = bg.check_archive(path, entry.image)
                if problem is None:
                    side = d / f"{entry.file}.sha256"
                    try:
                        recorded = side.read_text().split()[0]
                    except (OSError, IndexError):
                        recorded = ""
                    if recorded != bg.sha256_file(path):
                        problem = "sha256 does not match the recorded digest"
                entry.check = problem or "ok"
                failed |= problem is not None
            result.entries.append(entry)
        link = d / f"{n}-latest.tar.gz"
        if link.is_symlink() and not link.exists():
            result.dangling.append(link.name)
            failed |= check
    return result, ExitCode.PROBLEM if failed else ExitCode.OK


@dataclass
class PruneResult:
    kept: list[str]
    deleted: list[str]
    changed: bool
    dry_run: bool
    actions: list[dict[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "deleted": self.deleted,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "actions": self.actions,
        }

    def render_human(self) -> str:
        if not self.deleted:
            return "unchanged: nothing to rotate"
        verb = "would delete" if self.dry_run else "deleted"
        return "\n".join(f"{verb} {f}" for f in self.deleted)


def prune(
    settings: Settings, directory: Path | None, name: str | None, keep: int, *, yes: bool, dry_run: bool
) -> PruneResult:
    from homeops.writes import confirm_destructive

    d = _dir(settings, directory)
    if keep < 1:
        raise UsageError("--keep must be at least 1", "keep at least one tarball")
    kept: list[str] = []
    deleted: list[str] = []
    for n in [name] if name else _names(d):
        with bg.locked(d, n):
            k, delete = bg.rotation(d, n, keep)
            if delete and not dry_run:
                confirm_destructive(f"delete {len(delete)} break-glass tarballs", yes=yes, dry_run=False)
                for f in delete:
                    bg.delete_tarball(d, f)
            kept += k
            deleted += delete
    actions = [{"action": "delete", "file": f} for f in deleted]
    return PruneResult(kept, deleted, bool(deleted) and not dry_run, dry_run, actions)
