"""ManagedMariaDB on a real throwaway server: real kills, real signals, real connections, and the
consultation service on it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa

from ackguard.harness.faults import database_crash, database_pause, database_terminate
from ackguard.harness.services.mariadb import ManagedMariaDB, MariaDBError
from ackguard.harness.services.service import ConsultationService
from tests.services.childproc import state, wait_state

pytestmark = pytest.mark.skipif(
    shutil.which("mariadbd", path=f"{os.environ.get('PATH', '')}:/usr/sbin") is None,
    reason="no MariaDB server binaries (mariadbd) on this machine",
)

GONE: set[str | None] = {None, "Z", "X"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedMariaDB]:
    base = tmp_path_factory.mktemp("mariadb")
    database = ManagedMariaDB(
        base / "data",
        settings={"innodb_flush_log_at_trx_commit": "1", "sync_binlog": "1"},
        log_path=base / "mariadb.log",
    )
    database.start()
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def table(server: ManagedMariaDB, request: pytest.FixtureRequest) -> str:
    name = f"t_{request.node.name[:40].lower()}"
    server.start()  # a previous test may have left it killed
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, note text) ENGINE=InnoDB")
    return name


def _scalar(server: ManagedMariaDB, query: str) -> Any:
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute(query)
        row = cursor.fetchone()
        return None if row is None else row[0]


def _refused(**credentials: Any) -> str:
    """The server's error when connecting with ``credentials``."""
    with pytest.raises(pymysql.err.OperationalError) as raised:
        pymysql.connect(host="127.0.0.1", connect_timeout=5, **credentials).close()
    return str(raised.value)


def test_serves_its_url_with_the_scenario_settings(server: ManagedMariaDB, table: str) -> None:
    engine = sa.create_engine(server.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 'é 🩺')"))
            note = conn.execute(sa.text(f"SELECT note FROM {table}")).scalar()
    finally:
        engine.dispose()
    assert note == "é 🩺"
    assert _scalar(server, "SELECT @@innodb_flush_log_at_trx_commit") == 1
    assert _scalar(server, "SELECT @@sync_binlog") == 1
    assert _scalar(server, "SELECT @@bind_address") == "127.0.0.1"


def test_only_the_harness_gets_in(server: ManagedMariaDB) -> None:
    server.start()
    assert "Access denied" in _refused(port=server.port, user="root")
    assert "Access denied" in _refused(port=server.port, user="ackguard")
    assert "Access denied" in _refused(port=server.port, user="ackguard", password="guess")
    assert server.password not in server.service_url
    assert stat.S_IMODE(server.option_file.stat().st_mode) == 0o600
    engine = sa.create_engine(server.service_url)  # the password comes from the option file
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user()")).scalar() == "ackguard@127.0.0.1"
    finally:
        engine.dispose()


def test_a_kill_keeps_what_a_durable_server_acknowledged(
    server: ManagedMariaDB, table: str
) -> None:
    with server.connect() as conn, conn.cursor() as cursor:
        for i in range(50):
            cursor.execute(f"INSERT INTO {table} VALUES (%s, %s)", (i, f"note {i}"))
    pid = server.pid
    assert pid is not None
    server.kill()
    assert wait_state(pid, GONE) in GONE and not server.running
    server.start()
    assert _scalar(server, f"SELECT count(*) FROM {table}") == 50


def test_a_paused_server_answers_nobody_until_resumed(server: ManagedMariaDB) -> None:
    server.start()
    server.pause()
    try:
        pid = server.pid
        assert pid is not None and state(pid) == "T"
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(
                host="127.0.0.1", port=server.port, user="ackguard", password=server.password,
                connect_timeout=1, read_timeout=1,
            ).close()  # fmt: skip
    finally:
        server.resume()
    assert _scalar(server, "SELECT 1") == 1


def test_terminate_backends_kills_the_service_connections(server: ManagedMariaDB) -> None:
    server.start()
    victim = server.connect()
    try:
        with victim.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            victim_id = cursor.fetchone()[0]
        assert server.terminate_backends("ackguard-consultations") >= 1
        ids = _scalar(server, "SELECT group_concat(id) FROM information_schema.processlist")
        assert str(victim_id) not in str(ids).split(",")
        with pytest.raises(pymysql.err.OperationalError), victim.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        victim.close()


def test_a_clean_stop_then_start(server: ManagedMariaDB, table: str) -> None:
    pid = server.pid
    assert pid is not None
    server.stop("fast")
    assert wait_state(pid, GONE) in GONE and not server.running
    server.start()
    assert _scalar(server, f"SELECT count(*) FROM {table}") == 0


def test_bad_option_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="option name"):
        ManagedMariaDB(tmp_path / "data", settings={"flush; DROP": "0"})


