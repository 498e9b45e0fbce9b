"""homeops config show|check through the real app: sources, redaction, and every config error is exit 2."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from homeops.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platform"
PLANTED = "planted-" + uuid.uuid4().hex


def run(
    args: list[str], tmp_path: Path, text: str | None = None, env: Mapping[str, str] | None = None
) -> Result:
    """Invoke ``homeops <args>`` with only the given config and overrides in the environment."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("HOMEOPS_", "VAULT_"))}
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    clean["XDG_STATE_HOME"] = str(tmp_path / "state")
    clean["NO_COLOR"] = "1"
    if text is not None:
        path = tmp_path / "config.toml"
        path.write_text(text)
        clean["HOMEOPS_CONFIG"] = str(path)
    clean.update(env or {})
    return CliRunner().invoke(app, args, env=clean)


def show_json(
    tmp_path: Path, text: str | None = None, env: Mapping[str, str] | None = None
) -> dict[str, object]:
    result = run(["config", "show", "--json"], tmp_path, text, env)
    assert result.exit_code == 0, result.stderr
    doc: dict[str, object] = json.loads(result.stdout)
    return doc


def setting(doc: dict[str, object], key: str) -> dict[str, object]:
    settings = doc["settings"]
    assert isinstance(settings, dict)
    entry: dict[str, object] = settings[key]
    return entry


# --- show ---------------------------------------------------------------------------------------------------


def test_show_lists_every_key_with_value_and_source(tmp_path: Path) -> None:
    text = (FIXTURES / "shared.toml").read_text()
    doc = show_json(tmp_path, text, {"HOMEOPS_TELEMETRY__LOKI_URL": "http://loki:3100/push"})
    path = str(tmp_path / "config.toml")
    assert doc["path"] == path
    assert setting(doc, "metrics.push_timeout") == {"value": 3.5, "source": f"file:{path}:4"}
    assert setting(doc, "vault.timeout") == {"value": 2.0, "source": f"file:{path}:8"}
    assert setting(doc, "telemetry.timeout_ms") == {"value": 300, "source": f"file:{path}:12"}
    assert setting(doc, "metrics.textfile_dir") == {"value": "", "source": "default"}
    assert setting(doc, "telemetry.loki_url") == {
        "value": "http://loki:3100/push",
        "source": "env:HOMEOPS_TELEMETRY__LOKI_URL",
    }
    assert setting(doc, "vault.token")["value"] == [
        "env:HOMEOPS_TEST_VAULT_TOKEN",
        "file:/run/secrets/vault-token",
    ]
    # Every table is listed, configured or not.
    tables = {key.split(".")[0] for key in doc["settings"]}  # type: ignore[union-attr]
    assert {"metrics", "vault", "telemetry", "iogate"} <= tables


def test_show_human_output(tmp_path: Path) -> None:
    result = run(["config", "show"], tmp_path, (FIXTURES / "shared.toml").read_text())
    assert result.exit_code == 0
    path = tmp_path / "config.toml"
    assert f"# config file: {path}" in result.stdout
    assert f"metrics.push_timeout = 3.5  # file:{path}:4" in result.stdout
    assert "vault.token = env:HOMEOPS_TEST_VAULT_TOKEN, file:/run/secrets/vault-token" in result.stdout
    assert 'metrics.textfile_dir = ""  # default' in result.stdout


def test_show_without_any_file_is_defaults(tmp_path: Path) -> None:
    doc = show_json(tmp_path)
    assert doc["path"] is None
    assert setting(doc, "metrics.push_timeout") == {"value": 5.0, "source": "default"}


def test_override_is_parsed_as_the_declared_type(tmp_path: Path) -> None:
    env = {
        "HOMEOPS_VAULT__VERIFY_TLS": "no",
        "HOMEOPS_TELEMETRY__TIMEOUT_MS": "300",
        "HOMEOPS_VAULT__TOKEN": '["env:A", "file:/b"]',
        "HOMEOPS_VAULT__AUTH": "approle",
    }
    doc = show_json(tmp_path, "", env)
    assert setting(doc, "vault.verify_tls") == {"value": False, "source": "env:HOMEOPS_VAULT__VERIFY_TLS"}
    assert setting(doc, "telemetry.timeout_ms")["value"] == 300
    assert setting(doc, "vault.token")["value"] == ["env:A", "file:/b"]
    assert setting(doc, "vault.auth")["value"] == "approle"


def test_override_beats_the_file(tmp_path: Path) -> None:
    doc = show_json(tmp_path, "[metrics]\npush_timeout = 3.5\n", {"HOMEOPS_METRICS__PUSH_TIMEOUT": "9"})
    assert setting(doc, "metrics.push_timeout") == {
        "value": 9.0,
        "source": "env:HOMEOPS_METRICS__PUSH_TIMEOUT",
    }


