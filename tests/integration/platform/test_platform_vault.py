"""secrets.resolve against a real OpenBao dev server: KV v2, logical reads, JSON paths, AppRole, failures."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest

from homeops import vault
from homeops.errors import SecretError, Unreachable
from homeops.secrets import resolve
from homeops.settings import Secret
from homeops.shared_settings import VaultSettings
from tests.services._common import free_port
from tests.services.openbao import OpenBao

PLANTED = "s3cr3t-planted-" + uuid.uuid4().hex


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    vault.reset_clients()
    yield
    vault.reset_clients()


@pytest.fixture(scope="module")
def bao(openbao: OpenBao) -> hvac.Client:
    client = hvac.Client(url=openbao.addr, token=openbao.token)
    return client


@pytest.fixture(scope="module")
def kv_path(bao: hvac.Client) -> str:
    path = f"homeops-test/{uuid.uuid4().hex[:8]}"
    bao.secrets.kv.v2.create_or_update_secret(
        path=path,
        mount_point="secret",
        secret={
            "password": PLANTED,
            "homepage_credentials": json.dumps({"immich": {"token": PLANTED + "-json"}, "port": 2283}),
            "dotted.key": "dotted-value",
        },
    )
    return path


def token_env(openbao: OpenBao) -> dict[str, str]:
    return {"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.token, "HOME": str(openbao.dir)}


def test_kv2_reference_resolves(openbao: OpenBao, kv_path: str) -> None:
    value = resolve(Secret((f"vault:secret/{kv_path}#password",)), what="t.pw", env=token_env(openbao))
    assert value == PLANTED


def test_kv2_reference_with_json_path(openbao: OpenBao, kv_path: str) -> None:
    env = token_env(openbao)
    ref = f"vault:secret/{kv_path}#homepage_credentials.immich.token"
    assert resolve(Secret((ref,)), what="t.api", env=env) == PLANTED + "-json"
    assert (
        resolve(Secret((f"vault:secret/{kv_path}#homepage_credentials.port",)), what="t", env=env) == "2283"
    )


def test_key_with_dots_is_taken_whole(openbao: OpenBao, kv_path: str) -> None:
    value = resolve(Secret((f"vault:secret/{kv_path}#dotted.key",)), what="t", env=token_env(openbao))
    assert value == "dotted-value"


def test_vault_read_reference_logical_read(openbao: OpenBao, bao: hvac.Client) -> None:
    # A plain logical read: a KV v1 mount answers like database/static-creds (data at the top level).
    mount = f"kv1-{uuid.uuid4().hex[:6]}"
    bao.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    bao.write(f"{mount}/pg-job-hunter", username="jh", password=PLANTED)
    value = resolve(Secret((f"vault-read:{mount}/pg-job-hunter#password",)), what="t", env=token_env(openbao))
    assert value == PLANTED


def test_settings_address_and_token_reference(openbao: OpenBao, kv_path: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(openbao.token + "\n")
    settings = VaultSettings(addr=openbao.addr, token=Secret((f"file:{token_file}",)))
    value = resolve(Secret((f"vault:secret/{kv_path}#password",)), what="t", vault=settings, env={})
    assert value == PLANTED


def test_token_from_home_vault_token_file(openbao: OpenBao, kv_path: str, tmp_path: Path) -> None:
    (tmp_path / ".vault-token").write_text(openbao.token)
    env = {"VAULT_ADDR": openbao.addr, "HOME": str(tmp_path)}
    assert resolve(Secret((f"vault:secret/{kv_path}#password",)), what="t", env=env) == PLANTED


def test_approle_login(openbao: OpenBao, bao: hvac.Client, kv_path: str) -> None:
    mount = f"approle-{uuid.uuid4().hex[:6]}"
    bao.sys.enable_auth_method("approle", path=mount)
    bao.sys.create_or_update_policy(
        name="homeops-read", policy='path "secret/data/homeops-test/*" { capabilities = ["read"] }'
    )
    bao.auth.approle.create_or_update_approle("homeops", token_policies=["homeops-read"], mount_point=mount)
    role_id = bao.auth.approle.read_role_id("homeops", mount_point=mount)["data"]["role_id"]
    secret_id = bao.auth.approle.generate_secret_id("homeops", mount_point=mount)["data"]["secret_id"]
    settings = VaultSettings(
        addr=openbao.addr,
        auth="approle",
        role_id=role_id,
        secret_id=Secret(("env:TEST_SECRET_ID",)),
        approle_mount=mount,
    )
    env = {"TEST_SECRET_ID": secret_id}
    value = resolve(Secret((f"vault:secret/{kv_path}#password",)), what="t", vault=settings, env=env)
    assert value == PLANTED
    # The policy allows only secret/data/homeops-test/*: elsewhere is permission denied → SecretError.
    bao.secrets.kv.v2.create_or_update_secret(path="elsewhere", mount_point="secret", secret={"k": PLANTED})
    with pytest.raises(SecretError) as info:
        resolve(Secret(("vault:secret/elsewhere#k",)), what="t", vault=settings, env=env)
    assert "permission denied" in info.value.what
    assert PLANTED not in info.value.line()


def test_approle_wrong_secret_id_is_secret_error(openbao: OpenBao, bao: hvac.Client) -> None:
    mount = f"approle-{uuid.uuid4().hex[:6]}"
    bao.sys.enable_auth_method("approle", path=mount)
    bao.auth.approle.create_or_update_approle("r", mount_point=mount)
    role_id = bao.auth.approle.read_role_id("r", mount_point=mount)["data"]["role_id"]
    settings = VaultSettings(
        addr=openbao.addr,
        auth="approle",
        role_id=role_id,
        secret_id=Secret(("env:SID",)),
        approle_mount=mount,
    )
    with pytest.raises(SecretError) as info:
        resolve(Secret(("vault:secret/x#y",)), what="t", vault=settings, env={"SID": PLANTED})
    assert "approle login" in info.value.what
    assert PLANTED not in info.value.line()


def test_missing_key_and_path_name_the_reference(openbao: OpenBao, kv_path: str) -> None:
    env = token_env(openbao)
    with pytest.raises(SecretError) as info:
        resolve(
            Secret((f"vault:secret/{kv_path}#nope", "vault:secret/does/not/exist#k", "env:HOMEOPS_T_UNSET")),
            what="t.pw",
            env=env,
        )
    line = info.value.line()
    assert f"vault:secret/{kv_path}#nope (key nope not found)" in line
    assert "vault:secret/does/not/exist#k (secret/does/not/exist not found)" in line
    assert "env:HOMEOPS_T_UNSET (not set)" in line
    assert PLANTED not in line


def test_list_falls_through_to_vault(openbao: OpenBao, kv_path: str) -> None:
    secret = Secret(("env:WP_TOKEN_UNSET", f"vault:secret/{kv_path}#password"))
    assert resolve(secret, what="t", env=token_env(openbao)) == PLANTED


def test_bad_token_is_permission_denied(openbao: OpenBao, kv_path: str) -> None:
    env = {"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": "not-a-token", "HOME": str(openbao.dir)}
    with pytest.raises(SecretError, match="permission denied"):
        resolve(Secret((f"vault:secret/{kv_path}#password",)), what="t", env=env)


def test_unreachable_vault_names_the_address() -> None:
    addr = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unreachable) as info:
        resolve(Secret(("vault:secret/a#b",)), what="t", env={"VAULT_ADDR": addr, "VAULT_TOKEN": "x"})
    assert addr in info.value.what
    assert info.value.exit_code == 4


def test_client_is_cached_per_process(openbao: OpenBao, kv_path: str) -> None:
    env = token_env(openbao)
    settings = VaultSettings()
    assert vault.client(settings, env) is vault.client(settings, env)