def test_close_removes_the_server_and_its_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "runs" / "one" / "mariadb"
    database = ManagedMariaDB(data_dir)
    with database:
        real_dir = database.cluster_dir
        assert (real_dir / "mysql").is_dir()
        pid = database.pid
        assert pid is not None
        assert not any(real_dir.glob("*.sql"))  # the first start's SQL held the password
    assert wait_state(pid, GONE) in GONE
    assert not data_dir.exists() and not data_dir.is_symlink() and not real_dir.exists()
    assert not database.option_file.exists()
    assert database.log_path.exists()


def test_a_start_failure_quotes_the_server_log(tmp_path: Path, server: ManagedMariaDB) -> None:
    database = ManagedMariaDB(tmp_path / "data", port=server.port)  # the port is taken
    try:
        with pytest.raises(MariaDBError, match="exited with code") as raised:
            database.start(timeout=60)
        assert "Address already in use" in str(raised.value) or "bind" in str(raised.value)
        assert database.pid is None
    finally:
        database.close()


# -- the consultation service on MariaDB ------------------------------------------------------
def _call(base: str, method: str, path: str, body: object = None, key: str = "") -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_the_consultation_service_works_on_mariadb(server: ManagedMariaDB, tmp_path: Path) -> None:
    server.start()
    service = ConsultationService(tmp_path, server.service_url)
    service.start()
    try:
        base = service.url
        code, doctor = _call(
            base, "POST", "/v1/practitioners", {"name": "Dr Ö", "specialty": "gp", "rpps": "1"}
        )
        assert code == 201
        code, patient = _call(
            base, "POST", "/v1/patients",
            {"name": "Zoë 🩺", "birth_date": "1980-02-29", "national_id": "x1"},
        )  # fmt: skip
        assert code == 201
        body = {
            "practitioner_id": str(doctor["id"]), "patient_id": str(patient["id"]),
            "started_at": "2024-05-01T09:00:00+02:00", "visit_reason": "fièvre 🤒",
        }  # fmt: skip
        code, created = _call(base, "POST", "/v1/consultations", body, key="k-1")
        assert code == 201
        assert _call(base, "POST", "/v1/consultations", body, key="k-1") == (200, created)
        long_note = "ß" * 20_000  # beyond TEXT's 65,535 bytes in utf8mb4
        code, patched = _call(
            base, "PATCH", f"/v1/consultations/{created['id']}", {"exam_report": long_note}
        )
        assert code == 200 and patched["exam_report"] == long_note
        code, read = _call(base, "GET", f"/v1/consultations/{created['id']}")
        assert code == 200 and read == patched and read["visit_reason"] == "fièvre 🤒"
        code, _ = _call(base, "GET", "/v1/consultations/999999999999999999")
        assert code == 404
        # A NUL character is refused before any database sees it (PostgreSQL's text cannot hold
        # one), so every database answers alike and nothing is written.
        nul = {"conclusion": "a\0b"}
        code, _ = _call(base, "PATCH", f"/v1/consultations/{created['id']}", nul)
        assert code == 422
        assert _call(base, "GET", f"/v1/consultations/{created['id']}") == (200, patched)
        # Concurrent creates with one key: one record, every answer about it.
        body = {**body, "started_at": "2024-05-01T10:00:00Z"}
        answers: list[Any] = []
        threads = [
            threading.Thread(
                target=lambda: answers.append(
                    _call(base, "POST", "/v1/consultations", body, key="same-key")
                )
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(answers) == 8
        assert {code for code, _ in answers} <= {200, 201}
        assert len({record["id"] for _, record in answers}) == 1
    finally:
        service.stop()


# -- the database fault kinds act on it as on PostgreSQL --------------------------------------
class Components:
    """The fault context: only the server this test module started."""

    def __init__(self, database: ManagedMariaDB) -> None:
        self.database = database

    def component(self, name: str) -> Any:
        return {"database": self.database}[name]


@pytest.mark.parametrize("mode", ["immediate", "sigkill"])
def test_database_crash_kills_mariadbd_and_heals(
    server: ManagedMariaDB, table: str, mode: str
) -> None:
    fault = database_crash.KIND.build(Components(server), {"mode": mode})
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} VALUES (1, 'kept')")
    pid = server.pid
    assert pid is not None
    fault.start()
    assert wait_state(pid, GONE) in GONE and not server.running
    fault.stop()
    assert server.running and server.pid != pid
    assert _scalar(server, f"SELECT note FROM {table}") == "kept"


def test_database_pause_and_terminate_act_on_mariadb(server: ManagedMariaDB) -> None:
    server.start()
    pause = database_pause.KIND.build(Components(server), {})
    pause.start()
    try:
        pid = server.pid
        assert pid is not None and state(pid) == "T"
    finally:
        pause.stop()
    assert state(pid) != "T" and _scalar(server, "SELECT 1") == 1
    held = server.connect()
    try:
        terminate = database_terminate.KIND.build(Components(server), {})
        terminate.start()
        assert isinstance(terminate, database_terminate.DatabaseTerminateBackends)
        assert terminate.terminated is not None and terminate.terminated >= 1
        with pytest.raises(pymysql.err.OperationalError), held.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        held.close()
