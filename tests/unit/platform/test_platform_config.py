"""config loader internals with test-only settings: nested tables, arrays of tables, maps, precedence, lines."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from homeops import config, config_schema
from homeops.commands.config import _secrets, _shown
from homeops.errors import ConfigError
from homeops.settings import Secret, secret, setting
from homeops.shared_settings import MetricsSettings, VaultSettings


@dataclass(frozen=True)
class Cool:
    t_lo: float = setting(40.0, "low", min=0, max=100)
    t_hi: float = setting(70.0, "high", min=0, max=100)

    def __post_init__(self) -> None:
        if self.t_lo >= self.t_hi:
            raise ValueError("t_lo must be below t_hi")


@dataclass(frozen=True)
class Target:
    name: str = setting("", "name")
    token: Secret = secret("token")


@dataclass(frozen=True)
class Demo:
    mode: Literal["auto", "manual"] = setting("auto", "mode")
    cool: Cool = dataclasses.field(default_factory=Cool)
    targets: list[Target] = setting([], "targets")
    weights: dict[str, int] = setting({}, "weights")
    limit: int | None = setting(None, "limit")


TEXT = """\
[demo]
mode = "manual"   # comment
weights = { a = 1, b = 2 }

[demo.cool]
t_lo = 30
t_hi = 80

[[demo.targets]]
name = "one"
token = "env:ONE"

[[demo.targets]]
name = "two"
token = ["env:TWO", "vault:secret/x#two"]
"""


def build(text: str, tmp_path: Path) -> Demo:
    path = tmp_path / "c.toml"
    path.write_text(text)
    loader = config._Loader(path, text)
    raw = tomllib.loads(text)["demo"]
    config._record_file_sources(raw, "demo", loader)
    built: Demo = config_schema.build(Demo, raw, "demo", str(path), loader)
    return built


def test_nested_arrays_and_maps_build(tmp_path: Path) -> None:
    demo = build(TEXT, tmp_path)
    assert demo.mode == "manual"
    assert demo.cool == Cool(30.0, 80.0)
    assert demo.weights == {"a": 1, "b": 2}
    assert demo.targets[1] == Target("two", Secret(("env:TWO", "vault:secret/x#two")))
    assert demo.limit is None


def test_secrets_in_arrays_of_tables_are_shown_as_references(tmp_path: Path) -> None:
    demo = build(TEXT, tmp_path)
    assert _shown(demo.targets)[1] == {"name": "two", "token": ["env:TWO", "vault:secret/x#two"]}
    assert [k for k, _ in _secrets(demo, "demo")] == ["demo.targets[0].token", "demo.targets[1].token"]


def test_post_init_error_names_the_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[demo.cool\]: t_lo must be below t_hi"):
        build("[demo.cool]\nt_lo = 90\n", tmp_path)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[demo]\nmode = 'off'\n", "demo.mode: expected 'auto' | 'manual'"),
        ("[demo]\nweights = { a = 'x' }\n", "demo.weights.a: expected int"),
        ("[[demo.targets]]\nname = 1\n", "demo.targets[0].name: expected str"),
        ("[[demo.targets]]\nbogus = 1\n", "unknown key demo.targets[0].bogus"),
        ("[demo]\nlimit = 'x'\n", "demo.limit: expected int"),
        ("[demo]\ncool = 3\n", "demo.cool: expected table"),
        ("[[demo.targets]]\ntoken = 'literal-value'\n", "literal secret"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(text, tmp_path)
    assert named in info.value.line()
    assert "literal-value" not in info.value.line()


def test_where_follows_tables_dotted_and_quoted_keys(tmp_path: Path) -> None:
    text = (
        "[metrics]\n"  # 1
        "push_timeout = 1\n"  # 2
        "[vault]\n"  # 3
        "timeout = 2\n"  # 4
        "'quoted' = 3\n"  # 5
        "[fan]\n"  # 6
        "cool.t_lo = 4\n"  # 7
        "curve = { a = 1 }\n"  # 8
        "[[k8s-upgrade.worker_tolerations]]\n"  # 9
        "key = 'x'\n"  # 10
    )
    loader = config._Loader(tmp_path / "c.toml", text)
    where = {
        k: loader.where(k).rsplit(":", 1)[-1]
        for k in (
            "metrics.push_timeout",
            "vault.timeout",
            "vault.quoted",
            "fan.cool.t_lo",
            "fan.curve.a",
            "k8s-upgrade.worker_tolerations[0].key",
            "vault",
            "fan",
        )
    }
    assert where == {
        "metrics.push_timeout": "2",
        "vault.timeout": "4",
        "vault.quoted": "5",
        "fan.cool.t_lo": "7",
        "fan.curve.a": "8",
        "k8s-upgrade.worker_tolerations[0].key": "10",
        "vault": "3",
        "fan": "6",
    }


def test_precedence_legacy_file_env(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[metrics]\npush_timeout = 3\n")
    legacy = {
        "metrics": {
            "push_timeout": ("2", "env-file:/etc/x:1"),
            "pushgateway_url": ("http://l", "env-file:/etc/x:2"),
        }
    }
    cfg = config.load(path, env={}, legacy=legacy)
    metrics = cfg.table("metrics", MetricsSettings)
    assert (metrics.push_timeout, cfg.source("metrics.push_timeout")) == (3.0, f"file:{path}:2")
    assert (metrics.pushgateway_url, cfg.source("metrics.pushgateway_url")) == (
        "http://l",
        "env-file:/etc/x:2",
    )
    cfg = config.load(path, env={"HOMEOPS_METRICS__PUSH_TIMEOUT": "4"}, legacy=legacy)
    assert cfg.table("metrics", MetricsSettings).push_timeout == 4.0
    assert cfg.is_configured("metrics") and not cfg.is_configured("telemetry")


def test_legacy_secret_is_a_value_shown_redacted(tmp_path: Path) -> None:
    cfg = config.load(
        None, env={"XDG_CONFIG_HOME": str(tmp_path)}, legacy={"vault": {"token": ("s3cr3t", "env-file:/x:1")}}
    )
    token = cfg.table("vault", VaultSettings).token
    assert token.legacy_value == "s3cr3t"
    assert _shown(token) == "<from env-file>"


def test_legacy_bad_value_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"env-file:/x:7.*metrics.push_timeout: expected float"):
        config.load(
            None,
            env={"XDG_CONFIG_HOME": str(tmp_path)},
            legacy={"metrics": {"push_timeout": ("fast", "env-file:/x:7")}},
        )


@pytest.mark.parametrize(
    ("text", "tp", "value"),
    [
        ("on", bool, True),
        ("0", bool, False),
        ("12", int, 12),
        ("1.5", float, 1.5),
        ('["a"]', list[str], ["a"]),
        ('{"a": 1}', dict[str, int], {"a": 1}),
        ("env:A", Secret, "env:A"),
        ('["env:A"]', Secret, ["env:A"]),
        ("5", int | None, 5),
    ],
)
def test_from_text(text: str, tp: Any, value: Any) -> None:
    assert config_schema.from_text(text, tp) == value


def test_table_type_mismatch_and_missing_explicit_file(tmp_path: Path) -> None:
    cfg = config.load(None, env={"XDG_CONFIG_HOME": str(tmp_path)})
    with pytest.raises(TypeError):
        cfg.table("metrics", VaultSettings)
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "none.toml", env={}, require_file=True)


def test_top_level_scalar_for_a_table(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("metrics = 3\n")
    with pytest.raises(ConfigError, match=r"c.toml:1: metrics must be a table"):
        config.load(path, env={})
