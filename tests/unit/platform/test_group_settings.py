"""The settings tables of k8s-upgrade, immich, job-hunter, woodpecker and nfs (and the shared [iogate]).

Each spec's §4 example block is copied here as data: it must load through ``homeops.config.load`` with every
value as written, cover every declared key, reject an unknown key (exit 2 naming it) and take an
``HOMEOPS_<GROUP>__<KEY>`` override.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from homeops import config
from homeops.errors import ConfigError, ExitCode
from homeops.immich.settings import Settings as ImmichSettings
from homeops.job_hunter.settings import Settings as JobHunterSettings
from homeops.k8s_upgrade.settings import Settings as K8sUpgradeSettings
from homeops.k8s_upgrade.settings import Toleration
from homeops.nfs.settings import Settings as NfsSettings
from homeops.settings import Secret
from homeops.shared_settings import IogateSettings
from homeops.woodpecker.settings import Settings as WoodpeckerSettings

# --- the spec examples (copied verbatim from each spec's section 4) ---------------------------------------

K8S_UPGRADE = """
[k8s-upgrade]
kubeconfig = ""                        # empty: in-cluster, else ~/.kube/config
namespace = "k8s-upgrade"
image = ""                             # homeops image for chain Jobs; empty when spawning → exit 2
job_template = ""                      # (added) 3.4
job_active_deadline = 10800            # (added)
master_node = ""                       # empty: the node labelled node-role.kubernetes.io/control-plane
worker_tolerations = [{key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule"}]
master_tolerations = [{key = "node-role.kubernetes.io/control-plane", operator = "Exists", effect = "NoSchedule"}]
pkgs_base_url = "https://pkgs.k8s.io/core:/stable:"
prometheus = "http://prometheus-server.monitoring.svc.cluster.local:80"
pushgateway = "http://prometheus-prometheus-pushgateway.monitoring:9091"
slack_webhook = "file:/secrets/k8s-upgrade/slack_webhook"     # or vault:secret/k8s-upgrade#slack_webhook
ssh_user = "wizard"
ssh_key = "file:/secrets/k8s-upgrade/ssh_key"
ssh_host_key_policy = "accept-new"     # or "strict" (needs ssh_known_hosts)
ssh_known_hosts = ""
alert_ignore = ["RecentNodeReboot", "IngressTTFBCritical", "K8sUpgradeStalled", "EtcdPreUpgradeSnapshotMissing"]
alert_gate_fail_open = false           # (added) true = the original's behaviour
alert_wait_tries = 30                  # 60 s apart
soak_checks = 10                       # 60 s apart
quiet_window = 600
node_ready_timeout = 900               # polled every 15 s
drain_timeout = 1800                   # (added)
uncordon_on_drain_failure = true       # (added)
api_concurrency = 8                    # (added)
detect_spawn = true                    # legacy name DRY_RUN=true → false (only from legacy_env_file)
legacy_env_file = ""                   # (added) KEY=VALUE file holding the original's names (DRY_RUN)
snapshot_cronjob = "default/backup-etcd"
snapshot_url_prefix = "nfs://192.168.1.127:/srv/nfs/etcd-backup/"
quiesce_deployments = ["tigera-operator/tigera-operator"]
compat_matrix = "/etc/homeops/addon-compat.json"   # the operator's own file, 3.8 schema
smoke_dns_name = "kubernetes.default.svc.cluster.local"
kured_daemonset = "kured/kured"        # (added) empty disables the lock check
remote_root = ""                       # (added) prefix for every remote file path; tests only
reboot_required_file = "/host/var-run/reboot-required"
reboot_sentinel_file = "/host/var-run/gated-reboot-required"
cni_namespace = "calico-system"
cni_selector = "k8s-app=calico-node"
"""

IMMICH = """
[immich]
url = "http://immich-server.immich.svc.cluster.local:2283"  # external: https://immich.viktorbarzin.me
api_key = "vault:secret/immich#homepage_credentials.immich.token"   # a JSON value; .immich.token is the admin key
namespace = "immich"
worker_deployment = "immich-worker"
ml_deployment = "immich-machine-learning"
db_transport = "dsn"              # or "k8s-exec": psql in deploy/immich-postgresql (container default)
db_dsn = "postgresql://immich@immich-postgresql.immich.svc.cluster.local:5432/immich"
db_password = "vault:secret/immich#db_password"
encoded_video_db_prefix = "/usr/src/app/upload/encoded-video"
encoded_video_host_path = "/srv/nfs/immich/encoded-video"
files_via = "ssh"                 # or "local"
threshold = "20M"
state_dir = ""                    # "" = $XDG_STATE_HOME/homeops/immich
poll_interval_s = 60
stall_after_s = 7200
[immich.profile]                  # per-key overrides of the built-in profile (validated)
[immich.import]
image = "alpine:3.20"             # or an image with immich-go on PATH (then immich_go_version is ignored)
immich_go_version = "v0.32.0"
immich_go_sha256 = ""             # required when immich-go is downloaded (plain Alpine image)
secret_name = "immich-secrets"
nfs_server = "192.168.1.127"
concurrent_tasks = 4
avoid_nodes = ["k8s-node1"]
[iogate]                          # shared with nfs; env HOMEOPS_IOGATE__<KEY>
disk = "sdc"
max_load1 = 10
max_util_pct = 50
sample_s = 5
backup_unit = "daily-backup.service"
window = "04:30-08:30"
timezone = "Europe/Sofia"
prometheus_url = ""
proc_root = "/proc"               # tests point this at fixture files (local mode)
"""

JOB_HUNTER = """
[job-hunter]
dsn = ""                         # "" → DB_CONNECTION_STRING from legacy_env_file, else the local SQLite file (§3.1)
# production: "postgresql://job_hunter@pg-cluster-rw.dbaas.svc.cluster.local:5432/job_hunter"
db_password = ""                 # e.g. "vault-read:database/static-creds/pg-job-hunter#password" (7-day rotation)
legacy_env_file = ""             # KEY=VALUE file; the only place DB_CONNECTION_STRING is read
schema = "job_hunter"
payslip_dsn = ""                 # database payslip_ingest (owner role payslip_ingest)
payslip_password = ""
payslip_schema = "payslip_ingest"
namespace = "job-hunter"
refresh_cronjob = "job-hunter-refresh"
alert_cronjob = "job-hunter-alert"
deployment = "job-hunter"
threshold = 500000
location = "london"
slack_webhook = "vault:secret/job-hunter#slack_webhook_url"
min_refresh_interval_s = 3600
snapshot_max_age_days = 8
trend_weeks = 12
top_n = 10
low_confidence_n = 3
open_role_days = 14
self_level = "senior"
self_current_name = "Me (Meta IC5)"
self_realized_name = "Me - realized gross"
"""

WOODPECKER = """
[woodpecker]
url = "https://ci.viktorbarzin.me"
connect_ip = "10.0.20.203"             # "" = normal DNS; legacy HOMELAB_WP_IP only from legacy_env_file
legacy_env_file = ""
api_token = ["env:WOODPECKER_TOKEN", "env:WP_TOKEN", "vault:secret/ci/global#woodpecker_api_token"]
user_login = "viktor"
forge = "forgejo"
forge_ids = { github = 1, forgejo = 2 }
forgejo_url = "https://forgejo.viktorbarzin.me"
forgejo_token = ["env:FORGEJO_TOKEN", "vault:secret/viktor#forgejo_admin_token"]
github_api = "https://api.github.com"
github_token = "vault:secret/viktor#github_pat"
db_transport = "k8s-exec"              # or "dsn"
db_dsn = "postgresql://pg-cluster-rw.dbaas.svc.cluster.local:5432/woodpecker"
db_user = "vault-read:database/static-creds/pg-woodpecker#username"
db_password = "vault-read:database/static-creds/pg-woodpecker#password"
db_exec_namespace = "dbaas"
db_exec_selector = "cnpg.io/instanceRole=primary"
db_exec_container = "postgres"
db_exec_user = "postgres"
db_name = "woodpecker"
retry_attempts = 5
retry_sleep_s = 2
connect_timeout_s = 8
request_timeout_s = 20
watch_interval_s = 15
watch_deadline_s = 1200
infra_repo_id = 82
"""

NFS = """
[nfs]
host = "192.168.1.127"            # "local" when homeops runs on the host
ssh_user = "root"
ssh_port = 22
identity_file = ""
known_hosts = "~/.ssh/known_hosts"
nodes = { "k8s-master" = "10.0.20.100", "k8s-node1" = "10.0.20.101", "k8s-node2" = "10.0.20.102", "k8s-node3" = "10.0.20.103", "k8s-node4" = "10.0.20.104" }
node_ssh_user = "wizard"
mounts = ["/srv/nfs", "/srv/nfs-ssd"]
warn_pct = 80
fail_pct = 90
stale_probe_timeout_s = 5
lv = "pve/nfs-data"
lv_mounts = { "pve/nfs-data" = "/srv/nfs", "ssd/nfs-ssd-data" = "/srv/nfs-ssd" }
max_pool_data_pct = 90
max_pool_metadata_pct = 80
infra_repo = "~/code/infra"
exports_file = "scripts/pve-nfs-exports"   # relative to infra_repo
exports_path = "/etc/exports"
required_options = ["no_root_squash", "insecure", "no_subtree_check"]
mirror_src = "/srv/nfs/"
mirror_dst = "/mnt/backup/"
mirror_log = "/var/log/nfs-mirror.log"
mirror_lock = "/run/nfs-mirror.lock"
require_mountpoint = true
pushgateway = "http://10.0.20.100:30091"
legacy_env_file = ""               # KEY=VALUE file; the only place NFS_MIRROR_PUSHGATEWAY is read
rsync_extra_args = []              # e.g. ["--bwlimit=50000"] to spare sdc
excludes = []                      # [] = the built-in list of §3.5
occ_transport = "k8s-exec"         # or "ssh"
occ_command = ["runuser", "-u", "www-data", "--", "php", "/var/www/html/occ"]
occ_ssh_host = ""
nextcloud_namespace = "nextcloud"
manifest_source = "k8s"            # or "file:PATH" or "none"
always_include_users = ["admin"]
archive_dir_owner = "root:www-data"
archive_dir_mode = "2775"
copy_workers = 4
copy_slab = "4G"
copy_files_per_job = 2000
copy_tmpdir = "/var/tmp/homeops-fpsync"
rsync_path = "/usr/bin/rsync"
known_nfs_servers = ["192.168.1.127", "192.168.1.13"]
offsite_direct = ["immich"]
no_backup_by_design = ["frigate", "temp", "ollama", "prometheus-backup", "audiblez", "ebook2audiobook"]
proc_root = "/proc"                # tests point this at fixture files
"""

# table name → (spec example, settings class)
CASES: dict[str, tuple[str, type[Any]]] = {
    "k8s-upgrade": (K8S_UPGRADE, K8sUpgradeSettings),
    "immich": (IMMICH, ImmichSettings),
    "job-hunter": (JOB_HUNTER, JobHunterSettings),
    "woodpecker": (WOODPECKER, WoodpeckerSettings),
    "nfs": (NFS, NfsSettings),
}

# one override per group: (variable, its text, dotted key below the table, expected value)
OVERRIDES: dict[str, tuple[str, str, str, Any]] = {
    "k8s-upgrade": ("HOMEOPS_K8S_UPGRADE__DRAIN_TIMEOUT", "120", "drain_timeout", 120),
    "immich": (
        "HOMEOPS_IMMICH__IMPORT__IMAGE",
        "ghcr.io/simulot/immich-go:v0.32.0",
        "import.image",
        "ghcr.io/simulot/immich-go:v0.32.0",
    ),
    "job-hunter": ("HOMEOPS_JOB_HUNTER__TOP_N", "25", "top_n", 25),
    "woodpecker": ("HOMEOPS_WOODPECKER__CONNECT_IP", "", "connect_ip", ""),
    "nfs": ("HOMEOPS_NFS__NODES", '{"k8s-node1": "10.0.20.101"}', "nodes", {"k8s-node1": "10.0.20.101"}),
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _get(settings: Any, dotted: str) -> Any:
    """The value at a dotted key (``import.image`` → ``settings.import_.image``)."""
    value = settings
    for key in dotted.split("."):
        names = {config.key_name(f.name): f.name for f in dataclasses.fields(value)}
        value = getattr(value, names[key])
    return value


def _declared_keys(cls: type[Any]) -> set[str]:
    return {config.key_name(f.name) for f in dataclasses.fields(cls)}


def _assert_matches(actual: Any, expected: Any, where: str) -> None:
    """Every value written in the example is the value loaded (secrets as their references)."""
    if isinstance(actual, Secret):
        refs = [expected] if isinstance(expected, str) else expected
        assert actual.refs == tuple(r for r in refs if r), where
    elif dataclasses.is_dataclass(actual) and isinstance(expected, dict):
        for key, value in expected.items():
            _assert_matches(_get(actual, key), value, f"{where}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict):
        assert len(actual) == len(expected), where
        for i, (item, data) in enumerate(zip(actual, expected, strict=True)):
            _assert_matches(item, data, f"{where}[{i}]")
    else:
        assert actual == expected, where
        assert type(actual) is type(expected) or isinstance(actual, float), where


@pytest.mark.parametrize("table", sorted(CASES))
def test_spec_example_loads_with_every_value(tmp_path: Path, table: str) -> None:
    text, cls = CASES[table]
    loaded = config.load(_write(tmp_path, text), env={})
    settings = loaded.table(table, cls)
    example = tomllib.loads(text)[table]
    _assert_matches(settings, example, table)
    # the example names every key of the table, and the table declares no key the spec lacks
    assert set(example) == _declared_keys(cls)
    assert loaded.is_configured(table)
    assert loaded.source(f"{table}.{next(iter(example))}").startswith("file:")


@pytest.mark.parametrize("table", sorted(CASES))
def test_spec_example_equals_the_defaults(table: str) -> None:
    """The spec's example shows the defaults: an empty file gives the same values."""
    text, cls = CASES[table]
    defaults = cls()
    _assert_matches(defaults, tomllib.loads(text)[table], table)


@pytest.mark.parametrize("table", sorted(CASES))
def test_unknown_key_is_exit_2_naming_it(tmp_path: Path, table: str) -> None:
    text, _cls = CASES[table]
    head, _, rest = text.partition(f"[{table}]\n")
    path = _write(tmp_path, f"{head}[{table}]\nno_such_key = 1\n{rest}")
    with pytest.raises(ConfigError) as caught:
        config.load(path, env={})
    assert caught.value.exit_code == ExitCode.USAGE
    assert f"unknown key {table}.no_such_key" in caught.value.what
    assert ":3" in caught.value.what  # file:PATH:LINE of the offending line


def test_unknown_nested_key_is_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, '[immich.import]\nimage = "alpine:3.20"\nimgae = "typo"\n')
    with pytest.raises(ConfigError, match=r"unknown key immich\.import\.imgae"):
        config.load(path, env={})
    path = _write(
        tmp_path, '[k8s-upgrade]\nworker_tolerations = [{key = "a", operator = "Exists", typo = 1}]\n'
    )
    with pytest.raises(ConfigError, match=r"unknown key k8s-upgrade\.worker_tolerations\[0\]\.typo"):
        config.load(path, env={})


@pytest.mark.parametrize("table", sorted(OVERRIDES))
def test_environment_override_is_applied(tmp_path: Path, table: str) -> None:
    text, cls = CASES[table]
    name, value_text, dotted, expected = OVERRIDES[table]
    loaded = config.load(_write(tmp_path, text), env={name: value_text})
    assert _get(loaded.table(table, cls), dotted) == expected
    assert loaded.source(f"{table}.{dotted}") == f"env:{name}"


def test_unknown_override_key_is_exit_2(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key k8s-upgrade\.drain_timout") as caught:
        config.load(_write(tmp_path, ""), env={"HOMEOPS_K8S_UPGRADE__DRAIN_TIMOUT": "5"})
    assert caught.value.exit_code == 2


def test_override_reaches_camel_case_profile_keys_and_lists_of_tables(tmp_path: Path) -> None:
    env = {
        "HOMEOPS_IMMICH__PROFILE__FFMPEG__MAXBITRATE": "15000k",
        "HOMEOPS_IMMICH__PROFILE__JOB__LIBRARY__CONCURRENCY": "3",
        "HOMEOPS_K8S_UPGRADE__WORKER_TOLERATIONS": (
            '[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"},{"key":"x","value":"y"}]'
        ),
    }
    loaded = config.load(_write(tmp_path, ""), env=env)
    immich = loaded.table("immich", ImmichSettings)
    assert immich.profile.ffmpeg.maxBitrate == "15000k"
    assert immich.profile.job.library.concurrency == 3
    assert immich.profile.job.videoConversion.concurrency == 1
    assert (
        loaded.source("immich.profile.ffmpeg.maxBitrate") == "env:HOMEOPS_IMMICH__PROFILE__FFMPEG__MAXBITRATE"
    )
    tolerations = loaded.table("k8s-upgrade", K8sUpgradeSettings).worker_tolerations
    assert tolerations == [
        Toleration("nvidia.com/gpu", "Exists", "", "NoSchedule"),
        Toleration("x", "Equal", "y", ""),
    ]


def test_profile_overrides_in_toml_keep_the_other_defaults(tmp_path: Path) -> None:
    text = '[immich.profile]\nffmpeg.preset = "slow"\njob.thumbnailGeneration.concurrency = 4\n'
    immich = config.load(_write(tmp_path, text), env={}).table("immich", ImmichSettings)
    assert immich.profile.ffmpeg.preset == "slow"
    assert immich.profile.ffmpeg.maxBitrate == "20000k"
    assert immich.profile.job.thumbnailGeneration.concurrency == 4
    assert immich.profile.job.metadataExtraction.concurrency == 2
    rows = dict(config.flatten(immich, "immich"))
    assert rows["immich.profile.ffmpeg.preset"] == "slow"
    assert rows["immich.import.avoid_nodes"] == ["k8s-node1"]


def test_iogate_table_of_the_immich_spec(tmp_path: Path) -> None:
    loaded = config.load(_write(tmp_path, IMMICH), env={"HOMEOPS_IOGATE__SAMPLE_S": "0.2"})
    gate = loaded.table("iogate", IogateSettings)
    example = tomllib.loads(IMMICH)["iogate"]
    assert set(example) == _declared_keys(IogateSettings)
    _assert_matches(gate, {**example, "sample_s": 0.2}, "iogate")
    _assert_matches(IogateSettings(), example, "iogate")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[k8s-upgrade]\nssh_host_key_policy = "strict"\n', "ssh_known_hosts: required"),
        ('[k8s-upgrade]\nworker_tolerations = [{key = "a", operator = "Like"}]\n', "operator"),
        ('[k8s-upgrade]\nprometheus = "prometheus:9090"\n', "prometheus: expected an http"),
        ("[k8s-upgrade]\ndrain_timeout = -1\n", "at least"),
        ('[k8s-upgrade]\nquiesce_deployments = ["tigera-operator"]\n', "quiesce_deployments"),
        ('[k8s-upgrade]\nslack_webhook = "https://hooks.slack.com/services/T/B/x"\n', "literal secret"),
        ("[immich.profile.job.videoConversion]\nconcurrency = 2\n", "must be exactly 1"),
        ("[immich.profile.job.library]\nconcurrency = 0\n", "at least 1"),
        ('[immich.profile.ffmpeg]\nmaxBitrate = "20 Mbit"\n', "maxBitrate"),
        ('[immich.profile.ffmpeg]\npreset = "insane"\n', "preset"),
        ('[immich.profile.ffmpeg]\naccelDecode = "yes"\n', "accelDecode"),
        ('[immich]\nthreshold = "fast"\n', "threshold"),
        ('[immich]\nfiles_via = "nfs"\n', "files_via"),
        ('[immich.import]\nimmich_go_version = "v0.31.0"\n', "immich_go_version"),
        ('[immich.import]\nimmich_go_sha256 = "abc"\n', "immich_go_sha256"),
        ("[immich.import]\nconcurrent_tasks = 21\n", "at most 20"),
        ('[iogate]\nwindow = "4:30 to 8:30"\n', "window"),
        ('[iogate]\ntimezone = "Mars/Olympus"\n', "timezone"),
        ("[iogate]\nmax_util_pct = 150\n", "at most 100"),
        ('[job-hunter]\ndsn = "mysql://u:hunter2@db/x"\n', "dsn: expected"),
        ('[job-hunter]\nschema = "job-hunter; drop"\n', "schema"),
        ("[job-hunter]\ntop_n = 0\n", "at least 1"),
        ('[woodpecker]\nconnect_ip = "ci-lb"\n', "connect_ip"),
        ("[woodpecker]\nforge_ids = { forgejo = 2 }\n", "forge_ids: missing github"),
        ('[woodpecker]\nforge = "gitlab"\n', "forge"),
        ('[woodpecker]\napi_token = ["env:WOODPECKER_TOKEN", "abc123"]\n', "literal secret"),
        ("[nfs]\nwarn_pct = 95\n", "warn_pct"),
        ('[nfs]\nlv = "pve/other"\n', "lv_mounts: has no mount"),
        ('[nfs]\ncopy_slab = "4 gigs"\n', "copy_slab"),
        ('[nfs]\narchive_dir_mode = "rwx"\n', "archive_dir_mode"),
        ('[nfs]\nmanifest_source = "s3"\n', "manifest_source"),
        ("[nfs]\nssh_port = 70000\n", "at most 65535"),
    ],
)
def test_bad_values_are_exit_2_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(_write(tmp_path, text), env={})
    assert caught.value.exit_code == 2
    assert message in caught.value.what
    assert "hunter2" not in caught.value.what  # a DSN's password is never echoed


