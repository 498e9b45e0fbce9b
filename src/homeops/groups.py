"""Core: the one table of command groups and top-level commands, read without importing any of them.

Root ``--help`` and TAB completion render from this table; dispatch imports exactly one entry.
"""

from __future__ import annotations


class Entry:
    """One lazily imported sub-app: its name, ``module:attribute`` import path and one-line help.

    A plain class, not a dataclass: this module is on the start-up path of every completion request, and
    ``dataclasses`` pulls in ``inspect`` and ``re`` (~6 ms).
    """

    __slots__ = ("help", "import_path", "name", "panel")

    def __init__(self, name: str, import_path: str, help: str, panel: str) -> None:
        self.name = name
        self.import_path = import_path
        self.help = help
        self.panel = panel

    def __repr__(self) -> str:
        return f"Entry({self.name!r}, {self.import_path!r})"

    @property
    def package(self) -> str:
        """The module path before the attribute, e.g. ``homeops.fan.cli``."""
        return self.import_path.split(":", 1)[0]


GROUPS: tuple[Entry, ...] = (
    Entry("fan", "homeops.fan.cli:app", "Dell R730 fan control: curves, the daemon, simulation.", "Groups"),
    Entry("kms", "homeops.kms.cli:app", "vlmcsd activation notifier and KMS DNS checks.", "Groups"),
    Entry(
        "registry",
        "homeops.registry.cli:app",
        "Private OCI registry: verify, probe, scan, retention, break-glass.",
        "Groups",
    ),
    Entry(
        "k8s-upgrade",
        "homeops.k8s_upgrade.cli:app",
        "kubeadm cluster upgrades: detect, plan, step through nodes safely.",
        "Groups",
    ),
    Entry(
        "dns",
        "homeops.dns.cli:app",
        "Technitium zone sync, readiness gate, fallback and TSIG checks.",
        "Groups",
    ),
    Entry("immich", "homeops.immich.cli:app", "Immich imports, transcodes and health.", "Groups"),
    Entry(
        "job-hunter",
        "homeops.job_hunter.cli:app",
        "The job-hunter app: refresh, alerts, database checks.",
        "Groups",
    ),
    Entry(
        "woodpecker",
        "homeops.woodpecker.cli:app",
        "Woodpecker CI: pipelines, tokens, repo registration.",
        "Groups",
    ),
    Entry("nfs", "homeops.nfs.cli:app", "NFS storage: health, volumes, archives.", "Groups"),
)

COMMANDS: tuple[Entry, ...] = (
    Entry(
        "manifest",
        "homeops.commands.manifest:app",
        "List every command with its tier and summary.",
        "Commands",
    ),
    Entry(
        "config",
        "homeops.commands.config:app",
        "Show or check the configuration (secrets redacted).",
        "Commands",
    ),
    Entry(
        "doctor", "homeops.commands.doctor:app", "Run each configured group's read-only checks.", "Commands"
    ),
    Entry(
        "schedule",
        "homeops.commands.schedule:app",
        "List scheduled jobs; render systemd or CronJob units.",
        "Commands",
    ),
    Entry("runbook", "homeops.commands.runbook:app", "List and show the operator runbooks.", "Commands"),
    Entry("version", "homeops.commands.version:app", "Print the homeops version.", "Commands"),
)

ENTRIES: tuple[Entry, ...] = COMMANDS + GROUPS


def group_names() -> tuple[str, ...]:
    """The nine group names, in table order."""
    return tuple(g.name for g in GROUPS)


def group_module(name: str) -> str:
    """The Python package of a group, e.g. ``k8s-upgrade`` → ``homeops.k8s_upgrade``."""
    return "homeops." + name.replace("-", "_")
