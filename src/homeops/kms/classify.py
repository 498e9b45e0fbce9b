"""Logic: where a KMS client comes from (internal_pod, cluster_node, external) by configurable CIDRs (§3.3)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SOURCES = ("internal_pod", "cluster_node", "external")


def client_ip(text: str) -> str:
    """The address as reported: no whitespace or brackets; an IPv4-mapped IPv6 address unwrapped."""
    ip = text.strip().strip("[]")
    head = ip.split("%", 1)[0]
    if head.lower().startswith("::ffff:") and "." in head:
        try:
            mapped = ipaddress.IPv6Address(head).ipv4_mapped
        except ValueError:
            return ip
        if mapped is not None:
            return str(mapped)
    return ip


@dataclass(frozen=True)
class Classifier:
    """``classify(ip)``: pod networks first, then node networks, else external."""

    pod: tuple[Network, ...]
    node: tuple[Network, ...]
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_cidrs(cls, pod: Sequence[str], node: Sequence[str]) -> Classifier:
        """Build from CIDR texts (already validated by the settings)."""
        return cls(
            tuple(ipaddress.ip_network(c, strict=False) for c in pod),
            tuple(ipaddress.ip_network(c, strict=False) for c in node),
        )

    @classmethod
    def default(cls) -> Classifier:
        """The original's networks: Calico pods 10.10.0.0/16, nodes and LB addresses 10.0.20.0/24."""
        return cls.from_cidrs(["10.10.0.0/16"], ["10.0.20.0/24"])

    def classify(self, ip: str) -> str:
        """One of ``internal_pod``, ``cluster_node``, ``external``; unparsable addresses are external."""
        cached = self._cache.get(ip)
        if cached is not None:
            return cached
        if len(self._cache) >= 65536:
            self._cache.clear()
        source = self._cache[ip] = self._classify(ip)
        return source

    def _classify(self, ip: str) -> str:
        text = client_ip(ip).split("%", 1)[0]
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return "external"
        if any(addr.version == n.version and addr in n for n in self.pod):
            return "internal_pod"
        if any(addr.version == n.version and addr in n for n in self.node):
            return "cluster_node"
        return "external"
