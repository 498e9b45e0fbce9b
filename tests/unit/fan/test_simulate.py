"""`fan simulate`: determinism and the model's expected behaviour (spec fan.md §3.12)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from homeops.fan.settings import Settings
from homeops.fan.simulate import run_simulation
from homeops.output import dumps


def test_same_seed_same_json() -> None:
    a = dumps(run_simulation(Settings(), profile="burst", seed=3))
    b = dumps(run_simulation(Settings(), profile="burst", seed=3))
    assert a == b
    doc = json.loads(a)
    assert set(doc) == {
        "profile",
        "minutes",
        "interval_s",
        "seed",
        "mode",
        "config",
        "model",
        "summary",
        "samples",
    }
    assert set(doc["samples"][0]) == {
        "t_s",
        "load",
        "inlet_c",
        "temp_c",
        "reading_c",
        "state",
        "effective_mode",
        "target_percent",
        "applied_percent",
        "duty_pct",
        "wrote",
    }


@pytest.mark.parametrize("profile", ["steady", "burst"])
def test_defaults_write_less_than_no_hysteresis(profile: str) -> None:
    base = run_simulation(Settings(), profile=profile, mode="cool").summary["writes"]
    twitchy = dataclasses.replace(Settings(), deadband=0, min_step=1)
    assert base < run_simulation(twitchy, profile=profile, mode="cool").summary["writes"]


def test_idle_writes_once() -> None:
    assert run_simulation(Settings(), profile="idle").summary["writes"] == 1


def test_heatwave_hits_the_ceiling() -> None:
    summary = run_simulation(Settings(), profile="heatwave").summary
    assert summary["ceiling_entries"] >= 1 and summary["restores"] >= 1


def test_csv_profile(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.csv"
    path.write_text("minute,load,inlet_c,door\n0,0.2\n10,0.3,21,1\n")
    result = run_simulation(Settings(), profile=str(path), minutes=20)
    assert result.samples[-1]["load"] == 0.3 and result.samples[-1]["effective_mode"] == "quiet"
