"""ManagedPostgres on real throwaway clusters: real crashes, real signals, real connections."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from ackguard.harness.services.postgres import (
    ManagedPostgres,
    PostgresError,
    find_postgres_binaries,
)
from tests.integration.conftest import ackguard, run_dirs
from tests.services.childproc import state, wait_state

pytestmark = pytest.mark.postgres

GONE: set[str | None] = {None, "Z", "X"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedPostgres]:
    base = tmp_path_factory.mktemp("pg")
    database = ManagedPostgres(
        base / "data", settings={"synchronous_commit": "on"}, log_path=base / "postgres.log"
    )
    database.start()
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def table(cluster: ManagedPostgres, request: pytest.FixtureRequest) -> str:
    name = f"t_{request.node.name[:40].lower()}"
    cluster.start()  # a previous test may have left it crashed
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, note text)")
    return name


def _rows(cluster: ManagedPostgres, table: str) -> list[tuple[int, str]]:
    with psycopg.connect(cluster.dsn(), autocommit=True, connect_timeout=5) as conn:
        return [(r[0], r[1]) for r in conn.execute(f"SELECT id, note FROM {table} ORDER BY id")]


def _insert(cluster: ManagedPostgres, table: str, count: int) -> None:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        for i in range(count):
            conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (i, f"note {i}"))


def test_starts_and_serves_its_url(cluster: ManagedPostgres, table: str) -> None:
    engine = sa.create_engine(cluster.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 'hello')"))
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "ackguard"
    finally:
        engine.dispose()
    assert _rows(cluster, table) == [(1, "hello")]
    assert cluster.pid is not None and state(cluster.pid) not in GONE
    if os.geteuid() == 0:  # the server runs as the postgres OS user, never as root
        assert Path(f"/proc/{cluster.pid}").stat().st_uid != 0


def test_immediate_stop_keeps_what_was_committed(cluster: ManagedPostgres, table: str) -> None:
    _insert(cluster, table, 50)
    cluster.stop("immediate")
    assert cluster.pid is None
    cluster.start()
    assert len(_rows(cluster, table)) == 50
    assert "automatic recovery in progress" in cluster.log_path.read_text(encoding="utf-8")


def test_sigkill_leaves_no_process_and_restarts_at_once(
    cluster: ManagedPostgres, table: str
) -> None:
    _insert(cluster, table, 20)
    with psycopg.connect(cluster.dsn(), autocommit=True):  # a backend that must die too
        pids = list(cluster.processes())
        assert len(pids) > 3
        cluster.kill()
        assert all(state(pid) in GONE for pid in pids)
    cluster.start()
    assert len(_rows(cluster, table)) == 20


def test_pause_blocks_queries_until_resume(cluster: ManagedPostgres, table: str) -> None:
    _insert(cluster, table, 1)
    with psycopg.connect(cluster.dsn(), autocommit=True) as held:
        cluster.pause()
        try:
            assert cluster.pid is not None and state(cluster.pid) == "T"
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(cluster.dsn(), connect_timeout=2).close()
            answers: list[int] = []

            def count_rows() -> None:
                answers.append(len(held.execute(f"SELECT * FROM {table}").fetchall()))

            query = threading.Thread(target=count_rows)
            query.start()
            query.join(1.0)
            assert query.is_alive() and answers == []
        finally:
            cluster.resume()
        query.join(20.0)
        assert answers == [1]
    assert len(_rows(cluster, table)) == 1


def test_terminate_backends_by_application_name(cluster: ManagedPostgres) -> None:
    victim = psycopg.connect(cluster.dsn(), autocommit=True, application_name="victim")
    bystander = psycopg.connect(cluster.dsn(), autocommit=True, application_name="bystander")
    with victim, bystander:
        assert cluster.terminate_backends("victim") == 1
        with pytest.raises(psycopg.OperationalError):
            victim.execute("SELECT 1")
        assert bystander.execute("SELECT 1").fetchone() == (1,)
    assert cluster.terminate_backends("nobody") == 0


def test_settings_at_start_and_at_run_time(cluster: ManagedPostgres) -> None:
    def show(name: str) -> str:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            row = conn.execute(f"SHOW {name}").fetchone()
            assert row is not None
            return str(row[0])

    assert show("synchronous_commit") == "on"
    cluster.set_settings({"synchronous_commit": "off", "wal_writer_delay": "50ms"})
    assert (show("synchronous_commit"), show("wal_writer_delay")) == ("off", "50ms")
    cluster.set_settings({"max_connections": "40"})
    assert cluster.pending_restart == ("max_connections",)
    cluster.restart()
    assert (show("max_connections"), show("synchronous_commit")) == ("40", "off")
    cluster.set_settings({"synchronous_commit": "on"})
    assert show("synchronous_commit") == "on"


def test_bad_setting_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="setting name"):
        ManagedPostgres(tmp_path / "data", settings={"fsync; DROP": "off"})


def test_close_removes_the_cluster_and_every_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "runs" / "one" / "postgres"
    database = ManagedPostgres(data_dir)
    with database:
        cluster_dir = database.cluster_dir
        assert (cluster_dir / "PG_VERSION").exists()
        if os.geteuid() == 0:  # pytest's tmp dir is root's 0700: the cluster lives outside
            assert data_dir.is_symlink() and cluster_dir != data_dir
        pids = list(database.processes())
    assert pids and all(wait_state(pid, GONE) in GONE for pid in pids)
    assert not data_dir.exists() and not data_dir.is_symlink()
    assert not cluster_dir.exists()
    assert database.log_path.exists()


def test_a_start_failure_quotes_the_server_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        database = ManagedPostgres(tmp_path / "data", port=taken.getsockname()[1])
        try:
            with pytest.raises(PostgresError, match="exited with code") as raised:
                database.start(timeout=30)
            assert "could not" in str(raised.value)
            assert database.pid is None
        finally:
            database.close()


def test_missing_binaries_are_named(tmp_path: Path) -> None:
    with pytest.raises(PostgresError, match="initdb, postgres"):
        find_postgres_binaries(tmp_path, path=str(tmp_path))


def test_only_the_harness_gets_in(cluster: ManagedPostgres) -> None:
    cluster.start()
    nowhere = str(Path(cluster.cluster_dir) / "no-passfile")  # not the user's ~/.pgpass
    for host in ("127.0.0.1", str(cluster.cluster_dir)):  # TCP and the unix socket alike
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(
                host=host, port=cluster.port, user="postgres", dbname="ackguard",
                passfile=nowhere, connect_timeout=5,
            ).close()  # fmt: skip
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1", port=cluster.port, user="postgres", dbname="ackguard",
            password="guess", passfile=nowhere, connect_timeout=5,
        ).close()  # fmt: skip
    # The service's URL names the 0600 password file instead of carrying the password.
    assert cluster.password not in cluster.service_url
    assert stat.S_IMODE(cluster.passfile.stat().st_mode) == 0o600
    engine = sa.create_engine(cluster.service_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == "postgres"
    finally:
        engine.dispose()


def test_a_url_database_used_before_is_refused_never_a_false_fail(
    cluster: ManagedPostgres, tmp_path: Path
) -> None:
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS reused")
        conn.execute("CREATE DATABASE reused")
    url = sa.make_url(cluster.url).set(database="reused").render_as_string(hide_password=False)
    scenario = tmp_path / "reused.yaml"
    scenario.write_text(
        f"name: reused\nduration: 4s\npractitioners: 4\nseed: 7\n"
        f"system:\n  database: {{kind: url, url: '{url}'}}\nexpect: true\n",
        encoding="utf-8",
    )
    runs = tmp_path / "runs"

    def run() -> tuple[int, str, dict[str, object]]:
        done = ackguard("run", str(scenario), "--runs-dir", str(runs), "--no-report", cwd=tmp_path)
        verdict = json.loads((run_dirs(runs)[-1] / "verdict.json").read_text(encoding="utf-8"))
        return done.returncode, done.stdout + done.stderr, verdict

    code, output, verdict = run()
    assert code == 0 and verdict["verdict"] is True, output
    code, output, verdict = run()  # same database, the first run's records still in it
    assert code == 2 and verdict["verdict"] == "unknown", output
    reasons = verdict["reasons"]
    assert isinstance(reasons, list)
    assert "was used before" in reasons[0] and "consultations (" in reasons[0], reasons
    assert cluster.password not in output
