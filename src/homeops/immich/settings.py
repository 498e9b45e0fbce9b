"""Config: the `[immich]` table with `[immich.profile]` and `[immich.import]` (spec immich.md §4).

The IO gate's table is the shared `[iogate]` (`homeops.shared_settings.IogateSettings`); the PVE host
connection comes from `[nfs]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from homeops.settings import Secret, secret, setting

_URL = re.compile(r"https?://[^/\s]+\S*")
_THRESHOLD = re.compile(r"[0-9]+[kMmG]?")
_BITRATE = re.compile(r"[0-9]+[km]?")
_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)\.([0-9]+)")
_MIN_IMMICH_GO = (0, 32, 0)  # the first immich-go release that supports Immich v3


# Field names below are Immich's own config paths (camelCase), so `[immich.profile.ffmpeg] maxBitrate = …`
# names exactly the server key it sets.
@dataclass(frozen=True)
class FfmpegProfile:
    """Desired `ffmpeg.*` server settings."""

    maxBitrate: str = setting("20000k", 'Transcode bitrate cap: digits with optional k/m; "0" = uncapped.')
    preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
    ] = setting("medium", "x264 preset.")
    transcode: Literal["all", "optimal", "bitrate", "required", "disabled"] = setting(
        "bitrate", "Transcode policy."
    )
    targetResolution: str = setting("original", "Target resolution: original, or a height such as 1080.")
    accel: Literal["nvenc", "qsv", "vaapi", "rkmpp", "disabled"] = setting("nvenc", "Hardware acceleration.")
    accelDecode: bool = setting(True, "Hardware decoding.")

    def __post_init__(self) -> None:
        if not _BITRATE.fullmatch(self.maxBitrate):
            raise ValueError(f"maxBitrate: expected digits with an optional k or m, got {self.maxBitrate!r}")
        if self.targetResolution != "original" and not self.targetResolution.isdigit():
            raise ValueError(
                f"targetResolution: expected original or a height, got {self.targetResolution!r}"
            )


@dataclass(frozen=True)
class QueueConcurrency:
    """Desired concurrency of one Immich job queue."""

    concurrency: int = setting(1, "Jobs run at once.", min=1, max=64)


@dataclass(frozen=True)
class JobProfile:
    """Desired `job.*` server settings."""

    thumbnailGeneration: QueueConcurrency = setting(QueueConcurrency(2), "thumbnailGeneration queue.")
    metadataExtraction: QueueConcurrency = setting(QueueConcurrency(2), "metadataExtraction queue.")
    library: QueueConcurrency = setting(QueueConcurrency(2), "library queue.")
    videoConversion: QueueConcurrency = setting(QueueConcurrency(1), "videoConversion queue; must stay 1.")

    def __post_init__(self) -> None:
        if self.videoConversion.concurrency != 1:
            raise ValueError("videoConversion.concurrency: must be exactly 1 (protects the sdc HDD)")


@dataclass(frozen=True)
class ProfileSettings:
    """`[immich.profile]`: the desired server config `config apply` enforces (the built-in `default`)."""

    ffmpeg: FfmpegProfile = setting(FfmpegProfile(), "Transcoding settings.")
    job: JobProfile = setting(JobProfile(), "Job queue concurrencies.")


@dataclass(frozen=True)
class ImportSettings:
    """`[immich.import]`: the ad-hoc immich-go Job of `immich import`."""

    image: str = setting(
        "alpine:3.20", "Job image: plain Alpine downloads immich-go, else it must be on PATH."
    )
    immich_go_version: str = setting("v0.32.0", "immich-go release to download (v0.32.0 or later).")
    immich_go_sha256: str = setting("", "sha256 of the immich-go tarball; required when it is downloaded.")
    secret_name: str = setting("immich-secrets", "Secret holding the uploader's API key.")
    nfs_server: str = setting("192.168.1.127", "NFS server of the inline source volume.")
    concurrent_tasks: int = setting(4, "immich-go --concurrent-tasks.", min=1, max=20)
    avoid_nodes: list[str] = setting(["k8s-node1"], "Nodes the Job must not run on (the GPU/ML node).")

    def __post_init__(self) -> None:
        match = _VERSION.fullmatch(self.immich_go_version)
        if match is None:
            raise ValueError(f"immich_go_version: expected vX.Y.Z, got {self.immich_go_version!r}")
        if tuple(int(p) for p in match.groups()) < _MIN_IMMICH_GO:
            raise ValueError("immich_go_version: must be v0.32.0 or later (older releases predate Immich v3)")
        if self.immich_go_sha256 and not re.fullmatch(r"[0-9a-fA-F]{64}", self.immich_go_sha256):
            raise ValueError("immich_go_sha256: expected 64 hex digits")
        if not self.image:
            raise ValueError("image: must not be empty")


@dataclass(frozen=True)
class Settings:
    """`[immich]`: the Immich server, its database, transcode repair and imports."""

    url: str = setting("http://immich-server.immich.svc.cluster.local:2283", "Immich server URL.")
    api_key: Secret = secret(
        "Admin API key reference (a JSON value may be picked with .path).",
        default=("vault:secret/immich#homepage_credentials.immich.token",),
    )
    namespace: str = setting("immich", "Kubernetes namespace of Immich.")
    worker_deployment: str = setting("immich-worker", "Deployment of the job workers.")
    ml_deployment: str = setting("immich-machine-learning", "Deployment of machine learning.")
    db_transport: Literal["dsn", "k8s-exec"] = setting(
        "dsn", "dsn: connect with db_dsn; k8s-exec: psql inside deploy/immich-postgresql."
    )
    db_dsn: str = setting(
        "postgresql://immich@immich-postgresql.immich.svc.cluster.local:5432/immich", "PostgreSQL DSN."
    )
    db_password: Secret = secret("Database password reference.", default=("vault:secret/immich#db_password",))
    encoded_video_db_prefix: str = setting(
        "/usr/src/app/upload/encoded-video", "Path prefix of encoded videos as the database stores them."
    )
    encoded_video_host_path: str = setting(
        "/srv/nfs/immich/encoded-video", "The same directory on the NFS host (or a local mount)."
    )
    files_via: Literal["ssh", "local"] = setting("ssh", "List file sizes over SSH on the host, or locally.")
    threshold: str = setting("20M", "Offender bitrate: integer with optional k, M/m or G (bits/s).")
    state_dir: str = setting("", "State files; empty = $XDG_STATE_HOME/homeops/immich.")
    poll_interval_s: float = setting(60.0, "Seconds between queue polls of fix-bitrate.", min=0.01, max=3600)
    stall_after_s: float = setting(7200.0, "No progress for this long = stalled.", min=0)
    profile: ProfileSettings = setting(ProfileSettings(), "Desired server config (per-key overrides).")
    import_: ImportSettings = setting(ImportSettings(), "The immich-go import Job.")

    def __post_init__(self) -> None:
        if not _URL.fullmatch(self.url):
            raise ValueError(f"url: expected an http(s) URL, got {self.url!r}")
        if not _THRESHOLD.fullmatch(self.threshold) or int(self.threshold.rstrip("kMmG")) <= 0:
            raise ValueError(
                f"threshold: expected a positive integer with optional k, M or G, got {self.threshold!r}"
            )
        if self.db_transport == "dsn" and not re.match(r"postgres(ql)?://", self.db_dsn):
            raise ValueError("db_dsn: expected postgresql://… when db_transport is dsn")
        if not self.encoded_video_db_prefix.startswith("/") or not self.encoded_video_host_path.startswith(
            "/"
        ):
            raise ValueError("encoded_video_db_prefix, encoded_video_host_path: must be absolute paths")
