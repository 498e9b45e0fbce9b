"""Pure logic: the sync plan, zone parity, DGA heuristic, resolv.conf parsing, addresses, settings rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeops.dns.checks import parse_resolv_conf
from homeops.dns.plan import plan_primary, plan_replica, zone_parity
from homeops.dns.settings import Instance, Settings, parse_address
from homeops.dns.stats import dga_suspects
from homeops.dns.technitium import Zone

T = "10.96.0.53"


def primary_zone(name: str, serial: int = 10) -> Zone:
    return Zone(name, "Primary", soa_serial=serial)


def secondary(name: str, serial: int = 10, **kw: bool) -> Zone:
    return Zone(name, "Secondary", soa_serial=serial, **kw)


BUILTIN = [Zone("", "Secondary"), Zone("localhost", "Primary", internal=True)]


@pytest.mark.parametrize(
    ("zones", "options", "expected"),
    [
        pytest.param([primary_zone("a")], {"a": {"zoneTransfer": "Deny"}}, ["a"], id="deny-set"),
        pytest.param([primary_zone("a")], {"a": {"zoneTransfer": "Allow"}}, [], id="allow-kept"),
        pytest.param([Zone("f", "Forwarder")], {}, [], id="forwarder-untouched"),
    ],
)
def test_plan_primary(zones, options, expected):
    assert [a.zone for a in plan_primary("p", zones, options, "Allow")] == expected


def test_plan_replica_cases():
    eligible = [primary_zone("new"), primary_zone("pinned"), primary_zone("ok"), primary_zone("conflict")]
    replica = [
        *BUILTIN,
        secondary("pinned"),
        secondary("ok"),
        Zone("conflict", "Primary"),
        secondary("stale-ours"),
        secondary("stale-foreign"),
    ]
    options = {
        "pinned": {"primaryNameServerAddresses": ["10.244.1.7"]},
        "ok": {"primaryNameServerAddresses": [T]},
        "stale-ours": {"primaryNameServerAddresses": [T]},
        "stale-foreign": {"primaryNameServerAddresses": ["10.9.9.9"]},
    }
    plan = plan_replica("r", eligible, replica, options, T, resync="when-behind", delete_stale=True)
    assert [(a.action, a.zone) for a in plan.actions] == [
        ("create", "new"),
        ("set_primary", "pinned"),
        ("delete", "stale-ours"),
    ]
    assert plan.conflicts == ("conflict",)
    assert plan.stale == ("stale-ours", "stale-foreign")


def test_when_behind_resyncs_on_serial_sync_failed_or_expired():
    eligible = [primary_zone("a", 5), primary_zone("b"), primary_zone("c"), primary_zone("d")]
    replica = [
        secondary("a", 4),
        secondary("b", sync_failed=True),
        secondary("c", is_expired=True),
        secondary("d"),
    ]
    options = {z.name: {"primaryNameServerAddresses": [T]} for z in replica}
    plan = plan_replica("r", eligible, replica, options, T, resync="when-behind")
    assert [a.zone for a in plan.actions if a.action == "resync"] == ["a", "b", "c"]
    assert "a: soaSerial 4 behind the primary's 5" in plan.warnings
    always = plan_replica("r", eligible, replica, options, T, resync="always")
    assert len([a for a in always.actions if a.action == "resync"]) == 4


names = st.lists(st.from_regex(r"[a-z]{1,8}\.(lan|me|arpa)", fullmatch=True), unique=True, max_size=8)


@given(names, names)
def test_plan_applied_then_replanned_has_no_changes(primary_names, replica_names):
    """A sync plan applied (creates + set_primary) then re-planned creates and sets nothing."""
    eligible = [primary_zone(n) for n in primary_names]
    replica = {n: secondary(n) for n in replica_names}
    options = {n: {"primaryNameServerAddresses": ["old"]} for n in replica_names}
    plan = plan_replica("r", eligible, list(replica.values()), options, T)
    for action in plan.actions:
        if action.action == "create":
            replica[action.zone] = secondary(action.zone)
        if action.action in ("create", "set_primary"):
            options[action.zone] = {"primaryNameServerAddresses": [T]}
    again = plan_replica("r", eligible, list(replica.values()), options, T)
    assert not [a for a in again.actions if a.action in ("create", "set_primary", "set_zone_transfer")]


def test_zone_parity_missing_extra_zero_and_errors():
    p = [*BUILTIN, primary_zone("a"), primary_zone("b")]
    result = zone_parity(
        "p", {"p": p, "r1": [*BUILTIN, secondary("a")], "r2": [secondary("a"), secondary("b")]}
    )
    assert not result.ok
    r1 = next(f for f in result.findings if f.name == "r1")
    assert r1.missing == ("b",) and r1.detail == "lacks b"
    zero = zone_parity("p", {"p": BUILTIN, "r": BUILTIN})
    assert not zero.ok and all("0 zones" in f.detail for f in zero.findings)
    unreadable = zone_parity("p", {"p": "zone list failed: x", "r": [secondary("a")]})
    assert not unreadable.ok


def test_zone_parity_serials_only_with_flag():
    lists = {"p": [primary_zone("a", 2)], "r": [secondary("a", 1)]}
    assert zone_parity("p", lists).ok
    assert not zone_parity("p", lists, serials=True).ok


@pytest.mark.parametrize(
    ("name", "suspect"),
    [
        ("github.com", False),
        ("viktorbarzin.me", False),
        ("xkcdqwrtzplmnbv.com", True),
        ("a" * 31 + ".com", True),
        ("rhythms.net", True),  # y counts as a consonant in the original's class
        ("a" * 30 + ".c", True),
        ("b" * 4 + "a.io", False),
    ],
)
def test_dga_heuristic(name, suspect):
    assert (name in dga_suspects([name])) == suspect


def test_resolv_conf_parsing():
    conf = parse_resolv_conf(
        "# c\nnameserver 192.168.1.2\nnameserver 94.140.14.14 # x\noptions timeout:2 attempts:2\n"
    )
    assert conf.nameservers == ("192.168.1.2", "94.140.14.14") and conf.timeout == 2.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", ("10.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        ("::1", ("::1", 53)),
    ],
)
def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["host.lan", "10.0.0.1:0", "10.0.0.1:x", "1.2.3.4:70000"])
def test_parse_address_rejects(text):
    with pytest.raises(ValueError):
        parse_address(text)


def test_settings_rules():
    one = Instance("p", "primary", "http://p:5380")
    assert Settings(instances=[one]).primary is one
    with pytest.raises(ValueError, match="exactly one"):
        Settings(instances=[Instance("a", "replica", "http://a")])
    with pytest.raises(ValueError, match="unique"):
        Settings(instances=[one, Instance("p", "replica", "http://x")])
    with pytest.raises(ValueError, match="api_url"):
        Settings(instances=[Instance("p", "primary", "p:5380")])
    with pytest.raises(ValueError, match="IP literal"):
        Settings(instances=[one], primary_transfer_address="technitium-primary")
    assert [i.name for i in Settings().instances] == [
        "primary",
        "technitium-secondary",
        "technitium-tertiary",
    ]
