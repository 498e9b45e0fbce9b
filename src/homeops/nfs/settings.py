"""Config: the `[nfs]` table (spec nfs.md §4); its PVE host connection is reused by `[immich]` and `[iogate]`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from homeops.settings import setting

_URL = re.compile(r"https?://[^/\s]+\S*")
_VG_LV = re.compile(r"[A-Za-z0-9+_.-]+/[A-Za-z0-9+_.-]+")
# lvextend-style size: integer, optional binary suffix K M G T P (optionally "iB"), or bytes with B.
SIZE_RE = re.compile(r"([0-9]+)([KMGTP](i?B)?|B)?", re.IGNORECASE)

DEFAULT_NODES = {
    "k8s-master": "10.0.20.100",
    "k8s-node1": "10.0.20.101",
    "k8s-node2": "10.0.20.102",
    "k8s-node3": "10.0.20.103",
    "k8s-node4": "10.0.20.104",
}


@dataclass(frozen=True)
class Settings:
    """`[nfs]`: the PVE NFS host, its clients, LVs, exports, mirror, Nextcloud archives and bulk copies."""

    host: str = setting("192.168.1.127", 'NFS/PVE host; "local" when homeops runs on it.')
    ssh_user: str = setting("root", "SSH user on the host.")
    ssh_port: int = setting(22, "SSH port of the host.", min=1, max=65535)
    identity_file: str = setting("", "SSH private key file; empty = agent and default keys.")
    known_hosts: str = setting(
        "~/.ssh/known_hosts", "known_hosts file (unknown or changed keys are refused)."
    )
    nodes: dict[str, str] = setting(DEFAULT_NODES, "NFS client nodes: name → IP (health, stale mounts).")
    node_ssh_user: str = setting("wizard", "SSH user on the client nodes.")
    mounts: list[str] = setting(
        ["/srv/nfs", "/srv/nfs-ssd"], "Exported filesystems whose capacity is checked."
    )
    warn_pct: int = setting(80, "Capacity warn at this Use%.", min=0, max=100)
    fail_pct: int = setting(90, "Capacity fail at this Use%.", min=0, max=100)
    stale_probe_timeout_s: float = setting(
        5.0, "Seconds before a client mount probe counts as stale.", min=0.01
    )
    lv: str = setting("pve/nfs-data", "Default vg/lv of lv show and lv grow.")
    lv_mounts: dict[str, str] = setting(
        {"pve/nfs-data": "/srv/nfs", "ssd/nfs-ssd-data": "/srv/nfs-ssd"}, "vg/lv → its mount point."
    )
    max_pool_data_pct: float = setting(
        90.0, "lv grow refuses a projected thin-pool Data% at or above this.", min=0, max=100
    )
    max_pool_metadata_pct: float = setting(
        80.0, "lv grow refuses at or above this pool Meta%.", min=0, max=100
    )
    infra_repo: str = setting("~/code/infra", "Checkout of the infra repository.")
    exports_file: str = setting("scripts/pve-nfs-exports", "Exports file in infra_repo (source of truth).")
    exports_path: str = setting("/etc/exports", "Exports file on the host.")
    required_options: list[str] = setting(
        ["no_root_squash", "insecure", "no_subtree_check"], "Options every export must carry."
    )
    mirror_src: str = setting("/srv/nfs/", "Mirror source (trailing / = contents).")
    mirror_dst: str = setting("/mnt/backup/", "Mirror destination.")
    mirror_log: str = setting("/var/log/nfs-mirror.log", "Mirror log file.")
    mirror_lock: str = setting("/run/nfs-mirror.lock", "Mirror flock file.")
    require_mountpoint: bool = setting(True, "Refuse to mirror unless the destination is a mountpoint.")
    pushgateway: str = setting("http://10.0.20.100:30091", "Pushgateway of the mirror metrics.")
    legacy_env_file: str = setting("", "KEY=VALUE file; the only place NFS_MIRROR_PUSHGATEWAY is read.")
    rsync_extra_args: list[str] = setting([], "Extra mirror rsync arguments, e.g. --bwlimit=50000.")
    excludes: list[str] = setting([], "Mirror excludes; empty = the built-in list.")
    occ_transport: Literal["k8s-exec", "ssh"] = setting(
        "k8s-exec", "How occ runs: Nextcloud pod exec, or SSH."
    )
    occ_command: list[str] = setting(
        ["runuser", "-u", "www-data", "--", "php", "/var/www/html/occ"], "argv prefix of occ."
    )
    occ_ssh_host: str = setting("", "Host for occ over SSH.")
    nextcloud_namespace: str = setting("nextcloud", "Namespace of the Nextcloud pod.")
    manifest_source: str = setting("k8s", "Terraform archive manifest: k8s, file:PATH or none.")
    always_include_users: list[str] = setting(["admin"], "Users added to every archive mount.")
    archive_dir_owner: str = setting("root:www-data", "owner:group of new archive dirs.")
    archive_dir_mode: str = setting("2775", "Octal mode of new archive dirs.")
    copy_workers: int = setting(4, "copy: fpsync workers.", min=1, max=64)
    copy_slab: str = setting("4G", "copy: fpsync slab size (K/M/G/T suffix, 1024-based).")
    copy_files_per_job: int = setting(2000, "copy: files per fpsync job.", min=1)
    copy_tmpdir: str = setting("/var/tmp/homeops-fpsync", "copy: fpsync run directory.")
    rsync_path: str = setting("/usr/bin/rsync", "rsync binary (fpsync -T).")
    known_nfs_servers: list[str] = setting(["192.168.1.127", "192.168.1.13"], "Legitimate NFS servers.")
    offsite_direct: list[str] = setting(["immich"], "Top-level dirs shipped offsite directly.")
    no_backup_by_design: list[str] = setting(
        ["frigate", "temp", "ollama", "prometheus-backup", "audiblez", "ebook2audiobook"],
        "Top-level dirs knowingly not backed up.",
    )
    proc_root: str = setting("/proc", "Where /proc files are read (tests point it at fixtures).")

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError('host: must not be empty ("local" for this machine)')
        if self.warn_pct > self.fail_pct:
            raise ValueError(f"warn_pct: {self.warn_pct} is above fail_pct {self.fail_pct}")
        for item in [self.lv, *self.lv_mounts]:
            if not _VG_LV.fullmatch(item):
                raise ValueError(f"lv: expected vg/lv, got {item!r}")
        if self.lv not in self.lv_mounts:
            raise ValueError(f"lv_mounts: has no mount for lv {self.lv}")
        if self.pushgateway and not _URL.fullmatch(self.pushgateway):
            raise ValueError(f"pushgateway: expected an http(s) URL, got {self.pushgateway!r}")
        if not self.occ_command:
            raise ValueError("occ_command: must not be empty")
        if not (self.manifest_source in ("k8s", "none") or self.manifest_source.startswith("file:/")):
            raise ValueError(
                f"manifest_source: expected k8s, none or file:/PATH, got {self.manifest_source!r}"
            )
        if not re.fullmatch(r"[a-z_][a-z0-9_.-]*:[a-z_][a-z0-9_.-]*", self.archive_dir_owner):
            raise ValueError(f"archive_dir_owner: expected user:group, got {self.archive_dir_owner!r}")
        if not re.fullmatch(r"[0-7]{3,4}", self.archive_dir_mode):
            raise ValueError(
                f"archive_dir_mode: expected an octal mode such as 2775, got {self.archive_dir_mode!r}"
            )
        slab = SIZE_RE.fullmatch(self.copy_slab)
        if slab is None or int(slab.group(1)) == 0:
            raise ValueError(f"copy_slab: expected a size such as 4G, got {self.copy_slab!r}")
        if not self.rsync_path.startswith("/"):
            raise ValueError("rsync_path: must be an absolute path (fpsync -T)")
