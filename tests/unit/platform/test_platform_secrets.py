"""secrets.resolve without Vault: env and file references, lists, JSON selection, errors that hold no value."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeops.errors import SecretError
from homeops.secrets import Miss, parse, resolve, resolve_optional, select
from homeops.settings import Secret

VALUE = "v4lue-never-shown"


def test_env_reference() -> None:
    assert resolve(Secret(("env:TOKEN",)), what="t", env={"TOKEN": VALUE}) == VALUE


@pytest.mark.parametrize(
    ("content", "expected"),
    [("abc\n", "abc"), ("abc", "abc"), ("abc\n\n", "abc\n"), ("abc\r\n", "abc"), (" spaced \n", " spaced ")],
    ids=["newline", "none", "two-newlines", "crlf", "spaces-kept"],
)
def test_file_reference_strips_one_trailing_newline(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "s"
    path.write_text(content, newline="")
    assert resolve(Secret((f"file:{path}",)), what="t", env={}) == expected


def test_list_first_that_resolves_wins(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_text("from-file\n")
    secret = Secret(("env:UNSET", "env:EMPTY", f"file:{path}", "env:SET"))
    assert resolve(secret, what="t", env={"EMPTY": "", "SET": "from-env"}) == "from-file"


def test_all_failing_names_every_reference_and_why(tmp_path: Path) -> None:
    secret = Secret(("env:UNSET", "env:EMPTY", f"file:{tmp_path / 'none'}", f"file:{tmp_path}"))
    with pytest.raises(SecretError) as info:
        resolve(secret, what="fan.ha_token", env={"EMPTY": ""})
    line = info.value.line()
    assert line.startswith("fan.ha_token: no reference resolved: ")
    assert "env:UNSET (not set)" in line
    assert "env:EMPTY (empty)" in line
    assert f"file:{tmp_path / 'none'} (no such file)" in line
    assert f"file:{tmp_path} (is a directory)" in line
    assert info.value.exit_code == 2


def test_a_value_that_is_not_a_reference_is_never_echoed() -> None:
    with pytest.raises(SecretError) as info:
        resolve(Secret((VALUE,)), what="t", env={})
    assert VALUE not in info.value.line()
    assert "<not a reference>" in info.value.line()


def test_empty_secret() -> None:
    with pytest.raises(SecretError, match="no secret configured"):
        resolve(Secret(), what="t", env={})
    assert resolve_optional(Secret(), what="t", env={}) is None
    assert resolve_optional(Secret(("env:A",)), what="t", env={"A": "x"}) == "x"


def test_legacy_value_is_returned_and_never_shown() -> None:
    secret = Secret((), legacy_value=VALUE)
    assert resolve(secret, what="t", env={}) == VALUE
    assert VALUE not in repr(secret)
    assert secret.describe() == "<from env-file>"
    assert secret.to_json() == "<redacted>"


@pytest.mark.parametrize(
    ("ref", "scheme", "location", "key", "path"),
    [
        ("env:A", "env", "A", "", ()),
        ("file:/run/x#y", "file", "/run/x#y", "", ()),
        ("vault:secret/immich#db_password", "vault", "secret/immich", "db_password", ()),
        (
            "vault:secret/immich#homepage_credentials.immich.token",
            "vault",
            "secret/immich",
            "homepage_credentials",
            ("immich", "token"),
        ),
        (
            "vault-read:database/static-creds/pg#password",
            "vault-read",
            "database/static-creds/pg",
            "password",
            (),
        ),
        ("vault-read:kv/x/#k", "vault-read", "kv/x", "k", ()),
    ],
)
def test_parse(ref: str, scheme: str, location: str, key: str, path: tuple[str, ...]) -> None:
    parsed = parse(ref)
    assert (parsed.scheme, parsed.location, parsed.key, parsed.json_path) == (scheme, location, key, path)


@pytest.mark.parametrize(
    "ref",
    [
        "vault:secret#k",
        "vault:secret/x",
        "vault:secret/x#",
        "vault-read:#k",
        "vault:a/b#k..x",
        "plain",
        "ftp:x",
    ],
)
def test_parse_rejects(ref: str) -> None:
    with pytest.raises(Miss):
        parse(ref)


DATA = {
    "plain": "p",
    "json": '{"a": {"b": "deep", "n": 3, "t": true, "list": ["x", "y"], "obj": {}}, "empty": ""}',
    "nested": {"a": {"b": "from-dict"}},
    "number": 42,
    "null": None,
}


@pytest.mark.parametrize(
    ("key", "path", "expected"),
    [
        ("plain", (), "p"),
        ("json", ("a", "b"), "deep"),
        ("json", ("a", "n"), "3"),
        ("json", ("a", "t"), "true"),
        ("json", ("a", "list", "1"), "y"),
        ("nested", ("a", "b"), "from-dict"),
        ("number", (), "42"),
    ],
)
def test_select(key: str, path: tuple[str, ...], expected: str) -> None:
    assert select(DATA, key, path) == expected


@pytest.mark.parametrize(
    ("key", "path", "why"),
    [
        ("missing", (), "key missing not found"),
        ("plain", ("a",), "plain is not JSON"),
        ("json", ("a", "zz"), "json.a.zz not found"),
        ("json", ("a",), "json.a is a JSON object"),
        ("json", ("empty",), "json.empty is empty"),
        ("null", (), "null is null"),
        ("json", ("a", "list", "9"), "json.a.list.9 not found"),
    ],
)
def test_select_misses_name_keys_only(key: str, path: tuple[str, ...], why: str) -> None:
    with pytest.raises(Miss) as info:
        select(DATA, key, path)
    assert why in str(info.value)
    assert "deep" not in str(info.value) and "from-dict" not in str(info.value)


@given(st.text(min_size=1).filter(lambda s: "\x00" not in s))
def test_env_value_round_trips(value: str) -> None:
    assert resolve(Secret(("env:X",)), what="t", env={"X": value}) == value


def test_vault_reference_without_address_falls_through() -> None:
    secret = Secret(("vault:secret/a#b", "env:B"))
    assert resolve(secret, what="t", env={"B": "fallback"}) == "fallback"
    with pytest.raises(SecretError) as info:
        resolve(Secret(("vault:secret/a#b",)), what="t", env={})
    assert "vault:secret/a#b (no Vault address)" in info.value.line()
