"""The PostgreSQL-aware toxics of the built-in proxy against the real server at 127.0.0.1:5432
(trust auth): a COMMIT whose answer is dropped is committed nonetheless; a connection cut in
mid-transaction leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.proxy.conftest import ProxyFactory, Server

pytestmark = pytest.mark.postgres

DIRECT = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


def _through(listen: object) -> str:
    host, port = str(listen).rsplit(":", 1)
    return f"host={host} port={port} user=postgres dbname=postgres connect_timeout=5"


@pytest.fixture
def table() -> Iterator[str]:
    name = f"ackguard_proxy_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(DIRECT, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, note text)")
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {exc}")
    try:
        yield name
    finally:
        with psycopg.connect(DIRECT, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {name}")


def _rows(table: str) -> list[tuple[int, str]]:
    with psycopg.connect(DIRECT, autocommit=True) as conn:
        return conn.execute(f"SELECT id, note FROM {table} ORDER BY id").fetchall()


def _add(server: Server, proxy: dict[str, object], toxic: dict[str, object]) -> None:
    reply = server.request("POST", f"/proxies/{proxy['name']}/toxics", toxic)
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("sslmode", ["disable", "prefer"])
def test_commit_ack_drop_commits_but_the_client_gets_an_error(
    builtin_server: Server, make_proxy: ProxyFactory, table: str, sslmode: str
) -> None:
    proxy = make_proxy("127.0.0.1:5432")
    _add(builtin_server, proxy, {"type": "pg_commit_ack_drop", "stream": "upstream"})
    with psycopg.connect(f"{_through(proxy['listen'])} sslmode={sslmode}") as conn:
        conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "in doubt"))
        with pytest.raises(psycopg.OperationalError):
            conn.commit()
    assert _rows(table) == [(1, "in doubt")]


def test_commit_ack_drop_on_a_connection_opened_before_it(
    builtin_server: Server, make_proxy: ProxyFactory, table: str
) -> None:
    proxy = make_proxy("127.0.0.1:5432")
    with psycopg.connect(_through(proxy["listen"])) as conn:
        conn.execute(f"INSERT INTO {table} VALUES (1, 'acknowledged')")
        conn.commit()
        _add(builtin_server, proxy, {"type": "pg_commit_ack_drop",
                                     "attributes": {"every": 2}})  # fmt: skip
        conn.execute(f"INSERT INTO {table} VALUES (2, 'first commit passes')")
        conn.commit()  # the 1st COMMIT through the toxic: every 2nd is hit
        conn.execute(f"INSERT INTO {table} VALUES (3, 'in doubt')")
        with pytest.raises(psycopg.OperationalError):
            conn.commit()
    assert [row[0] for row in _rows(table)] == [1, 2, 3]


def test_cut_after_messages_rolls_the_transaction_back(
    builtin_server: Server, make_proxy: ProxyFactory, table: str
) -> None:
    proxy = make_proxy("127.0.0.1:5432")
    with psycopg.connect(_through(proxy["listen"])) as conn:
        conn.execute(f"INSERT INTO {table} VALUES (1, 'committed')")
        conn.commit()
        # BEGIN and the INSERT (2 simple queries) pass; the COMMIT is not delivered.
        _add(builtin_server, proxy, {"type": "cut", "stream": "upstream",
                                     "attributes": {"after_messages": 2}})  # fmt: skip
        conn.execute(f"INSERT INTO {table} VALUES (2, 'lost with the connection')")
        with pytest.raises(psycopg.OperationalError):
            conn.commit()
    assert _rows(table) == [(1, "committed")]


def test_cut_after_ms_drops_an_open_transaction(
    builtin_server: Server, make_proxy: ProxyFactory, table: str
) -> None:
    proxy = make_proxy("127.0.0.1:5432")
    with psycopg.connect(_through(proxy["listen"])) as conn:
        conn.execute(f"INSERT INTO {table} VALUES (1, 'open')")
        _add(builtin_server, proxy, {"type": "cut", "attributes": {"after_ms": 50}})
        with pytest.raises(psycopg.OperationalError):
            for _ in range(500):  # bounded: the cut comes after 50 ms
                conn.execute("SELECT pg_sleep(0.01)")
    assert _rows(table) == []
