"""The curve golden table (checked against the original script), hysteresis, gate and presence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeops.fan.curve import (
    Anchors,
    Curves,
    curve,
    decide,
    parse_command_pct,
    parse_manual_pct,
    presence,
    resolve,
    should_write,
    watts_estimate,
)

COOL = Anchors(50, 30, 83, 100)
QUIET = Anchors(68, 20, 83, 100)
CURVES = Curves(COOL, QUIET, 3)

GOLDEN = {  # °C: (COOL, QUIET), spec fan.md §3.2
    50: (30, 20),
    51: (32, 20),
    52: (34, 20),
    53: (36, 20),
    54: (38, 20),
    55: (41, 20),
    56: (43, 20),
    57: (45, 20),
    58: (47, 20),
    59: (49, 20),
    60: (51, 20),
    61: (53, 20),
    62: (55, 20),
    63: (58, 20),
    64: (60, 20),
    65: (62, 20),
    66: (64, 20),
    67: (66, 20),
    68: (68, 20),
    69: (70, 25),
    70: (72, 31),
    71: (75, 36),
    72: (77, 41),
    73: (79, 47),
    74: (81, 52),
    75: (83, 57),
    76: (85, 63),
    77: (87, 68),
    78: (89, 73),
    79: (92, 79),
    80: (94, 84),
    81: (96, 89),
    82: (98, 95),
    83: (100, 100),
}


@pytest.mark.parametrize("temp", sorted(GOLDEN), ids=lambda t: f"{t}C")
def test_golden_table(temp: int) -> None:
    assert (curve(COOL, temp), curve(QUIET, temp)) == GOLDEN[temp]


@pytest.mark.parametrize(
    ("temp", "cool", "quiet"), [(-5, 30, 20), (20, 30, 20), (90, 100, 100), (125, 100, 100)]
)
def test_outside_anchors(temp: int, cool: int, quiet: int) -> None:
    assert (curve(COOL, temp), curve(QUIET, temp)) == (cool, quiet)


def test_fractional_reading_rounds_half_up() -> None:
    assert curve(COOL, 74.5) == 83  # legacy parsed "74.5" as 5 → 30 %
    assert curve(COOL, 74.49) == 81


@pytest.mark.parametrize(
    ("temp", "current", "expected"),
    [
        pytest.param(60, -1, 51, id="first"),
        pytest.param(62, 51, 55, id="rise-at-once"),
        pytest.param(60, 55, 55, id="hold-60"),
        pytest.param(59, 55, 55, id="hold-59"),
        pytest.param(58, 55, 47, id="release-to-curve"),
        pytest.param(70, 72, 72, id="equal"),
    ],
)
def test_decide_hysteresis(temp: float, current: int, expected: int) -> None:
    assert decide(CURVES, "cool", temp, current) == expected


def test_resolve_modes() -> None:
    assert resolve(CURVES, "manual", 90, 42, "cool", 10) == (42, "manual")
    assert resolve(CURVES, "manual", 60, 404, "cool", -1) == (100, "manual")
    assert resolve(CURVES, "manual", 60, None, "cool", -1) == (51, "cool")  # never 0 %
    assert resolve(CURVES, "auto", 70, None, "quiet", -1) == (31, "quiet")
    assert resolve(CURVES, "auto", 70, None, "cool", -1) == (72, "cool")
    assert resolve(CURVES, "quiet", 70, None, "cool", -1) == (31, "quiet")


def test_write_gate() -> None:
    assert should_write(51, -1, 3)
    assert not should_write(53, 51, 3)
    assert should_write(55, 51, 3)
    assert should_write(48, 51, 3)


def test_presence_rule() -> None:
    now = datetime(2026, 6, 5, 9, 0, tzinfo=UTC)
    assert presence("Отворена", now - timedelta(days=1), now, "Отворена", 900) == "quiet"
    assert presence("Затворена", now - timedelta(seconds=899), now, "Отворена", 900) == "quiet"
    assert presence("Затворена", now - timedelta(seconds=900), now, "Отворена", 900) == "cool"
    assert presence("unavailable", now - timedelta(seconds=10), now, "Отворена", 900) == "quiet"
    assert presence(None, None, now, "Отворена", 900) == "cool"


@pytest.mark.parametrize(
    ("text", "expected"), [("42.7", 42), ("42.0", 42), ("-3", 0), ("404", 100), ("nan", None), ("x", None)]
)
def test_manual_pct(text: str, expected: int | None) -> None:
    assert parse_manual_pct(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("55", 55), ("55.9", 55), ("150", 100), ("-1", None), ("5e1", None), ("", None)]
)
def test_command_pct(text: str, expected: int | None) -> None:
    assert parse_command_pct(text) == expected


def test_watts() -> None:
    assert watts_estimate(9360) == 9360**3 * 205 // 10**13


anchors = st.tuples(st.integers(0, 100), st.integers(1, 60), st.integers(0, 100), st.integers(0, 100)).map(
    lambda a: Anchors(a[0], min(a[2], a[3]), a[0] + a[1], max(a[2], a[3]))
)


@given(anchors, st.floats(-20, 150), st.floats(0, 5))
def test_curve_monotone_and_bounded(a: Anchors, temp: float, step: float) -> None:
    low, high = curve(a, temp), curve(a, temp + step)
    assert a.p_lo <= low <= a.p_hi
    assert low <= high


@given(st.floats(0, 125), st.integers(-1, 100), st.sampled_from(["cool", "quiet"]), st.integers(0, 20))
def test_decide_never_below_curve(temp: float, current: int, mode: str, deadband: int) -> None:
    curves = Curves(COOL, QUIET, deadband)
    assert decide(curves, mode, temp, current) >= curve(curves.for_mode(mode), temp)
