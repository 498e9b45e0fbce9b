"""Adapter: Vault/OpenBao reads for ``vault:`` (KV v2) and ``vault-read:`` (logical) references, via hvac.

One authenticated client per process and settings (never on disk). Unreachable or sealed → ``Unreachable``
naming the address; permission denied, a failed login or a missing path → ``secrets.Miss`` (the caller turns
every failed reference into one ``SecretError``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from homeops.errors import SecretError, Unreachable
from homeops.secrets import Miss, _resolve
from homeops.settings import Secret

if TYPE_CHECKING:
    import hvac

    from homeops.shared_settings import VaultSettings

T = TypeVar("T")

_clients: dict[tuple[Any, ...], hvac.Client] = {}
_lock = threading.Lock()


def reset_clients() -> None:
    """Forget every cached client (tests; a process that changes its Vault settings)."""
    with _lock:
        _clients.clear()


def address(settings: VaultSettings, env: Mapping[str, str]) -> str:
    """``[vault] addr``, else ``$VAULT_ADDR``; SecretError when neither is set."""
    addr = settings.addr or env.get("VAULT_ADDR", "")
    if not addr:
        raise SecretError("no Vault address", "set [vault] addr or VAULT_ADDR")
    return addr.rstrip("/")


def _token(settings: VaultSettings, env: Mapping[str, str]) -> str:
    """Token auth: the configured reference, else ``$VAULT_TOKEN``, else ``~/.vault-token``."""
    if settings.token:
        return _resolve(settings.token, what="vault.token", vault=None, env=env, allow_vault=False)
    if env.get("VAULT_TOKEN"):
        return env["VAULT_TOKEN"]
    home = env.get("HOME") or str(Path.home())
    path = Path(home) / ".vault-token"
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        token = ""
    if not token:
        raise SecretError(
            "no Vault token: [vault] token, VAULT_TOKEN and ~/.vault-token are all empty",
            "set one, run `vault login`, or use [vault] auth = approle|kubernetes",
        )
    return token


def _login(settings: VaultSettings, env: Mapping[str, str]) -> hvac.Client:
    import hvac
    import requests
    from hvac import exceptions as hvac_errors

    addr = address(settings, env)
    client = hvac.Client(
        url=addr,
        token="",
        timeout=settings.timeout,  # type: ignore[arg-type]  # requests takes floats
        verify=settings.verify_tls,
        namespace=settings.namespace or None,
    )
    # Never take proxies or a CA bundle from the environment behind the user's back: the address is explicit.
    client.adapter.session.trust_env = False
    try:
        if settings.auth == "token":
            client.token = _token(settings, env)
        elif settings.auth == "approle":
            if not settings.role_id:
                raise SecretError("[vault] auth = approle needs role_id", "set [vault] role_id and secret_id")
            secret_id = _resolve(
                settings.secret_id or Secret(), what="vault.secret_id", vault=None, env=env, allow_vault=False
            )
            client.auth.approle.login(
                role_id=settings.role_id, secret_id=secret_id, mount_point=settings.approle_mount
            )
        else:
            if not settings.kubernetes_role:
                raise SecretError(
                    "[vault] auth = kubernetes needs kubernetes_role", "set [vault] kubernetes_role"
                )
            try:
                jwt = Path(settings.kubernetes_token_path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SecretError(
                    f"service-account token {settings.kubernetes_token_path} cannot be read ({exc.strerror})",
                    "run inside a pod or set [vault] kubernetes_token_path",
                ) from None
            client.auth.kubernetes.login(
                role=settings.kubernetes_role, jwt=jwt, mount_point=settings.kubernetes_mount
            )
    except (requests.ConnectionError, requests.Timeout):
        raise _unreachable(addr) from None
    except hvac_errors.VaultDown:
        raise Unreachable(f"Vault at {addr} is sealed or down", "unseal it or try again") from None
    except hvac_errors.VaultError as exc:
        raise SecretError(
            f"Vault {settings.auth} login at {addr} failed ({_reason(exc)})",
            "check [vault] role_id/secret_id or the Kubernetes role",
        ) from None
    return client


def _unreachable(addr: str) -> Unreachable:
    return Unreachable(
        f"Vault at {addr} is unreachable", "check [vault] addr / VAULT_ADDR and that Vault is up"
    )


def _reason(exc: Exception) -> str:
    """A short, value-free reason for an hvac error (the class says enough: permission denied, not found…)."""
    names = {
        "Forbidden": "permission denied",
        "Unauthorized": "unauthorized",
        "InvalidPath": "not found",
        "InvalidRequest": "invalid request",
        "RateLimitExceeded": "rate limited",
        "InternalServerError": "server error",
    }
    return names.get(type(exc).__name__, type(exc).__name__)


def _client_key(settings: VaultSettings, env: Mapping[str, str]) -> tuple[Any, ...]:
    return (settings, address(settings, env), env.get("VAULT_TOKEN", ""), env.get("HOME", ""))


def client(settings: VaultSettings, env: Mapping[str, str] | None = None) -> hvac.Client:
    """The process's authenticated client for these settings (logged in on first use)."""
    env = os.environ if env is None else env
    key = _client_key(settings, env)
    with _lock:
        found = _clients.get(key)
    if found is not None:
        return found
    made = _login(settings, env)
    with _lock:
        _clients[key] = made
    return made


def _call(settings: VaultSettings, env: Mapping[str, str], what: str, fn: Callable[[hvac.Client], T]) -> T:
    """Run one read with error mapping; a login token that expired is renewed once by logging in again."""
    import requests
    from hvac import exceptions as hvac_errors

    addr = address(settings, env)
    for attempt in (1, 2):
        c = client(settings, env)
        try:
            return fn(c)
        except (requests.ConnectionError, requests.Timeout):
            raise _unreachable(addr) from None
        except hvac_errors.VaultDown:
            raise Unreachable(f"Vault at {addr} is sealed or down", "unseal it or try again") from None
        except hvac_errors.InvalidPath:
            raise Miss(f"{what} not found") from None
        except hvac_errors.Forbidden as exc:
            if attempt == 1 and settings.auth != "token":
                with _lock:
                    _clients.pop(_client_key(settings, env), None)
                continue
            raise Miss(f"{_reason(exc)} at {addr}") from None
        except hvac_errors.VaultError as exc:
            raise Miss(f"{_reason(exc)} at {addr}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def kv2_read(
    settings: VaultSettings, mount: str, path: str, *, env: Mapping[str, str] | None = None
) -> Mapping[str, Any]:
    """The data of the latest version of a KV v2 secret."""
    env = os.environ if env is None else env

    def read(c: hvac.Client) -> Any:
        return c.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True
        )

    response = _call(settings, env, f"{mount}/{path}", read)
    data = (response or {}).get("data", {}).get("data")
    if not isinstance(data, dict):
        raise Miss(f"{mount}/{path} has no data")
    return data


def logical_read(
    settings: VaultSettings, path: str, *, env: Mapping[str, str] | None = None
) -> Mapping[str, Any]:
    """The ``data`` of a plain logical read (``database/static-creds/<role>``, any non-KV mount)."""
    env = os.environ if env is None else env
    response = _call(settings, env, path, lambda c: c.read(path))
    if response is None:
        raise Miss(f"{path} not found")
    data = response.get("data") if isinstance(response, dict) else None
    if not isinstance(data, dict):
        raise Miss(f"{path} has no data")
    return data
