"""postgres.connect/query against a real PostgreSQL 15: queries, auth failure and closed port → Unreachable."""

from __future__ import annotations

import pytest

from homeops import postgres as pg
from homeops.errors import ProblemFound, Unreachable
from homeops.settings import Secret
from tests.services._common import free_port
from tests.services.postgres import Postgres


def test_query_with_password_secret(postgres: Postgres) -> None:
    env_name = "HOMEOPS_TEST_PG_PASSWORD"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(env_name, postgres.password)
        conn = pg.connect(postgres.dsn, Secret((f"env:{env_name}",)), timeout=5)
    with conn:
        pg.query(conn, "CREATE TABLE IF NOT EXISTS t_platform (id int, name text)")
        pg.query(conn, "INSERT INTO t_platform VALUES (%s, %s), (%s, %s)", (1, "a", 2, "b"))
        rows = pg.query(conn, "SELECT id, name FROM t_platform WHERE id >= %(min)s ORDER BY id", {"min": 1})
        assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
        with pytest.raises(ProblemFound, match="syntax error"):
            pg.query(conn, "SELEC 1")


def test_params_mapping_with_password_in_it(postgres: Postgres) -> None:
    params = {"host": postgres.host, "port": postgres.port, "user": "postgres", "dbname": "postgres"}
    with pg.connect({**params, "password": postgres.password}) as conn:
        assert pg.query(conn, "SELECT 1 AS one") == [{"one": 1}]


def test_wrong_password_is_unreachable_naming_user_not_password(postgres: Postgres) -> None:
    wrong = "wrong-pw-7c1e"
    with pytest.raises(Unreachable) as info:
        pg.connect(f"{postgres.dsn} password={wrong}", timeout=5)
    line = info.value.line()
    assert f"postgres@{postgres.host}:{postgres.port}" in line
    assert "authentication failed" in line
    assert wrong not in line
    assert info.value.exit_code == 4


def test_closed_port_is_unreachable() -> None:
    port = free_port()
    with pytest.raises(Unreachable) as info:
        pg.connect(f"host=127.0.0.1 port={port} user=u dbname=d password=pw-x", timeout=2)
    assert f"u@127.0.0.1:{port}" in info.value.what
    assert "connection refused" in info.value.what
    assert "pw-x" not in info.value.line()