def test_valid_alternatives_load(tmp_path: Path) -> None:
    text = """
[k8s-upgrade]
ssh_host_key_policy = "strict"
ssh_known_hosts = "/etc/homeops/known_hosts"
kured_daemonset = ""
[immich]
db_transport = "k8s-exec"
files_via = "local"
threshold = "15m"
[immich.import]
immich_go_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
[job-hunter]
dsn = "postgresql+asyncpg://job_hunter@pg:5432/job_hunter"
payslip_dsn = "sqlite:///:memory:"
db_password = "vault-read:database/static-creds/pg-job-hunter#password"
[woodpecker]
connect_ip = ""
db_transport = "dsn"
[nfs]
host = "local"
lv = "ssd/nfs-ssd-data"
manifest_source = "file:/etc/homeops/manifest.json"
stale_probe_timeout_s = 0.5
copy_slab = "512MiB"
"""
    loaded = config.load(_write(tmp_path, text), env={})
    assert loaded.table("k8s-upgrade", K8sUpgradeSettings).ssh_host_key_policy == "strict"
    assert loaded.table("immich", ImmichSettings).threshold == "15m"
    assert loaded.table("job-hunter", JobHunterSettings).db_password.refs == (
        "vault-read:database/static-creds/pg-job-hunter#password",
    )
    assert loaded.table("woodpecker", WoodpeckerSettings).db_transport == "dsn"
    assert loaded.table("nfs", NfsSettings).stale_probe_timeout_s == 0.5


def test_every_field_has_a_help_line() -> None:
    """`homeops config show` prints these; an empty one would be a blank row."""

    def walk(cls: type[Any], prefix: str) -> list[str]:
        missing = []
        for field in dataclasses.fields(cls):
            if not field.metadata.get("help"):
                missing.append(f"{prefix}.{field.name}")
            default = field.default if field.default is not dataclasses.MISSING else None
            if dataclasses.is_dataclass(default) and not isinstance(default, Secret):
                missing += walk(type(default), f"{prefix}.{field.name}")
        return missing

    for table, (_text, cls) in CASES.items():
        assert walk(cls, table) == []
    assert walk(Toleration, "toleration") == []
    assert walk(IogateSettings, "iogate") == []
