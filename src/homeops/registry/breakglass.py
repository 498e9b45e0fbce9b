"""Adapter + service: break-glass tarballs — pull with docker or skopeo, gzip atomically, verify, swap the
``<name>-latest.tar.gz`` symlink atomically, rotate (specs/registry.md §3.6).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeops.errors import ProblemFound, Refused, UsageError
from homeops.registry.creds import Credentials

SUFFIX = ".tar.gz"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(directory: Path, name: str) -> Iterator[None]:
    """``flock DIR/.<name>.lock`` for the whole save or prune."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".{name}.lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused(
                f"another break-glass run holds {directory}/.{name}.lock", "wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def file_name(name: str, tag: str | None, digest: str) -> str:
    """``<name>-<tag>.tar.gz``; tag ``latest`` or a digest reference → ``<name>-sha256-<12hex>.tar.gz``."""
    if tag and tag != "latest":
        return f"{name}-{tag}{SUFFIX}"
    return f"{name}-sha256-{digest.split(':', 1)[1][:12]}{SUFFIX}"


def check_archive(path: Path, repo_tag: str | None) -> str | None:
    """Read a tar.gz to the end (gzip CRC, tar structure) and check manifest.json; the problem or None."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {}
            manifest: Any = None
            for member in tar:
                members[member.name] = member
                if member.name == "manifest.json":
                    fh = tar.extractfile(member)
                    manifest = json.loads(fh.read()) if fh else None
                else:
                    fh = tar.extractfile(member)
                    if fh is not None:
                        while fh.read(1 << 20):
                            pass
    except (OSError, tarfile.TarError, EOFError, ValueError, gzip.BadGzipFile) as exc:
        return f"not a valid tar.gz: {type(exc).__name__}: {exc}"
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        return "manifest.json missing or malformed"
    entry = manifest[0]
    if repo_tag is not None and repo_tag not in (entry.get("RepoTags") or []):
        return f"manifest.json does not name {repo_tag} (has {entry.get('RepoTags')})"
    for member in [entry.get("Config"), *(entry.get("Layers") or [])]:
        if not isinstance(member, str) or member not in members:
            return f"archive lacks {member}"
    return None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _write_atomic(directory: Path, final: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{final}.tmp-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, directory / final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def swap_symlink(directory: Path, name: str, target: str) -> None:
    """Point ``<name>-latest.tar.gz`` at ``target`` by rename; a regular file there becomes a legacy file."""
    link = directory / f"{name}-latest{SUFFIX}"
    if link.exists() and not link.is_symlink():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
        os.replace(link, directory / f"{name}-legacy-{stamp}{SUFFIX}")
    tmp = directory / f".{name}-latest{SUFFIX}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync_dir(directory)


@dataclass
class Entry:
    file: str
    image: str | None
    digest: str | None
    bytes: int
    saved_at: str | None
    latest: bool
    check: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {k: getattr(self, k) for k in ("file", "image", "digest", "bytes", "saved_at", "latest")}
        if self.check is not None:
            doc["check"] = self.check
        return doc


def tarballs(directory: Path, name: str) -> list[Entry]:
    """Regular ``<name>-*.tar.gz`` files (not the symlink, not partials), newest first."""
    link = directory / f"{name}-latest{SUFFIX}"
    target = os.readlink(link) if link.is_symlink() else None
    out = []
    for path in directory.glob(f"{name}-*{SUFFIX}"):
        if path.is_symlink() or not path.is_file() or path.name.startswith("."):
            continue
        meta: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads((directory / f"{path.name}.json").read_text())
        out.append(
            Entry(
                path.name,
                meta.get("image"),
                meta.get("digest"),
                path.stat().st_size,
                meta.get("saved_at"),
                path.name == target,
            )
        )
    out.sort(
        key=lambda e: (
            e.saved_at or dt.datetime.fromtimestamp((directory / e.file).stat().st_mtime, dt.UTC).isoformat()
        ),
        reverse=True,
    )
    return out


def rotation(directory: Path, name: str, keep: int) -> tuple[list[str], list[str]]:
    """(kept, to delete): the newest ``keep`` plus the symlink target."""
    if keep < 1:
        raise UsageError("--keep must be at least 1", "keep at least one tarball")
    entries = tarballs(directory, name)
    kept = [e.file for e in entries[:keep]] + [e.file for e in entries[keep:] if e.latest]
    return kept, [e.file for e in entries if e.file not in kept]


def delete_tarball(directory: Path, file: str) -> None:
    for path in (directory / file, directory / f"{file}.sha256", directory / f"{file}.json"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_partials(directory: Path, now: float) -> None:
    for path in directory.glob(".*.partial-*"):
        m = re.search(r"\.partial-(\d+)$", path.name)
        if not m or now - path.stat().st_mtime < 86400:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:
            pass


@dataclass
class SaveResult:
    image: str
    digest: str
    platform_digest: str
    file: str
    bytes: int = 0
    sha256: str = ""
    symlink: str = ""
    rotated: list[str] = field(default_factory=list)
    changed: bool = False
    dry_run: bool = False
    actions: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def render_human(self) -> str:
        if self.dry_run:
            lines = [f"plan (dry run): write {self.file} from {self.image}@{self.digest}"]
            lines += [f"  rotate out {r}" for r in self.rotated]
            return "\n".join(lines)
        if not self.changed:
            return f"unchanged: {self.file} already holds {self.digest}"
        lines = [
            f"saved {self.file} ({self.bytes} B, sha256 {self.sha256[:12]}), {self.symlink} → {self.file}"
        ]
        lines += [f"  rotated out {r}" for r in self.rotated]
        return "\n".join(lines)


def stream_to_partial(argv: list[str], partial: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the tool, gzip its stdout (level 6) into ``partial`` (O_EXCL); (bytes, sha256) of the file."""
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    class _Hashing:
        def __init__(self, raw: Any) -> None:
            self.raw, self.h, self.n = raw, hashlib.sha256(), 0

        def write(self, data: bytes) -> int:
            self.h.update(data)
            self.n += len(data)
            return int(self.raw.write(data))

        def flush(self) -> None:
            self.raw.flush()

    with os.fdopen(fd, "wb") as raw:
        hashing = _Hashing(raw)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        with gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=6, mtime=0) as gz:
            while chunk := proc.stdout.read(1 << 20):
                gz.write(chunk)
        err = proc.stderr.read() if proc.stderr else b""
        rc = proc.wait()
        raw.flush()
        os.fsync(raw.fileno())
    if rc != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise ProblemFound(
            f"{Path(argv[0]).name} exited {rc}: {tail[0][:200]}",
            "nothing was replaced; see the tool's message",
        )
    return hashing.n, hashing.h.hexdigest()


