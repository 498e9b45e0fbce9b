"""Logic: the zone-sync plan (primary → replicas as Secondary zones) and zone parity, from zone lists in.

No I/O: the service reads zone lists and options, this module decides (specs/dns.md §3.3, §3.4 step 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from homeops.dns.technitium import Zone

Verb = Literal["set_zone_transfer", "create", "set_primary", "resync", "delete"]
# Actions that change configuration; a resync only refreshes data (not a change, listed separately).
CHANGES: frozenset[str] = frozenset({"set_zone_transfer", "create", "set_primary", "delete"})


@dataclass(frozen=True)
class PlannedAction:
    """One write: on which instance, what, which zone."""

    instance: str
    action: Verb
    zone: str


@dataclass(frozen=True)
class ReplicaPlan:
    """What one replica needs, and what sync only reports."""

    name: str
    actions: tuple[PlannedAction, ...] = ()
    stale: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def counted(zones: Sequence[Zone]) -> list[Zone]:
    """The zones every instance counts alike: not internal, not the root zone."""
    return [z for z in zones if z.counted]


def plan_primary(
    instance: str, eligible: Sequence[Zone], options: Mapping[str, Mapping[str, Any]], zone_transfer: str
) -> list[PlannedAction]:
    """``set_zone_transfer`` for each Primary zone whose ``zoneTransfer`` differs from the wanted value."""
    return [
        PlannedAction(instance, "set_zone_transfer", z.name)
        for z in eligible
        if z.type == "Primary" and options.get(z.name, {}).get("zoneTransfer") != zone_transfer
    ]


def secondary_addresses(options: Mapping[str, Any]) -> list[str]:
    """``primaryNameServerAddresses`` as a list of strings (the API sends a list; tolerate a string)."""
    raw = options.get("primaryNameServerAddresses")
    if isinstance(raw, str):
        return [a.strip() for a in raw.split(",") if a.strip()]
    if isinstance(raw, list):
        return [str(a) for a in raw]
    return []


def plan_replica(
    name: str,
    eligible: Sequence[Zone],
    replica_zones: Sequence[Zone],
    replica_options: Mapping[str, Mapping[str, Any]],
    transfer_address: str,
    *,
    resync: Literal["always", "when-behind"] = "always",
    delete_stale: bool = False,
) -> ReplicaPlan:
    """Creates, heals (``set_primary``), resyncs and stale deletes for one replica; conflicts are never touched."""
    have = {z.name: z for z in replica_zones}
    wanted = {z.name for z in eligible}
    actions: list[PlannedAction] = []
    conflicts: list[str] = []
    warnings: list[str] = []
    for zone in eligible:
        mine = have.get(zone.name)
        if mine is None:
            actions.append(PlannedAction(name, "create", zone.name))
            continue
        if mine.type != "Secondary":
            conflicts.append(zone.name)
            continue
        if secondary_addresses(replica_options.get(zone.name, {})) != [transfer_address]:
            actions.append(PlannedAction(name, "set_primary", zone.name))
        behind = zone.soa_serial is not None and mine.soa_serial != zone.soa_serial
        if resync == "always" or behind or mine.sync_failed or mine.is_expired:
            actions.append(PlannedAction(name, "resync", zone.name))
        warnings.extend(_warnings(zone, mine))
    stale: list[str] = []
    for zone in replica_zones:
        if zone.counted and zone.type == "Secondary" and zone.name not in wanted:
            stale.append(zone.name)
            points_here = secondary_addresses(replica_options.get(zone.name, {})) == [transfer_address]
            if delete_stale and points_here:
                actions.append(PlannedAction(name, "delete", zone.name))
    return ReplicaPlan(name, tuple(actions), tuple(stale), tuple(conflicts), tuple(warnings))


def _warnings(primary: Zone, mine: Zone) -> list[str]:
    out = []
    if mine.sync_failed:
        out.append(f"{mine.name}: syncFailed")
    if mine.is_expired:
        out.append(f"{mine.name}: isExpired")
    if mine.validation_failed:
        out.append(f"{mine.name}: validationFailed")
    if (
        primary.soa_serial is not None
        and mine.soa_serial is not None
        and mine.soa_serial < primary.soa_serial
    ):
        out.append(f"{mine.name}: soaSerial {mine.soa_serial} behind the primary's {primary.soa_serial}")
    return out


@dataclass(frozen=True)
class ParityFinding:
    """One instance's zone set against the primary's."""

    name: str
    ok: bool
    count: int
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    serial_mismatch: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str = ""

    @property
    def detail(self) -> str:
        if self.error:
            return self.error
        parts = []
        if self.count == 0:
            parts.append("0 zones (a probe failure, not parity)")
        if self.missing:
            parts.append("lacks " + ", ".join(self.missing))
        if self.extra:
            parts.append("has extra " + ", ".join(self.extra))
        if self.serial_mismatch:
            parts.append("serial differs on " + ", ".join(self.serial_mismatch))
        return "; ".join(parts) or f"{self.count} zones"


@dataclass(frozen=True)
class ZoneParity:
    """Zone parity over every instance."""

    ok: bool
    findings: tuple[ParityFinding, ...] = field(default_factory=tuple)


def zone_parity(
    primary: str,
    lists: Mapping[str, Sequence[Zone] | str],
    *,
    serials: bool = False,
) -> ZoneParity:
    """Compare each instance's counted zone names with the primary's; a list that is a str is a read error."""
    ref_raw = lists.get(primary)
    ref = (
        {z.name: z for z in counted(ref_raw)}
        if isinstance(ref_raw, Sequence) and not isinstance(ref_raw, str)
        else None
    )
    findings = []
    for name, raw in lists.items():
        if isinstance(raw, str):
            findings.append(ParityFinding(name, False, 0, error=raw))
            continue
        zones = {z.name: z for z in counted(raw)}
        warnings = tuple(
            f"{z.name}: " + ("syncFailed" if z.sync_failed else "isExpired")
            for z in zones.values()
            if z.sync_failed or z.is_expired
        )
        if ref is None:
            findings.append(
                ParityFinding(
                    name,
                    bool(zones),
                    len(zones),
                    warnings=warnings,
                    error="" if zones else "0 zones (a probe failure, not parity)",
                )
            )
            continue
        missing = tuple(sorted(set(ref) - set(zones)))
        extra = tuple(sorted(set(zones) - set(ref)))
        mismatch = tuple(
            sorted(n for n in set(ref) & set(zones) if serials and zones[n].soa_serial != ref[n].soa_serial)
        )
        ok = bool(zones) and not missing and not extra and not mismatch
        findings.append(ParityFinding(name, ok, len(zones), missing, extra, mismatch, warnings))
    ok = ref is not None and all(f.ok for f in findings)
    return ZoneParity(ok, tuple(findings))
