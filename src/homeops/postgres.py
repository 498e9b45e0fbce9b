"""Adapter: PostgreSQL connections and small queries (psycopg 3) for the groups that run SQL themselves.

Connect failures are ``Unreachable`` (exit 4) naming user, host and port, never the password; psycopg is
imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from homeops.errors import ProblemFound, Unreachable
from homeops.secrets import resolve
from homeops.settings import Secret

if TYPE_CHECKING:
    import psycopg

    from homeops.shared_settings import VaultSettings


def _params(dsn: str | Mapping[str, Any]) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    if isinstance(dsn, str):
        try:
            return dict(conninfo_to_dict(dsn))
        except Exception:
            # The DSN may hold a password: never echo it.
            raise Unreachable(
                "the PostgreSQL DSN cannot be parsed", "check its key=value or URL form"
            ) from None
    return dict(dsn)


def _where(params: Mapping[str, Any]) -> str:
    user = params.get("user") or "?"
    host = params.get("host") or "local socket"
    port = params.get("port") or 5432
    return f"{user}@{host}:{port}"


def _reason(exc: Exception, password: str | None) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return "authentication failed"
    if "no password supplied" in lowered:
        return "no password given"
    if "timeout" in lowered or "timed out" in lowered:
        return "timed out"
    if "connection refused" in lowered:
        return "connection refused"
    if "does not exist" in lowered and "database" in lowered:
        return "database does not exist"
    if password and password in text:
        text = text.replace(password, "<redacted>")
    return text


def connect(
    dsn: str | Mapping[str, Any],
    password: Secret | None = None,
    *,
    timeout: float = 10.0,
    vault: VaultSettings | None = None,
    what: str = "postgres.password",
    autocommit: bool = True,
    application_name: str = "homeops",
) -> psycopg.Connection[Any]:
    """Open a connection with ``connect_timeout``; the password comes from the DSN or the secret."""
    import psycopg

    params = _params(dsn)
    secret_value = resolve(password, what=what, vault=vault) if password else None
    if secret_value is not None:
        params["password"] = secret_value
    params["connect_timeout"] = max(1, round(timeout))
    params.setdefault("application_name", application_name)
    try:
        return psycopg.connect(autocommit=autocommit, **params)
    except psycopg.OperationalError as exc:
        raise Unreachable(
            f"PostgreSQL {_where(params)}: {_reason(exc, params.get('password'))}",
            "check the host, port, user and password",
        ) from None


def query(
    conn: psycopg.Connection[Any], sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run one statement and return its rows as dicts (empty for statements without rows)."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
    except psycopg.OperationalError as exc:
        raise Unreachable(f"PostgreSQL: connection lost ({type(exc).__name__})", "try again") from None
    except psycopg.Error as exc:
        primary = exc.diag.message_primary or type(exc).__name__
        raise ProblemFound(
            f"PostgreSQL query failed: {primary}", "check the statement and the schema"
        ) from None