@pytest.mark.parametrize(
    "name",
    [
        "HOMEOPS_REQUIRE_SERVICES",
        "HOMEOPS_TELEMETRY",
        "HOMEOPS_METRICS_PUSH_TIMEOUT",
        "HOMEOPSMETRICS__PUSH_TIMEOUT",
    ],
)
def test_names_without_double_underscore_are_never_overrides(tmp_path: Path, name: str) -> None:
    doc = show_json(tmp_path, "", {name: "not-a-number"})
    assert setting(doc, "metrics.push_timeout") == {"value": 5.0, "source": "default"}
    assert all(name not in str(v) for v in doc["settings"].values())  # type: ignore[union-attr]


def test_homeops_config_names_the_file_and_is_not_an_override(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[metrics]\npush_timeout = 8\n")
    doc = show_json(tmp_path, None, {"HOMEOPS_CONFIG": str(other)})
    assert setting(doc, "metrics.push_timeout") == {"value": 8.0, "source": f"file:{other}:2"}


# --- check: every kind of config error is exit 2 with one line naming it ------------------------------------


def check_fails(tmp_path: Path, text: str | None, env: Mapping[str, str] | None = None) -> str:
    result = run(["config", "check"], tmp_path, text, env)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("homeops config: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_check_ok(tmp_path: Path) -> None:
    result = run(["config", "check", "--json"], tmp_path, (FIXTURES / "shared.toml").read_text())
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["configured"] == ["metrics", "telemetry", "vault"]
    human = run(["config", "check"], tmp_path, (FIXTURES / "shared.toml").read_text())
    assert human.exit_code == 0
    assert human.stdout.startswith("config OK:")


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    line = check_fails(tmp_path, "[metrics]\npush_timeout = 3\nthis is not toml\n")
    assert str(tmp_path / "config.toml") in line
    assert "line 3" in line


def test_missing_explicit_file(tmp_path: Path) -> None:
    line = check_fails(tmp_path, None, {"HOMEOPS_CONFIG": str(tmp_path / "nope.toml")})
    assert "nope.toml does not exist" in line


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.toml"
    path.write_bytes(b"[metrics]\npush_timeout = \xff\xfe\n")
    line = check_fails(tmp_path, None, {"HOMEOPS_CONFIG": str(path)})
    assert "bin.toml" in line and "UTF-8" in line


def test_unknown_table(tmp_path: Path) -> None:
    line = check_fails(tmp_path, "[metrics]\npush_timeout = 3\n\n[bogus]\nx = 1\n")
    assert "unknown table [bogus]" in line
    assert f"{tmp_path / 'config.toml'}:4" in line


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    line = check_fails(tmp_path, "[vault]\naddr = 'http://v'\n\n[metrics]\ntimeout = 3\n")
    assert "unknown key metrics.timeout" in line
    assert f"{tmp_path / 'config.toml'}:5" in line


def test_wrong_type_names_key_expected_type_and_the_right_line(tmp_path: Path) -> None:
    # `timeout` exists in [vault] too: the line must be the one in [metrics]' table, not the first match.
    text = "[vault]\ntimeout = 2.0\n\n[metrics]\npush_timeout = 'fast'\n"
    line = check_fails(tmp_path, text)
    assert "metrics.push_timeout" in line
    assert "expected float" in line
    assert f"{tmp_path / 'config.toml'}:5" in line


def test_same_leaf_in_two_tables_gets_its_own_line(tmp_path: Path) -> None:
    text = "[vault]\ntimeout = 2.0\n\n[metrics]\npush_timeout = 1\n\n[telemetry]\ntimeout_ms = 'x'\n"
    line = check_fails(tmp_path, text)
    assert f"{tmp_path / 'config.toml'}:8" in line


def test_out_of_range(tmp_path: Path) -> None:
    line = check_fails(tmp_path, "[telemetry]\ntimeout_ms = 1\n")
    assert "telemetry.timeout_ms" in line and "at least 50" in line


def test_bad_enum(tmp_path: Path) -> None:
    line = check_fails(tmp_path, "[vault]\nauth = 'oidc'\n")
    assert "vault.auth" in line and "'token' | 'approle' | 'kubernetes'" in line


def test_override_wrong_type(tmp_path: Path) -> None:
    line = check_fails(tmp_path, "", {"HOMEOPS_METRICS__PUSH_TIMEOUT": "fast"})
    assert "HOMEOPS_METRICS__PUSH_TIMEOUT" in line
    assert "metrics.push_timeout" in line and "expected float" in line


def test_override_out_of_range_names_the_variable(tmp_path: Path) -> None:
    line = check_fails(tmp_path, "", {"HOMEOPS_METRICS__PUSH_TIMEOUT": "0.001"})
    assert "env:HOMEOPS_METRICS__PUSH_TIMEOUT" in line and "at least 0.1" in line


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("HOMEOPS_METRICS__NOPE", "unknown key metrics.nope"),
        ("HOMEOPS_BOGUS__X", "unknown table bogus"),
        ("HOMEOPS_METRICS__", "unknown key"),
        ("HOMEOPS_METRICS__PUSH_TIMEOUT__DEEPER", "unknown key"),
    ],
)
def test_override_unknown(tmp_path: Path, name: str, named: str) -> None:
    line = check_fails(tmp_path, "", {name: "1"})
    assert named in line and name in line


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HOMEOPS_VAULT__TOKEN", '["env:A"', "secret reference"),
        ("HOMEOPS_VAULT__VERIFY_TLS", "maybe", "expected bool"),
        ("HOMEOPS_TELEMETRY__TIMEOUT_MS", "1.5", "expected int"),
        ("HOMEOPS_VAULT__AUTH", "oidc", "'token' | 'approle' | 'kubernetes'"),
    ],
)
def test_override_bad_values(tmp_path: Path, name: str, value: str, expected: str) -> None:
    line = check_fails(tmp_path, "", {name: value})
    assert name in line and expected in line


