"""Config: the `[dns]` table: Technitium instances, credentials, gate and check tunables (specs/dns.md §4)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from homeops.settings import Secret, secret, setting


@dataclass(frozen=True)
class Instance:
    """One Technitium instance: its API, its Deployment and pods, and where it answers DNS."""

    name: str = setting("", "Instance name, also the `instance` metric label.")
    role: Literal["primary", "replica"] = setting("replica", "Exactly one instance is the primary.")
    api_url: str = setting("", "Technitium HTTP API base URL (port 5380).")
    deployment: str = setting("", "Deployment name in `namespace` (for the rollout check).")
    pod_selector: str = setting("", "Label selector of the instance's pods (for pod-IP discovery).")
    dns: str = setting("", "Static DNS address IP[:PORT]; empty = the Ready pod's IP via the Kubernetes API.")


def _instance(name: str, role: Literal["primary", "replica"], service: str, deployment: str) -> Instance:
    return Instance(
        name=name,
        role=role,
        api_url=f"http://{service}.technitium.svc.cluster.local:5380",
        deployment=deployment,
        pod_selector=f"app={deployment}",
        dns="",
    )


def default_instances() -> list[Instance]:
    """The three instances of the homelab (specs/dns.md §1)."""
    return [
        _instance("primary", "primary", "technitium-primary", "technitium"),
        _instance("technitium-secondary", "replica", "technitium-secondary-web", "technitium-secondary"),
        _instance("technitium-tertiary", "replica", "technitium-tertiary-web", "technitium-tertiary"),
    ]


def parse_address(text: str, default_port: int = 53) -> tuple[str, int]:
    """``IP[:PORT]`` (or ``[v6]:PORT``) → (ip, port); ValueError naming the problem."""
    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r} is not IP[:PORT]")
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, _, raw = text.partition(":")
        port = _port(raw, text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address (IP[:PORT])") from None
    return host, port


def _port(raw: str, text: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{text!r} has a bad port")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    """`[dns]` settings."""

    username: Secret = secret("Technitium user (secret reference).", default=("env:TECH_USER",))
    password: Secret = secret("Technitium password (secret reference).", default=("env:TECH_PASS",))
    api_token: Secret = secret("Technitium API token reference; when set, no login/logout.")
    api_timeout: float = setting(10.0, "Read timeout of one Technitium API call, seconds.", min=0.05, max=300)
    concurrency: int = setting(8, "Instances worked on at once; 1 = sequential.", min=1, max=64)
    namespace: str = setting("technitium", "Kubernetes namespace of the Technitium Deployments.")
    kubeconfig: str = setting("", "Kubeconfig path; empty = $KUBECONFIG, ~/.kube/config, then in-cluster.")
    primary_service: str = setting("technitium-primary", "Service whose ClusterIP replicas transfer from.")
    primary_transfer_address: str = setting(
        "", "IP literal replicas transfer from; empty = the Service's ClusterIP."
    )
    pod_dns_port: int = setting(53, "DNS port used with discovered pod IPs.", min=1, max=65535)
    zone_transfer: str = setting("Allow", "zoneTransfer option the primary's Primary zones must have.")
    resync: Literal["always", "when-behind"] = setting(
        "always", "When sync forces a full AXFR of a replica zone."
    )
    pushgateway: str = setting("http://prometheus-prometheus-pushgateway.monitoring:9091", "Pushgateway URL.")
    interrupt_grace: float = setting(
        15.0, "dns sync on Ctrl-C/SIGTERM: seconds to wait for API calls in flight.", min=0, max=300
    )
    push_retry_delay: float = setting(
        1.0, "Seconds before the 2nd push try (doubled before the 3rd).", min=0, max=60
    )
    sync_job: str = setting("technitium-zone-sync", "Pushgateway job of `dns sync`.")
    stats_job: str = setting("dns-anomaly-monitor", "Pushgateway job of `dns stats`.")
    stats_scope: Literal["sum", "primary"] = setting("sum", "Stats over every instance, or the primary only.")
    gate_rollout_timeout: float = setting(180.0, "Seconds the gate waits for every rollout.", min=0, max=3600)
    gate_rollout_poll: float = setting(2.0, "Seconds between rollout polls.", min=0.01, max=60)
    gate_canary_name: str = setting("idrac.viktorbarzin.lan", "Name every instance must answer equally.")
    gate_canary_type: str = setting("A", "Record type of the canary.")
    gate_canary_expect: list[str] = setting([], "Expected canary answers; empty = any, as long as equal.")
    gate_answer_tries: int = setting(6, "Answer-parity attempts per instance.", min=1, max=100)
    gate_answer_interval: float = setting(10.0, "Seconds between answer-parity attempts.", min=0, max=600)
    gate_api_tries: int = setting(3, "API probe attempts per instance.", min=1, max=100)
    gate_api_interval: float = setting(5.0, "Seconds between API probe attempts.", min=0, max=600)
    dns_timeout: float = setting(5.0, "Seconds per DNS query attempt (gate, parity).", min=0.05, max=60)
    fallback_timeout: float = setting(2.0, "fallback-check: seconds per attempt.", min=0.05, max=60)
    fallback_lifetime: float = setting(
        6.0, "fallback-check: seconds for the whole chain lookup.", min=0.05, max=300
    )
    tsig_key_name: str = setting("kea-ddns", "TSIG key name for tsig-check.")
    tsig_algorithm: str = setting("hmac-sha256", "TSIG algorithm for tsig-check.")
    tsig_record: str = setting("tsig-test", "Record (relative to the zone) tsig-check writes and removes.")
    tsig_signed_value: str = setting("10.99.99.99", "A value of the signed test update.")
    tsig_unsigned_value: str = setting("10.99.99.98", "A value of the unsigned test update.")
    tsig_timeout: float = setting(5.0, "tsig-check: seconds per update or query.", min=0.05, max=60)
    tsig_visible_interval: float = setting(
        0.5, "tsig-check: seconds between visibility queries.", min=0, max=30
    )
    instances: list[Instance] = setting(default_factory=default_instances, help="The Technitium instances.")

    def __post_init__(self) -> None:
        names = [i.name for i in self.instances]
        if not self.instances:
            raise ValueError("instances: at least one instance is needed")
        if any(not n for n in names):
            raise ValueError("instances: every instance needs a name")
        if len(set(names)) != len(names):
            raise ValueError("instances: names must be unique")
        if sum(1 for i in self.instances if i.role == "primary") != 1:
            raise ValueError('instances: exactly one instance must have role = "primary"')
        for inst in self.instances:
            parts = urlsplit(inst.api_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"instances.{inst.name}.api_url: needs http:// or https:// and a host")
            if inst.dns:
                try:
                    parse_address(inst.dns)
                except ValueError as exc:
                    raise ValueError(f"instances.{inst.name}.dns: {exc}") from None
        if self.primary_transfer_address:
            try:
                ipaddress.ip_address(self.primary_transfer_address)
            except ValueError:
                raise ValueError("primary_transfer_address: must be an IP literal") from None
        for value in (self.tsig_signed_value, self.tsig_unsigned_value):
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                raise ValueError(f"tsig values: {value!r} is not an IPv4 address") from None

    @property
    def primary(self) -> Instance:
        """The one primary instance."""
        return next(i for i in self.instances if i.role == "primary")

    @property
    def replicas(self) -> list[Instance]:
        """Every instance but the primary, in table order."""
        return [i for i in self.instances if i.role != "primary"]