def free_space_ok(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    want = int(1.1 * needed) + 64 * 1024 * 1024
    if free < want:
        raise Refused(f"{directory} has {free} B free, needs {want} B", "free space or use another --dir")


@dataclass(frozen=True)
class Resolved:
    """What the registry says about IMAGE: index digest, the platform child, and its blob sizes."""

    full_name: str  # host/repo:tag as recorded in the archive
    digest: str
    platform_digest: str
    blob_bytes: int
    pull_ref: str  # host/repo@digest


@contextlib.contextmanager
def skopeo_authfile(host: str, credentials: Credentials) -> Iterator[str]:
    """A containers ``auth.json`` for ``host`` only: 0600 in a private 0700 temp dir, removed afterwards.

    skopeo reads the secret from this file, so it never shows in argv (``--src-creds`` would put it there).
    """
    import base64

    private = tempfile.mkdtemp(prefix="homeops-skopeo-")  # mkdtemp makes it 0700
    path = os.path.join(private, "auth.json")
    try:
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"auths": {host: {"auth": token}}}, fh)
        yield path
    finally:
        shutil.rmtree(private, ignore_errors=True)


def pick_tool(tool: str) -> str:
    """``auto``: docker if its daemon answers within 5 s, else skopeo, else exit 2."""
    if tool != "auto":
        if shutil.which(tool) is None:
            raise UsageError(f"{tool} is not installed", "install it or pass --tool auto")
        return tool
    if shutil.which("docker"):
        try:
            done = subprocess.run(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                capture_output=True,
                timeout=5,
                check=False,
            )
            if done.returncode == 0 and done.stdout.strip():
                return "docker"
        except (subprocess.TimeoutExpired, OSError):
            pass
    if shutil.which("skopeo"):
        return "skopeo"
    raise UsageError("neither docker nor skopeo is available", "install skopeo or docker")


