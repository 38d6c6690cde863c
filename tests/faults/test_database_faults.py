"""The database fault kinds on a real managed PostgreSQL cluster."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
import pytest

from ackguard.harness.faults import database_crash, database_pause, database_terminate
from ackguard.harness.faults.base import Fault, FaultConfigError, FaultKind
from ackguard.harness.services.postgres import ManagedPostgres
from tests.services.childproc import state, wait_state

GONE: set[str | None] = {None, "Z", "X"}


class Components:
    """The fault context: only what the test started."""

    def __init__(self, **components: object) -> None:
        self._components = components

    def component(self, name: str) -> Any:
        return self._components[name]


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        (database_crash.KIND, {"mode": "gentle"}, "mode"),
        (database_crash.KIND, {"mood": "immediate"}, "mood"),
        (database_pause.KIND, {"seconds": 3}, "seconds"),
        (database_terminate.KIND, {"application_name": 7}, "application_name"),
        (database_terminate.KIND, {"application_name": ""}, "application_name"),
        (database_terminate.KIND, {"app": "x"}, "app"),
    ],
)
def test_bad_params_name_the_field(kind: FaultKind, params: Mapping[str, Any], field: str) -> None:
    with pytest.raises(FaultConfigError) as raised:
        kind.build(Components(), params)  # building never reaches for a component
    assert raised.value.field == field


def test_builds_with_defaults_and_describes_itself() -> None:
    crash = database_crash.KIND.build(Components(), {})
    terminate = database_terminate.KIND.build(Components(), {})
    assert isinstance(crash, Fault) and isinstance(crash, database_crash.DatabaseCrash)
    assert crash.mode == "immediate"
    assert "SIGQUIT" in crash.description and " s " in crash.description
    assert terminate.application_name == "ackguard-consultations"
    assert database_crash.KIND.build(Components(), {"mode": "sigkill"}).mode == "sigkill"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedPostgres]:
    base = tmp_path_factory.mktemp("faults-pg")
    cluster = ManagedPostgres(base / "data", log_path=base / "postgres.log")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.close()


def _count(database: ManagedPostgres) -> int:
    with psycopg.connect(database.dsn(), autocommit=True, connect_timeout=3) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY)")
        row = conn.execute("SELECT count(*) FROM notes").fetchone()
        assert row is not None
        return int(row[0])


def _write(database: ManagedPostgres, count: int) -> None:
    with psycopg.connect(database.dsn(), autocommit=True) as conn:
        for _ in range(count):
            conn.execute("INSERT INTO notes DEFAULT VALUES")


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["immediate", "sigkill"])
def test_crash_then_heal(database: ManagedPostgres, mode: str) -> None:
    before = _count(database)
    _write(database, 10)
    pids = list(database.processes())
    fault = database_crash.KIND.build(Components(database=database), {"mode": mode})
    fault.stop()  # never started: nothing to heal, the server is untouched
    assert database.pid == pids[0]
    fault.start()
    assert not database.running
    assert all(wait_state(pid, GONE) in GONE for pid in pids)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(database.dsn(), connect_timeout=2).close()
    fault.stop()
    assert _count(database) == before + 10
    healed_pid = database.pid
    fault.stop()  # idempotent
    assert database.pid == healed_pid


@pytest.mark.postgres
def test_pause_then_heal(database: ManagedPostgres) -> None:
    _count(database)
    fault = database_pause.KIND.build(Components(database=database), {})
    fault.start()
    try:
        assert database.pid is not None and state(database.pid) == "T"
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(database.dsn(), connect_timeout=2).close()
    finally:
        fault.stop()
    fault.stop()
    assert database.pid is not None and wait_state(database.pid, {"S", "R"}) in {"S", "R"}
    _count(database)


@pytest.mark.postgres
def test_terminate_backends_of_the_service(database: ManagedPostgres) -> None:
    fault = database_terminate.KIND.build(Components(database=database), {})
    service = psycopg.connect(
        database.dsn(), autocommit=True, application_name="ackguard-consultations"
    )
    other = psycopg.connect(database.dsn(), autocommit=True, application_name="someone-else")
    with service, other:
        fault.start()
        assert fault.terminated == 1
        with pytest.raises(psycopg.OperationalError):
            service.execute("SELECT 1")
        assert other.execute("SELECT 1").fetchone() == (1,)
        fault.stop()


def test_faults_reach_only_components_the_run_has() -> None:
    for kind in (database_crash.KIND, database_pause.KIND, database_terminate.KIND):
        fault = kind.build(Components(), {})
        with pytest.raises(KeyError):
            fault.start()
        fault.stop()  # start failed before touching anything: still safe
