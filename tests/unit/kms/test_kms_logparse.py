"""The vlmcsd log state machine: the spec's vectors, constructed fixtures, edge cases and hypothesis fuzzing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeops.kms.classify import Classifier
from homeops.kms.logparse import Event, ParserState, expire, feed, finish, split_prefix

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kms"


def run(
    lines: list[str] | str, state: ParserState | None = None
) -> tuple[list[Event], ParserState, list[str]]:
    if isinstance(lines, str):
        lines = lines.splitlines()
    state = state or ParserState()
    events: list[Event] = []
    warnings: list[str] = []
    for i, line in enumerate(lines):
        _s, new, warns = feed(state, line, float(i))
        events += new
        warnings += [w.kind for w in warns]
    _s, tail = finish(state)
    return events + tail, state, warnings


def fixture(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def brief(e: Event) -> tuple[Any, ...]:
    return (e.kind, e.ip, e.port, e.source)


def test_vector_l1_two_probes_inside_an_activation() -> None:
    events, state, warnings = run(fixture("legacy_l1.log"))
    assert [brief(e) for e in events] == [
        ("probe", "10.0.20.102", 46498, "cluster_node"),
        ("probe", "10.0.20.102", 54454, "cluster_node"),
        ("activation", "192.168.1.230", 53140, "external"),
    ]
    assert (events[0].opened, events[0].closed) == ("2026-05-10T13:12:19", "2026-05-10T13:12:19")
    act = events[2]
    assert act.product == "Windows 10 Professional"
    assert act.application == "Windows"
    assert act.workstation == "WIN10Pro-DS32.viktorbarzin.lan"
    assert act.status == "Licensed"
    assert act.sku_id == "2de67392-b7a7-462a-b1ca-108dd189f588"
    assert (act.opened, act.closed, act.format) == ("2026-05-10T13:12:17", "2026-05-10T13:12:48", "legacy")
    assert warnings == []
    assert state.conns == {}


def test_vector_l2_padding_and_order_do_not_matter() -> None:
    events, _s, _w = run(fixture("legacy_l2.log"))
    (act,) = events
    assert (act.kind, act.ip, act.source) == ("activation", "10.0.20.103", "cluster_node")
    assert (act.product, act.workstation, act.status) == ("Windows 11 Pro", "DESKTOP-MO2323B", "Notification")


@pytest.mark.parametrize("name", ["current.log", "current_t0.log"])
def test_current_format_nested_parentheses_and_response_half_ignored(name: str) -> None:
    events, _s, _w = run(fixture(name))
    (act,) = events
    assert (act.product, act.status, act.kms_id, act.format) == (
        "Windows 10 Professional",
        "OOB grace",
        "Windows 10 2015 (Volume)",
        "current",
    )
    assert act.workstation == "LAB-PC7"


def test_full_current_block_response_labels_never_overwrite() -> None:
    events, state, _w = run(fixture("current_full.log"))
    (act,) = events
    assert (act.product, act.protocol, act.workstation) == (
        "Windows 11 Pro",
        "6.0",
        "DESKTOP-77.viktorbarzin.lan",
    )
    assert state.stats.unparsed == 2  # "Listening on", "started successfully"


@pytest.mark.parametrize("name", ["nonverbose.log", "nonverbose_t0.log"])
def test_nonverbose_is_an_activation_with_a_warning(name: str) -> None:
    events, _s, warnings = run(fixture(name))
    (act,) = events
    assert (act.kind, act.ip, act.port, act.workstation) == (
        "activation",
        "127.0.0.1",
        44284,
        "WIN10Pro-DS32",
    )
    assert (act.product, act.status, act.application, act.format) == (
        "Windows 10 Professional",
        None,
        None,
        "nonverbose",
    )
    assert warnings == ["nonverbose"]


def test_unknown_product_names_keep_skus_apart() -> None:
    events, _s, warnings = run(fixture("unknown_names.log"))
    assert events[0].product == "Unknown (2de67392-b7a7-462a-b1ca-108dd189f588)"
    assert "unknown_product_names" in warnings


@pytest.mark.parametrize("name", ["ipv6.log", "ipv6_t0.log"])
def test_ipv6_probe(name: str) -> None:
    events, _s, _w = run(fixture(name))
    assert [brief(e) for e in events] == [("probe", "2001:db8:5::20", 50000, "external")]
    if name == "ipv6_t0.log":
        assert events[0].opened is None


def test_t0_logs_have_no_timestamps_in_parse() -> None:
    events, _s, _w = run(fixture("legacy_l1_t0.log"))
    assert [e.kind for e in events] == ["probe", "probe", "activation"]
    assert all(e.opened is None and e.closed is None for e in events)


def test_rejected_and_orphan_close() -> None:
    events, _s, _w = run(fixture("rejected.log"))
    assert [(e.kind, e.product) for e in events] == [("rejected", None)]
    events, state, _w = run(fixture("orphan_close.log"))
    assert events == []
    assert state.stats.orphan_closes == 1


def test_probe_inside_a_request_block_does_not_steal_its_labels() -> None:
    events, _s, _w = run(fixture("probe_inside_block.log"))
    assert [e.kind for e in events] == ["probe", "activation"]
    assert events[1].workstation == "WIN10Pro-DS32.viktorbarzin.lan"
    assert events[0].workstation is None


def test_for_inside_product_names() -> None:
    events, _s, _w = run(fixture("for_in_product.log"))
    assert [e.product for e in events] == [
        "Office Professional Plus 2019 for Mac",
        "Office Standard for Business (Volume)",
    ]
    assert events[0].workstation == "OFFICE-PC"


def test_duplicate_open_emits_the_old_connection_unclosed() -> None:
    lines = ["IPv4 connection accepted: 10.0.20.5:100.", "IPv4 connection accepted: 10.0.20.5:100.",
             "IPv4 connection closed: 10.0.20.5:100."]  # fmt: skip
    events, _s, warnings = run(lines)
    assert [(e.kind, e.closed) for e in events] == [("probe", None), ("probe", None)]
    assert warnings == ["duplicate_open"]


def test_max_open_connections_emits_the_oldest_as_stale() -> None:
    state = ParserState(max_open=2)
    lines = [f"IPv4 connection accepted: 10.0.20.5:{p}." for p in (1, 2, 3)]
    events: list[Event] = []
    for i, line in enumerate(lines):
        _s, new, _w = feed(state, line, float(i))
        events += new
    assert [e.port for e in events] == [1]
    assert list(state.conns) == ["10.0.20.5:2", "10.0.20.5:3"]


def test_stale_connections_expire_by_age() -> None:
    state = ParserState()
    feed(state, "IPv4 connection accepted: 10.0.20.5:1.", 0.0)
    feed(state, "IPv4 connection accepted: 10.0.20.5:2.", 500.0)
    _s, events, warnings = expire(state, 700.0, 600.0)
    assert [(e.port, e.closed) for e in events] == [(1, None)]
    assert [w.kind for w in warnings] == ["stale_connection"]


def test_ipv4_mapped_and_zone_scoped_ipv6() -> None:
    lines = ["IPv6 connection accepted: [::ffff:10.10.3.7]:5.", "IPv6 connection closed: [::ffff:10.10.3.7]:5.",
             "IPv6 connection accepted: [fe80::1%eth0]:6.", "IPv6 connection closed: [fe80::1%eth0]:6."]  # fmt: skip
    events, _s, _w = run(lines)
    assert [(e.ip, e.source) for e in events] == [("10.10.3.7", "internal_pod"), ("fe80::1%eth0", "external")]


def test_uppercase_guid_and_crlf() -> None:
    lines = ["IPv4 connection accepted: 1.2.3.4:5.\r\n", "<<< Incoming KMS request\r\n",
             "SKU ID (aka Activation ID)      : 2DE67392-B7A7-462A-B1CA-108DD189F588 (Windows 10 Pro)\r\n",
             "IPv4 connection closed: 1.2.3.4:5.\r\n"]  # fmt: skip
    (event,), _s, _w = run(lines)
    assert (event.sku_id, event.product) == ("2de67392-b7a7-462a-b1ca-108dd189f588", "Windows 10 Pro")


@pytest.mark.parametrize(
    ("line", "stamp", "msg"),
    [
        ("2026-05-10 13:12:17: x", "2026-05-10T13:12:17", "x"),
        ("2026-05-10 01:12:17 PM: x", "2026-05-10T13:12:17", "x"),
        ("2026-05-10 12:00:00 AM: x", "2026-05-10T00:00:00", "x"),
        ("no prefix: x", None, "no prefix: x"),
        ("2026-13-10 13:12:17: x", None, "x"),
        ("2026-02-30 13:12:17: x", None, "x"),
        ("2026-05-10 24:00:00: x", None, "x"),
        ("2026-05-10 13:60:00: x", None, "x"),
        ("2026-05-10 13:12: x", "2026-05-10T13:12:00", "x"),
        ("2026-05-10 13:12:17: 2026-05-10 13:12:17: x", "2026-05-10T13:12:17", "2026-05-10 13:12:17: x"),
    ],
)
def test_prefix(line: str, stamp: str | None, msg: str) -> None:
    assert split_prefix(line) == (stamp, msg)
    assert split_prefix(line) == (stamp, msg)  # the second time from the prefix cache


@pytest.mark.parametrize(
    ("ip", "source"),
    [("10.10.3.7", "internal_pod"), ("10.0.20.50", "cluster_node"), ("192.168.1.50", "external"),
     ("fd00::5", "external"), ("garbage", "external"), (" [::ffff:10.0.20.9] ", "cluster_node")],
)  # fmt: skip
def test_classify_defaults(ip: str, source: str) -> None:
    assert Classifier.default().classify(ip) == source


def test_classify_custom_cidrs_including_ipv6() -> None:
    c = Classifier.from_cidrs(["fd00::/8"], ["192.168.1.0/24"])
    assert [c.classify(x) for x in ("fd00::5", "192.168.1.9", "10.10.3.7")] == [
        "internal_pod",
        "cluster_node",
        "external",
    ]


# --- hypothesis ---------------------------------------------------------------------------------------------

VALID = [
    "IPv4 connection accepted: 10.0.20.1:1.",
    "IPv4 connection closed: 10.0.20.1:1.",
    "IPv4 connection accepted: 192.168.1.2:2.",
    "IPv4 connection closed: 192.168.1.2:2.",
    "IPv6 connection accepted: [2001:db8::1]:3.",
    "IPv6 connection closed: [2001:db8::1]:3.",
    "<<< Incoming KMS request",
    "Licensing status                : 1 (Licensed)",
    "Activation ID (Product)         : 2de67392-b7a7-462a-b1ca-108dd189f588 (Windows 10 Professional)",
    "Workstation name                : X",
    ">>> Sending response, ePID source = x",
    "KMS v6.0 request from A for B",
    "Client with public IP address rejected",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=40))
def test_garbage_never_raises_and_never_invents_events(lines: list[str]) -> None:
    lines = [line for line in lines if "connection accepted" not in line]
    events, _s, _w = run(lines)
    assert events == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(VALID), st.text(max_size=80)), max_size=60), st.booleans())
def test_interleavings_only_opens_make_events_and_only_requests_make_activations(
    lines: list[str], prefixed: bool
) -> None:
    if prefixed:
        lines = [f"2026-11-26 10:00:00: {line}" for line in lines]
    events, state, _w = run(lines)
    opens = sum("connection accepted" in line for line in lines)
    requests = sum(("<<< Incoming" in line or "request from" in line) for line in lines)
    assert len([e for e in events if e.kind != "activation"]) <= opens
    assert len([e for e in events if e.kind == "activation"]) <= requests
    assert state.conns == {}
    for e in events:
        assert e.source in ("internal_pod", "cluster_node", "external")