def skopeo_argv(resolved: Resolved, platform: str, *, tls_verify: bool, authfile: str | None) -> list[str]:
    """``skopeo copy`` of the platform child to a docker-archive on stdout; credentials only via the file."""
    os_, arch, *variant = platform.split("/")
    argv = ["skopeo", "copy", "--quiet", f"--override-os={os_}", f"--override-arch={arch}"]
    if variant:
        argv.append(f"--override-variant={variant[0]}")
    if not tls_verify:
        argv.append("--src-tls-verify=false")
    if authfile:
        argv.append(f"--src-authfile={authfile}")
    return [*argv, f"docker://{resolved.pull_ref}", f"docker-archive:/dev/stdout:{resolved.full_name}"]


def save(
    resolved: Resolved,
    directory: Path,
    *,
    name: str,
    tag: str | None,
    platform: str,
    tool: str,
    keep: int,
    dry_run: bool,
    tls_verify: bool,
    credentials: Credentials | None,
    now: dt.datetime,
) -> SaveResult:
    """Steps 1–10 of §3.6; any failure leaves the previous tarballs and the symlink untouched."""
    directory.mkdir(parents=True, exist_ok=True)
    with locked(directory, name):
        final = file_name(name, tag, resolved.digest)
        result = SaveResult(
            resolved.full_name, resolved.digest, resolved.platform_digest, final, dry_run=dry_run
        )
        existing = directory / final
        if existing.exists():
            meta: dict[str, Any] = {}
            with contextlib.suppress(OSError, ValueError):
                meta = json.loads((directory / f"{final}.json").read_text())
            if meta.get("digest") == resolved.digest and check_archive(existing, resolved.full_name) is None:
                result.bytes, result.sha256 = existing.stat().st_size, sha256_file(existing)
                result.symlink = f"{name}-latest{SUFFIX}"
                return result
            final = final[: -len(SUFFIX)] + f"-{resolved.digest.split(':', 1)[1][:12]}{SUFFIX}"
            result.file = final
        free_space_ok(directory, resolved.blob_bytes)
        if dry_run:
            _, rotated = rotation(directory, name, max(1, keep - 1))
            result.rotated = rotated
            result.actions = [{"action": "write", "file": final}] + [
                {"action": "delete", "file": r} for r in rotated
            ]
            return result
        partial = directory / f".{final}.partial-{os.getpid()}"
        try:
            if tool == "docker":
                subprocess.run(
                    ["docker", "pull", "--platform", platform, resolved.full_name],
                    check=False,
                    capture_output=True,
                )
            with contextlib.ExitStack() as stack:
                authfile = None
                if tool != "docker" and credentials is not None:
                    host = resolved.pull_ref.split("/", 1)[0]
                    authfile = stack.enter_context(skopeo_authfile(host, credentials))
                argv = (
                    ["docker", "save", resolved.full_name]
                    if tool == "docker"
                    else skopeo_argv(resolved, platform, tls_verify=tls_verify, authfile=authfile)
                )
                size, digest = stream_to_partial(argv, partial)
            problem = check_archive(partial, resolved.full_name)
            if problem:
                raise ProblemFound(f"the new tarball failed its check: {problem}", "nothing was replaced")
            os.replace(partial, directory / final)
            _fsync_dir(directory)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        _write_atomic(directory, f"{final}.sha256", f"{digest}  {final}\n")
        saved_at = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta = {
            "image": resolved.full_name,
            "digest": resolved.digest,
            "platform_digest": resolved.platform_digest,
            "platform": platform,
            "tool": tool,
            "saved_at": saved_at,
            "bytes": size,
        }
        _write_atomic(directory, f"{final}.json", json.dumps(meta, sort_keys=True) + "\n")
        swap_symlink(directory, name, final)
        _, rotated = rotation(directory, name, keep)
        for file in rotated:
            delete_tarball(directory, file)
        clean_partials(directory, now.timestamp())
        result.bytes, result.sha256, result.symlink = size, digest, f"{name}-latest{SUFFIX}"
        result.rotated, result.changed = rotated, True
        result.actions = [{"action": "write", "file": final}] + [
            {"action": "delete", "file": r} for r in rotated
        ]
        return result