@pytest.mark.parametrize(
    "text",
    [
        f'[vault]\ntoken = "{PLANTED}"\n',
        f'[vault]\ntoken = ["env:X", "{PLANTED}"]\n',
        f'[vault]\nsecret_id = "vault:{PLANTED}"\n',
        "[vault]\ntoken = 8675309\n",
        '[vault]\ntoken = "env:"\n',
    ],
    ids=["string", "in-list", "malformed-vault-ref", "number", "empty-env-name"],
)
def test_literal_or_malformed_secret_in_file(tmp_path: Path, text: str) -> None:
    line = check_fails(tmp_path, text)
    assert "vault." in line
    assert PLANTED not in line and "8675309" not in line


def test_literal_secret_in_override(tmp_path: Path) -> None:
    line = check_fails(tmp_path, "", {"HOMEOPS_VAULT__TOKEN": PLANTED})
    assert "HOMEOPS_VAULT__TOKEN" in line and "literal secret" in line
    assert PLANTED not in line


def test_check_json_reports_the_error_too(tmp_path: Path) -> None:
    result = run(["config", "check", "--json"], tmp_path, "[metrics]\nnope = 1\n")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and "metrics.nope" in doc["error"]


# --- secrets: resolved only on request, errors name references, values never shown --------------------------


def test_missing_secret_names_the_reference(tmp_path: Path) -> None:
    text = '[vault]\ntoken = ["env:HOMEOPS_T_UNSET", "file:/nonexistent/token"]\n'
    result = run(["config", "check", "--resolve-secrets"], tmp_path, text)
    assert result.exit_code == 2
    assert "env:HOMEOPS_T_UNSET (not set)" in result.stdout
    assert "file:/nonexistent/token (no such file)" in result.stdout
    assert "did not resolve" in result.stderr


def test_planted_secret_never_appears(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret_id"
    secret_file.write_text(PLANTED + "\n")
    text = (
        "[vault]\n"
        'addr = "http://127.0.0.1:9"\n'
        'auth = "approle"\n'
        'role_id = "role"\n'
        'token = "env:PLANTED_TOKEN"\n'
        f'secret_id = ["env:UNSET_SECRET_ID", "file:{secret_file}"]\n'
    )
    env = {"PLANTED_TOKEN": PLANTED}
    outputs: list[str] = []
    codes = []
    for args in (
        ["config", "show"],
        ["config", "show", "--json"],
        ["config", "check"],
        ["config", "check", "--json"],
        ["config", "check", "--resolve-secrets"],
        ["config", "check", "--resolve-secrets", "--json"],
    ):
        result = run(args, tmp_path, text, env)
        codes.append(result.exit_code)
        outputs += [result.stdout, result.stderr]
    # A failing case too: a literal secret given through the environment.
    bad = run(["config", "check"], tmp_path, "", {"HOMEOPS_VAULT__TOKEN": PLANTED})
    outputs += [bad.stdout, bad.stderr]
    assert codes == [0, 0, 0, 0, 0, 0]
    assert bad.exit_code == 2
    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p != secret_file]
    for text_out in outputs + written:
        assert PLANTED not in text_out
    assert "env:PLANTED_TOKEN" in outputs[0]
