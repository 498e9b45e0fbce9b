"""Config: the `[k8s-upgrade]` table (spec k8s-upgrade.md §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from homeops.settings import Secret, secret, setting

_URL = re.compile(r"https?://[^/\s]+\S*")
_NS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


@dataclass(frozen=True)
class Toleration:
    """One pod toleration of a chain Job (Kubernetes `tolerations[]` entry)."""

    key: str = setting("", "Taint key; empty matches every taint (operator must be Exists).")
    operator: Literal["Exists", "Equal"] = setting("Equal", "Exists, or Equal to value.")
    value: str = setting("", "Taint value for operator Equal.")
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = setting(
        "", "Taint effect; empty matches every effect."
    )

    def __post_init__(self) -> None:
        if self.operator == "Exists" and self.value:
            raise ValueError("value: must be empty with operator Exists")
        if not self.key and self.operator != "Exists":
            raise ValueError("operator: must be Exists when key is empty")


def _gpu_toleration() -> list[Toleration]:
    return [Toleration("nvidia.com/gpu", "Exists", "", "NoSchedule")]


def _control_plane_toleration() -> list[Toleration]:
    return [Toleration("node-role.kubernetes.io/control-plane", "Exists", "", "NoSchedule")]


@dataclass(frozen=True)
class Settings:
    """`[k8s-upgrade]`: the kubeadm upgrade chain, unstick and the kured reboot gate."""

    kubeconfig: str = setting("", "Kubeconfig path; empty = in-cluster, else ~/.kube/config.")
    namespace: str = setting("k8s-upgrade", "Namespace of the chain Jobs, kill switch and annotations.")
    image: str = setting("", "homeops image for chain Jobs; must be set to spawn.")
    job_template: str = setting("", "Optional Job manifest template file ($JOB_NAME, …); empty = built-in.")
    job_active_deadline: int = setting(10800, "activeDeadlineSeconds of every chain Job.", min=60)
    master_node: str = setting("", "Control-plane node; empty = the node labelled control-plane.")
    worker_tolerations: list[Toleration] = setting(
        default_factory=_gpu_toleration, help="Tolerations of Jobs that run on a worker (preflight, master)."
    )
    master_tolerations: list[Toleration] = setting(
        default_factory=_control_plane_toleration, help="Tolerations of Jobs that run on the control plane."
    )
    pkgs_base_url: str = setting("https://pkgs.k8s.io/core:/stable:", "Kubernetes apt repository base URL.")
    prometheus: str = setting(
        "http://prometheus-server.monitoring.svc.cluster.local:80", "Prometheus URL (alert gate, queries)."
    )
    pushgateway: str = setting("http://prometheus-prometheus-pushgateway.monitoring:9091", "Pushgateway URL.")
    slack_webhook: Secret = secret(
        "Slack webhook reference; empty = no Slack.", default=("file:/secrets/k8s-upgrade/slack_webhook",)
    )
    ssh_user: str = setting("wizard", "SSH user on the nodes.")
    ssh_key: Secret = secret("ed25519 SSH key reference.", default=("file:/secrets/k8s-upgrade/ssh_key",))
    ssh_host_key_policy: Literal["accept-new", "strict"] = setting(
        "accept-new", "accept-new: unknown keys accepted, changed refused; strict: ssh_known_hosts only."
    )
    ssh_known_hosts: str = setting("", "known_hosts file for strict host-key checking.")
    alert_ignore: list[str] = setting(
        ["RecentNodeReboot", "IngressTTFBCritical", "K8sUpgradeStalled", "EtcdPreUpgradeSnapshotMissing"],
        "Critical alerts that never block the chain.",
    )
    alert_gate_fail_open: bool = setting(False, "True = pass the alert gate when Prometheus is unreachable.")
    alert_wait_tries: int = setting(30, "Worker phase: alert-gate tries, 60 s apart.", min=1, max=1000)
    soak_checks: int = setting(10, "Worker phase: soak alert checks, 60 s apart.", min=1, max=1000)
    quiet_window: int = setting(600, "Refuse while any node became Ready less than this many s ago.", min=0)
    node_ready_timeout: int = setting(
        900, "Seconds to wait for a node Ready at the version (15 s polls).", min=1
    )
    drain_timeout: int = setting(1800, "Seconds before a blocked drain fails.", min=1)
    uncordon_on_drain_failure: bool = setting(True, "Uncordon the node when its drain fails.")
    api_concurrency: int = setting(8, "Concurrent Kubernetes API calls.", min=1, max=64)
    detect_spawn: bool = setting(True, "False = detect reports the target but spawns nothing.")
    legacy_env_file: str = setting("", "KEY=VALUE file with the original's names (DRY_RUN).")
    snapshot_cronjob: str = setting("default/backup-etcd", "namespace/name of the etcd backup CronJob.")
    snapshot_url_prefix: str = setting(
        "nfs://192.168.1.127:/srv/nfs/etcd-backup/", "Prefix of the snapshot-path annotation."
    )
    quiesce_deployments: list[str] = setting(
        ["tigera-operator/tigera-operator"],
        "namespace/name Deployments scaled to 0 during the master update.",
    )
    compat_matrix: str = setting("/etc/homeops/addon-compat.json", "Addon compatibility matrix (JSON).")
    smoke_dns_name: str = setting(
        "kubernetes.default.svc.cluster.local", "Postflight DNS probe; empty skips."
    )
    kured_daemonset: str = setting("kured/kured", "namespace/name of kured; empty disables the lock check.")
    remote_root: str = setting("", "Prefix of every remote file path (tests only).")
    reboot_required_file: str = setting("/host/var-run/reboot-required", "File that says a reboot is needed.")
    reboot_sentinel_file: str = setting(
        "/host/var-run/gated-reboot-required", "Sentinel the reboot gate creates for kured."
    )
    cni_namespace: str = setting("calico-system", "Namespace of the CNI pods the reboot gate checks.")
    cni_selector: str = setting("k8s-app=calico-node", "Label selector of those pods; empty disables.")

    def __post_init__(self) -> None:
        for key in ("pkgs_base_url", "prometheus", "pushgateway"):
            value = getattr(self, key)
            if not _URL.fullmatch(value):
                raise ValueError(f"{key}: expected an http(s) URL, got {value!r}")
        if self.ssh_host_key_policy == "strict" and not self.ssh_known_hosts:
            raise ValueError("ssh_known_hosts: required when ssh_host_key_policy is strict")
        if not _NS_NAME.fullmatch(self.snapshot_cronjob):
            raise ValueError(f"snapshot_cronjob: expected namespace/name, got {self.snapshot_cronjob!r}")
        if self.kured_daemonset and not _NS_NAME.fullmatch(self.kured_daemonset):
            raise ValueError(
                f"kured_daemonset: expected namespace/name or empty, got {self.kured_daemonset!r}"
            )
        for item in self.quiesce_deployments:
            if not _NS_NAME.fullmatch(item):
                raise ValueError(f"quiesce_deployments: expected namespace/name, got {item!r}")
        if not self.namespace:
            raise ValueError("namespace: must not be empty")
